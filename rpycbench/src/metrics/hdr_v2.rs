//! HdrHistogram's V2 interchange format, deflated: how results store a latency
//! distribution whole (base64 in the JSON), readable by every HdrHistogram
//! implementation.
//!
//! Written and read here rather than through the `hdrhistogram` crate's
//! `serialization` feature, which would put a parser framework (nom) and a second
//! deflate implementation (miniz_oxide, beside the C zlib the wire already links) into
//! every downstream `cargo test`. The format is small and frozen: a 40-byte big-endian
//! header, then one zig-zag LEB128 number per bucket index (a negative number is a run
//! of empty buckets), the whole wrapped in a zlib stream behind an 8-byte header.
//! Tests check both directions against the crate's own serializer (a dev-dependency).
//!
//! Reading is bounded: a stored histogram comes from a file a user (or an attacker)
//! hands us, so every length is checked against what is really there and the inflated
//! size is capped, unlike the crate's reader, which allocates what the header says.

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use hdrhistogram::Histogram;
use std::io::{Read, Write};

/// The uncompressed V2 encoding. The `0x10` is the word-size nibble that the Java
/// original (and the Rust crate) write; readers ignore it (`cookie_kind`).
const V2_COOKIE: u32 = 0x1c84_9313;
/// The deflated V2 encoding, wrapping an uncompressed one.
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
const V2_HEADER_LEN: usize = 40;
/// The most an inflated histogram may take: ours (1 ns … 1 h, 3 digits) needs at most
/// 9 bytes for each of its 33,792 buckets, about 300 KiB.
const MAX_INFLATED: u64 = 4 << 20;

/// Why bytes are not a V2 histogram we can read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum V2Error {
    #[error("not an HdrHistogram V2 encoding (cookie {0:#010x})")]
    Cookie(u32),
    #[error("truncated: {0}")]
    Truncated(&'static str),
    #[error("the deflated histogram inflates past {MAX_INFLATED} bytes")]
    TooLarge,
    #[error("cannot inflate: {0}")]
    Inflate(std::io::Error),
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    #[error("invalid parameters: lowest {low}, highest {high}, {digits} significant digits")]
    Parameters { low: u64, high: u64, digits: u32 },
    #[error("bucket {0} is beyond any 64-bit value")]
    Index(u64),
    #[error("a value of {value} does not fit the histogram: {reason}")]
    Record { value: u64, reason: String },
}

/// Where each value goes: HdrHistogram's bucket arithmetic, for the parameters a
/// histogram was created with (the crate keeps its own private).
#[derive(Clone, Copy, Debug)]
struct Layout {
    unit_magnitude: u32,
    sub_bucket_half_count_magnitude: u32,
    sub_bucket_mask: u64,
    leading_zero_count_base: u32,
}

impl Layout {
    /// `None` where `Histogram::new_with_bounds` would refuse the same parameters.
    fn new(low: u64, high: u64, digits: u32) -> Option<Layout> {
        if !(1..=u64::MAX / 2).contains(&low) || high < 2 * low || digits > 5 {
            return None;
        }
        let largest = 2 * 10u64.pow(digits);
        let sub_bucket_count_magnitude = 64 - (largest - 1).leading_zeros(); // ceil(log2)
        let unit_magnitude = 63 - low.leading_zeros(); // floor(log2)
        if unit_magnitude + sub_bucket_count_magnitude > 63 {
            return None;
        }
        Some(Layout {
            unit_magnitude,
            sub_bucket_half_count_magnitude: sub_bucket_count_magnitude - 1,
            sub_bucket_mask: ((1u64 << sub_bucket_count_magnitude) - 1) << unit_magnitude,
            leading_zero_count_base: 64 - unit_magnitude - sub_bucket_count_magnitude,
        })
    }

    fn of(h: &Histogram<u64>) -> Layout {
        // A histogram exists only with parameters new_with_bounds accepted, the same
        // checks as Layout::new's.
        Layout::new(h.low(), h.high(), u32::from(h.sigfig())).expect("a histogram's own parameters are valid")
    }

    fn index_for(&self, value: u64) -> u64 {
        let bucket = self.leading_zero_count_base - (value | self.sub_bucket_mask).leading_zeros();
        let sub_bucket = value >> (bucket + self.unit_magnitude);
        let half = 1u64 << self.sub_bucket_half_count_magnitude;
        // Bucket 0 uses its lower half too, so the subtraction below stays non-negative.
        ((u64::from(bucket) + 1) << self.sub_bucket_half_count_magnitude) + sub_bucket - half
    }

    /// The lowest value of bucket `index`, or `None` past `u64::MAX`.
    fn value_for(&self, index: u64) -> Option<u64> {
        let half = 1u64 << self.sub_bucket_half_count_magnitude;
        let (bucket, sub_bucket) = match (index >> self.sub_bucket_half_count_magnitude).checked_sub(1) {
            Some(bucket) => (bucket, (index & (half - 1)) + half),
            None => (0, index & (half - 1)),
        };
        let shift = bucket.checked_add(u64::from(self.unit_magnitude)).filter(|&s| s < 64)?;
        let value = sub_bucket << shift;
        (value >> shift == sub_bucket).then_some(value)
    }
}

/// `h` as deflated V2 bytes.
pub(crate) fn encode(h: &Histogram<u64>) -> Vec<u8> {
    let layout = Layout::of(h);
    let mut plain = Vec::with_capacity(V2_HEADER_LEN + 64);
    plain.extend_from_slice(&V2_COOKIE.to_be_bytes());
    plain.extend_from_slice(&0u32.to_be_bytes()); // the counts' length, set below
    plain.extend_from_slice(&0u32.to_be_bytes()); // normalizing index offset
    plain.extend_from_slice(&u32::from(h.sigfig()).to_be_bytes());
    plain.extend_from_slice(&h.low().to_be_bytes());
    plain.extend_from_slice(&h.high().to_be_bytes());
    plain.extend_from_slice(&1.0f64.to_be_bytes()); // integer-to-double ratio
    let mut next = 0u64;
    for v in h.iter_recorded() {
        let index = layout.index_for(v.value_iterated_to());
        // As the reference encoder: one empty bucket is a count of 0, more are a run.
        match index - next {
            0 => {}
            1 => write_varint(&mut plain, zig_zag(0)),
            run => write_varint(&mut plain, zig_zag(-(run as i64))),
        }
        write_varint(&mut plain, zig_zag(v.count_at_value() as i64));
        next = index + 1;
    }
    if next == 0 {
        // Empty: the reference writes the one bucket up to its max (0).
        write_varint(&mut plain, 0);
    }
    let counts_len = (plain.len() - V2_HEADER_LEN) as u32;
    plain[4..8].copy_from_slice(&counts_len.to_be_bytes());

    let mut deflated = ZlibEncoder::new(Vec::with_capacity(plain.len() / 2 + 16), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = deflated.write_all(&plain);
    let body = deflated.finish().unwrap_or_default();
    let mut out = Vec::with_capacity(8 + body.len());
    out.extend_from_slice(&V2_COMPRESSED_COOKIE.to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Adds every value of the V2 histogram in `bytes` (deflated or not) to `into`, each as
/// the lowest value of its bucket, as `Histogram::add` does.
pub(crate) fn decode_into(bytes: &[u8], into: &mut Histogram<u64>) -> Result<(), V2Error> {
    let (cookie, rest) = take_u32(bytes, "cookie")?;
    match cookie_kind(cookie) {
        V2_COOKIE => decode_plain(rest, into),
        V2_COMPRESSED_COOKIE => {
            let (len, rest) = take_u32(rest, "deflated length")?;
            let body = rest.get(..len as usize).ok_or(V2Error::Truncated("deflated body"))?;
            let mut plain = Vec::new();
            ZlibDecoder::new(body).take(MAX_INFLATED + 1).read_to_end(&mut plain).map_err(V2Error::Inflate)?;
            if plain.len() as u64 > MAX_INFLATED {
                return Err(V2Error::TooLarge);
            }
            match take_u32(&plain, "inner cookie")? {
                (inner, rest) if cookie_kind(inner) == V2_COOKIE => decode_plain(rest, into),
                (other, _) => Err(V2Error::Cookie(other)),
            }
        }
        other => Err(V2Error::Cookie(other)),
    }
}

/// The uncompressed encoding after its cookie.
fn decode_plain(bytes: &[u8], into: &mut Histogram<u64>) -> Result<(), V2Error> {
    let (counts_len, rest) = take_u32(bytes, "counts length")?;
    let (offset, rest) = take_u32(rest, "normalizing offset")?;
    let (digits, rest) = take_u32(rest, "significant digits")?;
    let (low, rest) = take_u64(rest, "lowest value")?;
    let (high, rest) = take_u64(rest, "highest value")?;
    let (ratio, rest) = take_u64(rest, "conversion ratio")?;
    if offset != 0 {
        return Err(V2Error::Unsupported("a normalizing index offset"));
    }
    if f64::from_bits(ratio) != 1.0 {
        return Err(V2Error::Unsupported("a double histogram's conversion ratio"));
    }
    let layout = Layout::new(low, high, digits).ok_or(V2Error::Parameters { low, high, digits })?;
    let mut counts = rest.get(..counts_len as usize).ok_or(V2Error::Truncated("counts"))?;
    let mut index = 0u64;
    while !counts.is_empty() {
        let n = unzig_zag(read_varint(&mut counts)?);
        if n < 0 {
            index = index.checked_add(n.unsigned_abs()).ok_or(V2Error::Index(u64::MAX))?;
            continue;
        }
        if n > 0 {
            let value = layout.value_for(index).ok_or(V2Error::Index(index))?;
            into.record_n(value, n as u64).map_err(|e| V2Error::Record { value, reason: format!("{e:?}") })?;
        }
        index += 1;
    }
    Ok(())
}

/// The cookie with its word-size nibble as we write it, as the Java reader compares.
fn cookie_kind(cookie: u32) -> u32 {
    (cookie & !0xf0) | 0x10
}

fn take_u32<'a>(b: &'a [u8], what: &'static str) -> Result<(u32, &'a [u8]), V2Error> {
    let (head, rest) = b.split_first_chunk::<4>().ok_or(V2Error::Truncated(what))?;
    Ok((u32::from_be_bytes(*head), rest))
}

fn take_u64<'a>(b: &'a [u8], what: &'static str) -> Result<(u64, &'a [u8]), V2Error> {
    let (head, rest) = b.split_first_chunk::<8>().ok_or(V2Error::Truncated(what))?;
    Ok((u64::from_be_bytes(*head), rest))
}

fn zig_zag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzig_zag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// LEB128 as HdrHistogram writes it: seven bits per byte for the first eight bytes, and
/// a ninth byte, if reached, carries the top eight bits whole.
fn write_varint(out: &mut Vec<u8>, mut n: u64) {
    for _ in 0..8 {
        if n < 0x80 {
            out.push(n as u8);
            return;
        }
        out.push(0x80 | (n & 0x7f) as u8);
        n >>= 7;
    }
    out.push(n as u8);
}

fn read_varint(b: &mut &[u8]) -> Result<u64, V2Error> {
    let mut n = 0u64;
    for i in 0..9 {
        let (&byte, rest) = b.split_first().ok_or(V2Error::Truncated("a count"))?;
        *b = rest;
        if i == 8 {
            return Ok(n | u64::from(byte) << 56);
        }
        n |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok(n);
        }
    }
    unreachable!("the ninth byte returns")
}

#[cfg(test)]
#[path = "hdr_v2_tests.rs"]
mod tests;
