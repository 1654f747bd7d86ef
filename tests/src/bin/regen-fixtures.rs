//! Regenerates every golden file under `fixtures/logs/`: one log per scenario
//! in `fixtures/scenarios/` (compiled with `aivm_replay::scenario`) plus the
//! generated chain, each with its `.roots.json` of reference roots; then the
//! `replay_log` fuzz seeds cut from some of those logs (`aivm_tests::seeds`).
//!
//! `cargo run -p aivm-tests --bin regen-fixtures` (add `--release` to go faster).

use std::collections::BTreeMap;
use std::process::ExitCode;

use aivm_core::{BlockOutcome, TxStatus};

use aivm_tests::golden::write_golden;
use aivm_tests::{files_with_ext, fuzz_corpus_dir, generated, logs_dir, scenarios_dir, seeds};

fn regen() -> Result<(), String> {
    let out = logs_dir();
    // Every scenario must meet its own expectations before any file is
    // rewritten: a golden log of a scenario that no longer says what it
    // checks would pin the wrong history.
    let mut scenarios = Vec::new();
    for path in files_with_ext(&scenarios_dir(), "json") {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let scenario =
            aivm_replay::scenario::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        check_expectations(&path, &scenario)?;
        scenarios.push((name, path, scenario));
    }
    for (name, path, scenario) in scenarios {
        let (genesis, blocks, outcomes) = aivm_replay::scenario::compile(&scenario)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let source = format!("fixtures/scenarios/{name}.json");
        write_golden(&out, &name, &source, &genesis, &blocks, &outcomes)?;
        println!("{name}: {}", summary(&outcomes));
    }
    let (genesis, blocks, outcomes) = generated::build()?;
    let source = "aivm_tests::generated::build (tests/src/generated.rs)";
    write_golden(&out, generated::NAME, source, &genesis, &blocks, &outcomes)?;
    println!("{}: {}", generated::NAME, summary(&outcomes));
    write_seeds()
}

/// Runs `scenario` and fails, naming the first unmet expectations, unless all hold.
fn check_expectations(
    path: &std::path::Path,
    scenario: &aivm_replay::scenario::Scenario,
) -> Result<(), String> {
    let report =
        aivm_replay::scenario::run(scenario).map_err(|e| format!("{}: {e}", path.display()))?;
    if report.passed() {
        return Ok(());
    }
    let failed: Vec<String> = report
        .failed_checks()
        .take(5)
        .map(|c| format!("  {}: expected {}, got {}", c.path, c.expected, c.actual))
        .collect();
    Err(format!(
        "{}: {} expectation(s) fail, nothing was rewritten; see `aivm scenario run {}`:\n{}",
        path.display(),
        report.failed_checks().count(),
        path.display(),
        failed.join("\n")
    ))
}

/// Rewrites the `replay_log` fuzz seeds from the logs just written.
fn write_seeds() -> Result<(), String> {
    let dir = fuzz_corpus_dir("replay_log");
    for name in seeds::SEEDED_LOGS {
        let path = logs_dir().join(format!("{name}.aivmlog"));
        let log = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (file, bytes) in seeds::seeds_of(name, &log) {
            let target = dir.join(&file);
            std::fs::write(&target, bytes).map_err(|e| format!("{}: {e}", target.display()))?;
        }
        println!("fuzz seeds of {name} rewritten in {}", dir.display());
    }
    Ok(())
}

/// Blocks, receipts by status and events by kind: what a golden log covers.
fn summary(outcomes: &[BlockOutcome]) -> String {
    let mut status = [0u64; 3];
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for o in outcomes {
        for r in &o.receipts {
            let i = match r.status {
                TxStatus::Applied => 0,
                TxStatus::Failed(_) => 1,
                TxStatus::Rejected(_) => 2,
            };
            status[i] += 1;
        }
        for e in o
            .receipts
            .iter()
            .flat_map(|r| &r.events)
            .chain(&o.end_events)
        {
            let debug = format!("{e:?}");
            let kind = debug
                .split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap_or("");
            *kinds.entry(kind.to_string()).or_default() += 1;
        }
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!(
        "{} blocks, {} txs ({} applied, {} failed, {} rejected); events: {}",
        outcomes.len(),
        status.iter().sum::<u64>(),
        status[0],
        status[1],
        status[2],
        kinds.join(", ")
    )
}

fn main() -> ExitCode {
    match regen() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("regen-fixtures: {e}");
            ExitCode::FAILURE
        }
    }
}
