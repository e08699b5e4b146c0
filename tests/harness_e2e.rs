//! End to end: a downstream crate (tests/downstream/fixture) is built in a temporary
//! directory against this rpycbench and run as its users run it — its test binary
//! directly, through `cargo test`, and through cargo-nextest — checking exit statuses
//! and output for each outcome: passed, SLA violated, regressed, baseline missing and
//! baseline corrupt.
//!
//! The fixture shares the workspace's target directory, so only the fixture itself is
//! compiled, once for all the tests here.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// Longest any one run of a built binary may take; a hang fails the test instead of
/// blocking CI.
const TIMEOUT: Duration = Duration::from_secs(300);
/// Longest a cargo command that compiles may take: on a loaded 2-core machine it may
/// also wait for another test's build to release cargo's lock.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// Exit statuses documented by the harness.
const EXIT_SLA_VIOLATED: i32 = 10;
const EXIT_REGRESSED: i32 = 11;
const EXIT_BASELINE_MISSING: i32 = 12;
const EXIT_BASELINE_UNUSABLE: i32 = 13;
const EXIT_FAILED: i32 = 101;

/// The built fixture: its directory and its benchmark binary.
struct Fixture {
    dir: PathBuf,
    binary: PathBuf,
}

/// What a command did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("--- stdout ---\n{}\n--- stderr ---\n{}", self.stdout, self.stderr)
    }

    fn assert_code(&self, code: i32) {
        assert_eq!(self.code, code, "unexpected exit status\n{}", self.all());
    }

    fn assert_contains(&self, needle: &str) {
        assert!(self.all().contains(needle), "output lacks {needle:?}\n{}", self.all());
    }
}

/// The workspace's target directory (shared, so nothing but the fixture is rebuilt).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).filter(|d| d.is_absolute()) {
        return dir;
    }
    // This test runs as <target>/<profile>/deps/harness_e2e-<hash>.
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors().nth(3).map(Path::to_path_buf).unwrap_or_else(|| Path::new(REPO).join("target"))
}

/// The `rpycbench` binary of this build. Built here if `cargo test` did not build it
/// (it does with `--workspace`), never with `cargo run`, which would relink it while
/// other tests run it.
fn rpycbench_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            // This test runs as <target>/<profile>/deps/harness_e2e-<hash>.
            let exe = std::env::current_exe().expect("current exe");
            let binary = exe.ancestors().nth(2).expect("the profile directory").join("rpycbench");
            if !binary.is_file() {
                let mut build = cargo();
                build.current_dir(REPO).args([
                    "build",
                    "--offline",
                    "-q",
                    "-p",
                    "rpycbench",
                    "--features",
                    "cli",
                    "--bin",
                    "rpycbench",
                ]);
                run_within(build, BUILD_TIMEOUT).assert_code(0);
            }
            binary
        })
        .clone()
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.env("CARGO_TARGET_DIR", target_dir());
    cmd
}

/// The fixture crate lives in one stable directory, so reruns reuse its build instead
/// of piling up copies.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = downstream_crate("fixture", "rpycbench-e2e-fixture", &["tests/benches.rs", ".config/nextest.toml"]);
        let built = build_tests(&dir);
        Fixture { binary: executable(&built, "benches", true), dir }
    })
}

/// A crate of `tests/downstream/NAME` (its `Cargo.toml.in` pointed at this rpycbench)
/// with `files`, copied by [`copy_crate`] under `crate_name`.
fn downstream_crate(name: &str, crate_name: &str, files: &[&str]) -> PathBuf {
    let src = Path::new(REPO).join("tests/downstream").join(name);
    let manifest = std::fs::read_to_string(src.join("Cargo.toml.in")).unwrap();
    let manifest = manifest.replace("@RPYCBENCH@", &Path::new(REPO).join("rpycbench").display().to_string());
    copy_crate(&src, crate_name, &manifest, files)
}

/// `cargo test --no-run` in `dir`: its test binaries, and the crate's binaries that
/// integration tests get built with.
fn build_tests(dir: &Path) -> Run {
    let mut build = cargo();
    build.current_dir(dir).args(["test", "--no-run", "--offline", "--message-format=json-render-diagnostics"]);
    let run = run_within(build, BUILD_TIMEOUT);
    run.assert_code(0);
    run
}

/// The executable of target `name` in a build's JSON messages: its test build or not.
fn executable(built: &Run, name: &str, test: bool) -> PathBuf {
    built
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["target"]["name"] == name && m["profile"]["test"] == test)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("no {name} executable in cargo's output\n{}", built.all()))
}

/// Copies a crate's `files` and `manifest` to a stable directory under cargo's temporary
/// directory for integration tests, with the workspace's lock file: the same
/// dependency versions, so nothing is resolved anew (or fetched) and the shared build
/// artifacts match.
fn copy_crate(src: &Path, name: &str, manifest: &str, files: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    write_if_changed(&dir.join("Cargo.toml"), manifest);
    write_if_changed(&dir.join("Cargo.lock"), &std::fs::read_to_string(Path::new(REPO).join("Cargo.lock")).unwrap());
    for file in files {
        write_if_changed(&dir.join(file), &std::fs::read_to_string(src.join(file)).unwrap());
    }
    dir
}

/// Writes only what changed (atomically), so cargo does not rebuild an unchanged
/// fixture and concurrent test processes never see half a file.
fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        return;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Runs `cmd` to completion (or kills it after [`TIMEOUT`]), capturing its output.
fn run(cmd: Command) -> Run {
    run_within(cmd, TIMEOUT)
}

/// Runs `cmd` to completion (or kills it after `timeout`), capturing its output.
fn run_within(mut cmd: Command, timeout: Duration) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run { code: status.code().unwrap_or(-1), stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// The fixture's benchmark binary with `args`, baselines in `baselines`.
fn bench(args: &[&str], baselines: &Path, envs: &[(&str, &str)]) -> Run {
    let f = fixture();
    let mut cmd = Command::new(&f.binary);
    cmd.current_dir(&f.dir).args(args).env("RPYCBENCH_BASELINE_DIR", baselines).env("CARGO_MANIFEST_DIR", &f.dir);
    for var in [
        "RPYCBENCH_QUICK",
        "RPYCBENCH_BASELINE",
        "RPYCBENCH_SAVE_BASELINE",
        "RPYCBENCH_INCONCLUSIVE",
        "E2E_SLOWDOWN",
        "E2E_EXTRA_ROUND_TRIP",
        "GITHUB_STEP_SUMMARY",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().copied());
    run(cmd)
}

/// Tests that measure time take this exclusively, so the others' benchmarks do not load
/// the machine meanwhile (a 2× slowdown must not hide in noise, nor an identical rerun
/// look slower); every other test holds it shared.
static MACHINE: RwLock<()> = RwLock::new(());

fn quiet_machine() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().unwrap_or_else(|e| e.into_inner())
}

fn shared_machine() -> RwLockReadGuard<'static, ()> {
    MACHINE.read().unwrap_or_else(|e| e.into_inner())
}

/// A fresh baseline directory, removed when dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_baselines(tag: &str) -> TempDir {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rpycbench-e2e-baselines-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    TempDir(dir)
}

#[test]
fn a_met_sla_passes_under_cargo_test() {
    let _machine = shared_machine();
    let f = fixture();
    let mut cmd = cargo();
    cmd.current_dir(&f.dir).args(["test", "--offline", "--test", "benches", "--", "--exact", "ping[threaded]"]);
    let baselines = temp_baselines("cargo-test");
    cmd.env("RPYCBENCH_BASELINE_DIR", &*baselines);
    // Results of an earlier run must not stand in for this one's.
    let results = target_dir().join("rpycbench/rpycbench-e2e-fixture/benches.json");
    let _ = std::fs::remove_file(&results);
    let run = run_within(cmd, BUILD_TIMEOUT);
    run.assert_code(0);
    run.assert_contains("test ping[threaded] ... ok");
    run.assert_contains("ping[threaded]: p50 ");
    run.assert_contains("benchmarks run one at a time");
    let text = std::fs::read_to_string(&results).expect("results file");
    assert!(text.contains("\"rpycbench/results/v1\"") && text.contains("ping[threaded]"), "{text}");
}

#[test]
fn a_violated_sla_fails_with_the_statistic_value_bound_server_and_sample() {
    let _machine = shared_machine();
    let dir = temp_baselines("sla");
    std::fs::create_dir_all(&*dir).unwrap();
    let summary = dir.join("step-summary.md");
    let run =
        bench(&["--exact", "slow_service[threaded]"], &dir, &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())]);
    run.assert_code(EXIT_SLA_VIOLATED);
    run.assert_contains("test slow_service[threaded] ... FAILED");
    let line =
        run.stdout.lines().find(|l| l.starts_with("SLA violated: p99 = ")).unwrap_or_else(|| panic!("{}", run.all()));
    // e.g. `SLA violated: p99 = 5.21 ms > 1.00 ms (slow_service[threaded], 20 requests)`
    let measured: f64 = line["SLA violated: p99 = ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!(measured >= 5.0, "{line}");
    assert!(line.ends_with(" ms > 1.00 ms (slow_service[threaded], 20 requests)"), "{line}");
    run.assert_contains("1 SLA violated (slow_service[threaded])");
    let md = std::fs::read_to_string(&summary).expect("the step summary");
    // The reports' Markdown table: escaped names, one unit per latency column.
    assert!(md.contains("| slow\\_service\\[threaded\\] | SLA violated: p99 = "), "{md}");
    assert!(md.contains("| p50 (ms) | p99 (ms) | mean (ms) |"), "{md}");

    // Quick mode reports it, but does not fail.
    let quick = bench(&["--exact", "slow_service[threaded]", "--quick"], &temp_baselines("sla-quick"), &[]);
    quick.assert_code(0);
    quick.assert_contains("quick mode, not enforced: SLA violated: p99");
}

#[test]
fn a_2x_slowdown_against_a_saved_baseline_regresses_and_a_rerun_passes() {
    let _machine = quiet_machine();
    let dir = temp_baselines("regression");
    let only = ["--exact", "sleepy[threaded]"];
    let save = bench(&[&only[..], &["--save-baseline", "main"]].concat(), &dir, &[]);
    save.assert_code(0);
    save.assert_contains("saved baseline 'main'");
    let file = std::fs::read_to_string(dir.join("main.json")).expect("baseline file");
    let json: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(json["schema"], "rpycbench/baseline/v1");
    assert_eq!(json["results"]["schema"], "rpycbench/results/v1");
    assert!(!json["machine_fingerprint"].as_str().unwrap().is_empty());
    assert_eq!(json["build_profile"], "debug");
    assert!(json["results"]["results"][0]["latency"]["histogram"].as_str().unwrap().len() > 10);

    let slower = bench(
        &only,
        &dir,
        &[("RPYCBENCH_BASELINE", "main"), ("RPYCBENCH_SAVE_BASELINE", "slower"), ("E2E_SLOWDOWN", "2")],
    );
    slower.assert_code(EXIT_REGRESSED);
    slower.assert_contains("test sleepy[threaded] ... FAILED");
    // e.g. `regressed: p50 = 60.53 ms vs 30.48 ms in baseline 'main', +92.2 % (95 % CI +91.5 % to
    // +92.8 %) > threshold 10 % (sleepy[threaded], 40 requests)`
    let line = slower
        .stdout
        .lines()
        .find(|l| l.starts_with("regressed: p50 = "))
        .unwrap_or_else(|| panic!("{}", slower.all()));
    assert!(
        line.contains(" in baseline 'main', +") && line.ends_with("> threshold 10 % (sleepy[threaded], 40 requests)"),
        "{line}"
    );
    slower.assert_contains("REGRESSED (threshold 10 %)");
    slower.assert_contains("1 regressed (sleepy[threaded])");

    let same = bench(&[&only[..], &["--baseline", "main"]].concat(), &dir, &[]);
    same.assert_code(0);
    same.assert_contains("test sleepy[threaded] ... ok");
    same.assert_contains("vs baseline 'main': p50 ");
    assert!(!same.all().contains("REGRESSED"), "{}", same.all());

    // A baseline from another machine and build still compares, with loud warnings.
    let mut other: serde_json::Value = serde_json::from_str(&file).unwrap();
    let env = &mut other["results"]["results"][0]["environment"];
    env["build_profile"] = "release".into();
    env["cpu_model"] = "Another CPU".into();
    std::fs::write(dir.join("other.json"), other.to_string()).unwrap();
    let warned = bench(&[&only[..], &["--baseline", "other"]].concat(), &dir, &[]);
    warned.assert_code(0);
    warned.assert_contains("WARNING: comparing results from different machines");
    warned.assert_contains("WARNING: comparing a debug build with a release baseline");

    // `rpycbench compare` says the same about the two files.
    let compare = |old: &str, new: &str| {
        let mut cmd = Command::new(rpycbench_binary());
        cmd.current_dir(REPO).arg("compare").arg(dir.join(old)).arg(dir.join(new));
        run(cmd)
    };
    let cli = compare("main.json", "slower.json");
    cli.assert_code(EXIT_REGRESSED);
    cli.assert_contains("sleepy[threaded]: p50 ");
    cli.assert_contains("summary: 1 regressed");
    compare("main.json", "main.json").assert_code(0);
}

#[test]
fn one_more_round_trip_per_request_regresses_at_the_same_latency() {
    let _machine = quiet_machine();
    let dir = temp_baselines("wire");
    let only = ["--exact", "chatty[threaded]"];
    bench(&[&only[..], &["--save-baseline", "main"]].concat(), &dir, &[]).assert_code(0);
    let more = bench(
        &only,
        &dir,
        &[("RPYCBENCH_BASELINE", "main"), ("RPYCBENCH_SAVE_BASELINE", "more"), ("E2E_EXTRA_ROUND_TRIP", "1")],
    );
    more.assert_code(EXIT_REGRESSED);
    more.assert_contains("test chatty[threaded] ... FAILED");
    more.assert_contains("regressed: round trips per request 1 → 2: REGRESSED vs baseline 'main' (chatty[threaded])");
    // The latency itself (30 ms, plus a ping's few µs) did not cross the threshold.
    let p50 = more
        .stdout
        .lines()
        .find(|l| l.contains("vs baseline 'main': p50 "))
        .unwrap_or_else(|| panic!("{}", more.all()));
    assert!(!p50.contains("REGRESSED"), "{p50}");

    let mut cmd = Command::new(rpycbench_binary());
    cmd.current_dir(REPO).arg("compare").arg(dir.join("main.json")).arg(dir.join("more.json"));
    let cli = run(cmd);
    cli.assert_code(EXIT_REGRESSED);
    cli.assert_contains("chatty[threaded]: round trips per request 1 → 2: REGRESSED");
}

#[test]
fn missing_and_corrupt_baselines_are_distinct_errors() {
    let _machine = shared_machine();
    let dir = temp_baselines("errors");
    let missing = bench(&["--exact", "ping[threaded]", "--baseline", "nope"], &dir, &[]);
    missing.assert_code(EXIT_BASELINE_MISSING);
    missing.assert_contains("baseline missing: baseline 'nope' not found");
    let lenient = bench(&["--exact", "ping[threaded]", "--baseline", "nope", "--baseline-lenient"], &dir, &[]);
    lenient.assert_code(0);

    std::fs::create_dir_all(&*dir).unwrap();
    let corrupt = dir.join("broken.json");
    let garbage = "{ \"schema\": \"rpycbench/baseline/v1\", \"results\": [1, 2";
    std::fs::write(&corrupt, garbage).unwrap();
    let read = bench(&["--exact", "ping[threaded]", "--baseline", "broken"], &dir, &[]);
    read.assert_code(EXIT_BASELINE_UNUSABLE);
    read.assert_contains("is corrupt");
    let save = bench(&["--exact", "ping[threaded]", "--save-baseline", "broken"], &dir, &[]);
    save.assert_code(EXIT_BASELINE_UNUSABLE);
    save.assert_contains("refusing to save baseline 'broken'");
    assert_eq!(std::fs::read_to_string(&corrupt).unwrap(), garbage, "the corrupt file must be left as it was");

    std::fs::write(dir.join("future.json"), r#"{"schema": "rpycbench/baseline/v2"}"#).unwrap();
    let future = bench(&["--exact", "ping[threaded]", "--baseline", "future"], &dir, &[]);
    future.assert_code(EXIT_BASELINE_UNUSABLE);
    future.assert_contains("has schema \"rpycbench/baseline/v2\"");
}

#[test]
fn a_server_that_cannot_start_fails_with_its_stderr() {
    let _machine = shared_machine();
    let name = "broken_server[python:no_such_module:Service]";
    let run = bench(&["--ignored", "--exact", name], &temp_baselines("broken"), &[]);
    run.assert_code(EXIT_FAILED);
    run.assert_contains(&format!("test {name} ... FAILED"));
    run.assert_contains("server did not start");
    if std::env::var_os("RPYCBENCH_PYTHON").is_some() {
        // The Python launcher's own words, from its stderr.
        run.assert_contains("cannot import service no_such_module:Service");
    }
    run.assert_contains(&format!("1 could not run ({name})"));

    let external =
        bench(&["--ignored", "--exact", "staging[external:E2E_NO_SUCH_SERVER]"], &temp_baselines("ext"), &[]);
    external.assert_code(EXIT_FAILED);
    external.assert_contains("environment variable E2E_NO_SUCH_SERVER is not set");
}

/// `#[rpyc_bench(remote = "E2E_REMOTE")]` in a downstream crate: unset, its servers run
/// here and the output says so; set (against a real sshd on 127.0.0.1), they run on
/// that host (the built-in service, and the crate's own Rust service served by a copy of
/// its benchmark binary), the benchmarks pass, and nothing of them is left there.
#[test]
fn a_remote_benchmark_runs_where_its_variable_says() {
    let _machine = shared_machine();
    let local = bench(&["--ignored", "--exact", "remote_ping[threaded]"], &temp_baselines("remote-local"), &[]);
    local.assert_code(0);
    local.assert_contains("E2E_REMOTE is not set: its server runs on this machine");

    let Some(sshd) = support::sshd::Sshd::start("e2e") else { return };
    let options = sshd.ssh_options_env();
    // The remote is this machine: its interpreter with rpyc is the one the tests use.
    let python = support::python().display().to_string();
    let envs = [
        ("E2E_REMOTE", "root@127.0.0.1"),
        ("RPYCBENCH_REMOTE_SSH_OPTIONS", options.as_str()),
        ("RPYCBENCH_REMOTE_PYTHON", python.as_str()),
    ];
    let remote = bench(&["--ignored", "remote_"], &temp_baselines("remote"), &envs);
    remote.assert_code(0);
    let tests =
        ["remote_ping[threaded]", "remote_ping[forking]", "remote_ping[python-threaded]", "remote_greet[rust:greeter]"];
    for test in tests {
        remote.assert_contains(&format!("{test}: server on root@127.0.0.1 (pid "));
        let passed = remote.stdout.lines().any(|l| l.starts_with(&format!("test {test} ")) && l.ends_with("... ok"));
        assert!(passed, "{test} did not pass\n{}", remote.all());
    }
    remote.assert_contains("reached through an SSH tunnel");
    assert!(!remote.all().contains("is not set"), "{}", remote.all());
    assert!(sshd.cached_binaries_running().is_empty(), "left on the remote: {:?}", sshd.cached_binaries_running());
    // The Python server ran the launcher the binary staged in the remote's cache.
    let python_cache = sshd.path("home/.cache/rpycbench");
    let python_left = processes_naming(&python_cache.display().to_string());
    assert!(python_left.is_empty(), "Python servers left on the remote: {python_left:?}");
    let entries: Vec<String> = std::fs::read_dir(&python_cache)
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    let copies = entries.iter().filter(|e| !e.starts_with("python-")).count();
    assert_eq!(copies, 1, "the benchmark binary was copied there once: {entries:?}");
    assert!(entries.iter().any(|e| e.starts_with("python-")), "no launcher staged there: {entries:?}");
}

/// Live processes whose command line mentions `needle`.
fn processes_naming(needle: &str) -> Vec<u32> {
    support::sshd::live_pids(|pid| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmdline).contains(needle)
    })
}

#[test]
fn list_terse_names_every_benchmark() {
    let _machine = shared_machine();
    let run = bench(&["--list", "--format", "terse"], &temp_baselines("list"), &[]);
    run.assert_code(0);
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    lines.sort_unstable();
    let expected = [
        "broken_server[python:no_such_module:Service]: test",
        "chatty[threaded]: test",
        "ping[threaded]: test",
        "remote_greet[rust:greeter]: test",
        "remote_ping[forking]: test",
        "remote_ping[python-threaded]: test",
        "remote_ping[threaded]: test",
        "sleepy[threaded]: test",
        "slow_service[threaded]: test",
        "staging[external:E2E_NO_SUCH_SERVER]: test",
    ];
    assert_eq!(lines, expected, "{}", run.all());
    let ignored = bench(&["--list", "--format", "terse", "--ignored"], &temp_baselines("list"), &[]);
    assert_eq!(ignored.stdout.lines().count(), 6, "{}", ignored.all());
    // Flags that do not apply are accepted, as IDEs and runners pass them.
    let run =
        bench(&["--list", "--nocapture", "--test-threads", "4", "-Zunstable-options"], &temp_baselines("list"), &[]);
    run.assert_code(0);
}

#[test]
fn cargo_nextest_runs_each_benchmark_in_its_own_process() {
    let _machine = shared_machine();
    let probe = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        println!("NOTICE: cargo-nextest is not installed; skipping (install it with `cargo install cargo-nextest`)");
        return;
    }
    let f = fixture();
    let mut cmd = cargo();
    cmd.current_dir(&f.dir).args(["nextest", "run", "--offline", "--no-fail-fast", "-E", "not test(slow_service)"]);
    let baselines = temp_baselines("nextest");
    cmd.env("RPYCBENCH_BASELINE_DIR", &*baselines).env_remove("E2E_SLOWDOWN");
    let run = run(cmd);
    run.assert_code(0);
    run.assert_contains("PASS");
    run.assert_contains("ping[threaded]");
    run.assert_contains("sleepy[threaded]");
    run.assert_contains("3 tests run: 3 passed");
}

#[test]
fn the_sla_gate_example_passes() {
    let _machine = shared_machine();
    let src = Path::new(REPO).join("examples/sla_gate");
    let manifest = std::fs::read_to_string(src.join("Cargo.toml")).unwrap();
    let path = Path::new(REPO).join("rpycbench");
    let manifest = manifest.replace("path = \"../../rpycbench\"", &format!("path = {:?}", path.display().to_string()));
    let dir = copy_crate(&src, "rpycbench-e2e-sla-gate", &manifest, &["tests/rpyc_benches.rs", ".config/nextest.toml"]);
    let mut cmd = cargo();
    cmd.current_dir(&dir).args(["test", "--offline", "--test", "rpyc_benches"]);
    let baselines = temp_baselines("example");
    cmd.env("RPYCBENCH_BASELINE_DIR", &*baselines);
    let run = run(cmd);
    run.assert_code(0);
    for test in ["ping[threaded]", "lookup[rust:inventory]", "lookup_under_load[rust-forking:inventory]"] {
        run.assert_contains(&format!("test {test}"));
    }
    run.assert_contains("4 passed; 0 failed");
}

/// The library in a crate of the user's own (tests/downstream/library): docs/library.md's
/// example as its `main`, and a plain `#[test]` under libtest's `main`, each starting
/// native servers (and, in the test, the HTTP baseline, a feature) — with no `rpycbench` binary anywhere: both are copied out of the build
/// tree and run with a `PATH` that has none, so they serve from themselves.
#[test]
fn library_mode_starts_native_servers_from_the_users_own_binaries() {
    let _machine = shared_machine();
    let dir = downstream_crate("library", "rpycbench-library-fixture", &["src/main.rs", "tests/servers.rs"]);
    let built = build_tests(&dir);
    let away = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("library-run-{}", std::process::id()));
    std::fs::create_dir_all(&away).unwrap();
    let copy = |from: PathBuf, to: &str| {
        let to = away.join(to);
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        to
    };
    let main = copy(executable(&built, "rpycbench-library-fixture", false), "app");
    let test = copy(executable(&built, "servers", true), "servers-test");
    let alone = |program: &Path| {
        let mut cmd = Command::new(program);
        cmd.current_dir(&away).env("PATH", "/usr/bin:/bin").env_remove("RPYCBENCH_BIN");
        run(cmd)
    };
    let app = alone(&main);
    app.assert_code(0);
    app.assert_contains("p50 ");
    let tests = alone(&test);
    tests.assert_code(0);
    tests.assert_contains("2 passed");
    let _ = std::fs::remove_dir_all(&away);
}
