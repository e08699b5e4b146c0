//! Compile-fail tests of `#[rpyc_bench]` and `#[rpyc_service]`, one file per mistake in
//! `tests/ui/` with the `.stderr` rustc must print, and pass tests using every kind,
//! option and form.
//!
//! The `.stderr` files are for rustc 1.95, the project's pinned toolchain: rustc's
//! wording and layout change between releases, so with any other compiler the test ends
//! as *ignored*, with the rustc it found on its result line (`test ui ... ignored (…)`)
//! and in the tally — never as a pass that checked nothing. `--include-ignored` runs it
//! anyway, to see the diffs. A libtest-mimic harness (`harness = false`), because
//! libtest has no way for a running test to say it was ignored.
//! Regenerate them with `TRYBUILD=overwrite cargo test -p rpycbench-macros --test ui`,
//! then read every changed one: each must name the problem and point at the right token.

use libtest_mimic::{Arguments, Completion, Trial};
use std::process::Command;

/// `rustc --version` starts with this (any 1.95.x patch release).
const TOOLCHAIN: &str = "rustc 1.95.";

fn main() {
    let args = Arguments::from_args();
    let forced = args.include_ignored;
    let ui = Trial::ignorable_test("ui", move || match other_toolchain() {
        Some(found) if !forced => {
            Ok(Completion::ignored_with(format!("the .stderr files are for rustc 1.95, found {found}")))
        }
        _ => {
            let t = trybuild::TestCases::new();
            t.compile_fail("tests/ui/*.rs");
            t.pass("tests/ui/pass/*.rs");
            // trybuild runs its cases when `t` is dropped, and panics (caught by the
            // harness as a failure) if any differs.
            drop(t);
            Ok(Completion::Completed)
        }
    });
    libtest_mimic::run(&args, vec![ui]).exit()
}

/// The rustc cargo (and so trybuild) will run, when it is not the one the `.stderr`
/// files were written for.
fn other_toolchain() -> Option<String> {
    // trybuild builds with cargo, which runs `$RUSTC` or else the `rustc` on the path.
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version =
        Command::new(rustc).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    match version {
        Ok(v) if v.starts_with(TOOLCHAIN) => None,
        other => Some(other.map_or_else(|e| format!("no rustc ({e})"), |v| v.trim().to_owned())),
    }
}
