//! Ports for tests that run in parallel with others: one that refuses every connection,
//! and one a server under test may bind, neither taken from under the test by chance.
//!
//! Shared by file (`#[path]`) with the root package's tests and the library's unit
//! tests, so it depends on nothing but `std` and `socket2`.

// Each user includes this file and uses only part of it.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};

/// A loopback address that refuses every connection for as long as this value lives.
///
/// Its port is held by a socket that is bound but never listens. A port bound and then
/// released would not do: between the release and the connect, a parallel test can start
/// listening there, and on Linux a connect to a free port of the ephemeral range can even
/// succeed by connecting to itself (TCP simultaneous open, when the kernel picks that very
/// port as the source port). A bound port is neither: no other socket can bind it, nothing
/// listens so a connect is answered with a reset, and the kernel never picks a port held
/// by `bind` as the source port of an outgoing connection.
pub struct ClosedPort {
    // Held, never read: dropping it would free the port.
    _socket: socket2::Socket,
    addr: SocketAddr,
}

impl ClosedPort {
    /// Binds an ephemeral loopback port without listening on it, and checks that a
    /// connect to it is refused.
    pub fn new() -> Self {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into()).expect("bind an ephemeral loopback port");
        let addr = socket.local_addr().expect("its address").as_socket().expect("an IPv4 address");
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            other => panic!("a connect to {addr}, bound but not listening, should be refused; got {other:?}"),
        }
        ClosedPort { _socket: socket, addr }
    }

    /// Takes `port` on 127.0.0.1 the same way, e.g. the port of a server that was just
    /// killed, so that nothing else can start listening there while a test expects it
    /// to refuse. Connections of the dead server left in TIME_WAIT do not stand in the
    /// way (`SO_REUSEADDR`); a socket still listening there does.
    pub fn at(port: u16) -> std::io::Result<Self> {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        socket.bind(&addr.into())?;
        Ok(ClosedPort { _socket: socket, addr })
    }

    /// The address (127.0.0.1 and the held port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The held port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        Self::new()
    }
}

/// A loopback port that was free a moment ago and lies outside the kernel's ephemeral
/// range, for a test that must hand an explicit port to a server.
///
/// Tests that bind port 0 get ports of the ephemeral range, so they cannot take this one;
/// a process outside the tests still could, so a caller that sees "address in use" should
/// ask again (different calls give different ports).
pub fn port_outside_ephemeral_range() -> u16 {
    let (low, high) = ephemeral_range();
    // The candidates: the registered ports below the range, and those above it.
    let below = 1024..low;
    let above = high.saturating_add(1)..=u16::MAX;
    let candidates: Vec<u16> = below.chain(above).collect();
    assert!(!candidates.is_empty(), "the ephemeral range {low}-{high} leaves no port outside it");
    // Different processes and calls start at different places, so that parallel tests
    // (and tests run again right after) do not try the same port first.
    let mut seed =
        std::process::id() as u64 ^ std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos() as u64);
    for _ in 0..200 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let port = candidates[(seed >> 33) as usize % candidates.len()];
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port outside the ephemeral range {low}-{high} after 200 tries");
}

/// The kernel's ephemeral port range (Linux's default when it cannot be read).
fn ephemeral_range() -> (u16, u16) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut bounds = text.split_whitespace().filter_map(|s| s.parse::<u16>().ok());
    match (bounds.next(), bounds.next()) {
        (Some(low), Some(high)) if low <= high => (low, high),
        _ => (32768, 60999),
    }
}
