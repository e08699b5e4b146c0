//! `rpycbench compare OLD NEW`: the harness's baseline comparison for two files, for CI
//! jobs that compare a branch's results with its base's.

use crate::harness::{
    load_file, regression_pct_arg, BaselineError, LoadedFile, DEFAULT_REGRESSION_PCT, EXIT_BASELINE_MISSING,
    EXIT_BASELINE_UNUSABLE, EXIT_INCONCLUSIVE, EXIT_MISSING_BENCHMARKS, EXIT_REGRESSED,
};
use crate::metrics::compare::{compare_sets_with, InconclusivePolicy, Options, SetComparison};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The exit statuses, shown by `rpycbench compare --help`.
pub(crate) const COMPARE_AFTER_HELP: &str = "\
Exit status:
  0   nothing regressed (and, with --inconclusive fail, nothing was too noisy to tell)
  11  a benchmark regressed: its latency, or its round trips, references or bytes per request
  14  a comparison was inconclusive: too noisy to tell (with --inconclusive fail, the default)
  15  a benchmark of OLD is missing from NEW, or the two have none in common
      (unless --allow-missing)
  12  a file does not exist
  13  a file is corrupt (a histogram that does not decode, a benchmark name twice), of
      an unknown schema, not a regular file, larger than 256 MiB, or cannot be read
  2   bad command line";

#[derive(Debug, Args)]
#[command(after_help = COMPARE_AFTER_HELP)]
pub(crate) struct CompareArgs {
    /// The earlier results: a result file (target/rpycbench/…) or a baseline file.
    old: PathBuf,
    /// The later results, of either kind.
    new: PathBuf,
    /// Slowdown in percent that counts as a regression, for benchmarks that did not
    /// declare their own (default: $RPYCBENCH_REGRESSION_PCT, else 10).
    #[arg(long, value_name = "PCT", alias = "regression-threshold")]
    regression_pct: Option<String>,
    /// What a comparison too noisy to tell does: fail (exit 14) or warn (reported, exit
    /// 0) (default: $RPYCBENCH_INCONCLUSIVE, else fail).
    #[arg(long, value_name = "POLICY")]
    inconclusive: Option<InconclusivePolicy>,
    /// Benchmarks missing from NEW (or none in common) are reported, not a failure.
    #[arg(long)]
    allow_missing: bool,
    /// Divide each latency ratio by the machine's own change (the reference round trip
    /// both runs recorded): for a baseline recorded on another machine.
    #[arg(long)]
    normalize: bool,
}

/// Prints the comparison and exits with the status of [`COMPARE_AFTER_HELP`].
pub(crate) fn run(args: CompareArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let threshold = regression_pct_arg(args.regression_pct.clone(), DEFAULT_REGRESSION_PCT)?;
    let policy = match args.inconclusive {
        Some(p) => p,
        None => match std::env::var("RPYCBENCH_INCONCLUSIVE").ok().filter(|v| !v.trim().is_empty()) {
            Some(p) => p.parse().map_err(|e| format!("RPYCBENCH_INCONCLUSIVE: {e}"))?,
            None => InconclusivePolicy::default(),
        },
    };
    let (old, new) = match (load_file(&args.old), load_file(&args.new)) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("rpycbench compare: {e}");
            let missing =
                matches!(&e, BaselineError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound);
            let code = if missing { EXIT_BASELINE_MISSING } else { EXIT_BASELINE_UNUSABLE };
            return Ok(ExitCode::from(code));
        }
    };
    // Results are matched by name: a name twice would compare one of them silently.
    for (path, file) in [(&args.old, &old), (&args.new, &new)] {
        if let Some(name) = file.results.duplicate_name() {
            eprintln!(
                "rpycbench compare: {}: benchmark {name:?} appears more than once; compare files with unique names",
                path.display()
            );
            return Ok(ExitCode::from(EXIT_BASELINE_UNUSABLE));
        }
    }
    println!("old: {}", describe(&args.old, &old));
    println!("new: {}", describe(&args.new, &new));
    let options = Options { normalize: args.normalize };
    let comparison = compare_sets_with(&old.results, &new.results, threshold, options);
    for warning in &comparison.warnings {
        eprintln!("rpycbench compare: {warning}");
    }
    print(&comparison);
    Ok(ExitCode::from(exit_status(&comparison, policy, args.allow_missing)))
}

fn print(comparison: &SetComparison) {
    for bench in &comparison.benches {
        for line in bench.describe() {
            println!("{}: {line}", bench.name);
        }
    }
    for name in &comparison.only_old {
        println!("{name}: MISSING from the new results");
    }
    for name in &comparison.only_new {
        println!("{name}: only in the new results (nothing to compare with)");
    }
    if comparison.benches.is_empty() {
        println!("no benchmark in common: nothing was compared");
    }
    println!("summary: {}", comparison.counts().line());
}

/// The gate's verdict: a regression first, then missing benchmarks, then noise.
fn exit_status(comparison: &SetComparison, policy: InconclusivePolicy, allow_missing: bool) -> u8 {
    if comparison.regressed() {
        EXIT_REGRESSED
    } else if comparison.missing() && !allow_missing {
        EXIT_MISSING_BENCHMARKS
    } else if comparison.counts().inconclusive > 0 && policy == InconclusivePolicy::Fail {
        EXIT_INCONCLUSIVE
    } else {
        0
    }
}

/// `path (baseline 'main', commit 1a2b3c4d, 2025-01-01T00:00:00Z, release)` or
/// `path (results of 2025-01-01T00:00:00Z)`.
fn describe(path: &Path, file: &LoadedFile) -> String {
    match &file.baseline {
        Some(b) => {
            let commit = b.git_commit.as_deref().map_or("no commit".to_owned(), |c| {
                let dirty = if b.git_dirty == Some(true) { ", uncommitted changes" } else { "" };
                format!("commit {}{dirty}", &c[..c.len().min(12)])
            });
            format!("{} (baseline '{}', {commit}, {}, {})", path.display(), b.name, b.created_at, b.build_profile)
        }
        None => format!("{} (results of {})", path.display(), file.results.created_at),
    }
}
