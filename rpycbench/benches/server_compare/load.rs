//! Whether the machine was ours while we measured.
//!
//! Every figure here shares two cores with the load generator, so a build or a test run
//! elsewhere on the machine moves them far more than any change of ours: Python's
//! throughput rounds once read 8.4k–20k req/s in one run, and the native/Python ratio
//! went from 9× to 4×. The check is the precondition a verdict needs: the CPU time
//! other processes took during the run, from /proc/stat (the whole machine) minus this
//! process and everything it started (its children, alive or reaped). Past
//! [`BUSY_SHARE`] of the machine, the bench still prints its figures but calls no target
//! met or missed.

use std::time::Instant;

/// The share of the machine's CPU time other processes may take before the run's
/// verdicts are withheld.
pub const BUSY_SHARE: f64 = 0.10;

/// Where the run started: the machine's busy time and ours.
pub struct LoadWatch {
    machine: Option<u64>,
    ours: Option<u64>,
    at: Instant,
}

impl LoadWatch {
    pub fn start() -> LoadWatch {
        LoadWatch { machine: machine_busy_ticks(), ours: our_ticks(), at: Instant::now() }
    }

    /// The share of the machine's CPU time (all CPUs, since `start`) other processes
    /// took; `None` when /proc cannot say, which withholds the verdicts too.
    pub fn foreign_share(&self) -> Option<f64> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let capacity = self.at.elapsed().as_secs_f64() * ticks_per_second() * cpus;
        let machine = machine_busy_ticks()?.checked_sub(self.machine?)?;
        let ours = our_ticks()?.saturating_sub(self.ours?);
        (capacity > 0.0).then(|| machine.saturating_sub(ours) as f64 / capacity)
    }
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a constant of the system; no memory is passed.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// Busy clock ticks of all CPUs since boot: the first line of /proc/stat without idle
/// and iowait (guest time is already inside user).
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = cpu.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal
    Some([0, 1, 2, 5, 6, 7].iter().filter_map(|&i| fields.get(i)).sum())
}

/// `(pid, ppid, utime + stime + cutime + cstime)` from /proc/PID/stat.
fn proc_ticks(pid: &str) -> Option<(u32, u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 4 (ppid) and 14–17 (utime, stime, cutime, cstime) of stat(5), from field 3.
    let ppid = fields.get(1)?.parse().ok()?;
    let ticks = fields.get(11..15)?.iter().filter_map(|f| f.parse::<u64>().ok()).sum();
    Some((pid.parse().ok()?, ppid, ticks))
}

/// CPU ticks of this process and every process descended from it (each with the
/// children it has reaped).
fn our_ticks() -> Option<u64> {
    let dir = std::fs::read_dir("/proc").ok()?;
    let procs: Vec<(u32, u32, u64)> = dir.filter_map(|e| proc_ticks(e.ok()?.file_name().to_str()?)).collect();
    let mut ours = vec![std::process::id()];
    let mut total = 0;
    // Parents before children is not guaranteed by pid order, so grow the set until it
    // stops growing.
    loop {
        let before = ours.len();
        for &(pid, ppid, _) in &procs {
            if ours.contains(&ppid) && !ours.contains(&pid) {
                ours.push(pid);
            }
        }
        if ours.len() == before {
            break;
        }
    }
    for &(pid, _, ticks) in &procs {
        if ours.contains(&pid) {
            total += ticks;
        }
    }
    Some(total)
}
