//! Frames that arrive in pieces, and the ones whose pieces were held apart by a delayed
//! ACK: the direct sighting of a Nagle stall.
//!
//! A sender without `TCP_NODELAY` (rpyc sets none) holds the last, small segment of a
//! message while earlier data is unacknowledged, and a receiver with nothing to send
//! delays its ACK — by about 40 ms on Linux, 200 ms on some other stacks. The receiver
//! then sees the message's first piece, nothing for the delayed-ACK timeout, then the
//! rest. A small frame (up to [`SMALL_FRAME_BYTES`]) whose first and last pieces are
//! that far apart waited for an ACK, not for the network: 256 KiB moves in 20 ms even at
//! 100 Mb/s. Read from the latency of whole requests, a stall hides when every request
//! stalls (nothing fast to compare with); read here, it does not.
//!
//! Cost: nothing for a frame that arrives in one read; two clock reads for one that
//! does not.

use std::time::Instant;

/// Delayed-ACK timeouts, ms: Linux's minimum (`TCP_DELACK_MIN`, 40 ms) and the 200 ms
/// of BSD-derived stacks and Windows.
pub const DELAYED_ACK_TIMEOUTS_MS: [f64; 2] = [40.0, 200.0];

/// A stalled wait takes the timeout plus the timer's slack (jiffies, wake-up): from just
/// under the timeout to 30 % above it, as fractions of the timeout.
pub const DELAYED_ACK_BAND: (f64, f64) = (0.95, 1.3);

/// Frames up to this size cannot take a delayed-ACK timeout to move on any network
/// worth measuring, so pieces that far apart are a stall.
pub const SMALL_FRAME_BYTES: usize = 256 << 10;

/// Whether a wait of `ns` falls in the band of a delayed-ACK timeout.
pub fn in_delayed_ack_band(ns: u64) -> bool {
    let ms = ns as f64 / 1e6;
    DELAYED_ACK_TIMEOUTS_MS.iter().any(|t| (t * DELAYED_ACK_BAND.0..t * DELAYED_ACK_BAND.1).contains(&ms))
}

/// Counts of frames received in pieces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SplitArrivals {
    /// Frames that arrived in more than one read.
    pub frames: u64,
    /// Of those, the small ones whose first and last pieces arrived a delayed-ACK
    /// timeout apart (see the module documentation).
    pub delayed_ack: u64,
}

impl SplitArrivals {
    /// The counts of two connections together.
    pub fn plus(self, other: SplitArrivals) -> SplitArrivals {
        SplitArrivals { frames: self.frames + other.frames, delayed_ack: self.delayed_ack + other.delayed_ack }
    }

    /// The counts since an earlier snapshot.
    pub fn since(self, earlier: SplitArrivals) -> SplitArrivals {
        SplitArrivals {
            frames: self.frames.saturating_sub(earlier.frames),
            delayed_ack: self.delayed_ack.saturating_sub(earlier.delayed_ack),
        }
    }
}

/// When the frame being received began to arrive, if it is arriving in pieces.
#[derive(Clone, Copy, Debug, Default)]
pub struct PieceClock {
    since: Option<Instant>,
}

impl PieceClock {
    /// The decoder holds part of a frame and needs more bytes: called right after the
    /// read that brought them, so the first call times the frame's first piece.
    pub fn partial(&mut self) {
        if self.since.is_none() {
            self.since = Some(Instant::now());
        }
    }

    /// [`partial`](Self::partial) for bytes read `at`.
    pub fn partial_at(&mut self, at: Instant) {
        self.since.get_or_insert(at);
    }

    /// A frame of `wire_len` bytes is complete: counted in `counts` if it came in pieces.
    pub fn complete(&mut self, wire_len: usize, counts: &mut SplitArrivals) {
        if self.since.is_some() {
            self.complete_at(Instant::now(), wire_len, counts);
        }
    }

    /// [`complete`](Self::complete) for a frame whose last piece was read `at`.
    pub fn complete_at(&mut self, at: Instant, wire_len: usize, counts: &mut SplitArrivals) {
        let Some(since) = self.since.take() else { return };
        counts.frames += 1;
        let waited = u64::try_from(at.saturating_duration_since(since).as_nanos()).unwrap_or(u64::MAX);
        if wire_len <= SMALL_FRAME_BYTES && in_delayed_ack_band(waited) {
            counts.delayed_ack += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_is_around_each_timeout() {
        let ms = |x: f64| (x * 1e6) as u64;
        assert!(!in_delayed_ack_band(ms(37.0)));
        assert!(in_delayed_ack_band(ms(38.5)) && in_delayed_ack_band(ms(44.0)) && in_delayed_ack_band(ms(51.9)));
        assert!(!in_delayed_ack_band(ms(53.0)) && !in_delayed_ack_band(ms(120.0)));
        assert!(in_delayed_ack_band(ms(205.0)) && !in_delayed_ack_band(ms(270.0)));
    }

    #[test]
    fn only_frames_in_pieces_are_counted() {
        let (mut clock, mut counts) = (PieceClock::default(), SplitArrivals::default());
        clock.complete(100, &mut counts);
        assert_eq!(counts, SplitArrivals::default(), "one read: not in pieces");
        clock.partial();
        clock.partial(); // a third piece: still timed from the first
        clock.complete(100_000, &mut counts);
        assert_eq!(counts, SplitArrivals { frames: 1, delayed_ack: 0 }, "pieces microseconds apart");
        clock.complete(100, &mut counts);
        assert_eq!(counts.frames, 1, "the clock restarts with the next frame");
    }
}
