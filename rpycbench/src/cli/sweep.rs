//! `rpycbench sweep`: one parameter varied step by step (clients, payload size or
//! server mode) until a limit is crossed, like the cookbook's "find the limit"
//! scenario; prints where the limit was reached and the curve.

use super::bench::{at_least_one, check_clients, check_sizes, with_call, PayloadFlags, TransferMethods};
use super::external::{connect_target, probe, CallSpec, Probed, SetupError, Spare};
use super::progress::{Expect, Progress};
use super::server_kind::ServerKind;
use super::sla_flags::check_bound;
use super::sweep_chart::{chart, Step};
use crate::bench::Sweep;
use crate::bench::{Bandwidth, Concurrent, Target};
use crate::harness::EXIT_USAGE;
use crate::metrics::sla::Stat;
use crate::metrics::{BenchResult, ResultSet};
use crate::server::remote::{RemoteServer, RemoteSession};
use crate::server::{PythonServerSpec, ServerError, ServerMode, ServerSpec, StartedServer};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const SWEEP_AFTER_HELP: &str = "\
Each step is a run: --over clients and --over mode run the concurrent kind (closed
loop, --requests-per-client calls of --call each); --over payload runs the bandwidth
kind for one size per step. The sweep stops after the first step whose success rate
is under --min-success-rate or whose p99 is over --max-p99-ms, and says so.

Which flags apply: --clients only to --over mode (a clients sweep sets the clients
per step; a payload sweep has one client); --call/--args/--kwargs and
--requests-per-client only to clients and mode sweeps; --iterations and the
--upload-method/--download-method/--direction flags only to payload sweeps.
--clients, --call, --args and --kwargs are refused where they do not apply.

Without --connect each step gets a fresh built-in RPyC server (--mode, default
threaded). The HTTP baseline (mode http) cannot be swept: the sweep's clients speak
RPyC; compare it with `rpycbench suite` instead.
Every result in --json has params.sweep_parameter (\"clients\", \"payload_bytes\" or
\"mode\") and params.sweep_value (a number, or the mode's name); the step that crossed
the limit also has params.sweep_limit (e.g. \"p99 = 120 ms > 100 ms\").
`rpycbench report sweep.json` draws the curve as HTML (report.html, marking the limit).

Exit status: 0 when the sweep ran (limit reached or not), 2 for bad input, an
unreachable server or a failing probe call, 1 for anything else.

Example:
  rpycbench sweep --over clients --values 1,2,4,8,16,32 --call io_work --args '[0.01]' \\
      --max-p99-ms 50 --json sweep.json";

/// The parameter a sweep varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Over {
    /// Concurrent clients.
    Clients,
    /// Bandwidth payload size in bytes.
    Payload,
    /// Built-in server mode.
    Mode,
}

impl Over {
    /// The name in results (`params.sweep_parameter`).
    fn parameter(self) -> &'static str {
        match self {
            Over::Clients => "clients",
            Over::Payload => "payload_bytes",
            Over::Mode => "mode",
        }
    }

    fn default_values(self) -> &'static str {
        match self {
            Over::Clients => "1,2,4,8,16,32",
            Over::Payload => "1024,10240,102400,1048576",
            Over::Mode => "threaded,forking,python-threaded,python-forking",
        }
    }
}

#[derive(Debug, Args)]
#[command(after_help = SWEEP_AFTER_HELP)]
pub(crate) struct SweepArgs {
    /// The parameter to vary.
    #[arg(long, value_enum)]
    over: Over,
    /// The steps, comma-separated (default: clients 1,2,4,8,16,32; payload
    /// 1024,10240,102400,1048576; mode threaded,forking,python-threaded,python-forking).
    #[arg(long, value_delimiter = ',')]
    values: Vec<String>,
    /// A running RPyC server, HOST:PORT, instead of built-in servers.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "mode")]
    connect: Option<String>,
    /// The --connect server's process on this machine: its CPU, memory and processes
    /// (with every descendant, e.g. a forking server's children) are sampled during
    /// each step, so the diagnosis can read them.
    #[arg(long, value_name = "PID", requires = "connect")]
    server_pid: Option<u32>,
    /// The built-in server each step starts (without --connect).
    #[arg(long, default_value = "threaded")]
    mode: ServerKind,
    /// Python interpreter for python-* modes (default: $RPYCBENCH_PYTHON, the active
    /// virtualenv, a .venv here or above, else python3).
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
    /// The method each client calls (clients and mode sweeps; default ping).
    #[arg(long, value_name = "METHOD")]
    call: Option<String>,
    /// Positional arguments as a JSON array (see `rpycbench bench latency --help`).
    #[arg(long, value_name = "JSON")]
    args: Option<String>,
    /// Keyword arguments as a JSON object.
    #[arg(long, value_name = "JSON")]
    kwargs: Option<String>,
    /// Clients of a mode sweep (default 4; clients and payload sweeps refuse it).
    #[arg(long)]
    clients: Option<u32>,
    /// Timed requests per client.
    #[arg(long, default_value_t = 50)]
    requests_per_client: u64,
    /// Operations per payload size and direction (payload sweeps).
    #[arg(long, default_value_t = 10)]
    iterations: u32,
    #[command(flatten)]
    methods: TransferMethods,
    #[command(flatten)]
    wire: PayloadFlags,
    /// Limit: stop when the success rate falls under this fraction.
    #[arg(long, value_name = "RATE", default_value_t = 0.95)]
    min_success_rate: f64,
    /// Limit: stop when p99 latency exceeds MS milliseconds.
    #[arg(long, value_name = "MS")]
    max_p99_ms: Option<f64>,
    /// Per-request timeout, e.g. 500ms, 5s.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    timeout: Duration,
    /// How long to poll for each reply before blocking, e.g. 50us; 0s blocks at once.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "50us")]
    reply_poll: Duration,
    /// Rounds each step runs in.
    #[arg(long, default_value_t = crate::metrics::DEFAULT_ROUNDS, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Write every step's result (schema rpycbench/results/v1) to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    remote: super::remote::RemoteArgs,
}

/// One step's value.
#[derive(Debug, Clone)]
enum StepValue {
    Clients(u32),
    Payload(u64),
    Mode(ServerMode),
}

impl StepValue {
    fn json(&self) -> serde_json::Value {
        match self {
            StepValue::Clients(n) => (*n).into(),
            StepValue::Payload(n) => (*n).into(),
            StepValue::Mode(m) => m.name().into(),
        }
    }

    fn label(&self) -> String {
        match self {
            StepValue::Clients(n) => n.to_string(),
            StepValue::Payload(n) => crate::metrics::format_bytes(*n).replace(' ', ""),
            StepValue::Mode(m) => m.name().to_owned(),
        }
    }
}

fn parse_values(over: Over, values: &[String]) -> Result<Vec<StepValue>, SetupError> {
    let defaults: Vec<String>;
    let values = if values.is_empty() {
        defaults = over.default_values().split(',').map(str::to_owned).collect();
        &defaults
    } else {
        values
    };
    values
        .iter()
        .map(|v| {
            let v = v.trim();
            let bad = |what: &str| SetupError::Usage(format!("--values: '{v}' is not {what}"));
            match over {
                Over::Clients => {
                    let n: u32 = v.parse().map_err(|_| bad("a number of clients"))?;
                    check_clients("--values", n)?;
                    Ok(StepValue::Clients(n))
                }
                Over::Payload => {
                    let n = super::sizes::parse_size(v).map_err(|e| SetupError::Usage(format!("--values: {e}")))?;
                    check_sizes(&[n])?;
                    Ok(StepValue::Payload(n))
                }
                Over::Mode => {
                    let kind: ServerKind = v.parse().map_err(|e| SetupError::Usage(format!("--values: {e}")))?;
                    Ok(StepValue::Mode(rpyc_mode("--values", kind)?))
                }
            }
        })
        .collect()
}

/// The sweep's clients speak RPyC: the HTTP baseline would fail every request.
fn rpyc_mode(flag: &str, kind: ServerKind) -> Result<ServerMode, SetupError> {
    match kind {
        ServerKind::Rpyc(mode) => Ok(mode),
        ServerKind::Http => Err(SetupError::Usage(format!(
            "{flag}: '{kind}' cannot be swept: the sweep's clients speak RPyC, and the {kind} server is the HTTP \
             baseline; compare it with `rpycbench suite` instead"
        ))),
    }
}

/// Flags given to a sweep they do not apply to: refused rather than silently ignored.
fn check_applicable(args: &SweepArgs) -> Result<(), SetupError> {
    let refuse = |flag: &str, over: Over| {
        SetupError::Usage(format!("{flag} does not apply to --over {}", over.parameter().trim_end_matches("_bytes")))
    };
    if args.over != Over::Mode && args.clients.is_some() {
        let hint = match args.over {
            Over::Clients => " (the clients are the --values)",
            _ => " (a payload sweep uses one client)",
        };
        return Err(SetupError::Usage(format!("{}{hint}", refuse("--clients", args.over))));
    }
    if args.over == Over::Payload {
        for (flag, given) in
            [("--call", args.call.is_some()), ("--args", args.args.is_some()), ("--kwargs", args.kwargs.is_some())]
        {
            if given {
                let hint = " (a payload sweep calls --upload-method and --download-method)";
                return Err(SetupError::Usage(format!("{}{hint}", refuse(flag, args.over))));
            }
        }
    }
    Ok(())
}

/// Runs the sweep; exits 0 when it ran, 2 when it could not start.
pub(crate) fn run(args: SweepArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    // An unwritable results file fails now, not after the sweep (exit 2).
    if let Some(path) = &args.json {
        if let Err(e) = super::outputs::check_file("--json", path) {
            eprintln!("rpycbench sweep: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    }
    let mut results = ResultSet::new();
    let mut steps = Vec::new();
    let outcome = sweep(&args, &mut results, &mut steps);
    // What ran is written and drawn even when a later step could not start.
    if let Some(path) = &args.json {
        if !results.results.is_empty() {
            results.save(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    let parameter = args.over.parameter();
    if !args.quiet && !steps.is_empty() {
        println!("{}", chart(parameter, &steps));
    }
    if let Err(e) = outcome {
        eprintln!("rpycbench sweep: {e}");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    if !args.quiet {
        match steps.iter().find_map(|s| s.limit.as_ref().map(|l| (s, l))) {
            Some((step, limit)) => println!("limit reached at {parameter}={}: {limit}", step.label),
            None => match steps.last() {
                Some(last) => println!("no limit reached up to {parameter}={}", last.label),
                None => println!("no steps ran"),
            },
        }
        if let Some(path) = &args.json {
            println!("results written to {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the steps into `results` and `steps` until a limit is crossed.
fn sweep(args: &SweepArgs, results: &mut ResultSet, steps: &mut Vec<Step>) -> Result<(), SetupError> {
    check_bound("--min-success-rate", Stat::MinSuccessRate, args.min_success_rate).map_err(SetupError::Usage)?;
    let mut limits = Sweep::new(args.over.parameter()).limit(Stat::MinSuccessRate, args.min_success_rate);
    if let Some(ms) = args.max_p99_ms {
        check_bound("--max-p99-ms", Stat::P99Ms, ms).map_err(SetupError::Usage)?;
        limits = limits.limit(Stat::P99Ms, ms);
    }
    if args.over == Over::Mode && args.connect.is_some() {
        return Err(SetupError::Usage("--over mode starts built-in servers; it cannot be used with --connect".into()));
    }
    check_applicable(args)?;
    if args.connect.is_none() {
        rpyc_mode("--mode", args.mode)?;
    }
    if args.over == Over::Mode {
        check_clients("--clients", mode_clients(args))?;
    }
    at_least_one("--requests-per-client", args.requests_per_client)?;
    at_least_one("--iterations", u64::from(args.iterations))?;
    let values = parse_values(args.over, &args.values)?;
    // Python servers may come after native steps: no rpyc must fail before the first.
    let python_step = |v: &StepValue| match v {
        StepValue::Mode(m) => m.is_python(),
        _ => args.connect.is_none() && rpyc_mode("--mode", args.mode).is_ok_and(ServerMode::is_python),
    };
    if args.remote.remote.is_some() {
        if args.connect.is_some() {
            return Err(SetupError::Usage(
                "--remote starts the built-in servers on that host; --connect benchmarks a server already running"
                    .into(),
            ));
        }
        if args.python.is_some() {
            return Err(SetupError::Usage(
                "--python names a local interpreter: with --remote, the remote's is found there ($RPYCBENCH_PYTHON, \
                 a virtualenv, python3)"
                    .into(),
            ));
        }
    } else if values.iter().any(python_step) {
        PythonServerSpec { python: args.python.clone(), ..Default::default() }
            .check()
            .map_err(|e| SetupError::Usage(e.to_string()))?;
    }
    let call = CallSpec::parse(args.call.as_deref().unwrap_or("ping"), args.args.as_deref(), args.kwargs.as_deref())?;
    let processes = super::external::server_processes(args.server_pid)?;
    let external = match &args.connect {
        Some(connect) => {
            let (target, spare) = connect_target(
                connect,
                super::external::config(args.timeout, args.reply_poll).compression(args.wire.client()),
            )?;
            probe_step(args, &target, Some(&spare), &call)?;
            Some(super::external::sampling(target, processes))
        }
        None => None,
    };

    let session = args.remote.connect().map_err(|e| SetupError::Usage(e.to_string()))?;
    let mut progress = Progress::new(values.len() as u64, args.quiet);
    let plan = Plan { values, sweep: limits, call, external, session };
    let outcome = run_steps(args, &plan, results, steps, &mut progress);
    progress.finish();
    outcome
}

/// What the command line asked for, checked.
struct Plan {
    values: Vec<StepValue>,
    /// The sweep with its limits, no step recorded yet.
    sweep: Sweep,
    call: CallSpec,
    /// The `--connect` server, probed; `None`: a built-in server per step.
    external: Option<Target>,
    /// The `--remote` session the built-in servers start over.
    session: Option<Arc<RemoteSession>>,
}

/// The steps in order, stopping after the first over a limit.
fn run_steps(
    args: &SweepArgs,
    plan: &Plan,
    results: &mut ResultSet,
    steps: &mut Vec<Step>,
    progress: &mut Progress,
) -> Result<(), SetupError> {
    let call = &plan.call;
    let mut sweep = plan.sweep.clone();
    for value in &plan.values {
        let label = format!("{}={}", sweep.parameter(), value.label());
        progress.step(&format!("{label}: {}", describe_step(args, value, call)), expected_step(args, value));
        let (target, server) = match &plan.external {
            Some(target) => (target.clone(), None),
            None => {
                let handle = start_server(args, value, plan.session.as_ref())?;
                if let Some(remote) = handle.remote_server() {
                    progress.message(&super::remote::describe(remote.served().name, remote));
                }
                let config = crate::client::Config::default().compression(args.wire.client());
                (Target::server_configured(&handle, config), Some(handle))
            }
        };
        if server.is_some() {
            probe_step(args, &target, None, call)?;
        }
        let result = run_step(args, value, call, &target);
        if let Some(handle) = server {
            // A server that does not stop cleanly does not spoil the measurement.
            let _ = handle.stop();
        }
        let limit = sweep.record(value.json(), result).map(str::to_owned);
        if let Some(recorded) = sweep.results().last() {
            steps.push(Step::of(recorded, value.label(), limit.clone()));
            results.push(recorded.clone());
        }
        if let Some(limit) = limit {
            progress.message(&format!("limit reached at {label}: {limit}"));
            break;
        }
    }
    Ok(())
}

/// How many requests a step makes, for its time left.
fn expected_step(args: &SweepArgs, value: &StepValue) -> Expect {
    match value {
        StepValue::Clients(n) => Expect::Requests(u64::from(*n) * args.requests_per_client),
        StepValue::Mode(_) => Expect::Requests(u64::from(mode_clients(args)) * args.requests_per_client),
        // One size, in the directions measured.
        StepValue::Payload(_) => {
            let directions = u64::from(args.methods.direction.upload()) + u64::from(args.methods.direction.download());
            Expect::Requests(directions * u64::from(args.iterations))
        }
    }
}

/// The clients of each mode sweep step.
fn mode_clients(args: &SweepArgs) -> u32 {
    args.clients.unwrap_or(4)
}

fn describe_step(args: &SweepArgs, value: &StepValue, call: &CallSpec) -> String {
    match value {
        StepValue::Clients(n) => format!("{n} client(s) × {} requests of {}", args.requests_per_client, call.shown()),
        StepValue::Payload(n) => format!("{n}-byte payloads × {} operations", args.iterations),
        StepValue::Mode(m) => {
            format!(
                "{m} server, {} clients × {} requests of {}",
                mode_clients(args),
                args.requests_per_client,
                call.shown()
            )
        }
    }
}

fn start_server(
    args: &SweepArgs,
    value: &StepValue,
    session: Option<&Arc<RemoteSession>>,
) -> Result<StartedServer, SetupError> {
    let mode = match value {
        StepValue::Mode(m) => *m,
        _ => rpyc_mode("--mode", args.mode)?,
    };
    let mut spec = ServerSpec::new(mode)
        .python(PythonServerSpec { python: args.python.clone(), ..Default::default() })
        .payload(args.wire.payload);
    spec.compression = args.wire.compression;
    Ok(match session {
        Some(session) => {
            RemoteServer::start(session.clone(), &spec).map(StartedServer::from).map_err(ServerError::from)?
        }
        None => spec.start().map(StartedServer::from)?,
    })
}

fn probe_step(args: &SweepArgs, target: &Target, spare: Option<&Spare>, call: &CallSpec) -> Result<(), SetupError> {
    match args.over {
        Over::Payload => args.methods.probe(target, spare),
        Over::Clients | Over::Mode => probe(target, spare, &Probed::call(&call.method, call.shown()), |c| call.call(c)),
    }
}

fn run_step(args: &SweepArgs, value: &StepValue, call: &CallSpec, target: &Target) -> BenchResult {
    let concurrent = |clients: u32, name: String| {
        let bench =
            Concurrent::new(name).clients(clients).requests_per_client(args.requests_per_client).rounds(args.rounds);
        with_call(bench.run(target, |c| call.call(c)), call)
    };
    match value {
        StepValue::Clients(n) => concurrent(*n, format!("{}[clients={n}]", call.method)),
        StepValue::Mode(m) => concurrent(mode_clients(args), format!("{}[{m}]", call.method)),
        StepValue::Payload(n) => {
            let bench = Bandwidth::new(format!("bandwidth[payload={n}]"))
                .payload(args.wire.payload)
                .sizes(vec![*n])
                .iterations(args.iterations)
                .rounds(args.rounds);
            args.methods.run(bench, target)
        }
    }
}
