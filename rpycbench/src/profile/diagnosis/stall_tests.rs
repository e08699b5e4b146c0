//! `delayed_ack_stall`: the shapes a stall has, and the slow services that are not one.

use super::tests::{ids, one, result, with_cpu, LOOPBACK};
use super::*;
use crate::metrics::{BenchKind, LatencyHistogram, Outcomes, SizeResult};

const MS: u64 = 1_000_000;

/// A ping-sized call of which every `every`-th request took `stall_ms` (0.3 ms otherwise).
fn calls(n: u64, every: u64, stall_ms: u64) -> BenchResult {
    result("echo[python-threaded]", BenchKind::Latency, "python-threaded", LOOPBACK, n, |i| {
        if i % every == 0 {
            stall_ms * MS + (i % 5) * 300_000
        } else {
            300_000 + (i % 7) * 10_000
        }
    })
}

fn size(direction: &str, size_bytes: u64, latency_ns: impl Fn(u64) -> u64) -> SizeResult {
    let mut h = LatencyHistogram::new();
    (0..10).for_each(|i| h.record_ns(latency_ns(i)));
    SizeResult {
        direction: direction.into(),
        size_bytes,
        chunk_bytes: None,
        latency: h.stats(),
        mean_bps: 0.0,
        median_bps: 0.0,
        worst_bps: 0.0,
        outcomes: Outcomes {
            attempts: 10,
            successes: 10,
            failures: 0,
            success_rate: 1.0,
            late_starts: 0,
            errors: vec![],
            errors_other: 0,
        },
    }
}

/// A Python server's downloads, as measured: 1 KiB in 0.2 ms, 100 KiB (two segments)
/// 44 ms every time, 4 MiB 90 ms.
fn downloads() -> BenchResult {
    let mut r = result("bandwidth[python-threaded]", BenchKind::Bandwidth, "python-threaded", LOOPBACK, 0, |_| 0);
    r.latency = None;
    r.sizes = vec![
        size("download", 1024, |i| 200_000 + i * 1000),
        size("download", 100 << 10, |i| 43 * MS + i * 100_000),
        size("download", 4 << 20, |i| 90 * MS + i * 100_000),
    ];
    r
}

#[test]
fn one_request_in_ten_at_forty_ms_is_a_stall_with_its_share_and_the_fix() {
    let f = diagnose(&[with_cpu(calls(200, 10, 42), 3.0, 5.0)], &Thresholds::default());
    // The stall is the cause of the tail: no "severe contention" beside it.
    assert_eq!(ids(&f), ["delayed_ack_stall"]);
    let stall = one(&f, FindingId::DelayedAckStall);
    assert_eq!(stall.severity, Severity::Warning);
    assert!((stall.evidence[0].measured - 0.1).abs() < 1e-9, "{:?}", stall.evidence);
    assert!(stall.evidence[0].metric.contains("38–52 ms"), "{:?}", stall.evidence);
    assert!(stall.details[0].starts_with("20 of 200 requests took 4"), "{:?}", stall.details);
    assert!(stall.details.last().unwrap().contains("about 0.8"), "{:?}", stall.details);
    assert!(stall.action.contains("TCP_NODELAY") && stall.action.contains("on_connect"), "{}", stall.action);
    assert!(stall.action.contains("nodelay=True"), "{}", stall.action);
}

#[test]
fn a_download_that_always_stalls_while_small_ones_are_fast_names_its_size() {
    let f = diagnose(&[downloads()], &Thresholds::default());
    let stall = one(&f, FindingId::DelayedAckStall);
    assert_eq!(stall.details[0], "download 100 KiB: 10 of 10 requests took 43.5 ms on average", "{:?}", stall.details);
    // 4 MiB may really take 90 ms to move: not counted, and not listed.
    assert_eq!(stall.details.len(), 2, "{:?}", stall.details);
    assert!((stall.evidence[0].measured - 0.5).abs() < 1e-9, "10 of the 20 small requests: {:?}", stall.evidence);
}

#[test]
fn the_two_hundred_ms_timeout_of_other_stacks_is_found_too() {
    let f = diagnose(&[calls(200, 5, 205)], &Thresholds::default());
    let stall = one(&f, FindingId::DelayedAckStall);
    assert!(stall.evidence[0].metric.contains("190–260 ms"), "{:?}", stall.evidence);
    assert!(stall.explanation.contains("200 ms delayed-ACK timeout"), "{}", stall.explanation);
}

#[test]
fn a_method_that_takes_forty_ms_every_time_is_io_bound_not_a_stall() {
    // io_work(0.042): every request, the fastest too, in the band.
    let io = result("io_work[threaded]", BenchKind::Latency, "threaded", LOOPBACK, 100, |i| 42 * MS + i * 1000);
    let f = diagnose(&[with_cpu(io, 1.0, 2.0)], &Thresholds::default());
    assert_eq!(ids(&f), ["io_bound"]);
}

#[test]
fn a_few_stalls_or_a_share_below_the_setting_are_not_reported() {
    // Two requests of 200: too few to be a pattern.
    assert!(diagnose(&[calls(200, 100, 42)], &Thresholds::default()).is_empty());
    // One in ten, with the share raised above it.
    let t = Thresholds { stall_min_share: 0.2, ..Thresholds::default() };
    assert_eq!(ids(&diagnose(&[calls(200, 10, 42)], &t)), ["severe_contention"]);
    // Slow requests far from either timeout are no stall (nor anything else here).
    assert!(!ids(&diagnose(&[calls(200, 10, 90)], &Thresholds::default())).contains(&"delayed_ack_stall"));
}

#[test]
fn the_share_is_a_fraction() {
    let bad = Thresholds::from_json(r#"{"stall_min_share": 1.5}"#, "t.json").unwrap_err();
    assert!(bad.to_string().contains("stall_min_share"), "{bad}");
}

#[test]
fn calls_a_relay_timed_are_read_alike_by_method() {
    let timed = |n: u64, f: &dyn Fn(u64) -> u64| {
        let mut h = LatencyHistogram::new();
        (0..n).for_each(|i| h.record_ns(f(i)));
        h.stats()
    };
    let w = WireEvidence {
        operations: 40,
        round_trips: 40,
        call_latency: vec![
            ("CALL MediaService.fetch".into(), timed(20, &|i| if i % 2 == 0 { 44 * MS } else { 400_000 })),
            ("GETATTR MediaService.fetch".into(), timed(20, &|_| 100_000)),
        ],
        ..WireEvidence::default()
    };
    let f = Diagnosis::new(Thresholds::default()).telemetry("relay", w).findings();
    assert_eq!(ids(&f), ["delayed_ack_stall"], "{}", render_text(&f));
    assert_eq!(f[0].subject, "relay");
    assert_eq!(f[0].details[0], "CALL MediaService.fetch: 10 of 20 requests took 44.0 ms on average");
}

/// Requests queueing behind each other (8 clients on a lock-bound 5 ms method): spread
/// from 5 ms to 145 ms, a tenth of them inside the band, none clustered there.
#[test]
fn requests_spread_across_the_band_by_queueing_are_no_stall() {
    let spread = |i: u64| (5 + (i * 7) % 140) * MS;
    let r = result("quote[external]", BenchKind::Concurrent, "external", LOOPBACK, 200, spread);
    let f = diagnose(&[r], &Thresholds::default());
    assert!(!ids(&f).contains(&"delayed_ack_stall"), "{}", render_text(&f));
    // The same spread with a pile at 42 ms on top is one.
    let r = result("quote[external]", BenchKind::Concurrent, "external", LOOPBACK, 300, |i| {
        if i % 3 == 0 {
            42 * MS + i * 1000
        } else {
            spread(i)
        }
    });
    assert!(super::stall::delayed_ack_stall(&r, &Thresholds::default()).is_some());
}

/// Replies seen arriving in pieces a delayed-ACK timeout apart name the stall without a
/// single latency figure; too few of them are no pattern.
#[test]
fn replies_seen_in_pieces_are_a_stall_on_their_own() {
    let pieces = |n: u64, ops: u64| WireEvidence { operations: ops, delayed_ack_pieces: n, ..WireEvidence::default() };
    let f = Diagnosis::new(Thresholds::default()).telemetry("media", pieces(25, 30)).findings();
    assert_eq!(ids(&f), ["delayed_ack_stall"], "{}", render_text(&f));
    assert!(f[0].details[0].contains("25 messages stopped one segment short"), "{:?}", f[0].details);
    assert!(f[0].action.contains("TCP_NODELAY"));
    for (n, ops) in [(2, 30), (3, 1000)] {
        let f = Diagnosis::new(Thresholds::default()).telemetry("media", pieces(n, ops)).findings();
        assert!(f.is_empty(), "{n} of {ops}: {}", render_text(&f));
    }
    // Beside a stall read from latency, they are a detail of it.
    let mut r = calls(200, 10, 42);
    r.wire = Some(crate::metrics::WireStats {
        measured_requests: 200,
        requests_sent: 200,
        round_trips: 200,
        requests_received: 0,
        bytes_sent: 0,
        bytes_received: 0,
        refs_received: 0,
        refs_released: 0,
        round_trips_per_request: 1.0,
        bytes_per_request: 0.0,
        split_frames: 20,
        split_frames_delayed_ack: 20,
    });
    let f = diagnose(&[r], &Thresholds::default());
    assert_eq!(ids(&f), ["delayed_ack_stall"], "{}", render_text(&f));
    assert!(f[0].details.iter().any(|d| d.contains("seen by the receiver")), "{:?}", f[0].details);
}
