//! The `aivm` binary run as a process: outputs and exit codes.
//!
//! Logs are generated once per run with the library (the small demo with
//! short windows) into the target's scratch directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use aivm_core::encoding::encode;
use aivm_core::events::Event;
use aivm_replay::demo::{generate, DemoOptions};
use aivm_replay::log::{FrameData, LogWriter, SyncPolicy};
use aivm_replay::record::{chain_to_bytes, log_header};
use serde_json::Value;

struct Fixture {
    dir: PathBuf,
    log: PathBuf,
    fork: PathBuf,
    bytes: Vec<u8>,
    /// A task finalised in a block an anchor covers.
    anchored_task: String,
    /// Frames' (offset, length), in height order.
    frames: Vec<(usize, usize)>,
    blocks: u64,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("aivm-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let chain = generate(&DemoOptions::small()).expect("small demo");
        let bytes = chain_to_bytes(&chain.genesis, &chain.blocks, &chain.outcomes).expect("log");
        let log = dir.join("small.aivmlog");
        std::fs::write(&log, &bytes).expect("write");
        let fork_chain = generate(&DemoOptions {
            seed: 5,
            blocks: 10,
            ..DemoOptions::small()
        })
        .expect("fork");
        let fork = dir.join("fork.aivmlog");
        let fork_bytes = chain_to_bytes(
            &fork_chain.genesis,
            &fork_chain.blocks,
            &fork_chain.outcomes,
        )
        .expect("log");
        std::fs::write(&fork, fork_bytes).expect("write");
        let last_anchor = chain
            .outcomes
            .iter()
            .filter_map(|o| o.anchor.as_ref())
            .map(|a| a.height)
            .max()
            .unwrap_or(0);
        let anchored_task = chain
            .outcomes
            .iter()
            .filter(|o| o.height <= last_anchor)
            .flat_map(|o| &o.end_events)
            .find_map(|e| match e {
                Event::TaskFinalized { task, .. } => Some(task.to_string()),
                _ => None,
            })
            .expect("a finalised, anchored task");
        let header_len = log_header(&chain.genesis).encoded_len() as usize;
        let mut frames = Vec::new();
        let mut at = header_len;
        for (b, o) in chain.blocks.iter().zip(&chain.outcomes) {
            let len = 124 + encode(b).len() + encode(o).len();
            frames.push((at, len));
            at += len;
        }
        assert_eq!(at, bytes.len());
        Fixture {
            dir,
            log,
            fork,
            bytes,
            anchored_task,
            frames,
            blocks: chain.blocks.len() as u64,
        }
    })
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

fn aivm(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_aivm"))
        .args(args)
        .output()
        .expect("runs aivm");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Writes `bytes` to a scratch file named `name`.
fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let path = fixture().dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

#[test]
fn demo_runs_and_points_to_the_next_steps() {
    let out = fixture().dir.join("demo.aivmlog");
    let _ = std::fs::remove_file(&out);
    let r = aivm(&[
        "demo",
        "--short-windows",
        "--blocks",
        "12",
        "--providers",
        "4",
        "--clients",
        "2",
        "--transfers",
        "1",
        "-o",
        p(&out),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("every recorded root confirmed"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("next:") && r.stdout.contains("aivm inspect"),
        "{}",
        r.stdout
    );
    // It refuses to overwrite its output.
    let again = aivm(&["demo", "--blocks", "2", "-o", p(&out)]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn replay_confirms_every_root_with_any_thread_count() {
    let f = fixture();
    let text = aivm(&["replay", p(&f.log)]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("every recorded root confirmed"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("confirmed by a full rebuild"),
        "{}",
        text.stdout
    );
    let one = aivm(&["replay", p(&f.log), "--json", "--threads", "1"]).json();
    let many = aivm(&["replay", p(&f.log), "--json", "--threads", "3"]).json();
    assert_eq!(one["ok"], Value::Bool(true));
    assert_eq!(one["summary"]["blocks"], Value::from(f.blocks));
    assert_eq!(one["summary"]["state_root"], many["summary"]["state_root"]);
    assert_eq!(one["summary"]["tally"], many["summary"]["tally"]);
    assert_eq!(
        (
            one["summary"]["threads"].as_u64(),
            many["summary"]["threads"].as_u64()
        ),
        (Some(1), Some(3))
    );
}

#[test]
fn damaged_logs_are_refused_with_exit_code_3() {
    let f = fixture();
    let (mid, len) = f.frames[f.frames.len() / 2];

    let mut flipped = f.bytes.clone();
    flipped[mid + len / 2] ^= 0x04;
    let r = aivm(&["replay", p(&scratch("flipped.aivmlog", &flipped)), "--json"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.json()["error"]["kind"], "checksum_mismatch");
    assert!(
        r.stderr.contains("checksum mismatch") && r.stderr.contains("hint:"),
        "{}",
        r.stderr
    );

    let truncated = scratch("truncated.aivmlog", &f.bytes[..f.bytes.len() - 9]);
    let r = aivm(&["replay", p(&truncated)]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("truncated frame") && r.stderr.contains("--accept-torn-tail"),
        "{}",
        r.stderr
    );
    let r = aivm(&["replay", p(&truncated), "--accept-torn-tail"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("torn last frame"), "{}", r.stdout);

    let mut dropped = f.bytes[..mid].to_vec();
    dropped.extend_from_slice(&f.bytes[mid + len..]);
    let r = aivm(&["replay", p(&scratch("dropped.aivmlog", &dropped))]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("out of order"), "{}", r.stderr);

    let r = aivm(&[
        "replay",
        p(&scratch("not-a-log.aivmlog", b"hello world, not a log")),
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("not an aivm log"), "{}", r.stderr);

    let r = aivm(&["replay", p(&f.dir.join("missing.aivmlog"))]);
    assert_eq!(r.code, 3, "{}", r.stderr);
}

/// The small log re-written with valid checksums, its state root at `height` changed.
fn with_wrong_root(height: u64) -> Vec<u8> {
    let chain = generate(&DemoOptions {
        blocks: height + 2,
        ..DemoOptions::small()
    })
    .expect("builds");
    let mut w =
        LogWriter::new(Vec::new(), &log_header(&chain.genesis), SyncPolicy::Never).expect("header");
    for (b, o) in chain.blocks.iter().zip(&chain.outcomes) {
        let mut root = o.state_root;
        if b.header.height == height {
            root[0] ^= 0xff;
        }
        w.append(&FrameData {
            height: b.header.height,
            block: &encode(b),
            state_root: root,
            results_root: o.results_root,
            outcome: &encode(o),
        })
        .expect("append");
    }
    w.finish().expect("finish")
}

#[test]
fn a_wrong_recorded_root_is_a_divergence_with_exit_code_1() {
    let path = scratch("wrong-root.aivmlog", &with_wrong_root(6));
    let r = aivm(&["replay", p(&path)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("divergence at height 6"), "{}", r.stderr);
    assert!(
        r.stderr.contains("state root:") && r.stderr.contains("DIFFER"),
        "{}",
        r.stderr
    );
    let j = aivm(&["replay", p(&path), "--json", "--threads", "1"]).json();
    let d = &j["error"]["divergence"];
    assert_eq!(j["error"]["kind"], "divergence");
    assert_eq!(d["height"], 6);
    assert_ne!(d["expected_state_root"], d["computed_state_root"]);
    assert!(
        r.stderr
            .contains(d["expected_state_root"].as_str().unwrap_or("?")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(d["computed_state_root"].as_str().unwrap_or("?")),
        "{}",
        r.stderr
    );
}

#[test]
fn state_prints_entities_as_json() {
    let f = fixture();
    let log = p(&f.log);
    let r = aivm(&[
        "state",
        log,
        "--at",
        "20",
        "--account",
        "client-1",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(
        (j["height"].as_u64(), j["exists"].as_bool()),
        (Some(20), Some(true))
    );
    assert!(j["account"]["balance"].is_string());

    let r = aivm(&[
        "state",
        log,
        "--at",
        &f.blocks.to_string(),
        "--task",
        &f.anchored_task,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["task"]["status"], "Completed");

    let summary = aivm(&["state", log, "--at", "0"]).json();
    assert_eq!(summary["height"], 0);
    assert!(summary["state_root"]
        .as_str()
        .is_some_and(|s| s.len() == 64));

    let r = aivm(&["state", log, "--at", "5", "--task", &"ab".repeat(32)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no task"), "{}", r.stderr);
    let r = aivm(&["state", log, "--at", "999"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("ends at height"), "{}", r.stderr);
    let r = aivm(&["state", log, "--at", "3", "--provider", "xyz"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn inspect_shows_the_header_the_blocks_and_one_block() {
    let f = fixture();
    let log = p(&f.log);
    let r = aivm(&["inspect", log]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("chain aivm-demo") && r.stdout.contains(&format!("{} blocks", f.blocks)),
        "{}",
        r.stdout
    );
    let j = aivm(&["inspect", log, "--json"]).json();
    assert_eq!(j["rows"].as_array().map(Vec::len), Some(f.blocks as usize));
    assert!(j["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| !r["anchor"].is_null()));
    let r = aivm(&["inspect", log, "--height", "13"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("rejected: signature does not verify"),
        "{}",
        r.stdout
    );
    let b = aivm(&["inspect", log, "--height", "13", "--json"]).json();
    assert_eq!(b["height"], 13);
    let r = aivm(&["inspect", log, "--height", "999"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn diff_finds_the_first_divergent_block() {
    let f = fixture();
    let same = aivm(&["diff", p(&f.log), p(&f.log)]);
    assert_eq!(same.code, 0, "{}", same.stderr);
    assert!(same.stdout.starts_with("identical"), "{}", same.stdout);
    let r = aivm(&["diff", p(&f.log), p(&f.fork)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.contains("diverge at height 1") && r.stdout.contains("state entries differ"),
        "{}",
        r.stdout
    );
    let j = aivm(&["diff", p(&f.log), p(&f.fork), "--json"]).json();
    assert_eq!(j["divergence"]["height"], 1);
    assert!(j["entries_total"].as_u64().is_some_and(|n| n > 0));
}

#[test]
fn prove_and_verify_proof_round_trip() {
    let f = fixture();
    let proof = f.dir.join("proof.json");
    let r = aivm(&[
        "prove",
        p(&f.log),
        "--task",
        &f.anchored_task,
        "-o",
        p(&proof),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ok = aivm(&["verify-proof", p(&proof)]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.starts_with("valid:") && ok.stdout.contains("anchor"),
        "{}",
        ok.stdout
    );

    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(&proof).expect("read")).expect("json");
    let out = v["output_hash"].as_str().expect("hex").to_string();
    let first = if out.starts_with('0') { '1' } else { '0' };
    let flipped = format!("{first}{}", out.get(1..).unwrap_or_default());
    v["output_hash"] = Value::String(flipped);
    let bad = scratch("bad-proof.json", v.to_string().as_bytes());
    let r = aivm(&["verify-proof", p(&bad)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("invalid proof"), "{}", r.stderr);
    let r = aivm(&["verify-proof", p(&scratch("garbage.json", b"{not json"))]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let r = aivm(&["prove", p(&f.log), "--task", &"cd".repeat(32)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not finalised"), "{}", r.stderr);
}

#[test]
fn usage_errors_exit_with_code_2() {
    for args in [
        &[][..],
        &["frobnicate"][..],
        &["state", "x.aivmlog"][..],
        &[
            "state",
            "x.aivmlog",
            "--at",
            "1",
            "--task",
            "aa",
            "--account",
            "bob",
        ][..],
        &["replay", "x.aivmlog", "--threads", "many"][..],
    ] {
        let r = aivm(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
    let help = aivm(&["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Exit codes"), "{}", help.stdout);
}

const SCENARIO: &str = r#"{
  "name": "cli transfer",
  "genesis": { "balances": { "alice": "5_000_000_000", "bob": "0" } },
  "blocks": [
    { "txs": [ { "from": "alice", "action": "transfer", "to": "bob", "amount": 1000, "expect": "applied" } ],
      "expect": { "balances": { "bob": BOB } } }
  ]
}"#;

#[test]
fn scenario_run_and_compile() {
    let good = scratch("good.json", SCENARIO.replace("BOB", "1000").as_bytes());
    let r = aivm(&["scenario", "run", p(&good)]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let failing = scratch("failing.json", SCENARIO.replace("BOB", "999").as_bytes());
    let r = aivm(&["scenario", "run", p(&failing)]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let r = aivm(&[
        "scenario",
        "run",
        p(&scratch("broken.json", b"{\"blocks\": 3}")),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let log = fixture().dir.join("scenario.aivmlog");
    let r = aivm(&["scenario", "compile", p(&good), "-o", p(&log)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = aivm(&["replay", p(&log)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// An existing output path is refused before any generation starts (a
/// million-tx bench would otherwise run for minutes first), with a hint
/// naming the option that chose it; the file is left as it was.
#[test]
fn outputs_that_exist_are_refused_before_generating() {
    let taken = scratch("taken.aivmlog", b"keep me");
    let scenario = scratch("taken-src.json", SCENARIO.replace("BOB", "1000").as_bytes());
    for (args, flag) in [
        (
            vec!["bench", "--txs", "1000000", "--keep", p(&taken)],
            "--keep",
        ),
        (vec!["demo", "--blocks", "2000", "-o", p(&taken)], "-o"),
        (
            vec!["scenario", "compile", p(&scenario), "-o", p(&taken)],
            "-o",
        ),
    ] {
        let r = aivm(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("already exists"), "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!("pass another {flag} path")),
            "{}",
            r.stderr
        );
        assert_eq!(std::fs::read(&taken).unwrap(), b"keep me");
    }
}

#[test]
fn bench_times_three_passes_over_an_existing_log() {
    let f = fixture();
    let r = aivm(&["bench", "--log", p(&f.log), "--runs", "1", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["blocks"], f.blocks);
    assert_eq!(j["replay"]["blocks"], f.blocks);
    assert_eq!(j["apply_only"]["blocks"], f.blocks);
    assert_eq!(j["verify_only"]["txs"], j["replay"]["txs"]);
    assert_eq!(j["apply_only"]["txs"], j["replay"]["txs"]);
    assert!(j["ratio"].as_f64().is_some_and(|x| x > 0.0), "{j}");
    let text = aivm(&["bench", "--log", p(&f.log), "--runs", "1"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("apply only"), "{}", text.stdout);
    assert!(
        text.stdout.contains("ratio replay / verify-only"),
        "{}",
        text.stdout
    );
    // --log and the generator's options exclude each other; a missing log is named.
    assert_eq!(aivm(&["bench", "--log", p(&f.log), "--txs", "10"]).code, 2);
    assert!(j["generate_ms"].is_null(), "{j}");
    let missing = aivm(&["bench", "--log", "no-such.aivmlog"]);
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("no-such.aivmlog"),
        "{}",
        missing.stderr
    );
}
