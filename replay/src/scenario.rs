//! Human-writable JSON scenarios: a genesis (or the defaults) plus blocks of
//! transactions by named actors whose keys derive from their names, with
//! optional expectations on receipts, balances, tasks and providers.
//!
//! The format is documented with examples in `fixtures/scenarios/README.md`.
//! [`parse`] never panics and names the JSON path of every error; [`run`]
//! applies the blocks with `aivm_core::chain::Chain` and reports receipts,
//! events, roots and the result of every expectation; [`compile`] and
//! [`write_log`] turn a scenario into a block log (`docs/LOG-FORMAT.md`).

mod checks;
mod exec;
mod json;
mod parse;
mod render;
mod spec;

use std::collections::BTreeMap;
use std::path::Path;

use aivm_core::encoding::encode;
use aivm_core::types::{Address, Hash, ProviderId};
use aivm_core::{Block, BlockOutcome, Genesis};
use serde::Serialize;

use crate::log::{FrameData, LogError, LogHeader, LogWriter, SyncPolicy};

pub use json::text_hash;
pub use parse::{
    MAX_ADVANCE_TOTAL, MAX_BLOCK_ENTRIES, MAX_INPUT_BYTES, MAX_TXS_PER_BLOCK, MAX_TXS_TOTAL,
};

/// A parsed scenario, ready to [`run`] or [`compile`].
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// The genesis, fully resolved (names turned into addresses, config validated).
    pub genesis: Genesis,
    /// Milliseconds between blocks that do not set their own time.
    pub block_time_ms: u64,
    /// Proposer of blocks that do not name one.
    pub proposer: Address,
    names: BTreeMap<Address, String>,
    texts: BTreeMap<Hash, String>,
    genesis_labels: Vec<(String, ProviderId)>,
    steps: Vec<spec::Step>,
}

impl Scenario {
    /// Number of blocks the scenario produces (`advance` entries counted in full).
    pub fn block_count(&self) -> u64 {
        self.steps
            .iter()
            .map(|s| match s {
                spec::Step::Block(_) => 1,
                spec::Step::Advance { n, .. } => *n,
            })
            .fold(0u64, u64::saturating_add)
    }
}

/// Why a scenario could not be parsed, run or written.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Not JSON at all.
    #[error("scenario is not valid JSON: {message}")]
    Json {
        line: u64,
        column: u64,
        message: String,
    },
    /// JSON, but not a valid scenario: `path` is where (e.g. `blocks[2].txs[0].fee`).
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// A block could not be built or applied (e.g. a label or assigned provider
    /// that does not exist at that point, a block time that goes backwards, or
    /// a broken invariant).
    #[error("{path} (block {height}): {message}")]
    Build {
        path: String,
        height: u64,
        message: String,
    },
    /// The blocks and outcomes given to [`write_log`] do not belong together.
    #[error("cannot write log: {0}")]
    Mismatch(String),
    #[error("cannot write log: {0}")]
    Log(#[from] LogError),
    #[error("cannot write log: {0}")]
    Io(#[from] std::io::Error),
}

/// What running a scenario produced: every block with its receipts, events and
/// roots, and every expectation with its result.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub description: String,
    pub chain_id: String,
    pub genesis_hash: String,
    pub final_height: u64,
    pub final_state_root: String,
    pub blocks: Vec<BlockReport>,
    pub checks: Vec<CheckReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BlockReport {
    pub height: u64,
    pub block_id: String,
    pub time_ms: u64,
    /// Where in the scenario the block comes from (`blocks[3]`, `blocks[4], advance 2 of 10`).
    pub source: String,
    pub txs: Vec<TxReport>,
    /// Events of block-end processing, rendered with the scenario's names.
    pub end_events: Vec<String>,
    pub state_root: String,
    pub results_root: String,
    pub anchored: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct TxReport {
    pub index: u64,
    /// The actor name that sent it.
    pub from: String,
    /// `Action::kind()`.
    pub action: String,
    pub hash: String,
    /// `applied`, or `failed: ...` / `rejected: ...` with the error.
    pub status: String,
    /// The error's variant path (`NotAssigned`, `Auth.BadSignature`), if any.
    pub error_kind: Option<String>,
    /// Fee charged, in base units (a decimal string: it may exceed 2^53).
    pub fee: String,
    pub events: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// Height after which the check ran.
    pub height: u64,
    /// JSON path of the expectation in the scenario.
    pub path: String,
    pub what: String,
    pub expected: String,
    pub actual: String,
    pub passed: bool,
}

impl ScenarioReport {
    /// Receipts, events and roots per block, then the expectation results and a summary line.
    pub fn render_text(&self) -> String {
        render::report_text(self)
    }

    /// True when every expectation held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    pub fn failed_checks(&self) -> impl Iterator<Item = &CheckReport> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

/// Parses a scenario. Never panics; every error names where the input is wrong
/// (a line and column for JSON syntax, a JSON path otherwise).
pub fn parse(json: &str) -> Result<Scenario, ScenarioError> {
    parse::parse(json)
}

/// Runs a scenario and checks its expectations. An unmet expectation is not an
/// error: it is a failed check in the report ([`ScenarioReport::passed`]).
pub fn run(s: &Scenario) -> Result<ScenarioReport, ScenarioError> {
    Ok(exec::Exec::new(s)?.run()?.report())
}

/// Runs a scenario and returns its genesis, blocks and outcomes (expectations are not checked).
pub fn compile(s: &Scenario) -> Result<(Genesis, Vec<Block>, Vec<BlockOutcome>), ScenarioError> {
    let chain = exec::Exec::new(s)?.run()?.chain;
    Ok((chain.genesis, chain.blocks, chain.outcomes))
}

/// Writes a block log: header genesis = `encode(genesis)`, one frame per block
/// with `encode(block)`, the outcome's roots and `encode(outcome)`.
///
/// The log is written next to `path` and renamed over it once complete and
/// synced, so `path` is either untouched or the whole new log, never a torn one.
pub fn write_log(
    path: &Path,
    genesis: &Genesis,
    blocks: &[Block],
    outcomes: &[BlockOutcome],
) -> Result<(), ScenarioError> {
    if blocks.len() != outcomes.len() {
        return Err(ScenarioError::Mismatch(format!(
            "{} blocks but {} outcomes",
            blocks.len(),
            outcomes.len()
        )));
    }
    let tmp = temp_path(path);
    let _ = std::fs::remove_file(&tmp);
    let result = write_frames(&tmp, genesis, blocks, outcomes)
        .and_then(|()| Ok(std::fs::rename(&tmp, path)?));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temp_path(path: &Path) -> std::path::PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

fn write_frames(
    path: &Path,
    genesis: &Genesis,
    blocks: &[Block],
    outcomes: &[BlockOutcome],
) -> Result<(), ScenarioError> {
    let header = LogHeader::new(genesis.chain_id.clone(), encode(genesis));
    let mut w = LogWriter::create(path, &header, SyncPolicy::Never)?;
    for (b, o) in blocks.iter().zip(outcomes) {
        if b.header.height != o.height || b.id() != o.block_id {
            return Err(ScenarioError::Mismatch(format!(
                "outcome for height {} does not belong to block {}",
                o.height, b.header.height
            )));
        }
        let block = encode(b);
        let outcome = encode(o);
        w.append(&FrameData {
            height: b.header.height,
            block: &block,
            state_root: o.state_root,
            results_root: o.results_root,
            outcome: &outcome,
        })?;
    }
    w.sync()?;
    w.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests;
