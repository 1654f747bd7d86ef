//! Accounts: balances, nonces, transfers, and the only two ways value appears
//! (reward mint) or disappears (slashing burn).

use serde::{Deserialize, Serialize};

use crate::apply::Ctx;
use crate::events::Event;
use crate::outcome::TxError;
use crate::state::State;
use crate::types::{Address, Amount};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub balance: Amount,
    /// The nonce the next transaction from this account must carry.
    pub nonce: u64,
    /// Providers registered by this account (bounded by MaxProvidersPerNode).
    pub providers: u32,
}

impl State {
    pub fn account(&self, who: &Address) -> Account {
        self.accounts.get(who).cloned().unwrap_or_default()
    }

    pub fn balance(&self, who: &Address) -> Amount {
        self.accounts.get(who).map_or(0, |a| a.balance)
    }

    pub(crate) fn debit(&mut self, who: &Address, amount: Amount) -> Result<(), TxError> {
        self.accounts.update(*who, |acct| {
            let mut acct = acct.cloned().unwrap_or_default();
            acct.balance =
                acct.balance
                    .checked_sub(amount)
                    .ok_or(TxError::InsufficientBalance {
                        need: amount,
                        have: acct.balance,
                    })?;
            Ok(acct)
        })
    }

    pub(crate) fn credit(&mut self, who: &Address, amount: Amount) -> Result<(), TxError> {
        if amount == 0 {
            return Ok(());
        }
        self.accounts.update(*who, |acct| {
            let mut acct = acct.cloned().unwrap_or_default();
            acct.balance = acct.balance.checked_add(amount).ok_or(TxError::Overflow)?;
            Ok(acct)
        })
    }

    /// Destroys value that has already left every holder (a slash). The only sink.
    pub(crate) fn burn(&mut self, amount: Amount, events: &mut Vec<Event>) {
        if amount == 0 {
            return;
        }
        self.globals.total_supply = self.globals.total_supply.saturating_sub(amount);
        self.globals.total_burned = self.globals.total_burned.saturating_add(amount);
        events.push(Event::Burned { amount });
    }

    /// Creates value (a mining reward). The only source after genesis.
    pub(crate) fn mint(&mut self, amount: Amount) -> Result<(), TxError> {
        self.globals.total_supply = self
            .globals
            .total_supply
            .checked_add(amount)
            .ok_or(TxError::Overflow)?;
        self.globals.total_minted = self.globals.total_minted.saturating_add(amount);
        Ok(())
    }
}

pub(crate) fn transfer(ctx: &mut Ctx, to: Address, amount: Amount) -> Result<(), TxError> {
    if amount == 0 {
        return Err(TxError::ZeroAmount);
    }
    let from = ctx.signer;
    ctx.state.debit(&from, amount)?;
    ctx.state.credit(&to, amount)?;
    ctx.events.push(Event::Transferred { from, to, amount });
    Ok(())
}
