//! The suite (`rpycbench` with no subcommand) as CI runs it: the real binary starting
//! its threaded, forking and HTTP servers, checked by exit status (0, 1, 2 and 4 as
//! documented), stderr and the results it writes, even when a server dies mid-run.

mod common;

use common::{eventually, proc_stat};
use rpycbench::metrics::ResultSet;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits for any one reply before it fails.
const REPLY: Duration = Duration::from_secs(15);

#[test]
fn the_suite_compares_rpyc_with_http() {
    // Threaded, forking and HTTP together, at tiny counts: every request succeeds.
    let out = std::env::temp_dir().join(format!("rpycbench-http-suite-{}", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
        .args(["--connections", "5", "--requests", "30", "--clients", "2", "--requests-per-client", "10"])
        .args(["--bandwidth-sizes", "1024", "--bandwidth-iterations", "2", "--warmup", "1", "--quiet", "--out"])
        .arg(&out)
        .stdin(Stdio::null())
        .status()
        .expect("running the suite");
    let results = ResultSet::load(&out.join("results.json")).expect("results.json");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&out);
    assert!(status.success(), "suite exited {status}");
    // The headline: each pair of servers as ratios of median latency with intervals.
    for pair in ["threaded vs http (RPyC against HTTP): latency ", "threaded vs forking (threaded against forking): "] {
        let line = summary.lines().find(|l| l.contains(pair)).unwrap_or_else(|| panic!("{pair:?} in:\n{summary}"));
        assert_eq!(line.matches("× \\[").count(), 3, "latency, connect and concurrent with intervals: {line}");
    }
    let names: Vec<&str> = results.results.iter().map(|r| r.name.as_str()).collect();
    for kind in ["connection", "latency", "bandwidth", "concurrent"] {
        for server in ["threaded", "forking", "http"] {
            assert!(names.contains(&format!("{kind}[{server}]").as_str()), "{kind}[{server}] missing from {names:?}");
        }
    }
    assert_eq!(names.len(), 12, "{names:?}");
    for r in &results.results {
        assert!(r.outcomes.attempts > 0 && r.outcomes.success_rate == 1.0, "{}: {:?}", r.name, r.outcomes);
    }
    results.results.iter().filter(|r| r.name.ends_with("[http]")).for_each(common::assert_http_result);
    // What each latency and concurrent phase calls is recorded, as `bench` records --call.
    for r in results.results.iter().filter(|r| r.name.starts_with("latency[") || r.name.starts_with("concurrent[")) {
        assert_eq!(
            (r.params.get("method"), r.params.get("call")),
            (Some(&"ping".into()), Some(&"ping()".into())),
            "{}",
            r.name
        );
    }

    // Bad counts and a file as --out are refused (exit 2) before any server starts.
    let file = std::env::temp_dir().join(format!("rpycbench-http-suite-file-{}", std::process::id()));
    std::fs::write(&file, "").expect("write a file");
    let file_arg = file.to_str().expect("utf-8 path");
    for (args, message) in [
        (vec!["--clients", "0"], "--clients: clients must be from 1"),
        (vec!["--requests", "0"], "--requests must be at least 1"),
        (vec!["--connections", "0"], "--connections must be at least 1"),
        (vec!["--chunk-size", "0"], "--chunk-size must be from 1"),
        (vec!["--bandwidth-sizes", "0"], "--bandwidth-sizes: payload size 0"),
        (vec!["--rate", "1e-9"], "would take"),
        (vec!["--out", file_arg], "is an existing file"),
    ] {
        let started = Instant::now();
        let run = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
            .args(&args)
            .arg("--quiet")
            .stdin(Stdio::null())
            .output()
            .expect("running the suite");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: expected {message:?} in {stderr}");
        assert!(started.elapsed() < Duration::from_secs(5), "{args:?} ran something first");
    }
    let _ = std::fs::remove_file(&file);

    // An interpreter without rpyc (here: none at all) fails the run before any server
    // starts, naming what to fix; nothing is written.
    let out = std::env::temp_dir().join(format!("rpycbench-http-suite-nopython-{}", std::process::id()));
    let started = Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
        .args(["--skip-http", "--python", "--python-interpreter", "/nonexistent/python3", "--quiet", "--out"])
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .expect("running the suite");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("'/nonexistent/python3' not found") && stderr.contains("pip install rpyc==6.0.2"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "a server ran first: {stderr}");
    assert!(!out.join("results.json").exists(), "nothing was measured, nothing is written");
    let _ = std::fs::remove_dir_all(&out);

    // A server that fails to start ends the run, but what ran before it is written.
    let out = std::env::temp_dir().join(format!("rpycbench-http-suite-partial-{}", std::process::id()));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
    let port = taken.local_addr().expect("its address").port().to_string();
    let run = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
        .args(["--skip-http", "--forking-port", &port])
        .args(["--connections", "2", "--requests", "5", "--clients", "1", "--requests-per-client", "2"])
        .args(["--bandwidth-sizes", "1024", "--bandwidth-iterations", "1", "--warmup", "0", "--quiet", "--out"])
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .expect("running the suite");
    drop(taken);
    let partial = ResultSet::load(&out.join("results.json"));
    let _ = std::fs::remove_dir_all(&out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the forking server did not start"), "{stderr}");
    assert!(stderr.contains("the results measured before it were written"), "{stderr}");
    let partial = partial.expect("the threaded server's results were written");
    let why = partial.partial.as_deref().unwrap_or_default();
    assert!(why.contains("the forking server did not start"), "flagged partial: {why:?}");
    assert_eq!(partial.results.len(), 4, "{:?}", partial.results.iter().map(|r| &r.name).collect::<Vec<_>>());

    // Skipping everything, HTTP included, is an error rather than an empty run.
    let skipped = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
        .args(["--skip-threaded", "--skip-forking", "--skip-http", "--quiet"])
        .stdin(Stdio::null())
        .output()
        .expect("running the suite");
    assert!(!skipped.status.success());
    assert!(String::from_utf8_lossy(&skipped.stderr).contains("every server is skipped"));
}

/// The suite's own stderr message before its first phase (see `cli/suite.rs`); the
/// test below stalls the suite right after it.
const BEFORE_FIRST_PHASE: &str = "starting the threaded server\n";

/// The suite process and the server it started: both killed on drop if still there
/// (the server lives in its own session, so killing the suite would not end it).
struct SuiteRun {
    suite: std::process::Child,
    server: Option<u32>,
}

impl Drop for SuiteRun {
    fn drop(&mut self) {
        if let Some(pid) = self.server {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
        }
        if self.suite.try_wait().ok().flatten().is_none() {
            let _ = self.suite.kill();
            let _ = self.suite.wait();
        }
    }
}

/// The suite's threaded server dies (SIGKILL) after it started and before the first
/// benchmark: the first phase finds the server's process gone at its first refused
/// connection and stops there, the server's other phases are skipped, and the suite
/// says the server died, writes what it measured flagged partial, and exits 1.
///
/// No timing is involved: the suite's stderr is a one-page pipe filled so that only
/// its "starting the threaded server" line still fits. Its next line (the first
/// phase's progress) then blocks in `write(2, …)` until the test reads the pipe, and
/// the test kills the server while the suite is held there.
#[test]
fn the_suite_says_when_its_server_died_and_keeps_what_it_measured() {
    use nix::fcntl::{fcntl, FcntlArg};
    // The test watches the suite's system call in /proc, which a hardened kernel (Yama
    // ptrace scope 2+) or a sandbox may hide: say so rather than wait and blame the suite.
    assert!(
        std::fs::read_to_string("/proc/self/syscall").is_ok(),
        "this test needs /proc/PID/syscall, which this system does not let it read"
    );
    let out = std::env::temp_dir().join(format!("rpycbench-suite-exit4-{}", std::process::id()));
    let (mut stderr, filler) = std::io::pipe().expect("a pipe");
    fcntl(&filler, FcntlArg::F_SETPIPE_SZ(4096)).expect("shrink the pipe");
    let capacity = fcntl(&filler, FcntlArg::F_GETPIPE_SZ).expect("pipe size") as usize;
    (&filler).write_all(&vec![b'.'; capacity - BEFORE_FIRST_PHASE.len()]).expect("fill the pipe");
    let suite = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
        .args(["--skip-forking", "--skip-http", "--connections", "3", "--requests", "5", "--warmup", "1"])
        .args(["--bandwidth-sizes", "1024", "--bandwidth-iterations", "2", "--clients", "2"])
        .args(["--requests-per-client", "3", "--out"])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(filler) // The Command (and so this end) is dropped at the end of the statement.
        .spawn()
        .expect("spawning the suite");
    let mut run = SuiteRun { suite, server: None };
    let pid = run.suite.id();
    let mut stdout = run.suite.stdout.take().expect("piped stdout");
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });

    // Held: the suite's main thread blocked writing to fd 2, its server started.
    let blocked_on_stderr = format!("{} 0x2 ", nix::libc::SYS_write);
    let held = eventually(Duration::from_secs(30), || {
        std::fs::read_to_string(format!("/proc/{pid}/syscall")).is_ok_and(|s| s.starts_with(&blocked_on_stderr))
    });
    assert!(held, "the suite never blocked writing its stderr (exited: {:?})", run.suite.try_wait());
    let children: Vec<u32> = common::all_procs().iter().filter(|p| p.ppid == pid).map(|p| p.pid).collect();
    let [server] = children[..] else {
        panic!("expected the threaded server as the suite's only child, found {children:?}: does the suite still print {BEFORE_FIRST_PHASE:?} before its first phase?")
    };
    run.server = Some(server);
    let [port] = common::listening_ports(server)[..] else {
        panic!("the server should listen on one port: {:?}", common::listening_ports(server))
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(server as i32), nix::sys::signal::Signal::SIGKILL)
        .expect("kill the server");
    // A zombie has closed its sockets: from now on connections are refused, and the
    // port is held so that no other test can start listening there meanwhile.
    assert!(eventually(REPLY, || proc_stat(server).is_none_or(|p| p.state == 'Z')), "the server did not die");
    let _closed = common::ClosedPort::at(port).unwrap_or_else(|e| panic!("hold the dead server's port {port}: {e}"));
    // Dead: once the suite reaps it, its pid may be another process's, not to be killed.
    run.server = None;

    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = common::exit_within(&mut run.suite, Duration::from_secs(60), "the suite, after its server died,");
    let stderr = reader.join().expect("stderr reader");
    let stderr = stderr.trim_start_matches('.');
    let stdout = stdout.join().expect("stdout reader");
    let results = ResultSet::load(&out.join("results.json"));
    let reports = ["summary.md", "report.html"].map(|f| out.join(f).is_file());
    let _ = std::fs::remove_dir_all(&out);

    assert_eq!(status.code(), Some(1), "{status}\nstderr:\n{stderr}\nstdout:\n{stdout}");
    assert!(stderr.starts_with(BEFORE_FIRST_PHASE), "{stderr}");
    let gone = format!("the server's process {server} is gone (it exited or was killed)");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("rpycbench: the threaded server's benchmarks stopped at connection[threaded]: ")
            && last.contains(&gone),
        "{stderr}"
    );
    assert!(stderr.contains("rpycbench: partial results: "), "{stderr}");
    let results = results.expect("results.json was written");
    assert_eq!(reports, [true, true], "summary.md and report.html were written too");
    assert!(stdout.contains("results written to"), "{stdout}");
    assert!(stdout.contains("Ended early") && stdout.contains(&format!("connection[threaded]: {gone}")), "{stdout}");
    assert!(results.partial.as_deref().is_some_and(|p| p.contains(&gone)), "{:?}", results.partial);
    // The first phase stopped at its first failure; the others were not run.
    let [r] = &results.results[..] else {
        panic!("only connection[threaded] ran: {:?}", results.results.iter().map(|r| &r.name).collect::<Vec<_>>())
    };
    assert_eq!(r.name, "connection[threaded]");
    assert_eq!((r.outcomes.attempts, r.outcomes.failures), (1, 1), "{:?}", r.outcomes);
    let ended = r.ended_early.as_ref().expect("the result says it ended early");
    assert_eq!(ended.reason, rpycbench::metrics::StopReason::ServerGone, "{ended:?}");
    assert!(r.outcomes.errors.iter().all(|e| e.message.contains("Connection refused")), "{:?}", r.outcomes.errors);
}
