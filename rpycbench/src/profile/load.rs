//! The load the clients put on the server, as the relay (or a profiled program) saw it:
//! the clients' operations timed from call to answer, how many were in flight at once,
//! over which window — the figures a concurrent benchmark result holds, read from
//! traffic the tool did not generate. With the server's CPU sampled beside it
//! (`proxy --server-pid`), [`load_result`] turns them into a result the diagnosis's
//! CPU and latency rules read like any benchmark's: I/O bound, a concurrency limit,
//! one core pinned, a stall on delayed ACKs.
//!
//! Operations are the client's top-level calls of named methods (see
//! [`Telemetry::operations`]): `conn.root.f()` is one, the attribute reads of what it
//! returned are steps of it. Their latency is the call alone, from request to answer.

use super::telemetry::Telemetry;
use crate::metrics::{
    now_rfc3339, BenchKind, BenchResult, Environment, ErrorCount, LatencyHistogram, LatencyStats, Outcomes, ServerInfo,
    SystemStats,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// The operations one side started, answered (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OperationLoad {
    /// Operations answered (REPLY or EXCEPTION).
    pub answered: u64,
    /// Of those, the ones answered with an EXCEPTION.
    pub exceptions: u64,
    /// From the first operation's request to the last one's answer, ns.
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
    first_start: Option<Instant>,
    last_end: Option<Instant>,
    busy_ns: u64,
    answered: u64,
    exceptions: u64,
    in_flight: u64,
    max_in_flight: u64,
}

impl LoadAccumulator {
    /// An operation was requested `at`.
    pub(super) fn start(&mut self, at: Instant) {
        self.first_start.get_or_insert(at);
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
    }

    /// The operation requested at `start` was answered `at`.
    pub(super) fn end(&mut self, start: Instant, at: Instant, exception: bool) {
        let ns = u64::try_from(at.saturating_duration_since(start).as_nanos()).unwrap_or(u64::MAX);
        self.histogram.record_ns(ns);
        self.busy_ns = self.busy_ns.saturating_add(ns);
        self.answered += 1;
        self.exceptions += u64::from(exception);
        self.last_end = Some(self.last_end.map_or(at, |e| e.max(at)));
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// The operation will never be answered (its connection ended, or it was evicted).
    pub(super) fn abandon(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// The figures so far; `None` before the first answer.
    pub(super) fn stats(&self) -> Option<OperationLoad> {
        let (start, end) = (self.first_start?, self.last_end?);
        Some(OperationLoad {
            answered: self.answered,
            exceptions: self.exceptions,
            window_ns: u64::try_from(end.saturating_duration_since(start).as_nanos()).unwrap_or(u64::MAX),
            busy_ns: self.busy_ns,
            max_in_flight: self.max_in_flight,
            latency: self.histogram.stats(),
        })
    }
}

/// The clients' operations in `t` as a concurrent benchmark result named `subject`,
/// with the server's CPU when it was sampled ([`Telemetry::system`]): what the
/// diagnosis's CPU and latency rules read. `None` when no operation was answered.
///
/// The clients are taken as a closed loop of as many as were in flight on average
/// (Little's law over the window), so clients that think between calls count for less
/// than one: a rule that needs several busy clients does not read idle ones.
pub fn load_result(t: &Telemetry, subject: &str) -> Option<BenchResult> {
    let load = t.direction(t.client_direction()).load.clone()?;
    let clients = load.mean_in_flight().round() as u64;
    let mut params = BTreeMap::new();
    params.insert("clients".to_string(), clients.into());
    params.insert("max_in_flight".to_string(), load.max_in_flight.into());
    params.insert("source".to_string(), "relay".into());
    let successes = load.answered - load.exceptions.min(load.answered);
    let errors = if load.exceptions > 0 {
        vec![ErrorCount { message: "remote exception raised by the service".into(), count: load.exceptions }]
    } else {
        Vec::new()
    };
    let seconds = load.window_ns as f64 / 1e9;
    Some(BenchResult {
        name: subject.to_string(),
        kind: BenchKind::Concurrent,
        server: ServerInfo { mode: "external".into(), backend: "unknown".into(), address: None },
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
        system: t.system.clone().map(server_only),
        wire: None,
        machine: None,
        ended_early: None,
    })
}

/// The relay samples the server only: its own process is not the clients, whose CPU
/// it cannot see, so the client's figures are left out rather than read as idle.
fn server_only(mut s: SystemStats) -> SystemStats {
    s.samples = 0;
    s
}
