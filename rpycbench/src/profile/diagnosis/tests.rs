//! Each finding from results shaped like real ones, threshold changes, ordering, JSON.

use super::*;
use crate::metrics::{
    BenchKind, BenchResult, Environment, ErrorCount, LatencyHistogram, Outcomes, ProcessStats, SystemStats, WireStats,
};

pub(super) const LOOPBACK: &str = "127.0.0.1:40001";
const REMOTE: &str = "10.1.2.3:18812";

/// A result of `kind` against `mode`, with `n` latencies from `latency_ns(i)`, all
/// successful, 2 cores, no CPU sample, no wire counters.
pub(super) fn result(
    name: &str,
    kind: BenchKind,
    mode: &str,
    address: &str,
    n: u64,
    latency_ns: impl Fn(u64) -> u64,
) -> BenchResult {
    let mut h = LatencyHistogram::new();
    for i in 0..n {
        h.record_ns(latency_ns(i));
    }
    let wall_ns = (0..n).map(&latency_ns).sum::<u64>().max(1);
    let mut r = BenchResult::for_test(name, kind, mode, &h, wall_ns);
    r.server.address = Some(address.into());
    r.environment.cores = 2;
    r
}

fn ping(name: &str, address: &str) -> BenchResult {
    // ~60 µs with a little jitter, like a native ping on loopback.
    result(name, BenchKind::Latency, "threaded", address, 1000, |i| 60_000 + (i % 7) * 1_000)
}

/// Sampled CPU figures; the run lasted at least a second (long enough to sample).
pub(super) fn with_cpu(mut r: BenchResult, server: f64, client: f64) -> BenchResult {
    r.wall_time_ns = r.wall_time_ns.max(1_000_000_000);
    let stats =
        |cpu: f64| ProcessStats { cpu_percent_mean: cpu, cpu_percent_max: cpu * 1.2, ..ProcessStats::default() };
    r.system =
        Some(SystemStats { interval_ns: 100_000_000, samples: 20, server: Some(stats(server)), client: stats(client) });
    r
}

fn with_wire(mut r: BenchResult, ops: u64, round_trips: u64, refs: u64) -> BenchResult {
    let per = |x: u64| x as f64 / ops as f64;
    r.wire = Some(WireStats {
        measured_requests: ops,
        requests_sent: round_trips,
        round_trips,
        requests_received: 0,
        bytes_sent: 100 * round_trips,
        bytes_received: 120 * round_trips,
        refs_received: refs,
        refs_released: refs,
        round_trips_per_request: per(round_trips),
        bytes_per_request: per(220 * round_trips),
        split_frames: 0,
        split_frames_delayed_ack: 0,
    });
    r
}

pub(super) fn ids(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.id.as_str()).collect()
}

pub(super) fn one(findings: &[Finding], id: FindingId) -> &Finding {
    let found: Vec<_> = findings.iter().filter(|f| f.id == id).collect();
    assert_eq!(found.len(), 1, "expected one {id} in {:?}", ids(findings));
    found[0]
}

#[test]
fn healthy_ping_has_no_finding() {
    let r = with_wire(with_cpu(ping("latency[threaded]", LOOPBACK), 12.0, 25.0), 1000, 1000, 0);
    let findings = diagnose(&[r], &Thresholds::default());
    assert!(findings.is_empty(), "{}", render_text(&findings));
    assert!(render_text(&findings).contains("no findings"));
    assert_eq!(render_compact(&findings, 5), "");
}

#[test]
fn half_failures_are_exhaustion_with_the_failure_groups() {
    let mut r = ping("half", LOOPBACK);
    r.outcomes = Outcomes {
        attempts: 40,
        successes: 20,
        failures: 20,
        success_rate: 0.5,
        late_starts: 0,
        errors: vec![ErrorCount { message: "remote ValueError: x".into(), count: 20 }],
        errors_other: 0,
    };
    let findings = diagnose(&[r], &Thresholds::default());
    let f = one(&findings, FindingId::ServerExhaustion);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!((f.evidence[0].measured, f.evidence[0].threshold), (0.5, 0.95));
    assert!(f.details.iter().any(|d| d == "20 × remote ValueError: x"), "{:?}", f.details);
    assert!(f.action.contains("exceptions raised by the service"), "{}", f.action);

    // Refused connections point at the server's limits instead.
    let mut refused = ping("refused", LOOPBACK);
    refused.outcomes.failures = 10;
    refused.outcomes.successes = 0;
    refused.outcomes.attempts = 10;
    refused.outcomes.success_rate = 0.0;
    refused.outcomes.errors =
        vec![ErrorCount { message: "cannot connect to 127.0.0.1:1: Connection refused".into(), count: 10 }];
    let f = diagnose(&[refused], &Thresholds::default()).remove(0);
    assert!(f.action.contains("ulimit"), "{}", f.action);
}

#[test]
fn exhaustion_threshold_is_configurable() {
    let mut r = ping("ninety", LOOPBACK);
    r.outcomes.successes = 900;
    r.outcomes.failures = 100;
    r.outcomes.success_rate = 0.9;
    assert_eq!(ids(&diagnose(std::slice::from_ref(&r), &Thresholds::default())), ["server_exhaustion"]);
    let lenient = Thresholds { min_success_rate: 0.85, ..Thresholds::default() };
    assert!(diagnose(&[r], &lenient).is_empty());
}

#[test]
fn a_heavy_tail_is_severe_contention_and_names_cpu() {
    // 98 % at 1 ms, 2 % at 30 ms: p99/p50 = 30.
    let r = result("concurrent[threaded]", BenchKind::Concurrent, "threaded", LOOPBACK, 1000, |i| {
        if i % 50 == 0 {
            30_000_000
        } else {
            1_000_000
        }
    });
    let r = with_cpu(r, 95.0, 40.0);
    let findings = diagnose(std::slice::from_ref(&r), &Thresholds::default());
    let f = one(&findings, FindingId::SevereContention);
    assert!((29.0..=31.0).contains(&f.evidence[0].measured), "{:?}", f.evidence);
    assert!(f.action.contains("forking"), "busy server: compare with forking: {}", f.action);
    // A forking server is not told to try forking.
    let mut forking = r.clone();
    forking.server.mode = "python-forking".into();
    let on_forking = diagnose(std::slice::from_ref(&forking), &Thresholds::default());
    let advice = &one(&on_forking, FindingId::SevereContention).action;
    assert!(!advice.contains("forking server") && advice.contains("its own process"), "{advice}");
    // Nor is the HTTP baseline.
    let mut http = r.clone();
    http.server.mode = "http".into();
    let on_http = diagnose(std::slice::from_ref(&http), &Thresholds::default());
    let advice = &one(&on_http, FindingId::SevereContention).action;
    assert!(!advice.contains("forking") && advice.contains("queue for the server's cores"), "{advice}");
    // Above the threshold: nothing.
    let relaxed = Thresholds { severe_tail_ratio: 40.0, ..Thresholds::default() };
    assert!(!ids(&diagnose(std::slice::from_ref(&r), &relaxed)).contains(&"severe_contention"));
    // Too few samples for a p99.
    let few = Thresholds { min_tail_samples: 5000, ..Thresholds::default() };
    assert!(!ids(&diagnose(&[r], &few)).contains(&"severe_contention"));
}

#[test]
fn server_cpu_near_all_cores_is_capacity_and_shared_cores_are_saturation() {
    let r = with_cpu(ping("c[forking]", LOOPBACK), 190.0, 10.0);
    let f = diagnose(&[r], &Thresholds::default());
    let cap = one(&f, FindingId::ServerAtCapacity);
    assert_eq!((cap.evidence[0].measured, cap.evidence[0].threshold), (190.0, 170.0));
    assert!(!ids(&f).contains(&"machine_saturated"), "capacity says it already");

    let shared = with_cpu(ping("c[threaded]", LOOPBACK), 100.0, 90.0);
    let f = diagnose(std::slice::from_ref(&shared), &Thresholds::default());
    assert_eq!(ids(&f), ["machine_saturated"]);
    assert_eq!(f[0].evidence[0].measured, 190.0);
    let more_cores = BenchResult { environment: Environment { cores: 8, ..shared.environment.clone() }, ..shared };
    assert!(diagnose(&[more_cores], &Thresholds::default()).is_empty());
}

#[test]
fn cpu_of_a_run_too_short_to_sample_is_ignored() {
    let mut r = with_cpu(ping("short", LOOPBACK), 190.0, 10.0);
    r.wall_time_ns = 20_000_000; // 20 ms: two clock ticks
    assert!(diagnose(std::slice::from_ref(&r), &Thresholds::default()).is_empty());
    let t = Thresholds { min_cpu_window_ms: 10.0, ..Thresholds::default() };
    assert_eq!(ids(&diagnose(&[r], &t)), ["server_at_capacity"]);
}

#[test]
fn slow_requests_on_an_idle_server_are_io_bound() {
    let io = with_cpu(
        result("io_work(0.02)", BenchKind::Latency, "threaded", LOOPBACK, 50, |i| 20_100_000 + i * 1000),
        1.5,
        2.0,
    );
    let io = with_wire(io, 50, 50, 0);
    let f = diagnose(std::slice::from_ref(&io), &Thresholds::default());
    let io_f = one(&f, FindingId::IoBound);
    assert!((20.0..21.0).contains(&io_f.evidence[0].measured), "{:?}", io_f.evidence);
    assert!(io_f.details[0].contains("loopback"), "{:?}", io_f.details);
    assert!(!ids(&f).contains(&"network_latency"), "no network on loopback");
    // A busy server is not waiting.
    assert!(diagnose(&[with_cpu(io.clone(), 95.0, 2.0)], &Thresholds::default()).is_empty());
    // The latency bound is a setting.
    let t = Thresholds { io_latency_ms: 50.0, ..Thresholds::default() };
    assert!(diagnose(&[io], &t).is_empty());
}

#[test]
fn a_slow_floor_on_a_remote_server_is_network_latency_not_io() {
    // 40 ms to a remote server, even for ping, with idle CPUs.
    let far_ping =
        with_cpu(result("ping", BenchKind::Latency, "external", REMOTE, 200, |i| 40_000_000 + i * 100), 1.0, 1.0);
    let far_ping = with_wire(far_ping, 200, 200, 0);
    let far_io = with_wire(
        with_cpu(result("query", BenchKind::Latency, "external", REMOTE, 200, |i| 41_000_000 + i * 100), 1.0, 1.0),
        200,
        200,
        0,
    );
    let f = diagnose(&[far_ping.clone(), far_io], &Thresholds::default());
    let net = one(&f, FindingId::NetworkLatency);
    assert_eq!(net.subject, format!("server {REMOTE}"));
    assert!((39.9..40.1).contains(&net.evidence[0].measured), "{:?}", net.evidence);
    assert!(net.details[0].contains("ping"), "names what measured the floor: {:?}", net.details);
    assert!(!ids(&f).contains(&"io_bound"), "the network explains the query's latency: {:?}", ids(&f));

    // Same server, but one request type waits 200 ms: that one is I/O bound.
    let slow = with_wire(
        with_cpu(result("report", BenchKind::Latency, "external", REMOTE, 50, |i| 200_000_000 + i), 1.0, 1.0),
        50,
        50,
        0,
    );
    let f = diagnose(&[far_ping, slow], &Thresholds::default());
    assert_eq!(one(&f, FindingId::IoBound).subject, "report");
    let t = Thresholds { network_floor_ms: 50.0, ..Thresholds::default() };
    let quiet = with_cpu(result("ping", BenchKind::Latency, "external", REMOTE, 10, |_| 40_000_000), 1.0, 1.0);
    assert!(!ids(&diagnose(&[quiet], &t)).contains(&"network_latency"));
}

#[test]
fn n_plus_one_is_reference_overhead_then_its_round_trips_with_the_figure_and_no_dict_advice() {
    // get_users(10) + .name of each: 1 call + __iter__ + 11 __next__ + 10 getattr = 23.
    let n1 = with_wire(ping("n_plus_one", LOOPBACK), 100, 2300, 2100);
    let batch = with_wire(ping("batch", LOOPBACK), 100, 100, 0);
    let f = diagnose(&[n1, batch], &Thresholds::default());
    // Cause before symptom: the reads through references are why there are 23 round trips.
    assert_eq!(ids(&f), ["reference_overhead", "excessive_round_trips"]);
    assert_eq!((f[0].severity, f[1].severity), (Severity::Warning, Severity::Info));
    let rt = &f[1];
    assert!(rt.explanation.contains("see reference overhead"), "{}", rt.explanation);
    assert_eq!(rt.subject, "n_plus_one");
    assert_eq!((rt.evidence[0].measured, rt.evidence[0].threshold), (23.0, 3.0));
    assert!(rt.action.contains("tuple") && rt.action.contains("batch") && rt.action.contains("measured: 23"));
    assert!(rt.action.contains("Do NOT return a dict"), "{}", rt.action);
    assert_eq!(f[0].evidence[0].measured, 21.0);
    let t = Thresholds { max_round_trips_per_op: 30.0, min_references_per_op: 30.0, ..Thresholds::default() };
    assert!(diagnose(&[with_wire(ping("n_plus_one", LOOPBACK), 100, 2300, 2100)], &t).is_empty());
}

#[test]
fn a_dict_read_key_by_key_is_reference_overhead_but_tuples_are_not() {
    // get_user_dict(i) then its 4 keys: 1 reference, 1 + 4 round trips per operation.
    let dict = with_wire(ping("dict", LOOPBACK), 100, 500, 100);
    // get_user_tuple(i) and get_users_batch(ids): by value, one round trip.
    let tuple = with_wire(ping("tuple", LOOPBACK), 100, 100, 0);
    let batch = with_wire(ping("batch", LOOPBACK), 100, 100, 0);
    // get_user(i) passed back as an argument, never read: a reference, no extra round trip.
    let held = with_wire(ping("held", LOOPBACK), 100, 100, 100);
    let f = diagnose(&[dict, tuple, batch, held], &Thresholds::default());
    assert_eq!(ids(&f), ["reference_overhead", "excessive_round_trips"], "{}", render_text(&f));
    let r = one(&f, FindingId::ReferenceOverhead);
    assert_eq!(r.subject, "dict");
    assert_eq!((r.evidence[0].measured, r.evidence[0].threshold), (1.0, 1.0));
    assert_eq!((r.evidence[1].measured, r.evidence[1].threshold), (5.0, 1.0));
    assert!(r.action.contains("Dicts and lists travel by reference"), "{}", r.action);
    assert!(r.action.contains("tuples of simple values") && r.action.contains("batch method"), "{}", r.action);
    assert!(r.action.contains("obtain-style copy"), "{}", r.action);
    // Configurable: two references per operation required.
    let t = Thresholds { min_references_per_op: 2.0, ..Thresholds::default() };
    assert!(!ids(&diagnose(&[with_wire(ping("dict", LOOPBACK), 100, 500, 100)], &t)).contains(&"reference_overhead"));
}

#[test]
fn bound_methods_are_not_data_references_and_the_advice_is_to_bind_once() {
    // A Python client doing 3 × conn.root.get_user_tuple(i) per operation: GETATTR + CALL
    // each, and a `builtins.method` reference per GETATTR; the data comes back as tuples.
    let w = WireEvidence {
        operations: 100,
        round_trips: 600,
        round_trips_by_handler: [("GETATTR".to_string(), 300), ("CALL".to_string(), 300)].into(),
        references_received: 302,
        method_references: 300,
        ..WireEvidence::default()
    };
    let f = Diagnosis::new(Thresholds::default()).telemetry("three_tuples", w.clone()).findings();
    assert_eq!(ids(&f), ["excessive_round_trips"], "{}", render_text(&f));
    assert!(f[0].action.contains("Bind the method once (`f = conn.root.f`)"), "{}", f[0].action);
    assert!(f[0].action.contains("GETATTR + CALL"), "{}", f[0].action);
    assert!(f[0].details.iter().any(|d| d.starts_with("300 of the 600 round trips")), "{:?}", f[0].details);
    assert_eq!(w.data_references_per_op(), 0.02);
    // Bound once: no method lookups, no advice to bind.
    let bound = WireEvidence { method_references: 0, references_received: 0, round_trips: 400, ..w.clone() };
    let f = Diagnosis::new(Thresholds::default()).telemetry("bound", bound).findings();
    assert!(!f[0].action.contains("Bind the method"), "{}", f[0].action);
    // A rare lookup is not worth mentioning (1 in 60 round trips < 0.1).
    let rare = WireEvidence { method_references: 10, references_received: 10, ..w };
    let f = Diagnosis::new(Thresholds::default()).telemetry("rare", rare).findings();
    assert!(!f[0].action.contains("Bind the method"), "{}", f[0].action);
}

#[test]
fn telemetry_adds_handlers_nesting_and_replaces_counters() {
    let r = with_wire(ping("report", LOOPBACK), 10, 10, 0);
    let telemetry = WireEvidence {
        operations: 10,
        round_trips: 120,
        round_trips_by_handler: [("GETATTR".to_string(), 100), ("CALLATTR".to_string(), 20)].into(),
        references_received: 10,
        references_alive: Some(3),
        // A Python client's `conn.root.get_report` lookups: not data.
        method_references: 10,
        inspect_requests: 1,
        requests_from_server: 40,
        max_nesting_depth: Some(5),
        top_methods: vec![MethodCost { name: "get_report".into(), count: 10, total_ns: 50_000_000 }],
        per_operation: vec![],
        call_latency: vec![],
        delayed_ack_pieces: 0,
    };
    let f = Diagnosis::new(Thresholds::default()).result(&r).telemetry("report", telemetry.clone()).findings();
    // The callback chain is the cause; its round trips follow, pointing back at it
    // instead of advising batching.
    assert_eq!(ids(&f), ["deep_nesting", "excessive_round_trips"]);
    assert!(f[1].details.iter().any(|d| d == "by request type: GETATTR 10/op, CALLATTR 2/op"), "{:?}", f[1].details);
    assert!(f[1].details.iter().any(|d| d.contains("get_report: 10 calls, 50 ms")), "{:?}", f[1].details);
    assert!(
        f[1].action.starts_with("Undo the callback chain first") && !f[1].action.contains("tuple"),
        "{}",
        f[1].action
    );
    assert_eq!(f[0].evidence[0].measured, 5.0);
    assert!(f[0].explanation.contains("self.exposed_other() is a local call"));
    let t = Thresholds { max_nesting_depth: 5, ..Thresholds::default() };
    let f = Diagnosis::new(t).telemetry("standalone", telemetry).findings();
    assert_eq!(ids(&f), ["excessive_round_trips"]);
    assert_eq!(f[0].subject, "standalone");
}

fn gil_pair(threaded_cpu: f64) -> (BenchResult, BenchResult) {
    // A closed loop of equal CPU requests: the threaded server's requests all wait alike
    // for the GIL (p99 ≈ p50 ≈ 16 ms, 125 req/s); the forking one runs two at a time
    // (8 ms, 250 req/s).
    let mut t = result("cpu[python-threaded]", BenchKind::Concurrent, "python-threaded", LOOPBACK, 1000, |i| {
        16_000_000 + (i % 10) * 10_000
    });
    t.throughput_rps = Some(125.0);
    let mut f = result("cpu[python-forking]", BenchKind::Concurrent, "python-forking", LOOPBACK, 1000, |i| {
        8_000_000 + (i % 10) * 5_000
    });
    f.throughput_rps = Some(250.0);
    (with_cpu(t, threaded_cpu, 20.0), with_cpu(f, 180.0, 20.0))
}

#[test]
fn threaded_at_one_core_while_forking_scales_is_gil_contention() {
    let (t, f) = gil_pair(101.0);
    let found = diagnose(&[t.clone(), f.clone()], &Thresholds::default());
    let gil = one(&found, FindingId::GilContention);
    assert_eq!(gil.subject, "cpu[python-threaded] vs cpu[python-forking]");
    assert_eq!(gil.evidence.len(), 4);
    assert!(gil.evidence.iter().all(Evidence::holds));
    assert_eq!(gil.evidence[3].measured, 2.0);
    // The threaded run's own tail is flat; the comparison with forking shows the lock.
    assert!(t.latency.as_ref().unwrap().tail_ratio() < 1.1);
    assert_eq!(gil.evidence[2].metric, "threaded p99 / forking p99");
    assert!((1.95..=2.05).contains(&gil.evidence[2].measured), "{:?}", gil.evidence[2]);
    let strict_tail = Thresholds { gil_min_tail_ratio: 2.5, ..Thresholds::default() };
    assert!(!ids(&diagnose(&[t.clone(), f.clone()], &strict_tail)).contains(&"gil_contention"));
    // Forking no faster per request: no GIL finding, whatever the throughput says.
    let mut slow_fork = f.clone();
    slow_fork.latency = t.latency.clone();
    assert!(!ids(&diagnose(&[t.clone(), slow_fork], &Thresholds::default())).contains(&"gil_contention"));
    // Too few forking requests for a p99.
    let few = Thresholds { min_tail_samples: 1001, ..Thresholds::default() };
    assert!(!ids(&diagnose(&[t.clone(), f.clone()], &few)).contains(&"gil_contention"));
    // Threaded using both cores: not held by a lock.
    let (t2, f2) = gil_pair(190.0);
    assert!(!ids(&diagnose(&[t2, f2], &Thresholds::default())).contains(&"gil_contention"));
    // A higher gain required.
    let strict = Thresholds { gil_min_throughput_gain: 2.5, ..Thresholds::default() };
    assert!(!ids(&diagnose(&[t.clone(), f.clone()], &strict)).contains(&"gil_contention"));
    // Native servers have no GIL, even compared explicitly.
    let (mut nt, mut nf) = (t.clone(), f.clone());
    nt.server.backend = "rust".into();
    nf.server.backend = "rust".into();
    let found = Diagnosis::new(Thresholds::default()).compare_modes(&nt, &nf).findings();
    assert!(!ids(&found).contains(&"gil_contention"));
    // Explicit pairs with other names work; duplicates are reported once.
    let mut renamed = f.clone();
    renamed.name = "other".into();
    let found = Diagnosis::new(Thresholds::default()).results([&t, &f]).compare_modes(&t, &f).findings();
    assert_eq!(found.iter().filter(|x| x.id == FindingId::GilContention).count(), 1);
    let found = Diagnosis::new(Thresholds::default()).compare_modes(&t, &renamed).findings();
    assert_eq!(ids(&found), ["gil_contention"]);
}

#[test]
fn the_steps_of_a_mode_sweep_are_compared_for_the_gil() {
    // `rpycbench sweep --over mode --values python-threaded,python-forking` records the
    // step in each result; the load is the same.
    let (mut t, mut f) = gil_pair(101.0);
    for (r, mode) in [(&mut t, "python-threaded"), (&mut f, "python-forking")] {
        r.params.insert("clients".into(), 8.into());
        r.params.insert("sweep_parameter".into(), "mode".into());
        r.params.insert("sweep_value".into(), mode.into());
    }
    f.params.insert("sweep_limit".into(), "p99 = 9.00 ms > 1.00 ms".into());
    assert!(ids(&diagnose(&[t.clone(), f.clone()], &Thresholds::default())).contains(&"gil_contention"));
    // A different load is still not paired.
    f.params.insert("clients".into(), 16.into());
    assert!(!ids(&diagnose(&[t, f], &Thresholds::default())).contains(&"gil_contention"));
}

#[test]
fn the_built_in_services_own_chunked_methods_get_no_wire_advice() {
    // upload_chunked iterates a list of the client's: a round trip per chunk, by design.
    let chunked = |builtin: bool| {
        let mut r =
            with_wire(result("transfer[threaded]", BenchKind::Transfer, "threaded", LOOPBACK, 0, |_| 0), 4, 68, 4);
        if builtin {
            r.params.insert(crate::metrics::BUILTIN_METHODS_PARAM.into(), true.into());
        }
        r
    };
    assert!(diagnose(&[chunked(true)], &Thresholds::default()).is_empty());
    // The same traffic from the user's own transfer methods is theirs to fix.
    assert!(ids(&diagnose(&[chunked(false)], &Thresholds::default())).contains(&"excessive_round_trips"));
}

#[test]
fn one_costly_method_among_many_cheap_calls_is_named_with_its_attribute_reads() {
    // get_users(20) then name, email and status of each: 1 + 1 + 21 + 60 = 83 round
    // trips; 50 pings of one each. On average 133 / 51 = 2.6: under the threshold.
    let users = OperationCost {
        method: "get_users".into(),
        calls: 1,
        round_trips: 83,
        attribute_reads: vec![("email".into(), 20), ("name".into(), 20), ("status".into(), 20), ("id".into(), 0)],
    };
    let pings = OperationCost { method: "ping".into(), calls: 50, round_trips: 50, attribute_reads: vec![] };
    let w =
        WireEvidence { operations: 51, round_trips: 133, per_operation: vec![users, pings], ..WireEvidence::default() };
    assert!(w.round_trips_per_op() < 3.0);
    let f = Diagnosis::new(Thresholds::default()).telemetry("relay", w.clone()).findings();
    assert_eq!(ids(&f), ["excessive_round_trips"], "{}", render_text(&f));
    assert_eq!(f[0].subject, "relay: get_users");
    assert_eq!(f[0].evidence[0].metric, "round trips per get_users call");
    assert_eq!(f[0].evidence[0].measured, 83.0);
    assert_eq!(f[0].details[0], "get_users: 83 round trips over 1 call");
    assert_eq!(f[0].details[1], "N+1: per call, 20 × email, 20 × name, 20 × status (one round trip each)");
    // Without the split, the average hides it.
    let averaged = WireEvidence { per_operation: vec![], ..w };
    assert!(Diagnosis::new(Thresholds::default()).telemetry("relay", averaged).findings().is_empty());
}

#[test]
fn findings_are_ordered_by_severity_then_tree_order() {
    let mut bad = with_wire(with_cpu(ping("z_bad", LOOPBACK), 190.0, 5.0), 100, 2300, 0);
    bad.outcomes.success_rate = 0.5;
    let r = with_wire(ping("a_chatty", LOOPBACK), 100, 900, 500);
    let found = diagnose(&[r, bad], &Thresholds::default());
    assert_eq!(
        ids(&found),
        [
            "server_exhaustion",
            "server_at_capacity",
            "excessive_round_trips",
            "reference_overhead",
            "excessive_round_trips"
        ]
    );
    // z_bad's round trips have no cause found and stay a warning; a_chatty's are reads
    // through references, which lead.
    assert_eq!((found[2].subject.as_str(), found[3].subject.as_str()), ("z_bad", "a_chatty"));
    let severities: Vec<_> = found.iter().map(|f| f.severity).collect();
    assert!(severities.windows(2).all(|w| w[0] <= w[1]), "{severities:?}");
    let compact = render_compact(&found, 2);
    // A title and an action per finding shown, wrapped within 100 columns.
    assert_eq!(compact.lines().filter(|l| l.starts_with("    → ")).count(), 2, "{compact}");
    assert!(compact.lines().all(|l| l.chars().count() <= 100), "{compact}");
    assert!(compact.contains("    → Check the server's log for connection errors;"), "{compact}");
    assert!(compact.contains("… and 3 more"), "{compact}");
    let text = render_text(&found);
    assert!(text.starts_with("rpycbench diagnosis: 5 findings (1 critical, 3 warning, 1 info)"), "{text}");
    assert!(text.contains("measured: success rate = 0.50 < 0.95 (min_success_rate)"), "{text}");
}

#[test]
fn findings_and_thresholds_round_trip_through_json() {
    let found = diagnose(&[with_wire(ping("n1", LOOPBACK), 10, 230, 210)], &Thresholds::default());
    let json = serde_json::to_string(&found).expect("serialize");
    assert!(json.contains("\"id\":\"excessive_round_trips\"") && json.contains("\"severity\":\"warning\""), "{json}");
    assert!(json.contains("\"comparison\":\"above\""), "{json}");
    let back: Vec<Finding> = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, found);

    let t = Thresholds::from_json(r#"{"max_round_trips_per_op": 50, "min_success_rate": 0.99}"#, "inline").unwrap();
    assert_eq!((t.max_round_trips_per_op, t.min_success_rate, t.severe_tail_ratio), (50.0, 0.99, 10.0));
    let all = serde_json::to_string(&Thresholds::default()).unwrap();
    assert_eq!(Thresholds::from_json(&all, "defaults").unwrap(), Thresholds::default());
    let typo = Thresholds::from_json(r#"{"max_round_trip_per_op": 5}"#, "t.json").unwrap_err();
    assert!(typo.to_string().contains("max_round_trip_per_op"), "{typo}");
    let range = Thresholds::from_json(r#"{"min_success_rate": 95}"#, "t.json").unwrap_err();
    assert!(range.to_string().contains("min_success_rate = 95"), "{range}");
    let band = Thresholds::from_json(r#"{"gil_cpu_min_percent": 150}"#, "t.json").unwrap_err();
    assert!(band.to_string().contains("gil_cpu_max_percent"), "{band}");
    let missing = Thresholds::load(std::path::Path::new("/nonexistent/thresholds.json")).unwrap_err();
    assert!(missing.to_string().contains("/nonexistent/thresholds.json"), "{missing}");
}

#[test]
fn wire_stats_convert_to_evidence() {
    let r = with_wire(ping("x", LOOPBACK), 10, 25, 7);
    let w = WireEvidence::from(r.wire.as_ref().unwrap());
    assert_eq!((w.operations, w.round_trips, w.references_received), (10, 25, 7));
    assert_eq!(w.round_trips_per_op(), 2.5);
    assert_eq!(w.max_nesting_depth, None);
    assert!(w.handler_breakdown().is_none());
}

/// Results of a real run (`cargo run --example diagnose -- --save …` against the native
/// threaded server on a 2-core machine), diagnosed as saved.
#[test]
fn a_real_result_file_is_diagnosed() {
    let text = include_str!("testdata/diagnose_threaded.json");
    let set = crate::metrics::ResultSet::from_json(text, "testdata/diagnose_threaded.json").expect("a v1 result file");
    let found = diagnose(&set.results, &Thresholds::default());
    let text = render_text(&found);
    let of = |id: FindingId, subject: &str| {
        found
            .iter()
            .find(|f| f.id == id && f.subject == subject)
            .unwrap_or_else(|| panic!("no {id} for {subject}:\n{text}"))
    };
    assert_eq!(found[0].id, FindingId::ServerExhaustion, "{text}");
    assert_eq!(of(FindingId::ServerExhaustion, "half_errors[threaded]").evidence[0].measured, 0.5);
    assert_eq!(of(FindingId::ExcessiveRoundTrips, "n_plus_one[threaded]").evidence[0].measured, 23.0);
    assert_eq!(of(FindingId::ReferenceOverhead, "n_plus_one[threaded]").evidence[0].measured, 12.0);
    // The cookbook's dict "fix" still costs a round trip per key: 1 call + 4 keys.
    assert_eq!(of(FindingId::ExcessiveRoundTrips, "dict[threaded]").evidence[0].measured, 5.0);
    // … and the dict is a reference: one per operation, read through in 5 round trips.
    let dict = of(FindingId::ReferenceOverhead, "dict[threaded]");
    assert_eq!((dict.evidence[0].measured, dict.evidence[1].measured), (1.0, 5.0));
    assert!(of(FindingId::IoBound, "io_work(0.02)[threaded]").evidence[0].measured >= 20.0);
    for healthy in ["batch[threaded]", "ping[threaded]"] {
        assert!(found.iter().all(|f| f.subject != healthy), "{healthy} is healthy:\n{text}");
    }
}
