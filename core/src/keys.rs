//! The one rule every ed25519 public key in aivm must meet, whether it signs
//! transactions or attestations: it decodes (as ed25519-zebra decodes, ZIP-215:
//! a non-canonical y is accepted) and it is not of small order.
//!
//! A small-order key accepts the signature (R = identity, s = 0) on every
//! message under cofactored verification, so whatever such a key guards could
//! be spent or vouched for by anyone.

use curve25519_dalek::edwards::CompressedEdwardsY;

/// Why 32 bytes are not an acceptable public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyDefect {
    /// The bytes decode to no curve point.
    NotOnCurve,
    /// The point is one of the eight of small order.
    SmallOrder,
}

/// Checks `bytes` against the key rule: one point decompression and three
/// doublings, far cheaper than probing the key with a verification.
pub(crate) fn check_public_key(bytes: [u8; 32]) -> Result<(), KeyDefect> {
    let point = CompressedEdwardsY(bytes)
        .decompress()
        .ok_or(KeyDefect::NotOnCurve)?;
    if point.is_small_order() {
        return Err(KeyDefect::SmallOrder);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use ed25519_zebra::{Signature, SigningKey, VerificationKey};

    /// The rule as its definition states it, by ed25519-zebra alone: the key
    /// parses, and it does not accept the (identity, 0) signature.
    fn reference(bytes: [u8; 32]) -> Result<(), KeyDefect> {
        let key = VerificationKey::try_from(bytes).map_err(|_| KeyDefect::NotOnCurve)?;
        let mut sig = [0u8; 64];
        sig[0] = 1; // the compressed identity (y = 1); s = 0
        match key.verify(&Signature::from_bytes(&sig), b"small-order probe") {
            Ok(()) => Err(KeyDefect::SmallOrder),
            Err(_) => Ok(()),
        }
    }

    /// Every encoding of the small-order points (canonical, sign bit flipped,
    /// y + p for the small y that have one), some non-points, and sound keys.
    fn candidates() -> Vec<[u8; 32]> {
        let mut out = Vec::new();
        for point in EIGHT_TORSION {
            let bytes = point.compress().to_bytes();
            let mut flipped = bytes;
            flipped[31] ^= 0x80;
            out.extend([bytes, flipped]);
        }
        // p = 2^255 - 19: y + p < 2^255 exactly when y < 19.
        for y in 0u8..19 {
            let mut bytes = [0xff; 32];
            bytes[0] = 0xed_u8.wrapping_add(y);
            bytes[31] = 0x7f;
            let mut flipped = bytes;
            flipped[31] |= 0x80;
            out.extend([bytes, flipped]);
        }
        for seed in 0u8..32 {
            let key = SigningKey::from([seed; 32]);
            out.push(VerificationKey::from(&key).into());
            out.push([seed; 32]);
        }
        out
    }

    #[test]
    fn the_cheap_check_agrees_with_the_verification_probe() {
        let all = candidates();
        let small: std::collections::BTreeSet<_> = all
            .iter()
            .filter(|b| reference(**b) == Err(KeyDefect::SmallOrder))
            .collect();
        // y = 1, y = 1 + p, y = p - 1, y = 0 and y = p with either sign bit,
        // and the four points of order 8.
        assert_eq!(
            small.len(),
            14,
            "the candidates cover every small-order encoding"
        );
        for bytes in all {
            assert_eq!(
                check_public_key(bytes),
                reference(bytes),
                "key {bytes:02x?}"
            );
        }
    }
}
