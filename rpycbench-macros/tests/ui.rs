//! Compile-fail tests of `#[rpyc_bench]`, one file per mistake in `tests/ui/` with the
//! `.stderr` rustc must print, and a pass test using every kind and option.
//!
//! The `.stderr` files are for rustc 1.95, the project's pinned toolchain: rustc's
//! wording and layout change between releases, so with any other compiler this test is
//! skipped with a notice rather than failing on a diagnostic it does not own.
//! Regenerate them with `TRYBUILD=overwrite cargo test -p rpycbench-macros --test ui`,
//! then read every changed one: each must name the problem and point at the right token.

use std::io::Write;
use std::process::Command;

/// `rustc --version` starts with this (any 1.95.x patch release).
const TOOLCHAIN: &str = "rustc 1.95.";

#[test]
fn ui() {
    // trybuild builds with cargo, which runs `$RUSTC` or else the `rustc` on the path.
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version =
        Command::new(rustc).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    match version {
        Ok(v) if v.starts_with(TOOLCHAIN) => {}
        other => {
            let found = other.map_or_else(|e| format!("no rustc ({e})"), |v| v.trim().to_owned());
            // Straight to stderr, past libtest's capture, so the skip is seen.
            let note = format!("note: skipping the UI tests: their .stderr files are for rustc 1.95, found {found}\n");
            let _ = std::io::stderr().write_all(note.as_bytes());
            return;
        }
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
