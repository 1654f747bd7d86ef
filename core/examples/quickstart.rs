//! The crate in two minutes: a client pays for an inference task, a bonded
//! provider posts the result, the challenge window closes, the provider is paid
//! and claims its mining reward. Run: `cargo run -p aivm-core --example quickstart`.

use aivm_core::chain::Chain;
use aivm_core::tasks::TaskStatus;
use aivm_core::tx::GpuInfo;
use aivm_core::types::TaskType;
use aivm_core::{Action, Event, Genesis, TaskId};

const E18: u128 = 1_000_000_000_000_000_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Genesis: default config (optimistic mode, 100-block challenge window), two funded actors.
    let genesis = Genesis::new(
        "quickstart",
        vec![
            (Chain::addr("client"), 10 * E18),
            (Chain::addr("gpu-farm"), 10 * E18),
        ],
    );
    let mut chain = Chain::new(genesis)?;

    // Block 1: the provider bonds 2 E18; the client submits a task with a 5e6 fee.
    let register = chain.tx(
        "gpu-farm",
        Action::RegisterProvider {
            endpoint: "https://gpu-farm.example".into(),
            gpus: vec![GpuInfo {
                model: "NVIDIA H100".into(),
                memory_gb: 80,
                count: 8,
            }],
            models: vec!["qwen3-8b".into()],
            bond: 2 * E18,
            attestation: None,
        },
    );
    let submit = chain.tx(
        "client",
        Action::SubmitTask {
            model: "qwen3-8b".into(),
            task_type: TaskType::Inference,
            input_hash: *blake3::hash(b"What is 2+2?").as_bytes(),
            inline_input: b"What is 2+2?".to_vec(),
            fee: 5_000_000,
            redundancy: None,
        },
    );
    chain.block(vec![register, submit])?;
    let task = TaskId::derive(&Chain::addr("client"), 0);

    // Block 2: block-end assignment draws a provider from the header seed, weighted by bond.
    let out = chain.block(vec![])?;
    let provider = out
        .end_events
        .iter()
        .find_map(|e| match e {
            Event::TaskAssigned { provider, .. } => Some(*provider),
            _ => None,
        })
        .ok_or("task was not assigned")?;
    println!("block 2: task assigned to provider {provider}");

    // Block 3: the provider posts its result; collateral is locked for the window.
    let result = chain.tx(
        "gpu-farm",
        Action::SubmitResult {
            task,
            provider,
            output_hash: *blake3::hash(b"4").as_bytes(),
            inline_output: b"4".to_vec(),
            compute_time_ms: 42,
        },
    );
    chain.block(vec![result])?;

    // 100 quiet blocks: nobody challenges, the result finalises.
    chain.advance(100)?;
    assert_eq!(
        chain.state.task(&task).map(|t| t.status),
        Some(TaskStatus::Completed)
    );

    let claim = chain.tx("gpu-farm", Action::ClaimRewards { provider });
    chain.block(vec![claim])?;

    let stats = chain.state.stats();
    println!(
        "height {}: {} task(s) completed, {} minted, state root {}",
        chain.state.height(),
        stats.tasks_completed,
        stats.total_minted,
        aivm_core::types::hex(&chain.state.state_root())
    );
    chain.state.check_invariants()?;
    Ok(())
}
