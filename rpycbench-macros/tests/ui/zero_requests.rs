use rpycbench::prelude::*;

#[rpyc_bench(latency, requests = 0)]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
