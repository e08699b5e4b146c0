//! Frames that arrive in pieces, and the ones whose pieces were held apart by a delayed
//! ACK: the direct sighting of a Nagle stall.
//!
//! A sender without `TCP_NODELAY` (rpyc sets none) holds the last, small segment of a
//! message while earlier data is unacknowledged, and a receiver with nothing to send
//! delays its ACK — by about 40 ms on Linux, 200 ms on some other stacks. The receiver
//! then sees the message stop one segment short of its end for the delayed-ACK
//! timeout, then the rest. A small frame (up to [`SMALL_FRAME_BYTES`]) that pauses so,
//! with at most one segment ([`MAX_SEGMENT_BYTES`]) still to come, waited for an ACK,
//! not for the network: 256 KiB moves in 20 ms even at 100 Mb/s. Read from the latency
//! of whole requests, a stall hides when every request stalls (nothing fast to compare
//! with); read here, it does not.
//!
//! Cost: nothing for a frame that arrives in one read; a clock read per piece for one
//! that does not.

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
    /// Of those, the small ones that paused for a delayed-ACK timeout with at most one
    /// segment still to come (see the module documentation).
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

/// The most a held-back final piece can be: Nagle holds one segment, and no segment is
/// larger than loopback's (about 64 KiB; 1448 bytes on Ethernet).
pub const MAX_SEGMENT_BYTES: usize = 64 << 10;

/// The pieces of the frame being received, if it is arriving in pieces: when it last
/// grew, and its longest pause so far with what had come before it.
#[derive(Clone, Copy, Debug, Default)]
pub struct PieceClock {
    /// When the frame last grew, and how many of its bytes had come by then; `None`
    /// while no frame is arriving in pieces.
    last: Option<(Instant, usize)>,
    /// The longest pause between two pieces, and the bytes that had come before it.
    longest: (u64, usize),
}

impl PieceClock {
    /// The decoder holds part of a frame (`buffered` bytes of it) and needs more: called
    /// after each read, so the pauses between pieces are timed. A call that finds no new
    /// bytes (a poll that timed out) changes nothing.
    pub fn partial(&mut self, buffered: usize) {
        if self.last.is_some_and(|(_, before)| before == buffered) {
            return;
        }
        self.partial_at(Instant::now(), buffered);
    }

    /// [`partial`](Self::partial) for bytes read `at`.
    pub fn partial_at(&mut self, at: Instant, buffered: usize) {
        match self.last {
            None => self.longest = (0, 0),
            Some((_, before)) if before == buffered => return,
            Some((then, before)) => self.pause(at, then, before),
        }
        self.last = Some((at, buffered));
    }

    fn pause(&mut self, at: Instant, then: Instant, before: usize) {
        let gap = u64::try_from(at.saturating_duration_since(then).as_nanos()).unwrap_or(u64::MAX);
        if gap > self.longest.0 {
            self.longest = (gap, before);
        }
    }

    /// A frame of `wire_len` bytes is complete: counted in `counts` if it came in pieces.
    pub fn complete(&mut self, wire_len: usize, counts: &mut SplitArrivals) {
        if self.last.is_some() {
            self.complete_at(Instant::now(), wire_len, counts);
        }
    }

    /// [`complete`](Self::complete) for a frame whose last piece was read `at`.
    ///
    /// A delayed-ACK stall has a signature: the frame stops, for the timeout, short of
    /// its end by one held-back segment at most. Slow start on a long link, or a reader
    /// descheduled on a busy machine, pause with more than that still to come, or for
    /// another time.
    pub fn complete_at(&mut self, at: Instant, wire_len: usize, counts: &mut SplitArrivals) {
        let Some((then, before)) = self.last.take() else { return };
        self.pause(at, then, before);
        counts.frames += 1;
        let (gap, before) = self.longest;
        let after = wire_len.saturating_sub(before);
        if wire_len <= SMALL_FRAME_BYTES && after <= MAX_SEGMENT_BYTES && in_delayed_ack_band(gap) {
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
        clock.partial(60_000);
        clock.partial(60_000); // a poll that brought nothing
        clock.partial(80_000);
        clock.complete(100_000, &mut counts);
        assert_eq!(counts, SplitArrivals { frames: 1, delayed_ack: 0 }, "pieces microseconds apart");
        clock.complete(100, &mut counts);
        assert_eq!(counts.frames, 1, "the clock restarts with the next frame");
    }

    #[test]
    fn a_stall_stops_one_segment_short_of_the_end() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        let frame = |pieces: &[(u64, usize)], len: usize| {
            let (mut clock, mut counts) = (PieceClock::default(), SplitArrivals::default());
            for &(ms, buffered) in pieces {
                clock.partial_at(at(ms), buffered);
            }
            clock.complete_at(at(pieces.last().map_or(0, |p| p.0) + 42), len, &mut counts);
            counts.delayed_ack
        };
        // rpyc's 100 KiB reply: 64 000 bytes, 42 ms held, the last 38 KiB.
        assert_eq!(frame(&[(0, 64_000)], 102_405), 1);
        // Slow start: 42 ms pauses with far more than a segment still to come.
        assert_eq!(frame(&[(0, 14_600)], 200_000), 0);
        // A pause of another length.
        let mut counts = SplitArrivals::default();
        let mut clock = PieceClock::default();
        clock.partial_at(at(0), 64_000);
        clock.complete_at(at(120), 102_405, &mut counts);
        assert_eq!(counts, SplitArrivals { frames: 1, delayed_ack: 0 });
    }
}
