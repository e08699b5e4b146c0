//! The Kubernetes deployment (deploy/): the manifests are valid against the Kubernetes
//! API's schema, checked offline with `kubernetes-validate` (a PyPI package that ships
//! the schemas), and deploy/run-local.sh runs the Jobs' own command lines as local
//! processes against one `rpycbench serve` and merges them.
//!
//! Both need a Python with `kubernetes-validate` (and so PyYAML): `$RPYCBENCH_K8S_PYTHON`
//! (set by scripts/test, which makes `.venv-k8s`), else the workspace's `.venv-k8s`.
//! Without either, the tests say why on stderr and pass without checking.

mod common;
use common::{start_server, KillOnDrop, TempDir};

use rpycbench::metrics::ResultSet;
use rpycbench::server::ServerMode;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const MANIFESTS: [&str; 2] = ["deploy/k8s/indexed-job.yaml", "deploy/k8s/merge-job.yaml"];

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The Python with kubernetes-validate, or `None` (and why, on stderr) when there is none.
fn k8s_python() -> Option<PathBuf> {
    let python = std::env::var_os("RPYCBENCH_K8S_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv-k8s/bin/python"));
    if python.exists() {
        return Some(python);
    }
    eprintln!(
        "skipped: no {} (run scripts/test, which makes .venv-k8s with kubernetes-validate, or set RPYCBENCH_K8S_PYTHON)",
        python.display()
    );
    None
}

/// Runs `kubernetes-validate --strict` (the console script beside `python`) on `files`.
fn validate(python: &Path, files: &[PathBuf]) -> (bool, String) {
    let validator = python.with_file_name("kubernetes-validate");
    let out = Command::new(&validator)
        .arg("--strict")
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", validator.display()));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_kubernetes_manifests_match_the_api_schema_offline() {
    let Some(python) = k8s_python() else { return };
    let files: Vec<PathBuf> = MANIFESTS.iter().map(|m| repo().join(m)).collect();
    let (ok, output) = validate(&python, &files);
    assert!(ok, "the manifests do not validate:\n{output}");
    assert_eq!(output.matches("passed for resource").count(), 3, "a claim and two Jobs:\n{output}");

    // The check can fail: a misspelt field in the Job's spec is refused.
    let dir = TempDir::new("deploy-invalid");
    let broken = dir.0.join("broken.yaml");
    let text = std::fs::read_to_string(&files[0]).expect("read the manifest");
    assert!(text.contains("  parallelism: "), "the Job sets its parallelism");
    std::fs::write(&broken, text.replace("  parallelism: ", "  paralelism: ")).expect("write");
    let (ok, output) = validate(&python, &[broken]);
    assert!(!ok && output.contains("paralelism"), "a misspelt field must fail:\n{output}");
}

#[test]
fn run_local_runs_the_jobs_command_lines_as_processes_and_merges_them() {
    let Some(python) = k8s_python() else { return };
    let server = start_server(ServerMode::Threaded);
    let dir = TempDir::new("deploy-run-local");
    let log = std::fs::File::create(dir.0.join("run-local.log")).expect("create a log file");
    let mut child = KillOnDrop(
        Command::new("bash")
            .arg(repo().join("deploy/run-local.sh"))
            .args(["--connect", &server.addr().to_string(), "--start-in", "4", "DURATION=1s", "--out"])
            .arg(&dir.0)
            .env("RPYCBENCH", env!("CARGO_BIN_EXE_rpycbench"))
            .env("PYTHON", &python)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("run deploy/run-local.sh"),
    );
    let status = common::exit_within(&mut child.0, Duration::from_secs(120), "deploy/run-local.sh");
    let log = std::fs::read_to_string(dir.0.join("run-local.log")).unwrap_or_default();
    assert!(status.success(), "run-local.sh failed ({status}):\n{log}");
    // The workers ran what the manifest says, with their index in the file name.
    assert!(log.contains("JOB_COMPLETION_INDEX=2") && log.contains("worker-2.json"), "{log}");

    let workers: Vec<ResultSet> =
        (0..3).map(|i| ResultSet::load(&dir.0.join(format!("worker-{i}.json"))).expect("a worker's file")).collect();
    let merged = ResultSet::load(&dir.0.join("merged.json")).expect("the merged file");
    let [m] = merged.results.as_slice() else { panic!("one merged result, got {}", merged.results.len()) };
    let info = m.merged.as_ref().expect("a merged result");
    assert_eq!(info.workers.len(), 3);
    let successes: u64 = workers.iter().map(|w| w.results[0].outcomes.successes).sum();
    assert_eq!(m.outcomes.successes, successes);
    let requested: Vec<Option<u64>> = info.workers.iter().map(|w| w.requested_start_unix_ns).collect();
    assert!(requested[0].is_some() && requested.iter().all(|r| *r == requested[0]), "one shared start: {requested:?}");
    drop(server);
}
