//! The published JSON formats and their schemas (`schema/` at the repository root):
//!
//! - results `rpycbench/results/v1` (`schema/results-v1.json`): the schema is exactly
//!   what the types generate, real benchmark output validates against it, units follow
//!   the key conventions, and result files are read back faithfully or refused clearly;
//! - profiler telemetry `rpycbench/telemetry/v1` (`schema/telemetry-v1.json`): the
//!   schema is exactly what the types generate, and real telemetry from all three
//!   writers (the `Profiler` API, `rpycbench proxy --json`, `RPYCBENCH_PROFILE=FILE`)
//!   validates against it.
//!
//! After changing a result or telemetry type on purpose, regenerate the schema files
//! with `RPYCBENCH_BLESS=1 cargo test -p rpycbench --test results_schema` and commit them.

mod common;

use common::KillOnDrop;
use rpycbench::bench::{Bandwidth, Concurrent, Latency, Load, Target};
use rpycbench::client::{Object, RemoteRef};
use rpycbench::metrics::{BenchResult, ResultFileError, ResultSet, RESULTS_SCHEMA};
use rpycbench::profile::{Profiler, Telemetry, TELEMETRY_SCHEMA};
use rpycbench::server::{ServerMode, ServerSpec};
use rpycbench::Connection;
use serde_json::Value as Json;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_rpycbench");

const SCHEMA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/results-v1.json");
const TELEMETRY_SCHEMA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/telemetry-v1.json");

/// A file in the temporary directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        TempFile(std::env::temp_dir().join(format!("rpycbench-results-schema-{}-{name}", std::process::id())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Real output: a latency run (with some failures), a bandwidth run and an open-loop
/// concurrent run with per-client figures, against a native threaded server, with
/// system sampling on. Made once for all tests of this file.
fn real_results() -> &'static ResultSet {
    static SET: OnceLock<ResultSet> = OnceLock::new();
    SET.get_or_init(|| {
        let spec = ServerSpec { binary: Some(BIN.into()), ..ServerSpec::new(ServerMode::Threaded) };
        let server = spec.start().unwrap_or_else(|e| panic!("cannot start the threaded server: {e}"));
        let target = Target::server(&server);
        let k = AtomicU64::new(0);
        let mut set = ResultSet::new();
        set.push(Latency::new("latency").requests(30).warmup(2).run(&target, |c| {
            if k.fetch_add(1, Ordering::Relaxed).is_multiple_of(5) {
                c.call("raise_error", ("ValueError", "every fifth")).map(drop)
            } else {
                c.call("ping", ()).map(drop)
            }
        }));
        set.push(Bandwidth::new("bandwidth").sizes([1u64 << 10, 64 << 10]).iterations(3).run_builtin(&target));
        set.push(
            Concurrent::new("concurrent")
                .clients(2)
                .requests_per_client(20)
                .load(Load::OpenLoop { rate_per_sec: 1000.0 })
                .per_client(true)
                .run(&target, |c| c.call("ping", ()).map(drop)),
        );
        set
    })
}

fn schema_text(schema: &Json) -> String {
    serde_json::to_string_pretty(schema).expect("a schema serializes") + "\n"
}

/// Checks the committed schema file `file` is exactly `generated` (by `source`), or
/// writes it with `RPYCBENCH_BLESS=1`. `bump` names the schema constant to change when
/// old files no longer read.
fn assert_published(file: &str, generated: &Json, source: &str, bump: &str) {
    let path = Path::new(file);
    if std::env::var_os("RPYCBENCH_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("schema/")).expect("create schema/");
        std::fs::write(path, schema_text(generated)).expect("write the schema file");
        eprintln!("wrote {}", path.display());
        return;
    }
    let regenerate = format!(
        "regenerate it with `RPYCBENCH_BLESS=1 cargo test -p rpycbench --test results_schema` \
         and commit the file (a change to the types changes the published format: \
         bump {bump} when old files no longer read)"
    );
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}\n{regenerate}", path.display()));
    let published: Json =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}\n{regenerate}", path.display()));
    assert!(
        &published == generated,
        "{} differs from {source}: {regenerate}.\n--- generated ---\n{}",
        path.display(),
        schema_text(generated)
    );
    assert_eq!(text, schema_text(generated), "{} is not in canonical form: {regenerate}", path.display());
}

#[test]
fn published_schema_matches_the_types() {
    assert_published(SCHEMA_FILE, &ResultSet::json_schema(), "ResultSet::json_schema()", "RESULTS_SCHEMA");
}

#[test]
fn the_schema_is_a_valid_json_schema_typing_the_unit_keys() {
    let schema = ResultSet::json_schema();
    jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("not a valid JSON Schema: {e}"));
    let seen = unit_properties_typed(&schema);
    assert!(seen.0 >= 10 && seen.1 >= 3, "the walk found {} _ns and {} _bps properties", seen.0, seen.1);
}

/// Asserts every property named *_ns is an integer and every *_bps a number, in the
/// schema itself; returns how many of each it found.
fn unit_properties_typed(schema: &Json) -> (usize, usize) {
    let mut seen = (0, 0);
    walk_schema_properties(schema, &mut |name, prop| {
        let types: Vec<&str> = match &prop["type"] {
            Json::String(t) => vec![t.as_str()],
            Json::Array(ts) => ts.iter().filter_map(Json::as_str).collect(),
            _ => Vec::new(),
        };
        if name.ends_with("_ns") {
            seen.0 += 1;
            assert!(types.contains(&"integer") && !types.contains(&"number"), "{name}: {prop}");
        }
        if name.ends_with("_bps") {
            seen.1 += 1;
            assert!(types.contains(&"number"), "{name}: {prop}");
        }
    });
    seen
}

fn walk_schema_properties(node: &Json, f: &mut dyn FnMut(&str, &Json)) {
    match node {
        Json::Object(map) => {
            if let Some(Json::Object(props)) = map.get("properties") {
                for (name, prop) in props {
                    f(name, prop);
                }
            }
            map.values().for_each(|v| walk_schema_properties(v, f));
        }
        Json::Array(items) => items.iter().for_each(|v| walk_schema_properties(v, f)),
        _ => {}
    }
}

#[test]
fn real_output_validates_against_the_schema() {
    let set = real_results();
    let kinds: Vec<&str> = set.results.iter().map(|r| r.kind.name()).collect();
    assert_eq!(kinds, ["latency", "bandwidth", "concurrent"]);
    assert!(set.results.iter().all(|r| r.system.is_some()), "system sampling was on");
    assert!(!set.results[0].outcomes.errors.is_empty(), "the latency run has failures to serialize");

    let instance: Json = serde_json::from_str(&set.to_json()).expect("to_json is JSON");
    let schema = ResultSet::json_schema();
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("the schema does not compile: {e}"));
    let errors: Vec<String> =
        validator.iter_errors(&instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "real output does not match the schema:\n{}", errors.join("\n"));

    // The validator does check: a wrongly typed time and a missing field are caught.
    let mut bad = instance.clone();
    bad["results"][0]["wall_time_ns"] = Json::from(1.5);
    assert!(!validator.is_valid(&bad), "a fractional wall_time_ns passed the schema");
    let mut bad = instance.clone();
    bad["results"][1].as_object_mut().expect("a result object").remove("outcomes");
    assert!(!validator.is_valid(&bad), "a result without outcomes passed the schema");
}

/// Checks every key of `node` ending `_ns` holds an integer (or null: an unset
/// option such as `params.duration_ns`) and every key ending `_bps` a number.
fn check_units(node: &Json, path: &str, counts: &mut (usize, usize)) {
    match node {
        Json::Object(map) => {
            for (key, value) in map {
                let here = format!("{path}.{key}");
                if key.ends_with("_ns") {
                    assert!(value.is_u64() || value.is_i64() || value.is_null(), "{here} = {value} is not an integer");
                    counts.0 += usize::from(!value.is_null());
                }
                if key.ends_with("_bps") {
                    assert!(value.is_number(), "{here} = {value} is not a number");
                    counts.1 += 1;
                }
                check_units(value, &here, counts);
            }
        }
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_units(v, &format!("{path}[{i}]"), counts);
            }
        }
        _ => {}
    }
}

#[test]
fn unit_keys_hold_integers_and_numbers() {
    let set = real_results();
    let json: Json = serde_json::from_str(&set.to_json()).expect("JSON");
    let mut counts = (0, 0);
    check_units(&json, "$", &mut counts);
    // 3 results × (wall time + latency summary) + sizes + clients + system: many of each.
    assert!(counts.0 > 50, "only {} _ns values found", counts.0);
    // 4 size results × 3 rates.
    assert_eq!(counts.1, 12, "_bps values found");

    // The walk does fail on a fractional time.
    let mut bad = json.clone();
    bad["results"][2]["latency"]["p99_ns"] = Json::from(1.5);
    let caught = std::panic::catch_unwind(|| check_units(&bad, "$", &mut (0, 0)));
    assert!(caught.is_err(), "a fractional p99_ns was not caught");
}

#[test]
fn files_name_their_schema() {
    assert_eq!(RESULTS_SCHEMA, "rpycbench/results/v1");
    assert_eq!(ResultSet::new().schema, RESULTS_SCHEMA);
    let json: Json = serde_json::from_str(&real_results().to_json()).expect("JSON");
    assert_eq!(json["schema"], "rpycbench/results/v1");
    assert_eq!(ResultSet::json_schema()["title"], "ResultSet");
}

#[test]
fn another_schema_is_refused_by_name() {
    let file = TempFile::new("v2.json");
    let mut json: Json = serde_json::from_str(&real_results().to_json()).expect("JSON");
    json["schema"] = Json::from("rpycbench/results/v2");
    std::fs::write(&file.0, json.to_string()).expect("write");
    match ResultSet::load(&file.0) {
        Err(ResultFileError::UnknownSchema { found, path }) => {
            assert_eq!(found, "rpycbench/results/v2");
            assert_eq!(path, file.0.display().to_string());
        }
        other => panic!("expected UnknownSchema, got {other:?}"),
    }
    // Not even a v1 body makes another schema readable, and the message says so.
    let e = ResultSet::from_json(r#"{"schema": "someone-else/v1"}"#, "x.json").unwrap_err();
    assert!(matches!(&e, ResultFileError::UnknownSchema { found, .. } if found == "someone-else/v1"), "{e:?}");
    assert!(e.to_string().contains("rpycbench/results/v1"), "{e}");
}

#[test]
fn garbage_is_corrupt() {
    let file = TempFile::new("garbage.json");
    std::fs::write(&file.0, b"\x00\x01 this is not JSON {").expect("write");
    assert!(matches!(ResultSet::load(&file.0), Err(ResultFileError::Corrupt { .. })));
    for text in ["", "[1, 2]", r#"{"created_at": "x", "results": []}"#, r#"{"schema": "rpycbench/results/v1"}"#] {
        let got = ResultSet::from_json(text, "t.json");
        assert!(matches!(got, Err(ResultFileError::Corrupt { .. })), "{text:?} gave {got:?}");
    }
    let missing = TempFile::new("missing.json");
    assert!(matches!(ResultSet::load(&missing.0), Err(ResultFileError::Io { .. })));
}

#[test]
fn save_and_load_round_trip() {
    let file = TempFile::new("round-trip.json");
    let set = real_results();
    set.save(&file.0).expect("save");
    let back = ResultSet::load(&file.0).expect("load");
    assert_eq!(back.results.len(), set.results.len());
    for (a, b) in set.results.iter().zip(&back.results) {
        assert_eq!(a, b, "{} changed through the file", a.name);
    }
    assert_eq!(&back, set);
    // The histograms survive too: the distribution read back gives the same summary.
    let stats = back.results.iter().flat_map(|r| r.latency.iter().chain(r.sizes.iter().map(|s| &s.latency)));
    let mut checked = 0;
    for s in stats {
        // Round summaries sit beside the merged histogram; everything else comes from it.
        let merged = s.histogram().expect("histogram decodes").stats();
        assert_eq!(&rpycbench::metrics::LatencyStats { rounds: s.rounds.clone(), ..merged }, s);
        checked += 1;
    }
    assert_eq!(checked, 2 + 4, "latency and concurrent summaries, and 4 bandwidth sizes");
    // Saving is atomic: no temporary file is left beside the result.
    let dir = file.0.parent().expect("temp dir");
    let stem = file.0.file_name().expect("name").to_string_lossy().into_owned();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .expect("list temp dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&stem.replace(".json", "")) && n != &stem)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn results_with_the_same_name_are_all_kept() {
    let mut set = ResultSet::new();
    let first: BenchResult = real_results().results[0].clone();
    let mut second = real_results().results[2].clone();
    second.name = first.name.clone();
    set.push(first.clone());
    set.push(second.clone());
    assert_eq!(set.results.len(), 2);
    assert_eq!(set.get(&first.name), Some(&first));

    let file = TempFile::new("same-name.json");
    set.save(&file.0).expect("save");
    let back = ResultSet::load(&file.0).expect("load");
    assert_eq!(back.results, vec![first, second], "both results, in order");
}

// ---- Profiler telemetry: rpycbench/telemetry/v1 ----

/// Spawns `cmd` with piped stdout and returns it with the address of its first line,
/// `listening on HOST:PORT` (within 20 s; a child that says nothing fails the test).
fn spawn_listening(cmd: &mut Command) -> (KillOnDrop, SocketAddr) {
    let mut child = KillOnDrop(cmd.stdin(Stdio::null()).stdout(Stdio::piped()).spawn().expect("spawn rpycbench"));
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next().and_then(Result::ok));
        // Keep reading so the child never blocks on a full pipe.
        lines.for_each(drop);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).ok().flatten().expect("no `listening on` line within 20 s");
    let addr = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (child, addr.parse().expect("the line names an address"))
}

/// SIGTERM, wait (at most 10 s) for a clean exit, then read the telemetry it wrote.
fn terminate_and_read(mut child: KillOnDrop, json: &TempFile) -> Json {
    let pid = nix::unistd::Pid::from_raw(child.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let status = common::exit_within(&mut child.0, Duration::from_secs(10), "rpycbench, after SIGTERM,");
    assert!(status.success(), "exited with {status} on SIGTERM");
    let text = std::fs::read_to_string(&json.0).unwrap_or_else(|e| panic!("no telemetry at {}: {e}", json.0.display()));
    serde_json::from_str(&text).expect("the telemetry file is JSON")
}

/// What the telemetry must show: a returned object (user proxies), an exception, and
/// a callback from the server (nested → the client's function).
fn workload(conn: &mut Connection) {
    conn.call("ping", ()).expect("ping");
    let users = conn.call("get_users", (3,)).expect("get_users");
    let users: Vec<RemoteRef> = conn.collect(users.as_remote().expect("a list travels by reference")).expect("iterate");
    let names: Vec<String> = users.iter().map(|u| conn.getattr(u, "name").and_then(|n| n.extract()).unwrap()).collect();
    assert_eq!(names, ["user0", "user1", "user2"]);
    assert!(conn.call("raise_error", ("ValueError", "on purpose")).is_err(), "raise_error raised nothing");
    let callback = Object::callback(|_, args| Ok(Object::from(args.arg::<i64>(0)? * 2)));
    let got: i64 = conn.call("nested", (1, callback)).and_then(|r| r.extract()).expect("nested with a callback");
    assert!(got > 0, "nested(1, cb) = {got}");
}

/// Real telemetry from each writer, as JSON, with the workload above on a native
/// threaded server: the `Profiler` API, `rpycbench proxy --json` in front of that
/// server, and `RPYCBENCH_PROFILE=FILE` on an `rpycbench serve` process. Made once.
fn real_telemetry() -> &'static [(&'static str, Json)] {
    static DOCS: OnceLock<Vec<(&'static str, Json)>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let server = ServerSpec { binary: Some(BIN.into()), ..ServerSpec::new(ServerMode::Threaded) }
            .start()
            .unwrap_or_else(|e| panic!("cannot start the threaded server: {e}"));
        let mut conn = Connection::connect(server.addr()).expect("connect");
        let profiler = Profiler::default();
        profiler.attach(&mut conn);
        workload(&mut conn);
        let api = serde_json::from_str(&profiler.detach(&mut conn).to_json()).expect("to_json is JSON");

        let json = TempFile::new("proxy-telemetry.json");
        let upstream = server.addr().to_string();
        let (proxy, addr) = spawn_listening(
            Command::new(BIN)
                .args(["proxy", "--quiet", "--listen", "127.0.0.1:0", "--upstream", &upstream, "--json"])
                .arg(&json.0),
        );
        workload(&mut Connection::connect(addr).expect("connect through the proxy"));
        let relay = terminate_and_read(proxy, &json);

        let json = TempFile::new("env-telemetry.json");
        let (served, addr) = spawn_listening(
            Command::new(BIN)
                .args(["serve", "--mode", "threaded", "--host", "127.0.0.1", "--port", "0"])
                .env("RPYCBENCH_PROFILE", &json.0)
                .stderr(Stdio::null()),
        );
        workload(&mut Connection::connect(addr).expect("connect to the profiled server"));
        let env = terminate_and_read(served, &json);
        vec![("Profiler", api), ("proxy --json", relay), ("RPYCBENCH_PROFILE", env)]
    })
}

#[test]
fn published_telemetry_schema_matches_the_types() {
    let schema = Telemetry::json_schema();
    assert_published(TELEMETRY_SCHEMA_FILE, &schema, "Telemetry::json_schema()", "TELEMETRY_SCHEMA");
    jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("not a valid JSON Schema: {e}"));
    assert_eq!(schema["title"], "Telemetry");
    let (ns, _) = unit_properties_typed(&schema);
    assert!(ns >= 7, "the walk found only {ns} _ns properties");
}

#[test]
fn real_telemetry_validates_against_the_schema() {
    let validator = jsonschema::validator_for(&Telemetry::json_schema())
        .unwrap_or_else(|e| panic!("the telemetry schema does not compile: {e}"));
    for (writer, doc) in real_telemetry() {
        assert_eq!(doc["schema"], TELEMETRY_SCHEMA, "[{writer}]");
        let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "[{writer}] real telemetry does not match the schema:\n{}", errors.join("\n"));
        // The documents hold what the workload did, so every part of the schema was used.
        let calls = doc["calls"].as_array().expect("calls");
        let outcomes: Vec<&str> = calls.iter().filter_map(|c| c["outcome"].as_str()).collect();
        assert!(outcomes.contains(&"exception") && outcomes.contains(&"reply"), "[{writer}] {outcomes:?}");
        assert!(doc["max_depth"].as_u64() >= Some(1), "[{writer}] the callback nests: {}", doc["max_depth"]);
        assert!(doc["references"].as_array().is_some_and(|r| !r.is_empty()), "[{writer}] no references");
        assert!(doc["methods"].as_array().is_some_and(|m| !m.is_empty()), "[{writer}] no methods");
        // And it reads back as the type.
        let back: Telemetry = serde_json::from_value(doc.clone()).expect("telemetry JSON reads back");
        assert_eq!(back.calls.len(), calls.len(), "[{writer}]");
    }

    // The validator does check: a wrong type, an unknown outcome, a missing part fail.
    let doc = &real_telemetry()[0].1;
    let mut bad = doc.clone();
    bad["elapsed_ns"] = Json::from("12");
    assert!(!validator.is_valid(&bad), "a string elapsed_ns passed the schema");
    let mut bad = doc.clone();
    bad["calls"][0]["outcome"] = Json::from("exploded");
    assert!(!validator.is_valid(&bad), "an unknown outcome passed the schema");
    let mut bad = doc.clone();
    bad["references"][0]["direction"] = Json::from("sideways");
    assert!(!validator.is_valid(&bad), "an unknown direction passed the schema");
    let mut bad = doc.clone();
    bad.as_object_mut().expect("an object").remove("c2s");
    assert!(!validator.is_valid(&bad), "telemetry without c2s passed the schema");
}
