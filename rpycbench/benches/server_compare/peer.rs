//! The bench's own peers: a raw TCP echo of fixed frames, and a minimal RPyC responder.
//!
//! Each runs as a copy of this bench re-executed in a session of its own (`setsid`), as
//! the servers it is compared with run: threads of one process switch without an
//! address-space switch, and the kernel's autogroup scheduling shares the CPU between
//! sessions, so a peer inside the bench's process or session would be measured on
//! different terms from the servers.

use rpycbench::wire::{Boxed, Compression, FrameDecoder, FrameEncoder, Handler, IdPack, Limits, Message};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Tells the re-executed bench which peer to be.
const PEER_ENV: &str = "RPYCBENCH_SERVER_COMPARE_PEER";

/// What a peer does with each connection.
pub enum PeerKind {
    /// Reads `request_len` bytes and writes `reply`, no parsing: TCP at its cheapest.
    Raw { request_len: usize, reply: Vec<u8> },
    /// Reads `request_len` bytes and writes `reply_len` bytes: a bulk transfer's raw
    /// reference, either way.
    Bulk { request_len: usize, reply_len: usize },
    /// Decodes each request and answers `"pong"` (GETROOT gets a root reference), with
    /// no service, object table or dispatch: the most a thread-per-connection RPyC
    /// server could do on this machine.
    Minimal,
    /// Forwards each connection to `upstream` with a blocking thread per direction,
    /// no decoding: the simplest relay, the reference for what any relay adds.
    Forward { upstream: SocketAddr },
}

impl PeerKind {
    fn to_env(&self) -> String {
        match self {
            PeerKind::Raw { request_len, reply } => format!("raw:{request_len}:{}", hex::encode(reply)),
            PeerKind::Bulk { request_len, reply_len } => format!("bulk:{request_len}:{reply_len}"),
            PeerKind::Minimal => "minimal".into(),
            PeerKind::Forward { upstream } => format!("forward:{upstream}"),
        }
    }

    fn from_env(text: &str) -> Res<PeerKind> {
        // An address holds colons itself: taken whole.
        if let Some(upstream) = text.strip_prefix("forward:") {
            return Ok(PeerKind::Forward { upstream: upstream.parse()? });
        }
        match text.split(':').collect::<Vec<_>>()[..] {
            ["minimal"] => Ok(PeerKind::Minimal),
            ["bulk", request, reply] => Ok(PeerKind::Bulk { request_len: request.parse()?, reply_len: reply.parse()? }),
            ["raw", len, reply] => Ok(PeerKind::Raw { request_len: len.parse()?, reply: hex::decode(reply)? }),
            _ => Err(format!("{PEER_ENV}={text:?} names no peer").into()),
        }
    }
}

/// A running peer process, killed on drop.
pub struct Peer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Peer {
    /// Starts a peer and waits for its address.
    pub fn start(kind: &PeerKind) -> Res<Peer> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.env(PEER_ENV, kind.to_env()).stdin(Stdio::null()).stdout(Stdio::piped());
        // SAFETY: setsid is async-signal-safe, the only thing run between fork and exec.
        unsafe {
            cmd.pre_exec(|| nix::unistd::setsid().map(drop).map_err(std::io::Error::from));
        }
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take().ok_or("the peer's stdout")?;
        let mut line = String::new();
        // The peer prints its address first thing; a peer that dies closes the pipe.
        BufReader::new(stdout).read_line(&mut line)?;
        match line.trim().parse() {
            Ok(addr) => Ok(Peer { child, addr }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("the peer printed {line:?} instead of its address").into())
            }
        }
    }

    /// Its process id, for its CPU time.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// In a peer's process: serves until killed and never returns. Elsewhere: returns at
/// once.
pub fn serve_if_peer() -> Res<()> {
    let Some(kind) = std::env::var_os(PEER_ENV) else { return Ok(()) };
    let kind = PeerKind::from_env(&kind.to_string_lossy())?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let kind = std::sync::Arc::new(kind);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let kind = kind.clone();
                // A connection ends when the load generator drops it, often mid-request.
                std::thread::spawn(move || drop(serve(&kind, stream)));
            }
            // Out of descriptors, say: wait for connections to end instead of spinning.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn serve(kind: &PeerKind, stream: TcpStream) -> Res<()> {
    stream.set_nodelay(true)?;
    match kind {
        PeerKind::Raw { request_len, reply } => {
            let mut buf = vec![0u8; *request_len];
            let mut stream = &stream;
            loop {
                stream.read_exact(&mut buf)?;
                stream.write_all(reply)?;
            }
        }
        PeerKind::Bulk { request_len, reply_len } => {
            let (mut request, reply) = (vec![0u8; *request_len], vec![0xa5u8; *reply_len]);
            let mut stream = &stream;
            loop {
                stream.read_exact(&mut request)?;
                stream.write_all(&reply)?;
            }
        }
        PeerKind::Minimal => respond(&stream),
        PeerKind::Forward { upstream } => forward(stream, *upstream),
    }
}

/// Copies bytes both ways between `client` and a new connection to `upstream`, a
/// thread each way, until either side ends.
fn forward(client: TcpStream, upstream: SocketAddr) -> Res<()> {
    let server = TcpStream::connect(upstream)?;
    server.set_nodelay(true)?;
    let copy = |from: TcpStream, to: TcpStream| {
        move || {
            let _ = std::io::copy(&mut &from, &mut &to);
            let _ = to.shutdown(std::net::Shutdown::Both);
            let _ = from.shutdown(std::net::Shutdown::Both);
        }
    };
    let back = std::thread::spawn(copy(server.try_clone()?, client.try_clone()?));
    copy(client, server)();
    let _ = back.join();
    Ok(())
}

fn respond(stream: &TcpStream) -> Res<()> {
    let limits = Limits::default();
    let root = IdPack::new("rpycbench.Minimal", 1, 1);
    let (mut decoder, mut encoder) = (FrameDecoder::new(limits), FrameEncoder::new(Compression::Off));
    let mut stream = stream;
    while decoder.read_from(&mut stream)? > 0 {
        while let Some(frame) = decoder.next_frame()? {
            let request = Message::decode(frame.payload, &limits)?;
            let value = match request {
                Message::Request { handler, .. } if handler == i64::from(Handler::GetRoot.id()) => {
                    Boxed::RemoteRef(root.clone())
                }
                _ => Boxed::Value("pong".into()),
            };
            encoder.reset();
            Message::Reply { seq: request.seq(), value }.encode(encoder.payload())?;
            stream.write_all(encoder.finish()?)?;
        }
    }
    Ok(())
}
