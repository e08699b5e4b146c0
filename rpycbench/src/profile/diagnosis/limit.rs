//! Little's law on closed loops, read from latency and throughput alone — no CPU figure
//! needed, so it works for any server, built-in or not: `concurrency_limit` (few
//! requests served at once for many clients) and `io_bound` when the CPU is unknown
//! (more requests in service at once than the cores could be computing).
//!
//! Little's law: requests in service = throughput × service time. Under a closed loop
//! of `N` clients every client always has a request out, so the *offered* concurrency is
//! `N`; what the server really serves at once is throughput × the time one request takes
//! when it does not wait. When that is far below `N` and requests wait several service
//! times, something admits only that many at once: a worker pool, a lock, a semaphore —
//! or the cores, when they are busy, which the CPU rules tell apart when CPU was
//! sampled.

use super::finding::{number, Comparison, Evidence, Finding, FindingId, Severity};
use super::rules::{finding, ms, server_cpu};
use super::Thresholds;
use crate::metrics::{BenchKind, BenchResult, LoadModel};

/// Fewer clients than this cannot show a limit apart from the server's normal service.
const MIN_CLIENTS: u64 = 4;
/// Requests faster than this (ms) are mostly the client's and the kernel's time on this
/// machine, and many clients of them are limited by the machine's cores, whatever the
/// server admits: no reading.
const MIN_SERVICE_MS: f64 = 1.0;

/// The time one request takes when it does not wait, ms: the one-client step of the same
/// sweep when there is one (its median), else the fastest request of this run.
fn service_time_ms(r: &BenchResult, all: &[&BenchResult]) -> Option<f64> {
    let sweep_of =
        |x: &BenchResult| x.params.get(crate::metrics::SWEEP_PARAMETER).and_then(|v| v.as_str()) == Some("clients");
    let one_client = all.iter().find(|x| {
        x.kind == BenchKind::Concurrent
            && sweep_of(x)
            && sweep_of(r)
            && x.params.get("clients").and_then(serde_json::Value::as_u64) == Some(1)
            && x.server.address == r.server.address
            && x.name.split('[').next() == r.name.split('[').next()
    });
    match one_client.and_then(|x| x.latency.as_ref()).filter(|l| l.count > 0) {
        Some(l) => Some(ms(l.p50_ns)),
        None => r.latency.as_ref().filter(|l| l.count > 0).map(|l| ms(l.min_ns)),
    }
}

/// What Little's law reads off a closed loop of at least [`MIN_CLIENTS`] clients.
struct ClosedLoop<'r> {
    clients: u64,
    throughput: f64,
    /// Unqueued service time, ms (at least `min_service_ms`).
    service: f64,
    /// Requests in service at once: throughput × service time.
    served: f64,
    latency: &'r crate::metrics::LatencyStats,
}

fn closed_loop<'r>(r: &'r BenchResult, all: &[&BenchResult], min_service_ms: f64) -> Option<ClosedLoop<'r>> {
    if r.kind != BenchKind::Concurrent || matches!(r.load_model, Some(LoadModel::OpenLoop { .. })) {
        return None;
    }
    let clients = r.params.get("clients").and_then(serde_json::Value::as_u64).filter(|&n| n >= MIN_CLIENTS)?;
    let latency = r.latency.as_ref().filter(|l| l.count > 0)?;
    let throughput = r.throughput_rps.filter(|x| *x > 0.0)?;
    let service = service_time_ms(r, all).filter(|s| *s >= min_service_ms)?;
    Some(ClosedLoop { clients, throughput, service, served: throughput * service / 1e3, latency })
}

pub(super) fn concurrency_limit(r: &BenchResult, all: &[&BenchResult], t: &Thresholds) -> Option<Finding> {
    let ClosedLoop { clients, throughput, service, served, latency: l } = closed_loop(r, all, MIN_SERVICE_MS)?;
    if l.count < t.min_tail_samples.min(100) {
        return None;
    }
    // A busy server's limit is its cores: the capacity, saturation and GIL rules say so.
    if server_cpu(r, t).is_some_and(|cpu| cpu >= t.low_cpu_percent) {
        return None;
    }
    let waited = ms(l.p50_ns) / service;
    let evidence = [
        Evidence::new(
            "requests served at once / clients",
            served / clients as f64,
            Comparison::AtMost,
            t.max_served_fraction,
            "max_served_fraction",
        ),
        Evidence::new("p50 / service time", waited, Comparison::AtLeast, t.min_queue_factor, "min_queue_factor"),
    ];
    if !evidence.iter().all(Evidence::holds) {
        return None;
    }
    let mut f = finding(FindingId::ConcurrencyLimit, Severity::Warning, &r.name, "A concurrency limit in the server");
    f.evidence.extend(evidence);
    f.details.push(format!(
        "{clients} clients; {} req/s × {} ms per request unqueued = {} requests in service at once (Little's law)",
        number(throughput),
        number(service),
        number(served)
    ));
    f.details.push(format!("p50 {} ms, p99 {} ms", number(ms(l.p50_ns)), number(ms(l.p99_ns))));
    let cpu = server_cpu(r, t);
    let at_once = served.round().max(1.0) as u64;
    f.explanation = format!(
        "At most about {at_once} {} served at once: the other {} clients wait in line, so each request takes \
         about {} times its own time. {}",
        if at_once == 1 { "request is" } else { "requests are" },
        clients.saturating_sub(at_once),
        number(waited.round()),
        match cpu {
            Some(c) => format!(
                "The server's CPU is mostly idle ({} % of one core), so it is not the cores: a worker pool, a \
                 lock or a semaphore admits that many.",
                number(c)
            ),
            None => format!(
                "A worker pool, a lock or a semaphore admits that many — or the cores ({} here), if the server is \
                 busy: its CPU was not sampled, so the two cannot be told apart here.",
                r.environment.cores
            ),
        }
    );
    f.action = "Find what admits only that many requests (a pool size, a lock held across a slow call, a \
                semaphore, a connection pool to a backend) and raise or remove it; or give clients a faster path \
                that does not need it. Confirm with a clients sweep (`rpycbench sweep --over clients`): throughput \
                stays flat while latency grows with the clients."
        .into();
    Some(f)
}

/// `io_bound` for a server whose CPU was not sampled: requests of at least
/// `io_latency_ms` overlap far beyond the machine's cores (at least twice as many in
/// service at once as there are cores), so they spend their time waiting, not computing.
pub(super) fn io_bound_by_overlap(r: &BenchResult, all: &[&BenchResult], t: &Thresholds) -> Option<Finding> {
    if server_cpu(r, t).is_some() {
        return None;
    }
    // Traffic a relay saw may go to a server on another machine, behind a network:
    // neither this machine's cores nor the wait can be read as the server's.
    if crate::profile::is_from_telemetry(r) {
        return None;
    }
    let ClosedLoop { clients, throughput, service, served, .. } = closed_loop(r, all, t.io_latency_ms)?;
    let cores = f64::from(r.environment.cores.max(1));
    if served < 2.0 * cores {
        return None;
    }
    let mut f = finding(FindingId::IoBound, Severity::Warning, &r.name, "I/O bound: requests overlap while they wait");
    f.evidence
        .push(Evidence::new("service time", service, Comparison::AtLeast, t.io_latency_ms, "io_latency_ms").unit("ms"));
    f.evidence.push(Evidence::new(
        "requests served at once / cores",
        served / cores,
        Comparison::AtLeast,
        2.0,
        "twice the cores (fixed)",
    ));
    f.details.push(format!(
        "{clients} clients; {} req/s × {} ms per request = {} requests in service at once on {} cores",
        number(throughput),
        number(service),
        number(served),
        r.environment.cores
    ));
    f.explanation = format!(
        "Each request takes about {} ms, yet about {} of them are served at once on {} cores: they cannot all be \
         computing, so the time is spent waiting (disk, database, another service, sleep). The server's CPU was not \
         sampled; this is read from latency and throughput alone.",
        number(service),
        number(served.round()),
        r.environment.cores
    );
    f.action = "Profile what the service waits on (queries, indexes, calls to backends); pool backend connections; \
                overlap the waits further (more concurrent clients, async requests). A threaded server is fine here: \
                the GIL is released while waiting."
        .into();
    Some(f)
}

/// `gil_contention` read from one run: a closed loop of several clients queueing while
/// the server, computing, keeps about one core busy of several. The cores are not the
/// limit (others are free) and the server is computing, not waiting: something lets one
/// request compute at a time — in a threaded Python server, the GIL. A threaded/forking
/// pair under the same load proves it outright ([`super::cross::gil_contention`]); this
/// reads a server of the user's own, where no forking twin exists.
///
/// The cores the server keeps busy are read as its CPU time per request (warm-up
/// requests counted) × throughput: the server's CPU time over the measured time, not
/// over the sampling window, whose start-up (a forking server's forks, the clients
/// connecting) would make a server that uses two cores while it serves read as one and
/// a bit. The start-up's CPU stays in: it is small beside the requests' own.
pub(super) fn one_core_at_a_time(r: &BenchResult, all: &[&BenchResult], t: &Thresholds) -> Option<Finding> {
    // Native servers have no interpreter lock; a forking one has one per connection.
    if r.server.backend == "rust" || r.server.mode.ends_with("forking") || r.environment.cores < 2 {
        return None;
    }
    server_cpu(r, t)?; // sampled, over a run long enough to read
    let cpu_time_ns = r.system.as_ref()?.server.as_ref()?.cpu_time_ns;
    let ClosedLoop { clients, throughput, latency: l, .. } = closed_loop(r, all, MIN_SERVICE_MS)?;
    let successes = r.outcomes.successes;
    if successes == 0 || l.count < t.min_tail_samples.min(100) {
        return None;
    }
    // The sampled CPU covers the warm-up requests too: counted, so they do not inflate
    // the measured ones' share.
    let warmup = r.params.get("warmup_per_client").and_then(serde_json::Value::as_u64).unwrap_or(0) * clients;
    let cpu_per_request = ms(cpu_time_ns) / (successes + warmup) as f64;
    if cpu_per_request < MIN_SERVICE_MS {
        return None;
    }
    let busy = throughput * cpu_per_request / 10.0; // % of one core: req/s × ms / 1000 × 100
    let waited = ms(l.p50_ns) / cpu_per_request;
    let evidence = [
        Evidence::new("cores busy serving", busy, Comparison::AtLeast, t.gil_cpu_min_percent, "gil_cpu_min_percent")
            .unit("% of one core"),
        Evidence::new("cores busy serving", busy, Comparison::AtMost, t.gil_cpu_max_percent, "gil_cpu_max_percent")
            .unit("% of one core"),
        Evidence::new("p50 / CPU per request", waited, Comparison::AtLeast, t.min_queue_factor, "min_queue_factor"),
    ];
    if !evidence.iter().all(Evidence::holds) {
        return None;
    }
    let mut f =
        finding(FindingId::GilContention, Severity::Warning, &r.name, "One request computed at a time, on one core");
    f.evidence.extend(evidence);
    f.details.push(format!(
        "{clients} clients; {} req/s × {} ms of server CPU per request = {} % of one core busy serving, {} cores; \
         p50 {} ms",
        number(throughput),
        number(cpu_per_request),
        number(busy),
        r.environment.cores,
        number(ms(l.p50_ns))
    ));
    f.explanation = format!(
        "{clients} clients wait in line for one core's worth of work while the machine has {}: the server computes \
         one request at a time. In a threaded Python server that is the GIL — Python code in its threads runs one at \
         a time. (A server that serves one request at a time by design, or other programs holding the other cores, \
         look the same from here.)",
        r.environment.cores
    );
    f.action = "Run the same load against a forking server (rpyc ForkingServer: one process and interpreter lock per \
                connection): if it does notably more, the GIL is the limit (`rpycbench sweep --over mode` compares \
                the two). Then serve this workload forking, or move the CPU-bound part into code that releases the \
                GIL (native extensions, a process pool)."
        .into();
    Some(f)
}
