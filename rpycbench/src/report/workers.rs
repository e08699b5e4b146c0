//! The workers of a merged result (`rpycbench merge`): each worker's own figures beside
//! the merged row of the summary, with late workers marked and the merge's warnings.

use crate::metrics::{format_ns, ResultSet};
use crate::table::{Table, TableBuilder, Tone, Value};

/// One row per worker of every merged result; `None` when no result is a merge.
pub fn workers(results: &ResultSet) -> Option<Table> {
    let mut b = TableBuilder::new(
        "workers",
        "Workers",
        "Each worker's own figures in a merged result; start is relative to the workers' median start.",
        &["benchmark", "worker", "host", "start", "late", "requests", "ok", "failed", "p50", "p99", "max", "req/s"],
    )
    .same_unit(&[8, 9, 10]);
    let mut notes = Vec::new();
    for r in &results.results {
        let Some(m) = &r.merged else { continue };
        for w in &m.workers {
            let late = if w.late { Tone::Warn } else { Tone::Plain };
            let sign = if w.start_offset_ns < 0 { "-" } else { "+" };
            let ns = |x: Option<u64>| x.map_or(Value::Missing, |x| Value::Ns(x as f64));
            b.toned_row(vec![
                (Value::Text(r.name.clone()), Tone::Plain),
                (Value::Text(w.source.clone()), Tone::Plain),
                (Value::Text(w.host.clone()), Tone::Muted),
                (Value::Figure(format!("{sign}{}", format_ns(w.start_offset_ns.unsigned_abs()))), late),
                (Value::Text(if w.late { "late" } else { "" }.into()), late),
                (Value::Int(w.attempts), Tone::Plain),
                (Value::Int(w.successes), Tone::Plain),
                (Value::Int(w.failures), if w.failures > 0 { Tone::Bad } else { Tone::Plain }),
                (ns(w.p50_ns), Tone::Plain),
                (ns(w.p99_ns), Tone::Plain),
                (ns(w.max_ns), Tone::Plain),
                (w.throughput_rps.map_or(Value::Missing, |x| Value::Num(x, 0)), Tone::Plain),
            ]);
        }
        notes.push(format!(
            "{}: {} workers over {} (all at once for {}); req/s of the merged row = all successes over that span",
            r.name,
            m.workers.len(),
            format_ns(m.window_end_unix_ns.saturating_sub(m.window_start_unix_ns)),
            format_ns(m.overlap_ns),
        ));
        notes.extend(m.warnings.iter().map(|w| format!("warning: {w}")));
    }
    if b.is_empty() {
        return None;
    }
    let mut table = b.build();
    table.notes = notes;
    Some(table)
}
