//! What a benchmark runs against: how to connect, and what to call the server in
//! results.

use crate::client::{Config, Connection};
use crate::error::Result;
use crate::metrics::{Environment, ProcessSet, ServerInfo};
use crate::server::ServerHandle;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

type ConnectFn = dyn Fn() -> Result<Connection> + Send + Sync;

/// A server to benchmark: a connection factory, the server's identity for results, and
/// its processes for CPU and memory sampling when they are known.
#[derive(Clone)]
pub struct Target {
    connect: Arc<ConnectFn>,
    server: ServerInfo,
    processes: Option<ProcessSet>,
    python: Option<PathBuf>,
}

impl Target {
    /// A server started with [`ServerSpec`](crate::server::ServerSpec): its mode and
    /// backend are recorded, and its whole process tree is sampled.
    pub fn server(handle: &ServerHandle) -> Target {
        let mode = handle.mode();
        let mut t = Target::address_with(handle.addr(), Config::default());
        t.server = ServerInfo {
            mode: mode.name().into(),
            backend: mode.backend().into(),
            address: Some(handle.addr().to_string()),
        };
        t.processes = Some(ProcessSet::Session(handle.pid()));
        t.python = handle.python().map(PathBuf::from);
        t
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

    /// Any connection factory, e.g. one that authenticates after connecting.
    pub fn factory(server: ServerInfo, connect: impl Fn() -> Result<Connection> + Send + Sync + 'static) -> Target {
        Target { connect: Arc::new(connect), server, processes: None, python: None }
    }

    /// Samples these processes' CPU and memory during runs.
    pub fn with_processes(mut self, processes: ProcessSet) -> Target {
        self.processes = Some(processes);
        self
    }

    /// Opens a connection.
    pub fn connect(&self) -> Result<Connection> {
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
