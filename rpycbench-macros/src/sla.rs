//! SLA options: which statistic each bounds, which kinds measure it, and its valid range.
//!
//! One table drives parsing, the per-kind check and the lists in error messages, so a new
//! statistic is one row here (plus its `Stat` variant in the runtime).

use crate::args::Opt;
use crate::kind::KindName::{self, Bandwidth, Concurrent, Connection, Latency, Transfer};
use syn::{Error, Result};

/// One bound, ready to emit as `Sla { stat: Stat::<stat>, bound }`.
pub(crate) struct Bound {
    pub stat: &'static str,
    pub value: f64,
}

/// The values a statistic's bound may take.
#[derive(Clone, Copy)]
enum Range {
    /// Milliseconds, above 0.
    Millis,
    /// A fraction from 0 to 1.
    Fraction,
    /// Any number above 0.
    Positive,
    /// Any number from 0.
    NonNegative,
}

struct Spec {
    name: &'static str,
    stat: &'static str,
    kinds: &'static [KindName],
    /// What the statistic is, for "does not measure …" messages.
    measures: &'static str,
    range: Range,
    example: &'static str,
}

const ALL: &[KindName] = &[Latency, Connection, Bandwidth, Transfer, Concurrent];

/// Latency statistics exist for every kind: per request, per connection (connection
/// time) or per operation (bandwidth and transfer).
const SPECS: &[Spec] = &[
    latency("mean_ms", "MeanMs", "mean_ms = 2.5"),
    latency("p50_ms", "P50Ms", "p50_ms = 1"),
    latency("p90_ms", "P90Ms", "p90_ms = 5"),
    latency("p95_ms", "P95Ms", "p95_ms = 10"),
    latency("p99_ms", "P99Ms", "p99_ms = 50"),
    latency("p999_ms", "P999Ms", "p999_ms = 100"),
    latency("max_ms", "MaxMs", "max_ms = 500"),
    Spec {
        name: "min_success_rate",
        stat: "MinSuccessRate",
        kinds: ALL,
        measures: "success rate",
        range: Range::Fraction,
        example: "min_success_rate = 0.99",
    },
    Spec {
        name: "min_throughput_rps",
        stat: "MinThroughputRps",
        kinds: &[Latency, Concurrent],
        measures: "throughput in requests per second",
        range: Range::Positive,
        example: "min_throughput_rps = 1000",
    },
    Spec {
        name: "min_bandwidth_mbps",
        stat: "MinBandwidthMbps",
        kinds: &[Bandwidth, Transfer],
        measures: "bandwidth",
        range: Range::Positive,
        example: "min_bandwidth_mbps = 100",
    },
    Spec {
        name: "max_round_trips",
        stat: "MaxRoundTrips",
        kinds: &[Latency, Concurrent],
        measures: "round trips per request",
        range: Range::NonNegative,
        example: "max_round_trips = 1",
    },
    Spec {
        name: "max_references",
        stat: "MaxReferences",
        kinds: &[Latency, Concurrent],
        measures: "references received per request",
        range: Range::NonNegative,
        example: "max_references = 0",
    },
];

const fn latency(name: &'static str, stat: &'static str, example: &'static str) -> Spec {
    Spec { name, stat, kinds: ALL, measures: "latency", range: Range::Millis, example }
}

/// Whether `name` is an SLA option of any kind.
pub(crate) fn is_sla(name: &str) -> bool {
    SPECS.iter().any(|s| s.name == name)
}

/// The SLA options a kind allows, in table order.
pub(crate) fn allowed(kind: KindName) -> Vec<&'static str> {
    SPECS.iter().filter(|s| s.kinds.contains(&kind)).map(|s| s.name).collect()
}

/// Reads an SLA option (`is_sla` holds) of a benchmark of `kind`.
pub(crate) fn parse(opt: &Opt, kind: KindName) -> Result<Bound> {
    let key = opt.key();
    let spec = SPECS.iter().find(|s| s.name == key).expect("validate checks `is_sla` first");
    if !spec.kinds.contains(&kind) {
        let producers: Vec<_> = spec.kinds.iter().map(|k| k.name()).collect();
        let msg = format!(
            "a {kind} benchmark does not measure {measures}, so `{key}` cannot bound it \
             (only {producers} benchmarks do); SLAs a {kind} benchmark allows: {allowed}",
            kind = kind.name(),
            measures = spec.measures,
            producers = producers.join(" and "),
            allowed = allowed(kind).join(", "),
        );
        return Err(Error::new(opt.name.span(), msg));
    }
    let value = opt.number(spec.example)?;
    let valid = match spec.range {
        Range::Millis | Range::Positive => value > 0.0,
        Range::Fraction => (0.0..=1.0).contains(&value),
        Range::NonNegative => value >= 0.0,
    };
    if !valid {
        let rule = match spec.range {
            Range::Millis => "is in milliseconds and must be above 0",
            Range::Fraction => "is a fraction from 0 to 1 (0.99 means 99 % of requests succeed)",
            Range::Positive => "must be above 0",
            Range::NonNegative => "cannot be negative",
        };
        return Err(Error::new_spanned(&opt.value, format!("`{key}` {rule}, e.g. `{}`", spec.example)));
    }
    Ok(Bound { stat: spec.stat, value })
}

#[cfg(test)]
mod tests {
    use super::SPECS;

    /// A proc-macro crate cannot read the runtime's statistics table, so it keeps its own
    /// (with what only the macro needs: kinds, ranges, examples); this keeps the two one
    /// table: the same statistics, each under the same option and variant.
    #[test]
    fn the_options_are_the_runtimes_statistics() {
        let runtime = rpycbench::metrics::sla::STATS;
        assert_eq!(SPECS.len(), runtime.len(), "one option per statistic");
        for row in &runtime {
            let spec = SPECS.iter().find(|s| s.name == row.key);
            let spec = spec.unwrap_or_else(|| panic!("no `{}` option for Stat::{:?}", row.key, row.stat));
            assert_eq!(spec.stat, format!("{:?}", row.stat), "`{}` emits the wrong variant", row.key);
        }
    }
}
