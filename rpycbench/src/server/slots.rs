//! Connection slots: the count of live connections behind `--max-connections`, shared
//! by the threaded RPyC server, the HTTP baseline and the profiling relay.
//!
//! A slot is taken before a connection's thread is started and given back by a guard
//! that travels into that thread, so the count comes down however the connection ends:
//! normally, by a panic, or because its thread could never start (the closure that owns
//! the guard is dropped with the failed spawn). Counting by hand at the end of the
//! thread leaked a slot on every failed spawn, and the cap shrank for good.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Connections served at once by default, when the file-descriptor limit allows it.
///
/// Python's `ThreadedServer` has no cap, but an uncapped server that meets more clients
/// than it has descriptors fails in `accept` and leaves everyone else waiting in the
/// backlog; a cap below the limit turns the excess away at once instead. A thousand is
/// far above what the suite or a benchmark sweep opens (tens of clients), and costs
/// nothing until reached.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

/// Descriptors kept free for the listener, standard streams, and the files a server
/// opens besides its connections.
const RESERVED_FDS: u64 = 32;

/// The default cap for a server that uses `fds_per_connection` descriptors per
/// connection: [`DEFAULT_MAX_CONNECTIONS`], or fewer when the process's soft
/// `RLIMIT_NOFILE` would run out first (at least one).
pub fn default_max_connections(fds_per_connection: u64) -> usize {
    let mut lim = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: getrlimit(2) writes one rlimit through a valid pointer; on failure `lim`
    // keeps "unlimited" and the cap is the default.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    let limit: u64 = lim.rlim_cur;
    let fit = limit.saturating_sub(RESERVED_FDS) / fds_per_connection.max(1);
    usize::try_from(fit).unwrap_or(usize::MAX).clamp(1, DEFAULT_MAX_CONNECTIONS)
}

/// Live connections, with an optional cap. Clones share the count.
#[derive(Clone, Debug, Default)]
pub(crate) struct Slots {
    live: Arc<AtomicUsize>,
    max: Option<usize>,
}

impl Slots {
    /// A count that lets `max` connections in at once (`None`: any number).
    pub(crate) fn new(max: Option<usize>) -> Self {
        Slots { live: Arc::default(), max }
    }

    /// Takes a slot, or `None` when the cap is reached.
    pub(crate) fn take(&self) -> Option<Slot> {
        let max = self.max.unwrap_or(usize::MAX);
        // Only the accept loop takes slots, but guards give them back from any thread:
        // a compare-exchange keeps the check and the increment one step anyway.
        self.live.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok()?;
        Some(Slot(self.live.clone()))
    }

    /// Connections holding a slot now.
    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }
}

/// One live connection; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_slot_is_given_back_and_the_cap_holds() {
        let slots = Slots::new(Some(2));
        let a = slots.take().expect("first slot");
        let b = slots.take().expect("second slot");
        assert!(slots.take().is_none(), "the cap is 2");
        drop(a);
        let c = slots.take().expect("a slot given back is free again");
        assert_eq!(slots.live(), 2);
        drop((b, c));
        assert_eq!(slots.live(), 0);
    }

    #[test]
    fn a_failed_spawn_gives_its_slot_back() {
        let slots = Slots::new(Some(1));
        let slot = slots.take().expect("a slot");
        // A stack no address space can hold: the spawn fails and drops its closure.
        let spawned = std::thread::Builder::new().stack_size(usize::MAX / 2).spawn(move || drop(slot));
        assert!(spawned.is_err(), "the spawn was meant to fail");
        assert_eq!(slots.live(), 0);
    }

    #[test]
    fn the_default_cap_fits_the_descriptor_limit() {
        let max = default_max_connections(1);
        assert!((1..=DEFAULT_MAX_CONNECTIONS).contains(&max));
        assert!(default_max_connections(2) <= max);
    }
}
