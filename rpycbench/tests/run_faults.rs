//! Runs that end well whatever happens, with real processes: a suite interrupted by
//! SIGINT or SIGTERM writes what it measured, flagged partial, and leaves no process
//! behind; a SIGKILLed suite leaves none either (its servers have a parent-death
//! signal); a stopped or dead server ends a run within a bound and is named as such;
//! an unwritable output fails before any benchmark runs.

mod common;

use common::{all_procs, eventually, exit_within, proc_stat, start_server, KillOnDrop, TempDir};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rpycbench::bench::{Latency, Target, BREAKER_TIMEOUTS};
use rpycbench::client::Config;
use rpycbench::metrics::{ResultSet, StopReason};
use rpycbench::server::ServerMode;
use rpycbench::Connection;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rpycbench");

/// How long a killed suite's processes may take to be gone. They go in milliseconds;
/// the margin is for a loaded machine.
const GONE_WITHIN: Duration = Duration::from_secs(15);

/// Processes a test found running for a run it started; SIGKILLed on drop if still
/// there, so a failing test leaves nothing behind either.
struct Tree(Vec<u32>);

impl Drop for Tree {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if alive(pid) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
}

/// Alive: present and not a zombie (a zombie holds no socket, memory or CPU).
fn alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|p| p.state != 'Z')
}

/// Every process descending from `root` (children, their children, …) and every member
/// of a session one of them leads (servers run in sessions of their own).
fn descendants(root: u32) -> Vec<u32> {
    let procs = all_procs();
    let mut found: HashSet<u32> = HashSet::from([root]);
    loop {
        let sessions: HashSet<u32> =
            procs.iter().filter(|p| found.contains(&p.pid) && p.session == p.pid).map(|p| p.pid).collect();
        let before = found.len();
        for p in &procs {
            if found.contains(&p.ppid) || (p.pid != root && sessions.contains(&p.session)) {
                found.insert(p.pid);
            }
        }
        if found.len() == before {
            break;
        }
    }
    found.remove(&root);
    let mut pids: Vec<u32> = found.into_iter().filter(|&p| alive(p)).collect();
    pids.sort_unstable();
    pids
}

/// Lines of a child's stderr as they come, kept in order.
struct Lines {
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn of(child: &mut Child) -> Lines {
        let pipe = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { rx, seen: Vec::new() }
    }

    /// Waits (at most `within`) for a line containing `text`.
    fn wait_for(&mut self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.seen.iter().any(|l| l.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("no line with {text:?} within {within:?}; stderr so far:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Everything printed, once the child has exited.
    fn rest(mut self) -> String {
        while let Ok(line) = self.rx.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

/// A suite on one forking server, `forking` (native) or `python-forking` (a server in
/// its own session, with forked children), whose latency phase runs two minutes:
/// started, and waited for until its first phase has finished and the latency phase
/// holds a forked connection.
fn suite_in_latency(out: &Path, mode: &str) -> (KillOnDrop, Lines, Tree) {
    let only: &[&str] = match mode {
        "forking" => &["--skip-threaded", "--skip-http"],
        _ => &["--skip-threaded", "--skip-forking", "--skip-http", "--python", "--skip-python-threaded"],
    };
    let mut suite = KillOnDrop(
        Command::new(BIN)
            .args(only)
            .arg("--python-interpreter")
            .arg(common::python())
            .args(["--connections", "5", "--rounds", "2", "--warmup", "1"])
            .args(["--latency-duration", "120s", "--out"])
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the suite"),
    );
    let mut lines = Lines::of(&mut suite.0);
    lines.wait_for(&format!("{mode}: latency"), Duration::from_secs(60));
    let pid = suite.0.id();
    // The server and the child it forked for the latency connection.
    let forked = eventually(Duration::from_secs(30), || {
        let tree = descendants(pid);
        tree.iter().any(|&p| proc_stat(p).is_some_and(|s| tree.contains(&s.ppid)))
    });
    let tree = Tree(descendants(pid));
    assert!(forked, "the forking server never forked a connection; the suite's processes: {:?}", tree.0);
    // The server leads its session; the child it forked has the same command line, so
    // the session test is what tells them apart (taking whichever came first in the
    // listing made this wait on a session nobody leads, now and then).
    let server = tree.0.iter().copied().find(|&p| {
        proc_stat(p).is_some_and(|s| s.session == p)
            && std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.windows(5).any(|w| w == b"serve"))
    });
    wait_until_serving(server.expect("the suite's server is among its processes"));
    (suite, lines, tree)
}

/// CPU time (user + system, in clock ticks) the processes of session `sid` have used.
fn session_cpu_ticks(sid: u32) -> u64 {
    all_procs()
        .iter()
        .filter(|p| p.session == sid)
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{}/stat", p.pid)).ok())
        .map(|stat| {
            // utime and stime: fields 14 and 15, the 12th and 13th after the state.
            let after = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
            after.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum::<u64>()
        })
        .sum()
}

/// Waits until the server of session `sid` has served for 100 ms of CPU since now: the
/// measured part of a run is under way (its warm-up is a few requests).
fn wait_until_serving(sid: u32) {
    let start = session_cpu_ticks(sid);
    let busy = eventually(Duration::from_secs(60), || session_cpu_ticks(sid) >= start + 10);
    assert!(busy, "the server of session {sid} never got busy");
}

fn signal(pid: u32, signal: Signal) {
    kill(Pid::from_raw(pid as i32), signal).unwrap_or_else(|e| panic!("{signal} to {pid}: {e}"));
}

fn assert_all_gone(tree: &Tree, what: &str) {
    let gone = eventually(GONE_WITHIN, || tree.0.iter().all(|&p| !alive(p)));
    let left: Vec<_> = tree.0.iter().filter(|&&p| alive(p)).filter_map(|&p| proc_stat(p)).collect();
    assert!(gone, "{what}: processes of the suite still running after {GONE_WITHIN:?}: {left:?}");
}

#[test]
fn an_interrupted_suite_writes_partial_results_and_leaves_nothing_behind() {
    for (sig, code) in [(Signal::SIGINT, 130), (Signal::SIGTERM, 143)] {
        let out = TempDir::new(&format!("suite-{sig}"));
        let (mut suite, lines, tree) = suite_in_latency(&out.0, "forking");
        assert!(tree.0.len() >= 2, "{sig}: expected the server and its forked child at least: {:?}", tree.0);
        signal(suite.0.id(), sig);
        let status = exit_within(&mut suite.0, Duration::from_secs(30), "the interrupted suite");
        let stderr = lines.rest();
        assert_eq!(status.code(), Some(code), "{sig}: {status}\n{stderr}");
        assert_all_gone(&tree, &format!("{sig}"));

        let results = ResultSet::load(&out.0.join("results.json")).unwrap_or_else(|e| panic!("{sig}: {e}\n{stderr}"));
        let name = sig.as_str();
        assert_eq!(results.partial.as_deref(), Some(format!("interrupted by {name}").as_str()), "{sig}");
        assert!(stderr.contains(&format!("rpycbench: partial results: interrupted by {name}")), "{stderr}");
        let names: Vec<&str> = results.results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["connection[forking]", "latency[forking]"], "{sig}");
        let [connection, latency] = &results.results[..] else { unreachable!("two names, two results") };
        assert_eq!(connection.ended_early, None, "the finished phase is whole");
        assert_eq!((connection.outcomes.attempts, connection.outcomes.failures), (5, 0));
        let ended = latency.ended_early.as_ref().expect("the interrupted phase says so");
        assert_eq!(ended.reason, StopReason::Interrupted, "{sig}");
        assert!(latency.outcomes.successes > 0, "{sig}: the latency phase kept what it measured");
        for report in ["summary.md", "report.html"] {
            let text = std::fs::read_to_string(out.0.join(report)).unwrap_or_else(|e| panic!("{sig}: {report}: {e}"));
            assert!(text.contains(&format!("partial results: interrupted by {name}")), "{sig}: {report} says partial");
            assert!(text.contains("Ended early"), "{sig}: {report} names what ended early");
        }
    }
}

/// A suite whose request is stuck on a server that stopped (SIGSTOP, all its
/// processes) gets SIGINT: the run cannot notice in time (the request waits for its
/// 30 s timeout), so after the grace period the benchmarks finished so far are written,
/// flagged partial, and the suite exits 130; its stopped server dies with it.
#[test]
fn an_interrupted_suite_stuck_on_a_stopped_server_still_writes_and_exits() {
    for mode in ["forking", "python-forking"] {
        stuck_on_a_stopped_server(mode);
    }
}

fn stuck_on_a_stopped_server(mode: &str) {
    let out = TempDir::new(&format!("suite-stuck-{mode}"));
    let (mut suite, lines, tree) = suite_in_latency(&out.0, mode);
    let pid = suite.0.id();
    let server = tree.0.iter().copied().find(|&p| proc_stat(p).is_some_and(|s| s.ppid == pid && s.session == p));
    let server = server.expect("the suite's server leads a session");
    // The whole process group: the server and the child serving the latency connection.
    kill(Pid::from_raw(-(server as i32)), Signal::SIGSTOP).expect("stop the server's processes");
    // The suite's main thread (the latency loop) waits in one system call for a reply.
    let syscall = || std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    let blocked = eventually(Duration::from_secs(30), || {
        let first = syscall();
        std::thread::sleep(Duration::from_millis(200));
        !first.starts_with("running") && !first.is_empty() && first == syscall()
    });
    assert!(blocked, "the suite never blocked on its stopped server: {}", syscall());
    signal(pid, Signal::SIGINT);
    let at = Instant::now();
    let status = exit_within(&mut suite.0, Duration::from_secs(30), "the suite stuck on a stopped server");
    let took = at.elapsed();
    let stderr = lines.rest();
    assert_eq!(status.code(), Some(130), "{status}\n{stderr}");
    assert!(took < Duration::from_secs(15), "took {took:?}: the grace is 3 s");
    assert_all_gone(&tree, &format!("SIGINT with a stopped {mode} server"));
    let results = ResultSet::load(&out.0.join("results.json")).unwrap_or_else(|e| panic!("{e}\n{stderr}"));
    let why = results.partial.as_deref().unwrap_or_default();
    assert!(why.starts_with("interrupted by SIGINT; the benchmark in progress did not stop within 3s"), "{why}");
    let names: Vec<&str> = results.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, [format!("connection[{mode}]")], "the finished benchmark is kept, the stuck one is lost");
    assert!(stderr.contains("partial results (1 benchmarks finished) written"), "{stderr}");
}

#[test]
fn a_killed_suite_leaves_no_server_behind() {
    for mode in ["forking", "python-forking"] {
        let out = TempDir::new(&format!("suite-kill-{mode}"));
        let (mut suite, _lines, tree) = suite_in_latency(&out.0, mode);
        signal(suite.0.id(), Signal::SIGKILL);
        let status = exit_within(&mut suite.0, Duration::from_secs(10), "the killed suite");
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{status}");
        assert_all_gone(&tree, &format!("SIGKILL, {mode} server"));
    }
}

/// The bound a stopped server gets: the breaker trips at the 3rd unanswered request
/// in a row (`BREAKER_TIMEOUTS`), each costing one `--timeout`, so at most 3 × 1 s here
/// (concurrent clients time out together: 1–2 s measured); 10 s leaves room for a
/// loaded machine. Without the breaker this run took 200 s (200 requests × 1 s).
const STOPPED_SERVER_BOUND: Duration = Duration::from_secs(10);

#[test]
fn a_stopped_server_ends_bench_within_the_bound_with_results_written() {
    let server = start_server(ServerMode::Threaded);
    let pid = server.pid();
    let out = TempDir::new("stopped");
    let json = out.0.join("concurrent.json");
    let before = common::fd_count(pid);
    let mut bench = KillOnDrop(
        Command::new(BIN)
            .args(["bench", "concurrent", "--connect", &server.addr().to_string(), "--timeout", "1s"])
            .args(["--clients", "8", "--requests-per-client", "200", "--call", "io_work", "--args", "[0.1]"])
            .arg("--json")
            .arg(&json)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bench"),
    );
    // All 8 clients connected; a second later the measured part is under way (their
    // warm-up is 2 requests of 0.1 s), and it lasts 20 s (200 requests of 0.1 s each).
    let connected = eventually(Duration::from_secs(30), || common::fd_count(pid) >= before + 8);
    assert!(connected, "the 8 clients never connected");
    std::thread::sleep(Duration::from_secs(1));
    signal(pid, Signal::SIGSTOP);
    let stopped_at = Instant::now();
    let status = exit_within(&mut bench.0, Duration::from_secs(60), "bench against a stopped server");
    let took = stopped_at.elapsed();
    signal(pid, Signal::SIGCONT);
    drop(server);
    let output = bench.0.wait_with_output_now();
    assert!(took < STOPPED_SERVER_BOUND, "bench ran {took:?} after its server stopped\n{output}");
    assert_eq!(status.code(), Some(10), "requests failed, so the default SLA is violated: {output}");
    let results = ResultSet::load(&json).unwrap_or_else(|e| panic!("{e}\n{output}"));
    let r = &results.results[0];
    let ended = r.ended_early.as_ref().expect("the result says why it ended");
    assert_eq!(ended.reason, StopReason::ServerNotAnswering, "{ended:?}");
    assert!(ended.detail.contains("the server stopped answering"), "{ended:?}");
    assert!(results.partial.as_deref().is_some_and(|p| p.contains("stopped answering")), "{:?}", results.partial);
    // Stopped in the measured part: its requests in flight timed out, and the run ended
    // long before its 1600 requests.
    assert!(r.outcomes.failures >= u64::from(BREAKER_TIMEOUTS), "{:?}", r.outcomes);
    assert!(r.outcomes.attempts < 1600 && r.outcomes.successes > 0, "{:?}", r.outcomes);
    assert!(output.contains("ended early: concurrent[io_work]: the server stopped answering"), "{output}");
    println!("bench ended {took:?} after its server was stopped (--timeout 1s)");
    assert!(output.contains("partial results"), "{output}");
}

/// What a [`KillOnDrop`] child printed, read once it has exited.
trait OutputNow {
    fn wait_with_output_now(&mut self) -> String;
}

impl OutputNow for Child {
    fn wait_with_output_now(&mut self) -> String {
        use std::io::Read;
        let mut text = String::new();
        if let Some(mut out) = self.stdout.take() {
            let _ = out.read_to_string(&mut text);
        }
        if let Some(mut err) = self.stderr.take() {
            let _ = err.read_to_string(&mut text);
        }
        text
    }
}

/// A started server's process is known: a run tells a stopped one from a dead one.
#[test]
fn a_known_server_is_named_stopped_or_gone() {
    for (sig, reason, says) in [
        (Signal::SIGSTOP, StopReason::ServerNotAnswering, "is stopped"),
        (Signal::SIGKILL, StopReason::ServerGone, "is gone"),
    ] {
        let server = start_server(ServerMode::Threaded);
        let pid = server.pid();
        let config = Config::default().request_timeout(Duration::from_millis(500));
        let target = Target::server_with(&server, move |addr| Connection::connect_with(addr, config.clone()));
        let before = common::fd_count(pid);
        let run = std::thread::spawn(move || {
            Latency::new("ping")
                .requests(100_000_000)
                .deadline(Duration::from_secs(120))
                .sample_system(false)
                .run(&target, |c| c.call("ping", ()).map(drop))
        });
        assert!(eventually(Duration::from_secs(30), || common::fd_count(pid) > before), "{sig}: never connected");
        signal(pid, sig);
        let at = Instant::now();
        let within = eventually(Duration::from_secs(30), || run.is_finished());
        let took = at.elapsed();
        if sig == Signal::SIGSTOP {
            signal(pid, Signal::SIGCONT);
        }
        assert!(within, "{sig}: the run went on");
        let r = run.join().expect("the run does not panic");
        let ended = r.ended_early.expect("ended early");
        assert_eq!(ended.reason, reason, "{sig}: {}", ended.detail);
        assert!(ended.detail.contains(&format!("process {pid} {says}")), "{sig}: {}", ended.detail);
        // Three timeouts of 0.5 s in a row, at most; a dead server is seen at once.
        assert!(took < Duration::from_secs(8), "{sig}: took {took:?}");
        drop(server);
    }
}

/// A directory no file can be created in: read-only for an unprivileged user; as root
/// (which ignores permission bits) sysfs, where even root cannot create files.
fn unwritable_dir(tmp: &TempDir) -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let dir = if unsafe { nix::libc::geteuid() } == 0 {
        PathBuf::from("/sys")
    } else {
        use std::os::unix::fs::PermissionsExt;
        let dir = tmp.0.join("read-only");
        std::fs::create_dir(&dir).expect("create a directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).expect("make it read-only");
        dir
    };
    assert!(
        std::fs::File::create(dir.join("rpycbench-probe")).is_err(),
        "precondition: {} should refuse new files",
        dir.display()
    );
    dir
}

/// `bench --json`, `sweep --json` and the suite's `--out`/`--json` that cannot be
/// written fail with exit 2 at once: before the seconds the run would take, and before
/// any server starts.
#[test]
fn unwritable_outputs_fail_before_any_benchmark() {
    let tmp = TempDir::new("unwritable");
    let ro = unwritable_dir(&tmp);
    let file = tmp.0.join("a-file");
    std::fs::write(&file, "").expect("write a file");
    let server = start_server(ServerMode::Threaded);
    let addr = server.addr().to_string();
    let run = |args: &[&str], out_flag: &str, out: &Path| {
        let started = Instant::now();
        let output = Command::new(BIN).args(args).arg(out_flag).arg(out).stdin(Stdio::null()).output().expect("run");
        (started.elapsed(), output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let bench = ["bench", "latency", "--connect", &addr, "--call", "ping", "--duration", "5s"];
    let suite = ["--skip-forking", "--skip-http", "--latency-duration", "5s", "--connections", "3"];
    let sweep = ["sweep", "--over", "clients", "--values", "1,2,4,8", "--requests-per-client", "20000"];
    for (args, flag, out, says) in [
        (&sweep[..], "--json", ro.join("x.json"), "cannot write in"),
        (&bench[..], "--json", ro.join("x.json"), "cannot write in"),
        (&bench[..], "--json", file.join("x.json"), "cannot create"),
        (&suite[..], "--out", ro.join("results"), "cannot create"),
        (&suite[..], "--out", ro.clone(), "cannot write in"),
        (&suite[..], "--out", file.join("results"), "cannot create"),
    ] {
        let (took, code, stderr) = run(args, flag, &out);
        let shown = out.display();
        assert_eq!(code, Some(2), "{flag} {shown}: {stderr}");
        assert!(stderr.contains(flag) && stderr.contains(says), "{flag} {shown}: expected {says:?} in {stderr}");
        assert!(took < Duration::from_millis(2500), "{flag} {shown}: took {took:?}, as if it ran first");
        assert!(!stderr.contains("starting the"), "{flag} {shown}: a server was started first: {stderr}");
    }
    let suite_json = ["--skip-forking", "--skip-http", "--latency-duration", "5s", "--out"];
    let out = tmp.0.join("out");
    let (took, code, stderr) =
        run(&[&suite_json[..], &[out.to_str().expect("utf-8")]].concat(), "--json", &ro.join("x.json"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--json") && stderr.contains("cannot write in"), "{stderr}");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
}

/// `bench latency` of `ping` for two minutes against `addr`, its results to `json`.
fn two_minutes_of_pings(addr: std::net::SocketAddr, json: &std::path::Path) -> KillOnDrop {
    KillOnDrop(
        Command::new(BIN)
            .args(["bench", "latency", "--connect", &addr.to_string(), "--call", "ping"])
            .args(["--duration", "120s", "--json"])
            .arg(json)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bench"),
    )
}

/// `bench` interrupted mid-run writes its result so far, flagged, and exits 130.
#[test]
fn an_interrupted_bench_writes_what_it_measured() {
    let server = start_server(ServerMode::Threaded);
    let tmp = TempDir::new("bench-int");
    let json = tmp.0.join("latency.json");
    let mut bench = two_minutes_of_pings(server.addr(), &json);
    let mut lines = Lines::of(&mut bench.0);
    lines.wait_for("ping() for 2m", Duration::from_secs(30));
    wait_until_serving(server.pid());
    signal(bench.0.id(), Signal::SIGINT);
    let status = exit_within(&mut bench.0, Duration::from_secs(30), "the interrupted bench");
    let stderr = lines.rest();
    assert_eq!(status.code(), Some(130), "{status}\n{stderr}");
    let results = ResultSet::load(&json).unwrap_or_else(|e| panic!("{e}\n{stderr}"));
    assert_eq!(results.partial.as_deref(), Some("interrupted by SIGINT"));
    let r = &results.results[0];
    assert_eq!(r.ended_early.as_ref().map(|e| e.reason), Some(StopReason::Interrupted));
    assert!(r.outcomes.successes > 0 && r.outcomes.failures == 0, "{:?}", r.outcomes);
}

/// The parent-death signal is sent when the *thread* that forked exits: a server
/// started from a thread that ends (a benchmark's worker) must live on.
#[test]
fn a_server_started_from_a_short_lived_thread_outlives_it() {
    let server = std::thread::spawn(|| start_server(ServerMode::Threaded)).join().expect("the thread starts it");
    // The signal, had it been sent, was sent when the thread exited, before join returned.
    std::thread::sleep(Duration::from_millis(200));
    assert!(alive(server.pid()), "the server died with the thread that started it");
    let mut conn = Connection::connect(server.addr()).expect("the server still accepts");
    assert_eq!(conn.call("ping", ()).expect("and answers").as_value().and_then(|v| v.as_str()), Some("pong"));
}

/// A server known only by its address that dies mid-run: `bench` says it is gone
/// (it answered before, now nothing listens), not only "connection refused".
#[test]
fn bench_says_when_its_external_server_is_gone() {
    let server = start_server(ServerMode::Threaded);
    let pid = server.pid();
    let tmp = TempDir::new("bench-gone");
    let json = tmp.0.join("latency.json");
    let mut bench = two_minutes_of_pings(server.addr(), &json);
    wait_until_serving(pid);
    signal(pid, Signal::SIGKILL);
    let killed_at = Instant::now();
    let status = exit_within(&mut bench.0, Duration::from_secs(60), "bench after its server died");
    let took = killed_at.elapsed();
    drop(server);
    let output = bench.0.wait_with_output_now();
    assert!(took < Duration::from_secs(10), "bench ran {took:?} after its server died\n{output}");
    assert_eq!(status.code(), Some(10), "{output}");
    let results = ResultSet::load(&json).unwrap_or_else(|e| panic!("{e}\n{output}"));
    let ended = results.results[0].ended_early.as_ref().expect("ended early");
    assert_eq!(ended.reason, StopReason::ServerGone, "{ended:?}");
    assert!(ended.detail.starts_with("the server is gone: it answered earlier in the run"), "{ended:?}");
    assert!(output.contains("ended early: latency[ping]: the server is gone"), "{output}");
}

/// Every kind stops at its deadline with what it measured, marked as such, against a
/// server that answers well: a run asked for a billion requests ends in about a second.
#[test]
fn every_kind_stops_at_its_deadline() {
    use rpycbench::bench::{Bandwidth, Concurrent, ConnectionBench};
    use rpycbench::metrics::BenchResult;
    let server = start_server(ServerMode::Threaded);
    let deadline = Duration::from_millis(500);
    fn ping(c: &mut Connection) -> rpycbench::Result<()> {
        c.call("ping", ()).map(drop)
    }
    type Run = fn(Target, Duration) -> BenchResult;
    let runs: [(&str, Run); 4] = [
        ("latency", |t, d| Latency::new("l").requests(1_000_000_000).deadline(d).sample_system(false).run(&t, ping)),
        ("concurrent", |t, d| {
            Concurrent::new("c")
                .clients(4)
                .requests_per_client(1_000_000_000)
                .deadline(d)
                .sample_system(false)
                .run(&t, ping)
        }),
        ("connection", |t, d| {
            ConnectionBench::new("n").connections(1_000_000_000).deadline(d).sample_system(false).run(&t)
        }),
        ("bandwidth", |t, d| {
            Bandwidth::new("b").sizes([1024u64]).iterations(u32::MAX).deadline(d).sample_system(false).run_builtin(&t)
        }),
    ];
    for (kind, run) in runs {
        let target = Target::server(&server);
        let started = Instant::now();
        // On a thread, so that a run that ignores its deadline fails the test, not hangs it.
        let handle = std::thread::spawn(move || run(target, deadline));
        assert!(eventually(Duration::from_secs(60), || handle.is_finished()), "{kind}: ran past its deadline");
        let took = started.elapsed();
        let r = handle.join().expect("the run does not panic");
        let ended = r.ended_early.as_ref().unwrap_or_else(|| panic!("{kind}: no early end"));
        assert_eq!(ended.reason, StopReason::Deadline, "{kind}: {ended:?}");
        assert!(ended.detail.contains("deadline of 500ms"), "{kind}: {ended:?}");
        assert!(r.outcomes.successes > 0 && r.outcomes.failures == 0, "{kind}: {:?}", r.outcomes);
        println!("{kind}: stopped {took:?} after its start, deadline {deadline:?}");
    }
}
