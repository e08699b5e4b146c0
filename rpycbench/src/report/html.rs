//! One self-contained HTML page: environment header, verdict, SVG plots and the tables.
//! Inline CSS and inline SVG only: no scripts, fonts, images or links outside the page
//! (its contents link to its own sections), so it opens from disk anywhere and can be
//! attached to a review as is.

use super::comparison::Comparison;
use super::findings::{findings_html, findings_of, unchecked_note};
use super::plots::{bandwidth_figures, comparison_figure, percentile_figures, side_by_side_figure, sweep_figures};
use super::plots::{Figure, Palette};
use super::sections::result_tables;
use super::sweep::modes;
use crate::metrics::ResultSet;
use crate::table::{Table, Tone};
use std::fmt::Write;

const STYLE: &str = include_str!("report.css");

/// `&`, `<`, `>`, `"` and `'` as entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` as an element id: letters, digits, `-` and `_` kept, anything else a `-`, so
/// the id works as a `#fragment` as written.
pub fn anchor(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect()
}

/// The report page for `results`, compared with a baseline when one is given.
pub fn html_report(results: &ResultSet, comparison: Option<&Comparison>) -> String {
    let palette = Palette::new(&modes(results));
    let mut page = String::with_capacity(256 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>rpycbench report {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        escape(&results.created_at)
    );
    header(&mut page, results);
    // The body is written first and the contents after it, from what was written: the
    // contents then list exactly the sections and tables that are on the page.
    let mut body = String::with_capacity(256 * 1024);
    let mut contents: Vec<Contents> = Vec::new();
    if let Some(c) = comparison {
        verdict(&mut body, c);
    }
    let headline = super::headline::headline(results);
    if !headline.is_empty() {
        body.push_str("<section id=\"headline\">\n<h2>Headline</h2>\n<ul class=\"headline\">\n");
        for pair in &headline {
            let _ = writeln!(body, "<li>{}</li>", escape(&pair.to_string()));
        }
        let _ = writeln!(body, "</ul>\n<p class=\"caption\">{}</p>\n</section>", escape(super::headline::HEADLINE_KEY));
        contents.push(("headline".into(), "Headline".into(), Vec::new()));
    }
    findings_html(&mut body, &findings_of(results), unchecked_note(results).as_deref());
    if body.contains("<section id=\"findings\">") {
        contents.push(("findings".into(), "Findings".into(), Vec::new()));
    }
    let mut sections: Vec<(&str, &str, Vec<Figure>)> = vec![
        ("latency", "Latency distributions", percentile_figures(results, &palette, comparison)),
        ("bandwidth-plots", "Bandwidth", bandwidth_figures(results, &palette)),
        ("sweeps", "Sweeps", sweep_figures(results, &palette)),
    ];
    if let Some(c) = comparison {
        let figures: Vec<Figure> = comparison_figure(c).into_iter().chain(side_by_side_figure(c)).collect();
        sections.insert(0, ("baseline", "Baseline comparison", figures));
    }
    for (id, title, figures) in sections.iter().filter(|s| !s.2.is_empty()) {
        let _ = write!(body, "<section id=\"{id}\">\n<h2>{title}</h2>\n<div class=\"figures\">\n");
        let mut entries = Vec::new();
        for (i, f) in figures.iter().enumerate() {
            let figure_id = format!("{id}-{}", i + 1);
            // Two plots share a row: a last one alone on its row spans it, plot centred,
            // rather than leave an empty cell beside it.
            let class = if *id == "baseline" {
                " wide"
            } else if i + 1 == figures.len() && figures.len() % 2 == 1 {
                " wide solo"
            } else {
                ""
            };
            let _ = write!(
                body,
                "<figure class=\"card{class}\" id=\"{figure_id}\">\n<figcaption><strong>{}</strong><span>{}</span></figcaption>\n{}{}\n</figure>\n",
                escape(&f.title),
                escape(&f.caption),
                legend(f),
                f.svg
            );
            entries.push((figure_id, f.title.clone()));
        }
        body.push_str("</div>\n</section>\n");
        contents.push(((*id).to_owned(), (*title).to_owned(), entries));
    }
    let mut tables = result_tables(results);
    if let Some(c) = comparison {
        tables.insert(0, c.table());
    }
    if !tables.is_empty() {
        body.push_str("<section id=\"tables\">\n<h2>Tables</h2>\n");
        for t in &tables {
            html_table(&mut body, t);
        }
        body.push_str("</section>\n");
        let entries = tables.iter().map(|t| (format!("table-{}", anchor(&t.id)), t.title.clone())).collect();
        contents.push(("tables".into(), "Tables".into(), entries));
    }
    table_of_contents(&mut page, &contents);
    page.push_str("<main>\n");
    page.push_str(&body);
    let _ = write!(
        page,
        "</main>\n<footer>Generated by rpycbench {} from schema <code>{}</code>. Latency is measured from each request's intended start to its reply, recorded in HdrHistograms (3 significant digits).</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        escape(&results.schema)
    );
    page
}

/// One section in the contents: its id, its title, and its figures' or tables' ids and titles.
type Contents = (String, String, Vec<(String, String)>);

/// A bar of links to each section, each with its figures and tables in a menu that
/// opens on hover or focus: plain anchors, no script.
fn table_of_contents(page: &mut String, contents: &[Contents]) {
    if contents.is_empty() {
        return;
    }
    page.push_str("<nav class=\"toc\" aria-label=\"Contents\">\n<ul>\n");
    for (id, title, entries) in contents {
        let _ = write!(page, "<li><a href=\"#{id}\">{}</a>", escape(title));
        if !entries.is_empty() {
            page.push_str("<ul>");
            for (entry, name) in entries {
                let _ = write!(page, "<li><a href=\"#{entry}\">{}</a></li>", escape(name));
            }
            page.push_str("</ul>");
        }
        page.push_str("</li>\n");
    }
    page.push_str("</ul>\n</nav>\n");
}

/// A figure's legend as a row of line samples: outside the plot, so it hides no data.
fn legend(f: &Figure) -> String {
    if f.legend.is_empty() {
        return String::new();
    }
    let mut out = String::from("<div class=\"legend\">");
    for key in &f.legend {
        let dash = if key.dashed { " stroke-dasharray=\"5 3\"" } else { "" };
        let _ = write!(
            out,
            "<span><svg width=\"26\" height=\"10\" viewBox=\"0 0 26 10\"><line x1=\"1\" y1=\"5\" x2=\"25\" y2=\"5\" stroke=\"{}\" stroke-width=\"3\"{dash}/></svg>{}</span>",
            key.hex(),
            escape(&key.label)
        );
    }
    out.push_str("</div>\n");
    out
}

fn header(page: &mut String, results: &ResultSet) {
    let _ = write!(page, "<header>\n<div class=\"wrap\">\n<h1>RPyC benchmark report</h1>\n");
    let servers = modes(results).join(", ");
    let _ = write!(
        page,
        "<p class=\"sub\">{} results from {} · servers: {}</p>\n<dl class=\"env\">\n",
        results.results.len(),
        escape(&results.created_at),
        escape(if servers.is_empty() { "none" } else { &servers })
    );
    if let Some(env) = results.results.first().map(|r| &r.environment) {
        let mut items = vec![
            ("CPU", env.cpu_model.clone()),
            ("Cores", env.cores.to_string()),
            ("Memory", format!("{:.1} GiB", env.memory_bytes as f64 / (1u64 << 30) as f64)),
            ("OS", env.os.clone()),
            ("Compiler", env.rustc.clone()),
            ("Build", env.build_profile.clone()),
        ];
        let python = results.results.iter().find_map(|r| r.environment.python.clone().zip(r.environment.rpyc.clone()));
        if let Some((py, rpyc)) = python {
            items.push(("Python", format!("{py}, rpyc {rpyc}")));
        }
        let started = results.results.iter().map(|r| r.started_at.as_str()).filter(|s| !s.is_empty()).min();
        if let Some(t) = started {
            items.push(("Started", t.to_owned()));
        }
        for (k, v) in items {
            let _ = writeln!(page, "<div><dt>{k}</dt><dd>{}</dd></div>", escape(&v));
        }
    }
    page.push_str("</dl>\n</div>\n</header>\n");
}

fn verdict(page: &mut String, c: &Comparison) {
    let (class, word) = if c.regressed() { ("bad", "Regression") } else { ("good", "No regression") };
    let _ = write!(
        page,
        "<div class=\"verdict {class}\"><strong>{word}</strong> against baseline <code>{}</code>: {}.",
        escape(&c.baseline_label),
        escape(&c.verdict_line())
    );
    for w in &c.warnings {
        let _ = write!(page, "<p class=\"warn\">{}</p>", escape(w));
    }
    page.push_str("</div>\n");
}

fn tone_class(tone: Tone) -> &'static str {
    match tone {
        Tone::Plain => "",
        Tone::Good => "good",
        Tone::Bad => "bad",
        Tone::Warn => "warn",
        Tone::Muted => "muted",
    }
}

/// How many leading columns group a table's rows: a long table reads in blocks when
/// each block (a benchmark and direction, a server) starts with a rule and its repeated
/// names are dimmed.
fn group_columns(table_id: &str) -> usize {
    match table_id {
        "bandwidth" => 2,
        "comparison" => 1,
        id if id.starts_with("sweep-") => 1,
        _ => 0,
    }
}

fn html_table(page: &mut String, t: &Table) {
    let _ = write!(
        page,
        "<div class=\"card table\" id=\"table-{}\">\n<h3>{}</h3>\n<p class=\"caption\">{}</p>\n<div class=\"scroll\">\n<table>\n<thead><tr>",
        anchor(&t.id),
        escape(&t.title),
        escape(&t.caption)
    );
    for c in &t.columns {
        let class = if c.numeric { " class=\"num\"" } else { "" };
        let _ = write!(page, "<th{class}>{}</th>", escape(&c.header));
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    let keys = group_columns(&t.id);
    let key = |row: &[crate::table::Cell]| row.iter().take(keys).map(|c| c.text.clone()).collect::<Vec<_>>();
    for (r, row) in t.rows.iter().enumerate() {
        let previous = r.checked_sub(1).map(|p| key(&t.rows[p]));
        let starts_group = keys > 0 && r > 0 && previous.as_ref() != Some(&key(row));
        page.push_str(if starts_group { "<tr class=\"group\">" } else { "<tr>" });
        for (c, (cell, col)) in row.iter().zip(&t.columns).enumerate() {
            let mut classes = Vec::new();
            if c < keys && !starts_group && r > 0 && previous.as_ref().and_then(|p| p.get(c)) == Some(&cell.text) {
                classes.push("rep");
            }
            if col.numeric {
                classes.push("num");
            }
            if !tone_class(cell.tone).is_empty() {
                classes.push(tone_class(cell.tone));
            }
            let class = if classes.is_empty() { String::new() } else { format!(" class=\"{}\"", classes.join(" ")) };
            let _ = write!(page, "<td{class}>{}</td>", escape(&cell.text));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody>\n</table>\n</div>\n");
    for note in &t.notes {
        let _ = writeln!(page, "<p class=\"caption\">{}</p>", escape(note));
    }
    page.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn an_empty_collection_is_still_a_page() {
        let page = html_report(&ResultSet::new(), None);
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(!page.contains("<svg"));
    }
}
