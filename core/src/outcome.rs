//! What applying a block yields: per-tx receipts, end-of-block events, roots,
//! and the errors that separate an invalid block or tx from a failed one.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::anchor::Anchor;
use crate::attestation::AttestationError;
use crate::events::Event;
use crate::tx::AuthError;
use crate::types::{Amount, Hash};

/// A header that cannot follow the current state. Nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum BlockError {
    #[error("block is for chain {got:?}, this chain is {expected:?}")]
    WrongChain { expected: String, got: String },
    #[error("block height {got} does not follow {expected_prev}")]
    WrongHeight { expected_prev: u64, got: u64 },
    #[error("block parent {got} is not the tip {expected}", got = crate::types::hex(got), expected = crate::types::hex(expected))]
    WrongParent { expected: Hash, got: Hash },
    #[error("block time {got} ms is before the previous block's {last} ms")]
    TimeWentBackwards { last: u64, got: u64 },
    #[error("header tx_root does not match the block's transactions")]
    TxRootMismatch,
    #[error("{got} transactions were supplied for a block that has {expected}")]
    TxCountMismatch { expected: u64, got: u64 },
}

/// A transaction that cannot be charged: it changes nothing at all.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum CheckError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("tx is for chain {got:?}, this chain is {expected:?}")]
    WrongChain { expected: String, got: String },
    #[error("nonce {got} but the account expects {expected}")]
    BadNonce { expected: u64, got: u64 },
    #[error("balance {balance} cannot pay the fee {fee}")]
    CannotPayFee { balance: Amount, fee: Amount },
}

/// A transaction that was charged but whose action was refused. Only its fee and
/// nonce take effect.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum TxError {
    #[error("insufficient balance: need {need}, have {have}")]
    InsufficientBalance { need: Amount, have: Amount },
    #[error("amount must be positive")]
    ZeroAmount,
    #[error("arithmetic overflow")]
    Overflow,
    #[error("model id must be 1..={max} printable ASCII bytes")]
    BadModelId { max: u32 },
    #[error("model {0:?} already exists")]
    ModelExists(String),
    #[error("unknown model {0:?}")]
    UnknownModel(String),
    #[error("model {0:?} is retired")]
    ModelRetired(String),
    #[error("a model needs at least one task type and a positive context length")]
    BadModelSpec,
    #[error("only the governance account may do this")]
    NotGovernance,
    #[error("unknown provider")]
    UnknownProvider,
    #[error("only the provider's owner may do this")]
    NotProviderOwner,
    #[error("bond {bond} is below the minimum {min}")]
    BondBelowMinimum { bond: Amount, min: Amount },
    #[error("owner already runs the maximum of {max} providers")]
    TooManyProviders { max: u32 },
    #[error("endpoint longer than {max} bytes")]
    EndpointTooLong { max: u32 },
    #[error("more than {max} GPU entries, or a GPU name longer than {name_max} bytes")]
    BadGpuList { max: u32, name_max: u32 },
    #[error("a provider must serve between 1 and {max} known models")]
    BadModelList { max: u32 },
    #[error("provider is not active")]
    ProviderNotActive,
    #[error("provider is already unbonding")]
    AlreadyUnbonding,
    #[error("provider is not unbonding")]
    NotUnbonding,
    #[error("unbonding cooldown runs until height {until}")]
    CooldownNotOver { until: u64 },
    #[error("provider still has {open} tasks with open windows")]
    OpenTasks { open: u32 },
    #[error("this chain requires a TEE attestation")]
    AttestationRequired,
    #[error("attestation refused: {0}")]
    Attestation(AttestationError),
    #[error("trust score {score} is below the minimum {min}")]
    TrustTooLow { score: u8, min: u8 },
    #[error("task fee {fee} is below the minimum {min}")]
    FeeBelowMinimum { fee: Amount, min: Amount },
    #[error("task queue is full ({max} pending); retry later")]
    QueueFull { max: u32 },
    #[error("model does not serve this task type")]
    TaskTypeNotServed,
    #[error("inline payload of {len} bytes exceeds {max}")]
    PayloadTooLarge { len: u64, max: u32 },
    #[error("this chain does not allow a per-task redundancy choice")]
    RedundancyNotAllowed,
    #[error("invalid redundancy {m}-of-{n}")]
    BadRedundancy { n: u32, m: u32 },
    #[error("unknown task")]
    UnknownTask,
    #[error("provider is not assigned to this task")]
    NotAssigned,
    #[error("task is {status}, which does not allow this")]
    WrongTaskStatus { status: String },
    #[error("the deadline (height {deadline}) has passed")]
    DeadlinePassed { deadline: u64 },
    #[error("a result was already posted")]
    AlreadyPosted,
    #[error("the challenge window closed at height {closed_at}")]
    WindowClosed { closed_at: u64 },
    #[error("the provider's owner cannot challenge its own result")]
    OwnResult,
    #[error("not a member of this task's committee")]
    NotInCommittee,
    #[error("already committed")]
    AlreadyCommitted,
    #[error("no commitment to reveal")]
    NoCommitment,
    #[error("already revealed")]
    AlreadyRevealed,
    #[error("reveal does not match the commitment")]
    CommitmentMismatch,
    #[error("not in the {phase} phase")]
    WrongPhase { phase: String },
    #[error("no pending rewards")]
    NothingToClaim,
}

/// How one transaction of a block ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxStatus {
    Applied,
    /// Charged the fee and nonce; the action changed nothing.
    Failed(TxError),
    /// Not chargeable (bad signature, nonce or fee): changed nothing at all.
    Rejected(CheckError),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub tx: Hash,
    pub status: TxStatus,
    pub fee: Amount,
    pub events: Vec<Event>,
}

impl Receipt {
    pub fn is_applied(&self) -> bool {
        matches!(self.status, TxStatus::Applied)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockOutcome {
    pub height: u64,
    pub block_id: Hash,
    pub receipts: Vec<Receipt>,
    /// Events of block-end processing: finalisations, deadlines, assignment, epochs.
    pub end_events: Vec<Event>,
    pub state_root: Hash,
    /// Merkle root over the results finalised in this block (zero when none).
    pub results_root: Hash,
    pub anchor: Option<Anchor>,
}
