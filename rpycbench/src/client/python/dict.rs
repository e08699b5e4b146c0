//! `dict`, lent by reference, with the operations rpyc's safe attributes reach: item
//! access, assignment and deletion, `in`, `len`, iteration over keys, `|`, `|=`, `==`
//! and `repr`, each with CPython's errors.

use super::class::PyClass;
use super::cpython::{DICT, DICT_KEYITERATOR};
use super::instance::{exactly, object_member, Py, PyInstance};
use super::ops;
use crate::client::{Args, CmpOp, Connection, Object};
use crate::error::{Error, Result};
use crate::wire::{RemoteException, Value};
use std::sync::{Arc, Mutex, MutexGuard};

/// A Python `dict`, in insertion order.
pub(crate) struct Dict {
    // Never held across a request to the peer (see `List`).
    entries: Mutex<Vec<(Object, Object)>>,
}

impl Dict {
    /// A dict of `entries` (keys distinct), lent by reference.
    pub(crate) fn lend(entries: Vec<(Object, Object)>) -> Object {
        Py::lend(Dict { entries: Mutex::new(entries) })
    }

    fn entries(&self) -> MutexGuard<'_, Vec<(Object, Object)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn snapshot(&self) -> Vec<(Object, Object)> {
        self.entries().clone()
    }

    /// The entries of `other` if it is a dict of ours.
    fn of(other: &Object) -> Option<Vec<(Object, Object)>> {
        match other {
            Object::Local(l) => l.object().as_any()?.downcast_ref::<Py<Dict>>().map(|d| d.inner.snapshot()),
            _ => None,
        }
    }

    /// The stored key equal to `key`, after checking it can be a key (`hash(key)`).
    ///
    /// Comparisons may run the peer's code, which may change this dict meanwhile, so
    /// the caller finds the entry again by identity under the lock (no peer call there).
    fn find(&self, conn: &mut Connection, key: &Object) -> Result<Option<Object>> {
        check_hashable(conn, key)?;
        let keys: Vec<Object> = self.entries().iter().map(|(k, _)| k.clone()).collect();
        for k in keys {
            if k == *key || ops::compare_bool(conn, &k, key, CmpOp::Eq)? {
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    /// The position of the stored key `found` now (as [`find`](Self::find) returned it).
    fn position(&self, found: &Object) -> Option<usize> {
        self.entries().iter().position(|(k, _)| k == found)
    }

    fn set(&self, conn: &mut Connection, key: Object, value: Object) -> Result<()> {
        let found = self.find(conn, &key)?;
        let mut entries = self.entries();
        match found.and_then(|f| entries.iter().position(|(k, _)| *k == f)) {
            Some(i) => entries[i].1 = value,
            None => entries.push((key, value)),
        }
        Ok(())
    }

    /// `dict.update(other)`: from a dict of ours, a mapping of the peer's (anything with
    /// `keys()`: its keys, then `other[key]`), or any iterable of pairs, each pair added
    /// as it is read, as CPython does (a bad pair leaves the ones before it in).
    fn update(&self, conn: &mut Connection, other: &Object) -> Result<()> {
        if let Some(entries) = Dict::of(other) {
            for (k, v) in entries {
                self.set(conn, k, v)?;
            }
            return Ok(());
        }
        if let Object::Remote(r) = other {
            if super::netref::has(conn, r, "keys")? {
                let keys = conn.call_method(r, "keys", (), Vec::new())?;
                let mut keys = ops::iterate(conn, &keys)?;
                while let Some(k) = keys.next(conn)? {
                    let v = conn.call_method(r, "__getitem__", (k.clone(),), Vec::new())?;
                    self.set(conn, k, v)?;
                }
                return Ok(());
            }
        }
        let mut items = ops::iterate(conn, other)?;
        let mut n = 0;
        while let Some(item) = items.next(conn)? {
            let parts = match ops::iterate(conn, &item) {
                Ok(it) => it.collect(conn)?,
                Err(Error::Remote(e)) if e.class == "TypeError" => {
                    return Err(Error::raise(
                        "TypeError",
                        format!("cannot convert dictionary update sequence element #{n} to a sequence"),
                    ))
                }
                Err(e) => return Err(e),
            };
            let [k, v]: [Object; 2] = parts.try_into().map_err(|p: Vec<Object>| {
                Error::raise(
                    "ValueError",
                    format!("dictionary update sequence element #{n} has length {}; 2 is required", p.len()),
                )
            })?;
            self.set(conn, k, v)?;
            n += 1;
        }
        Ok(())
    }
}

/// `hash(key)` must work for a key: our lists and dicts, and the peer's unhashable
/// objects, raise as Python does.
fn check_hashable(conn: &mut Connection, key: &Object) -> Result<()> {
    match key {
        Object::Remote(r) => conn.hash(r).map(drop),
        Object::Local(l) => l.object().hash(conn).map(drop),
        Object::Tuple(items) => items.iter().try_for_each(|i| check_hashable(conn, i)),
        Object::Value(Value::Slice(_)) => Err(Error::raise("TypeError", "unhashable type: 'slice'")),
        Object::Value(_) => Ok(()),
    }
}

/// `KeyError(key)`: its argument is the key (its repr when brine cannot carry it).
fn key_error(conn: &mut Connection, key: &Object) -> Error {
    let arg = match key {
        Object::Value(v) => v.clone(),
        other => Value::Str(ops::repr(conn, other).unwrap_or_default()),
    };
    Error::Remote(Box::new(RemoteException::builtin_args("KeyError", vec![arg])))
}

impl PyInstance for Dict {
    fn class(&self) -> &PyClass {
        &DICT
    }

    fn repr(&self, me: &Py<Self>, conn: &mut Connection) -> Result<String> {
        ops::repr_once(conn, me.address_value(), "{...}", |conn| {
            let mut parts = Vec::new();
            for (k, v) in self.snapshot() {
                parts.push(format!("{}: {}", ops::repr(conn, &k)?, ops::repr(conn, &v)?));
            }
            Ok(format!("{{{}}}", parts.join(", ")))
        })
    }

    fn take_references(&self) -> Vec<Object> {
        std::mem::take(&mut *self.entries()).into_iter().flat_map(|(k, v)| [k, v]).collect()
    }

    fn call_member(&self, me: &Py<Self>, conn: &mut Connection, name: &str, args: Args) -> Result<Object> {
        match name {
            "__len__" => exactly::<0>(me, name, args).map(|_| self.entries().len().into()),
            "__getitem__" => {
                let [key] = exactly::<1>(me, name, args)?;
                let found = self.find(conn, &key)?.and_then(|f| self.position(&f));
                match found.and_then(|i| self.entries().get(i).map(|(_, v)| v.clone())) {
                    Some(value) => Ok(value),
                    None => Err(key_error(conn, &key)),
                }
            }
            "__setitem__" => {
                let [key, value] = exactly::<2>(me, name, args)?;
                self.set(conn, key, value).map(|()| Object::NONE)
            }
            "__delitem__" => {
                let [key] = exactly::<1>(me, name, args)?;
                let found = self.find(conn, &key)?;
                let mut entries = self.entries();
                match found.and_then(|f| entries.iter().position(|(k, _)| *k == f)) {
                    Some(i) => {
                        entries.remove(i);
                        Ok(Object::NONE)
                    }
                    None => {
                        drop(entries);
                        Err(key_error(conn, &key))
                    }
                }
            }
            "__contains__" => {
                let [key] = exactly::<1>(me, name, args)?;
                Ok(self.find(conn, &key)?.is_some().into())
            }
            "__iter__" => {
                exactly::<0>(me, name, args)?;
                let keys = self.snapshot().into_iter().map(|(k, _)| k).collect();
                Ok(Py::lend(KeyIterator { keys, next: Mutex::new(0) }))
            }
            "__or__" | "__ror__" => {
                let [other] = exactly::<1>(me, name, args)?;
                let Some(theirs) = Dict::of(&other) else { return Ok(Object::Value(Value::NotImplemented)) };
                let (first, second) =
                    if name == "__or__" { (self.snapshot(), theirs) } else { (theirs, self.snapshot()) };
                let merged = Arc::new(Dict { entries: Mutex::new(first) });
                for (k, v) in second {
                    merged.set(conn, k, v)?;
                }
                let entries = merged.snapshot();
                Ok(Dict::lend(entries))
            }
            "__ior__" => {
                let [other] = exactly::<1>(me, name, args)?;
                self.update(conn, &other)?;
                Ok(me.local_ref().into())
            }
            "__eq__" | "__ne__" => {
                let [other] = exactly::<1>(me, name, args)?;
                let Some(theirs) = Dict::of(&other) else { return Ok(Object::Value(Value::NotImplemented)) };
                let equal = self.equals(conn, &theirs)?;
                Ok((equal == (name == "__eq__")).into())
            }
            "__lt__" | "__le__" | "__gt__" | "__ge__" => {
                exactly::<1>(me, name, args)?;
                Ok(Object::Value(Value::NotImplemented))
            }
            _ => object_member(me, conn, name, args),
        }
    }
}

impl Dict {
    fn equals(&self, conn: &mut Connection, theirs: &[(Object, Object)]) -> Result<bool> {
        let ours = self.snapshot();
        if ours.len() != theirs.len() {
            return Ok(false);
        }
        for (k, v) in &ours {
            let mut found = false;
            for (k2, v2) in theirs {
                if k == k2 || ops::compare_bool(conn, k, k2, CmpOp::Eq)? {
                    found = v == v2 || ops::compare_bool(conn, v, v2, CmpOp::Eq)?;
                    break;
                }
            }
            if !found {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `iter(dict)`: a `dict_keyiterator` over the keys as they were when it started.
pub(crate) struct KeyIterator {
    keys: Vec<Object>,
    next: Mutex<usize>,
}

impl PyInstance for KeyIterator {
    fn class(&self) -> &PyClass {
        &DICT_KEYITERATOR
    }

    fn call_member(&self, me: &Py<Self>, conn: &mut Connection, name: &str, args: Args) -> Result<Object> {
        match name {
            "__next__" => {
                exactly::<0>(me, name, args)?;
                let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
                let key = self.keys.get(*next).cloned().ok_or_else(|| Error::raise("StopIteration", ""))?;
                *next += 1;
                Ok(key)
            }
            "__iter__" => exactly::<0>(me, name, args).map(|_| me.local_ref().into()),
            "__length_hint__" => {
                exactly::<0>(me, name, args)?;
                let next = *self.next.lock().unwrap_or_else(|e| e.into_inner());
                Ok(self.keys.len().saturating_sub(next).into())
            }
            _ => object_member(me, conn, name, args),
        }
    }
}
