//! How close the native server comes to the wire, and how far ahead of Python it is.
//!
//! Measures, on loopback:
//! * the round-trip latency (median, p99) of `conn.call("ping", ())`, Rust client →
//!   native threaded server;
//! * the same exchange as a raw TCP ping-pong: a std `TcpStream` writing the exact frame
//!   bytes CALLATTR ping puts on the wire to a thread that reads one request-sized frame
//!   and writes the reply frame back (sizes taken from a real exchange, TCP_NODELAY);
//! * a Python client (`conn.root.ping()`, timed with `time.perf_counter_ns`) against
//!   the Python `ThreadedServer`, and for reference against the native server, and the
//!   Rust client against the Python server;
//! * the throughput of 64 concurrent clients (closed-loop `ping`, one request in flight
//!   per connection) against the native threaded and the Python threaded server, with
//!   the server's CPU time per request (see [`throughput`]). The target is checked with
//!   the 64 connections driven by an event-loop thread per CPU ([`mux_load`]), so the
//!   load generator takes as little as it can of the cores it shares with the server;
//!   a thread per client (a blocking `Connection` each) is shown for reference, and a
//!   minimal thread-per-connection responder shows the most that server model can
//!   reach on the machine;
//!
//! * the profiling relay (`rpycbench proxy`): ping round trips direct and through it,
//!   for the native server and for raw TCP with the same frames, against a plain
//!   forwarder, in alternating rounds ([`relay`]);
//!
//! * bulk transfers: 100 MiB uploaded and downloaded through the native server, against
//!   raw TCP moving the same bytes between two processes in the same run ([`bulk`]);
//!
//! and prints a table and the ratios with their targets.
//!
//! Run with `cargo bench -p rpycbench --bench server_compare` (release profile, about
//! 50 s). Without `--bench` (as `cargo test --all-targets` runs it) it does a quick
//! smoke run with tiny counts and checks no targets. Python comes from
//! `RPYCBENCH_PYTHON`, else the repository's `.venv`.

use rpycbench::client::{poll_read, Connection, DEFAULT_REPLY_POLL};
use rpycbench::server::{PythonServerSpec, ServerHandle, ServerMode, ServerSpec};
use rpycbench::wire::{Boxed, Compression, FrameEncoder, Handler, Message, Value};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod bulk;
mod load;
mod mux_load;
mod peer;
mod relay;
mod throughput;

use peer::{Peer, PeerKind};

use throughput::{Contender, Rounds};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// How much to measure.
struct Plan {
    warmup: usize,
    calls: usize,
    python_calls: usize,
    clients: usize,
    /// Throughput rounds per contender, taken in turns.
    rounds: usize,
    round_for: Duration,
    /// Bytes of each bulk transfer, and transfers timed each way.
    bulk_size: usize,
    bulk_iterations: usize,
    full: bool,
}

const FULL: Plan = Plan {
    warmup: 2_000,
    calls: 20_000,
    python_calls: 10_000,
    clients: 64,
    rounds: 5,
    round_for: Duration::from_secs(2),
    bulk_size: 100 << 20,
    bulk_iterations: 5,
    full: true,
};

const SMOKE: Plan = Plan {
    warmup: 20,
    calls: 200,
    python_calls: 100,
    clients: 4,
    rounds: 1,
    round_for: Duration::from_millis(200),
    bulk_size: 1 << 20,
    bulk_iterations: 2,
    full: false,
};

fn python() -> PathBuf {
    std::env::var_os("RPYCBENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python")))
}

fn start(mode: ServerMode) -> Res<ServerHandle> {
    let spec = ServerSpec {
        binary: Some(env!("CARGO_BIN_EXE_rpycbench").into()),
        python: PythonServerSpec { python: Some(python()), ..PythonServerSpec::default() },
        ..ServerSpec::new(mode)
    };
    Ok(spec.start()?)
}

/// Median and p99 of a set of round trips.
#[derive(Clone, Copy)]
struct Latency {
    median: Duration,
    p99: Duration,
    calls: usize,
}

impl Latency {
    fn of(mut samples: Vec<Duration>) -> Latency {
        samples.sort_unstable();
        let n = samples.len();
        // Nearest rank: the smallest sample with at least p of them at or below it.
        let rank = |p: f64| samples[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
        Latency { median: rank(0.5), p99: rank(0.99), calls: n }
    }

    fn from_ns(median: u64, p99: u64, calls: usize) -> Latency {
        Latency { median: Duration::from_nanos(median), p99: Duration::from_nanos(p99), calls }
    }
}

/// Times `op` `calls` times after `warmup` untimed runs.
fn time_calls(plan: &Plan, mut op: impl FnMut()) -> Latency {
    for _ in 0..plan.warmup {
        op();
    }
    let mut samples = Vec::with_capacity(plan.calls);
    for _ in 0..plan.calls {
        let start = Instant::now();
        op();
        samples.push(start.elapsed());
    }
    Latency::of(samples)
}

fn frame(message: &Message) -> Vec<u8> {
    let mut enc = FrameEncoder::new(Compression::Off);
    message.encode(enc.payload()).expect("a ping message encodes");
    enc.finish().expect("a ping frame").to_vec()
}

/// The exact request and reply frames of `conn.call("ping", ())` as the connection's
/// next request, checked against the byte counts of a real exchange.
fn ping_frames(conn: &mut Connection) -> Res<(Vec<u8>, Vec<u8>)> {
    let root = conn.root()?;
    // Every request so far took one sequence number (no DEL or CLOSE was sent).
    let seq = conn.counters().requests_sent.total() as i64;
    let request = frame(&Message::Request {
        seq,
        handler: i64::from(Handler::CallAttr.id()),
        args: Boxed::Tuple(vec![
            Boxed::LocalRef(root.id().clone()),
            Boxed::Value("ping".into()),
            Boxed::Value(Value::Tuple(Vec::new())),
            Boxed::Value(Value::Tuple(Vec::new())),
        ]),
    });
    let reply = frame(&Message::Reply { seq, value: Boxed::Value("pong".into()) });
    let before = conn.counters();
    conn.call("ping", ())?;
    let exchange = conn.counters() - before;
    let measured = (exchange.frames_sent, exchange.frames_received, exchange.bytes_sent, exchange.bytes_received);
    let built = (1, 1, request.len() as u64, reply.len() as u64);
    if measured != built {
        return Err(format!("ping frames: built {built:?}, the real exchange was {measured:?} (frames, bytes)").into());
    }
    Ok((request, reply))
}

/// Raw TCP ping-pong with the frames of a CALLATTR ping: no RPyC on either side, the
/// echoing end a process in its own session like the servers ([`peer`]). The client
/// waits for each reply as the rpycbench client does (polling [`DEFAULT_REPLY_POLL`]
/// before blocking): a blocking read here would pay a sleeping thread's wake-up that
/// the client it is compared with does not, and the reference would read slower than
/// the server it bounds (70–275 µs against 24–32 µs, seen).
fn raw_ping_pong(plan: &Plan, request: &[u8], reply: &[u8]) -> Res<Latency> {
    let echo = Peer::start(&PeerKind::Raw { request_len: request.len(), reply: reply.to_vec() })?;
    let mut stream = TcpStream::connect(echo.addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = vec![0u8; reply.len()];
    let latency = time_calls(plan, || {
        stream.write_all(request).expect("raw write");
        let mut got = 0;
        while got < buf.len() {
            match poll_read(&mut stream, &mut buf[got..], DEFAULT_REPLY_POLL).expect("raw read") {
                0 => panic!("the raw peer closed the connection"),
                n => got += n,
            }
        }
    });
    Ok(latency)
}

fn rust_client_latency(plan: &Plan, addr: SocketAddr) -> Res<Latency> {
    let mut conn = Connection::connect(addr)?;
    let latency = time_calls(plan, || {
        conn.call("ping", ()).expect("ping");
    });
    conn.close()?;
    Ok(latency)
}

/// A Python rpyc client timing `conn.root.ping()`; prints `median_ns p99_ns`.
const PYTHON_CLIENT: &str = r#"
import math, sys, time
import rpyc
host, port, warmup, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
conn = rpyc.connect(host, port)
root = conn.root
for _ in range(warmup):
    root.ping()
clock = time.perf_counter_ns
samples = []
for _ in range(calls):
    start = clock()
    root.ping()
    samples.append(clock() - start)
samples.sort()
rank = lambda p: samples[min(max(math.ceil(p * calls), 1), calls) - 1]
print(rank(0.5), rank(0.99))
conn.close()
"#;

fn python_client_latency(plan: &Plan, addr: SocketAddr) -> Res<Latency> {
    let out = Command::new(python())
        .arg("-c")
        .arg(PYTHON_CLIENT)
        .args([addr.ip().to_string(), addr.port().to_string()])
        .args([(plan.warmup / 2).to_string(), plan.python_calls.to_string()])
        .stdin(Stdio::null())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(
            format!("the Python client failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)).into()
        );
    }
    let nums: Vec<u64> = stdout.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
    match nums[..] {
        [median, p99] => Ok(Latency::from_ns(median, p99, plan.python_calls)),
        _ => Err(format!("the Python client printed {stdout:?}").into()),
    }
}

/// The relay's rows: each way's median and p99, what relaying added, and how that
/// compares with #19's target (checked only in a full run).
fn print_relay(r: &relay::RelayLatencies, verdicts: Verdicts) {
    println!(
        "{:<54} {:>10} {:>10} {:>7}   {} alternating rounds",
        "relay (rpycbench proxy --quiet), round trip", "median", "p99", "calls", r.rounds
    );
    let rows = [
        ("raw TCP ping-pong, direct", r.raw_direct, None),
        ("raw TCP ping-pong, through the relay", r.raw_relayed, Some(r.raw_direct)),
        ("raw TCP ping-pong, through a plain forwarder", r.raw_forwarded, Some(r.raw_direct)),
        ("Rust client -> native threaded, direct", r.native_direct, None),
        ("Rust client -> native threaded, through the relay", r.native_relayed, Some(r.native_direct)),
    ];
    for (name, l, direct) in rows {
        let added = direct.map_or(String::new(), |d| {
            let ns = l.median.as_nanos() as i128 - d.median.as_nanos() as i128;
            format!("   {:+.1} µs", ns as f64 / 1e3)
        });
        println!("{name:<54} {:>10} {:>10} {:>7}{added}", us(l.median), us(l.p99), l.calls);
    }
    if let Some(cpu) = r.relay_cpu {
        println!("{:<54} {:>10}   ({} user)", "relay CPU per relayed round trip", us(cpu.total()), us(cpu.user));
    }
    match &r.self_reported {
        Some(line) => println!("the relay's own report: {line}"),
        None => println!("the relay's own report: no \"relay added\" line"),
    }
    let raw_rtt = r.raw_direct.median.as_secs_f64();
    let added = |through: Latency, direct: Latency| through.median.as_secs_f64() - direct.median.as_secs_f64();
    for (name, value) in [
        ("relay added to a native ping / raw RTT", added(r.native_relayed, r.native_direct) / raw_rtt),
        ("relay added to raw frames / raw RTT", added(r.raw_relayed, r.raw_direct) / raw_rtt),
        ("(plain forwarder added / raw RTT, for reference)", added(r.raw_forwarded, r.raw_direct) / raw_rtt),
    ] {
        let verdict = if name.starts_with('(') { "" } else { verdicts.say(value <= 1.5) };
        let target = if name.starts_with('(') { "" } else { "<= 1.5" };
        println!("{name:<54} {value:>10.2}   {target}{verdict}");
    }
}

/// Whether the run may call targets met or missed: only a full run, and only on a
/// machine other processes left alone (see [`load`]).
#[derive(Clone, Copy)]
enum Verdicts {
    /// A smoke run: tiny counts, no targets.
    None,
    /// Other processes took this share of the machine (`None`: /proc could not say):
    /// figures only.
    Withheld(Option<f64>),
    Given,
}

impl Verdicts {
    fn of(full: bool, watch: &load::LoadWatch) -> Verdicts {
        let busy = watch.foreign_share();
        match (full, busy.is_some_and(|b| b <= load::BUSY_SHARE)) {
            (false, _) => Verdicts::None,
            (true, false) => Verdicts::Withheld(busy),
            (true, true) => Verdicts::Given,
        }
    }

    fn say(self, met: bool) -> &'static str {
        match (self, met) {
            (Verdicts::None, _) => "",
            (Verdicts::Withheld(_), _) => "  (withheld)",
            (Verdicts::Given, true) => "  met",
            (Verdicts::Given, false) => "  MISSED",
        }
    }

    /// A line saying why verdicts are withheld, if they are.
    fn explain(self) {
        match self {
            Verdicts::Withheld(Some(busy)) => println!(
                "verdicts withheld: other processes took {:.0} % of the machine's CPU during the run (more than {:.0} %); \
                 rerun on an idle machine",
                busy * 100.0,
                load::BUSY_SHARE * 100.0
            ),
            Verdicts::Withheld(None) => {
                println!("verdicts withheld: /proc could not say what else used the machine during the run")
            }
            _ => {}
        }
    }
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() -> Res<()> {
    peer::serve_if_peer()?;
    // `cargo bench` passes --bench; `cargo test --all-targets` runs benches without it.
    let plan = if std::env::args().any(|a| a == "--bench") { FULL } else { SMOKE };
    let relay_only = std::env::args().skip(1).any(|a| a == "relay");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let watch = load::LoadWatch::start();

    let native = start(ServerMode::Threaded)?;

    // The frames of a real exchange, at the median sequence number of the timed calls
    // (brine writes an int as its decimal digits, so the size depends on it).
    let mut probe = Connection::connect(native.addr())?;
    for _ in 0..plan.warmup + plan.calls / 2 {
        probe.call("ping", ())?;
    }
    let (request, reply) = ping_frames(&mut probe)?;
    probe.close()?;

    if relay_only {
        // `cargo bench ... -- relay`: the relay's section alone, for working on it.
        let relayed = relay::measure(&plan, native.addr(), &request, &reply)?;
        println!();
        let verdicts = Verdicts::of(plan.full, &watch);
        print_relay(&relayed, verdicts);
        verdicts.explain();
        return Ok(());
    }
    let python_server = start(ServerMode::PythonThreaded)?;
    let raw = raw_ping_pong(&plan, &request, &reply)?;
    let rust_native = rust_client_latency(&plan, native.addr())?;
    let rust_python = rust_client_latency(&Plan { calls: plan.python_calls, ..plan }, python_server.addr())?;
    let py_python = python_client_latency(&plan, python_server.addr())?;
    let py_native = python_client_latency(&plan, native.addr())?;
    let relayed = relay::measure(&plan, native.addr(), &request, &reply)?;
    let responder = Peer::start(&PeerKind::Minimal)?;
    let contenders = [
        Contender { addr: native.addr(), pids: native.pids() },
        Contender { addr: python_server.addr(), pids: python_server.pids() },
        Contender { addr: responder.addr, pids: vec![responder.pid()] },
    ];
    let [tput_native, tput_python, tput_minimal]: [Rounds; 3] =
        throughput::event_loop_rounds(&contenders, plan.clients, plan.rounds, plan.round_for)?
            .try_into()
            .map_err(|_| "one result per contender")?;
    let threads_native = throughput::client_threads(native.addr(), plan.clients, plan.round_for)?;
    let threads_python = throughput::client_threads(python_server.addr(), plan.clients, plan.round_for)?;
    let bulk = bulk::measure(native.addr(), plan.bulk_size, plan.bulk_iterations)?;
    // Read before the servers stop, while they still count as this run's processes.
    let verdicts = Verdicts::of(plan.full, &watch);

    println!();
    println!(
        "server_compare{}: loopback, {cpus} CPUs; CALLATTR ping frames: request {} B, reply {} B",
        if plan.full { "" } else { " (smoke run: tiny counts, no targets)" },
        request.len(),
        reply.len()
    );
    println!();
    println!("{:<54} {:>10} {:>10} {:>7}", "round-trip latency", "median", "p99", "calls");
    let rows = [
        ("raw TCP ping-pong, same frames (TCP_NODELAY)", raw),
        ("Rust client -> native threaded, call(\"ping\")", rust_native),
        ("Rust client -> python-threaded, call(\"ping\")", rust_python),
        ("Python client -> python-threaded, conn.root.ping()", py_python),
        ("Python client -> native threaded, conn.root.ping()", py_native),
    ];
    for (name, l) in rows {
        println!("{name:<54} {:>10} {:>10} {:>7}", us(l.median), us(l.p99), l.calls);
    }
    println!();
    print_relay(&relayed, verdicts);
    println!();
    println!(
        "{:<54} {:>10} {:>22}   rounds (req/s)",
        format!("throughput, {} clients, closed-loop ping", plan.clients),
        "req/s",
        "server CPU/req (user)"
    );
    let cpu =
        |r: &Rounds| r.server_cpu_per_request().map_or("-".into(), |c| format!("{} ({})", us(c.total()), us(c.user)));
    let spread = |r: &Rounds| r.rates.iter().map(|&x| grouped(x)).collect::<Vec<_>>().join(" ");
    let tput_rows = [
        ("native threaded, event-loop clients", &tput_native),
        ("python-threaded, event-loop clients", &tput_python),
        ("minimal thread-per-connection responder (ceiling)", &tput_minimal),
    ];
    for (name, r) in tput_rows {
        println!("{name:<54} {:>10} {:>22}   {}", grouped(r.median()), cpu(r), spread(r));
    }
    println!("{:<54} {:>10}", "native threaded, client thread per connection, 1 round", grouped(threads_native));
    println!("{:<54} {:>10}", "python-threaded, client thread per connection, 1 round", grouped(threads_python));
    println!();
    let gib_s = |bps: f64| format!("{:.2} GiB/s", bps / f64::from(1u32 << 30));
    println!(
        "{:<54} {:>12} {:>12}",
        format!("bulk transfer, {} MiB, median of {}", bulk.size >> 20, plan.bulk_iterations),
        "upload",
        "download"
    );
    println!(
        "{:<54} {:>12} {:>12}",
        "Rust client <-> native threaded (upload/download)",
        gib_s(bulk.upload),
        gib_s(bulk.download)
    );
    println!(
        "{:<54} {:>12} {:>12}",
        "raw TCP, the same bytes between two processes",
        gib_s(bulk.raw_upload),
        gib_s(bulk.raw_download)
    );
    println!();

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let checks = [
        ("native / raw median latency", ratio(rust_native.median, raw.median), "<=", 1.3),
        ("python / native median latency", ratio(py_python.median, rust_native.median), ">=", 4.0),
        ("native / python throughput (event-loop clients)", tput_native.median() / tput_python.median(), ">=", 10.0),
    ];
    // #19's target: 1 GiB/s each way, or within 2× of raw TCP measured in the same run.
    let bulk_target = |bps: f64, raw: f64| (bps / f64::from(1u32 << 30)).max(2.0 * bps / raw);
    let bulk_checks = [
        ("bulk upload: GiB/s, or 2 × native / raw (the better)", bulk_target(bulk.upload, bulk.raw_upload), ">=", 1.0),
        (
            "bulk download: GiB/s, or 2 × native / raw (the better)",
            bulk_target(bulk.download, bulk.raw_download),
            ">=",
            1.0,
        ),
    ];
    println!("{:<54} {:>10}   target", "ratio", "value");
    for (name, value, op, target) in checks.into_iter().chain(bulk_checks) {
        let met = if op == "<=" { value <= target } else { value >= target };
        let verdict = verdicts.say(met);
        println!("{name:<54} {value:>10.2}   {op} {target}{verdict}");
    }
    verdicts.explain();
    println!();
    let per_request = |r: &Rounds| r.server_cpu_per_request().map(|c| c.total().as_secs_f64());
    let notes = [
        ("native / ceiling throughput", Some(tput_native.median() / tput_minimal.median())),
        (
            "python / native server CPU per request",
            per_request(&tput_python).zip(per_request(&tput_native)).map(|(p, n)| p / n),
        ),
    ];
    for (name, value) in notes {
        if let Some(value) = value {
            println!("{name:<54} {value:>10.2}");
        }
    }
    println!();
    Ok(())
}
