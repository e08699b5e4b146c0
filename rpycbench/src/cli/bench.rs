//! `rpycbench bench KIND --connect HOST:PORT …`: one benchmark of any running RPyC
//! server, with SLA checks and an exit status for CI jobs that are not Rust projects.

use super::counts::check_rate;
use super::external::{connect_target, probe, CallSpec, Probed, SetupError, Spare};
use super::interrupt::Checkpoint;
use super::progress::{Expect, Progress};
use super::sla_flags::{check, verdict_lines, SlaFlags};
use crate::bench::{Bandwidth, Concurrent, ConnectionBench, Latency, Load, Target, DEFAULT_SIZES};
use crate::harness::{EXIT_SLA_VIOLATED, EXIT_USAGE};
use crate::metrics::BenchResult;
use crate::report::{colour_enabled, tables_except};
use crate::server::PayloadKind;
use crate::wire::Compression;
use crate::Value;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Exit codes and the `--args` mapping, shown by `rpycbench bench --help`.
pub(crate) const BENCH_AFTER_HELP: &str = "\
Arguments (--args is a JSON array, --kwargs a JSON object of such values):
  null → None, true/false → bool, 12 → int (any size), 1.5 / 2.0 → float,
  \"s\" → str, [..] → tuple, {\"$bytes\": \"<base64>\"} → bytes,
  {\"$zeros\": N} → N zero bytes (at most 120 MiB). Other objects are errors.

Exit status:
  0   every SLA holds (without --min-success-rate: every request succeeded)
  10  an SLA was violated (each verdict is printed), or nothing was measured
      (e.g. --duration 0s, or every request failed)
  2   bad command line or arguments, --json cannot be written (checked first),
      server unreachable, or the probe call failed
  1   anything else
  130, 143  interrupted by SIGINT or SIGTERM: the result so far is written to
      --json, flagged \"partial\"

A server that stops answering (3 requests in a row without a reply within
--timeout) or is gone ends the run early, as does --deadline; the result says
why (\"ended_early\") and is written as usual.

Example:
  rpycbench bench latency --connect 127.0.0.1:18861 --call io_work --args '[0.005]' \\
      --requests 500 --p99-ms 20 --json results.json";

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    kind: KindCommand,
}

#[derive(Debug, Subcommand)]
enum KindCommand {
    /// Sequential calls of one method on one connection.
    Latency(LatencyArgs),
    /// Many clients calling one method at once (closed loop, or open loop with --rate).
    Concurrent(ConcurrentArgs),
    /// Time to a usable connection (TCP connect + the root), one after another.
    Connection(ConnectionArgs),
    /// Upload and download per payload size, through two methods of the service.
    Bandwidth(BandwidthArgs),
}

impl Common {
    /// The server to measure, reached once (the connection is kept as a spare), with its
    /// process tree when `--server-pid` names one (checked before connecting).
    fn target(&self) -> Result<(Target, Spare), SetupError> {
        self.target_with(crate::wire::Compression::Off)
    }

    /// [`target`](Self::target), its clients compressing as `compression` says.
    fn target_with(&self, compression: Compression) -> Result<(Target, Spare), SetupError> {
        let processes = super::external::server_processes(self.server_pid)?;
        let (target, spare) = connect_target(&self.connect, self.client_config().compression(compression))?;
        Ok((super::external::sampling(target, processes), spare))
    }
}

impl KindCommand {
    fn common(&self) -> &Common {
        match self {
            KindCommand::Latency(a) => &a.common,
            KindCommand::Concurrent(a) => &a.common,
            KindCommand::Connection(a) => &a.common,
            KindCommand::Bandwidth(a) => &a.common,
        }
    }
}

/// What every kind takes.
#[derive(Debug, Args)]
struct Common {
    /// The running RPyC server, HOST:PORT (host names resolve).
    #[arg(long, value_name = "HOST:PORT")]
    connect: String,
    /// The server's process on this machine: its CPU, memory and processes (with every
    /// descendant, e.g. a forking server's children) are sampled during the run, so the
    /// results and the diagnosis have the server's side too.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Per-request timeout, e.g. 500ms, 5s, 2m.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    timeout: Duration,
    /// How long to poll for each reply before blocking, e.g. 50us; 0s blocks at once.
    /// Polling keeps this side's core awake for quick replies (see docs/verdicts.md, "Reply
    /// polling"); the value is recorded in the results.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "50us")]
    reply_poll: Duration,
    /// Rounds the run is split into: the unit comparisons build their interval from.
    #[arg(long, default_value_t = crate::metrics::DEFAULT_ROUNDS, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Longest the benchmark may run; past it, it stops and what it measured is written,
    /// marked as ended early. A server that stops answering (3 requests in a row without
    /// a reply within --timeout) ends it sooner.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10m")]
    deadline: Duration,
    /// The result's name (default: KIND[METHOD]).
    #[arg(long)]
    name: Option<String>,
    /// Write the results JSON (schema rpycbench/results/v1) to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Wait until this wall-clock time (RFC 3339 in UTC, e.g. 2026-05-01T12:00:00Z, or
    /// Unix seconds) after connecting, before the warm-up: workers on several machines
    /// start together, and `rpycbench merge` adds up their results. More than 1 s in the
    /// past is an error. Requested and actual start are recorded in the results.
    #[arg(long, value_name = "TIME", value_parser = super::start_at::parse)]
    start_at: Option<super::start_at::StartAt>,
    /// Print nothing but errors and SLA violations.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    sla: SlaFlags,
}

impl Common {
    fn client_config(&self) -> crate::client::Config {
        super::external::config(self.timeout, self.reply_poll)
    }
}

/// The method call measured.
#[derive(Debug, Args)]
pub(crate) struct CallFlags {
    /// The service method to call (`ping` calls exposed_ping).
    #[arg(long, value_name = "METHOD")]
    pub(crate) call: String,
    /// Positional arguments as a JSON array, e.g. '[0.005]' (see below for bytes).
    #[arg(long, value_name = "JSON")]
    pub(crate) args: Option<String>,
    /// Keyword arguments as a JSON object, e.g. '{"delay": 0.005}'.
    #[arg(long, value_name = "JSON")]
    pub(crate) kwargs: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = BENCH_AFTER_HELP)]
struct LatencyArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    call: CallFlags,
    /// Timed requests [default: as many as fit in --duration; 1000 with --quick].
    #[arg(long, conflicts_with = "duration")]
    requests: Option<u64>,
    /// Unmeasured requests before timing.
    #[arg(long, default_value_t = Latency::DEFAULT_WARMUP)]
    warmup: u64,
    /// How long to run when --requests is not given, e.g. 10s.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    duration: Duration,
    /// 1000 requests, as earlier versions ran: a quick look, too short for stable
    /// figures or a server CPU figure.
    #[arg(long, conflicts_with_all = ["requests", "duration"])]
    quick: bool,
}

#[derive(Debug, Args)]
#[command(after_help = BENCH_AFTER_HELP)]
struct ConcurrentArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    call: CallFlags,
    /// Parallel clients, each on its own connection.
    #[arg(long, default_value_t = Concurrent::DEFAULT_CLIENTS)]
    clients: u32,
    /// Timed requests per client.
    #[arg(long, default_value_t = Concurrent::DEFAULT_REQUESTS_PER_CLIENT)]
    requests_per_client: u64,
    /// Unmeasured requests per client before the start.
    #[arg(long, default_value_t = Concurrent::DEFAULT_WARMUP_PER_CLIENT)]
    warmup: u64,
    /// Open loop: requests per second, all clients together (closed loop if unset).
    #[arg(long, value_name = "RATE")]
    rate: Option<f64>,
}

#[derive(Debug, Args)]
#[command(after_help = BENCH_AFTER_HELP)]
struct ConnectionArgs {
    #[command(flatten)]
    common: Common,
    /// Connections to open, one after another.
    #[arg(long, default_value_t = ConnectionBench::DEFAULT_CONNECTIONS)]
    connections: u64,
    /// Keep every connection open until the end (a capacity test).
    #[arg(long)]
    keep_open: bool,
}

/// Which way payloads travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Direction {
    Both,
    Upload,
    Download,
}

impl Direction {
    pub(crate) fn upload(self) -> bool {
        self != Direction::Download
    }
    pub(crate) fn download(self) -> bool {
        self != Direction::Upload
    }
}

/// What bandwidth payloads are made of, and how frames are compressed.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct PayloadFlags {
    /// What payloads are made of: the uploads, and the downloads of a built-in server
    /// rpycbench starts itself: incompressible (SHA-256 stream), text (English-like
    /// lines, 2.8× smaller compressed) or zeros. Recorded in the results.
    #[arg(long, value_enum, default_value = "incompressible")]
    pub(crate) payload: PayloadKind,
    /// How this side's clients, and the native servers rpycbench starts itself,
    /// compress frames they send: off, or python (zlib level 1 over 3000 bytes, byte for
    /// byte as Python's rpyc). Default: off; Python servers always compress, so off is
    /// refused for them. Recorded in the results.
    #[arg(long, value_enum)]
    pub(crate) compression: Option<Compression>,
}

impl PayloadFlags {
    /// The clients' compression.
    pub(crate) fn client(self) -> Compression {
        self.compression.unwrap_or(Compression::Off)
    }
}

/// The two transfer methods of a bandwidth run.
#[derive(Debug, Args)]
pub(crate) struct TransferMethods {
    /// Method called with the payload (bytes) as its one argument.
    #[arg(long, value_name = "METHOD", default_value = "upload")]
    pub(crate) upload_method: String,
    /// Method called with the size (int); it should return that many bytes.
    #[arg(long, value_name = "METHOD", default_value = "download")]
    pub(crate) download_method: String,
    /// Which directions to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub(crate) direction: Direction,
}

impl TransferMethods {
    /// A bandwidth run over `sizes` with these methods.
    pub(crate) fn run(&self, bench: Bandwidth, target: &Target) -> BenchResult {
        bench.directions(self.direction.upload(), self.direction.download()).run(
            target,
            |conn, data| conn.call(&self.upload_method, (data.clone(),)).map(drop),
            |conn, size| conn.call(&self.download_method, (size,)).map(drop),
        )
    }

    /// Probes each method used with the smallest payload.
    pub(crate) fn probe(&self, target: &Target, spare: Option<&Spare>) -> Result<(), SetupError> {
        if self.direction.upload() {
            let m = &self.upload_method;
            let probed = Probed {
                method: m,
                shown: format!("{m}(b'x')"),
                flag: "--upload-method",
                args_hint: "the upload method takes one argument, the payload as bytes",
            };
            probe(target, spare, &probed, |c| c.call(m, (Value::from(b"x"),)).map(drop))?;
        }
        if self.direction.download() {
            let m = &self.download_method;
            let probed = Probed {
                method: m,
                shown: format!("{m}(1)"),
                flag: "--download-method",
                args_hint: "the download method takes one argument, the size as an int",
            };
            probe(target, spare, &probed, |c| c.call(m, (1u64,)).map(drop))?;
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
#[command(after_help = BENCH_AFTER_HELP)]
struct BandwidthArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    methods: TransferMethods,
    /// Payload sizes, comma-separated: bytes, or with a unit (64k, 1MiB) (default 1 KiB,
    /// 10 KiB, 100 KiB, 1 MiB).
    #[arg(long, value_delimiter = ',', value_parser = super::sizes::parse_size)]
    sizes: Vec<u64>,
    /// Operations per size and direction.
    #[arg(long, default_value_t = Bandwidth::DEFAULT_ITERATIONS)]
    iterations: u32,
    #[command(flatten)]
    wire: PayloadFlags,
}

/// Runs the benchmark; see [`BENCH_AFTER_HELP`] for the exit statuses.
pub(crate) fn run(args: BenchArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    // From here on SIGINT and SIGTERM write what was measured (see cli/interrupt.rs).
    let json = args.kind.common().json.clone();
    let checkpoint = Checkpoint::install(move |set| match &json {
        Some(path) => set.save(path).map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => Ok(()),
    })?;
    match prepare_and_run(args) {
        Ok((result, common)) => finish(result, &common, &checkpoint),
        Err(e) => {
            eprintln!("rpycbench bench: {e}");
            // Interrupted while connecting or probing: nothing measured, but say so.
            if let Some(signal) = checkpoint.signal() {
                checkpoint.finish(None)?;
                return Ok(Checkpoint::exit_code(signal));
            }
            Ok(ExitCode::from(EXIT_USAGE))
        }
    }
}

fn prepare_and_run(args: BenchArgs) -> Result<(BenchResult, Common), SetupError> {
    // An unwritable results file fails now, not after the run (exit 2).
    if let Some(json) = &args.kind.common().json {
        super::outputs::check_file("--json", json)?;
    }
    // A start already past fails before connecting (checked again after).
    if let Some(start) = args.kind.common().start_at {
        super::start_at::check(start)?;
    }
    match args.kind {
        KindCommand::Latency(a) => {
            a.common.sla.slas().map_err(SetupError::Usage)?;
            let requests = a.requests.or(a.quick.then_some(1000));
            // `--duration 0s` is allowed: it measures nothing, which fails every SLA (10).
            if let Some(n) = requests {
                at_least_one("--requests", n)?;
            }
            let call = CallSpec::parse(&a.call.call, a.call.args.as_deref(), a.call.kwargs.as_deref())?;
            let target = ready(&a.common, Some(&call))?;
            let name = a.common.name.clone().unwrap_or_else(|| format!("latency[{}]", call.method));
            let mut bench = Latency::new(&name).warmup(a.warmup).rounds(a.common.rounds).deadline(a.common.deadline);
            let what = match requests {
                Some(n) => {
                    bench = bench.requests(n);
                    format!("{n} requests of {}", call.shown())
                }
                None => {
                    bench = bench.duration(a.duration);
                    format!("{} for {}", call.shown(), humantime::format_duration(a.duration))
                }
            };
            let result = with_progress(&a.common, &what, || bench.run(&target, |c| call.call(c)));
            Ok((with_call(result, &call), a.common))
        }
        KindCommand::Concurrent(a) => {
            a.common.sla.slas().map_err(SetupError::Usage)?;
            check_clients("--clients", a.clients)?;
            at_least_one("--requests-per-client", a.requests_per_client)?;
            let load = match a.rate {
                Some(rate_per_sec) => {
                    check_rate("--rate", rate_per_sec, u64::from(a.clients) * a.requests_per_client)?;
                    Load::OpenLoop { rate_per_sec }
                }
                None => Load::ClosedLoop,
            };
            let call = CallSpec::parse(&a.call.call, a.call.args.as_deref(), a.call.kwargs.as_deref())?;
            let target = ready(&a.common, Some(&call))?;
            let name = a.common.name.clone().unwrap_or_else(|| format!("concurrent[{}]", call.method));
            let what = format!("{} clients × {} requests of {}", a.clients, a.requests_per_client, call.shown());
            let bench = Concurrent::new(&name)
                .clients(a.clients)
                .requests_per_client(a.requests_per_client)
                .warmup_per_client(a.warmup)
                .rounds(a.common.rounds)
                .deadline(a.common.deadline)
                .load(load);
            let result = with_progress(&a.common, &what, || bench.run(&target, |c| call.call(c)));
            Ok((with_call(result, &call), a.common))
        }
        KindCommand::Connection(a) => {
            a.common.sla.slas().map_err(SetupError::Usage)?;
            at_least_one("--connections", a.connections)?;
            let target = ready(&a.common, None)?;
            let name = a.common.name.clone().unwrap_or_else(|| "connection".to_owned());
            let bench = ConnectionBench::new(&name)
                .connections(a.connections)
                .keep_open(a.keep_open)
                .rounds(a.common.rounds)
                .deadline(a.common.deadline);
            let what = format!("{} connections", a.connections);
            let result = with_progress(&a.common, &what, || bench.run(&target));
            Ok((result, a.common))
        }
        KindCommand::Bandwidth(a) => {
            a.common.sla.slas().map_err(SetupError::Usage)?;
            let sizes = if a.sizes.is_empty() { DEFAULT_SIZES.to_vec() } else { a.sizes.clone() };
            check_sizes(&sizes).map_err(|e| SetupError::Usage(format!("--sizes: {e}")))?;
            at_least_one("--iterations", u64::from(a.iterations))?;
            let (target, spare) = a.common.target_with(a.wire.client())?;
            a.methods.probe(&target, Some(&spare))?;
            wait_for_start(&a.common)?;
            let name = a.common.name.clone().unwrap_or_else(|| "bandwidth".to_owned());
            let what = format!("{} sizes × {} operations", sizes.len(), a.iterations);
            let bench = Bandwidth::new(&name)
                .payload(a.wire.payload)
                .sizes(sizes)
                .iterations(a.iterations)
                .rounds(a.common.rounds)
                .deadline(a.common.deadline);
            let result = with_progress(&a.common, &what, || a.methods.run(bench, &target));
            Ok((result, a.common))
        }
    }
}

/// A run of nothing would pass every latency SLA without measuring anything.
pub(crate) fn at_least_one(flag: &str, n: u64) -> Result<(), SetupError> {
    if n == 0 {
        return Err(SetupError::Usage(format!("{flag} must be at least 1")));
    }
    Ok(())
}

/// Clients are threads: a typo like 100000 should not start 100000 threads.
pub(crate) const MAX_CLIENTS: u32 = 10_000;

pub(crate) fn check_clients(flag: &str, n: u32) -> Result<(), SetupError> {
    if n == 0 || n > MAX_CLIENTS {
        return Err(SetupError::Usage(format!("{flag}: clients must be from 1 to {MAX_CLIENTS}, got {n}")));
    }
    Ok(())
}

/// A payload is built in memory before timing; it must fit a frame. An empty
/// payload measures no bandwidth.
pub(crate) fn check_sizes(sizes: &[u64]) -> Result<(), SetupError> {
    let limit = super::json_args::MAX_BYTES;
    if sizes.is_empty() {
        return Err(SetupError::Usage("no payload sizes given".into()));
    }
    match sizes.iter().find(|s| **s == 0 || **s > limit) {
        Some(0) => Err(SetupError::Usage("payload size 0: sizes must be at least 1 byte".into())),
        Some(s) => Err(SetupError::Usage(format!(
            "payload size {s} is over the limit of {limit} bytes ({})",
            super::json_args::MAX_BYTES_TEXT
        ))),
        None => Ok(()),
    }
}

/// Resolves and reaches the server, and probes the call when there is one.
fn ready(common: &Common, call: Option<&CallSpec>) -> Result<Target, SetupError> {
    let (target, spare) = common.target()?;
    if let Some(call) = call {
        probe(&target, Some(&spare), &Probed::call(&call.method, call.shown()), |c| call.call(c))?;
    }
    wait_for_start(common)?;
    Ok(target)
}

/// Waits for `--start-at`, when given.
fn wait_for_start(common: &Common) -> Result<(), SetupError> {
    common.start_at.map_or(Ok(()), |start| super::start_at::wait(start, common.quiet))
}

fn with_progress(common: &Common, what: &str, run: impl FnOnce() -> BenchResult) -> BenchResult {
    let mut progress = Progress::new(1, common.quiet);
    // The count and the rate move; each kind's size is its own, so no time left.
    progress.step(&format!("{what} on {}", common.connect), Expect::Unknown);
    let mut result = run();
    progress.finish();
    if let (Some(start), Some(clock)) = (common.start_at, result.wall_clock.as_mut()) {
        clock.requested_start_unix_ns = Some(start.unix_ns());
    }
    result
}

/// Records what was called in the result's parameters.
pub(crate) fn with_call(mut result: BenchResult, call: &CallSpec) -> BenchResult {
    result.params.insert("method".into(), call.method.clone().into());
    result.params.insert("call".into(), call.shown().into());
    result
}

/// `SLA violated: nothing was measured …` when no request succeeded.
fn nothing_measured(result: &BenchResult) -> Option<String> {
    let o = &result.outcomes;
    (o.successes == 0).then(|| {
        format!(
            "SLA violated: nothing was measured ({}: 0 successful requests of {} attempted); \
             no bound can hold over an empty sample",
            result.name, o.attempts
        )
    })
}

fn finish(
    result: BenchResult,
    common: &Common,
    checkpoint: &Checkpoint,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    // Checked before the run; this cannot fail now.
    let slas = common.sla.slas()?;
    let checks = check(&slas, &result);
    // Bounds over an empty sample hold vacuously (p99 of nothing is 0): a run that
    // measured nothing must not pass, whatever bounds were declared.
    let nothing_measured = nothing_measured(&result);
    let violated = nothing_measured.is_some() || checks.iter().any(|c| !c.passed());
    let name = result.name.clone();
    let partial = checkpoint.reason().or_else(|| result.ended_early.as_ref().map(|e| e.detail.clone()));
    checkpoint.push(result);
    let set = checkpoint.finish(partial)?;
    if !common.quiet {
        // The ended-early table is left out: the line below says it, greppably.
        println!("{}", tables_except(&set, &["ended_early"], colour_enabled()));
        for r in &set.results {
            if let Some(e) = &r.ended_early {
                println!("ended early: {}: {}", r.name, e.detail);
            }
        }
    }
    if let Some(why) = &set.partial {
        eprintln!("rpycbench bench: partial results: {why}");
    }
    for line in nothing_measured.into_iter().chain(verdict_lines(&checks, &name)) {
        if !common.quiet {
            println!("{line}");
        } else if line.starts_with("SLA violated") {
            eprintln!("{line}");
        }
    }
    if let (Some(path), false) = (&common.json, common.quiet) {
        println!("results written to {}", path.display());
    }
    if let Some(signal) = checkpoint.signal() {
        return Ok(Checkpoint::exit_code(signal));
    }
    Ok(if violated { ExitCode::from(EXIT_SLA_VIOLATED) } else { ExitCode::SUCCESS })
}
