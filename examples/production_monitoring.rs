//! Cookbook: "Monitor RPyC performance in production", "Collect metrics over time" and
//! "Alert on performance degradation".
//!
//! A `PerformanceMonitor` keeps one `BenchmarkContext` per operation; the application
//! routes its calls through it. Every period the monitor flushes one JSON line per
//! operation (the full `rpycbench/results/v1` result, with outcomes and the latency
//! histogram) to a JSON Lines file, and a watchdog compares each operation's p99 with
//! its first period's: above `--alert-factor` × that baseline, it raises an alert.
//! In the last period the example makes `get_user` slow on purpose (the server sleeps
//! 100 ms: far past both alert conditions, even on a busy machine), so the alert fires.
//!
//! Corrected from the cookbook: a period's figures come from that period only (the
//! context starts afresh after each flush, `take_result`), time is monotonic, and the
//! flushed record is the same versioned schema every rpycbench result uses.
//!
//! ```sh
//! cargo run --example production_monitoring -- --periods 5 --period-ms 1000 --out metrics.jsonl
//! ```

#[path = "support/mod.rs"]
mod support;

use rpycbench::bench::BenchmarkContext;
use rpycbench::client::Object;
use rpycbench::metrics::BenchResult;
use rpycbench::server::ServerMode;
use rpycbench::Connection;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::{ms, value, Opt, Opts};

const USAGE: &str =
    "usage: production_monitoring [--mode MODE] [--periods N] [--period-ms MS] [--alert-factor X] [--alert-min-ms MS] [--out FILE]
  --mode          server mode (default threaded)
  --periods       reporting periods (default 3; the last one is degraded on purpose)
  --period-ms     length of a period, ms (default 300)
  --alert-factor  alert when p99 exceeds this multiple of the first period's (default 2)
  --alert-min-ms  ... and is at least this much above it, ms (default 5: sub-millisecond
                  jitter doubles a sub-millisecond p99 without anything being wrong)
  --out           JSON Lines file (default: rpycbench-monitoring.jsonl in the temporary directory)
";
const OPTIONS: &[Opt] =
    &[value("mode"), value("periods"), value("period-ms"), value("alert-factor"), value("alert-min-ms"), value("out")];

fn main() -> std::process::ExitCode {
    support::run(monitor, USAGE, OPTIONS)
}

/// One context per operation name, flushed periodically.
struct PerformanceMonitor {
    contexts: BTreeMap<String, BenchmarkContext>,
    out: std::fs::File,
}

impl PerformanceMonitor {
    fn new(path: &std::path::Path) -> std::io::Result<Self> {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(PerformanceMonitor { contexts: BTreeMap::new(), out })
    }

    /// Runs `op` on `conn`, timed and counted under `name`.
    fn track(
        &mut self,
        name: &str,
        conn: &mut Connection,
        op: impl FnOnce(&mut Connection) -> rpycbench::Result<Object>,
    ) -> rpycbench::Result<Object> {
        let ctx = self.contexts.entry(name.to_owned()).or_insert_with(|| BenchmarkContext::new(name));
        ctx.measure_on(conn, op)
    }

    /// Writes one JSON line per operation and starts every context afresh.
    fn flush(&mut self) -> Result<Vec<BenchResult>, Box<dyn std::error::Error>> {
        let mut period = Vec::new();
        for ctx in self.contexts.values_mut() {
            let result = ctx.take_result();
            writeln!(self.out, "{}", serde_json::to_string(&result)?)?;
            period.push(result);
        }
        self.out.flush()?;
        Ok(period)
    }
}

fn monitor(opts: &Opts) -> Result<(), Box<dyn std::error::Error>> {
    let mode: ServerMode = opts.get("mode", ServerMode::Threaded)?;
    let periods: u32 = opts.get("periods", 3)?;
    let period = Duration::from_millis(opts.get("period-ms", 300)?);
    let alert_factor: f64 = opts.get("alert-factor", 2.0)?;
    let alert_min_ns = (opts.get("alert-min-ms", 5.0f64)? * 1e6) as u64;
    let out: PathBuf = opts.get("out", std::env::temp_dir().join("rpycbench-monitoring.jsonl"))?;
    if periods < 2 {
        return Err("--periods must be at least 2: the first is the baseline, the last is degraded".into());
    }
    let server = support::start(mode)?;
    let mut conn = Connection::connect(server.addr())?;
    let mut monitor = PerformanceMonitor::new(&out)?;
    let mut baseline: BTreeMap<String, u64> = BTreeMap::new();
    let mut alerts = 0;
    for p in 1..=periods {
        let degraded = p == periods;
        let end = Instant::now() + period;
        while Instant::now() < end {
            monitor.track("get_user", &mut conn, |c| {
                if degraded {
                    c.call("io_work", (0.1,))?; // a slow backend, for the demonstration
                }
                c.call("get_user_tuple", (7,))
            })?;
            monitor.track("health_check", &mut conn, |c| c.call("ping", ()))?;
        }
        for r in monitor.flush()? {
            let p99 = r.latency.as_ref().map_or(0, |l| l.p99_ns);
            println!(
                "period {p}: {:<12} {:>6} ops, {} failed, p99 {:.3} ms",
                r.name,
                r.outcomes.attempts,
                r.outcomes.failures,
                ms(p99)
            );
            let base = *baseline.entry(r.name.clone()).or_insert(p99);
            if p > 1 && p99 as f64 > alert_factor * base as f64 && p99 > base.saturating_add(alert_min_ns) {
                alerts += 1;
                println!(
                    "ALERT: {} degraded: p99 {:.3} ms is above {alert_factor} × its baseline {:.3} ms (and {} ms more)",
                    r.name,
                    ms(p99),
                    ms(base),
                    alert_min_ns as f64 / 1e6
                );
            }
        }
    }
    conn.close()?;
    server.stop()?;
    println!("{alerts} alert(s); metrics appended to {}", out.display());
    Ok(())
}
