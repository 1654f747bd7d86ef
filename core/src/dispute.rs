//! Disputes: the fraud-proof flow behind optimistic and TEE-attested results,
//! and the escalation of a contested M-of-N verdict.
//!
//! # Flow
//! ```text
//!  posted        challenge (any block of the window, c)      verdict
//!    |-------- window --------|                                 |
//!                             c ---- commit (Kc) ----|--- reveal (Kr) ---|
//!                               referees commit        referees reveal,
//!                               H(task,referee,out,salt)  challenger opens its claim
//! ```
//! A `Challenge` locks the challenger's bond (at least the result's collateral);
//! at the end of the challenge block K referees (`referee_count`) are drawn
//! from that block's seed (domain `"aivm v1 referees"`), weighted by bond,
//! excluding the owner of the result's provider (for an M-of-N
//! verdict: the owner of every committee member), the challenger and every
//! provider of those owners. Each referee locks `referee_slash` of its bond for
//! the dispute. Both phases are measured from the challenge block (referees
//! commit in the `referee_commit_blocks` blocks after it, then reveal in the
//! `referee_reveal_blocks` after those), so a challenge in the window's last
//! block leaves everyone the same time as any other. Drawing at block end keeps
//! the challenge transaction to its task and its signer, as its conflict keys say.
//!
//! A commitment is bound to its referee ([`output_commitment`]) and the
//! challenger's claim to the challenger ([`claim_commitment`]): a copied
//! commitment or claim cannot be opened by the copier.
//!
//! # Verdict (end of the reveal phase, or earlier once every referee and the
//! challenger have revealed)
//! The referee majority is a hash revealed by at least `floor(K/2)+1` referees.
//! * It equals the disputed hash: the challenger's bond is forfeited;
//!   `winner_share_bps` compensates the defender (the provider's owner, or the
//!   M-of-N majority), `referee_reward_share_bps` goes to the majority referees,
//!   the rest is burned. The result then finalises as if unchallenged.
//! * It differs: the provider's collateral is slashed (for an M-of-N verdict,
//!   every member that did not reveal the referees' hash pays its divergence or
//!   withholding slash), `winner_share_bps` of it goes to the challenger only if
//!   the claim it opened equals the referees' hash (plus, for M-of-N, the
//!   members that revealed that hash), `referee_reward_share_bps` to the majority
//!   referees, the rest is burned. The challenger's bond comes back; the task
//!   fails and its fee is refunded.
//! * No majority (the work was not reproducible): both bonds come back, the
//!   task fails and is refunded, nobody is slashed for the disagreement.
//!
//! Referees that did not reveal, or revealed against a majority, lose their
//! `referee_slash`, which is burned (paying it to the majority would reward a
//! colluding majority for outvoting honest referees). Shares are split equally;
//! division remainders are burned, so value is conserved exactly.
//!
//! When fewer than `floor(K/2)+1` referees can be drawn the dispute cannot be
//! decided: it resolves at the end of the challenge block as "no majority"
//! (bonds returned, task refunded). The submitter never pays for a result that
//! could not be checked, and the provider loses nothing but the fee.
//!
//! A late fraud proof against an already-paid TEE-shortcut result (see
//! `tee.rs`) follows the same flow, except that the fee is no longer escrowed:
//! if the result is disproven the slash compensates the submitter first
//! (`tee::late_fraud_payout`) and the measurement is revoked; otherwise the
//! result stands and its collateral is released.
//!
//! # Bounded delay
//! A disputed task refuses further challenges and a verdict is final (a
//! vindicated TEE-shortcut result has its collateral released at once, closing
//! its late-proof horizon), so K successive challengers cannot stretch
//! finality: see [`finality_bound_blocks`].

use std::collections::BTreeMap;

use crate::apply::{Ctx, EndCtx};
use crate::assignment::{weighted_draw, Candidate};
use crate::config::VerificationMode;
use crate::events::{Event, FailReason, SlashReason};
use crate::optimistic::mul_bps;
use crate::outcome::TxError;
use crate::providers::ProviderStatus;
use crate::redundant::Close;
use crate::state::State;
use crate::tasks::{Member, PostedResult, Task, TaskStatus, TaskTerms};
use crate::types::{Address, Amount, Hash, ProviderId, TaskId};

/// Commitment of a referee or an M-of-N provider to an output hash, bound to the
/// task and to that provider.
pub fn output_commitment(
    task: &TaskId,
    provider: &ProviderId,
    output_hash: &Hash,
    salt: &Hash,
) -> Hash {
    let mut h = blake3::Hasher::new_derive_key("aivm v1 output commitment");
    h.update(&task.0);
    h.update(&provider.0);
    h.update(output_hash);
    h.update(salt);
    *h.finalize().as_bytes()
}

/// Commitment of a challenger to the output it claims is right, bound to the
/// task and to the challenger.
pub fn claim_commitment(
    task: &TaskId,
    challenger: &Address,
    output_hash: &Hash,
    salt: &Hash,
) -> Hash {
    let mut h = blake3::Hasher::new_derive_key("aivm v1 claim commitment");
    h.update(&task.0);
    h.update(&challenger.0);
    h.update(output_hash);
    h.update(salt);
    *h.finalize().as_bytes()
}

/// Votes needed for a majority of `count`.
pub fn majority_of(count: u32) -> u32 {
    count / 2 + 1
}

/// Worst case, in blocks, from a task's (last) assignment to the height at
/// which its outcome can no longer change.
///
/// * Optimistic: result by the deadline (`result_deadline_blocks`), its
///   window (`challenge_window_blocks`), then at most one dispute
///   (`referee_commit_blocks + referee_reveal_blocks`, counted from the
///   challenge, which is at the latest the window's last block).
/// * TEE-attested: as optimistic, but a shortcut result stays open to a late
///   fraud proof until `tee_challenge_window_blocks + post_finality_horizon_blocks`
///   after posting, and a revoked measurement restores the full window.
/// * M-of-N: commit and reveal phases, the escalation window
///   (`challenge_window_blocks`), then at most one dispute.
///
/// A requeue after a missed deadline restarts the count at the new assignment.
pub fn finality_bound_blocks(t: &TaskTerms) -> u64 {
    let window = match t.mode {
        VerificationMode::Optimistic => t
            .result_deadline_blocks
            .saturating_add(t.challenge_window_blocks),
        VerificationMode::TeeAttested => t.result_deadline_blocks.saturating_add(
            t.challenge_window_blocks.max(
                t.tee_challenge_window_blocks
                    .saturating_add(t.post_finality_horizon_blocks),
            ),
        ),
        VerificationMode::MultiPartyRedundant => t
            .commit_phase_blocks
            .saturating_add(t.reveal_phase_blocks)
            .saturating_add(t.challenge_window_blocks),
    };
    window
        .saturating_add(t.referee_commit_blocks)
        .saturating_add(t.referee_reveal_blocks)
}

// ---- commit-reveal seats, shared with M-of-N ----------------------------------------------

pub(crate) fn new_members(ids: &[ProviderId]) -> Vec<Member> {
    ids.iter()
        .map(|p| Member {
            provider: *p,
            commitment: None,
            revealed: None,
        })
        .collect()
}

pub(crate) fn seat<'a>(
    members: &'a mut [Member],
    provider: &ProviderId,
) -> Result<&'a mut Member, TxError> {
    members
        .iter_mut()
        .find(|m| m.provider == *provider)
        .ok_or(TxError::NotInCommittee)
}

pub(crate) fn commit_seat(m: &mut Member, c: Hash) -> Result<(), TxError> {
    if m.commitment.is_some() {
        return Err(TxError::AlreadyCommitted);
    }
    m.commitment = Some(c);
    Ok(())
}

/// Opens a seat's commitment; only the provider it is bound to can.
pub(crate) fn reveal_seat(
    task: &TaskId,
    m: &mut Member,
    out: Hash,
    salt: Hash,
) -> Result<(), TxError> {
    let Some(c) = m.commitment else {
        return Err(TxError::NoCommitment);
    };
    if m.revealed.is_some() {
        return Err(TxError::AlreadyRevealed);
    }
    if output_commitment(task, &m.provider, &out, &salt) != c {
        return Err(TxError::CommitmentMismatch);
    }
    m.revealed = Some(out);
    Ok(())
}

/// The most revealed hash and its votes; ties go to the smallest hash.
pub(crate) fn plurality(members: &[Member]) -> Option<(Hash, u32)> {
    let mut tally: BTreeMap<Hash, u32> = BTreeMap::new();
    for h in members.iter().filter_map(|m| m.revealed) {
        let n = tally.entry(h).or_insert(0);
        *n = n.saturating_add(1);
    }
    let mut best: Option<(Hash, u32)> = None;
    for (h, n) in tally {
        if best.is_none_or(|(_, b)| n > b) {
            best = Some((h, n));
        }
    }
    best
}

pub(crate) fn all_revealed(members: &[Member]) -> bool {
    members.iter().all(|m| m.revealed.is_some())
}

// ---- value movements ----------------------------------------------------------------------

/// One share of a pool: `bps` of it, split equally among `to`.
pub(crate) struct Share<'a> {
    pub bps: u32,
    pub to: &'a [Address],
}

/// Credits `amount` to `to`; returns what was credited (0 if the credit could
/// not be made, so the caller burns it instead).
pub(crate) fn pay(
    state: &mut State,
    events: &mut Vec<Event>,
    to: &Address,
    amount: Amount,
) -> Amount {
    if amount == 0 || state.credit(to, amount).is_err() {
        return 0;
    }
    events.push(Event::Compensated { to: *to, amount });
    amount
}

/// Pays each share of `pool` and burns the rest: shares nobody can take,
/// division remainders and what the shares leave over.
pub(crate) fn share_out(
    state: &mut State,
    events: &mut Vec<Event>,
    pool: Amount,
    shares: &[Share],
) {
    let mut left = pool;
    for s in shares {
        let n = s.to.len() as Amount;
        if n == 0 {
            continue;
        }
        let each = mul_bps(pool, s.bps).min(left) / n;
        for to in s.to {
            left = left.saturating_sub(pay(state, events, to, each));
        }
    }
    state.burn(left, events);
}

/// Locks `amount` of a provider's free bond behind a committee seat.
pub(crate) fn lock(state: &mut State, pid: &ProviderId, amount: Amount) {
    if let Some(mut p) = state.providers.get(pid).cloned() {
        p.locked = p.locked.saturating_add(amount).min(p.bond);
        state.providers.insert(*pid, p);
    }
}

pub(crate) fn release(
    state: &mut State,
    pid: &ProviderId,
    amount: Amount,
    events: &mut Vec<Event>,
) {
    if let Some(mut p) = state.providers.get(pid).cloned() {
        p.locked = p.locked.saturating_sub(amount);
        state.providers.insert(*pid, p);
        events.push(Event::CollateralReleased {
            provider: *pid,
            amount,
        });
    }
}

/// Slashes `amount` from a provider's free bond and records a fault. Returns
/// what was taken; the caller decides where it goes.
pub(crate) fn penalize(
    state: &mut State,
    events: &mut Vec<Event>,
    pid: &ProviderId,
    amount: Amount,
    reason: SlashReason,
) -> Amount {
    let taken = state.slash_provider(pid, amount, 0);
    events.push(Event::Slashed {
        provider: *pid,
        amount: taken,
        reason,
    });
    if let Some(mut p) = state.providers.get(pid).cloned() {
        crate::tee::record_fault(&mut p, events);
        state.providers.insert(*pid, p);
    }
    taken
}

pub(crate) fn owner_of(state: &State, pid: &ProviderId) -> Option<Address> {
    state.providers.get(pid).map(|p| p.owner)
}

fn return_bond(
    state: &mut State,
    events: &mut Vec<Event>,
    task: &TaskId,
    to: &Address,
    amount: Amount,
) {
    if amount == 0 {
        return;
    }
    if state.credit(to, amount).is_err() {
        state.burn(amount, events);
        return;
    }
    events.push(Event::BondReturned {
        task: *task,
        to: *to,
        amount,
    });
}

// ---- opening ------------------------------------------------------------------------------

fn wrong_status(task: &Task) -> TxError {
    TxError::WrongTaskStatus {
        status: task.status.name().to_string(),
    }
}

/// The owner of a member that voted for an M-of-N verdict may not challenge it.
fn check_challenger(
    state: &State,
    task: &Task,
    result: &PostedResult,
    challenger: &Address,
) -> Result<(), TxError> {
    let voted_for_it = task.committee.iter().any(|m| {
        m.revealed == Some(result.output_hash) && owner_of(state, &m.provider) == Some(*challenger)
    });
    if voted_for_it {
        return Err(TxError::OwnResult);
    }
    Ok(())
}

/// Owners that may not referee: the challenger, the result's provider and, for
/// an M-of-N verdict, every committee member.
fn excluded_owners(
    state: &State,
    task: &Task,
    result: &PostedResult,
    challenger: &Address,
) -> Vec<Address> {
    let mut out = vec![*challenger];
    out.extend(owner_of(state, &result.provider));
    out.extend(
        task.committee
            .iter()
            .filter_map(|m| owner_of(state, &m.provider)),
    );
    out.sort();
    out.dedup();
    out
}

/// Providers that may referee: active, serving the model, minimally bonded and
/// able to lock `referee_slash`. A referee needs no spare task capacity.
fn referee_candidates(
    state: &State,
    task: &Task,
    exclude: &[Address],
    now_ms: u64,
) -> Vec<Candidate> {
    let cfg = &state.config;
    let stake = task.terms.referee_slash;
    state
        .providers
        .values()
        .filter(|p| !exclude.contains(&p.owner))
        .filter(|p| {
            p.status == ProviderStatus::Active
                && p.serves(&task.model)
                && p.bond >= cfg.min_provider_bond
                && p.available_bond() >= stake
                && (!cfg.require_tee_attestation || p.attested_score(now_ms) >= cfg.min_trust_score)
        })
        .map(|p| Candidate {
            id: p.id,
            owner: p.owner,
            weight: state.draw_weight(p),
        })
        .collect()
}

/// A challenge was paid for: the task is Disputed and its phases are fixed
/// from this block. The panel is drawn at this block's end, so the challenge
/// transaction touches nothing but its task and its signer (it commutes with
/// every transaction on other keys, e.g. an `Unbond` of a would-be referee).
pub(crate) fn open(ctx: &mut Ctx, mut task: Task) -> Result<(), TxError> {
    let (Some(result), Some(challenger)) = (
        task.result.clone(),
        task.challenge.as_ref().map(|c| c.challenger),
    ) else {
        return Err(wrong_status(&task));
    };
    check_challenger(ctx.state, &task, &result, &challenger)?;
    let h = ctx.header.height;
    task.status = TaskStatus::Disputed;
    task.referees = Vec::new();
    task.commit_end = h.saturating_add(task.terms.referee_commit_blocks);
    task.reveal_end = task
        .commit_end
        .saturating_add(task.terms.referee_reveal_blocks);
    ctx.state.set_timer(&mut task, Some(h));
    ctx.state.put_task(task);
    Ok(())
}

/// Block end of the challenge block: draws K referees from its seed, weighted
/// by bond, and locks their stakes. Too few to form a majority: the dispute is
/// undecidable and resolves at once.
fn draw_panel(end: &mut EndCtx, mut task: Task) {
    let (Some(result), Some(challenger)) = (
        task.result.clone(),
        task.challenge.as_ref().map(|c| c.challenger),
    ) else {
        return;
    };
    let exclude = excluded_owners(end.state, &task, &result, &challenger);
    let candidates = referee_candidates(end.state, &task, &exclude, end.header.time_ms);
    let t = task.terms.clone();
    let drawn = weighted_draw(
        "aivm v1 referees",
        candidates,
        &end.header.seed,
        &task.id,
        t.referee_count,
    );
    let enough = drawn.len() as u64 >= u64::from(majority_of(t.referee_count));
    if enough {
        for pid in &drawn {
            lock(end.state, pid, t.referee_slash);
        }
        task.referees = new_members(&drawn);
    } else {
        task.commit_end = end.header.height;
        task.reveal_end = end.header.height;
    }
    end.events.push(Event::DisputeOpened {
        task: task.id,
        referees: task.referees.iter().map(|m| m.provider).collect(),
        commit_end: task.commit_end,
        reveal_end: task.reveal_end,
    });
    if enough {
        let reveal_end = task.reveal_end;
        end.state.set_timer(&mut task, Some(reveal_end));
        end.state.put_task(task);
    } else {
        resolve(end, task);
    }
}

// ---- referee and challenger transactions ----------------------------------------------------

fn in_reveal_phase(task: &Task, height: u64) -> Result<(), TxError> {
    if height <= task.commit_end || height > task.reveal_end {
        return Err(TxError::WrongPhase {
            phase: "reveal".to_string(),
        });
    }
    Ok(())
}

/// Everyone who can still speak has spoken: decide at this block's end.
fn resolve_early_if_complete(state: &mut State, task: &mut Task, height: u64) {
    let claim_open = task
        .challenge
        .as_ref()
        .is_some_and(|c| c.revealed_claim.is_some());
    if claim_open && all_revealed(&task.referees) {
        state.set_timer(task, Some(height));
    }
}

pub(crate) fn commit(
    ctx: &mut Ctx,
    mut task: Task,
    provider: ProviderId,
    c: Hash,
) -> Result<(), TxError> {
    let h = ctx.header.height;
    let closed = h > task.commit_end;
    let m = seat(&mut task.referees, &provider)?;
    if closed {
        return Err(TxError::WrongPhase {
            phase: "commit".to_string(),
        });
    }
    commit_seat(m, c)?;
    ctx.events.push(Event::OutputCommitted {
        task: task.id,
        provider,
    });
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
    let h = ctx.header.height;
    let phase = in_reveal_phase(&task, h);
    let id = task.id;
    let m = seat(&mut task.referees, &provider)?;
    phase?;
    reveal_seat(&id, m, out, salt)?;
    ctx.events.push(Event::OutputRevealed {
        task: id,
        provider,
        output_hash: out,
    });
    resolve_early_if_complete(ctx.state, &mut task, h);
    ctx.state.put_task(task);
    Ok(())
}

/// The challenger opens its claim; only a claim bound to this challenger opens.
pub(crate) fn reveal_claim(
    ctx: &mut Ctx,
    id: TaskId,
    out: Hash,
    salt: Hash,
) -> Result<(), TxError> {
    let mut task = ctx
        .state
        .tasks
        .get(&id)
        .cloned()
        .ok_or(TxError::UnknownTask)?;
    if task.status != TaskStatus::Disputed {
        return Err(wrong_status(&task));
    }
    let mut ch = task.challenge.clone().ok_or(TxError::NoCommitment)?;
    if ch.challenger != ctx.signer {
        return Err(TxError::NoCommitment);
    }
    let h = ctx.header.height;
    in_reveal_phase(&task, h)?;
    if ch.revealed_claim.is_some() {
        return Err(TxError::AlreadyRevealed);
    }
    if claim_commitment(&id, &ctx.signer, &out, &salt) != ch.claim {
        return Err(TxError::CommitmentMismatch);
    }
    ch.revealed_claim = Some(out);
    task.challenge = Some(ch);
    ctx.events.push(Event::ClaimRevealed {
        task: id,
        challenger: ctx.signer,
        output_hash: out,
    });
    resolve_early_if_complete(ctx.state, &mut task, h);
    ctx.state.put_task(task);
    Ok(())
}

// ---- resolution ---------------------------------------------------------------------------

/// The hash revealed by a majority of the configured panel, if any.
fn referee_verdict(task: &Task) -> Option<Hash> {
    plurality(&task.referees)
        .filter(|(_, votes)| *votes >= majority_of(task.terms.referee_count))
        .map(|(h, _)| h)
}

/// Releases every referee's stake, slashes (and burns) the absent and the
/// dissenting, and returns the owners of the majority referees.
fn settle_referees(end: &mut EndCtx, task: &Task, verdict: Option<Hash>) -> Vec<Address> {
    let stake = task.terms.referee_slash;
    let mut majority = Vec::new();
    let mut burned: Amount = 0;
    for m in &task.referees {
        release(end.state, &m.provider, stake, &mut end.events);
        let reason = match (m.revealed, verdict) {
            (None, _) => Some(SlashReason::RefereeAbsent),
            (Some(r), Some(v)) if r != v => Some(SlashReason::RefereeDissent),
            _ => None,
        };
        match reason {
            Some(reason) => {
                let taken = penalize(end.state, &mut end.events, &m.provider, stake, reason);
                burned = burned.saturating_add(taken);
            }
            None if verdict.is_some() => majority.extend(owner_of(end.state, &m.provider)),
            None => {}
        }
    }
    end.state.burn(burned, &mut end.events);
    majority
}

/// The challenge block ended (draw the panel), or the reveal phase did, or
/// everyone revealed (decide). A drawn panel is never empty.
pub(crate) fn on_timer(end: &mut EndCtx, task: Task) {
    if task.referees.is_empty() && end.header.height < task.reveal_end {
        draw_panel(end, task);
    } else {
        resolve(end, task);
    }
}

/// Decides the dispute on the referees' reveals.
fn resolve(end: &mut EndCtx, mut task: Task) {
    let (Some(result), Some(mut ch)) = (task.result.clone(), task.challenge.clone()) else {
        return;
    };
    let bond = std::mem::take(&mut ch.bond);
    task.challenge = Some(ch.clone());
    // The bond leaves the escrow here whatever happens below.
    end.state.put_task(task.clone());
    let verdict = referee_verdict(&task);
    let referees = settle_referees(end, &task, verdict);
    let provider_won = verdict.map(|v| v == result.output_hash);
    end.events.push(Event::DisputeResolved {
        task: task.id,
        provider_won,
    });
    let m_of_n = task.terms.mode == VerificationMode::MultiPartyRedundant;
    match (verdict, provider_won) {
        (Some(_), Some(true)) => {
            end.events.push(Event::BondForfeited {
                who: ch.challenger,
                amount: bond,
                reason: SlashReason::FrivolousChallenge,
            });
            let defenders = defenders(end.state, &task, &result);
            let t = &task.terms;
            share_out(
                end.state,
                &mut end.events,
                bond,
                &[
                    Share {
                        bps: t.winner_share_bps,
                        to: &defenders,
                    },
                    Share {
                        bps: t.referee_reward_share_bps,
                        to: &referees,
                    },
                ],
            );
            if m_of_n {
                crate::redundant::close(end, task, Close::Accept(result.output_hash));
            } else {
                vindicate(end, task);
            }
        }
        (Some(truth), _) => {
            return_bond(end.state, &mut end.events, &task.id, &ch.challenger, bond);
            let claimant = (ch.revealed_claim == Some(truth)).then_some(ch.challenger);
            if m_of_n {
                crate::redundant::close(
                    end,
                    task,
                    Close::Overturn {
                        truth,
                        claimant,
                        referees: &referees,
                    },
                );
            } else {
                disprove(end, task, &result, claimant, &referees);
            }
        }
        (None, _) => {
            return_bond(end.state, &mut end.events, &task.id, &ch.challenger, bond);
            if m_of_n {
                crate::redundant::close(end, task, Close::NoAgreement);
            } else {
                undecided(end, task, &result);
            }
        }
    }
}

/// Who is compensated when a challenge fails: the provider's owner, or the
/// owners of the M-of-N members that voted for the verdict.
fn defenders(state: &State, task: &Task, result: &PostedResult) -> Vec<Address> {
    let mut out: Vec<Address> = if task.terms.mode == VerificationMode::MultiPartyRedundant {
        task.committee
            .iter()
            .filter(|m| m.revealed == Some(result.output_hash))
            .filter_map(|m| owner_of(state, &m.provider))
            .collect()
    } else {
        owner_of(state, &result.provider).into_iter().collect()
    };
    out.sort();
    out.dedup();
    out
}

/// The result stood: it finalises now, and the verdict being final, any
/// collateral a TEE shortcut would keep locked is released at once.
fn vindicate(end: &mut EndCtx, task: Task) {
    if crate::tee::is_late_dispute(&task) {
        crate::tee::close_late_dispute(end.state, task, &mut end.events);
        return;
    }
    let id = task.id;
    crate::optimistic::finalize(end, task);
    if let Some(t) = end.state.tasks.get(&id).cloned() {
        if t.timer.is_some() {
            crate::tee::release_after_horizon(end, t);
        }
    }
}

/// The result was wrong: the provider's collateral is slashed and shared out,
/// the task fails and the submitter gets its escrowed fee back (or, for a late
/// fraud proof on an already-paid result, compensation from the slash first).
fn disprove(
    end: &mut EndCtx,
    task: Task,
    result: &PostedResult,
    claimant: Option<Address>,
    referees: &[Address],
) {
    let pid = result.provider;
    let late = crate::tee::is_late_dispute(&task);
    let taken = end
        .state
        .slash_provider(&pid, result.collateral, result.collateral);
    end.events.push(Event::Slashed {
        provider: pid,
        amount: taken,
        reason: SlashReason::LostDispute,
    });
    if let Some(mut p) = end.state.providers.get(&pid).cloned() {
        if !late {
            p.open_tasks = p.open_tasks.saturating_sub(1);
        }
        crate::tee::record_fault(&mut p, &mut end.events);
        end.state.providers.insert(pid, p);
    }
    crate::tee::on_result_disproven(end.state, &task, end.header.height, &mut end.events);
    let compensated = if late {
        let owed = crate::tee::late_fraud_payout(taken, task.fee_paid, task.terms.winner_share_bps)
            .compensation;
        crate::tee::compensate_submitter(end.state, &task, owed, &mut end.events)
    } else {
        0
    };
    let winners: Vec<Address> = claimant.into_iter().collect();
    pay_out_disproven(
        end,
        task,
        taken.saturating_sub(compensated),
        &winners,
        referees,
    );
}

/// The slash of a disproven result: the winner share to `winners`, the
/// referee share to the majority `referees`, the rest burned; then the task
/// fails with a refund of whatever fee it still escrows.
pub(crate) fn pay_out_disproven(
    end: &mut EndCtx,
    task: Task,
    pool: Amount,
    winners: &[Address],
    referees: &[Address],
) {
    let t = &task.terms;
    share_out(
        end.state,
        &mut end.events,
        pool,
        &[
            Share {
                bps: t.winner_share_bps,
                to: winners,
            },
            Share {
                bps: t.referee_reward_share_bps,
                to: referees,
            },
        ],
    );
    end.state
        .fail_and_refund(task, FailReason::Disproven, &mut end.events);
}

/// The referees could not agree: nobody is slashed for it, the collateral is
/// released and the task fails with a refund (a late dispute leaves the paid
/// result standing).
fn undecided(end: &mut EndCtx, task: Task, result: &PostedResult) {
    if crate::tee::is_late_dispute(&task) {
        crate::tee::close_late_dispute(end.state, task, &mut end.events);
        return;
    }
    release(
        end.state,
        &result.provider,
        result.collateral,
        &mut end.events,
    );
    if let Some(mut p) = end.state.providers.get(&result.provider).cloned() {
        p.open_tasks = p.open_tasks.saturating_sub(1);
        end.state.providers.insert(result.provider, p);
    }
    end.state
        .fail_and_refund(task, FailReason::NoAgreement, &mut end.events);
}
