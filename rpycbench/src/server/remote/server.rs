//! A server running on the remote host: `rpycbench serve` started over the session,
//! ready when it says `listening on HOST:PORT`, reached through an SSH tunnel (the
//! default) or directly, and stopped with everything it started on drop.
//!
//! It dies with its session whatever happens to this side: it runs with
//! `--exit-with-stdin`, and sshd closes its stdin when the session ends (this process
//! exits or is killed, taking its ssh processes with it by their parent-death signal;
//! or the network drops and keep-alives notice).

use super::deploy::{deploy, Deployment};
use super::probe::RemoteProbe;
use super::{shell_quote, RemoteError, RemoteSession};
use crate::server::process::{keep_stderr, resolve_binary, spawn_tied};
use crate::server::{Served, ServerError, ServerSpec, SERVE_CHILD_ENV};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How the benchmark reaches a remote server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Through an SSH port forward from 127.0.0.1 here to 127.0.0.1 there: nothing is
    /// opened on the remote's network, but every byte crosses ssh (added latency).
    Tunnel,
    /// Straight to the address the server binds there (`RemoteSpec::bind`).
    Direct,
}

impl Via {
    /// `tunnel` or `direct`, as results record it.
    pub fn name(self) -> &'static str {
        match self {
            Via::Tunnel => "tunnel",
            Via::Direct => "direct",
        }
    }
}

/// A server running on a remote host. Stopped on [`stop`](Self::stop) or drop.
pub struct RemoteServer {
    session: Arc<RemoteSession>,
    /// The ssh process running `serve` there; its stdin is the server's.
    child: Child,
    stdin: Option<ChildStdin>,
    remote_pid: u32,
    remote_addr: SocketAddr,
    addr: SocketAddr,
    via: Via,
    forward: Option<(String, String)>,
    deployment: Deployment,
    served: Served,
    /// What the process prints after its readiness line (the companion's answers).
    lines: Mutex<mpsc::Receiver<String>>,
    stderr: Arc<Mutex<String>>,
    /// The server's companion, or why it could not start.
    probe: Result<Arc<RemoteProbe>, String>,
    stopped: bool,
}

/// What to run there: `serve ARGS…` in the deployed binary, with readiness as for
/// any server (see [`RemoteServer::launch`]).
pub(crate) struct Launch {
    /// The mode's name, for errors.
    pub name: &'static str,
    /// What it serves, as results record it.
    pub served: Served,
    /// The arguments of `serve` after `--host` and `--port`.
    pub args: Vec<String>,
    /// Watch stdin and exit at its EOF (`--exit-with-stdin`): every server; not the
    /// companion, whose stdin carries its requests (and whose EOF ends it too).
    pub exit_with_stdin: bool,
    /// How long it may take to become ready.
    pub timeout: Duration,
    /// The binary already deployed for this session (a server's, for its companion):
    /// not checked and copied again.
    pub deployed: Option<Deployment>,
}

impl RemoteServer {
    /// Starts `spec`'s server on the session's host and waits until it is ready (and,
    /// through a tunnel, reachable from here); then its companion, which samples its
    /// processes and echoes the network's round trips (see [`RemoteProbe`]).
    pub fn start(session: Arc<RemoteSession>, spec: &ServerSpec) -> Result<RemoteServer, RemoteError> {
        RemoteServer::start_with(session, spec, &[])
    }

    /// [`start`](Self::start), with more arguments for `serve` (a harness's
    /// `--rust-service NAME`).
    pub(crate) fn start_with(
        session: Arc<RemoteSession>,
        spec: &ServerSpec,
        extra: &[String],
    ) -> Result<RemoteServer, RemoteError> {
        let compression = Some(spec.effective_compression());
        let payload = (!spec.mode.is_python() || spec.python.service.is_none()).then_some(spec.payload);
        let served = Served { name: spec.mode.name(), backend: spec.mode.backend(), compression, payload };
        let launch = Launch {
            name: spec.mode.name(),
            served,
            args: serve_args(spec).into_iter().chain(extra.iter().cloned()).collect(),
            exit_with_stdin: true,
            timeout: spec.startup_timeout,
            deployed: None,
        };
        let mut server = RemoteServer::launch(session, spec.binary.as_deref(), spec.port, launch)?;
        server.start_probe(spec.binary.as_deref());
        Ok(server)
    }

    /// Starts `serve --host BIND --port PORT ARGS…` there (see [`Launch`]).
    pub(crate) fn launch(
        session: Arc<RemoteSession>,
        binary: Option<&std::path::Path>,
        port: u16,
        launch: Launch,
    ) -> Result<RemoteServer, RemoteError> {
        let binary = resolve_binary(binary).map_err(|e| RemoteError::Local {
            what: "cannot find the binary to copy".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let deployment = match launch.deployed {
            Some(d) => d,
            None => deploy(&session, &binary)?,
        };
        let via = if session.spec().bind.is_some() { Via::Direct } else { Via::Tunnel };
        let bind = session.spec().bind.clone().unwrap_or_else(|| "127.0.0.1".into());
        let mut args = vec!["serve".to_owned()];
        if launch.exit_with_stdin {
            args.push("--exit-with-stdin".into());
        }
        args.extend(["--host".into(), bind.clone(), "--port".into(), port.to_string()]);
        args.extend(launch.args);
        let args: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        // `$$` is the remote shell's pid, which `exec` hands to the server: sshd made
        // it a session (and process group) leader, so the group is the whole server.
        // The variable has the binary's hook serve before its `main` (every mode and the
        // companion), so a binary that is not the `rpycbench` command (a harness, copied
        // as the binary that runs servers there) serves them alike; a Python mode's hook
        // execs the interpreter, keeping the pid.
        let line = format!("echo pid $$; exec env {SERVE_CHILD_ENV}=1 {} {}", deployment.path, args.join(" "));
        let mut cmd = session.command(&line);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child =
            spawn_tied(cmd).map_err(|source| RemoteError::Local { what: "cannot start ssh".into(), source })?;
        let (stderr, stderr_done) = keep_stderr(&mut child);
        let (tx, rx) = mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            std::thread::spawn(move || {
                // Reading on keeps the pipe from filling up; the lines after readiness
                // are the companion's answers.
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let destination = session.spec().destination.clone();
        let mut server = RemoteServer {
            session,
            stdin: child.stdin.take(),
            child,
            lines: Mutex::new(rx),
            remote_pid: 0,
            remote_addr: ([127, 0, 0, 1], 0).into(),
            addr: ([127, 0, 0, 1], 0).into(),
            via,
            forward: None,
            deployment,
            served: launch.served,
            stderr,
            probe: Err("not started".into()),
            stopped: false,
        };
        let deadline = Instant::now() + launch.timeout;
        let name = launch.name;
        let line = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = server
                .lines
                .lock()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected)
                .and_then(|rx| rx.recv_timeout(left));
            match next {
                Ok(line) if line.starts_with("listening on ") => break line,
                Ok(line) => {
                    if let Some(pid) = line.strip_prefix("pid ").and_then(|p| p.trim().parse().ok()) {
                        server.remote_pid = pid;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = server.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                    if let Some(done) = stderr_done {
                        let _ = done.recv_timeout(Duration::from_secs(2));
                    }
                    server.stopped = true;
                    return Err(RemoteError::Exited { server: name, destination, status, stderr: server.stderr() });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let (after, stderr) = (launch.timeout, server.stderr());
                    return Err(RemoteError::NotReady { server: name, destination, after, stderr });
                }
            }
        };
        server.remote_addr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.trim().parse().ok())
            .ok_or_else(|| RemoteError::Readiness { destination: destination.clone(), line: line.clone() })?;
        server.addr = match via {
            Via::Tunnel => server.tunnel()?,
            Via::Direct => server.direct_addr()?,
        };
        Ok(server)
    }

    /// Starts the companion of this server (see [`RemoteProbe`]); a failure is kept,
    /// not returned: the benchmark runs without remote figures, and says why.
    pub(crate) fn start_probe(&mut self, binary: Option<&std::path::Path>) {
        // The same binary as the server's: deployed (and checked) once.
        let deployed = Some(self.deployment.clone());
        self.probe = RemoteProbe::start(self.session.clone(), binary, self.remote_pid, deployed)
            .map(Arc::new)
            .map_err(|e| e.to_string());
    }

    /// Forwards a free local port to the server (on the remote's loopback).
    fn tunnel(&mut self) -> Result<SocketAddr, RemoteError> {
        let target = format!("127.0.0.1:{}", self.remote_addr.port());
        let mut last = None;
        // The port is free when we look, but something else may take it before ssh
        // binds it: a few tries.
        for _ in 0..3 {
            let local = free_local_port()?;
            let spec = format!("127.0.0.1:{}", local.port());
            match self.session.forward(&spec, &target) {
                Ok(()) => {
                    self.forward = Some((spec, target));
                    return Ok(local);
                }
                Err(e) => last = Some(e),
            }
        }
        // At least one try ran, so `last` is set; the fallback only satisfies the types.
        Err(last.unwrap_or(RemoteError::Forward {
            destination: self.session.spec().destination.clone(),
            target,
            stderr: String::new(),
        }))
    }

    /// The address to reach a server bound directly: the bind address, or the host ssh
    /// connects to when it bound every interface.
    fn direct_addr(&self) -> Result<SocketAddr, RemoteError> {
        let port = self.remote_addr.port();
        let host = if self.remote_addr.ip().is_unspecified() {
            self.session.hostname()?
        } else {
            self.remote_addr.ip().to_string()
        };
        let resolve_err = |source| RemoteError::Local { what: format!("cannot resolve {host}"), source };
        (host.as_str(), port)
            .to_socket_addrs()
            .map_err(resolve_err)?
            .next()
            .ok_or_else(|| resolve_err(std::io::Error::other("no address")))
    }

    /// The address to connect to from here (the tunnel's local end, or the server's).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the server listens on, as the remote sees it.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// The server's process id on the remote (its process group's too).
    pub fn remote_pid(&self) -> u32 {
        self.remote_pid
    }

    /// Through a tunnel or directly.
    pub fn via(&self) -> Via {
        self.via
    }

    /// Which binary runs there, and whether it was copied.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// What it serves, as results record it.
    pub fn served(&self) -> Served {
        self.served
    }

    /// The session it runs in.
    pub fn session(&self) -> &Arc<RemoteSession> {
        &self.session
    }

    /// The host it runs on, as given (`user@host`, a `~/.ssh/config` name).
    pub fn destination(&self) -> &str {
        &self.session.spec().destination
    }

    /// Its companion, which samples its processes there and echoes round trips over
    /// the same path; `Err` says why there is none (an older `rpycbench` on the
    /// remote's PATH, say), and the benchmark then runs without remote figures.
    pub fn probe(&self) -> Result<&Arc<RemoteProbe>, &str> {
        self.probe.as_ref().map_err(String::as_str)
    }

    /// Sends `line` to the process's stdin and waits up to `timeout` for the first
    /// line of its answer, then for more until `end` says the answer is complete (a
    /// companion's request); `None` when it did not answer in time or has gone.
    pub(crate) fn ask(&mut self, line: &str, timeout: Duration, end: impl Fn(&str) -> bool) -> Option<Vec<String>> {
        let stdin = self.stdin.as_mut()?;
        if stdin.write_all(line.as_bytes()).and_then(|()| stdin.write_all(b"\n")).and_then(|()| stdin.flush()).is_err()
        {
            return None;
        }
        let rx = self.lines.lock().ok()?;
        let deadline = Instant::now() + timeout;
        let mut answer = Vec::new();
        loop {
            let got = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()?;
            let last = end(&got);
            answer.push(got);
            if last {
                return Some(answer);
            }
        }
    }

    /// Whether the server has ended (its ssh process has exited) by itself.
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// What the server (and ssh) wrote to stderr, the last 64 KiB.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stops the server (SIGTERM to its process group there, SIGKILL after 5 s),
    /// cancels the tunnel and ends its ssh process.
    pub fn stop(mut self) -> Result<(), RemoteError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), RemoteError> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        // The companion goes first: it watches the server's processes.
        if let Ok(probe) = std::mem::replace(&mut self.probe, Err("stopped".into())) {
            probe.close();
        }
        if let Some((local, target)) = self.forward.take() {
            self.session.cancel_forward(&local, &target);
        }
        let mut result = Ok(());
        // A session that has ended took the server with it (sshd closed its stdin):
        // there is nothing to stop there, and no way to.
        if self.remote_pid > 1 && self.session.is_open() {
            let g = self.remote_pid;
            // Only while the group still exists, so a vanished server is not an error.
            let stop = format!(
                "kill -TERM -- -{g} 2>/dev/null || exit 0; i=0; while kill -0 -- -{g} 2>/dev/null; do \
                 i=$((i+1)); if [ $i -ge 50 ]; then kill -KILL -- -{g}; exit 0; fi; sleep 0.1; done"
            );
            result = self.session.run(&stop, None, Duration::from_secs(20)).map(drop);
        }
        // Its stdin closed, the server would exit by itself; by now it has.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        result
    }
}

impl Drop for RemoteServer {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// The arguments of `serve` after the address: the native ones, or a Python mode's
/// (its interpreter and service as named, for the remote to resolve).
fn serve_args(spec: &ServerSpec) -> Vec<String> {
    if !spec.mode.is_python() {
        return spec.native_args();
    }
    let mut args = vec!["--mode".to_owned(), spec.mode.name().to_owned()];
    if let Some(python) = &spec.python.python {
        args.extend(["--python".into(), python.display().to_string()]);
    }
    if let Some(service) = &spec.python.service {
        args.extend(["--service".into(), service.clone()]);
    }
    for dir in &spec.python.python_path {
        args.extend(["--python-path".into(), dir.display().to_string()]);
    }
    if let Some(max) = spec.max_connections {
        args.extend(["--max-connections".into(), max.to_string()]);
    }
    if spec.payload != crate::server::PayloadKind::default() {
        args.extend(["--payload".into(), spec.payload.name().into()]);
    }
    args
}

fn free_local_port() -> Result<SocketAddr, RemoteError> {
    let io = |source| RemoteError::Local { what: "cannot find a free local port for the tunnel".into(), source };
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(io)
}

impl From<RemoteError> for ServerError {
    fn from(e: RemoteError) -> Self {
        ServerError::Remote(Box::new(e))
    }
}
