//! Connection: time to a usable connection.

use super::guard::Guard;
use super::run::{Measurement, Parts, RoundedSeries, Rounds};
use super::{Client, Target};
use crate::metrics::{rounds, BenchKind, BenchResult, LatencyHistogram, DEFAULT_ROUNDS};
use std::time::{Duration, Instant};

/// Time to a usable connection: TCP connect plus the first round trip (GETROOT), so a
/// forking server's accept-and-fork cost is included. Each connection is closed after
/// it is measured (closing is not timed), or kept open with
/// [`keep_open`](Self::keep_open) to see how many connections the server can hold.
///
/// A Python client's `rpyc.connect()` + `conn.root` costs one more round trip (an
/// INSPECT of the root); this measures what any client must pay.
#[derive(Clone, Debug)]
pub struct ConnectionBench {
    name: String,
    connections: u64,
    keep_open: bool,
    rounds: u32,
    reference: bool,
    system: bool,
    deadline: Option<Duration>,
}

impl ConnectionBench {
    /// Connections opened unless [`connections`](Self::connections) says otherwise.
    pub const DEFAULT_CONNECTIONS: u64 = 100;

    /// 100 connections, each closed after measurement.
    pub fn new(name: impl Into<String>) -> Self {
        ConnectionBench {
            name: name.into(),
            connections: Self::DEFAULT_CONNECTIONS,
            keep_open: false,
            rounds: DEFAULT_ROUNDS,
            reference: true,
            system: true,
            deadline: None,
        }
    }

    /// Rounds to split the connections into.
    pub fn rounds(mut self, n: u32) -> Self {
        self.rounds = n.max(1);
        self
    }

    /// Whether to time the machine reference before, between and after the rounds.
    pub fn machine_reference(mut self, on: bool) -> Self {
        self.reference = on;
        self
    }

    /// How many connections to open, one after another.
    pub fn connections(mut self, n: u64) -> Self {
        self.connections = n;
        self
    }

    /// Keep every connection open until the end (a capacity test).
    pub fn keep_open(mut self, keep: bool) -> Self {
        self.keep_open = keep;
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

    /// Runs the benchmark.
    pub fn run<C: Client>(&self, target: &Target<C>) -> BenchResult {
        let guard = Guard::new(target, self.deadline);
        let mut m = Measurement::start(target, self.system);
        m.param("connections", self.connections);
        m.param("keep_open", self.keep_open);
        m.param("rounds", self.rounds);
        let mut parts = Parts::default();
        let mut series = RoundedSeries::default();
        let mut held: Vec<C> = Vec::new();
        let mut rounds = Rounds::start(self.rounds, self.reference, target.reply_poll()).watched_by(&guard);
        for share in rounds::split(self.connections, rounds.count()).collect::<Vec<_>>() {
            let (mut hist, failed) = (LatencyHistogram::new(), parts.outcomes.failures());
            let ((), timing) = rounds.round(|| {
                for _ in 0..share {
                    if guard.stopped() {
                        break;
                    }
                    let t0 = Instant::now();
                    let opened = target.connect().and_then(|mut c| c.first_round_trip().map(|()| c));
                    let elapsed = t0.elapsed();
                    match opened {
                        Ok(mut conn) => {
                            guard.answered();
                            hist.record(elapsed);
                            parts.outcomes.success();
                            if self.keep_open {
                                held.push(conn);
                            } else {
                                conn.disconnect();
                            }
                        }
                        Err(e) => {
                            guard.failed(&e);
                            parts.outcomes.failure(&e.to_string());
                        }
                    }
                }
            });
            series.add(&hist, timing, parts.outcomes.failures() - failed);
        }
        let (wall, machine) = rounds.finish();
        (parts.wall, parts.machine) = (Some(wall), machine);
        // Connections still held at the end show the server kept them all alive.
        let alive = held.iter_mut().map(|c| c.check_alive().is_ok()).filter(|ok| *ok).count();
        m.param("held_alive", alive);
        for mut c in held {
            c.disconnect();
        }
        parts.latency = Some(series.stats());
        parts.ended_early = guard.ended();
        m.finish(&self.name, BenchKind::Connection, parts)
    }
}
