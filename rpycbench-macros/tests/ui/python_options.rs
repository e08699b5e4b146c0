use rpycbench::prelude::*;

#[rpyc_bench(latency, python_service = "my_service.MyService", rust_mode = forking, external = "not a var")]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
