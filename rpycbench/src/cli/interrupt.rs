//! SIGINT and SIGTERM during a run: the benchmark stops at its next request, its
//! servers stop, and what was measured is written, flagged partial, before the command
//! exits with the conventional status (128 + the signal: 130, 143).
//!
//! A request blocked on a server that does not answer returns only at its timeout (30 s
//! by default), so the run may not notice the flag soon. [`GRACE`] after the signal, or
//! at a second one, the results finished so far are written from the signal thread
//! (the benchmark in flight is lost) and the process exits; the servers then die of
//! their parent-death signal (see `server::process`).

use crate::metrics::ResultSet;
use signal_hook::consts::{SIGINT, SIGTERM};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a run may take to wind down after a signal before the results finished
/// so far are written without it.
pub(crate) const GRACE: Duration = Duration::from_secs(3);

/// Writes a run's results (results.json and the reports, or the `--json` file).
type WriteFn = dyn Fn(&ResultSet) -> Result<(), String> + Send + Sync;

/// The results of a run as they are measured, shared with the signal thread.
pub(crate) struct Checkpoint {
    state: Mutex<State>,
    write: Box<WriteFn>,
    signal: AtomicI32,
}

struct State {
    results: ResultSet,
    /// The results were written (by the run or by the signal thread): nothing more to do.
    written: bool,
}

impl Checkpoint {
    /// A checkpoint whose results are written by `write`; listens for SIGINT and
    /// SIGTERM from now on.
    pub(crate) fn install(
        write: impl Fn(&ResultSet) -> Result<(), String> + Send + Sync + 'static,
    ) -> std::io::Result<Arc<Checkpoint>> {
        let checkpoint = Arc::new(Checkpoint {
            state: Mutex::new(State { results: ResultSet::new(), written: false }),
            write: Box::new(write),
            signal: AtomicI32::new(0),
        });
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        let watcher = checkpoint.clone();
        std::thread::Builder::new().name("rpycbench-signals".into()).spawn(move || {
            for signal in signals.forever() {
                if watcher.signal.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                    crate::bench::interrupt();
                    eprintln!(
                        "\nrpycbench: {}: stopping; the results measured so far will be written (again to stop now)",
                        name(signal)
                    );
                    let late = watcher.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(GRACE);
                        late.write_and_exit(signal);
                    });
                } else {
                    watcher.write_and_exit(signal);
                }
            }
        })?;
        Ok(checkpoint)
    }

    /// The signal received, if any.
    pub(crate) fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// `interrupted by SIGINT`, when a signal came.
    pub(crate) fn reason(&self) -> Option<String> {
        self.signal().map(|s| format!("interrupted by {}", name(s)))
    }

    /// Adds a finished result.
    pub(crate) fn push(&self, result: crate::metrics::BenchResult) {
        self.lock().results.push(result);
    }

    /// The results so far, for the run's own reports.
    pub(crate) fn results(&self) -> ResultSet {
        self.lock().results.clone()
    }

    /// Writes the results with `write` unless the signal thread already has, flagged
    /// partial with `partial` (or the signal's reason). Holds the lock while writing,
    /// so the signal thread waits for a write in progress rather than racing it.
    pub(crate) fn finish(&self, partial: Option<String>) -> Result<ResultSet, String> {
        let mut state = self.lock();
        state.results.partial = partial.or_else(|| self.reason());
        if !state.written {
            (self.write)(&state.results)?;
            state.written = true;
        }
        Ok(state.results.clone())
    }

    /// The exit status for a signal: 128 + its number.
    pub(crate) fn exit_code(signal: i32) -> ExitCode {
        ExitCode::from(u8::try_from(128 + signal).unwrap_or(1))
    }

    fn write_and_exit(&self, signal: i32) -> ! {
        {
            let mut state = self.lock();
            if !state.written {
                let n = state.results.results.len();
                state.results.partial = Some(format!(
                    "interrupted by {}; the benchmark in progress did not stop within {GRACE:?} and is not included",
                    name(signal)
                ));
                match (self.write)(&state.results) {
                    Ok(()) => eprintln!("rpycbench: partial results ({n} benchmarks finished) written"),
                    Err(e) => eprintln!("rpycbench: {e}"),
                }
                state.written = true;
            }
        }
        std::process::exit(128 + signal)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding it leaves plain data behind: keep going with it.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}
