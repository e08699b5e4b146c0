//! What a benchmark runs against: how to connect, and what to call the server in
//! results.

use crate::client::{Config, Connection, DEFAULT_REPLY_POLL};
use crate::error::Result;
use crate::metrics::{Environment, ProcessSet, RemoteInfo, ServerInfo, ServerSampling};
use crate::server::{RemoteEnd, RunningServer};
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
    sampling: Option<ServerSampling>,
    remote: Option<RemoteEnd>,
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
            sampling: self.sampling.clone(),
            remote: self.remote.clone(),
            python: self.python.clone(),
            reply_poll: self.reply_poll,
            compression: self.compression,
        }
    }
}

impl Target {
    /// A server started with [`ServerSpec`](crate::server::ServerSpec) (here, or on
    /// another host: any [`RunningServer`]): its mode and backend are recorded, and its
    /// whole process tree is sampled. For the HTTP baseline server, use
    /// `rpycbench::http::target` (feature `http`) instead.
    pub fn server(handle: &(impl RunningServer + ?Sized)) -> Target {
        Target::server_configured(handle, Config::default())
    }

    /// [`server`](Self::server), its clients connecting with `config` (its
    /// [`compression`](Config::compression) is recorded by the bandwidth and transfer
    /// kinds).
    pub fn server_configured(handle: &(impl RunningServer + ?Sized), config: Config) -> Target {
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
            sampling: None,
            remote: None,
            python: None,
            reply_poll,
            compression,
        }
    }
}

impl<C> Target<C> {
    /// A server started with [`ServerSpec`](crate::server::ServerSpec), reached with
    /// `connect(address)`: its mode and backend are recorded, and its whole process tree
    /// is sampled (on its host, for a remote server, whose host and path are recorded).
    pub fn server_with(
        handle: &(impl RunningServer + ?Sized),
        connect: impl Fn(SocketAddr) -> Result<C> + Send + Sync + 'static,
    ) -> Target<C> {
        let (served, addr) = (handle.served(), handle.addr());
        let remote = handle.remote();
        let sampling = match (&remote, handle.local_session()) {
            (Some(r), _) => r.probe.clone().map(ServerSampling::Remote),
            (None, session) => session.map(|s| ServerSampling::Local(ProcessSet::Session(s))),
        };
        Target {
            connect: Arc::new(move || connect(addr)),
            server: ServerInfo {
                compression: served.compression,
                payload: served.payload,
                remote: remote.as_ref().map(|r| RemoteInfo {
                    host: r.destination.clone(),
                    via: r.via.name().to_owned(),
                    network_rtt: None,
                }),
                ..ServerInfo::new(served.name, served.backend, Some(addr.to_string()))
            },
            sampling,
            remote,
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
            sampling: None,
            remote: None,
            python: None,
            reply_poll: DEFAULT_REPLY_POLL,
            compression: Compression::Off,
        }
    }

    /// Samples these processes' CPU and memory during runs.
    pub fn with_processes(mut self, processes: ProcessSet) -> Target<C> {
        self.sampling = Some(ServerSampling::Local(processes));
        self
    }

    /// The same server (its identity, sampling, remote end and settings), reached
    /// through another connection factory.
    pub fn with_factory<D>(&self, connect: impl Fn() -> Result<D> + Send + Sync + 'static) -> Target<D> {
        Target {
            connect: Arc::new(connect),
            server: self.server.clone(),
            sampling: self.sampling.clone(),
            remote: self.remote.clone(),
            python: self.python.clone(),
            reply_poll: self.reply_poll,
            compression: self.compression,
        }
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

    /// The server's processes on this machine, when known.
    pub fn processes(&self) -> Option<ProcessSet> {
        self.sampling.as_ref().and_then(ServerSampling::local)
    }

    /// Where the server's processes are sampled (here or on its host), when known.
    pub fn sampling(&self) -> Option<&ServerSampling> {
        self.sampling.as_ref()
    }

    /// The server's host and path, when it runs on another host.
    pub fn remote(&self) -> Option<&RemoteEnd> {
        self.remote.as_ref()
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
