//! Brine, RPyC's value serializer (PROTOCOL.md §4): a canonical encoder that makes
//! exactly the choices CPython makes, and a strict decoder.
//!
//! The encoder writes into a caller's buffer so the send path can reuse one buffer per
//! connection. The decoder is a cursor ([`Reader`]) so the message layer can walk the
//! envelope without building intermediate tuples.

use super::error::{DecodeError, EncodeError};
use super::{Limits, Value};
use bytes::Bytes;
use num_bigint::BigInt;

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

/// Decodes exactly one value from `data`; trailing bytes are an error.
pub fn decode(data: &[u8], limits: &Limits) -> Result<Value, DecodeError> {
    let mut r = Reader::new(data, limits);
    let v = r.value()?;
    r.finish()?;
    Ok(v)
}

/// A strict brine decoding cursor over a byte slice.
///
/// Strict means: only the tags of PROTOCOL.md §4.1, exact lengths, the length class and
/// digit text a Python sender would choose, and valid UTF-8. Python's own loader accepts
/// more (see the `load_lenient` vectors), but no Python peer ever produces it.
///
/// Every allocation the decoded values make is charged against a memory budget first
/// (see [`Limits::max_connection_memory`]): elements by the size of what holds them,
/// strings, bytes and integers by their heap bytes. Input bytes are no measure: a
/// `None` is one byte on the wire and a whole `Value` in memory.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    depth: u32,
    max_depth: u32,
    /// The budget as configured, for the error message.
    budget: usize,
    /// What is left of it for this message.
    available: usize,
    charged: usize,
    /// The buffer `data` lies in, when the caller can share it: large `bytes` values
    /// then point into it instead of being copied out (see [`Reader::sharing`]).
    shared: Option<&'a Bytes>,
}

/// Elements allocated for a tuple before any of them has been decoded: a count in a
/// header is only a claim, so room grows (doubling) as elements really arrive.
const FIRST_ELEMENTS: usize = 1024;

impl<'a> Reader<'a> {
    /// A reader at the start of `data`, with the whole budget of `limits`.
    pub fn new(data: &'a [u8], limits: &Limits) -> Self {
        Reader::with_budget(data, limits, limits.max_connection_memory)
    }

    /// A reader whose values may take at most `available` bytes: what is left of the
    /// connection's budget while other messages' values are still in use.
    pub fn with_budget(data: &'a [u8], limits: &Limits, available: usize) -> Self {
        Reader {
            data,
            pos: 0,
            depth: 0,
            max_depth: limits.max_depth,
            budget: limits.max_connection_memory,
            available: available.min(limits.max_connection_memory),
            charged: 0,
            shared: None,
        }
    }

    /// Lets `bytes` values share `frame`, the buffer this reader's data lies in,
    /// instead of copying out of it: a 100 MB upload is then never copied after the
    /// socket wrote it. Only a value at least half the size of `frame` shares it, so no
    /// value keeps more than twice its own size alive. Data outside `frame` is copied
    /// as usual.
    pub fn sharing(mut self, frame: &'a Bytes) -> Self {
        self.shared = Some(frame);
        self
    }

    /// A `bytes` value for `raw`, a slice of this reader's data.
    fn bytes_value(&self, raw: &[u8]) -> Bytes {
        if let Some(frame) = self.shared {
            let inside = frame.as_ptr_range();
            let (start, end) = (raw.as_ptr(), raw.as_ptr().wrapping_add(raw.len()));
            if raw.len() >= frame.len() / 2 && start >= inside.start && end <= inside.end {
                // `raw` lies within `frame` (checked above), as slice_ref requires.
                return frame.slice_ref(raw);
            }
        }
        Bytes::copy_from_slice(raw)
    }

    /// Bytes of memory the values decoded so far have been charged.
    pub fn charged(&self) -> usize {
        self.charged
    }

    /// Charges `bytes` about to be allocated, failing past the budget (nothing is
    /// charged then, and the caller allocates nothing).
    pub fn charge(&mut self, bytes: usize) -> Result<(), DecodeError> {
        match self.available.checked_sub(bytes) {
            Some(left) => {
                self.available = left;
                self.charged += bytes;
                Ok(())
            }
            None => Err(DecodeError::MemoryBudget { budget: self.budget }),
        }
    }

    /// Decodes `n` items with `item`, growing their vector only as items are decoded
    /// and charging every growth before it is made.
    pub fn collect<T>(
        &mut self,
        n: usize,
        item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        self.collect_charged_as(n, std::mem::size_of::<T>(), item)
    }

    /// [`collect`](Self::collect), charging each element `element_size` bytes: for a
    /// caller that decodes into a different type than the general decoder would and
    /// must charge the budget the same.
    pub fn collect_charged_as<T>(
        &mut self,
        n: usize,
        element_size: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let mut items: Vec<T> = Vec::new();
        self.each_charged_as(n, element_size, |r, room| {
            items.reserve_exact(room);
            items.push(item(r)?);
            Ok(())
        })?;
        Ok(items)
    }

    /// Decodes `n` items with `item`, charging the budget exactly as
    /// [`collect_charged_as`](Self::collect_charged_as) does for a vector of
    /// `element_size`-byte elements: each growth is charged before the item that needs
    /// it, which is told how many more items to make room for (0 when there is room);
    /// for a caller that keeps the items elsewhere (`client::plain_request` keeps a few
    /// inline).
    pub fn each_charged_as(
        &mut self,
        n: usize,
        element_size: usize,
        mut item: impl FnMut(&mut Self, usize) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        let mut capacity = 0;
        for len in 0..n {
            let mut room = 0;
            if len == capacity {
                let grown = (capacity * 2).max(FIRST_ELEMENTS.min(n)).min(n);
                self.charge((grown - capacity).saturating_mul(element_size))?;
                room = grown - len;
                capacity = grown;
            }
            item(self, room)?;
        }
        Ok(())
    }

    /// The current offset into the input.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Fails unless every byte has been consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.data.len() - self.pos {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes { offset: self.pos, extra }),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let rest = &self.data[self.pos..];
        if rest.len() < n {
            return Err(DecodeError::Truncated { offset: self.pos, needed: n - rest.len() });
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<usize, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn f64(&mut self) -> Result<f64, DecodeError> {
        let b = self.take(8)?;
        Ok(f64::from_be_bytes(b.try_into().expect("take(8) returns 8 bytes")))
    }

    fn non_canonical(&self, at: usize, what: &'static str) -> DecodeError {
        DecodeError::NonCanonical { offset: at, what }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Runs `f` one nesting level deeper, failing past the depth limit.
    pub fn descend<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, DecodeError>) -> Result<T, DecodeError> {
        if self.depth >= self.max_depth {
            return Err(DecodeError::TooDeep { limit: self.max_depth });
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    /// Decodes the next value.
    pub fn value(&mut self) -> Result<Value, DecodeError> {
        let at = self.pos;
        let t = self.byte()?;
        Ok(match t {
            tag::NONE => Value::None,
            tag::TRUE => Value::Bool(true),
            tag::FALSE => Value::Bool(false),
            tag::NOT_IMPLEMENTED => Value::NotImplemented,
            tag::ELLIPSIS => Value::Ellipsis,
            tag::SMALL_INT_FIRST..=tag::SMALL_INT_LAST => Value::Int(i64::from(t) - 0x50),
            tag::INT_L1 | tag::INT_L4 => self.int_text(t, at)?,
            tag::FLOAT => Value::Float(self.f64()?),
            tag::COMPLEX => Value::Complex(self.f64()?, self.f64()?),
            tag::EMPTY_BYTES | tag::BYTES1..=tag::BYTES_L4 => {
                let raw = self.bytes_body(t, at)?;
                self.charge(raw.len())?;
                Value::Bytes(self.bytes_value(raw))
            }
            tag::UNICODE => {
                let text = self.str_body(at)?;
                self.charge(text.len())?;
                Value::Str(super::spare::owned(text))
            }
            tag::EMPTY_TUPLE | tag::TUPLE1..=tag::TUPLE_L4 => {
                let n = self.tuple_len_body(t, at)?;
                Value::Tuple(self.descend(|r| r.elements(n))?)
            }
            tag::FROZENSET => Value::FrozenSet(self.descend(|r| {
                let inner = r.pos;
                let n = r
                    .tuple_len()
                    .map_err(|_| DecodeError::Malformed { offset: inner, what: "frozenset (not a tuple)" })?;
                r.elements(n)
            })?),
            tag::SLICE => {
                let parts = self.descend(|r| {
                    let inner = r.pos;
                    match r.tuple_len() {
                        Ok(3) => r.elements(3),
                        _ => Err(DecodeError::Malformed { offset: inner, what: "slice (not a 3-tuple)" }),
                    }
                })?;
                let [a, b, c]: [Value; 3] = parts.try_into().expect("elements(3) returns 3 values");
                Value::Slice(Box::new([a, b, c]))
            }
            _ => return Err(DecodeError::UnknownTag { tag: t, offset: at }),
        })
    }

    fn elements(&mut self, n: usize) -> Result<Vec<Value>, DecodeError> {
        self.collect(n, Self::value)
    }

    /// Reads a tuple header and returns its element count; the caller reads the elements.
    pub fn tuple_len(&mut self) -> Result<usize, DecodeError> {
        let at = self.pos;
        let t = self.byte()?;
        match t {
            tag::EMPTY_TUPLE | tag::TUPLE1..=tag::TUPLE_L4 => self.tuple_len_body(t, at),
            _ => Err(DecodeError::Malformed { offset: at, what: "tuple" }),
        }
    }

    fn tuple_len_body(&mut self, t: u8, at: usize) -> Result<usize, DecodeError> {
        Ok(match t {
            tag::EMPTY_TUPLE => 0,
            tag::TUPLE_L1 => match self.byte()? as usize {
                n @ 5..=255 => n,
                _ => return Err(self.non_canonical(at, "TUPLE_L1 for fewer than 5 elements")),
            },
            tag::TUPLE_L4 => match self.u32()? {
                n if n >= 256 => n,
                _ => return Err(self.non_canonical(at, "TUPLE_L4 for fewer than 256 elements")),
            },
            t => usize::from(t - tag::TUPLE1 + 1),
        })
    }

    /// Reads a tuple header that must announce exactly `n` elements.
    pub fn expect_tuple(&mut self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        let at = self.pos;
        match self.tuple_len() {
            Ok(len) if len == n => Ok(()),
            _ => Err(DecodeError::Malformed { offset: at, what }),
        }
    }

    fn bytes_body(&mut self, t: u8, at: usize) -> Result<&'a [u8], DecodeError> {
        let n = match t {
            tag::EMPTY_BYTES => 0,
            tag::BYTES_L1 => match self.byte()? as usize {
                n @ 5..=255 => n,
                _ => return Err(self.non_canonical(at, "BYTES_L1 for fewer than 5 bytes")),
            },
            tag::BYTES_L4 => match self.u32()? {
                n if n >= 256 => n,
                _ => return Err(self.non_canonical(at, "BYTES_L4 for fewer than 256 bytes")),
            },
            t => usize::from(t - tag::BYTES1 + 1),
        };
        self.take(n)
    }

    /// Reads the body of a str (after its UNICODE tag), borrowing from the input.
    fn str_body(&mut self, at: usize) -> Result<&'a str, DecodeError> {
        let inner = self.pos;
        let t = self.byte()?;
        if !(t == tag::EMPTY_BYTES || (tag::BYTES1..=tag::BYTES_L4).contains(&t)) {
            return Err(DecodeError::Malformed { offset: at, what: "str (UNICODE must wrap bytes)" });
        }
        let raw = self.bytes_body(t, inner)?;
        std::str::from_utf8(raw).map_err(|_| DecodeError::BadUtf8 { offset: at })
    }

    /// Reads a `str` value, borrowing it from the input (no allocation).
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        match self.byte()? {
            tag::UNICODE => self.str_body(at),
            _ => Err(DecodeError::Malformed { offset: at, what: "str" }),
        }
    }

    /// Reads an `int` that must fit in 64 bits (sequence numbers, handler ids, labels,
    /// object ids).
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        let at = self.pos;
        let t = self.byte()?;
        match t {
            tag::SMALL_INT_FIRST..=tag::SMALL_INT_LAST => Ok(i64::from(t) - 0x50),
            tag::INT_L1 | tag::INT_L4 => match self.int_text(t, at)? {
                Value::Int(i) => Ok(i),
                _ => Err(DecodeError::BadInt { offset: at, what: "out of the 64-bit range" }),
            },
            _ => Err(DecodeError::Malformed { offset: at, what: "int" }),
        }
    }

    fn int_text(&mut self, t: u8, at: usize) -> Result<Value, DecodeError> {
        let n = if t == tag::INT_L1 { self.byte()? as usize } else { self.u32()? };
        if t == tag::INT_L4 && n < 256 {
            return Err(self.non_canonical(at, "INT_L4 for fewer than 256 digits"));
        }
        let text = self.take(n)?;
        let digits = text.strip_prefix(b"-").unwrap_or(text);
        let bad = |what| DecodeError::BadInt { offset: at, what };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad("digits must match -?[0-9]+"));
        }
        if digits.len() > MAX_INT_DIGITS {
            return Err(bad("more than 4300 digits"));
        }
        if (digits[0] == b'0' && digits.len() > 1) || text == b"-0" {
            return Err(self.non_canonical(at, "leading zero in int"));
        }
        let value = if digits.len() <= 18 {
            // Up to 18 digits always fits an i64: parse without allocating.
            let mag = digits.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
            Value::Int(if text[0] == b'-' { -mag } else { mag })
        } else {
            // A BigInt holds about 0.42 bytes per decimal digit: the text length bounds it.
            self.charge(text.len())?;
            // parse_bytes accepts what we validated above, so None cannot happen.
            Value::from(BigInt::parse_bytes(text, 10).ok_or(bad("unparsable digits"))?)
        };
        if matches!(value, Value::Int(i) if (-48..=159).contains(&i)) {
            return Err(self.non_canonical(at, "small int written as text"));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
