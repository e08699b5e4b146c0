//! A hostile or broken client must never take a native server down or disturb its other
//! connections. Each case below talks to a real `rpycbench serve` process (threaded and
//! forking) over a raw socket with hand-built frames, while a well-behaved client keeps
//! calling the same server; the case passes only if the server answers with an
//! EXCEPTION where the protocol allows one (PROTOCOL.md §10.7: a failure inside a
//! handler) or closes that one connection otherwise (a failure before dispatch), with
//! bounded memory, and the bystander never sees an error.

mod common;

use common::{eventually, fd_count, native_spec, peak_rss_bytes, rss_bytes};
use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};
use rpycbench::client::{Args, Config, Connection, Object};
use rpycbench::server::{serve_threaded, ServeOptions, ServerHandle, ServerMode, Service};
use rpycbench::wire::message::write_request_header;
use rpycbench::wire::{
    Boxed, ExceptionPayload, FrameDecoder, FrameEncoder, Handler, IdPack, Limits, Message, RemoteException, Value,
};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a raw socket waits for the server before the test fails (never hangs).
const IO_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the server may take to release a connection it has dropped.
const SETTLE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------
// A raw client: hand-built frames on a plain socket.

struct Raw {
    stream: TcpStream,
    decoder: FrameDecoder,
    next_seq: i64,
}

enum Event {
    Msg(Message),
    Closed,
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut enc = FrameEncoder::new(rpycbench::wire::Compression::Off);
    enc.payload().extend_from_slice(payload);
    enc.finish().expect("a non-empty payload frames").to_vec()
}

/// `u32be length | flag | body | 0x0a`, for bodies the encoder would not produce.
fn raw_frame(body: &[u8], compressed: bool) -> Vec<u8> {
    let mut f = Vec::with_capacity(body.len() + 6);
    f.extend_from_slice(&(body.len() as u32).to_be_bytes());
    f.push(u8::from(compressed));
    f.extend_from_slice(body);
    f.push(0x0a);
    f
}

fn request_payload(seq: i64, handler: i64, args: &Boxed) -> Vec<u8> {
    let mut p = Vec::new();
    Message::Request { seq, handler, args: args.clone() }.encode(&mut p).expect("encodable request");
    p
}

/// The start of a message's debug form: a 60 MiB reply must not flood a failure.
fn short(m: &Message) -> String {
    let text = format!("{m:?}");
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}… ({} bytes of debug output)", &text[..cut], text.len()),
        None => text,
    }
}

fn no_args() -> Boxed {
    Boxed::Value(Value::Tuple(Vec::new()))
}

fn values(items: Vec<Value>) -> Value {
    Value::Tuple(items)
}

/// CALLATTR(obj, name, args, ()) with simple arguments.
fn callattr_args(obj: &IdPack, name: &str, args: Vec<Value>) -> Boxed {
    Boxed::Tuple(vec![Boxed::LocalRef(obj.clone()), Boxed::Value(name.into()), Boxed::Value(values(args)), no_args()])
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connecting a raw socket");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Raw { stream, decoder: FrameDecoder::new(Limits::DEFAULT), next_seq: 1000 }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("sending to the server");
    }

    /// Sends bytes the server may legitimately stop reading (it closes on them).
    fn send_lenient(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            assert!(
                matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted),
                "sending hostile bytes: {e}"
            );
        }
    }

    fn send_payload(&mut self, payload: &[u8]) {
        self.send(&frame(payload));
    }

    fn seq(&mut self) -> i64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn request(&mut self, handler: i64, args: Boxed) -> i64 {
        let seq = self.seq();
        self.send_payload(&request_payload(seq, handler, &args));
        seq
    }

    fn next_event(&mut self) -> Event {
        loop {
            match self.decoder.next_frame() {
                Ok(Some(f)) => {
                    let msg = Message::decode(f.payload, &Limits::DEFAULT)
                        .unwrap_or_else(|e| panic!("the server sent an undecodable message: {e}"));
                    return Event::Msg(msg);
                }
                Ok(None) => {}
                Err(e) => panic!("the server sent a bad frame: {e}"),
            }
            match self.decoder.read_from(&mut self.stream) {
                Ok(0) => return Event::Closed,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {
                    return Event::Closed
                }
                Err(e) => panic!("nothing from the server within {IO_TIMEOUT:?}: {e}"),
            }
        }
    }

    /// The answer to `seq`, skipping the DEL requests a server sends when it drops a
    /// proxy of ours.
    fn answer(&mut self, seq: i64, what: &str) -> Message {
        loop {
            match self.next_event() {
                Event::Closed => panic!("{what}: the server closed the connection instead of answering"),
                Event::Msg(Message::Request { handler, .. }) if handler == i64::from(Handler::Del.id()) => {}
                Event::Msg(m) => {
                    assert_eq!(m.seq(), seq, "{what}: unexpected message {m:?}");
                    return m;
                }
            }
        }
    }

    fn reply(&mut self, seq: i64, what: &str) -> Boxed {
        match self.answer(seq, what) {
            Message::Reply { value, .. } => value,
            other => panic!("{what}: expected a REPLY, got {}", short(&other)),
        }
    }

    fn exception(&mut self, seq: i64, what: &str) -> RemoteException {
        match self.answer(seq, what) {
            Message::Exception { payload: ExceptionPayload::Raised(e), .. } => e,
            other => panic!("{what}: expected an EXCEPTION, got {}", short(&other)),
        }
    }

    /// Asserts that the request `seq` fails with the built-in exception `class`.
    fn expect_exception(&mut self, seq: i64, class: &str, what: &str) -> RemoteException {
        let e = self.exception(seq, what);
        assert_eq!((e.module.as_str(), e.class.as_str()), ("builtins", class), "{what}: got {e}");
        e
    }

    /// Asserts that the server closes the connection without answering anything but,
    /// possibly, a CLOSE request of its own (what a Python peer sends when it aborts).
    fn expect_closed(&mut self, what: &str) {
        loop {
            match self.next_event() {
                Event::Closed => return,
                Event::Msg(Message::Request { handler, .. }) if handler == i64::from(Handler::Close.id()) => {}
                Event::Msg(m) => panic!("{what}: expected the connection to be closed, got {m:?}"),
            }
        }
    }

    /// The next request the server sends us, skipping its DELs (fire and forget).
    fn server_request(&mut self, what: &str) -> (i64, i64, Boxed) {
        loop {
            match self.next_event() {
                Event::Msg(Message::Request { handler, .. }) if handler == i64::from(Handler::Del.id()) => {}
                Event::Msg(Message::Request { seq, handler, args }) => return (seq, handler, args),
                Event::Msg(m) => panic!("{what}: expected a request from the server, got {m:?}"),
                Event::Closed => panic!("{what}: the server closed the connection"),
            }
        }
    }

    fn send_reply(&mut self, seq: i64, value: Value) {
        let mut p = Vec::new();
        Message::Reply { seq, value: Boxed::Value(value) }.encode(&mut p).unwrap();
        self.send_payload(&p);
    }

    fn getroot(&mut self) -> IdPack {
        let seq = self.request(i64::from(Handler::GetRoot.id()), no_args());
        match self.reply(seq, "GETROOT") {
            Boxed::RemoteRef(id) => id,
            other => panic!("GETROOT answered {other:?}"),
        }
    }

    /// A PING round trip on this connection: it is still served.
    fn assert_served(&mut self, what: &str) {
        let data = Value::from(format!("still served after {what}"));
        let seq = self.request(i64::from(Handler::Ping.id()), Boxed::Value(values(vec![data.clone()])));
        assert_eq!(self.reply(seq, what), Boxed::Value(data), "{what}: PING echo");
    }
}

// ---------------------------------------------------------------------------------
// The bystander: a normal client calling the same server throughout each case.

struct Bystander {
    stop: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
    failure: Arc<Mutex<Option<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Bystander {
    fn start(addr: SocketAddr) -> Bystander {
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU64::new(0));
        let failure = Arc::new(Mutex::new(None));
        let (s, c, f) = (stop.clone(), calls.clone(), failure.clone());
        let thread = std::thread::spawn(move || {
            let run = || -> rpycbench::Result<()> {
                let config = Config::default().request_timeout(IO_TIMEOUT).connect_timeout(IO_TIMEOUT);
                let mut conn = Connection::connect_with(addr, config)?;
                let mut i = 0i64;
                while !s.load(Ordering::Relaxed) {
                    let got: i64 = conn.call("echo", (i,))?.extract()?;
                    if got != i {
                        return Err(rpycbench::Error::Unsupported(format!("echo({i}) returned {got}")));
                    }
                    c.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                    // Paced, not flat out: 27 bystanders must not starve two cores.
                    std::thread::sleep(Duration::from_millis(2));
                }
                conn.close()
            };
            if let Err(e) = run() {
                *f.lock().unwrap() = Some(e.to_string());
            }
        });
        let b = Bystander { stop, calls, failure, thread: Some(thread) };
        b.wait_more(1);
        b
    }

    fn check(&self) {
        if let Some(e) = self.failure.lock().unwrap().as_ref() {
            panic!("the bystander client failed: {e}");
        }
    }

    /// Waits until the bystander has completed `n` more calls.
    fn wait_more(&self, n: u64) {
        let target = self.calls.load(Ordering::Relaxed) + n;
        let ok = eventually(IO_TIMEOUT, || {
            self.check();
            self.calls.load(Ordering::Relaxed) >= target
        });
        self.check();
        assert!(ok, "the bystander client made no progress for {IO_TIMEOUT:?}");
    }

    fn finish(mut self) {
        self.wait_more(20);
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().expect("bystander thread");
        self.check();
    }
}

/// Runs `case` against a fresh server of `mode` while a bystander calls it, then
/// checks the bystander was served throughout and that the server still accepts.
fn hostile(mode: ServerMode, case: impl FnOnce(&ServerHandle)) {
    let server = native_spec(mode).start().expect("starting the server");
    let run = || {
        let bystander = Bystander::start(server.addr());
        case(&server);
        bystander.finish();
        assert_alive(&server);
    };
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        // What the server said is usually the explanation.
        eprintln!("--- {mode} server stderr ---\n{}", server.stderr());
        std::panic::resume_unwind(panic);
    }
}

fn assert_alive(server: &ServerHandle) {
    let state = common::proc_stat(server.pid()).map(|s| s.state);
    assert!(
        matches!(state, Some(s) if s != 'Z'),
        "the server process is gone ({state:?}); stderr:\n{}",
        server.stderr()
    );
    let mut conn = Connection::connect_with(server.addr(), Config::default().request_timeout(IO_TIMEOUT))
        .expect("a new connection after the hostile client");
    let pong: String = conn.call("ping", ()).and_then(|o| o.extract()).expect("ping on a new connection");
    assert_eq!(pong, "pong");
    conn.close().unwrap();
}

/// File descriptors held by all the server's processes: it drops back when the server
/// has let go of a connection (a thread's socket closed, or a forked child exited).
fn footprint(server: &ServerHandle) -> usize {
    server.pids().into_iter().map(fd_count).sum()
}

fn assert_released(server: &ServerHandle, baseline: usize, what: &str) {
    let ok = eventually(SETTLE, || footprint(server) <= baseline);
    assert!(ok, "{what}: the server still holds the connection ({} fds > {baseline})", footprint(server));
}

/// Resident memory of all the server's processes.
fn server_rss(server: &ServerHandle) -> u64 {
    server.pids().into_iter().map(rss_bytes).sum()
}

const MIB: u64 = 1 << 20;

macro_rules! both_modes {
    ($($case:ident),* $(,)?) => {
        mod threaded {
            $(#[test] fn $case() { super::$case(rpycbench::server::ServerMode::Threaded) })*
        }
        mod forking {
            $(#[test] fn $case() { super::$case(rpycbench::server::ServerMode::Forking) })*
        }
    };
}

both_modes!(
    garbage_bytes_close_the_connection,
    empty_frames_and_odd_fillers_are_tolerated,
    truncated_frames_close_the_connection,
    length_prefix_of_4_gib_is_refused_before_allocating,
    zlib_bomb_is_cut_off_at_the_inflate_limit,
    unknown_handlers_raise_key_error,
    wrong_argument_shapes_raise_type_error,
    references_to_unknown_objects_raise,
    undecodable_arguments_with_a_readable_seq_raise,
    half_a_request_then_disconnect,
    disconnect_while_the_server_calls_back,
    disconnect_while_the_server_sends_a_large_reply,
    absurd_sizes_raise_instead_of_aborting,
    a_tuple_bomb_fails_alone_under_a_memory_limit,
    unread_large_replies_fail_alone_under_a_memory_limit,
    nested_requests_share_the_budget,
);

// ---------------------------------------------------------------------------------
// The cases.

fn garbage_bytes_close_the_connection(mode: ServerMode) {
    hostile(mode, |server| {
        let garbage: [(&str, Vec<u8>); 5] = [
            ("an HTTP request", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec()),
            // msg_type 9 around a valid (seq, body): "any other type byte aborts" (§5).
            ("an unknown message type", frame(&[0x09, 0x11, 0x55, 0x00])),
            ("message type 0", frame(&[0x00, 0x11, 0x55, 0x00])),
            // A REQUEST whose envelope is an unknown brine tag: no seq to answer.
            ("a garbage envelope", frame(&[0x01, 0xff, 0xfe, 0xfd, 0x13, 0x37])),
            ("a compressed flag on a body that is not zlib", raw_frame(b"definitely not zlib", true)),
        ];
        for (what, bytes) in garbage {
            let mut raw = Raw::connect(server.addr());
            raw.assert_served("connecting");
            raw.send_lenient(&bytes);
            raw.expect_closed(what);
        }
        // Noise where a REPLY's or an EXCEPTION's body should be: not a request, so
        // there is no seq to answer.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..16 << 10)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        for (what, kind) in [("a REPLY of noise", 2u8), ("an EXCEPTION of noise", 3)] {
            let mut raw = Raw::connect(server.addr());
            raw.send_lenient(&frame(&[&[kind][..], &noise].concat()));
            raw.expect_closed(what);
        }
    });
}

fn empty_frames_and_odd_fillers_are_tolerated(mode: ServerMode) {
    hostile(mode, |server| {
        let mut raw = Raw::connect(server.addr());
        // Python treats an empty frame as nothing arrived and never checks the filler
        // (PROTOCOL.md §3.3): neither is hostile enough to drop a connection for.
        raw.send(&raw_frame(&[], false));
        let seq = raw.seq();
        let mut ping = frame(&request_payload(seq, 1, &Boxed::Value(values(vec!["odd filler".into()]))));
        *ping.last_mut().unwrap() = 0x00;
        raw.send(&ping);
        assert_eq!(raw.reply(seq, "PING with a 0x00 filler"), Boxed::Value("odd filler".into()));
        // A small compressed frame is inflated (so the zlib bomb case is closed for its
        // size, not for being compressed).
        let seq = raw.seq();
        let payload = request_payload(seq, 1, &Boxed::Value(values(vec!["compressed".into()])));
        raw.send(&raw_frame(&zlib(&payload), true));
        assert_eq!(raw.reply(seq, "compressed PING"), Boxed::Value("compressed".into()));
        // An unsolicited REPLY and EXCEPTION are ignored, as Python ignores them.
        let mut p = Vec::new();
        Message::Reply { seq: 424242, value: Boxed::Value(5.into()) }.encode(&mut p).unwrap();
        raw.send_payload(&p);
        p.clear();
        Message::Exception { seq: 424243, payload: ExceptionPayload::StopIteration }.encode(&mut p).unwrap();
        raw.send_payload(&p);
        raw.assert_served("unsolicited replies");
    });
}

fn truncated_frames_close_the_connection(mode: ServerMode) {
    hostile(mode, |server| {
        let ping = frame(&request_payload(1, 1, &Boxed::Value(values(vec!["x".repeat(90).into()]))));
        let cases: [(&str, &[u8]); 3] = [
            ("three bytes of a header", &ping[..3]),
            ("a header alone", &ping[..5]),
            ("half a frame body", &ping[..ping.len() / 2]),
        ];
        for (what, bytes) in cases {
            let mut raw = Raw::connect(server.addr());
            raw.send(bytes);
            // The client is done sending: the server must see EOF mid-frame and close.
            raw.stream.shutdown(Shutdown::Write).unwrap();
            raw.expect_closed(what);
        }
        // A complete frame whose message stops inside the envelope: no seq to answer.
        let mut raw = Raw::connect(server.addr());
        raw.send_payload(&[0x01, 0x11]);
        raw.expect_closed("a message cut inside its envelope");
    });
}

fn length_prefix_of_4_gib_is_refused_before_allocating(mode: ServerMode) {
    hostile(mode, |server| {
        let mut raw = Raw::connect(server.addr());
        raw.assert_served("connecting");
        raw.send_lenient(&[0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x02, 0x03]);
        raw.expect_closed("a 4 GiB length prefix");
        assert!(server_rss(server) < 128 * MIB, "server RSS {} MiB after a 4 GiB prefix", server_rss(server) / MIB);

        // A length just under the 256 MiB limit is accepted, but memory grows only with
        // the bytes that actually arrive: 16 MiB sent, far less than 256 MiB resident.
        let baseline = footprint(server);
        let mut raw = Raw::connect(server.addr());
        raw.send(&((256u32 << 20) - 1).to_be_bytes());
        raw.send(&[0]);
        let chunk = vec![0x41u8; 1 << 20];
        for _ in 0..16 {
            // write_all returning means the server is reading: the socket buffers
            // alone cannot hold 16 MiB.
            raw.send(&chunk);
        }
        let rss = server_rss(server);
        assert!(rss < 128 * MIB, "server RSS {} MiB while a 256 MiB frame trickles in", rss / MIB);
        drop(raw);
        assert_released(server, baseline, "a client gone mid-frame");
    });
}

/// zlib-compresses `data` in one go (small inputs).
fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = Compress::new(flate2::Compression::new(1), true);
    let mut out = Vec::with_capacity(data.len() + 64);
    assert_eq!(z.compress_vec(data, &mut out, FlushCompress::Finish).unwrap(), Status::StreamEnd);
    out
}

/// Raw-deflates `input` and flushes with `flush`, returning everything produced.
fn deflate(z: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 << 10);
    let start = z.total_in();
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let consumed = (z.total_in() - start) as usize;
        let status = z.compress_vec(&input[consumed..], &mut out, flush).unwrap();
        let all_in = (z.total_in() - start) as usize == input.len();
        // Done when the input is consumed and the flush fit in the space we gave it.
        if status == Status::StreamEnd || (all_in && out.len() < out.capacity()) {
            return out;
        }
    }
}

/// A zlib stream (RFC 1950) that inflates to `mib` MiB of zeros, built without ever
/// holding them: a full flush resets the compressor, so after the first, every 1 MiB
/// chunk of zeros deflates to the same bytes, and the stream repeats them.
fn zeros_zlib(mib: u64) -> Vec<u8> {
    zlib_around_zeros(&[], mib, &[])
}

/// A zlib stream of `prefix`, `mib` MiB of zeros and `suffix`, built the same way: a
/// message whose bulk is zeros (`None`s, or the content of a bytes object), small on
/// the wire.
fn zlib_around_zeros(prefix: &[u8], mib: u64, suffix: &[u8]) -> Vec<u8> {
    let chunk = vec![0u8; 1 << 20];
    let mut z = Compress::new(flate2::Compression::best(), false);
    let head = deflate(&mut z, prefix, FlushCompress::Full);
    let first = deflate(&mut z, &chunk, FlushCompress::Full);
    let second = deflate(&mut z, &chunk, FlushCompress::Full);
    let third = deflate(&mut z, &chunk, FlushCompress::Full);
    assert_eq!(second, third, "deflating zeros after a full flush should repeat itself");
    let end = deflate(&mut z, suffix, FlushCompress::Finish);
    let mut out = vec![0x78, 0x01];
    out.extend_from_slice(&head);
    out.extend_from_slice(&first);
    for _ in 1..mib {
        out.extend_from_slice(&second);
    }
    out.extend_from_slice(&end);
    // Adler-32: zeros leave a alone and add a to b once per byte.
    let adler = |(a, b): (u64, u64), bytes: &[u8]| {
        bytes.iter().fold((a, b), |(a, b), &x| ((a + u64::from(x)) % 65521, (b + a + u64::from(x)) % 65521))
    };
    let (a, b) = adler((1, 0), prefix);
    let (a, b) = adler((a, (b + ((mib << 20) % 65521) * a) % 65521), suffix);
    out.extend_from_slice(&((b << 16 | a) as u32).to_be_bytes());
    out
}

/// Inflates up to `cap` bytes of a zlib stream: (bytes out, all zeros, reached the end).
fn inflate_prefix(stream: &[u8], cap: u64) -> (u64, bool, bool) {
    let mut z = Decompress::new(true);
    let mut buf = Vec::with_capacity(1 << 20);
    let mut zeros = true;
    while z.total_out() < cap {
        buf.clear();
        let status = z.decompress_vec(&stream[z.total_in() as usize..], &mut buf, FlushDecompress::None).unwrap();
        zeros &= buf.iter().all(|&b| b == 0);
        if status == Status::StreamEnd {
            return (z.total_out(), zeros, true);
        }
    }
    (z.total_out(), zeros, false)
}

#[test]
fn the_zlib_bomb_is_a_valid_stream() {
    // A small bomb built the same way inflates completely, checksum included...
    assert_eq!(inflate_prefix(&zeros_zlib(5), u64::MAX), (5 * MIB, true, true));
    let around = zlib_around_zeros(b"head", 2, b"tail");
    let mut plain = Vec::with_capacity(3 << 20);
    let mut z = Decompress::new(true);
    assert_eq!(z.decompress_vec(&around, &mut plain, FlushDecompress::Finish).unwrap(), Status::StreamEnd);
    assert_eq!((&plain[..4], plain.len(), &plain[plain.len() - 4..]), (&b"head"[..], (2 << 20) + 8, &b"tail"[..]));
    // ...and the real one starts inflating to zeros without error.
    assert_eq!(inflate_prefix(&zeros_zlib(1024), 32 * MIB), (32 * MIB, true, false));
}

fn zlib_bomb_is_cut_off_at_the_inflate_limit(mode: ServerMode) {
    let body = zeros_zlib(1024); // 1 GiB of zeros, four times the server's limit
    assert!(body.len() < 4 << 20, "the bomb should be small on the wire ({} bytes)", body.len());
    hostile(mode, |server| {
        let limit = Limits::DEFAULT.max_inflated_len as u64;
        // Watch the peak resident memory of every server process while it inflates.
        let done = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (done, leader) = (done.clone(), server.pid());
            std::thread::spawn(move || {
                let mut peak = 0;
                loop {
                    // Each process's high-water mark: a sample cannot miss a peak
                    // between samples, only the last instants of a child that exits.
                    let now = server_pids(leader).into_iter().map(peak_rss_bytes).sum();
                    peak = u64::max(peak, now);
                    if done.load(Ordering::Relaxed) {
                        return peak;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let mut raw = Raw::connect(server.addr());
        raw.assert_served("connecting");
        raw.send_lenient(&raw_frame(&body, true));
        // Inflating 256 MiB takes seconds in a debug build on a busy machine.
        raw.stream.set_read_timeout(Some(4 * IO_TIMEOUT)).unwrap();
        raw.expect_closed("a zlib bomb");
        done.store(true, Ordering::Relaxed);
        let peak = watcher.join().unwrap();
        let bound = limit + 64 * MIB;
        assert!(peak < bound, "server RSS reached {} MiB inflating a bomb (limit {} MiB)", peak / MIB, limit / MIB);
        let stderr_says = || server.stderr().contains("inflates past the limit");
        assert!(eventually(SETTLE, stderr_says), "closed for another reason; stderr:\n{}", server.stderr());
    });
}

/// The server and its children, cheaply enough to ask every few milliseconds (the
/// watcher thread cannot borrow the handle for `pids()`).
fn server_pids(leader: u32) -> Vec<u32> {
    let children = std::fs::read_to_string(format!("/proc/{leader}/task/{leader}/children")).unwrap_or_default();
    std::iter::once(leader).chain(children.split_whitespace().filter_map(|p| p.parse().ok())).collect()
}

fn unknown_handlers_raise_key_error(mode: ServerMode) {
    hostile(mode, |server| {
        let mut raw = Raw::connect(server.addr());
        for handler in [0, 21, 99, -1, 1 << 40, i64::MAX, i64::MIN] {
            let seq = raw.request(handler, no_args());
            raw.expect_exception(seq, "KeyError", &format!("handler {handler}"));
        }
        raw.assert_served("unknown handlers");
    });
}

fn wrong_argument_shapes_raise_type_error(mode: ServerMode) {
    hostile(mode, |server| {
        let mut raw = Raw::connect(server.addr());
        let root = raw.getroot();
        let local = || Boxed::LocalRef(root.clone());
        let v = |x: Value| Boxed::Value(x);
        let cases: Vec<(&str, Handler, Boxed)> = vec![
            ("CALLATTR with one argument", Handler::CallAttr, Boxed::Tuple(vec![local()])),
            ("GETATTR with a non-string name", Handler::GetAttr, Boxed::Tuple(vec![local(), v(42.into())])),
            (
                "GETATTR with three arguments",
                Handler::GetAttr,
                Boxed::Tuple(vec![local(), v("ping".into()), v(1.into())]),
            ),
            ("GETATTR on a plain value", Handler::GetAttr, v(values(vec![7.into(), "ping".into()]))),
            ("PING with arguments that are not a tuple", Handler::Ping, v(5.into())),
            ("PING with two arguments", Handler::Ping, v(values(vec![1.into(), 2.into()]))),
            (
                "CALLATTR with arguments that are not a tuple",
                Handler::CallAttr,
                Boxed::Tuple(vec![local(), v("echo".into()), v(5.into())]),
            ),
            (
                "CALLATTR with keyword arguments that are not pairs",
                Handler::CallAttr,
                Boxed::Tuple(vec![local(), v("echo".into()), v(values(vec![1.into()])), v(5.into())]),
            ),
            (
                "CALLATTR with five arguments",
                Handler::CallAttr,
                Boxed::Tuple(vec![local(), v("echo".into()), v(values(vec![])), v(values(vec![])), v(1.into())]),
            ),
            ("CALL on the root", Handler::Call, Boxed::Tuple(vec![local(), v(values(vec![]))])),
            ("SETATTR with one argument", Handler::SetAttr, Boxed::Tuple(vec![local()])),
            ("REPR with no argument", Handler::Repr, no_args()),
            ("BUFFITER with a negative count", Handler::BuffIter, Boxed::Tuple(vec![local(), v((-1).into())])),
            ("CMP with a non-string operator", Handler::Cmp, Boxed::Tuple(vec![local(), v(1.into()), v(2.into())])),
            ("DEL with one argument", Handler::Del, Boxed::Tuple(vec![local()])),
            ("INSPECT of a non-id_pack", Handler::Inspect, v(values(vec!["x".into()]))),
            ("echo() without its argument", Handler::CallAttr, callattr_args(&root, "echo", vec![])),
            ("download('abc')", Handler::CallAttr, callattr_args(&root, "download", vec!["abc".into()])),
            (
                "nested(1, 2): a callback that is a number",
                Handler::CallAttr,
                callattr_args(&root, "nested", vec![1.into(), 2.into()]),
            ),
        ];
        for (what, handler, args) in cases {
            let seq = raw.request(i64::from(handler.id()), args);
            raw.expect_exception(seq, "TypeError", what);
        }
        raw.assert_served("wrong argument shapes");
        // The same connection still calls the service.
        let seq = raw.request(i64::from(Handler::CallAttr.id()), callattr_args(&root, "echo", vec![41.into()]));
        assert_eq!(raw.reply(seq, "echo(41)"), Boxed::Value(41.into()));
    });
}

fn references_to_unknown_objects_raise(mode: ServerMode) {
    hostile(mode, |server| {
        let mut raw = Raw::connect(server.addr());
        let root = raw.getroot();
        let unknown = IdPack::new("builtins.dict", 12345, 67890);
        let forged = IdPack::new(root.name.clone(), root.class_id, root.object_id ^ 0x5a5a);
        for (what, id) in [("an id nobody lent", &unknown), ("the root's name with a forged object id", &forged)] {
            let target = || Boxed::LocalRef(id.clone());
            let cases = [
                (Handler::GetAttr, Boxed::Tuple(vec![target(), Boxed::Value("ping".into())])),
                (Handler::CallAttr, callattr_args(id, "ping", vec![])),
                (Handler::Call, Boxed::Tuple(vec![target(), no_args()])),
                (Handler::Repr, Boxed::Tuple(vec![target()])),
                (
                    Handler::Inspect,
                    Boxed::Value(values(vec![values(vec![
                        id.name.as_ref().into(),
                        id.class_id.into(),
                        id.object_id.into(),
                    ])])),
                ),
                // An unknown reference inside the arguments, not as the target.
                (Handler::CallAttr, {
                    let mut args = callattr_args(&root, "echo", vec![]);
                    if let Boxed::Tuple(items) = &mut args {
                        items[2] = Boxed::Tuple(vec![target()]);
                    }
                    args
                }),
            ];
            for (handler, args) in cases {
                let seq = raw.request(i64::from(handler.id()), args);
                raw.expect_exception(seq, "KeyError", &format!("{handler} of {what}"));
            }
            // Releasing what was never lent changes nothing (a DEL is fire and forget).
            let seq =
                raw.request(i64::from(Handler::Del.id()), Boxed::Tuple(vec![target(), Boxed::Value(1_000_000.into())]));
            match raw.answer(seq, "DEL of an unknown object") {
                Message::Reply { .. } | Message::Exception { .. } => {}
                Message::Request { .. } => unreachable!("answer() returns the message for seq"),
            }
        }
        // A reference to the client's own object where the server needs one of its own.
        let mine = IdPack::new("builtins.function", 1, 2);
        let seq = raw.request(
            i64::from(Handler::GetAttr.id()),
            Boxed::Tuple(vec![Boxed::RemoteRef(mine), Boxed::Value("x".into())]),
        );
        raw.expect_exception(seq, "TypeError", "GETATTR on the client's own object");
        // The root still works after all that: nothing was released by the forged DELs.
        let seq = raw.request(i64::from(Handler::CallAttr.id()), callattr_args(&root, "ping", vec![]));
        assert_eq!(raw.reply(seq, "ping()"), Boxed::Value("pong".into()));
    });
}

fn undecodable_arguments_with_a_readable_seq_raise(mode: ServerMode) {
    hostile(mode, |server| {
        let mut raw = Raw::connect(server.addr());
        let callattr = i64::from(Handler::CallAttr.id());
        let mut bad_utf8 = Vec::new();
        rpycbench::wire::brine::encode(&values(vec!["ab".into()]), &mut bad_utf8).unwrap();
        let n = bad_utf8.len();
        bad_utf8[n - 2..].copy_from_slice(&[0xff, 0xfe]);
        let mut deep = vec![0x11, 0x51]; // box (VALUE, ...
        deep.resize(deep.len() + 100_000, 0x10); // 100,000 nested 1-tuples
        deep.push(0x00);
        let bodies: Vec<(&str, Vec<u8>)> = vec![
            ("a box label of 9", vec![0x11, 0x59, 0x00]),
            ("arguments cut short", vec![0x11, 0x52, 0x12]),
            ("an unknown brine tag in the arguments", vec![0x11, 0x51, 0xf7]),
            ("a str that is not UTF-8", [&[0x11, 0x51][..], &bad_utf8].concat()),
            ("arguments nested 100,000 deep", deep),
            ("an id_pack whose name is an int", vec![0x11, 0x53, 0x12, 0x55, 0x56, 0x57]),
            ("trailing bytes after the request", vec![0x11, 0x51, 0x02, 0x00, 0x00]),
        ];
        for (what, body) in bodies {
            let seq = raw.seq();
            let mut payload = Vec::new();
            write_request_header(seq, callattr, &mut payload);
            payload.extend_from_slice(&body);
            raw.send_payload(&payload);
            raw.expect_exception(seq, "ValueError", what);
        }
        raw.assert_served("undecodable arguments");
    });
}

fn half_a_request_then_disconnect(mode: ServerMode) {
    hostile(mode, |server| {
        let baseline = footprint(server);
        let mut raw = Raw::connect(server.addr());
        let root = raw.getroot();
        let call = frame(&request_payload(9, i64::from(Handler::CallAttr.id()), &callattr_args(&root, "ping", vec![])));
        raw.send(&call[..call.len() / 2]);
        drop(raw);
        assert_released(server, baseline, "a client gone after half a request");
    });
}

fn disconnect_while_the_server_calls_back(mode: ServerMode) {
    hostile(mode, |server| {
        let callback = IdPack::new("builtins.function", 777, 4242);
        let nested = |root: &IdPack, depth: i64| {
            Boxed::Tuple(vec![
                Boxed::LocalRef(root.clone()),
                Boxed::Value("nested".into()),
                Boxed::Tuple(vec![Boxed::Value(depth.into()), Boxed::RemoteRef(callback.clone())]),
                no_args(),
            ])
        };
        // The server calls our callback: a CALL on our object with (depth - 1,).
        let expect_callback = |raw: &mut Raw| -> i64 {
            let (seq, handler, args) = raw.server_request("nested(3, callback)");
            assert_eq!(handler, i64::from(Handler::Call.id()), "expected the callback CALL, got {args:?}");
            let Boxed::Tuple(items) = &args else { panic!("callback args {args:?}") };
            assert_eq!(items[0], Boxed::LocalRef(callback.clone()), "the callback target");
            assert_eq!(items[1], Boxed::Value(values(vec![2.into()])), "the callback arguments");
            seq
        };

        // Taken before any connection, so that the control's cannot inflate it.
        let baseline = footprint(server);
        // Control: answering the callback completes the call (41 + 1).
        let mut raw = Raw::connect(server.addr());
        let root = raw.getroot();
        let seq = raw.request(i64::from(Handler::CallAttr.id()), nested(&root, 3));
        let cb_seq = expect_callback(&mut raw);
        raw.send_reply(cb_seq, 41.into());
        assert_eq!(raw.reply(seq, "nested(3, callback)"), Boxed::Value(42.into()));
        drop(raw);
        assert_released(server, baseline, "the control connection");

        // The hostile version: vanish while the server waits for the callback's reply.
        let mut raw = Raw::connect(server.addr());
        let root = raw.getroot();
        raw.request(i64::from(Handler::CallAttr.id()), nested(&root, 3));
        expect_callback(&mut raw);
        drop(raw);
        assert_released(server, baseline, "a client gone during a callback");
    });
}

fn disconnect_while_the_server_sends_a_large_reply(mode: ServerMode) {
    hostile(mode, |server| {
        let baseline = footprint(server);
        let mut raw = Raw::connect(server.addr());
        let root = raw.getroot();
        raw.request(i64::from(Handler::CallAttr.id()), callattr_args(&root, "download", vec![(16 << 20).into()]));
        // Read the first bytes of the reply, so the server is mid-write, then vanish.
        let mut first = [0u8; 4096];
        raw.stream.read_exact(&mut first).expect("the start of a 16 MiB reply");
        drop(raw);
        assert_released(server, baseline, "a client gone while its reply was being written");
    });
}

fn absurd_sizes_raise_instead_of_aborting(mode: ServerMode) {
    hostile(mode, |server| {
        let mut raw = Raw::connect(server.addr());
        let root = raw.getroot();
        let calls: [(&str, Vec<Value>); 2] = [
            ("download", vec![(1i64 << 62).into()]),
            ("download_chunked", vec![(1i64 << 62).into(), (1i64 << 20).into()]),
        ];
        for (what, args) in calls {
            let seq = raw.request(i64::from(Handler::CallAttr.id()), callattr_args(&root, what, args));
            let e = raw.exception(seq, what);
            assert!(matches!(e.class.as_str(), "MemoryError" | "ValueError" | "OverflowError"), "{what}(2**62): {e}");
        }
        let seq = raw
            .request(i64::from(Handler::CallAttr.id()), callattr_args(&root, "get_users", vec![(1i64 << 62).into()]));
        let e = raw.exception(seq, "get_users(2**62)");
        assert!(matches!(e.class.as_str(), "MemoryError" | "ValueError" | "OverflowError"), "get_users(2**62): {e}");

        // nested(depth, callback) at the edges of i64: Python's integers have none, so
        // the arithmetic goes on in big integers, and nothing panics.
        let callback = IdPack::new("builtins.function", 777, 4242);
        let nested = |depth: i64| {
            Boxed::Tuple(vec![
                Boxed::LocalRef(root.clone()),
                Boxed::Value("nested".into()),
                Boxed::Tuple(vec![Boxed::Value(depth.into()), Boxed::RemoteRef(callback.clone())]),
                no_args(),
            ])
        };
        let seq = raw.request(i64::from(Handler::CallAttr.id()), nested(i64::MIN));
        let (cb_seq, handler, args) = raw.server_request("nested(-2**63, callback)");
        assert_eq!(handler, i64::from(Handler::Call.id()), "the callback CALL");
        let below = num_bigint::BigInt::from(i64::MIN) - 1;
        assert!(format!("{args:?}").contains(&format!("BigInt({below})")), "called back with -2**63 - 1: {args:?}");
        raw.send_reply(cb_seq, 0.into());
        assert_eq!(raw.reply(seq, "nested(-2**63, callback returning 0)"), Boxed::Value(1.into()));
        let seq = raw.request(i64::from(Handler::CallAttr.id()), nested(1));
        let (cb_seq, handler, _) = raw.server_request("nested(1, callback)");
        assert_eq!(handler, i64::from(Handler::Call.id()), "the callback CALL");
        raw.send_reply(cb_seq, i64::MAX.into());
        let over = Value::from(num_bigint::BigInt::from(i64::MAX) + 1);
        assert_eq!(raw.reply(seq, "nested(1, callback returning 2**63 - 1)"), Boxed::Value(over));
        raw.assert_served("absurd sizes");
    });
}

/// The address space the server may use in the memory-limit cases (the 2 GiB),
/// as a container's limit would: past it an allocation fails and Rust aborts the whole
/// process. Address space, not resident memory: each thread's malloc arena reserves
/// 64 MiB of it, so a few connections and 1 GiB are already too tight for 100 MiB
/// transfers. A tuple bomb asked for 3.2 GiB at once before there was a budget.
const ADDRESS_SPACE: u64 = 2 << 30;

/// Caps the server process's address space (RLIMIT_AS; forked children inherit it).
fn limit_address_space(server: &ServerHandle) {
    let limit = libc::rlimit { rlim_cur: ADDRESS_SPACE, rlim_max: ADDRESS_SPACE };
    // SAFETY: prlimit only reads `limit`; the old limit is not asked for (null).
    let rc = unsafe { libc::prlimit(server.pid() as libc::pid_t, libc::RLIMIT_AS, &limit, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit(RLIMIT_AS) on the server: {}", std::io::Error::last_os_error());
}

/// Waits until the server's resident memory is back near `start`.
fn assert_rss_returns(server: &ServerHandle, start: u64, what: &str) {
    let ok = eventually(SETTLE, || server_rss(server) <= start + 48 * MIB);
    assert!(ok, "{what}: server RSS {} MiB, {} MiB at the start", server_rss(server) / MIB, start / MIB);
}

fn a_tuple_bomb_fails_alone_under_a_memory_limit(mode: ServerMode) {
    // A PING whose argument is a tuple of 100 Mi `None`s: 100 MiB inflated (within the
    // frame limits), 3.2 GiB once decoded, 100 KB on the wire.
    const NONES: u64 = 100;
    hostile(mode, |server| {
        limit_address_space(server);
        let (baseline, start) = (footprint(server), server_rss(server));
        let mut raw = Raw::connect(server.addr());
        raw.assert_served("connecting");
        let seq = raw.seq();
        let mut head = Vec::new();
        write_request_header(seq, i64::from(Handler::Ping.id()), &mut head);
        head.extend_from_slice(&[0x11, 0x51, 0x15]); // (VALUE, tuple of u32be elements
        head.extend_from_slice(&((NONES << 20) as u32).to_be_bytes());
        let body = zlib_around_zeros(&head, NONES, &[]);
        assert!(body.len() < 1 << 20, "the bomb should be small on the wire ({} bytes)", body.len());
        raw.send(&raw_frame(&body, true));
        raw.stream.set_read_timeout(Some(4 * IO_TIMEOUT)).unwrap();
        let e = raw.expect_exception(seq, "MemoryError", "a tuple bomb");
        assert!(format!("{e:?}").contains("memory budget"), "a tuple bomb: {e:?}");
        raw.assert_served("a tuple bomb");
        drop(raw);
        assert_released(server, baseline, "a tuple bomb");
        assert_rss_returns(server, start, "a tuple bomb");
    });
}

/// CALLATTR(root, "echo", (bytes of `mib` MiB of zeros,), ()), compressed: what a
/// client sends to have the server expand a small frame into a large reply.
fn compressed_echo_of_zeros(seq: i64, root: &IdPack, mib: u64) -> Vec<u8> {
    use rpycbench::wire::brine;
    let mut head = Vec::new();
    write_request_header(seq, i64::from(Handler::CallAttr.id()), &mut head);
    head.extend_from_slice(&[0x11, 0x52, 0x13, 0x11, 0x53]); // (TUPLE, 4 boxes: (LOCAL_REF,
    root.encode(&mut head).unwrap();
    head.extend_from_slice(&[0x11, 0x51]); // (VALUE, "echo")
    brine::write_str("echo", &mut head).unwrap();
    head.extend_from_slice(&[0x11, 0x51, 0x10, 0x0f]); // (VALUE, (bytes of u32be length
    head.extend_from_slice(&((mib << 20) as u32).to_be_bytes());
    raw_frame(&zlib_around_zeros(&head, mib, &[0x11, 0x51, 0x02]), true)
}

fn unread_large_replies_fail_alone_under_a_memory_limit(mode: ServerMode) {
    hostile(mode, |server| {
        limit_address_space(server);
        let (baseline, start) = (footprint(server), server_rss(server));
        let download = |raw: &mut Raw, root: &IdPack, bytes: i64| {
            raw.request(i64::from(Handler::CallAttr.id()), callattr_args(root, "download", vec![bytes.into()]))
        };
        let mut unread = Vec::new();
        for i in 0..3 {
            let mut raw = Raw::connect(server.addr());
            let root = raw.getroot();
            // Past the budget: refused before the bytes are made.
            let seq = download(&mut raw, &root, 200 << 20);
            let e = raw.expect_exception(seq, "MemoryError", "download(200 MiB)");
            assert!(format!("{e:?}").contains("memory budget"), "download(200 MiB): {e:?}");
            // Tiny chunks of a download within the budget, past it once chunked.
            let seq = raw.request(
                i64::from(Handler::CallAttr.id()),
                callattr_args(&root, "download_chunked_tuple", vec![(64i64 << 20).into(), 1.into()]),
            );
            raw.expect_exception(seq, "MemoryError", "download_chunked_tuple(64 MiB, 1)");
            // Two million one-byte ids: 2 MB sent, 64 MiB decoded, but hundreds of
            // MiB as user tuples.
            let ids = Value::Tuple((0..2_000_000).map(|i| Value::Int(i % 100)).collect());
            let seq =
                raw.request(i64::from(Handler::CallAttr.id()), callattr_args(&root, "get_users_batch", vec![ids]));
            raw.expect_exception(seq, "MemoryError", "get_users_batch(2,000,000 ids)");
            // Within it: 100 MiB replies nobody reads, one per connection.
            download(&mut raw, &root, 100 << 20);
            unread.push(raw);
            // 200 MiB of zeros to echo, sent as 200 KB: the connection is cut when the
            // frame inflates past the budget, before anything is built.
            let mut raw = Raw::connect(server.addr());
            let root = raw.getroot();
            let seq = raw.seq();
            raw.send_lenient(&compressed_echo_of_zeros(seq, &root, 200));
            raw.expect_closed(&format!("echo of 200 MiB #{i}"));
        }
        let stderr_says = || server.stderr().contains("inflates past the limit");
        assert!(eventually(SETTLE, stderr_says), "closed for another reason; stderr:\n{}", server.stderr());
        // The bystander is served while 300 MiB of replies wait.
        // (hostile() checks it again, and that new connections are served.)
        std::thread::sleep(Duration::from_millis(200));
        let mut probe = Raw::connect(server.addr());
        probe.assert_served("three unread 100 MiB replies");
        let held = server_rss(server);
        drop(probe);
        drop(unread);
        assert_released(server, baseline, "unread large replies");
        assert_rss_returns(server, start, "unread large replies");
        let mib = |b: u64| b / MIB;
        eprintln!(
            "{mode} server RSS: {} MiB at the start, {} MiB holding three unread 100 MiB replies, {} MiB after",
            mib(start),
            mib(held),
            mib(server_rss(server))
        );
    });
}

/// Values of requests answered one inside another are charged to the same budget: a
/// peer cannot multiply it by calling back while its first request is in use.
fn nested_requests_share_the_budget(mode: ServerMode) {
    hostile(mode, |server| {
        let mut raw = Raw::connect(server.addr());
        let root = raw.getroot();
        let proxy = IdPack::new("builtins.object", 777, 4242);
        let bulk = |mib: usize| Boxed::Value(Value::from(vec![0x41; mib << 20]));
        // get_user((proxy, 80 MiB)): formatting the id asks us for the proxy's repr
        // while the 80 MiB argument is in use.
        let id = Boxed::Tuple(vec![Boxed::RemoteRef(proxy), bulk(80)]);
        let args = Boxed::Tuple(vec![
            Boxed::LocalRef(root.clone()),
            Boxed::Value("get_user".into()),
            Boxed::Tuple(vec![id]),
            no_args(),
        ]);
        let seq = raw.request(i64::from(Handler::CallAttr.id()), args);
        let (cb_seq, _, _) = raw.server_request("the repr of our proxy");
        // 60 MiB more on top of the 80 in use: past the 128 MiB budget.
        let echo = |raw: &mut Raw, mib| {
            raw.request(
                i64::from(Handler::CallAttr.id()),
                Boxed::Tuple(vec![
                    Boxed::LocalRef(root.clone()),
                    Boxed::Value("echo".into()),
                    Boxed::Tuple(vec![bulk(mib)]),
                    no_args(),
                ]),
            )
        };
        let nested = echo(&mut raw, 60);
        let e = raw.expect_exception(nested, "MemoryError", "a nested 60 MiB echo");
        assert!(format!("{e:?}").contains("memory budget"), "a nested 60 MiB echo: {e:?}");
        // A nested request that fits is answered.
        let small = echo(&mut raw, 1);
        assert!(matches!(raw.reply(small, "a nested 1 MiB echo"), Boxed::Value(Value::Bytes(b)) if b.len() == 1 << 20));
        let mut p = Vec::new();
        let refusal = ExceptionPayload::Raised(RemoteException::builtin("ValueError", "no repr today"));
        Message::Exception { seq: cb_seq, payload: refusal }.encode(&mut p).unwrap();
        raw.send_payload(&p);
        raw.expect_exception(seq, "ValueError", "get_user((proxy, 80 MiB))");
        // Once the first request is answered, its budget is back.
        let after = echo(&mut raw, 60);
        assert!(matches!(raw.reply(after, "a 60 MiB echo"), Boxed::Value(Value::Bytes(b)) if b.len() == 60 << 20));
    });
}

/// A service with a bug: `boom` panics.
struct Panicky;

impl Service for Panicky {
    fn type_name(&self) -> &str {
        "tests.Panicky"
    }
    fn methods(&self) -> &[&'static str] {
        &["boom", "ping"]
    }
    fn call(&self, _conn: &mut Connection, method: &str, _args: Args) -> rpycbench::Result<Object> {
        match method {
            "boom" => panic!("boom: a service bug, on purpose (expected in this test's output)"),
            _ => Ok("pong".into()),
        }
    }
}

/// A connection whose `ping` is answered, retried until the server has a free slot
/// (a refused connection is accepted and closed at once, so its call fails).
fn connect_served(addr: SocketAddr, what: &str) -> Connection {
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        let attempt = Connection::connect_with(addr, Config::default().request_timeout(IO_TIMEOUT))
            .and_then(|mut c| c.call("ping", ()).map(|_| c));
        match attempt {
            Ok(c) => return c,
            Err(e) if std::time::Instant::now() >= deadline => panic!("{what}: never served within {SETTLE:?}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

#[test]
fn a_panicking_service_ends_only_its_connection() {
    // In-process: a threaded server is safe to run inside the test binary (a forking
    // one is not), and only this way can it serve a service with a bug.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let service: Arc<dyn Service> = Arc::new(Panicky);
    let opts = ServeOptions {
        service: Arc::new(move || service.clone()),
        config: Config::default(),
        max_connections: Some(2),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || serve_threaded(listener, opts, &stop))
    };
    let mut bystander = connect_served(addr, "the bystander");
    // Each panic must give its slot back: with two slots and the bystander holding
    // one, a leaked slot would refuse every later connection.
    for round in 0..3 {
        let mut victim = connect_served(addr, &format!("round {round}"));
        let err = victim.call("boom", ()).expect_err("a panicking call cannot succeed");
        assert!(err.is_connection_fatal(), "round {round}: the panic should close the connection, got {err}");
        let pong: String = bystander.call("ping", ()).and_then(|o| o.extract()).expect("the bystander");
        assert_eq!(pong, "pong");
    }
    bystander.close().unwrap();
    stop.store(true, Ordering::Relaxed);
    server.join().expect("server thread").expect("serve_threaded");
}

// ---------------------------------------------------------------------------------
// The relay (`rpycbench proxy`) under the same memory limit.

/// `rpycbench proxy --quiet` in front of `upstream`.
fn relay_process(upstream: SocketAddr) -> common::Listening {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rpycbench"));
    cmd.args(["proxy", "--quiet", "--listen", "127.0.0.1:0", "--upstream", &upstream.to_string()])
        .stdin(std::process::Stdio::null());
    common::Listening::start(cmd, "rpycbench proxy")
}

/// A tuple bomb and three unread 100 MiB replies through the relay, its address space
/// capped as the servers' are: the relay decodes a copy of every frame within the
/// memory budget and buffers at most 1 MiB a direction, so it neither aborts nor grows,
/// and a client relayed beside them keeps its calls.
#[test]
fn the_relay_survives_a_tuple_bomb_and_unread_replies_under_a_memory_limit() {
    let server = native_spec(ServerMode::Threaded).start().expect("starting the server");
    let relay = relay_process(server.addr());
    let limit = libc::rlimit { rlim_cur: ADDRESS_SPACE, rlim_max: ADDRESS_SPACE };
    // SAFETY: prlimit only reads `limit`; the old limit is not asked for (null).
    let rc = unsafe { libc::prlimit(relay.child.id() as libc::pid_t, libc::RLIMIT_AS, &limit, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit(RLIMIT_AS) on the relay: {}", std::io::Error::last_os_error());
    let start = rss_bytes(relay.child.id());
    let bystander = Bystander::start(relay.addr);

    let mut raw = Raw::connect(relay.addr);
    raw.assert_served("connecting through the relay");
    let seq = raw.seq();
    let mut head = Vec::new();
    write_request_header(seq, i64::from(Handler::Ping.id()), &mut head);
    head.extend_from_slice(&[0x11, 0x51, 0x15]); // (VALUE, tuple of u32be elements
    head.extend_from_slice(&((100u64 << 20) as u32).to_be_bytes());
    raw.send(&raw_frame(&zlib_around_zeros(&head, 100, &[]), true));
    raw.stream.set_read_timeout(Some(4 * IO_TIMEOUT)).unwrap();
    raw.expect_exception(seq, "MemoryError", "a tuple bomb through the relay");
    raw.assert_served("a tuple bomb through the relay");

    let mut unread = Vec::new();
    for _ in 0..3 {
        let mut raw = Raw::connect(relay.addr);
        let root = raw.getroot();
        raw.request(i64::from(Handler::CallAttr.id()), callattr_args(&root, "download", vec![(100i64 << 20).into()]));
        unread.push(raw);
    }
    std::thread::sleep(Duration::from_millis(500));
    bystander.wait_more(20);
    let held = rss_bytes(relay.child.id());
    drop(unread);
    drop(raw);
    bystander.finish();
    let state = common::proc_stat(relay.child.id()).map(|s| s.state);
    assert!(matches!(state, Some(s) if s != 'Z'), "the relay is gone ({state:?})");
    // A decoded copy of one budget at most while the bomb passed; the replies wait in
    // the kernel and the relay's 1 MiB buffers, not in the relay.
    assert!(held <= start + 64 * MIB, "relay RSS {} MiB holding three unread replies", held / MIB);
    let settled = eventually(SETTLE, || rss_bytes(relay.child.id()) <= start + 48 * MIB);
    assert!(settled, "relay RSS {} MiB, {} MiB at the start", rss_bytes(relay.child.id()) / MIB, start / MIB);
    drop(relay);
    server.stop().expect("stop the server");
}
