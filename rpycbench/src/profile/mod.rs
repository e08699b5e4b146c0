//! Profiling: what a workload does on the wire, and what to do about it.
//!
//! [`diagnosis`] turns benchmark results (and wire telemetry when present) into
//! findings: what was measured, against which threshold, and the action to take.

pub mod diagnosis;
