//! `bench --start-at TIME`: wait for a wall-clock time before the benchmark begins, so
//! workers on several machines load one server together (see docs/multi-machine.md).
//!
//! The wait comes after connecting and probing (a server that cannot be reached fails
//! at once, and the setup's own time does not delay the start) and before the warm-up.
//! Workers agree only through their clocks: keep them synchronized (NTP, chrony);
//! `rpycbench merge` flags a worker whose start lies far from the others'.

use super::external::SetupError;
use crate::metrics::{format_unix_ns, unix_ns};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far in the past a start may be and still run (at once): a worker started a
/// moment late still joins the load; one started much later would run alone.
const PAST_TOLERANCE: Duration = Duration::from_secs(1);
/// The furthest ahead a start may be: further is more likely a typo (milliseconds
/// given for seconds) than a plan.
const MAX_AHEAD: Duration = Duration::from_secs(24 * 3600);
/// A wake-up later than this after the start is worth a warning (a busy machine).
const WAKE_WARNING: Duration = Duration::from_millis(100);
/// How often the wait checks for SIGINT and SIGTERM.
const POLL: Duration = Duration::from_millis(50);

/// A wall-clock start time given as `--start-at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StartAt(pub(crate) SystemTime);

impl StartAt {
    /// The time in Unix nanoseconds.
    pub(crate) fn unix_ns(self) -> u64 {
        unix_ns(self.0)
    }
}

/// Parses `--start-at`: RFC 3339 in UTC (`2026-05-01T12:00:00Z`, fractions allowed) or
/// Unix seconds (`1777636800`, `1777636800.5`).
pub(crate) fn parse(text: &str) -> Result<StartAt, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("{text:?} is not a time: Unix seconds must be a positive number"));
        }
        return Duration::try_from_secs_f64(secs)
            .ok()
            .and_then(|d| UNIX_EPOCH.checked_add(d))
            .map(StartAt)
            .ok_or_else(|| format!("{text:?} is too far in the future"));
    }
    humantime::parse_rfc3339(text).map(StartAt).map_err(|e| {
        format!(
            "{text:?} is not a time ({e}): give RFC 3339 in UTC, e.g. 2026-05-01T12:00:00Z \
             (`date -u -d '+30 seconds' +%FT%TZ`), or Unix seconds (`date -d '+30 seconds' +%s`)"
        )
    })
}

/// Refuses a start too far in the past or the future, before anything else is done.
pub(crate) fn check(start: StartAt) -> Result<(), SetupError> {
    let now = SystemTime::now();
    if let Ok(late) = now.duration_since(start.0) {
        if late > PAST_TOLERANCE {
            return Err(SetupError::Usage(format!(
                "--start-at {} is {} in the past (this machine's clock says {}); give every worker a time \
                 a little ahead of when the last one starts, and keep the machines' clocks synchronized",
                format_unix_ns(start.unix_ns()),
                shown(late),
                format_unix_ns(unix_ns(now)),
            )));
        }
    }
    if let Ok(ahead) = start.0.duration_since(now) {
        if ahead > MAX_AHEAD {
            return Err(SetupError::Usage(format!(
                "--start-at {} is {} ahead, more than {}; Unix times are seconds, not milliseconds",
                format_unix_ns(start.unix_ns()),
                shown(ahead),
                shown(MAX_AHEAD),
            )));
        }
    }
    Ok(())
}

/// Sleeps until `start` (checked again: connecting may have taken long). Returns
/// early with an error when SIGINT or SIGTERM arrives. Warns on stderr when the wake-up
/// came noticeably late.
pub(crate) fn wait(start: StartAt, quiet: bool) -> Result<(), SetupError> {
    check(start)?;
    loop {
        if crate::bench::interrupted() {
            return Err(SetupError::Usage("interrupted while waiting for --start-at".into()));
        }
        match start.0.duration_since(SystemTime::now()) {
            Ok(left) if !left.is_zero() => std::thread::sleep(left.min(POLL)),
            _ => break,
        }
    }
    let late = SystemTime::now().duration_since(start.0).unwrap_or_default();
    if late > WAKE_WARNING && !quiet {
        eprintln!("rpycbench bench: warning: started {} after --start-at (a busy machine?)", shown(late));
    }
    Ok(())
}

fn shown(d: Duration) -> String {
    crate::metrics::format_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_in_utc_and_unix_seconds_parse_to_the_same_time() {
        let utc = parse("2026-05-01T12:00:00Z").unwrap();
        assert_eq!(parse("1777636800").unwrap(), utc);
        assert_eq!(parse("2026-05-01T12:00:00.5Z").unwrap().unix_ns(), 1_777_636_800_500_000_000);
        assert_eq!(parse("1777636800.5").unwrap().unix_ns(), 1_777_636_800_500_000_000);
        for bad in ["2026-05-01T12:00:00+02:00", "tomorrow", "-5", "NaN"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn starts_in_the_past_or_far_ahead_are_refused_near_ones_are_not() {
        let now = SystemTime::now();
        let past = check(StartAt(now - Duration::from_secs(30))).unwrap_err().to_string();
        assert!(past.contains("in the past"), "{past}");
        let ahead = check(StartAt(now + Duration::from_secs(3 * 24 * 3600))).unwrap_err().to_string();
        assert!(ahead.contains("not milliseconds"), "{ahead}");
        check(StartAt(now)).expect("now is fine");
        check(StartAt(now + Duration::from_secs(60))).expect("a minute ahead is fine");
    }
}
