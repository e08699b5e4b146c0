//! The wire figures the diagnosis reads, from a benchmark's counters or from telemetry.

use crate::metrics::{LatencyHistogram, LatencyStats, WireStats};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What crossed the wire during a number of operations: the input of the round-trip,
/// reference and nesting findings.
///
/// A benchmark's [`WireStats`] converts into it (`WireEvidence::from(&stats)`), with
/// the figures counters cannot know left empty; profiler telemetry fills in the rest
/// (per-request-type counts, live references, nesting depth, the costliest methods).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WireEvidence {
    /// Operations the figures cover (the unit of "per operation").
    pub operations: u64,
    /// Requests that made the client wait for a reply (DEL and CLOSE excluded).
    pub round_trips: u64,
    /// Round trips by request type, named as in the protocol (`"GETATTR"`, `"CALLATTR"`).
    /// Empty when unknown.
    pub round_trips_by_handler: BTreeMap<String, u64>,
    /// Remote references (netrefs) the client received, bound-method references
    /// included.
    pub references_received: u64,
    /// Of `references_received`, the bound methods (`builtins.method`) a Python client
    /// receives for each `conn.root.f` lookup: not data, and each one cost a GETATTR
    /// round trip. 0 when unknown (a benchmark's counters cannot tell).
    pub method_references: u64,
    /// References still held when the figures were taken; `None` when unknown.
    pub references_alive: Option<u64>,
    /// INSPECT requests (a Python client sends one for each new proxy of a type that is
    /// not a builtin, to build its proxy class).
    pub inspect_requests: u64,
    /// Requests the server sent to the client (callbacks, and their DELs).
    pub requests_from_server: u64,
    /// Deepest nesting of callbacks: the most requests from the server stacked in one
    /// chain while the client waited. 0 for plain requests; 1 for a request during
    /// which the server called the client back once; `nested(5, cb)` whose callback
    /// calls `nested` again is 5. `None` when unknown (counters alone cannot tell).
    pub max_nesting_depth: Option<u32>,
    /// The methods that cost the most time, most costly first (DEL left out: nobody
    /// waits for it); empty when unknown.
    pub top_methods: Vec<MethodCost>,
    /// Operations by the method that started them, with the round trips each cost
    /// (profiler telemetry only; empty when unknown). The round-trip finding reads
    /// them one method at a time, so one costly method is named even among many
    /// cheap calls.
    pub per_operation: Vec<OperationCost>,
    /// How long the client's calls took, request to answer, by label (`CALL
    /// Service.fetch`, `GETATTR User.name`), from the calls a recorder kept (its
    /// history); empty when unknown. The delayed-ACK stall is read from them.
    pub call_latency: Vec<(String, LatencyStats)>,
    /// Messages (up to 256 KiB) whose receiver saw them arrive in pieces a delayed-ACK
    /// timeout apart: a Nagle stall seen directly (see
    /// `client::arrivals`); 0 when none or unknown.
    pub delayed_ack_pieces: u64,
}

/// The operations one method started and what they cost on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationCost {
    /// The method (`"get_users"`).
    pub method: String,
    /// Operations it started.
    pub calls: u64,
    /// Their round trips, the calls included, up to the client's next operation.
    pub round_trips: u64,
    /// Attributes read during them, most read first.
    pub attribute_reads: Vec<(String, u64)>,
}

impl OperationCost {
    /// Round trips per call (0 without calls).
    pub fn round_trips_per_call(&self) -> f64 {
        per(self.round_trips, self.calls)
    }
}

/// Time spent in one remote method.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodCost {
    /// The method (`"get_users"`, or `"User.name"` for an attribute).
    pub name: String,
    /// Times it was called.
    pub count: u64,
    /// Total time of those calls, ns.
    pub total_ns: u64,
}

impl WireEvidence {
    /// Round trips per operation (0 without operations).
    pub fn round_trips_per_op(&self) -> f64 {
        per(self.round_trips, self.operations)
    }

    /// References received per operation, bound methods included (0 without operations).
    pub fn references_per_op(&self) -> f64 {
        per(self.references_received, self.operations)
    }

    /// References to data (objects, lists, dicts, iterators — bound methods left out)
    /// received per operation (0 without operations).
    pub fn data_references_per_op(&self) -> f64 {
        per(self.data_references(), self.operations)
    }

    /// References to data received: `references_received` less `method_references`.
    pub fn data_references(&self) -> u64 {
        self.references_received.saturating_sub(self.method_references)
    }

    /// Bound-method lookups (`conn.root.f`, one GETATTR each) as a share of round trips
    /// (0 without round trips).
    pub fn method_lookup_share(&self) -> f64 {
        per(self.method_references, self.round_trips)
    }

    /// `"GETATTR 10.0/op, CALLATTR 2.0/op"`, most frequent first; `None` when unknown.
    pub fn handler_breakdown(&self) -> Option<String> {
        if self.round_trips_by_handler.is_empty() || self.operations == 0 {
            return None;
        }
        let mut by: Vec<(&String, &u64)> = self.round_trips_by_handler.iter().filter(|(_, &n)| n > 0).collect();
        by.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let parts: Vec<String> =
            by.iter().map(|(h, &n)| format!("{h} {}/op", super::finding::number(per(n, self.operations)))).collect();
        Some(parts.join(", "))
    }
}

fn per(n: u64, ops: u64) -> f64 {
    if ops == 0 {
        0.0
    } else {
        n as f64 / ops as f64
    }
}

impl From<&WireStats> for WireEvidence {
    fn from(w: &WireStats) -> Self {
        WireEvidence {
            operations: w.measured_requests,
            round_trips: w.round_trips,
            references_received: w.refs_received,
            requests_from_server: w.requests_received,
            delayed_ack_pieces: w.split_frames_delayed_ack,
            ..WireEvidence::default()
        }
    }
}

impl WireEvidence {
    /// The figures of profiler telemetry over `operations` operations (what "per
    /// operation" means is the caller's: requests of a benchmark, pages an application
    /// served, sessions through the relay).
    ///
    /// The client is the side that sent [`Telemetry::client_direction`](crate::profile::Telemetry::client_direction)
    /// (the relay's clients, a profiled client, or the clients of a profiled server):
    /// round trips are the ones it waited for, references the proxies of the server's
    /// objects it received.
    pub fn from_telemetry(t: &crate::profile::Telemetry, operations: u64) -> Self {
        let client = t.client_direction();
        let server = client.opposite();
        let server_refs = t.references.iter().filter(|r| r.direction == server);
        let (received, alive) = server_refs.clone().fold((0, 0), |(n, a), r| (n + r.received, a + r.alive));
        let method_references = server_refs.filter(|r| r.type_name == "builtins.method").map(|r| r.received).sum();
        let mut top_methods: Vec<MethodCost> = t
            .methods
            .iter()
            .filter(|m| m.label != "DEL" && !m.label.starts_with("DEL "))
            .map(|m| MethodCost { name: m.label.clone(), count: m.count, total_ns: m.total_ns })
            .collect();
        top_methods.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then_with(|| a.name.cmp(&b.name)));
        top_methods.truncate(5);
        WireEvidence {
            operations,
            round_trips: t.direction(client).round_trips,
            round_trips_by_handler: t.direction(client).round_trips_by_handler.clone(),
            references_received: received,
            references_alive: Some(alive),
            inspect_requests: t.direction(client).requests_by_handler.get("INSPECT").copied().unwrap_or(0),
            requests_from_server: t.direction(server).requests,
            max_nesting_depth: Some(t.max_depth),
            top_methods,
            method_references,
            call_latency: call_latency(t, client),
            delayed_ack_pieces: t.c2s.split_frames_delayed_ack + t.s2c.split_frames_delayed_ack,
            per_operation: t
                .per_operation
                .iter()
                .map(|o| {
                    let mut attribute_reads: Vec<(String, u64)> =
                        o.attribute_reads.iter().map(|(k, v)| (k.clone(), *v)).collect();
                    attribute_reads.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                    OperationCost {
                        method: o.method.clone(),
                        calls: o.calls,
                        round_trips: o.round_trips,
                        attribute_reads,
                    }
                })
                .collect(),
        }
    }
}

/// Labels of calls timed per label, at most: a recorder keeps 10 000 calls, and a report
/// needs the methods that matter, not every attribute name.
const MAX_CALL_LABELS: usize = 64;

/// The durations of the client's answered calls in `t`'s history, by label (DEL left
/// out: nobody waits for it), the most frequent labels first.
fn call_latency(t: &crate::profile::Telemetry, client: crate::profile::Direction) -> Vec<(String, LatencyStats)> {
    let mut by_label: BTreeMap<&str, LatencyHistogram> = BTreeMap::new();
    for c in t.calls.iter().filter(|c| c.direction == client && c.handler != "DEL") {
        if let Some(ns) = c.duration_ns {
            if by_label.len() < MAX_CALL_LABELS || by_label.contains_key(c.label.as_str()) {
                by_label.entry(c.label.as_str()).or_default().record_ns(ns);
            }
        }
    }
    let mut out: Vec<(String, LatencyStats)> = by_label.into_iter().map(|(l, h)| (l.to_owned(), h.stats())).collect();
    out.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(&b.0)));
    out
}
