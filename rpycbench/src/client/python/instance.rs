//! [`PyInstance`]: a native object that a Python peer cannot tell from the CPython
//! object it stands for, and [`Py`], which lends it under rpyc's default policy.
//!
//! rpyc answers every request on an object the same way: the policy decides which name
//! a GETATTR may read (`policy::check_attr`), Python's `getattr` then finds it or
//! raises, a CMP calls the class's comparison method, a HASH hashes, and so on. [`Py`]
//! does those steps once for every type; a type supplies its class table, its data
//! attributes and the methods it implements.

use super::class::{Member, PyClass};
use super::methods::BoundMember;
use super::policy;
use crate::client::{Args, Connection, LocalObject, LocalRef, Object};
use crate::error::{Error, Result};
use crate::wire::{RemoteException, Value};
use std::sync::{Arc, Weak};

/// A native object that presents a CPython class to the peer.
pub(crate) trait PyInstance: Send + Sync + Sized + 'static {
    /// The class whose instances this object imitates.
    fn class(&self) -> &PyClass;

    /// `(module, name)` of the type (a service root reports its own).
    fn type_names(&self) -> (&str, &str) {
        (self.class().module, self.class().name)
    }

    /// An attribute the instance holds itself (`user.exposed_id`).
    fn instance_attr(&self, name: &str) -> Option<Object> {
        let _ = name;
        None
    }

    /// The member `name` of the type, with its bound attribute's docstring.
    fn member(&self, name: &str) -> Option<(Member, Option<&'static str>)> {
        self.class().member(name)
    }

    /// `hasattr(self, name)`.
    fn has_attr(&self, name: &str) -> bool {
        self.class().has(name) || self.instance_attr(name).is_some()
    }

    /// `dir(self)`.
    fn dir(&self) -> Vec<String> {
        self.class().dir.iter().map(|s| (*s).to_owned()).collect()
    }

    /// `self.__doc__`.
    fn doc(&self) -> Option<String> {
        self.class().doc.map(str::to_owned)
    }

    /// The INSPECT reply: `(method, docstring)`.
    fn inspect(&self) -> Vec<(String, Option<String>)> {
        self.class().inspect.iter().map(|(n, d)| ((*n).to_owned(), d.map(str::to_owned))).collect()
    }

    /// Calls this object's method `name` (a member the class has), as CPython would.
    /// The default knows `object`'s: comparisons by identity, `__repr__`, `__str__`,
    /// `__format__`, `__hash__`.
    fn call_member(&self, me: &Py<Self>, conn: &mut Connection, name: &str, args: Args) -> Result<Object> {
        object_member(me, conn, name, args)
    }

    /// `repr(self)`.
    fn repr(&self, me: &Py<Self>, conn: &mut Connection) -> Result<String> {
        let _ = conn;
        let at = me.address();
        Ok(match self.type_names() {
            ("builtins", name) => format!("<{name} object at {at}>"),
            (module, name) => format!("<{module}.{name} object at {at}>"),
        })
    }

    /// `str(self)`.
    fn str(&self, me: &Py<Self>, conn: &mut Connection) -> Result<String> {
        self.repr(me, conn)
    }

    /// CALL: `self(*args, **kwargs)`.
    fn call(&self, me: &Py<Self>, conn: &mut Connection, args: Args) -> Result<Object> {
        let _ = (conn, args);
        Err(Error::raise("TypeError", format!("'{}' object is not callable", me.short_name())))
    }

    /// `hash(self)` when the type defines it; `None` hashes by identity.
    fn hash(&self) -> Option<i64> {
        None
    }

    /// Gives up the objects it holds, so that it drops without recursing (see
    /// `drop_iteratively`).
    fn take_references(&self) -> Vec<Object> {
        Vec::new()
    }

    /// SETATTR: rpyc refuses it before it reaches the object (`allow_setattr` is off).
    fn setattr(&self, name: &str) -> Result<()> {
        Err(policy::cannot_access(name))
    }

    /// DELATTR: likewise.
    fn delattr(&self, name: &str) -> Result<()> {
        Err(policy::cannot_access(name))
    }
}

/// What `object` answers for the members every class inherits.
pub(crate) fn object_member<T: PyInstance>(
    me: &Py<T>,
    conn: &mut Connection,
    name: &str,
    args: Args,
) -> Result<Object> {
    match name {
        "__eq__" | "__ne__" | "__lt__" | "__le__" | "__gt__" | "__ge__" => {
            let [other] = exactly::<1>(me, name, args)?;
            let same = matches!(&other, Object::Local(l) if l.ptr_eq(&me.local_ref()));
            Ok(match (name, same) {
                ("__eq__", true) => true.into(),
                ("__ne__", true) => false.into(),
                _ => Object::Value(Value::NotImplemented),
            })
        }
        "__repr__" => exactly::<0>(me, name, args).and_then(|_| me.inner.repr(me, conn)).map(Object::from),
        "__str__" => exactly::<0>(me, name, args).and_then(|_| me.inner.str(me, conn)).map(Object::from),
        "__hash__" => {
            exactly::<0>(me, name, args).map(|_| me.inner.hash().unwrap_or_else(|| me.identity_hash()).into())
        }
        "__format__" => {
            let [spec] = exactly::<1>(me, name, args)?;
            match spec {
                Object::Value(Value::Str(s)) if s.is_empty() => me.inner.str(me, conn).map(Object::from),
                Object::Value(Value::Str(_)) => Err(Error::raise(
                    "TypeError",
                    format!("unsupported format string passed to {}.__format__", me.inner.type_names().1),
                )),
                other => Err(Error::raise(
                    "TypeError",
                    format!("__format__() argument must be str, not {}", super::ops::type_name(&other)),
                )),
            }
        }
        _ => Err(me.no_attribute(conn, name)),
    }
}

/// The positional arguments of a C method that takes exactly `N`, or CPython's error.
pub(crate) fn exactly<const N: usize>(me: &impl Named, name: &str, args: Args) -> Result<[Object; N]> {
    if !args.kwargs.is_empty() {
        return Err(Error::raise("TypeError", format!("{}.{name}() takes no keyword arguments", me.short_name())));
    }
    let given = args.positional.len();
    args.positional.try_into().map_err(|_| {
        let what = match N {
            0 => "no arguments".to_owned(),
            1 => "exactly one argument".to_owned(),
            n => format!("exactly {n} arguments"),
        };
        Error::raise("TypeError", format!("{}.{name}() takes {what} ({given} given)", me.short_name()))
    })
}

/// Something with a Python type name, for error texts.
pub(crate) trait Named {
    /// `type(self).__name__`.
    fn short_name(&self) -> &str;
}

/// A [`PyInstance`] lent by reference. Holds a weak reference to itself, so that the
/// attributes it hands out (bound methods) can hold it in turn.
pub(crate) struct Py<T: PyInstance> {
    me: Weak<Py<T>>,
    type_name: String,
    pub(crate) inner: T,
}

impl<T: PyInstance> Named for Py<T> {
    fn short_name(&self) -> &str {
        self.inner.type_names().1
    }
}

impl<T: PyInstance> Py<T> {
    /// Wraps `inner` for lending.
    pub(crate) fn new(inner: T) -> Arc<Py<T>> {
        let (module, name) = inner.type_names();
        // One block of the exact size (`format!` guesses, then grows).
        let type_name = [module, ".", name].concat();
        Arc::new_cyclic(|me| Py { me: me.clone(), type_name, inner })
    }

    /// Wraps `inner` and makes it an [`Object`] to return to the peer.
    pub(crate) fn lend(inner: T) -> Object {
        Object::Local(LocalRef::new(Py::new(inner)))
    }

    /// This object, shared.
    pub(crate) fn arc(&self) -> Arc<Py<T>> {
        // The weak reference upgrades while `self` is borrowed: whoever calls this holds
        // a strong reference to reach `self`.
        self.me.upgrade().expect("a Py is only reached through an Arc")
    }

    /// This object as a [`LocalRef`].
    pub(crate) fn local_ref(&self) -> LocalRef {
        LocalRef::new(self.arc())
    }

    /// The address CPython would print: this object's own, so it is unique and stable.
    pub(crate) fn address(&self) -> String {
        format!("{:#x}", self.address_value())
    }

    /// This object's address as a number (its identity).
    pub(crate) fn address_value(&self) -> usize {
        self as *const Self as usize
    }

    fn identity_hash(&self) -> i64 {
        (self as *const Self as usize >> 4) as i64
    }

    /// Python's `getattr` failure, with the `name` and `obj` it carries.
    pub(crate) fn no_attribute(&self, conn: &mut Connection, name: &str) -> Error {
        let obj = self.inner.repr(self, conn).unwrap_or_default();
        attribute_error(self.short_name(), name, &obj)
    }

    /// `getattr(self, name)` once the policy let `name` through.
    fn lookup(&self, conn: &mut Connection, name: &str) -> Result<Object> {
        if let Some(value) = self.inner.instance_attr(name) {
            return Ok(value);
        }
        if name == "__doc__" {
            return Ok(self.inner.doc().map_or(Object::NONE, Object::from));
        }
        match self.inner.member(name) {
            Some((Member::NoneValue, _)) => Ok(Object::NONE),
            Some((kind, doc)) => Ok(BoundMember::lend(self.local_ref(), &self.type_name, name, kind, doc)),
            None => Err(self.no_attribute(conn, name)),
        }
    }
}

impl<T: PyInstance> Drop for Py<T> {
    fn drop(&mut self) {
        crate::client::local::drop_iteratively(self.inner.take_references());
    }
}

/// `AttributeError: 'T' object has no attribute 'x'`, with `name` and `obj` set as
/// Python's `getattr` sets them (vinegar sends both).
pub(crate) fn attribute_error(type_name: &str, name: &str, obj_repr: &str) -> Error {
    let mut e = RemoteException::builtin("AttributeError", format!("'{type_name}' object has no attribute '{name}'"));
    for (key, value) in &mut e.attrs {
        match key.as_str() {
            "name" => *value = Value::from(name),
            "obj" => *value = Value::from(obj_repr),
            _ => {}
        }
    }
    Error::Remote(Box::new(e))
}

impl<T: PyInstance> LocalObject for Py<T> {
    fn type_name(&self) -> &str {
        &self.type_name
    }

    fn getattr(&self, conn: &mut Connection, name: &str) -> Result<Object> {
        let name = policy::check_attr(name, |n| self.inner.has_attr(n))?;
        self.lookup(conn, &name)
    }

    fn setattr(&self, _conn: &mut Connection, name: &str, _value: Object) -> Result<()> {
        self.inner.setattr(name)
    }

    fn delattr(&self, _conn: &mut Connection, name: &str) -> Result<()> {
        self.inner.delattr(name)
    }

    fn call(&self, conn: &mut Connection, args: Args) -> Result<Object> {
        self.inner.call(self, conn, args)
    }

    fn has_method(&self, name: &str) -> bool {
        self.inner.instance_attr(name).is_none() && self.inner.member(name).is_some_and(|(m, _)| m.is_callable())
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn take_references(&self) -> Vec<Object> {
        self.inner.take_references()
    }

    fn call_method(&self, conn: &mut Connection, name: &str, args: Args) -> Result<Object> {
        let name = policy::check_attr(name, |n| self.inner.has_attr(n))?;
        if self.inner.instance_attr(&name).is_none() {
            if let Some((kind, _)) = self.inner.member(&name) {
                if kind.is_callable() {
                    return self.inner.call_member(self, conn, &name, args);
                }
            }
        }
        // A data attribute (or a missing one): read it, then call what it is.
        let attr = self.lookup(conn, &name)?;
        super::ops::call(conn, &attr, args)
    }

    fn repr(&self, conn: &mut Connection) -> Result<String> {
        self.inner.repr(self, conn)
    }

    fn str(&self, conn: &mut Connection) -> Result<String> {
        self.inner.str(self, conn)
    }

    fn dir(&self, _conn: &mut Connection) -> Result<Vec<String>> {
        Ok(self.inner.dir())
    }

    fn hash(&self, _conn: &mut Connection) -> Result<i64> {
        match self.inner.member("__hash__") {
            Some((Member::NoneValue, _)) => {
                Err(Error::raise("TypeError", format!("unhashable type: '{}'", self.short_name())))
            }
            _ => Ok(self.inner.hash().unwrap_or_else(|| self.identity_hash())),
        }
    }

    fn compare(&self, conn: &mut Connection, op: &str, other: Object) -> Result<Object> {
        // rpyc: getattr(type(obj), op)(obj, other), after the policy on the type.
        let op = policy::check_attr(op, |n| self.inner.has_attr(n))?;
        self.inner.call_member(self, conn, &op, Args { positional: [other].into(), kwargs: Vec::new() })
    }

    fn inspect(&self) -> Vec<(String, Option<String>)> {
        self.inner.inspect()
    }
}
