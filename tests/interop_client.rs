//! The Rust client against real Python `rpyc==6.0.2` servers (tests/python/interop_server.py),
//! over real sockets: every capability of the client, proven against the reference peer.

mod support;

use num_bigint::BigInt;
use rpycbench::client::{CmpOp, Config, Connection, Object};
use rpycbench::{kwargs, Error, Value};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use support::{ClosedPort, PythonServer};

fn threaded() -> (PythonServer, Connection) {
    let server = PythonServer::start("threaded", &[]);
    let conn = Connection::connect(server.addr).expect("connect to the Python server");
    (server, conn)
}

fn remote_error(e: Error) -> rpycbench::wire::RemoteException {
    match e {
        Error::Remote(r) => *r,
        other => panic!("expected a remote exception, got {other}"),
    }
}

#[test]
fn every_brine_type_round_trips_through_echo() {
    let (_server, mut conn) = threaded();
    let values = vec![
        Value::None,
        Value::Bool(true),
        Value::Bool(false),
        Value::Int(0),
        Value::Int(-48),
        Value::Int(160),
        Value::Int(i64::MIN),
        Value::from(BigInt::from(7).pow(200)),
        Value::Float(2.5),
        Value::Float(-0.0),
        Value::Float(f64::INFINITY),
        Value::Complex(1.5, -2.0),
        Value::from(vec![0, 255, 10]),
        Value::from(vec![7; 70_000]),
        Value::from("h\u{e9}llo \u{4e16}\u{754c}"),
        Value::from((1, "x", (Value::None, true))),
        Value::FrozenSet(vec![Value::Int(5)]),
        Value::slice(1, Value::None, -2),
        Value::Ellipsis,
        Value::NotImplemented,
    ];
    for v in values {
        let back = conn.call("echo", (v.clone(),)).unwrap();
        assert!(back.as_value().is_some_and(|b| b.same_as(&v)), "echo({v}) came back as {}", back.describe());
    }
    // NaN is not equal to itself, so compare its bits.
    let nan = conn.call("echo", (f64::NAN,)).unwrap().extract::<f64>().unwrap();
    assert!(nan.is_nan());
}

#[test]
fn typed_arguments_and_results_read_naturally() {
    let (_server, mut conn) = threaded();
    let (a, b, c, d, e): (i64, String, Vec<u8>, f64, Option<i64>) =
        conn.call("echo", ((1, "x", b"\x00", 2.5, Value::None),)).unwrap().extract().unwrap();
    assert_eq!((a, b.as_str(), c.as_slice(), d, e), (1, "x", &b"\x00"[..], 2.5, None));
    assert_eq!(conn.call("add", (2, 40)).unwrap().extract::<i64>().unwrap(), 42);
    let big: BigInt = conn.call("get_big", ()).unwrap().extract().unwrap();
    assert_eq!(big, BigInt::from(2).pow(100));
    assert_eq!(conn.call("exposed_ping", ()).unwrap().as_str(), Some("pong"), "exposed_ prefix resolves too");
}

#[test]
fn keyword_arguments() {
    let (_server, mut conn) = threaded();
    let got = conn.call_kw("echo_args", (1, "x"), kwargs! { "k" => 2, "name" => "n" }).unwrap();
    let expected = Value::from(((1, "x"), (("k", 2), ("name", "n"))));
    assert_eq!(got.as_value(), Some(&expected));
}

#[test]
fn remote_objects_through_proxies() {
    let (_server, mut conn) = threaded();
    let p = conn.call("get_point", (3, 4)).unwrap().extract::<rpycbench::client::RemoteRef>().unwrap();
    assert!(p.type_name().ends_with(".Point"), "{}", p.type_name());
    assert_eq!(conn.getattr(&p, "x").unwrap().extract::<i64>().unwrap(), 3);
    assert_eq!(conn.getattr(&p, "y").unwrap().extract::<i64>().unwrap(), 4);
    let norm: i64 = conn.call_method(&p, "norm2", (), vec![]).unwrap().extract().unwrap();
    assert_eq!(norm, 25);
    assert_eq!(conn.repr(&p).unwrap(), "Point(3, 4)");
    assert_eq!(conn.str(&p).unwrap(), "Point(3, 4)");
    assert!(conn.dir(&p).unwrap().contains(&"exposed_norm2".to_string()));
    let q = conn.call("get_point", (3, 4)).unwrap().extract::<rpycbench::client::RemoteRef>().unwrap();
    assert_eq!(conn.hash(&p).unwrap(), conn.hash(&q).unwrap());
    assert!(conn.compare(&p, CmpOp::Eq, &q).unwrap().extract::<bool>().unwrap());
    let r = conn.call("get_point", (5, 0)).unwrap().extract::<rpycbench::client::RemoteRef>().unwrap();
    assert!(conn.compare(&p, CmpOp::Lt, &r).unwrap().extract::<bool>().unwrap());
    // A default Python service refuses plain attribute writes and private names.
    let denied = remote_error(conn.setattr(&p, "x", 9).unwrap_err());
    assert_eq!(denied.class, "AttributeError");
    let missing = remote_error(conn.getattr(&p, "nope").unwrap_err());
    assert_eq!(missing.class, "AttributeError");
}

#[test]
fn lists_and_dicts_travel_by_reference() {
    let (_server, mut conn) = threaded();
    let list = conn.call("get_list", (5,)).unwrap().extract::<rpycbench::client::RemoteRef>().unwrap();
    assert_eq!(list.type_name(), "builtins.list");
    assert_eq!(conn.len(&list).unwrap(), 5);
    assert_eq!(conn.getitem(&list, -1).unwrap().extract::<i64>().unwrap(), 4);
    assert_eq!(conn.collect::<i64>(&list).unwrap(), vec![0, 1, 2, 3, 4]);

    let dict = conn.call("get_dict", ()).unwrap().extract::<rpycbench::client::RemoteRef>().unwrap();
    assert_eq!(dict.type_name(), "builtins.dict");
    assert_eq!(conn.getitem(&dict, "b").unwrap().as_str(), Some("two"));
    assert_eq!(conn.len(&dict).unwrap(), 3);
    let keyerr = remote_error(conn.getitem(&dict, "zz").unwrap_err());
    assert_eq!(keyerr.class, "KeyError");

    // A tuple mixing values and a reference arrives as an Object::Tuple.
    let (one, inner, x): (i64, rpycbench::client::RemoteRef, String) =
        conn.call("get_nested", ()).unwrap().extract().unwrap();
    assert_eq!((one, x.as_str()), (1, "x"));
    assert_eq!(conn.collect::<i64>(&inner).unwrap(), vec![2, 3]);
}

#[test]
fn callbacks_run_while_the_client_waits() {
    let (_server, mut conn) = threaded();
    let triple = Object::callback(|_conn, args| Ok((args.arg::<i64>(0)? * 3).into()));
    assert_eq!(conn.call("call_back", (triple, 5)).unwrap().extract::<i64>().unwrap(), 16);

    let kw = Object::callback(|_conn, args| {
        let k: i64 = args.kwarg("k")?.unwrap_or(0);
        Ok((args.arg::<i64>(0)? + k).into())
    });
    assert_eq!(conn.call("call_back_kwargs", (kw,)).unwrap().extract::<i64>().unwrap(), 3);

    // A failing callback: the server's handler fails in turn, and both tracebacks come back.
    let failing = Object::callback(|_conn, _args| Err(Error::raise("ValueError", "callback says no")));
    let e = remote_error(conn.call("call_back", (failing, 1)).unwrap_err());
    assert_eq!(e.class, "ValueError");
    assert!(e.traceback.contains("callback says no"), "{}", e.traceback);
    assert_eq!(conn.call("ping", ()).unwrap().as_str(), Some("pong"), "connection survives");
}

#[test]
fn the_server_iterates_and_measures_client_sequences() {
    let (_server, mut conn) = threaded();
    let seq = Object::list((1..=10).map(Object::from).collect());
    assert_eq!(conn.call("sum_iter", (seq.clone(),)).unwrap().extract::<i64>().unwrap(), 55);
    assert_eq!(conn.call("length", (seq,)).unwrap().extract::<i64>().unwrap(), 10);
}

#[test]
fn nested_callbacks_to_any_depth() {
    let (_server, mut conn) = threaded();
    // The callback calls `nested` again, so requests nest on the wire in both directions.
    let slot: Arc<OnceLock<Object>> = Arc::new(OnceLock::new());
    let inner = slot.clone();
    let cb = Object::callback(move |conn, args| {
        let depth: i64 = args.arg(0)?;
        let me = inner.get().expect("set before the first call").clone();
        conn.call("nested", (depth, me))
    });
    slot.set(cb.clone()).expect("set once");
    let before = conn.counters();
    assert_eq!(conn.call("nested", (6, cb)).unwrap().extract::<i64>().unwrap(), 6);
    let traffic = conn.counters() - before;
    assert_eq!(traffic.requests_received.get(rpycbench::wire::Handler::Call), 6, "{traffic:?}");
}

#[test]
fn async_requests_are_matched_by_sequence_number() {
    let (_server, mut conn) = threaded();
    let start = Instant::now();
    let slow = conn.call_async("sleep", (0.3,)).unwrap();
    let fast = conn.call_async("echo", ("second",)).unwrap();
    let third = conn.call_async("add", (1, 2)).unwrap();
    // Redeemed out of order: replies are matched by seq, not by position.
    assert_eq!(conn.wait(third).unwrap().extract::<i64>().unwrap(), 3);
    assert_eq!(conn.wait(fast).unwrap().as_str(), Some("second"));
    assert_eq!(conn.wait(slow).unwrap().extract::<f64>().unwrap(), 0.3);
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn remote_exceptions_are_typed() {
    let (_server, mut conn) = threaded();
    for kind in ["ValueError", "KeyError", "TypeError", "ZeroDivisionError", "RuntimeError"] {
        let e = remote_error(conn.call("raise_builtin", (kind, "boom")).unwrap_err());
        assert_eq!((e.module.as_str(), e.class.as_str()), ("builtins", kind));
        assert_eq!(e.args, vec![Value::from("boom")]);
        assert!(e.traceback.starts_with("Traceback (most recent call last)"), "{}", e.traceback);
        assert!(e.attr("_remote_version").is_some());
    }
    let custom = remote_error(conn.call("raise_custom", (7,)).unwrap_err());
    assert_eq!(custom.class, "InteropError");
    assert_eq!(custom.attr("code"), Some(&Value::Int(7)));
    let shown = Error::Remote(Box::new(custom)).to_string();
    assert!(shown.contains("InteropError") && shown.contains("remote traceback"), "{shown}");
    let missing = remote_error(conn.call("no_such_method", ()).unwrap_err());
    assert_eq!(missing.class, "AttributeError");
}

#[test]
fn python_style_calls_cost_three_requests_and_callattr_one() {
    let (_server, mut conn) = threaded();
    conn.root().unwrap();
    let before = conn.counters();
    assert_eq!(conn.call("ping", ()).unwrap().as_str(), Some("pong"));
    let one = conn.counters() - before;
    assert_eq!((one.requests_sent.total(), one.round_trips()), (1, 1));

    let before = conn.counters();
    assert_eq!(conn.call_python_style("ping", ()).unwrap().as_str(), Some("pong"));
    conn.call("ping", ()).unwrap(); // the method proxy's DEL goes out before this request
    let python = conn.counters() - before;
    use rpycbench::wire::Handler::*;
    assert_eq!([GetAttr, Call, Del, CallAttr].map(|h| python.requests_sent.get(h)), [1, 1, 1, 1], "{python:?}");
    assert_eq!(python.refs_received, 1);
    assert_eq!(python.refs_released, 1);
}

#[test]
fn dropped_proxies_are_released_with_the_right_count() {
    let (_server, mut conn) = threaded();
    let baseline: i64 = conn.call("live_refs", ()).unwrap().extract().unwrap();
    let a = conn.call("shared_point", ()).unwrap();
    let b = conn.call("shared_point", ()).unwrap();
    assert_eq!(a, b, "the same remote object gives the same proxy");
    assert_eq!(conn.remote_refs_held(), 2, "root and the shared point");
    let held: i64 = conn.call("live_refs", ()).unwrap().extract().unwrap();
    assert_eq!(held, baseline + 1, "one table entry, lent twice");
    drop((a, b));
    let before = conn.counters();
    let after: i64 = conn.call("live_refs", ()).unwrap().extract().unwrap();
    assert_eq!(after, baseline, "one DEL with count 2 released it");
    let del = conn.counters() - before;
    assert_eq!((del.requests_sent.get(rpycbench::wire::Handler::Del), del.refs_released), (1, 2));
}

/// A DEL sent before a request makes rpyc write two answers back to back on a socket
/// with Nagle on, so the second waits for our ACK of the first; with Linux's delayed
/// ACK that wait is 40 ms per operation unless the client acknowledges at once. This
/// guards that behaviour, not a speed: it counts stalled operations (30 ms or more; one
/// takes about a millisecond). A stall comes back on every operation, while a loaded
/// machine delays only the odd one, so a third of them is a clear line between the two.
#[test]
fn releasing_proxies_does_not_stall_on_delayed_acks() {
    let (_server, mut conn) = threaded();
    let mut took = Vec::new();
    for _ in 0..31 {
        let start = Instant::now();
        // The DEL of the previous round's point goes out with this call.
        let point = conn.call("get_point", (1, 2)).unwrap();
        let x = conn.getattr(point.as_remote().unwrap(), "x").unwrap();
        assert_eq!(x.extract::<i64>().unwrap(), 1);
        took.push(start.elapsed());
    }
    took.remove(0); // the first round had nothing to release
    let stalled = took.iter().filter(|t| **t >= Duration::from_millis(30)).count();
    assert!(stalled < took.len() / 3, "{stalled} of {} operations with a DEL stalled ({took:?})", took.len());
}

#[test]
fn ping_and_prompt_close() {
    let server = PythonServer::start("threaded", &[]);
    // close() waits for the hang-up at most close_timeout: a long one, so that a close
    // well within it shows that Python hung up.
    let config = Config { close_timeout: Duration::from_secs(10), ..Config::default() };
    let mut conn = Connection::connect_with(server.addr, config).unwrap();
    let rtt = conn.ping().unwrap();
    assert!(rtt < Duration::from_secs(3));
    let start = Instant::now();
    conn.close().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5), "close took {:?}", start.elapsed());
    assert!(matches!(conn.call("ping", ()), Err(Error::AlreadyClosed)));
}

#[test]
fn a_timeout_is_an_error_and_the_connection_survives_it() {
    let server = PythonServer::start("threaded", &[]);
    let config = Config::default().request_timeout(Duration::from_millis(300));
    let mut conn = Connection::connect_with(server.addr, config).unwrap();
    let start = Instant::now();
    let err = conn.call("sleep", (1.0,)).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_millis(900), "timed out after {:?}", start.elapsed());
    // The late reply is dropped when it arrives; the next call gets its own answer.
    let before = conn.counters().replies_received;
    let deadline = Instant::now() + Duration::from_secs(10);
    while conn.counters().replies_received == before {
        assert!(Instant::now() < deadline, "the late reply never arrived");
        conn.serve_until(Instant::now() + Duration::from_millis(50)).unwrap();
    }
    assert_eq!(conn.call("echo", ("after",)).unwrap().as_str(), Some("after"));
}

#[test]
fn a_server_that_dies_mid_request_is_a_clear_error() {
    let server = PythonServer::start("forking", &[]);
    let mut conn = Connection::connect(server.addr).unwrap();
    let start = Instant::now();
    let err = conn.call("die", ()).unwrap_err();
    assert!(matches!(err, Error::Closed { .. } | Error::Io { .. }), "{err}");
    assert!(err.is_connection_fatal());
    assert!(start.elapsed() < Duration::from_secs(5), "noticed after {:?}", start.elapsed());
    assert!(conn.call("ping", ()).is_err());
    // The forking server itself lives on: a new connection works.
    let mut again = Connection::connect(server.addr).unwrap();
    assert_eq!(again.call("ping", ()).unwrap().as_str(), Some("pong"));
}

#[test]
fn a_refused_connection_is_a_connect_error() {
    let closed = ClosedPort::new();
    let port = closed.port();
    let err = Connection::connect(("127.0.0.1", port)).err().expect("nothing listens there");
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

#[test]
fn the_forking_server_serves_the_same_service() {
    let server = PythonServer::start("forking", &[]);
    let mut conn = Connection::connect(server.addr).unwrap();
    let triple = Object::callback(|_conn, args| Ok((args.arg::<i64>(0)? * 3).into()));
    assert_eq!(conn.call("call_back", (triple, 5)).unwrap().extract::<i64>().unwrap(), 16);
    let list = conn.call("get_list", (3,)).unwrap().extract::<rpycbench::client::RemoteRef>().unwrap();
    assert_eq!(conn.collect::<i64>(&list).unwrap(), vec![0, 1, 2]);
    conn.close().unwrap();
}

#[test]
fn compressed_frames_both_ways() {
    let server = PythonServer::start("threaded", &[]);
    let config = Config::default().compression(rpycbench::wire::Compression::Python);
    let mut conn = Connection::connect_with(server.addr, config).unwrap();
    let payload = Value::from((0..200_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let back = conn.call("echo", (payload.clone(),)).unwrap();
    assert_eq!(back.as_value(), Some(&payload));
    let sized: Vec<u8> = conn.call("get_bytes", (1 << 20,)).unwrap().extract().unwrap();
    assert_eq!(sized.len(), 1 << 20);
    assert!(sized.iter().enumerate().all(|(i, b)| *b == (i % 256) as u8));
}
