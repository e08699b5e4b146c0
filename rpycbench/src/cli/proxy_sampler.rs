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
                (true, false) => state.begin_stretch(),
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
            state.begin_stretch();
        }
        state.total.as_ref().map(Totals::stats)
    }
}

impl State {
    fn begin_stretch(&mut self) {
        let me = ProcessSet::Process(std::process::id());
        self.running = Some((SystemSampler::start(INTERVAL, Some(self.server), me), Instant::now()));
    }

    /// Stops the stretch in progress and adds its figures to the total.
    fn close_stretch(&mut self) {
        let Some((sampler, started)) = self.running.take() else { return };
        let stats = sampler.stop();
        let wall_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        // A server that is gone is not idle: its stretches would read as 0 % CPU.
        if let Some(server) = stats.server.filter(|s| s.processes_max > 0) {
            self.total.get_or_insert_with(Totals::default).add(&server, stats.samples, wall_ns);
        }
    }
}

impl Totals {
    /// Adds one stretch of `wall_ns` whose server figures were `server`.
    fn add(&mut self, server: &ProcessStats, samples: u64, wall_ns: u64) {
        self.wall_ns = self.wall_ns.saturating_add(wall_ns);
        self.cpu_ns = self.cpu_ns.saturating_add(server.cpu_time_ns);
        self.rss_weighted = self.rss_weighted.saturating_add(u128::from(server.rss_bytes_mean) * u128::from(wall_ns));
        self.samples = self.samples.saturating_add(samples);
        // A stretch shorter than a few clock ticks has a "busiest interval" made of
        // tick quantisation (a 20 ms stretch with one tick too many reads +50 %): its
        // CPU time counts, its peak does not.
        if wall_ns >= MIN_SERVER_CPU_WINDOW.as_nanos() as u64 {
            self.stats.cpu_percent_max = self.stats.cpu_percent_max.max(server.cpu_percent_max);
        }
        self.stats.rss_bytes_max = self.stats.rss_bytes_max.max(server.rss_bytes_max);
        self.stats.processes_max = self.stats.processes_max.max(server.processes_max);
    }

    /// The stretches as one run: CPU time over connected time.
    fn stats(&self) -> SystemStats {
        let mut stats = self.stats.clone();
        stats.cpu_time_ns = self.cpu_ns;
        stats.cpu_percent_mean = if self.wall_ns == 0 { 0.0 } else { self.cpu_ns as f64 * 100.0 / self.wall_ns as f64 };
        stats.cpu_percent_max = stats.cpu_percent_max.max(stats.cpu_percent_mean);
        stats.rss_bytes_mean = u64::try_from(self.rss_weighted / u128::from(self.wall_ns.max(1))).unwrap_or(u64::MAX);
        SystemStats {
            interval_ns: INTERVAL.as_nanos() as u64,
            samples: self.samples,
            server: Some(stats),
            client: ProcessStats::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretches_add_up_as_one_run_and_short_ones_bring_no_peak() {
        let ms = |n: u64| n * 1_000_000;
        let stretch = |cpu_ms: u64, peak: f64, rss: u64| ProcessStats {
            cpu_time_ns: ms(cpu_ms),
            cpu_percent_max: peak,
            rss_bytes_mean: rss,
            rss_bytes_max: rss,
            processes_max: 1,
            ..ProcessStats::default()
        };
        let mut t = Totals::default();
        t.add(&stretch(900, 110.0, 10 << 20), 10, ms(1000)); // a second at 90 %
        t.add(&stretch(20, 500.0, 30 << 20), 1, ms(20)); // 20 ms: its "500 %" is ticks
        let s = t.stats();
        let server = s.server.expect("the server's figures");
        assert!((server.cpu_percent_mean - 920.0 / 1020.0 * 100.0).abs() < 1e-9, "{}", server.cpu_percent_mean);
        assert_eq!(server.cpu_percent_max, 110.0, "the short stretch's peak is left out");
        assert_eq!((server.cpu_time_ns, server.rss_bytes_max, s.samples), (ms(920), 30 << 20, 11));
        let weighted = ((10u128 << 20) * 1000 + (30u128 << 20) * 20) / 1020;
        assert_eq!(u128::from(server.rss_bytes_mean), weighted);
    }

    #[test]
    fn a_server_that_is_gone_is_not_read_as_idle() {
        let mut gone = std::process::Command::new("true").spawn().expect("spawn true");
        let pid = gone.id();
        gone.wait().expect("wait");
        let sampler = ConnectedSampler::start(ProcessSet::Tree(pid), || true).expect("start");
        std::thread::sleep(Duration::from_millis(60));
        assert!(sampler.snapshot().is_none(), "stretches of a server that is not there add nothing");
    }
}
