//! The versioned result schema (`rpycbench/results/v1`): one [`BenchResult`] per
//! benchmark run, collected in a [`ResultSet`] where nothing overwrites anything.
//!
//! Conventions: times are integer nanoseconds in keys ending `_ns`; byte rates are bytes
//! per second in keys ending `_bps`. The JSON Schema is generated from these types
//! ([`ResultSet::json_schema`]) and published as `schema/results-v1.json`.

use super::environment::Environment;
use super::latency::LatencyStats;
use super::outcomes::Outcomes;
use super::system::SystemStats;
use crate::client::WireCounters;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The schema identifier every result file carries.
pub const RESULTS_SCHEMA: &str = "rpycbench/results/v1";

/// A collection of results, in the order they were produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ResultSet {
    /// Always [`RESULTS_SCHEMA`].
    pub schema: String,
    /// When the collection was written (RFC 3339, UTC).
    pub created_at: String,
    /// Every result, each complete in itself.
    pub results: Vec<BenchResult>,
    /// Set when the run ended before every planned benchmark ran (interrupted, a server
    /// died): why, in a sentence. The results present are those measured until then;
    /// one that was cut short says so in its `ended_early`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
}

/// Why a benchmark ended before doing all it was asked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The server's process is gone (it exited or was killed).
    ServerGone,
    /// The server stopped answering: requests in a row got no reply in time (its
    /// process may be stopped, hung or overloaded).
    ServerNotAnswering,
    /// The benchmark ran past its deadline.
    Deadline,
    /// The process running it was interrupted (SIGINT, SIGTERM).
    Interrupted,
}

/// A benchmark that ended early: what it measured until then is kept, with why it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EndedEarly {
    /// Why, in a word.
    pub reason: StopReason,
    /// What happened, in a sentence a user can act on.
    pub detail: String,
}

/// What kind of benchmark produced a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum BenchKind {
    /// Sequential requests on one connection.
    Latency,
    /// Time to a usable connection.
    Connection,
    /// Upload and download per payload size.
    Bandwidth,
    /// Large transfers, whole and chunked.
    Transfer,
    /// Many clients at once.
    Concurrent,
    /// Operations measured inside an application.
    Context,
}

impl BenchKind {
    /// The snake_case name used in files and output.
    pub fn name(self) -> &'static str {
        match self {
            BenchKind::Latency => "latency",
            BenchKind::Connection => "connection",
            BenchKind::Bandwidth => "bandwidth",
            BenchKind::Transfer => "transfer",
            BenchKind::Concurrent => "concurrent",
            BenchKind::Context => "context",
        }
    }
}

/// The server a result was measured against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServerInfo {
    /// `threaded`, `forking`, `python-threaded`, `python-forking`, `http`, or `external`.
    pub mode: String,
    /// What implements the server: `rust` or `python` (RPyC), `hyper` (the HTTP
    /// baseline), or `unknown` (external).
    pub backend: String,
    /// Where it listened.
    pub address: Option<String>,
    /// How the server compressed the frames it sent (`off`, or `python`: zlib level 1
    /// over 3000 bytes); absent where not known (an external server, the HTTP baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<crate::wire::Compression>,
    /// What the built-in service's downloads were made of (`incompressible`, `text`,
    /// `zeros`); absent for a user's service or where not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<crate::server::PayloadKind>,
    /// Where the server ran when not on the measuring machine (`--remote`): the host,
    /// how it was reached, and the network's round trip over that path. Absent for a
    /// server on this machine. `address` is then where it was reached from here (a
    /// tunnel's local end, or the server's own address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteInfo>,
}

impl ServerInfo {
    /// A server known by its mode, backend and address only.
    pub fn new(mode: impl Into<String>, backend: impl Into<String>, address: Option<String>) -> ServerInfo {
        ServerInfo {
            mode: mode.into(),
            backend: backend.into(),
            address,
            compression: None,
            payload: None,
            remote: None,
        }
    }
}

/// A server on another host, reached over SSH.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RemoteInfo {
    /// The host as given to `--remote` (`user@host`, or a `~/.ssh/config` name).
    pub host: String,
    /// `tunnel` (an SSH port forward: every byte also crosses ssh) or `direct` (to the
    /// address the server bound there).
    pub via: String,
    /// Raw TCP round trips of a small message to an echo beside the server, over the
    /// same path as the benchmark's requests, before and after the run: the network's
    /// share of each request's latency. Absent when the echo could not be reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_rtt: Option<NetworkRtt>,
}

/// Round trips of a 64-byte message over TCP (`TCP_NODELAY`), one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NetworkRtt {
    /// How many were timed.
    pub round_trips: u32,
    /// The fastest, ns.
    pub min_ns: u64,
    /// The median, ns.
    pub median_ns: u64,
    /// The slowest, ns.
    pub max_ns: u64,
}

impl NetworkRtt {
    /// The figures of these round trips (ns); `None` for none.
    pub fn of(mut ns: Vec<u64>) -> Option<NetworkRtt> {
        ns.sort_unstable();
        let (&min_ns, &max_ns) = (ns.first()?, ns.last()?);
        let median_ns = ns[(ns.len() - 1) / 2];
        Some(NetworkRtt { round_trips: u32::try_from(ns.len()).unwrap_or(u32::MAX), min_ns, median_ns, max_ns })
    }
}

/// How load was offered (concurrent runs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum LoadModel {
    /// Each client sends its next request when the previous reply arrives. Latency
    /// under load then hides queueing (coordinated omission): read it as service time.
    ClosedLoop,
    /// Requests are scheduled at a fixed total rate and latency runs from each
    /// request's scheduled start, so queueing delay shows in the tail.
    OpenLoop {
        /// Target requests per second over all clients.
        rate_per_sec: f64,
        /// A request sent later than this after its schedule counts as a late start.
        late_threshold_ns: u64,
    },
}

/// One payload size (and chunk size) of a bandwidth or transfer run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SizeResult {
    /// `upload` or `download`.
    pub direction: String,
    /// Bytes per operation.
    pub size_bytes: u64,
    /// Chunk size for chunked transfers; `None` for whole transfers.
    pub chunk_bytes: Option<u64>,
    /// Time per operation of this size only.
    pub latency: LatencyStats,
    /// Total bytes moved / total time, for this size only.
    pub mean_bps: f64,
    /// `size / p50 latency`.
    pub median_bps: f64,
    /// `size / max latency`: the slowest operation's rate.
    pub worst_bps: f64,
    /// Outcomes of this size's operations.
    pub outcomes: Outcomes,
}

/// One client of a concurrent run (kept when asked for).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ClientResult {
    /// Client index, from 0.
    pub client: u32,
    /// This client's outcomes.
    pub outcomes: Outcomes,
    /// This client's latencies.
    pub latency: LatencyStats,
}

/// Wire traffic of the measured requests (warm-up excluded), from connection counters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WireStats {
    /// Requests measured.
    pub measured_requests: u64,
    /// Requests this side sent (all handlers).
    pub requests_sent: u64,
    /// Requests that made this side wait (all but DEL and CLOSE).
    pub round_trips: u64,
    /// Requests the server sent back (callbacks, INSPECT, DEL).
    pub requests_received: u64,
    /// Bytes written.
    pub bytes_sent: u64,
    /// Bytes read.
    pub bytes_received: u64,
    /// Remote references received.
    pub refs_received: u64,
    /// Remote references released with DEL.
    pub refs_released: u64,
    /// `round_trips / measured_requests`.
    pub round_trips_per_request: f64,
    /// `(bytes_sent + bytes_received) / measured_requests`.
    pub bytes_per_request: f64,
    /// Frames received in more than one read.
    #[serde(default)]
    pub split_frames: u64,
    /// Of those, frames up to 256 KiB whose first and last pieces arrived a delayed-ACK
    /// timeout apart (38–52 ms or 190–260 ms): a Nagle stall seen directly (see
    /// `client::arrivals`).
    #[serde(default)]
    pub split_frames_delayed_ack: u64,
}

impl WireStats {
    /// The traffic between two counter snapshots, over `requests` measured requests.
    pub fn from_counters(c: &WireCounters, requests: u64) -> WireStats {
        let per = |x: u64| if requests == 0 { 0.0 } else { x as f64 / requests as f64 };
        WireStats {
            measured_requests: requests,
            requests_sent: c.requests_sent.total(),
            round_trips: c.round_trips(),
            requests_received: c.requests_received.total(),
            bytes_sent: c.bytes_sent,
            bytes_received: c.bytes_received,
            refs_received: c.refs_received,
            refs_released: c.refs_released,
            round_trips_per_request: per(c.round_trips()),
            bytes_per_request: per(c.bytes_sent + c.bytes_received),
            split_frames: c.split_arrivals.frames,
            split_frames_delayed_ack: c.split_arrivals.delayed_ack,
        }
    }
}

/// The `params` key set (to `true`) on results measured through the built-in service's
/// own methods (`run_builtin` of the bandwidth and transfer kinds): what they cost on the
/// wire is the tool's choice, not the user's, so the diagnosis does not advise on it.
pub const BUILTIN_METHODS_PARAM: &str = "builtin_methods";

/// The `params` key naming what a sweep varies (`clients`, `payload_bytes`, `mode`, or
/// a user's own), on each of its steps (see `bench::Sweep`).
pub const SWEEP_PARAMETER: &str = "sweep_parameter";
/// The `params` key holding one sweep step's value: a number, or a string for `mode`.
pub const SWEEP_VALUE: &str = "sweep_value";
/// The `params` key set on the sweep step that crossed its limit: what crossed it, e.g.
/// `p99 = 120 ms > 100 ms`.
pub const SWEEP_LIMIT: &str = "sweep_limit";

/// The result of one benchmark against one server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BenchResult {
    /// The benchmark's name (with a `[server]` suffix when it ran on several).
    pub name: String,
    /// What kind of benchmark it was.
    pub kind: BenchKind,
    /// The server it ran against.
    pub server: ServerInfo,
    /// The parameters it ran with (request counts, sizes, clients, …).
    pub params: BTreeMap<String, serde_json::Value>,
    /// Where it ran.
    pub environment: Environment,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// Wall time of the measured part.
    pub wall_time_ns: u64,
    /// The load model, for concurrent runs.
    pub load_model: Option<LoadModel>,
    /// Attempts, successes, failures.
    pub outcomes: Outcomes,
    /// Latency of successful requests (connection time for connection runs).
    pub latency: Option<LatencyStats>,
    /// Successful requests per second over the measured wall time.
    pub throughput_rps: Option<f64>,
    /// Per size, for bandwidth and transfer runs.
    pub sizes: Vec<SizeResult>,
    /// Per client, for concurrent runs that asked for it.
    pub clients: Option<Vec<ClientResult>>,
    /// CPU and memory of server and client, sampled during the run.
    pub system: Option<SystemStats>,
    /// Wire traffic of the measured requests.
    pub wire: Option<WireStats>,
    /// The machine's reference figures beside the run (see [`MachineReference`](crate::metrics::MachineReference)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<super::machine::MachineReference>,
    /// Set when the run stopped before doing all it was asked to (its server died or
    /// stopped answering, its deadline passed, the process was interrupted); its figures
    /// cover the requests made until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_early: Option<EndedEarly>,
    /// Where the measured part sat on the wall clock, on which host, and the start it
    /// was asked to wait for: what [`merge`](mod@super::merge) lines workers up by. Absent
    /// in files from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_clock: Option<super::wall_clock::WallClock>,
    /// Set on a result merged from several workers' results (`rpycbench merge`): each
    /// worker's own figures and the window they were merged over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<super::merge::MergeInfo>,
}

impl BenchResult {
    /// A result shaped like a real one for unit tests: every request of `latency`
    /// answered over `wall_time_ns`, on this machine, nothing else measured. Tests change
    /// the fields their case is about.
    #[cfg(test)]
    pub(crate) fn for_test(
        name: &str,
        kind: BenchKind,
        mode: &str,
        latency: &super::LatencyHistogram,
        wall_time_ns: u64,
    ) -> BenchResult {
        let n = latency.len();
        BenchResult {
            name: name.into(),
            kind,
            server: ServerInfo::new(mode, if mode.starts_with("python") { "python" } else { "rust" }, None),
            params: BTreeMap::new(),
            environment: Environment::current(),
            started_at: "2026-01-01T00:00:00Z".into(),
            wall_time_ns,
            load_model: None,
            outcomes: Outcomes {
                attempts: n,
                successes: n,
                failures: 0,
                success_rate: 1.0,
                late_starts: 0,
                errors: vec![],
                errors_other: 0,
            },
            latency: Some(latency.stats()),
            throughput_rps: Some(n as f64 / (wall_time_ns.max(1) as f64 / 1e9)),
            sizes: vec![],
            clients: None,
            system: None,
            wire: None,
            machine: None,
            ended_early: None,
            wall_clock: None,
            merged: None,
        }
    }

    /// The payload size (of either direction) with the lowest mean rate: the one a
    /// bandwidth SLA (`min_bandwidth_mbps`) checks, and the one the tables mark.
    pub fn slowest_size(&self) -> Option<&SizeResult> {
        self.sizes.iter().min_by(|a, b| a.mean_bps.total_cmp(&b.mean_bps))
    }
}

/// Why a result file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResultFileError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid JSON of this schema.
    #[error("{path} is not a valid rpycbench result file: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The file has another schema (a newer rpycbench, or not ours).
    #[error("{path} has schema {found:?}; this rpycbench reads {RESULTS_SCHEMA:?}")]
    UnknownSchema {
        /// The file.
        path: String,
        /// The schema it names.
        found: String,
    },
}

impl ResultSet {
    /// An empty collection.
    pub fn new() -> Self {
        ResultSet { schema: RESULTS_SCHEMA.into(), created_at: now_rfc3339(), results: Vec::new(), partial: None }
    }

    /// Adds a result; results are never merged or replaced.
    pub fn push(&mut self, result: BenchResult) {
        self.results.push(result);
    }

    /// The result named `name`, if any.
    pub fn get(&self, name: &str) -> Option<&BenchResult> {
        self.results.iter().find(|r| r.name == name)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Every field is plain data (strings, numbers, maps with string keys), which
        // serde_json always serializes.
        serde_json::to_string_pretty(self).expect("result types always serialize")
    }

    /// Parses JSON, checking the schema identifier first so that a file of another
    /// version gets a clear error instead of a confusing field error.
    pub fn from_json(text: &str, path: &str) -> Result<ResultSet, ResultFileError> {
        let corrupt = |reason: String| ResultFileError::Corrupt { path: path.to_owned(), reason };
        let raw: serde_json::Value = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
        match raw.get("schema").and_then(|s| s.as_str()) {
            Some(RESULTS_SCHEMA) => {}
            Some(other) => {
                return Err(ResultFileError::UnknownSchema { path: path.to_owned(), found: other.to_owned() })
            }
            None => return Err(corrupt("no \"schema\" field".into())),
        }
        let set: ResultSet = serde_json::from_value(raw).map_err(|e| corrupt(e.to_string()))?;
        set.check().map_err(corrupt)?;
        Ok(set)
    }

    /// The first benchmark name that appears more than once, if any. A collection may
    /// hold several (nothing is replaced), but comparisons match results by name.
    pub fn duplicate_name(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.results.iter().map(|r| r.name.as_str()).find(|name| !seen.insert(*name))
    }

    /// What the types alone do not hold: every latency histogram decodes (a comparison
    /// or report would otherwise quietly treat it as empty).
    fn check(&self) -> Result<(), String> {
        for r in &self.results {
            let sizes = r.sizes.iter().map(|s| (format!("{} {} B", s.direction, s.size_bytes), &s.latency));
            let clients = r.clients.iter().flatten().map(|c| (format!("client {}", c.client), &c.latency));
            for (what, stats) in r.latency.iter().map(|l| ("latency".to_owned(), l)).chain(sizes).chain(clients) {
                // An empty histogram with no values is what a run without successes may hold.
                if stats.histogram.is_empty() && stats.count == 0 {
                    continue;
                }
                if let Err(e) = stats.histogram() {
                    return Err(format!("benchmark {:?}: {what}: {e}", r.name));
                }
            }
        }
        Ok(())
    }

    /// Reads a result file.
    pub fn load(path: &Path) -> Result<ResultSet, ResultFileError> {
        let shown = path.display().to_string();
        let text =
            super::files::read_input(path).map_err(|source| ResultFileError::Io { path: shown.clone(), source })?;
        Self::from_json(&text, &shown)
    }

    /// Writes the file atomically (a temporary file renamed into place), so a crash
    /// never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<(), ResultFileError> {
        super::files::write_atomically(path, self.to_json().as_bytes())
            .map_err(|source| ResultFileError::Io { path: path.display().to_string(), source })
    }

    /// The JSON Schema of result files, generated from these types.
    #[cfg(feature = "schema")]
    pub fn json_schema() -> serde_json::Value {
        super::schema::published::<ResultSet>()
    }
}

impl Default for ResultSet {
    fn default() -> Self {
        Self::new()
    }
}

/// The current time as RFC 3339 UTC, to the second.
pub fn now_rfc3339() -> String {
    super::wall_clock::rfc3339(super::unix_ns(std::time::SystemTime::now()), false)
}
