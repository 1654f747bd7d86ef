//! A keyed collection that commits to its contents: an ordered persistent map,
//! a permanent slot per key, and an incremental Merkle tree over the slots.

use imbl::{OrdMap, OrdSet};
use serde::Serialize;

use crate::commit::tree::{leaf_hash, FlatTree, MerkleProof, EMPTY_LEAF};
use crate::encoding::encode;
use crate::types::Hash;

#[derive(Clone, Debug)]
pub struct Collection<K: Ord + Clone, V: Clone> {
    map: OrdMap<K, V>,
    /// Every key ever stored keeps its slot, so removal never moves other leaves.
    slots: OrdMap<K, u64>,
    tree: FlatTree,
    /// Keys changed since the last `commit`.
    dirty: OrdSet<K>,
}

impl<K: Ord + Clone, V: Clone> Default for Collection<K, V> {
    fn default() -> Self {
        Collection {
            map: OrdMap::new(),
            slots: OrdMap::new(),
            tree: FlatTree::new(),
            dirty: OrdSet::new(),
        }
    }
}

impl<K, V> Collection<K, V>
where
    K: Ord + Clone + Serialize,
    V: Clone + Serialize,
{
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    pub fn insert(&mut self, key: K, value: V) {
        self.dirty.insert(key.clone());
        self.map.insert(key, value);
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let old = self.map.remove(key);
        if old.is_some() {
            self.dirty.insert(key.clone());
        }
        old
    }

    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    pub fn range<R: core::ops::RangeBounds<K>>(&self, r: R) -> impl Iterator<Item = (&K, &V)> {
        self.map.range(r)
    }

    /// Number of keys changed since the last commit.
    pub fn dirty_len(&self) -> u64 {
        self.dirty.len() as u64
    }

    /// Folds the changed keys into the tree: O(changed x log n). New keys take
    /// the next slots in key order, so the result does not depend on the order
    /// in which transactions touched them.
    pub fn commit(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        let mut next = self.tree.len();
        let mut changes = Vec::with_capacity(self.dirty.len());
        for key in self.dirty.iter() {
            let slot = match self.slots.get(key) {
                Some(s) => *s,
                None => {
                    let s = next;
                    next += 1;
                    self.slots.insert(key.clone(), s);
                    s
                }
            };
            changes.push((slot, self.leaf_of(key)));
        }
        // Existing slots come first in key order but appends must be contiguous;
        // the tree sorts by slot, and every new slot is len, len+1, ...
        changes.sort_by_key(|(s, _)| *s);
        // Gaps are impossible by construction (new slots are consecutive).
        let _ = self.tree.update(&changes);
        self.dirty = OrdSet::new();
    }

    fn leaf_of(&self, key: &K) -> Hash {
        match self.map.get(key) {
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
