//! The layers of `rpycbench/src` (the design notes' table, `../shared/design/ARCHITECTURE.md`
//! and docs/layout.md): each module may use only the modules above it in
//! [`LAYERS`]. Read from the source, the way a reviewer reads it: every `crate::` path
//! outside comments, `use crate::{a::X, b::Y}` groups included.
//!
//! A crossing that is not yet undone is listed in [`KNOWN`] with its reason, so that no
//! new one slips in and each old one is seen until it goes; an entry that no longer
//! crosses fails the test too, so the list only shrinks.

use std::collections::BTreeSet;
use std::path::Path;

/// Top to bottom: a module may use the ones before it.
const LAYERS: [&str; 11] =
    ["wire", "client", "server", "metrics", "table", "bench", "http", "profile", "harness", "report", "cli"];

/// Root items and the layer they belong to.
const ROOT_ITEMS: [(&str, &str); 5] =
    [("Error", "wire"), ("Result", "wire"), ("ProtocolError", "wire"), ("Value", "wire"), ("Connection", "client")];

/// Crossings not yet undone: (file, module used, why it is still there). Empty since
/// the HTTP baseline stopped being a mode of the RPyC servers; kept, so that a crossing
/// that must stay a while is written down with its reason rather than allowed.
const KNOWN: [(&str, &str, &str); 0] = [];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == module)
}

/// The file's code, comments cut off line by line, with a `use` group that rustfmt
/// spread over several lines (`use crate::{\n    a::X,\n};`) joined into one: each
/// with the number of its first line.
fn statements(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        match out.last_mut() {
            Some((_, joined)) if open => joined.push_str(code.trim()),
            _ => out.push((n, code.to_string())),
        }
        let joined = &out.last().map(|(_, j)| j.clone()).unwrap_or_default();
        open = joined.matches('{').count() > joined.matches('}').count() && joined.contains("use crate::{");
    }
    out
}

/// The first segments of the `crate::` paths on one line of code.
fn crate_paths(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            out.extend(inner.split(',').map(|p| first_segment(p.trim())).filter(|s| !s.is_empty()));
        } else {
            out.push(first_segment(rest));
        }
    }
    out
}

fn first_segment(path: &str) -> String {
    path.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn each_module_uses_only_the_layers_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut crossings = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        let Some(own) = rel.split('/').next().and_then(layer_of).filter(|_| rel.contains('/')) else { continue };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in statements(&text) {
            for segment in crate_paths(&line) {
                let used = ROOT_ITEMS.iter().find(|(item, _)| *item == segment).map_or(segment.as_str(), |(_, l)| l);
                if layer_of(used).is_some_and(|l| l > own) {
                    crossings.insert((rel.clone(), used.to_string(), n + 1));
                }
            }
        }
    }
    let new: Vec<String> = crossings
        .iter()
        .filter(|(file, used, _)| !KNOWN.iter().any(|(f, u, _)| f == file && u == used))
        .map(|(file, used, line)| format!("{file}:{line} uses crate::{used}, a layer below it"))
        .collect();
    assert!(new.is_empty(), "layering crossed (see {}):\n{}", file!(), new.join("\n"));
    for (file, used, why) in KNOWN {
        assert!(
            crossings.iter().any(|(f, u, _)| f == file && u == used),
            "{file} no longer uses crate::{used}: remove it from KNOWN ({why})"
        );
    }
}

#[test]
fn a_use_group_over_several_lines_is_read_whole() {
    let text = "use crate::{\n    metrics::X, // a comment\n    report::Y,\n};\nfn f() {}\n";
    let joined = statements(text);
    assert_eq!(joined[0].0, 0);
    assert_eq!(crate_paths(&joined[0].1), ["metrics", "report"]);
    assert_eq!(joined.len(), 2, "{joined:?}");
}

#[test]
fn paths_are_read_as_written() {
    assert_eq!(crate_paths("use crate::metrics::{A, B};"), ["metrics"]);
    assert_eq!(crate_paths("use crate::{bench::Target, server::ServerHandle};"), ["bench", "server"]);
    assert_eq!(crate_paths("let x = crate::http::serve(); // crate::report"), ["http"]);
    assert!(crate_paths("/// [`Service`](crate::server::Service)").is_empty());
    assert_eq!(first_segment("Error>"), "Error");
}
