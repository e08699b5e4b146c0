use rpycbench::prelude::*;

#[rpyc_bench(latency)]
fn ping<T: Default>(conn: &mut Connection) -> rpycbench::Result<()> {
    let _ = T::default();
    conn.call("ping", ()).map(drop)
}

fn main() {}
