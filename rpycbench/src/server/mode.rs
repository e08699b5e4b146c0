//! Which server model runs a benchmark.

use std::fmt;
use std::str::FromStr;

/// A server model: native (this crate's Rust servers) or Python-backed (a real
/// `rpyc` server process).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerMode {
    /// One thread per connection, native (RPyC's ThreadedServer model).
    Threaded,
    /// One forked process per connection, native (RPyC's ForkingServer model).
    Forking,
    /// A Python `rpyc.ThreadedServer`.
    PythonThreaded,
    /// A Python `rpyc.ForkingServer`.
    PythonForking,
}

impl ServerMode {
    /// Every mode.
    pub const ALL: [ServerMode; 4] =
        [ServerMode::Threaded, ServerMode::Forking, ServerMode::PythonThreaded, ServerMode::PythonForking];

    /// The name used on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            ServerMode::Threaded => "threaded",
            ServerMode::Forking => "forking",
            ServerMode::PythonThreaded => "python-threaded",
            ServerMode::PythonForking => "python-forking",
        }
    }

    /// Whether a Python interpreter runs it.
    pub fn is_python(self) -> bool {
        matches!(self, ServerMode::PythonThreaded | ServerMode::PythonForking)
    }

    /// Whether each connection gets its own process.
    pub fn is_forking(self) -> bool {
        matches!(self, ServerMode::Forking | ServerMode::PythonForking)
    }

    /// What implements the protocol on the server side: `"rust"` or `"python"`.
    pub fn backend(self) -> &'static str {
        if self.is_python() {
            "python"
        } else {
            "rust"
        }
    }
}

impl fmt::Display for ServerMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A mode name that is not one of [`ServerMode::ALL`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown server mode '{0}': expected threaded, forking, python-threaded or python-forking")]
pub struct UnknownMode(pub String);

impl FromStr for ServerMode {
    type Err = UnknownMode;
    fn from_str(s: &str) -> Result<Self, UnknownMode> {
        ServerMode::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| UnknownMode(s.to_string()))
    }
}
