//! The profiling relay: accepts RPyC clients, connects each to the upstream server,
//! copies every byte unchanged in both directions, and decodes a copy of the stream
//! into telemetry shared by all connections.
//!
//! One thread per connection polls both (non-blocking) sockets. Bytes read are written
//! to the other side first and decoded after, so decoding never holds back the bytes
//! just read; and because one thread sees both directions, in the order it read them,
//! a reply is never recorded before the request it answers. A write the destination
//! cannot take now waits in a per-direction buffer while the other direction carries
//! on, so two endpoints that both write before they read never deadlock through the
//! relay; a source is read only while its buffer is below 1 MiB (backpressure). The
//! thread ends, closing both sockets, once both directions ended or either side failed.
//! A stream that stops being RPyC framing is counted and then only relayed, never
//! decoded again.
//!
//! Waiting costs more than relaying: on a virtual machine a thread blocked in `poll`
//! takes longer to wake than a loopback round trip. [`Relay::poll_before_blocking`]
//! has the thread poll without blocking for a while after each event, so a quick
//! reply or the client's next request is forwarded without a wake-up, for up to that
//! much CPU per pause. It is off by default: on two cores a client, a server and a
//! relay that all poll leave the server no core, and the relay added 2× more (see
//! docs/performance.md, "Relay"). The relay measures what it adds per crossing from
//! the kernel's arrival stamps ([`relay_cost`](super::relay_cost)).
//!
//! Connections are capped ([`Relay::max_connections`], by default as many as the
//! descriptor limit allows for two sockets each, at most 1000): more are accepted and
//! closed at once. A connection whose traffic stops mid-frame (or whose destination
//! takes nothing) for the stall limit, or stops altogether for the idle limit
//! ([`Relay::silence`], as a native server's: 30 s and off by default), is closed.
//!
//! Memory per connection: a 64 KiB copy buffer, up to about 1 MiB of pending bytes per
//! direction and, per direction, the frame being decoded (frames are decoded whole, so
//! up to the largest frame in flight, bounded by the wire layer's 256 MiB frame limit).

use super::facts::Direction;
use super::recorder::{FrameFacts, RecorderConfig};
use super::relay_cost::{recv_stamped, stamp_arrivals, CostCounters, RelayCost};
use super::session::Profiler;
use crate::client::arrivals::{PieceClock, SplitArrivals};
use crate::client::SilenceLimits;
use crate::server::{default_max_connections, Slots};
use crate::wire::FrameDecoder;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes read per system call.
const CHUNK: usize = 64 << 10;
/// Bytes a direction may hold that its destination has not taken yet; past it the
/// relay stops reading that direction's source until the destination drains.
const MAX_PENDING: usize = 1 << 20;

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The listening address is taken, invalid, or not ours to bind.
    #[error("cannot listen on {addr}: {source}{}", if source.kind() == ErrorKind::AddrInUse { " (another process is using the port; pick another, or 0 for a free one)" } else { "" })]
    Bind {
        /// The address asked for.
        addr: String,
        /// The system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The upstream address does not resolve.
    #[error("cannot resolve the upstream server {addr}: {reason}")]
    Upstream {
        /// The address given.
        addr: String,
        /// What went wrong.
        reason: String,
    },
}

/// Counters of the relay itself (not of the RPyC traffic).
#[derive(Debug, Default)]
pub struct RelayCounters {
    /// Clients accepted.
    pub accepted: AtomicU64,
    /// Clients whose upstream connection failed (they were closed at once).
    pub upstream_failures: AtomicU64,
    /// Connections currently relayed.
    pub active: AtomicU64,
    /// Clients closed at once because the connection cap was reached.
    pub refused: AtomicU64,
    /// Connections closed because their traffic went silent past a limit.
    pub silenced: AtomicU64,
    /// Chunks of bytes forwarded (one `read` each).
    pub chunks: AtomicU64,
    /// Time from each chunk's read returning to its write returning, summed: what the
    /// relay itself adds, besides the extra hop through the kernel.
    pub forward_ns: AtomicU64,
    /// The longest of those.
    pub forward_ns_max: AtomicU64,
    /// Time from bytes' arrival at the relay to their being written onward.
    pub cost: CostCounters,
    /// [`Relay::poll_before_blocking`], for the report.
    poll_before_blocking_ns: AtomicU64,
}

impl RelayCounters {
    /// What the relay added so far (see [`relay_cost`](super::relay_cost)).
    pub fn relay_cost(&self) -> RelayCost {
        self.cost.snapshot(Duration::from_nanos(self.poll_before_blocking_ns.load(Ordering::Relaxed)))
    }

    /// A line for the report: connections, and the time the relay spends per chunk.
    pub fn describe(&self) -> String {
        let chunks = self.chunks.load(Ordering::Relaxed);
        let mean = self.forward_ns.load(Ordering::Relaxed).checked_div(chunks).unwrap_or(0);
        let (refused, silenced) = (self.refused.load(Ordering::Relaxed), self.silenced.load(Ordering::Relaxed));
        // Said only when they happened: most runs see neither.
        let mut closed = String::new();
        if refused > 0 {
            closed.push_str(&format!(", {refused} refused at the connection cap"));
        }
        if silenced > 0 {
            closed.push_str(&format!(", {silenced} closed for silence"));
        }
        format!(
            "{} connections accepted, {} active, {} could not reach the upstream{closed}; {chunks} chunks \
             forwarded, {} mean and {} max from read to written",
            self.accepted.load(Ordering::Relaxed),
            self.active.load(Ordering::Relaxed),
            self.upstream_failures.load(Ordering::Relaxed),
            crate::metrics::format_ns(mean),
            crate::metrics::format_ns(self.forward_ns_max.load(Ordering::Relaxed)),
        )
    }
}

/// Called, on the connection's thread, when the upstream server refused a connection or
/// ended one before its client did: the server died or went away, and whatever was
/// recorded should be saved before the relay is stopped too.
pub type UpstreamLost = Arc<dyn Fn() + Send + Sync>;

/// A bound relay, ready to [`run`](Relay::run).
pub struct Relay {
    listener: TcpListener,
    upstream: Vec<SocketAddr>,
    upstream_name: String,
    profiler: Profiler,
    counters: Arc<RelayCounters>,
    connect_timeout: Duration,
    upstream_lost: Option<UpstreamLost>,
    slots: Slots,
    silence: SilenceLimits,
    poll_before_blocking: Duration,
}

impl Relay {
    /// Binds `listen` (port 0 picks a free one) for clients of `upstream`.
    pub fn bind(listen: &str, upstream: &str, config: RecorderConfig) -> Result<Relay, RelayError> {
        let addrs: Vec<SocketAddr> = upstream
            .to_socket_addrs()
            .map_err(|e| RelayError::Upstream { addr: upstream.into(), reason: e.to_string() })?
            .collect();
        if addrs.is_empty() {
            return Err(RelayError::Upstream { addr: upstream.into(), reason: "resolves to no address".into() });
        }
        let listener = TcpListener::bind(listen).map_err(|source| RelayError::Bind { addr: listen.into(), source })?;
        Ok(Relay {
            listener,
            upstream: addrs,
            upstream_name: upstream.into(),
            profiler: Profiler::new(config),
            counters: Arc::default(),
            connect_timeout: Duration::from_secs(10),
            upstream_lost: None,
            // Two descriptors a connection: the client's and the upstream's.
            slots: Slots::new(Some(default_max_connections(2))),
            silence: SilenceLimits::default(),
            poll_before_blocking: Duration::ZERO,
        })
    }

    /// After each event, polls this long without blocking before it blocks (zero:
    /// blocks at once). Longer saves more wake-ups and costs more CPU while traffic
    /// pauses.
    pub fn poll_before_blocking(mut self, poll: Duration) -> Self {
        self.poll_before_blocking = poll;
        let ns = u64::try_from(poll.as_nanos()).unwrap_or(u64::MAX);
        self.counters.poll_before_blocking_ns.store(ns, Ordering::Relaxed);
        self
    }

    /// Relays at most `max` connections at once (`None`: any number); more are accepted
    /// and closed at once.
    pub fn max_connections(mut self, max: Option<usize>) -> Self {
        self.slots = Slots::new(max);
        self
    }

    /// How long a connection may stay silent: mid-frame (or with bytes its destination
    /// does not take) and altogether.
    pub fn silence(mut self, silence: SilenceLimits) -> Self {
        self.silence = silence;
        self
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The profiler all connections record into (a handle; clone it to read the
    /// telemetry while the relay runs).
    pub fn profiler(&self) -> Profiler {
        self.profiler.clone()
    }

    /// Calls `hook` each time the upstream refuses a connection or ends one first.
    pub fn on_upstream_lost(&mut self, hook: UpstreamLost) {
        self.upstream_lost = Some(hook);
    }

    /// The relay's own counters.
    pub fn counters(&self) -> Arc<RelayCounters> {
        self.counters.clone()
    }

    /// Accepts and relays connections until the process ends; each connection runs
    /// on its own thread.
    pub fn run(self) -> std::io::Result<()> {
        loop {
            let client = match self.listener.accept() {
                Ok((c, _)) => c,
                // A client that gave up while queued, or a momentary lack of file
                // descriptors: neither stops the relay.
                Err(e) if e.kind() == ErrorKind::Interrupted || e.kind() == ErrorKind::ConnectionAborted => continue,
                Err(e) => {
                    eprintln!("rpycbench proxy: accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            self.counters.accepted.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = self.slots.take() else {
                // Over the cap: closed at once (dropping the socket).
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let job = Job {
                upstream: self.upstream.clone(),
                upstream_name: self.upstream_name.clone(),
                profiler: self.profiler.clone(),
                counters: self.counters.clone(),
                connect_timeout: self.connect_timeout,
                upstream_lost: self.upstream_lost.clone(),
                silence: self.silence,
                poll_before_blocking: self.poll_before_blocking,
            };
            let spawned = std::thread::Builder::new().name("relay".into()).spawn(move || {
                // Moved in, so the slot comes back however the thread ends, and with the
                // closure if the thread cannot start.
                let _slot = slot;
                job.relay(client);
            });
            if let Err(e) = spawned {
                eprintln!("rpycbench proxy: cannot start a thread for a connection: {e}");
            }
        }
    }
}

struct Job {
    upstream: Vec<SocketAddr>,
    upstream_name: String,
    profiler: Profiler,
    counters: Arc<RelayCounters>,
    connect_timeout: Duration,
    upstream_lost: Option<UpstreamLost>,
    silence: SilenceLimits,
    poll_before_blocking: Duration,
}

impl Job {
    fn connect_upstream(&self) -> std::io::Result<TcpStream> {
        let mut last = std::io::Error::new(ErrorKind::NotFound, "no address");
        for a in &self.upstream {
            match TcpStream::connect_timeout(a, self.connect_timeout) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn relay(self, client: TcpStream) {
        let server = match self.connect_upstream() {
            Ok(s) => s,
            Err(e) => {
                self.counters.upstream_failures.fetch_add(1, Ordering::Relaxed);
                eprintln!("rpycbench proxy: cannot reach the upstream server {}: {e}", self.upstream_name);
                let _ = client.shutdown(Shutdown::Both);
                if let Some(hook) = &self.upstream_lost {
                    hook();
                }
                return;
            }
        };
        // Small request/reply frames must pass at once, as the endpoints intend.
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        self.counters.active.fetch_add(1, Ordering::Relaxed);
        let conn = self.profiler.lock().open_connection();
        let mut pipe = Pipe::new(conn, self.profiler.clone(), self.counters.clone(), self.silence);
        pipe.upstream_lost = self.upstream_lost.clone();
        pipe.poll_before_blocking = self.poll_before_blocking;
        if let Err(e) = pipe.run(&client, &server) {
            // A reset by either end is how many clients hang up: not worth a line.
            if !matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) {
                eprintln!("rpycbench proxy: connection {conn}: {e}");
            }
        }
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
        self.profiler.lock().close_connection(conn);
        self.counters.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Bytes read from one side and not yet written to the other.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Bytes of `bytes` already written.
    sent: usize,
}

impl Pending {
    fn len(&self) -> usize {
        self.bytes.len() - self.sent
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&mut self, data: &[u8]) {
        if self.sent > 0 && self.sent >= self.bytes.len() / 2 {
            self.bytes.drain(..self.sent);
            self.sent = 0;
        }
        self.bytes.extend_from_slice(data);
    }

    /// Writes as much as `dst` takes now; `Ok` when it took all it could.
    fn flush(&mut self, mut dst: &TcpStream) -> std::io::Result<()> {
        while !self.is_empty() {
            match dst.write(&self.bytes[self.sent..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        self.bytes.clear();
        self.sent = 0;
        Ok(())
    }
}

/// Both directions of one connection.
struct Pipe {
    conn: u64,
    profiler: Profiler,
    counters: Arc<RelayCounters>,
    /// One decoder per direction; `None` once the stream stopped being decodable.
    decoders: Option<[FrameDecoder; 2]>,
    /// Per direction, when the frame being decoded began to arrive, if in pieces.
    pieces: [PieceClock; 2],
    limits: crate::wire::Limits,
    buf: Vec<u8>,
    facts: Vec<(FrameFacts, usize)>,
    /// Called once, when the server side ends or fails while the client's is open.
    upstream_lost: Option<UpstreamLost>,
    silence: SilenceLimits,
    poll_before_blocking: Duration,
}

impl Pipe {
    fn new(conn: u64, profiler: Profiler, counters: Arc<RelayCounters>, silence: SilenceLimits) -> Pipe {
        let limits = profiler.lock().config().limits;
        Pipe {
            conn,
            profiler,
            counters,
            decoders: Some([FrameDecoder::new(limits), FrameDecoder::new(limits)]),
            pieces: Default::default(),
            limits,
            buf: vec![0; CHUNK],
            facts: Vec::new(),
            upstream_lost: None,
            silence,
            poll_before_blocking: Duration::ZERO,
        }
    }

    /// Whether a frame is half-relayed: part of one waits in a decoder for the rest, or
    /// bytes wait for a destination to take them. A stream no longer decoded counts as
    /// mid-frame throughout (its frames cannot be told apart).
    fn mid_frame(&self, pending: &[Pending; 2]) -> bool {
        let partial = match &self.decoders {
            Some(d) => d.iter().any(|d| d.buffered() > 0),
            None => true,
        };
        partial || pending.iter().any(|p| !p.is_empty())
    }

    /// Relays until both directions ended, or either side fails.
    ///
    /// Both sockets are non-blocking: a write the destination cannot take now is
    /// kept in that direction's pending buffer and finished when poll says the
    /// destination is writable, so a full socket in one direction never stops the
    /// other (two endpoints that both write before they read get through). A side is
    /// read only while its direction holds less than [`MAX_PENDING`] pending bytes:
    /// the relay passes the receiver's backpressure on instead of buffering without
    /// bound.
    fn run(&mut self, client: &TcpStream, server: &TcpStream) -> std::io::Result<()> {
        client.set_nonblocking(true)?;
        server.set_nonblocking(true)?;
        // Untimed if refused: relaying matters more than measuring it.
        stamp_arrivals(client);
        stamp_arrivals(server);
        let sides = [client, server];
        // Direction i reads sides[i] and writes sides[1 - i]: 0 is c2s, 1 is s2c.
        let mut reading = [true, true];
        let mut shut = [false, false];
        let mut pending = [Pending::default(), Pending::default()];
        let mut heard = Instant::now();
        loop {
            for i in [0, 1] {
                // Pass a finished direction's end on once its bytes are all written.
                if !reading[i] && pending[i].is_empty() && !shut[i] {
                    shut[i] = true;
                    let _ = sides[1 - i].shutdown(Shutdown::Write);
                }
            }
            if shut == [true, true] {
                return Ok(());
            }
            // Events per side: readable if its direction may read, writable if the
            // other direction has bytes waiting for it.
            let wants = |side: usize| {
                let mut f = PollFlags::empty();
                if reading[side] && pending[side].len() < MAX_PENDING {
                    f |= PollFlags::POLLIN;
                }
                if !pending[1 - side].is_empty() {
                    f |= PollFlags::POLLOUT;
                }
                f
            };
            let flags = [wants(0), wants(1)];
            // Only sides with something to wait for are polled: a side that is done
            // both ways may report POLLHUP forever, which must not spin this loop.
            // (At least one side is polled: with nothing to read and nothing pending
            // both directions would have been shut above.)
            // (A fixed pair, sliced: no allocation per poll, which runs often while
            // polling before blocking.)
            let polled = match (flags[0].is_empty(), flags[1].is_empty()) {
                (false, false) => 0..2,
                (false, true) => 0..1,
                _ => 1..2,
            };
            let mut both = [0, 1].map(|side| PollFd::new(sides[side].as_fd(), flags[side]));
            let fds = &mut both[polled.clone()];
            let limit = self.silence.applies(self.mid_frame(&pending));
            // No clock read per wake-up unless polling is on (it is off by default).
            let polling = !self.poll_before_blocking.is_zero() && heard.elapsed() < self.poll_before_blocking;
            let timeout = match limit {
                _ if polling => PollTimeout::ZERO,
                // Whole milliseconds, rounded up: waking before the limit would only
                // mean polling again.
                Some(l) => {
                    let left = l.saturating_sub(heard.elapsed()).as_micros().div_ceil(1000);
                    PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            match poll(fds, timeout) {
                Ok(0) if polling => {
                    std::hint::spin_loop();
                    continue;
                }
                Ok(0) => {
                    if let Some(limit) = limit.filter(|l| heard.elapsed() >= *l) {
                        self.counters.silenced.fetch_add(1, Ordering::Relaxed);
                        let what = if self.mid_frame(&pending) { "mid-frame" } else { "between frames" };
                        let why = format!("closed after {limit:?} of silence {what} (the relay's silence limit)");
                        return Err(std::io::Error::new(ErrorKind::TimedOut, why));
                    }
                    continue;
                }
                // Something moved (or failed, which the read or write reports).
                Ok(_) => heard = Instant::now(),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            let mut revents = [PollFlags::empty(); 2];
            for (fd, side) in fds.iter().zip(polled) {
                revents[side] = fd.revents().unwrap_or(PollFlags::empty());
            }
            let trouble = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
            for side in [0, 1] {
                let r = revents[side];
                // Writable (or failed: the write reports why).
                if flags[side].contains(PollFlags::POLLOUT) && r.intersects(PollFlags::POLLOUT | trouble) {
                    pending[1 - side].flush(sides[side]).inspect_err(|_| self.lost_upstream(side, true))?;
                }
                // Readable (or failed, or ended: the read reports which).
                if flags[side].contains(PollFlags::POLLIN) && r.intersects(PollFlags::POLLIN | trouble) {
                    self.read_side(side, sides, &mut reading, &mut pending)
                        .inspect_err(|_| self.lost_upstream(side, true))?;
                    self.lost_upstream(side, !reading[1] && reading[0]);
                }
            }
        }
    }

    /// Tells the hook, once, that the upstream failed or ended first, when `side` is the
    /// server's and `lost` says so.
    fn lost_upstream(&mut self, side: usize, lost: bool) {
        if side == 1 && lost {
            if let Some(hook) = self.upstream_lost.take() {
                hook();
            }
        }
    }

    /// Reads what `sides[side]` has, forwards it (or queues what the other side does
    /// not take now), then decodes it.
    fn read_side(
        &mut self,
        side: usize,
        sides: [&TcpStream; 2],
        reading: &mut [bool; 2],
        pending: &mut [Pending; 2],
    ) -> std::io::Result<()> {
        let room = MAX_PENDING.saturating_sub(pending[side].len()).clamp(1, CHUNK);
        let (n, arrived) = match recv_stamped(sides[side], &mut self.buf[..room]) {
            Ok(got) => got,
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => return Ok(()),
            Err(e) => return Err(e),
        };
        if n == 0 {
            // Half close: the end is passed on once the pending bytes are written.
            reading[side] = false;
            return Ok(());
        }
        let at = Instant::now();
        // Forward first (behind any bytes still waiting), decode after.
        let queue = &mut pending[side];
        if queue.is_empty() {
            let mut written = 0;
            while written < n {
                match (&mut &*sides[1 - side]).write(&self.buf[written..n]) {
                    Ok(0) => return Err(ErrorKind::WriteZero.into()),
                    Ok(k) => written += k,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            queue.push(&self.buf[written..n]);
        } else {
            queue.push(&self.buf[..n]);
        }
        if let Some(arrived) = arrived {
            self.counters.cost.record(side, arrived);
        }
        let spent = u64::try_from(at.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.counters.chunks.fetch_add(1, Ordering::Relaxed);
        self.counters.forward_ns.fetch_add(spent, Ordering::Relaxed);
        self.counters.forward_ns_max.fetch_max(spent, Ordering::Relaxed);
        let direction = if side == 0 { Direction::C2s } else { Direction::S2c };
        self.decode(direction, n, at);
        Ok(())
    }

    /// Decodes the `n` bytes just relayed in `direction` and records complete frames.
    fn decode(&mut self, direction: Direction, n: usize, at: Instant) {
        let Some(decoders) = self.decoders.as_mut() else { return };
        let decoder = &mut decoders[direction as usize];
        let pieces = &mut self.pieces[direction as usize];
        decoder.push(&self.buf[..n]);
        let limits = self.limits;
        self.facts.clear();
        let mut split = SplitArrivals::default();
        let mut broken = false;
        loop {
            match decoder.next_frame() {
                Ok(Some(f)) => {
                    pieces.complete_at(at, f.wire_len, &mut split);
                    self.facts.push((FrameFacts::decode(f.payload, &limits), f.wire_len));
                }
                Ok(None) => break,
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        if decoder.buffered() > 0 {
            pieces.partial_at(at, decoder.buffered());
        }
        let mut recorder = self.profiler.lock();
        for (facts, wire_len) in self.facts.drain(..) {
            recorder.record(self.conn, direction, facts, wire_len, at);
        }
        if split.frames > 0 {
            recorder.arrived_in_pieces(direction, split);
        }
        if broken {
            recorder.undecodable_stream(self.conn);
            drop(recorder);
            self.decoders = None;
        }
    }
}
