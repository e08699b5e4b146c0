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

/// Whether `stream` is readable (data, EOF or an error waiting) within `spin`, asked
/// without blocking, again and again, as [`poll_read`] polls: the core stays awake.
pub(crate) fn readable_within(stream: &TcpStream, spin: Duration) -> bool {
    let until = Instant::now() + spin;
    loop {
        if wait_readable(stream, Duration::ZERO) {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::hint::spin_loop();
    }
}

/// Whether `stream` becomes readable within `wait`, blocking in `poll(2)` (whole
/// milliseconds; an interrupted wait counts as not readable).
pub(crate) fn wait_readable(stream: &TcpStream, wait: Duration) -> bool {
    let mut fd = libc::pollfd { fd: stream.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let millis = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd for a socket `stream` owns.
    unsafe { libc::poll(&mut fd, 1, millis) > 0 }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn readable_means_data_or_eof_waiting() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        assert!(!readable_within(&server, Duration::from_micros(50)), "nothing sent yet");
        assert!(!wait_readable(&server, Duration::ZERO));
        client.write_all(b"x").unwrap();
        // Blocks until the byte is there (a loopback write is delivered at once).
        assert!(wait_readable(&server, Duration::from_secs(10)));
        assert!(readable_within(&server, Duration::ZERO), "one look finds what is waiting");
        let mut buf = [0u8; 1];
        assert_eq!(poll_read(&mut server, &mut buf, Duration::ZERO).unwrap(), 1);
        drop(client);
        assert!(wait_readable(&server, Duration::from_secs(10)), "EOF is readable");
        assert_eq!(poll_read(&mut server, &mut buf, Duration::from_micros(50)).unwrap(), 0);
    }
}
