//! The [`Service`] trait: a Rust service exposed over RPyC with Python's `exposed_`
//! rule, and the root object that serves it as an `rpyc.Service` instance would.

use super::binding::Signature;
use super::python_classes::SERVICE;
use crate::client::python::{object_member, Member, Py, PyClass, PyInstance};
use crate::client::{Args, Connection, LocalRef, Object};
use crate::error::{Error, Result};
use crate::wire::Value;
use std::sync::Arc;

/// A service a server exposes: what GETROOT returns to each connection.
///
/// Methods are looked up by name as RPyC does with its default policy: a client asking
/// for `ping` or `exposed_ping` reaches the method `ping` listed in
/// [`methods`](Service::methods). A CALLATTR on the root calls it in one round trip; a
/// GETATTR returns a bound method (`builtins.method`, so a Python client needs no
/// INSPECT) that the client then CALLs, as `conn.root.ping()` does. The root also has
/// what every `rpyc.Service` has: `get_service_name()`, `get_service_aliases()`, a
/// docstring, a `repr`, and the refusals of `setattr` and `delattr`.
///
/// Most services are written with `#[rpyc_service]` on an `impl` block, which
/// implements this trait with typed, Python-bound arguments. By hand:
///
/// ```
/// use rpycbench::client::{Args, Connection, Object};
/// use rpycbench::server::Service;
///
/// struct Greeter;
///
/// impl Service for Greeter {
///     fn type_name(&self) -> &str {
///         "greeter.GreeterService"
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
    /// call back into the client (callbacks, iterating a client's list), and to ask
    /// whether the client is still there: a long method should check
    /// [`conn.peer_gone()`](Connection::peer_gone) every so often (the built-in
    /// `io_work` and `cpu_work` do, about every 100 ms and every few milliseconds) and
    /// return an error once it says so, since nobody is left to read the answer and the
    /// thread or process serving the connection is held until the method returns.
    ///
    /// ```
    /// # use rpycbench::client::{Connection, Object};
    /// # use rpycbench::Error;
    /// fn wait_for_job(conn: &mut Connection) -> rpycbench::Result<Object> {
    ///     for _ in 0..600 {
    ///         if conn.peer_gone() {
    ///             return Err(Error::Closed { peer: conn.peer().to_owned(), doing: "waiting for the job" });
    ///         }
    ///         std::thread::sleep(std::time::Duration::from_millis(100));
    ///     }
    ///     Ok("done".into())
    /// }
    /// ```
    fn call(&self, conn: &mut Connection, method: &str, args: Args) -> Result<Object>;

    /// The class docstring (`root.__doc__`).
    fn doc(&self) -> Option<&str> {
        None
    }
}

/// The root object of a connection: a [`Service`] as an instance of an `rpyc.Service`
/// subclass.
pub(crate) struct ServiceRoot {
    service: Arc<dyn Service>,
    module: String,
    class: String,
}

impl ServiceRoot {
    /// The root for `service`, to lend as GETROOT's answer.
    pub(crate) fn lend(service: Arc<dyn Service>) -> LocalRef {
        let (module, class) = match service.type_name().rsplit_once('.') {
            Some((m, c)) => (m.to_owned(), c.to_owned()),
            None => ("__main__".to_owned(), service.type_name().to_owned()),
        };
        LocalRef::new(Py::new(ServiceRoot { service, module, class }))
    }

    /// The service method an attribute name stands for (`exposed_ping` → `ping`).
    fn method(&self, name: &str) -> Option<&'static str> {
        let bare = name.strip_prefix("exposed_")?;
        self.service.methods().iter().copied().find(|m| *m == bare)
    }

    /// `Service.get_service_aliases()`: the class name upper-cased, less a `SERVICE`
    /// suffix (a Rust service has no `ALIASES`).
    fn aliases(&self) -> Vec<Value> {
        let mut name = self.class.to_uppercase();
        if name.ends_with("SERVICE") {
            name.truncate(name.len() - "SERVICE".len());
        }
        vec![Value::Str(name)]
    }
}

/// `get_service_name` and `get_service_aliases` take nothing but the class.
const GET_SERVICE_NAME: Signature = Signature { qualname: "Service.get_service_name", params: &[] };
const GET_SERVICE_ALIASES: Signature = Signature { qualname: "Service.get_service_aliases", params: &[] };

impl PyInstance for ServiceRoot {
    fn class(&self) -> &PyClass {
        &SERVICE
    }

    fn type_names(&self) -> (&str, &str) {
        (&self.module, &self.class)
    }

    fn member(&self, name: &str) -> Option<(Member, Option<&'static str>)> {
        match self.method(name) {
            // A method defined on the service's own class: `{Class}.exposed_x`.
            Some(_) => Some((Member::Method(""), None)),
            None => SERVICE.member(name),
        }
    }

    fn has_attr(&self, name: &str) -> bool {
        SERVICE.has(name) || self.method(name).is_some()
    }

    fn dir(&self) -> Vec<String> {
        let mut names: Vec<String> = SERVICE.dir.iter().map(|s| (*s).to_owned()).collect();
        names.extend(self.service.methods().iter().map(|m| format!("exposed_{m}")));
        names.sort();
        names.dedup();
        names
    }

    fn doc(&self) -> Option<String> {
        self.service.doc().map(str::to_owned)
    }

    fn inspect(&self) -> Vec<(String, Option<String>)> {
        let base = SERVICE.inspect.iter().map(|(n, d)| ((*n).to_owned(), d.map(str::to_owned)));
        base.chain(self.service.methods().iter().map(|m| (format!("exposed_{m}"), None))).collect()
    }

    fn call_member(&self, me: &Py<Self>, conn: &mut Connection, name: &str, args: Args) -> Result<Object> {
        if let Some(method) = self.method(name) {
            return self.service.call(conn, method, args);
        }
        match name {
            "exposed_get_service_name" | "get_service_name" => {
                GET_SERVICE_NAME.bind(args)?;
                Ok(Object::Value(self.aliases().swap_remove(0)))
            }
            "exposed_get_service_aliases" | "get_service_aliases" => {
                GET_SERVICE_ALIASES.bind(args)?;
                Ok(Object::Value(Value::Tuple(self.aliases())))
            }
            _ => object_member(me, conn, name, args),
        }
    }

    /// `Service._rpyc_setattr`.
    fn setattr(&self, _name: &str) -> Result<()> {
        Err(Error::raise("AttributeError", "access denied"))
    }

    /// `Service._rpyc_delattr`.
    fn delattr(&self, _name: &str) -> Result<()> {
        Err(Error::raise("AttributeError", "access denied"))
    }
}

/// Serves `service` on an accepted stream, on the calling thread, until the peer
/// closes: the dispatcher of one native server connection without an accept loop. For
/// the `server_dispatch` fuzz target, which must see every request answered before its
/// input ends (a connection thread of a real server would outlive it).
#[doc(hidden)]
pub fn serve_stream(
    stream: std::net::TcpStream,
    service: Arc<dyn Service>,
    config: crate::client::Config,
) -> Result<()> {
    let mut conn = Connection::from_stream(stream, config)?;
    conn.set_service(ServiceRoot::lend(service));
    conn.serve_until_closed()
}
