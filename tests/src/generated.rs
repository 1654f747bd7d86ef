//! The larger golden chain: a few hundred blocks built with
//! `aivm_core::chain::Chain` by simple deterministic actors, so the fixtures
//! cover long histories (epochs, anchors, requeues, disputes, unbonding) that
//! hand-written scenarios do not.
//!
//! * `client-0..5` submit a task per block (two every fifth block) over the
//!   three default models;
//! * `prov-0..7` post the right output for what they are assigned, except
//!   `prov-6`, which posts a wrong one for every third task, and `prov-7`,
//!   which never posts (missed deadlines, requeues, refunds);
//! * `watcher` challenges every wrong result with a claim of the right output
//!   and opens it in the reveal phase; drawn referees commit and reveal the
//!   right output;
//! * providers claim rewards every 40 blocks, `prov-1` tops up, `prov-5`
//!   unbonds at block 120 and withdraws as soon as it may, a client transfers;
//! * now and then a tx fails (claiming another's rewards) or is rejected (a
//!   stale nonce).

use std::collections::BTreeMap;

use aivm_core::chain::Chain;
use aivm_core::config::Config;
use aivm_core::dispute::{claim_commitment, output_commitment};
use aivm_core::providers::ProviderStatus;
use aivm_core::tasks::{Task, TaskStatus};
use aivm_core::tx::{key_from_name, GpuInfo};
use aivm_core::types::{Address, Hash, ProviderId, TaskId, TaskType};
use aivm_core::{Action, Block, BlockOutcome, Genesis, SignedTx, TxBody};

pub const NAME: &str = "generated_chain";
pub const BLOCKS: u64 = 260;

const E18: u128 = 1_000_000_000_000_000_000;
const PROVIDERS: usize = 8;
const CLIENTS: usize = 6;
const MODELS: [&str; 3] = ["zen-coder-1.5b", "zen-mini-0.5b", "qwen3-8b"];
const CHEATER: usize = 6;
const LAZY: usize = 7;
const UNBONDER: usize = 5;

fn prov(i: usize) -> String {
    format!("prov-{i}")
}

fn client(i: usize) -> String {
    format!("client-{i}")
}

/// The output a correct provider computes for a task.
fn right_output(task: &TaskId) -> Hash {
    blake3::derive_key("aivm fixture right output", &task.0)
}

fn wrong_output(task: &TaskId) -> Hash {
    blake3::derive_key("aivm fixture wrong output", &task.0)
}

fn salt(task: &TaskId, who: &[u8; 32]) -> Hash {
    let mut h = blake3::Hasher::new_derive_key("aivm fixture salt");
    h.update(&task.0);
    h.update(who);
    *h.finalize().as_bytes()
}

pub fn genesis() -> Genesis {
    let config = Config {
        challenge_window_blocks: 6,
        tee_challenge_window_blocks: 2,
        result_deadline_blocks: 3,
        max_requeues: 1,
        merkle_anchor_freq: 20,
        epoch_duration_ms: 60_000,
        task_timeout_ms: 60_000,
        referee_count: 3,
        referee_commit_blocks: 3,
        referee_reveal_blocks: 3,
        unbond_cooldown_blocks: 20,
        ..Config::default()
    };
    let mut balances: Vec<(Address, u128)> = (0..PROVIDERS)
        .map(|i| (Chain::addr(&prov(i)), 10 * E18))
        .collect();
    balances.extend((0..CLIENTS).map(|i| (Chain::addr(&client(i)), 100 * E18)));
    balances.push((Chain::addr("watcher"), 100 * E18));
    Genesis {
        config,
        ..Genesis::new("aivm-fixture-generated", balances)
    }
}

struct Gen {
    chain: Chain,
    /// Provider id -> index of its owner.
    owners: BTreeMap<ProviderId, usize>,
    /// Tasks `prov-6` answered wrongly so far (every third it was assigned).
    cheats: u64,
}

/// Builds the chain. Deterministic: every choice reads only the chain state.
pub fn build() -> Result<(Genesis, Vec<Block>, Vec<BlockOutcome>), String> {
    let mut g = Gen {
        chain: Chain::new(genesis()).map_err(|e| e.to_string())?,
        owners: BTreeMap::new(),
        cheats: 0,
    };
    let mut first = Vec::new();
    for i in 0..PROVIDERS {
        let reg = Action::RegisterProvider {
            endpoint: format!("https://{}.example", prov(i)),
            gpus: vec![GpuInfo {
                model: "NVIDIA H100".into(),
                memory_gb: 80,
                count: 1,
            }],
            models: MODELS.iter().map(|m| m.to_string()).collect(),
            bond: 2 * E18 + (i as u128) * E18 / 4,
            attestation: None,
        };
        first.push(g.chain.tx(&prov(i), reg));
        g.owners
            .insert(ProviderId::derive(&Chain::addr(&prov(i)), 0), i);
    }
    g.step(first)?;
    while g.chain.state.height() < BLOCKS {
        let txs = g.txs_for_next_block();
        g.step(txs)?;
    }
    let c = g.chain;
    Ok((c.genesis, c.blocks, c.outcomes))
}

impl Gen {
    fn step(&mut self, txs: Vec<SignedTx>) -> Result<(), String> {
        self.chain.block(txs).map(|_| ()).map_err(|e| e.to_string())
    }

    fn owner_name(&self, p: &ProviderId) -> Option<String> {
        self.owners.get(p).map(|i| prov(*i))
    }

    fn txs_for_next_block(&mut self) -> Vec<SignedTx> {
        let h = self.chain.state.height() + 1;
        let tasks: Vec<Task> = self.chain.state.tasks().cloned().collect();
        let mut txs = Vec::new();
        for t in &tasks {
            match t.status {
                TaskStatus::Assigned => self.post_result(t, &mut txs),
                TaskStatus::ResultPosted => self.maybe_challenge(t, h, &mut txs),
                TaskStatus::Disputed => self.dispute_moves(t, h, &mut txs),
                _ => {}
            }
        }
        if h <= BLOCKS - 20 {
            let count = if h.is_multiple_of(5) { 2 } else { 1 };
            for k in 0..count {
                let c = ((h * 2 + k) % CLIENTS as u64) as usize;
                let submit = Action::SubmitTask {
                    model: MODELS[((h + k) % 3) as usize].to_string(),
                    task_type: TaskType::Inference,
                    input_hash: blake3::derive_key(
                        "aivm fixture input",
                        &(h * 2 + k).to_le_bytes(),
                    ),
                    inline_input: format!("prompt {h}.{k}").into_bytes(),
                    fee: 10_000_000 + u128::from(h),
                    redundancy: None,
                };
                txs.push(self.chain.tx(&client(c), submit));
            }
        }
        self.housekeeping(h, &mut txs);
        txs
    }

    fn post_result(&mut self, t: &Task, txs: &mut Vec<SignedTx>) {
        let Some(pid) = t.provider else { return };
        let Some(&i) = self.owners.get(&pid) else {
            return;
        };
        if i == LAZY || t.result.is_some() {
            return;
        }
        let output_hash = if i == CHEATER && self.cheats.is_multiple_of(3) {
            wrong_output(&t.id)
        } else {
            right_output(&t.id)
        };
        if i == CHEATER {
            self.cheats += 1;
        }
        let post = Action::SubmitResult {
            task: t.id,
            provider: pid,
            output_hash,
            inline_output: Vec::new(),
            compute_time_ms: 500 + (t.id.0[0] as u64) * 10,
        };
        txs.push(self.chain.tx(&prov(i), post));
    }

    fn maybe_challenge(&mut self, t: &Task, h: u64, txs: &mut Vec<SignedTx>) {
        let Some(r) = &t.result else { return };
        if r.output_hash == right_output(&t.id) || h > r.window_end || t.challenge.is_some() {
            return;
        }
        let w = Chain::addr("watcher");
        let claim = claim_commitment(&t.id, &w, &right_output(&t.id), &salt(&t.id, &w.0));
        txs.push(
            self.chain
                .tx("watcher", Action::Challenge { task: t.id, claim }),
        );
    }

    fn dispute_moves(&mut self, t: &Task, h: u64, txs: &mut Vec<SignedTx>) {
        let right = right_output(&t.id);
        for m in &t.referees {
            let Some(owner) = self.owner_name(&m.provider) else {
                continue;
            };
            let s = salt(&t.id, &m.provider.0);
            if m.commitment.is_none() && h <= t.commit_end {
                let commitment = output_commitment(&t.id, &m.provider, &right, &s);
                let a = Action::CommitOutput {
                    task: t.id,
                    provider: m.provider,
                    commitment,
                };
                txs.push(self.chain.tx(&owner, a));
            } else if m.commitment.is_some()
                && m.revealed.is_none()
                && h > t.commit_end
                && h <= t.reveal_end
            {
                let a = Action::RevealOutput {
                    task: t.id,
                    provider: m.provider,
                    output_hash: right,
                    salt: s,
                };
                txs.push(self.chain.tx(&owner, a));
            }
        }
        let unopened = t
            .challenge
            .as_ref()
            .is_some_and(|c| c.revealed_claim.is_none());
        if unopened && h > t.commit_end && h <= t.reveal_end {
            let w = Chain::addr("watcher");
            let a = Action::RevealClaim {
                task: t.id,
                output_hash: right,
                salt: salt(&t.id, &w.0),
            };
            txs.push(self.chain.tx("watcher", a));
        }
    }

    fn housekeeping(&mut self, h: u64, txs: &mut Vec<SignedTx>) {
        let providers: Vec<(ProviderId, usize)> =
            self.owners.iter().map(|(p, i)| (*p, *i)).collect();
        if h.is_multiple_of(40) {
            for (pid, i) in &providers {
                let pending = self
                    .chain
                    .state
                    .provider(pid)
                    .map_or(0, |p| p.stats.pending_rewards);
                if pending > 0 {
                    txs.push(
                        self.chain
                            .tx(&prov(*i), Action::ClaimRewards { provider: *pid }),
                    );
                }
            }
        }
        if h == 60 {
            let pid = ProviderId::derive(&Chain::addr(&prov(1)), 0);
            txs.push(self.chain.tx(
                &prov(1),
                Action::TopUpBond {
                    provider: pid,
                    amount: E18,
                },
            ));
        }
        if h % 50 == 25 {
            // Not the owner: charged, refused (Failed).
            let (pid, _) = providers[0];
            txs.push(
                self.chain
                    .tx("watcher", Action::ClaimRewards { provider: pid }),
            );
        }
        if h % 50 == 30 {
            // A replayed nonce: not chargeable (Rejected).
            let body = TxBody {
                chain_id: self.chain.state.chain_id().to_string(),
                nonce: u64::MAX,
                action: Action::Transfer {
                    to: Chain::addr("watcher"),
                    amount: 1,
                },
            };
            txs.push(body.sign(&key_from_name(&client(3))));
        }
        if h == 100 {
            let to = Chain::addr(&client(1));
            txs.push(self.chain.tx(
                &client(0),
                Action::Transfer {
                    to,
                    amount: 3 * E18,
                },
            ));
        }
        let unbonder = ProviderId::derive(&Chain::addr(&prov(UNBONDER)), 0);
        if h == 120 {
            txs.push(
                self.chain
                    .tx(&prov(UNBONDER), Action::Unbond { provider: unbonder }),
            );
        }
        if let Some(p) = self.chain.state.provider(&unbonder) {
            if let ProviderStatus::Unbonding { until_height } = p.status {
                if h >= until_height && p.open_tasks == 0 && p.locked == 0 {
                    txs.push(
                        self.chain
                            .tx(&prov(UNBONDER), Action::WithdrawBond { provider: unbonder }),
                    );
                }
            }
        }
    }
}
