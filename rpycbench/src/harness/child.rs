//! The benchmark binary as its own server: the harness starts native servers by
//! re-executing itself (with [`SERVE_CHILD_ENV`](crate::server::SERVE_CHILD_ENV) set),
//! which is how a user's Rust [`Service`](crate::server::Service) runs in a process of
//! its own, as a real server would.

use super::registry::{benchmarks, ServerChoice};
use crate::server::child::{self, ServeRequest};
use crate::server::{ServeOptions, Service};
use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

/// Serves until SIGTERM; the process's `main`. Requests for the built-in service are
/// served before `main` by the server layer's hook; the ones naming a Rust service of
/// this binary come here.
pub fn serve(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<String> = args.into_iter().map(|a| a.to_string_lossy().into_owned()).collect();
    match child::parse(&args).and_then(|req| run(&req)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rpycbench harness server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(req: &ServeRequest) -> Result<(), String> {
    let opts = match &req.rust_service {
        Some(name) => {
            let factory = find_service(name).ok_or_else(|| format!("no Rust service named {name:?} is registered"))?;
            // The default cap of `builtin()` stays unless --max-connections is given.
            ServeOptions { service: Arc::new(move || factory()), ..ServeOptions::builtin() }
        }
        None => ServeOptions::builtin_with(req.payload),
    };
    child::serve(req, opts)
}

/// The factory of the Rust service registered under `name`.
fn find_service(name: &str) -> Option<fn() -> Arc<dyn Service>> {
    benchmarks().into_iter().flat_map(|b| b.servers.iter()).find_map(|s| match s {
        ServerChoice::Rust { name: n, factory, .. } if *n == name => Some(*factory),
        _ => None,
    })
}
