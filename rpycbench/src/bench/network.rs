//! The network's round trip to a remote server: raw TCP ping-pong with its companion's
//! echo there (see `server::remote`), over the same path as the benchmark's requests
//! (the same tunnel, or the same address), timed before and after each run.

use crate::metrics::NetworkRtt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Round trips timed each time: before the run, and again after it.
pub(crate) const ROUND_TRIPS: usize = 20;
/// The message: a small request, as most RPyC calls are (and as the machine
/// reference's loopback echo sends).
const MESSAGE: usize = 64;
/// How long one round trip may take before the echo is given up on.
const TIMEOUT: Duration = Duration::from_secs(3);

/// `n` round trips to the echo at `addr`, ns each; fewer (or none) when it stops
/// answering.
pub(crate) fn round_trips(addr: SocketAddr, n: usize) -> Vec<u64> {
    let mut times = Vec::with_capacity(n);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, TIMEOUT) else { return times };
    if stream.set_nodelay(true).and_then(|()| stream.set_read_timeout(Some(TIMEOUT))).is_err() {
        return times;
    }
    let message = [0x5a_u8; MESSAGE];
    let mut back = [0u8; MESSAGE];
    // One unmeasured round trip: the first pays for the connection's start (and, through
    // a tunnel, for ssh opening its channel).
    for i in 0..=n {
        let t0 = Instant::now();
        if stream.write_all(&message).and_then(|()| stream.read_exact(&mut back)).is_err() {
            break;
        }
        if i > 0 {
            times.push(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
    }
    times
}

/// The figures of both measurements together.
pub(crate) fn summarise(before: Vec<u64>, after: Vec<u64>) -> Option<NetworkRtt> {
    NetworkRtt::of(before.into_iter().chain(after).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_to_a_local_echo() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let echo = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 256];
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 || conn.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
        let times = round_trips(addr, 5);
        assert_eq!(times.len(), 5);
        let rtt = summarise(times, Vec::new()).expect("figures");
        assert!(rtt.min_ns <= rtt.median_ns && rtt.median_ns <= rtt.max_ns && rtt.round_trips == 5, "{rtt:?}");
        echo.join().expect("echo thread");
        let closed = crate::test_ports::ClosedPort::new();
        assert!(round_trips(closed.addr(), 3).is_empty(), "nothing listens there");
    }
}
