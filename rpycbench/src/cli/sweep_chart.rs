//! The curve of a sweep as text: one row per step with p50, p99, throughput and
//! success rate, and bars for p99 and throughput scaled to the largest step, so the
//! knee of the curve shows at a glance in any terminal or CI log.

use crate::metrics::format_ns;
use crate::metrics::sla::{measure as measure_stat, Stat};
use crate::metrics::BenchResult;
use crate::report::format_bps;

/// Width of a full bar, in characters.
const BAR_WIDTH: usize = 24;

/// What the chart shows of one step.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Step {
    /// The swept value as written (`8`, `1024`, `forking`).
    pub label: String,
    /// Median latency in ns (the largest over sizes for bandwidth).
    pub p50_ns: Option<u64>,
    /// p99 latency in ns (the largest over sizes for bandwidth).
    pub p99_ns: Option<u64>,
    /// Requests per second, or bytes per second for bandwidth.
    pub rate: Option<Rate>,
    /// Successes over attempts.
    pub success_rate: f64,
    /// The limit this step crossed, e.g. `p99 = 120.00 ms > 100.00 ms`.
    pub limit: Option<String>,
}

/// A throughput and its unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Rate {
    RequestsPerSec(f64),
    BytesPerSec(f64),
}

impl Rate {
    fn value(self) -> f64 {
        match self {
            Rate::RequestsPerSec(v) | Rate::BytesPerSec(v) => v,
        }
    }

    fn show(self) -> String {
        match self {
            Rate::RequestsPerSec(v) => format!("{v:.1} req/s"),
            Rate::BytesPerSec(v) => format_bps(v),
        }
    }
}

impl Step {
    /// The figures of one step's result.
    pub(crate) fn of(result: &BenchResult, label: String, limit: Option<String>) -> Step {
        let ns = |stat| measure_stat(stat, result).map(|ms| (ms * 1e6).round() as u64);
        let rate = if result.sizes.is_empty() {
            result.throughput_rps.map(Rate::RequestsPerSec)
        } else {
            // Upload and download of one size: their mean rate.
            let rates: Vec<f64> = result.sizes.iter().map(|s| s.mean_bps).collect();
            Some(Rate::BytesPerSec(rates.iter().sum::<f64>() / rates.len() as f64))
        };
        Step {
            label,
            p50_ns: ns(Stat::P50Ms),
            p99_ns: ns(Stat::P99Ms),
            rate,
            success_rate: result.outcomes.success_rate,
            limit,
        }
    }
}

/// The chart: a header, one row per step, the step over a limit marked.
pub(crate) fn chart(parameter: &str, steps: &[Step]) -> String {
    let max_p99 = steps.iter().filter_map(|s| s.p99_ns).max().unwrap_or(0);
    let max_rate = steps.iter().filter_map(|s| s.rate.map(Rate::value)).fold(0.0, f64::max);
    let label_width = steps.iter().map(|s| s.label.len()).chain([parameter.len()]).max().unwrap_or(0);
    let show_ns = |ns: Option<u64>| ns.map_or_else(|| "-".to_owned(), format_ns);
    let mut out = format!(
        "{parameter:>label_width$}  {:>10}  {:>10}  {:>14}  {:>8}  {:<w$}  throughput\n",
        "p50",
        "p99",
        "throughput",
        "ok",
        "p99",
        w = BAR_WIDTH
    );
    for s in steps {
        let p99_bar = bar(s.p99_ns.unwrap_or(0) as f64, max_p99 as f64);
        let rate_bar = bar(s.rate.map_or(0.0, Rate::value), max_rate);
        let line = format!(
            "{:>label_width$}  {:>10}  {:>10}  {:>14}  {:>7.2}%  {p99_bar:<w$}  {rate_bar}",
            s.label,
            show_ns(s.p50_ns),
            show_ns(s.p99_ns),
            s.rate.map_or_else(|| "-".to_owned(), Rate::show),
            s.success_rate * 100.0,
            w = BAR_WIDTH
        );
        out.push_str(line.trim_end());
        if let Some(limit) = &s.limit {
            out.push_str(&format!("  ← limit: {limit}"));
        }
        out.push('\n');
    }
    out.pop();
    out
}

/// `value` of `max` as a bar of up to [`BAR_WIDTH`] blocks; any non-zero value shows
/// at least one block.
fn bar(value: f64, max: f64) -> String {
    if max <= 0.0 || value <= 0.0 || !value.is_finite() {
        return String::new();
    }
    let blocks = ((value / max) * BAR_WIDTH as f64).round().clamp(1.0, BAR_WIDTH as f64) as usize;
    "█".repeat(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(label: &str, p99_ms: u64, rps: f64, limit: Option<&str>) -> Step {
        Step {
            label: label.into(),
            p50_ns: Some(p99_ms * 500_000),
            p99_ns: Some(p99_ms * 1_000_000),
            rate: Some(Rate::RequestsPerSec(rps)),
            success_rate: 1.0,
            limit: limit.map(str::to_owned),
        }
    }

    #[test]
    fn bars_scale_to_the_largest_step() {
        assert_eq!(bar(0.0, 10.0), "");
        assert_eq!(bar(10.0, 10.0).chars().count(), BAR_WIDTH);
        assert_eq!(bar(5.0, 10.0).chars().count(), BAR_WIDTH / 2);
        assert_eq!(bar(0.001, 10.0).chars().count(), 1);
        assert_eq!(bar(1.0, 0.0), "");
    }

    #[test]
    fn the_chart_marks_the_limit() {
        let steps = [step("1", 2, 500.0, None), step("32", 8, 1000.0, Some("p99 = 8.00 ms > 5.00 ms"))];
        let text = chart("clients", &steps);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("clients") && lines[0].contains("p99"), "{text}");
        assert!(lines[1].trim_start().starts_with("1 ") && lines[1].contains("2.00 ms"), "{text}");
        assert_eq!(lines[1].matches('█').count(), BAR_WIDTH / 4 + BAR_WIDTH / 2, "{text}");
        assert!(lines[2].ends_with("← limit: p99 = 8.00 ms > 5.00 ms"), "{text}");
        assert!(lines[2].contains("1000.0 req/s"), "{text}");
    }
}
