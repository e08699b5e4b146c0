//! Where a result was measured: enough to tell whether two results are comparable.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// The machine, build and software a result was measured with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Environment {
    /// CPU model name (from /proc/cpuinfo).
    pub cpu_model: String,
    /// Logical cores available.
    pub cores: u32,
    /// Total memory, bytes.
    pub memory_bytes: u64,
    /// Operating system and kernel release, e.g. `"linux 6.1.0"`.
    pub os: String,
    /// The rustc that built the measuring binary.
    pub rustc: String,
    /// `"release"` or `"debug"`: the client runs in the measuring binary, so its
    /// optimisation level changes the numbers.
    pub build_profile: String,
    /// Python version of the server, when a Python-backed server was used.
    pub python: Option<String>,
    /// rpyc version of the server, when a Python-backed server was used.
    pub rpyc: Option<String>,
}

impl Environment {
    /// This machine and build (computed once per process).
    pub fn current() -> Environment {
        static CURRENT: OnceLock<Environment> = OnceLock::new();
        CURRENT.get_or_init(detect).clone()
    }

    /// A short identity of the machine: CPU model, cores and memory. Baselines from a
    /// different fingerprint are not comparable.
    pub fn fingerprint(&self) -> String {
        format!("{} x{} {}GiB", self.cpu_model, self.cores, self.memory_bytes >> 30)
    }

    /// This environment with the Python and rpyc versions of `python` filled in.
    pub fn with_python(mut self, python: &std::path::Path) -> Environment {
        let probe = std::process::Command::new(python)
            .args(["-c", "import sys, importlib.metadata as m; print(sys.version.split()[0], m.version('rpyc'))"])
            .output();
        if let Ok(out) = probe {
            let text = String::from_utf8_lossy(&out.stdout);
            let mut parts = text.split_whitespace();
            self.python = parts.next().map(str::to_owned);
            self.rpyc = parts.next().map(str::to_owned);
        }
        self
    }
}

fn detect() -> Environment {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().trim_end_matches(" kB").to_owned()))
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    Environment {
        cpu_model,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        memory_bytes,
        os: format!("{} {}", std::env::consts::OS, release.trim()).trim().to_owned(),
        rustc: env!("RPYCBENCH_RUSTC_VERSION").to_owned(),
        build_profile: if cfg!(debug_assertions) { "debug" } else { "release" }.to_owned(),
        python: None,
        rpyc: None,
    }
}
