//! TEE-attested acceleration (issue 3 section 3) and trust over time (section 4).

use aivm_core::attestation::{
    public_key_from_seed, sign_attestation, AttestationError, AttestationEvidence, DeviceMode,
    EvidenceKind, SignedAttestation, TeeType,
};
use aivm_core::chain::Chain;
use aivm_core::config::Config;
use aivm_core::tasks::TaskStatus;
use aivm_core::tx::GpuInfo;
use aivm_core::types::{Address, ProviderId, TaskId, TaskType};
use aivm_core::{Action, Event, Genesis, TxError, TxStatus, VerificationMode};

const E18: u128 = 1_000_000_000_000_000_000;
const FEE: u128 = 5_000_000;
const ATTESTOR: [u8; 32] = [7; 32];
const ROGUE: [u8; 32] = [8; 32];
const MEASUREMENT: [u8; 32] = [0x4d; 32];
const MODEL: &str = "qwen3-8b";
/// Header time of block `h` under the chain driver (genesis time 0).
const BLOCK_MS: u64 = aivm_core::chain::DEFAULT_BLOCK_TIME_MS;

fn tee_config() -> Config {
    Config {
        verification_mode: VerificationMode::TeeAttested,
        trusted_attestors: vec![public_key_from_seed(&ATTESTOR)],
        attestation_timeout_ms: 3_600_000,
        ..Config::default()
    }
}

fn chain(cfg: Config) -> Chain {
    let mut g = Genesis::new(
        "aivm-tee",
        ["alice", "bob", "carol", "dave"]
            .iter()
            .map(|n| (Chain::addr(n), 1_000 * E18))
            .collect(),
    );
    g.config = cfg;
    Chain::new(g).unwrap()
}

struct Ev {
    kind: EvidenceKind,
    model: &'static str,
    cc: bool,
    issued: u64,
    expires: u64,
    measurement: [u8; 32],
    seed: [u8; 32],
}

impl Default for Ev {
    fn default() -> Self {
        Ev {
            kind: EvidenceKind::GpuLocal,
            model: "NVIDIA H100",
            cc: true,
            issued: 0,
            expires: u64::MAX,
            measurement: MEASUREMENT,
            seed: ATTESTOR,
        }
    }
}

impl Ev {
    fn for_key(self, key: Address) -> SignedAttestation {
        sign_attestation(
            &self.seed,
            AttestationEvidence {
                tee_type: match self.kind {
                    EvidenceKind::GpuLocal => TeeType::Nvidia,
                    EvidenceKind::SoftwareOnly => TeeType::Sgx,
                },
                kind: self.kind,
                device_model: self.model.to_string(),
                measurement: self.measurement,
                cc_enabled: self.cc,
                tee_io: false,
                rim_verified: false,
                benchmark_ok: true,
                driver_ok: true,
                issued_at_ms: self.issued,
                expires_at_ms: self.expires,
                provider_key: key.0,
                attestor: public_key_from_seed(&self.seed),
            },
        )
    }

    fn for_name(self, name: &str) -> SignedAttestation {
        self.for_key(Chain::addr(name))
    }
}

fn register_action(bond: u128, attestation: Option<SignedAttestation>) -> Action {
    Action::RegisterProvider {
        endpoint: "https://p.example".into(),
        gpus: vec![GpuInfo {
            model: "NVIDIA H100".into(),
            memory_gb: 80,
            count: 1,
        }],
        models: vec![MODEL.into()],
        bond,
        attestation,
    }
}

/// Registers a provider in its own block; returns its id or the failed status.
fn try_register(
    c: &mut Chain,
    owner: &str,
    att: Option<SignedAttestation>,
) -> Result<ProviderId, TxStatus> {
    let nonce = c.state.account(&Chain::addr(owner)).nonce;
    let tx = c.tx(owner, register_action(100 * E18, att));
    let out = c.block(vec![tx]).unwrap();
    match &out.receipts[0].status {
        TxStatus::Applied => Ok(ProviderId::derive(&Chain::addr(owner), nonce)),
        other => Err(other.clone()),
    }
}

fn register(c: &mut Chain, owner: &str, att: Option<SignedAttestation>) -> ProviderId {
    try_register(c, owner, att).expect("registration applies")
}

fn submit_action(input: u8) -> Action {
    Action::SubmitTask {
        model: MODEL.into(),
        task_type: TaskType::Inference,
        input_hash: [input; 32],
        inline_input: vec![],
        fee: FEE,
        redundancy: None,
    }
}

/// Submits `n` tasks by `who` in one block, then lets them be assigned.
fn submit(c: &mut Chain, who: &str, n: u64) -> Vec<TaskId> {
    let start = c.state.account(&Chain::addr(who)).nonce;
    let txs: Vec<_> = (0..n).map(|i| c.tx(who, submit_action(i as u8))).collect();
    let out = c.block(txs).unwrap();
    assert!(
        out.receipts.iter().all(|r| r.is_applied()),
        "{:?}",
        out.receipts
    );
    c.advance(1).unwrap();
    (start..start + n)
        .map(|k| TaskId::derive(&Chain::addr(who), k))
        .collect()
}

fn post_action(task: TaskId, provider: ProviderId, out: u8) -> Action {
    Action::SubmitResult {
        task,
        provider,
        output_hash: [out; 32],
        inline_output: vec![],
        compute_time_ms: 50,
    }
}

/// Posts results for `tasks` by their assigned provider (owned by `owner`) in one block.
fn post_all(c: &mut Chain, owner: &str, tasks: &[TaskId]) {
    let txs: Vec<_> = tasks
        .iter()
        .map(|t| {
            let pid = c.state.task(t).unwrap().provider.unwrap();
            c.tx(owner, post_action(*t, pid, 9))
        })
        .collect();
    let out = c.block(txs).unwrap();
    assert!(
        out.receipts.iter().all(|r| r.is_applied()),
        "{:?}",
        out.receipts
    );
}

fn window_len(c: &Chain, t: &TaskId) -> u64 {
    let r = c.state.task(t).unwrap().result.clone().unwrap();
    r.window_end - r.posted_height
}

fn failed(status: &TxStatus) -> TxError {
    match status {
        TxStatus::Failed(e) => e.clone(),
        other => panic!("expected a failed tx, got {other:?}"),
    }
}

// ---- evidence: registration, refresh, expiry --------------------------------------------

#[test]
fn registration_with_evidence_records_the_attestation() {
    let mut c = chain(tee_config());
    let pid = register(&mut c, "bob", Some(Ev::default().for_name("bob")));
    let events = &c.last_outcome().unwrap().receipts[0].events;
    // H100 GPU evidence with CC on: 70 + 15 + 8.
    assert!(events.contains(&Event::AttestationAccepted {
        provider: pid,
        trust_score: 93,
        expires_at_ms: 3_600_000,
    }));
    let a = c.state.provider(&pid).unwrap().attestation.clone().unwrap();
    assert_eq!(
        (a.trust_score, a.measurement, a.hardware_cc),
        (93, MEASUREMENT, true)
    );
    // Evidence that lives longer than issued + AttestationTimeout stops counting at the timeout.
    assert_eq!(a.expires_at_ms, 3_600_000);
    let p = c.state.provider(&pid).unwrap();
    assert_eq!(p.attested_score(3_599_999), 93);
    assert_eq!(p.attested_score(3_600_000), 0);
}

#[test]
fn bad_evidence_is_refused_and_charges_only_the_fee() {
    let mut c = chain(tee_config());
    type Want = Box<dyn Fn(u64) -> AttestationError>;
    let tampered = {
        let mut a = Ev::default().for_name("bob");
        a.evidence.cc_enabled = false; // changed after signing
        a
    };
    let cases: Vec<(SignedAttestation, Want)> = vec![
        (
            Ev {
                seed: ROGUE,
                ..Ev::default()
            }
            .for_name("bob"),
            Box::new(|_| AttestationError::UntrustedAttestor),
        ),
        (
            Ev::default().for_name("carol"),
            Box::new(|_| AttestationError::ProviderMismatch),
        ),
        (
            Ev {
                issued: 1_000_000,
                ..Ev::default()
            }
            .for_name("bob"),
            Box::new(|now_ms| AttestationError::NotYetValid {
                issued_at_ms: 1_000_000,
                now_ms,
            }),
        ),
        (
            Ev {
                expires: 1,
                ..Ev::default()
            }
            .for_name("bob"),
            Box::new(|now_ms| AttestationError::Expired {
                expires_at_ms: 1,
                now_ms,
            }),
        ),
        (tampered, Box::new(|_| AttestationError::InvalidSignature)),
    ];
    for (att, want) in cases {
        let now = c.state.tip().time_ms + BLOCK_MS;
        let before = c.state.balance(&Chain::addr("bob"));
        let providers = c.state.providers().len();
        let status = try_register(&mut c, "bob", Some(att)).unwrap_err();
        assert_eq!(failed(&status), TxError::Attestation(want(now)));
        assert_eq!(c.state.providers().len(), providers);
        assert_eq!(
            c.state.balance(&Chain::addr("bob")),
            before - c.state.config().tx_fee
        );
    }
}

#[test]
fn evidence_older_than_the_timeout_is_refused() {
    let mut c = chain(Config {
        attestation_timeout_ms: 30_000,
        ..tee_config()
    });
    c.advance(20).unwrap(); // next block at 42 s
    let status = try_register(&mut c, "bob", Some(Ev::default().for_name("bob"))).unwrap_err();
    assert_eq!(
        failed(&status),
        TxError::Attestation(AttestationError::TooOld {
            age_ms: 42_000,
            timeout_ms: 30_000
        })
    );
}

#[test]
fn attestation_expires_and_a_refresh_restores_the_shortcut() {
    // Timeout of 20 blocks of header time.
    let mut c = chain(Config {
        attestation_timeout_ms: 20 * BLOCK_MS,
        ..tee_config()
    });
    let pid = register(&mut c, "bob", Some(Ev::default().for_name("bob")));
    let t = submit(&mut c, "alice", 1);
    post_all(&mut c, "bob", &t);
    assert_eq!(window_len(&c, &t[0]), 10, "live attestation: TEE window");

    // expires_at earlier than the timeout wins.
    let short = Ev {
        issued: c.state.tip().time_ms,
        expires: c.state.tip().time_ms + 5 * BLOCK_MS,
        ..Ev::default()
    };
    let tx = c.tx(
        "bob",
        Action::Attest {
            provider: pid,
            attestation: short.for_name("bob"),
        },
    );
    let out = c.block(vec![tx]).unwrap();
    assert!(out.receipts[0].is_applied(), "{:?}", out.receipts[0]);
    let exp = c
        .state
        .provider(&pid)
        .unwrap()
        .attestation
        .clone()
        .unwrap()
        .expires_at_ms;
    assert_eq!(exp, c.state.tip().time_ms - BLOCK_MS + 5 * BLOCK_MS);
    c.advance(6).unwrap();
    assert!(c.state.tip().time_ms >= exp);
    assert_eq!(
        c.state
            .provider(&pid)
            .unwrap()
            .attested_score(c.state.tip().time_ms),
        0
    );
    let t2 = submit(&mut c, "alice", 1);
    post_all(&mut c, "bob", &t2);
    assert_eq!(
        window_len(&c, &t2[0]),
        100,
        "expired attestation: full window"
    );

    // Refresh with current evidence (header time only decides).
    let now = c.state.tip().time_ms;
    let fresh = Ev {
        issued: now,
        ..Ev::default()
    }
    .for_name("bob");
    let tx = c.tx(
        "bob",
        Action::Attest {
            provider: pid,
            attestation: fresh,
        },
    );
    let out = c.block(vec![tx]).unwrap();
    assert!(out.receipts[0].is_applied(), "{:?}", out.receipts[0]);
    let a = c.state.provider(&pid).unwrap().attestation.clone().unwrap();
    assert_eq!(a.expires_at_ms, now + 20 * BLOCK_MS);
    let t3 = submit(&mut c, "alice", 1);
    post_all(&mut c, "bob", &t3);
    assert_eq!(
        window_len(&c, &t3[0]),
        10,
        "refreshed attestation: TEE window again"
    );
}

#[test]
fn only_the_owner_refreshes_and_only_with_its_own_evidence() {
    let mut c = chain(tee_config());
    let pid = register(&mut c, "bob", None);
    let tx = c.tx(
        "carol",
        Action::Attest {
            provider: pid,
            attestation: Ev::default().for_name("carol"),
        },
    );
    let out = c.block(vec![tx]).unwrap();
    assert_eq!(failed(&out.receipts[0].status), TxError::NotProviderOwner);
    let tx = c.tx(
        "bob",
        Action::Attest {
            provider: pid,
            attestation: Ev::default().for_name("carol"),
        },
    );
    let out = c.block(vec![tx]).unwrap();
    assert_eq!(
        failed(&out.receipts[0].status),
        TxError::Attestation(AttestationError::ProviderMismatch)
    );
    assert!(c.state.provider(&pid).unwrap().attestation.is_none());
}

// ---- RequireTEEAttestation (Go defect 9) --------------------------------------------------

#[test]
fn required_tee_refuses_registration_without_qualifying_evidence() {
    let cfg = Config {
        trusted_attestors: vec![public_key_from_seed(&ATTESTOR)],
        attestation_timeout_ms: 3_600_000,
        ..Config::permissioned()
    };
    assert_eq!(cfg.min_trust_score, 70);
    let mut c = chain(cfg);
    assert_eq!(
        failed(&try_register(&mut c, "bob", None).unwrap_err()),
        TxError::AttestationRequired
    );
    // CPU / software-only evidence is scored like any other and capped at 60 < 70.
    let cpu = Ev {
        kind: EvidenceKind::SoftwareOnly,
        model: "RTX 5090",
        ..Ev::default()
    };
    assert_eq!(
        failed(&try_register(&mut c, "bob", Some(cpu.for_name("bob"))).unwrap_err()),
        TxError::TrustTooLow { score: 60, min: 70 }
    );
    // Hardware evidence with CC off and no model bonus: exactly 70.
    let gpu70 = Ev {
        cc: false,
        model: "NVIDIA L40",
        ..Ev::default()
    };
    register(&mut c, "bob", Some(gpu70.for_name("bob")));
    // Invalid evidence is refused before any score is looked at.
    let rogue = Ev {
        seed: ROGUE,
        ..Ev::default()
    };
    assert_eq!(
        failed(&try_register(&mut c, "carol", Some(rogue.for_name("carol"))).unwrap_err()),
        TxError::Attestation(AttestationError::UntrustedAttestor)
    );
}

#[test]
fn required_tee_applies_the_same_threshold_to_cpu_evidence() {
    let cfg = Config {
        verification_mode: VerificationMode::Optimistic,
        require_tee_attestation: true,
        min_trust_score: 50,
        trusted_attestors: vec![public_key_from_seed(&ATTESTOR)],
        attestation_timeout_ms: 3_600_000,
        ..Config::default()
    };
    let mut c = chain(cfg);
    // 20 + 15 (5090) + 10 + 10 + 5 = 60 >= 50: accepted.
    let good = Ev {
        kind: EvidenceKind::SoftwareOnly,
        model: "RTX 5090",
        ..Ev::default()
    };
    register(&mut c, "bob", Some(good.for_name("bob")));
    // A CPU quote of an unknown model with no benchmark and no driver: 20 + 5 + 10 = 35 < 50.
    let mut weak = Ev {
        kind: EvidenceKind::SoftwareOnly,
        model: "Xeon",
        cc: true,
        ..Ev::default()
    }
    .for_name("carol");
    weak.evidence.benchmark_ok = false;
    weak.evidence.driver_ok = false;
    let weak = sign_attestation(&ATTESTOR, weak.evidence);
    assert_eq!(
        failed(&try_register(&mut c, "carol", Some(weak)).unwrap_err()),
        TxError::TrustTooLow { score: 35, min: 50 }
    );
}

#[test]
fn required_tee_stops_assigning_to_an_expired_attestation() {
    let cfg = Config {
        trusted_attestors: vec![public_key_from_seed(&ATTESTOR)],
        attestation_timeout_ms: 10 * BLOCK_MS,
        ..Config::permissioned()
    };
    let mut c = chain(cfg);
    let pid = register(&mut c, "bob", Some(Ev::default().for_name("bob")));
    let t = submit(&mut c, "alice", 1);
    assert_eq!(c.state.task(&t[0]).unwrap().provider, Some(pid));
    c.advance(10).unwrap();
    let t2 = submit(&mut c, "alice", 1);
    assert_eq!(c.state.task(&t2[0]).unwrap().status, TaskStatus::Pending);
    let now = c.state.tip().time_ms;
    let tx = c.tx(
        "bob",
        Action::Attest {
            provider: pid,
            attestation: Ev {
                issued: now,
                ..Ev::default()
            }
            .for_name("bob"),
        },
    );
    c.block(vec![tx]).unwrap();
    c.advance(1).unwrap();
    assert_eq!(c.state.task(&t2[0]).unwrap().provider, Some(pid));
}

// ---- VerifyGPUAttestation as a pure query -------------------------------------------------

#[test]
fn verify_gpu_attestation_query_returns_the_device_status() {
    let c = chain(tee_config());
    let bob = Chain::addr("bob");
    let s = c
        .state
        .verify_gpu_attestation(&Ev::default().for_name("bob"), &bob, 1_000)
        .unwrap();
    assert!(s.attested && s.hardware_cc);
    assert_eq!(
        (s.trust_score, s.mode, s.measurement),
        (93, DeviceMode::HardwareCc, MEASUREMENT)
    );
    assert_eq!(s.expires_at_ms, 3_600_000);
    let s = c
        .state
        .verify_gpu_attestation(
            &Ev {
                cc: false,
                ..Ev::default()
            }
            .for_name("bob"),
            &bob,
            1_000,
        )
        .unwrap();
    assert_eq!(
        (s.trust_score, s.mode, s.hardware_cc),
        (78, DeviceMode::Hardware, false)
    );
    let cpu = Ev {
        kind: EvidenceKind::SoftwareOnly,
        model: "RTX 4090",
        ..Ev::default()
    };
    let s = c
        .state
        .verify_gpu_attestation(&cpu.for_name("bob"), &bob, 1_000)
        .unwrap();
    assert_eq!(
        (s.trust_score, s.mode, s.hardware_cc),
        (55, DeviceMode::Software, false)
    );
    assert_eq!(
        c.state.verify_gpu_attestation(
            &Ev::default().for_name("bob"),
            &Chain::addr("carol"),
            1_000
        ),
        Err(AttestationError::ProviderMismatch)
    );
    // Pure: the answer depends on the given time only, and the state is untouched.
    let root = c.state.state_root();
    assert!(matches!(
        c.state
            .verify_gpu_attestation(&Ev::default().for_name("bob"), &bob, 3_600_001),
        Err(AttestationError::TooOld { .. })
    ));
    assert_eq!(c.state.state_root(), root);
}

// ---- the shortened window and the post-finality horizon -----------------------------------

#[test]
fn tee_shortcut_shortens_the_window_and_keeps_collateral_until_the_horizon() {
    let mut c = chain(tee_config());
    let pid = register(&mut c, "bob", Some(Ev::default().for_name("bob")));
    let t = submit(&mut c, "alice", 1);
    post_all(&mut c, "bob", &t);
    let posted = c.state.height();
    assert_eq!(window_len(&c, &t[0]), 10);
    let collateral = c.state.config().task_collateral;
    c.advance(10).unwrap();
    let task = c.state.task(&t[0]).unwrap().clone();
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.finalized_height, Some(posted + 10));
    // Paid already, but the collateral is still at stake.
    assert_eq!(c.state.provider(&pid).unwrap().locked, collateral);
    assert_eq!(task.timer, Some(posted + 10 + 200));
    // It cannot leave with the bond while the horizon runs.
    let tx = c.tx("bob", Action::Unbond { provider: pid });
    c.block(vec![tx]).unwrap();
    c.advance(60).unwrap();
    let tx = c.tx("bob", Action::WithdrawBond { provider: pid });
    let out = c.block(vec![tx]).unwrap();
    assert!(matches!(
        failed(&out.receipts[0].status),
        TxError::OpenTasks { .. }
    ));
    let h = c.state.height();
    c.advance(posted + 210 - h).unwrap();
    assert!(c
        .last_outcome()
        .unwrap()
        .end_events
        .contains(&Event::CollateralReleased {
            provider: pid,
            amount: collateral
        }));
    assert_eq!(c.state.provider(&pid).unwrap().locked, 0);
    assert_eq!(c.state.task(&t[0]).unwrap().timer, None);
    let tx = c.tx("bob", Action::WithdrawBond { provider: pid });
    let out = c.block(vec![tx]).unwrap();
    assert!(out.receipts[0].is_applied(), "{:?}", out.receipts[0]);
}

#[test]
fn a_zero_tee_window_finalises_in_the_posting_block() {
    let mut c = chain(Config {
        tee_challenge_window_blocks: 0,
        ..tee_config()
    });
    register(&mut c, "bob", Some(Ev::default().for_name("bob")));
    let t = submit(&mut c, "alice", 1);
    post_all(&mut c, "bob", &t);
    let out = c.last_outcome().unwrap();
    assert!(out
        .end_events
        .iter()
        .any(|e| matches!(e, Event::TaskFinalized { task, .. } if *task == t[0])));
    let task = c.state.task(&t[0]).unwrap();
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.timer, Some(c.state.height() + 200));
}

#[test]
fn a_late_fraud_proof_is_accepted_until_the_horizon_and_refused_after() {
    let mut c = chain(tee_config());
    register(&mut c, "bob", Some(Ev::default().for_name("bob")));
    let t = submit(&mut c, "alice", 2);
    post_all(&mut c, "bob", &t);
    c.advance(10).unwrap();
    assert_eq!(c.state.task(&t[0]).unwrap().status, TaskStatus::Completed);
    // Late, but within the horizon: the challenge opens a dispute.
    let tx = c.tx(
        "carol",
        Action::Challenge {
            task: t[0],
            claim: [1; 32],
        },
    );
    let out = c.block(vec![tx]).unwrap();
    assert!(out.receipts[0].is_applied(), "{:?}", out.receipts[0]);
    assert!(out.receipts[0]
        .events
        .iter()
        .any(|e| matches!(e, Event::TaskChallenged { task, .. } if *task == t[0])));
    assert_eq!(c.state.task(&t[1]).unwrap().status, TaskStatus::Completed);
    // Past the horizon: refused, bond untouched.
    c.advance(200).unwrap();
    let before = c.state.balance(&Chain::addr("dave"));
    let tx = c.tx(
        "dave",
        Action::Challenge {
            task: t[1],
            claim: [1; 32],
        },
    );
    let out = c.block(vec![tx]).unwrap();
    assert!(matches!(
        failed(&out.receipts[0].status),
        TxError::WindowClosed { .. }
    ));
    assert_eq!(
        c.state.balance(&Chain::addr("dave")),
        before - c.state.config().tx_fee
    );
}

// ---- trust over time ----------------------------------------------------------------------

/// A fast optimistic config: short windows, many tasks per provider.
fn fast(mode: VerificationMode) -> Config {
    Config {
        verification_mode: mode,
        challenge_window_blocks: 3,
        tee_challenge_window_blocks: 1,
        max_tasks_per_provider: 1_000,
        ..tee_config()
    }
}

/// Runs `n` tasks submitted by `who` through bob's provider to finalisation.
fn run_tasks(c: &mut Chain, who: &str, n: u64) -> Vec<TaskId> {
    let t = submit(c, who, n);
    post_all(c, "bob", &t);
    c.advance(4).unwrap();
    for id in &t {
        assert_eq!(c.state.task(id).unwrap().status, TaskStatus::Completed);
    }
    t
}

#[test]
fn public_mode_never_shortens_the_window_even_at_max_trust() {
    let mut c = chain(fast(VerificationMode::Optimistic));
    let pid = register(&mut c, "bob", Some(Ev::default().for_name("bob")));
    run_tasks(&mut c, "alice", u64::from(aivm_core::tee::MAX_TRUST));
    let p = c.state.provider(&pid).unwrap();
    assert_eq!(p.trust, aivm_core::tee::MAX_TRUST);
    assert_eq!(p.attested_score(c.state.tip().time_ms), 93);
    let t = submit(&mut c, "alice", 1);
    post_all(&mut c, "bob", &t);
    assert_eq!(
        window_len(&c, &t[0]),
        3,
        "optimistic mode: always the full window"
    );
    // Its collateral is released at finalisation: no horizon outside the shortcut.
    c.advance(3).unwrap();
    let task = c.state.task(&t[0]).unwrap();
    assert_eq!((task.status, task.timer), (TaskStatus::Completed, None));
    assert_eq!(c.state.provider(&pid).unwrap().locked, 0);
}

#[test]
fn verified_work_raises_trust_slowly_and_faults_cut_it_sharply() {
    let mut c = chain(fast(VerificationMode::TeeAttested));
    let pid = register(&mut c, "bob", None);
    run_tasks(&mut c, "alice", 30);
    assert_eq!(c.state.provider(&pid).unwrap().trust, 30);
    // One missed deadline: 30 -> 20.
    let t = submit(&mut c, "alice", 1);
    assert_eq!(c.state.task(&t[0]).unwrap().provider, Some(pid));
    c.advance(c.state.config().result_deadline_blocks).unwrap();
    assert!(c
        .outcomes
        .iter()
        .rev()
        .take(3)
        .any(|o| o.end_events.contains(&Event::DeadlineMissed {
            task: t[0],
            provider: pid
        })));
    assert_eq!(c.state.provider(&pid).unwrap().trust, 20);
}

#[test]
fn self_dealt_tasks_earn_no_trust_and_never_get_the_shortcut() {
    let mut c = chain(fast(VerificationMode::TeeAttested));
    let pid = register(&mut c, "bob", Some(Ev::default().for_name("bob")));
    let own = run_tasks(&mut c, "bob", 20);
    assert_eq!(c.state.provider(&pid).unwrap().trust, 0);
    for id in &own {
        assert_eq!(
            window_len(&c, id),
            3,
            "own task: full window despite the attestation"
        );
    }
    // The same provider on someone else's task gets the shortcut (attestation, not farmed trust).
    let t = submit(&mut c, "alice", 1);
    post_all(&mut c, "bob", &t);
    assert_eq!(window_len(&c, &t[0]), 1);
}

#[test]
fn redundant_mode_never_finalises_on_one_trusted_provider() {
    let cfg = Config {
        verification_mode: VerificationMode::MultiPartyRedundant,
        redundancy_n: 3,
        redundancy_factor: 2,
        commit_phase_blocks: 2,
        reveal_phase_blocks: 2,
        max_tasks_per_provider: 1_000,
        ..tee_config()
    };
    let mut c = chain(cfg);
    let ids: Vec<ProviderId> = ["bob", "carol", "dave"]
        .iter()
        .map(|o| register(&mut c, o, Some(Ev::default().for_name(o))))
        .collect();
    let vote = |c: &mut Chain, tasks: &[TaskId], who: &[usize], reveal: bool| {
        let txs: Vec<_> = tasks
            .iter()
            .flat_map(|t| who.iter().map(move |i| (*t, *i)))
            .map(|(t, i)| {
                let (owner, pid) = (["bob", "carol", "dave"][i], ids[i]);
                let salt = [i as u8; 32];
                let action = if reveal {
                    Action::RevealOutput {
                        task: t,
                        provider: pid,
                        output_hash: [9; 32],
                        salt,
                    }
                } else {
                    let commitment =
                        aivm_core::dispute::output_commitment(&t, &pid, &[9; 32], &salt);
                    Action::CommitOutput {
                        task: t,
                        provider: pid,
                        commitment,
                    }
                };
                c.tx(owner, action)
            })
            .collect();
        let out = c.block(txs).unwrap();
        assert!(
            out.receipts.iter().all(|r| r.is_applied()),
            "{:?}",
            out.receipts
        );
    };
    let tasks = submit(&mut c, "alice", 100);
    vote(&mut c, &tasks, &[0, 1, 2], false);
    vote(&mut c, &tasks, &[0, 1, 2], true);
    assert!(tasks
        .iter()
        .all(|t| c.state.task(t).unwrap().status == TaskStatus::Completed));
    assert_eq!(
        c.state.provider(&ids[0]).unwrap().trust,
        aivm_core::tee::MAX_TRUST
    );
    // Bob, at max trust and attested, is the only one to reveal: his word alone finalises nothing.
    let t = submit(&mut c, "alice", 1);
    vote(&mut c, &t, &[0, 1, 2], false);
    vote(&mut c, &t, &[0], true);
    c.advance(3).unwrap();
    let task = c.state.task(&t[0]).unwrap();
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(task.final_output, None);
}

// ---- late fraud proofs end to end ----------------------------------------------------------

const REFS: [&str; 5] = ["r1", "r2", "r3", "r4", "r5"];

fn chain_with_referees(cfg: Config) -> Chain {
    let mut g = Genesis::new(
        "aivm-tee",
        [
            "alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank", "r1", "r2", "r3",
            "r4", "r5",
        ]
        .iter()
        .map(|n| (Chain::addr(n), 1_000 * E18))
        .collect(),
    );
    g.config = cfg;
    Chain::new(g).unwrap()
}

fn salt_of(name: &str) -> [u8; 32] {
    *blake3::hash(name.as_bytes()).as_bytes()
}

/// Referees of an open dispute commit `out` now, then reveal it (with the
/// challenger's claim) in the first reveal block; returns that block's height.
fn referees_vote(
    c: &mut Chain,
    task: TaskId,
    out: [u8; 32],
    challenger: &str,
    claim: [u8; 32],
    reveal_at: u64,
) -> u64 {
    let t = c.state.task(&task).unwrap().clone();
    let seats: Vec<(String, ProviderId)> = t
        .referees
        .iter()
        .map(|m| {
            let owner = c.state.provider(&m.provider).unwrap().owner;
            (
                REFS.iter()
                    .find(|n| Chain::addr(n) == owner)
                    .unwrap()
                    .to_string(),
                m.provider,
            )
        })
        .collect();
    assert_eq!(seats.len(), 5);
    let txs: Vec<_> = seats
        .iter()
        .map(|(n, p)| {
            let commitment = aivm_core::dispute::output_commitment(&task, p, &out, &salt_of(n));
            c.tx(
                n,
                Action::CommitOutput {
                    task,
                    provider: *p,
                    commitment,
                },
            )
        })
        .collect();
    c.block(txs).unwrap();
    let h = c.state.height();
    c.advance(reveal_at.max(t.commit_end + 1) - 1 - h).unwrap();
    let mut txs: Vec<_> = seats
        .iter()
        .map(|(n, p)| {
            c.tx(
                n,
                Action::RevealOutput {
                    task,
                    provider: *p,
                    output_hash: out,
                    salt: salt_of(n),
                },
            )
        })
        .collect();
    txs.push(c.tx(
        challenger,
        Action::RevealClaim {
            task,
            output_hash: claim,
            salt: salt_of(challenger),
        },
    ));
    let out = c.block(txs).unwrap();
    assert!(
        out.receipts.iter().all(|r| r.is_applied()),
        "{:?}",
        out.receipts
    );
    c.state.height()
}

fn late_challenge(c: &mut Chain, who: &str, task: TaskId, claim: [u8; 32]) {
    let commitment =
        aivm_core::dispute::claim_commitment(&task, &Chain::addr(who), &claim, &salt_of(who));
    let tx = c.tx(
        who,
        Action::Challenge {
            task,
            claim: commitment,
        },
    );
    let out = c.block(vec![tx]).unwrap();
    assert!(out.receipts[0].is_applied(), "{:?}", out.receipts[0]);
}

#[test]
fn a_rejected_late_fraud_proof_releases_the_collateral_at_once() {
    let mut c = chain_with_referees(tee_config());
    let pid = register(&mut c, "bob", Some(Ev::default().for_name("bob")));
    let t = submit(&mut c, "alice", 1);
    for r in REFS {
        register(&mut c, r, None);
    }
    post_all(&mut c, "bob", &t);
    c.advance(10).unwrap();
    assert_eq!(c.state.task(&t[0]).unwrap().status, TaskStatus::Completed);
    let bob_before = c.state.balance(&Chain::addr("bob"));
    late_challenge(&mut c, "carol", t[0], [0xee; 32]);
    referees_vote(&mut c, t[0], [9; 32], "carol", [0xee; 32], 0);
    let task = c.state.task(&t[0]).unwrap().clone();
    assert_eq!(
        (task.status, task.timer),
        (TaskStatus::Completed, None),
        "final: no second late proof"
    );
    assert_eq!(c.state.provider(&pid).unwrap().locked, 0);
    // Bob was paid once, at finalisation; now he only receives his share of carol's bond.
    let cfg = c.state.config().clone();
    let share = cfg.challenge_bond * u128::from(cfg.winner_share_bps) / 10_000;
    assert_eq!(c.state.balance(&Chain::addr("bob")), bob_before + share);
    let paid = c
        .outcomes
        .iter()
        .flat_map(|o| o.end_events.iter())
        .filter(|e| matches!(e, Event::ProviderPaid { task, .. } if *task == t[0]))
        .count();
    assert_eq!(paid, 1);
    assert!(c.state.revoked_measurements().is_empty());
}

#[test]
fn revocation_in_the_block_a_shortened_window_ends_lets_it_close() {
    let mut c = chain_with_referees(tee_config());
    register(&mut c, "bob", Some(Ev::default().for_name("bob")));
    let t = submit(&mut c, "alice", 1);
    for r in REFS {
        register(&mut c, r, None);
    }
    // Dave carries the same measurement and serves another model.
    let nonce = c.state.account(&Chain::addr("dave")).nonce;
    let tx = c.tx(
        "dave",
        Action::RegisterProvider {
            endpoint: "https://dave.example".into(),
            gpus: vec![],
            models: vec!["zen-mini-0.5b".into()],
            bond: 100 * E18,
            attestation: Some(Ev::default().for_name("dave")),
        },
    );
    c.block(vec![tx]).unwrap();
    let dave = ProviderId::derive(&Chain::addr("dave"), nonce);
    post_all(&mut c, "bob", &t);
    c.advance(10).unwrap();
    late_challenge(&mut c, "carol", t[0], [1; 32]);
    let commit_end = c.state.task(&t[0]).unwrap().commit_end;
    let verdict_at = commit_end + 1;
    // Dave's task is timed to close its 10-block window in the verdict block, and
    // its id sorts after the disputed task's, so its timer fires after the verdict.
    let submitter = ["erin", "frank", "gina", "hank"]
        .into_iter()
        .find(|n| TaskId::derive(&Chain::addr(n), 0) > t[0])
        .unwrap();
    let c2 = TaskId::derive(&Chain::addr(submitter), 0);
    // Post at verdict_at - 10: submit two blocks before, assigned one block before.
    let h = c.state.height();
    c.advance(verdict_at - 13 - h).unwrap();
    let tx = c.tx(
        submitter,
        Action::SubmitTask {
            model: "zen-mini-0.5b".into(),
            task_type: TaskType::Inference,
            input_hash: [1; 32],
            inline_input: vec![],
            fee: FEE,
            redundancy: None,
        },
    );
    c.block(vec![tx]).unwrap();
    c.advance(1).unwrap();
    assert_eq!(c.state.task(&c2).unwrap().provider, Some(dave));
    let tx = c.tx("dave", post_action(c2, dave, 9));
    c.block(vec![tx]).unwrap();
    assert_eq!(
        c.state
            .task(&c2)
            .unwrap()
            .result
            .as_ref()
            .unwrap()
            .window_end,
        verdict_at
    );
    let at = referees_vote(&mut c, t[0], [1; 32], "carol", [1; 32], verdict_at);
    assert_eq!(at, verdict_at);
    let out = c.last_outcome().unwrap();
    assert!(out.end_events.contains(&Event::MeasurementRevoked {
        measurement: MEASUREMENT
    }));
    assert!(!out
        .end_events
        .iter()
        .any(|e| matches!(e, Event::ChallengeWindowExtended { .. })));
    let done = c.state.task(&c2).unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert!(done.timer.is_some(), "still slashable until its horizon");
    c.state.check_invariants().unwrap();
}

// ---- snapshots: events per block and who gained or lost what ------------------------------

/// Everything a party holds (balance, bonds, unclaimed rewards) plus the tx
/// fees it paid, so that deltas show only what the protocol moved.
fn wealth(c: &Chain, name: &str) -> i128 {
    let a = Chain::addr(name);
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

/// Supply-side totals that, with the parties' deltas, account for every unit.
fn totals(c: &Chain) -> (u128, u128, u128) {
    let g = c.state.globals();
    (g.total_minted, g.total_burned, g.treasury)
}

struct Snap {
    parties: Vec<&'static str>,
    wealth: Vec<i128>,
    totals: (u128, u128, u128),
    start: u64,
}

impl Snap {
    fn begin(c: &Chain, parties: &[&'static str]) -> Snap {
        Snap {
            parties: parties.to_vec(),
            wealth: parties.iter().map(|n| wealth(c, n)).collect(),
            totals: totals(c),
            start: c.state.height() + 1,
        }
    }

    /// Events from `start` with ids and hashes replaced by `names`, then every
    /// nonzero wealth change and the minted / burned / treasury totals. Checks
    /// that the parties' changes are exactly what was minted, minus what was
    /// burned or kept by the treasury.
    fn render(&self, c: &Chain, names: &[(String, String)]) -> String {
        let mut names = names.to_vec();
        for n in self.parties.iter().copied().chain(["proposer"]) {
            names.push((format!("{:?}", Chain::addr(n)), n.to_string()));
        }
        let mut out = String::new();
        for o in c.outcomes.iter().filter(|o| o.height >= self.start) {
            let tx_lines = o.receipts.iter().flat_map(|r| {
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
            });
            let end_lines = o
                .end_events
                .iter()
                .filter(|e| interesting(e))
                .map(|e| format!("end {e:?}"));
            for mut line in tx_lines.chain(end_lines) {
                for (from, to) in &names {
                    line = line.replace(from, to);
                }
                out.push_str(&format!("{:>3} {line}\n", o.height));
            }
        }
        out.push('\n');
        let mut sum = 0i128;
        for (n, w) in self.parties.iter().zip(&self.wealth) {
            let d = wealth(c, n) - w;
            sum += d;
            if d != 0 {
                out.push_str(&format!("{n}: {d:+}\n"));
            }
        }
        let (m0, b0, t0) = self.totals;
        let (m1, b1, t1) = totals(c);
        let (minted, burned, treasury) = (m1 - m0, b1 - b0, t1 - t0);
        assert_eq!(
            sum,
            minted as i128 - burned as i128 - treasury as i128,
            "the parties' changes are what the protocol minted, burned and kept"
        );
        out.push_str(&format!(
            "minted: {minted}\nburned: {burned}\ntreasury: {treasury}\n"
        ));
        out
    }
}

fn interesting(e: &Event) -> bool {
    !matches!(
        e,
        Event::FeePaid { .. } | Event::ProposerPaid { .. } | Event::EpochStarted { .. }
    )
}

fn named<T: std::fmt::Debug>(v: T, name: &str) -> (String, String) {
    (format!("{v:?}"), name.to_string())
}

#[test]
fn tee_shortcut_happy_path_snapshot() {
    let mut c = chain(tee_config());
    let pid = register(&mut c, "bob", Some(Ev::default().for_name("bob")));
    let snap = Snap::begin(&c, &["alice", "bob", "carol", "dave"]);
    let t = submit(&mut c, "alice", 1);
    post_all(&mut c, "bob", &t);
    let posted = c.state.height();
    assert_eq!(window_len(&c, &t[0]), 10);
    let collateral = c.state.config().task_collateral;
    c.advance(10).unwrap();
    let task = c.state.task(&t[0]).unwrap().clone();
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(c.state.provider(&pid).unwrap().locked, collateral);
    c.advance(200).unwrap();
    assert_eq!(c.state.provider(&pid).unwrap().locked, 0);
    assert_eq!(c.state.height(), posted + 210);
    let names = [
        named(pid, "P(bob)"),
        named(t[0], "task"),
        named([9u8; 32], "OUT"),
    ];
    insta::assert_snapshot!("tee_shortcut_happy_path", snap.render(&c, &names));
}

#[test]
fn tee_late_fraud_proof_snapshot() {
    let mut c = chain_with_referees(Config {
        referee_commit_blocks: 3,
        referee_reveal_blocks: 3,
        ..tee_config()
    });
    let bob = register(&mut c, "bob", Some(Ev::default().for_name("bob")));
    let mut names = vec![named(bob, "P(bob)")];
    // Dave carries the same measurement and serves another model.
    let nonce = c.state.account(&Chain::addr("dave")).nonce;
    let tx = c.tx(
        "dave",
        Action::RegisterProvider {
            endpoint: "https://dave.example".into(),
            gpus: vec![],
            models: vec!["zen-mini-0.5b".into()],
            bond: 100 * E18,
            attestation: Some(Ev::default().for_name("dave")),
        },
    );
    assert!(c.block(vec![tx]).unwrap().receipts[0].is_applied());
    let dave = ProviderId::derive(&Chain::addr("dave"), nonce);
    names.push(named(dave, "P(dave)"));
    let mut parties = vec!["alice", "bob", "carol", "dave", "erin"];
    parties.extend(REFS);
    let snap = Snap::begin(&c, &parties);

    let t = submit(&mut c, "alice", 1);
    // Referees join after the task went to bob.
    for r in REFS {
        let p = register(&mut c, r, None);
        names.push(named(p, &format!("P({r})")));
    }
    post_all(&mut c, "bob", &t);
    let posted = c.state.height();
    // Erin's task reaches dave while bob's shortened window runs.
    let tx = c.tx(
        "erin",
        Action::SubmitTask {
            model: "zen-mini-0.5b".into(),
            task_type: TaskType::Inference,
            input_hash: [1; 32],
            inline_input: vec![],
            fee: FEE,
            redundancy: None,
        },
    );
    c.block(vec![tx]).unwrap();
    let t2 = TaskId::derive(&Chain::addr("erin"), 0);
    c.advance(1).unwrap();
    assert_eq!(c.state.task(&t2).unwrap().provider, Some(dave));
    c.advance(posted + 10 - c.state.height()).unwrap();
    assert_eq!(c.state.task(&t[0]).unwrap().status, TaskStatus::Completed);
    // Dave posts right after bob's result finalised: its window ends after the verdict.
    let tx = c.tx("dave", post_action(t2, dave, 9));
    assert!(c.block(vec![tx]).unwrap().receipts[0].is_applied());
    let dave_posted = c.state.height();
    assert_eq!(window_len(&c, &t2), 10);

    late_challenge(&mut c, "carol", t[0], [1; 32]);
    let verdict = referees_vote(&mut c, t[0], [1; 32], "carol", [1; 32], 0);
    assert!(verdict < dave_posted + 10);
    assert_eq!(c.state.task(&t[0]).unwrap().status, TaskStatus::Failed);
    assert_eq!(c.state.revoked_measurements(), &[MEASUREMENT]);
    assert!(c.state.provider(&dave).unwrap().attestation.is_none());
    assert_eq!(
        c.state
            .task(&t2)
            .unwrap()
            .result
            .as_ref()
            .unwrap()
            .window_end,
        dave_posted + 100
    );
    // Dave's result now finalises on the full window, with no horizon after it.
    c.advance(dave_posted + 100 - c.state.height()).unwrap();
    let done = c.state.task(&t2).unwrap();
    assert_eq!((done.status, done.timer), (TaskStatus::Completed, None));
    assert_eq!(c.state.provider(&dave).unwrap().locked, 0);
    assert_eq!(c.state.provider(&bob).unwrap().locked, 0);

    names.extend([
        named(t[0], "task"),
        named(t2, "task2"),
        named([9u8; 32], "OUT"),
        named([1u8; 32], "TRUE"),
        named(MEASUREMENT, "MEASUREMENT"),
    ]);
    insta::assert_snapshot!("tee_late_fraud_proof", snap.render(&c, &names));
}
