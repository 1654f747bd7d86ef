//! # aivm-core
//!
//! The pure, deterministic state machine of aivm: clients pay bonded providers to
//! run AI tasks, and the chain decides which result is right (optimistic
//! challenge windows, M-of-N redundancy, TEE-accelerated finality), pays the
//! honest and slashes the cheats.
//!
//! One entry point: [`apply_block`]`(&State, &Block) -> Result<(State, BlockOutcome), BlockError>`.
//! No I/O, no clock, no floats, no hash-map order, no panics on any input.
//! Time and randomness come only from the block [`Header`].
//!
//! See `docs/PROTOCOL.md` for every rule with its parameter and default.

pub mod accounts;
pub mod anchor;
pub mod apply;
pub mod assignment;
pub mod attestation;
pub mod block;
pub mod chain;
pub mod commit;
pub mod config;
pub mod dag;
pub mod dispute;
pub mod encoding;
pub mod error;
pub mod events;
#[cfg(feature = "arbitrary")]
pub mod fuzzing;
pub mod genesis;
pub mod invariants;
mod keys;
pub mod mining;
pub mod models;
pub mod optimistic;
pub mod outcome;
pub mod providers;
pub mod queries;
pub mod redundant;
pub mod reward;
pub mod state;
pub mod tasks;
pub mod tee;
pub mod tx;
pub mod types;

pub use apply::{
    apply_block, apply_block_in_place, apply_observed, apply_verified_block,
    apply_verified_block_in_place, check_header, check_tx,
};
pub use block::{Block, Header};
pub use config::{Config, VerificationMode};
pub use events::Event;
pub use genesis::Genesis;
pub use outcome::{BlockError, BlockOutcome, CheckError, Receipt, TxError, TxStatus};
pub use state::State;
pub use tx::{Action, SignedTx, TxBody, VerifiedTx};
pub use types::{Address, Amount, Hash, ProviderId, TaskId};
