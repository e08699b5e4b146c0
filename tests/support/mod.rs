//! Real Python rpyc servers (`tests/python/interop_server.py`) for the interop tests.
//!
//! Each server runs in its own process group on an ephemeral port, so tests may run in
//! parallel, and dropping a [`PythonServer`] ends the whole group: nothing is left behind.
#![allow(dead_code)] // every test binary that says `mod support;` uses a different part

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[path = "../../rpycbench/tests/common/ports.rs"]
mod ports;
#[path = "../../rpycbench/tests/common/sshd.rs"]
pub mod sshd;
#[allow(unused_imports)] // each test binary uses a part
pub use ports::ClosedPort;

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The interpreter that has rpyc 6.0.2: `$RPYCBENCH_PYTHON`, else the repo's `.venv`.
pub fn python() -> PathBuf {
    let path =
        std::env::var_os("RPYCBENCH_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(path.exists(), "no Python interpreter at {}: run ./scripts/test to create the venv", path.display());
    path
}

fn repo() -> &'static Path {
    // The root package's manifest directory is the repository root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A running `interop_server.py`; dropping it stops the server and all its children.
pub struct PythonServer {
    pub addr: SocketAddr,
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<thread::JoinHandle<()>>,
    stopped: bool,
}

impl PythonServer {
    /// Starts `interop_server.py --mode MODE EXTRA_ARGS...` and waits until it listens.
    /// Panics, with the server's stderr, if it exits or is not ready within 20 s.
    pub fn start(mode: &str, extra_args: &[&str]) -> PythonServer {
        let python = python();
        let mut child = Command::new(&python)
            .arg(repo().join("tests/python/interop_server.py"))
            .args(["--mode", mode])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that Drop can signal forked children too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));

        // Both pipes are drained for the server's whole life, so it never blocks on a full pipe.
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        let stderr_reader = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err_pipe.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let (ready_tx, ready_rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = ready_tx.send(line);
            }
            lines.for_each(drop);
        });

        let mut server = PythonServer {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            child,
            stderr,
            stderr_reader: Some(stderr_reader),
            stopped: false,
        };
        let line = match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => server.fail("not ready within 20 s"),
            // The reader thread ended: stdout closed before the line came.
            Err(mpsc::RecvTimeoutError::Disconnected) => server.fail("it exited"),
        };
        match line.strip_prefix("listening on ").map(str::parse) {
            Some(Ok(addr)) => server.addr = addr,
            _ => server.fail(&format!("its first line was {line:?}")),
        }
        server
    }

    /// Pids of every live process of the server's group (the server and its forked children).
    pub fn pids(&self) -> Vec<u32> {
        let pgid = self.child.id();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Some((state, group)) = proc_state_and_group(pid) {
                if group == pgid && state != 'Z' {
                    pids.push(pid);
                }
            }
        }
        pids
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    fn fail(mut self, why: &str) -> ! {
        self.stop();
        // The group is gone, so its stderr pipe is closed: this read the whole of it.
        let _ = self.stderr_reader.take().map(thread::JoinHandle::join);
        let status = match self.child.try_wait() {
            Ok(Some(status)) => status.to_string(),
            _ => "unknown".to_string(),
        };
        panic!("Python server failed to start: {why} ({status}); stderr:\n{}", self.stderr());
    }

    /// SIGTERM to the group, up to 5 s for the server to exit, then SIGKILL to the group
    /// (for a server that hangs, or children that outlived it), and reap the server.
    fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let pgid = self.child.id();
        signal_group(pgid, "TERM");
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        signal_group(pgid, "KILL");
        let _ = self.child.wait();
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let reported = self.stopped; // by fail()
        self.stop();
        if thread::panicking() && !reported {
            eprintln!("stderr of the Python server at {}:\n{}", self.addr, self.stderr());
        }
    }
}

/// `kill -SIG -PGID`: std has no kill(2) and we take no libc dependency.
fn signal_group(pgid: u32, signal: &str) {
    // Fails harmlessly when the group is already empty.
    let _ =
        Command::new("kill").args([&format!("-{signal}"), "--", &format!("-{pgid}")]).stderr(Stdio::null()).status();
}

/// Process state letter and process group of `pid`, from `/proc/PID/stat`.
pub fn proc_state_and_group(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces or parentheses: the fields follow the last ')'.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let pgrp = fields.nth(1)?.parse().ok()?;
    Some((state, pgrp))
}

/// Whether `pid` is a live process (neither gone nor a zombie).
pub fn is_alive(pid: u32) -> bool {
    matches!(proc_state_and_group(pid), Some((state, _)) if state != 'Z')
}
