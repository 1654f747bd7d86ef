//! Undoing a failed transaction without copying the state.
//!
//! A transaction either happens whole or not at all (PROTOCOL §2). Its
//! handler writes the state directly; [`State::begin_tx`] sets a rollback
//! point and [`State::rollback_tx`] returns to it exactly. What a handler can
//! change, and how each part is undone:
//! - the four collections: each keeps its own journal ([`super::Collection::begin`]);
//! - the global counters: a copy taken at the rollback point (a few words
//!   and two `Arc`s);
//! - the pending queue and the timers: the inverse of every change, replayed
//!   backwards (they change only through `enqueue`, `dequeue` and `set_timer`).
//!
//! Tip and roots change only at block end, outside any transaction; config,
//! chain id, governance and genesis hash never change after genesis.

use super::{Globals, State};
use crate::types::TaskId;

/// The rollback point of the open transaction.
#[derive(Clone, Debug, Default)]
pub(crate) struct TxJournal {
    /// The global counters at [`State::begin_tx`]; `None` when no transaction is open.
    globals: Option<Globals>,
    /// The inverse of each queue and timer change since then, oldest first.
    undo: Vec<Undo>,
}

/// The inverse of one change of the queue or the timers.
#[derive(Clone, Debug)]
enum Undo {
    QueueRemove(u64),
    QueueInsert(u64, TaskId),
    TimerRemove((u64, TaskId)),
    TimerInsert((u64, TaskId)),
}

impl State {
    /// Opens a transaction; see the module doc.
    pub(crate) fn begin_tx(&mut self) {
        self.accounts.begin();
        self.providers.begin();
        self.tasks.begin();
        self.models.begin();
        self.journal.globals = Some(self.globals.clone());
        self.journal.undo.clear();
    }

    /// Closes the open transaction, keeping its changes.
    pub(crate) fn commit_tx(&mut self) {
        self.accounts.end();
        self.providers.end();
        self.tasks.end();
        self.models.end();
        self.journal.globals = None;
        self.journal.undo.clear();
    }

    /// Closes the open transaction, undoing every change since
    /// [`State::begin_tx`]. Without an open transaction, does nothing.
    pub(crate) fn rollback_tx(&mut self) {
        let Some(globals) = self.journal.globals.take() else {
            return;
        };
        self.accounts.rollback();
        self.providers.rollback();
        self.tasks.rollback();
        self.models.rollback();
        self.globals = globals;
        while let Some(undo) = self.journal.undo.pop() {
            match undo {
                Undo::QueueRemove(seq) => {
                    self.queue.remove(&seq);
                }
                Undo::QueueInsert(seq, id) => {
                    self.queue.insert(seq, id);
                }
                Undo::TimerRemove(key) => {
                    self.timers.remove(&key);
                }
                Undo::TimerInsert(key) => {
                    self.timers.insert(key, ());
                }
            }
        }
    }

    fn record(&mut self, undo: Undo) {
        if self.journal.globals.is_some() {
            self.journal.undo.push(undo);
        }
    }

    pub(crate) fn insert_timer(&mut self, key: (u64, TaskId)) {
        if self.timers.insert(key, ()).is_none() {
            self.record(Undo::TimerRemove(key));
        }
    }

    pub(crate) fn remove_timer(&mut self, key: &(u64, TaskId)) -> bool {
        let removed = self.timers.remove(key).is_some();
        if removed {
            self.record(Undo::TimerInsert(*key));
        }
        removed
    }

    pub(crate) fn insert_queued(&mut self, seq: u64, id: TaskId) {
        match self.queue.insert(seq, id) {
            None => self.record(Undo::QueueRemove(seq)),
            Some(previous) => self.record(Undo::QueueInsert(seq, previous)),
        }
    }

    pub(crate) fn remove_queued(&mut self, seq: &u64) {
        if let Some(id) = self.queue.remove(seq) {
            self.record(Undo::QueueInsert(*seq, id));
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::chain::Chain;
    use crate::genesis::Genesis;
    use crate::tasks::Task;
    use crate::tx::Action;
    use crate::types::{Address, TaskType};

    /// A change a transaction handler can make, on task `i` or account `i`.
    #[derive(Clone, Debug)]
    enum Change {
        Enqueue(u8),
        Dequeue(u8),
        Timer(u8, Option<u8>),
        RemoveTask(u8),
        Credit(u8, u64),
        Fees(u64),
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            (0u8..6).prop_map(Change::Enqueue),
            (0u8..6).prop_map(Change::Dequeue),
            (0u8..6, prop::option::of(0u8..4)).prop_map(|(i, h)| Change::Timer(i, h)),
            (0u8..6).prop_map(Change::RemoveTask),
            (0u8..12, 1u64..1_000).prop_map(|(i, a)| Change::Credit(i, a)),
            (1u64..1_000).prop_map(Change::Fees),
        ]
    }

    /// A state with one real task (submitted through a block), the template
    /// of the tasks the changes create.
    fn start() -> (State, Task) {
        let genesis = Genesis::new("journal-test", vec![(Chain::addr("alice"), 1 << 90)]);
        let mut chain = Chain::new(genesis).expect("a valid genesis");
        let submit = Action::SubmitTask {
            model: crate::models::default_models()[0].id.clone(),
            task_type: TaskType::Inference,
            input_hash: [7; 32],
            inline_input: Vec::new(),
            fee: 1 << 60,
            redundancy: None,
        };
        let tx = chain.tx("alice", submit);
        chain.block(vec![tx]).expect("the block applies");
        let template = chain
            .state
            .tasks
            .values()
            .next()
            .cloned()
            .expect("the task was admitted");
        (chain.state, template)
    }

    fn task_id(i: u8) -> TaskId {
        TaskId([i.wrapping_add(100); 32])
    }

    fn make(state: &mut State, template: &Task, change: &Change) {
        let existing = |state: &State, i: u8| {
            let mut t = state.tasks.get(&task_id(i)).cloned().unwrap_or_else(|| {
                let mut t = template.clone();
                (t.id, t.queue_seq, t.timer) = (task_id(i), None, None);
                t
            });
            t.id = task_id(i);
            t
        };
        match *change {
            Change::Enqueue(i) => {
                let mut t = existing(state, i);
                if t.queue_seq.is_none() {
                    state.enqueue(&mut t);
                }
                state.put_task(t);
            }
            Change::Dequeue(i) => {
                let mut t = existing(state, i);
                state.dequeue(&mut t);
                state.put_task(t);
            }
            Change::Timer(i, h) => {
                let mut t = existing(state, i);
                state.set_timer(&mut t, h.map(u64::from));
                state.put_task(t);
            }
            Change::RemoveTask(i) => {
                let mut t = existing(state, i);
                state.dequeue(&mut t);
                state.set_timer(&mut t, None);
                state.tasks.remove(&t.id);
            }
            Change::Credit(i, amount) => {
                let _ = state.credit(&Address([i; 32]), u128::from(amount));
            }
            Change::Fees(amount) => state.globals.fee_pot += u128::from(amount),
        }
    }

    /// Everything a transaction can change, and the roots once committed.
    fn same(a: &State, b: &State) -> Result<(), TestCaseError> {
        prop_assert_eq!(&a.globals, &b.globals);
        prop_assert_eq!(&a.queue, &b.queue);
        prop_assert_eq!(&a.timers, &b.timers);
        prop_assert!(a.accounts.iter().eq(b.accounts.iter()));
        prop_assert!(a.tasks.iter().eq(b.tasks.iter()));
        prop_assert!(a.providers.iter().eq(b.providers.iter()));
        prop_assert!(a.models.iter().eq(b.models.iter()));
        let (mut a, mut b) = (a.clone(), b.clone());
        a.commit_roots();
        b.commit_roots();
        prop_assert_eq!(a.state_root, b.state_root);
        Ok(())
    }

    proptest! {
        /// A rolled-back transaction leaves the state as it was; a kept one
        /// leaves it as the same changes made with no transaction open.
        #[test]
        fn rollback_restores_and_commit_keeps(
            before in prop::collection::vec(change(), 0..10),
            during in prop::collection::vec(change(), 0..30),
            keep in any::<bool>(),
        ) {
            let (mut state, template) = start();
            for c in &before {
                make(&mut state, &template, c);
            }
            let mut expected = state.clone();
            if keep {
                for c in &during {
                    make(&mut expected, &template, c);
                }
            }
            state.begin_tx();
            for c in &during {
                make(&mut state, &template, c);
            }
            if keep {
                state.commit_tx();
            } else {
                state.rollback_tx();
            }
            same(&state, &expected)?;
            prop_assert!(state.journal.globals.is_none() && state.journal.undo.is_empty());
        }
    }
}
