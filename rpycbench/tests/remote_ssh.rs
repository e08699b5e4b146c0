//! Remote servers over SSH (`server::remote`, `serve --remote`), against a real sshd
//! on 127.0.0.1 that each test starts for itself: its own host key, an authorized key
//! made for the test, a free port, and a home directory of its own (sshd's `SetEnv
//! HOME`), so the binary cache starts empty and is removed with the test.
//!
//! Needs Debian's openssh-server (`/usr/sbin/sshd`; `scripts/test` installs it when run
//! as root). Without it each test says it is skipped and why, and passes.

mod common;

use common::{proc_stat, TempDir};
use rpycbench::server::remote::{RemoteError, RemoteServer, RemoteSpec, Via};
use rpycbench::server::ServerMode;
use rpycbench::Connection;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rpycbench");
const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd for one test; killed, and its directory removed, on drop.
struct Sshd {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Sshd {
    /// Starts one, or `None` (with the reason printed) when sshd is not installed.
    fn start(name: &str) -> Option<Sshd> {
        if !Path::new(SSHD).exists() {
            eprintln!(
                "skipped: {SSHD} is not installed (apt-get install -y openssh-server; scripts/test does it as root)"
            );
            return None;
        }
        let dir = TempDir::new(&format!("ssh-{name}"));
        let d = &dir.0;
        for key in ["host", "client"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .expect("run ssh-keygen");
            assert!(status.success(), "ssh-keygen failed");
        }
        std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).expect("authorize the client key");
        std::fs::create_dir_all(d.join("home")).expect("make the remote home");
        let config = format!(
            "HostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\nStrictModes no\n\
             PermitRootLogin prohibit-password\nListenAddress 127.0.0.1\nPidFile {d}/pid\n\
             UsePAM no\nSetEnv HOME={d}/home\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("write sshd_config");
        // sshd refuses to start without its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = common::port_outside_ephemeral_range();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .args(["-p", &port.to_string(), "-E"])
            .arg(d.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start sshd");
        let sshd = Sshd { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen within 10 s: {}", sshd.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(sshd)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
    }

    /// What the library needs to reach it.
    fn spec(&self) -> RemoteSpec {
        let mut spec = RemoteSpec::new("root@127.0.0.1");
        spec.port = Some(self.port);
        spec.identity = Some(self.path("client"));
        spec.ssh_args = self.ssh_options().into_iter().flat_map(|o| ["-o".to_owned(), o]).collect();
        spec
    }

    fn ssh_options(&self) -> Vec<String> {
        vec![format!("UserKnownHostsFile={}", self.path("known").display()), "StrictHostKeyChecking=accept-new".into()]
    }

    /// `rpycbench serve --remote …` with this sshd's options and `extra`.
    fn serve_command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--remote", "root@127.0.0.1", "--remote-port", &self.port.to_string()]);
        cmd.arg("--remote-identity").arg(self.path("client"));
        for option in self.ssh_options() {
            cmd.args(["--remote-ssh-option", &option]);
        }
        cmd.args(extra).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A test that failed may have left a server (or a local `serve --remote`) of
        // its own: only processes naming this test's directory, so no one else's. An
        // sshd session process would otherwise hold the test's output open.
        let dir = self.dir.0.display().to_string();
        for p in common::all_procs() {
            let cmdline = std::fs::read(format!("/proc/{}/cmdline", p.pid)).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&dir) {
                let _ =
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.pid as i32), nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

/// The live processes of session `sid` (the remote server is its session's leader, as
/// sshd made it one; its stdin watcher and forked children are members).
fn session_members(sid: u32) -> Vec<u32> {
    common::all_procs().into_iter().filter(|p| p.session == sid && p.state != 'Z').map(|p| p.pid).collect()
}

/// Waits up to `within` for `done`; whether it came true.
fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

/// `rpycbench serve --remote` started by a test, with what its first lines said.
struct ServeRemote {
    local: std::process::Child,
    /// Where its readiness line says the server is reached.
    addr: std::net::SocketAddr,
    /// The remote server's pid, from the description line.
    pid: u32,
    /// The description line (stderr).
    said: String,
    /// Kept open: the process must not write into closed pipes.
    _pipes: (BufReader<std::process::ChildStdout>, BufReader<std::process::ChildStderr>),
}

/// Starts `rpycbench serve --remote` with `args` and reads its first lines.
fn start_serve_remote(sshd: &Sshd, args: &[&str]) -> ServeRemote {
    let mut local = sshd.serve_command(args).spawn().expect("start serve --remote");
    let mut stdout = BufReader::new(local.stdout.take().expect("piped"));
    let mut stderr = BufReader::new(local.stderr.take().expect("piped"));
    let (mut ready, mut said) = (String::new(), String::new());
    stdout.read_line(&mut ready).expect("read the readiness line");
    stderr.read_line(&mut said).expect("read the description line");
    let addr = ready.trim().strip_prefix("listening on ").and_then(|a| a.parse::<std::net::SocketAddr>().ok());
    let addr = addr.unwrap_or_else(|| panic!("no readiness line: {ready:?} {said:?} {}", sshd.log()));
    let pid = said.split("(pid ").nth(1).and_then(|s| s.split(',').next()).and_then(|p| p.parse().ok());
    let pid = pid.unwrap_or_else(|| panic!("no remote pid in {said:?}"));
    ServeRemote { local, addr, pid, said, _pipes: (stdout, stderr) }
}

fn ping_loop(addr: std::net::SocketAddr, n: usize) {
    let mut conn = Connection::connect(addr).expect("connect to the remote server");
    for _ in 0..n {
        let pong: String = conn.call("ping", ()).and_then(|o| o.extract()).expect("ping");
        assert_eq!(pong, "pong");
    }
}

/// (a) and (c): a native server starts there (copied on the first start, cached on the
/// second), answers through the tunnel, and is gone with everything it started once
/// stopped.
#[test]
fn a_remote_server_starts_answers_and_is_gone_after_stop_and_a_second_start_copies_nothing() {
    let Some(sshd) = Sshd::start("lifecycle") else { return };
    let session = sshd.spec().connect().unwrap_or_else(|e| panic!("{e}\nsshd: {}", sshd.log()));
    let spec = common::native_spec(ServerMode::Threaded);
    let server = RemoteServer::start(session.clone(), &spec).unwrap_or_else(|e| panic!("{e}"));
    assert!(server.deployment().copied, "a fresh remote home has no cached binary");
    assert_eq!(server.via(), Via::Tunnel);
    assert_ne!(server.addr(), server.remote_addr(), "the tunnel's end is a port of its own");
    let pid = server.remote_pid();
    let stat = proc_stat(pid).expect("the remote server runs (here, since the remote is localhost)");
    assert_eq!(stat.session, pid, "the server leads the session sshd made for it");
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(cmdline.contains(".cache/rpycbench/") && cmdline.contains("--exit-with-stdin"), "{cmdline:?}");
    ping_loop(server.addr(), 200);
    server.stop().expect("stop");
    assert!(session_members(pid).is_empty(), "left running after stop: {:?}", session_members(pid));

    let cached: Vec<_> = std::fs::read_dir(sshd.path("home/.cache/rpycbench")).expect("the cache").collect();
    assert_eq!(cached.len(), 1, "one binary, one hash directory");
    let binary = cached[0].as_ref().expect("an entry").path().join("rpycbench");
    let mtime = || std::fs::metadata(&binary).and_then(|m| m.modified()).expect("the cached binary");
    let before = mtime();
    let again = RemoteServer::start(session.clone(), &spec).unwrap_or_else(|e| panic!("{e}"));
    assert!(!again.deployment().copied, "the second start copied the binary again");
    assert_eq!(mtime(), before, "the cached binary was rewritten");
    ping_loop(again.addr(), 10);
    let pid = again.remote_pid();
    drop(again);
    assert!(session_members(pid).is_empty(), "left running after drop: {:?}", session_members(pid));
}

/// (b) Killing the local side with SIGKILL (no cleanup code runs) leaves nothing on the
/// remote: the ssh processes die with it, sshd closes the server's stdin, the server
/// exits.
#[test]
fn a_killed_local_side_leaves_nothing_running_on_the_remote() {
    let Some(sshd) = Sshd::start("kill9") else { return };
    let started = start_serve_remote(&sshd, &["--mode", "forking"]);
    let (mut local, addr, pid, _pipes) = (started.local, started.addr, started.pid, started._pipes);
    // A connection makes the forking server fork a child, which must go too.
    let mut conn = Connection::connect(addr).expect("connect through the tunnel");
    let _: String = conn.call("ping", ()).and_then(|o| o.extract()).expect("ping");
    assert!(session_members(pid).len() >= 2, "the server and a connection's child: {:?}", session_members(pid));
    let local_pid = local.id();
    local.kill().expect("SIGKILL the local side");
    local.wait().expect("reap it");
    assert!(
        eventually(Duration::from_secs(15), || session_members(pid).is_empty()),
        "the remote server outlived its killed local side: {:?}",
        session_members(pid)
    );
    let control = format!("rpycbench-ssh-{local_pid}-");
    let ssh_left = || {
        common::all_procs().into_iter().any(|p| {
            std::fs::read(format!("/proc/{}/cmdline", p.pid))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&control))
        })
    };
    assert!(eventually(Duration::from_secs(10), || !ssh_left()), "an ssh process of the killed side is left");
    // The killed side could not remove its socket directory (documented): the test does.
    let tmp = std::env::temp_dir();
    for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&control) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// (d) A remote of another OS or architecture than the binary (faked) is refused before
/// anything is copied, naming both and the way out.
#[test]
fn a_platform_mismatch_is_a_clear_error() {
    let Some(sshd) = Sshd::start("mismatch") else { return };
    let out = sshd
        .serve_command(&[])
        .env("RPYCBENCH_REMOTE_EXPECT_PLATFORM", "linux riscv64")
        .output()
        .expect("run serve --remote");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let remote = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    assert!(stderr.contains(&format!("runs {remote}")), "{stderr}");
    assert!(stderr.contains("built for linux riscv64") && stderr.contains("--remote-use-path"), "{stderr}");
    assert!(!sshd.path("home/.cache/rpycbench").exists(), "copied despite the mismatch");
    // With --remote-use-path and no rpycbench on the remote's PATH: that is said too.
    let out = sshd
        .serve_command(&["--remote-use-path"])
        .env("RPYCBENCH_REMOTE_EXPECT_PLATFORM", "linux riscv64")
        .output()
        .expect("run serve --remote");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("has no rpycbench on its PATH"), "{stderr}");
}

/// (e) A Python mode on a remote whose interpreter lacks rpyc fails with what to install.
#[test]
fn a_python_mode_without_rpyc_on_the_remote_says_how_to_fix_it() {
    let python = "/usr/bin/python3";
    let has_rpyc = Command::new(python).args(["-c", "import rpyc"]).stderr(Stdio::null()).status();
    if !has_rpyc.is_ok_and(|s| !s.success()) {
        eprintln!("skipped: {python} is missing or has rpyc, so it cannot stand for a remote without rpyc");
        return;
    }
    let Some(sshd) = Sshd::start("nopython") else { return };
    let out =
        sshd.serve_command(&["--mode", "python-threaded", "--python", python]).output().expect("run serve --remote");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("has no rpyc module") && stderr.contains("-m pip install rpyc==6.0.2"), "{stderr}");
}

/// A key the remote does not know: ssh's own words, and how to give a key.
#[test]
fn an_unknown_key_is_an_authentication_error() {
    let Some(sshd) = Sshd::start("auth") else { return };
    let mut spec = sshd.spec();
    spec.identity = Some(sshd.path("host"));
    match spec.connect() {
        Err(e @ RemoteError::AuthFailed { .. }) => {
            let text = e.to_string();
            assert!(text.contains("Permission denied") && text.contains("--remote-identity"), "{text}");
        }
        other => panic!("expected an authentication failure, got {other:?}"),
    }
}

/// `--remote-bind` reaches the server directly (no tunnel: the readiness line is the
/// server's own address), and SIGTERM to `serve --remote` stops it there and exits 0.
#[test]
fn a_direct_bind_is_reached_without_a_tunnel_and_sigterm_stops_it() {
    let Some(sshd) = Sshd::start("direct") else { return };
    let started = start_serve_remote(&sshd, &["--remote-bind", "127.0.0.1"]);
    let (mut local, addr, pid, said, _pipes) = (started.local, started.addr, started.pid, started.said, started._pipes);
    assert!(said.contains("reached directly") && said.contains(&format!("{addr} there")), "{said}");
    ping_loop(addr, 20);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(local.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .expect("SIGTERM");
    assert!(
        eventually(Duration::from_secs(20), || matches!(local.try_wait(), Ok(Some(_)))),
        "serve --remote did not exit"
    );
    assert!(local.wait().expect("status").success(), "SIGTERM is a clean stop");
    assert!(session_members(pid).is_empty(), "left running: {:?}", session_members(pid));
}
