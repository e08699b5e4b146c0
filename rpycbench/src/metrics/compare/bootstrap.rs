//! The within-run bootstrap: an interval of the ratio of medians from resampling the
//! requests of one run on each side, computed from the stored HdrHistograms.
//!
//! It measures only the spread of requests *within* a run, so it is blind to what differs
//! between runs (other jobs' load, CPU frequency, scheduling), and requests of one run
//! are not independent either: on a shared machine it calls noise a regression. Results
//! with rounds are compared from the spread of their round medians instead
//! ([`RatioInterval::between_rounds`]); this interval is kept for results recorded
//! without rounds, and a regression it shows is reported as inconclusive.
//!
//! # Why medians and a bootstrap
//!
//! Request latency is heavy-tailed and often multi-modal (a GC pause, a scheduler
//! hiccup, a forked child's first page faults): a handful of outliers move the mean
//! and the standard deviation a lot, and a t-test's normality assumption does not hold.
//! The median is robust to those outliers, and the bootstrap makes no assumption about
//! the distribution's shape. Working on the *ratio* of medians makes the threshold
//! relative ("10 % slower") whatever the absolute latency.
//!
//! # The method, precisely
//!
//! Let `old` and `new` be the two recorded latency distributions with `n_old` and
//! `n_new` values (an HdrHistogram stores every value to within 0.1 %, so the
//! histogram *is* the sample, not a summary of it).
//!
//! 1. The point estimate is `R = median(new) / median(old)`, where the median of `n`
//!    values is the `k`-th smallest with `k = ceil(n / 2)` (the definition HdrHistogram
//!    uses for `p50`, see [`LatencyStats`](crate::metrics::LatencyStats)).
//! 2. [`RESAMPLES`] = 1000 times: draw a bootstrap resample of `n_old` values with
//!    replacement from `old` and one of `n_new` values from `new`, take each resample's
//!    median, and record their ratio `R*`.
//! 3. The [`CONFIDENCE`] = 95 % interval is the percentile interval of the `R*`: the
//!    2.5th and 97.5th percentiles of the 1000 ratios (the 26th and the 975th smallest).
//! 4. With threshold `t` (e.g. 0.10): a **regression** is called when the interval's
//!    *lower* bound exceeds `1 + t` — we are 97.5 % confident the median grew by more
//!    than the threshold, so both conditions hold at once: the change is larger than the
//!    threshold *and* statistically significant. An **improvement** is reported when
//!    the *upper* bound is below `1 − t`. Anything else is "no change": either the change
//!    is within the threshold or the data cannot tell.
//!
//! The random numbers come from a fixed-seed xorshift64* generator, so the same two
//! files always give the same interval.
//!
//! # Resampling in constant time
//!
//! Step 2 does not materialise the resamples. A bootstrap resample is `n` independent
//! draws `F⁻¹(U)` of uniforms `U` through the sample's quantile function `F⁻¹`, which is
//! non-decreasing, so the resample's `k`-th smallest value is `F⁻¹(U₍ₖ₎)`, with `U₍ₖ₎`
//! the `k`-th smallest of `n` uniforms. `U₍ₖ₎` has the Beta(`k`, `n − k + 1`)
//! distribution. So each resample's median is drawn *exactly* (same distribution as
//! materialising the resample) as `F⁻¹(B)` with one Beta variate `B`; `F⁻¹` walks the
//! histogram's cumulative counts with a binary search. The cost is independent of the
//! number of requests, so a run of a million requests compares as fast as one of a
//! hundred. The unit tests check this shortcut against explicit resampling.

use super::interval::{Method, RatioInterval, CONFIDENCE};
use super::rng::Rng;
use crate::metrics::LatencyHistogram;

/// Bootstrap resamples per comparison.
pub const RESAMPLES: usize = 1000;
/// The generator's seed: fixed, so comparisons are reproducible.
const SEED: u64 = 0x5eed_2b0b_5a11_ce55;

/// A latency sample's quantile function, from a histogram's buckets.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Each recorded bucket's value (its highest equivalent value, in ns).
    values: Vec<u64>,
    /// Cumulative counts: `cumulative[i]` values are `<= values[i]`.
    cumulative: Vec<u64>,
}

impl Sample {
    /// The sample a histogram recorded.
    pub fn from_histogram(hist: &LatencyHistogram) -> Sample {
        let mut values = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0u64;
        for bucket in hist.inner().iter_recorded() {
            total += bucket.count_at_value();
            values.push(bucket.value_iterated_to());
            cumulative.push(total);
        }
        Sample { values, cumulative }
    }

    /// Number of values.
    pub fn len(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `rank`-th smallest value (1-based, clamped to the sample).
    fn value_of_rank(&self, rank: u64) -> u64 {
        let rank = rank.clamp(1, self.len().max(1));
        let i = self.cumulative.partition_point(|&c| c < rank);
        self.values[i.min(self.values.len() - 1)]
    }

    /// The rank of the median: `ceil(n / 2)`.
    fn median_rank(&self) -> u64 {
        self.len().div_ceil(2).max(1)
    }

    /// The sample's median (ns).
    pub fn median(&self) -> u64 {
        self.value_of_rank(self.median_rank())
    }

    /// The median of one bootstrap resample (see the module docs for why one Beta
    /// variate is enough).
    fn resampled_median(&self, rng: &mut Rng) -> u64 {
        let n = self.len();
        let k = self.median_rank();
        let u = rng.beta(k as f64, (n - k + 1) as f64);
        // F⁻¹(u) is the value of rank ceil(u · n).
        self.value_of_rank((u * n as f64).ceil() as u64)
    }
}

/// The within-run bootstrap interval of `median(new) / median(old)`; `None` when
/// either sample is empty or has a zero median.
pub fn within_run(old: &Sample, new: &Sample) -> Option<RatioInterval> {
    if old.is_empty() || new.is_empty() || old.median() == 0 {
        return None;
    }
    let mut rng = Rng::new(SEED);
    let mut ratios: Vec<f64> = (0..RESAMPLES)
        .map(|_| new.resampled_median(&mut rng) as f64 / old.resampled_median(&mut rng).max(1) as f64)
        .collect();
    ratios.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    let lo = ((tail * RESAMPLES as f64).floor() as usize).min(RESAMPLES - 1);
    let hi = (((1.0 - tail) * RESAMPLES as f64).ceil() as usize).saturating_sub(1).min(RESAMPLES - 1);
    Some(RatioInterval {
        ratio: new.median() as f64 / old.median() as f64,
        lower: ratios[lo],
        upper: ratios[hi],
        method: Method::WithinRun,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare::Change;

    /// A heavy-tailed latency sample: mostly around `base`, with a long right tail.
    fn latencies(seed: u64, n: usize, base_ns: f64, scale: f64) -> LatencyHistogram {
        let mut rng = Rng::new(seed);
        let mut h = LatencyHistogram::new();
        for _ in 0..n {
            // Log-normal body (sigma 0.25) plus a 2 % tail of 5–20× outliers.
            let body = base_ns * (0.25 * rng.normal()).exp();
            let v = if rng.uniform() < 0.02 { body * (5.0 + 15.0 * rng.uniform()) } else { body };
            h.record_ns((v * scale) as u64);
        }
        h
    }

    fn interval(old: &LatencyHistogram, new: &LatencyHistogram) -> RatioInterval {
        within_run(&Sample::from_histogram(old), &Sample::from_histogram(new)).unwrap()
    }

    #[test]
    fn a_doubling_is_a_regression() {
        let old = latencies(1, 1000, 250_000.0, 1.0);
        let new = latencies(2, 1000, 250_000.0, 2.0);
        let ci = interval(&old, &new);
        assert!((1.8..2.2).contains(&ci.ratio), "{ci:?}");
        assert!(ci.lower > 1.1, "{ci:?}");
        assert_eq!(ci.change(0.10), Change::Regressed);
        // And the other way round it is an improvement, never a regression.
        assert_eq!(interval(&new, &old).change(0.10), Change::Improved);
    }

    #[test]
    fn the_same_distribution_is_no_change() {
        for seed in 0..20 {
            let old = latencies(100 + seed, 500, 250_000.0, 1.0);
            let new = latencies(200 + seed, 500, 250_000.0, 1.0);
            let ci = interval(&old, &new);
            assert_eq!(ci.change(0.10), Change::NoChange, "seed {seed}: {ci:?}");
        }
    }

    #[test]
    fn a_change_below_the_threshold_is_not_called() {
        // 5 % slower, measured precisely (many requests): significant, but within 10 %.
        let old = latencies(7, 20_000, 250_000.0, 1.0);
        let new = latencies(8, 20_000, 250_000.0, 1.05);
        let ci = interval(&old, &new);
        assert!(ci.lower > 1.0, "the 5 % is real and detected: {ci:?}");
        assert_eq!(ci.change(0.10), Change::NoChange, "{ci:?}");
        // With a 2 % threshold the same data is a regression.
        assert_eq!(ci.change(0.02), Change::Regressed, "{ci:?}");
    }

    #[test]
    fn comparisons_are_reproducible() {
        let old = latencies(3, 300, 100_000.0, 1.0);
        let new = latencies(4, 300, 100_000.0, 1.3);
        assert_eq!(interval(&old, &new), interval(&old, &new));
    }

    #[test]
    fn the_beta_shortcut_matches_explicit_resampling() {
        let h = latencies(5, 201, 250_000.0, 1.0);
        let sample = Sample::from_histogram(&h);
        let n = sample.len();
        let mut rng = Rng::new(11);
        let shortcut: Vec<f64> = (0..4000).map(|_| sample.resampled_median(&mut rng) as f64).collect();
        let explicit: Vec<f64> = (0..4000)
            .map(|_| {
                let mut draws: Vec<u64> =
                    (0..n).map(|_| sample.value_of_rank((rng.uniform() * n as f64).ceil() as u64)).collect();
                draws.sort_unstable();
                draws[(sample.median_rank() - 1) as usize] as f64
            })
            .collect();
        let quantile = |v: &[f64], q: f64| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[((v.len() - 1) as f64 * q) as usize]
        };
        for q in [0.025, 0.25, 0.5, 0.75, 0.975] {
            let (a, b) = (quantile(&shortcut, q), quantile(&explicit, q));
            assert!((a / b - 1.0).abs() < 0.02, "q {q}: shortcut {a} vs explicit {b}");
        }
    }

    #[test]
    fn empty_samples_cannot_be_compared() {
        let some = latencies(1, 10, 1000.0, 1.0);
        let none = LatencyHistogram::new();
        assert!(within_run(&Sample::from_histogram(&none), &Sample::from_histogram(&some)).is_none());
        assert!(within_run(&Sample::from_histogram(&some), &Sample::from_histogram(&none)).is_none());
    }

    #[test]
    fn the_median_matches_the_histograms_p50() {
        let h = latencies(9, 999, 250_000.0, 1.0);
        assert_eq!(Sample::from_histogram(&h).median(), h.stats().p50_ns);
    }
}
