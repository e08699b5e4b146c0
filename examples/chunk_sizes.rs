//! Cookbook: "Optimize large file transfers" and "Tune chunk sizes" — throughput of a
//! large transfer per chunk size, against the whole transfer in one call.
//!
//! For each chunk size: upload chunked (the server iterates the client's list of
//! chunks, one callback per chunk) and download chunked two ways — the built-in
//! `download_chunked`, which returns a *list* (a reference iterated one round trip per
//! chunk), and `download_chunked_tuple`, which returns a tuple of chunks by value in a
//! single reply. Prints MB/s and round trips per transfer, and the best chunk size.
//!
//! Corrected from the cookbook: the chunk size is not the only cost of a chunked
//! download — returning a list makes every chunk a round trip; a tuple does not.
//! Throughput is per size and direction, from that size's own bytes and time.
//!
//! ```sh
//! cargo run --release --example chunk_sizes -- --size 104857600 --chunks 65536,1048576
//! ```

#[path = "support/mod.rs"]
mod support;

use rpycbench::bench::{BuiltinTransfer, Target, Transfer, TransferOps};
use rpycbench::client::Object;
use rpycbench::metrics::BenchResult;
use rpycbench::server::ServerMode;
use rpycbench::{Connection, Value};
use support::{value, Opt, Opts};

const USAGE: &str = "usage: chunk_sizes [--mode MODE] [--size BYTES] [--chunks B,B,…] [--iterations N]
  --mode        server mode (default threaded)
  --size        bytes per transfer (default 2097152)
  --chunks      chunk sizes in bytes (default 16384,65536,262144,1048576)
  --iterations  transfers per size, direction and chunk size (default 2)
";
const OPTIONS: &[Opt] = &[value("mode"), value("size"), value("chunks"), value("iterations")];

fn main() -> std::process::ExitCode {
    support::run(tune, USAGE, OPTIONS)
}

/// The built-in operations, except that chunked downloads use `download_chunked_tuple`.
struct TupleDownload;

impl TransferOps for TupleDownload {
    fn upload(&mut self, conn: &mut Connection, data: &Value) -> rpycbench::Result<()> {
        BuiltinTransfer.upload(conn, data)
    }
    fn upload_chunked(&mut self, conn: &mut Connection, chunks: &Object) -> rpycbench::Result<()> {
        BuiltinTransfer.upload_chunked(conn, chunks)
    }
    fn download(&mut self, conn: &mut Connection, size: u64) -> rpycbench::Result<()> {
        BuiltinTransfer.download(conn, size)
    }
    fn download_chunked(&mut self, conn: &mut Connection, size: u64, chunk: u64) -> rpycbench::Result<()> {
        let chunks: Vec<Vec<u8>> = conn.call("download_chunked_tuple", (size, chunk))?.extract()?;
        let total: usize = chunks.iter().map(Vec::len).sum();
        if total as u64 != size {
            return Err(rpycbench::harness::Failed::msg(format!("received {total} bytes instead of {size}")).into());
        }
        Ok(())
    }
}

fn mb_s(r: &BenchResult, direction: &str) -> f64 {
    r.sizes.iter().find(|s| s.direction == direction).map_or(0.0, |s| s.mean_bps / 1e6)
}

fn trips(r: &BenchResult) -> f64 {
    r.wire.as_ref().map_or(0.0, |w| w.round_trips_per_request)
}

fn tune(opts: &Opts) -> Result<(), Box<dyn std::error::Error>> {
    let mode: ServerMode = opts.get("mode", ServerMode::Threaded)?;
    let size: u64 = opts.get("size", 2 << 20)?;
    let chunk_sizes: Vec<u64> = opts.list("chunks", &[16 << 10, 64 << 10, 256 << 10, 1 << 20])?;
    let iterations: u32 = opts.get("iterations", 2)?;
    if chunk_sizes.contains(&0) {
        return Err("chunk sizes must be positive".into());
    }
    let server = support::start(mode)?;
    let target = Target::server(&server);
    let transfer = |name: String| Transfer::new(name).sizes([size]).iterations(iterations);

    let whole = transfer("whole".into()).modes(true, false).run_builtin(&target);
    println!("\n{size} bytes per transfer, {iterations} transfers each:");
    println!(
        "  whole (one call)      upload {:>8.1} MB/s   download {:>8.1} MB/s   round trips/transfer {:.1}",
        mb_s(&whole, "upload"),
        mb_s(&whole, "download"),
        trips(&whole)
    );
    let mut best = (0u64, 0.0f64);
    for &chunk in &chunk_sizes {
        let upload = transfer(format!("upload_{chunk}"))
            .chunk_size(chunk)
            .modes(false, true)
            .directions(true, false)
            .run_builtin(&target);
        let list = transfer(format!("list_{chunk}"))
            .chunk_size(chunk)
            .modes(false, true)
            .directions(false, true)
            .run_builtin(&target);
        let tuple = transfer(format!("tuple_{chunk}"))
            .chunk_size(chunk)
            .modes(false, true)
            .directions(false, true)
            .run(&target, &mut TupleDownload);
        let up = mb_s(&upload, "upload");
        println!(
            "  chunk {:>5} KiB       upload {up:>8.1} MB/s ({:.0} callbacks/transfer)   download list {:>8.1} MB/s ({:.1} round trips)   tuple {:>8.1} MB/s ({:.1} round trips)",
            chunk >> 10,
            upload.wire.as_ref().map_or(0.0, |w| w.requests_received as f64 / w.measured_requests.max(1) as f64),
            mb_s(&list, "download"),
            trips(&list),
            mb_s(&tuple, "download"),
            trips(&tuple)
        );
        for r in [&upload, &list, &tuple] {
            if r.outcomes.failures > 0 {
                return Err(
                    format!("{}: {} transfers failed: {:?}", r.name, r.outcomes.failures, r.outcomes.errors).into()
                );
            }
        }
        if up > best.1 {
            best = (chunk, up);
        }
    }
    server.stop()?;
    println!("optimal upload chunk size: {} KiB ({:.1} MB/s)", best.0 >> 10, best.1);
    Ok(())
}
