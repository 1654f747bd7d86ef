//! A multi-threaded replay leaves no thread behind: its verification pool is
//! joined before the session is gone (a dropped rayon pool would let its
//! threads wind down later, which LeakSanitizer reports under fuzzing). Its
//! own test binary, so no other test's threads are counted.

use aivm_replay::replayer::{ReplayOptions, Session};

/// Names of this process's live threads (Linux: `/proc/self/task/*/comm`).
#[cfg(target_os = "linux")]
fn thread_names() -> Vec<String> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("procfs");
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

#[cfg(target_os = "linux")]
#[test]
fn a_finished_session_has_joined_its_threads() {
    let log = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/logs/optimistic_happy_path.aivmlog");
    let bytes = std::fs::read(log).expect("golden log");
    let opts = ReplayOptions {
        threads: 2,
        ..ReplayOptions::default()
    };
    for _ in 0..3 {
        let mut session = Session::from_bytes(bytes.clone(), &opts).expect("log opens");
        session.run_to_end().expect("log replays");
        drop(session);
        let left: Vec<String> = thread_names()
            .into_iter()
            .filter(|n| n.starts_with("aivm-"))
            .collect();
        assert!(left.is_empty(), "threads left behind: {left:?}");
    }
}
