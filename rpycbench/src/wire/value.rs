//! The brine value model: every type RPyC can copy by value.

use bytes::Bytes;
use num_bigint::BigInt;
use num_traits::ToPrimitive;
use std::fmt;

/// A value that brine can carry by value (RPyC's "simple" types, PROTOCOL.md §4.3).
///
/// Integers that fit an `i64` are always [`Value::Int`]; the decoder only produces
/// [`Value::BigInt`] for integers outside that range, and [`Value::from`] of a
/// [`BigInt`] normalizes the same way, so two equal integers compare equal.
///
/// Equality is structural: a float NaN is not equal to itself (as in Python) and a
/// frozenset compares its elements in wire order, which Python does not fix
/// (PROTOCOL.md §4.2). Use [`Value::same_as`] for a bit-exact comparison.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// `None`.
    #[default]
    None,
    /// `True` / `False` (never an integer on the wire).
    Bool(bool),
    /// An `int` that fits in 64 bits.
    Int(i64),
    /// An `int` outside the `i64` range (at most 4300 decimal digits, CPython's limit).
    BigInt(BigInt),
    /// A `float`, NaN, infinities and `-0.0` included.
    Float(f64),
    /// A `complex`: real and imaginary parts.
    Complex(f64, f64),
    /// A `bytes` object. Reference-counted, so cloning a 100 MB payload to send it again
    /// costs nothing, and a large one received can share the frame it arrived in
    /// instead of being copied out of it.
    Bytes(Bytes),
    /// A `str`.
    Str(String),
    /// A `tuple` of simple values.
    Tuple(Vec<Value>),
    /// A `frozenset`, elements in the order they travelled.
    FrozenSet(Vec<Value>),
    /// A `slice(start, stop, step)`.
    Slice(Box<[Value; 3]>),
    /// `Ellipsis` (`...`).
    Ellipsis,
    /// `NotImplemented`.
    NotImplemented,
}

impl Value {
    /// The Python type name of this value, as `type(v).__name__` prints it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Complex(..) => "complex",
            Value::Bytes(_) => "bytes",
            Value::Str(_) => "str",
            Value::Tuple(_) => "tuple",
            Value::FrozenSet(_) => "frozenset",
            Value::Slice(_) => "slice",
            Value::Ellipsis => "ellipsis",
            Value::NotImplemented => "NotImplementedType",
        }
    }

    /// A `slice(start, stop, step)`.
    pub fn slice(start: impl Into<Value>, stop: impl Into<Value>, step: impl Into<Value>) -> Self {
        Value::Slice(Box::new([start.into(), stop.into(), step.into()]))
    }

    /// Bit-exact equality: NaNs with the same bits are equal, `0.0` and `-0.0` are not.
    pub fn same_as(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            (Complex(a, b), Complex(c, d)) => a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits(),
            (Tuple(a), Tuple(b)) | (FrozenSet(a), FrozenSet(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
            }
            (Slice(a), Slice(b)) => a.iter().zip(b.iter()).all(|(x, y)| x.same_as(y)),
            _ => self == other,
        }
    }

    /// The string, if this is a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an `int` that fits in 64 bits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The bytes, if this is a `bytes` object.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is a `tuple`.
    pub fn as_tuple(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(t) => Some(t),
            _ => None,
        }
    }

    /// Python's `repr()` of the value (frozenset elements in wire order).
    pub fn repr(&self) -> String {
        self.to_string()
    }
}

impl From<BigInt> for Value {
    fn from(v: BigInt) -> Self {
        match v.to_i64() {
            Some(i) => Value::Int(i),
            None => Value::BigInt(v),
        }
    }
}

macro_rules! from_small_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int(i64::from(v))
            }
        }
    )*};
}
from_small_int!(i8, i16, i32, i64, u8, u16, u32);

macro_rules! from_wide_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                match i64::try_from(v) {
                    Ok(i) => Value::Int(i),
                    Err(_) => Value::BigInt(BigInt::from(v)),
                }
            }
        }
    )*};
}
from_wide_int!(u64, i128, u128, usize, isize);

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(f64::from(v))
    }
}
impl From<&str> for Value {
    /// Takes a spare buffer of this thread's when one fits (see `wire::spare`): a
    /// service answering `"pong"` allocates nothing once warmed up.
    fn from(v: &str) -> Self {
        Value::Str(super::spare::owned(v))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Str(v.clone())
    }
}
/// `Vec<u8>` is `bytes`; a tuple is built from `Vec<Value>` or a Rust tuple.
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v.into())
    }
}
impl From<Bytes> for Value {
    fn from(v: Bytes) -> Self {
        Value::Bytes(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(Bytes::copy_from_slice(v))
    }
}
impl<const N: usize> From<&[u8; N]> for Value {
    fn from(v: &[u8; N]) -> Self {
        Value::Bytes(Bytes::copy_from_slice(v))
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Tuple(v)
    }
}
impl From<()> for Value {
    /// `()` is the empty tuple, as in Python.
    fn from(_: ()) -> Self {
        Value::Tuple(Vec::new())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` is Python's `None`.
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::None, Into::into)
    }
}

macro_rules! from_tuple {
    ($($name:ident)+) => {
        impl<$($name: Into<Value>),+> From<($($name,)+)> for Value {
            #[allow(non_snake_case)]
            fn from(($($name,)+): ($($name,)+)) -> Self {
                Value::Tuple(vec![$($name.into()),+])
            }
        }
    };
}
from_tuple!(A);
from_tuple!(A B);
from_tuple!(A B C);
from_tuple!(A B C D);
from_tuple!(A B C D E);
from_tuple!(A B C D E F);
from_tuple!(A B C D E F G);
from_tuple!(A B C D E F G H);

impl fmt::Display for Value {
    /// Formats the value as Python's `repr()` would.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(i) => write!(f, "{i}"),
            Value::BigInt(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&super::repr::float_repr(*x)),
            Value::Complex(re, im) => f.write_str(&super::repr::complex_repr(*re, *im)),
            Value::Bytes(b) => f.write_str(&super::repr::bytes_repr(b)),
            Value::Str(s) => f.write_str(&super::repr::str_repr(s)),
            Value::Tuple(items) => {
                f.write_str("(")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(if items.len() == 1 { ",)" } else { ")" })
            }
            Value::FrozenSet(items) if items.is_empty() => f.write_str("frozenset()"),
            Value::FrozenSet(items) => {
                f.write_str("frozenset({")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("})")
            }
            Value::Slice(parts) => write!(f, "slice({}, {}, {})", parts[0], parts[1], parts[2]),
            Value::Ellipsis => f.write_str("Ellipsis"),
            Value::NotImplemented => f.write_str("NotImplemented"),
        }
    }
}
