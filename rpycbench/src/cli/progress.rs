//! Progress of long runs: a bar on a terminal, plain `[k/N]` lines otherwise, nothing
//! when quiet.
//!
//! The bar counts *finished* steps, and inside a step it keeps moving: a thread redraws
//! it four times a second with the requests the step has finished (the process-wide
//! count of `metrics::progress`), their rate and, when the step's size is known, the
//! time left. Without it a 30-second step looked hung at a full bar.

use crate::metrics::progress::requests_finished;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How big a step is, for the time left.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Expect {
    /// This many requests (operations, connections) in all.
    Requests(u64),
    /// It runs for this long.
    Duration(Duration),
    /// Not known ahead: the count and the rate are shown, not the time left.
    Unknown,
}

pub(crate) enum Progress {
    Quiet,
    Lines { done: u64, total: u64 },
    Bar(LiveBar),
}

/// The step being run, shared with the redrawing thread.
struct Step {
    what: String,
    expect: Expect,
    /// The process's finished requests when the step began.
    base: u64,
    start: Instant,
}

pub(crate) struct LiveBar {
    bar: ProgressBar,
    step: Arc<Mutex<Option<Step>>>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

/// How often the bar is redrawn inside a step.
const REDRAW: Duration = Duration::from_millis(250);

impl Progress {
    pub(crate) fn new(total: u64, quiet: bool) -> Progress {
        if quiet {
            return Progress::Quiet;
        }
        if !std::io::stderr().is_terminal() {
            return Progress::Lines { done: 0, total };
        }
        Progress::bar(total, ProgressDrawTarget::stderr())
    }

    /// The bar, drawn to `target` (the terminal's stderr, or a test's terminal).
    fn bar(total: u64, target: ProgressDrawTarget) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), target);
        // The template is a constant known to be valid.
        let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}").expect("valid template");
        bar.set_style(style);
        let step: Arc<Mutex<Option<Step>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (bar, step, stop) = (bar.clone(), step.clone(), stop.clone());
            std::thread::Builder::new()
                .name("rpycbench-progress".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok(guard) = step.lock() {
                            if let Some(s) = guard.as_ref() {
                                let done = requests_finished().saturating_sub(s.base);
                                bar.set_message(describe(&s.what, s.expect, done, s.start.elapsed()));
                            }
                        }
                        std::thread::sleep(REDRAW);
                    }
                })
                .ok()
        };
        Progress::Bar(LiveBar { bar, step, stop, ticker })
    }

    /// A new step begins (the one before it, if any, has finished).
    pub(crate) fn step(&mut self, what: &str, expect: Expect) {
        match self {
            Progress::Quiet => {}
            Progress::Lines { done, total } => {
                *done += 1;
                eprintln!("[{done}/{total}] {what}");
            }
            Progress::Bar(live) => {
                let mut step = live.step.lock().unwrap_or_else(|e| e.into_inner());
                if step.is_some() {
                    live.bar.inc(1);
                }
                *step = Some(Step { what: what.to_owned(), expect, base: requests_finished(), start: Instant::now() });
                live.bar.set_message(what.to_owned());
            }
        }
    }

    /// Something worth saying that is not a step.
    pub(crate) fn message(&mut self, what: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Lines { .. } => eprintln!("{what}"),
            Progress::Bar(live) => live.bar.println(what),
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Progress::Bar(live) = self {
            live.stop.store(true, Ordering::Relaxed);
            if let Some(t) = live.ticker.take() {
                let _ = t.join();
            }
            live.bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `latency (4s): 12,345 requests, 3,086/s, ~0s left`: the step, what it has done and,
/// when its size is known, how long it has left.
fn describe(what: &str, expect: Expect, done: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let mut out = format!(
        "{what}: {} done, {}/s",
        crate::table::group_thousands(done),
        crate::table::group_thousands(rate as u64)
    );
    let left = match expect {
        Expect::Requests(total) if rate > 0.0 => Some(total.saturating_sub(done) as f64 / rate),
        Expect::Duration(d) => Some((d.as_secs_f64() - secs).max(0.0)),
        _ => None,
    };
    if let Some(left) = left {
        out.push_str(&format!(", ~{}s left", left.ceil() as u64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::InMemoryTerm;

    /// The screen's first line, as a user would see it.
    fn shown(term: &InMemoryTerm) -> String {
        term.contents().lines().next().unwrap_or_default().trim_end().to_owned()
    }

    /// Waits (up to 5 s) until the screen shows `what`.
    fn until_shown(term: &InMemoryTerm, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let line = shown(term);
            if line.contains(what) || Instant::now() > deadline {
                return line;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn the_bar_counts_finished_steps_and_moves_inside_one() {
        let term = InMemoryTerm::new(4, 120);
        let target = ProgressDrawTarget::term_like_with_hz(Box::new(term.clone()), 20);
        let mut progress = Progress::bar(3, target);
        let Progress::Bar(live) = &progress else { panic!("a bar") };
        live.bar.tick();
        assert!(until_shown(&term, "0/3").contains("0/3"), "at 0 %: {}", shown(&term));
        progress.step("threaded: latency of ping()", Expect::Requests(1000));
        // Inside the step: its requests done and rate, redrawn while it runs; no step
        // has finished, so the bar stays at 0.
        let mut counter = crate::metrics::progress::Unpublished::each();
        (0..40).for_each(|_| counter.one());
        let mid = until_shown(&term, " done, ");
        assert!(
            mid.contains("0/3") && mid.contains("threaded: latency of ping(): ") && mid.contains(" done, "),
            "{mid}"
        );
        // At least the 40 counted here (other tests may count more: the count is the process's).
        let done = mid.split(" done, ").next().unwrap_or("").rsplit(' ').next().unwrap_or("").replace(',', "");
        assert!(done.parse::<u64>().is_ok_and(|n| n >= 40), "{mid}");
        progress.step("threaded: bandwidth", Expect::Unknown);
        let next = until_shown(&term, "1/3");
        assert!(next.contains("1/3") && next.contains("threaded: bandwidth"), "{next}");
        progress.finish();
        assert_eq!(shown(&term), "", "a finished bar leaves the screen clean");
    }

    #[test]
    fn a_step_says_what_it_did_how_fast_and_how_long_is_left() {
        let s = describe("latency (1000 requests)", Expect::Requests(1000), 250, Duration::from_secs(1));
        assert_eq!(s, "latency (1000 requests): 250 done, 250/s, ~3s left");
        let s = describe("latency (4s)", Expect::Duration(Duration::from_secs(4)), 12_345, Duration::from_millis(1500));
        assert_eq!(s, "latency (4s): 12,345 done, 8,230/s, ~3s left");
        let s = describe("transfers", Expect::Unknown, 7, Duration::from_secs(2));
        assert_eq!(s, "transfers: 7 done, 3/s");
        // Nothing done yet: no rate, no guess.
        assert_eq!(describe("x", Expect::Requests(10), 0, Duration::ZERO), "x: 0 done, 0/s");
    }
}
