//! Attempts, successes and failures, counted separately, with the errors grouped.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Distinct error messages kept per result; more are counted under `errors_other`.
const MAX_DISTINCT_ERRORS: usize = 32;
/// Longest message kept, in characters (tracebacks are long).
const MAX_MESSAGE_CHARS: usize = 300;

/// Counts outcomes while a benchmark runs. Memory is bounded whatever the failure mix.
#[derive(Clone, Debug, Default)]
pub struct OutcomeCounter {
    attempts: u64,
    failures: u64,
    late_starts: u64,
    errors: HashMap<String, u64>,
    errors_other: u64,
    /// Outcomes not yet in the process's progress total (see `metrics::progress`).
    progress: super::progress::Unpublished,
}

impl OutcomeCounter {
    /// A counter whose every outcome shows in the progress total at once: for
    /// operations slow enough (a payload moved, a connection opened) that a batch of
    /// them would leave a progress display standing still.
    pub fn per_operation() -> OutcomeCounter {
        OutcomeCounter { progress: super::progress::Unpublished::each(), ..OutcomeCounter::default() }
    }

    /// A success.
    #[inline]
    pub fn success(&mut self) {
        self.attempts += 1;
        self.progress.one();
    }

    /// A failure, grouped by its message (the first line only: tracebacks differ).
    pub fn failure(&mut self, message: &str) {
        self.attempts += 1;
        self.progress.one();
        self.failures += 1;
        let first_line = message.lines().next().unwrap_or("");
        let key: String = first_line.chars().take(MAX_MESSAGE_CHARS).collect();
        if let Some(n) = self.errors.get_mut(&key) {
            *n += 1;
        } else if self.errors.len() < MAX_DISTINCT_ERRORS {
            self.errors.insert(key, 1);
        } else {
            self.errors_other += 1;
        }
    }

    /// A request of an open-loop schedule that was sent late (see [`Outcomes::late_starts`]).
    pub fn late_start(&mut self) {
        self.late_starts += 1;
    }

    /// Adds another counter's counts.
    pub fn merge(&mut self, other: &OutcomeCounter) {
        self.attempts += other.attempts;
        self.failures += other.failures;
        self.late_starts += other.late_starts;
        self.errors_other += other.errors_other;
        for (message, n) in &other.errors {
            if let Some(mine) = self.errors.get_mut(message) {
                *mine += n;
            } else if self.errors.len() < MAX_DISTINCT_ERRORS {
                self.errors.insert(message.clone(), *n);
            } else {
                self.errors_other += n;
            }
        }
    }

    /// Attempts so far.
    pub fn attempts(&self) -> u64 {
        self.attempts
    }

    /// Failures so far.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// The final figures.
    pub fn outcomes(&self) -> Outcomes {
        let successes = self.attempts - self.failures;
        let mut errors: Vec<ErrorCount> =
            self.errors.iter().map(|(message, &count)| ErrorCount { message: message.clone(), count }).collect();
        errors.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.message.cmp(&b.message)));
        Outcomes {
            attempts: self.attempts,
            successes,
            failures: self.failures,
            success_rate: if self.attempts == 0 { 0.0 } else { successes as f64 / self.attempts as f64 },
            late_starts: self.late_starts,
            errors,
            errors_other: self.errors_other,
        }
    }
}

/// What happened to the requests of a run. A refused connection, a timeout and a
/// remote exception are all failures; `success_rate` is `successes / attempts`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Outcomes {
    /// Requests attempted (including those whose connection could not be opened).
    pub attempts: u64,
    /// Requests that returned normally.
    pub successes: u64,
    /// Requests that failed.
    pub failures: u64,
    /// `successes / attempts` (0 when nothing was attempted).
    pub success_rate: f64,
    /// Open loop only: requests sent more than the lateness threshold after their
    /// scheduled start, because the client was still waiting for an earlier reply.
    pub late_starts: u64,
    /// Failures grouped by first line of the error, most frequent first.
    pub errors: Vec<ErrorCount>,
    /// Failures whose message did not fit in the kept groups.
    pub errors_other: u64,
}

impl Outcomes {
    /// The outcomes of several runs taken together (`rpycbench merge`): counts added,
    /// identical errors grouped, the same bound on distinct messages as one run has
    /// (the least frequent go to `errors_other`).
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a Outcomes>) -> Outcomes {
        let (mut attempts, mut successes, mut failures, mut late_starts, mut errors_other) = (0, 0, 0, 0, 0);
        let mut groups: HashMap<&str, u64> = HashMap::new();
        for o in all {
            attempts += o.attempts;
            successes += o.successes;
            failures += o.failures;
            late_starts += o.late_starts;
            errors_other += o.errors_other;
            for e in &o.errors {
                *groups.entry(e.message.as_str()).or_default() += e.count;
            }
        }
        let mut errors: Vec<ErrorCount> =
            groups.into_iter().map(|(message, count)| ErrorCount { message: message.to_owned(), count }).collect();
        errors.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.message.cmp(&b.message)));
        errors_other += errors.iter().skip(MAX_DISTINCT_ERRORS).map(|e| e.count).sum::<u64>();
        errors.truncate(MAX_DISTINCT_ERRORS);
        Outcomes {
            attempts,
            successes,
            failures,
            success_rate: if attempts == 0 { 0.0 } else { successes as f64 / attempts as f64 },
            late_starts,
            errors,
            errors_other,
        }
    }
}

/// One group of identical failures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorCount {
    /// The error's first line.
    pub message: String,
    /// How many requests failed with it.
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_rate_comes_from_attempts() {
        let mut c = OutcomeCounter::default();
        for i in 0..100 {
            if i % 4 == 0 {
                c.success();
            } else {
                c.failure("boom");
            }
        }
        let o = c.outcomes();
        assert_eq!((o.attempts, o.successes, o.failures), (100, 25, 75));
        assert_eq!(o.success_rate, 0.25);
        assert_eq!(o.errors, vec![ErrorCount { message: "boom".into(), count: 75 }]);
    }

    #[test]
    fn sums_add_counts_and_group_identical_errors() {
        let mut a = OutcomeCounter::default();
        let mut b = OutcomeCounter::default();
        a.success();
        a.failure("boom");
        b.failure("boom");
        b.failure("bang");
        b.late_start();
        let sum = Outcomes::sum([&a.outcomes(), &b.outcomes()]);
        assert_eq!((sum.attempts, sum.successes, sum.failures, sum.late_starts), (4, 1, 3, 1));
        assert_eq!(sum.success_rate, 0.25);
        let groups: Vec<(&str, u64)> = sum.errors.iter().map(|e| (e.message.as_str(), e.count)).collect();
        assert_eq!(groups, [("boom", 2), ("bang", 1)]);
    }

    #[test]
    fn error_groups_are_bounded() {
        let mut c = OutcomeCounter::default();
        for i in 0..1000 {
            c.failure(&format!("error {i}\ntraceback"));
        }
        let o = c.outcomes();
        assert_eq!(o.errors.len(), MAX_DISTINCT_ERRORS);
        assert_eq!(o.errors_other, 1000 - MAX_DISTINCT_ERRORS as u64);
    }
}
