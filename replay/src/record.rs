//! Writing a chain (genesis, blocks and their outcomes) as a block log.
//!
//! The conventions (also in `docs/LOG-FORMAT.md`, "What aivm stores"): the
//! header's genesis is `encode(&Genesis)`, a frame's block is
//! `encode(&Block)`, its outcome `encode(&BlockOutcome)`, and its state and
//! results roots are the outcome's.

use std::path::Path;

use aivm_core::encoding::encode;
use aivm_core::{Block, BlockOutcome, Genesis};

use crate::log::{FrameData, LogError, LogHeader, LogSink, LogWriter, SyncPolicy};

/// Why a chain could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("{blocks} blocks but {outcomes} outcomes: every block needs the outcome the chain recorded for it")]
    CountMismatch { blocks: u64, outcomes: u64 },
    #[error("outcome #{index} is for height {outcome}, but its block has height {block}")]
    HeightMismatch {
        index: u64,
        block: u64,
        outcome: u64,
    },
    #[error("{path} already exists; remove it or choose another output path")]
    Exists { path: String },
}

/// The log header of a chain starting from `genesis`.
pub fn log_header(genesis: &Genesis) -> LogHeader {
    LogHeader::new(genesis.chain_id.clone(), encode(genesis))
}

/// Appends one block and the outcome the chain recorded for it.
pub fn append_block<W: LogSink>(
    writer: &mut LogWriter<W>,
    block: &Block,
    outcome: &BlockOutcome,
) -> Result<u64, LogError> {
    let block_bytes = encode(block);
    let outcome_bytes = encode(outcome);
    writer.append(&FrameData {
        height: block.header.height,
        block: &block_bytes,
        state_root: outcome.state_root,
        results_root: outcome.results_root,
        outcome: &outcome_bytes,
    })
}

fn check_pairs(blocks: &[Block], outcomes: &[BlockOutcome]) -> Result<(), RecordError> {
    if blocks.len() != outcomes.len() {
        return Err(RecordError::CountMismatch {
            blocks: blocks.len() as u64,
            outcomes: outcomes.len() as u64,
        });
    }
    for (i, (b, o)) in blocks.iter().zip(outcomes).enumerate() {
        if b.header.height != o.height {
            return Err(RecordError::HeightMismatch {
                index: i as u64,
                block: b.header.height,
                outcome: o.height,
            });
        }
    }
    Ok(())
}

/// Writes a whole chain into `sink` and returns the sink.
pub fn write_chain<W: LogSink>(
    sink: W,
    genesis: &Genesis,
    blocks: &[Block],
    outcomes: &[BlockOutcome],
    policy: SyncPolicy,
) -> Result<W, RecordError> {
    check_pairs(blocks, outcomes)?;
    let mut writer = LogWriter::new(sink, &log_header(genesis), policy)?;
    for (b, o) in blocks.iter().zip(outcomes) {
        append_block(&mut writer, b, o)?;
    }
    Ok(writer.finish()?)
}

/// The log of a chain as bytes.
pub fn chain_to_bytes(
    genesis: &Genesis,
    blocks: &[Block],
    outcomes: &[BlockOutcome],
) -> Result<Vec<u8>, RecordError> {
    write_chain(Vec::new(), genesis, blocks, outcomes, SyncPolicy::Never)
}

/// Writes a chain to a new file (never overwriting one) and syncs it once at
/// the end. Returns the file's length.
pub fn write_chain_file(
    path: &Path,
    genesis: &Genesis,
    blocks: &[Block],
    outcomes: &[BlockOutcome],
) -> Result<u64, RecordError> {
    check_pairs(blocks, outcomes)?;
    if path.exists() {
        return Err(RecordError::Exists {
            path: path.display().to_string(),
        });
    }
    // One sync at the end: a demo or compiled log is rebuilt, not recovered,
    // after a crash.
    let mut writer = LogWriter::create(path, &log_header(genesis), SyncPolicy::Never)?;
    for (b, o) in blocks.iter().zip(outcomes) {
        append_block(&mut writer, b, o)?;
    }
    writer.sync()?;
    let len = writer.offset();
    writer.finish()?;
    Ok(len)
}
