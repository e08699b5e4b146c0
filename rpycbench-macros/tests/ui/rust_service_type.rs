use rpycbench::prelude::*;

fn make() -> String {
    "not a service".to_owned()
}

#[rpyc_bench(latency, rust_service = make)]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
