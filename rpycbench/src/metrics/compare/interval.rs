//! The interval of a latency ratio `new / old`, and the verdict it supports.

/// Confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// How an interval was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// From the spread of round medians on both sides (Welch's t on their logarithms).
    Rounds {
        /// Rounds of the old run.
        old: usize,
        /// Rounds of the new run.
        new: usize,
    },
    /// From pairs measured side by side (a t interval of the mean log ratio).
    Paired {
        /// Pairs.
        pairs: usize,
    },
    /// From resampling the requests of one run on each side: blind to run-to-run noise,
    /// used only for results without rounds.
    WithinRun,
}

/// `new / old` with its [`CONFIDENCE`] interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RatioInterval {
    /// The point estimate.
    pub ratio: f64,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Where the interval comes from.
    pub method: Method,
}

/// What a comparison concludes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Slower by more than the threshold, with confidence.
    Regressed,
    /// Faster by more than the threshold, with confidence.
    Improved,
    /// The change, if any, is within the threshold, with confidence.
    NoChange,
    /// The interval is too wide to tell whether the threshold was crossed: the runs
    /// disagree among their rounds by more than the threshold can resolve.
    Inconclusive,
}

impl RatioInterval {
    /// The interval from round medians (ns) of the two runs: Welch's t interval of the
    /// difference of the means of their logarithms, exponentiated. `None` with fewer
    /// than two rounds on either side, or a round without a median.
    ///
    /// Logarithms make the comparison relative and a ratio's interval symmetric in log
    /// space; Welch's form lets each side have its own spread and round count.
    pub fn between_rounds(old: &[u64], new: &[u64]) -> Option<RatioInterval> {
        if old.len() < 2 || new.len() < 2 || old.iter().chain(new).any(|m| *m == 0) {
            return None;
        }
        let (mx, vx) = mean_var(old.iter().map(|m| (*m as f64).ln()));
        let (my, vy) = mean_var(new.iter().map(|m| (*m as f64).ln()));
        let (nx, ny) = (old.len() as f64, new.len() as f64);
        let (ax, ay) = (vx / nx, vy / ny);
        let se = (ax + ay).sqrt();
        // Welch–Satterthwaite degrees of freedom; identical rounds give a zero width.
        let df =
            if se == 0.0 { f64::INFINITY } else { (ax + ay).powi(2) / (ax * ax / (nx - 1.0) + ay * ay / (ny - 1.0)) };
        let diff = my - mx;
        let half = t_quantile(df) * se;
        Some(RatioInterval {
            ratio: diff.exp(),
            lower: (diff - half).exp(),
            upper: (diff + half).exp(),
            method: Method::Rounds { old: old.len(), new: new.len() },
        })
    }

    /// The interval from paired measurements: `log_ratios[i]` is `ln(new_i / old_i)` of
    /// the i-th pair, measured side by side. A t interval of their mean, exponentiated.
    /// `None` with fewer than two pairs.
    pub fn paired(log_ratios: &[f64]) -> Option<RatioInterval> {
        if log_ratios.len() < 2 || log_ratios.iter().any(|r| !r.is_finite()) {
            return None;
        }
        let (mean, var) = mean_var(log_ratios.iter().copied());
        let n = log_ratios.len() as f64;
        let half = t_quantile(n - 1.0) * (var / n).sqrt();
        Some(RatioInterval {
            ratio: mean.exp(),
            lower: (mean - half).exp(),
            upper: (mean + half).exp(),
            method: Method::Paired { pairs: log_ratios.len() },
        })
    }

    /// The verdict for a relative threshold (`0.10` is 10 %): a regression when the whole
    /// interval lies above `1 + threshold`, an improvement when it lies below
    /// `1 − threshold`, no change when it lies under `1 + threshold` without reaching
    /// below `1 − threshold`, and inconclusive when it straddles `1 + threshold`: the
    /// data can neither show nor rule out a regression.
    pub fn change(&self, threshold: f64) -> Change {
        if self.lower > 1.0 + threshold {
            Change::Regressed
        } else if self.upper < 1.0 - threshold {
            Change::Improved
        } else if self.upper > 1.0 + threshold {
            Change::Inconclusive
        } else {
            Change::NoChange
        }
    }

    /// How far the interval reaches from its estimate, in percent: the noise a verdict
    /// had to see through (`±X %`).
    pub fn noise_pct(&self) -> f64 {
        ((self.upper / self.ratio).max(self.ratio / self.lower) - 1.0) * 100.0
    }

    /// This interval divided by `factor` (the machine's own change), for comparing
    /// results from machines that differ.
    pub fn normalized(&self, factor: f64) -> RatioInterval {
        RatioInterval {
            ratio: self.ratio / factor,
            lower: self.lower / factor,
            upper: self.upper / factor,
            method: self.method,
        }
    }
}

/// Mean and sample variance (n − 1).
fn mean_var(xs: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = xs.clone().count() as f64;
    let mean = xs.clone().sum::<f64>() / n;
    let var = if n > 1.0 { xs.map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var)
}

/// The two-sided [`CONFIDENCE`] quantile of Student's t with `df` degrees of freedom
/// (the normal's for infinite `df`).
fn t_quantile(df: f64) -> f64 {
    if !df.is_finite() || df > 1e6 {
        return 1.959_963_984_540_054;
    }
    // df > 0 here (at least one round spread on a side with two or more rounds); a bad
    // value would only come from a bug above, and an infinite quantile makes the
    // interval say nothing rather than something false.
    let t = super::student_t::upper_quantile(df.max(1e-9), (1.0 - CONFIDENCE) / 2.0);
    if t.is_nan() {
        f64::INFINITY
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_are_the_tables() {
        for (df, t) in [(1.0, 12.706), (4.0, 2.776), (9.0, 2.262), (18.0, 2.101), (1e9, 1.960)] {
            assert!((t_quantile(df) - t).abs() < 1e-3, "df {df}: {}", t_quantile(df));
        }
    }

    #[test]
    fn the_verdict_follows_the_interval() {
        let ci = |lower, upper| RatioInterval { ratio: (lower + upper) / 2.0, lower, upper, method: Method::WithinRun };
        assert_eq!(ci(1.15, 1.30).change(0.10), Change::Regressed);
        assert_eq!(ci(0.70, 0.85).change(0.10), Change::Improved);
        assert_eq!(ci(0.97, 1.05).change(0.10), Change::NoChange);
        assert_eq!(ci(0.85, 1.05).change(0.10), Change::NoChange);
        assert_eq!(ci(1.02, 1.08).change(0.10), Change::NoChange);
        assert_eq!(ci(0.95, 1.25).change(0.10), Change::Inconclusive);
        assert_eq!(ci(1.05, 1.15).change(0.10), Change::Inconclusive);
    }

    #[test]
    fn identical_rounds_give_a_point() {
        let ci = RatioInterval::between_rounds(&[100, 100, 100], &[200, 200]).unwrap();
        for x in [ci.ratio, ci.lower, ci.upper] {
            assert!((x - 2.0).abs() < 1e-12, "{ci:?}");
        }
        assert!(RatioInterval::between_rounds(&[100], &[200, 200]).is_none());
        assert!(RatioInterval::between_rounds(&[100, 0], &[200, 200]).is_none());
    }
}
