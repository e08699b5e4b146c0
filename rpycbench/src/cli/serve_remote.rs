//! `rpycbench serve --remote HOST`: the server runs on HOST over SSH; this process
//! prints the local readiness line (the tunnel's end, or the server's own address) and
//! keeps the session open until SIGINT or SIGTERM, then stops the server there.

use super::serve::ServeArgs;
use super::server_kind::ServerKind;
use crate::http::HttpServerSpec;
use crate::server::remote::RemoteServer;
use crate::server::{PythonServerSpec, ServerError, ServerSpec};
use crate::wire::Compression;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if args.host != "127.0.0.1" {
        return Err(
            "with --remote, the address the server binds there is --remote-bind HOST (--host is for local servers)"
                .into(),
        );
    }
    let native = matches!(args.mode, ServerKind::Rpyc(mode) if !mode.is_python());
    let limits = crate::server::child::limit_args(args.limits.silence(), args.memory_budget);
    if !native && !limits.is_empty() {
        return Err(format!(
            "--stall-timeout, --idle-timeout and --memory-budget apply to the native RPyC modes (threaded, forking), not to {}",
            args.mode
        )
        .into());
    }
    match args.mode {
        ServerKind::Http if args.compression.is_some() || args.payload != crate::server::PayloadKind::default() => {
            return Err("--compression and --payload apply to the RPyC modes, not to http".into());
        }
        ServerKind::Rpyc(mode) if mode.is_python() && args.compression == Some(Compression::Off) => {
            return Err(ServerError::PythonCompresses { server: mode.name() }.into());
        }
        _ => {}
    }
    // Registered before connecting, so a Ctrl-C while connecting still stops cleanly.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let Some(session) = args.remote.connect()? else {
        return Err("--remote needs a destination".into());
    };
    let max_connections = args.limits.max_connections();
    let mut server = match args.mode {
        ServerKind::Http => HttpServerSpec { port: args.port, max_connections, ..HttpServerSpec::new() }
            .start_remote(session.clone())?,
        ServerKind::Rpyc(mode) => {
            let mut spec = ServerSpec::new(mode).payload(args.payload).python(PythonServerSpec {
                python: args.python,
                service: args.service,
                python_path: args.python_path,
                ..PythonServerSpec::default()
            });
            (spec.port, spec.compression, spec.max_connections) = (args.port, args.compression, max_connections);
            RemoteServer::start_with(session.clone(), &spec, &limits)?
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", server.addr()).and_then(|()| out.flush())?;
    drop(out);
    eprintln!("rpycbench: {}", super::remote::describe(args.mode.name(), &server));
    while !stop.load(Ordering::Relaxed) {
        if server.has_exited() {
            return Err(format!(
                "the server on {} has exited; its stderr:\n{}",
                session.spec().destination,
                server.stderr()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop()?;
    Ok(ExitCode::SUCCESS)
}
