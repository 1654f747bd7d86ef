//! The fixture runner: every scenario under `fixtures/scenarios/` is run and its
//! expectations checked; every golden log under `fixtures/logs/` is replayed
//! through the core and each block's roots compared with the log's and with
//! `NAME.roots.json`; tampered copies of every golden log must be refused with
//! the right error. One line per fixture, then `N passed, N failed`.
//!
//! Regenerate the golden files with `cargo run -p aivm-tests --bin regen-fixtures`;
//! set `AIVM_FIXTURES_VERBOSE=1` to print every scenario's full report.

use std::path::Path;
use std::time::Instant;

use aivm_tests::golden::{check_log, error_name, read_error, tampered_copies, RootsFile};
use aivm_tests::{files_with_ext, logs_dir, scenarios_dir};

fn rel(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    let dir = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("?");
    format!("{dir}/{name}")
}

fn check_scenario(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let scenario = aivm_replay::scenario::parse(&text).map_err(|e| format!("parse: {e}"))?;
    let report = aivm_replay::scenario::run(&scenario).map_err(|e| format!("run: {e}"))?;
    if std::env::var_os("AIVM_FIXTURES_VERBOSE").is_some() {
        println!("{}", report.render_text());
    }
    if !report.passed() {
        let failed: Vec<String> = report
            .failed_checks()
            .map(|c| {
                format!(
                    "height {} {} ({}): expected {}, got {}",
                    c.height, c.what, c.path, c.expected, c.actual
                )
            })
            .collect();
        return Err(format!(
            "{} expectation(s) failed:\n    {}",
            failed.len(),
            failed.join("\n    ")
        ));
    }
    Ok(format!(
        "{} blocks, {} checks",
        report.blocks.len(),
        report.checks.len()
    ))
}

fn load_log(path: &Path) -> Result<(Vec<u8>, RootsFile), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let roots_path = path.with_extension("roots.json");
    let roots_text =
        std::fs::read_to_string(&roots_path).map_err(|e| format!("{}: {e}", rel(&roots_path)))?;
    let roots =
        serde_json::from_str(&roots_text).map_err(|e| format!("{}: {e}", rel(&roots_path)))?;
    Ok((bytes, roots))
}

fn check_golden_log(path: &Path) -> Result<String, String> {
    let (bytes, roots) = load_log(path)?;
    let blocks = check_log(&bytes, &roots)?;
    Ok(format!(
        "{blocks} blocks, every root confirmed ({} bytes)",
        bytes.len()
    ))
}

fn check_tampered(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let copies = tampered_copies(&bytes)?;
    if copies.is_empty() {
        return Err("the log has no frame to tamper with".into());
    }
    for t in &copies {
        let Some(err) = read_error(&t.bytes) else {
            return Err(format!("{}: accepted, expected {}", t.what, t.expect));
        };
        let got = error_name(&err);
        if got != t.expect {
            return Err(format!(
                "{}: refused with {got} ({err}), expected {}",
                t.what, t.expect
            ));
        }
    }
    let names: Vec<&str> = copies.iter().map(|t| t.expect).collect();
    Ok(format!(
        "{} tampered copies refused ({})",
        copies.len(),
        names.join(", ")
    ))
}

#[test]
fn fixtures() {
    let mut passed = 0u64;
    let mut failed = 0u64;
    let mut record = |label: String, check: &dyn Fn() -> Result<String, String>| {
        let start = Instant::now();
        let result = check();
        let ms = start.elapsed().as_millis();
        match result {
            Ok(detail) => {
                passed += 1;
                println!("ok   {label}: {detail} [{ms} ms]");
            }
            Err(why) => {
                failed += 1;
                println!("FAIL {label}: {why}");
            }
        }
    };
    let scenarios = files_with_ext(&scenarios_dir(), "json");
    let logs = files_with_ext(&logs_dir(), "aivmlog");
    for path in &scenarios {
        record(rel(path), &|| check_scenario(path));
    }
    for path in &logs {
        record(rel(path), &|| check_golden_log(path));
        record(format!("{} (tampered)", rel(path)), &|| {
            check_tampered(path)
        });
    }
    if scenarios.is_empty() || logs.is_empty() {
        record("fixtures/".into(), &|| {
            Err("no scenarios or no golden logs found".into())
        });
    }
    println!("{passed} passed, {failed} failed");
    assert_eq!(
        failed, 0,
        "{failed} fixture(s) failed; see the FAIL lines above"
    );
}
