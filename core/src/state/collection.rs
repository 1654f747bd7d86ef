//! A keyed collection that commits to its contents: an ordered persistent map,
//! a permanent slot per key, and an incremental Merkle tree over the slots.
//!
//! Changes since the last `commit` live in a small `pending` map on top of the
//! committed one. A transaction runs on an O(1) clone of the state and is kept
//! or dropped whole, so every write copies the path to its key in the map it
//! lands in: in the pending map that path is short (a block's changes), where
//! in the committed map it would be the full depth of a large collection and
//! would be copied again by every later transaction touching it. `commit`
//! folds the pending changes into the committed map once per block, in key
//! order. Values sit behind an `Arc`, so copying a path copies pointers, not
//! entities; each committed entry carries its slot, so a commit finds both
//! with one lookup.

use std::sync::Arc;

use imbl::OrdMap;
use serde::Serialize;

use crate::commit::tree::{leaf_hash, FlatTree, MerkleProof, EMPTY_LEAF};
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
    pending: OrdMap<K, Option<Arc<V>>>,
    /// Number of live entries (committed plus pending).
    len: u64,
    tree: FlatTree,
}

impl<K: Ord + Clone, V: Clone> Default for Collection<K, V> {
    fn default() -> Self {
        Collection {
            map: OrdMap::new(),
            pending: OrdMap::new(),
            len: 0,
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
            Some(changed) => changed.as_deref(),
            None => self.map.get(key).and_then(|e| e.value.as_deref()),
        }
    }

    pub fn contains(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    pub fn insert(&mut self, key: K, value: V) {
        let existed = match self.pending.insert(key.clone(), Some(Arc::new(value))) {
            Some(previous) => previous.is_some(),
            None => self.map.get(&key).is_some_and(|e| e.value.is_some()),
        };
        if !existed {
            self.len = self.len.saturating_add(1);
        }
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
        Merged::new(live(self.map.iter()), self.pending.iter())
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    pub fn range<R: core::ops::RangeBounds<K>>(&self, r: R) -> impl Iterator<Item = (&K, &V)> {
        let bounds = (r.start_bound().cloned(), r.end_bound().cloned());
        Merged::new(
            live(self.map.range(bounds.clone())),
            self.pending.range(bounds),
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
            let slot = match self.map.get_mut(&key) {
                Some(entry) => {
                    entry.value = value;
                    entry.slot
                }
                None => {
                    let slot = next;
                    next += 1;
                    self.map.insert(key, Entry { slot, value });
                    slot
                }
            };
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
#[derive(Default)]
struct Bytes {
    key: Vec<u8>,
    value: Vec<u8>,
}

impl Bytes {
    /// `leaf_hash(encode(key), encode(value))` without allocating per leaf.
    fn leaf<K: Serialize, V: Serialize>(&mut self, key: &K, value: &V) -> Hash {
        canonical_into(key, &mut self.key);
        canonical_into(value, &mut self.value);
        leaf_hash(&self.key, &self.value)
    }
}

/// The bytes of [`crate::encoding::encode`] (postcard; empty on the impossible
/// serialization error), written into a reused buffer.
fn canonical_into<T: Serialize>(value: &T, buf: &mut Vec<u8>) {
    buf.clear();
    let taken = std::mem::take(buf);
    *buf = postcard::to_extend(value, taken).unwrap_or_default();
}

/// The live committed entries (removed keys keep only their slot).
fn live<'a, K: 'a, V: 'a>(
    entries: impl Iterator<Item = (&'a K, &'a Entry<V>)>,
) -> impl Iterator<Item = (&'a K, &'a Arc<V>)> {
    entries.filter_map(|(k, e)| e.value.as_ref().map(|v| (k, v)))
}

/// The committed entries overlaid with the pending changes, in key order.
struct Merged<'a, K: 'a, V: 'a, I, J>
where
    I: Iterator<Item = (&'a K, &'a Arc<V>)>,
    J: Iterator<Item = (&'a K, &'a Option<Arc<V>>)>,
{
    committed: core::iter::Peekable<I>,
    pending: core::iter::Peekable<J>,
}

impl<'a, K, V, I, J> Merged<'a, K, V, I, J>
where
    I: Iterator<Item = (&'a K, &'a Arc<V>)>,
    J: Iterator<Item = (&'a K, &'a Option<Arc<V>>)>,
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
    I: Iterator<Item = (&'a K, &'a Arc<V>)>,
    J: Iterator<Item = (&'a K, &'a Option<Arc<V>>)>,
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
                return self.committed.next().map(|(k, v)| (k, &**v));
            }
            if order == Ordering::Equal {
                // The pending change replaces the committed entry.
                self.committed.next();
            }
            if let Some((k, Some(v))) = self.pending.next() {
                return Some((k, &**v));
            }
        }
    }
}
