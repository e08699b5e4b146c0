use rpycbench::prelude::*;

#[rpyc_bench(requests = 1000, latency)]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
