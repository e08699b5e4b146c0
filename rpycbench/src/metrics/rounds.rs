//! Rounds: a benchmark runs its requests as several rounds spread over its run time, and
//! keeps each round's figures beside the merged distribution.
//!
//! # Why rounds
//!
//! The requests of one run share the machine's state at that moment: other jobs'
//! load, CPU frequency, where the scheduler put each thread. Requests are therefore not
//! independent, and an interval built by resampling them measures only the spread
//! *within* one moment; it calls run-to-run noise a regression. Rounds are the unit of
//! replication instead: the machine's state varies between them as it varies between
//! runs, so the spread of round medians carries that noise into every comparison (see
//! [`compare`](super::compare)).

use super::latency::LatencyHistogram;
use serde::{Deserialize, Serialize};

/// Rounds a benchmark runs unless told otherwise: enough for a between-round interval
/// with 18 degrees of freedom between two runs, few enough that each round still holds
/// a stable median.
pub const DEFAULT_ROUNDS: u32 = 10;

/// One round's figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoundSummary {
    /// When the round started, from the start of the measured part.
    pub started_ns: u64,
    /// How long the round took.
    pub wall_ns: u64,
    /// Successful requests (values recorded).
    pub count: u64,
    /// Failed requests.
    pub failures: u64,
    /// Median latency of the round's successful requests.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Mean.
    pub mean_ns: u64,
}

impl RoundSummary {
    /// The summary of a round's distribution.
    pub fn of(hist: &LatencyHistogram, started_ns: u64, wall_ns: u64, failures: u64) -> RoundSummary {
        let s = hist.stats();
        RoundSummary {
            started_ns,
            wall_ns,
            count: s.count,
            failures,
            p50_ns: s.p50_ns,
            p99_ns: s.p99_ns,
            mean_ns: s.mean_ns,
        }
    }
}

/// How a run's requests are split into rounds: `total` requests in `rounds` rounds, the
/// first rounds taking one more when it does not divide.
pub fn split(total: u64, rounds: u32) -> impl Iterator<Item = u64> {
    let rounds = u64::from(rounds.max(1)).min(total.max(1));
    (0..rounds).map(move |i| total / rounds + u64::from(i < total % rounds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_adds_up_and_differs_by_at_most_one() {
        for (total, rounds) in [(1000, 10), (1003, 10), (7, 10), (0, 10), (5, 1), (10, 0)] {
            let parts: Vec<u64> = split(total, rounds).collect();
            assert_eq!(parts.iter().sum::<u64>(), total, "{total} in {rounds}");
            let (lo, hi) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
            assert!(hi - lo <= 1, "{parts:?}");
        }
    }
}
