//! Latency distributions: recorded in an HdrHistogram, summarised with a documented
//! quantile definition, and stored whole so results can be merged and compared as
//! distributions rather than as a handful of numbers.

use base64::Engine;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Highest latency recorded exactly: one hour. Longer values are clamped to it, so a
/// stuck request cannot make the histogram grow.
const MAX_TRACKABLE_NS: u64 = 3_600_000_000_000;
/// Three significant digits: every value is known to within 0.1 %.
const SIGNIFICANT_DIGITS: u8 = 3;

/// A latency recorder with fixed memory (about 200 KiB) whatever the request count.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a stored histogram could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("corrupt latency histogram: {0}")]
pub struct HistogramError(String);

impl LatencyHistogram {
    /// An empty histogram for 1 ns … 1 h at 3 significant digits.
    pub fn new() -> Self {
        // The bounds are constants that satisfy new_with_bounds' preconditions
        // (low >= 1, high >= 2 * low, sigfig <= 5), so this cannot fail.
        let hist = Histogram::new_with_bounds(1, MAX_TRACKABLE_NS, SIGNIFICANT_DIGITS).expect("valid constant bounds");
        LatencyHistogram { hist }
    }

    /// Records one latency in nanoseconds (clamped to 1 ns … 1 h). No allocation.
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        self.hist.saturating_record(ns.clamp(1, MAX_TRACKABLE_NS));
    }

    /// Records one latency.
    #[inline]
    pub fn record(&mut self, d: Duration) {
        self.record_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Both histograms share the same bounds, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
    }

    /// Number of values recorded.
    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    /// The value at quantile `q` (0 ≤ q ≤ 1), in ns. See [`LatencyStats`] for the definition.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        self.hist.value_at_quantile(q)
    }

    /// The underlying HdrHistogram.
    pub fn inner(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// The summary statistics and the serialized distribution.
    pub fn stats(&self) -> LatencyStats {
        let h = &self.hist;
        let empty = h.is_empty();
        let q = |q: f64| if empty { 0 } else { h.value_at_quantile(q) };
        LatencyStats {
            count: h.len(),
            min_ns: if empty { 0 } else { h.min() },
            mean_ns: h.mean().round() as u64,
            p50_ns: q(0.50),
            p90_ns: q(0.90),
            p95_ns: q(0.95),
            p99_ns: q(0.99),
            p999_ns: q(0.999),
            max_ns: if empty { 0 } else { h.max() },
            stdev_ns: h.stdev().round() as u64,
            histogram: self.to_base64(),
            rounds: Vec::new(),
        }
    }

    /// The distribution as base64 of HdrHistogram's V2 deflate format, readable by every
    /// HdrHistogram implementation.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(super::hdr_v2::encode(&self.hist))
    }

    /// Reads a distribution written by [`to_base64`](Self::to_base64).
    pub fn from_base64(text: &str) -> Result<Self, HistogramError> {
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| HistogramError(e.to_string()))?;
        let mut out = LatencyHistogram::new();
        super::hdr_v2::decode_into(&bytes, &mut out.hist).map_err(|e| HistogramError(e.to_string()))?;
        Ok(out)
    }
}

/// A latency distribution's summary, all times in integer nanoseconds.
///
/// **Quantiles** are HdrHistogram's `value_at_quantile(q)`: the smallest recorded value
/// `v` such that at least `q · count` of the values are `≤ v`, reported as the upper
/// end of its bucket, so it is within 0.1 % above the exact order statistic (never
/// one rank high, unlike the predecessor's `sorted[int(q·n)]`). `stdev_ns` is the
/// population standard deviation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LatencyStats {
    /// Values recorded.
    pub count: u64,
    /// Smallest value.
    pub min_ns: u64,
    /// Arithmetic mean.
    pub mean_ns: u64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 95th percentile.
    pub p95_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Largest value.
    pub max_ns: u64,
    /// Population standard deviation.
    pub stdev_ns: u64,
    /// The whole distribution: base64 of HdrHistogram's V2 deflate serialization.
    pub histogram: String,
    /// Each round's figures, when the run was made in rounds (see
    /// [`rounds`](super::rounds)); comparisons build their interval from them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<super::rounds::RoundSummary>,
}

impl LatencyStats {
    /// The distribution behind the summary.
    pub fn histogram(&self) -> Result<LatencyHistogram, HistogramError> {
        LatencyHistogram::from_base64(&self.histogram)
    }

    /// p99 / p50: how heavy the tail is (0 when empty).
    pub fn tail_ratio(&self) -> f64 {
        if self.p50_ns == 0 {
            0.0
        } else {
            self.p99_ns as f64 / self.p50_ns as f64
        }
    }
}

/// Nanoseconds as milliseconds with three significant figures (`0.0852 ms`, `5.21 ms`,
/// `120 ms`), as SLA messages and the harness's lines show latencies beside bounds
/// written in ms: a small value keeps its figures instead of reading `0.00 ms`.
pub fn format_ms(ns: u64) -> String {
    format!("{} ms", figures(ns as f64 / 1e6, 3, 6))
}

/// Nanoseconds with a unit chosen for the magnitude: `812 ns`, `53.2 µs`, `4.81 ms`, `2.05 s`
/// (shared by the result reports and the profiler's text reports).
pub fn format_ns(ns: u64) -> String {
    if ns < 1000 {
        return format!("{ns} ns");
    }
    in_units(ns as f64, &[("µs", 1e3), ("ms", 1e6), ("s", 1e9)])
}

/// `x` in the largest of `units` (ascending) it reaches once rounded to three figures:
/// 999,999 ns reads `1.00 ms`, not `1000 µs`.
pub(crate) fn in_units(x: f64, units: &[(&str, f64)]) -> String {
    let mut chosen = 0;
    for (i, (_, scale)) in units.iter().enumerate() {
        if significant(x / scale, 3).parse::<f64>().is_ok_and(|v| v >= 1.0) {
            chosen = i;
        }
    }
    let (unit, scale) = units[chosen];
    format!("{} {unit}", significant(x / scale, 3))
}

/// `x` with `digits` significant figures (whole numbers keep all their digits: `1278`,
/// never `1.28e3`), at most three decimals so a tiny value in a large unit reads `0.000`
/// rather than a row of digits.
pub fn significant(x: f64, digits: i32) -> String {
    figures(x, digits, 3)
}

/// `x` with `digits` significant figures and at most `max_decimals` decimals.
fn figures(x: f64, digits: i32, max_decimals: i32) -> String {
    if !x.is_finite() || x == 0.0 {
        return format!("{x:.0}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).clamp(0, max_decimals) as usize;
    let text = format!("{x:.decimals$}");
    // Rounding can carry into a new digit (9.996 → "10.00"): format again at the new
    // magnitude so the figure keeps three significant digits, not four.
    let rounded: f64 = text.parse().unwrap_or(x);
    let new_magnitude = rounded.abs().log10().floor() as i32;
    if new_magnitude > magnitude && decimals > 0 {
        let decimals = (digits - 1 - new_magnitude).clamp(0, max_decimals) as usize;
        return format!("{rounded:.decimals$}");
    }
    text
}

/// Bytes in binary units for labels (reports, findings): `1 KiB`, `64 KiB`, `10 MiB`,
/// `1000 B`, `5.51 MiB` (three significant figures; whole multiples without decimals).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{} {}", significant(value, 3), UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_figures_survive_rounding_and_tiny_values() {
        assert_eq!(significant(9.996, 3), "10.0");
        assert_eq!(significant(99.96, 3), "100");
        assert_eq!(significant(0.0004, 3), "0.000");
        assert_eq!(significant(0.01234, 3), "0.012");
        assert_eq!(significant(-2.346, 3), "-2.35");
        assert_eq!(significant(0.0, 3), "0");
    }

    #[test]
    fn quantiles_are_not_one_rank_high() {
        let mut h = LatencyHistogram::new();
        for v in 1..=100u64 {
            h.record_ns(v * 1000);
        }
        let s = h.stats();
        assert_eq!(s.count, 100);
        // 50 of 100 values are <= 50 µs: the median is 50 µs (within 0.1 %), not 51 µs.
        assert!((50_000..=50_050).contains(&s.p50_ns), "{}", s.p50_ns);
        assert!((99_000..=99_100).contains(&s.p99_ns), "{}", s.p99_ns);
        assert_eq!(s.min_ns, 1000);
    }

    #[test]
    fn serialized_distributions_round_trip() {
        let mut h = LatencyHistogram::new();
        for v in [5_000_000u64, 5_100_000, 7_000_000, 120_000_000] {
            h.record_ns(v);
        }
        let back = LatencyHistogram::from_base64(&h.to_base64()).unwrap();
        assert_eq!(back.stats(), h.stats());
        assert!(LatencyHistogram::from_base64("not base64!").is_err());
    }

    #[test]
    fn extreme_values_are_clamped_not_lost() {
        let mut h = LatencyHistogram::new();
        h.record_ns(0);
        h.record_ns(u64::MAX);
        assert_eq!(h.len(), 2);
    }
}
