//! Python's built-in exception classes as a Python peer sends them: which exist, how
//! they derive from each other, and the attributes rpyc's vinegar puts beside `args`.
//!
//! Vinegar sends every public attribute of the exception (`dir(exc)` in order, values
//! that brine cannot carry as their `repr()`): `add_note` for every class (a bound
//! method, so its repr), and per family `errno`/`filename`/… for `OSError`, `msg`/`name`/
//! `path` for `ImportError`, and so on. A Python client sets them back on the exception
//! it rebuilds, which changes what it prints: an `OSError("m")` whose `errno` is `None`
//! rather than unset prints as `[Errno None] None: None -> None`. A native server that
//! wants to be taken for a Python one sends the same.
//!
//! The table is CPython 3.11's (the interpreter the Python twin runs on), read off
//! `builtins` and `rpyc.core.vinegar.dump(cls, cls("m"), …)`; the parity tests compare
//! it with a real Python server.

use super::Value;

/// How a family of exceptions looks after `cls(message)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Only `args` (and `add_note`).
    Plain,
    /// `AttributeError`: `name` and `obj`, both `None`.
    Attribute,
    /// `OSError` and its subclasses: `errno`, `filename`, `filename2`, `strerror`, `None`.
    Os,
    /// `ImportError`: `msg` (the message), `name`, `path`.
    Import,
    /// `NameError`: `name`.
    Name,
    /// `SyntaxError`: `msg` (the message) and position attributes, `None`.
    Syntax,
    /// `SystemExit`: `code` (the message).
    SystemExit,
    /// `StopIteration`: vinegar sends a bare `1` instead of the exception.
    StopIteration,
    /// A class `cls(message)` cannot build: the constructor's `TypeError` text.
    NoSingleArgument(&'static str),
}

/// One class of `builtins` that derives from `BaseException`.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinException {
    /// The name in `builtins` (`"IOError"` for the alias).
    pub name: &'static str,
    /// The class it names (`"OSError"` for `IOError` and `EnvironmentError`).
    pub class: &'static str,
    /// The direct base class (`None` for `BaseException`).
    pub base: Option<&'static str>,
    /// What `cls(message)` carries.
    pub family: Family,
}

const fn class(name: &'static str, base: &'static str, family: Family) -> BuiltinException {
    BuiltinException { name, class: name, base: Some(base), family }
}

const fn alias(name: &'static str, of: &'static str) -> BuiltinException {
    BuiltinException { name, class: of, base: Some("Exception"), family: Family::Os }
}

use Family::*;

const GROUP_ARITY: Family = NoSingleArgument("BaseExceptionGroup.__new__() takes exactly 2 arguments (1 given)");

/// Every built-in exception class of CPython 3.11, sorted by name as `dir(builtins)`.
pub const BUILTIN_EXCEPTIONS: &[BuiltinException] = &[
    class("ArithmeticError", "Exception", Plain),
    class("AssertionError", "Exception", Plain),
    class("AttributeError", "Exception", Attribute),
    BuiltinException { name: "BaseException", class: "BaseException", base: None, family: Plain },
    class("BaseExceptionGroup", "BaseException", GROUP_ARITY),
    class("BlockingIOError", "OSError", Os),
    class("BrokenPipeError", "ConnectionError", Os),
    class("BufferError", "Exception", Plain),
    class("BytesWarning", "Warning", Plain),
    class("ChildProcessError", "OSError", Os),
    class("ConnectionAbortedError", "ConnectionError", Os),
    class("ConnectionError", "OSError", Os),
    class("ConnectionRefusedError", "ConnectionError", Os),
    class("ConnectionResetError", "ConnectionError", Os),
    class("DeprecationWarning", "Warning", Plain),
    class("EOFError", "Exception", Plain),
    class("EncodingWarning", "Warning", Plain),
    alias("EnvironmentError", "OSError"),
    class("Exception", "BaseException", Plain),
    class("ExceptionGroup", "BaseExceptionGroup", GROUP_ARITY),
    class("FileExistsError", "OSError", Os),
    class("FileNotFoundError", "OSError", Os),
    class("FloatingPointError", "ArithmeticError", Plain),
    class("FutureWarning", "Warning", Plain),
    class("GeneratorExit", "BaseException", Plain),
    alias("IOError", "OSError"),
    class("ImportError", "Exception", Import),
    class("ImportWarning", "Warning", Plain),
    class("IndentationError", "SyntaxError", Syntax),
    class("IndexError", "LookupError", Plain),
    class("InterruptedError", "OSError", Os),
    class("IsADirectoryError", "OSError", Os),
    class("KeyError", "LookupError", Plain),
    class("KeyboardInterrupt", "BaseException", Plain),
    class("LookupError", "Exception", Plain),
    class("MemoryError", "Exception", Plain),
    class("ModuleNotFoundError", "ImportError", Import),
    class("NameError", "Exception", Name),
    class("NotADirectoryError", "OSError", Os),
    class("NotImplementedError", "RuntimeError", Plain),
    class("OSError", "Exception", Os),
    class("OverflowError", "ArithmeticError", Plain),
    class("PendingDeprecationWarning", "Warning", Plain),
    class("PermissionError", "OSError", Os),
    class("ProcessLookupError", "OSError", Os),
    class("RecursionError", "RuntimeError", Plain),
    class("ReferenceError", "Exception", Plain),
    class("ResourceWarning", "Warning", Plain),
    class("RuntimeError", "Exception", Plain),
    class("RuntimeWarning", "Warning", Plain),
    class("StopAsyncIteration", "Exception", Plain),
    class("StopIteration", "Exception", StopIteration),
    class("SyntaxError", "Exception", Syntax),
    class("SyntaxWarning", "Warning", Plain),
    class("SystemError", "Exception", Plain),
    class("SystemExit", "BaseException", SystemExit),
    class("TabError", "IndentationError", Syntax),
    class("TimeoutError", "OSError", Os),
    class("TypeError", "Exception", Plain),
    class("UnboundLocalError", "NameError", Name),
    class("UnicodeDecodeError", "UnicodeError", NoSingleArgument("function takes exactly 5 arguments (1 given)")),
    class("UnicodeEncodeError", "UnicodeError", NoSingleArgument("function takes exactly 5 arguments (1 given)")),
    class("UnicodeError", "ValueError", Plain),
    class("UnicodeTranslateError", "UnicodeError", NoSingleArgument("function takes exactly 4 arguments (1 given)")),
    class("UnicodeWarning", "Warning", Plain),
    class("UserWarning", "Warning", Plain),
    class("ValueError", "Exception", Plain),
    class("Warning", "Exception", Plain),
    class("ZeroDivisionError", "ArithmeticError", Plain),
];

impl BuiltinException {
    /// The class `name` names in `builtins`, if it is an exception class.
    pub fn named(name: &str) -> Option<&'static BuiltinException> {
        BUILTIN_EXCEPTIONS.binary_search_by(|e| e.name.cmp(name)).ok().map(|i| &BUILTIN_EXCEPTIONS[i])
    }

    /// Whether this class is `ancestor` or derives from it (`issubclass`).
    pub fn is_subclass_of(&self, ancestor: &str) -> bool {
        let mut class = Some(self.class);
        while let Some(c) = class {
            if c == ancestor {
                return true;
            }
            class = BuiltinException::named(c).and_then(|e| e.base);
        }
        false
    }

    /// The attributes vinegar sends for `cls(message)`, `_remote_version` excluded: in
    /// `dir()` order, `add_note` (a method: its repr) first.
    pub fn attrs(&self, message: &Value) -> Vec<(String, Value)> {
        let none = |name: &str| (name.to_owned(), Value::None);
        let mut attrs = vec![("add_note".to_owned(), Value::Str(add_note_repr(self.class)))];
        match self.family {
            Plain | StopIteration | NoSingleArgument(_) => {}
            Attribute => attrs.extend([none("name"), none("obj")]),
            Os => attrs.extend([none("errno"), none("filename"), none("filename2"), none("strerror")]),
            Import => attrs.extend([("msg".to_owned(), message.clone()), none("name"), none("path")]),
            Name => attrs.push(none("name")),
            Syntax => {
                attrs.extend(["end_lineno", "end_offset", "filename", "lineno"].map(none));
                attrs.push(("msg".to_owned(), message.clone()));
                attrs.extend(["offset", "print_file_and_line", "text"].map(none));
            }
            SystemExit => attrs.push(("code".to_owned(), message.clone())),
        }
        attrs
    }
}

/// What `repr(exc.add_note)` shows: CPython names the class and the instance's address.
/// The address is made up (a native exception has none); peers only ever display it.
fn add_note_repr(class: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0x7f3a_5c00_0000);
    let at = NEXT.fetch_add(0x40, Ordering::Relaxed);
    format!("<built-in method add_note of {class} object at {at:#x}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_for_lookup_and_every_base_is_in_the_table() {
        assert!(BUILTIN_EXCEPTIONS.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(BUILTIN_EXCEPTIONS.len(), 69);
        for e in BUILTIN_EXCEPTIONS {
            assert!(e.base.is_none_or(|b| BuiltinException::named(b).is_some()), "{}", e.name);
            assert!(e.is_subclass_of("BaseException"), "{}", e.name);
        }
    }

    #[test]
    fn subclasses_as_python_sees_them() {
        let e = |n| BuiltinException::named(n).unwrap();
        assert!(e("IOError").is_subclass_of("OSError"));
        assert!(e("BrokenPipeError").is_subclass_of("ConnectionError"));
        assert!(e("TabError").is_subclass_of("SyntaxError"));
        assert!(!e("ValueError").is_subclass_of("LookupError"));
        assert!(BuiltinException::named("int").is_none());
    }
}
