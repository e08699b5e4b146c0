//! Frames (PROTOCOL.md §3): `u32be length | u8 compressed | body | 0x0a`.
//!
//! Both directions reuse their buffers across frames, so a connection's steady state
//! allocates nothing per frame: [`FrameEncoder`] builds the payload in place behind a
//! reserved header, [`FrameDecoder`] keeps one receive buffer and one inflate buffer.

use super::error::FrameError;
use super::Limits;
use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

/// Bytes before the body: the 4-byte length and the compression flag.
pub const HEADER_LEN: usize = 5;
/// The filler byte Python appends to every frame (and ignores on receipt).
pub const FILLER: u8 = 0x0a;
/// Python compresses payloads strictly larger than this many bytes.
pub const PYTHON_COMPRESSION_THRESHOLD: usize = 3000;

/// Buffers larger than this are given back once the frame they held is done with:
/// large enough that the 1 and 10 MiB transfers benchmarks repeat do not allocate
/// afresh each time, small enough that an idle connection pins little.
pub const RETAINED: usize = 16 << 20;

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
    buf: Vec<u8>,
    scratch: Vec<u8>,
    compression: Compression,
    zlib: Option<Compress>,
    finished: bool,
}

impl FrameEncoder {
    /// An encoder that compresses according to `compression`.
    pub fn new(compression: Compression) -> Self {
        let mut enc = FrameEncoder {
            buf: Vec::with_capacity(256),
            scratch: Vec::new(),
            compression,
            zlib: None,
            finished: false,
        };
        enc.buf.resize(HEADER_LEN, 0);
        enc
    }

    /// The compression policy in force.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The payload under construction: append the message bytes here.
    pub fn payload(&mut self) -> &mut Vec<u8> {
        if self.finished {
            self.clear();
        }
        &mut self.buf
    }

    /// Discards a payload under construction (after an encoding error).
    pub fn reset(&mut self) {
        self.clear();
    }

    /// Completes the frame and returns its bytes; the next payload starts afresh.
    pub fn finish(&mut self) -> Result<&[u8], FrameError> {
        let payload_len = self.buf.len() - HEADER_LEN;
        if payload_len == 0 {
            return Err(FrameError::Empty);
        }
        let compressed = self.compression == Compression::Python && payload_len > PYTHON_COMPRESSION_THRESHOLD;
        if compressed {
            self.deflate_in_place()?;
        }
        let body_len = self.buf.len() - HEADER_LEN;
        let len = u32::try_from(body_len)
            .map_err(|_| FrameError::TooLarge { len: body_len as u64, limit: u64::from(u32::MAX) })?;
        self.buf[..4].copy_from_slice(&len.to_be_bytes());
        self.buf[4] = u8::from(compressed);
        self.buf.push(FILLER);
        self.finished = true;
        Ok(&self.buf)
    }

    /// Prepares the buffer for the next payload (done by [`payload`](Self::payload)
    /// after a finished frame).
    fn clear(&mut self) {
        self.finished = false;
        self.buf.truncate(HEADER_LEN);
        // A 100 MB transfer should not pin 100 MB for the connection's lifetime.
        if self.buf.capacity() > RETAINED {
            self.buf.shrink_to(64 << 10);
        }
        if self.scratch.capacity() > RETAINED {
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
        self.buf.truncate(HEADER_LEN);
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
}

/// Splits a byte stream into frames, incrementally.
///
/// Feed it with [`read_from`](Self::read_from) (or [`push`](Self::push)) and take
/// frames with [`next_frame`](Self::next_frame). The receive buffer only grows as bytes
/// arrive, so a header announcing 4 GiB costs nothing until the bytes come.
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    inflated: Vec<u8>,
    zlib: Option<Decompress>,
    limits: Limits,
}

const INITIAL_BUF: usize = 16 << 10;

impl FrameDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        FrameDecoder { buf: vec![0; INITIAL_BUF], start: 0, filled: 0, inflated: Vec::new(), zlib: None, limits }
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.filled - self.start
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let spare = self.spare();
            let n = spare.len().min(rest.len());
            spare[..n].copy_from_slice(&rest[..n]);
            self.filled += n;
            rest = &rest[n..];
        }
    }

    /// Reads once from `src` into the buffer; returns what `read` returned (0 is EOF).
    pub fn read_from(&mut self, src: &mut impl std::io::Read) -> std::io::Result<usize> {
        let n = src.read(self.spare())?;
        self.filled += n;
        Ok(n)
    }

    /// Free space at the end of the buffer, made by compacting or growing. Growth only
    /// happens when the buffer is full of received bytes, so memory is at most twice
    /// what the peer has actually sent.
    fn spare(&mut self) -> &mut [u8] {
        if self.start == self.filled {
            self.start = 0;
            self.filled = 0;
            if self.buf.len() > RETAINED {
                self.buf.truncate(INITIAL_BUF);
                self.buf.shrink_to_fit();
            }
        }
        // Reading again means the last frame's payload has been handled: a large
        // inflated one must not stay resident while the connection idles.
        if self.inflated.capacity() > RETAINED {
            self.inflated = Vec::new();
        }
        if self.filled == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.filled, 0);
                self.filled -= self.start;
                self.start = 0;
            } else {
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
        }
        &mut self.buf[self.filled..]
    }

    /// Returns the next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, FrameError> {
        let avail = &self.buf[self.start..self.filled];
        if avail.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]);
        if len > self.limits.max_frame_len {
            return Err(FrameError::TooLarge { len: u64::from(len), limit: u64::from(self.limits.max_frame_len) });
        }
        let compressed = avail[4] != 0;
        let wire_len = HEADER_LEN + len as usize + 1;
        if avail.len() < wire_len {
            return Ok(None);
        }
        let body_start = self.start + HEADER_LEN;
        let body = body_start..body_start + len as usize;
        self.start += wire_len;
        if !compressed {
            return Ok(Some(Frame { payload: &self.buf[body], compressed, wire_len }));
        }
        inflate(&self.buf[body], &mut self.inflated, &mut self.zlib, self.limits.inflate_limit())?;
        Ok(Some(Frame { payload: &self.inflated, compressed, wire_len }))
    }

    /// The length and flag of the frame at the head of the buffer, once its header has
    /// arrived. Lets a reader size its reads for a large frame.
    pub fn pending_frame_len(&self) -> Option<usize> {
        let avail = &self.buf[self.start..self.filled];
        (avail.len() >= HEADER_LEN)
            .then(|| u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize + HEADER_LEN + 1)
    }
}

/// Inflates a zlib stream into `out`, stopping with an error past `limit` bytes.
fn inflate(body: &[u8], out: &mut Vec<u8>, zlib: &mut Option<Decompress>, limit: usize) -> Result<(), FrameError> {
    let z = zlib.get_or_insert_with(|| Decompress::new(true));
    z.reset(true);
    out.clear();
    loop {
        if out.len() == out.capacity() {
            if out.len() > limit {
                return Err(FrameError::InflateLimit { limit });
            }
            // Grow with what has been produced (doubling), never with what the stream
            // claims, and never past `limit + 1` bytes: one byte over proves a bomb.
            // (`reserve` could double past the limit, and inflating fills all the room
            // it is given, so a bomb used to touch twice the limit before it was caught.)
            let room = (limit - out.len()).saturating_add(1);
            out.reserve_exact(out.capacity().max(4096).min(room));
        }
        let (consumed, produced) = (z.total_in(), z.total_out());
        let status = z
            .decompress_vec(&body[consumed as usize..], out, FlushDecompress::None)
            .map_err(|e| FrameError::Zlib(e.to_string()))?;
        if out.len() > limit {
            return Err(FrameError::InflateLimit { limit });
        }
        if status == Status::StreamEnd {
            return Ok(());
        }
        let stalled = z.total_in() == consumed && z.total_out() == produced;
        if stalled && out.len() < out.capacity() {
            return Err(FrameError::Zlib("stream ends before its end marker".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn zlib_bombs_stop_at_the_limit() {
        let mut enc = FrameEncoder::new(Compression::Python);
        enc.payload().resize(HEADER_LEN + (10 << 20), 0);
        let frame = enc.finish().unwrap().to_vec();
        let limits = Limits { max_inflated_len: 1 << 20, ..Limits::DEFAULT };
        let mut dec = FrameDecoder::new(limits);
        dec.push(&frame);
        assert_eq!(dec.next_frame().unwrap_err(), FrameError::InflateLimit { limit: 1 << 20 });
        // The bomb never got more room than the limit and the one byte that proves it.
        assert!(dec.inflated.capacity() <= (1 << 20) + 1, "inflated to {} bytes", dec.inflated.capacity());
    }

    /// Feeds `frame` read by read until it decodes; then the read a connection makes
    /// while it waits for its next message (here: EOF).
    fn decode_then_idle(frame: &[u8]) -> FrameDecoder {
        let mut dec = FrameDecoder::new(Limits::DEFAULT);
        let mut stream = frame;
        loop {
            if let Some(f) = dec.next_frame().unwrap() {
                assert_eq!(f.payload.len(), 40 << 20);
                break;
            }
            assert!(dec.read_from(&mut stream).unwrap() > 0, "the whole frame arrives");
        }
        assert!(dec.buf.len().max(dec.inflated.capacity()) > RETAINED, "the message needed a large buffer");
        assert_eq!(dec.read_from(&mut stream).unwrap(), 0);
        dec
    }

    #[test]
    fn buffers_of_a_large_message_are_given_back() {
        // Compressed: small on the wire, 40 MiB once inflated.
        let mut enc = FrameEncoder::new(Compression::Python);
        enc.payload().resize(HEADER_LEN + (40 << 20), 7);
        let frame = enc.finish().unwrap().to_vec();
        assert!(enc.buf.capacity() > RETAINED && enc.scratch.capacity() > RETAINED);
        enc.reset();
        assert!(enc.buf.capacity() <= RETAINED && enc.scratch.capacity() <= RETAINED, "the encoder kept its buffers");
        let dec = decode_then_idle(&frame);
        assert!(dec.inflated.capacity() <= RETAINED, "inflate buffer kept {} bytes", dec.inflated.capacity());
        // Plain: 40 MiB in the receive buffer.
        let mut enc = FrameEncoder::new(Compression::Off);
        enc.payload().resize(HEADER_LEN + (40 << 20), 7);
        let dec = decode_then_idle(enc.finish().unwrap());
        assert!(dec.buf.len() <= RETAINED, "receive buffer kept {} bytes", dec.buf.len());
    }

    #[test]
    fn truncated_zlib_is_an_error() {
        let mut enc = FrameEncoder::new(Compression::Python);
        enc.payload().extend((0..5000u32).map(|i| (i * 7) as u8));
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
