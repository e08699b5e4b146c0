//! The tables of a report, built once from a result collection and rendered by every
//! format (terminal, Markdown, HTML), so all three show the same rows.

use super::sweep::{families, is_sweep, limit_note, name_prefix, sweeps};
use crate::metrics::{
    BenchKind, BenchResult, LatencyStats, LoadModel, Outcomes, ProcessStats, ResultSet, MIN_SERVER_CPU_WINDOW,
};
use crate::table::{format_bytes, Table, TableBuilder, Tone, Value};

/// Every table a result collection has data for, in reading order.
pub fn result_tables(results: &ResultSet) -> Vec<Table> {
    let mut out = Vec::new();
    out.extend(summary(results));
    out.extend(super::workers::workers(results));
    out.extend(ended_early(results));
    out.extend(bandwidth(results));
    out.extend(concurrency(results));
    out.extend(sweep_tables(results));
    out.extend(resources(results));
    out.extend(remote(results));
    out.extend(failures(results));
    out
}

/// Servers on another host: each result's p50 beside the network's round trip over the
/// same path, and its share: the rest is the client, the server and, through a tunnel,
/// ssh.
fn remote(results: &ResultSet) -> Option<Table> {
    let mut b = TableBuilder::new(
        "remote",
        "Remote servers",
        "Servers on another host: the network's round trip (the median of 40 raw TCP ping-pongs of 64 bytes with an echo beside the server, over the same tunnel or address, before and after the run) beside each result's p50; the rest of p50 is the client, the server and, through a tunnel, ssh.",
        &["benchmark", "host", "via", "p50", "network", "network share"],
    );
    for r in plain(results) {
        let Some(remote) = &r.server.remote else { continue };
        let p50 = r.latency.as_ref().filter(|l| l.count > 0 && l.p50_ns > 0).map(|l| l.p50_ns);
        let rtt = remote.network_rtt.map(|n| n.median_ns);
        let share = p50.zip(rtt).map_or(Value::Missing, |(p, n)| Value::Pct(n as f64 * 100.0 / p as f64));
        b.toned_row(vec![
            (text(&r.name), Tone::Plain),
            (text(&remote.host), Tone::Muted),
            (text(&remote.via), Tone::Muted),
            (p50.map_or(Value::Missing, ns), Tone::Plain),
            (rtt.map_or(Value::Missing, ns), Tone::Plain),
            (share, Tone::Plain),
        ]);
    }
    (!b.is_empty()).then(|| b.build())
}

fn plain(results: &ResultSet) -> impl Iterator<Item = &BenchResult> {
    results.results.iter().filter(|r| !is_sweep(r))
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn ns(x: u64) -> Value {
    Value::Ns(x as f64)
}

/// Success rate, red when anything failed.
fn success(o: &Outcomes) -> (Value, Tone) {
    let tone = if o.failures > 0 || o.attempts == 0 { Tone::Bad } else { Tone::Plain };
    (Value::Pct(o.success_rate * 100.0), tone)
}

fn latency_cells(l: Option<&LatencyStats>, quantiles: &[fn(&LatencyStats) -> u64]) -> Vec<Value> {
    let l = l.filter(|l| l.count > 0);
    quantiles.iter().map(|q| l.map_or(Value::Missing, |l| ns(q(l)))).collect()
}

fn p50(l: &LatencyStats) -> u64 {
    l.p50_ns
}
fn p99(l: &LatencyStats) -> u64 {
    l.p99_ns
}
fn p999(l: &LatencyStats) -> u64 {
    l.p999_ns
}
fn mean(l: &LatencyStats) -> u64 {
    l.mean_ns
}

fn uses_sizes(r: &BenchResult) -> bool {
    matches!(r.kind, BenchKind::Bandwidth | BenchKind::Transfer) || !r.sizes.is_empty()
}

/// The benchmark's name without its server, for tables with a server column:
/// `latency[threaded]` against the threaded server reads `latency`; any other name,
/// `refused[x]` included, is kept whole.
fn short_name(r: &BenchResult) -> &str {
    let suffix = format!("[{}]", r.server.mode);
    r.name.strip_suffix(suffix.as_str()).filter(|s| !s.is_empty()).unwrap_or(&r.name)
}

/// One row per benchmark: outcomes, latency quantiles, throughput, best bandwidth.
pub fn summary(results: &ResultSet) -> Option<Table> {
    // The server has its own column, so `latency[threaded]` reads `latency`; the kind
    // gets a column only where some benchmark's name does not already say it.
    let kind_said = plain(results).all(|r| short_name(r) == r.kind.name());
    let mut headers = vec!["benchmark", "server", "kind", "requests", "ok", "p50", "p99", "p99.9", "mean", "req/s"];
    headers.push("peak bandwidth");
    if kind_said {
        headers.remove(2);
    }
    let mut b = TableBuilder::new(
        "summary",
        "Summary",
        "One row per benchmark (sweeps have their own tables). Latency of successful requests; peak bandwidth is the best payload size's mean (the bandwidth table has every size).",
        &headers,
    );
    for r in plain(results) {
        let mut row = vec![(text(short_name(r)), Tone::Plain), (text(&r.server.mode), Tone::Muted)];
        if !kind_said {
            row.push((text(r.kind.name()), Tone::Muted));
        }
        row.extend([(Value::Int(r.outcomes.attempts), Tone::Plain), success(&r.outcomes)]);
        row.extend(latency_cells(r.latency.as_ref(), &[p50, p99, p999, mean]).into_iter().map(|v| (v, Tone::Plain)));
        let rps = if uses_sizes(r) { None } else { r.throughput_rps };
        row.push((rps.map_or(Value::Missing, |x| Value::Num(x, 0)), Tone::Plain));
        let best = r.sizes.iter().map(|s| s.mean_bps).fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        row.push((best.map_or(Value::Missing, Value::Bps), Tone::Plain));
        b.toned_row(row);
    }
    (!b.is_empty()).then(|| b.build())
}

/// The server's mode, with what sets its bytes on the wire apart from the defaults: a
/// compressible payload (`text`, `zeros`) and compression a native side chose
/// (`compressed`; a Python server always compresses, so it is not repeated there).
fn server_with_wire(r: &crate::metrics::BenchResult) -> String {
    let mut notes = Vec::new();
    let payload = r.params.get("payload").and_then(serde_json::Value::as_str).map(str::to_owned);
    let payload = payload.or_else(|| r.server.payload.map(|k| k.name().to_owned()));
    if let Some(p) = payload.filter(|p| p != crate::server::PayloadKind::default().name()) {
        notes.push(p);
    }
    let python = crate::wire::Compression::Python;
    let client = r.params.get("client_compression").and_then(serde_json::Value::as_str) == Some(python.name());
    let native_server = r.server.backend != "python" && r.server.compression == Some(python);
    if client || native_server {
        notes.push("compressed".to_owned());
    }
    if notes.is_empty() {
        r.server.mode.clone()
    } else {
        format!("{} ({})", r.server.mode, notes.join(", "))
    }
}

/// Beside the slowest size of a benchmark: what a bandwidth SLA checks.
pub(crate) const SLOWEST_MARK: &str = "◂ slowest";

/// A bandwidth row with its sort keys: benchmark, direction, size, chunk, server rank.
type SizeRow<'a> = (&'a str, &'a str, u64, u64, usize, Vec<(Value, Tone)>);

/// One row per payload size of every bandwidth and transfer benchmark, servers of the
/// same size next to each other.
pub fn bandwidth(results: &ResultSet) -> Option<Table> {
    let modes = super::sweep::modes(results);
    // A benchmark of more than one size has a slowest one to mark (one size is its own).
    let marked = plain(results).any(|r| r.sizes.len() > 1);
    let mut rows: Vec<SizeRow<'_>> = Vec::new();
    for r in plain(results).filter(|r| !r.sizes.is_empty()) {
        let mode_rank = modes.iter().position(|m| *m == r.server.mode).unwrap_or(usize::MAX);
        let slowest = r.slowest_size().map(std::ptr::from_ref);
        for s in &r.sizes {
            let is_slowest = slowest == Some(std::ptr::from_ref(s)) && r.sizes.len() > 1;
            let mut row = vec![
                (text(name_prefix(&r.name)), Tone::Plain),
                (text(&s.direction), Tone::Plain),
                (text(format_bytes(s.size_bytes)), Tone::Plain),
                (s.chunk_bytes.map_or(text("whole"), |c| text(format_bytes(c))), Tone::Muted),
                (text(server_with_wire(r)), Tone::Plain),
                (Value::Int(s.outcomes.attempts), Tone::Plain),
                success(&s.outcomes),
            ];
            row.extend(latency_cells(Some(&s.latency), &[p50, p99]).into_iter().map(|v| (v, Tone::Plain)));
            row.extend([s.mean_bps, s.median_bps, s.worst_bps].map(|x| (Value::Bps(x), Tone::Plain)));
            if is_slowest {
                // The mean, the rate the SLA reads: the first of the three rates just added.
                let mean = row.len() - 3;
                row[mean].1 = Tone::Warn;
            }
            if marked {
                row.push(if is_slowest { (text(SLOWEST_MARK), Tone::Warn) } else { (text(""), Tone::Plain) });
            }
            rows.push((
                name_prefix(&r.name),
                s.direction.as_str(),
                s.size_bytes,
                s.chunk_bytes.unwrap_or(0),
                mode_rank,
                row,
            ));
        }
    }
    // Stable: benchmarks keep the order they ran in, sizes ascend, servers side by side.
    let first_seen: Vec<&str> = rows.iter().map(|r| r.0).fold(Vec::new(), |mut seen, p| {
        if !seen.contains(&p) {
            seen.push(p);
        }
        seen
    });
    rows.sort_by_key(|r| (first_seen.iter().position(|p| *p == r.0), r.1 != "upload", r.1, r.2, r.3, r.4));
    let mut headers =
        vec!["benchmark", "direction", "size", "chunk", "server", "ops", "ok", "p50", "p99", "mean", "median", "worst"];
    if marked {
        headers.push("");
    }
    let caption = "Mean = bytes moved / time at that size; worst = the slowest operation's rate.";
    let mut b = TableBuilder::new("bandwidth", "Bandwidth per payload size", caption, &headers);
    for row in rows {
        b.toned_row(row.5);
    }
    let mut table = (!b.is_empty()).then(|| b.build())?;
    if marked {
        table.notes.push(format!(
            "{SLOWEST_MARK}: each benchmark's size with the lowest mean, what min_bandwidth_mbps \
             (--min-bandwidth-mbps) checks."
        ));
    }
    Some(table)
}

fn load_label(r: &BenchResult) -> String {
    match &r.load_model {
        Some(LoadModel::OpenLoop { rate_per_sec, .. }) => format!("open {rate_per_sec:.0}/s"),
        Some(LoadModel::ClosedLoop) | None => "closed".to_owned(),
    }
}

fn cpu(r: &BenchResult, server: bool) -> Value {
    if server {
        return server_cpu(r, |s| s.cpu_percent_mean);
    }
    r.system.as_ref().map_or(Value::Missing, |s| Value::Pct(s.client.cpu_percent_mean))
}

/// A server CPU figure of `r`, left out for runs too short for the kernel's 10 ms ticks
/// to say anything (see [`MIN_SERVER_CPU_WINDOW`]).
fn server_cpu(r: &BenchResult, figure: fn(&ProcessStats) -> f64) -> Value {
    match r.system.as_ref().and_then(|s| s.server.as_ref()) {
        Some(server) if !server_cpu_left_out(r) => Value::Pct(figure(server)),
        _ => Value::Missing,
    }
}

/// Whether [`server_cpu`] left out a figure of `r` that was measured.
fn server_cpu_left_out(r: &BenchResult) -> bool {
    r.system.as_ref().is_some_and(|s| s.server.is_some())
        && u128::from(r.wall_time_ns) < MIN_SERVER_CPU_WINDOW.as_nanos()
}

/// Says why server CPU cells are empty, under a table that has such cells.
fn explain_left_out_cpu(table: &mut Table, any_left_out: bool) {
    if any_left_out {
        table.notes.push(format!(
            "Server CPU is left out (–) for runs under {} ms: the kernel counts it in 10 ms ticks; more requests make a run long enough.",
            MIN_SERVER_CPU_WINDOW.as_millis()
        ));
    }
}

/// Concurrent benchmarks: load model, tail latency, throughput and who spent the CPU.
pub fn concurrency(results: &ResultSet) -> Option<Table> {
    let mut b = TableBuilder::new(
        "concurrency",
        "Concurrency",
        "Closed loop: latency is service time under load. Open loop: latency runs from each request's scheduled start, so queueing shows. CPU is a mean over the run (100% = one core).",
        &[
            "benchmark",
            "server",
            "clients",
            "load",
            "requests",
            "ok",
            "late",
            "p50",
            "p99",
            "p99.9",
            "req/s",
            "server CPU",
            "client CPU",
        ],
    );
    for r in plain(results).filter(|r| r.kind == BenchKind::Concurrent) {
        let clients = r.params.get("clients").and_then(serde_json::Value::as_u64);
        let late_tone = if r.outcomes.late_starts > 0 { Tone::Warn } else { Tone::Plain };
        let mut row = vec![
            (text(short_name(r)), Tone::Plain),
            (text(&r.server.mode), Tone::Muted),
            (clients.map_or(Value::Missing, Value::Int), Tone::Plain),
            (text(load_label(r)), Tone::Muted),
            (Value::Int(r.outcomes.attempts), Tone::Plain),
            success(&r.outcomes),
            (Value::Int(r.outcomes.late_starts), late_tone),
        ];
        row.extend(latency_cells(r.latency.as_ref(), &[p50, p99, p999]).into_iter().map(|v| (v, Tone::Plain)));
        row.push((r.throughput_rps.map_or(Value::Missing, |x| Value::Num(x, 0)), Tone::Plain));
        row.push((cpu(r, true), Tone::Plain));
        row.push((cpu(r, false), Tone::Plain));
        b.toned_row(row);
    }
    let mut table = (!b.is_empty()).then(|| b.build())?;
    explain_left_out_cpu(&mut table, plain(results).any(|r| r.kind == BenchKind::Concurrent && server_cpu_left_out(r)));
    Some(table)
}

/// One table per swept parameter and benchmark, a row per server and value (and per
/// payload size and direction for bandwidth: an upload and a download are different
/// measurements and are never mixed in one row).
pub fn sweep_tables(results: &ResultSet) -> Vec<Table> {
    let all = sweeps(results);
    let mut out = Vec::new();
    for family in families(&all) {
        let (parameter, prefix) = (&family[0].parameter, &family[0].prefix);
        let with_sizes = family.iter().flat_map(|s| &s.points).any(|(_, r)| !r.sizes.is_empty());
        let headers: Vec<&str> = if with_sizes {
            vec!["server", parameter, "direction", "size", "ops", "ok", "p50", "p99", "p99.9", "mean rate"]
        } else {
            vec!["server", parameter, "requests", "ok", "p50", "p99", "p99.9", "req/s"]
        };
        let mut b = TableBuilder::new(
            &format!("sweep-{prefix}-{parameter}"),
            &format!("Sweep: {prefix} by {parameter}"),
            &format!("One row per sweep point; latency of successful requests.{}", limit_note(&family)),
            &headers,
        );
        for sweep in &family {
            for (value, r) in &sweep.points {
                let shown = match value.number() {
                    Some(bytes) if parameter.ends_with("bytes") && bytes >= 0.0 => format_bytes(bytes as u64),
                    _ => value.label(),
                };
                let point = [(text(&sweep.mode), Tone::Muted), (text(shown), Tone::Plain)];
                if !with_sizes {
                    let mut row = point.to_vec();
                    row.extend([(Value::Int(r.outcomes.attempts), Tone::Plain), success(&r.outcomes)]);
                    let cells = latency_cells(r.latency.as_ref(), &[p50, p99, p999]);
                    row.extend(cells.into_iter().map(|v| (v, Tone::Plain)));
                    row.push((r.throughput_rps.map_or(Value::Missing, |x| Value::Num(x, 0)), Tone::Plain));
                    b.toned_row(row);
                    continue;
                }
                for s in &r.sizes {
                    let mut row = point.to_vec();
                    row.extend([
                        (text(&s.direction), Tone::Plain),
                        (text(format_bytes(s.size_bytes)), Tone::Plain),
                        (Value::Int(s.outcomes.attempts), Tone::Plain),
                        success(&s.outcomes),
                    ]);
                    let cells = latency_cells(Some(&s.latency), &[p50, p99, p999]);
                    row.extend(cells.into_iter().map(|v| (v, Tone::Plain)));
                    row.push((Value::Bps(s.mean_bps), Tone::Plain));
                    b.toned_row(row);
                }
            }
        }
        out.push(b.build());
    }
    out
}

/// CPU and memory of server and client, and wire cost per request.
pub fn resources(results: &ResultSet) -> Option<Table> {
    let mut b = TableBuilder::new(
        "resources",
        "Resources and wire cost",
        "Sampled during the run, per process tree (forked children included). 100% CPU = one core.",
        &[
            "benchmark",
            "server CPU mean",
            "server CPU max",
            "server RSS max",
            "server procs",
            "client CPU mean",
            "round trips/req",
            "bytes/req",
        ],
    );
    for r in plain(results).filter(|r| r.system.is_some() || r.wire.is_some()) {
        let server = r.system.as_ref().and_then(|s| s.server.as_ref());
        b.row(vec![
            text(&r.name),
            server_cpu(r, |s| s.cpu_percent_mean),
            server_cpu(r, |s| s.cpu_percent_max),
            server.map_or(Value::Missing, |s| Value::Bytes(s.rss_bytes_max)),
            server.map_or(Value::Missing, |s| Value::Int(u64::from(s.processes_max))),
            cpu(r, false),
            r.wire.as_ref().map_or(Value::Missing, |w| Value::Num(w.round_trips_per_request, 2)),
            r.wire.as_ref().map_or(Value::Missing, |w| Value::Bytes(w.bytes_per_request.round() as u64)),
        ]);
    }
    let mut table = (!b.is_empty()).then(|| b.build())?;
    explain_left_out_cpu(
        &mut table,
        plain(results).any(|r| (r.system.is_some() || r.wire.is_some()) && server_cpu_left_out(r)),
    );
    Some(table)
}

/// Every error group of every benchmark: nothing is lost silently.
pub fn failures(results: &ResultSet) -> Option<Table> {
    let mut b = TableBuilder::new(
        "failures",
        "Failures",
        "Failed attempts grouped by error message.",
        &["benchmark", "server", "attempts", "failures", "count", "error"],
    );
    for r in results.results.iter().filter(|r| r.outcomes.failures > 0) {
        let o = &r.outcomes;
        let mut groups: Vec<(String, u64)> = o.errors.iter().map(|e| (e.message.clone(), e.count)).collect();
        if o.errors_other > 0 {
            groups.push(("(other errors, not kept)".to_owned(), o.errors_other));
        }
        if groups.is_empty() {
            groups.push(("(no message recorded)".to_owned(), o.failures));
        }
        for (message, count) in groups {
            b.toned_row(vec![
                (text(short_name(r)), Tone::Plain),
                (text(&r.server.mode), Tone::Muted),
                (Value::Int(o.attempts), Tone::Plain),
                (Value::Int(o.failures), Tone::Bad),
                (Value::Int(count), Tone::Bad),
                (text(message), Tone::Plain),
            ]);
        }
    }
    (!b.is_empty()).then(|| b.build())
}

/// Benchmarks that stopped before doing all they were asked to, and a run that ended
/// before all its benchmarks ran: said next to the figures, which cover less than asked.
pub fn ended_early(results: &ResultSet) -> Option<Table> {
    let mut b = TableBuilder::new(
        "ended_early",
        "Ended early",
        "Benchmarks that stopped before doing all they were asked to; their figures cover the requests made until then.",
        &["benchmark", "server", "attempts", "reason"],
    );
    let mut notes = Vec::new();
    for r in &results.results {
        if let Some(e) = &r.ended_early {
            let reason = serde_json::to_value(e.reason).ok().and_then(|v| v.as_str().map(str::to_owned));
            b.toned_row(vec![
                (text(&r.name), Tone::Plain),
                (text(&r.server.mode), Tone::Muted),
                (Value::Int(r.outcomes.attempts), Tone::Plain),
                (text(reason.unwrap_or_default()), Tone::Warn),
            ]);
            // Notes, not cells: a sentence is never wrapped into a narrow column.
            notes.push(format!("{}: {}", r.name, e.detail));
        }
    }
    if let Some(why) = &results.partial {
        notes.push(format!("partial results: {why}"));
    }
    if notes.is_empty() {
        return None;
    }
    if b.is_empty() {
        b.toned_row(vec![
            (text("(the run)"), Tone::Plain),
            (text("–"), Tone::Muted),
            (text("–"), Tone::Muted),
            (text("partial"), Tone::Warn),
        ]);
    }
    let mut table = b.build();
    table.notes = notes;
    Some(table)
}

#[cfg(test)]
mod tests {
    use super::server_with_wire;
    use crate::metrics::{BenchKind, BenchResult, LatencyHistogram};
    use crate::server::PayloadKind;
    use crate::wire::Compression;

    #[test]
    fn a_server_cell_names_a_compressible_payload_and_chosen_compression() {
        let mut h = LatencyHistogram::new();
        h.record_ns(1000);
        let mut r = BenchResult::for_test("bandwidth[threaded]", BenchKind::Bandwidth, "threaded", &h, 1_000_000);
        assert_eq!(server_with_wire(&r), "threaded", "defaults add nothing");
        r.server.payload = Some(PayloadKind::Zeros);
        r.server.compression = Some(Compression::Python);
        assert_eq!(server_with_wire(&r), "threaded (zeros, compressed)");
        r.params.insert("payload".into(), "text".into());
        assert_eq!(server_with_wire(&r), "threaded (text, compressed)", "the uploads' kind, recorded in params");
        let mut py =
            BenchResult::for_test("bandwidth[python-threaded]", BenchKind::Bandwidth, "python-threaded", &h, 1);
        py.server.compression = Some(Compression::Python);
        assert_eq!(server_with_wire(&py), "python-threaded", "a Python server always compresses");
    }
}
