//! `rpycbench` / `rpycbench suite`: the main job. Starts the built-in servers and the
//! HTTP baseline, runs connection, latency, bandwidth, concurrent (and optionally, on
//! RPyC, transfer) benchmarks against each, prints a comparison table and writes the
//! results.

mod phases;

use super::bench::{at_least_one, check_clients, check_sizes};
use super::counts::{check_chunk_size, check_rate};
use super::external::SetupError;
use super::interrupt::Checkpoint;
use super::progress::Progress;
use super::server_kind::ServerKind;
use super::sizes::parse_size;
use crate::bench::Target;
use crate::harness::EXIT_USAGE;
use crate::metrics::ResultSet;
use crate::profile::diagnosis::{diagnose, render_compact, Thresholds};
use crate::report::{colour_enabled, terminal_report, write_reports, ReportFiles};
use crate::server::{PythonServerSpec, ServerMode};
use clap::Args;
use phases::{run_phases, run_transfers, Phases};
use std::path::PathBuf;
use std::process::ExitCode;

/// Every knob of the predecessor's command has a counterpart here.
#[derive(Debug, Args)]
pub(crate) struct SuiteArgs {
    /// Address the built-in servers bind (each server's --*-host overrides it).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Address of the native threaded server (default: --host).
    #[arg(long, value_name = "HOST")]
    threaded_host: Option<String>,
    /// Address of the native forking server (default: --host).
    #[arg(long, value_name = "HOST")]
    forking_host: Option<String>,
    /// Address of the Python threaded server, with --python (default: --host).
    #[arg(long, value_name = "HOST")]
    python_threaded_host: Option<String>,
    /// Address of the Python forking server, with --python (default: --host).
    #[arg(long, value_name = "HOST")]
    python_forking_host: Option<String>,
    /// Address of the HTTP baseline server (default: --host).
    #[arg(long, value_name = "HOST")]
    http_host: Option<String>,
    /// Port of the native threaded server (0: a free one).
    #[arg(long, default_value_t = 0)]
    threaded_port: u16,
    /// Port of the native forking server (0: a free one).
    #[arg(long, default_value_t = 0)]
    forking_port: u16,
    /// Port of the Python threaded server, with --python.
    #[arg(long, default_value_t = 0)]
    python_threaded_port: u16,
    /// Port of the Python forking server, with --python.
    #[arg(long, default_value_t = 0)]
    python_forking_port: u16,
    /// Skip the native threaded server.
    #[arg(long)]
    skip_threaded: bool,
    /// Skip the native forking server.
    #[arg(long)]
    skip_forking: bool,
    /// Port of the HTTP baseline server (0: a free one).
    #[arg(long, default_value_t = 0)]
    http_port: u16,
    /// Skip the HTTP baseline (an HTTP/1.1 keep-alive server with the same operations).
    #[arg(long)]
    skip_http: bool,
    /// Also run the Python-backed servers (python-threaded, python-forking).
    #[arg(long)]
    python: bool,
    /// With --python: skip the Python threaded server.
    #[arg(long)]
    skip_python_threaded: bool,
    /// With --python: skip the Python forking server.
    #[arg(long)]
    skip_python_forking: bool,
    /// Python interpreter for --python (default: $RPYCBENCH_PYTHON, the active
    /// virtualenv, a .venv here or above, else python3).
    #[arg(long, value_name = "PATH")]
    python_interpreter: Option<PathBuf>,
    /// Serial connections for the connection benchmark [default: 300; 100 with --quick].
    #[arg(long)]
    connections: Option<u64>,
    /// Timed requests for the latency benchmark [default: as many as fit in
    /// --latency-duration; 1000 with --quick].
    #[arg(long)]
    requests: Option<u64>,
    /// How long the latency benchmark runs when --requests is not given.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "4s")]
    latency_duration: std::time::Duration,
    /// Unmeasured warm-up requests before timing.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// Parallel clients for the concurrent benchmark.
    #[arg(long, default_value_t = 10)]
    clients: u32,
    /// Requests per client for the concurrent benchmark [default: 1000; 100 with --quick].
    #[arg(long)]
    requests_per_client: Option<u64>,
    /// Open-loop total rate (requests/s) for the concurrent benchmark; closed loop if unset.
    #[arg(long, value_name = "RATE")]
    rate: Option<f64>,
    /// Bandwidth payload sizes, comma-separated: bytes, or with a unit (64k, 1MiB).
    #[arg(long, value_delimiter = ',', default_value = "1KiB,10KiB,100KiB,1MiB", value_parser = parse_size)]
    bandwidth_sizes: Vec<u64>,
    /// Operations per bandwidth payload size [default: 30; 10 with --quick].
    #[arg(long)]
    bandwidth_iterations: Option<u32>,
    #[command(flatten)]
    wire: super::bench::PayloadFlags,
    /// Run the binary transfer benchmark (whole and chunked).
    #[arg(long)]
    transfers: bool,
    /// File sizes for --transfers, comma-separated: bytes, or with a unit (10MiB).
    #[arg(long, value_delimiter = ',', default_value = "1MiB,10MiB", value_parser = parse_size)]
    file_sizes: Vec<u64>,
    /// Chunk size for chunked transfers: bytes, or with a unit (64k).
    #[arg(long, default_value = "64KiB", value_parser = parse_size)]
    chunk_size: u64,
    /// Transfers per file size.
    #[arg(long, default_value_t = 3)]
    iterations: u32,
    /// Longest any one benchmark may run; past it, it stops and what it measured is
    /// kept, marked as ended early. A server that dies or stops answering (3 requests in
    /// a row without a reply) ends its benchmarks sooner.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10m")]
    deadline: std::time::Duration,
    /// Directory for results.json, summary.md and report.html.
    #[arg(long, default_value = "rpycbench-results")]
    out: PathBuf,
    /// Also write the results JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Rounds each benchmark runs in: the unit comparisons build their interval from.
    #[arg(long, default_value_t = crate::metrics::DEFAULT_ROUNDS, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// The short run of earlier versions (about a second): 1000 latency requests, 100
    /// connections, 100 requests per client, 10 bandwidth operations. Too short for
    /// stable figures or a server CPU figure; for a quick look only.
    #[arg(long)]
    quick: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    remote: super::remote::RemoteArgs,
}

/// How much each benchmark does: the defaults give stable medians and a server CPU
/// figure (the default suite takes about a minute), `--quick` the short run.
struct Amounts {
    connections: u64,
    latency: LatencyAmount,
    requests_per_client: u64,
    bandwidth_iterations: u32,
}

enum LatencyAmount {
    Requests(u64),
    Duration(std::time::Duration),
}

impl SuiteArgs {
    /// The servers to run, in order, each with the address it binds.
    fn servers(&self) -> Vec<(ServerKind, String, u16)> {
        let all = [
            (ServerKind::Rpyc(ServerMode::Threaded), !self.skip_threaded, &self.threaded_host, self.threaded_port),
            (ServerKind::Rpyc(ServerMode::Forking), !self.skip_forking, &self.forking_host, self.forking_port),
            (
                ServerKind::Rpyc(ServerMode::PythonThreaded),
                self.python && !self.skip_python_threaded,
                &self.python_threaded_host,
                self.python_threaded_port,
            ),
            (
                ServerKind::Rpyc(ServerMode::PythonForking),
                self.python && !self.skip_python_forking,
                &self.python_forking_host,
                self.python_forking_port,
            ),
            (ServerKind::Http, !self.skip_http, &self.http_host, self.http_port),
        ];
        all.into_iter()
            .filter(|(_, on, _, _)| *on)
            .map(|(mode, _, host, port)| (mode, host.clone().unwrap_or_else(|| self.host.clone()), port))
            .collect()
    }

    /// What each benchmark does, from the flags given and `--quick`.
    fn amounts(&self) -> Amounts {
        let pick = |given: Option<u64>, long: u64, quick: u64| given.unwrap_or(if self.quick { quick } else { long });
        Amounts {
            connections: pick(self.connections, 300, 100),
            latency: match (self.requests, self.quick) {
                (Some(n), _) => LatencyAmount::Requests(n),
                (None, true) => LatencyAmount::Requests(1000),
                (None, false) => LatencyAmount::Duration(self.latency_duration),
            },
            requests_per_client: pick(self.requests_per_client, 1000, 100),
            bandwidth_iterations: self.bandwidth_iterations.unwrap_or(if self.quick { 10 } else { 30 }),
        }
    }

    /// Counts that would run nothing, run for hours or not fit a frame.
    fn validate(&self) -> Result<(), SetupError> {
        let amounts = self.amounts();
        at_least_one("--connections", amounts.connections)?;
        match amounts.latency {
            LatencyAmount::Requests(n) => at_least_one("--requests", n)?,
            LatencyAmount::Duration(d) if d.is_zero() => {
                return Err(SetupError::Usage("--latency-duration must be longer than 0".into()))
            }
            LatencyAmount::Duration(_) => {}
        }
        check_clients("--clients", self.clients)?;
        at_least_one("--requests-per-client", amounts.requests_per_client)?;
        if let Some(rate) = self.rate {
            check_rate("--rate", rate, u64::from(self.clients) * amounts.requests_per_client)?;
        }
        check_sizes(&self.bandwidth_sizes).map_err(|e| SetupError::Usage(format!("--bandwidth-sizes: {e}")))?;
        at_least_one("--bandwidth-iterations", u64::from(amounts.bandwidth_iterations))?;
        // Checked without --transfers too: a flag given is a flag meant.
        check_sizes(&self.file_sizes).map_err(|e| SetupError::Usage(format!("--file-sizes: {e}")))?;
        check_chunk_size("--chunk-size", self.chunk_size, &self.file_sizes)?;
        at_least_one("--iterations", u64::from(self.iterations))?;
        Ok(())
    }

    fn phases_per_server(&self, server: ServerKind) -> u64 {
        // Transfers are RPyC-only: they use chunked calls HTTP has no counterpart for.
        4 + u64::from(self.transfers && server != ServerKind::Http)
    }
}

/// Exit codes and what runs where, shown by `rpycbench --help` and `rpycbench suite --help`.
pub(crate) const SUITE_AFTER_HELP: &str = "\
Every server runs the connection, latency, bandwidth and concurrent benchmarks;
with --transfers the RPyC servers (not the HTTP baseline) also run the transfers.
Each runs long enough for stable medians and a server CPU figure, in --rounds
rounds: the default suite takes about a minute; --quick is a second or two.

Exit status:
  0  every benchmark ran and every request succeeded
  4  every benchmark ran, but some requests failed (a one-line summary goes to
     stderr, even with --quiet; the results files say which)
  2  bad command line (e.g. --clients 0, --chunk-size 0, --out is a file or
     cannot be written), or with --python an interpreter without rpyc: checked
     before any server starts
  1  anything else, e.g. a server did not start, died or stopped answering; the
     results measured until then are still written, flagged \"partial\"
  130, 143  interrupted by SIGINT or SIGTERM: the servers are stopped and the
     results measured so far are written, flagged \"partial\"";

/// The suite's exit status when every benchmark ran but some requests failed; distinct
/// from clap's 2 (bad flags) and the harness's 10–13.
pub(crate) const EXIT_REQUESTS_FAILED: u8 = 4;

pub(crate) fn run(args: SuiteArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let servers = args.servers();
    if servers.is_empty() {
        return Err("every server is skipped: nothing to run".into());
    }
    // Bad counts and an unusable --out fail now, not after minutes of benchmarks.
    if let Err(e) = args.validate().and_then(|()| prepare_out(&args)) {
        eprintln!("rpycbench: {e}");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    if let Err(e) = check_remote(&args) {
        eprintln!("rpycbench: {e}");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    // A Python server runs after the native ones: an interpreter without rpyc must fail
    // the run now, naming the fix, not after minutes of native benchmarks.
    if servers.iter().any(|(kind, _, _)| matches!(kind, ServerKind::Rpyc(m) if m.is_python())) {
        if args.wire.compression == Some(crate::wire::Compression::Off) {
            eprintln!("rpycbench: --compression off: Python servers always compress (rpyc's Channel does); leave --compression out, or run without --python");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        let python = PythonServerSpec { python: args.python_interpreter.clone(), ..Default::default() };
        // On a remote host the interpreter is that host's: its server says so when it
        // has no rpyc (with the fix), as it starts.
        if args.remote.remote.is_none() {
            if let Err(e) = python.check() {
                eprintln!("rpycbench: {e}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        }
    }
    // One session for every server of the run: they start, and are removed, one by one.
    let session = args.remote.connect()?;
    // From here on SIGINT and SIGTERM write what was measured (see cli/interrupt.rs).
    let (out, json) = (args.out.clone(), args.json.clone());
    let checkpoint =
        Checkpoint::install(move |set| write_outputs(&out, json.as_deref(), set).map(drop).map_err(|e| e.to_string()))?;
    let phases = servers.iter().map(|(mode, _, _)| args.phases_per_server(*mode)).sum();
    let mut progress = Progress::new(phases, args.quiet);
    // A server that fails to start ends the run, one that dies or stops answering ends
    // its own benchmarks; what was measured is kept either way.
    let mut stopped: Option<String> = None;
    let mut lost: Vec<String> = Vec::new();
    for (mode, host, port) in servers {
        if checkpoint.signal().is_some() {
            break;
        }
        let python = PythonServerSpec { python: args.python_interpreter.clone(), ..Default::default() };
        progress.message(&format!("starting the {mode} server"));
        let started = mode.start((host, port), session.as_ref(), python, args.wire.compression, args.wire.payload);
        let server = match started {
            Ok(server) => server,
            Err(e) => {
                stopped = Some(format!("the {mode} server did not start: {e}"));
                break;
            }
        };
        if let Some(remote) = server.remote_server() {
            progress.message(&super::remote::describe(mode.name(), remote));
        }
        let mut phases = Phases { checkpoint: &checkpoint, ended: None };
        match mode {
            ServerKind::Rpyc(rpyc) => {
                let config = crate::client::Config::default().compression(args.wire.client());
                let target = Target::server_configured(&server, config);
                run_phases(&args, rpyc.name(), &target, &mut progress, &mut phases);
                run_transfers(&args, rpyc.name(), &target, &mut progress, &mut phases);
            }
            ServerKind::Http => {
                run_phases(&args, mode.name(), &crate::http::target(&server), &mut progress, &mut phases)
            }
        }
        if let Some(why) = phases.ended {
            lost.push(format!("the {mode} server's benchmarks stopped at {why}"));
        }
        if let Err(e) = server.stop() {
            stopped = Some(format!("the {mode} server did not stop cleanly: {e}"));
            break;
        }
    }
    progress.finish();
    let signal = checkpoint.signal();
    let partial =
        checkpoint.reason().or_else(|| stopped.clone()).or_else(|| (!lost.is_empty()).then(|| lost.join("; ")));
    if checkpoint.results().results.is_empty() && signal.is_none() {
        return Err(stopped.unwrap_or_else(|| "nothing was measured".into()).into());
    }
    let results = checkpoint.finish(partial)?;
    if !args.quiet {
        println!("{}", terminal_report(&results, None, colour_enabled()));
        // The top findings in a few lines (the diagnosis engine).
        let findings = diagnose(&results.results, &Thresholds::default());
        print!("{}", render_compact(&findings, 4));
        println!();
        println!("results written to {}/ (results.json, summary.md, report.html)", args.out.display());
        println!("HTML report: {}", args.out.join("report.html").display());
    }
    if let Some(why) = &results.partial {
        eprintln!("rpycbench: partial results: {why}");
    }
    if let Some(signal) = signal {
        return Ok(Checkpoint::exit_code(signal));
    }
    if let Some(e) = stopped {
        return Err(format!("{e}; the results measured before it were written to {}", args.out.display()).into());
    }
    if !lost.is_empty() {
        return Err(format!("{}; the results measured were written to {}", lost.join("; "), args.out.display()).into());
    }
    match failure_summary(&results) {
        Some(line) => {
            eprintln!("rpycbench: {line}");
            Ok(ExitCode::from(EXIT_REQUESTS_FAILED))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// The addresses and ports of local servers mean nothing with `--remote` (the address
/// there is `--remote-bind`): refused rather than ignored.
fn check_remote(args: &SuiteArgs) -> Result<(), SetupError> {
    if args.remote.remote.is_none() {
        return Ok(());
    }
    let hosts = [
        ("--host", Some(&args.host).filter(|h| *h != "127.0.0.1")),
        ("--threaded-host", args.threaded_host.as_ref()),
        ("--forking-host", args.forking_host.as_ref()),
        ("--python-threaded-host", args.python_threaded_host.as_ref()),
        ("--python-forking-host", args.python_forking_host.as_ref()),
        ("--http-host", args.http_host.as_ref()),
    ];
    if let Some((flag, _)) = hosts.iter().find(|(_, given)| given.is_some()) {
        return Err(SetupError::Usage(format!(
            "with --remote, the address the servers bind there is --remote-bind HOST ({flag} is for local servers)"
        )));
    }
    if args.python_interpreter.is_some() {
        return Err(SetupError::Usage(
            "--python-interpreter names a local interpreter: with --remote, the remote's is found there \
             ($RPYCBENCH_PYTHON, a virtualenv, python3)"
                .into(),
        ));
    }
    Ok(())
}

/// `3 of 12 benchmarks had failed requests: latency[http] 5/1000 (first error: …), …`.
fn failure_summary(results: &ResultSet) -> Option<String> {
    let failed: Vec<String> = results
        .results
        .iter()
        .filter(|r| r.outcomes.failures > 0)
        .map(|r| {
            let first = r.outcomes.errors.first().map(|e| format!(", e.g. {}", e.message)).unwrap_or_default();
            format!("{} {}/{} failed{first}", r.name, r.outcomes.failures, r.outcomes.attempts)
        })
        .collect();
    (!failed.is_empty()).then(|| {
        format!("{} of {} benchmarks had failed requests: {}", failed.len(), results.results.len(), failed.join("; "))
    })
}

/// Creates the output directory before anything runs and checks that files can be
/// written there (and at `--json`), so a bad `--out` (an existing file, no permission,
/// a read-only file system) is reported at once.
fn prepare_out(args: &SuiteArgs) -> Result<(), SetupError> {
    super::outputs::check_dir("--out", &args.out)?;
    if let Some(json) = &args.json {
        super::outputs::check_file("--json", json)?;
    }
    Ok(())
}

fn write_outputs(
    out: &std::path::Path,
    json: Option<&std::path::Path>,
    results: &ResultSet,
) -> Result<ReportFiles, Box<dyn std::error::Error>> {
    // Created before the run; created again in case it was removed meanwhile.
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    results.save(&out.join("results.json"))?;
    if let Some(path) = json {
        results.save(path)?;
    }
    Ok(write_reports(out, results, None)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::Latency;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        suite: SuiteArgs,
    }

    fn servers(args: &[&str]) -> Vec<(ServerKind, String, u16)> {
        Cmd::parse_from(std::iter::once("rpycbench").chain(args.iter().copied())).suite.servers()
    }

    #[test]
    fn sizes_take_units_and_the_defaults_are_the_documented_bytes() {
        let parse = |args: &[&str]| Cmd::parse_from(std::iter::once("rpycbench").chain(args.iter().copied())).suite;
        let given = parse(&["--bandwidth-sizes", "1k,64KiB,1.5MiB", "--file-sizes", "10MB", "--chunk-size", "64k"]);
        assert_eq!(given.bandwidth_sizes, [1024, 65536, 1572864]);
        assert_eq!((given.file_sizes.as_slice(), given.chunk_size), (&[10_000_000][..], 65536));
        let defaults = parse(&[]);
        assert_eq!(defaults.bandwidth_sizes, crate::bench::DEFAULT_SIZES);
        assert_eq!(defaults.file_sizes, crate::bench::Transfer::DEFAULT_SIZES);
        assert_eq!(defaults.chunk_size, crate::bench::Transfer::DEFAULT_CHUNK_SIZE);
        let refused = Cmd::try_parse_from(["rpycbench", "--bandwidth-sizes", "1k,12 parsecs"]).map(drop).unwrap_err();
        assert!(refused.to_string().contains("unknown unit"), "{refused}");
    }

    #[test]
    fn each_server_has_its_own_host_port_and_skip() {
        let local = || "127.0.0.1".to_owned();
        assert_eq!(
            servers(&[]),
            [
                (ServerKind::Rpyc(ServerMode::Threaded), local(), 0),
                (ServerKind::Rpyc(ServerMode::Forking), local(), 0),
                (ServerKind::Http, local(), 0)
            ]
        );
        let picked = servers(&[
            "--host",
            "127.0.0.3",
            "--threaded-host",
            "127.0.0.2",
            "--threaded-port",
            "18861",
            "--skip-forking",
            "--python",
            "--skip-python-forking",
            "--python-threaded-host",
            "127.0.0.4",
            "--http-port",
            "8080",
        ]);
        assert_eq!(
            picked,
            [
                (ServerKind::Rpyc(ServerMode::Threaded), "127.0.0.2".to_owned(), 18861),
                (ServerKind::Rpyc(ServerMode::PythonThreaded), "127.0.0.4".to_owned(), 0),
                (ServerKind::Http, "127.0.0.3".to_owned(), 8080),
            ]
        );
    }

    #[test]
    fn local_addresses_and_interpreters_are_refused_with_remote() {
        let check = |args: &[&str]| {
            let cmd = Cmd::try_parse_from(std::iter::once("rpycbench").chain(args.iter().copied())).expect("parses");
            check_remote(&cmd.suite).map_err(|e| e.to_string())
        };
        assert_eq!(check(&["--remote", "bench@server1"]), Ok(()));
        assert_eq!(check(&["--threaded-host", "10.0.0.2"]), Ok(()), "without --remote they are the local servers'");
        let refused = check(&["--remote", "h", "--http-host", "10.0.0.2"]).unwrap_err();
        assert!(refused.contains("--remote-bind HOST (--http-host is for local servers)"), "{refused}");
        let refused = check(&["--remote", "h", "--host", "0.0.0.0"]).unwrap_err();
        assert!(refused.contains("(--host is for local servers)"), "{refused}");
        let refused = check(&["--remote", "h", "--python", "--python-interpreter", "/usr/bin/python3"]).unwrap_err();
        assert!(refused.contains("the remote's is found there"), "{refused}");
        let orphan = Cmd::try_parse_from(["rpycbench", "--remote-bind", "0.0.0.0"]).map(drop).unwrap_err();
        assert!(orphan.to_string().contains("--remote"), "{orphan}");
    }

    #[test]
    fn failures_are_summed_up_in_one_line() {
        // Real refused connections.
        let closed = crate::test_ports::ClosedPort::new();
        let dead = closed.addr();
        let mut set = ResultSet::new();
        let ping = |c: &mut crate::Connection| c.call("ping", ()).map(drop);
        set.push(Latency::new("refused").requests(3).warmup(0).sample_system(false).run(&Target::address(dead), ping));
        let line = failure_summary(&set).expect("failures are reported");
        assert!(line.starts_with("1 of 1 benchmarks had failed requests: refused 3/3 failed, e.g. "), "{line}");
        assert_eq!(failure_summary(&ResultSet::new()), None);
    }
}
