//! `rpycbench ab --a HOST:PORT --b HOST:PORT --call METHOD …`: a paired comparison of
//! two running servers (see [`Paired`](crate::bench::Paired)), for comparing a pull
//! request's server with main's on a noisy runner.

use super::bench::{at_least_one, with_call, CallFlags};
use super::external::{config, connect_target, probe, CallSpec, Probed, SetupError};
use super::progress::{Expect, Progress};
use crate::bench::{Paired, PairedResult, DEFAULT_BLOCK_REQUESTS, DEFAULT_PAIRS};
use crate::harness::{parse_percent, EXIT_INCONCLUSIVE, EXIT_REGRESSED, EXIT_USAGE};
use crate::metrics::compare::{signed_pct, Change, InconclusivePolicy, CONFIDENCE};
use crate::metrics::{format_ns, ResultSet};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Slowdown of B against A that counts as a regression unless told otherwise. Lower than
/// `compare`'s 10 %: pairing removes the machine's noise, so small changes are resolved.
pub(crate) const DEFAULT_AB_THRESHOLD_PCT: f64 = 2.0;

/// Exit codes and the recipe, shown by `rpycbench ab --help`.
pub(crate) const AB_AFTER_HELP: &str = "\
B is the candidate, A the reference: a regression is B slower than A.

Exit status:
  0   no regression (no change, or B faster)
  11  B regressed against A by more than the threshold, with confidence
  14  too noisy to tell (with --inconclusive fail, the default)
  2   bad command line, a server unreachable, or the probe call failed
  1   anything else (e.g. the results file cannot be written)

Example (main's server on 18861, the branch's on 18862, each started from its checkout):
  rpycbench ab --a 127.0.0.1:18861 --b 127.0.0.1:18862 --call io_work --args '[0.001]'";

#[derive(Debug, Args)]
#[command(after_help = AB_AFTER_HELP)]
pub(crate) struct AbArgs {
    /// The reference server (e.g. built from main), HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    a: String,
    /// The candidate server (e.g. built from the pull request), HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    b: String,
    #[command(flatten)]
    call: CallFlags,
    /// Block pairs: each pair runs a block on A and one on B, in alternating order.
    #[arg(long, default_value_t = DEFAULT_PAIRS, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pairs: u32,
    /// Requests per block.
    #[arg(long, default_value_t = DEFAULT_BLOCK_REQUESTS)]
    block_requests: u64,
    /// Unmeasured requests on each server first.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// Slowdown of B in percent that counts as a regression (default: 2; a paired run
    /// tells smaller changes apart than a baseline can, so its default is its own and
    /// $RPYCBENCH_REGRESSION_PCT does not apply).
    #[arg(long, value_name = "PCT", alias = "regression-threshold")]
    regression_pct: Option<String>,
    /// What a comparison too noisy to tell does: fail (exit 14) or warn (exit 0)
    /// (default: $RPYCBENCH_INCONCLUSIVE, else fail).
    #[arg(long, value_name = "POLICY")]
    inconclusive: Option<InconclusivePolicy>,
    /// Per-request timeout, e.g. 500ms, 5s.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    timeout: Duration,
    /// How long to poll for each reply before blocking; 0s blocks at once.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "50us")]
    reply_poll: Duration,
    /// Write both servers' results (schema rpycbench/results/v1) to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Print only the verdict line.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs the paired comparison; see [`AB_AFTER_HELP`] for the exit statuses.
pub(crate) fn run(args: AbArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match prepare_and_run(&args) {
        Ok((result, threshold, policy, call)) => finish(&args, result, threshold, policy, &call),
        Err(e) => {
            eprintln!("rpycbench ab: {e}");
            Ok(ExitCode::from(EXIT_USAGE))
        }
    }
}

type Prepared = (PairedResult, f64, InconclusivePolicy, CallSpec);

fn prepare_and_run(args: &AbArgs) -> Result<Prepared, SetupError> {
    let threshold = match &args.regression_pct {
        Some(t) => parse_percent("--regression-pct", t).map_err(|e| SetupError::Usage(e.to_string()))?,
        None => DEFAULT_AB_THRESHOLD_PCT,
    };
    let policy = match args.inconclusive {
        Some(p) => p,
        None => match std::env::var("RPYCBENCH_INCONCLUSIVE").ok().filter(|v| !v.trim().is_empty()) {
            Some(p) => p.parse().map_err(|e| SetupError::Usage(format!("RPYCBENCH_INCONCLUSIVE: {e}")))?,
            None => InconclusivePolicy::default(),
        },
    };
    at_least_one("--block-requests", args.block_requests)?;
    if args.a == args.b {
        return Err(SetupError::Usage(format!("--a and --b are the same server ({}): compare two servers", args.a)));
    }
    let call = CallSpec::parse(&args.call.call, args.call.args.as_deref(), args.call.kwargs.as_deref())?;
    let client = config(args.timeout, args.reply_poll);
    let (a, spare_a) = connect_target(&args.a, client.clone())?;
    let (b, spare_b) = connect_target(&args.b, client)?;
    probe(&a, Some(&spare_a), &Probed::call(&call.method, call.shown()), |c| call.call(c))?;
    probe(&b, Some(&spare_b), &Probed::call(&call.method, call.shown()), |c| call.call(c))?;
    let mut progress = Progress::new(1, args.quiet);
    let what = format!(
        "{} pairs of {}-request blocks of {} on A {} and B {}",
        args.pairs,
        args.block_requests,
        call.shown(),
        args.a,
        args.b
    );
    progress.step(&what, Expect::Requests(u64::from(args.pairs) * args.block_requests * 2));
    let name = format!("ab[{}]", call.method);
    let result =
        Paired::new(name)
            .pairs(args.pairs)
            .block_requests(args.block_requests)
            .warmup(args.warmup)
            .run(&a, &b, |c| call.call(c));
    progress.finish();
    Ok((result, threshold, policy, call))
}

fn finish(
    args: &AbArgs,
    result: PairedResult,
    threshold: f64,
    policy: InconclusivePolicy,
    call: &CallSpec,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let (mut a, mut b) = (result.a, result.b);
    for (side, r) in [("a", &mut a), ("b", &mut b)] {
        r.name = format!("{}[{side}]", r.name);
    }
    if let Some(path) = &args.json {
        let mut set = ResultSet::new();
        set.push(with_call(a.clone(), call));
        set.push(with_call(b.clone(), call));
        set.save(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if !args.quiet {
        for (side, addr, r) in [("A", &args.a, &a), ("B", &args.b, &b)] {
            let median = r.latency.as_ref().map_or(0, |l| l.p50_ns);
            println!(
                "{side} {addr}: median {} over {} requests ({} failed)",
                format_ns(median),
                r.outcomes.attempts,
                r.outcomes.failures
            );
        }
    }
    let Some(ci) = result.interval else {
        println!(
            "B/A: not comparable: fewer than two block pairs had successful requests on both servers \
             ({} of {})",
            result.log_ratios.len(),
            args.pairs
        );
        return Ok(ExitCode::from(EXIT_INCONCLUSIVE));
    };
    let change = ci.change(threshold / 100.0);
    let verdict = match change {
        Change::Regressed => "REGRESSED".to_owned(),
        Change::Improved => "improved".to_owned(),
        Change::NoChange => "no change".to_owned(),
        Change::Inconclusive => {
            format!("INCONCLUSIVE: too noisy (±{:.1} %); run more --pairs, or longer --block-requests", ci.noise_pct())
        }
    };
    println!(
        "B/A {}: {} ({:.0} % CI {} to {}, {} pairs): {verdict} (threshold {threshold} %)",
        call.shown(),
        signed_pct(ci.ratio),
        CONFIDENCE * 100.0,
        signed_pct(ci.lower),
        signed_pct(ci.upper),
        result.log_ratios.len()
    );
    if let (Some(path), false) = (&args.json, args.quiet) {
        println!("results written to {}", path.display());
    }
    Ok(match change {
        Change::Regressed => ExitCode::from(EXIT_REGRESSED),
        Change::Inconclusive if policy == InconclusivePolicy::Fail => ExitCode::from(EXIT_INCONCLUSIVE),
        _ => ExitCode::SUCCESS,
    })
}
