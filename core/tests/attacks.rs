//! The adversarial suite: one test per attack of
//! `shared/reference/peers-and-attacks.md`. Each runs on the real state machine
//! (`Chain` checks conservation after every transaction) and ends with an
//! audit: the attacker (all its accounts) holds less than it started with, and
//! every honest party holds at least as much, once the transaction fees it paid
//! and the fees of results it received are added back.
//!
//! "Holds" counts balances, provider bonds, pending rewards, escrowed task fees
//! and challenge bonds.

use std::collections::BTreeMap;

use aivm_core::attestation::{
    public_key_from_seed, sign_attestation, AttestationError, AttestationEvidence, EvidenceKind,
    SignedAttestation, TeeType,
};
use aivm_core::chain::Chain;
use aivm_core::dispute::{claim_commitment, finality_bound_blocks, output_commitment};
use aivm_core::events::{FailReason, SlashReason};
use aivm_core::genesis::GenesisProvider;
use aivm_core::tasks::{Task, TaskStatus, TaskTerms};
use aivm_core::tx::{key_from_name, GpuInfo};
use aivm_core::types::TaskType;
use aivm_core::{
    Action, Address, Block, BlockOutcome, Config, Event, Genesis, Hash, ProviderId, Receipt,
    SignedTx, State, TaskId, TxBody, TxError, TxStatus, VerificationMode,
};

const E18: u128 = 1_000_000_000_000_000_000;
const FEE: u128 = 5_000_000;
const QWEN: &str = "qwen3-8b";
const MINI: &str = "zen-mini-0.5b";
const CODER: &str = "zen-coder-1.5b";
/// The output an honest run of the workload produces.
const TRUE_OUT: Hash = [0x11; 32];
/// What a cheat posts.
const WRONG_OUT: Hash = [0xee; 32];
const ATTESTOR: [u8; 32] = [7; 32];
const MEASUREMENT: Hash = [0x4d; 32];

// ---- harness --------------------------------------------------------------------------------

fn salt(tag: &[u8]) -> Hash {
    blake3::derive_key("aivm attacks test salt", tag)
}

fn gpu() -> Vec<GpuInfo> {
    vec![GpuInfo {
        model: "NVIDIA H100".into(),
        memory_gb: 80,
        count: 1,
    }]
}

struct H {
    c: Chain,
    names: BTreeMap<Address, String>,
}

/// What an actor holds at a point in time, and where the audit starts.
struct Audit {
    since: usize,
    height: u64,
    attacker: Vec<String>,
    honest: Vec<String>,
    before_attacker: u128,
    before_honest: Vec<u128>,
}

impl H {
    fn new(cfg: Config, actors: &[&str]) -> H {
        Self::with_genesis(cfg, actors, Vec::new())
    }

    fn with_genesis(cfg: Config, actors: &[&str], providers: Vec<GenesisProvider>) -> H {
        let mut g = Genesis::new(
            "aivm-attacks",
            actors
                .iter()
                .map(|n| (Chain::addr(n), 1_000 * E18))
                .collect(),
        );
        g.config = cfg;
        g.providers = providers;
        H {
            c: Chain::new(g).unwrap(),
            names: actors
                .iter()
                .map(|n| (Chain::addr(n), n.to_string()))
                .collect(),
        }
    }

    fn s(&self) -> &State {
        &self.c.state
    }

    fn height(&self) -> u64 {
        self.c.state.height()
    }

    fn name_of(&self, a: &Address) -> String {
        self.names.get(a).cloned().expect("a named actor")
    }

    fn owner_name(&self, pid: &ProviderId) -> String {
        self.name_of(&self.s().provider(pid).expect("provider").owner)
    }

    /// Applies one block with these transactions, in order.
    fn block(&mut self, txs: Vec<(&str, Action)>) -> Vec<Receipt> {
        let signed: Vec<SignedTx> = txs.into_iter().map(|(n, a)| self.c.tx(n, a)).collect();
        self.c.block(signed).unwrap().receipts.clone()
    }

    fn ok(&mut self, who: &str, a: Action) -> Receipt {
        let r = self.block(vec![(who, a)]).remove(0);
        assert!(r.is_applied(), "{who}: {:?}", r.status);
        r
    }

    fn fail(&mut self, who: &str, a: Action) -> TxError {
        failed(&self.block(vec![(who, a)])[0])
    }

    fn advance(&mut self, n: u64) {
        self.c.advance(n).unwrap();
    }

    fn advance_to(&mut self, height: u64) {
        let h = self.height();
        self.advance(height.saturating_sub(h));
    }

    fn task(&self, id: &TaskId) -> Task {
        self.s().task(id).expect("task").clone()
    }

    fn register_with(
        &mut self,
        owners: &[&str],
        models: &[&str],
        bond: u128,
        att: Option<SignedAttestation>,
    ) -> Vec<ProviderId> {
        let ids: Vec<ProviderId> = owners
            .iter()
            .map(|o| ProviderId::derive(&Chain::addr(o), self.s().account(&Chain::addr(o)).nonce))
            .collect();
        let txs = owners
            .iter()
            .map(|o| {
                (
                    *o,
                    Action::RegisterProvider {
                        endpoint: format!("https://{o}.example"),
                        gpus: gpu(),
                        models: models.iter().map(|m| m.to_string()).collect(),
                        bond,
                        attestation: att.clone(),
                    },
                )
            })
            .collect();
        for r in self.block(txs) {
            assert!(r.is_applied(), "{:?}", r.status);
        }
        ids
    }

    /// Registers one provider per owner (all in one block), serving `models`, bonded 10 E18.
    fn register(&mut self, owners: &[&str], models: &[&str]) -> Vec<ProviderId> {
        self.register_with(owners, models, 10 * E18, None)
    }

    /// Submits a task and applies the next block too, in which it is assigned.
    fn submit(&mut self, who: &str, model: &str) -> TaskId {
        let nonce = self.s().account(&Chain::addr(who)).nonce;
        self.ok(who, submit_action(model, FEE));
        self.advance(1);
        TaskId::derive(&Chain::addr(who), nonce)
    }

    fn post(&mut self, task: TaskId, out: Hash) -> Receipt {
        let pid = self.task(&task).provider.expect("assigned");
        let owner = self.owner_name(&pid);
        self.ok(&owner, post_action(task, pid, out))
    }

    fn challenge(&mut self, who: &str, task: TaskId, claim: Hash) -> Receipt {
        let c = claim_commitment(&task, &Chain::addr(who), &claim, &salt(who.as_bytes()));
        self.block(vec![(who, Action::Challenge { task, claim: c })])
            .remove(0)
    }

    fn reveal_claim_action(who: &str, task: TaskId, claim: Hash) -> Action {
        Action::RevealClaim {
            task,
            output_hash: claim,
            salt: salt(who.as_bytes()),
        }
    }

    /// Commit transactions of `members` voting `vote(owner)` (None: silent).
    fn commits(
        &self,
        task: TaskId,
        members: &[ProviderId],
        vote: &dyn Fn(&str) -> Option<Hash>,
    ) -> Vec<(String, Action)> {
        members
            .iter()
            .filter_map(|pid| {
                let owner = self.owner_name(pid);
                let out = vote(&owner)?;
                let commitment = output_commitment(&task, pid, &out, &salt(&pid.0));
                Some((
                    owner,
                    Action::CommitOutput {
                        task,
                        provider: *pid,
                        commitment,
                    },
                ))
            })
            .collect()
    }

    fn reveals(
        &self,
        task: TaskId,
        members: &[ProviderId],
        vote: &dyn Fn(&str) -> Option<Hash>,
    ) -> Vec<(String, Action)> {
        members
            .iter()
            .filter_map(|pid| {
                let owner = self.owner_name(pid);
                let out = vote(&owner)?;
                Some((
                    owner,
                    Action::RevealOutput {
                        task,
                        provider: *pid,
                        output_hash: out,
                        salt: salt(&pid.0),
                    },
                ))
            })
            .collect()
    }

    fn block_owned(&mut self, txs: Vec<(String, Action)>) -> Vec<Receipt> {
        let refs: Vec<(&str, Action)> = txs.iter().map(|(n, a)| (n.as_str(), a.clone())).collect();
        self.block(refs)
    }

    /// Runs the referee phases of an open dispute: referees commit `commit(owner)`
    /// in the next block and reveal `reveal(owner)` in the first reveal block,
    /// with the challenger's claim if `claim` is given; then waits for the verdict.
    fn referee(
        &mut self,
        task: TaskId,
        commit: &dyn Fn(&str) -> Option<Hash>,
        reveal: &dyn Fn(&str) -> Option<Hash>,
        claim: Option<(&str, Hash)>,
    ) {
        let t = self.task(&task);
        assert_eq!(t.status, TaskStatus::Disputed);
        let refs: Vec<ProviderId> = t.referees.iter().map(|m| m.provider).collect();
        let txs = self.commits(task, &refs, commit);
        for r in self.block_owned(txs) {
            assert!(r.is_applied(), "{:?}", r.status);
        }
        self.advance_to(t.commit_end);
        let mut txs = self.reveals(task, &refs, reveal);
        if let Some((who, out)) = claim {
            txs.push((who.to_string(), Self::reveal_claim_action(who, task, out)));
        }
        for r in self.block_owned(txs) {
            assert!(r.is_applied(), "{:?}", r.status);
        }
        if self.task(&task).status == TaskStatus::Disputed {
            self.advance_to(t.reveal_end);
        }
        assert_ne!(
            self.task(&task).status,
            TaskStatus::Disputed,
            "the verdict is in by reveal_end"
        );
    }

    /// Everything `names` hold or have a claim on.
    fn worth(&self, names: &[String]) -> u128 {
        let s = self.s();
        let addrs: Vec<Address> = names.iter().map(|n| Chain::addr(n)).collect();
        let balances: u128 = addrs.iter().map(|a| s.balance(a)).sum();
        let stake: u128 = s
            .providers()
            .iter()
            .filter(|p| addrs.contains(&p.owner))
            .map(|p| p.bond + p.stats.pending_rewards)
            .sum();
        let escrow: u128 = s
            .tasks()
            .map(|t| {
                let fee = if addrs.contains(&t.submitter) {
                    t.fee
                } else {
                    0
                };
                let bond = t
                    .challenge
                    .as_ref()
                    .filter(|c| addrs.contains(&c.challenger))
                    .map_or(0, |c| c.bond);
                fee + bond
            })
            .sum();
        balances + stake + escrow
    }

    /// Transaction fees `names` paid since block index `since`.
    fn fees_paid(&self, names: &[String], since: usize) -> u128 {
        let addrs: Vec<Address> = names.iter().map(|n| Chain::addr(n)).collect();
        self.c.outcomes[since..]
            .iter()
            .flat_map(|o| o.receipts.iter())
            .flat_map(|r| r.events.iter())
            .map(|e| match e {
                Event::FeePaid { payer, amount } if addrs.contains(payer) => *amount,
                _ => 0,
            })
            .sum()
    }

    /// Task fees `name` paid for results it received (finalised after `height`).
    fn delivered(&self, name: &str, height: u64) -> u128 {
        let a = Chain::addr(name);
        self.s()
            .tasks()
            .filter(|t| t.submitter == a && t.status == TaskStatus::Completed)
            .filter(|t| t.finalized_height.is_some_and(|h| h > height))
            .map(|t| t.fee_paid)
            .sum()
    }

    fn audit(&self, attacker: &[&str], honest: &[&str]) -> Audit {
        let attacker: Vec<String> = attacker.iter().map(|s| s.to_string()).collect();
        let honest: Vec<String> = honest.iter().map(|s| s.to_string()).collect();
        Audit {
            since: self.c.outcomes.len(),
            height: self.height(),
            before_attacker: self.worth(&attacker),
            before_honest: honest
                .iter()
                .map(|n| self.worth(std::slice::from_ref(n)))
                .collect(),
            attacker,
            honest,
        }
    }

    /// The attacker ends with less; nobody honest loses anything but the fees it paid.
    fn verify(&self, a: &Audit) {
        let after = self.worth(&a.attacker);
        assert!(
            after < a.before_attacker,
            "attacker {:?} did not lose: before {} after {}",
            a.attacker,
            a.before_attacker,
            after
        );
        for (name, before) in a.honest.iter().zip(&a.before_honest) {
            let me = std::slice::from_ref(name);
            let after = self.worth(me);
            let fees = self.fees_paid(me, a.since);
            let bought = self.delivered(name, a.height);
            assert!(
                after + fees + bought >= *before,
                "honest {name} lost value: before {before}, after {after}, tx fees {fees}, results bought {bought}"
            );
        }
        self.s().check_invariants().unwrap();
    }

    fn all_final(&self) {
        for t in self.s().tasks() {
            assert!(
                t.status.is_final(),
                "task {:?} hangs in {:?}",
                t.id,
                t.status
            );
        }
    }

    fn events(&self, since: usize) -> Vec<Event> {
        self.c.outcomes[since..]
            .iter()
            .flat_map(|o| {
                o.receipts
                    .iter()
                    .flat_map(|r| r.events.iter())
                    .chain(o.end_events.iter())
            })
            .cloned()
            .collect()
    }

    fn slashed(&self, since: usize, pid: &ProviderId) -> Vec<(u128, SlashReason)> {
        self.events(since)
            .into_iter()
            .filter_map(|e| match e {
                Event::Slashed {
                    provider,
                    amount,
                    reason,
                } if provider == *pid => Some((amount, reason)),
                _ => None,
            })
            .collect()
    }
}

fn failed(r: &Receipt) -> TxError {
    match &r.status {
        TxStatus::Failed(e) => e.clone(),
        other => panic!("expected a failed tx, got {other:?}"),
    }
}

fn submit_action(model: &str, fee: u128) -> Action {
    Action::SubmitTask {
        model: model.into(),
        task_type: TaskType::Inference,
        input_hash: [3; 32],
        inline_input: vec![],
        fee,
        redundancy: None,
    }
}

fn post_action(task: TaskId, provider: ProviderId, out: Hash) -> Action {
    Action::SubmitResult {
        task,
        provider,
        output_hash: out,
        inline_output: vec![],
        compute_time_ms: 50,
    }
}

fn m_of_n() -> Config {
    Config {
        verification_mode: VerificationMode::MultiPartyRedundant,
        ..Config::default()
    }
}

fn tee() -> Config {
    Config {
        verification_mode: VerificationMode::TeeAttested,
        trusted_attestors: vec![public_key_from_seed(&ATTESTOR)],
        attestation_timeout_ms: 24 * 3_600_000,
        ..Config::default()
    }
}

fn evidence(owner: &str, measurement: Hash, issued_at_ms: u64) -> SignedAttestation {
    sign_attestation(
        &ATTESTOR,
        AttestationEvidence {
            tee_type: TeeType::Nvidia,
            kind: EvidenceKind::GpuLocal,
            device_model: "NVIDIA H100".into(),
            measurement,
            cc_enabled: true,
            tee_io: true,
            rim_verified: true,
            benchmark_ok: true,
            driver_ok: true,
            issued_at_ms,
            expires_at_ms: u64::MAX,
            provider_key: Chain::addr(owner).0,
            attestor: public_key_from_seed(&ATTESTOR),
        },
    )
}

fn honest(_: &str) -> Option<Hash> {
    Some(TRUE_OUT)
}

const REFEREES: [&str; 5] = ["r1", "r2", "r3", "r4", "r5"];

// ---- state-level sampling (selection odds over many seeds) ---------------------------------

fn seed(tag: &str, i: u64) -> Hash {
    let mut h = blake3::Hasher::new_derive_key("aivm attacks test seed");
    h.update(tag.as_bytes());
    h.update(&i.to_le_bytes());
    *h.finalize().as_bytes()
}

/// Applies a block with `txs` and `seed` on top of `s` (signatures checked once at signing).
fn step(s: &State, txs: Vec<SignedTx>, seed: Hash) -> (State, BlockOutcome) {
    let tip = s.tip();
    let b = Block::new(
        s.chain_id(),
        tip.height + 1,
        tip.block_id,
        tip.time_ms + aivm_core::chain::DEFAULT_BLOCK_TIME_MS,
        Chain::addr("proposer"),
        seed,
        txs,
    );
    let verified = b.txs.iter().map(|t| Ok(t.assume_verified())).collect();
    let (next, out) = aivm_core::apply_verified_block(s, &b, verified).unwrap();
    next.check_invariants().unwrap();
    (next, out)
}

fn sign(s: &State, who: &str, nonce: u64, action: Action) -> SignedTx {
    TxBody {
        chain_id: s.chain_id().to_string(),
        nonce,
        action,
    }
    .sign(&key_from_name(who))
}

fn assignments(out: &BlockOutcome) -> Vec<(TaskId, ProviderId)> {
    out.end_events
        .iter()
        .filter_map(|e| match e {
            Event::TaskAssigned { task, provider, .. } => Some((*task, *provider)),
            _ => None,
        })
        .collect()
}

fn genesis_provider(owner: &str, bond: u128) -> GenesisProvider {
    GenesisProvider {
        owner: Chain::addr(owner),
        endpoint: format!("https://{owner}.example"),
        gpus: gpu(),
        models: vec![QWEN.into()],
        bond,
    }
}

/// A state with the given genesis providers and `tasks` tasks by alice admitted
/// in block 1 (so they are assigned at the end of block 2).
fn pending_state(bonds: &[(&str, u128)], tasks: u64) -> State {
    let mut actors: Vec<&str> = bonds.iter().map(|(n, _)| *n).collect();
    actors.extend(["alice", "mallory"]);
    actors.sort();
    actors.dedup();
    let cfg = Config {
        max_tasks_per_provider: 1_000_000,
        ..Config::default()
    };
    let h = H::with_genesis(
        cfg,
        &actors,
        bonds.iter().map(|(n, b)| genesis_provider(n, *b)).collect(),
    );
    let s = h.c.state.clone();
    let txs = (0..tasks)
        .map(|k| sign(&s, "alice", k, submit_action(QWEN, FEE)))
        .collect();
    let (s, out) = step(&s, txs, seed("admit", 0));
    assert!(
        assignments(&out).is_empty(),
        "never assigned in the block that admits it"
    );
    s
}

/// Share of draws won by providers owned by `who`, over `seeds` assignment seeds.
fn selection_share(s: &State, who: &[&str], seeds: u64, tag: &str) -> (u64, u64) {
    let owners: Vec<Address> = who.iter().map(|n| Chain::addr(n)).collect();
    let (mut won, mut total) = (0, 0);
    for i in 0..seeds {
        let (next, out) = step(s, vec![], seed(tag, i));
        for (_, pid) in assignments(&out) {
            total += 1;
            if owners.contains(&next.provider(&pid).unwrap().owner) {
                won += 1;
            }
        }
    }
    (won, total)
}

fn ratio(won: u64, total: u64) -> f64 {
    won as f64 / total as f64
}

// ---- 1. lazy copying ------------------------------------------------------------------------

/// A member of an M-of-N committee copies another's commitment instead of
/// running the task. The commitment is bound to its provider, so the copy can
/// never be opened: the copier is a withholder and is slashed.
#[test]
fn attack_01_lazy_copying() {
    let mut h = H::new(m_of_n(), &["alice", "h1", "h2", "h3", "h4", "mallory"]);
    h.register(&["h1", "h2", "h3", "h4", "mallory"], &[QWEN]);
    let task = h.submit("alice", QWEN);
    let t = h.task(&task);
    assert_eq!(t.status, TaskStatus::Committing);
    let members: Vec<ProviderId> = t.committee.iter().map(|m| m.provider).collect();
    assert_eq!(members.len(), 5);
    let lazy = *members
        .iter()
        .find(|p| h.owner_name(p) == "mallory")
        .unwrap();
    let victim = *members.iter().find(|p| h.owner_name(p) == "h1").unwrap();
    let audit = h.audit(&["mallory"], &["alice", "h1", "h2", "h3", "h4"]);

    // Honest members commit; mallory copies h1's commitment from the mempool.
    let mut txs = h.commits(task, &members, &|o| (o != "mallory").then_some(TRUE_OUT));
    let copied = output_commitment(&task, &victim, &TRUE_OUT, &salt(&victim.0));
    txs.push((
        "mallory".into(),
        Action::CommitOutput {
            task,
            provider: lazy,
            commitment: copied,
        },
    ));
    for r in h.block_owned(txs) {
        assert!(r.is_applied(), "{:?}", r.status);
    }
    h.advance(1);
    assert_eq!(h.task(&task).status, TaskStatus::Revealing);

    // Honest members reveal. The copy opens neither with the victim's salt nor with its own.
    let txs = h.reveals(task, &members, &|o| (o != "mallory").then_some(TRUE_OUT));
    for r in h.block_owned(txs) {
        assert!(r.is_applied(), "{:?}", r.status);
    }
    for s in [salt(&victim.0), salt(&lazy.0)] {
        let e = h.fail(
            "mallory",
            Action::RevealOutput {
                task,
                provider: lazy,
                output_hash: TRUE_OUT,
                salt: s,
            },
        );
        assert_eq!(e, TxError::CommitmentMismatch);
    }
    // Too late to commit its own work now.
    let own = output_commitment(&task, &lazy, &TRUE_OUT, &salt(&lazy.0));
    assert!(matches!(
        h.fail(
            "mallory",
            Action::CommitOutput {
                task,
                provider: lazy,
                commitment: own
            }
        ),
        TxError::WrongPhase { .. } | TxError::AlreadyCommitted
    ));
    h.advance_to(h.task(&task).reveal_end);

    let t = h.task(&task);
    assert_eq!(
        (t.status, t.final_output),
        (TaskStatus::Completed, Some(TRUE_OUT))
    );
    let withhold = h.s().config().withhold_slash;
    assert_eq!(
        h.slashed(audit.since, &lazy),
        vec![(withhold, SlashReason::WithheldReveal)]
    );
    h.verify(&audit);
}

// ---- 2. sybil identities and reputation farming --------------------------------------------

/// Splitting one stake across many identities does not raise the selection
/// odds, and trust farmed on self-dealt tasks never lets one provider decide
/// alone: self-dealt tasks earn no trust and never get the TEE shortcut, and
/// in a public mode no trust level shortens the window.
#[test]
fn attack_02_sybil_farming() {
    // Odds: mallory's 4 E18 as one provider, or as four identities of 1 E18.
    let single = pending_state(
        &[("h1", 3 * E18), ("h2", 5 * E18), ("mallory", 4 * E18)],
        25,
    );
    let split = pending_state(
        &[
            ("h1", 3 * E18),
            ("h2", 5 * E18),
            ("m0", E18),
            ("m1", E18),
            ("m2", E18),
            ("m3", E18),
        ],
        25,
    );
    let (w1, n1) = selection_share(&single, &["mallory"], 40, "sybil");
    let (w2, n2) = selection_share(&split, &["m0", "m1", "m2", "m3"], 40, "sybil");
    let (a, b) = (ratio(w1, n1), ratio(w2, n2));
    assert!((a - 1.0 / 3.0).abs() < 0.04, "one identity: {a}");
    assert!((b - 1.0 / 3.0).abs() < 0.04, "four identities: {b}");
    assert!(
        (a - b).abs() < 0.05,
        "splitting changed the odds: {a} vs {b}"
    );

    // Farming: mallory's attested provider is the only one serving MINI, so every
    // task it submits for MINI is self-dealt.
    let cfg = Config {
        challenge_window_blocks: 3,
        tee_challenge_window_blocks: 1,
        max_tasks_per_provider: 1_000,
        ..tee()
    };
    let mut h = H::new(cfg, &["alice", "bob", "mallory", "mallory-sub"]);
    let farm = h.register_with(
        &["mallory"],
        &[MINI],
        100 * E18,
        Some(evidence("mallory", MEASUREMENT, 0)),
    )[0];
    let honest_p = h.register(&["bob"], &[QWEN])[0];
    let audit = h.audit(&["mallory", "mallory-sub"], &["alice", "bob"]);
    let n = 40u64;
    let start = h.s().account(&Chain::addr("mallory")).nonce;
    let txs = (0..n)
        .map(|_| ("mallory", submit_action(MINI, h.s().config().min_task_fee)))
        .collect();
    h.block(txs);
    h.advance(1);
    let own: Vec<TaskId> = (start..start + n)
        .map(|k| TaskId::derive(&Chain::addr("mallory"), k))
        .collect();
    let txs = own
        .iter()
        .map(|t| ("mallory", post_action(*t, farm, TRUE_OUT)))
        .collect();
    for r in h.block(txs) {
        assert!(r.is_applied(), "{:?}", r.status);
    }
    for t in &own {
        let r = h.task(t).result.unwrap();
        assert_eq!(
            r.window_end - r.posted_height,
            3,
            "a self-dealt task never gets the shortcut"
        );
    }
    h.advance(4);
    assert!(own
        .iter()
        .all(|t| h.task(t).status == TaskStatus::Completed));
    assert_eq!(
        h.s().provider(&farm).unwrap().trust,
        0,
        "self-dealt work earns no trust"
    );
    // A sybil submitter account is not recognisable as mallory's, but its tasks
    // go to whoever the draw picks (here bob, the only QWEN provider), and earned
    // trust opens no shortcut anyway (tests/tee.rs: public mode at max trust).
    let sub = h.submit("mallory-sub", QWEN);
    assert_eq!(h.task(&sub).provider, Some(honest_p));
    h.post(sub, TRUE_OUT);
    h.advance(4);
    assert_eq!(h.task(&sub).status, TaskStatus::Completed);
    assert_eq!(h.s().provider(&honest_p).unwrap().trust, 1);
    // Honest parties lose nothing. The attacker's balance is NOT checked here:
    // see attack_02_reward_farming_is_unprofitable.
    for (name, before) in audit.honest.iter().zip(&audit.before_honest) {
        let me = std::slice::from_ref(name);
        assert!(
            h.worth(me) + h.fees_paid(me, audit.since) + h.delivered(name, audit.height) >= *before
        );
    }
}

/// Self-dealing min-fee tasks must cost the farmer more than it gets back.
/// Today it does not: each finalised task mints `base_reward` (10^9 under the
/// flat schedule) into the provider's pending rewards, while a self-dealt task
/// costs two tx fees (2 * 10^6) and the protocol share of its fee (5% of 10^6).
#[test]
fn attack_02_reward_farming_is_unprofitable() {
    let cfg = Config {
        challenge_window_blocks: 3,
        tee_challenge_window_blocks: 1,
        max_tasks_per_provider: 1_000,
        ..tee()
    };
    let mut h = H::new(cfg, &["alice", "mallory"]);
    let farm = h.register(&["mallory"], &[MINI])[0];
    let audit = h.audit(&["mallory"], &["alice"]);
    let start = h.s().account(&Chain::addr("mallory")).nonce;
    let txs = (0..20)
        .map(|_| ("mallory", submit_action(MINI, h.s().config().min_task_fee)))
        .collect();
    h.block(txs);
    h.advance(1);
    let txs = (start..start + 20)
        .map(|k| {
            (
                "mallory",
                post_action(TaskId::derive(&Chain::addr("mallory"), k), farm, TRUE_OUT),
            )
        })
        .collect();
    h.block(txs);
    h.advance(4);
    h.all_final();
    h.verify(&audit);
}

// ---- 3. collusive majority -------------------------------------------------------------------

/// Three colluders of a 3-of-5 committee agree on a wrong hash. The honest
/// minority escalates: referees drawn outside the committee overturn the
/// verdict, the colluders are slashed, the minority keeps its bonds and is paid
/// from the slash, and the requester is refunded.
#[test]
fn attack_03_collusive_majority() {
    let mut h = H::new(
        m_of_n(),
        &[
            "alice", "h1", "h2", "c1", "c2", "c3", "r1", "r2", "r3", "r4", "r5",
        ],
    );
    h.register(&["h1", "h2", "c1", "c2", "c3"], &[QWEN]);
    let task = h.submit("alice", QWEN);
    let members: Vec<ProviderId> = h.task(&task).committee.iter().map(|m| m.provider).collect();
    assert_eq!(members.len(), 5);
    h.register(&REFEREES, &[QWEN]);
    let audit = h.audit(
        &["c1", "c2", "c3"],
        &["alice", "h1", "h2", "r1", "r2", "r3", "r4", "r5"],
    );
    let bonds_before: Vec<u128> = ["h1", "h2"]
        .iter()
        .map(|o| {
            members
                .iter()
                .find(|p| h.owner_name(p) == *o)
                .map(|p| h.s().provider(p).unwrap().bond)
                .unwrap()
        })
        .collect();

    let vote = |o: &str| {
        Some(if o.starts_with('c') {
            WRONG_OUT
        } else {
            TRUE_OUT
        })
    };
    let txs = h.commits(task, &members, &vote);
    h.block_owned(txs);
    h.advance(1);
    let txs = h.reveals(task, &members, &vote);
    h.block_owned(txs);
    // A contested verdict waits in an escalation window instead of settling.
    let t = h.task(&task);
    assert_eq!(t.status, TaskStatus::ResultPosted);
    assert_eq!(t.result.as_ref().unwrap().output_hash, WRONG_OUT);
    // A colluder cannot challenge its own verdict.
    let c = claim_commitment(&task, &Chain::addr("c1"), &TRUE_OUT, &salt(b"c1"));
    assert_eq!(
        h.fail("c1", Action::Challenge { task, claim: c }),
        TxError::OwnResult
    );

    let r = h.challenge("h1", task, TRUE_OUT);
    assert!(r.is_applied(), "{:?}", r.status);
    let referees = h.task(&task).referees.clone();
    assert_eq!(referees.len(), 5);
    for m in &referees {
        assert!(
            REFEREES.contains(&h.owner_name(&m.provider).as_str()),
            "no committee owner referees"
        );
    }
    h.referee(task, &honest, &honest, Some(("h1", TRUE_OUT)));

    let t = h.task(&task);
    assert_eq!(t.status, TaskStatus::Failed);
    let div = h.s().config().divergence_slash;
    for p in &members {
        let owner = h.owner_name(p);
        let slashes = h.slashed(audit.since, p);
        if owner.starts_with('c') {
            assert_eq!(
                slashes,
                vec![(div, SlashReason::DivergentOutput)],
                "{owner}"
            );
        } else {
            assert!(
                slashes.is_empty(),
                "{owner} slashed for being in the minority"
            );
        }
    }
    for (o, before) in ["h1", "h2"].iter().zip(bonds_before) {
        let p = members.iter().find(|p| h.owner_name(p) == *o).unwrap();
        assert_eq!(
            h.s().provider(p).unwrap().bond,
            before,
            "{o}'s bond is intact"
        );
    }
    assert!(h.events(audit.since).contains(&Event::TaskFailed {
        task,
        reason: FailReason::Disproven
    }));
    h.verify(&audit);
}

// ---- 4. cheap-challenge spam -------------------------------------------------------------------

/// A frivolous challenge costs at least the provider's collateral and is lost
/// to the defender and the referees; a provider cannot challenge its own
/// result, and doing it through another account loses half the bond.
#[test]
fn attack_04_cheap_challenge_spam() {
    let actors = [
        "alice",
        "bob",
        "bob-sybil",
        "mallory",
        "r1",
        "r2",
        "r3",
        "r4",
        "r5",
    ];
    let mut h = H::new(Config::default(), &actors);
    h.register(&["bob"], &[QWEN]);
    let t1 = h.submit("alice", QWEN);
    let t2 = h.submit("alice", QWEN);
    h.register(&REFEREES, &[QWEN]);
    h.post(t1, TRUE_OUT);
    h.post(t2, TRUE_OUT);

    // Mallory spams a challenge on a correct result.
    let audit = h.audit(
        &["mallory"],
        &["alice", "bob", "r1", "r2", "r3", "r4", "r5"],
    );
    let r = h.challenge("mallory", t1, WRONG_OUT);
    let cfg = h.s().config().clone();
    let bond = cfg.challenge_bond.max(cfg.task_collateral);
    assert!(r.events.contains(&Event::TaskChallenged {
        task: t1,
        challenger: Chain::addr("mallory"),
        bond
    }));
    assert!(
        bond >= h.task(&t1).result.unwrap().collateral,
        "the bond covers what it threatens"
    );
    h.referee(t1, &honest, &honest, Some(("mallory", WRONG_OUT)));
    assert_eq!(h.task(&t1).status, TaskStatus::Completed);
    assert!(h.events(audit.since).contains(&Event::BondForfeited {
        who: Chain::addr("mallory"),
        amount: bond,
        reason: SlashReason::FrivolousChallenge
    }));
    h.verify(&audit);

    // The provider's owner cannot challenge its own result; through a second account it loses.
    let audit = h.audit(
        &["bob", "bob-sybil"],
        &["alice", "r1", "r2", "r3", "r4", "r5"],
    );
    let c = claim_commitment(&t2, &Chain::addr("bob"), &WRONG_OUT, &salt(b"bob"));
    assert_eq!(
        h.fail("bob", Action::Challenge { task: t2, claim: c }),
        TxError::OwnResult
    );
    let r = h.challenge("bob-sybil", t2, WRONG_OUT);
    assert!(r.is_applied(), "{:?}", r.status);
    h.referee(t2, &honest, &honest, Some(("bob-sybil", WRONG_OUT)));
    assert_eq!(h.task(&t2).status, TaskStatus::Completed);
    h.all_final();
    h.verify(&audit);
}

// ---- 5. delay attacks --------------------------------------------------------------------------

/// Successive challengers cannot push finality past `finality_bound_blocks`:
/// a disputed task refuses more challenges and the verdict is final.
#[test]
fn attack_05_delay() {
    let actors = [
        "alice", "bob", "m1", "m2", "m3", "m4", "r1", "r2", "r3", "r4", "r5",
    ];
    let mut h = H::new(Config::default(), &actors);
    h.register(&["bob"], &[QWEN]);
    let task = h.submit("alice", QWEN);
    let assigned = h.height();
    h.register(&REFEREES, &[QWEN]);
    let audit = h.audit(
        &["m1", "m2", "m3", "m4"],
        &["alice", "bob", "r1", "r2", "r3", "r4", "r5"],
    );
    // The slowest honest path: the result at its deadline, the challenge in the window's last block.
    let deadline = h.task(&task).deadline.unwrap();
    h.advance_to(deadline - 1);
    h.post(task, TRUE_OUT);
    h.advance_to(h.task(&task).result.unwrap().window_end - 1);

    // Two challengers in the same block: only the first opens a dispute.
    let c1 = claim_commitment(&task, &Chain::addr("m1"), &WRONG_OUT, &salt(b"m1"));
    let c2 = claim_commitment(&task, &Chain::addr("m2"), &WRONG_OUT, &salt(b"m2"));
    let rs = h.block(vec![
        ("m1", Action::Challenge { task, claim: c1 }),
        ("m2", Action::Challenge { task, claim: c2 }),
    ]);
    assert!(rs[0].is_applied(), "{:?}", rs[0].status);
    assert!(matches!(failed(&rs[1]), TxError::WrongTaskStatus { .. }));
    // Later challengers during the dispute are refused too.
    h.advance(5);
    assert!(matches!(
        h.challenge("m3", task, WRONG_OUT).status,
        TxStatus::Failed(TxError::WrongTaskStatus { .. })
    ));
    // m1 never opens its claim, so the verdict waits for the end of the reveal phase.
    let silent_claim: Option<(&str, Hash)> = None;
    h.referee(task, &honest, &honest, silent_claim);
    let t = h.task(&task);
    assert_eq!(t.status, TaskStatus::Completed);
    // After the verdict nobody can reopen it.
    assert!(matches!(
        h.challenge("m4", task, WRONG_OUT).status,
        TxStatus::Failed(TxError::WindowClosed { .. })
    ));

    let bound = finality_bound_blocks(&t.terms);
    let took = t.finalized_height.unwrap() - assigned;
    assert!(took <= bound, "finality after {took} blocks, bound {bound}");
    h.verify(&audit);
}

// ---- 6. last-block challenge -------------------------------------------------------------------

/// A challenge in the window's last block gets the same dispute phases as any
/// other, measured from the challenge; one block later the window is closed.
#[test]
fn attack_06_last_block_challenge() {
    let mut h = H::new(
        Config::default(),
        &["alice", "bob", "mallory", "r1", "r2", "r3", "r4", "r5"],
    );
    h.register(&["bob"], &[QWEN]);
    let t1 = h.submit("alice", QWEN);
    let t2 = h.submit("alice", QWEN);
    h.register(&REFEREES, &[QWEN]);
    let audit = h.audit(
        &["mallory"],
        &["alice", "bob", "r1", "r2", "r3", "r4", "r5"],
    );
    h.post(t1, TRUE_OUT);
    h.post(t2, TRUE_OUT);
    let end1 = h.task(&t1).result.unwrap().window_end;
    let end2 = h.task(&t2).result.unwrap().window_end;
    assert_eq!(end2, end1 + 1);
    h.advance_to(end1 - 1);

    // Mallory challenges t1 in the last block of its window, hoping nobody can answer in time.
    let r = h.challenge("mallory", t1, WRONG_OUT);
    assert!(r.is_applied(), "{:?}", r.status);
    assert_eq!(h.height(), end1);
    let cfg = h.s().config().clone();
    let since = h.c.outcomes.len() - 1;
    let opened = h.events(since).iter().find_map(|e| match e {
        Event::DisputeOpened {
            commit_end,
            reveal_end,
            ..
        } => Some((*commit_end, *reveal_end)),
        _ => None,
    });
    assert_eq!(
        opened,
        Some((
            end1 + cfg.referee_commit_blocks,
            end1 + cfg.referee_commit_blocks + cfg.referee_reveal_blocks
        ))
    );
    assert_eq!(
        h.task(&t1).status,
        TaskStatus::Disputed,
        "the window's own timer did not finalise it"
    );
    h.referee(t1, &honest, &honest, Some(("mallory", WRONG_OUT)));
    assert_eq!(h.task(&t1).status, TaskStatus::Completed);
    // t2's window closed at end2: one block late is refused.
    assert!(h.height() > end2);
    assert!(matches!(
        h.challenge("mallory", t2, WRONG_OUT).status,
        TxStatus::Failed(TxError::WindowClosed { .. })
    ));
    h.all_final();
    h.verify(&audit);
}

// ---- 7. front-running -------------------------------------------------------------------------

/// Copying someone else's fraud proof, referee commitment or result earns the
/// copier nothing: claims and commitments are bound to their sender.
#[test]
fn attack_07_front_running() {
    let actors = [
        "alice", "pete", "carol", "mallory", "mal-ref", "r1", "r2", "r3", "r4",
    ];
    let mut h = H::new(Config::default(), &actors);
    h.register(&["pete"], &[QWEN]);
    let task = h.submit("alice", QWEN);
    // Mallory also runs a referee under another account (a challenger's own
    // providers never referee); with exactly five eligible, all five sit.
    let refs = h.register(&["r1", "r2", "r3", "r4", "mal-ref"], &[QWEN]);
    let mallory_ref = refs[4];
    h.post(task, WRONG_OUT); // pete cheats

    // Copying a result: only the assigned provider's owner may post it.
    let pete_p = h.task(&task).provider.unwrap();
    assert_eq!(
        h.fail("mal-ref", post_action(task, mallory_ref, TRUE_OUT)),
        TxError::NotAssigned
    );
    assert_eq!(
        h.fail("mallory", post_action(task, pete_p, TRUE_OUT)),
        TxError::NotProviderOwner
    );

    let audit = h.audit(
        &["mallory", "mal-ref"],
        &["alice", "carol", "r1", "r2", "r3", "r4"],
    );
    // Carol's fraud proof is in the mempool; mallory copies its claim and gets in first.
    let carol_claim = claim_commitment(&task, &Chain::addr("carol"), &TRUE_OUT, &salt(b"carol"));
    let rs = h.block(vec![
        (
            "mallory",
            Action::Challenge {
                task,
                claim: carol_claim,
            },
        ),
        (
            "carol",
            Action::Challenge {
                task,
                claim: carol_claim,
            },
        ),
    ]);
    assert!(rs[0].is_applied(), "{:?}", rs[0].status);
    assert!(matches!(failed(&rs[1]), TxError::WrongTaskStatus { .. }));
    let t = h.task(&task);
    assert_eq!(t.referees.len(), 5);
    // Mallory's referee copies r1's commitment instead of running the task.
    let r1 = t
        .referees
        .iter()
        .find(|m| h.owner_name(&m.provider) == "r1")
        .unwrap()
        .provider;
    let mut txs = h.commits(
        task,
        &t.referees.iter().map(|m| m.provider).collect::<Vec<_>>(),
        &|o| (o != "mal-ref").then_some(TRUE_OUT),
    );
    let copied = output_commitment(&task, &r1, &TRUE_OUT, &salt(&r1.0));
    txs.push((
        "mal-ref".into(),
        Action::CommitOutput {
            task,
            provider: mallory_ref,
            commitment: copied,
        },
    ));
    for r in h.block_owned(txs) {
        assert!(r.is_applied(), "{:?}", r.status);
    }
    h.advance_to(t.commit_end);
    let refs: Vec<ProviderId> = t.referees.iter().map(|m| m.provider).collect();
    let txs = h.reveals(task, &refs, &|o| (o != "mal-ref").then_some(TRUE_OUT));
    h.block_owned(txs);
    // Neither copy opens: not with the victim's salt, not with a guess.
    let e = h.fail(
        "mal-ref",
        Action::RevealOutput {
            task,
            provider: mallory_ref,
            output_hash: TRUE_OUT,
            salt: salt(&r1.0),
        },
    );
    assert_eq!(e, TxError::CommitmentMismatch);
    for s in [salt(b"carol"), salt(b"mallory")] {
        let e = h.fail(
            "mallory",
            Action::RevealClaim {
                task,
                output_hash: TRUE_OUT,
                salt: s,
            },
        );
        assert_eq!(e, TxError::CommitmentMismatch);
    }
    // And the real author cannot open it either: it is not the challenger.
    assert_eq!(
        h.fail("carol", H::reveal_claim_action("carol", task, TRUE_OUT)),
        TxError::NoCommitment
    );
    h.advance_to(t.reveal_end);

    assert_eq!(h.task(&task).status, TaskStatus::Failed);
    let ev = h.events(audit.since);
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Event::Compensated { to, .. } if *to == Chain::addr("mallory"))),
        "the copied claim earned no bounty"
    );
    assert_eq!(
        h.slashed(audit.since, &mallory_ref),
        vec![(h.s().config().referee_slash, SlashReason::RefereeAbsent)]
    );
    assert!(h
        .slashed(audit.since, &pete_p)
        .iter()
        .any(|(_, r)| *r == SlashReason::LostDispute));
    h.all_final();
    h.verify(&audit);
}

// ---- 8. reveal withholding --------------------------------------------------------------------

/// Committed but never revealed: the withholders forfeit. With zero reveals the
/// task times out into a refund; the requester gets its fee back.
#[test]
fn attack_08_reveal_withholding() {
    // Two of five withhold; three honest reveals still make the 3-of-5 verdict.
    let mut h = H::new(m_of_n(), &["alice", "h1", "h2", "h3", "w1", "w2"]);
    h.register(&["h1", "h2", "h3", "w1", "w2"], &[QWEN]);
    let task = h.submit("alice", QWEN);
    let members: Vec<ProviderId> = h.task(&task).committee.iter().map(|m| m.provider).collect();
    let audit = h.audit(&["w1", "w2"], &["alice", "h1", "h2", "h3"]);
    let txs = h.commits(task, &members, &honest);
    h.block_owned(txs);
    h.advance(1);
    let txs = h.reveals(task, &members, &|o| o.starts_with('h').then_some(TRUE_OUT));
    h.block_owned(txs);
    h.advance_to(h.task(&task).reveal_end);
    assert_eq!(h.task(&task).final_output, Some(TRUE_OUT));
    let withhold = h.s().config().withhold_slash;
    for p in &members {
        let expect = if h.owner_name(p).starts_with('w') {
            vec![(withhold, SlashReason::WithheldReveal)]
        } else {
            vec![]
        };
        assert_eq!(h.slashed(audit.since, p), expect);
    }
    h.verify(&audit);

    // Zero reveals: nobody can be paid, the fee goes back, every withholder pays.
    let ws = ["w1", "w2", "w3", "w4", "w5"];
    let mut h = H::new(m_of_n(), &["alice", "w1", "w2", "w3", "w4", "w5"]);
    h.register(&ws, &[QWEN]);
    let task = h.submit("alice", QWEN);
    let members: Vec<ProviderId> = h.task(&task).committee.iter().map(|m| m.provider).collect();
    let audit = h.audit(&ws, &["alice"]);
    let txs = h.commits(task, &members, &honest);
    h.block_owned(txs);
    h.advance_to(h.task(&task).reveal_end);
    assert!(h.events(audit.since).contains(&Event::TaskFailed {
        task,
        reason: FailReason::NoAgreement
    }));
    assert!(h.events(audit.since).contains(&Event::Refunded {
        task,
        to: Chain::addr("alice"),
        amount: FEE
    }));
    for p in &members {
        assert_eq!(
            h.slashed(audit.since, p),
            vec![(withhold, SlashReason::WithheldReveal)]
        );
    }
    h.all_final();
    h.verify(&audit);
}

// ---- 9. silent parties ------------------------------------------------------------------------

/// Every party of the optimistic flow goes silent in turn. Nothing hangs, value
/// is conserved, and the silent party pays: a silent requester still gets its
/// result paid for; a silent provider is slashed for its missed deadline and
/// never given that task again, so the task, which nobody else serves, times out
/// into a refund; so does a task nobody can serve at all; a silent
/// challenger forfeits its bond; a silent referee its referee stake.
#[test]
fn attack_09_silent_party() {
    let actors = ["alice", "bob", "mallory", "sleepy", "r1", "r2", "r3", "r4"];
    let mut h = H::new(Config::default(), &actors);
    h.register(&["bob"], &[QWEN]);
    let silent_p = h.register(&["mallory"], &[MINI])[0];
    let served = h.submit("alice", QWEN);
    let unserved_p = h.submit("alice", MINI);
    let nobody = h.submit("alice", CODER);
    let refs = h.register(&["r1", "r2", "r3", "r4", "sleepy"], &[QWEN]);
    let sleepy_ref = refs[4];
    assert_eq!(h.task(&unserved_p).provider, Some(silent_p));
    assert_eq!(h.task(&nobody).status, TaskStatus::Pending);
    let audit = h.audit(
        &["mallory", "sleepy"],
        &["alice", "bob", "r1", "r2", "r3", "r4"],
    );

    // Silent requester: alice does nothing more; bob posts.
    h.post(served, TRUE_OUT);
    // Silent challenger: mallory challenges and never opens its claim. Silent referee: sleepy.
    assert!(h.challenge("mallory", served, WRONG_OUT).is_applied());
    h.referee(
        served,
        &|o| (o != "sleepy").then_some(TRUE_OUT),
        &|o| (o != "sleepy").then_some(TRUE_OUT),
        None,
    );
    assert_eq!(h.task(&served).status, TaskStatus::Completed);
    assert!(h.events(audit.since).iter().any(|e| matches!(e,
        Event::BondForfeited { who, reason: SlashReason::FrivolousChallenge, .. } if *who == Chain::addr("mallory"))));
    assert_eq!(
        h.slashed(audit.since, &sleepy_ref),
        vec![(h.s().config().referee_slash, SlashReason::RefereeAbsent)]
    );

    // Silent provider and a task nobody serves: both end in a refund. The
    // silent provider misses once, and the re-queued task is never drawn for it
    // again: with nobody else serving MINI it waits for its timeout.
    let cfg = h.s().config().clone();
    h.advance(cfg.result_deadline_blocks * u64::from(cfg.max_requeues + 1) + 2);
    let timeout_blocks = cfg.task_timeout_ms / aivm_core::chain::DEFAULT_BLOCK_TIME_MS;
    h.advance_to(timeout_blocks + 3);
    let ev = h.events(audit.since);
    for t in [unserved_p, nobody] {
        assert!(ev.contains(&Event::TaskFailed {
            task: t,
            reason: FailReason::TimedOut
        }));
    }
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::TaskAssigned { task, .. } if *task == unserved_p))
            .count(),
        0,
        "re-assigned to the provider that missed it"
    );
    for t in [unserved_p, nobody] {
        assert!(ev.contains(&Event::Refunded {
            task: t,
            to: Chain::addr("alice"),
            amount: FEE
        }));
    }
    let miss = cfg.task_collateral * u128::from(cfg.miss_slash_bps) / 10_000;
    assert_eq!(
        h.slashed(audit.since, &silent_p),
        vec![(miss, SlashReason::MissedDeadline)]
    );
    h.all_final();
    h.verify(&audit);
}

// ---- 10. non-determinism ----------------------------------------------------------------------

/// A workload whose honest runs disagree must not get anyone slashed: with no
/// M-of-N majority, or no referee majority, the task is refunded and every
/// stake and bond comes back. Whoever hoped to profit (a requester wanting free
/// compute, a challenger wanting a bounty) is out of its tx fees.
#[test]
fn attack_10_nondeterminism() {
    let hs = ["h1", "h2", "h3", "h4", "h5"];
    let mut h = H::new(
        m_of_n(),
        &["alice", "mallory", "h1", "h2", "h3", "h4", "h5"],
    );
    let members = h.register(&hs, &[QWEN]);
    let audit = h.audit(&["mallory"], &["alice", "h1", "h2", "h3", "h4", "h5"]);
    let task = h.submit("mallory", QWEN);
    let run = |o: &str| Some(salt(o.as_bytes())); // every run gives another hash
    let txs = h.commits(task, &members, &run);
    h.block_owned(txs);
    h.advance(1);
    let txs = h.reveals(task, &members, &run);
    h.block_owned(txs);
    let ev = h.events(audit.since);
    assert!(ev.contains(&Event::TaskFailed {
        task,
        reason: FailReason::NoAgreement
    }));
    assert!(
        !ev.iter().any(|e| matches!(e, Event::Slashed { .. })),
        "nobody is slashed for non-determinism"
    );
    for p in &members {
        assert_eq!(h.s().provider(p).unwrap().locked, 0);
    }
    h.verify(&audit);

    // Optimistic: referees cannot agree either; both bonds come back.
    let mut h = H::new(
        Config::default(),
        &["alice", "bob", "mallory", "r1", "r2", "r3", "r4", "r5"],
    );
    let bob = h.register(&["bob"], &[QWEN])[0];
    let task = h.submit("alice", QWEN);
    h.register(&REFEREES, &[QWEN]);
    let audit = h.audit(
        &["mallory"],
        &["alice", "bob", "r1", "r2", "r3", "r4", "r5"],
    );
    h.post(task, TRUE_OUT);
    assert!(h.challenge("mallory", task, WRONG_OUT).is_applied());
    h.referee(task, &run, &run, Some(("mallory", WRONG_OUT)));
    let ev = h.events(audit.since);
    assert!(ev.contains(&Event::DisputeResolved {
        task,
        provider_won: None
    }));
    assert!(ev.contains(&Event::TaskFailed {
        task,
        reason: FailReason::NoAgreement
    }));
    assert!(!ev.iter().any(|e| matches!(e, Event::Slashed { .. })));
    assert_eq!(h.s().provider(&bob).unwrap().locked, 0);
    h.all_final();
    h.verify(&audit);
}

// ---- 11. compromised TEE ----------------------------------------------------------------------

/// An attested provider posts a wrong result, gets the shortened window and is
/// paid; a late fraud proof within the post-finality horizon disproves it. The
/// provider's collateral is slashed (the submitter compensated first, then the
/// challenger's bounty), the measurement is revoked, and an honest provider
/// carrying the same measurement gets the full window back on its pending
/// result and on every later one.
#[test]
fn attack_11_compromised_tee() {
    let actors = [
        "alice", "erin", "mallory", "dave", "carol", "r1", "r2", "r3", "r4", "r5",
    ];
    let mut h = H::new(tee(), &actors);
    let bad = h.register_with(
        &["mallory"],
        &[QWEN],
        10 * E18,
        Some(evidence("mallory", MEASUREMENT, 0)),
    )[0];
    let task = h.submit("alice", QWEN);
    assert_eq!(h.task(&task).provider, Some(bad));
    h.register(&REFEREES, &[QWEN]);
    let dave = h.register_with(
        &["dave"],
        &[CODER],
        10 * E18,
        Some(evidence("dave", MEASUREMENT, 0)),
    )[0];
    let audit = h.audit(
        &["mallory"],
        &[
            "alice", "erin", "dave", "carol", "r1", "r2", "r3", "r4", "r5",
        ],
    );
    let cfg = h.s().config().clone();

    h.post(task, WRONG_OUT);
    let r = h.task(&task).result.unwrap();
    assert_eq!(
        r.window_end - r.posted_height,
        cfg.tee_challenge_window_blocks
    );
    h.advance_to(r.window_end);
    let t = h.task(&task);
    assert_eq!(
        t.status,
        TaskStatus::Completed,
        "the shortcut paid it early"
    );
    assert_eq!(
        h.s().provider(&bad).unwrap().locked,
        r.collateral,
        "but the collateral is still at stake"
    );

    // Carol proves fraud after finality, within the horizon.
    let c = h.height() + 1;
    assert!(h.challenge("carol", task, TRUE_OUT).is_applied());
    let t = h.task(&task);
    let refs: Vec<ProviderId> = t.referees.iter().map(|m| m.provider).collect();
    assert_eq!(refs.len(), 5);
    let txs = h.commits(task, &refs, &honest);
    h.block_owned(txs);
    // Meanwhile dave (same measurement) posts a result with a shortened window.
    h.advance_to(c + 12);
    let other = h.submit("erin", CODER);
    assert_eq!(h.task(&other).provider, Some(dave));
    h.post(other, TRUE_OUT);
    let posted = h.height();
    assert_eq!(
        h.task(&other).result.unwrap().window_end,
        posted + cfg.tee_challenge_window_blocks
    );
    h.advance_to(t.commit_end);
    let mut txs = h.reveals(task, &refs, &honest);
    txs.push((
        "carol".into(),
        H::reveal_claim_action("carol", task, TRUE_OUT),
    ));
    let since = h.c.outcomes.len();
    h.block_owned(txs);

    // The verdict: slashed, compensated, revoked, windows restored.
    let ev = h.events(since);
    assert!(ev.contains(&Event::DisputeResolved {
        task,
        provider_won: Some(false)
    }));
    assert!(ev.contains(&Event::Slashed {
        provider: bad,
        amount: r.collateral,
        reason: SlashReason::LostDispute
    }));
    let pay = aivm_core::tee::late_fraud_payout(r.collateral, FEE, cfg.winner_share_bps);
    assert!(ev.contains(&Event::Compensated {
        to: Chain::addr("alice"),
        amount: FEE
    }));
    assert!(ev.contains(&Event::Compensated {
        to: Chain::addr("carol"),
        amount: pay.bounty
    }));
    assert!(ev.contains(&Event::MeasurementRevoked {
        measurement: MEASUREMENT
    }));
    let full = posted + cfg.challenge_window_blocks;
    assert!(ev.contains(&Event::ChallengeWindowExtended {
        task: other,
        window_end: full
    }));
    assert_eq!(h.s().revoked_measurements(), &[MEASUREMENT]);
    assert_eq!(h.task(&other).result.unwrap().window_end, full);
    assert!(h.s().provider(&dave).unwrap().attestation.is_none());
    assert!(h.s().provider(&bad).unwrap().attestation.is_none());

    // The measurement is refused from now on, for anyone.
    let now = h.s().tip().time_ms;
    let e = h.fail(
        "mallory",
        Action::Attest {
            provider: bad,
            attestation: evidence("mallory", MEASUREMENT, now),
        },
    );
    assert_eq!(
        e,
        TxError::Attestation(AttestationError::RevokedMeasurement)
    );
    // Dave's next result gets the full window too, until it attests a sound stack.
    let next = h.submit("erin", CODER);
    h.post(next, TRUE_OUT);
    let r2 = h.task(&next).result.unwrap();
    assert_eq!(
        r2.window_end - r2.posted_height,
        cfg.challenge_window_blocks
    );
    let now = h.s().tip().time_ms;
    h.ok(
        "dave",
        Action::Attest {
            provider: dave,
            attestation: evidence("dave", [0x5e; 32], now),
        },
    );
    let last = h.submit("erin", CODER);
    h.post(last, TRUE_OUT);
    let r3 = h.task(&last).result.unwrap();
    assert_eq!(
        r3.window_end - r3.posted_height,
        cfg.tee_challenge_window_blocks
    );

    h.advance_to(
        r2.window_end
            .max(full)
            .max(r3.window_end + cfg.post_finality_horizon_blocks)
            + 1,
    );
    h.all_final();
    assert_eq!(h.task(&task).status, TaskStatus::Failed);
    h.verify(&audit);
}

// ---- 12. weak randomness ----------------------------------------------------------------------

const RANDOM_BONDS: [(&str, u128); 4] = [
    ("h1", E18),
    ("h2", 2 * E18),
    ("h3", 3 * E18),
    ("mallory", 2 * E18),
];

/// The submitter cannot pick its provider. Task ids derive from (submitter,
/// nonce) and a task is assigned with the seed of a block after the one that
/// admitted it, so: the draw follows bond weights; nothing the submitter
/// chooses but its nonce enters the draw, and grinding nonces against the last
/// known seed does no better than chance (it would against the assigning
/// block's seed, which the submitter cannot know); splitting a bond into many
/// identities changes nothing.
#[test]
fn attack_12_weak_randomness() {
    // (a) Over many tasks and seeds, selection follows bond weights.
    let s = pending_state(&RANDOM_BONDS, 25);
    let mut won: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0u64;
    for i in 0..48 {
        let (next, out) = step(&s, vec![], seed("weights", i));
        for (_, pid) in assignments(&out) {
            let owner = next.provider(&pid).unwrap().owner;
            *won.entry(
                RANDOM_BONDS
                    .iter()
                    .find(|(n, _)| Chain::addr(n) == owner)
                    .unwrap()
                    .0
                    .to_string(),
            )
            .or_default() += 1;
            total += 1;
        }
    }
    assert_eq!(total, 25 * 48);
    for (name, bond) in RANDOM_BONDS {
        let share = ratio(won.get(name).copied().unwrap_or(0), total);
        let expect = bond as f64 / (8 * E18) as f64;
        assert!((share - expect).abs() < 0.04, "{name}: {share} vs {expect}");
    }

    // (b) Given the seeds, the content of the task does not matter; the seed does.
    let base = pending_state(&RANDOM_BONDS, 0);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..24 {
        let plain = submit_action(QWEN, FEE);
        let dressed = Action::SubmitTask {
            model: QWEN.into(),
            task_type: TaskType::Inference,
            input_hash: [0x99; 32],
            inline_input: b"chosen to grind".to_vec(),
            fee: 7 * FEE,
            redundancy: None,
        };
        let picks: Vec<ProviderId> = [plain, dressed]
            .into_iter()
            .map(|a| {
                let (s1, _) = step(&base, vec![sign(&base, "mallory", 0, a)], seed("adm", i));
                assignments(&step(&s1, vec![], seed("asg", i)).1)[0].1
            })
            .collect();
        assert_eq!(picks[0], picks[1], "the task's content steered the draw");
        seen.insert(picks[0]);
    }
    assert!(
        seen.len() >= 3,
        "the seed decides: {} distinct providers",
        seen.len()
    );

    // (c) Grinding the nonce (burning nonces with self-transfers) against the last
    // known seed is no better than chance.
    let m_pid = ProviderId::genesis(&Chain::addr("mallory"), 3);
    let before = grind_worth(&base);
    let (trials, options) = (80u64, 4u64);
    let (mut guessed, mut oracle) = (0, 0);
    let mut s_i = base.clone();
    for i in 0..trials {
        let known = seed("tip", i);
        s_i = step(&s_i, vec![], known).0;
        let real = (seed("real-adm", i), seed("real-asg", i));
        let plans: Vec<Vec<SignedTx>> = (0..options).map(|j| grind_txs(&s_i, j)).collect();
        let lands = |txs: &Vec<SignedTx>, (a, b): (Hash, Hash)| {
            let (s1, _) = step(&s_i, txs.clone(), a);
            let (s2, out) = step(&s1, vec![], b);
            (assignments(&out)[0].1 == m_pid, s2)
        };
        let pick = |seeds: (Hash, Hash)| plans.iter().position(|p| lands(p, seeds).0).unwrap_or(0);
        let (hit, after) = lands(&plans[pick((known, known))], real);
        guessed += u64::from(hit);
        oracle += u64::from(lands(&plans[pick(real)], real).0);
        // Grinding only ever costs the grinder (its fees), never the providers.
        let now = grind_worth(&after);
        assert!(now.0 < before.0, "grinding cost mallory nothing");
        assert_eq!(now.1, before.1, "the honest providers' holdings moved");
    }
    let (g, o) = (ratio(guessed, trials), ratio(oracle, trials));
    assert!(
        g < 0.25 + 0.12,
        "grinding against the last known seed won {g}"
    );
    assert!(
        o > 0.55,
        "sanity: with the assigning seed grinding would win ({o})"
    );

    // (d) Splitting a bond into many identities does not change the odds.
    assert_splitting_keeps_odds("split-12");
}

/// Mallory's holdings and the honest providers' holdings in a grinding trial.
fn grind_worth(s: &State) -> (u128, u128) {
    let m = Chain::addr("mallory");
    let mallory = s.balance(&m)
        + s.providers()
            .iter()
            .filter(|p| p.owner == m)
            .map(|p| p.bond)
            .sum::<u128>()
        + s.tasks()
            .filter(|t| t.submitter == m)
            .map(|t| t.fee)
            .sum::<u128>();
    let others = s
        .providers()
        .iter()
        .filter(|p| p.owner != m)
        .map(|p| p.bond)
        .sum::<u128>();
    (mallory, others)
}

/// Burn `j` nonces with self-transfers, then submit.
fn grind_txs(s: &State, j: u64) -> Vec<SignedTx> {
    let m = Chain::addr("mallory");
    let n = s.account(&m).nonce;
    let mut txs: Vec<SignedTx> = (0..j)
        .map(|k| sign(s, "mallory", n + k, Action::Transfer { to: m, amount: 1 }))
        .collect();
    txs.push(sign(s, "mallory", n + j, submit_action(QWEN, FEE)));
    txs
}

fn assert_splitting_keeps_odds(tag: &str) {
    let single = pending_state(
        &[("h1", 3 * E18), ("h2", 5 * E18), ("mallory", 4 * E18)],
        25,
    );
    let split = pending_state(
        &[
            ("h1", 3 * E18),
            ("h2", 5 * E18),
            ("m0", E18),
            ("m1", E18),
            ("m2", E18),
            ("m3", E18),
        ],
        25,
    );
    let (w1, n1) = selection_share(&single, &["mallory"], 40, tag);
    let (w2, n2) = selection_share(&split, &["m0", "m1", "m2", "m3"], 40, tag);
    let (a, b) = (ratio(w1, n1), ratio(w2, n2));
    assert!((a - 1.0 / 3.0).abs() < 0.04, "one identity: {a}");
    assert!((b - 1.0 / 3.0).abs() < 0.04, "four identities: {b}");
    assert!(
        (a - b).abs() < 0.05,
        "splitting changed the odds: {a} vs {b}"
    );
}

/// A block's proposer knows the block's seed while it picks the block's
/// transactions. If transactions of that same block can change the candidates
/// of a draw made at its end (a bond top-up, an unbond, a registration), the
/// proposer can try several blocks and keep the draw it likes.
#[test]
fn attack_12_same_block_data_cannot_steer_assignment() {
    let s = pending_state(&RANDOM_BONDS, 1);
    let m_pid = ProviderId::genesis(&Chain::addr("mallory"), 3);
    let mut steerable = 0;
    for i in 0..40 {
        let picks: Vec<ProviderId> = (0..4u128)
            .map(|v| {
                let txs = if v == 0 {
                    vec![]
                } else {
                    vec![sign(
                        &s,
                        "mallory",
                        0,
                        Action::TopUpBond {
                            provider: m_pid,
                            amount: v,
                        },
                    )]
                };
                assignments(&step(&s, txs, seed("proposer", i)).1)[0].1
            })
            .collect();
        if picks.iter().any(|p| *p != picks[0]) {
            steerable += 1;
        }
    }
    assert_eq!(
        steerable, 0,
        "{steerable} of 40 draws could be steered by same-block transactions"
    );
}

// ---- 13. accounting ---------------------------------------------------------------------------

/// Extreme values: a supply at the top of u128, transfers, fees, bonds and
/// top-ups that would overflow, and a task fee of 2^125. Every such tx fails
/// cleanly (only its fee is charged), value paid out never exceeds value
/// locked, the reward mint that would overflow the supply is skipped, and the
/// task's terms are the ones snapshotted at admission.
#[test]
fn attack_13_accounting() {
    let bob_balance = 1_000 * E18;
    let alice_balance = u128::MAX / 4;
    let headroom = 10u128;
    let mallory_balance = u128::MAX - alice_balance - bob_balance - headroom;
    let mut g = Genesis::new(
        "aivm-attacks",
        vec![
            (Chain::addr("alice"), alice_balance),
            (Chain::addr("bob"), bob_balance),
            (Chain::addr("mallory"), mallory_balance),
        ],
    );
    g.config = Config::default();
    let mut h = H {
        c: Chain::new(g).unwrap(),
        names: ["alice", "bob", "mallory"]
            .iter()
            .map(|n| (Chain::addr(n), n.to_string()))
            .collect(),
    };
    assert_eq!(h.s().globals().total_supply, u128::MAX - headroom);
    let bob = h.register(&["bob"], &[QWEN])[0];
    let audit = h.audit(&["mallory"], &["alice", "bob"]);

    // Everything that would overflow or overdraw fails with a typed error.
    let huge = h.register_with(&["mallory"], &[MINI], mallory_balance / 2, None)[0];
    type Expect = fn(&TxError) -> bool;
    let cases: Vec<(Action, Expect)> = vec![
        (
            Action::Transfer {
                to: Chain::addr("alice"),
                amount: u128::MAX,
            },
            |e| matches!(e, TxError::InsufficientBalance { .. }),
        ),
        (submit_action(QWEN, u128::MAX), |e| {
            matches!(e, TxError::InsufficientBalance { .. })
        }),
        (
            Action::RegisterProvider {
                endpoint: "x".into(),
                gpus: gpu(),
                models: vec![MINI.into()],
                bond: u128::MAX,
                attestation: None,
            },
            |e| matches!(e, TxError::InsufficientBalance { .. }),
        ),
        (
            Action::TopUpBond {
                provider: huge,
                amount: u128::MAX,
            },
            |e| matches!(e, TxError::Overflow | TxError::InsufficientBalance { .. }),
        ),
        (
            Action::TopUpBond {
                provider: bob,
                amount: 1,
            },
            |e| *e == TxError::NotProviderOwner,
        ),
        (Action::ClaimRewards { provider: huge }, |e| {
            *e == TxError::NothingToClaim
        }),
        (
            Action::Challenge {
                task: TaskId([1; 32]),
                claim: [0; 32],
            },
            |e| *e == TxError::UnknownTask,
        ),
    ];
    for (a, ok) in cases {
        let e = h.fail("mallory", a.clone());
        assert!(ok(&e), "{a:?}: {e:?}");
    }
    // The big bond leaves exactly as it came.
    h.ok("mallory", Action::Unbond { provider: huge });
    h.advance(h.s().config().unbond_cooldown_blocks);
    let r = h.ok("mallory", Action::WithdrawBond { provider: huge });
    assert!(r.events.contains(&Event::BondWithdrawn {
        provider: huge,
        owner: Chain::addr("mallory"),
        amount: mallory_balance / 2
    }));

    // A task with an extreme fee: paid + protocol share == fee, and no more.
    let fee = 1u128 << 125;
    let nonce = h.s().account(&Chain::addr("alice")).nonce;
    h.ok("alice", submit_action(QWEN, fee));
    let task = TaskId::derive(&Chain::addr("alice"), nonce);
    assert_eq!(
        h.task(&task).terms,
        TaskTerms::from_config(h.s().config(), None),
        "terms snapshotted at admission"
    );
    h.advance(1);
    h.post(task, TRUE_OUT);
    let bob_before = h.s().balance(&Chain::addr("bob"));
    let treasury_before = h.s().globals().treasury;
    let supply_before = h.s().globals().total_supply;
    let since = h.c.outcomes.len();
    h.advance_to(h.task(&task).result.unwrap().window_end);
    let ev = h.events(since);
    let (paid, share) = ev
        .iter()
        .find_map(|e| match e {
            Event::TaskFinalized {
                task: t,
                paid,
                protocol_share,
                ..
            } if *t == task => Some((*paid, *protocol_share)),
            _ => None,
        })
        .expect("finalised");
    assert_eq!(paid + share, fee);
    assert_eq!(
        share,
        aivm_core::optimistic::mul_bps(fee, h.s().config().protocol_share_bps)
    );
    assert_eq!(h.s().balance(&Chain::addr("bob")), bob_before + paid);
    assert_eq!(h.s().globals().treasury, treasury_before + share);
    // The reward mint would overflow the supply: it is skipped, nothing panics.
    assert!(!ev.iter().any(|e| matches!(e, Event::RewardMinted { .. })));
    assert_eq!(h.s().globals().total_supply, supply_before);
    let payout = aivm_core::tee::late_fraud_payout(u128::MAX, u128::MAX - 1, 10_000);
    assert_eq!(payout.compensation + payout.bounty + payout.rest, u128::MAX);
    assert_eq!(aivm_core::optimistic::mul_bps(u128::MAX, 10_000), u128::MAX);
    assert_eq!(
        aivm_core::optimistic::mul_bps(u128::MAX, 5_000),
        u128::MAX / 2
    );
    h.all_final();
    h.verify(&audit);
}
