//! Files rpycbench reads and writes outside a benchmark: `report`, `compare` and the
//! relay's `--thresholds` read their inputs with a bound and refuse what is not a regular file; `compare` refuses
//! duplicate names and corrupt histograms and does not call empty runs "no change";
//! the `RPYCBENCH_PROFILE` telemetry is written atomically, a failure to write it is a
//! non-zero exit, and temporary files of dead writers are cleaned. The real binary, on
//! real result files measured against a real server.

mod common;

use rpycbench::bench::{Latency, Target};
use rpycbench::metrics::ResultSet;
use rpycbench::server::ServerMode;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_rpycbench");

/// Two real latency results ("a" and "b") against a native threaded server.
fn measured() -> &'static ResultSet {
    static SET: OnceLock<ResultSet> = OnceLock::new();
    SET.get_or_init(|| {
        let server = common::native_spec(ServerMode::Threaded).start().expect("start a threaded server");
        let target = Target::server(&server);
        let ping = |c: &mut rpycbench::Connection| c.call("ping", ()).map(drop);
        let mut set = ResultSet::new();
        for name in ["a", "b"] {
            set.push(Latency::new(name).requests(60).warmup(2).sample_system(false).run(&target, ping));
        }
        server.stop().expect("stop the server");
        set
    })
}

/// A scratch directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("input-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn save(&self, name: &str, set: &ResultSet) -> PathBuf {
        let path = self.0.join(name);
        set.save(&path).expect("save a result file");
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary (killed, and the test failed, past 30 s).
fn rpycbench(args: &[&std::ffi::OsStr], env: &[(&str, &std::ffi::OsStr)], dir: &Path) -> Run {
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(std::fs::File::create(&out).unwrap()).stderr(std::fs::File::create(&err).unwrap());
    let mut child = cmd.spawn().expect("run rpycbench");
    let status = common::exit_within(&mut child, Duration::from_secs(30), &format!("rpycbench {args:?}"));
    let run = Run {
        code: status.code(),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    };
    assert!(!run.stderr.contains("panicked"), "rpycbench {args:?} panicked:\n{}", run.stderr);
    run
}

fn os(s: &(impl AsRef<std::ffi::OsStr> + ?Sized)) -> &std::ffi::OsStr {
    s.as_ref()
}

/// `compare`'s exit status for a file that is corrupt, of an unknown schema or unreadable.
const EXIT_BAD_FILE: i32 = 13;

#[test]
fn devices_fifos_and_oversized_files_are_refused_at_once() {
    let d = Dir::new("bounds");
    let good = d.save("good.json", measured());
    let fifo = d.0.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    // Sparse: 257 MiB long, no data written.
    let huge = d.0.join("huge.json");
    std::fs::File::create(&huge).unwrap().set_len(257 << 20).unwrap();
    for (bad, says) in [
        (Path::new("/dev/zero"), "a character device"),
        (fifo.as_path(), "a FIFO"),
        (huge.as_path(), "larger than 256 MiB"),
        (d.0.as_path(), "a directory"),
    ] {
        let started = std::time::Instant::now();
        let compare = rpycbench(&[os("compare"), os(&good), os(bad)], &[], &d.0);
        assert_eq!(compare.code, Some(EXIT_BAD_FILE), "compare {}: {}", bad.display(), compare.stderr);
        assert!(compare.stderr.contains(says) && compare.stderr.contains(bad.to_str().unwrap()), "{}", compare.stderr);
        let report = rpycbench(&[os("report"), os(bad)], &[], &d.0);
        assert_ne!(report.code, Some(0), "report {}", bad.display());
        assert!(report.stderr.contains(says), "report {}: {}", bad.display(), report.stderr);
        let thresholds = rpycbench(
            &[os("proxy"), os("--upstream"), os("127.0.0.1:9"), os("--quiet"), os("--thresholds"), os(bad)],
            &[],
            &d.0,
        );
        assert_ne!(thresholds.code, Some(0), "proxy --thresholds {}", bad.display());
        assert!(thresholds.stderr.contains(says), "proxy --thresholds {}: {}", bad.display(), thresholds.stderr);
        assert!(started.elapsed() < Duration::from_secs(20), "{} took {:?}", bad.display(), started.elapsed());
    }
}

#[test]
fn compare_refuses_a_file_with_a_duplicate_benchmark_name() {
    let d = Dir::new("dup");
    let good = d.save("good.json", measured());
    let mut set = measured().clone();
    let mut again = set.results[0].clone();
    again.latency.as_mut().unwrap().p50_ns *= 3;
    set.push(again);
    let dup = d.save("dup.json", &set);
    let run = rpycbench(&[os("compare"), os(&good), os(&dup)], &[], &d.0);
    assert_eq!(run.code, Some(EXIT_BAD_FILE), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("benchmark \"a\" appears more than once") && run.stderr.contains("dup.json"),
        "{}",
        run.stderr
    );
}

#[test]
fn compare_refuses_a_corrupt_histogram_naming_benchmark_and_file() {
    let d = Dir::new("hist");
    let good = d.save("good.json", measured());
    let mut set = measured().clone();
    set.results[1].latency.as_mut().unwrap().histogram = "SGVsbG8sIGhpc3RvZ3JhbQ==".into();
    let bad = d.save("bad-hist.json", &set);
    let run = rpycbench(&[os("compare"), os(&bad), os(&good)], &[], &d.0);
    assert_eq!(run.code, Some(EXIT_BAD_FILE), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("benchmark \"b\"")
            && run.stderr.contains("histogram")
            && run.stderr.contains("bad-hist.json"),
        "{}",
        run.stderr
    );
}

#[test]
fn runs_that_attempted_nothing_are_not_comparable() {
    let d = Dir::new("zero");
    let mut set = measured().clone();
    for r in &mut set.results {
        r.outcomes.attempts = 0;
        r.outcomes.successes = 0;
        r.outcomes.success_rate = 0.0;
    }
    let empty = d.save("empty.json", &set);
    let good = d.save("good.json", measured());
    for (old, new, which) in [(&empty, &empty, "either run"), (&good, &empty, "the new run")] {
        let run = rpycbench(&[os("compare"), os(old), os(new)], &[], &d.0);
        assert!(
            run.stdout.contains("a: p50 ")
                && run.stdout.contains(&format!("not comparable (no request was attempted in {which})")),
            "{}",
            run.stdout
        );
        assert!(run.stdout.contains("0 unchanged") && run.stdout.contains("2 not comparable"), "{}", run.stdout);
    }
}

/// `rpycbench bench latency` against a real server with `RPYCBENCH_PROFILE=target`.
fn profiled_bench(target: &Path, dir: &Path) -> Run {
    let server = common::native_spec(ServerMode::Threaded).start().expect("start a threaded server");
    let addr = server.addr().to_string();
    let args =
        [os("bench"), os("latency"), os("--connect"), os(&addr), os("--call"), os("ping"), os("--requests"), os("20")];
    let run = rpycbench(&args, &[("RPYCBENCH_PROFILE", target.as_os_str())], dir);
    server.stop().expect("stop the server");
    run
}

#[test]
fn the_profile_telemetry_is_written_atomically_and_a_failure_is_an_error() {
    let d = Dir::new("telemetry");
    let target = d.0.join("telemetry.json");
    // A temporary file of a writer killed before its rename, and one of a live writer.
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let stale = d.0.join(format!(".telemetry.json.{dead_pid}.tmp"));
    let live = d.0.join(format!(".telemetry.json.{}.tmp", std::process::id()));
    std::fs::write(&stale, "").unwrap();
    std::fs::write(&live, "").unwrap();
    let run = profiled_bench(&target, &d.0);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let t: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert!(t["requests_c2s"].as_u64().unwrap() >= 20, "{t}");
    assert!(!stale.exists(), "the dead writer's temporary file is left");
    assert!(live.exists(), "a live writer's temporary file was removed");
    let tmps: Vec<_> = std::fs::read_dir(&d.0)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert_eq!(tmps, [live.file_name().unwrap().to_str().unwrap()], "no temporary file of its own is left");

    // A path that cannot be written (its parent is a file): the run fails.
    let blocker = d.0.join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let run = profiled_bench(&blocker.join("telemetry.json"), &d.0);
    assert_eq!(run.code, Some(1), "an unwritable telemetry file must fail the process:\n{}", run.stderr);
    assert!(run.stderr.contains("cannot write the telemetry"), "{}", run.stderr);
}
