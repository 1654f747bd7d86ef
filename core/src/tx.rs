//! Transactions: what a signer asks the chain to do, how it is signed, and the
//! stateless checks (`SignedTx::verify`) an engine can run at mempool admission.

use ed25519_zebra::{Signature, SigningKey, VerificationKey, VerificationKeyBytes};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::attestation::SignedAttestation;
use crate::encoding::encode;
use crate::keys::{check_public_key, KeyDefect};
use crate::types::{Address, Amount, Hash, ModelId, ProviderId, Sig64, TaskId, TaskType};

/// Signed transactions are domain-separated from every other signed thing in aivm.
pub const TX_DOMAIN: &[u8] = b"aivm/tx/v1";

/// A GPU a provider offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct GpuInfo {
    pub model: String,
    pub memory_gb: u32,
    pub count: u32,
}

/// A per-task choice of M-of-N (only when the config allows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Redundancy {
    pub n: u32,
    pub m: u32,
}

/// Everything a transaction can ask for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Action {
    Transfer {
        to: Address,
        amount: Amount,
    },
    RegisterModel {
        id: ModelId,
        weights_hash: Hash,
        task_types: Vec<TaskType>,
        context_length: u32,
    },
    /// Governance only.
    RetireModel {
        id: ModelId,
    },
    RegisterProvider {
        endpoint: String,
        gpus: Vec<GpuInfo>,
        models: Vec<ModelId>,
        bond: Amount,
        attestation: Option<SignedAttestation>,
    },
    TopUpBond {
        provider: ProviderId,
        amount: Amount,
    },
    Unbond {
        provider: ProviderId,
    },
    WithdrawBond {
        provider: ProviderId,
    },
    Attest {
        provider: ProviderId,
        attestation: SignedAttestation,
    },
    SubmitTask {
        model: ModelId,
        task_type: TaskType,
        input_hash: Hash,
        inline_input: Vec<u8>,
        fee: Amount,
        redundancy: Option<Redundancy>,
    },
    SubmitResult {
        task: TaskId,
        provider: ProviderId,
        output_hash: Hash,
        inline_output: Vec<u8>,
        compute_time_ms: u64,
    },
    /// Opens a dispute on a posted result. `claim` commits to the output the
    /// challenger believes correct, bound to the challenger
    /// (`dispute::claim_commitment`), so a copied challenge cannot earn the bounty.
    Challenge {
        task: TaskId,
        claim: Hash,
    },
    /// The challenger opens its claim during the dispute's reveal phase.
    RevealClaim {
        task: TaskId,
        output_hash: Hash,
        salt: Hash,
    },
    /// A commitment to an output hash: by a referee of a dispute, or by a provider of an M-of-N task.
    CommitOutput {
        task: TaskId,
        provider: ProviderId,
        commitment: Hash,
    },
    RevealOutput {
        task: TaskId,
        provider: ProviderId,
        output_hash: Hash,
        salt: Hash,
    },
    ClaimRewards {
        provider: ProviderId,
    },
}

impl Action {
    /// Short stable name, for receipts, logs and the CLI.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Transfer { .. } => "transfer",
            Action::RegisterModel { .. } => "register_model",
            Action::RetireModel { .. } => "retire_model",
            Action::RegisterProvider { .. } => "register_provider",
            Action::TopUpBond { .. } => "top_up_bond",
            Action::Unbond { .. } => "unbond",
            Action::WithdrawBond { .. } => "withdraw_bond",
            Action::Attest { .. } => "attest",
            Action::SubmitTask { .. } => "submit_task",
            Action::SubmitResult { .. } => "submit_result",
            Action::Challenge { .. } => "challenge",
            Action::RevealClaim { .. } => "reveal_claim",
            Action::CommitOutput { .. } => "commit_output",
            Action::RevealOutput { .. } => "reveal_output",
            Action::ClaimRewards { .. } => "claim_rewards",
        }
    }
}

/// The signed part of a transaction. The chain id is inside, so a signature
/// for one chain never verifies on another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TxBody {
    pub chain_id: String,
    pub nonce: u64,
    pub action: Action,
}

impl TxBody {
    /// The exact bytes an ed25519 signature covers.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(TX_DOMAIN);
        out.extend_from_slice(&encode(self));
        out
    }

    pub fn sign(self, key: &SigningKey) -> SignedTx {
        let signature = Sig64(key.sign(&self.signing_bytes()).to_bytes());
        SignedTx {
            signer: Address(VerificationKey::from(key).into()),
            body: self,
            signature,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SignedTx {
    pub signer: Address,
    pub body: TxBody,
    pub signature: Sig64,
}

/// Why a transaction's signature is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum AuthError {
    #[error("signer is not a valid ed25519 verification key")]
    MalformedKey,
    #[error("signature does not verify (ZIP-215 rule)")]
    BadSignature,
    /// Under ZIP-215 a small-order key accepts a forged signature on any message,
    /// so an account at such an address could be spent by anyone: refused outright.
    #[error("signer is a small-order ed25519 point")]
    SmallOrderKey,
}

impl SignedTx {
    /// Hash of the whole signed transaction; names it in receipts and proofs.
    pub fn hash(&self) -> Hash {
        crate::encoding::digest("aivm v1 tx hash", self)
    }

    /// Stateless signature check under ZIP-215 (as ed25519-zebra implements it),
    /// the rule under which batch and single verification always agree.
    pub fn verify(&self) -> Result<VerifiedTx, AuthError> {
        self.check_signer()?;
        let vk = VerificationKey::try_from(self.signer.0).map_err(|_| AuthError::MalformedKey)?;
        let sig = Signature::from(self.signature.0);
        vk.verify(&sig, &self.body.signing_bytes())
            .map_err(|_| AuthError::BadSignature)?;
        Ok(self.assume_verified())
    }

    /// The stateless signer rule that the signature equation does not cover: the
    /// key must decode and must not be of small order. Batch verifiers must apply
    /// it too (before queueing [`SignedTx::batch_item`]) so that batch and single
    /// verification keep agreeing.
    pub fn check_signer(&self) -> Result<(), AuthError> {
        check_public_key(self.signer.0).map_err(|defect| match defect {
            KeyDefect::NotOnCurve => AuthError::MalformedKey,
            KeyDefect::SmallOrder => AuthError::SmallOrderKey,
        })
    }

    /// Wraps the transaction as verified without checking; for callers that
    /// verified it already (e.g. in a batch) and for signature-free benchmarks.
    pub fn assume_verified(&self) -> VerifiedTx {
        VerifiedTx {
            signer: self.signer,
            body: self.body.clone(),
            hash: self.hash(),
        }
    }

    /// The item to queue in an `ed25519_zebra::batch::Verifier`.
    pub fn batch_item(&self) -> ed25519_zebra::batch::Item {
        let vkb = VerificationKeyBytes::from(self.signer.0);
        ed25519_zebra::batch::Item::from((
            vkb,
            Signature::from(self.signature.0),
            &self.body.signing_bytes(),
        ))
    }
}

/// A transaction whose signature checked out. Only `SignedTx::verify` (or a
/// caller that batch-verified) makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTx {
    pub signer: Address,
    pub body: TxBody,
    pub hash: Hash,
}

/// What a transaction reads or writes. Transactions with disjoint key sets commute.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConflictKey {
    Account(Address),
    Provider(ProviderId),
    Task(TaskId),
    Model(ModelId),
    /// The bounded pending queue is one shared resource: admission order decides who fits.
    TaskQueue,
}

impl VerifiedTx {
    pub fn action(&self) -> &Action {
        &self.body.action
    }

    /// The keys this transaction may touch. Fees, burns and global counters are
    /// commutative sums and are deliberately not keys; fees are pooled and paid
    /// to the proposer at block end for the same reason.
    pub fn conflict_keys(&self) -> Vec<ConflictKey> {
        use ConflictKey as K;
        let mut keys = vec![K::Account(self.signer)];
        match &self.body.action {
            Action::Transfer { to, .. } => keys.push(K::Account(*to)),
            Action::RegisterModel { id, .. } | Action::RetireModel { id } => {
                keys.push(K::Model(id.clone()))
            }
            Action::RegisterProvider { models, .. } => {
                keys.push(K::Provider(ProviderId::derive(
                    &self.signer,
                    self.body.nonce,
                )));
                keys.extend(models.iter().cloned().map(K::Model));
            }
            Action::TopUpBond { provider, .. }
            | Action::Unbond { provider }
            | Action::WithdrawBond { provider }
            | Action::Attest { provider, .. }
            | Action::ClaimRewards { provider } => keys.push(K::Provider(*provider)),
            Action::SubmitTask { model, .. } => {
                keys.push(K::Task(TaskId::derive(&self.signer, self.body.nonce)));
                keys.push(K::Model(model.clone()));
                keys.push(K::TaskQueue);
            }
            Action::SubmitResult { task, provider, .. }
            | Action::CommitOutput { task, provider, .. }
            | Action::RevealOutput { task, provider, .. } => {
                keys.push(K::Task(*task));
                keys.push(K::Provider(*provider));
            }
            Action::Challenge { task, .. } | Action::RevealClaim { task, .. } => {
                keys.push(K::Task(*task))
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }

    /// True when the two transactions share no conflict key.
    pub fn commutes_with(&self, other: &VerifiedTx) -> bool {
        let a = self.conflict_keys();
        other
            .conflict_keys()
            .iter()
            .all(|k| a.binary_search(k).is_err())
    }
}

/// The deterministic key of a named actor: scenarios, tests and the demo use it.
pub fn key_from_name(name: &str) -> SigningKey {
    let seed = blake3::derive_key("aivm v1 actor key from name", name.as_bytes());
    SigningKey::from(seed)
}

/// Address of `key_from_name(name)`.
pub fn address_from_name(name: &str) -> Address {
    Address(VerificationKey::from(&key_from_name(name)).into())
}
