//! The wire-event hook: an optional observer told about every frame a connection
//! writes or reads, so telemetry is built from the wire itself and never adds requests.
//!
//! The connection holds `Option<Box<dyn WireObserver>>`; when it is `None` the frame
//! path pays one predictable branch and no allocation. Observers are installed per
//! connection with [`Connection::set_observer`](super::Connection::set_observer), or for
//! every new connection of the process by a factory registered with
//! [`inventory::submit!`] (how `RPYCBENCH_PROFILE` works without the client knowing
//! about the profiler).

use std::sync::OnceLock;
use std::time::Instant;

/// Told about every frame of one connection, in the order they crossed the wire.
pub trait WireObserver: Send {
    /// A frame this side wrote: its bytes exactly as sent (header, possibly compressed
    /// body, filler); `at` is taken just before the write.
    fn sent(&mut self, frame: &[u8], at: Instant);
    /// A frame this side read: its payload (inflated when it was compressed) and the
    /// bytes it occupied on the wire; `at` is when it was taken from the buffer.
    fn received(&mut self, payload: &[u8], wire_len: usize, at: Instant);
}

/// Makes an observer for every new connection of the process when it is enabled.
///
/// Register one with `inventory::submit!(ObserverFactory { enabled, make })`.
/// `enabled` is asked once per process (e.g. "is an environment variable set?"); the
/// first enabled factory's `make` is then called for each new connection with the
/// peer's address.
pub struct ObserverFactory {
    /// Whether this factory observes connections in this process.
    pub enabled: fn() -> bool,
    /// An observer for a new connection to or from `peer`.
    pub make: fn(peer: &str) -> Box<dyn WireObserver>,
}

inventory::collect!(ObserverFactory);

/// The observer a new connection starts with: `None` unless a registered factory is
/// enabled (decided once per process, so the cost per connection is one load).
pub(crate) fn default_observer(peer: &str) -> Option<Box<dyn WireObserver>> {
    type Make = fn(&str) -> Box<dyn WireObserver>;
    static MAKE: OnceLock<Option<Make>> = OnceLock::new();
    let make =
        MAKE.get_or_init(|| inventory::iter::<ObserverFactory>.into_iter().find(|f| (f.enabled)()).map(|f| f.make));
    make.map(|make| make(peer))
}
