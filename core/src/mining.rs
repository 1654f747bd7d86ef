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

/// The mining reward for one finalised task: the schedule's amount, capped at
/// `cap`, the protocol's share of that task's fee (split among the providers paid
/// for it). The cap is what makes self-dealing pointless: whoever submits tasks
/// to its own providers (from any number of accounts, even as every proposer)
/// pays at least the protocol share per task and is minted at most that much.
pub(crate) fn reward_for(state: &State, p: &Provider, compute_time_ms: u64, cap: Amount) -> Amount {
    let cfg = &state.config;
    let scheduled = task_reward(
        cfg.reward_schedule == RewardSchedule::Flat,
        cfg.base_reward,
        compute_time_ms,
        p.gpu_model(),
        p.stats.uptime_ppm(),
    );
    scheduled.min(cap)
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
