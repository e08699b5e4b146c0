//! Splitting a received byte stream into frames (PROTOCOL.md §3), incrementally.
//!
//! Ordinary frames go through one receive buffer that is compacted and grown only as
//! bytes arrive, so a header announcing 4 GiB costs nothing until the bytes come.
//!
//! A frame of [`LARGE_FRAME`] bytes or more is read straight into a buffer of its own,
//! which is then lent (as [`Bytes`]) to the values decoded from it: a 100 MB upload is
//! written once, by the kernel, and never copied again. When those values are dropped,
//! the next large frame takes the same buffer back, so a run of bulk transfers touches
//! no fresh memory: profiling showed the kernel faulting in and zeroing fresh pages for
//! every 100 MB frame cost more than moving the bytes (about 40 % of the receiver's
//! time, against 3 % for the socket copy).
//!
//! Memory stays within twice what the peer has actually sent. A decoder made with
//! [`retaining`](FrameDecoder::retaining) keeps its large buffers between frames until
//! [`release_buffers`](FrameDecoder::release_buffers) (a connection calls it when it
//! goes idle); any other gives back buffers over [`RETAINED`] once their frame is done.

use super::error::FrameError;
use super::frame::{Frame, HEADER_LEN, RETAINED};
use super::Limits;
use bytes::{Bytes, BytesMut};
use flate2::{Decompress, FlushDecompress, Status};

/// Frames of at least this many bytes on the wire are read into a buffer of their own
/// and lent to the values decoded from them; smaller ones are copied out of the receive
/// buffer, which costs less than a buffer each.
pub const LARGE_FRAME: usize = 256 << 10;

const INITIAL_BUF: usize = 16 << 10;
/// The least a large frame's buffer grows by, so a frame arriving in 64 KiB reads does
/// not reallocate on each.
const LARGE_STEP: usize = 64 << 10;

/// Splits a byte stream into frames, incrementally.
///
/// Feed it with [`read_from`](Self::read_from) (or [`push`](Self::push)) and take
/// frames with [`next_frame`](Self::next_frame).
///
/// ```
/// use rpycbench::wire::{FrameDecoder, Limits};
/// let mut dec = FrameDecoder::new(Limits::DEFAULT);
/// dec.push(&[0, 0, 0, 1, 0]);
/// assert!(dec.next_frame().unwrap().is_none(), "the body has not arrived");
/// dec.push(&[0x50, 0x0a]);
/// assert_eq!(dec.next_frame().unwrap().unwrap().payload, [0x50]);
/// ```
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    large: LargeFrame,
    inflated: Vec<u8>,
    zlib: Option<Decompress>,
    limits: Limits,
    /// Whether large buffers stay until `release_buffers` (see the module doc).
    retain: bool,
}

/// A frame of [`LARGE_FRAME`] bytes or more, read in place.
#[derive(Default)]
struct LargeFrame {
    /// Wire length of the frame being read; 0 when none is.
    expect: usize,
    /// Its bytes so far, header included. `len()` counts the bytes initialized (zeroed
    /// or received), kept across frames so that a reused buffer is not zeroed again.
    buf: BytesMut,
    filled: usize,
    /// The last large frame, shared with the values decoded from it. Its buffer is
    /// taken back for the next large frame once they have all been dropped.
    lent: Option<Bytes>,
}

impl LargeFrame {
    fn reading(&self) -> bool {
        self.expect > 0 && self.filled < self.expect
    }

    /// Starts a frame of `wire_len` bytes whose first bytes are `prefix`.
    fn begin(&mut self, wire_len: usize, prefix: &[u8]) {
        if let Some(lent) = self.lent.take() {
            // Fails while a value still holds part of it: that value keeps the memory,
            // and this frame gets a buffer of its own.
            if let Ok(back) = lent.try_into_mut() {
                if back.len() > self.buf.len() {
                    self.buf = back;
                }
            }
        }
        self.expect = wire_len;
        self.filled = 0;
        self.grow_to(prefix.len());
        self.buf[..prefix.len()].copy_from_slice(prefix);
        self.filled = prefix.len();
    }

    /// Makes `buf` at least `len` bytes long (never past the frame).
    fn grow_to(&mut self, len: usize) {
        let len = len.min(self.expect);
        if self.buf.len() < len {
            // Advised before the zeroing touches it: see `wire::pages`.
            self.buf.reserve(len - self.buf.len());
            super::pages::advise_huge_pages(self.buf.as_ptr(), self.buf.capacity());
            self.buf.resize(len, 0);
        }
    }

    /// Room for the frame's next bytes: growing with what has arrived (doubling),
    /// never past the frame's end, so the bytes after it are left to the receive buffer.
    fn spare(&mut self) -> &mut [u8] {
        if self.filled == self.buf.len() {
            self.grow_to((self.filled * 2).max(self.filled + LARGE_STEP));
        }
        let end = self.expect.min(self.buf.len());
        &mut self.buf[self.filled..end]
    }

    fn held(&self) -> usize {
        self.buf.capacity() + self.lent.as_ref().map_or(0, Bytes::len)
    }

    fn release(&mut self) {
        if self.expect == 0 {
            self.buf = BytesMut::new();
            self.lent = None;
        }
    }
}

impl FrameDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        FrameDecoder {
            buf: vec![0; INITIAL_BUF],
            start: 0,
            filled: 0,
            large: LargeFrame::default(),
            inflated: Vec::new(),
            zlib: None,
            limits,
            retain: false,
        }
    }

    /// Keeps the buffers of large frames for the next ones until
    /// [`release_buffers`](Self::release_buffers), for an owner that knows when its
    /// connection goes idle.
    pub fn retaining(mut self) -> Self {
        self.retain = true;
        self
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.filled - self.start + if self.large.expect > 0 { self.large.filled } else { 0 }
    }

    /// Bytes of memory the decoder holds (its buffers, and a lent frame's).
    pub fn retained(&self) -> usize {
        self.buf.capacity() + self.large.held() + self.inflated.capacity()
    }

    /// Gives back every buffer no frame in progress needs, but a small receive buffer.
    pub fn release_buffers(&mut self) {
        self.trim(INITIAL_BUF);
    }

    /// Gives back buffers larger than `keep` bytes that no frame in progress needs.
    fn trim(&mut self, keep: usize) {
        if self.start == self.filled {
            self.start = 0;
            self.filled = 0;
            if self.buf.len() > keep.max(INITIAL_BUF) {
                self.buf.truncate(INITIAL_BUF);
                self.buf.shrink_to_fit();
            }
        }
        if self.large.held() > keep {
            self.large.release();
        }
        if self.inflated.capacity() > keep {
            self.inflated = Vec::new();
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            // Reading from a slice cannot fail, and takes at least one byte: there is
            // always room (see `read_from`).
            let _ = self.read_from(&mut rest);
        }
    }

    /// Reads once from `src` into the buffer; returns what `read` returned (0 is EOF).
    pub fn read_from(&mut self, src: &mut impl std::io::Read) -> std::io::Result<usize> {
        self.route();
        if self.large.reading() {
            let n = src.read(self.large.spare())?;
            self.large.filled += n;
            return Ok(n);
        }
        let n = src.read(self.spare())?;
        self.filled += n;
        Ok(n)
    }

    /// Before reading: a large frame whose header is in moves to a buffer of its own,
    /// and (unless retaining) buffers a finished large frame left are given back.
    fn route(&mut self) {
        if self.large.expect > 0 {
            return;
        }
        if !self.retain {
            self.trim(RETAINED);
        }
        let avail = &self.buf[self.start..self.filled];
        if avail.len() < HEADER_LEN {
            return;
        }
        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]);
        let wire_len = HEADER_LEN + len as usize + 1;
        // An oversized frame is refused by `next_frame` before anything is allocated.
        if len <= self.limits.max_frame_len && wire_len >= LARGE_FRAME && avail.len() < wire_len {
            self.large.begin(wire_len, avail);
            self.start = 0;
            self.filled = 0;
        }
    }

    /// Free space at the end of the buffer, made by compacting or growing. Growth only
    /// happens when the buffer is full of received bytes, so memory is at most twice
    /// what the peer has actually sent.
    fn spare(&mut self) -> &mut [u8] {
        if self.start == self.filled {
            self.start = 0;
            self.filled = 0;
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
        if self.large.expect > 0 {
            if self.large.reading() {
                return Ok(None);
            }
            return self.take_large();
        }
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
            self.route();
            return Ok(None);
        }
        let body_start = self.start + HEADER_LEN;
        let body = body_start..body_start + len as usize;
        self.start += wire_len;
        if !compressed {
            return Ok(Some(Frame { payload: &self.buf[body], compressed, wire_len, shared: None }));
        }
        inflate(&self.buf[body], &mut self.inflated, &mut self.zlib, self.limits.inflate_limit())?;
        Ok(Some(Frame { payload: &self.inflated, compressed, wire_len, shared: None }))
    }

    /// The large frame just completed: lent whole to the values decoded from it, or
    /// inflated if compressed.
    fn take_large(&mut self) -> Result<Option<Frame<'_>>, FrameError> {
        let wire_len = std::mem::take(&mut self.large.expect);
        self.large.filled = 0;
        let compressed = self.large.buf[4] != 0;
        let body = HEADER_LEN..wire_len - 1;
        if compressed {
            inflate(&self.large.buf[body], &mut self.inflated, &mut self.zlib, self.limits.inflate_limit())?;
            return Ok(Some(Frame { payload: &self.inflated, compressed, wire_len, shared: None }));
        }
        let lent = self.large.lent.insert(std::mem::take(&mut self.large.buf).freeze());
        Ok(Some(Frame { payload: &lent[body], compressed, wire_len, shared: Some(lent) }))
    }

    /// The length and flag of the frame at the head of the buffer, once its header has
    /// arrived. Lets a reader size its reads for a large frame.
    pub fn pending_frame_len(&self) -> Option<usize> {
        if self.large.expect > 0 {
            return Some(self.large.expect);
        }
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
    use crate::wire::{Compression, FrameEncoder, Message};

    fn frame_of(payload_len: usize, byte: u8, compression: Compression) -> Vec<u8> {
        let mut enc = FrameEncoder::new(compression);
        crate::wire::brine::sealed::SinkVec::vec(enc.payload()).resize(HEADER_LEN + payload_len, byte);
        enc.finish().unwrap().to_vec()
    }

    /// Feeds `stream` in reads of at most 64 KiB until a frame decodes; returns its
    /// payload length and whether it was lent.
    fn read_one(dec: &mut FrameDecoder, stream: &mut &[u8]) -> (usize, bool) {
        loop {
            if let Some(f) = dec.next_frame().unwrap() {
                return (f.payload.len(), f.shared.is_some());
            }
            let mut piece = &stream[..stream.len().min(64 << 10)];
            let n = dec.read_from(&mut piece).unwrap();
            assert!(n > 0, "the whole frame arrives");
            *stream = &stream[n..];
        }
    }

    #[test]
    fn zlib_bombs_stop_at_the_limit() {
        let frame = frame_of(10 << 20, 0, Compression::Python);
        let limits = Limits { max_inflated_len: 1 << 20, ..Limits::DEFAULT };
        let mut dec = FrameDecoder::new(limits);
        dec.push(&frame);
        assert_eq!(dec.next_frame().unwrap_err(), FrameError::InflateLimit { limit: 1 << 20 });
        // The bomb never got more room than the limit and the one byte that proves it.
        assert!(dec.inflated.capacity() <= (1 << 20) + 1, "inflated to {} bytes", dec.inflated.capacity());
    }

    #[test]
    fn a_large_frame_is_read_in_place_and_its_buffer_reused() {
        let big = frame_of(3 << 20, 7, Compression::Off);
        let small = frame_of(100, 1, Compression::Off);
        let stream: Vec<u8> = [&big[..], &small, &big].concat();
        let mut rest = &stream[..];
        let mut dec = FrameDecoder::new(Limits::DEFAULT).retaining();

        let first = loop {
            if let Some(f) = dec.next_frame().unwrap() {
                assert_eq!(f.payload.len(), 3 << 20);
                break f.shared.unwrap().clone();
            }
            let mut piece = &rest[..rest.len().min(64 << 10)];
            let n = dec.read_from(&mut piece).unwrap();
            rest = &rest[n..];
        };
        // The frame's bytes were read into the buffer it is lent in, none past it.
        assert!(first.iter().skip(HEADER_LEN).take(3 << 20).all(|&b| b == 7));
        assert_eq!(read_one(&mut dec, &mut rest), (100, false), "the small frame after it");
        let at = first.as_ptr();
        drop(first);
        assert_eq!(read_one(&mut dec, &mut rest), (3 << 20, true));
        assert_eq!(dec.large.lent.as_ref().unwrap().as_ptr(), at, "the second large frame reused the first's buffer");
        assert!(rest.is_empty());
    }

    #[test]
    fn a_buffer_still_in_use_is_not_reused() {
        let big = frame_of(1 << 20, 7, Compression::Off);
        let stream = [&big[..], &big].concat();
        let mut rest = &stream[..];
        let mut dec = FrameDecoder::new(Limits::DEFAULT).retaining();
        read_one(&mut dec, &mut rest);
        let kept = dec.large.lent.clone().unwrap();
        read_one(&mut dec, &mut rest);
        assert_ne!(dec.large.lent.as_ref().unwrap().as_ptr(), kept.as_ptr());
        assert!(kept.iter().skip(HEADER_LEN).take(1 << 20).all(|&b| b == 7), "the value kept its bytes");
    }

    #[test]
    fn large_bytes_values_share_the_frame() {
        let mut enc = FrameEncoder::new(Compression::Off);
        let upload = Message::Request {
            seq: 1,
            handler: 12,
            args: crate::wire::Boxed::Value(crate::wire::Value::from(vec![9u8; 2 << 20])),
        };
        upload.encode(enc.payload()).unwrap();
        let frame = enc.finish().unwrap().to_vec();
        let mut dec = FrameDecoder::new(Limits::DEFAULT).retaining();
        let mut rest = &frame[..];
        let f = loop {
            if let Some(f) = dec.next_frame().unwrap() {
                break f;
            }
            let mut piece = &rest[..rest.len().min(64 << 10)];
            let n = dec.read_from(&mut piece).unwrap();
            rest = &rest[n..];
        };
        let shared = f.shared.unwrap().clone();
        let (msg, charged) = Message::decode_frame(&f, &Limits::DEFAULT, usize::MAX).unwrap();
        let Message::Request { args: crate::wire::Boxed::Value(crate::wire::Value::Bytes(b)), .. } = msg else {
            panic!("an upload request")
        };
        assert_eq!(b.len(), 2 << 20);
        assert!(shared.as_ptr_range().contains(&b.as_ptr()), "the value points into the frame");
        assert!(charged >= 2 << 20, "shared or not, the value is charged to the budget");
    }

    #[test]
    fn memory_grows_with_what_arrived_not_what_was_announced() {
        let mut dec = FrameDecoder::new(Limits::DEFAULT).retaining();
        // A header announcing a 200 MiB frame, and 1 KiB of it.
        dec.push(&(200u32 << 20).to_be_bytes());
        dec.push(&[0; 1 + 1024]);
        assert!(dec.next_frame().unwrap().is_none());
        assert!(dec.retained() < 1 << 20, "holds {} bytes for 1 KiB received", dec.retained());
        dec.push(&vec![0; 4 << 20]);
        assert!(dec.retained() < 12 << 20, "holds {} bytes for 4 MiB received", dec.retained());
    }

    #[test]
    fn buffers_are_given_back_when_released_or_not_retained() {
        // Plain: 40 MiB in the frame's own buffer. Compressed: small on the wire, 40 MiB
        // once inflated.
        for compression in [Compression::Off, Compression::Python] {
            let frame = frame_of(40 << 20, 7, compression);
            let mut dec = FrameDecoder::new(Limits::DEFAULT).retaining();
            let mut rest = &frame[..];
            read_one(&mut dec, &mut rest);
            assert!(dec.retained() > RETAINED, "the message needed a large buffer");
            assert_eq!(dec.read_from(&mut rest).unwrap(), 0);
            assert!(dec.retained() > RETAINED, "a retaining decoder keeps it for the next frame");
            dec.release_buffers();
            assert!(dec.retained() <= INITIAL_BUF, "{compression:?}: kept {} bytes", dec.retained());

            // Not retaining: given back at the read after the frame (here: EOF).
            let mut dec = FrameDecoder::new(Limits::DEFAULT);
            let mut rest = &frame[..];
            read_one(&mut dec, &mut rest);
            assert_eq!(dec.read_from(&mut rest).unwrap(), 0);
            assert!(dec.retained() <= RETAINED, "{compression:?}: kept {} bytes", dec.retained());
        }
    }

    #[test]
    fn frames_survive_any_split_around_a_large_one() {
        let frames = [
            frame_of(10, 1, Compression::Off),
            frame_of(LARGE_FRAME, 2, Compression::Off),
            frame_of(20, 3, Compression::Off),
        ];
        let stream = frames.concat();
        for split in [1, 7, 4096, LARGE_FRAME - 3, LARGE_FRAME + 11] {
            let mut dec = FrameDecoder::new(Limits::DEFAULT).retaining();
            let mut got = Vec::new();
            for piece in stream.chunks(split) {
                dec.push(piece);
                while let Some(f) = dec.next_frame().unwrap() {
                    got.push((f.payload.len(), f.payload[0]));
                }
            }
            assert_eq!(got, [(10, 1), (LARGE_FRAME, 2), (20, 3)], "split every {split} bytes");
        }
    }

    #[test]
    fn a_reused_buffer_larger_than_the_frame_takes_only_the_frame() {
        // The second frame reuses the first's larger buffer; the bytes after it (the
        // third frame) must stay with the receive buffer.
        let stream = [300_000usize, 280_000, 10].map(|n| frame_of(n, 3, Compression::Off)).concat();
        let mut dec = FrameDecoder::new(Limits::DEFAULT).retaining();
        let mut got = Vec::new();
        for piece in stream.chunks(100_000) {
            dec.push(piece);
            while let Some(f) = dec.next_frame().unwrap() {
                got.push((f.payload.len(), f.shared.is_some()));
            }
        }
        assert_eq!(got, [(300_000, true), (280_000, true), (10, false)]);
    }
}
