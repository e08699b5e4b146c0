//! The machine reference timed beside every benchmark (see
//! [`MachineReference`](crate::metrics::MachineReference)): loopback TCP round trips to
//! echo processes, a fixed CPU loop, and how busy the rest of the machine was.
//!
//! # Why two round trips and the machine's load
//!
//! A request's round trip costs very different amounts depending on whether client and
//! server run on one CPU or on two. On the 2-core VM the tool is developed on, a round
//! trip to a process on the same CPU takes about 5 µs, to one on the other CPU about
//! 20 µs (waking a CPU, idle or busy, costs an inter-processor interrupt the hypervisor
//! makes slow). Which of the two a benchmark gets is the scheduler's choice, and it
//! follows the load: on an idle machine client and server run apart (a native `ping`
//! takes 20 µs), while another job keeping a core busy squeezes them onto one (6 µs).
//! The echo processes are pinned, one to the measuring thread's CPU and one to another,
//! so the two figures are the machine's price of each placement, whatever the
//! scheduler does; the other load of the machine during the rounds says which
//! placement the benchmark probably got. A comparison uses both (see
//! `metrics::compare`).

mod echo;
mod load;

use crate::client::poll_read;
use crate::metrics::{MachineReference, ReferenceMeasurement};
use echo::{allowed_cpus, EchoProcess, PinnedThread};
use load::LoadMeter;
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Round trips per measurement; the median of them is kept.
const ROUND_TRIPS: usize = 50;
/// The message's size: a small request, as most RPyC calls are.
const MESSAGE: usize = 64;
/// Rounds of the CPU loop.
const CPU_ROUNDS: u64 = 1_000_000;

/// Measures the reference: before, between and after a run's rounds.
pub(crate) struct Reference {
    /// Echoes pinned to the measuring thread's CPU and to another one.
    same_cpu: Option<Echo>,
    cross_cpu: Option<Echo>,
    /// The CPU the measuring thread runs on while it measures (none on one CPU).
    client_cpu: Option<usize>,
    poll: Duration,
    measurements: Vec<ReferenceMeasurement>,
    load: Option<LoadMeter>,
}

/// An echo process and the connection to it.
struct Echo {
    _process: EchoProcess,
    stream: TcpStream,
}

impl Echo {
    fn start(cpu: Option<usize>) -> Option<Echo> {
        let listener = TcpListener::bind("127.0.0.1:0").ok()?;
        let process = EchoProcess::start(&listener, cpu).ok()?;
        let stream = TcpStream::connect(listener.local_addr().ok()?).ok()?;
        stream.set_nodelay(true).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        Some(Echo { _process: process, stream })
    }
}

impl Reference {
    /// A reference whose round trips poll for the echo as the client polls for replies
    /// (`poll`). Parts that cannot start (no second CPU, no fork) are left out of the
    /// figures rather than failing the run.
    pub(crate) fn start(poll: Duration) -> Option<Reference> {
        let (client_cpu, other_cpu) = match allowed_cpus().as_slice() {
            [first, second, ..] => (Some(*first), Some(*second)),
            _ => (None, None),
        };
        let same_cpu = Echo::start(client_cpu);
        let cross_cpu = other_cpu.and_then(|cpu| Echo::start(Some(cpu)));
        Some(Reference { same_cpu, cross_cpu, client_cpu, poll, measurements: Vec::new(), load: LoadMeter::start() })
    }

    /// One measurement of every figure.
    pub(crate) fn measure(&mut self) {
        let pinned = self.client_cpu.and_then(PinnedThread::to);
        let same_cpu_rtt_ns = measure_echo(&mut self.same_cpu, self.poll);
        let loopback_rtt_ns = measure_echo(&mut self.cross_cpu, self.poll);
        drop(pinned);
        self.measurements.push(ReferenceMeasurement { loopback_rtt_ns, same_cpu_rtt_ns, cpu_loop_ns: cpu_loop() });
    }

    /// What was measured.
    pub(crate) fn finish(self) -> MachineReference {
        MachineReference {
            measurements: self.measurements,
            reply_poll_ns: u64::try_from(self.poll.as_nanos()).unwrap_or(u64::MAX),
            other_load_pct: self.load.and_then(LoadMeter::finish),
        }
    }
}

/// The median round trip to `echo`; a broken echo is dropped (its figure then missing
/// from this and later measurements), never an error of the run.
fn measure_echo(echo: &mut Option<Echo>, poll: Duration) -> Option<u64> {
    let measured = round_trips(&mut echo.as_mut()?.stream, poll);
    if measured.is_err() {
        *echo = None;
    }
    measured.ok()
}

/// The median of [`ROUND_TRIPS`] echoes of a [`MESSAGE`]-byte message.
fn round_trips(stream: &mut TcpStream, poll: Duration) -> io::Result<u64> {
    let message = [0x5au8; MESSAGE];
    let mut back = [0u8; MESSAGE];
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let start = Instant::now();
        stream.write_all(&message)?;
        let mut got = 0;
        while got < MESSAGE {
            let n = poll_read(stream, &mut back[got..], poll)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            got += n;
        }
        times.push(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }
    times.sort_unstable();
    Ok(times[times.len() / 2])
}

/// A fixed amount of integer work, timed: how fast this process computes right now.
fn cpu_loop() -> u64 {
    let start = Instant::now();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..CPU_ROUNDS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}
