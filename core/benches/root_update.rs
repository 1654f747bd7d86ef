//! Root update cost: a batch of 1000 changed entries applied to a clone of a
//! large [`FlatTree`] (a block starts from the previous state's tree).
//!
//! Run: `cargo bench -p aivm-core --bench root_update -- --warm-up-time 1 --measurement-time 5`
//! Target: <= 3 us per changed entry at 10^6 entries.

use std::hint::black_box;

use aivm_core::commit::tree::{FlatTree, Hash};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const BATCH: u64 = 1000;

/// Deterministic pseudo-random bytes from a counter.
fn pseudo(domain: u64, counter: u64) -> Hash {
    let mut input = [0u8; 16];
    input[..8].copy_from_slice(&domain.to_le_bytes());
    input[8..].copy_from_slice(&counter.to_le_bytes());
    *blake3::hash(&input).as_bytes()
}

/// `BATCH` overwrites of pseudo-random existing slots of a tree of `len`.
fn overwrite_batch(round: u64, len: u64) -> Vec<(u64, Hash)> {
    (0..BATCH)
        .map(|i| {
            let r = pseudo(round, i);
            let mut slot = [0u8; 8];
            slot.copy_from_slice(&r[..8]);
            (u64::from_le_bytes(slot) % len, r)
        })
        .collect()
}

fn root_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("root_update");
    group.throughput(Throughput::Elements(BATCH));
    for len in [100_000u64, 1_000_000] {
        let leaves: Vec<Hash> = (0..len).map(|i| pseudo(u64::MAX, i)).collect();
        let tree = FlatTree::from_leaves(&leaves);
        drop(leaves);

        // 1000 random overwrites on a clone; the clone (with its copied
        // pages) is dropped inside the measurement, like the replaced state.
        let mut round = 0u64;
        group.bench_function(format!("overwrite_1000_of_{len}"), |b| {
            b.iter_batched(
                || {
                    round += 1;
                    overwrite_batch(round, len)
                },
                |changes| {
                    let mut next = tree.clone();
                    next.update(&changes).expect("slots exist");
                    black_box(next.root());
                },
                BatchSize::SmallInput,
            )
        });

        // 1000 appends at the right edge.
        let appends: Vec<(u64, Hash)> = (0..BATCH).map(|i| (len + i, pseudo(7, i))).collect();
        group.bench_function(format!("append_1000_to_{len}"), |b| {
            b.iter(|| {
                let mut next = tree.clone();
                next.update(&appends).expect("contiguous appends");
                black_box(next.root());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, root_update);
criterion_main!(benches);
