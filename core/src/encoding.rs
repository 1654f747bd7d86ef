//! Canonical binary encoding: postcard, with decoding that refuses any input
//! whose re-encoding differs (overlong varints, trailing bytes, ...).

use serde::{de::DeserializeOwned, Serialize};

use crate::error::DecodeError;

/// Canonical bytes of a consensus value.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Serializing our own types into a Vec cannot fail: every consensus type is
    // plain data (no maps with fallible keys, no custom errors).
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Decodes `bytes`, refusing trailing bytes and any non-canonical form.
pub fn decode<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (value, rest): (T, &[u8]) =
        postcard::take_from_bytes(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len() as u64));
    }
    if encode(&value) != bytes {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
}

/// blake3 of the canonical bytes under a domain key, the one way aivm names a value.
pub fn digest<T: Serialize + ?Sized>(domain: &str, value: &T) -> crate::types::Hash {
    let mut h = blake3::Hasher::new_derive_key(domain);
    h.update(&encode(value));
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_trailing_and_overlong() {
        let bytes = encode(&300u64);
        assert_eq!(decode::<u64>(&bytes), Ok(300));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(decode::<u64>(&trailing), Err(DecodeError::TrailingBytes(1)));
        // 5 encoded as a two-byte varint is valid LEB128 but not canonical.
        assert_eq!(decode::<u64>(&[0x85, 0x00]), Err(DecodeError::NonCanonical));
    }
}
