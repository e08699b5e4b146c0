//! The diagnosis engine on real runs against real server processes, native and Python
//! (`rpyc` 6.0.2), with the round trips each workload must cost worked out from the
//! protocol and compared exactly with what crossed the wire:
//!
//! - `get_users(10)` then four attributes of each user: excessive round trips, 53 per
//!   operation; `get_users_batch`: one round trip, no finding;
//! - `get_user_dict(i)` then its four keys: reference overhead (the dict is a reference);
//! - `io_work(0.02)`: I/O bound;
//! - `cpu_work` under concurrent load (8 clients, ~10 ms of Python CPU a request) on
//!   `python-threaded` versus `python-forking`: GIL contention, while the same load of
//!   `io_work(0.05)` is not (and is I/O bound on both);
//! - a native server capped at two connections, six clients: exhaustion;
//! - 100 KiB downloads from a Python server, which sends them in two segments on a
//!   socket without `TCP_NODELAY`: delayed-ACK stalls; the native servers: none.
//!
//! Every test holds one lock: the GIL comparison reads CPU and latency under load and
//! must not share the two cores with the other tests of this binary.

mod common;
use common::preconditions;

use rpycbench::bench::{Bandwidth, Concurrent, Latency, Target};
use rpycbench::client::RemoteRef;
use rpycbench::metrics::{BenchResult, WireStats};
use rpycbench::profile::diagnosis::{diagnose, render_text, Finding, FindingId, Thresholds};
use rpycbench::server::ServerMode;
use rpycbench::{Connection, Value};
use std::sync::{Mutex, MutexGuard, PoisonError};

static SERIAL: Mutex<()> = Mutex::new(());

/// One test at a time (a failed test poisons the lock; the next still runs).
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Users `get_users` returns.
const USERS: usize = 10;
/// The attributes read of each user.
const FIELDS: [&str; 4] = ["id", "name", "email", "status"];

/// Round trips of [`users_four_attributes`], from the protocol: CALLATTR `get_users`;
/// CALLATTR `__iter__` on the returned list (a reference); one CALLATTR `__next__` per
/// user and one more answered by StopIteration; one GETATTR per attribute read.
const USERS_ROUND_TRIPS: u64 = 1 + 1 + (USERS as u64 + 1) + (USERS * FIELDS.len()) as u64;
/// References it receives: the list, its iterator and each user.
const USERS_REFERENCES: u64 = 1 + 1 + USERS as u64;
/// Round trips of [`dict_four_keys`]: CALLATTR `get_user_dict`, then one CALLATTR
/// `__getitem__` per key.
const DICT_ROUND_TRIPS: u64 = 1 + FIELDS.len() as u64;

/// `get_users(10)`, then `id`, `name`, `email` and `status` of each user: the N+1 pattern.
fn users_four_attributes(conn: &mut Connection) -> rpycbench::Result<()> {
    let users: RemoteRef = conn.call("get_users", (USERS as i64,))?.extract()?;
    let list: Vec<RemoteRef> = conn.collect(&users)?;
    assert_eq!(list.len(), USERS);
    for (i, user) in list.iter().enumerate() {
        let id: i64 = conn.getattr(user, "id")?.extract()?;
        let name: String = conn.getattr(user, "name")?.extract()?;
        let email: String = conn.getattr(user, "email")?.extract()?;
        let status: String = conn.getattr(user, "status")?.extract()?;
        assert_eq!(
            (id, name, email, status),
            (i as i64, format!("user{i}"), format!("user{i}@example.com"), "active".into())
        );
    }
    Ok(())
}

/// One call: a tuple of `(id, name, email, status)` tuples, by value.
fn users_batch(conn: &mut Connection) -> rpycbench::Result<()> {
    // A tuple of ids (by value): Vec<Value> is a brine tuple.
    let ids: Vec<Value> = (0..USERS as i64).map(Value::from).collect();
    let users: Vec<(i64, String, String, String)> = conn.call("get_users_batch", (ids,))?.extract()?;
    assert_eq!(users.len(), USERS);
    Ok(())
}

/// `get_user_dict(7)`, then its four keys: the cookbook's "fix" for N+1.
fn dict_four_keys(conn: &mut Connection) -> rpycbench::Result<()> {
    let user: RemoteRef = conn.call("get_user_dict", (7,))?.extract()?;
    let mut values = Vec::new();
    for key in FIELDS {
        values.push(conn.getitem(&user, key)?.extract::<Value>()?);
    }
    assert_eq!(values[1], Value::from("user7"));
    Ok(())
}

fn the<'a>(findings: &'a [Finding], id: FindingId, subject: &str) -> &'a Finding {
    let found: Vec<&Finding> = findings.iter().filter(|f| f.id == id && f.subject == subject).collect();
    assert_eq!(found.len(), 1, "expected one {id} for {subject}:\n{}", render_text(findings));
    found[0]
}

/// Findings that come from what crossed the wire (exact counts), as opposed to timing
/// and CPU, which a loaded machine can push over a threshold.
const WIRE_FINDINGS: [FindingId; 3] =
    [FindingId::ExcessiveRoundTrips, FindingId::ReferenceOverhead, FindingId::DeepNesting];

/// `subject`'s wire is healthy: no finding about round trips, references or nesting.
fn no_wire_finding_for(findings: &[Finding], subject: &str) {
    assert!(
        findings.iter().all(|f| f.subject != subject || !WIRE_FINDINGS.contains(&f.id)),
        "{subject} is healthy on the wire:\n{}",
        render_text(findings)
    );
}

fn wire(r: &BenchResult) -> &WireStats {
    r.wire.as_ref().unwrap_or_else(|| panic!("{} has wire counters", r.name))
}

/// The wire workloads on one server: exact round trips and references, and the
/// findings they must (and must not) produce.
fn wire_workloads_are_diagnosed_on(mode: ServerMode) {
    let _one = serial();
    let server = common::start_server(mode);
    let target = Target::server(&server);
    let latency = |name: &str, n: u64| Latency::new(format!("{name}[{mode}]")).requests(n).warmup(2);
    let users = latency("users_four_attributes", 20).run(&target, users_four_attributes);
    let batch = latency("users_batch", 20).run(&target, users_batch);
    let dict = latency("dict_four_keys", 20).sample_system(false).run(&target, dict_four_keys);
    // 15 × 20 ms: long enough (≥ 200 ms) for the server's CPU to be sampled.
    let io = latency("io_work(0.02)", 15).run(&target, |c| c.call("io_work", (0.02,)).map(drop));
    server.stop().expect("stop the server");
    let results = vec![users, batch, dict, io];
    for r in &results {
        assert_eq!(r.outcomes.failures, 0, "{}: {:?}", r.name, r.outcomes.errors);
    }
    let findings = diagnose(&results, &Thresholds::default());
    let [users, batch, dict, io] = &results[..] else { unreachable!("four results") };

    // N+1: exactly what the protocol says, on the wire and in the finding.
    let w = wire(users);
    assert_eq!(w.measured_requests, 20);
    assert_eq!(w.round_trips, USERS_ROUND_TRIPS * 20, "{w:?}");
    assert_eq!(w.round_trips_per_request, USERS_ROUND_TRIPS as f64);
    assert_eq!(w.refs_received, USERS_REFERENCES * 20, "{w:?}");
    let rt = the(&findings, FindingId::ExcessiveRoundTrips, &users.name);
    assert_eq!(rt.evidence[0].measured, 53.0);
    assert_eq!(rt.evidence[0].measured, w.round_trips_per_request);
    assert_eq!(rt.details[0], format!("{} round trips over 20 operations", USERS_ROUND_TRIPS * 20));
    assert!(rt.action.contains("measured: 53)"), "{}", rt.action);
    let refs = the(&findings, FindingId::ReferenceOverhead, &users.name);
    assert_eq!((refs.evidence[0].measured, refs.evidence[1].measured), (12.0, 53.0));

    // The batch method: one round trip, by value, healthy.
    assert_eq!((wire(batch).round_trips, wire(batch).refs_received), (20, 0));
    no_wire_finding_for(&findings, &batch.name);

    // The dict: a reference, read key by key.
    let w = wire(dict);
    assert_eq!((w.round_trips, w.refs_received), (DICT_ROUND_TRIPS * 20, 20), "{w:?}");
    let refs = the(&findings, FindingId::ReferenceOverhead, &dict.name);
    assert_eq!((refs.evidence[0].measured, refs.evidence[1].measured), (1.0, 5.0));
    assert!(refs.action.contains("Dicts and lists travel by reference"), "{}", refs.action);
    assert_eq!(the(&findings, FindingId::ExcessiveRoundTrips, &dict.name).evidence[0].measured, 5.0);

    // io_work(0.02): 20 ms at the median, the server idle.
    let io_f = the(&findings, FindingId::IoBound, &io.name);
    assert!(io_f.evidence[0].measured >= 20.0, "{:?}", io_f.evidence);
    no_wire_finding_for(&findings, &io.name);
}

fn wire_workloads_are_diagnosed_on_the_native_threaded_server() {
    wire_workloads_are_diagnosed_on(ServerMode::Threaded);
}

fn wire_workloads_are_diagnosed_on_the_python_threaded_server() {
    wire_workloads_are_diagnosed_on(ServerMode::PythonThreaded);
}

/// SHA-256 rounds of one `cpu_work` request: about 10 ms of Python CPU (0.8 µs a round).
const CPU_ROUNDS: i64 = 12_000;
/// Tries at the GIL comparison before it is reported as not checkable here. The forking
/// server can only scale onto a core nobody else uses, and Linux's autogroup scheduling
/// gives each session an equal share: while another session (a compiler, a CPU hog)
/// keeps one of 2 cores busy, the forking server gets one core too, does no better than
/// the threaded one, and the engine rightly does not call it the GIL. A try takes about
/// 2.5 s.
const GIL_TRIES: usize = 3;
/// The precondition of the GIL comparison: server CPU (percent of one core) the forking
/// server must reach in its busiest sampling interval, well over the one core a GIL
/// holds the threaded server to.
const FORKING_SCALED_PERCENT: f64 = 150.0;
/// Requests per client of the CPU load (see the GIL test).
const CPU_REQUESTS: u64 = 40;

/// `work` under a closed loop of 8 clients × `requests` requests each on `mode`.
fn closed_loop(
    mode: ServerMode,
    name: &str,
    requests: u64,
    work: impl Fn(&mut Connection) -> rpycbench::Result<()> + Sync,
) -> BenchResult {
    let server = common::start_server(mode);
    // At least 104 requests: enough for a p99 (min_tail_samples); 8 runnable processes
    // claim the second core from other work of the same session.
    let r = Concurrent::new(format!("{name}[{mode}]"))
        .clients(8)
        .requests_per_client(requests)
        // Clients that block at once leave the cores to the server (a poll for each
        // 10 ms reply is only the clients' CPU here).
        .run(&Target::server(&server).with_reply_poll(std::time::Duration::ZERO), work);
    server.stop().expect("stop the server");
    assert_eq!(r.outcomes.successes, 8 * requests, "{}: {:?}", r.name, r.outcomes.errors);
    r
}

fn cpu_work(c: &mut Connection) -> rpycbench::Result<()> {
    c.call("cpu_work", (CPU_ROUNDS,)).map(drop)
}

/// 50 ms waits: the forking server's eight processes stay well under low_cpu_percent
/// (with 20 ms they reach about 30 % of a core between them).
fn io_work(c: &mut Connection) -> rpycbench::Result<()> {
    c.call("io_work", (0.05,)).map(drop)
}

fn figures(results: &[BenchResult]) -> String {
    let mut out = String::new();
    for r in results {
        let l = r.latency.as_ref().expect("a concurrent run records latency");
        out += &format!(
            "  {}: {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, server CPU {:.0} %\n",
            r.name,
            r.throughput_rps.unwrap_or(0.0),
            l.p50_ns as f64 / 1e6,
            l.p99_ns as f64 / 1e6,
            server_cpu(r)
        );
    }
    out
}

fn server_cpu(r: &BenchResult) -> f64 {
    r.system.as_ref().and_then(|s| s.server.as_ref()).map_or(-1.0, |s| s.cpu_percent_mean)
}

/// The server's busiest sampling interval (percent of one core). The precondition of the
/// GIL case reads it, not the mean: the mean of a run this short includes the ramp while
/// the forking server forks its children (measured with `bench concurrent --server-pid`:
/// mean 107 % over 0.4 s, 146 % over 0.8 s, 173 % over 2.9 s, while every run's busiest
/// interval was 190–220 %), and the question is whether a second core was there to take.
fn server_cpu_peak(r: &BenchResult) -> f64 {
    r.system.as_ref().and_then(|s| s.server.as_ref()).map_or(-1.0, |s| s.cpu_percent_max)
}

/// CPU that processes other than the benchmark and its server used during `r` (percent
/// of one core), from the machine reference; 0 when it was not measured.
fn others_cpu(r: &BenchResult) -> f64 {
    let other = r.machine.as_ref().and_then(|m| m.other_load_pct).unwrap_or(0.0);
    (other - server_cpu(r)).max(0.0)
}

/// Another job may take cores for part of a run only: then the forking server's busiest
/// interval reaches a second core while the run as a whole does not. Above this much of
/// other processes' CPU (percent of one core) the comparison is not made.
const OTHERS_MAX_PERCENT: f64 = 30.0;

fn cpu_work_on_python_threaded_versus_forking_is_gil_contention_and_io_work_is_not() {
    let _one = serial();
    use ServerMode::{PythonForking, PythonThreaded};

    // The I/O load: I/O bound on both servers, never the GIL.
    let io = [closed_loop(PythonThreaded, "io_work", 13, io_work), closed_loop(PythonForking, "io_work", 13, io_work)];
    let findings = diagnose(&io, &Thresholds::default());
    let report = format!("{}{}", figures(&io), render_text(&findings));
    assert!(findings.iter().all(|f| f.id != FindingId::GilContention), "{report}");
    for r in &io {
        assert!(the(&findings, FindingId::IoBound, &r.name).evidence[0].measured >= 50.0, "{report}");
    }

    // The CPU load: the GIL, on a machine that let the forking server use a second core.
    let mut log = String::new();
    let mut forking_cpu_max: f64 = 0.0;
    let mut others_max: f64 = 0.0;
    for attempt in 1..=GIL_TRIES {
        // 40 requests a client: the forking server runs long enough past its ramp to use
        // the second core for several sampling intervals.
        let cpu = [
            closed_loop(PythonThreaded, "cpu_work", CPU_REQUESTS, cpu_work),
            closed_loop(PythonForking, "cpu_work", CPU_REQUESTS, cpu_work),
        ];
        let forking_cpu = server_cpu_peak(&cpu[1]);
        let others = others_cpu(&cpu[0]).max(others_cpu(&cpu[1]));
        let free = forking_cpu >= FORKING_SCALED_PERCENT && others < OTHERS_MAX_PERCENT;
        forking_cpu_max = forking_cpu_max.max(forking_cpu);
        others_max = others_max.max(others);
        let findings = diagnose(&cpu, &Thresholds::default());
        let report = format!("try {attempt}:\n{}{}", figures(&cpu), render_text(&findings));
        log += &report;
        assert!(findings.iter().all(|f| f.id != FindingId::IoBound), "{report}");
        if !free && attempt < GIL_TRIES {
            continue; // the machine, not the code: try again
        }
        preconditions::require(free, || {
            format!(
                "no second core was free: in {GIL_TRIES} tries the forking server reached at most \
                 {forking_cpu_max:.0} % CPU in its busiest interval (GIL contention shows once it exceeds \
                 {FORKING_SCALED_PERCENT:.0} %) while other processes used up to {others_max:.0} % (at most \
                 {OTHERS_MAX_PERCENT:.0} % allowed)"
            )
        });
        let gil: Vec<&Finding> = findings.iter().filter(|f| f.id == FindingId::GilContention).collect();
        let [gil] = gil[..] else {
            // A tail ratio measured near its bound can miss on one run (seen in CI: 1.49
            // against 1.5, the forking server's p99 raised by the tests beside it); a
            // rule that no longer fires misses on every try.
            if attempt < GIL_TRIES {
                continue;
            }
            panic!("the forking server scaled to {forking_cpu:.0} % CPU, yet no single GIL finding in {GIL_TRIES} tries:\n{log}")
        };
        assert_eq!(gil.subject, "cpu_work[python-threaded] vs cpu_work[python-forking]");
        assert_eq!(gil.evidence.len(), 4);
        assert!(gil.evidence.iter().all(|e| e.holds()), "{:?}", gil.evidence);
        return;
    }
}

fn a_server_capped_at_two_connections_is_exhausted_by_six_clients() {
    let _one = serial();
    let spec = common::native_spec(ServerMode::Threaded).max_connections(2);
    let server = spec.start().unwrap_or_else(|e| panic!("cannot start the capped server: {e}"));
    let target = Target::server(&server);
    // 100 ms requests: the two admitted clients hold their connections for a second
    // while the four turned away fail (and reconnect, and fail) within milliseconds, so
    // no reconnect can find a free slot even on a loaded machine.
    let r = Concurrent::new("capped[threaded]")
        .clients(6)
        .requests_per_client(10)
        .warmup_per_client(1)
        .run(&target, |c| c.call("io_work", (0.1,)).map(drop));
    server.stop().expect("stop the server");
    let findings = diagnose(std::slice::from_ref(&r), &Thresholds::default());
    assert_eq!((r.outcomes.attempts, r.outcomes.successes, r.outcomes.failures), (60, 20, 40), "{:?}", r.outcomes);
    let ex = the(&findings, FindingId::ServerExhaustion, &r.name);
    assert_eq!(ex.evidence[0].measured, 20.0 / 60.0);
    assert!(ex.details.iter().any(|d| d == "40 of 60 requests failed"), "{:?}", ex.details);
    assert!(ex.explanation.contains("40 failures were the connection's"), "{}", ex.explanation);
    assert!(ex.action.contains("connection cap"), "{}", ex.action);
    assert_eq!(findings[0].id, FindingId::ServerExhaustion, "{}", render_text(&findings));
}

/// Downloads of 1 KiB and 100 KiB from `mode`, 30 of each.
fn downloads(mode: ServerMode) -> BenchResult {
    let server = common::start_server(mode);
    let r = Bandwidth::new(format!("downloads[{mode}]"))
        .sizes(vec![1024, 100 << 10])
        .iterations(30)
        .run_builtin(&Target::server(&server));
    server.stop().expect("stop the server");
    assert!(r.sizes.iter().all(|s| s.outcomes.failures == 0), "{}: {:?}", r.name, r.sizes);
    r
}

fn large_replies_of_a_python_server_stall_and_the_native_servers_do_not() {
    let _one = serial();
    let python = downloads(ServerMode::PythonThreaded);
    let findings = diagnose(std::slice::from_ref(&python), &Thresholds::default());
    // rpyc writes 64 000 bytes at a time: the rest of a 100 KiB reply is a second, small
    // segment that Nagle holds until our delayed ACK of the first, about 40 ms later.
    let stall = the(&findings, FindingId::DelayedAckStall, &python.name);
    assert!(stall.details.iter().any(|d| d.starts_with("download 100 KiB: ")), "{}", render_text(&findings));
    assert_eq!(findings[0].id, FindingId::DelayedAckStall, "{}", render_text(&findings));
    for mode in [ServerMode::Threaded, ServerMode::Forking] {
        let native = downloads(mode);
        let findings = diagnose(std::slice::from_ref(&native), &Thresholds::default());
        assert!(findings.iter().all(|f| f.id != FindingId::DelayedAckStall), "{mode}:\n{}", render_text(&findings));
    }
}

fn main() {
    preconditions::main(crate::tests![
        large_replies_of_a_python_server_stall_and_the_native_servers_do_not,
        wire_workloads_are_diagnosed_on_the_native_threaded_server,
        wire_workloads_are_diagnosed_on_the_python_threaded_server,
        cpu_work_on_python_threaded_versus_forking_is_gil_contention_and_io_work_is_not,
        a_server_capped_at_two_connections_is_exhausted_by_six_clients,
    ])
}
