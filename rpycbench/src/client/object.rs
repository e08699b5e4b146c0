//! [`Object`]: a value as RPyC passes it, by value or by reference, and the
//! conversions between it and Rust types.

use super::local::{LocalObject, LocalRef};
use super::positional::Positional;
use super::remote::RemoteRef;
use crate::error::{Error, Result};
use crate::wire::{Bytes, Value};
use num_bigint::BigInt;
use std::sync::Arc;

/// A value on either side of a connection: a brine value, one of the peer's objects
/// (a proxy), one of ours (exported by reference), or a tuple mixing them.
#[derive(Clone, Debug)]
pub enum Object {
    /// Copied by value.
    Value(Value),
    /// A tuple with at least one reference inside (simple tuples are [`Value::Tuple`]).
    Tuple(Vec<Object>),
    /// An object that lives on the peer; operations on it are requests.
    Remote(RemoteRef),
    /// An object that lives here and is lent to the peer (a callback, a sequence).
    Local(LocalRef),
}

impl Object {
    /// Python's `None`.
    pub const NONE: Object = Object::Value(Value::None);

    /// Exports a Rust closure as a callable the peer can call back (a Python
    /// `function`). The closure gets the connection, so it may itself make requests,
    /// nested to any depth.
    pub fn callback<F>(f: F) -> Object
    where
        F: Fn(&mut super::Connection, Args) -> Result<Object> + Send + Sync + 'static,
    {
        Object::Local(LocalRef::new(Arc::new(super::local::Callback::new(f))))
    }

    /// Exports a sequence by reference (a Python `list`): the peer can take its `len()`,
    /// index it and iterate it, each a request back to us.
    pub fn list(items: Vec<Object>) -> Object {
        super::python::List::lend(items)
    }

    /// Exports any [`LocalObject`] by reference.
    pub fn local(obj: Arc<dyn LocalObject>) -> Object {
        Object::Local(LocalRef::new(obj))
    }

    /// Converts into a Rust type (see [`FromObject`]).
    pub fn extract<T: FromObject>(self) -> Result<T> {
        T::from_object(self)
    }

    /// The brine value, if this was passed by value.
    pub fn as_value(&self) -> Option<&Value> {
        match self {
            Object::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The proxy, if this is one of the peer's objects.
    pub fn as_remote(&self) -> Option<&RemoteRef> {
        match self {
            Object::Remote(r) => Some(r),
            _ => None,
        }
    }

    /// The string, if this is a `str` passed by value.
    pub fn as_str(&self) -> Option<&str> {
        self.as_value().and_then(Value::as_str)
    }

    /// Whether this travels by value: brine-simple all the way down.
    pub fn is_simple(&self) -> bool {
        matches!(self, Object::Value(_))
    }

    /// Python-style description for error messages: the repr of a value, or the
    /// proxied type.
    pub fn describe(&self) -> String {
        match self {
            Object::Value(v) => v.repr(),
            Object::Tuple(items) => {
                let inner: Vec<String> = items.iter().map(Object::describe).collect();
                format!("({})", inner.join(", "))
            }
            Object::Remote(r) => format!("<proxy {}>", r.id()),
            Object::Local(l) => format!("<local {}>", l.type_name()),
        }
    }

    /// Builds a tuple, collapsing to a by-value tuple when every element is simple
    /// (which is how Python boxes it).
    pub fn tuple(items: Vec<Object>) -> Object {
        if items.iter().all(Object::is_simple) {
            Object::Value(Value::Tuple(
                items
                    .into_iter()
                    .map(|o| match o {
                        Object::Value(v) => v,
                        _ => unreachable!("checked by is_simple above"),
                    })
                    .collect(),
            ))
        } else {
            Object::Tuple(items)
        }
    }
}

impl PartialEq for Object {
    /// Values compare by value; references by identity of the object they name.
    fn eq(&self, other: &Object) -> bool {
        match (self, other) {
            (Object::Value(a), Object::Value(b)) => a == b,
            (Object::Tuple(a), Object::Tuple(b)) => a == b,
            (Object::Remote(a), Object::Remote(b)) => a.id() == b.id(),
            (Object::Local(a), Object::Local(b)) => a.ptr_eq(b),
            _ => false,
        }
    }
}

impl<T: Into<Value>> From<T> for Object {
    fn from(v: T) -> Self {
        Object::Value(v.into())
    }
}
impl From<RemoteRef> for Object {
    fn from(r: RemoteRef) -> Self {
        Object::Remote(r)
    }
}
impl From<&RemoteRef> for Object {
    fn from(r: &RemoteRef) -> Self {
        Object::Remote(r.clone())
    }
}
impl From<LocalRef> for Object {
    fn from(l: LocalRef) -> Self {
        Object::Local(l)
    }
}

/// Positional arguments: `()`, a Rust tuple of anything convertible to [`Object`]
/// (up to 8 elements), a `Vec<Object>`, or an [`Object`] tuple.
pub trait IntoArgs {
    /// The arguments in order.
    fn into_args(self) -> Vec<Object>;
}

impl IntoArgs for () {
    fn into_args(self) -> Vec<Object> {
        Vec::new()
    }
}
impl IntoArgs for Vec<Object> {
    fn into_args(self) -> Vec<Object> {
        self
    }
}
impl IntoArgs for Positional {
    fn into_args(self) -> Vec<Object> {
        self.into_vec()
    }
}

macro_rules! args_tuple {
    ($($name:ident)+) => {
        impl<$($name: Into<Object>),+> IntoArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_args(self) -> Vec<Object> {
                let ($($name,)+) = self;
                vec![$($name.into()),+]
            }
        }
    };
}
args_tuple!(A);
args_tuple!(A B);
args_tuple!(A B C);
args_tuple!(A B C D);
args_tuple!(A B C D E);
args_tuple!(A B C D E F);
args_tuple!(A B C D E F G);
args_tuple!(A B C D E F G H);

/// Keyword arguments, in the order given.
pub type Kwargs = Vec<(String, Object)>;

/// Builds [`Kwargs`]: `kwargs! { "k" => 2, "name" => "x" }`.
#[macro_export]
macro_rules! kwargs {
    () => { $crate::client::Kwargs::new() };
    ($($key:expr => $value:expr),+ $(,)?) => {
        vec![$((::std::string::String::from($key), $crate::client::Object::from($value))),+]
    };
}

/// The arguments a peer passed to one of our callables.
#[derive(Clone, Debug, Default)]
pub struct Args {
    /// Positional arguments (up to four held without a heap allocation).
    pub positional: Positional,
    /// Keyword arguments as `(name, value)` pairs.
    pub kwargs: Kwargs,
}

impl Args {
    /// Positional argument `i`, converted.
    pub fn arg<T: FromObject>(&self, i: usize) -> Result<T> {
        match self.positional.get(i) {
            Some(o) => o.clone().extract(),
            None => Err(Error::raise(
                "TypeError",
                format!("missing positional argument {i} (got {})", self.positional.len()),
            )),
        }
    }

    /// The parameter at position `i` or named `name`, as Python binds
    /// `def f(x, name=default)`: `None` when neither was passed.
    pub fn param<T: FromObject>(&self, i: usize, name: &str) -> Result<Option<T>> {
        match self.positional.get(i) {
            Some(o) => o.clone().extract().map(Some),
            None => self.kwarg(name),
        }
    }

    /// Keyword argument `name`, converted, if given.
    pub fn kwarg<T: FromObject>(&self, name: &str) -> Result<Option<T>> {
        self.kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone().extract()).transpose()
    }
}

/// Conversion from a received [`Object`] into a Rust type.
///
/// A mismatch is [`Error::Type`], naming what was expected and what arrived.
pub trait FromObject: Sized {
    /// Converts, or says why not.
    fn from_object(obj: Object) -> Result<Self>;
}

fn mismatch<T>(expected: &'static str, got: &Object) -> Result<T> {
    Err(Error::Type { expected, got: got.describe() })
}

impl FromObject for Object {
    fn from_object(obj: Object) -> Result<Self> {
        Ok(obj)
    }
}
impl FromObject for Value {
    fn from_object(obj: Object) -> Result<Self> {
        match obj {
            Object::Value(v) => Ok(v),
            other => mismatch("a value (got a reference)", &other),
        }
    }
}
impl FromObject for RemoteRef {
    fn from_object(obj: Object) -> Result<Self> {
        match obj {
            Object::Remote(r) => Ok(r),
            other => mismatch("a remote object", &other),
        }
    }
}
impl FromObject for () {
    /// `None` (what a Python function without `return` gives).
    fn from_object(obj: Object) -> Result<Self> {
        match obj {
            Object::Value(Value::None) => Ok(()),
            other => mismatch("None", &other),
        }
    }
}
impl FromObject for bool {
    fn from_object(obj: Object) -> Result<Self> {
        match obj {
            Object::Value(Value::Bool(b)) => Ok(b),
            other => mismatch("bool", &other),
        }
    }
}
impl FromObject for f64 {
    /// A `float`, or an `int` widened as Python would in arithmetic.
    fn from_object(obj: Object) -> Result<Self> {
        match obj {
            Object::Value(Value::Float(x)) => Ok(x),
            Object::Value(Value::Int(i)) => Ok(i as f64),
            other => mismatch("float", &other),
        }
    }
}
impl FromObject for String {
    fn from_object(obj: Object) -> Result<Self> {
        match obj {
            Object::Value(Value::Str(s)) => Ok(s),
            other => mismatch("str", &other),
        }
    }
}
impl FromObject for Bytes {
    /// A `bytes` value, shared: a large one received stays in the frame it arrived in
    /// (see [`FrameDecoder`](crate::wire::FrameDecoder)) instead of being copied, as a
    /// `Vec<u8>` would copy it.
    fn from_object(obj: Object) -> Result<Self> {
        match obj {
            Object::Value(Value::Bytes(b)) => Ok(b),
            other => mismatch("bytes", &other),
        }
    }
}
impl FromObject for Vec<u8> {
    /// A `bytes` value, copied unless nothing else holds it (take [`Bytes`] to share it).
    fn from_object(obj: Object) -> Result<Self> {
        match obj {
            Object::Value(Value::Bytes(b)) => Ok(b.into()),
            other => mismatch("bytes", &other),
        }
    }
}
impl FromObject for BigInt {
    fn from_object(obj: Object) -> Result<Self> {
        match obj {
            Object::Value(Value::Int(i)) => Ok(BigInt::from(i)),
            Object::Value(Value::BigInt(i)) => Ok(i),
            other => mismatch("int", &other),
        }
    }
}

macro_rules! from_object_int {
    ($($t:ty),*) => {$(
        impl FromObject for $t {
            fn from_object(obj: Object) -> Result<Self> {
                match obj {
                    Object::Value(Value::Int(i)) => <$t>::try_from(i)
                        .map_err(|_| Error::Type { expected: stringify!($t), got: i.to_string() }),
                    other => mismatch(concat!("int (", stringify!($t), ")"), &other),
                }
            }
        }
    )*};
}
// No `u8`: `Vec<u8>` means `bytes`, and a `u8` impl would make it ambiguous.
from_object_int!(i8, i16, i32, i64, u16, u32, u64, usize, isize);

impl<T: FromObject> FromObject for Option<T> {
    /// `None` becomes `None`; anything else is converted.
    fn from_object(obj: Object) -> Result<Self> {
        match obj {
            Object::Value(Value::None) => Ok(None),
            other => T::from_object(other).map(Some),
        }
    }
}

/// The elements of a tuple, by value or mixed.
fn tuple_items(obj: Object, expected: &'static str) -> Result<Vec<Object>> {
    match obj {
        Object::Value(Value::Tuple(items)) => Ok(items.into_iter().map(Object::Value).collect()),
        Object::Tuple(items) => Ok(items),
        other => mismatch(expected, &other),
    }
}

impl<T: FromObject> FromObject for Vec<T> {
    /// A tuple of any length.
    fn from_object(obj: Object) -> Result<Self> {
        tuple_items(obj, "tuple")?.into_iter().map(T::from_object).collect()
    }
}

macro_rules! from_object_tuple {
    ($n:literal: $($name:ident)+) => {
        impl<$($name: FromObject),+> FromObject for ($($name,)+) {
            fn from_object(obj: Object) -> Result<Self> {
                let items = tuple_items(obj, concat!("tuple of ", $n))?;
                if items.len() != $n {
                    return Err(Error::Type { expected: concat!("tuple of ", $n), got: format!("tuple of {}", items.len()) });
                }
                let mut it = items.into_iter();
                // The length was checked above, so every next() yields an element.
                Ok(($($name::from_object(it.next().expect("length checked"))?,)+))
            }
        }
    };
}
from_object_tuple!(1: A);
from_object_tuple!(2: A B);
from_object_tuple!(3: A B C);
from_object_tuple!(4: A B C D);
from_object_tuple!(5: A B C D E);
from_object_tuple!(6: A B C D E F);
from_object_tuple!(7: A B C D E F G);
from_object_tuple!(8: A B C D E F G H);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_extracted_shared_and_vectors_copied() {
        let payload = Bytes::from(vec![7u8; 1 << 20]);
        let obj = Object::Value(Value::Bytes(payload.clone()));
        let shared: Bytes = obj.clone().extract().unwrap();
        assert_eq!(shared.as_ptr(), payload.as_ptr(), "the same buffer, not a copy");
        let copied: Vec<u8> = obj.extract().unwrap();
        assert_eq!(copied, payload);
        assert_ne!(copied.as_ptr(), payload.as_ptr());
        let err = Object::from("text").extract::<Bytes>().unwrap_err();
        assert!(matches!(err, Error::Type { expected: "bytes", .. }), "{err}");
    }
}
