//! Python's sequence indexing: an index or a `slice`, resolved against a length as
//! `PyNumber_AsSsize_t` and `PySlice_AdjustIndices` do, with their errors.

use super::ops::{self, int_of};
use crate::client::{Connection, Object};
use crate::error::{Error, Result};
use crate::wire::Value;
use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive};

/// What a sequence is indexed with.
pub(crate) enum Key {
    /// One position, already counted from the start (may be out of range).
    Index(i64),
    /// The positions a slice selects, in order.
    Slice(Vec<usize>),
}

/// An index as a machine integer, or the `IndexError` CPython raises for a huge one.
fn ssize(i: &BigInt) -> Result<i64> {
    i.to_i64().ok_or_else(|| Error::raise("IndexError", "cannot fit 'int' into an index-sized integer"))
}

/// Resolves `key` for a sequence of `len` items of type `seq_type` (`"list"`), as
/// `seq[key]` does.
pub(crate) fn resolve(conn: &mut Connection, key: &Object, len: usize, seq_type: &str) -> Result<Key> {
    if let Object::Value(Value::Slice(parts)) = key {
        return slice_positions(conn, parts, len).map(Key::Slice);
    }
    let i = match int_of(key) {
        Some(i) => i,
        None => match key {
            Object::Remote(_) | Object::Local(_) => ops::index(conn, key).map_err(|_| indices_error(key, seq_type))?,
            _ => return Err(indices_error(key, seq_type)),
        },
    };
    let i = ssize(&i)?;
    Ok(Key::Index(if i < 0 { i + len as i64 } else { i }))
}

fn indices_error(key: &Object, seq_type: &str) -> Error {
    Error::raise("TypeError", format!("{seq_type} indices must be integers or slices, not {}", ops::type_name(key)))
}

/// One slice bound: `None`, or an index clamped as `PySlice_GetIndicesEx` clamps it.
fn bound(conn: &mut Connection, v: &Value) -> Result<Option<i64>> {
    match v {
        Value::None => Ok(None),
        other => match int_of(&Object::Value(other.clone())) {
            Some(i) => Ok(Some(i.clamp(BigInt::from(i64::MIN), BigInt::from(i64::MAX)).to_i64().unwrap_or(0))),
            None => {
                let _ = conn;
                Err(Error::raise("TypeError", "slice indices must be integers or None or have an __index__ method"))
            }
        },
    }
}

/// The positions `slice(start, stop, step)` selects in a sequence of `len` items.
pub(crate) fn slice_positions(conn: &mut Connection, parts: &[Value; 3], len: usize) -> Result<Vec<usize>> {
    let (start, stop, step) = (bound(conn, &parts[0])?, bound(conn, &parts[1])?, bound(conn, &parts[2])?);
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(Error::raise("ValueError", "slice step cannot be zero"));
    }
    let len = len as i64;
    let adjust = |v: Option<i64>, default: i64, low: i64, high: i64| match v {
        None => default,
        Some(v) if v < 0 => (v.saturating_add(len)).max(low),
        Some(v) => v.min(high),
    };
    let (start, stop) = if step > 0 {
        (adjust(start, 0, 0, len), adjust(stop, len, 0, len))
    } else {
        (adjust(start, len - 1, -1, len - 1), adjust(stop, -1, -1, len - 1))
    };
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(i as usize);
        i = match i.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(out)
}

/// The count of `list.__mul__(n)`: `n` via `__index__` (its error when it has none),
/// negative meaning none.
pub(crate) fn repeat_count(conn: &mut Connection, n: &Object) -> Result<usize> {
    let n = ops::index(conn, n)?;
    if n.is_negative() {
        return Ok(0);
    }
    n.to_usize().ok_or_else(|| Error::raise("OverflowError", "cannot fit 'int' into an index-sized integer"))
}
