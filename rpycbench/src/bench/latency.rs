//! Latency: sequential requests on one connection.

use super::run::{closed_loop, Measurement, Parts, Session, Stop};
use super::{Client, Target};
use crate::error::Result;
use crate::metrics::{BenchKind, BenchResult, LatencyHistogram};
use std::time::Duration;

/// Sequential requests on one connection: warm-up requests first (not measured), then
/// `requests` timed requests, or as many as fit in `duration`.
///
/// ```no_run
/// use rpycbench::bench::{Latency, Target};
/// # let addr = "127.0.0.1:18861".parse().unwrap();
/// let result = Latency::new("ping").requests(1000).run(&Target::address(addr), |conn| {
///     conn.call("ping", ())?;
///     Ok(())
/// });
/// println!("p99 = {} ns", result.latency.unwrap().p99_ns);
/// ```
#[derive(Clone, Debug)]
pub struct Latency {
    name: String,
    requests: u64,
    warmup: u64,
    duration: Option<Duration>,
    system: bool,
}

impl Latency {
    /// 1000 requests after 10 warm-up requests, system sampling on.
    pub fn new(name: impl Into<String>) -> Self {
        Latency { name: name.into(), requests: 1000, warmup: 10, duration: None, system: true }
    }

    /// Timed requests.
    pub fn requests(mut self, n: u64) -> Self {
        self.requests = n;
        self
    }

    /// Unmeasured requests before timing starts.
    pub fn warmup(mut self, n: u64) -> Self {
        self.warmup = n;
        self
    }

    /// Run for this long instead of a fixed number of requests.
    pub fn duration(mut self, d: Duration) -> Self {
        self.duration = Some(d);
        self
    }

    /// Whether to sample CPU and memory during the run (default on).
    pub fn sample_system(mut self, on: bool) -> Self {
        self.system = on;
        self
    }

    /// Runs `f` as the request. A connection that cannot be opened, or dies, makes
    /// failed requests, never a missing result.
    pub fn run<C: Client, F: FnMut(&mut C) -> Result<()>>(&self, target: &Target<C>, mut f: F) -> BenchResult {
        let mut session = Session::new(target);
        session.ready();
        let mut warm = Parts::default();
        let mut warm_hist = LatencyHistogram::new();
        closed_loop(&mut session, Stop::Requests(self.warmup), &mut f, &mut warm_hist, &mut warm.outcomes);

        let stop = match self.duration {
            Some(d) => Stop::Duration(d),
            None => Stop::Requests(self.requests),
        };
        let before = session.counters();
        let mut m = Measurement::start(target, self.system);
        m.param("requests", self.requests);
        m.param("warmup", self.warmup);
        m.param("duration_ns", self.duration.map(|d| d.as_nanos() as u64));
        let mut parts = Parts::default();
        let mut hist = LatencyHistogram::new();
        let start = std::time::Instant::now();
        closed_loop(&mut session, stop, &mut f, &mut hist, &mut parts.outcomes);
        parts.wall = Some(start.elapsed());
        parts.wire = session.wire_since(before, parts.outcomes.attempts());
        parts.latency = Some(hist.stats());
        session.close();
        m.finish(&self.name, BenchKind::Latency, parts)
    }
}
