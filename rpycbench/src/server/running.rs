//! A server that runs, here or on another host: what a benchmark needs of it (where to
//! connect, what it serves, where its processes are sampled) whichever it is, and one
//! owner that stops either.

use super::process::{Served, ServerError, ServerHandle};
use super::remote::{RemoteProbe, RemoteServer, RemoteSession, Via};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// What a benchmark needs of a running server. Implemented by a local
/// [`ServerHandle`], a [`RemoteServer`] and [`StartedServer`] (either).
pub trait RunningServer {
    /// The address to connect to from here.
    fn addr(&self) -> SocketAddr;
    /// What it serves, as results record it.
    fn served(&self) -> Served;
    /// The Python interpreter running it, for a Python-backed mode started here.
    fn python(&self) -> Option<&Path> {
        None
    }
    /// The session of its processes on this machine, when it runs here.
    fn local_session(&self) -> Option<u32> {
        None
    }
    /// Where it runs when not here.
    fn remote(&self) -> Option<RemoteEnd> {
        None
    }
}

/// A server on another host, as a benchmark sees it.
#[derive(Clone, Debug)]
pub struct RemoteEnd {
    /// The host, as given (`user@host`, a `~/.ssh/config` name).
    pub destination: String,
    /// Through a tunnel or directly.
    pub via: Via,
    /// Its companion there: the remote /proc figures of its processes, and an echo
    /// across the same path for the network's round trip. `None` when it could not
    /// start (`probe_error` says why).
    pub probe: Option<Arc<RemoteProbe>>,
    /// Why there is no companion.
    pub probe_error: Option<String>,
    /// The SSH session it runs in: when it ends, so does the server.
    pub session: Arc<RemoteSession>,
}

impl RunningServer for ServerHandle {
    fn addr(&self) -> SocketAddr {
        ServerHandle::addr(self)
    }
    fn served(&self) -> Served {
        ServerHandle::served(self)
    }
    fn python(&self) -> Option<&Path> {
        ServerHandle::python(self)
    }
    fn local_session(&self) -> Option<u32> {
        Some(self.pid())
    }
}

impl RunningServer for RemoteServer {
    fn addr(&self) -> SocketAddr {
        RemoteServer::addr(self)
    }
    fn served(&self) -> Served {
        RemoteServer::served(self)
    }
    fn remote(&self) -> Option<RemoteEnd> {
        let (probe, probe_error) = match self.probe() {
            Ok(p) => (Some(p.clone()), None),
            Err(e) => (None, Some(e.to_owned())),
        };
        let session = self.session().clone();
        Some(RemoteEnd { destination: self.destination().to_owned(), via: self.via(), probe, probe_error, session })
    }
}

/// A server started here or on a remote host, stopped on [`stop`](Self::stop) or drop.
pub enum StartedServer {
    /// A process of this machine.
    Local(ServerHandle),
    /// A process on another host, over SSH.
    Remote(Box<RemoteServer>),
}

impl StartedServer {
    /// Stops it and everything it started (there too, for a remote one).
    pub fn stop(self) -> Result<(), ServerError> {
        match self {
            StartedServer::Local(h) => h.stop().map_err(ServerError::Stop),
            StartedServer::Remote(r) => r.stop().map_err(ServerError::from),
        }
    }

    /// Where it runs, when not here.
    pub fn remote_server(&self) -> Option<&RemoteServer> {
        match self {
            StartedServer::Local(_) => None,
            StartedServer::Remote(r) => Some(r),
        }
    }
}

impl From<ServerHandle> for StartedServer {
    fn from(h: ServerHandle) -> Self {
        StartedServer::Local(h)
    }
}

impl From<RemoteServer> for StartedServer {
    fn from(r: RemoteServer) -> Self {
        StartedServer::Remote(Box::new(r))
    }
}

impl RunningServer for StartedServer {
    fn addr(&self) -> SocketAddr {
        match self {
            StartedServer::Local(h) => RunningServer::addr(h),
            StartedServer::Remote(r) => RunningServer::addr(&**r),
        }
    }
    fn served(&self) -> Served {
        match self {
            StartedServer::Local(h) => RunningServer::served(h),
            StartedServer::Remote(r) => RunningServer::served(&**r),
        }
    }
    fn python(&self) -> Option<&Path> {
        match self {
            StartedServer::Local(h) => RunningServer::python(h),
            StartedServer::Remote(_) => None,
        }
    }
    fn local_session(&self) -> Option<u32> {
        match self {
            StartedServer::Local(h) => RunningServer::local_session(h),
            StartedServer::Remote(_) => None,
        }
    }
    fn remote(&self) -> Option<RemoteEnd> {
        match self {
            StartedServer::Local(_) => None,
            StartedServer::Remote(r) => RunningServer::remote(&**r),
        }
    }
}
