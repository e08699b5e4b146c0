//! One benchmark against one server, as one test: start the server, run, stop it,
//! check the SLAs and the baseline, say what happened.

use super::kinds::{self, Scale};
use super::outcome::Record;
use super::output::figures;
use super::registry::{BenchDef, ServerChoice, Stat};
use super::runner::Shared;
use super::servers;
use crate::metrics::compare::{compare, environment_warnings, signed_pct, Change, THRESHOLD_PARAM};
use crate::metrics::format_ms;
use crate::metrics::sla;
use crate::metrics::BenchResult;
use crate::server::ServerMode;
use libtest_mimic::Failed;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// A benchmark on one of its servers: one test.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `name[server]`.
    pub name: String,
    /// The declaration.
    pub def: &'static BenchDef,
    /// The server.
    pub server: ServerChoice,
}

/// Every test of the registered benchmarks, in registry order. A benchmark without
/// servers runs on the native threaded server. Two benchmarks of the same name in
/// different modules are told apart by their module path.
pub fn plans(defs: &[&'static BenchDef]) -> Vec<Plan> {
    const DEFAULT: &[ServerChoice] = &[ServerChoice::Builtin(ServerMode::Threaded)];
    let mut out = Vec::new();
    for def in defs {
        let clash = defs.iter().filter(|d| d.name == def.name).count() > 1;
        let base = if clash {
            // Drop the crate's own name: `inner::ping`, not `rpyc_benches::inner::ping`.
            let module = def.module_path.split_once("::").map_or("", |(_, rest)| rest);
            if module.is_empty() {
                def.name.to_owned()
            } else {
                format!("{module}::{}", def.name)
            }
        } else {
            def.name.to_owned()
        };
        let choices = if def.servers.is_empty() { DEFAULT } else { def.servers };
        for choice in choices {
            out.push(Plan { name: format!("{base}[{}]", servers::label(choice)), def, server: *choice });
        }
    }
    out
}

/// Runs the test, records what happened, and fails it with every reason that applies.
pub fn execute(plan: &Plan, shared: &Shared) -> Result<(), Failed> {
    let mut record = Record {
        name: plan.name.clone(),
        enforced: !shared.args.quick,
        inconclusive_policy: shared.args.inconclusive,
        ..Record::default()
    };
    let outcome = measure(plan, shared, &mut record);
    let failure = match outcome {
        Err(error) => {
            record.error = Some(error.clone());
            Some(error)
        }
        Ok(()) => failure_message(&record, shared),
    };
    shared.records.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    match failure {
        Some(message) => Err(message.into()),
        None => Ok(()),
    }
}

/// Starts the server, runs, stops it, and fills `record`. An error is a benchmark that
/// could not run.
fn measure(plan: &Plan, shared: &Shared, record: &mut Record) -> Result<(), String> {
    let session = match plan.def.remote {
        Some(env) => match std::env::var(env).ok().filter(|v| !v.trim().is_empty()) {
            Some(host) => {
                Some(shared.remote_session(host.trim()).map_err(|e| format!("{}: {env}={host}: {e}", plan.name))?)
            }
            None => {
                shared.say(&format!("    {}: {env} is not set: its server runs on this machine", plan.name));
                None
            }
        },
        None => None,
    };
    let server = servers::start(&plan.server, &shared.paths.manifest_dir, session.as_ref())
        .map_err(|e| format!("{}: {e}", plan.name))?;
    if let Some(remote) = server.remote() {
        shared.say(&format!("    {}: {remote}", plan.name));
    }
    let result = kinds::run(plan.def, &plan.name, server.target(), Scale::new(shared.args.quick));
    server.stop();
    let mut result = result.map_err(|e| format!("{}: {e}", plan.name))?;
    annotate(&mut result, plan.def, shared.args.quick);
    if result.outcomes.successes == 0 {
        let first = result.outcomes.errors.first().map(|e| format!(": {}", e.message)).unwrap_or_default();
        return Err(format!(
            "{}: every request failed ({} of {}){first}",
            plan.name, result.outcomes.failures, result.outcomes.attempts
        ));
    }
    record.checks = sla::evaluate(plan.def.slas, &result);
    shared.say(&format!("    {}: {}", plan.name, figures(&result)));
    for check in record.checks.iter().filter(|c| !c.passed() && !record.enforced) {
        shared.say(&format!("    {}: quick mode, not enforced: {}", plan.name, check.message(&plan.name)));
    }
    if let Some((baseline, old)) = &shared.baseline {
        match old.get(&plan.name) {
            Some(old) => {
                let warnings = environment_warnings(old, &result);
                // Loud, but once: every benchmark of the run would repeat it.
                if !warnings.is_empty() && !shared.warned.swap(true, Ordering::Relaxed) {
                    warnings.iter().for_each(|w| eprintln!("rpycbench: {w}"));
                }
                let threshold = plan.def.regression_pct.unwrap_or(shared.args.regression_pct);
                let comparison = compare(old, &result, threshold);
                for line in comparison.describe() {
                    shared.say(&format!("    {}: vs baseline '{baseline}': {line}", plan.name));
                }
                if !record.enforced && comparison.regressions().next().is_some() {
                    shared.say(&format!("    {}: quick mode, not enforced: the regression", plan.name));
                }
                record.comparison = Some(comparison);
            }
            None if shared.args.baseline_lenient => {
                shared.say(&format!("    {}: not in baseline '{baseline}' (lenient: not compared)", plan.name));
            }
            None => record.baseline_missing = true,
        }
    }
    record.result = Some(result);
    Ok(())
}

/// Records what the harness adds to a run: the mode, the bounds and the threshold, so
/// that a result file says what it was held to and `rpycbench compare` applies the
/// benchmark's own threshold.
fn annotate(result: &mut BenchResult, def: &BenchDef, quick: bool) {
    if quick {
        result.params.insert("quick".into(), true.into());
    }
    if let Some(pct) = def.regression_pct {
        result.params.insert(THRESHOLD_PARAM.into(), pct.into());
    }
    if !def.slas.is_empty() {
        let slas: BTreeMap<&str, f64> = def.slas.iter().map(|s| (sla::stat_key(s.stat), s.bound)).collect();
        result.params.insert("sla".into(), serde_json::to_value(slas).unwrap_or_default());
    }
}

/// Why the test fails, one reason per line, or `None` when it passes.
fn failure_message(record: &Record, shared: &Shared) -> Option<String> {
    let mut reasons = Vec::new();
    if record.enforced {
        reasons.extend(record.checks.iter().filter(|c| !c.passed()).map(|c| c.message(&record.name)));
        if let (Some(c), Some((baseline, _))) = (&record.comparison, &shared.baseline) {
            let n = record.result.as_ref().map_or(0, |r| r.outcomes.attempts);
            for s in c.regressions() {
                let Some(ci) = s.interval else { continue };
                reasons.push(format!(
                    "regressed: {} = {} vs {} in baseline '{baseline}', {} (95 % CI {} to {}) > threshold {} % ({}, {n} requests)",
                    s.label,
                    format_ms(s.new_ns),
                    format_ms(s.old_ns),
                    signed_pct(ci.ratio),
                    signed_pct(ci.lower),
                    signed_pct(ci.upper),
                    c.threshold_pct,
                    record.name
                ));
            }
            for w in c.wire.iter().filter(|w| w.regressed) {
                reasons.push(format!("regressed: {} vs baseline '{baseline}' ({})", w.describe(), record.name));
            }
            if record.inconclusive_policy == crate::metrics::compare::InconclusivePolicy::Fail {
                for s in c.series.iter().filter(|s| s.change == Some(Change::Inconclusive)) {
                    reasons.push(format!(
                        "inconclusive: {} against baseline '{baseline}' ({}): {} (pass --inconclusive warn to only report it; \
                         more rounds, a quieter runner or `rpycbench ab` resolve it)",
                        record.name,
                        s.label,
                        s.describe(c.threshold_pct)
                    ));
                }
            }
        }
    }
    if record.baseline_missing {
        if let Some((baseline, _)) = &shared.baseline {
            reasons.push(format!(
                "baseline missing: '{baseline}' has no result for {} (save it again with --save-baseline {baseline}, or pass --baseline-lenient)",
                record.name
            ));
        }
    }
    let success_failed = record.checks.iter().any(|c| c.sla.stat == Stat::MinSuccessRate && !c.passed());
    if let (true, true, Some(r)) = (record.enforced, success_failed, &record.result) {
        if let Some(e) = r.outcomes.errors.first() {
            reasons.push(format!("most frequent error ({} times): {}", e.count, e.message));
        }
    }
    (!reasons.is_empty()).then(|| reasons.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::registry::{BenchFn, Kind};

    fn noop(_: &mut crate::Connection) -> crate::Result<()> {
        Ok(())
    }

    const fn def(name: &'static str, module_path: &'static str, servers: &'static [ServerChoice]) -> BenchDef {
        BenchDef {
            name,
            module_path,
            file: "benches.rs",
            line: 1,
            kind: Kind::Latency { requests: Some(10), warmup: Some(0), duration_ms: None },
            servers,
            remote: None,
            slas: &[],
            regression_pct: None,
            ignored: false,
            func: BenchFn::Request(noop),
        }
    }

    static PING: BenchDef = def("ping", "benches", &[]);
    static INNER_PING: BenchDef = def("ping", "benches::inner", &[]);
    static FETCH: BenchDef = def(
        "fetch",
        "benches",
        &[
            ServerChoice::Builtin(ServerMode::Forking),
            ServerChoice::Python { service: "svc:Svc", path: ".", mode: ServerMode::PythonForking },
            ServerChoice::External { env: "STAGING" },
        ],
    );

    #[test]
    fn every_server_is_a_test_and_clashing_names_are_qualified() {
        let names: Vec<String> = plans(&[&FETCH, &PING, &INNER_PING]).into_iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "fetch[forking]",
                "fetch[python-forking:svc:Svc]",
                "fetch[external:STAGING]",
                "ping[threaded]",
                "inner::ping[threaded]"
            ]
        );
    }
}
