//! Providers: bonded compute operators. Registration, top-up, unbonding with a
//! cooldown, owner-only actions, and the eligibility rule used by assignment.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::apply::Ctx;
use crate::attestation::SignedAttestation;
use crate::events::Event;
use crate::outcome::TxError;
use crate::state::State;
use crate::tx::GpuInfo;
use crate::types::{Address, Amount, Hash, ModelId, ProviderId};

/// Bound on the model list of one provider (keeps entities and eligibility scans small).
pub const MAX_MODELS_PER_PROVIDER: u32 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderStatus {
    Active,
    /// Takes no new work; the bond may leave at `until_height` once no window is open.
    Unbonding {
        until_height: u64,
    },
}

/// A verified TEE attestation, as far as the state needs to remember it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationRecord {
    pub trust_score: u8,
    pub measurement: Hash,
    pub expires_at_ms: u64,
    pub hardware_cc: bool,
}

/// Per-provider reward statistics (the seed's reward stats).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderStats {
    pub tasks_completed: u64,
    pub tasks_missed: u64,
    pub total_rewards: Amount,
    pub pending_rewards: Amount,
    pub slashed: Amount,
    pub total_latency_ms: u64,
}

impl ProviderStats {
    pub fn avg_latency_ms(&self) -> u64 {
        self.total_latency_ms
            .checked_div(self.tasks_completed)
            .unwrap_or(0)
    }

    /// Share of assignments delivered, in parts per million; None before any.
    pub fn uptime_ppm(&self) -> Option<u32> {
        let total = self.tasks_completed.checked_add(self.tasks_missed)?;
        crate::reward::uptime_ppm(self.tasks_completed, total)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub id: ProviderId,
    pub owner: Address,
    // The listing never changes after registration: shared, so that copying a
    // provider to update its bond or counters allocates nothing. Serialised
    // exactly as `String` and `Vec` would be.
    pub endpoint: Arc<str>,
    pub gpus: Arc<[GpuInfo]>,
    pub models: Arc<[ModelId]>,
    /// Total stake, collateral included; selection weight.
    pub bond: Amount,
    /// Part of `bond` locked as collateral behind posted results.
    pub locked: Amount,
    pub status: ProviderStatus,
    /// Tasks assigned to it whose outcome is not settled yet.
    pub open_tasks: u32,
    pub registered_height: u64,
    pub attestation: Option<AttestationRecord>,
    /// Earned by verified work on tasks it did not submit itself (0..=100).
    pub trust: u32,
    pub stats: ProviderStats,
    /// Bond before the first change made in block `bond_changed_at`: draws in
    /// that block weigh the provider by the smaller of the two, so transactions
    /// of the block being drawn (which its proposer can choose knowing the seed)
    /// cannot steer the draw.
    pub bond_before_change: Amount,
    pub bond_changed_at: u64,
}

impl Provider {
    pub fn available_bond(&self) -> Amount {
        self.bond.saturating_sub(self.locked)
    }

    pub fn serves(&self, model: &str) -> bool {
        self.models.iter().any(|m| m == model)
    }

    /// Trust score of a live attestation, 0 when absent or expired.
    pub fn attested_score(&self, now_ms: u64) -> u8 {
        match &self.attestation {
            Some(a) if now_ms < a.expires_at_ms => a.trust_score,
            _ => 0,
        }
    }

    /// Records that the bond is about to change in block `height`.
    pub(crate) fn note_bond_change(&mut self, height: u64) {
        if self.bond_changed_at != height {
            self.bond_before_change = self.bond;
            self.bond_changed_at = height;
        }
    }

    /// Draw weight in block `height`: the bond, but never more than it was before
    /// this block's own transactions changed it.
    pub fn selection_weight(&self, height: u64) -> Amount {
        if self.bond_changed_at == height {
            self.bond.min(self.bond_before_change)
        } else {
            self.bond
        }
    }

    pub fn gpu_model(&self) -> &str {
        self.gpus.first().map_or("", |g| g.model.as_str())
    }
}

impl State {
    pub fn provider(&self, id: &ProviderId) -> Option<&Provider> {
        self.providers.get(id)
    }

    /// Providers that may take a task of `model` needing `collateral`, at `now_ms`.
    pub(crate) fn is_eligible(
        &self,
        p: &Provider,
        model: &str,
        collateral: Amount,
        now_ms: u64,
    ) -> bool {
        p.serves(model) && p.available_bond() >= collateral && self.can_take_tasks(p, now_ms)
    }

    /// The eligibility rules that depend on neither the model nor the collateral.
    pub(crate) fn can_take_tasks(&self, p: &Provider, now_ms: u64) -> bool {
        let cfg = &self.config;
        p.status == ProviderStatus::Active
            && p.open_tasks < cfg.max_tasks_per_provider
            && p.bond >= cfg.min_provider_bond
            && (!cfg.require_tee_attestation || p.attested_score(now_ms) >= cfg.min_trust_score)
    }

    /// Draw weight of `p` in the block being applied.
    pub(crate) fn draw_weight(&self, p: &Provider) -> Amount {
        p.selection_weight(self.tip.height.saturating_add(1))
    }

    pub(crate) fn owned_provider(
        &self,
        id: &ProviderId,
        signer: &Address,
    ) -> Result<Provider, TxError> {
        let p = self.providers.get(id).ok_or(TxError::UnknownProvider)?;
        if p.owner != *signer {
            return Err(TxError::NotProviderOwner);
        }
        Ok(p.clone())
    }

    /// Takes up to `amount` from a provider's stake (collateral first) and records it.
    /// Returns what was actually taken.
    pub(crate) fn slash_provider(
        &mut self,
        id: &ProviderId,
        amount: Amount,
        from_locked: Amount,
    ) -> Amount {
        let Some(mut p) = self.providers.get(id).cloned() else {
            return 0;
        };
        let taken = amount.min(p.bond);
        p.bond -= taken;
        p.locked = p.locked.saturating_sub(from_locked.min(taken)).min(p.bond);
        p.stats.slashed = p.stats.slashed.saturating_add(taken);
        self.providers.insert(*id, p);
        taken
    }
}

fn check_listing(
    ctx: &Ctx,
    endpoint: &str,
    gpus: &[GpuInfo],
    models: &[ModelId],
) -> Result<(), TxError> {
    let cfg = &ctx.state.config;
    if endpoint.len() > cfg.max_endpoint_len as usize {
        return Err(TxError::EndpointTooLong {
            max: cfg.max_endpoint_len,
        });
    }
    if gpus.len() > cfg.max_gpus as usize
        || gpus
            .iter()
            .any(|g| g.model.len() > cfg.max_gpu_name_len as usize)
    {
        return Err(TxError::BadGpuList {
            max: cfg.max_gpus,
            name_max: cfg.max_gpu_name_len,
        });
    }
    if models.is_empty() || models.len() > MAX_MODELS_PER_PROVIDER as usize {
        return Err(TxError::BadModelList {
            max: MAX_MODELS_PER_PROVIDER,
        });
    }
    for m in models {
        match ctx.state.models.get(m) {
            None => return Err(TxError::UnknownModel(m.clone())),
            Some(model) if model.retired => return Err(TxError::ModelRetired(m.clone())),
            Some(_) => {}
        }
    }
    Ok(())
}

pub(crate) fn register(
    ctx: &mut Ctx,
    endpoint: String,
    gpus: Vec<GpuInfo>,
    mut models: Vec<ModelId>,
    bond: Amount,
    attestation: Option<SignedAttestation>,
) -> Result<(), TxError> {
    models.sort();
    models.dedup();
    check_listing(ctx, &endpoint, &gpus, &models)?;
    let cfg = ctx.state.config.clone();
    if bond < cfg.min_provider_bond {
        return Err(TxError::BondBelowMinimum {
            bond,
            min: cfg.min_provider_bond,
        });
    }
    let owner = ctx.signer;
    let mut acct = ctx.state.account(&owner);
    if acct.providers >= cfg.max_providers_per_node {
        return Err(TxError::TooManyProviders {
            max: cfg.max_providers_per_node,
        });
    }
    let id = ProviderId::derive(&owner, ctx.nonce);
    let record = match attestation {
        Some(att) => Some(crate::tee::verify_for(
            ctx.state,
            &att,
            &owner,
            ctx.header.time_ms,
        )?),
        None => None,
    };
    if cfg.require_tee_attestation {
        let score = record.as_ref().map_or(0, |r| r.trust_score);
        if record.is_none() {
            return Err(TxError::AttestationRequired);
        }
        if score < cfg.min_trust_score {
            return Err(TxError::TrustTooLow {
                score,
                min: cfg.min_trust_score,
            });
        }
    }
    acct.balance = acct
        .balance
        .checked_sub(bond)
        .ok_or(TxError::InsufficientBalance {
            need: bond,
            have: acct.balance,
        })?;
    acct.providers += 1;
    ctx.state.accounts.insert(owner, acct);
    ctx.events.push(Event::ProviderRegistered {
        provider: id,
        owner,
        bond,
    });
    if let Some(r) = &record {
        ctx.events.push(Event::AttestationAccepted {
            provider: id,
            trust_score: r.trust_score,
            expires_at_ms: r.expires_at_ms,
        });
    }
    ctx.state.providers.insert(
        id,
        Provider {
            id,
            owner,
            endpoint: endpoint.into(),
            gpus: gpus.into(),
            models: models.into(),
            bond,
            locked: 0,
            status: ProviderStatus::Active,
            open_tasks: 0,
            registered_height: ctx.header.height,
            attestation: record,
            trust: 0,
            stats: ProviderStats::default(),
            bond_before_change: 0,
            bond_changed_at: ctx.header.height,
        },
    );
    Ok(())
}

pub(crate) fn top_up(ctx: &mut Ctx, id: ProviderId, amount: Amount) -> Result<(), TxError> {
    if amount == 0 {
        return Err(TxError::ZeroAmount);
    }
    let mut p = ctx.state.owned_provider(&id, &ctx.signer)?;
    p.note_bond_change(ctx.header.height);
    p.bond = p.bond.checked_add(amount).ok_or(TxError::Overflow)?;
    ctx.state.debit(&ctx.signer.clone(), amount)?;
    ctx.events.push(Event::BondToppedUp {
        provider: id,
        amount,
        bond: p.bond,
    });
    ctx.state.providers.insert(id, p);
    Ok(())
}

pub(crate) fn unbond(ctx: &mut Ctx, id: ProviderId) -> Result<(), TxError> {
    let mut p = ctx.state.owned_provider(&id, &ctx.signer)?;
    if p.status != ProviderStatus::Active {
        return Err(TxError::AlreadyUnbonding);
    }
    let until_height = ctx
        .header
        .height
        .saturating_add(ctx.state.config.unbond_cooldown_blocks);
    p.status = ProviderStatus::Unbonding { until_height };
    ctx.state.providers.insert(id, p);
    ctx.events.push(Event::UnbondStarted {
        provider: id,
        until_height,
    });
    Ok(())
}

pub(crate) fn withdraw(ctx: &mut Ctx, id: ProviderId) -> Result<(), TxError> {
    let p = ctx.state.owned_provider(&id, &ctx.signer)?;
    let ProviderStatus::Unbonding { until_height } = p.status else {
        return Err(TxError::NotUnbonding);
    };
    if ctx.header.height < until_height {
        return Err(TxError::CooldownNotOver {
            until: until_height,
        });
    }
    if p.open_tasks > 0 || p.locked > 0 {
        return Err(TxError::OpenTasks {
            open: p.open_tasks.max(1),
        });
    }
    let owner = p.owner;
    // Unclaimed rewards leave with the bond so nothing is stranded.
    let amount = p
        .bond
        .checked_add(p.stats.pending_rewards)
        .ok_or(TxError::Overflow)?;
    ctx.state.credit(&owner, amount)?;
    let mut acct = ctx.state.account(&owner);
    acct.providers = acct.providers.saturating_sub(1);
    ctx.state.accounts.insert(owner, acct);
    ctx.state.providers.remove(&id);
    ctx.events.push(Event::BondWithdrawn {
        provider: id,
        owner,
        amount,
    });
    Ok(())
}

pub(crate) fn attest(ctx: &mut Ctx, id: ProviderId, att: SignedAttestation) -> Result<(), TxError> {
    let mut p = ctx.state.owned_provider(&id, &ctx.signer)?;
    let record = crate::tee::verify_for(ctx.state, &att, &p.owner, ctx.header.time_ms)?;
    ctx.events.push(Event::AttestationAccepted {
        provider: id,
        trust_score: record.trust_score,
        expires_at_ms: record.expires_at_ms,
    });
    p.attestation = Some(record);
    ctx.state.providers.insert(id, p);
    Ok(())
}
