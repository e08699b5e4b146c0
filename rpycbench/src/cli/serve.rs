//! `rpycbench serve`: one server in the foreground, ready when it says so.

use super::server_kind::ServerKind;
use crate::client::SilenceLimits;
use crate::server::{serve_native, PayloadKind, PythonServerSpec, ServeOptions, ServerError, ServerMode};
use crate::wire::Compression;
use clap::Args;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Server model: threaded, forking, python-threaded, python-forking, or http (the
    /// HTTP/1.1 baseline serving the built-in service's operations as routes).
    #[arg(long, default_value = "threaded")]
    pub(super) mode: ServerKind,
    /// Address to bind. Only loopback unless you say otherwise.
    #[arg(long, default_value = "127.0.0.1")]
    pub(super) host: String,
    /// Port to bind; 0 picks a free one (printed on the readiness line).
    #[arg(long, default_value_t = 0)]
    pub(super) port: u16,
    /// Python service as MODULE:CLASS (python-* modes; default: the built-in benchmark service).
    #[arg(long)]
    pub(super) service: Option<String>,
    /// Directory to add to the Python import path (repeatable).
    #[arg(long = "python-path", value_name = "DIR")]
    pub(super) python_path: Vec<PathBuf>,
    /// Python interpreter for python-* modes (default: $RPYCBENCH_PYTHON, the active
    /// virtualenv, a .venv here or above, else python3).
    #[arg(long)]
    pub(super) python: Option<PathBuf>,
    /// Memory budget per connection (native modes), e.g. 64MiB or 1GiB: bounds the
    /// values decoded from a client's messages and, separately, the reply being built
    /// for it; past it the request fails with MemoryError. The default (128MiB) fits
    /// the 100 MB transfers users benchmark.
    #[arg(long, value_name = "SIZE", value_parser = parse_budget, default_value = "128MiB")]
    pub(super) memory_budget: usize,
    /// How the server compresses the frames it sends: off, or python (zlib level 1 for
    /// frames over 3000 bytes, byte for byte as Python's rpyc does). Default: off for
    /// native modes; Python servers always compress (off is refused for them).
    #[arg(long, value_enum)]
    pub(super) compression: Option<Compression>,
    /// What the built-in service's downloads are made of: incompressible (SHA-256
    /// stream), text (English-like lines, 2.8× smaller compressed) or zeros.
    #[arg(long, value_enum, default_value = "incompressible")]
    pub(super) payload: PayloadKind,
    #[command(flatten)]
    pub(super) limits: super::limits::ConnectionLimitArgs,
    #[command(flatten)]
    pub(super) remote: super::remote::RemoteArgs,
    /// Exit once stdin reaches EOF: how a server started over SSH dies with its session.
    #[arg(long, hide = true)]
    pub(super) exit_with_stdin: bool,
}

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if args.remote.remote.is_some() {
        return super::serve_remote::run(args);
    }
    if args.exit_with_stdin {
        // Before anything else: still one thread here (see exit_with_stdin).
        crate::server::exit_with_stdin().map_err(|e| format!("cannot watch stdin: {e}"))?;
    }
    let (max_connections, silence) = (args.limits.max_connections(), args.limits.silence());
    let native = |mode| matches!(mode, ServerKind::Rpyc(ServerMode::Threaded | ServerMode::Forking));
    if silence != SilenceLimits::default() && !native(args.mode) {
        return Err(format!(
            "--stall-timeout and --idle-timeout apply to the native RPyC modes (threaded, forking), not to {}",
            args.mode
        )
        .into());
    }
    let mode = match args.mode {
        ServerKind::Http if args.compression.is_some() || args.payload != PayloadKind::default() => {
            return Err("--compression and --payload apply to the RPyC modes, not to http".into());
        }
        ServerKind::Http => {
            crate::http::serve(&args.host, args.port, max_connections)?;
            return Ok(ExitCode::SUCCESS);
        }
        ServerKind::Rpyc(mode) => mode,
    };
    if mode.is_python() {
        if args.compression == Some(Compression::Off) {
            return Err(ServerError::PythonCompresses { server: mode.name() }.into());
        }
        if args.service.is_some() && args.payload != PayloadKind::default() {
            return Err("--payload applies to the built-in benchmark service, not to a --service".into());
        }
        let spec = PythonServerSpec {
            python: args.python,
            service: args.service,
            python_path: args.python_path,
            max_connections,
            payload: args.payload,
        };
        // exec: the Python server becomes this process, so signals and the readiness
        // line go straight to it and no parent is left to clean up.
        let err = spec.command(mode, &args.host, args.port)?.exec();
        return Err(format!("cannot run the Python interpreter: {err}").into());
    }
    if let Some(service) = args.service {
        return Err(format!(
            "native servers serve the built-in benchmark service; to serve {service}, use --mode python-threaded or python-forking"
        )
        .into());
    }
    let mut opts = ServeOptions::builtin_with(args.payload);
    opts.config.compression = args.compression.unwrap_or(Compression::Off);
    opts.max_connections = max_connections.or(opts.max_connections);
    opts.config.silence = silence;
    opts.config.limits.max_connection_memory = args.memory_budget;
    serve_native(mode, &args.host, args.port, opts)?;
    Ok(ExitCode::SUCCESS)
}

/// Smallest budget accepted: every ordinary request fits many times over.
const MIN_BUDGET: usize = 64 << 10;

/// A size as [`parse_size`](super::sizes::parse_size) reads it, at least [`MIN_BUDGET`].
fn parse_budget(text: &str) -> Result<usize, String> {
    let bytes = super::sizes::parse_size(text)?;
    let bytes = usize::try_from(bytes).map_err(|_| format!("{text} is too large"))?;
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
