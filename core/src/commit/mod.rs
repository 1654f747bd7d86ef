pub mod tree;

pub use tree::{
    leaf_hash, node_hash, reference_root, FlatTree, Hash, MerkleProof, NodeHasher, TreeError,
    EMPTY_LEAF, EMPTY_ROOT, LEAF_KEY, NODE_KEY,
};
