//! The statistics an SLA can bound, as one table: each row says how the statistic is
//! spelled on every surface — the `#[rpyc_bench]` option and result key (`p99_ms`), the
//! command's flag (`--p99-ms`), its name in messages (`p99`) — which way its bound goes,
//! and the flag's help. The command builds its flags from the table; the macro crate's
//! own table (a proc-macro cannot read this one) is checked against it by a test there.
//! How each statistic is read off a result is `sla::measure`.

/// Statistics an SLA can bound. Latency bounds are upper bounds in milliseconds (for
/// connection benchmarks they bound the connection time); the `Min*` ones are lower
/// bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stat {
    /// `mean_ms`.
    MeanMs,
    /// `p50_ms`.
    P50Ms,
    /// `p90_ms`.
    P90Ms,
    /// `p95_ms`.
    P95Ms,
    /// `p99_ms`.
    P99Ms,
    /// `p999_ms`.
    P999Ms,
    /// `max_ms`.
    MaxMs,
    /// `min_success_rate` (0 … 1).
    MinSuccessRate,
    /// `min_throughput_rps` (successful requests per second).
    MinThroughputRps,
    /// `min_bandwidth_mbps` (10^6 bytes per second, the slowest size's mean rate).
    MinBandwidthMbps,
    /// `max_round_trips` per measured request (from the wire).
    MaxRoundTrips,
    /// `max_references` received per measured request (from the wire).
    MaxReferences,
}

/// How one statistic is spelled and bounded (see the module documentation).
#[derive(Debug)]
pub struct StatInfo {
    /// The statistic.
    pub stat: Stat,
    /// The `#[rpyc_bench]` option and result key: `p99_ms`.
    pub key: &'static str,
    /// The command's flag, without the dashes: the key with `-` for `_`.
    pub flag: &'static str,
    /// Its name in messages: `p99`.
    pub name: &'static str,
    /// Whether the bound is a minimum (else a maximum).
    pub lower_bound: bool,
    /// The flag's value placeholder: `MS`.
    pub value_name: &'static str,
    /// The flag's help.
    pub help: &'static str,
}

const fn row(
    stat: Stat,
    key: &'static str,
    flag: &'static str,
    name: &'static str,
    lower_bound: bool,
    value_name: &'static str,
    help: &'static str,
) -> StatInfo {
    StatInfo { stat, key, flag, name, lower_bound, value_name, help }
}

/// Every statistic, in the order flags and lists show them.
pub const STATS: [StatInfo; 12] = [
    row(
        Stat::P50Ms,
        "p50_ms",
        "p50-ms",
        "p50",
        false,
        "MS",
        "median latency at most MS milliseconds (for connection: connection time)",
    ),
    row(Stat::P90Ms, "p90_ms", "p90-ms", "p90", false, "MS", "p90 latency at most MS milliseconds"),
    row(Stat::P95Ms, "p95_ms", "p95-ms", "p95", false, "MS", "p95 latency at most MS milliseconds"),
    row(Stat::P99Ms, "p99_ms", "p99-ms", "p99", false, "MS", "p99 latency at most MS milliseconds"),
    row(Stat::P999Ms, "p999_ms", "p999-ms", "p99.9", false, "MS", "p99.9 latency at most MS milliseconds"),
    row(Stat::MaxMs, "max_ms", "max-ms", "max", false, "MS", "slowest request at most MS milliseconds"),
    row(Stat::MeanMs, "mean_ms", "mean-ms", "mean", false, "MS", "mean latency at most MS milliseconds"),
    row(
        Stat::MinSuccessRate,
        "min_success_rate",
        "min-success-rate",
        "success rate",
        true,
        "RATE",
        "at least this fraction of requests succeed, 0 … 1 (without it, every request must)",
    ),
    row(
        Stat::MinThroughputRps,
        "min_throughput_rps",
        "min-throughput-rps",
        "throughput",
        true,
        "RPS",
        "at least this many successful requests per second",
    ),
    row(
        Stat::MinBandwidthMbps,
        "min_bandwidth_mbps",
        "min-bandwidth-mbps",
        "bandwidth",
        true,
        "MBPS",
        "bandwidth of the slowest size at least this many MB/s (10^6 bytes/s)",
    ),
    row(
        Stat::MaxRoundTrips,
        "max_round_trips",
        "max-round-trips",
        "round trips per request",
        false,
        "N",
        "at most this many round trips per request (from the wire counters)",
    ),
    row(
        Stat::MaxReferences,
        "max_references",
        "max-references",
        "references per request",
        false,
        "N",
        "at most this many remote references received per request",
    ),
];

impl Stat {
    /// Its row of [`STATS`].
    pub fn info(self) -> &'static StatInfo {
        // Every variant has a row: `every_statistic_has_one_row` checks it.
        STATS.iter().find(|i| i.stat == self).unwrap_or(&STATS[0])
    }

    /// The statistic whose key (`p99_ms`) is `key`.
    pub fn from_key(key: &str) -> Option<Stat> {
        STATS.iter().find(|i| i.key == key).map(|i| i.stat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statistic_has_one_row_spelled_alike_everywhere() {
        for (i, row) in STATS.iter().enumerate() {
            assert_eq!(row.stat.info().key, row.key, "one row per statistic");
            assert!(STATS[i + 1..].iter().all(|r| r.stat != row.stat && r.key != row.key), "{} twice", row.key);
            assert_eq!(row.flag, row.key.replace('_', "-"), "the flag is the key");
            assert_eq!(Stat::from_key(row.key), Some(row.stat));
            // The variant's name is the key in CamelCase: `min_throughput_rps` is `MinThroughputRps`.
            let camel: String = row.key.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect();
            assert_eq!(format!("{:?}", row.stat), camel);
        }
        // A variant without a row would show as the first row's; the match makes adding
        // a variant fail here until its row is written.
        for stat in STATS.map(|r| r.stat) {
            match stat {
                Stat::MeanMs
                | Stat::P50Ms
                | Stat::P90Ms
                | Stat::P95Ms
                | Stat::P99Ms
                | Stat::P999Ms
                | Stat::MaxMs
                | Stat::MinSuccessRate
                | Stat::MinThroughputRps
                | Stat::MinBandwidthMbps
                | Stat::MaxRoundTrips
                | Stat::MaxReferences => {}
            }
        }
        assert_eq!(STATS.len(), 12);
    }
}
