//! The profiler for real: `rpycbench proxy` (a real process) between real Python rpyc
//! 6.0.2 clients and real servers (native threaded and Python threaded), the
//! `profile` API on a real connection, `RPYCBENCH_PROFILE`, and the wire SLAs.

mod common;
use common::{python, start_server as server, KillOnDrop};

use rpycbench::bench::{Latency, Target};
use rpycbench::client::{Connection, Object, RemoteRef};
use rpycbench::metrics::sla::{evaluate as evaluate_slas, Sla, Stat};
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
        let status = common::exit_within(&mut self.child, Duration::from_secs(10), "the proxy, after SIGTERM,");
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
    let status = common::exit_within(&mut child, Duration::from_secs(60), "the Python client");
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

/// Prepended to Python client scripts: counts the requests the Python client really
/// sends, by handler, by wrapping rpyc 6.0.2's `Connection._send(msg, seq, args)`
/// (a request's `args` is `(handler, data)`); `sent()` prints them as the last line.
const COUNT_SENT: &str = r#"
import collections, json
from rpyc.core import consts, protocol
SENT = collections.Counter()
_HANDLERS = {v: k[len("HANDLE_"):] for k, v in vars(consts).items() if k.startswith("HANDLE_")}
_send = protocol.Connection._send
def _counting_send(self, msg, seq, args):
    _send(self, msg, seq, args)
    if msg == consts.MSG_REQUEST:
        SENT[_HANDLERS.get(args[0], "UNKNOWN")] += 1
protocol.Connection._send = _counting_send
def sent():
    print("SENT " + json.dumps(SENT))
"#;

/// The script with [`COUNT_SENT`] in front.
fn counted(script: &str) -> String {
    format!("{COUNT_SENT}\n{script}")
}

/// The counts a [`COUNT_SENT`] script printed on its last line, and the output before.
fn sent_counts(out: &str) -> (std::collections::BTreeMap<String, u64>, String) {
    let (rest, last) = out.trim_end().rsplit_once('\n').unwrap_or(("", out.trim_end()));
    let json = last.strip_prefix("SENT ").unwrap_or_else(|| panic!("no SENT line in {out:?}"));
    (serde_json::from_str(json).expect("SENT counts parse"), rest.to_string())
}

/// The relay's counts of what the client sent equal what the Python client sent.
fn assert_relay_counted(t: &Json, sent: &std::collections::BTreeMap<String, u64>, what: &str) {
    let relayed: std::collections::BTreeMap<String, u64> =
        serde_json::from_value(t["c2s"]["requests_by_handler"].clone()).expect("requests by handler");
    assert_eq!(&relayed, sent, "[{what}] the relay's c2s requests by handler vs the Python client's _send");
    assert_eq!(count(t, &["requests_c2s"]), sent.values().sum::<u64>(), "[{what}]");
}

const PINGS: &str = r#"
import sys, rpyc
conn = rpyc.connect("127.0.0.1", int(sys.argv[1]))
print([conn.root.ping() for _ in range(5)])
conn.close()
sent()
"#;

/// What `conn.root.ping()` costs a Python client: GETATTR (the bound method), CALL,
/// and DEL once the bound method is collected; the connection itself adds GETROOT,
/// INSPECT of the service's type (to build its proxy class) and CLOSE.
#[test]
fn python_pings_through_the_proxy_cost_three_requests_each() {
    for mode in [ServerMode::Threaded, ServerMode::PythonThreaded] {
        let server = server(mode);
        let proxy = Proxy::start(server.addr());
        let (sent, out) = sent_counts(&run_python(&counted(PINGS), proxy.addr.port()));
        assert_eq!(out.trim(), "['pong', 'pong', 'pong', 'pong', 'pong']", "[{mode}]");
        let t = proxy.terminate();
        assert_relay_counted(&t, &sent, &mode.to_string());
        assert_eq!(count(&t, &["requests_c2s"]), 5 * 3 + 3, "[{mode}] {:#}", t["c2s"]);
        assert_eq!(count(&t, &["requests_s2c"]), 0, "[{mode}]");
        for (handler, n) in [("GETATTR", 5), ("CALL", 5), ("DEL", 5), ("GETROOT", 1), ("INSPECT", 1), ("CLOSE", 1)] {
            assert_eq!(count(&t, &["c2s", "requests_by_handler", handler]), n, "[{mode}] {handler}");
        }
        assert_eq!(count(&t, &["round_trips"]), 12, "[{mode}] GETROOT, INSPECT and 5 × (GETATTR, CALL)");
        assert_eq!(count(&t, &["undecodable_frames"]), 0, "[{mode}]");
        assert_eq!(count(&t, &["max_depth"]), 0, "[{mode}] no callbacks");
        assert_eq!(count(&t, &["operations"]), 5, "[{mode}] each ping is one operation");
    }
}

const CALLBACKS_AND_USERS: &str = r#"
import sys, rpyc
conn = rpyc.connect("127.0.0.1", int(sys.argv[1]))
def again(depth):
    return conn.root.nested(depth, again) + 1 if depth > 0 else 0
print(conn.root.nested(5, again))
print([u.name for u in conn.root.get_users(3)])
print(conn.root.get_users_batch((1, 2)))
conn.close()
sent()
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
sent()
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
        let (mut sent, out) = sent_counts(&run_python(&counted(CALLBACKS_AND_USERS), port));
        // nested(5) = again(4) + 1 = nested(4) + 2 = … = again(0) + 9 = 9.
        let want = "9\n['user0', 'user1', 'user2']\n((1, 'user1', 'user1@example.com', 'active'), (2, 'user2', 'user2@example.com', 'active'))";
        assert_eq!(out.trim(), want, "[{mode}]");

        let report = proxy.report_on_demand();
        // Five callbacks stacked: nested(5) → callback → nested(4) → callback → ….
        assert!(report.contains("max nesting depth      5 "), "[{mode}] report:\n{report}");
        // Each level of the call tree indented once more (the tree itself is ten deep).
        assert!(report.contains("\n                  s2c CALL function"), "[{mode}] call tree:\n{report}");
        assert!(report.contains("rpycbench_service.User"), "[{mode}] references:\n{report}");
        // The diagnosis reads the same telemetry: depth 5 is past the default limit of 3.
        assert!(report.contains("=== DIAGNOSIS ==="), "[{mode}] report:\n{report}");
        assert!(report.contains("(deep_nesting)") && report.contains("5 > 3"), "[{mode}]:\n{report}");

        let mut garbage = TcpStream::connect(proxy.addr).expect("connect to the proxy");
        garbage.write_all(&[0xff; 64]).expect("send garbage");
        drop(garbage);
        let (more, out) = sent_counts(&run_python(&counted(CONCURRENT), port));
        assert_eq!(out.trim(), "20 True", "[{mode}]");
        for (handler, n) in more {
            *sent.entry(handler).or_default() += n;
        }

        let t = proxy.terminate();
        assert_relay_counted(&t, &sent, &mode.to_string());
        assert_eq!(count(&t, &["connections"]), 22, "[{mode}] 1 + the garbage one + 20");
        assert!(count(&t, &["requests_s2c"]) >= 3, "[{mode}] the server's callbacks are counted");
        assert_eq!(count(&t, &["max_depth"]), 5, "[{mode}]");
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
    let (got, t) = profile::profile(&mut conn, |conn| conn.call("nested", (5, again())));
    // nested(5) = callback(4) + 1 = nested(4) + 2 = … = callback(0) + 9: five callbacks
    // stacked, in a chain of ten requests.
    assert_eq!(got.unwrap().extract::<i64>().unwrap(), 9);
    assert_eq!((t.max_depth, t.operations), (5, 1));
    let mut chain = vec![t.calls.iter().find(|c| c.parent.is_none()).unwrap()];
    while let Some(child) = t.children(chain.last().unwrap().id).next() {
        chain.push(child);
    }
    let labels: Vec<String> = chain.iter().map(|c| format!("{} {}", c.direction.name(), c.handler)).collect();
    assert_eq!(labels, ["c2s CALLATTR", "s2c CALL"].repeat(5));
    let depths: Vec<(u32, u32)> = chain.iter().map(|c| (c.level, c.callback_depth)).collect();
    assert_eq!(depths, (1..=10).map(|l| (l, l / 2)).collect::<Vec<_>>());

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
/// are `Connection`s too) writes the telemetry when it exits; on a server, the
/// client's requests arrive in direction `s2c`, and the diagnosis reads them as the
/// client's: a Python N+1 client is diagnosed with excessive round trips.
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
    let (sent, out) = sent_counts(&run_python(&counted(N_PLUS_ONE), addr.port()));
    assert_eq!(out.lines().count(), 10, "{out}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    common::exit_within(child, Duration::from_secs(10), "the server, after SIGTERM,");
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no telemetry file ({e}); stderr:\n{stderr}"));
    let _ = std::fs::remove_file(&json);
    let t: Json = serde_json::from_str(&text).unwrap();
    // The server's own view: its peer (the client) sent exactly what Python sent.
    let relayed: std::collections::BTreeMap<String, u64> =
        serde_json::from_value(t["s2c"]["requests_by_handler"].clone()).unwrap();
    assert_eq!(relayed, sent, "the server saw what the Python client sent");
    assert_eq!(count(&t, &["operations"]), 1, "one top-level get_users call");
    let waited = sent.iter().filter(|(h, _)| *h != "DEL" && *h != "CLOSE").map(|(_, n)| n).sum::<u64>();
    assert_eq!(count(&t, &["s2c", "round_trips"]), waited);
    assert!(stderr.contains("=== SUMMARY ==="), "the report goes to stderr:\n{stderr}");
    assert!(stderr.contains("(excessive_round_trips)"), "the client's N+1 is diagnosed:\n{stderr}");
}

/// A Python N+1: one call for the list, then a round trip per attribute per user.
const N_PLUS_ONE: &str = r#"
import sys, rpyc
conn = rpyc.connect("127.0.0.1", int(sys.argv[1]))
for u in conn.root.get_users(10):
    print(u.name, u.email, u.id, u.status)
conn.close()
sent()
"#;

/// Through the relay, the Python N+1 loop is one operation with every round trip
/// the client waited for, as Python counted them; the diagnosis says so.
#[test]
fn a_python_n_plus_one_is_one_operation_with_all_its_round_trips() {
    for mode in [ServerMode::Threaded, ServerMode::PythonThreaded] {
        let server = server(mode);
        let proxy = Proxy::start(server.addr());
        let (sent, out) = sent_counts(&run_python(&counted(N_PLUS_ONE), proxy.addr.port()));
        assert_eq!(out.lines().next(), Some("user0 user0@example.com 0 active"), "[{mode}]");
        let report = proxy.report_on_demand();
        let t = proxy.terminate();
        assert_relay_counted(&t, &sent, &mode.to_string());
        let waited = sent.iter().filter(|(h, _)| *h != "DEL" && *h != "CLOSE").map(|(_, n)| n).sum::<u64>();
        assert_eq!((count(&t, &["operations"]), count(&t, &["c2s", "round_trips"])), (1, waited), "[{mode}]");
        assert!(waited > 40, "[{mode}] four attributes of ten users: {waited}");
        assert!(report.contains("(\"per operation\" figures divide by 1 operation)"), "[{mode}]\n{report}");
        assert!(report.contains("(excessive_round_trips)"), "[{mode}]\n{report}");
    }
}

/// A Python N+1 call among 50 pings: 2.6 round trips per operation on average, under
/// the threshold, but `get_users` alone costs 63 and is named, with what it read.
const N_PLUS_ONE_AMONG_PINGS: &str = r#"
import sys, rpyc
conn = rpyc.connect("127.0.0.1", int(sys.argv[1]))
for u in conn.root.get_users(20):
    print(u.name, u.email, u.status)
for _ in range(50):
    conn.root.ping()
conn.close()
"#;

#[test]
fn one_n_plus_one_call_among_pings_is_named_per_method() {
    let server = server(ServerMode::Threaded);
    let proxy = Proxy::start(server.addr());
    let (sent, _) = sent_counts(&run_python(&counted(&format!("{N_PLUS_ONE_AMONG_PINGS}sent()\n")), proxy.addr.port()));
    let report = proxy.report_on_demand();
    let t = proxy.terminate();
    assert_eq!(count(&t, &["operations"]), 51, "get_users and 50 pings");
    let op = |method: &str| {
        t["per_operation"]
            .as_array()
            .and_then(|ops| ops.iter().find(|o| o["method"] == method))
            .unwrap_or_else(|| panic!("no {method} in per_operation: {}", t["per_operation"]))
            .clone()
    };
    let (users, pings) = (op("get_users"), op("ping"));
    // Every request the client waited for belongs to an operation but the three before
    // the first (GETROOT, the root's INSPECT, the lookup of get_users): each ping is its
    // CALL and the lookup of the next (GETATTR `ping`), the first lookup going to
    // get_users, which has all the rest — its list's and users' INSPECTs included.
    let waited: u64 = sent.iter().filter(|(h, _)| *h != "DEL" && *h != "CLOSE").map(|(_, n)| n).sum();
    assert_eq!(pings["round_trips"], 50 + 49, "{pings}");
    assert_eq!(count(&users, &["round_trips"]), waited - 3 - 99, "{users}; sent {sent:?}");
    assert_eq!(users["attribute_reads"]["email"], 20, "{users}");
    assert!(report.contains("(excessive_round_trips) — "), "{report}");
    assert!(report.contains(": get_users"), "the method is named:\n{report}");
    assert!(report.contains("N+1: per call, 20 × email, 20 × name, 20 × status"), "{report}");
    assert!(!report.contains(": ping"), "pings are one round trip (and a lookup) each:\n{report}");
}

/// 5000 pings of a Rust client on one connection are 5000 operations of one round
/// trip each: no round-trip finding.
#[test]
fn many_pings_on_one_connection_are_one_round_trip_each() {
    let server = server(ServerMode::Threaded);
    let proxy = Proxy::start(server.addr());
    let mut conn = Connection::connect(proxy.addr).unwrap();
    for _ in 0..5000 {
        conn.call("ping", ()).unwrap();
    }
    conn.close().unwrap();
    let report = proxy.report_on_demand();
    let t = proxy.terminate();
    // GETROOT once, then one CALLATTR per ping.
    assert_eq!((count(&t, &["operations"]), count(&t, &["c2s", "round_trips"])), (5000, 5001));
    assert!(report.contains("figures divide by 5000 operations"), "{report}");
    assert!(!report.contains("(excessive_round_trips)"), "{report}");
}

/// Two endpoints that both write a lot before reading: the upstream sends 64 MiB
/// and only then reads, the client sends 64 MiB while a thread of its own reads.
/// Directly this completes; through the relay it must too (a relay that blocks on
/// one direction's write while the other needs reading deadlocks here), and the
/// relay's connection must end when both sides close.
#[test]
fn both_sides_writing_at_once_do_not_deadlock_the_relay() {
    const SIZE: usize = 64 << 20;
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = upstream.accept()?;
        s.set_read_timeout(Some(Duration::from_secs(15)))?;
        s.set_write_timeout(Some(Duration::from_secs(15)))?;
        s.write_all(&vec![1u8; SIZE])?;
        let mut got = vec![0u8; SIZE];
        s.read_exact(&mut got)?;
        assert!(got.iter().all(|&b| b == 2));
        Ok(())
    });
    let proxy = Proxy::start(upstream_addr);
    let started = Instant::now();
    let client = TcpStream::connect(proxy.addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    client.set_write_timeout(Some(Duration::from_secs(15))).unwrap();
    let reader = {
        let mut c = client.try_clone().unwrap();
        std::thread::spawn(move || -> std::io::Result<bool> {
            let mut got = vec![0u8; SIZE];
            c.read_exact(&mut got)?;
            Ok(got.iter().all(|&b| b == 1))
        })
    };
    (&client).write_all(&vec![2u8; SIZE]).expect("the relay took the client's bytes (timed out: deadlock?)");
    assert!(reader.join().unwrap().expect("the client got the upstream's bytes"), "bytes changed");
    server.join().unwrap().expect("the upstream got the client's bytes");
    println!("64 MiB each way through the relay in {:?}", started.elapsed());
    drop(client);
    // The relay's thread for the connection ends and closes its sockets.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let report = proxy.report_on_demand();
        if report.contains("1 connections accepted, 0 active") {
            break;
        }
        assert!(Instant::now() < deadline, "the relay connection is still active:\n{report}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every relay report says what the relay added: the terminal report has a "relay
/// added …" line with a positive duration in human units, and the JSON a `relay`
/// object whose per-round-trip figure is positive, counts every ping's crossings, and
/// survives a round trip through [`Telemetry`](rpycbench::profile::Telemetry).
#[test]
fn every_relay_report_says_what_the_relay_added() {
    let server = server(ServerMode::Threaded);
    let proxy = Proxy::start(server.addr());
    let mut conn = Connection::connect(proxy.addr).unwrap();
    for _ in 0..200 {
        conn.call("ping", ()).unwrap();
    }
    conn.close().unwrap();
    let report = proxy.report_on_demand();
    let line = report.lines().find(|l| l.starts_with("relay added ")).unwrap_or_else(|| panic!("{report}"));
    let mut words = line["relay added ".len()..].split_whitespace();
    let value: f64 = words.next().and_then(|w| w.parse().ok()).unwrap_or_else(|| panic!("no number: {line}"));
    let unit = words.next().unwrap_or_default();
    assert!(value > 0.0 && ["ns", "µs", "ms", "s"].contains(&unit), "{line}");
    let t = proxy.terminate();
    let relay = &t["relay"];
    assert!(count(&t, &["relay", "added_per_round_trip_ns"]) > 0, "{relay}");
    // GETROOT and 200 pings at least, each way (the close may add more).
    assert!(count(&t, &["relay", "chunks_c2s"]) >= 201 && count(&t, &["relay", "chunks_s2c"]) >= 201, "{relay}");
    let parsed: rpycbench::profile::Telemetry = serde_json::from_value(t.clone()).expect("telemetry parses");
    let again: Json = serde_json::from_str(&parsed.to_json()).expect("re-serialized telemetry parses");
    assert_eq!(&again["relay"], relay, "the relay's cost round-trips through Telemetry");
}

/// `--slow-ms` beyond what a duration holds is a clear error, not a panic.
#[test]
fn a_huge_slow_threshold_is_refused_clearly() {
    let out = Command::new(BIN)
        .args(["proxy", "--upstream", "127.0.0.1:1", "--slow-ms", "1e30"])
        .stdin(Stdio::null())
        .output()
        .expect("run rpycbench proxy");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && out.status.code().is_some(), "{:?}: {stderr}", out.status);
    assert!(stderr.contains("--slow-ms") && !stderr.contains("panicked"), "{stderr}");
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
