//! The profiler for real: `rpycbench proxy` (a real process) between real Python rpyc
//! 6.0.2 clients and real servers (native threaded and Python threaded), the
//! `profile` API on a real connection, `RPYCBENCH_PROFILE`, and the wire SLAs.

mod common;
use common::{python, start_server as server};

use rpycbench::bench::{Latency, Target};
use rpycbench::client::{Connection, Object, RemoteRef};
use rpycbench::harness::{evaluate_slas, Sla, Stat};
use rpycbench::profile::{self, Direction, RecorderConfig};
use rpycbench::server::ServerMode;
use rpycbench::Value;
use serde_json::Value as Json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rpycbench");

/// A unique scratch file name for this test process.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("rpycbench-profile-{}-{n}-{name}", std::process::id()))
}

/// `rpycbench proxy` running as a child process; killed on drop if still running.
struct Proxy {
    child: Child,
    addr: SocketAddr,
    lines: Receiver<String>,
    json: PathBuf,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let json = scratch("telemetry.json");
        let mut child = Command::new(BIN)
            .args(["proxy", "--listen", "127.0.0.1:0", "--upstream", &upstream.to_string(), "--json"])
            .arg(&json)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn rpycbench proxy");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut proxy = Proxy { child, addr: "0.0.0.0:0".parse().unwrap(), lines, json };
        let first = proxy.line(Duration::from_secs(10)).expect("the proxy printed no readiness line");
        let addr = first.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        proxy.addr = addr.parse().expect("readiness line names an address");
        proxy
    }

    fn line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).expect("signal the proxy");
    }

    /// SIGUSR1, then the report's lines up to the end of its last section.
    fn report_on_demand(&self) -> String {
        self.signal(nix::sys::signal::Signal::SIGUSR1);
        let mut report = String::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let Some(line) = self.line(Duration::from_millis(200)) else { continue };
            let last = report.contains("=== RELAY ===") && line.starts_with("upstream ");
            report.push_str(&line);
            report.push('\n');
            if last {
                return report;
            }
        }
        panic!("no complete report after SIGUSR1; got:\n{report}");
    }

    /// SIGTERM; the proxy must exit 0 and leave its telemetry JSON.
    fn terminate(mut self) -> Json {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for the proxy") {
                break s;
            }
            assert!(Instant::now() < deadline, "the proxy did not exit within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "the proxy exited with {status} on SIGTERM");
        let text = std::fs::read_to_string(&self.json).expect("the proxy wrote its --json file");
        serde_json::from_str(&text).expect("telemetry JSON parses")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.json);
    }
}

/// Runs a Python script with rpyc against `port` (as `sys.argv[1]`); returns stdout.
fn run_python(script: &str, port: u16) -> String {
    let mut child = Command::new(python())
        .args(["-c", script, &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the Python client");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for Python") {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the Python client did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().map(|mut s| s.read_to_string(&mut out));
    child.stderr.take().map(|mut s| s.read_to_string(&mut err));
    assert!(status.success(), "the Python client failed ({status}):\n{err}\n{out}");
    out
}

fn count(json: &Json, path: &[&str]) -> u64 {
    let v = path.iter().fold(json, |v, k| &v[*k]);
    v.as_u64().unwrap_or_else(|| panic!("no count at {path:?} in the telemetry"))
}

const PINGS: &str = r#"
import sys, rpyc
conn = rpyc.connect("127.0.0.1", int(sys.argv[1]))
print([conn.root.ping() for _ in range(5)])
conn.close()
"#;

/// What `conn.root.ping()` costs a Python client: GETATTR (the bound method), CALL,
/// and DEL once the bound method is collected; the connection itself adds GETROOT,
/// INSPECT of the service's type (to build its proxy class) and CLOSE.
#[test]
fn python_pings_through_the_proxy_cost_three_requests_each() {
    for mode in [ServerMode::Threaded, ServerMode::PythonThreaded] {
        let server = server(mode);
        let proxy = Proxy::start(server.addr());
        let out = run_python(PINGS, proxy.addr.port());
        assert_eq!(out.trim(), "['pong', 'pong', 'pong', 'pong', 'pong']", "[{mode}]");
        let t = proxy.terminate();
        assert_eq!(count(&t, &["requests_c2s"]), 5 * 3 + 3, "[{mode}] {:#}", t["c2s"]);
        assert_eq!(count(&t, &["requests_s2c"]), 0, "[{mode}]");
        for (handler, n) in [("GETATTR", 5), ("CALL", 5), ("DEL", 5), ("GETROOT", 1), ("INSPECT", 1), ("CLOSE", 1)] {
            assert_eq!(count(&t, &["c2s", "requests_by_handler", handler]), n, "[{mode}] {handler}");
        }
        assert_eq!(count(&t, &["round_trips"]), 12, "[{mode}] GETROOT, INSPECT and 5 × (GETATTR, CALL)");
        assert_eq!(count(&t, &["undecodable_frames"]), 0, "[{mode}]");
        assert_eq!(count(&t, &["max_depth"]), 1, "[{mode}]");
    }
}

const CALLBACKS_AND_USERS: &str = r#"
import sys, rpyc
conn = rpyc.connect("127.0.0.1", int(sys.argv[1]))
def again(depth):
    return conn.root.nested(depth, again) + 1 if depth > 0 else 0
print(conn.root.nested(3, again))
print([u.name for u in conn.root.get_users(3)])
print(conn.root.get_users_batch((1, 2)))
conn.close()
"#;

const CONCURRENT: &str = r#"
import sys, threading, rpyc
port, results, start = int(sys.argv[1]), [], threading.Barrier(20)
def client(i):
    conn = rpyc.connect("127.0.0.1", port)
    start.wait(timeout=30)
    ok = all(conn.root.echo(i) == i for _ in range(10)) and conn.root.get_user_tuple(i)[1] == "user%d" % i
    conn.close()
    results.append(ok)
threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
[t.start() for t in threads]
[t.join(timeout=60) for t in threads]
print(len(results), all(results))
"#;

/// Callbacks nest on the wire, many clients at once all get through, a connection
/// of garbage is counted and does not disturb the others, SIGUSR1 reports and the
/// relay carries on, SIGTERM writes the JSON and exits 0.
#[test]
fn callbacks_concurrency_and_garbage_through_the_proxy() {
    for mode in [ServerMode::Threaded, ServerMode::PythonThreaded] {
        let server = server(mode);
        let proxy = Proxy::start(server.addr());
        let port = proxy.addr.port();
        let out = run_python(CALLBACKS_AND_USERS, port);
        // nested(3) = again(2) + 1 = nested(2) + 2 = … = again(0) + 5 = 5.
        let want = "5\n['user0', 'user1', 'user2']\n((1, 'user1', 'user1@example.com', 'active'), (2, 'user2', 'user2@example.com', 'active'))";
        assert_eq!(out.trim(), want, "[{mode}]");

        let report = proxy.report_on_demand();
        assert!(report.contains("max nesting depth      6"), "[{mode}] report:\n{report}");
        // nested(3) → callback → nested(2) → callback → …: each level indented once more.
        assert!(report.contains("\n          s2c CALL function"), "[{mode}] call tree:\n{report}");
        assert!(report.contains("rpycbench_service.User"), "[{mode}] references:\n{report}");
        // The diagnosis reads the same telemetry: depth 6 is past the default limit of 3.
        assert!(report.contains("=== DIAGNOSIS ==="), "[{mode}] report:\n{report}");
        assert!(report.contains("(deep_nesting)") && report.contains("nesting depth = 6 > 3"), "[{mode}]:\n{report}");

        let mut garbage = TcpStream::connect(proxy.addr).expect("connect to the proxy");
        garbage.write_all(&[0xff; 64]).expect("send garbage");
        drop(garbage);
        assert_eq!(run_python(CONCURRENT, port).trim(), "20 True", "[{mode}]");

        let t = proxy.terminate();
        assert_eq!(count(&t, &["connections"]), 22, "[{mode}] 1 + the garbage one + 20");
        assert!(count(&t, &["requests_s2c"]) >= 3, "[{mode}] the server's callbacks are counted");
        assert_eq!(count(&t, &["max_depth"]), 6, "[{mode}]");
        assert_eq!(count(&t, &["undecodable_connections"]), 1, "[{mode}]");
        assert_eq!(count(&t, &["unanswered"]), 0, "[{mode}]");
    }
}

/// Whatever the client sends, the server gets byte for byte, and the other way round:
/// through the proxy to an upstream that echoes, a valid frame followed by 256 KiB of
/// noise comes back unchanged, and the noise is counted as undecodable.
#[test]
fn any_bytes_are_relayed_unchanged() {
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = echo.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in echo.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut reader = stream.try_clone().unwrap();
                let _ = std::io::copy(&mut reader, &mut &stream);
            });
        }
    });
    let proxy = Proxy::start(upstream);
    let client = TcpStream::connect(proxy.addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // GETROOT as a Python client frames it; its echo is back (and decoded) before the
    // noise breaks the framing.
    let getroot = [0, 0, 0, 8, 0, 0x01, 0x11, 0x50, 0x11, 0x53, 0x11, 0x51, 0x02, 0x0a];
    (&client).write_all(&getroot).unwrap();
    let mut echoed = [0; 14];
    (&client).read_exact(&mut echoed).expect("the frame comes back");
    assert_eq!(echoed, getroot);
    let mut rng = common::Rng(0x5eed);
    let sent: Vec<u8> = (0..256 << 10).map(|_| rng.chunk(255) as u8).collect();
    let writer = {
        let (mut c, sent) = (client.try_clone().unwrap(), sent.clone());
        std::thread::spawn(move || c.write_all(&sent))
    };
    let mut got = vec![0; sent.len()];
    (&client).read_exact(&mut got).expect("the echo comes back whole");
    writer.join().unwrap().unwrap();
    assert!(got == sent, "the relay changed the bytes");
    drop(client);
    let t = proxy.terminate();
    // The GETROOT is seen going out and (echoed) coming back as the peer's request.
    assert_eq!((count(&t, &["requests_c2s"]), count(&t, &["requests_s2c"])), (1, 1));
    assert!(count(&t, &["undecodable_connections"]) == 1, "{t:#}");
}

/// `profile` on a real connection: the N+1 pattern (a list of users, then one round
/// trip per attribute) is visible in round trips and references by type, the batch
/// is one round trip, and profiling adds no request.
#[test]
fn profiling_shows_the_n_plus_one_pattern() {
    let server = server(ServerMode::Threaded);
    let mut conn = Connection::connect(server.addr()).unwrap();
    conn.call("ping", ()).unwrap(); // GETROOT outside the profiled block
    let before = conn.counters();
    let (names, t) = profile::profile(&mut conn, |conn| -> rpycbench::Result<Vec<String>> {
        let users = conn.call("get_users", (10,))?;
        let users: Vec<RemoteRef> = conn.collect(users.as_remote().expect("a list travels by reference"))?;
        users.iter().map(|u| conn.getattr(u, "name")?.extract()).collect()
    });
    let counted = conn.counters() - before;
    assert_eq!(names.unwrap(), (0..10).map(|i| format!("user{i}")).collect::<Vec<_>>());
    let users = t.references_of("rpycbench_service.User", Direction::S2c).expect("User proxies seen");
    assert_eq!(users.received, 10);
    assert_eq!(users.round_trips, 10, "one GETATTR per user");
    assert_eq!(t.method("GETATTR User.name").map(|m| m.count), Some(10));
    // get_users, __iter__, 11 × __next__ (the last raises StopIteration), 10 × GETATTR.
    assert_eq!(t.c2s.round_trips, 23);
    assert_eq!(t.c2s.round_trips, counted.round_trips(), "the wire counters agree");
    assert_eq!(t.requests_c2s, counted.requests_sent.total(), "profiling added no request");
    assert!(profile::report::full(&t, &Default::default()).contains("GETATTR User.name ×10"));

    let (batch, t) = profile::profile(&mut conn, |conn| {
        conn.call("get_users_batch", (Value::Tuple((0..10).map(Value::from).collect()),))
    });
    assert!(batch.unwrap().as_value().is_some(), "the batch comes by value");
    assert_eq!((t.c2s.round_trips, t.references.iter().map(|r| r.received).sum::<u64>()), (1, 0));
}

/// Callbacks from the server while the client waits make a call tree as deep as the
/// recursion; a history limit keeps the counts exact.
#[test]
fn profiling_nests_callbacks_and_bounds_history() {
    let server = server(ServerMode::Threaded);
    let mut conn = Connection::connect(server.addr()).unwrap();
    conn.call("ping", ()).unwrap();
    fn again() -> Object {
        Object::callback(|conn, args| {
            let depth: i64 = args.arg(0)?;
            if depth == 0 {
                return Ok(Object::from(0));
            }
            let inner: i64 = conn.call("nested", (depth, again()))?.extract()?;
            Ok(Object::from(inner + 1))
        })
    }
    let (got, t) = profile::profile(&mut conn, |conn| conn.call("nested", (3, again())));
    // nested(3) = callback(2) + 1 = nested(2) + 2 = … = callback(0) + 5; six requests deep.
    assert_eq!(got.unwrap().extract::<i64>().unwrap(), 5);
    assert_eq!(t.max_depth, 6);
    let mut chain = vec![t.calls.iter().find(|c| c.parent.is_none()).unwrap()];
    while let Some(child) = t.children(chain.last().unwrap().id).next() {
        chain.push(child);
    }
    let labels: Vec<String> = chain.iter().map(|c| format!("{} {}", c.direction.name(), c.handler)).collect();
    assert_eq!(labels, ["c2s CALLATTR", "s2c CALL", "c2s CALLATTR", "s2c CALL", "c2s CALLATTR", "s2c CALL"]);

    let config = RecorderConfig { history_limit: 5, ..RecorderConfig::default() };
    let ((), t) = profile::profile_with(config, &mut conn, |conn| {
        for _ in 0..20 {
            conn.call("ping", ()).unwrap();
        }
    });
    // Besides the 20 calls, DELs of the callbacks above may travel now: fire-and-forget,
    // recorded, but not round trips.
    assert_eq!((t.calls.len(), t.round_trips), (5, 20));
    assert_eq!(t.calls_recorded, t.requests_c2s + t.requests_s2c);
    assert!(t.calls_recorded >= 20);
    assert_eq!(t.method("CALLATTR BenchmarkService.ping").map(|m| m.count), Some(20));
}

/// The harness's `max_round_trips` and `max_references` SLAs on real runs: an N+1
/// request function violates them, the batch passes.
#[test]
fn wire_slas_fail_n_plus_one_and_pass_the_batch() {
    let server = server(ServerMode::Threaded);
    let target = Target::server(&server);
    let bench = Latency::new("users").requests(5).warmup(1).sample_system(false);
    let slas = [Sla { stat: Stat::MaxRoundTrips, bound: 2.0 }, Sla { stat: Stat::MaxReferences, bound: 1.0 }];
    let n_plus_one = bench.run(&target, |conn| {
        let users = conn.call("get_users", (10,))?;
        let users: Vec<RemoteRef> = conn.collect(users.as_remote().unwrap())?;
        for u in &users {
            conn.getattr(u, "name")?;
        }
        Ok(())
    });
    let checks = evaluate_slas(&slas, &n_plus_one);
    assert_eq!(checks.iter().filter(|c| !c.passed()).count(), 2, "{checks:?}");
    assert_eq!(checks[0].measured, Some(23.0), "round trips per request");
    assert_eq!(checks[1].measured, Some(12.0), "references per request: the list, its iterator, 10 users");
    assert!(checks[0].message("users").contains("round trips per request = 23.00 > 2.00"));

    let batch = bench.run(&target, |conn| {
        conn.call("get_users_batch", (Value::Tuple((0..10).map(Value::from).collect()),))?;
        Ok(())
    });
    let checks = evaluate_slas(&slas, &batch);
    assert!(checks.iter().all(|c| c.passed()), "{checks:?}");
    assert_eq!(checks[0].measured, Some(1.0));
}

/// `RPYCBENCH_PROFILE=FILE` on a process (here `rpycbench serve`, whose connections
/// are `Connection`s too) writes the telemetry when it exits.
#[test]
fn the_environment_variable_profiles_every_connection() {
    let json = scratch("env.json");
    let child = Command::new(BIN)
        .args(["serve", "--mode", "threaded"])
        .env("RPYCBENCH_PROFILE", &json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let child = &mut child.0;
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr: SocketAddr = line.trim().strip_prefix("listening on ").unwrap().parse().unwrap();
    let mut conn = Connection::connect(addr).unwrap();
    for _ in 0..5 {
        conn.call("ping", ()).unwrap();
    }
    conn.close().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the server did not exit on SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no telemetry file ({e}); stderr:\n{stderr}"));
    let _ = std::fs::remove_file(&json);
    let t: Json = serde_json::from_str(&text).unwrap();
    // The server's own view: its peer (the client) sent GETROOT, 5 CALLATTR, CLOSE.
    assert_eq!(count(&t, &["requests_s2c"]), 7, "{:#}", t["s2c"]);
    assert_eq!(count(&t, &["s2c", "requests_by_handler", "CALLATTR"]), 5);
    assert!(stderr.contains("=== SUMMARY ==="), "the report goes to stderr:\n{stderr}");
}

/// A child process killed (if still running) when the test ends, even by a panic.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The relay's added latency: `ping` round trips of a Rust client, direct and through
/// the proxy. Run with
/// `cargo test --release -p rpycbench --test profile_relay -- --ignored --nocapture relay_latency`.
#[test]
#[ignore = "a measurement, not a check"]
fn relay_latency() {
    let server = server(ServerMode::Threaded);
    let proxy = Proxy::start(server.addr());
    let median = |addr: SocketAddr, profiled: bool| {
        let mut conn = Connection::connect(addr).unwrap();
        for _ in 0..200 {
            conn.call("ping", ()).unwrap();
        }
        let profiler = profile::Profiler::default();
        if profiled {
            profiler.attach(&mut conn);
        }
        let mut samples: Vec<Duration> = (0..5000)
            .map(|_| {
                let start = Instant::now();
                conn.call("ping", ()).unwrap();
                start.elapsed()
            })
            .collect();
        samples.sort();
        (samples[samples.len() / 2], samples[samples.len() * 99 / 100])
    };
    let (direct, direct_p99) = median(server.addr(), false);
    let (relayed, relayed_p99) = median(proxy.addr, false);
    let (profiled, profiled_p99) = median(server.addr(), true);
    println!("ping direct:            median {direct:?}, p99 {direct_p99:?}");
    println!("ping through proxy:     median {relayed:?}, p99 {relayed_p99:?}");
    println!("ping profiled in-process: median {profiled:?}, p99 {profiled_p99:?}");
    println!("added by the relay: median {:?}", relayed.saturating_sub(direct));
}
