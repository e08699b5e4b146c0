//! The harness's `main`: parse the command line, list or run the benchmarks through
//! libtest-mimic one at a time, then write results, the step summary and the baseline,
//! and exit with a status that tells the outcomes apart.

use super::args::{HarnessArgs, USAGE};
use super::baseline::{Baseline, BaselineError, DEFAULT_BASELINE_DIR};
use super::outcome::{self, Record, EXIT_BASELINE_MISSING, EXIT_BASELINE_UNUSABLE, EXIT_USAGE};
use super::paths::{BinaryInfo, Paths};
use super::registry::benchmarks;
use super::servers::RUST_SERVICE_ENV;
use super::trial::{self, Plan};
use super::{child, output};
use crate::metrics::ResultSet;
use crate::server::{current_exe_serves, SERVE_CHILD_ENV};
use libtest_mimic::{Conclusion, FormatSetting, Trial};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};

/// What every test of the run shares.
pub struct Shared {
    /// The command line.
    pub args: HarnessArgs,
    /// Where files go.
    pub paths: Paths,
    /// The baseline compared against: its name and results.
    pub baseline: Option<(String, ResultSet)>,
    /// Every test name of this binary, filtered out or not: files keep earlier results
    /// of these, and drop results of benchmarks that no longer exist.
    pub known: HashSet<String>,
    /// What happened to each benchmark, in the order they ran.
    pub records: Mutex<Vec<Record>>,
    /// Whether the loud environment warning was printed already.
    pub warned: AtomicBool,
    /// Figures go to stdout with libtest's pretty output, else to stderr so they never
    /// mix with machine-readable output.
    figures_to_stdout: bool,
    turnstile: Turnstile,
    /// SSH sessions to the hosts of `remote = "ENV"` benchmarks, one per host for the
    /// whole run, closed when the run ends.
    remotes: Mutex<std::collections::HashMap<String, Arc<crate::server::remote::RemoteSession>>>,
}

/// ssh options for the sessions of `remote = "ENV"` benchmarks, as `ssh -o` takes them,
/// separated by spaces (e.g. `Port=2222 IdentityFile=/ci/key`); the rest comes from the
/// ssh configuration.
pub const REMOTE_SSH_OPTIONS_ENV: &str = "RPYCBENCH_REMOTE_SSH_OPTIONS";

impl Shared {
    /// The session to `destination`, opened on first use.
    pub fn remote_session(&self, destination: &str) -> Result<Arc<crate::server::remote::RemoteSession>, String> {
        let mut remotes = self.remotes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(session) = remotes.get(destination).filter(|s| s.is_open()) {
            return Ok(session.clone());
        }
        let mut spec = crate::server::remote::RemoteSpec::new(destination);
        let options = std::env::var(REMOTE_SSH_OPTIONS_ENV).unwrap_or_default();
        spec.ssh_args = options.split_whitespace().flat_map(|o| ["-o".to_owned(), o.to_owned()]).collect();
        let session = spec.connect().map_err(|e| e.to_string())?;
        remotes.insert(destination.to_owned(), session.clone());
        Ok(session)
    }

    /// Prints a line of a benchmark's report.
    pub fn say(&self, line: &str) {
        if self.figures_to_stdout {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    }
}

/// Runs the harness (see [`main`](super::main)).
pub fn run(info: BinaryInfo) -> ExitCode {
    current_exe_serves();
    if std::env::var_os(SERVE_CHILD_ENV).is_some() {
        // Consumed (first thing in `main`, one thread): a process the served Rust
        // service starts is not a server.
        std::env::remove_var(SERVE_CHILD_ENV);
        return child::serve(std::env::args_os().skip(1));
    }
    // Only the harness itself sets this, for one server start at a time.
    std::env::remove_var(RUST_SERVICE_ENV);
    let args = match HarnessArgs::parse(std::env::args_os().skip(1), &|k| std::env::var(k).ok()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if args.help {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let all = trial::plans(&benchmarks());
    let known: HashSet<String> = all.iter().map(|p| p.name.clone()).collect();
    let plans: Vec<Plan> = all.into_iter().filter(|p| args.matches_filters(&p.name)).collect();
    if args.libtest.list {
        let trials = plans.iter().map(|p| Trial::test(&p.name, || Ok(())).with_ignored_flag(p.def.ignored)).collect();
        return libtest_mimic::run(&args.libtest, trials).exit_code();
    }
    let paths = Paths::resolve(info);
    let baseline_dir = baseline_dir(&args, &paths);
    let baseline = match prepare_baselines(&args, &baseline_dir) {
        Ok(b) => b,
        Err(code) => return code,
    };
    say_once(&args);
    let shared = Arc::new(Shared {
        figures_to_stdout: args.libtest.format.unwrap_or(FormatSetting::Pretty) == FormatSetting::Pretty,
        args,
        paths,
        baseline,
        known,
        records: Mutex::new(Vec::new()),
        warned: AtomicBool::new(false),
        turnstile: Turnstile::default(),
        remotes: Mutex::default(),
    });
    let mut libtest = shared.args.libtest.clone();
    let trials = trials(plans, &shared, &libtest);
    // Two workers, one benchmark at a time (the turnstile): with one worker
    // libtest-mimic prints `test NAME ... ` before a test runs and `ok` after it, so the
    // figures printed in between would split its result line; with two it prints the
    // whole line after the test, below the figures.
    libtest.test_threads = Some(2);
    let conclusion = libtest_mimic::run(&libtest, trials);
    finish(&shared, &conclusion, &baseline_dir)
}

fn baseline_dir(args: &HarnessArgs, paths: &Paths) -> PathBuf {
    match &args.baseline_dir {
        Some(d) if d.is_absolute() => d.clone(),
        Some(d) => paths.manifest_dir.join(d),
        None => paths.manifest_dir.join(DEFAULT_BASELINE_DIR),
    }
}

/// Loads the baseline to compare with, and checks the one to save over can be
/// replaced, before anything runs: a misconfigured run fails in a second, not after
/// minutes of benchmarks.
fn prepare_baselines(args: &HarnessArgs, dir: &std::path::Path) -> Result<Option<(String, ResultSet)>, ExitCode> {
    let mut loaded = None;
    if let Some(name) = &args.baseline {
        match Baseline::load(dir, name) {
            Ok(file) => loaded = Some((name.clone(), file.results)),
            Err(e @ BaselineError::Missing { .. }) if args.baseline_lenient => {
                eprintln!("rpycbench: note: {e}; running without a comparison (--baseline-lenient)");
            }
            Err(e @ BaselineError::Missing { .. }) => {
                eprintln!(
                    "error: baseline missing: {e} (save one with --save-baseline {name}, or pass --baseline-lenient to run without it)"
                );
                return Err(ExitCode::from(EXIT_BASELINE_MISSING));
            }
            Err(e) => {
                eprintln!("error: baseline '{name}' is unusable: {e}");
                return Err(ExitCode::from(EXIT_BASELINE_UNUSABLE));
            }
        }
    }
    if let Some(name) = &args.save_baseline {
        match Baseline::load(dir, name) {
            Ok(_) | Err(BaselineError::Missing { .. }) => {}
            Err(e) => {
                eprintln!("error: refusing to save baseline '{name}' over an unreadable file: {e}");
                return Err(ExitCode::from(EXIT_BASELINE_UNUSABLE));
            }
        }
    }
    Ok(loaded)
}

fn say_once(args: &HarnessArgs) {
    eprintln!("rpycbench: benchmarks run one at a time, whatever --test-threads says, because they measure time");
    if args.quick {
        eprintln!("rpycbench: quick mode: a tenth of the requests; SLAs and regressions are reported but not enforced");
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "rpycbench: warning: this benchmark binary is built without optimizations, and the client runs in it: \
             figures are pessimistic (run with --release, or set opt-level for the test profile)"
        );
    }
}

/// One libtest trial per plan; each waits for its turn so only one runs at a time,
/// in list order.
fn trials(plans: Vec<Plan>, shared: &Arc<Shared>, libtest: &libtest_mimic::Arguments) -> Vec<Trial> {
    let mut ticket = 0;
    plans
        .into_iter()
        .map(|plan| {
            let ignored = plan.def.ignored;
            // Only tests libtest-mimic will actually run take a ticket, or the next one
            // would wait for a test that never comes.
            let probe = Trial::test(&plan.name, || Ok(())).with_ignored_flag(ignored);
            let runs = !libtest.is_filtered_out(&probe) && !libtest.is_ignored(&probe);
            let my_ticket = ticket;
            ticket += usize::from(runs);
            let shared = shared.clone();
            let name = plan.name.clone();
            Trial::test(name, move || {
                let _turn = shared.turnstile.enter(my_ticket);
                trial::execute(&plan, &shared)
            })
            .with_ignored_flag(ignored)
        })
        .collect()
}

fn finish(shared: &Shared, conclusion: &Conclusion, baseline_dir: &std::path::Path) -> ExitCode {
    let records = std::mem::take(&mut *shared.records.lock().unwrap_or_else(|e| e.into_inner()));
    let results: Vec<_> = records.iter().filter_map(|r| r.result.clone()).collect();
    let keep = |name: &str| shared.known.contains(name);
    let mut unusable = false;
    if !results.is_empty() {
        let path = shared.paths.results_file();
        match output::write_results(&path, results.clone(), &keep) {
            Ok(()) => eprintln!("rpycbench: results written to {}", path.display()),
            Err(e) => eprintln!("rpycbench: warning: cannot write the results: {e}"),
        }
        if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
            let md = output::markdown(&shared.paths.binary, &records);
            if let Err(e) = output::append_step_summary(std::path::Path::new(&summary), &md) {
                eprintln!("rpycbench: warning: cannot append to GITHUB_STEP_SUMMARY: {e}");
            }
        }
    }
    if let Some(name) = &shared.args.save_baseline {
        if results.is_empty() {
            eprintln!("rpycbench: nothing was measured, so baseline '{name}' was not saved");
        } else {
            match Baseline::save(baseline_dir, name, results.clone(), &keep) {
                Ok(path) => {
                    eprintln!("rpycbench: saved baseline '{name}' ({} results) to {}", results.len(), path.display())
                }
                Err(e) => {
                    // Saving never replaces a file it cannot read.
                    let kept = if e.is_unreadable() { "; the file was left unchanged" } else { "" };
                    eprintln!("error: cannot save baseline '{name}': {e}{kept}");
                    unusable = true;
                }
            }
        }
    }
    if !records.is_empty() {
        eprintln!("rpycbench: {}", outcome::summary(&records));
    }
    let failed_with_record = records.iter().filter(|r| r.failed()).count() as u64;
    // A test that failed without a record panicked (a panicking benchmark function).
    let unaccounted = conclusion.num_failed.saturating_sub(failed_with_record);
    outcome::exit_code(&records, unaccounted, unusable)
}

/// Lets tests run one at a time in ticket order, whatever thread runs them.
#[derive(Default)]
struct Turnstile {
    next: Mutex<usize>,
    turn: Condvar,
}

/// Holding a turn; dropping it (even while a benchmark panics) lets the next one in.
struct Turn<'a>(&'a Turnstile);

impl Turnstile {
    fn enter(&self, ticket: usize) -> Turn<'_> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        while *next != ticket {
            next = self.turn.wait(next).unwrap_or_else(|e| e.into_inner());
        }
        Turn(self)
    }
}

/// How long a finished test holds the turn after its runner returns: libtest-mimic's
/// worker hands the outcome to the printing thread in microseconds, so with this grace
/// a test that fails at once (a missing address variable) does not, in practice,
/// report before the test that ran before it: result lines print in run order.
const HANDOVER_GRACE: std::time::Duration = std::time::Duration::from_millis(2);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        std::thread::sleep(HANDOVER_GRACE);
        *self.0.next.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.turn.notify_all();
    }
}
