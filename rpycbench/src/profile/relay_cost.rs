//! What the relay adds, measured by the relay itself on the traffic it relays.
//!
//! The kernel stamps each segment as it arrives at the relay's socket
//! (`SO_TIMESTAMPNS`); the relay reads the stamp with the bytes and, once it has
//! written them onward, counts the time from arrival to written. That is all a relay
//! adds on the way: noticing the bytes (waking from `poll`, or while it polls before
//! blocking), reading them, and writing them, the write's pass through loopback TCP
//! included. Without a relay, the sender's own write would have delivered the bytes
//! to the server directly, so nothing else is added. The stamps are the kernel's wall
//! clock, compared with the relay's reading of the same clock: a clock step during
//! a run can spoil a sample (it is then left out if negative, and shows in the max).
//!
//! A round trip crosses the relay once each way, so the relay adds the mean of the
//! requests' direction plus the mean of the replies'. Bytes the destination did not
//! take at once are counted until the write attempt returned: the wait for a full
//! receiver is the receiver's backpressure, not the relay's cost.

use serde::{Deserialize, Serialize};
use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// What the relay added to the traffic it relayed; in telemetry JSON as `relay`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RelayCost {
    /// Reads from the client timed (their bytes' arrival to written onward).
    pub chunks_c2s: u64,
    /// Reads from the server timed.
    pub chunks_s2c: u64,
    /// Mean time the client's bytes spent in the relay.
    pub added_c2s_mean_ns: u64,
    /// Mean time the server's bytes spent in the relay.
    pub added_s2c_mean_ns: u64,
    /// The longest any bytes spent in the relay.
    pub added_max_ns: u64,
    /// What the relay added to a round trip: one crossing each way, the two means
    /// added up.
    pub added_per_round_trip_ns: u64,
    /// How long the relay polls its sockets before it blocks (it spends CPU to notice
    /// bytes without a wake-up).
    pub poll_before_blocking_ns: u64,
}

impl RelayCost {
    /// The report's line: "relay added …" in human units.
    pub fn describe(&self) -> String {
        let ns = crate::metrics::format_ns;
        if self.chunks_c2s + self.chunks_s2c == 0 {
            return "relay added: nothing relayed yet (no bytes timed)".into();
        }
        format!(
            "relay added {} per round trip ({} per request crossing, {} per reply crossing, {} at most; \
             from the bytes' arrival at the relay to written onward, {} + {} crossings timed; it polls {} \
             before blocking)",
            ns(self.added_per_round_trip_ns),
            ns(self.added_c2s_mean_ns),
            ns(self.added_s2c_mean_ns),
            ns(self.added_max_ns),
            self.chunks_c2s,
            self.chunks_s2c,
            ns(self.poll_before_blocking_ns),
        )
    }
}

/// The relay's measurements of itself, per direction (0: client to server).
#[derive(Debug, Default)]
pub struct CostCounters {
    chunks: [AtomicU64; 2],
    added_ns: [AtomicU64; 2],
    added_max_ns: AtomicU64,
}

impl CostCounters {
    /// Counts bytes of `direction` that arrived at `arrived` and were just written.
    pub(crate) fn record(&self, direction: usize, arrived: SystemTime) {
        // A stamp later than now is a clock step: no figure at all beats a wrong one.
        let Ok(spent) = SystemTime::now().duration_since(arrived) else { return };
        let ns = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.chunks[direction].fetch_add(1, Ordering::Relaxed);
        self.added_ns[direction].fetch_add(ns, Ordering::Relaxed);
        self.added_max_ns.fetch_max(ns, Ordering::Relaxed);
    }

    /// The figures so far.
    pub fn snapshot(&self, poll_before_blocking: Duration) -> RelayCost {
        let chunks = |d: usize| self.chunks[d].load(Ordering::Relaxed);
        let mean = |d: usize| self.added_ns[d].load(Ordering::Relaxed).checked_div(chunks(d)).unwrap_or(0);
        RelayCost {
            chunks_c2s: chunks(0),
            chunks_s2c: chunks(1),
            added_c2s_mean_ns: mean(0),
            added_s2c_mean_ns: mean(1),
            added_max_ns: self.added_max_ns.load(Ordering::Relaxed),
            added_per_round_trip_ns: mean(0).saturating_add(mean(1)),
            poll_before_blocking_ns: u64::try_from(poll_before_blocking.as_nanos()).unwrap_or(u64::MAX),
        }
    }
}

/// Asks the kernel to stamp the arrival of `socket`'s incoming bytes. A socket that
/// refuses is relayed all the same, untimed.
pub(crate) fn stamp_arrivals(socket: &TcpStream) -> bool {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket, and an option value of the size passed.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    r == 0
}

/// Room for one `SCM_TIMESTAMPNS` control message, aligned as `cmsghdr` needs.
#[repr(C, align(8))]
struct ControlBuf([u8; 64]);

/// `read` that also returns when the kernel received the bytes, if it said.
pub(crate) fn recv_stamped(socket: &TcpStream, buf: &mut [u8]) -> io::Result<(usize, Option<SystemTime>)> {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut control = ControlBuf([0; 64]);
    // SAFETY: msghdr is plain data; all-zero is a valid empty one, filled in below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len() as _;
    // SAFETY: the iovec points into `buf` and the control buffer into `control`, both
    // alive and of the lengths given, for the duration of the call.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the kernel filled `msg`'s control buffer (msg_controllen says how much);
    // CMSG_FIRSTHDR/NXTHDR stay within it, and the timespec is read unaligned from a
    // message whose type says it holds one.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                let since_epoch = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
                // All zero: no stamp (timestamping was off when the bytes arrived).
                if !since_epoch.is_zero() {
                    stamp = SystemTime::UNIX_EPOCH.checked_add(since_epoch);
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, stamp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// The stamp is the kernel's, and the bytes come with it; a cost without
    /// crossings says so rather than claiming zero.
    #[test]
    fn stamped_reads_return_bytes_and_an_arrival_that_feeds_the_cost() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut writer = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (reader, _) = listener.accept().expect("accept");
        assert!(stamp_arrivals(&reader), "SO_TIMESTAMPNS refused");
        let mut buf = [0u8; 16];
        let mut exchange = |bytes: &[u8]| {
            writer.write_all(bytes).expect("write");
            let (n, stamp) = loop {
                match recv_stamped(&reader, &mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                    other => break other.expect("recv"),
                }
            };
            assert_eq!(&buf[..n], bytes);
            stamp
        };
        // Linux turns receive stamping on machine-wide from a work queue when the first
        // socket asks, so bytes that arrive just after may carry no stamp: wait until one
        // does (the relay leaves unstamped chunks out of its cost).
        let mut warm = 0;
        while exchange(b"warm").is_none() {
            warm += 1;
            assert!(warm < 200, "no arrival stamped in 2 s");
            std::thread::sleep(Duration::from_millis(10));
        }
        let before = SystemTime::now();
        let stamp = exchange(b"ping").expect("the kernel stamped the arrival");
        assert!(stamp >= before - Duration::from_secs(1), "stamp {stamp:?} before the write {before:?}");

        let counters = CostCounters::default();
        assert!(counters.snapshot(Duration::ZERO).describe().contains("nothing relayed"));
        counters.record(0, stamp);
        counters.record(1, stamp);
        let cost = counters.snapshot(Duration::from_micros(50));
        assert_eq!((cost.chunks_c2s, cost.chunks_s2c, cost.poll_before_blocking_ns), (1, 1, 50_000));
        assert!(cost.added_c2s_mean_ns > 0 && cost.added_s2c_mean_ns > 0, "{cost:?}");
        assert_eq!(
            cost.added_per_round_trip_ns,
            cost.added_c2s_mean_ns + cost.added_s2c_mean_ns,
            "one crossing each way"
        );
        assert!(cost.describe().starts_with("relay added "), "{}", cost.describe());
        let json = serde_json::to_string(&cost).expect("serializes");
        assert_eq!(serde_json::from_str::<RelayCost>(&json).expect("parses"), cost);
    }
}
