use rpycbench::prelude::*;

#[rpyc_bench(latency, remote = "user@host")]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

#[rpyc_bench(latency, remote = RPYC_REMOTE)]
fn echo(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("echo", (1,)).map(drop)
}

#[rpyc_bench(latency, external = "STAGING_RPYC_ADDR", remote = "RPYC_REMOTE")]
fn staging(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

#[rpyc_bench(latency, python_service = "my_service:MyService", remote = "RPYC_REMOTE")]
fn python(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn main() {}
