//! Frames (PROTOCOL.md §3): `u32be length | u8 compressed | body | 0x0a`.
//!
//! Both directions reuse their buffers across frames, so a connection's steady state
//! allocates nothing per frame: [`FrameEncoder`] builds the payload in place behind a
//! reserved header; [`FrameDecoder`](super::FrameDecoder) (in `frame_decoder`) splits
//! the received stream.

use super::error::FrameError;
use flate2::{Compress, FlushCompress, Status};

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
            self.buf.shrink_to(KEPT_WHEN_IDLE);
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
        enc.payload().resize(HEADER_LEN + (20 << 20), 7);
        enc.finish().unwrap();
        let at = enc.buf.as_ptr();
        enc.payload().resize(HEADER_LEN + (20 << 20), 8);
        assert_eq!(enc.buf.as_ptr(), at, "the next large frame reuses the buffer");
        enc.release_buffers();
        assert!(enc.retained() > RETAINED, "a payload under construction is kept");
        enc.finish().unwrap();
        enc.release_buffers();
        assert!(enc.retained() <= KEPT_WHEN_IDLE, "kept {} bytes once released", enc.retained());
        enc.payload().push(1);
        assert_eq!(enc.finish().unwrap(), [0, 0, 0, 1, 0, 1, FILLER], "and still encodes");
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
