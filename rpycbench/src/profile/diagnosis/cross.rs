//! Findings that need several results: the network floor of a server (its fastest
//! request) and the GIL (the same load on a threaded and a forking server).

use super::finding::{number, Comparison, Evidence, Finding, FindingId, Severity};
use super::rules::{client_cpu, finding, ms, server_cpu};
use super::Thresholds;
use crate::metrics::{BenchKind, BenchResult};
use std::net::SocketAddr;

/// Whether the server address is this machine (no network between client and server).
pub(super) fn is_loopback(address: &str) -> bool {
    address.parse::<SocketAddr>().is_ok_and(|a| a.ip().is_loopback())
}

/// The fastest request of `r` per round trip, ms: an upper bound of the network's
/// round-trip time to its server. Only kinds whose requests are small count.
fn floor_per_round_trip(r: &BenchResult) -> Option<f64> {
    let l = r.latency.as_ref().filter(|l| l.count > 0)?;
    let round_trips = match r.kind {
        // A connect is one TCP handshake: one round trip.
        BenchKind::Connection => 1.0,
        BenchKind::Latency | BenchKind::Concurrent | BenchKind::Context => {
            r.wire.as_ref().map_or(1.0, |w| w.round_trips_per_request.max(1.0))
        }
        BenchKind::Bandwidth | BenchKind::Transfer => return None,
    };
    Some(ms(l.min_ns) / round_trips)
}

/// The network floor that explains part of `subject`'s latency: 0 on loopback;
/// otherwise the lowest floor among the *other* results against the same server
/// (`None` when there is none), with the result it came from.
pub(super) fn floor_for(subject: &BenchResult, all: &[&BenchResult]) -> Option<(f64, String)> {
    let addr = subject.server.address.as_deref()?;
    if is_loopback(addr) {
        return Some((0.0, "loopback (no network)".into()));
    }
    all.iter()
        .filter(|r| !std::ptr::eq(**r, subject) && r.server.address.as_deref() == Some(addr))
        .filter_map(|r| floor_per_round_trip(r).map(|f| (f, r.name.clone())))
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

/// One `network_latency` finding per remote server whose fastest request, per round
/// trip, is slow while neither side was busy.
pub(super) fn network_latency(all: &[&BenchResult], t: &Thresholds) -> Vec<Finding> {
    let mut addresses: Vec<&str> = all.iter().filter_map(|r| r.server.address.as_deref()).collect();
    addresses.sort_unstable();
    addresses.dedup();
    let mut out = Vec::new();
    for addr in addresses.into_iter().filter(|a| !is_loopback(a)) {
        let fastest = all
            .iter()
            .filter(|r| r.server.address.as_deref() == Some(addr))
            .filter_map(|r| floor_per_round_trip(r).map(|f| (f, *r)))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let Some((floor, r)) = fastest else { continue };
        let busy = |cpu: Option<f64>| cpu.is_some_and(|c| c >= t.low_cpu_percent);
        if floor < t.network_floor_ms || busy(server_cpu(r, t)) || busy(client_cpu(r, t)) {
            continue;
        }
        let mut f =
            finding(FindingId::NetworkLatency, Severity::Info, &format!("server {addr}"), "Network latency floor");
        f.evidence.push(
            Evidence::new(
                "fastest request per round trip",
                floor,
                Comparison::AtLeast,
                t.network_floor_ms,
                "network_floor_ms",
            )
            .unit("ms"),
        );
        let l = r.latency.as_ref().map_or(0, |l| l.min_ns);
        f.details.push(format!("measured by {}: minimum {} ms ({} kind)", r.name, number(ms(l)), r.kind.name()));
        f.explanation = format!(
            "Even the fastest request to {addr} took {} ms per round trip while client and server were mostly idle: \
             that is the network's round-trip time, and every round trip of every operation pays it.",
            number(floor)
        );
        f.action = "Cut round trips per operation (batch methods returning tuples of simple values), move the client \
                    closer to the server, and confirm with a ping benchmark (the built-in `ping`) against the same \
                    server: if even that is slow, it is the network; if not, the server waits on something."
            .into();
        out.push(f);
    }
    out
}

fn base_name(name: &str) -> &str {
    match name.rfind('[') {
        Some(i) if name.ends_with(']') => &name[..i],
        _ => name,
    }
}

/// Parameters a `rpycbench sweep --over mode` step records about itself (see
/// `report::sweep`): the steps of one sweep differ in them and are still the same load.
const SWEEP_STEP_KEYS: [&str; 2] = [crate::metrics::SWEEP_VALUE, crate::metrics::SWEEP_LIMIT];

/// Whether two results ran with the same parameters, apart from which sweep step
/// each was.
fn same_load(a: &BenchResult, b: &BenchResult) -> bool {
    let load = |r| -> Vec<(&String, &serde_json::Value)> {
        let r: &BenchResult = r;
        r.params.iter().filter(|(k, _)| !SWEEP_STEP_KEYS.contains(&k.as_str())).collect()
    };
    load(a) == load(b)
}

/// Threaded/forking pairs of concurrent results on Python servers with the same
/// benchmark name (before its `[server]` suffix) and parameters (the steps of a mode
/// sweep pair too).
pub(super) fn gil_pairs<'a>(all: &[&'a BenchResult]) -> Vec<(&'a BenchResult, &'a BenchResult)> {
    let concurrent_on = |mode: &str| {
        all.iter()
            .copied()
            .filter(move |r| r.kind == BenchKind::Concurrent && r.server.mode == mode)
            .collect::<Vec<_>>()
    };
    let mut pairs = Vec::new();
    for threaded in concurrent_on("python-threaded") {
        for forking in concurrent_on("python-forking") {
            if base_name(&threaded.name) == base_name(&forking.name) && same_load(threaded, forking) {
                pairs.push((threaded, forking));
            }
        }
    }
    pairs
}

/// `gil_contention` for one pair: the threaded server held at about one core, its
/// requests notably slower at the tail than the forking server's under the same load,
/// while the forking server does notably more.
///
/// The tail is compared across servers, not within the threaded run: a closed loop of
/// equal CPU requests on a GIL-bound server makes *every* request wait alike (p99 ≈
/// p50), so only the forking server's figures show what the lock costs.
pub(super) fn gil_contention(threaded: &BenchResult, forking: &BenchResult, t: &Thresholds) -> Option<Finding> {
    if threaded.server.backend == "rust" || forking.server.backend == "rust" {
        return None; // native servers have no interpreter lock
    }
    let cpu = server_cpu(threaded, t)?;
    let enough =
        |r: &BenchResult| r.latency.as_ref().filter(|l| l.count >= t.min_tail_samples && l.p99_ns > 0).cloned();
    let (lt, lf) = (enough(threaded)?, enough(forking)?);
    let (tput_t, tput_f) = (threaded.throughput_rps?, forking.throughput_rps?);
    let gain = if tput_t > 0.0 { tput_f / tput_t } else { return None };
    let tail = lt.p99_ns as f64 / lf.p99_ns as f64;
    let evidence = [
        Evidence::new("threaded server CPU", cpu, Comparison::AtLeast, t.gil_cpu_min_percent, "gil_cpu_min_percent")
            .unit("% of one core"),
        Evidence::new("threaded server CPU", cpu, Comparison::AtMost, t.gil_cpu_max_percent, "gil_cpu_max_percent")
            .unit("% of one core"),
        Evidence::new(
            "threaded p99 / forking p99",
            tail,
            Comparison::AtLeast,
            t.gil_min_tail_ratio,
            "gil_min_tail_ratio",
        ),
        Evidence::new(
            "forking/threaded throughput",
            gain,
            Comparison::AtLeast,
            t.gil_min_throughput_gain,
            "gil_min_throughput_gain",
        ),
    ];
    if threaded.environment.cores < 2 || !evidence.iter().all(Evidence::holds) {
        return None;
    }
    let subject = format!("{} vs {}", threaded.name, forking.name);
    let mut f = finding(FindingId::GilContention, Severity::Warning, &subject, "GIL contention in the threaded server");
    f.evidence.extend(evidence);
    f.details.push(format!(
        "threaded: {} req/s, p50 {} ms, p99 {} ms; forking: {} req/s, p50 {} ms, p99 {} ms, server CPU {} % ({} \
         cores)",
        number(tput_t),
        number(ms(lt.p50_ns)),
        number(ms(lt.p99_ns)),
        number(tput_f),
        number(ms(lf.p50_ns)),
        number(ms(lf.p99_ns)),
        server_cpu(forking, t).map_or("?".into(), number),
        threaded.environment.cores
    ));
    f.explanation = "The threaded Python server never gets past about one core, and under the same load a forking \
                     server (one process, one interpreter lock per connection) answers notably faster, tail \
                     included, and does more: Python code in the threads runs one at a time under the GIL."
        .into();
    f.action = "Serve this workload with a forking server (rpyc ForkingServer), or move the CPU-bound part into code \
                that releases the GIL (native extensions, a process pool). Forking costs memory per connection."
        .into();
    Some(f)
}
