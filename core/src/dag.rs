//! The seed's DAG vertex, a thin type over conflict keys: two vertices conflict
//! iff their transactions share a key (for tasks: a job id).

use serde::{Deserialize, Serialize};

use crate::encoding::digest;
use crate::tx::{ConflictKey, VerifiedTx};
use crate::types::Hash;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vertex {
    pub parents: Vec<Hash>,
    pub height: u64,
    pub epoch: u32,
    /// Hashes of the vertex's transactions, in order.
    pub txs: Vec<Hash>,
    /// Union of the transactions' conflict keys, sorted.
    pub keys: Vec<ConflictKey>,
}

impl Vertex {
    pub fn new(parents: Vec<Hash>, height: u64, epoch: u32, txs: &[VerifiedTx]) -> Self {
        let mut keys: Vec<ConflictKey> = txs.iter().flat_map(|t| t.conflict_keys()).collect();
        keys.sort();
        keys.dedup();
        Vertex {
            parents,
            height,
            epoch,
            txs: txs.iter().map(|t| t.hash).collect(),
            keys,
        }
    }

    /// Content id: hash of the canonical bytes, which do not contain the id.
    pub fn id(&self) -> Hash {
        digest("aivm v1 vertex", self)
    }

    pub fn conflicts(&self, other: &Vertex) -> bool {
        self.keys
            .iter()
            .any(|k| other.keys.binary_search(k).is_ok())
    }
}
