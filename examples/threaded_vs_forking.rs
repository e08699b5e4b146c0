//! Cookbook: "CPU-bound vs I/O-bound workloads" and "Threaded vs forking server mode"
//! (the GIL study).
//!
//! The same concurrent load — `cpu_work` (SHA-256 rounds) and `io_work` (a sleep) — on a
//! threaded and a forking server, with each server's CPU sampled *during* the run over
//! its whole process tree (forked children included), then the diagnosis engine's
//! verdict. By default the servers are real Python `rpyc` servers (`$RPYCBENCH_PYTHON`,
//! else `python3`, with rpyc installed), where the GIL holds a threaded server to one
//! core; `--native` uses the Rust servers, which have no GIL (their `cpu_work` is slow
//! in a debug build: use `--release` or fewer `--iterations`).
//!
//! Corrected from the cookbook: CPU there was whole-machine `psutil` figures sampled
//! before and after the run, which cannot show a server pinned at one core; here it is
//! per server process tree, in percent of one core. GIL contention is called only
//! when the threaded server sits at about one core while the forking one, same load,
//! does notably more.
//!
//! ```sh
//! cargo run --example threaded_vs_forking -- --clients 8 --requests 15
//! ```

#[path = "support/mod.rs"]
mod support;

use rpycbench::bench::{Concurrent, Target};
use rpycbench::metrics::BenchResult;
use rpycbench::profile::diagnosis::{Diagnosis, Thresholds};
use rpycbench::server::ServerMode;
use support::{flag, ms, value, Opt, Opts};

const USAGE: &str =
    "usage: threaded_vs_forking [--native] [--clients N] [--requests N] [--iterations N] [--delay SECONDS]
  --native       the native Rust servers instead of Python rpyc ones (python-threaded, python-forking)
  --clients      concurrent clients (default 6)
  --requests     requests per client (default 20)
  --iterations   SHA-256 rounds per cpu_work request (default 20000)
  --delay        seconds per io_work request (default 0.01)
";
const OPTIONS: &[Opt] = &[flag("native"), value("clients"), value("requests"), value("iterations"), value("delay")];

fn main() -> std::process::ExitCode {
    support::run(study, USAGE, OPTIONS)
}

fn study(opts: &Opts) -> Result<(), Box<dyn std::error::Error>> {
    let clients: u32 = opts.get("clients", 6)?;
    let requests: u64 = opts.get("requests", 20)?;
    let iterations: i64 = opts.get("iterations", 20_000)?;
    let delay: f64 = opts.get("delay", 0.01)?;
    let modes = if opts.flag("native") {
        [ServerMode::Threaded, ServerMode::Forking]
    } else {
        [ServerMode::PythonThreaded, ServerMode::PythonForking]
    };
    let mut results: Vec<BenchResult> = Vec::new();
    for mode in modes {
        let server = support::start(mode)?;
        let target = Target::server(&server);
        let bench =
            |name: &str| Concurrent::new(format!("{name}[{mode}]")).clients(clients).requests_per_client(requests);
        results.push(bench("cpu_work").run(&target, |c| c.call("cpu_work", (iterations,)).map(drop)));
        results.push(bench("io_work").run(&target, |c| c.call("io_work", (delay,)).map(drop)));
        server.stop()?;
    }

    println!("\n{clients} clients × {requests} requests each, closed loop:");
    for r in &results {
        let l = r.latency.as_ref().ok_or("a concurrent run records latency")?;
        let cpu = r.system.as_ref().and_then(|s| s.server.as_ref()).map_or(0.0, |s| s.cpu_percent_mean);
        println!(
            "  {:<28} mean {:>8.2} ms  p99 {:>8.2} ms  {:>7.0} req/s  server CPU {:>5.0} % of one core  success {:.0} %",
            r.name,
            ms(l.mean_ns),
            ms(l.p99_ns),
            r.throughput_rps.unwrap_or(0.0),
            cpu,
            r.outcomes.success_rate * 100.0
        );
    }
    let tput = |i: usize| results[i].throughput_rps.unwrap_or(0.0);
    let (cpu_gain, io_gain) = (tput(2) / tput(0).max(1e-9), tput(3) / tput(1).max(1e-9));
    println!("forking/threaded throughput: cpu_work {cpu_gain:.2}×, io_work {io_gain:.2}×");

    // Pairs of Python servers named alike are compared for the GIL automatically; the
    // explicit pair below makes the comparison visible for the native servers too (where
    // the engine knows there is no GIL).
    let findings =
        Diagnosis::new(Thresholds::default()).results(&results).compare_modes(&results[0], &results[2]).findings();
    println!("\n{}", rpycbench::profile::diagnosis::render_text(&findings));
    Ok(())
}
