//! The replayer: reads a block log, verifies every signature in batches on
//! all cores, re-applies every block through the core and checks every parent
//! link and recorded root, naming the first divergence precisely.
//!
//! # Pipeline
//! With more than one thread, [`crate::pipeline`] reads the log in chunks of
//! up to 256 KiB, each decoded and verified in batches of [`BATCH`] as one
//! task on a pool of verification threads, and hands the chunks back to the
//! applying thread in log order. Blocks are applied strictly in order on one
//! thread while later chunks are being verified. A failing batch is
//! re-checked one signature at a time only to name the bad ones; a bad
//! signature is not fatal: the core turns it into the same `Rejected` receipt
//! `apply_block` would. With one thread everything runs inline, in the same
//! batches, without a pool.
//!
//! Everything that decides a root is sequential and identical in both modes,
//! so the thread count can never change a result (a test checks it).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, Instant};

use aivm_core::encoding::{decode, encodes_to};
use aivm_core::error::DecodeError;
use aivm_core::events::Event;
use aivm_core::types::Hash;
use aivm_core::{
    apply_verified_block_in_place, Block, BlockError, BlockOutcome, Genesis, State, TxStatus,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::json::hex32;
use crate::log::{LogError, LogFrame, LogHeader, LogReader, ReaderOptions};

use crate::pipeline::{prepare_all, BoxRead, Next, Prepared, Source};
pub use crate::pipeline::{verify_batch, verify_sequential, BATCH};

/// How to replay.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// Threads for decoding and signature checks: 0 = all cores, 1 = inline
    /// without rayon.
    pub threads: usize,
    /// Accept a torn last frame (what a crashed writer leaves).
    pub accept_torn_tail: bool,
    /// Stop after applying this height.
    pub stop_at: Option<u64>,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Recompute the last state root from scratch (every leaf rehashed, every
    /// tree rebuilt by the reference code) and compare it with the
    /// incremental one.
    pub reference_check: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            threads: 0,
            accept_torn_tail: false,
            stop_at: None,
            progress: false,
            reference_check: true,
        }
    }
}

impl ReplayOptions {
    /// The number of threads actually used.
    pub fn effective_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// The first place where replaying disagrees with what the log recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Divergence {
    pub height: u64,
    /// Byte offset of the block's frame.
    pub offset: u64,
    #[serde(with = "crate::json::hex_bytes")]
    pub block_id: Hash,
    #[serde(with = "crate::json::hex_bytes")]
    pub expected_state_root: Hash,
    #[serde(with = "crate::json::hex_bytes")]
    pub computed_state_root: Hash,
    #[serde(with = "crate::json::hex_bytes")]
    pub expected_results_root: Hash,
    #[serde(with = "crate::json::hex_bytes")]
    pub computed_results_root: Hash,
    /// The first receipt or event that differs from the outcome stored in the
    /// log, or why there is none to show.
    pub first_difference: OutcomeDifference,
}

/// How the outcome stored in a frame differs from the replayed one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutcomeDifference {
    /// The transaction at `index` got another receipt: `field` is the first
    /// part that differs (`tx`, `status`, `fee` or `event N`).
    Receipt {
        index: u64,
        #[serde(with = "crate::json::hex_bytes")]
        tx: Hash,
        field: String,
        expected: String,
        computed: String,
    },
    /// The log has a different number of receipts.
    ReceiptCount { expected: u64, computed: u64 },
    /// Block-end event number `index` differs (or is missing on one side).
    EndEvent {
        index: u64,
        expected: String,
        computed: String,
    },
    /// Another field of the outcome (height, block id, roots, anchor).
    Field {
        field: String,
        expected: String,
        computed: String,
    },
    /// Receipts and events all match; only the recorded roots differ.
    None,
    /// The frame carries no outcome, so only the roots could be compared.
    NotRecorded,
    /// The stored outcome does not decode.
    Undecodable { error: String },
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("the log's genesis is unusable: {reason}")]
    Genesis { reason: String },
    #[error("the block in the frame at byte {offset} (height {height}) does not decode: {error}")]
    BlockDecode {
        height: u64,
        offset: u64,
        error: DecodeError,
    },
    #[error("the block at height {height} (frame at byte {offset}) is invalid: {error}")]
    InvalidBlock {
        height: u64,
        offset: u64,
        error: BlockError,
    },
    #[error("{}", render_divergence(.0))]
    Divergence(Box<Divergence>),
    #[error("at height {height} the incremental state root {} differs from the root rebuilt from scratch {}", hex32(.incremental), hex32(.reference))]
    ReferenceRoot {
        height: u64,
        incremental: Hash,
        reference: Hash,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ReplayError {
    /// The documented exit code: 1 when the log's claims are false (a
    /// divergence or an invalid block), 3 when the log cannot be read.
    pub fn exit_code(&self) -> i32 {
        match self {
            ReplayError::Divergence(_)
            | ReplayError::InvalidBlock { .. }
            | ReplayError::ReferenceRoot { .. } => 1,
            ReplayError::Log(_)
            | ReplayError::Genesis { .. }
            | ReplayError::BlockDecode { .. }
            | ReplayError::Internal(_) => 3,
        }
    }

    /// A short stable name for scripts.
    pub fn kind(&self) -> &'static str {
        match self {
            ReplayError::Log(e) => log_error_kind(e),
            ReplayError::Genesis { .. } => "bad_genesis",
            ReplayError::BlockDecode { .. } => "block_decode",
            ReplayError::InvalidBlock { .. } => "invalid_block",
            ReplayError::Divergence(_) => "divergence",
            ReplayError::ReferenceRoot { .. } => "reference_root_mismatch",
            ReplayError::Internal(_) => "internal",
        }
    }

    pub fn height(&self) -> Option<u64> {
        match self {
            ReplayError::Log(e) => e.height(),
            ReplayError::BlockDecode { height, .. }
            | ReplayError::InvalidBlock { height, .. }
            | ReplayError::ReferenceRoot { height, .. } => Some(*height),
            ReplayError::Divergence(d) => Some(d.height),
            ReplayError::Genesis { .. } | ReplayError::Internal(_) => None,
        }
    }

    pub fn offset(&self) -> Option<u64> {
        match self {
            ReplayError::Log(e) => e.offset(),
            ReplayError::BlockDecode { offset, .. } | ReplayError::InvalidBlock { offset, .. } => {
                Some(*offset)
            }
            ReplayError::Divergence(d) => Some(d.offset),
            _ => None,
        }
    }

    /// What the person running the replay should do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ReplayError::Log(e) => log_error_hint(e),
            ReplayError::Genesis { .. } => {
                "the header is intact but its genesis is not a valid aivm genesis: the log was written by another tool or version; get the log from its source again"
            }
            ReplayError::BlockDecode { .. } => {
                "the frame's checksum is right but its block is not a canonical aivm block: the writer is faulty or of another version; do not trust the log from this height on"
            }
            ReplayError::InvalidBlock { .. } => {
                "the chain would never have accepted this block: the log was forged or mis-assembled at this height; rebuild it from a node"
            }
            ReplayError::Divergence(_) => {
                "this aivm cannot reproduce what the log claims from this height on: if both sides run the same protocol version, treat the log as forged from here; `aivm inspect LOG --height H` shows the block"
            }
            ReplayError::ReferenceRoot { .. } => {
                "the core's incremental root disagrees with a full rebuild: this is a bug in aivm-core; please report it with the log"
            }
            ReplayError::Internal(_) => "this is a bug in aivm; please report it with the log",
        }
    }
}

/// A stable snake_case name of a log error.
pub fn log_error_kind(e: &LogError) -> &'static str {
    match e {
        LogError::BadMagic { .. } => "bad_magic",
        LogError::TruncatedHeader { .. } => "truncated_header",
        LogError::UnsupportedVersion { .. } => "unsupported_version",
        LogError::UnsupportedFlags { .. } => "unsupported_flags",
        LogError::HeaderCorrupt { .. } => "header_corrupt",
        LogError::GenesisHashMismatch { .. } => "genesis_hash_mismatch",
        LogError::WrongChainId { .. } => "wrong_chain_id",
        LogError::WrongGenesis { .. } => "wrong_genesis",
        LogError::TruncatedFrame { .. } => "truncated_frame",
        LogError::FrameHeadCorrupt { .. } => "frame_head_corrupt",
        LogError::ChecksumMismatch { .. } => "checksum_mismatch",
        LogError::FrameTooLarge { .. } => "frame_too_large",
        LogError::OutOfOrder { .. } => "out_of_order",
        LogError::MalformedFrame { .. } => "malformed_frame",
        LogError::ParentMismatch { .. } => "parent_mismatch",
        LogError::InvalidHeader { .. } => "invalid_header",
        LogError::WriterPoisoned => "writer_poisoned",
        LogError::Read { .. } => "read_error",
        LogError::Io(_) => "io_error",
    }
}

/// The "what an auditor should do" column of docs/LOG-FORMAT.md.
pub fn log_error_hint(e: &LogError) -> &'static str {
    match e {
        LogError::BadMagic { .. } => "this is not an aivm block log: check you have the right file",
        LogError::TruncatedHeader { .. } => "the file ends inside its header: re-copy the log",
        LogError::UnsupportedVersion { .. } | LogError::UnsupportedFlags { .. } => {
            "use an aivm that supports this log version; if the writer was version 1, the file is damaged"
        }
        LogError::HeaderCorrupt { .. } => "the header is damaged: restore the log from another copy",
        LogError::GenesisHashMismatch { .. } => "do not trust this log: its writer is faulty or forging; report it",
        LogError::WrongChainId { .. } | LogError::WrongGenesis { .. } => {
            "this is another chain's log: get the right one"
        }
        LogError::TruncatedFrame { .. } => {
            "if the writer crashed, replay with --accept-torn-tail; otherwise re-copy the log"
        }
        LogError::FrameHeadCorrupt { .. } => {
            "damage at that offset: restore the log from another copy (crash debris at the very end may be truncated there by hand)"
        }
        LogError::ChecksumMismatch { .. } => "bits flipped in that block: restore the log from another copy",
        LogError::FrameTooLarge { .. } => "the frame exceeds the reader's size limit: refuse it unless you trust the source",
        LogError::OutOfOrder { .. } => {
            "a block was dropped, duplicated or reordered: the log was spliced; rebuild it from a node"
        }
        LogError::MalformedFrame { .. } => "do not trust this log: its writer is faulty; report it",
        LogError::ParentMismatch { .. } => {
            "the log mixes blocks from different forks: rebuild it from a node"
        }
        LogError::Read { .. } | LogError::Io(_) => "check the path, the disk or the transport, and retry",
        LogError::InvalidHeader { .. } | LogError::WriterPoisoned => "fix the input and write the log again",
    }
}

fn render_divergence(d: &Divergence) -> String {
    let mark = |a: &Hash, b: &Hash| if a == b { "match" } else { "DIFFER" };
    let mut s = format!(
        "divergence at height {} (frame at byte {}, block {}):\n  state root:   log {} / replay {} ({})\n  results root: log {} / replay {} ({})\n  ",
        d.height,
        d.offset,
        hex32(&d.block_id),
        hex32(&d.expected_state_root),
        hex32(&d.computed_state_root),
        mark(&d.expected_state_root, &d.computed_state_root),
        hex32(&d.expected_results_root),
        hex32(&d.computed_results_root),
        mark(&d.expected_results_root, &d.computed_results_root),
    );
    s.push_str(&match &d.first_difference {
        OutcomeDifference::Receipt {
            index,
            tx,
            field,
            expected,
            computed,
        } => format!(
            "first difference: tx #{index} ({}): {field} differs\n    log:    {expected}\n    replay: {computed}",
            hex32(tx)
        ),
        OutcomeDifference::ReceiptCount { expected, computed } => {
            format!("first difference: the log has {expected} receipts, replay gives {computed}")
        }
        OutcomeDifference::EndEvent {
            index,
            expected,
            computed,
        } => format!(
            "first difference: block-end event #{index}\n    log:    {expected}\n    replay: {computed}"
        ),
        OutcomeDifference::Field {
            field,
            expected,
            computed,
        } => format!("first difference: outcome {field}\n    log:    {expected}\n    replay: {computed}"),
        OutcomeDifference::None => {
            "every receipt and event matches the stored outcome; only the recorded roots differ".to_string()
        }
        OutcomeDifference::NotRecorded => "the frame stores no outcome, so no receipt can be compared".to_string(),
        OutcomeDifference::Undecodable { error } => {
            format!("the stored outcome does not decode ({error}), so no receipt can be compared")
        }
    });
    s
}

/// Receipts by status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReceiptCounts {
    pub applied: u64,
    pub failed: u64,
    pub rejected: u64,
}

/// What the replayed blocks did, counted from their receipts and events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub receipts: ReceiptCounts,
    pub tasks_submitted: u64,
    pub tasks_assigned: u64,
    pub results_posted: u64,
    pub tasks_finalized: u64,
    pub tasks_failed: u64,
    pub deadlines_missed: u64,
    pub challenges: u64,
    pub disputes_resolved: u64,
    pub slash_events: u64,
    pub slashed: u128,
    pub minted: u128,
    pub burned: u128,
    pub rewards_claimed: u128,
    pub epochs_started: u64,
    pub anchors: u64,
}

impl Tally {
    /// Adds one block's receipts and events.
    pub fn add(&mut self, outcome: &BlockOutcome) {
        for r in &outcome.receipts {
            match r.status {
                TxStatus::Applied => self.receipts.applied += 1,
                TxStatus::Failed(_) => self.receipts.failed += 1,
                TxStatus::Rejected(_) => self.receipts.rejected += 1,
            }
            r.events.iter().for_each(|e| self.event(e));
        }
        outcome.end_events.iter().for_each(|e| self.event(e));
        if outcome.anchor.is_some() {
            self.anchors += 1;
        }
    }

    fn event(&mut self, e: &Event) {
        match e {
            Event::TaskSubmitted { .. } => self.tasks_submitted += 1,
            Event::TaskAssigned { .. } => self.tasks_assigned += 1,
            Event::ResultPosted { .. } => self.results_posted += 1,
            Event::TaskFinalized { .. } => self.tasks_finalized += 1,
            Event::TaskFailed { .. } => self.tasks_failed += 1,
            Event::DeadlineMissed { .. } => self.deadlines_missed += 1,
            Event::TaskChallenged { .. } => self.challenges += 1,
            Event::DisputeResolved { .. } => self.disputes_resolved += 1,
            Event::Slashed { amount, .. } => {
                self.slash_events += 1;
                self.slashed = self.slashed.saturating_add(*amount);
            }
            Event::RewardMinted { amount, .. } => self.minted = self.minted.saturating_add(*amount),
            Event::Burned { amount } => self.burned = self.burned.saturating_add(*amount),
            Event::RewardsClaimed { amount, .. } => {
                self.rewards_claimed = self.rewards_claimed.saturating_add(*amount)
            }
            Event::EpochStarted { .. } => self.epochs_started += 1,
            _ => {}
        }
    }
}

/// The result of a replay that confirmed every root.
#[derive(Clone, Debug, Serialize)]
pub struct ReplaySummary {
    pub chain_id: String,
    /// `Genesis::hash()`: the chain's identity and the parent of block 1.
    #[serde(with = "crate::json::hex_bytes")]
    pub genesis_hash: Hash,
    pub blocks: u64,
    pub last_height: u64,
    pub txs: u64,
    /// Blocks whose recorded state and results roots were recomputed and matched.
    pub roots_verified: u64,
    /// Blocks whose stored outcome (every receipt and event) matched too.
    pub outcomes_verified: u64,
    #[serde(with = "crate::json::hex_bytes")]
    pub state_root: Hash,
    /// Whether the last state root was also confirmed by a full rebuild.
    pub reference_root_checked: bool,
    pub tally: Tally,
    /// Offset of a torn last frame that was accepted and skipped.
    pub torn_tail: Option<u64>,
    /// Set when the replay stopped early at this height on request.
    pub stopped_at: Option<u64>,
    pub bytes: u64,
    pub threads: usize,
    pub elapsed_ms: u64,
    pub txs_per_sec: f64,
}

/// The result of a verify-only pass (decode and signature checks).
#[derive(Clone, Debug, Serialize)]
pub struct VerifySummary {
    pub blocks: u64,
    pub txs: u64,
    pub bad_signatures: u64,
    pub bytes: u64,
    pub threads: usize,
    pub elapsed_ms: u64,
    pub txs_per_sec: f64,
}

/// The result of an apply-only pass: what applying costs on its own.
#[derive(Clone, Debug, Serialize)]
pub struct ApplySummary {
    pub blocks: u64,
    pub txs: u64,
    pub elapsed_ms: u64,
    pub txs_per_sec: f64,
    /// Microseconds of application per transaction.
    pub us_per_tx: f64,
}

fn per_sec(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        n as f64 / s
    } else {
        0.0
    }
}

/// Applies `p` to `state` in place and checks the outcome against the roots
/// (and the outcome bytes, when present) that the log recorded for it.
///
/// In place because a replay keeps only the newest state: nothing is copied.
/// A refused block changes nothing; after a divergence `state` is the one this
/// replay computed for the diverging block.
fn apply_and_check(state: &mut State, p: &mut Prepared) -> Result<BlockOutcome, ReplayError> {
    let verdicts = std::mem::take(&mut p.verdicts);
    let outcome = apply_verified_block_in_place(state, &p.block, verdicts).map_err(|error| {
        ReplayError::InvalidBlock {
            height: p.height,
            offset: p.offset,
            error,
        }
    })?;
    let roots_match = outcome.state_root == p.state_root && outcome.results_root == p.results_root;
    let outcome_match = p.outcome.is_empty() || encodes_to(&outcome, &p.outcome);
    if !roots_match || !outcome_match {
        return Err(ReplayError::Divergence(Box::new(Divergence {
            height: p.height,
            offset: p.offset,
            block_id: outcome.block_id,
            expected_state_root: p.state_root,
            computed_state_root: outcome.state_root,
            expected_results_root: p.results_root,
            computed_results_root: outcome.results_root,
            first_difference: first_difference(&p.outcome, &outcome),
        })));
    }
    Ok(outcome)
}

/// A replay in progress: one block at a time, with the state after it.
pub struct Session {
    header: LogHeader,
    genesis: Genesis,
    state: State,
    prev_id: Hash,
    source: Source,
    opts: ReplayOptions,
    threads: usize,
    progress: ProgressBar,
    tally: Tally,
    txs: u64,
    blocks: u64,
    outcomes_verified: u64,
    bytes: u64,
    started: Instant,
    torn_tail: Option<u64>,
    finished: bool,
    reference_checked: bool,
}

/// One replayed block: what the log held and what the core computed.
pub struct Step {
    pub height: u64,
    /// Byte offset of the block's frame.
    pub offset: u64,
    pub block: Block,
    pub outcome: BlockOutcome,
}

fn open_reader(
    path: &Path,
    accept_torn_tail: bool,
) -> Result<(LogReader<BoxRead>, u64), ReplayError> {
    let file = File::open(path).map_err(LogError::Io)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let opts = ReaderOptions {
        accept_torn_tail,
        ..ReaderOptions::default()
    };
    let reader: BoxRead = Box::new(BufReader::with_capacity(1 << 16, file));
    Ok((LogReader::new(reader, opts)?, len))
}

fn bytes_reader(
    bytes: Vec<u8>,
    accept_torn_tail: bool,
) -> Result<(LogReader<BoxRead>, u64), ReplayError> {
    let len = bytes.len() as u64;
    let opts = ReaderOptions {
        accept_torn_tail,
        ..ReaderOptions::default()
    };
    let reader: BoxRead = Box::new(std::io::Cursor::new(bytes));
    Ok((LogReader::new(reader, opts)?, len))
}

/// Decodes the header's genesis and builds the state it starts from.
pub fn genesis_of(header: &LogHeader) -> Result<(Genesis, State), ReplayError> {
    let genesis: Genesis = decode(&header.genesis).map_err(|e| ReplayError::Genesis {
        reason: format!("its bytes do not decode as a genesis ({e})"),
    })?;
    if genesis.chain_id != header.chain_id {
        return Err(ReplayError::Genesis {
            reason: format!(
                "the header names chain {:?} but the genesis is for chain {:?}",
                header.chain_id, genesis.chain_id
            ),
        });
    }
    let state = State::genesis(&genesis).map_err(|e| ReplayError::Genesis {
        reason: e.to_string(),
    })?;
    Ok((genesis, state))
}

fn progress_bar(enabled: bool, len: u64) -> ProgressBar {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} replaying [{bar:30}] {bytes}/{total_bytes} {msg} ({bytes_per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

impl Session {
    pub fn open(path: &Path, opts: &ReplayOptions) -> Result<Session, ReplayError> {
        let (reader, len) = open_reader(path, opts.accept_torn_tail)?;
        Session::start(reader, len, opts)
    }

    pub fn from_bytes(bytes: Vec<u8>, opts: &ReplayOptions) -> Result<Session, ReplayError> {
        let (reader, len) = bytes_reader(bytes, opts.accept_torn_tail)?;
        Session::start(reader, len, opts)
    }

    fn start(
        reader: LogReader<BoxRead>,
        len: u64,
        opts: &ReplayOptions,
    ) -> Result<Session, ReplayError> {
        let header = reader.header().clone();
        let (genesis, state) = genesis_of(&header)?;
        let threads = opts.effective_threads();
        let source = Source::new(reader, threads)?;
        Ok(Session {
            prev_id: genesis.hash(),
            bytes: header.encoded_len(),
            header,
            genesis,
            state,
            source,
            opts: opts.clone(),
            threads,
            progress: progress_bar(opts.progress, len),
            tally: Tally::default(),
            txs: 0,
            blocks: 0,
            outcomes_verified: 0,
            started: Instant::now(),
            torn_tail: None,
            finished: false,
            reference_checked: false,
        })
    }

    pub fn header(&self) -> &LogHeader {
        &self.header
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The state after the last applied block (the genesis state before any;
    /// after a [`ReplayError::Divergence`], the state this replay computed for
    /// the diverging block).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Height of [`Session::state`]: after a divergence, the diverging block's.
    pub fn height(&self) -> u64 {
        self.state.height()
    }

    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Applies and checks the next block. `None` at the end of the log or
    /// after the requested stop height.
    pub fn step(&mut self) -> Result<Option<Step>, ReplayError> {
        if self.finished || self.opts.stop_at.is_some_and(|h| self.state.height() >= h) {
            return self.finish().map(|_| None);
        }
        let p = match self.source.next() {
            Next::Block(p) => p,
            Next::End { torn_tail } => {
                self.torn_tail = torn_tail;
                return self.finish().map(|_| None);
            }
            Next::Error(e) => {
                self.finished = true;
                self.progress.abandon();
                return Err(e);
            }
        };
        let step = self.apply(*p).inspect_err(|_| {
            self.finished = true;
            self.progress.abandon();
        })?;
        Ok(Some(step))
    }

    fn apply(&mut self, mut p: Prepared) -> Result<Step, ReplayError> {
        if p.block.header.parent != self.prev_id {
            return Err(LogError::ParentMismatch {
                offset: p.offset,
                height: p.height,
            }
            .into());
        }
        let outcome = apply_and_check(&mut self.state, &mut p)?;
        if !p.outcome.is_empty() {
            self.outcomes_verified += 1;
        }
        self.prev_id = outcome.block_id;
        self.blocks += 1;
        self.txs += p.block.txs.len() as u64;
        self.bytes = p.end;
        self.tally.add(&outcome);
        self.progress.set_position(p.end);
        if p.height.is_multiple_of(256) {
            self.progress.set_message(format!("height {}", p.height));
        }
        Ok(Step {
            height: p.height,
            offset: p.offset,
            block: p.block,
            outcome,
        })
    }

    /// End-of-replay checks (the reference root), run once.
    fn finish(&mut self) -> Result<(), ReplayError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        self.progress.finish_and_clear();
        if self.opts.reference_check {
            let reference = self.state.reference_state_root();
            if reference != self.state.state_root() {
                return Err(ReplayError::ReferenceRoot {
                    height: self.state.height(),
                    incremental: self.state.state_root(),
                    reference,
                });
            }
            self.reference_checked = true;
        }
        Ok(())
    }

    /// Replays every remaining block.
    pub fn run_to_end(&mut self) -> Result<ReplaySummary, ReplayError> {
        while self.step()?.is_some() {}
        Ok(self.summary())
    }

    pub fn summary(&self) -> ReplaySummary {
        let elapsed = self.started.elapsed();
        let stopped_at = self
            .opts
            .stop_at
            .filter(|h| self.state.height() >= *h)
            .map(|_| self.state.height());
        ReplaySummary {
            chain_id: self.header.chain_id.clone(),
            genesis_hash: self.genesis.hash(),
            blocks: self.blocks,
            last_height: self.state.height(),
            txs: self.txs,
            roots_verified: self.blocks,
            outcomes_verified: self.outcomes_verified,
            state_root: self.state.state_root(),
            reference_root_checked: self.reference_checked,
            tally: self.tally.clone(),
            torn_tail: self.torn_tail,
            stopped_at,
            bytes: self.bytes,
            threads: self.threads,
            elapsed_ms: elapsed.as_millis() as u64,
            txs_per_sec: per_sec(self.txs, elapsed),
        }
    }
}

fn show<T: std::fmt::Debug>(v: Option<&T>) -> String {
    v.map_or_else(|| "(none)".to_string(), |v| format!("{v:?}"))
}

/// The first receipt or event where `computed` differs from the outcome the
/// log stored (`stored` holds its canonical bytes).
pub fn first_difference(stored: &[u8], computed: &BlockOutcome) -> OutcomeDifference {
    if stored.is_empty() {
        return OutcomeDifference::NotRecorded;
    }
    let expected: BlockOutcome = match decode(stored) {
        Ok(o) => o,
        Err(e) => {
            return OutcomeDifference::Undecodable {
                error: e.to_string(),
            }
        }
    };
    let field = |name: &str, a: String, b: String| OutcomeDifference::Field {
        field: name.to_string(),
        expected: a,
        computed: b,
    };
    if expected.height != computed.height {
        return field(
            "height",
            expected.height.to_string(),
            computed.height.to_string(),
        );
    }
    if expected.block_id != computed.block_id {
        return field(
            "block id",
            hex32(&expected.block_id),
            hex32(&computed.block_id),
        );
    }
    for (i, (e, c)) in expected.receipts.iter().zip(&computed.receipts).enumerate() {
        let receipt = |f: String, a: String, b: String| OutcomeDifference::Receipt {
            index: i as u64,
            tx: c.tx,
            field: f,
            expected: a,
            computed: b,
        };
        if e.tx != c.tx {
            return receipt("tx".into(), hex32(&e.tx), hex32(&c.tx));
        }
        if e.status != c.status {
            return receipt(
                "status".into(),
                format!("{:?}", e.status),
                format!("{:?}", c.status),
            );
        }
        if e.fee != c.fee {
            return receipt("fee".into(), e.fee.to_string(), c.fee.to_string());
        }
        let n = e.events.len().max(c.events.len());
        if let Some(j) = (0..n).find(|&j| e.events.get(j) != c.events.get(j)) {
            return receipt(
                format!("event #{j}"),
                show(e.events.get(j)),
                show(c.events.get(j)),
            );
        }
    }
    if expected.receipts.len() != computed.receipts.len() {
        return OutcomeDifference::ReceiptCount {
            expected: expected.receipts.len() as u64,
            computed: computed.receipts.len() as u64,
        };
    }
    let n = expected.end_events.len().max(computed.end_events.len());
    if let Some(j) = (0..n).find(|&j| expected.end_events.get(j) != computed.end_events.get(j)) {
        return OutcomeDifference::EndEvent {
            index: j as u64,
            expected: show(expected.end_events.get(j)),
            computed: show(computed.end_events.get(j)),
        };
    }
    if expected.state_root != computed.state_root {
        return field(
            "state root",
            hex32(&expected.state_root),
            hex32(&computed.state_root),
        );
    }
    if expected.results_root != computed.results_root {
        return field(
            "results root",
            hex32(&expected.results_root),
            hex32(&computed.results_root),
        );
    }
    if expected.anchor != computed.anchor {
        return field(
            "anchor",
            show(expected.anchor.as_ref()),
            show(computed.anchor.as_ref()),
        );
    }
    OutcomeDifference::None
}

/// Replays whole logs.
#[derive(Clone, Debug, Default)]
pub struct Replayer {
    pub opts: ReplayOptions,
}

impl Replayer {
    pub fn new(opts: ReplayOptions) -> Self {
        Replayer { opts }
    }

    /// Replays the log at `path`, checking every parent link, root and stored outcome.
    pub fn replay(&self, path: &Path) -> Result<ReplaySummary, ReplayError> {
        Session::open(path, &self.opts)?.run_to_end()
    }

    pub fn replay_bytes(&self, bytes: Vec<u8>) -> Result<ReplaySummary, ReplayError> {
        Session::from_bytes(bytes, &self.opts)?.run_to_end()
    }

    /// Replays to the end (or `stop_at`) and returns the final state too.
    pub fn replay_state(&self, path: &Path) -> Result<(ReplaySummary, State), ReplayError> {
        let mut s = Session::open(path, &self.opts)?;
        let summary = s.run_to_end()?;
        Ok((summary, s.state().clone()))
    }

    /// The verify-only pass: reads, decodes and batch-verifies every
    /// signature exactly as a replay does, with the same threads, but applies
    /// nothing. The baseline of the replay benchmark.
    pub fn verify_only(&self, path: &Path) -> Result<VerifySummary, ReplayError> {
        let (reader, _) = open_reader(path, self.opts.accept_torn_tail)?;
        self.drain(reader)
    }

    /// The apply-only pass: every block is read, decoded and its signatures
    /// checked first (untimed, on all cores); then only the application, in
    /// place on one thread with every block checked as a replay checks it, is
    /// timed. With the verify-only pass it splits a replay's cost in two. It
    /// holds the whole decoded log in memory (a benchmark's log, not an archive).
    pub fn apply_only(&self, path: &Path) -> Result<ApplySummary, ReplayError> {
        let (reader, _) = open_reader(path, self.opts.accept_torn_tail)?;
        let (_, mut state) = genesis_of(reader.header())?;
        let frames = reader.collect::<Result<Vec<LogFrame>, LogError>>()?;
        let (prepared, error) = prepare_all(frames);
        if let Some(e) = error {
            return Err(e);
        }
        let (blocks, mut txs) = (prepared.len() as u64, 0u64);
        let started = Instant::now();
        for mut p in prepared {
            txs += p.block.txs.len() as u64;
            apply_and_check(&mut state, &mut p)?;
        }
        let elapsed = started.elapsed();
        Ok(ApplySummary {
            blocks,
            txs,
            elapsed_ms: elapsed.as_millis() as u64,
            txs_per_sec: per_sec(txs, elapsed),
            us_per_tx: if txs > 0 {
                elapsed.as_secs_f64() * 1e6 / txs as f64
            } else {
                0.0
            },
        })
    }

    pub fn verify_only_bytes(&self, bytes: Vec<u8>) -> Result<VerifySummary, ReplayError> {
        let (reader, _) = bytes_reader(bytes, self.opts.accept_torn_tail)?;
        self.drain(reader)
    }

    fn drain(&self, reader: LogReader<BoxRead>) -> Result<VerifySummary, ReplayError> {
        let started = Instant::now();
        genesis_of(reader.header())?;
        let threads = self.opts.effective_threads();
        let mut bytes = reader.header().encoded_len();
        let mut source = Source::new(reader, threads)?;
        let (mut blocks, mut txs, mut bad) = (0u64, 0u64, 0u64);
        loop {
            match source.next() {
                Next::Block(p) => {
                    blocks += 1;
                    txs += p.verdicts.len() as u64;
                    bad += p.verdicts.iter().filter(|v| v.is_err()).count() as u64;
                    bytes = p.end;
                }
                Next::End { .. } => break,
                Next::Error(e) => return Err(e),
            }
        }
        let elapsed = started.elapsed();
        Ok(VerifySummary {
            blocks,
            txs,
            bad_signatures: bad,
            bytes,
            threads,
            elapsed_ms: elapsed.as_millis() as u64,
            txs_per_sec: per_sec(txs, elapsed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::fixture::{relog, small};
    use aivm_core::encoding::encode;
    use aivm_core::tx::AuthError;
    use aivm_core::SignedTx;
    use aivm_core::{apply_block, apply_verified_block, CheckError};

    fn opts(threads: usize) -> ReplayOptions {
        ReplayOptions {
            threads,
            ..ReplayOptions::default()
        }
    }

    fn replay(bytes: &[u8], threads: usize) -> Result<ReplaySummary, ReplayError> {
        Replayer::new(opts(threads)).replay_bytes(bytes.to_vec())
    }

    #[test]
    fn replays_the_demo_and_confirms_every_root() {
        let s = small();
        let r = replay(&s.bytes, 2).expect("replays");
        assert_eq!(r.blocks, s.blocks.len() as u64);
        assert_eq!(r.roots_verified, r.blocks);
        assert_eq!(r.outcomes_verified, r.blocks);
        assert!(r.reference_root_checked);
        assert_eq!(
            r.state_root,
            s.outcomes.last().map(|o| o.state_root).unwrap_or_default()
        );
        let t = &r.tally;
        assert!(
            t.receipts.rejected >= 2,
            "a forged signature and a replayed nonce: {t:?}"
        );
        assert!(
            t.tasks_finalized > 0 && t.deadlines_missed > 0 && t.disputes_resolved > 0,
            "{t:?}"
        );
        assert!(t.anchors > 0 && t.slashed > 0 && t.minted > 0, "{t:?}");
    }

    #[test]
    fn one_thread_and_many_threads_give_identical_outcomes() {
        let s = small();
        let mut a = Session::from_bytes(s.bytes.clone(), &opts(1)).expect("opens");
        let mut b = Session::from_bytes(s.bytes.clone(), &opts(4)).expect("opens");
        loop {
            let (x, y) = (a.step().expect("a"), b.step().expect("b"));
            match (x, y) {
                (None, None) => break,
                (Some(x), Some(y)) => assert_eq!(x.outcome, y.outcome, "height {}", x.height),
                _ => panic!("one replay ended early"),
            }
        }
        assert_eq!(a.state().state_root(), b.state().state_root());
        assert_eq!(a.summary().tally, b.summary().tally);
    }

    #[test]
    fn batch_verdicts_match_single_verification_and_name_the_bad_signature() {
        let s = small();
        let mut txs: Vec<SignedTx> = s
            .blocks
            .iter()
            .flat_map(|b| b.txs.clone())
            .take(70)
            .collect();
        txs[5].signature.0[0] ^= 1;
        txs[66].signer.0[3] ^= 0x40;
        let batched = verify_sequential(&txs);
        let single: Vec<_> = txs.iter().map(|t| t.verify()).collect();
        assert_eq!(batched, single);
        let bad: Vec<usize> = batched
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_err())
            .map(|(i, _)| i)
            .collect();
        assert!(bad.contains(&5) && bad.contains(&66), "{bad:?}");
    }

    #[test]
    fn a_small_order_signer_is_refused_in_batches_as_one_by_one() {
        let s = small();
        let mut txs: Vec<SignedTx> = s
            .blocks
            .iter()
            .flat_map(|b| b.txs.clone())
            .take(10)
            .collect();
        // The identity point (y = 1) with R = identity, s = 0: ZIP-215's equation holds
        // for it on every message, so only the signer rule can refuse it.
        let mut forged = txs[0].clone();
        forged.signer = aivm_core::Address({
            let mut y = [0u8; 32];
            y[0] = 1;
            y
        });
        forged.signature = aivm_core::types::Sig64({
            let mut sig = [0u8; 64];
            sig[0] = 1;
            sig
        });
        txs[3] = forged;
        let batched = verify_sequential(&txs);
        let single: Vec<_> = txs.iter().map(|t| t.verify()).collect();
        assert_eq!(batched, single);
        assert_eq!(batched[3], Err(AuthError::SmallOrderKey));
    }

    #[test]
    fn a_bad_signature_gives_the_receipt_apply_block_gives() {
        let s = small();
        let (i, block) = s
            .blocks
            .iter()
            .enumerate()
            .find(|(_, b)| b.txs.iter().any(|t| t.verify().is_err()))
            .expect("the demo forges a signature");
        let state = {
            let mut sess = Session::from_bytes(
                s.bytes.clone(),
                &ReplayOptions {
                    stop_at: Some(i as u64),
                    ..opts(1)
                },
            )
            .expect("opens");
            sess.run_to_end().expect("replays");
            sess.state().clone()
        };
        let (_, expected) = apply_block(&state, block).expect("applies");
        let (_, got) =
            apply_verified_block(&state, block, verify_sequential(&block.txs)).expect("applies");
        assert_eq!(expected, got);
        assert!(got.receipts.iter().any(|r| matches!(
            r.status,
            TxStatus::Rejected(CheckError::Auth(AuthError::BadSignature))
        )));
    }

    #[test]
    fn a_changed_root_is_a_divergence_naming_height_and_roots() {
        let bytes = relog(|f| {
            if f.height == 9 {
                f.state_root[0] ^= 1;
            }
            true
        });
        let err = replay(&bytes, 1).expect_err("diverges");
        assert_eq!(err.exit_code(), 1);
        let ReplayError::Divergence(d) = &err else {
            panic!("{err}")
        };
        assert_eq!(d.height, 9);
        assert_ne!(d.expected_state_root, d.computed_state_root);
        assert_eq!(d.expected_results_root, d.computed_results_root);
        assert_eq!(d.first_difference, OutcomeDifference::None);
        let text = err.to_string();
        assert!(
            text.contains("height 9") && text.contains(&hex32(&d.expected_state_root)),
            "{text}"
        );
        assert!(text.contains(&hex32(&d.computed_state_root)), "{text}");
    }

    #[test]
    fn a_changed_receipt_names_the_first_differing_tx() {
        let s = small();
        let target = s
            .outcomes
            .iter()
            .find(|o| o.receipts.len() > 2)
            .expect("a busy block");
        let h = target.height;
        let bytes = relog(|f| {
            if f.height == h {
                let mut o: BlockOutcome = decode(&f.outcome).expect("decodes");
                o.receipts[1].fee += 1;
                f.outcome = encode(&o);
            }
            true
        });
        let err = replay(&bytes, 2).expect_err("diverges");
        let ReplayError::Divergence(d) = &err else {
            panic!("{err}")
        };
        assert_eq!(d.height, h);
        assert_eq!(d.expected_state_root, d.computed_state_root);
        match &d.first_difference {
            OutcomeDifference::Receipt { index, field, .. } => {
                assert_eq!((*index, field.as_str()), (1, "fee"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_broken_parent_link_is_refused() {
        // Drop block 7 and renumber: framing stays valid, the parent link does not.
        let bytes = relog(|f| f.height != 7);
        let err = replay(&bytes, 2).expect_err("refused");
        assert!(
            matches!(
                err,
                ReplayError::Log(LogError::ParentMismatch { height: 7, .. })
            ),
            "{err}"
        );
        assert_eq!(err.exit_code(), 3);
    }

    #[test]
    fn a_block_whose_txs_do_not_match_its_header_is_invalid() {
        let s = small();
        let h = s
            .blocks
            .iter()
            .find(|b| b.txs.len() > 1)
            .map(|b| b.header.height)
            .expect("busy");
        let bytes = relog(|f| {
            if f.height == h {
                let mut b: Block = decode(&f.block).expect("decodes");
                b.txs.pop();
                f.block = encode(&b);
            }
            true
        });
        let err = replay(&bytes, 1).expect_err("refused");
        assert!(
            matches!(
                err,
                ReplayError::InvalidBlock {
                    error: BlockError::TxRootMismatch,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.exit_code(), 1);
    }

    #[test]
    fn torn_tail_needs_the_flag_and_stop_at_stops() {
        let s = small();
        let cut = &s.bytes[..s.bytes.len() - 5];
        let err = replay(cut, 2).expect_err("torn");
        assert!(
            matches!(err, ReplayError::Log(LogError::TruncatedFrame { .. })),
            "{err}"
        );
        let ok = Replayer::new(ReplayOptions {
            accept_torn_tail: true,
            ..opts(2)
        })
        .replay_bytes(cut.to_vec())
        .expect("accepted");
        assert_eq!(ok.blocks, s.blocks.len() as u64 - 1);
        assert!(ok.torn_tail.is_some());
        let stopped = Replayer::new(ReplayOptions {
            stop_at: Some(10),
            ..opts(2)
        })
        .replay_bytes(s.bytes.clone())
        .expect("stops");
        assert_eq!((stopped.last_height, stopped.stopped_at), (10, Some(10)));
    }

    #[test]
    fn a_flipped_byte_is_a_checksum_error() {
        let s = small();
        let mut bytes = s.bytes.clone();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x10;
        let err = replay(&bytes, 2).expect_err("refused");
        assert_eq!(err.exit_code(), 3);
        assert!(
            matches!(
                err,
                ReplayError::Log(
                    LogError::ChecksumMismatch { .. } | LogError::FrameHeadCorrupt { .. }
                )
            ),
            "{err}"
        );
    }

    #[test]
    fn verify_only_counts_every_signature() {
        let s = small();
        let total: usize = s.blocks.iter().map(|b| b.txs.len()).sum();
        let bad: usize = s
            .blocks
            .iter()
            .flat_map(|b| &b.txs)
            .filter(|t| t.verify().is_err())
            .count();
        let v = Replayer::new(opts(3))
            .verify_only_bytes(s.bytes.clone())
            .expect("verifies");
        assert_eq!(
            (v.txs, v.bad_signatures, v.blocks),
            (total as u64, bad as u64, s.blocks.len() as u64)
        );
    }
}
