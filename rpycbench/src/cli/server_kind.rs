//! What the command can serve and benchmark: an RPyC server mode or the HTTP baseline.
//! The choice lives here, above both: the RPyC layers know nothing of HTTP, and the
//! HTTP baseline is a peer the command picks, not a mode of the RPyC servers.

use crate::http::{self, HttpServerSpec};
use crate::server::{ServerError, ServerHandle, ServerMode, UnknownMode};
use std::fmt;
use std::str::FromStr;

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

    /// Starts it as its own process on `host:port`; `python` for the Python-backed modes;
    /// `compression` and `payload` for the RPyC ones (see [`ServerSpec`](crate::server::ServerSpec)).
    pub(crate) fn start(
        self,
        host: String,
        port: u16,
        python: crate::server::PythonServerSpec,
        compression: Option<crate::wire::Compression>,
        payload: crate::server::PayloadKind,
    ) -> Result<ServerHandle, ServerError> {
        match self {
            ServerKind::Rpyc(mode) => {
                let mut spec = crate::server::ServerSpec::new(mode).python(python).payload(payload);
                (spec.host, spec.port, spec.compression) = (host, port, compression);
                spec.start()
            }
            ServerKind::Http => HttpServerSpec { host, port, ..HttpServerSpec::new() }.start(),
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
