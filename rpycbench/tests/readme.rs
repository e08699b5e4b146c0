//! The README's commands work as written.
//!
//! - Its "Try it" block runs as a shell script against the real binary, in a scratch
//!   directory, with its fixed port swapped for a free one: a server in the background,
//!   `bench`, `sweep`, the suite and `report`, each of which must succeed.
//! - Every `rpycbench …` command line in the README and `docs/` names only subcommands,
//!   flags and values the command accepts: each is run with `--help` appended, which
//!   clap answers only once every argument before it parsed (rules between arguments,
//!   such as two that conflict, are checked after `--help` and so are not).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The README's port, replaced by a free one so tests may run side by side.
const README_PORT: &str = "18812";

/// How long the whole "Try it" block may take, the quick suite included.
const TOUR_DEADLINE: Duration = Duration::from_secs(180);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The code block under the heading that starts with `heading`.
fn block_under(markdown: &str, heading: &str) -> String {
    let section = markdown.split("\n## ").find(|s| s.starts_with(heading)).unwrap_or_else(|| panic!("no {heading:?}"));
    let body = section.split("```sh\n").nth(1).unwrap_or_else(|| panic!("no sh block under {heading:?}"));
    body.split("```").next().unwrap_or_default().to_owned()
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
    listener.local_addr().expect("its address").port()
}

#[test]
fn the_try_it_block_runs_as_written() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let block = block_under(&readme, "Try it");
    assert!(block.contains(README_PORT), "the block's port changed: update README_PORT");
    let dir = std::env::temp_dir().join(format!("rpycbench-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    // `rpycbench` on the PATH is the binary under test, a program as it is for a user
    // (a shell function would put a background job in a subshell, which `kill %1`
    // would stop instead of the server).
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("a bin directory");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rpycbench"), bin.join("rpycbench")).expect("a symlink");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let script = format!("set -eu\n{}", block.replace(README_PORT, &free_port().to_string()));
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir)
        .env("PATH", path)
        .stdin(Stdio::null())
        // Files, not pipes: output is read after the script ends, and a pipe that filled
        // up before then would stall the script until the deadline.
        .stdout(std::fs::File::create(dir.join("stdout")).expect("a file for stdout"))
        .stderr(std::fs::File::create(dir.join("stderr")).expect("a file for stderr"))
        // Its own process group: on a timeout everything the script started is killed.
        .process_group(0)
        .spawn()
        .expect("bash runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for bash") {
            break Some(status);
        }
        if started.elapsed() > TOUR_DEADLINE {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever the script left behind (a server its failure skipped stopping) holds the
    // output pipes open: stop its whole process group before reading them.
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).stderr(Stdio::null()).status();
    let _ = child.wait();
    let stdout = std::fs::read_to_string(dir.join("stdout")).unwrap_or_default();
    let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    let report = dir.join("demo/report.html").exists();
    let _ = std::fs::remove_dir_all(&dir);
    let status = status.unwrap_or_else(|| panic!("timed out after {TOUR_DEADLINE:?}\n{stdout}\n{stderr}"));
    assert!(status.success(), "{status}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    for expected in ["SLA met: p99", "Bandwidth per payload size", "no limit reached up to clients=16", "Headline"] {
        assert!(stdout.contains(expected), "{expected:?} missing:\n{stdout}");
    }
    assert!(report, "the suite wrote demo/report.html");
}

/// `line` split into words as a shell would for these simple lines: single and double
/// quotes group, a ` #` starts a comment, a trailing `&` is dropped.
fn words(line: &str) -> Vec<String> {
    let (mut out, mut word, mut quote, mut in_word) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    if out.last().is_some_and(|w| w == "&") {
        out.pop();
    }
    out
}

/// Every `rpycbench …` line of the code blocks in `markdown`, continuation lines joined
/// and a leading `$ ` prompt removed.
fn command_lines(markdown: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, block) in markdown.split("```").enumerate() {
        // Odd pieces are inside fences; Rust and TOML blocks are not command lines.
        if i % 2 == 0 || block.starts_with("rust") || block.starts_with("toml") {
            continue;
        }
        let joined = block.replace("\\\n", " ");
        for line in joined.lines() {
            let line = line.trim_start().trim_start_matches("$ ");
            if line.starts_with("rpycbench ") && !line.contains(['|', '>', '<', '`', '$']) {
                lines.push(line.to_owned());
            }
        }
    }
    lines
}

#[test]
fn every_documented_command_line_parses() {
    let root = repo_root();
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("a page");
        for line in command_lines(&text) {
            let args = words(&line);
            let run = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
                .args(&args[1..])
                .arg("--help")
                .stdin(Stdio::null())
                .output()
                .expect("rpycbench runs");
            let stderr = String::from_utf8_lossy(&run.stderr);
            assert!(run.status.success(), "{}: `{line}` does not parse:\n{stderr}", page.display());
            checked += 1;
        }
    }
    // The README's tour and the docs' examples: fewer means the extraction broke.
    assert!(checked >= 15, "only {checked} command lines found");
}

#[test]
fn the_shell_words_are_split_as_a_shell_would() {
    assert_eq!(
        words("rpycbench bench --args '[42]' --x \"a b\"   # comment"),
        ["rpycbench", "bench", "--args", "[42]", "--x", "a b"]
    );
    assert_eq!(words("rpycbench serve --port 1 &    # bg"), ["rpycbench", "serve", "--port", "1"]);
}
