//! Verdicts from results shaped like real ones: rounds, wire counts, the machine.

use super::*;
use crate::metrics::{
    BenchKind, LatencyHistogram, LatencyStats, MachineReference, ReferenceMeasurement, RoundSummary, WireStats,
};

/// A latency result whose rounds have these medians (each round 100 requests around it).
fn result(round_medians_ns: &[u64]) -> BenchResult {
    let mut all = LatencyHistogram::new();
    let mut rounds = Vec::new();
    for (i, &m) in round_medians_ns.iter().enumerate() {
        let mut h = LatencyHistogram::new();
        for k in 0..100u64 {
            h.record_ns(m - m / 20 + m * k / 1000);
        }
        all.merge(&h);
        rounds.push(RoundSummary { p50_ns: m, ..RoundSummary::of(&h, i as u64 * 1_000_000, 1_000_000, 0) });
    }
    let mut r = BenchResult::for_test("latency[threaded]", BenchKind::Latency, "threaded", &all, 1_000_000_000);
    r.throughput_rps = None;
    r.latency = r.latency.map(|l| LatencyStats { rounds, ..l });
    r
}

fn with_wire(mut r: BenchResult, round_trips_per_request: f64, refs: u64) -> BenchResult {
    r.wire = Some(WireStats {
        measured_requests: 100,
        requests_sent: (round_trips_per_request * 100.0) as u64,
        round_trips: (round_trips_per_request * 100.0) as u64,
        requests_received: 0,
        bytes_sent: 6000,
        bytes_received: 6000,
        refs_received: refs,
        refs_released: refs,
        round_trips_per_request,
        bytes_per_request: 120.0,
        split_frames: 0,
        split_frames_delayed_ack: 0,
    });
    r
}

/// The machine: cross-CPU and same-CPU round trips, and the rest of its load.
fn with_machine(mut r: BenchResult, cross_ns: u64, same_ns: u64, other_load_pct: f64) -> BenchResult {
    let m = ReferenceMeasurement { loopback_rtt_ns: Some(cross_ns), same_cpu_rtt_ns: Some(same_ns), cpu_loop_ns: 1 };
    r.machine = Some(MachineReference {
        measurements: vec![m; 3],
        reply_poll_ns: 50_000,
        other_load_pct: Some(other_load_pct),
    });
    r
}

fn verdict(old: &BenchResult, new: &BenchResult) -> Option<Change> {
    compare(old, new, 10.0).change()
}

const STEADY: [u64; 10] = [100_000, 101_000, 99_000, 100_500, 99_500, 100_200, 99_800, 100_100, 99_900, 100_000];

#[test]
fn a_doubling_across_steady_rounds_regresses_and_a_rerun_does_not() {
    let old = result(&STEADY);
    let doubled: Vec<u64> = STEADY.iter().map(|m| m * 2).collect();
    assert_eq!(verdict(&old, &result(&doubled)), Some(Change::Regressed));
    assert_eq!(verdict(&result(&doubled), &old), Some(Change::Improved));
    let rerun: Vec<u64> = STEADY.iter().rev().copied().collect();
    assert_eq!(verdict(&old, &result(&rerun)), Some(Change::NoChange));
}

#[test]
fn rounds_that_disagree_make_a_verdict_inconclusive_not_regressed() {
    // Unchanged code on a machine whose rounds swing ±40 %.
    let noisy = [60_000, 140_000, 80_000, 150_000, 70_000, 130_000, 90_000, 120_000, 65_000, 145_000];
    let c = compare(&result(&STEADY), &result(&noisy), 10.0);
    assert_eq!(c.change(), Some(Change::Inconclusive), "{:?}", c.describe());
    assert!(c.describe()[0].contains("INCONCLUSIVE: too noisy (±"), "{:?}", c.describe());
}

#[test]
fn one_more_round_trip_is_a_regression_whatever_the_latency() {
    let old = with_wire(result(&STEADY), 1.0, 0);
    let new = with_wire(result(&STEADY), 2.0, 0);
    let c = compare(&old, &new, 10.0);
    assert_eq!(c.change(), Some(Change::Regressed));
    assert!(c.describe().contains(&"round trips per request 1 → 2: REGRESSED".to_owned()), "{:?}", c.describe());
    // References are exact counts too.
    let c = compare(&old, &with_wire(result(&STEADY), 1.0, 100), 10.0);
    assert!(c.describe().contains(&"references per request 0 → 1: REGRESSED".to_owned()), "{:?}", c.describe());
    // Fewer round trips is no regression.
    assert_eq!(verdict(&new, &old), Some(Change::NoChange));
}

#[test]
fn without_rounds_a_slowdown_is_only_inconclusive() {
    let strip = |mut r: BenchResult| {
        r.latency.as_mut().expect("latency").rounds.clear();
        r
    };
    let doubled: Vec<u64> = STEADY.iter().map(|m| m * 2).collect();
    let c = compare(&strip(result(&STEADY)), &strip(result(&doubled)), 10.0);
    assert_eq!(c.change(), Some(Change::Inconclusive), "{:?}", c.describe());
    assert!(c.describe()[0].contains("no rounds on one side"), "{:?}", c.describe());
}

#[test]
fn runs_under_different_loads_compare_slow_requests_but_not_fast_ones() {
    // The machine: 20 µs across CPUs, 5 µs on one; the new run had a busy loop beside it.
    let (idle, busy) = (|r| with_machine(r, 20_000, 5_000, 20.0), |r| with_machine(r, 20_000, 5_000, 130.0));
    // A 20 µs request that got 6 µs under load: the placement, not the code.
    let fast: Vec<u64> = STEADY.iter().map(|m| m / 5).collect();
    let faster: Vec<u64> = fast.iter().map(|m| m * 3 / 10).collect();
    let c = compare(&idle(result(&fast)), &busy(result(&faster)), 10.0);
    assert_eq!(c.change(), Some(Change::Inconclusive), "{:?}", c.describe());
    assert!(c.describe()[0].contains("different loads"), "{:?}", c.describe());
    // A 1 ms request 20 % slower under the same change of load: still a regression.
    let slow: Vec<u64> = STEADY.iter().map(|m| m * 10).collect();
    let slower: Vec<u64> = slow.iter().map(|m| m * 12 / 10).collect();
    assert_eq!(verdict(&idle(result(&slow)), &busy(result(&slower))), Some(Change::Regressed));
    // Alike loads: the fast request's change is judged.
    assert_eq!(verdict(&idle(result(&fast)), &idle(result(&faster))), Some(Change::Improved));
}

#[test]
fn sets_count_per_benchmark_and_notice_what_is_missing() {
    let mut old = crate::metrics::ResultSet::new();
    let mut new = crate::metrics::ResultSet::new();
    for name in ["a", "b"] {
        old.push(BenchResult { name: name.into(), ..result(&STEADY) });
    }
    new.push(BenchResult { name: "a".into(), ..result(&STEADY) });
    let c = compare_sets(&old, &new, 10.0);
    assert_eq!(c.only_old, ["b"]);
    assert!(c.missing());
    assert_eq!(c.counts(), Counts { unchanged: 1, ..Counts::default() });
    let renamed = {
        let mut s = crate::metrics::ResultSet::new();
        s.push(BenchResult { name: "c".into(), ..result(&STEADY) });
        s
    };
    assert!(compare_sets(&old, &renamed, 10.0).missing(), "nothing in common is missing everything");
}

#[test]
fn a_remote_server_against_a_local_baseline_is_warned_about() {
    let local = result(&STEADY);
    let mut remote = result(&STEADY);
    remote.server.remote =
        Some(crate::metrics::RemoteInfo { host: "bench@server1".into(), via: "tunnel".into(), network_rtt: None });
    let warned = |old: &BenchResult, new: &BenchResult| {
        environment_warnings(old, new).iter().any(|w| w.contains("network's round trip is part of every latency"))
    };
    assert!(warned(&local, &remote) && warned(&remote, &local));
    assert!(!warned(&remote, &remote.clone()) && !warned(&local, &local.clone()));
    let mut direct = remote.clone();
    direct.server.remote.as_mut().expect("remote").via = "direct".into();
    assert!(warned(&remote, &direct), "a tunnel against a direct route");
}
