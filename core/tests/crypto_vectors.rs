//! ZIP-215 edge cases pin the transaction signature rule: `SignedTx::verify` (one by one) and an
//! `ed25519_zebra::batch::Verifier` fed `SignedTx::batch_item` must agree on every vector, so a
//! replay that verifies in batches can never disagree with a node that verifies one at a time.
//!
//! The vectors follow ed25519-zebra 5's own test data (`tests/small_order.rs`,
//! `tests/util/mod.rs`): every (A, R) pair drawn from the 8 canonical encodings of the 8-torsion
//! points and the 6 non-canonical encodings of low-order points, with s = 0 (196 cases, all valid
//! under ZIP-215 for any message). On top of those: mixed-order keys and nonces, non-canonical
//! encodings of R and A in otherwise honest signatures, large-order non-canonical keys, s >= l,
//! and encodings that are not points. Signatures are computed here over the transaction's
//! signing bytes, so each vector is a real transaction.

use aivm_core::chain::Chain;
use aivm_core::outcome::CheckError;
use aivm_core::tx::AuthError;
use aivm_core::types::Sig64;
use aivm_core::{apply_block, Action, Address, Genesis, SignedTx, TxBody, TxStatus};
use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ed25519_zebra::{batch, Signature, VerificationKey, VerificationKeyBytes};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use sha2::{Digest, Sha512};

/// The group order l = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

const CHAIN: &str = "aivm-vectors";

#[derive(Clone, Debug)]
struct Vector {
    name: String,
    vk: [u8; 32],
    sig: [u8; 64],
    /// Valid under ZIP-215 (cofactored, non-canonical point encodings accepted, s < l).
    valid: bool,
}

fn body(nonce: u64) -> TxBody {
    TxBody {
        chain_id: CHAIN.into(),
        nonce,
        action: Action::Transfer {
            to: Address([7; 32]),
            amount: 1,
        },
    }
}

fn msg() -> Vec<u8> {
    body(0).signing_bytes()
}

fn tx(v: &Vector) -> SignedTx {
    SignedTx {
        signer: Address(v.vk),
        body: body(0),
        signature: Sig64(v.sig),
    }
}

// ---- the encodings of ed25519-zebra's test data ---------------------------------------------

/// The 19 field elements below 2^255 - 19 + 19 that have a second, non-canonical encoding x + p.
fn non_canonical_field_encodings() -> Vec<[u8; 32]> {
    let mut bytes = [0xffu8; 32];
    bytes[31] = 0x7f;
    (0..19u8)
        .map(|i| {
            bytes[0] = 237 + i;
            bytes
        })
        .collect()
}

/// All 25 non-canonical point encodings; the first six are of low order.
fn non_canonical_point_encodings() -> Vec<[u8; 32]> {
    let mut y1_sign = [0u8; 32];
    y1_sign[0] = 1;
    y1_sign[31] = 0x80;
    let mut ym1_sign = [0xffu8; 32];
    ym1_sign[0] = 0xec;
    let mut out = vec![y1_sign, ym1_sign];
    for mut x in non_canonical_field_encodings() {
        if CompressedEdwardsY(x).decompress().is_some() {
            out.push(x);
        }
        x[31] |= 0x80;
        if CompressedEdwardsY(x).decompress().is_some() {
            out.push(x);
        }
    }
    out
}

fn point(bytes: &[u8; 32]) -> EdwardsPoint {
    CompressedEdwardsY(*bytes)
        .decompress()
        .expect("a curve point")
}

/// The 8 canonical encodings of the 8-torsion points, then the 6 low-order non-canonical ones.
fn low_order_encodings() -> Vec<[u8; 32]> {
    EIGHT_TORSION
        .iter()
        .map(|p| p.compress().to_bytes())
        .chain(non_canonical_point_encodings().into_iter().take(6))
        .collect()
}

// ---- signing with chosen encodings ----------------------------------------------------------

fn scalar(label: &str) -> Scalar {
    let wide: [u8; 64] = Sha512::digest(label.as_bytes()).into();
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// k = SHA-512(R_bytes || A_bytes || M) mod l, over the bytes as encoded (ZIP-215).
fn challenge(r_bytes: &[u8; 32], a_bytes: &[u8; 32], m: &[u8]) -> Scalar {
    let wide: [u8; 64] = Sha512::new()
        .chain_update(r_bytes)
        .chain_update(a_bytes)
        .chain_update(m)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn sig_bytes(r_bytes: &[u8; 32], s: &[u8; 32]) -> [u8; 64] {
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(r_bytes);
    sig[32..].copy_from_slice(s);
    sig
}

/// Little-endian 256-bit addition (no overflow for the values used here).
fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    out
}

/// Whether the strict, cofactorless equation [s]B = R + [k]A holds: the rule under which single
/// and batch verification can disagree on the mixed-order vectors.
fn cofactorless_ok(v: &Vector, m: &[u8]) -> bool {
    let (Some(a), Some(r)) = (
        CompressedEdwardsY(v.vk).decompress(),
        CompressedEdwardsY(v.sig[..32].try_into().unwrap()).decompress(),
    ) else {
        return false;
    };
    let s_bytes: [u8; 32] = v.sig[32..].try_into().unwrap();
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
        return false;
    };
    let k = challenge(&v.sig[..32].try_into().unwrap(), &v.vk, m);
    (EdwardsPoint::mul_base(&s) - r - k * a).is_identity()
}

// ---- the vectors ----------------------------------------------------------------------------

fn small_order_vectors() -> Vec<Vector> {
    let enc = low_order_encodings();
    let mut out = Vec::new();
    for (i, a) in enc.iter().enumerate() {
        for (j, r) in enc.iter().enumerate() {
            out.push(Vector {
                name: format!("small-order A#{i} R#{j} s=0"),
                vk: *a,
                sig: sig_bytes(r, &[0; 32]),
                valid: true,
            });
        }
    }
    out
}

fn edge_vectors() -> Vec<Vector> {
    let m = msg();
    let b = |x: &Scalar| EdwardsPoint::mul_base(x);
    let a = scalar("secret key a");
    let r = scalar("nonce r");
    let honest_a = b(&a).compress().to_bytes();
    let honest_r = b(&r).compress().to_bytes();
    let t8 = EIGHT_TORSION[1];
    let mut out = Vec::new();

    // An honest signature, and the same over another message.
    let k = challenge(&honest_r, &honest_a, &m);
    let honest_s = (r + k * a).to_bytes();
    out.push(Vector {
        name: "honest".into(),
        vk: honest_a,
        sig: sig_bytes(&honest_r, &honest_s),
        valid: true,
    });
    let k_other = challenge(&honest_r, &honest_a, b"another message");
    out.push(Vector {
        name: "signature over another message".into(),
        vk: honest_a,
        sig: sig_bytes(&honest_r, &(r + k_other * a).to_bytes()),
        valid: false,
    });

    // Mixed-order key A = aB + T: valid cofactored, invalid cofactorless.
    let mixed_a = (b(&a) + t8).compress().to_bytes();
    let k = challenge(&honest_r, &mixed_a, &m);
    out.push(Vector {
        name: "mixed-order A".into(),
        vk: mixed_a,
        sig: sig_bytes(&honest_r, &(r + k * a).to_bytes()),
        valid: true,
    });
    // Mixed-order nonce R = rB + T.
    let mixed_r = (b(&r) + t8).compress().to_bytes();
    let k = challenge(&mixed_r, &honest_a, &m);
    out.push(Vector {
        name: "mixed-order R".into(),
        vk: honest_a,
        sig: sig_bytes(&mixed_r, &(r + k * a).to_bytes()),
        valid: true,
    });

    for (i, enc) in non_canonical_point_encodings().iter().enumerate() {
        if i < 6 {
            // Non-canonical low-order R with an honest key: [8]R = 0, so s = k a.
            let k = challenge(enc, &honest_a, &m);
            out.push(Vector {
                name: format!("non-canonical R #{i}"),
                vk: honest_a,
                sig: sig_bytes(enc, &(k * a).to_bytes()),
                valid: true,
            });
            // Non-canonical low-order A with an honest nonce: [8]A = 0, so s = r.
            out.push(Vector {
                name: format!("non-canonical A #{i}"),
                vk: *enc,
                sig: sig_bytes(&honest_r, &r.to_bytes()),
                valid: true,
            });
        } else {
            // A non-canonical key of large order decodes, but (identity, 0) does not sign for it.
            out.push(Vector {
                name: format!("non-canonical large-order A #{i}"),
                vk: *enc,
                sig: sig_bytes(&EIGHT_TORSION[0].compress().to_bytes(), &[0; 32]),
                valid: false,
            });
        }
    }

    // s must be canonical: s + l, l itself, and a value with the top bit set are refused.
    out.push(Vector {
        name: "s + l".into(),
        vk: honest_a,
        sig: sig_bytes(&honest_r, &add_le(&honest_s, &L)),
        valid: false,
    });
    out.push(Vector {
        name: "s = l".into(),
        vk: honest_a,
        sig: sig_bytes(&honest_r, &L),
        valid: false,
    });
    let mut top = honest_s;
    top[31] |= 0x80;
    out.push(Vector {
        name: "s with the top bit set".into(),
        vk: honest_a,
        sig: sig_bytes(&honest_r, &top),
        valid: false,
    });
    // A small-order key with s = l: the low-order equation holds, the scalar rule does not.
    out.push(Vector {
        name: "small-order A, R, s = l".into(),
        vk: EIGHT_TORSION[0].compress().to_bytes(),
        sig: sig_bytes(&EIGHT_TORSION[0].compress().to_bytes(), &L),
        valid: false,
    });

    // Encodings that are not points (y = 2 has no x on edwards25519).
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    assert!(CompressedEdwardsY(not_a_point).decompress().is_none());
    out.push(Vector {
        name: "A is not a point".into(),
        vk: not_a_point,
        sig: sig_bytes(&honest_r, &honest_s),
        valid: false,
    });
    out.push(Vector {
        name: "R is not a point".into(),
        vk: honest_a,
        sig: sig_bytes(&not_a_point, &honest_s),
        valid: false,
    });
    out
}

fn all_vectors() -> Vec<Vector> {
    let mut v = small_order_vectors();
    v.extend(edge_vectors());
    v
}

// ---- the two verifiers ----------------------------------------------------------------------

fn zebra_single(v: &Vector, m: &[u8]) -> bool {
    VerificationKey::try_from(VerificationKeyBytes::from(v.vk))
        .and_then(|vk| vk.verify(&Signature::from(v.sig), m))
        .is_ok()
}

fn batch_ok(items: impl IntoIterator<Item = batch::Item>) -> bool {
    let mut verifier = batch::Verifier::new();
    for item in items {
        verifier.queue(item);
    }
    verifier.verify(UnwrapErr(SysRng)).is_ok()
}

// ---- tests ----------------------------------------------------------------------------------

#[test]
fn the_encodings_match_ed25519_zebras_test_data() {
    let nc = non_canonical_point_encodings();
    // 2 with a non-canonical sign bit of x = 0, 24 with a non-canonical y (x + p).
    assert_eq!(nc.len(), 26);
    for (i, e) in nc.iter().enumerate() {
        let p = point(e);
        assert_ne!(p.compress().to_bytes(), *e, "#{i} is non-canonical");
        assert_eq!(
            p.is_small_order(),
            i < 6,
            "#{i}: only the first six are low order"
        );
    }
    let low = low_order_encodings();
    assert_eq!(low.len(), 14);
    assert!(low.iter().all(|e| point(e).is_small_order()));
    assert_eq!(small_order_vectors().len(), 196);
}

#[test]
fn the_edge_vectors_are_decided_as_zip215_says() {
    // ed25519-zebra itself, on the raw message (the transaction-level test covers all 196
    // small-order cases).
    let m = msg();
    for v in edge_vectors() {
        assert_eq!(zebra_single(&v, &m), v.valid, "{}", v.name);
    }
    // ed25519-zebra's own message for its small-order cases: valid for any message.
    for v in small_order_vectors().iter().step_by(13) {
        assert!(zebra_single(v, b"Zcash"), "{}", v.name);
        assert!(zebra_single(v, &m), "{}", v.name);
    }
}

#[test]
fn signed_tx_verify_and_the_batch_verifier_agree_on_every_vector() {
    // aivm's rule = ZIP-215 plus the stateless refusal of small-order signers
    // (`SignedTx::check_signer`), which a batch verifier applies before queueing.
    for v in all_vectors() {
        let t = tx(&v);
        let point = CompressedEdwardsY(v.vk).decompress();
        let small = point.is_some_and(|p| p.is_small_order());
        let single = t.verify();
        let batched = t.check_signer().is_ok() && batch_ok([t.batch_item()]);
        assert_eq!(single.is_ok(), v.valid && !small, "{}: {single:?}", v.name);
        assert_eq!(batched, v.valid && !small, "{}: batch", v.name);
        if point.is_none() {
            assert_eq!(single, Err(AuthError::MalformedKey), "{}", v.name);
        } else if small {
            assert_eq!(single, Err(AuthError::SmallOrderKey), "{}", v.name);
        } else if !v.valid {
            assert_eq!(single, Err(AuthError::BadSignature), "{}", v.name);
        }
    }
}

#[test]
fn the_mixed_order_vectors_are_where_cofactorless_rules_would_disagree() {
    let m = msg();
    let edge = edge_vectors();
    let by_name = |n: &str| edge.iter().find(|v| v.name == n).unwrap().clone();
    assert!(cofactorless_ok(&by_name("honest"), &m));
    for name in ["mixed-order A", "mixed-order R"] {
        let v = by_name(name);
        assert!(v.valid && !cofactorless_ok(&v, &m), "{name}");
        assert!(tx(&v).verify().is_ok(), "{name}");
    }
    let strict_refuses = edge
        .iter()
        .chain(small_order_vectors().iter().step_by(15))
        .filter(|v| v.valid && !cofactorless_ok(v, &m))
        .count();
    assert!(strict_refuses > 10, "{strict_refuses}");
}

#[test]
fn batches_of_many_agree_with_one_by_one() {
    let vectors = all_vectors();
    let valid: Vec<SignedTx> = vectors.iter().filter(|v| v.valid).map(tx).collect();
    assert!(batch_ok(valid.iter().map(SignedTx::batch_item)));
    for bad in vectors.iter().filter(|v| !v.valid) {
        let bad_tx = tx(bad);
        let items = valid
            .iter()
            .take(8)
            .chain(std::iter::once(&bad_tx))
            .map(SignedTx::batch_item);
        assert!(
            !batch_ok(items),
            "one bad signature fails the batch: {}",
            bad.name
        );
    }
    // Several signatures under one mixed-order key (the batch coalesces them per key).
    let a = scalar("secret key a");
    let r = scalar("nonce r");
    let mixed_a = (EdwardsPoint::mul_base(&a) + EIGHT_TORSION[3])
        .compress()
        .to_bytes();
    let r_bytes = EdwardsPoint::mul_base(&r).compress().to_bytes();
    let same_key: Vec<SignedTx> = (0..5)
        .map(|n| {
            let b = body(n);
            let k = challenge(&r_bytes, &mixed_a, &b.signing_bytes());
            SignedTx {
                signer: Address(mixed_a),
                body: b,
                signature: Sig64(sig_bytes(&r_bytes, &(r + k * a).to_bytes())),
            }
        })
        .collect();
    assert!(same_key.iter().all(|t| t.verify().is_ok()));
    assert!(batch_ok(same_key.iter().map(SignedTx::batch_item)));
}

#[test]
fn the_chain_refuses_small_order_signers_whose_signatures_zip215_accepts() {
    // (R small-order, s = 0) satisfies ZIP-215's equation for a small-order key on any
    // message, so anyone could spend from such an address: the signer rule refuses it,
    // even when the address holds funds.
    let v = small_order_vectors()[9].clone();
    assert!(v.valid, "ZIP-215 alone accepts this vector");
    let mut c = Chain::new(Genesis::new(CHAIN, vec![(Address(v.vk), 1_000_000_000)])).unwrap();
    let b = c.next_block(vec![tx(&v)]);
    let (_, out) = apply_block(&c.state, &b).unwrap();
    assert_eq!(
        out.receipts[0].status,
        TxStatus::Rejected(CheckError::Auth(AuthError::SmallOrderKey))
    );
    // The same transaction with s >= l never gets that far.
    let mut bad = tx(&v);
    bad.signature.0[32..].copy_from_slice(&L);
    let out = c.block(vec![bad]).unwrap();
    assert_eq!(
        out.receipts[0].status,
        TxStatus::Rejected(CheckError::Auth(AuthError::SmallOrderKey))
    );
}
