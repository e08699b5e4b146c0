//! Binding a call's arguments to a method's parameters as CPython does, with its
//! `TypeError` texts, so that a native method refuses exactly what a Python one would.

use crate::client::{Args, Object, Positional};
use crate::error::{Error, Result};
use crate::wire::Value;

/// One parameter of a Python method: its name and, if it has one, its default.
#[derive(Clone, Debug)]
pub struct Param {
    /// The parameter's name, as a keyword argument names it.
    pub name: &'static str,
    /// The value used when the caller passes none.
    pub default: Option<ParamDefault>,
}

/// A parameter's default: the constants a signature can hold (a [`Value`] cannot be one,
/// as its `bytes` are reference-counted).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamDefault {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int`.
    Int(i64),
    /// A `float`.
    Float(f64),
}

impl From<ParamDefault> for Value {
    fn from(d: ParamDefault) -> Value {
        match d {
            ParamDefault::None => Value::None,
            ParamDefault::Bool(b) => Value::Bool(b),
            ParamDefault::Int(i) => Value::Int(i),
            ParamDefault::Float(x) => Value::Float(x),
        }
    }
}

impl Param {
    /// A parameter the caller must pass.
    pub const fn required(name: &'static str) -> Self {
        Param { name, default: None }
    }

    /// A parameter with a default (`name=default`).
    pub const fn optional(name: &'static str, default: ParamDefault) -> Self {
        Param { name, default: Some(default) }
    }
}

/// The signature of a method (`def name(self, a, b=1)`): positional-or-keyword
/// parameters after `self`, as the built-in service's methods and most services have.
#[derive(Clone, Debug)]
pub struct Signature {
    /// What CPython names the function in its errors: its qualified name,
    /// `"BenchmarkService.exposed_echo"`.
    pub qualname: &'static str,
    /// The parameters after `self`.
    pub params: &'static [Param],
}

impl Signature {
    /// Binds `args` (positional, then keyword) to the parameters: one object per
    /// parameter, in order, defaults filled in; or the `TypeError` CPython raises.
    ///
    /// CPython's order of checks: keywords first (unknown, or given twice), then too
    /// many positional arguments, then missing ones. Counts include `self`, as Python's
    /// messages about bound methods do.
    pub fn bind(&self, args: Args) -> Result<Positional> {
        let Args { positional, kwargs } = args;
        let given = positional.len();
        if kwargs.is_empty() && given == self.params.len() {
            // Every parameter given by position, as most calls are: what the steps
            // below would bind, without building a second list per call.
            return Ok(positional);
        }
        let mut slots: Vec<Option<Object>> = self.params.iter().map(|_| None).collect();
        for (slot, value) in slots.iter_mut().zip(positional) {
            *slot = Some(value);
        }
        for (name, value) in kwargs {
            let Some(i) = self.params.iter().position(|p| p.name == name) else {
                return Err(self.error(format!("got an unexpected keyword argument '{name}'")));
            };
            if slots[i].is_some() {
                return Err(self.error(format!("got multiple values for argument '{name}'")));
            }
            slots[i] = Some(value);
        }
        if given > self.params.len() {
            return Err(self.too_many_positional(given));
        }
        let mut missing = Vec::new();
        let bound = slots
            .into_iter()
            .zip(self.params)
            .map(|(slot, p)| {
                slot.or_else(|| p.default.map(|d| Object::Value(d.into()))).unwrap_or_else(|| {
                    missing.push(p.name);
                    Object::NONE
                })
            })
            .collect();
        if !missing.is_empty() {
            return Err(self.missing(&missing));
        }
        Ok(bound)
    }

    fn error(&self, what: String) -> Error {
        Error::raise("TypeError", format!("{}() {what}", self.qualname))
    }

    /// `f() takes 2 positional arguments but 3 were given`, or `from 1 to 2` with
    /// defaults.
    fn too_many_positional(&self, given: usize) -> Error {
        let most = self.params.len() + 1;
        let least = most - self.params.iter().filter(|p| p.default.is_some()).count();
        let takes = if least == most { most.to_string() } else { format!("from {least} to {most}") };
        let plural = if most == 1 && least == most { "" } else { "s" };
        let given = given + 1;
        let verb = if given == 1 { "was" } else { "were" };
        self.error(format!("takes {takes} positional argument{plural} but {given} {verb} given"))
    }

    /// `f() missing 2 required positional arguments: 'a' and 'b'` (`'a', 'b', and 'c'`).
    fn missing(&self, names: &[&str]) -> Error {
        let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
        let list = match quoted.as_slice() {
            [one] => one.clone(),
            [a, b] => format!("{a} and {b}"),
            [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
            [] => String::new(),
        };
        let n = names.len();
        let plural = if n == 1 { "" } else { "s" };
        self.error(format!("missing {n} required positional argument{plural}: {list}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: Signature = Signature { qualname: "S.exposed_echo", params: &[Param::required("x")] };
    const PING: Signature = Signature { qualname: "S.exposed_ping", params: &[] };
    const CPU: Signature =
        Signature { qualname: "S.exposed_cpu", params: &[Param::optional("iterations", ParamDefault::Int(100_000))] };
    const THREE: Signature = Signature {
        qualname: "S.exposed_three",
        params: &[Param::required("a"), Param::required("b"), Param::required("c")],
    };

    fn call(sig: &Signature, positional: Vec<i64>, kwargs: &[(&str, i64)]) -> String {
        let args = Args {
            positional: positional.into_iter().map(Object::from).collect(),
            kwargs: kwargs.iter().map(|(k, v)| (k.to_string(), Object::from(*v))).collect(),
        };
        match sig.bind(args) {
            Ok(bound) => format!("{:?}", bound.iter().map(|o| o.describe()).collect::<Vec<_>>()),
            Err(Error::Remote(e)) => format!("{}: {}", e.class, e.message()),
            Err(e) => panic!("{e}"),
        }
    }

    /// A call: the signature, positional and keyword arguments, what it must give.
    type Case<'a> = (&'a Signature, Vec<i64>, &'a [(&'a str, i64)], &'a str);

    /// Expected texts are CPython 3.11's, for the same calls on a plain class.
    #[test]
    fn cpython_texts() {
        let cases: [Case<'_>; 12] = [
            (&PING, vec![1], &[], "TypeError: S.exposed_ping() takes 1 positional argument but 2 were given"),
            (&PING, vec![], &[("x", 1)], "TypeError: S.exposed_ping() got an unexpected keyword argument 'x'"),
            (&ECHO, vec![], &[], "TypeError: S.exposed_echo() missing 1 required positional argument: 'x'"),
            (&ECHO, vec![1, 2], &[], "TypeError: S.exposed_echo() takes 2 positional arguments but 3 were given"),
            (&ECHO, vec![1], &[("x", 2)], "TypeError: S.exposed_echo() got multiple values for argument 'x'"),
            (&ECHO, vec![1, 2], &[("y", 3)], "TypeError: S.exposed_echo() got an unexpected keyword argument 'y'"),
            (&ECHO, vec![], &[("x", 7)], r#"["7"]"#),
            (
                &CPU,
                vec![1, 2],
                &[],
                "TypeError: S.exposed_cpu() takes from 1 to 2 positional arguments but 3 were given",
            ),
            (&CPU, vec![], &[], r#"["100000"]"#),
            (
                &THREE,
                vec![],
                &[],
                "TypeError: S.exposed_three() missing 3 required positional arguments: 'a', 'b', and 'c'",
            ),
            (&THREE, vec![1], &[], "TypeError: S.exposed_three() missing 2 required positional arguments: 'b' and 'c'"),
            (
                &THREE,
                vec![],
                &[("b", 1)],
                "TypeError: S.exposed_three() missing 2 required positional arguments: 'a' and 'c'",
            ),
        ];
        for (sig, positional, kwargs, want) in cases {
            assert_eq!(call(sig, positional.clone(), kwargs), want, "{positional:?} {kwargs:?}");
        }
    }
}
