//! `list`, lent by reference, with the operations rpyc's safe attributes reach:
//! indexing and slicing, assignment and deletion, `in`, `+`, `*`, `+=`, `*=`,
//! comparisons, iteration and `repr`, each with CPython's errors.

use super::class::PyClass;
use super::cpython::{LIST, LIST_ITERATOR};
use super::instance::{exactly, object_member, Py, PyInstance};
use super::ops;
use super::slice::{self, Key};
use crate::client::{Args, CmpOp, Connection, Object};
use crate::error::{Error, Result};
use crate::wire::Value;
use std::sync::{Arc, Mutex, MutexGuard};

/// A Python `list`.
pub(crate) struct List {
    // Never held across a request to the peer: a callback could reach this list again.
    items: Mutex<Vec<Object>>,
}

impl List {
    /// A list of `items`, lent by reference.
    pub(crate) fn lend(items: Vec<Object>) -> Object {
        Py::lend(List { items: Mutex::new(items) })
    }

    fn items(&self) -> MutexGuard<'_, Vec<Object>> {
        // A poisoned lock means a panic elsewhere mid-update; the vector itself is sound.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the items, to work on without the lock.
    pub(crate) fn snapshot(&self) -> Vec<Object> {
        self.items().clone()
    }

    /// The items of `other` if it is a list of ours.
    pub(crate) fn of(other: &Object) -> Option<Vec<Object>> {
        match other {
            Object::Local(l) => l.object().as_any()?.downcast_ref::<Py<List>>().map(|list| list.inner.snapshot()),
            _ => None,
        }
    }
}

fn index_error(what: &str) -> Error {
    Error::raise("IndexError", what.to_owned())
}

fn memory_error() -> Error {
    Error::Remote(Box::new(crate::wire::RemoteException::builtin_args("MemoryError", Vec::new())))
}

impl PyInstance for List {
    fn class(&self) -> &PyClass {
        &LIST
    }

    fn take_references(&self) -> Vec<Object> {
        std::mem::take(&mut *self.items())
    }

    fn repr(&self, me: &Py<Self>, conn: &mut Connection) -> Result<String> {
        // A list that holds itself prints as `[...]` there, as CPython's Py_ReprEnter does.
        ops::repr_once(conn, me.address_value(), "[...]", |conn| {
            let items = self.snapshot();
            let texts = items.iter().map(|o| ops::repr(conn, o)).collect::<Result<Vec<_>>>()?;
            Ok(format!("[{}]", texts.join(", ")))
        })
    }

    fn call_member(&self, me: &Py<Self>, conn: &mut Connection, name: &str, args: Args) -> Result<Object> {
        match name {
            "__len__" => exactly::<0>(me, name, args).map(|_| self.items().len().into()),
            "__getitem__" => {
                let [key] = exactly::<1>(me, name, args)?;
                let len = self.items().len();
                match slice::resolve(conn, &key, len, "list")? {
                    Key::Index(i) => self
                        .items()
                        .get(usize::try_from(i).unwrap_or(usize::MAX))
                        .cloned()
                        .ok_or_else(|| index_error("list index out of range")),
                    Key::Slice(positions) => {
                        let items = self.items();
                        Ok(List::lend(positions.iter().map(|p| items[*p].clone()).collect()))
                    }
                }
            }
            "__setitem__" => {
                let [key, value] = exactly::<2>(me, name, args)?;
                let len = self.items().len();
                match slice::resolve(conn, &key, len, "list")? {
                    Key::Index(i) => {
                        let mut items = self.items();
                        let slot = usize::try_from(i).ok().and_then(|i| items.get_mut(i));
                        *slot.ok_or_else(|| index_error("list assignment index out of range"))? = value;
                    }
                    Key::Slice(positions) => {
                        let new = iterate_to_assign(conn, &key, &value)?;
                        self.assign_slice(&key, &positions, new)?;
                    }
                }
                Ok(Object::NONE)
            }
            "__delitem__" => {
                let [key] = exactly::<1>(me, name, args)?;
                let len = self.items().len();
                match slice::resolve(conn, &key, len, "list")? {
                    Key::Index(i) => {
                        let mut items = self.items();
                        let i = usize::try_from(i).ok().filter(|i| *i < items.len());
                        items.remove(i.ok_or_else(|| index_error("list assignment index out of range"))?);
                    }
                    Key::Slice(mut positions) => {
                        positions.sort_unstable();
                        let mut items = self.items();
                        for p in positions.into_iter().rev() {
                            items.remove(p);
                        }
                    }
                }
                Ok(Object::NONE)
            }
            "__contains__" => {
                let [x] = exactly::<1>(me, name, args)?;
                // Item by item, the lock taken afresh each time, as CPython walks a list
                // that the comparisons (the peer's code) may change.
                let mut i = 0;
                while let Some(item) = self.items().get(i).cloned() {
                    if item == x || ops::compare_bool(conn, &item, &x, CmpOp::Eq)? {
                        return Ok(true.into());
                    }
                    i += 1;
                }
                Ok(false.into())
            }
            "__iter__" => {
                exactly::<0>(me, name, args)?;
                Ok(Py::lend(ListIterator { list: Mutex::new(Some(me.arc())), next: Mutex::new(0) }))
            }
            "__add__" => {
                let [other] = exactly::<1>(me, name, args)?;
                match List::of(&other) {
                    Some(more) => Ok(List::lend([self.snapshot(), more].concat())),
                    None => Err(Error::raise(
                        "TypeError",
                        format!("can only concatenate list (not \"{}\") to list", ops::type_name(&other)),
                    )),
                }
            }
            "__iadd__" => {
                let [other] = exactly::<1>(me, name, args)?;
                let more = match List::of(&other) {
                    Some(more) => more,
                    None => ops::iterate(conn, &other)?.collect(conn)?,
                };
                self.items().extend(more);
                Ok(me.local_ref().into())
            }
            "__mul__" | "__rmul__" => {
                let [n] = exactly::<1>(me, name, args)?;
                let n = slice::repeat_count(conn, &n)?;
                Ok(List::lend(repeat(&self.snapshot(), n)?))
            }
            "__imul__" => {
                let [n] = exactly::<1>(me, name, args)?;
                let n = slice::repeat_count(conn, &n)?;
                let out = repeat(&self.snapshot(), n)?;
                *self.items() = out;
                Ok(me.local_ref().into())
            }
            "__eq__" | "__ne__" | "__lt__" | "__le__" | "__gt__" | "__ge__" => {
                let [other] = exactly::<1>(me, name, args)?;
                let Some(theirs) = List::of(&other) else { return Ok(Object::Value(Value::NotImplemented)) };
                let op = CmpOp::from_dunder(name).expect("a comparison name");
                compare_sequences(conn, &self.snapshot(), &theirs, op).map(Object::from)
            }
            _ => object_member(me, conn, name, args),
        }
    }
}

/// `items * n`, or CPython's `MemoryError` when it cannot be held. An empty list stays
/// empty whatever `n` (no loop of `n` rounds over nothing).
fn repeat(items: &[Object], n: usize) -> Result<Vec<Object>> {
    if items.is_empty() || n == 0 {
        return Ok(Vec::new());
    }
    let total = items.len().checked_mul(n).ok_or_else(memory_error)?;
    let mut out = Vec::new();
    out.try_reserve_exact(total).map_err(|_| memory_error())?;
    for _ in 0..n {
        out.extend_from_slice(items);
    }
    Ok(out)
}

impl List {
    fn assign_slice(&self, key: &Object, positions: &[usize], new: Vec<Object>) -> Result<()> {
        let step = match key {
            Object::Value(Value::Slice(parts)) => ops::int_of(&Object::Value(parts[2].clone())),
            _ => None,
        };
        let contiguous = step.is_none_or(|s| s == 1.into());
        let mut items = self.items();
        let len = items.len();
        if contiguous {
            // start..stop replaced by the new items, whatever their number. The bounds
            // are clamped again: iterating the new items may have run the peer's code,
            // which may have shortened this very list.
            let start = positions.first().copied().unwrap_or_else(|| match key {
                Object::Value(Value::Slice(parts)) => slice_start(&parts[0], len),
                _ => 0,
            });
            let start = start.min(len);
            let end = positions.last().map_or(start, |p| p + 1).clamp(start, len);
            items.splice(start..end, new);
            return Ok(());
        }
        if positions.iter().any(|p| *p >= len) {
            return Err(Error::raise("IndexError", "list assignment index out of range"));
        }
        if new.len() != positions.len() {
            return Err(Error::raise(
                "ValueError",
                format!(
                    "attempt to assign sequence of size {} to extended slice of size {}",
                    new.len(),
                    positions.len()
                ),
            ));
        }
        for (p, v) in positions.iter().zip(new) {
            items[*p] = v;
        }
        Ok(())
    }
}

/// Where an empty contiguous slice starts (`a[2:2] = …` inserts at 2).
fn slice_start(start: &Value, len: usize) -> usize {
    match ops::int_of(&Object::Value(start.clone())).and_then(|i| num_traits::ToPrimitive::to_i64(&i)) {
        Some(i) if i < 0 => (i + len as i64).max(0) as usize,
        Some(i) => (i as usize).min(len),
        None => 0,
    }
}

/// The items a slice assignment puts in (`a[1:2] = other`): any iterable, or CPython's
/// error, which names an extended slice when the step is not 1.
fn iterate_to_assign(conn: &mut Connection, key: &Object, value: &Object) -> Result<Vec<Object>> {
    if let Some(items) = List::of(value) {
        return Ok(items);
    }
    match ops::iterate(conn, value) {
        Ok(it) => it.collect(conn),
        Err(Error::Remote(e)) if e.class == "TypeError" => {
            let step = match key {
                Object::Value(Value::Slice(parts)) => ops::int_of(&Object::Value(parts[2].clone())),
                _ => None,
            };
            let extended = step.is_some_and(|s| s != 1.into());
            let message =
                if extended { "must assign iterable to extended slice" } else { "can only assign an iterable" };
            Err(Error::raise("TypeError", message))
        }
        Err(e) => Err(e),
    }
}

/// Lexicographic comparison of two lists, as `list_richcompare` does (lists of
/// different lengths are unequal without a look at their items).
pub(crate) fn compare_sequences(conn: &mut Connection, a: &[Object], b: &[Object], op: CmpOp) -> Result<bool> {
    if a.len() != b.len() && matches!(op, CmpOp::Eq | CmpOp::Ne) {
        return Ok(op == CmpOp::Ne);
    }
    for (x, y) in a.iter().zip(b) {
        if x == y || ops::compare_bool(conn, x, y, CmpOp::Eq)? {
            continue;
        }
        return match op {
            CmpOp::Eq => Ok(false),
            CmpOp::Ne => Ok(true),
            _ => ops::compare_bool(conn, x, y, op),
        };
    }
    let (m, n) = (a.len(), b.len());
    Ok(match op {
        CmpOp::Eq => m == n,
        CmpOp::Ne => m != n,
        CmpOp::Lt => m < n,
        CmpOp::Le => m <= n,
        CmpOp::Gt => m > n,
        CmpOp::Ge => m >= n,
    })
}

/// `iter(list)`: a `list_iterator`. Once exhausted it stays exhausted, as CPython's
/// does, even if the list grows.
pub(crate) struct ListIterator {
    // `None` once exhausted (and when giving up its references to be dropped).
    list: Mutex<Option<Arc<Py<List>>>>,
    next: Mutex<usize>,
}

impl PyInstance for ListIterator {
    fn class(&self) -> &PyClass {
        &LIST_ITERATOR
    }

    fn call_member(&self, me: &Py<Self>, conn: &mut Connection, name: &str, args: Args) -> Result<Object> {
        match name {
            "__next__" => {
                exactly::<0>(me, name, args)?;
                let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
                let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
                // One item copied, not the list (a chunked download's list holds megabytes).
                let item = list.as_ref().and_then(|l| l.inner.items().get(*next).cloned());
                match item {
                    Some(item) => {
                        *next += 1;
                        Ok(item)
                    }
                    None => {
                        *list = None;
                        Err(Error::raise("StopIteration", ""))
                    }
                }
            }
            "__iter__" => exactly::<0>(me, name, args).map(|_| me.local_ref().into()),
            "__length_hint__" => {
                exactly::<0>(me, name, args)?;
                let list = self.list.lock().unwrap_or_else(|e| e.into_inner());
                let next = *self.next.lock().unwrap_or_else(|e| e.into_inner());
                Ok(list.as_ref().map_or(0, |l| l.inner.items().len().saturating_sub(next)).into())
            }
            _ => object_member(me, conn, name, args),
        }
    }

    fn take_references(&self) -> Vec<Object> {
        let list = self.list.lock().unwrap_or_else(|e| e.into_inner()).take();
        list.map(|l| Object::Local(crate::client::LocalRef::new(l))).into_iter().collect()
    }
}
