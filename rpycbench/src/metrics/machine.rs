//! A reference of known cost, timed beside every benchmark, so that a comparison can
//! tell how far the machine moved between two runs.
//!
//! Measured before, between and after the rounds: raw loopback TCP round trips of a
//! 64-byte message to echo processes pinned to another CPU and to the measuring
//! thread's own (what a request pays for crossing CPUs, and for not crossing them), and
//! a fixed CPU loop in the benchmark process; over the whole run, how much CPU the rest
//! of the machine used. A request's cost depends on whether client and server share a
//! CPU, which the scheduler decides by the machine's load: the reference tells a
//! comparison how much that can move a result, and whether the load differed.

use serde::{Deserialize, Serialize};

/// The machine's reference figures of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MachineReference {
    /// One entry per measurement: before the first round, after each round.
    pub measurements: Vec<ReferenceMeasurement>,
    /// How long the client polled for each reply before blocking (0: it blocks at once).
    pub reply_poll_ns: u64,
    /// CPU the rest of the machine used during the rounds, in percent of one core:
    /// everything but the benchmark's own process (a server on this machine included).
    /// Another job's busy loop adds 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_load_pct: Option<f64>,
}

/// One measurement of the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReferenceMeasurement {
    /// Median loopback TCP round trip of a 64-byte message to an echo process pinned to
    /// another CPU than the measuring thread; absent on one CPU or when the echo failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loopback_rtt_ns: Option<u64>,
    /// The same to an echo process pinned to the measuring thread's own CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_cpu_rtt_ns: Option<u64>,
    /// Time of a fixed CPU loop (a million rounds of integer mixing).
    pub cpu_loop_ns: u64,
}

impl MachineReference {
    /// The median of the round-trip measurements.
    pub fn loopback_rtt(&self) -> Option<u64> {
        median(self.measurements.iter().filter_map(|m| m.loopback_rtt_ns))
    }

    /// The median of the same-CPU round trips.
    pub fn same_cpu_rtt(&self) -> Option<u64> {
        median(self.measurements.iter().filter_map(|m| m.same_cpu_rtt_ns))
    }

    /// What a round trip costs more when its two ends run on two CPUs than on one: the
    /// most a change of placement can move one round trip of a request.
    pub fn placement_cost(&self) -> Option<u64> {
        Some(self.loopback_rtt()?.saturating_sub(self.same_cpu_rtt()?))
    }

    /// The median of the CPU loop measurements.
    pub fn cpu_loop(&self) -> Option<u64> {
        median(self.measurements.iter().map(|m| m.cpu_loop_ns))
    }
}

fn median(values: impl Iterator<Item = u64>) -> Option<u64> {
    let mut v: Vec<u64> = values.filter(|x| *x > 0).collect();
    v.sort_unstable();
    (!v.is_empty()).then(|| v[(v.len() - 1) / 2])
}
