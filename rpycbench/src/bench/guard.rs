//! Ending a benchmark early, with what it measured kept: when its server is gone or
//! stops answering (a circuit breaker), when its deadline passes, or when the process
//! is interrupted.
//!
//! Without it a stopped server costs every remaining request a full timeout: 8 clients
//! × 200 requests at a 1 s timeout ran for minutes, at the default 30 s for hours.

use super::Target;
use crate::error::Error;
use crate::metrics::{EndedEarly, ProcessSet, StopReason};
use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Requests in a row (over all clients of a run, with no success between them) that
/// may go unanswered within their timeout before the run stops: the server is then
/// taken to have stopped answering. Any reply, even an exception, resets the count.
/// As many refused connections in a row, from a server that answered earlier in the
/// run, mean it is gone. (A server whose process is known, one started by rpycbench,
/// is checked at the first refused or broken connection.)
pub const BREAKER_TIMEOUTS: u32 = 3;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ends every benchmark running in this process (and any started later) at its next
/// request: each returns what it measured until then, marked
/// [`Interrupted`](StopReason::Interrupted). For a signal handler (the `rpycbench`
/// command calls it on SIGINT and SIGTERM); only sets a flag, so it is async-signal-safe.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Whether [`interrupt`] was called.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// The early-end state one run shares between its clients.
pub(crate) struct Guard {
    begin: Instant,
    deadline: Option<Duration>,
    /// Unanswered requests in a row.
    timeouts: AtomicU32,
    /// Refused connections in a row, after the server had answered.
    refused: AtomicU32,
    /// The server answered at least once in this run.
    answered_once: AtomicBool,
    /// Set once the breaker trips (or the server is found gone); read on every request.
    tripped: AtomicBool,
    ended: OnceLock<EndedEarly>,
    /// The server's process, when the target knows it: tells "gone" from "stopped".
    server: Option<ProcessSet>,
    /// A remote server's session: the server ends when it does.
    remote: Option<(String, Arc<crate::server::remote::RemoteSession>)>,
}

impl Guard {
    /// A guard for one run against `target`, ending it `deadline` after now.
    pub(crate) fn new<C>(target: &Target<C>, deadline: Option<Duration>) -> Arc<Guard> {
        Arc::new(Guard {
            begin: Instant::now(),
            deadline,
            timeouts: AtomicU32::new(0),
            refused: AtomicU32::new(0),
            answered_once: AtomicBool::new(false),
            tripped: AtomicBool::new(false),
            ended: OnceLock::new(),
            server: target.processes(),
            remote: target.remote().map(|r| (r.destination.clone(), r.session.clone())),
        })
    }

    /// Whether the run must stop now: the breaker tripped, the deadline was found
    /// passed, or the process was interrupted (two relaxed loads). Whether the deadline
    /// has passed is found with [`Self::remaining`] or [`Self::stopped`].
    #[inline]
    pub(crate) fn halted(&self) -> bool {
        if self.tripped.load(Ordering::Relaxed) {
            return true;
        }
        if INTERRUPTED.load(Ordering::Relaxed) {
            self.end(StopReason::Interrupted, "interrupted: the run stopped at its next request".into());
            return true;
        }
        false
    }

    /// Like [`halted`](Self::halted), with the deadline checked against the clock.
    pub(crate) fn stopped(&self) -> bool {
        self.halted() || self.deadline_passed(self.begin.elapsed())
    }

    /// Time left before the deadline, measured from now (`Duration::MAX` without one),
    /// so a timed loop can check it against clock stamps it takes anyway.
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.map_or(Duration::MAX, |d| d.saturating_sub(self.begin.elapsed()))
    }

    /// Records that the deadline passed when `elapsed` since the start is past it.
    pub(crate) fn deadline_passed(&self, elapsed: Duration) -> bool {
        match self.deadline {
            Some(d) if elapsed >= d => {
                let shown = format!("{d:?}"); // 500ms, 30s, 1.5s
                                              // Tripped, so the remaining rounds skip their machine reference too.
                self.trip(StopReason::Deadline, format!("the run reached its deadline of {shown} and stopped there"));
                true
            }
            _ => false,
        }
    }

    /// A request that got its answer (an exception counts: the server answered).
    #[inline]
    pub(crate) fn answered(&self) {
        // Loads first: a store would bounce the cache line between every client's core.
        if self.timeouts.load(Ordering::Relaxed) != 0 {
            self.timeouts.store(0, Ordering::Relaxed);
        }
        if self.refused.load(Ordering::Relaxed) != 0 {
            self.refused.store(0, Ordering::Relaxed);
        }
        if !self.answered_once.load(Ordering::Relaxed) {
            self.answered_once.store(true, Ordering::Relaxed);
        }
    }

    /// A request that failed with `error`.
    pub(crate) fn failed(&self, error: &Error) {
        match error {
            Error::Timeout { after, .. } => self.unanswered(&format!("no reply within {after:?}")),
            Error::Connect { source, .. } if source.kind() == ErrorKind::TimedOut => {
                self.unanswered("connections timed out")
            }
            // Refused, reset or closed: instant failures, each counted and cheap, so a
            // run against an address that never answered still makes every attempt.
            // A server whose process we know is checked: gone means stop now. One we
            // only know by address is gone when it answered before and now refuses.
            Error::Connect { .. } | Error::Io { .. } | Error::Closed { .. } | Error::AlreadyClosed => {
                if let Some(gone) = self.server_gone() {
                    self.trip(StopReason::ServerGone, gone);
                } else if let Error::Connect { addr, source } = error {
                    if source.kind() == ErrorKind::ConnectionRefused && self.answered_once.load(Ordering::Relaxed) {
                        self.refused_again(addr);
                    }
                }
            }
            _ => self.answered(),
        }
    }

    fn unanswered(&self, what: &str) {
        let n = self.timeouts.fetch_add(1, Ordering::Relaxed) + 1;
        if n < BREAKER_TIMEOUTS {
            return;
        }
        match self.server_gone() {
            Some(gone) => self.trip(StopReason::ServerGone, gone),
            None => {
                let state = self.server_state().map(|s| format!(" ({s})")).unwrap_or_default();
                let detail = format!("the server stopped answering{state}: {n} requests in a row failed ({what})");
                self.trip(StopReason::ServerNotAnswering, detail)
            }
        }
    }

    fn refused_again(&self, addr: &str) {
        let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= BREAKER_TIMEOUTS {
            let detail = format!(
                "the server is gone: it answered earlier in the run, and now nothing listens at {addr} \
                 ({n} connections in a row refused)"
            );
            self.trip(StopReason::ServerGone, detail);
        }
    }

    fn trip(&self, reason: StopReason, detail: String) {
        self.end(reason, detail);
        self.tripped.store(true, Ordering::Relaxed);
    }

    /// The first reason wins: later ones are consequences.
    fn end(&self, reason: StopReason, detail: String) {
        let _ = self.ended.set(EndedEarly { reason, detail });
    }

    /// Why the run ended early, if it did.
    pub(crate) fn ended(&self) -> Option<EndedEarly> {
        self.ended.get().cloned()
    }

    /// `Some(sentence)` when the server's process is known and gone.
    fn server_gone(&self) -> Option<String> {
        if let Some((host, session)) = &self.remote {
            return (!session.is_open()).then(|| {
                format!("the ssh connection to {host} has ended, and the server there with it (killed, or the network lost)")
            });
        }
        let pid = self.server_pid()?;
        match proc_state(pid) {
            None | Some('Z' | 'X') => Some(format!("the server's process {pid} is gone (it exited or was killed)")),
            Some(_) => None,
        }
    }

    /// What the kernel says of a live server's process, when it explains silence.
    fn server_state(&self) -> Option<String> {
        let pid = self.server_pid()?;
        match proc_state(pid)? {
            'T' | 't' => Some(format!("its process {pid} is stopped (SIGSTOP or a debugger)")),
            'D' => Some(format!("its process {pid} is blocked in the kernel (uninterruptible sleep)")),
            _ => Some(format!("its process {pid} is alive")),
        }
    }

    fn server_pid(&self) -> Option<u32> {
        match self.server? {
            ProcessSet::Process(pid) | ProcessSet::Session(pid) | ProcessSet::Tree(pid) => Some(pid),
        }
    }
}

/// The state letter of /proc/PID/stat (after the parenthesised name, which may hold
/// spaces and parentheses); `None` once the process is gone.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}
