//! Identifiers and small value types shared by every module.

use core::fmt;
use serde::{Deserialize, Serialize};

/// A 32-byte digest (blake3 everywhere in aivm).
pub type Hash = [u8; 32];
/// Token amounts in base units. u128 so that 10^18-scale bonds never overflow in sums.
pub type Amount = u128;

/// Lower-case hex of any byte string; used for display and JSON.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    out
}

/// Parses lower- or upper-case hex into exactly `N` bytes.
pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if s.len() != N * 2 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let hi = (chunk[0] as char).to_digit(16)?;
        let lo = (chunk[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Lexicographic order of two 32-byte strings (the order of `[u8; 32]`),
/// compared as four big-endian words.
#[inline]
pub(crate) fn cmp_bytes32(a: &[u8; 32], b: &[u8; 32]) -> core::cmp::Ordering {
    let word = |x: &[u8; 32], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&x[8 * i..8 * i + 8]);
        u64::from_be_bytes(w)
    };
    (0..4)
        .map(|i| word(a, i).cmp(&word(b, i)))
        .find(|o| o.is_ne())
        .unwrap_or(core::cmp::Ordering::Equal)
}

macro_rules! id32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
        #[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
        pub struct $name(pub [u8; 32]);

        // The byte order of the array, as `derive` would give, but word by
        // word: ids are the keys of every large map, and the derived order
        // calls `memcmp` for each comparison.
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> core::cmp::Ordering {
                cmp_bytes32(&self.0, &other.0)
            }
        }
        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl $name {
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), &hex(&self.0)[..16])
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex(&self.0))
            }
        }
        impl core::str::FromStr for $name {
            type Err = crate::error::ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex::<32>(s).map($name).ok_or(crate::error::ParseIdError {
                    kind: stringify!($name),
                    input: s.chars().take(80).collect(),
                })
            }
        }
    };
}

id32!(
    /// An account: the bytes of its ed25519 verification key.
    Address
);
id32!(
    /// A provider identity, derived from (owner, nonce) so no one can pick or overwrite one.
    ProviderId
);
id32!(
    /// A task identity, derived from (submitter, nonce): never chosen by the caller.
    TaskId
);

/// Domain-separated derivation of an id from an account and its nonce.
fn derive_id(domain: &str, who: &Address, nonce: u64) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(domain);
    h.update(&who.0);
    h.update(&nonce.to_le_bytes());
    *h.finalize().as_bytes()
}

impl TaskId {
    pub fn derive(submitter: &Address, nonce: u64) -> Self {
        TaskId(derive_id("aivm v1 task id", submitter, nonce))
    }
}

impl ProviderId {
    pub fn derive(owner: &Address, nonce: u64) -> Self {
        ProviderId(derive_id("aivm v1 provider id", owner, nonce))
    }

    /// Ids of providers listed in the genesis; a separate domain, so they can
    /// never collide with ids registered by transactions.
    pub fn genesis(owner: &Address, index: u64) -> Self {
        ProviderId(derive_id("aivm v1 genesis provider id", owner, index))
    }
}

/// A 64-byte ed25519 signature; serde encodes it as 64 raw bytes (postcard) since
/// serde's array support stops at 32.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sig64(pub [u8; 64]);

impl Default for Sig64 {
    fn default() -> Self {
        Sig64([0u8; 64])
    }
}

impl fmt::Debug for Sig64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig64({}..)", &hex(&self.0)[..16])
    }
}

impl Serialize for Sig64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(64)?;
        for b in &self.0 {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Sig64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Sig64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 signature bytes")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Sig64, A::Error> {
                let mut out = [0u8; 64];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                }
                Ok(Sig64(out))
            }
        }
        d.deserialize_tuple(64, V)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Sig64 {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Sig64(u.arbitrary()?))
    }
}

/// Model identifiers are short printable names such as `qwen3-8b`.
pub type ModelId = String;

/// What kind of work a task asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[serde(rename_all = "lowercase")]
pub enum TaskType {
    Inference,
    Training,
    Embedding,
    Mining,
}

impl TaskType {
    pub const ALL: [TaskType; 4] = [
        TaskType::Inference,
        TaskType::Training,
        TaskType::Embedding,
        TaskType::Mining,
    ];
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The word-wise order is the byte order `derive` would give, so no
        /// map of ids iterates differently (and no root moves).
        #[test]
        fn id_order_is_byte_order(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), cut in 0usize..32) {
            prop_assert_eq!(cmp_bytes32(&a, &b), a.cmp(&b));
            // Equal prefixes of every length, where the words matter most.
            let mut c = a;
            c[cut..].copy_from_slice(&b[cut..]);
            prop_assert_eq!(cmp_bytes32(&a, &c), a.cmp(&c));
            prop_assert_eq!(TaskId(a).cmp(&TaskId(c)), a.cmp(&c));
            prop_assert_eq!(cmp_bytes32(&a, &a), core::cmp::Ordering::Equal);
        }
    }
}
