use rpycbench::prelude::*;

#[rpyc_bench(latency, requests = 100, duration_ms = 1000)]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
