//! Cookbook: "Measure specific operations in your application" (`BenchmarkContext`).
//!
//! An application with two logical operations — looking up a user and creating an
//! order — measures each in its own `BenchmarkContext`: latency, successes and
//! failures, and the wire traffic each operation really caused (round trips and bytes,
//! counted on the connection). At the end, each context's result goes through the
//! diagnosis engine like any benchmark's.
//!
//! Corrected from the cookbook: bytes sent and received are counted on the wire, not
//! declared by hand (`bytes_sent=512`); a failed operation is recorded as a failure by
//! the context itself, with its error grouped, instead of relying on the caller to
//! call `record_request(success=False)` on every path.
//!
//! ```sh
//! cargo run --example app_integration -- --operations 500
//! ```

#[path = "support/mod.rs"]
mod support;

use rpycbench::bench::BenchmarkContext;
use rpycbench::client::Object;
use rpycbench::profile::diagnosis::{render_text, Diagnosis, Thresholds};
use rpycbench::server::ServerMode;
use rpycbench::{Connection, Value};
use support::{ms, value, Opt, Opts};

const USAGE: &str = "usage: app_integration [--mode MODE] [--operations N]
  --mode        server mode (default threaded)
  --operations  user lookups and order creations each (default 100)
";
const OPTIONS: &[Opt] = &[value("mode"), value("operations")];

fn main() -> std::process::ExitCode {
    support::run(app, USAGE, OPTIONS)
}

/// The application's own code: an order is "created" by the server echoing it back;
/// every tenth order is invalid and the server raises.
fn create_order(conn: &mut Connection, user_id: i64, items: &[&str]) -> rpycbench::Result<Object> {
    if user_id % 10 == 9 {
        return conn.call("raise_error", ("ValueError", "order has no items in stock"));
    }
    let items: Vec<Value> = items.iter().map(|&i| Value::from(i)).collect();
    conn.call("echo", ((user_id, Value::Tuple(items)),))
}

fn app(opts: &Opts) -> Result<(), Box<dyn std::error::Error>> {
    let mode: ServerMode = opts.get("mode", ServerMode::Threaded)?;
    let operations: i64 = opts.get("operations", 100)?;
    let server = support::start(mode)?;
    let mut conn = Connection::connect(server.addr())?;

    let mut users = BenchmarkContext::new("user_operations").with_system_sampling();
    let mut orders = BenchmarkContext::new("order_operations").with_system_sampling();
    for user_id in 0..operations {
        let user: (i64, String, String, String) =
            users.measure_on(&mut conn, |c| c.call("get_user_tuple", (user_id,)))?.extract()?;
        // The application handles a failed order; the context has already counted it.
        if let Err(e) = orders.measure_on(&mut conn, |c| create_order(c, user.0, &["book", "pen"])) {
            if user_id == 9 {
                println!("an order failed as expected: {}", e.to_string().lines().next().unwrap_or_default());
            }
        }
    }
    conn.close()?;
    server.stop()?;

    let results = [users.take_result(), orders.take_result()];
    for r in &results {
        let l = r.latency.as_ref().ok_or("contexts record latency")?;
        let w = r.wire.as_ref().ok_or("operations on a connection record wire traffic")?;
        println!(
            "{}: {} operations, {} failed, mean {:.3} ms, p99 {:.3} ms, {:.1} round trips and {:.0} bytes per operation",
            r.name,
            r.outcomes.attempts,
            r.outcomes.failures,
            ms(l.mean_ns),
            ms(l.p99_ns),
            w.round_trips_per_request,
            w.bytes_per_request
        );
        for e in &r.outcomes.errors {
            println!("  {} × {}", e.count, e.message);
        }
    }
    let findings = Diagnosis::new(Thresholds::default()).results(&results).findings();
    println!("\n{}", render_text(&findings));
    Ok(())
}
