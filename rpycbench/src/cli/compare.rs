//! `rpycbench compare OLD NEW`: the harness's baseline comparison for two files, for CI
//! jobs that compare a branch's results with its base's.

use crate::harness::bootstrap::Change;
use crate::harness::{
    compare_sets, load_file, parse_percent, LoadedFile, DEFAULT_REGRESSION_PCT, EXIT_BASELINE_UNUSABLE, EXIT_REGRESSED,
};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The earlier results: a result file (target/rpycbench/…) or a baseline file.
    old: PathBuf,
    /// The later results, of either kind.
    new: PathBuf,
    /// Slowdown in percent that counts as a regression, for benchmarks that did not
    /// declare their own (default: $RPYCBENCH_REGRESSION_THRESHOLD, else 10).
    #[arg(long, value_name = "PCT")]
    regression_threshold: Option<String>,
}

/// Prints the comparison; exits 11 when a benchmark regressed, 13 when a file cannot
/// be read.
pub(crate) fn run(args: CompareArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let threshold = match args.regression_threshold {
        Some(t) => parse_percent("--regression-threshold", &t)?,
        None => match std::env::var("RPYCBENCH_REGRESSION_THRESHOLD").ok().filter(|v| !v.trim().is_empty()) {
            Some(t) => parse_percent("RPYCBENCH_REGRESSION_THRESHOLD", &t)?,
            None => DEFAULT_REGRESSION_PCT,
        },
    };
    let (old, new) = match (load_file(&args.old), load_file(&args.new)) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("rpycbench compare: {e}");
            return Ok(ExitCode::from(EXIT_BASELINE_UNUSABLE));
        }
    };
    println!("old: {}", describe(&args.old, &old));
    println!("new: {}", describe(&args.new, &new));
    let comparison = compare_sets(&old.results, &new.results, threshold);
    for warning in &comparison.warnings {
        eprintln!("rpycbench compare: {warning}");
    }
    let mut counts = [0usize; 4];
    for bench in &comparison.benches {
        let slot = match bench.change() {
            Some(Change::Regressed) => 0,
            Some(Change::Improved) => 1,
            Some(Change::NoChange) => 2,
            None => 3,
        };
        counts[slot] += 1;
        for line in bench.describe() {
            println!("{}: {line}", bench.name);
        }
    }
    for name in &comparison.only_old {
        println!("{name}: only in the old results");
    }
    for name in &comparison.only_new {
        println!("{name}: only in the new results (nothing to compare with)");
    }
    println!(
        "summary: {} regressed, {} improved, {} unchanged, {} not comparable",
        counts[0], counts[1], counts[2], counts[3]
    );
    Ok(if comparison.regressed() { ExitCode::from(EXIT_REGRESSED) } else { ExitCode::SUCCESS })
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
