//! `proxy --server-pid`: the server's process tree sampled while clients are connected.
//!
//! A relay runs for as long as its user likes, mostly idle: CPU averaged over its whole
//! life would call a server that is busy whenever clients come "idle". So sampling runs
//! only while at least one connection is relayed, and the figures of every such
//! stretch are added up: CPU time over connected time, the busiest interval, the most
//! memory and processes. A watcher thread polls the relay's connection gauge every
//! [`POLL`]; a connection shorter than that may go unsampled, which costs nothing a CPU
//! figure could have shown (the kernel counts CPU in 10 ms ticks).

use crate::metrics::{ProcessSet, ProcessStats, SystemSampler, SystemStats, MIN_SERVER_CPU_WINDOW};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the watcher looks at the connection gauge.
const POLL: Duration = Duration::from_millis(10);
/// The sampling interval while connected, as for benchmarks.
const INTERVAL: Duration = Duration::from_millis(100);

/// Samples a process tree while a gauge (connections relayed) is above zero.
#[derive(Clone)]
pub(crate) struct ConnectedSampler {
    state: Arc<Mutex<State>>,
}

struct State {
    server: ProcessSet,
    running: Option<(SystemSampler, Instant)>,
    /// The stretches sampled so far, added up.
    total: Option<Totals>,
}

/// Sums over stretches: a mean is total CPU over total time, never a mean of means.
#[derive(Clone, Default)]
struct Totals {
    wall_ns: u64,
    cpu_ns: u64,
    rss_weighted: u128,
    stats: ProcessStats,
    samples: u64,
}

impl ConnectedSampler {
    /// Starts watching `connected` and sampling `server` whenever it says true.
    pub(crate) fn start(
        server: ProcessSet,
        connected: impl Fn() -> bool + Send + 'static,
    ) -> std::io::Result<ConnectedSampler> {
        let sampler = ConnectedSampler { state: Arc::new(Mutex::new(State { server, running: None, total: None })) };
        let watched = sampler.clone();
        std::thread::Builder::new().name("server-sampler".into()).spawn(move || loop {
            let connected = connected();
            let mut state = watched.lock();
            match (connected, state.running.is_some()) {
                (true, false) => {
                    let server = state.server;
                    let me = ProcessSet::Process(std::process::id());
                    state.running = Some((SystemSampler::start(INTERVAL, Some(server), me), Instant::now()));
                }
                (false, true) => state.close_stretch(),
                _ => {}
            }
            drop(state);
            std::thread::sleep(POLL);
        })?;
        Ok(sampler)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The figures so far (a stretch in progress is closed and a new one begun, so
    /// nothing is lost); `None` before any client connected.
    pub(crate) fn snapshot(&self) -> Option<SystemStats> {
        let mut state = self.lock();
        if state.running.is_some() {
            state.close_stretch();
            let server = state.server;
            let me = ProcessSet::Process(std::process::id());
            state.running = Some((SystemSampler::start(INTERVAL, Some(server), me), Instant::now()));
        }
        let t = state.total.clone()?;
        let mut stats = t.stats;
        stats.cpu_time_ns = t.cpu_ns;
        stats.cpu_percent_mean = if t.wall_ns == 0 { 0.0 } else { t.cpu_ns as f64 * 100.0 / t.wall_ns as f64 };
        stats.cpu_percent_max = stats.cpu_percent_max.max(stats.cpu_percent_mean);
        stats.rss_bytes_mean = u64::try_from(t.rss_weighted / u128::from(t.wall_ns.max(1))).unwrap_or(u64::MAX);
        Some(SystemStats {
            interval_ns: INTERVAL.as_nanos() as u64,
            samples: t.samples,
            server: Some(stats),
            client: ProcessStats::default(),
        })
    }
}

impl State {
    /// Stops the stretch in progress and adds its figures to the total.
    fn close_stretch(&mut self) {
        let Some((sampler, started)) = self.running.take() else { return };
        let stats = sampler.stop();
        let wall_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        // A server that is gone is not idle: its stretches would read as 0 % CPU.
        let Some(server) = stats.server.filter(|s| s.processes_max > 0) else { return };
        let t = self.total.get_or_insert_with(Totals::default);
        t.wall_ns = t.wall_ns.saturating_add(wall_ns);
        t.cpu_ns = t.cpu_ns.saturating_add(server.cpu_time_ns);
        t.rss_weighted = t.rss_weighted.saturating_add(u128::from(server.rss_bytes_mean) * u128::from(wall_ns));
        t.samples = t.samples.saturating_add(stats.samples);
        // A stretch shorter than a few clock ticks has a "busiest interval" made of
        // tick quantisation (a 20 ms stretch with one tick too many reads +50 %): its
        // CPU time counts, its peak does not.
        if wall_ns >= MIN_SERVER_CPU_WINDOW.as_nanos() as u64 {
            t.stats.cpu_percent_max = t.stats.cpu_percent_max.max(server.cpu_percent_max);
        }
        t.stats.rss_bytes_max = t.stats.rss_bytes_max.max(server.rss_bytes_max);
        t.stats.processes_max = t.stats.processes_max.max(server.processes_max);
    }
}
