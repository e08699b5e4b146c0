//! The `rpycbench` command.

mod ab;
mod bench;
mod compare;
mod counts;
mod external;
mod interrupt;
mod json_args;
mod limits;
mod merge;
mod outputs;
mod progress;
mod proxy;
mod proxy_sampler;
mod remote;
mod report;
mod serve;
mod serve_remote;
mod server_kind;
mod sizes;
mod sla_flags;
mod start_at;
mod suite;
mod sweep;
mod sweep_chart;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Benchmark, profile and regression-test RPyC services.
#[derive(Debug, Parser)]
#[command(
    name = "rpycbench",
    version,
    about,
    args_conflicts_with_subcommands = true,
    after_help = suite::SUITE_AFTER_HELP
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no command: the suite's options.
    #[command(flatten)]
    suite: suite::SuiteArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the benchmark suite on the built-in RPyC servers and the HTTP baseline (the default).
    #[command(after_help = suite::SUITE_AFTER_HELP)]
    Suite(suite::SuiteArgs),
    /// Run a server: native threaded or forking, or a real Python rpyc server.
    Serve(serve::ServeArgs),
    /// Compare two result or baseline files; exits 11 when a benchmark regressed.
    Compare(compare::CompareArgs),
    /// Benchmark a method of any running RPyC server, with SLA checks (exit 10 when violated).
    #[command(after_help = bench::BENCH_AFTER_HELP)]
    Bench(bench::BenchArgs),
    /// Compare two running servers in one loop (paired A/B); exits 11 when B regressed.
    #[command(after_help = ab::AB_AFTER_HELP)]
    Ab(ab::AbArgs),
    /// Vary clients, payload size or server mode until a limit is crossed; draw the curve.
    Sweep(sweep::SweepArgs),
    /// Merge the results of workers that loaded one server together into one result.
    #[command(after_help = merge::MERGE_AFTER_HELP)]
    Merge(merge::MergeArgs),
    /// Write report.html and summary.md for a result file, optionally against a baseline.
    Report(report::ReportArgs),
    /// Relay an RPyC client to its server and report the traffic (profiling relay).
    Proxy(proxy::ProxyArgs),
}

/// Runs the command line; the `rpycbench` binary's `main`.
pub fn main() -> ExitCode {
    crate::server::current_exe_serves();
    let cli = Cli::parse();
    let result = match cli.command {
        None => suite::run(cli.suite),
        Some(Command::Suite(args)) => suite::run(args),
        Some(Command::Serve(args)) => serve::run(args),
        Some(Command::Compare(args)) => compare::run(args),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Ab(args)) => ab::run(args),
        Some(Command::Sweep(args)) => sweep::run(args),
        Some(Command::Merge(args)) => merge::run(args),
        Some(Command::Report(args)) => report::run(args),
        Some(Command::Proxy(args)) => proxy::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rpycbench: {e}");
            ExitCode::FAILURE
        }
    }
}
