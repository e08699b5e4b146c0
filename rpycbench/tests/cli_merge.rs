//! Load from several workers, merged: `rpycbench bench … --start-at T --json wN.json`
//! run as separate processes against one `rpycbench serve`, then `rpycbench merge`.
//! The merged figures are checked against the workers' own files: the percentiles must
//! be exactly those of the workers' histograms added up here, independently of the
//! command's code path, and the counts must add up.

mod common;
use common::{start_server, ClosedPort, KillOnDrop, TempDir};

use rpycbench::metrics::{BenchResult, LatencyHistogram, ResultSet};
use rpycbench::server::ServerMode;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_rpycbench");
/// Requests each worker measures.
const REQUESTS: u64 = 300;

/// A worker process: `bench latency` of `ping`, its output in `dir`, killed on drop.
fn worker(dir: &Path, addr: &str, index: usize, start_at: &str) -> KillOnDrop {
    let json = dir.join(format!("w{index}.json"));
    let err = std::fs::File::create(dir.join(format!("w{index}.stderr"))).expect("create a stderr file");
    let child = Command::new(BIN)
        .args(["bench", "latency", "--connect", addr, "--call", "ping", "--requests", &REQUESTS.to_string()])
        .args(["--warmup", "10", "--quiet", "--start-at", start_at, "--json"])
        .arg(&json)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("start a worker");
    KillOnDrop(child)
}

/// Runs the binary to the end (at most 60 s): exit code, stdout, stderr. Read after
/// the exit: these commands print a few KiB, well under a pipe's 64 KiB.
fn rpycbench(args: &[&str]) -> (i32, String, String) {
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run rpycbench"),
    );
    let status = common::exit_within(&mut child.0, Duration::from_secs(60), &format!("rpycbench {args:?}"));
    let read = |pipe: Option<&mut dyn std::io::Read>| {
        let mut text = String::new();
        pipe.map(|p| p.read_to_string(&mut text));
        text
    };
    let out = read(child.0.stdout.as_mut().map(|p| p as &mut dyn std::io::Read));
    let err = read(child.0.stderr.as_mut().map(|p| p as &mut dyn std::io::Read));
    assert!(!err.contains("panicked"), "rpycbench {args:?} panicked:\n{err}");
    (status.code().unwrap_or(-1), out, err)
}

fn only_result(path: &Path) -> BenchResult {
    let set = ResultSet::load(path).unwrap_or_else(|e| panic!("{e}"));
    let [r] =
        <[BenchResult; 1]>::try_from(set.results).unwrap_or_else(|v| panic!("{}: {} results", path.display(), v.len()));
    r
}

/// Unix seconds `ahead` from now, as `--start-at` takes them.
fn unix_seconds_from_now(ahead: Duration) -> String {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).expect("a clock after 1970") + ahead;
    format!("{:.3}", t.as_secs_f64())
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

#[test]
fn merged_percentiles_are_those_of_all_workers_requests_together_and_a_late_worker_is_flagged() {
    let server = start_server(ServerMode::Threaded);
    let addr = server.addr().to_string();
    let dir = TempDir::new("merge-workers");
    // Ahead enough for three processes to start and connect on a busy machine; the
    // third is told to start 3 s after the others: it is late by construction.
    let on_time = unix_seconds_from_now(Duration::from_secs(4));
    let late = unix_seconds_from_now(Duration::from_secs(7));
    let mut workers: Vec<KillOnDrop> =
        [&on_time, &on_time, &late].iter().enumerate().map(|(i, t)| worker(&dir.0, &addr, i, t)).collect();
    for (i, w) in workers.iter_mut().enumerate() {
        let status = common::exit_within(&mut w.0, Duration::from_secs(90), &format!("worker {i}"));
        let stderr = std::fs::read_to_string(dir.0.join(format!("w{i}.stderr"))).unwrap_or_default();
        assert!(status.success(), "worker {i} failed ({status}):\n{stderr}");
    }
    let files: Vec<PathBuf> = (0..3).map(|i| dir.0.join(format!("w{i}.json"))).collect();
    let merged_file = dir.0.join("merged.json");
    let mut args = vec!["merge", "--late-after", "1s", "--json", path_arg(&merged_file)];
    args.extend(files.iter().map(|f| path_arg(f)));
    let (code, out, err) = rpycbench(&args);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("Workers") && out.contains("late"), "the workers' table with the late one:\n{out}");
    assert!(err.contains("w2.json started") && err.contains("after the others"), "{err}");

    // The union of every worker's requests, computed here from the workers' own files.
    let own: Vec<BenchResult> = files.iter().map(|f| only_result(f)).collect();
    let mut union = LatencyHistogram::new();
    for r in &own {
        union.merge(&r.latency.as_ref().expect("a latency result").histogram().expect("a valid histogram"));
    }
    let expected = union.stats();
    let merged = only_result(&merged_file);
    let got = merged.latency.as_ref().expect("merged latency");
    assert_eq!(
        (got.count, got.min_ns, got.p50_ns, got.p90_ns, got.p99_ns, got.p999_ns, got.max_ns, got.mean_ns),
        (
            expected.count,
            expected.min_ns,
            expected.p50_ns,
            expected.p90_ns,
            expected.p99_ns,
            expected.p999_ns,
            expected.max_ns,
            expected.mean_ns
        ),
    );
    assert_eq!(got.histogram, expected.histogram, "the merged distribution is the union's, bucket for bucket");
    let sum = |f: fn(&BenchResult) -> u64| own.iter().map(f).sum::<u64>();
    assert_eq!(merged.outcomes.attempts, sum(|r| r.outcomes.attempts));
    assert_eq!(merged.outcomes.successes, 3 * REQUESTS);
    assert_eq!(merged.wire.as_ref().map(|w| w.bytes_sent), Some(sum(|r| r.wire.as_ref().map_or(0, |w| w.bytes_sent))));

    let info = merged.merged.as_ref().expect("the merge's workers");
    assert_eq!(info.workers.iter().map(|w| w.late).collect::<Vec<_>>(), [false, false, true], "{info:#?}");
    for (w, r) in info.workers.iter().zip(&own) {
        let clock = r.wall_clock.as_ref().expect("each worker records its wall clock");
        let requested = clock.requested_start_unix_ns.expect("each worker records --start-at");
        assert!(clock.start_unix_ns >= requested, "a worker starts no sooner than asked: {clock:?}");
        assert_eq!(
            (w.start_unix_ns, w.successes, w.p99_ns),
            (clock.start_unix_ns, REQUESTS, r.latency.as_ref().map(|l| l.p99_ns))
        );
    }
    drop(server);
}

#[test]
fn merge_refuses_missing_corrupt_and_mismatched_files_with_exit_2() {
    let dir = TempDir::new("merge-refusals");
    let missing = dir.0.join("missing.json");
    let (code, _, err) = rpycbench(&["merge", path_arg(&missing)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing.json"), "{err}");

    let corrupt = dir.0.join("corrupt.json");
    std::fs::write(&corrupt, "{\"schema\": \"rpycbench/results/v1\", \"results\": [").expect("write");
    let (code, _, err) = rpycbench(&["merge", path_arg(&corrupt)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("corrupt.json is not a valid rpycbench result file"), "{err}");

    // Two workers of another method: made from one real worker file.
    let server = start_server(ServerMode::Threaded);
    let addr = server.addr().to_string();
    let mut w = worker(&dir.0, &addr, 0, &unix_seconds_from_now(Duration::ZERO));
    assert!(common::exit_within(&mut w.0, Duration::from_secs(60), "worker").success());
    drop(server);
    let ping = dir.0.join("w0.json");
    let mut set = ResultSet::load(&ping).expect("a worker file");
    set.results[0].params.insert("method".into(), "echo".into());
    let echo = dir.0.join("echo.json");
    set.save(&echo).expect("write");
    let (code, _, err) = rpycbench(&["merge", path_arg(&ping), path_arg(&echo)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the method") && err.contains("same target"), "{err}");
}

#[test]
fn a_start_in_the_past_is_refused_before_connecting() {
    let closed = ClosedPort::new();
    let addr = closed.addr().to_string();
    let (code, _, err) =
        rpycbench(&["bench", "latency", "--connect", &addr, "--call", "ping", "--start-at", "2020-01-01T00:00:00Z"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--start-at 2020-01-01T00:00:00.000Z is") && err.contains("in the past"), "{err}");
}
