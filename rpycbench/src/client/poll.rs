//! Waiting for a reply by polling before blocking.
//!
//! A blocking `recv` lets the core sleep until the reply arrives, and on a virtual
//! machine whose idle cores sleep deep, waking it costs far more than the round trip
//! itself: on the 2-core machine the tool is developed on, an idle machine adds about
//! 115 µs to every loopback round trip that a busy one does not. The same code then
//! measures ten times apart depending on what else runs. Polling the socket for a short
//! while first keeps the core awake for replies that come quickly, as low-latency
//! benchmark tools do; a reply that takes longer is waited for as before.

use std::io::{self, Read};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// How long a client polls for a reply before blocking, by default. Chosen by
/// measurement (see docs/verdicts.md, "Reply polling"): long enough to cover a local
/// round trip on a busy or idle machine, short enough to cost little CPU when a reply
/// takes long.
pub const DEFAULT_REPLY_POLL: Duration = Duration::from_micros(50);

/// Reads into `buf`: non-blocking attempts for up to `poll`, then one blocking read
/// (with the stream's own timeout). Returns what `read` returns (0 at EOF).
pub fn poll_read(stream: &mut TcpStream, buf: &mut [u8], poll: Duration) -> io::Result<usize> {
    if !poll.is_zero() {
        let until = Instant::now() + poll;
        loop {
            // SAFETY: a valid socket owned by `stream`, and a buffer of `buf.len()` bytes.
            let n = unsafe { libc::recv(stream.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
            if Instant::now() >= until {
                break;
            }
            std::hint::spin_loop();
        }
    }
    stream.read(buf)
}

/// A reader over [`poll_read`], for the frame decoder.
pub(crate) struct PollingReader<'a> {
    pub(crate) stream: &'a mut TcpStream,
    pub(crate) poll: Duration,
}

impl Read for PollingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_read(self.stream, buf, self.poll)
    }
}
