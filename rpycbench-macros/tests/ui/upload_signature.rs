use rpycbench::prelude::*;

#[rpyc_bench(bandwidth, direction = upload)]
fn upload(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("upload", (vec![0u8; 1024],)).map(drop)
}

fn main() {}
