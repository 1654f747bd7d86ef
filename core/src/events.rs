//! Typed events: every state change announces itself here, for indexers and auditors.

use serde::{Deserialize, Serialize};

use crate::types::{Address, Amount, Hash, ModelId, ProviderId, TaskId};

/// Why value was destroyed or a provider lost stake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlashReason {
    MissedDeadline,
    LostDispute,
    FrivolousChallenge,
    RefereeAbsent,
    RefereeDissent,
    DivergentOutput,
    WithheldReveal,
}

/// Why a task ended without a finalised result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailReason {
    /// Nobody could take it before TaskTimeout.
    TimedOut,
    /// Its providers kept missing deadlines.
    DeadlinesMissed,
    /// A dispute found the result wrong.
    Disproven,
    /// Verifiers could not agree: the work was not reproducible.
    NoAgreement,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    Transferred {
        from: Address,
        to: Address,
        amount: Amount,
    },
    FeePaid {
        payer: Address,
        amount: Amount,
    },
    ProposerPaid {
        proposer: Address,
        amount: Amount,
    },
    ModelRegistered {
        id: ModelId,
        owner: Address,
        deposit: Amount,
    },
    ModelRetired {
        id: ModelId,
    },
    ProviderRegistered {
        provider: ProviderId,
        owner: Address,
        bond: Amount,
    },
    BondToppedUp {
        provider: ProviderId,
        amount: Amount,
        bond: Amount,
    },
    UnbondStarted {
        provider: ProviderId,
        until_height: u64,
    },
    BondWithdrawn {
        provider: ProviderId,
        owner: Address,
        amount: Amount,
    },
    AttestationAccepted {
        provider: ProviderId,
        trust_score: u8,
        expires_at_ms: u64,
    },
    TaskSubmitted {
        task: TaskId,
        submitter: Address,
        model: ModelId,
        fee: Amount,
    },
    TaskAssigned {
        task: TaskId,
        provider: ProviderId,
        deadline_height: u64,
    },
    ResultPosted {
        task: TaskId,
        provider: ProviderId,
        output_hash: Hash,
        window_end: u64,
        collateral: Amount,
    },
    TaskChallenged {
        task: TaskId,
        challenger: Address,
        bond: Amount,
    },
    TaskFinalized {
        task: TaskId,
        output_hash: Hash,
        paid: Amount,
        protocol_share: Amount,
    },
    ProviderPaid {
        task: TaskId,
        provider: ProviderId,
        amount: Amount,
    },
    CollateralReleased {
        provider: ProviderId,
        amount: Amount,
    },
    RewardMinted {
        provider: ProviderId,
        amount: Amount,
        epoch: u64,
    },
    RewardsClaimed {
        provider: ProviderId,
        owner: Address,
        amount: Amount,
    },
    DeadlineMissed {
        task: TaskId,
        provider: ProviderId,
    },
    TaskRequeued {
        task: TaskId,
    },
    TaskFailed {
        task: TaskId,
        reason: FailReason,
    },
    Refunded {
        task: TaskId,
        to: Address,
        amount: Amount,
    },
    Slashed {
        provider: ProviderId,
        amount: Amount,
        reason: SlashReason,
    },
    BondForfeited {
        who: Address,
        amount: Amount,
        reason: SlashReason,
    },
    Compensated {
        to: Address,
        amount: Amount,
    },
    Burned {
        amount: Amount,
    },
    EpochStarted {
        epoch: u64,
    },
    DisputeOpened {
        task: TaskId,
        referees: Vec<ProviderId>,
        commit_end: u64,
        reveal_end: u64,
    },
    OutputCommitted {
        task: TaskId,
        provider: ProviderId,
    },
    OutputRevealed {
        task: TaskId,
        provider: ProviderId,
        output_hash: Hash,
    },
    DisputeResolved {
        task: TaskId,
        provider_won: Option<bool>,
    },
    CommitteeDrawn {
        task: TaskId,
        providers: Vec<ProviderId>,
        commit_end: u64,
        reveal_end: u64,
    },
    MeasurementRevoked {
        measurement: Hash,
    },
    /// A provider's earned trust (`Provider::trust`) moved; `trust` is the new value.
    TrustChanged {
        provider: ProviderId,
        trust: u32,
    },
    /// A revoked TEE measurement gave a shortened window its full length back.
    ChallengeWindowExtended {
        task: TaskId,
        window_end: u64,
    },
    /// The challenger opened the claim it committed to with its challenge.
    ClaimRevealed {
        task: TaskId,
        challenger: Address,
        output_hash: Hash,
    },
    /// A challenge bond went back to its challenger (the challenge was right, or undecidable).
    BondReturned {
        task: TaskId,
        to: Address,
        amount: Amount,
    },
    /// A retired model's deposit went back to its owner (at the end of the retiring block).
    ModelDepositReturned {
        id: ModelId,
        owner: Address,
        amount: Amount,
    },
}
