//! The codec against the `hdrhistogram` crate's own V2 serializer and reader (its
//! `serialization` feature is on for this crate's tests only).

use super::*;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer, V2Serializer};
use proptest::prelude::*;

fn ours() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).unwrap()
}

fn inflate(ours: &[u8]) -> Vec<u8> {
    let len = u32::from_be_bytes(ours[4..8].try_into().unwrap()) as usize;
    assert_eq!(len, ours.len() - 8, "the deflated length covers the rest");
    let mut plain = Vec::new();
    ZlibDecoder::new(&ours[8..]).read_to_end(&mut plain).unwrap();
    plain
}

fn reference_plain(h: &Histogram<u64>) -> Vec<u8> {
    let mut bytes = Vec::new();
    V2Serializer::new().serialize(h, &mut bytes).unwrap();
    bytes
}

/// Values of every magnitude, with repeats (counts above one) and gaps of one bucket.
fn values() -> impl Strategy<Value = Vec<(u64, u64)>> {
    let value = prop_oneof![1u64..3000, 1u64..1_000_000, 1u64..3_600_000_000_000, Just(1), Just(3_600_000_000_000)];
    proptest::collection::vec((value, 1u64..1000), 0..200)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn encodes_exactly_the_reference_bytes_and_reads_back(values in values()) {
        let mut h = ours();
        for (v, n) in values {
            h.record_n(v, n).unwrap();
        }
        let encoded = encode(&h);
        prop_assert_eq!(inflate(&encoded), reference_plain(&h));
        let theirs: Histogram<u64> = Deserializer::new().deserialize(&mut encoded.as_slice()).unwrap();
        prop_assert_eq!(&theirs, &h);
        let mut back = ours();
        decode_into(&encoded, &mut back).unwrap();
        prop_assert_eq!(&back, &h);
        prop_assert_eq!((back.min(), back.max(), back.len()), (h.min(), h.max(), h.len()));
    }

    #[test]
    fn reads_what_the_reference_writes(values in values()) {
        let mut h = ours();
        for (v, n) in values {
            h.record_n(v, n).unwrap();
        }
        let mut theirs = Vec::new();
        V2DeflateSerializer::new().serialize(&h, &mut theirs).unwrap();
        let mut back = ours();
        decode_into(&theirs, &mut back).unwrap();
        prop_assert_eq!(&back, &h);
        let mut back = ours();
        decode_into(&reference_plain(&h), &mut back).unwrap();
        prop_assert_eq!(&back, &h);
    }

    /// Another implementation's parameters: read into ours as `Histogram::add` would.
    #[test]
    fn reads_other_parameters_as_add_does(
        low in 1u64..5000, digits in 0u8..=5, values in proptest::collection::vec(1u64..1_000_000_000, 0..100),
    ) {
        let mut foreign = Histogram::<u64>::new_with_bounds(low, 1_000_000_000_000, digits).unwrap();
        for v in values {
            foreign.record(v.max(low)).unwrap();
        }
        let mut bytes = Vec::new();
        V2DeflateSerializer::new().serialize(&foreign, &mut bytes).unwrap();
        let mut expected = ours();
        expected.add(&foreign).unwrap();
        let mut back = ours();
        decode_into(&bytes, &mut back).unwrap();
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn arbitrary_bytes_are_an_error_or_a_histogram_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_into(&bytes, &mut ours());
    }

    /// A valid header followed by arbitrary counts.
    #[test]
    fn arbitrary_counts_never_panic(counts in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut plain = reference_plain(&ours());
        plain.truncate(V2_HEADER_LEN);
        plain[4..8].copy_from_slice(&(counts.len() as u32).to_be_bytes());
        plain.extend_from_slice(&counts);
        let _ = decode_into(&plain, &mut ours());
    }
}

#[test]
fn layout_agrees_with_the_crate_on_every_bucket_boundary() {
    for (low, digits) in [(1, 3), (1, 0), (1, 5), (1000, 2), (1 << 20, 4)] {
        let h = Histogram::<u64>::new_with_bounds(low, u64::MAX / 4, digits).unwrap();
        let layout = Layout::of(&h);
        let mut v = low;
        while v < u64::MAX / 8 {
            let i = layout.index_for(v);
            assert_eq!(layout.value_for(i), Some(h.lowest_equivalent(v)), "low {low}, {digits} digits, at {v}");
            assert_eq!(layout.index_for(h.next_non_equivalent(v)), i + 1, "low {low}, {digits} digits, at {v}");
            v = v.saturating_add(v / 7 + 1);
        }
    }
}

#[test]
fn an_empty_histogram_round_trips() {
    let encoded = encode(&ours());
    assert_eq!(inflate(&encoded), reference_plain(&ours()));
    let mut back = ours();
    decode_into(&encoded, &mut back).unwrap();
    assert!(back.is_empty());
}

#[test]
fn every_truncation_is_an_error() {
    let mut h = ours();
    for v in [1, 7, 900, 5_000, 1_000_000, 3_000_000_000] {
        h.record(v).unwrap();
    }
    for bytes in [encode(&h), reference_plain(&h)] {
        for cut in 0..bytes.len() {
            assert!(decode_into(&bytes[..cut], &mut ours()).is_err(), "cut at {cut} of {}", bytes.len());
        }
    }
}

#[test]
fn lengths_that_lie_are_errors_not_allocations() {
    let mut plain = reference_plain(&ours());
    plain[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(decode_into(&plain, &mut ours()), Err(V2Error::Truncated("counts"))));
    let mut deflated = encode(&ours());
    deflated[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(decode_into(&deflated, &mut ours()), Err(V2Error::Truncated("deflated body"))));
}

#[test]
fn a_deflate_bomb_is_refused() {
    let mut plain = reference_plain(&ours());
    plain.truncate(V2_HEADER_LEN);
    let zeros = vec![0u8; (MAX_INFLATED as usize) * 2];
    plain[4..8].copy_from_slice(&(zeros.len() as u32).to_be_bytes());
    plain.extend_from_slice(&zeros);
    let mut deflater = ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    deflater.write_all(&plain).unwrap();
    let body = deflater.finish().unwrap();
    assert!(body.len() < 64 << 10, "a bomb: {} bytes inflate to {}", body.len(), plain.len());
    let mut bomb = V2_COMPRESSED_COOKIE.to_be_bytes().to_vec();
    bomb.extend_from_slice(&(body.len() as u32).to_be_bytes());
    bomb.extend_from_slice(&body);
    assert!(matches!(decode_into(&bomb, &mut ours()), Err(V2Error::TooLarge)));
}

#[test]
fn values_past_the_histogram_are_errors() {
    let mut wide = Histogram::<u64>::new_with_bounds(1, u64::MAX / 2, 3).unwrap();
    wide.record(u64::MAX / 4).unwrap();
    let err = decode_into(&encode(&wide), &mut ours()).unwrap_err();
    assert!(matches!(err, V2Error::Record { .. }), "{err}");
}

#[test]
fn varints_match_the_reference_at_every_length() {
    for shift in 0..64 {
        for n in [1u64 << shift, (1u64 << shift) - 1, u64::MAX >> shift] {
            let mut out = Vec::new();
            write_varint(&mut out, n);
            assert!(out.len() <= 9);
            assert_eq!(read_varint(&mut out.as_slice()).unwrap(), n, "{n:#x}");
            assert_eq!(unzig_zag(zig_zag(n as i64)), n as i64);
        }
    }
}
