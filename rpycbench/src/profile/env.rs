//! `RPYCBENCH_PROFILE`: telemetry on every connection of a process, reported when the
//! process exits (the predecessor's "autobench", for Rust applications).
//!
//! - unset, empty or `0`: off, and connections pay nothing (no observer at all);
//! - `1` (or `true`, `stderr`): the text report goes to stderr at exit;
//! - anything else is a file path: the report goes to stderr and the telemetry JSON
//!   to that file, written atomically (a temporary file renamed into place); when it
//!   cannot be written the process exits with status 1, whatever status it had.
//!
//! `RPYCBENCH_PROFILE_HISTORY` (requests kept, default 10 000) and
//! `RPYCBENCH_PROFILE_SLOW_MS` (slow-call threshold, default 10) tune the recorder.
//!
//! The report is written by an `atexit` handler, so it appears when the process ends
//! through `exit` — returning from `main`, or `std::process::exit` — but not when it is
//! killed by a signal, aborts, panics with `panic = "abort"`, or leaves with `_exit` (as
//! the forking server's children do: profile those through `rpycbench proxy` instead).
//! Connections still open at exit are included as they are (their waiting requests
//! count as unanswered).

use super::diagnosis::Thresholds;
use super::recorder::RecorderConfig;
use super::report::{self, ReportOptions};
use super::session::Profiler;
use crate::client::{ObserverFactory, WireObserver};
use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable that turns process-wide profiling on.
pub const PROFILE_ENV: &str = "RPYCBENCH_PROFILE";

/// The exit status of a process whose `RPYCBENCH_PROFILE` file could not be written
/// (whatever status it was leaving with): the generic failure, as the JSON asked for is
/// lost.
pub const EXIT_TELEMETRY_UNWRITTEN: i32 = 1;

/// What `RPYCBENCH_PROFILE` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileTarget {
    /// Text report on stderr.
    Stderr,
    /// Text report on stderr and JSON to this file.
    Json(std::path::PathBuf),
}

impl ProfileTarget {
    /// Parses the variable's value; `None` means off.
    pub fn parse(value: &str) -> Option<ProfileTarget> {
        match value.trim() {
            "" | "0" | "false" | "off" => None,
            "1" | "true" | "on" | "stderr" => Some(ProfileTarget::Stderr),
            path => Some(ProfileTarget::Json(path.into())),
        }
    }
}

struct Global {
    profiler: Profiler,
    target: ProfileTarget,
}

fn global() -> Option<&'static Global> {
    static GLOBAL: OnceLock<Option<Global>> = OnceLock::new();
    GLOBAL
        .get_or_init(|| {
            let target = ProfileTarget::parse(&std::env::var(PROFILE_ENV).ok()?)?;
            let mut config = RecorderConfig::default();
            if let Some(n) = env_number("RPYCBENCH_PROFILE_HISTORY") {
                config.history_limit = n as usize;
            }
            if let Some(ms) = env_number("RPYCBENCH_PROFILE_SLOW_MS") {
                config.slow_threshold = Duration::from_millis(ms);
            }
            // SAFETY: registering a plain `extern "C" fn()` with the C library.
            if unsafe { libc::atexit(report_at_exit) } != 0 {
                eprintln!("rpycbench: {PROFILE_ENV} is set but no exit handler could be registered: no report");
            }
            Some(Global { profiler: Profiler::new(config), target })
        })
        .as_ref()
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => {
            eprintln!("rpycbench: ignoring {name}={value:?}: not a whole number");
            None
        }
    }
}

/// The process-wide profiler, when `RPYCBENCH_PROFILE` turned it on.
pub fn process_profiler() -> Option<Profiler> {
    global().map(|g| g.profiler.clone())
}

fn enabled() -> bool {
    global().is_some()
}

fn make(_peer: &str) -> Box<dyn WireObserver> {
    match global() {
        Some(g) => g.profiler.observer(),
        // `make` is only called once `enabled` said yes.
        None => unreachable!("observer factory used while profiling is off"),
    }
}

inventory::submit!(ObserverFactory { enabled, make });

extern "C" fn report_at_exit() {
    let Some(g) = global() else { return };
    let Some(telemetry) = g.profiler.telemetry_within(Duration::from_secs(1)) else {
        eprintln!("rpycbench: the profiler stayed busy at exit; no report");
        return;
    };
    let diagnosis = report::diagnosis_section(
        &telemetry,
        report::default_operations(&telemetry),
        "this process",
        &Thresholds::default(),
    );
    eprint!("{}", report::full_with(&telemetry, &ReportOptions::default(), &[diagnosis]));
    if let ProfileTarget::Json(path) = &g.target {
        // Atomically: a full disk or a kill leaves the previous file (or none), never
        // a truncated one.
        if let Err(e) = crate::metrics::write_atomically(path, telemetry.to_json().as_bytes()) {
            eprintln!("rpycbench: cannot write the telemetry to {}: {e}", path.display());
            // The process is already exiting: `exit` may not be called again from an
            // exit handler, `_exit` may. Rust's stdout was flushed before the exit
            // handlers ran; later handlers are skipped.
            // SAFETY: `_exit` ends the process at once and has no preconditions.
            unsafe { libc::_exit(EXIT_TELEMETRY_UNWRITTEN) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_reads_as_documented() {
        assert_eq!(ProfileTarget::parse(""), None);
        assert_eq!(ProfileTarget::parse("0"), None);
        assert_eq!(ProfileTarget::parse("1"), Some(ProfileTarget::Stderr));
        assert_eq!(ProfileTarget::parse("out.json"), Some(ProfileTarget::Json("out.json".into())));
    }
}
