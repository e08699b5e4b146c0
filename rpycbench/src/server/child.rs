//! Native servers from any binary. [`ServerSpec::start`](super::ServerSpec::start) runs
//! a native server by executing a binary with [`SERVE_CHILD_ENV`] set and the arguments
//! `serve --mode M --host H --port P [--max-connections N]`. When no `rpycbench`
//! binary is at hand — a downstream crate's own binary or test, with nothing installed —
//! it executes the current binary, and this hook serves the request there.
//!
//! The hook is an `.init_array` entry: the C runtime calls it before `main`, so the
//! user writes nothing (a `#[test]` has no `main` of its own to write it in). It looks at
//! one environment variable and returns at once unless it is set; set, it serves until
//! stopped and exits without ever reaching `main`. It is linked exactly when
//! `ServerSpec::start` is (which refers to it), and it leaves requests for a Rust service
//! of the user's (`--rust-service`) to the benchmark harness's `main`, which knows them.
//!
//! Before `main`, `std::env::args` may not be set up yet: the arguments are read from
//! `/proc/self/cmdline`; and SIGPIPE is not yet ignored, so the hook ignores it, as the
//! runtime would. A process that serves never returns from the hook: constructors
//! ordered after it and `main` do not run in it. Anything but a `serve` request (the
//! variable is inherited by a server's own children) returns at once, and so does a
//! request for a mode that is not a [`ServerMode`]: the HTTP baseline has a hook of its
//! own (`http/child.rs`) built from the same parts, since this layer does not know HTTP.
//!
//! A Python mode is served as `rpycbench serve` serves it: the process becomes the
//! Python server (`exec`). A remote host reached by a copied benchmark binary (which has
//! no `serve` command of its own) gets its Python servers this way.

use super::{serve_native, PayloadKind, PythonServerSpec, ServeOptions, ServerMode, SERVE_CHILD_ENV};
use crate::client::SilenceLimits;
use crate::wire::Compression;
use std::path::PathBuf;

/// Set by the benchmark harness to the name of the Rust service a native server child
/// is to serve (one of the harness's registered services).
pub(crate) const RUST_SERVICE_ENV: &str = "RPYCBENCH_RUST_SERVICE";

/// Modes of `serve` that another layer's hook serves (`http/child.rs`): this one leaves
/// them alone. Only the names, so that this layer needs nothing of HTTP.
pub(crate) const MODES_SERVED_ELSEWHERE: [&str; 1] = ["http"];

/// What the parent asked for: `serve --mode threaded|forking --host H --port P
/// [--max-connections N] [--rust-service NAME]`.
#[derive(Debug, PartialEq)]
pub(crate) struct ServeRequest {
    /// As written: a native [`ServerMode`], or a mode another hook serves (`http`).
    pub mode: String,
    pub host: String,
    pub port: u16,
    pub max_connections: Option<usize>,
    /// A Rust service registered with the harness, by name.
    pub rust_service: Option<String>,
    /// How the server compresses what it sends.
    pub compression: Compression,
    /// What the built-in service's downloads are made of.
    pub payload: PayloadKind,
    /// Exit when stdin reaches EOF (`--exit-with-stdin`, see [`exit_with_stdin`](super::exit_with_stdin)).
    pub exit_with_stdin: bool,
    /// The session a remote server's companion watches (`--session PID`).
    pub session: Option<u32>,
    /// A Python mode's interpreter (`--python`; default: as
    /// [`PythonServerSpec::interpreter`] finds one).
    pub python: Option<String>,
    /// A Python mode's service, `module:Class` (`--service`).
    pub service: Option<String>,
    /// Directories for a Python service's imports (`--python-path`, repeated).
    pub python_path: Vec<String>,
    /// How long a peer may stay silent (`--stall-timeout-ms`, `--idle-timeout-ms`, each
    /// milliseconds or `off`): the command's `--stall-timeout` and `--idle-timeout`
    /// passed on to a server started elsewhere (`serve --remote`).
    pub silence: SilenceLimits,
    /// A connection's memory budget in bytes (`--memory-budget-bytes`; default
    /// [`DEFAULT_MEMORY_BUDGET`](crate::wire::DEFAULT_MEMORY_BUDGET)).
    pub memory_budget: Option<usize>,
}

/// The arguments that pass `silence` and `memory_budget` on to a server's [`parse`]:
/// none for the defaults, so that an older hook still parses what a default run sends.
// Only the command (`serve --remote`, feature `cli`) has these flags to pass on.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub(crate) fn limit_args(silence: SilenceLimits, memory_budget: usize) -> Vec<String> {
    let mut args = Vec::new();
    let millis = |d: Option<std::time::Duration>| d.map_or_else(|| "off".to_owned(), |d| d.as_millis().to_string());
    let default = SilenceLimits::default();
    if silence.stall != default.stall {
        args.extend(["--stall-timeout-ms".to_owned(), millis(silence.stall)]);
    }
    if silence.idle != default.idle {
        args.extend(["--idle-timeout-ms".to_owned(), millis(silence.idle)]);
    }
    if memory_budget != crate::wire::DEFAULT_MEMORY_BUDGET {
        args.extend(["--memory-budget-bytes".to_owned(), memory_budget.to_string()]);
    }
    args
}

/// A silence limit as [`limit_args`] writes it.
fn parse_silence(value: &str) -> Result<Option<std::time::Duration>, String> {
    if value == "off" {
        return Ok(None);
    }
    match value.parse::<u64>() {
        Ok(0) => Err("a zero limit would close every connection".into()),
        Ok(ms) => Ok(Some(std::time::Duration::from_millis(ms))),
        Err(e) => Err(format!("{e} (milliseconds, or off)")),
    }
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: &[String]) -> Result<ServeRequest, String> {
    let (command, rest) = args.split_first().ok_or("expected `serve`")?;
    if command != "serve" {
        return Err(format!("expected `serve`, got {command:?}"));
    }
    let mut req = ServeRequest {
        mode: ServerMode::Threaded.name().to_owned(),
        host: "127.0.0.1".into(),
        port: 0,
        max_connections: None,
        rust_service: std::env::var(RUST_SERVICE_ENV).ok().filter(|s| !s.is_empty()),
        compression: Compression::Off,
        payload: PayloadKind::default(),
        exit_with_stdin: false,
        session: None,
        python: None,
        service: None,
        python_path: Vec::new(),
        silence: SilenceLimits::default(),
        memory_budget: None,
    };
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        if flag == "--exit-with-stdin" {
            req.exit_with_stdin = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("invalid {flag} {value:?}: {e}");
        match flag.as_str() {
            "--mode" => req.mode.clone_from(value),
            "--host" => req.host.clone_from(value),
            "--port" => req.port = value.parse().map_err(|e| bad(&e))?,
            "--max-connections" => req.max_connections = Some(value.parse().map_err(|e| bad(&e))?),
            "--rust-service" => req.rust_service = Some(value.clone()),
            "--session" => req.session = Some(value.parse().map_err(|e| bad(&e))?),
            "--python" => req.python = Some(value.clone()),
            "--service" => req.service = Some(value.clone()),
            "--python-path" => req.python_path.push(value.clone()),
            "--stall-timeout-ms" => req.silence.stall = parse_silence(value).map_err(|e| bad(&e))?,
            "--idle-timeout-ms" => req.silence.idle = parse_silence(value).map_err(|e| bad(&e))?,
            "--memory-budget-bytes" => req.memory_budget = Some(value.parse().map_err(|e| bad(&e))?),
            "--compression" => {
                req.compression = match value.as_str() {
                    "off" => Compression::Off,
                    "python" => Compression::Python,
                    _ => return Err(bad(&"expected off or python")),
                }
            }
            "--payload" => req.payload = value.parse().map_err(|e| bad(&e))?,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(req)
}

/// Becomes the Python server `req` asks for (`exec`), as `rpycbench serve` does; returns
/// only with why it could not.
fn exec_python(req: &ServeRequest, mode: ServerMode) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    if req.exit_with_stdin {
        // The watcher is a process, and exec keeps the pid it watches over.
        super::exit_with_stdin().map_err(|e| format!("cannot watch stdin: {e}"))?;
    }
    let spec = PythonServerSpec {
        python: req.python.as_ref().map(PathBuf::from),
        service: req.service.clone(),
        python_path: req.python_path.iter().map(PathBuf::from).collect(),
        max_connections: req.max_connections,
        payload: req.payload,
    };
    let err = spec.command(mode, &req.host, req.port).map_err(|e| e.to_string())?.exec();
    Err(format!("cannot run the Python interpreter: {err}"))
}

/// Serves `req` with `opts` (the built-in service unless the caller chose another),
/// until the process is stopped.
pub(crate) fn serve(req: &ServeRequest, mut opts: ServeOptions) -> Result<(), String> {
    // Without --max-connections, the default cap of `opts` stays.
    if req.max_connections.is_some() {
        opts.max_connections = req.max_connections;
    }
    opts.config.compression = req.compression;
    opts.config.silence = req.silence;
    if let Some(budget) = req.memory_budget {
        opts.config.limits.max_connection_memory = budget;
    }
    let mode: ServerMode = req.mode.parse().map_err(|e: super::UnknownMode| e.to_string())?;
    if req.exit_with_stdin {
        super::exit_with_stdin().map_err(|e| format!("cannot watch stdin: {e}"))?;
    }
    serve_native(mode, &req.host, req.port, opts).map_err(|e| e.to_string())
}

/// The `.init_array` entry (see the module documentation).
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static SERVE_BEFORE_MAIN: extern "C" fn() = serve_before_main;

/// Makes sure the hook is linked into any binary that can start native servers.
pub(crate) fn link_hook() {
    #[cfg(target_os = "linux")]
    std::hint::black_box(&SERVE_BEFORE_MAIN);
}

#[cfg(target_os = "linux")]
extern "C" fn serve_before_main() {
    let Some(args) = serve_request_args() else { return };
    serve_in_hook(|| match parse(&args) {
        // A remote server's companion (see `server::remote`).
        Ok(req) if req.mode == super::remote::COMPANION_MODE => {
            consume_request();
            let Some(session) = req.session else { return Some(Err("the companion needs --session PID".into())) };
            Some(super::remote::serve_companion(&req.host, req.port, session))
        }
        // A Rust service of the user's: the harness's `main` serves it.
        Ok(req) if req.rust_service.is_some() => None,
        // Another protocol's, which its own hook serves; any other unknown mode fails
        // below, at once, rather than run this binary's `main` as if it were a server.
        Ok(req) if MODES_SERVED_ELSEWHERE.contains(&req.mode.as_str()) => None,
        Ok(req) => match req.mode.parse::<ServerMode>() {
            Ok(mode) if mode.is_python() => {
                consume_request();
                Some(exec_python(&req, mode))
            }
            _ => {
                consume_request();
                Some(serve(&req, ServeOptions::builtin_with(req.payload)))
            }
        },
        Err(e) => Some(Err(e)),
    });
}

/// The arguments after the program name when this process was started to serve
/// ([`SERVE_CHILD_ENV`] set, first argument `serve`); `None` otherwise. Read from
/// /proc, because before `main` the standard library has not stored them yet.
pub(crate) fn serve_request_args() -> Option<Vec<String>> {
    std::env::var_os(SERVE_CHILD_ENV)?;
    let cmdline = std::fs::read("/proc/self/cmdline").ok()?;
    let args: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .skip(1)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    // The variable is inherited: a program a server's own child starts (one that links
    // rpycbench too) is not a serve request, and runs its `main`.
    (args.first().map(String::as_str) == Some("serve")).then_some(args)
}

/// Marks the request served: what this server starts is not a server.
pub(crate) fn consume_request() {
    // Still one thread here, before `main`: nothing reads the environment concurrently.
    std::env::remove_var(SERVE_CHILD_ENV);
}

/// Runs a hook's `serve`: `None` leaves the request to another hook or to `main`; a
/// result ends the process with its status, since a server never returns to `main`.
pub(crate) fn serve_in_hook(serve: impl FnOnce() -> Option<Result<(), String>> + std::panic::UnwindSafe) {
    // Before `main`, the Rust runtime has not yet set SIGPIPE to ignored: a client that
    // hangs up mid-reply must be a write error, not the end of the server.
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // Unwinding out of a function the C runtime called would abort with no word of why.
    match std::panic::catch_unwind(serve) {
        Ok(None) => {}
        Ok(Some(Ok(()))) => std::process::exit(0),
        Ok(Some(Err(e))) => {
            eprintln!("rpycbench server: {e}");
            std::process::exit(1);
        }
        Err(_) => std::process::exit(101),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serve_command_parses() {
        let args: Vec<String> =
            "serve --mode forking --host 127.0.0.1 --exit-with-stdin --port 0 --max-connections 4 --rust-service my_svc --compression python --payload text --python /opt/py --service m:S --python-path a --python-path b"
                .split(' ')
                .map(String::from)
                .collect();
        let req = parse(&args).unwrap();
        assert_eq!(req.mode, "forking");
        assert_eq!(req.max_connections, Some(4));
        assert_eq!(req.rust_service.as_deref(), Some("my_svc"));
        assert_eq!((req.compression, req.payload), (Compression::Python, PayloadKind::Text));
        assert!(req.exit_with_stdin);
        assert_eq!((req.python.as_deref(), req.service.as_deref()), (Some("/opt/py"), Some("m:S")));
        assert_eq!(req.python_path, ["a", "b"]);
        assert_eq!((req.silence, req.memory_budget), (SilenceLimits::default(), None));
        let silence = SilenceLimits { stall: None, idle: Some(std::time::Duration::from_millis(1500)) };
        let mut args = vec!["serve".to_owned()];
        args.extend(limit_args(silence, 1 << 20));
        assert_eq!(
            args[1..],
            ["--stall-timeout-ms", "off", "--idle-timeout-ms", "1500", "--memory-budget-bytes", "1048576"]
        );
        let req = parse(&args).unwrap();
        assert_eq!((req.silence, req.memory_budget), (silence, Some(1 << 20)));
        assert!(limit_args(SilenceLimits::default(), crate::wire::DEFAULT_MEMORY_BUDGET).is_empty());
        let bad =
            |flag: &str, value: &str| parse(&["serve".to_owned(), flag.to_owned(), value.to_owned()]).unwrap_err();
        assert!(bad("--compression", "gzip").contains("expected off or python"));
        assert!(bad("--payload", "random").contains("expected incompressible, text or zeros"));
        assert!(bad("--idle-timeout-ms", "0").contains("zero"));
        assert!(bad("--stall-timeout-ms", "soon").contains("milliseconds, or off"));
        assert!(parse(&["list".to_owned()]).is_err());
        assert!(parse(&["serve".to_owned(), "--port".to_owned()]).is_err());
    }
}
