//! Comparing results with earlier ones, benchmark by benchmark: the median latency of
//! each distribution a result holds (one for latency, connection and concurrent runs,
//! one per payload size for bandwidth and transfer runs), and the exact wire counts.

use super::bootstrap::{within_run, Sample};
use super::interval::{Change, Method, RatioInterval, CONFIDENCE};
use crate::metrics::{format_bytes, format_ns, BenchResult, Environment, LatencyStats, ResultSet};
use std::fmt::Write;

/// The parameter under which the harness records a benchmark's own threshold, so that
/// `rpycbench compare` applies it too.
pub const THRESHOLD_PARAM: &str = "regression_pct";

/// One distribution's comparison.
#[derive(Clone, Debug)]
pub struct SeriesComparison {
    /// What it is: `p50`, or `upload 1 MiB p50` for a size of a bandwidth run.
    pub label: String,
    /// Old median, ns.
    pub old_ns: u64,
    /// New median, ns.
    pub new_ns: u64,
    /// The interval of new/old; `None` when not comparable.
    pub interval: Option<RatioInterval>,
    /// The verdict; `None` when not comparable.
    pub change: Option<Change>,
    /// Why the verdict is weaker than the interval alone would say, if it is.
    pub note: Option<String>,
}

/// A wire count per measured request, compared exactly: no noise, no statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct WireComparison {
    /// `round trips per request`, `references per request`, `bytes per request`.
    pub what: &'static str,
    /// Before.
    pub old: f64,
    /// After.
    pub new: f64,
    /// Whether it counts as a regression.
    pub regressed: bool,
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
    /// The wire counts, when both sides have them.
    pub wire: Vec<WireComparison>,
}

impl BenchComparison {
    /// The benchmark's verdict: regressed if a distribution or a wire count regressed;
    /// else inconclusive if a distribution was; else improved if one improved; else no
    /// change. `None` when nothing could be compared.
    pub fn change(&self) -> Option<Change> {
        let mut changes: Vec<Change> = self.series.iter().filter_map(|s| s.change).collect();
        if self.wire.iter().any(|w| w.regressed) {
            changes.push(Change::Regressed);
        } else if !self.wire.is_empty() {
            changes.push(Change::NoChange);
        }
        [Change::Regressed, Change::Inconclusive, Change::Improved, Change::NoChange]
            .into_iter()
            .find(|c| changes.contains(c))
    }

    /// The distributions that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &SeriesComparison> {
        self.series.iter().filter(|s| s.change == Some(Change::Regressed))
    }

    /// One line per distribution and per wire count that changed.
    pub fn describe(&self) -> Vec<String> {
        let series = self.series.iter().map(|s| s.describe(self.threshold_pct));
        let wire = self.wire.iter().filter(|w| w.worth_a_line()).map(WireComparison::describe);
        series.chain(wire).collect()
    }
}

impl WireComparison {
    /// Whether the change deserves a line: any change of an exact count, and bytes per
    /// request when they moved by more than 1 % (a run's sequence numbers grow a byte
    /// longer now and then, so bytes per request wobble by a fraction of a byte).
    pub fn worth_a_line(&self) -> bool {
        self.regressed
            || match self.what {
                "bytes per request" => (self.new - self.old).abs() > 0.01 * self.old.abs(),
                _ => self.old != self.new,
            }
    }

    /// `round trips per request 1 → 3: REGRESSED`.
    pub fn describe(&self) -> String {
        let verdict = if self.regressed { "REGRESSED" } else { "changed" };
        format!("{} {} → {}: {verdict}", self.what, trim(self.old), trim(self.new))
    }
}

/// `1`, `1.5`, `2.33`: a count per request without trailing zeros.
fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

impl SeriesComparison {
    /// `p50 250 µs -> 512 µs: +104.8 % (95 % CI +98.1 % to +111.0 %, 10 rounds each): REGRESSED (threshold 10 %)`.
    pub fn describe(&self, threshold_pct: f64) -> String {
        let mut line = format!("{} {} -> {}", self.label, format_ns(self.old_ns), format_ns(self.new_ns));
        match (self.interval, self.change) {
            (Some(ci), Some(change)) => {
                let verdict = match change {
                    Change::Regressed => "REGRESSED".to_owned(),
                    Change::Improved => "improved".to_owned(),
                    Change::NoChange => "no change".to_owned(),
                    Change::Inconclusive => match &self.note {
                        Some(why) => format!("INCONCLUSIVE: {why}"),
                        None => format!("INCONCLUSIVE: too noisy (±{:.1} %)", ci.noise_pct()),
                    },
                };
                let basis = match ci.method {
                    Method::Rounds { old, new } => format!(", rounds {old} vs {new}"),
                    Method::Paired { pairs } => format!(", {pairs} pairs"),
                    Method::WithinRun => ", within-run".to_owned(),
                };
                let _ = write!(
                    line,
                    ": {} ({:.0} % CI {} to {}{basis}): {verdict} (threshold {threshold_pct} %)",
                    signed_pct(ci.ratio),
                    CONFIDENCE * 100.0,
                    signed_pct(ci.lower),
                    signed_pct(ci.upper),
                );
                if let (Some(note), false) = (&self.note, change == Change::Inconclusive) {
                    let _ = write!(line, "; {note}");
                }
            }
            _ => {
                let why = self.note.as_deref().unwrap_or("no successful requests on one side");
                let _ = write!(line, ": not comparable ({why})");
            }
        }
        line
    }
}

/// `1.048` as `+4.8 %`.
pub(crate) fn signed_pct(ratio: f64) -> String {
    format!("{:+.1} %", (ratio - 1.0) * 100.0)
}

/// The threshold for `result`: its own (recorded by the harness), else `default_pct`.
pub(crate) fn threshold_of(result: &BenchResult, default_pct: f64) -> f64 {
    result.params.get(THRESHOLD_PARAM).and_then(serde_json::Value::as_f64).unwrap_or(default_pct)
}

/// What else a comparison takes into account.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Options {
    /// Divide each latency ratio by the machine's own change (its reference round trip),
    /// for a baseline recorded on another machine.
    pub normalize: bool,
}

/// Compares two results of the same benchmark.
pub fn compare(old: &BenchResult, new: &BenchResult, threshold_pct: f64) -> BenchComparison {
    compare_with(old, new, threshold_pct, Options::default())
}

/// [`compare`] with [`Options`].
pub fn compare_with(old: &BenchResult, new: &BenchResult, threshold_pct: f64, options: Options) -> BenchComparison {
    if let Some(note) = no_attempts(old, new) {
        // Empty runs hold no latency to compare and wire counts of nothing; comparing
        // them would call two failures to run "no change".
        let series = vec![SeriesComparison {
            label: "p50".into(),
            old_ns: old.latency.as_ref().map_or(0, |l| l.p50_ns),
            new_ns: new.latency.as_ref().map_or(0, |l| l.p50_ns),
            interval: None,
            change: None,
            note: Some(note),
        }];
        return BenchComparison { name: new.name.clone(), threshold_pct, series, wire: Vec::new() };
    }
    let machine = super::machine_shift(old, new);
    let judge = |label: String, o: &LatencyStats, n: &LatencyStats| {
        compare_stats(label, o, n, threshold_pct, machine.filter(|_| options.normalize))
    };
    let mut series = Vec::new();
    match (&old.latency, &new.latency) {
        (Some(o), Some(n)) => series.push(judge("p50".into(), o, n)),
        _ => {
            for n in &new.sizes {
                let same = |o: &&crate::metrics::SizeResult| {
                    o.direction == n.direction && o.size_bytes == n.size_bytes && o.chunk_bytes == n.chunk_bytes
                };
                if let Some(o) = old.sizes.iter().find(same) {
                    let chunk = n.chunk_bytes.map(|c| format!(" in {} chunks", format_bytes(c))).unwrap_or_default();
                    let label = format!("{} {}{chunk} p50", n.direction, format_bytes(n.size_bytes));
                    series.push(judge(label, &o.latency, &n.latency));
                }
            }
        }
    }
    // Under different loads the scheduler places client and server differently, which
    // moves each round trip by the placement's price. Where that could be half the
    // threshold of a request, the verdict would be the machine's, not the code's.
    if let (Some(effect), false) = (super::machine_effect(old, new), options.normalize) {
        for s in &mut series {
            let share = effect as f64 / s.old_ns.max(1) as f64;
            if s.change.is_some() && share * 100.0 >= threshold_pct / 2.0 {
                s.change = Some(Change::Inconclusive);
                s.note = Some(format!(
                    "the runs were made under different loads, which alone can move a request of this size by \
                     about {:.0} %: compare runs made alike",
                    share * 100.0
                ));
            }
        }
    }
    BenchComparison { name: new.name.clone(), threshold_pct, series, wire: compare_wire(old, new, threshold_pct) }
}

/// Why two results cannot be compared at all: a run that attempted no request.
fn no_attempts(old: &BenchResult, new: &BenchResult) -> Option<String> {
    let which = match (old.outcomes.attempts == 0, new.outcomes.attempts == 0) {
        (false, false) => return None,
        (true, true) => "either run",
        (true, false) => "the old run",
        (false, true) => "the new run",
    };
    Some(format!("no request was attempted in {which}"))
}

fn compare_stats(
    label: String,
    old: &LatencyStats,
    new: &LatencyStats,
    threshold_pct: f64,
    normalize_by: Option<f64>,
) -> SeriesComparison {
    let medians = |s: &LatencyStats| s.rounds.iter().filter(|r| r.count > 0).map(|r| r.p50_ns).collect::<Vec<_>>();
    let mut note = None;
    let interval = match RatioInterval::between_rounds(&medians(old), &medians(new)) {
        Some(ci) => Some(ci),
        None => {
            // A histogram that does not decode is compared as empty: not comparable,
            // never a false regression.
            let sample = |s: &LatencyStats| s.histogram().map(|h| Sample::from_histogram(&h)).ok();
            sample(old).zip(sample(new)).and_then(|(o, n)| within_run(&o, &n))
        }
    };
    let interval = interval.map(|ci| normalize_by.map_or(ci, |f| ci.normalized(f)));
    let mut change = interval.map(|ci| ci.change(threshold_pct / 100.0));
    if let (Some(ci), Some(Change::Regressed)) = (interval, change) {
        if ci.method == Method::WithinRun {
            // The interval of one run's requests ignores run-to-run noise: not enough to
            // call a regression.
            change = Some(Change::Inconclusive);
            note = Some("no rounds on one side: the interval cannot see run-to-run noise (record again)".into());
        }
    }
    if let (Some(f), None) = (normalize_by, &note) {
        note = Some(format!("normalised by the machine's change, {}", signed_pct(f)));
    }
    SeriesComparison { label, old_ns: old.p50_ns, new_ns: new.p50_ns, interval, change, note }
}

/// Round trips and references per request must not rise at all; bytes per request not
/// beyond the threshold.
fn compare_wire(old: &BenchResult, new: &BenchResult, threshold_pct: f64) -> Vec<WireComparison> {
    let (Some(o), Some(n)) = (&old.wire, &new.wire) else { return Vec::new() };
    if o.measured_requests == 0 || n.measured_requests == 0 {
        return Vec::new();
    }
    let per = |x: u64, requests: u64| x as f64 / requests as f64;
    // Counts are exact, but a per-request figure of a run is a quotient: a rise smaller
    // than this is rounding.
    const EPSILON: f64 = 1e-9;
    let exact = |what, old: f64, new: f64| WireComparison { what, old, new, regressed: new > old + EPSILON };
    vec![
        exact("round trips per request", o.round_trips_per_request, n.round_trips_per_request),
        exact(
            "references per request",
            per(o.refs_received, o.measured_requests),
            per(n.refs_received, n.measured_requests),
        ),
        WireComparison {
            what: "bytes per request",
            old: o.bytes_per_request,
            new: n.bytes_per_request,
            regressed: n.bytes_per_request > o.bytes_per_request * (1.0 + threshold_pct / 100.0),
        },
    ]
}

/// Loud warnings when two results are not comparable as they stand: different
/// machines, build profiles or modes, or a machine that moved between them.
pub(crate) fn environment_warnings(old: &BenchResult, new: &BenchResult) -> Vec<String> {
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
    if let Some(line) = super::machine_warning(old, new, threshold_of(new, threshold_of(old, 10.0))) {
        warnings.push(line);
    }
    if let Some(line) = remote_warning(old, new) {
        warnings.push(line);
    }
    warnings
}

/// A server here against one on another host, or reached another way: the network is
/// part of every figure.
fn remote_warning(old: &BenchResult, new: &BenchResult) -> Option<String> {
    let place = |r: &BenchResult| match &r.server.remote {
        Some(remote) => format!("on {} via {}", remote.host, remote.via),
        None => "on the measuring machine".to_owned(),
    };
    let (was, is) = (place(old), place(new));
    (was != is).then(|| {
        format!(
            "WARNING: the baseline's server ran {was}, this run's {is}: the network's round trip is part of every \
             latency, so the difference may be the network's"
        )
    })
}

/// Two whole collections compared.
#[derive(Clone, Debug, Default)]
pub struct SetComparison {
    /// Benchmarks present in both.
    pub benches: Vec<BenchComparison>,
    /// Names only in the old collection: missing from the new run.
    pub only_old: Vec<String>,
    /// Names only in the new collection.
    pub only_new: Vec<String>,
    /// Environment warnings, each once.
    pub warnings: Vec<String>,
}

/// How many benchmarks came out each way (per benchmark, the same everywhere).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Regressed.
    pub regressed: usize,
    /// Improved.
    pub improved: usize,
    /// No change.
    pub unchanged: usize,
    /// Inconclusive (too noisy).
    pub inconclusive: usize,
    /// Not comparable.
    pub not_comparable: usize,
}

impl SetComparison {
    /// Whether any benchmark regressed.
    pub fn regressed(&self) -> bool {
        self.counts().regressed > 0
    }

    /// Whether the gate lacks what it should compare: no benchmark in common, or a
    /// baseline benchmark the new run does not have.
    pub fn missing(&self) -> bool {
        self.benches.is_empty() || !self.only_old.is_empty()
    }

    /// Benchmarks by verdict.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for b in &self.benches {
            match b.change() {
                Some(Change::Regressed) => c.regressed += 1,
                Some(Change::Improved) => c.improved += 1,
                Some(Change::NoChange) => c.unchanged += 1,
                Some(Change::Inconclusive) => c.inconclusive += 1,
                None => c.not_comparable += 1,
            }
        }
        c
    }
}

impl Counts {
    /// `2 regressed, 1 improved, 5 unchanged, 1 inconclusive, 0 not comparable`.
    pub fn line(&self) -> String {
        format!(
            "{} regressed, {} improved, {} unchanged, {} inconclusive, {} not comparable",
            self.regressed, self.improved, self.unchanged, self.inconclusive, self.not_comparable
        )
    }
}

/// Compares every benchmark of `new` with the one of the same name in `old`.
pub fn compare_sets(old: &ResultSet, new: &ResultSet, default_pct: f64) -> SetComparison {
    compare_sets_with(old, new, default_pct, Options::default())
}

/// [`compare_sets`] with [`Options`].
pub fn compare_sets_with(old: &ResultSet, new: &ResultSet, default_pct: f64, options: Options) -> SetComparison {
    let mut out = SetComparison::default();
    for n in &new.results {
        match old.get(&n.name) {
            Some(o) => {
                for w in environment_warnings(o, n) {
                    if !out.warnings.contains(&w) {
                        out.warnings.push(w);
                    }
                }
                out.benches.push(compare_with(o, n, threshold_of(n, threshold_of(o, default_pct)), options));
            }
            None => out.only_new.push(n.name.clone()),
        }
    }
    out.only_old = old.results.iter().filter(|o| new.get(&o.name).is_none()).map(|o| o.name.clone()).collect();
    out
}
