//! Tasks: admission with an escrowed fee into a bounded queue, the terms
//! snapshotted at admission, timeouts and refunds.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::apply::Ctx;
use crate::config::{Config, VerificationMode};
use crate::events::{Event, FailReason};
use crate::outcome::TxError;
use crate::state::State;
use crate::tx::Redundancy;
use crate::types::{Address, Amount, Hash, ModelId, ProviderId, TaskId, TaskType};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaskStatus {
    /// Waiting in the queue for an eligible provider.
    Pending,
    /// A provider must post a result by `deadline`.
    Assigned,
    /// Optimistic result posted; challengeable until the window ends.
    ResultPosted,
    /// A challenge is being decided by a referee committee.
    Disputed,
    /// M-of-N: providers commit to output hashes.
    Committing,
    /// M-of-N: providers reveal.
    Revealing,
    Completed,
    Failed,
}

impl TaskStatus {
    pub fn name(&self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Assigned => "assigned",
            TaskStatus::ResultPosted => "result_posted",
            TaskStatus::Disputed => "disputed",
            TaskStatus::Committing => "committing",
            TaskStatus::Revealing => "revealing",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Failed)
    }
}

/// Parameters fixed when the task is admitted, so later config changes never touch it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTerms {
    pub mode: VerificationMode,
    pub challenge_window_blocks: u64,
    pub tee_challenge_window_blocks: u64,
    pub post_finality_horizon_blocks: u64,
    pub result_deadline_blocks: u64,
    pub timeout_ms: u64,
    pub collateral: Amount,
    pub challenge_bond: Amount,
    pub miss_slash_bps: u32,
    pub protocol_share_bps: u32,
    pub max_requeues: u32,
    /// M-of-N sizes (N providers, M matching reveals); 1-of-1 outside that mode.
    pub n: u32,
    pub m: u32,
    pub commit_phase_blocks: u64,
    pub reveal_phase_blocks: u64,
    /// Dispute parameters (referee panel K, its phases, shares and slash).
    pub referee_count: u32,
    pub referee_commit_blocks: u64,
    pub referee_reveal_blocks: u64,
    pub winner_share_bps: u32,
    pub referee_reward_share_bps: u32,
    pub referee_slash: Amount,
    /// M-of-N slashes and the majority's share of them.
    pub divergence_slash: Amount,
    pub withhold_slash: Amount,
    pub majority_share_bps: u32,
}

impl TaskTerms {
    pub fn from_config(cfg: &Config, redundancy: Option<Redundancy>) -> Self {
        let (n, m) = match (cfg.verification_mode, redundancy) {
            (VerificationMode::MultiPartyRedundant, Some(r)) => (r.n, r.m),
            (VerificationMode::MultiPartyRedundant, None) => {
                (cfg.redundancy_n, cfg.redundancy_factor)
            }
            _ => (1, 1),
        };
        TaskTerms {
            mode: cfg.verification_mode,
            challenge_window_blocks: cfg.challenge_window_blocks,
            tee_challenge_window_blocks: cfg.tee_challenge_window_blocks,
            post_finality_horizon_blocks: cfg.post_finality_horizon_blocks,
            result_deadline_blocks: cfg.result_deadline_blocks,
            timeout_ms: cfg.task_timeout_ms,
            collateral: cfg.task_collateral,
            challenge_bond: cfg.challenge_bond,
            miss_slash_bps: cfg.miss_slash_bps,
            protocol_share_bps: cfg.protocol_share_bps,
            max_requeues: cfg.max_requeues,
            n,
            m,
            commit_phase_blocks: cfg.commit_phase_blocks,
            reveal_phase_blocks: cfg.reveal_phase_blocks,
            referee_count: cfg.referee_count,
            referee_commit_blocks: cfg.referee_commit_blocks,
            referee_reveal_blocks: cfg.referee_reveal_blocks,
            winner_share_bps: cfg.winner_share_bps,
            referee_reward_share_bps: cfg.referee_reward_share_bps,
            referee_slash: cfg.referee_slash,
            divergence_slash: cfg.divergence_slash,
            withhold_slash: cfg.withhold_slash,
            majority_share_bps: cfg.majority_share_bps,
        }
    }
}

/// A result posted under the optimistic flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostedResult {
    pub provider: ProviderId,
    pub output_hash: Hash,
    /// Shared: copying the task to change its status copies no payload.
    pub inline_output: Arc<[u8]>,
    pub compute_time_ms: u64,
    pub posted_height: u64,
    pub window_end: u64,
    pub collateral: Amount,
}

/// An open challenge against a posted result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeInfo {
    pub challenger: Address,
    pub bond: Amount,
    pub opened_height: u64,
    /// Commitment to the output the challenger claims is right.
    pub claim: Hash,
    pub revealed_claim: Option<Hash>,
}

/// One member of a committee: a referee of a dispute or a provider of an M-of-N task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub provider: ProviderId,
    pub commitment: Option<Hash>,
    pub revealed: Option<Hash>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub submitter: Address,
    /// Shared, like the payloads: a task is copied at every status change.
    pub model: Arc<str>,
    pub task_type: TaskType,
    pub input_hash: Hash,
    /// Shared, like the result's output: see [`PostedResult::inline_output`].
    pub inline_input: Arc<[u8]>,
    /// Escrowed until the task settles.
    pub fee: Amount,
    pub created_height: u64,
    pub created_time_ms: u64,
    pub terms: TaskTerms,
    pub status: TaskStatus,
    /// The provider currently responsible (optimistic and TEE modes).
    pub provider: Option<ProviderId>,
    /// Last height at which the assigned provider may post its result.
    pub deadline: Option<u64>,
    pub result: Option<PostedResult>,
    pub requeues: u32,
    pub challenge: Option<ChallengeInfo>,
    pub committee: Vec<Member>,
    /// End of the commit phase and of the reveal phase (disputes and M-of-N).
    pub commit_end: u64,
    pub reveal_end: u64,
    /// The output hash the chain accepted.
    pub final_output: Option<Hash>,
    pub finalized_height: Option<u64>,
    /// Position in the pending queue while pending.
    pub queue_seq: Option<u64>,
    /// Height at which block-end processing next looks at this task.
    pub timer: Option<u64>,
    /// Referees of the dispute opened on this task, if any (the M-of-N
    /// providers stay in `committee`).
    pub referees: Vec<Member>,
    /// The fee paid at admission; `fee` is the part still escrowed.
    pub fee_paid: Amount,
    /// Providers that let this task's deadline pass, sorted: never drawn for it
    /// again, so a provider that went offline cannot take back the re-queued task.
    pub missed_by: Vec<ProviderId>,
}

impl Task {
    /// Value escrowed in the task other than its fee: the challenge bond while a
    /// challenge is open. Settling a dispute zeroes it.
    pub fn escrowed_bonds(&self) -> Amount {
        self.challenge.as_ref().map_or(0, |c| c.bond)
    }
}

impl State {
    pub fn task(&self, id: &TaskId) -> Option<&Task> {
        self.tasks.get(id)
    }

    pub(crate) fn put_task(&mut self, task: Task) {
        self.tasks.insert(task.id, task);
    }

    /// Returns the escrowed fee to the submitter and marks the task failed.
    pub(crate) fn fail_and_refund(
        &mut self,
        mut task: Task,
        reason: FailReason,
        events: &mut Vec<crate::events::Event>,
    ) {
        self.dequeue(&mut task);
        self.set_timer(&mut task, None);
        let refund = task.fee;
        task.fee = 0;
        task.status = TaskStatus::Failed;
        // Refunds restore an escrow that was debited from this account: cannot overflow
        // while supply is conserved.
        let _ = self.credit(&task.submitter, refund);
        self.globals.tasks_failed += 1;
        // A result disproven after it was paid (a late TEE fraud proof) was
        // counted as completed: it is a failure now, not both.
        if task.finalized_height.is_some() {
            self.globals.tasks_completed = self.globals.tasks_completed.saturating_sub(1);
        }
        events.push(Event::TaskFailed {
            task: task.id,
            reason,
        });
        // The fee of a late-disproven task was already paid out: nothing to refund.
        if refund > 0 {
            events.push(Event::Refunded {
                task: task.id,
                to: task.submitter,
                amount: refund,
            });
        }
        self.put_task(task);
    }
}

fn check_redundancy(cfg: &Config, r: &Option<Redundancy>) -> Result<(), TxError> {
    let Some(r) = r else { return Ok(()) };
    if cfg.verification_mode != VerificationMode::MultiPartyRedundant
        || !cfg.allow_per_task_redundancy
    {
        return Err(TxError::RedundancyNotAllowed);
    }
    if !(3..=256).contains(&r.n) || r.m <= r.n / 2 || r.m > r.n {
        return Err(TxError::BadRedundancy { n: r.n, m: r.m });
    }
    Ok(())
}

pub(crate) struct Submission {
    pub model: ModelId,
    pub task_type: TaskType,
    pub input_hash: Hash,
    pub inline_input: Vec<u8>,
    pub fee: Amount,
    pub redundancy: Option<Redundancy>,
}

pub(crate) fn submit(ctx: &mut Ctx, s: Submission) -> Result<(), TxError> {
    let cfg = ctx.state.config.clone();
    if s.fee < cfg.min_task_fee || s.fee == 0 {
        return Err(TxError::FeeBelowMinimum {
            fee: s.fee,
            min: cfg.min_task_fee.max(1),
        });
    }
    if s.inline_input.len() > cfg.max_inline_input as usize {
        return Err(TxError::PayloadTooLarge {
            len: s.inline_input.len() as u64,
            max: cfg.max_inline_input,
        });
    }
    check_redundancy(&cfg, &s.redundancy)?;
    let model = ctx
        .state
        .models
        .get(&s.model)
        .ok_or_else(|| TxError::UnknownModel(s.model.clone()))?;
    if model.retired {
        return Err(TxError::ModelRetired(s.model));
    }
    if !model.serves(s.task_type) {
        return Err(TxError::TaskTypeNotServed);
    }
    if ctx.state.queue.len() as u64 >= u64::from(cfg.max_task_queue_size) {
        return Err(TxError::QueueFull {
            max: cfg.max_task_queue_size,
        });
    }
    let submitter = ctx.signer;
    ctx.state.debit(&submitter, s.fee)?;
    let id = TaskId::derive(&submitter, ctx.nonce);
    let mut task = Task {
        id,
        submitter,
        model: s.model.as_str().into(),
        task_type: s.task_type,
        input_hash: s.input_hash,
        inline_input: s.inline_input.into(),
        fee: s.fee,
        created_height: ctx.header.height,
        created_time_ms: ctx.header.time_ms,
        terms: TaskTerms::from_config(&cfg, s.redundancy),
        status: TaskStatus::Pending,
        provider: None,
        deadline: None,
        result: None,
        requeues: 0,
        challenge: None,
        committee: Vec::new(),
        commit_end: 0,
        reveal_end: 0,
        final_output: None,
        finalized_height: None,
        queue_seq: None,
        timer: None,
        referees: Vec::new(),
        fee_paid: s.fee,
        missed_by: Vec::new(),
    };
    ctx.state.enqueue(&mut task);
    ctx.events.push(Event::TaskSubmitted {
        task: id,
        submitter,
        model: s.model,
        fee: s.fee,
    });
    ctx.state.put_task(task);
    Ok(())
}

/// Pending tasks older than their TaskTimeout fail with a full refund.
pub(crate) fn expire_pending(state: &mut State, now_ms: u64, events: &mut Vec<Event>) {
    let expired: Vec<TaskId> = state
        .queue
        .values()
        .filter(|id| {
            state
                .tasks
                .get(id)
                .is_some_and(|t| now_ms.saturating_sub(t.created_time_ms) > t.terms.timeout_ms)
        })
        .copied()
        .collect();
    for id in expired {
        if let Some(task) = state.tasks.get(&id).cloned() {
            state.fail_and_refund(task, FailReason::TimedOut, events);
        }
    }
}
