//! The HTTP baseline's routes (listed in the module docs of [`crate::http`]): the
//! built-in RPyC benchmark service's operations, with the same semantics (see the table
//! in ARCHITECTURE.md and `server/builtin.rs`).
//! Every problem is a 4xx with a plain-text explanation, never a dropped connection.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use std::convert::Infallible;
use std::time::Duration;

/// The largest request body (`echo`, `upload`) and `download` size served: 256 MiB.
/// Far above the suite's payloads, low enough that no client can make a connection
/// thread allocate without bound.
pub const MAX_BODY_BYTES: u64 = 256 << 20;

/// The longest `io_work` delay: past a day it is a mistake, not a benchmark (as in the
/// RPyC service).
const MAX_DELAY_SECS: f64 = 86_400.0;

/// The routes, for the 404 message.
const ROUTES: &str =
    "GET /ping, POST /echo, POST /upload, GET /download?size=N, GET /cpu_work?iterations=N, GET /io_work?delay=SECONDS";

/// A response: a status and a whole body.
pub(crate) type Reply = Response<Full<Bytes>>;

/// Answers one request. Never fails: every problem is a 4xx response with a message.
pub(crate) async fn handle(req: Request<Incoming>) -> Result<Reply, Infallible> {
    Ok(match route(req).await {
        Ok(reply) => reply,
        Err(refusal) => refusal.into_reply(),
    })
}

/// Why a request was refused: a status and a message for the client.
#[derive(Debug, PartialEq)]
pub(crate) struct Refusal {
    status: StatusCode,
    message: String,
    allow: Option<&'static str>,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal { status, message: message.into(), allow: None }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Refusal::new(StatusCode::BAD_REQUEST, message)
    }

    fn too_large(what: &str) -> Self {
        Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, format!("{what} is over the limit of {MAX_BODY_BYTES} bytes"))
    }

    fn into_reply(self) -> Reply {
        let mut reply = text(self.status, self.message);
        if let Some(allow) = self.allow {
            reply.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
        }
        reply
    }
}

/// The operations, by path.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Route {
    Ping,
    Echo,
    Upload,
    Download,
    CpuWork,
    IoWork,
}

impl Route {
    fn of(path: &str) -> Option<Route> {
        Some(match path {
            "/ping" => Route::Ping,
            "/echo" => Route::Echo,
            "/upload" => Route::Upload,
            "/download" => Route::Download,
            "/cpu_work" => Route::CpuWork,
            "/io_work" => Route::IoWork,
            _ => return None,
        })
    }

    /// The one method each route takes: reads are GET, requests with a body POST.
    fn method(self) -> &'static str {
        match self {
            Route::Echo | Route::Upload => "POST",
            _ => "GET",
        }
    }
}

async fn route(req: Request<Incoming>) -> Result<Reply, Refusal> {
    let path = req.uri().path();
    let route = Route::of(path)
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, format!("no route {path}; the routes are {ROUTES}")))?;
    let allowed = route.method();
    if req.method().as_str() != allowed {
        let mut refusal =
            Refusal::new(StatusCode::METHOD_NOT_ALLOWED, format!("{path} takes {allowed}, not {}", req.method()));
        refusal.allow = Some(allowed);
        return Err(refusal);
    }
    let query = Query::parse(req.uri().query().unwrap_or(""));
    match route {
        Route::Ping => {
            query.only(&[])?;
            Ok(text(StatusCode::OK, "pong"))
        }
        Route::Echo => {
            query.only(&[])?;
            Ok(bytes(body(req).await?))
        }
        Route::Upload => {
            query.only(&[])?;
            Ok(text(StatusCode::OK, body(req).await?.len().to_string()))
        }
        Route::Download => {
            query.only(&["size"])?;
            let size: u64 = query.number("size")?.ok_or_else(|| Refusal::bad_request("download needs ?size=N"))?;
            if size > MAX_BODY_BYTES {
                return Err(Refusal::too_large(&format!("download size {size}")));
            }
            Ok(bytes(Bytes::from(crate::bench::payload(size))))
        }
        Route::CpuWork => {
            query.only(&["iterations"])?;
            let iterations: u64 = query.number("iterations")?.unwrap_or(100_000);
            // On this connection's own thread, like the RPyC threaded server's call.
            Ok(text(StatusCode::OK, crate::server::cpu_work(iterations)))
        }
        Route::IoWork => {
            query.only(&["delay"])?;
            let delay: f64 = query.number("delay")?.unwrap_or(0.01);
            if !(0.0..=MAX_DELAY_SECS).contains(&delay) {
                return Err(Refusal::bad_request(format!(
                    "io_work delay must be between 0 and {MAX_DELAY_SECS} seconds, got {delay}"
                )));
            }
            tokio::time::sleep(Duration::from_secs_f64(delay)).await;
            Ok(text(StatusCode::OK, "data"))
        }
    }
}

/// The request body, refused with a 413 past [`MAX_BODY_BYTES`] (before reading when
/// the client announced its length, while reading otherwise).
async fn body(req: Request<Incoming>) -> Result<Bytes, Refusal> {
    let announced = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(Refusal::too_large("the request body"));
    }
    match Limited::new(req.into_body(), MAX_BODY_BYTES as usize).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(Refusal::too_large("the request body")),
        Err(e) => Err(Refusal::bad_request(format!("cannot read the request body: {e}"))),
    }
}

fn text(status: StatusCode, body: impl Into<String>) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body.into())));
    *reply.status_mut() = status;
    reply.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    reply
}

fn bytes(body: Bytes) -> Reply {
    let mut reply = Response::new(Full::new(body));
    reply.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    reply
}

/// A query string's `key=value` pairs (numbers only here, so no percent-decoding).
#[derive(Debug)]
pub(crate) struct Query<'q>(Vec<(&'q str, &'q str)>);

impl<'q> Query<'q> {
    pub(crate) fn parse(query: &'q str) -> Self {
        Query(query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, ""))).collect())
    }

    /// Refuses parameters other than `known`, as a Python call refuses unexpected
    /// keyword arguments.
    pub(crate) fn only(&self, known: &[&str]) -> Result<(), Refusal> {
        match self.0.iter().find(|(k, _)| !known.contains(k)) {
            Some((k, _)) if known.is_empty() => Err(Refusal::bad_request(format!("unexpected parameter '{k}'"))),
            Some((k, _)) => {
                Err(Refusal::bad_request(format!("unexpected parameter '{k}' (expected {})", known.join(" or "))))
            }
            None => Ok(()),
        }
    }

    /// The value of `key` as a number, `None` when absent.
    pub(crate) fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, Refusal> {
        let mut values = self.0.iter().filter(|(k, _)| *k == key).map(|(_, v)| *v);
        let Some(value) = values.next() else { return Ok(None) };
        if values.next().is_some() {
            return Err(Refusal::bad_request(format!("parameter '{key}' is given more than once")));
        }
        value.parse().map(Some).map_err(|_| {
            Refusal::bad_request(format!("parameter '{key}' must be a non-negative number, got '{value}'"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_numbers_and_refuse_the_rest() {
        let q = Query::parse("size=1024");
        assert_eq!(q.number::<u64>("size"), Ok(Some(1024)));
        assert_eq!(q.number::<u64>("other"), Ok(None));
        assert!(q.only(&["size"]).is_ok());
        assert!(q.only(&[]).unwrap_err().message.contains("unexpected parameter 'size'"));

        let bad = Query::parse("size=-1").number::<u64>("size").unwrap_err();
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.message.contains("got '-1'"), "{}", bad.message);
        assert!(Query::parse("size=1&size=2").number::<u64>("size").is_err());
        assert!(Query::parse("size").number::<u64>("size").is_err());
        assert_eq!(Query::parse("delay=1e-3").number::<f64>("delay"), Ok(Some(0.001)));
        assert_eq!(Query::parse("").0.len(), 0);
    }

    #[test]
    fn a_refusal_carries_its_status_message_and_allow_header() {
        let mut r = Refusal::new(StatusCode::METHOD_NOT_ALLOWED, "use GET");
        r.allow = Some("GET");
        let reply = r.into_reply();
        assert_eq!(reply.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.headers()[ALLOW], "GET");
        assert_eq!(Refusal::too_large("x").status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
