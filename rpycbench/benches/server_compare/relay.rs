//! What the profiling relay (`rpycbench proxy`) adds to a round trip, against what a
//! raw loopback round trip of the same frames costs, measured in one run.
//!
//! Five ways of making the same exchange, taken in turns round after round so that
//! a change in the machine's state (another job, the CPUs' clocks) falls on all of
//! them alike:
//! * raw TCP ping-pong with the CALLATTR ping frames, direct to a [`Peer`] echo;
//! * the same through `rpycbench proxy --quiet` (a process in its own session, as
//!   users run it), which decodes the frames as it relays them;
//! * the same through a plain forwarder ([`PeerKind::Forward`]: a blocking thread per
//!   direction, no decoding): what any relay of the simplest kind adds;
//! * `conn.call("ping", ())` to the native threaded server, direct and through the
//!   relay.
//!
//! The relay's added time is the relayed median minus the direct one; issue #19's
//! target is at most 1.5 × the raw round trip. The relay's CPU time per relayed
//! round trip is shown too: a relay that polls before it blocks buys its latency
//! with CPU, and the reader should see how much.

use super::peer::{Peer, PeerKind};
use super::throughput::{cpu_time, CpuTime};
use super::{Latency, Plan, Res};
use rpycbench::client::{poll_read, Connection, DEFAULT_REPLY_POLL};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The medians of each way, and the relay's own figures.
pub struct RelayLatencies {
    pub raw_direct: Latency,
    pub raw_relayed: Latency,
    pub raw_forwarded: Latency,
    pub native_direct: Latency,
    pub native_relayed: Latency,
    /// Rounds taken, each way.
    pub rounds: usize,
    /// The relay processes' CPU time per relayed round trip.
    pub relay_cpu: Option<CpuTime>,
    /// The "relay added" line of the relay's own report (the one to the native server).
    pub self_reported: Option<String>,
}

/// `rpycbench proxy --quiet` in a session of its own; killed on drop.
struct Proxy {
    child: Child,
    addr: SocketAddr,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Res<Proxy> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rpycbench"));
        cmd.args(["proxy", "--quiet", "--listen", "127.0.0.1:0", "--upstream", &upstream.to_string()]);
        // The relay's polling before blocking, to compare settings in one build.
        if let Some(us) = std::env::var_os("RPYCBENCH_PROXY_POLL_US") {
            cmd.arg("--poll-us").arg(us);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        // SAFETY: setsid is async-signal-safe, the only thing run between fork and exec.
        unsafe {
            cmd.pre_exec(|| nix::unistd::setsid().map(drop).map_err(std::io::Error::from));
        }
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take().ok_or("the proxy's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().transpose()?.unwrap_or_default();
        let addr = first.strip_prefix("listening on ").and_then(|a| a.parse().ok());
        match addr {
            Some(addr) => Ok(Proxy { child, addr, lines }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("the proxy printed {first:?} instead of its address").into())
            }
        }
    }

    /// SIGUSR1 (a report even when quiet), and the report's line that says what the
    /// relay added.
    fn relay_added(&mut self) -> Res<Option<String>> {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::SIGUSR1)?;
        for line in self.lines.by_ref() {
            let line = line?;
            if line.contains("relay added") {
                return Ok(Some(line.trim().to_owned()));
            }
            // The relay's section ends the report.
            if line.starts_with("upstream ") {
                return Ok(None);
            }
        }
        Ok(None)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw client: writes `request`, polls for `reply_len` bytes as the rpycbench
/// client does (see `raw_ping_pong` in main).
struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    fn connect(addr: SocketAddr, reply_len: usize) -> Res<RawClient> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(RawClient { stream, buf: vec![0; reply_len] })
    }

    fn ping(&mut self, request: &[u8]) -> Res<()> {
        self.stream.write_all(request)?;
        let mut got = 0;
        while got < self.buf.len() {
            match poll_read(&mut self.stream, &mut self.buf[got..], DEFAULT_REPLY_POLL)? {
                0 => return Err("the raw peer closed the connection".into()),
                n => got += n,
            }
        }
        Ok(())
    }
}

/// Times `op` `calls` times into `samples`.
fn sample(calls: usize, samples: &mut Vec<Duration>, mut op: impl FnMut() -> Res<()>) -> Res<()> {
    for _ in 0..calls {
        let start = Instant::now();
        op()?;
        samples.push(start.elapsed());
    }
    Ok(())
}

/// Measures the five ways in `rounds` turns of `plan.calls / rounds` calls each.
pub fn measure(plan: &Plan, native: SocketAddr, request: &[u8], reply: &[u8]) -> Res<RelayLatencies> {
    let echo = Peer::start(&PeerKind::Raw { request_len: request.len(), reply: reply.to_vec() })?;
    let forwarder = Peer::start(&PeerKind::Forward { upstream: echo.addr })?;
    let raw_proxy = Proxy::start(echo.addr)?;
    let mut native_proxy = Proxy::start(native)?;
    let mut raw_direct = RawClient::connect(echo.addr, reply.len())?;
    let mut raw_relayed = RawClient::connect(raw_proxy.addr, reply.len())?;
    let mut raw_forwarded = RawClient::connect(forwarder.addr, reply.len())?;
    let mut native_direct = Connection::connect(native)?;
    let mut native_relayed = Connection::connect(native_proxy.addr)?;
    let rounds = plan.rounds.max(1) * 2;
    let per_round = (plan.calls / rounds).max(1);
    let mut samples: [Vec<Duration>; 5] = Default::default();
    let mut ways: [Box<dyn FnMut() -> Res<()> + '_>; 5] = [
        Box::new(|| raw_direct.ping(request)),
        Box::new(|| raw_relayed.ping(request)),
        Box::new(|| raw_forwarded.ping(request)),
        Box::new(|| native_direct.call("ping", ()).map(drop).map_err(Into::into)),
        Box::new(|| native_relayed.call("ping", ()).map(drop).map_err(Into::into)),
    ];
    for way in &mut ways {
        for _ in 0..plan.warmup {
            way()?;
        }
    }
    let pids = [raw_proxy.child.id(), native_proxy.child.id()];
    let cpu_before = cpu_time(&pids);
    for _ in 0..rounds {
        for (way, samples) in ways.iter_mut().zip(&mut samples) {
            sample(per_round, samples, way)?;
        }
    }
    // Both relays, over the round trips timed through them (warm-up came before).
    let trips = u32::try_from(rounds * per_round * 2).unwrap_or(u32::MAX);
    let relay_cpu = cpu_time(&pids)
        .zip(cpu_before)
        .map(|(after, before)| after.since(before))
        .map(|spent| CpuTime { user: spent.user / trips, system: spent.system / trips });
    drop(ways);
    native_direct.close()?;
    native_relayed.close()?;
    let self_reported = native_proxy.relay_added()?;
    let [a, b, c, d, e] = samples.map(Latency::of);
    Ok(RelayLatencies {
        raw_direct: a,
        raw_relayed: b,
        raw_forwarded: c,
        native_direct: d,
        native_relayed: e,
        rounds,
        relay_cpu,
        self_reported,
    })
}
