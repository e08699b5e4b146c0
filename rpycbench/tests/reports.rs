//! Reports from real results: every benchmark kind run against a real native server
//! process, plus sweep points built from them by hand, rendered as Markdown and HTML;
//! `rpycbench report` and the suite's output directory driven as a user would.
//!
//! What is checked: the Markdown tables have the right rows; the HTML is balanced,
//! has a plot for each kind present and refers to nothing outside itself; the report
//! command writes its files, says where, prints no colour under `NO_COLOR`, and fails
//! clearly on a missing, corrupt or foreign file.

mod common;
use common::TempDir;

use rpycbench::bench::{Bandwidth, Concurrent, ConnectionBench, Latency, Target, Transfer};
use rpycbench::metrics::{BenchResult, ResultSet};
use rpycbench::metrics::{SWEEP_PARAMETER, SWEEP_VALUE};
use rpycbench::report::{html_report, markdown_report, terminal_report, Comparison};
use rpycbench::server::ServerMode;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Real results of every kind against one native threaded server, plus a clients sweep
/// and a mode sweep derived from them (the sweep contract: `sweep_parameter` and
/// `sweep_value` in `params`). Built once, shared by the tests.
fn results() -> &'static ResultSet {
    static RESULTS: OnceLock<ResultSet> = OnceLock::new();
    RESULTS.get_or_init(|| {
        let server = common::native_spec(ServerMode::Threaded).start().expect("start a threaded server");
        let target = Target::server(&server);
        let ping = |c: &mut rpycbench::Connection| c.call("ping", ()).map(drop);
        let mut set = ResultSet::new();
        set.push(ConnectionBench::new("connection[threaded]").connections(10).run(&target));
        set.push(Latency::new("latency[threaded]").requests(300).warmup(5).run(&target, ping));
        set.push(Bandwidth::new("bandwidth[threaded]").sizes(vec![1024, 65536]).iterations(3).run_builtin(&target));
        set.push(Concurrent::new("concurrent[threaded]").clients(2).requests_per_client(50).run(&target, ping));
        set.push(
            Transfer::new("transfer[threaded]")
                .sizes(vec![262_144])
                .chunk_size(65_536)
                .iterations(1)
                .run_builtin(&target),
        );
        for clients in [1u32, 2, 4] {
            let mut r = Concurrent::new(format!("sweep[threaded,clients={clients}]"))
                .clients(clients)
                .requests_per_client(20)
                .run(&target, ping);
            mark_sweep(&mut r, "clients", serde_json::json!(clients));
            if clients == 4 {
                // As `rpycbench sweep` records the step that crossed its limit.
                r.params.insert("sweep_limit".into(), serde_json::json!("p99 = 9.00 ms > 1.00 ms"));
            }
            set.push(r);
        }
        server.stop().expect("stop the server");
        // A refused connection: every attempt fails, and the report must say so.
        let closed = common::ClosedPort::new();
        set.push(
            Latency::new("refused[<b>&\"x\"]")
                .requests(4)
                .warmup(0)
                .sample_system(false)
                .run(&Target::address(closed.addr()), ping),
        );
        let latency = set.get("latency[threaded]").expect("latency result").clone();
        for mode in ["threaded", "forking"] {
            let mut r = BenchResult { name: format!("ping[mode={mode}]"), ..latency.clone() };
            r.server.mode = mode.into();
            mark_sweep(&mut r, "mode", serde_json::json!(mode));
            set.push(r);
        }
        set
    })
}

fn mark_sweep(r: &mut BenchResult, parameter: &str, value: serde_json::Value) {
    r.params.insert(SWEEP_PARAMETER.into(), serde_json::json!(parameter));
    r.params.insert(SWEEP_VALUE.into(), value);
}

/// The body rows of the Markdown table titled `title`.
fn markdown_rows<'a>(md: &'a str, title: &str) -> Vec<&'a str> {
    let start = md.find(&format!("### {title}\n")).unwrap_or_else(|| panic!("no table {title:?} in:\n{md}"));
    md[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .skip(2) // header and alignment rule
        .take_while(|l| l.starts_with('|'))
        .collect()
}

/// The cell of the Markdown table titled `title`, in the row of benchmark `name`, under
/// the column whose header (units aside) is `column`.
fn markdown_cell(md: &str, title: &str, name: &str, column: &str) -> String {
    let start = md.find(&format!("### {title}\n")).unwrap_or_else(|| panic!("no table {title:?} in:\n{md}"));
    let cells = |line: &str| line.trim_matches('|').split(" | ").map(|c| c.trim().to_string()).collect::<Vec<_>>();
    let header = md[start..].lines().find(|l| l.starts_with('|')).map(cells).expect("a header row");
    let at = header
        .iter()
        .position(|h| h == column || h.starts_with(&format!("{column} (")))
        .unwrap_or_else(|| panic!("no column {column:?} in {header:?}"));
    let row = markdown_rows(md, title).into_iter().find(|r| r.starts_with(&format!("| {name} |"))).expect("the row");
    cells(row)[at].clone()
}

#[test]
fn markdown_has_every_table_with_the_right_rows() {
    let md = markdown_report(results(), None);
    // The refused run sampled no server CPU: the report says which rules it could not
    // check, and how to give them the server; the built-in servers' runs are not named.
    let note = md.lines().find(|l| l.starts_with("_Not checked for ")).unwrap_or_else(|| panic!("{md}"));
    assert!(note.contains("refused") && note.contains("--server-pid PID"), "{note}");
    assert!(!note.contains("latency\\[threaded\\]"), "{note}");
    let summary = markdown_rows(&md, "Summary");
    let names: Vec<&str> =
        summary.iter().map(|r| r.split(" | ").next().unwrap_or("").trim_start_matches("| ")).collect();
    assert_eq!(
        names,
        // The server has its own column: `latency[threaded]` reads `latency`; other
        // brackets are part of the name.
        ["connection", "latency", "bandwidth", "concurrent", "transfer", "refused\\[\\<b\\>&\"x\"\\]"],
        "sweep points belong in their own tables, not the summary"
    );
    assert!(md.contains("| benchmark | server | kind | requests | ok | p50 ("), "{md}");
    assert!(md.contains("|:---|:---|:---|---:|---:|"), "numbers are right-aligned: {md}");
    // Two sizes × two directions of bandwidth, one size × two directions × whole/chunked of transfer.
    assert_eq!(markdown_rows(&md, "Bandwidth per payload size").len(), 4 + 4, "{md}");
    let concurrency = markdown_rows(&md, "Concurrency");
    assert_eq!(concurrency.len(), 1, "{md}");
    assert!(concurrency[0].contains("| closed |") && concurrency[0].contains("| 2 |"), "{}", concurrency[0]);
    let clients = markdown_rows(&md, "Sweep: sweep by clients");
    assert_eq!(clients.len(), 3, "{md}");
    for (row, value) in clients.iter().zip(["1", "2", "4"]) {
        assert!(row.starts_with(&format!("| threaded | {value} |")), "{row}");
    }
    assert_eq!(markdown_rows(&md, "Sweep: ping by mode").len(), 2, "{md}");
    let failures = markdown_rows(&md, "Failures");
    assert_eq!(failures.len(), 1, "one error group for the refused benchmark: {md}");
    assert!(failures[0].starts_with("| refused\\[") && failures[0].contains("| **4** | **4** |"), "{}", failures[0]);
    let refused = summary.iter().find(|r| r.starts_with("| refused")).expect("refused row");
    assert!(refused.contains("| **0.0%** |"), "a failed benchmark stands out: {refused}");
    // The diagnosis reads the same results: every refused attempt is server exhaustion.
    let findings = &md[md.find("### Findings").expect("a findings list")..];
    assert!(findings.contains("**CRITICAL**") && findings.contains("(min\\_success\\_rate)"), "{findings}");
}

/// A server's CPU time comes in 10 ms ticks, so a short run's server CPU is noise: the
/// tables leave it out and say why, and show it for a run long enough to mean something.
#[test]
fn server_cpu_of_runs_too_short_to_measure_it_is_left_out_and_explained() {
    let real = results().get("concurrent[threaded]").expect("concurrent result").clone();
    assert!(real.system.as_ref().is_some_and(|s| s.server.is_some()), "the server was sampled");
    let with_wall = |name: &str, wall_ms: u64| {
        let mut r = BenchResult { name: name.into(), wall_time_ns: wall_ms * 1_000_000, ..real.clone() };
        if let Some(server) = r.system.as_mut().and_then(|s| s.server.as_mut()) {
            (server.cpu_percent_mean, server.cpu_percent_max) = (42.0, 77.0);
        }
        r
    };
    let note = "Server CPU is left out (–) for runs under 200 ms";
    let mut set = ResultSet::new();
    set.push(with_wall("short", 30));
    set.push(with_wall("long", 1_000));
    let md = markdown_report(&set, None);
    for (table, column, shown) in [
        ("Concurrency", "server CPU", "42"),
        ("Resources and wire cost", "server CPU mean", "42"),
        ("Resources and wire cost", "server CPU max", "77"),
    ] {
        assert_eq!(markdown_cell(&md, table, "short", column), "–", "{table}: {md}");
        assert!(markdown_cell(&md, table, "long", column).starts_with(shown), "{table}: {md}");
    }
    assert_eq!(md.matches(note).count(), 2, "each table with a left-out figure says why: {md}");
    let terminal = terminal_report(&set, None, false);
    assert_eq!(terminal.matches(note).count(), 2, "the terminal, which has no captions, says it too: {terminal}");
    assert_eq!(html_report(&set, None).matches(note).count(), 2);

    let mut set = ResultSet::new();
    set.push(with_wall("long", 1_000));
    assert!(!markdown_report(&set, None).contains(note), "nothing left out, nothing to explain");
}

/// Why `html` is not well nested, if it is not: every element opened must be closed
/// in order (void elements and `/>` aside), and no stray `<` may appear in text.
fn unbalanced(html: &str) -> Option<String> {
    const VOID: [&str; 5] = ["meta", "br", "hr", "img", "input"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let Some(end) = rest.find('>') else { return Some("a tag never closes".into()) };
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            match stack.pop() {
                Some(top) if top == name.trim() => continue,
                Some(top) => return Some(format!("</{name}> closes <{top}>")),
                None => return Some(format!("</{name}> closes nothing")),
            }
        }
        let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        if name.is_empty() || tag.contains('<') {
            return Some(format!("a stray '<' before {:?}", &tag[..tag.len().min(40)]));
        }
        if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    (!stack.is_empty()).then(|| format!("never closed: {stack:?}"))
}

#[track_caller]
fn assert_balanced(html: &str) {
    if let Some(problem) = unbalanced(html) {
        panic!("HTML is not well nested: {problem}");
    }
}

#[test]
fn html_is_one_balanced_self_contained_page_with_a_plot_per_kind() {
    // The checker itself catches what it should.
    for broken in ["<div><span></div></span>", "<p>", "</p>", "<div>a < b</div>"] {
        assert!(unbalanced(broken).is_some(), "{broken:?} passed");
    }
    assert_eq!(unbalanced("<!DOCTYPE html><p>a<br>b<svg><path d=\"M0\"/></svg></p>"), None);
    let set = results();
    let html = html_report(set, Some(&Comparison::new(set, set, 10.0, "same.json")));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_balanced(&html);
    for title in [
        "connection: latency distribution",
        "latency: latency distribution",
        "concurrent: latency distribution",
        "bandwidth: upload bandwidth by payload size",
        "bandwidth: download bandwidth by payload size",
        "transfer: upload bandwidth by payload size",
        "sweep: latency by clients",
        "sweep: throughput by clients",
        "ping: latency by mode",
        "Change of the median against the baseline",
        "p50 and p99: baseline and current",
    ] {
        let at = html.find(&format!("<strong>{title}</strong>")).unwrap_or_else(|| panic!("no figure {title:?}"));
        let figure_end = at + html[at..].find("</figure>").expect("figure closes");
        let figure = &html[at..figure_end];
        // Legend swatches are little <svg width="26"> elements: the plot is another one,
        // as wide as a plot is drawn (640 px, or 1160 px for the comparison charts).
        let plots = figure.matches("<svg").count() - figure.matches("<svg width=\"26\"").count();
        assert_eq!(plots, 1, "figure {title:?} should hold one plot SVG besides its legend swatches");
        assert!(
            figure.contains("<svg width=\"640\" height=\"380\"") || figure.contains("<svg width=\"1160\""),
            "figure {title:?} has no plot-sized SVG"
        );
        assert!(!html[at..figure_end].contains("plot failed"), "figure {title:?} failed to draw");
        if !title.contains("by mode") {
            assert!(html[at..figure_end].contains("<div class=\"legend\">"), "figure {title:?} has no legend");
        }
    }
    for title in ["sweep: latency by clients", "sweep: throughput by clients"] {
        let at = html.find(&format!("<strong>{title}</strong>")).expect("the sweep figure");
        let figure = &html[at..at + html[at..].find("</figure>").expect("figure closes")];
        assert!(figure.contains("Limit reached at clients=4 (threaded): p99 = 9.00 ms &gt; 1.00 ms."), "{figure}");
    }
    assert!(html.contains("Limit reached at clients=4"), "the sweep table's caption names the limit");
    assert!(html.contains("No regression</strong> against baseline <code>same.json</code>"), "a file against itself");
    assert!(html.contains("refused[&lt;b&gt;&amp;&quot;x&quot;]") && !html.contains("<b>"), "names are escaped");
    assert!(html.contains("id=\"table-failures\""), "failures are shown");
    assert!(html.contains("<div class=\"card finding bad\">"), "the exhaustion finding leads the page");
    for needle in ["<script", "<link", "<img", "<iframe", "@import", "url(", "src="] {
        assert!(!html.contains(needle), "external or active content: {needle}");
    }
    for (at, _) in html.match_indices("href=") {
        assert!(
            html[at..].starts_with("href=\"#"),
            "a link outside the page: {}",
            &html[at..(at + 60).min(html.len())]
        );
    }
    for (at, _) in html.match_indices("http") {
        let tail = &html[at..];
        assert!(
            !(tail.starts_with("http://") || tail.starts_with("https://"))
                || tail.starts_with("http://www.w3.org/2000/svg\""),
            "a reference outside the page: {}",
            &tail[..tail.len().min(60)]
        );
    }
    for header in ["CPU", "Cores", "OS", "Compiler", "Started"] {
        assert!(html.contains(&format!("<dt>{header}</dt>")), "header lacks {header}");
    }
}

fn rpycbench(args: &[&str], dir: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run rpycbench");
    // Read while it runs: a report longer than a pipe holds would block it otherwise.
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let status = common::exit_within(&mut child, std::time::Duration::from_secs(60), &format!("rpycbench {args:?}"));
    Output { status, stdout: stdout.join().expect("stdout reader"), stderr: stderr.join().expect("stderr reader") }
}

#[test]
fn report_command_writes_the_files_and_names_them() {
    let tmp = TempDir::new("command");
    let input = tmp.0.join("results.json");
    results().save(&input).expect("save results");
    let out_dir = tmp.0.join("out");
    let out = rpycbench(
        &["report", "results.json", "--baseline", "results.json", "--out", out_dir.to_str().expect("utf-8 path")],
        &tmp.0,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains('\x1b'), "NO_COLOR output has ANSI escapes:\n{stdout}");
    assert!(stdout.contains("latency[threaded]") && stdout.contains("Baseline versus current"), "{stdout}");
    assert!(stdout.contains(": 0 regressed"), "{stdout}");
    for file in ["summary.md", "report.html"] {
        let path = out_dir.join(file);
        assert!(stdout.contains(&path.display().to_string()), "{file} not named:\n{stdout}");
        assert!(std::fs::metadata(&path).map(|m| m.len() > 1000).unwrap_or(false), "{file} missing or empty");
    }
    // Without --out the files go next to the input.
    let out = rpycbench(&["report", input.to_str().expect("utf-8 path")], &tmp.0);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(tmp.0.join("report.html").is_file() && tmp.0.join("summary.md").is_file());
}

#[test]
fn report_command_refuses_bad_files_clearly() {
    let tmp = TempDir::new("bad");
    std::fs::write(tmp.0.join("corrupt.json"), "{ not json").expect("write");
    std::fs::write(tmp.0.join("foreign.json"), r#"{"schema": "someone-else/v9", "results": []}"#).expect("write");
    std::fs::write(tmp.0.join("empty.json"), "{}").expect("write");
    results().save(&tmp.0.join("good.json")).expect("save results");
    for (args, needle) in [
        (vec!["report", "corrupt.json"], "corrupt.json is corrupt"),
        (vec!["report", "foreign.json"], "someone-else/v9"),
        (vec!["report", "empty.json"], "empty.json is corrupt: no \"schema\" field"),
        (vec!["report", "missing.json"], "missing.json"),
        (vec!["report", "good.json", "--baseline", "corrupt.json"], "corrupt.json is corrupt"),
    ] {
        let out = rpycbench(&args, &tmp.0);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(needle) && !stderr.contains("panicked"), "{args:?}: {stderr}");
        // Reading never writes the file: "left unchanged" belongs to saving a baseline.
        assert!(!stderr.contains("left unchanged"), "{args:?}: {stderr}");
    }
    assert!(!tmp.0.join("report.html").exists(), "no report from a bad file");
}

#[test]
fn the_suite_writes_json_markdown_and_html_and_names_the_directory() {
    let tmp = TempDir::new("suite");
    let out = rpycbench(
        &[
            "suite",
            "--skip-forking",
            "--skip-http",
            "--connections",
            "3",
            "--requests",
            "20",
            "--warmup",
            "1",
            "--clients",
            "2",
            "--requests-per-client",
            "5",
            "--bandwidth-sizes",
            "1024",
            "--bandwidth-iterations",
            "2",
            "--out",
            "suite-out",
        ],
        &tmp.0,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("results written to suite-out/") && stdout.contains("suite-out/report.html"), "{stdout}");
    let dir = tmp.0.join("suite-out");
    let results = ResultSet::load(&dir.join("results.json")).expect("results.json reads back");
    assert_eq!(results.results.len(), 4);
    let md = std::fs::read_to_string(dir.join("summary.md")).expect("summary.md");
    assert_eq!(markdown_rows(&md, "Summary").len(), 4, "{md}");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert_balanced(&html);
    assert!(html.matches("<svg").count() >= 4, "latency ×3 and bandwidth ×2 plots expected");
}

/// `results()` with the round medians of the latency benchmark and of every bandwidth
/// size made steady (within 2 % of the run's median) and scaled by `factor`: one benchmark
/// with one distribution and one with four. Steady, because a verdict on a real run's
/// few bandwidth rounds is rightly inconclusive when the machine was noisy, and the
/// counting tests need a known verdict.
fn steady_scaled(factor: u64) -> ResultSet {
    let mut set = results().clone();
    let scale = |l: &mut rpycbench::metrics::LatencyStats| {
        let p50 = l.p50_ns.max(1_000);
        l.p50_ns = p50 * factor;
        for (i, r) in l.rounds.iter_mut().enumerate() {
            r.p50_ns = p50 * factor * (100 + i as u64 % 3) / 100;
        }
    };
    for r in &mut set.results {
        if r.name == "latency[threaded]" {
            scale(r.latency.as_mut().expect("a latency"));
        }
        if r.name == "bandwidth[threaded]" {
            r.sizes.iter_mut().for_each(|s| scale(&mut s.latency));
        }
    }
    set
}

/// The `summary: …` or `…: N regressed, …` counts a command printed.
fn counts_line(stdout: &str) -> String {
    let line = stdout.lines().find(|l| l.contains(" regressed, ")).unwrap_or_else(|| panic!("no counts in:\n{stdout}"));
    line[line.find(|c: char| c.is_ascii_digit()).expect("a count")..].trim().to_owned()
}

#[test]
fn compare_and_report_count_per_benchmark_alike() {
    let tmp = TempDir::new("counts");
    steady_scaled(1).save(&tmp.0.join("old.json")).expect("save");
    steady_scaled(2).save(&tmp.0.join("new.json")).expect("save");
    let compare = rpycbench(&["compare", "old.json", "new.json"], &tmp.0);
    let compare_out = String::from_utf8_lossy(&compare.stdout);
    assert_eq!(compare.status.code(), Some(11), "{compare_out}");
    let report = rpycbench(&["report", "new.json", "--baseline", "old.json", "--out", "out"], &tmp.0);
    let report_out = String::from_utf8_lossy(&report.stdout);
    assert!(report.status.success(), "{report_out}");
    let counts = counts_line(&compare_out);
    assert!(counts.starts_with("2 regressed, "), "per benchmark, bandwidth's four sizes count once: {counts}");
    assert_eq!(counts_line(&report_out), counts, "compare:\n{compare_out}\nreport:\n{report_out}");
}

#[test]
fn a_gate_with_benchmarks_missing_or_none_in_common_fails() {
    let tmp = TempDir::new("missing");
    results().save(&tmp.0.join("old.json")).expect("save");
    let mut renamed = results().clone();
    renamed.results.iter_mut().for_each(|r| r.name = format!("renamed-{}", r.name));
    renamed.save(&tmp.0.join("renamed.json")).expect("save");
    let mut fewer = results().clone();
    fewer.results.retain(|r| r.name != "latency[threaded]");
    fewer.save(&tmp.0.join("fewer.json")).expect("save");

    let none = rpycbench(&["compare", "old.json", "renamed.json"], &tmp.0);
    let out = String::from_utf8_lossy(&none.stdout);
    assert_eq!(none.status.code(), Some(15), "{out}");
    assert!(out.contains("no benchmark in common: nothing was compared"), "{out}");

    let missing = rpycbench(&["compare", "old.json", "fewer.json"], &tmp.0);
    let out = String::from_utf8_lossy(&missing.stdout);
    assert_eq!(missing.status.code(), Some(15), "{out}");
    assert!(out.contains("latency[threaded]: MISSING from the new results"), "{out}");
    // (The fixture's runs are tiny, so some of their comparisons are too noisy to tell.)
    let allowed =
        rpycbench(&["compare", "old.json", "fewer.json", "--allow-missing", "--inconclusive", "warn"], &tmp.0);
    assert_eq!(allowed.status.code(), Some(0), "{}", String::from_utf8_lossy(&allowed.stdout));
    // A file that does not exist is its own status, as docs/suite.md says.
    let absent = rpycbench(&["compare", "old.json", "absent.json"], &tmp.0);
    assert_eq!(absent.status.code(), Some(12), "{}", String::from_utf8_lossy(&absent.stderr));
}

/// The plot SVG of the figure titled `title` in `html`.
fn figure_svg<'a>(html: &'a str, title: &str) -> &'a str {
    let at = html.find(&format!("<strong>{title}</strong>")).unwrap_or_else(|| panic!("no figure {title:?}"));
    let figure = &html[at..at + html[at..].find("</figure>").expect("figure closes")];
    // The plot is the last <svg> of the figure; legend swatches come before it.
    let start = figure.rfind("<svg").expect("a plot");
    &figure[start..]
}

/// Every element of `html` (a page or one SVG) opening with `<name `, as its tag text and
/// the `<title>` right inside it, if any.
fn marks<'a>(html: &'a str, name: &str) -> Vec<(&'a str, Option<&'a str>)> {
    html.match_indices(&format!("<{name} "))
        .map(|(at, _)| {
            let end = at + html[at..].find('>').expect("a tag closes");
            let tag = &html[at..end];
            let rest = &html[end + 1..];
            let title = (!tag.ends_with('/'))
                .then(|| rest.strip_prefix("<title>"))
                .flatten()
                .map(|t| &t[..t.find("</title>").expect("a title closes")]);
            (tag, title)
        })
        .collect()
}

/// The text of attribute `name` in tag text `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&tag[at..at + tag[at..].find('"')?])
}

/// Tick labels of an SVG plot as plotters writes them: the x axis's below the plot
/// (centred, hanging under the axis) and the y axis's (ending at it).
fn tick_labels(svg: &str) -> (Vec<String>, Vec<String>) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (at, _) in svg.match_indices("<text ") {
        let end = at + svg[at..].find('>').expect("a tag closes");
        let tag = &svg[at..end];
        let text = svg[end + 1..end + 1 + svg[end + 1..].find("</text>").expect("text closes")].trim().to_owned();
        if tag.contains("transform") {
            continue;
        }
        match (attr(tag, "text-anchor"), attr(tag, "dy")) {
            (Some("middle"), Some("0.76em")) => x.push(text),
            (Some("end"), Some("0.5ex")) => y.push(text),
            _ => {}
        }
    }
    (x, y)
}

#[track_caller]
fn assert_distinct(labels: &[String], what: &str) {
    let mut seen = labels.to_vec();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), labels.len(), "{what}: two ticks read alike: {labels:?}");
}

#[test]
fn size_axes_are_ticked_at_the_measured_sizes() {
    let html = html_report(results(), None);
    for (title, sizes) in [
        ("bandwidth: upload bandwidth by payload size", &["1 KiB", "64 KiB"][..]),
        ("bandwidth: download bandwidth by payload size", &["1 KiB", "64 KiB"][..]),
        ("transfer: upload bandwidth by payload size", &["256 KiB"][..]),
    ] {
        let (x, y) = tick_labels(figure_svg(&html, title));
        assert_eq!(x, sizes, "{title}");
        assert!(!y.is_empty() && y.iter().all(|l| l.ends_with("/s")), "{title}: {y:?}");
    }
}

#[test]
fn every_plotted_point_says_its_value_on_hover_and_no_two_ticks_read_alike() {
    let set = results();
    let html = html_report(set, Some(&Comparison::new(set, set, 10.0, "same.json")));
    let figures: Vec<&str> = html
        .match_indices("<figure ")
        .map(|(at, _)| &html[at..at + html[at..].find("</figure>").expect("closes")])
        .collect();
    assert!(figures.len() >= 11, "{}", figures.len());
    for figure in figures {
        let svg = &figure[figure.rfind("<svg").expect("a plot")..];
        let points: Vec<_> = ["circle", "polygon", "rect"].iter().flat_map(|n| marks(svg, n)).collect();
        let untitled: Vec<_> = points
            .iter()
            .filter(|(tag, t)| {
                t.is_none() && !tag.starts_with("<rect x=\"0\" y=\"0\"") && !tag.contains("fill=\"#E2E8F0\"")
            })
            .collect();
        assert!(untitled.is_empty(), "points without hover text in {}: {untitled:?}", &figure[..figure.len().min(200)]);
        assert!(points.iter().any(|(_, t)| t.is_some()), "no points in {}", &figure[..figure.len().min(200)]);
        let (x, y) = tick_labels(svg);
        assert_distinct(&x, figure);
        assert_distinct(&y, figure);
    }
}

#[test]
fn sweeps_are_ticked_at_their_values_log_log_with_the_limit_drawn() {
    let html = html_report(results(), None);
    for (title, y_unit) in [("sweep: latency by clients", "s"), ("sweep: throughput by clients", "")] {
        let svg = figure_svg(&html, title);
        let (x, y) = tick_labels(svg);
        assert_eq!(x, ["1", "2", "4"], "{title}: ticks at the clients swept");
        assert!(y.len() >= 2 && y.iter().all(|l| l.ends_with(y_unit)), "{title}: {y:?}");
        assert!(svg.contains("(log scale)"), "{title}: rates and clients scale by multiples: log–log");
        let limit = marks(svg, "line")
            .into_iter()
            .find(|(tag, _)| tag.contains("class=\"limit\""))
            .unwrap_or_else(|| panic!("{title}: no limit line"));
        // The line stands at clients=4: the x of the last point.
        let x_of = |tag: &str, a: &str| attr(tag, a).and_then(|v| v.parse::<i32>().ok()).expect("a coordinate");
        let last_point = marks(svg, "circle")
            .into_iter()
            .filter(|(_, t)| t.is_some_and(|t| t.contains("clients=4")))
            .map(|(tag, _)| x_of(tag, "cx"))
            .next();
        assert_eq!(Some(x_of(limit.0, "x1")), last_point, "{title}");
        assert!(
            svg.contains("limit (threaded, clients=4): p99 = 9.00 ms &gt; 1.00 ms"),
            "{title}: the line says what was crossed"
        );
    }
    // Two points four times apart: ticks at both values, not a linear 0–4.
    let mut two = ResultSet::new();
    for r in results().results.iter().filter(|r| r.name.starts_with("sweep[") && !r.name.contains("clients=2")) {
        two.push(r.clone());
    }
    let (x, _) = tick_labels(figure_svg(&html_report(&two, None), "sweep: latency by clients"));
    assert_eq!(x, ["1", "4"]);
}

#[test]
fn distributions_overlay_their_baseline() {
    let set = results();
    let html = html_report(set, Some(&Comparison::new(set, set, 10.0, "same.json")));
    let at = html.find("<strong>latency: latency distribution</strong>").expect("the figure");
    let figure = &html[at..at + html[at..].find("</figure>").expect("closes")];
    assert!(
        figure.contains("stroke-dasharray=\"5 3\"/></svg>threaded (baseline)</span>"),
        "a dashed baseline key: {figure}"
    );
    let svg = figure_svg(&html, "latency: latency distribution");
    assert!(
        marks(svg, "circle").iter().any(|(_, t)| t.is_some_and(|t| t.starts_with("threaded (baseline) p99: "))),
        "baseline points"
    );
    let plain = html_report(set, None);
    assert!(!figure_svg(&plain, "latency: latency distribution").contains("(baseline)"), "no baseline, no overlay");
}

#[test]
fn the_page_has_contents_whose_links_all_land_and_no_empty_grid_cell() {
    let set = results();
    let html = html_report(set, Some(&Comparison::new(set, set, 10.0, "same.json")));
    let nav = &html[html.find("<nav class=\"toc\"").expect("a table of contents")..];
    let nav = &nav[..nav.find("</nav>").expect("nav closes")];
    for section in ["findings", "baseline", "latency", "bandwidth-plots", "sweeps", "tables", "table-bandwidth"] {
        assert!(nav.contains(&format!("href=\"#{section}\"")), "contents lack {section}: {nav}");
    }
    let links: Vec<&str> = html
        .match_indices("href=\"#")
        .map(|(at, _)| {
            let rest = &html[at + 7..];
            &rest[..rest.find('"').expect("closes")]
        })
        .collect();
    assert!(links.len() > 20, "{links:?}");
    for id in links {
        assert_eq!(html.matches(&format!(" id=\"{id}\"")).count(), 1, "#{id} lands on no element, or on several");
    }
    // Two plots a row: a section's last plot alone on its row spans it.
    for (at, _) in html.match_indices("<div class=\"figures\">") {
        let grid = &html[at..at + html[at..].find("</section>").expect("closes")];
        let classes: Vec<&str> = grid
            .match_indices("<figure class=\"")
            .map(|(i, _)| {
                let rest = &grid[i + 15..];
                &rest[..rest.find('"').expect("closes")]
            })
            .collect();
        let narrow = classes.iter().filter(|c| !c.contains("wide")).count();
        assert_eq!(narrow % 2, 0, "a row with one plot and an empty cell: {classes:?}");
    }
    // The bandwidth table reads in blocks: a rule at each benchmark and direction.
    let table = &html[html.find("id=\"table-bandwidth\"").expect("the table")..];
    let table = &table[..table.find("</table>").expect("closes")];
    assert_eq!(table.matches("<tr class=\"group\">").count(), 3, "bandwidth up/down, transfer up/down: 4 blocks");
}
