//! The flag SIGTERM and SIGINT raise in a serving process, so its accept loop ends
//! cleanly instead of dying mid-reply.
//!
//! A handler that only stores to a static atomic (async-signal-safe), installed with
//! `sigaction`: no handler thread, because the forking server must stay
//! single-threaded to fork safely, and no crate beyond `nix`, which the servers use
//! anyway (a library user's `cargo test` should not compile a signal framework for one
//! flag).

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn raise_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Installs the handler for SIGTERM and SIGINT and returns the flag it sets. The
/// serving loops wait in `poll` with a timeout, which a signal interrupts whatever the
/// flags, so `SA_RESTART` only spares other system calls an `EINTR`.
pub(crate) fn on_stop_signals() -> std::io::Result<&'static AtomicBool> {
    let action = SigAction::new(SigHandler::Handler(raise_stop), SaFlags::SA_RESTART, SigSet::empty());
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { sigaction(signal, &action) }.map_err(std::io::Error::from)?;
    }
    Ok(&STOP)
}

#[cfg(test)]
mod tests {
    use nix::sys::signal::{raise, signal, SigHandler, Signal};
    use std::sync::atomic::Ordering;

    #[test]
    fn sigterm_raises_the_flag_and_does_not_kill() {
        let stop = super::on_stop_signals().expect("sigaction");
        raise(Signal::SIGTERM).expect("raise");
        assert!(stop.load(Ordering::Relaxed));
        // Ctrl-C must still end this test binary.
        for sig in [Signal::SIGTERM, Signal::SIGINT] {
            // SAFETY: restores the default disposition; no handler runs.
            unsafe { signal(sig, SigHandler::SigDfl) }.expect("restore");
        }
    }
}
