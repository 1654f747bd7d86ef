//! The parsed form of a scenario: what to build, with symbolic references left
//! for execution to resolve (task and provider ids depend on the nonces the
//! transactions actually carry).

use aivm_core::attestation::{EvidenceKind, TeeType};
use aivm_core::tx::{GpuInfo, Redundancy};
use aivm_core::types::{Address, Amount, Hash, ModelId, ProviderId, TaskId, TaskType};

/// One entry of `blocks`.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Block(BlockSpec),
    /// `n` empty blocks; the checks run after the last one.
    Advance {
        path: String,
        n: u64,
        expect: Option<Checks>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct BlockSpec {
    pub path: String,
    pub txs: Vec<TxSpec>,
    pub time_ms: Option<u64>,
    pub seed: Option<Hash>,
    pub proposer: Option<Address>,
    pub expect: Option<Checks>,
}

#[derive(Clone, Debug)]
pub(crate) struct TxSpec {
    pub path: String,
    pub from: String,
    pub action: ActionSpec,
    /// Names the task (submit_task) or provider (register_provider) this tx creates.
    pub label: Option<String>,
    pub nonce: Option<u64>,
    pub chain_id: Option<String>,
    /// Sign with this actor's key while claiming to be `from` (a bad signature).
    pub sign_as: Option<String>,
    pub corrupt_signature: bool,
    /// Claim a signer that is not an ed25519 key at all.
    pub malformed_signer: bool,
    pub expect: Option<ReceiptExpect>,
}

#[derive(Clone, Debug)]
pub(crate) enum TaskRef {
    Label(String),
    /// `NAME#N`: the task `NAME` submitted with nonce `N`.
    Derived(Address, u64),
    Raw(TaskId),
}

#[derive(Clone, Debug)]
pub(crate) enum ProviderRef {
    Label(String),
    /// `NAME#N`: the provider `NAME` registered with nonce `N`.
    Derived(Address, u64),
    Raw(ProviderId),
    /// Whoever the task is assigned to when the block is built.
    AssignedTo(TaskRef),
}

/// A 32-byte value given either raw or as an opening (output + salt) whose
/// commitment the core computes for the signer.
#[derive(Clone, Debug)]
pub(crate) enum CommitSpec {
    Raw(Hash),
    Open { output: Hash, salt: Hash },
}

#[derive(Clone, Debug)]
pub(crate) struct AttestationSpec {
    /// Name of the attestor: its key is that actor's key.
    pub attestor: String,
    pub tee_type: TeeType,
    pub kind: EvidenceKind,
    pub device_model: String,
    pub measurement: Hash,
    pub cc_enabled: bool,
    pub tee_io: bool,
    pub rim_verified: bool,
    pub benchmark_ok: bool,
    pub driver_ok: bool,
    /// Defaults to the block time.
    pub issued_at_ms: Option<u64>,
    /// Defaults to the issue time plus one day.
    pub expires_at_ms: Option<u64>,
    /// Defaults to the signer of the transaction.
    pub provider_key: Option<Address>,
    /// Sign with this actor's key instead of the attestor's (a forged attestation).
    pub signed_by: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) enum ActionSpec {
    Transfer {
        to: Address,
        amount: Amount,
    },
    RegisterModel {
        id: ModelId,
        weights: Hash,
        task_types: Vec<TaskType>,
        context_length: u32,
    },
    RetireModel {
        id: ModelId,
    },
    RegisterProvider {
        endpoint: String,
        gpus: Vec<GpuInfo>,
        models: Vec<ModelId>,
        bond: Amount,
        attestation: Option<AttestationSpec>,
    },
    TopUpBond {
        provider: ProviderRef,
        amount: Amount,
    },
    Unbond {
        provider: ProviderRef,
    },
    WithdrawBond {
        provider: ProviderRef,
    },
    Attest {
        provider: ProviderRef,
        attestation: AttestationSpec,
    },
    SubmitTask {
        model: ModelId,
        task_type: TaskType,
        input: Hash,
        inline_input: Vec<u8>,
        fee: Amount,
        redundancy: Option<Redundancy>,
    },
    SubmitResult {
        task: TaskRef,
        provider: ProviderRef,
        output: Hash,
        inline_output: Vec<u8>,
        compute_time_ms: u64,
    },
    Challenge {
        task: TaskRef,
        claim: CommitSpec,
    },
    RevealClaim {
        task: TaskRef,
        output: Hash,
        salt: Hash,
    },
    CommitOutput {
        task: TaskRef,
        provider: ProviderRef,
        commitment: CommitSpec,
    },
    RevealOutput {
        task: TaskRef,
        provider: ProviderRef,
        output: Hash,
        salt: Hash,
    },
    ClaimRewards {
        provider: ProviderRef,
    },
}

/// What a transaction's receipt must say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReceiptExpect {
    Applied,
    /// Failed, optionally with an error kind (`NotAssigned`, `Attestation.Expired`).
    Failed(Option<String>),
    /// Rejected, optionally with an error kind (`BadNonce`, `Auth.BadSignature`).
    Rejected(Option<String>),
}

/// Checks run after a block (or after the last block of an `advance`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Checks {
    pub path: String,
    pub balances: Vec<(String, Address, Amount)>,
    pub nonces: Vec<(String, Address, u64)>,
    pub tasks: Vec<(String, TaskRef, TaskCheck)>,
    pub providers: Vec<(String, ProviderRef, ProviderCheck)>,
    pub models: Vec<(String, ModelState)>,
    pub stats: Vec<(String, u128)>,
    /// Event kinds that must occur in the block(s).
    pub events: Vec<String>,
    /// Event kinds that must not occur in the block(s).
    pub no_events: Vec<String>,
    pub state_root: Option<Hash>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct TaskCheck {
    /// A `TaskStatus::name()`, or `absent`.
    pub status: Option<String>,
    pub provider: Option<ProviderRef>,
    pub requeues: Option<u32>,
    pub fee: Option<Amount>,
    pub output: Option<Hash>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct ProviderCheck {
    /// `active`, `unbonding` or `absent`.
    pub status: Option<String>,
    pub bond: Option<Amount>,
    pub locked: Option<Amount>,
    pub open_tasks: Option<u32>,
    pub trust: Option<u32>,
    pub trust_score: Option<u8>,
    pub pending_rewards: Option<Amount>,
    pub total_rewards: Option<Amount>,
    pub slashed: Option<Amount>,
    pub tasks_completed: Option<u64>,
    pub tasks_missed: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ModelState {
    Active,
    Retired,
    Absent,
}

impl ModelState {
    pub fn name(self) -> &'static str {
        match self {
            ModelState::Active => "active",
            ModelState::Retired => "retired",
            ModelState::Absent => "absent",
        }
    }
}

/// The `stats` fields a check may name (all of `aivm_core::queries::Stats`).
pub(crate) const STAT_FIELDS: &[&str] = &[
    "tasks_pending",
    "tasks_completed",
    "tasks_failed",
    "providers_total",
    "providers_active",
    "models_available",
    "total_minted",
    "epoch",
    "epoch_rewards",
    "receipts_processed",
    "total_supply",
    "total_burned",
    "treasury",
];

pub(crate) const TASK_STATUSES: &[&str] = &[
    "pending",
    "assigned",
    "result_posted",
    "disputed",
    "committing",
    "revealing",
    "completed",
    "failed",
    "absent",
];
