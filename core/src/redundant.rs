//! M-of-N redundant verification: N providers of distinct owners run the task,
//! commit to their output hash, then reveal it; a hash revealed by at least M
//! of them is the result.
//!
//! # Flow
//! ```text
//!  drawn (a)           commit_end            reveal_end          window_end
//!    |--- commit (Cc) ---|---- reveal (Cr) ----|-- escalation (W) --|  settle
//!      H(task,provider,      open commitments     only when someone
//!        out,salt)                                 revealed another hash
//! ```
//! * Draw: at block end, N providers of distinct owners (domain
//!   `"aivm v1 committee"`, weighted by bond) among those eligible to lock
//!   `max(divergence_slash, withhold_slash)`, which each locks for the task so
//!   that any slash is covered. Too few eligible: the task stays queued (its
//!   timeout refunds it).
//! * Commit, then reveal. A commitment is bound to its provider
//!   ([`crate::dispute::output_commitment`]), so a copied commitment cannot be
//!   opened: the copier ends as a withholder. Once all N have committed the
//!   reveal phase starts at the next block; once all N have revealed the task
//!   is decided at this block's end.
//! * Verdict: the most revealed hash (ties to the smallest) if it has at least
//!   M votes. No such hash: the task fails and is refunded; withholders pay
//!   `withhold_slash`, divergent revealers pay nothing (the work may not be
//!   deterministic).
//! * Settlement of a verdict H: the fee minus the protocol share is split
//!   equally among the members that revealed H (remainder to the treasury),
//!   each of them earns the mining reward of one task (each ran it); divergent
//!   revealers pay `divergence_slash`, withholders `withhold_slash`;
//!   `majority_share_bps` of those slashes goes to the majority, the rest is
//!   burned.
//!
//! # Collusive majority
//! A unanimous verdict settles at once. Otherwise the verdict waits
//! `challenge_window_blocks` as a posted result (status ResultPosted) and the
//! divergent slashes are not taken yet. Anyone but the owner of a member that
//! voted for it may `Challenge` it (a member of the minority is the natural
//! challenger); referees are drawn excluding every committee owner. If the
//! referees back the verdict, the challenger's bond goes to the majority and
//! the referees and the verdict settles as above. If they back another hash R,
//! every member that did not reveal R is slashed (divergence or withholding),
//! those that revealed R are not, the task fails and is refunded, and
//! `winner_share_bps` of the slashes is split among the members that revealed
//! R and the challenger if its claim was R. No referee majority: the task
//! fails and is refunded, only withholders are slashed. An honest minority
//! therefore never loses its bond merely for being outvoted.

use crate::apply::{Ctx, EndCtx};
use crate::assignment::{weighted_draw, Candidate};
use crate::block::Header;
use crate::dispute::{
    all_revealed, commit_seat, new_members, owner_of, penalize, plurality, release, reveal_seat,
    seat, share_out, Share,
};
use crate::events::{Event, FailReason, SlashReason};
use crate::optimistic::mul_bps;
use crate::outcome::TxError;
use crate::state::State;
use crate::tasks::{PostedResult, Task, TaskStatus, TaskTerms};
use crate::types::{Address, Amount, Hash, ProviderId};

/// Stake each member locks for the task: enough for either slash.
pub fn member_lock(t: &TaskTerms) -> Amount {
    t.divergence_slash.max(t.withhold_slash)
}

fn wrong_phase(phase: &str) -> TxError {
    TxError::WrongPhase {
        phase: phase.to_string(),
    }
}

/// Draws the committee of a pending M-of-N task, or leaves it queued.
pub(crate) fn assign(state: &mut State, mut task: Task, header: &Header, events: &mut Vec<Event>) {
    let lock = member_lock(&task.terms);
    let candidates: Vec<Candidate> = state
        .providers
        .values()
        .filter(|p| state.is_eligible(p, &task.model, lock, header.time_ms))
        .map(|p| Candidate {
            id: p.id,
            owner: p.owner,
            weight: state.draw_weight(p),
        })
        .collect();
    let n = task.terms.n;
    let drawn = weighted_draw("aivm v1 committee", candidates, &header.seed, &task.id, n);
    if (drawn.len() as u64) < u64::from(n) {
        return;
    }
    state.dequeue(&mut task);
    for pid in &drawn {
        if let Some(mut p) = state.providers.get(pid).cloned() {
            p.open_tasks = p.open_tasks.saturating_add(1);
            p.locked = p.locked.saturating_add(lock).min(p.bond);
            state.providers.insert(*pid, p);
        }
    }
    task.committee = new_members(&drawn);
    task.commit_end = header.height.saturating_add(task.terms.commit_phase_blocks);
    task.reveal_end = task
        .commit_end
        .saturating_add(task.terms.reveal_phase_blocks);
    task.status = TaskStatus::Committing;
    let commit_end = task.commit_end;
    state.set_timer(&mut task, Some(commit_end));
    events.push(Event::CommitteeDrawn {
        task: task.id,
        providers: drawn,
        commit_end,
        reveal_end: task.reveal_end,
    });
    state.put_task(task);
}

pub(crate) fn commit(
    ctx: &mut Ctx,
    mut task: Task,
    provider: ProviderId,
    c: Hash,
) -> Result<(), TxError> {
    let committing = task.status == TaskStatus::Committing;
    let m = seat(&mut task.committee, &provider)?;
    if !committing {
        return Err(wrong_phase("commit"));
    }
    commit_seat(m, c)?;
    ctx.events.push(Event::OutputCommitted {
        task: task.id,
        provider,
    });
    if task.committee.iter().all(|m| m.commitment.is_some()) {
        // Nobody is left to copy from a reveal: open the reveal phase next block.
        let h = ctx.header.height;
        task.commit_end = h;
        task.reveal_end = h.saturating_add(task.terms.reveal_phase_blocks);
        ctx.state.set_timer(&mut task, Some(h));
    }
    ctx.state.put_task(task);
    Ok(())
}

pub(crate) fn reveal(
    ctx: &mut Ctx,
    mut task: Task,
    provider: ProviderId,
    out: Hash,
    salt: Hash,
) -> Result<(), TxError> {
    let revealing = task.status == TaskStatus::Revealing;
    let id = task.id;
    let m = seat(&mut task.committee, &provider)?;
    if !revealing {
        return Err(wrong_phase("reveal"));
    }
    reveal_seat(&id, m, out, salt)?;
    ctx.events.push(Event::OutputRevealed {
        task: id,
        provider,
        output_hash: out,
    });
    if all_revealed(&task.committee) {
        let h = ctx.header.height;
        ctx.state.set_timer(&mut task, Some(h));
    }
    ctx.state.put_task(task);
    Ok(())
}

pub(crate) fn on_timer(end: &mut EndCtx, mut task: Task) {
    match task.status {
        TaskStatus::Committing => {
            task.status = TaskStatus::Revealing;
            let reveal_end = task.reveal_end;
            end.state.set_timer(&mut task, Some(reveal_end));
            end.state.put_task(task);
        }
        TaskStatus::Revealing => conclude(end, task),
        TaskStatus::ResultPosted => {
            if let Some(h) = task.result.as_ref().map(|r| r.output_hash) {
                close(end, task, Close::Accept(h));
            }
        }
        _ => {}
    }
}

/// The reveal phase is over: settle, open the escalation window, or fail.
fn conclude(end: &mut EndCtx, mut task: Task) {
    let Some((hash, _)) = plurality(&task.committee).filter(|(_, votes)| *votes >= task.terms.m)
    else {
        close(end, task, Close::NoAgreement);
        return;
    };
    let contested = task
        .committee
        .iter()
        .any(|m| m.revealed.is_some_and(|r| r != hash));
    let window = task.terms.challenge_window_blocks;
    let first = task
        .committee
        .iter()
        .find(|m| m.revealed == Some(hash))
        .map(|m| m.provider);
    let Some(provider) = first.filter(|_| contested && window > 0) else {
        close(end, task, Close::Accept(hash));
        return;
    };
    let h = end.header.height;
    let window_end = h.saturating_add(window);
    task.result = Some(PostedResult {
        provider,
        output_hash: hash,
        inline_output: Vec::new().into(),
        compute_time_ms: 0,
        posted_height: h,
        window_end,
        collateral: 0,
    });
    task.status = TaskStatus::ResultPosted;
    end.state.set_timer(&mut task, Some(window_end));
    end.events.push(Event::ResultPosted {
        task: task.id,
        provider,
        output_hash: hash,
        window_end,
        collateral: 0,
    });
    end.state.put_task(task);
}

/// How an M-of-N task ends.
pub(crate) enum Close<'a> {
    /// The verdict stands (unanimous, unchallenged, or upheld by referees).
    Accept(Hash),
    /// Referees backed `truth` against the verdict.
    Overturn {
        truth: Hash,
        /// The challenger, when the claim it opened was `truth`.
        claimant: Option<Address>,
        /// Owners of the majority referees.
        referees: &'a [Address],
    },
    /// No hash reached M, or referees could not agree.
    NoAgreement,
}

/// Releases every member's stake, slashes those on the wrong side of `truth`
/// (withholders always; divergent revealers only when there is a truth) and
/// returns the slashed total and the members that revealed `truth`.
fn settle_members(end: &mut EndCtx, task: &Task, truth: Option<Hash>) -> (Amount, Vec<ProviderId>) {
    let t = &task.terms;
    let lock = member_lock(t);
    let mut pool: Amount = 0;
    let mut right = Vec::new();
    for m in &task.committee {
        release(end.state, &m.provider, lock, &mut end.events);
        if let Some(mut p) = end.state.providers.get(&m.provider).cloned() {
            p.open_tasks = p.open_tasks.saturating_sub(1);
            if m.revealed.is_none() {
                p.stats.tasks_missed = p.stats.tasks_missed.saturating_add(1);
            }
            end.state.providers.insert(m.provider, p);
        }
        let slash = match (m.revealed, truth) {
            (None, _) => Some((t.withhold_slash, SlashReason::WithheldReveal)),
            (Some(r), Some(v)) if r == v => {
                right.push(m.provider);
                None
            }
            (Some(_), Some(_)) => Some((t.divergence_slash, SlashReason::DivergentOutput)),
            (Some(_), None) => None,
        };
        if let Some((amount, reason)) = slash {
            let taken = penalize(end.state, &mut end.events, &m.provider, amount, reason);
            pool = pool.saturating_add(taken);
        }
    }
    (pool, right)
}

fn owners(state: &State, ids: &[ProviderId]) -> Vec<Address> {
    let mut out: Vec<Address> = ids.iter().filter_map(|p| owner_of(state, p)).collect();
    out.sort();
    out.dedup();
    out
}

/// Ends an M-of-N task: every stake is released and every slash taken here.
pub(crate) fn close(end: &mut EndCtx, task: Task, how: Close) {
    let t = task.terms.clone();
    match how {
        Close::Accept(hash) => {
            let (pool, right) = settle_members(end, &task, Some(hash));
            let majority = owners(end.state, &right);
            share_out(
                end.state,
                &mut end.events,
                pool,
                &[Share {
                    bps: t.majority_share_bps,
                    to: &majority,
                }],
            );
            finalize(end, task, hash, &right);
        }
        Close::Overturn {
            truth,
            claimant,
            referees,
        } => {
            let (pool, right) = settle_members(end, &task, Some(truth));
            let mut winners = owners(end.state, &right);
            winners.extend(claimant);
            winners.sort();
            winners.dedup();
            crate::dispute::pay_out_disproven(end, task, pool, &winners, referees);
        }
        Close::NoAgreement => {
            let (pool, _) = settle_members(end, &task, None);
            end.state.burn(pool, &mut end.events);
            end.state
                .fail_and_refund(task, FailReason::NoAgreement, &mut end.events);
        }
    }
}

/// Pays the members that revealed `hash`: equal parts of the fee after the
/// protocol share (the remainder to the treasury) and one task's reward each.
fn finalize(end: &mut EndCtx, mut task: Task, hash: Hash, right: &[ProviderId]) {
    let fee = std::mem::take(&mut task.fee);
    let protocol = mul_bps(fee, task.terms.protocol_share_bps);
    let each = (fee - protocol)
        .checked_div(right.len() as Amount)
        .unwrap_or(0);
    let mut paid: Amount = 0;
    let mut paid_events = Vec::new();
    for pid in right {
        let Some(mut p) = end.state.providers.get(pid).cloned() else {
            continue;
        };
        let credited = if end.state.credit(&p.owner, each).is_ok() {
            each
        } else {
            0
        };
        paid = paid.saturating_add(credited);
        paid_events.push(Event::ProviderPaid {
            task: task.id,
            provider: *pid,
            amount: credited,
        });
        p.stats.tasks_completed = p.stats.tasks_completed.saturating_add(1);
        if task.submitter != p.owner {
            crate::tee::record_success(&mut p, &mut paid_events);
        }
        let cap = protocol.checked_div(right.len() as Amount).unwrap_or(0);
        let reward = crate::mining::reward_for(end.state, &p, 0, cap);
        end.state.providers.insert(*pid, p);
        crate::mining::credit_reward(end, *pid, reward);
    }
    let to_treasury = fee.saturating_sub(paid);
    end.state.globals.treasury = end.state.globals.treasury.saturating_add(to_treasury);
    end.events.push(Event::TaskFinalized {
        task: task.id,
        output_hash: hash,
        paid,
        protocol_share: to_treasury,
    });
    end.events.extend(paid_events);
    task.status = TaskStatus::Completed;
    task.final_output = Some(hash);
    task.finalized_height = Some(end.header.height);
    end.state.set_timer(&mut task, None);
    end.state.globals.tasks_completed = end.state.globals.tasks_completed.saturating_add(1);
    end.results.push((task.id, hash));
    end.state.put_task(task);
}
