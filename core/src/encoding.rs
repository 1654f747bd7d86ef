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
    hash_into(&mut h, value);
    *h.finalize().as_bytes()
}

/// Feeds the canonical bytes of `value` to `hasher`, as `hasher.update(&encode(value))`
/// would, without building them in a `Vec` (blake3 streams, so the split is invisible).
pub fn hash_into<T: Serialize + ?Sized>(hasher: &mut blake3::Hasher, value: &T) {
    let sink = HashSink {
        hasher,
        buf: [0; SINK_BUF],
        len: 0,
    };
    // The sink never fails and our types never fail to serialize (see `encode`).
    let _ = postcard::serialize_with_flavor(value, sink);
}

/// Whether `value` encodes to exactly `bytes`, as `encode(value) == bytes`, without
/// allocating the encoding.
pub fn encodes_to<T: Serialize + ?Sized>(value: &T, bytes: &[u8]) -> bool {
    let sink = CompareSink { rest: bytes };
    matches!(postcard::serialize_with_flavor(value, sink), Ok(true))
}

/// Writes the canonical bytes of `value` into `buf` (cleared first), reusing its
/// capacity: the bytes of [`encode`].
pub fn encode_into<T: Serialize + ?Sized>(value: &T, buf: &mut Vec<u8>) {
    buf.clear();
    // As in `encode`: cannot fail for our types, and the sink never fails.
    let _ = postcard::serialize_with_flavor(value, VecSink(buf));
}

/// Appends to a borrowed `Vec` (postcard's own `Vec` flavors either allocate
/// anew or push byte by byte through `Extend`).
struct VecSink<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for VecSink<'_> {
    type Output = ();

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

const SINK_BUF: usize = 256;

/// Postcard pushes one byte at a time (varints, fixed arrays), and a blake3
/// `update` per byte costs far more than the byte: batch them.
struct HashSink<'a> {
    hasher: &'a mut blake3::Hasher,
    buf: [u8; SINK_BUF],
    len: usize,
}

impl HashSink<'_> {
    fn flush(&mut self) {
        if let Some(pending) = self.buf.get(..self.len) {
            self.hasher.update(pending);
        }
        self.len = 0;
    }
}

impl postcard::ser_flavors::Flavor for HashSink<'_> {
    type Output = ();

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        if self.len >= SINK_BUF {
            self.flush();
        }
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = data;
            self.len += 1;
        }
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        match self
            .buf
            .get_mut(self.len..self.len.saturating_add(data.len()))
        {
            Some(room) => {
                room.copy_from_slice(data);
                self.len += data.len();
            }
            None => {
                self.flush();
                self.hasher.update(data);
            }
        }
        Ok(())
    }

    fn finalize(mut self) -> postcard::Result<()> {
        self.flush();
        Ok(())
    }
}

/// Checks the encoding against expected bytes as it is produced.
struct CompareSink<'a> {
    rest: &'a [u8],
}

impl postcard::ser_flavors::Flavor for CompareSink<'_> {
    /// Whether every expected byte was produced (and no more).
    type Output = bool;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        match self.rest.split_first() {
            Some((&b, rest)) if b == data => {
                self.rest = rest;
                Ok(())
            }
            _ => Err(postcard::Error::SerializeBufferFull),
        }
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        match self.rest.split_at_checked(data.len()) {
            Some((head, rest)) if head == data => {
                self.rest = rest;
                Ok(())
            }
            _ => Err(postcard::Error::SerializeBufferFull),
        }
    }

    fn finalize(self) -> postcard::Result<bool> {
        Ok(self.rest.is_empty())
    }
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

    #[test]
    fn streamed_hash_and_comparison_match_the_encoding() {
        // Long enough to overflow the sink's buffer, with pushes and extends mixed.
        let value: (Vec<u8>, Vec<u64>, String, [u8; 32]) = (
            (0..=255).chain(0..=255).collect(),
            (0..300).map(|i| i * 1_000_003).collect(),
            "x".repeat(700),
            [7; 32],
        );
        let bytes = encode(&value);
        let mut streamed = blake3::Hasher::new_derive_key("test");
        hash_into(&mut streamed, &value);
        let mut whole = blake3::Hasher::new_derive_key("test");
        whole.update(&bytes);
        assert_eq!(streamed.finalize(), whole.finalize());
        assert!(encodes_to(&value, &bytes));
        let mut reused = vec![1, 2, 3];
        encode_into(&value, &mut reused);
        assert_eq!(reused, bytes);
        assert!(!encodes_to(&value, &bytes[..bytes.len() - 1]));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(!encodes_to(&value, &longer));
        let mut changed = bytes.clone();
        changed[600] ^= 1;
        assert!(!encodes_to(&value, &changed));
    }
}
