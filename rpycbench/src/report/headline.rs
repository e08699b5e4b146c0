//! The suite's headline: how the servers compare, in one line per pair, as ratios of
//! their median latencies with 95 % intervals.
//!
//! The interval is the one regression verdicts use ([`RatioInterval::between_rounds`],
//! Welch's t on the logarithms of the round medians), whose coverage with run-to-run
//! noise included is tested in `metrics::compare::coverage`: each server's rounds are
//! spread over its run, so the machine's drift while the servers took turns widens the
//! interval instead of hiding in it.

use super::sweep::{name_prefix, sweep_point};
use crate::metrics::compare::RatioInterval;
use crate::metrics::{significant, BenchKind, BenchResult, LatencyStats, ResultSet};

/// The pairs a headline compares, first server against second, with what the pair means.
const PAIRS: [(&str, &str, &str); 4] = [
    ("threaded", "http", "RPyC against HTTP"),
    ("threaded", "forking", "threaded against forking"),
    ("python-threaded", "threaded", "Python's rpyc against the native server"),
    ("python-threaded", "python-forking", "Python threaded against forking"),
];

/// The kinds whose latency a headline compares, with the word it uses for each.
const KINDS: [(BenchKind, &str); 3] =
    [(BenchKind::Latency, "latency"), (BenchKind::Connection, "connect"), (BenchKind::Concurrent, "concurrent")];

/// How to read a headline, said under it.
pub const HEADLINE_KEY: &str = "× = the first server's median latency over the second's, below 1 is faster; \
                                [95 % interval] from the medians of each run's rounds";

/// One pair of servers compared: `threaded vs http (RPyC against HTTP)` and its ratios,
/// `latency 0.912× [0.861, 0.966]`, `connect 0.80× [0.71, 0.90]`, ….
#[derive(Clone, Debug, PartialEq)]
pub struct HeadlinePair {
    /// Which servers, and what comparing them means.
    pub pair: String,
    /// One ratio per kind both ran.
    pub ratios: Vec<String>,
}

impl std::fmt::Display for HeadlinePair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.pair, self.ratios.join(" · "))
    }
}

/// Each pair of servers present in `results` (see [`HEADLINE_KEY`] for how to read
/// it); empty when no pair ran.
pub fn headline(results: &ResultSet) -> Vec<HeadlinePair> {
    let mut pairs = Vec::new();
    for (first, second, meaning) in PAIRS {
        let ratios: Vec<String> = KINDS
            .iter()
            .filter_map(|(kind, word)| {
                let (a, b) = (find(results, first, *kind)?, find(results, second, *kind)?);
                Some(format!("{word} {}", describe(a, b)?))
            })
            .collect();
        if !ratios.is_empty() {
            pairs.push(HeadlinePair { pair: format!("{first} vs {second} ({meaning})"), ratios });
        }
    }
    pairs
}

/// The plain (not swept) result of `kind` against `mode`.
fn find<'a>(results: &'a ResultSet, mode: &str, kind: BenchKind) -> Option<&'a LatencyStats> {
    let found = results.results.iter().filter(|r: &&BenchResult| {
        r.server.mode == mode && r.kind == kind && sweep_point(r).is_none() && name_prefix(&r.name) == kind.name()
    });
    found.filter_map(|r| r.latency.as_ref()).find(|l| l.count > 0)
}

/// `a`'s median over `b`'s, with its interval when both ran in rounds.
fn describe(a: &LatencyStats, b: &LatencyStats) -> Option<String> {
    let medians = |s: &LatencyStats| s.rounds.iter().filter(|r| r.count > 0).map(|r| r.p50_ns).collect::<Vec<_>>();
    match RatioInterval::between_rounds(&medians(b), &medians(a)) {
        Some(ci) => Some(format_ratio(&ci)),
        None if b.p50_ns > 0 => {
            Some(format!("{}× (no rounds: no interval)", significant(a.p50_ns as f64 / b.p50_ns as f64, 3)))
        }
        None => None,
    }
}

/// `0.912× [0.861, 0.966]`.
fn format_ratio(ci: &RatioInterval) -> String {
    let f = |x: f64| significant(x, 3);
    format!("{}× [{}, {}]", f(ci.ratio), f(ci.lower), f(ci.upper))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare::Method;

    #[test]
    fn a_ratio_reads_with_its_interval() {
        let ci =
            RatioInterval { ratio: 0.9123, lower: 0.8611, upper: 0.9664, method: Method::Rounds { old: 5, new: 5 } };
        assert_eq!(format_ratio(&ci), "0.912× [0.861, 0.966]");
        let ci = RatioInterval { ratio: 12.46, lower: 9.0, upper: 17.2, method: Method::Rounds { old: 5, new: 5 } };
        assert_eq!(format_ratio(&ci), "12.5× [9.00, 17.2]");
    }

    #[test]
    fn no_pair_no_headline() {
        assert!(headline(&ResultSet::new()).is_empty());
    }
}
