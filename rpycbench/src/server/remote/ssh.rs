//! The SSH session: one master connection (`ControlMaster`) that every command of the
//! session goes through, so a run authenticates once and its server, copies and port
//! forwards share one TCP connection.

use super::RemoteError;
use crate::server::process::spawn_tied;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where and how to reach the remote host. Everything else (user, host name, jump
/// hosts, keys) comes from the user's ssh configuration, as for any `ssh` command.
#[derive(Clone, Debug)]
pub struct RemoteSpec {
    /// `user@host`, `host`, or a `Host` name from `~/.ssh/config`.
    pub destination: String,
    /// The ssh port (`-p`); `None`: as the ssh configuration says.
    pub port: Option<u16>,
    /// A private key (`-i`); `None`: the agent's and the configuration's.
    pub identity: Option<PathBuf>,
    /// More `ssh` options, passed before the destination (e.g. `-o`, `KEY=VALUE`).
    pub ssh_args: Vec<String>,
    /// Address the remote server binds. `None`: 127.0.0.1 there, reached through an
    /// SSH tunnel; `Some`: that address, reached directly (nothing is opened wider
    /// than asked).
    pub bind: Option<String>,
    /// Use an `rpycbench` on the remote's PATH when this binary cannot run there.
    pub use_path: bool,
    /// The `ssh` program (default: `ssh` on the PATH).
    pub ssh_program: PathBuf,
    /// How long connecting may take (ssh's `ConnectTimeout`, default 10 s).
    pub connect_timeout: Duration,
}

impl RemoteSpec {
    /// Reaches `destination` with the user's ssh configuration, through a tunnel.
    pub fn new(destination: impl Into<String>) -> Self {
        RemoteSpec {
            destination: destination.into(),
            port: None,
            identity: None,
            ssh_args: Vec::new(),
            bind: None,
            use_path: false,
            ssh_program: PathBuf::from("ssh"),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// Opens the session (the master connection).
    pub fn connect(&self) -> Result<Arc<RemoteSession>, RemoteError> {
        RemoteSession::open(self).map(Arc::new)
    }
}

/// An open SSH master connection. Closed, and its socket directory removed, on drop.
#[derive(Debug)]
pub struct RemoteSession {
    spec: RemoteSpec,
    dir: PathBuf,
    control: PathBuf,
    master: Mutex<Child>,
}

/// Removes the socket directories (`rpycbench-ssh-PID-N`) of processes that no longer
/// run: a session's drop removes its own, but a process killed with SIGKILL cannot.
/// A directory whose pid has been reused by another process stays (harmless, and
/// removed once that process is gone too).
fn remove_stale_dirs(tmp: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("rpycbench-ssh-")) else { continue };
        let Some(pid) = rest.split_once('-').and_then(|(pid, _)| pid.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The output of a command run over the session.
pub(crate) struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl RemoteSession {
    fn open(spec: &RemoteSpec) -> Result<RemoteSession, RemoteError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        if NEXT.load(Ordering::Relaxed) == 0 {
            remove_stale_dirs(&std::env::temp_dir());
        }
        // Short: a Unix socket path has a limit of about 100 bytes.
        let dir = std::env::temp_dir().join(format!(
            "rpycbench-ssh-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|source| RemoteError::Local { what: format!("cannot create {}", dir.display()), source })?;
        let control = dir.join("cm");
        let mut cmd = Command::new(&spec.ssh_program);
        cmd.args(common_args(spec))
            .args(["-o", "ControlMaster=yes", "-o", "ControlPersist=no", "-N"])
            .arg("-o")
            .arg(control_path(&control))
            .arg("--")
            .arg(&spec.destination);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let master = spawn_tied(cmd).map_err(|source| {
            let _ = std::fs::remove_dir_all(&dir);
            match source.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    RemoteError::SshMissing { program: spec.ssh_program.clone(), source }
                }
                _ => RemoteError::Local { what: "cannot start ssh".into(), source },
            }
        })?;
        let session = RemoteSession { spec: spec.clone(), dir, control, master: Mutex::new(master) };
        session.wait_master()?;
        Ok(session)
    }

    /// Waits until the master accepts commands (`ssh -O check`), or fails with what it
    /// said when it exits first (an authentication failure, an unknown host).
    fn wait_master(&self) -> Result<(), RemoteError> {
        let (stderr, stderr_done) = match self.master.lock() {
            Ok(mut master) => crate::server::process::keep_stderr(&mut master),
            Err(_) => (Arc::default(), None),
        };
        let said = || stderr.lock().map(|s| s.trim().to_owned()).unwrap_or_default();
        let deadline = Instant::now() + self.spec.connect_timeout + Duration::from_secs(5);
        loop {
            let exited = self.master.lock().ok().and_then(|mut m| m.try_wait().ok().flatten());
            if let Some(status) = exited {
                // Let the reader collect ssh's last words: it ends at the pipe's EOF.
                if let Some(done) = &stderr_done {
                    let _ = done.recv_timeout(Duration::from_secs(5));
                }
                let mut stderr = said();
                if stderr.is_empty() {
                    // A signal, or a peer that closed before saying anything: the status
                    // is all there is to go on.
                    stderr = format!("(nothing; ssh {status})");
                }
                let destination = self.spec.destination.clone();
                return Err(if stderr.contains("Permission denied") {
                    RemoteError::AuthFailed { destination, stderr }
                } else {
                    RemoteError::Connect { destination, stderr }
                });
            }
            if self.control_check() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let stderr = format!("{}\n(no connection within {:?})", said(), self.spec.connect_timeout);
                return Err(RemoteError::Connect { destination: self.spec.destination.clone(), stderr });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn control_check(&self) -> bool {
        self.control_command("check", &[]).map(|o| o.status.success()).unwrap_or(false)
    }

    /// `ssh -O <op> [args]` on the master's socket.
    fn control_command(&self, op: &str, args: &[String]) -> Result<Output, RemoteError> {
        let mut cmd = Command::new(&self.spec.ssh_program);
        cmd.args(common_args(&self.spec)).arg("-o").arg(control_path(&self.control)).args(["-O", op]);
        cmd.args(args).arg("--").arg(&self.spec.destination);
        run(cmd, None, Duration::from_secs(15)).map_err(|e| self.local_or_timeout(e, &format!("ssh -O {op}")))?.ok_or(
            RemoteError::Timeout {
                destination: self.spec.destination.clone(),
                command: format!("ssh -O {op}"),
                after: Duration::from_secs(15),
            },
        )
    }

    /// Forwards `local` (here) to `target` (as the remote resolves it) through the master.
    pub(crate) fn forward(&self, local: &str, target: &str) -> Result<(), RemoteError> {
        let out = self.control_command("forward", &["-L".into(), format!("{local}:{target}")])?;
        if out.status.success() {
            return Ok(());
        }
        Err(RemoteError::Forward {
            destination: self.spec.destination.clone(),
            target: target.into(),
            stderr: out.stderr.trim().into(),
        })
    }

    /// Cancels a forward made by [`forward`](Self::forward).
    pub(crate) fn cancel_forward(&self, local: &str, target: &str) {
        let _ = self.control_command("cancel", &["-L".into(), format!("{local}:{target}")]);
    }

    /// An `ssh` command that runs `remote` (a shell command line) over the master.
    pub(crate) fn command(&self, remote: &str) -> Command {
        let mut cmd = Command::new(&self.spec.ssh_program);
        cmd.args(common_args(&self.spec))
            .args(["-T", "-o", "ControlMaster=no"])
            .arg("-o")
            .arg(control_path(&self.control))
            .arg("--")
            .arg(&self.spec.destination)
            .arg(remote);
        cmd
    }

    /// Runs `remote` over the master, feeding it `input`, within `timeout`; fails when
    /// it exits non-zero.
    pub(crate) fn run(
        &self,
        remote: &str,
        input: Option<Box<dyn Read + Send>>,
        timeout: Duration,
    ) -> Result<Output, RemoteError> {
        let out = run(self.command(remote), input, timeout).map_err(|e| self.local_or_timeout(e, remote))?.ok_or_else(
            || RemoteError::Timeout {
                destination: self.spec.destination.clone(),
                command: remote.into(),
                after: timeout,
            },
        )?;
        if !out.status.success() {
            return Err(RemoteError::Command {
                destination: self.spec.destination.clone(),
                command: remote.into(),
                status: out.status.to_string(),
                stderr: out.stderr.trim().into(),
            });
        }
        Ok(out)
    }

    fn local_or_timeout(&self, source: std::io::Error, what: &str) -> RemoteError {
        RemoteError::Local { what: format!("cannot run `{what}` over ssh to {}", self.spec.destination), source }
    }

    /// Whether the master connection still runs: once it has ended (killed, or the
    /// network lost and its keep-alives unanswered), so has every server of the session.
    pub fn is_open(&self) -> bool {
        self.master.lock().map(|mut m| matches!(m.try_wait(), Ok(None))).unwrap_or(false)
    }

    /// What the session was opened with.
    pub fn spec(&self) -> &RemoteSpec {
        &self.spec
    }

    /// The host name ssh connects to for the destination (after `~/.ssh/config`), as
    /// `ssh -G` reports it: where a directly bound server is reached.
    pub fn hostname(&self) -> Result<String, RemoteError> {
        let mut cmd = Command::new(&self.spec.ssh_program);
        cmd.args(common_args(&self.spec)).arg("-G").arg("--").arg(&self.spec.destination);
        let timeout = Duration::from_secs(10);
        let out = run(cmd, None, timeout).map_err(|e| self.local_or_timeout(e, "ssh -G"))?;
        let found = out
            .as_ref()
            .and_then(|o| o.stdout.lines().find_map(|l| l.strip_prefix("hostname ").map(|h| h.trim().to_owned())));
        found.ok_or_else(|| RemoteError::Connect {
            destination: self.spec.destination.clone(),
            stderr: out.map(|o| o.stderr).unwrap_or_else(|| "`ssh -G` did not name a host name".into()),
        })
    }
}

impl Drop for RemoteSession {
    fn drop(&mut self) {
        // Ask the master to exit, then make sure: it must not outlive the session.
        let _ = self.control_command("exit", &[]);
        if let Ok(mut master) = self.master.lock() {
            let deadline = Instant::now() + Duration::from_secs(3);
            while matches!(master.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = master.kill();
            let _ = master.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn control_path(control: &Path) -> OsString {
    let mut opt = OsString::from("ControlPath=");
    opt.push(control);
    opt
}

/// Options every ssh invocation of a session shares: never prompt (a prompt would hang
/// a benchmark), give up connecting in time, and notice a dead network.
fn common_args(spec: &RemoteSpec) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
        .iter()
        .map(OsString::from)
        .collect();
    args.push("-o".into());
    args.push(format!("ConnectTimeout={}", spec.connect_timeout.as_secs().max(1)).into());
    if let Some(port) = spec.port {
        args.extend(["-p".into(), port.to_string().into()]);
    }
    if let Some(identity) = &spec.identity {
        args.extend(["-i".into(), identity.clone().into_os_string()]);
    }
    args.extend(spec.ssh_args.iter().map(OsString::from));
    args
}

/// Runs `cmd` with `input` on its stdin, collecting its output; `None` when it did not
/// exit within `timeout` (it is killed then).
fn run(mut cmd: Command, input: Option<Box<dyn Read + Send>>, timeout: Duration) -> std::io::Result<Option<Output>> {
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = spawn_tied(cmd)?;
    let feeder = child.stdin.take().zip(input).map(|(mut pipe, mut input)| {
        std::thread::spawn(move || {
            // An error here (the remote side closed early) shows in the exit status.
            let _ = std::io::copy(&mut input, &mut pipe).and_then(|_| pipe.flush());
        })
    });
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    Ok(status.map(|status| Output { status, stdout, stderr }))
}

#[cfg(test)]
mod tests {
    use super::remove_stale_dirs;

    #[test]
    fn only_the_socket_directories_of_dead_processes_are_removed() {
        let tmp = std::env::temp_dir().join(format!("rpycbench-stale-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        // A pid that has just exited (and been reaped): no process has it now.
        let mut child = std::process::Command::new("true").spawn().expect("run true");
        let dead = child.id();
        child.wait().expect("reap true");
        let names = [
            format!("rpycbench-ssh-{dead}-0"),
            format!("rpycbench-ssh-{}-3", std::process::id()),
            "rpycbench-ssh-test-1-lifecycle".to_owned(),
            "rpycbench-python-0123".to_owned(),
        ];
        for name in &names {
            std::fs::create_dir_all(tmp.join(name).join("inner")).expect("make a directory");
        }
        remove_stale_dirs(&tmp);
        let left: Vec<bool> = names.iter().map(|n| tmp.join(n).exists()).collect();
        let _ = std::fs::remove_dir_all(&tmp);
        assert_eq!(left, [false, true, true, true], "{names:?}");
    }
}
