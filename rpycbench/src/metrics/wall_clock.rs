//! Where a run's measured part sat on the wall clock, and on which machine: what lines up
//! the results of workers on several machines when they are merged (see
//! [`merge`](mod@super::merge)).
//!
//! The start is read from the system clock once; the end is that start plus the time
//! measured on the monotonic clock, so a clock step during the run (NTP) cannot make a
//! run look longer, shorter or negative.

use serde::{Deserialize, Serialize};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The measured part of a run on the wall clock, in nanoseconds since the Unix epoch
/// (UTC, the measuring machine's system clock).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WallClock {
    /// The machine's host name (a Kubernetes pod's name), empty when unknown.
    pub host: String,
    /// The start the run was asked to wait for (`bench --start-at`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_start_unix_ns: Option<u64>,
    /// When the measured part began (after connecting, probing and warming up).
    pub start_unix_ns: u64,
    /// When it ended: the start plus the monotonic time it took.
    pub end_unix_ns: u64,
}

impl WallClock {
    /// How long the measured part took on the wall clock, pauses between rounds included.
    pub fn span_ns(&self) -> u64 {
        self.end_unix_ns.saturating_sub(self.start_unix_ns)
    }
}

/// The start of a measured part, read on both clocks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WallStart {
    unix_ns: u64,
    at: Instant,
}

impl WallStart {
    /// Now.
    pub(crate) fn now() -> WallStart {
        WallStart { unix_ns: unix_ns(SystemTime::now()), at: Instant::now() }
    }

    /// The measured part from this start until now.
    pub(crate) fn until_now(self) -> WallClock {
        let elapsed = u64::try_from(self.at.elapsed().as_nanos()).unwrap_or(u64::MAX);
        WallClock {
            host: host_name(),
            requested_start_unix_ns: None,
            start_unix_ns: self.unix_ns,
            end_unix_ns: self.unix_ns.saturating_add(elapsed),
        }
    }
}

/// `t` in nanoseconds since the Unix epoch (0 for a clock set before 1970).
pub fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Unix nanoseconds as RFC 3339 UTC with milliseconds, e.g. `2026-01-01T12:00:00.250Z`.
pub fn format_unix_ns(ns: u64) -> String {
    let t = UNIX_EPOCH + std::time::Duration::from_nanos(ns);
    humantime::format_rfc3339_millis(t).to_string()
}

/// This machine's host name, from the kernel (Linux); empty elsewhere or when unreadable.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_follows_the_start_by_the_monotonic_time() {
        let start = WallStart::now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let clock = start.until_now();
        assert!(clock.span_ns() >= 5_000_000, "{clock:?}");
        assert!(clock.start_unix_ns > 1_600_000_000_000_000_000, "a plausible Unix time: {clock:?}");
        assert_eq!(format_unix_ns(1_767_268_800_250_000_000), "2026-01-01T12:00:00.250Z");
    }
}
