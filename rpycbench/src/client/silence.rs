//! How long a serving connection lets its peer stay silent.
//!
//! A peer that sends the start of a frame and then nothing holds a server thread (or a
//! forked process), a descriptor and its receive buffer for as long as it likes: the
//! *stall* limit ends that. A peer that sends nothing at all between requests is what an
//! idle client looks like, and Python's `ThreadedServer` waits for it forever; the
//! *idle* limit, off by default for that parity, lets a server that caps its
//! connections take back the slots of clients that connected and went quiet.
//!
//! Both limits measure silence, not total time: a large frame that keeps arriving is
//! never cut off, however slowly. They are kept with the socket's own read timeout
//! (`SO_RCVTIMEO`), armed only while a limit applies: with both off, or with only the
//! stall limit and no frame half-received, a server waits in a plain blocking `recv`,
//! with no timer to arm per request.

use std::time::Duration;

/// Silence limits of a serving connection (a server's [`Config::silence`](super::Config)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SilenceLimits {
    /// A peer that has sent part of a frame and then nothing for this long is
    /// disconnected (default [`SilenceLimits::DEFAULT_STALL`]). A server also drops a
    /// peer that takes none of a reply's bytes for this long.
    pub stall: Option<Duration>,
    /// A peer that has sent nothing at all for this long, between requests, is
    /// disconnected (default `None`: never, as Python's `ThreadedServer`).
    pub idle: Option<Duration>,
}

impl SilenceLimits {
    /// The default stall limit: 30 s, as rpyc's request timeout and the HTTP baseline's
    /// header-read timeout. A client that means to send a frame sends the rest within
    /// milliseconds; 30 s of nothing mid-frame is a client that is gone or hostile.
    pub const DEFAULT_STALL: Duration = Duration::from_secs(30);

    /// No limit at all: a silent peer is waited for forever.
    pub const NONE: SilenceLimits = SilenceLimits { stall: None, idle: None };

    /// The limit on a silence that starts now, with `mid_frame` telling whether part of
    /// a frame is waiting for the rest. Mid-frame, the idle limit applies too if it is
    /// the shorter: silence mid-frame is at least idleness.
    pub(crate) fn applies(&self, mid_frame: bool) -> Option<Duration> {
        if !mid_frame {
            return self.idle;
        }
        match (self.stall, self.idle) {
            (Some(s), Some(i)) => Some(s.min(i)),
            (s, i) => s.or(i),
        }
    }
}

impl Default for SilenceLimits {
    fn default() -> Self {
        SilenceLimits { stall: Some(Self::DEFAULT_STALL), idle: None }
    }
}

#[cfg(test)]
mod tests {
    use super::SilenceLimits;
    use std::time::Duration;

    #[test]
    fn mid_frame_the_shorter_limit_applies_and_between_frames_only_idle() {
        let s = |secs| Some(Duration::from_secs(secs));
        let both = SilenceLimits { stall: s(30), idle: s(5) };
        assert_eq!((both.applies(true), both.applies(false)), (s(5), s(5)));
        let default = SilenceLimits::default();
        assert_eq!((default.applies(true), default.applies(false)), (s(30), None));
        let idle_only = SilenceLimits { stall: None, idle: s(60) };
        assert_eq!(idle_only.applies(true), s(60));
        assert_eq!((SilenceLimits::NONE.applies(true), SilenceLimits::NONE.applies(false)), (None, None));
    }
}
