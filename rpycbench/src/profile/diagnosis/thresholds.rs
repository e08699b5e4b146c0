//! Every threshold of the diagnosis, with its default and why it is what it is.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The thresholds the findings compare measurements with. Every field has a documented
/// default; a JSON file may set any subset (`Thresholds::load`), unknown keys are errors
/// so a misspelt setting is not silently ignored.
///
/// CPU figures are percent of **one core** (200 = two cores busy), as in
/// [`ProcessStats`](crate::metrics::ProcessStats); the predecessor compared
/// whole-machine percentages, which hide a server pinned at one core of many.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// `server_exhaustion` when `successes / attempts` is below this. Default 0.95.
    pub min_success_rate: f64,
    /// `severe_contention` when p99/p50 is above this. Default 10.
    pub severe_tail_ratio: f64,
    /// Findings that read the tail (p99) need at least this many successful requests:
    /// with fewer, p99 is just the maximum. Default 100.
    pub min_tail_samples: u64,
    /// CPU figures of runs shorter than this (wall time, ms) are ignored: the kernel
    /// counts CPU time in 10 ms ticks, so a 20 ms run reads 0 % or 100 %. Default 200.
    pub min_cpu_window_ms: f64,
    /// `gil_contention`: the threaded server's CPU must be at least this (percent of one
    /// core). Default 70.
    pub gil_cpu_min_percent: f64,
    /// `gil_contention`: … and at most this. Default 130 (a little above one core: socket
    /// I/O runs outside the GIL).
    pub gil_cpu_max_percent: f64,
    /// `gil_contention`: the threaded server's p99 over the forking server's p99, same
    /// load, must be at least this. Default 1.5. The threaded run's own p99/p50 says
    /// nothing here: under a closed loop of equal CPU requests every request waits for
    /// the GIL alike, so p99 ≈ p50 — the lock shows as *every* request being slower than
    /// on the forking server (on 2 cores, about twice as slow).
    pub gil_min_tail_ratio: f64,
    /// `gil_contention`: forking throughput / threaded throughput must be at least this.
    /// Default 1.3.
    pub gil_min_throughput_gain: f64,
    /// `server_at_capacity` when server CPU ≥ this fraction of `cores × 100 %`.
    /// Default 0.85.
    pub capacity_cpu_fraction: f64,
    /// `machine_saturated` when server + client CPU ≥ this fraction of `cores × 100 %`.
    /// Default 0.9.
    pub machine_cpu_fraction: f64,
    /// "Low CPU" (`io_bound`, `network_latency`): below this percent of one core.
    /// Default 30.
    pub low_cpu_percent: f64,
    /// `io_bound` when the median latency is at least this, ms. Default 10 (the
    /// predecessor's 100 ms p99 calls a 20 ms database wait "network latency").
    pub io_latency_ms: f64,
    /// `io_bound` only when the median is at least this multiple of what the network
    /// explains (network floor per round trip × round trips per operation). Default 3.
    pub io_over_network_factor: f64,
    /// `network_latency` when the fastest request measured against a server, per round
    /// trip, took at least this, ms. Default 1 (loopback is ~0.05 ms, a LAN ~0.2 ms).
    pub network_floor_ms: f64,
    /// `excessive_round_trips` when round trips per operation are above this. Default 3.
    pub max_round_trips_per_op: f64,
    /// `reference_overhead` needs at least this many data references (objects, dicts,
    /// lists, iterators; a Python client's bound methods not counted) received per
    /// operation. Default 1: one returned dict read key by key is already the problem.
    pub min_references_per_op: f64,
    /// `reference_overhead` also needs more round trips per operation than this, i.e.
    /// round trips paid through the references. Default 1: the call itself; a reference
    /// that is only held or passed back costs no further round trip.
    pub reference_round_trips_per_op: f64,
    /// The round-trip finding advises binding methods once (`f = conn.root.f`) when
    /// bound-method lookups (GETATTR of `conn.root.f`) are at least this share of the
    /// round trips. Default 0.1.
    pub min_method_lookup_share: f64,
    /// `deep_nesting` when nested requests go deeper than this (0 is a plain request,
    /// 1 a callback from the server during it, 2 the client calling the server again in
    /// that callback, …; `nested(5, callback)` is 5). Default 3.
    pub max_nesting_depth: u32,
    /// `delayed_ack_stall` when at least this share of a run's requests cluster just
    /// above the delayed-ACK timeout (40 ms on Linux, 200 ms elsewhere) while its fastest
    /// request is far below it. Default 0.05: one request in twenty losing 40 ms is
    /// already most of the run's time.
    pub stall_min_share: f64,
    /// `concurrency_limit` when the requests served at once (throughput × unqueued
    /// service time, Little's law) are at most this fraction of a closed loop's clients.
    /// Default 0.5: half the clients waiting at any time.
    pub max_served_fraction: f64,
    /// `concurrency_limit` also needs the median request to take at least this many
    /// service times (it waits in line). Default 3.
    pub min_queue_factor: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_success_rate: 0.95,
            severe_tail_ratio: 10.0,
            min_tail_samples: 100,
            min_cpu_window_ms: crate::metrics::MIN_SERVER_CPU_WINDOW.as_secs_f64() * 1e3,
            gil_cpu_min_percent: 70.0,
            gil_cpu_max_percent: 130.0,
            gil_min_tail_ratio: 1.5,
            gil_min_throughput_gain: 1.3,
            capacity_cpu_fraction: 0.85,
            machine_cpu_fraction: 0.9,
            low_cpu_percent: 30.0,
            io_latency_ms: 10.0,
            io_over_network_factor: 3.0,
            network_floor_ms: 1.0,
            max_round_trips_per_op: 3.0,
            min_references_per_op: 1.0,
            reference_round_trips_per_op: 1.0,
            min_method_lookup_share: 0.1,
            max_nesting_depth: 3,
            stall_min_share: 0.05,
            max_served_fraction: 0.5,
            min_queue_factor: 3.0,
        }
    }
}

/// Why thresholds could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThresholdsError {
    /// The file could not be read.
    #[error("cannot read thresholds file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON of this shape (an unknown key is an error too).
    #[error("thresholds file {path} is invalid: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A value is out of its range.
    #[error("threshold {setting} = {value} is out of range: {expected}")]
    OutOfRange {
        /// The field.
        setting: &'static str,
        /// Its value.
        value: f64,
        /// What it must be.
        expected: &'static str,
    },
}

impl Thresholds {
    /// Reads thresholds from a JSON object; missing keys keep their defaults.
    pub fn load(path: &Path) -> Result<Thresholds, ThresholdsError> {
        let shown = path.display().to_string();
        let text =
            crate::metrics::read_input(path).map_err(|source| ThresholdsError::Io { path: shown.clone(), source })?;
        Self::from_json(&text, &shown)
    }

    /// Parses and checks thresholds from JSON text (`origin` names it in errors).
    pub fn from_json(text: &str, origin: &str) -> Result<Thresholds, ThresholdsError> {
        let t: Thresholds = serde_json::from_str(text)
            .map_err(|e| ThresholdsError::Parse { path: origin.to_owned(), reason: e.to_string() })?;
        t.validate()?;
        Ok(t)
    }

    /// Checks every value is in its range (finite, fractions within 0..=1, bands ordered).
    pub fn validate(&self) -> Result<(), ThresholdsError> {
        let out = |setting, value, expected| Err(ThresholdsError::OutOfRange { setting, value, expected });
        let fractions = [
            ("min_success_rate", self.min_success_rate),
            ("capacity_cpu_fraction", self.capacity_cpu_fraction),
            ("machine_cpu_fraction", self.machine_cpu_fraction),
            ("min_method_lookup_share", self.min_method_lookup_share),
            ("stall_min_share", self.stall_min_share),
            ("max_served_fraction", self.max_served_fraction),
        ];
        for (setting, value) in fractions {
            if !(0.0..=1.0).contains(&value) {
                return out(setting, value, "a fraction between 0 and 1");
            }
        }
        let non_negative = [
            ("severe_tail_ratio", self.severe_tail_ratio),
            ("min_cpu_window_ms", self.min_cpu_window_ms),
            ("gil_cpu_min_percent", self.gil_cpu_min_percent),
            ("gil_cpu_max_percent", self.gil_cpu_max_percent),
            ("gil_min_tail_ratio", self.gil_min_tail_ratio),
            ("gil_min_throughput_gain", self.gil_min_throughput_gain),
            ("low_cpu_percent", self.low_cpu_percent),
            ("io_latency_ms", self.io_latency_ms),
            ("io_over_network_factor", self.io_over_network_factor),
            ("network_floor_ms", self.network_floor_ms),
            ("max_round_trips_per_op", self.max_round_trips_per_op),
            ("min_references_per_op", self.min_references_per_op),
            ("reference_round_trips_per_op", self.reference_round_trips_per_op),
            ("min_queue_factor", self.min_queue_factor),
        ];
        for (setting, value) in non_negative {
            if !(value.is_finite() && value >= 0.0) {
                return out(setting, value, "a finite number ≥ 0");
            }
        }
        if self.gil_cpu_min_percent > self.gil_cpu_max_percent {
            return out("gil_cpu_min_percent", self.gil_cpu_min_percent, "at most gil_cpu_max_percent");
        }
        Ok(())
    }
}
