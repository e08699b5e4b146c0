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
//! Run the server as its own process with `rpycbench serve --mode http`, or from Rust
//! with [`ServerSpec::new(ServerMode::Http)`](crate::server::ServerSpec):
//!
//! ```no_run
//! use rpycbench::bench::Latency;
//! use rpycbench::http;
//! use rpycbench::server::{ServerMode, ServerSpec};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = ServerSpec::new(ServerMode::Http).start()?;
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

mod client;
mod exchange;
mod routes;
mod server;

pub use client::{HttpClient, HttpConfig};
pub use routes::MAX_BODY_BYTES;
pub use server::serve_http;

use crate::bench::Target;
use crate::metrics::ServerInfo;
use crate::server::ServerHandle;
use std::net::SocketAddr;

/// A target for an HTTP baseline server started with
/// [`ServerSpec`](crate::server::ServerSpec): recorded as mode `http`, backend `hyper`,
/// its process sampled. Each client is one keep-alive connection with default timeouts.
pub fn target(handle: &ServerHandle) -> Target<HttpClient> {
    target_with(handle, HttpConfig::default())
}

/// Like [`target`], with the clients' timeouts.
pub fn target_with(handle: &ServerHandle, config: HttpConfig) -> Target<HttpClient> {
    let poll = config.reply_poll;
    Target::server_with(handle, move |addr| Ok(HttpClient::with_config(addr, config.clone()))).with_reply_poll(poll)
}

/// A target for an HTTP baseline server already running at `addr` (recorded as mode
/// `http`, backend `unknown`).
pub fn address_target(addr: SocketAddr, config: HttpConfig) -> Target<HttpClient> {
    let info = ServerInfo { mode: "http".into(), backend: "unknown".into(), address: Some(addr.to_string()) };
    let poll = config.reply_poll;
    Target::factory(info, move || Ok(HttpClient::with_config(addr, config.clone()))).with_reply_poll(poll)
}

#[cfg(test)]
mod tests {
    use crate::server::ServerMode;

    #[test]
    fn http_is_a_server_mode_of_its_own() {
        let mode: ServerMode = "http".parse().unwrap();
        assert_eq!(mode, ServerMode::Http);
        assert_eq!((mode.name(), mode.backend()), ("http", "hyper"));
        assert!(!mode.is_rpyc() && !mode.is_python() && !mode.is_forking());
        assert!(ServerMode::ALL.iter().filter(|m| **m != mode).all(|m| m.is_rpyc()));
        let unknown = "gopher".parse::<ServerMode>().unwrap_err().to_string();
        assert!(unknown.contains("or http"), "{unknown}");
    }
}
