use rpycbench::prelude::*;

#[rpyc_bench(bandwidth, sizes = [1024])]
fn upload(conn: &mut Connection, data: &Value) -> rpycbench::Result<()> {
    conn.call("upload", (data.clone(),)).map(drop)
}

fn main() {}
