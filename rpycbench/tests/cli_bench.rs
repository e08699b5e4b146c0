//! `rpycbench bench` and `rpycbench sweep` as a CI job runs them: the real binary
//! against real `rpycbench serve` processes (native and Python rpyc), checked by exit
//! status, output and the results JSON.
//!
//! Python comes from `RPYCBENCH_PYTHON`, else the repository's `.venv`. Every command
//! runs with a timeout and every server is stopped when its handle drops.

mod common;
use common::{native_spec, python, start_server as start, ClosedPort};

use rpycbench::metrics::{BenchKind, LoadModel, ResultSet};
use rpycbench::server::ServerMode;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_rpycbench");

/// A fresh file path under cargo's per-target temporary directory.
fn temp_path(what: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli_bench-{}-{n}-{what}", std::process::id()))
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args`; output goes to files (no pipe to fill up), and a run
/// past 60 s is killed and fails the test.
fn rpycbench(args: &[&str]) -> Run {
    let (out, err) = (temp_path("stdout"), temp_path("stderr"));
    let mut child = Command::new(BIN)
        .args(args)
        .env("RPYCBENCH_PYTHON", python())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("create stdout file"))
        .stderr(std::fs::File::create(&err).expect("create stderr file"))
        .spawn()
        .expect("run rpycbench");
    let status = common::exit_within(&mut child, Duration::from_secs(60), &format!("rpycbench {args:?}"));
    let read = |p: &PathBuf| {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        let _ = std::fs::remove_file(p);
        text
    };
    let run = Run { code: status.code().unwrap_or(-1), stdout: read(&out), stderr: read(&err) };
    assert!(!run.stderr.contains("panicked"), "rpycbench {args:?} panicked:\n{}", run.stderr);
    run
}

fn results(path: &PathBuf) -> ResultSet {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let _ = std::fs::remove_file(path);
    ResultSet::from_json(&text, &path.display().to_string()).expect("a valid results file")
}

#[test]
fn latency_of_ping_writes_valid_results_json() {
    let server = start(ServerMode::Threaded);
    let addr = server.addr().to_string();
    let json = temp_path("latency.json");
    let json_arg = json.to_str().expect("utf-8 path");
    let run =
        rpycbench(&["bench", "latency", "--connect", &addr, "--call", "ping", "--requests", "50", "--json", json_arg]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("latency[ping]"), "{}", run.stdout);
    let set = results(&json);
    let [r] = set.results.as_slice() else { panic!("one result expected, got {}", set.results.len()) };
    assert_eq!(r.kind, BenchKind::Latency);
    assert_eq!(r.server.mode, "external");
    assert_eq!(r.server.address.as_deref(), Some(addr.as_str()));
    assert_eq!((r.outcomes.attempts, r.outcomes.successes), (50, 50));
    assert_eq!(r.latency.as_ref().map(|l| l.count), Some(50));
    assert_eq!(r.params["method"], "ping");
}

#[test]
fn the_server_pid_samples_a_forking_servers_processes_and_a_wrong_one_is_refused_first() {
    let server = start(ServerMode::Forking);
    let (addr, pid) = (server.addr().to_string(), server.pid().to_string());
    let json = temp_path("server-pid.json");
    let json_arg = json.to_str().expect("utf-8 path");
    let run = rpycbench(&[
        "bench",
        "concurrent",
        "--connect",
        &addr,
        "--call",
        "io_work",
        "--args",
        "[0.02]",
        "--clients",
        "3",
        "--requests-per-client",
        "15",
        "--server-pid",
        &pid,
        "--json",
        json_arg,
    ]);
    assert_eq!(
        run.code, 0,
        "stdout:
{}
stderr:
{}",
        run.stdout, run.stderr
    );
    let set = results(&json);
    let server_stats = set.results[0].system.as_ref().and_then(|s| s.server.clone()).expect("the server was sampled");
    // The forking server and a child per client.
    assert!(server_stats.processes_max >= 4, "{server_stats:?}");
    assert!(server_stats.rss_bytes_max > 0, "{server_stats:?}");
    // A pid that is not there: refused before connecting (so even a dead address says so).
    let closed = ClosedPort::new();
    let run = rpycbench(&[
        "bench",
        "latency",
        "--connect",
        &closed.addr().to_string(),
        "--call",
        "ping",
        "--server-pid",
        "999999999",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--server-pid 999999999: no such process"), "{}", run.stderr);
}

#[test]
fn a_violated_sla_exits_10_and_is_named() {
    let server = start(ServerMode::Threaded);
    let addr = server.addr().to_string();
    let base = ["bench", "latency", "--connect", &addr, "--call", "io_work", "--args", "[0.005]", "--requests", "10"];
    let run = rpycbench(&[&base[..], &["--p99-ms", "1", "--mean-ms", "1000"]].concat());
    assert_eq!(run.code, 10, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("SLA violated: p99 = "), "{}", run.stdout);
    assert!(run.stdout.contains("> 1.00 ms (latency[io_work], 10 requests)"), "{}", run.stdout);
    assert!(run.stdout.contains("SLA met: mean = "), "{}", run.stdout);

    let run = rpycbench(&[&base[..], &["--p99-ms", "1000", "--quiet"]].concat());
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "", "--quiet prints nothing when every SLA holds");

    // Nothing measured: p99 of an empty sample is 0, which must not pass a bound.
    let nothing = ["--duration", "0s", "--p99-ms", "1", "--min-success-rate", "0", "-q"];
    let run = rpycbench(&[&["bench", "latency", "--connect", &addr, "--call", "ping"][..], &nothing].concat());
    assert_eq!(run.code, 10, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("SLA violated: nothing was measured"), "{}", run.stderr);
}

#[test]
fn bench_works_against_a_python_rpyc_server() {
    let server = start(ServerMode::PythonThreaded);
    let addr = server.addr().to_string();
    let json = temp_path("python.json");
    let json_arg = json.to_str().expect("utf-8 path");
    let run = rpycbench(&[
        "bench",
        "latency",
        "--connect",
        &addr,
        "--call",
        "echo",
        "--args",
        r#"[[1, "x", {"$bytes": "aGk="}]]"#,
        "--requests",
        "20",
        "--json",
        json_arg,
    ]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let set = results(&json);
    assert_eq!(set.results[0].outcomes.successes, 20);
    assert_eq!(set.results[0].params["call"], "echo((1, 'x', b'hi'))");
    // An SLA that real rpyc cannot meet: 5 ms calls against a 1 ms p99.
    let slow = ["--call", "io_work", "--args", "[0.005]", "--requests", "5", "--p99-ms", "1"];
    let run = rpycbench(&[&["bench", "latency", "--connect", &addr][..], &slow].concat());
    assert_eq!(run.code, 10, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("SLA violated: p99 = "), "{}", run.stdout);
    // The same unknown-method probe, answered by real rpyc.
    let run = rpycbench(&["bench", "latency", "--connect", &addr, "--call", "no_such_method"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("has no method 'no_such_method'"), "{}", run.stderr);
    assert!(run.stderr.contains("check --call"), "{}", run.stderr);
    // A bandwidth method that is missing is named by the flag that chose it.
    let run = rpycbench(&["bench", "bandwidth", "--connect", &addr, "--sizes", "1k", "--upload-method", "store"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("has no method 'store'") && run.stderr.contains("check --upload-method"),
        "{}",
        run.stderr
    );
}

#[test]
fn concurrent_open_loop_and_bandwidth_per_size() {
    let server = start(ServerMode::Threaded);
    let addr = server.addr().to_string();
    let json = temp_path("concurrent.json");
    let json_arg = json.to_str().expect("utf-8 path");
    let run = rpycbench(&[
        "bench",
        "concurrent",
        "--connect",
        &addr,
        "--call",
        "ping",
        "--clients",
        "2",
        "--requests-per-client",
        "10",
        "--rate",
        "200",
        "--json",
        json_arg,
    ]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let set = results(&json);
    let r = &set.results[0];
    assert_eq!(r.kind, BenchKind::Concurrent);
    assert_eq!(r.outcomes.successes, 20);
    assert!(matches!(r.load_model, Some(LoadModel::OpenLoop { rate_per_sec, .. }) if rate_per_sec == 200.0));
    // Open loop on the terminal: the target rate, late starts and the rate achieved.
    let concurrency = run.stdout.split("Concurrency").nth(1).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(concurrency.contains("open 200/s") && concurrency.contains("late"), "{}", run.stdout);
    assert!(concurrency.contains("req/s"), "{}", run.stdout);

    let run = rpycbench(&[
        "bench",
        "bandwidth",
        "--connect",
        &addr,
        "--sizes",
        "1024,4096",
        "--iterations",
        "2",
        "--json",
        json_arg,
    ]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let set = results(&json);
    let sizes: Vec<(String, u64, u64)> =
        set.results[0].sizes.iter().map(|s| (s.direction.clone(), s.size_bytes, s.outcomes.successes)).collect();
    let expected = [("upload", 1024), ("download", 1024), ("upload", 4096), ("download", 4096)];
    assert_eq!(sizes, expected.map(|(d, n)| (d.to_owned(), n, 2)).to_vec());
    // The terminal shows what `report` would: each size and direction, not one number,
    // the slowest size marked as the one a bandwidth SLA checks, within 100 columns.
    let table = bandwidth_rows(&run.stdout);
    assert_eq!(table.len(), 4, "a row per size and direction:\n{}", run.stdout);
    let slowest = set.results[0].slowest_size().expect("sizes were measured");
    let marked: Vec<&&str> = table.iter().filter(|l| l.contains("◂ slowest")).collect();
    assert_eq!(marked.len(), 1, "{}", run.stdout);
    let size = rpycbench::metrics::format_bytes(slowest.size_bytes);
    assert!(marked[0].contains(&slowest.direction) && marked[0].contains(&format!(" {size} ")), "{}", run.stdout);
    // The note under the table says what the mark means (wrapped to the width).
    let note: String =
        run.stdout.split("◂ slowest: ").nth(1).unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(note.starts_with("each benchmark's size with the lowest mean, what min_bandwidth_mbps"), "{}", run.stdout);
    assert_fits_100_columns(&run.stdout);
}

/// The body rows of the terminal's "Bandwidth per payload size" table.
fn bandwidth_rows(stdout: &str) -> Vec<&str> {
    let table = stdout.split("Bandwidth per payload size").nth(1).unwrap_or("");
    let body = table.split('╡').nth(1).unwrap_or("");
    body.lines().take_while(|l| !l.starts_with('└')).filter(|l| l.starts_with('│')).collect()
}

/// Off a terminal, what `bench` and `sweep` print reads in 100 columns, unwrapped.
fn assert_fits_100_columns(stdout: &str) {
    for line in stdout.lines() {
        assert!(line.chars().count() <= 100, "{} columns: {line}\n{stdout}", line.chars().count());
    }
}

#[test]
fn a_payload_sweep_has_a_row_per_size_and_direction() {
    let server = start(ServerMode::Threaded);
    let addr = server.addr().to_string();
    let run = rpycbench(&["sweep", "--over", "payload", "--values", "1k,64k", "--connect", &addr, "--iterations", "2"]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let rows: Vec<&str> = run.stdout.lines().filter(|l| l.contains("upload") || l.contains("download")).collect();
    assert_eq!(rows.len(), 4, "{}", run.stdout);
    assert!(rows[0].trim_start().starts_with("1KiB  upload"), "{}", run.stdout);
    assert!(rows[1].trim_start().starts_with("download"), "{}", run.stdout);
    assert!(rows[2].trim_start().starts_with("64KiB  upload"), "{}", run.stdout);
    assert!(rows.iter().all(|r| r.contains("MB/s") || r.contains("kB/s")), "{}", run.stdout);
    assert_fits_100_columns(&run.stdout);
}

#[test]
fn bad_input_is_a_clear_error() {
    let closed = ClosedPort::new();
    let dead = closed.addr().to_string();
    let cases: [(&[&str], &str); 6] = [
        (&["--args", r#"{"x": 1}"#], "--args takes a JSON array"),
        (&["--args", "[1,"], "args: not valid JSON"),
        (&["--args", r#"[1, {"y": 2}]"#], "args[1]: a JSON object (keys: y)"),
        (&["--args", r#"[{"$zeros": 999999999999}]"#], "args[0].$zeros: 999999999999 bytes is more than the limit"),
        (&["--kwargs", "[1]"], "--kwargs takes a JSON object"),
        (&["--requests", "0"], "--requests must be at least 1"),
    ];
    for (extra, message) in cases {
        let run = rpycbench(&[&["bench", "latency", "--connect", &dead, "--call", "ping"], extra].concat());
        assert_eq!(run.code, 2, "{extra:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{extra:?}: expected {message:?} in:\n{}", run.stderr);
    }
    let run = rpycbench(&["bench", "latency", "--connect", &dead, "--call", "ping"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("cannot reach an RPyC server at {dead}")), "{}", run.stderr);
    let run = rpycbench(&["bench", "connection", "--connect", "127.0.0.1"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--connect expects HOST:PORT"), "{}", run.stderr);
    let run = rpycbench(&["bench", "latency", "--connect", &dead, "--call", "ping", "--min-success-rate", "99"]);
    assert!(run.stderr.contains("fraction from 0 to 1"), "{}", run.stderr);
    // Counts that would run nothing or for years fail before any connection is tried.
    let cases: [(&[&str], &str); 8] = [
        (&["bench", "concurrent", "--call", "ping", "--rate", "1e-9"], "would take 31688years"),
        // --remote: what cannot apply is refused before ssh is run.
        (&["sweep", "--over", "clients", "--connect", "127.0.0.1:1", "--remote", "h"], "--connect benchmarks a server"),
        (
            &["sweep", "--over", "clients", "--python", "/usr/bin/python3", "--remote", "h"],
            "the remote's is found there",
        ),
        (&["suite", "--forking-host", "10.0.0.2", "--remote", "h"], "(--forking-host is for local servers)"),
        (&["bench", "bandwidth", "--sizes", "0"], "--sizes: payload size 0"),
        (&["sweep", "--over", "mode", "--values", "threaded,http"], "'http' cannot be swept"),
        (&["sweep", "--over", "clients", "--mode", "http"], "'http' cannot be swept"),
        (&["sweep", "--over", "payload", "--call", "echo"], "--call does not apply to --over payload"),
    ];
    for (command, message) in cases {
        let connect: &[&str] = if command[0] == "bench" { &["--connect", &dead] } else { &[] };
        let run = rpycbench(&[command, connect].concat());
        assert_eq!(run.code, 2, "{command:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{command:?}: expected {message:?} in:\n{}", run.stderr);
    }
}

#[test]
fn an_unknown_method_is_a_clear_error() {
    let server = start(ServerMode::Threaded);
    let addr = server.addr().to_string();
    let json = temp_path("unknown.json");
    let json_arg = json.to_str().expect("utf-8 path");
    let run = rpycbench(&["bench", "concurrent", "--connect", &addr, "--call", "no_such_method", "--json", json_arg]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("has no method 'no_such_method'"), "{}", run.stderr);
    assert!(!json.exists(), "no results file for a run that did not start");
    // A method whose signature refuses the arguments is named too.
    let run = rpycbench(&["bench", "latency", "--connect", &addr, "--call", "io_work", "--args", "[0, 1]"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("probe call io_work(0, 1)"), "{}", run.stderr);
    assert!(run.stderr.contains("takes from 1 to 2 positional arguments but 3 were given"), "{}", run.stderr);
    // An exception the method itself raises is measured: every request fails, nothing
    // was measured, exit 10.
    let run = rpycbench(&[
        "bench",
        "latency",
        "--connect",
        &addr,
        "--call",
        "io_work",
        "--args",
        r#"["soon"]"#,
        "--requests",
        "5",
    ]);
    assert_eq!(run.code, 10, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("nothing was measured"), "{}", run.stdout);
}

#[test]
fn a_sweep_stops_at_the_limit_and_says_where() {
    // Built-in servers, one per step: 5 ms calls cannot meet a 1 ms p99 at any step.
    let json = temp_path("sweep.json");
    let json_arg = json.to_str().expect("utf-8 path");
    let run = rpycbench(&[
        "sweep",
        "--over",
        "clients",
        "--values",
        "1,2,4",
        "--call",
        "io_work",
        "--args",
        "[0.005]",
        "--requests-per-client",
        "5",
        "--max-p99-ms",
        "1",
        "--json",
        json_arg,
    ]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("limit reached at clients=1: p99 = "), "{}", run.stdout);
    assert!(run.stdout.contains("← limit: p99"), "the chart marks the step:\n{}", run.stdout);
    let set = results(&json);
    assert_eq!(set.results.len(), 1, "the sweep stops at the first step over the limit");
    let r = &set.results[0];
    assert_eq!(r.server.mode, "threaded");
    assert_eq!(r.params["sweep_parameter"], "clients");
    assert_eq!(r.params["sweep_value"], 1);
}

#[test]
fn a_sweep_without_a_limit_records_every_step() {
    let server = start(ServerMode::Threaded);
    let addr = server.addr().to_string();
    let json = temp_path("sweep_all.json");
    let json_arg = json.to_str().expect("utf-8 path");
    let run = rpycbench(&[
        "sweep",
        "--over",
        "clients",
        "--values",
        "1,2",
        "--connect",
        &addr,
        "--requests-per-client",
        "5",
        "--json",
        json_arg,
    ]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("no limit reached up to clients=2"), "{}", run.stdout);
    let set = results(&json);
    let steps: Vec<(String, serde_json::Value)> = set
        .results
        .iter()
        .map(|r| (r.params["sweep_parameter"].as_str().unwrap_or("?").to_owned(), r.params["sweep_value"].clone()))
        .collect();
    assert_eq!(steps, vec![("clients".to_owned(), 1.into()), ("clients".to_owned(), 2.into())]);
    assert!(set.results.iter().all(|r| r.server.mode == "external"));

    let run = rpycbench(&[
        "sweep",
        "--over",
        "payload",
        "--values",
        "1024,2048",
        "--connect",
        &addr,
        "--iterations",
        "2",
        "--json",
        json_arg,
    ]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let set = results(&json);
    let values: Vec<&serde_json::Value> = set.results.iter().map(|r| &r.params["sweep_value"]).collect();
    assert_eq!(values, [&serde_json::Value::from(1024), &serde_json::Value::from(2048)]);
    assert!(set.results.iter().all(|r| r.params["sweep_parameter"] == "payload_bytes" && r.sizes.len() == 2));
}

#[test]
fn a_sweep_against_a_capped_server_stops_on_the_success_rate() {
    // At most 3 connections (room for the sweep's probe connections lingering), so
    // 8 clients mostly fail: the success-rate limit is crossed at clients=8, not before.
    let spec = rpycbench::server::ServerSpec { max_connections: Some(3), ..native_spec(ServerMode::Threaded) };
    let server = spec.start().expect("start a capped server");
    let addr = server.addr().to_string();
    let json = temp_path("sweep_capped.json");
    let json_arg = json.to_str().expect("utf-8 path");
    let run = rpycbench(&[
        "sweep",
        "--over",
        "clients",
        "--values",
        "1,8,16",
        "--connect",
        &addr,
        "--call",
        "io_work",
        "--args",
        "[0.01]",
        "--requests-per-client",
        "5",
        "--json",
        json_arg,
    ]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("limit reached at clients=8: success rate = "), "{}", run.stdout);
    let set = results(&json);
    assert_eq!(set.results.len(), 2, "the sweep stops at clients=8");
    assert!(!set.results[0].params.contains_key("sweep_limit"));
    let limit = set.results[1].params["sweep_limit"].as_str().expect("the limit step says what crossed it");
    assert!(limit.starts_with("success rate = ") && limit.ends_with("< 95.00 %"), "{limit}");
}

// ---- Servers users bring: one-shot, failing now and then, older rpyc ----------------

/// A Python peer server of `tests/python/peer_servers.py`, run by `python`.
struct Peer {
    _child: common::KillOnDrop,
    addr: String,
}

fn peer(python: &std::path::Path, kind: &str) -> Peer {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/python/peer_servers.py");
    let mut child = Command::new(python)
        .args([script, kind])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let child = common::KillOnDrop(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).expect("the readiness line");
    let addr =
        line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("readiness line {line:?}")).to_owned();
    Peer { _child: child, addr }
}

/// The interpreter with rpyc 5.3.1 (`scripts/test` makes it): `$RPYCBENCH_PYTHON_RPYC5`,
/// else the repository's `.venv-rpyc5`.
fn python_rpyc5() -> PathBuf {
    std::env::var_os("RPYCBENCH_PYTHON_RPYC5")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv-rpyc5/bin/python")))
}

#[test]
fn without_warmup_only_the_measured_calls_cross_the_wire() {
    let server = start(ServerMode::Threaded);
    let addr = server.addr().to_string();
    let exact = ["--warmup", "0", "--max-round-trips", "1", "--max-references", "0"];
    for kind in [&["latency", "--requests", "40"][..], &["concurrent", "--clients", "2", "--requests-per-client", "20"]]
    {
        let json = temp_path("warmup0.json");
        let json_arg = json.to_str().expect("utf-8 path");
        let args = [&["bench"][..], kind, &["--connect", &addr, "--call", "ping", "--json", json_arg], &exact].concat();
        let run = rpycbench(&args);
        assert_eq!(run.code, 0, "{kind:?}: a ping is one round trip and no reference:\n{}{}", run.stdout, run.stderr);
        let set = results(&json);
        let wire = set.results[0].wire.as_ref().expect("wire figures");
        assert_eq!((wire.round_trips_per_request, wire.refs_received), (1.0, 0), "{kind:?}: {wire:?}");
    }
}

#[test]
fn a_one_shot_server_is_measured_on_its_one_connection() {
    let server = peer(&python(), "oneshot");
    let run = rpycbench(&[
        "bench",
        "latency",
        "--connect",
        &server.addr,
        "--call",
        "echo",
        "--args",
        r#"["hi"]"#,
        "--requests",
        "50",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("latency[echo]"), "{}", run.stdout);
}

#[test]
fn a_method_that_fails_now_and_then_is_measured_while_a_missing_one_is_refused() {
    let server = peer(&python(), "flaky");
    // Every fourth call fails, the first included, so any run measures exactly 25 %
    // failures. Without warm-up a run makes 401 calls (the probe, then 400), so the four
    // runs start at each phase: the first run's probe call fails, and the run must
    // happen all the same.
    for attempt in 0..4 {
        let json = temp_path("flaky.json");
        let json_arg = json.to_str().expect("utf-8 path");
        let run = rpycbench(&[
            "bench",
            "latency",
            "--connect",
            &server.addr,
            "--call",
            "lookup",
            "--args",
            r#"["k"]"#,
            "--requests",
            "400",
            "--warmup",
            "0",
            "--min-success-rate",
            "0.7",
            "--json",
            json_arg,
        ]);
        assert_eq!(run.code, 0, "run {attempt}: {}{}", run.stdout, run.stderr);
        let set = results(&json);
        let o = &set.results[0].outcomes;
        assert_eq!((o.attempts, o.successes, o.success_rate), (400, 300, 0.75), "run {attempt}: {o:?}");
        assert!(o.errors.iter().all(|e| e.message.contains("LookupError")), "{:?}", o.errors);
        // The terminal names the failures with their reason and count, as `report` does.
        let failures = run.stdout.split("Failures").nth(1).unwrap_or_else(|| panic!("{}", run.stdout));
        let row = failures.lines().find(|l| l.contains("LookupError")).unwrap_or_else(|| panic!("{}", run.stdout));
        assert!(row.contains(" 100 "), "100 of 400 failed, counted: {row}\n{}", run.stdout);
        assert_fits_100_columns(&run.stdout);
    }
    let missing = rpycbench(&["bench", "latency", "--connect", &server.addr, "--call", "nope"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("has no method 'nope'"), "{}", missing.stderr);
    let unbound = rpycbench(&["bench", "latency", "--connect", &server.addr, "--call", "lookup"]);
    assert_eq!(unbound.code, 2, "{}", unbound.stderr);
    assert!(unbound.stderr.contains("missing 1 required positional argument: 'key'"), "{}", unbound.stderr);
}

#[test]
fn an_rpyc_older_than_6_is_named_on_both_sides() {
    let old = python_rpyc5();
    assert!(old.is_file(), "no Python with rpyc 5 at {} (scripts/test makes it)", old.display());
    // Our client against an rpyc 5.3.1 server.
    let server = peer(&old, "threaded");
    let run = rpycbench(&["bench", "latency", "--connect", &server.addr, "--call", "ping"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("speaks an rpyc older than 6.0"), "{}", run.stderr);
    // An rpyc 5.3.1 client against our server.
    let native = start(ServerMode::Threaded);
    let port = native.addr().port();
    let script = format!(
        "import rpyc\nc = rpyc.connect('127.0.0.1', {port})\ntry:\n    c.root.ping()\nexcept Exception as e:\n    print(type(e).__name__, str(e).splitlines()[0])\n"
    );
    let out = Command::new(&old).args(["-c", &script]).output().expect("run the rpyc 5 client");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("ValueError this peer (rpycbench) speaks RPyC 6.0.2, and your rpyc is older than 6.0"),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
