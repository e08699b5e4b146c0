//! The SLA gate of a small inventory service: `cargo test --release --test rpyc_benches`.
//!
//! Each benchmark is a test; each server it names is a separate test
//! (`lookup_under_load[threaded]`, `lookup_under_load[forking]`). A missed bound fails
//! the test with the statistic, the value, the bound, the server and the sample size.

use rpycbench::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

struct Inventory {
    stock: HashMap<&'static str, i64>,
}

/// The service under test: stock levels by item name. Each method is exposed, its
/// arguments bound and converted as a Python method's would be.
#[rpyc_service(name = "inventory.Inventory")]
impl Inventory {
    /// `conn.root.stock("widget")`: 0 for an item never stocked.
    fn stock(&self, item: String) -> i64 {
        self.stock.get(item.as_str()).copied().unwrap_or(0)
    }
}

/// Served natively by this test binary, in a process of its own, once per server.
fn inventory() -> Arc<Inventory> {
    Arc::new(Inventory { stock: HashMap::from([("widget", 12), ("gadget", 0)]) })
}

/// The round trip every call pays, against the built-in benchmark service.
#[rpyc_bench(latency, requests = 500, p99_ms = 50)]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ())?;
    Ok(())
}

/// One lookup is one round trip, fast in the tail; fail the build otherwise.
#[rpyc_bench(latency, requests = 500, rust_service = inventory, p99_ms = 50, max_round_trips = 1)]
fn lookup(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("stock", ("widget",))?;
    Ok(())
}

/// Eight clients at once, on both server models: every request must succeed.
#[rpyc_bench(
    concurrent,
    clients = 8,
    requests_per_client = 50,
    rust_service = inventory,
    rust_mode = [threaded, forking],
    p99_ms = 100,
    min_success_rate = 1.0,
    regression_pct = 20
)]
fn lookup_under_load(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("stock", ("gadget",))?;
    Ok(())
}

rpycbench::main!();
