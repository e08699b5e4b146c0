use rpycbench::prelude::*;

#[rpyc_bench(bandwidth, direction = download)]
fn download(conn: &mut Connection, size: usize) -> rpycbench::Result<()> {
    conn.call("download", (size as u64,)).map(drop)
}

fn main() {}
