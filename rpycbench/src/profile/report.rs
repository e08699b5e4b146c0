//! Text reports of telemetry, plain enough to paste into an issue: a summary, the slow
//! calls with per-method totals, the call tree of nested requests, and the references
//! report. [`Telemetry::to_json`](super::Telemetry::to_json) is the same data as JSON.

use super::diagnosis::{render_text, Diagnosis, Finding, Thresholds, WireEvidence};
use super::facts::Direction;
use super::load::load_results;
use super::telemetry::{CallOutcome, CallRecord, Telemetry};
use crate::metrics::{format_bytes, format_ns};
use crate::table::{plain_table, TableBuilder, Value};
use std::collections::HashMap;
use std::fmt::Write;

/// How much the reports show.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Slowest calls and methods listed (default 20).
    pub top_n: usize,
    /// Lines of the call tree at most (default 200).
    pub tree_lines: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { top_n: 20, tree_lines: 200 }
    }
}

/// One titled part of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Section {
    /// Printed as `=== TITLE ===`.
    pub title: String,
    /// The lines under it, each ending in a newline.
    pub body: String,
}

impl Section {
    /// Renders `=== TITLE ===` and the body.
    pub fn render(&self) -> String {
        format!("=== {} ===\n{}", self.title, self.body)
    }
}

/// The sections of the full report, in order.
pub(crate) fn sections(t: &Telemetry, opts: &ReportOptions) -> Vec<Section> {
    vec![
        Section { title: "SUMMARY".into(), body: summary(t) },
        Section { title: "SLOW CALLS".into(), body: slow_calls(t, opts.top_n) },
        Section { title: "CALL TREE".into(), body: call_tree(t, opts.tree_lines) },
        Section { title: "REFERENCES".into(), body: references(t) },
    ]
}

/// The full report: every section of [`sections`], then `extra` sections (the
/// diagnosis findings), separated by blank lines.
pub(crate) fn full_with(t: &Telemetry, opts: &ReportOptions, extra: &[Section]) -> String {
    let mut all = sections(t, opts);
    all.extend(extra.iter().cloned());
    all.iter().map(Section::render).collect::<Vec<_>>().join("\n")
}

/// The diagnosis engine's findings on this telemetry, as the report's last section.
///
/// "Per operation" is per `operations` (the relay and `RPYCBENCH_PROFILE` use
/// [`default_operations`] unless told otherwise).
pub(crate) fn diagnosis_section(t: &Telemetry, operations: u64, subject: &str, thresholds: &Thresholds) -> Section {
    let findings = diagnose_telemetry(t, operations, subject, thresholds);
    let plural = if operations == 1 { "" } else { "s" };
    let mut body = format!("(\"per operation\" figures divide by {operations} operation{plural})\n");
    if t.system.is_none() {
        body.push_str(
            "(the server's CPU was not sampled, so the rules that read it — I/O bound by idle CPU, at \
             capacity, one request computed at a time — were not checked; `rpycbench proxy --server-pid PID` \
             samples it)\n",
        );
    }
    body.push_str(&render_text(&findings));
    Section { title: "DIAGNOSIS".into(), body }
}

/// The findings on telemetry, as its report shows them: the wire rules on what was
/// recorded (under `subject`), and the latency and CPU rules on the clients' operations
/// read as a closed loop, method by method (`SUBJECT: method`, see [`load_results`]),
/// with the server's CPU when [`Telemetry::system`] holds it.
pub fn diagnose_telemetry(t: &Telemetry, operations: u64, subject: &str, thresholds: &Thresholds) -> Vec<Finding> {
    let evidence = WireEvidence::from_telemetry(t, operations);
    let loads = load_results(t, subject);
    Diagnosis::new(thresholds.clone()).results(&loads).telemetry(subject, evidence).findings()
}

/// The operations the relay and `RPYCBENCH_PROFILE` divide by when not told:
/// [`Telemetry::operations`] (the client's top-level named calls), or one per
/// connection when there were none.
pub fn default_operations(t: &Telemetry) -> u64 {
    if t.operations > 0 {
        t.operations
    } else {
        t.connections.max(1)
    }
}

/// The full report without extra sections (the diagnosis is one:
/// `diagnosis_section`, passed to `full_with`).
pub fn full(t: &Telemetry, opts: &ReportOptions) -> String {
    full_with(t, opts, &[])
}

fn handler_list(map: &std::collections::BTreeMap<String, u64>) -> String {
    let mut v: Vec<(&String, &u64)> = map.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    if v.is_empty() {
        return "-".into();
    }
    v.iter().map(|(h, n)| format!("{h} {n}")).collect::<Vec<_>>().join(", ")
}

/// The summary: counts per direction and handler, references, depth, slow calls.
pub fn summary(t: &Telemetry) -> String {
    let mut s = String::new();
    let refs = |d: Direction| {
        let rs = t.references.iter().filter(|r| r.direction == d);
        rs.fold((0, 0), |(rec, alive), r| (rec + r.received, alive + r.alive))
    };
    let (refs_s2c, alive_s2c) = refs(Direction::S2c);
    let (refs_c2s, alive_c2s) = refs(Direction::C2s);
    let _ = writeln!(s, "connections            {}", t.connections);
    let _ = writeln!(s, "requests c2s / s2c     {} / {}", t.requests_c2s, t.requests_s2c);
    let _ =
        writeln!(s, "round trips            {} (c2s {}, s2c {})", t.round_trips, t.c2s.round_trips, t.s2c.round_trips);
    let _ = writeln!(s, "  c2s requests         {}", handler_list(&t.c2s.requests_by_handler));
    let _ = writeln!(s, "  s2c requests         {}", handler_list(&t.s2c.requests_by_handler));
    let _ = writeln!(s, "references to server   {refs_s2c} received, {alive_s2c} still alive");
    let _ = writeln!(s, "references to client   {refs_c2s} received, {alive_c2s} still alive");
    let _ = writeln!(s, "INSPECT requests       {}", t.inspect_requests);
    let _ = writeln!(s, "max nesting depth      {} (callbacks stacked in one chain)", t.max_depth);
    let _ =
        writeln!(s, "client operations      {} (top-level named calls, {})", t.operations, t.client_direction().name());
    let _ = writeln!(s, "slow calls             {} (>= {})", t.slow_calls, format_ns(t.slow_threshold_ns));
    let _ = writeln!(s, "bytes per round trip   {}", format_bytes(t.bytes_per_round_trip.round() as u64));
    let _ = writeln!(s, "bytes c2s / s2c        {} / {}", format_bytes(t.c2s.bytes), format_bytes(t.s2c.bytes));
    let _ = writeln!(s, "exceptions c2s / s2c   {} / {}", t.c2s.exceptions, t.s2c.exceptions);
    let _ = writeln!(s, "unanswered requests    {}", t.unanswered);
    let _ = writeln!(
        s,
        "undecodable frames     {} ({} connections no longer decoded)",
        t.undecodable_frames, t.undecodable_connections
    );
    let _ = writeln!(
        s,
        "history                {} of {} requests kept (limit {})",
        t.calls.len(),
        t.calls_recorded,
        t.history_limit
    );
    s
}

fn describe(c: &CallRecord) -> String {
    let time = match (c.outcome, c.duration_ns) {
        (_, Some(ns)) => format_ns(ns),
        (CallOutcome::Pending, None) => "pending".into(),
        (CallOutcome::Evicted, None) => "forgotten (too many waiting)".into(),
        _ => "no answer".into(),
    };
    let mut s = format!("{} {}  {time}", c.direction.name(), c.label);
    if c.outcome == CallOutcome::Exception {
        s.push_str("  EXCEPTION");
    }
    if c.refs_returned > 0 {
        let _ = write!(s, "  refs {}", c.refs_returned);
    }
    s
}

/// The slowest calls, then time per method.
pub fn slow_calls(t: &Telemetry, top_n: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Top {} slowest calls (threshold: {}; {} at or above it)",
        t.slowest.len().min(top_n),
        format_ns(t.slow_threshold_ns),
        t.slow_calls
    );
    for (i, c) in t.slowest.iter().take(top_n).enumerate() {
        let _ = writeln!(s, "{:>3}. {}  (connection {}, seq {})", i + 1, describe(c), c.connection, c.seq);
    }
    let _ = writeln!(s, "Time per method (by total time):");
    let mut methods =
        TableBuilder::new("methods", "Time per method", "", &["label", "count", "total", "mean", "max", "bytes"]);
    // Total, mean and max in one unit, so the column of totals reads at a glance.
    methods = methods.same_unit(&[2, 3, 4]);
    for m in t.methods.iter().take(top_n) {
        methods.row(vec![
            Value::Text(m.label.clone()),
            Value::Int(m.count),
            Value::Ns(m.total_ns as f64),
            Value::Ns(m.mean_ns as f64),
            Value::Ns(m.max_ns as f64),
            Value::Bytes(m.bytes),
        ]);
    }
    s.push_str(&plain_table(&methods.build(), 2));
    if t.methods.len() > top_n {
        let _ = writeln!(s, "  … {} more", t.methods.len() - top_n);
    }
    s
}

enum Item<'a> {
    Call(&'a CallRecord, usize),
    /// Consecutive sibling calls with the same label and no children of their own.
    Repeat(&'a CallRecord, u64, u64, usize),
}

/// Nested requests as a tree (within the kept history); consecutive identical leaf
/// calls are folded into one line with a count.
pub(crate) fn call_tree(t: &Telemetry, max_lines: usize) -> String {
    if max_lines == 0 {
        return "(not printed: the tree's line limit is 0)\n".to_owned();
    }
    let known: HashMap<u64, usize> = t.calls.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let mut children: HashMap<u64, Vec<&CallRecord>> = HashMap::new();
    let mut roots = Vec::new();
    for c in &t.calls {
        match c.parent.filter(|p| known.contains_key(p)) {
            Some(p) => children.entry(p).or_default().push(c),
            None => roots.push(c),
        }
    }
    let mut stack: Vec<Item<'_>> = fold(&roots, 0, &children);
    stack.reverse();
    let mut s = String::new();
    let mut lines = 0;
    while let Some(item) = stack.pop() {
        if lines == max_lines {
            let _ = writeln!(
                s,
                "… (tree cut at {max_lines} lines: `rpycbench proxy --tree-lines N` or `ReportOptions::tree_lines` \
                 shows more; the JSON has every recorded call)"
            );
            break;
        }
        lines += 1;
        match item {
            Item::Call(c, level) => {
                let _ = writeln!(s, "{}{}", "  ".repeat(level.min(40)), describe(c));
                if let Some(kids) = children.get(&c.id) {
                    let mut items = fold(kids, level + 1, &children);
                    items.reverse();
                    stack.extend(items);
                }
            }
            Item::Repeat(c, n, total, level) => {
                let _ = writeln!(
                    s,
                    "{}{} {} ×{n}  total {}",
                    "  ".repeat(level.min(40)),
                    c.direction.name(),
                    c.label,
                    format_ns(total)
                );
            }
        }
    }
    if t.calls.is_empty() {
        s.push_str("(no requests recorded)\n");
    } else if (t.calls.len() as u64) < t.calls_recorded {
        let _ =
            writeln!(s, "(the oldest {} requests fell out of the history)", t.calls_recorded - t.calls.len() as u64);
    }
    s
}

fn fold<'a>(calls: &[&'a CallRecord], level: usize, children: &HashMap<u64, Vec<&'a CallRecord>>) -> Vec<Item<'a>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < calls.len() {
        let c = calls[i];
        let leaf = |x: &CallRecord| !children.contains_key(&x.id);
        let mut j = i + 1;
        while j < calls.len() && leaf(c) && leaf(calls[j]) && calls[j].label == c.label && calls[j].outcome == c.outcome
        {
            j += 1;
        }
        if j - i > 1 {
            let total = calls[i..j].iter().filter_map(|x| x.duration_ns).sum();
            out.push(Item::Repeat(c, (j - i) as u64, total, level));
        } else {
            out.push(Item::Call(c, level));
        }
        i = j;
    }
    out
}

/// Which remote types became proxies, how often, and the round trips they caused.
pub fn references(t: &Telemetry) -> String {
    let mut s = String::new();
    if t.references.is_empty() {
        s.push_str("(no references crossed the wire)\n");
        return s;
    }
    let width = t.references.iter().map(|r| r.type_name.chars().count()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        s,
        "  {:<width$}  {:>3}  {:>8}  {:>8}  {:>6}  {:>11}  {:>8}",
        "type", "dir", "received", "released", "alive", "round trips", "inspects"
    );
    for r in &t.references {
        let _ = writeln!(
            s,
            "  {:<width$}  {:>3}  {:>8}  {:>8}  {:>6}  {:>11}  {:>8}",
            r.type_name,
            r.direction.name(),
            r.received,
            r.released,
            r.alive,
            r.round_trips,
            r.inspects
        );
    }
    s.push_str("  (dir s2c: the client got proxies of server objects; c2s: the client lent its own, e.g. callbacks)\n");
    s
}
