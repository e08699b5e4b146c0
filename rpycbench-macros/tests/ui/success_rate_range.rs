use rpycbench::prelude::*;

#[rpyc_bench(concurrent, clients = 8, min_success_rate = 1.5)]
fn fetch(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
