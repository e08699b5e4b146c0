use rpycbench::prelude::*;

#[rpyc_bench(latency, clients = 32)]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
