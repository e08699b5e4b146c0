//! Concurrent: many clients, each with its own connection, closed or open loop.

use super::run::{closed_loop, Measurement, Parts, Session, Stop};
use super::{Client, Target};
use crate::client::WireCounters;
use crate::error::Result;
use crate::metrics::{BenchKind, BenchResult, ClientResult, LatencyHistogram, LoadModel, OutcomeCounter};
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
#[derive(Clone, Debug)]
pub struct Concurrent {
    name: String,
    clients: u32,
    requests_per_client: u64,
    warmup_per_client: u64,
    load: Load,
    late_threshold: Duration,
    per_client: bool,
    system: bool,
}

impl Concurrent {
    /// 10 clients × 100 requests, closed loop.
    pub fn new(name: impl Into<String>) -> Self {
        Concurrent {
            name: name.into(),
            clients: 10,
            requests_per_client: 100,
            warmup_per_client: 2,
            load: Load::ClosedLoop,
            late_threshold: Duration::from_millis(1),
            per_client: false,
            system: true,
        }
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

    /// Whether to sample CPU and memory during the run (default on).
    pub fn sample_system(mut self, on: bool) -> Self {
        self.system = on;
        self
    }

    /// Runs `f` as every client's request.
    pub fn run<C: Client, F: Fn(&mut C) -> Result<()> + Sync>(&self, target: &Target<C>, f: F) -> BenchResult {
        let n = self.clients as usize;
        // Two barriers: everyone connected, then everyone has the common start time.
        let connected = Barrier::new(n + 1);
        let go = Barrier::new(n + 1);
        let start_cell: OnceLock<Instant> = OnceLock::new();
        let mut m = Measurement::start(target, self.system);
        let ends = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    let (f, connected, go, start_cell) = (&f, &connected, &go, &start_cell);
                    s.spawn(move || {
                        let mut session = Session::new(target);
                        let mut call = |c: &mut C| f(c);
                        session.ready();
                        if session.is_open() {
                            for _ in 0..self.warmup_per_client {
                                let _ = session.run(&mut call);
                            }
                        }
                        connected.wait();
                        go.wait();
                        let start = *start_cell.get().expect("set between the barriers");
                        let client = self.client(i, start, &mut session, &mut call);
                        session.close();
                        client
                    })
                })
                .collect();
            connected.wait();
            // Sampling and the clock start once every client is ready.
            let _ = start_cell.set(Instant::now());
            go.wait();
            handles.into_iter().map(|h| h.join().expect("client threads do not panic")).collect::<Vec<_>>()
        });
        let start = *start_cell.get().expect("set above");
        m.param("clients", self.clients);
        m.param("requests_per_client", self.requests_per_client);
        m.param("warmup_per_client", self.warmup_per_client);
        let mut parts = Parts::default();
        let mut hist = LatencyHistogram::new();
        let mut wire = WireCounters::default();
        let mut clients = Vec::new();
        let mut last_end = start;
        for (i, c) in ends.into_iter().enumerate() {
            hist.merge(&c.hist);
            parts.outcomes.merge(&c.outcomes);
            wire = wire + c.wire;
            last_end = last_end.max(c.end);
            if self.per_client {
                clients.push(ClientResult {
                    client: i as u32,
                    outcomes: c.outcomes.outcomes(),
                    latency: c.hist.stats(),
                });
            }
        }
        parts.wall = Some(last_end - start);
        parts.latency = Some(hist.stats());
        parts.wire = C::COUNTS_WIRE.then(|| (wire, parts.outcomes.attempts()));
        parts.clients = self.per_client.then_some(clients);
        parts.load_model = Some(match self.load {
            Load::ClosedLoop => LoadModel::ClosedLoop,
            Load::OpenLoop { rate_per_sec } => {
                LoadModel::OpenLoop { rate_per_sec, late_threshold_ns: self.late_threshold.as_nanos() as u64 }
            }
        });
        m.finish(&self.name, BenchKind::Concurrent, parts)
    }

    fn client<C: Client, F: FnMut(&mut C) -> Result<()>>(
        &self,
        index: usize,
        start: Instant,
        session: &mut Session<'_, C>,
        call: &mut F,
    ) -> ClientRun {
        let mut hist = LatencyHistogram::new();
        let mut outcomes = OutcomeCounter::default();
        let before = session.counters();
        match self.load {
            Load::ClosedLoop => {
                closed_loop(session, Stop::Requests(self.requests_per_client), call, &mut hist, &mut outcomes);
            }
            Load::OpenLoop { rate_per_sec } => {
                // Client i sends requests i, i + n, i + 2n, … of one evenly spaced schedule.
                let n = f64::from(self.clients);
                let period = n / rate_per_sec.max(1e-9);
                let offset = index as f64 / rate_per_sec.max(1e-9);
                for k in 0..self.requests_per_client {
                    let intended = start + Duration::from_secs_f64(offset + k as f64 * period);
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
            }
        }
        ClientRun { hist, outcomes, wire: session.counters() - before, end: Instant::now() }
    }
}

struct ClientRun {
    hist: LatencyHistogram,
    outcomes: OutcomeCounter,
    wire: WireCounters,
    end: Instant,
}
