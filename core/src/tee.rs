//! TEE-attested acceleration. An attestation raises a provider's trust score and
//! can shorten its challenge window, but the bond stays the trust root: the
//! collateral of a shortened-window result remains slashable by a late fraud
//! proof until a post-finality horizon.
//!
//! # Lifecycle of an attestation
//! - Verified at registration (`RegisterProvider { attestation }`) or refreshed
//!   (`Attest`) against the config's trusted attestors, at the block's time.
//! - It stops counting at `min(expires_at_ms, issued_at_ms + attestation_timeout_ms)`
//!   of header time: evidence older than the AttestationTimeout is stale even if
//!   the attestor let it live longer.
//! - A disproven attested result revokes its measurement ([`revoke_measurement`]):
//!   every record carrying it is dropped, and every pending shortened window of a
//!   provider carrying it goes back to the full window.
//!
//! # Late fraud proofs
//! A shortcut result finalises early (the provider is paid at once) but its
//! collateral stays locked until `finalized + post_finality_horizon_blocks`.
//! A challenge until then opens a dispute like any other. When the referees
//! uphold it, the fee has already been paid, so the slashed collateral is
//! distributed by [`late_fraud_payout`]: the submitter is compensated first
//! (up to the fee it paid), then the challenger gets its bounty, and the rest
//! goes the way of any other slash.

use std::sync::Arc;

use crate::apply::EndCtx;
use crate::attestation::{verify_attestation, AttestationError, DeviceStatus, SignedAttestation};
use crate::events::Event;
use crate::optimistic::mul_bps;
use crate::outcome::TxError;
use crate::providers::{AttestationRecord, Provider};
use crate::state::State;
use crate::tasks::{Task, TaskStatus};
use crate::types::{Address, Amount, Hash};

/// Trust earned by verified work is capped here.
pub const MAX_TRUST: u32 = 100;

/// Header time from which evidence stops counting: its own expiry or the
/// AttestationTimeout after issue, whichever comes first.
fn effective_expiry(att: &SignedAttestation, status: &DeviceStatus, timeout_ms: u64) -> u64 {
    status
        .expires_at_ms
        .min(att.evidence.issued_at_ms.saturating_add(timeout_ms))
}

impl State {
    /// The seed's `VerifyGPUAttestation` as a pure query: checks `att` as the
    /// chain would for a provider owned by `provider_key` at header time
    /// `now_ms`, and returns the device status (attested, trust score, mode,
    /// hardware confidential computing). `expires_at_ms` is the time the chain
    /// would stop counting it (capped by the AttestationTimeout).
    pub fn verify_gpu_attestation(
        &self,
        att: &SignedAttestation,
        provider_key: &Address,
        now_ms: u64,
    ) -> Result<DeviceStatus, AttestationError> {
        let cfg = &self.config;
        let mut status = verify_attestation(
            att,
            &cfg.trusted_attestors,
            &provider_key.0,
            &|m: &[u8; 32]| self.is_revoked(m),
            now_ms,
            cfg.attestation_timeout_ms,
        )?;
        status.expires_at_ms = effective_expiry(att, &status, cfg.attestation_timeout_ms);
        Ok(status)
    }

    /// Measurements revoked so far, sorted.
    pub fn revoked_measurements(&self) -> &[Hash] {
        &self.globals.revoked_measurements
    }
}

/// Verifies evidence bound to `owner` against the config's attestors and the
/// revocation list, at block time `now_ms`.
pub(crate) fn verify_for(
    state: &State,
    att: &SignedAttestation,
    owner: &Address,
    now_ms: u64,
) -> Result<AttestationRecord, TxError> {
    let status = state
        .verify_gpu_attestation(att, owner, now_ms)
        .map_err(TxError::Attestation)?;
    Ok(AttestationRecord {
        trust_score: status.trust_score,
        measurement: status.measurement,
        expires_at_ms: status.expires_at_ms,
        hardware_cc: status.hardware_cc,
    })
}

/// Whether a result by `p` on `task` may use the shortened TEE window: a live,
/// unrevoked attestation meeting MinTrustScore, on a task it did not submit.
///
/// Earned trust (`Provider::trust`) is deliberately not required: the shortcut
/// never releases the bond before the horizon, so it only trades latency, and
/// a self-dealt task can use neither the shortcut nor the trust it would earn.
pub(crate) fn qualifies_for_shortcut(
    state: &State,
    p: &Provider,
    task: &Task,
    now_ms: u64,
) -> bool {
    let Some(a) = &p.attestation else {
        return false;
    };
    task.submitter != p.owner
        && now_ms < a.expires_at_ms
        && a.trust_score >= state.config.min_trust_score
        && !state.is_revoked(&a.measurement)
}

/// Whether the result's challenge window was shorter than the full window.
pub fn window_shortened(task: &Task) -> bool {
    task.result.as_ref().is_some_and(|r| {
        r.window_end
            < r.posted_height
                .saturating_add(task.terms.challenge_window_blocks)
    })
}

/// A finalised shortcut result whose collateral is still at stake.
pub(crate) fn late_proof_open(task: &Task, height: u64) -> bool {
    task.status == TaskStatus::Completed && task.timer.is_some_and(|h| height <= h)
}

/// Whether a dispute is about a result that had already finalised (a late
/// fraud proof): its fee is paid, so the dispute must neither pay it again nor
/// refund it.
pub(crate) fn is_late_dispute(task: &Task) -> bool {
    task.finalized_height.is_some()
}

/// The post-finality horizon passed without a fraud proof: free the collateral.
pub(crate) fn release_after_horizon(end: &mut EndCtx, mut task: Task) {
    let Some(result) = task.result.clone() else {
        return;
    };
    crate::dispute::release(
        end.state,
        &result.provider,
        result.collateral,
        &mut end.events,
    );
    end.state.set_timer(&mut task, None);
    end.state.put_task(task);
}

/// A late dispute ended without disproving the result (the provider won, or
/// the referees could not agree): the task is Completed again and, a verdict
/// being final, its collateral is released at once.
pub(crate) fn close_late_dispute(state: &mut State, mut task: Task, events: &mut Vec<Event>) {
    if let Some(result) = task.result.clone() {
        crate::dispute::release(state, &result.provider, result.collateral, events);
    }
    task.status = TaskStatus::Completed;
    state.set_timer(&mut task, None);
    state.put_task(task);
}

/// How the value slashed from a provider whose already-finalised result was
/// disproven by a late fraud proof is shared out. The fee was paid to the
/// provider at finalisation and cannot be clawed back from its balance, so the
/// slash pays for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatePayout {
    /// To the submitter, first: up to the fee it paid for the wrong result.
    pub compensation: Amount,
    /// To the challenger: `winner_share_bps` of what remains.
    pub bounty: Amount,
    /// Left for the referees' pay and the burn, as in any dispute.
    pub rest: Amount,
}

/// Splits `slashed` for a late fraud proof: compensation to the submitter up
/// to `fee_paid`, then the challenger's bounty (`winner_share_bps` of the
/// remainder), then the rest. Never pays out more than `slashed`.
pub fn late_fraud_payout(slashed: Amount, fee_paid: Amount, winner_share_bps: u32) -> LatePayout {
    let compensation = slashed.min(fee_paid);
    let after = slashed - compensation;
    let bounty = mul_bps(after, winner_share_bps);
    LatePayout {
        compensation,
        bounty,
        rest: after - bounty,
    }
}

/// Credits the submitter's compensation of a late fraud proof and reports it.
/// Returns what was credited (0 if the credit could not be made, in which case
/// the caller keeps the amount in its own split).
pub(crate) fn compensate_submitter(
    state: &mut State,
    task: &Task,
    amount: Amount,
    events: &mut Vec<Event>,
) -> Amount {
    if amount == 0 || state.credit(&task.submitter, amount).is_err() {
        return 0;
    }
    events.push(Event::Compensated {
        to: task.submitter,
        amount,
    });
    amount
}

/// A result was disproven by a dispute: if the chain had relied on the
/// provider's TEE for it (a shortened window), that TEE's measurement is
/// revoked. Call after the verdict, before the provider's record is dropped.
pub(crate) fn on_result_disproven(
    state: &mut State,
    task: &Task,
    height: u64,
    events: &mut Vec<Event>,
) {
    if !window_shortened(task) {
        return;
    }
    let measurement = task
        .result
        .as_ref()
        .and_then(|r| state.providers.get(&r.provider))
        .and_then(|p| p.attestation.as_ref())
        .map(|a| a.measurement);
    if let Some(m) = measurement {
        revoke_measurement(state, m, height, events);
    }
}

/// Revokes a TEE measurement: no evidence carrying it is accepted again, every
/// provider carrying it loses its attestation record (so it neither gets the
/// shortcut nor stays eligible where TEE is required), and every result of such
/// a provider still in a shortened window gets the full window back, counted
/// from when it was posted.
pub(crate) fn revoke_measurement(
    state: &mut State,
    measurement: Hash,
    height: u64,
    events: &mut Vec<Event>,
) {
    let list = Arc::make_mut(&mut state.globals.revoked_measurements);
    if let Err(pos) = list.binary_search(&measurement) {
        list.insert(pos, measurement);
        events.push(Event::MeasurementRevoked { measurement });
    }
    let carriers: Vec<crate::types::ProviderId> = state
        .providers
        .values()
        .filter(|p| {
            p.attestation
                .as_ref()
                .is_some_and(|a| a.measurement == measurement)
        })
        .map(|p| p.id)
        .collect();
    if carriers.is_empty() {
        return;
    }
    restore_full_windows(state, &carriers, height, events);
    for pid in carriers {
        if let Some(mut p) = state.providers.get(&pid).cloned() {
            p.attestation = None;
            state.providers.insert(pid, p);
        }
    }
}

/// Every shortened window of a result by one of `carriers` that is still open
/// after this block goes back to `posted_height + challenge_window_blocks`.
/// Results in a window all have a timer, so only the timer index is scanned.
///
/// A window ending at this very height is left to close: block-end processing
/// has already listed the timers due now, and moving one of them from under it
/// would fire a stale entry. Such a result stays slashable until its horizon.
fn restore_full_windows(
    state: &mut State,
    carriers: &[crate::types::ProviderId],
    height: u64,
    events: &mut Vec<Event>,
) {
    let affected: Vec<crate::types::TaskId> = state
        .timers
        .range((height.saturating_add(1), crate::types::TaskId([0; 32]))..)
        .map(|((_, id), _)| *id)
        .filter(|id| {
            state.tasks.get(id).is_some_and(|t| {
                t.status == TaskStatus::ResultPosted
                    && window_shortened(t)
                    && t.result
                        .as_ref()
                        .is_some_and(|r| carriers.contains(&r.provider))
            })
        })
        .collect();
    for id in affected {
        let Some(mut task) = state.tasks.get(&id).cloned() else {
            continue;
        };
        let Some(mut result) = task.result.take() else {
            continue;
        };
        let window_end = result
            .posted_height
            .saturating_add(task.terms.challenge_window_blocks);
        result.window_end = window_end;
        task.result = Some(result);
        state.set_timer(&mut task, Some(window_end));
        events.push(Event::ChallengeWindowExtended {
            task: id,
            window_end,
        });
        state.put_task(task);
    }
}

/// Verified work raises trust slowly.
pub(crate) fn record_success(p: &mut Provider, events: &mut Vec<Event>) {
    set_trust(p, (p.trust + 1).min(MAX_TRUST), events);
}

/// Faults cut trust sharply (to two thirds, as iExec does).
pub(crate) fn record_fault(p: &mut Provider, events: &mut Vec<Event>) {
    set_trust(p, p.trust * 2 / 3, events);
}

/// Earned trust is state like any other: indexers learn of every move.
fn set_trust(p: &mut Provider, trust: u32, events: &mut Vec<Event>) {
    if p.trust != trust {
        p.trust = trust;
        events.push(Event::TrustChanged {
            provider: p.id,
            trust,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_payout_never_exceeds_the_slash() {
        let p = late_fraud_payout(100, 30, 5_000);
        assert_eq!(
            p,
            LatePayout {
                compensation: 30,
                bounty: 35,
                rest: 35
            }
        );
        let p = late_fraud_payout(10, 30, 5_000);
        assert_eq!(
            p,
            LatePayout {
                compensation: 10,
                bounty: 0,
                rest: 0
            }
        );
        let p = late_fraud_payout(u128::MAX, 1, 10_000);
        assert_eq!(p.compensation + p.bounty + p.rest, u128::MAX);
    }

    #[test]
    fn trust_rises_slowly_and_falls_sharply() {
        let mut p = crate::providers::Provider {
            id: Default::default(),
            owner: Default::default(),
            endpoint: "".into(),
            gpus: Arc::from([]),
            models: Arc::from([]),
            bond: 0,
            locked: 0,
            status: crate::providers::ProviderStatus::Active,
            open_tasks: 0,
            registered_height: 0,
            attestation: None,
            trust: 0,
            stats: Default::default(),
            bond_before_change: 0,
            bond_changed_at: 0,
        };
        let mut events = Vec::new();
        for _ in 0..150 {
            record_success(&mut p, &mut events);
        }
        assert_eq!(p.trust, MAX_TRUST);
        assert_eq!(
            events.len(),
            MAX_TRUST as usize,
            "a capped rise is no change"
        );
        record_fault(&mut p, &mut events);
        assert_eq!(p.trust, 66);
        record_fault(&mut p, &mut events);
        assert_eq!(p.trust, 44);
        assert_eq!(
            events.last(),
            Some(&Event::TrustChanged {
                provider: p.id,
                trust: 44
            })
        );
        p.trust = 0;
        let before = events.len();
        record_fault(&mut p, &mut events);
        assert_eq!(events.len(), before, "no event when trust stays at 0");
    }
}
