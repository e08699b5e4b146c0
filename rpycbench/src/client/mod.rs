//! A blocking RPyC client: connect, call service methods in one round trip, use remote
//! objects through proxies, lend callbacks and sequences to the peer, pipeline
//! asynchronous requests, and count everything that crosses the wire.
//!
//! The same [`Connection`] is the serving side of the built-in servers: the protocol
//! is symmetric, so answering requests ([`LocalObject`]) lives here too.

pub(crate) mod arrivals;
mod config;
mod connection;
mod counters;
mod dispatch;
pub(crate) mod inline;
mod local;
mod object;
mod observer;
mod ops;
mod outgoing;
mod plain_request;
mod poll;
mod positional;
pub(crate) mod python;
mod receive;
mod remote;
mod silence;

pub use config::Config;
pub use connection::Connection;
pub use counters::{HandlerCounts, WireCounters};
pub(crate) use local::fnv1a;
pub use local::{LocalObject, LocalRef};
pub use object::{Args, FromObject, IntoArgs, Kwargs, Object};
pub use observer::{ObserverFactory, WireObserver};
pub use ops::{AsyncReply, CmpOp, RemoteIter};
pub use poll::{poll_read, DEFAULT_REPLY_POLL};
pub use positional::{IntoIter as PositionalIter, Positional};
pub use remote::RemoteRef;
pub use silence::SilenceLimits;
