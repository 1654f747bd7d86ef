//! The `aivm` command line: replay, inspect, state, diff, prove,
//! verify-proof, scenario, demo and bench.
//!
//! Exit codes (also in `aivm --help`): 0 ok; 1 verification failed (a
//! divergence, an invalid block, logs that differ, an invalid proof, a failed
//! scenario expectation); 2 usage error (bad arguments, an unknown entity or
//! height, an invalid scenario); 3 I/O error or a corrupt log.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aivm_core::tx::address_from_name;
use aivm_core::types::{parse_hex, Address, Hash, ProviderId, TaskId};
use aivm_core::State;
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use crate::demo::{self, DemoOptions};
use crate::diff::{diff_logs, DiffReport};
use crate::inspect;
use crate::json::{hex32, to_json};
use crate::proof::{self, ResultProof};
use crate::record;
use crate::replayer::{
    ApplySummary, ReplayError, ReplayOptions, ReplaySummary, Replayer, Session, VerifySummary,
};
use crate::scenario::{self, ScenarioError};

/// Writes a line to stdout, ignoring a closed pipe (`aivm inspect LOG | head`).
macro_rules! say {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// Writes to stdout without a newline, ignoring a closed pipe.
macro_rules! sayp {
    ($($t:tt)*) => {{
        let _ = write!(std::io::stdout().lock(), $($t)*);
    }};
}

/// Success.
pub const EXIT_OK: i32 = 0;
/// The log's (or proof's, or scenario's) claims do not hold.
pub const EXIT_VERIFY: i32 = 1;
/// Bad arguments, an unknown entity or height, an invalid input file.
pub const EXIT_USAGE: i32 = 2;
/// The log or file cannot be read, or is corrupt.
pub const EXIT_IO: i32 = 3;

const EXIT_CODES: &str = "\
Exit codes:
  0  ok (diff: the logs are identical; scenario run: every expectation held)
  1  verification failed: a divergence from the recorded roots, an invalid block,
     logs that differ, an invalid proof, a failed scenario expectation
  2  usage error: bad arguments, an unknown task/provider/height, an invalid scenario
  3  I/O error, or a corrupt or unreadable log or file

Quick start: `aivm demo` generates a realistic chain, writes it as a log and replays it.";

#[derive(Parser, Debug)]
#[command(
    name = "aivm",
    version,
    about = "Audit an aivm chain: replay its block log through the core and check every root.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// No progress bar.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct ThreadArgs {
    /// Threads for decoding and signature checks (0 = all cores, 1 = no thread pool).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Replay a log: verify every signature, re-apply every block, check every root.
    Replay {
        log: PathBuf,
        /// Machine-readable output on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        threads: ThreadArgs,
        /// Accept a torn last frame (what a crashed writer leaves) and stop before it.
        #[arg(long)]
        accept_torn_tail: bool,
        /// Stop after this height.
        #[arg(long, value_name = "H")]
        stop_at: Option<u64>,
        /// Only decode and check signatures (the benchmark's baseline): no block is applied.
        #[arg(long)]
        verify_only: bool,
    },
    /// Show a log's header and blocks (or one block in detail) without replaying it.
    Inspect {
        log: PathBuf,
        /// Show this block in detail: header, transactions with their receipts, events, anchor.
        #[arg(long, value_name = "H")]
        height: Option<u64>,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        accept_torn_tail: bool,
    },
    /// Replay to a height and print the state (or one entity) there as JSON.
    State {
        log: PathBuf,
        /// The height to replay to (0 = the genesis).
        #[arg(long, value_name = "H")]
        at: u64,
        /// A task id (hex).
        #[arg(long, value_name = "ID", group = "entity")]
        task: Option<String>,
        /// A provider id (hex).
        #[arg(long, value_name = "ID", group = "entity")]
        provider: Option<String>,
        /// An address (hex) or an actor name (e.g. `client-3`).
        #[arg(long, value_name = "ADDR", group = "entity")]
        account: Option<String>,
        /// Compact JSON on one line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        threads: ThreadArgs,
    },
    /// Compare two logs: the first block where they part ways and the state entries that differ.
    Diff {
        a: PathBuf,
        b: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        threads: ThreadArgs,
    },
    /// Prove a finalised result: its path to its block's results root and on to the anchor.
    Prove {
        log: PathBuf,
        /// The task id (hex).
        #[arg(long, value_name = "ID")]
        task: String,
        /// Write the proof here instead of stdout.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        threads: ThreadArgs,
    },
    /// Check a proof written by `aivm prove`, on its own.
    VerifyProof {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Run or compile a JSON scenario (see fixtures/scenarios/).
    Scenario {
        #[command(subcommand)]
        command: ScenarioCommand,
    },
    /// Generate a realistic chain, write it as a log and replay it.
    Demo {
        /// Blocks to generate.
        #[arg(long, default_value_t = 400)]
        blocks: u64,
        /// Providers registering in block 1 (one more joins at block 20).
        #[arg(long, default_value_t = 32)]
        providers: u32,
        /// Clients submitting tasks and sending transfers.
        #[arg(long, default_value_t = 48)]
        clients: u32,
        /// Seed of every random choice: the same seed gives the same chain.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Most transfers between clients per block.
        #[arg(long, default_value_t = 11, value_name = "N")]
        transfers: u64,
        /// Verification mode of the demo chain (the default config's is optimistic).
        #[arg(long, value_enum, default_value_t = DemoMode::Optimistic)]
        mode: DemoMode,
        /// Shorten every window and phase (challenge window 6 blocks, an anchor
        /// every 5 blocks, ...) so that a few dozen blocks show everything.
        /// Not the default config.
        #[arg(long)]
        short_windows: bool,
        /// Where to write the log (default: a new file in the temp directory).
        #[arg(short = 'o', long, value_name = "LOG")]
        output: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        threads: ThreadArgs,
    },
    /// Replay throughput against a verify-only pass and an apply-only pass,
    /// over a generated log (or an existing one with --log).
    Bench {
        /// Transactions in the generated log (at least).
        #[arg(long, default_value_t = 100_000)]
        txs: u64,
        /// Seed of the generated log.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Timed runs of each pass; the fastest counts.
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Keep the generated log at this path.
        #[arg(long, value_name = "LOG")]
        keep: Option<PathBuf>,
        /// Time the passes over this existing log instead of generating one.
        #[arg(long, value_name = "LOG", conflicts_with_all = ["txs", "seed", "keep"])]
        log: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        threads: ThreadArgs,
    },
}

/// The verification modes `aivm demo` can run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoMode {
    /// Results finalise after an unchallenged window; disputes go to referees.
    Optimistic,
    /// M-of-N committees commit and reveal.
    Redundant,
    /// Attested providers get a shortened window.
    Tee,
}

impl DemoMode {
    fn verification_mode(self) -> aivm_core::VerificationMode {
        match self {
            DemoMode::Optimistic => aivm_core::VerificationMode::Optimistic,
            DemoMode::Redundant => aivm_core::VerificationMode::MultiPartyRedundant,
            DemoMode::Tee => aivm_core::VerificationMode::TeeAttested,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ScenarioCommand {
    /// Run a scenario: print receipts, events and roots, and check its expectations.
    Run {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Write a scenario's chain as a signed block log.
    Compile {
        file: PathBuf,
        #[arg(short = 'o', long, value_name = "LOG")]
        output: PathBuf,
    },
}

/// An error for a person: what happened, where, and what to do.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
    pub hint: Option<String>,
    /// Printed on stdout instead when the command was asked for JSON.
    pub json: Option<Value>,
}

impl CliError {
    fn new(code: i32, message: impl Into<String>, hint: Option<&str>) -> Self {
        CliError {
            code,
            message: message.into(),
            hint: hint.map(str::to_string),
            json: None,
        }
    }

    fn usage(message: impl Into<String>, hint: &str) -> Self {
        CliError::new(EXIT_USAGE, message, Some(hint))
    }

    fn io(path: &Path, e: impl std::fmt::Display) -> Self {
        CliError::new(
            EXIT_IO,
            format!("{}: {e}", path.display()),
            Some("check the path and its permissions"),
        )
    }

    fn replay(e: ReplayError, json: bool) -> Self {
        let mut err = CliError::new(e.exit_code(), e.to_string(), Some(e.hint()));
        if json {
            err.json = Some(json!({ "ok": false, "error": replay_error_json(&e) }));
        }
        err
    }
}

fn replay_error_json(e: &ReplayError) -> Value {
    let mut v = json!({
        "kind": e.kind(),
        "message": e.to_string(),
        "height": e.height(),
        "offset": e.offset(),
        "hint": e.hint(),
        "exit_code": e.exit_code(),
    });
    if let ReplayError::Divergence(d) = e {
        v["divergence"] = to_json(d.as_ref());
    }
    v
}

/// Runs the CLI on the process arguments and returns the exit code.
pub fn main_exit() -> i32 {
    run(std::env::args_os())
}

/// Runs the CLI on `args` (the first is the program name).
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(v) = &e.json {
                say!("{v}");
            }
            eprintln!("error: {}", e.message);
            if let Some(h) = &e.hint {
                eprintln!("hint: {h}");
            }
            e.code
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32, CliError> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Replay {
            log,
            json,
            threads,
            accept_torn_tail,
            stop_at,
            verify_only,
        } => {
            let opts = ReplayOptions {
                threads: threads.threads,
                accept_torn_tail,
                stop_at,
                progress: !quiet,
                reference_check: true,
            };
            if verify_only {
                return cmd_verify_only(&log, &opts, json);
            }
            cmd_replay(&log, &opts, json)
        }
        Command::Inspect {
            log,
            height,
            json,
            accept_torn_tail,
        } => cmd_inspect(&log, height, json, accept_torn_tail),
        Command::State {
            log,
            at,
            task,
            provider,
            account,
            json,
            threads,
        } => {
            let which = match (task, provider, account) {
                (Some(t), _, _) => Entity::Task(t),
                (_, Some(p), _) => Entity::Provider(p),
                (_, _, Some(a)) => Entity::Account(a),
                _ => Entity::Summary,
            };
            cmd_state(&log, at, which, json, &replay_opts(&threads, quiet))
        }
        Command::Diff {
            a,
            b,
            json,
            threads,
        } => cmd_diff(&a, &b, json, &replay_opts(&threads, quiet)),
        Command::Prove {
            log,
            task,
            output,
            threads,
        } => cmd_prove(
            &log,
            &task,
            output.as_deref(),
            &replay_opts(&threads, quiet),
        ),
        Command::VerifyProof { file, json } => cmd_verify_proof(&file, json),
        Command::Scenario { command } => match command {
            ScenarioCommand::Run { file, json } => cmd_scenario_run(&file, json),
            ScenarioCommand::Compile { file, output } => cmd_scenario_compile(&file, &output),
        },
        Command::Demo {
            blocks,
            providers,
            clients,
            seed,
            transfers,
            mode,
            short_windows,
            output,
            json,
            threads,
        } => {
            let opts = DemoOptions {
                blocks,
                providers,
                clients,
                seed,
                max_transfers: transfers,
                config: demo::with_mode(
                    if short_windows {
                        demo::quick_config()
                    } else {
                        Default::default()
                    },
                    mode.verification_mode(),
                ),
                ..DemoOptions::default()
            };
            cmd_demo(&opts, output, json, &replay_opts(&threads, quiet))
        }
        Command::Bench {
            txs,
            seed,
            runs,
            keep,
            log,
            json,
            threads,
        } => match log {
            Some(log) => cmd_bench_log(&log, runs.max(1), json, threads.threads),
            None => cmd_bench(txs, seed, runs.max(1), keep, json, threads.threads),
        },
    }
}

fn replay_opts(t: &ThreadArgs, quiet: bool) -> ReplayOptions {
    ReplayOptions {
        threads: t.threads,
        progress: !quiet,
        ..ReplayOptions::default()
    }
}

fn short(h: &Hash) -> String {
    hex32(h)[..16].to_string()
}

fn print_json(v: &Value, compact: bool) {
    let text = if compact {
        v.to_string()
    } else {
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

// ---- replay -----------------------------------------------------------------------------

fn cmd_replay(log: &Path, opts: &ReplayOptions, json: bool) -> Result<i32, CliError> {
    let summary = Replayer::new(opts.clone())
        .replay(log)
        .map_err(|e| CliError::replay(e, json))?;
    if json {
        print_json(
            &json!({ "ok": true, "log": log.display().to_string(), "summary": to_json(&summary) }),
            true,
        );
    } else {
        say!(
            "ok: {} replayed, every recorded root confirmed",
            log.display()
        );
        sayp!("{}", summary_text(&summary));
    }
    Ok(EXIT_OK)
}

fn cmd_verify_only(log: &Path, opts: &ReplayOptions, json: bool) -> Result<i32, CliError> {
    let v = Replayer::new(opts.clone())
        .verify_only(log)
        .map_err(|e| CliError::replay(e, json))?;
    if json {
        print_json(
            &json!({ "ok": true, "log": log.display().to_string(), "verify_only": to_json(&v) }),
            true,
        );
    } else {
        say!(
            "verified {} signatures in {} blocks ({} bad, which a replay turns into rejected receipts); nothing applied",
            v.txs,
            v.blocks,
            v.bad_signatures
        );
        say!(
            "  {}, {:.3} s, {:.0} txs/s",
            threads_label(v.threads),
            v.elapsed_ms as f64 / 1000.0,
            v.txs_per_sec
        );
    }
    Ok(EXIT_OK)
}

/// The human summary of a replay, one fact per line.
pub fn summary_text(s: &ReplaySummary) -> String {
    let t = &s.tally;
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str("  ");
        out.push_str(&l);
        out.push('\n');
    };
    line(format!(
        "chain {}, genesis {}",
        s.chain_id,
        hex32(&s.genesis_hash)
    ));
    line(format!(
        "{} blocks (last height {}), {} txs: {} applied, {} failed, {} rejected",
        s.blocks, s.last_height, s.txs, t.receipts.applied, t.receipts.failed, t.receipts.rejected
    ));
    line(format!(
        "{} state roots and {} results roots recomputed and matched; {} stored outcomes matched receipt by receipt",
        s.roots_verified, s.roots_verified, s.outcomes_verified
    ));
    line(format!(
        "final state root {}{}",
        hex32(&s.state_root),
        if s.reference_root_checked {
            " (confirmed by a full rebuild)"
        } else {
            ""
        }
    ));
    line(format!(
        "tasks: {} submitted, {} finalised, {} failed, {} deadlines missed, {} challenged, {} disputes resolved",
        t.tasks_submitted, t.tasks_finalized, t.tasks_failed, t.deadlines_missed, t.challenges, t.disputes_resolved
    ));
    line(format!(
        "value: {} minted in rewards, {} claimed, {} slashed in {} slashes, {} burned",
        t.minted, t.rewards_claimed, t.slashed, t.slash_events, t.burned
    ));
    line(format!(
        "{} anchors, {} epochs started",
        t.anchors, t.epochs_started
    ));
    if let Some(off) = s.torn_tail {
        line(format!(
            "a torn last frame at byte {off} was accepted and skipped"
        ));
    }
    if let Some(h) = s.stopped_at {
        line(format!("stopped at height {h} as asked"));
    }
    line(format!(
        "{}, {:.3} s, {:.0} txs/s",
        threads_label(s.threads),
        s.elapsed_ms as f64 / 1000.0,
        s.txs_per_sec
    ));
    out
}

// ---- inspect ----------------------------------------------------------------------------

fn cmd_inspect(log: &Path, height: Option<u64>, json: bool, torn: bool) -> Result<i32, CliError> {
    let fail = |e| CliError::replay(e, json);
    if let Some(h) = height {
        let Some(detail) = inspect::block_detail(log, h, torn).map_err(fail)? else {
            let last = inspect::overview(log, torn).map_err(fail)?.blocks;
            return Err(CliError::usage(
                format!(
                    "{} has no block at height {h}: it holds heights 1..={last}",
                    log.display()
                ),
                "choose a height in that range",
            ));
        };
        if json {
            print_json(&detail, true);
        } else {
            sayp!("{}", detail_text(&detail));
        }
        return Ok(EXIT_OK);
    }
    let o = inspect::overview(log, torn).map_err(fail)?;
    if json {
        print_json(&to_json(&o), true);
        return Ok(EXIT_OK);
    }
    let hd = &o.header;
    say!(
        "log {} ({} bytes, format version {})",
        log.display(),
        o.bytes,
        hd.format_version
    );
    say!(
        "chain {}: genesis {} (time {} ms, {} accounts, {} genesis providers, {} mode, challenge window {} blocks, anchor every {} blocks)",
        hd.chain_id,
        hex32(&hd.genesis_hash),
        hd.genesis_time_ms,
        hd.genesis_accounts,
        hd.genesis_providers,
        hd.verification_mode,
        hd.challenge_window_blocks,
        hd.merkle_anchor_freq
    );
    say!("{} blocks, {} txs", o.blocks, o.txs);
    if let Some(off) = o.torn_tail {
        say!("torn last frame at byte {off} (skipped)");
    }
    say!(
        "{:>8} {:>5} {:>17} {:>17} {:>20}  anchor",
        "height",
        "txs",
        "state root",
        "results root",
        "applied/failed/rej"
    );
    for r in &o.rows {
        let receipts = r.receipts.as_ref().map_or_else(
            || "-".to_string(),
            |c| format!("{}/{}/{}", c.applied, c.failed, c.rejected),
        );
        let anchor = r.anchor.as_ref().map_or_else(String::new, |a| {
            format!(
                "heights {}..={} {}",
                a["from_height"],
                a["height"],
                a["results_roots_root"].as_str().map_or("", |s| &s[..16])
            )
        });
        say!(
            "{:>8} {:>5} {:>17} {:>17} {:>20}  {}",
            r.height,
            r.txs,
            short(&r.state_root),
            short(&r.results_root),
            receipts,
            anchor
        );
    }
    Ok(EXIT_OK)
}

fn detail_text(d: &Value) -> String {
    let s = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let mut out = format!(
        "block {} (frame at byte {}, id {})\n",
        d["height"],
        d["offset"],
        s(&d["block_id"])
    );
    let h = &d["header"];
    out.push_str(&format!(
        "  parent {}\n  time {} ms, proposer {}\n  seed {}\n  tx root {}\n",
        s(&h["parent"]),
        h["time_ms"],
        s(&h["proposer"]),
        s(&h["seed"]),
        s(&h["tx_root"])
    ));
    out.push_str(&format!(
        "  recorded state root {}\n  recorded results root {}\n",
        s(&d["state_root"]),
        s(&d["results_root"])
    ));
    if !d["anchor"].is_null() {
        out.push_str(&format!("  anchor {}\n", d["anchor"]));
    }
    let txs = d["txs"].as_array().cloned().unwrap_or_default();
    out.push_str(&format!("  {} transactions:\n", txs.len()));
    for t in &txs {
        let receipt = &t["receipt"];
        out.push_str(&format!(
            "    #{} {} by {} nonce {} (tx {}){}\n      {}\n",
            t["index"],
            s(&t["kind"]),
            &s(&t["signer"])[..16],
            t["nonce"],
            &s(&t["hash"])[..16],
            if receipt.is_null() {
                String::new()
            } else {
                format!(": {}, fee {}", s(&receipt["status"]), s(&receipt["fee"]))
            },
            t["action"]
        ));
        for e in receipt["events"].as_array().into_iter().flatten() {
            out.push_str(&format!("      event {e}\n"));
        }
    }
    match d["end_events"].as_array() {
        Some(events) => {
            out.push_str(&format!("  {} block-end events:\n", events.len()));
            for e in events {
                out.push_str(&format!("    {e}\n"));
            }
        }
        None => out.push_str("  (the log stores no outcome for this block)\n"),
    }
    out
}

// ---- state ------------------------------------------------------------------------------

enum Entity {
    Summary,
    Task(String),
    Provider(String),
    Account(String),
}

fn parse_id(kind: &str, s: &str) -> Result<[u8; 32], CliError> {
    parse_hex::<32>(s).ok_or_else(|| {
        CliError::usage(
            format!("{s:?} is not a {kind} id"),
            "ids are 64 hex digits; `aivm inspect LOG --height H` lists the ids a block touches",
        )
    })
}

fn cmd_state(
    log: &Path,
    at: u64,
    which: Entity,
    compact: bool,
    opts: &ReplayOptions,
) -> Result<i32, CliError> {
    let opts = ReplayOptions {
        stop_at: Some(at),
        ..opts.clone()
    };
    // Check the arguments before a long replay.
    let id = match &which {
        Entity::Task(s) => Some(parse_id("task", s)?),
        Entity::Provider(s) => Some(parse_id("provider", s)?),
        _ => None,
    };
    let mut session = Session::open(log, &opts).map_err(|e| CliError::replay(e, false))?;
    session
        .run_to_end()
        .map_err(|e| CliError::replay(e, false))?;
    let state = session.state();
    if state.height() < at {
        return Err(CliError::usage(
            format!(
                "{} ends at height {}, before the requested height {at}",
                log.display(),
                state.height()
            ),
            "choose --at between 0 (the genesis) and the log's last height",
        ));
    }
    let v = match (which, id) {
        (Entity::Task(_), Some(id)) => task_json(state, &TaskId(id))?,
        (Entity::Provider(_), Some(id)) => provider_json(state, &ProviderId(id))?,
        (Entity::Account(a), _) => account_json(state, &a),
        _ => state_summary_json(state),
    };
    print_json(&v, compact);
    Ok(EXIT_OK)
}

fn not_found(kind: &str, id: &[u8; 32], state: &State) -> CliError {
    CliError::usage(
        format!("no {kind} {} at height {}", hex32(id), state.height()),
        "check the id, or pick a later height (`aivm inspect LOG` lists the blocks)",
    )
}

fn task_json(state: &State, id: &TaskId) -> Result<Value, CliError> {
    let t = state
        .task(id)
        .ok_or_else(|| not_found("task", &id.0, state))?;
    Ok(json!({ "height": state.height(), "task": to_json(t) }))
}

fn provider_json(state: &State, id: &ProviderId) -> Result<Value, CliError> {
    let p = state
        .provider(id)
        .ok_or_else(|| not_found("provider", &id.0, state))?;
    Ok(json!({
        "height": state.height(),
        "provider": to_json(p),
        "reward_stats": to_json(&state.reward_stats(id)),
    }))
}

fn account_json(state: &State, who: &str) -> Value {
    let (addr, name) = match parse_hex::<32>(who) {
        Some(b) => (Address(b), None),
        None => (address_from_name(who), Some(who)),
    };
    let exists = state.accounts().any(|(a, _)| *a == addr);
    json!({
        "height": state.height(),
        "address": hex32(&addr.0),
        "name": name,
        "exists": exists,
        "account": to_json(&state.account(&addr)),
    })
}

fn state_summary_json(state: &State) -> Value {
    let tasks: serde_json::Map<String, Value> = demo::task_counts(state)
        .into_iter()
        .map(|(k, n)| (k, Value::from(n)))
        .collect();
    json!({
        "height": state.height(),
        "state_root": hex32(&state.state_root()),
        "collection_roots": to_json(&state.collection_roots()),
        "stats": to_json(&state.stats()),
        "tasks_by_status": tasks,
        "globals": to_json(state.globals()),
    })
}

// ---- diff -------------------------------------------------------------------------------

fn cmd_diff(a: &Path, b: &Path, json: bool, opts: &ReplayOptions) -> Result<i32, CliError> {
    let report = diff_logs(a, b, opts).map_err(|e| {
        let code = e.replay_error().exit_code();
        let hint = e.replay_error().hint();
        let mut err = CliError::new(code, e.to_string(), Some(hint));
        if json {
            err.json = Some(json!({ "ok": false, "error": replay_error_json(e.replay_error()) }));
        }
        err
    })?;
    if json {
        print_json(&to_json(&report), true);
    } else {
        sayp!("{}", diff_text(&report));
    }
    Ok(if report.identical {
        EXIT_OK
    } else {
        EXIT_VERIFY
    })
}

fn diff_text(r: &DiffReport) -> String {
    let Some(d) = &r.divergence else {
        return format!(
            "identical: both logs have {} blocks with the same block ids and roots at every height\n",
            r.common_height
        );
    };
    let mut out = format!(
        "the logs diverge at height {}: {} (they agree up to height {})\n",
        d.height,
        d.reasons.join(", "),
        r.common_height
    );
    for (name, side) in [("A", &d.a), ("B", &d.b)] {
        if let Some(s) = side {
            out.push_str(&format!(
                "  {name}: block {} state root {} results root {}\n",
                hex32(&s.block_id),
                hex32(&s.state_root),
                hex32(&s.results_root)
            ));
        }
    }
    if r.entries_total == 0 {
        out.push_str("  no state entry differs at that height\n");
        return out;
    }
    out.push_str(&format!(
        "  {} state entries differ after that block (showing {}):\n",
        r.entries_total,
        r.entries.len()
    ));
    for e in &r.entries {
        let side = |v: &Option<Value>| {
            v.as_ref()
                .map_or_else(|| "(absent)".to_string(), Value::to_string)
        };
        out.push_str(&format!(
            "    {} {}\n      A: {}\n      B: {}\n",
            e.collection,
            e.key,
            side(&e.a),
            side(&e.b)
        ));
    }
    out
}

// ---- prove / verify-proof ---------------------------------------------------------------

fn cmd_prove(
    log: &Path,
    task: &str,
    output: Option<&Path>,
    opts: &ReplayOptions,
) -> Result<i32, CliError> {
    let id = TaskId(parse_id("task", task)?);
    let p = proof::prove(log, &id, opts).map_err(|e| {
        let hint = match &e {
            proof::ProveError::Replay(r) => r.hint(),
            proof::ProveError::NotFinalized { .. } => {
                "only finalised results have proofs: check the id with `aivm state LOG --at H --task ID`"
            }
            proof::ProveError::Inconsistent { .. } => "the log's outcomes are inconsistent: do not trust it",
        };
        CliError::new(e.exit_code(), e.to_string(), Some(hint))
    })?;
    let text = serde_json::to_string_pretty(&p)
        .map_err(|e| CliError::new(EXIT_IO, e.to_string(), None))?;
    match output {
        Some(path) => {
            std::fs::write(path, format!("{text}\n")).map_err(|e| CliError::io(path, e))?;
            eprintln!("wrote {}", path.display());
        }
        None => say!("{text}"),
    }
    if p.anchor.is_none() {
        eprintln!(
            "note: no anchor carries block {} yet (the log ends first); the proof stops at its results root",
            p.block.height
        );
    }
    Ok(EXIT_OK)
}

fn cmd_verify_proof(file: &Path, json: bool) -> Result<i32, CliError> {
    let text = std::fs::read_to_string(file).map_err(|e| CliError::io(file, e))?;
    let p: ResultProof = serde_json::from_str(&text).map_err(|e| {
        CliError::new(
            EXIT_IO,
            format!("{} is not a proof file: {e}", file.display()),
            Some("pass a file written by `aivm prove`"),
        )
    })?;
    match proof::verify(&p) {
        Ok(v) => {
            if json {
                print_json(
                    &json!({ "valid": true, "anchored": v.anchored, "statement": v.statement }),
                    true,
                );
            } else {
                say!("valid: {}", v.statement);
            }
            Ok(EXIT_OK)
        }
        Err(e) => {
            let mut err = CliError::new(
                EXIT_VERIFY,
                format!("invalid proof {}: {e}", file.display()),
                Some("the proof was altered or built for another result; ask its producer for a fresh one"),
            );
            if json {
                err.json = Some(json!({ "valid": false, "error": e.to_string() }));
            }
            Err(err)
        }
    }
}

// ---- scenario ---------------------------------------------------------------------------

fn scenario_error(file: &Path, e: ScenarioError) -> CliError {
    let code = match e {
        ScenarioError::Io(_) | ScenarioError::Log(_) => EXIT_IO,
        _ => EXIT_USAGE,
    };
    CliError::new(
        code,
        format!("{}: {e}", file.display()),
        Some("fix the scenario at the place named; fixtures/scenarios/README.md documents the format"),
    )
}

fn load_scenario(file: &Path) -> Result<scenario::Scenario, CliError> {
    let text = std::fs::read_to_string(file).map_err(|e| CliError::io(file, e))?;
    scenario::parse(&text).map_err(|e| scenario_error(file, e))
}

fn cmd_scenario_run(file: &Path, json: bool) -> Result<i32, CliError> {
    let s = load_scenario(file)?;
    let report = scenario::run(&s).map_err(|e| scenario_error(file, e))?;
    if json {
        let v = serde_json::to_value(&report)
            .map_err(|e| CliError::new(EXIT_IO, e.to_string(), None))?;
        print_json(&v, true);
    } else {
        sayp!("{}", report.render_text());
    }
    Ok(if report.passed() {
        EXIT_OK
    } else {
        EXIT_VERIFY
    })
}

fn cmd_scenario_compile(file: &Path, output: &Path) -> Result<i32, CliError> {
    refuse_existing(output, "-o")?;
    let s = load_scenario(file)?;
    let (genesis, blocks, outcomes) = scenario::compile(&s).map_err(|e| scenario_error(file, e))?;
    scenario::write_log(output, &genesis, &blocks, &outcomes)
        .map_err(|e| scenario_error(file, e))?;
    let txs: usize = blocks.iter().map(|b| b.txs.len()).sum();
    say!(
        "wrote {}: chain {}, {} blocks, {} txs; check it with `aivm replay {}`",
        output.display(),
        genesis.chain_id,
        blocks.len(),
        txs,
        output.display()
    );
    Ok(EXIT_OK)
}

// ---- demo -------------------------------------------------------------------------------

/// A fresh path in the temp directory.
pub fn temp_log_path(prefix: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!("{prefix}-{}-{nanos}.aivmlog", std::process::id()))
}

/// `flag` names the option that chose `path`, for the hint.
fn record_error(path: &Path, flag: &str, e: record::RecordError) -> CliError {
    match e {
        record::RecordError::Exists { .. } => {
            CliError::usage(e.to_string(), &format!("pass another {flag} path"))
        }
        other => CliError::io(path, other),
    }
}

/// Refuses an output path that exists before any work is spent generating
/// what would go there (the writer checks again when it creates the file).
fn refuse_existing(path: &Path, flag: &str) -> Result<(), CliError> {
    if path.exists() {
        let exists = record::RecordError::Exists {
            path: path.display().to_string(),
        };
        return Err(record_error(path, flag, exists));
    }
    Ok(())
}

fn cmd_demo(
    opts: &DemoOptions,
    output: Option<PathBuf>,
    json: bool,
    ropts: &ReplayOptions,
) -> Result<i32, CliError> {
    if let Some(out) = &output {
        refuse_existing(out, "-o")?;
    }
    let started = Instant::now();
    let chain = demo::generate(opts).map_err(|e| match e {
        demo::DemoError::Options(m) => CliError::usage(m, "see `aivm demo --help`"),
        other => CliError::new(
            EXIT_VERIFY,
            other.to_string(),
            Some("this is a bug in the demo or the core; please report it"),
        ),
    })?;
    let generated_in = started.elapsed();
    let path = output.unwrap_or_else(|| temp_log_path("aivm-demo"));
    let bytes = record::write_chain_file(&path, &chain.genesis, &chain.blocks, &chain.outcomes)
        .map_err(|e| record_error(&path, "-o", e))?;
    let mut session = Session::open(&path, ropts).map_err(|e| CliError::replay(e, json))?;
    let summary = session
        .run_to_end()
        .map_err(|e| CliError::replay(e, json))?;
    let state = session.state();
    let example = example_task(&chain);
    if json {
        let tasks: serde_json::Map<String, Value> = demo::task_counts(state)
            .into_iter()
            .map(|(k, n)| (k, Value::from(n)))
            .collect();
        print_json(
            &json!({
                "ok": true,
                "log": path.display().to_string(),
                "log_bytes": bytes,
                "generated_ms": generated_in.as_millis() as u64,
                "replay": to_json(&summary),
                "tasks_by_status": tasks,
                "stats": to_json(&state.stats()),
                "example_task": example.map(|t| hex32(&t.0)),
            }),
            true,
        );
        return Ok(EXIT_OK);
    }
    say!(
        "aivm demo: {} blocks, {} txs from {} providers and {} clients (seed {}), generated in {:.2} s",
        summary.blocks,
        summary.txs,
        opts.providers + 1,
        opts.clients,
        opts.seed,
        generated_in.as_secs_f64()
    );
    say!("log: {} ({bytes} bytes)", path.display());
    say!("replay: every recorded root confirmed");
    sayp!("{}", summary_text(&summary));
    let counts: Vec<String> = demo::task_counts(state)
        .into_iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    say!("  tasks now: {}", counts.join(", "));
    let stats = state.stats();
    say!(
        "  supply {} (minted {}, burned {}), treasury {}, {} active providers of {}",
        stats.total_supply,
        stats.total_minted,
        stats.total_burned,
        stats.treasury,
        stats.providers_active,
        stats.providers_total
    );
    let p = path.display();
    say!("next:");
    say!("  aivm inspect {p}                         # blocks, roots, anchors");
    let h = summary.last_height;
    say!(
        "  aivm inspect {p} --height {}             # one block in detail",
        h.min(25)
    );
    say!("  aivm state {p} --at {} --account client-3", h / 2);
    if let Some(t) = example {
        say!(
            "  aivm prove {p} --task {} -o proof.json && aivm verify-proof proof.json",
            hex32(&t.0)
        );
    }
    Ok(EXIT_OK)
}

/// A task finalised in a block that an anchor already covers, for the quick start.
fn example_task(chain: &aivm_core::chain::Chain) -> Option<TaskId> {
    let last_anchor = chain
        .outcomes
        .iter()
        .rev()
        .find_map(|o| o.anchor.as_ref().map(|a| a.height))?;
    chain
        .outcomes
        .iter()
        .filter(|o| o.height <= last_anchor)
        .flat_map(|o| o.end_events.iter())
        .find_map(|e| match e {
            aivm_core::Event::TaskFinalized { task, .. } => Some(*task),
            _ => None,
        })
}

// ---- bench ------------------------------------------------------------------------------

/// The figures of one benchmark run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchReport {
    pub txs: u64,
    pub blocks: u64,
    pub log_bytes: u64,
    pub threads: usize,
    /// Time to generate the log; absent for `--log`.
    pub generate_ms: Option<u64>,
    pub verify_only: VerifySummary,
    pub replay: ReplaySummary,
    /// Application alone (one thread, signatures and decoding untimed).
    pub apply_only: ApplySummary,
    /// Replay throughput over verify-only throughput (target >= 0.85).
    pub ratio: f64,
}

/// Generates the benchmark log into `path` and times both passes (best of `runs`).
pub fn run_bench(
    txs: u64,
    seed: u64,
    runs: u32,
    threads: usize,
    path: &Path,
) -> Result<BenchReport, CliError> {
    let started = Instant::now();
    let chain = demo::bench_chain(txs, seed)
        .map_err(|e| CliError::new(EXIT_VERIFY, e.to_string(), None))?;
    let generate_ms = started.elapsed().as_millis() as u64;
    let log_bytes = record::write_chain_file(path, &chain.genesis, &chain.blocks, &chain.outcomes)
        .map_err(|e| record_error(path, "--keep", e))?;
    drop(chain);
    time_passes(path, log_bytes, Some(generate_ms), runs, threads)
}

/// Times the verify-only, replay and apply-only passes over the log at
/// `path` (best of `runs` each).
fn time_passes(
    path: &Path,
    log_bytes: u64,
    generate_ms: Option<u64>,
    runs: u32,
    threads: usize,
) -> Result<BenchReport, CliError> {
    let opts = ReplayOptions {
        threads,
        reference_check: false,
        ..ReplayOptions::default()
    };
    let replayer = Replayer::new(opts);
    let (mut best_verify, mut best_replay, mut best_apply) = (None, None, None);
    for _ in 0..runs {
        keep_fastest(
            &mut best_verify,
            replayer.verify_only(path),
            |v: &VerifySummary| v.txs_per_sec,
        )?;
        keep_fastest(
            &mut best_replay,
            replayer.replay(path),
            |r: &ReplaySummary| r.txs_per_sec,
        )?;
        keep_fastest(
            &mut best_apply,
            replayer.apply_only(path),
            |a: &ApplySummary| a.txs_per_sec,
        )?;
    }
    let (Some(verify_only), Some(replay), Some(apply_only)) =
        (best_verify, best_replay, best_apply)
    else {
        return Err(CliError::new(EXIT_USAGE, "no run", None));
    };
    let ratio = if verify_only.txs_per_sec > 0.0 {
        replay.txs_per_sec / verify_only.txs_per_sec
    } else {
        0.0
    };
    Ok(BenchReport {
        txs: replay.txs,
        blocks: replay.blocks,
        log_bytes,
        threads: replay.threads,
        generate_ms,
        verify_only,
        replay,
        apply_only,
        ratio,
    })
}

fn cmd_bench(
    txs: u64,
    seed: u64,
    runs: u32,
    keep: Option<PathBuf>,
    json: bool,
    threads: usize,
) -> Result<i32, CliError> {
    if let Some(kept) = &keep {
        refuse_existing(kept, "--keep")?;
    }
    let path = keep.clone().unwrap_or_else(|| temp_log_path("aivm-bench"));
    let result = run_bench(txs, seed, runs, threads, &path);
    if keep.is_none() {
        let _ = std::fs::remove_file(&path);
    }
    let r = result?;
    if json {
        print_json(&to_json(&r), true);
        return Ok(EXIT_OK);
    }
    say!(
        "log: {} txs in {} blocks ({:.1} MB), generated in {:.1} s",
        r.txs,
        r.blocks,
        r.log_bytes as f64 / 1e6,
        r.generate_ms.unwrap_or(0) as f64 / 1000.0
    );
    print_bench(&r);
    Ok(EXIT_OK)
}

/// Keeps in `best` whichever of it and the new run is fastest.
fn keep_fastest<T>(
    best: &mut Option<T>,
    run: Result<T, ReplayError>,
    speed: impl Fn(&T) -> f64,
) -> Result<(), CliError> {
    let run = run.map_err(|e| CliError::replay(e, false))?;
    if best.as_ref().is_none_or(|b| speed(&run) > speed(b)) {
        *best = Some(run);
    }
    Ok(())
}

/// `aivm bench --log LOG`: the same passes over an existing log.
fn cmd_bench_log(log: &Path, runs: u32, json: bool, threads: usize) -> Result<i32, CliError> {
    let log_bytes = std::fs::metadata(log)
        .map_err(|e| CliError::new(EXIT_IO, format!("cannot read {}: {e}", log.display()), None))?
        .len();
    let r = time_passes(log, log_bytes, None, runs, threads)?;
    if json {
        print_json(&to_json(&r), true);
        return Ok(EXIT_OK);
    }
    say!(
        "log: {} ({} txs in {} blocks, {:.1} MB)",
        log.display(),
        r.txs,
        r.blocks,
        r.log_bytes as f64 / 1e6
    );
    print_bench(&r);
    Ok(EXIT_OK)
}

/// "1 thread", "2 threads".
fn threads_label(n: usize) -> String {
    match n {
        1 => "1 thread".to_string(),
        n => format!("{n} threads"),
    }
}

fn print_bench(r: &BenchReport) {
    say!(
        "verify-only (decode + batched signature checks, {}): {:.3} s, {:.0} txs/s",
        threads_label(r.verify_only.threads),
        r.verify_only.elapsed_ms as f64 / 1000.0,
        r.verify_only.txs_per_sec
    );
    say!(
        "replay (the same + apply + every root and outcome checked, {}): {:.3} s, {:.0} txs/s",
        threads_label(r.replay.threads),
        r.replay.elapsed_ms as f64 / 1000.0,
        r.replay.txs_per_sec
    );
    say!(
        "apply only (in place, 1 thread, signatures and decoding untimed): {:.3} s, {:.1} us/tx",
        r.apply_only.elapsed_ms as f64 / 1000.0,
        r.apply_only.us_per_tx
    );
    say!(
        "ratio replay / verify-only: {:.3} (target >= 0.85)",
        r.ratio
    );
}
