//! The diagnosis engine: benchmark results (and wire telemetry) in, findings out — each
//! with the measured figures, the thresholds they crossed and the action to take,
//! most severe first.
//!
//! It follows the predecessor's decision tree (exhaustion, contention, GIL, capacity,
//! I/O, network, round trips, references, nesting) with its errors about RPyC
//! corrected: returning a dict does not remove round trips (dicts and lists travel as
//! references), a server method calling `self.exposed_x()` is not nesting, CPU is read
//! per process tree and per core rather than for the whole machine, and the GIL is
//! shown by comparing a threaded with a forking server under the same load.
//!
//! ```
//! use rpycbench::profile::diagnosis::{diagnose, render_text, Thresholds};
//! # let results: Vec<rpycbench::metrics::BenchResult> = Vec::new();
//! let findings = diagnose(&results, &Thresholds::default());
//! print!("{}", render_text(&findings));
//! ```

mod cross;
mod finding;
mod limit;
mod render;
mod rules;
mod stall;
mod thresholds;
mod wire;

pub(crate) use finding::sort_findings;
pub use finding::{number, Comparison, Evidence, Finding, FindingId, Severity};
pub use render::{render_compact, render_text};
pub use thresholds::{Thresholds, ThresholdsError};
pub use wire::{MethodCost, OperationCost, WireEvidence};

use crate::metrics::BenchResult;

/// What to diagnose: results, telemetry, and threaded/forking pairs to compare.
///
/// ```
/// use rpycbench::profile::diagnosis::{Diagnosis, Thresholds, WireEvidence};
/// let telemetry = WireEvidence { operations: 10, round_trips: 230, ..WireEvidence::default() };
/// let findings = Diagnosis::new(Thresholds::default()).telemetry("report page", telemetry).findings();
/// assert_eq!(findings[0].id.as_str(), "excessive_round_trips");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Diagnosis<'a> {
    thresholds: Thresholds,
    results: Vec<&'a BenchResult>,
    telemetry: Vec<(String, WireEvidence)>,
    pairs: Vec<(&'a BenchResult, &'a BenchResult)>,
}

impl<'a> Diagnosis<'a> {
    /// Nothing to diagnose yet, with these thresholds.
    pub fn new(thresholds: Thresholds) -> Self {
        Diagnosis { thresholds, ..Diagnosis::default() }
    }

    /// Adds a result. Concurrent results on `python-threaded` and `python-forking`
    /// servers with the same base name and parameters are compared for the GIL.
    pub fn result(mut self, result: &'a BenchResult) -> Self {
        self.results.push(result);
        self
    }

    /// Adds results.
    pub fn results(mut self, results: impl IntoIterator<Item = &'a BenchResult>) -> Self {
        self.results.extend(results);
        self
    }

    /// Adds wire telemetry about `subject`. When `subject` is the name of an added
    /// result, it replaces that result's own (coarser) wire counters.
    pub fn telemetry(mut self, subject: impl Into<String>, wire: WireEvidence) -> Self {
        self.telemetry.push((subject.into(), wire));
        self
    }

    /// Compares the same concurrent load on a threaded and a forking server for GIL
    /// contention (pairs of Python servers named alike are found without this).
    pub fn compare_modes(mut self, threaded: &'a BenchResult, forking: &'a BenchResult) -> Self {
        self.pairs.push((threaded, forking));
        self
    }

    /// The findings, most severe first (then in decision-tree order, then by subject).
    pub fn findings(&self) -> Vec<Finding> {
        let t = &self.thresholds;
        let mut out = Vec::new();
        let mut pairs = cross::gil_pairs(&self.results);
        pairs.extend(self.pairs.iter().copied());
        for &r in &self.results {
            let telemetry = self.telemetry.iter().find(|(s, _)| *s == r.name).map(|(_, w)| w.clone());
            let wire = telemetry.or_else(|| r.wire.as_ref().map(WireEvidence::from));
            // A stall is the cause of its requests' slowness and of their tail: reported
            // instead of the queueing or "waits on something" they would otherwise suggest.
            let stalled = stall_of(&r.name, Some(r), wire.as_ref(), t);
            out.extend(rules::exhaustion(r, t));
            if stalled.is_none() {
                out.extend(rules::severe_contention(r, t));
            }
            out.extend(rules::server_at_capacity(r, t));
            // A threaded server with a forking twin is compared with it instead (below).
            if !pairs.iter().any(|(threaded, _)| std::ptr::eq(*threaded, r)) {
                out.extend(limit::one_core_at_a_time(r, &self.results, t));
            }
            out.extend(rules::machine_saturated(r, t));
            let limited = limit::concurrency_limit(r, &self.results, t);
            match (stalled, limited) {
                (Some(stalled), _) => out.push(stalled),
                // The line in front of the limit is why requests wait: not "I/O bound".
                (None, Some(limited)) => out.push(limited),
                (None, None) => out.extend(
                    rules::io_bound(r, wire.as_ref(), cross::floor_for(r, &self.results), t)
                        .or_else(|| limit::io_bound_by_overlap(r, &self.results, t)),
                ),
            }
            // The built-in service's chunked methods make their round trips on purpose.
            let builtin = r.params.get(crate::metrics::BUILTIN_METHODS_PARAM) == Some(&true.into());
            if let (Some(w), false) = (&wire, builtin) {
                out.extend(wire_findings(&r.name, w, t));
            }
        }
        for (subject, w) in &self.telemetry {
            if !self.results.iter().any(|r| r.name == *subject) {
                out.extend(stall_of(subject, None, Some(w), t));
                out.extend(wire_findings(subject, w, t));
            }
        }
        out.extend(cross::network_latency(&self.results, t));
        for (threaded, forking) in pairs {
            out.extend(cross::gil_contention(threaded, forking, t));
        }
        // Sorted first, so that the same finding about the same subject from two
        // sources (a result and its telemetry) sits side by side and is kept once.
        sort_findings(&mut out);
        out.dedup_by(|a, b| a.id == b.id && a.subject == b.subject);
        out
    }
}

/// The delayed-ACK stall of one subject: the calls its telemetry timed name the methods
/// that stalled and are read first, then the result's own distribution; messages seen
/// arriving in pieces confirm it, or show it when every request stalled.
fn stall_of(subject: &str, r: Option<&BenchResult>, wire: Option<&WireEvidence>, t: &Thresholds) -> Option<Finding> {
    // Read from telemetry: its calls, by method, give the stall under the telemetry's
    // own subject; once is enough.
    if r.is_some_and(crate::profile::is_from_telemetry) {
        return None;
    }
    let by_latency = wire
        .and_then(|w| stall::delayed_ack_stall_in_calls(subject, w, t))
        .or_else(|| r.and_then(|r| stall::delayed_ack_stall(r, t)));
    match (by_latency, wire) {
        (Some(mut f), Some(w)) => {
            stall::pieces_detail(&mut f, w);
            Some(f)
        }
        (by_latency, None) => by_latency,
        (None, Some(w)) => stall::delayed_ack_stall_in_pieces(subject, w, t),
    }
}

/// The wire findings of one subject, cause before symptom: when a callback chain or
/// reads through references explain the round trips, that finding leads and the round
/// trips follow as what it costs, pointing back at it instead of advising batching.
fn wire_findings(subject: &str, w: &WireEvidence, t: &Thresholds) -> Vec<Finding> {
    // Per method when telemetry tells the operations apart: an average over unrelated
    // calls would hide the one that costs.
    let mut round_trips = if w.per_operation.is_empty() {
        rules::excessive_round_trips(subject, w, t).into_iter().collect()
    } else {
        rules::excessive_round_trips_per_method(subject, w, t)
    };
    let mut references = rules::reference_overhead(subject, w, t);
    let nesting = rules::deep_nesting(subject, w, t);
    for rt in &mut round_trips {
        if nesting.is_some() {
            rt.severity = Severity::Info;
            rt.explanation.push_str(" Here they come from the callback chain (see deep nesting).");
            rt.action = "Undo the callback chain first (see deep nesting): each level is a round trip the outer \
                         request waits for; batching the calls around it does not remove them."
                .into();
        } else if let Some(refs) = &mut references {
            refs.severity = Severity::Warning;
            rt.severity = Severity::Info;
            rt.explanation.push_str(" Here they are reads through references (see reference overhead).");
        }
    }
    nesting.into_iter().chain(references).chain(round_trips).collect()
}

/// The findings for `results`, most severe first (see [`Diagnosis`] for telemetry and
/// explicit threaded/forking comparisons).
pub fn diagnose(results: &[BenchResult], thresholds: &Thresholds) -> Vec<Finding> {
    Diagnosis::new(thresholds.clone()).results(results).findings()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod stall_tests;

#[cfg(test)]
mod limit_tests;
