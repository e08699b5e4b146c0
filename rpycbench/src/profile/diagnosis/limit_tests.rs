//! `concurrency_limit`: Little's law on closed loops, with and without CPU figures.

use super::tests::{ids, one, result, with_cpu, LOOPBACK};
use super::*;
use crate::metrics::{BenchKind, LoadModel};

const MS: u64 = 1_000_000;

/// 16 clients on a service that sleeps 10 ms behind a 2-slot semaphore: 200 req/s, the
/// first two requests unqueued, the rest waiting about 8 service times.
fn semaphore(clients: u64) -> BenchResult {
    let mut r = result("book[external]", BenchKind::Concurrent, "external", LOOPBACK, 400, |i| {
        if i < 2 {
            10 * MS
        } else {
            78 * MS + (i % 9) * 500_000
        }
    });
    r.params.insert("clients".into(), clients.into());
    r.throughput_rps = Some(200.0);
    r
}

#[test]
fn few_requests_served_at_once_for_many_clients_is_a_limit_named_by_littles_law() {
    let f = diagnose(&[semaphore(16)], &Thresholds::default());
    assert_eq!(ids(&f), ["concurrency_limit"], "{}", render_text(&f));
    let limit = &f[0];
    // 200 req/s × 10 ms (as the histogram records it, to 3 digits) = 2 of 16.
    assert!((limit.evidence[0].measured - 2.0 / 16.0).abs() < 1e-3, "{:?}", limit.evidence);
    assert!(limit.details[0].contains("requests in service at once (Little's law)"), "{:?}", limit.details);
    assert!(limit.explanation.starts_with("At most about 2 requests are served at once"), "{}", limit.explanation);
    assert!(limit.explanation.contains("its CPU was not sampled"), "{}", limit.explanation);
    assert!(limit.action.contains("semaphore") && limit.action.contains("--over clients"), "{}", limit.action);
}

#[test]
fn an_idle_server_names_the_pool_and_a_busy_one_is_left_to_the_cpu_rules() {
    let idle = diagnose(&[with_cpu(semaphore(16), 4.0, 10.0)], &Thresholds::default());
    // The line in front of the semaphore is why requests wait: no "I/O bound" beside it.
    assert_eq!(ids(&idle), ["concurrency_limit"], "{}", render_text(&idle));
    assert!(idle[0].explanation.contains("mostly idle (4 %"), "{}", idle[0].explanation);
    let busy = diagnose(&[with_cpu(semaphore(16), 98.0, 10.0)], &Thresholds::default());
    assert!(!ids(&busy).contains(&"concurrency_limit"), "{}", render_text(&busy));
}

#[test]
fn a_server_that_serves_every_client_at_once_has_no_limit() {
    // 16 clients, 20 ms each, all at once: 800 req/s.
    let mut io = result("io[threaded]", BenchKind::Concurrent, "threaded", LOOPBACK, 400, |i| 20 * MS + i * 1000);
    io.params.insert("clients".into(), 16.into());
    io.throughput_rps = Some(800.0);
    assert_eq!(ids(&diagnose(&[with_cpu(io, 3.0, 5.0)], &Thresholds::default())), ["io_bound"]);
    // Too few clients to tell; an open loop is not a closed one.
    assert!(diagnose(&[semaphore(2)], &Thresholds::default()).is_empty());
    let mut open = semaphore(16);
    open.load_model = Some(LoadModel::OpenLoop { rate_per_sec: 200.0, late_threshold_ns: MS });
    assert!(!ids(&diagnose(&[open], &Thresholds::default())).contains(&"concurrency_limit"));
}

#[test]
fn microsecond_requests_are_the_machines_cores_not_a_limit() {
    // Native pings, 16 clients on 2 cores: 50 000 req/s, 20 µs alone, 300 µs queued.
    let mut ping =
        result("ping[threaded]", BenchKind::Concurrent, "threaded", LOOPBACK, 1000, |i| 20_000 + (i % 2) * 280_000);
    ping.params.insert("clients".into(), 16.into());
    ping.throughput_rps = Some(50_000.0);
    assert!(!ids(&diagnose(&[ping], &Thresholds::default())).contains(&"concurrency_limit"));
}

#[test]
fn a_clients_sweep_takes_the_service_time_from_its_one_client_step() {
    let step = |clients: u64, p50_ms: u64, rps: f64| {
        let mut r =
            result(&format!("book[clients={clients}]"), BenchKind::Concurrent, "external", LOOPBACK, 200, |i| {
                p50_ms * MS + (i % 3) * 100_000
            });
        r.params.insert("clients".into(), clients.into());
        r.params.insert("sweep_parameter".into(), "clients".into());
        r.params.insert("sweep_value".into(), clients.into());
        r.throughput_rps = Some(rps);
        r
    };
    // At 16 clients no request went unqueued (its fastest is 78 ms): the one-client
    // step says a request takes 10 ms.
    let steps = [step(1, 10, 100.0), step(4, 20, 200.0), step(16, 80, 200.0)];
    let f = diagnose(&steps, &Thresholds::default());
    let limit = one(&f, FindingId::ConcurrencyLimit);
    assert_eq!(limit.subject, "book[clients=16]");
    assert!(limit.details[0].contains("200 req/s × 10.1 ms"), "the one-client p50: {:?}", limit.details);
    // The settings move it.
    let strict = Thresholds { max_served_fraction: 0.1, ..Thresholds::default() };
    assert!(!ids(&diagnose(&steps, &strict)).contains(&"concurrency_limit"));
    let patient = Thresholds { min_queue_factor: 10.0, ..Thresholds::default() };
    assert!(!ids(&diagnose(&steps, &patient)).contains(&"concurrency_limit"));
}

#[test]
fn without_cpu_requests_overlapping_far_beyond_the_cores_are_io_bound() {
    // 16 clients, 20 ms each, all at once on 2 cores: 800 req/s, 16 in service at once.
    let mut io = result("io[external]", BenchKind::Concurrent, "external", LOOPBACK, 400, |i| 20 * MS + i * 1000);
    io.params.insert("clients".into(), 16.into());
    io.throughput_rps = Some(800.0);
    let f = diagnose(std::slice::from_ref(&io), &Thresholds::default());
    assert_eq!(ids(&f), ["io_bound"]);
    assert!(f[0].details[0].contains("= 16.0 requests in service at once on 2 cores"), "{:?}", f[0].details);
    assert!(f[0].explanation.contains("read from latency and throughput alone"), "{}", f[0].explanation);
    // Three at once on two cores could be computing: no reading.
    io.throughput_rps = Some(150.0);
    assert!(diagnose(std::slice::from_ref(&io), &Thresholds::default()).is_empty());
    // Fast requests are not I/O waits worth a finding.
    let t = Thresholds { io_latency_ms: 50.0, ..Thresholds::default() };
    io.throughput_rps = Some(800.0);
    assert!(diagnose(&[io], &t).is_empty());
}

/// 8 clients on a 10 ms CPU-bound method: the server's CPU time is 10 ms per request.
/// At `rps` the server keeps `rps × 10 ms` of a core busy serving.
fn cpu_bound(mode: &str, rps: f64) -> BenchResult {
    let mut r = result("quote[external]", BenchKind::Concurrent, mode, LOOPBACK, 400, |i| 60 * MS + (i % 40) * MS);
    r.params.insert("clients".into(), 8u64.into());
    r.throughput_rps = Some(rps);
    if mode == "external" {
        r.server.backend = "unknown".into();
    }
    // The sampled mean is lower than what serving took: it includes the start-up.
    let mut r = with_cpu(r, rps * 0.8, 20.0);
    if let Some(server) = r.system.as_mut().and_then(|s| s.server.as_mut()) {
        server.cpu_time_ns = 400 * 10 * MS;
    }
    r
}

#[test]
fn one_core_busy_serving_many_queueing_clients_reads_as_one_request_at_a_time() {
    // 95 req/s × 10 ms = 95 % of one core, requests waiting 6–10 CPU times.
    let f = diagnose(&[cpu_bound("external", 95.0)], &Thresholds::default());
    assert_eq!(ids(&f), ["gil_contention"], "{}", render_text(&f));
    assert!((f[0].evidence[0].measured - 95.0).abs() < 1e-6, "{:?}", f[0].evidence);
    assert!(f[0].action.contains("forking"), "{}", f[0].action);
    // Two cores busy serving (a forking server, or threads outside any lock): no.
    let f = diagnose(&[cpu_bound("external", 180.0)], &Thresholds::default());
    assert!(!ids(&f).contains(&"gil_contention"), "{}", render_text(&f));
    // A server that already forks, or a native one, is not told about an interpreter lock.
    for mode in ["python-forking", "threaded"] {
        let f = diagnose(&[cpu_bound(mode, 95.0)], &Thresholds::default());
        assert!(!ids(&f).contains(&"gil_contention"), "{mode}: {}", render_text(&f));
    }
    // One machine core: nothing else it could use.
    let mut one = cpu_bound("external", 95.0);
    one.environment.cores = 1;
    assert!(!ids(&diagnose(&[one], &Thresholds::default())).contains(&"gil_contention"));
    // Requests that do not queue (p50 about the CPU per request): no line, nothing to say.
    let mut quick = cpu_bound("external", 95.0);
    quick.latency = result("q", BenchKind::Concurrent, "external", LOOPBACK, 400, |i| 11 * MS + i * 1000).latency;
    assert!(!ids(&diagnose(&[quick], &Thresholds::default())).contains(&"gil_contention"));
}
