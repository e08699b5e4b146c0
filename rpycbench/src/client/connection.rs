//! The connection engine: one TCP stream, framed messages, sequence numbers, and the
//! wait loop that serves the peer's requests while a reply is outstanding.

use super::config::Config;
use super::counters::WireCounters;
use super::dispatch::RequestArgs;
use super::local::{ExportTable, LocalRef};
use super::object::Object;
use super::observer::WireObserver;
use super::outgoing::{self, BoxCtx, Part};
use super::plain_request::PlainRequest;
use super::remote::{HeldRefs, ReleaseQueue, RemoteRef};
use crate::error::{Error, ProtocolError, Result};
use crate::wire::brine::sealed::SinkVec;
use crate::wire::{Boxed, ExceptionPayload, FrameDecoder, FrameEncoder, FrameParts, Handler, Message};
use std::collections::{HashMap, HashSet};
use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A message as [`Connection::receive`] hands it on.
pub(crate) enum Incoming {
    /// Any message, decoded in full.
    Message(Message),
    /// A plain CALLATTR or DEL, decoded in place (see `client::plain_request`).
    Plain(PlainRequest),
}

/// What a request came back with.
pub(crate) enum Outcome {
    Value(Object),
    Raised(Error),
}

/// A blocking RPyC connection, usable as a client and (with a service root) as the
/// serving side of a server.
///
/// While it waits for a reply it answers whatever the peer asks in the meantime
/// (callbacks, INSPECT, DEL), as a Python peer does, so request/reply pairs nest to any
/// depth.
pub struct Connection {
    pub(crate) stream: TcpStream,
    pub(crate) peer: String,
    pub(crate) config: Config,
    pub(super) decoder: FrameDecoder,
    /// When the frame being received began to arrive, if in pieces.
    pub(super) pieces: super::arrivals::PieceClock,
    pub(super) encoder: FrameEncoder,
    next_seq: i64,
    /// Sequence numbers of the synchronous waits in progress, innermost last.
    waiting: Vec<i64>,
    /// Sequence numbers of asynchronous requests whose reply is still wanted.
    pub(crate) async_pending: HashSet<i64>,
    /// Replies that arrived for a request other than the one being waited for.
    replies: HashMap<i64, Outcome>,
    pub(crate) exports: ExportTable,
    held: HeldRefs,
    pub(crate) queue: Arc<ReleaseQueue>,
    pub(crate) root: Option<RemoteRef>,
    pub(crate) service: Option<LocalRef>,
    pub(crate) counters: WireCounters,
    pub(crate) closed: bool,
    /// The methods of the peer's types, from INSPECT (see `python::netref`).
    pub(crate) netref_methods: HashMap<String, Arc<[String]>>,
    /// How deep Python-level operations (`repr`, comparisons) recurse right now.
    pub(crate) python_depth: u32,
    /// The containers whose `repr` is being computed (CPython's `Py_ReprEnter`).
    pub(crate) repr_active: Vec<usize>,
    /// Requests of the peer being answered, nested (a callback calling back).
    pub(crate) answering: u32,
    /// Memory charged to the values of the peer's requests being answered (nested
    /// ones included): what is left of the budget bounds the next message's values.
    pub(super) decoded_live: usize,
    /// What the message `receive` returned last was charged; `handle_message` holds
    /// it against the budget while the request is answered.
    pub(super) received_charge: usize,
    pub(super) read_timeout: Option<Duration>,
    /// Whether `read_timeout` was set for a silence limit (see `arm_silence_limit`).
    pub(super) silence_armed: bool,
    /// Told about every frame when set (profiling); `None` costs one branch per frame.
    pub(super) observer: Option<Box<dyn WireObserver>>,
}

impl Connection {
    /// Connects with the default [`Config`].
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Connection> {
        Connection::connect_with(addr, Config::default())
    }

    /// Connects with `config`, trying each resolved address in turn.
    pub fn connect_with(addr: impl ToSocketAddrs, config: Config) -> Result<Connection> {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|source| Error::Connect { addr: "(unresolvable address)".into(), source })?
            .collect();
        let mut last = std::io::Error::new(ErrorKind::InvalidInput, "address resolved to nothing");
        for a in &addrs {
            match TcpStream::connect_timeout(a, config.connect_timeout) {
                Ok(stream) => return Connection::from_stream(stream, config),
                Err(e) => last = e,
            }
        }
        let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        Err(Error::Connect { addr: shown.join(", "), source: last })
    }

    /// Runs RPyC over an already connected stream (a server's accepted socket).
    pub fn from_stream(stream: TcpStream, config: Config) -> Result<Connection> {
        let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "(unknown peer)".into());
        let io = |source| Error::Io { peer: peer.clone(), doing: "configuring the socket", source };
        // Small request/reply frames must leave at once: Nagle would add 40 ms stalls.
        stream.set_nodelay(true).map_err(io)?;
        stream.set_read_timeout(Some(config.request_timeout)).map_err(io)?;
        Ok(Connection {
            observer: super::observer::default_observer(&peer),
            peer,
            decoder: FrameDecoder::new(config.limits).retaining(),
            pieces: Default::default(),
            encoder: FrameEncoder::new(config.compression),
            read_timeout: Some(config.request_timeout),
            silence_armed: false,
            config,
            stream,
            next_seq: 0,
            waiting: Vec::new(),
            async_pending: HashSet::new(),
            replies: HashMap::new(),
            exports: ExportTable::new(),
            held: HeldRefs::new(),
            queue: ReleaseQueue::new(),
            root: None,
            service: None,
            netref_methods: HashMap::new(),
            python_depth: 0,
            repr_active: Vec::new(),
            answering: 0,
            decoded_live: 0,
            received_charge: 0,
            counters: WireCounters::default(),
            closed: false,
        })
    }

    /// Sets the object this side returns to the peer's GETROOT (a server's service).
    pub fn set_service(&mut self, root: LocalRef) {
        self.service = Some(root);
    }

    /// The peer's address.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A snapshot of the wire counters; subtract two snapshots for the traffic between.
    pub fn counters(&self) -> WireCounters {
        self.counters
    }

    /// Installs (or with `None` removes) the observer told about every frame from now
    /// on; returns the one it replaces. Observing never adds a request.
    pub fn set_observer(&mut self, observer: Option<Box<dyn WireObserver>>) -> Option<Box<dyn WireObserver>> {
        std::mem::replace(&mut self.observer, observer)
    }

    /// How many of the peer's objects this side holds proxies for.
    pub fn remote_refs_held(&self) -> usize {
        self.held.len()
    }

    /// How many of this side's objects the peer holds.
    pub fn local_objects_lent(&self) -> usize {
        self.exports.len()
    }

    /// Whether the peer has hung up, asked without reading or waiting: for work that
    /// takes long (a sleep, a CPU loop) and is pointless once nobody waits for it.
    ///
    /// A service's method gets the connection it serves, so a long one can ask every
    /// so often and give up (returning any error) once its client is gone; see
    /// [`Service`](crate::server::Service). One `poll(2)` of the socket with no timeout:
    /// about a microsecond, cheap enough to ask every few milliseconds. A client that
    /// half-closed its side (`shutdown(SHUT_WR)`) counts as gone, as an RPyC server
    /// treats its end of stream as a close.
    pub fn peer_gone(&self) -> bool {
        use std::os::fd::AsRawFd;
        let mut fd = libc::pollfd { fd: self.stream.as_raw_fd(), events: libc::POLLRDHUP, revents: 0 };
        // SAFETY: one valid pollfd for a socket this connection owns, and a zero timeout.
        let ready = unsafe { libc::poll(&mut fd, 1, 0) };
        ready > 0 && fd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
    }

    /// Whether the connection has been closed (by either side).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub(super) fn io_error(&self, doing: &'static str, source: std::io::Error) -> Error {
        Error::Io { peer: self.peer.clone(), doing, source }
    }

    pub(super) fn protocol_error(&self, source: impl Into<ProtocolError>) -> Error {
        Error::Protocol { peer: self.peer.clone(), source: source.into() }
    }

    /// Sends a request and returns its sequence number.
    pub(crate) fn send_request(&mut self, handler: Handler, parts: &[Part<'_>]) -> Result<i64> {
        if self.closed {
            return Err(Error::AlreadyClosed);
        }
        let released = self.send_releases()?;
        let seq = self.send_request_now(handler, parts)?;
        if released {
            // A DEL sent just before a request makes the peer write two answers back to
            // back, and rpyc's servers leave Nagle on for accepted sockets, so the second
            // answer waits until the first is acknowledged. A Python client is slow enough
            // that its next request carries that ACK; this client would stall 40 ms per
            // operation instead, measuring our delayed ACK rather than the server. After
            // the request, not with the DELs: sending data right after receiving puts the
            // socket back in delayed-ACK ("pingpong") mode, which would undo it.
            self.quick_ack();
        }
        Ok(seq)
    }

    /// Asks the kernel to acknowledge what arrived and has not been acknowledged yet
    /// now, and the next segments at once, instead of after the delayed-ACK timer (up to
    /// 40 ms on Linux): `TCP_QUICKACK` leaves delayed-ACK ("pingpong") mode and sends an
    /// ACK that was only scheduled.
    ///
    /// A peer with Nagle on (rpyc sets no `TCP_NODELAY`) holds a small write while an
    /// earlier one is unacknowledged; when we answer that earlier one with data, the data
    /// carries the ACK, but where we answer nothing, the peer's next write waits for our
    /// timer. Best effort: a socket that refuses the option only loses the optimisation.
    pub(crate) fn quick_ack(&self) {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: a valid socket descriptor owned by `self.stream`, and a pointer to a
        // c_int with its exact size, as setsockopt(2) requires.
        unsafe {
            libc::setsockopt(
                self.stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }

    fn send_request_now(&mut self, handler: Handler, parts: &[Part<'_>]) -> Result<i64> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let payload = self.encoder.payload();
        crate::wire::message::write_request_header(seq, i64::from(handler.id()), payload.vec());
        let mut ctx =
            BoxCtx { exports: &mut self.exports, queue: &self.queue, exported: &mut self.counters.objects_exported };
        if let Err(e) = outgoing::write_args(parts, &mut ctx, payload) {
            self.encoder.reset();
            return Err(e);
        }
        self.counters.requests_sent.bump(i64::from(handler.id()));
        self.write_frame("sending a request")?;
        Ok(seq)
    }

    /// Sends one DEL per proxy dropped since the last request (fire and forget);
    /// whether it sent any.
    pub(crate) fn send_releases(&mut self) -> Result<bool> {
        let Some(dropped) = self.queue.drain() else { return Ok(false) };
        let mut sent = false;
        for id in dropped {
            if let Some(count) = self.held.released(&id) {
                let count = i64::try_from(count).unwrap_or(i64::MAX);
                self.send_del(id.clone(), count)?;
                sent = true;
            }
        }
        Ok(sent)
    }

    fn send_del(&mut self, id: crate::wire::IdPack, count: i64) -> Result<()> {
        // The DEL names the object by its id_pack as a LOCAL_REF box, exactly as a
        // proxy would, without resurrecting a proxy for it.
        let seq = self.next_seq;
        self.next_seq += 1;
        let payload = self.encoder.payload();
        crate::wire::message::write_request_header(seq, i64::from(Handler::Del.id()), payload.vec());
        outgoing::write_del_args(&id, count, payload.vec())?;
        self.counters.requests_sent.bump(i64::from(Handler::Del.id()));
        self.counters.refs_released += count as u64;
        self.write_frame("releasing a remote reference")
    }

    /// Sends a REPLY or EXCEPTION to the peer's request `seq`.
    pub(crate) fn send_answer(
        &mut self,
        seq: i64,
        outcome: std::result::Result<&Object, ExceptionPayload>,
    ) -> Result<()> {
        self.encode_answer(seq, outcome)?;
        self.write_answer()
    }

    /// Builds the REPLY or EXCEPTION to `seq` in the frame buffer, without sending it
    /// (so the caller can drop the answered value first): a reply the peer may leave
    /// unread holds its frame, not also the value it was made from.
    pub(crate) fn encode_answer(
        &mut self,
        seq: i64,
        outcome: std::result::Result<&Object, ExceptionPayload>,
    ) -> Result<()> {
        let payload = self.encoder.payload();
        let written = match outcome {
            Ok(obj) => {
                crate::wire::message::write_reply_header(seq, payload.vec());
                let mut ctx = BoxCtx {
                    exports: &mut self.exports,
                    queue: &self.queue,
                    exported: &mut self.counters.objects_exported,
                };
                outgoing::write_box(obj, &mut ctx, payload)
                    .and_then(|()| over_budget(payload.total_len(), self.config.limits.max_connection_memory))
            }
            Err(exc) => {
                crate::wire::message::write_exception_header(seq, payload.vec());
                exc.encode(payload.vec()).map_err(Error::from)
            }
        };
        if let Err(e) = written {
            self.encoder.reset();
            // The value cannot travel (e.g. a 5000-digit int): tell the peer why
            // instead of leaving it waiting.
            let class = if matches!(e, Error::MemoryBudget { .. }) { "MemoryError" } else { "ValueError" };
            let exc = ExceptionPayload::Raised(crate::wire::RemoteException::builtin(class, e.to_string()));
            crate::wire::message::write_exception_header(seq, self.encoder.payload().vec());
            exc.encode(self.encoder.payload().vec())?;
        }
        Ok(())
    }

    /// Sends the answer [`encode_answer`](Self::encode_answer) built.
    pub(crate) fn write_answer(&mut self) -> Result<()> {
        self.counters.answers_sent += 1;
        self.write_frame("answering a request")
    }

    fn write_frame(&mut self, doing: &'static str) -> Result<()> {
        // An observer is shown the frame in one slice, so the large values a frame
        // shares are then copied into it; otherwise they are written from where they
        // lie, in one vectored write with the frame's other bytes.
        let finished = match self.observer {
            Some(_) => self.encoder.finish().map(FrameParts::from),
            None => self.encoder.finish_parts(),
        };
        let frame = match finished {
            Ok(f) => f,
            Err(e) => {
                self.encoder.reset();
                return Err(self.protocol_error(e));
            }
        };
        let len = frame.len();
        let at = self.observer.is_some().then(Instant::now);
        if let Err(e) = frame.write_to(&mut self.stream) {
            self.closed = true;
            self.encoder.reset();
            return Err(self.io_error(doing, e));
        }
        if let (Some(observer), Some(at)) = (self.observer.as_mut(), at) {
            // Finished in one slice above: the buffer is the whole frame.
            observer.sent(frame.buffer(), at);
        }
        // Gives back a large frame's buffer now, not at the next frame: a connection
        // may idle for long after a 100 MB reply.
        self.encoder.reset();
        self.counters.frames_sent += 1;
        self.counters.bytes_sent += len as u64;
        Ok(())
    }

    /// Waits for the reply to `seq`, serving the peer's requests meanwhile.
    pub(crate) fn wait_reply(&mut self, seq: i64, what: Handler, timeout: Duration) -> Result<Object> {
        let deadline = Instant::now() + timeout;
        self.waiting.push(seq);
        let outcome = self.wait_loop(seq, deadline, what, timeout);
        self.waiting.pop();
        match outcome? {
            Outcome::Value(o) => Ok(o),
            Outcome::Raised(e) => Err(e),
        }
    }

    fn wait_loop(&mut self, seq: i64, deadline: Instant, what: Handler, timeout: Duration) -> Result<Outcome> {
        loop {
            if !self.replies.is_empty() {
                if let Some(o) = self.replies.remove(&seq) {
                    return Ok(o);
                }
            }
            let Some(msg) = self.receive(Some(deadline), "waiting for a reply")? else {
                return Err(Error::Timeout { peer: self.peer.clone(), what: what.name().to_string(), after: timeout });
            };
            if let Some((s, outcome)) = self.handle_message(msg)? {
                if s == seq {
                    return Ok(outcome);
                }
                if self.waiting.contains(&s) || self.async_pending.contains(&s) {
                    self.replies.insert(s, outcome);
                }
                // Anything else is a late or fire-and-forget reply (DEL): dropped, as
                // Python does.
            }
        }
    }

    /// Takes a stored reply to an asynchronous request, if it has arrived.
    pub(crate) fn take_reply(&mut self, seq: i64) -> Option<Outcome> {
        self.replies.remove(&seq)
    }

    /// Handles one message: answers a request, or returns a reply's outcome.
    pub(crate) fn handle_message(&mut self, msg: Incoming) -> Result<Option<(i64, Outcome)>> {
        let msg = match msg {
            Incoming::Message(msg) => msg,
            Incoming::Plain(PlainRequest { seq, body }) => {
                let handler = i64::from(body.handler().id());
                self.answer_charged(seq, handler, RequestArgs::Plain(body))?;
                return Ok(None);
            }
        };
        match msg {
            Message::Request { seq, handler, args } => {
                self.answer_charged(seq, handler, RequestArgs::Boxed(args))?;
                Ok(None)
            }
            Message::Reply { seq, value } => {
                self.counters.replies_received += 1;
                let outcome = match self.unbox(value) {
                    Ok(o) => Outcome::Value(o),
                    Err(e) => Outcome::Raised(e),
                };
                Ok(Some((seq, outcome)))
            }
            Message::Exception { seq, payload } => {
                self.counters.exceptions_received += 1;
                let err = match payload {
                    ExceptionPayload::StopIteration => Error::Remote(Box::new(stop_iteration())),
                    ExceptionPayload::Raised(e) => Error::Remote(Box::new(e)),
                };
                Ok(Some((seq, Outcome::Raised(err))))
            }
        }
    }

    /// Answers a request whose values were charged `received_charge` bytes.
    fn answer_charged(&mut self, seq: i64, handler: i64, args: RequestArgs) -> Result<()> {
        self.counters.requests_received.bump(handler);
        // The arguments' memory stays in use until the answer is sent: nested
        // requests (callbacks calling back) get only what is left.
        let charge = std::mem::take(&mut self.received_charge);
        self.decoded_live += charge;
        let answered = self.answer_request(seq, handler, args);
        self.decoded_live -= charge;
        answered
    }

    /// Turns a received box into an object, making proxies for the peer's references.
    pub(crate) fn unbox(&mut self, b: Boxed) -> Result<Object> {
        Ok(match b {
            Boxed::Value(v) => Object::Value(v),
            Boxed::Tuple(items) => Object::tuple(items.into_iter().map(|i| self.unbox(i)).collect::<Result<Vec<_>>>()?),
            Boxed::RemoteRef(id) => {
                self.counters.refs_received += 1;
                Object::Remote(self.held.receive(id, &self.queue))
            }
            Boxed::LocalRef(id) => match self.exports.get(&id) {
                Some(l) => Object::Local(l),
                None => {
                    return Err(Error::raise("KeyError", format!("unknown object {id}: not lent by this side")));
                }
            },
        })
    }

    /// Closes the connection: sends CLOSE, then waits briefly for the peer to hang up
    /// (a Python peer closes at once and never replies).
    pub fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let sent = self.send_request(Handler::Close, &[]);
        self.closed = true;
        sent?;
        let _ = self.stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + self.config.close_timeout;
        // Drain until EOF so the peer has finished with the connection when close
        // returns; a peer that keeps talking past the timeout is simply dropped.
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if self.fit_read_timeout(deadline - now).is_err() {
                break;
            }
            match self.decoder.read_from(&mut self.stream) {
                Ok(0) => break,
                Ok(_) => while let Ok(Some(_)) = self.decoder.next_frame() {},
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(_) => break,
            }
        }
        let _ = self.stream.shutdown(Shutdown::Both);
        Ok(())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.closed {
            // Best effort and without waiting: the peer treats EOF as a close anyway.
            let _ = self.send_request(Handler::Close, &[]);
            let _ = self.stream.shutdown(Shutdown::Both);
        }
    }
}

pub(crate) fn stop_iteration() -> crate::wire::RemoteException {
    crate::wire::RemoteException {
        module: "builtins".into(),
        class: "StopIteration".into(),
        args: Vec::new(),
        attrs: Vec::new(),
        traceback: String::new(),
    }
}

/// Fails when a reply of `len` bytes would be larger than the connection's memory
/// `budget`: the peer gets a `MemoryError` instead, and the server keeps its memory.
fn over_budget(len: usize, budget: usize) -> Result<()> {
    if len > budget {
        return Err(Error::MemoryBudget { what: "the reply", needed: len as u64, budget });
    }
    Ok(())
}
