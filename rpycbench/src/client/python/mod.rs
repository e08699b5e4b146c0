//! Objects lent to the peer that a Python peer cannot tell from CPython's: `list`,
//! `dict`, their iterators, bound methods, and the machinery any such type uses
//! (rpyc's default attribute policy, Python's operators on [`Object`]s, the class
//! tables read off CPython).
//!
//! Why: a Python application pointed at a native server must behave exactly as against
//! a Python `rpyc.ThreadedServer` serving the same service, down to which attributes it
//! may reach and what every refusal says. Each rule here is CPython's or rpyc's, and the
//! parity tests hold a real Python server beside the native one to check them.
//!
//! [`Object`]: crate::client::Object

mod class;
// Generated: formatted by its generator, not by rustfmt (a test compares it byte for byte).
#[rustfmt::skip]
pub(crate) mod cpython;
mod dict;
mod instance;
mod list;
mod methods;
mod netref;
pub(crate) mod ops;
pub(crate) mod policy;
mod slice;

pub(crate) use class::{Member, PyClass};
pub(crate) use dict::Dict;
pub(crate) use instance::{object_member, Py, PyInstance};
pub(crate) use list::List;
