//! The HTTP baseline: what the RPyC servers are compared with in the suite.
//!
//! An HTTP/1.1 keep-alive server on hyper and tokio, threaded like the native threaded
//! RPyC server (one OS thread per connection), serving the built-in RPyC benchmark
//! service's operations as [routes](self#routes); and a blocking keep-alive client
//! (one `send` and one `recv` per request, as the RPyC connection) that the benchmark
//! kinds drive like an RPyC connection (it implements
//! [`bench::Client`](crate::bench::Client)). A non-2xx status, a timeout or a refused
//! connection is an error, so a benchmark counts it as a failure.
//!
//! It is a peer of the RPyC servers, not one of their modes: the RPyC layers below know
//! nothing of it, and the command (`rpycbench serve --mode http`, the suite) chooses it.
//! From Rust, start it as its own process with [`HttpServerSpec`]:
//!
//! ```no_run
//! use rpycbench::bench::Latency;
//! use rpycbench::http::{self, HttpServerSpec};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = HttpServerSpec::new().start()?;
//! let result = Latency::new("ping[http]").requests(1000).run(&http::target(&server), |c| c.ping());
//! println!("p50 = {} ns", result.latency.unwrap().p50_ns);
//! # Ok(()) }
//! ```
//!
//! # Routes
//!
//! | route | answers |
//! |---|---|
//! | `GET /ping` | `pong` |
//! | `POST /echo` | the request body |
//! | `POST /upload` | the body's length in bytes, as decimal text |
//! | `GET /download?size=N` | the same `N` bytes as RPyC's `download` ([`payload_block`](crate::server::payload_block) repeated) |
//! | `GET /cpu_work?iterations=N` | the same 16 hex digits as RPyC's `cpu_work(N)` (default 100000) |
//! | `GET /io_work?delay=SECONDS` | `data` after sleeping (default 0.01 s) |
//!
//! A bad query is a 400, an unknown route a 404, a wrong method a 405 and a body over
//! [`MAX_BODY_BYTES`] a 413, each with a plain-text explanation.

mod child;
mod client;
mod error;
mod exchange;
mod routes;
mod server;

pub use client::{HttpClient, HttpConfig};
pub use error::HttpError;
pub use routes::MAX_BODY_BYTES;
pub use server::serve_http;

use crate::bench::Target;
use crate::metrics::ServerInfo;
use crate::server::remote::{Launch, RemoteServer, RemoteSession};
use crate::server::{
    listen_announced, start_serving_child, RunningServer, ServeError, Served, ServerError, ServerHandle,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How results record the HTTP baseline's server.
pub const SERVED: Served = Served { name: child::MODE, backend: "hyper", compression: None, payload: None };

/// An HTTP baseline server to start as its own process: the counterpart of
/// [`ServerSpec`](crate::server::ServerSpec) for the RPyC servers, with the same
/// defaults (127.0.0.1, an ephemeral port, ready within 20 s) and the same lifetime
/// (stopped with its [`ServerHandle`], killed if this process dies).
#[derive(Clone, Debug)]
pub struct HttpServerSpec {
    /// Address to bind.
    pub host: String,
    /// Port to bind (0: an ephemeral port).
    pub port: u16,
    /// Connections served at once; `None` is the native servers' default cap.
    pub max_connections: Option<usize>,
    /// The binary to run it in (default: found as for the native RPyC servers).
    pub binary: Option<PathBuf>,
    /// How long it may take to become ready.
    pub startup_timeout: Duration,
}

impl Default for HttpServerSpec {
    fn default() -> Self {
        HttpServerSpec {
            host: "127.0.0.1".into(),
            port: 0,
            max_connections: None,
            binary: None,
            startup_timeout: Duration::from_secs(20),
        }
    }
}

impl HttpServerSpec {
    /// A server on 127.0.0.1 and an ephemeral port.
    pub fn new() -> Self {
        HttpServerSpec::default()
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) -> Result<ServerHandle, ServerError> {
        child::link_hook();
        let mut args = vec!["--mode".to_owned(), child::MODE.to_owned()];
        if let Some(max) = self.max_connections {
            args.extend(["--max-connections".to_owned(), max.to_string()]);
        }
        start_serving_child(SERVED, &self.host, self.port, &args, self.binary.as_deref(), self.startup_timeout)
    }

    /// Starts the server on the session's host instead (see
    /// [`RemoteServer::start`](crate::server::remote::RemoteServer::start); `host` is
    /// then the session's `bind`), with its companion there.
    pub fn start_remote(&self, session: Arc<RemoteSession>) -> Result<RemoteServer, ServerError> {
        child::link_hook();
        let mut args = vec!["--mode".to_owned(), child::MODE.to_owned()];
        if let Some(max) = self.max_connections {
            args.extend(["--max-connections".to_owned(), max.to_string()]);
        }
        let launch = Launch {
            name: SERVED.name,
            served: SERVED,
            args,
            exit_with_stdin: true,
            timeout: self.startup_timeout,
            deployed: None,
        };
        let mut server = RemoteServer::launch(session, self.binary.as_deref(), self.port, launch)?;
        server.start_probe(self.binary.as_deref());
        Ok(server)
    }
}

/// Runs the HTTP baseline server in this process: binds, prints `listening on
/// HOST:PORT`, and serves until SIGTERM or SIGINT (what `rpycbench serve --mode http`
/// runs). `max_connections` is as for the native servers (`None`: their default cap).
pub fn serve(host: &str, port: u16, max_connections: Option<usize>) -> Result<(), ServeError> {
    let (listener, stop) = listen_announced(host, port)?;
    let max = max_connections.or(Some(crate::server::default_max_connections(1)));
    serve_http(listener, max, stop).map_err(|source| ServeError::Io { addr: format!("{host}:{port}"), source })
}

/// A target for an HTTP baseline server started with [`HttpServerSpec`]: recorded as
/// mode `http`, backend `hyper`, its process sampled. Each client is one keep-alive connection with default timeouts.
pub fn target(handle: &(impl RunningServer + ?Sized)) -> Target<HttpClient> {
    target_with(handle, HttpConfig::default())
}

/// Like [`target`], with the clients' timeouts.
pub fn target_with(handle: &(impl RunningServer + ?Sized), config: HttpConfig) -> Target<HttpClient> {
    let poll = config.reply_poll;
    Target::server_with(handle, move |addr| Ok(HttpClient::with_config(addr, config.clone()))).with_reply_poll(poll)
}

/// A target for an HTTP baseline server already running at `addr` (recorded as mode
/// `http`, backend `unknown`).
pub fn address_target(addr: SocketAddr, config: HttpConfig) -> Target<HttpClient> {
    let info = ServerInfo::new("http", "unknown", Some(addr.to_string()));
    let poll = config.reply_poll;
    Target::factory(info, move || Ok(HttpClient::with_config(addr, config.clone()))).with_reply_poll(poll)
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_is_not_a_server_mode() {
        assert!("http".parse::<crate::server::ServerMode>().is_err());
        assert_eq!((super::SERVED.name, super::SERVED.backend), ("http", "hyper"));
        // The native servers' hook leaves this mode to this layer's hook.
        assert!(crate::server::child::MODES_SERVED_ELSEWHERE.contains(&super::child::MODE));
    }
}
