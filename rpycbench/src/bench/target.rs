//! What a benchmark runs against: how to connect, and what to call the server in
//! results.

use crate::client::{Config, Connection, DEFAULT_REPLY_POLL};
use crate::error::Result;
use crate::metrics::{Environment, ProcessSet, ServerInfo};
use crate::server::ServerHandle;
use crate::wire::Compression;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

type ConnectFn<C> = dyn Fn() -> Result<C> + Send + Sync;

/// A server to benchmark: a connection factory, the server's identity for results, and
/// its processes for CPU and memory sampling when they are known.
///
/// `C` is the client the factory makes: an RPyC [`Connection`] unless said otherwise
/// (the HTTP baseline's targets make HTTP clients, see the `http` module, feature `http`).
pub struct Target<C = Connection> {
    connect: Arc<ConnectFn<C>>,
    server: ServerInfo,
    processes: Option<ProcessSet>,
    python: Option<PathBuf>,
    reply_poll: Duration,
    compression: Compression,
}

// Not derived: a derive would require `C: Clone`, and a connection is not.
impl<C> Clone for Target<C> {
    fn clone(&self) -> Self {
        Target {
            connect: self.connect.clone(),
            server: self.server.clone(),
            processes: self.processes,
            python: self.python.clone(),
            reply_poll: self.reply_poll,
            compression: self.compression,
        }
    }
}

impl Target {
    /// A server started with [`ServerSpec`](crate::server::ServerSpec): its mode and
    /// backend are recorded, and its whole process tree is sampled. For the HTTP
    /// baseline server, use `rpycbench::http::target` (feature `http`) instead.
    pub fn server(handle: &ServerHandle) -> Target {
        Target::server_configured(handle, Config::default())
    }

    /// [`server`](Self::server), its clients connecting with `config` (its
    /// [`compression`](Config::compression) is recorded by the bandwidth and transfer
    /// kinds).
    pub fn server_configured(handle: &ServerHandle, config: Config) -> Target {
        let (poll, compression) = (config.reply_poll, config.compression);
        Target::server_with(handle, move |addr| Connection::connect_with(addr, config.clone()))
            .with_reply_poll(poll)
            .with_compression(compression)
    }

    /// A server that is already running somewhere (recorded as mode `external`).
    pub fn address(addr: SocketAddr) -> Target {
        Target::address_with(addr, Config::default())
    }

    /// Like [`address`](Self::address), with a connection configuration.
    pub fn address_with(addr: SocketAddr, config: Config) -> Target {
        let (reply_poll, compression) = (config.reply_poll, config.compression);
        Target {
            connect: Arc::new(move || Connection::connect_with(addr, config.clone())),
            server: ServerInfo::new("external", "unknown", Some(addr.to_string())),
            processes: None,
            python: None,
            reply_poll,
            compression,
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
        let (served, addr) = (handle.served(), handle.addr());
        Target {
            connect: Arc::new(move || connect(addr)),
            server: ServerInfo {
                compression: served.compression,
                payload: served.payload,
                ..ServerInfo::new(served.name, served.backend, Some(addr.to_string()))
            },
            processes: Some(ProcessSet::Session(handle.pid())),
            python: handle.python().map(PathBuf::from),
            reply_poll: DEFAULT_REPLY_POLL,
            compression: Compression::Off,
        }
    }

    /// Any connection factory, e.g. one that authenticates after connecting.
    pub fn factory(server: ServerInfo, connect: impl Fn() -> Result<C> + Send + Sync + 'static) -> Target<C> {
        Target {
            connect: Arc::new(connect),
            server,
            processes: None,
            python: None,
            reply_poll: DEFAULT_REPLY_POLL,
            compression: Compression::Off,
        }
    }

    /// Samples these processes' CPU and memory during runs.
    pub fn with_processes(mut self, processes: ProcessSet) -> Target<C> {
        self.processes = Some(processes);
        self
    }

    /// Says how long the clients this target makes poll for a reply before blocking
    /// (their `reply_poll`; [`DEFAULT_REPLY_POLL`] unless said), so that the machine
    /// reference of its results waits for its echoes the same way.
    pub fn with_reply_poll(mut self, poll: Duration) -> Target<C> {
        self.reply_poll = poll;
        self
    }

    /// Says how the clients this target makes compress what they send (their
    /// [`Config::compression`]), as the bandwidth and transfer kinds record it.
    pub fn with_compression(mut self, compression: Compression) -> Target<C> {
        self.compression = compression;
        self
    }

    /// How the clients compress what they send.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// How long the clients poll for a reply before blocking.
    pub fn reply_poll(&self) -> Duration {
        self.reply_poll
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
