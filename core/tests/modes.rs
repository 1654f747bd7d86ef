//! Disputes (optimistic mode) and M-of-N commit-reveal, end to end on a
//! `Chain` (which checks conservation and the indexes after every tx).
//!
//! Amounts are the config defaults (collateral and challenge bond 10^17,
//! referee slash 10^16, divergence and withhold slash 10^17, winner 50%,
//! referees 20%, majority 50%, protocol 5%); only the block counts are shortened.

use std::collections::BTreeMap;

use aivm_core::chain::Chain;
use aivm_core::config::Config;
use aivm_core::dispute::{claim_commitment, finality_bound_blocks, output_commitment};
use aivm_core::events::{FailReason, SlashReason};
use aivm_core::genesis::GenesisProvider;
use aivm_core::tasks::TaskStatus;
use aivm_core::tx::GpuInfo;
use aivm_core::types::{hex, TaskType};
use aivm_core::{
    Action, Address, Event, Genesis, Hash, ProviderId, TaskId, TxError, TxStatus, VerificationMode,
};

const E18: u128 = 1_000_000_000_000_000_000;
const PROVIDERS: usize = 11;
const FEE: u128 = 10_000_000;
const BOND: u128 = 2 * E18;
const COLLATERAL: u128 = E18 / 10;
const CHALLENGE_BOND: u128 = E18 / 10;
const REFEREE_SLASH: u128 = E18 / 100;
const SLASH: u128 = E18 / 10;
const REWARD: u128 = 1_000_000_000;

/// The mint per majority member when `k` providers are paid for a task: the flat
/// reward capped at the protocol share of the fee, split among them.
const fn reward(k: u128) -> u128 {
    let cap = FEE / 20 / k;
    if REWARD < cap {
        REWARD
    } else {
        cap
    }
}
const GOOD: Hash = [0x11; 32];
const BAD: Hash = [0xbb; 32];
const OTHER: Hash = [0xcc; 32];
const CLAIM_SALT: Hash = [0x5a; 32];
const MODEL: &str = "qwen3-8b";
const USERS: [&str; 5] = ["alice", "carol", "dave", "eve", "sybil"];

fn op(i: usize) -> String {
    format!("op{i}")
}

fn addr(name: &str) -> Address {
    Chain::addr(name)
}

fn pid(i: usize) -> ProviderId {
    ProviderId::genesis(&addr(&op(i)), i as u64)
}

fn index_of(p: ProviderId) -> usize {
    (0..PROVIDERS)
        .find(|i| pid(*i) == p)
        .expect("a genesis provider")
}

fn world(mode: VerificationMode) -> Chain {
    let mut balances: Vec<(Address, u128)> = USERS.iter().map(|u| (addr(u), 10 * E18)).collect();
    balances.extend((0..PROVIDERS).map(|i| (addr(&op(i)), E18)));
    let mut g = Genesis::new("aivm-modes", balances);
    g.config = Config {
        verification_mode: mode,
        challenge_window_blocks: 10,
        tee_challenge_window_blocks: 2,
        result_deadline_blocks: 5,
        referee_commit_blocks: 3,
        referee_reveal_blocks: 3,
        commit_phase_blocks: 3,
        reveal_phase_blocks: 3,
        ..Config::default()
    };
    g.providers = (0..PROVIDERS)
        .map(|i| GenesisProvider {
            owner: addr(&op(i)),
            endpoint: format!("https://op{i}.example"),
            gpus: vec![GpuInfo {
                model: "NVIDIA H100".into(),
                memory_gb: 80,
                count: 1,
            }],
            models: vec![MODEL.into()],
            bond: BOND,
        })
        .collect();
    Chain::new(g).unwrap()
}

// ---- driving the chain ------------------------------------------------------------------

fn run(c: &mut Chain, txs: Vec<(String, Action)>) -> Vec<TxStatus> {
    let signed = txs.into_iter().map(|(n, a)| c.tx(&n, a)).collect();
    let out = c.block(signed).unwrap();
    out.receipts.iter().map(|r| r.status.clone()).collect()
}

fn applied(st: &[TxStatus]) {
    assert!(st.iter().all(|s| *s == TxStatus::Applied), "{st:#?}");
}

fn failed(st: &TxStatus, e: TxError) {
    assert_eq!(*st, TxStatus::Failed(e));
}

/// Empty blocks until the next block has height `h`.
fn idle_until(c: &mut Chain, h: u64) {
    assert!(c.state.height() < h, "already past {h}");
    while c.state.height() + 1 < h {
        c.block(vec![]).unwrap();
    }
}

fn status(c: &Chain, t: &TaskId) -> TaskStatus {
    c.state.task(t).unwrap().status
}

fn submit(c: &mut Chain) -> TaskId {
    let nonce = c.state.account(&addr("alice")).nonce;
    let action = Action::SubmitTask {
        model: MODEL.into(),
        task_type: TaskType::Inference,
        input_hash: [7; 32],
        inline_input: b"prompt".to_vec(),
        fee: FEE,
        redundancy: None,
    };
    applied(&run(c, vec![("alice".into(), action)]));
    TaskId::derive(&addr("alice"), nonce)
}

fn salt(i: usize) -> Hash {
    [100 + i as u8; 32]
}

fn commit(task: TaskId, i: usize, out: Hash) -> (String, Action) {
    let commitment = output_commitment(&task, &pid(i), &out, &salt(i));
    (
        op(i),
        Action::CommitOutput {
            task,
            provider: pid(i),
            commitment,
        },
    )
}

fn reveal(task: TaskId, i: usize, out: Hash) -> (String, Action) {
    (
        op(i),
        Action::RevealOutput {
            task,
            provider: pid(i),
            output_hash: out,
            salt: salt(i),
        },
    )
}

fn challenge(who: &str, task: TaskId, claim: Hash) -> (String, Action) {
    let claim = claim_commitment(&task, &addr(who), &claim, &CLAIM_SALT);
    (who.into(), Action::Challenge { task, claim })
}

fn reveal_claim(who: &str, task: TaskId, out: Hash) -> (String, Action) {
    (
        who.into(),
        Action::RevealClaim {
            task,
            output_hash: out,
            salt: CLAIM_SALT,
        },
    )
}

/// Everything a party holds (balance, bonds, unclaimed rewards) plus the tx
/// fees it paid, so that deltas show only what the protocol moved.
fn wealth(c: &Chain, name: &str) -> i128 {
    let a = addr(name);
    let acct = c.state.account(&a);
    let staked: u128 = c
        .state
        .providers()
        .iter()
        .filter(|p| p.owner == a)
        .map(|p| p.bond + p.stats.pending_rewards)
        .sum();
    (acct.balance + staked + u128::from(acct.nonce) * c.state.config().tx_fee) as i128
}

fn everyone() -> Vec<String> {
    USERS
        .iter()
        .map(|u| u.to_string())
        .chain((0..PROVIDERS).map(op))
        .collect()
}

fn snapshot_wealth(c: &Chain) -> BTreeMap<String, i128> {
    everyone()
        .into_iter()
        .map(|n| (n.clone(), wealth(c, &n)))
        .collect()
}

/// Protocol-made change of every party's wealth since `before`.
fn deltas(c: &Chain, before: &BTreeMap<String, i128>) -> BTreeMap<String, i128> {
    before
        .iter()
        .map(|(n, w)| (n.clone(), wealth(c, n) - w))
        .collect()
}

fn burned(c: &Chain) -> u128 {
    c.state.globals().total_burned
}

/// Asserts each named delta and that every other party's delta is zero.
fn expect(d: &BTreeMap<String, i128>, want: &[(String, i128)]) {
    let mut full: BTreeMap<String, i128> = d.keys().map(|k| (k.clone(), 0)).collect();
    for (k, v) in want {
        *full
            .get_mut(k)
            .unwrap_or_else(|| panic!("unknown party {k}")) += v;
    }
    assert_eq!(d, &full);
}

fn locked_everywhere(c: &Chain) -> u128 {
    c.state.providers().iter().map(|p| p.locked).sum()
}

/// Advances until the task is final and checks the documented finality bound.
fn settle(c: &mut Chain, t: &TaskId, assigned_at: u64) {
    while !status(c, t).is_final() {
        c.block(vec![]).unwrap();
        assert!(c.state.height() < assigned_at + 1_000, "task never settles");
    }
    let bound = finality_bound_blocks(&c.state.task(t).unwrap().terms);
    assert!(
        c.state.height() - assigned_at <= bound,
        "settled after {} > {bound}",
        c.state.height() - assigned_at
    );
}

// ---- rendering for snapshots --------------------------------------------------------------

fn render(c: &Chain, from_height: u64) -> String {
    let mut names: Vec<(String, String)> = Vec::new();
    for n in everyone()
        .iter()
        .chain(std::iter::once(&"proposer".to_string()))
    {
        names.push((format!("Address({})", &hex(&addr(n).0)[..16]), n.clone()));
    }
    for i in 0..PROVIDERS {
        names.push((
            format!("ProviderId({})", &hex(&pid(i).0)[..16]),
            format!("P{i}"),
        ));
    }
    for (h, n) in [(GOOD, "GOOD"), (BAD, "BAD"), (OTHER, "OTHER")] {
        names.push((format!("{h:?}"), n.to_string()));
    }
    let mut out = String::new();
    for o in c.outcomes.iter().filter(|o| o.height >= from_height) {
        let events = o
            .receipts
            .iter()
            .flat_map(|r| {
                let st = match &r.status {
                    TxStatus::Applied => None,
                    s => Some(format!("tx {s:?}")),
                };
                st.into_iter().chain(
                    r.events
                        .iter()
                        .filter(|e| interesting(e))
                        .map(|e| format!("{e:?}")),
                )
            })
            .chain(
                o.end_events
                    .iter()
                    .filter(|e| interesting(e))
                    .map(|e| format!("end {e:?}")),
            )
            .collect::<Vec<_>>();
        for e in events {
            let mut line = rename_tasks(&e);
            for (from, to) in &names {
                line = line.replace(from, to);
            }
            out.push_str(&format!("{:>3} {line}\n", o.height));
        }
    }
    out
}

/// Task ids read as `task`: each test follows one task at a time.
fn rename_tasks(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("TaskId(") {
        out.push_str(&rest[..i]);
        out.push_str("task");
        rest = &rest[i + "TaskId(".len() + 17..];
    }
    out.push_str(rest);
    out
}

fn interesting(e: &Event) -> bool {
    !matches!(
        e,
        Event::FeePaid { .. } | Event::ProposerPaid { .. } | Event::EpochStarted { .. }
    )
}

fn render_deltas(d: &BTreeMap<String, i128>, c: &Chain, burned_before: u128) -> String {
    let mut out: String = d
        .iter()
        .filter(|(_, v)| **v != 0)
        .map(|(k, v)| format!("{k}: {v:+}\n"))
        .collect();
    out.push_str(&format!("burned: {}\n", burned(c) - burned_before));
    out
}

// ---- optimistic disputes ------------------------------------------------------------------

struct Posted {
    task: TaskId,
    provider: usize,
    assigned_at: u64,
    posted_at: u64,
}

fn posted_result(c: &mut Chain, out: Hash) -> Posted {
    let task = submit(c);
    c.block(vec![]).unwrap();
    let assigned_at = c.state.height();
    let provider = index_of(c.state.task(&task).unwrap().provider.expect("assigned"));
    let post = Action::SubmitResult {
        task,
        provider: pid(provider),
        output_hash: out,
        inline_output: vec![],
        compute_time_ms: 40,
    };
    applied(&run(c, vec![(op(provider), post)]));
    Posted {
        task,
        provider,
        assigned_at,
        posted_at: c.state.height(),
    }
}

fn referees(c: &Chain, t: &TaskId) -> Vec<usize> {
    c.state
        .task(t)
        .unwrap()
        .referees
        .iter()
        .map(|m| index_of(m.provider))
        .collect()
}

fn committee(c: &Chain, t: &TaskId) -> Vec<usize> {
    c.state
        .task(t)
        .unwrap()
        .committee
        .iter()
        .map(|m| index_of(m.provider))
        .collect()
}

/// Referees commit to `votes[k]` (None: silent) in one block and reveal in the
/// first reveal block, with the challenger's claim opened alongside.
fn referee_round(c: &mut Chain, t: TaskId, votes: &[Option<Hash>], claim: Option<(&str, Hash)>) {
    let refs = referees(c, &t);
    assert_eq!(refs.len(), votes.len());
    let commits = refs
        .iter()
        .zip(votes)
        .filter_map(|(i, v)| v.map(|v| commit(t, *i, v)))
        .collect();
    applied(&run(c, commits));
    idle_until(c, c.state.task(&t).unwrap().commit_end + 1);
    let mut reveals: Vec<_> = refs
        .iter()
        .zip(votes)
        .filter_map(|(i, v)| v.map(|v| reveal(t, *i, v)))
        .collect();
    reveals.extend(claim.map(|(who, out)| reveal_claim(who, t, out)));
    applied(&run(c, reveals));
}

#[test]
fn dispute_won_by_provider() {
    let mut c = world(VerificationMode::Optimistic);
    let before = snapshot_wealth(&c);
    let start = c.state.height() + 1;
    let p = posted_result(&mut c, GOOD);
    applied(&run(&mut c, vec![challenge("carol", p.task, BAD)]));
    let refs = referees(&c, &p.task);
    assert_eq!(refs.len(), 5);
    assert!(!refs.contains(&p.provider));
    referee_round(&mut c, p.task, &[Some(GOOD); 5], Some(("carol", BAD)));
    // Everyone spoke: decided at the end of that very block.
    let t = c.state.task(&p.task).unwrap();
    assert_eq!(t.status, TaskStatus::Completed);
    assert_eq!(t.final_output, Some(GOOD));
    assert_eq!(t.escrowed_bonds(), 0);
    settle(&mut c, &p.task, p.assigned_at);
    let d = deltas(&c, &before);
    let mut want = vec![
        ("alice".into(), -(FEE as i128)),
        ("carol".into(), -(CHALLENGE_BOND as i128)),
        (
            op(p.provider),
            (FEE - FEE / 20 + reward(1) + CHALLENGE_BOND / 2) as i128,
        ),
    ];
    want.extend(
        refs.iter()
            .map(|i| (op(*i), (CHALLENGE_BOND / 5 / 5) as i128)),
    );
    expect(&d, &want);
    assert_eq!(burned(&c), CHALLENGE_BOND * 3 / 10);
    assert_eq!(locked_everywhere(&c), 0);
    insta::assert_snapshot!(
        "dispute_won_by_provider",
        format!("{}\n{}", render(&c, start), render_deltas(&d, &c, 0))
    );
}

#[test]
fn dispute_won_by_challenger() {
    let mut c = world(VerificationMode::Optimistic);
    let before = snapshot_wealth(&c);
    let start = c.state.height() + 1;
    let p = posted_result(&mut c, BAD);
    applied(&run(&mut c, vec![challenge("carol", p.task, GOOD)]));
    let refs = referees(&c, &p.task);
    // Four referees agree with the challenger, one never shows up.
    let votes = [Some(GOOD), Some(GOOD), Some(GOOD), Some(GOOD), None];
    referee_round(&mut c, p.task, &votes, Some(("carol", GOOD)));
    assert_eq!(
        status(&c, &p.task),
        TaskStatus::Disputed,
        "waits for the silent referee"
    );
    settle(&mut c, &p.task, p.assigned_at);
    assert_eq!(status(&c, &p.task), TaskStatus::Failed);
    let d = deltas(&c, &before);
    let mut want = vec![
        ("carol".into(), (COLLATERAL / 2) as i128),
        (op(p.provider), -(COLLATERAL as i128)),
        (op(refs[4]), -(REFEREE_SLASH as i128)),
    ];
    want.extend(
        refs[..4]
            .iter()
            .map(|i| (op(*i), (COLLATERAL / 5 / 4) as i128)),
    );
    expect(&d, &want);
    assert_eq!(burned(&c), COLLATERAL * 3 / 10 + REFEREE_SLASH);
    assert_eq!(locked_everywhere(&c), 0);
    let ends = &c.last_outcome().unwrap().end_events;
    assert!(ends.contains(&Event::TaskFailed {
        task: p.task,
        reason: FailReason::Disproven
    }));
    assert!(ends.contains(&Event::Slashed {
        provider: pid(refs[4]),
        amount: REFEREE_SLASH,
        reason: SlashReason::RefereeAbsent
    }));
    insta::assert_snapshot!(
        "dispute_won_by_challenger",
        format!("{}\n{}", render(&c, start), render_deltas(&d, &c, 0))
    );
}

#[test]
fn dispute_without_majority_returns_both_bonds_and_refunds() {
    let mut c = world(VerificationMode::Optimistic);
    let before = snapshot_wealth(&c);
    let start = c.state.height() + 1;
    let p = posted_result(&mut c, GOOD);
    applied(&run(&mut c, vec![challenge("carol", p.task, BAD)]));
    let votes = [Some(GOOD), Some(GOOD), Some(BAD), Some(BAD), Some(OTHER)];
    referee_round(&mut c, p.task, &votes, Some(("carol", BAD)));
    settle(&mut c, &p.task, p.assigned_at);
    let d = deltas(&c, &before);
    expect(&d, &[]);
    assert_eq!(burned(&c), 0);
    assert_eq!(locked_everywhere(&c), 0);
    assert_eq!(c.state.provider(&pid(p.provider)).unwrap().open_tasks, 0);
    let ends = &c.last_outcome().unwrap().end_events;
    assert!(ends.contains(&Event::DisputeResolved {
        task: p.task,
        provider_won: None
    }));
    assert!(ends.contains(&Event::TaskFailed {
        task: p.task,
        reason: FailReason::NoAgreement
    }));
    insta::assert_snapshot!(
        "dispute_no_majority",
        format!("{}\n{}", render(&c, start), render_deltas(&d, &c, 0))
    );
}

#[test]
fn absent_and_dissenting_referees_are_slashed() {
    let mut c = world(VerificationMode::Optimistic);
    let before = snapshot_wealth(&c);
    let p = posted_result(&mut c, GOOD);
    applied(&run(&mut c, vec![challenge("carol", p.task, BAD)]));
    let refs = referees(&c, &p.task);
    let votes = [Some(GOOD), Some(GOOD), Some(GOOD), Some(BAD), None];
    referee_round(&mut c, p.task, &votes, Some(("carol", BAD)));
    settle(&mut c, &p.task, p.assigned_at);
    assert_eq!(status(&c, &p.task), TaskStatus::Completed);
    let d = deltas(&c, &before);
    let third = CHALLENGE_BOND / 5 / 3;
    let mut want = vec![
        ("alice".into(), -(FEE as i128)),
        ("carol".into(), -(CHALLENGE_BOND as i128)),
        (
            op(p.provider),
            (FEE - FEE / 20 + reward(1) + CHALLENGE_BOND / 2) as i128,
        ),
        (op(refs[3]), -(REFEREE_SLASH as i128)),
        (op(refs[4]), -(REFEREE_SLASH as i128)),
    ];
    want.extend(refs[..3].iter().map(|i| (op(*i), third as i128)));
    expect(&d, &want);
    assert_eq!(
        burned(&c),
        CHALLENGE_BOND * 3 / 10 + (CHALLENGE_BOND / 5 - 3 * third) + 2 * REFEREE_SLASH
    );
    let ends = &c.last_outcome().unwrap().end_events;
    assert!(ends.contains(&Event::Slashed {
        provider: pid(refs[3]),
        amount: REFEREE_SLASH,
        reason: SlashReason::RefereeDissent
    }));
}

#[test]
fn last_block_challenge_gets_the_same_phases() {
    let mut c = world(VerificationMode::Optimistic);
    let cfg = c.state.config().clone();
    for late in [false, true] {
        let p = posted_result(&mut c, BAD);
        let window_end = c
            .state
            .task(&p.task)
            .unwrap()
            .result
            .as_ref()
            .unwrap()
            .window_end;
        let at = if late { window_end } else { p.posted_at + 1 };
        idle_until(&mut c, at);
        applied(&run(&mut c, vec![challenge("carol", p.task, GOOD)]));
        let t = c.state.task(&p.task).unwrap().clone();
        assert_eq!(t.commit_end - at, cfg.referee_commit_blocks, "late={late}");
        assert_eq!(
            t.reveal_end - t.commit_end,
            cfg.referee_reveal_blocks,
            "late={late}"
        );
        // Referees use the last block of each phase.
        let refs = referees(&c, &p.task);
        idle_until(&mut c, t.commit_end);
        applied(&run(
            &mut c,
            refs.iter().map(|i| commit(p.task, *i, GOOD)).collect(),
        ));
        idle_until(&mut c, t.reveal_end);
        let mut reveals: Vec<_> = refs.iter().map(|i| reveal(p.task, *i, GOOD)).collect();
        reveals.push(reveal_claim("carol", p.task, GOOD));
        applied(&run(&mut c, reveals));
        assert_eq!(status(&c, &p.task), TaskStatus::Failed);
        settle(&mut c, &p.task, p.assigned_at);
    }
    // One block later the window is shut.
    let p = posted_result(&mut c, GOOD);
    let window_end = c
        .state
        .task(&p.task)
        .unwrap()
        .result
        .as_ref()
        .unwrap()
        .window_end;
    idle_until(&mut c, window_end + 1);
    let st = run(&mut c, vec![challenge("carol", p.task, BAD)]);
    // The window's last block was the previous one; the result finalised at its end.
    assert_eq!(status(&c, &p.task), TaskStatus::Completed);
    assert!(
        matches!(st[0], TxStatus::Failed(TxError::WindowClosed { .. })),
        "{st:?}"
    );
}

#[test]
fn a_disputed_or_decided_task_refuses_another_challenge() {
    let mut c = world(VerificationMode::Optimistic);
    let p = posted_result(&mut c, GOOD);
    let dave = wealth(&c, "dave");
    let st = run(
        &mut c,
        vec![
            challenge("carol", p.task, BAD),
            challenge("dave", p.task, BAD),
        ],
    );
    assert_eq!(st[0], TxStatus::Applied);
    failed(
        &st[1],
        TxError::WrongTaskStatus {
            status: "disputed".into(),
        },
    );
    referee_round(&mut c, p.task, &[Some(GOOD); 5], Some(("carol", BAD)));
    assert_eq!(status(&c, &p.task), TaskStatus::Completed);
    let st = run(&mut c, vec![challenge("dave", p.task, BAD)]);
    assert!(
        matches!(st[0], TxStatus::Failed(TxError::WindowClosed { .. })),
        "{st:?}"
    );
    assert_eq!(
        wealth(&c, "dave"),
        dave,
        "refused challenges cost only tx fees"
    );
    settle(&mut c, &p.task, p.assigned_at);
}

#[test]
fn owner_cannot_challenge_its_own_result_and_a_sybil_loses() {
    let mut c = world(VerificationMode::Optimistic);
    let p = posted_result(&mut c, GOOD);
    let me = op(p.provider);
    let st = run(&mut c, vec![challenge(&me, p.task, BAD)]);
    failed(&st[0], TxError::OwnResult);
    // The owner funds a second identity and challenges through it.
    let fund = Action::Transfer {
        to: addr("sybil"),
        amount: CHALLENGE_BOND,
    };
    applied(&run(&mut c, vec![(me.clone(), fund)]));
    let combined = |c: &Chain| wealth(c, &me) + wealth(c, "sybil");
    let before = combined(&c);
    applied(&run(&mut c, vec![challenge("sybil", p.task, BAD)]));
    referee_round(&mut c, p.task, &[Some(GOOD); 5], Some(("sybil", BAD)));
    settle(&mut c, &p.task, p.assigned_at);
    let fee_and_reward = (FEE - FEE / 20 + reward(1)) as i128;
    assert_eq!(
        combined(&c) - before,
        fee_and_reward - (CHALLENGE_BOND / 2) as i128
    );
    assert!(
        combined(&c) - before < fee_and_reward,
        "self-challenge only loses"
    );
}

#[test]
fn a_copied_referee_commitment_cannot_be_revealed_by_the_copier() {
    let mut c = world(VerificationMode::Optimistic);
    let before = snapshot_wealth(&c);
    let p = posted_result(&mut c, GOOD);
    applied(&run(&mut c, vec![challenge("carol", p.task, BAD)]));
    let refs = referees(&c, &p.task);
    let (r0, r1) = (refs[0], refs[1]);
    let honest = output_commitment(&p.task, &pid(r0), &GOOD, &salt(r0));
    let mut txs: Vec<_> = refs
        .iter()
        .filter(|i| **i != r1)
        .map(|i| commit(p.task, *i, GOOD))
        .collect();
    txs.push((
        op(r1),
        Action::CommitOutput {
            task: p.task,
            provider: pid(r1),
            commitment: honest,
        },
    ));
    applied(&run(&mut c, txs));
    let first_reveal_block = c.state.task(&p.task).unwrap().commit_end + 1;
    idle_until(&mut c, first_reveal_block);
    let copy = (
        op(r1),
        Action::RevealOutput {
            task: p.task,
            provider: pid(r1),
            output_hash: GOOD,
            salt: salt(r0),
        },
    );
    let mut txs = vec![copy];
    txs.extend(
        refs.iter()
            .filter(|i| **i != r1)
            .map(|i| reveal(p.task, *i, GOOD)),
    );
    let st = run(&mut c, txs);
    failed(&st[0], TxError::CommitmentMismatch);
    assert!(st[1..].iter().all(|s| *s == TxStatus::Applied));
    settle(&mut c, &p.task, p.assigned_at);
    let d = deltas(&c, &before);
    assert_eq!(
        d[&op(r1)],
        -(REFEREE_SLASH as i128),
        "the copier pays as a silent referee"
    );
    assert_eq!(d[&op(r0)], (CHALLENGE_BOND / 5 / 4) as i128);
}

#[test]
fn a_copied_challenge_earns_no_bounty() {
    let mut c = world(VerificationMode::Optimistic);
    let before = snapshot_wealth(&c);
    let p = posted_result(&mut c, BAD);
    // Carol's challenge is copied from the mempool by Eve and lands first.
    let (_, carols) = challenge("carol", p.task, GOOD);
    let st = run(
        &mut c,
        vec![("eve".into(), carols.clone()), ("carol".into(), carols)],
    );
    assert_eq!(st[0], TxStatus::Applied);
    failed(
        &st[1],
        TxError::WrongTaskStatus {
            status: "disputed".into(),
        },
    );
    let refs = referees(&c, &p.task);
    applied(&run(
        &mut c,
        refs.iter().map(|i| commit(p.task, *i, GOOD)).collect(),
    ));
    let first_reveal_block = c.state.task(&p.task).unwrap().commit_end + 1;
    idle_until(&mut c, first_reveal_block);
    let mut txs = vec![
        reveal_claim("eve", p.task, GOOD),
        reveal_claim("carol", p.task, GOOD),
    ];
    txs.extend(refs.iter().map(|i| reveal(p.task, *i, GOOD)));
    let st = run(&mut c, txs);
    failed(&st[0], TxError::CommitmentMismatch);
    failed(&st[1], TxError::NoCommitment);
    settle(&mut c, &p.task, p.assigned_at);
    assert_eq!(status(&c, &p.task), TaskStatus::Failed);
    let d = deltas(&c, &before);
    let mut want = vec![(op(p.provider), -(COLLATERAL as i128))];
    want.extend(refs.iter().map(|i| (op(*i), (COLLATERAL / 5 / 5) as i128)));
    expect(&d, &want);
    assert!(
        c.state.balance(&addr("eve")) < 10 * E18,
        "the copier is out of pocket by its tx fees"
    );
    assert_eq!(
        burned(&c),
        COLLATERAL * 8 / 10,
        "the unclaimed bounty is burned"
    );
}

#[test]
fn too_few_referees_resolve_as_no_majority() {
    let mut c = world(VerificationMode::Optimistic);
    // Leave only two eligible referees: every other provider starts unbonding.
    let p = posted_result(&mut c, GOOD);
    let keep: Vec<usize> = (0..PROVIDERS)
        .filter(|i| *i != p.provider)
        .take(2)
        .collect();
    let unbond = (0..PROVIDERS)
        .filter(|i| *i != p.provider && !keep.contains(i))
        .map(|i| (op(i), Action::Unbond { provider: pid(i) }))
        .collect();
    applied(&run(&mut c, unbond));
    let before = snapshot_wealth(&c);
    applied(&run(&mut c, vec![challenge("carol", p.task, BAD)]));
    assert_eq!(
        status(&c, &p.task),
        TaskStatus::Failed,
        "decided at the challenge block's end"
    );
    expect(&deltas(&c, &before), &[("alice".into(), FEE as i128)]);
    assert_eq!(locked_everywhere(&c), 0);
}

// ---- M-of-N -----------------------------------------------------------------------------

struct Drawn {
    task: TaskId,
    members: Vec<usize>,
    assigned_at: u64,
}

fn drawn_committee(c: &mut Chain) -> Drawn {
    let task = submit(c);
    c.block(vec![]).unwrap();
    assert_eq!(status(c, &task), TaskStatus::Committing);
    let members = committee(c, &task);
    assert_eq!(members.len(), 5);
    let owners: std::collections::BTreeSet<_> = members.iter().collect();
    assert_eq!(owners.len(), 5, "distinct owners");
    Drawn {
        task,
        members,
        assigned_at: c.state.height(),
    }
}

/// Members commit to `votes[k]` (None: commits but never reveals), then reveal.
fn member_round(c: &mut Chain, d: &Drawn, votes: &[Option<Hash>]) {
    let commits = d
        .members
        .iter()
        .zip(votes)
        .map(|(i, v)| commit(d.task, *i, v.unwrap_or(OTHER)))
        .collect();
    applied(&run(c, commits));
    assert_eq!(
        status(c, &d.task),
        TaskStatus::Revealing,
        "all committed: reveal phase opens early"
    );
    let reveals = d
        .members
        .iter()
        .zip(votes)
        .filter_map(|(i, v)| v.map(|v| reveal(d.task, *i, v)))
        .collect();
    applied(&run(c, reveals));
}

#[test]
fn m_of_n_all_agree() {
    let mut c = world(VerificationMode::MultiPartyRedundant);
    let before = snapshot_wealth(&c);
    let start = c.state.height() + 1;
    let d = drawn_committee(&mut c);
    member_round(&mut c, &d, &[Some(GOOD); 5]);
    let t = c.state.task(&d.task).unwrap();
    assert_eq!(
        t.status,
        TaskStatus::Completed,
        "unanimous: settled when the last reveal lands"
    );
    assert_eq!(t.final_output, Some(GOOD));
    assert_eq!(
        c.last_outcome().unwrap().results_root,
        aivm_core::apply::results_root(&[(d.task, GOOD)])
    );
    settle(&mut c, &d.task, d.assigned_at);
    let each = (FEE - FEE / 20) / 5;
    let mut want = vec![("alice".to_string(), -(FEE as i128))];
    want.extend(
        d.members
            .iter()
            .map(|i| (op(*i), (each + reward(5)) as i128)),
    );
    expect(&deltas(&c, &before), &want);
    assert_eq!(c.state.globals().treasury, FEE / 20);
    assert_eq!(locked_everywhere(&c), 0);
    assert!(c.state.providers().iter().all(|p| p.open_tasks == 0));
    insta::assert_snapshot!(
        "m_of_n_all_agree",
        format!(
            "{}\n{}",
            render(&c, start),
            render_deltas(&deltas(&c, &before), &c, 0)
        )
    );
}

#[test]
fn m_of_n_two_divergent_are_slashed_after_the_escalation_window() {
    let mut c = world(VerificationMode::MultiPartyRedundant);
    let before = snapshot_wealth(&c);
    let start = c.state.height() + 1;
    let d = drawn_committee(&mut c);
    member_round(
        &mut c,
        &d,
        &[Some(GOOD), Some(BAD), Some(GOOD), Some(BAD), Some(GOOD)],
    );
    assert_eq!(
        status(&c, &d.task),
        TaskStatus::ResultPosted,
        "contested: escalation window"
    );
    assert_eq!(
        locked_everywhere(&c),
        5 * SLASH,
        "slashes still covered, not yet taken"
    );
    settle(&mut c, &d.task, d.assigned_at);
    assert_eq!(status(&c, &d.task), TaskStatus::Completed);
    let each_fee = (FEE - FEE / 20) / 3;
    let each_share = SLASH / 3; // 2 slashes x 50% / 3
    let mut want = vec![("alice".to_string(), -(FEE as i128))];
    for (k, i) in d.members.iter().enumerate() {
        let v = if k % 2 == 1 {
            -(SLASH as i128)
        } else {
            (each_fee + reward(3) + each_share) as i128
        };
        want.push((op(*i), v));
    }
    let dl = deltas(&c, &before);
    expect(&dl, &want);
    assert_eq!(burned(&c), 2 * SLASH - 3 * each_share);
    assert_eq!(c.state.globals().treasury, FEE - 3 * each_fee);
    assert_eq!(locked_everywhere(&c), 0);
    insta::assert_snapshot!(
        "m_of_n_two_divergent",
        format!("{}\n{}", render(&c, start), render_deltas(&dl, &c, 0))
    );
}

#[test]
fn m_of_n_withholder_is_slashed() {
    let mut c = world(VerificationMode::MultiPartyRedundant);
    let before = snapshot_wealth(&c);
    let d = drawn_committee(&mut c);
    member_round(
        &mut c,
        &d,
        &[Some(GOOD), Some(GOOD), None, Some(GOOD), Some(GOOD)],
    );
    assert_eq!(
        status(&c, &d.task),
        TaskStatus::Revealing,
        "waits for the last reveal"
    );
    settle(&mut c, &d.task, d.assigned_at);
    assert_eq!(status(&c, &d.task), TaskStatus::Completed);
    let each_fee = (FEE - FEE / 20) / 4;
    let each_share = SLASH / 2 / 4;
    let mut want = vec![("alice".to_string(), -(FEE as i128))];
    for (k, i) in d.members.iter().enumerate() {
        let v = if k == 2 {
            -(SLASH as i128)
        } else {
            (each_fee + reward(4) + each_share) as i128
        };
        want.push((op(*i), v));
    }
    expect(&deltas(&c, &before), &want);
    let ends = &c.last_outcome().unwrap().end_events;
    assert!(ends.contains(&Event::Slashed {
        provider: pid(d.members[2]),
        amount: SLASH,
        reason: SlashReason::WithheldReveal
    }));
}

#[test]
fn m_of_n_without_agreement_refunds_and_spares_divergent_revealers() {
    let mut c = world(VerificationMode::MultiPartyRedundant);
    let before = snapshot_wealth(&c);
    let start = c.state.height() + 1;
    let d = drawn_committee(&mut c);
    member_round(
        &mut c,
        &d,
        &[Some(GOOD), Some(GOOD), Some(BAD), Some(BAD), None],
    );
    settle(&mut c, &d.task, d.assigned_at);
    assert_eq!(status(&c, &d.task), TaskStatus::Failed);
    let dl = deltas(&c, &before);
    expect(&dl, &[(op(d.members[4]), -(SLASH as i128))]);
    assert_eq!(burned(&c), SLASH);
    assert_eq!(locked_everywhere(&c), 0);
    let ends = &c.last_outcome().unwrap().end_events;
    assert!(ends.contains(&Event::TaskFailed {
        task: d.task,
        reason: FailReason::NoAgreement
    }));
    insta::assert_snapshot!(
        "m_of_n_no_agreement",
        format!("{}\n{}", render(&c, start), render_deltas(&dl, &c, 0))
    );
}

#[test]
fn m_of_n_copied_commitment_cannot_be_revealed() {
    let mut c = world(VerificationMode::MultiPartyRedundant);
    let before = snapshot_wealth(&c);
    let d = drawn_committee(&mut c);
    let (m0, m1) = (d.members[0], d.members[1]);
    let lazy = output_commitment(&d.task, &pid(m0), &GOOD, &salt(m0));
    // m1 waits for m0's commitment and copies it.
    let mut txs = vec![
        commit(d.task, m0, GOOD),
        (
            op(m1),
            Action::CommitOutput {
                task: d.task,
                provider: pid(m1),
                commitment: lazy,
            },
        ),
    ];
    txs.extend(d.members[2..].iter().map(|i| commit(d.task, *i, GOOD)));
    applied(&run(&mut c, txs));
    let copy = (
        op(m1),
        Action::RevealOutput {
            task: d.task,
            provider: pid(m1),
            output_hash: GOOD,
            salt: salt(m0),
        },
    );
    let mut txs = vec![copy];
    txs.extend(
        d.members
            .iter()
            .filter(|i| **i != m1)
            .map(|i| reveal(d.task, *i, GOOD)),
    );
    let st = run(&mut c, txs);
    failed(&st[0], TxError::CommitmentMismatch);
    settle(&mut c, &d.task, d.assigned_at);
    let dl = deltas(&c, &before);
    assert_eq!(dl[&op(m1)], -(SLASH as i128), "the copier is a withholder");
    assert_eq!(
        dl[&op(m0)],
        ((FEE - FEE / 20) / 4 + reward(4) + SLASH / 2 / 4) as i128
    );
}

#[test]
fn m_of_n_reveal_before_the_reveal_phase_is_refused() {
    let mut c = world(VerificationMode::MultiPartyRedundant);
    let d = drawn_committee(&mut c);
    let st = run(
        &mut c,
        vec![
            commit(d.task, d.members[0], GOOD),
            reveal(d.task, d.members[0], GOOD),
        ],
    );
    assert_eq!(st[0], TxStatus::Applied);
    failed(
        &st[1],
        TxError::WrongPhase {
            phase: "reveal".into(),
        },
    );
    // Nobody else commits: the phase ends on its own and the task refunds.
    settle(&mut c, &d.task, d.assigned_at);
    assert_eq!(status(&c, &d.task), TaskStatus::Failed);
}

/// 3 colluders reveal BAD, 2 honest members reveal GOOD.
fn collusion(c: &mut Chain) -> Drawn {
    let d = drawn_committee(c);
    member_round(
        c,
        &d,
        &[Some(BAD), Some(GOOD), Some(BAD), Some(GOOD), Some(BAD)],
    );
    assert_eq!(status(c, &d.task), TaskStatus::ResultPosted);
    d
}

#[test]
fn m_of_n_honest_minority_escalates_and_wins() {
    let mut c = world(VerificationMode::MultiPartyRedundant);
    let before = snapshot_wealth(&c);
    let start = c.state.height() + 1;
    let d = collusion(&mut c);
    let (colluders, honest): (Vec<usize>, Vec<usize>) = {
        let (a, b): (Vec<_>, Vec<_>) = d.members.iter().enumerate().partition(|(k, _)| k % 2 == 0);
        (
            a.into_iter().map(|x| *x.1).collect(),
            b.into_iter().map(|x| *x.1).collect(),
        )
    };
    // A colluder may not challenge its own verdict.
    let st = run(&mut c, vec![challenge(&op(colluders[1]), d.task, GOOD)]);
    failed(&st[0], TxError::OwnResult);
    let h0 = op(honest[0]);
    applied(&run(&mut c, vec![challenge(&h0, d.task, GOOD)]));
    let refs = referees(&c, &d.task);
    assert_eq!(refs.len(), 5);
    assert!(
        refs.iter().all(|r| !d.members.contains(r)),
        "no committee owner referees"
    );
    referee_round(&mut c, d.task, &[Some(GOOD); 5], Some((&h0, GOOD)));
    settle(&mut c, &d.task, d.assigned_at);
    assert_eq!(status(&c, &d.task), TaskStatus::Failed);
    let pool = 3 * SLASH;
    let mut want: Vec<(String, i128)> = colluders
        .iter()
        .map(|i| (op(*i), -(SLASH as i128)))
        .collect();
    want.extend(honest.iter().map(|i| (op(*i), (pool / 2 / 2) as i128)));
    want.extend(refs.iter().map(|i| (op(*i), (pool / 5 / 5) as i128)));
    let dl = deltas(&c, &before);
    expect(&dl, &want);
    assert_eq!(burned(&c), pool * 3 / 10);
    assert_eq!(locked_everywhere(&c), 0);
    assert!(c.state.providers().iter().all(|p| p.open_tasks == 0));
    insta::assert_snapshot!(
        "m_of_n_escalation_won",
        format!("{}\n{}", render(&c, start), render_deltas(&dl, &c, 0))
    );
}

#[test]
fn m_of_n_frivolous_escalation_loses_the_bond() {
    let mut c = world(VerificationMode::MultiPartyRedundant);
    let before = snapshot_wealth(&c);
    let d = collusion(&mut c);
    // Here BAD is in fact right: the GOOD pair is the wrong minority.
    let minority = d.members[1];
    applied(&run(&mut c, vec![challenge(&op(minority), d.task, GOOD)]));
    referee_round(&mut c, d.task, &[Some(BAD); 5], Some((&op(minority), GOOD)));
    settle(&mut c, &d.task, d.assigned_at);
    assert_eq!(status(&c, &d.task), TaskStatus::Completed);
    assert_eq!(c.state.task(&d.task).unwrap().final_output, Some(BAD));
    let refs = referees(&c, &d.task);
    let each_fee = (FEE - FEE / 20) / 3;
    let per_defender = CHALLENGE_BOND / 2 / 3 + SLASH / 3;
    let mut want = vec![("alice".to_string(), -(FEE as i128))];
    for (k, i) in d.members.iter().enumerate() {
        let v = match k {
            1 => -((SLASH + CHALLENGE_BOND) as i128),
            3 => -(SLASH as i128),
            _ => (each_fee + reward(3) + per_defender) as i128,
        };
        want.push((op(*i), v));
    }
    want.extend(
        refs.iter()
            .map(|i| (op(*i), (CHALLENGE_BOND / 5 / 5) as i128)),
    );
    expect(&deltas(&c, &before), &want);
}

#[test]
fn finality_bound_covers_every_mode() {
    let c = world(VerificationMode::Optimistic);
    let mut terms = aivm_core::tasks::TaskTerms::from_config(c.state.config(), None);
    assert_eq!(finality_bound_blocks(&terms), 5 + 10 + 3 + 3);
    terms.mode = VerificationMode::MultiPartyRedundant;
    assert_eq!(finality_bound_blocks(&terms), 3 + 3 + 10 + 3 + 3);
    terms.mode = VerificationMode::TeeAttested;
    assert_eq!(finality_bound_blocks(&terms), 5 + (2 + 200) + 3 + 3);
}

#[test]
fn m_of_n_per_task_sizes_are_used() {
    let mut c = world(VerificationMode::MultiPartyRedundant);
    let before = snapshot_wealth(&c);
    let nonce = c.state.account(&addr("alice")).nonce;
    let action = Action::SubmitTask {
        model: MODEL.into(),
        task_type: TaskType::Inference,
        input_hash: [7; 32],
        inline_input: vec![],
        fee: FEE,
        redundancy: Some(aivm_core::tx::Redundancy { n: 3, m: 2 }),
    };
    applied(&run(&mut c, vec![("alice".into(), action)]));
    let task = TaskId::derive(&addr("alice"), nonce);
    c.block(vec![]).unwrap();
    let d = Drawn {
        task,
        members: committee(&c, &task),
        assigned_at: c.state.height(),
    };
    assert_eq!(d.members.len(), 3);
    member_round(&mut c, &d, &[Some(GOOD), Some(BAD), Some(GOOD)]);
    assert_eq!(
        status(&c, &task),
        TaskStatus::ResultPosted,
        "2 of 3 reached M = 2"
    );
    settle(&mut c, &task, d.assigned_at);
    let each = (FEE - FEE / 20) / 2;
    let want = vec![
        ("alice".to_string(), -(FEE as i128)),
        (op(d.members[0]), (each + reward(2) + SLASH / 2 / 2) as i128),
        (op(d.members[1]), -(SLASH as i128)),
        (op(d.members[2]), (each + reward(2) + SLASH / 2 / 2) as i128),
    ];
    expect(&deltas(&c, &before), &want);
}

#[test]
fn m_of_n_waits_for_enough_providers_then_times_out() {
    let mut c = world(VerificationMode::MultiPartyRedundant);
    let before = snapshot_wealth(&c);
    let nonce = c.state.account(&addr("alice")).nonce;
    let n = PROVIDERS as u32 + 1;
    let action = Action::SubmitTask {
        model: MODEL.into(),
        task_type: TaskType::Inference,
        input_hash: [7; 32],
        inline_input: vec![],
        fee: FEE,
        redundancy: Some(aivm_core::tx::Redundancy { n, m: n / 2 + 1 }),
    };
    applied(&run(&mut c, vec![("alice".into(), action)]));
    let task = TaskId::derive(&addr("alice"), nonce);
    c.advance(3).unwrap();
    assert_eq!(
        status(&c, &task),
        TaskStatus::Pending,
        "only {PROVIDERS} owners for N = {n}"
    );
    assert_eq!(locked_everywhere(&c), 0);
    while status(&c, &task) == TaskStatus::Pending {
        c.block(vec![]).unwrap();
    }
    assert_eq!(status(&c, &task), TaskStatus::Failed);
    expect(&deltas(&c, &before), &[]);
}

#[test]
fn a_challenge_commutes_with_an_unbond_of_a_would_be_referee() {
    let roots: Vec<Hash> = [false, true]
        .into_iter()
        .map(|unbond_first| {
            let mut c = world(VerificationMode::Optimistic);
            let p = posted_result(&mut c, GOOD);
            let other = (0..PROVIDERS).find(|i| *i != p.provider).unwrap();
            let mut txs = vec![
                challenge("carol", p.task, BAD),
                (
                    op(other),
                    Action::Unbond {
                        provider: pid(other),
                    },
                ),
            ];
            if unbond_first {
                txs.reverse();
            }
            applied(&run(&mut c, txs));
            assert!(
                !referees(&c, &p.task).contains(&other),
                "drawn after the unbond"
            );
            c.state.state_root()
        })
        .collect();
    assert_eq!(roots[0], roots[1]);
}
