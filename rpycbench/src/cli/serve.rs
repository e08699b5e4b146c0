//! `rpycbench serve`: one server in the foreground, ready when it says so.

use crate::server::{serve_native, PythonServerSpec, ServeOptions, ServerMode};
use clap::Args;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Server model: threaded, forking, python-threaded, python-forking, or http (the
    /// HTTP/1.1 baseline serving the built-in service's operations as routes).
    #[arg(long, default_value = "threaded")]
    mode: ServerMode,
    /// Address to bind. Only loopback unless you say otherwise.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one (printed on the readiness line).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Python service as MODULE:CLASS (python-* modes; default: the built-in benchmark service).
    #[arg(long)]
    service: Option<String>,
    /// Directory to add to the Python import path (repeatable).
    #[arg(long = "python-path", value_name = "DIR")]
    python_path: Vec<PathBuf>,
    /// Python interpreter for python-* modes (default: $RPYCBENCH_PYTHON, else python3).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Serve at most N connections at once; more are accepted and closed immediately.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
}

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if args.mode.is_python() {
        let spec = PythonServerSpec {
            python: args.python,
            service: args.service,
            python_path: args.python_path,
            max_connections: args.max_connections,
        };
        // exec: the Python server becomes this process, so signals and the readiness
        // line go straight to it and no parent is left to clean up.
        let err = spec.command(args.mode, &args.host, args.port)?.exec();
        return Err(format!("cannot run the Python interpreter: {err}").into());
    }
    if let Some(service) = args.service {
        return Err(format!(
            "native servers serve the built-in benchmark service; to serve {service}, use --mode python-threaded or python-forking"
        )
        .into());
    }
    let opts = ServeOptions { max_connections: args.max_connections, ..ServeOptions::builtin() };
    serve_native(args.mode, &args.host, args.port, opts)?;
    Ok(ExitCode::SUCCESS)
}
