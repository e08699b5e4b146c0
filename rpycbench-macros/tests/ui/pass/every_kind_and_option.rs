//! Every kind and every option, as a downstream crate writes them with only the prelude.
use rpycbench::prelude::*;
use std::sync::Arc;

mod services {
    use rpycbench::prelude::*;
    use rpycbench::server::BenchmarkService;
    use std::sync::Arc;

    pub fn make() -> Arc<dyn Service> {
        Arc::new(BenchmarkService::default())
    }
}

fn make_concrete() -> Arc<rpycbench::server::BenchmarkService> {
    Arc::new(rpycbench::server::BenchmarkService::default())
}

#[rpyc_bench(
    latency, requests = 1_000, warmup = 10, mean_ms = 1, p50_ms = 0.5, p90_ms = 1, p95_ms = 2, p99_ms = 5,
    p999_ms = 10, max_ms = 100, min_success_rate = 1, min_throughput_rps = 500.5, max_round_trips = 1,
    max_references = 0, regression_pct = 7.5, ignore
)]
fn latency_all(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

#[rpyc_bench(latency, duration_ms = 2_000, ignore = false, server = "python-threaded")]
fn latency_unit(conn: &mut Connection) {
    let _ = conn.call("ping", ());
}

#[rpyc_bench(connection, connections = 50, keep_open = true, p99_ms = 20, min_success_rate = 0.9)]
fn connection_all(conn: &mut Connection) -> Result<Object, String> {
    conn.call("ping", ()).map_err(|e| e.to_string())
}

#[rpyc_bench(
    bandwidth, direction = upload, sizes = [1024, 65_536], iterations = 5, warmup = 0, min_bandwidth_mbps = 10,
    p50_ms = 5, servers = [forking, python_forking]
)]
fn bandwidth_upload(conn: &mut Connection, data: &Value) -> rpycbench::Result<()> {
    conn.call("upload", (data.clone(),)).map(drop)
}

#[rpyc_bench(bandwidth, direction = "download", min_success_rate = 0.5, servers = threaded)]
fn bandwidth_download(conn: &mut Connection, size: u64) -> rpycbench::Result<()> {
    conn.call("download", (size,)).map(drop)
}

#[rpyc_bench(transfer, direction = download, sizes = [10_485_760], chunk_size = 1_048_576, iterations = 2,
             min_bandwidth_mbps = 100, max_ms = 1000, rust_service = services::make, rust_mode = [threaded, forking])]
fn transfer_download(conn: &mut Connection, size: u64) -> rpycbench::Result<()> {
    conn.call("download", (size,)).map(drop)
}

#[rpyc_bench(transfer, direction = upload, rust_service = make_concrete, rust_mode = forking)]
fn transfer_upload(conn: &mut Connection, data: &Value) -> rpycbench::Result<()> {
    conn.call("upload", (data.clone(),)).map(drop)
}

#[rpyc_bench(
    concurrent, clients = 32, requests_per_client = 100, rate = 1000, per_client, p99_ms = 50,
    min_success_rate = 0.99, min_throughput_rps = 100, max_round_trips = 2, max_references = 1,
    servers = [threaded, forking, python_threaded, "python-forking"],
    python_service = "bench_service:BenchService", python_path = "python", python_mode = [threaded, forking],
    external = "STAGING_RPYC_ADDR"
)]
fn concurrent_all(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

#[rpyc_bench(concurrent, per_client = false, python_service = "pkg.module:Class", python_mode = forking)]
pub(crate) fn concurrent_closed(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {
    let all = rpycbench::harness::benchmarks();
    assert_eq!(all.len(), 9);
    let servers: usize = all.iter().map(|b| b.servers.len()).sum();
    // 0 + 1 + 0 + 2 + 1 + 2 + 1 + (4 + 2 + 1) + 1
    assert_eq!(servers, 15);
}
