//! What the harness shows and writes: one line of key figures per benchmark, the
//! results file under `target/rpycbench/`, and the GitHub step summary.

use super::baseline::{lock_dir, merged, write_atomically, BaselineError};
use super::outcome::Record;
use crate::metrics::{BenchKind, BenchResult, ResultSet};
use crate::table::{format_bps, markdown_table, TableBuilder, Value};
use std::fmt::Write as _;
use std::path::Path;

use crate::metrics::{format_bytes, format_ms};

/// The key figures of a result on one line, e.g.
/// `p50 0.231 ms, p99 0.412 ms, mean 0.250 ms, 4012 req/s, 100.00 % ok, n = 200 requests`.
pub fn figures(r: &BenchResult) -> String {
    let mut line = String::new();
    let ok = format!("{:.2} % ok", r.outcomes.success_rate * 100.0);
    match (&r.latency, r.kind) {
        (Some(l), kind) => {
            let what = if kind == BenchKind::Connection { "connect " } else { "" };
            let _ = write!(
                line,
                "{what}p50 {}, p99 {}, mean {}",
                format_ms(l.p50_ns),
                format_ms(l.p99_ns),
                format_ms(l.mean_ns)
            );
            if let (Some(rps), false) = (r.throughput_rps, kind == BenchKind::Connection) {
                let _ = write!(line, ", {rps:.0} req/s");
            }
        }
        (None, _) => {
            let label = |s: &crate::metrics::SizeResult| {
                let chunk = s.chunk_bytes.map(|c| format!(" in {} chunks", format_bytes(c))).unwrap_or_default();
                format!("{} ({} {}{chunk})", format_bps(s.mean_bps), s.direction, format_bytes(s.size_bytes))
            };
            let fastest = r.sizes.iter().max_by(|a, b| a.mean_bps.total_cmp(&b.mean_bps));
            match (r.slowest_size(), fastest) {
                (Some(lo), Some(hi)) => {
                    let _ = write!(line, "slowest {}, fastest {}", label(lo), label(hi));
                }
                _ => line.push_str("no sizes measured"),
            }
        }
    }
    let unit = match r.kind {
        BenchKind::Connection => "connections",
        BenchKind::Bandwidth | BenchKind::Transfer => "operations",
        _ => "requests",
    };
    let _ = write!(line, ", {ok}, n = {} {unit}", r.outcomes.attempts);
    line
}

/// Writes this run's results to `path`, under a lock, keeping the file's earlier
/// results of benchmarks that did not run this time but still exist (`keep` says which
/// names do): a filtered run, or cargo-nextest's one process per benchmark, adds to the
/// file instead of replacing it, while removed benchmarks do not linger. The file is
/// ours (under `target/`), so an unreadable one is replaced.
pub fn write_results(path: &Path, results: Vec<BenchResult>, keep: &dyn Fn(&str) -> bool) -> Result<(), BaselineError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let _lock = lock_dir(dir)?;
    let set = merged(ResultSet::load(path).ok(), results, keep);
    write_atomically(path, set.to_json().as_bytes())
}

/// The run as a Markdown table, for `$GITHUB_STEP_SUMMARY`: the reports' table model and
/// renderer, so it reads as `summary.md` does (one unit per column).
pub fn markdown(binary: &str, records: &[Record]) -> String {
    let mut table = TableBuilder::new(
        "harness",
        &format!("rpycbench: {binary}"),
        "",
        &["benchmark", "outcome", "n", "p50", "p99", "mean", "throughput (req/s)", "success", "baseline"],
    )
    .same_unit(&[3, 4, 5]);
    for rec in records {
        let r = rec.result.as_ref();
        let latency = |f: fn(&crate::metrics::LatencyStats) -> u64| {
            r.and_then(|r| r.latency.as_ref()).map_or(Value::Missing, |l| Value::Ns(f(l) as f64))
        };
        let baseline = rec.comparison.as_ref().and_then(|c| c.series.first().map(|s| s.describe(c.threshold_pct)));
        table.row(vec![
            Value::Text(rec.name.clone()),
            Value::Text(rec.status_with_reason()),
            r.map_or(Value::Missing, |r| Value::Int(r.outcomes.attempts)),
            latency(|l| l.p50_ns),
            latency(|l| l.p99_ns),
            latency(|l| l.mean_ns),
            r.and_then(|r| r.throughput_rps).map_or(Value::Missing, |t| Value::Num(t, 0)),
            r.map_or(Value::Missing, |r| Value::Pct(r.outcomes.success_rate * 100.0)),
            baseline.map_or(Value::Missing, Value::Text),
        ]);
    }
    let mut md = markdown_table(&table.build());
    md.push('\n');
    md
}

/// Appends `text` to the file `$GITHUB_STEP_SUMMARY` names.
pub fn append_step_summary(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_read_well() {
        assert_eq!(format_ms(231_456), "0.231 ms");
        assert_eq!(format_ms(5_210_000), "5.21 ms");
        assert_eq!(format_ms(1_000_000), "1.00 ms");
        // Three figures whatever the magnitude: small values are not rounded away.
        assert_eq!(format_ms(8_520), "0.00852 ms");
        assert_eq!(format_ms(120_000_000), "120 ms");
        assert_eq!(format_ms(0), "0 ms");
        assert_eq!(format_ms(9_996_000), "10.0 ms");
    }
}
