//! Errors that are not specific to one module of the state machine.

use thiserror::Error;

/// Bytes that are not the canonical encoding of the expected type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("malformed encoding: {0}")]
    Malformed(String),
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(u64),
    #[error("non-canonical encoding: re-encoding gives different bytes")]
    NonCanonical,
}

/// A textual id (hex) that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a valid {kind}: {input:?} (expected 64 hex digits)")]
pub struct ParseIdError {
    pub kind: &'static str,
    pub input: String,
}
