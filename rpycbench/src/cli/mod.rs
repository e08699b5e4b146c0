//! The `rpycbench` command.

mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Benchmark, profile and regression-test RPyC services.
#[derive(Debug, Parser)]
#[command(name = "rpycbench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a server: native threaded or forking, or a real Python rpyc server.
    Serve(serve::ServeArgs),
}

/// Runs the command line; the `rpycbench` binary's `main`.
pub fn main() -> ExitCode {
    crate::server::current_exe_serves();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rpycbench: {e}");
            ExitCode::FAILURE
        }
    }
}
