//! Incremental flat binary Merkle tree used for the state root.
//!
//! Every entity of a collection owns a permanent *slot*; slot `i` holds the
//! leaf `leaf_hash(key, value)` of the entity (or [`EMPTY_LEAF`] once it has
//! been removed). The tree over the slots has the *promotion* shape used by
//! `rs_merkle` 1.5:
//!
//! * level 0 is the leaves, in slot order;
//! * level `k + 1` pairs the nodes of level `k` left to right with
//!   [`node_hash`]; if level `k` has an odd number of nodes, its last node is
//!   promoted unchanged (not duplicated, not hashed alone);
//! * the root of a single-leaf tree is that leaf, the root of a tree with no
//!   slots is [`EMPTY_ROOT`].
//!
//! Equivalently, node `(k, i)` is the Merkle root of the leaves in
//! `[i * 2^k, (i + 1) * 2^k)` that exist, so every node depends only on the
//! leaves below it and an append only touches the right edge.
//!
//! # Layout
//!
//! [`FlatTree`] is a persistent (copy-on-write) structure: a radix-16 tree of
//! reference-counted *pages*. A page stores a complete binary subtree of
//! height 4 in heap order (16 bottom nodes and their 15 ancestors), so one
//! page covers 4 levels of the Merkle tree. Bottom nodes of a leaf page are
//! leaves; bottom nodes of an inner page are copies of the roots of its 16
//! child pages. Cloning a tree is one `Arc` increment; updating a batch copies
//! only the pages on the paths to the changed slots (about 1 KiB per page)
//! and recomputes every affected inner node exactly once, bottom-up, so a
//! batch of `m` changes costs `O(m log n)` hashes and page copies.
//!
//! The page layout is an implementation detail: the root, the leaves and the
//! proofs only depend on the leaves, and two trees with the same leaves
//! compare equal.

use std::fmt;
use std::sync::Arc;

/// A 32-byte BLAKE3 output: leaves, inner nodes and roots.
pub type Hash = [u8; 32];

/// Key of the leaf hash: `blake3::derive_key("aivm v1 merkle leaf", &[])`.
pub const LEAF_KEY: [u8; 32] = [
    0xa5, 0xdd, 0xaa, 0xe2, 0x0f, 0xed, 0x40, 0x27, 0xc2, 0xc1, 0x8c, 0x15, 0x16, 0xd4, 0x00, 0xe2,
    0x9b, 0x0a, 0xee, 0x00, 0xa5, 0xc9, 0x12, 0xe8, 0x3e, 0x59, 0xf1, 0xd5, 0x7f, 0xf0, 0x16, 0x83,
];

/// Key of the inner-node hash: `blake3::derive_key("aivm v1 merkle node", &[])`.
pub const NODE_KEY: [u8; 32] = [
    0xa3, 0xfc, 0x47, 0x8e, 0x37, 0xf2, 0x01, 0x04, 0xa6, 0xac, 0x81, 0x77, 0x9f, 0xb0, 0xc1, 0x25,
    0x16, 0xe1, 0x77, 0x87, 0xad, 0x19, 0xe0, 0x9d, 0x3e, 0x85, 0x01, 0x22, 0xca, 0x8f, 0xee, 0xd2,
];

/// Leaf of a slot whose entity was removed.
pub const EMPTY_LEAF: Hash = [0u8; 32];

/// Root of a tree with no slots.
pub const EMPTY_ROOT: Hash = [0u8; 32];

/// Leaf hash: `blake3::keyed_hash(LEAF_KEY, key || value)`.
///
/// Hashes the two parts in sequence without allocating. Callers must use
/// keys of a fixed length per collection (or a self-delimiting encoding) so
/// that `key || value` is unambiguous.
#[inline]
pub fn leaf_hash(key: &[u8], value: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new_keyed(&LEAF_KEY);
    hasher.update(key);
    hasher.update(value);
    *hasher.finalize().as_bytes()
}

/// Inner-node hash: `blake3::keyed_hash(NODE_KEY, left || right)` over a
/// 64-byte preimage.
#[inline]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut preimage = [0u8; 64];
    let (l, r) = preimage.split_at_mut(32);
    l.copy_from_slice(left);
    r.copy_from_slice(right);
    *blake3::keyed_hash(&NODE_KEY, &preimage).as_bytes()
}

/// [`rs_merkle::Hasher`] using our inner-node hash, so that
/// `rs_merkle::MerkleTree::<NodeHasher>::from_leaves(leaves)` has the same
/// root as a [`FlatTree`] over the same leaves and `rs_merkle` proofs verify
/// against [`FlatTree::root`].
///
/// `rs_merkle` hashes leaves itself only if asked to; feed it leaves already
/// computed with [`leaf_hash`]. Its default `concat_and_hash` hashes
/// `left || right` and promotes a node without a right sibling, which is
/// exactly our shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeHasher;

impl rs_merkle::Hasher for NodeHasher {
    type Hash = Hash;

    fn hash(data: &[u8]) -> Hash {
        *blake3::keyed_hash(&NODE_KEY, data).as_bytes()
    }
}

/// Errors of [`FlatTree`]. A failed operation leaves the tree unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// A batch tried to write a slot beyond the end of the tree.
    #[error("slot {slot} would leave a gap: the tree has {len} slots at that point")]
    Gap {
        /// The offending slot.
        slot: u64,
        /// Number of slots when the change was applied (in slot order).
        len: u64,
    },
    /// The tree already has `u64::MAX` slots.
    #[error("the tree is full: it has {len} slots")]
    Full {
        /// Number of slots.
        len: u64,
    },
    /// A proof was requested for a slot that does not exist.
    #[error("no slot {slot}: the tree has {len} slots")]
    NoSuchSlot {
        /// The requested slot.
        slot: u64,
        /// Number of slots.
        len: u64,
    },
}

/// Inclusion proof of one slot in a tree of `leaf_count` slots.
///
/// `siblings` lists, from the leaf level upwards, the sibling of the path
/// node at every level where that sibling exists (levels where the path node
/// is promoted contribute nothing). For a single slot this is the same list
/// of hashes as `rs_merkle`'s `proof(&[slot]).proof_hashes()`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MerkleProof {
    /// The proven slot.
    pub slot: u64,
    /// Number of slots of the tree the proof was made against. The root
    /// does not commit to it: verifiers must take it from a trusted source
    /// (a proof stays valid for any count giving the same path shape).
    pub leaf_count: u64,
    /// Sibling hashes, leaf level first.
    pub siblings: Vec<Hash>,
}

impl MerkleProof {
    /// The root implied by this proof for `leaf`, or `None` if the proof is
    /// malformed (slot out of range, too few or too many siblings).
    pub fn compute_root(&self, leaf: &Hash) -> Option<Hash> {
        if self.slot >= self.leaf_count {
            return None;
        }
        let mut siblings = self.siblings.iter();
        let mut index = self.slot;
        let mut width = self.leaf_count;
        let mut node = *leaf;
        while width > 1 {
            if index & 1 == 1 {
                node = node_hash(siblings.next()?, &node);
            } else if index + 1 < width {
                node = node_hash(&node, siblings.next()?);
            }
            index >>= 1;
            width = width / 2 + width % 2;
        }
        if siblings.next().is_some() {
            return None;
        }
        Some(node)
    }

    /// Whether `leaf` sits at `slot` in a tree of `leaf_count` slots with
    /// root `root`. Never panics; a malformed proof is simply rejected.
    pub fn verify(&self, root: &Hash, leaf: &Hash) -> bool {
        self.compute_root(leaf).as_ref() == Some(root)
    }
}

/// Deliberately simple reference computation of the root over `leaves`:
/// builds every level from scratch. Shares nothing with [`FlatTree`] except
/// [`node_hash`]; used for golden roots and tests.
pub fn reference_root(leaves: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => node_hash(left, right),
                _ => pair.first().copied().unwrap_or(EMPTY_ROOT),
            })
            .collect();
    }
    level.first().copied().unwrap_or(EMPTY_ROOT)
}

// ---------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------

/// Merkle levels stored per page.
const PAGE_HEIGHT: u32 = 4;
/// Bottom nodes (leaves or child pages) per page.
const FANOUT: usize = 1 << PAGE_HEIGHT;
/// `FANOUT` as a `u64` (slot arithmetic).
const FANOUT_U64: u64 = FANOUT as u64;
/// Deepest tree: `FANOUT^MAX_DEPTH >= 2^64`, so any `u64` slot count fits.
const MAX_DEPTH: u32 = 64u32.div_ceil(PAGE_HEIGHT);

/// Complete binary subtree in heap order: `nodes[1]` is the page root,
/// `nodes[2 * j]` and `nodes[2 * j + 1]` are the children of `nodes[j]`, the
/// bottom row is `nodes[FANOUT..2 * FANOUT]`. `nodes[0]` is unused (zero).
/// Nodes whose range holds no slot are unused and stay zero.
type Heap = [Hash; 2 * FANOUT];

#[derive(Clone, PartialEq, Eq)]
struct LeafPage {
    nodes: Heap,
}

#[derive(Clone, PartialEq, Eq)]
struct InnerPage {
    /// Bottom row: copies of the children's roots.
    nodes: Heap,
    /// `children[c]` is `Some` iff its range holds at least one slot.
    children: [Option<Page>; FANOUT],
}

/// A page of the tree. Page *level* 0 holds leaves; a page of level `p`
/// covers `FANOUT^(p + 1)` slots starting at a multiple of that span.
#[derive(Clone, PartialEq, Eq)]
enum Page {
    Leaf(Arc<LeafPage>),
    Inner(Arc<InnerPage>),
}

impl Page {
    fn empty(level: u32) -> Self {
        if level == 0 {
            Page::Leaf(Arc::new(LeafPage {
                nodes: [[0u8; 32]; 2 * FANOUT],
            }))
        } else {
            Page::Inner(Arc::new(InnerPage {
                nodes: [[0u8; 32]; 2 * FANOUT],
                children: [const { None }; FANOUT],
            }))
        }
    }

    fn nodes(&self) -> &Heap {
        match self {
            Page::Leaf(page) => &page.nodes,
            Page::Inner(page) => &page.nodes,
        }
    }

    fn root(&self) -> Hash {
        self.nodes()[1]
    }

    /// A deep copy: every page newly allocated, shared with nothing.
    fn unshared(&self) -> Self {
        match self {
            Page::Leaf(page) => Page::Leaf(Arc::new(LeafPage { nodes: page.nodes })),
            Page::Inner(page) => Page::Inner(Arc::new(InnerPage {
                nodes: page.nodes,
                children: page
                    .children
                    .each_ref()
                    .map(|c| c.as_ref().map(Page::unshared)),
            })),
        }
    }
}

/// Recomputes, bottom-up, every heap node above the bottom positions set in
/// `dirty` (bit `b` = bottom position `b`), each exactly once. `present` is
/// the number of bottom positions holding a slot (`1..=FANOUT`); a node
/// whose right child holds no slot takes its left child's value.
fn rehash(nodes: &mut Heap, mut dirty: u64, mut present: usize) {
    let mut row = FANOUT; // heap offset (= width) of the current row
    while row > 1 {
        let parent_row = row / 2;
        let mut parents = 0u64;
        let mut pending = dirty;
        while pending != 0 {
            let pos = pending.trailing_zeros() as usize;
            let parent = pos / 2;
            pending &= !(3u64 << (2 * parent));
            parents |= 1u64 << parent;
            let left = row + 2 * parent;
            nodes[parent_row + parent] = if 2 * parent + 1 < present {
                node_hash(&nodes[left], &nodes[left + 1])
            } else {
                nodes[left]
            };
        }
        dirty = parents;
        present = present / 2 + present % 2;
        row = parent_row;
    }
}

/// Applies `changes` (sorted by slot, unique, all inside the page's range
/// and below `len`, non-empty) to `page` of level `level` whose first slot is
/// `base`; `len` is the slot count after the batch.
fn update_page(page: &mut Page, level: u32, base: u64, changes: &[(u64, Hash)], len: u64) {
    match page {
        Page::Leaf(arc) => {
            let page = Arc::make_mut(arc);
            let mut dirty = 0u64;
            for &(slot, leaf) in changes {
                let pos = (slot - base) as usize;
                debug_assert!(pos < FANOUT);
                page.nodes[FANOUT + pos] = leaf;
                dirty |= 1u64 << pos;
            }
            let present = (len - base).min(FANOUT_U64) as usize;
            rehash(&mut page.nodes, dirty, present);
        }
        Page::Inner(arc) => {
            let page = Arc::make_mut(arc);
            let shift = PAGE_HEIGHT * level; // a child covers 2^shift slots
            let mut dirty = 0u64;
            let mut rest = changes;
            while let Some(&(first, _)) = rest.first() {
                let child_index = (first - base) >> shift;
                let in_child =
                    rest.partition_point(|&(slot, _)| (slot - base) >> shift == child_index);
                let (mine, tail) = rest.split_at(in_child);
                let c = child_index as usize;
                debug_assert!(c < FANOUT);
                let child = page.children[c].get_or_insert_with(|| Page::empty(level - 1));
                update_page(child, level - 1, base + (child_index << shift), mine, len);
                page.nodes[FANOUT + c] = child.root();
                dirty |= 1u64 << c;
                rest = tail;
            }
            let span_mask = (1u64 << shift) - 1;
            let remaining = len - base;
            let children = (remaining >> shift) + u64::from(remaining & span_mask != 0);
            rehash(&mut page.nodes, dirty, children.min(FANOUT_U64) as usize);
        }
    }
}

/// Smallest page depth (>= 1) whose capacity `FANOUT^depth` holds `len` slots.
fn depth_for(len: u64) -> u32 {
    let mut depth = 1;
    while depth < MAX_DEPTH && (1u128 << (PAGE_HEIGHT * depth)) < u128::from(len) {
        depth += 1;
    }
    depth
}

// ---------------------------------------------------------------------------
// FlatTree
// ---------------------------------------------------------------------------

/// Persistent incremental Merkle tree over slots; see the module docs.
///
/// `Clone` is O(1) (one `Arc` increment); clones share every page until one
/// of them is updated, which copies only the touched pages. Equality is
/// equality of the leaf sequences.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FlatTree {
    /// Number of slots.
    len: u64,
    /// Number of page levels; 0 iff the tree is empty.
    depth: u32,
    /// Root page (level `depth - 1`); `None` iff the tree is empty.
    root: Option<Page>,
}

impl fmt::Debug for FlatTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let root = self.root();
        let mut hex = String::with_capacity(64);
        for byte in root {
            hex.push_str(&format!("{byte:02x}"));
        }
        f.debug_struct("FlatTree")
            .field("len", &self.len)
            .field("root", &hex)
            .finish()
    }
}

impl FlatTree {
    /// A copy that shares no page with `self` (a clone shares them all), so
    /// that updating it copies nothing: see [`crate::State::unshared`].
    pub fn unshared(&self) -> Self {
        FlatTree {
            len: self.len,
            depth: self.depth,
            root: self.root.as_ref().map(Page::unshared),
        }
    }

    /// An empty tree (no slots, root [`EMPTY_ROOT`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree whose slot `i` holds `leaves[i]`.
    pub fn from_leaves(leaves: &[Hash]) -> Self {
        let mut tree = Self::new();
        let changes: Vec<(u64, Hash)> = (0u64..).zip(leaves.iter().copied()).collect();
        let len = changes.len() as u64;
        tree.apply_sorted(&changes, len);
        tree
    }

    /// Number of slots.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the tree has no slots.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The leaf at `slot`, or `None` if there is no such slot.
    pub fn leaf(&self, slot: u64) -> Option<Hash> {
        if slot >= self.len {
            return None;
        }
        let mut page = self.root.as_ref()?;
        let mut level = self.depth.checked_sub(1)?;
        loop {
            match page {
                Page::Leaf(leaf_page) => {
                    let pos = (slot % FANOUT_U64) as usize;
                    return leaf_page.nodes.get(FANOUT + pos).copied();
                }
                Page::Inner(inner) => {
                    let c = ((slot >> (PAGE_HEIGHT * level)) % FANOUT_U64) as usize;
                    page = inner.children.get(c)?.as_ref()?;
                    level = level.checked_sub(1)?;
                }
            }
        }
    }

    /// All leaves in slot order.
    pub fn leaves(&self) -> Vec<Hash> {
        fn walk(page: &Page, out: &mut Vec<Hash>, len: usize) {
            match page {
                Page::Leaf(leaf_page) => {
                    let take = (len - out.len()).min(FANOUT);
                    out.extend_from_slice(&leaf_page.nodes[FANOUT..FANOUT + take]);
                }
                Page::Inner(inner) => {
                    for child in inner.children.iter().flatten() {
                        walk(child, out, len);
                    }
                }
            }
        }
        let len = usize::try_from(self.len).unwrap_or(usize::MAX);
        let mut out = Vec::with_capacity(len);
        if let Some(root) = &self.root {
            walk(root, &mut out, len);
        }
        out
    }

    /// Applies a batch of `(slot, leaf)` changes.
    ///
    /// Changes are applied in slot order (a stable sort, so among changes to
    /// the same slot the last one in `changes` wins). Each change overwrites
    /// an existing slot (`slot < len`) or appends one (`slot == len` at the
    /// time it is applied). Every affected inner node is recomputed once.
    ///
    /// # Errors
    ///
    /// [`TreeError::Gap`] if a slot would leave a gap, [`TreeError::Full`]
    /// if the tree would exceed `u64::MAX` slots. On error the tree is
    /// unchanged.
    pub fn update(&mut self, changes: &[(u64, Hash)]) -> Result<(), TreeError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut sorted = changes.to_vec();
        sorted.sort_by_key(|&(slot, _)| slot);
        let mut len = self.len;
        let mut unique = 0usize;
        for i in 0..sorted.len() {
            let (slot, leaf) = sorted[i];
            if slot > len {
                return Err(TreeError::Gap { slot, len });
            }
            if slot == len {
                len = len.checked_add(1).ok_or(TreeError::Full { len })?;
            }
            if unique > 0 && sorted[unique - 1].0 == slot {
                sorted[unique - 1].1 = leaf;
            } else {
                sorted[unique] = (slot, leaf);
                unique += 1;
            }
        }
        sorted.truncate(unique);
        self.apply_sorted(&sorted, len);
        Ok(())
    }

    /// Applies validated changes: sorted by slot, unique, every slot below
    /// `len`, every slot in `self.len..len` present. Infallible.
    fn apply_sorted(&mut self, changes: &[(u64, Hash)], len: u64) {
        if changes.is_empty() {
            return;
        }
        let mut root = match self.root.take() {
            Some(root) => root,
            None => {
                self.depth = 1;
                Page::empty(0)
            }
        };
        let target = depth_for(len);
        while self.depth < target {
            // The old root becomes child 0 of a new root. Its path is
            // recomputed below: the batch appends the first slot of child 1.
            let mut nodes = [[0u8; 32]; 2 * FANOUT];
            nodes[FANOUT] = root.root();
            let mut children = [const { None }; FANOUT];
            children[0] = Some(root);
            root = Page::Inner(Arc::new(InnerPage { nodes, children }));
            self.depth += 1;
        }
        update_page(&mut root, self.depth - 1, 0, changes, len);
        self.root = Some(root);
        self.len = len;
    }

    /// The Merkle root; [`EMPTY_ROOT`] when there are no slots.
    pub fn root(&self) -> Hash {
        match &self.root {
            Some(page) if self.len > 0 => page.root(),
            _ => EMPTY_ROOT,
        }
    }

    /// Inclusion proof of `slot` against [`FlatTree::root`].
    ///
    /// # Errors
    ///
    /// [`TreeError::NoSuchSlot`] if `slot >= len`.
    pub fn proof(&self, slot: u64) -> Result<MerkleProof, TreeError> {
        let missing = TreeError::NoSuchSlot {
            slot,
            len: self.len,
        };
        if slot >= self.len {
            return Err(missing);
        }
        // Pages on the path, indexed by page level (0 = leaf page).
        let mut path: [Option<&Heap>; MAX_DEPTH as usize] = [None; MAX_DEPTH as usize];
        let mut page = self.root.as_ref().ok_or(missing)?;
        let mut level = self.depth.checked_sub(1).ok_or(missing)?;
        loop {
            *path.get_mut(level as usize).ok_or(missing)? = Some(page.nodes());
            match page {
                Page::Leaf(_) => break,
                Page::Inner(inner) => {
                    let c = ((slot >> (PAGE_HEIGHT * level)) % FANOUT_U64) as usize;
                    page = inner
                        .children
                        .get(c)
                        .and_then(Option::as_ref)
                        .ok_or(missing)?;
                    level = level.checked_sub(1).ok_or(missing)?;
                }
            }
        }
        let mut siblings = Vec::new();
        let mut index = slot;
        let mut width = self.len;
        let mut k = 0u32;
        while width > 1 {
            let sibling = index ^ 1;
            if sibling < width {
                let heap = path
                    .get((k / PAGE_HEIGHT) as usize)
                    .copied()
                    .flatten()
                    .ok_or(missing)?;
                let row = FANOUT >> (k % PAGE_HEIGHT);
                let pos = (sibling % row as u64) as usize;
                siblings.push(*heap.get(row + pos).ok_or(missing)?);
            }
            index >>= 1;
            width = width / 2 + width % 2;
            k += 1;
        }
        Ok(MerkleProof {
            slot,
            leaf_count: self.len,
            siblings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rs_merkle::MerkleTree;

    fn h(n: u64) -> Hash {
        *blake3::hash(&n.to_le_bytes()).as_bytes()
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(h).collect()
    }

    fn rs_root(leaves: &[Hash]) -> Hash {
        MerkleTree::<NodeHasher>::from_leaves(leaves)
            .root()
            .unwrap_or(EMPTY_ROOT)
    }

    /// Full cross-check of `tree` against `model`.
    fn check(tree: &FlatTree, model: &[Hash], all_proofs: bool) {
        let root = tree.root();
        assert_eq!(tree.len(), model.len() as u64);
        assert_eq!(root, reference_root(model), "reference root");
        assert_eq!(root, rs_root(model), "rs_merkle root");
        if model.is_empty() {
            return;
        }
        let rs_tree = MerkleTree::<NodeHasher>::from_leaves(model);
        let n = model.len();
        let slots: Vec<usize> = if all_proofs {
            (0..n).collect()
        } else {
            vec![0, n / 3, n / 2, n - 1]
        };
        for i in slots {
            let leaf = model[i];
            assert_eq!(tree.leaf(i as u64), Some(leaf));
            let ours = tree.proof(i as u64).unwrap();
            assert!(ours.verify(&root, &leaf), "our proof of {i}/{n}");
            let rs_proof = rs_tree.proof(&[i]);
            assert!(
                rs_proof.verify(root, &[i], &[leaf], n),
                "rs proof of {i}/{n}"
            );
            assert_eq!(
                rs_proof.proof_hashes(),
                ours.siblings.as_slice(),
                "siblings of {i}/{n}"
            );
        }
    }

    #[test]
    fn keys_are_derived() {
        assert_eq!(LEAF_KEY, blake3::derive_key("aivm v1 merkle leaf", &[]));
        assert_eq!(NODE_KEY, blake3::derive_key("aivm v1 merkle node", &[]));
        assert_ne!(LEAF_KEY, NODE_KEY);
    }

    #[test]
    fn hash_functions_match_spec() {
        let mut preimage = b"key".to_vec();
        preimage.extend_from_slice(b"value");
        assert_eq!(
            leaf_hash(b"key", b"value"),
            *blake3::keyed_hash(&LEAF_KEY, &preimage).as_bytes()
        );
        let (a, b) = (h(1), h(2));
        let mut preimage = a.to_vec();
        preimage.extend_from_slice(&b);
        assert_eq!(preimage.len(), 64);
        assert_eq!(
            node_hash(&a, &b),
            *blake3::keyed_hash(&NODE_KEY, &preimage).as_bytes()
        );
        assert_eq!(
            node_hash(&a, &b),
            <NodeHasher as rs_merkle::Hasher>::hash(&preimage)
        );
    }

    #[test]
    fn empty_tree() {
        let tree = FlatTree::new();
        assert!(tree.is_empty());
        assert_eq!(tree.len(), 0);
        assert_eq!(tree.root(), EMPTY_ROOT);
        assert_eq!(reference_root(&[]), EMPTY_ROOT);
        assert_eq!(tree.leaf(0), None);
        assert_eq!(
            tree.proof(0),
            Err(TreeError::NoSuchSlot { slot: 0, len: 0 })
        );
        assert_eq!(tree.leaves(), Vec::<Hash>::new());
        let mut t = tree.clone();
        t.update(&[]).unwrap();
        assert_eq!(t, tree);
        assert_eq!(FlatTree::from_leaves(&[]), tree);
        check(&tree, &[], true);
    }

    #[test]
    fn small_trees_match_reference_and_rs_merkle() {
        let l = leaves(8);
        // Hand-written shapes.
        assert_eq!(FlatTree::from_leaves(&l[..1]).root(), l[0]);
        assert_eq!(
            FlatTree::from_leaves(&l[..2]).root(),
            node_hash(&l[0], &l[1])
        );
        let ab = node_hash(&l[0], &l[1]);
        assert_eq!(FlatTree::from_leaves(&l[..3]).root(), node_hash(&ab, &l[2]));
        let cd = node_hash(&l[2], &l[3]);
        let abcd = node_hash(&ab, &cd);
        assert_eq!(
            FlatTree::from_leaves(&l[..5]).root(),
            node_hash(&abcd, &l[4])
        );
        for n in [1u64, 2, 3, 5, 8] {
            let model = leaves(n);
            check(&FlatTree::from_leaves(&model), &model, true);
        }
    }

    #[test]
    fn all_sizes_up_to_70_and_page_boundaries() {
        for n in (0u64..=70).chain([255, 256, 257, 4095, 4096, 4097]) {
            let model = leaves(n);
            let tree = FlatTree::from_leaves(&model);
            check(&tree, &model, n <= 70);
            assert_eq!(tree.leaves(), model);
        }
    }

    #[test]
    fn appending_one_by_one_matches_bulk_build() {
        let model = leaves(300);
        let mut tree = FlatTree::new();
        for (i, leaf) in model.iter().enumerate() {
            tree.update(&[(i as u64, *leaf)]).unwrap();
            assert_eq!(tree.root(), reference_root(&model[..=i]));
        }
        assert_eq!(tree, FlatTree::from_leaves(&model));
        check(&tree, &model, true);
    }

    #[test]
    fn growing_several_page_levels_in_one_batch() {
        let model = leaves(5000);
        let mut tree = FlatTree::from_leaves(&model[..3]);
        let changes: Vec<(u64, Hash)> =
            (3u64..5000).rev().map(|i| (i, model[i as usize])).collect();
        tree.update(&changes).unwrap();
        check(&tree, &model, false);
        assert_eq!(tree, FlatTree::from_leaves(&model));
    }

    #[test]
    fn proofs_reject_wrong_inputs() {
        let model = leaves(13);
        let tree = FlatTree::from_leaves(&model);
        let root = tree.root();
        for i in 0..13u64 {
            let proof = tree.proof(i).unwrap();
            let leaf = model[i as usize];
            assert!(proof.verify(&root, &leaf));
            assert!(!proof.verify(&root, &h(1000)), "wrong leaf");
            assert!(!proof.verify(&h(1000), &leaf), "wrong root");
            let mut p = proof.clone();
            p.slot = (i + 1) % 13;
            assert!(!p.verify(&root, &leaf), "wrong slot");
            // The root does not commit to the slot count, so a proof stays
            // valid for any count giving the same path shape (e.g. slot 0 of
            // 13 or 14); a count that changes the shape is rejected.
            let mut p = proof.clone();
            p.leaf_count = if i == 12 { 14 } else { i + 1 };
            assert!(!p.verify(&root, &leaf), "wrong count");
            let mut p = proof.clone();
            p.siblings.push(h(7));
            assert!(!p.verify(&root, &leaf), "extra sibling");
            let mut p = proof.clone();
            p.siblings.pop();
            assert!(!p.verify(&root, &leaf), "missing sibling");
            let mut p = proof.clone();
            p.siblings[0][0] ^= 1;
            assert!(!p.verify(&root, &leaf), "tampered sibling");
        }
        assert_eq!(
            tree.proof(13),
            Err(TreeError::NoSuchSlot { slot: 13, len: 13 })
        );
        // Degenerate proofs never panic.
        for (slot, leaf_count) in [
            (0, 0),
            (5, 3),
            (u64::MAX, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (0, u64::MAX),
        ] {
            let p = MerkleProof {
                slot,
                leaf_count,
                siblings: vec![h(1); 70],
            };
            assert!(!p.verify(&root, &model[0]));
        }
        // Single-leaf tree: empty proof.
        let one = FlatTree::from_leaves(&model[..1]);
        let p = one.proof(0).unwrap();
        assert!(p.siblings.is_empty());
        assert!(p.verify(&model[0], &model[0]));
    }

    #[test]
    fn gap_errors_leave_tree_unchanged() {
        let model = leaves(10);
        let mut tree = FlatTree::from_leaves(&model);
        let before = tree.clone();
        assert_eq!(
            tree.update(&[(11, h(1))]),
            Err(TreeError::Gap { slot: 11, len: 10 })
        );
        assert_eq!(tree, before);
        // Valid changes before the gap are not applied either.
        assert_eq!(
            tree.update(&[(0, h(9)), (10, h(1)), (12, h(2))]),
            Err(TreeError::Gap { slot: 12, len: 11 })
        );
        assert_eq!(tree, before);
        assert_eq!(tree.root(), reference_root(&model));
        assert_eq!(
            tree.update(&[(u64::MAX, h(1))]),
            Err(TreeError::Gap {
                slot: u64::MAX,
                len: 10
            })
        );
        assert_eq!(tree, before);
        assert_eq!(tree.leaf(u64::MAX), None);
        assert_eq!(
            tree.proof(u64::MAX),
            Err(TreeError::NoSuchSlot {
                slot: u64::MAX,
                len: 10
            })
        );
        let mut empty = FlatTree::new();
        assert_eq!(
            empty.update(&[(1, h(1))]),
            Err(TreeError::Gap { slot: 1, len: 0 })
        );
        assert_eq!(empty, FlatTree::new());
        // Appends out of order are fine: they are applied in slot order.
        tree.update(&[(11, h(11)), (10, h(10))]).unwrap();
        let mut expected = model.clone();
        expected.extend([h(10), h(11)]);
        check(&tree, &expected, true);
    }

    #[test]
    fn duplicate_slots_last_wins() {
        let model = leaves(5);
        let mut tree = FlatTree::from_leaves(&model);
        tree.update(&[
            (2, h(100)),
            (5, h(101)),
            (2, h(102)),
            (5, h(103)),
            (2, EMPTY_LEAF),
        ])
        .unwrap();
        let mut expected = model.clone();
        expected[2] = EMPTY_LEAF;
        expected.push(h(103));
        check(&tree, &expected, true);
    }

    #[test]
    fn clones_are_independent_and_equality_is_by_leaves() {
        let model = leaves(1000);
        let tree = FlatTree::from_leaves(&model);
        let mut other = tree.clone();
        other.update(&[(500, EMPTY_LEAF), (1000, h(1))]).unwrap();
        assert_eq!(tree.root(), reference_root(&model));
        assert_eq!(tree.leaf(500), Some(model[500]));
        assert_eq!(other.leaf(500), Some(EMPTY_LEAF));
        assert_ne!(tree, other);
        other.update(&[(500, model[500])]).unwrap();
        let mut extended = model.clone();
        extended.push(h(1));
        assert_eq!(other, FlatTree::from_leaves(&extended));
        assert!(format!("{other:?}").contains("len: 1001"));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Append {
            empty: bool,
            seed: u64,
        },
        Overwrite {
            slot_seed: u64,
            empty: bool,
            seed: u64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<bool>(), any::<u64>()).prop_map(|(empty, seed)| Op::Append { empty, seed }),
            (any::<u64>(), prop::bool::weighted(0.2), any::<u64>()).prop_map(
                |(slot_seed, empty, seed)| Op::Overwrite {
                    slot_seed,
                    empty,
                    seed
                }
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn incremental_root_matches_rebuild_and_rs_merkle(
            batches in prop::collection::vec(
                (prop::collection::vec(op(), 0..60), any::<bool>(), prop::bool::weighted(0.1)),
                1..10,
            )
        ) {
            let mut tree = FlatTree::new();
            let mut model: Vec<Hash> = Vec::new();
            for (ops, reverse, add_gap) in batches {
                let appends = ops.iter().filter(|o| matches!(o, Op::Append { .. })).count() as u64;
                let new_len = model.len() as u64 + appends;
                let mut next_append = model.len() as u64;
                let mut changes = Vec::new();
                for o in &ops {
                    match *o {
                        Op::Append { empty, seed } => {
                            changes.push((next_append, if empty { EMPTY_LEAF } else { h(seed) }));
                            next_append += 1;
                        }
                        Op::Overwrite { slot_seed, empty, seed } if new_len > 0 => {
                            changes.push((slot_seed % new_len, if empty { EMPTY_LEAF } else { h(seed) }));
                        }
                        Op::Overwrite { .. } => {}
                    }
                }
                if reverse {
                    changes.reverse();
                }
                if add_gap {
                    let before = tree.clone();
                    let mut bad = changes.clone();
                    bad.push((new_len + 1, h(0)));
                    prop_assert!(tree.update(&bad).is_err());
                    prop_assert_eq!(&tree, &before);
                }
                tree.update(&changes).unwrap();
                // Model: grow, then apply in input order (last write wins).
                model.resize(new_len as usize, EMPTY_LEAF);
                for &(slot, leaf) in &changes {
                    model[slot as usize] = leaf;
                }
                prop_assert_eq!(tree.root(), reference_root(&model));
                prop_assert_eq!(tree.root(), rs_root(&model));
            }
            check(&tree, &model, false);
            prop_assert_eq!(&tree, &FlatTree::from_leaves(&model));
            prop_assert_eq!(tree.leaves(), model);
        }
    }
}
