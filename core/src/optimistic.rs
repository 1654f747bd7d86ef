//! Optimistic verification: a result is posted with collateral, anyone may
//! challenge it during the window, and an uncontested result finalises.

use crate::apply::{Ctx, EndCtx};
use crate::config::VerificationMode;
use crate::events::{Event, FailReason, SlashReason};
use crate::outcome::TxError;
use crate::tasks::{ChallengeInfo, PostedResult, Task, TaskStatus};
use crate::types::{Amount, Hash, ProviderId, TaskId};

/// `amount * bps / 10_000` without overflow, rounding down.
pub fn mul_bps(amount: Amount, bps: u32) -> Amount {
    let bps = Amount::from(bps.min(10_000));
    (amount / 10_000) * bps + (amount % 10_000) * bps / 10_000
}

fn wrong_status(task: &Task) -> TxError {
    TxError::WrongTaskStatus {
        status: task.status.name().to_string(),
    }
}

pub(crate) struct ResultPost {
    pub task: TaskId,
    pub provider: ProviderId,
    pub output_hash: Hash,
    pub inline_output: Vec<u8>,
    pub compute_time_ms: u64,
}

pub(crate) fn submit_result(ctx: &mut Ctx, r: ResultPost) -> Result<(), TxError> {
    let mut task = ctx
        .state
        .tasks
        .get(&r.task)
        .cloned()
        .ok_or(TxError::UnknownTask)?;
    let mut p = ctx.state.owned_provider(&r.provider, &ctx.signer)?;
    if task.provider != Some(r.provider) {
        return Err(TxError::NotAssigned);
    }
    if task.result.is_some() {
        return Err(TxError::AlreadyPosted);
    }
    if task.status != TaskStatus::Assigned {
        return Err(wrong_status(&task));
    }
    let deadline = task.deadline.unwrap_or(0);
    if ctx.header.height > deadline {
        return Err(TxError::DeadlinePassed { deadline });
    }
    let max_out = ctx.state.config.max_inline_output;
    if r.inline_output.len() > max_out as usize {
        return Err(TxError::PayloadTooLarge {
            len: r.inline_output.len() as u64,
            max: max_out,
        });
    }
    let collateral = task.terms.collateral;
    if p.available_bond() < collateral {
        return Err(TxError::BondBelowMinimum {
            bond: p.available_bond(),
            min: collateral,
        });
    }
    p.locked += collateral;
    let window = window_for(ctx, &task, &p);
    let window_end = ctx.header.height.saturating_add(window);
    ctx.events.push(Event::ResultPosted {
        task: task.id,
        provider: r.provider,
        output_hash: r.output_hash,
        window_end,
        collateral,
    });
    task.result = Some(PostedResult {
        provider: r.provider,
        output_hash: r.output_hash,
        inline_output: r.inline_output.into(),
        compute_time_ms: r.compute_time_ms,
        posted_height: ctx.header.height,
        window_end,
        collateral,
    });
    task.status = TaskStatus::ResultPosted;
    ctx.state.set_timer(&mut task, Some(window_end));
    ctx.state.providers.insert(r.provider, p);
    ctx.state.put_task(task);
    Ok(())
}

/// The challenge window: shortened for a trusted TEE provider in TEE mode,
/// unless its measurement has been revoked.
fn window_for(ctx: &Ctx, task: &Task, p: &crate::providers::Provider) -> u64 {
    let t = &task.terms;
    if t.mode == VerificationMode::TeeAttested
        && crate::tee::qualifies_for_shortcut(ctx.state, p, task, ctx.header.time_ms)
    {
        t.tee_challenge_window_blocks.min(t.challenge_window_blocks)
    } else {
        t.challenge_window_blocks
    }
}

pub(crate) fn challenge(ctx: &mut Ctx, id: TaskId, claim: Hash) -> Result<(), TxError> {
    let mut task = ctx
        .state
        .tasks
        .get(&id)
        .cloned()
        .ok_or(TxError::UnknownTask)?;
    let Some(result) = task.result.clone() else {
        return Err(wrong_status(&task));
    };
    let in_window =
        task.status == TaskStatus::ResultPosted && ctx.header.height <= result.window_end;
    // A finalised TEE-shortcut result stays open to a late fraud proof until its horizon.
    let late_proof = crate::tee::late_proof_open(&task, ctx.header.height);
    if !in_window && !late_proof {
        if task.status != TaskStatus::ResultPosted && !task.status.is_final() {
            return Err(wrong_status(&task));
        }
        return Err(TxError::WindowClosed {
            closed_at: result.window_end,
        });
    }
    let owner = ctx.state.providers.get(&result.provider).map(|p| p.owner);
    if owner == Some(ctx.signer) {
        return Err(TxError::OwnResult);
    }
    let bond = task.terms.challenge_bond.max(result.collateral);
    ctx.state.debit(&ctx.signer.clone(), bond)?;
    ctx.events.push(Event::TaskChallenged {
        task: id,
        challenger: ctx.signer,
        bond,
    });
    task.challenge = Some(ChallengeInfo {
        challenger: ctx.signer,
        bond,
        opened_height: ctx.header.height,
        claim,
        revealed_claim: None,
    });
    crate::dispute::open(ctx, task)
}

/// Block-end handling of a task whose timer fired.
pub(crate) fn on_timer(end: &mut EndCtx, task: Task) {
    match task.status {
        TaskStatus::Assigned => deadline_missed(end, task),
        TaskStatus::ResultPosted => finalize(end, task),
        TaskStatus::Completed => crate::tee::release_after_horizon(end, task),
        _ => {}
    }
}

fn deadline_missed(end: &mut EndCtx, mut task: Task) {
    let Some(pid) = task.provider.take() else {
        return;
    };
    let slash = mul_bps(task.terms.collateral, task.terms.miss_slash_bps);
    let taken = end.state.slash_provider(&pid, slash, 0);
    end.events.push(Event::DeadlineMissed {
        task: task.id,
        provider: pid,
    });
    end.events.push(Event::Slashed {
        provider: pid,
        amount: taken,
        reason: SlashReason::MissedDeadline,
    });
    if let Some(mut p) = end.state.providers.get(&pid).cloned() {
        p.open_tasks = p.open_tasks.saturating_sub(1);
        p.stats.tasks_missed += 1;
        crate::tee::record_fault(&mut p, &mut end.events);
        end.state.providers.insert(pid, p);
    }
    end.state.burn(taken, &mut end.events);
    task.deadline = None;
    if let Err(at) = task.missed_by.binary_search(&pid) {
        task.missed_by.insert(at, pid);
    }
    if task.requeues < task.terms.max_requeues {
        task.requeues += 1;
        task.status = TaskStatus::Pending;
        end.state.set_timer(&mut task, None);
        end.state.enqueue(&mut task);
        end.events.push(Event::TaskRequeued { task: task.id });
        end.state.put_task(task);
    } else {
        end.state
            .fail_and_refund(task, FailReason::DeadlinesMissed, &mut end.events);
    }
}

/// Pays an uncontested (or vindicated) result: fee to the provider's owner
/// minus the protocol share, a minted reward, and the collateral back (or kept
/// until the post-finality horizon for a TEE shortcut).
pub(crate) fn finalize(end: &mut EndCtx, mut task: Task) {
    let Some(result) = task.result.clone() else {
        return;
    };
    let pid = result.provider;
    let Some(mut p) = end.state.providers.get(&pid).cloned() else {
        return;
    };
    let share = mul_bps(task.fee, task.terms.protocol_share_bps);
    let paid = task.fee - share;
    task.fee = 0;
    end.state.globals.treasury = end.state.globals.treasury.saturating_add(share);
    let _ = end.state.credit(&p.owner, paid);
    p.open_tasks = p.open_tasks.saturating_sub(1);
    p.stats.tasks_completed += 1;
    p.stats.total_latency_ms = p
        .stats
        .total_latency_ms
        .saturating_add(result.compute_time_ms);
    let shortened = crate::tee::window_shortened(&task);
    let horizon = end
        .header
        .height
        .saturating_add(task.terms.post_finality_horizon_blocks);
    let keep_locked = shortened && horizon > end.header.height;
    if !keep_locked {
        p.locked = p.locked.saturating_sub(result.collateral);
        end.events.push(Event::CollateralReleased {
            provider: pid,
            amount: result.collateral,
        });
    }
    // Announced after the payment it follows from.
    let mut trust_events = Vec::new();
    if task.submitter != p.owner {
        crate::tee::record_success(&mut p, &mut trust_events);
    }
    let reward = crate::mining::reward_for(end.state, &p, result.compute_time_ms, share);
    end.state.providers.insert(pid, p);
    crate::mining::credit_reward(end, pid, reward);
    end.events.push(Event::TaskFinalized {
        task: task.id,
        output_hash: result.output_hash,
        paid,
        protocol_share: share,
    });
    end.events.push(Event::ProviderPaid {
        task: task.id,
        provider: pid,
        amount: paid,
    });
    end.events.extend(trust_events);
    task.status = TaskStatus::Completed;
    task.final_output = Some(result.output_hash);
    task.finalized_height = Some(end.header.height);
    end.state
        .set_timer(&mut task, if keep_locked { Some(horizon) } else { None });
    end.state.globals.tasks_completed += 1;
    end.results.push((task.id, result.output_hash));
    end.state.put_task(task);
}
