//! Merkle anchoring for cross-chain settlement, every MerkleAnchorFreq blocks.

use serde::{Deserialize, Serialize};

use crate::types::Hash;

/// Where an anchor is settled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnchorTarget {
    /// HostChainID "primary": the primary network's Q-Chain.
    QChain,
    /// A white-label L1/L2: its own finality.
    HostChain(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub target: AnchorTarget,
    pub height: u64,
    /// First height whose results this anchor covers (the block after the previous anchor).
    pub from_height: u64,
    pub state_root: Hash,
    /// Results root of the anchoring block itself.
    pub results_root: Hash,
    /// Merkle root over the per-block results roots of `from_height..=height`, in
    /// height order: one proof path reaches any result settled since the last anchor.
    pub results_roots_root: Hash,
}

/// The anchor a block at `height` carries, if it is an anchoring height.
pub fn anchor_at(
    host_chain_id: &str,
    freq: u64,
    height: u64,
    state_root: Hash,
    block_results_roots: &[Hash],
) -> Option<Anchor> {
    if freq == 0 || !height.is_multiple_of(freq) {
        return None;
    }
    let results_root = block_results_roots.last().copied().unwrap_or([0u8; 32]);
    let target = if host_chain_id == "primary" {
        AnchorTarget::QChain
    } else {
        AnchorTarget::HostChain(host_chain_id.to_string())
    };
    Some(Anchor {
        target,
        height,
        from_height: height.saturating_sub(block_results_roots.len() as u64) + 1,
        state_root,
        results_root,
        results_roots_root: crate::commit::tree::reference_root(block_results_roots),
    })
}
