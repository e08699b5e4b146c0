//! Remote servers over SSH (`server::remote`, `serve --remote`), against a real sshd
//! on 127.0.0.1 that each test starts for itself (`common::sshd`): its own host key,
//! an authorized key made for the test, a free port, and a home directory of its own,
//! so the binary cache starts empty and is removed with the test.
//!
//! Needs Debian's openssh-server (`/usr/sbin/sshd`; `scripts/test` installs it when run
//! as root). Without it each test says it is skipped and why, and passes.

mod common;

use common::sshd::Sshd;
use common::{eventually, proc_stat};
use rpycbench::server::remote::{RemoteError, RemoteServer, Via};
use rpycbench::server::ServerMode;
use rpycbench::Connection;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
const BIN: &str = env!("CARGO_BIN_EXE_rpycbench");

/// `rpycbench serve --remote …` with `sshd`'s options and `extra`.
fn serve_command(sshd: &Sshd, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").args(sshd.remote_flags());
    cmd.args(extra).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// The live processes of session `sid` (the remote server is its session's leader, as
/// sshd made it one; its stdin watcher and forked children are members).
fn session_members(sid: u32) -> Vec<u32> {
    common::all_procs().into_iter().filter(|p| p.session == sid && p.state != 'Z').map(|p| p.pid).collect()
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
    let mut local = serve_command(sshd, args).spawn().expect("start serve --remote");
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

/// SIGTERM to a local `serve --remote`, then its exit status once it has exited
/// (failing the test if it has not within 20 s).
fn stop_serve_remote(local: &mut std::process::Child) -> std::process::ExitStatus {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(local.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .expect("SIGTERM");
    assert!(
        eventually(Duration::from_secs(20), || matches!(local.try_wait(), Ok(Some(_)))),
        "serve --remote did not exit"
    );
    local.wait().expect("status")
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
    let out = serve_command(&sshd, &[])
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
    let out = serve_command(&sshd, &["--remote-use-path"])
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
        serve_command(&sshd, &["--mode", "python-threaded", "--python", python]).output().expect("run serve --remote");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("has no rpyc module") && stderr.contains("-m pip install rpyc==6.0.2"), "{stderr}");
}

/// A Python mode on a remote that has rpyc: the binary there execs the interpreter (so
/// the pid it announced is the Python server's), it answers through the tunnel, and
/// SIGTERM to `serve --remote` leaves nothing of it there.
#[test]
fn a_python_mode_runs_on_the_remote_and_sigterm_stops_it() {
    let python = common::python();
    let Some(sshd) = Sshd::start("python") else { return };
    let started = start_serve_remote(&sshd, &["--mode", "python-threaded", "--python", &python.display().to_string()]);
    let (mut local, addr, pid) = (started.local, started.addr, started.pid);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).map(|e| e.display().to_string()).unwrap_or_default();
    assert!(exe.contains("python"), "the announced pid {pid} runs {exe:?}, not Python");
    ping_loop(addr, 20);
    stop_serve_remote(&mut local);
    assert!(
        eventually(Duration::from_secs(10), || session_members(pid).is_empty()),
        "left running: {:?}",
        session_members(pid)
    );
}

/// `--idle-timeout` and `--memory-budget` reach the server there: a silent client is
/// closed after the idle limit (seen through the tunnel as EOF), and a Python mode,
/// which has no such limits, is refused with why.
#[test]
fn connection_limits_are_passed_to_the_remote_server() {
    let Some(sshd) = Sshd::start("limits") else { return };
    let started = start_serve_remote(&sshd, &["--idle-timeout", "1s", "--memory-budget", "1MiB"]);
    let (mut local, addr) = (started.local, started.addr);
    // Served first (the budget leaves room for a ping), but not past the budget.
    ping_loop(addr, 3);
    let mut conn = Connection::connect(addr).expect("connect to the remote server");
    let big = rpycbench::wire::Value::Bytes(vec![7u8; 2 << 20].into());
    let over = conn.call("upload", (big,)).map(drop);
    assert!(over.as_ref().is_err_and(|e| e.to_string().contains("MemoryError")), "2 MiB past a 1 MiB budget: {over:?}");
    drop(conn);
    let mut silent = std::net::TcpStream::connect(addr).expect("connect through the tunnel");
    silent.set_read_timeout(Some(Duration::from_secs(20))).expect("read timeout");
    let began = std::time::Instant::now();
    let mut byte = [0u8; 1];
    let read = std::io::Read::read(&mut silent, &mut byte);
    assert!(
        matches!(read, Ok(0) | Err(_)) && began.elapsed() < Duration::from_secs(15),
        "{read:?} after {:?}",
        began.elapsed()
    );
    assert!(began.elapsed() >= Duration::from_millis(900), "closed after {:?}, before the idle limit", began.elapsed());
    stop_serve_remote(&mut local);

    let out = serve_command(&sshd, &["--mode", "python-threaded", "--idle-timeout", "1s"]).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("apply to the native RPyC modes"), "{stderr}");
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
    assert!(stop_serve_remote(&mut local).success(), "SIGTERM is a clean stop");
    assert!(session_members(pid).is_empty(), "left running: {:?}", session_members(pid));
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("results JSON")
}

/// Every result of `set` records the remote (host, path, the network's round trip)
/// and the server's CPU, memory and processes sampled there.
fn assert_remote_results(set: &serde_json::Value, via: &str, out: &str) {
    let results = set["results"].as_array().expect("results");
    assert!(!results.is_empty(), "{out}");
    for r in results {
        let name = r["name"].as_str().unwrap_or("?");
        let remote = &r["server"]["remote"];
        assert_eq!(remote["host"], "root@127.0.0.1", "{name}: {remote}");
        assert_eq!(remote["via"], via, "{name}: {remote}");
        let rtt = &remote["network_rtt"];
        assert_eq!(rtt["round_trips"], 40, "{name}: 20 before and 20 after the run: {rtt}");
        let (min, median) = (rtt["min_ns"].as_u64().expect("min"), rtt["median_ns"].as_u64().expect("median"));
        assert!(min > 0 && min <= median, "{name}: {rtt}");
        let server = &r["system"]["server"];
        assert!(server["processes_max"].as_u64().unwrap_or(0) >= 1, "{name}: no remote processes sampled: {server}");
        assert!(server["rss_bytes_max"].as_u64().unwrap_or(0) > 0, "{name}: {server}");
    }
}

/// `suite --remote`: the threaded, forking and HTTP servers run on the remote one after
/// another, every result records the remote and the network's round trip and has the
/// server's figures sampled there, and nothing of it is left there afterwards.
#[test]
fn the_suite_runs_its_servers_on_the_remote_and_records_it() {
    let Some(sshd) = Sshd::start("suite") else { return };
    let out = common::TempDir::new("suite-remote-out");
    let json = out.0.join("r.json");
    let mut cmd = Command::new(BIN);
    cmd.args(["suite", "--quick", "--rounds", "1", "--bandwidth-sizes", "1KiB", "--out"]).arg(&out.0);
    cmd.arg("--json").arg(&json).args(sshd.remote_flags());
    let run = cmd.stdin(Stdio::null()).output().expect("run the suite");
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "{stdout}\n{stderr}\nsshd: {}", sshd.log());
    for mode in ["threaded", "forking", "http"] {
        assert!(stderr.contains(&format!("{mode} server on root@127.0.0.1 (pid ")), "{stderr}");
    }
    let set = read_json(&json);
    assert_remote_results(&set, "tunnel", &stderr);
    let modes: Vec<&str> =
        set["results"].as_array().unwrap().iter().filter_map(|r| r["server"]["mode"].as_str()).collect();
    assert!(modes.contains(&"forking") && modes.contains(&"http"), "{modes:?}");
    // The forking server's children (one per connection) are sampled there too.
    let forking = set["results"].as_array().unwrap().iter().find(|r| r["name"] == "concurrent[forking]").expect("ran");
    let processes = forking["system"]["server"]["processes_max"].as_u64().unwrap_or(0);
    assert!(processes > 1, "10 clients make the forking server fork: {}", forking["system"]);
    // The report shows each result's p50 beside the network's round trip, and its share.
    // One host and route for every row: said once, in the title.
    let section = stdout.split("Remote servers (host root@127.0.0.1, via tunnel)").nth(1);
    let section = section.unwrap_or_else(|| panic!("{stdout}"));
    let latency = section.lines().find(|l| l.contains("latency[threaded]")).expect("a row");
    assert!(latency.trim_end_matches(['│', ' ']).ends_with('%'), "the network's share of p50: {latency}");
    let summary = std::fs::read_to_string(out.0.join("summary.md")).expect("summary.md");
    assert!(summary.contains("Remote servers") && summary.contains("network share"), "{summary}");
    let html = std::fs::read_to_string(out.0.join("report.html")).expect("report.html");
    assert!(html.contains("Remote servers"), "the HTML report has the table too");
    assert!(sshd.cached_binaries_running().is_empty(), "left on the remote: {:?}", sshd.cached_binaries_running());
}

/// `sweep --remote --remote-bind`: each step's server runs there, reached directly, and
/// goes when its step is done.
#[test]
fn a_sweep_over_modes_runs_each_step_on_the_remote_directly() {
    let Some(sshd) = Sshd::start("sweep") else { return };
    let out = common::TempDir::new("sweep-remote-out");
    let json = out.0.join("sweep.json");
    let mut cmd = Command::new(BIN);
    cmd.args(["sweep", "--over", "mode", "--values", "threaded,forking", "--requests-per-client", "20"]);
    cmd.args(["--clients", "2", "--rounds", "1", "--remote-bind", "127.0.0.1", "--json"]).arg(&json);
    cmd.args(sshd.remote_flags());
    let run = cmd.stdin(Stdio::null()).output().expect("run the sweep");
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "{stdout}\n{stderr}\nsshd: {}", sshd.log());
    assert!(stderr.contains("reached directly"), "{stderr}");
    let set = read_json(&json);
    assert_eq!(set["results"].as_array().map(Vec::len), Some(2), "{set}");
    assert_remote_results(&set, "direct", &stderr);
    assert!(sshd.cached_binaries_running().is_empty(), "left on the remote: {:?}", sshd.cached_binaries_running());
}

/// The network drops mid-run (the ssh master connection is killed, as a lost network
/// ends it once its keep-alives go unanswered): the suite ends the benchmark that was
/// running with a clear reason instead of hanging, exits with an error, and nothing is
/// left on the remote.
#[test]
fn a_dropped_ssh_connection_mid_run_ends_the_suite_clearly_and_leaves_nothing_there() {
    let Some(sshd) = Sshd::start("drop") else { return };
    let out = common::TempDir::new("drop-remote-out");
    let mut cmd = Command::new(BIN);
    // Long enough a latency phase that it is surely running when the connection drops;
    // it never runs to its end.
    cmd.args(["suite", "--skip-forking", "--skip-http", "--rounds", "1", "--connections", "20"]);
    cmd.args(["--latency-duration", "10m", "--out"]).arg(&out.0).args(sshd.remote_flags());
    let mut suite = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("suite");
    let mut stderr = BufReader::new(suite.stderr.take().expect("piped"));
    let mut suite = common::KillOnDrop(suite);
    let mut said = String::new();
    // Progress goes to stderr line by line when it is not a terminal.
    while !said.contains("latency of ping()") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).expect("read stderr") > 0, "the suite ended early: {said}");
        said.push_str(&line);
    }
    let rest = std::thread::spawn(move || {
        let _ = std::io::Read::read_to_string(&mut stderr, &mut said);
        said
    });
    let suite_pid = suite.0.id();
    assert!(!sshd.cached_binaries_running().is_empty(), "the server runs there");
    let master = format!("rpycbench-ssh-{suite_pid}-");
    let masters: Vec<u32> = common::all_procs()
        .into_iter()
        .filter(|p| {
            let cmdline = std::fs::read(format!("/proc/{}/cmdline", p.pid)).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.contains(&master) && cmdline.contains("ControlMaster=yes")
        })
        .map(|p| p.pid)
        .collect();
    assert_eq!(masters.len(), 1, "one ssh master: {masters:?}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(masters[0] as i32), nix::sys::signal::Signal::SIGKILL)
        .expect("kill the ssh master");
    assert!(
        eventually(Duration::from_secs(20), || sshd.cached_binaries_running().is_empty()),
        "left on the remote after the connection dropped: {:?}",
        sshd.cached_binaries_running()
    );
    assert!(eventually(Duration::from_secs(60), || matches!(suite.0.try_wait(), Ok(Some(_)))), "the suite hangs");
    let status = suite.0.wait().expect("status");
    let stderr = rest.join().expect("stderr");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the ssh connection to root@127.0.0.1 has ended"), "{stderr}");
    assert!(stderr.contains("partial results"), "what was measured is kept: {stderr}");
}

/// `suite --remote --python` on a remote whose Python lacks rpyc: the error the remote
/// server gives, with the fix, and nothing measured against a missing server.
#[test]
fn the_suites_python_servers_on_a_remote_without_rpyc_say_how_to_fix_it() {
    let has_rpyc = Command::new("python3").args(["-c", "import rpyc"]).stderr(Stdio::null()).status();
    if !has_rpyc.is_ok_and(|s| !s.success()) {
        eprintln!("skipped: python3 is missing or has rpyc, so it cannot stand for a remote without rpyc");
        return;
    }
    let Some(sshd) = Sshd::start("suite-nopython") else { return };
    let out = common::TempDir::new("suite-nopython-out");
    let mut cmd = Command::new(BIN);
    cmd.args(["suite", "--quick", "--python", "--skip-threaded", "--skip-forking", "--skip-http", "--out"]);
    cmd.arg(&out.0).args(sshd.remote_flags());
    let run = cmd.stdin(Stdio::null()).output().expect("run the suite");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("has no rpyc module") && stderr.contains("-m pip install rpyc==6.0.2"), "{stderr}");
    assert!(sshd.cached_binaries_running().is_empty(), "left on the remote: {:?}", sshd.cached_binaries_running());
}

/// `serve --remote --mode http`: the HTTP baseline runs there too, and answers over the
/// tunnel.
#[test]
fn the_http_baseline_serves_remotely() {
    let Some(sshd) = Sshd::start("http") else { return };
    let started = start_serve_remote(&sshd, &["--mode", "http"]);
    let (mut local, addr, said) = (started.local, started.addr, started.said);
    assert!(said.contains("http server on root@127.0.0.1"), "{said}");
    let mut client = rpycbench::http::HttpClient::new(addr);
    client.ping().expect("GET /ping through the tunnel");
    assert!(stop_serve_remote(&mut local).success());
    assert!(sshd.cached_binaries_running().is_empty(), "left there: {:?}", sshd.cached_binaries_running());
}
