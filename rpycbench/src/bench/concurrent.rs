//! Concurrent: many clients, each with its own connection, closed or open loop.

use super::guard::Guard;
use super::run::{closed_loop, Measurement, Parts, RoundTiming, RoundedSeries, Rounds, Session, Stop};
use super::{Client, Target};
use crate::client::WireCounters;
use crate::error::Result;
use crate::metrics::{
    rounds, BenchKind, BenchResult, ClientResult, LatencyHistogram, LoadModel, OutcomeCounter, DEFAULT_ROUNDS,
};
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

/// How load is offered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Load {
    /// Each client sends when its previous reply arrives. Simple, but latency under
    /// load then excludes queueing (coordinated omission).
    ClosedLoop,
    /// Requests are scheduled at `rate_per_sec` in total, spread evenly over the
    /// clients; latency runs from each request's scheduled start.
    OpenLoop {
        /// Target requests per second, all clients together.
        rate_per_sec: f64,
    },
}

/// `clients` clients, each on its own connection and thread, `requests_per_client`
/// requests each. Every attempt counts: a client that cannot connect fails its
/// requests, it does not vanish from the statistics.
///
/// The requests run in rounds. In a closed loop every client runs its share of a round,
/// all clients wait for each other, and the machine reference is timed between rounds.
/// An open loop keeps its schedule: its rounds are consecutive stretches of it, with the
/// reference timed before and after.
#[derive(Clone, Debug)]
pub struct Concurrent {
    name: String,
    clients: u32,
    requests_per_client: u64,
    warmup_per_client: u64,
    load: Load,
    late_threshold: Duration,
    per_client: bool,
    rounds: u32,
    reference: bool,
    system: bool,
    deadline: Option<Duration>,
}

impl Concurrent {
    /// Clients unless [`clients`](Self::clients) says otherwise.
    pub const DEFAULT_CLIENTS: u32 = 10;
    /// Timed requests per client unless [`requests_per_client`](Self::requests_per_client) says otherwise.
    pub const DEFAULT_REQUESTS_PER_CLIENT: u64 = 100;
    /// Unmeasured requests per client first.
    pub const DEFAULT_WARMUP_PER_CLIENT: u64 = 2;

    /// 10 clients × 100 requests, closed loop.
    pub fn new(name: impl Into<String>) -> Self {
        Concurrent {
            name: name.into(),
            clients: Self::DEFAULT_CLIENTS,
            requests_per_client: Self::DEFAULT_REQUESTS_PER_CLIENT,
            warmup_per_client: Self::DEFAULT_WARMUP_PER_CLIENT,
            load: Load::ClosedLoop,
            late_threshold: Duration::from_millis(1),
            per_client: false,
            rounds: DEFAULT_ROUNDS,
            reference: true,
            system: true,
            deadline: None,
        }
    }

    /// Rounds to split each client's requests into.
    pub fn rounds(mut self, n: u32) -> Self {
        self.rounds = n.max(1);
        self
    }

    /// Whether to time the machine reference before, between and after the rounds.
    pub fn machine_reference(mut self, on: bool) -> Self {
        self.reference = on;
        self
    }

    /// Number of clients.
    pub fn clients(mut self, n: u32) -> Self {
        self.clients = n.max(1);
        self
    }

    /// Timed requests per client.
    pub fn requests_per_client(mut self, n: u64) -> Self {
        self.requests_per_client = n;
        self
    }

    /// Unmeasured requests per client before the start.
    pub fn warmup_per_client(mut self, n: u64) -> Self {
        self.warmup_per_client = n;
        self
    }

    /// The load model.
    pub fn load(mut self, load: Load) -> Self {
        self.load = load;
        self
    }

    /// Open loop: how late a request may leave before it counts as a late start.
    pub fn late_threshold(mut self, d: Duration) -> Self {
        self.late_threshold = d;
        self
    }

    /// Keep each client's statistics in the result.
    pub fn per_client(mut self, on: bool) -> Self {
        self.per_client = on;
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

    /// Runs `f` as every client's request.
    pub fn run<C: Client, F: Fn(&mut C) -> Result<()> + Sync>(&self, target: &Target<C>, f: F) -> BenchResult {
        let n = self.clients as usize;
        let shares: Vec<u64> = rounds::split(self.requests_per_client, self.rounds).collect();
        // Everyone connected; then each round starts and ends for all at once (an open
        // loop passes the round barriers once, around its whole schedule).
        let connected = Barrier::new(n + 1);
        let (round_start, round_end) = (Barrier::new(n + 1), Barrier::new(n + 1));
        let start_cell: OnceLock<Instant> = OnceLock::new();
        let guard = Guard::new(target, self.deadline);
        let mut m = Measurement::start(target, self.system);
        let mut rounds = Rounds::start(shares.len() as u32, self.reference, target.reply_poll()).watched_by(&guard);
        let mut timings = Vec::new();
        let ends = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    let (f, shares, guard) = (&f, &shares, &guard);
                    let (connected, round_start, round_end, start_cell) =
                        (&connected, &round_start, &round_end, &start_cell);
                    s.spawn(move || {
                        let mut session = Session::new(target, guard);
                        let mut call = |c: &mut C| f(c);
                        session.ready();
                        if session.is_open() {
                            for _ in 0..self.warmup_per_client {
                                if session.guard().stopped() {
                                    break;
                                }
                                let _ = session.run(&mut call);
                            }
                        }
                        connected.wait();
                        let client =
                            self.client(i, shares, (round_start, round_end), start_cell, &mut session, &mut call);
                        session.close();
                        client
                    })
                })
                .collect();
            connected.wait();
            let passes = if matches!(self.load, Load::ClosedLoop) { shares.len() } else { 1 };
            for _ in 0..passes {
                let ((), timing) = rounds.round(|| {
                    // Sampling and the clock start once every client is ready.
                    let _ = start_cell.set(Instant::now());
                    round_start.wait();
                    round_end.wait();
                });
                timings.push(timing);
            }
            handles.into_iter().map(|h| h.join().expect("client threads do not panic")).collect::<Vec<_>>()
        });
        let start = *start_cell.get().expect("set before the first round");
        m.param("clients", self.clients);
        m.param("requests_per_client", self.requests_per_client);
        m.param("warmup_per_client", self.warmup_per_client);
        m.param("rounds", shares.len());
        let mut parts = Parts::default();
        let mut wire = WireCounters::default();
        let mut clients = Vec::new();
        let mut last_end = start;
        let mut per_round: Vec<(LatencyHistogram, u64)> = shares.iter().map(|_| Default::default()).collect();
        for (i, c) in ends.into_iter().enumerate() {
            let mut hist = LatencyHistogram::new();
            for (total, (h, failed)) in per_round.iter_mut().zip(&c.rounds) {
                total.0.merge(h);
                total.1 += failed;
                hist.merge(h);
            }
            parts.outcomes.merge(&c.outcomes);
            wire = wire + c.wire;
            last_end = last_end.max(c.end);
            if self.per_client {
                clients.push(ClientResult { client: i as u32, outcomes: c.outcomes.outcomes(), latency: hist.stats() });
            }
        }
        // An open loop's rounds are stretches of its schedule, timed by it.
        if !matches!(self.load, Load::ClosedLoop) {
            timings = self.schedule_timings(&shares);
        }
        let mut series = RoundedSeries::default();
        for ((hist, failed), timing) in per_round.iter().zip(timings) {
            series.add(hist, timing, *failed);
        }
        let (wall, machine) = rounds.finish();
        parts.wall = Some(match self.load {
            Load::ClosedLoop => wall,
            Load::OpenLoop { .. } => last_end - start,
        });
        parts.machine = machine;
        parts.latency = Some(series.stats());
        parts.wire = C::COUNTS_WIRE.then(|| (wire, parts.outcomes.attempts()));
        parts.clients = self.per_client.then_some(clients);
        parts.ended_early = guard.ended();
        parts.load_model = Some(match self.load {
            Load::ClosedLoop => LoadModel::ClosedLoop,
            Load::OpenLoop { rate_per_sec } => {
                LoadModel::OpenLoop { rate_per_sec, late_threshold_ns: self.late_threshold.as_nanos() as u64 }
            }
        });
        m.finish(&self.name, BenchKind::Concurrent, parts)
    }

    /// The rounds of an open loop as the schedule places them.
    fn schedule_timings(&self, shares: &[u64]) -> Vec<RoundTiming> {
        let Load::OpenLoop { rate_per_sec } = self.load else { return Vec::new() };
        let period_ns = f64::from(self.clients) / rate_per_sec.max(1e-9) * 1e9;
        let mut first = 0u64;
        shares
            .iter()
            .map(|&k| {
                let timing = RoundTiming::new((first as f64 * period_ns) as u64, (k as f64 * period_ns) as u64);
                first += k;
                timing
            })
            .collect()
    }

    fn client<C: Client, F: FnMut(&mut C) -> Result<()>>(
        &self,
        index: usize,
        shares: &[u64],
        (round_start, round_end): (&Barrier, &Barrier),
        start_cell: &OnceLock<Instant>,
        session: &mut Session<'_, C>,
        call: &mut F,
    ) -> ClientRun {
        let mut outcomes = OutcomeCounter::default();
        let mut rounds = Vec::with_capacity(shares.len());
        let before = session.counters();
        match self.load {
            Load::ClosedLoop => {
                for &share in shares {
                    round_start.wait();
                    let (mut hist, failed) = (LatencyHistogram::new(), outcomes.failures());
                    closed_loop(session, Stop::Requests(share), call, &mut hist, &mut outcomes);
                    round_end.wait();
                    rounds.push((hist, outcomes.failures() - failed));
                }
            }
            Load::OpenLoop { rate_per_sec } => {
                round_start.wait();
                let start = *start_cell.get().expect("set before the round starts");
                // Client i sends requests i, i + n, i + 2n, … of one evenly spaced schedule.
                let n = f64::from(self.clients);
                let period = n / rate_per_sec.max(1e-9);
                let offset = index as f64 / rate_per_sec.max(1e-9);
                let mut k = 0u64;
                for &share in shares {
                    let (mut hist, failed) = (LatencyHistogram::new(), outcomes.failures());
                    for _ in 0..share {
                        if session.guard().stopped() {
                            break;
                        }
                        let intended = start + Duration::from_secs_f64(offset + k as f64 * period);
                        k += 1;
                        let now = Instant::now();
                        if intended > now {
                            std::thread::sleep(intended - now);
                        }
                        if Instant::now().saturating_duration_since(intended) > self.late_threshold {
                            outcomes.late_start();
                        }
                        let r = session.run(call);
                        // From the schedule, not from the send: queueing delay is latency.
                        let latency = intended.elapsed();
                        match r {
                            Ok(()) => {
                                hist.record(latency);
                                outcomes.success();
                            }
                            Err(e) => outcomes.failure(&e.to_string()),
                        }
                    }
                    rounds.push((hist, outcomes.failures() - failed));
                }
                round_end.wait();
            }
        }
        ClientRun { rounds, outcomes, wire: session.counters() - before, end: Instant::now() }
    }
}

struct ClientRun {
    /// Each round's latencies and failures.
    rounds: Vec<(LatencyHistogram, u64)>,
    outcomes: OutcomeCounter,
    wire: WireCounters,
    end: Instant,
}
