//! The `replay_log` fuzz target's seeds made from golden logs: so that the
//! fuzzer always starts from logs this protocol really replays, whole and torn,
//! they are rewritten with the fixtures and checked against them by a test.

use std::path::PathBuf;

/// The golden logs (by name) that seed `replay_log`.
pub const SEEDED_LOGS: [&str; 2] = ["optimistic_happy_path", "missed_deadline_requeue_refund"];

/// Bytes a torn seed cuts from the end of its log: inside the last frame.
const TORN_CUT: usize = 7;

/// `fuzz/corpus/replay_log/` at the workspace root.
pub fn replay_log_corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/replay_log")
}

/// The seed files of golden log `name`: (file name, contents) whole and torn.
/// The prefix selects the target's raw mode (0) and whether torn tails are
/// accepted (refused for the whole log, accepted for the torn one); one
/// replay thread.
pub fn seeds_of(name: &str, log: &[u8]) -> [(String, Vec<u8>); 2] {
    let torn_len = log.len().saturating_sub(TORN_CUT);
    [
        (format!("seed-{name}"), [&[0u8, 1, 1][..], log].concat()),
        (
            format!("seed-{name}-torn"),
            [&[0u8, 0, 1][..], &log[..torn_len]].concat(),
        ),
    ]
}
