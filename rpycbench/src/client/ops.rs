//! What a client does with a connection: call service methods, operate on remote
//! objects, pipeline asynchronous requests, ping.

use super::connection::{Connection, Outcome};
use super::object::{FromObject, IntoArgs, Object};
use super::outgoing::Part;
use super::remote::RemoteRef;
use crate::error::{Error, Result};
use crate::wire::{Handler, Value};
use std::time::{Duration, Instant};

/// Comparison operators for [`Connection::compare`] (CMP's `op_name`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The method name, `"__eq__"` …
    pub fn dunder(self) -> &'static str {
        match self {
            CmpOp::Eq => "__eq__",
            CmpOp::Ne => "__ne__",
            CmpOp::Lt => "__lt__",
            CmpOp::Le => "__le__",
            CmpOp::Gt => "__gt__",
            CmpOp::Ge => "__ge__",
        }
    }

    /// The operator a method name stands for.
    pub fn from_dunder(name: &str) -> Option<CmpOp> {
        [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge].into_iter().find(|op| op.dunder() == name)
    }
}

/// A request in flight, from [`Connection::call_async`]. Redeem it with
/// [`Connection::wait`]; dropping it unredeemed discards the reply when it comes.
#[must_use = "the reply is discarded unless you wait for it"]
#[derive(Debug)]
pub struct AsyncReply {
    seq: i64,
    what: Handler,
}

impl AsyncReply {
    /// The request's sequence number on the wire.
    pub fn seq(&self) -> i64 {
        self.seq
    }
}

/// The Python ping payload: `"abcdefghijklmnopqrstuvwxyz" * 20`.
const PING_DATA: &str = "abcdefghijklmnopqrstuvwxyz";

impl Connection {
    fn request(&mut self, handler: Handler, parts: &[Part<'_>]) -> Result<Object> {
        let seq = self.send_request(handler, parts)?;
        let timeout = self.config.request_timeout;
        self.wait_reply(seq, handler, timeout)
    }

    /// The peer's root object (GETROOT, once; then cached as Python does).
    pub fn root(&mut self) -> Result<RemoteRef> {
        if let Some(root) = &self.root {
            return Ok(root.clone());
        }
        let root: RemoteRef = self.request(Handler::GetRoot, &[])?.extract()?;
        self.root = Some(root.clone());
        Ok(root)
    }

    /// Calls service method `name` with positional arguments, in one round trip
    /// (CALLATTR on the root). `name` may be `"echo"` or `"exposed_echo"`.
    ///
    /// ```no_run
    /// # fn main() -> rpycbench::Result<()> {
    /// use rpycbench::client::Connection;
    /// let mut conn = Connection::connect("127.0.0.1:18861")?;
    /// let (n, s): (i64, String) = conn.call("echo", ((1, "x"),))?.extract()?;
    /// # Ok(()) }
    /// ```
    pub fn call(&mut self, name: &str, args: impl IntoArgs) -> Result<Object> {
        self.call_kw(name, args, Vec::new())
    }

    /// Calls service method `name` with positional and keyword arguments
    /// (see [`kwargs!`](crate::kwargs)).
    pub fn call_kw(&mut self, name: &str, args: impl IntoArgs, kwargs: super::Kwargs) -> Result<Object> {
        let root = self.root()?;
        self.call_method(&root, name, args, kwargs)
    }

    /// Calls service method `name` the way a Python client does
    /// (`conn.root.name(*args)`): GETATTR, then CALL, then a DEL for the method proxy
    /// before the next request. Three requests, for comparison with [`call`](Self::call).
    pub fn call_python_style(&mut self, name: &str, args: impl IntoArgs) -> Result<Object> {
        let root = self.root()?;
        let method = self.getattr(&root, name)?;
        let method =
            method.as_remote().ok_or_else(|| Error::Type { expected: "a method proxy", got: method.describe() })?;
        self.call_ref(method, args, Vec::new())
    }

    /// Sends a service call without waiting for its reply; several may be in flight.
    pub fn call_async(&mut self, name: &str, args: impl IntoArgs) -> Result<AsyncReply> {
        let root = self.root()?;
        let args = args.into_args();
        let seq = self.send_request(
            Handler::CallAttr,
            &[Part::Target(&root), Part::Str(name), Part::Seq(&args), Part::Kwargs(&[])],
        )?;
        self.async_pending.insert(seq);
        Ok(AsyncReply { seq, what: Handler::CallAttr })
    }

    /// Waits for an asynchronous request's reply (within the request timeout).
    pub fn wait(&mut self, reply: AsyncReply) -> Result<Object> {
        let AsyncReply { seq, what } = reply;
        let timeout = self.config.request_timeout;
        let result = match self.take_reply(seq) {
            Some(Outcome::Value(o)) => Ok(o),
            Some(Outcome::Raised(e)) => Err(e),
            None => self.wait_reply(seq, what, timeout),
        };
        self.async_pending.remove(&seq);
        result
    }

    /// GETATTR: reads an attribute of a remote object.
    pub fn getattr(&mut self, obj: &RemoteRef, name: &str) -> Result<Object> {
        self.request(Handler::GetAttr, &[Part::Target(obj), Part::Str(name)])
    }

    /// SETATTR: sets an attribute (refused by a default Python service).
    pub fn setattr(&mut self, obj: &RemoteRef, name: &str, value: impl Into<Object>) -> Result<()> {
        let value = value.into();
        self.request(Handler::SetAttr, &[Part::Target(obj), Part::Str(name), Part::Obj(&value)]).map(drop)
    }

    /// DELATTR: deletes an attribute (refused by a default Python service).
    pub fn delattr(&mut self, obj: &RemoteRef, name: &str) -> Result<()> {
        self.request(Handler::DelAttr, &[Part::Target(obj), Part::Str(name)]).map(drop)
    }

    /// CALL: calls a remote callable.
    pub fn call_ref(&mut self, obj: &RemoteRef, args: impl IntoArgs, kwargs: super::Kwargs) -> Result<Object> {
        let args = args.into_args();
        self.request(Handler::Call, &[Part::Target(obj), Part::Seq(&args), Part::Kwargs(&kwargs)])
    }

    /// CALLATTR: calls a method of a remote object in one round trip.
    pub fn call_method(
        &mut self,
        obj: &RemoteRef,
        name: &str,
        args: impl IntoArgs,
        kwargs: super::Kwargs,
    ) -> Result<Object> {
        let args = args.into_args();
        self.request(Handler::CallAttr, &[Part::Target(obj), Part::Str(name), Part::Seq(&args), Part::Kwargs(&kwargs)])
    }

    fn text(&mut self, handler: Handler, obj: &RemoteRef) -> Result<String> {
        self.request(handler, &[Part::Target(obj)])?.extract()
    }

    /// REPR: `repr(obj)` on the peer.
    pub fn repr(&mut self, obj: &RemoteRef) -> Result<String> {
        self.text(Handler::Repr, obj)
    }

    /// STR: `str(obj)` on the peer.
    pub fn str(&mut self, obj: &RemoteRef) -> Result<String> {
        self.text(Handler::Str, obj)
    }

    /// DIR: `dir(obj)` on the peer.
    pub fn dir(&mut self, obj: &RemoteRef) -> Result<Vec<String>> {
        self.request(Handler::Dir, &[Part::Target(obj)])?.extract()
    }

    /// HASH: `hash(obj)` on the peer.
    pub fn hash(&mut self, obj: &RemoteRef) -> Result<i64> {
        self.request(Handler::Hash, &[Part::Target(obj)])?.extract()
    }

    /// CMP: compares a remote object with `other` using `op`. The result is whatever
    /// the peer's method returns (usually a bool, or `NotImplemented`).
    pub fn compare(&mut self, obj: &RemoteRef, op: CmpOp, other: impl Into<Object>) -> Result<Object> {
        let other = other.into();
        self.request(Handler::Cmp, &[Part::Target(obj), Part::Obj(&other), Part::Str(op.dunder())])
    }

    /// INSPECT: the methods of the peer's type of `obj` (what a Python peer asks before it
    /// makes a proxy class for a type it does not know).
    pub(crate) fn inspect(&mut self, obj: &RemoteRef) -> Result<Vec<String>> {
        let id = obj.id();
        let pack = Value::Tuple(vec![Value::from(&*id.name), Value::Int(id.class_id), Value::Int(id.object_id)]);
        let methods = self.request(Handler::Inspect, &[Part::Value(&pack)])?;
        let pairs: Vec<(String, Object)> = methods.extract()?;
        Ok(pairs.into_iter().map(|(name, _doc)| name).collect())
    }

    /// `len(obj)`: CALLATTR `__len__`.
    pub fn len(&mut self, obj: &RemoteRef) -> Result<usize> {
        self.call_method(obj, "__len__", (), Vec::new())?.extract()
    }

    /// `obj[key]`: CALLATTR `__getitem__` (one round trip per key: dicts and lists
    /// travel by reference).
    pub fn getitem(&mut self, obj: &RemoteRef, key: impl Into<Object>) -> Result<Object> {
        self.call_method(obj, "__getitem__", (key.into(),), Vec::new())
    }

    /// Iterates a remote iterable: `__iter__` once, then one `__next__` round trip per
    /// item until the peer raises StopIteration.
    pub fn iter(&mut self, obj: &RemoteRef) -> Result<RemoteIter<'_>> {
        let it: RemoteRef = self.call_method(obj, "__iter__", (), Vec::new())?.extract()?;
        Ok(RemoteIter { conn: self, it: Some(it) })
    }

    /// Collects a remote iterable into a vector of `T`.
    pub fn collect<T: FromObject>(&mut self, obj: &RemoteRef) -> Result<Vec<T>> {
        self.iter(obj)?.map(|r| r.and_then(Object::extract)).collect()
    }

    /// PING: sends Python's ping payload and checks it comes back unchanged; returns
    /// the round-trip time. Uses a 3 s timeout, as rpyc does.
    pub fn ping(&mut self) -> Result<Duration> {
        let data = Value::Str(PING_DATA.repeat(20));
        let start = Instant::now();
        let seq = self.send_request(Handler::Ping, &[Part::Value(&data)])?;
        let echoed = self.wait_reply(seq, Handler::Ping, Duration::from_secs(3))?;
        let elapsed = start.elapsed();
        if echoed.as_value() != Some(&data) {
            return Err(Error::Type { expected: "the ping payload echoed back", got: echoed.describe() });
        }
        Ok(elapsed)
    }
}

/// An iterator over a remote iterable; each step is a round trip.
pub struct RemoteIter<'c> {
    conn: &'c mut Connection,
    it: Option<RemoteRef>,
}

impl Iterator for RemoteIter<'_> {
    type Item = Result<Object>;

    fn next(&mut self) -> Option<Result<Object>> {
        let it = self.it.as_ref()?;
        match self.conn.call_method(it, "__next__", (), Vec::new()) {
            Ok(item) => Some(Ok(item)),
            Err(Error::Remote(e)) if e.module == "builtins" && e.class == "StopIteration" => {
                self.it = None;
                None
            }
            Err(e) => {
                self.it = None;
                Some(Err(e))
            }
        }
    }
}
