//! Bound methods: what `getattr(obj, "__eq__")` or `root.ping` hands a peer. Each calls
//! back into its owner, and shows itself as CPython's method objects do.

use super::class::{Member, PyClass};
use super::cpython::{BUILTIN_METHOD, METHOD, METHOD_WRAPPER};
use super::instance::{object_member, Py, PyInstance};
use crate::client::{Args, Connection, LocalRef, Object};
use crate::error::Result;
use crate::wire::Value;
use std::sync::Mutex;

/// A member of an object, bound to it.
pub(crate) struct BoundMember {
    // Always set, but given up when the method is dropped (see `take_references`).
    owner: Mutex<Option<LocalRef>>,
    owner_type: String,
    name: String,
    kind: Member,
    doc: Option<&'static str>,
}

impl BoundMember {
    /// Lends `owner.name` (a callable member of kind `kind`).
    pub(crate) fn lend(
        owner: LocalRef,
        owner_type: &str,
        name: &str,
        kind: Member,
        doc: Option<&'static str>,
    ) -> Object {
        let owner = Mutex::new(Some(owner));
        Py::lend(BoundMember { owner, owner_type: owner_type.to_owned(), name: name.to_owned(), kind, doc })
    }
}

impl BoundMember {
    /// The object it binds.
    fn owner(&self) -> Result<LocalRef> {
        let owner = self.owner.lock().unwrap_or_else(|e| e.into_inner()).clone();
        owner.ok_or_else(|| crate::error::Error::raise("ReferenceError", "the bound object is gone"))
    }
}

impl PyInstance for BoundMember {
    fn class(&self) -> &PyClass {
        match self.kind {
            Member::Wrapper => &METHOD_WRAPPER,
            Member::Builtin => &BUILTIN_METHOD,
            _ => &METHOD,
        }
    }

    fn doc(&self) -> Option<String> {
        self.doc.map(str::to_owned)
    }

    fn call(&self, _me: &Py<Self>, conn: &mut Connection, args: Args) -> Result<Object> {
        self.owner()?.object().call_method(conn, &self.name, args)
    }

    fn call_member(&self, me: &Py<Self>, conn: &mut Connection, name: &str, args: Args) -> Result<Object> {
        if name == "__eq__" || name == "__ne__" {
            // Two bound methods are equal when they bind the same member of the same
            // object, even as two different method objects (`root.ping == root.ping`).
            let same = match &args.positional[..] {
                [Object::Local(other)] => {
                    other.object().as_any().and_then(|o| o.downcast_ref::<Py<BoundMember>>()).is_some_and(|o| {
                        matches!((o.inner.owner(), self.owner()), (Ok(a), Ok(b)) if a.ptr_eq(&b))
                            && o.inner.name == self.name
                    })
                }
                _ => false,
            };
            let equal = same || matches!(&args.positional[..], [Object::Local(o)] if o.ptr_eq(&me.local_ref()));
            return Ok(match (name, equal) {
                ("__eq__", true) => true.into(),
                ("__ne__", true) => false.into(),
                _ => Object::Value(Value::NotImplemented),
            });
        }
        object_member(me, conn, name, args)
    }

    fn take_references(&self) -> Vec<Object> {
        self.owner.lock().unwrap_or_else(|e| e.into_inner()).take().map(Object::Local).into_iter().collect()
    }

    /// Equal bound methods hash alike: the bound object and the member name.
    fn hash(&self) -> Option<i64> {
        let owner = self.owner().ok()?;
        Some((owner.addr() as i64).wrapping_mul(31) ^ crate::client::fnv1a(self.name.bytes()) as i64)
    }

    fn repr(&self, _me: &Py<Self>, conn: &mut Connection) -> Result<String> {
        let owner = self.owner()?;
        let at = format!("{:#x}", owner.addr());
        let short = self.owner_type.rsplit('.').next().unwrap_or(&self.owner_type);
        Ok(match self.kind {
            Member::Wrapper => format!("<method-wrapper '{}' of {short} object at {at}>", self.name),
            Member::Builtin if self.name == "__new__" => {
                "<built-in method __new__ of type object at 0x7f3a5b1c2d40>".into()
            }
            Member::Builtin => format!("<built-in method {} of {short} object at {at}>", self.name),
            // An empty qualified name: a method of the owner's own class.
            Member::Method("") => {
                format!("<bound method {short}.{} of {}>", self.name, owner.object().repr(conn)?)
            }
            Member::Method(qualname) => format!("<bound method {qualname} of {}>", owner.object().repr(conn)?),
            Member::ClassMethod(qualname) => format!("<bound method {qualname} of <class '{}'>>", self.owner_type),
            Member::NoneValue => unreachable!("only callable members are bound"),
        })
    }
}
