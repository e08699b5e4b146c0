//! Frames (PROTOCOL.md §3): `u32be length | u8 compressed | body | 0x0a`.
//!
//! Both directions reuse their buffers across frames, so a connection's steady state
//! allocates nothing per frame: [`FrameEncoder`] builds the payload in place behind a
//! reserved header; [`FrameDecoder`](super::FrameDecoder) (in `frame_decoder`) splits
//! the received stream.
//!
//! A large `bytes` value is not copied into the frame buffer: the payload keeps a
//! reference to it, and [`FrameParts::write_to`] sends the buffer's pieces and the
//! value from where they lie, in one vectored write.

use super::brine::{sealed::SinkVec, Sink};
use super::error::FrameError;
use bytes::Bytes;
use flate2::{Compress, FlushCompress, Status};
use std::io::{self, IoSlice, Write};
use std::ops::Deref;

/// Bytes before the body: the 4-byte length and the compression flag.
pub const HEADER_LEN: usize = 5;
/// The filler byte Python appends to every frame (and ignores on receipt).
pub(crate) const FILLER: u8 = 0x0a;
/// Python compresses payloads strictly larger than this many bytes.
pub const PYTHON_COMPRESSION_THRESHOLD: usize = 3000;

/// A decoder that is not told when its connection idles gives back buffers larger than
/// this once the frame they held is done with: large enough that the 1 and 10 MiB
/// transfers benchmarks repeat do not allocate afresh each time, small enough that an
/// idle connection pins little. (A [`Connection`](crate::client::Connection) keeps its
/// buffers while traffic flows and releases them when it idles.)
pub(crate) const RETAINED: usize = 16 << 20;

/// What an idle encoder keeps: room for every ordinary request and reply.
const KEPT_WHEN_IDLE: usize = 64 << 10;

/// `bytes` values at least this large are sent from where they lie instead of being
/// copied into an uncompressed frame's buffer. Below it, copying costs less than
/// keeping the pieces apart (64 KiB copy in a few microseconds).
pub const SHARED_MIN: usize = 64 << 10;

/// What to do with large payloads on send. Written `off` and `python` on command lines
/// and in results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Never compress: cheapest for the sender, always accepted by Python.
    #[default]
    Off,
    /// Python's rule: zlib level 1 for payloads over 3000 bytes. The crate deflates
    /// with the C zlib, as CPython does, so a compressed body holds the very bytes
    /// `zlib.compress(payload, 1)` returns in Python (tests/compression.rs).
    Python,
}

impl Compression {
    /// `off` or `python`, as command lines and results write it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Off => "off",
            Compression::Python => "python",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A frame's payload under construction (behind its header's reserved bytes): a byte
/// vector it dereferences to, plus the large `bytes` values it sends from where they lie
/// (see [`SHARED_MIN`]). Encode into it with [`brine::encode`](super::brine::encode).
///
/// It is appended to, never edited: the shared values are recorded at positions in the
/// vector, which an insert or a truncate would silently move.
///
/// ```compile_fail
/// let mut enc = rpycbench::wire::FrameEncoder::new(rpycbench::wire::Compression::Off);
/// enc.payload().truncate(0); // no `DerefMut`: the payload is append-only
/// ```
pub struct FramePayload {
    buf: Vec<u8>,
    /// `(at, value)`: `value` goes on the wire after `buf[..at]`, in order of `at`.
    shared: Vec<(usize, Bytes)>,
    /// The bytes of `shared`, summed.
    shared_len: usize,
    /// Whether large values may be shared: not when the payload will be compressed.
    sharing: bool,
}

impl FramePayload {
    /// The payload's length so far, with its header's reserved bytes (as `len()` counts
    /// them) and the shared values' bytes.
    pub fn total_len(&self) -> usize {
        self.buf.len() + self.shared_len
    }

    fn clear(&mut self) {
        self.buf.truncate(HEADER_LEN);
        self.shared.clear();
        self.shared_len = 0;
    }

    /// Copies the shared values into the buffer (for a frame that must be one slice:
    /// compressed, or shown to an observer), building it in `spare` and keeping the old
    /// buffer there, so a run of large observed frames reuses both instead of faulting
    /// in fresh pages for each.
    fn flatten(&mut self, spare: &mut Vec<u8>) {
        if self.shared.is_empty() {
            return;
        }
        spare.clear();
        let total = self.total_len() + 1;
        if spare.capacity() < total {
            spare.reserve_exact(total);
            super::pages::advise_huge_pages(spare.as_ptr(), spare.capacity());
        }
        let mut from = 0;
        for (at, value) in self.shared.drain(..) {
            spare.extend_from_slice(&self.buf[from..at]);
            spare.extend_from_slice(&value);
            from = at;
        }
        spare.extend_from_slice(&self.buf[from..]);
        std::mem::swap(&mut self.buf, spare);
        self.shared_len = 0;
    }

    /// Appends `bytes`.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Appends one byte.
    pub fn push(&mut self, byte: u8) {
        self.buf.push(byte);
    }
}

impl Deref for FramePayload {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

// Append-only from outside: no `DerefMut`, and `Sink`'s vector is sealed, since `shared`
// holds positions in `buf` that an insert or a truncate would silently invalidate.
impl Sink for FramePayload {}

impl SinkVec for FramePayload {
    fn vec(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    fn bytes_body(&mut self, b: &Bytes) {
        if self.sharing && b.len() >= SHARED_MIN {
            self.shared.push((self.buf.len(), b.clone()));
            self.shared_len += b.len();
        } else {
            super::brine::append_bytes(b, &mut self.buf);
        }
    }
}

/// A finished frame as the pieces it is written from: the frame buffer, with the large
/// `bytes` values it shares between its pieces (see [`FrameEncoder::finish_parts`]).
#[derive(Clone, Copy)]
pub struct FrameParts<'a> {
    buf: &'a [u8],
    shared: &'a [(usize, Bytes)],
    len: usize,
}

impl<'a> FrameParts<'a> {
    /// The frame's length on the wire.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the frame has no bytes (never: a frame has at least its header).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The frame buffer: the whole frame when it shares no value (as
    /// [`FrameEncoder::finish`] makes it), else the bytes around the shared values.
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }

    /// The frame's pieces in wire order (empty ones included).
    pub fn pieces(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let (buf, shared) = (self.buf, self.shared);
        let ends = shared.iter().map(|(at, _)| *at).chain(std::iter::once(buf.len()));
        let starts = std::iter::once(0).chain(shared.iter().map(|(at, _)| *at));
        let values = shared.iter().map(|(_, v)| Some(&v[..])).chain(std::iter::once(None));
        starts.zip(ends).zip(values).flat_map(move |((from, to), value)| std::iter::once(&buf[from..to]).chain(value))
    }

    /// Writes the frame to `w`: one `write_all` of the buffer when it shares nothing,
    /// else vectored writes of its pieces until every byte is written (a write may take
    /// any part of them; an interrupted one is retried).
    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> io::Result<()> {
        if self.shared.is_empty() {
            return w.write_all(self.buf);
        }
        let mut slices: smallvec::SmallVec<[IoSlice<'_>; 8]> = self.pieces().map(IoSlice::new).collect();
        let mut rest = &mut slices[..];
        IoSlice::advance_slices(&mut rest, 0);
        while !rest.is_empty() {
            match w.write_vectored(rest) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "failed to write the whole frame")),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<'a> From<&'a [u8]> for FrameParts<'a> {
    /// A frame in one slice.
    fn from(frame: &'a [u8]) -> FrameParts<'a> {
        FrameParts { buf: frame, shared: &[], len: frame.len() }
    }
}

/// Builds frames in a reusable buffer.
///
/// ```
/// use rpycbench::wire::{FrameEncoder, Compression};
/// let mut enc = FrameEncoder::new(Compression::Off);
/// enc.payload().extend_from_slice(&[0x01, 0x11, 0x50, 0x11, 0x53, 0x11, 0x51, 0x02]);
/// let frame = enc.finish().unwrap();
/// assert_eq!(frame, [0, 0, 0, 8, 0, 1, 0x11, 0x50, 0x11, 0x53, 0x11, 0x51, 2, 0x0a]);
/// ```
pub struct FrameEncoder {
    buf: FramePayload,
    scratch: Vec<u8>,
    compression: Compression,
    zlib: Option<Compress>,
    finished: bool,
}

impl FrameEncoder {
    /// An encoder that compresses according to `compression`.
    pub fn new(compression: Compression) -> Self {
        let buf = FramePayload {
            buf: Vec::with_capacity(256),
            shared: Vec::new(),
            shared_len: 0,
            sharing: compression == Compression::Off,
        };
        let mut enc = FrameEncoder { buf, scratch: Vec::new(), compression, zlib: None, finished: false };
        enc.buf.buf.resize(HEADER_LEN, 0);
        enc
    }

    /// The compression policy in force.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The payload under construction: append the message bytes here (it dereferences
    /// to a `Vec<u8>`; [`brine::encode`](super::brine::encode) into it shares large
    /// `bytes` values instead of copying them).
    pub fn payload(&mut self) -> &mut FramePayload {
        if self.finished {
            self.clear();
        }
        &mut self.buf
    }

    /// Discards a payload under construction (after an encoding error).
    pub fn reset(&mut self) {
        self.clear();
    }

    /// Completes the frame and returns its bytes, in one slice (the values the payload
    /// shares are copied into it: [`finish_parts`](Self::finish_parts) avoids that);
    /// the next payload starts afresh.
    pub fn finish(&mut self) -> Result<&[u8], FrameError> {
        self.buf.flatten(&mut self.scratch);
        Ok(self.finish_parts()?.buf)
    }

    /// Completes the frame and returns it as its pieces, to write with
    /// [`FrameParts::write_to`]; the next payload starts afresh.
    pub fn finish_parts(&mut self) -> Result<FrameParts<'_>, FrameError> {
        let payload_len = self.buf.total_len() - HEADER_LEN;
        if payload_len == 0 {
            return Err(FrameError::Empty);
        }
        let compressed = self.compression == Compression::Python && payload_len > PYTHON_COMPRESSION_THRESHOLD;
        if compressed {
            // A compressing encoder never shares (`sharing` is fixed with its compression).
            debug_assert!(self.buf.shared.is_empty());
            self.deflate_in_place()?;
        }
        let body_len = self.buf.total_len() - HEADER_LEN;
        let len = u32::try_from(body_len)
            .map_err(|_| FrameError::TooLarge { len: body_len as u64, limit: u64::from(u32::MAX) })?;
        self.buf.buf[..4].copy_from_slice(&len.to_be_bytes());
        self.buf.buf[4] = u8::from(compressed);
        self.buf.push(FILLER);
        self.finished = true;
        Ok(FrameParts { buf: &self.buf.buf, shared: &self.buf.shared, len: self.buf.total_len() })
    }

    /// Prepares the buffer for the next payload (done by [`payload`](Self::payload)
    /// after a finished frame); lets go of the values the last frame shared.
    fn clear(&mut self) {
        self.finished = false;
        self.buf.clear();
    }

    /// Bytes of memory the encoder keeps for the frames to come.
    pub fn retained(&self) -> usize {
        self.buf.capacity() + self.scratch.capacity()
    }

    /// Gives back what large frames grew, unless a payload is under construction.
    ///
    /// The buffers are kept between frames, so a run of 100 MB replies reuses memory
    /// the first one touched instead of faulting in fresh pages for each (the kernel
    /// zeroing them cost more than the copy into them); a connection calls this once it
    /// goes idle, so a 100 MB reply does not pin 100 MB for the connection's lifetime.
    pub fn release_buffers(&mut self) {
        if self.finished || self.buf.len() == HEADER_LEN {
            self.clear();
            self.buf.buf.shrink_to(KEPT_WHEN_IDLE);
            self.buf.shared = Vec::new();
            self.scratch = Vec::new();
        }
    }

    fn deflate_in_place(&mut self) -> Result<(), FrameError> {
        let zlib = self.zlib.get_or_insert_with(|| Compress::new(flate2::Compression::new(1), true));
        zlib.reset();
        self.scratch.clear();
        let input = &self.buf[HEADER_LEN..];
        self.scratch.reserve(input.len() / 2 + 64);
        loop {
            let consumed = zlib.total_in() as usize;
            let status = zlib
                .compress_vec(&input[consumed..], &mut self.scratch, FlushCompress::Finish)
                .map_err(|e| FrameError::Zlib(e.to_string()))?;
            if status == Status::StreamEnd {
                break;
            }
            self.scratch.reserve(self.scratch.capacity().max(4096));
        }
        self.buf.buf.truncate(HEADER_LEN);
        self.buf.extend_from_slice(&self.scratch);
        Ok(())
    }
}

/// A decoded frame: its payload (inflated if it was compressed) and how it travelled.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The message bytes.
    pub payload: &'a [u8],
    /// Whether the body was zlib-compressed on the wire.
    pub compressed: bool,
    /// Bytes the frame occupied on the wire, header and filler included.
    pub wire_len: usize,
    /// The buffer `payload` lies in, when the decoder lends it: values decoded from
    /// the frame may then share it instead of copying (see
    /// [`Message::decode_frame`](super::Message::decode_frame)). Only large frames are
    /// lent.
    pub shared: Option<&'a bytes::Bytes>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{FrameDecoder, Limits};

    fn roundtrip(payload: &[u8], compression: Compression) -> (Vec<u8>, bool) {
        let mut enc = FrameEncoder::new(compression);
        enc.payload().extend_from_slice(payload);
        let frame = enc.finish().unwrap().to_vec();
        let mut dec = FrameDecoder::new(Limits::DEFAULT);
        // Byte by byte: frames must survive any split of the stream.
        for b in &frame {
            dec.push(std::slice::from_ref(b));
        }
        let f = dec.next_frame().unwrap().unwrap();
        assert_eq!(f.wire_len, frame.len());
        (f.payload.to_vec(), f.compressed)
    }

    #[test]
    fn python_threshold_is_strictly_greater_than_3000() {
        assert!(!roundtrip(&[7; 3000], Compression::Python).1);
        let (p, c) = roundtrip(&[7; 3001], Compression::Python);
        assert!(c);
        assert_eq!(p, vec![7; 3001]);
        assert!(!roundtrip(&[7; 100_000], Compression::Off).1);
    }

    #[test]
    fn hostile_lengths_are_refused_before_allocation() {
        let mut dec = FrameDecoder::new(Limits::DEFAULT);
        dec.push(&[0xff, 0xff, 0xff, 0xff, 0]);
        assert!(matches!(dec.next_frame(), Err(FrameError::TooLarge { .. })));
    }

    #[test]
    fn the_encoder_keeps_its_buffer_until_released() {
        let mut enc = FrameEncoder::new(Compression::Off);
        enc.payload().vec().resize(HEADER_LEN + (20 << 20), 7);
        enc.finish().unwrap();
        let at = enc.buf.as_ptr();
        enc.payload().vec().resize(HEADER_LEN + (20 << 20), 8);
        assert_eq!(enc.buf.as_ptr(), at, "the next large frame reuses the buffer");
        enc.release_buffers();
        assert!(enc.retained() > RETAINED, "a payload under construction is kept");
        enc.finish().unwrap();
        enc.release_buffers();
        assert!(enc.retained() <= KEPT_WHEN_IDLE, "kept {} bytes once released", enc.retained());
        enc.payload().push(1);
        assert_eq!(enc.finish().unwrap(), [0, 0, 0, 1, 0, 1, FILLER], "and still encodes");
    }

    /// A writer that takes at most a few bytes per call, following `steps` round and
    /// round (a zero step means "interrupted"; at least one step is not zero), and
    /// joins what it took.
    struct Trickle {
        steps: Vec<usize>,
        at: usize,
        out: Vec<u8>,
    }

    impl Trickle {
        fn new(steps: Vec<usize>) -> Trickle {
            assert!(steps.iter().any(|&s| s > 0), "a writer that never takes a byte");
            Trickle { steps, at: 0, out: Vec::new() }
        }

        fn next_step(&mut self) -> usize {
            let step = self.steps[self.at % self.steps.len()];
            self.at += 1;
            step
        }
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut room = self.next_step();
            if room == 0 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let before = self.out.len();
            for b in bufs {
                let take = b.len().min(room);
                self.out.extend_from_slice(&b[..take]);
                room -= take;
                if room == 0 {
                    break;
                }
            }
            Ok(self.out.len() - before)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The frame of `value` built in one buffer, copying every byte (the reference).
    fn copied_frame(value: &Value) -> Vec<u8> {
        let mut plain = Vec::new();
        crate::wire::brine::encode(value, &mut plain).unwrap();
        let mut enc = FrameEncoder::new(Compression::Off);
        enc.payload().extend_from_slice(&plain);
        enc.finish().unwrap().to_vec()
    }

    use crate::wire::Value;
    use proptest::prelude::*;

    /// A `bytes` value of `len` bytes, distinct per `seed`.
    fn bytes_of(len: usize, seed: u8) -> Value {
        Value::Bytes((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect::<Vec<u8>>().into())
    }

    fn part() -> impl Strategy<Value = Value> {
        prop_oneof![
            (0usize..300, any::<u8>()).prop_map(|(n, s)| bytes_of(n, s)),
            (SHARED_MIN - 2..SHARED_MIN + 2, any::<u8>()).prop_map(|(n, s)| bytes_of(n, s)),
            (SHARED_MIN..4 * SHARED_MIN, any::<u8>()).prop_map(|(n, s)| bytes_of(n, s)),
            any::<i64>().prop_map(Value::Int),
            "[a-z]{0,8}".prop_map(Value::Str),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Sharing large values changes nothing on the wire: the pieces written by
        /// `write_to`, however a writer splits them, are the copied frame's bytes; and
        /// a reused encoder forgets the last frame's shared values.
        #[test]
        fn shared_values_put_the_same_bytes_on_the_wire(
            frames in prop::collection::vec(prop::collection::vec(part(), 0..6), 1..3),
            first in 1usize..5000,
            more in prop::collection::vec(prop_oneof![1 => Just(0usize), 8 => 1usize..5000, 2 => 5000usize..300_000], 0..16),
        ) {
            let steps: Vec<usize> = std::iter::once(first).chain(more).collect();
            let mut enc = FrameEncoder::new(Compression::Off);
            for items in frames {
                let large = items.iter().filter(|v| matches!(v, Value::Bytes(b) if b.len() >= SHARED_MIN)).count();
                let value = Value::Tuple(items);
                let expected = copied_frame(&value);
                crate::wire::brine::encode(&value, enc.payload()).unwrap();
                let parts = enc.finish_parts().unwrap();
                prop_assert_eq!(parts.shared.len(), large, "each large value is shared, no other");
                prop_assert_eq!(parts.len(), expected.len());
                prop_assert_eq!(parts.pieces().map(<[u8]>::len).sum::<usize>(), expected.len());
                let mut w = Trickle::new(steps.clone());
                parts.write_to(&mut w).unwrap();
                prop_assert!(w.out == expected, "the written frame differs from the copied one");
            }
        }
    }

    #[test]
    fn a_shared_frame_is_one_slice_when_asked_and_never_shared_when_compressed() {
        let value = Value::Tuple(vec![bytes_of(SHARED_MIN, 1), Value::Int(7), bytes_of(3 * SHARED_MIN + 5, 2)]);
        let expected = copied_frame(&value);
        let mut enc = FrameEncoder::new(Compression::Off);
        crate::wire::brine::encode(&value, enc.payload()).unwrap();
        assert_eq!(enc.payload().total_len(), expected.len() - 1, "header and payload, no filler yet");
        assert_eq!(enc.finish().unwrap(), expected, "finish copies the shared values in");
        // Compressed frames hold their whole payload in the buffer: nothing is shared,
        // and the frame is what a copied payload compresses to.
        let mut enc = FrameEncoder::new(Compression::Python);
        crate::wire::brine::encode(&value, enc.payload()).unwrap();
        assert!(enc.payload().shared.is_empty());
        let compressed = enc.finish().unwrap().to_vec();
        let mut plain = Vec::new();
        crate::wire::brine::encode(&value, &mut plain).unwrap();
        let mut enc = FrameEncoder::new(Compression::Python);
        enc.payload().extend_from_slice(&plain);
        assert_eq!(enc.finish().unwrap(), compressed);
    }

    /// A writer that refuses more than its first `n` bytes: `write_to` reports it.
    #[test]
    fn a_writer_that_stops_taking_bytes_is_an_error() {
        let value = Value::Tuple(vec![bytes_of(SHARED_MIN, 1)]);
        let mut enc = FrameEncoder::new(Compression::Off);
        crate::wire::brine::encode(&value, enc.payload()).unwrap();
        let parts = enc.finish_parts().unwrap();
        let mut out = [0u8; 100];
        let err = parts.write_to(&mut &mut out[..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    }

    #[test]
    fn truncated_zlib_is_an_error() {
        let mut enc = FrameEncoder::new(Compression::Python);
        enc.payload().vec().extend((0..5000u32).map(|i| (i * 7) as u8));
        let mut frame = enc.finish().unwrap().to_vec();
        let body_len = frame.len() - HEADER_LEN - 1;
        let cut = body_len / 2;
        frame.truncate(HEADER_LEN + cut);
        frame[..4].copy_from_slice(&(cut as u32).to_be_bytes());
        frame.push(FILLER);
        let mut dec = FrameDecoder::new(Limits::DEFAULT);
        dec.push(&frame);
        assert!(matches!(dec.next_frame(), Err(FrameError::Zlib(_))));
    }
}
