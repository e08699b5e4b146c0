//! Latency: sequential requests on one connection.

use super::guard::Guard;
use super::run::{closed_loop, Measurement, Parts, RoundedSeries, Rounds, Session, Stop};
use super::{Client, Target};
use crate::error::Result;
use crate::metrics::{rounds, BenchKind, BenchResult, LatencyHistogram, DEFAULT_ROUNDS};
use std::time::Duration;

/// Sequential requests on one connection: warm-up requests first (not measured), then
/// `requests` timed requests, or as many as fit in `duration`, in
/// [`rounds`](Self::rounds) with the machine reference timed between them.
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
    rounds: u32,
    reference: bool,
    system: bool,
    deadline: Option<Duration>,
}

impl Latency {
    /// Timed requests unless [`requests`](Self::requests) or [`duration`](Self::duration) says otherwise.
    pub const DEFAULT_REQUESTS: u64 = 1000;
    /// Unmeasured requests first, unless [`warmup`](Self::warmup) says otherwise.
    pub const DEFAULT_WARMUP: u64 = 10;

    /// 1000 requests in [`DEFAULT_ROUNDS`] rounds after 10 warm-up requests, with the
    /// machine reference and system sampling on.
    pub fn new(name: impl Into<String>) -> Self {
        Latency {
            name: name.into(),
            requests: Self::DEFAULT_REQUESTS,
            warmup: Self::DEFAULT_WARMUP,
            duration: None,
            rounds: DEFAULT_ROUNDS,
            reference: true,
            system: true,
            deadline: None,
        }
    }

    /// Rounds to split the requests (or the duration) into: the unit a comparison's
    /// interval is built from (see [`rounds`](crate::metrics::rounds)).
    pub fn rounds(mut self, n: u32) -> Self {
        self.rounds = n.max(1);
        self
    }

    /// Whether to time the machine reference before, between and after the rounds
    /// (default on; see [`MachineReference`](crate::metrics::MachineReference)).
    pub fn machine_reference(mut self, on: bool) -> Self {
        self.reference = on;
        self
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

    /// Ends the run this long after it starts, keeping what it measured (marked
    /// [`Deadline`](crate::metrics::StopReason::Deadline)); none by default. A stopped or
    /// dead server ends it sooner (see [`BREAKER_TIMEOUTS`](super::BREAKER_TIMEOUTS)).
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = Some(d);
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
        let guard = Guard::new(target, self.deadline);
        let mut session = Session::new(target, &guard);
        session.ready();
        let mut warm = Parts::default();
        let mut warm_hist = LatencyHistogram::new();
        closed_loop(&mut session, Stop::Requests(self.warmup), &mut f, &mut warm_hist, &mut warm.outcomes);

        let before = session.counters();
        let mut m = Measurement::start(target, self.system);
        m.param("requests", self.requests);
        m.param("warmup", self.warmup);
        m.param("duration_ns", self.duration.map(|d| d.as_nanos() as u64));
        m.param("rounds", self.rounds);
        let mut parts = Parts::default();
        let mut series = RoundedSeries::default();
        let mut rounds = Rounds::start(self.rounds, self.reference, target.reply_poll()).watched_by(&guard);
        let stops: Vec<Stop> = match self.duration {
            Some(d) => vec![Stop::Duration(d / rounds.count()); rounds.count() as usize],
            None => rounds::split(self.requests, rounds.count()).map(Stop::Requests).collect(),
        };
        for stop in stops {
            let failed = parts.outcomes.failures();
            let mut hist = LatencyHistogram::new();
            let ((), timing) = rounds.round(|| closed_loop(&mut session, stop, &mut f, &mut hist, &mut parts.outcomes));
            series.add(&hist, timing, parts.outcomes.failures() - failed);
        }
        let (wall, machine) = rounds.finish();
        parts.wall = Some(wall);
        parts.machine = machine;
        parts.wire = session.wire_since(before, parts.outcomes.attempts());
        parts.latency = Some(series.stats());
        parts.ended_early = guard.ended();
        session.close();
        m.finish(&self.name, BenchKind::Latency, parts)
    }
}
