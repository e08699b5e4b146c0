//! `rpycbench serve`: one server in the foreground, ready when it says so.

use crate::client::SilenceLimits;
use crate::server::{serve_native, PythonServerSpec, ServeOptions, ServerMode};
use clap::Args;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    /// Default for native modes: 1000, or fewer if the open-files limit (ulimit -n) is
    /// lower; Python modes have no cap unless given one (as rpyc's servers).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// Native RPyC modes: close a connection whose client sent part of a frame and then
    /// nothing for this long, or took none of a reply's bytes for this long (e.g. 30s,
    /// 2m; "off" never).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    stall_timeout: Silence,
    /// Native RPyC modes: close a connection whose client sent nothing at all for this
    /// long ("off", the default, never: Python's ThreadedServer waits for idle clients
    /// forever). With --max-connections, silent clients hold their slots until this
    /// limit frees them.
    #[arg(long, value_name = "DURATION", default_value = "off")]
    idle_timeout: Silence,
}

/// A silence limit on the command line: a duration (`30s`, `2m`) or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Silence(pub(crate) Option<Duration>);

impl std::str::FromStr for Silence {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(Silence(None));
        }
        match humantime::parse_duration(s) {
            Ok(d) if d.is_zero() => Err("a zero limit would close every connection; use \"off\" for none".into()),
            Ok(d) => Ok(Silence(Some(d))),
            Err(e) => Err(format!("{e} (a duration such as 30s or 2m, or off)")),
        }
    }
}

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let max_connections = args.max_connections.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let silence = SilenceLimits { stall: args.stall_timeout.0, idle: args.idle_timeout.0 };
    if silence != SilenceLimits::default() && !matches!(args.mode, ServerMode::Threaded | ServerMode::Forking) {
        return Err(format!(
            "--stall-timeout and --idle-timeout apply to the native RPyC modes (threaded, forking), not to {}",
            args.mode
        )
        .into());
    }
    if args.mode.is_python() {
        let spec = PythonServerSpec {
            python: args.python,
            service: args.service,
            python_path: args.python_path,
            max_connections,
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
    let mut opts = ServeOptions::builtin();
    opts.max_connections = max_connections.or(opts.max_connections);
    opts.config.silence = silence;
    serve_native(args.mode, &args.host, args.port, opts)?;
    Ok(ExitCode::SUCCESS)
}
