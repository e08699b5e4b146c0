//! What a benchmark drives: a connection of some protocol. RPyC's [`Connection`] is the
//! default; the HTTP baseline's client is another, so the same kinds measure both.

use crate::client::{Connection, WireCounters};
use crate::error::{Error, Result};
use crate::Value;

/// A client connection the benchmark kinds can drive. Opened by a
/// [`Target`](super::Target)'s factory, reopened by the kinds after a connection-fatal
/// error, and closed (untimed) at the end.
///
/// Every method is called outside the timed part of a request except
/// [`is_fatal`](Self::is_fatal), which is static so the request loop stays free of
/// dynamic calls.
pub trait Client: Sized {
    /// Whether [`wire_counters`](Self::wire_counters) counts real traffic; results of a
    /// client that does not carry no wire statistics (rather than zeros).
    const COUNTS_WIRE: bool;

    /// The first round trip that makes a freshly opened connection usable. The
    /// connection benchmark times opening plus this (RPyC: GETROOT).
    fn first_round_trip(&mut self) -> Result<()>;

    /// A cheap round trip proving the connection still works.
    fn check_alive(&mut self) -> Result<()>;

    /// Closes the connection; errors are of no interest at that point.
    fn disconnect(&mut self);

    /// What crossed this connection so far (zero when [`COUNTS_WIRE`](Self::COUNTS_WIRE)
    /// is false).
    fn wire_counters(&self) -> WireCounters;

    /// Whether the connection is unusable after `error` and must be reopened.
    fn is_fatal(error: &Error) -> bool {
        error.is_connection_fatal()
    }
}

/// The built-in benchmark service's calls that the suite's phases make, so one phase
/// runs against RPyC and HTTP alike.
pub trait BuiltinCalls: Client {
    /// `ping()`: `"pong"`.
    fn call_ping(&mut self) -> Result<()>;
    /// `upload(data)`: the server answers `len(data)`. `payload` is made once per size,
    /// before timing.
    fn call_upload(&mut self, payload: &Value) -> Result<()>;
    /// `download(size)`: `size` bytes.
    fn call_download(&mut self, size: u64) -> Result<()>;
}

impl Client for Connection {
    const COUNTS_WIRE: bool = true;

    fn first_round_trip(&mut self) -> Result<()> {
        self.root().map(drop)
    }

    fn check_alive(&mut self) -> Result<()> {
        self.ping().map(drop)
    }

    fn disconnect(&mut self) {
        let _ = self.close();
    }

    fn wire_counters(&self) -> WireCounters {
        self.counters()
    }
}

impl BuiltinCalls for Connection {
    fn call_ping(&mut self) -> Result<()> {
        self.call("ping", ()).map(drop)
    }

    fn call_upload(&mut self, payload: &Value) -> Result<()> {
        self.call("upload", (payload.clone(),)).map(drop)
    }

    fn call_download(&mut self, size: u64) -> Result<()> {
        self.call("download", (size,)).map(drop)
    }
}
