//! Cookbook: "Compare before and after optimization", "Reduce round trips by batching",
//! "Eliminate NetRef overhead" and "Prove an optimization is statistically significant".
//!
//! Measures three ways to fetch `--users` users' names and emails on one server:
//! *before*, a `get_user(id)` call per user and an attribute read per field (objects
//! travel as references); the cookbook's *dict* "fix", `get_user_dict(id)` and a read
//! per key; and *after*, one `get_users_batch(ids)` call returning a tuple of tuples.
//! Prints medians, p99s and the round trips each operation cost, then judges
//! before → after with the harness's bootstrap comparison of the two distributions.
//!
//! Corrected from the cookbook: a dict is not a fix — `dict` and `list` are not
//! brine-simple, so they arrive as references and every key is still a round trip (the
//! figures show it); only tuples of simple values come back by value. The
//! significance test compares whole latency distributions (bootstrap confidence
//! interval of the median ratio) rather than a t-test over five means.
//!
//! ```sh
//! cargo run --example before_after -- --users 20 --requests 100
//! ```

#[path = "support/mod.rs"]
mod support;

use rpycbench::bench::{Latency, Target};
use rpycbench::client::RemoteRef;
use rpycbench::metrics::BenchResult;
use rpycbench::server::ServerMode;
use rpycbench::{Connection, Value};
use support::{ms, value, Opt, Opts};

const USAGE: &str = "usage: before_after [--mode MODE] [--users N] [--requests N]
  --mode       server mode (default threaded)
  --users      users fetched per operation (default 10)
  --requests   operations measured per variant (default 60)
";
const OPTIONS: &[Opt] = &[value("mode"), value("users"), value("requests")];

fn main() -> std::process::ExitCode {
    support::run(compare, USAGE, OPTIONS)
}

fn compare(opts: &Opts) -> Result<(), Box<dyn std::error::Error>> {
    let mode: ServerMode = opts.get("mode", ServerMode::Threaded)?;
    let users: i64 = opts.get("users", 10)?;
    let requests: u64 = opts.get("requests", 60)?;
    let server = support::start(mode)?;
    let target = Target::server(&server);
    let run = |name: &str, f: &dyn Fn(&mut Connection) -> rpycbench::Result<()>| {
        Latency::new(name).requests(requests).warmup(3).run(&target, f)
    };
    let before = run("before: objects", &|c| objects(c, users));
    let dict = run("dict per key", &|c| dicts(c, users));
    let after = run("after: batch tuple", &|c| batch(c, users));
    server.stop()?;

    println!("\n{users} users (name and email) per operation, {requests} operations each:");
    for r in [&before, &dict, &after] {
        let l = r.latency.as_ref().ok_or("latency runs record latency")?;
        let w = r.wire.as_ref().ok_or("latency runs record wire traffic")?;
        println!(
            "  {:<20} median {:>8.3} ms  p99 {:>8.3} ms  round trips/op {:>5.1}  references/op {:>5.1}  success {:.0} %",
            r.name,
            ms(l.p50_ns),
            ms(l.p99_ns),
            w.round_trips_per_request,
            w.refs_received as f64 / w.measured_requests.max(1) as f64,
            r.outcomes.success_rate * 100.0
        );
    }
    let median = |r: &BenchResult| r.latency.as_ref().map_or(0.0, |l| l.p50_ns as f64);
    let trips = |r: &BenchResult| r.wire.as_ref().map_or(0.0, |w| w.round_trips_per_request);
    println!(
        "median improvement before → after: {:.1} %; round trips per operation {:.0} → {:.0} (dict: {:.0})",
        (1.0 - median(&after) / median(&before).max(1.0)) * 100.0,
        trips(&before),
        trips(&after),
        trips(&dict)
    );
    let judged = rpycbench::metrics::compare::compare(&before, &after, 10.0);
    for line in judged.describe() {
        println!("bootstrap: {line}");
    }
    Ok(())
}

/// Before: a call per user, and a round trip per attribute of each returned object.
fn objects(conn: &mut Connection, users: i64) -> rpycbench::Result<()> {
    for id in 0..users {
        let user: RemoteRef = conn.call("get_user", (id,))?.extract()?;
        let _name: String = conn.getattr(&user, "name")?.extract()?;
        let _email: String = conn.getattr(&user, "email")?.extract()?;
    }
    Ok(())
}

/// The cookbook's "return dicts": still a reference, still a round trip per key.
fn dicts(conn: &mut Connection, users: i64) -> rpycbench::Result<()> {
    for id in 0..users {
        let user: RemoteRef = conn.call("get_user_dict", (id,))?.extract()?;
        let _name: String = conn.getitem(&user, "name")?.extract()?;
        let _email: String = conn.getitem(&user, "email")?.extract()?;
    }
    Ok(())
}

/// After: one call; a tuple of `(id, name, email, status)` tuples arrives by value.
fn batch(conn: &mut Connection, users: i64) -> rpycbench::Result<()> {
    let ids: Vec<Value> = (0..users).map(Value::from).collect();
    let got: Vec<(i64, String, String, String)> = conn.call("get_users_batch", (ids,))?.extract()?;
    if got.len() as i64 != users {
        return Err(rpycbench::harness::Failed::msg(format!("asked for {users} users, got {}", got.len())).into());
    }
    Ok(())
}
