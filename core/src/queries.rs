//! Read-only queries matching the seed's getters, each in a deterministic order.

use serde::{Deserialize, Serialize};

use crate::models::Model;
use crate::providers::{Provider, ProviderStatus};
use crate::state::State;
use crate::tasks::{Task, TaskStatus};
use crate::types::{Amount, Hash, ProviderId};

/// The seed's `GetStats` fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub tasks_pending: u64,
    pub tasks_completed: u64,
    pub tasks_failed: u64,
    pub providers_total: u64,
    pub providers_active: u64,
    pub models_available: u64,
    pub total_minted: Amount,
    pub epoch: u64,
    pub epoch_rewards: Amount,
    pub receipts_processed: u64,
    pub total_supply: Amount,
    pub total_burned: Amount,
    pub treasury: Amount,
}

/// The seed's `GetRewardStats` fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardStats {
    pub provider_id: ProviderId,
    pub tasks_completed: u64,
    pub total_rewards: Amount,
    pub pending_rewards: Amount,
    /// Share of assignments delivered, parts per million; None before any.
    pub uptime_ppm: Option<u32>,
    pub avg_latency_ms: u64,
    pub slashed: Amount,
}

impl State {
    /// Providers in id order.
    pub fn providers(&self) -> Vec<&Provider> {
        self.providers.values().collect()
    }

    /// Models in id order.
    pub fn models(&self) -> Vec<&Model> {
        self.models.values().collect()
    }

    /// Tasks in id order.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values()
    }

    /// Pending tasks in queue (admission) order.
    pub fn pending_tasks(&self) -> Vec<&Task> {
        self.queue
            .values()
            .filter_map(|id| self.tasks.get(id))
            .collect()
    }

    pub fn accounts(
        &self,
    ) -> impl Iterator<Item = (&crate::types::Address, &crate::accounts::Account)> {
        self.accounts.iter()
    }

    pub fn stats(&self) -> Stats {
        let g = &self.globals;
        Stats {
            tasks_pending: self.queue.len() as u64,
            tasks_completed: g.tasks_completed,
            tasks_failed: g.tasks_failed,
            providers_total: self.providers.len(),
            providers_active: self
                .providers
                .values()
                .filter(|p| p.status == ProviderStatus::Active)
                .count() as u64,
            models_available: self.models.values().filter(|m| !m.retired).count() as u64,
            total_minted: g.total_minted,
            epoch: g.epoch,
            epoch_rewards: g.epoch_rewards,
            receipts_processed: g.receipts_processed,
            total_supply: g.total_supply,
            total_burned: g.total_burned,
            treasury: g.treasury,
        }
    }

    pub fn reward_stats(&self, id: &ProviderId) -> Option<RewardStats> {
        let p = self.providers.get(id)?;
        Some(RewardStats {
            provider_id: p.id,
            tasks_completed: p.stats.tasks_completed,
            total_rewards: p.stats.total_rewards,
            pending_rewards: p.stats.pending_rewards,
            uptime_ppm: p.stats.uptime_ppm(),
            avg_latency_ms: p.stats.avg_latency_ms(),
            slashed: p.stats.slashed,
        })
    }

    /// The seed's `GetMerkleRoot`: the committed state root.
    pub fn merkle_root(&self) -> Hash {
        self.state_root
    }

    /// Count of tasks by status, in status order.
    pub fn task_counts(&self) -> Vec<(TaskStatus, u64)> {
        let mut counts = std::collections::BTreeMap::new();
        for t in self.tasks.values() {
            *counts.entry(t.status).or_insert(0u64) += 1;
        }
        counts.into_iter().collect()
    }

    /// Inclusion proof of a task's leaf in the tasks tree.
    pub fn task_proof(
        &self,
        id: &crate::types::TaskId,
    ) -> Option<crate::commit::tree::MerkleProof> {
        self.tasks.proof(id)
    }
}
