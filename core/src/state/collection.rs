//! A keyed collection that commits to its contents: an ordered persistent map,
//! a permanent slot per key, and an incremental Merkle tree over the slots.
//!
//! Changes since the last `commit` live in a small `pending` map on top of the
//! committed one. A transaction runs on an O(1) clone of the state and is kept
//! or dropped whole, so every write copies the path to its key in the map it
//! lands in: in the pending map that path is short (a block's changes), where
//! in the committed map it would be the full depth of a large collection and
//! would be copied again by every later transaction touching it. `commit`
//! folds the pending changes into the committed map once per block, in key order.

use imbl::OrdMap;
use serde::Serialize;

use crate::commit::tree::{leaf_hash, FlatTree, MerkleProof, EMPTY_LEAF};
use crate::encoding::encode;
use crate::types::Hash;

#[derive(Clone, Debug)]
pub struct Collection<K: Ord + Clone, V: Clone> {
    /// Contents as of the last `commit`.
    map: OrdMap<K, V>,
    /// Keys changed since the last `commit`, with their current value (`None`:
    /// removed). Its keys are exactly the changed keys.
    pending: OrdMap<K, Option<V>>,
    /// Number of live entries (committed plus pending).
    len: u64,
    /// Every key ever stored keeps its slot, so removal never moves other leaves.
    slots: OrdMap<K, u64>,
    tree: FlatTree,
}

impl<K: Ord + Clone, V: Clone> Default for Collection<K, V> {
    fn default() -> Self {
        Collection {
            map: OrdMap::new(),
            pending: OrdMap::new(),
            len: 0,
            slots: OrdMap::new(),
            tree: FlatTree::new(),
        }
    }
}

impl<K, V> Collection<K, V>
where
    K: Ord + Clone + Serialize,
    V: Clone + Serialize,
{
    pub fn get(&self, key: &K) -> Option<&V> {
        match self.pending.get(key) {
            Some(changed) => changed.as_ref(),
            None => self.map.get(key),
        }
    }

    pub fn contains(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    pub fn insert(&mut self, key: K, value: V) {
        if !self.contains(&key) {
            self.len = self.len.saturating_add(1);
        }
        self.pending.insert(key, Some(value));
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let old = self.get(key).cloned();
        if old.is_some() {
            self.len = self.len.saturating_sub(1);
            self.pending.insert(key.clone(), None);
        }
        old
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        Merged::new(self.map.iter(), self.pending.iter())
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    pub fn range<R: core::ops::RangeBounds<K>>(&self, r: R) -> impl Iterator<Item = (&K, &V)> {
        let bounds = (r.start_bound().cloned(), r.end_bound().cloned());
        Merged::new(self.map.range(bounds.clone()), self.pending.range(bounds))
    }

    /// Number of keys changed since the last commit.
    pub fn dirty_len(&self) -> u64 {
        self.pending.len() as u64
    }

    /// Folds the changed keys into the tree: O(changed x log n). New keys take
    /// the next slots in key order, so the result does not depend on the order
    /// in which transactions touched them.
    pub fn commit(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut next = self.tree.len();
        let mut changes = Vec::with_capacity(pending.len());
        for (key, value) in pending {
            let slot = match self.slots.get(&key) {
                Some(s) => *s,
                None => {
                    let s = next;
                    next += 1;
                    self.slots.insert(key.clone(), s);
                    s
                }
            };
            match value {
                Some(v) => {
                    changes.push((slot, leaf_hash(&encode(&key), &encode(&v))));
                    self.map.insert(key, v);
                }
                None => {
                    changes.push((slot, EMPTY_LEAF));
                    self.map.remove(&key);
                }
            }
        }
        // Existing slots come first in key order but appends must be contiguous;
        // the tree sorts by slot, and every new slot is len, len+1, ...
        changes.sort_by_key(|(s, _)| *s);
        // Gaps are impossible by construction (new slots are consecutive).
        let _ = self.tree.update(&changes);
    }

    fn leaf_of(&self, key: &K) -> Hash {
        match self.get(key) {
            Some(v) => leaf_hash(&encode(key), &encode(v)),
            None => EMPTY_LEAF,
        }
    }

    /// Root of the committed tree (call `commit` first for the current contents).
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// Every leaf in slot order, recomputed from the map: the input of the
    /// reference (full rebuild) root.
    pub fn leaves_from_scratch(&self) -> Vec<Hash> {
        let mut by_slot: Vec<(u64, Hash)> = self
            .slots
            .iter()
            .map(|(k, s)| (*s, self.leaf_of(k)))
            .collect();
        by_slot.sort_by_key(|(s, _)| *s);
        by_slot.into_iter().map(|(_, h)| h).collect()
    }

    pub fn slot_of(&self, key: &K) -> Option<u64> {
        self.slots.get(key).copied()
    }

    pub fn proof(&self, key: &K) -> Option<MerkleProof> {
        self.tree.proof(self.slot_of(key)?).ok()
    }
}

/// The committed entries overlaid with the pending changes, in key order.
struct Merged<'a, K, V, I, J>
where
    I: Iterator<Item = (&'a K, &'a V)>,
    J: Iterator<Item = (&'a K, &'a Option<V>)>,
    K: 'a,
    V: 'a,
{
    committed: core::iter::Peekable<I>,
    pending: core::iter::Peekable<J>,
}

impl<'a, K, V, I, J> Merged<'a, K, V, I, J>
where
    I: Iterator<Item = (&'a K, &'a V)>,
    J: Iterator<Item = (&'a K, &'a Option<V>)>,
{
    fn new(committed: I, pending: J) -> Self {
        Merged {
            committed: committed.peekable(),
            pending: pending.peekable(),
        }
    }
}

impl<'a, K: Ord, V, I, J> Iterator for Merged<'a, K, V, I, J>
where
    I: Iterator<Item = (&'a K, &'a V)>,
    J: Iterator<Item = (&'a K, &'a Option<V>)>,
{
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        use core::cmp::Ordering;
        loop {
            let order = match (self.committed.peek(), self.pending.peek()) {
                (None, None) => return None,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((c, _)), Some((p, _))) => c.cmp(p),
            };
            if order == Ordering::Less {
                return self.committed.next();
            }
            if order == Ordering::Equal {
                // The pending change replaces the committed entry.
                self.committed.next();
            }
            if let Some((k, Some(v))) = self.pending.next() {
                return Some((k, v));
            }
        }
    }
}
