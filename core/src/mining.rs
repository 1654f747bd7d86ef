//! Mining rewards: minted per finalised task by the configured schedule into the
//! provider's pending rewards, counted per epoch, claimed by the owner.

use crate::apply::{Ctx, EndCtx};
use crate::config::RewardSchedule;
use crate::events::Event;
use crate::outcome::TxError;
use crate::providers::Provider;
use crate::reward::{epoch_of, task_reward};
use crate::state::State;
use crate::types::{Amount, ProviderId};

pub(crate) fn reward_for(state: &State, p: &Provider, compute_time_ms: u64) -> Amount {
    let cfg = &state.config;
    task_reward(
        cfg.reward_schedule == RewardSchedule::Flat,
        cfg.base_reward,
        compute_time_ms,
        p.gpu_model(),
        p.stats.uptime_ppm(),
    )
}

/// Mints `amount` into the provider's pending rewards.
pub(crate) fn credit_reward(end: &mut EndCtx, pid: ProviderId, amount: Amount) {
    let Some(mut p) = end.state.providers.get(&pid).cloned() else {
        return;
    };
    if amount == 0 || end.state.mint(amount).is_err() {
        return;
    }
    p.stats.pending_rewards = p.stats.pending_rewards.saturating_add(amount);
    p.stats.total_rewards = p.stats.total_rewards.saturating_add(amount);
    end.state.providers.insert(pid, p);
    end.state.globals.epoch_rewards = end.state.globals.epoch_rewards.saturating_add(amount);
    let epoch = end.state.globals.epoch;
    end.events.push(Event::RewardMinted {
        provider: pid,
        amount,
        epoch,
    });
}

/// Starts a new epoch when the header time crosses an EpochDuration boundary.
pub(crate) fn roll_epoch(end: &mut EndCtx) {
    let epoch = epoch_of(end.header.time_ms, end.state.config.epoch_duration_ms);
    if epoch != end.state.globals.epoch {
        end.state.globals.epoch = epoch;
        end.state.globals.epoch_rewards = 0;
        end.events.push(Event::EpochStarted { epoch });
    }
}

pub(crate) fn claim(ctx: &mut Ctx, id: ProviderId) -> Result<(), TxError> {
    let mut p = ctx.state.owned_provider(&id, &ctx.signer)?;
    let amount = p.stats.pending_rewards;
    if amount == 0 {
        return Err(TxError::NothingToClaim);
    }
    p.stats.pending_rewards = 0;
    let owner = p.owner;
    ctx.state.providers.insert(id, p);
    ctx.state.credit(&owner, amount)?;
    ctx.events.push(Event::RewardsClaimed {
        provider: id,
        owner,
        amount,
    });
    Ok(())
}
