//! Starting the server a benchmark runs against: each in its own process and session,
//! on an ephemeral port, and stopped when the benchmark is done.

use super::registry::ServerChoice;
use crate::bench::Target;
use crate::client::Config;
use crate::server::remote::{RemoteServer, RemoteSession, Via};
use crate::server::{PayloadKind, PythonServerSpec, ServerError, ServerMode, ServerSpec, StartedServer};
use crate::wire::Compression;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The environment variable that tells a harness server process which of the
/// binary's Rust services to serve (`ServerSpec` has no way to add an argument).
pub const RUST_SERVICE_ENV: &str = crate::server::child::RUST_SERVICE_ENV;

/// How the harness's RPyC servers compress what they send, `off` or `python` (default:
/// each mode's own, see [`ServerSpec::compression`]).
pub const COMPRESSION_ENV: &str = "RPYCBENCH_COMPRESSION";
/// What the built-in service's downloads (and the bandwidth and transfer kinds' uploads)
/// are made of: `incompressible` (default), `text` or `zeros`.
pub const PAYLOAD_ENV: &str = "RPYCBENCH_PAYLOAD";
/// The Python interpreter, on the remote host, of Python modes a `remote` benchmark
/// starts there (default: what `rpycbench serve` finds there).
pub const REMOTE_PYTHON_ENV: &str = "RPYCBENCH_REMOTE_PYTHON";

/// The compression [`COMPRESSION_ENV`] asks for, if any.
pub fn compression_from_env() -> Result<Option<Compression>, String> {
    match std::env::var(COMPRESSION_ENV).ok().filter(|v| !v.is_empty()).as_deref() {
        None => Ok(None),
        Some("off") => Ok(Some(Compression::Off)),
        Some("python") => Ok(Some(Compression::Python)),
        Some(other) => Err(format!("{COMPRESSION_ENV}={other:?}: expected off or python")),
    }
}

/// The payload kind [`PAYLOAD_ENV`] asks for (the default when unset).
pub fn payload_from_env() -> Result<PayloadKind, String> {
    match std::env::var(PAYLOAD_ENV).ok().filter(|v| !v.is_empty()) {
        None => Ok(PayloadKind::default()),
        Some(v) => v.parse().map_err(|e| format!("{PAYLOAD_ENV}: {e}")),
    }
}

/// A server for one benchmark: the process (none for an external server) and how to
/// reach it.
pub struct Running {
    handle: Option<StartedServer>,
    target: Target,
}

impl Running {
    /// How the benchmark connects.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Where the server runs when not here: `on HOST (pid N), reached through an SSH
    /// tunnel`.
    pub fn remote(&self) -> Option<String> {
        let remote = self.handle.as_ref()?.remote_server()?;
        let via = match remote.via() {
            Via::Tunnel => "through an SSH tunnel",
            Via::Direct => "directly",
        };
        let mut line = format!("server on {} (pid {} there), reached {via}", remote.destination(), remote.remote_pid());
        if let Err(why) = remote.probe() {
            line.push_str(&format!("; no figures from there: {}", why.lines().next().unwrap_or(why)));
        }
        Some(line)
    }

    /// Stops the server process and everything it started.
    pub fn stop(self) {
        if let Some(h) = self.handle {
            let _ = h.stop();
        }
    }
}

/// The name of a server in test names: `threaded`, `forking`, `python-threaded`,
/// `python-forking`, `python:module:Class` (`python-forking:module:Class` in the forking
/// mode), `rust:name` (`rust-forking:name`), `external:ENV`.
pub fn label(choice: &ServerChoice) -> String {
    match choice {
        ServerChoice::Builtin(mode) => mode.name().to_owned(),
        ServerChoice::Python { service, mode, .. } => {
            format!("{}:{service}", if mode.is_forking() { "python-forking" } else { "python" })
        }
        ServerChoice::Rust { name, mode, .. } => {
            format!("{}:{name}", if mode.is_forking() { "rust-forking" } else { "rust" })
        }
        ServerChoice::External { env } => format!("external:{env}"),
    }
}

/// Starts the server of `choice`, here or over `remote`'s session on its host. Python
/// import paths are relative to `manifest_dir`. The error says what failed, with the
/// server's stderr when it printed any.
pub fn start(
    choice: &ServerChoice,
    manifest_dir: &Path,
    remote: Option<&Arc<RemoteSession>>,
) -> Result<Running, String> {
    let (compression, payload) = (compression_from_env()?, payload_from_env()?);
    let rust_service = match choice {
        ServerChoice::Rust { name, .. } => vec!["--rust-service".to_owned(), (*name).to_owned()],
        _ => Vec::new(),
    };
    let started = |mut spec: ServerSpec| -> Result<Running, String> {
        spec.compression = compression;
        let remote_python = remote.is_some() && spec.mode.is_python();
        if remote_python {
            // This machine's interpreter means nothing there: the remote's own, or the
            // one the user names for it.
            spec.python.python = std::env::var_os(REMOTE_PYTHON_ENV).filter(|p| !p.is_empty()).map(PathBuf::from);
        }
        // The kind is the built-in service's; a user's service makes its own bytes.
        if matches!(choice, ServerChoice::Builtin(_)) {
            spec.payload = payload;
        }
        let handle = match remote {
            Some(session) => RemoteServer::start_with(session.clone(), &spec, &rust_service)
                .map(StartedServer::from)
                .map_err(ServerError::from),
            None => spec.start().map(StartedServer::from),
        };
        let handle = handle.map_err(|e| {
            let mut why = format!("the {} server did not start: {e}", label(choice));
            if remote_python {
                why.push_str(&format!(
                    "\n(its interpreter there: ${REMOTE_PYTHON_ENV} if set here, else the remote's \
                     $RPYCBENCH_PYTHON, a .venv in its home, or python3; it needs rpyc==6.0.2)"
                ));
            }
            why
        })?;
        // The clients compress as the servers are asked to (off unless said).
        let config = Config::default().compression(compression.unwrap_or(Compression::Off));
        Ok(Running { target: Target::server_configured(&handle, config), handle: Some(handle) })
    };
    match *choice {
        ServerChoice::Builtin(mode) => started(ServerSpec::new(mode)),
        ServerChoice::Python { service, path, mode } => {
            let python = PythonServerSpec {
                service: Some(service.to_owned()),
                python_path: vec![manifest_dir.join(path)],
                ..PythonServerSpec::default()
            };
            started(ServerSpec::new(python_mode(mode)).python(python))
        }
        ServerChoice::Rust { name, mode, .. } => {
            let exe = std::env::current_exe().map_err(|e| format!("cannot find this benchmark binary: {e}"))?;
            let mut spec = ServerSpec::new(native_mode(mode));
            spec.binary = Some(exe);
            // ServerSpec has no way to add arguments, so the service's name travels in
            // the environment the child inherits. Setting it is safe here: benchmarks
            // run one at a time, and no other thread of the harness reads the
            // environment while a server starts.
            std::env::set_var(RUST_SERVICE_ENV, name);
            let running = started(spec);
            std::env::remove_var(RUST_SERVICE_ENV);
            running
        }
        ServerChoice::External { env } => {
            let value = std::env::var(env).map_err(|_| {
                format!(
                    "environment variable {env} is not set: set it to the HOST:PORT of the running server to benchmark"
                )
            })?;
            let addr = value
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| format!("{env}={value:?} is not a HOST:PORT address that resolves"))?;
            let config = Config::default().compression(compression.unwrap_or(Compression::Off));
            Ok(Running { handle: None, target: Target::address_with(addr, config) })
        }
    }
}

/// Python services run in a Python mode even if declared with a native one.
fn python_mode(mode: ServerMode) -> ServerMode {
    if mode.is_forking() {
        ServerMode::PythonForking
    } else {
        ServerMode::PythonThreaded
    }
}

/// Rust services run in a native mode even if declared with a Python one.
fn native_mode(mode: ServerMode) -> ServerMode {
    if mode.is_forking() {
        ServerMode::Forking
    } else {
        ServerMode::Threaded
    }
}
