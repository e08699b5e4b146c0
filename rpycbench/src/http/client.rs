//! The HTTP baseline's client: blocking HTTP/1.1 with keep-alive, on `ureq`.
//!
//! `ureq` is a small, well-kept blocking client: no async runtime or helper thread
//! between the benchmark's clock and the socket, which is what a fair comparison with
//! the blocking RPyC [`Connection`](crate::Connection) needs. Each [`HttpClient`] has an
//! agent of its own, so it holds exactly one TCP connection, reused across requests,
//! and a new client is a new TCP connection (what the connection benchmark measures).

use crate::bench::{BuiltinCalls, Client};
use crate::client::WireCounters;
use crate::error::{Error, Result};
use crate::Value;
use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;
use ureq::http::{Response, StatusCode, Uri};
use ureq::{Agent, Body};

/// How an [`HttpClient`] waits.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// How long opening the TCP connection may take (default 10 s, as RPyC's).
    pub connect_timeout: Duration,
    /// How long each phase of a request (sending it, waiting for the response head,
    /// reading the body) may take (default 30 s, as RPyC's request timeout).
    pub request_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { connect_timeout: Duration::from_secs(10), request_timeout: Duration::from_secs(30) }
    }
}

impl HttpConfig {
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

    fn agent(&self) -> Agent {
        let t = Some(self.request_timeout);
        // Phase timeouts, not a global or per-call one: with either of those, ureq
        // resolves the host on a new thread for every request (even an IP address),
        // which would put a thread spawn inside every measured request.
        Agent::config_builder()
            .timeout_connect(Some(self.connect_timeout))
            .timeout_send_request(t)
            .timeout_send_body(t)
            .timeout_recv_response(t)
            .timeout_recv_body(t)
            // Statuses are checked here, with the server's explanation in the error.
            .http_status_as_error(false)
            // A benchmark of 127.0.0.1 must not go through a proxy from the environment.
            .proxy(None)
            .max_redirects(0)
            .max_idle_connections_per_host(1)
            .build()
            .into()
    }
}

/// The URIs of the fixed routes, parsed once: cloning a `Uri` is cheap, parsing is not.
struct Routes {
    ping: Uri,
    echo: Uri,
    upload: Uri,
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
    agent: Agent,
    config: HttpConfig,
    peer: String,
    routes: Routes,
    /// Where downloads are read to: counted, not kept, so a download allocates nothing.
    scratch: Vec<u8>,
}

/// The most of a body that short answers (and error explanations) may have.
const SHORT_BODY: usize = 4096;

impl HttpClient {
    /// A client of the server at `addr`, with default timeouts. Opens nothing yet.
    pub fn new(addr: SocketAddr) -> HttpClient {
        HttpClient::with_config(addr, HttpConfig::default())
    }

    /// A client of the server at `addr`.
    pub fn with_config(addr: SocketAddr, config: HttpConfig) -> HttpClient {
        let peer = addr.to_string();
        let uri = |path: &str| -> Uri {
            // A socket address and a fixed path always make a valid URI.
            format!("http://{peer}{path}").parse().expect("a valid URI")
        };
        let routes = Routes { ping: uri("/ping"), echo: uri("/echo"), upload: uri("/upload") };
        HttpClient { agent: config.agent(), config, routes, peer, scratch: vec![0; 64 << 10] }
    }

    /// The server's address.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// `GET /ping`; checks the answer is `pong`.
    pub fn ping(&mut self) -> Result<()> {
        let uri = self.routes.ping.clone();
        let response = self.agent.get(uri).call();
        let answer = self.short_answer("GET", &self.routes.ping, response)?;
        if answer != b"pong" {
            return Err(self.unexpected("GET", &self.routes.ping, &answer, "\"pong\""));
        }
        Ok(())
    }

    /// `POST /echo`: the body back.
    pub fn echo(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let response = self.agent.post(self.routes.echo.clone()).send(data);
        let mut response = self.checked("POST", &self.routes.echo, response)?;
        let limit = data.len() as u64 + 1;
        let read = response.body_mut().with_config().limit(limit).read_to_vec();
        read.map_err(|e| self.failure("POST", &self.routes.echo, e))
    }

    /// `POST /upload`: the length the server counted.
    pub fn upload(&mut self, data: &[u8]) -> Result<u64> {
        let response = self.agent.post(self.routes.upload.clone()).send(data);
        let answer = self.short_answer("POST", &self.routes.upload, response)?;
        number(&answer).ok_or_else(|| self.unexpected("POST", &self.routes.upload, &answer, "a length"))
    }

    /// `GET /download?size=N`: reads the `N` bytes (counting them, keeping none) and
    /// checks that exactly `N` arrived.
    pub fn download(&mut self, size: u64) -> Result<()> {
        let uri = self.uri(&format!("/download?size={size}"))?;
        let response = self.agent.get(uri.clone()).call();
        let mut response = self.checked("GET", &uri, response)?;
        let mut reader = response.body_mut().as_reader();
        let mut got = 0u64;
        loop {
            match reader.read(&mut self.scratch) {
                Ok(0) => break,
                Ok(n) => got += n as u64,
                Err(e) => return Err(self.io_failure("GET", &uri, e)),
            }
        }
        if got != size {
            return Err(Error::Http {
                peer: self.peer.clone(),
                request: request("GET", &uri),
                reason: format!("{got} bytes arrived instead of {size}"),
            });
        }
        Ok(())
    }

    /// `GET /download?size=N`, keeping the bytes.
    pub fn download_bytes(&mut self, size: u64) -> Result<Vec<u8>> {
        let uri = self.uri(&format!("/download?size={size}"))?;
        let response = self.agent.get(uri.clone()).call();
        let mut response = self.checked("GET", &uri, response)?;
        let read = response.body_mut().with_config().limit(size.saturating_add(1)).read_to_vec();
        read.map_err(|e| self.failure("GET", &uri, e))
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
        let uri = self.uri(path_and_query)?;
        let response = self.agent.get(uri.clone()).call();
        self.short_answer("GET", &uri, response)
    }

    fn uri(&self, path_and_query: &str) -> Result<Uri> {
        format!("http://{}{path_and_query}", self.peer).parse().map_err(|e| Error::Http {
            peer: self.peer.clone(),
            request: format!("GET {path_and_query}"),
            reason: format!("not a valid request path: {e}"),
        })
    }

    /// The response if its status is 2xx, else [`Error::HttpStatus`] with the start of
    /// the server's explanation.
    fn checked(
        &self,
        method: &str,
        uri: &Uri,
        response: std::result::Result<Response<Body>, ureq::Error>,
    ) -> Result<Response<Body>> {
        let mut response = response.map_err(|e| self.failure(method, uri, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut message = Vec::new();
        // Read (a bounded part of) the explanation; reading it all keeps the
        // connection reusable.
        let _ = response.body_mut().as_reader().take(SHORT_BODY as u64).read_to_end(&mut message);
        Err(Error::HttpStatus {
            peer: self.peer.clone(),
            request: request(method, uri),
            status: status.as_u16(),
            message: status_message(status, &message),
        })
    }

    /// A 2xx response's whole body, at most [`SHORT_BODY`] bytes.
    fn short_answer(
        &self,
        method: &str,
        uri: &Uri,
        response: std::result::Result<Response<Body>, ureq::Error>,
    ) -> Result<Vec<u8>> {
        let mut response = self.checked(method, uri, response)?;
        let read = response.body_mut().with_config().limit(SHORT_BODY as u64).read_to_vec();
        read.map_err(|e| self.failure(method, uri, e))
    }

    fn unexpected(&self, method: &str, uri: &Uri, answer: &[u8], wanted: &str) -> Error {
        Error::Http {
            peer: self.peer.clone(),
            request: request(method, uri),
            reason: format!("expected {wanted}, got {:?}", String::from_utf8_lossy(answer)),
        }
    }

    fn io_failure(&self, method: &str, uri: &Uri, e: std::io::Error) -> Error {
        // ureq's body reader wraps its own errors (a timeout among them) in io::Error;
        // a plain socket error comes as it is.
        if !e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
            return self.failure(method, uri, ureq::Error::Io(e));
        }
        match e.into_inner().map(|inner| inner.downcast::<ureq::Error>()) {
            Some(Ok(inner)) => self.failure(method, uri, *inner),
            // Checked just above; kept as an error rather than a panic all the same.
            _ => Error::Http {
                peer: self.peer.clone(),
                request: request(method, uri),
                reason: "reading the body failed".into(),
            },
        }
    }

    /// The crate's error for what ureq reported: refused and unreachable are
    /// [`Error::Connect`], timeouts [`Error::Timeout`], broken sockets [`Error::Io`],
    /// anything else [`Error::Http`]; all but the timeout make the connection reopen.
    fn failure(&self, method: &str, uri: &Uri, e: ureq::Error) -> Error {
        let peer = self.peer.clone();
        match e {
            ureq::Error::Timeout(phase) => {
                let after = if phase == ureq::Timeout::Connect {
                    self.config.connect_timeout
                } else {
                    self.config.request_timeout
                };
                Error::Timeout { peer, what: request(method, uri), after }
            }
            ureq::Error::Io(source) if is_connect_error(&source) => Error::Connect { addr: peer, source },
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                Error::Connect { addr: peer, source: std::io::Error::other(e.to_string()) }
            }
            ureq::Error::Io(source) => Error::Io { peer, doing: "an HTTP request", source },
            other => Error::Http { peer, request: request(method, uri), reason: other.to_string() },
        }
    }
}

fn is_connect_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | AddrNotAvailable | HostUnreachable | NetworkUnreachable)
}

/// `METHOD /path?query`, for messages.
fn request(method: &str, uri: &Uri) -> String {
    format!("{method} {}", uri.path_and_query().map_or("/", |p| p.as_str()))
}

fn status_message(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match (status.canonical_reason(), text.is_empty()) {
        (Some(reason), true) => reason.to_owned(),
        (Some(reason), false) => format!("{reason}: {text}"),
        (None, _) => text.to_owned(),
    }
}

fn number(answer: &[u8]) -> Option<u64> {
    std::str::from_utf8(answer).ok()?.trim().parse().ok()
}

impl Client for HttpClient {
    /// ureq counts no bytes; HTTP results carry no wire statistics.
    const COUNTS_WIRE: bool = false;

    /// `GET /ping`: the TCP connect happens here, with the first request.
    fn first_round_trip(&mut self) -> Result<()> {
        self.ping()
    }

    fn check_alive(&mut self) -> Result<()> {
        self.ping()
    }

    fn disconnect(&mut self) {
        // A fresh agent drops the old one's pooled connection, closing it now.
        self.agent = self.config.agent();
    }

    fn wire_counters(&self) -> WireCounters {
        WireCounters::default()
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
        Err(Error::Http {
            peer: self.peer.clone(),
            request: "POST /upload".into(),
            reason: format!("the server counted {counted} bytes of {}", data.len()),
        })
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
    fn ureq_errors_become_the_crates_errors() {
        let c = client();
        let uri: Uri = "http://127.0.0.1:9/io_work?delay=5".parse().unwrap();
        let timeout = c.failure("GET", &uri, ureq::Error::Timeout(ureq::Timeout::RecvResponse));
        assert!(matches!(timeout, Error::Timeout { after, .. } if after == Duration::from_secs(2)), "{timeout:?}");
        assert!(!timeout.is_connection_fatal());
        assert!(timeout.to_string().contains("GET /io_work?delay=5"), "{timeout}");

        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let refused = c.failure("GET", &uri, ureq::Error::Io(refused));
        assert!(matches!(refused, Error::Connect { .. }) && refused.is_connection_fatal(), "{refused:?}");

        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let reset = c.failure("GET", &uri, ureq::Error::Io(reset));
        assert!(matches!(reset, Error::Io { .. }) && reset.is_connection_fatal(), "{reset:?}");

        // Errors while reading a body arrive wrapped in io::Error, or as plain socket errors.
        let wrapped = std::io::Error::new(std::io::ErrorKind::TimedOut, ureq::Error::Timeout(ureq::Timeout::RecvBody));
        assert!(matches!(c.io_failure("GET", &uri, wrapped), Error::Timeout { .. }));
        let cut = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert!(matches!(c.io_failure("GET", &uri, cut), Error::Io { .. }));

        let other = c.failure("GET", &uri, ureq::Error::BadUri("x".into()));
        assert!(matches!(other, Error::Http { .. }) && other.is_connection_fatal(), "{other:?}");
    }

    #[test]
    fn status_messages_and_numbers_read_as_people_expect() {
        assert_eq!(status_message(StatusCode::NOT_FOUND, b" no route /x\n"), "Not Found: no route /x");
        assert_eq!(status_message(StatusCode::BAD_GATEWAY, b""), "Bad Gateway");
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
