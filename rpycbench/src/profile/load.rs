//! The load the clients put on the server, as the relay (or a profiled program) saw it:
//! the clients' operations timed from call to answer, how many were in flight at once,
//! over which window — the figures a concurrent benchmark result holds, read from
//! traffic the tool did not generate. With the server's CPU sampled beside it
//! (`proxy --server-pid`), [`load_results`] turns them into results the diagnosis's
//! CPU and latency rules read like any benchmark's: I/O bound, a concurrency limit,
//! one core pinned, a stall on delayed ACKs.
//!
//! Operations are the client's top-level calls of named methods (see
//! [`Telemetry::operations`]): `conn.root.f()` is one, the attribute reads of what it
//! returned are steps of it. Their latency is the call alone, from request to answer.

use super::recorder::nanos;
use super::telemetry::Telemetry;
use crate::metrics::{
    now_rfc3339, BenchKind, BenchResult, Environment, ErrorCount, LatencyHistogram, LatencyStats, Outcomes, ServerInfo,
    SystemStats,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// The operations of one method, answered (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OperationLoad {
    /// Operations answered (REPLY or EXCEPTION).
    pub answered: u64,
    /// Of those, the ones answered with an EXCEPTION.
    pub exceptions: u64,
    /// Time with at least one of these operations in flight, ns: the load's own
    /// time, so a relay left idle between clients does not dilute it.
    pub window_ns: u64,
    /// The answered operations' durations summed, ns: over `window_ns`, the mean number
    /// of operations in flight (Little's law).
    pub busy_ns: u64,
    /// Most operations in flight at once.
    pub max_in_flight: u64,
    /// Their durations, request to answer.
    pub latency: LatencyStats,
}

impl OperationLoad {
    /// Operations in flight on average over the window: the clients that kept a
    /// request out (a closed loop of `N` busy clients reads `N`).
    pub fn mean_in_flight(&self) -> f64 {
        if self.window_ns == 0 {
            0.0
        } else {
            self.busy_ns as f64 / self.window_ns as f64
        }
    }
}

/// Accumulates [`OperationLoad`] as operations start and end. Memory is bounded: a
/// histogram and a few counters.
#[derive(Debug, Default)]
pub(super) struct LoadAccumulator {
    histogram: LatencyHistogram,
    /// When the current stretch with operations in flight began.
    active_since: Option<Instant>,
    /// The closed stretches with operations in flight, summed.
    active_ns: u64,
    busy_ns: u64,
    answered: u64,
    exceptions: u64,
    in_flight: u64,
    max_in_flight: u64,
}

impl LoadAccumulator {
    /// An operation was requested `at`.
    pub(super) fn start(&mut self, at: Instant) {
        if self.in_flight == 0 {
            self.active_since = Some(at);
        }
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
    }

    /// The operation requested at `start` was answered `at`.
    pub(super) fn end(&mut self, start: Instant, at: Instant, exception: bool) {
        let ns = nanos(at.saturating_duration_since(start));
        self.histogram.record_ns(ns);
        self.busy_ns = self.busy_ns.saturating_add(ns);
        self.answered += 1;
        self.exceptions += u64::from(exception);
        self.leave(at);
    }

    /// The operation will never be answered (its connection ended, or it was evicted).
    pub(super) fn abandon(&mut self, at: Instant) {
        self.leave(at);
    }

    fn leave(&mut self, at: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            if let Some(since) = self.active_since.take() {
                self.active_ns = self.active_ns.saturating_add(nanos(at.saturating_duration_since(since)));
            }
        }
    }

    /// The figures as of `now`; `None` before the first answer.
    pub(super) fn stats(&self, now: Instant) -> Option<OperationLoad> {
        if self.answered == 0 {
            return None;
        }
        let open = self.active_since.map_or(0, |since| nanos(now.saturating_duration_since(since)));
        Some(OperationLoad {
            answered: self.answered,
            exceptions: self.exceptions,
            window_ns: self.active_ns.saturating_add(open),
            busy_ns: self.busy_ns,
            max_in_flight: self.max_in_flight,
            latency: self.histogram.stats(),
        })
    }
}

/// Operations of one method must be at least this share of all for the server's CPU
/// to be read as theirs.
const CPU_OWNER_SHARE: f64 = 0.9;

/// The clients' operations in `t`, one concurrent benchmark result per method (named
/// `SUBJECT: method`): what the diagnosis's CPU and latency rules read. Methods are
/// kept apart because their times differ: one distribution of a fast `get` and a slow
/// `report` would read as a tail, or its fastest request as everyone's service time.
/// The server's CPU ([`Telemetry::system`]) goes with a method that made at least 90 %
/// of the operations, as CPU per unit of its load time; with mixed traffic nobody's CPU
/// can be told apart, and the CPU rules are left out.
///
/// The clients are taken as a closed loop of as many as were in flight on average
/// (Little's law over the load's time), so clients that think between calls count for
/// less than one: a rule that needs several busy clients does not read idle ones.
pub fn load_results(t: &Telemetry, subject: &str) -> Vec<BenchResult> {
    let total: u64 = t.per_operation.iter().filter_map(|o| o.load.as_ref()).map(|l| l.answered).sum();
    t.per_operation
        .iter()
        .filter_map(|o| {
            let load = o.load.clone()?;
            let owns_cpu = load.answered as f64 >= CPU_OWNER_SHARE * total as f64;
            let system = t.system.clone().filter(|_| owns_cpu).map(|s| server_only(s, load.window_ns));
            Some(result(&format!("{subject}: {}", o.method), load, system))
        })
        .collect()
}

fn result(name: &str, load: OperationLoad, system: Option<SystemStats>) -> BenchResult {
    let clients = load.mean_in_flight().round() as u64;
    let mut params = BTreeMap::new();
    params.insert("clients".to_string(), clients.into());
    params.insert("max_in_flight".to_string(), load.max_in_flight.into());
    params.insert(TELEMETRY_SOURCE_PARAM.to_string(), true.into());
    let successes = load.answered.saturating_sub(load.exceptions);
    let errors = if load.exceptions > 0 {
        vec![ErrorCount { message: "remote exception raised by the service".into(), count: load.exceptions }]
    } else {
        Vec::new()
    };
    let seconds = load.window_ns as f64 / 1e9;
    BenchResult {
        name: name.to_string(),
        kind: BenchKind::Concurrent,
        server: ServerInfo::new("external", "unknown", None),
        params,
        environment: Environment::current(),
        started_at: now_rfc3339(),
        wall_time_ns: load.window_ns,
        load_model: None,
        outcomes: Outcomes {
            attempts: load.answered,
            successes,
            failures: load.answered - successes,
            success_rate: if load.answered == 0 { 1.0 } else { successes as f64 / load.answered as f64 },
            late_starts: 0,
            errors,
            errors_other: 0,
        },
        throughput_rps: (seconds > 0.0).then(|| successes as f64 / seconds),
        latency: Some(load.latency),
        sizes: Vec::new(),
        clients: None,
        system,
        wire: None,
        machine: None,
        ended_early: None,
        wall_clock: None,
        merged: None,
    }
}

/// The `params` key set (to `true`) on results read from telemetry ([`load_results`]):
/// their calls' times are also in the telemetry, by method, where the delayed-ACK
/// stall is read from.
pub const TELEMETRY_SOURCE_PARAM: &str = "from_telemetry";

/// Whether `r` was read from telemetry ([`TELEMETRY_SOURCE_PARAM`]) rather than
/// measured by a benchmark.
pub(crate) fn is_from_telemetry(r: &BenchResult) -> bool {
    r.params.get(TELEMETRY_SOURCE_PARAM) == Some(&true.into())
}

/// The relay samples the server only: its own process is not the clients, whose CPU
/// it cannot see, so the client's figures are left out rather than read as idle. The
/// server's mean CPU is taken over the load's time (`window_ns`), the same time base
/// as the throughput: its CPU time counts whenever a client was connected, which
/// covers every operation, and a server waiting between clients uses next to none.
fn server_only(mut s: SystemStats, window_ns: u64) -> SystemStats {
    s.samples = 0;
    if let (Some(server), true) = (s.server.as_mut(), window_ns > 0) {
        server.cpu_percent_mean = server.cpu_time_ns as f64 * 100.0 / window_ns as f64;
        server.cpu_percent_max = server.cpu_percent_max.max(server.cpu_percent_mean);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ProcessStats;
    use crate::profile::telemetry::OperationStats;
    use std::time::Duration;

    #[test]
    fn the_window_is_the_time_with_operations_in_flight() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut acc = LoadAccumulator::default();
        // Two at once for 100 ms, then an hour idle, then one for 50 ms.
        acc.start(at(0));
        acc.start(at(0));
        acc.end(at(0), at(100), false);
        acc.end(at(0), at(100), false);
        acc.start(at(3_600_000));
        acc.end(at(3_600_000), at(3_600_050), true);
        let load = acc.stats(at(3_600_100)).expect("answered");
        assert_eq!((load.answered, load.exceptions, load.max_in_flight), (3, 1, 2));
        assert_eq!(load.window_ns, 150_000_000, "the idle hour is not load time");
        assert!((load.mean_in_flight() - 250.0 / 150.0).abs() < 1e-9);
        // An abandoned operation (its connection closed) ends its stretch too.
        acc.start(at(3_700_000));
        acc.abandon(at(3_700_010));
        assert_eq!(acc.stats(at(3_800_000)).map(|l| l.window_ns), Some(160_000_000));
    }

    fn method(name: &str, answered: u64, window_ms: u64) -> OperationStats {
        let mut h = LatencyHistogram::new();
        (0..answered).for_each(|_| h.record_ns(10_000_000));
        OperationStats {
            method: name.into(),
            calls: answered,
            load: Some(OperationLoad {
                answered,
                exceptions: 0,
                window_ns: window_ms * 1_000_000,
                busy_ns: answered * 10_000_000,
                max_in_flight: 8,
                latency: h.stats(),
            }),
            ..OperationStats::default()
        }
    }

    #[test]
    fn methods_are_read_apart_and_the_cpu_goes_with_the_one_that_made_it() {
        let server =
            ProcessStats { cpu_percent_mean: 10.0, cpu_time_ns: 950_000_000, processes_max: 1, ..Default::default() };
        let t = Telemetry {
            per_operation: vec![method("get", 950, 1000), method("report", 50, 500)],
            system: Some(SystemStats {
                interval_ns: 100_000_000,
                samples: 12,
                server: Some(server),
                client: Default::default(),
            }),
            ..Telemetry::default()
        };
        let results = load_results(&t, "relay");
        let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["relay: get", "relay: report"]);
        let get = &results[0];
        assert_eq!(get.params["clients"], 10, "9.5 in flight on average");
        assert_eq!(get.throughput_rps, Some(950.0));
        let cpu = get.system.as_ref().and_then(|s| s.server.as_ref()).map(|s| s.cpu_percent_mean);
        assert_eq!(cpu, Some(95.0), "CPU time over the load's own time, not the connected time's 10 %");
        assert_eq!(get.system.as_ref().map(|s| s.samples), Some(0), "no client figures: the relay cannot see them");
        assert!(results[1].system.is_none(), "5 % of the operations: the CPU is not theirs");
        assert_eq!(results[0].params[TELEMETRY_SOURCE_PARAM], true);
    }
}
