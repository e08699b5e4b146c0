//! Procedural macros for [`rpycbench`](https://docs.rs/rpycbench).
//!
//! The `#[rpyc_bench]` attribute arrives with the harness; this crate exists now so the
//! workspace layout is the one every later part builds on.
