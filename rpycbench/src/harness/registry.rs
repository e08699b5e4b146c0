//! The registry of benchmarks declared with `#[rpyc_bench]`: plain `'static` data the
//! macro builds at compile time and `inventory` collects before `main`, so no central
//! list exists anywhere.
//!
//! This is the contract between `rpycbench-macros` and the harness; the macro only
//! ever emits `inventory::submit!` of a [`BenchDef`] through the hidden
//! `rpycbench::__private_0_1` path.

use crate::client::Connection;
use crate::error::Result;
use crate::server::{ServerMode, Service};
use crate::Value;
use std::sync::Arc;

/// One benchmark as declared.
#[derive(Debug)]
pub struct BenchDef {
    /// The function's name; tests are named `name[server]`.
    pub name: &'static str,
    /// `module_path!()` of the declaration.
    pub module_path: &'static str,
    /// `file!()` and `line!()` of the declaration, for messages.
    pub file: &'static str,
    /// Line of the declaration.
    pub line: u32,
    /// The benchmark kind and its parameters.
    pub kind: Kind,
    /// The servers to run against; empty means the native threaded server with the
    /// built-in benchmark service.
    pub servers: &'static [ServerChoice],
    /// `remote = "ENV"`: the environment variable naming the host (`user@host`) the
    /// servers start on over SSH; unset at run time, they start here.
    pub remote: Option<&'static str>,
    /// Bounds the run must meet.
    pub slas: &'static [Sla],
    /// Relative change (percent) beyond which a significant slowdown against the
    /// baseline is a regression; `None` uses the global default (10 %).
    pub regression_pct: Option<f64>,
    /// Marked `ignore`: run only with `--ignored` / `--include-ignored`.
    pub ignored: bool,
    /// The user's function, adapted to return `Result`.
    pub func: BenchFn,
}

/// A benchmark kind with the parameters its declaration set (see [`crate::bench`] for
/// their meaning). `None` is "not written": the builder's default applies
/// (`Latency::DEFAULT_REQUESTS`, …), so a benchmark declared with the attribute measures
/// what the same benchmark built by hand would, from one table of defaults.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// [`crate::bench::Latency`].
    Latency {
        /// Timed requests.
        requests: Option<u64>,
        /// Unmeasured requests first.
        warmup: Option<u64>,
        /// Run for this long instead of `requests`.
        duration_ms: Option<u64>,
    },
    /// [`crate::bench::ConnectionBench`]; the function is called once on each new
    /// connection, inside the timed part (the first round trip).
    Connection {
        /// Connections to open.
        connections: Option<u64>,
        /// Keep them all open until the end (the flag's presence).
        keep_open: bool,
    },
    /// [`crate::bench::Bandwidth`], one direction per function.
    Bandwidth {
        /// Payload sizes in bytes.
        sizes: Option<&'static [u64]>,
        /// Operations per size.
        iterations: Option<u32>,
        /// Unmeasured operations per size.
        warmup: Option<u32>,
    },
    /// [`crate::bench::Transfer`] of the built-in service, or whole transfers through
    /// the function.
    Transfer {
        /// File sizes in bytes.
        sizes: Option<&'static [u64]>,
        /// Chunk size.
        chunk_size: Option<u64>,
        /// Transfers per size.
        iterations: Option<u32>,
    },
    /// [`crate::bench::Concurrent`].
    Concurrent {
        /// Clients.
        clients: Option<u32>,
        /// Timed requests per client.
        requests_per_client: Option<u64>,
        /// Open-loop total rate; `None` is closed loop.
        rate: Option<f64>,
        /// Keep per-client statistics (the flag's presence).
        per_client: bool,
    },
}

/// Where a benchmark's server comes from.
#[derive(Debug, Clone, Copy)]
pub enum ServerChoice {
    /// A built-in mode serving the built-in benchmark service.
    Builtin(ServerMode),
    /// A Python service `module:Class`, found on `path` (relative to the crate's
    /// manifest directory), in a Python-backed mode.
    Python {
        /// `module:Class`.
        service: &'static str,
        /// Import path, relative to `CARGO_MANIFEST_DIR`.
        path: &'static str,
        /// `ServerMode::PythonThreaded` or `ServerMode::PythonForking`.
        mode: ServerMode,
    },
    /// A Rust [`Service`] of the user's, served natively by the benchmark binary itself
    /// (re-executed in its own process).
    Rust {
        /// A stable name for the service (the factory's path), used to find it again in
        /// the server process.
        name: &'static str,
        /// Makes the service.
        factory: fn() -> Arc<dyn Service>,
        /// `ServerMode::Threaded` or `ServerMode::Forking`.
        mode: ServerMode,
    },
    /// An already running server whose `HOST:PORT` is in this environment variable
    /// (e.g. a staging server). Unset: the benchmark fails with a clear message.
    External {
        /// The environment variable's name.
        env: &'static str,
    },
}

pub use crate::metrics::sla::{Sla, Stat};

/// The user's function, adapted to return `Result<()>`.
#[derive(Clone, Copy)]
pub enum BenchFn {
    /// One request (latency, concurrent) or the first use of a connection (connection).
    Request(fn(&mut Connection) -> Result<()>),
    /// A bandwidth or transfer upload of the given payload.
    Upload(fn(&mut Connection, &Value) -> Result<()>),
    /// A bandwidth or transfer download of the given size.
    Download(fn(&mut Connection, u64) -> Result<()>),
}

impl std::fmt::Debug for BenchFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BenchFn::Request(_) => "BenchFn::Request",
            BenchFn::Upload(_) => "BenchFn::Upload",
            BenchFn::Download(_) => "BenchFn::Download",
        })
    }
}

inventory::collect!(BenchDef);

/// Every registered benchmark, sorted by name for a stable order.
pub fn benchmarks() -> Vec<&'static BenchDef> {
    let mut all: Vec<&'static BenchDef> = inventory::iter::<BenchDef>.into_iter().collect();
    all.sort_by_key(|b| (b.name, b.module_path));
    all
}
