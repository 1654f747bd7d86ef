//! Proofs that a task's result was finalised: the result's leaf in its
//! block's results root, and that results root in the anchor that carries it.
//!
//! A result leaf is `leaf_hash(task_id, output_hash)`; a block's results root
//! is the Merkle root (`reference_root`) over the leaves of the results
//! finalised in that block, in finalisation order; an anchor's
//! `results_roots_root` is the Merkle root over the per-block results roots of
//! heights `from_height..=height`. So two paths lead from a result to an
//! anchor settled on the host chain. [`prove`] replays a log (checking it) to
//! build them; [`verify`] checks a proof alone, without the log.

use std::path::Path;

use aivm_core::anchor::{Anchor, AnchorTarget};
use aivm_core::apply::results_leaves;
use aivm_core::commit::tree::{leaf_hash, reference_root, FlatTree, MerkleProof};
use aivm_core::events::Event;
use aivm_core::types::{Hash, TaskId};
use serde::{Deserialize, Serialize};

use crate::json::hex32;
use crate::replayer::{ReplayError, ReplayOptions, Session};

/// The `format` field of every proof this version writes.
pub const PROOF_FORMAT: &str = "aivm-result-proof/1";

/// A Merkle path from a leaf to a root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathProof {
    #[serde(with = "crate::json::hex_bytes")]
    pub leaf: Hash,
    pub slot: u64,
    pub leaf_count: u64,
    #[serde(with = "crate::json::hex_list")]
    pub siblings: Vec<Hash>,
}

impl PathProof {
    fn new(leaf: Hash, p: MerkleProof) -> Self {
        PathProof {
            leaf,
            slot: p.slot,
            leaf_count: p.leaf_count,
            siblings: p.siblings,
        }
    }

    fn root(&self) -> Option<Hash> {
        MerkleProof {
            slot: self.slot,
            leaf_count: self.leaf_count,
            siblings: self.siblings.clone(),
        }
        .compute_root(&self.leaf)
    }
}

/// The block whose results root holds the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenBlock {
    pub height: u64,
    #[serde(with = "crate::json::hex_bytes")]
    pub block_id: Hash,
    #[serde(with = "crate::json::hex_bytes")]
    pub state_root: Hash,
    #[serde(with = "crate::json::hex_bytes")]
    pub results_root: Hash,
}

/// The anchor carrying the block's results root, and the path to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorProof {
    /// `q-chain` or `host:<chain id>`: where the anchor is settled.
    pub target: String,
    pub height: u64,
    pub from_height: u64,
    #[serde(with = "crate::json::hex_bytes")]
    pub state_root: Hash,
    #[serde(with = "crate::json::hex_bytes")]
    pub results_roots_root: Hash,
    /// Path from the block's results root (the leaf) to `results_roots_root`.
    pub path: PathProof,
}

/// Inclusion proof of a finalised result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultProof {
    pub format: String,
    pub chain_id: String,
    #[serde(with = "crate::json::hex_bytes")]
    pub genesis_hash: Hash,
    #[serde(with = "crate::json::hex_bytes")]
    pub task: Hash,
    #[serde(with = "crate::json::hex_bytes")]
    pub output_hash: Hash,
    pub block: ProvenBlock,
    /// Path from `leaf_hash(task, output_hash)` to the block's results root.
    pub result_path: PathProof,
    /// None when the log ends before the next anchor.
    pub anchor: Option<AnchorProof>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("task {task} was not finalised in this log (it ends at height {height}{status})")]
    NotFinalized {
        task: String,
        height: u64,
        status: String,
    },
    #[error("the results finalised at height {height} do not rebuild its results root: {what}")]
    Inconsistent { height: u64, what: String },
}

impl ProveError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ProveError::Replay(e) => e.exit_code(),
            ProveError::NotFinalized { .. } => 2,
            ProveError::Inconsistent { .. } => 1,
        }
    }
}

fn target_name(t: &AnchorTarget) -> String {
    match t {
        AnchorTarget::QChain => "q-chain".to_string(),
        AnchorTarget::HostChain(id) => format!("host:{id}"),
    }
}

/// Results finalised in a block, in finalisation order, from its end events.
fn finalised(end_events: &[Event]) -> Vec<(TaskId, Hash)> {
    end_events
        .iter()
        .filter_map(|e| match e {
            Event::TaskFinalized {
                task, output_hash, ..
            } => Some((*task, *output_hash)),
            _ => None,
        })
        .collect()
}

/// The result part of a proof, once the task's block is found.
struct Found {
    block: ProvenBlock,
    output_hash: Hash,
    path: PathProof,
}

fn result_path(
    height: u64,
    results: &[(TaskId, Hash)],
    task: &TaskId,
    root: Hash,
) -> Result<Option<(Hash, PathProof)>, ProveError> {
    let Some(slot) = results.iter().position(|(t, _)| t == task) else {
        return Ok(None);
    };
    let leaves = results_leaves(results);
    if reference_root(&leaves) != root {
        return Err(ProveError::Inconsistent {
            height,
            what: "the TaskFinalized events do not match the block's results root".into(),
        });
    }
    let proof = FlatTree::from_leaves(&leaves)
        .proof(slot as u64)
        .map_err(|e| ProveError::Inconsistent {
            height,
            what: e.to_string(),
        })?;
    let output = results.get(slot).map(|(_, o)| *o).unwrap_or_default();
    Ok(Some((
        output,
        PathProof::new(leaf_hash(&task.0, &output), proof),
    )))
}

fn anchor_proof(
    anchor: &Anchor,
    since: &[(u64, Hash)],
    height: u64,
) -> Result<AnchorProof, ProveError> {
    let inconsistent = |what: &str| ProveError::Inconsistent {
        height: anchor.height,
        what: what.to_string(),
    };
    let roots: Vec<Hash> = since.iter().map(|(_, r)| *r).collect();
    if since.first().map(|(h, _)| *h) != Some(anchor.from_height)
        || reference_root(&roots) != anchor.results_roots_root
    {
        return Err(inconsistent(
            "the per-block results roots do not rebuild the anchor's results_roots_root",
        ));
    }
    let slot = height.saturating_sub(anchor.from_height);
    let proof = FlatTree::from_leaves(&roots)
        .proof(slot)
        .map_err(|e| inconsistent(&e.to_string()))?;
    let leaf = roots.get(slot as usize).copied().unwrap_or_default();
    Ok(AnchorProof {
        target: target_name(&anchor.target),
        height: anchor.height,
        from_height: anchor.from_height,
        state_root: anchor.state_root,
        results_roots_root: anchor.results_roots_root,
        path: PathProof::new(leaf, proof),
    })
}

/// Replays `path` (checking every root) until the task's result is finalised
/// and anchored, and builds the proof.
pub fn prove(path: &Path, task: &TaskId, opts: &ReplayOptions) -> Result<ResultProof, ProveError> {
    prove_in(Session::open(path, opts)?, task)
}

/// [`prove`] over a session already opened (on a file or on bytes).
pub fn prove_in(mut session: Session, task: &TaskId) -> Result<ResultProof, ProveError> {
    let chain_id = session.header().chain_id.clone();
    let genesis_hash = session.genesis().hash();
    let mut since: Vec<(u64, Hash)> = Vec::new();
    let mut found: Option<Found> = None;
    while let Some(step) = session.step()? {
        let o = &step.outcome;
        since.push((o.height, o.results_root));
        if found.is_none() {
            let results = finalised(&o.end_events);
            if let Some((output_hash, path)) =
                result_path(o.height, &results, task, o.results_root)?
            {
                let block = ProvenBlock {
                    height: o.height,
                    block_id: o.block_id,
                    state_root: o.state_root,
                    results_root: o.results_root,
                };
                found = Some(Found {
                    block,
                    output_hash,
                    path,
                });
            }
        }
        if let Some(anchor) = &o.anchor {
            if let Some(f) = found {
                let a = anchor_proof(anchor, &since, f.block.height)?;
                return Ok(proof_of(chain_id, genesis_hash, task, f, Some(a)));
            }
            since.clear();
        }
    }
    match found {
        Some(f) => Ok(proof_of(chain_id, genesis_hash, task, f, None)),
        None => {
            let status = session.state().task(task).map_or_else(
                || ", and has no such task".to_string(),
                |t| format!(", where the task is {}", t.status.name()),
            );
            Err(ProveError::NotFinalized {
                task: hex32(&task.0),
                height: session.height(),
                status,
            })
        }
    }
}

fn proof_of(
    chain_id: String,
    genesis_hash: Hash,
    task: &TaskId,
    f: Found,
    anchor: Option<AnchorProof>,
) -> ResultProof {
    ResultProof {
        format: PROOF_FORMAT.to_string(),
        chain_id,
        genesis_hash,
        task: task.0,
        output_hash: f.output_hash,
        block: f.block,
        result_path: f.path,
        anchor,
    }
}

/// What a valid proof establishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub anchored: bool,
    pub statement: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("unknown proof format {0:?} (this aivm reads {PROOF_FORMAT:?})")]
    Format(String),
    #[error("the result leaf is not leaf_hash(task, output_hash)")]
    ResultLeaf,
    #[error("the result path does not lead to the block's results root")]
    ResultPath,
    #[error("the anchor path's leaf is not the block's results root")]
    AnchorLeaf,
    #[error("the anchor path's position does not match the block's height within the anchor's range {from}..={to}")]
    AnchorPosition { from: u64, to: u64 },
    #[error("the anchor path does not lead to the anchor's results_roots_root")]
    AnchorPath,
}

/// Checks a proof on its own. It establishes that the result is in the
/// block's results root and that root in the anchor; that the anchor itself
/// is genuine is for the host chain to say (compare its `results_roots_root`).
pub fn verify(p: &ResultProof) -> Result<Verified, ProofError> {
    if p.format != PROOF_FORMAT {
        return Err(ProofError::Format(p.format.clone()));
    }
    if p.result_path.leaf != leaf_hash(&p.task, &p.output_hash) {
        return Err(ProofError::ResultLeaf);
    }
    if p.result_path.root() != Some(p.block.results_root) {
        return Err(ProofError::ResultPath);
    }
    let mut statement = format!(
        "task {} finalised with output {} in block {} (results root {})",
        hex32(&p.task),
        hex32(&p.output_hash),
        p.block.height,
        hex32(&p.block.results_root)
    );
    let Some(a) = &p.anchor else {
        statement.push_str("; not anchored yet");
        return Ok(Verified {
            anchored: false,
            statement,
        });
    };
    if a.path.leaf != p.block.results_root {
        return Err(ProofError::AnchorLeaf);
    }
    let in_range = a.from_height <= p.block.height && p.block.height <= a.height;
    let expected_count = a
        .height
        .checked_sub(a.from_height)
        .and_then(|d| d.checked_add(1));
    if !in_range
        || a.path.slot != p.block.height - a.from_height
        || Some(a.path.leaf_count) != expected_count
    {
        return Err(ProofError::AnchorPosition {
            from: a.from_height,
            to: a.height,
        });
    }
    if a.path.root() != Some(a.results_roots_root) {
        return Err(ProofError::AnchorPath);
    }
    statement.push_str(&format!(
        ", carried by the anchor at height {} to {} (results_roots_root {}); check that root on {}",
        a.height,
        a.target,
        hex32(&a.results_roots_root),
        a.target
    ));
    Ok(Verified {
        anchored: true,
        statement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::fixture::small;

    fn finalised_tasks() -> Vec<(u64, TaskId)> {
        small()
            .outcomes
            .iter()
            .flat_map(|o| {
                finalised(&o.end_events)
                    .into_iter()
                    .map(move |(t, _)| (o.height, t))
            })
            .collect()
    }

    fn prove_bytes(bytes: Vec<u8>, task: &TaskId) -> Result<ResultProof, ProveError> {
        prove_in(Session::from_bytes(bytes, &ReplayOptions::default())?, task)
    }

    #[test]
    fn proofs_of_every_anchored_result_verify() {
        let s = small();
        let last_anchor = s
            .outcomes
            .iter()
            .filter_map(|o| o.anchor.as_ref())
            .map(|a| a.height)
            .max()
            .unwrap_or(0);
        let tasks = finalised_tasks();
        assert!(tasks.len() > 3);
        for (h, t) in tasks
            .iter()
            .filter(|(h, _)| *h <= last_anchor)
            .step_by(3)
            .take(2)
        {
            let p = prove_bytes(s.bytes.clone(), t).expect("proves");
            assert_eq!(p.block.height, *h);
            let v = verify(&p).expect("valid");
            assert!(v.anchored);
            let back: ResultProof =
                serde_json::from_str(&serde_json::to_string(&p).expect("json")).expect("parses");
            assert_eq!(back, p);
        }
    }

    #[test]
    fn tampered_proofs_are_refused() {
        let s = small();
        let (_, t) = finalised_tasks()[0];
        let p = prove_bytes(s.bytes.clone(), &t).expect("proves");
        let anchor = p.anchor.clone().expect("anchored");
        let mut bad = p.clone();
        bad.output_hash[0] ^= 1;
        assert_eq!(verify(&bad), Err(ProofError::ResultLeaf));
        let mut bad = p.clone();
        bad.block.results_root[0] ^= 1;
        assert!(verify(&bad).is_err());
        let mut bad = p.clone();
        let mut a = anchor.clone();
        a.results_roots_root[31] ^= 1;
        bad.anchor = Some(a);
        assert_eq!(verify(&bad), Err(ProofError::AnchorPath));
        let mut bad = p.clone();
        let mut a = anchor.clone();
        a.from_height += 1;
        bad.anchor = Some(a);
        assert!(matches!(
            verify(&bad),
            Err(ProofError::AnchorPosition { .. })
        ));
        let mut bad = p.clone();
        bad.format = "aivm-result-proof/9".into();
        assert!(matches!(verify(&bad), Err(ProofError::Format(_))));
    }

    #[test]
    fn an_unanchored_result_gets_a_partial_proof_and_unknown_tasks_none() {
        let s = small();
        // Cut the log right after the block that finalises a result, before its anchor.
        let (h, t) = *finalised_tasks()
            .iter()
            .find(|(h, _)| {
                s.outcomes
                    .get(*h as usize - 1)
                    .is_some_and(|o| o.anchor.is_none())
            })
            .expect("a result finalised between anchors");
        let n = h as usize;
        let bytes = crate::record::chain_to_bytes(&s.genesis, &s.blocks[..n], &s.outcomes[..n])
            .expect("writes");
        let p = prove_bytes(bytes, &t).expect("proves");
        assert!(p.anchor.is_none());
        assert!(!verify(&p).expect("valid").anchored);
        let err = prove_bytes(s.bytes.clone(), &TaskId([7; 32])).expect_err("unknown");
        assert!(matches!(err, ProveError::NotFinalized { .. }));
        assert_eq!(err.exit_code(), 2);
    }
}
