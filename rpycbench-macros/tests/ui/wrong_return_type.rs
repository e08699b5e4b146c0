use rpycbench::prelude::*;

#[rpyc_bench(latency)]
fn ping(conn: &mut Connection) -> u32 {
    conn.call("ping", ()).map(drop).unwrap();
    1
}

fn main() {}
