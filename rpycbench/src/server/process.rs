//! Starting and stopping server processes from Rust: each server is a separate process
//! in its own session, ready only once it has said `listening on HOST:PORT`.

use super::python::{PythonError, PythonServerSpec};
use super::{PayloadKind, ServerMode};
use crate::wire::Compression;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Set in the environment of native server processes, so a binary that hosts its own
/// servers (a benchmark harness) knows to serve instead of running its main job.
pub const SERVE_CHILD_ENV: &str = "RPYCBENCH_SERVE_CHILD";

static CURRENT_EXE_SERVES: AtomicBool = AtomicBool::new(false);

/// Declares that the running binary handles `serve` itself (the `rpycbench` command and
/// harness binaries call this), so native servers are started from it.
#[doc(hidden)]
pub fn current_exe_serves() {
    CURRENT_EXE_SERVES.store(true, Ordering::Relaxed);
}

/// Why a server could not be started or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Native servers run in an `rpycbench` process, and none was found.
    #[error("cannot find a binary to run a native server (not even this program's own path): set RPYCBENCH_BIN to an rpycbench binary")]
    BinaryNotFound,
    /// A process started to run a native server tried to start one itself: its `main`
    /// ran where the server should have (see [`SERVE_CHILD_ENV`]).
    #[error("this process was started to run a native server ({SERVE_CHILD_ENV} is set) but ran its main instead, which tried to start another: refusing, so it does not start itself without end")]
    NestedStart,
    /// The process could not be spawned.
    #[error("cannot start {}: {source}", program.display())]
    Spawn {
        /// What was run.
        program: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The Python server could not be prepared.
    #[error(transparent)]
    Python(#[from] PythonError),
    /// The server exited before it was ready.
    #[error("the {server} server exited before it was ready ({status}); its stderr:\n{stderr}")]
    Exited {
        /// The server that failed (its mode's name).
        server: &'static str,
        /// How it exited.
        status: String,
        /// What it printed.
        stderr: String,
    },
    /// The server did not say `listening on …` in time.
    #[error("the {server} server was not ready within {after:?}; its stderr:\n{stderr}")]
    StartTimeout {
        /// The server that failed (its mode's name).
        server: &'static str,
        /// The timeout.
        after: Duration,
        /// What it printed.
        stderr: String,
    },
    /// `Compression::Off` was asked of a Python server, which always compresses.
    #[error("the {server} server always compresses frames over 3000 bytes (rpyc's Channel does): --compression off applies to native servers only")]
    PythonCompresses {
        /// The server (its mode's name).
        server: &'static str,
    },
    /// The server could not be stopped (waiting for it failed).
    #[error("cannot stop the server: {0}")]
    Stop(std::io::Error),
    /// A server on a remote host could not be started.
    #[error(transparent)]
    Remote(Box<super::remote::RemoteError>),
    /// The readiness line did not name an address.
    #[error("the {server} server printed {line:?} instead of `listening on HOST:PORT`")]
    Readiness {
        /// The server (its mode's name).
        server: &'static str,
        /// The line it printed.
        line: String,
    },
}

/// What server to start, and how.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    /// The server model.
    pub mode: ServerMode,
    /// Address to bind (default `127.0.0.1`).
    pub host: String,
    /// Port to bind (default 0: an ephemeral port).
    pub port: u16,
    /// Connections served at once; `None` is unlimited.
    pub max_connections: Option<usize>,
    /// Interpreter, service and import path of Python-backed modes.
    pub python: PythonServerSpec,
    /// How the server compresses the frames it sends. `None`: as its mode does by
    /// itself, never for native modes, Python's rule for Python ones (rpyc always
    /// compresses); `Some(Compression::Off)` is refused for a Python mode.
    pub compression: Option<Compression>,
    /// What the built-in service's downloads are made of (default incompressible).
    pub payload: PayloadKind,
    /// The `rpycbench` binary for native modes (default: found automatically).
    pub binary: Option<PathBuf>,
    /// How long the server may take to become ready (default 20 s).
    pub startup_timeout: Duration,
}

impl ServerSpec {
    /// A server of `mode` on 127.0.0.1 and an ephemeral port.
    pub fn new(mode: ServerMode) -> Self {
        ServerSpec {
            mode,
            host: "127.0.0.1".into(),
            port: 0,
            max_connections: None,
            python: PythonServerSpec::default(),
            compression: None,
            payload: PayloadKind::default(),
            binary: None,
            startup_timeout: Duration::from_secs(20),
        }
    }

    /// Limits the connections served at once.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// Sets the Python interpreter, service and import path.
    pub fn python(mut self, python: PythonServerSpec) -> Self {
        self.python = python;
        self
    }

    /// Sets how the server compresses what it sends (see [`compression`](Self::compression)).
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = Some(c);
        self
    }

    /// Sets what the built-in service's downloads are made of.
    pub fn payload(mut self, kind: PayloadKind) -> Self {
        self.payload = kind;
        self
    }

    /// The compression the server will use: the one asked for, else its mode's own.
    pub fn effective_compression(&self) -> Compression {
        match (self.compression, self.mode.is_python()) {
            (Some(c), _) => c,
            (None, true) => Compression::Python,
            (None, false) => Compression::Off,
        }
    }

    /// The arguments of `serve` after `--host` and `--port` for a native mode.
    pub(crate) fn native_args(&self) -> Vec<String> {
        let mut args = vec!["--mode".to_owned(), self.mode.name().to_owned()];
        if let Some(max) = self.max_connections {
            args.extend(["--max-connections".to_owned(), max.to_string()]);
        }
        let compression = self.effective_compression();
        // Only when not the defaults, so a harness binary's older hook still parses.
        if compression != Compression::Off {
            args.extend(["--compression".to_owned(), compression.name().to_owned()]);
        }
        if self.payload != PayloadKind::default() {
            args.extend(["--payload".to_owned(), self.payload.name().to_owned()]);
        }
        args
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) -> Result<ServerHandle, ServerError> {
        let compression = self.effective_compression();
        if self.mode.is_python() && compression == Compression::Off {
            return Err(ServerError::PythonCompresses { server: self.mode.name() });
        }
        // A user's Python service makes its own bytes: the kind is the built-in service's.
        let payload = (!self.mode.is_python() || self.python.service.is_none()).then_some(self.payload);
        let served =
            Served { name: self.mode.name(), backend: self.mode.backend(), compression: Some(compression), payload };
        if !self.mode.is_python() {
            let args = self.native_args();
            return start_serving_child(
                served,
                &self.host,
                self.port,
                &args,
                self.binary.as_deref(),
                self.startup_timeout,
            );
        }
        let py =
            PythonServerSpec { max_connections: self.max_connections, payload: self.payload, ..self.python.clone() };
        let mut handle = start_child(py.command(self.mode, &self.host, self.port)?, served, self.startup_timeout)?;
        handle.python = Some(self.python.interpreter());
        Ok(handle)
    }
}

/// What a server process serves, as results record it: its mode's name and backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Served {
    /// The mode's name (`threaded`, `python-forking`, `http`, …).
    pub name: &'static str,
    /// What implements the protocol on the server side (`rust`, `python`, `hyper`, …).
    pub backend: &'static str,
    /// How the RPyC server compresses what it sends; `None` where that is not known or
    /// does not apply (the HTTP baseline).
    pub compression: Option<Compression>,
    /// What the built-in service's downloads are made of; `None` for a user's service
    /// or a server that is not RPyC.
    pub payload: Option<PayloadKind>,
}

/// Starts `serve --host H --port P ARGS…` in the binary that runs native servers (see
/// [`child`](super::child)), with [`SERVE_CHILD_ENV`] set, and waits until it is ready.
/// The HTTP baseline starts its server through this too, with its own arguments.
#[doc(hidden)]
pub fn start_serving_child(
    served: Served,
    host: &str,
    port: u16,
    args: &[String],
    binary: Option<&Path>,
    timeout: Duration,
) -> Result<ServerHandle, ServerError> {
    super::child::link_hook();
    // A process started to serve that reaches this point was not served by a hook (and
    // runs its `main`): starting its own server would start itself again, without end.
    if std::env::var_os(SERVE_CHILD_ENV).is_some() {
        return Err(ServerError::NestedStart);
    }
    let mut cmd = Command::new(resolve_binary(binary)?);
    cmd.args(["serve", "--host", host, "--port", &port.to_string()]).args(args);
    cmd.env(SERVE_CHILD_ENV, "1");
    start_child(cmd, served, timeout)
}

fn start_child(mut cmd: Command, served: Served, timeout: Duration) -> Result<ServerHandle, ServerError> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let program = PathBuf::from(cmd.get_program());
    let child = spawn_tied(cmd).map_err(|source| ServerError::Spawn { program, source })?;
    ServerHandle::wait_ready(child, served, timeout)
}

/// Starts `cmd` in a session of its own, killed when this process ends however it ends.
///
/// Its own session keeps the server out of the client's autogroup (LESSONS.md 5) and lets
/// us find and stop its whole process tree; but no terminal hang-up reaches it there, so
/// without more a SIGKILLed suite would leave it listening. `PR_SET_PDEATHSIG` ties it to
/// us: SIGKILL, because a server that was stopped (SIGSTOP) must die too, and a signal it
/// could handle would wait for a SIGCONT. Its children follow: a native forking server's
/// have a parent-death signal of their own, as do the Python launcher's.
///
/// The kernel sends that signal when the *thread* that forked exits, not the process:
/// a server started from a benchmark's worker thread would die with that thread. So
/// every server is forked by one thread that lives as long as the process.
pub(crate) fn spawn_tied(mut cmd: Command) -> std::io::Result<Child> {
    let parent = std::process::id();
    // SAFETY: setsid, prctl and getppid are async-signal-safe, the only calls made
    // between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid()?;
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // We died between fork and prctl: nobody would send the signal now.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                return Err(std::io::Error::other("the process starting the server has exited"));
            }
            Ok(())
        });
    }
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        // The thread never returns: it waits on a channel whose sender is in a static.
        let started = std::thread::Builder::new().name("rpycbench-spawner".into()).spawn(move || {
            for (mut cmd, reply) in rx {
                let _ = reply.send(cmd.spawn());
            }
        });
        started.ok().map(|_| tx)
    });
    let Some(spawner) = spawner else {
        return Err(std::io::Error::other("cannot start the thread that starts servers"));
    };
    let (reply, answer) = mpsc::channel();
    spawner.send((cmd, reply)).map_err(|_| std::io::Error::other("the thread that starts servers is gone"))?;
    answer.recv().map_err(|_| std::io::Error::other("the thread that starts servers is gone"))?
}

/// A running server process. Stopped on [`stop`](Self::stop) or drop.
pub struct ServerHandle {
    child: Child,
    addr: SocketAddr,
    served: Served,
    stderr: Arc<Mutex<String>>,
    stopped: bool,
    python: Option<PathBuf>,
}

/// Keeps the last part of the server's stderr for error reports.
const STDERR_KEEP: usize = 64 << 10;

impl ServerHandle {
    fn wait_ready(mut child: Child, served: Served, timeout: Duration) -> Result<ServerHandle, ServerError> {
        let (stderr, stderr_done) = keep_stderr(&mut child);
        let (tx, rx) = mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            std::thread::spawn(move || {
                // A user's service may print while importing: the readiness line is the
                // first that looks like one. Reading on keeps the pipe from filling up.
                let mut tx = Some(tx);
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if line.starts_with("listening on ") {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(line);
                        }
                    }
                }
            });
        }
        let mut handle =
            ServerHandle { child, addr: ([127, 0, 0, 1], 0).into(), served, stderr, stopped: false, python: None };
        let line = match rx.recv_timeout(timeout) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = handle.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                handle.stopped = true;
                // Let the stderr reader collect the last words: it ends at EOF, once
                // the server has exited. A fixed pause could miss them on a busy
                // machine; bounded because a grandchild could still hold the pipe.
                if let Some(done) = stderr_done {
                    let _ = done.recv_timeout(Duration::from_secs(2));
                }
                return Err(ServerError::Exited { server: served.name, status, stderr: handle.stderr() });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let stderr = handle.stderr();
                return Err(ServerError::StartTimeout { server: served.name, after: timeout, stderr });
            }
        };
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.trim().to_socket_addrs().ok())
            .and_then(|mut a| a.next())
            .ok_or_else(|| ServerError::Readiness { server: served.name, line: line.clone() })?;
        handle.addr = addr;
        Ok(handle)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it serves: its mode's name and backend, as results record them.
    pub fn served(&self) -> Served {
        self.served
    }

    /// The Python interpreter running it, for Python-backed modes.
    pub fn python(&self) -> Option<&Path> {
        self.python.as_deref()
    }

    /// The server process's id (its session's leader).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every process of the server: the server and, for forking modes, its children.
    pub fn pids(&self) -> Vec<u32> {
        session_members(self.child.id())
    }

    /// What the server has written to stderr (the last 64 KiB).
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 s) and everything it started.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> std::io::Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let leader = self.child.id();
        let _ = kill(Pid::from_raw(leader as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait()?.is_none() {
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                self.child.wait()?;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Anything left in the session (a child the server failed to reap) goes too.
        for pid in session_members(leader) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        Ok(())
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// Reads `child`'s stderr on a thread of its own, keeping its last part; the receiver
/// says when the reader has reached EOF (its sender is dropped then).
pub(crate) fn keep_stderr(child: &mut Child) -> (Arc<Mutex<String>>, Option<mpsc::Receiver<()>>) {
    let stderr = Arc::new(Mutex::new(String::new()));
    let done = child.stderr.take().map(|pipe| {
        let (done, stderr_done) = mpsc::channel::<()>();
        let keep = stderr.clone();
        std::thread::spawn(move || {
            drain_stderr(pipe, &keep);
            drop(done);
        });
        stderr_done
    });
    (stderr, done)
}

fn drain_stderr(mut pipe: impl Read, keep: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut buf) {
        if n == 0 {
            break;
        }
        if let Ok(mut s) = keep.lock() {
            s.push_str(&String::from_utf8_lossy(&buf[..n]));
            if s.len() > STDERR_KEEP {
                let cut = s.len() - STDERR_KEEP;
                let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(s.len());
                s.drain(..cut);
            }
        }
    }
}

/// The live processes of session `sid`, read from /proc.
pub(crate) fn session_members(sid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| proc_session(pid) == Some(sid))
        .collect()
}

/// Field 6 of /proc/PID/stat (after the parenthesised command name, which may itself
/// contain spaces and parentheses). Zombies are not members: they hold no resources.
fn proc_session(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(2)?.parse().ok()
}

/// Finds the binary that runs native servers: the one given, `$RPYCBENCH_BIN`, a binary
/// that serves them itself (the `rpycbench` command, a harness), the `rpycbench` binary
/// of this build or on the `PATH`, and else the current binary, which serves them before
/// its `main` (see [`child`](super::child)): a downstream crate needs nothing installed.
pub(crate) fn resolve_binary(explicit: Option<&Path>) -> Result<PathBuf, ServerError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("RPYCBENCH_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok();
    if CURRENT_EXE_SERVES.load(Ordering::Relaxed) {
        if let Some(exe) = exe {
            return Ok(exe);
        }
    }
    // Test binaries live in target/<profile>/deps; the rpycbench binary one level up.
    let beside = exe.iter().flat_map(|e| e.ancestors().skip(1).take(2)).map(|d| d.join("rpycbench"));
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("rpycbench")).collect::<Vec<_>>())
        .unwrap_or_default();
    beside.chain(on_path).find(|p| p.is_file()).or(exe).ok_or(ServerError::BinaryNotFound)
}
