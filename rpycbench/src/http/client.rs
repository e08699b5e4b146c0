//! The HTTP baseline's client: blocking HTTP/1.1 with keep-alive, one TCP connection
//! per client (see [`exchange`](super::exchange) for why it is not a general-purpose
//! client). A new client is a new TCP connection, which is what the connection
//! benchmark measures.

use super::exchange::{write_request, Failure, HttpStream, Sink};
use super::HttpError;
use crate::bench::{BuiltinCalls, Client};
use crate::client::WireCounters;
use crate::error::{Error, Result};
use crate::Value;
use hyper::StatusCode;
use std::net::SocketAddr;
use std::time::Duration;

/// How an [`HttpClient`] waits.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// How long opening the TCP connection may take (default 10 s, as RPyC's).
    pub connect_timeout: Duration,
    /// How long a request may take, from sending it to the end of its answer (default
    /// 30 s, as RPyC's request timeout).
    pub request_timeout: Duration,
    /// How long to poll for an answer before blocking (default
    /// [`DEFAULT_REPLY_POLL`](crate::client::DEFAULT_REPLY_POLL), as the RPyC client).
    pub reply_poll: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            reply_poll: crate::client::DEFAULT_REPLY_POLL,
        }
    }
}

impl HttpConfig {
    /// How long to poll for an answer before blocking.
    pub fn reply_poll(mut self, poll: Duration) -> Self {
        self.reply_poll = poll;
        self
    }

    /// Sets the request timeout.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }
}

/// One keep-alive HTTP connection to the baseline server (opened on the first request,
/// reopened by the next request after the server closed it).
///
/// ```no_run
/// use rpycbench::http::HttpClient;
/// # fn main() -> rpycbench::Result<()> {
/// let mut client = HttpClient::new("127.0.0.1:8080".parse().unwrap());
/// client.ping()?;
/// assert_eq!(client.upload(b"hello")?, 5);
/// # Ok(()) }
/// ```
pub struct HttpClient {
    addr: SocketAddr,
    config: HttpConfig,
    peer: String,
    conn: Option<HttpStream>,
    /// The request being sent, one buffer reused across requests.
    request: Vec<u8>,
}

/// The most of a body that short answers (and error explanations) may have.
const SHORT_BODY: usize = 4096;

/// The methods this client sends.
#[derive(Clone, Copy)]
enum Method {
    Get,
    Post,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

impl HttpClient {
    /// A client of the server at `addr`, with default timeouts. Opens nothing yet.
    pub fn new(addr: SocketAddr) -> HttpClient {
        HttpClient::with_config(addr, HttpConfig::default())
    }

    /// A client of the server at `addr`.
    pub fn with_config(addr: SocketAddr, config: HttpConfig) -> HttpClient {
        HttpClient { addr, config, peer: addr.to_string(), conn: None, request: Vec::with_capacity(256) }
    }

    /// The server's address.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// `GET /ping`; checks the answer is `pong`.
    pub fn ping(&mut self) -> Result<()> {
        let answer = self.short(Method::Get, "/ping", None)?;
        if answer != b"pong" {
            return Err(self.unexpected(Method::Get, "/ping", &answer, "\"pong\""));
        }
        Ok(())
    }

    /// `POST /echo`: the body back.
    pub fn echo(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let sink = Sink::Keep { limit: data.len(), out: Vec::new() };
        match self.exchange(Method::Post, "/echo", Some(data), sink)? {
            Sink::Keep { out, .. } => Ok(out),
            _ => unreachable!("exchange returns the sink it was given"),
        }
    }

    /// `POST /upload`: the length the server counted.
    pub fn upload(&mut self, data: &[u8]) -> Result<u64> {
        let answer = self.short(Method::Post, "/upload", Some(data))?;
        number(&answer).ok_or_else(|| self.unexpected(Method::Post, "/upload", &answer, "a length"))
    }

    /// `GET /download?size=N`: reads the `N` bytes (counting them, keeping none) and
    /// checks that exactly `N` arrived.
    pub fn download(&mut self, size: u64) -> Result<()> {
        let path = format!("/download?size={size}");
        match self.exchange(Method::Get, &path, None, Sink::Count(0))? {
            Sink::Count(got) if got == size => Ok(()),
            Sink::Count(got) => Err(Error::from(HttpError::Exchange {
                peer: self.peer.clone(),
                request: format!("GET {path}"),
                reason: format!("{got} bytes arrived instead of {size}"),
            })),
            _ => unreachable!("exchange returns the sink it was given"),
        }
    }

    /// `GET /download?size=N`, keeping the bytes.
    pub fn download_bytes(&mut self, size: u64) -> Result<Vec<u8>> {
        let path = format!("/download?size={size}");
        // Room is made once the server announced a length that fits; more than asked
        // for is an error before any of it is read.
        let sink = Sink::Keep { limit: usize::try_from(size).unwrap_or(usize::MAX), out: Vec::new() };
        match self.exchange(Method::Get, &path, None, sink)? {
            Sink::Keep { out, .. } => Ok(out),
            _ => unreachable!("exchange returns the sink it was given"),
        }
    }

    /// `GET /cpu_work?iterations=N`: the 16 hex digits RPyC's `cpu_work(N)` returns.
    pub fn cpu_work(&mut self, iterations: u64) -> Result<String> {
        let answer = self.get(&format!("/cpu_work?iterations={iterations}"))?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    }

    /// `GET /io_work?delay=SECONDS`: `data` after the server slept.
    pub fn io_work(&mut self, delay: Duration) -> Result<String> {
        let answer = self.get(&format!("/io_work?delay={}", delay.as_secs_f64()))?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    }

    /// `GET` any path (with its query): the short answer of a 2xx, else an error.
    pub fn get(&mut self, path_and_query: &str) -> Result<Vec<u8>> {
        let valid = path_and_query.starts_with('/') && path_and_query.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(Error::from(HttpError::Exchange {
                peer: self.peer.clone(),
                request: format!("GET {path_and_query}"),
                reason: "not a valid request path: it must start with '/' and hold no spaces or control characters"
                    .into(),
            }));
        }
        self.short(Method::Get, path_and_query, None)
    }

    /// A 2xx answer's whole body, at most [`SHORT_BODY`] bytes.
    fn short(&mut self, method: Method, path: &str, body: Option<&[u8]>) -> Result<Vec<u8>> {
        match self.exchange(method, path, body, Sink::Keep { limit: SHORT_BODY, out: Vec::new() })? {
            Sink::Keep { out, .. } => Ok(out),
            _ => unreachable!("exchange returns the sink it was given"),
        }
    }

    /// Sends a request and reads its answer into `sink` (a 2xx) or into an
    /// [`HttpError::Status`]. A kept-alive connection the server closed while idle is
    /// replaced once; after any other failure the next request opens a new connection.
    ///
    /// The retry may resend a request the server saw before it closed; that does no
    /// harm here because no route of the baseline server changes any state.
    fn exchange(&mut self, method: Method, path: &str, body: Option<&[u8]>, sink: Sink) -> Result<Sink> {
        let mut sink = sink;
        let mut outcome = self.try_exchange(method, path, body, &mut sink);
        if let Err(Failure::Stale(_)) = outcome {
            outcome = self.try_exchange(method, path, body, &mut sink);
        }
        match outcome {
            Ok(None) => Ok(sink),
            Ok(Some((status, message))) => Err(Error::from(HttpError::Status {
                peer: self.peer.clone(),
                request: format!("{} {path}", method.as_str()),
                status,
                message: status_message(status, &message),
            })),
            Err(failure) => {
                self.conn = None;
                Err(self.failure(method, path, failure))
            }
        }
    }

    /// One attempt: `Ok(None)` for a 2xx read into `sink`, `Ok(Some(..))` for another
    /// status with the start of its explanation.
    fn try_exchange(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
        sink: &mut Sink,
    ) -> std::result::Result<Option<(u16, Vec<u8>)>, Failure> {
        if self.conn.as_ref().is_none_or(|c| !c.reusable()) {
            self.conn = None;
            let config = &self.config;
            self.conn = Some(HttpStream::connect(
                self.addr,
                config.connect_timeout,
                config.request_timeout,
                config.reply_poll,
            )?);
        }
        let rest = write_request(&mut self.request, method.as_str(), path, &self.peer, body);
        let Some(conn) = self.conn.as_mut() else { unreachable!("connected just above") };
        let delivered = conn.send(&self.request, rest)?;
        let head = match conn.read_head() {
            Ok(head) => head,
            Err(_) if !delivered => {
                return Err(Failure::Io(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the server closed the connection before the whole request body was sent, and did not say why",
                )))
            }
            Err(e) => return Err(e),
        };
        if (200..300).contains(&head.status) {
            conn.read_body(head, sink)?;
            return Ok(None);
        }
        // Reading the explanation to its end keeps the connection usable.
        let mut explanation = Sink::Prefix { limit: SHORT_BODY, out: Vec::new() };
        conn.read_body(head, &mut explanation)?;
        let Sink::Prefix { out, .. } = explanation else { unreachable!("built as Prefix just above") };
        Ok(Some((head.status, out)))
    }

    fn unexpected(&self, method: Method, path: &str, answer: &[u8], wanted: &str) -> Error {
        Error::from(HttpError::Exchange {
            peer: self.peer.clone(),
            request: format!("{} {path}", method.as_str()),
            reason: format!("expected {wanted}, got {:?}", String::from_utf8_lossy(answer)),
        })
    }

    /// The crate's error for a failed exchange: refused and unreachable are
    /// [`Error::Connect`], timeouts [`Error::Timeout`], broken sockets [`Error::Io`],
    /// answers that are not readable HTTP [`HttpError::Exchange`].
    fn failure(&self, method: Method, path: &str, failure: Failure) -> Error {
        let peer = self.peer.clone();
        let what = format!("{} {path}", method.as_str());
        match failure {
            Failure::Connect(e) if is_timeout(&e) => {
                Error::Timeout { peer, what: format!("connecting for {what}"), after: self.config.connect_timeout }
            }
            Failure::Connect(source) => Error::Connect { addr: peer, source },
            Failure::Io(e) | Failure::Stale(e) if is_timeout(&e) => {
                Error::Timeout { peer, what, after: self.config.request_timeout }
            }
            Failure::Io(source) | Failure::Stale(source) => Error::Io { peer, doing: "an HTTP request", source },
            Failure::Protocol(reason) => Error::from(HttpError::Exchange { peer, request: what, reason }),
        }
    }
}

/// A socket timeout: Linux reports `SO_RCVTIMEO` as `EAGAIN`.
fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

fn status_message(status: u16, body: &[u8]) -> String {
    let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match (reason, text.is_empty()) {
        (Some(reason), true) => reason.to_owned(),
        (Some(reason), false) => format!("{reason}: {text}"),
        (None, _) => text.to_owned(),
    }
}

fn number(answer: &[u8]) -> Option<u64> {
    std::str::from_utf8(answer).ok()?.trim().parse().ok()
}

impl Client for HttpClient {
    /// Wire statistics count RPyC frames and handlers; HTTP results carry none.
    const COUNTS_WIRE: bool = false;

    /// `GET /ping`: the TCP connect happens here, with the first request.
    fn first_round_trip(&mut self) -> Result<()> {
        self.ping()
    }

    fn check_alive(&mut self) -> Result<()> {
        self.ping()
    }

    fn disconnect(&mut self) {
        self.conn = None;
    }

    fn wire_counters(&self) -> WireCounters {
        WireCounters::default()
    }

    /// Transport failures as for RPyC, and an exchange that broke down (not a non-2xx
    /// status, after which the connection is still in step).
    fn is_fatal(error: &Error) -> bool {
        error.is_connection_fatal() || matches!(HttpError::of(error), Some(HttpError::Exchange { .. }))
    }
}

impl BuiltinCalls for HttpClient {
    fn call_ping(&mut self) -> Result<()> {
        self.ping()
    }

    fn call_upload(&mut self, payload: &Value) -> Result<()> {
        let data = payload.as_bytes().ok_or_else(|| Error::Type {
            expected: "bytes to upload over HTTP",
            got: payload.type_name().to_owned(),
        })?;
        let counted = self.upload(data)?;
        if counted == data.len() as u64 {
            return Ok(());
        }
        Err(Error::from(HttpError::Exchange {
            peer: self.peer.clone(),
            request: "POST /upload".into(),
            reason: format!("the server counted {counted} bytes of {}", data.len()),
        }))
    }

    fn call_download(&mut self, size: u64) -> Result<()> {
        self.download(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> HttpClient {
        HttpClient::with_config(
            ([127, 0, 0, 1], 9).into(),
            HttpConfig::default().request_timeout(Duration::from_secs(2)),
        )
    }

    #[test]
    fn failures_become_the_crates_errors() {
        let c = client();
        let timed_out = || std::io::Error::from(std::io::ErrorKind::WouldBlock);
        let timeout = c.failure(Method::Get, "/io_work?delay=5", Failure::Io(timed_out()));
        assert!(matches!(timeout, Error::Timeout { after, .. } if after == Duration::from_secs(2)), "{timeout:?}");
        assert!(!timeout.is_connection_fatal());
        assert!(timeout.to_string().contains("GET /io_work?delay=5"), "{timeout}");
        let connecting = c.failure(Method::Get, "/ping", Failure::Connect(timed_out()));
        assert!(
            matches!(connecting, Error::Timeout { after, .. } if after == Duration::from_secs(10)),
            "{connecting:?}"
        );

        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let refused = c.failure(Method::Get, "/ping", Failure::Connect(refused));
        assert!(matches!(refused, Error::Connect { .. }) && refused.is_connection_fatal(), "{refused:?}");

        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let reset = c.failure(Method::Post, "/upload", Failure::Stale(reset));
        assert!(matches!(reset, Error::Io { .. }) && reset.is_connection_fatal(), "{reset:?}");

        let other = c.failure(Method::Get, "/ping", Failure::Protocol("garbage".into()));
        assert!(matches!(HttpError::of(&other), Some(HttpError::Exchange { .. })), "{other:?}");
        assert!(HttpClient::is_fatal(&other) && !other.is_connection_fatal(), "{other:?}");
        assert!(other.to_string().contains("garbage"), "{other}");
    }

    #[test]
    fn paths_that_would_break_the_request_line_are_refused() {
        for bad in ["ping", "/a b", "/a\r\nx: y", ""] {
            let e = client().get(bad).unwrap_err();
            assert!(
                matches!(HttpError::of(&e), Some(HttpError::Exchange { reason, .. }) if reason.contains("not a valid request path")),
                "{e:?}"
            );
        }
    }

    #[test]
    fn status_messages_and_numbers_read_as_people_expect() {
        assert_eq!(status_message(404, b" no route /x\n"), "Not Found: no route /x");
        assert_eq!(status_message(502, b""), "Bad Gateway");
        assert_eq!(status_message(599, b"odd"), "odd");
        assert_eq!(number(b"1024"), Some(1024));
        assert_eq!(number(b"-1"), None);
        assert_eq!(number(b"\xff"), None);
    }

    #[test]
    fn only_bytes_can_be_uploaded() {
        let e = client().call_upload(&Value::Int(3)).unwrap_err();
        assert!(matches!(e, Error::Type { .. }), "{e:?}");
    }
}
