//! The benchmark binary as its own server: the harness starts native servers by
//! re-executing itself (with [`SERVE_CHILD_ENV`](crate::server::SERVE_CHILD_ENV) set),
//! which is how a user's Rust [`Service`](crate::server::Service) runs in a process of
//! its own, as a real server would.

use super::registry::{benchmarks, ServerChoice};
use super::servers::RUST_SERVICE_ENV;
use crate::client::Config;
use crate::server::{serve_native, ServeOptions, ServerMode, Service};
use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

/// What the parent asked for: `serve --mode threaded|forking --host H --port P
/// [--max-connections N] [--rust-service NAME]`.
#[derive(Debug, PartialEq)]
struct ServeRequest {
    mode: ServerMode,
    host: String,
    port: u16,
    max_connections: Option<usize>,
    rust_service: Option<String>,
}

/// Serves until SIGTERM; the process's `main`.
pub fn serve(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<String> = args.into_iter().map(|a| a.to_string_lossy().into_owned()).collect();
    match parse(&args).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rpycbench harness server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<ServeRequest, String> {
    let (command, rest) = args.split_first().ok_or("expected `serve`")?;
    if command != "serve" {
        return Err(format!("expected `serve`, got {command:?}"));
    }
    let mut req = ServeRequest {
        mode: ServerMode::Threaded,
        host: "127.0.0.1".into(),
        port: 0,
        max_connections: None,
        rust_service: std::env::var(RUST_SERVICE_ENV).ok().filter(|s| !s.is_empty()),
    };
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("invalid {flag} {value:?}: {e}");
        match flag.as_str() {
            "--mode" => req.mode = value.parse().map_err(|e| bad(&e))?,
            "--host" => req.host.clone_from(value),
            "--port" => req.port = value.parse().map_err(|e| bad(&e))?,
            "--max-connections" => req.max_connections = Some(value.parse().map_err(|e| bad(&e))?),
            "--rust-service" => req.rust_service = Some(value.clone()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(req)
}

fn run(req: ServeRequest) -> Result<(), String> {
    let mut opts = ServeOptions::builtin();
    // Without --max-connections, the default cap of `builtin()` stays.
    if req.max_connections.is_some() {
        opts.max_connections = req.max_connections;
    }
    if let Some(name) = &req.rust_service {
        let factory = find_service(name).ok_or_else(|| format!("no Rust service named {name:?} is registered"))?;
        opts = ServeOptions {
            service: Arc::new(move || factory()),
            config: Config::default(),
            max_connections: opts.max_connections,
        };
    }
    serve_native(req.mode, &req.host, req.port, opts).map_err(|e| e.to_string())
}

/// The factory of the Rust service registered under `name`.
fn find_service(name: &str) -> Option<fn() -> Arc<dyn Service>> {
    benchmarks().into_iter().flat_map(|b| b.servers.iter()).find_map(|s| match s {
        ServerChoice::Rust { name: n, factory, .. } if *n == name => Some(*factory),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serve_command_parses() {
        let args: Vec<String> =
            "serve --mode forking --host 127.0.0.1 --port 0 --max-connections 4 --rust-service my_svc"
                .split(' ')
                .map(String::from)
                .collect();
        let req = parse(&args).unwrap();
        assert_eq!(req.mode, ServerMode::Forking);
        assert_eq!(req.max_connections, Some(4));
        assert_eq!(req.rust_service.as_deref(), Some("my_svc"));
        assert!(parse(&["list".to_owned()]).is_err());
    }
}
