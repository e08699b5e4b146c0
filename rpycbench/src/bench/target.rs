//! What a benchmark runs against: how to connect, and what to call the server in
//! results.

use crate::client::{Config, Connection};
use crate::error::Result;
use crate::metrics::{Environment, ProcessSet, ServerInfo};
use crate::server::ServerHandle;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

type ConnectFn<C> = dyn Fn() -> Result<C> + Send + Sync;

/// A server to benchmark: a connection factory, the server's identity for results, and
/// its processes for CPU and memory sampling when they are known.
///
/// `C` is the client the factory makes: an RPyC [`Connection`] unless said otherwise
/// (the HTTP baseline's targets make HTTP clients, see [`crate::http`]).
pub struct Target<C = Connection> {
    connect: Arc<ConnectFn<C>>,
    server: ServerInfo,
    processes: Option<ProcessSet>,
    python: Option<PathBuf>,
}

// Not derived: a derive would require `C: Clone`, and a connection is not.
impl<C> Clone for Target<C> {
    fn clone(&self) -> Self {
        Target {
            connect: self.connect.clone(),
            server: self.server.clone(),
            processes: self.processes,
            python: self.python.clone(),
        }
    }
}

impl Target {
    /// A server started with [`ServerSpec`](crate::server::ServerSpec): its mode and
    /// backend are recorded, and its whole process tree is sampled. For the HTTP
    /// baseline server, use [`crate::http::target`] instead.
    pub fn server(handle: &ServerHandle) -> Target {
        Target::server_with(handle, |addr| Connection::connect_with(addr, Config::default()))
    }

    /// A server that is already running somewhere (recorded as mode `external`).
    pub fn address(addr: SocketAddr) -> Target {
        Target::address_with(addr, Config::default())
    }

    /// Like [`address`](Self::address), with a connection configuration.
    pub fn address_with(addr: SocketAddr, config: Config) -> Target {
        Target {
            connect: Arc::new(move || Connection::connect_with(addr, config.clone())),
            server: ServerInfo { mode: "external".into(), backend: "unknown".into(), address: Some(addr.to_string()) },
            processes: None,
            python: None,
        }
    }
}

impl<C> Target<C> {
    /// A server started with [`ServerSpec`](crate::server::ServerSpec), reached with
    /// `connect(address)`: its mode and backend are recorded, and its whole process tree
    /// is sampled.
    pub fn server_with(
        handle: &ServerHandle,
        connect: impl Fn(SocketAddr) -> Result<C> + Send + Sync + 'static,
    ) -> Target<C> {
        let (mode, addr) = (handle.mode(), handle.addr());
        Target {
            connect: Arc::new(move || connect(addr)),
            server: ServerInfo {
                mode: mode.name().into(),
                backend: mode.backend().into(),
                address: Some(addr.to_string()),
            },
            processes: Some(ProcessSet::Session(handle.pid())),
            python: handle.python().map(PathBuf::from),
        }
    }

    /// Any connection factory, e.g. one that authenticates after connecting.
    pub fn factory(server: ServerInfo, connect: impl Fn() -> Result<C> + Send + Sync + 'static) -> Target<C> {
        Target { connect: Arc::new(connect), server, processes: None, python: None }
    }

    /// Samples these processes' CPU and memory during runs.
    pub fn with_processes(mut self, processes: ProcessSet) -> Target<C> {
        self.processes = Some(processes);
        self
    }

    /// Opens a connection.
    pub fn connect(&self) -> Result<C> {
        (self.connect)()
    }

    /// The server's identity in results.
    pub fn info(&self) -> &ServerInfo {
        &self.server
    }

    /// The server's processes, when known.
    pub fn processes(&self) -> Option<ProcessSet> {
        self.processes
    }

    /// The environment results record: this machine, plus the server's Python and
    /// rpyc versions for a Python-backed server.
    pub fn environment(&self) -> Environment {
        match &self.python {
            Some(python) => Environment::current().with_python(python),
            None => Environment::current(),
        }
    }
}
