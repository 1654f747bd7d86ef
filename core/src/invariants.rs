//! Conservation: value is created only by the reward mint and destroyed only by
//! slashing burns. `State::check_invariants` proves it after every tx in tests.

use thiserror::Error;

use crate::state::State;
use crate::tasks::TaskStatus;
use crate::types::Amount;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvariantError {
    #[error("value held ({held}) differs from total supply ({supply})")]
    SupplyMismatch { held: Amount, supply: Amount },
    #[error("value held overflows u128")]
    Overflow,
    #[error("provider {0} has more locked collateral than bond")]
    LockedExceedsBond(String),
    #[error("queue index disagrees with pending tasks")]
    QueueIndex,
    #[error("timer index disagrees with tasks")]
    TimerIndex,
}

/// Where every unit of value sits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holdings {
    pub balances: Amount,
    pub bonds: Amount,
    pub task_escrows: Amount,
    pub challenge_bonds: Amount,
    pub pending_rewards: Amount,
    pub model_deposits: Amount,
    pub treasury: Amount,
    pub fee_pot: Amount,
}

impl Holdings {
    pub fn total(&self) -> Option<Amount> {
        [
            self.bonds,
            self.task_escrows,
            self.challenge_bonds,
            self.pending_rewards,
            self.model_deposits,
            self.treasury,
            self.fee_pot,
        ]
        .into_iter()
        .try_fold(self.balances, |a, b| a.checked_add(b))
    }
}

fn sum<I: IntoIterator<Item = Amount>>(it: I) -> Option<Amount> {
    it.into_iter().try_fold(0u128, |a, b| a.checked_add(b))
}

impl State {
    pub fn holdings(&self) -> Option<Holdings> {
        Some(Holdings {
            balances: sum(self.accounts.values().map(|a| a.balance))?,
            bonds: sum(self.providers.values().map(|p| p.bond))?,
            task_escrows: sum(self.tasks.values().map(|t| t.fee))?,
            challenge_bonds: sum(self.tasks.values().map(|t| t.escrowed_bonds()))?,
            pending_rewards: sum(self.providers.values().map(|p| p.stats.pending_rewards))?,
            model_deposits: sum(self.models.values().map(|m| m.deposit))?,
            treasury: self.globals.treasury,
            fee_pot: self.globals.fee_pot,
        })
    }

    /// Checks conservation and the internal indexes. O(state size): for tests.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        let held = self
            .holdings()
            .and_then(|h| h.total())
            .ok_or(InvariantError::Overflow)?;
        if held != self.globals.total_supply {
            return Err(InvariantError::SupplyMismatch {
                held,
                supply: self.globals.total_supply,
            });
        }
        if let Some(p) = self.providers.values().find(|p| p.locked > p.bond) {
            return Err(InvariantError::LockedExceedsBond(p.id.to_string()));
        }
        let pending = self
            .tasks
            .values()
            .filter(|t| t.status == TaskStatus::Pending)
            .count();
        let queued_ok = self.queue.values().all(|id| {
            self.tasks
                .get(id)
                .is_some_and(|t| t.status == TaskStatus::Pending)
        });
        if pending != self.queue.len() || !queued_ok {
            return Err(InvariantError::QueueIndex);
        }
        let timers_ok = self
            .timers
            .keys()
            .all(|(h, id)| self.tasks.get(id).is_some_and(|t| t.timer == Some(*h)));
        let timed = self.tasks.values().filter(|t| t.timer.is_some()).count();
        if !timers_ok || timed != self.timers.len() {
            return Err(InvariantError::TimerIndex);
        }
        Ok(())
    }
}
