//! The `cargo test` harness for benchmarks declared with `#[rpyc_bench]`.

mod registry;

pub use registry::{benchmarks, BenchDef, BenchFn, Kind, ServerChoice, Sla, Stat};
