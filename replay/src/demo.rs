//! A realistic demo chain, generated deterministically from a seed.
//!
//! Providers with different bonds and GPUs, many clients submitting tasks of
//! every type to every model, results posted after a delay, flaky providers
//! that miss deadlines (slashed, task re-queued), cheating providers whose
//! wrong results a watcher challenges (referees commit and reveal, the cheat is
//! slashed), a frivolous challenge now and then (the challenger's bond is
//! forfeited), rewards minted and claimed, a model nobody serves (its tasks
//! time out and are refunded), a provider that unbonds and withdraws, bond
//! top-ups, a governance retirement, transfers, a few invalid transactions
//! (a bad signature, a replayed nonce, an overdraft), epochs crossing and an
//! anchor every `merkle_anchor_freq` blocks. All with the default config,
//! whose verification mode is optimistic; [`with_mode`] switches a config to
//! M-of-N redundancy (committees commit and reveal, a withholder or a
//! divergent member is slashed) or to TEE attestation (attested providers
//! refresh their evidence and get the shortened window).
//!
//! [`bench_chain`] builds the simpler, denser workload of the replay
//! benchmark: transfers, task submissions and results.

use std::collections::BTreeMap;

use aivm_core::attestation::{
    public_key_from_seed, sign_attestation, AttestationEvidence, EvidenceKind, SignedAttestation,
    TeeType,
};
use aivm_core::chain::{Chain, ChainError};
use aivm_core::config::{Config, VerificationMode};
use aivm_core::dispute::{claim_commitment, output_commitment};
use aivm_core::events::Event;
use aivm_core::genesis::{Genesis, GenesisError, GenesisProvider};
use aivm_core::providers::ProviderStatus;
use aivm_core::tasks::TaskStatus;
use aivm_core::tx::{Action, GpuInfo};
use aivm_core::types::{Address, Amount, Hash, ModelId, ProviderId, TaskId, TaskType};
use aivm_core::{SignedTx, State};

/// One token in base units.
pub const TOKEN: Amount = 1_000_000_000_000_000_000;
/// 2026-01-01T00:00:00Z: an epoch boundary the demo crosses.
const EPOCH_ANCHOR_MS: u64 = 1_767_225_600_000;
/// A model registered by a client and served by a provider that joins later.
const CLIENT_MODEL: &str = "demo-llm-7b";
/// A model no provider serves: its tasks time out and are refunded.
const ORPHAN_MODEL: &str = "orphan-vision-2b";
/// Seed of the demo's TEE attestor key (trusted in TEE mode).
const ATTESTOR_SEED: [u8; 32] = *b"aivm demo tee attestor key seed!";
/// Blocks between two attestation refreshes (evidence counts for the
/// AttestationTimeout, 30 s of header time by default).
const ATTEST_EVERY: u64 = 10;

/// What to generate.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub blocks: u64,
    pub providers: u32,
    pub clients: u32,
    pub seed: u64,
    pub config: Config,
    /// Most transfers between clients per block (at least a third of it).
    pub max_transfers: u64,
    /// Check conservation after every transaction (slow: O(state) each).
    pub check_invariants: bool,
}

impl DemoOptions {
    /// A small chain with short windows that still shows finalisation,
    /// missed deadlines, disputes, slashing, claims, anchors and invalid
    /// transactions: about 140 transactions in 40 blocks. For tests.
    pub fn small() -> Self {
        DemoOptions {
            blocks: 40,
            providers: 8,
            clients: 3,
            seed: 2,
            config: quick_config(),
            max_transfers: 1,
            check_invariants: true,
        }
    }
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            blocks: 400,
            providers: 32,
            clients: 48,
            seed: 1,
            config: Config::default(),
            max_transfers: 11,
            check_invariants: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo genesis is invalid: {0}")]
    Genesis(#[from] GenesisError),
    #[error("the demo built a block the core refused: {0}")]
    Chain(#[from] ChainError),
    #[error("{0}")]
    Options(String),
}

/// A small deterministic generator (SplitMix64): stable across versions of
/// any crate, so a seed always gives the same chain.
#[derive(Clone, Debug)]
pub struct DemoRng(u64);

impl DemoRng {
    pub fn new(seed: u64) -> Self {
        DemoRng(seed ^ 0x5eed_a1f0_c0de_d00d)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64().checked_rem(n).unwrap_or(0)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }
}

fn digest(domain: &str, parts: &[&[u8]]) -> Hash {
    let mut hasher = blake3::Hasher::new_derive_key(domain);
    for p in parts {
        hasher.update(p);
    }
    *hasher.finalize().as_bytes()
}

/// The output an honest provider computes for a task.
pub fn honest_output(task: &TaskId) -> Hash {
    digest("aivm demo honest output", &[&task.0])
}

fn wrong_output(task: &TaskId) -> Hash {
    digest("aivm demo wrong output", &[&task.0])
}

fn salt(task: &TaskId, who: &[u8]) -> Hash {
    digest("aivm demo salt", &[&task.0, who])
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Reliable,
    /// Misses one assignment in four.
    Flaky,
    /// Posts a wrong output for one task in two.
    Cheat,
}

#[derive(Clone, Debug)]
struct DemoProvider {
    owner: String,
    id: Option<ProviderId>,
    behaviour: Behaviour,
    withdrawn: bool,
}

/// Something an actor does at a given height.
#[derive(Clone, Debug)]
enum Job {
    Post {
        task: TaskId,
        provider: ProviderId,
        owner: String,
        honest: bool,
    },
    Challenge {
        task: TaskId,
        claim_out: Hash,
    },
    Commit {
        task: TaskId,
        referee: ProviderId,
        owner: String,
        out: Hash,
    },
    Reveal {
        task: TaskId,
        referee: ProviderId,
        owner: String,
        out: Hash,
    },
    RevealClaim {
        task: TaskId,
        out: Hash,
    },
    /// An M-of-N member reveals once the reveal phase is open (until `until`).
    RevealWhenOpen {
        task: TaskId,
        member: ProviderId,
        owner: String,
        out: Hash,
        until: u64,
    },
    Withdraw {
        index: usize,
        attempted: bool,
    },
}

struct Driver {
    rng: DemoRng,
    chain: Chain,
    providers: Vec<DemoProvider>,
    owner_of: BTreeMap<ProviderId, String>,
    clients: Vec<String>,
    agenda: BTreeMap<u64, Vec<Job>>,
    /// The output the watcher claimed when it challenged a task.
    claims: BTreeMap<TaskId, Hash>,
    /// A transaction already applied, replayed later to show a nonce rejection.
    replay_me: Option<SignedTx>,
    submit_rate: u64,
    max_transfers: u64,
    blocks: u64,
    mode: VerificationMode,
    /// Software stack version per provider index (TEE mode).
    stack_versions: BTreeMap<usize, u32>,
}

const GPUS: &[(&str, u32)] = &[
    ("NVIDIA H100 80GB", 80),
    ("NVIDIA A100 40GB", 40),
    ("NVIDIA GeForce RTX 4090", 24),
    ("NVIDIA L40S", 48),
    ("NVIDIA B200", 192),
    ("AMD Instinct MI300X", 192),
];
const DEFAULT_MODELS: &[&str] = &["zen-coder-1.5b", "zen-mini-0.5b", "qwen3-8b"];
const WATCHER: &str = "watcher";
const GOVERNANCE: &str = "governance";
const SPAMMER: &str = "spammer";

fn demo_genesis(opts: &DemoOptions) -> Genesis {
    let mut balances: Vec<(Address, Amount)> = Vec::new();
    for i in 0..opts.clients {
        balances.push((Chain::addr(&format!("client-{i}")), 10_000 * TOKEN));
    }
    for i in 0..=opts.providers {
        balances.push((Chain::addr(&format!("provider-{i}")), 100 * TOKEN));
    }
    for (who, amount) in [
        (WATCHER, 1_000 * TOKEN),
        (GOVERNANCE, TOKEN),
        (SPAMMER, TOKEN),
    ] {
        balances.push((Chain::addr(who), amount));
    }
    let mut g = Genesis::new("aivm-demo", balances);
    g.config = opts.config.clone();
    g.governance = Some(Chain::addr(GOVERNANCE));
    // Cross an epoch boundary at block 130 (at the default block time),
    // whatever the length of the run, so that runs of different lengths share
    // their prefix.
    g.time_ms = EPOCH_ANCHOR_MS - 130 * aivm_core::chain::DEFAULT_BLOCK_TIME_MS;
    g
}

/// The default config with every window and phase shortened, so that a few
/// dozen blocks show finalisation, disputes, anchors and unbonding. For tests
/// and quick looks; [`DemoOptions::default`] keeps the default config.
pub fn quick_config() -> Config {
    Config {
        challenge_window_blocks: 6,
        tee_challenge_window_blocks: 2,
        result_deadline_blocks: 3,
        referee_commit_blocks: 2,
        referee_reveal_blocks: 2,
        commit_phase_blocks: 2,
        reveal_phase_blocks: 2,
        unbond_cooldown_blocks: 5,
        merkle_anchor_freq: 5,
        ..Config::default()
    }
}

/// `config` switched to another verification mode; TEE mode trusts the
/// demo's attestor.
pub fn with_mode(mut config: Config, mode: VerificationMode) -> Config {
    config.verification_mode = mode;
    if mode == VerificationMode::TeeAttested && config.trusted_attestors.is_empty() {
        config.trusted_attestors = vec![public_key_from_seed(&ATTESTOR_SEED)];
    }
    config
}

/// Evidence about `owner`'s GPU, issued at `now_ms` and signed by the demo attestor.
fn attestation(owner: &Address, gpu: &str, measurement: Hash, now_ms: u64) -> SignedAttestation {
    let evidence = AttestationEvidence {
        tee_type: TeeType::Nvidia,
        kind: EvidenceKind::GpuLocal,
        device_model: gpu.to_string(),
        measurement,
        cc_enabled: true,
        tee_io: true,
        rim_verified: true,
        benchmark_ok: true,
        driver_ok: true,
        issued_at_ms: now_ms,
        expires_at_ms: now_ms + 3_600_000,
        provider_key: owner.0,
        attestor: public_key_from_seed(&ATTESTOR_SEED),
    };
    sign_attestation(&ATTESTOR_SEED, evidence)
}

/// Generates the demo chain.
pub fn generate(opts: &DemoOptions) -> Result<Chain, DemoError> {
    if opts.providers < 4 || opts.clients < 2 {
        return Err(DemoError::Options(
            "the demo needs at least 4 providers and 2 clients".into(),
        ));
    }
    let mut chain = Chain::new(demo_genesis(opts))?;
    chain.check_invariants = opts.check_invariants;
    let providers = (0..opts.providers)
        .map(|i| DemoProvider {
            owner: format!("provider-{i}"),
            id: None,
            behaviour: match i % 8 {
                3 => Behaviour::Flaky,
                6 => Behaviour::Cheat,
                _ => Behaviour::Reliable,
            },
            withdrawn: false,
        })
        .collect();
    let mut d = Driver {
        rng: DemoRng::new(opts.seed),
        chain,
        providers,
        owner_of: BTreeMap::new(),
        clients: (0..opts.clients).map(|i| format!("client-{i}")).collect(),
        agenda: BTreeMap::new(),
        claims: BTreeMap::new(),
        replay_me: None,
        // Each provider holds at most max_tasks_per_provider tasks for about a
        // challenge window: submit about what they can absorb.
        submit_rate: (u64::from(opts.providers) * 10 / 110).max(1),
        max_transfers: opts.max_transfers,
        blocks: opts.blocks,
        mode: opts.config.verification_mode,
        stack_versions: BTreeMap::new(),
    };
    for _ in 0..opts.blocks {
        d.step()?;
    }
    Ok(d.chain)
}

impl Driver {
    fn height(&self) -> u64 {
        self.chain.state.height() + 1
    }

    fn step(&mut self) -> Result<(), DemoError> {
        let h = self.height();
        let mut txs = Vec::new();
        if h == 1 {
            self.opening(&mut txs);
        }
        self.scripted(h, &mut txs);
        self.due_jobs(h, &mut txs);
        self.submissions(&mut txs);
        self.transfers(&mut txs);
        if h % 50 == 25 {
            self.claims(&mut txs);
        }
        if h > 1 && h % ATTEST_EVERY == 1 && self.mode == VerificationMode::TeeAttested {
            self.refresh_attestations(&mut txs);
        }
        let outcome = self.chain.block(txs)?.clone();
        self.react(&outcome);
        Ok(())
    }

    /// Block 1: providers register, a client registers a model nobody serves yet.
    fn opening(&mut self, txs: &mut Vec<SignedTx>) {
        for i in 0..self.providers.len() {
            let owner = self.providers[i].owner.clone();
            let action = self.registration(i, &[]);
            txs.push(self.chain.tx(&owner, action));
        }
        for id in [CLIENT_MODEL, ORPHAN_MODEL] {
            let action = Action::RegisterModel {
                id: id.to_string(),
                weights_hash: digest("aivm demo weights", &[id.as_bytes()]),
                task_types: vec![TaskType::Inference, TaskType::Embedding],
                context_length: 8_192,
            };
            txs.push(self.chain.tx("client-0", action));
        }
    }

    fn registration(&mut self, i: usize, extra_models: &[&str]) -> Action {
        let (gpu, mem) = GPUS[i % GPUS.len()];
        let mut models: Vec<ModelId> = DEFAULT_MODELS
            .iter()
            .filter(|_| self.rng.chance(2, 3))
            .map(|m| m.to_string())
            .collect();
        if models.is_empty() {
            models.push(DEFAULT_MODELS[i % DEFAULT_MODELS.len()].to_string());
        }
        models.extend(extra_models.iter().map(|m| m.to_string()));
        let owner = Chain::addr(&format!("provider-{i}"));
        let measurement = self.measurement(i);
        let attestation = self
            .attests(i)
            .then(|| attestation(&owner, gpu, measurement, self.next_time()));
        Action::RegisterProvider {
            endpoint: format!("https://provider-{i}.example.net:8443/v1"),
            gpus: vec![GpuInfo {
                model: gpu.to_string(),
                memory_gb: mem,
                count: 1 + self.rng.below(8) as u32,
            }],
            models,
            // 1.5 to 5 tokens: enough to stay eligible after a missed-deadline slash.
            bond: 3 * TOKEN / 2 + Amount::from(self.rng.below(8)) * TOKEN / 2,
            attestation,
        }
    }

    /// In TEE mode, providers with data-centre GPUs attest (two in three).
    fn attests(&self, i: usize) -> bool {
        self.mode == VerificationMode::TeeAttested && i % 3 != 2
    }

    /// The measurement of provider `i`'s software stack: each runs its own
    /// build, upgraded when a fraud proof revokes it.
    fn measurement(&self, i: usize) -> Hash {
        let version = self.stack_versions.get(&i).copied().unwrap_or(0);
        digest(
            "aivm demo measurement",
            &[&(i as u64).to_le_bytes(), &version.to_le_bytes()],
        )
    }

    /// Header time of the block being built.
    fn next_time(&self) -> u64 {
        self.chain.next_block(Vec::new()).header.time_ms
    }

    /// Attested providers refresh their evidence before it goes stale.
    fn refresh_attestations(&mut self, txs: &mut Vec<SignedTx>) {
        let now = self.next_time();
        for (i, p) in self.providers.clone().iter().enumerate() {
            let (Some(id), false, true) = (p.id, p.withdrawn, self.attests(i)) else {
                continue;
            };
            // A leaving provider stops attesting.
            if self
                .chain
                .state
                .provider(&id)
                .is_none_or(|s| s.status != ProviderStatus::Active)
            {
                continue;
            }
            let owner = Chain::addr(&p.owner);
            let gpu = GPUS[i % GPUS.len()].0;
            let att = attestation(&owner, gpu, self.measurement(i), now);
            let action = Action::Attest {
                provider: id,
                attestation: att,
            };
            txs.push(self.chain.tx(&p.owner, action));
        }
    }

    /// One-off events at fixed points of the run.
    fn scripted(&mut self, h: u64, txs: &mut Vec<SignedTx>) {
        let n = self.blocks;
        if h == 20 {
            // A latecomer serving the client's model (and so its tasks).
            let i = self.providers.len();
            self.providers.push(DemoProvider {
                owner: format!("provider-{i}"),
                id: None,
                behaviour: Behaviour::Reliable,
                withdrawn: false,
            });
            let action = self.registration(i, &[CLIENT_MODEL]);
            txs.push(self.chain.tx(&format!("provider-{i}"), action));
        }
        if h == n / 5 {
            if let Some(id) = self.providers[0].id {
                let owner = self.providers[0].owner.clone();
                txs.push(self.chain.tx(
                    &owner,
                    Action::TopUpBond {
                        provider: id,
                        amount: 2 * TOKEN,
                    },
                ));
            }
        }
        if h == n / 4 {
            // The second provider leaves: unbond now, withdraw once the cooldown is over.
            if let Some(id) = self.providers[1].id {
                let owner = self.providers[1].owner.clone();
                txs.push(self.chain.tx(&owner, Action::Unbond { provider: id }));
                let at = h + self.chain.state.config().unbond_cooldown_blocks + 1;
                self.schedule(
                    at,
                    Job::Withdraw {
                        index: 1,
                        attempted: false,
                    },
                );
            }
        }
        if h == n * 3 / 4 {
            let action = Action::RetireModel {
                id: ORPHAN_MODEL.to_string(),
            };
            txs.push(self.chain.tx(GOVERNANCE, action));
        }
        if h % 97 == 13 {
            self.invalid_txs(txs);
        }
    }

    /// A bad signature, a replayed transaction and an overdraft.
    fn invalid_txs(&mut self, txs: &mut Vec<SignedTx>) {
        let to = Chain::addr("client-1");
        let mut forged = self.chain.tx(SPAMMER, Action::Transfer { to, amount: 1 });
        forged.signature.0[7] ^= 0x20;
        txs.push(forged);
        if let Some(old) = self.replay_me.take() {
            txs.push(old);
        }
        let overdraft = Action::Transfer {
            to,
            amount: 1_000_000 * TOKEN,
        };
        txs.push(self.chain.tx("client-1", overdraft));
    }

    fn due_jobs(&mut self, h: u64, txs: &mut Vec<SignedTx>) {
        let Some(jobs) = self.agenda.remove(&h) else {
            return;
        };
        for job in jobs {
            match job {
                Job::Post {
                    task,
                    provider,
                    owner,
                    honest,
                } => {
                    let out = if honest {
                        honest_output(&task)
                    } else {
                        wrong_output(&task)
                    };
                    let action = Action::SubmitResult {
                        task,
                        provider,
                        output_hash: out,
                        inline_output: if self.rng.chance(1, 4) {
                            b"ok: 42 tokens".to_vec()
                        } else {
                            Vec::new()
                        },
                        compute_time_ms: 40 + self.rng.below(20_000),
                    };
                    txs.push(self.chain.tx(&owner, action));
                }
                Job::Challenge { task, claim_out } => {
                    let me = Chain::addr(WATCHER);
                    let claim = claim_commitment(&task, &me, &claim_out, &salt(&task, &me.0));
                    txs.push(self.chain.tx(WATCHER, Action::Challenge { task, claim }));
                    self.claims.insert(task, claim_out);
                }
                Job::Commit {
                    task,
                    referee,
                    owner,
                    out,
                } => {
                    let commitment =
                        output_commitment(&task, &referee, &out, &salt(&task, &referee.0));
                    let action = Action::CommitOutput {
                        task,
                        provider: referee,
                        commitment,
                    };
                    txs.push(self.chain.tx(&owner, action));
                }
                Job::Reveal {
                    task,
                    referee,
                    owner,
                    out,
                } => {
                    let action = Action::RevealOutput {
                        task,
                        provider: referee,
                        output_hash: out,
                        salt: salt(&task, &referee.0),
                    };
                    txs.push(self.chain.tx(&owner, action));
                }
                Job::RevealClaim { task, out } => {
                    let me = Chain::addr(WATCHER);
                    let action = Action::RevealClaim {
                        task,
                        output_hash: out,
                        salt: salt(&task, &me.0),
                    };
                    txs.push(self.chain.tx(WATCHER, action));
                }
                Job::RevealWhenOpen {
                    task,
                    member,
                    owner,
                    out,
                    until,
                } => match self.chain.state.task(&task).map(|t| t.status) {
                    Some(TaskStatus::Revealing) => {
                        let action = Action::RevealOutput {
                            task,
                            provider: member,
                            output_hash: out,
                            salt: salt(&task, &member.0),
                        };
                        txs.push(self.chain.tx(&owner, action));
                    }
                    Some(TaskStatus::Committing) if h < until => self.schedule(
                        h + 1,
                        Job::RevealWhenOpen {
                            task,
                            member,
                            owner,
                            out,
                            until,
                        },
                    ),
                    _ => {}
                },
                Job::Withdraw { index, attempted } => self.withdraw(h, index, attempted, txs),
            }
        }
    }

    fn withdraw(&mut self, h: u64, index: usize, attempted: bool, txs: &mut Vec<SignedTx>) {
        let Some(p) = self.providers.get(index).cloned() else {
            return;
        };
        let (Some(id), false) = (p.id, p.withdrawn) else {
            return;
        };
        let Some(state) = self.chain.state.provider(&id) else {
            return;
        };
        // One early attempt shows the refusal while results are still open;
        // after that, try again once nothing is locked any more.
        let idle = state.open_tasks == 0 && state.locked == 0;
        if idle || !attempted {
            txs.push(
                self.chain
                    .tx(&p.owner, Action::WithdrawBond { provider: id }),
            );
        }
        if !idle {
            self.schedule(
                h + 10,
                Job::Withdraw {
                    index,
                    attempted: true,
                },
            );
        }
    }

    fn submissions(&mut self, txs: &mut Vec<SignedTx>) {
        let count = self.rng.below(2 * self.submit_rate + 1);
        for _ in 0..count {
            let Some(client) = self.rng.pick(&self.clients).cloned() else {
                return;
            };
            let model = match self.rng.below(40) {
                0 => ORPHAN_MODEL,
                1..=3 => CLIENT_MODEL,
                _ => DEFAULT_MODELS[self.rng.below(DEFAULT_MODELS.len() as u64) as usize],
            };
            let served = if model == CLIENT_MODEL || model == ORPHAN_MODEL {
                vec![TaskType::Inference, TaskType::Embedding]
            } else {
                TaskType::ALL.to_vec()
            };
            let task_type = served[self.rng.below(served.len() as u64) as usize];
            let nonce = self.rng.next_u64();
            let action = Action::SubmitTask {
                model: model.to_string(),
                task_type,
                input_hash: digest(
                    "aivm demo input",
                    &[client.as_bytes(), &nonce.to_le_bytes()],
                ),
                inline_input: if self.rng.chance(1, 3) {
                    format!("prompt {nonce:x}: summarise the attached document").into_bytes()
                } else {
                    Vec::new()
                },
                fee: Amount::from(1 + self.rng.below(1_000)) * 1_000_000_000_000,
                redundancy: None,
            };
            txs.push(self.chain.tx(&client, action));
        }
    }

    fn transfers(&mut self, txs: &mut Vec<SignedTx>) {
        let min = self.max_transfers / 3;
        for _ in 0..min + self.rng.below(self.max_transfers - min + 1) {
            let (Some(from), Some(to)) = (
                self.rng.pick(&self.clients).cloned(),
                self.rng.pick(&self.clients).cloned(),
            ) else {
                return;
            };
            if from == to {
                continue;
            }
            let amount = Amount::from(1 + self.rng.below(1_000)) * TOKEN / 1_000;
            let tx = self.chain.tx(
                &from,
                Action::Transfer {
                    to: Chain::addr(&to),
                    amount,
                },
            );
            if self.replay_me.is_none() {
                self.replay_me = Some(tx.clone());
            }
            txs.push(tx);
        }
    }

    fn claims(&mut self, txs: &mut Vec<SignedTx>) {
        for p in self.providers.clone() {
            let Some(id) = p.id else { continue };
            let pending = self
                .chain
                .state
                .provider(&id)
                .map_or(0, |s| s.stats.pending_rewards);
            if pending > 0 && !p.withdrawn {
                txs.push(
                    self.chain
                        .tx(&p.owner, Action::ClaimRewards { provider: id }),
                );
            }
        }
    }

    fn schedule(&mut self, at: u64, job: Job) {
        self.agenda.entry(at).or_default().push(job);
    }

    /// Reacts to what the block did: providers learn their assignments,
    /// the watcher sees results, referees see disputes.
    fn react(&mut self, outcome: &aivm_core::BlockOutcome) {
        let h = outcome.height;
        let events: Vec<Event> = outcome
            .receipts
            .iter()
            .flat_map(|r| r.events.iter())
            .chain(outcome.end_events.iter())
            .cloned()
            .collect();
        for e in events {
            match e {
                Event::ProviderRegistered {
                    provider, owner, ..
                } => {
                    if let Some(p) = self
                        .providers
                        .iter_mut()
                        .find(|p| Chain::addr(&p.owner) == owner && p.id.is_none())
                    {
                        p.id = Some(provider);
                        self.owner_of.insert(provider, p.owner.clone());
                    }
                }
                Event::BondWithdrawn { provider, .. } => {
                    if let Some(p) = self.providers.iter_mut().find(|p| p.id == Some(provider)) {
                        p.withdrawn = true;
                    }
                }
                Event::TaskAssigned {
                    task,
                    provider,
                    deadline_height,
                } => self.on_assigned(h, task, provider, deadline_height),
                Event::ResultPosted {
                    task, output_hash, ..
                } => self.on_posted(h, task, output_hash),
                Event::DisputeOpened {
                    task,
                    referees,
                    commit_end,
                    reveal_end,
                } => self.on_dispute(h, task, &referees, commit_end, reveal_end),
                Event::MeasurementRevoked { measurement } => {
                    let hit: Vec<usize> = (0..self.providers.len())
                        .filter(|i| self.measurement(*i) == measurement)
                        .collect();
                    for i in hit {
                        *self.stack_versions.entry(i).or_default() += 1;
                    }
                }
                Event::CommitteeDrawn {
                    task,
                    providers,
                    reveal_end,
                    ..
                } => self.on_committee(h, task, &providers, reveal_end),
                _ => {}
            }
        }
    }

    fn on_assigned(&mut self, h: u64, task: TaskId, provider: ProviderId, deadline: u64) {
        let Some(p) = self
            .providers
            .iter()
            .find(|p| p.id == Some(provider))
            .cloned()
        else {
            return;
        };
        let honest = match p.behaviour {
            Behaviour::Flaky if self.rng.chance(1, 4) => return, // offline: misses the deadline
            Behaviour::Cheat => !self.rng.chance(1, 2),
            _ => true,
        };
        // Within the deadline: only the flaky miss theirs.
        let delay = 1 + self.rng.below(deadline.saturating_sub(h).clamp(1, 4));
        self.schedule(
            h + delay,
            Job::Post {
                task,
                provider,
                owner: p.owner,
                honest,
            },
        );
    }

    /// The watcher recomputes every result; it challenges wrong ones, and
    /// now and then (mistakenly) a right one.
    fn on_posted(&mut self, h: u64, task: TaskId, output: Hash) {
        let right = honest_output(&task);
        let frivolous = output == right && self.rng.chance(1, 150);
        if output != right || frivolous {
            let claim_out = if frivolous {
                wrong_output(&task)
            } else {
                right
            };
            let at = h + 1 + self.rng.below(3);
            self.schedule(at, Job::Challenge { task, claim_out });
        }
    }

    /// M-of-N: every member commits next block (so the reveal phase opens at
    /// once) and reveals when it is open; a flaky member sometimes never
    /// reveals (withholding), a cheat sometimes reveals another output.
    fn on_committee(&mut self, h: u64, task: TaskId, members: &[ProviderId], reveal_end: u64) {
        for member in members {
            let Some(p) = self
                .providers
                .iter()
                .find(|p| p.id == Some(*member))
                .cloned()
            else {
                continue;
            };
            let out = match p.behaviour {
                Behaviour::Cheat if self.rng.chance(1, 2) => wrong_output(&task),
                _ => honest_output(&task),
            };
            self.schedule(
                h + 1,
                Job::Commit {
                    task,
                    referee: *member,
                    owner: p.owner.clone(),
                    out,
                },
            );
            if p.behaviour == Behaviour::Flaky && self.rng.chance(1, 4) {
                continue;
            }
            let job = Job::RevealWhenOpen {
                task,
                member: *member,
                owner: p.owner,
                out,
                until: reveal_end,
            };
            self.schedule(h + 2, job);
        }
    }

    fn on_dispute(
        &mut self,
        h: u64,
        task: TaskId,
        referees: &[ProviderId],
        commit_end: u64,
        reveal_end: u64,
    ) {
        let out = honest_output(&task);
        for referee in referees {
            let Some(owner) = self.owner_of.get(referee).cloned() else {
                continue;
            };
            // One referee in twenty does not show up and is slashed for it.
            if self.rng.chance(1, 20) {
                continue;
            }
            let commit_at = h + 1 + self.rng.below(commit_end.saturating_sub(h).clamp(1, 5));
            self.schedule(
                commit_at,
                Job::Commit {
                    task,
                    referee: *referee,
                    owner: owner.clone(),
                    out,
                },
            );
            let reveal_at = commit_end
                + 1
                + self
                    .rng
                    .below(reveal_end.saturating_sub(commit_end).clamp(1, 3));
            self.schedule(
                reveal_at,
                Job::Reveal {
                    task,
                    referee: *referee,
                    owner,
                    out,
                },
            );
        }
        if let (Some(out), false) = (self.claims.get(&task).copied(), referees.is_empty()) {
            self.schedule(commit_end + 1, Job::RevealClaim { task, out });
        }
    }
}

/// The replay benchmark's chain: at least `min_txs` transactions, about 100
/// a block, mostly transfers, with task submissions and their results.
pub fn bench_chain(min_txs: u64, seed: u64) -> Result<Chain, DemoError> {
    const CLIENTS: u32 = 2_000;
    const PROVIDERS: u32 = 256;
    const PER_BLOCK: usize = 100;
    let mut balances = Vec::new();
    let clients: Vec<String> = (0..CLIENTS).map(|i| format!("bench-client-{i}")).collect();
    for c in &clients {
        balances.push((Chain::addr(c), 1_000_000 * TOKEN));
    }
    let owners: Vec<String> = (0..PROVIDERS)
        .map(|i| format!("bench-provider-{i}"))
        .collect();
    for o in &owners {
        balances.push((Chain::addr(o), 1_000 * TOKEN));
    }
    let mut g = Genesis::new("aivm-bench", balances);
    let mut ids = BTreeMap::new();
    for (i, o) in owners.iter().enumerate() {
        let owner = Chain::addr(o);
        g.providers.push(GenesisProvider {
            owner,
            endpoint: format!("https://bench-{i}.example.net"),
            gpus: vec![GpuInfo {
                model: GPUS[i % GPUS.len()].0.to_string(),
                memory_gb: 80,
                count: 8,
            }],
            models: DEFAULT_MODELS.iter().map(|m| m.to_string()).collect(),
            bond: 20 * TOKEN,
        });
        ids.insert(ProviderId::genesis(&owner, i as u64), o.clone());
    }
    let mut chain = Chain::new(g)?;
    chain.check_invariants = false;
    let mut rng = DemoRng::new(seed);
    let mut due: BTreeMap<u64, Vec<(TaskId, ProviderId)>> = BTreeMap::new();
    let mut total = 0u64;
    while total < min_txs {
        let h = chain.state.height() + 1;
        let mut txs = Vec::with_capacity(PER_BLOCK);
        for (task, provider) in due.remove(&h).unwrap_or_default() {
            let action = Action::SubmitResult {
                task,
                provider,
                output_hash: honest_output(&task),
                inline_output: Vec::new(),
                compute_time_ms: 50 + rng.below(5_000),
            };
            if let Some(owner) = ids.get(&provider) {
                txs.push(chain.tx(owner, action));
            }
        }
        for _ in 0..15 {
            let client = &clients[rng.below(u64::from(CLIENTS)) as usize];
            let action = Action::SubmitTask {
                model: DEFAULT_MODELS[rng.below(3) as usize].to_string(),
                task_type: TaskType::ALL[rng.below(4) as usize],
                input_hash: digest("aivm bench input", &[&rng.next_u64().to_le_bytes()]),
                inline_input: Vec::new(),
                fee: 1_000_000_000,
                redundancy: None,
            };
            txs.push(chain.tx(client, action));
        }
        while txs.len() < PER_BLOCK {
            let from = &clients[rng.below(u64::from(CLIENTS)) as usize];
            let to = Chain::addr(&clients[rng.below(u64::from(CLIENTS)) as usize]);
            txs.push(chain.tx(
                from,
                Action::Transfer {
                    to,
                    amount: 1 + Amount::from(rng.below(1_000_000)),
                },
            ));
        }
        total += txs.len() as u64;
        let outcome = chain.block(txs)?;
        for e in &outcome.end_events {
            if let Event::TaskAssigned { task, provider, .. } = e {
                due.entry(h + 1).or_default().push((*task, *provider));
            }
        }
    }
    Ok(chain)
}

/// Final task counts by status name, for summaries.
pub fn task_counts(state: &State) -> Vec<(String, u64)> {
    state
        .task_counts()
        .into_iter()
        .map(|(s, n)| (s.name().to_string(), n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_chain_and_another_seed_another() {
        let opts = DemoOptions {
            blocks: 8,
            ..DemoOptions::small()
        };
        let a = generate(&opts).expect("builds");
        let b = generate(&opts).expect("builds");
        assert_eq!(a.blocks, b.blocks);
        assert_eq!(a.state.state_root(), b.state.state_root());
        let c = generate(&DemoOptions { seed: 9, ..opts }).expect("builds");
        assert_ne!(a.state.state_root(), c.state.state_root());
    }

    #[test]
    fn the_small_demo_shows_every_kind_of_activity() {
        let s = fixture::small();
        let kinds: std::collections::BTreeSet<&str> = s
            .blocks
            .iter()
            .flat_map(|b| &b.txs)
            .map(|t| t.body.action.kind())
            .collect();
        for k in [
            "transfer",
            "register_model",
            "retire_model",
            "register_provider",
            "top_up_bond",
            "unbond",
            "withdraw_bond",
            "submit_task",
            "submit_result",
            "challenge",
            "reveal_claim",
            "commit_output",
            "reveal_output",
            "claim_rewards",
        ] {
            assert!(kinds.contains(k), "no {k} in {kinds:?}");
        }
        let end: Vec<&Event> = s.outcomes.iter().flat_map(|o| &o.end_events).collect();
        assert!(end.iter().any(|e| matches!(e, Event::TaskFailed { .. })));
        assert!(end
            .iter()
            .any(|e| matches!(e, Event::DisputeResolved { .. })));
        assert!(s.outcomes.iter().any(|o| o.anchor.is_some()));
    }

    #[test]
    fn redundant_and_tee_modes_build() {
        for (mode, kinds) in [
            (
                VerificationMode::MultiPartyRedundant,
                ["commit_output", "reveal_output"],
            ),
            (
                VerificationMode::TeeAttested,
                ["attest", "register_provider"],
            ),
        ] {
            let opts = DemoOptions {
                blocks: 12,
                providers: 12,
                max_transfers: 0,
                config: with_mode(quick_config(), mode),
                ..DemoOptions::small()
            };
            let chain = generate(&opts).expect("builds");
            let seen: std::collections::BTreeSet<&str> = chain
                .blocks
                .iter()
                .flat_map(|b| &b.txs)
                .map(|t| t.body.action.kind())
                .collect();
            assert!(kinds.iter().all(|k| seen.contains(k)), "{mode:?}: {seen:?}");
            let failed = chain
                .outcomes
                .iter()
                .flat_map(|o| &o.receipts)
                .filter(|r| matches!(r.status, aivm_core::TxStatus::Failed(_)))
                .count();
            assert!(failed <= 3, "{mode:?}: {failed} failed receipts");
        }
    }

    #[test]
    fn options_are_checked() {
        let err = generate(&DemoOptions {
            providers: 2,
            ..DemoOptions::small()
        });
        assert!(matches!(err, Err(DemoError::Options(_))));
    }
}

/// The small chain of [`DemoOptions::small`], built once per test binary, and
/// helpers to re-write its log with damage.
#[cfg(test)]
pub(crate) mod fixture {
    use std::sync::OnceLock;

    use aivm_core::encoding::encode;
    use aivm_core::types::Hash;
    use aivm_core::{Block, BlockOutcome, Genesis};

    use super::{generate, DemoOptions};
    use crate::log::{FrameData, LogWriter, SyncPolicy};
    use crate::record::{chain_to_bytes, log_header};

    pub struct Small {
        pub genesis: Genesis,
        pub blocks: Vec<Block>,
        pub outcomes: Vec<BlockOutcome>,
        pub bytes: Vec<u8>,
    }

    pub fn small() -> &'static Small {
        static SMALL: OnceLock<Small> = OnceLock::new();
        SMALL.get_or_init(|| {
            let chain = generate(&DemoOptions::small()).expect("the small demo builds");
            let bytes =
                chain_to_bytes(&chain.genesis, &chain.blocks, &chain.outcomes).expect("writes");
            Small {
                genesis: chain.genesis,
                blocks: chain.blocks,
                outcomes: chain.outcomes,
                bytes,
            }
        })
    }

    /// One frame's parts, editable.
    pub struct Frame {
        pub height: u64,
        pub block: Vec<u8>,
        pub state_root: Hash,
        pub results_root: Hash,
        pub outcome: Vec<u8>,
    }

    /// Re-writes the small chain's log (valid checksums) after `edit`, which
    /// may change a frame or drop it (return false).
    pub fn relog(mut edit: impl FnMut(&mut Frame) -> bool) -> Vec<u8> {
        let s = small();
        let mut w =
            LogWriter::new(Vec::new(), &log_header(&s.genesis), SyncPolicy::Never).expect("header");
        let mut next = 1;
        for (b, o) in s.blocks.iter().zip(&s.outcomes) {
            let mut f = Frame {
                height: b.header.height,
                block: encode(b),
                state_root: o.state_root,
                results_root: o.results_root,
                outcome: encode(o),
            };
            if !edit(&mut f) {
                continue;
            }
            // A dropped frame shifts the heights the writer accepts: keep them sequential.
            w.append(&FrameData {
                height: next,
                block: &f.block,
                state_root: f.state_root,
                results_root: f.results_root,
                outcome: &f.outcome,
            })
            .expect("append");
            next += 1;
        }
        w.finish().expect("finish")
    }
}
