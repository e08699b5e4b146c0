//! The compact terminal summary: one row per result, aligned, readable at a glance.

use super::units::{format_bps, format_ns};
use crate::metrics::{BenchKind, BenchResult, ResultSet};
use comfy_table::{presets, CellAlignment, ContentArrangement, Table};

/// One summary row, shared by every report format.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Result name.
    pub name: String,
    /// Server mode.
    pub server: String,
    /// Benchmark kind.
    pub kind: String,
    /// Attempts.
    pub attempts: u64,
    /// Success rate in percent.
    pub success_pct: f64,
    /// Median, p99 and mean latency (ns), when measured.
    pub latency: Option<(u64, u64, u64)>,
    /// Successful requests per second.
    pub rps: Option<f64>,
    /// Best and worst per-size mean bandwidth (bytes/s), for bandwidth and transfer.
    pub bandwidth: Option<(f64, f64)>,
}

impl Row {
    /// The row of one result.
    pub fn of(r: &BenchResult) -> Row {
        let rates = r.sizes.iter().map(|s| s.mean_bps);
        let bandwidth =
            (!r.sizes.is_empty()).then(|| (rates.clone().fold(f64::MIN, f64::max), rates.fold(f64::MAX, f64::min)));
        let per_size = matches!(r.kind, BenchKind::Bandwidth | BenchKind::Transfer);
        Row {
            name: r.name.clone(),
            server: r.server.mode.clone(),
            kind: r.kind.name().to_owned(),
            attempts: r.outcomes.attempts,
            success_pct: r.outcomes.success_rate * 100.0,
            latency: r.latency.as_ref().filter(|l| l.count > 0).map(|l| (l.p50_ns, l.p99_ns, l.mean_ns)),
            rps: if per_size { None } else { r.throughput_rps },
            bandwidth,
        }
    }
}

/// The summary table of a result collection, as text (no colour: callers decide).
pub fn summary_table(results: &ResultSet) -> String {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_BORDERS_ONLY).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header([
        "benchmark",
        "server",
        "kind",
        "n",
        "ok",
        "p50",
        "p99",
        "mean",
        "req/s",
        "bandwidth (best–worst)",
    ]);
    for r in &results.results {
        let row = Row::of(r);
        let (p50, p99, mean) = match row.latency {
            Some((a, b, c)) => (format_ns(a), format_ns(b), format_ns(c)),
            None => ("–".into(), "–".into(), "–".into()),
        };
        table.add_row([
            row.name,
            row.server,
            row.kind,
            row.attempts.to_string(),
            format!("{:.1}%", row.success_pct),
            p50,
            p99,
            mean,
            row.rps.map_or("–".into(), |x| format!("{x:.0}")),
            row.bandwidth.map_or("–".into(), |(hi, lo)| format!("{} – {}", format_bps(hi), format_bps(lo))),
        ]);
    }
    for i in 3..10 {
        if let Some(col) = table.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    table.to_string()
}
