//! The pieces every benchmark kind shares: the timed request loop, reconnecting after a
//! connection dies, system sampling around the measured part, and result assembly.

use super::guard::Guard;
use super::reference::Reference;
use super::{Client, Target};
use crate::client::{Connection, WireCounters};
use crate::error::Result;
use crate::metrics::{
    now_rfc3339, BenchKind, BenchResult, ClientResult, EndedEarly, LatencyHistogram, LatencyStats, LoadModel,
    LoopClock, MachineReference, OutcomeCounter, ProcessSet, RoundSummary, SizeResult, SystemSampler, WallStart,
    WireStats,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often CPU and memory are sampled during a run.
pub const SYSTEM_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// A connection that is reopened after a fatal error, so one dropped connection costs
/// one failed request, not the rest of the run.
pub(crate) struct Session<'t, C = Connection> {
    target: &'t Target<C>,
    guard: Arc<Guard>,
    conn: Option<C>,
    /// Counters of connections that died, so wire totals survive reconnects.
    spent: WireCounters,
}

impl<'t, C: Client> Session<'t, C> {
    /// A session of the run `guard` watches over.
    pub(crate) fn new(target: &'t Target<C>, guard: &Arc<Guard>) -> Self {
        Session { target, guard: guard.clone(), conn: None, spent: WireCounters::default() }
    }

    /// The run's early-end state.
    pub(crate) fn guard(&self) -> &Guard {
        &self.guard
    }

    /// The connection, opened if needed.
    pub(crate) fn conn(&mut self) -> Result<&mut C> {
        if self.conn.is_none() {
            self.conn = Some(self.target.connect()?);
        }
        Ok(self.conn.as_mut().expect("opened just above"))
    }

    /// Opens the connection and makes its first round trip (RPyC: GETROOT) before the
    /// measurement, so that a run without warm-up does not count the connection's set-up
    /// as measured traffic. A failure here is left to the first request to meet.
    pub(crate) fn ready(&mut self) {
        if self.guard.halted() {
            return;
        }
        let result = self.conn().and_then(|c| c.first_round_trip());
        self.account(&result);
    }

    /// Whether a connection is open now.
    pub(crate) fn is_open(&self) -> bool {
        self.conn.is_some()
    }

    /// Runs one request, keeping track of the connection's health.
    #[inline]
    pub(crate) fn run<F: FnMut(&mut C) -> Result<()>>(&mut self, f: &mut F) -> Result<()> {
        let result = self.conn().and_then(f);
        self.account(&result);
        result
    }

    /// Tells the guard how a request went, and drops a connection it broke.
    #[inline]
    fn account(&mut self, result: &Result<()>) {
        match result {
            Ok(()) => self.guard.answered(),
            Err(e) => {
                if C::is_fatal(e) {
                    self.drop_conn();
                }
                self.guard.failed(e);
            }
        }
    }

    fn drop_conn(&mut self) {
        if let Some(c) = self.conn.take() {
            self.spent = self.spent + c.wire_counters();
        }
    }

    /// Wire counters over every connection this session used.
    pub(crate) fn counters(&self) -> WireCounters {
        match &self.conn {
            Some(c) => self.spent + c.wire_counters(),
            None => self.spent,
        }
    }

    /// The wire figures of a result: traffic since `before` over `requests` measured
    /// requests, or none when the client does not count its traffic.
    pub(crate) fn wire_since(&self, before: WireCounters, requests: u64) -> Option<(WireCounters, u64)> {
        C::COUNTS_WIRE.then(|| (self.counters() - before, requests))
    }

    /// Closes the connection (not timed). After the run was halted it is dropped
    /// instead: a polite close waits for a server that may never answer again.
    pub(crate) fn close(&mut self) {
        if let Some(c) = self.conn.as_mut() {
            if !self.guard.halted() {
                c.disconnect();
            }
        }
        self.drop_conn();
    }
}

/// When to stop a closed loop.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stop {
    Requests(u64),
    Duration(Duration),
}

/// Runs requests back to back, recording each success's latency.
///
/// The loop body is two reads of the TSC clock and one histogram record around `f`:
/// no allocation, and about 40 ns in all (`cargo bench -p rpycbench --bench overhead`),
/// so the harness adds nothing measurable to a request over a socket.
pub(crate) fn closed_loop<C: Client, F: FnMut(&mut C) -> Result<()>>(
    session: &mut Session<'_, C>,
    stop: Stop,
    f: &mut F,
    hist: &mut LatencyHistogram,
    outcomes: &mut OutcomeCounter,
) {
    let clock = LoopClock::new();
    let begin = clock.stamp();
    // The end of the previous request: a duration stop (and the run's deadline) reads
    // it instead of the clock, so every iteration costs two clock reads whatever applies.
    let mut last_end = begin;
    let mut done = 0u64;
    let deadline = session.guard().remaining();
    loop {
        match stop {
            Stop::Requests(n) if done >= n => break,
            Stop::Duration(d) if clock.between(begin, last_end) >= d => break,
            _ => {}
        }
        if session.guard().halted() {
            break;
        }
        if clock.between(begin, last_end) >= deadline {
            // Recorded with the guard's own clock, which says the same.
            session.guard().deadline_passed(Duration::MAX);
            break;
        }
        let t0 = clock.stamp();
        let r = session.run(f);
        last_end = clock.stamp();
        let elapsed_ns = clock.nanos_between(t0, last_end);
        match r {
            Ok(()) => {
                hist.record_ns(elapsed_ns);
                outcomes.success();
            }
            Err(e) => outcomes.failure(&e.to_string()),
        }
        done += 1;
    }
}

/// The measured part of a run: its start, its system sampler, and what goes into the
/// result.
pub(crate) struct Measurement<'t, C = Connection> {
    target: &'t Target<C>,
    started_at: String,
    start: Instant,
    wall_start: WallStart,
    sampler: Option<SystemSampler>,
    /// A remote server's network round trips timed before the run (see `network`).
    rtt_before: Option<Vec<u64>>,
    pub(crate) params: BTreeMap<String, serde_json::Value>,
}

impl<'t, C> Measurement<'t, C> {
    /// Starts measuring (and sampling the server and this process when `system`).
    pub(crate) fn start(target: &'t Target<C>, system: bool) -> Self {
        let echo = target.remote().and_then(|r| r.probe.as_ref()).map(|p| p.echo_addr());
        let rtt_before = echo.map(|addr| super::network::round_trips(addr, super::network::ROUND_TRIPS));
        let sampler = system.then(|| {
            let server = target.sampling().cloned();
            SystemSampler::start_sampling(SYSTEM_SAMPLE_INTERVAL, server, ProcessSet::Process(std::process::id()))
        });
        Measurement {
            target,
            started_at: now_rfc3339(),
            start: Instant::now(),
            wall_start: WallStart::now(),
            sampler,
            rtt_before,
            params: BTreeMap::new(),
        }
    }

    /// Records a parameter.
    pub(crate) fn param(&mut self, key: &str, value: impl serde::Serialize) {
        self.params.insert(key.to_owned(), serde_json::to_value(value).unwrap_or(serde_json::Value::Null));
    }

    /// Ends the measured part and builds the result.
    pub(crate) fn finish(self, name: &str, kind: BenchKind, parts: Parts) -> BenchResult {
        let wall = parts.wall.unwrap_or_else(|| self.start.elapsed());
        let wall_clock = self.wall_start.until_now();
        let system = self.sampler.map(SystemSampler::stop);
        let mut server = self.target.info().clone();
        if let (Some(before), Some(remote)) = (self.rtt_before, server.remote.as_mut()) {
            let echo = self.target.remote().and_then(|r| r.probe.as_ref()).map(|p| p.echo_addr());
            let after = echo.map(|a| super::network::round_trips(a, super::network::ROUND_TRIPS)).unwrap_or_default();
            remote.network_rtt = super::network::summarise(before, after);
        }
        let outcomes = parts.outcomes.outcomes();
        let wall_ns = u64::try_from(wall.as_nanos()).unwrap_or(u64::MAX);
        let throughput =
            parts.latency.as_ref().map(
                |_| {
                    if wall_ns == 0 {
                        0.0
                    } else {
                        outcomes.successes as f64 / wall.as_secs_f64()
                    }
                },
            );
        BenchResult {
            name: name.to_owned(),
            kind,
            server,
            params: self.params,
            environment: self.target.environment(),
            started_at: self.started_at,
            wall_time_ns: wall_ns,
            load_model: parts.load_model,
            latency: parts.latency,
            throughput_rps: throughput,
            outcomes,
            sizes: parts.sizes,
            clients: parts.clients,
            system,
            wire: parts.wire.map(|(c, n)| WireStats::from_counters(&c, n)),
            machine: parts.machine,
            ended_early: parts.ended_early,
            wall_clock: Some(wall_clock),
            merged: None,
        }
    }
}

/// The kind-specific parts of a result.
#[derive(Default)]
pub(crate) struct Parts {
    pub outcomes: OutcomeCounter,
    pub latency: Option<LatencyStats>,
    pub wall: Option<Duration>,
    pub load_model: Option<LoadModel>,
    pub sizes: Vec<SizeResult>,
    pub clients: Option<Vec<ClientResult>>,
    pub wire: Option<(WireCounters, u64)>,
    pub machine: Option<MachineReference>,
    pub ended_early: Option<EndedEarly>,
}

/// The rounds of a run (see [`rounds`](crate::metrics::rounds)): times each round, keeps
/// the measured wall time (rounds only, not the pauses between them), and measures the
/// machine reference before the first round, between rounds and after the last.
pub(crate) struct Rounds {
    count: u32,
    begin: Instant,
    measured: Duration,
    reference: Option<Reference>,
    guard: Option<Arc<Guard>>,
}

/// When a round ran, relative to the first.
#[derive(Clone, Copy)]
pub(crate) struct RoundTiming {
    started_ns: u64,
    wall_ns: u64,
}

impl RoundTiming {
    /// A round that started `started_ns` after the first and took `wall_ns`.
    pub(crate) fn new(started_ns: u64, wall_ns: u64) -> RoundTiming {
        RoundTiming { started_ns, wall_ns }
    }
}

impl Rounds {
    /// `count` rounds (at least one), with the machine reference timed as a client
    /// polling `reply_poll` waits, or none when `reference` is off.
    pub(crate) fn start(count: u32, reference: bool, reply_poll: Duration) -> Rounds {
        let mut reference = reference.then(|| Reference::start(reply_poll)).flatten();
        if let Some(r) = &mut reference {
            r.measure();
        }
        Rounds { count: count.max(1), begin: Instant::now(), measured: Duration::ZERO, reference, guard: None }
    }

    /// Skips the machine reference once `guard` halts the run: its remaining rounds
    /// are empty, and the reference would only delay the results.
    pub(crate) fn watched_by(mut self, guard: &Arc<Guard>) -> Rounds {
        self.guard = Some(guard.clone());
        self
    }

    /// How many rounds.
    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// Runs one round (`f`), then measures the reference.
    pub(crate) fn round<T>(&mut self, f: impl FnOnce() -> T) -> (T, RoundTiming) {
        let start = Instant::now();
        let out = f();
        let wall = start.elapsed();
        self.measured += wall;
        let timing = RoundTiming { started_ns: nanos(start - self.begin), wall_ns: nanos(wall) };
        if let Some(r) = &mut self.reference {
            if !self.guard.as_ref().is_some_and(|g| g.halted()) {
                r.measure();
            }
        }
        (out, timing)
    }

    /// The time the rounds took, and the machine reference.
    pub(crate) fn finish(self) -> (Duration, Option<MachineReference>) {
        (self.measured, self.reference.map(Reference::finish))
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// One distribution measured in rounds: the merged histogram and each round's summary.
#[derive(Default)]
pub(crate) struct RoundedSeries {
    hist: LatencyHistogram,
    rounds: Vec<RoundSummary>,
}

impl RoundedSeries {
    /// Adds a round's histogram (`failures` failed requests besides).
    pub(crate) fn add(&mut self, round: &LatencyHistogram, timing: RoundTiming, failures: u64) {
        self.hist.merge(round);
        self.rounds.push(RoundSummary::of(round, timing.started_ns, timing.wall_ns, failures));
    }

    /// The merged statistics, with each round's.
    pub(crate) fn stats(&self) -> LatencyStats {
        LatencyStats { rounds: self.rounds.clone(), ..self.hist.stats() }
    }
}

/// Builds one size's figures from that size's latencies only.
pub(crate) fn size_result(
    direction: &str,
    size: u64,
    chunk: Option<u64>,
    series: &RoundedSeries,
    outcomes: &OutcomeCounter,
) -> SizeResult {
    let stats = series.stats();
    let rate = |ns: u64| if ns == 0 { 0.0 } else { size as f64 / (ns as f64 / 1e9) };
    // Mean rate = bytes moved / time spent, from the mean latency of the same size.
    SizeResult {
        direction: direction.to_owned(),
        size_bytes: size,
        chunk_bytes: chunk,
        mean_bps: rate(stats.mean_ns),
        median_bps: rate(stats.p50_ns),
        worst_bps: rate(stats.max_ns),
        latency: stats,
        outcomes: outcomes.outcomes(),
    }
}
