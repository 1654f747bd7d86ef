//! M-of-N redundant verification.
//! (Commit-reveal among N providers lands with the verification-modes issue.)

use crate::apply::{Ctx, EndCtx};
use crate::block::Header;
use crate::events::Event;
use crate::outcome::TxError;
use crate::state::State;
use crate::tasks::Task;
use crate::types::{Hash, ProviderId};

pub(crate) fn assign(_state: &mut State, _task: Task, _header: &Header, _events: &mut Vec<Event>) {}

pub(crate) fn commit(_ctx: &mut Ctx, _task: Task, _provider: ProviderId, _c: Hash) -> Result<(), TxError> {
    Err(TxError::NotInCommittee)
}

pub(crate) fn reveal(_ctx: &mut Ctx, _task: Task, _provider: ProviderId, _out: Hash, _salt: Hash) -> Result<(), TxError> {
    Err(TxError::NotInCommittee)
}

pub(crate) fn on_timer(_end: &mut EndCtx, _task: Task) {}
