//! TEE-attested acceleration. An attestation raises a provider's trust score and
//! can shorten its challenge window, but the bond stays the trust root: the
//! collateral of a shortened-window result remains slashable by a late fraud
//! proof until a post-finality horizon.

use crate::apply::EndCtx;
use crate::attestation::{verify_attestation, SignedAttestation};
use crate::events::Event;
use crate::outcome::TxError;
use crate::providers::{AttestationRecord, Provider};
use crate::state::State;
use crate::tasks::{Task, TaskStatus};
use crate::types::Address;

/// Trust earned by verified work is capped here.
pub const MAX_TRUST: u32 = 100;

/// Verifies evidence bound to `owner` against the config's attestors and the
/// revocation list, at block time `now_ms`.
pub(crate) fn verify_for(
    state: &State,
    att: &SignedAttestation,
    owner: &Address,
    now_ms: u64,
) -> Result<AttestationRecord, TxError> {
    let cfg = &state.config;
    let status = verify_attestation(
        att,
        &cfg.trusted_attestors,
        &owner.0,
        &|m: &[u8; 32]| state.is_revoked(m),
        now_ms,
        cfg.attestation_timeout_ms,
    )
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
pub(crate) fn qualifies_for_shortcut(state: &State, p: &Provider, task: &Task, now_ms: u64) -> bool {
    let Some(a) = &p.attestation else {
        return false;
    };
    task.submitter != p.owner
        && now_ms < a.expires_at_ms
        && a.trust_score >= state.config.min_trust_score
        && !state.is_revoked(&a.measurement)
}

/// A finalised shortcut result whose collateral is still at stake.
pub(crate) fn late_proof_open(task: &Task, height: u64) -> bool {
    task.status == TaskStatus::Completed && task.timer.is_some_and(|h| height <= h)
}

/// The post-finality horizon passed without a fraud proof: free the collateral.
pub(crate) fn release_after_horizon(end: &mut EndCtx, mut task: Task) {
    let Some(result) = task.result.clone() else {
        return;
    };
    if let Some(mut p) = end.state.providers.get(&result.provider).cloned() {
        p.locked = p.locked.saturating_sub(result.collateral);
        end.state.providers.insert(result.provider, p);
        end.events.push(Event::CollateralReleased {
            provider: result.provider,
            amount: result.collateral,
        });
    }
    end.state.set_timer(&mut task, None);
    end.state.put_task(task);
}

/// Verified work raises trust slowly.
pub(crate) fn record_success(p: &mut Provider) {
    p.trust = (p.trust + 1).min(MAX_TRUST);
}

/// Faults cut trust sharply (to two thirds, as iExec does).
pub(crate) fn record_fault(p: &mut Provider) {
    p.trust = p.trust * 2 / 3;
}
