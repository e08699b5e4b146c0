//! Exception payloads ("vinegar", PROTOCOL.md §8), in both directions.

use super::brine::{self, Reader};
use super::error::{DecodeError, EncodeError};
use super::exceptions::BuiltinException;
use super::Value;
use std::fmt;

/// The version string a Python peer expects in `_remote_version`.
pub const RPYC_VERSION: &str = "6.0.2";

/// What opens a native traceback: Python's header, and one frame that says where the
/// exception was raised (a native server has no Python frames to show).
const NATIVE_FRAMES: &str =
    "Traceback (most recent call last):\n  File \"<rpycbench native server>\", line 0, in <module>\n";
/// How rpyc separates the tracebacks of nested remote exceptions (vinegar's
/// `REMOTE_LINE`): a Python peer counts them to number the next one.
const REMOTE_LINE_START: &str = "\n\n========= Remote Traceback ";
const REMOTE_LINE_END: &str = " =========\n";
/// The qualified name of the class vinegar derives for every exception it rebuilds.
const DERIVED: &str = "_get_exception_class.<locals>.Derived";

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
        Self::builtin_args(class, vec![Value::Str(message.into())])
    }

    /// A built-in exception with these `args`, carrying the attributes a Python server
    /// sends for that class (see [`BuiltinException::attrs`]) and a traceback whose last
    /// line is Python's (`KeyError: 'k'`). Its frames are not Python's: a native server
    /// has none to show.
    pub fn builtin_args(class: &str, args: Vec<Value>) -> Self {
        let (module, class) = ("builtins".to_owned(), class.to_owned());
        let known = BuiltinException::named(&class);
        let class = known.map_or(class, |e| e.class.to_owned());
        let mut attrs = match known {
            Some(e) => e.attrs(args.first().unwrap_or(&Value::None)),
            None => Vec::new(),
        };
        attrs.push(("_remote_version".into(), Value::from(RPYC_VERSION)));
        let mut e = RemoteException { module, class, args, attrs, traceback: String::new() };
        e.traceback = format!("{NATIVE_FRAMES}{}\n", e.last_traceback_line());
        e
    }

    /// Whether this process built the exception (its traceback opens with the native
    /// frame) rather than receiving it from a peer.
    ///
    /// A flag would be exact; the traceback tells the same for every peer but another
    /// rpycbench, whose exceptions passing through are then not nested one level deeper.
    pub fn raised_here(&self) -> bool {
        self.traceback.starts_with(NATIVE_FRAMES)
    }

    /// The exception raised again by a native handler (a callback's exception passing
    /// through), as a Python server sends an exception it received and did not catch.
    ///
    /// A Python server holds such an exception as an instance of the class vinegar made
    /// for it (`_get_exception_class.<locals>.Derived`, a subclass of the real class, or
    /// of `GenericException` for classes outside `builtins`), whose `str()` includes the
    /// peer's traceback: its own traceback ends with that class and text, and nests the
    /// peer's one level deeper. A class it could not rebuild travels on under the name
    /// vinegar gave it (`rpyc.core.vinegar/<module>`, `<module>.<class>`).
    pub fn raised_again(mut self) -> Self {
        let rebuilt = self.module == "builtins" && BuiltinException::named(&self.class).is_some();
        if !rebuilt {
            self.class = format!("{}.{}", self.module, self.class);
            self.module = format!("rpyc.core.vinegar/{}", self.module);
        }
        let text = self.received_str();
        let class = match self.module.as_str() {
            "builtins" => DERIVED.to_owned(),
            module => format!("{module}.{DERIVED}"),
        };
        let sections = self.traceback.matches(REMOTE_LINE_START).count();
        let line = if text.is_empty() { class } else { format!("{class}: {text}") };
        self.traceback =
            format!("{NATIVE_FRAMES}{line}{REMOTE_LINE_START}({}){REMOTE_LINE_END}{}\n", sections + 1, self.traceback);
        self
    }

    /// `str(exc)` of a received exception, whose attributes the peer set: an `OSError`
    /// with `filename` set (to anything, `None` included) shows CPython's long form.
    fn received_str(&self) -> String {
        let is_os = BuiltinException::named(&self.class).is_some_and(|e| e.is_subclass_of("OSError"));
        let attr = |name| self.attr(name).map(Value::repr);
        let text = |name| self.attr(name).map(|v| if let Value::Str(s) = v { s.clone() } else { v.repr() });
        if is_os {
            if let (Some(errno), Some(strerror), Some(filename)) = (text("errno"), text("strerror"), attr("filename")) {
                return match attr("filename2") {
                    Some(filename2) => format!("[Errno {errno}] {strerror}: {filename} -> {filename2}"),
                    None => format!("[Errno {errno}] {strerror}: {filename}"),
                };
            }
        }
        self.python_str()
    }

    /// The last line of a Python traceback of this exception: `Class: str(exc)`, or
    /// only the class when `str(exc)` is empty.
    fn last_traceback_line(&self) -> String {
        let text = self.python_str();
        if text.is_empty() {
            self.qualified_name()
        } else {
            format!("{}: {text}", self.qualified_name())
        }
    }

    /// `str(exc)` as Python computes it from `args` (`KeyError` shows the repr of its key).
    fn python_str(&self) -> String {
        match (self.class.as_str(), self.args.as_slice()) {
            (_, []) => String::new(),
            ("KeyError", [key]) => key.repr(),
            (_, [Value::Str(s)]) => s.clone(),
            (_, [v]) => v.repr(),
            (_, many) => Value::Tuple(many.to_vec()).repr(),
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
