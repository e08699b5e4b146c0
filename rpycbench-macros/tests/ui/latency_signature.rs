use rpycbench::prelude::*;

#[rpyc_bench(latency)]
fn ping(conn: &mut Connection, times: u32) -> rpycbench::Result<()> {
    for _ in 0..times {
        conn.call("ping", ())?;
    }
    Ok(())
}

fn main() {}
