//! How busy the rest of the machine is: the CPU time of every CPU (`/proc/stat`) minus
//! this process's own (`/proc/self/stat`), over a stretch of wall time.

use std::time::Instant;

/// Readings at the start of a stretch.
pub(super) struct LoadMeter {
    start: Instant,
    machine_ticks: u64,
    own_ticks: u64,
}

impl LoadMeter {
    /// Starts a stretch; `None` where `/proc` cannot be read.
    pub(super) fn start() -> Option<LoadMeter> {
        Some(LoadMeter { start: Instant::now(), machine_ticks: machine_busy_ticks()?, own_ticks: own_ticks()? })
    }

    /// The rest of the machine's CPU over the stretch, in percent of one core.
    pub(super) fn finish(self) -> Option<f64> {
        let wall = self.start.elapsed().as_secs_f64();
        let machine = machine_busy_ticks()?.saturating_sub(self.machine_ticks);
        let own = own_ticks()?.saturating_sub(self.own_ticks);
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        (wall > 0.0 && hz > 0).then(|| machine.saturating_sub(own) as f64 / hz as f64 / wall * 100.0)
    }
}

/// Busy ticks of all CPUs together: the `cpu` line of `/proc/stat` without idle and
/// iowait (guest time is inside user time already).
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal
    let busy = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| fields.get(i)).sum();
    Some(busy)
}

/// This process's user + system ticks, its own threads included.
fn own_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces: fields start after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the name.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}
