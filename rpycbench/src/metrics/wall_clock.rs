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
    rfc3339(ns, true)
}

/// Unix nanoseconds as RFC 3339 UTC, `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` before the `Z`
/// when `millis` (truncated, as humantime does, whose format this is).
pub(crate) fn rfc3339(ns: u64, millis: bool) -> String {
    let secs = ns / 1_000_000_000;
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}");
    if millis {
        out.push_str(&format!(".{:03}", ns / 1_000_000 % 1000));
    }
    out.push('Z');
    out
}

/// The proleptic Gregorian date `days` after 1970-01-01: Howard Hinnant's
/// `civil_from_days`, counted in 400-year eras of 146,097 days from 0000-03-01 so
/// that leap days fall at the end of each year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let (era, day_of_era) = (z / 146_097, z % 146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    (year_of_era + era * 400 + u64::from(month <= 2), month, day)
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

    /// humantime (the command's dependency, so the tests have it) is the reference.
    #[test]
    fn rfc3339_is_humantimes_to_the_character() {
        // The day boundaries around leap days, 2000 and 2100.
        for day in [0u64, 58, 59, 60, 365, 789, 790, 10_956, 11_016, 11_017, 47_540, 47_541, 200_000] {
            for offset in [0, 1, 86_399_999_999_999] {
                let t = day * 86_400_000_000_000 + offset;
                let reference = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(t);
                assert_eq!(rfc3339(t, false), humantime::format_rfc3339_seconds(reference).to_string());
                assert_eq!(rfc3339(t, true), humantime::format_rfc3339_millis(reference).to_string());
            }
        }
        // Then every ~2 days (and an odd number of nanoseconds) up to the year 2540, near
        // the end of what u64 nanoseconds reach.
        for i in 0..100_000u64 {
            let t = i * 180_000_000_000_000 + i * 7_919_007;
            let reference = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(t);
            assert_eq!(rfc3339(t, true), humantime::format_rfc3339_millis(reference).to_string(), "{t}");
        }
    }
}
