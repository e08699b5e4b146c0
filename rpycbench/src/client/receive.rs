//! The receiving half of a [`Connection`]: frames read and decoded (requests on the
//! common path in place), the silence limits, and giving large buffers back when the
//! connection goes idle.

use super::connection::{Connection, Incoming};
use super::plain_request;
use crate::error::{Error, Result};
use crate::wire::brine::sealed::SinkVec;
use crate::wire::{ExceptionPayload, Message};
use std::io::ErrorKind;
use std::net::Shutdown;
use std::time::{Duration, Instant};

/// What a connection's frame buffers may keep while it idles.
const KEPT_WHILE_IDLE: usize = 1 << 20;
/// How long a connection holding larger buffers waits for traffic before it gives them
/// back: far longer than the gap between transfers a benchmark repeats, short enough
/// that an idle connection does not pin a 100 MB frame for long.
const IDLE_RELEASE: Duration = Duration::from_millis(250);

/// Reads shorter than this past a deadline are not worth a `setsockopt`.
const TIMEOUT_SLACK: Duration = Duration::from_millis(50);

impl Connection {
    /// Reads the next message, or `Ok(None)` when `deadline` passes first.
    ///
    /// A request that cannot be decoded but whose sequence number could be read is
    /// answered with an EXCEPTION and skipped; anything else undecodable is fatal.
    pub(crate) fn receive(&mut self, deadline: Option<Instant>, doing: &'static str) -> Result<Option<Incoming>> {
        loop {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    self.counters.frames_received += 1;
                    self.counters.bytes_received += frame.wire_len as u64;
                    self.pieces.complete(frame.wire_len, &mut self.counters.split_arrivals);
                    if let Some(observer) = self.observer.as_mut() {
                        observer.received(frame.payload, frame.wire_len, Instant::now());
                    }
                    if frame.payload.is_empty() {
                        continue; // Python ignores empty frames (PROTOCOL.md §3.3).
                    }
                    let limits = &self.config.limits;
                    let available = limits.max_connection_memory.saturating_sub(self.decoded_live);
                    if let Some((request, charge)) = plain_request::decode(&frame, limits, available, &self.exports) {
                        self.received_charge = charge;
                        return Ok(Some(Incoming::Plain(request)));
                    }
                    match Message::decode_frame(&frame, limits, available) {
                        Ok((msg, charge)) => {
                            self.received_charge = charge;
                            return Ok(Some(Incoming::Message(msg)));
                        }
                        Err(e) if e.source == crate::wire::DecodeError::OlderRpyc => {
                            // Tell an old peer why, in its own framing, then hang up.
                            if let Some(seq) = e.request_seq {
                                self.send_older_exception(seq);
                            }
                            self.closed = true;
                            return Err(self.protocol_error(e));
                        }
                        Err(e) => match e.request_seq {
                            Some(seq) => {
                                // Python raises MemoryError where memory runs out.
                                let class = match e.source {
                                    crate::wire::DecodeError::MemoryBudget { .. } => "MemoryError",
                                    _ => "ValueError",
                                };
                                let exc =
                                    crate::wire::RemoteException::builtin(class, format!("undecodable request: {e}"));
                                self.send_answer(seq, Err(ExceptionPayload::Raised(exc)))?;
                                continue;
                            }
                            None => {
                                self.closed = true;
                                return Err(self.protocol_error(e));
                            }
                        },
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    self.closed = true;
                    return Err(self.protocol_error(e));
                }
            }
            // Only a frame that needs more bytes gets here: its first piece is in.
            let buffered = self.decoder.buffered();
            if buffered > 0 {
                self.pieces.partial(buffered);
            }
            // Waiting for a reply (a deadline) polls first; a server waiting for the next
            // request blocks at once, as Python's does.
            let mut poll = if deadline.is_some() { self.config.reply_poll } else { Duration::ZERO };
            if self.release_when_idle(deadline, poll) {
                // It polled (and maybe blocked) already: the read need not spin again.
                poll = Duration::ZERO;
            }
            if let Some(deadline) = deadline {
                let now = Instant::now();
                if now >= deadline {
                    return Ok(None);
                }
                self.fit_read_timeout(deadline - now)?;
            } else {
                self.arm_silence_limit()?;
            }
            match self.decoder.read_from(&mut super::poll::PollingReader { stream: &mut self.stream, poll }) {
                Ok(0) => {
                    self.closed = true;
                    return Err(Error::Closed { peer: self.peer.clone(), doing });
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) && deadline.is_none() => {
                    self.check_silence()?;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(e) => {
                    self.closed = true;
                    return Err(self.io_error(doing, e));
                }
            }
        }
    }

    /// Before waiting for the peer with nothing half-received: if the frame buffers
    /// hold more than [`KEPT_WHILE_IDLE`] (a large frame went by), waits up to
    /// [`IDLE_RELEASE`] for traffic first, and gives them back if none comes.
    ///
    /// The buffers are kept while traffic flows, so a run of 100 MB transfers reuses
    /// memory instead of faulting in and zeroing fresh pages for each frame (see
    /// `wire::frame_decoder`); this bounds what an idle connection keeps. One `poll(2)`
    /// per wait, and only while the buffers are large.
    ///
    /// A client waiting for a reply polls for `spin` first without blocking, as its read
    /// would (`client::poll`): a blocking `poll(2)` here would put it to sleep, and the
    /// wake-up its reply polling exists to avoid would come back after every large
    /// transfer. Returns whether it polled, so the read that follows does not spin again.
    pub(super) fn release_when_idle(&mut self, deadline: Option<Instant>, spin: Duration) -> bool {
        if self.decoder.buffered() > 0 || self.decoder.retained() + self.encoder.retained() <= KEPT_WHILE_IDLE {
            return false;
        }
        if !spin.is_zero() && super::poll::readable_within(&self.stream, spin) {
            return true;
        }
        let wait = deadline.map_or(IDLE_RELEASE, |d| d.saturating_duration_since(Instant::now()).min(IDLE_RELEASE));
        // Only a wait of the full period means idle: a deadline that came first is the
        // caller's timeout, handled by the read that follows.
        if !super::poll::wait_readable(&self.stream, wait) && wait == IDLE_RELEASE {
            self.decoder.release_buffers();
            self.encoder.release_buffers();
        }
        true
    }

    /// Before a server waits for its peer: the socket's read timeout set to the silence
    /// limit that applies (`client::silence`), or cleared if it was set for one that no
    /// longer does (a frame half-received has been completed).
    pub(super) fn arm_silence_limit(&mut self) -> Result<()> {
        match self.config.silence.applies(self.decoder.buffered() > 0) {
            Some(limit) => {
                self.fit_read_timeout(limit)?;
                self.silence_armed = true;
            }
            None if self.silence_armed => {
                self.silence_armed = false;
                self.clear_read_timeout()?;
            }
            None => {}
        }
        Ok(())
    }

    /// After a server's wait for its peer timed out: the connection ends if the wait
    /// lasted the silence limit that applies. A shorter timeout (left by a callback's
    /// wait for its reply) only means waiting again, now with the limit.
    pub(super) fn check_silence(&mut self) -> Result<()> {
        let mid_frame = self.decoder.buffered() > 0;
        let (Some(limit), Some(waited)) = (self.config.silence.applies(mid_frame), self.read_timeout) else {
            return Ok(());
        };
        if waited + TIMEOUT_SLACK < limit {
            return Ok(());
        }
        self.closed = true;
        let _ = self.stream.shutdown(Shutdown::Both);
        Err(Error::Silent { peer: self.peer.clone(), after: limit, mid_frame })
    }

    /// Answers an rpyc 4/5 request with a `ValueError` it can show (best effort: the
    /// connection ends right after).
    pub(super) fn send_older_exception(&mut self, seq: i64) {
        let message = "this peer (rpycbench) speaks RPyC 6.0.2, and your rpyc is older than 6.0 (it frames \
                       messages as brine 3-tuples): upgrade it with pip install 'rpyc>=6'";
        let exc = ExceptionPayload::Raised(crate::wire::RemoteException::builtin("ValueError", message));
        self.encoder.reset();
        if crate::wire::message::encode_older_exception(seq, &exc, self.encoder.payload().vec()).is_ok() {
            // Frames are the same in rpyc 4, 5 and 6; only the message inside differs.
            if let Ok(frame) = self.encoder.finish() {
                let _ = std::io::Write::write_all(&mut self.stream, frame);
            }
        }
    }

    /// Clears the socket's read timeout, for a server about to wait for requests.
    ///
    /// That wait has no deadline anyway (`receive(None, ..)` goes on after a timeout),
    /// but with `SO_RCVTIMEO` set every blocking `recv` arms and cancels a kernel timer,
    /// a cost on each of the tens of thousands of requests a second a server answers.
    /// Waiting for a reply of this side's own (a callback) sets a timeout again.
    pub(crate) fn clear_read_timeout(&mut self) -> Result<()> {
        if self.read_timeout.is_some() {
            self.stream.set_read_timeout(None).map_err(|e| self.io_error("clearing the read timeout", e))?;
            self.read_timeout = None;
        }
        Ok(())
    }

    /// Keeps the socket's read timeout close to the time left, re-arming it only when
    /// it is off by more than the slack (a `setsockopt` per read would cost more than
    /// the frame).
    pub(super) fn fit_read_timeout(&mut self, remaining: Duration) -> Result<()> {
        let want = remaining.max(Duration::from_millis(1));
        let off = match self.read_timeout {
            Some(cur) => cur > want + TIMEOUT_SLACK || cur + TIMEOUT_SLACK < want,
            None => true,
        };
        if off {
            self.stream.set_read_timeout(Some(want)).map_err(|e| self.io_error("setting a read timeout", e))?;
            self.read_timeout = Some(want);
        }
        Ok(())
    }
}
