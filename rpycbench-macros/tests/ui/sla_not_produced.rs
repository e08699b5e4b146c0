use rpycbench::prelude::*;

#[rpyc_bench(connection, p99_ms = 10, min_throughput_rps = 100)]
fn connect(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
