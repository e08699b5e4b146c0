//! Quantiles of Student's t distribution, for the between-rounds interval's Welch t
//! (fractional degrees of freedom).
//!
//! One function where a statistics crate would bring itself and its numerics helpers to
//! every downstream build: the tail is the regularized incomplete beta function,
//! evaluated by its continued fraction (Lentz's method, as in Numerical Recipes §6.4),
//! and the quantile is found by bisection on that monotone tail, which cannot fail to
//! converge whatever the degrees of freedom. Tests compare it with 40-digit values
//! (mpmath) to 1e-9 and with `statrs` (a dev-dependency) where that is accurate.

/// The `t` above which Student's t with `df` degrees of freedom puts probability `tail`
/// (0 < `tail` < 0.5): the two-sided `1 − 2·tail` quantile. Infinite when it lies
/// beyond 1e150·√df, where `df / (df + t²)` underflows (only for `df` far below one;
/// an interval that wide says nothing either way); `NaN` for a `df` that is not
/// positive.
pub(crate) fn upper_quantile(df: f64, tail: f64) -> f64 {
    if df.is_nan() || df <= 0.0 || !(0.0..0.5).contains(&tail) || tail == 0.0 {
        return f64::NAN;
    }
    // Bracket: the tail falls as t grows; double until it is below the target.
    let (mut lo, mut hi) = (0.0, 1.0);
    let limit = 1e150 * df.sqrt();
    while upper_tail(df, hi) > tail {
        (lo, hi) = (hi, hi * 2.0);
        if hi > limit {
            return f64::INFINITY;
        }
    }
    // Bisection to the last bit: about 60 halvings.
    loop {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            return hi;
        }
        if upper_tail(df, mid) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
    }
}

/// P(T > t) for t ≥ 0: half the regularized incomplete beta I_x(df/2, 1/2) at
/// x = df / (df + t²).
fn upper_tail(df: f64, t: f64) -> f64 {
    // x written so that no precision is lost for large t (df + t² may round to t²).
    let x = 1.0 / (1.0 + (t / df.sqrt()).powi(2));
    0.5 * regularized_incomplete_beta(df / 2.0, 0.5, x)
}

/// I_x(a, b), for a, b > 0 and 0 ≤ x ≤ 1.
fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = a * x.ln() + b * (-x).ln_1p() - ln_beta(a, b);
    // The continued fraction converges fast below the mean; above it, use the symmetry
    // I_x(a, b) = 1 − I_{1−x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_continued_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of I_x(a, b), by the modified Lentz method.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=1000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// ln B(a, b).
fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln Γ(x) for x > 0: Lanczos' approximation (g = 7, nine terms; relative error about
/// 1e-15), with the reflection formula below 1/2.
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Γ(x)Γ(1−x) = π / sin(πx); x > 0 here, so sin(πx) > 0.
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + G + 0.5;
    let sum = COEFFICIENTS[1..].iter().enumerate().fold(COEFFICIENTS[0], |sum, (i, c)| sum + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{ContinuousCDF, StudentsT};

    /// Where statrs is accurate (its inverse drifts by percents in the far tails of
    /// df < 1 and by 1e-6 at df 1e5, where the values below are right).
    #[test]
    fn quantiles_match_statrs() {
        let dfs = (4..=400).map(|i| f64::from(i) * 0.25).chain([150.0, 1e3]);
        for df in dfs {
            for p in [0.975, 0.95, 0.9, 0.75] {
                let theirs = StudentsT::new(0.0, 1.0, df).unwrap().inverse_cdf(p);
                let ours = upper_quantile(df, 1.0 - p);
                assert!((ours - theirs).abs() <= 1e-7 * theirs, "df {df}, p {p}: {ours} vs {theirs}");
            }
        }
    }

    /// Computed with mpmath at 40 digits (`betainc`, then bisection), including tails
    /// statrs gets wrong.
    #[test]
    #[allow(clippy::excessive_precision)] // the digits as mpmath printed them
    fn quantiles_match_arbitrary_precision() {
        let exact = [
            (0.25, 0.005, 27_275_093.293_482_351),
            (0.3, 0.025, 6_582.035_699_400_775_8),
            (0.6, 0.025, 67.844_395_329_572_07),
            (1.5, 0.025, 6.016_663_104_427_931_7),
            (2.5, 0.025, 3.574_654_842_003_683_1),
            (7.3, 0.025, 2.345_066_736_547_703_6),
            (1e5, 0.025, 1.959_987_707_534_609_6),
            (1e6, 0.025, 1.959_966_356_814_107),
            (1e4, 0.1, 1.281_636_229_730_477_5),
            (1e6, 0.25, 0.674_489_995_531_087_4),
            (0.05, 0.025, 1.195_833_758_547_535_5e25),
        ];
        for (df, tail, t) in exact {
            let ours = upper_quantile(df, tail);
            assert!((ours - t).abs() <= 1e-9 * t, "df {df}, tail {tail}: {ours} vs {t}");
        }
    }

    #[test]
    fn the_tables() {
        for (df, t) in [(1.0, 12.706_204_736), (2.0, 4.302_652_730), (10.0, 2.228_138_852), (30.0, 2.042_272_456)] {
            assert!((upper_quantile(df, 0.025) - t).abs() < 1e-8, "df {df}");
        }
        // df = 1 is the Cauchy distribution: tan(π(p − ½)) exactly.
        let cauchy = (std::f64::consts::PI * 0.475).tan();
        assert!((upper_quantile(1.0, 0.025) - cauchy).abs() < 1e-9);
    }

    #[test]
    fn ln_gamma_is_exact_at_integers_and_half() {
        let mut factorial = 1.0f64;
        for n in 1..30 {
            assert!((ln_gamma(f64::from(n)) - factorial.ln()).abs() < 1e-12 * factorial.ln().max(1.0), "{n}");
            factorial *= f64::from(n);
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-14);
    }

    #[test]
    fn nonsense_is_nan_and_tiny_df_is_far_out() {
        assert!(upper_quantile(0.0, 0.025).is_nan());
        assert!(upper_quantile(-1.0, 0.025).is_nan());
        assert!(upper_quantile(f64::NAN, 0.025).is_nan());
        assert!(upper_quantile(5.0, 0.6).is_nan());
        assert!(upper_quantile(1e-9, 0.025) == f64::INFINITY);
    }
}
