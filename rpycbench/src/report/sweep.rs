//! Sweeps: results that vary one parameter, recognised by the contract every sweep's
//! results follow: `params["sweep_parameter"]` names the parameter (`clients`,
//! `payload_bytes` or `mode`) and `params["sweep_value"]` holds its value (a number, or
//! a string for `mode`).

use crate::metrics::{BenchResult, ResultSet, SWEEP_LIMIT, SWEEP_PARAMETER, SWEEP_VALUE};

/// One point's value.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepValue {
    /// A number (clients, payload bytes).
    Number(f64),
    /// A label (a server mode).
    Label(String),
}

impl SweepValue {
    /// The value as a number, when it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            SweepValue::Number(x) => Some(*x),
            SweepValue::Label(_) => None,
        }
    }

    /// How it is shown: `4`, `1048576`, `threaded`.
    pub fn label(&self) -> String {
        match self {
            SweepValue::Number(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
            SweepValue::Number(x) => format!("{x}"),
            SweepValue::Label(s) => s.clone(),
        }
    }
}

/// One sweep: a parameter varied for one benchmark on one server.
#[derive(Clone, Debug)]
pub struct Sweep<'a> {
    /// What varies: `clients`, `payload_bytes`, `mode`, …
    pub parameter: String,
    /// The benchmark's name before `[`.
    pub prefix: String,
    /// The server mode.
    pub mode: String,
    /// The points, by value (numbers ascending; labels in the order they ran).
    pub points: Vec<(SweepValue, &'a BenchResult)>,
}

/// A benchmark's name before its `[server]` or `[params]` suffix.
pub fn name_prefix(name: &str) -> &str {
    name.split_once('[').map_or(name, |(head, _)| head)
}

/// The sweep point of a result, if it belongs to a sweep.
pub fn sweep_point(r: &BenchResult) -> Option<(String, SweepValue)> {
    let parameter = r.params.get(SWEEP_PARAMETER)?.as_str()?.to_owned();
    let value = match r.params.get(SWEEP_VALUE)? {
        serde_json::Value::Number(n) => SweepValue::Number(n.as_f64()?),
        serde_json::Value::String(s) => SweepValue::Label(s.clone()),
        _ => return None,
    };
    Some((parameter, value))
}

/// Whether a result is one point of a sweep.
pub fn is_sweep(r: &BenchResult) -> bool {
    sweep_point(r).is_some()
}

/// Every sweep, grouped by (parameter, server mode, name prefix), in order of first
/// appearance.
pub fn sweeps(results: &ResultSet) -> Vec<Sweep<'_>> {
    let mut out: Vec<Sweep<'_>> = Vec::new();
    for r in &results.results {
        let Some((parameter, value)) = sweep_point(r) else { continue };
        let prefix = name_prefix(&r.name).to_owned();
        let same = |s: &&mut Sweep<'_>| s.parameter == parameter && s.prefix == prefix && s.mode == r.server.mode;
        match out.iter_mut().find(same) {
            Some(sweep) => sweep.points.push((value, r)),
            None => out.push(Sweep { parameter, prefix, mode: r.server.mode.clone(), points: vec![(value, r)] }),
        }
    }
    for sweep in &mut out {
        if sweep.points.iter().all(|(v, _)| v.number().is_some()) {
            sweep.points.sort_by(|a, b| a.0.number().unwrap_or(0.0).total_cmp(&b.0.number().unwrap_or(0.0)));
        }
    }
    out
}

/// Sweeps of one parameter and benchmark across servers: one chart or table each.
pub fn families<'s, 'a>(sweeps: &'s [Sweep<'a>]) -> Vec<Vec<&'s Sweep<'a>>> {
    let mut out: Vec<Vec<&Sweep<'a>>> = Vec::new();
    for s in sweeps {
        match out.iter_mut().find(|f| f[0].parameter == s.parameter && f[0].prefix == s.prefix) {
            Some(family) => family.push(s),
            None => out.push(vec![s]),
        }
    }
    out
}

/// Server modes in order of first appearance: the order of legends and colours.
pub fn modes(results: &ResultSet) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &results.results {
        if !out.contains(&r.server.mode) {
            out.push(r.server.mode.clone());
        }
    }
    out
}

/// `Limit reached at clients=8 (threaded): p99 = 120 ms > 100 ms.` for every
/// sweep of the family whose step recorded [`SWEEP_LIMIT`]; empty when none did.
pub fn limit_note(family: &[&Sweep<'_>]) -> String {
    let mut out = String::new();
    for sweep in family {
        for (value, r) in &sweep.points {
            if let Some(limit) = r.params.get(SWEEP_LIMIT).and_then(|l| l.as_str()) {
                out.push_str(&format!(
                    " Limit reached at {}={} ({}): {limit}.",
                    sweep.parameter,
                    value.label(),
                    sweep.mode
                ));
            }
        }
    }
    out
}
