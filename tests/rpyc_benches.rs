//! The harness as a downstream crate meets it: a `harness = false` test target whose
//! benchmarks are declared with `#[rpyc_bench]`, run by `cargo test` (or cargo-nextest),
//! each against its own server, with SLAs that fail the test when missed.
//!
//! Bounds are loose on purpose: this target proves the wiring on any machine (debug
//! builds, busy CI runners); a real project sets the bounds it means.

use rpycbench::prelude::*;
use std::sync::Arc;

/// One round trip to the built-in service, on the default native threaded server.
#[rpyc_bench(latency, requests = 200, p99_ms = 500)]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ())?;
    Ok(())
}

/// Many clients at once against both native server models; each server is its own test.
#[rpyc_bench(
    concurrent,
    clients = 4,
    requests_per_client = 50,
    servers = [threaded, forking],
    p99_ms = 500,
    min_success_rate = 0.99,
    max_round_trips = 1
)]
fn echo_under_load(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("echo", ("user-1",))?;
    Ok(())
}

/// Time to a usable connection: the function runs on each new connection, timed.
#[rpyc_bench(connection, connections = 20, servers = [threaded, forking], p99_ms = 1000)]
fn connect(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ())?;
    Ok(())
}

/// Upload bandwidth per payload size.
#[rpyc_bench(bandwidth, direction = upload, sizes = [1024, 65536], iterations = 5, min_bandwidth_mbps = 0.01)]
fn upload(conn: &mut Connection, data: &Value) -> rpycbench::Result<()> {
    conn.call("upload", (data.clone(),))?;
    Ok(())
}

/// Whole downloads of a larger payload.
#[rpyc_bench(transfer, direction = download, sizes = [262_144], iterations = 3, max_ms = 2000)]
fn download(conn: &mut Connection, size: u64) -> rpycbench::Result<()> {
    conn.call("download", (size,))?;
    Ok(())
}

/// A Rust service of the user's, served natively by this very binary in a process of its
/// own, in both models.
struct Greeter;

#[rpyc_service(name = "greeter.Greeter")]
impl Greeter {
    fn hello(&self, name: String) -> String {
        format!("hello, {name}")
    }
}

fn greeter() -> Arc<Greeter> {
    Arc::new(Greeter)
}

#[rpyc_bench(latency, requests = 100, rust_service = greeter, rust_mode = [threaded, forking], p99_ms = 500)]
fn greet(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("hello", ("bench",))?;
    Ok(())
}

/// A Python service of the user's, imported from a directory of this package and run by
/// a real rpyc 6.0.2 server (the interpreter is $RPYCBENCH_PYTHON, set by scripts/test).
#[rpyc_bench(
    latency,
    requests = 50,
    python_service = "greeter_service:GreeterService",
    python_path = "tests/downstream/python",
    p99_ms = 1000
)]
fn greet_python(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("hello", ("bench",))?;
    Ok(())
}

/// A staging server named by an environment variable; run it with
/// `RPYCBENCH_STAGING=host:port cargo test --test rpyc_benches -- --ignored`.
#[rpyc_bench(latency, requests = 100, external = "RPYCBENCH_STAGING", ignore)]
fn staging_ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ())?;
    Ok(())
}

rpycbench::main!();
