//! Objects a service returns by reference: plain objects with attributes and dicts,
//! answering exactly what a Python peer's would under RPyC's default policy.

use crate::client::{Args, Connection, LocalObject, Object};
use crate::error::{Error, Result};
use crate::wire::{RemoteException, Value};
use std::sync::Arc;

/// An object with read-only attributes, e.g. a `User` (a reference, and INSPECTed by a
/// Python client because its type is not built-in).
pub struct AttrObject {
    type_name: String,
    repr: String,
    attrs: Vec<(&'static str, Object)>,
}

impl AttrObject {
    /// An object of type `type_name` (`"<module>.<class>"`) with these attributes.
    pub fn new(type_name: impl Into<String>, repr: impl Into<String>, attrs: Vec<(&'static str, Object)>) -> Self {
        AttrObject { type_name: type_name.into(), repr: repr.into(), attrs }
    }
}

impl LocalObject for AttrObject {
    fn type_name(&self) -> &str {
        &self.type_name
    }
    fn getattr(&self, _conn: &mut Connection, name: &str) -> Result<Object> {
        // Attributes are exposed as a Python service exposes them: `x` or `exposed_x`.
        let bare = name.strip_prefix("exposed_").unwrap_or(name);
        self.attrs
            .iter()
            .find(|(k, _)| *k == bare)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| super::service::no_attribute(&self.type_name, name))
    }
    fn repr(&self) -> String {
        self.repr.clone()
    }
    fn dir(&self) -> Vec<String> {
        self.attrs.iter().map(|(k, _)| format!("exposed_{k}")).collect()
    }
}

/// A `dict` lent by reference: `d[k]`, `len(d)`, `k in d` and iteration over its keys,
/// each a round trip, and nothing else (`keys()` and `items()` are not in rpyc's safe
/// attributes, so a Python server refuses them too).
pub struct LocalDict {
    entries: Vec<(Value, Object)>,
}

impl LocalDict {
    /// A dict of these entries, in insertion order.
    pub fn new(entries: Vec<(Value, Object)>) -> Self {
        LocalDict { entries }
    }
}

impl LocalObject for LocalDict {
    fn type_name(&self) -> &str {
        "builtins.dict"
    }
    fn call_method(&self, _conn: &mut Connection, name: &str, args: Args) -> Result<Object> {
        match name {
            "__getitem__" => {
                let key: Value = args.arg(0)?;
                self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()).ok_or_else(|| {
                    // Python's KeyError carries the key itself as its argument.
                    let mut e = RemoteException::builtin("KeyError", key.repr());
                    e.args = vec![key.clone()];
                    Error::Remote(Box::new(e))
                })
            }
            "__len__" => Ok(self.entries.len().into()),
            "__contains__" => {
                let key: Value = args.arg(0)?;
                Ok(self.entries.iter().any(|(k, _)| *k == key).into())
            }
            "__iter__" => {
                let keys: Vec<Object> = self.entries.iter().map(|(k, _)| Object::Value(k.clone())).collect();
                match Object::list(keys) {
                    Object::Local(list) => list.object().call_method(_conn, "__iter__", Args::default()),
                    _ => unreachable!("Object::list is always a local object"),
                }
            }
            _ => Err(Error::raise("AttributeError", format!("cannot access '{name}'"))),
        }
    }
    fn repr(&self) -> String {
        let items: Vec<String> = self.entries.iter().map(|(k, v)| format!("{}: {}", k.repr(), v.describe())).collect();
        format!("{{{}}}", items.join(", "))
    }
    fn special_methods(&self) -> &[&'static str] {
        &["__getitem__", "__len__", "__contains__", "__iter__"]
    }
}

/// Shorthand for lending an object by reference.
pub fn lend(obj: impl LocalObject) -> Object {
    Object::local(Arc::new(obj))
}
