//! Brine, RPyC's value serializer (PROTOCOL.md §4): a canonical encoder that makes
//! exactly the choices CPython makes, and a strict decoder.
//!
//! The encoder writes into a caller's buffer so the send path can reuse one buffer per
//! connection. The decoder is a cursor ([`Reader`]) so the message layer can walk the
//! envelope without building intermediate tuples.

use super::error::EncodeError;
use super::Value;
use bytes::Bytes;
use num_bigint::BigInt;

mod reader;
pub use reader::{decode, Reader};

/// Tag bytes (PROTOCOL.md §4.1); the names follow the spec's table.
#[allow(missing_docs)]
pub(crate) mod tag {
    pub const NONE: u8 = 0x00;
    pub const EMPTY_BYTES: u8 = 0x01;
    pub const EMPTY_TUPLE: u8 = 0x02;
    pub const TRUE: u8 = 0x03;
    pub const FALSE: u8 = 0x04;
    pub const NOT_IMPLEMENTED: u8 = 0x05;
    pub const ELLIPSIS: u8 = 0x06;
    pub const UNICODE: u8 = 0x08;
    pub const BYTES1: u8 = 0x0a;
    pub const BYTES_L1: u8 = 0x0e;
    pub const BYTES_L4: u8 = 0x0f;
    pub const TUPLE1: u8 = 0x10;
    pub const TUPLE_L1: u8 = 0x14;
    pub const TUPLE_L4: u8 = 0x15;
    pub const INT_L1: u8 = 0x16;
    pub const INT_L4: u8 = 0x17;
    pub const FLOAT: u8 = 0x18;
    pub const SLICE: u8 = 0x19;
    pub const FROZENSET: u8 = 0x1a;
    pub const COMPLEX: u8 = 0x1b;
    /// First single-byte integer tag: `tag - 0x50` is the value, −48 … 159.
    pub const SMALL_INT_FIRST: u8 = 0x20;
    pub const SMALL_INT_LAST: u8 = 0xef;
}

/// CPython ≥ 3.11 refuses int↔str conversions beyond this many digits.
pub const MAX_INT_DIGITS: usize = 4300;

/// Where [`encode`] writes: a byte vector, or a frame's payload
/// ([`FramePayload`](super::frame::FramePayload)), which may send a large `bytes` value
/// from where it lies instead of copying it.
///
/// Sealed: its methods hand out the underlying vector, and a frame's payload records
/// where in it each shared value goes, so only appends made by this crate may touch it.
pub trait Sink: sealed::SinkVec {}

pub(crate) mod sealed {
    use super::{append_bytes, Bytes};

    /// [`Sink`](super::Sink)'s methods, out of reach outside the crate.
    pub trait SinkVec {
        /// The bytes written so far, to append to (and only append to).
        fn vec(&mut self) -> &mut Vec<u8>;

        /// Appends the contents of `b`, a `bytes` value whose header is written already.
        fn bytes_body(&mut self, b: &Bytes) {
            append_bytes(b, self.vec());
        }
    }
}

impl Sink for Vec<u8> {}

impl sealed::SinkVec for Vec<u8> {
    fn vec(&mut self) -> &mut Vec<u8> {
        self
    }
}

/// Encodes `value` and appends it to `out` (a `Vec<u8>`, or a frame's payload).
pub fn encode<S: Sink + ?Sized>(value: &Value, out: &mut S) -> Result<(), EncodeError> {
    if let Value::Bytes(b) = value {
        write_bytes_header(b.len(), out.vec())?;
        out.bytes_body(b);
        return Ok(());
    }
    if let Value::Tuple(items) = value {
        write_tuple_header(items.len(), out.vec())?;
        return items.iter().try_for_each(|v| encode(v, out));
    }
    let out = out.vec();
    match value {
        Value::None => out.push(tag::NONE),
        Value::Bool(true) => out.push(tag::TRUE),
        Value::Bool(false) => out.push(tag::FALSE),
        Value::Int(i) => write_int(*i, out),
        Value::BigInt(i) => write_bigint(i, out)?,
        Value::Float(x) => write_float(*x, out),
        Value::Complex(re, im) => {
            out.push(tag::COMPLEX);
            out.extend_from_slice(&re.to_be_bytes());
            out.extend_from_slice(&im.to_be_bytes());
        }
        Value::Str(s) => write_str(s, out)?,
        Value::Bytes(_) | Value::Tuple(_) => unreachable!("written above"),
        Value::FrozenSet(items) => {
            out.push(tag::FROZENSET);
            encode_tuple_of(items, out)?;
        }
        Value::Slice(parts) => {
            out.push(tag::SLICE);
            encode_tuple_of(parts.as_slice(), out)?;
        }
        Value::Ellipsis => out.push(tag::ELLIPSIS),
        Value::NotImplemented => out.push(tag::NOT_IMPLEMENTED),
    }
    Ok(())
}

/// Encodes `value` into a fresh buffer.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode(value, &mut out)?;
    Ok(out)
}

fn encode_tuple_of(items: &[Value], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write_tuple_header(items.len(), out)?;
    items.iter().try_for_each(|v| encode(v, out))
}

/// Writes an `int` the way CPython does: one byte for −48 … 159, decimal text otherwise.
pub(crate) fn write_int(i: i64, out: &mut Vec<u8>) {
    if (-48..=159).contains(&i) {
        out.push((i + 0x50) as u8);
    } else {
        // An i64 has at most 20 characters, so the short form always applies.
        let mut buf = itoa::Buffer::new();
        let text = buf.format(i);
        out.push(tag::INT_L1);
        out.push(text.len() as u8);
        out.extend_from_slice(text.as_bytes());
    }
}

fn write_bigint(i: &BigInt, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let text = i.to_str_radix(10);
    let digits = text.trim_start_matches('-').len();
    if digits > MAX_INT_DIGITS {
        return Err(EncodeError::IntTooLarge { digits });
    }
    if text.len() < 256 {
        out.push(tag::INT_L1);
        out.push(text.len() as u8);
    } else {
        out.push(tag::INT_L4);
        out.extend_from_slice(&(text.len() as u32).to_be_bytes());
    }
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Writes a `float` (`-0.0` and NaN payloads are kept bit for bit).
pub(crate) fn write_float(x: f64, out: &mut Vec<u8>) {
    out.push(tag::FLOAT);
    out.extend_from_slice(&x.to_be_bytes());
}

/// Writes a `bytes` object with the length class CPython picks.
pub(crate) fn write_bytes(b: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write_bytes_header(b.len(), out)?;
    append_bytes(b, out);
    Ok(())
}

/// Writes the tag and length of a `bytes` object of `len` bytes; its contents follow.
pub(crate) fn write_bytes_header(len: usize, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match len {
        0 => out.push(tag::EMPTY_BYTES),
        n @ 1..=4 => out.push(tag::BYTES1 + (n as u8 - 1)),
        n @ 5..=255 => out.extend_from_slice(&[tag::BYTES_L1, n as u8]),
        n => {
            let n = u32::try_from(n).map_err(|_| EncodeError::TooLong { what: "bytes", len: n })?;
            out.push(tag::BYTES_L4);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    Ok(())
}

/// Appends `b` to `out`.
pub(crate) fn append_bytes(b: &[u8], out: &mut Vec<u8>) {
    if out.capacity() - out.len() < b.len() {
        // Grown once, with huge pages where the buffer is large: see `wire::pages`.
        out.reserve(b.len());
        super::pages::advise_huge_pages(out.as_ptr(), out.capacity());
    }
    out.extend_from_slice(b);
}

/// Writes a `str`: the UNICODE tag around the bytes of its UTF-8 form.
pub fn write_str(s: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.push(tag::UNICODE);
    write_bytes(s.as_bytes(), out)
}

/// Writes the header of a tuple of `n` elements; the caller writes the elements.
pub(crate) fn write_tuple_header(n: usize, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match n {
        0 => out.push(tag::EMPTY_TUPLE),
        1..=4 => out.push(tag::TUPLE1 + (n as u8 - 1)),
        5..=255 => out.extend_from_slice(&[tag::TUPLE_L1, n as u8]),
        _ => {
            let n = u32::try_from(n).map_err(|_| EncodeError::TooLong { what: "tuple", len: n })?;
            out.push(tag::TUPLE_L4);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{DecodeError, Limits};

    fn hex(v: &Value) -> String {
        to_vec(v).unwrap().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn worked_example_from_the_spec() {
        let v = Value::from((1, ("a", Value::from(b"b".to_vec()), (Value::None, true)), 2.5));
        assert_eq!(hex(&v), "125112080a610a62110003184004000000000000");
        assert_eq!(decode(&to_vec(&v).unwrap(), &Limits::DEFAULT).unwrap(), v);
    }

    #[test]
    fn int_boundaries() {
        assert_eq!(hex(&Value::Int(-48)), "20");
        assert_eq!(hex(&Value::Int(159)), "ef");
        assert_eq!(hex(&Value::Int(160)), "1603313630");
        assert_eq!(hex(&Value::Int(-49)), "16032d3439");
        let big = Value::from(BigInt::from(1u8) << 64);
        assert!(matches!(big, Value::BigInt(_)));
        assert_eq!(decode(&to_vec(&big).unwrap(), &Limits::DEFAULT).unwrap(), big);
        assert_eq!(decode(&to_vec(&Value::Int(i64::MIN)).unwrap(), &Limits::DEFAULT).unwrap(), Value::Int(i64::MIN));
    }

    #[test]
    fn strict_rejections() {
        let l = Limits::DEFAULT;
        assert!(matches!(decode(&[0x16, 0x02, b'5', b'0'], &l), Err(DecodeError::NonCanonical { .. })));
        assert!(matches!(decode(&[0x16, 0x03, b'0', b'0', b'7'], &l), Err(DecodeError::NonCanonical { .. })));
        assert!(matches!(decode(&[0x50, 0x50], &l), Err(DecodeError::TrailingBytes { .. })));
        assert!(matches!(decode(&[0x15, 0xff, 0xff, 0xff, 0xff], &l), Err(DecodeError::Truncated { .. })));
    }

    #[test]
    fn a_tuple_bomb_is_refused_within_the_budget() {
        // 20 million Nones: 20 MB on the wire (20 KB zlib'd), 640 MB decoded.
        let n = 20_000_000usize;
        let mut bomb = vec![tag::TUPLE_L4];
        bomb.extend_from_slice(&(n as u32).to_be_bytes());
        bomb.resize(5 + n, tag::NONE);
        let limits = Limits { max_connection_memory: 1 << 20, ..Limits::DEFAULT };
        let mut r = Reader::new(&bomb, &limits);
        assert_eq!(r.value(), Err(DecodeError::MemoryBudget { budget: 1 << 20 }));
        // Every allocation is charged first, so this is all the bomb made us allocate.
        assert!(r.charged() <= 1 << 20, "charged {} bytes", r.charged());
        // What Value elements take counts, not input bytes: a third of the budget in
        // Nones is refused...
        let third = (1 << 20) / 3;
        bomb[1..5].copy_from_slice(&(third as u32).to_be_bytes());
        assert_eq!(decode(&bomb[..5 + third], &limits), Err(DecodeError::MemoryBudget { budget: 1 << 20 }));
        // ...while the same bytes as one bytes object fit.
        let mut bytes = vec![tag::BYTES_L4];
        bytes.extend_from_slice(&(third as u32).to_be_bytes());
        bytes.resize(5 + third, 0);
        assert_eq!(decode(&bytes, &limits), Ok(Value::from(vec![0; third])));
        // A budget already spent by other messages leaves less.
        let mut r = Reader::with_budget(&bytes, &limits, third - 1);
        assert_eq!(r.value(), Err(DecodeError::MemoryBudget { budget: 1 << 20 }));
        assert_eq!(r.charged(), 0);
    }

    #[test]
    fn depth_is_bounded() {
        let deep = vec![tag::TUPLE1; 10_000];
        assert_eq!(decode(&deep, &Limits::DEFAULT), Err(DecodeError::TooDeep { limit: 128 }));
    }
}
