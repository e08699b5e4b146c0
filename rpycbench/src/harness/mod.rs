//! The `cargo test` harness for benchmarks declared with `#[rpyc_bench]`.
//!
//! A benchmark target with `harness = false` ends with [`rpycbench::main!()`](crate::main),
//! which runs [`main`]: libtest-compatible listing, filtering and output (so `cargo
//! test`, cargo-nextest and IDEs drive it), one benchmark at a time, each against its
//! own server process; SLA checks; results under `target/rpycbench/`; named baselines
//! ([`Baseline`]) compared from the spread of their rounds
//! ([`metrics::compare`](crate::metrics::compare) states the method and why). [`USAGE`] lists the flags and
//! environment variables; the `EXIT_*` constants are the exit statuses.
//!
//! With cargo-nextest, which runs one process per test and several at once, put the
//! benchmark binaries in a test group with `max-threads = 1` so they do not measure one
//! another (`.config/nextest.toml`):
//!
//! ```toml
//! [test-groups]
//! rpycbench = { max-threads = 1 }
//!
//! [[profile.default.overrides]]
//! filter = "binary(rpyc_benches)"
//! test-group = "rpycbench"
//! ```

mod args;
mod baseline;
mod child;
mod failed;
mod kinds;
mod outcome;
mod output;
mod paths;
mod registry;
mod runner;
mod servers;
mod trial;

#[cfg(feature = "cli")]
pub(crate) use args::{parse_percent, regression_pct_arg};
pub use args::{DEFAULT_REGRESSION_PCT, USAGE};
pub use baseline::{load_file, Baseline, BaselineError, LoadedFile, BASELINE_SCHEMA, DEFAULT_BASELINE_DIR};
pub use failed::Failed;
pub use outcome::{
    EXIT_BASELINE_MISSING, EXIT_BASELINE_UNUSABLE, EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_MISSING_BENCHMARKS,
    EXIT_REGRESSED, EXIT_SLA_VIOLATED, EXIT_USAGE,
};
pub use paths::BinaryInfo;
pub use registry::{benchmarks, BenchDef, BenchFn, Kind, ServerChoice, Sla, Stat};
pub use servers::RUST_SERVICE_ENV;
// For `rpycbench bench` and `rpycbench sweep`: the same SLA checks as the harness.

use std::process::ExitCode;

/// Runs the harness: the `main` of a benchmark binary. Locations come from the
/// environment cargo sets (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`); prefer
/// [`rpycbench::main!()`](crate::main), which also records them at compile time.
///
/// When started by the harness itself as a server (with
/// [`SERVE_CHILD_ENV`](crate::server::SERVE_CHILD_ENV) set), it serves instead.
pub fn main() -> ExitCode {
    runner::run(BinaryInfo::default())
}

/// [`main`] with what the binary was compiled with, for [`rpycbench::main!()`](crate::main).
#[doc(hidden)]
pub fn main_with(info: BinaryInfo) -> ExitCode {
    runner::run(info)
}

/// The `main` of a benchmark target declared with `harness = false`:
///
/// ```ignore
/// use rpycbench::prelude::*;
///
/// #[rpyc_bench(latency, requests = 1000, p99_ms = 100)]
/// fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
///     conn.call("ping", ())?;
///     Ok(())
/// }
///
/// rpycbench::main!();
/// ```
#[macro_export]
macro_rules! main {
    () => {
        fn main() -> ::std::process::ExitCode {
            $crate::harness::main_with($crate::harness::BinaryInfo {
                manifest_dir: ::core::option::Option::Some(::core::env!("CARGO_MANIFEST_DIR")),
                package: ::core::option::Option::Some(::core::env!("CARGO_PKG_NAME")),
                crate_name: ::core::option::Option::Some(::core::env!("CARGO_CRATE_NAME")),
            })
        }
    };
}
