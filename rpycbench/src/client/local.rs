//! Objects that live on this side and are lent to the peer by reference: callbacks,
//! sequences, and (for servers) the service root and everything it returns.

use super::object::{Args, Object};
use super::Connection;
use crate::error::{Error, Result};
use crate::wire::{IdPack, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// An object the peer can operate on through requests (PROTOCOL.md §7).
///
/// Each method answers one handler; the defaults answer as a Python object without
/// that capability would under rpyc's default policy, so an implementation only writes
/// what it supports. Every method gets the connection so that it can call back into the
/// peer (a `repr` of a list holding the peer's objects asks the peer for theirs).
pub trait LocalObject: Send + Sync + 'static {
    /// The `name_pack` of the id_pack, `"<module>.<type>"`. A Python peer sends INSPECT
    /// for names that are not built-in (PROTOCOL.md §6.4), so callables are cheapest as
    /// `"builtins.function"` or `"builtins.method"`.
    fn type_name(&self) -> &str;

    /// GETATTR: read attribute `name`.
    fn getattr(&self, conn: &mut Connection, name: &str) -> Result<Object> {
        let _ = conn;
        Err(Error::raise("AttributeError", format!("cannot access '{name}'")))
    }

    /// SETATTR: refused by default, as rpyc's default policy refuses it.
    fn setattr(&self, conn: &mut Connection, name: &str, value: Object) -> Result<()> {
        let _ = (conn, value);
        Err(Error::raise("AttributeError", format!("cannot access '{name}'")))
    }

    /// DELATTR: refused by default.
    fn delattr(&self, conn: &mut Connection, name: &str) -> Result<()> {
        let _ = conn;
        Err(Error::raise("AttributeError", format!("cannot access '{name}'")))
    }

    /// CALL: call the object itself.
    fn call(&self, conn: &mut Connection, args: Args) -> Result<Object> {
        let _ = (conn, args);
        Err(Error::raise("TypeError", format!("'{}' object is not callable", short_name(self.type_name()))))
    }

    /// CALLATTR: call method `name` (one round trip). The default reads the attribute
    /// and calls it, which is what a Python owner does.
    fn call_method(&self, conn: &mut Connection, name: &str, args: Args) -> Result<Object> {
        match self.getattr(conn, name)? {
            Object::Local(method) => method.object().call(conn, args),
            other => Err(Error::raise("TypeError", format!("'{}' is not callable", other.describe()))),
        }
    }

    /// Whether `name` is a method of the object's type, reached with
    /// [`call_method`](LocalObject::call_method): Python's operators (`len()`, `+`,
    /// iteration) use only the methods a type has.
    fn has_method(&self, name: &str) -> bool {
        let _ = name;
        false
    }

    /// REPR.
    fn repr(&self, conn: &mut Connection) -> Result<String> {
        let _ = conn;
        Ok(format!("<{} object>", self.type_name()))
    }

    /// STR (defaults to the repr, as in Python).
    fn str(&self, conn: &mut Connection) -> Result<String> {
        self.repr(conn)
    }

    /// DIR: the attribute names to list.
    fn dir(&self, conn: &mut Connection) -> Result<Vec<String>> {
        let _ = conn;
        Ok(Vec::new())
    }

    /// HASH: by identity unless the type says otherwise (unhashable types raise).
    fn hash(&self, conn: &mut Connection) -> Result<i64> {
        let _ = conn;
        Ok((self as *const Self as *const () as usize >> 4) as i64)
    }

    /// CMP: `op` is `"__eq__"`, `"__lt__"`, …; `NotImplemented` lets Python fall back.
    fn compare(&self, conn: &mut Connection, op: &str, other: Object) -> Result<Object> {
        let _ = (conn, op, other);
        Ok(Object::Value(Value::NotImplemented))
    }

    /// The INSPECT reply: the methods of the object's type and their docstrings. A
    /// Python peer builds its proxy class from it, forwarding only those methods.
    fn inspect(&self) -> Vec<(String, Option<String>)> {
        Vec::new()
    }

    /// The object as [`Any`](std::any::Any), for types that recognise their own kind
    /// (`list + list`); `None` for the rest.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// Gives up the objects this one holds, for `drop_iteratively`: a peer can chain
    /// containers (or bound methods of bound methods) a hundred thousand deep, and
    /// dropping such a chain recursively would overflow the stack.
    fn take_references(&self) -> Vec<Object> {
        Vec::new()
    }
}

/// Drops `objects` and everything only they hold, without recursion: each object about
/// to be freed (held by nothing else) first hands over what it holds.
pub(crate) fn drop_iteratively(mut stack: Vec<Object>) {
    while let Some(obj) = stack.pop() {
        match obj {
            Object::Local(l) => {
                if Arc::strong_count(&l.0) == 1 {
                    stack.extend(l.0.take_references());
                }
            }
            Object::Tuple(items) => stack.extend(items),
            Object::Value(_) | Object::Remote(_) => {}
        }
    }
}

/// `type(obj).__name__` from an id_pack name: `"builtins.list"` → `"list"`.
pub(crate) fn short_name(type_name: &str) -> &str {
    type_name.rsplit('.').next().unwrap_or(type_name)
}

/// A shared handle to a [`LocalObject`].
#[derive(Clone)]
pub struct LocalRef(Arc<dyn LocalObject>);

impl LocalRef {
    /// Wraps an object.
    pub fn new(obj: Arc<dyn LocalObject>) -> Self {
        LocalRef(obj)
    }

    /// The object.
    pub fn object(&self) -> &dyn LocalObject {
        &*self.0
    }

    /// Its type name.
    pub fn type_name(&self) -> &str {
        self.0.type_name()
    }

    /// Whether both handles name the same object.
    pub fn ptr_eq(&self, other: &LocalRef) -> bool {
        self.addr() == other.addr()
    }

    pub(crate) fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as *const () as usize
    }
}

impl fmt::Debug for LocalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalRef({})", self.type_name())
    }
}

type CallbackFn = dyn Fn(&mut Connection, Args) -> Result<Object> + Send + Sync;

/// A Rust closure exported as a Python `function`.
pub(crate) struct Callback(Box<CallbackFn>);

impl Callback {
    pub(crate) fn new(f: impl Fn(&mut Connection, Args) -> Result<Object> + Send + Sync + 'static) -> Self {
        Callback(Box::new(f))
    }
}

impl LocalObject for Callback {
    fn type_name(&self) -> &str {
        "builtins.function"
    }
    fn call(&self, conn: &mut Connection, args: Args) -> Result<Object> {
        (self.0)(conn, args)
    }
    fn repr(&self, _conn: &mut Connection) -> Result<String> {
        Ok("<function rpycbench callback>".into())
    }
    fn inspect(&self) -> Vec<(String, Option<String>)> {
        vec![("__call__".into(), None)]
    }
}

/// Objects this side has lent to the peer, by object id, with Python's refcounting
/// (PROTOCOL.md §6.3): each export adds one, a DEL subtracts its count.
pub(crate) struct ExportTable {
    by_id: HashMap<i64, Exported>,
    by_addr: HashMap<usize, i64>,
    next_id: i64,
}

struct Exported {
    obj: LocalRef,
    count: u64,
}

impl ExportTable {
    pub(crate) fn new() -> Self {
        // Ids start above zero: object_id 0 means "a class" to a Python peer.
        ExportTable { by_id: HashMap::new(), by_addr: HashMap::new(), next_id: 1 }
    }

    /// Lends `obj` (again) and returns its id_pack's class and object ids (its name is
    /// the object's type name: [`IdPack::encode_parts`] writes it from there, with no
    /// id_pack made per reply).
    pub(crate) fn export(&mut self, obj: &LocalRef) -> (i64, i64) {
        let id = *self.by_addr.entry(obj.addr()).or_insert_with(|| {
            let id = self.next_id;
            self.next_id += 1;
            id
        });
        self.by_id.entry(id).or_insert_with(|| Exported { obj: obj.clone(), count: 0 }).count += 1;
        (class_id(obj.type_name()), id)
    }

    /// The object an id_pack names, if it is still lent.
    pub(crate) fn get(&self, id: &IdPack) -> Option<LocalRef> {
        self.get_by(id.object_id, &id.name)
    }

    /// The object with `object_id`, if it is still lent and its type is `name`: [`get`]
    /// for an id_pack read in place from a frame (see `client::plain_request`).
    ///
    /// [`get`]: Self::get
    pub(crate) fn get_by(&self, object_id: i64, name: &str) -> Option<LocalRef> {
        self.by_id.get(&object_id).filter(|e| e.obj.type_name() == name).map(|e| e.obj.clone())
    }

    /// Handles DEL of the object lent as `object_id`: forgets it once the peer
    /// returned every reference.
    pub(crate) fn release(&mut self, object_id: i64, count: u64) {
        if let Some(e) = self.by_id.get_mut(&object_id) {
            if e.count <= count {
                let addr = e.obj.addr();
                self.by_id.remove(&object_id);
                self.by_addr.remove(&addr);
            } else {
                e.count -= count;
            }
        }
    }

    /// How many objects are currently lent.
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

/// A stable class id per type name (FNV-1a), positive and below 2^47 like the
/// addresses CPython uses, so objects of one type share it as Python expects.
fn class_id(type_name: &str) -> i64 {
    (fnv1a(type_name.bytes()) & 0x7fff_ffff_ffff) as i64
}

/// FNV-1a: a stable (not per-process randomized) hash for ids and cache names.
pub(crate) fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}
