//! The crate's error type: what went wrong talking to a peer, and what to do about it.

use crate::wire::{EncodeError, FrameError, MessageError, RemoteException};
use std::time::Duration;

/// `Result` with [`Error`] as the default error, the return type of benchmark functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong on a connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection could not be opened.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address as given.
        addr: String,
        /// Why the connect failed (refused, timed out, unresolvable, …).
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("connection to {peer} failed while {doing}: {source}")]
    Io {
        /// The peer's address.
        peer: String,
        /// What the connection was doing.
        doing: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The peer closed the connection (EOF or CLOSE) while a reply was still expected.
    #[error("connection to {peer} closed by the peer while {doing}")]
    Closed {
        /// The peer's address.
        peer: String,
        /// What the connection was doing.
        doing: &'static str,
    },
    /// No reply arrived in time. The connection stays usable; a late reply is dropped.
    #[error(
        "no reply from {peer} to {what} within {after:?} (raise the request timeout if the call is legitimately slow)"
    )]
    Timeout {
        /// The peer's address.
        peer: String,
        /// The request that timed out.
        what: String,
        /// The timeout in force.
        after: Duration,
    },
    /// A served peer stayed silent past the server's limit (`Config::silence`): it sent
    /// part of a frame and then nothing, or nothing at all. The connection is closed.
    #[error(
        "{peer} sent {} for {after:?}; its connection is closed (the server's {} limit)",
        if *.mid_frame { "part of a frame and then nothing" } else { "nothing" },
        if *.mid_frame { "stall" } else { "idle" }
    )]
    Silent {
        /// The peer's address.
        peer: String,
        /// The limit that ran out.
        after: Duration,
        /// Whether the peer stopped in the middle of a frame.
        mid_frame: bool,
    },
    /// The peer raised an exception: its module, class, arguments and traceback.
    #[error("remote {}\n\n--- remote traceback ---\n{}", .0, .0.traceback)]
    Remote(Box<RemoteException>),
    /// The peer sent bytes that are not valid RPyC; the connection is unusable.
    #[error("protocol error from {peer}: {source}")]
    Protocol {
        /// The peer's address.
        peer: String,
        /// What was wrong with the frame or message.
        source: ProtocolError,
    },
    /// A value cannot be sent to a Python peer.
    #[error("cannot encode value: {0}")]
    Encode(#[from] EncodeError),
    /// A result did not have the type the caller asked for.
    #[error("expected {expected}, got {got}")]
    Type {
        /// The Rust or Python type that was expected.
        expected: &'static str,
        /// What arrived, as Python would write it.
        got: String,
    },
    /// The connection was closed by this side; open a new one.
    #[error("connection already closed")]
    AlreadyClosed,
    /// An operation that this side does not support (e.g. a Python-only handler).
    #[error("{0}")]
    Unsupported(String),
    /// Something a request asked for would take more memory than the connection's
    /// budget ([`Limits::max_connection_memory`](crate::wire::Limits)); the request
    /// fails with `MemoryError` and the connection stays usable.
    #[error(
        "{what} would take {needed} bytes, more than the connection's memory budget of {budget} bytes \
         (Limits::max_connection_memory; on a server, `rpycbench serve --memory-budget`)"
    )]
    MemoryBudget {
        /// What would have been built.
        what: &'static str,
        /// The bytes it would take.
        needed: u64,
        /// The budget in force.
        budget: usize,
    },
    /// A failure from outside RPyC: another protocol's client the benchmark kinds drive
    /// (the HTTP baseline's `rpycbench::http::HttpError`, feature `http`), or what a
    /// benchmark function failed with when it was not an RPyC error
    /// ([`Failed`](crate::harness::Failed)). Find out which with `downcast_ref`.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// A frame or message that could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The framing layer refused it (size limits, corrupt zlib).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The message layer refused it.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A well-formed message that makes no sense here (e.g. an unknown reference).
    #[error("{0}")]
    Unexpected(String),
}

impl Error {
    /// The remote exception, if the peer raised one.
    pub fn remote(&self) -> Option<&RemoteException> {
        match self {
            Error::Remote(e) => Some(e),
            _ => None,
        }
    }

    /// An error raised by local code answering the peer (a callback), sent to the peer
    /// as the built-in exception `class` (e.g. `"ValueError"`).
    pub fn raise(class: &str, message: impl Into<String>) -> Self {
        Error::Remote(Box::new(RemoteException::builtin(class, message)))
    }

    /// Whether the connection can still be used after this error.
    pub fn is_connection_fatal(&self) -> bool {
        matches!(
            self,
            Error::Connect { .. }
                | Error::Io { .. }
                | Error::Closed { .. }
                | Error::Protocol { .. }
                | Error::AlreadyClosed
        )
    }
}
