//! TEE attestation evidence, verified deterministically inside the core.
//!
//! Evidence is a signed statement by an *attestor* (a key in the chain's trusted set, e.g. a
//! verifier that checked an NVIDIA nvtrust report or a CPU TEE quote) about one provider's device.
//! The core never reads a clock: `now_ms` comes from the block header.
//!
//! Unlike the Go package (defect #9 of the facts file: self-reported flags trusted, CPU-only
//! attestation bypassing the minimum trust score), nothing here is scored until the evidence has
//! passed every check of [`verify_attestation`]; the flags scored are the ones the trusted attestor
//! signed, and software-only evidence is capped at [`SOFTWARE_ONLY_CAP`] = 60, below the
//! permissioned minimum of 70, whatever it claims.
//!
//! # Signing bytes
//!
//! `b"aivm/attestation/v1" || postcard(evidence)`, signed with ed25519 by `evidence.attestor`.
//! Verification uses `ed25519-zebra`, whose ZIP-215 rules are fully specified, so every node
//! accepts exactly the same signatures.
//!
//! # Model matching for the trust score
//!
//! The device model string is matched case-sensitively against the table rows **in order, first
//! match wins**. A needle matches where it occurs and is *not followed by an ASCII digit*, so a
//! longer model number never takes the bonus of a shorter one that prefixes it:
//! - `"GB10"` (software table, +12) does not match `"NVIDIA GB100"`; `"4090"` does not match
//!   `"40900"`;
//! - `"B100"` does match inside `"GB100"` (GPU table, +10), and `"B200"` inside `"GB200"`, which
//!   is intended: both are Blackwell datacenter parts of the same row;
//! - suffixes that are not digits still match: `"H100 NVL"`, `"H100-80GB"`, `"RTX 5090 D"`.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Domain separator prefixed to the postcard encoding of the evidence before signing.
pub const ATTESTATION_DOMAIN: &[u8] = b"aivm/attestation/v1";

/// Maximum length of [`AttestationEvidence::device_model`], in bytes.
pub const MAX_DEVICE_MODEL_LEN: u64 = 64;

/// Base score of hardware-rooted GPU evidence.
pub const GPU_LOCAL_BASE: u8 = 70;
/// Bonus for confidential computing enabled (GPU local evidence).
pub const GPU_CC_BONUS: u8 = 15;
/// Bonus for TEE-IO (GPU local evidence).
pub const GPU_TEE_IO_BONUS: u8 = 5;
/// Bonus for verified reference integrity measurements (GPU local evidence).
pub const GPU_RIM_BONUS: u8 = 5;
/// Cap of the GPU local score.
pub const GPU_LOCAL_CAP: u8 = 100;
/// GPU local model bonus rows, tried in order (first match wins); no match: 0.
pub const GPU_LOCAL_MODEL_BONUS: &[(&[&str], u8)] = &[
    (&["GB200", "B200", "B100"], 10),
    (&["H200", "H100"], 8),
    (&["RTX PRO 6000"], 5),
];

/// Base score of software-only evidence.
pub const SOFTWARE_ONLY_BASE: u8 = 20;
/// Software-only model bonus rows, tried in order (first match wins); no match: [`SOFTWARE_OTHER_MODEL_BONUS`].
pub const SOFTWARE_MODEL_BONUS: &[(&[&str], u8)] = &[
    (&["5090", "5080"], 15),
    (&["GB10"], 12),
    (&["4090", "4080"], 10),
    (&["3090", "3080"], 8),
];
/// Software-only model bonus of any other model.
pub const SOFTWARE_OTHER_MODEL_BONUS: u8 = 5;
/// Bonus for a passed benchmark (software-only evidence).
pub const SOFTWARE_BENCHMARK_BONUS: u8 = 10;
/// Bonus for the attestor's signature (software-only evidence; always verified before scoring).
pub const SOFTWARE_SIGNATURE_BONUS: u8 = 10;
/// Bonus for a verified driver (software-only evidence).
pub const SOFTWARE_DRIVER_BONUS: u8 = 5;
/// Cap of the software-only score: never enough for hardware trust (70).
pub const SOFTWARE_ONLY_CAP: u8 = 60;

/// The trusted execution environment the evidence comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum TeeType {
    /// Intel SGX.
    Sgx,
    /// AMD SEV-SNP.
    SevSnp,
    /// Intel TDX.
    Tdx,
    /// NVIDIA GPU confidential computing (nvtrust).
    Nvidia,
    /// ARM CCA / TrustZone.
    Arm,
}

/// What kind of evidence the attestor checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum EvidenceKind {
    /// Hardware-rooted GPU evidence (local nvtrust report): scored from 70, capped at 100.
    GpuLocal,
    /// Software-only evidence (benchmark, driver, signature; CPU-only quotes count here too):
    /// scored from 20, capped at 60.
    SoftwareOnly,
}

/// The statement an attestor signs about one provider's device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AttestationEvidence {
    /// TEE the evidence comes from.
    pub tee_type: TeeType,
    /// Hardware-rooted GPU evidence or software-only evidence.
    pub kind: EvidenceKind,
    /// Device model, e.g. `"NVIDIA H100"`, `"RTX 5090"`; at most [`MAX_DEVICE_MODEL_LEN`] bytes.
    pub device_model: String,
    /// Measurement hash of the software stack.
    pub measurement: [u8; 32],
    /// Confidential computing on (scored for GPU local evidence only).
    pub cc_enabled: bool,
    /// TEE-IO on (scored for GPU local evidence only).
    pub tee_io: bool,
    /// Reference integrity measurements verified (scored for GPU local evidence only).
    pub rim_verified: bool,
    /// Benchmark passed (scored for software-only evidence only).
    pub benchmark_ok: bool,
    /// Driver verified (scored for software-only evidence only).
    pub driver_ok: bool,
    /// Time the evidence was issued (ms, block-time scale).
    pub issued_at_ms: u64,
    /// Time from which the evidence is no longer valid (exclusive bound, ms).
    pub expires_at_ms: u64,
    /// The provider identity (ed25519 public key bytes) this evidence binds.
    pub provider_key: [u8; 32],
    /// The attestor's ed25519 public key; must be in the trusted set.
    pub attestor: [u8; 32],
}

/// Evidence with the attestor's ed25519 signature over [`signing_bytes`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SignedAttestation {
    /// The signed statement.
    pub evidence: AttestationEvidence,
    /// ed25519 signature by `evidence.attestor` over `signing_bytes(&evidence)`.
    #[serde(with = "sig_serde")]
    pub signature: [u8; 64],
}

/// How strongly the device is attested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum DeviceMode {
    /// GPU local evidence with confidential computing on.
    HardwareCc,
    /// GPU local evidence with confidential computing off.
    Hardware,
    /// Software-only evidence.
    Software,
}

impl DeviceMode {
    /// Stable text name: `"hardware-cc"`, `"hardware"`, `"software"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceMode::HardwareCc => "hardware-cc",
            DeviceMode::Hardware => "hardware",
            DeviceMode::Software => "software",
        }
    }
}

/// The result of a successful verification (backs the `VerifyGPUAttestation` query).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct DeviceStatus {
    /// Always `true` for a status returned by [`verify_attestation`].
    pub attested: bool,
    /// Trust score, computed from verified fields only ([`trust_score`]).
    pub trust_score: u8,
    /// TEE the evidence comes from.
    pub tee_type: TeeType,
    /// Hardware with CC, hardware, or software.
    pub mode: DeviceMode,
    /// True only for GPU local evidence with confidential computing on.
    pub hardware_cc: bool,
    /// Time from which the evidence is no longer valid (exclusive, ms).
    pub expires_at_ms: u64,
    /// Measurement hash of the attested software stack.
    pub measurement: [u8; 32],
}

/// Why evidence was refused. Checked in this order (see [`verify_attestation`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Error)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum AttestationError {
    /// The attestor is not in the trusted set (self-signed evidence lands here).
    #[error("attestor is not trusted")]
    UntrustedAttestor,
    /// The device model is longer than [`MAX_DEVICE_MODEL_LEN`] bytes.
    #[error("device model is {len} bytes, more than {max}")]
    DeviceModelTooLong {
        /// Length found, in bytes.
        len: u64,
        /// Maximum allowed.
        max: u64,
    },
    /// The trusted attestor key bytes do not encode a curve point.
    #[error("attestor key is not a valid ed25519 public key")]
    InvalidAttestorKey,
    /// The signature does not verify under the attestor key.
    #[error("attestation signature is invalid")]
    InvalidSignature,
    /// The evidence binds another provider.
    #[error("attestation binds another provider key")]
    ProviderMismatch,
    /// `now_ms >= expires_at_ms`.
    #[error("attestation expired at {expires_at_ms} ms (now {now_ms} ms)")]
    Expired {
        /// Expiry of the evidence.
        expires_at_ms: u64,
        /// Block time of the check.
        now_ms: u64,
    },
    /// `issued_at_ms > now_ms`.
    #[error("attestation issued at {issued_at_ms} ms, in the future (now {now_ms} ms)")]
    NotYetValid {
        /// Issue time of the evidence.
        issued_at_ms: u64,
        /// Block time of the check.
        now_ms: u64,
    },
    /// The evidence is older than the attestation timeout.
    #[error("attestation is {age_ms} ms old, more than the timeout {timeout_ms} ms")]
    TooOld {
        /// `now_ms - issued_at_ms`.
        age_ms: u64,
        /// The configured attestation timeout.
        timeout_ms: u64,
    },
    /// The software measurement has been revoked.
    #[error("measurement is revoked")]
    RevokedMeasurement,
}

/// Serde helper for fixed-size byte arrays of any length (serde derives arrays only up to 32):
/// serialised as a tuple of `N` `u8`s, which postcard encodes as exactly `N` raw bytes (no length
/// prefix). Use as `#[serde(with = "crate::attestation::sig_serde")]` on a `[u8; 64]` field.
pub mod sig_serde {
    use core::fmt;
    use core::marker::PhantomData;
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::ser::SerializeTuple;
    use serde::{Deserializer, Serializer};

    /// Serialise `bytes` as a tuple of `N` bytes.
    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(N)?;
        for b in bytes {
            tuple.serialize_element(b)?;
        }
        tuple.end()
    }

    /// Deserialise a tuple of exactly `N` bytes.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        deserializer: D,
    ) -> Result<[u8; N], D::Error> {
        struct ArrayVisitor<const N: usize>(PhantomData<[u8; N]>);

        impl<'de, const N: usize> Visitor<'de> for ArrayVisitor<N> {
            type Value = [u8; N];

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a tuple of {N} bytes")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
                let mut out = [0u8; N];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| A::Error::invalid_length(i, &self))?;
                }
                // A self-describing format (e.g. JSON) could carry extra elements: refuse them.
                if seq.next_element::<u8>()?.is_some() {
                    return Err(A::Error::invalid_length(N.saturating_add(1), &self));
                }
                Ok(out)
            }
        }

        deserializer.deserialize_tuple(N, ArrayVisitor::<N>(PhantomData))
    }
}

/// The bytes the attestor signs: `ATTESTATION_DOMAIN || postcard(evidence)`.
pub fn signing_bytes(evidence: &AttestationEvidence) -> Vec<u8> {
    let mut out = ATTESTATION_DOMAIN.to_vec();
    // Serialising into a Vec cannot fail for this type (no maps, no unsized sequences, no
    // custom errors); fall back to the domain alone rather than panic, which no signature over
    // real evidence can match.
    if let Ok(encoded) = postcard::to_allocvec(evidence) {
        out.extend_from_slice(&encoded);
    }
    out
}

/// The ed25519 public key bytes of a 32-byte signing-key seed.
pub fn public_key_from_seed(signing_key_seed: &[u8; 32]) -> [u8; 32] {
    let sk = ed25519_zebra::SigningKey::from(*signing_key_seed);
    ed25519_zebra::VerificationKeyBytes::from(&sk).into()
}

/// Sign `evidence` with the attestor seed (for tests and scenarios). The evidence's `attestor`
/// field is left as given; set it to [`public_key_from_seed`] of the same seed for a valid
/// attestation.
pub fn sign_attestation(
    signing_key_seed: &[u8; 32],
    evidence: AttestationEvidence,
) -> SignedAttestation {
    let sk = ed25519_zebra::SigningKey::from(*signing_key_seed);
    let signature = sk.sign(&signing_bytes(&evidence)).to_bytes();
    SignedAttestation {
        evidence,
        signature,
    }
}

/// True when `needle` occurs in `model` at a place not followed by an ASCII digit.
fn model_matches(model: &str, needle: &str) -> bool {
    model.match_indices(needle).any(|(at, _)| {
        !model
            .as_bytes()
            .get(at.saturating_add(needle.len()))
            .is_some_and(u8::is_ascii_digit)
    })
}

/// The bonus of the first row whose needles match `model`, if any.
fn model_bonus(model: &str, table: &[(&[&str], u8)]) -> Option<u8> {
    table
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| model_matches(model, n)))
        .map(|(_, bonus)| *bonus)
}

fn bonus_if(flag: bool, bonus: u8) -> u8 {
    if flag {
        bonus
    } else {
        0
    }
}

/// The trust score of evidence (see the module docs for the model matching).
///
/// - GPU local: 70, +15 `cc_enabled`, +5 `tee_io`, +5 `rim_verified`, + model bonus
///   (GB200/B200/B100 +10, H200/H100 +8, RTX PRO 6000 +5), capped at 100.
/// - Software-only: 20 + model bonus (5090/5080 +15, GB10 +12, 4090/4080 +10, 3090/3080 +8,
///   other +5) + 10 `benchmark_ok` + 10 signature + 5 `driver_ok`, capped at 60. The GPU flags
///   (`cc_enabled`, `tee_io`, `rim_verified`) are ignored.
///
/// Meaningful only for evidence [`verify_attestation`] accepted (the signature bonus assumes it);
/// the core calls it only from there.
pub fn trust_score(e: &AttestationEvidence) -> u8 {
    match e.kind {
        EvidenceKind::GpuLocal => GPU_LOCAL_BASE
            .saturating_add(bonus_if(e.cc_enabled, GPU_CC_BONUS))
            .saturating_add(bonus_if(e.tee_io, GPU_TEE_IO_BONUS))
            .saturating_add(bonus_if(e.rim_verified, GPU_RIM_BONUS))
            .saturating_add(model_bonus(&e.device_model, GPU_LOCAL_MODEL_BONUS).unwrap_or(0))
            .min(GPU_LOCAL_CAP),
        EvidenceKind::SoftwareOnly => SOFTWARE_ONLY_BASE
            .saturating_add(
                model_bonus(&e.device_model, SOFTWARE_MODEL_BONUS)
                    .unwrap_or(SOFTWARE_OTHER_MODEL_BONUS),
            )
            .saturating_add(bonus_if(e.benchmark_ok, SOFTWARE_BENCHMARK_BONUS))
            .saturating_add(SOFTWARE_SIGNATURE_BONUS)
            .saturating_add(bonus_if(e.driver_ok, SOFTWARE_DRIVER_BONUS))
            .min(SOFTWARE_ONLY_CAP),
    }
}

/// Verify signed evidence at block time `now_ms` and score it.
///
/// Checks, in this order (the first failure is returned):
/// 1. `evidence.attestor` is in `trusted_attestors` ([`AttestationError::UntrustedAttestor`]);
/// 2. the device model is at most 64 bytes ([`AttestationError::DeviceModelTooLong`]), checked
///    before the signature so no unbounded message is hashed;
/// 3. the attestor key decodes and the signature over [`signing_bytes`] verifies
///    ([`AttestationError::InvalidAttestorKey`], [`AttestationError::InvalidSignature`]);
/// 4. `evidence.provider_key == expected_provider_key` ([`AttestationError::ProviderMismatch`]);
/// 5. `now_ms < expires_at_ms` ([`AttestationError::Expired`]), `issued_at_ms <= now_ms`
///    ([`AttestationError::NotYetValid`]), and `now_ms - issued_at_ms <= attestation_timeout_ms`
///    ([`AttestationError::TooOld`]);
/// 6. the measurement is not revoked ([`AttestationError::RevokedMeasurement`]).
///
/// Only then is the evidence scored with [`trust_score`].
pub fn verify_attestation(
    att: &SignedAttestation,
    trusted_attestors: &[[u8; 32]],
    expected_provider_key: &[u8; 32],
    revoked_measurements: &impl Fn(&[u8; 32]) -> bool,
    now_ms: u64,
    attestation_timeout_ms: u64,
) -> Result<DeviceStatus, AttestationError> {
    let e = &att.evidence;

    if !trusted_attestors.contains(&e.attestor) {
        return Err(AttestationError::UntrustedAttestor);
    }

    let model_len = u64::try_from(e.device_model.len()).unwrap_or(u64::MAX);
    if model_len > MAX_DEVICE_MODEL_LEN {
        return Err(AttestationError::DeviceModelTooLong {
            len: model_len,
            max: MAX_DEVICE_MODEL_LEN,
        });
    }

    let key = ed25519_zebra::VerificationKey::try_from(e.attestor)
        .map_err(|_| AttestationError::InvalidAttestorKey)?;
    let signature = ed25519_zebra::Signature::from_bytes(&att.signature);
    key.verify(&signature, &signing_bytes(e))
        .map_err(|_| AttestationError::InvalidSignature)?;

    if &e.provider_key != expected_provider_key {
        return Err(AttestationError::ProviderMismatch);
    }

    if now_ms >= e.expires_at_ms {
        return Err(AttestationError::Expired {
            expires_at_ms: e.expires_at_ms,
            now_ms,
        });
    }
    if e.issued_at_ms > now_ms {
        return Err(AttestationError::NotYetValid {
            issued_at_ms: e.issued_at_ms,
            now_ms,
        });
    }
    let age_ms = now_ms.saturating_sub(e.issued_at_ms);
    if age_ms > attestation_timeout_ms {
        return Err(AttestationError::TooOld {
            age_ms,
            timeout_ms: attestation_timeout_ms,
        });
    }

    if revoked_measurements(&e.measurement) {
        return Err(AttestationError::RevokedMeasurement);
    }

    let hardware_cc = e.kind == EvidenceKind::GpuLocal && e.cc_enabled;
    let mode = match (e.kind, e.cc_enabled) {
        (EvidenceKind::GpuLocal, true) => DeviceMode::HardwareCc,
        (EvidenceKind::GpuLocal, false) => DeviceMode::Hardware,
        (EvidenceKind::SoftwareOnly, _) => DeviceMode::Software,
    };
    Ok(DeviceStatus {
        attested: true,
        trust_score: trust_score(e),
        tee_type: e.tee_type,
        mode,
        hardware_cc,
        expires_at_ms: e.expires_at_ms,
        measurement: e.measurement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ATTESTOR_SEED: [u8; 32] = [7; 32];
    const OTHER_SEED: [u8; 32] = [9; 32];
    const PROVIDER: [u8; 32] = [0xAB; 32];
    const NOW: u64 = 1_000_000;
    const TIMEOUT: u64 = 30_000;

    fn attestor() -> [u8; 32] {
        public_key_from_seed(&ATTESTOR_SEED)
    }

    fn evidence(kind: EvidenceKind, model: &str) -> AttestationEvidence {
        AttestationEvidence {
            tee_type: TeeType::Nvidia,
            kind,
            device_model: model.to_string(),
            measurement: [0x11; 32],
            cc_enabled: false,
            tee_io: false,
            rim_verified: false,
            benchmark_ok: false,
            driver_ok: false,
            issued_at_ms: NOW - 10_000,
            expires_at_ms: NOW + 60_000,
            provider_key: PROVIDER,
            attestor: attestor(),
        }
    }

    fn gpu(model: &str, cc: bool, tee_io: bool, rim: bool) -> AttestationEvidence {
        AttestationEvidence {
            cc_enabled: cc,
            tee_io,
            rim_verified: rim,
            ..evidence(EvidenceKind::GpuLocal, model)
        }
    }

    fn sw(model: &str, bench: bool, driver: bool) -> AttestationEvidence {
        AttestationEvidence {
            benchmark_ok: bench,
            driver_ok: driver,
            ..evidence(EvidenceKind::SoftwareOnly, model)
        }
    }

    fn none_revoked(_: &[u8; 32]) -> bool {
        false
    }

    fn verify_at(att: &SignedAttestation, now: u64) -> Result<DeviceStatus, AttestationError> {
        verify_attestation(att, &[attestor()], &PROVIDER, &none_revoked, now, TIMEOUT)
    }

    fn verify(att: &SignedAttestation) -> Result<DeviceStatus, AttestationError> {
        verify_at(att, NOW)
    }

    #[test]
    fn valid_gpu_attestation_verifies() {
        let att = sign_attestation(&ATTESTOR_SEED, gpu("NVIDIA H100", true, true, true));
        let status = verify(&att).expect("valid");
        assert_eq!(
            status,
            DeviceStatus {
                attested: true,
                trust_score: 100, // 70 + 15 + 5 + 5 + 8 = 103, capped
                tee_type: TeeType::Nvidia,
                mode: DeviceMode::HardwareCc,
                hardware_cc: true,
                expires_at_ms: NOW + 60_000,
                measurement: [0x11; 32],
            }
        );
        assert_eq!(status.mode.as_str(), "hardware-cc");
    }

    #[test]
    fn modes() {
        let hw = verify(&sign_attestation(
            &ATTESTOR_SEED,
            gpu("H100", false, true, true),
        ))
        .unwrap();
        assert_eq!(
            (hw.mode, hw.hardware_cc, hw.trust_score),
            (DeviceMode::Hardware, false, 88)
        );
        assert_eq!(hw.mode.as_str(), "hardware");
        // Software-only evidence claiming CC is never hardware_cc.
        let mut e = sw("RTX 5090", true, true);
        e.cc_enabled = true;
        let s = verify(&sign_attestation(&ATTESTOR_SEED, e)).unwrap();
        assert_eq!(
            (s.mode, s.hardware_cc, s.trust_score),
            (DeviceMode::Software, false, 60)
        );
        assert_eq!(s.mode.as_str(), "software");
    }

    #[test]
    fn gpu_local_score_table() {
        let rows: &[(&str, bool, bool, bool, u8)] = &[
            ("other", false, false, false, 70),
            ("other", true, false, false, 85),
            ("other", false, true, false, 75),
            ("other", false, false, true, 75),
            ("other", true, true, true, 95),
            ("NVIDIA GB200", false, false, false, 80),
            ("NVIDIA B200", false, false, false, 80),
            ("NVIDIA B100", false, false, false, 80),
            ("NVIDIA GB100", false, false, false, 80), // "B100" inside "GB100": same row
            ("NVIDIA H200", false, false, false, 78),
            ("NVIDIA H100 NVL", false, false, false, 78),
            ("NVIDIA RTX PRO 6000 Blackwell", false, false, false, 75),
            ("RTX 6000", false, false, false, 70),
            ("nvidia h100", false, false, false, 70), // case-sensitive
            ("GB10", false, false, false, 70),        // no GPU-local bonus for GB10
            ("RTX 5090", false, false, false, 70),
            // caps
            ("H200", true, true, true, 100),  // 103
            ("GB200", true, true, true, 100), // 105
            ("GB200", true, true, false, 100),
            ("GB200", true, false, false, 95),
            ("RTX PRO 6000", true, true, true, 100),
            // precedence: first matching row wins
            ("H100 + GB200", false, false, false, 80),
            ("RTX PRO 6000 + H100", false, false, false, 78),
        ];
        for &(model, cc, io, rim, want) in rows {
            assert_eq!(
                trust_score(&gpu(model, cc, io, rim)),
                want,
                "{model} {cc} {io} {rim}"
            );
        }
    }

    #[test]
    fn software_only_score_table() {
        let rows: &[(&str, bool, bool, u8)] = &[
            ("other", false, false, 35), // 20 + 5 + 10 signature
            ("", false, false, 35),
            ("other", true, false, 45),
            ("other", false, true, 40),
            ("other", true, true, 50),
            ("GeForce RTX 5090", false, false, 45),
            ("RTX 5080", false, false, 45),
            ("RTX 5090", true, true, 60), // the cap: 20 + 15 + 10 + 10 + 5
            ("NVIDIA GB10", false, false, 42),
            ("NVIDIA GB10", true, true, 57),
            ("NVIDIA GB100", false, false, 35), // "GB10" is followed by a digit: not GB10
            ("RTX 4090", false, false, 40),
            ("RTX 4080 SUPER", false, false, 40),
            ("RTX 3090 Ti", false, false, 38),
            ("RTX 3080", true, true, 53),
            ("RTX 40900", false, false, 35),
            // hardware model names get only the "other" software bonus
            ("NVIDIA H100", true, true, 50),
            ("NVIDIA GB200", true, true, 50),
            // precedence
            ("RTX 4090 + RTX 5090", false, false, 45),
            ("GB10 + RTX 3090", false, false, 42),
        ];
        for &(model, bench, driver, want) in rows {
            assert_eq!(
                trust_score(&sw(model, bench, driver)),
                want,
                "{model} {bench} {driver}"
            );
        }
    }

    /// Go defect #9: CPU-only / software-only evidence must never reach hardware trust (70),
    /// whatever flags and TEE type it claims.
    #[test]
    fn defect_9_software_only_never_reaches_70() {
        let models = [
            "RTX 5090",
            "NVIDIA GB200",
            "H100",
            "GB10",
            "Xeon",
            "EPYC",
            "",
        ];
        let tees = [
            TeeType::Sgx,
            TeeType::SevSnp,
            TeeType::Tdx,
            TeeType::Nvidia,
            TeeType::Arm,
        ];
        for model in models {
            for tee in tees {
                for bits in 0u8..32 {
                    let e = AttestationEvidence {
                        tee_type: tee,
                        cc_enabled: bits & 1 != 0,
                        tee_io: bits & 2 != 0,
                        rim_verified: bits & 4 != 0,
                        benchmark_ok: bits & 8 != 0,
                        driver_ok: bits & 16 != 0,
                        ..evidence(EvidenceKind::SoftwareOnly, model)
                    };
                    let s = verify(&sign_attestation(&ATTESTOR_SEED, e)).unwrap();
                    assert!(s.trust_score <= SOFTWARE_ONLY_CAP);
                    assert!(s.trust_score < 70);
                    assert!(!s.hardware_cc);
                    assert_eq!(s.mode, DeviceMode::Software);
                }
            }
        }
    }

    /// Self-reported flags: a provider signing its own "perfect" evidence is refused, even with
    /// a valid signature.
    #[test]
    fn self_signed_flags_refused() {
        let mut e = gpu("NVIDIA GB200", true, true, true);
        e.attestor = public_key_from_seed(&OTHER_SEED);
        let att = sign_attestation(&OTHER_SEED, e);
        // The signature itself is fine under the claimed attestor ...
        let trusting_it = verify_attestation(
            &att,
            &[att.evidence.attestor],
            &PROVIDER,
            &none_revoked,
            NOW,
            TIMEOUT,
        );
        assert_eq!(trusting_it.map(|s| s.trust_score), Ok(100));
        // ... but that attestor is not trusted.
        assert_eq!(verify(&att), Err(AttestationError::UntrustedAttestor));
        assert_eq!(
            verify_attestation(&att, &[], &PROVIDER, &none_revoked, NOW, TIMEOUT),
            Err(AttestationError::UntrustedAttestor)
        );
    }

    #[test]
    fn signed_by_wrong_key_refused() {
        // Claims the trusted attestor but is signed by someone else.
        let att = sign_attestation(&OTHER_SEED, gpu("H100", true, true, true));
        assert_eq!(verify(&att), Err(AttestationError::InvalidSignature));
    }

    #[test]
    fn invalid_attestor_key_refused() {
        // Find a 32-byte string that is not a curve point encoding (about half of them are not).
        let bad = (0u8..=255)
            .map(|i| [i; 32])
            .find(|k| ed25519_zebra::VerificationKey::try_from(*k).is_err())
            .expect("some [i; 32] is not a point");
        let mut e = gpu("H100", true, true, true);
        e.attestor = bad;
        let att = sign_attestation(&ATTESTOR_SEED, e);
        assert_eq!(
            verify_attestation(&att, &[bad], &PROVIDER, &none_revoked, NOW, TIMEOUT),
            Err(AttestationError::InvalidAttestorKey)
        );
    }

    #[test]
    fn provider_mismatch_refused() {
        let att = sign_attestation(&ATTESTOR_SEED, gpu("H100", true, true, true));
        assert_eq!(
            verify_attestation(
                &att,
                &[attestor()],
                &[0xCD; 32],
                &none_revoked,
                NOW,
                TIMEOUT
            ),
            Err(AttestationError::ProviderMismatch)
        );
    }

    #[test]
    fn device_model_length_bound() {
        let ok = sign_attestation(&ATTESTOR_SEED, gpu(&"H".repeat(64), false, false, false));
        assert!(verify(&ok).is_ok());
        let long = sign_attestation(&ATTESTOR_SEED, gpu(&"H".repeat(65), false, false, false));
        assert_eq!(
            verify(&long),
            Err(AttestationError::DeviceModelTooLong { len: 65, max: 64 })
        );
        // bytes, not chars: 22 three-byte chars = 66 bytes
        let wide = sign_attestation(&ATTESTOR_SEED, gpu(&"€".repeat(22), false, false, false));
        assert_eq!(
            verify(&wide),
            Err(AttestationError::DeviceModelTooLong { len: 66, max: 64 })
        );
    }

    #[test]
    fn revoked_measurement_refused() {
        let att = sign_attestation(&ATTESTOR_SEED, gpu("H100", true, true, true));
        let revoked = |m: &[u8; 32]| *m == [0x11; 32];
        assert_eq!(
            verify_attestation(&att, &[attestor()], &PROVIDER, &revoked, NOW, TIMEOUT),
            Err(AttestationError::RevokedMeasurement)
        );
        let other_revoked = |m: &[u8; 32]| *m == [0x22; 32];
        assert!(
            verify_attestation(&att, &[attestor()], &PROVIDER, &other_revoked, NOW, TIMEOUT)
                .is_ok()
        );
    }

    #[test]
    fn time_boundaries() {
        let mut e = gpu("H100", true, true, true);
        e.issued_at_ms = 1_000;
        e.expires_at_ms = 20_000;
        let att = sign_attestation(&ATTESTOR_SEED, e);
        // issued_at <= now: equal is fine, one before is not.
        assert!(verify_at(&att, 1_000).is_ok());
        assert_eq!(
            verify_at(&att, 999),
            Err(AttestationError::NotYetValid {
                issued_at_ms: 1_000,
                now_ms: 999
            })
        );
        assert_eq!(
            verify_at(&att, 0),
            Err(AttestationError::NotYetValid {
                issued_at_ms: 1_000,
                now_ms: 0
            })
        );
        // now < expires_at: the last valid ms is expires_at - 1.
        assert!(verify_at(&att, 19_999).is_ok());
        assert_eq!(
            verify_at(&att, 20_000),
            Err(AttestationError::Expired {
                expires_at_ms: 20_000,
                now_ms: 20_000
            })
        );
        assert_eq!(
            verify_at(&att, u64::MAX),
            Err(AttestationError::Expired {
                expires_at_ms: 20_000,
                now_ms: u64::MAX
            })
        );

        // age <= timeout
        let mut e = gpu("H100", true, true, true);
        e.issued_at_ms = 1_000;
        e.expires_at_ms = u64::MAX;
        let att = sign_attestation(&ATTESTOR_SEED, e);
        assert!(verify_at(&att, 1_000 + TIMEOUT).is_ok());
        assert_eq!(
            verify_at(&att, 1_001 + TIMEOUT),
            Err(AttestationError::TooOld {
                age_ms: TIMEOUT + 1,
                timeout_ms: TIMEOUT
            })
        );
        // timeout 0: only evidence issued in this very ms.
        let zero = |now| verify_attestation(&att, &[attestor()], &PROVIDER, &none_revoked, now, 0);
        assert!(zero(1_000).is_ok());
        assert_eq!(
            zero(1_001),
            Err(AttestationError::TooOld {
                age_ms: 1,
                timeout_ms: 0
            })
        );
        // timeout u64::MAX: only the expiry bounds it.
        assert!(verify_attestation(
            &att,
            &[attestor()],
            &PROVIDER,
            &none_revoked,
            u64::MAX - 1,
            u64::MAX
        )
        .is_ok());

        // inverted window (expires before issued): never valid.
        let mut e = gpu("H100", true, true, true);
        e.issued_at_ms = 5_000;
        e.expires_at_ms = 5_000;
        let att = sign_attestation(&ATTESTOR_SEED, e);
        for now in [0, 4_999, 5_000, 5_001, u64::MAX] {
            assert!(verify_at(&att, now).is_err(), "{now}");
        }
    }

    #[test]
    fn error_order_is_fixed() {
        // Untrusted beats everything else.
        let mut e = gpu(&"H".repeat(100), true, true, true);
        e.attestor = [0x55; 32];
        e.provider_key = [0; 32];
        e.expires_at_ms = 0;
        let att = SignedAttestation {
            evidence: e,
            signature: [0; 64],
        };
        assert_eq!(verify(&att), Err(AttestationError::UntrustedAttestor));
        // Then the model length, before the signature.
        let mut att = att;
        att.evidence.attestor = attestor();
        assert!(matches!(
            verify(&att),
            Err(AttestationError::DeviceModelTooLong { .. })
        ));
        // Then the signature, before provider and time.
        att.evidence.device_model = "H100".into();
        assert_eq!(verify(&att), Err(AttestationError::InvalidSignature));
        // Then the provider, before time.
        let att = sign_attestation(&ATTESTOR_SEED, att.evidence);
        assert_eq!(verify(&att), Err(AttestationError::ProviderMismatch));
    }

    type Tamper = Box<dyn Fn(&mut AttestationEvidence)>;

    #[test]
    fn tampering_any_field_breaks_the_signature() {
        let base = gpu("NVIDIA H100", false, false, false);
        let att = sign_attestation(&ATTESTOR_SEED, base.clone());
        let other_attestor = public_key_from_seed(&OTHER_SEED);
        let tampers: Vec<(&str, Tamper)> = vec![
            ("tee_type", Box::new(|e| e.tee_type = TeeType::Sgx)),
            ("kind", Box::new(|e| e.kind = EvidenceKind::SoftwareOnly)),
            (
                "device_model",
                Box::new(|e| e.device_model = "NVIDIA GB200".into()),
            ),
            ("measurement", Box::new(|e| e.measurement[31] ^= 1)),
            ("cc_enabled", Box::new(|e| e.cc_enabled = true)),
            ("tee_io", Box::new(|e| e.tee_io = true)),
            ("rim_verified", Box::new(|e| e.rim_verified = true)),
            ("benchmark_ok", Box::new(|e| e.benchmark_ok = true)),
            ("driver_ok", Box::new(|e| e.driver_ok = true)),
            ("issued_at_ms", Box::new(|e| e.issued_at_ms += 1)),
            ("expires_at_ms", Box::new(|e| e.expires_at_ms += 1)),
            ("provider_key", Box::new(|e| e.provider_key[0] ^= 1)),
            ("attestor", Box::new(move |e| e.attestor = other_attestor)),
        ];
        for (name, tamper) in tampers {
            let mut t = att.clone();
            tamper(&mut t.evidence);
            assert_ne!(t.evidence, base, "{name} tamper is a no-op");
            // Trust both attestors and the tampered provider key, so only the signature can fail.
            let got = verify_attestation(
                &t,
                &[attestor(), other_attestor],
                &t.evidence.provider_key,
                &none_revoked,
                NOW,
                TIMEOUT,
            );
            assert_eq!(got, Err(AttestationError::InvalidSignature), "{name}");
        }
        // And the signature bytes themselves.
        for i in [0usize, 31, 32, 63] {
            let mut t = att.clone();
            t.signature[i] ^= 0x01;
            assert_eq!(
                verify(&t),
                Err(AttestationError::InvalidSignature),
                "sig byte {i}"
            );
        }
        assert!(verify(&att).is_ok());
    }

    #[test]
    fn signing_bytes_are_domain_separated_postcard() {
        let e = gpu("H100", true, false, true);
        let bytes = signing_bytes(&e);
        assert!(bytes.starts_with(b"aivm/attestation/v1"));
        assert_eq!(
            &bytes[ATTESTATION_DOMAIN.len()..],
            &postcard::to_allocvec(&e).unwrap()[..]
        );
    }

    /// Pins the wire format: a change here is a consensus change.
    #[test]
    fn golden_encoding() {
        let e = AttestationEvidence {
            tee_type: TeeType::Tdx,
            kind: EvidenceKind::GpuLocal,
            device_model: "H100".into(),
            measurement: [1; 32],
            cc_enabled: true,
            tee_io: false,
            rim_verified: true,
            benchmark_ok: false,
            driver_ok: true,
            issued_at_ms: 300,
            expires_at_ms: 1,
            provider_key: [2; 32],
            attestor: [3; 32],
        };
        let mut want = vec![2u8, 0, 4, b'H', b'1', b'0', b'0'];
        want.extend([1u8; 32]);
        want.extend([1, 0, 1, 0, 1]);
        want.extend([0xAC, 0x02]); // varint 300
        want.push(1);
        want.extend([2u8; 32]);
        want.extend([3u8; 32]);
        assert_eq!(postcard::to_allocvec(&e).unwrap(), want);

        let att = SignedAttestation {
            evidence: e,
            signature: [0xEE; 64],
        };
        let enc = postcard::to_allocvec(&att).unwrap();
        assert_eq!(
            enc.len(),
            want.len() + 64,
            "signature is 64 raw bytes, no length prefix"
        );
        assert_eq!(&enc[want.len()..], &[0xEE; 64][..]);
    }

    #[test]
    fn postcard_round_trip() {
        let att = sign_attestation(&ATTESTOR_SEED, sw("RTX 4090", true, false));
        let enc = postcard::to_allocvec(&att).unwrap();
        let dec: SignedAttestation = postcard::from_bytes(&enc).unwrap();
        assert_eq!(dec, att);
        assert!(verify(&dec).is_ok());

        let status = verify(&att).unwrap();
        let enc = postcard::to_allocvec(&status).unwrap();
        assert_eq!(postcard::from_bytes::<DeviceStatus>(&enc).unwrap(), status);

        for err in [
            AttestationError::UntrustedAttestor,
            AttestationError::TooOld {
                age_ms: 5,
                timeout_ms: 4,
            },
            AttestationError::DeviceModelTooLong { len: 65, max: 64 },
        ] {
            let enc = postcard::to_allocvec(&err).unwrap();
            assert_eq!(postcard::from_bytes::<AttestationError>(&enc).unwrap(), err);
        }

        // Truncated input is an error, not a panic.
        let enc = postcard::to_allocvec(&att).unwrap();
        for cut in 0..enc.len() {
            assert!(postcard::from_bytes::<SignedAttestation>(&enc[..cut]).is_err());
        }
    }

    #[test]
    fn sig_serde_reads_exactly_n_raw_bytes() {
        // 63 raw bytes are too short for a [u8; 64]; 64 raw bytes decode.
        #[derive(Serialize)]
        struct Short([u8; 32], [u8; 31]);
        let enc = postcard::to_allocvec(&Short([1; 32], [2; 31])).unwrap();
        #[derive(Deserialize, Debug)]
        struct Sig(#[serde(with = "sig_serde")] [u8; 64]);
        assert!(postcard::from_bytes::<Sig>(&enc).is_err());
        let mut full = enc.clone();
        full.push(3);
        let Sig(s) = postcard::from_bytes::<Sig>(&full).unwrap();
        assert_eq!(&s[..32], &[1; 32]);
        assert_eq!(s[63], 3);
    }

    fn arb_tee() -> impl Strategy<Value = TeeType> {
        prop_oneof![
            Just(TeeType::Sgx),
            Just(TeeType::SevSnp),
            Just(TeeType::Tdx),
            Just(TeeType::Nvidia),
            Just(TeeType::Arm),
        ]
    }

    fn arb_kind() -> impl Strategy<Value = EvidenceKind> {
        prop_oneof![
            Just(EvidenceKind::GpuLocal),
            Just(EvidenceKind::SoftwareOnly)
        ]
    }

    fn arb_model() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "NVIDIA GB200",
                "B200",
                "GB100",
                "H200",
                "H100",
                "RTX PRO 6000",
                "RTX 5090",
                "RTX 5080",
                "GB10",
                "RTX 4090",
                "RTX 4080",
                "RTX 3090",
                "RTX 3080",
                "A100",
                "",
            ])
            .prop_map(String::from),
            "[ -~]{0,64}",
        ]
    }

    prop_compose! {
        fn arb_evidence()(
            tee_type in arb_tee(),
            kind in arb_kind(),
            device_model in arb_model(),
            measurement: [u8; 32],
            flags: [bool; 5],
            issued_at_ms: u64,
            expires_at_ms: u64,
            provider_key: [u8; 32],
            attestor: [u8; 32],
        ) -> AttestationEvidence {
            AttestationEvidence {
                tee_type, kind, device_model, measurement,
                cc_enabled: flags[0], tee_io: flags[1], rim_verified: flags[2],
                benchmark_ok: flags[3], driver_ok: flags[4],
                issued_at_ms, expires_at_ms, provider_key, attestor,
            }
        }
    }

    proptest! {
        #[test]
        fn scores_stay_in_their_bands(e in arb_evidence()) {
            let s = trust_score(&e);
            match e.kind {
                EvidenceKind::GpuLocal => prop_assert!((GPU_LOCAL_BASE..=GPU_LOCAL_CAP).contains(&s)),
                EvidenceKind::SoftwareOnly => prop_assert!((35..=SOFTWARE_ONLY_CAP).contains(&s)),
            }
        }

        #[test]
        fn sign_then_verify_accepts_and_scores(mut e in arb_evidence(), age in 0u64..=TIMEOUT, left in 1u64..1_000_000) {
            e.attestor = attestor();
            e.issued_at_ms = NOW - age;
            e.expires_at_ms = NOW + left;
            let att = sign_attestation(&ATTESTOR_SEED, e.clone());
            let status = verify_attestation(&att, &[attestor()], &e.provider_key, &none_revoked, NOW, TIMEOUT);
            let status = status.map_err(|err| TestCaseError::fail(err.to_string()))?;
            prop_assert_eq!(status.trust_score, trust_score(&e));
            prop_assert_eq!(status.hardware_cc, e.kind == EvidenceKind::GpuLocal && e.cc_enabled);
            prop_assert_eq!(status.tee_type, e.tee_type);
        }

        #[test]
        fn arbitrary_input_never_panics(e in arb_evidence(), sig in prop::collection::vec(any::<u8>(), 64), now: u64, timeout: u64) {
            let mut signature = [0u8; 64];
            signature.copy_from_slice(&sig);
            let att = SignedAttestation { evidence: e.clone(), signature };
            let _ = verify_attestation(&att, &[e.attestor], &e.provider_key, &none_revoked, now, timeout);
        }

        #[test]
        fn postcard_round_trips(e in arb_evidence(), sig in prop::collection::vec(any::<u8>(), 64)) {
            let mut signature = [0u8; 64];
            signature.copy_from_slice(&sig);
            let att = SignedAttestation { evidence: e, signature };
            let enc = postcard::to_allocvec(&att).unwrap();
            prop_assert_eq!(postcard::from_bytes::<SignedAttestation>(&enc).unwrap(), att);
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = postcard::from_bytes::<SignedAttestation>(&bytes);
        }
    }
}
