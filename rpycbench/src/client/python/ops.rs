//! Python's operations on [`Object`]s, as CPython runs them: `len()`, iteration,
//! `repr()`, `str()`, `format()`, comparisons, arithmetic, `operator.index`, calls.
//!
//! A native service written with these refuses and accepts what its Python twin does,
//! with the same exception and text. Values follow the built-in types' rules; the
//! peer's objects (proxies) forward exactly the methods a Python peer's netref class
//! would (see `netref`); this side's own objects answer through their members.

use super::netref;
use crate::client::{Args, CmpOp, Connection, Object};
use crate::error::{Error, Result};
use crate::wire::Value;
use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

/// `type(obj).__name__`: for the peer's objects, the netref class name, which is the
/// whole `module.name` (`'builtins.list'`), as in a Python server's error texts.
pub(crate) fn type_name(obj: &Object) -> String {
    match obj {
        Object::Value(v) => v.type_name().to_owned(),
        Object::Tuple(_) => "tuple".to_owned(),
        Object::Remote(r) => r.type_name().to_owned(),
        Object::Local(l) => l.type_name().rsplit('.').next().unwrap_or_default().to_owned(),
    }
}

fn type_error(message: impl Into<String>) -> Error {
    Error::raise("TypeError", message)
}

fn no_args() -> Args {
    Args::default()
}

fn one_arg(o: Object) -> Args {
    Args { positional: [o].into(), kwargs: Vec::new() }
}

/// Whether `obj`'s type has method `name` (the peer's, or ours), so that an operation
/// is forwarded to it.
fn has_method(conn: &mut Connection, obj: &Object, name: &str) -> Result<bool> {
    Ok(match obj {
        Object::Remote(r) => netref::has(conn, r, name)?,
        Object::Local(l) => l.object().has_method(name),
        _ => false,
    })
}

/// Calls method `name` of the peer's or our object.
fn invoke(conn: &mut Connection, obj: &Object, name: &str, args: Args) -> Result<Object> {
    match obj {
        Object::Remote(r) => conn.call_method(r, name, args.positional, args.kwargs),
        Object::Local(l) => l.object().call_method(conn, name, args),
        other => Err(type_error(format!("'{}' object has no method {name}", type_name(other)))),
    }
}

// ---- text ------------------------------------------------------------------------

/// CPython's default recursion limit (`sys.getrecursionlimit()`): `repr` and
/// comparisons recurse through containers until a Python server's stack holds this many
/// frames. `Connection::python_depth` counts them from the handler's own frames (see
/// `dispatch::python_frames`), so a native server raises where Python's does.
pub(crate) const RECURSION_LIMIT: u32 = 1000;

/// Stack left before [`deeper`] continues on a new segment: recursion as deep as
/// Python's must not depend on the thread's stack size or on a debug build's frames.
const STACK_RED_ZONE: usize = 128 * 1024;
/// Size of each segment `stacker` adds.
const STACK_SEGMENT: usize = 1024 * 1024;

/// Runs `f` one recursion level deeper, or raises CPython's `RecursionError` (`what`
/// says where) at [`RECURSION_LIMIT`].
fn deeper<T>(conn: &mut Connection, what: &str, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
    if conn.python_depth >= RECURSION_LIMIT {
        return Err(Error::raise("RecursionError", format!("maximum recursion depth exceeded{what}")));
    }
    conn.python_depth += 1;
    let result = grow_stack(|| f(conn));
    conn.python_depth -= 1;
    result
}

/// Runs `f` with room on the stack, adding a heap segment when this one runs low
/// (`stacker`, the crate rustc itself uses for deep recursion).
pub(crate) fn grow_stack<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, f)
}

/// `repr` of a container at `address`: `recursive` where it would print itself again
/// (a list holding itself is `[[...]]`), as CPython's `Py_ReprEnter` does.
pub(crate) fn repr_once(
    conn: &mut Connection,
    address: usize,
    recursive: &str,
    f: impl FnOnce(&mut Connection) -> Result<String>,
) -> Result<String> {
    if conn.repr_active.contains(&address) {
        return Ok(recursive.to_owned());
    }
    conn.repr_active.push(address);
    let result = f(conn);
    conn.repr_active.retain(|a| *a != address);
    result
}

/// `repr(obj)`.
pub(crate) fn repr(conn: &mut Connection, obj: &Object) -> Result<String> {
    deeper(conn, " while getting the repr of an object", |conn| repr_inner(conn, obj))
}

fn repr_inner(conn: &mut Connection, obj: &Object) -> Result<String> {
    match obj {
        Object::Value(v) => Ok(v.repr()),
        Object::Tuple(items) => {
            let inner = items.iter().map(|o| repr(conn, o)).collect::<Result<Vec<_>>>()?;
            Ok(if inner.len() == 1 { format!("({},)", inner[0]) } else { format!("({})", inner.join(", ")) })
        }
        Object::Remote(r) => conn.repr(r),
        Object::Local(l) => l.object().repr(conn),
    }
}

/// `str(obj)`.
pub(crate) fn str(conn: &mut Connection, obj: &Object) -> Result<String> {
    match obj {
        Object::Value(Value::Str(s)) => Ok(s.clone()),
        Object::Remote(r) => conn.str(r),
        Object::Local(l) => l.object().str(conn),
        other => repr(conn, other),
    }
}

/// `format(obj, "")`, what an f-string does with `{obj}`.
pub(crate) fn format(conn: &mut Connection, obj: &Object) -> Result<String> {
    match obj {
        Object::Remote(_) | Object::Local(_) => {
            let text = invoke(conn, obj, "__format__", one_arg("".into()))?;
            match text {
                Object::Value(Value::Str(s)) => Ok(s),
                other => Err(type_error(format!("__format__ must return a str, not {}", type_name(&other)))),
            }
        }
        other => str(conn, other),
    }
}

/// [`format`] appended to `out`: an `int` or a `str` (the common f-string parts) is
/// written in place, without a string of its own.
pub(crate) fn format_into(conn: &mut Connection, obj: &Object, out: &mut String) -> Result<()> {
    match obj {
        // `format(i, "")` is `str(i)`, the decimal digits `Value`'s `Display` writes.
        Object::Value(Value::Int(i)) => out.push_str(itoa::Buffer::new().format(*i)),
        Object::Value(Value::Str(s)) => out.push_str(s),
        other => out.push_str(&format(conn, other)?),
    }
    Ok(())
}

// ---- length, truth, index ------------------------------------------------------------

/// `len(obj)`.
pub(crate) fn len(conn: &mut Connection, obj: &Object) -> Result<BigInt> {
    let n = match obj {
        Object::Value(Value::Str(s)) => s.chars().count(),
        Object::Value(Value::Bytes(b)) => b.len(),
        Object::Value(Value::Tuple(t)) | Object::Value(Value::FrozenSet(t)) => t.len(),
        Object::Tuple(t) => t.len(),
        Object::Remote(_) | Object::Local(_) if has_method(conn, obj, "__len__")? => {
            let n = invoke(conn, obj, "__len__", no_args())?;
            return match int_of(&n) {
                Some(n) if n.is_negative() => Err(Error::raise("ValueError", "__len__() should return >= 0")),
                Some(n) => Ok(n),
                None => Err(type_error(format!("'{}' object cannot be interpreted as an integer", type_name(&n)))),
            };
        }
        other => return Err(type_error(format!("object of type '{}' has no len()", type_name(other)))),
    };
    Ok(BigInt::from(n))
}

/// `bool(obj)`.
pub(crate) fn truth(conn: &mut Connection, obj: &Object) -> Result<bool> {
    Ok(match obj {
        Object::Value(v) => match v {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::BigInt(i) => !i.is_zero(),
            Value::Float(x) => *x != 0.0,
            Value::Complex(a, b) => *a != 0.0 || *b != 0.0,
            Value::Bytes(b) => !b.is_empty(),
            Value::Str(s) => !s.is_empty(),
            Value::Tuple(t) | Value::FrozenSet(t) => !t.is_empty(),
            Value::Slice(_) | Value::Ellipsis | Value::NotImplemented => true,
        },
        Object::Tuple(t) => !t.is_empty(),
        _ if has_method(conn, obj, "__bool__")? => {
            let b = invoke(conn, obj, "__bool__", no_args())?;
            match b {
                Object::Value(Value::Bool(b)) => b,
                other => {
                    return Err(type_error(format!("__bool__ should return bool, returned {}", type_name(&other))))
                }
            }
        }
        _ if has_method(conn, obj, "__len__")? => !len(conn, obj)?.is_zero(),
        _ => true,
    })
}

/// The integer of an `int` or `bool` value.
pub(crate) fn int_of(obj: &Object) -> Option<BigInt> {
    match obj {
        Object::Value(Value::Int(i)) => Some(BigInt::from(*i)),
        Object::Value(Value::BigInt(i)) => Some(i.clone()),
        Object::Value(Value::Bool(b)) => Some(BigInt::from(u8::from(*b))),
        _ => None,
    }
}

/// `operator.index(obj)`: an integer, or the `TypeError` `range()` and slicing raise.
pub(crate) fn index(conn: &mut Connection, obj: &Object) -> Result<BigInt> {
    if let Some(i) = int_of(obj) {
        return Ok(i);
    }
    if has_method(conn, obj, "__index__")? {
        let i = invoke(conn, obj, "__index__", no_args())?;
        return int_of(&i).ok_or_else(|| type_error(format!("__index__ returned non-int (type {})", type_name(&i))));
    }
    Err(type_error(format!("'{}' object cannot be interpreted as an integer", type_name(obj))))
}

// ---- calls and iteration -----------------------------------------------------------

/// `obj(*args, **kwargs)`.
pub(crate) fn call(conn: &mut Connection, obj: &Object, args: Args) -> Result<Object> {
    match obj {
        Object::Remote(r) if netref::has(conn, r, "__call__")? => conn.call_ref(r, args.positional, args.kwargs),
        Object::Local(l) => l.object().call(conn, args),
        other => Err(type_error(format!("'{}' object is not callable", type_name(other)))),
    }
}

/// An iteration in progress: `iter(obj)`, stepped with [`PyIter::next`].
pub(crate) enum PyIter {
    /// Items already at hand (a value's elements).
    Items(std::vec::IntoIter<Object>),
    /// An iterator object (the peer's or ours), stepped with `__next__`.
    Next(Object),
    /// A sequence without `__iter__`, indexed from 0 until `IndexError`.
    GetItem(Object, usize),
}

/// `iter(obj)`.
pub(crate) fn iterate(conn: &mut Connection, obj: &Object) -> Result<PyIter> {
    let items: Vec<Object> = match obj {
        Object::Value(Value::Str(s)) => s.chars().map(|c| Object::from(c.to_string())).collect(),
        Object::Value(Value::Bytes(b)) => b.iter().map(|x| Object::from(i64::from(*x))).collect(),
        Object::Value(Value::Tuple(t)) | Object::Value(Value::FrozenSet(t)) => {
            t.iter().cloned().map(Object::Value).collect()
        }
        Object::Tuple(t) => t.clone(),
        Object::Remote(_) | Object::Local(_) if has_method(conn, obj, "__iter__")? => {
            let it = invoke(conn, obj, "__iter__", no_args())?;
            if !has_method(conn, &it, "__next__")? {
                return Err(type_error(format!("iter() returned non-iterator of type '{}'", type_name(&it))));
            }
            return Ok(PyIter::Next(it));
        }
        Object::Remote(_) | Object::Local(_) if has_method(conn, obj, "__getitem__")? => {
            return Ok(PyIter::GetItem(obj.clone(), 0));
        }
        other => return Err(type_error(format!("'{}' object is not iterable", type_name(other)))),
    };
    Ok(PyIter::Items(items.into_iter()))
}

impl PyIter {
    /// The next item, or `None` at the end (`StopIteration`).
    pub(crate) fn next(&mut self, conn: &mut Connection) -> Result<Option<Object>> {
        match self {
            PyIter::Items(items) => Ok(items.next()),
            PyIter::Next(it) => match invoke(conn, it, "__next__", no_args()) {
                Ok(item) => Ok(Some(item)),
                Err(Error::Remote(e)) if e.module == "builtins" && e.class == "StopIteration" => Ok(None),
                Err(e) => Err(e),
            },
            PyIter::GetItem(seq, i) => match invoke(conn, seq, "__getitem__", one_arg((*i as i64).into())) {
                Ok(item) => {
                    *i += 1;
                    Ok(Some(item))
                }
                Err(Error::Remote(e))
                    if e.module == "builtins" && (e.class == "IndexError" || e.class == "StopIteration") =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            },
        }
    }

    /// Every remaining item.
    pub(crate) fn collect(mut self, conn: &mut Connection) -> Result<Vec<Object>> {
        let mut all = Vec::new();
        while let Some(item) = self.next(conn)? {
            all.push(item);
        }
        Ok(all)
    }
}

// ---- comparisons ---------------------------------------------------------------------

/// The reflected comparison (`a < b` tries `b > a` next).
fn reflected(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

fn symbol(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

/// One side's comparison method: the result, `NotImplemented` included.
fn compare_one(conn: &mut Connection, a: &Object, b: &Object, op: CmpOp) -> Result<Object> {
    Ok(match a {
        Object::Remote(r) => conn.compare(r, op, b.clone())?,
        Object::Local(l) => l.object().compare(conn, op.dunder(), b.clone())?,
        Object::Value(x) => match b {
            Object::Value(y) => value_compare(x, y, op).map_or(Object::Value(Value::NotImplemented), Object::from),
            _ => Object::Value(Value::NotImplemented),
        },
        Object::Tuple(_) => Object::Value(Value::NotImplemented),
    })
}

/// `a <op> b`: the result object (usually a bool), as Python's rich comparison finds it.
pub(crate) fn compare(conn: &mut Connection, a: &Object, b: &Object, op: CmpOp) -> Result<Object> {
    deeper(conn, " in comparison", |conn| compare_inner(conn, a, b, op))
}

fn compare_inner(conn: &mut Connection, a: &Object, b: &Object, op: CmpOp) -> Result<Object> {
    let first = compare_one(conn, a, b, op)?;
    if !matches!(first, Object::Value(Value::NotImplemented)) {
        return Ok(first);
    }
    let second = compare_one(conn, b, a, reflected(op))?;
    if !matches!(second, Object::Value(Value::NotImplemented)) {
        return Ok(second);
    }
    match op {
        // Neither side knows: identity decides equality.
        CmpOp::Eq => Ok((a == b).into()),
        CmpOp::Ne => Ok((a != b).into()),
        _ => Err(type_error(format!(
            "'{}' not supported between instances of '{}' and '{}'",
            symbol(op),
            type_name(a),
            type_name(b)
        ))),
    }
}

/// `bool(a <op> b)`.
pub(crate) fn compare_bool(conn: &mut Connection, a: &Object, b: &Object, op: CmpOp) -> Result<bool> {
    let result = compare(conn, a, b, op)?;
    truth(conn, &result)
}

/// Built-in comparison of two values, `None` where Python's would be `NotImplemented`.
fn value_compare(x: &Value, y: &Value, op: CmpOp) -> Option<bool> {
    use std::cmp::Ordering;
    if let (Some(a), Some(b)) = (Num::of(x), Num::of(y)) {
        return match (&a, &b) {
            (Num::Complex(..), _) | (_, Num::Complex(..)) => match op {
                CmpOp::Eq => Some(a.as_complex() == b.as_complex()),
                CmpOp::Ne => Some(a.as_complex() != b.as_complex()),
                _ => None,
            },
            _ => {
                let ord = a.partial_cmp(&b);
                Some(match op {
                    CmpOp::Eq => ord == Some(Ordering::Equal),
                    CmpOp::Ne => ord != Some(Ordering::Equal),
                    CmpOp::Lt => ord == Some(Ordering::Less),
                    CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                    CmpOp::Gt => ord == Some(Ordering::Greater),
                    CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                })
            }
        };
    }
    let ord = match (x, y) {
        (Value::Str(a), Value::Str(b)) => a.cmp(b),
        (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
        (Value::Tuple(a), Value::Tuple(b)) => {
            // Lexicographic: the first pair that differs decides, with its own rules.
            for (p, q) in a.iter().zip(b) {
                if value_compare(p, q, CmpOp::Eq) != Some(true) {
                    return match op {
                        CmpOp::Eq => Some(false),
                        CmpOp::Ne => Some(true),
                        _ => value_compare(p, q, op),
                    };
                }
            }
            a.len().cmp(&b.len())
        }
        _ if std::mem::discriminant(x) == std::mem::discriminant(y) => {
            return match op {
                CmpOp::Eq => Some(x == y),
                CmpOp::Ne => Some(x != y),
                _ => None,
            }
        }
        _ => return None,
    };
    Some(match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    })
}

// ---- arithmetic ----------------------------------------------------------------------

/// A number: `bool` and `int` as integers, `float`, `complex`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Num {
    /// `int` (and `bool`).
    Int(BigInt),
    /// `float`.
    Float(f64),
    /// `complex`.
    Complex(f64, f64),
}

impl Num {
    /// The number a value is, if it is one.
    pub(crate) fn of(v: &Value) -> Option<Num> {
        Some(match v {
            Value::Bool(b) => Num::Int(BigInt::from(u8::from(*b))),
            Value::Int(i) => Num::Int(BigInt::from(*i)),
            Value::BigInt(i) => Num::Int(i.clone()),
            Value::Float(x) => Num::Float(*x),
            Value::Complex(a, b) => Num::Complex(*a, *b),
            _ => return None,
        })
    }

    fn as_float(&self) -> f64 {
        match self {
            Num::Int(i) => i.to_f64().unwrap_or(f64::INFINITY),
            Num::Float(x) => *x,
            Num::Complex(a, _) => *a,
        }
    }

    fn as_complex(&self) -> (f64, f64) {
        match self {
            Num::Complex(a, b) => (*a, *b),
            other => (other.as_float(), 0.0),
        }
    }

    /// Python's comparison of real numbers: exact between an int and a float (CPython
    /// never rounds the int to a float first), NaN unordered.
    fn partial_cmp(&self, other: &Num) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(b)),
            (Num::Int(a), Num::Float(x)) => int_float_cmp(a, *x),
            (Num::Float(x), Num::Int(a)) => int_float_cmp(a, *x).map(std::cmp::Ordering::reverse),
            _ => self.as_float().partial_cmp(&other.as_float()),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Num::Int(i) => Value::from(i),
            Num::Float(x) => Value::Float(x),
            Num::Complex(a, b) => Value::Complex(a, b),
        }
    }
}

/// `a` against `x` exactly: `None` for NaN.
fn int_float_cmp(a: &BigInt, x: f64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    if x.is_nan() {
        return None;
    }
    if x.is_infinite() {
        return Some(if x > 0.0 { Ordering::Less } else { Ordering::Greater });
    }
    let floor = x.floor();
    let whole = big_of_float(floor);
    Some(match a.cmp(&whole) {
        Ordering::Equal if x > floor => Ordering::Less,
        other => other,
    })
}

/// An integral, finite float as a BigInt, exactly.
fn big_of_float(x: f64) -> BigInt {
    if x.abs() < 9.0e18 {
        return BigInt::from(x as i64); // integral and in range: exact
    }
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1075;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    let magnitude = BigInt::from(mantissa);
    let magnitude = if exponent >= 0 { magnitude << exponent as usize } else { magnitude >> (-exponent) as usize };
    if x < 0.0 {
        -magnitude
    } else {
        magnitude
    }
}

/// CPython's `float // float` (`float_floor_div`): from `fmod`, so `1 // 0.1` is 9.0,
/// not the 10.0 that `floor(1 / 0.1)` would give.
fn float_floor_div(x: f64, y: f64) -> f64 {
    let m = x % y;
    let mut div = (x - m) / y;
    if m != 0.0 && ((y < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div != 0.0 {
        let floordiv = div.floor();
        if div - floordiv > 0.5 {
            floordiv + 1.0
        } else {
            floordiv
        }
    } else {
        0.0f64.copysign(x / y)
    }
}

/// A binary arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `//`
    FloorDiv,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::FloorDiv => "//",
        }
    }

    fn dunders(self) -> (&'static str, &'static str) {
        match self {
            BinOp::Add => ("__add__", "__radd__"),
            BinOp::Sub => ("__sub__", "__rsub__"),
            BinOp::FloorDiv => ("__floordiv__", "__rfloordiv__"),
        }
    }
}

fn not_implemented(o: &Object) -> bool {
    matches!(o, Object::Value(Value::NotImplemented))
}

/// `a <op> b`, as CPython's binary operator protocol runs it: the left operand's method,
/// then the right one's reflected method, then sequence concatenation and repetition.
pub(crate) fn binary(conn: &mut Connection, a: &Object, b: &Object, op: BinOp) -> Result<Object> {
    if let (Object::Value(x), Object::Value(y)) = (a, b) {
        if let Some(result) = value_binary(x, y, op)? {
            return Ok(Object::Value(result));
        }
    }
    let (method, reflected_method) = op.dunders();
    if has_method(conn, a, method)? {
        let r = invoke(conn, a, method, one_arg(b.clone()))?;
        if !not_implemented(&r) {
            return Ok(r);
        }
    }
    if has_method(conn, b, reflected_method)? {
        let r = invoke(conn, b, reflected_method, one_arg(a.clone()))?;
        if !not_implemented(&r) {
            return Ok(r);
        }
    }
    Err(match (op, a) {
        (BinOp::Add, Object::Value(Value::Str(_))) => {
            type_error(format!("can only concatenate str (not \"{}\") to str", type_name(b)))
        }
        (BinOp::Add, Object::Value(Value::Bytes(_))) => type_error(format!("can't concat {} to bytes", type_name(b))),
        (BinOp::Add, Object::Value(Value::Tuple(_)) | Object::Tuple(_)) => {
            type_error(format!("can only concatenate tuple (not \"{}\") to tuple", type_name(b)))
        }
        _ => type_error(format!(
            "unsupported operand type(s) for {}: '{}' and '{}'",
            op.symbol(),
            type_name(a),
            type_name(b)
        )),
    })
}

/// Arithmetic on two values; `None` where neither built-in type handles the pair.
fn value_binary(x: &Value, y: &Value, op: BinOp) -> Result<Option<Value>> {
    if let (Some(a), Some(b)) = (Num::of(x), Num::of(y)) {
        return num_binary(a, b, op).map(|n| n.map(Num::into_value));
    }
    Ok(match (op, x, y) {
        (BinOp::Add, Value::Str(a), Value::Str(b)) => Some(Value::Str(format!("{a}{b}"))),
        (BinOp::Add, Value::Bytes(a), Value::Bytes(b)) => Some(Value::from([&a[..], &b[..]].concat())),
        (BinOp::Add, Value::Tuple(a), Value::Tuple(b)) => Some(Value::Tuple([a.as_slice(), b].concat())),
        _ => None,
    })
}

fn num_binary(a: Num, b: Num, op: BinOp) -> Result<Option<Num>> {
    use Num::*;
    Ok(Some(match (a, b) {
        (Int(a), Int(b)) => match op {
            BinOp::Add => Int(a + b),
            BinOp::Sub => Int(a - b),
            BinOp::FloorDiv if b.is_zero() => {
                return Err(Error::raise("ZeroDivisionError", "integer division or modulo by zero"))
            }
            BinOp::FloorDiv => Int(num_integer::Integer::div_floor(&a, &b)),
        },
        (Complex(..), _) | (_, Complex(..)) if op == BinOp::FloorDiv => return Ok(None),
        (a @ Complex(..), b) | (a, b @ Complex(..)) => {
            let ((p, q), (r, s)) = (a.as_complex(), b.as_complex());
            match op {
                BinOp::Add => Complex(p + r, q + s),
                BinOp::Sub => Complex(p - r, q - s),
                BinOp::FloorDiv => unreachable!("handled above"),
            }
        }
        (a, b) => {
            let to_float = |n: &Num| match n {
                Num::Int(i) => i
                    .to_f64()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| Error::raise("OverflowError", "int too large to convert to float")),
                other => Ok(other.as_float()),
            };
            let (x, y) = (to_float(&a)?, to_float(&b)?);
            match op {
                BinOp::Add => Float(x + y),
                BinOp::Sub => Float(x - y),
                BinOp::FloorDiv if y == 0.0 => {
                    return Err(Error::raise("ZeroDivisionError", "float floor division by zero"))
                }
                BinOp::FloorDiv => Float(float_floor_div(x, y)),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_and_divide_as_cpython_does() {
        use std::cmp::Ordering::*;
        let big = |e: u32| BigInt::from(2).pow(e);
        assert_eq!(int_float_cmp(&(big(53) + 1), 2f64.powi(53)), Some(Greater));
        assert_eq!(int_float_cmp(&big(53), 2f64.powi(53)), Some(Equal));
        assert_eq!(int_float_cmp(&BigInt::from(10).pow(400), f64::INFINITY), Some(Less));
        assert_eq!(int_float_cmp(&BigInt::from(-3), -2.5), Some(Less));
        assert_eq!(int_float_cmp(&BigInt::from(1), f64::NAN), None);
        assert_eq!(float_floor_div(1.0, 0.1), 9.0);
        assert_eq!(float_floor_div(-7.0, 2.0), -4.0);
        assert_eq!(float_floor_div(7.0, -2.0), -4.0);
        let t = |v: &[i64]| Value::Tuple(v.iter().map(|i| Value::Int(*i)).collect());
        assert_eq!(value_compare(&t(&[1, 2]), &t(&[1, 3]), CmpOp::Lt), Some(true));
        assert_eq!(
            value_compare(&Value::Tuple(vec![Value::Int(1)]), &Value::Tuple(vec![Value::Float(1.0)]), CmpOp::Eq),
            Some(true)
        );
    }
}
