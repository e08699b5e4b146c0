//! The RPyC 6.0.2 wire format, as pure functions over bytes: brine values, frames,
//! the message envelope, boxing and exception payloads.
//!
//! Nothing here touches a socket, so the same code serves the client, the servers, the
//! profiling relay and the fuzzers. [`Limits`] bound everything a peer can make us
//! allocate. The one piece of state is `spare`: a few short string buffers per thread,
//! so that a server's steady state of simple calls allocates nothing.

pub mod boxing;
pub mod brine;
mod error;
pub mod exceptions;
pub mod frame;
mod frame_decoder;
mod limits;
pub mod message;
pub(crate) mod pages;
mod repr;
pub(crate) mod spare;
mod value;
pub mod vinegar;

pub use boxing::{Boxed, IdPack};
/// The type of [`Value::Bytes`], re-exported so users need not depend on `bytes`.
pub use bytes::Bytes;
pub use error::{DecodeError, EncodeError, FrameError};
pub use frame::{Compression, Frame, FrameEncoder, FrameParts, FramePayload};
pub use frame_decoder::{FrameDecoder, LARGE_FRAME};
pub use limits::{Limits, DEFAULT_MEMORY_BUDGET};
pub use message::{Handler, Message, MessageError};
pub use value::Value;
pub use vinegar::{ExceptionPayload, RemoteException};
