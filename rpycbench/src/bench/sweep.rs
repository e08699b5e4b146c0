//! The sweep: benchmark steps over one parameter (clients, payload size, server mode,
//! anything), in order, until one crosses a limit — the cookbook's "find the limit".
//!
//! The caller runs each step (it knows how: which server, which kind, which progress to
//! show) and hands its result to [`Sweep::record`]; the sweep tags it with the parameter
//! and value (`params.sweep_parameter`, `params.sweep_value`, read back by reports and
//! charts), checks the limits, marks the crossing step (`params.sweep_limit`) and says
//! when to stop. `rpycbench sweep` and `examples/find_the_limit.rs` are both built on it.

use crate::metrics::sla::{evaluate, Sla, Stat};
use crate::metrics::{BenchResult, SWEEP_LIMIT, SWEEP_PARAMETER, SWEEP_VALUE};

/// A sweep in progress. Limits are SLAs: a lower bound such as the success rate is
/// crossed from above, an upper bound such as p99 from below.
///
/// ```no_run
/// use rpycbench::bench::{Concurrent, Sweep, Target};
/// use rpycbench::metrics::sla::Stat;
/// use rpycbench::server::{ServerMode, ServerSpec};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = ServerSpec::new(ServerMode::Threaded).max_connections(6).start()?;
/// let target = Target::server(&server);
/// let mut sweep = Sweep::new("clients").limit(Stat::MinSuccessRate, 0.95).limit(Stat::P99Ms, 250.0);
/// for clients in [1, 2, 4, 8, 16] {
///     let result = Concurrent::new(format!("io_work[clients={clients}]"))
///         .clients(clients)
///         .run(&target, |c| c.call("io_work", (0.002,)).map(drop));
///     if let Some(limit) = sweep.record(clients, result) {
///         println!("limit reached at {clients} clients: {limit}");
///         break;
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Sweep {
    parameter: String,
    limits: Vec<Sla>,
    steps: Vec<BenchResult>,
    crossed: Option<String>,
}

impl Sweep {
    /// A sweep over `parameter` (the name results and charts show), with no limits yet.
    pub fn new(parameter: impl Into<String>) -> Sweep {
        Sweep { parameter: parameter.into(), limits: Vec::new(), steps: Vec::new(), crossed: None }
    }

    /// Stops the sweep at the first step whose `stat` is beyond `bound`.
    pub fn limit(mut self, stat: Stat, bound: f64) -> Sweep {
        self.limits.push(Sla { stat, bound });
        self
    }

    /// The swept parameter's name.
    pub fn parameter(&self) -> &str {
        &self.parameter
    }

    /// Records one step's result, measured at `value`: returns the limit it crossed
    /// (`p99 = 312 ms > 250 ms`), after which the sweep is over.
    ///
    /// Without any `min_success_rate` limit, failed requests do not end a sweep: they are
    /// what a sweep that sets one looks for.
    pub fn record(&mut self, value: impl Into<serde_json::Value>, mut result: BenchResult) -> Option<&str> {
        result.params.insert(SWEEP_PARAMETER.into(), self.parameter.clone().into());
        result.params.insert(SWEEP_VALUE.into(), value.into());
        let crossed = self.check(&result);
        if let Some(limit) = &crossed {
            result.params.insert(SWEEP_LIMIT.into(), limit.clone().into());
        }
        self.steps.push(result);
        self.crossed = crossed;
        self.crossed.as_deref()
    }

    /// Whether a step crossed a limit.
    pub fn is_over(&self) -> bool {
        self.crossed.is_some()
    }

    /// The limit crossed, by the last step recorded.
    pub fn crossed(&self) -> Option<&str> {
        self.crossed.as_deref()
    }

    /// The steps' results, in order.
    pub fn results(&self) -> &[BenchResult] {
        &self.steps
    }

    /// The steps' results, for a result file.
    pub fn into_results(self) -> Vec<BenchResult> {
        self.steps
    }

    /// The first limit the result is beyond, written as a relation.
    fn check(&self, result: &BenchResult) -> Option<String> {
        evaluate(&self.limits, result)
            .into_iter()
            // `evaluate` adds "every request succeeds" (undeclared) when no success rate is
            // bounded; a sweep bounds only what it was given.
            .filter(|c| c.declared)
            .find(|c| !c.passed())
            .map(|c| c.relation())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{BenchKind, LatencyHistogram, Outcomes};

    /// A concurrent result: 100 requests, `success_rate` of them answered, p99 as given.
    fn step(success_rate: f64, p99_ms: f64) -> BenchResult {
        let mut h = LatencyHistogram::new();
        for _ in 0..100 {
            h.record_ns((p99_ms * 1e6) as u64);
        }
        let successes = (success_rate * 100.0) as u64;
        let mut r = BenchResult::for_test("step", BenchKind::Concurrent, "threaded", &h, 1_000_000_000);
        r.outcomes = Outcomes { successes, failures: 100 - successes, success_rate, ..r.outcomes };
        r
    }

    #[test]
    fn steps_are_tagged_and_the_first_crossing_ends_the_sweep() {
        let mut sweep = Sweep::new("clients").limit(Stat::MinSuccessRate, 0.95).limit(Stat::P99Ms, 10.0);
        assert_eq!(sweep.record(1, step(1.0, 2.0)), None);
        assert_eq!(sweep.record(2, step(0.99, 9.0)), None);
        assert!(!sweep.is_over());
        let limit = sweep.record(4, step(0.99, 12.5)).map(str::to_owned);
        assert_eq!(limit.as_deref(), Some("p99 = 12.5 ms > 10.0 ms"));
        assert!(sweep.is_over());
        let results = sweep.results();
        assert_eq!(results.len(), 3);
        assert_eq!(results[2].params[SWEEP_VALUE], 4);
        assert_eq!(results[0].params[SWEEP_PARAMETER], "clients");
        assert!(results[2].params.contains_key(SWEEP_LIMIT) && !results[1].params.contains_key(SWEEP_LIMIT));
    }

    #[test]
    fn failures_end_a_sweep_only_when_a_success_rate_is_bounded() {
        let mut latency_only = Sweep::new("payload").limit(Stat::P99Ms, 10.0);
        assert_eq!(latency_only.record(1024, step(0.5, 2.0)), None);
        let mut with_rate = Sweep::new("payload").limit(Stat::MinSuccessRate, 0.95);
        assert!(with_rate.record(1024, step(0.5, 2.0)).is_some_and(|l| l.starts_with("success rate")));
    }
}
