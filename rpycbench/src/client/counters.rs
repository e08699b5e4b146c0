//! Per-connection wire counters: plain integers bumped on the frame path, cheap enough
//! to be always on. Telemetry and benchmark figures are computed from differences of
//! two snapshots.

use super::arrivals::SplitArrivals;
use crate::wire::Handler;
use std::ops::{Add, Sub};

/// Requests counted per handler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandlerCounts([u64; 21]);

impl HandlerCounts {
    /// Count for one handler.
    pub fn get(&self, h: Handler) -> u64 {
        self.0[h.id() as usize]
    }

    /// Requests with an id no handler has (index 0 collects them).
    pub fn unknown(&self) -> u64 {
        self.0[0]
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The handlers with a non-zero count.
    pub fn iter(&self) -> impl Iterator<Item = (Handler, u64)> + '_ {
        Handler::ALL.iter().map(|&h| (h, self.get(h))).filter(|&(_, n)| n > 0)
    }

    pub(crate) fn bump(&mut self, handler_id: i64) {
        let slot = if (1..=20).contains(&handler_id) { handler_id as usize } else { 0 };
        self.0[slot] += 1;
    }
}

impl Add for HandlerCounts {
    type Output = HandlerCounts;
    fn add(self, rhs: HandlerCounts) -> HandlerCounts {
        let mut out = self;
        for (o, r) in out.0.iter_mut().zip(rhs.0) {
            *o += r;
        }
        out
    }
}

impl Sub for HandlerCounts {
    type Output = HandlerCounts;
    fn sub(self, rhs: HandlerCounts) -> HandlerCounts {
        let mut out = self;
        for (o, r) in out.0.iter_mut().zip(rhs.0) {
            *o = o.saturating_sub(r);
        }
        out
    }
}

/// What crossed one connection, in both directions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireCounters {
    /// Frames written.
    pub frames_sent: u64,
    /// Frames read.
    pub frames_received: u64,
    /// Bytes written, frame headers and fillers included.
    pub bytes_sent: u64,
    /// Bytes read, frame headers and fillers included.
    pub bytes_received: u64,
    /// Requests this side sent, by handler.
    pub requests_sent: HandlerCounts,
    /// Requests the peer sent, by handler.
    pub requests_received: HandlerCounts,
    /// REPLY messages received.
    pub replies_received: u64,
    /// EXCEPTION messages received (StopIteration included).
    pub exceptions_received: u64,
    /// REPLY and EXCEPTION messages sent.
    pub answers_sent: u64,
    /// Remote references received (each REMOTE_REF box, reused proxies included).
    pub refs_received: u64,
    /// Remote references given back with DEL (the sum of the DEL counts sent).
    pub refs_released: u64,
    /// Local objects lent to the peer (each REMOTE_REF box sent).
    pub objects_exported: u64,
    /// Frames received in pieces, and the small ones whose pieces a delayed ACK held
    /// apart (see `client::arrivals`).
    pub split_arrivals: SplitArrivals,
}

impl WireCounters {
    /// Round trips this side started: every request except the fire-and-forget ones
    /// (DEL, CLOSE), which do not make the sender wait.
    pub fn round_trips(&self) -> u64 {
        self.requests_sent.total() - self.requests_sent.get(Handler::Del) - self.requests_sent.get(Handler::Close)
    }
}

impl Sub for WireCounters {
    type Output = WireCounters;
    /// The traffic between two snapshots.
    fn sub(self, rhs: WireCounters) -> WireCounters {
        WireCounters {
            frames_sent: self.frames_sent.saturating_sub(rhs.frames_sent),
            frames_received: self.frames_received.saturating_sub(rhs.frames_received),
            bytes_sent: self.bytes_sent.saturating_sub(rhs.bytes_sent),
            bytes_received: self.bytes_received.saturating_sub(rhs.bytes_received),
            requests_sent: self.requests_sent - rhs.requests_sent,
            requests_received: self.requests_received - rhs.requests_received,
            replies_received: self.replies_received.saturating_sub(rhs.replies_received),
            exceptions_received: self.exceptions_received.saturating_sub(rhs.exceptions_received),
            answers_sent: self.answers_sent.saturating_sub(rhs.answers_sent),
            refs_received: self.refs_received.saturating_sub(rhs.refs_received),
            refs_released: self.refs_released.saturating_sub(rhs.refs_released),
            objects_exported: self.objects_exported.saturating_sub(rhs.objects_exported),
            split_arrivals: self.split_arrivals.since(rhs.split_arrivals),
        }
    }
}

impl Add for WireCounters {
    type Output = WireCounters;
    /// The traffic of two connections together.
    fn add(self, rhs: WireCounters) -> WireCounters {
        WireCounters {
            frames_sent: self.frames_sent + rhs.frames_sent,
            frames_received: self.frames_received + rhs.frames_received,
            bytes_sent: self.bytes_sent + rhs.bytes_sent,
            bytes_received: self.bytes_received + rhs.bytes_received,
            requests_sent: self.requests_sent + rhs.requests_sent,
            requests_received: self.requests_received + rhs.requests_received,
            replies_received: self.replies_received + rhs.replies_received,
            exceptions_received: self.exceptions_received + rhs.exceptions_received,
            answers_sent: self.answers_sent + rhs.answers_sent,
            refs_received: self.refs_received + rhs.refs_received,
            refs_released: self.refs_released + rhs.refs_released,
            objects_exported: self.objects_exported + rhs.objects_exported,
            split_arrivals: self.split_arrivals.plus(rhs.split_arrivals),
        }
    }
}
