//! Running a declared benchmark kind with the user's function, at full size or, in
//! quick mode, at a tenth of it.

use super::registry::{BenchDef, BenchFn, Kind};
use crate::bench::{Bandwidth, Concurrent, ConnectionBench, Latency, Load, Target, Transfer, TransferOps};
use crate::client::{Connection, Object};
use crate::error::Result;
use crate::metrics::BenchResult;
use crate::Value;
use std::time::Duration;

/// Quick mode runs this fraction of the requests…
const QUICK_DIVISOR: u64 = 10;
/// …but never fewer than this many (or all of them, if fewer were asked for).
const QUICK_MIN: u64 = 5;

/// The size of a run: full, or quick.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    quick: bool,
}

impl Scale {
    /// Full size, or quick.
    pub fn new(quick: bool) -> Scale {
        Scale { quick }
    }

    /// `n` requests scaled: a tenth in quick mode, at least [`QUICK_MIN`].
    pub fn count(self, n: u64) -> u64 {
        if self.quick {
            (n / QUICK_DIVISOR).max(n.min(QUICK_MIN))
        } else {
            n
        }
    }

    fn count32(self, n: u32) -> u32 {
        u32::try_from(self.count(u64::from(n))).unwrap_or(n)
    }

    fn millis(self, ms: u64) -> Duration {
        Duration::from_millis(if self.quick { (ms / QUICK_DIVISOR).max(1) } else { ms })
    }
}

/// Runs `def`'s kind against `target`; the result is named `name`. An error means the
/// declaration pairs a kind with a function it cannot use (the macro prevents that).
pub fn run(def: &BenchDef, name: &str, target: &Target, scale: Scale) -> std::result::Result<BenchResult, String> {
    let mismatch = |kind: &str, wants: &str| Err(format!("{kind} benchmarks take {wants}, not {:?}", def.func));
    match (def.kind, def.func) {
        (Kind::Latency { requests, warmup, duration_ms }, BenchFn::Request(f)) => {
            let requests = scale.count(requests.unwrap_or(Latency::DEFAULT_REQUESTS));
            let warmup = scale.count(warmup.unwrap_or(Latency::DEFAULT_WARMUP));
            let mut bench = Latency::new(name).requests(requests).warmup(warmup);
            if let Some(ms) = duration_ms {
                bench = bench.duration(scale.millis(ms));
            }
            Ok(bench.run(target, f))
        }
        (Kind::Latency { .. }, _) => mismatch("latency", "fn(&mut Connection)"),
        (Kind::Connection { connections, keep_open }, BenchFn::Request(f)) => {
            // The function runs on each new connection inside the timed part: wrap the
            // connection factory, keeping the server's identity and processes.
            let inner = target.clone();
            let wrapped = target.with_factory(move || {
                let mut conn = inner.connect()?;
                f(&mut conn)?;
                Ok(conn)
            });
            let connections = scale.count(connections.unwrap_or(ConnectionBench::DEFAULT_CONNECTIONS));
            let mut result = ConnectionBench::new(name).connections(connections).keep_open(keep_open).run(&wrapped);
            result.environment = target.environment();
            Ok(result)
        }
        (Kind::Connection { .. }, _) => mismatch("connection", "fn(&mut Connection)"),
        (Kind::Bandwidth { sizes, iterations, warmup }, func) => {
            let mut bench = Bandwidth::new(name)
                .payload(super::servers::payload_from_env()?)
                .iterations(scale.count32(iterations.unwrap_or(Bandwidth::DEFAULT_ITERATIONS)))
                .warmup(scale.count32(warmup.unwrap_or(Bandwidth::DEFAULT_WARMUP)));
            if let Some(sizes) = sizes {
                bench = bench.sizes(sizes.to_vec());
            }
            Ok(match func {
                BenchFn::Upload(f) => bench.directions(true, false).run(target, f, |_, _| Ok(())),
                BenchFn::Download(f) => bench.directions(false, true).run(target, |_, _| Ok(()), f),
                // A request function has no payload to move: the built-in service's own
                // upload and download are measured.
                BenchFn::Request(_) => bench.run_builtin(target),
            })
        }
        (Kind::Transfer { sizes, chunk_size, iterations }, func) => {
            let mut bench =
                Transfer::new(name).iterations(scale.count32(iterations.unwrap_or(Transfer::DEFAULT_ITERATIONS)));
            bench = bench.payload(super::servers::payload_from_env()?);
            if let Some(sizes) = sizes {
                bench = bench.sizes(sizes.to_vec());
            }
            if let Some(chunk_size) = chunk_size {
                bench = bench.chunk_size(chunk_size);
            }
            Ok(match func {
                BenchFn::Upload(f) => {
                    bench.directions(true, false).modes(true, false).run(target, &mut WholeTransfers::upload(f))
                }
                BenchFn::Download(f) => {
                    bench.directions(false, true).modes(true, false).run(target, &mut WholeTransfers::download(f))
                }
                BenchFn::Request(_) => bench.run_builtin(target),
            })
        }
        (Kind::Concurrent { clients, requests_per_client, rate, per_client }, BenchFn::Request(f)) => {
            let load = rate.map_or(Load::ClosedLoop, |rate_per_sec| Load::OpenLoop { rate_per_sec });
            let mut bench = Concurrent::new(name)
                .requests_per_client(
                    scale.count(requests_per_client.unwrap_or(Concurrent::DEFAULT_REQUESTS_PER_CLIENT)),
                )
                .load(load)
                .per_client(per_client);
            if let Some(clients) = clients {
                bench = bench.clients(clients);
            }
            Ok(bench.run(target, f))
        }
        (Kind::Concurrent { .. }, _) => mismatch("concurrent", "fn(&mut Connection)"),
    }
}

/// Whole-file transfers through the user's function; the chunked operations are never
/// called because only whole transfers are measured.
struct WholeTransfers {
    upload: Option<fn(&mut Connection, &Value) -> Result<()>>,
    download: Option<fn(&mut Connection, u64) -> Result<()>>,
}

impl WholeTransfers {
    fn upload(f: fn(&mut Connection, &Value) -> Result<()>) -> Self {
        WholeTransfers { upload: Some(f), download: None }
    }

    fn download(f: fn(&mut Connection, u64) -> Result<()>) -> Self {
        WholeTransfers { upload: None, download: Some(f) }
    }
}

impl TransferOps for WholeTransfers {
    fn upload(&mut self, conn: &mut Connection, data: &Value) -> Result<()> {
        self.upload.map_or(Ok(()), |f| f(conn, data))
    }
    fn upload_chunked(&mut self, _: &mut Connection, _: &Object) -> Result<()> {
        Ok(())
    }
    fn download(&mut self, conn: &mut Connection, size: u64) -> Result<()> {
        self.download.map_or(Ok(()), |f| f(conn, size))
    }
    fn download_chunked(&mut self, _: &mut Connection, _: u64, _: u64) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_mode_keeps_a_tenth_but_a_few_at_least() {
        let quick = Scale::new(true);
        assert_eq!(quick.count(1000), 100);
        assert_eq!(quick.count(20), 5);
        assert_eq!(quick.count(3), 3);
        assert_eq!(Scale::new(false).count(1000), 1000);
    }
}
