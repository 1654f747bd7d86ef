//! A small driver for building chains in tests, scenarios, benchmarks and the
//! demo: named actors with deterministic keys, automatic nonces, and headers
//! with a deterministic seed and clock. Not used by the state machine itself.

use std::collections::BTreeMap;

use ed25519_zebra::SigningKey;

use crate::apply::apply_observed;
use crate::block::Block;
use crate::genesis::{Genesis, GenesisError};
use crate::outcome::{BlockError, BlockOutcome};
use crate::state::State;
use crate::tx::{address_from_name, key_from_name, Action, SignedTx, TxBody};
use crate::types::{Address, Hash};

/// Milliseconds between consecutive blocks built by [`Chain`].
pub const DEFAULT_BLOCK_TIME_MS: u64 = 2_000;

pub struct Chain {
    pub genesis: Genesis,
    pub state: State,
    pub blocks: Vec<Block>,
    pub outcomes: Vec<BlockOutcome>,
    pub block_time_ms: u64,
    /// Check conservation and indexes after every transaction (tests).
    pub check_invariants: bool,
    /// Proposer of every block.
    pub proposer: Address,
    keys: BTreeMap<String, SigningKey>,
    next_nonce: BTreeMap<Address, u64>,
}

/// Why a [`Chain`] step failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Block(#[from] BlockError),
    #[error("invariant broken after {after}: {error}")]
    Invariant {
        after: String,
        error: crate::invariants::InvariantError,
    },
}

impl Chain {
    pub fn new(genesis: Genesis) -> Result<Self, GenesisError> {
        let state = State::genesis(&genesis)?;
        Ok(Chain {
            genesis,
            state,
            blocks: Vec::new(),
            outcomes: Vec::new(),
            block_time_ms: DEFAULT_BLOCK_TIME_MS,
            check_invariants: cfg!(debug_assertions),
            proposer: address_from_name("proposer"),
            keys: BTreeMap::new(),
            next_nonce: BTreeMap::new(),
        })
    }

    /// The address of a named actor.
    pub fn addr(name: &str) -> Address {
        address_from_name(name)
    }

    fn key(&mut self, name: &str) -> SigningKey {
        *self
            .keys
            .entry(name.to_string())
            .or_insert_with(|| key_from_name(name))
    }

    /// Signs `action` by `name` with its next nonce (counting txs built but not yet applied).
    pub fn tx(&mut self, name: &str, action: Action) -> SignedTx {
        let key = self.key(name);
        let addr = address_from_name(name);
        let nonce = self
            .next_nonce
            .get(&addr)
            .copied()
            .unwrap_or_else(|| self.state.account(&addr).nonce);
        self.next_nonce.insert(addr, nonce + 1);
        TxBody {
            chain_id: self.state.chain_id().to_string(),
            nonce,
            action,
        }
        .sign(&key)
    }

    /// The seed the next block will carry.
    pub fn seed_for(height: u64) -> Hash {
        blake3::derive_key("aivm v1 chain driver seed", &height.to_le_bytes())
    }

    /// Builds the next block around `txs` without applying it.
    pub fn next_block(&self, txs: Vec<SignedTx>) -> Block {
        let tip = self.state.tip();
        let height = tip.height + 1;
        Block::new(
            self.state.chain_id(),
            height,
            tip.block_id,
            tip.time_ms.max(self.genesis.time_ms) + self.block_time_ms,
            self.proposer,
            Self::seed_for(height),
            txs,
        )
    }

    /// Builds, applies and records the next block.
    pub fn block(&mut self, txs: Vec<SignedTx>) -> Result<&BlockOutcome, ChainError> {
        let block = self.next_block(txs);
        self.apply(block)
    }

    /// Applies an externally built block.
    pub fn apply(&mut self, block: Block) -> Result<&BlockOutcome, ChainError> {
        let verified = block.txs.iter().map(|t| t.verify()).collect();
        let check = self.check_invariants;
        let mut broken = None;
        let (state, outcome) = apply_observed(&self.state, &block, verified, &mut |s, r| {
            if check && broken.is_none() {
                if let Err(e) = s.check_invariants() {
                    let after = r.map_or("block end".to_string(), |r| format!("{:?}", r.status));
                    broken = Some((after, e));
                }
            }
        })?;
        if let Some((after, error)) = broken {
            return Err(ChainError::Invariant { after, error });
        }
        self.state = state;
        self.next_nonce.clear();
        self.blocks.push(block);
        self.outcomes.push(outcome);
        // Cannot fail: the outcome was pushed on the line above.
        Ok(self.outcomes.last().expect("just pushed"))
    }

    /// Applies `n` empty blocks.
    pub fn advance(&mut self, n: u64) -> Result<(), ChainError> {
        for _ in 0..n {
            self.block(Vec::new())?;
        }
        Ok(())
    }

    pub fn last_outcome(&self) -> Option<&BlockOutcome> {
        self.outcomes.last()
    }
}
