use rpycbench::prelude::*;

struct Suite;

impl Suite {
    #[rpyc_bench(latency)]
    fn ping(&self, conn: &mut Connection) -> rpycbench::Result<()> {
        conn.call("ping", ()).map(drop)
    }
}

fn main() {}
