//! The outcome of each benchmark and of the whole run, kept distinct in the output and
//! in the exit status, so a CI job can tell "too slow" from "slower than before" from
//! "misconfigured".

use crate::metrics::compare::{BenchComparison, Change, InconclusivePolicy};
use crate::metrics::sla::SlaCheck;
use crate::metrics::BenchResult;
use std::process::ExitCode;

/// Exit status: an SLA was violated.
pub const EXIT_SLA_VIOLATED: u8 = 10;
/// Exit status: a benchmark regressed against the baseline.
pub const EXIT_REGRESSED: u8 = 11;
/// Exit status: the baseline (or a benchmark's entry in it) is missing.
pub const EXIT_BASELINE_MISSING: u8 = 12;
/// Exit status: a baseline file is corrupt, of an unknown schema, or cannot be read or
/// written. The file is never overwritten.
pub const EXIT_BASELINE_UNUSABLE: u8 = 13;
/// Exit status: a comparison was too noisy to tell whether the threshold was crossed
/// (with the `fail` policy for inconclusive verdicts).
pub const EXIT_INCONCLUSIVE: u8 = 14;
/// Exit status (`rpycbench compare`): benchmarks of the old results are missing from
/// the new ones, or the two have none in common.
pub const EXIT_MISSING_BENCHMARKS: u8 = 15;
/// Exit status: a benchmark could not run (its server did not start, every request
/// failed, …) — libtest's own failure status.
pub const EXIT_FAILED: u8 = 101;
/// Exit status: the command line is wrong.
pub const EXIT_USAGE: u8 = 2;

/// What happened to one benchmark.
#[derive(Debug, Default)]
pub struct Record {
    /// The test name, e.g. `ping[threaded]`.
    pub name: String,
    /// What it measured, when it ran.
    pub result: Option<BenchResult>,
    /// Every bound checked.
    pub checks: Vec<SlaCheck>,
    /// Whether SLAs and regressions count (not in quick mode).
    pub enforced: bool,
    /// The comparison with the baseline, when there was one.
    pub comparison: Option<BenchComparison>,
    /// The baseline has no entry for this benchmark (and that is an error).
    pub baseline_missing: bool,
    /// What an inconclusive comparison does.
    pub inconclusive_policy: InconclusivePolicy,
    /// Why it could not run.
    pub error: Option<String>,
}

impl Record {
    /// Whether an SLA was violated (enforced or not).
    pub fn sla_violated(&self) -> bool {
        self.checks.iter().any(|c| !c.passed())
    }

    /// Whether it regressed against the baseline (enforced or not).
    pub fn regressed(&self) -> bool {
        self.comparison.as_ref().is_some_and(|c| c.change() == Some(Change::Regressed))
    }

    /// Whether its comparison was too noisy to tell.
    pub fn inconclusive(&self) -> bool {
        self.comparison.as_ref().is_some_and(|c| c.change() == Some(Change::Inconclusive))
    }

    /// Whether this benchmark fails the run.
    pub fn failed(&self) -> bool {
        !self.failures().is_empty()
    }

    /// The outcomes that fail the run, most severe first.
    fn failures(&self) -> Vec<(&'static str, u8)> {
        let mut out = Vec::new();
        if self.error.is_some() {
            out.push(("could not run", EXIT_FAILED));
        }
        if self.baseline_missing {
            out.push(("baseline missing", EXIT_BASELINE_MISSING));
        }
        if self.enforced && self.sla_violated() {
            out.push(("SLA violated", EXIT_SLA_VIOLATED));
        }
        if self.enforced && self.regressed() {
            out.push(("regressed", EXIT_REGRESSED));
        }
        if self.enforced && self.inconclusive() && self.inconclusive_policy == InconclusivePolicy::Fail {
            out.push(("inconclusive", EXIT_INCONCLUSIVE));
        }
        out
    }

    /// `passed`, `SLA violated`, `regressed`, `SLA violated, regressed`, `baseline
    /// missing`, `could not run`, or `passed (…)`.
    pub fn status(&self) -> String {
        let failures = self.failures();
        if !failures.is_empty() {
            return failures.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(", ");
        }
        let mut notes = Vec::new();
        if self.sla_violated() {
            notes.push("SLA not enforced in quick mode");
        }
        if self.regressed() {
            notes.push("regression not enforced in quick mode");
        }
        if self.inconclusive() {
            notes.push("comparison inconclusive: too noisy to tell");
        }
        match self.comparison.as_ref().and_then(BenchComparison::change) {
            Some(Change::Improved) => notes.push("improved"),
            _ if notes.is_empty() => return "passed".into(),
            _ => {}
        }
        format!("passed ({})", notes.join(", "))
    }

    /// The status with the first violated bound, for the summary table.
    pub fn status_with_reason(&self) -> String {
        let status = self.status();
        match self.checks.iter().find(|c| !c.passed()) {
            Some(c) => {
                let message = c.message(&self.name);
                format!("{status}: {}", message.strip_prefix("SLA violated: ").unwrap_or(&message))
            }
            None => status,
        }
    }
}

/// The run's exit status: 0 when everything passed, else the first that applies of
/// 13 (baseline unusable), 12 (baseline missing), 101 (could not run), 10 (SLA
/// violated), 11 (regressed), 14 (inconclusive). `unaccounted` counts failed tests
/// without a record (a
/// panic in the harness itself).
pub fn exit_code(records: &[Record], unaccounted: u64, baseline_unusable: bool) -> ExitCode {
    let mut codes: Vec<u8> = records.iter().flat_map(|r| r.failures().into_iter().map(|(_, c)| c)).collect();
    if unaccounted > 0 {
        codes.push(EXIT_FAILED);
    }
    if baseline_unusable {
        codes.push(EXIT_BASELINE_UNUSABLE);
    }
    let order = [
        EXIT_BASELINE_UNUSABLE,
        EXIT_BASELINE_MISSING,
        EXIT_FAILED,
        EXIT_SLA_VIOLATED,
        EXIT_REGRESSED,
        EXIT_INCONCLUSIVE,
    ];
    order.into_iter().find(|c| codes.contains(c)).map_or(ExitCode::SUCCESS, ExitCode::from)
}

/// `3 passed, 1 SLA violated (ping[threaded]), 1 regressed (fetch[forking])`.
pub fn summary(records: &[Record]) -> String {
    let mut parts = Vec::new();
    let passed = records.iter().filter(|r| r.failures().is_empty()).count();
    parts.push(format!("{passed} passed"));
    for what in ["SLA violated", "regressed", "inconclusive", "baseline missing", "could not run"] {
        let names: Vec<&str> =
            records.iter().filter(|r| r.failures().iter().any(|(s, _)| *s == what)).map(|r| r.name.as_str()).collect();
        if !names.is_empty() {
            parts.push(format!("{} {what} ({})", names.len(), names.join(", ")));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::registry::{Sla, Stat};

    fn violated() -> SlaCheck {
        SlaCheck {
            sla: Sla { stat: Stat::P99Ms, bound: 1.0 },
            measured: Some(5.0),
            declared: true,
            sample: (10, "requests"),
        }
    }

    #[test]
    fn quick_mode_reports_but_does_not_fail() {
        let quick = Record { name: "a".into(), checks: vec![violated()], enforced: false, ..Record::default() };
        assert_eq!(quick.status(), "passed (SLA not enforced in quick mode)");
        assert_eq!(exit_code(&[quick], 0, false), ExitCode::SUCCESS);
    }

    #[test]
    fn outcomes_have_their_own_status() {
        let sla = Record { name: "a".into(), checks: vec![violated()], enforced: true, ..Record::default() };
        assert_eq!(sla.status(), "SLA violated");
        assert_eq!(exit_code(&[sla], 0, false), ExitCode::from(EXIT_SLA_VIOLATED));
        let missing = Record { name: "b".into(), baseline_missing: true, enforced: true, ..Record::default() };
        assert_eq!(exit_code(&[missing], 0, false), ExitCode::from(EXIT_BASELINE_MISSING));
        assert_eq!(exit_code(&[], 0, true), ExitCode::from(EXIT_BASELINE_UNUSABLE));
        assert_eq!(exit_code(&[], 1, false), ExitCode::from(EXIT_FAILED));
        assert_eq!(exit_code(&[], 0, false), ExitCode::SUCCESS);
    }
}
