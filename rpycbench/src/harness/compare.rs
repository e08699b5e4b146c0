//! Comparing results with earlier ones, benchmark by benchmark: the median latency of
//! each distribution a result holds (one for latency, connection and concurrent runs,
//! one per payload size for bandwidth and transfer runs), judged with the bootstrap of
//! [`bootstrap`](super::bootstrap).

use super::bootstrap::{Change, RatioInterval, Sample, CONFIDENCE};
use super::output::format_ms;
use crate::metrics::{BenchResult, Environment, LatencyStats, ResultSet};
use std::fmt::Write;

/// The parameter under which the harness records a benchmark's own threshold, so that
/// `rpycbench compare` applies it too.
pub const THRESHOLD_PARAM: &str = "regression_pct";

/// One distribution's comparison.
#[derive(Clone, Debug)]
pub struct SeriesComparison {
    /// What it is: `p50`, or `upload 1048576 B p50` for a size of a bandwidth run.
    pub label: String,
    /// Old median, ns.
    pub old_ns: u64,
    /// New median, ns.
    pub new_ns: u64,
    /// The bootstrap interval of new/old; `None` when not comparable.
    pub interval: Option<RatioInterval>,
    /// The verdict; `None` when not comparable.
    pub change: Option<Change>,
}

/// One benchmark's comparison.
#[derive(Clone, Debug)]
pub struct BenchComparison {
    /// The benchmark (test) name.
    pub name: String,
    /// The threshold applied, percent.
    pub threshold_pct: f64,
    /// Each distribution's comparison.
    pub series: Vec<SeriesComparison>,
}

impl BenchComparison {
    /// Regressed if any distribution regressed, else improved if any improved, else
    /// no change; `None` when nothing could be compared.
    pub fn change(&self) -> Option<Change> {
        let changes: Vec<Change> = self.series.iter().filter_map(|s| s.change).collect();
        if changes.is_empty() {
            None
        } else if changes.contains(&Change::Regressed) {
            Some(Change::Regressed)
        } else if changes.contains(&Change::Improved) {
            Some(Change::Improved)
        } else {
            Some(Change::NoChange)
        }
    }

    /// The distributions that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &SeriesComparison> {
        self.series.iter().filter(|s| s.change == Some(Change::Regressed))
    }

    /// One line per distribution: medians, change, interval and verdict.
    pub fn describe(&self) -> Vec<String> {
        self.series.iter().map(|s| s.describe(self.threshold_pct)).collect()
    }
}

impl SeriesComparison {
    /// `p50 0.250 ms -> 0.512 ms: +104.8 % (95 % CI +98.1 % to +111.0 %): regressed (threshold 10 %)`.
    pub fn describe(&self, threshold_pct: f64) -> String {
        let mut line = format!("{} {} -> {}", self.label, format_ms(self.old_ns), format_ms(self.new_ns));
        match (self.interval, self.change) {
            (Some(ci), Some(change)) => {
                let verdict = match change {
                    Change::Regressed => "REGRESSED",
                    Change::Improved => "improved",
                    Change::NoChange => "no change",
                };
                let _ = write!(
                    line,
                    ": {} ({:.0} % CI {} to {}): {verdict} (threshold {threshold_pct} %)",
                    signed_pct(ci.ratio),
                    CONFIDENCE * 100.0,
                    signed_pct(ci.lower),
                    signed_pct(ci.upper),
                );
            }
            _ => line.push_str(": not comparable (no successful requests on one side)"),
        }
        line
    }
}

/// `1.048` as `+4.8 %`.
pub fn signed_pct(ratio: f64) -> String {
    format!("{:+.1} %", (ratio - 1.0) * 100.0)
}

/// The threshold for `result`: its own (recorded by the harness), else `default_pct`.
pub fn threshold_of(result: &BenchResult, default_pct: f64) -> f64 {
    result.params.get(THRESHOLD_PARAM).and_then(serde_json::Value::as_f64).unwrap_or(default_pct)
}

/// Compares two results of the same benchmark.
pub fn compare(old: &BenchResult, new: &BenchResult, threshold_pct: f64) -> BenchComparison {
    let mut series = Vec::new();
    match (&old.latency, &new.latency) {
        (Some(o), Some(n)) => series.push(compare_stats("p50".into(), o, n, threshold_pct)),
        _ => {
            for n in &new.sizes {
                let same = |o: &&crate::metrics::SizeResult| {
                    o.direction == n.direction && o.size_bytes == n.size_bytes && o.chunk_bytes == n.chunk_bytes
                };
                if let Some(o) = old.sizes.iter().find(same) {
                    let chunk = n.chunk_bytes.map(|c| format!(" in {c} B chunks")).unwrap_or_default();
                    let label = format!("{} {} B{chunk} p50", n.direction, n.size_bytes);
                    series.push(compare_stats(label, &o.latency, &n.latency, threshold_pct));
                }
            }
        }
    }
    BenchComparison { name: new.name.clone(), threshold_pct, series }
}

fn compare_stats(label: String, old: &LatencyStats, new: &LatencyStats, threshold_pct: f64) -> SeriesComparison {
    // A histogram that does not decode is compared as empty: not comparable, never a
    // false regression.
    let sample = |s: &LatencyStats| s.histogram().map(|h| Sample::from_histogram(&h)).ok();
    let interval = sample(old).zip(sample(new)).and_then(|(o, n)| RatioInterval::estimate(&o, &n));
    SeriesComparison {
        label,
        old_ns: old.p50_ns,
        new_ns: new.p50_ns,
        interval,
        change: interval.map(|ci| ci.change(threshold_pct / 100.0)),
    }
}

/// Loud warnings when two results are not comparable as they stand: different
/// machines, build profiles or modes.
pub fn environment_warnings(old: &BenchResult, new: &BenchResult) -> Vec<String> {
    let (o, n): (&Environment, &Environment) = (&old.environment, &new.environment);
    let mut warnings = Vec::new();
    if o.fingerprint() != n.fingerprint() {
        warnings.push(format!(
            "WARNING: comparing results from different machines (baseline: {}; now: {}): differences may come from the machine, not the code",
            o.fingerprint(),
            n.fingerprint()
        ));
    }
    if o.build_profile != n.build_profile {
        warnings.push(format!(
            "WARNING: comparing a {} build with a {} baseline: the client runs in the benchmark binary, so its optimisation level changes the numbers",
            n.build_profile, o.build_profile
        ));
    }
    let quick = |r: &BenchResult| r.params.get("quick").and_then(serde_json::Value::as_bool).unwrap_or(false);
    if quick(old) != quick(new) {
        warnings.push("WARNING: comparing a quick-mode run with a full run: the sample sizes differ".to_owned());
    }
    warnings
}

/// Two whole collections compared.
#[derive(Clone, Debug, Default)]
pub struct SetComparison {
    /// Benchmarks present in both.
    pub benches: Vec<BenchComparison>,
    /// Names only in the old collection.
    pub only_old: Vec<String>,
    /// Names only in the new collection.
    pub only_new: Vec<String>,
    /// Environment warnings, each once.
    pub warnings: Vec<String>,
}

impl SetComparison {
    /// Whether any benchmark regressed.
    pub fn regressed(&self) -> bool {
        self.benches.iter().any(|b| b.change() == Some(Change::Regressed))
    }
}

/// Compares every benchmark of `new` with the one of the same name in `old`.
pub fn compare_sets(old: &ResultSet, new: &ResultSet, default_pct: f64) -> SetComparison {
    let mut out = SetComparison::default();
    for n in &new.results {
        match old.get(&n.name) {
            Some(o) => {
                for w in environment_warnings(o, n) {
                    if !out.warnings.contains(&w) {
                        out.warnings.push(w);
                    }
                }
                out.benches.push(compare(o, n, threshold_of(n, threshold_of(o, default_pct))));
            }
            None => out.only_new.push(n.name.clone()),
        }
    }
    out.only_old = old.results.iter().filter(|o| new.get(&o.name).is_none()).map(|o| o.name.clone()).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{BenchKind, LatencyHistogram, OutcomeCounter, ServerInfo};

    fn result(name: &str, latencies_us: impl Iterator<Item = u64>) -> BenchResult {
        let mut h = LatencyHistogram::new();
        let mut outcomes = OutcomeCounter::default();
        for us in latencies_us {
            h.record_ns(us * 1000);
            outcomes.success();
        }
        BenchResult {
            name: name.into(),
            kind: BenchKind::Latency,
            server: ServerInfo { mode: "threaded".into(), backend: "rust".into(), address: None },
            params: Default::default(),
            environment: Environment::current(),
            started_at: String::new(),
            wall_time_ns: 0,
            load_model: None,
            outcomes: outcomes.outcomes(),
            latency: Some(h.stats()),
            throughput_rps: None,
            sizes: Vec::new(),
            clients: None,
            system: None,
            wire: None,
        }
    }

    #[test]
    fn sets_are_compared_by_name() {
        let mut old = ResultSet::new();
        old.push(result("ping[threaded]", (0..400).map(|i| 200 + i % 50)));
        old.push(result("gone[threaded]", (0..10).map(|_| 100)));
        let mut new = ResultSet::new();
        new.push(result("ping[threaded]", (0..400).map(|i| 2 * (200 + i % 50))));
        new.push(result("fresh[threaded]", (0..10).map(|_| 100)));
        let c = compare_sets(&old, &new, 10.0);
        assert!(c.regressed());
        assert_eq!(c.only_old, ["gone[threaded]"]);
        assert_eq!(c.only_new, ["fresh[threaded]"]);
        let line = &c.benches[0].describe()[0];
        assert!(line.contains("REGRESSED") && line.contains("+"), "{line}");
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn a_benchmarks_own_threshold_wins() {
        let old = result("x", (0..400).map(|i| 200 + i % 50));
        let mut new = result("x", (0..400).map(|i| 2 * (200 + i % 50)));
        new.params.insert(THRESHOLD_PARAM.into(), serde_json::json!(150.0));
        assert_eq!(threshold_of(&new, 10.0), 150.0);
        assert_eq!(compare(&old, &new, threshold_of(&new, 10.0)).change(), Some(Change::NoChange));
    }

    #[test]
    fn different_builds_warn() {
        let old = result("x", (0..10).map(|_| 100));
        let mut new = old.clone();
        new.environment.build_profile = "other".into();
        new.environment.cores += 1;
        assert_eq!(environment_warnings(&old, &new).len(), 2);
    }
}
