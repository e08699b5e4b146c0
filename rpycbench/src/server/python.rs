//! Python-backed servers: a real `rpyc.ThreadedServer` or `rpyc.ForkingServer` running
//! the Python twin of the benchmark service, or a service the user names.
//!
//! The Python files are embedded in the binary and written to a private cache
//! directory named by their content hash (see [`cache`]), so an installed `rpycbench`
//! needs no source tree.

mod cache;

use super::{PayloadKind, ServerMode};
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
    /// What the built-in service's downloads are made of (the launcher's `--payload`).
    pub payload: PayloadKind,
}

/// Why a Python server could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    /// The interpreter does not exist or cannot run.
    #[error("Python interpreter '{}' not found: install Python 3 and rpyc (`python3 -m venv .venv && .venv/bin/pip install rpyc==6.0.2`, or `./scripts/test` once, which makes that .venv), or name one with RPYCBENCH_PYTHON or the command's interpreter option (the suite's --python-interpreter, serve's and sweep's --python)", .0.display())]
    NoInterpreter(PathBuf),
    /// The interpreter runs but cannot import rpyc.
    #[error("the Python interpreter '{}' has no rpyc module{}: install it with `{} -m pip install rpyc==6.0.2` (or make a .venv here, which rpycbench finds: `python3 -m venv .venv && .venv/bin/pip install rpyc==6.0.2`), or name another interpreter with RPYCBENCH_PYTHON or the command's interpreter option (the suite's --python-interpreter, serve's and sweep's --python)", python.display(), why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default(), python.display())]
    NoRpyc {
        /// The interpreter.
        python: PathBuf,
        /// What Python said, when it said something other than the missing module.
        why: Option<String>,
    },
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
        if let Some(given) = &self.python {
            return given.clone();
        }
        // Found once per process: the search may run each candidate, and neither the
        // environment nor the working directory's virtual environments change meanwhile.
        static FOUND: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
        FOUND
            .get_or_init(|| {
                let cwd = std::env::current_dir().ok();
                find_interpreter(
                    None,
                    &|name| std::env::var_os(name).filter(|v| !v.is_empty()),
                    cwd.as_deref(),
                    &|p| p.is_file(),
                    &|p| rpyc_version(p).is_ok(),
                )
            })
            .clone()
    }

    /// Checks, before anything starts, that the interpreter runs and imports rpyc, and
    /// returns rpyc's version: a run that needs a Python server then fails at once,
    /// naming the command that fixes it, rather than after the native servers ran.
    pub fn check(&self) -> Result<String, PythonError> {
        rpyc_version(&self.interpreter())
    }

    /// The command that starts the server; it prints `listening on HOST:PORT` once it
    /// accepts and exits cleanly on SIGTERM. The launcher itself reports a missing
    /// `rpyc`, a port in use and an unimportable service, with distinct exit codes.
    pub fn command(&self, mode: ServerMode, host: &str, port: u16) -> Result<Command, PythonError> {
        let python = self.interpreter();
        // The one probe of the interpreter (with its deadline): one that does not run is
        // refused here; one without rpyc is left to the launcher, which says what to
        // install as the server's own exit.
        if let Err(e @ PythonError::NoInterpreter(_)) = rpyc_version(&python) {
            return Err(e);
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
        if self.payload != PayloadKind::default() {
            cmd.args(["--payload", self.payload.name()]);
        }
        Ok(cmd)
    }
}

/// [`PythonServerSpec::interpreter`]'s search, from its inputs: the environment, whether
/// a file exists and whether an interpreter imports rpyc are passed in, so the order is
/// tested without touching any of them.
///
/// The given interpreter and `$RPYCBENCH_PYTHON` are taken as they are (an error about
/// them then names them). Otherwise the candidates are the active virtual environment's,
/// the `.venv`s from the working directory up to the project's root, and `python3`: the
/// first that has rpyc, else the first that exists, whose error then says what to install.
fn find_interpreter(
    given: Option<&Path>,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    cwd: Option<&Path>,
    exists: &dyn Fn(&Path) -> bool,
    has_rpyc: &dyn Fn(&Path) -> bool,
) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    if let Some(p) = env("RPYCBENCH_PYTHON") {
        return PathBuf::from(p);
    }
    let venv_python = |dir: &Path| dir.join("bin").join("python");
    let mut candidates: Vec<PathBuf> = env("VIRTUAL_ENV").map(|d| venv_python(Path::new(&d))).into_iter().collect();
    // The working directory, then its parents up to the project's root (a directory
    // with `.git` or `Cargo.lock`): a `.venv` outside the project, such as one in the
    // home directory, is someone else's and may not have rpyc.
    let is_root = |d: &Path| exists(&d.join(".git")) || exists(&d.join("Cargo.lock"));
    let ancestors: Vec<&Path> = cwd.into_iter().flat_map(Path::ancestors).collect();
    let dirs = match ancestors.iter().position(|d| is_root(d)) {
        Some(root) => &ancestors[..=root],
        None => &ancestors[..ancestors.len().min(1)],
    };
    candidates.extend(dirs.iter().map(|d| venv_python(&d.join(".venv"))));
    candidates.retain(|p| exists(p));
    let python3 = PathBuf::from("python3");
    candidates
        .iter()
        .find(|p| has_rpyc(p))
        .or_else(|| has_rpyc(&python3).then_some(&python3))
        .or(candidates.first())
        .cloned()
        .unwrap_or(python3)
}

/// rpyc's version as `python` imports it, or why it cannot: within 30 s, since an
/// interpreter that hangs on start-up must not hang the run.
fn rpyc_version(python: &Path) -> Result<String, PythonError> {
    use std::process::Stdio;
    let child = Command::new(python)
        .args(["-c", "import rpyc; print(rpyc.__version__)"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else { return Err(PythonError::NoInterpreter(python.to_path_buf())) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let why = Some("it did not answer within 30 s".to_owned());
                return Err(PythonError::NoRpyc { python: python.to_path_buf(), why });
            }
        }
    }
    let out = child.wait_with_output().map_err(|_| PythonError::NoInterpreter(python.to_path_buf()))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    // The usual case says itself in the message; anything else is shown as Python said it.
    let why = (!last.contains("No module named 'rpyc'") && !last.is_empty()).then(|| last.chars().take(200).collect());
    Err(PythonError::NoRpyc { python: python.to_path_buf(), why })
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
        let all = |_: &Path| true;
        let none = |_: &str| None;
        let nothing = |_: &Path| false;
        let cwd = Path::new("/work/project/sub");
        assert_eq!(
            find_interpreter(Some(Path::new("/x/py")), &none, Some(cwd), &nothing, &all),
            PathBuf::from("/x/py")
        );
        let env = |n: &str| (n == "RPYCBENCH_PYTHON").then(|| OsString::from("/env/py"));
        assert_eq!(find_interpreter(None, &env, Some(cwd), &nothing, &all), PathBuf::from("/env/py"));
        // A .venv in the working directory or above it, as `scripts/test` makes one at
        // the repository's root and the suite may run from a subdirectory.
        let root_venv =
            |p: &Path| p == Path::new("/work/project/.venv/bin/python") || p == Path::new("/work/project/.git");
        assert_eq!(
            find_interpreter(None, &none, Some(cwd), &root_venv, &all),
            PathBuf::from("/work/project/.venv/bin/python")
        );
        // Not past the project's root, and only the working directory outside a project.
        let home_venv = |p: &Path| p == Path::new("/work/.venv/bin/python") || p == Path::new("/work/project/.git");
        assert_eq!(find_interpreter(None, &none, Some(cwd), &home_venv, &all), PathBuf::from("python3"));
        let no_project = |p: &Path| p == Path::new("/work/project/.venv/bin/python");
        assert_eq!(find_interpreter(None, &none, Some(cwd), &no_project, &all), PathBuf::from("python3"));
        let here = |p: &Path| p == Path::new("/work/project/sub/.venv/bin/python");
        assert_eq!(
            find_interpreter(None, &none, Some(cwd), &here, &all),
            PathBuf::from("/work/project/sub/.venv/bin/python")
        );
        // An activated virtual environment comes first.
        let active = |n: &str| (n == "VIRTUAL_ENV").then(|| OsString::from("/venvs/a"));
        let both = |p: &Path| root_venv(p) || p == Path::new("/venvs/a/bin/python");
        assert_eq!(find_interpreter(None, &active, Some(cwd), &both, &all), PathBuf::from("/venvs/a/bin/python"));
        assert_eq!(find_interpreter(None, &none, Some(cwd), &nothing, &all), PathBuf::from("python3"));
    }

    #[test]
    fn a_candidate_without_rpyc_gives_way_to_one_with_it() {
        let cwd = Path::new("/work/project");
        let active = |n: &str| (n == "VIRTUAL_ENV").then(|| OsString::from("/venvs/a"));
        let exist = |p: &Path| {
            [
                Path::new("/venvs/a/bin/python"),
                Path::new("/work/project/.venv/bin/python"),
                Path::new("/work/project/.git"),
            ]
            .contains(&p)
        };
        // The active environment lacks rpyc; the project's .venv has it.
        let in_project = |p: &Path| p == Path::new("/work/project/.venv/bin/python");
        assert_eq!(
            find_interpreter(None, &active, Some(cwd), &exist, &in_project),
            PathBuf::from("/work/project/.venv/bin/python")
        );
        // Only the system's python3 has it.
        let system = |p: &Path| p == Path::new("python3");
        assert_eq!(find_interpreter(None, &active, Some(cwd), &exist, &system), PathBuf::from("python3"));
        // None has it: the first candidate, whose error says what to install where.
        let nowhere = |_: &Path| false;
        assert_eq!(find_interpreter(None, &active, Some(cwd), &exist, &nowhere), PathBuf::from("/venvs/a/bin/python"));
        // An interpreter named outright is taken as it is, rpyc or not.
        let env = |n: &str| (n == "RPYCBENCH_PYTHON").then(|| OsString::from("/env/py"));
        assert_eq!(find_interpreter(None, &env, Some(cwd), &exist, &nowhere), PathBuf::from("/env/py"));
    }

    #[test]
    fn a_python_without_rpyc_is_named_with_the_command_that_fixes_it() {
        // A real interpreter with an empty path: `import rpyc` fails in it for sure.
        let dir = std::env::temp_dir().join(format!("rpycbench-no-rpyc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // The test command makes its own .venv the same way, so venv is there.
        let made = std::process::Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(&dir).status();
        assert!(made.is_ok_and(|s| s.success()), "python3 -m venv failed");
        let python = dir.join("bin/python");
        let e = super::rpyc_version(&python).expect_err("a fresh venv has no rpyc");
        let text = e.to_string();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(text.contains("has no rpyc module") && text.contains("-m pip install rpyc==6.0.2"), "{text}");
        assert!(text.contains(&python.display().to_string()), "{text}");
        let missing = super::rpyc_version(Path::new("/nonexistent/python3")).expect_err("no such file");
        assert!(matches!(missing, super::PythonError::NoInterpreter(_)), "{missing}");
    }
}
