//! Servers to benchmark against: native threaded and forking RPyC servers serving a
//! Rust [`Service`], Python-backed servers running real `rpyc`, the built-in benchmark
//! service, and [`ServerSpec`]/[`ServerHandle`] to run any of them as a separate process.

mod binding;
mod builtin;
pub(crate) mod child;
mod mode;
mod native;
mod objects;
mod payload;
pub(crate) mod process;
mod python;
pub mod remote;
mod running;
// Generated: formatted by its generator, not by rustfmt (a test compares it byte for byte).
#[rustfmt::skip]
mod python_classes;
mod service;
mod slots;
mod stop_signal;

pub use binding::{Param, ParamDefault, Signature};
pub use builtin::{cpu_work, payload, payload_block, BenchmarkService};
pub use mode::{ServerMode, UnknownMode};
#[cfg(feature = "http")]
pub(crate) use native::accept;
pub use native::{serve_forking, serve_threaded, ServeOptions, ServiceFactory};
pub use payload::{PayloadKind, UnknownPayloadKind, BLOCK_LEN};
#[doc(hidden)]
pub use process::start_serving_child;
pub use process::{current_exe_serves, Served, ServerError, ServerHandle, ServerSpec, SERVE_CHILD_ENV};
pub use python::{PythonError, PythonServerSpec, DEFAULT_SERVICE};
pub use running::{RemoteEnd, RunningServer, StartedServer};
#[doc(hidden)]
pub use service::serve_stream;
pub use service::Service;
pub(crate) use slots::Slots;
pub use slots::{default_max_connections, DEFAULT_MAX_CONNECTIONS};

use crate::client::Config;
use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Why `serve` could not run a native server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Something already listens on the address.
    #[error("cannot listen on {addr}: address already in use")]
    PortInUse {
        /// The address asked for.
        addr: String,
    },
    /// Binding or serving failed otherwise.
    #[error("cannot serve on {addr}: {source}")]
    Io {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// A Python mode was given to [`serve_native`].
    #[error("{0} is not a native mode")]
    NotNative(ServerMode),
}

/// Runs a native server in this process: binds, prints `listening on HOST:PORT`, and
/// serves until SIGTERM or SIGINT. What `rpycbench serve --mode threaded|forking` runs.
pub fn serve_native(mode: ServerMode, host: &str, port: u16, opts: ServeOptions) -> Result<(), ServeError> {
    if mode.is_python() {
        return Err(ServeError::NotNative(mode));
    }
    let (listener, stop) = listen_announced(host, port)?;
    let io = |source: std::io::Error| ServeError::Io { addr: format!("{host}:{port}"), source };
    match mode {
        ServerMode::Forking => serve_forking(listener, opts, stop).map_err(io),
        _ => serve_threaded(listener, opts, stop).map_err(io),
    }
}

/// Binds `host:port`, sets a flag on SIGTERM and SIGINT, and prints the readiness line
/// `listening on HOST:PORT` that [`ServerSpec::start`] waits for: the start of every
/// server process, whatever protocol it then serves.
#[doc(hidden)]
pub fn listen_announced(host: &str, port: u16) -> Result<(TcpListener, &'static AtomicBool), ServeError> {
    let addr = format!("{host}:{port}");
    let io = |source: std::io::Error| ServeError::Io { addr: addr.clone(), source };
    let listener = TcpListener::bind((host, port)).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => ServeError::PortInUse { addr: addr.clone() },
        _ => io(e),
    })?;
    let stop = stop_signal::on_stop_signals().map_err(io)?;
    let local = listener.local_addr().map_err(io)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {local}").and_then(|()| out.flush()).map_err(io)?;
    Ok((listener, stop))
}

/// Makes this process exit (by SIGTERM, as if stopped) once its stdin reaches EOF: a
/// server started over SSH then dies with its session, since sshd closes the
/// command's stdin when the session ends, however it ends (the client killed, the
/// network gone and noticed by keep-alives).
///
/// A forked watcher process, not a thread: the forking server must stay
/// single-threaded. Call it before serving, while this process has one thread. The
/// watcher dies with this process (parent-death signal), and since `exec` keeps the
/// process id, it also watches for a Python server this process becomes.
pub fn exit_with_stdin() -> std::io::Result<()> {
    let parent = nix::unistd::getpid();
    // SAFETY: the child calls only async-signal-safe functions (prctl, getppid, read,
    // kill, _exit) and never returns into Rust code of the parent's.
    match unsafe { nix::unistd::fork() }.map_err(std::io::Error::from)? {
        nix::unistd::ForkResult::Parent { .. } => Ok(()),
        nix::unistd::ForkResult::Child => unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() == parent.as_raw() {
                let mut buf = [0u8; 512];
                loop {
                    let n = libc::read(0, buf.as_mut_ptr().cast(), buf.len());
                    if n == 0 || (n < 0 && *libc::__errno_location() != libc::EINTR) {
                        break;
                    }
                }
                libc::kill(parent.as_raw(), libc::SIGTERM);
            }
            libc::_exit(0)
        },
    }
}

impl ServeOptions {
    /// The built-in benchmark service with default connection settings (no
    /// compression), the incompressible payload, and the default cap
    /// ([`default_max_connections`], one descriptor a connection).
    pub fn builtin() -> Self {
        Self::builtin_with(PayloadKind::default())
    }

    /// [`builtin`](Self::builtin), downloading bytes of `payload`.
    pub fn builtin_with(payload: PayloadKind) -> Self {
        let service: Arc<dyn Service> = Arc::new(BenchmarkService::with_payload(payload));
        ServeOptions {
            service: Arc::new(move || service.clone()),
            config: Config::default(),
            max_connections: Some(default_max_connections(1)),
        }
    }
}
