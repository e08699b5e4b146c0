//! The suite's benchmarks on one server: every phase in order, each result kept as
//! soon as it is made, and the server's remaining phases skipped once it is lost.

use super::{LatencyAmount, SuiteArgs};
use crate::bench::{Bandwidth, BuiltinCalls, Concurrent, ConnectionBench, Latency, Load, Target, Transfer};
use crate::cli::interrupt::Checkpoint;
use crate::cli::progress::{Expect, Progress};
use crate::metrics::{BenchResult, StopReason};

/// The phases of one server: each result is kept as soon as it is made, and the
/// server's remaining phases are skipped once one ended because the server died,
/// stopped answering, or the run was interrupted.
pub(super) struct Phases<'a> {
    pub(super) checkpoint: &'a Checkpoint,
    /// `latency[threaded]: the server's process 123 is gone …` once phases stop.
    pub(super) ended: Option<String>,
}

impl Phases<'_> {
    fn run(&mut self, progress: &mut Progress, what: &str, expect: Expect, phase: impl FnOnce() -> BenchResult) {
        if self.ended.is_some() || crate::bench::interrupted() {
            return;
        }
        progress.step(what, expect);
        let result = phase();
        if let Some(e) = &result.ended_early {
            if e.reason != StopReason::Deadline {
                self.ended = Some(format!("{}: {}", result.name, e.detail));
            }
        }
        self.checkpoint.push(result);
    }
}

/// The phases every server runs, RPyC or HTTP, through the same code.
pub(super) fn run_phases<C: BuiltinCalls>(
    args: &SuiteArgs,
    mode: &str,
    target: &Target<C>,
    progress: &mut Progress,
    phases: &mut Phases<'_>,
) {
    let amounts = args.amounts();
    let deadline = args.deadline;
    let what = format!("{mode}: connection time ({} connections)", amounts.connections);
    phases.run(progress, &what, Expect::Requests(amounts.connections), || {
        ConnectionBench::new(format!("connection[{mode}]"))
            .connections(amounts.connections)
            .rounds(args.rounds)
            .deadline(deadline)
            .run(target)
    });

    let latency = Latency::new(format!("latency[{mode}]")).warmup(args.warmup).rounds(args.rounds).deadline(deadline);
    let (latency, what, expect) = match amounts.latency {
        LatencyAmount::Requests(n) => {
            // The warm-up requests are counted as they finish, as the timed ones are.
            (
                latency.requests(n),
                format!("{mode}: latency of ping() ({n} requests)"),
                Expect::Requests(n + args.warmup),
            )
        }
        LatencyAmount::Duration(d) => {
            let what = format!("{mode}: latency of ping() ({})", humantime::format_duration(d));
            (latency.duration(d), what, Expect::Duration(d))
        }
    };
    phases.run(progress, &what, expect, || calling_ping(latency.run(target, |c| c.call_ping())));

    // Each size, each direction, `iterations` operations.
    let operations = args.bandwidth_sizes.len() as u64 * 2 * u64::from(amounts.bandwidth_iterations);
    let what = format!("{mode}: bandwidth ({} sizes)", args.bandwidth_sizes.len());
    phases.run(progress, &what, Expect::Requests(operations), || {
        // The HTTP baseline's downloads are always the incompressible bytes, so its
        // uploads are too: one kind per result, the one recorded.
        let payload = if target.info().payload.is_some() { args.wire.payload } else { Default::default() };
        Bandwidth::new(format!("bandwidth[{mode}]"))
            .payload(payload)
            .sizes(args.bandwidth_sizes.clone())
            .iterations(amounts.bandwidth_iterations)
            .rounds(args.rounds)
            .deadline(deadline)
            .run_builtin(target)
    });

    let load = args.rate.map_or(Load::ClosedLoop, |rate_per_sec| Load::OpenLoop { rate_per_sec });
    let requests = u64::from(args.clients) * amounts.requests_per_client;
    let what = format!("{mode}: {} concurrent clients calling ping()", args.clients);
    phases.run(progress, &what, Expect::Requests(requests), || {
        calling_ping(
            Concurrent::new(format!("concurrent[{mode}]"))
                .clients(args.clients)
                .requests_per_client(amounts.requests_per_client)
                .load(load)
                .rounds(args.rounds)
                .deadline(deadline)
                .run(target, |c| c.call_ping()),
        )
    });
}

/// Records what the latency and concurrent phases call, as `rpycbench bench` records its
/// `--call`: a reader of results.json sees the method, not only the benchmark's name
/// (over HTTP the same operation is `GET /ping`).
fn calling_ping(mut result: BenchResult) -> BenchResult {
    result.params.insert("method".into(), "ping".into());
    result.params.insert("call".into(), "ping()".into());
    result
}

/// The RPyC-only transfer phase, with --transfers.
pub(super) fn run_transfers(
    args: &SuiteArgs,
    mode: &str,
    target: &Target,
    progress: &mut Progress,
    phases: &mut Phases<'_>,
) {
    if args.transfers {
        phases.run(progress, &format!("{mode}: transfers"), Expect::Unknown, || {
            Transfer::new(format!("transfer[{mode}]"))
                .payload(args.wire.payload)
                .sizes(args.file_sizes.clone())
                .chunk_size(args.chunk_size)
                .iterations(args.iterations)
                .rounds(args.rounds)
                .deadline(args.deadline)
                .run_builtin(target)
        });
    }
}
