//! Looking into a log without replaying it: the header, the genesis, and per
//! block its transactions, recorded roots, stored receipts and anchor.
//!
//! Frames are checked (checksums, heights, parent links, decoding) but no
//! signature is verified and no block applied: `aivm replay` does that.

use std::path::Path;

use aivm_core::encoding::decode;
use aivm_core::types::Hash;
use aivm_core::{Block, BlockOutcome, TxStatus};
use serde::Serialize;
use serde_json::{json, Value};

use crate::json::{hex32, to_json};
use crate::log::{LogError, LogFrame, LogReader, ReaderOptions};
use crate::replayer::{genesis_of, ReceiptCounts, ReplayError};

/// The log's header and genesis at a glance.
#[derive(Clone, Debug, Serialize)]
pub struct HeaderInfo {
    pub format_version: u16,
    pub chain_id: String,
    /// `Genesis::hash()`: the chain's identity and block 1's parent.
    #[serde(with = "crate::json::hex_bytes")]
    pub genesis_hash: Hash,
    /// blake3 of the genesis bytes, as stored in the header.
    #[serde(with = "crate::json::hex_bytes")]
    pub genesis_bytes_hash: Hash,
    pub genesis_time_ms: u64,
    pub genesis_accounts: u64,
    pub genesis_providers: u64,
    pub verification_mode: String,
    pub challenge_window_blocks: u64,
    pub merkle_anchor_freq: u64,
    #[serde(with = "crate::json::hex_bytes")]
    pub genesis_state_root: Hash,
}

/// One line of the block table.
#[derive(Clone, Debug, Serialize)]
pub struct BlockRow {
    pub height: u64,
    pub offset: u64,
    pub time_ms: u64,
    pub txs: u64,
    #[serde(with = "crate::json::hex_bytes")]
    pub state_root: Hash,
    #[serde(with = "crate::json::hex_bytes")]
    pub results_root: Hash,
    /// Receipts by status as the log stored them (None: no stored outcome).
    pub receipts: Option<ReceiptCounts>,
    /// `from..=to` heights and results_roots_root of the anchor the block carries.
    pub anchor: Option<Value>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Overview {
    pub header: HeaderInfo,
    pub blocks: u64,
    pub txs: u64,
    pub bytes: u64,
    pub torn_tail: Option<u64>,
    pub rows: Vec<BlockRow>,
}

fn header_info(reader: &LogReader<impl std::io::Read>) -> Result<HeaderInfo, ReplayError> {
    let header = reader.header();
    let (genesis, state) = genesis_of(header)?;
    Ok(HeaderInfo {
        format_version: header.version,
        chain_id: header.chain_id.clone(),
        genesis_hash: genesis.hash(),
        genesis_bytes_hash: header.genesis_hash,
        genesis_time_ms: genesis.time_ms,
        genesis_accounts: genesis.balances.len() as u64,
        genesis_providers: genesis.providers.len() as u64,
        verification_mode: format!("{:?}", genesis.config.verification_mode),
        challenge_window_blocks: genesis.config.challenge_window_blocks,
        merkle_anchor_freq: genesis.config.merkle_anchor_freq,
        genesis_state_root: state.state_root(),
    })
}

fn open(
    path: &Path,
    accept_torn_tail: bool,
) -> Result<LogReader<std::io::BufReader<std::fs::File>>, ReplayError> {
    let opts = ReaderOptions {
        accept_torn_tail,
        ..ReaderOptions::default()
    };
    Ok(LogReader::open(path, opts)?)
}

/// Decodes a frame's block and checks it links to `prev`.
fn checked_block(f: &LogFrame, prev: &Hash) -> Result<Block, ReplayError> {
    let block: Block = decode(&f.block).map_err(|error| ReplayError::BlockDecode {
        height: f.height,
        offset: f.offset,
        error,
    })?;
    if block.header.parent != *prev {
        return Err(LogError::ParentMismatch {
            offset: f.offset,
            height: f.height,
        }
        .into());
    }
    Ok(block)
}

fn stored_outcome(f: &LogFrame) -> Option<BlockOutcome> {
    if f.outcome.is_empty() {
        return None;
    }
    decode(&f.outcome).ok()
}

fn counts(o: &BlockOutcome) -> ReceiptCounts {
    let mut c = ReceiptCounts::default();
    for r in &o.receipts {
        match r.status {
            TxStatus::Applied => c.applied += 1,
            TxStatus::Failed(_) => c.failed += 1,
            TxStatus::Rejected(_) => c.rejected += 1,
        }
    }
    c
}

fn anchor_summary(o: &BlockOutcome) -> Option<Value> {
    o.anchor.as_ref().map(|a| {
        json!({
            "from_height": a.from_height,
            "height": a.height,
            "results_roots_root": hex32(&a.results_roots_root),
            "target": to_json(&a.target),
        })
    })
}

/// The header and one row per block.
pub fn overview(path: &Path, accept_torn_tail: bool) -> Result<Overview, ReplayError> {
    let mut reader = open(path, accept_torn_tail)?;
    let header = header_info(&reader)?;
    let mut prev = header.genesis_hash;
    let mut rows = Vec::new();
    let mut txs = 0;
    for frame in &mut reader {
        let f = frame?;
        let block = checked_block(&f, &prev)?;
        prev = block.id();
        let outcome = stored_outcome(&f);
        txs += block.txs.len() as u64;
        rows.push(BlockRow {
            height: f.height,
            offset: f.offset,
            time_ms: block.header.time_ms,
            txs: block.txs.len() as u64,
            state_root: f.state_root,
            results_root: f.results_root,
            receipts: outcome.as_ref().map(counts),
            anchor: outcome.as_ref().and_then(anchor_summary),
        });
    }
    Ok(Overview {
        header,
        blocks: rows.len() as u64,
        txs,
        bytes: reader.valid_len(),
        torn_tail: reader.torn_tail(),
        rows,
    })
}

/// One block in full: header, every transaction with its stored receipt,
/// block-end events, roots and anchor. None if the log has no such height.
pub fn block_detail(
    path: &Path,
    height: u64,
    accept_torn_tail: bool,
) -> Result<Option<Value>, ReplayError> {
    let mut reader = open(path, accept_torn_tail)?;
    let mut prev = header_info(&reader)?.genesis_hash;
    for frame in &mut reader {
        let f = frame?;
        let block = checked_block(&f, &prev)?;
        prev = block.id();
        if f.height == height {
            return Ok(Some(detail(&f, &block)));
        }
    }
    Ok(None)
}

fn detail(f: &LogFrame, block: &Block) -> Value {
    let outcome = stored_outcome(f);
    let txs: Vec<Value> = block
        .txs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let receipt = outcome.as_ref().and_then(|o| o.receipts.get(i));
            json!({
                "index": i,
                "hash": hex32(&t.hash()),
                "signer": hex32(&t.signer.0),
                "nonce": t.body.nonce,
                "kind": t.body.action.kind(),
                "action": to_json(&t.body.action),
                "receipt": receipt.map(|r| json!({
                    "status": status_text(&r.status),
                    "fee": r.fee.to_string(),
                    "events": r.events.iter().map(to_json).collect::<Vec<_>>(),
                })),
            })
        })
        .collect();
    json!({
        "height": f.height,
        "offset": f.offset,
        "block_id": hex32(&block.id()),
        "header": to_json(&block.header),
        "state_root": hex32(&f.state_root),
        "results_root": hex32(&f.results_root),
        "outcome_stored": outcome.is_some(),
        "txs": txs,
        "end_events": outcome.as_ref().map(|o| o.end_events.iter().map(to_json).collect::<Vec<_>>()),
        "anchor": outcome.as_ref().and_then(|o| o.anchor.as_ref().map(to_json)),
    })
}

/// `applied`, `failed: <reason>` or `rejected: <reason>`.
pub fn status_text(s: &TxStatus) -> String {
    match s {
        TxStatus::Applied => "applied".to_string(),
        TxStatus::Failed(e) => format!("failed: {e}"),
        TxStatus::Rejected(e) => format!("rejected: {e}"),
    }
}
