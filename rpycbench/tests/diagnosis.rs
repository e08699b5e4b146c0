//! The diagnosis engine on real runs against a real native server process: the N+1
//! pattern is diagnosed as excessive round trips with its measured figure and the batch
//! version is not; a 20 ms `io_work` is I/O bound; half failing requests are exhaustion.

use rpycbench::bench::{Latency, Target};
use rpycbench::client::RemoteRef;
use rpycbench::metrics::BenchResult;
use rpycbench::profile::diagnosis::{diagnose, render_text, Finding, FindingId, Thresholds};
use rpycbench::server::{ServerHandle, ServerMode, ServerSpec};
use rpycbench::Connection;
use std::sync::atomic::{AtomicU64, Ordering};

fn start() -> ServerHandle {
    let spec =
        ServerSpec { binary: Some(env!("CARGO_BIN_EXE_rpycbench").into()), ..ServerSpec::new(ServerMode::Threaded) };
    spec.start().unwrap_or_else(|e| panic!("cannot start the threaded server: {e}"))
}

/// `get_users(10)`, then `.name` of each user: the N+1 pattern.
fn users_n_plus_one(conn: &mut Connection) -> rpycbench::Result<()> {
    let users: RemoteRef = conn.call("get_users", (10,))?.extract()?;
    let list: Vec<RemoteRef> = conn.collect(&users)?;
    for user in &list {
        let _name: String = conn.getattr(user, "name")?.extract()?;
    }
    Ok(())
}

/// One call: a tuple of `(id, name, email, status)` tuples, by value.
fn users_batch(conn: &mut Connection) -> rpycbench::Result<()> {
    // A tuple of ids (by value): Vec<Value> is a brine tuple.
    let ids: Vec<rpycbench::Value> = (0..10i64).map(rpycbench::Value::from).collect();
    let users: Vec<(i64, String, String, String)> = conn.call("get_users_batch", (ids,))?.extract()?;
    assert_eq!(users.len(), 10);
    Ok(())
}

fn with_id<'a>(findings: &'a [Finding], id: FindingId, subject: &str) -> Option<&'a Finding> {
    findings.iter().find(|f| f.id == id && f.subject == subject)
}

#[test]
fn real_runs_are_diagnosed() {
    let server = start();
    let target = Target::server(&server);
    let latency = |name: &str, n: u64| Latency::new(name).requests(n).warmup(2);

    let n_plus_one = latency("n_plus_one", 40).run(&target, users_n_plus_one);
    let batch = latency("batch", 40).run(&target, users_batch);
    let io = latency("io_work(0.02)", 25).run(&target, |c| c.call("io_work", (0.02,)).map(drop));
    let k = AtomicU64::new(0);
    let half = latency("half_errors", 40).sample_system(false).run(&target, |c| {
        if k.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
            c.call("raise_error", ("ValueError", "half")).map(drop)
        } else {
            c.call("ping", ()).map(drop)
        }
    });
    server.stop().expect("stop the server");

    let results: Vec<BenchResult> = vec![n_plus_one, batch, io, half];
    let findings = diagnose(&results, &Thresholds::default());
    let report = render_text(&findings);
    eprintln!("{report}");

    // N+1: the measured round trips per operation, straight from the wire counters.
    let measured = results[0].wire.as_ref().expect("wire stats").round_trips_per_request;
    assert!(measured > 20.0, "get_users(10) + 10 × .name should cost > 20 round trips, measured {measured}");
    let rt = with_id(&findings, FindingId::ExcessiveRoundTrips, "n_plus_one").expect(&report);
    assert_eq!(rt.evidence[0].measured, measured);
    assert!(
        rt.action.contains(&format!("measured: {}", rpycbench::profile::diagnosis::number(measured))),
        "{}",
        rt.action
    );
    assert!(with_id(&findings, FindingId::ReferenceOverhead, "n_plus_one").is_some(), "{report}");
    assert!(findings.iter().all(|f| f.subject != "batch"), "the batch version is healthy:\n{report}");
    assert!(results[1].wire.as_ref().unwrap().round_trips_per_request <= 1.1);

    // io_work(0.02): 20 ms at the median, the server idle.
    let io = with_id(&findings, FindingId::IoBound, "io_work(0.02)").expect(&report);
    assert!(io.evidence[0].measured >= 20.0, "{:?}", io.evidence);

    // raise_error half the time: exhaustion, the failure kind shown, critical and first.
    let ex = with_id(&findings, FindingId::ServerExhaustion, "half_errors").expect(&report);
    assert_eq!(ex.evidence[0].measured, 0.5);
    assert!(ex.details.iter().any(|d| d.contains("20 × remote") && d.contains("ValueError")), "{:?}", ex.details);
    assert_eq!(findings[0].id, FindingId::ServerExhaustion);
}
