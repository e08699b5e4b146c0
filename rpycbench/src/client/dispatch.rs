//! Answering the peer's requests (PROTOCOL.md §7): the half of the engine that makes
//! callbacks work on a client and that a server runs for every request.

use super::connection::Connection;
use super::local::{LocalObject, LocalRef};
use super::object::{Args, Object};
use super::plain_request::Plain;
use super::positional::Positional;
use super::python::ops;
use crate::error::{Error, Result};
use crate::wire::{Boxed, ExceptionPayload, Handler, IdPack, RemoteException, Value};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Instant;

/// Requests answered one inside another (callbacks calling back) before a
/// `RecursionError`: as deep as a Python server serving the twin lets `nested` go with
/// Python's default recursion limit (88 levels answer, 89 raise).
pub(crate) const MAX_NESTED_ANSWERS: u32 = 88;

/// The frames a nested answer adds to a Python server's stack (`_dispatch_request`,
/// the handler, the callback's `syncreq` … `serve` back to `_dispatch_request`).
const NESTED_ANSWER_FRAMES: u32 = 11;

/// The frames on a Python server's stack when handler `h` starts its work (thread,
/// server loop, dispatch): what is left of the recursion limit for `repr` and
/// comparisons of nested containers. Measured against rpyc 6.0.2 on CPython 3.11 with
/// lists nested ever deeper (`recursion.*` parity probes).
fn python_frames(h: Handler) -> u32 {
    match h {
        Handler::Repr | Handler::Str => 15,
        _ => 13,
    }
}

/// A request's arguments, as received.
// A plain request is large (its arguments and method name inline) and boxing it would
// allocate per request, which is what it exists to avoid; it lives for one request.
#[allow(clippy::large_enum_variant)]
pub(crate) enum RequestArgs {
    /// Decoded in full (any request).
    Boxed(Boxed),
    /// A plain CALLATTR or DEL decoded in place; its handler is the one it names.
    Plain(Plain),
}

impl Connection {
    /// Answers one request from the peer. Only connection failures are returned; any
    /// failure of the handler itself becomes an EXCEPTION reply, as in Python.
    pub(crate) fn answer_request(&mut self, seq: i64, handler: i64, args: RequestArgs) -> Result<()> {
        let Some(h) = Handler::from_id(handler) else {
            let exc = RemoteException::builtin("KeyError", format!("unknown handler {handler}"));
            return self.send_answer(seq, Err(ExceptionPayload::Raised(exc)));
        };
        if h == Handler::Close {
            // Python never answers CLOSE: it tears the connection down.
            self.closed = true;
            let _ = self.stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        // Callbacks that call back nest requests on this thread's stack; a Python server
        // stops them at its recursion limit, and so does this one, before the stack does.
        let result = if self.answering >= MAX_NESTED_ANSWERS {
            Err(Error::raise("RecursionError", "maximum recursion depth exceeded"))
        } else {
            let depth = self.python_depth;
            self.answering += 1;
            // A nested answer runs on top of the request that called back: Python's
            // stack grows by about 11 frames a level there (1000 frames / 88 levels).
            self.python_depth += if self.answering > 1 { NESTED_ANSWER_FRAMES } else { python_frames(h) };
            let result = ops::grow_stack(|| self.run_handler(h, args));
            self.python_depth = depth;
            self.answering -= 1;
            result
        };
        if self.closed {
            // The handler's own traffic found the connection dead: nothing to answer on.
            return result.map(drop);
        }
        match result {
            Ok(obj) => {
                self.encode_answer(seq, Ok(&obj))?;
                // The frame holds the value now: an unread reply pins one copy, not two.
                // A short string's buffer serves the next one (`wire::spare`).
                match obj {
                    Object::Value(Value::Str(s)) => crate::wire::spare::give_back(s),
                    other => drop(other),
                }
                self.write_answer()?;
            }
            Err(e) => self.send_answer(seq, Err(exception_payload(e)))?,
        }
        // Proxies the handler dropped are released now, as Python does right after its
        // reply; a server that never calls back would otherwise never send their DEL.
        self.send_releases().map(drop)
    }

    fn run_handler(&mut self, h: Handler, args: RequestArgs) -> Result<Object> {
        let args = match args {
            RequestArgs::Boxed(args) => args,
            // What the general path below does for the same request.
            RequestArgs::Plain(Plain::CallAttr { target, method, positional }) => {
                return target.object().call_method(self, &method, Args { positional, kwargs: Vec::new() });
            }
            RequestArgs::Plain(Plain::GetAttr { target, name }) => return target.object().getattr(self, &name),
            RequestArgs::Plain(Plain::Call { target, positional }) => {
                return target.object().call(self, Args { positional, kwargs: Vec::new() });
            }
            RequestArgs::Plain(Plain::Del { object_id, count }) => {
                self.exports.release(object_id, count.max(0) as u64);
                return Ok(Object::NONE);
            }
        };
        // DEL and INSPECT name objects by id without making them live again.
        match h {
            Handler::Del => return self.handle_del(args),
            Handler::Inspect => return self.handle_inspect(args),
            _ => {}
        }
        let args = match self.unbox(args)? {
            Object::Value(Value::Tuple(items)) => items.into_iter().map(Object::Value).collect(),
            Object::Tuple(items) => items,
            other => return Err(type_error(format!("{h} arguments must be a tuple, got {}", other.describe()))),
        };
        match h {
            Handler::Ping => one(args, h),
            Handler::GetRoot => Ok(Object::Local(self.root_object())),
            Handler::GetAttr => {
                let [obj, name] = exact(args, h)?;
                let (obj, name) = (local(obj, h)?, name_of(name)?);
                obj.object().getattr(self, &name)
            }
            Handler::SetAttr => {
                let [obj, name, value] = exact(args, h)?;
                let (obj, name) = (local(obj, h)?, name_of(name)?);
                obj.object().setattr(self, &name, value).map(|()| Object::NONE)
            }
            Handler::DelAttr => {
                let [obj, name] = exact(args, h)?;
                let (obj, name) = (local(obj, h)?, name_of(name)?);
                obj.object().delattr(self, &name).map(|()| Object::NONE)
            }
            Handler::Call => {
                let mut it = args.into_iter();
                let obj = local(it.next().ok_or_else(|| arity(h))?, h)?;
                let call_args = call_args(it, h)?;
                obj.object().call(self, call_args)
            }
            Handler::CallAttr => {
                let mut it = args.into_iter();
                let obj = local(it.next().ok_or_else(|| arity(h))?, h)?;
                let name = name_of(it.next().ok_or_else(|| arity(h))?)?;
                let call_args = call_args(it, h)?;
                obj.object().call_method(self, &name, call_args)
            }
            Handler::Repr | Handler::Str | Handler::Hash | Handler::Dir => {
                let [obj] = exact(args, h)?;
                let obj = local(obj, h)?;
                Ok(match h {
                    Handler::Repr => obj.object().repr(self)?.into(),
                    Handler::Str => obj.object().str(self)?.into(),
                    Handler::Hash => obj.object().hash(self)?.into(),
                    _ => Object::Value(Value::Tuple(obj.object().dir(self)?.into_iter().map(Value::Str).collect())),
                })
            }
            Handler::Cmp => {
                let mut it = args.into_iter();
                let obj = local(it.next().ok_or_else(|| arity(h))?, h)?;
                let other = it.next().ok_or_else(|| arity(h))?;
                let op = match it.next() {
                    Some(op) => name_of(op)?,
                    None => "__cmp__".to_string(),
                };
                obj.object().compare(self, &op, other)
            }
            Handler::BuffIter => {
                let [obj, count] = exact(args, h)?;
                let obj = local(obj, h)?;
                let count: usize = count.extract()?;
                self.buffiter(&obj, count)
            }
            Handler::CtxExit => {
                let [obj, _exc] = exact(args, h)?;
                let obj = local(obj, h)?;
                obj.object().call_method(self, "__exit__", Args::default())
            }
            // rpyc's default configuration refuses pickling, with this very error.
            Handler::Pickle => Err(Error::raise("ValueError", "pickling is disabled")),
            Handler::OldSlicing => {
                // `getattr(obj, attempt)(slice(start, stop), *args)`; the Python-2
                // fallback (`__getslice__`) no Python 3 object has.
                let [obj, attempt, _fallback, start, stop, rest] = exact(args, h)?;
                let (obj, attempt) = (local(obj, h)?, name_of(attempt)?);
                let (start, stop) = (start.extract::<Value>()?, stop.extract::<Value>()?);
                let mut positional = Positional::from([Object::Value(Value::slice(start, stop, Value::None))]);
                positional.extend(rest.extract::<Vec<Object>>()?);
                obj.object().call_method(self, &attempt, Args { positional, kwargs: Vec::new() })
            }
            // A Python server answers False unless the other class is in its caches,
            // which a native server's never are.
            Handler::InstanceCheck => Ok(false.into()),
            Handler::Close | Handler::Del | Handler::Inspect => unreachable!("handled above"),
        }
    }

    fn handle_del(&mut self, args: Boxed) -> Result<Object> {
        if let Boxed::Tuple(items) = args {
            if let [Boxed::LocalRef(id), Boxed::Value(Value::Int(count))] = items.as_slice() {
                self.exports.release(id.object_id, (*count).max(0) as u64);
                return Ok(Object::NONE);
            }
        }
        Err(type_error("DEL takes (object, count)".into()))
    }

    fn handle_inspect(&mut self, args: Boxed) -> Result<Object> {
        let id = match args {
            Boxed::Value(Value::Tuple(items)) if items.len() == 1 => id_from_value(&items[0]),
            _ => None,
        }
        .ok_or_else(|| type_error("INSPECT takes (id_pack,)".into()))?;
        let obj = self.exports.get(&id).ok_or_else(|| Error::raise("KeyError", format!("{id}")))?;
        let methods = obj
            .object()
            .inspect()
            .into_iter()
            .map(|(name, doc)| Value::Tuple(vec![Value::Str(name), doc.map_or(Value::None, Value::Str)]))
            .collect();
        Ok(Object::Value(Value::Tuple(methods)))
    }

    fn buffiter(&mut self, obj: &LocalRef, count: usize) -> Result<Object> {
        let mut items = Vec::new();
        for _ in 0..count {
            match obj.object().call_method(self, "__next__", Args::default()) {
                Ok(item) => items.push(item),
                Err(Error::Remote(e)) if e.class == "StopIteration" => break,
                Err(e) => return Err(e),
            }
        }
        Ok(Object::tuple(items))
    }

    fn root_object(&mut self) -> LocalRef {
        self.service.get_or_insert_with(|| LocalRef::new(Arc::new(VoidService))).clone()
    }

    /// Serves the peer's requests until it closes the connection; how a server runs a
    /// connection. Returns `Ok` on an orderly close (CLOSE or EOF).
    pub fn serve_until_closed(&mut self) -> Result<()> {
        // Once, not per request: after a callback the timeout it set stays, as
        // re-clearing would cost two `setsockopt`s per calling-back request.
        self.clear_read_timeout()?;
        while !self.closed {
            match self.receive(None, "serving") {
                Ok(Some(msg)) => {
                    // A reply here answers a request of ours nobody waits for (a DEL, a
                    // callback whose waiter gave up): dropped, and acknowledged at once.
                    // We send nothing back that would carry the ACK, and a default Python
                    // client (Nagle on) holds its next request until that ACK arrives:
                    // without this, every operation after a DEL of ours stalls 40 ms.
                    if self.handle_message(msg)?.is_some() {
                        self.quick_ack();
                    }
                }
                Ok(None) => {}
                Err(Error::Closed { .. }) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Serves requests that arrive until `deadline`; for a client that expects the
    /// peer to call it while it is not waiting on a reply of its own.
    pub fn serve_until(&mut self, deadline: Instant) -> Result<()> {
        while let Some(msg) = self.receive(Some(deadline), "serving")? {
            self.handle_message(msg)?;
        }
        Ok(())
    }
}

/// The root of a connection that offers no service (Python's `VoidService`).
struct VoidService;

impl LocalObject for VoidService {
    fn type_name(&self) -> &str {
        "rpyc.core.service.VoidService"
    }
}

/// How a local failure travels to the peer.
pub(crate) fn exception_payload(e: Error) -> ExceptionPayload {
    match e {
        Error::Remote(r) if r.module == "builtins" && r.class == "StopIteration" => ExceptionPayload::StopIteration,
        Error::Remote(r) if r.raised_here() => ExceptionPayload::Raised(*r),
        // The peer's own exception (from a callback) passing through, as Python shows it.
        Error::Remote(r) => ExceptionPayload::Raised(r.raised_again()),
        Error::Type { .. } => ExceptionPayload::Raised(RemoteException::builtin("TypeError", e.to_string())),
        Error::MemoryBudget { .. } => ExceptionPayload::Raised(RemoteException::builtin("MemoryError", e.to_string())),
        other => ExceptionPayload::Raised(RemoteException::builtin("RuntimeError", other.to_string())),
    }
}

fn type_error(message: String) -> Error {
    Error::raise("TypeError", message)
}

fn arity(h: Handler) -> Error {
    type_error(format!("wrong number of arguments for {h}"))
}

fn exact<const N: usize>(args: Vec<Object>, h: Handler) -> Result<[Object; N]> {
    let got = args.len();
    args.try_into().map_err(|_| type_error(format!("{h} takes {N} argument(s), got {got}")))
}

fn one(args: Vec<Object>, h: Handler) -> Result<Object> {
    let [x] = exact(args, h)?;
    Ok(x)
}

fn local(obj: Object, h: Handler) -> Result<LocalRef> {
    match obj {
        Object::Local(l) => Ok(l),
        other => Err(type_error(format!("{h} needs one of this side's objects, got {}", other.describe()))),
    }
}

/// Attribute names may be `str` or UTF-8 `bytes` (PROTOCOL.md §7).
fn name_of(obj: Object) -> Result<String> {
    match obj {
        Object::Value(Value::Str(s)) => Ok(s),
        Object::Value(Value::Bytes(b)) => {
            String::from_utf8(b.into()).map_err(|_| type_error("name must be a string".into()))
        }
        _ => Err(type_error("name must be a string".into())),
    }
}

/// `args_tuple[, kwargs_pairs]` of CALL and CALLATTR.
fn call_args(mut rest: impl Iterator<Item = Object>, h: Handler) -> Result<Args> {
    let positional = match rest.next() {
        None => Positional::new(),
        Some(Object::Value(Value::Tuple(v))) => v.into_iter().map(Object::Value).collect(),
        Some(Object::Tuple(v)) => v.into(),
        Some(other) => return Err(type_error(format!("{h} arguments must be a tuple, got {}", other.describe()))),
    };
    let kwargs = match rest.next() {
        None => Vec::new(),
        Some(pairs) => pairs
            .extract::<Vec<(String, Object)>>()
            .map_err(|_| type_error(format!("{h} keyword arguments must be (name, value) pairs")))?,
    };
    if rest.next().is_some() {
        return Err(arity(h));
    }
    Ok(Args { positional, kwargs })
}

fn id_from_value(v: &Value) -> Option<IdPack> {
    match v.as_tuple()? {
        [Value::Str(name), Value::Int(class_id), Value::Int(object_id)] => {
            Some(IdPack::new(name.as_str(), *class_id, *object_id))
        }
        _ => None,
    }
}
