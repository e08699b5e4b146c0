//! What a benchmark measured: latency distributions in HdrHistograms, outcomes counted
//! per attempt, CPU and memory sampled during the run, wire traffic, and the versioned
//! JSON schema that carries it all.

mod clock;
pub mod compare;
mod environment;
mod files;
mod hdr_v2;
mod latency;
mod machine;
pub mod merge;
mod outcomes;
pub mod progress;
mod result;
pub mod rounds;
#[cfg(feature = "schema")]
pub(crate) mod schema;
pub mod sla;
pub mod system;
mod wall_clock;

pub use clock::{LoopClock, Stamp};
pub use environment::Environment;
pub(crate) use files::write_atomically;
pub use files::{read_input, MAX_INPUT_BYTES};
pub use latency::{format_bytes, format_ms, format_ns, HistogramError, LatencyHistogram, LatencyStats};
pub(crate) use latency::{in_units, significant};
pub use machine::{MachineReference, ReferenceMeasurement};
pub use merge::{merge, MergeError, MergeInfo, MergeOptions, WorkerSummary};
pub use outcomes::{ErrorCount, OutcomeCounter, Outcomes};
pub use result::{
    now_rfc3339, BenchKind, BenchResult, ClientResult, EndedEarly, LoadModel, NetworkRtt, RemoteInfo, ResultFileError,
    ResultSet, ServerInfo, SizeResult, StopReason, WireStats, BUILTIN_METHODS_PARAM, RESULTS_SCHEMA, SWEEP_LIMIT,
    SWEEP_PARAMETER, SWEEP_VALUE,
};
pub use rounds::{RoundSummary, DEFAULT_ROUNDS};
pub use system::{ProcessSet, ProcessStats, ServerSampling, SystemSampler, SystemStats, MIN_SERVER_CPU_WINDOW};
pub(crate) use wall_clock::WallStart;
pub use wall_clock::{format_unix_ns, unix_ns, WallClock};
