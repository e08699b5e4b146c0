//! Cookbook: "Diagnosis and Profiling" — the decision tree, run on a server you choose.
//!
//! Runs a few short benchmarks against one built-in server (a ping baseline, concurrent
//! pings, the N+1 pattern, per-key dict reads, a batch call, a 20 ms I/O wait, a
//! half-failing call, nested callbacks), prints what each measured, then the diagnosis
//! engine's findings: each with the measured figure, the threshold it crossed (all
//! configurable: `--thresholds FILE`, a JSON object of `Thresholds` fields) and the
//! action to take.
//!
//! Corrected from the cookbook: "return dicts instead of objects" does not remove round
//! trips — RPyC sends dicts and lists as references, so the `dict` workload below costs a
//! round trip per key, as the figures show; only tuples of simple values (`batch`) come
//! back by value. `self.exposed_x()` inside a server method is a local call: real
//! nesting is a callback that calls the server again (`nesting`). Success rate is
//! successes / attempts, and CPU is the server's own process tree during the run.
//!
//! ```sh
//! cargo run --example diagnose -- --mode python-threaded --workload all
//! ```

#[path = "support/mod.rs"]
mod support;

use rpycbench::bench::{Concurrent, Latency, Target};
use rpycbench::client::{Object, RemoteRef};
use rpycbench::kwargs;
use rpycbench::metrics::{BenchResult, ResultSet};
use rpycbench::profile::diagnosis::{render_text, Diagnosis, Thresholds, WireEvidence};
use rpycbench::server::ServerMode;
use rpycbench::{Connection, Value};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use support::{flag, ms, value, Opt, Opts};

const USAGE: &str =
    "usage: diagnose [--mode MODE] [--workload NAME[,NAME…]] [--requests N] [--thresholds FILE] [--json] [--save FILE]
  --mode        threaded (default), forking, python-threaded or python-forking
  --workload    all (default), or some of: ping, concurrent, n_plus_one, dict, batch, io, errors, nesting
  --requests    requests per latency run (default 40)
  --thresholds  a JSON file of diagnosis thresholds (any subset of the fields)
  --json        print the findings as JSON instead of text
  --save        also write the results (rpycbench/results/v1 JSON) to FILE
";
const OPTIONS: &[Opt] =
    &[value("mode"), value("workload"), value("requests"), value("thresholds"), flag("json"), value("save")];
const ALL: &[&str] = &["ping", "concurrent", "n_plus_one", "dict", "batch", "io", "errors", "nesting"];

fn main() -> std::process::ExitCode {
    support::run(diagnose, USAGE, OPTIONS)
}

fn diagnose(opts: &Opts) -> Result<(), Box<dyn std::error::Error>> {
    let mode: ServerMode = opts.get("mode", ServerMode::Threaded)?;
    let requests: u64 = opts.get("requests", 40)?;
    let mut workloads: Vec<String> = opts.list("workload", &["all".to_string()])?;
    if workloads.iter().any(|w| w == "all") {
        workloads = ALL.iter().map(|w| w.to_string()).collect();
    }
    if let Some(bad) = workloads.iter().find(|w| !ALL.contains(&w.as_str())) {
        return Err(format!("unknown workload {bad:?}: choose from all, {}", ALL.join(", ")).into());
    }
    let thresholds = match opts.get::<String>("thresholds", String::new())? {
        path if path.is_empty() => Thresholds::default(),
        path => Thresholds::load(std::path::Path::new(&path))?,
    };

    let server = support::start(mode)?;
    let target = Target::server(&server);
    let latency = |name: &str| Latency::new(format!("{name}[{mode}]")).requests(requests).warmup(2);
    let mut results: Vec<BenchResult> = Vec::new();
    let mut telemetry: Vec<(String, WireEvidence)> = Vec::new();
    for w in &workloads {
        let r = match w.as_str() {
            "ping" => latency("ping").requests(requests * 5).run(&target, |c| c.call("ping", ()).map(drop)),
            "concurrent" => Concurrent::new(format!("concurrent_ping[{mode}]"))
                .clients(4)
                .requests_per_client(requests)
                .run(&target, |c| c.call("ping", ()).map(drop)),
            "n_plus_one" => latency("n_plus_one").run(&target, n_plus_one),
            "dict" => latency("dict").run(&target, dict_per_key),
            "batch" => latency("batch").run(&target, batch),
            // At least 12 × 20 ms: long enough for the server's CPU to be sampled.
            "io" => latency("io_work(0.02)")
                .requests(requests.clamp(12, 20))
                .run(&target, |c| c.call("io_work", (0.02,)).map(drop)),
            "errors" => {
                let k = AtomicU64::new(0);
                latency("half_errors").run(&target, |c| {
                    if k.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
                        c.call("raise_error", ("ValueError", "invalid user id")).map(drop)
                    } else {
                        c.call("ping", ()).map(drop)
                    }
                })
            }
            _ => {
                // Nesting depth is not in the counters: the callback measures it.
                let deepest = Arc::new(AtomicU32::new(0));
                let r = latency("nesting").requests(requests.min(20)).run(&target, |c| nesting(c, &deepest));
                let mut wire = r.wire.as_ref().map(WireEvidence::from).unwrap_or_default();
                wire.max_nesting_depth = Some(deepest.load(Ordering::Relaxed));
                telemetry.push((r.name.clone(), wire));
                r
            }
        };
        results.push(r);
    }
    server.stop()?;
    let save: String = opts.get("save", String::new())?;
    if !save.is_empty() {
        let mut set = ResultSet::new();
        results.iter().cloned().for_each(|r| set.push(r));
        set.save(std::path::Path::new(&save))?;
    }

    // With --json, stdout carries the findings only; the table goes to stderr.
    let json = opts.flag("json");
    let say = |line: String| if json { eprintln!("{line}") } else { println!("{line}") };
    say(format!("\nmeasured against the {mode} server:"));
    say(format!(
        "  {:<26} {:>8} {:>9} {:>9} {:>8} {:>11} {:>9} {:>9}",
        "benchmark", "success", "p50 ms", "p99 ms", "p99/p50", "server CPU%", "trips/op", "refs/op"
    ));
    for r in &results {
        let (p50, p99, ratio) =
            r.latency.as_ref().map_or((0.0, 0.0, 0.0), |l| (ms(l.p50_ns), ms(l.p99_ns), l.tail_ratio()));
        let cpu = r.system.as_ref().and_then(|s| s.server.as_ref()).map_or(0.0, |s| s.cpu_percent_mean);
        let (trips, refs) = r.wire.as_ref().map_or((0.0, 0.0), |w| {
            (w.round_trips_per_request, w.refs_received as f64 / w.measured_requests.max(1) as f64)
        });
        say(format!(
            "  {:<26} {:>7.1}% {p50:>9.3} {p99:>9.3} {ratio:>8.1} {cpu:>11.1} {trips:>9.1} {refs:>9.1}",
            r.name,
            r.outcomes.success_rate * 100.0
        ));
    }

    let mut diagnosis = Diagnosis::new(thresholds).results(&results);
    for (subject, wire) in telemetry {
        diagnosis = diagnosis.telemetry(subject, wire);
    }
    let findings = diagnosis.findings();
    if json {
        println!("{}", serde_json::to_string_pretty(&findings)?);
    } else {
        println!("\n{}", render_text(&findings));
    }
    Ok(())
}

/// `users = get_users(10)`, then `user.name` for each: a round trip per user and more.
fn n_plus_one(conn: &mut Connection) -> rpycbench::Result<()> {
    let users: RemoteRef = conn.call("get_users", (10,))?.extract()?;
    for user in conn.collect::<RemoteRef>(&users)? {
        let _name: String = conn.getattr(&user, "name")?.extract()?;
    }
    Ok(())
}

/// The cookbook's "fix": a dict. It arrives as a reference; every key is a round trip.
fn dict_per_key(conn: &mut Connection) -> rpycbench::Result<()> {
    let user: RemoteRef = conn.call("get_user_dict", (7,))?.extract()?;
    for key in ["id", "name", "email", "status"] {
        conn.getitem(&user, key)?;
    }
    Ok(())
}

/// The real fix: one call returning a tuple of tuples of simple values.
fn batch(conn: &mut Connection) -> rpycbench::Result<()> {
    let ids: Vec<Value> = (0..10i64).map(Value::from).collect();
    let users: Vec<(i64, String, String, String)> = conn.call("get_users_batch", (ids,))?.extract()?;
    debug_assert_eq!(users.len(), 10);
    Ok(())
}

/// `nested(5, cb)` where the callback calls `nested` again: request → callback →
/// request → … on the wire. Records the deepest stack of callbacks (0 for a plain
/// request, 5 here), the profiler's meaning of nesting depth.
fn nesting(conn: &mut Connection, deepest: &Arc<AtomicU32>) -> rpycbench::Result<()> {
    let depth: i64 =
        conn.call_kw("nested", (5,), kwargs! { "callback" => reentering(deepest.clone(), 1) })?.extract()?;
    debug_assert_eq!(depth, 5);
    Ok(())
}

/// A callback, the `level`-th stacked one, that calls `nested` on the server again.
fn reentering(deepest: Arc<AtomicU32>, level: u32) -> Object {
    Object::callback(move |conn, args| {
        let d: i64 = args.arg(0)?;
        deepest.fetch_max(level, Ordering::Relaxed);
        if d == 0 {
            return Ok(Object::from(0i64));
        }
        let inner = reentering(deepest.clone(), level + 1);
        let n: i64 = conn.call_kw("nested", (d,), kwargs! { "callback" => inner })?.extract()?;
        Ok(Object::from(n))
    })
}
