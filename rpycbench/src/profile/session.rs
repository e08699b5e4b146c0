//! Profiling connections in a program: a [`Profiler`] attached to one or more
//! [`Connection`]s records their wire traffic; [`profile`] does it for one block.

use super::facts::Direction;
use super::recorder::{Recorder, RecorderConfig};
use super::telemetry::Telemetry;
use crate::client::{Connection, WireObserver};
use crate::wire::frame::HEADER_LEN;
use crate::wire::FrameDecoder;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// A recorder shared by the observers of several connections.
#[derive(Clone)]
pub struct Profiler {
    recorder: Arc<Mutex<Recorder>>,
}

impl Default for Profiler {
    fn default() -> Self {
        Profiler::new(RecorderConfig::default())
    }
}

impl Profiler {
    /// A profiler recording with `config`.
    pub fn new(config: RecorderConfig) -> Profiler {
        Profiler { recorder: Arc::new(Mutex::new(Recorder::new(config))) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Recorder> {
        // A panic while recording leaves counts that are still meaningful: keep going.
        self.recorder.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An observer for one more connection, to install with
    /// [`Connection::set_observer`].
    pub fn observer(&self) -> Box<dyn WireObserver> {
        let conn = self.lock().open_connection();
        Box::new(ConnectionObserver { profiler: self.clone(), conn, inflater: None })
    }

    /// Starts recording `conn`'s traffic, replacing any observer it had (which is
    /// returned).
    pub fn attach(&self, conn: &mut Connection) -> Option<Box<dyn WireObserver>> {
        conn.set_observer(Some(self.observer()))
    }

    /// Stops recording `conn` and returns the telemetry so far.
    pub fn detach(&self, conn: &mut Connection) -> Telemetry {
        drop(conn.set_observer(None));
        self.telemetry()
    }

    /// A snapshot of what was recorded.
    pub fn telemetry(&self) -> Telemetry {
        self.lock().telemetry()
    }

    /// A snapshot, unless the recorder stays busy for `wait` (an exit handler must not
    /// hang on a lock a killed thread may hold).
    pub fn telemetry_within(&self, wait: std::time::Duration) -> Option<Telemetry> {
        let deadline = Instant::now() + wait;
        loop {
            match self.recorder.try_lock() {
                Ok(r) => return Some(r.telemetry()),
                Err(std::sync::TryLockError::Poisoned(p)) => return Some(p.into_inner().telemetry()),
                Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(std::sync::TryLockError::WouldBlock) => return None,
            }
        }
    }
}

/// Runs `f` on `conn` with profiling on and returns its result and the telemetry of
/// exactly the traffic `f` caused. Any observer `conn` had is put back afterwards (and
/// sees nothing while `f` runs).
///
/// ```no_run
/// # fn main() -> rpycbench::Result<()> {
/// use rpycbench::{profile, Connection};
/// let mut conn = Connection::connect("127.0.0.1:18861")?;
/// let (names, telemetry) = profile::profile(&mut conn, |conn| -> rpycbench::Result<Vec<String>> {
///     let users = conn.call("get_users", (10,))?;
///     let users = conn.collect::<rpycbench::client::RemoteRef>(users.as_remote().unwrap())?;
///     users.iter().map(|u| conn.getattr(u, "name")?.extract()).collect()
/// });
/// println!("{} round trips for {} names", telemetry.round_trips_c2s(), names?.len());
/// print!("{}", profile::report::full(&telemetry, &Default::default()));
/// # Ok(()) }
/// ```
pub fn profile<R>(conn: &mut Connection, f: impl FnOnce(&mut Connection) -> R) -> (R, Telemetry) {
    profile_with(RecorderConfig::default(), conn, f)
}

/// [`profile`] with a recorder configuration (history limit, slow threshold).
pub fn profile_with<R>(
    config: RecorderConfig,
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> R,
) -> (R, Telemetry) {
    let profiler = Profiler::new(config);
    let previous = profiler.attach(conn);
    let result = f(conn);
    let telemetry = profiler.detach(conn);
    conn.set_observer(previous);
    (result, telemetry)
}

/// Feeds one connection's frames to a shared recorder.
struct ConnectionObserver {
    profiler: Profiler,
    conn: u64,
    /// Inflates compressed frames this side sent (created on the first one).
    inflater: Option<FrameDecoder>,
}

impl WireObserver for ConnectionObserver {
    fn sent(&mut self, frame: &[u8], at: Instant) {
        let compressed = frame.get(4) == Some(&1);
        if !compressed && frame.len() > HEADER_LEN {
            let payload = &frame[HEADER_LEN..frame.len() - 1];
            self.profiler.lock().frame(self.conn, Direction::C2s, payload, frame.len(), at);
            return;
        }
        let limits = self.profiler.lock().config().limits;
        let inflater = self.inflater.get_or_insert_with(|| FrameDecoder::new(limits));
        inflater.push(frame);
        // Our own encoder made this frame: it decodes, unless it breaks our own
        // limits, in which case it is counted as undecodable.
        match inflater.next_frame() {
            Ok(Some(f)) => self.profiler.lock().frame(self.conn, Direction::C2s, f.payload, f.wire_len, at),
            _ => {
                self.inflater = None;
                self.profiler.lock().frame(self.conn, Direction::C2s, &[0xff], frame.len(), at);
            }
        }
    }

    fn received(&mut self, payload: &[u8], wire_len: usize, at: Instant) {
        self.profiler.lock().frame(self.conn, Direction::S2c, payload, wire_len, at);
    }
}

impl Drop for ConnectionObserver {
    fn drop(&mut self) {
        self.profiler.lock().close_connection(self.conn);
    }
}
