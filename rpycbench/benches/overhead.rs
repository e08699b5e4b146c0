//! The measuring harness's own cost per request: what `Latency` adds (two clock reads, a
//! histogram record and an outcome count) on top of the request function, against a
//! bare loop calling the same no-op closure.
//!
//! Run with `cargo bench -p rpycbench --bench overhead`. Before divan's table it prints
//! the harness's loop time per request as the result itself reports it (`wall_time_ns /
//! N`). In the table, compare per-item times of `harness` and `bare_loop`; divan's time
//! for `harness` also includes each run's fixed costs (connecting, the histogram,
//! summarising and serialising it), which N = 100,000 amortises. The allocation profiler
//! counts allocations per run: the same count for N = 1,000 and N = 100,000 means the
//! loop allocates nothing per request. `loop_clock_pairs` shows how much of the per-request
//! cost is the two clock reads alone, `instant_pairs` what they would cost with `Instant`.
//!
//! The request function never touches its connection, so the target is a plain
//! `TcpListener` in this process: connecting costs a TCP handshake and nothing else.

use divan::counter::ItemsCount;
use divan::{AllocProfiler, Bencher};
use rpycbench::bench::{Latency, Target};
use rpycbench::metrics::LoopClock;
use rpycbench::{Connection, Result};
use std::hint::black_box;
use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Instant;

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

const SIZES: [u64; 2] = [1_000, 100_000];

/// A listener that accepts and drops every connection (so the backlog never fills up
/// however many runs divan makes).
fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let addr = listener.local_addr().expect("its address");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
            }
        });
        Target::address(addr)
    })
}

fn noop(_: &mut Connection) -> Result<()> {
    Ok(())
}

fn harness_run(n: u64) -> rpycbench::metrics::BenchResult {
    Latency::new("overhead").requests(n).warmup(0).sample_system(false).run(target(), noop)
}

fn main() {
    // The loop's own time per request, as the result reports it (median of 5 runs).
    for n in SIZES {
        let mut per: Vec<f64> = (0..5)
            .map(|_| {
                let r = harness_run(n);
                assert_eq!(r.outcomes.successes, n, "every no-op request succeeds");
                r.wall_time_ns as f64 / n as f64
            })
            .collect();
        per.sort_by(f64::total_cmp);
        println!("harness loop, N = {n:>7}: {:.1} ns/request (wall_time_ns / N, median of 5)", per[2]);
    }
    divan::main();
}

/// The whole `Latency` run of N no-op requests, divided by N in divan's items/s.
#[divan::bench(args = SIZES)]
fn harness(bencher: Bencher, n: u64) {
    bencher.counter(ItemsCount::new(n)).bench(|| black_box(harness_run(n)));
}

/// N pairs of reads of the loop's clock (the TSC through `quanta`), as the loop makes
/// around each request: the part of the harness's cost that is the clock's.
#[divan::bench(args = SIZES)]
fn loop_clock_pairs(bencher: Bencher, n: u64) {
    let clock = LoopClock::new();
    bencher.counter(ItemsCount::new(n)).bench_local(|| {
        for _ in 0..n {
            let t0 = clock.stamp();
            black_box(clock.since(t0));
        }
    });
}

/// The same with `std::time::Instant` (a vDSO `clock_gettime`), which the loop used
/// before: the reason it does not any more.
#[divan::bench(args = SIZES)]
fn instant_pairs(bencher: Bencher, n: u64) {
    bencher.counter(ItemsCount::new(n)).bench_local(|| {
        for _ in 0..n {
            let t0 = Instant::now();
            black_box(t0.elapsed());
        }
    });
}

/// N calls of the same no-op through `black_box`, on a connection to the same listener.
#[divan::bench(args = SIZES)]
fn bare_loop(bencher: Bencher, n: u64) {
    let mut conn = target().connect().expect("connect to the local listener");
    let mut f = noop;
    bencher.counter(ItemsCount::new(n)).bench_local(|| {
        for _ in 0..n {
            let r = black_box(&mut f)(black_box(&mut conn));
            let _ = black_box(r);
        }
    });
}
