//! A load generator that drives many RPyC connections from a few event loops.
//!
//! A thread per client measures the server *and* the scheduler's cost of 64 more
//! threads on the same cores: on a 2-core machine the clients' context switches eat
//! the CPU the server would use. Capacity tools (wrk, h2load) drive many connections
//! from a few event loops for that reason, and so does this: an event-loop thread per
//! CPU, each with one epoll set holding its share of the sockets (registered once:
//! `poll(2)` would walk every socket on every wakeup), each connection closed-loop with
//! one request in flight, exactly as a blocking client would behave from the server's
//! side.
//!
//! The requests are real CALLATTR `ping` requests on the root object a GETROOT returned,
//! with a fresh sequence number each, encoded by the wire layer; every reply is decoded
//! and checked (sequence number and `"pong"`), so a server that answers wrongly fails
//! the run instead of inflating it.

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use rpycbench::wire::message::write_request_header;
use rpycbench::wire::{Boxed, Compression, FrameDecoder, FrameEncoder, Handler, IdPack, Limits, Message, Value};
use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// One connection's protocol state.
struct Session {
    decoder: FrameDecoder,
    encoder: FrameEncoder,
    /// The boxed arguments of CALLATTR ping, the same for every request:
    /// `(LocalRef(root), "ping", (), ())`.
    ping_args: Vec<u8>,
    next_seq: i64,
    in_flight: Option<i64>,
}

impl Session {
    /// Sends the next ping; a closed-loop client has nothing else in its send buffer,
    /// so a 100-byte write always fits and is never partial.
    fn send_ping(&mut self, stream: &TcpStream) -> Res<()> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.encoder.reset();
        let payload = self.encoder.payload();
        write_request_header(seq, i64::from(Handler::CallAttr.id()), payload);
        payload.extend_from_slice(&self.ping_args);
        let frame = self.encoder.finish()?;
        (&mut &*stream).write_all(frame)?;
        self.in_flight = Some(seq);
        Ok(())
    }

    /// Reads what arrived; returns how many pings it completed (0 or 1).
    ///
    /// One read per wakeup: a reply is far smaller than the receive buffer, and epoll is
    /// level-triggered, so anything left is reported again. Reading until `WouldBlock`
    /// would cost a second, empty `recv` per request.
    fn on_readable(&mut self, stream: &TcpStream, limits: &Limits) -> Res<u64> {
        match self.decoder.read_from(&mut &*stream) {
            Ok(0) => return Err("the server closed a connection mid-run".into()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => return Ok(0),
            Err(e) => return Err(e.into()),
        }
        let mut done = 0;
        while let Some(frame) = self.decoder.next_frame()? {
            let expected = self.in_flight.take().ok_or("a reply arrived with no request in flight")?;
            match Message::decode(frame.payload, limits)? {
                Message::Reply { seq, value: Boxed::Value(Value::Str(s)) } if seq == expected && s == "pong" => {
                    done += 1
                }
                other => return Err(format!("ping #{expected} was answered with {other:?}").into()),
            }
        }
        Ok(done)
    }
}

/// How long setting up a connection may take before the run fails.
const SETUP: Duration = Duration::from_secs(10);

/// Connects and asks for the root object, as `rpyc.connect` does.
fn open(addr: SocketAddr, limits: &Limits) -> Res<(TcpStream, Session)> {
    let stream = TcpStream::connect_timeout(&addr, SETUP)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(SETUP))?;
    let mut encoder = FrameEncoder::new(Compression::Off);
    write_request_header(1, i64::from(Handler::GetRoot.id()), encoder.payload());
    Boxed::Value(Value::Tuple(Vec::new())).encode(encoder.payload())?;
    (&stream).write_all(encoder.finish()?)?;
    let mut decoder = FrameDecoder::new(*limits);
    let root: IdPack = loop {
        if decoder.read_from(&mut &stream)? == 0 {
            return Err("the server closed the connection before answering GETROOT".into());
        }
        if let Some(frame) = decoder.next_frame()? {
            match Message::decode(frame.payload, limits)? {
                Message::Reply { seq: 1, value: Boxed::RemoteRef(id) } => break id,
                other => return Err(format!("GETROOT was answered with {other:?}").into()),
            }
        }
    };
    let mut ping_args = Vec::new();
    Boxed::Tuple(vec![
        Boxed::LocalRef(root),
        Boxed::Value("ping".into()),
        Boxed::Value(Value::Tuple(Vec::new())),
        Boxed::Value(Value::Tuple(Vec::new())),
    ])
    .encode(&mut ping_args)?;
    stream.set_nonblocking(true)?;
    Ok((stream, Session { decoder, encoder, ping_args, next_seq: 2, in_flight: None }))
}

/// Closed-loop `ping` on `clients` connections for `window`, driven by `loops` event-loop
/// threads (each with its share of the connections); completed requests per second,
/// and what `sample` read when the first requests went out and when the window closed
/// (so a CPU reading covers the timed requests, not the connects before or the
/// teardown after).
///
/// On loopback a `send` runs the receiver's side of TCP in the sender's system call, so
/// one driving thread does much of the kernel's work for the whole run and can leave
/// a core idle; one loop per core keeps the machine busy with the server's work.
pub fn run<T>(
    addr: SocketAddr,
    clients: usize,
    loops: usize,
    window: Duration,
    sample: impl Fn() -> T,
) -> Res<(f64, T, T)> {
    let limits = Limits::default();
    let mut conns = (0..clients).map(|_| open(addr, &limits)).collect::<Res<Vec<_>>>()?;
    let per_loop = clients.div_ceil(loops.max(1));
    let mut shares = Vec::new();
    while !conns.is_empty() {
        let rest = conns.split_off(per_loop.min(conns.len()));
        shares.push(std::mem::replace(&mut conns, rest));
    }
    let first = sample();
    let deadline = Instant::now() + window;
    let threads: Vec<_> = shares
        .into_iter()
        .map(|share| std::thread::spawn(move || drive(share, deadline, &limits).map_err(|e| e.to_string())))
        .collect();
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    let last = sample();
    let mut completed = 0u64;
    for t in threads {
        completed += t.join().map_err(|_| "a load thread panicked")??;
    }
    Ok((completed as f64 / window.as_secs_f64(), first, last))
}

/// One event loop: pings on every connection of `share` until `deadline`; returns the
/// replies that arrived before it.
fn drive(share: Vec<(TcpStream, Session)>, deadline: Instant, limits: &Limits) -> Res<u64> {
    let (streams, mut sessions): (Vec<TcpStream>, Vec<Session>) = share.into_iter().unzip();
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    for (i, stream) in streams.iter().enumerate() {
        epoll.add(stream, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))?;
    }
    let mut ready = vec![EpollEvent::empty(); streams.len()];
    for (session, stream) in sessions.iter_mut().zip(&streams) {
        session.send_ping(stream)?;
    }
    let mut completed = 0u64;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let left = (deadline - now).as_millis().clamp(1, i32::MAX as u128) as i32;
        let n = match epoll.wait(&mut ready, EpollTimeout::try_from(left).unwrap_or(EpollTimeout::MAX)) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        let finished_at = Instant::now();
        for event in &ready[..n] {
            let i = event.data() as usize;
            if event.events().contains(EpollFlags::EPOLLERR) {
                return Err(format!("connection {i} failed ({:?})", event.events()).into());
            }
            let done = sessions[i].on_readable(&streams[i], limits)?;
            // Replies that arrive after the window closed are not counted, and no new
            // request starts then.
            if finished_at < deadline {
                completed += done;
                if done > 0 {
                    sessions[i].send_ping(&streams[i])?;
                }
            }
        }
    }
    Ok(completed)
}
