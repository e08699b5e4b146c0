//! The SLA model: the statistics a bound can name ([`STATS`]), each declared bound read
//! against the statistic a result measured, and the message that names the statistic,
//! the value, the bound, the server and the sample size. Statistics on results, below
//! the harness (which fails tests on them), the command's flags and the sweep.

mod stat;

pub use stat::{Stat, StatInfo, STATS};

use super::{format_ms, BenchKind, BenchResult, LatencyStats};

/// A bound on one statistic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sla {
    /// Which statistic.
    pub stat: Stat,
    /// The bound, in the statistic's unit.
    pub bound: f64,
}

/// One bound checked.
#[derive(Clone, Debug, PartialEq)]
pub struct SlaCheck {
    /// The bound.
    pub sla: Sla,
    /// What was measured, in the statistic's unit; `None` when the result has no such
    /// statistic (a violation: a bound that cannot be checked is not met).
    pub measured: Option<f64>,
    /// Whether it was declared (`false`: the implicit "every request succeeds").
    pub declared: bool,
    /// The sample the statistic comes from: count and unit (`1000 requests`).
    pub sample: (u64, &'static str),
}

impl SlaCheck {
    /// Whether the bound holds.
    pub fn passed(&self) -> bool {
        match self.measured {
            None => false,
            Some(v) if is_lower_bound(self.sla.stat) => v >= self.sla.bound,
            Some(v) => v <= self.sla.bound,
        }
    }

    /// `p99 = 5.21 ms > 1.00 ms`: the comparison pointing the way the check went.
    pub fn relation(&self) -> String {
        let stat = self.sla.stat;
        let bound = format_value(stat, self.sla.bound);
        let Some(measured) = self.measured else {
            return format!("{} not measured by this benchmark (bound {bound})", stat_name(stat));
        };
        let op = match (is_lower_bound(stat), self.passed()) {
            (false, true) => "≤",
            (false, false) => ">",
            (true, true) => "≥",
            (true, false) => "<",
        };
        let (measured, bound) = format_apart(stat, measured, self.sla.bound);
        format!("{} = {measured} {op} {bound}", stat_name(stat))
    }

    /// `SLA violated: p99 = 5.21 ms > 1.00 ms (ping[threaded], 1000 requests)`.
    pub fn message(&self, test: &str) -> String {
        let stat = self.sla.stat;
        let (n, unit) = self.sample;
        let Some(v) = self.measured else {
            return format!(
                "SLA violated: {} is not measured by this benchmark, so its bound {} cannot be met ({test})",
                stat_name(stat),
                format_value(stat, self.sla.bound)
            );
        };
        let op = if is_lower_bound(stat) { "<" } else { ">" };
        let (shown, bound) = format_apart(stat, v, self.sla.bound);
        let implicit = if self.declared { "" } else { "; without min_success_rate every request must succeed" };
        format!("SLA violated: {} = {shown} {op} {bound} ({test}, {n} {unit}{implicit})", stat_name(stat),)
    }
}

/// Checks every declared bound, plus "every request succeeds" when no
/// `min_success_rate` is declared (a benchmark whose requests fail measures the wrong
/// thing unless it says failures are expected).
pub fn evaluate(slas: &[Sla], result: &BenchResult) -> Vec<SlaCheck> {
    let check = |sla: Sla, declared| SlaCheck {
        sla,
        measured: measure(sla.stat, result),
        declared,
        sample: sample(sla.stat, result),
    };
    let mut checks: Vec<SlaCheck> = slas.iter().map(|s| check(*s, true)).collect();
    if !slas.iter().any(|s| s.stat == Stat::MinSuccessRate) {
        checks.push(check(Sla { stat: Stat::MinSuccessRate, bound: 1.0 }, false));
    }
    checks
}

/// The statistic `stat` of `result`, in the SLA's unit. Bandwidth and transfer runs
/// keep latency per payload size: their latency statistic is the largest over the
/// sizes, since the bound must hold for every size.
pub fn measure(stat: Stat, r: &BenchResult) -> Option<f64> {
    let ms = |f: fn(&LatencyStats) -> u64| match &r.latency {
        Some(l) => Some(f(l) as f64 / 1e6),
        None => r.sizes.iter().map(|s| f(&s.latency) as f64 / 1e6).reduce(f64::max),
    };
    match stat {
        Stat::MeanMs => ms(|l| l.mean_ns),
        Stat::P50Ms => ms(|l| l.p50_ns),
        Stat::P90Ms => ms(|l| l.p90_ns),
        Stat::P95Ms => ms(|l| l.p95_ns),
        Stat::P99Ms => ms(|l| l.p99_ns),
        Stat::P999Ms => ms(|l| l.p999_ns),
        Stat::MaxMs => ms(|l| l.max_ns),
        Stat::MinSuccessRate => Some(r.outcomes.success_rate),
        Stat::MinThroughputRps => r.throughput_rps,
        Stat::MinBandwidthMbps => r.slowest_size().map(|s| s.mean_bps / 1e6),
        Stat::MaxRoundTrips => r.wire.as_ref().map(|w| w.round_trips_per_request),
        Stat::MaxReferences => r.wire.as_ref().map(|w| {
            if w.measured_requests == 0 {
                0.0
            } else {
                w.refs_received as f64 / w.measured_requests as f64
            }
        }),
    }
}

/// Whether the bound is a minimum.
pub(crate) fn is_lower_bound(stat: Stat) -> bool {
    stat.info().lower_bound
}

/// The statistic's name in messages.
pub(crate) fn stat_name(stat: Stat) -> &'static str {
    stat.info().name
}

/// The attribute option that declares the statistic's bound (`p99_ms`, …), used as its
/// key in result parameters.
pub(crate) fn stat_key(stat: Stat) -> &'static str {
    stat.info().key
}

/// A value of `stat` with its unit.
pub(crate) fn format_value(stat: Stat, v: f64) -> String {
    match stat {
        Stat::MinSuccessRate => format!("{:.2} %", v * 100.0),
        Stat::MinThroughputRps => format!("{v:.1} req/s"),
        Stat::MinBandwidthMbps => format!("{v:.2} MB/s"),
        Stat::MaxRoundTrips | Stat::MaxReferences => format!("{v:.2}"),
        _ => format_ms((v * 1e6).round() as u64),
    }
}

/// A measured value and its bound, each with its unit, written apart: a value that
/// differs from its bound must not read the same (`100 ms > 100 ms`), so milliseconds
/// gain decimals, on both sides alike, until they differ (`100.4 ms > 100.0 ms`).
fn format_apart(stat: Stat, measured: f64, bound: f64) -> (String, String) {
    let (shown, limit) = (format_value(stat, measured), format_value(stat, bound));
    if shown != limit || measured == bound || !shown.ends_with(" ms") {
        return (shown, limit);
    }
    (1..=6)
        .map(|d| (format!("{measured:.d$} ms"), format!("{bound:.d$} ms")))
        .find(|(m, b)| m != b)
        .unwrap_or((shown, limit))
}

/// The sample behind `stat`: latency statistics come from the successful requests,
/// the rest from every attempt.
fn sample(stat: Stat, r: &BenchResult) -> (u64, &'static str) {
    let unit = match r.kind {
        BenchKind::Connection => "connections",
        BenchKind::Bandwidth | BenchKind::Transfer => "operations",
        _ => "requests",
    };
    let n = match (stat, &r.latency) {
        (Stat::MinSuccessRate | Stat::MinThroughputRps | Stat::MinBandwidthMbps, _) | (_, None) => r.outcomes.attempts,
        (Stat::MaxRoundTrips | Stat::MaxReferences, _) => {
            r.wire.as_ref().map_or(r.outcomes.attempts, |w| w.measured_requests)
        }
        (_, Some(l)) => l.count,
    };
    (n, unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(stat: Stat, bound: f64, measured: f64) -> SlaCheck {
        SlaCheck { sla: Sla { stat, bound }, measured: Some(measured), declared: true, sample: (1000, "requests") }
    }

    #[test]
    fn a_value_never_reads_the_same_as_the_bound_it_missed() {
        assert_eq!(check(Stat::P99Ms, 100.0, 100.4).relation(), "p99 = 100.4 ms > 100.0 ms");
        assert_eq!(check(Stat::P99Ms, 100.0, 100.0004).relation(), "p99 = 100.0004 ms > 100.0000 ms");
        assert_eq!(check(Stat::P99Ms, 100.0, 120.0).relation(), "p99 = 120 ms > 100 ms");
    }

    #[test]
    fn messages_name_everything() {
        let c = check(Stat::P99Ms, 1.0, 5.21);
        assert!(!c.passed());
        assert_eq!(
            c.message("ping[threaded]"),
            "SLA violated: p99 = 5.21 ms > 1.00 ms (ping[threaded], 1000 requests)"
        );
        let c = check(Stat::MinSuccessRate, 0.99, 0.95);
        assert_eq!(
            c.message("fetch[forking]"),
            "SLA violated: success rate = 95.00 % < 99.00 % (fetch[forking], 1000 requests)"
        );
    }

    #[test]
    fn bounds_point_the_right_way() {
        assert!(check(Stat::P99Ms, 1.0, 1.0).passed());
        assert!(check(Stat::MinThroughputRps, 100.0, 150.0).passed());
        assert!(!check(Stat::MinThroughputRps, 100.0, 50.0).passed());
        let unmeasured = SlaCheck { measured: None, ..check(Stat::MinBandwidthMbps, 1.0, 0.0) };
        assert!(!unmeasured.passed());
        assert!(unmeasured.message("x").contains("not measured"));
    }
}
