//! One HTTP/1.1 exchange on a kept-alive TCP stream: the request out in one `send`, the
//! answer read in as few `recv`s as it arrives in.
//!
//! Why by hand: the baseline is compared with RPyC's blocking `Connection`, which costs
//! one `send` and one `recv` per call. A general-purpose client pays for generality per
//! request (ureq probed its pooled socket with non-blocking reads and re-armed socket
//! timeouts: ten system calls for a GET, about 15 µs here), and the comparison then
//! measured the client. The part of HTTP worth a well-kept crate, parsing the response
//! head, is `httparse`'s (hyper's own parser); bodies are framed by `Content-Length`, or
//! by the end of the connection, as the baseline server sends them.

use std::io::{self, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The longest response head accepted.
const MAX_HEAD: usize = 16 << 10;
/// The most headers a response head may have.
const MAX_HEADERS: usize = 32;
/// Receive buffer: heads, short bodies and a download's reads.
const RECV_BUF: usize = 64 << 10;
/// A socket timeout is re-armed only when it is off from the time left by more than
/// this: a `setsockopt` per read would cost more than the answer (as in the RPyC
/// connection).
const TIMEOUT_SLACK: Duration = Duration::from_millis(50);
/// Bodies up to this size go out in the same `send` as the head.
const INLINE_BODY: usize = 64 << 10;

/// Why an exchange failed; the caller turns it into the crate's error.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The TCP connection could not be opened.
    Connect(io::Error),
    /// A kept-alive connection was found closed before any byte of the answer came:
    /// the server closed it while idle, and the request is worth one retry on a new one.
    Stale(io::Error),
    /// The socket failed or timed out mid-exchange.
    Io(io::Error),
    /// The server's answer is not HTTP this client can read.
    Protocol(String),
}

/// A response head's facts this client needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    /// The status code.
    pub status: u16,
    framing: Framing,
    /// Whether the server closes the connection after this answer.
    close: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(u64),
    UntilClose,
}

/// Where a body goes.
pub(crate) enum Sink {
    /// Kept, up to `limit` bytes; more is an error.
    Keep { limit: usize, out: Vec<u8> },
    /// The first `limit` bytes kept, the rest read and dropped (an error's explanation).
    Prefix { limit: usize, out: Vec<u8> },
    /// Counted, not kept: a download's bytes need no memory.
    Count(u64),
}

impl Sink {
    /// Told the length the server announced: a body longer than a [`Sink::Keep`] takes
    /// is refused before it is read, and the room for one that fits is made at once.
    fn expect(&mut self, announced: u64) -> Result<(), Failure> {
        if let Sink::Keep { limit, out } = self {
            let room = usize::try_from(announced).ok().filter(|n| *n <= *limit).ok_or_else(|| {
                Failure::Protocol(format!("the server announced {announced} bytes, more than the {limit} expected"))
            })?;
            out.reserve_exact(room.saturating_sub(out.len()));
        }
        Ok(())
    }

    fn take(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        match self {
            Sink::Keep { limit, out } => {
                if out.len() + bytes.len() > *limit {
                    return Err(Failure::Protocol(format!("the answer is longer than the {limit} bytes expected")));
                }
                out.extend_from_slice(bytes);
            }
            Sink::Prefix { limit, out } => {
                let room = limit.saturating_sub(out.len()).min(bytes.len());
                out.extend_from_slice(&bytes[..room]);
            }
            Sink::Count(n) => *n += bytes.len() as u64,
        }
        Ok(())
    }
}

/// A kept-alive connection and its receive buffer.
pub(crate) struct HttpStream {
    stream: TcpStream,
    /// Received bytes not yet consumed are `buf[start..end]`.
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Whether some byte of the current answer has arrived.
    answering: bool,
    /// Whether an exchange has completed on it (so the server may have closed it since).
    reused: bool,
    /// Set when the server said it closes, or an answer ran to the end of the stream.
    closing: bool,
    /// How long the whole exchange in progress may take, and when that runs out.
    timeout: Duration,
    deadline: Instant,
    /// The socket timeouts now set, re-armed towards the time left (see [`TIMEOUT_SLACK`]).
    read_timeout: Duration,
    write_timeout: Duration,
    /// How long each read polls before blocking.
    reply_poll: Duration,
}

impl HttpStream {
    /// Opens a connection; each later exchange on it (sending the request, reading the
    /// whole answer) must end within `timeout`.
    pub(crate) fn connect(
        addr: SocketAddr,
        connect: Duration,
        timeout: Duration,
        reply_poll: Duration,
    ) -> Result<HttpStream, Failure> {
        // A zero timeout is an error to `set_read_timeout`; a millisecond is as impatient.
        let floor = |t: Duration| t.max(Duration::from_millis(1));
        let stream = TcpStream::connect_timeout(&addr, floor(connect)).map_err(Failure::Connect)?;
        let timeout = floor(timeout);
        let setup = stream
            .set_nodelay(true)
            .and_then(|()| stream.set_read_timeout(Some(timeout)))
            .and_then(|()| stream.set_write_timeout(Some(timeout)));
        setup.map_err(Failure::Io)?;
        Ok(HttpStream {
            stream,
            buf: vec![0; RECV_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            answering: false,
            reused: false,
            closing: false,
            timeout,
            deadline: Instant::now() + timeout,
            read_timeout: timeout,
            write_timeout: timeout,
            reply_poll,
        })
    }

    /// Whether the connection can carry another exchange.
    pub(crate) fn reusable(&self) -> bool {
        !self.closing
    }

    /// Sends a request: `request` holds the head (and, when small, the body already);
    /// `body` is the rest. Starts the exchange's clock.
    ///
    /// A send that fails part-way through a large body may still have an answer
    /// waiting (a server refuses an oversized upload with 413 and closes before reading
    /// it all): `Ok(false)` says so, and the answer should be read before giving up.
    pub(crate) fn send(&mut self, request: &[u8], body: &[u8]) -> Result<bool, Failure> {
        self.answering = false;
        self.deadline = Instant::now() + self.timeout;
        self.fit_timeouts().map_err(Failure::Io)?;
        if let Err(e) = (&self.stream).write_all(request) {
            return Err(self.io_failure(e));
        }
        match (&self.stream).write_all(body) {
            Ok(()) => Ok(true),
            Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {
                self.closing = true;
                Ok(false)
            }
            Err(e) => Err(self.io_failure(e)),
        }
    }

    /// Keeps the socket timeouts near the time left of the exchange, so that a server
    /// that trickles its answer cannot stretch it past `timeout`.
    fn fit_timeouts(&mut self) -> io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(ErrorKind::TimedOut, "the request's time ran out"));
        }
        let off = |current: Duration| current > left + TIMEOUT_SLACK || current + TIMEOUT_SLACK < left;
        if off(self.read_timeout) {
            self.stream.set_read_timeout(Some(left))?;
            self.read_timeout = left;
        }
        if off(self.write_timeout) {
            self.stream.set_write_timeout(Some(left))?;
            self.write_timeout = left;
        }
        Ok(())
    }

    /// Reads the answer's head.
    pub(crate) fn read_head(&mut self) -> Result<Head, Failure> {
        loop {
            let parsed = {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut response = httparse::Response::new(&mut headers);
                match response.parse(&self.buf[self.start..self.end]) {
                    Ok(httparse::Status::Complete(len)) => Some(head_of(&response).map(|head| (head, len))),
                    Ok(httparse::Status::Partial) => None,
                    Err(e) => Some(Err(Failure::Protocol(format!("malformed response head: {e}")))),
                }
            };
            match parsed {
                Some(Ok((head, len))) => {
                    self.start += len;
                    self.closing |= head.close;
                    return Ok(head);
                }
                Some(Err(e)) => return Err(e),
                None if self.end - self.start >= MAX_HEAD => {
                    return Err(Failure::Protocol(format!("the response head is over {MAX_HEAD} bytes")));
                }
                None => {
                    if self.fill()? == 0 {
                        let when =
                            if self.answering { "in the middle of the response head" } else { "without answering" };
                        let closed = io::Error::new(
                            ErrorKind::UnexpectedEof,
                            format!("the server closed the connection {when}"),
                        );
                        return Err(self.io_failure(closed));
                    }
                }
            }
        }
    }

    /// Reads the body that `head` announced into `sink`.
    pub(crate) fn read_body(&mut self, head: Head, sink: &mut Sink) -> Result<(), Failure> {
        let mut left = match head.framing {
            Framing::Length(n) => {
                sink.expect(n)?;
                n
            }
            Framing::UntilClose => u64::MAX,
        };
        loop {
            let ready = (self.end - self.start).min(usize::try_from(left).unwrap_or(usize::MAX));
            sink.take(&self.buf[self.start..self.start + ready])?;
            self.start += ready;
            left -= ready as u64;
            if left == 0 {
                break;
            }
            if self.fill()? == 0 {
                if head.framing == Framing::UntilClose {
                    break;
                }
                return Err(Failure::Io(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!("the server closed the connection {left} bytes before the end of the answer"),
                )));
            }
        }
        if self.start != self.end {
            // Bytes past the answer: nothing was asked for them, so the stream is out
            // of step and must not carry another exchange.
            self.closing = true;
        }
        self.reused = true;
        Ok(())
    }

    /// Reads once into the free part of the buffer; 0 is the end of the stream.
    fn fill(&mut self) -> Result<usize, Failure> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        // Heads are capped far below the buffer and bodies are drained before each
        // read, so there is always room; an empty read would pass for the end of stream.
        debug_assert!(self.end < self.buf.len(), "no room to read into");
        loop {
            if let Err(e) = self.fit_timeouts() {
                return Err(self.io_failure(e));
            }
            // Polls for the answer before blocking, as the RPyC client does (see
            // `client::poll`), so the two protocols wait alike.
            match crate::client::poll_read(&mut self.stream, &mut self.buf[self.end..], self.reply_poll) {
                Ok(n) => {
                    self.end += n;
                    self.answering |= n > 0;
                    self.closing |= n == 0;
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_failure(e)),
            }
        }
    }

    /// A socket error, told apart: on a reused connection, nothing of the answer yet
    /// and a closed or reset socket means the server had closed it while idle.
    fn io_failure(&mut self, e: io::Error) -> Failure {
        self.closing = true;
        let closed = matches!(
            e.kind(),
            ErrorKind::UnexpectedEof
                | ErrorKind::ConnectionReset
                | ErrorKind::BrokenPipe
                | ErrorKind::ConnectionAborted
        );
        if closed && self.reused && !self.answering {
            Failure::Stale(e)
        } else {
            Failure::Io(e)
        }
    }
}

/// The facts of a parsed head, or why it cannot be read.
fn head_of(response: &httparse::Response<'_, '_>) -> Result<Head, Failure> {
    let status = response.code.ok_or_else(|| Failure::Protocol("a response head without a status".into()))?;
    if status < 200 {
        // Nothing this client sends asks for an interim answer (no Expect, no Upgrade).
        return Err(Failure::Protocol(format!("an unexpected interim answer {status}")));
    }
    let mut length = None;
    let (mut says_close, mut says_keep_alive) = (false, false);
    for h in response.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            // Digits only: `str::parse` would take "+5".
            let n = Some(value)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| Failure::Protocol(format!("a bad Content-Length {value:?}")))?;
            if length.is_some_and(|l| l != n) {
                return Err(Failure::Protocol("two different Content-Length headers".into()));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") && !value.eq_ignore_ascii_case("identity") {
            return Err(Failure::Protocol(format!(
                "a {value} body: this client reads bodies framed by Content-Length, \
                 as the rpycbench HTTP server sends them"
            )));
        } else if h.name.eq_ignore_ascii_case("connection") {
            let says = |token: &str| value.split(',').any(|t| t.trim().eq_ignore_ascii_case(token));
            says_close |= says("close");
            says_keep_alive |= says("keep-alive");
        }
    }
    // "close" anywhere wins (RFC 9112 §9.6); HTTP/1.0 closes unless it says keep-alive.
    let mut close = says_close || (response.version == Some(0) && !says_keep_alive);
    // Answers that never have a body (RFC 9110 §6.4.1).
    if status == 204 || status == 304 {
        length = Some(0);
    }
    let framing = match length {
        Some(n) => Framing::Length(n),
        None => {
            close = true;
            Framing::UntilClose
        }
    };
    Ok(Head { status, framing, close })
}

/// Appends a request head for `path` (and a small body) to `out`; returns the part of
/// `body` still to send after it.
pub(crate) fn write_request<'b>(
    out: &mut Vec<u8>,
    method: &str,
    path: &str,
    host: &str,
    body: Option<&'b [u8]>,
) -> &'b [u8] {
    out.clear();
    for part in [method, " ", path, " HTTP/1.1\r\nhost: ", host, "\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    let Some(body) = body else {
        out.extend_from_slice(b"\r\n");
        return &[];
    };
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    if body.len() <= INLINE_BODY {
        out.extend_from_slice(body);
        return &[];
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Head, Failure> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        assert!(response.parse(text.as_bytes()).unwrap().is_complete(), "{text:?}");
        head_of(&response)
    }

    #[test]
    fn heads_say_how_the_body_ends_and_whether_the_connection_stays() {
        let h = head("HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n").unwrap();
        assert_eq!((h.status, h.framing, h.close), (200, Framing::Length(4), false));
        let h = head("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\n").unwrap();
        assert_eq!((h.status, h.framing, h.close), (404, Framing::Length(9), true));
        let h = head("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n").unwrap();
        assert!(h.close, "HTTP/1.0 closes by default");
        let h = head("HTTP/1.0 200 OK\r\ncontent-length: 1\r\nconnection: Keep-Alive\r\n\r\n").unwrap();
        assert!(!h.close);
        let h = head("HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\nconnection: keep-alive\r\n\r\n");
        assert!(h.unwrap().close, "close anywhere wins");
        let h = head("HTTP/1.1 200 OK\r\n\r\n").unwrap();
        assert_eq!((h.framing, h.close), (Framing::UntilClose, true), "no length: the body runs to the close");
        let h = head("HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        assert_eq!((h.framing, h.close), (Framing::Length(0), false));
    }

    #[test]
    fn heads_this_client_cannot_read_are_refused_with_reasons() {
        let reason = |text: &str| match head(text) {
            Err(Failure::Protocol(r)) => r,
            other => panic!("{text:?} gave {other:?}"),
        };
        assert!(reason("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").contains("chunked body"));
        assert!(reason("HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n").contains("bad Content-Length"));
        assert!(reason("HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n").contains("bad Content-Length"));
        assert!(reason("HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n").contains("two different"));
        assert!(reason("HTTP/1.1 100 Continue\r\n\r\n").contains("interim"));
    }

    #[test]
    fn requests_carry_small_bodies_inline_and_large_ones_after() {
        let mut out = Vec::new();
        assert!(write_request(&mut out, "GET", "/ping", "127.0.0.1:80", None).is_empty());
        assert_eq!(out, b"GET /ping HTTP/1.1\r\nhost: 127.0.0.1:80\r\n\r\n");
        let rest = write_request(&mut out, "POST", "/upload", "h", Some(b"abc"));
        assert!(rest.is_empty());
        assert_eq!(out, b"POST /upload HTTP/1.1\r\nhost: h\r\ncontent-length: 3\r\n\r\nabc");
        let big = vec![7; INLINE_BODY + 1];
        let rest = write_request(&mut out, "POST", "/echo", "h", Some(&big));
        assert_eq!(rest.len(), big.len());
        assert!(out.ends_with(format!("content-length: {}\r\n\r\n", big.len()).as_bytes()));
    }

    #[test]
    fn sinks_keep_count_or_cut() {
        let mut keep = Sink::Keep { limit: 4, out: Vec::new() };
        keep.take(b"abc").unwrap();
        assert!(matches!(keep.take(b"de"), Err(Failure::Protocol(_))));
        let mut prefix = Sink::Prefix { limit: 4, out: Vec::new() };
        prefix.take(b"abc").unwrap();
        prefix.take(b"defg").unwrap();
        assert!(matches!(prefix, Sink::Prefix { ref out, .. } if out == b"abcd"));
        let mut keep = Sink::Keep { limit: 4, out: Vec::new() };
        assert!(matches!(keep.expect(5), Err(Failure::Protocol(ref r)) if r.contains("announced 5 bytes")));
        keep.expect(4).unwrap();
        assert!(matches!(keep, Sink::Keep { ref out, .. } if out.capacity() >= 4));
        let mut count = Sink::Count(0);
        count.take(&[0; 10]).unwrap();
        assert!(matches!(count, Sink::Count(10)));
    }
}
