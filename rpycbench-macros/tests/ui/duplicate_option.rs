use rpycbench::prelude::*;

#[rpyc_bench(latency, requests = 1000, p99_ms = 5, requests = 2000)]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
