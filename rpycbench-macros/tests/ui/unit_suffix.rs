use rpycbench::prelude::*;

#[rpyc_bench(latency, duration_ms = 10s)]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
