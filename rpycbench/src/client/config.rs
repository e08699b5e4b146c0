//! How a connection behaves: timeouts, compression, limits.

use crate::wire::{Compression, Limits};
use std::time::Duration;

/// How a connection behaves. `Config::default()` matches rpyc's defaults where they
/// matter (30 s request timeout) and picks the cheaper option where Python accepts both
/// (no compression on send).
#[derive(Clone, Debug)]
pub struct Config {
    /// Time allowed for the TCP connect (default 10 s).
    pub connect_timeout: Duration,
    /// Time a synchronous request waits for its reply (default 30 s, rpyc's
    /// `sync_request_timeout`).
    pub request_timeout: Duration,
    /// Time `close()` waits for the peer to hang up (default 1 s; a Python server closes
    /// at once, and never answers CLOSE).
    pub close_timeout: Duration,
    /// Compression of outgoing frames (default off: Python accepts both, and compressing
    /// costs the client CPU a benchmark should not spend).
    pub compression: Compression,
    /// Bounds on what the peer can make us allocate.
    pub limits: Limits,
    /// How long to poll for a reply before blocking (default
    /// [`DEFAULT_REPLY_POLL`](super::DEFAULT_REPLY_POLL); zero blocks at once). See
    /// `client::poll` for why: figures then do not depend on whether the machine idles.
    pub reply_poll: Duration,
    /// How long a serving connection lets its peer stay silent, mid-frame (default 30 s)
    /// and between requests (default forever); used only while serving.
    pub silence: super::SilenceLimits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(1),
            compression: Compression::Off,
            limits: Limits::DEFAULT,
            reply_poll: super::DEFAULT_REPLY_POLL,
            silence: super::SilenceLimits::default(),
        }
    }
}

impl Config {
    /// Sets the per-request timeout.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }
    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }
    /// Sets the send compression.
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }
    /// How long to poll for a reply before blocking.
    pub fn reply_poll(mut self, poll: Duration) -> Self {
        self.reply_poll = poll;
        self
    }
    /// Sets the decoding limits.
    pub fn limits(mut self, l: Limits) -> Self {
        self.limits = l;
        self
    }
    /// Sets how long a serving connection lets its peer stay silent.
    pub fn silence(mut self, s: super::SilenceLimits) -> Self {
        self.silence = s;
        self
    }
}
