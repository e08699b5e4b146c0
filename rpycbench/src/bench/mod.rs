//! Benchmark kinds and the load driver: latency, connection, bandwidth, transfer and
//! concurrent (closed and open loop), plus a measuring context for applications.
//!
//! Every kind takes a [`Target`] and a request function over its client (an RPyC
//! [`Connection`](crate::Connection) by default, or any [`Client`], such as the HTTP
//! baseline's), returns a [`BenchResult`](crate::metrics::BenchResult), and prints
//! nothing. Failures are results, not errors: a run against a dead server
//! returns a result whose success rate says so.

mod bandwidth;
mod client;
mod concurrent;
mod connection;
mod context;
mod guard;
mod latency;
mod network;
mod paired;
mod reference;
mod run;
mod sweep;
mod target;
mod transfer;

pub use bandwidth::{Bandwidth, DEFAULT_SIZES};
pub use client::{BuiltinCalls, Client};
pub use concurrent::{Concurrent, Load};
pub use connection::ConnectionBench;
pub use context::BenchmarkContext;
pub use guard::{interrupt, interrupted, BREAKER_TIMEOUTS};
pub use latency::Latency;
pub use paired::{Paired, PairedResult, DEFAULT_BLOCK_REQUESTS, DEFAULT_PAIRS};
pub use run::SYSTEM_SAMPLE_INTERVAL;
pub use sweep::Sweep;
pub use target::Target;
pub use transfer::{BuiltinTransfer, Transfer, TransferOps};

/// The payload benchmarks send (the built-in service's contract, owned by `server`).
pub use crate::server::payload;
