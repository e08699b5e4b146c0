//! Cookbook: "Benchmarking Patterns" — connection time, the latency distribution,
//! bandwidth per payload size, and concurrent clients at increasing counts.
//!
//! Each kind runs against a built-in server and prints the figures the cookbook
//! prints, from one result per benchmark (none overwrites another), with its tail
//! check: p99 above 5 × p50 is flagged as inconsistent performance.
//!
//! Corrected from the cookbook: latency comes from an HdrHistogram of monotonic-clock
//! times (no `time.time()` steps, no one-rank-high percentiles); success rate is
//! successes / attempts, so a client that cannot connect counts as failed requests;
//! bandwidth is computed per payload size from that size's own bytes and time; and the
//! CPU figures are the server's process tree, sampled during the run.
//!
//! ```sh
//! cargo run --example benchmark_kinds -- --mode forking --requests 2000
//! ```

#[path = "support/mod.rs"]
mod support;

use rpycbench::bench::{Bandwidth, Concurrent, ConnectionBench, Latency, Target};
use rpycbench::metrics::LatencyStats;
use rpycbench::server::ServerMode;
use support::{ms, value, Opt, Opts};

const USAGE: &str =
    "usage: benchmark_kinds [--mode MODE] [--connections N] [--requests N] [--sizes B,B,…] [--clients N,N,…]
  --mode         server mode (default threaded)
  --connections  connections opened one after another (default 30)
  --requests     latency requests (default 300)
  --sizes        bandwidth payload sizes in bytes (default 1024,10240,102400,1048576)
  --clients      concurrent client counts (default 1,4,8)
";
const OPTIONS: &[Opt] = &[value("mode"), value("connections"), value("requests"), value("sizes"), value("clients")];

fn main() -> std::process::ExitCode {
    support::run(kinds, USAGE, OPTIONS)
}

fn print_stats(what: &str, l: &LatencyStats) {
    println!(
        "  {what}: mean {:.3} ms, median {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, min {:.3} ms, max {:.3} ms, stdev {:.3} ms",
        ms(l.mean_ns),
        ms(l.p50_ns),
        ms(l.p95_ns),
        ms(l.p99_ns),
        ms(l.min_ns),
        ms(l.max_ns),
        ms(l.stdev_ns)
    );
}

fn kinds(opts: &Opts) -> Result<(), Box<dyn std::error::Error>> {
    let mode: ServerMode = opts.get("mode", ServerMode::Threaded)?;
    let connections: u64 = opts.get("connections", 30)?;
    let requests: u64 = opts.get("requests", 300)?;
    let sizes: Vec<u64> = opts.list("sizes", &[1024, 10 << 10, 100 << 10, 1 << 20])?;
    let client_counts: Vec<u32> = opts.list("clients", &[1, 4, 8])?;
    let server = support::start(mode)?;
    let target = Target::server(&server);

    let conn = ConnectionBench::new("connection_time").connections(connections).run(&target);
    println!("\nconnection time ({} connections):", conn.outcomes.attempts);
    let l = conn.latency.as_ref().ok_or("connection runs record latency")?;
    print_stats("connect", l);
    if l.p99_ns > 100_000_000 {
        println!("  RECOMMENDATION: connection time is high: reuse connections (a pool)");
    }

    let lat = Latency::new("data_fetch")
        .requests(requests)
        .warmup(10)
        .run(&target, |c| c.call("get_user_tuple", (123,)).map(drop));
    println!("\nlatency distribution for {} requests (get_user_tuple):", lat.outcomes.attempts);
    let l = lat.latency.as_ref().ok_or("latency runs record latency")?;
    print_stats("request", l);
    if l.tail_ratio() > 5.0 {
        println!(
            "  WARNING: high tail latency (p99/p50 = {:.1}): inconsistent performance, investigate outliers",
            l.tail_ratio()
        );
    }

    let bw = Bandwidth::new("payload_size_test").sizes(sizes).iterations(5).run_builtin(&target);
    println!("\nbandwidth per payload size (upload = the client sends, download = the server sends):");
    for s in &bw.sizes {
        println!(
            "  {:<8} {:>9}: mean {:>9}, median {:>9}, slowest {:>9}",
            s.direction,
            rpycbench::metrics::format_bytes(s.size_bytes),
            format_mb_s(s.mean_bps),
            format_mb_s(s.median_bps),
            format_mb_s(s.worst_bps)
        );
    }

    println!("\nconcurrent clients (ping, 25 requests each):");
    for n in client_counts {
        let r = Concurrent::new(format!("{n}_clients"))
            .clients(n)
            .requests_per_client(25)
            .run(&target, |c| c.call("ping", ()).map(drop));
        let l = r.latency.as_ref().ok_or("concurrent runs record latency")?;
        let server_cpu = r.system.as_ref().and_then(|s| s.server.as_ref()).map_or(0.0, |s| s.cpu_percent_mean);
        println!(
            "  {n:>3} clients: success {:.1} %, mean {:.3} ms, p99 {:.3} ms, {:.0} req/s, server CPU {:.0} % of one core ({} attempts, {} failed)",
            r.outcomes.success_rate * 100.0,
            ms(l.mean_ns),
            ms(l.p99_ns),
            r.throughput_rps.unwrap_or(0.0),
            server_cpu,
            r.outcomes.attempts,
            r.outcomes.failures
        );
    }
    server.stop()?;
    Ok(())
}

/// A rate in MB/s (10^6 bytes per second), the unit of `min_bandwidth_mbps`.
fn format_mb_s(bps: f64) -> String {
    format!("{:.1} MB/s", bps / 1e6)
}
