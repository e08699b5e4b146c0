use super::*;
use crate::metrics::ErrorCount;

const SECOND: u64 = 1_000_000_000;
/// 2026-01-01T00:00:00Z in Unix ns: the workers' shared start.
const T0: u64 = 1_767_225_600 * SECOND;

/// A worker's latency result: `values` (ns) answered, measured from `start` for `run` ns.
fn worker(values: &[u64], start: u64, run: u64) -> BenchResult {
    let mut h = LatencyHistogram::new();
    for v in values {
        h.record_ns(*v);
    }
    let mut r = BenchResult::for_test("latency[ping]", BenchKind::Latency, "external", &h, run);
    r.server.address = Some("10.0.0.1:18861".into());
    r.params.insert("method".into(), "ping".into());
    r.wall_clock = Some(WallClock {
        host: format!("host-{}", values.len()),
        requested_start_unix_ns: Some(T0),
        start_unix_ns: start,
        end_unix_ns: start + run,
    });
    r
}

fn named(results: Vec<BenchResult>) -> Vec<(String, BenchResult)> {
    results.into_iter().enumerate().map(|(i, r)| (format!("w{i}.json"), r)).collect()
}

#[test]
fn percentiles_are_those_of_all_requests_together_not_averages() {
    // Worker 0 is fast, worker 1 slow: the average of their medians (50.5 ms) is no
    // request's latency; the merged median is the union's.
    let fast: Vec<u64> = (1..=900).map(|i| i * 1000).collect();
    let slow: Vec<u64> = (1..=100).map(|i| 100_000_000 + i * 1000).collect();
    let merged =
        merge(&named(vec![worker(&fast, T0, SECOND), worker(&slow, T0, SECOND)]), &MergeOptions::default()).unwrap();
    let mut union = LatencyHistogram::new();
    for v in fast.iter().chain(&slow) {
        union.record_ns(*v);
    }
    let expected = union.stats();
    let got = merged.latency.as_ref().unwrap();
    assert_eq!(
        (got.count, got.p50_ns, got.p99_ns, got.max_ns),
        (1000, expected.p50_ns, expected.p99_ns, expected.max_ns)
    );
    assert_eq!(got.histogram().unwrap().stats(), expected);
    assert_eq!(merged.outcomes.successes, 1000);
    let workers = &merged.merged.as_ref().unwrap().workers;
    assert_eq!(workers.len(), 2);
    assert_eq!((workers[0].successes, workers[1].successes), (900, 100));
    assert_eq!(workers[1].p50_ns, Some(slow_median(&slow)));
}

fn slow_median(values: &[u64]) -> u64 {
    let mut h = LatencyHistogram::new();
    values.iter().for_each(|v| h.record_ns(*v));
    h.stats().p50_ns
}

#[test]
fn throughput_is_all_successes_over_the_span_and_counts_add_up() {
    // Two workers of 1000 requests, the second starting 0.5 s later: span 1.5 s.
    let values = vec![1_000_000; 1000];
    let mut a = worker(&values, T0, SECOND);
    let b = worker(&values, T0 + SECOND / 2, SECOND);
    a.outcomes.attempts += 3;
    a.outcomes.failures = 3;
    a.outcomes.errors = vec![ErrorCount { message: "boom".into(), count: 3 }];
    let merged = merge(&named(vec![a, b]), &MergeOptions::default()).unwrap();
    assert_eq!((merged.outcomes.attempts, merged.outcomes.successes, merged.outcomes.failures), (2003, 2000, 3));
    assert_eq!(merged.outcomes.errors, vec![ErrorCount { message: "boom".into(), count: 3 }]);
    assert_eq!(merged.wall_time_ns, 3 * SECOND / 2);
    let rps = merged.throughput_rps.unwrap();
    assert!((rps - 2000.0 / 1.5).abs() < 1e-6, "{rps}");
    let info = merged.merged.unwrap();
    assert_eq!(info.overlap_ns, SECOND / 2);
    assert_eq!(merged.params.get("workers"), Some(&serde_json::Value::from(2)));
    assert_eq!(merged.params.get("method"), Some(&serde_json::Value::from("ping")));
}

#[test]
fn a_worker_starting_late_is_flagged_and_the_others_are_not() {
    let values = vec![1_000_000; 10];
    let on_time = [T0, T0 + 20_000_000];
    let late = T0 + 2 * SECOND;
    let results = vec![
        worker(&values, on_time[0], 10 * SECOND),
        worker(&values, on_time[1], 10 * SECOND),
        worker(&values, late, 10 * SECOND),
    ];
    let merged = merge(&named(results), &MergeOptions::default()).unwrap();
    let info = merged.merged.unwrap();
    // 10 % of a 10 s run.
    assert_eq!(info.late_threshold_ns, SECOND);
    let flags: Vec<bool> = info.workers.iter().map(|w| w.late).collect();
    assert_eq!(flags, [false, false, true]);
    assert_eq!(info.workers[2].start_offset_ns, (2 * SECOND - 20_000_000) as i64);
    assert!(
        info.warnings.iter().any(|w| w.starts_with("w2.json started") && w.contains("clock")),
        "{:?}",
        info.warnings
    );
    // A threshold given overrides the default.
    let strict = MergeOptions { late_threshold: Some(Duration::from_millis(10)), ..MergeOptions::default() };
    let results = vec![worker(&values, on_time[0], SECOND), worker(&values, on_time[1], SECOND)];
    let info = merge(&named(results), &strict).unwrap().merged.unwrap();
    assert_eq!(info.workers.iter().map(|w| w.late).collect::<Vec<_>>(), [false, true]);
}

#[test]
fn different_kinds_methods_servers_and_old_files_are_refused() {
    let values = vec![1_000_000; 10];
    let base = worker(&values, T0, SECOND);
    let refused = |other: BenchResult| {
        merge(&named(vec![base.clone(), other]), &MergeOptions::default()).unwrap_err().to_string()
    };

    let kind = refused(BenchResult { kind: BenchKind::Concurrent, ..base.clone() });
    assert!(kind.contains("w1.json is a concurrent result but w0.json is latency"), "{kind}");
    let mut other_method = base.clone();
    other_method.params.insert("method".into(), "echo".into());
    assert!(refused(other_method).contains("the method"));
    let mut other_server = base.clone();
    other_server.server.address = Some("10.0.0.2:18861".into());
    let server = refused(other_server);
    assert!(server.contains("10.0.0.2:18861") && server.contains("same target"), "{server}");
    let old = refused(BenchResult { wall_clock: None, ..base.clone() });
    assert!(old.contains("w1.json has no wall-clock times"), "{old}");
    let bandwidth = refused(BenchResult { kind: BenchKind::Bandwidth, ..base.clone() });
    assert!(bandwidth.contains("merge takes latency"), "{bandwidth}");
    let merged = merge(&named(vec![base.clone(), base.clone()]), &MergeOptions::default()).unwrap();
    assert!(refused(merged).contains("already a merge of 2 workers"));
    assert!(matches!(merge(&[], &MergeOptions::default()), Err(MergeError::Empty)));
}

#[test]
fn open_loop_rates_add_up_and_parameters_that_differ_are_left_out() {
    let values = vec![1_000_000; 10];
    let open = |rate: f64, requests: u64| {
        let mut r = worker(&values, T0, SECOND);
        r.kind = BenchKind::Concurrent;
        r.load_model = Some(LoadModel::OpenLoop { rate_per_sec: rate, late_threshold_ns: 1000 });
        r.params.insert("requests_per_client".into(), requests.into());
        r
    };
    let merged = merge(&named(vec![open(100.0, 10), open(50.0, 20)]), &MergeOptions::default()).unwrap();
    assert_eq!(merged.load_model, Some(LoadModel::OpenLoop { rate_per_sec: 150.0, late_threshold_ns: 1000 }));
    assert!(!merged.params.contains_key("requests_per_client"));
    let mut closed = open(1.0, 10);
    closed.load_model = Some(LoadModel::ClosedLoop);
    let err = merge(&named(vec![open(1.0, 10), closed]), &MergeOptions::default()).unwrap_err().to_string();
    assert!(err.contains("closed-loop") && err.contains("open-loop"), "{err}");
}

#[test]
fn merged_results_round_trip_through_json() {
    let values = vec![1_000_000; 10];
    let merged =
        merge(&named(vec![worker(&values, T0, SECOND), worker(&values, T0, SECOND)]), &MergeOptions::default())
            .unwrap();
    let mut set = crate::metrics::ResultSet::new();
    set.push(merged);
    let back = crate::metrics::ResultSet::from_json(&set.to_json(), "merged.json").unwrap();
    assert_eq!(back, set);
}
