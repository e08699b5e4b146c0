//! SLA bounds from the command line, checked with the harness's own evaluation so a
//! bound means the same in `#[rpyc_bench(p99_ms = …)]` and in `--p99-ms`.

use crate::harness::{evaluate, format_value, is_lower_bound, stat_name, Sla, SlaCheck, Stat};
use crate::metrics::BenchResult;
use clap::Args;

/// `--p99-ms 100 --min-success-rate 0.99 …`: every bound is optional.
#[derive(Debug, Args, Default)]
pub(crate) struct SlaFlags {
    /// SLA: median latency at most MS milliseconds (for connection: connection time).
    #[arg(long, value_name = "MS", help_heading = "SLA (exit 10 when violated)")]
    p50_ms: Option<f64>,
    /// SLA: p90 latency at most MS milliseconds.
    #[arg(long, value_name = "MS", help_heading = "SLA (exit 10 when violated)")]
    p90_ms: Option<f64>,
    /// SLA: p95 latency at most MS milliseconds.
    #[arg(long, value_name = "MS", help_heading = "SLA (exit 10 when violated)")]
    p95_ms: Option<f64>,
    /// SLA: p99 latency at most MS milliseconds.
    #[arg(long, value_name = "MS", help_heading = "SLA (exit 10 when violated)")]
    p99_ms: Option<f64>,
    /// SLA: p99.9 latency at most MS milliseconds.
    #[arg(long, value_name = "MS", help_heading = "SLA (exit 10 when violated)")]
    p999_ms: Option<f64>,
    /// SLA: slowest request at most MS milliseconds.
    #[arg(long, value_name = "MS", help_heading = "SLA (exit 10 when violated)")]
    max_ms: Option<f64>,
    /// SLA: mean latency at most MS milliseconds.
    #[arg(long, value_name = "MS", help_heading = "SLA (exit 10 when violated)")]
    mean_ms: Option<f64>,
    /// SLA: at least this fraction of requests succeed, 0 … 1 (without it, every request must).
    #[arg(long, value_name = "RATE", help_heading = "SLA (exit 10 when violated)")]
    min_success_rate: Option<f64>,
    /// SLA: at least this many successful requests per second.
    #[arg(long, value_name = "RPS", help_heading = "SLA (exit 10 when violated)")]
    min_throughput: Option<f64>,
    /// SLA: bandwidth of the slowest size at least this many MB/s (10^6 bytes/s).
    #[arg(long, value_name = "MBPS", help_heading = "SLA (exit 10 when violated)")]
    min_bandwidth_mbps: Option<f64>,
    /// SLA: at most this many round trips per request (from the wire counters).
    #[arg(long, value_name = "N", help_heading = "SLA (exit 10 when violated)")]
    max_round_trips: Option<f64>,
    /// SLA: at most this many remote references received per request.
    #[arg(long, value_name = "N", help_heading = "SLA (exit 10 when violated)")]
    max_references: Option<f64>,
}

impl SlaFlags {
    /// The declared bounds, checked for sense.
    pub(crate) fn slas(&self) -> Result<Vec<Sla>, String> {
        let flags = [
            ("--p50-ms", Stat::P50Ms, self.p50_ms),
            ("--p90-ms", Stat::P90Ms, self.p90_ms),
            ("--p95-ms", Stat::P95Ms, self.p95_ms),
            ("--p99-ms", Stat::P99Ms, self.p99_ms),
            ("--p999-ms", Stat::P999Ms, self.p999_ms),
            ("--max-ms", Stat::MaxMs, self.max_ms),
            ("--mean-ms", Stat::MeanMs, self.mean_ms),
            ("--min-success-rate", Stat::MinSuccessRate, self.min_success_rate),
            ("--min-throughput", Stat::MinThroughputRps, self.min_throughput),
            ("--min-bandwidth-mbps", Stat::MinBandwidthMbps, self.min_bandwidth_mbps),
            ("--max-round-trips", Stat::MaxRoundTrips, self.max_round_trips),
            ("--max-references", Stat::MaxReferences, self.max_references),
        ];
        let mut out = Vec::new();
        for (flag, stat, bound) in flags {
            let Some(bound) = bound else { continue };
            check_bound(flag, stat, bound)?;
            out.push(Sla { stat, bound });
        }
        Ok(out)
    }
}

/// A bound must be a finite, non-negative number; a success rate a fraction.
pub(crate) fn check_bound(flag: &str, stat: Stat, bound: f64) -> Result<(), String> {
    if !bound.is_finite() || bound < 0.0 {
        return Err(format!("{flag} must be a number ≥ 0, got {bound}"));
    }
    if stat == Stat::MinSuccessRate && bound > 1.0 {
        return Err(format!("{flag} is a fraction from 0 to 1 (0.99 for 99 %), got {bound}"));
    }
    Ok(())
}

/// Every bound checked against `result` (plus "every request succeeds" without
/// `--min-success-rate`, as in the harness).
pub(crate) fn check(slas: &[Sla], result: &BenchResult) -> Vec<SlaCheck> {
    evaluate(slas, result)
}

/// `p99 = 5.21 ms > 1.00 ms`, the comparison pointing the way the check went.
pub(crate) fn relation(check: &SlaCheck) -> String {
    let stat = check.sla.stat;
    let bound = format_value(stat, check.sla.bound);
    let Some(measured) = check.measured else {
        return format!("{} not measured by this benchmark (bound {bound})", stat_name(stat));
    };
    let op = match (is_lower_bound(stat), check.passed()) {
        (false, true) => "≤",
        (false, false) => ">",
        (true, true) => "≥",
        (true, false) => "<",
    };
    format!("{} = {} {op} {bound}", stat_name(stat), format_value(stat, measured))
}

/// One line per check to show: `SLA met: …` for declared bounds that hold, the
/// harness's message for violations. The implicit success check shows only when it
/// fails.
pub(crate) fn verdict_lines(checks: &[SlaCheck], name: &str) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c.declared || !c.passed())
        .map(|c| {
            if c.passed() {
                format!("SLA met: {}", relation(c))
            } else {
                c.message(name).replace("without min_success_rate", "without --min-success-rate")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked() {
        let flags = SlaFlags { p99_ms: Some(5.0), min_success_rate: Some(0.99), ..SlaFlags::default() };
        assert_eq!(
            flags.slas().unwrap(),
            vec![Sla { stat: Stat::P99Ms, bound: 5.0 }, Sla { stat: Stat::MinSuccessRate, bound: 0.99 }]
        );
        let bad = SlaFlags { min_success_rate: Some(95.0), ..SlaFlags::default() };
        assert!(bad.slas().unwrap_err().contains("fraction"));
        let bad = SlaFlags { p50_ms: Some(-1.0), ..SlaFlags::default() };
        assert!(bad.slas().unwrap_err().starts_with("--p50-ms must be"));
        let bad = SlaFlags { max_ms: Some(f64::NAN), ..SlaFlags::default() };
        assert!(bad.slas().is_err());
    }

    #[test]
    fn relations_point_the_right_way() {
        let c = |stat, bound, measured| SlaCheck {
            sla: Sla { stat, bound },
            measured: Some(measured),
            declared: true,
            sample: (10, "requests"),
        };
        assert_eq!(relation(&c(Stat::P99Ms, 100.0, 120.0)), "p99 = 120.00 ms > 100.00 ms");
        assert_eq!(relation(&c(Stat::P99Ms, 100.0, 0.5)), "p99 = 0.500 ms ≤ 100.00 ms");
        assert_eq!(relation(&c(Stat::MinSuccessRate, 0.95, 0.5)), "success rate = 50.00 % < 95.00 %");
        let lines = verdict_lines(&[c(Stat::P99Ms, 100.0, 120.0)], "x");
        assert_eq!(lines, vec!["SLA violated: p99 = 120.00 ms > 100.00 ms (x, 10 requests)"]);
    }
}
