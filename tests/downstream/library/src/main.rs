//! The library example of docs/library.md, as a user writes it in a crate of their own.

use rpycbench::bench::{Latency, Target};
use rpycbench::server::{ServerMode, ServerSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A native threaded server in its own process and session, on an ephemeral port.
    let server = ServerSpec::new(ServerMode::Threaded).start()?;
    let result = Latency::new("ping").requests(1000).run(&Target::server(&server), |conn| {
        conn.call("ping", ())?; // one round trip: CALLATTR on the root
        Ok(())
    });
    let latency = result.latency.expect("latency runs record latency");
    println!("p50 {} ns, p99 {} ns, {:.0} req/s", latency.p50_ns, latency.p99_ns, result.throughput_rps.unwrap_or(0.0));
    Ok(())
}
