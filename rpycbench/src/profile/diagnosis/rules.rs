//! The findings one benchmark result supports on its own.

use super::finding::{number, Comparison, Evidence, Finding, FindingId, Severity};
use super::{Thresholds, WireEvidence};
use crate::metrics::{BenchKind, BenchResult};

/// Failure groups listed in a finding.
const FAILURE_GROUPS_SHOWN: usize = 5;

pub(super) fn finding(id: FindingId, severity: Severity, subject: &str, title: &str) -> Finding {
    Finding {
        id,
        title: title.to_owned(),
        severity,
        subject: subject.to_owned(),
        evidence: Vec::new(),
        details: Vec::new(),
        explanation: String::new(),
        action: String::new(),
    }
}

pub(super) fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Kinds whose latency is a request's service time (not a connect, not a transfer size).
fn has_request_latency(r: &BenchResult) -> bool {
    matches!(r.kind, BenchKind::Latency | BenchKind::Concurrent | BenchKind::Context)
}

/// Whether the run was long enough for its CPU figures to mean something: the kernel
/// accounts CPU time in clock ticks (10 ms), so a 20 ms run reads 0 % or 100 %.
fn cpu_measurable(r: &BenchResult, t: &Thresholds) -> bool {
    ms(r.wall_time_ns) >= t.min_cpu_window_ms
}

/// Server CPU, percent of one core, when it was sampled over a long enough run.
pub(super) fn server_cpu(r: &BenchResult, t: &Thresholds) -> Option<f64> {
    r.system.as_ref()?.server.as_ref().filter(|_| cpu_measurable(r, t)).map(|s| s.cpu_percent_mean)
}

/// Client CPU, percent of one core, when it was sampled over a long enough run.
pub(super) fn client_cpu(r: &BenchResult, t: &Thresholds) -> Option<f64> {
    r.system.as_ref().filter(|s| s.samples > 0 && cpu_measurable(r, t)).map(|s| s.client.cpu_percent_mean)
}

/// Whether a failure message is the connection's (refused, reset, closed, timed out)
/// rather than an exception the service raised.
fn is_connection_failure(message: &str) -> bool {
    !message.starts_with("remote ")
        && ["cannot connect", "connection", "no reply from", "closed"].iter().any(|k| message.contains(k))
}

pub(super) fn exhaustion(r: &BenchResult, t: &Thresholds) -> Option<Finding> {
    let o = &r.outcomes;
    if o.attempts == 0 || o.success_rate >= t.min_success_rate {
        return None;
    }
    let mut f = finding(FindingId::ServerExhaustion, Severity::Critical, &r.name, "Success rate below the minimum");
    f.evidence.push(Evidence::new(
        "success rate",
        o.success_rate,
        Comparison::Below,
        t.min_success_rate,
        "min_success_rate",
    ));
    f.details.push(format!("{} of {} requests failed", o.failures, o.attempts));
    for e in o.errors.iter().take(FAILURE_GROUPS_SHOWN) {
        f.details.push(format!("{} × {}", e.count, e.message));
    }
    let shown: u64 = o.errors.iter().take(FAILURE_GROUPS_SHOWN).map(|e| e.count).sum();
    if o.failures > shown {
        f.details.push(format!("{} × other errors", o.failures - shown));
    }
    let connection: u64 = o.errors.iter().filter(|e| is_connection_failure(&e.message)).map(|e| e.count).sum();
    let raised: u64 = o.errors.iter().filter(|e| e.message.starts_with("remote ")).map(|e| e.count).sum();
    f.explanation = format!(
        "{} of every 100 requests failed, so every other figure of this run describes only the survivors. \
         {connection} failures were the connection's (refused, reset, closed or timed out: the server is out of \
         connections, file descriptors or time) and {raised} were exceptions the service raised.",
        number(o.failures as f64 * 100.0 / o.attempts as f64)
    );
    f.action = if raised > connection {
        "Most failures are exceptions raised by the service, not exhaustion: read the failure groups above and fix \
         the service or the request first; then measure again."
            .into()
    } else {
        "Check the server's log for connection errors; raise its file-descriptor limit (ulimit -n 65536) and any \
         connection cap; lower the number of clients or reuse connections (a pool) instead of opening one per \
         request; then measure again."
            .into()
    };
    Some(f)
}

pub(super) fn severe_contention(r: &BenchResult, t: &Thresholds) -> Option<Finding> {
    let l = r.latency.as_ref().filter(|_| has_request_latency(r))?;
    let ratio = l.tail_ratio();
    if l.count < t.min_tail_samples || ratio <= t.severe_tail_ratio {
        return None;
    }
    let mut f = finding(FindingId::SevereContention, Severity::Warning, &r.name, "Severe tail latency (p99 ≫ p50)");
    f.evidence.push(Evidence::new("p99/p50", ratio, Comparison::Above, t.severe_tail_ratio, "severe_tail_ratio"));
    f.details.push(format!(
        "p50 {} ms, p99 {} ms over {} requests",
        number(ms(l.p50_ns)),
        number(ms(l.p99_ns)),
        l.count
    ));
    let cpu = server_cpu(r, t);
    if let Some(cpu) = cpu {
        f.details.push(format!("server CPU {} % of one core ({} cores)", number(cpu), r.environment.cores));
    }
    let busy = cpu.is_some_and(|c| c >= t.low_cpu_percent);
    f.explanation = match cpu {
        Some(_) if busy => "One request in a hundred waits ten times longer than the typical one while the server is \
                            busy: requests queue for CPU (or, in a threaded Python server, for the GIL)."
            .into(),
        Some(_) => "One request in a hundred waits ten times longer than the typical one while the server's CPU is \
                    mostly idle: requests wait on something else (I/O, a lock, a backend, a full accept queue)."
            .into(),
        None => "One request in a hundred waits ten times longer than the typical one: requests queue for a shared \
                 resource. Sample the server's CPU over a longer run to tell CPU from waiting."
            .into(),
    };
    // Forking is advice for a threaded RPyC server (or one we cannot see into); to try
    // the mode a server already has, or to fork an HTTP baseline, would send the user
    // in a circle.
    let mode = r.server.mode.as_str();
    let could_fork = mode.ends_with("threaded") || mode == "external";
    f.action = if busy && mode.ends_with("forking") {
        "This server already gives each connection its own process, so no interpreter lock is shared: the requests \
         queue for the cores themselves. Lower the concurrency, make each request cheaper, or add capacity (cores, \
         servers)."
            .into()
    } else if busy && !could_fork {
        "The requests queue for the server's cores: lower the concurrency, make each request cheaper, or add \
         capacity (cores, servers)."
            .into()
    } else if busy {
        "Run the same load on a forking server (each connection its own process): if its tail is short, the \
         threaded server serialises the work (the GIL for Python). Otherwise lower the concurrency or add capacity."
            .into()
    } else if cpu.is_none() {
        "Tell queueing for CPU from waiting first: measure longer (server CPU is read from runs of 200 ms on), or \
         give `--server-pid` for a server of your own; then lower the concurrency or find what requests wait on."
            .into()
    } else {
        "Find what requests wait on (I/O, locks, backend pools); lower the concurrency; and measure with an open-loop \
         load (a target rate), which counts queueing delay from each request's scheduled start."
            .into()
    };
    Some(f)
}

fn capacity_base(r: &BenchResult) -> f64 {
    f64::from(r.environment.cores.max(1)) * 100.0
}

pub(super) fn server_at_capacity(r: &BenchResult, t: &Thresholds) -> Option<Finding> {
    let cpu = server_cpu(r, t)?;
    let bound = t.capacity_cpu_fraction * capacity_base(r);
    if cpu < bound {
        return None;
    }
    let mut f = finding(FindingId::ServerAtCapacity, Severity::Warning, &r.name, "Server at CPU capacity");
    f.evidence.push(
        Evidence::new("server CPU", cpu, Comparison::AtLeast, bound, "capacity_cpu_fraction × cores × 100")
            .unit("% of one core"),
    );
    if let Some(c) = client_cpu(r, t) {
        f.details.push(format!("client CPU {} % of one core, {} cores", number(c), r.environment.cores));
    }
    if let Some(l) = &r.latency {
        f.details.push(format!("p99/p50 {}", number(l.tail_ratio())));
    }
    f.explanation = "The server's processes use nearly every core of the machine: more load only queues.".into();
    f.action = "Profile the hot methods and make them cheaper, or scale out (more server processes or machines). \
                If the client runs on the same machine, it competes for the same cores."
        .into();
    Some(f)
}

pub(super) fn machine_saturated(r: &BenchResult, t: &Thresholds) -> Option<Finding> {
    let (server, client) = (server_cpu(r, t)?, client_cpu(r, t)?);
    let base = capacity_base(r);
    if server >= t.capacity_cpu_fraction * base {
        return None; // server_at_capacity says it
    }
    let bound = t.machine_cpu_fraction * base;
    if server + client < bound {
        return None;
    }
    let mut f = finding(FindingId::MachineSaturated, Severity::Info, &r.name, "Client and server saturate the machine");
    f.evidence.push(
        Evidence::new(
            "server + client CPU",
            server + client,
            Comparison::AtLeast,
            bound,
            "machine_cpu_fraction × cores × 100",
        )
        .unit("% of one core"),
    );
    f.details.push(format!(
        "server {} %, client {} % of one core, {} cores",
        number(server),
        number(client),
        r.environment.cores
    ));
    f.explanation = "The measuring client and the server share the machine's cores and together use nearly all of \
                     them: throughput and latency are the machine's limit, not the server's."
        .into();
    f.action = "Run the client on another machine (or give the server dedicated cores) before reading this run as \
                the server's capacity."
        .into();
    Some(f)
}

/// `floor_ms`: what the network explains per round trip (`None`: unknown).
pub(super) fn io_bound(
    r: &BenchResult,
    wire: Option<&WireEvidence>,
    floor: Option<(f64, String)>,
    t: &Thresholds,
) -> Option<Finding> {
    let l = r.latency.as_ref().filter(|_| has_request_latency(r) && r.outcomes.successes > 0)?;
    let cpu = server_cpu(r, t)?;
    let p50 = ms(l.p50_ns);
    if cpu >= t.low_cpu_percent || p50 < t.io_latency_ms {
        return None;
    }
    let rt = wire.map_or(1.0, |w| w.round_trips_per_op().max(1.0));
    let explained = floor.as_ref().map(|(f, _)| f * rt);
    if explained.is_some_and(|e| p50 < t.io_over_network_factor * e) {
        return None;
    }
    let mut f = finding(FindingId::IoBound, Severity::Warning, &r.name, "I/O bound: high latency, idle server CPU");
    f.evidence
        .push(Evidence::new("p50 latency", p50, Comparison::AtLeast, t.io_latency_ms, "io_latency_ms").unit("ms"));
    f.evidence.push(
        Evidence::new("server CPU", cpu, Comparison::Below, t.low_cpu_percent, "low_cpu_percent").unit("% of one core"),
    );
    match (&floor, explained) {
        (Some((floor_ms, _)), _) if *floor_ms == 0.0 => {
            f.details.push("client and server are on this machine (loopback): no network time to explain it".into())
        }
        (Some((floor_ms, source)), Some(e)) => f.details.push(format!(
            "the network explains about {} ms of it ({} ms per round trip from {source}, × {} round trips/op)",
            number(e),
            number(*floor_ms),
            number(rt)
        )),
        _ => f.details.push(
            "no network floor was measured against this server: a ping benchmark on it tells network time from \
             server-side waiting"
                .into(),
        ),
    }
    f.explanation = format!(
        "Requests take {} ms at the median while the server uses {} % of one core: the time is spent waiting \
         (disk, database, another service, sleep), not computing and not on this network.",
        number(p50),
        number(cpu)
    );
    f.action = "Profile what the service waits on (queries, indexes, calls to backends); pool backend connections; \
                overlap the waits (async requests, or more concurrent clients). A threaded server is fine here: the \
                GIL is released while waiting, so forking would only cost memory."
        .into();
    Some(f)
}

pub(super) fn excessive_round_trips(subject: &str, w: &WireEvidence, t: &Thresholds) -> Option<Finding> {
    let per_op = w.round_trips_per_op();
    if w.operations == 0 || per_op <= t.max_round_trips_per_op {
        return None;
    }
    let mut f =
        finding(FindingId::ExcessiveRoundTrips, Severity::Warning, subject, "Excessive round trips per operation");
    f.evidence.push(Evidence::new(
        "round trips per operation",
        per_op,
        Comparison::Above,
        t.max_round_trips_per_op,
        "max_round_trips_per_op",
    ));
    f.details.push(format!("{} round trips over {} operations", w.round_trips, w.operations));
    if let Some(b) = w.handler_breakdown() {
        f.details.push(format!("by request type: {b}"));
    }
    let bind_once = binds_methods_per_call(w, t);
    if bind_once {
        f.details.push(format!(
            "{} of the {} round trips looked up a bound method (`conn.root.f`, a GETATTR each)",
            w.method_references, w.round_trips
        ));
    }
    for m in w.top_methods.iter().take(3) {
        f.details.push(format!("{}: {} calls, {} ms in total", m.name, m.count, number(ms(m.total_ns))));
    }
    f.explanation = format!(
        "Each operation waits for {} network round trips: its latency is at least that many times the network's \
         round-trip time. Attribute reads on a remote object, items of a remote list or dict and each step of a \
         remote iteration are one round trip each (and a Python client's `conn.root.f()` is two: GETATTR, then \
         CALL).",
        number(per_op)
    );
    f.action = format!(
        "Fetch everything in one call: add a batch method that returns a tuple of tuples of simple values \
         (numbers, strings, bytes), or copy the object once (an obtain-style copy). Do NOT return a dict or list \
         to save round trips: RPyC sends dicts and lists as references, so every key or item access is another \
         round trip.{} Target ≤ {} round trips per operation (measured: {}).",
        if bind_once {
            " Bind the method once (`f = conn.root.f`) — each `conn.root.f()` costs GETATTR + CALL; `f()` is the \
             CALL alone."
        } else {
            ""
        },
        number(t.max_round_trips_per_op),
        number(per_op)
    );
    Some(f)
}

/// `excessive_round_trips` for each method whose operations cost too many round trips
/// (subject `"SUBJECT: method"`), with the attributes read per call: `get_users` with 63
/// round trips is named even when 50 pings around it bring the average under the
/// threshold.
pub(super) fn excessive_round_trips_per_method(subject: &str, w: &WireEvidence, t: &Thresholds) -> Vec<Finding> {
    w.per_operation
        .iter()
        .filter_map(|op| {
            // Only this method's figures: the rest of `w` describes every method at once.
            let one = WireEvidence { operations: op.calls, round_trips: op.round_trips, ..WireEvidence::default() };
            let mut f = excessive_round_trips(&format!("{subject}: {}", op.method), &one, t)?;
            f.evidence[0].metric = format!("round trips per {} call", op.method);
            let calls = if op.calls == 1 { "call" } else { "calls" };
            f.details[0] = format!("{}: {} round trips over {} {calls}", op.method, op.round_trips, op.calls);
            let reads: Vec<String> = op
                .attribute_reads
                .iter()
                .filter(|(_, n)| *n >= op.calls)
                .take(4)
                .map(|(attr, n)| format!("{} × {attr}", number(*n as f64 / op.calls as f64)))
                .collect();
            if !reads.is_empty() {
                f.details.insert(1, format!("N+1: per call, {} (one round trip each)", reads.join(", ")));
            }
            Some(f)
        })
        .collect()
}

/// Whether a Python client's bound-method lookups (`conn.root.f` before every call) are
/// a noticeable share of its round trips.
fn binds_methods_per_call(w: &WireEvidence, t: &Thresholds) -> bool {
    w.method_references > 0 && w.method_lookup_share() >= t.min_method_lookup_share
}

/// Data references that the operation then paid round trips through: a dict read key by
/// key, a list of objects read attribute by attribute. A bound method is not data (the
/// round-trip finding covers it), and a reference only held or passed back costs nothing.
pub(super) fn reference_overhead(subject: &str, w: &WireEvidence, t: &Thresholds) -> Option<Finding> {
    let refs = w.data_references_per_op();
    let trips = w.round_trips_per_op();
    let evidence = [
        Evidence::new(
            "data references received per operation",
            refs,
            Comparison::AtLeast,
            t.min_references_per_op,
            "min_references_per_op",
        ),
        Evidence::new(
            "round trips per operation",
            trips,
            Comparison::Above,
            t.reference_round_trips_per_op,
            "reference_round_trips_per_op",
        ),
    ];
    if w.operations == 0 || w.data_references() == 0 || !evidence.iter().all(Evidence::holds) {
        return None;
    }
    let mut f = finding(
        FindingId::ReferenceOverhead,
        Severity::Info,
        subject,
        "Data returned by reference, then read round trip by round trip",
    );
    f.evidence.extend(evidence);
    f.details.push(format!(
        "{} data references and {} round trips over {} operations",
        w.data_references(),
        w.round_trips,
        w.operations
    ));
    if w.method_references > 0 {
        f.details.push(format!("{} bound-method references not counted as data", w.method_references));
    }
    if w.inspect_requests > 0 {
        f.details.push(format!("{} INSPECT requests (one per new proxy of a non-builtin type)", w.inspect_requests));
    }
    if let Some(alive) = w.references_alive {
        f.details.push(format!("{alive} references still held"));
    }
    f.explanation = format!(
        "Each operation receives references to the server's data ({} per operation) and pays {} round trips: the \
         data did not come back, only handles to it, and every read through a handle is another round trip \
         (releasing it costs a DEL message).",
        number(refs),
        number(trips)
    );
    f.action = "Dicts and lists travel by reference, like objects: each key or item read is a round trip. Return \
                tuples of simple values (numbers, strings, bytes) instead, add a batch method that returns all of \
                them in one call, or copy what you need once with an obtain-style copy; drop references you no \
                longer need."
        .into();
    Some(f)
}

pub(super) fn deep_nesting(subject: &str, w: &WireEvidence, t: &Thresholds) -> Option<Finding> {
    let depth = w.max_nesting_depth?;
    if depth <= t.max_nesting_depth {
        return None;
    }
    let mut f = finding(FindingId::DeepNesting, Severity::Warning, subject, "Deeply nested requests");
    f.evidence.push(Evidence::new(
        "nesting depth",
        f64::from(depth),
        Comparison::Above,
        f64::from(t.max_nesting_depth),
        "max_nesting_depth",
    ));
    if w.requests_from_server > 0 {
        f.details.push(format!("{} requests from the server (callbacks)", w.requests_from_server));
    }
    f.explanation = "The server calls back into the client and the callback calls the server again, level after \
                     level: each level is another round trip that the outer request waits for. (A server method \
                     calling self.exposed_other() is a local call, not nesting.)"
        .into();
    f.action = "Pass the data the server needs in the first request instead of a callback that fetches it, or move \
                the nested logic to one side (server-side helper methods are local calls)."
        .into();
    Some(f)
}
