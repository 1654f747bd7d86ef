//! One test module per rule of issue 2, numbered like the issue, plus bad input and header errors.
//!
//! Every block goes through `Chain` (or `apply_checked`), which checks conservation and the
//! indexes after every transaction. "Only fee and nonce changed" is shown exactly: the state root
//! after a failed transaction must equal the root after a twin block whose transaction is a
//! zero-amount self-transfer by the same signer with the same nonce (a failure that can only
//! charge fee and nonce).

use aivm_core::apply_block;
use aivm_core::chain::Chain;
use aivm_core::config::{ConfigError, RewardSchedule};
use aivm_core::events::{FailReason, SlashReason};
use aivm_core::genesis::GenesisError;
use aivm_core::outcome::CheckError;
use aivm_core::state::State;
use aivm_core::tasks::TaskStatus;
use aivm_core::tx::{key_from_name, GpuInfo, Redundancy};
use aivm_core::types::TaskType;
use aivm_core::{
    Action, Address, Block, BlockOutcome, Config, Event, Genesis, ProviderId, Receipt, SignedTx,
    TaskId, TxBody, TxError, TxStatus, VerificationMode,
};

const E18: u128 = 1_000_000_000_000_000_000;
const TX_FEE: u128 = 1_000_000;
const TASK_FEE: u128 = 5_000_000;
const START: u128 = 1_000 * E18;
const MODEL: &str = "qwen3-8b";
const ACTORS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "mallory", "gov",
];

// ---- fixtures -------------------------------------------------------------------------------

fn addr(name: &str) -> Address {
    Chain::addr(name)
}

/// Short windows so that every path is reached in a few blocks.
fn quick_config() -> Config {
    Config {
        challenge_window_blocks: 5,
        tee_challenge_window_blocks: 2,
        result_deadline_blocks: 3,
        unbond_cooldown_blocks: 4,
        ..Config::default()
    }
}

fn genesis_with(config: Config) -> Genesis {
    let mut g = Genesis::new(
        "aivm-rules",
        ACTORS.iter().map(|n| (addr(n), START)).collect(),
    );
    g.config = config;
    g.governance = Some(addr("gov"));
    g
}

fn chain_with(config: Config) -> Chain {
    Chain::new(genesis_with(config)).expect("valid genesis")
}

fn chain() -> Chain {
    chain_with(quick_config())
}

fn run(c: &mut Chain, txs: Vec<SignedTx>) -> BlockOutcome {
    c.block(txs)
        .expect("block applies, invariants hold")
        .clone()
}

fn one(c: &mut Chain, who: &str, action: Action) -> Receipt {
    let tx = c.tx(who, action);
    run(c, vec![tx]).receipts[0].clone()
}

fn ok(c: &mut Chain, who: &str, action: Action) -> Receipt {
    let r = one(c, who, action);
    assert_eq!(r.status, TxStatus::Applied, "{r:#?}");
    r
}

fn gpu(model: &str) -> GpuInfo {
    GpuInfo {
        model: model.into(),
        memory_gb: 80,
        count: 1,
    }
}

fn register_action(bond: u128) -> Action {
    Action::RegisterProvider {
        endpoint: "https://node.example".into(),
        gpus: vec![gpu("NVIDIA H100")],
        models: vec![MODEL.into()],
        bond,
        attestation: None,
    }
}

fn submit_action(fee: u128) -> Action {
    Action::SubmitTask {
        model: MODEL.into(),
        task_type: TaskType::Inference,
        input_hash: [7; 32],
        inline_input: b"hello".to_vec(),
        fee,
        redundancy: None,
    }
}

fn result_action(task: TaskId, provider: ProviderId, output: u8) -> Action {
    Action::SubmitResult {
        task,
        provider,
        output_hash: [output; 32],
        inline_output: vec![],
        compute_time_ms: 50,
    }
}

/// A signed registration and the id it will create.
fn register_tx(c: &mut Chain, who: &str, bond: u128) -> (SignedTx, ProviderId) {
    let tx = c.tx(who, register_action(bond));
    let id = ProviderId::derive(&tx.signer, tx.body.nonce);
    (tx, id)
}

fn submit_tx(c: &mut Chain, who: &str, fee: u128) -> (SignedTx, TaskId) {
    let tx = c.tx(who, submit_action(fee));
    let id = TaskId::derive(&tx.signer, tx.body.nonce);
    (tx, id)
}

fn register(c: &mut Chain, who: &str, bond: u128) -> ProviderId {
    let (tx, id) = register_tx(c, who, bond);
    let out = run(c, vec![tx]);
    assert!(out.receipts[0].is_applied(), "{:#?}", out.receipts[0]);
    id
}

fn submit(c: &mut Chain, who: &str, fee: u128) -> TaskId {
    let (tx, id) = submit_tx(c, who, fee);
    let out = run(c, vec![tx]);
    assert!(out.receipts[0].is_applied(), "{:#?}", out.receipts[0]);
    id
}

fn status(c: &Chain, t: &TaskId) -> TaskStatus {
    c.state.task(t).expect("task exists").status
}

fn assigned(c: &Chain, t: &TaskId) -> ProviderId {
    c.state
        .task(t)
        .and_then(|t| t.provider)
        .expect("task is assigned")
}

fn owner_name(c: &Chain, p: &ProviderId) -> &'static str {
    let owner = c.state.provider(p).expect("provider exists").owner;
    ACTORS
        .iter()
        .copied()
        .find(|n| addr(n) == owner)
        .expect("owner is an actor")
}

/// One provider (bob), one task by alice, assigned: (chain, provider, task).
fn assigned_task() -> (Chain, ProviderId, TaskId) {
    assigned_task_with(quick_config())
}

fn assigned_task_with(config: Config) -> (Chain, ProviderId, TaskId) {
    assigned_task_paying(config, TASK_FEE)
}

fn assigned_task_paying(config: Config, fee: u128) -> (Chain, ProviderId, TaskId) {
    let mut c = chain_with(config);
    let p = register(&mut c, "bob", 2 * E18);
    let t = submit(&mut c, "alice", fee);
    run(&mut c, vec![]);
    assert_eq!(status(&c, &t), TaskStatus::Assigned);
    assert_eq!(assigned(&c, &t), p);
    (c, p, t)
}

/// The task of `assigned_task` with bob's result posted.
fn posted_task() -> (Chain, ProviderId, TaskId) {
    let (mut c, p, t) = assigned_task();
    ok(&mut c, "bob", result_action(t, p, 9));
    assert_eq!(status(&c, &t), TaskStatus::ResultPosted);
    (c, p, t)
}

fn all_events(out: &BlockOutcome) -> Vec<Event> {
    out.receipts
        .iter()
        .flat_map(|r| r.events.iter().cloned())
        .chain(out.end_events.iter().cloned())
        .collect()
}

fn signed_by(c: &Chain, who: &str, nonce: u64, action: Action) -> SignedTx {
    TxBody {
        chain_id: c.state.chain_id().to_string(),
        nonce,
        action,
    }
    .sign(&key_from_name(who))
}

/// Applies `action` by `who` and shows it failed with exactly `want`, charging only fee and
/// nonce: the resulting state root equals the one a zero-amount self-transfer (same signer, same
/// nonce, same header) yields.
fn expect_failed(c: &mut Chain, who: &str, action: Action, want: TxError) {
    let signer = addr(who);
    let nonce = c.state.account(&signer).nonce;
    let noop = signed_by(
        c,
        who,
        nonce,
        Action::Transfer {
            to: signer,
            amount: 0,
        },
    );
    let (twin, twin_out) = apply_block(&c.state, &c.next_block(vec![noop])).expect("twin");
    assert_eq!(
        twin_out.receipts[0].status,
        TxStatus::Failed(TxError::ZeroAmount)
    );
    let before = c.state.account(&signer);
    let tx = signed_by(c, who, nonce, action);
    let out = run(c, vec![tx]);
    let r = &out.receipts[0];
    assert_eq!(r.status, TxStatus::Failed(want), "{r:#?}");
    let fee = c.state.config().tx_fee;
    assert_eq!(r.fee, fee);
    assert_eq!(
        r.events,
        vec![Event::FeePaid {
            payer: signer,
            amount: fee
        }]
    );
    let after = c.state.account(&signer);
    assert_eq!(after.nonce, before.nonce + 1);
    if signer != c.proposer {
        assert_eq!(after.balance, before.balance - fee);
    }
    assert_eq!(
        c.state.state_root(),
        twin.state_root(),
        "a failed tx changed more than fee and nonce"
    );
    assert_eq!(out.end_events, twin_out.end_events);
}

/// Applies `tx` and shows it was rejected with `want` and changed nothing at all (beyond the
/// receipt counter): the state equals the one after an empty block.
fn expect_rejected(c: &mut Chain, tx: SignedTx, want: CheckError) {
    let (twin, _) = apply_block(&c.state, &c.next_block(vec![])).expect("twin");
    let out = run(c, vec![tx]);
    let r = &out.receipts[0];
    assert_eq!(r.status, TxStatus::Rejected(want), "{r:#?}");
    assert_eq!(r.fee, 0);
    assert!(r.events.is_empty());
    assert_eq!(
        c.state.collection_roots().accounts,
        twin.collection_roots().accounts
    );
    assert_eq!(
        c.state.collection_roots().providers,
        twin.collection_roots().providers
    );
    assert_eq!(
        c.state.collection_roots().tasks,
        twin.collection_roots().tasks
    );
    assert_eq!(
        c.state.collection_roots().models,
        twin.collection_roots().models
    );
    let mut g = twin.globals().clone();
    g.receipts_processed += 1;
    assert_eq!(c.state.globals(), &g);
}

// ---- 1. accounts ----------------------------------------------------------------------------

mod r01_accounts {
    use super::*;

    #[test]
    fn transfer_moves_value_and_charges_the_flat_fee_to_the_proposer() {
        let mut c = chain();
        let proposer = c.proposer;
        let out = {
            let tx = c.tx(
                "alice",
                Action::Transfer {
                    to: addr("bob"),
                    amount: 7,
                },
            );
            run(&mut c, vec![tx])
        };
        let r = &out.receipts[0];
        assert_eq!(r.status, TxStatus::Applied);
        assert_eq!(r.fee, TX_FEE);
        assert_eq!(
            r.events,
            vec![
                Event::FeePaid {
                    payer: addr("alice"),
                    amount: TX_FEE
                },
                Event::Transferred {
                    from: addr("alice"),
                    to: addr("bob"),
                    amount: 7
                },
            ]
        );
        assert!(out.end_events.contains(&Event::ProposerPaid {
            proposer,
            amount: TX_FEE
        }));
        assert_eq!(c.state.balance(&addr("alice")), START - 7 - TX_FEE);
        assert_eq!(c.state.balance(&addr("bob")), START + 7);
        assert_eq!(c.state.balance(&proposer), TX_FEE);
        assert_eq!(c.state.account(&addr("alice")).nonce, 1);
        assert_eq!(c.state.account(&addr("bob")).nonce, 0);
    }

    #[test]
    fn balances_are_u128() {
        let big = u128::MAX / 2;
        let mut g = genesis_with(quick_config());
        g.balances = vec![(addr("alice"), big), (addr("bob"), big)];
        let mut c = Chain::new(g).unwrap();
        ok(
            &mut c,
            "alice",
            Action::Transfer {
                to: addr("bob"),
                amount: big - TX_FEE,
            },
        );
        assert_eq!(c.state.balance(&addr("bob")), 2 * big - TX_FEE);
        assert_eq!(c.state.balance(&addr("alice")), 0);
    }

    #[test]
    fn transfer_of_more_than_the_balance_fails_charging_only_the_fee() {
        let mut c = chain();
        expect_failed(
            &mut c,
            "alice",
            Action::Transfer {
                to: addr("bob"),
                amount: START,
            },
            TxError::InsufficientBalance {
                need: START,
                have: START - TX_FEE,
            },
        );
    }

    #[test]
    fn zero_transfer_fails() {
        let mut c = chain();
        expect_failed(
            &mut c,
            "alice",
            Action::Transfer {
                to: addr("bob"),
                amount: 0,
            },
            TxError::ZeroAmount,
        );
    }

    #[test]
    fn self_transfer_only_costs_the_fee() {
        let mut c = chain();
        ok(
            &mut c,
            "alice",
            Action::Transfer {
                to: addr("alice"),
                amount: 5,
            },
        );
        assert_eq!(c.state.balance(&addr("alice")), START - TX_FEE);
    }

    #[test]
    fn an_account_that_cannot_pay_the_fee_is_rejected_and_nothing_changes() {
        let mut c = chain();
        let tx = c.tx(
            "nobody",
            Action::Transfer {
                to: addr("bob"),
                amount: 1,
            },
        );
        expect_rejected(
            &mut c,
            tx,
            CheckError::CannotPayFee {
                balance: 0,
                fee: TX_FEE,
            },
        );
        assert_eq!(c.state.account(&addr("nobody")).nonce, 0);
    }

    #[test]
    fn the_fee_is_charged_on_a_failed_tx_and_the_nonce_advances() {
        let mut c = chain();
        let r = one(
            &mut c,
            "alice",
            Action::ClaimRewards {
                provider: ProviderId([1; 32]),
            },
        );
        assert_eq!(r.status, TxStatus::Failed(TxError::UnknownProvider));
        assert_eq!(r.fee, TX_FEE);
        assert_eq!(c.state.account(&addr("alice")).nonce, 1);
        assert_eq!(c.state.balance(&addr("alice")), START - TX_FEE);
    }

    #[test]
    fn a_zero_fee_task_is_refused() {
        let mut c = chain();
        expect_failed(
            &mut c,
            "alice",
            submit_action(0),
            TxError::FeeBelowMinimum {
                fee: 0,
                min: 1_000_000,
            },
        );
        expect_failed(
            &mut c,
            "alice",
            submit_action(999_999),
            TxError::FeeBelowMinimum {
                fee: 999_999,
                min: 1_000_000,
            },
        );
        ok(&mut c, "alice", submit_action(1_000_000));
    }

    #[test]
    fn a_fee_free_chain_charges_nothing() {
        let mut c = chain_with(Config {
            tx_fee: 0,
            ..quick_config()
        });
        let r = ok(
            &mut c,
            "alice",
            Action::Transfer {
                to: addr("bob"),
                amount: 1,
            },
        );
        assert_eq!(r.fee, 0);
        assert_eq!(c.state.balance(&addr("alice")), START - 1);
        let tx = c.tx(
            "nobody",
            Action::Transfer {
                to: addr("bob"),
                amount: 1,
            },
        );
        let out = run(&mut c, vec![tx]);
        assert_eq!(
            out.receipts[0].status,
            TxStatus::Failed(TxError::InsufficientBalance { need: 1, have: 0 })
        );
        assert!(!out
            .end_events
            .iter()
            .any(|e| matches!(e, Event::ProposerPaid { .. })));
    }
}

// ---- 2. config ------------------------------------------------------------------------------

mod r02_config {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::default();
        assert_eq!(c.max_providers_per_node, 100);
        assert_eq!(c.max_tasks_per_provider, 10);
        assert_eq!(c.host_chain_id, "primary");
        assert_eq!(c.verification_mode, VerificationMode::Optimistic);
        assert_eq!(c.challenge_window_blocks, 100);
        assert_eq!(c.redundancy_factor, 3);
        assert_eq!(c.redundancy_n, 5);
        assert_eq!(c.min_provider_bond, E18);
        assert!(!c.require_tee_attestation);
        assert_eq!(c.min_trust_score, 50);
        assert_eq!(c.attestation_timeout_ms, 30_000);
        assert_eq!(c.max_task_queue_size, 1000);
        assert_eq!(c.task_timeout_ms, 300_000);
        assert_eq!(c.base_reward, 1_000_000_000);
        assert_eq!(c.epoch_duration_ms, 3_600_000);
        assert_eq!(c.merkle_anchor_freq, 100);
        assert_eq!(c.tx_fee, 1_000_000);
        assert_eq!(c.min_task_fee, 1_000_000);
        assert_eq!(c.reward_schedule, RewardSchedule::Flat);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn permissioned_is_tee_attested_with_trust_70() {
        let p = Config::permissioned();
        assert_eq!(p.verification_mode, VerificationMode::TeeAttested);
        assert!(p.require_tee_attestation);
        assert_eq!(p.min_trust_score, 70);
        assert_eq!(
            Config {
                verification_mode: VerificationMode::Optimistic,
                require_tee_attestation: false,
                min_trust_score: 50,
                ..p.clone()
            },
            Config::default()
        );
        // Without a trusted attestor no provider could ever register.
        assert_eq!(p.validate(), Err(ConfigError::TeeRequiredWithoutAttestors));
    }

    #[test]
    fn durations_are_strings_in_json_and_integers_in_the_struct() {
        let c: Config = serde_json::from_str(
            r#"{"taskTimeout": "5m", "epochDuration": "1h", "attestationTimeout": "30s"}"#,
        )
        .unwrap();
        assert_eq!(c, Config::default());
        let c: Config = serde_json::from_str(r#"{"taskTimeout": "1m30s"}"#).unwrap();
        assert_eq!(c.task_timeout_ms, 90_000);
        let json = serde_json::to_value(Config::default()).unwrap();
        assert_eq!(json["taskTimeout"], "5m");
        assert_eq!(json["epochDuration"], "1h");
        assert_eq!(json["attestationTimeout"], "30s");
        assert!(serde_json::from_str::<Config>(r#"{"taskTimeout": "1.5m"}"#).is_err());
    }

    #[test]
    fn a_partial_config_keeps_the_defaults_of_missing_fields() {
        let c: Config =
            serde_json::from_str(r#"{"challengeWindowBlocks": 7, "maxTaskQueueSize": 3}"#).unwrap();
        assert_eq!(
            c,
            Config {
                challenge_window_blocks: 7,
                max_task_queue_size: 3,
                ..Config::default()
            }
        );
    }

    #[test]
    fn validate_refuses_nonsense_with_typed_errors() {
        let cases: Vec<(Config, ConfigError)> = vec![
            (
                Config {
                    redundancy_factor: 6,
                    ..Config::default()
                },
                ConfigError::RedundancyExceedsTotal { m: 6, n: 5 },
            ),
            (
                Config {
                    challenge_window_blocks: 0,
                    tee_challenge_window_blocks: 0,
                    ..Config::default()
                },
                ConfigError::ChallengeWindowZero {
                    mode: VerificationMode::Optimistic,
                },
            ),
            (
                Config {
                    min_task_fee: 0,
                    ..Config::default()
                },
                ConfigError::Zero {
                    field: "min_task_fee",
                },
            ),
            (
                Config {
                    protocol_share_bps: 10_001,
                    ..Config::default()
                },
                ConfigError::BpsOutOfRange {
                    field: "protocol_share_bps",
                    value: 10_001,
                },
            ),
            (
                Config {
                    host_chain_id: String::new(),
                    ..Config::default()
                },
                ConfigError::HostChainIdLength { len: 0, max: 64 },
            ),
        ];
        for (config, want) in cases {
            assert_eq!(config.validate(), Err(want.clone()));
            let mut g = genesis_with(config);
            g.chain_id = "x".into();
            assert_eq!(State::genesis(&g).err(), Some(GenesisError::Config(want)));
        }
    }
}

// ---- 3. models ------------------------------------------------------------------------------

mod r03_models {
    use super::*;

    fn register_model(id: &str, types: Vec<TaskType>) -> Action {
        Action::RegisterModel {
            id: id.into(),
            weights_hash: [3; 32],
            task_types: types,
            context_length: 4096,
        }
    }

    #[test]
    fn the_registry_holds_the_three_default_models() {
        let c = chain();
        let models: Vec<(String, u32)> = c
            .state
            .models()
            .iter()
            .map(|m| (m.id.clone(), m.context_length))
            .collect();
        assert_eq!(
            models,
            vec![
                ("qwen3-8b".to_string(), 131_072),
                ("zen-coder-1.5b".to_string(), 32_768),
                ("zen-mini-0.5b".to_string(), 8_192),
            ]
        );
        assert!(c
            .state
            .models()
            .iter()
            .all(|m| m.task_types == TaskType::ALL.to_vec() && !m.retired));
    }

    #[test]
    fn registration_is_permissionless_for_a_deposit() {
        let mut c = chain();
        let deposit = c.state.config().model_deposit;
        let r = ok(
            &mut c,
            "carol",
            register_model("carol-7b", vec![TaskType::Embedding]),
        );
        assert!(r.events.contains(&Event::ModelRegistered {
            id: "carol-7b".into(),
            owner: addr("carol"),
            deposit
        }));
        assert_eq!(c.state.balance(&addr("carol")), START - deposit - TX_FEE);
        let m = c
            .state
            .models()
            .into_iter()
            .find(|m| m.id == "carol-7b")
            .unwrap()
            .clone();
        assert_eq!(m.owner, Some(addr("carol")));
        assert_eq!(m.deposit, deposit);
        assert_eq!(m.context_length, 4096);
        assert_eq!(m.task_types, vec![TaskType::Embedding]);
        assert_eq!(c.state.stats().models_available, 4);

        expect_failed(
            &mut c,
            "dave",
            register_model("carol-7b", vec![TaskType::Inference]),
            TxError::ModelExists("carol-7b".into()),
        );
        expect_failed(
            &mut c,
            "dave",
            register_model("bad id", vec![TaskType::Inference]),
            TxError::BadModelId { max: 64 },
        );
        expect_failed(
            &mut c,
            "dave",
            register_model("", vec![TaskType::Inference]),
            TxError::BadModelId { max: 64 },
        );
        expect_failed(
            &mut c,
            "dave",
            register_model(&"m".repeat(65), vec![TaskType::Inference]),
            TxError::BadModelId { max: 64 },
        );
        expect_failed(
            &mut c,
            "dave",
            register_model("no-types", vec![]),
            TxError::BadModelSpec,
        );
        expect_failed(
            &mut c,
            "dave",
            Action::RegisterModel {
                id: "no-context".into(),
                weights_hash: [0; 32],
                task_types: vec![TaskType::Inference],
                context_length: 0,
            },
            TxError::BadModelSpec,
        );
    }

    #[test]
    fn registration_needs_the_deposit() {
        let mut g = genesis_with(quick_config());
        g.balances.push((addr("poor"), E18));
        let mut c = Chain::new(g).unwrap();
        expect_failed(
            &mut c,
            "poor",
            register_model("poor-1b", vec![TaskType::Inference]),
            TxError::InsufficientBalance {
                need: E18,
                have: E18 - TX_FEE,
            },
        );
    }

    #[test]
    fn a_model_must_serve_the_task_type() {
        let mut c = chain();
        ok(
            &mut c,
            "carol",
            register_model("embed-only", vec![TaskType::Embedding]),
        );
        expect_failed(
            &mut c,
            "alice",
            Action::SubmitTask {
                model: "embed-only".into(),
                task_type: TaskType::Inference,
                input_hash: [0; 32],
                inline_input: vec![],
                fee: TASK_FEE,
                redundancy: None,
            },
            TxError::TaskTypeNotServed,
        );
    }

    #[test]
    fn only_governance_retires_and_the_deposit_goes_back() {
        let mut c = chain();
        let deposit = c.state.config().model_deposit;
        ok(
            &mut c,
            "carol",
            register_model("carol-7b", vec![TaskType::Inference]),
        );
        expect_failed(
            &mut c,
            "carol",
            Action::RetireModel {
                id: "carol-7b".into(),
            },
            TxError::NotGovernance,
        );
        let carol_before = c.state.balance(&addr("carol"));
        let out = {
            let tx = c.tx(
                "gov",
                Action::RetireModel {
                    id: "carol-7b".into(),
                },
            );
            run(&mut c, vec![tx])
        };
        assert!(out.receipts[0].is_applied(), "{:#?}", out.receipts[0]);
        assert!(all_events(&out).contains(&Event::ModelRetired {
            id: "carol-7b".into()
        }));
        // The deposit goes back at the end of the retiring block.
        assert!(out.end_events.contains(&Event::ModelDepositReturned {
            id: "carol-7b".into(),
            owner: addr("carol"),
            amount: deposit
        }));
        assert_eq!(c.state.balance(&addr("carol")), carol_before + deposit);
        assert_eq!(c.state.holdings().unwrap().model_deposits, 0);
        assert_eq!(c.state.stats().models_available, 3);
        expect_failed(
            &mut c,
            "gov",
            Action::RetireModel {
                id: "carol-7b".into(),
            },
            TxError::ModelRetired("carol-7b".into()),
        );
        expect_failed(
            &mut c,
            "gov",
            Action::RetireModel { id: "nope".into() },
            TxError::UnknownModel("nope".into()),
        );
        // A retired model takes neither tasks nor providers.
        expect_failed(
            &mut c,
            "alice",
            Action::SubmitTask {
                model: "carol-7b".into(),
                task_type: TaskType::Inference,
                input_hash: [0; 32],
                inline_input: vec![],
                fee: TASK_FEE,
                redundancy: None,
            },
            TxError::ModelRetired("carol-7b".into()),
        );
        expect_failed(
            &mut c,
            "bob",
            Action::RegisterProvider {
                endpoint: String::new(),
                gpus: vec![],
                models: vec!["carol-7b".into()],
                bond: E18,
                attestation: None,
            },
            TxError::ModelRetired("carol-7b".into()),
        );
    }

    #[test]
    fn a_default_model_can_be_retired() {
        let mut c = chain();
        ok(
            &mut c,
            "gov",
            Action::RetireModel {
                id: "zen-mini-0.5b".into(),
            },
        );
        assert_eq!(c.state.stats().models_available, 2);
        assert_eq!(c.state.balance(&addr("gov")), START - TX_FEE);
    }

    #[test]
    fn a_chain_without_governance_cannot_retire() {
        let mut g = genesis_with(quick_config());
        g.governance = None;
        let mut c = Chain::new(g).unwrap();
        expect_failed(
            &mut c,
            "gov",
            Action::RetireModel { id: MODEL.into() },
            TxError::NotGovernance,
        );
    }
}

// ---- 4. providers ---------------------------------------------------------------------------

mod r04_providers {
    use super::*;
    use aivm_core::providers::ProviderStatus;

    #[test]
    fn registration_locks_the_bond_from_the_owner() {
        let mut c = chain();
        let (tx, id) = register_tx(&mut c, "bob", 3 * E18);
        assert_eq!(id, ProviderId::derive(&addr("bob"), 0));
        let out = run(&mut c, vec![tx]);
        assert!(out.receipts[0].events.contains(&Event::ProviderRegistered {
            provider: id,
            owner: addr("bob"),
            bond: 3 * E18
        }));
        let p = c.state.provider(&id).unwrap();
        assert_eq!(p.bond, 3 * E18);
        assert_eq!(p.locked, 0);
        assert_eq!(p.owner, addr("bob"));
        assert_eq!(p.status, ProviderStatus::Active);
        assert_eq!(&p.models[..], [MODEL.to_string()]);
        assert_eq!(c.state.balance(&addr("bob")), START - 3 * E18 - TX_FEE);
        assert_eq!(c.state.account(&addr("bob")).providers, 1);
    }

    #[test]
    fn the_bond_must_reach_the_minimum() {
        let mut c = chain();
        expect_failed(
            &mut c,
            "bob",
            register_action(E18 - 1),
            TxError::BondBelowMinimum {
                bond: E18 - 1,
                min: E18,
            },
        );
        register(&mut c, "bob", E18);
    }

    #[test]
    fn endpoint_gpus_and_models_are_bounded() {
        let mut c = chain();
        let listing =
            |endpoint: String, gpus: Vec<GpuInfo>, models: Vec<String>| Action::RegisterProvider {
                endpoint,
                gpus,
                models,
                bond: E18,
                attestation: None,
            };
        expect_failed(
            &mut c,
            "bob",
            listing("x".repeat(257), vec![], vec![MODEL.into()]),
            TxError::EndpointTooLong { max: 256 },
        );
        expect_failed(
            &mut c,
            "bob",
            listing(String::new(), vec![gpu("H100"); 17], vec![MODEL.into()]),
            TxError::BadGpuList {
                max: 16,
                name_max: 64,
            },
        );
        expect_failed(
            &mut c,
            "bob",
            listing(
                String::new(),
                vec![gpu(&"G".repeat(65))],
                vec![MODEL.into()],
            ),
            TxError::BadGpuList {
                max: 16,
                name_max: 64,
            },
        );
        expect_failed(
            &mut c,
            "bob",
            listing(String::new(), vec![], vec![]),
            TxError::BadModelList { max: 16 },
        );
        expect_failed(
            &mut c,
            "bob",
            listing(String::new(), vec![], vec!["unknown-model".into()]),
            TxError::UnknownModel("unknown-model".into()),
        );
        // At the limits exactly: accepted.
        ok(
            &mut c,
            "bob",
            listing(
                "x".repeat(256),
                vec![gpu(&"G".repeat(64)); 16],
                vec![MODEL.into(), MODEL.into()],
            ),
        );
    }

    #[test]
    fn registration_needs_the_balance() {
        let mut c = chain();
        expect_failed(
            &mut c,
            "bob",
            register_action(START),
            TxError::InsufficientBalance {
                need: START,
                have: START - TX_FEE,
            },
        );
    }

    #[test]
    fn top_up_is_owner_only_and_positive() {
        let mut c = chain();
        let p = register(&mut c, "bob", E18);
        let r = ok(
            &mut c,
            "bob",
            Action::TopUpBond {
                provider: p,
                amount: 5,
            },
        );
        assert!(r.events.contains(&Event::BondToppedUp {
            provider: p,
            amount: 5,
            bond: E18 + 5
        }));
        assert_eq!(c.state.provider(&p).unwrap().bond, E18 + 5);
        expect_failed(
            &mut c,
            "mallory",
            Action::TopUpBond {
                provider: p,
                amount: 5,
            },
            TxError::NotProviderOwner,
        );
        expect_failed(
            &mut c,
            "bob",
            Action::TopUpBond {
                provider: p,
                amount: 0,
            },
            TxError::ZeroAmount,
        );
        expect_failed(
            &mut c,
            "bob",
            Action::TopUpBond {
                provider: ProviderId([9; 32]),
                amount: 5,
            },
            TxError::UnknownProvider,
        );
    }

    #[test]
    fn unbond_starts_a_cooldown_then_the_bond_and_rewards_leave() {
        let mut c = chain();
        let p = register(&mut c, "bob", 2 * E18);
        expect_failed(
            &mut c,
            "bob",
            Action::WithdrawBond { provider: p },
            TxError::NotUnbonding,
        );
        let h = c.state.height() + 1;
        let r = ok(&mut c, "bob", Action::Unbond { provider: p });
        assert!(r.events.contains(&Event::UnbondStarted {
            provider: p,
            until_height: h + 4
        }));
        assert_eq!(
            c.state.provider(&p).unwrap().status,
            ProviderStatus::Unbonding {
                until_height: h + 4
            }
        );
        expect_failed(
            &mut c,
            "bob",
            Action::Unbond { provider: p },
            TxError::AlreadyUnbonding,
        );
        expect_failed(
            &mut c,
            "bob",
            Action::WithdrawBond { provider: p },
            TxError::CooldownNotOver { until: h + 4 },
        );
        c.advance(1).unwrap();
        assert_eq!(c.state.height() + 1, h + 4);
        let before = c.state.balance(&addr("bob"));
        let r = ok(&mut c, "bob", Action::WithdrawBond { provider: p });
        assert!(r.events.contains(&Event::BondWithdrawn {
            provider: p,
            owner: addr("bob"),
            amount: 2 * E18
        }));
        assert_eq!(c.state.balance(&addr("bob")), before + 2 * E18 - TX_FEE);
        assert!(c.state.provider(&p).is_none());
        assert_eq!(c.state.account(&addr("bob")).providers, 0);
    }

    #[test]
    fn the_bond_cannot_leave_while_a_window_is_open() {
        let (mut c, p, t) = assigned_task_with(Config {
            unbond_cooldown_blocks: 1,
            ..quick_config()
        });
        ok(&mut c, "bob", result_action(t, p, 9));
        ok(&mut c, "bob", Action::Unbond { provider: p });
        // The cooldown is over, the window is not.
        assert_eq!(status(&c, &t), TaskStatus::ResultPosted);
        expect_failed(
            &mut c,
            "bob",
            Action::WithdrawBond { provider: p },
            TxError::OpenTasks { open: 1 },
        );
        c.advance(3).unwrap();
        assert_eq!(status(&c, &t), TaskStatus::Completed);
        let pending = c.state.provider(&p).unwrap().stats.pending_rewards;
        assert!(pending > 0);
        let r = ok(&mut c, "bob", Action::WithdrawBond { provider: p });
        // Unclaimed rewards leave with the bond.
        assert!(r.events.contains(&Event::BondWithdrawn {
            provider: p,
            owner: addr("bob"),
            amount: 2 * E18 + pending
        }));
    }

    #[test]
    fn max_providers_per_node_is_enforced() {
        let mut c = chain_with(Config {
            max_providers_per_node: 2,
            ..quick_config()
        });
        register(&mut c, "bob", E18);
        register(&mut c, "bob", E18);
        expect_failed(
            &mut c,
            "bob",
            register_action(E18),
            TxError::TooManyProviders { max: 2 },
        );
        register(&mut c, "carol", E18);
    }

    #[test]
    fn max_tasks_per_provider_is_enforced() {
        let mut c = chain_with(Config {
            max_tasks_per_provider: 1,
            ..quick_config()
        });
        let p = register(&mut c, "bob", 2 * E18);
        let (a, ta) = submit_tx(&mut c, "alice", TASK_FEE);
        let (b, tb) = submit_tx(&mut c, "carol", TASK_FEE);
        run(&mut c, vec![a, b]);
        run(&mut c, vec![]);
        assert_eq!(c.state.provider(&p).unwrap().open_tasks, 1);
        let statuses = [status(&c, &ta), status(&c, &tb)];
        assert!(statuses.contains(&TaskStatus::Assigned));
        assert!(statuses.contains(&TaskStatus::Pending));
        assert_eq!(c.state.pending_tasks().len(), 1);
    }

    #[test]
    fn only_the_owner_acts_for_a_provider() {
        let (mut c, p, t) = posted_task();
        for action in [
            Action::Unbond { provider: p },
            Action::WithdrawBond { provider: p },
            Action::ClaimRewards { provider: p },
            Action::TopUpBond {
                provider: p,
                amount: 1,
            },
            result_action(t, p, 1),
        ] {
            expect_failed(&mut c, "mallory", action, TxError::NotProviderOwner);
        }
    }

    #[test]
    fn an_unbonding_provider_gets_no_new_work() {
        let mut c = chain();
        let p = register(&mut c, "bob", 2 * E18);
        ok(&mut c, "bob", Action::Unbond { provider: p });
        let t = submit(&mut c, "alice", TASK_FEE);
        c.advance(2).unwrap();
        assert_eq!(status(&c, &t), TaskStatus::Pending);
    }
}

// ---- 5. tasks -------------------------------------------------------------------------------

mod r05_tasks {
    use super::*;

    #[test]
    fn submission_escrows_the_fee() {
        let mut c = chain();
        let (tx, id) = submit_tx(&mut c, "alice", TASK_FEE);
        let out = run(&mut c, vec![tx]);
        assert!(out.receipts[0].events.contains(&Event::TaskSubmitted {
            task: id,
            submitter: addr("alice"),
            model: MODEL.into(),
            fee: TASK_FEE
        }));
        let t = c.state.task(&id).unwrap();
        assert_eq!(t.fee, TASK_FEE);
        assert_eq!(t.status, TaskStatus::Pending);
        assert_eq!(t.input_hash, [7; 32]);
        assert_eq!(&t.inline_input[..], b"hello");
        assert_eq!(c.state.balance(&addr("alice")), START - TASK_FEE - TX_FEE);
        assert_eq!(c.state.holdings().unwrap().task_escrows, TASK_FEE);
        // The escrow is not a balance anyone can spend.
        expect_failed(
            &mut c,
            "alice",
            Action::Transfer {
                to: addr("bob"),
                amount: START - TX_FEE,
            },
            TxError::InsufficientBalance {
                need: START - TX_FEE,
                have: START - TASK_FEE - 2 * TX_FEE,
            },
        );
    }

    #[test]
    fn task_ids_derive_from_submitter_and_nonce_so_none_is_overwritten() {
        let mut c = chain();
        let (a, ta) = submit_tx(&mut c, "alice", TASK_FEE);
        let (b, tb) = submit_tx(&mut c, "alice", TASK_FEE);
        let (d, td) = submit_tx(&mut c, "carol", TASK_FEE);
        assert_eq!(ta, TaskId::derive(&addr("alice"), 0));
        assert_eq!(tb, TaskId::derive(&addr("alice"), 1));
        assert_eq!(td, TaskId::derive(&addr("carol"), 0));
        let out = run(&mut c, vec![a, b, d]);
        assert!(out.receipts.iter().all(Receipt::is_applied));
        assert_eq!(c.state.tasks().count(), 3);
        // Identical submissions get distinct ids: the id is never the caller's choice.
        assert_ne!(ta, tb);
        assert_eq!(c.state.holdings().unwrap().task_escrows, 3 * TASK_FEE);
    }

    #[test]
    fn a_full_queue_refuses_with_a_clear_error_and_drops_nothing() {
        let mut c = chain_with(Config {
            max_task_queue_size: 2,
            ..quick_config()
        });
        let (a, ta) = submit_tx(&mut c, "alice", TASK_FEE);
        let (b, tb) = submit_tx(&mut c, "carol", TASK_FEE);
        run(&mut c, vec![a, b]);
        expect_failed(
            &mut c,
            "dave",
            submit_action(TASK_FEE),
            TxError::QueueFull { max: 2 },
        );
        let pending: Vec<TaskId> = c.state.pending_tasks().iter().map(|t| t.id).collect();
        assert_eq!(pending, vec![ta, tb]);
        assert!(TxError::QueueFull { max: 2 }
            .to_string()
            .contains("queue is full"));
    }

    #[test]
    fn model_and_task_type_must_exist() {
        let mut c = chain();
        expect_failed(
            &mut c,
            "alice",
            Action::SubmitTask {
                model: "gpt-9".into(),
                task_type: TaskType::Inference,
                input_hash: [0; 32],
                inline_input: vec![],
                fee: TASK_FEE,
                redundancy: None,
            },
            TxError::UnknownModel("gpt-9".into()),
        );
    }

    #[test]
    fn inline_input_is_bounded() {
        let mut c = chain();
        let with_input = |len: usize| Action::SubmitTask {
            model: MODEL.into(),
            task_type: TaskType::Mining,
            input_hash: [1; 32],
            inline_input: vec![0xab; len],
            fee: TASK_FEE,
            redundancy: None,
        };
        expect_failed(
            &mut c,
            "alice",
            with_input(4097),
            TxError::PayloadTooLarge {
                len: 4097,
                max: 4096,
            },
        );
        ok(&mut c, "alice", with_input(4096));
        ok(&mut c, "alice", with_input(0));
    }

    #[test]
    fn redundancy_is_refused_outside_m_of_n_mode() {
        let mut c = chain();
        expect_failed(
            &mut c,
            "alice",
            Action::SubmitTask {
                model: MODEL.into(),
                task_type: TaskType::Inference,
                input_hash: [0; 32],
                inline_input: vec![],
                fee: TASK_FEE,
                redundancy: Some(Redundancy { n: 3, m: 2 }),
            },
            TxError::RedundancyNotAllowed,
        );
    }

    #[test]
    fn the_terms_are_snapshotted_at_admission() {
        let mut c = chain();
        let t = submit(&mut c, "alice", TASK_FEE);
        let terms = &c.state.task(&t).unwrap().terms;
        let cfg = c.state.config();
        assert_eq!(terms.mode, VerificationMode::Optimistic);
        assert_eq!(terms.challenge_window_blocks, cfg.challenge_window_blocks);
        assert_eq!(terms.collateral, cfg.task_collateral);
        assert_eq!((terms.n, terms.m), (1, 1));
    }
}

// ---- 6. assignment --------------------------------------------------------------------------

mod r06_assignment {
    use super::*;

    /// Builds and applies the next block with a chosen seed.
    fn block_with_seed(c: &mut Chain, seed: [u8; 32], txs: Vec<SignedTx>) -> BlockOutcome {
        let mut b = c.next_block(txs);
        b.header.seed = seed;
        c.apply(b).expect("block applies").clone()
    }

    #[test]
    fn pending_tasks_are_assigned_at_the_end_of_the_next_block() {
        let mut c = chain();
        let p = register(&mut c, "bob", 2 * E18);
        let (tx, t) = submit_tx(&mut c, "alice", TASK_FEE);
        let out = run(&mut c, vec![tx]);
        // Not in the submitting block: nothing in that block can steer the draw.
        assert!(!all_events(&out)
            .iter()
            .any(|e| matches!(e, Event::TaskAssigned { .. })));
        assert_eq!(status(&c, &t), TaskStatus::Pending);
        let out = run(&mut c, vec![]);
        let h = c.state.height();
        assert!(out.end_events.contains(&Event::TaskAssigned {
            task: t,
            provider: p,
            deadline_height: h + 3
        }));
        let task = c.state.task(&t).unwrap();
        assert_eq!(task.status, TaskStatus::Assigned);
        assert_eq!(task.deadline, Some(h + 3));
        assert_eq!(c.state.provider(&p).unwrap().open_tasks, 1);
        assert!(c.state.pending_tasks().is_empty());
    }

    #[test]
    fn only_eligible_providers_are_drawn() {
        let mut c = chain();
        // Serves another model only.
        let other = {
            let tx = c.tx(
                "carol",
                Action::RegisterProvider {
                    endpoint: String::new(),
                    gpus: vec![],
                    models: vec!["zen-mini-0.5b".into()],
                    bond: 50 * E18,
                    attestation: None,
                },
            );
            let id = ProviderId::derive(&tx.signer, tx.body.nonce);
            run(&mut c, vec![tx]);
            id
        };
        // Unbonding.
        let leaving = register(&mut c, "dave", 50 * E18);
        ok(&mut c, "dave", Action::Unbond { provider: leaving });
        let good = register(&mut c, "bob", E18);
        let mut tasks = Vec::new();
        let mut txs = Vec::new();
        for who in ["alice", "erin", "frank", "grace"] {
            let (tx, t) = submit_tx(&mut c, who, TASK_FEE);
            txs.push(tx);
            tasks.push(t);
        }
        run(&mut c, txs);
        run(&mut c, vec![]);
        for t in &tasks {
            assert_eq!(assigned(&c, t), good);
        }
        assert_eq!(c.state.provider(&other).unwrap().open_tasks, 0);
        assert_eq!(c.state.provider(&leaving).unwrap().open_tasks, 0);
    }

    #[test]
    fn the_draw_is_deterministic_and_comes_from_the_header_seed() {
        let build = || {
            let mut c = chain_with(Config {
                max_tasks_per_provider: 100,
                ..quick_config()
            });
            let (a, _) = register_tx(&mut c, "bob", E18);
            let (b, _) = register_tx(&mut c, "carol", E18);
            let (d, _) = register_tx(&mut c, "dave", E18);
            run(&mut c, vec![a, b, d]);
            let t = submit(&mut c, "alice", TASK_FEE);
            (c, t)
        };
        let mut picks = std::collections::BTreeSet::new();
        for s in 0u8..12 {
            let (mut c1, t) = build();
            let (mut c2, _) = build();
            block_with_seed(&mut c1, [s; 32], vec![]);
            block_with_seed(&mut c2, [s; 32], vec![]);
            assert_eq!(assigned(&c1, &t), assigned(&c2, &t), "same seed, same pick");
            assert_eq!(c1.state.state_root(), c2.state.state_root());
            picks.insert(assigned(&c1, &t));
        }
        // The seed, not anything the submitter controls, decides: different seeds pick
        // different providers for the very same task.
        assert!(picks.len() > 1, "{picks:?}");
    }

    /// Share of `n` draws won by the providers of `owners`: one pending task, assigned by the
    /// next block under `n` different header seeds (each from the same state).
    fn share_of(c: &mut Chain, owners: &[&str], n: u32) -> f64 {
        let t = submit(c, "alice", TASK_FEE);
        let mut won = 0u32;
        for i in 0..n {
            let mut b = c.next_block(vec![]);
            b.header.seed = blake3::derive_key("rules draw", &i.to_le_bytes());
            let (s, _) = apply_block(&c.state, &b).expect("block applies");
            let pid = s.task(&t).and_then(|t| t.provider).expect("assigned");
            let owner = s.provider(&pid).expect("provider").owner;
            if owners.iter().any(|o| addr(o) == owner) {
                won += 1;
            }
        }
        f64::from(won) / f64::from(n)
    }

    #[test]
    fn the_draw_is_weighted_by_bond() {
        let mut c = chain();
        let (a, _) = register_tx(&mut c, "dave", 3 * E18);
        let (b, _) = register_tx(&mut c, "erin", E18);
        run(&mut c, vec![a, b]);
        let share = share_of(&mut c, &["dave"], 1_000);
        assert!((0.70..0.80).contains(&share), "3:1 bond got {share}");
    }

    #[test]
    fn splitting_a_bond_across_identities_does_not_raise_the_odds() {
        let mut c = chain();
        let (a, _) = register_tx(&mut c, "dave", 4 * E18);
        let (b, _) = register_tx(&mut c, "erin", E18);
        let (d, _) = register_tx(&mut c, "erin", E18);
        let (e, _) = register_tx(&mut c, "frank", E18);
        let (f, _) = register_tx(&mut c, "frank", E18);
        run(&mut c, vec![a, b, d, e, f]);
        // dave: one identity of 4; erin and frank: two identities of 1 each. Odds follow bond.
        let dave = share_of(&mut c, &["dave"], 1_000);
        assert!((0.45..0.55).contains(&dave), "dave (4 of 8) got {dave}");
        let erin = share_of(&mut c, &["erin"], 1_000);
        assert!(
            (0.20..0.30).contains(&erin),
            "erin (2 of 8, split) got {erin}"
        );
    }

    #[test]
    fn tasks_wait_without_a_provider_and_time_out_with_a_full_refund() {
        let mut c = chain_with(Config {
            task_timeout_ms: 10_000,
            ..quick_config()
        });
        let t = submit(&mut c, "alice", TASK_FEE);
        let created = c.state.task(&t).unwrap().created_time_ms;
        let balance = c.state.balance(&addr("alice"));
        let mut failed_at = None;
        for _ in 0..10 {
            let out = run(&mut c, vec![]);
            if out.end_events.contains(&Event::TaskFailed {
                task: t,
                reason: FailReason::TimedOut,
            }) {
                assert!(out.end_events.contains(&Event::Refunded {
                    task: t,
                    to: addr("alice"),
                    amount: TASK_FEE
                }));
                failed_at = Some(c.state.tip().time_ms);
                break;
            }
            assert_eq!(status(&c, &t), TaskStatus::Pending);
        }
        let failed_at = failed_at.expect("timed out");
        assert!(failed_at - created > 10_000);
        assert!(failed_at - created <= 10_000 + 2_000);
        assert_eq!(status(&c, &t), TaskStatus::Failed);
        assert_eq!(c.state.balance(&addr("alice")), balance + TASK_FEE);
        assert_eq!(c.state.stats().tasks_failed, 1);
        assert!(c.state.pending_tasks().is_empty());
    }

    #[test]
    fn a_waiting_task_is_assigned_once_a_provider_appears() {
        let mut c = chain();
        let t = submit(&mut c, "alice", TASK_FEE);
        c.advance(2).unwrap();
        assert_eq!(status(&c, &t), TaskStatus::Pending);
        let p = register(&mut c, "bob", E18);
        // Not drawn in the block that registers it (draws weigh the bond held before the
        // block), but in the next one.
        assert_eq!(status(&c, &t), TaskStatus::Pending);
        run(&mut c, vec![]);
        assert_eq!(assigned(&c, &t), p);
    }
}

// ---- 7. optimistic mode ---------------------------------------------------------------------

mod r07_optimistic {
    use super::*;

    #[test]
    fn a_result_locks_collateral_and_opens_the_window() {
        let (mut c, p, t) = assigned_task();
        let h = c.state.height() + 1;
        let collateral = c.state.config().task_collateral;
        let r = ok(
            &mut c,
            "bob",
            Action::SubmitResult {
                task: t,
                provider: p,
                output_hash: [9; 32],
                inline_output: b"out".to_vec(),
                compute_time_ms: 1234,
            },
        );
        assert!(r.events.contains(&Event::ResultPosted {
            task: t,
            provider: p,
            output_hash: [9; 32],
            window_end: h + 5,
            collateral
        }));
        let task = c.state.task(&t).unwrap();
        assert_eq!(task.status, TaskStatus::ResultPosted);
        let result = task.result.clone().unwrap();
        assert_eq!(&result.inline_output[..], b"out");
        assert_eq!(result.compute_time_ms, 1234);
        assert_eq!(c.state.provider(&p).unwrap().locked, collateral);
    }

    #[test]
    fn an_uncontested_result_finalises_when_the_window_closes() {
        let (mut c, p, t) = posted_task();
        let window_end = c.state.task(&t).unwrap().result.clone().unwrap().window_end;
        let bob = c.state.balance(&addr("bob"));
        let mut finalised = None;
        while c.state.height() < window_end {
            let out = run(&mut c, vec![]);
            if c.state.height() < window_end {
                assert_eq!(status(&c, &t), TaskStatus::ResultPosted);
            } else {
                finalised = Some(out);
            }
        }
        let out = finalised.unwrap();
        let share = TASK_FEE * 500 / 10_000;
        let paid = TASK_FEE - share;
        // The mint is capped at the protocol's share of the fee.
        let reward = c.state.config().base_reward.min(share);
        assert_eq!(reward, share);
        let collateral = c.state.config().task_collateral;
        for e in [
            Event::TaskFinalized {
                task: t,
                output_hash: [9; 32],
                paid,
                protocol_share: share,
            },
            Event::ProviderPaid {
                task: t,
                provider: p,
                amount: paid,
            },
            Event::CollateralReleased {
                provider: p,
                amount: collateral,
            },
            Event::RewardMinted {
                provider: p,
                amount: reward,
                epoch: 0,
            },
        ] {
            assert!(out.end_events.contains(&e), "missing {e:?}");
        }
        let task = c.state.task(&t).unwrap();
        assert_eq!(task.status, TaskStatus::Completed);
        assert_eq!(task.final_output, Some([9; 32]));
        assert_eq!(task.fee, 0);
        assert_eq!(c.state.balance(&addr("bob")), bob + paid);
        assert_eq!(c.state.globals().treasury, share);
        let prov = c.state.provider(&p).unwrap();
        assert_eq!(prov.locked, 0);
        assert_eq!(prov.open_tasks, 0);
        assert_eq!(prov.stats.pending_rewards, reward);
        assert_eq!(c.state.stats().tasks_completed, 1);
        assert_ne!(out.results_root, [0; 32]);
    }

    #[test]
    fn each_missed_deadline_is_slashed_and_requeues_the_task_to_a_new_provider_then_refunds() {
        let (mut c, p, t) = assigned_task();
        // Two more providers, as silent as bob: each re-queue must go to one that
        // has not missed this task yet.
        let (carol, carol_id) = register_tx(&mut c, "carol", 2 * E18);
        let (dave, dave_id) = register_tx(&mut c, "dave", 2 * E18);
        run(&mut c, vec![carol, dave]);
        let collateral = c.state.config().task_collateral;
        let slash = collateral / 10;
        let alice = c.state.balance(&addr("alice"));
        let mut missed_by = Vec::new();
        let mut drawn = vec![p];
        let mut requeues = 0;
        let mut failed = false;
        for _ in 0..20 {
            let out = run(&mut c, vec![]);
            for e in &out.end_events {
                match e {
                    Event::Slashed {
                        provider,
                        amount,
                        reason: SlashReason::MissedDeadline,
                    } => {
                        assert_eq!(*amount, slash);
                        missed_by.push(*provider);
                    }
                    Event::TaskAssigned { task, provider, .. } if *task == t => {
                        drawn.push(*provider)
                    }
                    Event::TaskRequeued { task } if *task == t => requeues += 1,
                    Event::TaskFailed {
                        task,
                        reason: FailReason::DeadlinesMissed,
                    } if *task == t => failed = true,
                    _ => {}
                }
            }
            if failed {
                assert!(out.end_events.contains(&Event::Refunded {
                    task: t,
                    to: addr("alice"),
                    amount: TASK_FEE
                }));
                break;
            }
        }
        assert!(failed);
        // Default MaxRequeues is 2: three assignments, three misses, by three providers.
        assert_eq!(requeues, 2);
        assert_eq!(missed_by, drawn);
        let mut distinct = missed_by.clone();
        distinct.sort();
        let mut all = vec![p, carol_id, dave_id];
        all.sort();
        assert_eq!(distinct, all);
        assert_eq!(status(&c, &t), TaskStatus::Failed);
        assert_eq!(c.state.balance(&addr("alice")), alice + TASK_FEE);
        for id in all {
            let prov = c.state.provider(&id).unwrap();
            assert_eq!(prov.bond, 2 * E18 - slash);
            assert_eq!(prov.stats.slashed, slash);
            assert_eq!(prov.stats.tasks_missed, 1);
            assert_eq!(prov.open_tasks, 0);
        }
        assert_eq!(c.state.globals().total_burned, 3 * slash);
    }

    /// The only provider misses: the re-queued task is never given back to it,
    /// and waits until its timeout refunds the client in full.
    #[test]
    fn a_provider_that_missed_is_never_drawn_for_that_task_again() {
        let (mut c, p, t) = assigned_task();
        let alice = c.state.balance(&addr("alice"));
        let mut requeued = false;
        let mut timed_out = false;
        for _ in 0..1000 {
            let out = run(&mut c, vec![]);
            for e in &out.end_events {
                match e {
                    Event::TaskRequeued { task } if *task == t => requeued = true,
                    Event::TaskAssigned { task, .. } if *task == t => {
                        panic!("re-assigned after a miss: {e:?}")
                    }
                    Event::TaskFailed {
                        task,
                        reason: FailReason::TimedOut,
                    } if *task == t => timed_out = true,
                    _ => {}
                }
            }
            if timed_out {
                break;
            }
            if requeued {
                assert_eq!(status(&c, &t), TaskStatus::Pending);
                assert_eq!(c.state.task(&t).unwrap().missed_by, vec![p]);
            }
        }
        assert!(requeued && timed_out);
        assert_eq!(c.state.balance(&addr("alice")), alice + TASK_FEE);
        let prov = c.state.provider(&p).unwrap();
        assert_eq!(prov.stats.tasks_missed, 1);
        assert_eq!(prov.open_tasks, 0);
    }

    /// Enough bonded providers of distinct owners for a referee panel.
    fn posted_with_bystanders() -> (Chain, ProviderId, TaskId) {
        let (mut c, p, t) = assigned_task();
        let mut txs = Vec::new();
        for who in ["carol", "dave", "erin", "frank", "grace", "heidi"] {
            txs.push(register_tx(&mut c, who, 2 * E18).0);
        }
        txs.push(c.tx("bob", result_action(t, p, 9)));
        let out = run(&mut c, txs);
        assert!(out.receipts.iter().all(Receipt::is_applied));
        (c, p, t)
    }

    #[test]
    fn a_challenge_in_the_window_locks_both_bonds_in_a_disputed_task() {
        let (mut c, p, t) = posted_with_bystanders();
        let bond = c.state.config().challenge_bond;
        let collateral = c.state.config().task_collateral;
        let mallory = c.state.balance(&addr("mallory"));
        let r = ok(
            &mut c,
            "mallory",
            Action::Challenge {
                task: t,
                claim: [4; 32],
            },
        );
        assert!(r.events.contains(&Event::TaskChallenged {
            task: t,
            challenger: addr("mallory"),
            bond
        }));
        let task = c.state.task(&t).unwrap();
        assert_eq!(task.status, TaskStatus::Disputed);
        let ch = task.challenge.clone().unwrap();
        assert_eq!(
            (ch.challenger, ch.bond, ch.claim),
            (addr("mallory"), bond, [4; 32])
        );
        assert_eq!(c.state.balance(&addr("mallory")), mallory - bond - TX_FEE);
        assert_eq!(c.state.provider(&p).unwrap().locked, collateral);
        assert_eq!(c.state.holdings().unwrap().challenge_bonds, bond);
        // A disputed result is not finalised when its window closes (the referees' phases are
        // longer), and cannot be challenged again.
        let window_end = task.result.clone().unwrap().window_end;
        while c.state.height() <= window_end {
            let out = run(&mut c, vec![]);
            assert!(!all_events(&out)
                .iter()
                .any(|e| matches!(e, Event::TaskFinalized { .. })));
        }
        assert_eq!(status(&c, &t), TaskStatus::Disputed);
        expect_failed(
            &mut c,
            "alice",
            Action::Challenge {
                task: t,
                claim: [5; 32],
            },
            TxError::WrongTaskStatus {
                status: "disputed".into(),
            },
        );
    }

    #[test]
    fn a_challenge_on_the_last_block_of_the_window_is_accepted() {
        let (mut c, _, t) = posted_with_bystanders();
        let window_end = c.state.task(&t).unwrap().result.clone().unwrap().window_end;
        while c.state.height() + 1 < window_end {
            run(&mut c, vec![]);
        }
        ok(
            &mut c,
            "mallory",
            Action::Challenge {
                task: t,
                claim: [4; 32],
            },
        );
        assert_eq!(status(&c, &t), TaskStatus::Disputed);
    }

    #[test]
    fn no_result_can_be_challenged_after_its_window() {
        let (mut c, _, t) = posted_task();
        let window_end = c.state.task(&t).unwrap().result.clone().unwrap().window_end;
        while c.state.height() < window_end {
            run(&mut c, vec![]);
        }
        assert_eq!(status(&c, &t), TaskStatus::Completed);
        expect_failed(
            &mut c,
            "mallory",
            Action::Challenge {
                task: t,
                claim: [4; 32],
            },
            TxError::WindowClosed {
                closed_at: window_end,
            },
        );
    }

    #[test]
    fn challenges_need_a_result_a_stranger_and_the_bond() {
        let (mut c, p, t) = assigned_task();
        expect_failed(
            &mut c,
            "mallory",
            Action::Challenge {
                task: t,
                claim: [0; 32],
            },
            TxError::WrongTaskStatus {
                status: "assigned".into(),
            },
        );
        ok(&mut c, "bob", result_action(t, p, 9));
        expect_failed(
            &mut c,
            "bob",
            Action::Challenge {
                task: t,
                claim: [0; 32],
            },
            TxError::OwnResult,
        );
        expect_failed(
            &mut c,
            "mallory",
            Action::Challenge {
                task: TaskId([0xee; 32]),
                claim: [0; 32],
            },
            TxError::UnknownTask,
        );
        // A challenger that cannot post the bond.
        let poor_bal = c.state.balance(&addr("mallory"));
        ok(
            &mut c,
            "mallory",
            Action::Transfer {
                to: addr("alice"),
                amount: poor_bal - E18 / 20,
            },
        );
        let have = c.state.balance(&addr("mallory")) - TX_FEE;
        let need = c.state.config().challenge_bond;
        expect_failed(
            &mut c,
            "mallory",
            Action::Challenge {
                task: t,
                claim: [0; 32],
            },
            TxError::InsufficientBalance { need, have },
        );
    }

    #[test]
    fn a_result_must_fit_the_inline_bound_and_the_available_bond() {
        let (mut c, p, t) = assigned_task();
        expect_failed(
            &mut c,
            "bob",
            Action::SubmitResult {
                task: t,
                provider: p,
                output_hash: [1; 32],
                inline_output: vec![0; 4097],
                compute_time_ms: 1,
            },
            TxError::PayloadTooLarge {
                len: 4097,
                max: 4096,
            },
        );
        ok(
            &mut c,
            "bob",
            Action::SubmitResult {
                task: t,
                provider: p,
                output_hash: [1; 32],
                inline_output: vec![0; 4096],
                compute_time_ms: 1,
            },
        );
    }
}

// ---- 8. rewards -----------------------------------------------------------------------------

mod r08_rewards {
    use super::*;
    use aivm_core::reward::lux_v1_reward;

    fn finalise(c: &mut Chain, t: &TaskId) {
        for _ in 0..10 {
            if status(c, t) == TaskStatus::Completed {
                return;
            }
            run(c, vec![]);
        }
        panic!("task did not finalise");
    }

    /// A fee whose protocol share (5%) covers the default flat reward.
    const RICH_FEE: u128 = 20 * 1_000_000_000;

    #[test]
    fn flat_reward_is_minted_into_pending_and_claimed_by_the_owner() {
        let (mut c, p, t) = assigned_task_paying(quick_config(), RICH_FEE);
        ok(&mut c, "bob", result_action(t, p, 9));
        let supply = c.state.globals().total_supply;
        finalise(&mut c, &t);
        let base = c.state.config().base_reward;
        assert_eq!(c.state.globals().total_minted, base);
        assert_eq!(c.state.globals().total_supply, supply + base);
        let stats = c.state.reward_stats(&p).unwrap();
        assert_eq!(stats.tasks_completed, 1);
        assert_eq!(stats.total_rewards, base);
        assert_eq!(stats.pending_rewards, base);
        assert_eq!(stats.avg_latency_ms, 50);
        assert_eq!(stats.uptime_ppm, Some(1_000_000));
        assert_eq!(stats.slashed, 0);

        expect_failed(
            &mut c,
            "mallory",
            Action::ClaimRewards { provider: p },
            TxError::NotProviderOwner,
        );
        let bob = c.state.balance(&addr("bob"));
        let r = ok(&mut c, "bob", Action::ClaimRewards { provider: p });
        assert!(r.events.contains(&Event::RewardsClaimed {
            provider: p,
            owner: addr("bob"),
            amount: base
        }));
        assert_eq!(c.state.balance(&addr("bob")), bob + base - TX_FEE);
        let stats = c.state.reward_stats(&p).unwrap();
        assert_eq!((stats.pending_rewards, stats.total_rewards), (0, base));
        expect_failed(
            &mut c,
            "bob",
            Action::ClaimRewards { provider: p },
            TxError::NothingToClaim,
        );
    }

    #[test]
    fn the_reward_is_capped_at_the_protocol_share_of_the_fee() {
        // Self-dealing (submitting to one's own provider) must not mint a profit: the mint
        // never exceeds what the protocol kept of the fee.
        let (mut c, p, t) = posted_task();
        finalise(&mut c, &t);
        let share = TASK_FEE * 500 / 10_000;
        assert!(share < c.state.config().base_reward);
        assert_eq!(c.state.reward_stats(&p).unwrap().pending_rewards, share);
        assert_eq!(c.state.globals().total_minted, share);
        assert_eq!(c.state.globals().treasury, share);
    }

    #[test]
    fn lux_v1_schedule_pays_the_published_formula() {
        let base = 1_000_000_000_000_000;
        let (mut c, p, t) = assigned_task_paying(
            Config {
                reward_schedule: RewardSchedule::LuxV1,
                base_reward: base,
                ..quick_config()
            },
            E18,
        );
        ok(&mut c, "bob", result_action(t, p, 9)); // 50 ms on an "NVIDIA H100"
        finalise(&mut c, &t);
        // Compute x1.0 (< 100 ms), H100 +15%, uptime 100% of one task +10%, speed +5%.
        let want = lux_v1_reward(base, 50, "NVIDIA H100", Some(1_000_000));
        assert_eq!(want, 1_328_250_000_000_000);
        assert_eq!(c.state.reward_stats(&p).unwrap().pending_rewards, want);
        // The published vector.
        assert_eq!(
            lux_v1_reward(base, 50, "NVIDIA H100", Some(999_500)),
            1_328_250_000_000_000
        );
        assert_eq!(
            lux_v1_reward(base, 50, "NVIDIA H100", None),
            1_207_500_000_000_000
        );
    }

    #[test]
    fn epochs_follow_header_time() {
        let mut c = chain_with(Config {
            epoch_duration_ms: 5_000,
            ..quick_config()
        });
        let mut started = Vec::new();
        for _ in 0..8 {
            let out = run(&mut c, vec![]);
            for e in &out.end_events {
                if let Event::EpochStarted { epoch } = e {
                    started.push((c.state.tip().time_ms, *epoch));
                }
            }
        }
        // Blocks every 2 s: 2, 4 | 6, 8 | 10, 12, 14 | 16 -> epochs start at 6 s, 10 s, 16 s.
        assert_eq!(started, vec![(6_000, 1), (10_000, 2), (16_000, 3)]);
        assert_eq!(c.state.stats().epoch, 3);
    }

    #[test]
    fn epoch_rewards_reset_with_the_epoch() {
        let mut c = chain_with(Config {
            epoch_duration_ms: 20_000,
            ..quick_config()
        });
        let p = register(&mut c, "bob", 2 * E18);
        let t = submit(&mut c, "alice", RICH_FEE);
        run(&mut c, vec![]);
        ok(&mut c, "bob", result_action(t, p, 1));
        finalise(&mut c, &t);
        let base = c.state.config().base_reward;
        assert_eq!(c.state.stats().epoch_rewards, base);
        while c.state.stats().epoch == 0 {
            run(&mut c, vec![]);
        }
        assert_eq!(c.state.stats().epoch_rewards, 0);
        assert_eq!(c.state.stats().total_minted, base);
    }

    #[test]
    fn global_stats_have_the_seed_fields() {
        let (mut c, p, t) = assigned_task_paying(quick_config(), RICH_FEE);
        ok(&mut c, "bob", result_action(t, p, 9));
        finalise(&mut c, &t);
        let s = c.state.stats();
        assert_eq!(s.tasks_pending, 0);
        assert_eq!(s.tasks_completed, 1);
        assert_eq!(s.tasks_failed, 0);
        assert_eq!(s.providers_total, 1);
        assert_eq!(s.providers_active, 1);
        assert_eq!(s.models_available, 3);
        assert_eq!(s.total_minted, 1_000_000_000);
        assert_eq!(s.epoch_rewards, 1_000_000_000);
        // register, submit, result: one receipt each.
        assert_eq!(s.receipts_processed, 3);
    }
}

// ---- 9. conservation ------------------------------------------------------------------------

mod r09_conservation {
    use super::*;

    #[test]
    fn supply_is_genesis_plus_mint_minus_burn_and_everything_is_held() {
        let mut c = chain();
        let genesis_supply = c.state.globals().total_supply;
        assert_eq!(genesis_supply, START * ACTORS.len() as u128);
        register(&mut c, "bob", 2 * E18);
        register(&mut c, "carol", 2 * E18);
        let (a, t1) = submit_tx(&mut c, "alice", TASK_FEE);
        let (b, _t2) = submit_tx(&mut c, "dave", TASK_FEE);
        run(&mut c, vec![a, b]);
        run(&mut c, vec![]);
        // One result is posted; the other task's provider misses its deadlines.
        let pa = assigned(&c, &t1);
        let owner = owner_name(&c, &pa);
        ok(&mut c, owner, result_action(t1, pa, 1));
        c.advance(12).unwrap();
        let g = c.state.globals();
        assert!(g.total_minted > 0);
        assert!(g.total_burned > 0);
        assert_eq!(
            g.total_supply,
            genesis_supply + g.total_minted - g.total_burned
        );
        let h = c.state.holdings().unwrap();
        assert_eq!(h.total(), Some(g.total_supply));
        assert!(h.treasury > 0 && h.bonds > 0);
        c.state.check_invariants().unwrap();
    }

    #[test]
    fn value_never_appears_in_a_failed_or_rejected_tx() {
        let mut c = chain();
        let supply = c.state.globals().total_supply;
        for action in [
            Action::Transfer {
                to: addr("bob"),
                amount: u128::MAX,
            },
            register_action(u128::MAX),
            submit_action(u128::MAX),
        ] {
            one(&mut c, "alice", action);
        }
        let tx = signed_by(
            &c,
            "alice",
            99,
            Action::Transfer {
                to: addr("bob"),
                amount: 1,
            },
        );
        run(&mut c, vec![tx]);
        assert_eq!(c.state.globals().total_supply, supply);
        assert_eq!(c.state.holdings().unwrap().total(), Some(supply));
    }
}

// ---- 10. commitments ------------------------------------------------------------------------

mod r10_commitments {
    use super::*;
    use aivm_core::apply::results_root;
    use aivm_core::commit::tree::{leaf_hash, reference_root, NodeHasher};
    use aivm_core::encoding::encode;
    use rs_merkle::MerkleTree;

    fn busy_chain() -> (Chain, Vec<TaskId>) {
        let mut c = chain();
        register(&mut c, "bob", 2 * E18);
        register(&mut c, "carol", 2 * E18);
        let mut tasks = Vec::new();
        for who in ["alice", "dave", "erin"] {
            tasks.push(submit(&mut c, who, TASK_FEE));
        }
        run(&mut c, vec![]);
        let t = tasks[0];
        let p = assigned(&c, &t);
        let owner = owner_name(&c, &p);
        ok(&mut c, owner, result_action(t, p, 3));
        c.advance(3).unwrap();
        (c, tasks)
    }

    #[test]
    fn the_incremental_root_equals_a_full_rebuild_after_every_block() {
        let mut c = chain();
        assert_eq!(c.state.reference_state_root(), c.state.state_root());
        register(&mut c, "bob", 2 * E18);
        assert_eq!(c.state.reference_state_root(), c.state.state_root());
        for who in ["alice", "dave", "erin"] {
            submit(&mut c, who, TASK_FEE);
            assert_eq!(c.state.reference_state_root(), c.state.state_root());
        }
        for _ in 0..12 {
            run(&mut c, vec![]);
            assert_eq!(c.state.reference_state_root(), c.state.state_root());
        }
    }

    #[test]
    fn task_proofs_verify_against_the_root_ours_and_rs_merkle() {
        let (c, _) = busy_chain();
        let root = c.state.collection_roots().tasks;
        let mut leaves = vec![[0u8; 32]; c.state.tasks().count()];
        for task in c.state.tasks() {
            let leaf = leaf_hash(&encode(&task.id), &encode(task));
            let proof = c.state.task_proof(&task.id).unwrap();
            assert!(proof.verify(&root, &leaf));
            assert!(!proof.verify(&root, &[1; 32]));
            leaves[proof.slot as usize] = leaf;
        }
        let rs = MerkleTree::<NodeHasher>::from_leaves(&leaves);
        assert_eq!(rs.root(), Some(root));
        assert_eq!(reference_root(&leaves), root);
        for (i, leaf) in leaves.iter().enumerate() {
            assert!(rs.proof(&[i]).verify(root, &[i], &[*leaf], leaves.len()));
        }
        assert!(c.state.task_proof(&TaskId([0; 32])).is_none());
    }

    #[test]
    fn the_state_root_combines_the_collection_roots() {
        let (c, _) = busy_chain();
        assert_eq!(
            c.state.collection_roots().state_root(),
            c.state.state_root()
        );
        assert_eq!(c.state.merkle_root(), c.state.state_root());
        assert_eq!(c.state.collection_roots().genesis, c.genesis.hash());
    }

    #[test]
    fn the_results_root_covers_the_results_finalised_in_the_block() {
        let (mut c, _p, t) = posted_task();
        let mut roots = Vec::new();
        for _ in 0..6 {
            let out = run(&mut c, vec![]);
            roots.push((c.state.height(), out.results_root));
        }
        let done = c.state.task(&t).unwrap().finalized_height.unwrap();
        for (h, root) in roots {
            if h == done {
                assert_eq!(root, results_root(&[(t, [9; 32])]));
                assert_eq!(root, leaf_hash(&t.0, &[9; 32]));
            } else {
                assert_eq!(root, [0; 32]);
            }
        }
    }

    #[test]
    fn the_same_blocks_give_the_same_roots() {
        let (a, _) = busy_chain();
        let (b, _) = busy_chain();
        assert_eq!(a.state.state_root(), b.state.state_root());
        let roots_a: Vec<_> = a.outcomes.iter().map(|o| o.state_root).collect();
        let roots_b: Vec<_> = b.outcomes.iter().map(|o| o.state_root).collect();
        assert_eq!(roots_a, roots_b);
        // Every block that changed something changed the root.
        assert!(roots_a.windows(2).all(|w| w[0] != w[1]));
    }
}

// ---- 11. anchoring --------------------------------------------------------------------------

mod r11_anchoring {
    use super::*;
    use aivm_core::anchor::AnchorTarget;
    use aivm_core::commit::tree::reference_root;

    fn anchored(host: &str) -> Chain {
        let mut c = chain_with(Config {
            merkle_anchor_freq: 4,
            host_chain_id: host.into(),
            ..quick_config()
        });
        let p = register(&mut c, "bob", 2 * E18);
        let t = submit(&mut c, "alice", TASK_FEE);
        run(&mut c, vec![]);
        ok(&mut c, "bob", result_action(t, p, 2));
        c.advance(5).unwrap();
        assert_eq!(c.state.height(), 9);
        c
    }

    #[test]
    fn every_merkle_anchor_freq_blocks_an_anchor_is_emitted() {
        let c = anchored("primary");
        for out in &c.outcomes {
            let due = out.height % 4 == 0;
            assert_eq!(out.anchor.is_some(), due, "height {}", out.height);
            let Some(a) = &out.anchor else { continue };
            assert_eq!(a.target, AnchorTarget::QChain);
            assert_eq!(a.height, out.height);
            assert_eq!(a.from_height, out.height - 3);
            assert_eq!(a.results_root, out.results_root);
            // The anchored root is the root of the block's post-state: proofs against the
            // state after this block verify against it.
            assert_eq!(a.state_root, out.state_root);
            let covered: Vec<[u8; 32]> = c.outcomes
                [(a.from_height - 1) as usize..a.height as usize]
                .iter()
                .map(|o| o.results_root)
                .collect();
            assert_eq!(a.results_roots_root, reference_root(&covered));
        }
        // The finalisation (height 8) is covered by the anchor at 8.
        let a8 = c.outcomes[7].anchor.clone().unwrap();
        assert_ne!(a8.results_roots_root, [0; 32]);
    }

    #[test]
    fn another_host_chain_anchors_to_itself() {
        let c = anchored("my-l1");
        let a = c.outcomes[3].anchor.clone().unwrap();
        assert_eq!(a.target, AnchorTarget::HostChain("my-l1".into()));
    }
}

// ---- 12. conflict keys ----------------------------------------------------------------------

mod r12_conflict_keys {
    use super::*;
    use aivm_core::dag::Vertex;
    use aivm_core::tx::ConflictKey;

    fn verified(c: &mut Chain, who: &str, action: Action) -> aivm_core::VerifiedTx {
        c.tx(who, action).verify().unwrap()
    }

    #[test]
    fn keys_name_what_a_tx_touches() {
        let mut c = chain();
        let t = verified(
            &mut c,
            "alice",
            Action::Transfer {
                to: addr("bob"),
                amount: 1,
            },
        );
        let mut want = vec![
            ConflictKey::Account(addr("alice")),
            ConflictKey::Account(addr("bob")),
        ];
        want.sort();
        assert_eq!(t.conflict_keys(), want);
        let s = verified(&mut c, "carol", submit_action(TASK_FEE));
        assert!(s
            .conflict_keys()
            .contains(&ConflictKey::Task(TaskId::derive(&addr("carol"), 0))));
        assert!(s.conflict_keys().contains(&ConflictKey::TaskQueue));
        assert!(s
            .conflict_keys()
            .contains(&ConflictKey::Model(MODEL.into())));
        assert!(t.commutes_with(&s) && s.commutes_with(&t));
        let s2 = verified(&mut c, "dave", submit_action(TASK_FEE));
        assert!(!s.commutes_with(&s2), "the bounded queue is shared");
        let t2 = verified(
            &mut c,
            "erin",
            Action::Transfer {
                to: addr("bob"),
                amount: 1,
            },
        );
        assert!(!t.commutes_with(&t2), "both credit bob");
    }

    fn root_after(state: &State, c: &Chain, txs: Vec<SignedTx>) -> ([u8; 32], Vec<TxStatus>) {
        let b = c.next_block(txs);
        let (s, out) = apply_block(state, &b).unwrap();
        s.check_invariants().unwrap();
        (
            s.state_root(),
            out.receipts.iter().map(|r| r.status.clone()).collect(),
        )
    }

    fn assert_commute(c: &Chain, a: SignedTx, b: SignedTx) {
        let (va, vb) = (a.verify().unwrap(), b.verify().unwrap());
        assert!(va.commutes_with(&vb));
        let (r1, s1) = root_after(&c.state, c, vec![a.clone(), b.clone()]);
        let (r2, mut s2) = root_after(&c.state, c, vec![b, a]);
        s2.reverse();
        assert_eq!(s1, s2, "each tx has the same outcome in either order");
        assert_eq!(r1, r2, "disjoint keys, same root in either order");
    }

    #[test]
    fn disjoint_transfers_and_submissions_commute() {
        let mut c = chain();
        register(&mut c, "bob", 2 * E18);
        let a = c.tx(
            "alice",
            Action::Transfer {
                to: addr("carol"),
                amount: 3,
            },
        );
        let b = c.tx("dave", submit_action(TASK_FEE));
        assert_commute(&c, a, b);
    }

    /// Regression: retiring a model credits the deposit to the model's owner, an account that is
    /// not among the retirement's conflict keys. A transfer by that owner which only fits with
    /// the refunded deposit must not depend on the order of the two.
    #[test]
    fn retiring_a_model_commutes_with_a_transfer_by_its_owner() {
        let mut c = chain();
        ok(
            &mut c,
            "carol",
            Action::RegisterModel {
                id: "carol-7b".into(),
                weights_hash: [1; 32],
                task_types: vec![TaskType::Inference],
                context_length: 1,
            },
        );
        let deposit = c.state.config().model_deposit;
        let carol = c.state.balance(&addr("carol"));
        let retire = c.tx(
            "gov",
            Action::RetireModel {
                id: "carol-7b".into(),
            },
        );
        let spend = c.tx(
            "carol",
            Action::Transfer {
                to: addr("dave"),
                amount: carol - TX_FEE + deposit / 2,
            },
        );
        assert_commute(&c, retire, spend);
        // The deposit still comes back, at the end of the retiring block.
        let retire = signed_by(
            &c,
            "gov",
            0,
            Action::RetireModel {
                id: "carol-7b".into(),
            },
        );
        let out = run(&mut c, vec![retire]);
        assert!(out.receipts[0].is_applied());
        assert_eq!(c.state.balance(&addr("carol")), carol + deposit);
    }

    #[test]
    fn dag_vertices_conflict_iff_they_share_a_job() {
        let (mut c, p, t) = assigned_task();
        let result = verified(&mut c, "bob", result_action(t, p, 1));
        let challenge = verified(
            &mut c,
            "mallory",
            Action::Challenge {
                task: t,
                claim: [0; 32],
            },
        );
        let transfer = verified(
            &mut c,
            "alice",
            Action::Transfer {
                to: addr("carol"),
                amount: 1,
            },
        );
        let v1 = Vertex::new(vec![], 1, 0, std::slice::from_ref(&result));
        let v2 = Vertex::new(vec![v1.id()], 2, 0, std::slice::from_ref(&challenge));
        let v3 = Vertex::new(vec![v1.id()], 2, 0, std::slice::from_ref(&transfer));
        assert!(v1.conflicts(&v2) && v2.conflicts(&v1), "same job id");
        assert!(!v1.conflicts(&v3) && !v2.conflicts(&v3));
        assert!(v2.keys.contains(&ConflictKey::Task(t)));
        // The id covers the content: another tx set, another vertex.
        assert_ne!(v2.id(), v3.id());
        assert_eq!(v3.id(), Vertex::new(vec![v1.id()], 2, 0, &[transfer]).id());
    }
}

// ---- 13. events -----------------------------------------------------------------------------

mod r13_events {
    use super::*;

    /// The `TrustChanged` events (provider, new value) in the order they came.
    fn trust_moves(out: &BlockOutcome) -> Vec<(ProviderId, u32)> {
        all_events(out)
            .into_iter()
            .filter_map(|e| match e {
                Event::TrustChanged { provider, trust } => Some((provider, trust)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn earned_trust_announces_every_move_after_its_cause() {
        let (mut c, p, t) = posted_task();
        let mut moves = Vec::new();
        for _ in 0..5 {
            let out = run(&mut c, vec![]);
            moves.extend(trust_moves(&out));
            if !moves.is_empty() {
                let events = all_events(&out);
                let paid = events
                    .iter()
                    .position(|e| matches!(e, Event::ProviderPaid { .. }));
                let trust = events
                    .iter()
                    .position(|e| matches!(e, Event::TrustChanged { .. }));
                assert!(paid < trust, "the payment comes first: {events:?}");
                break;
            }
        }
        assert_eq!(status(&c, &t), TaskStatus::Completed);
        assert_eq!(moves, [(p, 1)]);
        assert_eq!(c.state.provider(&p).unwrap().trust, 1);

        // Bob misses the deadline of his next task: slashed, then trust cut to 0.
        let t2 = submit(&mut c, "alice", TASK_FEE);
        run(&mut c, vec![]);
        assert_eq!(assigned(&c, &t2), p);
        let mut events = Vec::new();
        for _ in 0..quick_config().result_deadline_blocks + 1 {
            events.extend(all_events(&run(&mut c, vec![])));
        }
        let missed = events
            .iter()
            .position(|e| matches!(e, Event::DeadlineMissed { .. }))
            .expect("the deadline passes");
        let cut = events
            .iter()
            .position(|e| {
                *e == Event::TrustChanged {
                    provider: p,
                    trust: 0,
                }
            })
            .expect("the fault cuts trust");
        assert!(missed < cut, "the cause comes first: {events:?}");
        assert_eq!(c.state.provider(&p).unwrap().trust, 0);
        // At 0 a further fault moves nothing, so it announces nothing.
        let t3 = submit(&mut c, "alice", TASK_FEE);
        let mut events = Vec::new();
        for _ in 0..quick_config().result_deadline_blocks + 2 {
            events.extend(all_events(&run(&mut c, vec![])));
        }
        assert!(events
            .iter()
            .any(|e| matches!(e, Event::DeadlineMissed { task, .. } if *task == t3)));
        assert!(!events
            .iter()
            .any(|e| matches!(e, Event::TrustChanged { .. })));
    }

    #[test]
    fn every_state_change_announces_itself_in_order() {
        let mut c = chain();
        let mut events = Vec::new();
        let p = register(&mut c, "bob", 2 * E18);
        let t = submit(&mut c, "alice", TASK_FEE);
        run(&mut c, vec![]);
        ok(&mut c, "bob", result_action(t, p, 9));
        c.advance(5).unwrap();
        ok(&mut c, "bob", Action::ClaimRewards { provider: p });
        ok(&mut c, "bob", Action::Unbond { provider: p });
        c.advance(4).unwrap();
        ok(&mut c, "bob", Action::WithdrawBond { provider: p });
        for out in &c.outcomes {
            for r in &out.receipts {
                assert!(r.is_applied());
                assert!(
                    r.events.len() >= 2,
                    "an applied tx announces its change: {r:?}"
                );
            }
            for e in all_events(out) {
                let name = format!("{e:?}");
                let name = name.split([' ', '{', '(']).next().unwrap().to_string();
                if name != "FeePaid" && name != "ProposerPaid" && events.last() != Some(&name) {
                    events.push(name);
                }
            }
        }
        assert_eq!(
            events,
            [
                "ProviderRegistered",
                "TaskSubmitted",
                "TaskAssigned",
                "ResultPosted",
                "CollateralReleased",
                "RewardMinted",
                "TaskFinalized",
                "ProviderPaid",
                "TrustChanged",
                "RewardsClaimed",
                "UnbondStarted",
                "BondWithdrawn",
            ]
        );
    }

    #[test]
    fn a_failed_tx_announces_only_its_fee() {
        let mut c = chain();
        let r = one(
            &mut c,
            "alice",
            Action::Unbond {
                provider: ProviderId([3; 32]),
            },
        );
        assert_eq!(
            r.events,
            vec![Event::FeePaid {
                payer: addr("alice"),
                amount: TX_FEE
            }]
        );
    }
}

// ---- 14. canonical encoding -----------------------------------------------------------------

mod r14_canonical_encoding {
    use super::*;
    use aivm_core::encoding::{decode, encode};
    use aivm_core::error::DecodeError;
    use aivm_core::genesis::Genesis as G;

    fn sample_block() -> Block {
        let (mut c, p, t) = assigned_task();
        let a = c.tx("bob", result_action(t, p, 9));
        let b = c.tx(
            "alice",
            Action::Transfer {
                to: addr("carol"),
                amount: 300,
            },
        );
        c.next_block(vec![a, b])
    }

    #[test]
    fn a_block_id_is_the_blake3_of_the_canonical_header() {
        let b = sample_block();
        assert_eq!(b.id(), *blake3::hash(&encode(&b.header)).as_bytes());
        let mut h = b.header.clone();
        h.time_ms += 1;
        assert_ne!(h.id(), b.id());
    }

    #[test]
    fn consensus_types_round_trip() {
        let b = sample_block();
        assert_eq!(decode::<Block>(&encode(&b)), Ok(b.clone()));
        for tx in &b.txs {
            assert_eq!(decode::<SignedTx>(&encode(tx)), Ok(tx.clone()));
        }
        let g = genesis_with(quick_config());
        assert_eq!(decode::<G>(&encode(&g)), Ok(g.clone()));
        assert_eq!(decode::<Config>(&encode(&g.config)), Ok(g.config.clone()));
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let b = sample_block();
        let mut bytes = encode(&b);
        bytes.extend([0, 0]);
        assert_eq!(decode::<Block>(&bytes), Err(DecodeError::TrailingBytes(2)));
    }

    #[test]
    fn non_canonical_bytes_are_refused() {
        // A transfer's amount as an overlong varint: valid LEB128, but not the canonical form.
        let mut c = chain();
        let tx = c.tx(
            "alice",
            Action::Transfer {
                to: addr("carol"),
                amount: 5,
            },
        );
        let bytes = encode(&tx);
        // ... signer(32) | chain_id | nonce | action tag 0 | to(32) | amount | signature(64)
        let amount_at = bytes.len() - 64 - 1;
        assert_eq!(bytes[amount_at], 5);
        let mut long = bytes[..amount_at].to_vec();
        long.extend([0x85, 0x00]);
        long.extend(&bytes[amount_at + 1..]);
        assert_eq!(decode::<SignedTx>(&long), Err(DecodeError::NonCanonical));
        // An out-of-range enum tag or a truncation is malformed, never a panic.
        let mut bad_tag = bytes.clone();
        bad_tag[amount_at - 33] = 200;
        assert!(matches!(
            decode::<SignedTx>(&bad_tag),
            Err(DecodeError::Malformed(_))
        ));
        for cut in 0..bytes.len() {
            assert!(decode::<SignedTx>(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn the_signature_covers_the_chain_id() {
        let mut c = chain();
        let tx = c.tx(
            "alice",
            Action::Transfer {
                to: addr("carol"),
                amount: 5,
            },
        );
        assert!(tx
            .body
            .signing_bytes()
            .starts_with(aivm_core::tx::TX_DOMAIN));
        let mut other = tx.clone();
        other.body.chain_id = "other-chain".into();
        assert!(other.verify().is_err());
        // Signed for another chain: verifies, but this chain refuses it.
        let foreign = TxBody {
            chain_id: "other-chain".into(),
            nonce: 0,
            action: Action::Transfer {
                to: addr("carol"),
                amount: 5,
            },
        }
        .sign(&key_from_name("alice"));
        assert!(foreign.verify().is_ok());
        expect_rejected(
            &mut c,
            foreign,
            CheckError::WrongChain {
                expected: "aivm-rules".into(),
                got: "other-chain".into(),
            },
        );
    }
}

// ---- 15. queries ----------------------------------------------------------------------------

mod r15_queries {
    use super::*;

    #[test]
    fn getters_answer_in_a_deterministic_order() {
        let mut c = chain();
        let mut txs = Vec::new();
        for who in ["erin", "bob", "dave", "carol"] {
            txs.push(register_tx(&mut c, who, E18).0);
        }
        run(&mut c, txs);
        let mut txs = Vec::new();
        let mut ids = Vec::new();
        for who in ["heidi", "alice", "grace"] {
            let (tx, id) = submit_tx(&mut c, who, TASK_FEE);
            txs.push(tx);
            ids.push(id);
        }
        // Submitted in this order; the queue keeps admission order.
        run(&mut c, txs);
        let pending: Vec<TaskId> = c.state.pending_tasks().iter().map(|t| t.id).collect();
        assert_eq!(pending, ids);
        let providers: Vec<ProviderId> = c.state.providers().iter().map(|p| p.id).collect();
        let mut sorted = providers.clone();
        sorted.sort();
        assert_eq!(providers, sorted);
        let models: Vec<String> = c.state.models().iter().map(|m| m.id.clone()).collect();
        let mut sorted_models = models.clone();
        sorted_models.sort();
        assert_eq!(models, sorted_models);
        let tasks: Vec<TaskId> = c.state.tasks().map(|t| t.id).collect();
        let mut sorted_tasks = tasks.clone();
        sorted_tasks.sort();
        assert_eq!(tasks, sorted_tasks);
        let accounts: Vec<Address> = c.state.accounts().map(|(a, _)| *a).collect();
        let mut sorted_accounts = accounts.clone();
        sorted_accounts.sort();
        assert_eq!(accounts, sorted_accounts);
        assert_eq!(c.state.task_counts(), vec![(TaskStatus::Pending, 3)]);
        run(&mut c, vec![]);
        assert_eq!(c.state.task_counts(), vec![(TaskStatus::Assigned, 3)]);
        let s = c.state.stats();
        assert_eq!(
            (s.providers_total, s.providers_active, s.tasks_pending),
            (4, 4, 0)
        );
        let p = providers[0];
        let rs = c.state.reward_stats(&p).unwrap();
        assert_eq!(rs.provider_id, p);
        assert_eq!(rs.uptime_ppm, None, "no stats yet");
        assert!(c.state.reward_stats(&ProviderId([0; 32])).is_none());
        assert!(c.state.task(&TaskId([0; 32])).is_none());
        assert_eq!(c.state.merkle_root(), c.outcomes.last().unwrap().state_root);
    }
}

// ---- bad input ------------------------------------------------------------------------------

mod r16_bad_input {
    use super::*;

    #[test]
    fn amounts_near_u128_max_are_typed_errors() {
        let mut c = chain();
        let p = register(&mut c, "bob", E18);
        for amount in [u128::MAX, u128::MAX - 1, u128::MAX / 2 + 1] {
            let have = c.state.balance(&addr("alice")) - TX_FEE;
            expect_failed(
                &mut c,
                "alice",
                Action::Transfer {
                    to: addr("bob"),
                    amount,
                },
                TxError::InsufficientBalance { need: amount, have },
            );
            let have = c.state.balance(&addr("alice")) - TX_FEE;
            expect_failed(
                &mut c,
                "alice",
                submit_action(amount),
                TxError::InsufficientBalance { need: amount, have },
            );
            let have = c.state.balance(&addr("carol")) - TX_FEE;
            expect_failed(
                &mut c,
                "carol",
                register_action(amount),
                TxError::InsufficientBalance { need: amount, have },
            );
        }
        expect_failed(
            &mut c,
            "bob",
            Action::TopUpBond {
                provider: p,
                amount: u128::MAX,
            },
            TxError::Overflow,
        );
        let bob_have = c.state.balance(&addr("bob")) - TX_FEE;
        expect_failed(
            &mut c,
            "bob",
            Action::TopUpBond {
                provider: p,
                amount: u128::MAX - E18,
            },
            TxError::InsufficientBalance {
                need: u128::MAX - E18,
                have: bob_have,
            },
        );
    }

    #[test]
    fn a_genesis_whose_supply_overflows_is_refused() {
        let mut g = genesis_with(quick_config());
        g.balances = vec![(addr("alice"), u128::MAX), (addr("bob"), 1)];
        assert_eq!(State::genesis(&g).err(), Some(GenesisError::SupplyOverflow));
        g.balances = vec![(addr("alice"), 1), (addr("alice"), 1)];
        assert_eq!(
            State::genesis(&g).err(),
            Some(GenesisError::DuplicateAccount(addr("alice")))
        );
        g.balances = vec![];
        g.chain_id = String::new();
        assert_eq!(State::genesis(&g).err(), Some(GenesisError::BadChainId));
    }

    #[test]
    fn a_supply_at_u128_max_runs_and_mints_nothing_it_cannot_hold() {
        let mut g = genesis_with(quick_config());
        g.balances = vec![
            (addr("alice"), u128::MAX - 10 * E18),
            (addr("bob"), 10 * E18),
        ];
        let mut c = Chain::new(g).unwrap();
        let p = register(&mut c, "bob", 2 * E18);
        let t = submit(&mut c, "alice", u128::MAX / 4);
        run(&mut c, vec![]);
        assert_eq!(assigned(&c, &t), p);
        ok(&mut c, "bob", result_action(t, p, 1));
        c.advance(6).unwrap();
        assert_eq!(status(&c, &t), TaskStatus::Completed);
        // Paid in full; the reward could not be minted (the supply is at u128::MAX) and was not.
        assert_eq!(c.state.globals().total_minted, 0);
        assert_eq!(c.state.globals().total_supply, u128::MAX);
        assert_eq!(c.state.reference_state_root(), c.state.state_root());
    }

    #[test]
    fn nonces_out_of_order_are_rejected_without_any_change() {
        let mut c = chain();
        let send = |n| Action::Transfer {
            to: addr("bob"),
            amount: n,
        };
        let ahead = signed_by(&c, "alice", 1, send(1));
        expect_rejected(
            &mut c,
            ahead.clone(),
            CheckError::BadNonce {
                expected: 0,
                got: 1,
            },
        );
        let now = signed_by(&c, "alice", 0, send(2));
        // In one block: the later nonce first is rejected, then the right one applies.
        let out = run(&mut c, vec![ahead.clone(), now.clone()]);
        assert_eq!(
            out.receipts[0].status,
            TxStatus::Rejected(CheckError::BadNonce {
                expected: 0,
                got: 1
            })
        );
        assert!(out.receipts[1].is_applied());
        // Replays are rejected.
        expect_rejected(
            &mut c,
            now,
            CheckError::BadNonce {
                expected: 1,
                got: 0,
            },
        );
        let far = signed_by(&c, "alice", u64::MAX, send(1));
        expect_rejected(
            &mut c,
            far,
            CheckError::BadNonce {
                expected: 1,
                got: u64::MAX,
            },
        );
        // Now nonce 1 is the right one.
        let out = run(&mut c, vec![ahead]);
        assert!(out.receipts[0].is_applied());
    }

    #[test]
    fn bad_signatures_are_rejected_without_any_change() {
        let mut c = chain();
        let mut tx = c.tx(
            "alice",
            Action::Transfer {
                to: addr("bob"),
                amount: 1,
            },
        );
        tx.signature.0[0] ^= 1;
        expect_rejected(
            &mut c,
            tx.clone(),
            CheckError::Auth(aivm_core::tx::AuthError::BadSignature),
        );
        // A signer that is not a curve point (y = 2 has no x on edwards25519).
        let mut not_a_key = [0u8; 32];
        not_a_key[0] = 2;
        tx.signer = Address(not_a_key);
        expect_rejected(
            &mut c,
            tx,
            CheckError::Auth(aivm_core::tx::AuthError::MalformedKey),
        );
    }

    #[test]
    fn unknown_ids_are_typed_errors() {
        let (mut c, p, t) = assigned_task();
        let nope_t = TaskId([0xab; 32]);
        let nope_p = ProviderId([0xcd; 32]);
        expect_failed(
            &mut c,
            "bob",
            result_action(nope_t, p, 1),
            TxError::UnknownTask,
        );
        expect_failed(
            &mut c,
            "bob",
            result_action(t, nope_p, 1),
            TxError::UnknownProvider,
        );
        for action in [
            Action::Unbond { provider: nope_p },
            Action::WithdrawBond { provider: nope_p },
            Action::ClaimRewards { provider: nope_p },
            Action::TopUpBond {
                provider: nope_p,
                amount: 1,
            },
        ] {
            expect_failed(&mut c, "bob", action, TxError::UnknownProvider);
        }
        expect_failed(
            &mut c,
            "mallory",
            Action::Challenge {
                task: nope_t,
                claim: [0; 32],
            },
            TxError::UnknownTask,
        );
        expect_failed(
            &mut c,
            "bob",
            Action::CommitOutput {
                task: nope_t,
                provider: p,
                commitment: [0; 32],
            },
            TxError::UnknownTask,
        );
        expect_failed(
            &mut c,
            "bob",
            Action::RevealOutput {
                task: t,
                provider: nope_p,
                output_hash: [0; 32],
                salt: [0; 32],
            },
            TxError::UnknownProvider,
        );
        expect_failed(
            &mut c,
            "alice",
            Action::SubmitTask {
                model: "nope".into(),
                task_type: TaskType::Inference,
                input_hash: [0; 32],
                inline_input: vec![],
                fee: TASK_FEE,
                redundancy: None,
            },
            TxError::UnknownModel("nope".into()),
        );
    }

    #[test]
    fn a_result_from_a_provider_not_assigned_is_refused() {
        let (mut c, p, t) = assigned_task();
        // carol's provider registers after the draw: it is not the assignee.
        let q = register(&mut c, "carol", E18);
        assert_eq!(assigned(&c, &t), p);
        expect_failed(
            &mut c,
            "carol",
            result_action(t, q, 1),
            TxError::NotAssigned,
        );
        // bob's key with carol's provider id: not its owner.
        expect_failed(
            &mut c,
            "bob",
            result_action(t, q, 1),
            TxError::NotProviderOwner,
        );
    }

    #[test]
    fn a_second_result_is_refused() {
        let (mut c, p, t) = posted_task();
        expect_failed(
            &mut c,
            "bob",
            result_action(t, p, 9),
            TxError::AlreadyPosted,
        );
        expect_failed(
            &mut c,
            "bob",
            result_action(t, p, 8),
            TxError::AlreadyPosted,
        );
    }

    #[test]
    fn a_result_after_the_deadline_is_refused() {
        let (mut c, p, t) = assigned_task_with(Config {
            max_requeues: 0,
            ..quick_config()
        });
        let deadline = c.state.task(&t).unwrap().deadline.unwrap();
        while c.state.height() < deadline {
            run(&mut c, vec![]);
        }
        assert_eq!(status(&c, &t), TaskStatus::Failed);
        // The deadline fired at the end of its block: the provider is no longer the assignee.
        expect_failed(&mut c, "bob", result_action(t, p, 1), TxError::NotAssigned);
    }

    #[test]
    fn a_result_on_the_deadline_block_is_accepted() {
        let (mut c, p, t) = assigned_task();
        let deadline = c.state.task(&t).unwrap().deadline.unwrap();
        while c.state.height() + 1 < deadline {
            run(&mut c, vec![]);
        }
        ok(&mut c, "bob", result_action(t, p, 1));
    }

    #[test]
    fn a_claim_or_unbond_by_a_stranger_is_refused() {
        let (mut c, p, _) = posted_task();
        expect_failed(
            &mut c,
            "mallory",
            Action::ClaimRewards { provider: p },
            TxError::NotProviderOwner,
        );
        expect_failed(
            &mut c,
            "mallory",
            Action::Unbond { provider: p },
            TxError::NotProviderOwner,
        );
        expect_failed(
            &mut c,
            "alice",
            Action::WithdrawBond { provider: p },
            TxError::NotProviderOwner,
        );
    }

    #[test]
    fn commit_and_reveal_outside_a_committee_are_typed_errors() {
        let (mut c, p, t) = posted_task();
        expect_failed(
            &mut c,
            "bob",
            Action::CommitOutput {
                task: t,
                provider: p,
                commitment: [1; 32],
            },
            TxError::WrongTaskStatus {
                status: "result_posted".into(),
            },
        );
        expect_failed(
            &mut c,
            "bob",
            Action::RevealOutput {
                task: t,
                provider: p,
                output_hash: [1; 32],
                salt: [2; 32],
            },
            TxError::WrongTaskStatus {
                status: "result_posted".into(),
            },
        );
    }

    #[test]
    fn a_garbage_attestation_is_a_typed_error() {
        use aivm_core::attestation::{
            AttestationError, AttestationEvidence, EvidenceKind, SignedAttestation, TeeType,
        };
        let (mut c, p, _) = assigned_task();
        let att = SignedAttestation {
            evidence: AttestationEvidence {
                tee_type: TeeType::Nvidia,
                kind: EvidenceKind::GpuLocal,
                device_model: "H100".into(),
                measurement: [1; 32],
                cc_enabled: true,
                tee_io: true,
                rim_verified: true,
                benchmark_ok: true,
                driver_ok: true,
                issued_at_ms: 0,
                expires_at_ms: u64::MAX,
                provider_key: addr("bob").0,
                attestor: addr("bob").0,
            },
            signature: [7; 64],
        };
        expect_failed(
            &mut c,
            "bob",
            Action::Attest {
                provider: p,
                attestation: att.clone(),
            },
            TxError::Attestation(AttestationError::UntrustedAttestor),
        );
        expect_failed(
            &mut c,
            "mallory",
            Action::Attest {
                provider: p,
                attestation: att,
            },
            TxError::NotProviderOwner,
        );
    }
}

// ---- header errors --------------------------------------------------------------------------

mod r17_header_errors {
    use super::*;
    use aivm_core::apply_verified_block;
    use aivm_core::BlockError;

    fn good(c: &mut Chain) -> Block {
        let tx = c.tx(
            "alice",
            Action::Transfer {
                to: addr("bob"),
                amount: 1,
            },
        );
        c.next_block(vec![tx])
    }

    fn refused(c: &Chain, b: &Block, want: BlockError) {
        let root = c.state.state_root();
        assert_eq!(apply_block(&c.state, b).err(), Some(want));
        assert_eq!(c.state.state_root(), root);
        assert_eq!(c.state.height(), 1);
    }

    fn with(b: &Block, f: impl Fn(&mut aivm_core::Header)) -> Block {
        let mut b = b.clone();
        f(&mut b.header);
        b
    }

    #[test]
    fn a_bad_header_is_an_error_and_changes_nothing() {
        let mut c = chain();
        run(&mut c, vec![]);
        let b = good(&mut c);
        let tip = c.state.tip().clone();
        refused(
            &c,
            &with(&b, |h| h.chain_id = "elsewhere".into()),
            BlockError::WrongChain {
                expected: "aivm-rules".into(),
                got: "elsewhere".into(),
            },
        );
        for height in [0, 1, 3, u64::MAX] {
            refused(
                &c,
                &with(&b, |h| h.height = height),
                BlockError::WrongHeight {
                    expected_prev: 1,
                    got: height,
                },
            );
        }
        refused(
            &c,
            &with(&b, |h| h.parent = [1; 32]),
            BlockError::WrongParent {
                expected: tip.block_id,
                got: [1; 32],
            },
        );
        refused(
            &c,
            &with(&b, |h| h.time_ms = tip.time_ms - 1),
            BlockError::TimeWentBackwards {
                last: tip.time_ms,
                got: tip.time_ms - 1,
            },
        );
        refused(
            &c,
            &with(&b, |h| h.tx_root = [0; 32]),
            BlockError::TxRootMismatch,
        );
        let mut dropped = b.clone();
        dropped.txs.clear();
        refused(&c, &dropped, BlockError::TxRootMismatch);
        let verdicts = vec![];
        assert_eq!(
            apply_verified_block(&c.state, &b, verdicts).err(),
            Some(BlockError::TxCountMismatch {
                expected: 1,
                got: 0
            })
        );
        // The good block still applies, and time may stand still.
        let same_time = with(&b, |h| h.time_ms = tip.time_ms);
        let same_time = Block::new(
            &same_time.header.chain_id,
            same_time.header.height,
            same_time.header.parent,
            same_time.header.time_ms,
            same_time.header.proposer,
            same_time.header.seed,
            same_time.txs,
        );
        let (s, out) = apply_block(&c.state, &same_time).unwrap();
        assert!(out.receipts[0].is_applied());
        assert_eq!(s.height(), 2);
        c.apply(b).unwrap();
        assert_eq!(c.state.height(), 2);
    }

    #[test]
    fn time_near_u64_max_and_the_last_height_never_panic() {
        let mut c = chain();
        let tip = c.state.tip().clone();
        let tx = c.tx("alice", submit_action(TASK_FEE));
        let b = Block::new(
            "aivm-rules",
            1,
            tip.block_id,
            u64::MAX,
            c.proposer,
            [0; 32],
            vec![tx],
        );
        let out = c.apply(b).unwrap().clone();
        assert!(out.receipts[0].is_applied());
        let b = Block::new(
            "aivm-rules",
            2,
            c.state.tip().block_id,
            u64::MAX,
            c.proposer,
            [0; 32],
            vec![],
        );
        c.apply(b).unwrap();
    }
}

// ---- snapshots ------------------------------------------------------------------------------

mod snapshots {
    use super::*;
    use std::fmt::Write;

    /// A compact, reviewable rendering of a chain's history and final state.
    fn render(c: &Chain, names: &[&str], providers: &[ProviderId]) -> String {
        let mut s = String::new();
        for out in &c.outcomes {
            let _ = writeln!(s, "block {}", out.height);
            for r in &out.receipts {
                let _ = writeln!(s, "  tx fee={} {:?}", r.fee, r.status);
                for e in &r.events {
                    if !matches!(e, Event::FeePaid { .. }) {
                        let _ = writeln!(s, "    {e:?}");
                    }
                }
            }
            for e in &out.end_events {
                let _ = writeln!(s, "  end {e:?}");
            }
            if out.results_root != [0; 32] {
                let _ = writeln!(
                    s,
                    "  results_root {}",
                    aivm_core::types::hex(&out.results_root)
                );
            }
            if let Some(a) = &out.anchor {
                let _ = writeln!(s, "  anchor {:?} from {}", a.target, a.from_height);
            }
        }
        let _ = writeln!(s, "stats {:#?}", c.state.stats());
        for p in providers {
            let _ = writeln!(s, "reward_stats {:#?}", c.state.reward_stats(p));
        }
        for n in names {
            let _ = writeln!(s, "balance {n} {}", c.state.balance(&addr(n)));
        }
        let _ = writeln!(s, "proposer {}", c.state.balance(&c.proposer));
        let _ = writeln!(s, "holdings {:#?}", c.state.holdings());
        s
    }

    #[test]
    fn snapshot_optimistic_happy_path() {
        let mut c = chain_with(Config {
            challenge_window_blocks: 3,
            tee_challenge_window_blocks: 1,
            merkle_anchor_freq: 6,
            ..quick_config()
        });
        let p = register(&mut c, "bob", 2 * E18);
        let t = submit(&mut c, "alice", TASK_FEE);
        run(&mut c, vec![]);
        ok(&mut c, "bob", result_action(t, p, 9));
        c.advance(3).unwrap();
        ok(&mut c, "bob", Action::ClaimRewards { provider: p });
        insta::assert_snapshot!(render(&c, &["alice", "bob"], &[p]));
    }

    #[test]
    fn snapshot_missed_deadlines_slash_requeue_and_refund() {
        let mut c = chain_with(Config {
            max_requeues: 1,
            result_deadline_blocks: 2,
            ..quick_config()
        });
        let p = register(&mut c, "bob", 2 * E18);
        // The re-queued task goes to carol: bob, who missed it, is not drawn again.
        let q = register(&mut c, "carol", 2 * E18);
        submit(&mut c, "alice", TASK_FEE);
        c.advance(7).unwrap();
        insta::assert_snapshot!(render(&c, &["alice", "bob", "carol"], &[p, q]));
    }

    #[test]
    fn snapshot_a_block_of_bad_input() {
        let (mut c, p, t) = posted_task();
        let start = c.outcomes.len();
        let stale = signed_by(&c, "carol", 7, submit_action(TASK_FEE));
        let txs = vec![
            c.tx(
                "alice",
                Action::Transfer {
                    to: addr("bob"),
                    amount: u128::MAX,
                },
            ),
            stale,
            c.tx("mallory", Action::ClaimRewards { provider: p }),
            c.tx("mallory", Action::Unbond { provider: p }),
            c.tx("bob", result_action(t, p, 1)),
            c.tx("dave", submit_action(0)),
            c.tx(
                "nobody",
                Action::Transfer {
                    to: addr("bob"),
                    amount: 1,
                },
            ),
            c.tx(
                "mallory",
                Action::Challenge {
                    task: TaskId([1; 32]),
                    claim: [0; 32],
                },
            ),
        ];
        run(&mut c, txs);
        let mut tail = Chain::new(c.genesis.clone()).unwrap();
        tail.outcomes = c.outcomes[start..].to_vec();
        tail.state = c.state.clone();
        insta::assert_snapshot!(render(&tail, &["alice", "bob", "mallory"], &[p]));
    }
}
