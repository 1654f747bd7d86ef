//! Golden logs and their expected roots.
//!
//! `NAME.roots.json` holds, for every block of `NAME.aivmlog`, the state root
//! and results root computed by a deliberately simple reference: the blocks are
//! replayed with the core, and after each one
//! * the state root is `State::reference_state_root()`: every collection's
//!   leaves recomputed from its map and every tree rebuilt from scratch by
//!   `commit::tree::reference_root`, never the incremental trees the chain keeps;
//! * the results root is `reference_root` over `leaf_hash(task, output)` of the
//!   block's `TaskFinalized` events, in the order they were emitted, never the
//!   list block-end processing accumulates.
//!
//! The replay check then compares three things per block: what the core
//! computes now, what the log recorded, and what the reference said.

use std::path::Path;

use aivm_core::commit::tree::{leaf_hash, reference_root};
use aivm_core::encoding::{decode, encode};
use aivm_core::types::{hex, Hash};
use aivm_core::{apply_block, Block, BlockOutcome, Event, Genesis, State};
use aivm_replay::log::{
    read_all, LogError, LogFrame, ReaderOptions, FRAME_CHECKSUM_LEN, FRAME_HEAD_LEN, MIN_BODY_LEN,
};
use serde::{Deserialize, Serialize};

/// The expected roots of one golden log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootsFile {
    pub fixture: String,
    /// What the log was made from (a scenario file, or the generator).
    pub source: String,
    pub chain_id: String,
    /// `Genesis::hash()`, hex.
    pub genesis_hash: String,
    /// How the roots were computed (see this module's docs).
    pub computed_by: String,
    pub blocks: Vec<RootsEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootsEntry {
    pub height: u64,
    pub state_root: String,
    pub results_root: String,
}

pub const COMPUTED_BY: &str = "replay with aivm_core::apply_block; state_root = State::reference_state_root() \
(every tree rebuilt from scratch over recomputed leaves); results_root = reference_root over leaf_hash(task, \
output_hash) of the block's TaskFinalized end events, in order";

/// The results root of a block recomputed from its `TaskFinalized` events.
pub fn reference_results_root(outcome: &BlockOutcome) -> Hash {
    let leaves: Vec<Hash> = outcome
        .end_events
        .iter()
        .filter_map(|e| match e {
            Event::TaskFinalized {
                task, output_hash, ..
            } => Some(leaf_hash(&task.0, output_hash)),
            _ => None,
        })
        .collect();
    reference_root(&leaves)
}

/// Replays `blocks` from `genesis` and computes the reference roots of every block.
pub fn reference_roots(
    fixture: &str,
    source: &str,
    genesis: &Genesis,
    blocks: &[Block],
) -> Result<RootsFile, String> {
    let mut state = State::genesis(genesis).map_err(|e| format!("genesis: {e}"))?;
    let mut out = Vec::with_capacity(blocks.len());
    for b in blocks {
        let (next, outcome) =
            apply_block(&state, b).map_err(|e| format!("block {}: {e}", b.header.height))?;
        out.push(RootsEntry {
            height: b.header.height,
            state_root: hex(&next.reference_state_root()),
            results_root: hex(&reference_results_root(&outcome)),
        });
        state = next;
    }
    Ok(RootsFile {
        fixture: fixture.to_string(),
        source: source.to_string(),
        chain_id: genesis.chain_id.clone(),
        genesis_hash: hex(&genesis.hash()),
        computed_by: COMPUTED_BY.to_string(),
        blocks: out,
    })
}

/// Writes `dir/NAME.aivmlog` and `dir/NAME.roots.json`.
pub fn write_golden(
    dir: &Path,
    name: &str,
    source: &str,
    genesis: &Genesis,
    blocks: &[Block],
    outcomes: &[BlockOutcome],
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let log = dir.join(format!("{name}.aivmlog"));
    aivm_replay::scenario::write_log(&log, genesis, blocks, outcomes)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let roots = reference_roots(name, source, genesis, blocks)?;
    let mut json = serde_json::to_string_pretty(&roots).map_err(|e| e.to_string())?;
    json.push('\n');
    let path = dir.join(format!("{name}.roots.json"));
    std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))
}

/// Replays a golden log through the core (decode, `apply_block`) and compares
/// every block's computed roots with the log's and with `roots`. Returns the
/// number of blocks, or what differed first (with the height).
pub fn check_log(bytes: &[u8], roots: &RootsFile) -> Result<u64, String> {
    let (header, frames) =
        read_all(bytes, ReaderOptions::default()).map_err(|e| format!("log refused: {e}"))?;
    let genesis: Genesis =
        decode(&header.genesis).map_err(|e| format!("header genesis does not decode: {e}"))?;
    if header.chain_id != genesis.chain_id || genesis.chain_id != roots.chain_id {
        return Err(format!(
            "chain id: log header {:?}, genesis {:?}, roots file {:?}",
            header.chain_id, genesis.chain_id, roots.chain_id
        ));
    }
    if hex(&genesis.hash()) != roots.genesis_hash {
        return Err(format!(
            "genesis hash {} but the roots file expects {}",
            hex(&genesis.hash()),
            roots.genesis_hash
        ));
    }
    if frames.len() != roots.blocks.len() {
        return Err(format!(
            "{} frames but the roots file lists {} blocks",
            frames.len(),
            roots.blocks.len()
        ));
    }
    let mut state = State::genesis(&genesis).map_err(|e| format!("genesis refused: {e}"))?;
    for (frame, want) in frames.iter().zip(&roots.blocks) {
        state = check_frame(&state, frame, want)
            .map_err(|e| format!("height {}: {e}", frame.height))?;
    }
    Ok(frames.len() as u64)
}

fn check_frame(state: &State, frame: &LogFrame, want: &RootsEntry) -> Result<State, String> {
    let block: Block = decode(&frame.block).map_err(|e| format!("block does not decode: {e}"))?;
    if block.header.height != frame.height || want.height != frame.height {
        return Err(format!(
            "heights differ: frame {}, block {}, roots file {}",
            frame.height, block.header.height, want.height
        ));
    }
    let (next, outcome) =
        apply_block(state, &block).map_err(|e| format!("block refused by the core: {e}"))?;
    let roots = [
        (
            "state root",
            outcome.state_root,
            frame.state_root,
            &want.state_root,
        ),
        (
            "results root",
            outcome.results_root,
            frame.results_root,
            &want.results_root,
        ),
    ];
    for (what, computed, logged, reference) in roots {
        if computed != logged || hex(&computed) != *reference {
            return Err(format!(
                "{what}: computed {}, log recorded {}, reference {reference}",
                hex(&computed),
                hex(&logged)
            ));
        }
    }
    if !frame.outcome.is_empty() && frame.outcome != encode(&outcome) {
        let first = first_receipt_diff(&frame.outcome, &outcome);
        return Err(format!(
            "outcome differs from the one the log recorded ({first})"
        ));
    }
    Ok(next)
}

fn first_receipt_diff(logged: &[u8], computed: &BlockOutcome) -> String {
    let Ok(logged) = decode::<BlockOutcome>(logged) else {
        return "the recorded outcome does not decode".into();
    };
    for (i, (a, b)) in logged.receipts.iter().zip(&computed.receipts).enumerate() {
        if a != b {
            return format!("tx {i}: recorded {a:?}, computed {b:?}");
        }
    }
    if logged.end_events != computed.end_events {
        return format!(
            "block-end events differ: recorded {:?}, computed {:?}",
            logged.end_events, computed.end_events
        );
    }
    "receipt count or anchor differs".into()
}

/// A damaged copy of a golden log and the error it must be refused with.
pub struct Tampered {
    pub what: &'static str,
    pub bytes: Vec<u8>,
    pub expect: &'static str,
}

fn frame_len(f: &LogFrame) -> usize {
    FRAME_HEAD_LEN + MIN_BODY_LEN as usize + f.block.len() + f.outcome.len() + FRAME_CHECKSUM_LEN
}

/// Tampered copies of a log: a byte flipped in a frame's body, one in a frame's
/// head, the last frame cut short, and a block dropped (when there are two or more).
pub fn tampered_copies(bytes: &[u8]) -> Result<Vec<Tampered>, String> {
    let (_, frames) =
        read_all(bytes, ReaderOptions::default()).map_err(|e| format!("log refused: {e}"))?;
    let (Some(mid), Some(last)) = (frames.get(frames.len() / 2), frames.last()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let at = mid.offset as usize;
    let mut body = bytes.to_vec();
    body[at + FRAME_HEAD_LEN + (frame_len(mid) - FRAME_HEAD_LEN) / 2] ^= 0x10;
    out.push(Tampered {
        what: "one byte flipped in a frame body",
        bytes: body,
        expect: "ChecksumMismatch",
    });
    let mut head = bytes.to_vec();
    head[at + 5] ^= 0x01;
    out.push(Tampered {
        what: "one byte flipped in a frame head",
        bytes: head,
        expect: "FrameHeadCorrupt",
    });
    let cut = last.offset as usize + frame_len(last) / 2;
    out.push(Tampered {
        what: "truncated inside the last frame",
        bytes: bytes[..cut].to_vec(),
        expect: "TruncatedFrame",
    });
    if frames.len() >= 2 {
        let drop = frames.get(frames.len().saturating_sub(2)).unwrap_or(mid);
        let start = drop.offset as usize;
        let mut dropped = bytes[..start].to_vec();
        dropped.extend_from_slice(&bytes[start + frame_len(drop)..]);
        out.push(Tampered {
            what: "a block dropped",
            bytes: dropped,
            expect: "OutOfOrder",
        });
    }
    Ok(out)
}

/// The name of the error reading `bytes` stops with, or `None` if it reads cleanly.
pub fn read_error(bytes: &[u8]) -> Option<LogError> {
    read_all(bytes, ReaderOptions::default()).err()
}

/// The variant name of a log error (`ChecksumMismatch`).
pub fn error_name(e: &LogError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("")
        .to_string()
}
