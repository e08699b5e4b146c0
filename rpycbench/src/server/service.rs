//! The [`Service`] trait: a Rust service exposed over RPyC with Python's `exposed_`
//! rule, and the root object that serves it.

use crate::client::{Args, Connection, LocalObject, Object};
use crate::error::{Error, Result};
use std::sync::Arc;

/// A service a server exposes: what GETROOT returns to each connection.
///
/// Methods are looked up by name as RPyC does with its default policy: a client asking
/// for `ping` or `exposed_ping` reaches the method `ping` listed in
/// [`methods`](Service::methods). A CALLATTR on the root calls it in one round trip; a
/// GETATTR returns a bound method (`builtins.method`, so a Python client needs no
/// INSPECT) that the client then CALLs, as `conn.root.ping()` does.
///
/// ```
/// use rpycbench::client::{Args, Connection, Object};
/// use rpycbench::server::Service;
///
/// struct Greeter;
///
/// impl Service for Greeter {
///     fn type_name(&self) -> &str {
///         "greeter.Greeter"
///     }
///     fn methods(&self) -> &[&'static str] {
///         &["hello"]
///     }
///     fn call(&self, _conn: &mut Connection, method: &str, args: Args) -> rpycbench::Result<Object> {
///         match method {
///             "hello" => Ok(format!("hello, {}", args.arg::<String>(0)?).into()),
///             _ => unreachable!("only listed methods are called"),
///         }
///     }
/// }
/// ```
pub trait Service: Send + Sync + 'static {
    /// The `"<module>.<class>"` name of the root, as a Python service's id_pack shows it.
    fn type_name(&self) -> &str;

    /// The exposed method names, without the `exposed_` prefix.
    fn methods(&self) -> &[&'static str];

    /// Calls `method` (one of [`methods`](Service::methods)). The connection is there to
    /// call back into the client (callbacks, iterating a client's list).
    fn call(&self, conn: &mut Connection, method: &str, args: Args) -> Result<Object>;
}

/// Adapts a [`Service`] to the object a connection serves as its root.
pub(crate) struct ServiceRoot(pub(crate) Arc<dyn Service>);

impl ServiceRoot {
    /// The method `name` resolves to under RPyC's default policy, if any.
    fn resolve(&self, name: &str) -> Option<&'static str> {
        let bare = name.strip_prefix("exposed_").unwrap_or(name);
        self.0.methods().iter().copied().find(|m| *m == bare)
    }
}

/// The AttributeError a Python owner raises for a name it cannot serve: rpyc's own
/// refusal, except for `exposed_` names, which pass rpyc's access check and then fail
/// Python's attribute lookup with its wording.
pub(crate) fn no_attribute(type_name: &str, name: &str) -> Error {
    if name.starts_with("exposed_") {
        let class = type_name.rsplit('.').next().unwrap_or(type_name);
        Error::raise("AttributeError", format!("'{class}' object has no attribute '{name}'"))
    } else {
        Error::raise("AttributeError", format!("cannot access '{name}'"))
    }
}

impl LocalObject for ServiceRoot {
    fn type_name(&self) -> &str {
        self.0.type_name()
    }

    fn getattr(&self, _conn: &mut Connection, name: &str) -> Result<Object> {
        let method = self.resolve(name).ok_or_else(|| no_attribute(self.0.type_name(), name))?;
        Ok(Object::local(Arc::new(BoundMethod { service: self.0.clone(), method })))
    }

    fn call_method(&self, conn: &mut Connection, name: &str, args: Args) -> Result<Object> {
        let method = self.resolve(name).ok_or_else(|| no_attribute(self.0.type_name(), name))?;
        self.0.call(conn, method, args)
    }

    fn repr(&self) -> String {
        format!("<{} object>", self.0.type_name())
    }

    fn dir(&self) -> Vec<String> {
        self.0.methods().iter().map(|m| format!("exposed_{m}")).collect()
    }
}

/// `root.method` as a value: callable, named `builtins.method` so that a Python client
/// builds its proxy without an INSPECT round trip.
struct BoundMethod {
    service: Arc<dyn Service>,
    method: &'static str,
}

impl LocalObject for BoundMethod {
    fn type_name(&self) -> &str {
        "builtins.method"
    }
    fn call(&self, conn: &mut Connection, args: Args) -> Result<Object> {
        self.service.call(conn, self.method, args)
    }
    fn repr(&self) -> String {
        format!("<bound method {}.exposed_{}>", self.service.type_name(), self.method)
    }
    fn special_methods(&self) -> &[&'static str] {
        &["__call__"]
    }
}
