//! A measuring context for operations inside an application.

use super::run::SYSTEM_SAMPLE_INTERVAL;
use crate::client::{Connection, WireCounters};
use crate::error::Result;
use crate::metrics::{
    now_rfc3339, BenchKind, BenchResult, Environment, LatencyHistogram, LoopClock, OutcomeCounter, ProcessSet,
    ServerInfo, SystemSampler, WireStats,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Wrap operations of your own code to get the same result type as a benchmark:
/// latency, success or failure, and (for operations on a [`Connection`]) wire traffic.
///
/// ```no_run
/// use rpycbench::bench::BenchmarkContext;
/// # fn main() -> rpycbench::Result<()> {
/// # let mut conn = rpycbench::Connection::connect("127.0.0.1:18861")?;
/// let mut users = BenchmarkContext::new("user_operations");
/// let user = users.measure_on(&mut conn, |c| c.call("get_user_tuple", (123,)))?;
/// let result = users.result();
/// println!("{} ops, mean {} ns", result.outcomes.attempts, result.latency.unwrap().mean_ns);
/// # Ok(()) }
/// ```
pub struct BenchmarkContext {
    name: String,
    server: ServerInfo,
    started_at: String,
    start: Instant,
    clock: LoopClock,
    hist: LatencyHistogram,
    outcomes: OutcomeCounter,
    wire: WireCounters,
    wire_requests: u64,
    extra_bytes: (u64, u64),
    sampler: Option<SystemSampler>,
}

impl BenchmarkContext {
    /// A context named `name` (the result's name).
    pub fn new(name: impl Into<String>) -> Self {
        BenchmarkContext {
            name: name.into(),
            server: ServerInfo::new("application", "unknown", None),
            started_at: now_rfc3339(),
            start: Instant::now(),
            clock: LoopClock::new(),
            hist: LatencyHistogram::new(),
            outcomes: OutcomeCounter::default(),
            wire: WireCounters::default(),
            wire_requests: 0,
            extra_bytes: (0, 0),
            sampler: None,
        }
    }

    /// Also samples this process's CPU and memory until [`result`](Self::result).
    pub fn with_system_sampling(mut self) -> Self {
        self.sampler =
            Some(SystemSampler::start(SYSTEM_SAMPLE_INTERVAL, None, ProcessSet::Process(std::process::id())));
        self
    }

    /// Times `op`; an `Err` counts as a failure with its message.
    pub fn measure<T, E: std::fmt::Display>(&mut self, op: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let t0 = self.clock.stamp();
        let r = op();
        self.record(self.clock.since(t0), r.as_ref().err().map(|e| e.to_string()).as_deref());
        r
    }

    /// Times an operation on a connection, and adds its wire traffic.
    pub fn measure_on<T>(&mut self, conn: &mut Connection, op: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let before = conn.counters();
        let r = self.measure(|| op(conn));
        self.wire = self.wire + (conn.counters() - before);
        self.wire_requests += 1;
        r
    }

    /// Records an operation timed elsewhere: `error` is `None` for a success.
    pub fn record(&mut self, latency: Duration, error: Option<&str>) {
        match error {
            None => {
                self.hist.record(latency);
                self.outcomes.success();
            }
            Some(message) => self.outcomes.failure(message),
        }
    }

    /// Adds bytes your code knows it sent and received (beyond a connection's counters).
    pub fn add_bytes(&mut self, sent: u64, received: u64) {
        self.extra_bytes.0 += sent;
        self.extra_bytes.1 += received;
    }

    /// The result so far.
    pub fn result(&self) -> BenchResult {
        let outcomes = self.outcomes.outcomes();
        let wall = self.start.elapsed();
        let mut wire = self.wire;
        wire.bytes_sent += self.extra_bytes.0;
        wire.bytes_received += self.extra_bytes.1;
        let has_wire = self.wire_requests > 0 || self.extra_bytes != (0, 0);
        BenchResult {
            name: self.name.clone(),
            kind: BenchKind::Context,
            server: self.server.clone(),
            params: BTreeMap::new(),
            environment: Environment::current(),
            started_at: self.started_at.clone(),
            wall_time_ns: wall.as_nanos() as u64,
            load_model: None,
            throughput_rps: Some(outcomes.successes as f64 / wall.as_secs_f64().max(1e-9)),
            latency: Some(self.hist.stats()),
            outcomes,
            sizes: Vec::new(),
            clients: None,
            system: None,
            machine: None,
            ended_early: None,
            wall_clock: None,
            merged: None,
            wire: has_wire.then(|| WireStats::from_counters(&wire, self.wire_requests.max(self.outcomes.attempts()))),
        }
    }

    /// The result, ending system sampling; the context starts afresh (for periodic
    /// reports, e.g. one JSON line a minute).
    pub fn take_result(&mut self) -> BenchResult {
        let mut result = self.result();
        result.system = self.sampler.take().map(SystemSampler::stop);
        let fresh = BenchmarkContext::new(self.name.clone());
        let had_sampler = result.system.is_some();
        *self = BenchmarkContext { server: self.server.clone(), ..fresh };
        if had_sampler {
            *self = std::mem::replace(self, BenchmarkContext::new("")).with_system_sampling();
        }
        result
    }
}
