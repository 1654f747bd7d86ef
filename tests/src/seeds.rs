//! The `replay_log` fuzz target's seeds made from golden logs: so that the
//! fuzzer always starts from logs this protocol really replays, whole and torn,
//! they are rewritten with the fixtures and checked against them by a test.

use aivm_replay::fuzzing::raw_log_input;

/// The golden logs (by name) that seed `replay_log`.
pub const SEEDED_LOGS: [&str; 2] = ["optimistic_happy_path", "missed_deadline_requeue_refund"];

/// Bytes a torn seed cuts from the end of its log: inside the last frame.
pub const TORN_CUT: usize = 7;

/// The seed files of golden log `name`: (file name, contents), the whole log
/// (torn tails refused) and the log cut inside its last frame (torn tails accepted).
pub fn seeds_of(name: &str, log: &[u8]) -> [(String, Vec<u8>); 2] {
    let torn_len = log.len().saturating_sub(TORN_CUT);
    [
        (format!("seed-{name}"), raw_log_input(log, false)),
        (
            format!("seed-{name}-torn"),
            raw_log_input(&log[..torn_len], true),
        ),
    ]
}
