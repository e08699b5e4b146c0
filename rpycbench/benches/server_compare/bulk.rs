//! Bulk transfers: the native server moving a large payload each way, against raw TCP
//! moving the same bytes between two processes, measured in the same run.
//!
//! The raw reference is a [`Peer`] that reads the request's bytes and writes the
//! reply's, no framing or decoding: what loopback TCP does on this machine. Each side
//! is timed per operation, and the median operation gives the rate (a rate per run
//! would let one descheduled operation speak for all).

use super::peer::{Peer, PeerKind};
use super::Res;
use rpycbench::bench::BuiltinCalls;
use rpycbench::client::Connection;
use rpycbench::wire::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Median bytes per second of each direction, through the server and over raw TCP.
pub struct BulkRates {
    pub size: usize,
    pub upload: f64,
    pub download: f64,
    pub raw_upload: f64,
    pub raw_download: f64,
}

/// The median of `times`, as a rate for `size` bytes.
fn rate(size: usize, mut times: Vec<Duration>) -> f64 {
    times.sort_unstable();
    let median = times[times.len() / 2].as_secs_f64();
    size as f64 / median.max(f64::MIN_POSITIVE)
}

/// `op` timed `iterations` times after one untimed run.
fn timed(iterations: usize, mut op: impl FnMut() -> Res<()>) -> Res<Vec<Duration>> {
    op()?;
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        op()?;
        times.push(start.elapsed());
    }
    Ok(times)
}

/// Raw TCP: `request_len` bytes one way, `reply_len` back, per operation.
fn raw(request_len: usize, reply_len: usize, iterations: usize) -> Res<Vec<Duration>> {
    let peer = Peer::start(&PeerKind::Bulk { request_len, reply_len })?;
    let mut stream = TcpStream::connect(peer.addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let (request, mut reply) = (vec![0x5au8; request_len], vec![0u8; reply_len]);
    timed(iterations, || {
        stream.write_all(&request)?;
        stream.read_exact(&mut reply)?;
        Ok(())
    })
}

/// `size` bytes up and down through the server at `addr` (the built-in service's
/// `upload` and `download`), and over raw TCP, `iterations` times each.
pub fn measure(addr: SocketAddr, size: usize, iterations: usize) -> Res<BulkRates> {
    let mut conn = Connection::connect(addr)?;
    let payload = Value::from(rpycbench::server::payload(size as u64));
    let upload = timed(iterations, || Ok(conn.call_upload(&payload)?))?;
    let download = timed(iterations, || Ok(conn.call_download(size as u64)?))?;
    conn.close()?;
    // The replies of `upload` (an int) and the request of `download` are a few bytes.
    let raw_upload = raw(size, 16, iterations)?;
    let raw_download = raw(64, size, iterations)?;
    Ok(BulkRates {
        size,
        upload: rate(size, upload),
        download: rate(size, download),
        raw_upload: rate(size, raw_upload),
        raw_download: rate(size, raw_download),
    })
}
