//! The curve of a sweep as text: one row per step (per size and direction for
//! bandwidth) with p50, p99, throughput and success rate, and bars for p99 and
//! throughput scaled to the largest row, so the knee of the curve shows at a glance in
//! any terminal or CI log.

use crate::metrics::sla::{measure as measure_stat, Stat};
use crate::metrics::BenchResult;
use crate::metrics::{format_bytes, format_ns, significant};
use crate::report::format_bps;

/// Width of a full bar, in characters.
const BAR_WIDTH: usize = 14;

/// What the chart shows of one step.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Step {
    /// The swept value as written (`8`, `1024`, `forking`).
    pub label: String,
    /// Its figures: one row, or one per payload size and direction for bandwidth (an
    /// upload and a download of one size are different measurements, never averaged).
    pub rows: Vec<Figures>,
    /// The limit this step crossed, e.g. `p99 = 120 ms > 100 ms`.
    pub limit: Option<String>,
}

/// One row of the chart.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Figures {
    /// Which part of the step: `upload`, `1 MiB download`; `None` for a whole step.
    pub part: Option<String>,
    /// Median latency in ns.
    pub p50_ns: Option<u64>,
    /// p99 latency in ns.
    pub p99_ns: Option<u64>,
    /// Requests per second, or bytes per second for bandwidth.
    pub rate: Option<Rate>,
    /// Successes over attempts.
    pub success_rate: f64,
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
            Rate::RequestsPerSec(v) => format!("{} req/s", significant(v, 3)),
            Rate::BytesPerSec(v) => format_bps(v),
        }
    }
}

impl Step {
    /// The figures of one step's result.
    pub(crate) fn of(result: &BenchResult, label: String, limit: Option<String>) -> Step {
        let rows = if result.sizes.is_empty() {
            let ns = |stat| measure_stat(stat, result).map(|ms| (ms * 1e6).round() as u64);
            vec![Figures {
                part: None,
                p50_ns: ns(Stat::P50Ms),
                p99_ns: ns(Stat::P99Ms),
                rate: result.throughput_rps.map(Rate::RequestsPerSec),
                success_rate: result.outcomes.success_rate,
            }]
        } else {
            // The size goes into the row's name only when the step moved more than one.
            let one_size = result.sizes.windows(2).all(|w| w[0].size_bytes == w[1].size_bytes);
            result
                .sizes
                .iter()
                .map(|s| Figures {
                    part: Some(if one_size {
                        s.direction.clone()
                    } else {
                        format!("{} {}", format_bytes(s.size_bytes), s.direction)
                    }),
                    p50_ns: Some(s.latency.p50_ns),
                    p99_ns: Some(s.latency.p99_ns),
                    rate: Some(Rate::BytesPerSec(s.mean_bps)),
                    success_rate: s.outcomes.success_rate,
                })
                .collect()
        };
        Step { label, rows, limit }
    }
}

/// The chart: a header, a row per step (or per size and direction of a bandwidth step),
/// the step over a limit marked.
pub(crate) fn chart(parameter: &str, steps: &[Step]) -> String {
    let rows = || steps.iter().flat_map(|s| &s.rows);
    let max_p99 = rows().filter_map(|r| r.p99_ns).max().unwrap_or(0);
    let max_rate = rows().filter_map(|r| r.rate.map(Rate::value)).fold(0.0, f64::max);
    let label_width = steps.iter().map(|s| s.label.len()).chain([parameter.len()]).max().unwrap_or(0);
    let part_width = rows().filter_map(|r| r.part.as_ref().map(|p| p.chars().count())).max();
    let show_ns = |ns: Option<u64>| ns.map_or_else(|| "-".to_owned(), format_ns);
    let part_column = |text: &str| part_width.map_or_else(String::new, |w| format!("  {text:<w$}"));
    let mut out = format!(
        "{parameter:>label_width$}{}  {:>8}  {:>8}  {:>11}  {:>6}  {:<w$}  throughput\n",
        part_column(""),
        "p50",
        "p99",
        "throughput",
        "ok",
        "p99",
        w = BAR_WIDTH
    );
    for s in steps {
        for (i, r) in s.rows.iter().enumerate() {
            let p99_bar = bar(r.p99_ns.unwrap_or(0) as f64, max_p99 as f64);
            let rate_bar = bar(r.rate.map_or(0.0, Rate::value), max_rate);
            // The step's value heads its first row; the rest of its rows leave it blank.
            let label = if i == 0 { s.label.as_str() } else { "" };
            let line = format!(
                "{label:>label_width$}{}  {:>8}  {:>8}  {:>11}  {:>5.1}%  {p99_bar:<w$}  {rate_bar}",
                part_column(r.part.as_deref().unwrap_or("")),
                show_ns(r.p50_ns),
                show_ns(r.p99_ns),
                r.rate.map_or_else(|| "-".to_owned(), Rate::show),
                r.success_rate * 100.0,
                w = BAR_WIDTH
            );
            out.push_str(line.trim_end());
            if let (Some(limit), true) = (&s.limit, i + 1 == s.rows.len()) {
                out.push_str(&format!("  ← limit: {limit}"));
            }
            out.push('\n');
        }
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
            rows: vec![Figures {
                part: None,
                p50_ns: Some(p99_ms * 500_000),
                p99_ns: Some(p99_ms * 1_000_000),
                rate: Some(Rate::RequestsPerSec(rps)),
                success_rate: 1.0,
            }],
            limit: limit.map(str::to_owned),
        }
    }

    #[test]
    fn a_bandwidth_step_has_a_row_per_direction_never_their_mix() {
        let figures = |part: &str, p99_ms: u64, mbps: f64| Figures {
            part: Some(part.into()),
            p50_ns: Some(p99_ms * 500_000),
            p99_ns: Some(p99_ms * 1_000_000),
            rate: Some(Rate::BytesPerSec(mbps * 1e6)),
            success_rate: 1.0,
        };
        let steps = [
            Step {
                label: "1024".into(),
                rows: vec![figures("upload", 1, 10.0), figures("download", 1, 20.0)],
                limit: None,
            },
            Step {
                label: "65536".into(),
                rows: vec![figures("upload", 2, 500.0), figures("download", 44, 30.0)],
                limit: Some("p99 = 44.0 ms > 40.0 ms".into()),
            },
        ];
        let text = chart("payload_bytes", &steps);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[1].trim_start().starts_with("1024  upload") && lines[1].contains("10.0 MB/s"), "{text}");
        assert!(lines[2].trim_start().starts_with("download") && lines[2].contains("20.0 MB/s"), "{text}");
        assert!(lines[3].contains("500 MB/s") && !lines[3].contains("limit"), "{text}");
        assert!(lines[4].contains("44.0 ms") && lines[4].contains("30.0 MB/s"), "{text}");
        assert!(lines[4].ends_with("← limit: p99 = 44.0 ms > 40.0 ms"), "{text}");
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
        let expected = bar(2.0, 8.0).chars().count() + bar(500.0, 1000.0).chars().count();
        assert_eq!(lines[1].matches('█').count(), expected, "{text}");
        assert!(lines[2].ends_with("← limit: p99 = 8.00 ms > 5.00 ms"), "{text}");
        assert!(lines[2].contains("1000 req/s"), "{text}");
    }
}
