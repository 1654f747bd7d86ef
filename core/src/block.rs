//! Blocks and headers. The header is the only source of time and randomness.

use serde::{Deserialize, Serialize};

use crate::commit::tree::{reference_root, Hash as TreeHash};
use crate::encoding::encode;
use crate::tx::SignedTx;
use crate::types::{Address, Hash};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Header {
    pub chain_id: String,
    pub height: u64,
    /// Id of the previous block; the genesis hash for height 1.
    pub parent: Hash,
    /// Milliseconds since the Unix epoch, as agreed by the consensus engine.
    pub time_ms: u64,
    pub proposer: Address,
    /// 32 bytes of consensus-supplied randomness (e.g. a VRF or threshold signature output).
    pub seed: Hash,
    /// Merkle root over the hashes of the block's transactions, in order.
    pub tx_root: Hash,
}

impl Header {
    /// A block id is the blake3 hash of the header's canonical bytes.
    pub fn id(&self) -> Hash {
        *blake3::hash(&encode(self)).as_bytes()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Block {
    pub header: Header,
    pub txs: Vec<SignedTx>,
}

/// Merkle root over transaction hashes; an empty block has the all-zero root.
pub fn tx_root(txs: &[SignedTx]) -> Hash {
    let leaves: Vec<TreeHash> = txs.iter().map(|t| t.hash()).collect();
    reference_root(&leaves)
}

impl Block {
    pub fn id(&self) -> Hash {
        self.header.id()
    }

    /// Builds a block whose `tx_root` matches its transactions.
    pub fn new(
        chain_id: &str,
        height: u64,
        parent: Hash,
        time_ms: u64,
        proposer: Address,
        seed: Hash,
        txs: Vec<SignedTx>,
    ) -> Self {
        Block {
            header: Header {
                chain_id: chain_id.to_string(),
                height,
                parent,
                time_ms,
                proposer,
                seed,
                tx_root: tx_root(&txs),
            },
            txs,
        }
    }
}
