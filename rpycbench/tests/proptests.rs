//! Property tests of the wire layer: arbitrary values and messages round-trip exactly,
//! the decoders accept only canonical bytes, and no input makes them panic.

use num_bigint::{BigInt, Sign};
use proptest::collection::vec;
use proptest::prelude::*;
use rpycbench::wire::{
    brine, Boxed, Compression, ExceptionPayload, FrameDecoder, FrameEncoder, IdPack, Limits, LARGE_FRAME,
};
use rpycbench::wire::{Message, RemoteException, Value};

/// Floats with the awkward cases over-represented: signed zeros, infinities, NaNs with
/// and without payloads and sign, subnormals.
fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => any::<f64>(),
        1 => Just(-0.0),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::NAN),
        1 => any::<u64>().prop_map(|m| f64::from_bits(0x7ff0_0000_0000_0001 | m)), // any NaN
        1 => any::<u64>().prop_map(|m| f64::from_bits(m & 0x800f_ffff_ffff_ffff)), // subnormal
    ]
}

/// Integers on both sides of every encoding boundary: the single-byte range, i64, the
/// 255/256-character INT_L1/INT_L4 switch, up to ~500 digits.
fn int() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-60i64..170).prop_map(Value::Int),
        any::<i64>().prop_map(Value::Int),
        any::<i128>().prop_map(Value::from),
        (any::<bool>(), vec(any::<u32>(), 1..55)).prop_map(|(neg, digits)| {
            let sign = if neg { Sign::Minus } else { Sign::Plus };
            // Normalized: a BigInt that fits an i64 becomes Value::Int, as decode does.
            Value::from(BigInt::from_slice(sign, &digits))
        }),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        Just(Value::Ellipsis),
        Just(Value::NotImplemented),
        any::<bool>().prop_map(Value::Bool),
        int(),
        float().prop_map(Value::Float),
        (float(), float()).prop_map(|(re, im)| Value::Complex(re, im)),
        vec(any::<u8>(), 0..300).prop_map(Value::from),
        any::<String>().prop_map(Value::Str),
        "[a-zé€😀\0\n'\"\\\\]{0,8}".prop_map(Value::Str),
    ]
}

/// Any value, nested at most 4 levels deep.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Value::Tuple),
            vec(inner.clone(), 0..6).prop_map(Value::FrozenSet),
            (inner.clone(), inner.clone(), inner).prop_map(|(a, b, c)| Value::slice(a, b, c)),
        ]
    })
}

fn id_pack() -> impl Strategy<Value = IdPack> {
    (any::<String>(), any::<i64>(), any::<i64>()).prop_map(|(n, c, o)| IdPack::new(n, c, o))
}

fn boxed() -> impl Strategy<Value = Boxed> {
    let leaf = prop_oneof![
        value().prop_map(Boxed::Value),
        id_pack().prop_map(Boxed::LocalRef),
        id_pack().prop_map(Boxed::RemoteRef),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| vec(inner, 0..6).prop_map(Boxed::Tuple))
}

fn message() -> impl Strategy<Value = Message> {
    let exception = (any::<String>(), any::<String>(), vec(value(), 0..3), vec((any::<String>(), value()), 0..3))
        .prop_flat_map(|(module, class, args, attrs)| {
            any::<String>().prop_map(move |traceback| {
                let (module, class, args, attrs) = (module.clone(), class.clone(), args.clone(), attrs.clone());
                ExceptionPayload::Raised(RemoteException { module, class, args, attrs, traceback })
            })
        });
    let payload = prop_oneof![1 => Just(ExceptionPayload::StopIteration), 3 => exception];
    prop_oneof![
        (any::<i64>(), any::<i64>(), boxed()).prop_map(|(seq, handler, args)| Message::Request { seq, handler, args }),
        (any::<i64>(), boxed()).prop_map(|(seq, value)| Message::Reply { seq, value }),
        (any::<i64>(), payload).prop_map(|(seq, payload)| Message::Exception { seq, payload }),
    ]
}

/// `same_as` for boxes: bit-exact floats.
fn boxed_same(a: &Boxed, b: &Boxed) -> bool {
    match (a, b) {
        (Boxed::Value(x), Boxed::Value(y)) => x.same_as(y),
        (Boxed::Tuple(x), Boxed::Tuple(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| boxed_same(p, q)),
        _ => a == b,
    }
}

fn values_same(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
}

fn message_same(a: &Message, b: &Message) -> bool {
    use ExceptionPayload::Raised;
    match (a, b) {
        (Message::Request { seq, handler, args }, Message::Request { seq: s, handler: h, args: g }) => {
            seq == s && handler == h && boxed_same(args, g)
        }
        (Message::Reply { seq, value }, Message::Reply { seq: s, value: v }) => seq == s && boxed_same(value, v),
        (Message::Exception { seq, payload: Raised(x) }, Message::Exception { seq: s, payload: Raised(y) }) => {
            let attrs = x.attrs.len() == y.attrs.len()
                && x.attrs.iter().zip(&y.attrs).all(|((k, v), (l, w))| k == l && v.same_as(w));
            seq == s
                && (&x.module, &x.class, &x.traceback) == (&y.module, &y.class, &y.traceback)
                && values_same(&x.args, &y.args)
                && attrs
        }
        _ => a == b,
    }
}

/// Valid encodings with a few bytes overwritten, dropped or cut off: noise that gets
/// past the first tag byte, unlike purely random input.
fn mutated(valid: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (valid, vec((any::<prop::sample::Index>(), any::<u8>()), 1..4), any::<prop::sample::Index>()).prop_map(
        |(mut bytes, edits, cut)| {
            for (at, b) in edits {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    if b % 3 == 0 {
                        bytes.remove(i);
                    } else {
                        bytes[i] = b;
                    }
                }
            }
            let keep = cut.index(bytes.len() + 8).min(bytes.len());
            bytes.truncate(keep);
            bytes
        },
    )
}

/// Short byte strings drawn mostly from tag bytes and small lengths, so that random
/// input forms headers (`0e 02 …`, `16 02 …`) far more often than uniform bytes would.
fn taggy() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![3 => 0u8..0x1c, 1 => 0x4e_u8..0x54, 1 => b'0'..=b'9', 1 => Just(b'-'), 1 => any::<u8>()];
    vec(byte, 0..16)
}

fn encoded_value() -> impl Strategy<Value = Vec<u8>> {
    value().prop_map(|v| brine::to_vec(&v).expect("generated values are encodable"))
}

fn encoded_message() -> impl Strategy<Value = Vec<u8>> {
    message().prop_map(|m| {
        let mut out = Vec::new();
        m.encode(&mut out).expect("generated messages are encodable");
        out
    })
}

const L: Limits = Limits::DEFAULT;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn value_roundtrips(v in value()) {
        let bytes = brine::to_vec(&v).unwrap();
        let back = brine::decode(&bytes, &L).unwrap();
        prop_assert!(back.same_as(&v), "{v:?} came back as {back:?}");
        prop_assert_eq!(back.repr(), v.repr());
    }

    #[test]
    fn long_tuples_roundtrip(items in vec(any::<i64>().prop_map(Value::Int), 254..258), frozen in any::<bool>()) {
        // Crosses the TUPLE_L1 / TUPLE_L4 boundary (255 / 256 elements).
        let v = if frozen { Value::FrozenSet(items) } else { Value::Tuple(items) };
        prop_assert!(brine::decode(&brine::to_vec(&v).unwrap(), &L).unwrap().same_as(&v));
    }

    #[test]
    fn message_roundtrips(m in message()) {
        let mut bytes = Vec::new();
        m.encode(&mut bytes).unwrap();
        let back = Message::decode(&bytes, &L).unwrap();
        prop_assert!(message_same(&back, &m), "{m:?} came back as {back:?}");
    }

    #[test]
    fn messages_accept_only_canonical_bytes(
        bytes in prop_oneof![vec(any::<u8>(), 0..64), taggy(), mutated(encoded_message())]
    ) {
        if let Ok(m) = Message::decode(&bytes, &L) {
            let mut again = Vec::new();
            m.encode(&mut again).unwrap();
            prop_assert_eq!(again, bytes);
        }
    }

    /// Frames of random payloads, sent with either policy, come back whole and in order
    /// however the stream is cut.
    #[test]
    fn frames_roundtrip_over_any_chunking(
        payloads in vec(prop_oneof![vec(any::<u8>(), 1..40), vec(0u8..4, 2990..3100)], 1..6),
        python in any::<bool>(),
        cuts in vec(1usize..200, 1..20),
    ) {
        let mut enc = FrameEncoder::new(if python { Compression::Python } else { Compression::Off });
        let mut stream = Vec::new();
        for p in &payloads {
            enc.payload().extend_from_slice(p);
            stream.extend_from_slice(enc.finish().unwrap());
        }
        let got = split(&stream, &cuts)?;
        prop_assert!(got.iter().map(|(p, _)| p).eq(payloads.iter()));
        for ((p, compressed), sent) in got.iter().zip(&payloads) {
            prop_assert_eq!(*compressed, python && sent.len() > 3000);
            prop_assert_eq!(p.len(), sent.len());
        }
    }

    /// Random bytes never panic the frame decoder, and what it yields (frames, then maybe
    /// an error) does not depend on how the bytes arrive.
    #[test]
    fn frame_decoder_is_chunking_invariant(
        stream in prop_oneof![vec(any::<u8>(), 0..200), mutated(Just(framed_sample()))],
        cuts in vec(1usize..50, 1..20),
    ) {
        let whole = split(&stream, &[usize::MAX]);
        let chunked = split(&stream, &cuts);
        prop_assert_eq!(whole.map_err(|e| e.to_string()), chunked.map_err(|e| e.to_string()));
    }
}

proptest! {
    // Each case moves up to 2 MB through the decoder: fewer cases.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Large frames (read in place and lent to values) among small ones come back whole
    /// and in order however the stream is cut, by a retaining decoder or not; and a lent
    /// frame a value still holds is never overwritten by the frames after it (its buffer
    /// is reused only once nothing holds it).
    #[test]
    fn large_frames_roundtrip_and_held_ones_stay_intact(
        sizes in vec(prop_oneof![1usize..64, LARGE_FRAME - 8..LARGE_FRAME + 70_000], 1..6),
        python in any::<bool>(),
        retaining in any::<bool>(),
        keep in vec(any::<bool>(), 6),
        cuts in vec(prop_oneof![1 => 1usize..100, 4 => 4096usize..200_000], 1..8),
    ) {
        // Each payload's bytes differ from every other's, so an overwrite shows.
        let payloads: Vec<Vec<u8>> =
            sizes.iter().enumerate().map(|(i, &n)| (0..n).map(|j| (j * 7 + i * 31 + 1) as u8).collect()).collect();
        let mut enc = FrameEncoder::new(if python { Compression::Python } else { Compression::Off });
        let mut stream = Vec::new();
        for p in &payloads {
            enc.payload().extend_from_slice(p);
            stream.extend_from_slice(enc.finish().unwrap());
        }
        let mut dec = if retaining { FrameDecoder::new(L).retaining() } else { FrameDecoder::new(L) };
        let (mut got, mut held, mut lent) = (Vec::new(), Vec::new(), 0);
        let mut rest = &stream[..];
        for &cut in cuts.iter().cycle() {
            let n = cut.min(rest.len());
            dec.push(&rest[..n]);
            rest = &rest[n..];
            while let Some(f) = dec.next_frame().map_err(|e| TestCaseError::fail(e.to_string()))? {
                lent += usize::from(f.shared.is_some());
                if let (Some(shared), true) = (f.shared, keep[got.len()]) {
                    held.push((got.len(), shared.slice_ref(f.payload)));
                }
                got.push(f.payload.to_vec());
            }
            if rest.is_empty() {
                break;
            }
        }
        prop_assert!(got == payloads, "frames differ");
        // The case exercised what it is about: plain large frames were lent.
        let large = sizes.iter().filter(|&&n| n + 6 >= LARGE_FRAME).count();
        prop_assert_eq!(lent, if python { 0 } else { large }, "frames lent");
        for (i, bytes) in &held {
            prop_assert!(bytes[..] == payloads[*i][..], "held frame {} was overwritten", i);
        }
    }
}

proptest! {
    // Noise is cheap to check, and a non-canonical header among random bytes is rare.
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// The decoder is strict: whatever it accepts is the canonical encoding of what it
    /// returns, so re-encoding gives the input back. Checked on the value starting at
    /// every offset (via `Reader`), so noise need not be exactly one value.
    #[test]
    fn brine_accepts_only_canonical_bytes(
        bytes in prop_oneof![1 => vec(any::<u8>(), 0..64), 4 => taggy(), 1 => mutated(encoded_value())]
    ) {
        for start in 0..bytes.len() {
            let mut r = brine::Reader::new(&bytes[start..], &L);
            if let Ok(v) = r.value() {
                prop_assert_eq!(&brine::to_vec(&v).unwrap()[..], &bytes[start..start + r.position()]);
            }
        }
        if let Ok(v) = brine::decode(&bytes, &L) {
            prop_assert_eq!(brine::to_vec(&v).unwrap(), bytes);
        }
    }
}

type Frames = Vec<(Vec<u8>, bool)>;

/// Feeds `stream` in pieces of the sizes in `cuts` (cycled) and collects the frames,
/// stopping at the first error. Each payload is also run through `Message::decode`,
/// which must not panic.
fn split(stream: &[u8], cuts: &[usize]) -> Result<Frames, TestCaseError> {
    let mut dec = FrameDecoder::new(L);
    let mut frames = Vec::new();
    let mut rest = stream;
    for &cut in cuts.iter().cycle() {
        let n = cut.min(rest.len());
        dec.push(&rest[..n]);
        rest = &rest[n..];
        loop {
            match dec.next_frame() {
                Ok(Some(f)) => {
                    let _ = Message::decode(f.payload, &L);
                    frames.push((f.payload.to_vec(), f.compressed));
                }
                Ok(None) => break,
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
        }
        if rest.is_empty() {
            return Ok(frames);
        }
    }
    unreachable!("cuts is never empty")
}

/// Three frames (a small request, a compressed one, another small one) to mutate.
fn framed_sample() -> Vec<u8> {
    let mut enc = FrameEncoder::new(Compression::Python);
    let mut out = Vec::new();
    for payload in [&b"\x01\x11\x50\x11\x53\x11\x51\x02"[..], &[0x02; 3500], b"\x02\x11\x51\x11\x51\x00"] {
        enc.payload().extend_from_slice(payload);
        out.extend_from_slice(enc.finish().unwrap());
    }
    out
}
