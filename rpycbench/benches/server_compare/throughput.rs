//! Throughput with many concurrent clients, and what it costs the server.
//!
//! Each contender runs for several short rounds, the contenders taking turns, so a
//! slow patch of a shared machine (a VM's neighbours, a compile elsewhere) lands on all
//! of them instead of on whichever ran at that moment; the median round is reported.
//!
//! Besides requests per second, the server's own CPU time per request is read from
//! `/proc` around each round. On a machine whose cores the load generator shares with
//! the server, throughput is capped by the cores the server gets, not by what it does
//! with them; CPU per request is what the server's design costs, whatever the machine.

use super::mux_load;
use rpycbench::client::Connection;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// One contender's rounds.
#[derive(Default)]
pub struct Rounds {
    /// Requests per second of each round.
    pub rates: Vec<f64>,
    /// The server's CPU time over all rounds, if its processes could be read.
    server_cpu: Option<CpuTime>,
    requests: f64,
}

impl Rounds {
    /// The median round's requests per second.
    pub fn median(&self) -> f64 {
        let mut r = self.rates.clone();
        r.sort_by(f64::total_cmp);
        match r.len() {
            0 => 0.0,
            n if n % 2 == 1 => r[n / 2],
            n => (r[n / 2 - 1] + r[n / 2]) / 2.0,
        }
    }

    /// The server's CPU time (all its processes) per completed request.
    pub fn server_cpu_per_request(&self) -> Option<CpuTime> {
        let cpu = self.server_cpu?;
        (self.requests > 0.0)
            .then(|| CpuTime { user: cpu.user.div_f64(self.requests), system: cpu.system.div_f64(self.requests) })
    }

    fn record(&mut self, rate: f64, window: Duration, cpu: Option<CpuTime>) {
        self.rates.push(rate);
        self.requests += rate * window.as_secs_f64();
        self.server_cpu = match (self.rates.len(), self.server_cpu, cpu) {
            (1, _, cpu) => cpu,
            (_, Some(total), Some(cpu)) => Some(total + cpu),
            _ => None,
        };
    }
}

/// Someone to send pings to, and the processes whose CPU time is the server's.
pub struct Contender {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process tree, read before and after each round.
    pub pids: Vec<u32>,
}

/// `rounds` turns of `window` each, the contenders taking turns (each round starting
/// with the next one, so none always follows the same neighbour's teardown), every turn
/// with `clients` connections driven by an event-loop thread per CPU.
pub fn event_loop_rounds(
    contenders: &[Contender],
    clients: usize,
    rounds: usize,
    window: Duration,
) -> Res<Vec<Rounds>> {
    let loops = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out: Vec<Rounds> = contenders.iter().map(|_| Rounds::default()).collect();
    for round in 0..rounds {
        for i in (0..contenders.len()).map(|k| (k + round) % contenders.len()) {
            let c = &contenders[i];
            let (rate, before, after) = mux_load::run(c.addr, clients, loops, window, || cpu_time(&c.pids))?;
            out[i].record(rate, window, before.zip(after).map(|(b, a)| a.since(b)));
        }
    }
    Ok(out)
}

/// CPU time split by where it was spent: the server's own code (user) and the kernel's
/// work for it (system: TCP on loopback, waking threads).
#[derive(Clone, Copy, Default)]
pub struct CpuTime {
    /// In user space.
    pub user: Duration,
    /// In the kernel.
    pub system: Duration,
}

impl CpuTime {
    /// Both together.
    pub fn total(self) -> Duration {
        self.user + self.system
    }

    pub fn since(self, before: CpuTime) -> CpuTime {
        CpuTime { user: self.user.saturating_sub(before.user), system: self.system.saturating_sub(before.system) }
    }
}

impl std::ops::Add for CpuTime {
    type Output = CpuTime;
    fn add(self, other: CpuTime) -> CpuTime {
        CpuTime { user: self.user + other.user, system: self.system + other.system }
    }
}

/// CPU time of `pids` (each process counts all its threads, live and ended), or `None`
/// if there are none or one cannot be read.
pub fn cpu_time(pids: &[u32]) -> Option<CpuTime> {
    if pids.is_empty() {
        return None;
    }
    // SAFETY: sysconf has no preconditions; it returns -1 only for an unknown name.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let (mut user, mut system) = (0, 0);
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may contain spaces and parentheses; fields follow the last ')'.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12th and 13th after the name.
        user += fields.get(11)?.parse::<u64>().ok()?;
        system += fields.get(12)?.parse::<u64>().ok()?;
    }
    let ticks = |t: u64| Duration::from_nanos(t * 1_000_000_000 / hz);
    Some(CpuTime { user: ticks(user), system: ticks(system) })
}

/// Closed-loop `ping` from `clients` threads, each with its own blocking
/// [`Connection`], for `window`; requests per second over all of them.
pub fn client_threads(addr: SocketAddr, clients: usize, window: Duration) -> Res<f64> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut conn = Connection::connect(addr)?;
        conn.call("ping", ())?; // GETROOT and a first round trip before the clock starts
        conns.push(conn);
    }
    let start_line = Arc::new(Barrier::new(clients + 1));
    let workers: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let start_line = start_line.clone();
            std::thread::spawn(move || -> rpycbench::Result<(u64, Instant)> {
                start_line.wait();
                let deadline = Instant::now() + window;
                let mut done = 0u64;
                while Instant::now() < deadline {
                    conn.call("ping", ())?;
                    done += 1;
                }
                let finished = Instant::now();
                conn.close()?;
                Ok((done, finished))
            })
        })
        .collect();
    start_line.wait();
    let start = Instant::now();
    let (mut total, mut last) = (0u64, start);
    for w in workers {
        let (done, finished) = w.join().map_err(|_| "a client thread panicked")??;
        total += done;
        last = last.max(finished);
    }
    Ok(total as f64 / (last - start).as_secs_f64())
}
