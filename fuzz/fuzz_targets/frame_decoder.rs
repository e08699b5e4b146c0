//! Arbitrary bytes as a stream of frames, pushed in pseudo-random chunks.
//!
//! The first input byte seeds the chunk sizes; the rest is the stream. The frames (or
//! the first error) must not depend on how the stream was split, so every run is
//! compared with a decoder fed the whole stream at once. Every payload then goes
//! through `Message::decode`, and an accepted message must re-encode byte for byte
//! (the decoder is strict, see `brine.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpycbench::wire::{FrameDecoder, FrameError, Limits, Message};

/// What a decoder produced: each frame's payload, flag and wire length, then the error
/// that stopped it, if any.
type Outcome = (Vec<(Vec<u8>, bool, usize)>, Option<FrameError>);

fn drain(dec: &mut FrameDecoder, out: &mut Outcome) -> bool {
    loop {
        match dec.next_frame() {
            Ok(Some(f)) => out.0.push((f.payload.to_vec(), f.compressed, f.wire_len)),
            Ok(None) => return true,
            Err(e) => {
                out.1 = Some(e);
                return false;
            }
        }
    }
}

fn decode(stream: &[u8], mut seed: u32) -> Outcome {
    let mut dec = FrameDecoder::new(Limits::DEFAULT);
    let mut out = (Vec::new(), None);
    let mut rest = stream;
    while !rest.is_empty() {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = (1 + (seed >> 16) as usize % 97).min(rest.len());
        dec.push(&rest[..n]);
        rest = &rest[n..];
        if !drain(&mut dec, &mut out) {
            return out;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else { return };
    let chunked = decode(stream, u32::from(seed));
    // usize::MAX chunk size: the whole stream in one push.
    let mut whole = FrameDecoder::new(Limits::DEFAULT);
    whole.push(stream);
    let mut at_once = (Vec::new(), None);
    drain(&mut whole, &mut at_once);
    assert_eq!(chunked, at_once, "frames depend on how the stream was split");

    for (payload, _, _) in &chunked.0 {
        if let Ok(msg) = Message::decode(payload, &Limits::DEFAULT) {
            let mut again = Vec::new();
            msg.encode(&mut again).expect("a decoded message must be encodable");
            assert_eq!(&again, payload, "non-canonical message accepted: {msg:?}");
        }
    }
});
