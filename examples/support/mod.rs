//! What every example shares: starting the built-in servers, and a small
//! `--name value` option parser.
//!
//! Native servers run in a process of their own (their own session, as the
//! architecture requires). Here they start from the example's own executable, which
//! serves them before its `main` (library mode: nothing to call, nothing to install).
//! So `cargo run --example NAME` works without building or installing the `rpycbench`
//! command first.
#![allow(dead_code)] // each example uses part of it

use rpycbench::server::{ServerError, ServerHandle, ServerMode, ServerSpec};
use std::collections::HashMap;
use std::process::ExitCode;
use std::str::FromStr;

/// A built-in server of `mode` on 127.0.0.1 and an ephemeral port. Native modes run
/// this executable (not an `rpycbench` binary of the build, which `cargo run --example`
/// does not rebuild); Python modes run the interpreter `PythonServerSpec::interpreter`
/// finds (`$RPYCBENCH_PYTHON`, a virtualenv, the project's `.venv`, else `python3`).
pub fn spec(mode: ServerMode) -> ServerSpec {
    ServerSpec { binary: std::env::current_exe().ok(), ..ServerSpec::new(mode) }
}

/// Starts a built-in server of `mode` and says where it listens (on stderr: stdout is
/// for the example's figures, which may be machine-readable).
pub fn start(mode: ServerMode) -> Result<ServerHandle, ServerError> {
    let server = spec(mode).start()?;
    eprintln!("started the {mode} server on {}", server.addr());
    Ok(server)
}

/// Runs an example's body: prints its error and exits 1 on failure.
pub fn run(body: impl FnOnce(&Opts) -> Result<(), Box<dyn std::error::Error>>, usage: &str, known: &[Opt]) -> ExitCode {
    let opts = match Opts::parse(std::env::args().skip(1), known) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}\n\n{usage}");
            return ExitCode::from(2);
        }
    };
    if opts.flag("help") {
        print!("{usage}");
        return ExitCode::SUCCESS;
    }
    match body(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// An option an example accepts: `--name VALUE`, or a flag `--name`.
pub struct Opt {
    /// Its name, without the dashes.
    pub name: &'static str,
    /// Whether it takes a value.
    pub takes_value: bool,
}

/// `--name VALUE`.
pub const fn value(name: &'static str) -> Opt {
    Opt { name, takes_value: true }
}

/// `--name`.
pub const fn flag(name: &'static str) -> Opt {
    Opt { name, takes_value: false }
}

/// Parsed options.
pub struct Opts {
    values: HashMap<String, String>,
}

impl Opts {
    fn parse(args: impl Iterator<Item = String>, known: &[Opt]) -> Result<Opts, String> {
        let mut values = HashMap::new();
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let name = arg.strip_prefix("--").ok_or_else(|| format!("unexpected argument {arg:?}"))?;
            if name == "help" {
                values.insert("help".into(), String::new());
                continue;
            }
            let opt = known.iter().find(|o| o.name == name).ok_or_else(|| format!("unknown option --{name}"))?;
            let v = if opt.takes_value {
                args.next().ok_or_else(|| format!("--{name} needs a value"))?
            } else {
                String::new()
            };
            values.insert(name.to_owned(), v);
        }
        Ok(Opts { values })
    }

    /// Whether `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The value of `--name`, or `default`.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| format!("invalid --{name} {v:?}: {e}")),
        }
    }

    /// A comma-separated list for `--name`, or `default`.
    pub fn list<T>(&self, name: &str, default: &[T]) -> Result<Vec<T>, String>
    where
        T: FromStr + Clone,
        T::Err: std::fmt::Display,
    {
        match self.values.get(name) {
            None => Ok(default.to_vec()),
            Some(v) => v
                .split(',')
                .map(|p| p.trim().parse().map_err(|e| format!("invalid --{name} item {p:?}: {e}")))
                .collect(),
        }
    }
}

/// Nanoseconds as milliseconds, for printing.
pub fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}
