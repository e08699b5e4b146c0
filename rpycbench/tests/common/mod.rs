//! Shared helpers for the conformance tests: locating the protocol reference, reading
//! its JSONL files and comparing reprs that the generator truncated.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;

mod ports;
pub mod preconditions;
pub mod sshd;
#[allow(unused_imports)] // each test binary uses a part
pub use ports::{port_outside_ephemeral_range, ClosedPort};

/// A fresh directory for one test in the temporary directory, removed when dropped
/// (named by the test process and `name`, so tests and binaries running at once never
/// share one).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("rpycbench-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process that printed `listening on ADDR` as its first line (as `rpycbench
/// serve`, `rpycbench proxy` and the Python services of the tests do); killed on drop.
pub struct Listening {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
}

impl Listening {
    /// Starts `cmd` with its stdout piped and reads the readiness line; `what` names it
    /// in a failure.
    pub fn start(mut cmd: std::process::Command, what: &str) -> Listening {
        use std::io::BufRead;
        let mut child =
            cmd.stdout(std::process::Stdio::piped()).spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        // The child prints its address once it listens (or exits, and the read ends).
        let read = std::io::BufReader::new(stdout).read_line(&mut line);
        match (read, line.trim().strip_prefix("listening on ").and_then(|a| a.parse().ok())) {
            (Ok(_), Some(addr)) => Listening { child, addr },
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not say where it listens: {line:?}")
            }
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The protocol reference folder (`shared/rpyc-protocol`).
///
/// `RPYC_PROTOCOL_DIR` wins; otherwise `shared/` sits beside the workspace root, both in
/// the development tree and in CI (a fresh clone with a copy of `shared/` next to it).
/// A missing folder fails the test: skipping would let CI go green without checking
/// anything.
pub fn protocol_dir() -> PathBuf {
    let dir = match std::env::var_os("RPYC_PROTOCOL_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/rpyc-protocol"),
    };
    assert!(
        dir.join("vectors/brine.jsonl").is_file(),
        "RPyC protocol reference not found at {} (expected vectors/brine.jsonl and transcripts/ there).\n\
         Put a copy of shared/rpyc-protocol beside the repository or set RPYC_PROTOCOL_DIR.",
        dir.display()
    );
    dir
}

/// One JSON object per non-empty line.
pub fn read_jsonl(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1)))
        .collect()
}

/// The string field `key` of `obj`.
pub fn field<'a>(obj: &'a serde_json::Value, key: &str) -> &'a str {
    obj[key].as_str().unwrap_or_else(|| panic!("missing string field {key:?} in {obj}"))
}

/// The integer field `key` of `obj`.
pub fn int_field(obj: &serde_json::Value, key: &str) -> i64 {
    obj[key].as_i64().unwrap_or_else(|| panic!("missing integer field {key:?} in {obj}"))
}

/// Decodes the hex string field `key` of `obj`.
pub fn hex_field(obj: &serde_json::Value, key: &str) -> Vec<u8> {
    hex::decode(field(obj, key)).unwrap_or_else(|e| panic!("bad hex in {key:?}: {e}"))
}

/// Checks our repr against the generator's `python` text.
///
/// The generators shorten long reprs: the vectors to `<first 160 chars>...(<N> chars)`,
/// N counting code points, the transcripts to `<first 600 chars>...`. A complete repr
/// never ends in `...` (it ends with a bracket, quote, digit or name), so these forms
/// are unambiguous; ours must start with the prefix and be as long or longer.
pub fn assert_repr_matches(ours: &str, python: &str, what: &str) {
    if let Some((prefix, total)) = truncated_with_count(python) {
        assert!(ours.starts_with(prefix), "{what}: repr prefix differs\n ours: {}\n  py: {prefix}", head(ours));
        assert_eq!(ours.chars().count(), total, "{what}: repr length differs (ours starts {})", head(ours));
    } else if let Some(prefix) = python.strip_suffix("...") {
        assert!(ours.starts_with(prefix), "{what}: repr prefix differs\n ours: {}\n  py: {prefix}", head(ours));
        assert!(ours.len() > prefix.len(), "{what}: Python's repr was longer than ours: {ours}");
    } else {
        assert_eq!(ours, python, "{what}: repr differs");
    }
}

fn truncated_with_count(python: &str) -> Option<(&str, usize)> {
    let body = python.strip_suffix(" chars)")?;
    let (prefix, count) = body.rsplit_once("...(")?;
    Some((prefix, count.parse().ok()?))
}

fn head(s: &str) -> String {
    s.chars().take(200).collect()
}

/// A small deterministic PRNG (xorshift64*), so that failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    /// A value in `1..=max`.
    pub fn chunk(&mut self, max: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        1 + (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % max
    }
}

// ---- Server processes (server_lifecycle.rs, server_hostile.rs) ----

/// A native server of `mode` run from the `rpycbench` binary cargo built for this
/// package, on 127.0.0.1 and an ephemeral port.
pub fn native_spec(mode: rpycbench::server::ServerMode) -> rpycbench::server::ServerSpec {
    rpycbench::server::ServerSpec {
        binary: Some(env!("CARGO_BIN_EXE_rpycbench").into()),
        ..rpycbench::server::ServerSpec::new(mode)
    }
}

/// The Python interpreter with `rpyc==6.0.2`: `$RPYCBENCH_PYTHON` (set by
/// `scripts/test`), else the workspace's `.venv`.
pub fn python() -> std::path::PathBuf {
    std::env::var_os("RPYCBENCH_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python")))
}

/// A server of any mode: native ones from this package's `rpycbench` binary, Python
/// ones with [`python`].
pub fn start_server(mode: rpycbench::server::ServerMode) -> rpycbench::server::ServerHandle {
    let spec = rpycbench::server::ServerSpec {
        python: rpycbench::server::PythonServerSpec { python: Some(python()), ..Default::default() },
        ..native_spec(mode)
    };
    spec.start().unwrap_or_else(|e| panic!("cannot start the {mode} server: {e}"))
}

/// What /proc/PID/stat says about a process: its state letter, parent, process group
/// and session. `None` once the process is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
    pub session: u32,
}

pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is parenthesised and may itself hold spaces and parentheses.
    let mut fields = stat[stat.rfind(')')? + 2..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let mut num = || fields.next()?.parse::<u32>().ok();
    Some(ProcStat { pid, state, ppid: num()?, pgrp: num()?, session: num()? })
}

/// Minor page faults a process has taken (`minflt` in /proc/PID/stat): fresh memory
/// it touched. 0 once it is gone.
pub fn minor_faults(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    // Field 10 of stat(5); the fields after the parenthesised name start at field 3.
    stat.rfind(')').and_then(|at| stat[at + 2..].split_whitespace().nth(7)?.parse().ok()).unwrap_or(0)
}

/// Every process on the machine, zombies included.
pub fn all_procs() -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).filter_map(proc_stat).collect()
}

/// Resident memory of a process in bytes (0 once it is gone).
pub fn rss_bytes(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:") * 1024
}

/// Peak resident memory of a process in bytes (0 once it is gone).
pub fn peak_rss_bytes(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:") * 1024
}

fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The TCP ports process `pid` listens on (from its descriptors and /proc/net/tcp).
pub fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|row| {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            let f: Vec<&str> = row.split_whitespace().collect();
            let listening = f.get(3) == Some(&"0A");
            let port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
            (listening && inodes.iter().any(|i| Some(&i.as_str()) == f.get(9))).then_some(port)
        })
        .collect()
}

/// Open file descriptors of a process (0 once it is gone).
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// Polls `cond` every 5 ms until it holds or `within` passes; returns whether it held.
pub fn eventually(within: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A child process killed (and reaped) on drop if still running, even by a panic.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// What every HTTP baseline result must say: it ran against the hyper server, every
/// request succeeded, and it carries no wire statistics (those count RPyC frames).
pub fn assert_http_result(r: &rpycbench::metrics::BenchResult) {
    assert_eq!(r.server.mode, "http", "{}", r.name);
    assert_eq!(r.server.backend, "hyper", "{}", r.name);
    assert_eq!(r.outcomes.success_rate, 1.0, "{}: {:?}", r.name, r.outcomes.errors);
    assert!(r.wire.is_none(), "{}: the HTTP client counts no wire traffic", r.name);
}

/// The exit status of `child`, which must exit within `within`: past it, the child is
/// killed and reaped and the test fails, naming `what` (no test waits forever).
pub fn exit_within(
    child: &mut std::process::Child,
    within: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("waiting for {what}: {e}")) {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {within:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
