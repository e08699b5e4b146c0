//! Errors of the wire layer: what a peer sent that we cannot accept, and why.

use thiserror::Error;

// Variant fields are plain data named for what they hold (`offset` is always a byte
// offset into the decoded input); the variant docs say what they mean.

/// Why bytes could not be decoded as brine or as an RPyC message.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum DecodeError {
    /// The input ended inside a value.
    #[error("truncated brine data: needed {needed} more byte(s) at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    /// A tag byte that brine does not define (0x07, 0x09, 0x1c–0x1f, 0xf0–0xff).
    #[error("unknown brine tag 0x{tag:02x} at offset {offset}")]
    UnknownTag { tag: u8, offset: usize },
    /// Bytes were left over after the top-level value.
    #[error("{extra} trailing byte(s) after the value at offset {offset}")]
    TrailingBytes { offset: usize, extra: usize },
    /// A length or digit string that a Python sender would never produce.
    #[error("non-canonical encoding at offset {offset}: {what}")]
    NonCanonical { offset: usize, what: &'static str },
    /// An integer whose digits are not `-?[0-9]+`, or longer than CPython's 4300 digits.
    #[error("invalid integer at offset {offset}: {what}")]
    BadInt { offset: usize, what: &'static str },
    /// A str whose bytes are not UTF-8.
    #[error("invalid UTF-8 in str at offset {offset}")]
    BadUtf8 { offset: usize },
    /// A value of the wrong shape where the format requires one (e.g. a slice of a 2-tuple).
    #[error("malformed {what} at offset {offset}")]
    Malformed { offset: usize, what: &'static str },
    /// Nesting deeper than [`Limits::max_depth`](super::Limits::max_depth).
    #[error("values nested deeper than the limit of {limit}")]
    TooDeep { limit: u32 },
    /// Decoding would take more memory than the connection's budget
    /// ([`Limits::max_connection_memory`](super::Limits::max_connection_memory)): a
    /// small frame can announce millions of elements that take tens of bytes each.
    #[error(
        "the message's values would take more than the connection's memory budget of {budget} bytes \
         (Limits::max_connection_memory; on a server, `rpycbench serve --memory-budget`)"
    )]
    MemoryBudget { budget: usize },
    /// The message envelope is not `msg_type || (seq, body)` as PROTOCOL.md §5 defines it.
    #[error("bad message envelope: {0}")]
    Envelope(String),
    /// The peer frames its messages as rpyc before 6.0 did: one brine 3-tuple
    /// `(msg_type, seq, body)` instead of a type byte and a 2-tuple.
    #[error(
        "the peer speaks an rpyc older than 6.0 (its messages are brine 3-tuples); rpycbench speaks RPyC 6.0.2: \
         use rpyc>=6 on both sides (pip install 'rpyc>=6')"
    )]
    OlderRpyc,
}

/// Why a value cannot be encoded for a Python peer.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum EncodeError {
    /// CPython refuses to convert integers with more than 4300 decimal digits.
    #[error("integer has {digits} decimal digits; CPython accepts at most 4300")]
    IntTooLarge { digits: usize },
    /// A length beyond what the wire format's 32-bit fields can carry.
    #[error("{what} of length {len} exceeds the 32-bit wire limit")]
    TooLong { what: &'static str, len: usize },
}

/// Why a frame could not be read or written.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum FrameError {
    /// The header announces a body larger than [`Limits::max_frame_len`](super::Limits).
    #[error("frame of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge { len: u64, limit: u64 },
    /// A compressed body inflates past [`Limits::inflate_limit`](super::Limits::inflate_limit).
    #[error("compressed frame inflates past the limit of {limit} bytes (Limits::max_inflated_len, and no more than the memory budget per connection)")]
    InflateLimit { limit: usize },
    /// A compressed body that is not a valid zlib stream.
    #[error("corrupt zlib stream in compressed frame: {0}")]
    Zlib(String),
    /// An empty payload: Python ignores such frames, so we never send one.
    #[error("refusing to send an empty frame")]
    Empty,
}
