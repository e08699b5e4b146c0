//! Cookbook: "Test with many parallel clients" — raise the number of clients until the
//! server breaks: success rate below 95 % or p99 above a bound.
//!
//! The server here accepts at most `--max-connections` connections at once (the
//! `ServerSpec::max_connections` cap stands in for a real server's limits: file
//! descriptors, a pool, a backlog), so the limit is reached within a few seconds.
//! The diagnosis engine then explains the failing level.
//!
//! Corrected from the cookbook: success rate is successes / attempts, and a client
//! whose connection is dropped fails its requests instead of vanishing from the
//! statistics (the predecessor counted such clients as 100 % successful). Each level
//! is its own result.
//!
//! ```sh
//! cargo run --example find_the_limit -- --levels 1,2,4,8,16,32 --max-connections 12
//! ```

#[path = "support/mod.rs"]
mod support;

use rpycbench::bench::{Concurrent, Sweep, Target};
use rpycbench::metrics::sla::Stat;
use rpycbench::profile::diagnosis::{diagnose, render_text, Thresholds};
use rpycbench::server::ServerMode;
use support::{ms, value, Opt, Opts};

const USAGE: &str = "usage: find_the_limit [--mode MODE] [--levels N,N,…] [--requests N] [--delay SECONDS] [--max-connections N] [--p99-ms MS]
  --mode             server mode (default threaded)
  --levels           client counts to try, in order (default 1,2,4,8,16)
  --requests         requests per client (default 20)
  --delay            server time per request: io_work(SECONDS) (default 0.002)
  --max-connections  connections the server serves at once (default 6)
  --p99-ms           the p99 bound, ms (default 250)
";
const OPTIONS: &[Opt] =
    &[value("mode"), value("levels"), value("requests"), value("delay"), value("max-connections"), value("p99-ms")];

fn main() -> std::process::ExitCode {
    support::run(find, USAGE, OPTIONS)
}

fn find(opts: &Opts) -> Result<(), Box<dyn std::error::Error>> {
    let mode: ServerMode = opts.get("mode", ServerMode::Threaded)?;
    let levels: Vec<u32> = opts.list("levels", &[1, 2, 4, 8, 16])?;
    let requests: u64 = opts.get("requests", 20)?;
    let delay: f64 = opts.get("delay", 0.002)?;
    let max_connections: usize = opts.get("max-connections", 6)?;
    let p99_bound_ms: f64 = opts.get("p99-ms", 250.0)?;
    let server = support::spec(mode).max_connections(max_connections).start()?;
    eprintln!("started the {mode} server on {}, serving at most {max_connections} connections", server.addr());
    let target = Target::server(&server);
    let thresholds = Thresholds::default();
    // The sweep engine of `rpycbench sweep`: it tags each step and stops at the first
    // limit crossed.
    let mut sweep =
        Sweep::new("clients").limit(Stat::MinSuccessRate, thresholds.min_success_rate).limit(Stat::P99Ms, p99_bound_ms);
    for clients in levels {
        let r = Concurrent::new(format!("{clients}_clients"))
            .clients(clients)
            .requests_per_client(requests)
            .run(&target, |c| c.call("io_work", (delay,)).map(drop));
        let p99 = r.latency.as_ref().map_or(0.0, |l| ms(l.p99_ns));
        println!(
            "{clients:>4} clients: success {:.1} %, p99 {p99:.3} ms, {:.0} req/s ({} attempts, {} failed)",
            r.outcomes.success_rate * 100.0,
            r.throughput_rps.unwrap_or(0.0),
            r.outcomes.attempts,
            r.outcomes.failures
        );
        if let Some(limit) = sweep.record(clients, r) {
            println!("LIMIT REACHED at {clients} clients: {limit}");
            break;
        }
    }
    server.stop()?;
    match (sweep.is_over(), sweep.results().last()) {
        (true, Some(r)) => println!("\n{}", render_text(&diagnose(std::slice::from_ref(r), &thresholds))),
        _ => println!("no limit reached: try more clients (--levels)"),
    }
    Ok(())
}
