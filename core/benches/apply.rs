//! Apply throughput of a realistic mixed block at 10^5 and 10^6 live entries,
//! and the state-root update cost per changed entry at 10^6 entries.
//!
//! Run: `cargo bench -p aivm-core --bench apply -- --warm-up-time 1 --measurement-time 5`
//! Targets: apply plus root >= 50,000 tx/s on one core (signature checks
//! excluded); root update <= 3 us per changed entry at 10^6 entries.
//! `AIVM_BENCH_ENTRIES=1000000` and `AIVM_BENCH_GROUPS=apply|root` limit what
//! is set up (criterion's name filter skips only the measurements).
//!
//! The state is built through the public API: a genesis with many accounts and
//! 1000 providers, then blocks of task submissions (their tasks expire into
//! `Failed` entries, as abandoned work does), then a short pipeline of blocks
//! that submit tasks and post results until results finalise every block.
//! Setup blocks skip signatures (`assume_verified`); the measured block is
//! signed, and its verdicts are made by `assume_verified` inside the timing,
//! so only the ed25519 checks themselves are excluded.
//!
//! Benchmarks:
//! - `apply/mixed_2000/{1e5,1e6}`: one block of 2000 txs (60% transfers,
//!   20% SubmitTask, 15% SubmitResult, 5% ClaimRewards/TopUpBond), applied to
//!   the same pre-state every iteration, block end included (timers,
//!   finalisations, assignment, proposer fee, root commit) and the drop of
//!   the resulting state (a node frees one state per block). The stderr line
//!   `txs .., block end .., drop ..` splits one application into those parts:
//!   "apply plus root" is the first two.
//! - `apply/transfers_2000/1e6`: 2000 transfers (4000 changed accounts).
//! - `root/commit_accounts_4000/1e6`: `Collection::commit` of 4000 changed
//!   accounts in an accounts collection of 10^6: encoding, leaf hashing,
//!   folding the changes into the committed map, the tree update and freeing
//!   the copy, i.e. the root update per changed entry at the collection level
//!   (`root_update` measures the tree alone).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use aivm_core::accounts::Account;
use aivm_core::config::Config;
use aivm_core::genesis::GenesisProvider;
use aivm_core::state::Collection;
use aivm_core::tasks::TaskStatus;
use aivm_core::tx::GpuInfo;
use aivm_core::types::{Sig64, TaskType};
use aivm_core::{
    apply_observed, apply_verified_block, apply_verified_block_in_place, Action, Address, Amount,
    Block, Genesis, Hash, ProviderId, SignedTx, State, TaskId, TxBody, TxStatus,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use ed25519_zebra::{SigningKey, VerificationKey};

const CHAIN: &str = "bench";
const TOKEN: Amount = 1_000_000_000_000_000_000;
const PROVIDERS: u64 = 1000;
/// Keyed accounts that send the measured block's transfers and submissions.
const CLIENTS: u64 = 2000;
const BLOCK_TXS: u64 = 2000;
/// Served-model submissions per pipeline block, as in the measured block.
const PIPELINE_TASKS: u64 = BLOCK_TXS / 5;
/// Shortened from the default 100 so that setup reaches the steady state
/// (results finalising every block) in a dozen blocks.
const CHALLENGE_WINDOW: u64 = 10;
const PIPELINE_BLOCKS: u64 = CHALLENGE_WINDOW + 4;
/// Submissions per bulk-fill block: with the previous block's tasks still
/// queued this stays within the default MaxTaskQueueSize of 1000.
const BULK_PER_BLOCK: u64 = 500;
const BLOCK_TIME_MS: u64 = 2000;
/// Past the default TaskTimeout, so a bulk block expires the previous one's tasks.
const BULK_GAP_MS: u64 = 301_000;
const SERVED: [&str; 2] = ["zen-coder-1.5b", "qwen3-8b"];
/// No provider serves it: bulk tasks wait and expire.
const UNSERVED: &str = "zen-mini-0.5b";

fn pseudo(domain: &str, i: u64) -> Hash {
    blake3::derive_key(domain, &i.to_le_bytes())
}

fn pseudo_u64(domain: &str, i: u64) -> u64 {
    let h = pseudo(domain, i);
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    u64::from_le_bytes(b)
}

/// Accounts without keys: recipients, bulk submitters, filler.
fn bulk_addr(i: u64) -> Address {
    Address(pseudo("aivm bench bulk account", i))
}

struct Keyed {
    key: SigningKey,
    addr: Address,
}

fn keyed(domain: &str, i: u64) -> Keyed {
    let key = SigningKey::from(pseudo(domain, i));
    let addr = Address(VerificationKey::from(&key).into());
    Keyed { key, addr }
}

/// A setup chain: the state plus the actors the blocks need.
struct World {
    state: State,
    clients: Vec<Keyed>,
    owners: Vec<Keyed>,
    providers: Vec<ProviderId>,
    bulk_accounts: u64,
    /// Tasks submitted by the pipeline, oldest first.
    pipeline_tasks: Vec<TaskId>,
    nonces: BTreeMap<Address, u64>,
    time_ms: u64,
}

fn bench_config() -> Config {
    Config {
        challenge_window_blocks: CHALLENGE_WINDOW,
        ..Config::default()
    }
}

impl World {
    /// A genesis whose state will hold about `entries` live entries once the
    /// bulk fill adds `bulk_tasks` tasks and the pipeline its own.
    fn new(entries: u64, bulk_tasks: u64) -> World {
        let pipeline = PIPELINE_TASKS * PIPELINE_BLOCKS;
        let fixed = PROVIDERS + bulk_tasks + pipeline + 3 + CLIENTS + PROVIDERS;
        let bulk_accounts = entries.saturating_sub(fixed);
        let clients: Vec<Keyed> = (0..CLIENTS)
            .map(|i| keyed("aivm bench client", i))
            .collect();
        let owners: Vec<Keyed> = (0..PROVIDERS)
            .map(|i| keyed("aivm bench owner", i))
            .collect();
        let mut balances: Vec<(Address, Amount)> = Vec::new();
        balances.extend(clients.iter().map(|k| (k.addr, 1_000_000 * TOKEN)));
        balances.extend(owners.iter().map(|k| (k.addr, 1_000 * TOKEN)));
        balances.extend((0..bulk_accounts).map(|i| (bulk_addr(i), 1_000 * TOKEN)));
        let gpus = vec![GpuInfo {
            model: "H100".to_string(),
            memory_gb: 80,
            count: 8,
        }];
        let providers: Vec<GenesisProvider> = owners
            .iter()
            .enumerate()
            .map(|(i, k)| GenesisProvider {
                owner: k.addr,
                endpoint: format!("https://p{i}.example.net"),
                gpus: gpus.clone(),
                models: SERVED.iter().map(|m| m.to_string()).collect(),
                bond: 100 * TOKEN,
            })
            .collect();
        let genesis = Genesis {
            config: bench_config(),
            providers,
            ..Genesis::new(CHAIN, balances)
        };
        let state = State::genesis(&genesis).expect("bench genesis is valid");
        let provider_ids = owners
            .iter()
            .enumerate()
            .map(|(i, k)| ProviderId::genesis(&k.addr, i as u64))
            .collect();
        World {
            state,
            clients,
            owners,
            providers: provider_ids,
            bulk_accounts,
            pipeline_tasks: Vec::new(),
            nonces: BTreeMap::new(),
            time_ms: genesis.time_ms,
        }
    }

    fn next_nonce(&mut self, who: &Address) -> u64 {
        let n = self
            .nonces
            .get(who)
            .copied()
            .unwrap_or_else(|| self.state.account(who).nonce);
        self.nonces.insert(*who, n + 1);
        n
    }

    /// A setup transaction: its signature is never checked.
    fn unsigned(&mut self, signer: Address, action: Action) -> SignedTx {
        let nonce = self.next_nonce(&signer);
        SignedTx {
            signer,
            body: TxBody {
                chain_id: CHAIN.to_string(),
                nonce,
                action,
            },
            signature: Sig64([0u8; 64]),
        }
    }

    fn signed(&mut self, key: &SigningKey, signer: Address, action: Action) -> SignedTx {
        let nonce = self.next_nonce(&signer);
        TxBody {
            chain_id: CHAIN.to_string(),
            nonce,
            action,
        }
        .sign(key)
    }

    fn block(&mut self, gap_ms: u64, txs: Vec<SignedTx>) -> Block {
        self.time_ms += gap_ms;
        let height = self.state.height() + 1;
        Block::new(
            CHAIN,
            height,
            self.state.tip().block_id,
            self.time_ms,
            bulk_addr(u64::MAX),
            pseudo("aivm bench seed", height),
            txs,
        )
    }

    /// Applies a block and insists that every transaction applied.
    fn apply(&mut self, block: Block) {
        let verified = block.txs.iter().map(|t| Ok(t.assume_verified())).collect();
        let (next, outcome) =
            apply_verified_block(&self.state, &block, verified).expect("valid header");
        if let Some(r) = outcome
            .receipts
            .iter()
            .find(|r| r.status != TxStatus::Applied)
        {
            panic!("setup tx did not apply: {:?}", r.status);
        }
        self.state = next;
        self.nonces.clear();
    }

    fn submit_action(model: &str, i: u64) -> Action {
        Action::SubmitTask {
            model: model.to_string(),
            task_type: TaskType::Inference,
            input_hash: pseudo("aivm bench input", i),
            inline_input: pseudo("aivm bench prompt", i).to_vec(),
            fee: TOKEN / 100,
            redundancy: None,
        }
    }

    /// Tasks for a model nobody serves; each batch expires in the next block.
    fn bulk_fill(&mut self, tasks: u64) {
        let mut done = 0;
        while done < tasks {
            let n = BULK_PER_BLOCK.min(tasks - done);
            let txs = (done..done + n)
                .map(|i| {
                    let who = bulk_addr(i % self.bulk_accounts.max(1));
                    self.unsigned(who, Self::submit_action(UNSERVED, i))
                })
                .collect();
            let block = self.block(BULK_GAP_MS, txs);
            self.apply(block);
            done += n;
        }
        let block = self.block(BULK_GAP_MS, Vec::new());
        self.apply(block);
    }

    /// Tasks in `Assigned` status, oldest first, with the owner index of their provider.
    fn assigned(&self) -> Vec<(TaskId, ProviderId, usize)> {
        let owner_of: BTreeMap<ProviderId, usize> = self
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, i))
            .collect();
        self.pipeline_tasks
            .iter()
            .filter_map(|id| {
                let t = self.state.task(id)?;
                let pid = t.provider?;
                (t.status == TaskStatus::Assigned).then(|| (*id, pid, owner_of[&pid]))
            })
            .collect()
    }

    fn result_action(task: TaskId, provider: ProviderId, i: u64) -> Action {
        Action::SubmitResult {
            task,
            provider,
            output_hash: pseudo("aivm bench output", i),
            inline_output: pseudo("aivm bench answer", i).to_vec(),
            compute_time_ms: 500 + pseudo_u64("aivm bench compute", i) % 3000,
        }
    }

    /// Blocks that submit tasks and post results for those assigned in the
    /// previous block, until results posted a window ago finalise each block.
    fn pipeline(&mut self) {
        let mut seq = 0u64;
        for _ in 0..PIPELINE_BLOCKS {
            let mut txs = Vec::new();
            for (task, pid, owner) in self.assigned() {
                let addr = self.owners[owner].addr;
                seq += 1;
                txs.push(self.unsigned(addr, Self::result_action(task, pid, seq)));
            }
            for i in 0..PIPELINE_TASKS {
                let addr = self.clients[(i % CLIENTS) as usize].addr;
                let nonce = self.next_nonce(&addr);
                self.nonces.insert(addr, nonce);
                self.pipeline_tasks.push(TaskId::derive(&addr, nonce));
                seq += 1;
                let model = SERVED[(seq % 2) as usize];
                txs.push(self.unsigned(addr, Self::submit_action(model, seq)));
            }
            let block = self.block(BLOCK_TIME_MS, txs);
            self.apply(block);
        }
    }

    /// Live entries: (accounts, providers, tasks, models).
    fn live_entries(&self) -> (usize, usize, usize, usize) {
        let s = &self.state;
        (
            s.accounts().count(),
            s.providers().len(),
            s.tasks().count(),
            s.models().len(),
        )
    }

    /// The measured block: signed, a deterministic interleaving of the mix.
    fn mixed_block(&mut self) -> Block {
        let assigned = self.assigned();
        let with_rewards: Vec<usize> = (0..self.providers.len())
            .filter(|i| {
                self.state
                    .provider(&self.providers[*i])
                    .is_some_and(|p| p.stats.pending_rewards > 0)
            })
            .collect();
        assert!(
            assigned.len() as u64 >= BLOCK_TXS * 3 / 20,
            "too few assigned tasks"
        );
        assert!(
            with_rewards.len() as u64 >= BLOCK_TXS / 40,
            "too few rewarded providers"
        );
        let (mut next_client, mut next_result, mut next_claim, mut next_topup) =
            (0usize, 0usize, 0usize, 0u64);
        let mut txs = Vec::with_capacity(BLOCK_TXS as usize);
        for i in 0..BLOCK_TXS {
            let tx = match i % 20 {
                0..=11 => {
                    let c = next_client;
                    next_client += 1;
                    let to = bulk_addr(pseudo_u64("aivm bench to", i) % self.bulk_accounts);
                    let action = Action::Transfer {
                        to,
                        amount: TOKEN + u128::from(i),
                    };
                    self.client_tx(c, action)
                }
                12..=15 => {
                    let c = next_client;
                    next_client += 1;
                    let model = SERVED[(i % 2) as usize];
                    self.client_tx(c, Self::submit_action(model, 1_000_000 + i))
                }
                16..=18 => {
                    let (task, pid, owner) = assigned[next_result];
                    next_result += 1;
                    self.owner_tx(owner, Self::result_action(task, pid, 1_000_000 + i))
                }
                _ if i % 40 == 19 => {
                    let owner = with_rewards[next_claim];
                    next_claim += 1;
                    let provider = self.providers[owner];
                    self.owner_tx(owner, Action::ClaimRewards { provider })
                }
                _ => {
                    // Owners not claiming in this block top up their bond.
                    let owner = (PROVIDERS - 1 - next_topup) as usize;
                    next_topup += 1;
                    let provider = self.providers[owner];
                    self.owner_tx(
                        owner,
                        Action::TopUpBond {
                            provider,
                            amount: TOKEN,
                        },
                    )
                }
            };
            txs.push(tx);
        }
        self.block(BLOCK_TIME_MS, txs)
    }

    fn transfer_block(&mut self) -> Block {
        let txs = (0..BLOCK_TXS)
            .map(|i| {
                let to = bulk_addr(pseudo_u64("aivm bench to", i) % self.bulk_accounts);
                self.client_tx(
                    i as usize,
                    Action::Transfer {
                        to,
                        amount: TOKEN + u128::from(i),
                    },
                )
            })
            .collect();
        self.block(BLOCK_TIME_MS, txs)
    }

    fn client_tx(&mut self, c: usize, action: Action) -> SignedTx {
        let (key, addr) = (self.clients[c].key, self.clients[c].addr);
        self.signed(&key, addr, action)
    }

    fn owner_tx(&mut self, o: usize, action: Action) -> SignedTx {
        let (key, addr) = (self.owners[o].key, self.owners[o].addr);
        self.signed(&key, addr, action)
    }
}

fn build_world(entries: u64) -> World {
    let bulk_tasks = entries / 10;
    let start = std::time::Instant::now();
    let mut w = World::new(entries, bulk_tasks);
    w.bulk_fill(bulk_tasks);
    w.pipeline();
    let (accounts, providers, tasks, models) = w.live_entries();
    eprintln!(
        "setup: {} live entries ({accounts} accounts, {providers} providers, {tasks} tasks \
         ({} queued), {models} models) at height {} in {:.1?}",
        accounts + providers + tasks + models,
        w.state.pending_tasks().len(),
        w.state.height(),
        start.elapsed()
    );
    w
}

/// Applies `block` once outside the timing and checks that every tx applied.
fn check_block(state: &State, block: &Block, what: &str) {
    let verified = block.txs.iter().map(|t| Ok(t.assume_verified())).collect();
    let (next, outcome) = apply_verified_block(state, block, verified).expect("valid header");
    let applied = outcome
        .receipts
        .iter()
        .filter(|r| r.status == TxStatus::Applied)
        .count();
    assert_eq!(applied, block.txs.len(), "{what}: every tx must apply");
    let mut in_place = state.unshared();
    let verified = block.txs.iter().map(|t| Ok(t.assume_verified())).collect();
    let same = apply_verified_block_in_place(&mut in_place, block, verified).expect("valid header");
    assert_eq!(same, outcome, "{what}: in place, the same outcome");
    assert_eq!(in_place.state_root(), next.state_root());
    let finalised = outcome
        .end_events
        .iter()
        .filter(|e| matches!(e, aivm_core::Event::RewardMinted { .. }))
        .count();
    let assigned = outcome
        .end_events
        .iter()
        .filter(|e| matches!(e, aivm_core::Event::TaskAssigned { .. }))
        .count();
    let root: String = next
        .state_root()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    eprintln!(
        "{what}: {applied} txs applied; block end: {finalised} finalised, {assigned} assigned; root {root}"
    );
    report_phases(state, block, what);
}

/// Splits the apply time into the transactions, the block end (timers,
/// assignment, root commit) and dropping the resulting state and outcome,
/// best of a few runs, via the per-tx observer.
fn report_phases(state: &State, block: &Block, what: &str) {
    const RUNS: usize = 7;
    let mut best = [Duration::MAX; 3];
    for _ in 0..RUNS {
        let verified = block.txs.iter().map(|t| Ok(t.assume_verified())).collect();
        let start = Instant::now();
        let mut last_tx = start;
        let mut end = start;
        let result = apply_observed(state, block, verified, &mut |_, receipt| {
            if receipt.is_some() {
                last_tx = Instant::now();
            } else {
                end = Instant::now();
            }
        });
        drop(black_box(result));
        let dropped = Instant::now();
        for (b, t) in best
            .iter_mut()
            .zip([last_tx - start, end - last_tx, dropped - end])
        {
            *b = (*b).min(t);
        }
    }
    let [txs, end, dropped] = best;
    eprintln!("{what}: txs {txs:.1?}, block end {end:.1?}, drop {dropped:.1?} (best of {RUNS})");
}

fn bench_block(c: &mut Criterion, name: &str, label: &str, state: &State, block: &Block) {
    check_block(state, block, &format!("{name}/{label}"));
    let mut group = c.benchmark_group("apply");
    group.sample_size(20);
    group.throughput(Throughput::Elements(block.txs.len() as u64));
    // Steady state: a node drops one state per block, so the drop of the
    // result is timed too (`report_phases` shows each part on its own).
    group.bench_function(format!("{name}/{label}"), |b| {
        b.iter(|| {
            let verified = block.txs.iter().map(|t| Ok(t.assume_verified())).collect();
            black_box(apply_verified_block(state, block, verified).expect("valid header"))
        })
    });
    // A node that keeps only its newest state applies in place: nothing is
    // shared, so nothing is copied and no previous state is dropped. Each run
    // gets its own unshared copy (made and dropped outside the timing).
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.bench_function(format!("{name}_in_place/{label}"), |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let mut own = state.unshared();
                let verified = block.txs.iter().map(|t| Ok(t.assume_verified())).collect();
                let start = Instant::now();
                let outcome = apply_verified_block_in_place(&mut own, block, verified);
                timed += start.elapsed();
                black_box((outcome.expect("valid header"), own));
            }
            timed
        })
    });
    group.finish();
}

/// Whether `value` is listed in the environment variable `var` (comma
/// separated; unset or empty lists everything). Criterion's name filter only
/// skips measurements, not the setup, which takes a while at 10^6.
fn wanted(var: &str, value: &str) -> bool {
    let list = std::env::var(var).unwrap_or_default();
    list.trim().is_empty() || list.split(',').any(|w| w.trim() == value)
}

/// Live-entry counts to build: `AIVM_BENCH_ENTRIES`, e.g. `1000000`.
fn sizes() -> Vec<(u64, &'static str)> {
    [(100_000u64, "1e5"), (1_000_000, "1e6")]
        .into_iter()
        .filter(|(n, _)| wanted("AIVM_BENCH_ENTRIES", &n.to_string()))
        .collect()
}

/// Groups to set up and run: `AIVM_BENCH_GROUPS`, e.g. `apply` or `root`.
fn apply_benches(c: &mut Criterion) {
    if !wanted("AIVM_BENCH_GROUPS", "apply") {
        return;
    }
    for (entries, label) in sizes() {
        let mut w = build_world(entries);
        let mixed = w.mixed_block();
        bench_block(c, "mixed_2000", label, &w.state, &mixed);
        if entries == 1_000_000 {
            w.nonces.clear();
            let transfers = w.transfer_block();
            bench_block(c, "transfers_2000", label, &w.state, &transfers);
        }
    }
}

/// The root update alone: 4000 accounts of a 10^6-account collection change
/// (as 2000 transfers would change them), then `commit` folds them into the tree.
fn root_benches(c: &mut Criterion) {
    if !wanted("AIVM_BENCH_GROUPS", "root") {
        return;
    }
    const CHANGED: u64 = 4000;
    const LEN: u64 = 1_000_000;
    let mut accounts: Collection<Address, Account> = Collection::default();
    for i in 0..LEN {
        let acct = Account {
            balance: 1_000 * TOKEN,
            nonce: 0,
            providers: 0,
        };
        accounts.insert(bulk_addr(i), acct);
    }
    accounts.commit();
    let mut round = 0u64;
    let mut group = c.benchmark_group("root");
    group.sample_size(20);
    group.throughput(Throughput::Elements(CHANGED));
    group.bench_function("commit_accounts_4000/1e6", |b| {
        b.iter_batched(
            || {
                round += 1;
                let mut next = accounts.clone();
                for (k, acct) in changed_accounts(round, CHANGED, LEN) {
                    next.insert(k, acct);
                }
                next
            },
            // As in `root_update`, freeing the replaced copy is part of the cost.
            |mut next| {
                next.commit();
                black_box(next.root())
            },
            BatchSize::LargeInput,
        )
    });
    // The same commit on a collection nothing shares (a node applying blocks
    // in place): no path or page is copied. Each run gets its own deep copy,
    // made outside the timing, so the group keeps its runs few.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_millis(600));
    group.bench_function("commit_accounts_4000_in_place/1e6", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                let mut own = accounts.unshared();
                for (k, acct) in changed_accounts(round, CHANGED, LEN) {
                    own.insert(k, acct);
                }
                let start = Instant::now();
                own.commit();
                black_box(own.root());
                timed += start.elapsed();
            }
            timed
        })
    });
    group.finish();
}

/// The `changed` accounts of round `round`, drawn from `len` bulk accounts.
fn changed_accounts(
    round: u64,
    changed: u64,
    len: u64,
) -> impl Iterator<Item = (Address, Account)> {
    (0..changed).map(move |i| {
        let k = bulk_addr(pseudo_u64("aivm bench changed", round * changed + i) % len);
        let acct = Account {
            balance: u128::from(round) * TOKEN + u128::from(i),
            nonce: round,
            providers: 0,
        };
        (k, acct)
    })
}

criterion_group!(benches, apply_benches, root_benches);
criterion_main!(benches);
