//! Connection: time to a usable connection.

use super::run::{Measurement, Parts};
use super::{Client, Target};
use crate::metrics::{BenchKind, BenchResult, LatencyHistogram};
use std::time::Instant;

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
    system: bool,
}

impl ConnectionBench {
    /// 100 connections, each closed after measurement.
    pub fn new(name: impl Into<String>) -> Self {
        ConnectionBench { name: name.into(), connections: 100, keep_open: false, system: true }
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

    /// Whether to sample CPU and memory during the run (default on).
    pub fn sample_system(mut self, on: bool) -> Self {
        self.system = on;
        self
    }

    /// Runs the benchmark.
    pub fn run<C: Client>(&self, target: &Target<C>) -> BenchResult {
        let mut m = Measurement::start(target, self.system);
        m.param("connections", self.connections);
        m.param("keep_open", self.keep_open);
        let mut parts = Parts::default();
        let mut hist = LatencyHistogram::new();
        let mut held: Vec<C> = Vec::new();
        let start = Instant::now();
        for _ in 0..self.connections {
            let t0 = Instant::now();
            let opened = target.connect().and_then(|mut c| c.first_round_trip().map(|()| c));
            let elapsed = t0.elapsed();
            match opened {
                Ok(mut conn) => {
                    hist.record(elapsed);
                    parts.outcomes.success();
                    if self.keep_open {
                        held.push(conn);
                    } else {
                        conn.disconnect();
                    }
                }
                Err(e) => parts.outcomes.failure(&e.to_string()),
            }
        }
        parts.wall = Some(start.elapsed());
        // Connections still held at the end show the server kept them all alive.
        let alive = held.iter_mut().map(|c| c.check_alive().is_ok()).filter(|ok| *ok).count();
        m.param("held_alive", alive);
        for mut c in held {
            c.disconnect();
        }
        parts.latency = Some(hist.stats());
        m.finish(&self.name, BenchKind::Connection, parts)
    }
}
