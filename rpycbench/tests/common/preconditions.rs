//! A test harness for tests whose verdict means something only on a machine that meets
//! a precondition, such as a second core nobody else is using.
//!
//! libtest has no way for a running test to say "this machine cannot tell": such a test
//! either fails by chance or passes without checking anything. Here a test measures its
//! precondition and calls [`require`]; when it does not hold, the test ends as *ignored*,
//! with the measured reason on its result line (`test x ... ignored (reason)`) and in the
//! tally, never as a pass or a failure. When it holds, the test's real assertions run.
//! `--include-ignored` makes [`require`] let the test go on, so its assertions fail
//! visibly on a machine that cannot meet them.
//!
//! Built on libtest-mimic (runtime-ignored trials, and the `--list --format terse` and
//! `--exact` that cargo-nextest uses). A test binary that uses it sets `harness = false`
//! and ends with [`main`].

#![allow(dead_code)] // each test binary uses a part

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

/// A precondition that did not hold: the panic payload that [`require`] unwinds with.
struct Unmet(String);

/// Set by `--include-ignored`: the caller wants the assertions run regardless.
static FORCED: AtomicBool = AtomicBool::new(false);

/// Ends the running test as ignored, with `reason()` printed, unless `holds`.
///
/// The reason should say what was measured against what was needed ("the forking server
/// reached 98 % CPU; scaling needs more than 130 %"), so that a reader of the test log
/// knows the machine, not the code, stopped the check.
pub fn require(holds: bool, reason: impl FnOnce() -> String) {
    if holds {
        return;
    }
    let reason = reason();
    if FORCED.load(Ordering::Relaxed) {
        eprintln!("precondition not met, checked anyway (--include-ignored): {reason}");
        return;
    }
    panic::panic_any(Unmet(reason));
}

/// Runs `tests` (name and function; a function fails by panicking) as libtest would, and
/// exits with its status.
pub fn main(tests: Vec<(&'static str, fn())>) -> ! {
    let args = libtest_mimic::Arguments::from_args();
    FORCED.store(args.include_ignored || args.ignored, Ordering::Relaxed);
    quiet_unmet_panics();
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            libtest_mimic::Trial::ignorable_test(name, move || match panic::catch_unwind(AssertUnwindSafe(test)) {
                Ok(()) => Ok(libtest_mimic::Completion::Completed),
                Err(payload) => match payload.downcast::<Unmet>() {
                    Ok(unmet) => Ok(libtest_mimic::Completion::ignored_with(unmet.0)),
                    Err(payload) => Err(panic_message(payload.as_ref()).into()),
                },
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit()
}

/// `tests![a, b]`: the `(name, function)` list [`main`] takes, named after the functions.
#[macro_export]
macro_rules! tests {
    ($($test:path),* $(,)?) => {
        vec![$((stringify!($test), $test as fn())),*]
    };
}

/// The default panic hook prints every panic; an unmet precondition is not one a reader
/// should see as a crash, so it is left to the result line.
fn quiet_unmet_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<Unmet>().is_none() {
                default(info);
            }
        }));
    });
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => format!("test panicked: {s}"),
        (_, Some(s)) => format!("test panicked: {s}"),
        _ => "test panicked".to_owned(),
    }
}
