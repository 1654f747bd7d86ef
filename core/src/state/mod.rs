//! The whole chain state: persistent collections (O(1) to copy between
//! blocks) plus a few global counters. Every consensus value lives here and nowhere else.

pub mod collection;
mod journal;
pub mod root;

use std::sync::Arc;

use imbl::OrdMap;
use serde::{Deserialize, Serialize};

pub use collection::Collection;
pub use root::CollectionRoots;

use crate::accounts::Account;
use crate::config::Config;
use crate::models::Model;
use crate::providers::Provider;
use crate::tasks::Task;
use crate::types::{Address, Amount, Hash, ModelId, ProviderId, TaskId};

/// Counters of the seed's stats endpoint that are not simply collection sizes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Globals {
    /// Everything that exists: minted at genesis and by rewards, minus burns.
    pub total_supply: Amount,
    pub total_minted: Amount,
    pub total_burned: Amount,
    /// The protocol's share of task fees.
    pub treasury: Amount,
    /// Transaction fees of the block being applied; paid to its proposer at block end,
    /// so fee credits never make two otherwise independent transactions conflict.
    pub fee_pot: Amount,
    pub epoch: u64,
    pub epoch_rewards: Amount,
    pub tasks_completed: u64,
    pub tasks_failed: u64,
    pub receipts_processed: u64,
    /// Next sequence number of the pending queue.
    pub queue_seq: u64,
    /// Measurements of TEE software stacks disproven by a fraud proof, sorted.
    /// Shared (`Arc`) so that copying the counters stays cheap: every
    /// transaction's rollback point copies them, and `apply_block` copies the state.
    pub revoked_measurements: Arc<Vec<Hash>>,
    /// Results roots of the blocks since the last anchor, oldest first.
    pub unanchored_results_roots: Arc<Vec<Hash>>,
}

/// Chain position: what the next block must link to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tip {
    pub height: u64,
    pub block_id: Hash,
    pub time_ms: u64,
}

#[derive(Clone, Debug)]
pub struct State {
    /// Shared so that a copy of the state allocates nothing.
    pub(crate) chain_id: Arc<str>,
    pub(crate) config: Arc<Config>,
    pub(crate) governance: Option<Address>,
    pub(crate) genesis_hash: Hash,
    pub(crate) tip: Tip,
    pub(crate) globals: Globals,
    pub(crate) accounts: Collection<Address, Account>,
    pub(crate) providers: Collection<ProviderId, Provider>,
    pub(crate) tasks: Collection<TaskId, Task>,
    pub(crate) models: Collection<ModelId, Model>,
    /// Pending (unassigned) tasks in admission order: (seq -> task). Derived from
    /// `tasks`, so it is not committed separately.
    pub(crate) queue: OrdMap<u64, TaskId>,
    /// Height-driven deadlines: (height, task) -> (), processed at block end.
    pub(crate) timers: OrdMap<(u64, TaskId), ()>,
    /// Last committed roots.
    pub(crate) state_root: Hash,
    /// How to undo the open transaction; empty between transactions.
    pub(crate) journal: journal::TxJournal,
}

impl State {
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn tip(&self) -> &Tip {
        &self.tip
    }
    pub fn height(&self) -> u64 {
        self.tip.height
    }
    pub fn globals(&self) -> &Globals {
        &self.globals
    }
    pub fn governance(&self) -> Option<Address> {
        self.governance
    }
    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }
    /// The state root committed at the end of the last block (or genesis).
    pub fn state_root(&self) -> Hash {
        self.state_root
    }

    /// A copy of the state that shares no map node or tree page with `self`.
    ///
    /// A clone between blocks is O(1) because it shares everything (within a
    /// block it also copies each collection's map of the block's changes),
    /// and the first write to a shared node copies it. A node that keeps only the newest state applies
    /// blocks in place ([`crate::apply_block_in_place`]) on a state nothing
    /// shares, which copies nothing; this builds such a state from one that is
    /// shared (benchmarks of in-place application need one per run). O(n).
    pub fn unshared(&self) -> State {
        State {
            chain_id: self.chain_id.clone(),
            config: self.config.clone(),
            governance: self.governance,
            genesis_hash: self.genesis_hash,
            tip: self.tip.clone(),
            globals: self.globals.clone(),
            accounts: self.accounts.unshared(),
            providers: self.providers.unshared(),
            tasks: self.tasks.unshared(),
            models: self.models.unshared(),
            queue: self.queue.iter().map(|(k, v)| (*k, *v)).collect(),
            timers: self.timers.iter().map(|(k, v)| (*k, *v)).collect(),
            state_root: self.state_root,
            journal: self.journal.clone(),
        }
    }

    pub(crate) fn set_timer(&mut self, task: &mut Task, height: Option<u64>) {
        if let Some(old) = task.timer {
            self.remove_timer(&(old, task.id));
        }
        task.timer = height;
        if let Some(h) = height {
            self.insert_timer((h, task.id));
        }
    }

    pub(crate) fn enqueue(&mut self, task: &mut Task) {
        let seq = self.globals.queue_seq;
        self.globals.queue_seq += 1;
        task.queue_seq = Some(seq);
        self.insert_queued(seq, task.id);
    }

    pub(crate) fn dequeue(&mut self, task: &mut Task) {
        if let Some(seq) = task.queue_seq.take() {
            self.remove_queued(&seq);
        }
    }

    pub fn is_revoked(&self, measurement: &Hash) -> bool {
        self.globals.revoked_measurements.contains(measurement)
    }
}
