//! Brine's strict decoder: a cursor that charges every allocation to a memory budget.

use super::{tag, MAX_INT_DIGITS};
use crate::wire::error::DecodeError;
use crate::wire::{Limits, Value};
use bytes::Bytes;
use num_bigint::BigInt;

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
                Value::Str(crate::wire::spare::owned(text))
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
