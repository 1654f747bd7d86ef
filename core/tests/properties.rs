//! Property tests of issue 2:
//! * random transaction sequences (every kind, valid and invalid, over several blocks, in every
//!   verification mode) never panic, keep the invariants after every transaction, keep the
//!   incremental root equal to a full rebuild after every block, and replay to the same outcomes;
//! * transactions with disjoint conflict keys commute;
//! * each committed collection's root equals a full rebuild and `rs_merkle`'s root, whose proofs
//!   verify;
//! * canonical encoding: round trips, mutated bytes never decode to a different encoding, trailing
//!   bytes are refused, garbage never panics.
//!
//! Case counts are modest so the file stays fast in debug builds; `PROPTEST_CASES` raises them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use aivm_core::attestation::{AttestationEvidence, EvidenceKind, SignedAttestation, TeeType};
use aivm_core::commit::tree::{leaf_hash, reference_root, NodeHasher};
use aivm_core::config::RewardSchedule;
use aivm_core::dispute::{claim_commitment, output_commitment};
use aivm_core::encoding::{decode, encode};
use aivm_core::error::DecodeError;
use aivm_core::genesis::GenesisProvider;
use aivm_core::models::Model;
use aivm_core::state::{Collection, State};
use aivm_core::tasks::TaskStatus;
use aivm_core::tx::{key_from_name, AuthError, ConflictKey, GpuInfo, Redundancy};
use aivm_core::types::{Sig64, TaskType};
use aivm_core::{
    apply_block_in_place, apply_observed, apply_verified_block, apply_verified_block_in_place,
    Action, Address, Block, BlockOutcome, Config, Genesis, Header, ProviderId, SignedTx, TaskId,
    TxBody, VerificationMode, VerifiedTx,
};
use ed25519_zebra::SigningKey;
use proptest::prelude::*;
use rs_merkle::MerkleTree;
use serde::{de::DeserializeOwned, Serialize};

const E18: u128 = 1_000_000_000_000_000_000;
const CHAIN: &str = "aivm-props";
/// Funded actors, then governance, then an account that holds nothing.
const NAMES: [&str; 8] = ["p0", "p1", "p2", "p3", "p4", "p5", "gov", "nobody"];
const BLOCK_MS: u64 = 2_000;

fn key(name: &str) -> SigningKey {
    static KEYS: OnceLock<BTreeMap<&'static str, SigningKey>> = OnceLock::new();
    KEYS.get_or_init(|| NAMES.iter().map(|n| (*n, key_from_name(n))).collect())[name]
}

fn addr(name: &str) -> Address {
    static ADDRS: OnceLock<BTreeMap<&'static str, Address>> = OnceLock::new();
    ADDRS.get_or_init(|| {
        NAMES
            .iter()
            .map(|n| (*n, aivm_core::tx::address_from_name(n)))
            .collect()
    })[name]
}

fn name_of(a: &Address) -> &'static str {
    NAMES
        .iter()
        .copied()
        .find(|n| addr(n) == *a)
        .unwrap_or("nobody")
}

/// Short windows and small bounds so that every path is reached within a few blocks.
fn config(mode: VerificationMode) -> Config {
    Config {
        verification_mode: mode,
        challenge_window_blocks: 3,
        tee_challenge_window_blocks: 1,
        post_finality_horizon_blocks: 4,
        result_deadline_blocks: 3,
        unbond_cooldown_blocks: 2,
        task_timeout_ms: 14_000,
        epoch_duration_ms: 9_000,
        merkle_anchor_freq: 3,
        max_requeues: 1,
        max_task_queue_size: 6,
        max_tasks_per_provider: 3,
        max_providers_per_node: 2,
        referee_count: 3,
        referee_commit_blocks: 2,
        referee_reveal_blocks: 2,
        redundancy_n: 3,
        redundancy_factor: 2,
        commit_phase_blocks: 2,
        reveal_phase_blocks: 2,
        reward_schedule: RewardSchedule::LuxV1,
        ..Config::default()
    }
}

fn genesis(mode: VerificationMode) -> Genesis {
    let mut g = Genesis::new(
        CHAIN,
        NAMES[..7].iter().map(|n| (addr(n), 6 * E18)).collect(),
    );
    g.config = config(mode);
    g.governance = Some(addr("gov"));
    g
}

// ---- operations -----------------------------------------------------------------------------

/// An amount, resolved against the signer's balance when the transaction is built.
#[derive(Clone, Copy, Debug)]
enum Amt {
    Small(u8),
    /// `balance * k / 8`: below, at and above what the signer holds.
    Frac(u8),
    Max,
    MinBond,
    /// A task fee comfortably above the minimum.
    Fee,
}

/// Who signs an action on a provider: its owner, or anyone.
#[derive(Clone, Copy, Debug)]
enum Who {
    Owner,
    Any(u8),
}

#[derive(Clone, Debug)]
enum Op {
    Transfer {
        from: u8,
        to: u8,
        amount: Amt,
    },
    RegisterModel {
        who: u8,
        name: u8,
        types: u8,
        context: u32,
    },
    RetireModel {
        by_gov: bool,
        who: u8,
        model: u8,
    },
    RegisterProvider {
        who: u8,
        bond: Amt,
        models: u8,
        endpoint: u16,
    },
    TopUp {
        who: Who,
        provider: u8,
        amount: Amt,
    },
    Unbond {
        who: Who,
        provider: u8,
    },
    Withdraw {
        who: Who,
        provider: u8,
    },
    Attest {
        who: Who,
        provider: u8,
        garbage: u8,
    },
    Submit {
        who: u8,
        model: u8,
        fee: Amt,
        input: u16,
        redundancy: Option<(u8, u8)>,
    },
    Result {
        who: Who,
        task: u8,
        provider: Option<u8>,
        out: u8,
        ms: u64,
        inline: u16,
    },
    Challenge {
        who: u8,
        task: u8,
        claim: u8,
    },
    RevealClaim {
        who: u8,
        task: u8,
        out: u8,
    },
    Commit {
        who: Who,
        task: u8,
        provider: u8,
        out: u8,
        garbage: bool,
    },
    Reveal {
        who: Who,
        task: u8,
        provider: u8,
        out: u8,
    },
    Claim {
        who: Who,
        provider: u8,
    },
    BadNonce {
        who: u8,
        ahead: bool,
    },
    BadSig {
        who: u8,
    },
}

fn amt() -> impl Strategy<Value = Amt> {
    prop_oneof![
        any::<u8>().prop_map(Amt::Small),
        (0u8..=12).prop_map(Amt::Frac),
        Just(Amt::Max),
        Just(Amt::MinBond),
        Just(Amt::Fee),
    ]
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![3 => Just(Who::Owner), 1 => any::<u8>().prop_map(Who::Any)]
}

fn op() -> impl Strategy<Value = Op> {
    let u = any::<u8>;
    prop_oneof![
        3 => (u(), u(), amt()).prop_map(|(from, to, amount)| Op::Transfer { from, to, amount }),
        2 => (u(), 0u8..5, u(), prop_oneof![Just(0u32), Just(4096u32)])
            .prop_map(|(who, name, types, context)| Op::RegisterModel { who, name, types, context }),
        2 => (prop::bool::weighted(0.8), u(), u())
            .prop_map(|(by_gov, who, model)| Op::RetireModel { by_gov, who, model }),
        2 => (u(), prop_oneof![3 => Just(Amt::MinBond), 1 => amt()], u(), prop_oneof![Just(0u16), Just(300u16)])
            .prop_map(|(who, bond, models, endpoint)| Op::RegisterProvider { who, bond, models, endpoint }),
        1 => (who(), u(), amt()).prop_map(|(who, provider, amount)| Op::TopUp { who, provider, amount }),
        1 => (who(), u()).prop_map(|(who, provider)| Op::Unbond { who, provider }),
        1 => (who(), u()).prop_map(|(who, provider)| Op::Withdraw { who, provider }),
        1 => (who(), u(), u()).prop_map(|(who, provider, garbage)| Op::Attest { who, provider, garbage }),
        4 => (u(), u(), prop_oneof![4 => Just(Amt::Fee), 1 => amt()],
              prop_oneof![Just(0u16), Just(5u16), Just(4097u16)],
              proptest::option::weighted(0.2, (0u8..6, 0u8..6)))
            .prop_map(|(who, model, fee, input, redundancy)| Op::Submit { who, model, fee, input, redundancy }),
        7 => (who(), u(), proptest::option::weighted(0.2, u()), 0u8..3, prop_oneof![Just(50u64), Just(5_000), Just(u64::MAX)], prop_oneof![4 => Just(0u16), 1 => Just(4097u16)])
            .prop_map(|(who, task, provider, out, ms, inline)| Op::Result { who, task, provider, out, ms, inline }),
        2 => (u(), u(), 0u8..3).prop_map(|(who, task, claim)| Op::Challenge { who, task, claim }),
        1 => (u(), u(), 0u8..3).prop_map(|(who, task, out)| Op::RevealClaim { who, task, out }),
        2 => (who(), u(), u(), 0u8..3, prop::bool::weighted(0.2))
            .prop_map(|(who, task, provider, out, garbage)| Op::Commit { who, task, provider, out, garbage }),
        2 => (who(), u(), u(), 0u8..3).prop_map(|(who, task, provider, out)| Op::Reveal { who, task, provider, out }),
        1 => (who(), u()).prop_map(|(who, provider)| Op::Claim { who, provider }),
        1 => (u(), any::<bool>()).prop_map(|(who, ahead)| Op::BadNonce { who, ahead }),
        1 => u().prop_map(|who| Op::BadSig { who }),
    ]
}

/// Statuses in which a task has committee or referee seats.
const SEATED: &[TaskStatus] = &[
    TaskStatus::Disputed,
    TaskStatus::Committing,
    TaskStatus::Revealing,
];

/// Turns operations into signed transactions against a state, tracking nonces within a block.
struct Builder<'s> {
    state: &'s State,
    nonces: BTreeMap<Address, u64>,
}

impl<'s> Builder<'s> {
    fn new(state: &'s State) -> Self {
        Builder {
            state,
            nonces: BTreeMap::new(),
        }
    }

    fn actor(i: u8) -> &'static str {
        NAMES[usize::from(i) % NAMES.len()]
    }

    fn providers(&self) -> Vec<(ProviderId, Address)> {
        self.state
            .providers()
            .iter()
            .map(|p| (p.id, p.owner))
            .collect()
    }

    fn provider(&self, i: u8) -> Option<(ProviderId, Address)> {
        let all = self.providers();
        (!all.is_empty()).then(|| all[usize::from(i) % all.len()])
    }

    fn task(&self, i: u8) -> Option<&'s aivm_core::tasks::Task> {
        let all: Vec<_> = self.state.tasks().collect();
        (!all.is_empty()).then(|| all[usize::from(i) % all.len()])
    }

    /// Mostly a task in one of `statuses` (where the action can apply), sometimes any task.
    fn task_in(&self, i: u8, statuses: &[TaskStatus]) -> Option<&'s aivm_core::tasks::Task> {
        let fitting: Vec<_> = self
            .state
            .tasks()
            .filter(|t| statuses.contains(&t.status))
            .collect();
        if fitting.is_empty() || i < 52 {
            return self.task(i);
        }
        Some(fitting[usize::from(i) % fitting.len()])
    }

    fn model(&self, i: u8) -> String {
        let all: Vec<String> = self.state.models().iter().map(|m| m.id.clone()).collect();
        all[usize::from(i) % all.len()].clone()
    }

    fn amount(&self, a: Amt, signer: &Address) -> u128 {
        match a {
            Amt::Small(n) => u128::from(n),
            Amt::Frac(k) => self.state.balance(signer) / 8 * u128::from(k),
            Amt::Max => u128::MAX,
            Amt::MinBond => self.state.config().min_provider_bond,
            Amt::Fee => 2_000_000,
        }
    }

    fn signer(&self, who: Who, owner: Address) -> &'static str {
        match who {
            Who::Owner => name_of(&owner),
            Who::Any(i) => Self::actor(i),
        }
    }

    fn next_nonce(&mut self, a: Address) -> u64 {
        let n = *self
            .nonces
            .entry(a)
            .or_insert_with(|| self.state.account(&a).nonce);
        self.nonces.insert(a, n + 1);
        n
    }

    fn sign(&mut self, name: &str, action: Action) -> SignedTx {
        let nonce = self.next_nonce(addr(name));
        TxBody {
            chain_id: CHAIN.into(),
            nonce,
            action,
        }
        .sign(&key(name))
    }

    fn build(&mut self, op: &Op) -> Option<SignedTx> {
        use Action as A;
        let tx = match *op {
            Op::Transfer { from, to, amount } => {
                let from = Self::actor(from);
                let amount = self.amount(amount, &addr(from));
                self.sign(
                    from,
                    A::Transfer {
                        to: addr(Self::actor(to)),
                        amount,
                    },
                )
            }
            Op::RegisterModel {
                who,
                name,
                types,
                context,
            } => {
                let id = if name == 4 {
                    "bad id".to_string()
                } else {
                    format!("m-{name}")
                };
                let task_types = TaskType::ALL
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| types & (1 << i) != 0)
                    .map(|(_, t)| t)
                    .collect();
                self.sign(
                    Self::actor(who),
                    A::RegisterModel {
                        id,
                        weights_hash: [name; 32],
                        task_types,
                        context_length: context,
                    },
                )
            }
            Op::RetireModel { by_gov, who, model } => {
                let signer = if by_gov { "gov" } else { Self::actor(who) };
                // Mostly a model someone registered (it holds a deposit to give back).
                let registered: Vec<String> = self
                    .state
                    .models()
                    .iter()
                    .filter(|m| m.owner.is_some())
                    .map(|m| m.id.clone())
                    .collect();
                let id = if registered.is_empty() || model & 3 == 0 {
                    self.model(model)
                } else {
                    registered[usize::from(model) % registered.len()].clone()
                };
                self.sign(signer, A::RetireModel { id })
            }
            Op::RegisterProvider {
                who,
                bond,
                models,
                endpoint,
            } => {
                let who = Self::actor(who);
                let ids: Vec<String> = self.state.models().iter().map(|m| m.id.clone()).collect();
                let mut served: Vec<String> = ids
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| models & (1 << (i % 8)) != 0)
                    .map(|(_, m)| m.clone())
                    .collect();
                if models & 0x30 != 0 {
                    served.push("qwen3-8b".into());
                }
                let bond = self.amount(bond, &addr(who));
                self.sign(
                    who,
                    A::RegisterProvider {
                        endpoint: "e".repeat(usize::from(endpoint)),
                        gpus: vec![GpuInfo {
                            model: "NVIDIA H100".into(),
                            memory_gb: 80,
                            count: 1,
                        }],
                        models: served,
                        bond,
                        attestation: None,
                    },
                )
            }
            Op::TopUp {
                who,
                provider,
                amount,
            } => {
                let (pid, owner) = self.provider(provider)?;
                let signer = self.signer(who, owner);
                let amount = self.amount(amount, &addr(signer));
                self.sign(
                    signer,
                    A::TopUpBond {
                        provider: pid,
                        amount,
                    },
                )
            }
            Op::Unbond { who, provider } => {
                let (pid, owner) = self.provider(provider)?;
                self.sign(self.signer(who, owner), A::Unbond { provider: pid })
            }
            Op::Withdraw { who, provider } => {
                let (pid, owner) = self.provider(provider)?;
                self.sign(self.signer(who, owner), A::WithdrawBond { provider: pid })
            }
            Op::Attest {
                who,
                provider,
                garbage,
            } => {
                let (pid, owner) = self.provider(provider)?;
                let signer = self.signer(who, owner);
                self.sign(
                    signer,
                    A::Attest {
                        provider: pid,
                        attestation: garbage_attestation(garbage, owner),
                    },
                )
            }
            Op::Submit {
                who,
                model,
                fee,
                input,
                redundancy,
            } => {
                let who = Self::actor(who);
                let fee = self.amount(fee, &addr(who));
                self.sign(
                    who,
                    A::SubmitTask {
                        model: self.model(model),
                        task_type: TaskType::ALL[usize::from(model) % 4],
                        input_hash: [model; 32],
                        inline_input: vec![1; usize::from(input)],
                        fee,
                        redundancy: redundancy.map(|(n, m)| Redundancy {
                            n: u32::from(n),
                            m: u32::from(m),
                        }),
                    },
                )
            }
            Op::Result {
                who,
                task,
                provider,
                out,
                ms,
                inline,
            } => {
                let t = self.task_in(task, &[TaskStatus::Assigned])?;
                let (pid, owner) = match (provider, t.provider) {
                    (None, Some(p)) => (p, self.state.provider(&p).map(|p| p.owner)?),
                    _ => self.provider(provider.unwrap_or(task))?,
                };
                let signer = self.signer(who, owner);
                self.sign(
                    signer,
                    A::SubmitResult {
                        task: t.id,
                        provider: pid,
                        output_hash: [out; 32],
                        inline_output: vec![2; usize::from(inline)],
                        compute_time_ms: ms,
                    },
                )
            }
            Op::Challenge { who, task, claim } => {
                let t = self.task_in(task, &[TaskStatus::ResultPosted])?;
                let who = Self::actor(who);
                let claim = claim_commitment(&t.id, &addr(who), &[claim; 32], &[1; 32]);
                self.sign(who, A::Challenge { task: t.id, claim })
            }
            Op::RevealClaim { who, task, out } => {
                let t = self.task_in(task, &[TaskStatus::Disputed])?;
                let who = match t.challenge.as_ref() {
                    Some(c) if who & 3 != 0 => name_of(&c.challenger),
                    _ => Self::actor(who),
                };
                self.sign(
                    who,
                    A::RevealClaim {
                        task: t.id,
                        output_hash: [out; 32],
                        salt: [1; 32],
                    },
                )
            }
            Op::Commit {
                who,
                task,
                provider,
                out,
                garbage,
            } => {
                let t = self.task_in(task, SEATED)?;
                let (pid, owner) = self.member(t, provider)?;
                let commitment = if garbage {
                    [out; 32]
                } else {
                    output_commitment(&t.id, &pid, &[out; 32], &[2; 32])
                };
                self.sign(
                    self.signer(who, owner),
                    A::CommitOutput {
                        task: t.id,
                        provider: pid,
                        commitment,
                    },
                )
            }
            Op::Reveal {
                who,
                task,
                provider,
                out,
            } => {
                let t = self.task_in(task, SEATED)?;
                let (pid, owner) = self.member(t, provider)?;
                self.sign(
                    self.signer(who, owner),
                    A::RevealOutput {
                        task: t.id,
                        provider: pid,
                        output_hash: [out; 32],
                        salt: [2; 32],
                    },
                )
            }
            Op::Claim { who, provider } => {
                let (pid, owner) = self.provider(provider)?;
                self.sign(self.signer(who, owner), A::ClaimRewards { provider: pid })
            }
            Op::BadNonce { who, ahead } => {
                let who = Self::actor(who);
                let current = self.state.account(&addr(who)).nonce;
                let nonce = if ahead {
                    current + 5
                } else {
                    current.checked_sub(1)?
                };
                TxBody {
                    chain_id: CHAIN.into(),
                    nonce,
                    action: A::Transfer {
                        to: addr("p0"),
                        amount: 1,
                    },
                }
                .sign(&key(who))
            }
            Op::BadSig { who } => {
                let mut tx = self.sign(
                    Self::actor(who),
                    A::Transfer {
                        to: addr("p1"),
                        amount: 1,
                    },
                );
                tx.signature.0[5] ^= 0x10;
                tx
            }
        };
        Some(tx)
    }

    /// A provider for a commit or reveal: one of the task's seats when it has any.
    fn member(&self, t: &aivm_core::tasks::Task, i: u8) -> Option<(ProviderId, Address)> {
        let seats: Vec<ProviderId> = t
            .committee
            .iter()
            .chain(t.referees.iter())
            .map(|m| m.provider)
            .collect();
        if !seats.is_empty() && i & 3 != 0 {
            let pid = seats[usize::from(i) % seats.len()];
            let owner = self.state.provider(&pid)?.owner;
            return Some((pid, owner));
        }
        self.provider(i)
    }
}

fn garbage_attestation(g: u8, owner: Address) -> SignedAttestation {
    SignedAttestation {
        evidence: AttestationEvidence {
            tee_type: TeeType::Nvidia,
            kind: if g & 1 == 0 {
                EvidenceKind::GpuLocal
            } else {
                EvidenceKind::SoftwareOnly
            },
            device_model: "H100".repeat(usize::from(g % 20)),
            measurement: [g; 32],
            cc_enabled: true,
            tee_io: g < 86,
            rim_verified: true,
            benchmark_ok: true,
            driver_ok: false,
            issued_at_ms: u64::from(g) * 1_000,
            expires_at_ms: u64::MAX - u64::from(g),
            provider_key: if g > 200 { [g; 32] } else { owner.0 },
            attestor: [g; 32],
        },
        signature: [g; 64],
    }
}

// ---- driving a chain ------------------------------------------------------------------------

fn next_block(state: &State, txs: Vec<SignedTx>) -> Block {
    let tip = state.tip();
    let height = tip.height + 1;
    Block::new(
        CHAIN,
        height,
        tip.block_id,
        tip.time_ms + BLOCK_MS,
        addr("p5"),
        *blake3::hash(&height.to_le_bytes()).as_bytes(),
        txs,
    )
}

type Verdicts = Vec<Result<VerifiedTx, AuthError>>;

/// Applies a block, checking after every transaction that the invariants hold and that the
/// transaction changed no account, provider, task or model outside its conflict keys (a rejected
/// one: nothing at all), and the invariants again at block end.
fn apply_checked(
    state: &State,
    block: &Block,
    verdicts: Verdicts,
) -> Result<(State, BlockOutcome), TestCaseError> {
    let keys: BTreeMap<[u8; 32], Vec<ConflictKey>> = verdicts
        .iter()
        .flatten()
        .map(|v| (v.hash, v.conflict_keys()))
        .collect();
    let mut prev = state.clone();
    let mut broken = None;
    let (next, out) = apply_observed(state, block, verdicts, &mut |s, r| {
        if broken.is_some() {
            return;
        }
        if let Err(e) = s.check_invariants() {
            broken = Some(format!("{e} after {:?}", r.map(|r| &r.status)));
        } else if let Some(r) = r {
            let allowed = match r.status {
                aivm_core::TxStatus::Rejected(_) => None,
                _ => keys.get(&r.tx),
            };
            if let Err(e) = footprint_within(&prev, s, allowed) {
                broken = Some(format!("{e} ({:?})", r.status));
            }
            prev = s.clone();
        }
    })
    .map_err(|e| TestCaseError::fail(format!("block refused: {e}")))?;
    if let Some(b) = broken {
        return Err(TestCaseError::fail(format!(
            "height {}: {b}",
            block.header.height
        )));
    }
    Ok((next, out))
}

/// Every entity that differs between `before` and `after` is named by `keys`.
fn footprint_within(
    before: &State,
    after: &State,
    keys: Option<&Vec<ConflictKey>>,
) -> Result<(), String> {
    let allowed = |k: ConflictKey| keys.is_some_and(|ks| ks.contains(&k));
    let mut changed = Vec::new();
    let accounts: std::collections::BTreeSet<Address> = before
        .accounts()
        .chain(after.accounts())
        .map(|(a, _)| *a)
        .collect();
    for a in accounts {
        if before.account(&a) != after.account(&a) {
            changed.push(ConflictKey::Account(a));
        }
    }
    let providers: std::collections::BTreeSet<ProviderId> = before
        .providers()
        .iter()
        .chain(after.providers().iter())
        .map(|p| p.id)
        .collect();
    for p in providers {
        if before.provider(&p) != after.provider(&p) {
            changed.push(ConflictKey::Provider(p));
        }
    }
    let tasks: std::collections::BTreeSet<TaskId> =
        before.tasks().chain(after.tasks()).map(|t| t.id).collect();
    for t in tasks {
        if before.task(&t) != after.task(&t) {
            changed.push(ConflictKey::Task(t));
        }
    }
    let model = |s: &State, id: &str| s.models().into_iter().find(|m| m.id == id).cloned();
    let models: std::collections::BTreeSet<String> = before
        .models()
        .iter()
        .chain(after.models().iter())
        .map(|m| m.id.clone())
        .collect();
    for m in models {
        if model(before, &m) != model(after, &m) {
            changed.push(ConflictKey::Model(m));
        }
    }
    match changed.into_iter().find(|k| !allowed(k.clone())) {
        Some(k) => Err(format!(
            "a transaction changed {k:?} outside its conflict keys {keys:?}"
        )),
        None => Ok(()),
    }
}

struct Run {
    blocks: Vec<(Block, Verdicts)>,
    outcomes: Vec<BlockOutcome>,
    state: State,
}

fn drive(mode: VerificationMode, blocks: &[Vec<Op>]) -> Result<Run, TestCaseError> {
    let mut state = State::genesis(&genesis(mode)).expect("valid genesis");
    let mut run = Run {
        blocks: Vec::new(),
        outcomes: Vec::new(),
        state: state.clone(),
    };
    for ops in blocks {
        let mut b = Builder::new(&state);
        let txs: Vec<SignedTx> = ops.iter().filter_map(|op| b.build(op)).collect();
        let block = next_block(&state, txs);
        let verdicts: Verdicts = block.txs.iter().map(SignedTx::verify).collect();
        let (next, out) = apply_checked(&state, &block, verdicts.clone())?;
        prop_assert_eq!(
            next.reference_state_root(),
            next.state_root(),
            "incremental root differs from a full rebuild at height {}",
            block.header.height
        );
        prop_assert_eq!(out.state_root, next.state_root());
        state = next;
        run.blocks.push((block, verdicts));
        run.outcomes.push(out);
    }
    run.state = state;
    Ok(run)
}

/// The tasks tree rebuilt from public data (leaves placed at their proven slots) has the root
/// `rs_merkle` computes, and every proof verifies.
fn check_tasks_tree(state: &State) -> Result<(), TestCaseError> {
    let root = state.collection_roots().tasks;
    let tasks: Vec<_> = state.tasks().collect();
    let mut leaves = vec![[0u8; 32]; tasks.len()];
    for t in &tasks {
        let leaf = leaf_hash(&encode(&t.id), &encode(*t));
        let proof = state
            .task_proof(&t.id)
            .ok_or_else(|| TestCaseError::fail("no proof for a task"))?;
        prop_assert!(proof.verify(&root, &leaf));
        let slot = usize::try_from(proof.slot).unwrap();
        prop_assert!(
            slot < leaves.len(),
            "tasks are never removed: slots are dense"
        );
        leaves[slot] = leaf;
    }
    if leaves.is_empty() {
        prop_assert_eq!(root, [0u8; 32]);
        return Ok(());
    }
    let rs = MerkleTree::<NodeHasher>::from_leaves(&leaves);
    prop_assert_eq!(rs.root(), Some(root));
    for i in [0, leaves.len() / 2, leaves.len() - 1] {
        prop_assert!(rs
            .proof(&[i])
            .verify(root, &[i], &[leaves[i]], leaves.len()));
    }
    Ok(())
}

fn mode() -> impl Strategy<Value = VerificationMode> {
    prop_oneof![
        3 => Just(VerificationMode::Optimistic),
        1 => Just(VerificationMode::MultiPartyRedundant),
        1 => Just(VerificationMode::TeeAttested),
    ]
}

/// A plausible opening: providers, a user model and tasks, so that random ops find targets.
fn opening() -> Vec<Vec<Op>> {
    let reg = |who| Op::RegisterProvider {
        who,
        bond: Amt::MinBond,
        models: 1,
        endpoint: 0,
    };
    let submit = |who, model| Op::Submit {
        who,
        model,
        fee: Amt::Fee,
        input: 5,
        redundancy: None,
    };
    vec![
        vec![reg(0), reg(1), reg(2), reg(3)],
        vec![submit(4, 0), submit(5, 0), submit(6, 0)],
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_invariants_and_replay_identically(
        mode in mode(),
        with_opening in prop::bool::weighted(0.8),
        blocks in prop::collection::vec(prop::collection::vec(op(), 0..7), 1..10),
    ) {
        let mut all = if with_opening { opening() } else { Vec::new() };
        all.extend(blocks);
        let run = drive(mode, &all)?;
        // The same blocks from the same genesis: the same outcomes and the same state.
        let mut state = State::genesis(&genesis(mode)).expect("valid genesis");
        for ((block, verdicts), want) in run.blocks.iter().zip(&run.outcomes) {
            let (next, out) = apply_verified_block(&state, block, verdicts.clone())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&out, want);
            state = next;
        }
        prop_assert_eq!(state.state_root(), run.state.state_root());
        prop_assert_eq!(state.reference_state_root(), run.state.state_root());
        // In place on an unshared state, and in place on a clone that shares
        // everything with a kept state: the same outcomes, the kept state untouched.
        let genesis_state = State::genesis(&genesis(mode)).expect("valid genesis");
        let kept_root = genesis_state.state_root();
        let mut own = genesis_state.unshared();
        let mut shared = genesis_state.clone();
        for ((block, verdicts), want) in run.blocks.iter().zip(&run.outcomes) {
            // One verifies the signatures itself, one takes the verdicts.
            let out = apply_block_in_place(&mut own, block)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&out, want);
            let out = apply_verified_block_in_place(&mut shared, block, verdicts.clone())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&out, want);
            // Applying the same block twice in place is refused and changes nothing.
            let (tip, root) = (own.tip().clone(), own.reference_state_root());
            prop_assert!(apply_verified_block_in_place(&mut own, block, verdicts.clone()).is_err());
            prop_assert_eq!(own.tip(), &tip);
            prop_assert_eq!(own.reference_state_root(), root);
        }
        prop_assert_eq!(own.reference_state_root(), run.state.state_root());
        prop_assert_eq!(shared.state_root(), run.state.state_root());
        prop_assert_eq!(genesis_state.reference_state_root(), kept_root);
        check_tasks_tree(&run.state)?;
    }
}

// ---- commutation ----------------------------------------------------------------------------

/// A state with something everywhere: providers (one unbonding), a user model, tasks pending,
/// assigned, posted, disputed and completed, pending rewards.
fn busy_state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| {
        let mut state = State::genesis(&genesis(VerificationMode::Optimistic)).unwrap();
        let step = |state: &mut State, ops: Vec<Op>| {
            let mut b = Builder::new(state);
            let txs: Vec<SignedTx> = ops.iter().filter_map(|op| b.build(op)).collect();
            let block = next_block(state, txs);
            let verdicts = block.txs.iter().map(SignedTx::verify).collect();
            *state = apply_checked(state, &block, verdicts).unwrap().0;
        };
        let results = || -> Vec<Op> {
            (0..8)
                .map(|task| Op::Result {
                    who: Who::Owner,
                    task,
                    provider: None,
                    out: 1,
                    ms: 50,
                    inline: 0,
                })
                .collect()
        };
        let submits = |model: u8| -> Vec<Op> {
            (0..3)
                .map(|i| Op::Submit {
                    who: 4 + i,
                    model,
                    fee: Amt::Fee,
                    input: 0,
                    redundancy: None,
                })
                .collect()
        };
        let mut script = opening();
        script.push(vec![Op::RegisterModel {
            who: 4,
            name: 0,
            types: 0xff,
            context: 4096,
        }]);
        script.push(results()); // the first tasks post results
        script.push(submits(1)); // "qwen3-8b", now that "m-0" sorts first
        script.push(vec![]); // the new tasks are assigned
        script.push(results()); // new results posted; the first ones finalise
        script.push(submits(1)); // assigned at the end of the next block
        for ops in script {
            step(&mut state, ops);
        }
        // A challenge on a posted result, an unbonding provider and a pending task.
        let posted = state
            .tasks()
            .position(|t| t.status == TaskStatus::ResultPosted)
            .expect("a posted result");
        step(
            &mut state,
            vec![
                Op::Unbond {
                    who: Who::Owner,
                    provider: 3,
                },
                Op::Challenge {
                    who: 6,
                    task: posted as u8,
                    claim: 2,
                },
                Op::Submit {
                    who: 1,
                    model: 0,
                    fee: Amt::Fee,
                    input: 0,
                    redundancy: None,
                },
            ],
        );
        let counts = state.task_counts();
        assert!(counts.len() >= 4, "{counts:?}");
        state
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, max_shrink_iters: 256, ..ProptestConfig::default() })]

    #[test]
    fn disjoint_conflict_keys_commute(a in op(), b in op()) {
        let base = busy_state();
        let Some(ta) = Builder::new(base).build(&a) else { return Ok(()) };
        let Some(tb) = Builder::new(base).build(&b) else { return Ok(()) };
        let (Ok(va), Ok(vb)) = (ta.verify(), tb.verify()) else { return Ok(()) };
        if !va.commutes_with(&vb) {
            return Ok(());
        }
        let apply = |txs: Vec<SignedTx>, verdicts: Verdicts| {
            apply_checked(base, &next_block(base, txs), verdicts)
        };
        let (s1, o1) = apply(vec![ta.clone(), tb.clone()], vec![Ok(va.clone()), Ok(vb.clone())])?;
        let (s2, o2) = apply(vec![tb, ta], vec![Ok(vb), Ok(va)])?;
        prop_assert_eq!(&o1.receipts[0].status, &o2.receipts[1].status, "a's outcome depends on the order");
        prop_assert_eq!(&o1.receipts[1].status, &o2.receipts[0].status, "b's outcome depends on the order");
        prop_assert_eq!(s1.state_root(), s2.state_root(), "disjoint keys, different roots");
    }
}

// ---- collection trees -----------------------------------------------------------------------

#[derive(Clone, Debug)]
enum TreeOp {
    Insert(u16, u64),
    Remove(u16),
    Commit,
}

fn tree_op() -> impl Strategy<Value = TreeOp> {
    prop_oneof![
        6 => (0u16..300, any::<u64>()).prop_map(|(k, v)| TreeOp::Insert(k, v)),
        2 => (0u16..300).prop_map(TreeOp::Remove),
        1 => Just(TreeOp::Commit),
    ]
}

fn check_collection<K, V>(c: &Collection<K, V>) -> Result<(), TestCaseError>
where
    K: Ord + Clone + Serialize,
    V: Clone + Serialize,
{
    let leaves = c.leaves_from_scratch();
    let root = c.root();
    prop_assert_eq!(
        root,
        reference_root(&leaves),
        "incremental root vs full rebuild"
    );
    if leaves.is_empty() {
        return Ok(());
    }
    let rs = MerkleTree::<NodeHasher>::from_leaves(&leaves);
    prop_assert_eq!(rs.root(), Some(root), "rs_merkle root");
    for (k, v) in c.iter().step_by(7) {
        let slot = c.slot_of(k).unwrap();
        let i = usize::try_from(slot).unwrap();
        let leaf = leaf_hash(&encode(k), &encode(v));
        prop_assert_eq!(leaves[i], leaf);
        let ours = c.proof(k).unwrap();
        prop_assert!(ours.verify(&root, &leaf));
        let theirs = rs.proof(&[i]);
        prop_assert!(theirs.verify(root, &[i], &[leaf], leaves.len()));
        prop_assert_eq!(theirs.proof_hashes(), ours.siblings.as_slice());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn collection_roots_equal_a_rebuild_and_rs_merkle(ops in prop::collection::vec(tree_op(), 1..400)) {
        let mut c: Collection<u16, u64> = Collection::default();
        let mut model = BTreeMap::new();
        for op in ops {
            match op {
                TreeOp::Insert(k, v) => {
                    c.insert(k, v);
                    model.insert(k, v);
                }
                TreeOp::Remove(k) => {
                    prop_assert_eq!(c.remove(&k), model.remove(&k));
                }
                TreeOp::Commit => {
                    c.commit();
                    prop_assert_eq!(c.dirty_len(), 0);
                    check_collection(&c)?;
                }
            }
        }
        c.commit();
        check_collection(&c)?;
        let contents: Vec<(u16, u64)> = c.iter().map(|(k, v)| (*k, *v)).collect();
        prop_assert_eq!(contents, model.into_iter().collect::<Vec<_>>());
    }
}

// ---- canonical encoding ---------------------------------------------------------------------

fn h32() -> impl Strategy<Value = [u8; 32]> {
    prop_oneof![any::<u8>().prop_map(|b| [b; 32]), any::<[u8; 32]>()]
}

fn sig64() -> impl Strategy<Value = [u8; 64]> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(a, b)| {
        let mut s = [0u8; 64];
        s[..32].copy_from_slice(&a);
        s[32..].copy_from_slice(&b);
        s
    })
}

fn amount() -> impl Strategy<Value = u128> {
    prop_oneof![0u128..300, any::<u64>().prop_map(u128::from), any::<u128>()]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9-]{0,12}", ".{0,6}"]
}

fn task_type() -> impl Strategy<Value = TaskType> {
    prop::sample::select(TaskType::ALL.to_vec())
}

fn attestation() -> impl Strategy<Value = SignedAttestation> {
    (
        any::<u8>(),
        text(),
        h32(),
        any::<[bool; 5]>(),
        any::<(u64, u64)>(),
        h32(),
        h32(),
        sig64(),
    )
        .prop_map(
            |(
                t,
                device_model,
                measurement,
                f,
                (issued_at_ms, expires_at_ms),
                provider_key,
                attestor,
                signature,
            )| {
                SignedAttestation {
                    evidence: AttestationEvidence {
                        tee_type: [
                            TeeType::Sgx,
                            TeeType::SevSnp,
                            TeeType::Tdx,
                            TeeType::Nvidia,
                            TeeType::Arm,
                        ][usize::from(t % 5)],
                        kind: if t & 0x80 == 0 {
                            EvidenceKind::GpuLocal
                        } else {
                            EvidenceKind::SoftwareOnly
                        },
                        device_model,
                        measurement,
                        cc_enabled: f[0],
                        tee_io: f[1],
                        rim_verified: f[2],
                        benchmark_ok: f[3],
                        driver_ok: f[4],
                        issued_at_ms,
                        expires_at_ms,
                        provider_key,
                        attestor,
                    },
                    signature,
                }
            },
        )
}

fn action() -> impl Strategy<Value = Action> {
    use Action as A;
    let gpus = prop::collection::vec(
        (text(), any::<u32>(), any::<u32>()).prop_map(|(model, memory_gb, count)| GpuInfo {
            model,
            memory_gb,
            count,
        }),
        0..3,
    );
    prop_oneof![
        (h32(), amount()).prop_map(|(to, amount)| A::Transfer {
            to: Address(to),
            amount
        }),
        (
            text(),
            h32(),
            prop::collection::vec(task_type(), 0..5),
            any::<u32>()
        )
            .prop_map(
                |(id, weights_hash, task_types, context_length)| A::RegisterModel {
                    id,
                    weights_hash,
                    task_types,
                    context_length
                }
            ),
        text().prop_map(|id| A::RetireModel { id }),
        (
            text(),
            gpus,
            prop::collection::vec(text(), 0..3),
            amount(),
            prop::option::of(attestation())
        )
            .prop_map(
                |(endpoint, gpus, models, bond, attestation)| A::RegisterProvider {
                    endpoint,
                    gpus,
                    models,
                    bond,
                    attestation
                }
            ),
        (h32(), amount()).prop_map(|(p, amount)| A::TopUpBond {
            provider: ProviderId(p),
            amount
        }),
        h32().prop_map(|p| A::Unbond {
            provider: ProviderId(p)
        }),
        h32().prop_map(|p| A::WithdrawBond {
            provider: ProviderId(p)
        }),
        (h32(), attestation()).prop_map(|(p, attestation)| A::Attest {
            provider: ProviderId(p),
            attestation
        }),
        (
            text(),
            task_type(),
            h32(),
            prop::collection::vec(any::<u8>(), 0..20),
            amount(),
            prop::option::of(any::<(u32, u32)>())
        )
            .prop_map(|(model, task_type, input_hash, inline_input, fee, r)| {
                A::SubmitTask {
                    model,
                    task_type,
                    input_hash,
                    inline_input,
                    fee,
                    redundancy: r.map(|(n, m)| Redundancy { n, m }),
                }
            }),
        (
            h32(),
            h32(),
            h32(),
            prop::collection::vec(any::<u8>(), 0..20),
            any::<u64>()
        )
            .prop_map(|(t, p, output_hash, inline_output, compute_time_ms)| {
                A::SubmitResult {
                    task: TaskId(t),
                    provider: ProviderId(p),
                    output_hash,
                    inline_output,
                    compute_time_ms,
                }
            }),
        (h32(), h32()).prop_map(|(t, claim)| A::Challenge {
            task: TaskId(t),
            claim
        }),
        (h32(), h32(), h32()).prop_map(|(t, output_hash, salt)| A::RevealClaim {
            task: TaskId(t),
            output_hash,
            salt
        }),
        (h32(), h32(), h32()).prop_map(|(t, p, commitment)| A::CommitOutput {
            task: TaskId(t),
            provider: ProviderId(p),
            commitment
        }),
        (h32(), h32(), h32(), h32()).prop_map(|(t, p, output_hash, salt)| A::RevealOutput {
            task: TaskId(t),
            provider: ProviderId(p),
            output_hash,
            salt,
        }),
        h32().prop_map(|p| A::ClaimRewards {
            provider: ProviderId(p)
        }),
    ]
}

fn signed_tx() -> impl Strategy<Value = SignedTx> {
    (h32(), text(), any::<u64>(), action(), sig64()).prop_map(
        |(signer, chain_id, nonce, action, sig)| SignedTx {
            signer: Address(signer),
            body: TxBody {
                chain_id,
                nonce,
                action,
            },
            signature: Sig64(sig),
        },
    )
}

fn block() -> impl Strategy<Value = Block> {
    (
        text(),
        any::<u64>(),
        h32(),
        any::<u64>(),
        h32(),
        h32(),
        h32(),
        prop::collection::vec(signed_tx(), 0..4),
    )
        .prop_map(
            |(chain_id, height, parent, time_ms, proposer, seed, tx_root, txs)| Block {
                header: Header {
                    chain_id,
                    height,
                    parent,
                    time_ms,
                    proposer: Address(proposer),
                    seed,
                    tx_root,
                },
                txs,
            },
        )
}

/// Every field of the config from one random word each (truncated to the field's width).
fn config_any() -> impl Strategy<Value = Config> {
    (
        prop::collection::vec(amount(), 48),
        text(),
        prop::collection::vec(any::<[u8; 32]>(), 0..3),
    )
        .prop_map(|(w, host_chain_id, trusted_attestors)| {
            let mut i = 0;
            let mut next = || {
                i += 1;
                w[i - 1]
            };
            let modes = VerificationMode::ALL;
            Config {
                max_providers_per_node: next() as u32,
                max_tasks_per_provider: next() as u32,
                host_chain_id,
                verification_mode: modes[(next() % 3) as usize],
                challenge_window_blocks: next() as u64,
                redundancy_factor: next() as u32,
                min_provider_bond: next(),
                require_tee_attestation: next() & 1 == 1,
                min_trust_score: next() as u8,
                attestation_timeout_ms: next() as u64,
                max_task_queue_size: next() as u32,
                task_timeout_ms: next() as u64,
                base_reward: next(),
                epoch_duration_ms: next() as u64,
                merkle_anchor_freq: next() as u64,
                tx_fee: next(),
                min_task_fee: next(),
                protocol_share_bps: next() as u32,
                reward_schedule: if next() & 1 == 1 {
                    RewardSchedule::LuxV1
                } else {
                    RewardSchedule::Flat
                },
                model_deposit: next(),
                max_endpoint_len: next() as u32,
                max_gpus: next() as u32,
                max_gpu_name_len: next() as u32,
                max_inline_input: next() as u32,
                max_inline_output: next() as u32,
                max_model_id_len: next() as u32,
                unbond_cooldown_blocks: next() as u64,
                result_deadline_blocks: next() as u64,
                miss_slash_bps: next() as u32,
                task_collateral: next(),
                challenge_bond: next(),
                max_requeues: next() as u32,
                referee_count: next() as u32,
                referee_commit_blocks: next() as u64,
                referee_reveal_blocks: next() as u64,
                winner_share_bps: next() as u32,
                referee_reward_share_bps: next() as u32,
                referee_slash: next(),
                redundancy_n: next() as u32,
                allow_per_task_redundancy: next() & 1 == 1,
                commit_phase_blocks: next() as u64,
                reveal_phase_blocks: next() as u64,
                divergence_slash: next(),
                withhold_slash: next(),
                majority_share_bps: next() as u32,
                tee_challenge_window_blocks: next() as u64,
                post_finality_horizon_blocks: next() as u64,
                trusted_attestors,
            }
        })
}

fn genesis_any() -> impl Strategy<Value = Genesis> {
    let model = (
        text(),
        h32(),
        prop::collection::vec(task_type(), 0..4),
        any::<u32>(),
        prop::option::of(h32()),
        amount(),
        any::<bool>(),
    )
        .prop_map(
            |(id, weights_hash, task_types, context_length, owner, deposit, retired)| Model {
                id,
                weights_hash,
                task_types,
                context_length,
                owner: owner.map(Address),
                deposit,
                retired,
            },
        );
    let provider = (h32(), text(), prop::collection::vec(text(), 0..3), amount()).prop_map(
        |(owner, endpoint, models, bond)| GenesisProvider {
            owner: Address(owner),
            endpoint,
            gpus: vec![],
            models,
            bond,
        },
    );
    (
        text(),
        any::<u64>(),
        config_any(),
        prop::collection::vec((h32().prop_map(Address), amount()), 0..4),
        prop::option::of(prop::collection::vec(model, 0..3)),
        prop::collection::vec(provider, 0..2),
        prop::option::of(h32().prop_map(Address)),
    )
        .prop_map(
            |(chain_id, time_ms, config, balances, models, providers, governance)| Genesis {
                chain_id,
                time_ms,
                config,
                balances,
                models,
                providers,
                governance,
            },
        )
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(bytes: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let n = out.len().max(1);
    match *m {
        Mutation::Flip(i, x) if !out.is_empty() => out[i % n] ^= x,
        Mutation::Insert(i, b) => out.insert(i % (out.len() + 1), b),
        Mutation::Delete(i) if !out.is_empty() => {
            out.remove(i % n);
        }
        Mutation::Truncate(i) => out.truncate(i % n),
        _ => {}
    }
    out
}

/// Round trip, trailing bytes, and mutated bytes: refused, or exactly canonical.
fn check_canonical<T>(value: &T, mutations: &[Mutation], extra: &[u8]) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes = encode(value);
    let back = decode::<T>(&bytes);
    prop_assert_eq!(back.as_ref(), Ok(value));
    if !extra.is_empty() {
        let mut longer = bytes.clone();
        longer.extend_from_slice(extra);
        prop_assert_eq!(
            decode::<T>(&longer),
            Err(DecodeError::TrailingBytes(extra.len() as u64))
        );
    }
    for m in mutations {
        let bad = mutate(&bytes, m);
        if let Ok(v) = decode::<T>(&bad) {
            prop_assert_eq!(
                &encode(&v),
                &bad,
                "a decoded value must re-encode to its input"
            );
        }
        // The plain postcard decoder accepts non-canonical forms; `decode` must refuse them.
        if let Ok(v) = postcard::from_bytes::<T>(&bad) {
            if encode(&v) != bad {
                prop_assert!(decode::<T>(&bad).is_err());
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn signed_txs_encode_canonically(tx in signed_tx(), ms in prop::collection::vec(mutation(), 1..6), extra in prop::collection::vec(any::<u8>(), 0..3)) {
        check_canonical(&tx, &ms, &extra)?;
    }

    #[test]
    fn blocks_encode_canonically(b in block(), ms in prop::collection::vec(mutation(), 1..6), extra in prop::collection::vec(any::<u8>(), 0..3)) {
        check_canonical(&b, &ms, &extra)?;
        prop_assert_eq!(b.id(), *blake3::hash(&encode(&b.header)).as_bytes());
    }

    #[test]
    fn configs_encode_canonically(c in config_any(), ms in prop::collection::vec(mutation(), 1..6), extra in prop::collection::vec(any::<u8>(), 0..3)) {
        check_canonical(&c, &ms, &extra)?;
        // Validation is total: a typed answer for anything.
        let _ = c.validate();
    }

    #[test]
    fn geneses_encode_canonically_and_never_panic(g in genesis_any(), ms in prop::collection::vec(mutation(), 1..6), extra in prop::collection::vec(any::<u8>(), 0..3)) {
        check_canonical(&g, &ms, &extra)?;
        if let Ok(s) = State::genesis(&g) {
            prop_assert!(s.check_invariants().is_ok());
            prop_assert_eq!(s.reference_state_root(), s.state_root());
        }
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode::<Block>(&bytes);
        let _ = decode::<SignedTx>(&bytes);
        let _ = decode::<Genesis>(&bytes);
        let _ = decode::<Config>(&bytes);
    }

    /// An overlong varint anywhere a canonical one stands is refused.
    #[test]
    fn overlong_nonces_are_refused(tx in signed_tx()) {
        let bytes = encode(&tx);
        // signer (32) | chain id (len + bytes) | nonce (varint) ...
        let at = 32 + encode(&tx.body.chain_id).len();
        let len = encode(&tx.body.nonce).len();
        prop_assume!(len < 10);
        let mut long = bytes[..at].to_vec();
        let mut v = encode(&tx.body.nonce);
        let last = v.len() - 1;
        v[last] |= 0x80;
        v.push(0);
        long.extend(v);
        long.extend(&bytes[at + len..]);
        prop_assert_eq!(decode::<SignedTx>(&long), Err(DecodeError::NonCanonical));
    }
}
