//! Stable replay of the fuzz corpora: every file committed under
//! `fuzz/corpus/<target>/` goes through the same check the fuzz target runs
//! (`aivm_core::fuzzing`, `aivm_replay::fuzzing`), so CI exercises them without
//! nightly. Crashes found by fuzzing are committed there and get a named test
//! below (see docs/FUZZING.md).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use aivm_core::fuzzing::{self, arbitrary::Unstructured, gen};
use aivm_core::State;
use aivm_replay::fuzzing as replay_fuzzing;
use aivm_tests::seeds;

fn corpus_dir(target: &str) -> PathBuf {
    aivm_tests::fuzz_corpus_dir(target)
}

/// Runs `check` on every file of the target's corpus (none is fine) and names
/// every file that fails.
fn replay_corpus(target: &str, check: fn(&[u8])) {
    let Ok(entries) = std::fs::read_dir(corpus_dir(target)) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).unwrap_or_default();
            catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
        })
        .map(|p| p.display().to_string())
        .collect();
    eprintln!("{target}: replayed {} corpus files", files.len());
    assert!(
        failed.is_empty(),
        "{target}: {} corpus files fail:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn corpus_decode_block() {
    replay_corpus("decode_block", fuzzing::check_decode_block);
}

#[test]
fn corpus_apply_sequence() {
    replay_corpus("apply_sequence", fuzzing::check_apply_sequence);
}

#[test]
fn corpus_commute() {
    replay_corpus("commute", fuzzing::check_commute);
}

#[test]
fn corpus_replay_log() {
    replay_corpus("replay_log", replay_fuzzing::check_replay_log);
}

/// The seeds cut from golden logs are the current logs, and they replay: the
/// whole log to its end, the torn one to the frame before its cut.
/// Regenerating the fixtures rewrites them.
#[test]
fn replay_log_seeds_are_the_current_golden_logs() {
    for name in seeds::SEEDED_LOGS {
        let log = std::fs::read(aivm_tests::logs_dir().join(format!("{name}.aivmlog")))
            .unwrap_or_else(|e| panic!("golden log {name}: {e}"));
        for (file, expected) in seeds::seeds_of(name, &log) {
            let path = corpus_dir("replay_log").join(&file);
            let found = std::fs::read(&path).unwrap_or_default();
            assert!(
                found == expected,
                "{} is stale: run `cargo run --release -p aivm-tests --bin regen-fixtures`",
                path.display()
            );
        }
        let whole = replay_fuzzing::replay_both(&log, false, 1);
        let Ok((frames, _)) = whole else {
            panic!("{name} does not replay: {whole:?}");
        };
        let torn = &log[..log.len() - seeds::TORN_CUT];
        let replayed = replay_fuzzing::replay_both(torn, true, 1);
        assert!(
            matches!(replayed, Ok((n, _)) if n + 1 == frames),
            "{name} cut inside its last frame: {replayed:?}"
        );
    }
}

#[test]
fn corpus_scenario_json() {
    replay_corpus("scenario_json", replay_fuzzing::check_scenario_json);
}

/// Deterministic pseudo-random input number `i` (splitmix64).
fn input(i: u32, len: usize) -> Vec<u8> {
    let mut x = u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (0..len)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// The generators' promise: every config they build is valid, and a genesis
/// is refused only for a supply overflow (an arbitrary huge balance).
#[test]
fn generated_configs_and_geneses_are_valid() {
    let mut built = 0;
    for i in 0..300 {
        let data = input(i, 256);
        let config = gen::config(&mut Unstructured::new(&data)).expect("config from enough bytes");
        assert_eq!(config.validate(), Ok(()), "input {i}");
        let genesis =
            gen::genesis(&mut Unstructured::new(&data)).expect("genesis from enough bytes");
        match State::genesis(&genesis) {
            Ok(_) => built += 1,
            Err(e) => assert!(
                matches!(e, aivm_core::genesis::GenesisError::SupplyOverflow),
                "input {i}: {e}"
            ),
        }
    }
    assert!(built > 250, "only {built} of 300 generated geneses build");
}

/// The checks hold on fresh pseudo-random inputs too, not only on the corpus.
#[test]
fn checks_hold_on_fresh_inputs() {
    for i in 0..12 {
        let data = input(i, 2_048);
        fuzzing::check_apply_sequence(&data);
        fuzzing::check_commute(&data);
        fuzzing::check_decode_block(&data);
        replay_fuzzing::check_replay_log(&data);
        replay_fuzzing::check_scenario_json(&data);
    }
}

/// The signed generator judges the signatures it made itself without checking
/// them (only damaged ones are verified): its verdicts must be exactly what
/// verification says, or `replay_log` would blame the replayer for them.
#[test]
fn signed_generators_judge_as_verification_does() {
    let (mut judged, mut refused) = (0, 0);
    for i in 0..200 {
        let data = input(i, 4_096);
        let mut u = Unstructured::new(&data);
        let Ok(genesis) = gen::genesis(&mut u) else {
            continue;
        };
        let Ok(state) = State::genesis(&genesis) else {
            continue;
        };
        let Ok(header) = gen::next_header(&mut u, &state) else {
            continue;
        };
        let Ok(txs) = gen::TxGen::new(&state, header, true).judged_txs(&mut u, 16) else {
            continue;
        };
        for (tx, verdict) in txs {
            assert_eq!(verdict, tx.verify(), "input {i}: {tx:?}");
            judged += 1;
            refused += usize::from(verdict.is_err());
        }
    }
    assert!(judged > 500, "only {judged} transactions judged");
    assert!(refused > 0, "no damaged signature among {judged}");
}

/// Found by the CI fuzz smoke run (LeakSanitizer, `replay_log`): a two-thread
/// replay dropped its rayon pool without joining it, so the pool's threads
/// outlived the session and their thread-locals showed as leaked. The leak
/// depends on timing and shows only under the sanitizer; what guards the fix
/// is `replay/tests/threads.rs` (no thread outlives a session). This replays
/// the input through the target's checks.
#[test]
fn regression_replay_log_leak_rayon_pool_threads() {
    replay_fuzzing::check_replay_log(include_bytes!(
        "../../fuzz/corpus/replay_log/regression-leak-rayon-pool-threads"
    ));
}
