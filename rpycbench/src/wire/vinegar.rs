//! Exception payloads ("vinegar", PROTOCOL.md §8), in both directions.

use super::brine::{self, Reader};
use super::error::{DecodeError, EncodeError};
use super::Value;
use std::fmt;

/// The version string a Python peer expects in `_remote_version`.
pub const RPYC_VERSION: &str = "6.0.2";

/// The body of an EXCEPTION message.
#[derive(Clone, Debug, PartialEq)]
pub enum ExceptionPayload {
    /// The bare integer `1`: `StopIteration`, which ends every remote iteration.
    StopIteration,
    /// Any other exception.
    Raised(RemoteException),
}

/// An exception as it crossed the wire: enough to name it, show it and act on it.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteException {
    /// The exception class's module: `"builtins"` for built-in exceptions.
    pub module: String,
    /// The class name, e.g. `"ValueError"`.
    pub class: String,
    /// `exc.args`, non-simple elements already replaced by their `repr()`.
    pub args: Vec<Value>,
    /// Public attributes of the exception, `("_remote_version", "6.0.2")` included.
    pub attrs: Vec<(String, Value)>,
    /// The formatted remote traceback.
    pub traceback: String,
}

impl RemoteException {
    /// A built-in exception (`builtins.<class>`) with one message argument, the form a
    /// Python client turns back into a real `ValueError`, `KeyError`, ….
    pub fn builtin(class: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let traceback = format!("Traceback (most recent call last):\n  (raised by rpycbench)\n{class}: {message}\n");
        RemoteException {
            module: "builtins".into(),
            class: class.into(),
            args: vec![Value::Str(message)],
            attrs: vec![("_remote_version".into(), Value::from(RPYC_VERSION))],
            traceback,
        }
    }

    /// `"module.Class"`, or just `"Class"` for built-ins.
    pub fn qualified_name(&self) -> String {
        if self.module == "builtins" {
            self.class.clone()
        } else {
            format!("{}.{}", self.module, self.class)
        }
    }

    /// The first argument when it is a string: what Python's `str(exc)` usually shows.
    pub fn message(&self) -> String {
        match self.args.as_slice() {
            [] => String::new(),
            [Value::Str(s)] => s.clone(),
            [v] => v.repr(),
            many => Value::Tuple(many.to_vec()).repr(),
        }
    }

    /// The value of an attribute the exception carried (e.g. a custom `code`).
    pub fn attr(&self, name: &str) -> Option<&Value> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

impl fmt::Display for RemoteException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.qualified_name(), self.message())
    }
}

impl ExceptionPayload {
    /// Appends the payload (after the EXCEPTION header).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let e = match self {
            ExceptionPayload::StopIteration => {
                brine::write_int(1, out);
                return Ok(());
            }
            ExceptionPayload::Raised(e) => e,
        };
        brine::write_tuple_header(4, out)?;
        brine::write_tuple_header(2, out)?;
        brine::write_str(&e.module, out)?;
        brine::write_str(&e.class, out)?;
        brine::write_tuple_header(e.args.len(), out)?;
        e.args.iter().try_for_each(|a| brine::encode(a, out))?;
        brine::write_tuple_header(e.attrs.len(), out)?;
        for (name, value) in &e.attrs {
            brine::write_tuple_header(2, out)?;
            brine::write_str(name, out)?;
            brine::encode(value, out)?;
        }
        brine::write_str(&e.traceback, out)
    }

    /// Reads a payload.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.position();
        let shape = |what| DecodeError::Malformed { offset: at, what };
        match r.value()? {
            Value::Int(1) => Ok(ExceptionPayload::StopIteration),
            Value::Tuple(parts) => {
                let [name, args, attrs, tb]: [Value; 4] =
                    parts.try_into().map_err(|_| shape("exception payload (not a 4-tuple)"))?;
                let (module, class) = match name {
                    Value::Tuple(n) => match <[Value; 2]>::try_from(n) {
                        Ok([Value::Str(m), Value::Str(c)]) => (m, c),
                        _ => return Err(shape("exception name (not (module, class))")),
                    },
                    _ => return Err(shape("exception name (not (module, class))")),
                };
                let Value::Tuple(args) = args else {
                    return Err(shape("exception args (not a tuple)"));
                };
                let Value::Tuple(attr_items) = attrs else {
                    return Err(shape("exception attrs (not a tuple)"));
                };
                let attrs = attr_items
                    .into_iter()
                    .map(|pair| match pair {
                        Value::Tuple(p) => match <[Value; 2]>::try_from(p) {
                            Ok([Value::Str(k), v]) => Ok((k, v)),
                            _ => Err(shape("exception attr (not (name, value))")),
                        },
                        _ => Err(shape("exception attr (not (name, value))")),
                    })
                    .collect::<Result<_, _>>()?;
                let Value::Str(traceback) = tb else {
                    return Err(shape("exception traceback (not a str)"));
                };
                Ok(ExceptionPayload::Raised(RemoteException { module, class, args, attrs, traceback }))
            }
            _ => Err(shape("exception payload")),
        }
    }
}
