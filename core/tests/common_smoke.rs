use aivm_core::chain::Chain;
use aivm_core::tx::GpuInfo;
use aivm_core::types::TaskType;
use aivm_core::{Action, Event, Genesis, TxStatus};

const E18: u128 = 1_000_000_000_000_000_000;

#[test]
fn optimistic_happy_path_end_to_end() {
    let g = Genesis::new(
        "aivm-test",
        vec![(Chain::addr("alice"), 10 * E18), (Chain::addr("bob"), 10 * E18)],
    );
    let mut c = Chain::new(g).unwrap();
    let reg = c.tx(
        "bob",
        Action::RegisterProvider {
            endpoint: "https://bob.example".into(),
            gpus: vec![GpuInfo { model: "NVIDIA H100".into(), memory_gb: 80, count: 1 }],
            models: vec!["qwen3-8b".into()],
            bond: 2 * E18,
            attestation: None,
        },
    );
    let sub = c.tx(
        "alice",
        Action::SubmitTask {
            model: "qwen3-8b".into(),
            task_type: TaskType::Inference,
            input_hash: [7; 32],
            inline_input: b"hello".to_vec(),
            fee: 5_000_000,
            redundancy: None,
        },
    );
    let out = c.block(vec![reg, sub]).unwrap();
    assert!(out.receipts.iter().all(|r| r.is_applied()), "{:#?}", out.receipts);
    let task_id = aivm_core::TaskId::derive(&Chain::addr("alice"), 0);
    let out = c.block(vec![]).unwrap();
    let assigned = out.end_events.iter().find_map(|e| match e {
        Event::TaskAssigned { provider, .. } => Some(*provider),
        _ => None,
    });
    let pid = assigned.expect("assigned in the block after submission");
    let res = c.tx(
        "bob",
        Action::SubmitResult {
            task: task_id,
            provider: pid,
            output_hash: [9; 32],
            inline_output: vec![],
            compute_time_ms: 50,
        },
    );
    let out = c.block(vec![res]).unwrap();
    assert_eq!(out.receipts[0].status, TxStatus::Applied);
    c.advance(100).unwrap();
    let t = c.state.task(&task_id).unwrap();
    assert_eq!(t.status, aivm_core::tasks::TaskStatus::Completed);
    let claim = c.tx("bob", Action::ClaimRewards { provider: pid });
    let out = c.block(vec![claim]).unwrap();
    assert!(out.receipts[0].is_applied(), "{:?}", out.receipts[0]);
    assert_eq!(c.state.reference_state_root(), c.state.state_root());
    c.state.check_invariants().unwrap();
}
