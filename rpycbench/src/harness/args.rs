//! The harness's command line: libtest's flags (so `cargo test`, cargo-nextest and IDEs
//! can drive it) plus rpycbench's own, each of which also has an environment variable
//! because `cargo test` users pass flags after `--`.

use libtest_mimic::{Arguments, ColorSetting, FormatSetting};
use std::ffi::OsString;
use std::path::PathBuf;

/// Default relative slowdown that counts as a regression, in percent.
pub const DEFAULT_REGRESSION_PCT: f64 = 10.0;

/// Everything the harness was asked to do.
#[derive(Debug, Clone)]
pub struct HarnessArgs {
    /// What libtest-mimic needs (list, filter, exact, ignored, format, color, logfile).
    pub libtest: Arguments,
    /// Every filter given. libtest accepts several, libtest-mimic one: with several,
    /// the harness filters (any may match) and libtest-mimic gets none.
    pub filters: Vec<String>,
    /// Quick mode: a fraction of the requests, SLAs reported but not enforced.
    pub quick: bool,
    /// Compare against this baseline.
    pub baseline: Option<String>,
    /// Save this run as this baseline.
    pub save_baseline: Option<String>,
    /// Where baselines live (default `rpycbench-baselines/` in the package root).
    pub baseline_dir: Option<PathBuf>,
    /// A missing baseline is a note, not an error.
    pub baseline_lenient: bool,
    /// Global regression threshold in percent.
    pub regression_pct: f64,
    /// Whether a verdict too noisy to tell fails the run.
    pub inconclusive: crate::metrics::compare::InconclusivePolicy,
    /// `--help` was given.
    pub help: bool,
}

/// A command line the harness cannot follow.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// An option that is neither libtest's nor rpycbench's (a typo would otherwise be
    /// silently ignored).
    #[error("unknown option '{0}' (see --help)")]
    Unknown(String),
    /// An option that needs a value came last.
    #[error("option '{0}' needs a value")]
    MissingValue(String),
    /// A value of the wrong form.
    #[error("invalid value '{value}' for {what}: expected {expected}")]
    BadValue {
        /// The flag or environment variable.
        what: String,
        /// What was given.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
}

/// The usage text of `--help`.
pub const USAGE: &str = "\
Usage: <benchmark binary> [OPTIONS] [FILTER]...

Runs the benchmarks declared with #[rpyc_bench] (one at a time), checks their SLAs and,
when asked, compares them with a saved baseline.

rpycbench options (each also as an environment variable):
  --quick                     a tenth of the requests, SLAs reported but not enforced  [RPYCBENCH_QUICK=1]
  --save-baseline NAME        save this run as baseline NAME                           [RPYCBENCH_SAVE_BASELINE]
  --baseline NAME             compare with baseline NAME, fail on a regression         [RPYCBENCH_BASELINE]
  --baseline-dir DIR          where baselines live, relative to the package root
                              (default: rpycbench-baselines)                           [RPYCBENCH_BASELINE_DIR]
  --baseline-lenient          a missing baseline is a note, not an error               [RPYCBENCH_BASELINE_LENIENT=1]
  --regression-pct PCT        slowdown (percent) that counts as a regression (default 10;
                              `regression_pct` in #[rpyc_bench] per benchmark)        [RPYCBENCH_REGRESSION_PCT]
  --inconclusive fail|warn    a comparison too noisy to tell fails the run (default), or
                              is only reported                                         [RPYCBENCH_INCONCLUSIVE]

libtest options:
  --list                      list the benchmarks (`name: test`; --format terse is accepted)
  --exact                     filters match whole names, e.g. --exact 'ping[threaded]'
  --ignored                   run only benchmarks marked ignore
  --include-ignored           run them too
  --skip FILTER               skip benchmarks whose names contain FILTER
  --format pretty|terse|json  --color auto|always|never  --logfile PATH  -q
  accepted and ignored: --nocapture --show-output --test-threads N -Z FLAG --bench --test
                        --report-time --ensure-time --shuffle --shuffle-seed N

Exit status: 0 passed; 10 SLA violated; 11 regressed; 12 baseline missing;
13 baseline corrupt or of an unknown schema; 14 inconclusive (too noisy to tell, with
--inconclusive fail); 101 a benchmark could not run; 2 usage.
";

/// libtest flags that take no value and change nothing for benchmarks.
const IGNORED_SWITCHES: &[&str] = &[
    "--nocapture",
    "--show-output",
    "--bench",
    "--test",
    "--report-time",
    "--ensure-time",
    "--shuffle",
    "--force-run-in-process",
    "--exclude-should-panic",
];

/// libtest flags that take a value and change nothing for benchmarks.
const IGNORED_VALUED: &[&str] = &["--test-threads", "-Z", "--shuffle-seed"];

impl HarnessArgs {
    /// Parses the command line (without the program name), then fills what it left
    /// unset from the environment through `env`.
    pub fn parse<I>(args: I, env: &dyn Fn(&str) -> Option<String>) -> Result<HarnessArgs, ArgsError>
    where
        I: IntoIterator<Item = OsString>,
    {
        let mut out = HarnessArgs {
            libtest: Arguments::default(),
            filters: Vec::new(),
            quick: false,
            baseline: None,
            save_baseline: None,
            baseline_dir: None,
            baseline_lenient: false,
            regression_pct: DEFAULT_REGRESSION_PCT,
            inconclusive: Default::default(),
            help: false,
        };
        let mut inconclusive: Option<String> = None;
        let mut threshold: Option<(String, String)> = None;
        let mut filters = Vec::new();
        let mut args = args.into_iter().map(|a| a.to_string_lossy().into_owned());
        while let Some(arg) = args.next() {
            if arg == "--" {
                filters.extend(args.by_ref());
                break;
            }
            if !arg.starts_with('-') || arg == "-" {
                filters.push(arg);
                continue;
            }
            // `--flag=value`, `-Zvalue`, or `--flag value`.
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ if arg.starts_with("-Z") && arg.len() > 2 => ("-Z".to_owned(), Some(arg[2..].to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value =
                |flag: &str| inline.clone().or_else(|| args.next()).ok_or(ArgsError::MissingValue(flag.into()));
            match flag.as_str() {
                "-h" | "--help" => out.help = true,
                "--list" => out.libtest.list = true,
                "--exact" => out.libtest.exact = true,
                "--ignored" => out.libtest.ignored = true,
                "--include-ignored" => out.libtest.include_ignored = true,
                "-q" | "--quiet" => out.libtest.format = Some(FormatSetting::Terse),
                "--skip" => out.libtest.skip.push(value(&flag)?),
                "--format" => out.libtest.format = Some(parse_format(&value(&flag)?)?),
                "--color" => out.libtest.color = Some(parse_color(&value(&flag)?)?),
                "--logfile" => out.libtest.logfile = Some(value(&flag)?),
                "--quick" => out.quick = true,
                "--baseline" => out.baseline = Some(value(&flag)?),
                "--save-baseline" => out.save_baseline = Some(value(&flag)?),
                "--baseline-dir" => out.baseline_dir = Some(PathBuf::from(value(&flag)?)),
                "--baseline-lenient" => out.baseline_lenient = true,
                REGRESSION_PCT_FLAG | LEGACY_REGRESSION_FLAG => threshold = Some((value(&flag)?, flag.clone())),
                "--inconclusive" => inconclusive = Some(value(&flag)?),
                f if IGNORED_SWITCHES.contains(&f) => {}
                f if IGNORED_VALUED.contains(&f) => {
                    value(f)?;
                }
                _ => return Err(ArgsError::Unknown(arg)),
            }
        }
        if filters.len() == 1 {
            out.libtest.filter = filters.first().cloned();
        }
        out.filters = filters;
        out.apply_env(env, threshold, inconclusive)?;
        Ok(out)
    }

    fn apply_env(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
        threshold: Option<(String, String)>,
        inconclusive: Option<String>,
    ) -> Result<(), ArgsError> {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let on = |name: &str| var(name).is_some_and(|v| !matches!(v.trim(), "0" | "false" | "no" | "off"));
        self.quick |= on("RPYCBENCH_QUICK");
        self.baseline_lenient |= on("RPYCBENCH_BASELINE_LENIENT");
        self.baseline = self.baseline.take().or_else(|| var("RPYCBENCH_BASELINE"));
        self.save_baseline = self.save_baseline.take().or_else(|| var("RPYCBENCH_SAVE_BASELINE"));
        self.baseline_dir = self.baseline_dir.take().or_else(|| var("RPYCBENCH_BASELINE_DIR").map(PathBuf::from));
        self.regression_pct = regression_pct(threshold, env, self.regression_pct)?;
        let (what, text) = match inconclusive {
            Some(t) => ("--inconclusive", Some(t)),
            None => ("RPYCBENCH_INCONCLUSIVE", var("RPYCBENCH_INCONCLUSIVE")),
        };
        if let Some(text) = text {
            self.inconclusive = text.parse().map_err(|_| ArgsError::BadValue {
                what: what.into(),
                value: text.clone(),
                expected: "fail or warn",
            })?;
        }
        for (what, name) in [("baseline name", &self.baseline), ("baseline name", &self.save_baseline)] {
            if let Some(name) = name {
                check_baseline_name(what, name)?;
            }
        }
        Ok(())
    }

    /// Whether `name` matches one of the filters (or there are none).
    pub fn matches_filters(&self, name: &str) -> bool {
        self.filters.is_empty()
            || self.filters.iter().any(|f| if self.libtest.exact { name == f } else { name.contains(f) })
    }
}

fn parse_format(v: &str) -> Result<FormatSetting, ArgsError> {
    match v {
        "pretty" => Ok(FormatSetting::Pretty),
        "terse" => Ok(FormatSetting::Terse),
        "json" => Ok(FormatSetting::Json),
        _ => Err(ArgsError::BadValue { what: "--format".into(), value: v.into(), expected: "pretty, terse or json" }),
    }
}

fn parse_color(v: &str) -> Result<ColorSetting, ArgsError> {
    match v {
        "auto" => Ok(ColorSetting::Auto),
        "always" => Ok(ColorSetting::Always),
        "never" => Ok(ColorSetting::Never),
        _ => Err(ArgsError::BadValue { what: "--color".into(), value: v.into(), expected: "auto, always or never" }),
    }
}

/// `10`, `10%` or `10.5 %`: a non-negative percentage.
pub fn parse_percent(what: &str, text: &str) -> Result<f64, ArgsError> {
    let bad =
        || ArgsError::BadValue { what: what.into(), value: text.into(), expected: "a percentage such as 10 or 7.5%" };
    let pct: f64 = text.trim().trim_end_matches('%').trim().parse().map_err(|_| bad())?;
    if pct.is_finite() && pct >= 0.0 {
        Ok(pct)
    } else {
        Err(bad())
    }
}

/// The regression threshold's flag; `regression_pct` is its name everywhere else (the
/// `#[rpyc_bench]` option, results).
pub const REGRESSION_PCT_FLAG: &str = "--regression-pct";
/// Its environment variable, read where the flag is not given.
pub const REGRESSION_PCT_ENV: &str = "RPYCBENCH_REGRESSION_PCT";
/// The names of releases before the spelling was made one; still accepted.
const LEGACY_REGRESSION_FLAG: &str = "--regression-threshold";
const LEGACY_REGRESSION_ENV: &str = "RPYCBENCH_REGRESSION_THRESHOLD";

/// The regression threshold in percent: the flag's `(value, spelling)` if given, else
/// [`REGRESSION_PCT_ENV`] (or its older name), else `default`. One reading for the
/// harness, `compare` and `report`, so they cannot disagree on what the variable means.
pub(crate) fn regression_pct(
    flag: Option<(String, String)>,
    env: &dyn Fn(&str) -> Option<String>,
    default: f64,
) -> Result<f64, ArgsError> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty()).map(|v| (v, name.to_owned()));
    match flag.or_else(|| var(REGRESSION_PCT_ENV)).or_else(|| var(LEGACY_REGRESSION_ENV)) {
        Some((text, what)) => parse_percent(&what, &text),
        None => Ok(default),
    }
}

/// [`regression_pct`] for the command, from its `--regression-pct` (clap accepts the
/// old spelling as an alias) and the process environment.
#[cfg(feature = "cli")]
pub(crate) fn regression_pct_arg(flag: Option<String>, default: f64) -> Result<f64, ArgsError> {
    regression_pct(flag.map(|v| (v, REGRESSION_PCT_FLAG.to_owned())), &|k| std::env::var(k).ok(), default)
}

/// Baseline names become file names: letters, digits, `.`, `_` and `-`, not starting
/// with a dot, so a name can never reach outside the baseline directory.
fn check_baseline_name(what: &str, name: &str) -> Result<(), ArgsError> {
    let ok = !name.starts_with('.') && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ArgsError::BadValue {
            what: what.into(),
            value: name.into(),
            expected: "letters, digits, '.', '_' and '-' (not starting with '.')",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<HarnessArgs, ArgsError> {
        HarnessArgs::parse(args.iter().map(OsString::from), &|_| None)
    }

    #[test]
    fn nextest_invocations_parse() {
        let a = parse(&["--list", "--format", "terse"]).unwrap();
        assert!(a.libtest.list);
        let a = parse(&["--exact", "ping[threaded]", "--nocapture"]).unwrap();
        assert!(a.libtest.exact);
        assert_eq!(a.libtest.filter.as_deref(), Some("ping[threaded]"));
        let a = parse(&["--list", "--format=terse", "--ignored"]).unwrap();
        assert!(a.libtest.ignored);
    }

    #[test]
    fn inapplicable_libtest_flags_are_accepted() {
        let a = parse(&[
            "--test-threads",
            "8",
            "--test-threads=4",
            "-Z",
            "unstable-options",
            "-Zunstable-options",
            "--show-output",
            "--nocapture",
            "--bench",
            "--color",
            "never",
            "--shuffle-seed",
            "3",
            "ping",
        ])
        .unwrap();
        assert_eq!(a.libtest.filter.as_deref(), Some("ping"));
        assert_eq!(a.libtest.test_threads, None);
        assert!(!a.libtest.bench, "--bench must not make libtest-mimic ignore every test");
    }

    #[test]
    fn typos_are_errors() {
        assert!(matches!(parse(&["--save-baselin", "x"]), Err(ArgsError::Unknown(_))));
        assert!(matches!(parse(&["--baseline"]), Err(ArgsError::MissingValue(_))));
        assert!(parse(&["--baseline", "../etc/passwd"]).is_err());
        assert!(parse(&["--regression-pct", "-3"]).is_err());
        let err = parse(&["--regression-threshold", "ten"]).unwrap_err().to_string();
        assert!(err.contains("--regression-threshold"), "the spelling used is named: {err}");
    }

    #[test]
    fn the_regression_threshold_has_one_spelling_and_accepts_the_old_one() {
        let parse_with = |args: &[&str], env: &dyn Fn(&str) -> Option<String>| {
            HarnessArgs::parse(args.iter().map(OsString::from), env).unwrap().regression_pct
        };
        let none = |_: &str| None;
        assert_eq!(parse_with(&[], &none), DEFAULT_REGRESSION_PCT);
        assert_eq!(parse_with(&["--regression-pct", "7.5%"], &none), 7.5);
        assert_eq!(parse_with(&["--regression-threshold", "6"], &none), 6.0);
        let both = |k: &str| match k {
            "RPYCBENCH_REGRESSION_PCT" => Some("12".to_owned()),
            "RPYCBENCH_REGRESSION_THRESHOLD" => Some("30".to_owned()),
            _ => None,
        };
        assert_eq!(parse_with(&[], &both), 12.0, "the new name wins over the old");
        let bad = |k: &str| (k == REGRESSION_PCT_ENV).then(|| "lots".to_owned());
        let err = HarnessArgs::parse(Vec::<OsString>::new(), &bad).unwrap_err().to_string();
        assert!(err.contains(REGRESSION_PCT_ENV), "{err}");
    }

    #[test]
    fn flags_override_the_environment() {
        let env = |k: &str| match k {
            "RPYCBENCH_BASELINE" => Some("env".to_owned()),
            "RPYCBENCH_QUICK" => Some("1".to_owned()),
            "RPYCBENCH_REGRESSION_THRESHOLD" => Some("25%".to_owned()),
            _ => None,
        };
        let a = HarnessArgs::parse(["--baseline", "flag"].map(OsString::from), &env).unwrap();
        assert_eq!(a.baseline.as_deref(), Some("flag"));
        assert!(a.quick);
        assert_eq!(a.regression_pct, 25.0);
        let a = HarnessArgs::parse(["--regression-threshold=5"].map(OsString::from), &env).unwrap();
        assert_eq!(a.regression_pct, 5.0);
        let off = |k: &str| (k == "RPYCBENCH_QUICK").then(|| "0".to_owned());
        assert!(!HarnessArgs::parse(Vec::<OsString>::new(), &off).unwrap().quick);
    }

    #[test]
    fn several_filters_match_any() {
        let a = parse(&["ping", "fetch"]).unwrap();
        assert_eq!(a.libtest.filter, None, "libtest-mimic would apply only the first");
        assert!(a.matches_filters("fetch_user[threaded]"));
        assert!(a.matches_filters("ping[forking]"));
        assert!(!a.matches_filters("upload[threaded]"));
    }
}
