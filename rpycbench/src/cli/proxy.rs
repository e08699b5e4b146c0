//! `rpycbench proxy`: the profiling relay in the foreground; the telemetry report on
//! SIGINT, SIGTERM or SIGHUP (then exit 0) and on SIGUSR1 (then carry on). The `--json`
//! file is written on exit, and also each time the upstream server refuses or ends a
//! connection (it died or went away), so a relay killed after it keeps what it saw.

use super::proxy_sampler::ConnectedSampler;
use crate::profile::diagnosis::Thresholds;
use crate::profile::relay::{Relay, RelayCounters};
use crate::profile::report::{self, ReportOptions, Section};
use crate::profile::{Profiler, RecorderConfig, Telemetry};
use clap::Args;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// Address clients connect to; port 0 picks a free one (printed on the readiness line).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// The RPyC server to relay to, as HOST:PORT.
    #[arg(long)]
    upstream: String,
    /// Also write the telemetry as JSON to FILE on exit (SIGINT, SIGTERM, SIGHUP), and
    /// each time the upstream server refuses or ends a connection (it went away).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Print no report on exit (SIGUSR1 still prints one; --json still writes).
    #[arg(long)]
    quiet: bool,
    /// Requests kept individually for the call tree and the JSON; counts stay exact past it.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    history: usize,
    /// Calls at least this long count as slow (milliseconds).
    #[arg(long, value_name = "MS", default_value_t = 10.0)]
    slow_ms: f64,
    /// Slowest calls and methods listed in the report.
    #[arg(long, value_name = "N", default_value_t = 20)]
    top: usize,
    /// Lines of the call tree printed in the report (the JSON keeps every request of
    /// --history); 0 prints none.
    #[arg(long, value_name = "N", default_value_t = ReportOptions::default().tree_lines)]
    tree_lines: usize,
    /// Operations the application performed while relayed, for the diagnosis's "per
    /// operation" figures (default: the clients' top-level calls of named methods,
    /// or one per connection when there were none).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    operations: Option<u64>,
    /// Diagnosis thresholds as JSON (missing keys keep their defaults).
    #[arg(long, value_name = "FILE")]
    thresholds: Option<PathBuf>,
    /// The upstream server's process on this machine: it and its children are sampled
    /// (CPU, memory, processes) while clients are connected, for the diagnosis's CPU
    /// rules, and the figures go into the report and the JSON.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// After each event the relay polls its sockets this long before it blocks
    /// (microseconds; 0, the default, blocks at once): it forwards quick replies and
    /// requests without a wake-up, for up to this much CPU per pause in the traffic.
    /// Helps only with a core to spare: on two cores it took the server's.
    #[arg(long, value_name = "US", default_value_t = 0)]
    poll_us: u64,
    #[command(flatten)]
    limits: super::limits::ConnectionLimitArgs,
}

pub(crate) fn run(args: ProxyArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if !(args.slow_ms.is_finite() && args.slow_ms >= 0.0) {
        return Err(format!("--slow-ms must be a non-negative number of milliseconds, got {}", args.slow_ms).into());
    }
    // `try_from` refuses what a Duration cannot hold (1e30 ms) instead of panicking.
    let slow_threshold = Duration::try_from_secs_f64(args.slow_ms / 1e3)
        .map_err(|e| format!("--slow-ms {} is out of range: {e}", args.slow_ms))?;
    let config = RecorderConfig { history_limit: args.history, slow_threshold, ..RecorderConfig::default() };
    let thresholds = match &args.thresholds {
        Some(path) => Thresholds::load(path)?,
        None => Thresholds::default(),
    };
    // Checked before binding, so a wrong pid fails at once.
    let server = match super::external::server_processes(args.server_pid) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("rpycbench proxy: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut relay = Relay::bind(&args.listen, &args.upstream, config)?
        .silence(args.limits.silence())
        .poll_before_blocking(Duration::from_micros(args.poll_us));
    if let Some(max) = args.limits.max_connections() {
        relay = relay.max_connections(Some(max));
    }
    let local = relay.local_addr()?;
    let counters = relay.counters();
    let sampler = match server {
        Some(server) => {
            let counters = counters.clone();
            Some(ConnectedSampler::start(server, move || counters.active.load(Ordering::Relaxed) > 0)?)
        }
        None => None,
    };
    let profiler = Snapshots { profiler: relay.profiler(), sampler, counters: counters.clone() };
    let file = args.json.clone().map(|path| Arc::new(TelemetryFile { path, written: Mutex::new(None) }));
    if let Some(file) = file.clone() {
        let profiler = profiler.clone();
        relay.on_upstream_lost(Arc::new(move || {
            if let Err(e) = file.write(&profiler.telemetry(), false) {
                eprintln!("rpycbench proxy: the upstream server went away; cannot save the telemetry: {e}");
            }
        }));
    }
    // Signals are handled on a thread of their own: printing a report is not
    // async-signal-safe, and the relay threads must not be interrupted mid-frame.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1])?;
    let opts = ReportOptions { top_n: args.top, tree_lines: args.tree_lines };
    let upstream = args.upstream.clone();
    let operations = args.operations;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for signal in signals.forever() {
            if signal != SIGUSR1 {
                settle(&counters);
            }
            let telemetry = profiler.telemetry();
            let quiet = args.quiet && signal != SIGUSR1;
            if !quiet {
                print_report(&telemetry, &opts, &counters, &upstream, operations, &thresholds);
            }
            if signal == SIGUSR1 {
                continue;
            }
            let code = match file.as_ref().map(|f| f.write(&telemetry, true)) {
                Some(Err(e)) => {
                    eprintln!("rpycbench proxy: {e}");
                    1
                }
                _ => 0,
            };
            let _ = std::io::stdout().flush();
            std::process::exit(code);
        }
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {local}")?;
    out.flush()?;
    drop(out);
    relay.run()?;
    Ok(ExitCode::SUCCESS)
}

/// The relay's telemetry, with what the relay added and the server's figures when
/// `--server-pid` is sampled.
#[derive(Clone)]
struct Snapshots {
    profiler: Profiler,
    sampler: Option<ConnectedSampler>,
    counters: Arc<RelayCounters>,
}

impl Snapshots {
    fn telemetry(&self) -> Telemetry {
        let mut t = self.profiler.telemetry();
        t.system = self.sampler.as_ref().and_then(ConnectedSampler::snapshot);
        t.relay = Some(self.counters.relay_cost());
        t
    }
}

/// The `--json` file. Writes are serialized: they share one temporary name.
struct TelemetryFile {
    path: PathBuf,
    /// What the last write held (connections and frames each way), so that a dead
    /// upstream refusing connection after connection does not rewrite the same file.
    written: Mutex<Option<(u64, u64, u64)>>,
}

impl TelemetryFile {
    /// Writes `t` atomically, unless it holds nothing new and `always` is false.
    fn write(&self, t: &Telemetry, always: bool) -> Result<(), String> {
        let mut written = self.written.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (t.connections, t.c2s.frames, t.s2c.frames);
        if !always && *written == Some(key) {
            return Ok(());
        }
        crate::metrics::write_atomically(&self.path, t.to_json().as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        *written = Some(key);
        Ok(())
    }
}

/// How long a stopping relay waits for open connections to end.
const SETTLE: Duration = Duration::from_millis(500);

/// Waits (at most [`SETTLE`]) until no connection is open. The relay forwards bytes
/// before it decodes them, so a connection whose client has just left may still be
/// recording its last frames (the final DEL, the CLOSE); a report taken at once would
/// miss them.
fn settle(counters: &RelayCounters) {
    let deadline = Instant::now() + SETTLE;
    while counters.active.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn print_report(
    t: &Telemetry,
    opts: &ReportOptions,
    counters: &Arc<RelayCounters>,
    upstream: &str,
    operations: Option<u64>,
    thresholds: &Thresholds,
) {
    // What the relay added first: every figure above it includes that much.
    let mut body = format!("{}\nupstream {upstream}: {}\n", counters.relay_cost().describe(), counters.describe());
    if let Some(server) = t.system.as_ref().and_then(|s| s.server.as_ref()) {
        body.push_str(&format!(
            "server (--server-pid, while clients were connected): CPU {:.0} % of one core on average, {:.0} % in \
             the busiest interval; RSS at most {}; at most {} processes\n",
            server.cpu_percent_mean,
            server.cpu_percent_max,
            crate::metrics::format_bytes(server.rss_bytes_max),
            server.processes_max
        ));
    }
    let relay = Section { title: "RELAY".into(), body };
    let operations = operations.unwrap_or_else(|| report::default_operations(t));
    let diagnosis = report::diagnosis_section(t, operations, &format!("traffic to {upstream}"), thresholds);
    // The relay's own figures close the report (tests read up to them).
    let extra = [diagnosis, relay];
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", report::full_with(t, opts, &extra));
    let _ = out.flush();
}
