//! Python-backed servers: a real `rpyc.ThreadedServer` or `rpyc.ForkingServer` running
//! the Python twin of the benchmark service, or a service the user names.
//!
//! The Python files are embedded in the binary and written once to a cache directory
//! named by their content hash, so an installed `rpycbench` needs no source tree.

use super::ServerMode;
use std::io::Write;
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
        // -u: the readiness line must not sit in a pipe buffer.
        cmd.arg("-u").arg(dir.join("rpycbench_server.py"));
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

/// Writes the embedded files (once per content version) and returns their directory.
fn embedded_dir() -> Result<PathBuf, PythonError> {
    let hash = crate::client::fnv1a(SERVICE_PY.bytes().chain(LAUNCHER_PY.bytes()));
    let dir = std::env::temp_dir().join(format!("rpycbench-python-{hash:016x}"));
    let cache_err = |path: &Path, source| PythonError::Cache { path: path.to_path_buf(), source };
    std::fs::create_dir_all(&dir).map_err(|e| cache_err(&dir, e))?;
    for (name, text) in [("rpycbench_service.py", SERVICE_PY), ("rpycbench_server.py", LAUNCHER_PY)] {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).is_ok_and(|t| t == text) {
            continue;
        }
        // Write-then-rename, so parallel starts never run a half-written file; a name of
        // its own per write, as threads of one process may write at once.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!("{name}.{}.{n}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| cache_err(&path, e))?;
    }
    Ok(dir)
}
