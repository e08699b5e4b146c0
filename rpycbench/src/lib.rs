#![doc = include_str!("../../README.md")]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The macros name this crate `::rpycbench`, here too (the built-in service uses
// `#[rpyc_service]`).
extern crate self as rpycbench;

pub mod bench;
#[cfg(feature = "cli")]
mod cli;
pub mod client;
mod error;
pub mod harness;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
pub mod metrics;
pub mod profile;
#[cfg(feature = "report")]
#[cfg_attr(docsrs, doc(cfg(feature = "report")))]
pub mod report;
pub mod server;
mod table;
pub mod wire;

/// The `rpycbench` command's `main`, for its binary (feature `cli`). Not public API.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub use cli::main as __cli_main;

/// Ports for unit tests, shared by file with the integration tests.
#[cfg(test)]
#[path = "../tests/common/ports.rs"]
mod test_ports;

pub use client::Connection;
pub use error::{Error, ProtocolError, Result};
pub use wire::Value;

/// What a benchmark file needs: `use rpycbench::prelude::*;`.
pub mod prelude {
    pub use crate::bench::{Bandwidth, BenchmarkContext, Concurrent, ConnectionBench, Latency, Load, Target, Transfer};
    pub use crate::client::{Args, Connection, Object, RemoteRef};
    pub use crate::harness::Failed;
    pub use crate::kwargs;
    pub use crate::server::{ServerMode, Service};
    pub use crate::{Error, Result, Value};
    pub use rpycbench_macros::{rpyc_bench, rpyc_service};
}

/// Glue for the macros. Not public API: anything here may change in any release. Its
/// name carries the version (as linkme's and divan's do), and `rpycbench-macros` is
/// pinned with `=`: a macro crate of another release fails to compile against it rather
/// than emit code for glue that changed.
#[doc(hidden)]
pub mod __private_0_1 {
    pub use crate::harness::{BenchDef, BenchFn, Kind, ServerChoice, Sla, Stat};
    pub use crate::server::ServerMode;
    pub use inventory;

    /// What a benchmark function may return: `()`, or a `Result` whose error displays
    /// or is a [`Failed`](crate::harness::Failed).
    pub trait IntoBenchResult {
        /// Normalizes to the crate's `Result<()>`: an RPyC error stays itself (so a
        /// timeout or a dead connection is handled as one), any other becomes
        /// [`Error::Other`](crate::Error::Other) with its message.
        fn into_bench_result(self) -> crate::Result<()>;
    }

    impl IntoBenchResult for () {
        fn into_bench_result(self) -> crate::Result<()> {
            Ok(())
        }
    }

    impl<T, E: std::fmt::Display + 'static> IntoBenchResult for std::result::Result<T, E> {
        fn into_bench_result(self) -> crate::Result<()> {
            self.map(drop).map_err(|e| crate::harness::Failed::from(e).into_error())
        }
    }

    impl<T> IntoBenchResult for std::result::Result<T, crate::harness::Failed> {
        fn into_bench_result(self) -> crate::Result<()> {
            self.map(drop).map_err(crate::harness::Failed::into_error)
        }
    }

    /// The `AttributeError` RPyC raises for a name the service does not expose.
    pub fn cannot_access(name: &str) -> crate::Error {
        crate::client::python::policy::cannot_access(name)
    }

    use crate::client::{FromObject, Object};

    /// One bound argument of a `#[rpyc_service]` method, converted to its parameter's
    /// type; a mismatch is the `TypeError` a Python function checking its argument
    /// would raise, naming the method and the parameter.
    pub fn argument<T: FromObject>(
        signature: &crate::server::Signature,
        name: &str,
        bound: Option<Object>,
    ) -> crate::Result<T> {
        // `bind` made one object per parameter, in order.
        let object = bound.unwrap_or(Object::NONE);
        // The type's name, as CPython's argument checks say it (`not int`): not the
        // value, which may be megabytes of bytes.
        let got: std::borrow::Cow<'static, str> = match &object {
            // Said only if the conversion fails: no string made for every argument.
            Object::Value(v) => v.type_name().into(),
            other => crate::client::python::ops::type_name(other).into(),
        };
        T::from_object(object).map_err(|e| match e {
            crate::Error::Type { expected, .. } => {
                let method = signature.qualname.rsplit('.').next().unwrap_or(signature.qualname);
                crate::Error::raise("TypeError", format!("{method}() argument '{name}' must be {expected}, not {got}"))
            }
            other => other,
        })
    }

    /// What a `#[rpyc_service]` method may return: anything that converts into an
    /// object, or a `Result` of it. (A method returning nothing is told from its
    /// signature by the macro: its answer is `None`, not the empty tuple `()` is.)
    pub trait IntoReply {
        /// The object sent back.
        fn into_reply(self) -> crate::Result<Object>;
    }

    impl<T: Into<Object>> IntoReply for T {
        fn into_reply(self) -> crate::Result<Object> {
            Ok(self.into())
        }
    }

    impl<T: IntoReply, E: Into<crate::Error>> IntoReply for std::result::Result<T, E> {
        fn into_reply(self) -> crate::Result<Object> {
            self.map_err(Into::into).and_then(IntoReply::into_reply)
        }
    }
}

/// The Rust examples of the pages in `docs/`, compiled (and run, unless marked
/// otherwise) as doctests, so the documentation cannot drift from the code: the crate's
/// own documentation is the README, which links to these pages.
#[cfg(doctest)]
mod docs {
    #[doc = include_str!("../../docs/cargo-test.md")]
    mod cargo_test {}
    #[doc = include_str!("../../docs/library.md")]
    mod library {}
    #[doc = include_str!("../../docs/profiling.md")]
    mod profiling {}
}
