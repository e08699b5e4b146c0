//! Wire-layer micro-benchmarks: the message codec on typical small messages, brine on a
//! 1 MiB value, and the frame path with and without compression.
//!
//! Run with `cargo bench -p rpycbench --bench wire`. The allocation profiler adds the
//! number of allocations per iteration to the report: the steady-state receive path
//! (frame + message decode into reused buffers) should allocate only for the decoded
//! message's own strings, vectors and boxes.

use divan::counter::BytesCount;
use divan::{black_box, AllocProfiler, Bencher};
use rpycbench::wire::Value;
use rpycbench::wire::{brine, Boxed, Compression, FrameDecoder, FrameEncoder, Handler, IdPack, Limits, Message};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

const L: Limits = Limits::DEFAULT;

fn root() -> IdPack {
    IdPack::new("demo_service.DemoService", 93939687520304, 140191342890960)
}

/// `root.echo(1, "x", 2.5)` as one CALLATTR request, the shape a client sends most.
fn callattr() -> Message {
    let args = Boxed::Tuple(vec![
        Boxed::LocalRef(root()),
        Boxed::Value("echo".into()),
        Boxed::Value((1, "x", 2.5).into()),
        Boxed::Value(().into()),
    ]);
    Message::Request { seq: 42, handler: Handler::CallAttr as i64, args }
}

/// The server's answer to GETROOT: a reference to the service object.
fn getroot_reply() -> Message {
    Message::Reply { seq: 0, value: Boxed::RemoteRef(root()) }
}

fn encoded(m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    m.encode(&mut out).unwrap();
    out
}

fn framed(payload: &[u8], compression: Compression) -> Vec<u8> {
    let mut enc = FrameEncoder::new(compression);
    enc.payload().extend_from_slice(payload);
    enc.finish().unwrap().to_vec()
}

/// Somewhat compressible data, like the pattern and text payloads users send.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ (i / 4096) as u8).collect()
}

#[divan::bench_group]
mod message {
    use super::*;

    #[divan::bench]
    fn encode_callattr(bencher: Bencher) {
        let (m, mut out) = (callattr(), Vec::with_capacity(256));
        bencher.bench_local(|| {
            out.clear();
            black_box(&m).encode(&mut out).unwrap();
            out.len()
        });
    }

    #[divan::bench]
    fn decode_callattr(bencher: Bencher) {
        let bytes = encoded(&callattr());
        bencher.bench(|| Message::decode(black_box(&bytes), &L).unwrap());
    }

    #[divan::bench]
    fn encode_getroot_reply(bencher: Bencher) {
        let (m, mut out) = (getroot_reply(), Vec::with_capacity(256));
        bencher.bench_local(|| {
            out.clear();
            black_box(&m).encode(&mut out).unwrap();
            out.len()
        });
    }

    #[divan::bench]
    fn decode_getroot_reply(bencher: Bencher) {
        let bytes = encoded(&getroot_reply());
        bencher.bench(|| Message::decode(black_box(&bytes), &L).unwrap());
    }
}

#[divan::bench_group]
mod brine_1mib {
    use super::*;

    const LEN: usize = 1 << 20;

    #[divan::bench]
    fn encode(bencher: Bencher) {
        let (v, mut out) = (Value::from(pattern(LEN)), Vec::with_capacity(LEN + 16));
        bencher.counter(BytesCount::new(LEN)).bench_local(|| {
            out.clear();
            brine::encode(black_box(&v), &mut out).unwrap();
            out.len()
        });
    }

    #[divan::bench]
    fn decode(bencher: Bencher) {
        let bytes = brine::to_vec(&Value::from(pattern(LEN))).unwrap();
        bencher.counter(BytesCount::new(LEN)).bench(|| brine::decode(black_box(&bytes), &L).unwrap());
    }
}

#[divan::bench_group]
mod frame {
    use super::*;

    /// Receive path of one small frame: split it off the stream, then decode the
    /// message. Decoder buffers are reused, as on a connection.
    #[divan::bench]
    fn decode_small_callattr(bencher: Bencher) {
        let wire = framed(&encoded(&callattr()), Compression::Off);
        let mut dec = FrameDecoder::new(L);
        bencher.counter(BytesCount::new(wire.len())).bench_local(|| {
            dec.push(black_box(&wire));
            let f = dec.next_frame().unwrap().unwrap();
            Message::decode(f.payload, &L).unwrap()
        });
    }

    /// Send path of one small frame: encode the message into the reused frame buffer.
    #[divan::bench]
    fn encode_small_callattr(bencher: Bencher) {
        let (m, mut enc) = (callattr(), FrameEncoder::new(Compression::Python));
        bencher.bench_local(|| {
            black_box(&m).encode(enc.payload()).unwrap();
            enc.finish().unwrap().len()
        });
    }

    const BIG: usize = 64 << 10;

    /// A 64 KiB payload through zlib level 1 and back, both buffers reused.
    #[divan::bench]
    fn roundtrip_compressed_64k(bencher: Bencher) {
        let payload = pattern(BIG);
        let (mut enc, mut dec) = (FrameEncoder::new(Compression::Python), FrameDecoder::new(L));
        bencher.counter(BytesCount::new(BIG)).bench_local(|| {
            enc.payload().extend_from_slice(black_box(&payload));
            dec.push(enc.finish().unwrap());
            dec.next_frame().unwrap().unwrap().payload.len()
        });
    }

    #[divan::bench]
    fn encode_compressed_64k(bencher: Bencher) {
        let payload = pattern(BIG);
        let mut enc = FrameEncoder::new(Compression::Python);
        bencher.counter(BytesCount::new(BIG)).bench_local(|| {
            enc.payload().extend_from_slice(black_box(&payload));
            enc.finish().unwrap().len()
        });
    }

    #[divan::bench]
    fn decode_compressed_64k(bencher: Bencher) {
        let wire = framed(&pattern(BIG), Compression::Python);
        let mut dec = FrameDecoder::new(L);
        bencher.counter(BytesCount::new(BIG)).bench_local(|| {
            dec.push(black_box(&wire));
            dec.next_frame().unwrap().unwrap().payload.len()
        });
    }
}
