//! Baseline versus current for reports: the comparison of
//! [`metrics::compare`](crate::metrics::compare) (an interval of the median ratio per
//! distribution, from the rounds' spread, and the exact wire counts) with each side's
//! p50 and p99 next to it.

use crate::metrics::compare::{compare_sets_with, Change, Counts, Options, RatioInterval, WireComparison};
use crate::metrics::{BenchResult, LatencyStats, ResultSet};
use crate::table::{Table, TableBuilder, Tone, Value};

/// One compared distribution.
#[derive(Clone, Debug)]
pub struct ComparedSeries {
    /// The benchmark.
    pub bench: String,
    /// Which distribution: `p50`, or `upload 1 MiB p50` for a payload size.
    pub label: String,
    /// Baseline and current summaries.
    pub old: LatencyStats,
    /// Current summary.
    pub new: LatencyStats,
    /// Bootstrap interval of the median ratio, when comparable.
    pub interval: Option<RatioInterval>,
    /// The verdict, when comparable.
    pub change: Option<Change>,
    /// Threshold applied, percent.
    pub threshold_pct: f64,
    /// Why the verdict is weaker than the interval alone would say, if it is.
    pub note: Option<String>,
}

/// A whole baseline comparison, ready to render.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// How the baseline is named in the report (a path).
    pub baseline_label: String,
    /// Every compared distribution.
    pub series: Vec<ComparedSeries>,
    /// The wire counts of each benchmark, when both sides have them.
    pub wire: Vec<(String, WireComparison)>,
    /// Benchmarks by verdict, counted per benchmark as `rpycbench compare` counts them.
    pub counts: Counts,
    /// Benchmarks only in the baseline.
    pub only_baseline: Vec<String>,
    /// Benchmarks only in the current results.
    pub only_current: Vec<String>,
    /// Why the two may not be comparable (different machines, builds).
    pub warnings: Vec<String>,
}

/// The distributions `metrics::compare::compare` compares, in its order: the latency, or each
/// payload size the baseline also has.
fn stats_pairs<'a>(old: &'a BenchResult, new: &'a BenchResult) -> Vec<(&'a LatencyStats, &'a LatencyStats)> {
    match (&old.latency, &new.latency) {
        (Some(o), Some(n)) => vec![(o, n)],
        _ => new
            .sizes
            .iter()
            .filter_map(|n| {
                old.sizes
                    .iter()
                    .find(|o| {
                        o.direction == n.direction && o.size_bytes == n.size_bytes && o.chunk_bytes == n.chunk_bytes
                    })
                    .map(|o| (&o.latency, &n.latency))
            })
            .collect(),
    }
}

impl Comparison {
    /// Compares `current` with `baseline`, benchmark by benchmark, with the harness's
    /// method and `threshold_pct` where a benchmark did not record its own.
    pub fn new(baseline: &ResultSet, current: &ResultSet, threshold_pct: f64, baseline_label: &str) -> Comparison {
        Comparison::with_options(baseline, current, threshold_pct, baseline_label, Options::default())
    }

    /// [`new`](Self::new) with comparison [`Options`] (normalising by the machine).
    pub fn with_options(
        baseline: &ResultSet,
        current: &ResultSet,
        threshold_pct: f64,
        baseline_label: &str,
        options: Options,
    ) -> Comparison {
        let set = compare_sets_with(baseline, current, threshold_pct, options);
        let mut series = Vec::new();
        let mut wire = Vec::new();
        for bench in &set.benches {
            let (Some(old), Some(new)) = (baseline.get(&bench.name), current.get(&bench.name)) else { continue };
            for (s, (o, n)) in bench.series.iter().zip(stats_pairs(old, new)) {
                series.push(ComparedSeries {
                    bench: bench.name.clone(),
                    label: s.label.clone(),
                    old: o.clone(),
                    new: n.clone(),
                    interval: s.interval,
                    change: s.change,
                    threshold_pct: bench.threshold_pct,
                    note: s.note.clone(),
                });
            }
            wire.extend(
                bench.wire.iter().filter(|w| w.old != w.new || w.regressed).map(|w| (bench.name.clone(), w.clone())),
            );
        }
        Comparison {
            baseline_label: baseline_label.to_owned(),
            counts: set.counts(),
            series,
            wire,
            only_baseline: set.only_old,
            only_current: set.only_new,
            warnings: set.warnings,
        }
    }

    /// Whether anything regressed.
    pub fn regressed(&self) -> bool {
        self.counts.regressed > 0
    }

    /// `2 regressed, 1 improved, 5 unchanged, 1 inconclusive, 0 not comparable` (per
    /// benchmark).
    pub fn verdict_line(&self) -> String {
        self.counts.line()
    }

    /// Baseline and current side by side, one row per compared distribution.
    pub fn table(&self) -> Table {
        let mut b = TableBuilder::new(
            "comparison",
            "Baseline versus current",
            "Change is of the median, with a 95% interval from the rounds' spread; a regression needs the whole interval above the threshold, an interval across it is inconclusive.",
            &["benchmark", "series", "base p50", "p50", "base p99", "p99", "change", "95% CI", "verdict"],
        )
        .same_unit(&[2, 3])
        .same_unit(&[4, 5]);
        for s in &self.series {
            let (verdict, tone) = verdict(s.change);
            let (change, ci) = match s.interval {
                Some(i) => {
                    let ci = format!("{} … {}", signed_pct(i.lower), signed_pct(i.upper));
                    (Value::Figure(signed_pct(i.ratio)), Value::Figure(ci))
                }
                None => (Value::Missing, Value::Missing),
            };
            b.toned_row(vec![
                (text(&s.bench), Tone::Plain),
                (text(&s.label), Tone::Muted),
                (Value::Ns(s.old.p50_ns as f64), Tone::Muted),
                (Value::Ns(s.new.p50_ns as f64), Tone::Plain),
                (Value::Ns(s.old.p99_ns as f64), Tone::Muted),
                (Value::Ns(s.new.p99_ns as f64), Tone::Plain),
                (change, tone),
                (ci, Tone::Muted),
                (text(format!("{verdict} (±{}%)", s.threshold_pct)), tone),
            ]);
        }
        for (bench, w) in &self.wire {
            let tone = if w.regressed { Tone::Bad } else { Tone::Muted };
            b.toned_row(vec![(text(bench), Tone::Plain), (text(w.describe()), tone)]);
        }
        for name in &self.only_baseline {
            b.toned_row(vec![(text(name), Tone::Plain), (text("only in the baseline"), Tone::Warn)]);
        }
        for name in &self.only_current {
            b.toned_row(vec![(text(name), Tone::Plain), (text("new: nothing to compare with"), Tone::Muted)]);
        }
        b.build()
    }
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// The verdict's word and tone.
pub fn verdict(change: Option<Change>) -> (&'static str, Tone) {
    match change {
        Some(Change::Regressed) => ("regressed", Tone::Bad),
        Some(Change::Improved) => ("improved", Tone::Good),
        Some(Change::NoChange) => ("no change", Tone::Plain),
        Some(Change::Inconclusive) => ("inconclusive", Tone::Warn),
        None => ("not comparable", Tone::Warn),
    }
}

/// `1.048` as `+4.8%`.
fn signed_pct(ratio: f64) -> String {
    format!("{:+.1}%", (ratio - 1.0) * 100.0)
}
