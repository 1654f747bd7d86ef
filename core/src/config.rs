//! Chain configuration: every parameter of the aivm protocol, with its default, its serde forms
//! and its validation.
//!
//! The documented fields of the Go `Config` are all here under their Go JSON names, with the
//! documented defaults; the protocol additions (fees, collateral, deadlines, disputes, M-of-N
//! commit-reveal, TEE-shortened windows) follow them.
//!
//! # Serde forms
//! * **Human readable** (JSON, `is_human_readable() == true`): a partial document keeps the
//!   defaults of the fields it leaves out (the Go implementation zeroed them, defect #8); an
//!   unknown field is refused so that a typo never silently falls back to a default. Amounts are
//!   written as decimal strings and read from a string or an integer; durations are written as
//!   Go-style strings (`"5m"`, `"1h30m"`, `"1s500ms"`) and read from such a string or an integer
//!   of milliseconds; the verification mode is a name (`"optimistic"`), and the integers 0/1/2 are
//!   accepted too; trusted attestor keys are 64 hex digits.
//! * **Binary** (postcard, `is_human_readable() == false`): every field in declaration order,
//!   amounts as `u128`, durations as `u64` milliseconds, the verification mode as one `u8`. This
//!   form is embedded in the genesis and hashed, so the field order is part of consensus.
//!
//! Parsing never validates: call [`Config::validate`] after building or parsing a config.

use core::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::keys::{check_public_key, KeyDefect};

/// A quantity of the host chain's native token, in base units (wei-equivalent).
pub type Amount = u128;

/// The denominator of every `*_bps` field: 10_000 basis points are the whole.
pub const BPS_DENOMINATOR: u32 = 10_000;
/// Smallest total provider count N of an M-of-N quorum.
pub const MIN_REDUNDANCY_N: u32 = 3;
/// Largest total provider count N of an M-of-N quorum.
pub const MAX_REDUNDANCY_N: u32 = 256;
/// Largest referee panel (the largest odd number not above [`MAX_REDUNDANCY_N`]).
pub const MAX_REFEREE_COUNT: u32 = 255;
/// Largest `host_chain_id`, in bytes.
pub const MAX_HOST_CHAIN_ID_LEN: u32 = 64;
/// Largest number of trusted attestor keys (bounds the genesis size).
pub const MAX_TRUSTED_ATTESTORS: u32 = 256;
/// Upper bound of `max_inline_input` and `max_inline_output`, in bytes (1 MiB): larger payloads
/// belong off chain, referenced by hash.
pub const MAX_INLINE_PAYLOAD_LIMIT: u32 = 1 << 20;
/// Upper bound of the string-length limits (`max_endpoint_len`, `max_gpu_name_len`,
/// `max_model_id_len`), in bytes.
pub const MAX_STRING_LEN_LIMIT: u32 = 4096;
/// Upper bound of `max_gpus`.
pub const MAX_GPUS_LIMIT: u32 = 1024;

const MS_PER_SECOND: u64 = 1_000;
const MS_PER_MINUTE: u64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: u64 = 60 * MS_PER_MINUTE;

/// 10^18 base units: one whole token of an 18-decimal native token.
const ONE_TOKEN: Amount = 1_000_000_000_000_000_000;

/// How results are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[repr(u8)]
pub enum VerificationMode {
    /// Results are posted with collateral and finalise after an unchallenged window; any party
    /// may submit a fraud proof meanwhile. The public-chain default (no trusted party).
    #[default]
    Optimistic = 0,
    /// M of N providers run the task and must agree on the output hash (commit-reveal);
    /// divergent and withholding providers are slashed.
    MultiPartyRedundant = 1,
    /// Like optimistic, but a provider whose attested trust score reaches `min_trust_score` gets a
    /// shortened challenge window. The TEE accelerates finality; it is never the trust root.
    TeeAttested = 2,
}

impl VerificationMode {
    /// All modes, in tag order.
    pub const ALL: [VerificationMode; 3] = [
        VerificationMode::Optimistic,
        VerificationMode::MultiPartyRedundant,
        VerificationMode::TeeAttested,
    ];

    /// The one-byte tag (the Go constant's value).
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The mode of a tag, if any.
    pub const fn from_u8(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(VerificationMode::Optimistic),
            1 => Some(VerificationMode::MultiPartyRedundant),
            2 => Some(VerificationMode::TeeAttested),
            _ => None,
        }
    }

    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            VerificationMode::Optimistic => "optimistic",
            VerificationMode::MultiPartyRedundant => "multiPartyRedundant",
            VerificationMode::TeeAttested => "teeAttested",
        }
    }

    /// The mode of a JSON name, if any (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

impl fmt::Display for VerificationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for VerificationMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(self.as_str())
        } else {
            serializer.serialize_u8(self.as_u8())
        }
    }
}

impl<'de> Deserialize<'de> for VerificationMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(VerificationModeVisitor)
        } else {
            deserializer.deserialize_u8(VerificationModeVisitor)
        }
    }
}

struct VerificationModeVisitor;

impl VerificationModeVisitor {
    fn from_int<E: de::Error>(v: u64) -> Result<VerificationMode, E> {
        u8::try_from(v)
            .ok()
            .and_then(VerificationMode::from_u8)
            .ok_or_else(|| {
                E::custom(ConfigError::UnknownVerificationMode {
                    value: v.to_string(),
                })
            })
    }
}

impl Visitor<'_> for VerificationModeVisitor {
    type Value = VerificationMode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#""optimistic", "multiPartyRedundant", "teeAttested" or 0, 1, 2"#)
    }

    fn visit_u8<E: de::Error>(self, v: u8) -> Result<Self::Value, E> {
        Self::from_int(u64::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Self::from_int(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match u64::try_from(v) {
            Ok(v) => Self::from_int(v),
            Err(_) => Err(E::custom(ConfigError::UnknownVerificationMode {
                value: v.to_string(),
            })),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        VerificationMode::from_name(v)
            .ok_or_else(|| E::custom(ConfigError::UnknownVerificationMode { value: snippet(v) }))
    }
}

/// How the per-task provider reward is computed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[serde(rename_all = "camelCase")]
pub enum RewardSchedule {
    /// `base_reward` per completed task, whatever its cost (no self-reported factors to game).
    #[default]
    Flat,
    /// The published Lux v1 formula: base 10^15 times integer compute-time, GPU, uptime and
    /// speed percentages, each step a truncating `reward * pct / 100`.
    LuxV1,
}

/// A configuration error: a value that cannot be parsed, or a config that [`Config::validate`]
/// refuses. Every variant names the field and the values involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    // ---- parsing -------------------------------------------------------------------------
    /// A duration string is empty.
    #[error("duration is empty (expected e.g. \"30s\", \"5m\", \"1h30m\", \"250ms\")")]
    DurationEmpty,
    /// A duration is negative.
    #[error("duration {input:?} is negative")]
    DurationNegative { input: String },
    /// A duration has a fractional number (`"1.5h"`): floats are refused, use a smaller unit.
    #[error("duration {input:?} has a fraction; use a smaller unit instead (e.g. \"1h30m\")")]
    DurationFraction { input: String },
    /// A duration has a number without a unit (`"30"`, `"1h30"`).
    #[error("duration {input:?} has a number without a unit (units: h, m, s, ms)")]
    DurationMissingUnit { input: String },
    /// A duration has a unit or another character where a number was expected.
    #[error("duration {input:?}: expected a decimal number at byte {position}")]
    DurationMissingNumber { input: String, position: u64 },
    /// A duration has an unknown unit.
    #[error("duration {input:?} has unknown unit {unit:?} (units: h, m, s, ms)")]
    DurationUnknownUnit { input: String, unit: String },
    /// A duration does not fit a `u64` of milliseconds.
    #[error("duration {input:?} overflows u64 milliseconds")]
    DurationOverflow { input: String },
    /// An amount string is not a plain decimal integer.
    #[error("amount {input:?} is not a decimal integer of base units")]
    AmountInvalid { input: String },
    /// An amount does not fit a `u128`.
    #[error("amount {input:?} overflows u128")]
    AmountOverflow { input: String },
    /// An unknown verification mode name or tag.
    #[error("unknown verification mode {value:?} (expected \"optimistic\", \"multiPartyRedundant\", \"teeAttested\" or 0, 1, 2)")]
    UnknownVerificationMode { value: String },
    /// A trusted attestor key that is not 64 hex digits.
    #[error("trusted attestor key {input:?} is not 64 hex digits")]
    AttestorKeyHex { input: String },

    // ---- validation ----------------------------------------------------------------------
    /// A field that must be positive is zero.
    #[error("{field} must be greater than zero")]
    Zero { field: &'static str },
    /// A basis-point field exceeds the whole (10_000).
    #[error("{field} = {value} exceeds {BPS_DENOMINATOR} basis points")]
    BpsOutOfRange { field: &'static str, value: u32 },
    /// A limit exceeds its hard upper bound.
    #[error("{field} = {value} exceeds the upper bound {max}")]
    LimitTooLarge {
        field: &'static str,
        value: u64,
        max: u64,
    },
    /// M (`redundancy_factor`) exceeds N (`redundancy_n`).
    #[error("redundancy_factor M = {m} exceeds redundancy_n N = {n}")]
    RedundancyExceedsTotal { m: u32, n: u32 },
    /// M is not a strict majority of N (M <= N/2), so two disjoint quorums could agree on
    /// different results.
    #[error(
        "redundancy_factor M = {m} is not a strict majority of redundancy_n N = {n} (need M > N/2)"
    )]
    RedundancyNotMajority { m: u32, n: u32 },
    /// N is outside [`MIN_REDUNDANCY_N`, `MAX_REDUNDANCY_N`].
    #[error("redundancy_n N = {n} is outside [{min}, {max}]")]
    RedundancyTotalOutOfRange { n: u32, min: u32, max: u32 },
    /// A mode with a challenge window has `challenge_window_blocks == 0`: no fraud proof could
    /// ever be submitted.
    #[error("challenge_window_blocks is 0 in {mode} mode: no fraud proof could ever be submitted")]
    ChallengeWindowZero { mode: VerificationMode },
    /// The TEE-shortened window is longer than the full window.
    #[error("tee_challenge_window_blocks = {tee_window} exceeds challenge_window_blocks = {challenge_window}")]
    TeeWindowExceedsChallengeWindow {
        tee_window: u64,
        challenge_window: u64,
    },
    /// In TEE mode, a shortened-window result would stop being slashable before a full challenge
    /// window has passed: the TEE would reduce the time the bond is at risk.
    #[error("tee_challenge_window_blocks ({tee_window}) + post_finality_horizon_blocks ({horizon}) is shorter than challenge_window_blocks ({challenge_window})")]
    PostFinalityHorizonTooShort {
        tee_window: u64,
        horizon: u64,
        challenge_window: u64,
    },
    /// The dispute shares add up to more than the slashed bond.
    #[error("winner_share_bps ({winner_share_bps}) + referee_reward_share_bps ({referee_reward_share_bps}) exceeds {BPS_DENOMINATOR}")]
    DisputeSharesExceedWhole {
        winner_share_bps: u32,
        referee_reward_share_bps: u32,
    },
    /// A challenge is cheaper than the collateral it puts at risk (cheap-challenge spam).
    #[error("challenge_bond = {challenge_bond} is below task_collateral = {task_collateral}")]
    ChallengeBondBelowCollateral {
        challenge_bond: Amount,
        task_collateral: Amount,
    },
    /// A minimally bonded provider could not lock the collateral of even one result.
    #[error(
        "min_provider_bond = {min_provider_bond} is below task_collateral = {task_collateral}"
    )]
    ProviderBondBelowCollateral {
        min_provider_bond: Amount,
        task_collateral: Amount,
    },
    /// A slash larger than the minimum bond could not be collected from a minimally bonded
    /// provider.
    #[error("{field} = {value} exceeds min_provider_bond = {min_provider_bond}")]
    SlashExceedsBond {
        field: &'static str,
        value: Amount,
        min_provider_bond: Amount,
    },
    /// An even referee panel can tie.
    #[error(
        "referee_count = {referee_count} is even: a referee panel must be odd to have a majority"
    )]
    RefereeCountEven { referee_count: u32 },
    /// A trust score above 100.
    #[error("min_trust_score = {value} exceeds 100")]
    TrustScoreOutOfRange { value: u8 },
    /// TEE attestation is required but no attestor key is trusted, so no provider could register.
    #[error(
        "require_tee_attestation is set but trusted_attestors is empty: no provider could register"
    )]
    TeeRequiredWithoutAttestors,
    /// Too many trusted attestor keys.
    #[error("trusted_attestors has {count} keys, more than {max}")]
    TooManyTrustedAttestors { count: u64, max: u32 },
    /// A trusted attestor key appears twice.
    #[error("trusted_attestors[{index}] duplicates trusted_attestors[{first}]")]
    DuplicateTrustedAttestor { index: u64, first: u64 },
    /// A trusted attestor key is not a valid ed25519 public key, or is of small order (it would
    /// accept a forged signature on any message).
    #[error("trusted_attestors[{index}] is not a usable ed25519 public key: {reason}")]
    InvalidTrustedAttestor { index: u64, reason: &'static str },
    /// `host_chain_id` is empty or longer than [`MAX_HOST_CHAIN_ID_LEN`] bytes.
    #[error("host_chain_id is {len} bytes long; it must be 1 to {max} bytes")]
    HostChainIdLength { len: u64, max: u32 },
    /// `host_chain_id` contains a byte that is not printable ASCII without spaces.
    #[error("host_chain_id has byte 0x{byte:02x} at {position}; only printable ASCII without spaces is allowed")]
    HostChainIdCharacter { position: u64, byte: u8 },
}

/// The chain configuration. See the module docs for its serde forms.
///
/// The binary (postcard) form is every field in declaration order: reordering, adding or removing
/// a field changes the genesis hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    // ---- Go Config: network ---------------------------------------------------------------
    /// Most providers one owner account may register. Count; default 100 (Go default).
    pub max_providers_per_node: u32,
    /// Most tasks assigned to one provider and not yet settled. Count; default 10 (Go default).
    pub max_tasks_per_provider: u32,
    /// Which host L1/L2 this instance runs on. `"primary"` anchors to the Q-Chain; any other
    /// value anchors to the host chain's own finality. 1 to 64 printable ASCII bytes; default
    /// `"primary"` (Go default).
    #[serde(rename = "hostChainID")]
    pub host_chain_id: String,
    /// The result verification strategy. Default [`VerificationMode::Optimistic`] (Go default:
    /// public-BFT-safe, no trusted party).
    pub verification_mode: VerificationMode,
    /// Blocks during which anyone may submit a fraud proof against a posted result. Blocks;
    /// default 100 (Go default, ~5-10 minutes on Lux chains).
    pub challenge_window_blocks: u64,
    /// M: matching result hashes required in M-of-N mode. Count; default 3 (Go default, 3-of-5).
    pub redundancy_factor: u32,
    /// Minimum bond a provider locks to register. Base units; default 10^18 (Go default).
    #[serde(with = "amount_serde")]
    pub min_provider_bond: Amount,
    /// Only providers with a valid TEE attestation may register. Default false (Go default:
    /// TEE is opt-in, a permissioned-subnet policy).
    #[serde(rename = "requireTEEAttestation")]
    pub require_tee_attestation: bool,
    /// Trust score (0..=100) needed for TEE privileges (registration when TEE is required, the
    /// shortened window in TEE mode). Score; default 50 (Go default; 70 in
    /// [`Config::permissioned`]).
    pub min_trust_score: u8,
    /// Off-chain time a node waits for an attestation check; never read by the state machine.
    /// Milliseconds (JSON: duration); default 30_000 = `"30s"` (Go default).
    #[serde(rename = "attestationTimeout", with = "duration_serde")]
    pub attestation_timeout_ms: u64,
    // ---- Go Config: tasks -----------------------------------------------------------------
    /// Most pending (unassigned) tasks; a task past it is refused with an error, never dropped.
    /// Count; default 1000 (Go default).
    pub max_task_queue_size: u32,
    /// Off-chain time a provider's worker spends on a task before giving up; the on-chain
    /// deadline is `result_deadline_blocks`. Milliseconds (JSON: duration); default 300_000 =
    /// `"5m"` (Go default).
    #[serde(rename = "taskTimeout", with = "duration_serde")]
    pub task_timeout_ms: u64,
    // ---- Go Config: rewards ---------------------------------------------------------------
    /// Reward minted per completed task (the whole reward under [`RewardSchedule::Flat`]). Base
    /// units; default 10^9 (Go default).
    #[serde(with = "amount_serde")]
    pub base_reward: Amount,
    /// Length of a reward epoch, measured in block timestamps (never wall-clock time).
    /// Milliseconds (JSON: duration); default 3_600_000 = `"1h"` (Go default).
    #[serde(rename = "epochDuration", with = "duration_serde")]
    pub epoch_duration_ms: u64,
    /// Blocks between two Merkle-root anchors. Blocks; default 100 (Go default).
    pub merkle_anchor_freq: u64,

    // ---- fees -----------------------------------------------------------------------------
    /// Flat fee charged on every valid transaction (to the fee sink). Base units; default
    /// 10^6, small against the task fee yet enough to price spam; 0 is allowed (fee-free chain).
    #[serde(with = "amount_serde")]
    pub tx_fee: Amount,
    /// Smallest task fee; a task paying less (in particular zero) is refused. Base units;
    /// default 10^6 (the Go fee gate's minimum). Must be at least 1.
    #[serde(with = "amount_serde")]
    pub min_task_fee: Amount,
    /// Share of a task fee kept by the protocol treasury; the rest pays the provider(s). Basis
    /// points of 10_000; default 500 (5%), a modest take that leaves providers the bulk.
    pub protocol_share_bps: u32,
    /// How the per-task reward is computed. Default [`RewardSchedule::Flat`]: it reads no
    /// self-reported compute times or GPU models, which a provider could inflate.
    pub reward_schedule: RewardSchedule,
    /// Deposit for a permissionless model registration, returned on deregistration. Base units;
    /// default 10^18, the same as a provider bond, so that model spam costs real stake.
    #[serde(with = "amount_serde")]
    pub model_deposit: Amount,

    // ---- size limits (bound the state and the blocks) ------------------------------------
    /// Longest provider endpoint URL. Bytes; default 256 (room for any sane URL). At most 4096.
    pub max_endpoint_len: u32,
    /// Most GPUs a provider may declare. Count; default 16 (two 8-GPU nodes). At most 1024.
    pub max_gpus: u32,
    /// Longest GPU model name. Bytes; default 64 (vendor names are far shorter). At most 4096.
    pub max_gpu_name_len: u32,
    /// Largest task input carried inline in a transaction; larger inputs go by hash. Bytes;
    /// default 4096 (a prompt, not a dataset). At most 1 MiB.
    pub max_inline_input: u32,
    /// Largest result output carried inline in a transaction; larger outputs go by hash. Bytes;
    /// default 4096. At most 1 MiB.
    pub max_inline_output: u32,
    /// Longest model id (`zen-coder-1.5b`). Bytes; default 64. At least 1, at most 4096.
    pub max_model_id_len: u32,

    // ---- bonds, deadlines, slashing -------------------------------------------------------
    /// Blocks between an unbond request and the release of the bond. Blocks; default 60 (the Go
    /// quorum engine's value), so a misbehaving provider cannot withdraw at once.
    pub unbond_cooldown_blocks: u64,
    /// Blocks an assigned provider has to post its result (or commitment) before it counts as
    /// missed. Blocks; default 50, half a challenge window.
    pub result_deadline_blocks: u64,
    /// Slash for a missed deadline, as a share of the provider's collateral at stake for that
    /// task (`task_collateral`). Basis points; default 1_000 (10%): an outage costs something but
    /// is not treated as fraud.
    pub miss_slash_bps: u32,
    /// Collateral locked from the provider's bond per posted result, forfeited on a successful
    /// fraud proof. Base units; default 10^17 (a tenth of the minimum bond, so a minimally bonded
    /// provider can hold ten results at once, matching `max_tasks_per_provider`).
    #[serde(with = "amount_serde")]
    pub task_collateral: Amount,
    /// Bond a challenger locks with a fraud proof, lost if the challenge fails. Base units;
    /// default 10^17, equal to `task_collateral` so a challenge costs as much as it threatens.
    /// Must be >= `task_collateral`.
    #[serde(with = "amount_serde")]
    pub challenge_bond: Amount,
    /// Times a task whose provider missed its deadline is re-queued before its fee is refunded.
    /// Count; default 2, so a task never hangs.
    pub max_requeues: u32,

    // ---- disputes (referee panel) ---------------------------------------------------------
    /// K: referees drawn for a challenged result. Count; default 5. Must be odd (no ties).
    pub referee_count: u32,
    /// Blocks referees have to commit their verdict hash. Blocks; default 20.
    pub referee_commit_blocks: u64,
    /// Blocks referees have to reveal their committed verdict. Blocks; default 20.
    pub referee_reveal_blocks: u64,
    /// Share of the loser's slashed bond paid to the winning side. Basis points; default 5_000
    /// (50%): enough to reward an honest challenger well beyond its costs.
    pub winner_share_bps: u32,
    /// Share of the loser's slashed bond split among majority referees. Basis points; default
    /// 2_000 (20%). The rest of the slash (after the winner's share) goes to the treasury.
    pub referee_reward_share_bps: u32,
    /// Slash of a referee that does not reveal or reveals against the majority. Base units;
    /// default 10^16, a tenth of `task_collateral`: it must make silence cost more than effort.
    #[serde(with = "amount_serde")]
    pub referee_slash: Amount,

    // ---- M-of-N commit-reveal -------------------------------------------------------------
    /// N: providers drawn per task in M-of-N mode. Count in [3, 256]; default 5 (Go default 3-of-5).
    pub redundancy_n: u32,
    /// Whether a task may choose its own M and N (within the same rules) instead of the chain's.
    /// Default true; when true, the chain's M and N must be valid M-of-N parameters in any mode.
    pub allow_per_task_redundancy: bool,
    /// Blocks the drawn providers have to commit their result hash. Blocks; default 30 (the Go
    /// quorum engine's value).
    pub commit_phase_blocks: u64,
    /// Blocks they then have to reveal. Blocks; default 30 (the Go quorum engine's value).
    pub reveal_phase_blocks: u64,
    /// Slash of a provider whose revealed hash diverges from the accepted majority. Base units;
    /// default 10^17 (one result's collateral).
    #[serde(with = "amount_serde")]
    pub divergence_slash: Amount,
    /// Slash of a provider that committed but did not reveal. Base units; default 10^17 (the Go
    /// quorum engine's value), so that withholding never pays.
    #[serde(with = "amount_serde")]
    pub withhold_slash: Amount,
    /// Share of the M-of-N slashes paid to the majority providers. Basis points; default 5_000.
    pub majority_share_bps: u32,

    // ---- TEE acceleration -----------------------------------------------------------------
    /// Challenge window of a result from a provider whose attested trust score is at least
    /// `min_trust_score`, in TEE mode. Blocks; default 10 (a tenth of the full window); 0 allowed
    /// (immediate finality, still slashable within `post_finality_horizon_blocks`).
    pub tee_challenge_window_blocks: u64,
    /// Blocks after a shortened-window result finalises during which its collateral stays locked
    /// and a late fraud proof still slashes it (the TEE shortens finality, not the time the bond
    /// is at risk). Blocks; default 200 (two full windows).
    pub post_finality_horizon_blocks: u64,
    /// Ed25519 public keys whose attestation signatures are accepted. JSON: 64 hex digits each.
    /// Default empty (no TEE trusted on a public chain).
    #[serde(with = "attestor_keys_serde")]
    pub trusted_attestors: Vec<[u8; 32]>,
}

impl Default for Config {
    /// The public-chain defaults: optimistic verification, TEE optional, host `"primary"`.
    fn default() -> Self {
        Config {
            max_providers_per_node: 100,
            max_tasks_per_provider: 10,
            host_chain_id: String::from("primary"),
            verification_mode: VerificationMode::Optimistic,
            challenge_window_blocks: 100,
            redundancy_factor: 3,
            min_provider_bond: ONE_TOKEN,
            require_tee_attestation: false,
            min_trust_score: 50,
            attestation_timeout_ms: 30 * MS_PER_SECOND,
            max_task_queue_size: 1000,
            task_timeout_ms: 5 * MS_PER_MINUTE,
            base_reward: 1_000_000_000,
            epoch_duration_ms: MS_PER_HOUR,
            merkle_anchor_freq: 100,

            tx_fee: 1_000_000,
            min_task_fee: 1_000_000,
            protocol_share_bps: 500,
            reward_schedule: RewardSchedule::Flat,
            model_deposit: ONE_TOKEN,

            max_endpoint_len: 256,
            max_gpus: 16,
            max_gpu_name_len: 64,
            max_inline_input: 4096,
            max_inline_output: 4096,
            max_model_id_len: 64,

            unbond_cooldown_blocks: 60,
            result_deadline_blocks: 50,
            miss_slash_bps: 1_000,
            task_collateral: ONE_TOKEN / 10,
            challenge_bond: ONE_TOKEN / 10,
            max_requeues: 2,

            referee_count: 5,
            referee_commit_blocks: 20,
            referee_reveal_blocks: 20,
            winner_share_bps: 5_000,
            referee_reward_share_bps: 2_000,
            referee_slash: ONE_TOKEN / 100,

            redundancy_n: 5,
            allow_per_task_redundancy: true,
            commit_phase_blocks: 30,
            reveal_phase_blocks: 30,
            divergence_slash: ONE_TOKEN / 10,
            withhold_slash: ONE_TOKEN / 10,
            majority_share_bps: 5_000,

            tee_challenge_window_blocks: 10,
            post_finality_horizon_blocks: 200,
            trusted_attestors: Vec::new(),
        }
    }
}

/// Refuses a zero value of `field`.
fn nonzero<T: Default + PartialEq>(field: &'static str, value: T) -> Result<(), ConfigError> {
    if value == T::default() {
        Err(ConfigError::Zero { field })
    } else {
        Ok(())
    }
}

/// Upper bound on `merkle_anchor_freq` (blocks between anchors).
pub const MAX_MERKLE_ANCHOR_FREQ: u64 = 100_000;

/// Refuses a basis-point value above the whole.
fn bps(field: &'static str, value: u32) -> Result<(), ConfigError> {
    if value > BPS_DENOMINATOR {
        Err(ConfigError::BpsOutOfRange { field, value })
    } else {
        Ok(())
    }
}

/// Refuses a limit above its hard bound.
fn at_most(field: &'static str, value: u32, max: u32) -> Result<(), ConfigError> {
    if value > max {
        Err(ConfigError::LimitTooLarge {
            field,
            value: u64::from(value),
            max: u64::from(max),
        })
    } else {
        Ok(())
    }
}

/// Refuses a slash above the minimum provider bond.
fn slash(field: &'static str, value: Amount, min_provider_bond: Amount) -> Result<(), ConfigError> {
    if value > min_provider_bond {
        Err(ConfigError::SlashExceedsBond {
            field,
            value,
            min_provider_bond,
        })
    } else {
        Ok(())
    }
}

fn index_u64(i: usize) -> u64 {
    u64::try_from(i).unwrap_or(u64::MAX)
}

/// Checks M-of-N parameters: N in [3, 256], M <= N, M > N/2.
pub fn validate_redundancy(m: u32, n: u32) -> Result<(), ConfigError> {
    if !(MIN_REDUNDANCY_N..=MAX_REDUNDANCY_N).contains(&n) {
        return Err(ConfigError::RedundancyTotalOutOfRange {
            n,
            min: MIN_REDUNDANCY_N,
            max: MAX_REDUNDANCY_N,
        });
    }
    if m > n {
        return Err(ConfigError::RedundancyExceedsTotal { m, n });
    }
    if m <= n / 2 {
        return Err(ConfigError::RedundancyNotMajority { m, n });
    }
    Ok(())
}

impl Config {
    /// The permissioned-subnet defaults: [`VerificationMode::TeeAttested`], TEE attestation
    /// required, minimum trust score 70, everything else as [`Config::default`].
    ///
    /// It does not validate as is: `trusted_attestors` must name the accepted attestation keys.
    pub fn permissioned() -> Self {
        Config {
            verification_mode: VerificationMode::TeeAttested,
            require_tee_attestation: true,
            min_trust_score: 70,
            ..Config::default()
        }
    }

    /// Refuses a nonsensical config. Checks run in a fixed order and the first failure is
    /// returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // Host chain id.
        let id = self.host_chain_id.as_bytes();
        if id.is_empty() || id.len() > MAX_HOST_CHAIN_ID_LEN as usize {
            return Err(ConfigError::HostChainIdLength {
                len: index_u64(id.len()),
                max: MAX_HOST_CHAIN_ID_LEN,
            });
        }
        if let Some((position, &byte)) = id.iter().enumerate().find(|(_, b)| !b.is_ascii_graphic())
        {
            return Err(ConfigError::HostChainIdCharacter {
                position: index_u64(position),
                byte,
            });
        }

        // Counts and lengths that must be positive.
        nonzero("max_providers_per_node", self.max_providers_per_node)?;
        nonzero("max_tasks_per_provider", self.max_tasks_per_provider)?;
        nonzero("max_task_queue_size", self.max_task_queue_size)?;
        nonzero("attestation_timeout_ms", self.attestation_timeout_ms)?;
        nonzero("task_timeout_ms", self.task_timeout_ms)?;
        nonzero("epoch_duration_ms", self.epoch_duration_ms)?;
        nonzero("merkle_anchor_freq", self.merkle_anchor_freq)?;
        // The results roots awaiting an anchor are kept in state: bound them.
        if self.merkle_anchor_freq > MAX_MERKLE_ANCHOR_FREQ {
            return Err(ConfigError::LimitTooLarge {
                field: "merkle_anchor_freq",
                value: self.merkle_anchor_freq,
                max: MAX_MERKLE_ANCHOR_FREQ,
            });
        }
        nonzero("result_deadline_blocks", self.result_deadline_blocks)?;
        nonzero("commit_phase_blocks", self.commit_phase_blocks)?;
        nonzero("reveal_phase_blocks", self.reveal_phase_blocks)?;
        nonzero("referee_commit_blocks", self.referee_commit_blocks)?;
        nonzero("referee_reveal_blocks", self.referee_reveal_blocks)?;
        nonzero("max_model_id_len", self.max_model_id_len)?;

        // Size limits.
        at_most(
            "max_endpoint_len",
            self.max_endpoint_len,
            MAX_STRING_LEN_LIMIT,
        )?;
        at_most(
            "max_gpu_name_len",
            self.max_gpu_name_len,
            MAX_STRING_LEN_LIMIT,
        )?;
        at_most(
            "max_model_id_len",
            self.max_model_id_len,
            MAX_STRING_LEN_LIMIT,
        )?;
        at_most("max_gpus", self.max_gpus, MAX_GPUS_LIMIT)?;
        at_most(
            "max_inline_input",
            self.max_inline_input,
            MAX_INLINE_PAYLOAD_LIMIT,
        )?;
        at_most(
            "max_inline_output",
            self.max_inline_output,
            MAX_INLINE_PAYLOAD_LIMIT,
        )?;

        // Verification mode and windows.
        if self.verification_mode != VerificationMode::MultiPartyRedundant
            && self.challenge_window_blocks == 0
        {
            return Err(ConfigError::ChallengeWindowZero {
                mode: self.verification_mode,
            });
        }
        if self.tee_challenge_window_blocks > self.challenge_window_blocks {
            return Err(ConfigError::TeeWindowExceedsChallengeWindow {
                tee_window: self.tee_challenge_window_blocks,
                challenge_window: self.challenge_window_blocks,
            });
        }
        if self.verification_mode == VerificationMode::TeeAttested
            && self
                .tee_challenge_window_blocks
                .saturating_add(self.post_finality_horizon_blocks)
                < self.challenge_window_blocks
        {
            return Err(ConfigError::PostFinalityHorizonTooShort {
                tee_window: self.tee_challenge_window_blocks,
                horizon: self.post_finality_horizon_blocks,
                challenge_window: self.challenge_window_blocks,
            });
        }

        // M-of-N.
        nonzero("redundancy_factor", self.redundancy_factor)?;
        if self.redundancy_factor > self.redundancy_n {
            return Err(ConfigError::RedundancyExceedsTotal {
                m: self.redundancy_factor,
                n: self.redundancy_n,
            });
        }
        if self.verification_mode == VerificationMode::MultiPartyRedundant
            || self.allow_per_task_redundancy
        {
            validate_redundancy(self.redundancy_factor, self.redundancy_n)?;
        }

        // Basis points.
        bps("protocol_share_bps", self.protocol_share_bps)?;
        bps("miss_slash_bps", self.miss_slash_bps)?;
        bps("winner_share_bps", self.winner_share_bps)?;
        bps("referee_reward_share_bps", self.referee_reward_share_bps)?;
        bps("majority_share_bps", self.majority_share_bps)?;
        if self
            .winner_share_bps
            .saturating_add(self.referee_reward_share_bps)
            > BPS_DENOMINATOR
        {
            return Err(ConfigError::DisputeSharesExceedWhole {
                winner_share_bps: self.winner_share_bps,
                referee_reward_share_bps: self.referee_reward_share_bps,
            });
        }

        // Fees, bonds, collateral, slashes.
        nonzero("min_task_fee", self.min_task_fee)?;
        nonzero("model_deposit", self.model_deposit)?;
        nonzero("min_provider_bond", self.min_provider_bond)?;
        nonzero("task_collateral", self.task_collateral)?;
        if self.challenge_bond < self.task_collateral {
            return Err(ConfigError::ChallengeBondBelowCollateral {
                challenge_bond: self.challenge_bond,
                task_collateral: self.task_collateral,
            });
        }
        if self.min_provider_bond < self.task_collateral {
            return Err(ConfigError::ProviderBondBelowCollateral {
                min_provider_bond: self.min_provider_bond,
                task_collateral: self.task_collateral,
            });
        }
        nonzero("withhold_slash", self.withhold_slash)?;
        nonzero("referee_slash", self.referee_slash)?;
        slash(
            "divergence_slash",
            self.divergence_slash,
            self.min_provider_bond,
        )?;
        slash(
            "withhold_slash",
            self.withhold_slash,
            self.min_provider_bond,
        )?;
        slash("referee_slash", self.referee_slash, self.min_provider_bond)?;

        // Referee panel.
        nonzero("referee_count", self.referee_count)?;
        if self.referee_count & 1 == 0 {
            return Err(ConfigError::RefereeCountEven {
                referee_count: self.referee_count,
            });
        }
        at_most("referee_count", self.referee_count, MAX_REFEREE_COUNT)?;

        // Trust and attestors.
        if self.min_trust_score > 100 {
            return Err(ConfigError::TrustScoreOutOfRange {
                value: self.min_trust_score,
            });
        }
        if self.trusted_attestors.len() > MAX_TRUSTED_ATTESTORS as usize {
            return Err(ConfigError::TooManyTrustedAttestors {
                count: index_u64(self.trusted_attestors.len()),
                max: MAX_TRUSTED_ATTESTORS,
            });
        }
        if self.require_tee_attestation && self.trusted_attestors.is_empty() {
            return Err(ConfigError::TeeRequiredWithoutAttestors);
        }
        for (index, key) in self.trusted_attestors.iter().enumerate() {
            if let Some(first) = self.trusted_attestors[..index]
                .iter()
                .position(|k| k == key)
            {
                return Err(ConfigError::DuplicateTrustedAttestor {
                    index: index_u64(index),
                    first: index_u64(first),
                });
            }
            check_public_key(*key).map_err(|defect| ConfigError::InvalidTrustedAttestor {
                index: index_u64(index),
                reason: match defect {
                    KeyDefect::NotOnCurve => "not a point on the curve",
                    KeyDefect::SmallOrder => "small-order point",
                },
            })?;
        }
        Ok(())
    }
}

// ---- durations ----------------------------------------------------------------------------

/// At most this many characters of an offending input are kept in an error.
const SNIPPET_CHARS: usize = 64;

/// The start of `s`, cut at [`SNIPPET_CHARS`] characters, for error messages.
fn snippet(s: &str) -> String {
    match s.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => {
            let mut out = String::from(&s[..cut]);
            out.push('…');
            out
        }
        None => String::from(s),
    }
}

/// Parses a Go-style duration into milliseconds: one or more `<integer><unit>` terms with units
/// `h`, `m`, `s`, `ms` (summed, as Go does, so `"1h30m"` = 5_400_000), or the bare `"0"`.
/// Refuses empty input, signs, fractions, whitespace, other units (sub-millisecond ones
/// included) and anything above `u64::MAX` milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<u64, ConfigError> {
    if s.is_empty() {
        return Err(ConfigError::DurationEmpty);
    }
    if s.starts_with('-') {
        return Err(ConfigError::DurationNegative { input: snippet(s) });
    }
    if s == "0" {
        return Ok(0);
    }
    let bytes = s.as_bytes();
    let overflow = || ConfigError::DurationOverflow { input: snippet(s) };
    let mut total: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        // The number.
        let start = i;
        let mut n: u64 = 0;
        while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(b - b'0')))
                .ok_or_else(overflow)?;
            i += 1;
        }
        if bytes.get(i) == Some(&b'.') {
            return Err(ConfigError::DurationFraction { input: snippet(s) });
        }
        if i == start {
            return Err(ConfigError::DurationMissingNumber {
                input: snippet(s),
                position: index_u64(i),
            });
        }
        // The unit: everything up to the next digit or dot (both ASCII, so char boundaries).
        let unit_start = i;
        while bytes
            .get(i)
            .is_some_and(|b| !b.is_ascii_digit() && *b != b'.')
        {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let per_unit = match unit {
            "" => return Err(ConfigError::DurationMissingUnit { input: snippet(s) }),
            "h" => MS_PER_HOUR,
            "m" => MS_PER_MINUTE,
            "s" => MS_PER_SECOND,
            "ms" => 1,
            _ => {
                return Err(ConfigError::DurationUnknownUnit {
                    input: snippet(s),
                    unit: snippet(unit),
                })
            }
        };
        let term = n.checked_mul(per_unit).ok_or_else(overflow)?;
        total = total.checked_add(term).ok_or_else(overflow)?;
    }
    Ok(total)
}

/// Formats milliseconds as a Go-style duration, largest units first and zero terms left out:
/// 0 -> `"0s"`, 300_000 -> `"5m"`, 90_000 -> `"1m30s"`, 1_500 -> `"1s500ms"`,
/// 9_910_000 -> `"2h45m10s"`. [`parse_duration_ms`] reads it back to the same value.
pub fn format_duration_ms(ms: u64) -> String {
    if ms == 0 {
        return String::from("0s");
    }
    let terms = [
        (ms / MS_PER_HOUR, "h"),
        (ms % MS_PER_HOUR / MS_PER_MINUTE, "m"),
        (ms % MS_PER_MINUTE / MS_PER_SECOND, "s"),
        (ms % MS_PER_SECOND, "ms"),
    ];
    let mut out = String::new();
    for (n, unit) in terms {
        if n != 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
        }
    }
    out
}

/// Parses an amount written as a plain decimal integer (ASCII digits only, no sign, no spaces,
/// no separators; leading zeros allowed).
pub fn parse_amount(s: &str) -> Result<Amount, ConfigError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::AmountInvalid { input: snippet(s) });
    }
    s.bytes().try_fold(0 as Amount, |acc, b| {
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(Amount::from(b - b'0')))
            .ok_or_else(|| ConfigError::AmountOverflow { input: snippet(s) })
    })
}

/// Serde of a `u64` of milliseconds: a Go-style string or an integer in human-readable forms,
/// a plain `u64` in binary forms.
mod duration_serde {
    use super::*;

    pub fn serialize<S: Serializer>(ms: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&format_duration_ms(*ms))
        } else {
            serializer.serialize_u64(*ms)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(DurationVisitor)
        } else {
            u64::deserialize(deserializer)
        }
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(r#"a duration: integer milliseconds or a string like "30s", "5m", "1h30m", "250ms""#)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| {
                E::custom(ConfigError::DurationNegative {
                    input: v.to_string(),
                })
            })
        }

        fn visit_u128<E: de::Error>(self, v: u128) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| {
                E::custom(ConfigError::DurationOverflow {
                    input: v.to_string(),
                })
            })
        }

        fn visit_i128<E: de::Error>(self, v: i128) -> Result<u64, E> {
            if v < 0 {
                return Err(E::custom(ConfigError::DurationNegative {
                    input: v.to_string(),
                }));
            }
            u64::try_from(v).map_err(|_| {
                E::custom(ConfigError::DurationOverflow {
                    input: v.to_string(),
                })
            })
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            parse_duration_ms(v).map_err(E::custom)
        }
    }
}

/// Serde of an [`Amount`]: a decimal string (read from a string or an integer) in
/// human-readable forms, a `u128` in binary forms.
mod amount_serde {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Amount, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&v.to_string())
        } else {
            serializer.serialize_u128(*v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Amount, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(AmountVisitor)
        } else {
            Amount::deserialize(deserializer)
        }
    }

    struct AmountVisitor;

    impl Visitor<'_> for AmountVisitor {
        type Value = Amount;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an amount of base units: a non-negative integer or a decimal string")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
            Ok(Amount::from(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
            u64::try_from(v).map(Amount::from).map_err(|_| {
                E::custom(ConfigError::AmountInvalid {
                    input: v.to_string(),
                })
            })
        }

        fn visit_u128<E: de::Error>(self, v: u128) -> Result<Amount, E> {
            Ok(v)
        }

        fn visit_i128<E: de::Error>(self, v: i128) -> Result<Amount, E> {
            Amount::try_from(v).map_err(|_| {
                E::custom(ConfigError::AmountInvalid {
                    input: v.to_string(),
                })
            })
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
            parse_amount(v).map_err(E::custom)
        }
    }
}

/// Serde of the trusted attestor keys: a list of 64-hex-digit strings in human-readable forms,
/// a list of 32-byte arrays in binary forms.
mod attestor_keys_serde {
    use super::*;

    const HEX: &[u8; 16] = b"0123456789abcdef";

    fn encode(key: &[u8; 32]) -> String {
        let mut out = String::with_capacity(64);
        for b in key {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        out
    }

    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }

    pub(super) fn decode(s: &str) -> Result<[u8; 32], ConfigError> {
        let err = || ConfigError::AttestorKeyHex { input: snippet(s) };
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(err());
        }
        let mut key = [0u8; 32];
        for (out, pair) in key.iter_mut().zip(bytes.chunks_exact(2)) {
            let hi = nibble(pair[0]).ok_or_else(err)?;
            let lo = nibble(pair[1]).ok_or_else(err)?;
            *out = (hi << 4) | lo;
        }
        Ok(key)
    }

    pub fn serialize<S: Serializer>(keys: &[[u8; 32]], serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_seq(keys.iter().map(encode))
        } else {
            keys.serialize(serializer)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<[u8; 32]>, D::Error> {
        if deserializer.is_human_readable() {
            let keys = Vec::<HexKey>::deserialize(deserializer)?;
            Ok(keys.into_iter().map(|k| k.0).collect())
        } else {
            Vec::<[u8; 32]>::deserialize(deserializer)
        }
    }

    struct HexKey([u8; 32]);

    impl<'de> Deserialize<'de> for HexKey {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_str(HexKeyVisitor)
        }
    }

    struct HexKeyVisitor;

    impl Visitor<'_> for HexKeyVisitor {
        type Value = HexKey;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an ed25519 public key as 64 hex digits")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<HexKey, E> {
            decode(v).map(HexKey).map_err(E::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const E18: Amount = 1_000_000_000_000_000_000;

    /// An edit of a config, for tables of cases.
    type Edit = fn(&mut Config);

    fn attestor_key(seed: u8) -> [u8; 32] {
        let sk = ed25519_zebra::SigningKey::from([seed; 32]);
        ed25519_zebra::VerificationKey::from(&sk).into()
    }

    fn with(f: impl FnOnce(&mut Config)) -> Config {
        let mut c = Config::default();
        f(&mut c);
        c
    }

    fn err_of(f: impl FnOnce(&mut Config)) -> ConfigError {
        match with(f).validate() {
            Err(e) => e,
            Ok(()) => panic!("expected a validation error"),
        }
    }

    // ---- defaults ---------------------------------------------------------------------------

    #[test]
    fn defaults_match_the_facts_table() {
        let c = Config::default();
        assert_eq!(c.max_providers_per_node, 100);
        assert_eq!(c.max_tasks_per_provider, 10);
        assert_eq!(c.host_chain_id, "primary");
        assert_eq!(c.verification_mode, VerificationMode::Optimistic);
        assert_eq!(c.challenge_window_blocks, 100);
        assert_eq!(c.redundancy_factor, 3);
        assert_eq!(c.redundancy_n, 5);
        assert_eq!(c.min_provider_bond, E18);
        assert!(!c.require_tee_attestation);
        assert_eq!(c.min_trust_score, 50);
        assert_eq!(c.attestation_timeout_ms, 30_000);
        assert_eq!(c.max_task_queue_size, 1000);
        assert_eq!(c.task_timeout_ms, 300_000);
        assert_eq!(c.base_reward, 1_000_000_000);
        assert_eq!(c.epoch_duration_ms, 3_600_000);
        assert_eq!(c.merkle_anchor_freq, 100);
        assert_eq!(c.min_task_fee, 1_000_000);
        assert_eq!(c.commit_phase_blocks, 30);
        assert_eq!(c.reveal_phase_blocks, 30);
        assert_eq!(c.withhold_slash, E18 / 10);
        assert_eq!(c.unbond_cooldown_blocks, 60);
        c.validate().expect("the default config is valid");
    }

    #[test]
    fn protocol_defaults() {
        let c = Config::default();
        assert_eq!(c.tx_fee, 1_000_000);
        assert_eq!(c.protocol_share_bps, 500);
        assert_eq!(c.reward_schedule, RewardSchedule::Flat);
        assert_eq!(c.model_deposit, E18);
        assert_eq!(
            (c.max_endpoint_len, c.max_gpus, c.max_gpu_name_len),
            (256, 16, 64)
        );
        assert_eq!(
            (c.max_inline_input, c.max_inline_output, c.max_model_id_len),
            (4096, 4096, 64)
        );
        assert_eq!(c.result_deadline_blocks, 50);
        assert_eq!(c.miss_slash_bps, 1_000);
        assert_eq!(c.task_collateral, E18 / 10);
        assert_eq!(c.challenge_bond, E18 / 10);
        assert_eq!(c.max_requeues, 2);
        assert_eq!(c.referee_count, 5);
        assert_eq!((c.referee_commit_blocks, c.referee_reveal_blocks), (20, 20));
        assert_eq!(
            (c.winner_share_bps, c.referee_reward_share_bps),
            (5_000, 2_000)
        );
        assert_eq!(c.referee_slash, E18 / 100);
        assert!(c.allow_per_task_redundancy);
        assert_eq!(c.divergence_slash, E18 / 10);
        assert_eq!(c.majority_share_bps, 5_000);
        assert_eq!(c.tee_challenge_window_blocks, 10);
        assert_eq!(c.post_finality_horizon_blocks, 200);
        assert!(c.trusted_attestors.is_empty());
    }

    #[test]
    fn permissioned_config() {
        let p = Config::permissioned();
        assert_eq!(p.verification_mode, VerificationMode::TeeAttested);
        assert!(p.require_tee_attestation);
        assert_eq!(p.min_trust_score, 70);
        let rest = Config {
            verification_mode: VerificationMode::Optimistic,
            require_tee_attestation: false,
            min_trust_score: 50,
            ..p.clone()
        };
        assert_eq!(rest, Config::default());
        // It needs its attestors before it validates.
        assert_eq!(p.validate(), Err(ConfigError::TeeRequiredWithoutAttestors));
        let p = Config {
            trusted_attestors: vec![attestor_key(1), attestor_key(2)],
            ..p
        };
        p.validate()
            .expect("permissioned config with attestors is valid");
    }

    #[test]
    fn verification_mode_tags() {
        for (tag, mode) in VerificationMode::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(mode.as_u8()), tag);
            assert_eq!(VerificationMode::from_u8(mode.as_u8()), Some(mode));
            assert_eq!(VerificationMode::from_name(mode.as_str()), Some(mode));
        }
        assert_eq!(VerificationMode::from_u8(3), None);
        assert_eq!(VerificationMode::from_name("Optimistic"), None);
    }

    // ---- validation ---------------------------------------------------------------------------

    #[test]
    fn validate_redundancy_rules() {
        use VerificationMode::MultiPartyRedundant as Mpr;
        assert_eq!(
            err_of(|c| c.redundancy_factor = 6),
            ConfigError::RedundancyExceedsTotal { m: 6, n: 5 }
        );
        assert_eq!(
            err_of(|c| {
                c.verification_mode = Mpr;
                c.redundancy_factor = 2;
            }),
            ConfigError::RedundancyNotMajority { m: 2, n: 5 }
        );
        assert_eq!(
            err_of(|c| {
                c.verification_mode = Mpr;
                c.redundancy_factor = 2;
                c.redundancy_n = 4;
            }),
            ConfigError::RedundancyNotMajority { m: 2, n: 4 }
        );
        assert_eq!(
            err_of(|c| {
                c.verification_mode = Mpr;
                c.redundancy_factor = 2;
                c.redundancy_n = 2;
            }),
            ConfigError::RedundancyTotalOutOfRange {
                n: 2,
                min: 3,
                max: 256
            }
        );
        assert_eq!(
            err_of(|c| {
                c.verification_mode = Mpr;
                c.redundancy_factor = 200;
                c.redundancy_n = 257;
            }),
            ConfigError::RedundancyTotalOutOfRange {
                n: 257,
                min: 3,
                max: 256
            }
        );
        assert_eq!(
            err_of(|c| c.redundancy_factor = 0),
            ConfigError::Zero {
                field: "redundancy_factor"
            }
        );
        // Per-task redundancy off and optimistic mode: only M <= N is required.
        with(|c| {
            c.allow_per_task_redundancy = false;
            c.redundancy_factor = 1;
            c.redundancy_n = 1;
        })
        .validate()
        .expect("M-of-N unused");
        // ...but per-task redundancy on makes the chain's M and N matter.
        assert_eq!(
            err_of(|c| {
                c.redundancy_factor = 1;
                c.redundancy_n = 1;
            }),
            ConfigError::RedundancyTotalOutOfRange {
                n: 1,
                min: 3,
                max: 256
            }
        );
        // Boundaries.
        for (m, n) in [(2, 3), (3, 3), (3, 4), (129, 256), (256, 256)] {
            with(|c| {
                c.verification_mode = Mpr;
                c.redundancy_factor = m;
                c.redundancy_n = n;
            })
            .validate()
            .expect("valid M-of-N");
        }
        assert_eq!(
            validate_redundancy(128, 256),
            Err(ConfigError::RedundancyNotMajority { m: 128, n: 256 })
        );
    }

    #[test]
    fn validate_windows() {
        for mode in [VerificationMode::Optimistic, VerificationMode::TeeAttested] {
            assert_eq!(
                err_of(|c| {
                    c.verification_mode = mode;
                    c.challenge_window_blocks = 0;
                    c.tee_challenge_window_blocks = 0;
                }),
                ConfigError::ChallengeWindowZero { mode }
            );
        }
        with(|c| {
            c.verification_mode = VerificationMode::MultiPartyRedundant;
            c.challenge_window_blocks = 0;
            c.tee_challenge_window_blocks = 0;
        })
        .validate()
        .expect("M-of-N needs no challenge window");
        assert_eq!(
            err_of(|c| c.tee_challenge_window_blocks = 101),
            ConfigError::TeeWindowExceedsChallengeWindow {
                tee_window: 101,
                challenge_window: 100
            }
        );
        with(|c| c.tee_challenge_window_blocks = 0)
            .validate()
            .expect("a zero TEE window is allowed");
        with(|c| c.tee_challenge_window_blocks = 100)
            .validate()
            .expect("a TEE window equal to the full window is allowed");
        assert_eq!(
            err_of(|c| {
                c.verification_mode = VerificationMode::TeeAttested;
                c.post_finality_horizon_blocks = 89;
            }),
            ConfigError::PostFinalityHorizonTooShort {
                tee_window: 10,
                horizon: 89,
                challenge_window: 100
            }
        );
        with(|c| {
            c.verification_mode = VerificationMode::TeeAttested;
            c.post_finality_horizon_blocks = 90;
        })
        .validate()
        .expect("tee window + horizon = full window is enough");
    }

    #[test]
    fn validate_bps() {
        let cases: [(&str, Edit); 5] = [
            ("protocol_share_bps", |c| c.protocol_share_bps = 10_001),
            ("miss_slash_bps", |c| c.miss_slash_bps = 10_001),
            ("winner_share_bps", |c| c.winner_share_bps = 10_001),
            ("referee_reward_share_bps", |c| {
                c.referee_reward_share_bps = 10_001
            }),
            ("majority_share_bps", |c| c.majority_share_bps = 10_001),
        ];
        for (field, f) in cases {
            assert_eq!(
                err_of(f),
                ConfigError::BpsOutOfRange {
                    field,
                    value: 10_001
                }
            );
        }
        assert_eq!(
            err_of(|c| {
                c.winner_share_bps = 8_001;
                c.referee_reward_share_bps = 2_000;
            }),
            ConfigError::DisputeSharesExceedWhole {
                winner_share_bps: 8_001,
                referee_reward_share_bps: 2_000
            }
        );
        with(|c| {
            c.winner_share_bps = 8_000;
            c.referee_reward_share_bps = 2_000;
            c.protocol_share_bps = 10_000;
            c.majority_share_bps = 10_000;
            c.miss_slash_bps = 0;
        })
        .validate()
        .expect("whole shares are fine");
    }

    #[test]
    fn validate_bonds_and_slashes() {
        assert_eq!(
            err_of(|c| c.challenge_bond = E18 / 10 - 1),
            ConfigError::ChallengeBondBelowCollateral {
                challenge_bond: E18 / 10 - 1,
                task_collateral: E18 / 10
            }
        );
        assert_eq!(
            err_of(|c| c.min_provider_bond = 0),
            ConfigError::Zero {
                field: "min_provider_bond"
            }
        );
        assert_eq!(
            err_of(|c| c.min_provider_bond = E18 / 10 - 1),
            ConfigError::ProviderBondBelowCollateral {
                min_provider_bond: E18 / 10 - 1,
                task_collateral: E18 / 10
            }
        );
        assert_eq!(
            err_of(|c| c.task_collateral = 0),
            ConfigError::Zero {
                field: "task_collateral"
            }
        );
        assert_eq!(
            err_of(|c| c.min_task_fee = 0),
            ConfigError::Zero {
                field: "min_task_fee"
            }
        );
        assert_eq!(
            err_of(|c| c.model_deposit = 0),
            ConfigError::Zero {
                field: "model_deposit"
            }
        );
        assert_eq!(
            err_of(|c| c.withhold_slash = 0),
            ConfigError::Zero {
                field: "withhold_slash"
            }
        );
        assert_eq!(
            err_of(|c| c.referee_slash = 0),
            ConfigError::Zero {
                field: "referee_slash"
            }
        );
        for (field, f) in [
            (
                "divergence_slash",
                (|c| c.divergence_slash = E18 + 1) as Edit,
            ),
            ("withhold_slash", |c| c.withhold_slash = E18 + 1),
            ("referee_slash", |c| c.referee_slash = E18 + 1),
        ] {
            assert_eq!(
                err_of(f),
                ConfigError::SlashExceedsBond {
                    field,
                    value: E18 + 1,
                    min_provider_bond: E18
                }
            );
        }
        with(|c| {
            c.tx_fee = 0;
            c.min_task_fee = 1;
            c.base_reward = 0;
            c.divergence_slash = 0;
            c.max_requeues = 0;
            c.unbond_cooldown_blocks = 0;
        })
        .validate()
        .expect("zero tx fee, reward, divergence slash, requeues and cooldown are allowed");
        with(|c| {
            c.min_provider_bond = Amount::MAX;
            c.challenge_bond = Amount::MAX;
            c.task_collateral = Amount::MAX;
            c.divergence_slash = Amount::MAX;
        })
        .validate()
        .expect("extreme amounts validate without overflow");
    }

    #[test]
    fn validate_referees() {
        assert_eq!(
            err_of(|c| c.referee_count = 0),
            ConfigError::Zero {
                field: "referee_count"
            }
        );
        assert_eq!(
            err_of(|c| c.referee_count = 4),
            ConfigError::RefereeCountEven { referee_count: 4 }
        );
        assert_eq!(
            err_of(|c| c.referee_count = 257),
            ConfigError::LimitTooLarge {
                field: "referee_count",
                value: 257,
                max: 255
            }
        );
        for k in [1, 3, 255] {
            with(|c| c.referee_count = k).validate().expect("odd panel");
        }
    }

    #[test]
    fn validate_zero_fields() {
        let cases: [(&str, Edit); 13] = [
            ("max_providers_per_node", |c| c.max_providers_per_node = 0),
            ("max_tasks_per_provider", |c| c.max_tasks_per_provider = 0),
            ("max_task_queue_size", |c| c.max_task_queue_size = 0),
            ("attestation_timeout_ms", |c| c.attestation_timeout_ms = 0),
            ("task_timeout_ms", |c| c.task_timeout_ms = 0),
            ("epoch_duration_ms", |c| c.epoch_duration_ms = 0),
            ("merkle_anchor_freq", |c| c.merkle_anchor_freq = 0),
            ("result_deadline_blocks", |c| c.result_deadline_blocks = 0),
            ("commit_phase_blocks", |c| c.commit_phase_blocks = 0),
            ("reveal_phase_blocks", |c| c.reveal_phase_blocks = 0),
            ("referee_commit_blocks", |c| c.referee_commit_blocks = 0),
            ("referee_reveal_blocks", |c| c.referee_reveal_blocks = 0),
            ("max_model_id_len", |c| c.max_model_id_len = 0),
        ];
        for (field, f) in cases {
            assert_eq!(err_of(f), ConfigError::Zero { field }, "{field}");
        }
    }

    #[test]
    fn validate_limits() {
        let cases: [(&str, u64, Edit); 6] = [
            ("max_endpoint_len", 4096, |c| c.max_endpoint_len = 4097),
            ("max_gpu_name_len", 4096, |c| c.max_gpu_name_len = 4097),
            ("max_model_id_len", 4096, |c| c.max_model_id_len = 4097),
            ("max_gpus", 1024, |c| c.max_gpus = 1025),
            ("max_inline_input", 1 << 20, |c| {
                c.max_inline_input = (1 << 20) + 1
            }),
            ("max_inline_output", 1 << 20, |c| {
                c.max_inline_output = (1 << 20) + 1
            }),
        ];
        for (field, max, f) in cases {
            assert_eq!(
                err_of(f),
                ConfigError::LimitTooLarge {
                    field,
                    value: max + 1,
                    max
                },
                "{field}"
            );
        }
        with(|c| {
            c.max_endpoint_len = 0;
            c.max_gpus = 0;
            c.max_inline_input = 0;
            c.max_inline_output = MAX_INLINE_PAYLOAD_LIMIT;
        })
        .validate()
        .expect("zero limits forbid inline data and are allowed");
    }

    #[test]
    fn validate_trust_and_attestors() {
        assert_eq!(
            err_of(|c| c.min_trust_score = 101),
            ConfigError::TrustScoreOutOfRange { value: 101 }
        );
        with(|c| c.min_trust_score = 100)
            .validate()
            .expect("100 is fine");
        assert_eq!(
            err_of(|c| c.require_tee_attestation = true),
            ConfigError::TeeRequiredWithoutAttestors
        );
        assert_eq!(
            err_of(
                |c| c.trusted_attestors = vec![attestor_key(1), attestor_key(2), attestor_key(1)]
            ),
            ConfigError::DuplicateTrustedAttestor { index: 2, first: 0 }
        );
        // Small-order points: the identity (y = 1), the order-4 point y = 0, the order-2 point
        // y = -1, and a non-canonical identity (y = p + 1).
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        let mut p_plus_one = [0xffu8; 32];
        p_plus_one[0] = 0xee;
        p_plus_one[31] = 0x7f;
        let mut identity = [0u8; 32];
        identity[0] = 1;
        for bad in [identity, [0u8; 32], minus_one, p_plus_one] {
            let e = err_of(|c| c.trusted_attestors = vec![attestor_key(7), bad]);
            assert!(
                matches!(e, ConfigError::InvalidTrustedAttestor { index: 1, .. }),
                "{bad:?}: {e}"
            );
        }
        // A y that has no x on the curve (y = 2).
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert_eq!(
            err_of(|c| c.trusted_attestors = vec![off_curve]),
            ConfigError::InvalidTrustedAttestor {
                index: 0,
                reason: "not a point on the curve"
            }
        );
        let many: Vec<[u8; 32]> = (0..=MAX_TRUSTED_ATTESTORS)
            .map(|i| {
                let mut k = [0u8; 32];
                k[..4].copy_from_slice(&i.to_le_bytes());
                k
            })
            .collect();
        assert_eq!(
            err_of(|c| c.trusted_attestors = many),
            ConfigError::TooManyTrustedAttestors {
                count: 257,
                max: 256
            }
        );
        with(|c| c.trusted_attestors = (1..=20).map(attestor_key).collect())
            .validate()
            .expect("real keys are accepted");
    }

    #[test]
    fn validate_host_chain_id() {
        assert_eq!(
            err_of(|c| c.host_chain_id = String::new()),
            ConfigError::HostChainIdLength { len: 0, max: 64 }
        );
        assert_eq!(
            err_of(|c| c.host_chain_id = "x".repeat(65)),
            ConfigError::HostChainIdLength { len: 65, max: 64 }
        );
        with(|c| c.host_chain_id = "x".repeat(64))
            .validate()
            .expect("64 bytes");
        assert_eq!(
            err_of(|c| c.host_chain_id = "zoo net".into()),
            ConfigError::HostChainIdCharacter {
                position: 3,
                byte: b' '
            }
        );
        assert_eq!(
            err_of(|c| c.host_chain_id = "hé".into()),
            ConfigError::HostChainIdCharacter {
                position: 1,
                byte: 0xc3
            }
        );
        with(|c| c.host_chain_id = "hanzo-L2_v1.0".into())
            .validate()
            .expect("ordinary ids");
    }

    #[test]
    fn error_messages_name_the_field() {
        let e = err_of(|c| c.challenge_bond = 1);
        let msg = e.to_string();
        assert!(msg.contains("challenge_bond = 1"), "{msg}");
        assert!(
            msg.contains("task_collateral = 100000000000000000"),
            "{msg}"
        );
        assert_eq!(
            ConfigError::Zero {
                field: "epoch_duration_ms"
            }
            .to_string(),
            "epoch_duration_ms must be greater than zero"
        );
    }

    // ---- durations ------------------------------------------------------------------------

    #[test]
    fn duration_parse_examples() {
        let ok = [
            ("0", 0),
            ("0s", 0),
            ("0ms", 0),
            ("250ms", 250),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h", 3_600_000),
            ("1h30m", 5_400_000),
            ("2h45m10s", 9_910_000),
            ("1s500ms", 1_500),
            ("90s", 90_000),
            ("1m1m", 120_000),
            ("007s", 7_000),
            ("18446744073709551615ms", u64::MAX),
        ];
        for (s, ms) in ok {
            assert_eq!(parse_duration_ms(s), Ok(ms), "{s}");
        }
    }

    #[test]
    fn duration_parse_errors() {
        use ConfigError::*;
        let i = |s: &str| s.to_string();
        assert_eq!(parse_duration_ms(""), Err(DurationEmpty));
        assert_eq!(
            parse_duration_ms("-5m"),
            Err(DurationNegative { input: i("-5m") })
        );
        assert_eq!(
            parse_duration_ms("1.5h"),
            Err(DurationFraction { input: i("1.5h") })
        );
        assert_eq!(
            parse_duration_ms("1h.5m"),
            Err(DurationFraction { input: i("1h.5m") })
        );
        assert_eq!(
            parse_duration_ms("30"),
            Err(DurationMissingUnit { input: i("30") })
        );
        assert_eq!(
            parse_duration_ms("1h30"),
            Err(DurationMissingUnit { input: i("1h30") })
        );
        assert_eq!(
            parse_duration_ms("h"),
            Err(DurationMissingNumber {
                input: i("h"),
                position: 0
            })
        );
        assert_eq!(
            parse_duration_ms("+5m"),
            Err(DurationMissingNumber {
                input: i("+5m"),
                position: 0
            })
        );
        assert_eq!(
            parse_duration_ms(" 5m"),
            Err(DurationMissingNumber {
                input: i(" 5m"),
                position: 0
            })
        );
        for (s, unit) in [
            ("5d", "d"),
            ("5us", "us"),
            ("5µs", "µs"),
            ("5ns", "ns"),
            ("5M", "M"),
            ("5 m", " m"),
            ("5m ", "m "),
            ("5mss", "mss"),
        ] {
            assert_eq!(
                parse_duration_ms(s),
                Err(DurationUnknownUnit {
                    input: i(s),
                    unit: i(unit)
                }),
                "{s}"
            );
        }
        for s in [
            "18446744073709551616ms",
            "5124095576031h",
            "99999999999999999999999h",
            "5124095576030h25m51s616ms",
            "5124095576030h26m",
        ] {
            assert_eq!(
                parse_duration_ms(s),
                Err(DurationOverflow { input: i(s) }),
                "{s}"
            );
        }
        // Long input is cut in the error.
        let long = "x".repeat(1000);
        match parse_duration_ms(&long) {
            Err(DurationMissingNumber { input, .. }) => assert!(input.chars().count() <= 65),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duration_format_examples() {
        let cases = [
            (0, "0s"),
            (1, "1ms"),
            (250, "250ms"),
            (1_000, "1s"),
            (1_500, "1s500ms"),
            (30_000, "30s"),
            (90_000, "1m30s"),
            (300_000, "5m"),
            (3_600_000, "1h"),
            (3_600_001, "1h1ms"),
            (5_400_000, "1h30m"),
            (9_910_000, "2h45m10s"),
            (u64::MAX, "5124095576030h25m51s615ms"),
        ];
        for (ms, s) in cases {
            assert_eq!(format_duration_ms(ms), s, "{ms}");
            assert_eq!(parse_duration_ms(s), Ok(ms), "{s}");
        }
    }

    proptest! {
        #[test]
        fn duration_format_parse_round_trip(ms in any::<u64>()) {
            prop_assert_eq!(parse_duration_ms(&format_duration_ms(ms)), Ok(ms));
        }

        #[test]
        fn duration_parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse_duration_ms(&s);
        }

        #[test]
        fn duration_parse_of_terms(h in 0u64..10_000, m in 0u64..100, s in 0u64..100, x in 0u64..10_000) {
            let text = format!("{h}h{m}m{s}s{x}ms");
            prop_assert_eq!(
                parse_duration_ms(&text),
                Ok(h * 3_600_000 + m * 60_000 + s * 1_000 + x)
            );
        }

        #[test]
        fn amount_string_round_trip(v in any::<u128>()) {
            prop_assert_eq!(parse_amount(&v.to_string()), Ok(v));
        }

        #[test]
        fn postcard_round_trip_any_config(
            bond in any::<u128>(),
            window in any::<u64>(),
            mode in 0u8..3,
            keys in proptest::collection::vec(any::<[u8; 32]>(), 0..4),
            host in "\\PC{0,70}",
        ) {
            let c = Config {
                min_provider_bond: bond,
                challenge_window_blocks: window,
                verification_mode: VerificationMode::from_u8(mode).unwrap_or_default(),
                trusted_attestors: keys,
                host_chain_id: host,
                ..Config::default()
            };
            let bytes = postcard::to_allocvec(&c).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back: Config = postcard::from_bytes(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&back, &c);
            let json = serde_json::to_string(&c).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back: Config = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, c);
        }

        #[test]
        fn postcard_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = postcard::from_bytes::<Config>(&bytes);
        }
    }

    #[test]
    fn amount_parse() {
        assert_eq!(parse_amount("0"), Ok(0));
        assert_eq!(parse_amount("000123"), Ok(123));
        assert_eq!(parse_amount(&u128::MAX.to_string()), Ok(u128::MAX));
        for s in ["", "-1", "+1", "1e18", "1_000", " 1", "1.0", "0x10"] {
            assert_eq!(
                parse_amount(s),
                Err(ConfigError::AmountInvalid { input: s.into() }),
                "{s}"
            );
        }
        let too_big = "340282366920938463463374607431768211456"; // u128::MAX + 1
        assert_eq!(
            parse_amount(too_big),
            Err(ConfigError::AmountOverflow {
                input: too_big.into()
            })
        );
    }

    // ---- JSON ---------------------------------------------------------------------------------

    #[test]
    fn json_of_the_default_config() {
        let v = serde_json::to_value(Config::default()).expect("serialize");
        let expected: serde_json::Value = serde_json::from_str(
            r#"{
            "maxProvidersPerNode": 100,
            "maxTasksPerProvider": 10,
            "hostChainID": "primary",
            "verificationMode": "optimistic",
            "challengeWindowBlocks": 100,
            "redundancyFactor": 3,
            "minProviderBond": "1000000000000000000",
            "requireTEEAttestation": false,
            "minTrustScore": 50,
            "attestationTimeout": "30s",
            "maxTaskQueueSize": 1000,
            "taskTimeout": "5m",
            "baseReward": "1000000000",
            "epochDuration": "1h",
            "merkleAnchorFreq": 100,
            "txFee": "1000000",
            "minTaskFee": "1000000",
            "protocolShareBps": 500,
            "rewardSchedule": "flat",
            "modelDeposit": "1000000000000000000",
            "maxEndpointLen": 256,
            "maxGpus": 16,
            "maxGpuNameLen": 64,
            "maxInlineInput": 4096,
            "maxInlineOutput": 4096,
            "maxModelIdLen": 64,
            "unbondCooldownBlocks": 60,
            "resultDeadlineBlocks": 50,
            "missSlashBps": 1000,
            "taskCollateral": "100000000000000000",
            "challengeBond": "100000000000000000",
            "maxRequeues": 2,
            "refereeCount": 5,
            "refereeCommitBlocks": 20,
            "refereeRevealBlocks": 20,
            "winnerShareBps": 5000,
            "refereeRewardShareBps": 2000,
            "refereeSlash": "10000000000000000",
            "redundancyN": 5,
            "allowPerTaskRedundancy": true,
            "commitPhaseBlocks": 30,
            "revealPhaseBlocks": 30,
            "divergenceSlash": "100000000000000000",
            "withholdSlash": "100000000000000000",
            "majorityShareBps": 5000,
            "teeChallengeWindowBlocks": 10,
            "postFinalityHorizonBlocks": 200,
            "trustedAttestors": []
        }"#,
        )
        .expect("expected JSON");
        assert_eq!(v, expected);
        let back: Config = serde_json::from_value(v).expect("deserialize");
        assert_eq!(back, Config::default());
    }

    #[test]
    fn json_go_config_document() {
        // A document in the Go implementation's own shape (its defaults, its names).
        let go = r#"{
            "maxProvidersPerNode": 100, "maxTasksPerProvider": 10, "hostChainID": "primary",
            "verificationMode": 0, "challengeWindowBlocks": 100, "redundancyFactor": 3,
            "minProviderBond": 1000000000000000000, "requireTEEAttestation": false,
            "minTrustScore": 50, "attestationTimeout": "30s", "maxTaskQueueSize": 1000,
            "taskTimeout": "5m", "baseReward": 1000000000, "epochDuration": "1h",
            "merkleAnchorFreq": 100
        }"#;
        let c: Config = serde_json::from_str(go).expect("Go config parses");
        assert_eq!(c, Config::default());
    }

    #[test]
    fn json_partial_keeps_defaults() {
        let c: Config = serde_json::from_str(r#"{"challengeWindowBlocks": 7}"#).expect("parse");
        assert_eq!(c, with(|c| c.challenge_window_blocks = 7));
        let c: Config = serde_json::from_str("{}").expect("parse");
        assert_eq!(c, Config::default());
        let c: Config = serde_json::from_str(
            r#"{"verificationMode": "teeAttested", "requireTEEAttestation": true,
                "minTrustScore": 70, "taskTimeout": 1500, "rewardSchedule": "luxV1",
                "trustedAttestors": ["00000000000000000000000000000000000000000000000000000000000000AB"]}"#,
        )
        .expect("parse");
        let mut key = [0u8; 32];
        key[31] = 0xab;
        assert_eq!(
            c,
            Config {
                task_timeout_ms: 1_500,
                reward_schedule: RewardSchedule::LuxV1,
                trusted_attestors: vec![key],
                ..Config::permissioned()
            }
        );
    }

    #[test]
    fn json_unknown_field_refused() {
        let e = serde_json::from_str::<Config>(r#"{"challengeWindowBlock": 7}"#)
            .expect_err("typo refused");
        assert!(
            e.to_string()
                .contains("unknown field `challengeWindowBlock`"),
            "{e}"
        );
        // The snake_case Rust name is not the JSON name either.
        serde_json::from_str::<Config>(r#"{"challenge_window_blocks": 7}"#)
            .expect_err("snake_case refused");
    }

    #[test]
    fn json_amounts_as_string_and_integer() {
        let c: Config =
            serde_json::from_str(r#"{"minProviderBond": "340282366920938463463374607431768211455", "baseReward": 42, "txFee": "0"}"#)
                .expect("parse");
        assert_eq!(c.min_provider_bond, u128::MAX);
        assert_eq!(c.base_reward, 42);
        assert_eq!(c.tx_fee, 0);
        let v = serde_json::to_value(&c).expect("serialize");
        assert_eq!(
            v["minProviderBond"],
            json!("340282366920938463463374607431768211455")
        );
        assert_eq!(v["baseReward"], json!("42"));
        for bad in [
            r#"{"baseReward": -1}"#,
            r#"{"baseReward": 1.5}"#,
            r#"{"baseReward": 1e18}"#,
            r#"{"baseReward": "1e18"}"#,
            r#"{"baseReward": "-1"}"#,
            r#"{"baseReward": ""}"#,
            r#"{"baseReward": "340282366920938463463374607431768211456"}"#,
            r#"{"baseReward": 340282366920938463463374607431768211456}"#,
            r#"{"baseReward": null}"#,
            r#"{"baseReward": true}"#,
        ] {
            serde_json::from_str::<Config>(bad).expect_err(bad);
        }
    }

    #[test]
    fn json_durations() {
        let c: Config = serde_json::from_str(
            r#"{"taskTimeout": "1m30s", "epochDuration": 7200000, "attestationTimeout": "1s500ms"}"#,
        )
        .expect("parse");
        assert_eq!(c.task_timeout_ms, 90_000);
        assert_eq!(c.epoch_duration_ms, 7_200_000);
        assert_eq!(c.attestation_timeout_ms, 1_500);
        let v = serde_json::to_value(&c).expect("serialize");
        assert_eq!(v["taskTimeout"], json!("1m30s"));
        assert_eq!(v["epochDuration"], json!("2h"));
        assert_eq!(v["attestationTimeout"], json!("1s500ms"));
        for bad in [
            r#"{"taskTimeout": -1}"#,
            r#"{"taskTimeout": 1.5}"#,
            r#"{"taskTimeout": "1.5m"}"#,
            r#"{"taskTimeout": "5"}"#,
            r#"{"taskTimeout": "-5m"}"#,
            r#"{"taskTimeout": "5d"}"#,
            r#"{"taskTimeout": ""}"#,
            r#"{"taskTimeout": 18446744073709551616}"#,
            r#"{"taskTimeout": null}"#,
        ] {
            serde_json::from_str::<Config>(bad).expect_err(bad);
        }
        let e = serde_json::from_str::<Config>(r#"{"taskTimeout": "1.5m"}"#).expect_err("fraction");
        assert!(e.to_string().contains("fraction"), "{e}");
    }

    #[test]
    fn json_verification_mode() {
        for (text, mode) in [
            (r#""optimistic""#, VerificationMode::Optimistic),
            (
                r#""multiPartyRedundant""#,
                VerificationMode::MultiPartyRedundant,
            ),
            (r#""teeAttested""#, VerificationMode::TeeAttested),
            ("0", VerificationMode::Optimistic),
            ("1", VerificationMode::MultiPartyRedundant),
            ("2", VerificationMode::TeeAttested),
        ] {
            let c: Config =
                serde_json::from_str(&format!(r#"{{"verificationMode": {text}}}"#)).expect(text);
            assert_eq!(c.verification_mode, mode);
        }
        for bad in [
            r#""Optimistic""#,
            r#""tee""#,
            "3",
            "-1",
            "256",
            "1.0",
            "null",
        ] {
            serde_json::from_str::<Config>(&format!(r#"{{"verificationMode": {bad}}}"#))
                .expect_err(bad);
        }
    }

    #[test]
    fn json_reward_schedule_and_attestors() {
        serde_json::from_str::<Config>(r#"{"rewardSchedule": "LuxV1"}"#).expect_err("case");
        let key = attestor_key(3);
        let c = with(|c| c.trusted_attestors = vec![key]);
        let v = serde_json::to_value(&c).expect("serialize");
        let hex = v["trustedAttestors"][0]
            .as_str()
            .expect("hex string")
            .to_string();
        assert_eq!(hex.len(), 64);
        assert_eq!(attestor_keys_serde::decode(&hex), Ok(key));
        assert_eq!(serde_json::from_value::<Config>(v).expect("parse"), c);
        for bad in [
            r#"["00"]"#,
            r#"["zz00000000000000000000000000000000000000000000000000000000000000"]"#,
            r#"[[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]]"#,
            r#""00""#,
        ] {
            serde_json::from_str::<Config>(&format!(r#"{{"trustedAttestors": {bad}}}"#))
                .expect_err(bad);
        }
    }

    // ---- binary -------------------------------------------------------------------------------

    #[test]
    fn postcard_round_trip() {
        for c in [
            Config::default(),
            Config {
                trusted_attestors: vec![attestor_key(1), [0xff; 32]],
                min_provider_bond: u128::MAX,
                epoch_duration_ms: u64::MAX,
                reward_schedule: RewardSchedule::LuxV1,
                ..Config::permissioned()
            },
        ] {
            let bytes = postcard::to_allocvec(&c).expect("encode");
            let back: Config = postcard::from_bytes(&bytes).expect("decode");
            assert_eq!(back, c);
        }
    }

    #[test]
    fn postcard_binary_forms() {
        // The verification mode is one byte; durations are varint u64, amounts varint u128.
        let mode = postcard::to_allocvec(&VerificationMode::TeeAttested).expect("encode");
        assert_eq!(mode, [2]);
        assert!(postcard::from_bytes::<VerificationMode>(&[3]).is_err());
        let c = Config::default();
        let bytes = postcard::to_allocvec(&c).expect("encode");
        // Truncations never panic and never decode.
        for cut in 0..bytes.len() {
            assert!(
                postcard::from_bytes::<Config>(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
    }

    /// The default config's canonical bytes are part of the genesis hash: this pins them. A
    /// change here is a consensus change (new field, reordering, new default).
    #[test]
    fn postcard_default_bytes_are_pinned() {
        let bytes = postcard::to_allocvec(&Config::default()).expect("encode");
        let hash = blake3::hash(&bytes);
        assert_eq!(
            (bytes.len(), hash.to_hex().to_string()),
            (PINNED_DEFAULT_LEN, PINNED_DEFAULT_HASH.to_string())
        );
    }

    const PINNED_DEFAULT_LEN: usize = 135;
    const PINNED_DEFAULT_HASH: &str =
        "edd425ae51b9b0792537886b613b9930cf9521c360b17dff40f4d2ebb36b5c00";
}
