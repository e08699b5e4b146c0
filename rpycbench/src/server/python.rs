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
    /// The interpreter (default: as [`interpreter`](Self::interpreter) finds one).
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
    #[error("Python interpreter '{}' not found: install Python 3 and rpyc (`python3 -m venv .venv && .venv/bin/pip install rpyc==6.0.2`, or `./scripts/test` once, which makes that .venv), or name one with --python / RPYCBENCH_PYTHON", .0.display())]
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
    ///
    /// In order: the one given (`--python`), `$RPYCBENCH_PYTHON`, the active virtual
    /// environment's (`$VIRTUAL_ENV`), a `.venv` in the working directory or one above
    /// it up to the project's root (a directory with `.git` or `Cargo.lock`; where
    /// `scripts/test` and `python3 -m venv .venv` put rpyc), and else `python3` on the
    /// `PATH`.
    pub fn interpreter(&self) -> PathBuf {
        let cwd = std::env::current_dir().ok();
        find_interpreter(
            self.python.as_deref(),
            &|name| std::env::var_os(name).filter(|v| !v.is_empty()),
            cwd.as_deref(),
            &|p| p.is_file(),
        )
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

/// [`PythonServerSpec::interpreter`]'s search, from its inputs: the environment and
/// whether a file exists are passed in, so the order is tested without touching either.
fn find_interpreter(
    given: Option<&Path>,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    cwd: Option<&Path>,
    exists: &dyn Fn(&Path) -> bool,
) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    if let Some(p) = env("RPYCBENCH_PYTHON") {
        return PathBuf::from(p);
    }
    let venv_python = |dir: &Path| dir.join("bin").join("python");
    if let Some(venv) = env("VIRTUAL_ENV").map(PathBuf::from).map(|d| venv_python(&d)).filter(|p| exists(p)) {
        return venv;
    }
    // The working directory, then its parents up to the project's root (a directory
    // with `.git` or `Cargo.lock`): a `.venv` outside the project, such as one in the
    // home directory, is someone else's and may not have rpyc.
    let is_root = |d: &Path| exists(&d.join(".git")) || exists(&d.join("Cargo.lock"));
    let ancestors: Vec<&Path> = cwd.into_iter().flat_map(Path::ancestors).collect();
    let dirs = match ancestors.iter().position(|d| is_root(d)) {
        Some(root) => &ancestors[..=root],
        None => &ancestors[..ancestors.len().min(1)],
    };
    let local = dirs.iter().map(|d| venv_python(&d.join(".venv"))).find(|p| exists(p));
    local.unwrap_or_else(|| PathBuf::from("python3"))
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

#[cfg(test)]
mod tests {
    use super::find_interpreter;
    use std::ffi::OsString;
    use std::path::{Path, PathBuf};

    #[test]
    fn the_interpreter_is_the_given_then_the_environments_then_a_venv_then_python3() {
        let none = |_: &str| None;
        let nothing = |_: &Path| false;
        let cwd = Path::new("/work/project/sub");
        assert_eq!(find_interpreter(Some(Path::new("/x/py")), &none, Some(cwd), &nothing), PathBuf::from("/x/py"));
        let env = |n: &str| (n == "RPYCBENCH_PYTHON").then(|| OsString::from("/env/py"));
        assert_eq!(find_interpreter(None, &env, Some(cwd), &nothing), PathBuf::from("/env/py"));
        // A .venv in the working directory or above it, as `scripts/test` makes one at
        // the repository's root and the suite may run from a subdirectory.
        let root_venv =
            |p: &Path| p == Path::new("/work/project/.venv/bin/python") || p == Path::new("/work/project/.git");
        assert_eq!(
            find_interpreter(None, &none, Some(cwd), &root_venv),
            PathBuf::from("/work/project/.venv/bin/python")
        );
        // Not past the project's root, and only the working directory outside a project.
        let home_venv = |p: &Path| p == Path::new("/work/.venv/bin/python") || p == Path::new("/work/project/.git");
        assert_eq!(find_interpreter(None, &none, Some(cwd), &home_venv), PathBuf::from("python3"));
        let no_project = |p: &Path| p == Path::new("/work/project/.venv/bin/python");
        assert_eq!(find_interpreter(None, &none, Some(cwd), &no_project), PathBuf::from("python3"));
        let here = |p: &Path| p == Path::new("/work/project/sub/.venv/bin/python");
        assert_eq!(
            find_interpreter(None, &none, Some(cwd), &here),
            PathBuf::from("/work/project/sub/.venv/bin/python")
        );
        // An activated virtual environment comes first.
        let active = |n: &str| (n == "VIRTUAL_ENV").then(|| OsString::from("/venvs/a"));
        let both = |p: &Path| root_venv(p) || p == Path::new("/venvs/a/bin/python");
        assert_eq!(find_interpreter(None, &active, Some(cwd), &both), PathBuf::from("/venvs/a/bin/python"));
        assert_eq!(find_interpreter(None, &none, Some(cwd), &nothing), PathBuf::from("python3"));
    }
}
