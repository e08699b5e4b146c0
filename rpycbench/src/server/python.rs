//! Python-backed servers: a real `rpyc.ThreadedServer` or `rpyc.ForkingServer` running
//! the Python twin of the benchmark service, or a service the user names.
//!
//! The Python files are embedded in the binary and written to a private cache
//! directory named by their content hash (see [`cache`]), so an installed `rpycbench`
//! needs no source tree.

mod cache;

use super::ServerMode;
use std::path::{Path, PathBuf};
use std::process::Command;

const SERVICE_PY: &str = include_str!("../../python/rpycbench_service.py");
const LAUNCHER_PY: &str = include_str!("../../python/rpycbench_server.py");

/// The service the Python servers run unless told otherwise.
pub const DEFAULT_SERVICE: &str = "rpycbench_service:BenchmarkService";

/// How to start a Python-backed server.
#[derive(Clone, Debug, Default)]
pub struct PythonServerSpec {
    /// The interpreter (default: `RPYCBENCH_PYTHON`, else `python3` on the PATH).
    pub python: Option<PathBuf>,
    /// `module:Class` of the service (default: the built-in benchmark service).
    pub service: Option<String>,
    /// Directories to put on `sys.path` so the service's module imports.
    pub python_path: Vec<PathBuf>,
    /// Connections served at once (see [`ServeOptions`](super::ServeOptions)).
    pub max_connections: Option<usize>,
}

/// Why a Python server could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    /// The interpreter does not exist or cannot run.
    #[error("Python interpreter '{}' not found: install Python 3 with `pip install rpyc==6.0.2`, or name one with --python / RPYCBENCH_PYTHON", .0.display())]
    NoInterpreter(PathBuf),
    /// The embedded scripts could not be written.
    #[error("cannot write the embedded Python server to {}: {source}", path.display())]
    Cache {
        /// Where they were to go.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The cache directory could hold someone else's code, which the server would run.
    #[error("refusing to run the Python server from {}: {why}; remove it (or make it yours, mode 0700) and retry", path.display())]
    UnsafeCache {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl PythonServerSpec {
    /// The interpreter to run.
    pub fn interpreter(&self) -> PathBuf {
        self.python
            .clone()
            .or_else(|| std::env::var_os("RPYCBENCH_PYTHON").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("python3"))
    }

    /// The command that starts the server; it prints `listening on HOST:PORT` once it
    /// accepts and exits cleanly on SIGTERM. The launcher itself reports a missing
    /// `rpyc`, a port in use and an unimportable service, with distinct exit codes.
    pub fn command(&self, mode: ServerMode, host: &str, port: u16) -> Result<Command, PythonError> {
        let python = self.interpreter();
        if !is_runnable(&python) {
            return Err(PythonError::NoInterpreter(python));
        }
        let dir = embedded_dir()?;
        let model = if mode.is_forking() { "forking" } else { "threaded" };
        let mut cmd = Command::new(&python);
        // -u: the readiness line must not sit in a pipe buffer. -B: no __pycache__ in
        // the cache directory, which must hold exactly our files.
        cmd.arg("-u").arg("-B").arg(dir.join("rpycbench_server.py"));
        cmd.args(["--mode", model, "--host", host, "--port", &port.to_string()]);
        cmd.args(["--service", self.service.as_deref().unwrap_or(DEFAULT_SERVICE)]);
        for p in &self.python_path {
            cmd.arg("--path").arg(p);
        }
        if let Some(max) = self.max_connections {
            cmd.args(["--max-connections", &max.to_string()]);
        }
        Ok(cmd)
    }
}

fn is_runnable(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "pass"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The private directory holding the embedded files, checked (and rewritten if need be).
fn embedded_dir() -> Result<PathBuf, PythonError> {
    cache::prepare(&[("rpycbench_service.py", SERVICE_PY), ("rpycbench_server.py", LAUNCHER_PY)])
}
