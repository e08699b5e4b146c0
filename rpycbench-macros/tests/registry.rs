//! The registry after expansion: every declaration's `BenchDef` as the harness reads it
//! (kind and defaults, servers, SLAs, flags, location), and its adapter called against
//! a real in-process server, for functions returning `()`, `Result` and `Err`.
//!
//! The crate forbids unsafe code: the expansion must not need any.
#![forbid(unsafe_code)]

use rpycbench::harness::{benchmarks, BenchDef, BenchFn, Kind, ServerChoice, Sla, Stat};
use rpycbench::prelude::*;
use rpycbench::server::{serve_threaded, BenchmarkService, ServeOptions};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

static UNIT_CALLS: AtomicU64 = AtomicU64::new(0);

const PING_LINE: u32 = line!() + 2;
#[rpyc_bench(latency)]
fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ())?;
    Ok(())
}

/// Returns `()`, with every latency option and SLA it allows.
#[rpyc_bench(
    latency,
    requests = 2_000,
    warmup = 0,
    p99_ms = 100,
    mean_ms = 2.5,
    p50_ms = 1,
    p90_ms = 2,
    p95_ms = 3,
    p999_ms = 150,
    max_ms = 1_000,
    min_success_rate = 0.99,
    min_throughput_rps = 1000,
    max_round_trips = 1,
    max_references = 0,
    regression_pct = 5,
    ignore
)]
fn unit(conn: &mut Connection) {
    conn.call("ping", ()).expect("ping");
    UNIT_CALLS.fetch_add(1, Ordering::Relaxed);
}

#[rpyc_bench(latency, duration_ms = 500, ignore = false)]
fn failing(_conn: &mut Connection) -> Result<u32, String> {
    Err("boom".to_owned())
}

#[rpyc_bench(latency, duration_ms = 500)]
fn failing_typed(conn: &mut Connection) -> Result<(), rpycbench::harness::Failed> {
    // `?` on an RPyC error and on an error of another type alike.
    conn.call("no_such_method", ())?;
    let _n: u32 = "x".parse()?;
    Ok(())
}

#[rpyc_bench(connection)]
fn connect_default(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

#[rpyc_bench(connection, connections = 5, keep_open, p95_ms = 20, min_success_rate = 1, remote = "RPYC_REMOTE_HOST")]
fn connect_kept(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

#[rpyc_bench(bandwidth, direction = upload)]
fn upload_default(conn: &mut Connection, data: &Value) -> rpycbench::Result<()> {
    conn.call("upload", (data.clone(),)).map(drop)
}

#[rpyc_bench(bandwidth, direction = download, sizes = [1, 2_048], iterations = 2, warmup = 0, min_bandwidth_mbps = 1.5)]
fn download_small(conn: &mut Connection, mut size: u64) -> rpycbench::Result<()> {
    // A `mut` pattern is the user's business.
    size = size.max(1);
    conn.call("download", (size,)).map(drop)
}

#[rpyc_bench(transfer, direction = download)]
fn transfer_default(conn: &mut Connection, size: u64) -> rpycbench::Result<()> {
    conn.call("download", (size,)).map(drop)
}

#[rpyc_bench(transfer, direction = upload, sizes = [4096], chunk_size = 1024, iterations = 1, max_ms = 50)]
fn transfer_up(conn: &mut Connection, data: &Value) -> rpycbench::Result<()> {
    conn.call("upload", (data.clone(),)).map(drop)
}

#[rpyc_bench(concurrent)]
fn concurrent_default(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

#[rpyc_bench(
    concurrent, clients = 4, requests_per_client = 10, rate = 250.5, per_client,
    servers = [threaded, forking, python_threaded, "python-forking"], p99_ms = 50, min_throughput_rps = 10
)]
fn concurrent_open(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

fn make_service() -> Arc<BenchmarkService> {
    Arc::new(BenchmarkService::default())
}

#[rpyc_bench(
    latency, server = forking, python_service = "svc.mod:Svc", python_path = "py", python_mode = [threaded, forking],
    rust_service = make_service, rust_mode = forking, external = "STAGING_RPYC"
)]
fn everywhere(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

#[rpyc_bench(latency, python_service = "svc:Svc", rust_service = self::make_service)]
fn default_modes(conn: &mut Connection) -> rpycbench::Result<()> {
    conn.call("ping", ()).map(drop)
}

mod nested {
    use rpycbench::prelude::*;

    // A raw identifier, a lifetime, `pub` and an attribute.
    #[rpyc_bench(latency, requests = 1)]
    #[allow(clippy::needless_lifetimes)]
    pub fn r#type<'a>(conn: &'a mut Connection) -> rpycbench::Result<()> {
        conn.call("ping", ()).map(drop)
    }
}

fn find(name: &str) -> &'static BenchDef {
    let all: Vec<_> = benchmarks().into_iter().filter(|b| b.name == name).collect();
    assert_eq!(all.len(), 1, "one `{name}` registered");
    all[0]
}

#[test]
fn every_declaration_is_registered_in_name_order() {
    let names: Vec<_> = benchmarks().iter().map(|b| b.name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 15, "{names:?}");
}

#[test]
fn what_is_not_written_is_left_to_the_builders_defaults() {
    // The values the attribute's documentation table shows.
    use rpycbench::bench::{Bandwidth, Concurrent, ConnectionBench, Latency, Transfer, DEFAULT_SIZES};
    assert_eq!((Latency::DEFAULT_REQUESTS, Latency::DEFAULT_WARMUP), (1000, 10));
    assert_eq!(ConnectionBench::DEFAULT_CONNECTIONS, 100);
    assert_eq!(
        (DEFAULT_SIZES, Bandwidth::DEFAULT_ITERATIONS, Bandwidth::DEFAULT_WARMUP),
        ([1024, 10240, 102400, 1048576], 10, 1)
    );
    assert_eq!(
        (Transfer::DEFAULT_SIZES, Transfer::DEFAULT_CHUNK_SIZE, Transfer::DEFAULT_ITERATIONS),
        ([1048576, 10485760], 65536, 3)
    );
    assert_eq!((Concurrent::DEFAULT_CLIENTS, Concurrent::DEFAULT_REQUESTS_PER_CLIENT), (10, 100));

    let def = find("ping");
    assert!(matches!(def.kind, Kind::Latency { requests: None, warmup: None, duration_ms: None }));
    assert!(def.servers.is_empty() && def.slas.is_empty());
    assert_eq!((def.regression_pct, def.ignored), (None, false));
    assert!(matches!(def.func, BenchFn::Request(_)));
    assert!(matches!(find("connect_default").kind, Kind::Connection { connections: None, keep_open: false }));
    assert!(matches!(find("upload_default").kind, Kind::Bandwidth { sizes: None, iterations: None, warmup: None }));
    assert!(matches!(
        find("transfer_default").kind,
        Kind::Transfer { sizes: None, chunk_size: None, iterations: None }
    ));
    assert!(matches!(
        find("concurrent_default").kind,
        Kind::Concurrent { clients: None, requests_per_client: None, rate: None, per_client: false }
    ));
}

#[test]
fn options_set_parameters_slas_and_flags() {
    let def = find("unit");
    assert!(matches!(def.kind, Kind::Latency { requests: Some(2000), warmup: Some(0), duration_ms: None }));
    let sla = |stat, bound| Sla { stat, bound };
    let expected = [
        sla(Stat::P99Ms, 100.0),
        sla(Stat::MeanMs, 2.5),
        sla(Stat::P50Ms, 1.0),
        sla(Stat::P90Ms, 2.0),
        sla(Stat::P95Ms, 3.0),
        sla(Stat::P999Ms, 150.0),
        sla(Stat::MaxMs, 1000.0),
        sla(Stat::MinSuccessRate, 0.99),
        sla(Stat::MinThroughputRps, 1000.0),
        sla(Stat::MaxRoundTrips, 1.0),
        sla(Stat::MaxReferences, 0.0),
    ];
    assert_eq!(def.slas, expected);
    assert_eq!((def.regression_pct, def.ignored), (Some(5.0), true));

    assert!(matches!(find("failing").kind, Kind::Latency { duration_ms: Some(500), .. }));
    assert!(!find("failing").ignored);
    let kept = find("connect_kept");
    assert!(matches!(kept.kind, Kind::Connection { connections: Some(5), keep_open: true }));
    assert_eq!(kept.slas, [sla(Stat::P95Ms, 20.0), sla(Stat::MinSuccessRate, 1.0)]);
    let download = find("download_small");
    match download.kind {
        Kind::Bandwidth { sizes: Some(sizes), iterations: Some(2), warmup: Some(0) } => assert_eq!(sizes, [1, 2048]),
        other => panic!("{other:?}"),
    }
    assert_eq!(download.slas, [sla(Stat::MinBandwidthMbps, 1.5)]);
    assert!(matches!(download.func, BenchFn::Download(_)));
    let up = find("transfer_up");
    assert!(matches!(up.kind, Kind::Transfer { chunk_size: Some(1024), iterations: Some(1), .. }));
    assert!(matches!(up.func, BenchFn::Upload(_)));
    let open = find("concurrent_open").kind;
    assert!(matches!(
        open,
        Kind::Concurrent { clients: Some(4), requests_per_client: Some(10), rate: Some(250.5), per_client: true }
    ));
}

#[test]
fn servers_in_order_one_per_mode() {
    let modes: Vec<_> = find("concurrent_open")
        .servers
        .iter()
        .map(|s| match s {
            ServerChoice::Builtin(mode) => *mode,
            other => panic!("{other:?}"),
        })
        .collect();
    // Every RPyC mode (benchmark functions take an RPyC connection; the HTTP baseline
    // is not a mode).
    assert_eq!(modes, ServerMode::ALL);

    let servers = find("everywhere").servers;
    assert_eq!(servers.len(), 5, "{servers:?}");
    assert!(matches!(servers[0], ServerChoice::Builtin(ServerMode::Forking)));
    for (choice, want) in servers[1..3].iter().zip([ServerMode::PythonThreaded, ServerMode::PythonForking]) {
        match choice {
            ServerChoice::Python { service: "svc.mod:Svc", path: "py", mode } => assert_eq!(*mode, want),
            other => panic!("{other:?}"),
        }
    }
    match servers[3] {
        ServerChoice::Rust { name: "make_service", factory, mode: ServerMode::Forking } => {
            assert_eq!(factory().type_name(), "rpycbench_service.BenchmarkService");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(servers[4], ServerChoice::External { env: "STAGING_RPYC" }));

    let defaults = find("default_modes").servers;
    assert!(matches!(defaults[0], ServerChoice::Python { path: ".", mode: ServerMode::PythonThreaded, .. }));
    assert!(matches!(defaults[1], ServerChoice::Rust { name: "self::make_service", mode: ServerMode::Threaded, .. }));
}

#[test]
fn location_and_names() {
    let def = find("ping");
    assert_eq!((def.file, def.line), (file!(), PING_LINE));
    assert_eq!(def.module_path, module_path!());
    let raw = find("type");
    assert_eq!(raw.module_path, concat!(module_path!(), "::nested"));
}

/// A native threaded server with the built-in service, for the whole test binary.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    static STOP: AtomicBool = AtomicBool::new(false);
    *ADDR.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        std::thread::spawn(move || serve_threaded(listener, ServeOptions::builtin(), &STOP));
        addr
    })
}

fn call(name: &str, conn: &mut Connection) -> rpycbench::Result<()> {
    match find(name).func {
        BenchFn::Request(f) => f(conn),
        BenchFn::Upload(f) => f(conn, &Value::from(vec![7; 64])),
        BenchFn::Download(f) => f(conn, 64),
    }
}

#[test]
fn adapters_call_the_functions() {
    let mut conn = Connection::connect(server()).expect("connect");
    for name in ["ping", "connect_kept", "upload_default", "download_small", "transfer_up", "everywhere", "type"] {
        call(name, &mut conn).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let before = UNIT_CALLS.load(Ordering::Relaxed);
    call("unit", &mut conn).expect("a `()` function is a success");
    assert_eq!(UNIT_CALLS.load(Ordering::Relaxed), before + 1);
    match call("failing", &mut conn) {
        Err(e @ rpycbench::Error::Other(_)) => assert_eq!(e.to_string(), "boom"),
        other => panic!("an `Err` is a failed request: {other:?}"),
    }
    // An RPyC error returned through `Failed` stays itself: the run can tell a remote
    // exception, a timeout or a dead connection from a message.
    match call("failing_typed", &mut conn) {
        Err(rpycbench::Error::Remote(ex)) => assert_eq!(ex.class, "AttributeError", "{ex}"),
        other => panic!("the remote exception is kept: {other:?}"),
    }
}

#[test]
fn remote_names_its_environment_variable() {
    assert_eq!(find("connect_kept").remote, Some("RPYC_REMOTE_HOST"));
    assert_eq!(find("ping").remote, None);
}
