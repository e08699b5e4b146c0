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
    /// Memory budget per connection (native modes), e.g. 64MiB or 1GiB: bounds the
    /// values decoded from a client's messages and, separately, the reply being built
    /// for it; past it the request fails with MemoryError. The default (128MiB) fits
    /// the 100 MB transfers users benchmark.
    #[arg(long, value_name = "SIZE", value_parser = parse_budget, default_value = "128MiB")]
    memory_budget: usize,
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
    opts.config.limits.max_connection_memory = args.memory_budget;
    serve_native(args.mode, &args.host, args.port, opts)?;
    Ok(ExitCode::SUCCESS)
}

/// Smallest budget accepted: every ordinary request fits many times over.
const MIN_BUDGET: usize = 64 << 10;

/// `SIZE` in bytes, or with a binary suffix: K/KiB, M/MiB, G/GiB.
fn parse_budget(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        other => return Err(format!("unknown unit {other:?} (use bytes, KiB, MiB or GiB)")),
    };
    let n: usize = digits.parse().map_err(|_| format!("{text:?} is not a size such as 128MiB"))?;
    let bytes = n.checked_mul(1 << shift).ok_or_else(|| format!("{text} is too large"))?;
    if bytes < MIN_BUDGET {
        return Err(format!("{text} is below the smallest budget, 64KiB"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn budget_sizes() {
        assert_eq!(super::parse_budget("128MiB"), Ok(128 << 20));
        assert_eq!(super::parse_budget("1g"), Ok(1 << 30));
        assert_eq!(super::parse_budget("1048576"), Ok(1 << 20));
        assert!(super::parse_budget("1KiB").is_err());
        assert!(super::parse_budget("12 parsecs").is_err());
        assert_eq!(super::parse_budget(&crate::wire::DEFAULT_MEMORY_BUDGET.to_string()), Ok(128 << 20));
    }
}
