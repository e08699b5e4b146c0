use rpycbench::prelude::*;

#[rpyc_bench(latency, reqeusts = 1000)]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
