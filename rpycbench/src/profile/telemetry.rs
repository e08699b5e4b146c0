//! The telemetry of a profiled run as data: counts per direction and handler, the
//! per-method and per-type statistics, the slowest calls and the (bounded) history of
//! requests. Serialized as JSON with the schema name [`TELEMETRY_SCHEMA`]; its JSON
//! Schema is generated from these types ([`Telemetry::json_schema`]) and published as
//! `schema/telemetry-v1.json`.

use super::facts::Direction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `schema` field of telemetry JSON.
pub const TELEMETRY_SCHEMA: &str = "rpycbench/telemetry/v1";

/// Everything recorded, as of the moment it was taken.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Telemetry {
    /// Always [`TELEMETRY_SCHEMA`].
    pub schema: String,
    /// Time from the start of recording to the snapshot.
    pub elapsed_ns: u64,
    /// Connections seen.
    pub connections: u64,
    /// Request messages client → server (DEL and CLOSE included).
    pub requests_c2s: u64,
    /// Request messages server → client (callbacks, INSPECT, DEL).
    pub requests_s2c: u64,
    /// Requests that got their answer (REPLY or EXCEPTION), both directions; DEL is
    /// left out: it is answered, but fire-and-forget (its sender never waits), as in
    /// [`WireCounters::round_trips`](crate::client::WireCounters::round_trips).
    pub round_trips: u64,
    /// Details of the client → server direction.
    pub c2s: DirectionStats,
    /// Details of the server → client direction.
    pub s2c: DirectionStats,
    /// INSPECT requests (a Python peer sends one per new proxy of most types).
    pub inspect_requests: u64,
    /// Deepest nesting of callbacks: the most peer requests stacked along one chain
    /// of nested requests (the largest [`CallRecord::callback_depth`]). 0 for plain
    /// requests; 1 when the peer called back once while a request waited; 5 for
    /// `nested(5, cb)` whose callback calls `nested` again. DEL is not counted.
    pub max_depth: u32,
    /// Calls at least this long count as slow.
    pub slow_threshold_ns: u64,
    /// Round trips at least `slow_threshold_ns` long.
    pub slow_calls: u64,
    /// `(request bytes + answer bytes) / round_trips`, frames as on the wire.
    pub bytes_per_round_trip: f64,
    /// Requests still waiting for an answer when the snapshot was taken (or when their
    /// connection ended).
    pub unanswered: u64,
    /// Answers to a request never seen (e.g. profiling started in mid-request).
    pub unmatched_answers: u64,
    /// Frames whose message could not be decoded (still relayed unchanged).
    pub undecodable_frames: u64,
    /// Connections whose byte stream stopped being decodable as frames; they are
    /// still relayed, but no longer decoded.
    pub undecodable_connections: u64,
    /// Time per method, the most total time first.
    pub methods: Vec<MethodStats>,
    /// References per remote type and direction, the most received first.
    pub references: Vec<ReferenceStats>,
    /// The slowest calls, slowest first (at most the recorder's `slowest_kept`).
    pub slowest: Vec<CallRecord>,
    /// At most this many calls are kept in `calls`; every count above stays exact.
    pub history_limit: usize,
    /// Requests recorded in all; `calls` holds the most recent `history_limit`.
    pub calls_recorded: u64,
    /// The most recent requests, in the order they were seen.
    pub calls: Vec<CallRecord>,
    /// The client's operations, counted exactly (not limited by the history): its
    /// top-level CALL and CALLATTR requests (nested in no other request) of a named
    /// method that is not a dunder (`__iter__`, `__next__`, … are steps of an
    /// operation, not operations). A CALL is named by the GETATTR that fetched the
    /// bound method. The client's direction is [`Telemetry::client_direction`]. The
    /// relay's and `RPYCBENCH_PROFILE`'s diagnosis count "per operation" in these.
    #[serde(default)]
    pub operations: u64,
    /// The client's operations by the method that started them, most round trips
    /// first: each operation's round trips run from its call to the client's next
    /// operation, so the attribute reads of what a call returned (an N+1 loop) count
    /// toward that call. An average over unrelated calls would hide one method's cost.
    #[serde(default)]
    pub per_operation: Vec<OperationStats>,
    /// The server's process tree sampled while clients were connected (`proxy
    /// --server-pid`): its CPU, memory and processes, for the diagnosis's CPU rules.
    /// Only the `server` figures are the server's; the relay cannot see its clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<crate::metrics::SystemStats>,
    /// What the relay itself added to the traffic (`rpycbench proxy` only): the time
    /// bytes spent in it, per crossing and per round trip (see
    /// [`relay_cost`](super::relay_cost)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<super::relay_cost::RelayCost>,
}

/// The operations one method started (see [`Telemetry::per_operation`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OperationStats {
    /// The method (`"get_users"`).
    pub method: String,
    /// Operations it started.
    pub calls: u64,
    /// Round trips of those operations, the calls themselves included. A Python
    /// client's lookup of the *next* method (`conn.root.f`) is counted here too: it
    /// comes before the call that names the next operation.
    pub round_trips: u64,
    /// Attributes read (GETATTR) during those operations, by name: `name: 20` after
    /// `get_users(20)` is the N+1 pattern.
    pub attribute_reads: BTreeMap<String, u64>,
    /// Their calls timed from request to answer (the call alone, not the reads after
    /// it), with how many were in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<super::load::OperationLoad>,
}

/// What travelled in one direction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DirectionStats {
    /// Frames, empty ones included.
    pub frames: u64,
    /// Bytes of those frames, headers and fillers included.
    pub bytes: u64,
    /// Request messages.
    pub requests: u64,
    /// Request messages sent this way that got an answer (DEL excluded).
    pub round_trips: u64,
    /// Operations started this way: top-level CALL/CALLATTR requests of a named,
    /// non-dunder method (see [`Telemetry::operations`]).
    #[serde(default)]
    pub operations: u64,
    /// REPLY messages.
    pub replies: u64,
    /// EXCEPTION messages.
    pub exceptions: u64,
    /// Requests by handler name (`"GETATTR"`, …; unknown ids as `"UNKNOWN"`).
    pub requests_by_handler: BTreeMap<String, u64>,
    /// Answered requests by handler name (DEL excluded).
    pub round_trips_by_handler: BTreeMap<String, u64>,
    /// Frames sent this way that the relay received in more than one read.
    #[serde(default)]
    pub split_frames: u64,
    /// Of those, frames up to 256 KiB whose first and last pieces arrived a delayed-ACK
    /// timeout apart: a Nagle stall seen directly (see
    /// `client::arrivals`). Only the relay sees pieces.
    #[serde(default)]
    pub split_frames_delayed_ack: u64,
}

/// Time spent in one method (or attribute, or handler on a type), answered calls only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MethodStats {
    /// `HANDLER Type.name` (e.g. `CALLATTR BenchmarkService.get_users`,
    /// `GETATTR User.name`), `HANDLER Type` when no name applies, or just `HANDLER`.
    pub label: String,
    /// Calls answered.
    pub count: u64,
    /// Sum of their durations.
    pub total_ns: u64,
    /// `total_ns / count`.
    pub mean_ns: u64,
    /// The longest.
    pub max_ns: u64,
    /// Request and answer bytes of these calls.
    pub bytes: u64,
    /// Calls that got an EXCEPTION.
    pub exceptions: u64,
}

/// References to objects of one type that travelled one way.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReferenceStats {
    /// The object's type as its owner names it (`"rpycbench_service.User"`).
    pub type_name: String,
    /// Which way the references went: `s2c` means the client got proxies of the
    /// server's objects; `c2s` means the client lent its own objects (callbacks).
    pub direction: Direction,
    /// REMOTE_REF boxes received (every one, reused proxies included).
    pub received: u64,
    /// References given back with DEL (the sum of the DEL counts).
    pub released: u64,
    /// `received - released`: still held when the snapshot was taken.
    pub alive: u64,
    /// Requests sent to objects of this type through those proxies (DEL excluded).
    pub round_trips: u64,
    /// INSPECT requests about this type.
    pub inspects: u64,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// No answer yet.
    #[default]
    Pending,
    /// A REPLY came.
    Reply,
    /// An EXCEPTION came.
    Exception,
    /// The connection ended first, or the request is never answered (CLOSE).
    NoAnswer,
    /// Forgotten unanswered: its connection left too many requests waiting, and the
    /// oldest are no longer tracked (any later answer counts as unmatched).
    Evicted,
}

/// One request and its answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CallRecord {
    /// Unique within the telemetry, in order of arrival.
    pub id: u64,
    /// The connection it travelled on (numbered from 1).
    pub connection: u64,
    /// Which way the request went.
    pub direction: Direction,
    /// Its sequence number.
    pub seq: i64,
    /// Handler name.
    pub handler: String,
    /// The type of the object it acted on, when it named one.
    pub target_type: Option<String>,
    /// The attribute or method name, when it had one.
    pub name: Option<String>,
    /// The label it is counted under in [`Telemetry::methods`].
    pub label: String,
    /// The request it was nested in: the innermost request of the opposite direction
    /// that was waiting for its answer when this one arrived.
    pub parent: Option<u64>,
    /// Level in the call tree: 1 for a top-level request, the parent's level + 1
    /// otherwise (each level alternates direction). For indentation.
    pub level: u32,
    /// Peer requests (callbacks) stacked along the chain from the top-level request
    /// down to this one, itself included: a request that goes against the top-level
    /// request's direction is a callback. 0 for a top-level request; 1 for a
    /// callback during it, and for the requests made while serving that callback; 2
    /// for a callback during those; … DEL adds nothing. [`Telemetry::max_depth`] is the largest.
    pub callback_depth: u32,
    /// When the request was seen, from the start of recording.
    pub start_ns: u64,
    /// Time to its answer; `None` until answered.
    pub duration_ns: Option<u64>,
    /// The request frame's bytes on the wire.
    pub request_bytes: u64,
    /// The answer frame's bytes on the wire.
    pub answer_bytes: u64,
    /// How it ended.
    pub outcome: CallOutcome,
    /// References the answer carried (each becomes or reuses a proxy).
    pub refs_returned: u32,
}

impl Telemetry {
    /// The statistics of one direction.
    pub fn direction(&self, d: Direction) -> &DirectionStats {
        match d {
            Direction::C2s => &self.c2s,
            Direction::S2c => &self.s2c,
        }
    }

    /// Which direction the client sent: the one that carried GETROOT (a client asks
    /// for the root first), or else the one with more operations (top-level named
    /// calls: a server's callbacks are nested in the client's calls), or else the one
    /// with more requests (ties: `c2s`). In a
    /// relay and on a profiled client this is `c2s`; under `RPYCBENCH_PROFILE` on a
    /// server process it is `s2c` (the peer, i.e. the clients, sent those).
    pub fn client_direction(&self) -> Direction {
        let getroot = |d: &DirectionStats| d.requests_by_handler.get("GETROOT").copied().unwrap_or(0);
        let key = |d: &DirectionStats| (getroot(d), d.operations, d.requests);
        if key(&self.s2c) > key(&self.c2s) {
            Direction::S2c
        } else {
            Direction::C2s
        }
    }

    /// Round trips the client (or profiled side) started and got answered.
    pub fn round_trips_c2s(&self) -> u64 {
        self.c2s.round_trips
    }

    /// The statistics under `label`, if any call was counted there.
    pub fn method(&self, label: &str) -> Option<&MethodStats> {
        self.methods.iter().find(|m| m.label == label)
    }

    /// The references of `type_name` that travelled `direction`.
    pub fn references_of(&self, type_name: &str, direction: Direction) -> Option<&ReferenceStats> {
        self.references.iter().find(|r| r.type_name == type_name && r.direction == direction)
    }

    /// The calls directly nested in call `id` (within the kept history).
    pub fn children(&self, id: u64) -> impl Iterator<Item = &CallRecord> {
        self.calls.iter().filter(move |c| c.parent == Some(id))
    }

    /// The telemetry as pretty JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of numbers, strings and maps with string keys
        // cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The JSON Schema of telemetry JSON, generated from these types.
    #[cfg(feature = "schema")]
    pub fn json_schema() -> serde_json::Value {
        crate::metrics::schema::published::<Telemetry>()
    }
}
