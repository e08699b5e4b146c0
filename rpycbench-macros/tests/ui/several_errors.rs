use rpycbench::prelude::*;

#[rpyc_bench(latency, reqests = 10, warmup = -1, p99_ms = 5, p99_ms = 6, min_bandwidth_mbps = 10, regression_pct = 0)]
async fn ping(conn: &mut Connection, extra: u8) -> rpycbench::Result<()> {
    let _ = extra;
    conn.call("ping", ()).map(drop)
}

fn main() {}
