//! One result from the results of several workers that loaded one server at the same
//! time, each from its own process or machine (`rpycbench merge`).
//!
//! # What is added, and how
//!
//! - **Latency** distributions are added bucket by bucket (HdrHistogram `add`), so the
//!   merged percentiles are those of every worker's requests taken together, exactly as
//!   one histogram that had recorded them all would report them. Percentiles are never
//!   averaged.
//! - **Outcomes**, errors, wire counters and per-client figures are added up.
//! - **Throughput** is the successful requests of all workers over the *span*: from the
//!   earliest worker's start to the latest worker's end. Every request counted happened
//!   inside the span, so the figure is never inflated; a worker that started late
//!   lengthens the span and lowers the figure, and is flagged. The overlap (when all
//!   workers ran at once) is recorded beside it, but not divided by: requests made
//!   outside it would then count in a window that does not hold them.
//! - **Late workers**: each worker's start is compared with the median start; one that
//!   began more than the threshold after it (by default 10 % of the median worker's run,
//!   at least 100 ms) is flagged `late`. With no shared clock this cannot tell a late
//!   start from a clock that disagrees; the warning says both.
//!
//! Not merged: rounds (each worker has its own), system samples and the machine
//! reference (each describes one machine; they stay in the workers' files). The merged
//! result keeps the first worker's environment and the parameters all workers share.

use super::latency::LatencyHistogram;
use super::outcomes::Outcomes;
use super::result::{BenchKind, BenchResult, ClientResult, EndedEarly, LoadModel, WireStats};
use super::wall_clock::{format_unix_ns, WallClock};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The least late a worker must be to be flagged, whatever the run's length: below it,
/// process start-up and scheduling jitter would flag workers that started together.
pub const MIN_LATE_THRESHOLD: Duration = Duration::from_millis(100);
/// The share of the median worker's run a worker may start after the median start.
pub const LATE_SHARE: f64 = 0.10;

/// How a merged result was put together: the workers' own figures and the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MergeInfo {
    /// Each worker, in the order given.
    pub workers: Vec<WorkerSummary>,
    /// The earliest start of any worker's measured part (Unix ns).
    pub window_start_unix_ns: u64,
    /// The latest end of any worker's measured part (Unix ns).
    pub window_end_unix_ns: u64,
    /// How long every worker was measuring at once (0 when they never all were).
    pub overlap_ns: u64,
    /// A worker starting more than this after the median start is `late`.
    pub late_threshold_ns: u64,
    /// What a reader must know: late or early workers, differing `--start-at`s, no overlap.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One worker's own figures in a merged result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WorkerSummary {
    /// Where its result came from (the file given to `merge`).
    pub source: String,
    /// Its result's name.
    pub name: String,
    /// The host it ran on (a pod's name in Kubernetes).
    pub host: String,
    /// The start it was asked to wait for (`--start-at`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_start_unix_ns: Option<u64>,
    /// When its measured part began (Unix ns, its own clock).
    pub start_unix_ns: u64,
    /// When it ended.
    pub end_unix_ns: u64,
    /// Its start minus the median start of all workers (negative: earlier).
    pub start_offset_ns: i64,
    /// Started more than the threshold after the median start.
    pub late: bool,
    /// Its outcomes.
    pub attempts: u64,
    /// Its successful requests.
    pub successes: u64,
    /// Its failed requests.
    pub failures: u64,
    /// Its own throughput (successes over its own measured time).
    pub throughput_rps: Option<f64>,
    /// Its median latency.
    pub p50_ns: Option<u64>,
    /// Its 99th percentile.
    pub p99_ns: Option<u64>,
    /// Its slowest request.
    pub max_ns: Option<u64>,
}

/// How to merge.
#[derive(Clone, Debug, Default)]
pub struct MergeOptions {
    /// The merged result's name (default: the first worker's).
    pub name: Option<String>,
    /// A worker starting more than this after the median start is late (default: 10 %
    /// of the median worker's run, at least [`MIN_LATE_THRESHOLD`]).
    pub late_threshold: Option<Duration>,
}

/// Why results cannot be merged. `file` is where a result came from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no results to merge")]
    Empty,
    /// Results of different benchmark kinds.
    #[error("{file} is a {found} result but {first} is {expected}; merge only runs of the same benchmark")]
    Kind {
        /// The first result's file.
        first: String,
        /// Its kind.
        expected: &'static str,
        /// The result that differs.
        file: String,
        /// Its kind.
        found: &'static str,
    },
    /// Results that measured different things (method, server).
    #[error("{file} measured {what} {found} but {first} measured {expected}; merge only runs against the same target")]
    Target {
        /// The first result's file.
        first: String,
        /// What differs: `the method`, `the server at`.
        what: &'static str,
        /// The first result's value.
        expected: String,
        /// The result that differs.
        file: String,
        /// Its value.
        found: String,
    },
    /// A kind that merging does not cover.
    #[error("{file} is a {kind} result; merge takes latency, concurrent and connection results")]
    Unsupported {
        /// The result.
        file: String,
        /// Its kind.
        kind: &'static str,
    },
    /// A result without wall-clock times: its worker cannot be placed in the window.
    #[error("{file} has no wall-clock times (written by an older rpycbench?); rerun that worker with this version")]
    NoWallClock {
        /// The result.
        file: String,
    },
    /// A result that is itself a merge.
    #[error("{file} is already a merge of {workers} workers; merge the workers' own files instead")]
    AlreadyMerged {
        /// The result.
        file: String,
        /// How many workers it merged.
        workers: usize,
    },
    /// Open and closed loop results together.
    #[error("{file} ran a {found} load but {first} ran a {expected} load; merge only runs of the same load model")]
    Load {
        /// The first result's file.
        first: String,
        /// Its model.
        expected: &'static str,
        /// The result that differs.
        file: String,
        /// Its model.
        found: &'static str,
    },
    /// A stored histogram does not decode.
    #[error("{file}: {error}")]
    Histogram {
        /// The result.
        file: String,
        /// Why.
        error: super::latency::HistogramError,
    },
}

/// Merges `workers`, each a result with where it came from; see the module's docs.
pub fn merge(workers: &[(String, BenchResult)], options: &MergeOptions) -> Result<BenchResult, MergeError> {
    let (first_source, first) = workers.first().ok_or(MergeError::Empty)?;
    let mut clocks = Vec::with_capacity(workers.len());
    for (source, r) in workers {
        check_compatible(first_source, first, source, r)?;
        clocks.push(r.wall_clock.as_ref().ok_or_else(|| MergeError::NoWallClock { file: source.clone() })?);
    }
    let window_start = clocks.iter().map(|c| c.start_unix_ns).min().unwrap_or(0);
    let window_end = clocks.iter().map(|c| c.end_unix_ns).max().unwrap_or(0);
    let overlap = clocks
        .iter()
        .map(|c| c.end_unix_ns)
        .min()
        .unwrap_or(0)
        .saturating_sub(clocks.iter().map(|c| c.start_unix_ns).max().unwrap_or(0));
    let median_start = lower_median(clocks.iter().map(|c| c.start_unix_ns).collect());
    let threshold = options.late_threshold.map_or_else(
        || {
            let run = lower_median(clocks.iter().map(|c| c.span_ns()).collect()) as f64 * LATE_SHARE;
            (run as u64).max(nanos(MIN_LATE_THRESHOLD))
        },
        nanos,
    );

    let mut hist: Option<LatencyHistogram> = None;
    for (source, r) in workers {
        if let Some(l) = &r.latency {
            let h = l.histogram().map_err(|error| MergeError::Histogram { file: source.clone(), error })?;
            hist.get_or_insert_with(LatencyHistogram::new).merge(&h);
        }
    }
    let outcomes = Outcomes::sum(workers.iter().map(|(_, r)| &r.outcomes));
    let span_ns = window_end.saturating_sub(window_start);
    let throughput =
        hist.as_ref().map(|_| if span_ns == 0 { 0.0 } else { outcomes.successes as f64 / (span_ns as f64 / 1e9) });

    let summaries: Vec<WorkerSummary> =
        workers.iter().zip(&clocks).map(|((source, r), c)| summary(source, r, c, median_start, threshold)).collect();
    let warnings = warnings(&summaries, threshold, overlap);
    let requested =
        clocks[0].requested_start_unix_ns.filter(|t| clocks.iter().all(|c| c.requested_start_unix_ns == Some(*t)));
    let mut params = shared_params(workers);
    params.insert("workers".into(), workers.len().into());
    Ok(BenchResult {
        name: options.name.clone().unwrap_or_else(|| first.name.clone()),
        kind: first.kind,
        server: first.server.clone(),
        params,
        environment: first.environment.clone(),
        started_at: super::wall_clock::rfc3339(window_start, false),
        wall_time_ns: span_ns,
        load_model: load_model(workers)?,
        outcomes,
        latency: hist.map(|h| h.stats()),
        throughput_rps: throughput,
        sizes: Vec::new(),
        clients: clients(workers),
        system: None,
        wire: wire(workers),
        machine: None,
        ended_early: workers.iter().find_map(|(source, r)| {
            r.ended_early.as_ref().map(|e| EndedEarly { reason: e.reason, detail: format!("{source}: {}", e.detail) })
        }),
        wall_clock: Some(WallClock {
            host: String::new(),
            requested_start_unix_ns: requested,
            start_unix_ns: window_start,
            end_unix_ns: window_end,
        }),
        merged: Some(MergeInfo {
            workers: summaries,
            window_start_unix_ns: window_start,
            window_end_unix_ns: window_end,
            overlap_ns: overlap,
            late_threshold_ns: threshold,
            warnings,
        }),
    })
}

/// Refuses what cannot be merged with `first`: another kind, method or server, a merge.
fn check_compatible(first_source: &str, first: &BenchResult, source: &str, r: &BenchResult) -> Result<(), MergeError> {
    if matches!(r.kind, BenchKind::Bandwidth | BenchKind::Transfer) {
        return Err(MergeError::Unsupported { file: source.to_owned(), kind: r.kind.name() });
    }
    if let Some(m) = &r.merged {
        return Err(MergeError::AlreadyMerged { file: source.to_owned(), workers: m.workers.len() });
    }
    if r.kind != first.kind {
        return Err(MergeError::Kind {
            first: first_source.to_owned(),
            expected: first.kind.name(),
            file: source.to_owned(),
            found: r.kind.name(),
        });
    }
    let method = |r: &BenchResult| r.params.get("method").map(|m| m.to_string()).unwrap_or_else(|| "(none)".into());
    let address = |r: &BenchResult| format!("{} ({})", r.server.address.as_deref().unwrap_or("?"), r.server.mode);
    for (what, of) in [("the method", &method as &dyn Fn(&BenchResult) -> String), ("the server at", &address)] {
        if of(r) != of(first) {
            return Err(MergeError::Target {
                first: first_source.to_owned(),
                what,
                expected: of(first),
                file: source.to_owned(),
                found: of(r),
            });
        }
    }
    Ok(())
}

fn summary(source: &str, r: &BenchResult, c: &WallClock, median_start: u64, threshold: u64) -> WorkerSummary {
    let offset = i128::from(c.start_unix_ns) - i128::from(median_start);
    let offset = i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX });
    WorkerSummary {
        source: source.to_owned(),
        name: r.name.clone(),
        host: c.host.clone(),
        requested_start_unix_ns: c.requested_start_unix_ns,
        start_unix_ns: c.start_unix_ns,
        end_unix_ns: c.end_unix_ns,
        start_offset_ns: offset,
        late: offset > 0 && offset.unsigned_abs() > threshold,
        attempts: r.outcomes.attempts,
        successes: r.outcomes.successes,
        failures: r.outcomes.failures,
        throughput_rps: r.throughput_rps,
        p50_ns: r.latency.as_ref().map(|l| l.p50_ns),
        p99_ns: r.latency.as_ref().map(|l| l.p99_ns),
        max_ns: r.latency.as_ref().map(|l| l.max_ns),
    }
}

/// Sentences on what makes the merged figures less than one simultaneous run.
fn warnings(workers: &[WorkerSummary], threshold: u64, overlap: u64) -> Vec<String> {
    let by = |offset: i64| super::latency::format_ns(offset.unsigned_abs());
    let limit = super::latency::format_ns(threshold);
    let mut out = Vec::new();
    for w in workers {
        if w.late {
            out.push(format!(
                "{} started {} after the others' median start (threshold {limit}): it started late, or its clock \
                 disagrees with theirs; the merged throughput covers the whole span",
                w.source,
                by(w.start_offset_ns)
            ));
        } else if w.start_offset_ns < 0 && w.start_offset_ns.unsigned_abs() > threshold {
            out.push(format!(
                "{} started {} before the others' median start (threshold {limit}): its clock may disagree with theirs",
                w.source,
                by(w.start_offset_ns)
            ));
        }
    }
    let mut requested: Vec<Option<u64>> = workers.iter().map(|w| w.requested_start_unix_ns).collect();
    requested.dedup();
    if requested.len() > 1 {
        let shown: Vec<String> = requested.iter().map(|r| r.map_or("none".into(), format_unix_ns)).collect();
        out.push(format!("the workers were asked to start at different times (--start-at: {})", shown.join(", ")));
    }
    if overlap == 0 && workers.len() > 1 {
        out.push("the workers never all ran at once: the merged figures are not those of one simultaneous load".into());
    }
    out
}

/// The load model all workers share; open-loop rates add up.
fn load_model(workers: &[(String, BenchResult)]) -> Result<Option<LoadModel>, MergeError> {
    let name = |m: &Option<LoadModel>| match m {
        None => "none",
        Some(LoadModel::ClosedLoop) => "closed-loop",
        Some(LoadModel::OpenLoop { .. }) => "open-loop",
    };
    let (first_source, first) = &workers[0];
    let mut merged = first.load_model.clone();
    for (source, r) in &workers[1..] {
        merged = match (merged, &r.load_model) {
            (None, None) => None,
            (Some(LoadModel::ClosedLoop), Some(LoadModel::ClosedLoop)) => Some(LoadModel::ClosedLoop),
            (
                Some(LoadModel::OpenLoop { rate_per_sec, late_threshold_ns }),
                Some(LoadModel::OpenLoop { rate_per_sec: r2, late_threshold_ns: t2 }),
            ) => Some(LoadModel::OpenLoop {
                rate_per_sec: rate_per_sec + r2,
                late_threshold_ns: late_threshold_ns.max(*t2),
            }),
            _ => {
                return Err(MergeError::Load {
                    first: first_source.clone(),
                    expected: name(&first.load_model),
                    file: source.clone(),
                    found: name(&r.load_model),
                })
            }
        };
    }
    Ok(merged)
}

/// The parameters every worker ran with alike (those that differ are left out).
fn shared_params(workers: &[(String, BenchResult)]) -> BTreeMap<String, serde_json::Value> {
    let mut params = workers[0].1.params.clone();
    params.retain(|k, v| workers.iter().all(|(_, r)| r.params.get(k) == Some(v)));
    params
}

/// Every worker's clients, numbered on from the previous worker's, when all kept them.
fn clients(workers: &[(String, BenchResult)]) -> Option<Vec<ClientResult>> {
    let mut out = Vec::new();
    for (_, r) in workers {
        let offset = u32::try_from(out.len()).unwrap_or(u32::MAX);
        out.extend(r.clients.as_ref()?.iter().map(|c| ClientResult { client: offset + c.client, ..c.clone() }));
    }
    Some(out)
}

/// The wire traffic of all workers, when all counted it.
fn wire(workers: &[(String, BenchResult)]) -> Option<WireStats> {
    let mut sum = WireStats { round_trips_per_request: 0.0, bytes_per_request: 0.0, ..workers[0].1.wire.clone()? };
    for (_, r) in &workers[1..] {
        let w = r.wire.as_ref()?;
        sum.measured_requests += w.measured_requests;
        sum.requests_sent += w.requests_sent;
        sum.round_trips += w.round_trips;
        sum.requests_received += w.requests_received;
        sum.bytes_sent += w.bytes_sent;
        sum.bytes_received += w.bytes_received;
        sum.refs_received += w.refs_received;
        sum.refs_released += w.refs_released;
        sum.split_frames += w.split_frames;
        sum.split_frames_delayed_ack += w.split_frames_delayed_ack;
    }
    let per = |x: u64| if sum.measured_requests == 0 { 0.0 } else { x as f64 / sum.measured_requests as f64 };
    sum.round_trips_per_request = per(sum.round_trips);
    sum.bytes_per_request = per(sum.bytes_sent + sum.bytes_received);
    Some(sum)
}

/// The lower median (the middle value, or the lower of the two middle ones): with two
/// workers one late, the on-time one is the reference.
fn lower_median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len().saturating_sub(1) / 2).copied().unwrap_or(0)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
