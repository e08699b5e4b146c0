//! Telemetry from the wire: every request and answer of profiled connections (or of a
//! relay between any client and server), paired and nested, with statistics and
//! reports that show round trips, references and slow calls.
//!
//! Profiling only watches frames that cross the wire anyway, so it never adds a
//! request: a block costs exactly the round trips it costs without profiling.
//!
//! - [`profile`]: run a block on a [`Connection`](crate::Connection) and get its
//!   [`Telemetry`]; [`Profiler`] to attach one recorder to several connections.
//! - `RPYCBENCH_PROFILE=1` (or `=file.json`): every connection of the process, with
//!   the report at exit (see [`env`](mod@env)).
//! - [`diagnosis`]: findings from benchmark results and telemetry: what was
//!   measured, against which threshold, and the action to take.
//! - [`relay`]: the profiling relay behind `rpycbench proxy`, for unmodified
//!   applications in any language.

pub mod diagnosis;
pub mod env;
mod facts;
mod load;
mod recorder;
pub mod relay;
pub mod relay_cost;
pub mod report;
mod session;
mod telemetry;

pub use facts::{AnswerFacts, Direction, HandlerId, MessageFacts, RequestFacts};
pub(crate) use load::is_from_telemetry;
pub use load::{load_results, OperationLoad, TELEMETRY_SOURCE_PARAM};
pub use recorder::{FrameFacts, Recorder, RecorderConfig};
pub use report::ReportOptions;
pub use session::{profile, profile_with, Profiler};
pub use telemetry::{
    CallOutcome, CallRecord, DirectionStats, MethodStats, ReferenceStats, Telemetry, TELEMETRY_SCHEMA,
};
