use rpycbench::prelude::*;

#[rpyc_bench(latency, servers = [threaded, "python-threaded", asyncio, threaded])]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
