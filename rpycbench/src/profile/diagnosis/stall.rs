//! `delayed_ack_stall`: requests that wait for the peer's delayed ACK.
//!
//! A sender with Nagle's algorithm on (rpyc never sets `TCP_NODELAY`) holds a small
//! segment back while earlier data is unacknowledged, and a receiver that has nothing
//! to send delays its ACK: Linux by about 40 ms, some other stacks by 200 ms. The two
//! meet whenever one message leaves in more than one segment (rpyc writes at most
//! 64 000 bytes per `send`, so any reply over that) or one side sends twice in a row
//! (a DEL after a reply): the request then takes the delayed-ACK timeout on top of its
//! real time. The figures are true — a Python client sees the same — but the time is
//! pure waiting, and the fix is one socket option.
//!
//! What tells a stall from a method that is simply slow: the requests cluster just
//! above the timeout while the same run (another payload size, or the other requests of
//! the series) shows the real service time is far below it, and the messages are small
//! enough that moving them cannot take that long. A cluster, not a spread: requests
//! queueing behind each other (a lock, the GIL) spread evenly across the band and the
//! stretches beside it, while stalled ones pile up in the band alone.

use super::finding::{number, Comparison, Evidence, Finding, FindingId, Severity};
use super::rules::{finding, ms};
use super::{Thresholds, WireEvidence};
// Delayed-ACK timeouts, ms, and the band of a stalled request around each: shared with
// `client::arrivals`, which reads the same stall off the frames.
use crate::client::arrivals::{DELAYED_ACK_BAND as BAND, DELAYED_ACK_TIMEOUTS_MS as TIMEOUTS_MS};
use crate::metrics::{format_bytes, BenchKind, BenchResult, LatencyHistogram, LatencyStats};

/// The real service time must be this far below the timeout for requests in the band
/// to be told apart from it.
const APART: f64 = 4.0;
/// Fewer stalled requests than this is no pattern.
const MIN_STALLED: u64 = 3;
/// The stretches beside the band, as fractions of the timeout: just below it and just
/// above it, each about as wide as the band.
const BESIDE: [(f64, f64); 2] = [(0.5, 0.95), (1.3, 1.75)];
/// The band must hold at least this many times the requests of either stretch beside it.
const CLUSTER: f64 = 2.0;
/// Larger payloads may really take 40 ms to move (256 KiB takes 20 ms at 100 Mb/s).
const MAX_PAYLOAD_BYTES: u64 = crate::client::arrivals::SMALL_FRAME_BYTES as u64;

/// One distribution of a result: the requests of a latency run, or one payload size.
struct Series<'a> {
    label: String,
    latency: &'a LatencyStats,
}

fn series(r: &BenchResult) -> Vec<Series<'_>> {
    match r.kind {
        BenchKind::Latency | BenchKind::Concurrent | BenchKind::Context => {
            r.latency.iter().map(|latency| Series { label: String::new(), latency }).collect()
        }
        BenchKind::Bandwidth | BenchKind::Transfer => r
            .sizes
            .iter()
            .filter(|s| s.size_bytes <= MAX_PAYLOAD_BYTES)
            .map(|s| Series { label: format!("{} {}", s.direction, format_bytes(s.size_bytes)), latency: &s.latency })
            .collect(),
        BenchKind::Connection => Vec::new(),
    }
}

/// What one series shows about one timeout.
struct Stalled {
    label: String,
    requests: u64,
    stalled: u64,
    /// Mean of the stalled requests, ms.
    stalled_mean_ms: f64,
}

/// The requests of `h` between `from` and `to` times `timeout_ms`, and their mean, ms.
fn between(h: &LatencyHistogram, timeout_ms: f64, (from, to): (f64, f64)) -> (u64, f64) {
    let (lo, hi) = ((timeout_ms * from * 1e6) as u64, (timeout_ms * to * 1e6) as u64);
    let (mut n, mut sum) = (0u64, 0f64);
    for v in h.inner().iter_recorded() {
        let value = h.inner().median_equivalent(v.value_iterated_to());
        if (lo..hi).contains(&value) {
            n += v.count_at_value();
            sum += value as f64 * v.count_at_value() as f64;
        }
    }
    (n, if n == 0 { 0.0 } else { sum / n as f64 / 1e6 })
}

/// The requests of `l` in the band of `timeout_ms`, and their mean, when they cluster
/// there (see [`CLUSTER`]).
fn in_band(l: &LatencyStats, timeout_ms: f64) -> Option<(u64, f64)> {
    let h = l.histogram().ok()?;
    let (n, mean) = between(&h, timeout_ms, BAND);
    let beside = BESIDE.iter().map(|&stretch| between(&h, timeout_ms, stretch).0).max().unwrap_or(0);
    (n > 0 && n as f64 >= CLUSTER * beside as f64).then_some((n, mean))
}

/// The fastest request of the run, ms: what the service really takes when nothing waits.
fn fastest_ms(all: &[Series<'_>]) -> Option<f64> {
    all.iter().filter(|s| s.latency.count > 0).map(|s| ms(s.latency.min_ns)).min_by(f64::total_cmp)
}

pub(super) fn delayed_ack_stall(r: &BenchResult, t: &Thresholds) -> Option<Finding> {
    stall_in(&r.name, &series(r), t)
}

/// The same reading of what a relay or a profiled application saw: the client's calls,
/// by method, as the recorder timed them from request to answer.
pub(super) fn delayed_ack_stall_in_calls(subject: &str, w: &WireEvidence, t: &Thresholds) -> Option<Finding> {
    let all: Vec<Series<'_>> =
        w.call_latency.iter().map(|(label, latency)| Series { label: label.clone(), latency }).collect();
    stall_in(subject, &all, t)
}

fn stall_in(subject: &str, all: &[Series<'_>], t: &Thresholds) -> Option<Finding> {
    let fastest = fastest_ms(all)?;
    for timeout in TIMEOUTS_MS {
        if fastest * APART > timeout {
            continue; // the service itself is too slow to tell a stall from its time
        }
        let stalled: Vec<Stalled> = all
            .iter()
            .filter_map(|s| {
                let (n, mean) = in_band(s.latency, timeout)?;
                Some(Stalled { label: s.label.clone(), requests: s.latency.count, stalled: n, stalled_mean_ms: mean })
            })
            .collect();
        let (total, hit): (u64, u64) =
            (all.iter().map(|s| s.latency.count).sum(), stalled.iter().map(|s| s.stalled).sum());
        let share = hit as f64 / total.max(1) as f64;
        if hit < MIN_STALLED || share < t.stall_min_share {
            continue;
        }
        return Some(report(subject, timeout, fastest, share, &stalled, t));
    }
    None
}

fn report(subject: &str, timeout: f64, fastest: f64, share: f64, stalled: &[Stalled], t: &Thresholds) -> Finding {
    let mut f = stall_finding(subject, &format!("the {} ms", number(timeout)), number(timeout));
    f.evidence.push(Evidence::new(
        &format!("share of requests taking {}–{} ms", number(timeout * BAND.0), number(timeout * BAND.1)),
        share,
        Comparison::AtLeast,
        t.stall_min_share,
        "stall_min_share",
    ));
    let mut lost = 0.0;
    for s in stalled {
        let what = if s.label.is_empty() { String::new() } else { format!("{}: ", s.label) };
        f.details.push(format!(
            "{what}{} of {} requests took {} ms on average",
            s.stalled,
            s.requests,
            number(s.stalled_mean_ms)
        ));
        lost += s.stalled as f64 * (s.stalled_mean_ms - fastest).max(0.0);
    }
    f.details.push(format!(
        "the fastest request of this run took {} ms; about {} s were spent waiting",
        number(fastest),
        number(lost / 1e3)
    ));
    f
}

/// The stall read from the messages themselves: their receiver saw them arrive in two
/// pieces a delayed-ACK timeout apart. It needs no fast request to compare with, so it
/// names a stall that every request of a run took.
pub(super) fn delayed_ack_stall_in_pieces(subject: &str, w: &WireEvidence, t: &Thresholds) -> Option<Finding> {
    let n = w.delayed_ack_pieces;
    let share = n as f64 / w.operations.max(1) as f64;
    if n < MIN_STALLED || share < t.stall_min_share {
        return None;
    }
    let mut f = stall_finding(subject, "a", "40 (Linux) or 200".into());
    f.evidence.push(Evidence::new(
        "messages held apart by a delayed ACK per operation",
        share,
        Comparison::AtLeast,
        t.stall_min_share,
        "stall_min_share",
    ));
    pieces_detail(&mut f, w);
    Some(f)
}

/// Adds what the receiver saw of the pieces, when it saw any, to a stall finding.
pub(super) fn pieces_detail(f: &mut Finding, w: &WireEvidence) {
    if w.delayed_ack_pieces > 0 {
        f.details.push(format!(
            "{} messages stopped one segment short of their end for a delayed-ACK timeout (38–52 ms or \
             190–260 ms), over {} operations: seen by the receiver, not inferred from latency",
            w.delayed_ack_pieces, w.operations
        ));
    }
}

/// The finding's text: `which` names the timeout ("the 40 ms", "a"), `ms` its length.
fn stall_finding(subject: &str, which: &str, ms: String) -> Finding {
    let mut f = finding(
        FindingId::DelayedAckStall,
        Severity::Warning,
        subject,
        "Requests stalled by Nagle's algorithm and delayed ACKs",
    );
    f.explanation = format!(
        "These requests take {which} delayed-ACK timeout on top of their real time: a message that leaves in more \
         than one segment (rpyc sends at most 64 000 bytes at a time), or two messages in a row, makes the sender \
         wait for an ACK the receiver is holding back. rpyc sets no TCP_NODELAY on its sockets, so Nagle's algorithm \
         holds the last segment. A Python client sees the same delay; unless the method itself sometimes waits about \
         {ms} ms, this time is lost."
    );
    f.action = "Set TCP_NODELAY on the sockets of both sides (checked with rpyc 6.0.2). In the server's service: `def \
                on_connect(self, conn): conn._channel.stream.sock.setsockopt(socket.IPPROTO_TCP, \
                socket.TCP_NODELAY, 1)`. In a Python client: `conn = \
                rpyc.utils.factory.connect_stream(rpyc.SocketStream.connect(host, port, nodelay=True), service, \
                config)`, or the same `setsockopt` on `conn._channel.stream.sock` after `rpyc.connect`. Replies are \
                the server's to send, so the server's side matters most for large replies."
        .into();
    f
}
