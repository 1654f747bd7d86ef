//! Shared code of the cross-crate tests: where the fixtures live, the
//! reference computation of their expected roots, the replay of a golden log
//! through the core, and the generator of every golden file
//! (`cargo run -p aivm-tests --bin regen-fixtures`).

pub mod generated;
pub mod golden;
pub mod seeds;

use std::path::PathBuf;

/// `fixtures/` at the workspace root.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

pub fn scenarios_dir() -> PathBuf {
    fixtures_dir().join("scenarios")
}

pub fn logs_dir() -> PathBuf {
    fixtures_dir().join("logs")
}

/// `fuzz/corpus/TARGET/` at the workspace root.
pub fn fuzz_corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// The files of `dir` with extension `ext`, sorted by name (none if the directory is missing).
pub fn files_with_ext(dir: &std::path::Path, ext: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}
