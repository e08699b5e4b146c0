//! What `rpycbench bench` and `rpycbench sweep` share about the server they measure:
//! resolving `--connect HOST:PORT`, the method call made of `--call`/`--args`/`--kwargs`,
//! and the probe that turns an unreachable server or a missing method into one clear
//! error before the run, instead of a results file full of failures.

use super::json_args::{parse_args, parse_kwargs, ShowArgs};
use crate::bench::Target;
use crate::client::{Config, Kwargs, Object};
use crate::metrics::ServerInfo;
use crate::{Connection, Error, Result};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a run cannot start; the command prints it and exits 2.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    /// The command line is wrong in a way clap cannot tell.
    #[error("{0}")]
    Usage(String),
    /// `--args`/`--kwargs` are not valid.
    #[error(transparent)]
    Args(#[from] super::json_args::JsonArgsError),
    /// The server cannot be reached or does not speak RPyC.
    #[error("{0}")]
    Unreachable(String),
    /// The probe call failed.
    #[error("{0}")]
    Probe(String),
    /// A built-in server did not start.
    #[error(transparent)]
    Server(#[from] crate::server::ServerError),
}

/// Connection settings from `--timeout` and `--reply-poll`: the per-request timeout, at
/// most 10 s to connect, and how long to poll for each reply before blocking.
pub(crate) fn config(timeout: Duration, reply_poll: Duration) -> Config {
    Config::default()
        .request_timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .reply_poll(reply_poll)
}

/// The connection that proved a server is there, kept for the run's first client: a
/// server that serves one connection only (rpyc's `OneShotServer`) can be measured
/// too, and the check costs the server no connection of its own.
#[derive(Clone, Default)]
pub(crate) struct Spare(Arc<Mutex<Option<Connection>>>);

impl Spare {
    fn take(&self) -> Option<Connection> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn put(&self, conn: Connection) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn);
    }
}

/// Resolves `HOST:PORT` (names included) and picks the first address that accepts an
/// RPyC connection, so `localhost` works whether the server bound IPv4 or IPv6. The
/// target's first connection is that one (see [`Spare`]).
/// `target`, with the `--server-pid` tree [`server_processes`] found to sample, if any.
pub(crate) fn sampling(target: Target, processes: Option<crate::metrics::ProcessSet>) -> Target {
    match processes {
        Some(p) => target.with_processes(p),
        None => target,
    }
}

/// The process tree of `--server-pid` to sample, once checked to exist (before any
/// connection, so a wrong pid fails at once).
pub(crate) fn server_processes(pid: Option<u32>) -> Result<Option<crate::metrics::ProcessSet>, SetupError> {
    let Some(pid) = pid else { return Ok(None) };
    if pid == 0 || !std::path::Path::new(&format!("/proc/{pid}/stat")).exists() {
        return Err(SetupError::Usage(format!(
            "--server-pid {pid}: no such process on this machine (the server's pid, e.g. from `pgrep -f myserver`)"
        )));
    }
    Ok(Some(crate::metrics::ProcessSet::Tree(pid)))
}

pub(crate) fn connect_target(connect: &str, config: Config) -> Result<(Target, Spare), SetupError> {
    let timeout = config.request_timeout;
    if !matches!(connect.rsplit_once(':'), Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok()) {
        return Err(SetupError::Usage(format!(
            "--connect expects HOST:PORT, e.g. 127.0.0.1:18861 or myhost:18861, got '{connect}'"
        )));
    }
    if timeout.is_zero() {
        return Err(SetupError::Usage("--timeout must be longer than 0".into()));
    }
    let addrs: Vec<SocketAddr> = connect
        .to_socket_addrs()
        .map_err(|e| SetupError::Unreachable(format!("cannot resolve '{connect}': {e}")))?
        .collect();
    let mut last = format!("'{connect}' resolved to no address");
    for addr in addrs {
        match open(&Target::address_with(addr, config.clone())) {
            Ok(conn) => {
                let spare = Spare::default();
                spare.put(conn);
                let (first, config, poll) = (spare.clone(), config.clone(), config.reply_poll);
                let server = ServerInfo::new("external", "unknown", Some(addr.to_string()));
                let target = Target::factory(server, move || match first.take() {
                    Some(conn) => Ok(conn),
                    None => Connection::connect_with(addr, config.clone()),
                })
                .with_reply_poll(poll);
                return Ok((target, spare));
            }
            Err(e) => last = e,
        }
    }
    Err(SetupError::Unreachable(format!("cannot reach an RPyC server at {connect}: {last}")))
}

/// A connection with the root fetched: proof the peer speaks RPyC.
fn open(target: &Target) -> std::result::Result<Connection, String> {
    let mut conn = target.connect().map_err(|e| e.to_string())?;
    match conn.root() {
        Ok(_) => Ok(conn),
        Err(e) => Err(format!("connected, but the peer did not answer as an RPyC server: {e}")),
    }
}

/// The request of a latency, concurrent or sweep run: one service method call.
#[derive(Clone, Debug)]
pub(crate) struct CallSpec {
    /// The method, as `--call` named it.
    pub method: String,
    args: Vec<Object>,
    kwargs: Kwargs,
}

impl CallSpec {
    /// From `--call`, `--args` (a JSON array) and `--kwargs` (a JSON object).
    pub(crate) fn parse(method: &str, args: Option<&str>, kwargs: Option<&str>) -> Result<CallSpec, SetupError> {
        if method.trim().is_empty() {
            return Err(SetupError::Usage("--call needs a method name, e.g. --call ping".into()));
        }
        Ok(CallSpec {
            method: method.to_owned(),
            args: args.map(parse_args).transpose()?.unwrap_or_default(),
            kwargs: kwargs.map(parse_kwargs).transpose()?.unwrap_or_default(),
        })
    }

    /// One request: the call in one round trip, its result dropped. The arguments are
    /// cloned per call (the client API takes them by value); for large `bytes`
    /// arguments that copy is part of what is measured, as it is for any client.
    pub(crate) fn call(&self, conn: &mut Connection) -> Result<()> {
        conn.call_kw(&self.method, self.args.clone(), self.kwargs.clone()).map(drop)
    }

    /// `io_work(0.005)` for messages.
    pub(crate) fn shown(&self) -> String {
        format!("{}({})", self.method, ShowArgs(&self.args, &self.kwargs))
    }
}

/// Makes one request before the run, on the target's spare connection when it has one
/// (and keeps it for the run). An error that every request would meet (the server
/// unreachable, no such method, arguments the method's signature refuses) stops the run
/// before it starts; an exception the method itself raised is left to the run, which
/// measures it as a failure: a service that fails now and then is still measured.
pub(crate) fn probe(
    target: &Target,
    spare: Option<&Spare>,
    call: &Probed<'_>,
    request: impl FnOnce(&mut Connection) -> Result<()>,
) -> Result<(), SetupError> {
    let method = call.method;
    let address = target.info().address.clone().unwrap_or_else(|| "the server".into());
    let mut conn = match spare.and_then(Spare::take) {
        Some(conn) => conn,
        None => open(target).map_err(|e| SetupError::Unreachable(format!("cannot reach {address}: {e}")))?,
    };
    let outcome = request(&mut conn);
    match (&outcome, spare) {
        (Err(e), _) if e.is_connection_fatal() => {}
        (_, Some(spare)) => spare.put(conn),
        (_, None) => {
            let _ = conn.close();
        }
    }
    match outcome {
        Ok(()) => Ok(()),
        Err(e) if !stops_every_request(&e, method) => Ok(()),
        Err(e) => Err(SetupError::Probe(describe_probe_failure(&e, call, &address))),
    }
}

/// The call a probe makes, and the flags that chose it, for an error that names them.
pub(crate) struct Probed<'a> {
    /// The method called.
    pub method: &'a str,
    /// The call as Python would write it: `get_user(42)`.
    pub shown: String,
    /// The flag that named the method: `--call`, `--upload-method`, …
    pub flag: &'static str,
    /// What to check when the method refuses the arguments.
    pub args_hint: &'static str,
}

impl<'a> Probed<'a> {
    /// A `--call` with `--args`/`--kwargs`.
    pub(crate) fn call(method: &'a str, shown: String) -> Probed<'a> {
        Probed { method, shown, flag: "--call", args_hint: "check --args/--kwargs" }
    }
}

/// Whether every request would fail as the probe did: the connection failed, `method`
/// itself is missing, or the call's arguments do not fit its signature (CPython's
/// binding errors, raised before the method runs). Both are recognised by their texts
/// naming `method`, so an `AttributeError` or `TypeError` the method raises from its
/// own body is measured as the method's behaviour instead of stopping the run.
fn stops_every_request(e: &Error, method: &str) -> bool {
    let name = method.rsplit('.').next().unwrap_or(method);
    match e.remote() {
        None => true,
        Some(ex) if ex.class == "AttributeError" => is_missing_attribute(&ex.message(), name),
        Some(ex) if ex.class == "TypeError" => is_binding_error(&ex.message(), name),
        Some(_) => false,
    }
}

/// rpyc's texts for an attribute the service does not expose: its policy's
/// "cannot access 'm'" and Python's "… has no attribute 'exposed_m'" (or 'm').
fn is_missing_attribute(message: &str, name: &str) -> bool {
    message == format!("cannot access '{name}'")
        || message.ends_with(&format!(" has no attribute 'exposed_{name}'"))
        || message.ends_with(&format!(" has no attribute '{name}'"))
}

/// CPython's texts for arguments a signature refuses, for `name` (the exposed method
/// or `exposed_name`, plain or qualified by its class as CPython 3.10+ names it).
fn is_binding_error(message: &str, name: &str) -> bool {
    let Some((callee, rest)) = message.split_once("() ") else { return false };
    let function = callee.rsplit('.').next().unwrap_or(callee);
    (function == name || function.strip_prefix("exposed_") == Some(name))
        && ["takes ", "got an unexpected keyword argument ", "missing ", "got multiple values for argument "]
            .iter()
            .any(|pattern| rest.starts_with(pattern))
}

fn describe_probe_failure(e: &Error, call: &Probed<'_>, address: &str) -> String {
    let Probed { method, shown, flag, args_hint } = call;
    match e.remote() {
        Some(ex) if ex.class == "AttributeError" => format!(
            "the server at {address} has no method '{method}' (probe call {shown} raised {}: {}); \
             check {flag} against the service's exposed methods",
            ex.qualified_name(),
            ex.message()
        ),
        Some(ex) => format!(
            "probe call {shown} on {address} raised {}: {}; the method's signature refuses these arguments \
             ({args_hint})",
            ex.qualified_name(),
            ex.message()
        ),
        None => format!("probe call {shown} on {address} failed: {e}"),
    }
}

#[cfg(test)]
mod probe_tests {
    use super::{is_binding_error, is_missing_attribute};

    #[test]
    fn a_missing_method_is_named_by_rpyc_or_python() {
        assert!(is_missing_attribute("cannot access 'nope'", "nope"));
        assert!(is_missing_attribute("'BenchmarkService' object has no attribute 'exposed_nope'", "nope"));
        // The method ran and looked something else up: that is its behaviour, measured.
        assert!(!is_missing_attribute("'NoneType' object has no attribute 'get'", "nope"));
        assert!(!is_missing_attribute("cannot access 'other'", "nope"));
    }

    #[test]
    fn binding_errors_name_the_called_method() {
        assert!(is_binding_error("exposed_ping() takes 1 positional argument but 2 were given", "ping"));
        assert!(is_binding_error(
            "BenchmarkService.exposed_echo() missing 1 required positional argument: 'data'",
            "echo"
        ));
        assert!(is_binding_error("echo() got an unexpected keyword argument 'x'", "echo"));
        // A function the method calls refused its arguments: the method's own failure.
        assert!(!is_binding_error("helper() takes 1 positional argument but 2 were given", "echo"));
        assert!(!is_binding_error("unsupported operand type(s) for +: 'int' and 'str'", "echo"));
    }
}
