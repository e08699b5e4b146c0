//! The life of a server process: `rpycbench serve` says when it is ready, refuses a
//! port in use, stops cleanly on SIGTERM with connections open and leaves nothing
//! behind; the native servers reap every child and close every socket over thousands
//! of connections, honour `--max-connections`, and `ServerSpec` explains what is
//! missing when a Python server cannot start.

mod common;
use common::python;

use common::{all_procs, eventually, fd_count, native_spec, port_outside_ephemeral_range, proc_stat};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rpycbench::client::{Config, Connection};
use rpycbench::server::{PythonError, PythonServerSpec, ServerError, ServerMode, ServerSpec};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server may take to say it is ready (Python imports take a while).
const STARTUP: Duration = Duration::from_secs(20);
/// How long a client waits for any one reply before the test fails.
const REPLY: Duration = Duration::from_secs(15);

fn connect(addr: SocketAddr) -> Connection {
    let config = Config::default().request_timeout(REPLY).connect_timeout(REPLY);
    Connection::connect_with(addr, config).expect("connecting")
}

fn ping(conn: &mut Connection) {
    let pong: String = conn.call("ping", ()).and_then(|o| o.extract()).expect("ping");
    assert_eq!(pong, "pong");
}

// ---------------------------------------------------------------------------------
// `rpycbench serve` run directly, in its own process group, so the test sees its exit
// status and every process it started.

struct Cli {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    exited: Option<ExitStatus>,
}

impl Cli {
    fn spawn(mode: ServerMode, port: u16) -> Cli {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rpycbench"));
        cmd.args(["serve", "--mode", mode.name(), "--host", "127.0.0.1", "--port", &port.to_string()]);
        if mode.is_python() {
            cmd.arg("--python").arg(python());
        }
        cmd.process_group(0).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("running rpycbench serve");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (mut pipe, keep) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                keep.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Cli { child, lines, stderr, exited: None }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The first line on stdout, which must be the readiness line.
    fn first_line(&self) -> String {
        self.lines
            .recv_timeout(STARTUP)
            .unwrap_or_else(|e| panic!("no line on stdout within {STARTUP:?} ({e}); stderr:\n{}", self.stderr()))
    }

    /// Waits for the readiness line and returns the address it names.
    fn ready(&self) -> SocketAddr {
        let line = self.first_line();
        let addr = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("readiness line {line:?}"));
        addr.parse().unwrap_or_else(|e| panic!("readiness line {line:?}: {e}"))
    }

    fn wait(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while self.exited.is_none() {
            self.exited = self.child.try_wait().expect("waiting for rpycbench serve");
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.exited
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid() as i32), signal).expect("signalling the server");
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        // A failed test must not leave a server behind: the whole group goes. (Once the
        // leader is reaped, its id is only safe to use while members keep it alive.)
        if self.exited.is_none() || !group_members(self.pid()).is_empty() {
            let _ = kill(Pid::from_raw(-(self.pid() as i32)), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Processes of process group `pgid`, zombies included, described for a message.
fn group_members(pgid: u32) -> Vec<String> {
    all_procs().into_iter().filter(|p| p.pgrp == pgid).map(|p| format!("{p:?}")).collect()
}

// ---------------------------------------------------------------------------------

fn readiness_line_names_the_bound_address(mode: ServerMode) {
    let server = Cli::spawn(mode, 0);
    let line = server.first_line();
    let port = line
        .strip_prefix("listening on 127.0.0.1:")
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("{mode}: readiness line {line:?} is not `listening on 127.0.0.1:PORT`"));
    assert_ne!(port, 0, "{mode}: the line must name the port actually bound");
    // Ready means accepting: the first connection is served at once.
    let mut conn = connect(([127, 0, 0, 1], port).into());
    ping(&mut conn);
    conn.close().unwrap();
    assert!(server.lines.try_recv().is_err(), "{mode}: one readiness line only");
}

#[test]
fn readiness_line_threaded() {
    readiness_line_names_the_bound_address(ServerMode::Threaded);
}

#[test]
fn readiness_line_forking() {
    readiness_line_names_the_bound_address(ServerMode::Forking);
}

#[test]
fn readiness_line_python_threaded() {
    readiness_line_names_the_bound_address(ServerMode::PythonThreaded);
}

#[test]
fn readiness_line_honours_an_explicit_port() {
    // A port outside the ephemeral range, so no parallel test binding port 0 can take
    // it; a process outside the tests still might, and then another port is tried.
    for _ in 0..5 {
        let port = port_outside_ephemeral_range();
        let mut server = Cli::spawn(ServerMode::Threaded, port);
        match server.lines.recv_timeout(STARTUP) {
            Ok(line) => {
                assert_eq!(line, format!("listening on 127.0.0.1:{port}"));
                return;
            }
            Err(e) => {
                let status = server.wait(STARTUP);
                let stderr = server.stderr();
                assert!(
                    status.is_some_and(|s| !s.success()) && stderr.contains("address already in use"),
                    "no readiness line ({e}), and not because port {port} was taken; stderr:\n{stderr}"
                );
            }
        }
    }
    panic!("five ports outside the ephemeral range were taken between checking and binding");
}

fn port_in_use_is_refused(mode: ServerMode) {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut server = Cli::spawn(mode, port);
    let status = server.wait(STARTUP).unwrap_or_else(|| panic!("{mode}: still running on a port in use"));
    assert!(!status.success(), "{mode}: exit status {status} on a port in use");
    let stderr = server.stderr();
    assert!(stderr.contains("address already in use"), "{mode}: stderr does not say why:\n{stderr}");
    assert!(stderr.contains(&port.to_string()), "{mode}: stderr does not name the port:\n{stderr}");
    assert!(server.lines.try_recv().is_err(), "{mode}: claimed to be listening");
    drop(taken);
}

#[test]
fn port_in_use_threaded() {
    port_in_use_is_refused(ServerMode::Threaded);
}

#[test]
fn port_in_use_forking() {
    port_in_use_is_refused(ServerMode::Forking);
}

#[test]
fn port_in_use_python_threaded() {
    port_in_use_is_refused(ServerMode::PythonThreaded);
}

fn sigterm_with_open_connections(mode: ServerMode) {
    let mut server = Cli::spawn(mode, 0);
    let addr = server.ready();
    // Idle connections that have been served...
    let mut conns: Vec<Connection> = (0..3).map(|_| connect(addr)).collect();
    conns.iter_mut().for_each(ping);
    // ...and one stuck in the middle of a frame.
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.write_all(&[0, 0, 0, 100, 0, 1, 2]).unwrap();
    if mode.is_forking() {
        // A child per connection, the raw one included.
        let ok = eventually(REPLY, || group_members(server.pid()).len() > 4);
        assert!(ok, "{mode}: expected a child per connection: {:?}", group_members(server.pid()));
    }

    let started = Instant::now();
    server.signal(Signal::SIGTERM);
    let status = server.wait(Duration::from_secs(10)).unwrap_or_else(|| panic!("{mode}: still running after SIGTERM"));
    let took = started.elapsed();
    assert!(status.success(), "{mode}: SIGTERM gave exit status {status}; stderr:\n{}", server.stderr());
    assert!(took < Duration::from_secs(5), "{mode}: took {took:?} to stop");
    // The server reaps its children before it exits: nothing of its group is left,
    // not even a zombie.
    let left = group_members(server.pid());
    assert!(left.is_empty(), "{mode}: processes left after the server exited: {left:?}");
    // Its clients see the end of their connections.
    for conn in &mut conns {
        assert!(conn.call("ping", ()).is_err(), "{mode}: a connection outlived the server");
    }
}

#[test]
fn sigterm_threaded() {
    sigterm_with_open_connections(ServerMode::Threaded);
}

#[test]
fn sigterm_forking() {
    sigterm_with_open_connections(ServerMode::Forking);
}

#[test]
fn sigterm_python_forking() {
    sigterm_with_open_connections(ServerMode::PythonForking);
}

#[test]
fn forking_server_reaps_every_child_of_1000_connections() {
    let server = native_spec(ServerMode::Forking).start().expect("starting the forking server");
    let leader = server.pid();
    for i in 0..1000 {
        let mut conn = connect(server.addr());
        ping(&mut conn);
        if i % 2 == 0 {
            conn.close().unwrap();
        } // else dropped: EOF instead of CLOSE
    }
    // Children exit as their clients go; the server reaps each within its poll interval.
    let settled = || {
        let children: Vec<_> = all_procs().into_iter().filter(|p| p.ppid == leader).collect();
        children.is_empty() && server.pids() == [leader]
    };
    let ok = eventually(Duration::from_secs(10), settled);
    let children: Vec<_> = all_procs().into_iter().filter(|p| p.ppid == leader).collect();
    assert!(ok, "children left after 1000 connections (Z = zombie): {children:?}");
    // Nothing of its session escaped to another parent (an orphan).
    let orphans: Vec<_> = all_procs().into_iter().filter(|p| p.session == leader && p.pid != leader).collect();
    assert!(orphans.is_empty(), "orphans of the forking server: {orphans:?}");
    let server_state = proc_stat(leader).map(|p| p.state);
    assert!(matches!(server_state, Some(s) if s != 'Z'), "the server itself: {server_state:?}");
}

#[test]
fn threaded_server_keeps_no_descriptor_over_10000_connections() {
    let server = native_spec(ServerMode::Threaded).start().expect("starting the threaded server");
    let pid = server.pid();
    let threads = || {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status.lines().find_map(|l| l.strip_prefix("Threads:")).unwrap().trim().parse::<usize>().unwrap()
    };
    let mut warm = connect(server.addr());
    ping(&mut warm);
    warm.close().unwrap();
    let mut before = (0, 0);
    assert!(eventually(Duration::from_secs(5), || {
        before = (fd_count(pid), threads());
        before.1 == 1
    }));
    for i in 0..10_000 {
        match i % 4 {
            // An orderly CLOSE, a CLOSE after a call, a bare TCP open and close, and a
            // client gone mid-frame.
            0 => connect(server.addr()).close().unwrap(),
            1 => {
                let mut conn = connect(server.addr());
                ping(&mut conn);
                conn.close().unwrap();
            }
            2 => drop(TcpStream::connect(server.addr()).unwrap()),
            _ => TcpStream::connect(server.addr()).unwrap().write_all(&[0, 0, 0, 9, 0, 1]).unwrap(),
        }
    }
    let mut after = (0, 0);
    let settled = eventually(Duration::from_secs(10), || {
        after = (fd_count(pid), threads());
        after.0 <= before.0 + 5 && after.1 == before.1
    });
    assert!(settled, "(descriptors, threads) went from {before:?} to {after:?} over 10,000 connections");
}

fn max_connections_is_enforced(mode: ServerMode) {
    let server = native_spec(mode).max_connections(2).start().expect("starting the server");
    let mut first = connect(server.addr());
    ping(&mut first);
    let mut second = connect(server.addr());
    ping(&mut second);
    // The third is accepted and closed at once: its first call fails.
    let mut third = connect(server.addr());
    let err = third.call("ping", ()).expect_err("a third connection must not be served");
    assert!(err.is_connection_fatal(), "{mode}: the third connection should be closed, got {err}");
    ping(&mut first);
    ping(&mut second);
    // The limit is on connections at once: a slot freed is a slot served again.
    first.close().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut conn = connect(server.addr());
        match conn.call("ping", ()) {
            Ok(_) => break,
            Err(e) if Instant::now() >= deadline => panic!("{mode}: no slot freed after a close: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    ping(&mut second);
}

#[test]
fn max_connections_threaded() {
    max_connections_is_enforced(ServerMode::Threaded);
}

#[test]
fn max_connections_forking() {
    max_connections_is_enforced(ServerMode::Forking);
}

#[test]
fn a_missing_python_interpreter_is_a_clear_error() {
    let spec = ServerSpec::new(ServerMode::PythonThreaded)
        .python(PythonServerSpec { python: Some("/nonexistent/python".into()), ..Default::default() });
    let err = spec.start().err().expect("no server can start without an interpreter");
    assert!(
        matches!(&err, ServerError::Python(PythonError::NoInterpreter(p)) if p.as_os_str() == "/nonexistent/python"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("'/nonexistent/python' not found"), "{message}");
    assert!(message.contains("rpyc==6.0.2"), "the message should say what to install: {message}");
}

#[test]
fn a_python_without_rpyc_is_a_clear_error() {
    // A working interpreter that cannot see any site-packages: -S skips the site module
    // (venv and system site-packages alike), -s the user's, -E PYTHONPATH.
    let base = [python(), PathBuf::from("/usr/bin/python3")].into_iter().find(|p| p.exists()).expect("a Python 3");
    let dir = std::env::temp_dir().join(format!("rpycbench-no-rpyc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wrapper = dir.join("python");
    std::fs::write(&wrapper, format!("#!/bin/sh\nexec '{}' -E -s -S \"$@\"\n", base.display())).unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = |code: &str| Command::new(&wrapper).args(["-c", code]).stderr(Stdio::null()).status();
    // Another thread's fork may briefly hold the just-written file open (ETXTBSY).
    let runs = eventually(Duration::from_secs(5), || run("pass").is_ok_and(|s| s.success()));
    assert!(runs, "the wrapper around {} does not run", base.display());
    assert!(!run("import rpyc").unwrap().success(), "the wrapper still imports rpyc");

    let spec = ServerSpec::new(ServerMode::PythonThreaded)
        .python(PythonServerSpec { python: Some(wrapper.clone()), ..Default::default() });
    let err = spec.start().err().expect("no server can start without rpyc");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(matches!(err, ServerError::Exited { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("has no rpyc module"), "the launcher's explanation is missing: {message}");
    assert!(message.contains("pip install rpyc==6.0.2"), "{message}");
}
