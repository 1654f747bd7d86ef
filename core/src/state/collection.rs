//! A keyed collection that commits to its contents: an ordered persistent map,
//! a permanent slot per key, and an incremental Merkle tree over the slots.
//!
//! Two layers, newest first, so that a write costs little:
//! - `pending`: every change since the last `commit`, a small sorted map (a
//!   block's changes). Every commit empties it, so copying a state between
//!   blocks copies nothing of it.
//! - `map`: the committed contents, large and persistent (O(1) to copy);
//!   `commit` folds `pending` into it once per block, in key order, and each
//!   entry carries its slot so the fold finds both with one lookup.
//!
//! A transaction's writes can be undone without a copy of anything:
//! [`Collection::begin`] opens a journal of the `pending` entries each write
//! replaces, and [`Collection::rollback`] puts them back.
//!
//! Values sit behind an `Arc`, so copying a path copies pointers, not entities.

use std::collections::BTreeMap;
use std::sync::Arc;

use imbl::OrdMap;
use serde::Serialize;

use crate::commit::tree::{leaf_hash, FlatTree, MerkleProof, EMPTY_LEAF};
use crate::encoding::encode_into;
use crate::types::Hash;

/// A committed key: its permanent slot and its value (`None` once removed; the
/// slot stays, so removal never moves other leaves).
#[derive(Clone, Debug)]
struct Entry<V> {
    slot: u64,
    value: Option<Arc<V>>,
}

#[derive(Clone, Debug)]
pub struct Collection<K: Ord + Clone, V: Clone> {
    /// Every key ever committed, with its contents as of the last `commit`.
    map: OrdMap<K, Entry<V>>,
    /// Keys changed since the last `commit`, with their current value (`None`:
    /// removed). Its keys are exactly the changed keys.
    pending: BTreeMap<K, Option<Arc<V>>>,
    /// Number of live entries in `map` (`pending` is counted on demand, so a
    /// write needs no lookup to keep a count).
    committed_len: u64,
    tree: FlatTree,
    /// The undo records of the open transaction, if one is open.
    journal: Journal<K, V>,
}

/// What [`Collection::rollback`] needs. Empty (nothing to copy) while no
/// transaction is open.
#[derive(Clone, Debug)]
struct Journal<K, V> {
    open: bool,
    /// Each `pending` entry the transaction replaced, with its previous
    /// contents (`None`: the key was not pending), oldest first.
    replaced: Vec<(K, Option<Option<Arc<V>>>)>,
}

impl<K, V> Default for Journal<K, V> {
    fn default() -> Self {
        Journal {
            open: false,
            replaced: Vec::new(),
        }
    }
}

impl<K: Ord + Clone, V: Clone> Default for Collection<K, V> {
    fn default() -> Self {
        Collection {
            map: OrdMap::new(),
            pending: BTreeMap::new(),
            committed_len: 0,
            tree: FlatTree::new(),
            journal: Journal::default(),
        }
    }
}

impl<K, V> Collection<K, V>
where
    K: Ord + Clone + Serialize,
    V: Clone + Serialize,
{
    /// A copy that shares no map node or tree page with `self` (values,
    /// immutable behind their `Arc`, stay shared): see [`crate::State::unshared`].
    pub fn unshared(&self) -> Self {
        Collection {
            map: self
                .map
                .iter()
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect(),
            pending: self.pending.clone(),
            committed_len: self.committed_len,
            tree: self.tree.unshared(),
            journal: self.journal.clone(),
        }
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        match self.pending.get(key) {
            Some(changed) => changed.as_deref(),
            None => self.map.get(key).and_then(|e| e.value.as_deref()),
        }
    }

    pub fn contains(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    pub fn insert(&mut self, key: K, value: V) {
        self.write(key, Some(Arc::new(value)));
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let old = self.get(key).cloned();
        if old.is_some() {
            self.write(key.clone(), None);
        }
        old
    }

    /// Replaces the value of `key` (`None`: absent) by what `f` makes of it,
    /// or leaves everything as it was if `f` fails. Like a `get` then an
    /// `insert`, with one search of the block's changes instead of two.
    pub fn update<E>(
        &mut self,
        key: K,
        f: impl FnOnce(Option<&V>) -> Result<V, E>,
    ) -> Result<(), E> {
        use std::collections::btree_map::Entry as Slot;
        let replaced = match self.pending.entry(key) {
            Slot::Occupied(mut slot) => {
                let value = Some(Arc::new(f(slot.get().as_deref())?));
                let previous = std::mem::replace(slot.get_mut(), value);
                (slot.key().clone(), Some(previous))
            }
            Slot::Vacant(slot) => {
                let current = self.map.get(slot.key()).and_then(|e| e.value.as_deref());
                let value = Some(Arc::new(f(current)?));
                let key = slot.key().clone();
                slot.insert(value);
                (key, None)
            }
        };
        if self.journal.open {
            self.journal.replaced.push(replaced);
        }
        Ok(())
    }

    fn write(&mut self, key: K, value: Option<Arc<V>>) {
        if self.journal.open {
            let previous = self.pending.insert(key.clone(), value);
            self.journal.replaced.push((key, previous));
        } else {
            self.pending.insert(key, value);
        }
    }

    /// Opens a transaction: every write from now on can be undone by
    /// [`Collection::rollback`] until [`Collection::end`].
    pub fn begin(&mut self) {
        self.journal.replaced.clear();
        self.journal.open = true;
    }

    /// Closes the open transaction, keeping its writes.
    pub fn end(&mut self) {
        self.journal.replaced.clear();
        self.journal.open = false;
    }

    /// Closes the open transaction, undoing its writes: the contents are
    /// exactly as they were at [`Collection::begin`]. Without an open
    /// transaction, does nothing.
    pub fn rollback(&mut self) {
        if !self.journal.open {
            return;
        }
        for (key, previous) in self.journal.replaced.drain(..).rev() {
            match previous {
                Some(value) => self.pending.insert(key, value),
                None => self.pending.remove(&key),
            };
        }
        self.end();
    }

    /// Number of live entries: O(changed x log n) since the last commit.
    pub fn len(&self) -> u64 {
        let was_live = |k: &K| self.map.get(k).is_some_and(|e| e.value.is_some());
        self.pending.iter().fold(self.committed_len, |len, (k, v)| {
            match (was_live(k), v.is_some()) {
                (false, true) => len.saturating_add(1),
                (true, false) => len.saturating_sub(1),
                _ => len,
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        Merged::new(live(self.map.iter()), changes(self.pending.iter()))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    pub fn range<R: core::ops::RangeBounds<K>>(&self, r: R) -> impl Iterator<Item = (&K, &V)> {
        let bounds = (r.start_bound().cloned(), r.end_bound().cloned());
        Merged::new(
            live(self.map.range(bounds.clone())),
            changes(self.pending.range(bounds)),
        )
    }

    /// Number of keys changed since the last commit.
    pub fn dirty_len(&self) -> u64 {
        self.pending.len() as u64
    }

    /// Folds the changed keys into the tree: O(changed x log n). New keys take
    /// the next slots in key order, so the result does not depend on the order
    /// in which transactions touched them.
    pub fn commit(&mut self) {
        // The tree and `map` keep no undo records: nothing is open past here.
        self.end();
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut next = self.tree.len();
        let mut changes = Vec::with_capacity(pending.len());
        let mut bytes = Bytes::default();
        for (key, value) in pending {
            let leaf = match &value {
                Some(v) => bytes.leaf(&key, &**v),
                None => EMPTY_LEAF,
            };
            let live = value.is_some();
            let (slot, was_live) = match self.map.get_mut(&key) {
                Some(entry) => {
                    let was_live = entry.value.is_some();
                    entry.value = value;
                    (entry.slot, was_live)
                }
                None => {
                    let slot = next;
                    next += 1;
                    self.map.insert(key, Entry { slot, value });
                    (slot, false)
                }
            };
            match (was_live, live) {
                (false, true) => self.committed_len = self.committed_len.saturating_add(1),
                (true, false) => self.committed_len = self.committed_len.saturating_sub(1),
                _ => {}
            }
            changes.push((slot, leaf));
        }
        // Existing slots come first in key order but appends must be contiguous;
        // the tree sorts by slot, and every new slot is len, len+1, ...
        changes.sort_by_key(|(s, _)| *s);
        // Gaps are impossible by construction (new slots are consecutive).
        let _ = self.tree.update(&changes);
    }

    /// Root of the committed tree (call `commit` first for the current contents).
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// Every leaf in slot order, recomputed from the current contents: the
    /// input of the reference (full rebuild) root.
    pub fn leaves_from_scratch(&self) -> Vec<Hash> {
        let mut bytes = Bytes::default();
        let mut by_slot: Vec<(u64, Hash)> = self
            .map
            .iter()
            .map(|(k, e)| {
                let leaf = match self.get(k) {
                    Some(v) => bytes.leaf(k, v),
                    None => EMPTY_LEAF,
                };
                (e.slot, leaf)
            })
            .collect();
        by_slot.sort_by_key(|(s, _)| *s);
        by_slot.into_iter().map(|(_, h)| h).collect()
    }

    pub fn slot_of(&self, key: &K) -> Option<u64> {
        self.map.get(key).map(|e| e.slot)
    }

    pub fn proof(&self, key: &K) -> Option<MerkleProof> {
        self.tree.proof(self.slot_of(key)?).ok()
    }
}

/// Reused buffers for the canonical bytes of a key and a value.
struct Bytes {
    key: Vec<u8>,
    value: Vec<u8>,
}

impl Default for Bytes {
    /// Sized for most entities, so a commit rarely grows them.
    fn default() -> Self {
        Bytes {
            key: Vec::with_capacity(64),
            value: Vec::with_capacity(1024),
        }
    }
}

impl Bytes {
    /// `leaf_hash(encode(key), encode(value))` without allocating per leaf.
    fn leaf<K: Serialize, V: Serialize>(&mut self, key: &K, value: &V) -> Hash {
        encode_into(key, &mut self.key);
        encode_into(value, &mut self.value);
        leaf_hash(&self.key, &self.value)
    }
}

/// The live committed entries (removed keys keep only their slot).
fn live<'a, K: 'a, V: 'a>(
    entries: impl Iterator<Item = (&'a K, &'a Entry<V>)>,
) -> impl Iterator<Item = (&'a K, &'a V)> {
    entries.filter_map(|(k, e)| e.value.as_deref().map(|v| (k, v)))
}

/// Pending changes as (key, new value or `None` when removed).
fn changes<'a, K: 'a, V: 'a>(
    entries: impl Iterator<Item = (&'a K, &'a Option<Arc<V>>)>,
) -> impl Iterator<Item = (&'a K, Option<&'a V>)> {
    entries.map(|(k, v)| (k, v.as_deref()))
}

/// Entries overlaid with newer changes, both in key order: the result in key order.
struct Merged<I: Iterator, J: Iterator> {
    older: core::iter::Peekable<I>,
    newer: core::iter::Peekable<J>,
}

impl<I: Iterator, J: Iterator> Merged<I, J> {
    fn new(older: I, newer: J) -> Self {
        Merged {
            older: older.peekable(),
            newer: newer.peekable(),
        }
    }
}

impl<'a, K: Ord + 'a, V: 'a, I, J> Iterator for Merged<I, J>
where
    I: Iterator<Item = (&'a K, &'a V)>,
    J: Iterator<Item = (&'a K, Option<&'a V>)>,
{
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        use core::cmp::Ordering;
        loop {
            let order = match (self.older.peek(), self.newer.peek()) {
                (None, None) => return None,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((o, _)), Some((n, _))) => o.cmp(n),
            };
            if order == Ordering::Less {
                return self.older.next();
            }
            if order == Ordering::Equal {
                // The newer change replaces the older entry.
                self.older.next();
            }
            if let Some((k, Some(v))) = self.newer.next() {
                return Some((k, v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::commit::tree::reference_root;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u16, u64),
        Remove(u16),
        Commit,
        /// Writes on a clone that is then dropped: the original must not change.
        Discarded(u16, u64),
        /// A transaction's writes (`None`: remove), then kept or rolled back.
        Tx(Vec<(u16, Option<u64>)>, bool),
        /// Adds to the value (absent: 0); fails, changing nothing, on overflow.
        Update(u16, u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0u16..64, any::<u64>()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => (0u16..64).prop_map(Op::Remove),
            1 => Just(Op::Commit),
            1 => (0u16..64, any::<u64>()).prop_map(|(k, v)| Op::Discarded(k, v)),
            3 => (0u16..64, any::<u64>()).prop_map(|(k, v)| Op::Update(k, v)),
            3 => (
                prop::collection::vec((0u16..64, prop::option::of(any::<u64>())), 0..24),
                any::<bool>(),
            )
                .prop_map(|(writes, keep)| Op::Tx(writes, keep)),
        ]
    }

    fn same_contents(
        c: &Collection<u16, u64>,
        model: &BTreeMap<u16, u64>,
    ) -> Result<(), TestCaseError> {
        let all: Vec<(u16, u64)> = c.iter().map(|(k, v)| (*k, *v)).collect();
        prop_assert_eq!(
            &all,
            &model.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>()
        );
        let ranged: Vec<u16> = c.range(10..40).map(|(k, _)| *k).collect();
        prop_assert_eq!(
            ranged,
            model.range(10..40).map(|(k, _)| *k).collect::<Vec<_>>()
        );
        prop_assert_eq!(c.len(), model.len() as u64);
        for k in 0u16..64 {
            prop_assert_eq!(c.get(&k), model.get(&k));
        }
        Ok(())
    }

    proptest! {
        /// Both layers of the writes (pending, committed) read like one map, a
        /// rolled-back transaction leaves `pending` as it was, and the
        /// committed root is the root of a full rebuild.
        #[test]
        fn layers_read_like_one_map(ops in prop::collection::vec(op(), 1..300)) {
            let mut c: Collection<u16, u64> = Collection::default();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        c.insert(k, v);
                        model.insert(k, v);
                    }
                    Op::Remove(k) => prop_assert_eq!(c.remove(&k), model.remove(&k)),
                    Op::Commit => {
                        c.commit();
                        prop_assert_eq!(c.dirty_len(), 0);
                        prop_assert_eq!(c.root(), reference_root(&c.leaves_from_scratch()));
                    }
                    Op::Discarded(k, v) => {
                        let mut copy = c.clone();
                        copy.insert(k, v);
                        copy.remove(&k.wrapping_add(1));
                    }
                    Op::Update(k, add) => {
                        let sum = |v: Option<&u64>| v.copied().unwrap_or(0).checked_add(add).ok_or(());
                        let expected = sum(model.get(&k));
                        prop_assert_eq!(c.update(k, sum), expected.map(|_| ()));
                        if let Ok(v) = expected {
                            model.insert(k, v);
                        }
                    }
                    Op::Tx(writes, keep) => {
                        let pending = c.pending.clone();
                        c.begin();
                        let mut after = model.clone();
                        for (k, v) in writes {
                            match v {
                                // Odd values go through `update`, even ones through `insert`.
                                Some(v) if v % 2 == 1 => {
                                    prop_assert_eq!(c.update(k, |_| Ok::<u64, ()>(v)), Ok(()));
                                    after.insert(k, v);
                                }
                                Some(v) => {
                                    c.insert(k, v);
                                    after.insert(k, v);
                                }
                                None => prop_assert_eq!(c.remove(&k), after.remove(&k)),
                            }
                        }
                        if keep {
                            c.end();
                            model = after;
                        } else {
                            c.rollback();
                            // Not only the same contents: the same layers.
                            prop_assert_eq!(&c.pending, &pending);
                        }
                    }
                }
                same_contents(&c, &model)?;
            }
        }
    }
}
