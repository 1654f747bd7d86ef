//! Replay throughput against a verify-only pass (decode + batched signature
//! checks, same threads) over one generated log of at least 100,000
//! transactions. Prints both throughputs and their ratio (target >= 0.85).
//!
//! `cargo bench -p aivm-replay --bench replay` (set `AIVM_BENCH_TXS` for
//! another size, `AIVM_BENCH_THREADS` for a thread count; 0 = all cores).

use std::time::{Duration, Instant};

use aivm_replay::demo::bench_chain;
use aivm_replay::record::write_chain_file;
use aivm_replay::{ReplayOptions, Replayer};
use criterion::{criterion_group, Criterion, Throughput};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Setup {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    txs: u64,
    replayer: Replayer,
}

fn setup() -> Setup {
    let target = env_u64("AIVM_BENCH_TXS", 100_000);
    let threads = env_u64("AIVM_BENCH_THREADS", 0) as usize;
    let started = Instant::now();
    let chain = bench_chain(target, 7).expect("bench chain");
    let txs: u64 = chain.blocks.iter().map(|b| b.txs.len() as u64).sum();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.aivmlog");
    let bytes =
        write_chain_file(&path, &chain.genesis, &chain.blocks, &chain.outcomes).expect("log");
    eprintln!(
        "generated {txs} txs in {} blocks ({:.1} MB) in {:.1} s",
        chain.blocks.len(),
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let replayer = Replayer::new(ReplayOptions {
        threads,
        reference_check: false,
        ..ReplayOptions::default()
    });
    Setup {
        _dir: dir,
        path,
        txs,
        replayer,
    }
}

fn best_of(runs: u32, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("replay");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(s.txs));
    group.bench_function("verify_only", |b| {
        b.iter(|| s.replayer.verify_only(&s.path).expect("verifies"))
    });
    group.bench_function("replay", |b| {
        b.iter(|| s.replayer.replay(&s.path).expect("replays"))
    });
    group.finish();

    // Criterion reports each pass alone; the ratio needs both over the same log.
    let verify = best_of(3, || {
        s.replayer.verify_only(&s.path).expect("verifies");
    });
    let replay = best_of(3, || {
        s.replayer.replay(&s.path).expect("replays");
    });
    let tps = |d: Duration| s.txs as f64 / d.as_secs_f64();
    println!(
        "threads {}: verify-only {:.0} txs/s, replay {:.0} txs/s, ratio replay/verify-only {:.3} (target >= 0.85)",
        s.replayer.opts.effective_threads(),
        tps(verify),
        tps(replay),
        verify.as_secs_f64() / replay.as_secs_f64()
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
