//! A real Python client cannot tell the native servers from Python's: one `rpyc==6.0.2`
//! client script (`tests/python/parity_probes.py`, several hundred probes in the
//! patterns of rpyc's documentation) runs against a Python `ThreadedServer` serving the
//! twin service and against the native threaded and forking servers, and every probe
//! must come out the same, value for value, exception class, arguments, text and
//! traceback shape alike.
//!
//! The `stall.` probes count calls of 30 ms or more (Nagle meeting a delayed ACK, on
//! a default client without `TCP_NODELAY`): a Python server has some, the native ones
//! must have none. A stall comes back on every call of its pattern; a loaded machine
//! delays the odd call anywhere, so a pattern counts as stalling only when a third of
//! its calls stall in two runs, and a run whose control pattern (`ping`, which cannot
//! stall) was as slow says the machine, not the server, was slow: that check is then
//! reported as ignored with the counts, as it is on a machine where even Python's
//! server shows no stall (nothing to tell a stall by).

mod common;

use common::preconditions;
use rpycbench::server::{ServerHandle, ServerMode};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::OnceLock;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/python/parity_probes.py");
const STALL: &str = "stall.";

/// Probe name → its outcome as JSON text.
type Outcomes = BTreeMap<String, String>;

/// Runs the probes (those starting with `only`, if given) against `server`.
fn probe(server: &ServerHandle, only: Option<&str>) -> Outcomes {
    let mut cmd = Command::new(common::python());
    cmd.arg(SCRIPT).arg(server.addr().port().to_string());
    if let Some(prefix) = only {
        cmd.args(["--only", prefix]);
    }
    let out = cmd.output().expect("run the parity probes");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the probe script failed ({}):\n{stderr}", out.status);
    String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            (v["probe"].as_str().expect("a probe name").to_owned(), v["result"].to_string())
        })
        .collect()
}

/// What the Python server answers, once for every test here.
fn reference() -> &'static Outcomes {
    static REFERENCE: OnceLock<Outcomes> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let server = common::start_server(ServerMode::PythonThreaded);
        let outcomes = probe(&server, None);
        server.stop().expect("stop the Python server");
        outcomes
    })
}

/// What a native server answers (probes run once per mode).
fn native(mode: ServerMode) -> &'static Outcomes {
    static THREADED: OnceLock<Outcomes> = OnceLock::new();
    static FORKING: OnceLock<Outcomes> = OnceLock::new();
    let cell = if mode == ServerMode::Forking { &FORKING } else { &THREADED };
    cell.get_or_init(|| {
        let server = common::start_server(mode);
        let outcomes = probe(&server, None);
        server.stop().expect("stop the native server");
        outcomes
    })
}

fn answers_as_python(mode: ServerMode) {
    let (python, ours) = (reference(), native(mode));
    assert!(python.len() > 800, "only {} probes ran against the Python server", python.len());
    let mut differences = Vec::new();
    for (name, expected) in python.iter().filter(|(n, _)| !n.starts_with(STALL)) {
        match ours.get(name) {
            Some(got) if got == expected => {}
            got => differences.push(format!(
                "{name}\n    python: {}\n    {mode}: {}",
                shortened(expected),
                got.map_or("<missing>", |g| shortened(g))
            )),
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} probes differ between python-threaded and {mode} (the first {SHOWN}; rerun one with \
         `python tests/python/parity_probes.py PORT --only NAME` against `rpycbench serve`):\n{}",
        differences.len(),
        python.len(),
        differences[..differences.len().min(SHOWN)].join("\n")
    );
}

/// Differences shown in a failure: enough to see the pattern, not a wall of text.
const SHOWN: usize = 20;

/// An outcome cut to a readable length (deep tracebacks run to thousands of characters).
fn shortened(outcome: &str) -> &str {
    match outcome.char_indices().nth(400) {
        Some((end, _)) => &outcome[..end],
        None => outcome,
    }
}

fn stall_count(outcomes: &Outcomes, name: &str) -> i64 {
    let text = &outcomes[name];
    let v: serde_json::Value = serde_json::from_str(text).expect("JSON");
    v["value"].as_str().and_then(|s| s.strip_prefix("int:")).and_then(|n| n.parse().ok()).unwrap_or_else(|| {
        panic!("{name} should count slow calls, got {text}");
    })
}

/// Slow calls out of a pattern's 30 that make it a stall: a stall (Nagle meeting a
/// delayed ACK) comes back on every call of its pattern, a busy machine on the odd one.
const STALLING: i64 = 10;

fn never_stalls(mode: ServerMode) {
    // The probe must be able to see a stall here: Python's server stalls on some
    // patterns unless this kernel acknowledges at once.
    let python = reference();
    let worst = python.keys().filter(|n| n.starts_with(STALL)).map(|n| stall_count(python, n)).max().unwrap_or(0);
    preconditions::require(worst >= STALLING, || {
        format!("no pattern stalled on the Python server either (worst {worst} of 30 calls): this machine cannot show a stall")
    });
    let first = native(mode);
    let stalled: Vec<&String> =
        first.keys().filter(|n| n.starts_with(STALL) && stall_count(first, n) >= STALLING).collect();
    if stalled.is_empty() {
        return;
    }
    // Again, to tell a stall (every time) from a slow machine (now and then).
    let server = common::start_server(mode);
    let second = probe(&server, Some(STALL));
    server.stop().expect("stop the native server");
    let again: Vec<String> = stalled
        .iter()
        .filter(|n| stall_count(&second, n) >= STALLING)
        .map(|n| {
            format!("{n}: {} then {} of 30 calls took 30 ms or more", stall_count(first, n), stall_count(&second, n))
        })
        .collect();
    if again.is_empty() {
        return;
    }
    let control = format!("{STALL}ping");
    let noisy = stall_count(first, &control) >= STALLING || stall_count(&second, &control) >= STALLING;
    preconditions::require(!noisy, || {
        format!(
            "the machine was too slow to judge stalls: even ping (which cannot stall) was slow; {}",
            again.join("; ")
        )
    });
    panic!("{mode} stalls a default Python client (Nagle + delayed ACK):\n{}", again.join("\n"));
}

fn native_threaded_answers_as_python_threaded() {
    answers_as_python(ServerMode::Threaded);
}

fn native_forking_answers_as_python_threaded() {
    answers_as_python(ServerMode::Forking);
}

fn native_threaded_never_stalls_a_default_python_client() {
    never_stalls(ServerMode::Threaded);
}

fn native_forking_never_stalls_a_default_python_client() {
    never_stalls(ServerMode::Forking);
}

/// The native objects present tables read off CPython and rpyc: they must be those of
/// the interpreter the Python twin runs on.
fn the_cpython_tables_are_the_interpreters() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new(common::python())
        .args([&format!("{root}/scripts/gen-cpython-tables.py"), "--stdout"])
        .output()
        .expect("run scripts/gen-cpython-tables.py");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let generated = String::from_utf8(out.stdout).expect("UTF-8");
    // A line `==> path` before each file's text.
    let mut files: Vec<(&str, String)> = Vec::new();
    for line in generated.split_inclusive('\n') {
        match (line.strip_prefix("==> "), files.last_mut()) {
            (Some(path), _) => files.push((path.trim_end(), String::new())),
            (None, Some((_, text))) => text.push_str(line),
            (None, None) => panic!("output before the first `==> path` line: {line}"),
        }
    }
    assert_eq!(files.len(), 2, "{generated}");
    for (path, text) in files {
        let committed = std::fs::read_to_string(format!("{root}/{path}")).unwrap_or_default();
        assert!(text == committed, "{path} is stale: run .venv/bin/python scripts/gen-cpython-tables.py");
    }
}

fn main() {
    preconditions::main(crate::tests![
        the_cpython_tables_are_the_interpreters,
        native_threaded_answers_as_python_threaded,
        native_forking_answers_as_python_threaded,
        native_threaded_never_stalls_a_default_python_client,
        native_forking_never_stalls_a_default_python_client,
    ])
}
