//! What the command can serve and benchmark: an RPyC server mode or the HTTP baseline.
//! The choice lives here, above both: the RPyC layers know nothing of HTTP, and the
//! HTTP baseline is a peer the command picks, not a mode of the RPyC servers.

use crate::http::{self, HttpServerSpec};
use crate::server::remote::{RemoteServer, RemoteSession};
use crate::server::{ServerError, ServerMode, StartedServer, UnknownMode};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// An RPyC server mode, or the HTTP/1.1 baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServerKind {
    /// One of the RPyC servers.
    Rpyc(ServerMode),
    /// The HTTP/1.1 keep-alive baseline (hyper), serving the built-in service's
    /// operations as routes.
    Http,
}

impl ServerKind {
    /// The name on the command line and in results.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ServerKind::Rpyc(mode) => mode.name(),
            ServerKind::Http => http::SERVED.name,
        }
    }

    /// Starts it as its own process on `host:port`, here, or on the host of `remote`
    /// (where `host` is the session's bind address); `python` for the Python-backed
    /// modes; `compression` and `payload` for the RPyC ones (see
    /// [`ServerSpec`](crate::server::ServerSpec)).
    pub(crate) fn start(
        self,
        (host, port): (String, u16),
        remote: Option<&Arc<RemoteSession>>,
        python: crate::server::PythonServerSpec,
        compression: Option<crate::wire::Compression>,
        payload: crate::server::PayloadKind,
    ) -> Result<StartedServer, ServerError> {
        match (self, remote) {
            (ServerKind::Rpyc(mode), remote) => {
                let mut spec = crate::server::ServerSpec::new(mode).python(python).payload(payload);
                (spec.host, spec.port, spec.compression) = (host, port, compression);
                if mode.is_python() && spec.effective_compression() == crate::wire::Compression::Off {
                    return Err(ServerError::PythonCompresses { server: mode.name() });
                }
                match remote {
                    Some(session) => Ok(RemoteServer::start(session.clone(), &spec)?.into()),
                    None => spec.start().map(StartedServer::from),
                }
            }
            (ServerKind::Http, None) => HttpServerSpec { host, port, ..HttpServerSpec::new() }.start().map(Into::into),
            (ServerKind::Http, Some(session)) => {
                HttpServerSpec { port, ..HttpServerSpec::new() }.start_remote(session.clone()).map(Into::into)
            }
        }
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is neither an RPyC mode nor `http`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown server mode '{0}': expected threaded, forking, python-threaded, python-forking or http")]
pub(crate) struct UnknownServer(String);

impl FromStr for ServerKind {
    type Err = UnknownServer;
    fn from_str(s: &str) -> Result<Self, UnknownServer> {
        if s == http::SERVED.name {
            return Ok(ServerKind::Http);
        }
        s.parse().map(ServerKind::Rpyc).map_err(|UnknownMode(name)| UnknownServer(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_every_rpyc_mode_are_named_once() {
        assert_eq!("http".parse::<ServerKind>().unwrap(), ServerKind::Http);
        for mode in ServerMode::ALL {
            assert_eq!(mode.name().parse::<ServerKind>().unwrap(), ServerKind::Rpyc(mode));
            assert_ne!(mode.name(), ServerKind::Http.name());
        }
        let unknown = "gopher".parse::<ServerKind>().unwrap_err().to_string();
        assert!(unknown.contains("'gopher'") && unknown.contains("or http"), "{unknown}");
    }
}
