//! CPU and resident memory of the server's and the client's processes, sampled *during* a
//! benchmark run at a fixed interval on a background thread (Linux `/proc`).
//!
//! # Why not the `sysinfo` crate
//!
//! A forking server's children live only as long as a connection. Once the server reaps
//! one, the child's CPU time moves into the server's `cutime`/`cstime` (fields 16 and 17
//! of `/proc/PID/stat`), which `sysinfo` does not expose: sampling processes one by one
//! would lose the CPU of every child that exited between two samples, that is nearly all
//! of it in a connection-churn benchmark. This module reads `/proc` directly instead.
//!
//! # What is measured
//!
//! * [`ProcessSet::Session`]: every process whose session (field 6 of `/proc/PID/stat`)
//!   is the given sid, zombies not yet reaped included. Its CPU total is
//!   Σ (`utime` + `stime`) + Σ (`cutime` + `cstime`) over those processes, so the CPU of
//!   children that a member already reaped stays counted. Ticks are converted with
//!   `sysconf(_SC_CLK_TCK)`.
//! * [`ProcessSet::Tree`]: the same sums over a process and its descendants (by the
//!   parent pid, field 4), for a server started by the user, which shares its session
//!   with the shell that started it.
//! * [`ProcessSet::Process`]: one process, all its threads: `utime` + `stime`. For the
//!   *current* process `getrusage(RUSAGE_SELF)` is used instead, for microsecond rather
//!   than clock-tick (10 ms) precision, minus the sampler thread's own CPU
//!   (`getrusage(RUSAGE_THREAD)`), so that the cost of measuring does not inflate the
//!   client's figure.
//! * Resident memory is the `rss` field (24) of `/proc/PID/stat` × the page size, the
//!   same counter as `VmRSS` in `/proc/PID/status`, read from the file already open for
//!   the CPU times. For a session it is summed over its processes, so pages that forked
//!   children share copy-on-write with their parent are counted once per process (an
//!   upper bound; PSS would need the far costlier `smaps_rollup`).
//!
//! A process that vanishes between the listing of `/proc` and the reading of its `stat`
//! file is skipped silently.
//!
//! A server on another host ([`ServerSampling::Remote`]) is read the same way from
//! *its* `/proc`: its companion there sends the `stat` lines of the server's session
//! at each sample (see `server::remote`), with that machine's clock tick and page
//! size, and they are summed here as a local session's are. A sample then waits one
//! network round trip; one that does not come back within seconds ends the remote
//! figures (counted as no process) rather than stalling the run.
//!
//! # Accuracy
//!
//! The mean CPU figure is exact up to the tick resolution: (final total − initial total)
//! / wall time of the run. Per-interval figures ([`ProcessStats::cpu_percent_max`]) are
//! quantised by the 10 ms clock tick: ±10 % of one core at the usual 100 ms interval.
//! Even the current process's microsecond figure can overshoot 100 % of a core by a few
//! percent over one interval: the kernel brings a thread that is running on another CPU
//! up to date only at its scheduler tick (1–4 ms).
//!
//! Processes are read in ascending pid order, so a parent is usually read before its
//! children; a child reaped by its parent between the two reads is then missing from that
//! sample (its CPU is neither in its own entry nor yet in the parent's `cutime`), and the
//! total dips. The sampler therefore keeps a high-water mark of the total and counts CPU
//! only above it, which absorbs such a dip. (A process that leaves the session for good,
//! e.g. the session leader reaped by the benchmark, also lowers the total; CPU is then
//! counted again once the total climbs back over the mark, so figures after that are a
//! lower bound.)
//!
//! # Cost
//!
//! Each sample of a [`ProcessSet::Session`] reads the `stat` file of every process of the
//! machine (the session is only visible there); with a few hundred processes that is well
//! under a millisecond of the sampler thread's CPU per sample. Memory is bounded: only
//! running sums and maxima are kept, never the samples.

use std::fmt::Write as _;
use std::io::Read as _;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Which processes to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessSet {
    /// One process (all its threads), e.g. the client: `ProcessSet::Process(std::process::id())`.
    Process(u32),
    /// Every process of a session (a server started with setsid: the session id is the server's pid), forked children included.
    Session(u32),
    /// A process and all its descendants, whatever their session: a server the user
    /// started themselves (`--server-pid`), forked children included.
    Tree(u32),
}

/// Where a server's processes are sampled: on this machine, or on the remote host it
/// runs on (through its companion there, see `server::remote`).
#[derive(Clone, Debug)]
pub enum ServerSampling {
    /// Processes of this machine.
    Local(ProcessSet),
    /// The session of a server on another host, read from that host's `/proc`.
    Remote(std::sync::Arc<crate::server::remote::RemoteProbe>),
}

impl ServerSampling {
    /// The local process set, when the server runs here.
    pub fn local(&self) -> Option<ProcessSet> {
        match self {
            ServerSampling::Local(set) => Some(*set),
            ServerSampling::Remote(_) => None,
        }
    }
}

impl From<ProcessSet> for ServerSampling {
    fn from(set: ProcessSet) -> Self {
        ServerSampling::Local(set)
    }
}

/// Samples CPU and resident memory of a server's process tree and of the client on a
/// background thread, from [`start`](Self::start) until [`stop`](Self::stop).
///
/// Dropping it without calling `stop` stops the thread and discards the figures.
pub struct SystemSampler {
    inner: Option<Inner>,
    interval: Duration,
    has_server: bool,
}

/// Where the sampling happens.
enum Inner {
    /// On the sampler thread, which returns the statistics when told to stop (a message or
    /// a dropped sender).
    Thread { stop: mpsc::Sender<()>, handle: JoinHandle<SystemStats> },
    /// No thread could be spawned: only the initial sample (taken in `start`) and the final
    /// one (in `stop`), which still give the mean CPU of the run.
    Inline(Box<State>),
}

/// The shortest run whose server CPU figures are worth showing.
///
/// A server's CPU time is read from `/proc` in clock ticks (10 ms at the usual USER_HZ of
/// 100), so over a 30 ms run one tick more or less moves the mean by a third of a core;
/// over 200 ms by 5 points. The client's comes from `getrusage`, precise to the
/// microsecond, and needs no such floor.
pub const MIN_SERVER_CPU_WINDOW: Duration = Duration::from_millis(200);

/// The shortest sampling interval; shorter requests are raised to it.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

impl SystemSampler {
    /// Starts sampling `server` (if any) and `client` every `interval` (e.g. 100 ms) until `stop`.
    ///
    /// The initial sample is taken before this returns, so the run measured starts here.
    /// Intervals under 1 ms are raised to 1 ms. Should no thread be available, the sampler
    /// degrades to an initial and a final sample (the mean figures stay right).
    pub fn start(interval: Duration, server: Option<ProcessSet>, client: ProcessSet) -> SystemSampler {
        SystemSampler::start_sampling(interval, server.map(ServerSampling::Local), client)
    }

    /// [`start`](Self::start), for a server here or on another host.
    pub fn start_sampling(interval: Duration, server: Option<ServerSampling>, client: ProcessSet) -> SystemSampler {
        let interval = interval.max(MIN_INTERVAL);
        let has_server = server.is_some();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let on_thread = server.clone();
        let spawned = std::thread::Builder::new().name("rpycbench-sampler".into()).spawn(move || {
            let mut state = State::new(interval, on_thread, client, true);
            state.sample();
            // The receiver only goes away if `start` itself is gone; nothing to tell then.
            let _ = ready_tx.send(());
            run(state, interval, &stop_rx)
        });
        let inner = match spawned {
            Ok(handle) => {
                // An error means the thread died before its first sample: `stop` copes.
                let _ = ready_rx.recv();
                Inner::Thread { stop: stop_tx, handle }
            }
            Err(_) => {
                let mut state = Box::new(State::new(interval, server, client, false));
                state.sample();
                Inner::Inline(state)
            }
        };
        SystemSampler { inner: Some(inner), interval, has_server }
    }

    /// Stops sampling and returns the statistics (also taking one final sample, so a run shorter than one interval still gets a CPU figure computed over its whole duration).
    ///
    /// Returns promptly, without waiting for the current interval to end. Should the
    /// sampler thread have died (it is written not to panic), the statistics are all
    /// zero with `samples == 0`.
    pub fn stop(mut self) -> SystemStats {
        match self.inner.take() {
            Some(Inner::Thread { stop, handle }) => {
                // A send error means the thread is already gone; join tells how.
                let _ = stop.send(());
                handle.join().unwrap_or_else(|_| SystemStats::empty(self.interval, self.has_server))
            }
            Some(Inner::Inline(mut state)) => {
                state.sample();
                state.finish()
            }
            None => SystemStats::empty(self.interval, self.has_server),
        }
    }
}

impl Drop for SystemSampler {
    fn drop(&mut self) {
        if let Some(Inner::Thread { stop, handle }) = self.inner.take() {
            drop(stop);
            let _ = handle.join();
        }
    }
}

/// The sampler thread's loop: one sample per `interval`, on a fixed schedule that does not
/// drift (a schedule fallen behind restarts from now rather than sampling in a burst), until
/// told to stop; then a final sample.
fn run(mut state: State, interval: Duration, stop: &mpsc::Receiver<()>) -> SystemStats {
    // `checked_add`: an interval too long for the clock (Duration::MAX) must not panic;
    // it then means a wait of `interval` from each sample, that is until stopped.
    let mut next = Instant::now().checked_add(interval);
    let wait = |next: Option<Instant>| next.map_or(interval, |n| n.saturating_duration_since(Instant::now()));
    // A message or a dropped sender both mean stop.
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(wait(next)) {
        state.sample();
        let now = Instant::now();
        next = next.and_then(|n| n.checked_add(interval)).filter(|&n| n > now).or_else(|| now.checked_add(interval));
    }
    state.sample();
    state.finish()
}

/// Statistics of one sampled run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SystemStats {
    /// Sampling interval, ns.
    pub interval_ns: u64,
    /// Number of samples taken.
    ///
    /// The initial one (in `start`) and the final one (in `stop`) included.
    pub samples: u64,
    /// The server's process tree, when one was measured.
    pub server: Option<ProcessStats>,
    /// The measuring (client) process.
    pub client: ProcessStats,
}

impl SystemStats {
    /// The figures of a run with no sample.
    fn empty(interval: Duration, has_server: bool) -> SystemStats {
        SystemStats {
            interval_ns: duration_ns(interval),
            samples: 0,
            server: has_server.then(ProcessStats::default),
            client: ProcessStats::default(),
        }
    }
}

/// CPU and memory figures of one process set over a run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProcessStats {
    /// CPU use in percent of one core (200 = two cores busy), averaged over the run: total CPU time consumed during the run / wall time.
    pub cpu_percent_mean: f64,
    /// Highest CPU use over one sampling interval.
    pub cpu_percent_max: f64,
    /// Resident memory summed over the set's processes, mean of the samples, bytes.
    pub rss_bytes_mean: u64,
    /// Highest resident memory seen, bytes.
    pub rss_bytes_max: u64,
    /// Most processes seen at once in the set.
    pub processes_max: u32,
    /// Total CPU time consumed during the run, ns.
    pub cpu_time_ns: u64,
}

/// What the sampler reads from `/proc` and the system, and what it has gathered so far.
struct State {
    probe: Probe,
    server: Option<(ServerSampling, Accumulator)>,
    client: (ProcessSet, Accumulator),
    /// The shortest span over which a CPU percentage counts towards the maximum.
    min_window: Duration,
    interval: Duration,
    start: Option<Instant>,
    last: Option<Instant>,
    samples: u64,
}

impl State {
    fn new(interval: Duration, server: Option<ServerSampling>, client: ProcessSet, on_sampler_thread: bool) -> State {
        State {
            probe: Probe::new(on_sampler_thread),
            server: server.map(|s| (s, Accumulator::default())),
            client: (client, Accumulator::default()),
            min_window: interval / 2,
            interval,
            start: None,
            last: None,
            samples: 0,
        }
    }

    /// Takes one sample of both sets.
    fn sample(&mut self) {
        let now = Instant::now();
        let start = *self.start.get_or_insert(now);
        let at = now.saturating_duration_since(start);
        // A remote server's sample first: it waits a round trip, which the client's
        // microsecond figure, read right after, must not include.
        let remote = match self.server.as_ref() {
            Some((ServerSampling::Remote(probe), _)) => Some(read_remote(probe)),
            _ => None,
        };
        let sets = [self.server.as_ref().and_then(|(s, _)| s.local()), Some(self.client.0)];
        let [server, client] = self.probe.read(sets);
        let server = remote.or(server);
        if let (Some((_, acc)), Some(reading)) = (self.server.as_mut(), server) {
            acc.record(at, &reading, self.min_window);
        }
        if let Some(reading) = client {
            self.client.1.record(at, &reading, self.min_window);
        }
        self.last = Some(now);
        self.samples = self.samples.saturating_add(1);
    }

    fn finish(&self) -> SystemStats {
        let wall = match (self.start, self.last) {
            (Some(start), Some(last)) => last.saturating_duration_since(start),
            _ => Duration::ZERO,
        };
        SystemStats {
            interval_ns: duration_ns(self.interval),
            samples: self.samples,
            server: self.server.as_ref().map(|(_, acc)| acc.finish(wall)),
            client: self.client.1.finish(wall),
        }
    }
}

/// One set's figures at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Reading {
    /// Cumulative CPU time of the set, ns; `None` when it cannot be read (a
    /// [`ProcessSet::Process`] that does not exist).
    cpu_ns: Option<u64>,
    /// Resident memory of the set, bytes.
    rss_bytes: u64,
    /// Processes in the set.
    processes: u32,
}

/// Running sums and maxima of one set: bounded memory however long the run.
#[derive(Clone, Debug, Default)]
struct Accumulator {
    /// The first CPU total read.
    base_ns: Option<u64>,
    /// The highest CPU total read so far (see the module documentation on dips).
    high_ns: u64,
    /// Where the current CPU window started: time since the run's start, `high_ns` then.
    window: Option<(Duration, u64)>,
    cpu_percent_max: Option<f64>,
    rss_sum: u128,
    rss_samples: u64,
    rss_max: u64,
    processes_max: u32,
}

impl Accumulator {
    /// Adds the reading taken `at` after the run's start. A CPU window shorter than
    /// `min_window` (the final sample shortly after a periodic one) is not closed, so the
    /// clock-tick quantisation cannot turn one tick over a millisecond into a 1000 % peak.
    fn record(&mut self, at: Duration, reading: &Reading, min_window: Duration) {
        self.processes_max = self.processes_max.max(reading.processes);
        if reading.processes > 0 {
            self.rss_sum = self.rss_sum.saturating_add(u128::from(reading.rss_bytes));
            self.rss_samples = self.rss_samples.saturating_add(1);
            self.rss_max = self.rss_max.max(reading.rss_bytes);
        }
        let Some(cpu) = reading.cpu_ns else { return };
        if self.base_ns.is_none() {
            self.base_ns = Some(cpu);
            self.high_ns = cpu;
            self.window = Some((at, cpu));
            return;
        }
        self.high_ns = self.high_ns.max(cpu);
        if let Some((start, start_ns)) = self.window {
            let span = at.saturating_sub(start);
            if span >= min_window && !span.is_zero() {
                let pct = percent(self.high_ns.saturating_sub(start_ns), span);
                self.cpu_percent_max = Some(self.cpu_percent_max.map_or(pct, |m| m.max(pct)));
                self.window = Some((at, self.high_ns));
            }
        }
    }

    /// The figures over a run of `wall`.
    fn finish(&self, wall: Duration) -> ProcessStats {
        let cpu_time_ns = self.base_ns.map_or(0, |base| self.high_ns.saturating_sub(base));
        let mean = if wall.is_zero() { 0.0 } else { percent(cpu_time_ns, wall) };
        // The intervals and the final short remainder partition the run, so the busiest
        // of them is at least as busy as the mean, even when it is the uncounted remainder.
        let max = self.cpu_percent_max.map_or(mean, |m| m.max(mean));
        let rss_mean = if self.rss_samples == 0 { 0 } else { self.rss_sum / u128::from(self.rss_samples) };
        ProcessStats {
            cpu_percent_mean: mean,
            cpu_percent_max: max,
            rss_bytes_mean: u64::try_from(rss_mean).unwrap_or(u64::MAX),
            rss_bytes_max: self.rss_max,
            processes_max: self.processes_max,
            cpu_time_ns,
        }
    }
}

/// `cpu_ns` over `wall` in percent of one core.
fn percent(cpu_ns: u64, wall: Duration) -> f64 {
    let wall_ns = wall.as_nanos() as f64;
    if wall_ns <= 0.0 {
        0.0
    } else {
        cpu_ns as f64 * 100.0 / wall_ns
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The fields of `/proc/PID/stat` the sampler uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stat {
    /// Field 3: R, S, D, Z, ...
    state: char,
    /// Field 4: parent pid.
    ppid: u32,
    /// Field 6: session id.
    session: u32,
    /// Fields 14, 15: user and system CPU of the process (all its threads), clock ticks.
    utime: u64,
    stime: u64,
    /// Fields 16, 17: user and system CPU of the children it reaped, clock ticks.
    cutime: u64,
    cstime: u64,
    /// Field 24: resident pages.
    rss_pages: u64,
}

impl Stat {
    /// The process's own CPU, clock ticks.
    fn own_ticks(&self) -> u64 {
        self.utime.saturating_add(self.stime)
    }

    /// The CPU of the children it already reaped, clock ticks.
    fn reaped_children_ticks(&self) -> u64 {
        self.cutime.saturating_add(self.cstime)
    }
}

/// Parses the content of `/proc/PID/stat`.
///
/// The command name (field 2) is in parentheses and may itself contain spaces and `)`,
/// so the other fields are taken after the *last* `)`. Signed fields (`cutime`, `cstime`,
/// `rss`) are read as signed and negative values taken as 0.
fn parse_stat(content: &str) -> Option<Stat> {
    let close = content.rfind(')')?;
    let mut fields = content.get(close + 1..)?.split_ascii_whitespace();
    // `fields` starts at field 3: field n is the (n − 3)th item.
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?; // 4
    let session = fields.nth(1)?.parse().ok()?; // 6
    let utime = fields.nth(7)?.parse().ok()?; // 14
    let stime = fields.next()?.parse().ok()?; // 15
    let cutime = non_negative(fields.next()?)?; // 16
    let cstime = non_negative(fields.next()?)?; // 17
    let rss_pages = non_negative(fields.nth(6)?)?; // 24
    Some(Stat { state, ppid, session, utime, stime, cutime, cstime, rss_pages })
}

fn non_negative(field: &str) -> Option<u64> {
    let v: i64 = field.parse().ok()?;
    Some(u64::try_from(v).unwrap_or(0))
}

/// Totals of the processes of one session, clock ticks and pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SessionTotals {
    ticks: u64,
    rss_pages: u64,
    processes: u32,
}

impl SessionTotals {
    /// Adds a process of the session: its own CPU, that of the children it reaped, its
    /// resident pages. Zombies count too: their times stay readable until reaped.
    fn add(&mut self, stat: &Stat) {
        self.ticks = self.ticks.saturating_add(stat.own_ticks()).saturating_add(stat.reaped_children_ticks());
        self.rss_pages = self.rss_pages.saturating_add(stat.rss_pages);
        self.processes = self.processes.saturating_add(1);
    }
}

/// A remote server's session, from the `stat` lines its companion sent; no process
/// when it sent none (the server gone, or the companion lost).
fn read_remote(probe: &crate::server::remote::RemoteProbe) -> Reading {
    let Some(sample) = probe.sample() else { return Reading::default() };
    let mut totals = SessionTotals::default();
    for stat in sample.stats.iter().filter_map(|l| parse_stat(l)) {
        totals.add(&stat);
    }
    Reading {
        cpu_ns: (totals.processes > 0).then(|| ticks_to_ns(totals.ticks, sample.clk_tck)),
        rss_bytes: totals.rss_pages.saturating_mul(sample.page_size),
        processes: totals.processes,
    }
}

/// Reads the figures of process sets from `/proc` and `getrusage`.
struct Probe {
    clk_tck: u64,
    page_size: u64,
    self_pid: u32,
    /// Whether this runs on the sampler thread, whose own CPU is then subtracted from the
    /// current process's.
    on_sampler_thread: bool,
    /// Reused buffers: a `/proc` path and a `stat` file's content.
    path: String,
    content: String,
    pids: Vec<u32>,
    /// Reused: every process of the last scan, for the trees.
    all: Vec<(u32, Stat)>,
    /// Reused: the members of one tree being gathered.
    tree: Vec<u32>,
}

impl Probe {
    fn new(on_sampler_thread: bool) -> Probe {
        Probe {
            clk_tck: sysconf_or(libc::_SC_CLK_TCK, 100),
            page_size: sysconf_or(libc::_SC_PAGESIZE, 4096),
            self_pid: std::process::id(),
            on_sampler_thread,
            path: String::with_capacity(32),
            content: String::with_capacity(512),
            pids: Vec::new(),
            all: Vec::new(),
            tree: Vec::new(),
        }
    }

    /// Reads the given sets (scanning `/proc` once however many sessions there are).
    ///
    /// Single processes are read first, right after the caller took the sample's time:
    /// their CPU is precise to the microsecond for the current process, which a scan of
    /// `/proc` in between would blur; a session's, in clock ticks, is not.
    fn read<const N: usize>(&mut self, sets: [Option<ProcessSet>; N]) -> [Option<Reading>; N] {
        let mut readings = [None; N];
        let mut sessions = [None::<SessionTotals>; N];
        for ((reading, session), set) in readings.iter_mut().zip(sessions.iter_mut()).zip(&sets) {
            match set {
                Some(ProcessSet::Process(pid)) => *reading = Some(self.read_process(*pid)),
                Some(ProcessSet::Session(_) | ProcessSet::Tree(_)) => *session = Some(SessionTotals::default()),
                None => {}
            }
        }
        if sessions.iter().any(Option::is_some) {
            self.scan_sessions(&sets, &mut sessions);
            for (reading, totals) in readings.iter_mut().zip(&sessions) {
                if let Some(t) = totals {
                    *reading = Some(Reading {
                        cpu_ns: Some(ticks_to_ns(t.ticks, self.clk_tck)),
                        rss_bytes: t.rss_pages.saturating_mul(self.page_size),
                        processes: t.processes,
                    });
                }
            }
        }
        readings
    }

    /// Adds every process of `/proc` to the totals of the sessions it belongs to, in
    /// ascending pid order (parents before their children, mostly: see the module
    /// documentation).
    fn scan_sessions(&mut self, sets: &[Option<ProcessSet>], totals: &mut [Option<SessionTotals>]) {
        self.pids.clear();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
                    self.pids.push(pid);
                }
            }
        }
        self.pids.sort_unstable();
        let pids = std::mem::take(&mut self.pids);
        let trees = sets.iter().any(|s| matches!(s, Some(ProcessSet::Tree(_))));
        self.all.clear();
        for &pid in &pids {
            let Some(stat) = self.read_stat(pid) else { continue };
            for (set, total) in sets.iter().zip(totals.iter_mut()) {
                if let (Some(ProcessSet::Session(sid)), Some(total)) = (set, total) {
                    if stat.session == *sid {
                        total.add(&stat);
                    }
                }
            }
            if trees {
                self.all.push((pid, stat));
            }
        }
        self.pids = pids;
        for (set, total) in sets.iter().zip(totals.iter_mut()) {
            if let (Some(ProcessSet::Tree(root)), Some(total)) = (set, total) {
                self.add_tree(*root, total);
            }
        }
    }

    /// Adds `root` and its descendants among the processes of the last scan.
    fn add_tree(&mut self, root: u32, total: &mut SessionTotals) {
        self.tree.clear();
        if let Some((_, stat)) = self.all.iter().find(|(pid, _)| *pid == root) {
            total.add(stat);
            self.tree.push(root);
        }
        // Breadth first: each member's children, once (a pid appears once in a scan,
        // so the walk ends even if a pid was reused as its own ancestor's child).
        let mut next = 0;
        while next < self.tree.len() {
            let parent = self.tree[next];
            next += 1;
            for (pid, stat) in &self.all {
                if stat.ppid == parent && *pid != root && !self.tree.contains(pid) {
                    total.add(stat);
                    self.tree.push(*pid);
                }
            }
        }
    }

    /// One process: `/proc/PID/stat`, or `getrusage` for the current process's CPU.
    fn read_process(&mut self, pid: u32) -> Reading {
        let Some(stat) = self.read_stat(pid) else { return Reading::default() };
        let cpu_ns = if pid == self.self_pid {
            let own = rusage_ns(libc::RUSAGE_SELF);
            let sampler = if self.on_sampler_thread { rusage_ns(libc::RUSAGE_THREAD) } else { Some(0) };
            match (own, sampler) {
                (Some(own), Some(sampler)) => own.saturating_sub(sampler),
                _ => ticks_to_ns(stat.own_ticks(), self.clk_tck),
            }
        } else {
            ticks_to_ns(stat.own_ticks(), self.clk_tck)
        };
        Reading { cpu_ns: Some(cpu_ns), rss_bytes: stat.rss_pages.saturating_mul(self.page_size), processes: 1 }
    }

    /// Reads and parses `/proc/PID/stat`; `None` if the process is gone (or unreadable).
    fn read_stat(&mut self, pid: u32) -> Option<Stat> {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/stat");
        self.content.clear();
        let mut file = std::fs::File::open(&self.path).ok()?;
        file.read_to_string(&mut self.content).ok()?;
        parse_stat(&self.content)
    }
}

fn sysconf_or(name: libc::c_int, default: u64) -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok().filter(|&v| v > 0).unwrap_or(default)
}

/// User + system CPU of `who` (`RUSAGE_SELF`, `RUSAGE_THREAD`), ns.
fn rusage_ns(who: libc::c_int) -> Option<u64> {
    // SAFETY: an all-zero rusage is a valid value, and getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return None;
    }
    let tv_ns = |tv: libc::timeval| {
        let s = u64::try_from(tv.tv_sec).unwrap_or(0);
        let us = u64::try_from(tv.tv_usec).unwrap_or(0);
        s.saturating_mul(1_000_000_000).saturating_add(us.saturating_mul(1_000))
    };
    Some(tv_ns(usage.ru_utime).saturating_add(tv_ns(usage.ru_stime)))
}

fn ticks_to_ns(ticks: u64, clk_tck: u64) -> u64 {
    let ns = u128::from(ticks) * 1_000_000_000 / u128::from(clk_tck.max(1));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real line (bash, pid 1234, session 1200), fields 14–17 = 250 31 700 42, rss 1024.
    fn line(comm: &str) -> String {
        format!(
            "1234 ({comm}) S 1200 1234 1200 34816 1234 4194560 2000 3000 1 2 250 31 700 42 20 0 1 0 \
             12345 10000000 1024 18446744073709551615 1 1 0 0 0 0 65536 3686404 1266761467 0 0 0 17 1 \
             0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        )
    }

    #[test]
    fn parses_the_fields_used() {
        let stat = parse_stat(&line("bash")).expect("parses");
        assert_eq!(
            stat,
            Stat {
                state: 'S',
                ppid: 1200,
                session: 1200,
                utime: 250,
                stime: 31,
                cutime: 700,
                cstime: 42,
                rss_pages: 1024
            }
        );
        assert_eq!(stat.own_ticks(), 281);
        assert_eq!(stat.reaped_children_ticks(), 742);
    }

    #[test]
    fn command_names_with_spaces_and_parentheses() {
        for comm in ["a b", "x) S 1 2 3 4 (", "))", "(", ") 9 9 9", ""] {
            let stat = parse_stat(&line(comm)).unwrap_or_else(|| panic!("{comm:?} parses"));
            assert_eq!((stat.session, stat.utime, stat.cutime, stat.rss_pages), (1200, 250, 700, 1024), "{comm:?}");
        }
    }

    #[test]
    fn zombie_and_negative_fields() {
        let z = "77 (sh) Z 1 77 77 0 -1 4227084 0 0 0 0 5 6 -3 8 20 0 1 0 1 0 -1 0";
        let stat = parse_stat(z).expect("parses");
        assert_eq!(stat.state, 'Z');
        assert_eq!((stat.utime, stat.stime, stat.cutime, stat.cstime, stat.rss_pages), (5, 6, 0, 8, 0));
    }

    #[test]
    fn malformed_lines_are_rejected() {
        for bad in [
            "",
            "1234 bash S 1 2 3",
            "1234 (bash) S 1 2",
            "1234 (bash) S 1 2 x 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22",
            "1234 (bash) S 1 2 3 4 5 6 7 8 9 10 -11 12 13 14 15 16 17 18 19 20 21 22",
        ] {
            assert_eq!(parse_stat(bad), None, "{bad:?}");
        }
        // Truncated just before rss.
        let full = line("bash");
        let cut = full.split_ascii_whitespace().take(23).collect::<Vec<_>>().join(" ");
        assert_eq!(parse_stat(&cut), None);
        let enough = full.split_ascii_whitespace().take(24).collect::<Vec<_>>().join(" ");
        assert!(parse_stat(&enough).is_some());
    }

    #[test]
    fn session_totals_include_reaped_children() {
        let mut t = SessionTotals::default();
        let parent = parse_stat(&line("server")).expect("parses");
        let child =
            Stat { state: 'Z', ppid: 1200, session: 1200, utime: 10, stime: 5, cutime: 0, cstime: 0, rss_pages: 0 };
        t.add(&parent);
        t.add(&child);
        assert_eq!(t, SessionTotals { ticks: 281 + 742 + 15, rss_pages: 1024, processes: 2 });
    }

    #[test]
    fn ticks_convert_to_ns() {
        assert_eq!(ticks_to_ns(1, 100), 10_000_000);
        assert_eq!(ticks_to_ns(3, 300), 10_000_000);
        assert_eq!(ticks_to_ns(5, 0), 5_000_000_000);
        assert_eq!(ticks_to_ns(u64::MAX, 1), u64::MAX);
    }

    fn reading(cpu_ms: u64, rss: u64, processes: u32) -> Reading {
        Reading { cpu_ns: Some(cpu_ms * 1_000_000), rss_bytes: rss, processes }
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn accumulator_mean_max_and_rss() {
        let mut acc = Accumulator::default();
        let half = 50 * MS;
        acc.record(Duration::ZERO, &reading(1000, 100, 1), half);
        acc.record(100 * MS, &reading(1050, 300, 2), half); // 50 %
        acc.record(200 * MS, &reading(1200, 200, 3), half); // 150 %
        acc.record(210 * MS, &reading(1210, 200, 1), half); // too short a window: not a maximum
        let s = acc.finish(210 * MS);
        assert_eq!(s.cpu_time_ns, 210_000_000);
        assert!((s.cpu_percent_mean - 100.0).abs() < 1e-9, "{s:?}");
        assert!((s.cpu_percent_max - 150.0).abs() < 1e-9, "{s:?}");
        assert_eq!((s.rss_bytes_mean, s.rss_bytes_max, s.processes_max), (200, 300, 3));
    }

    #[test]
    fn a_dip_is_not_counted_twice() {
        // A child reaped between the reads of its parent and its own entry: missing once.
        let mut acc = Accumulator::default();
        let half = 50 * MS;
        acc.record(Duration::ZERO, &reading(100, 1, 1), half);
        acc.record(100 * MS, &reading(150, 1, 1), half);
        acc.record(200 * MS, &reading(120, 1, 1), half);
        acc.record(300 * MS, &reading(200, 1, 1), half);
        let s = acc.finish(300 * MS);
        assert_eq!(s.cpu_time_ns, 100_000_000);
        assert!((s.cpu_percent_max - 50.0).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn a_run_shorter_than_a_window_still_has_figures() {
        let mut acc = Accumulator::default();
        acc.record(Duration::ZERO, &reading(0, 10, 1), 50 * MS);
        acc.record(20 * MS, &reading(20, 10, 1), 50 * MS);
        let s = acc.finish(20 * MS);
        assert!((s.cpu_percent_mean - 100.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.cpu_percent_max, s.cpu_percent_mean);
    }

    #[test]
    fn a_missing_process_gives_zeros() {
        let mut acc = Accumulator::default();
        acc.record(Duration::ZERO, &Reading::default(), MS);
        acc.record(10 * MS, &Reading::default(), MS);
        assert_eq!(acc.finish(10 * MS), ProcessStats::default());
        let mut probe = Probe::new(false);
        // Pids are below 2^22 on Linux.
        assert_eq!(probe.read_process(u32::MAX - 1), Reading::default());
    }

    #[test]
    fn probes_the_current_process_and_its_session() {
        let mut probe = Probe::new(false);
        let own = probe.read_stat(std::process::id()).expect("own stat");
        assert!(own.rss_pages > 0);
        // SAFETY: getsid(0) has no preconditions.
        let sid = u32::try_from(unsafe { libc::getsid(0) }).expect("sid");
        let [p, s] = probe.read([Some(ProcessSet::Process(std::process::id())), Some(ProcessSet::Session(sid))]);
        let (p, s) = (p.expect("read"), s.expect("read"));
        assert_eq!(p.processes, 1);
        assert!(p.rss_bytes > 0 && p.cpu_ns.is_some());
        assert!(s.processes >= 1 && s.rss_bytes >= p.rss_bytes, "{s:?} vs {p:?}");
    }

    #[test]
    fn a_tree_is_a_process_and_its_descendants_outside_its_own_session() {
        use std::os::unix::process::CommandExt;
        // A shell with two children and a grandchild, in our session (not a leader of
        // its own, as a server a user starts from a shell), in a group of its own so
        // the test can end all of it.
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sh -c 'sleep 30 & wait' & wait"])
            .process_group(0)
            .spawn()
            .expect("spawn sh");
        let root = shell.id();
        let mut probe = Probe::new(false);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let tree = loop {
            let [t, s] = probe.read([Some(ProcessSet::Tree(root)), Some(ProcessSet::Session(root))]);
            let (t, s) = (t.expect("read"), s.expect("read"));
            // Not a session leader: its "session" holds nothing.
            assert_eq!(s.processes, 0, "{s:?}");
            if t.processes == 4 || std::time::Instant::now() > deadline {
                break t;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // SAFETY: kill has no memory preconditions; the group is the shell's own.
        unsafe { libc::kill(-(root as i32), libc::SIGKILL) };
        let _ = shell.wait();
        assert_eq!(tree.processes, 4, "sh, sleep, sh, sleep: {tree:?}");
        assert!(tree.rss_bytes > 0 && tree.cpu_ns.is_some(), "{tree:?}");
        let [gone] = probe.read([Some(ProcessSet::Tree(root))]);
        assert_eq!(gone.expect("read").processes, 0, "a tree whose root is gone is empty");
    }

    #[test]
    fn an_interval_too_long_for_the_clock() {
        let sampler = SystemSampler::start(Duration::MAX, None, ProcessSet::Process(std::process::id()));
        std::thread::sleep(Duration::from_millis(20));
        let stats = sampler.stop();
        assert_eq!((stats.samples, stats.interval_ns), (2, u64::MAX));
    }

    #[test]
    fn dropping_without_stop_ends_the_thread() {
        let sampler = SystemSampler::start(Duration::from_secs(3600), None, ProcessSet::Process(std::process::id()));
        let t = Instant::now();
        drop(sampler);
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn stop_before_any_interval() {
        let sampler = SystemSampler::start(Duration::from_secs(3600), None, ProcessSet::Process(std::process::id()));
        let t = Instant::now();
        let stats = sampler.stop();
        assert!(t.elapsed() < Duration::from_secs(1));
        assert_eq!(stats.samples, 2);
        assert_eq!(stats.server, None);
        assert_eq!(stats.interval_ns, 3_600_000_000_000);
        assert!(stats.client.rss_bytes_max > 0);
    }
}
