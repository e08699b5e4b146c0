//! The HTTP baseline as users meet it: a real `rpycbench serve --mode http` process on
//! 127.0.0.1, driven by the keep-alive client and by the benchmark kinds; its answers
//! match the RPyC service's, keep-alive really reuses one connection, every failure
//! (404/400/405/413, refused, timeout) is counted with a readable message, the suite
//! includes it (and exits 1, 2 or 4 as documented), and SIGTERM ends it cleanly.

mod common;

use common::{eventually, native_spec, proc_stat};
use rpycbench::bench::{Bandwidth, Concurrent, ConnectionBench, Latency};
use rpycbench::client::Config;
use rpycbench::http::{self, HttpClient, HttpConfig, MAX_BODY_BYTES};
use rpycbench::metrics::{BenchResult, ResultSet};
use rpycbench::server::{ServerHandle, ServerMode};
use rpycbench::{Connection, Error};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits for any one reply before it fails.
const REPLY: Duration = Duration::from_secs(15);

fn start(mode: ServerMode) -> ServerHandle {
    native_spec(mode).start().unwrap_or_else(|e| panic!("starting the {mode} server: {e}"))
}

fn client(server: &ServerHandle) -> HttpClient {
    HttpClient::with_config(server.addr(), HttpConfig::default().request_timeout(REPLY).connect_timeout(REPLY))
}

/// The states (hex, as /proc/net/tcp writes them: 01 established, 06 time-wait, …) of
/// every TCP socket on 127.0.0.1 with `port` at either end, the listener excepted. A
/// connection shows twice (server end and client end); one that was closed leaves a
/// TIME_WAIT behind for a minute, so this also tells how many connections were used.
fn sockets_of(port: u16) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("reading /proc/net/tcp");
    let port_of = |addr: &str| addr.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, state) = (fields.get(1)?, fields.get(2)?, fields.get(3)?);
            let ours = port_of(local) == Some(port) || port_of(remote) == Some(port);
            (ours && *state != "0A").then(|| state.to_string())
        })
        .collect()
}

/// Established connections the server holds (counted at its end).
fn established_to(port: u16) -> usize {
    sockets_of(port).iter().filter(|s| *s == "01").count() / 2
}

#[test]
fn every_route_answers_as_the_rpyc_service_does() {
    let server = start(ServerMode::Http);
    let rpyc = start(ServerMode::Threaded);
    let mut http = client(&server);
    let mut conn = Connection::connect_with(rpyc.addr(), Config::default().request_timeout(REPLY)).expect("connect");

    http.ping().expect("ping");
    let binary: Vec<u8> = (0..=255u8).rev().cycle().take(70_000).collect();
    assert_eq!(http.echo(&binary).expect("echo"), binary);
    assert_eq!(http.echo(b"").expect("empty echo"), b"");
    assert_eq!(http.upload(&binary).expect("upload"), 70_000);
    assert_eq!(http.upload(b"").expect("empty upload"), 0);

    for size in [0u64, 1, 300, 100_000] {
        let over_http = http.download_bytes(size).expect("download");
        let over_rpyc: Vec<u8> = conn.call("download", (size,)).and_then(|o| o.extract()).expect("rpyc download");
        assert_eq!(over_http, over_rpyc, "download({size})");
        http.download(size).expect("counted download");
    }
    for iterations in [0u64, 1, 1000] {
        let over_rpyc: String = conn.call("cpu_work", (iterations,)).and_then(|o| o.extract()).expect("rpyc cpu");
        assert_eq!(http.cpu_work(iterations).expect("cpu_work"), over_rpyc, "cpu_work({iterations})");
    }
    // The default is the RPyC service's default too (100000 iterations).
    let default: String = conn.call("cpu_work", ()).and_then(|o| o.extract()).expect("rpyc cpu default");
    assert_eq!(String::from_utf8(http.get("/cpu_work").expect("cpu_work default")).unwrap(), default);

    let t0 = Instant::now();
    assert_eq!(http.io_work(Duration::from_millis(80)).expect("io_work"), "data");
    assert!(t0.elapsed() >= Duration::from_millis(80), "io_work returned after {:?}", t0.elapsed());
    assert_eq!(http.get("/io_work?delay=0").expect("io_work 0"), b"data");
}

#[test]
fn keep_alive_reuses_one_connection_and_a_new_client_opens_a_new_one() {
    let server = start(ServerMode::Http);
    let port = server.addr().port();
    let mut http = client(&server);
    for _ in 0..20 {
        http.ping().expect("ping");
        http.upload(&[7; 1000]).expect("upload");
        http.download(5000).expect("download");
    }
    // Sixty requests, and only one connection ever existed: its two ends, established,
    // and no closed one waiting out TIME_WAIT.
    assert_eq!(sockets_of(port), ["01", "01"], "keep-alive should reuse a single connection");
    // An error status keeps the connection too (the explanation is read to the end).
    assert!(http.get("/nope").is_err());
    http.ping().expect("ping after a 404");
    assert_eq!(sockets_of(port), ["01", "01"], "a 404 should not cost the connection");

    // A second client is a second connection; closing it leaves the first.
    let mut other = client(&server);
    other.ping().expect("ping");
    assert_eq!(sockets_of(port), ["01"; 4]);
    drop(other);
    assert!(eventually(REPLY, || established_to(port) == 1), "a dropped client should close its connection");
}

#[test]
fn failures_are_errors_with_readable_messages() {
    let server = start(ServerMode::Http);
    let mut http = client(&server);

    let status = |e: Error| match e {
        Error::HttpStatus { status, ref message, .. } => {
            assert!(!e.is_connection_fatal(), "a status keeps the connection: {e}");
            (status, message.clone(), e.to_string())
        }
        other => panic!("expected an HTTP status error, got {other:?}"),
    };
    let (code, message, text) = status(http.get("/nope").unwrap_err());
    assert_eq!(code, 404);
    assert!(message.contains("no route /nope") && message.contains("GET /ping"), "{message}");
    assert!(text.contains("GET /nope") && text.contains("404"), "{text}");
    let (code, message, _) = status(http.get("/download?size=abc").unwrap_err());
    assert_eq!(code, 400);
    assert!(message.contains("'size' must be a non-negative number, got 'abc'"), "{message}");
    let (code, message, _) = status(http.get("/download").unwrap_err());
    assert_eq!((code, message.contains("download needs ?size=N")), (400, true), "{message}");
    let (code, message, _) = status(http.get("/ping?x=1").unwrap_err());
    assert_eq!((code, message.contains("unexpected parameter 'x'")), (400, true), "{message}");
    let (code, message, _) = status(http.get("/io_work?delay=-1").unwrap_err());
    assert_eq!((code, message.contains("between 0 and")), (400, true), "{message}");
    let (code, message, _) = status(http.get("/upload").unwrap_err());
    assert_eq!((code, message.contains("/upload takes POST")), (405, true), "{message}");
    let (code, message, _) = status(http.get(&format!("/download?size={}", MAX_BODY_BYTES + 1)).unwrap_err());
    assert_eq!((code, message.contains("over the limit")), (413, true), "{message}");

    // A timeout: the server sleeps longer than the client waits.
    let mut impatient =
        HttpClient::with_config(server.addr(), HttpConfig::default().request_timeout(Duration::from_millis(200)));
    let t0 = Instant::now();
    let e = impatient.io_work(Duration::from_secs(3)).unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2), "the timeout took {:?}", t0.elapsed());
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("GET /io_work?delay=3") && e.to_string().contains("200ms"), "{e}");
    impatient.ping().expect("the next request works after a timeout");

    // A refused connection: a port nobody listens on.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = HttpClient::new(closed).ping().unwrap_err();
    assert!(matches!(e, Error::Connect { .. }) && e.is_connection_fatal(), "{e:?}");
    assert!(e.to_string().contains(&format!("cannot connect to {closed}")), "{e}");

    // Counted as failures by the benchmark kinds, with the message.
    let target = http::target(&server);
    let result = Latency::new("not-found").requests(5).warmup(0).sample_system(false).run(&target, |c| {
        c.get("/nope")?;
        Ok(())
    });
    assert_eq!((result.outcomes.attempts, result.outcomes.failures), (5, 5));
    assert!(result.outcomes.errors[0].message.contains("answered 404"), "{:?}", result.outcomes.errors);
    let dead = http::address_target(closed, HttpConfig::default());
    let result = Latency::new("refused").requests(3).warmup(0).sample_system(false).run(&dead, |c| c.ping());
    assert_eq!((result.outcomes.failures, result.outcomes.success_rate), (3, 0.0));
    assert!(result.outcomes.errors[0].message.contains("cannot connect"), "{:?}", result.outcomes.errors);
    let slow = http::target_with(&server, HttpConfig::default().request_timeout(Duration::from_millis(100)));
    let result = Latency::new("timeout")
        .requests(2)
        .warmup(0)
        .sample_system(false)
        .run(&slow, |c| c.io_work(Duration::from_millis(500)).map(drop));
    assert_eq!(result.outcomes.failures, 2);
    assert!(result.outcomes.errors[0].message.contains("no reply from"), "{:?}", result.outcomes.errors);
}

#[test]
fn oversized_request_bodies_are_refused_with_413() {
    let server = start(ServerMode::Http);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(REPLY)).unwrap();
    // Announced too large: refused before a byte of the body is read.
    write!(stream, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", MAX_BODY_BYTES + 1).unwrap();
    let mut head = String::new();
    BufReader::new(&mut stream).read_line(&mut head).unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head:?}");

    // Chunked, so the length is only known while reading: cut off at the limit.
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(REPLY)).unwrap();
    stream.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut sent = 0u64;
    while sent <= MAX_BODY_BYTES {
        let wrote = write!(stream, "{:x}\r\n", chunk.len())
            .and_then(|()| stream.write_all(&chunk))
            .and_then(|()| stream.write_all(b"\r\n"));
        if wrote.is_err() {
            break; // The server answered and closed: fine, read the answer.
        }
        sent += chunk.len() as u64;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{}", &answer[..answer.len().min(200)]);
}

fn check_http_result(r: &BenchResult) {
    assert_eq!(r.server.mode, "http", "{}", r.name);
    assert_eq!(r.server.backend, "hyper", "{}", r.name);
    assert_eq!(r.outcomes.success_rate, 1.0, "{}: {:?}", r.name, r.outcomes.errors);
    assert!(r.wire.is_none(), "{}: the HTTP client counts no wire traffic", r.name);
}

#[test]
fn the_benchmark_kinds_run_against_an_http_target() {
    let server = start(ServerMode::Http);
    let target = http::target(&server);

    let connection = ConnectionBench::new("connection[http]").connections(10).run(&target);
    check_http_result(&connection);
    assert_eq!(connection.outcomes.successes, 10);
    // Each measured connection was a new TCP connection, closed by the client: ten
    // closed ones wait out TIME_WAIT on the client's side, and none is still open.
    let port = server.addr().port();
    assert_eq!(established_to(port), 0, "{:?}", sockets_of(port));
    let closed = || sockets_of(port).iter().filter(|s| *s == "06").count();
    assert!(eventually(REPLY, || closed() >= 10), "{:?}", sockets_of(port));
    let connection_p50 = connection.latency.as_ref().unwrap().p50_ns;
    assert!(connection_p50 > 0 && connection_p50 < 1_000_000_000, "{connection_p50}");
    let held = ConnectionBench::new("held[http]").connections(5).keep_open(true).run(&target);
    check_http_result(&held);
    assert_eq!(held.params["held_alive"], 5);

    let latency = Latency::new("latency[http]").requests(200).warmup(5).run(&target, |c| c.ping());
    check_http_result(&latency);
    let stats = latency.latency.as_ref().unwrap();
    assert_eq!(stats.count, 200);
    assert!(stats.p50_ns > 0 && stats.p50_ns <= stats.p99_ns && stats.p99_ns <= stats.max_ns);
    assert!(latency.throughput_rps.unwrap() > 0.0);

    let bandwidth = Bandwidth::new("bandwidth[http]").sizes([1024, 65_536]).iterations(3).run_builtin(&target);
    check_http_result(&bandwidth);
    let per_size: Vec<(&str, u64, u64)> =
        bandwidth.sizes.iter().map(|s| (s.direction.as_str(), s.size_bytes, s.outcomes.successes)).collect();
    assert_eq!(per_size, [("upload", 1024, 3), ("download", 1024, 3), ("upload", 65_536, 3), ("download", 65_536, 3)]);
    assert!(bandwidth.sizes.iter().all(|s| s.mean_bps > 0.0));

    let concurrent = Concurrent::new("concurrent[http]").clients(3).requests_per_client(20).run(&target, |c| c.ping());
    check_http_result(&concurrent);
    assert_eq!(concurrent.outcomes.successes, 60);
    assert_eq!(concurrent.latency.as_ref().unwrap().count, 60);
}

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
    let _ = std::fs::remove_dir_all(&out);
    assert!(status.success(), "suite exited {status}");
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
    results.results.iter().filter(|r| r.name.ends_with("[http]")).for_each(check_http_result);

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

    // A server that fails to start ends the run, but what ran before it is written.
    let out = std::env::temp_dir().join(format!("rpycbench-http-suite-partial-{}", std::process::id()));
    let run = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
        .args(["--skip-forking", "--skip-http", "--python", "--python-interpreter", "/nonexistent/python3"])
        .args(["--connections", "2", "--requests", "5", "--clients", "1", "--requests-per-client", "2"])
        .args(["--bandwidth-sizes", "1024", "--bandwidth-iterations", "1", "--warmup", "0", "--quiet", "--out"])
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .expect("running the suite");
    let partial = ResultSet::load(&out.join("results.json"));
    let _ = std::fs::remove_dir_all(&out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the python-threaded server did not start"), "{stderr}");
    assert!(stderr.contains("the results measured before it were written"), "{stderr}");
    let partial = partial.expect("the threaded server's results were written");
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

#[test]
fn sigterm_ends_the_http_server_with_status_zero_and_nothing_left() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
        .args(["serve", "--mode", "http", "--host", "127.0.0.1", "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning rpycbench serve");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("readiness line");
    let addr: SocketAddr = line.trim().strip_prefix("listening on ").expect("listening on HOST:PORT").parse().unwrap();

    // A connection open (and idle, mid keep-alive) must not hold the server up.
    let mut http = HttpClient::new(addr);
    http.ping().expect("ping");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + REPLY;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the http server did not exit within {REPLY:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(proc_stat(pid).is_none(), "the server process is still there");
    assert!(TcpStream::connect(addr).is_err(), "nothing listens any more");
    assert!(http.ping().is_err(), "the kept connection is gone");
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

/// Exit code 4 for real: the suite's threaded server dies (SIGKILL) after it started
/// and before the first benchmark, so every request of every phase fails with a
/// refused connection; the suite still runs every phase, writes its results with the
/// failures counted, prints the one-line summary and exits 4.
///
/// No timing is involved: the suite's stderr is a one-page pipe filled so that only
/// its "starting the threaded server" line still fits. Its next line (the first
/// phase's progress) then blocks in `write(2, …)` until the test reads the pipe, and
/// the test kills the server while the suite is held there.
#[test]
fn the_suite_exits_4_when_its_server_dies_and_keeps_the_failures() {
    use nix::fcntl::{fcntl, FcntlArg};
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
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(server as i32), nix::sys::signal::Signal::SIGKILL)
        .expect("kill the server");
    // A zombie has closed its sockets: from now on connections are refused.
    assert!(eventually(REPLY, || proc_stat(server).is_none_or(|p| p.state == 'Z')), "the server did not die");

    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = run.suite.try_wait().expect("wait for the suite") {
            break status;
        }
        assert!(Instant::now() < deadline, "the suite did not finish within 60 s of its server's death");
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = reader.join().expect("stderr reader");
    let stderr = stderr.trim_start_matches('.');
    let stdout = stdout.join().expect("stdout reader");
    let results = ResultSet::load(&out.join("results.json"));
    let reports = ["summary.md", "report.html"].map(|f| out.join(f).is_file());
    let _ = std::fs::remove_dir_all(&out);

    assert_eq!(status.code(), Some(4), "{status}\nstderr:\n{stderr}\nstdout:\n{stdout}");
    assert!(stderr.starts_with(BEFORE_FIRST_PHASE), "{stderr}");
    let summary =
        stderr.lines().find(|l| l.starts_with("rpycbench: ")).unwrap_or_else(|| panic!("no summary:\n{stderr}"));
    assert!(summary.starts_with("rpycbench: 4 of 4 benchmarks had failed requests: "), "{summary}");
    let results = results.expect("results.json was written");
    assert_eq!(reports, [true, true], "summary.md and report.html were written too");
    assert!(stdout.contains("results written to"), "{stdout}");
    // Every attempt failed, as many as the flags ask for; warm-up requests are not counted.
    let counts: Vec<(&str, u64, u64)> =
        results.results.iter().map(|r| (r.name.as_str(), r.outcomes.attempts, r.outcomes.failures)).collect();
    let want = [
        ("connection[threaded]", 3, 3),
        ("latency[threaded]", 5, 5),
        ("bandwidth[threaded]", 4, 4), // 1 size × 2 iterations × upload and download
        ("concurrent[threaded]", 6, 6),
    ];
    assert_eq!(counts, want);
    for (name, attempts, failures) in want {
        assert!(
            summary.contains(&format!("{name} {failures}/{attempts} failed, e.g. cannot connect to ")),
            "{summary}"
        );
    }
    for r in &results.results {
        let errors: Vec<&str> = r.outcomes.errors.iter().map(|e| e.message.as_str()).collect();
        assert!(errors.iter().all(|m| m.contains("Connection refused")), "{}: {errors:?}", r.name);
    }
}
