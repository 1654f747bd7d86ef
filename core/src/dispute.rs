//! Disputes: the fraud-proof flow of optimistic mode.
//! (Referee committee resolution lands with the verification-modes issue.)

use crate::apply::{Ctx, EndCtx};
use crate::outcome::TxError;
use crate::tasks::{Task, TaskStatus};
use crate::types::{Hash, ProviderId};

/// A challenge was paid for: the task waits in Disputed with both bonds locked.
pub(crate) fn open(ctx: &mut Ctx, mut task: Task) -> Result<(), TxError> {
    task.status = TaskStatus::Disputed;
    ctx.state.set_timer(&mut task, None);
    ctx.state.put_task(task);
    Ok(())
}

pub(crate) fn commit(_ctx: &mut Ctx, _task: Task, _provider: ProviderId, _c: Hash) -> Result<(), TxError> {
    Err(TxError::NotInCommittee)
}

pub(crate) fn reveal(_ctx: &mut Ctx, _task: Task, _provider: ProviderId, _out: Hash, _salt: Hash) -> Result<(), TxError> {
    Err(TxError::NotInCommittee)
}

pub(crate) fn reveal_claim(_ctx: &mut Ctx, _task: crate::types::TaskId, _out: Hash, _salt: Hash) -> Result<(), TxError> {
    Err(TxError::NoCommitment)
}

pub(crate) fn on_timer(_end: &mut EndCtx, _task: Task) {}
