//! The Rust client against the native servers (threaded, forking) and against the
//! Python-backed servers (a real rpyc 6.0.2 `ThreadedServer` / `ForkingServer` running
//! `rpycbench_service.py`), with the same test cases: proof that the native built-in
//! service behaves as its Python twin, the contract in `python/rpycbench_service.py`.
//!
//! * `threaded::*`, `forking::*`, `python_threaded::*`, `python_forking::*`: every case
//!   of [`cases`] once per server mode, so a failure names the mode.
//! * `wire_traffic::*`: the same client operations against a native and a Python server
//!   must put the same requests, replies, references and frames on the wire.
//! * `python_client::*`: the real Python rpyc client (`tests/python/bench_client_checks.py`)
//!   passes every check against the native servers.
//!
//! Python comes from `RPYCBENCH_PYTHON` (scripts/test sets it), else the repository's
//! `.venv`.

mod common;
use common::python;

use rpycbench::client::{Config, Connection, Object, RemoteRef, WireCounters};
use rpycbench::server::{PythonServerSpec, ServerHandle, ServerMode, ServerSpec};
use rpycbench::wire::{Handler, RemoteException};
use rpycbench::{Error, Value};
use std::time::{Duration, Instant};

fn spec(mode: ServerMode) -> ServerSpec {
    ServerSpec {
        binary: Some(env!("CARGO_BIN_EXE_rpycbench").into()),
        python: PythonServerSpec { python: Some(python()), ..PythonServerSpec::default() },
        ..ServerSpec::new(mode)
    }
}

fn start(mode: ServerMode) -> ServerHandle {
    spec(mode).start().unwrap_or_else(|e| panic!("cannot start the {mode} server: {e}"))
}

/// A fresh server of `mode` and a connection to it (the server stops on drop).
fn connect(mode: ServerMode) -> (ServerHandle, Connection) {
    let server = start(mode);
    let conn = Connection::connect(server.addr()).unwrap_or_else(|e| panic!("[{mode}] connect: {e}"));
    (server, conn)
}

/// The remote exception a call must have raised.
#[track_caller]
fn raised(result: rpycbench::Result<Object>, what: &str) -> RemoteException {
    match result {
        Err(Error::Remote(e)) => *e,
        Err(other) => panic!("{what}: expected a remote exception, got the error {other}"),
        Ok(o) => panic!("{what}: expected a remote exception, got the value {}", o.describe()),
    }
}

/// Checks a built-in exception: module, class and its single message argument.
#[track_caller]
fn assert_builtin(e: &RemoteException, class: &str, message: &str, what: &str) {
    assert_eq!((e.module.as_str(), e.class.as_str()), ("builtins", class), "{what}: {e}");
    assert_eq!(e.args, vec![Value::from(message)], "{what}: args of {e}");
    assert!(e.traceback.starts_with("Traceback (most recent call last)"), "{what}: traceback {:?}", e.traceback);
    assert_eq!(e.attr("_remote_version"), Some(&Value::from("6.0.2")), "{what}: attrs {:?}", e.attrs);
}

/// The download content, as both services build it.
fn pattern(size: usize) -> Vec<u8> {
    rpycbench::bench::payload(size as u64)
}

fn remote(obj: Object, what: &str) -> RemoteRef {
    obj.extract().unwrap_or_else(|e| panic!("{what}: expected a reference: {e}"))
}

fn bytes_list(chunks: &[&[u8]]) -> Object {
    Object::list(chunks.iter().map(|c| Object::from(c.to_vec())).collect())
}

/// A one-line account of the traffic, handlers by name.
fn summary(t: &WireCounters) -> String {
    let by_name = |c: &rpycbench::client::HandlerCounts| {
        c.iter().map(|(h, n)| format!("{} {n}", h.name())).collect::<Vec<_>>().join(", ")
    };
    format!(
        "requests sent [{}], received [{}]; replies {}, exceptions {}, answers sent {}; \
         refs received {}, released {}, objects exported {}; frames {}/{}, bytes {}/{} (sent/received)",
        by_name(&t.requests_sent),
        by_name(&t.requests_received),
        t.replies_received,
        t.exceptions_received,
        t.answers_sent,
        t.refs_received,
        t.refs_released,
        t.objects_exported,
        t.frames_sent,
        t.frames_received,
        t.bytes_sent,
        t.bytes_received,
    )
}

/// One test case per built-in method or client capability; each runs once per mode.
mod cases {
    use super::*;
    use std::sync::{Arc, Mutex, OnceLock};

    pub fn ping(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        assert_eq!(conn.call("ping", ()).unwrap().as_str(), Some("pong"), "[{mode}]");
        assert_eq!(conn.call("exposed_ping", ()).unwrap().as_str(), Some("pong"), "[{mode}] exposed_ prefix");
        let root = conn.root().unwrap();
        assert_eq!(root.type_name(), "rpycbench_service.BenchmarkService", "[{mode}] the root's id_pack");
    }

    pub fn echo_values(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        let values = vec![
            Value::None,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(0),
            Value::Int(-1),
            Value::Int(i64::MAX),
            Value::from(num_bigint::BigInt::from(2).pow(100)),
            Value::Float(1.5),
            Value::Float(-0.0),
            Value::Complex(0.0, 2.0),
            Value::from(""),
            Value::from("h\u{e9}llo \u{4e16}\u{754c}"),
            Value::from(Vec::<u8>::new()),
            Value::from(b"\x00\xff".repeat(10)),
            Value::from(pattern(70_000)),
            Value::Tuple(Vec::new()),
            Value::from((1, ("a", b"b"), Value::None)),
            Value::FrozenSet(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
            Value::slice(1, Value::None, -2),
            Value::Ellipsis,
        ];
        for v in values {
            let back = conn.call("echo", (v.clone(),)).unwrap();
            assert!(back.as_value().is_some_and(|b| b.same_as(&v)), "[{mode}] echo({v}) gave {}", back.describe());
        }
        // A mixed tuple with a reference inside comes back as a mixed tuple.
        let list = Object::list(vec![Object::from(1)]);
        let mixed = Object::tuple(vec![Object::from(7), list.clone()]);
        let back = conn.call("echo", (mixed.clone(),)).unwrap();
        assert_eq!(back, mixed, "[{mode}] echo((7, list))");
    }

    pub fn echo_reference(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        // The client's own objects come back as themselves (`echo(obj) is obj`).
        let list = Object::list(vec![Object::from(1), Object::from(2)]);
        assert_eq!(conn.call("echo", (list.clone(),)).unwrap(), list, "[{mode}] echo(list) is list");
        let cb = Object::callback(|_, _| Ok(Object::NONE));
        assert_eq!(conn.call("echo", (cb.clone(),)).unwrap(), cb, "[{mode}] echo(function) is function");
        // A server object sent back is the server's object again.
        let user = conn.call("get_user", (1,)).unwrap();
        assert_eq!(conn.call("echo", (user.clone(),)).unwrap(), user, "[{mode}] echo(user) is user");
    }

    pub fn upload(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        for size in [0, 1, 1000, 70_000] {
            let n: usize = conn.call("upload", (pattern(size),)).unwrap().extract().unwrap();
            assert_eq!(n, size, "[{mode}] upload({size} bytes)");
        }
        assert_eq!(conn.call("upload", ("h\u{e9}llo",)).unwrap().extract::<i64>().unwrap(), 5, "[{mode}] upload(str)");
        assert_eq!(conn.call("upload", ((1, 2, 3),)).unwrap().extract::<i64>().unwrap(), 3, "[{mode}] upload(tuple)");
        // A client list: the server takes its len() with one request back.
        let before = conn.counters();
        let list = Object::list((0..4).map(Object::from).collect());
        assert_eq!(conn.call("upload", (list,)).unwrap().extract::<i64>().unwrap(), 4, "[{mode}] upload(list)");
        let traffic = conn.counters() - before;
        assert_eq!(
            traffic.requests_received.get(Handler::CallAttr),
            1,
            "[{mode}] len() of a client list: {}",
            summary(&traffic)
        );
    }

    pub fn download(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        for size in [0usize, 1, 300, 70_000] {
            let got = conn.call("download", (size,)).unwrap();
            let got = got.as_value().and_then(Value::as_bytes).unwrap_or_else(|| panic!("[{mode}] download({size})"));
            assert_eq!(got.len(), size, "[{mode}] len(download({size}))");
            assert!(got == pattern(size).as_slice(), "[{mode}] download({size}): wrong content");
        }
    }

    pub fn upload_chunked(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        // A client list: the server iterates it with requests back to the client.
        let before = conn.counters();
        let n: i64 = conn.call("upload_chunked", (bytes_list(&[b"ab", b"cde", b""]),)).unwrap().extract().unwrap();
        assert_eq!(n, 5, "[{mode}] upload_chunked([b'ab', b'cde', b''])");
        let traffic = conn.counters() - before;
        // __iter__, then __next__ for 3 chunks and the StopIteration.
        assert_eq!(traffic.requests_received.get(Handler::CallAttr), 5, "[{mode}] {}", summary(&traffic));
        let big = pattern(1000);
        let n: i64 = conn.call("upload_chunked", (bytes_list(&[&big[..]; 10]),)).unwrap().extract().unwrap();
        assert_eq!(n, 10_000, "[{mode}] upload_chunked(10 x 1000 bytes)");
        let n: i64 = conn.call("upload_chunked", (Object::list(Vec::new()),)).unwrap().extract().unwrap();
        assert_eq!(n, 0, "[{mode}] upload_chunked([])");
        let n: i64 = conn.call("upload_chunked", ((b"abc", b"d"),)).unwrap().extract().unwrap();
        assert_eq!(n, 4, "[{mode}] upload_chunked((b'abc', b'd')) by value");
    }

    pub fn download_chunked(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        for (size, chunk) in [(1000usize, 300usize), (1024, 256), (1000, 2000), (0, 10)] {
            let what = format!("[{mode}] download_chunked({size}, {chunk})");
            let list = remote(conn.call("download_chunked", (size, chunk)).unwrap(), &what);
            assert_eq!(list.type_name(), "builtins.list", "{what}");
            let expected: Vec<Vec<u8>> = pattern(size).chunks(chunk).map(<[u8]>::to_vec).collect();
            assert_eq!(conn.len(&list).unwrap(), expected.len(), "len({what})");
            let items: Vec<Vec<u8>> = conn.collect(&list).unwrap();
            assert!(items == expected, "{what}: wrong chunks");
            if let Some(last) = expected.last() {
                let got: Vec<u8> = conn.getitem(&list, -1).unwrap().extract().unwrap();
                assert!(&got == last, "{what}[-1]");
            }
        }
    }

    pub fn download_chunked_tuple(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        for (size, chunk) in [(1000usize, 300usize), (512, 256), (0, 10)] {
            let got = conn.call("download_chunked_tuple", (size, chunk)).unwrap();
            assert!(got.is_simple(), "[{mode}] download_chunked_tuple is by value, got {}", got.describe());
            let got: Vec<Vec<u8>> = got.extract().unwrap();
            let expected: Vec<Vec<u8>> = pattern(size).chunks(chunk).map(<[u8]>::to_vec).collect();
            assert!(got == expected, "[{mode}] download_chunked_tuple({size}, {chunk}): wrong chunks");
        }
    }

    pub fn cpu_work(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        for (n, hex) in [(0, "7374617274"), (1, "cced28c6dc3f99c2"), (1000, "3595323d0c762e0f")] {
            assert_eq!(conn.call("cpu_work", (n,)).unwrap().as_str(), Some(hex), "[{mode}] cpu_work({n})");
        }
        let kw = conn.call_kw("cpu_work", (), rpycbench::kwargs! { "iterations" => 1 }).unwrap();
        assert_eq!(kw.as_str(), Some("cced28c6dc3f99c2"), "[{mode}] cpu_work(iterations=1)");
    }

    pub fn io_work(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        let start = Instant::now();
        assert_eq!(conn.call("io_work", (0.05,)).unwrap().as_str(), Some("data"), "[{mode}] io_work(0.05)");
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(50), "[{mode}] io_work(0.05) returned after {took:?}");
        assert_eq!(conn.call("io_work", (0,)).unwrap().as_str(), Some("data"), "[{mode}] io_work(0) (an int)");
        assert_eq!(conn.call("io_work", ()).unwrap().as_str(), Some("data"), "[{mode}] io_work()");
        let kw = conn.call_kw("io_work", (), rpycbench::kwargs! { "delay" => 0.0 }).unwrap();
        assert_eq!(kw.as_str(), Some("data"), "[{mode}] io_work(delay=0.0)");
    }

    /// Reads the four attributes of a user and checks them.
    fn check_user(conn: &mut Connection, user: &RemoteRef, id: i64, what: &str) {
        assert_eq!(user.type_name(), "rpycbench_service.User", "{what}");
        assert_eq!(conn.getattr(user, "id").unwrap().extract::<i64>().unwrap(), id, "{what}.id");
        assert_eq!(conn.getattr(user, "name").unwrap().as_str(), Some(format!("user{id}").as_str()), "{what}.name");
        let email = format!("user{id}@example.com");
        assert_eq!(conn.getattr(user, "email").unwrap().as_str(), Some(email.as_str()), "{what}.email");
        assert_eq!(conn.getattr(user, "status").unwrap().as_str(), Some("active"), "{what}.status");
    }

    pub fn get_user(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        let user = remote(conn.call("get_user", (3,)).unwrap(), "get_user(3)");
        check_user(&mut conn, &user, 3, &format!("[{mode}] get_user(3)"));
        assert_eq!(conn.getattr(&user, "exposed_name").unwrap().as_str(), Some("user3"), "[{mode}] .exposed_name");
        assert_eq!(conn.repr(&user).unwrap(), "User(3)", "[{mode}] repr");
        assert_eq!(conn.str(&user).unwrap(), "User(3)", "[{mode}] str");
        for name in ["no_such_attribute", "__class__"] {
            let e = raised(conn.getattr(&user, name), &format!("[{mode}] user.{name}"));
            assert_builtin(&e, "AttributeError", &format!("cannot access '{name}'"), &format!("[{mode}] user.{name}"));
        }
    }

    pub fn get_users(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        let users = remote(conn.call("get_users", (4,)).unwrap(), "get_users(4)");
        assert_eq!(users.type_name(), "builtins.list", "[{mode}]");
        assert_eq!(conn.len(&users).unwrap(), 4, "[{mode}] len(get_users(4))");
        let items: Vec<RemoteRef> = conn.collect(&users).unwrap();
        assert_eq!(items.len(), 4, "[{mode}]");
        for (i, user) in items.iter().enumerate() {
            check_user(&mut conn, user, i as i64, &format!("[{mode}] get_users(4)[{i}]"));
        }
        let last = remote(conn.getitem(&users, -1).unwrap(), "users[-1]");
        assert_eq!(conn.getattr(&last, "id").unwrap().extract::<i64>().unwrap(), 3, "[{mode}] users[-1].id");
        let empty = remote(conn.call("get_users", (0,)).unwrap(), "get_users(0)");
        assert_eq!(conn.len(&empty).unwrap(), 0, "[{mode}] len(get_users(0))");
    }

    pub fn get_user_dict(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        let d = remote(conn.call("get_user_dict", (3,)).unwrap(), "get_user_dict(3)");
        assert_eq!(d.type_name(), "builtins.dict", "[{mode}]");
        let expected: [(&str, Value); 4] = [
            ("id", 3.into()),
            ("name", "user3".into()),
            ("email", "user3@example.com".into()),
            ("status", "active".into()),
        ];
        for (key, value) in &expected {
            assert_eq!(conn.getitem(&d, *key).unwrap().as_value(), Some(value), "[{mode}] d[{key:?}]");
        }
        assert_eq!(conn.len(&d).unwrap(), 4, "[{mode}] len(d)");
        let keys: Vec<String> = conn.collect(&d).unwrap();
        assert_eq!(keys, ["id", "name", "email", "status"], "[{mode}] keys in insertion order");
        let has = |conn: &mut Connection, k: &str| -> bool {
            conn.call_method(&d, "__contains__", (k,), Vec::new()).unwrap().extract().unwrap()
        };
        assert!(has(&mut conn, "email") && !has(&mut conn, "nope"), "[{mode}] `in`");
        let e = raised(conn.getitem(&d, "nope"), &format!("[{mode}] d['nope']"));
        assert_eq!((e.module.as_str(), e.class.as_str()), ("builtins", "KeyError"), "[{mode}] d['nope']: {e}");
    }

    /// `d["nope"]` raises `KeyError("nope")`: its args are the key itself, as Python's
    /// dict raises it (and as a Python client reads `e.args[0]`).
    pub fn dict_key_error_carries_the_key(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        let d = remote(conn.call("get_user_dict", (3,)).unwrap(), "get_user_dict(3)");
        let e = raised(conn.getitem(&d, "nope"), &format!("[{mode}] d['nope']"));
        assert_eq!(e.class, "KeyError", "[{mode}]");
        assert_eq!(e.args, vec![Value::from("nope")], "[{mode}] KeyError args");
        let e = raised(conn.getitem(&d, 5), &format!("[{mode}] d[5]"));
        assert_eq!(e.args, vec![Value::Int(5)], "[{mode}] KeyError args of an int key");
    }

    pub fn get_user_tuple(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        let got = conn.call("get_user_tuple", (4,)).unwrap();
        let expected = Value::from((4, "user4", "user4@example.com", "active"));
        assert_eq!(got.as_value(), Some(&expected), "[{mode}] get_user_tuple(4)");
    }

    pub fn get_users_batch(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        let row = |i: i64| Value::from((i, format!("user{i}"), format!("user{i}@example.com"), "active"));
        let expected = Value::Tuple(vec![row(1), row(2), row(5)]);
        let got = conn.call("get_users_batch", ((1, 2, 5),)).unwrap();
        assert_eq!(got.as_value(), Some(&expected), "[{mode}] get_users_batch((1, 2, 5))");
        let before = conn.counters();
        let ids = Object::list([1, 2, 5].into_iter().map(Object::from).collect());
        let got = conn.call("get_users_batch", (ids,)).unwrap();
        assert_eq!(got.as_value(), Some(&expected), "[{mode}] get_users_batch([1, 2, 5])");
        let traffic = conn.counters() - before;
        assert_eq!(
            traffic.requests_received.get(Handler::CallAttr),
            5,
            "[{mode}] iterating the ids: {}",
            summary(&traffic)
        );
        let got = conn.call("get_users_batch", (Value::Tuple(Vec::new()),)).unwrap();
        assert_eq!(got.as_value(), Some(&Value::Tuple(Vec::new())), "[{mode}] get_users_batch(())");
    }

    pub fn nested_callbacks(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        // The callback calls `nested` again, so requests really nest on the wire.
        let depths = Arc::new(Mutex::new(Vec::new()));
        let me: Arc<OnceLock<Object>> = Arc::new(OnceLock::new());
        let (seen, inner) = (depths.clone(), me.clone());
        let cb = Object::callback(move |conn, args| {
            let depth: i64 = args.arg(0)?;
            seen.lock().unwrap().push(depth);
            let me = inner.get().expect("set before the first call").clone();
            conn.call("nested", (depth, me))
        });
        me.set(cb.clone()).expect("set once");
        assert_eq!(conn.call("nested", (0, cb.clone())).unwrap().extract::<i64>().unwrap(), 0, "[{mode}] nested(0)");
        assert!(depths.lock().unwrap().is_empty(), "[{mode}] nested(0, cb) must not call cb");
        let before = conn.counters();
        assert_eq!(conn.call("nested", (5, cb)).unwrap().extract::<i64>().unwrap(), 5, "[{mode}] nested(5, cb)");
        let traffic = conn.counters() - before;
        assert_eq!(*depths.lock().unwrap(), [4, 3, 2, 1, 0], "[{mode}] depths the callback saw");
        assert_eq!(traffic.requests_received.get(Handler::Call), 5, "[{mode}] {}", summary(&traffic));
        assert_eq!(traffic.requests_sent.get(Handler::CallAttr), 6, "[{mode}] {}", summary(&traffic));
        let ten = Object::callback(|_, _| Ok(10.into()));
        assert_eq!(conn.call("nested", (3, ten)).unwrap().extract::<i64>().unwrap(), 11, "[{mode}] nested(3, ->10)");
    }

    pub fn raise_error(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        for kind in ["KeyError", "ValueError", "ZeroDivisionError", "RuntimeError", "TypeError"] {
            let what = format!("[{mode}] raise_error({kind:?}, 'k')");
            let e = raised(conn.call("raise_error", (kind, "k")), &what);
            assert_builtin(&e, kind, "k", &what);
        }
        for (kind, message) in [
            ("NoSuchError", "unknown exception kind: NoSuchError"),
            ("print", "unknown exception kind: print"),
            ("SystemExit", "refused exception kind: SystemExit"),
            ("KeyboardInterrupt", "refused exception kind: KeyboardInterrupt"),
            ("GeneratorExit", "refused exception kind: GeneratorExit"),
        ] {
            let what = format!("[{mode}] raise_error({kind:?}, 'm')");
            assert_builtin(&raised(conn.call("raise_error", (kind, "m")), &what), "ValueError", message, &what);
        }
        assert_eq!(conn.call("ping", ()).unwrap().as_str(), Some("pong"), "[{mode}] the connection survives");
    }

    pub fn argument_errors(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        let cases: [(&str, Vec<Object>, &str); 8] = [
            ("download", vec![(-1).into()], "size must not be negative"),
            ("download_chunked", vec![(-1).into(), 10.into()], "size must not be negative"),
            ("download_chunked", vec![10.into(), 0.into()], "chunk_size must be positive"),
            ("download_chunked_tuple", vec![10.into(), (-3).into()], "chunk_size must be positive"),
            ("download_chunked_tuple", vec![(-1).into(), 10.into()], "size must not be negative"),
            ("cpu_work", vec![(-1).into()], "iterations must not be negative"),
            ("io_work", vec![(-0.5).into()], "delay must not be negative"),
            ("get_users", vec![(-1).into()], "n must not be negative"),
        ];
        for (method, args, message) in cases {
            let what = format!("[{mode}] {method}{}", Object::tuple(args.clone()).describe());
            assert_builtin(&raised(conn.call(method, args), &what), "ValueError", message, &what);
        }
    }

    pub fn unknown_method(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        for name in ["no_such_method", "_private", "__class__"] {
            let what = format!("[{mode}] root.{name}()");
            let message = format!("cannot access '{name}'");
            assert_builtin(&raised(conn.call(name, ()), &what), "AttributeError", &message, &what);
        }
        let what = format!("[{mode}] root.exposed_no_such_method()");
        assert_eq!(raised(conn.call("exposed_no_such_method", ()), &what).class, "AttributeError", "{what}");
        let root = conn.root().unwrap();
        let what = format!("[{mode}] getattr(root, 'nope')");
        assert_builtin(&raised(conn.getattr(&root, "nope"), &what), "AttributeError", "cannot access 'nope'", &what);
        assert_eq!(conn.call("ping", ()).unwrap().as_str(), Some("pong"), "[{mode}] the connection survives");
    }

    /// rpyc lets a name that carries the `exposed_` prefix through its access check and
    /// then fails the plain `getattr`, so the message is Python's own, not rpyc's
    /// "cannot access".
    pub fn unknown_exposed_name_wording(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        let what = format!("[{mode}] root.exposed_no_such_method()");
        let message = "'BenchmarkService' object has no attribute 'exposed_no_such_method'";
        let e = raised(conn.call("exposed_no_such_method", ()), &what);
        assert_builtin(&e, "AttributeError", message, &what);
        let user = remote(conn.call("get_user", (1,)).unwrap(), "get_user(1)");
        let what = format!("[{mode}] user.exposed_nope");
        let e = raised(conn.getattr(&user, "exposed_nope"), &what);
        assert_builtin(&e, "AttributeError", "'User' object has no attribute 'exposed_nope'", &what);
    }

    pub fn python_style_call(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        conn.root().unwrap();
        let before = conn.counters();
        assert_eq!(conn.call_python_style("ping", ()).unwrap().as_str(), Some("pong"), "[{mode}]");
        assert_eq!(conn.call_python_style("echo", (5,)).unwrap().extract::<i64>().unwrap(), 5, "[{mode}]");
        conn.call("ping", ()).unwrap(); // the method proxies' DELs go out before this
        let t = conn.counters() - before;
        let sent = [Handler::GetAttr, Handler::Call, Handler::Del, Handler::CallAttr].map(|h| t.requests_sent.get(h));
        assert_eq!(sent, [2, 2, 2, 1], "[{mode}] {}", summary(&t));
        assert_eq!((t.refs_received, t.refs_released), (2, 2), "[{mode}] {}", summary(&t));
    }

    pub fn async_requests(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        conn.root().unwrap(); // its GETROOT is a round trip of its own
        let start = Instant::now();
        let slow = conn.call_async("io_work", (1.0,)).unwrap();
        let fast = conn.call_async("echo", ("second",)).unwrap();
        let third = conn.call_async("get_user_tuple", (9,)).unwrap();
        // Far less than the second io_work takes, even on a loaded machine.
        assert!(start.elapsed() < Duration::from_millis(500), "[{mode}] call_async must not wait");
        // Redeemed out of order: replies are matched by sequence number.
        assert_eq!(conn.wait(fast).unwrap().as_str(), Some("second"), "[{mode}]");
        assert_eq!(conn.wait(third).unwrap().extract::<(i64, String, String, String)>().unwrap().0, 9, "[{mode}]");
        assert_eq!(conn.wait(slow).unwrap().as_str(), Some("data"), "[{mode}]");
        assert!(start.elapsed() >= Duration::from_secs(1), "[{mode}] io_work(1.0) took {:?}", start.elapsed());
        // An asynchronous exception arrives on wait.
        let bad = conn.call_async("download", (-1,)).unwrap();
        let what = format!("[{mode}] async download(-1)");
        assert_builtin(&raised(conn.wait(bad), &what), "ValueError", "size must not be negative", &what);
    }

    pub fn protocol_ping(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        for _ in 0..3 {
            let rtt = conn.ping().unwrap_or_else(|e| panic!("[{mode}] conn.ping(): {e}"));
            assert!(rtt < Duration::from_secs(3), "[{mode}] {rtt:?}");
        }
        assert_eq!(conn.call("ping", ()).unwrap().as_str(), Some("pong"), "[{mode}]");
    }

    pub fn close(mode: ServerMode) {
        let server = start(mode);
        // close() drains until the server hangs up or close_timeout passes: a long
        // timeout, so that returning well before it shows the server hung up.
        let config = Config { close_timeout: Duration::from_secs(10), ..Config::default() };
        let mut conn = Connection::connect_with(server.addr(), config).unwrap_or_else(|e| panic!("[{mode}] {e}"));
        let user = conn.call("get_user", (1,)).unwrap(); // something held when closing
        let start = Instant::now();
        conn.close().unwrap();
        let took = start.elapsed();
        assert!(took < Duration::from_secs(5), "[{mode}] close() took {took:?}: the server did not hang up");
        assert!(conn.is_closed(), "[{mode}]");
        assert!(matches!(conn.call("ping", ()), Err(Error::AlreadyClosed)), "[{mode}] a call after close");
        drop(user);
        // The server lives on: a new connection is served.
        let mut again = Connection::connect(server.addr()).unwrap();
        assert_eq!(again.call("ping", ()).unwrap().as_str(), Some("pong"), "[{mode}] after a client closed");
        again.close().unwrap();
        if mode.is_forking() {
            // Each connection's process ends with its connection.
            let deadline = Instant::now() + Duration::from_secs(5);
            while server.pids().len() > 1 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert_eq!(server.pids(), [server.pid()], "[{mode}] connection processes left after close");
        }
    }

    /// Python releases a client's object (DEL) as soon as its proxy dies, i.e. right
    /// after the call that received it returns, so the client's export table is empty
    /// again. A server that keeps them makes the client's table (and its own release
    /// queue) grow with every call that passes an object and makes no request back.
    pub fn client_objects_are_released(mode: ServerMode) {
        let (_server, mut conn) = connect(mode);
        conn.call("upload_chunked", (bytes_list(&[b"ab"]),)).unwrap();
        conn.call("nested", (2, Object::callback(|_, _| Ok(1.into())))).unwrap();
        for _ in 0..5 {
            conn.call("echo", (Object::list(vec![Object::from(1)]),)).unwrap();
        }
        for _ in 0..2 {
            conn.call("ping", ()).unwrap(); // a DEL sent after a reply is served here
        }
        assert_eq!(conn.local_objects_lent(), 0, "[{mode}] client objects the server has not released");
    }
}

/// One `#[test]` per mode × case, named `<mode>::<case>`.
macro_rules! parity_tests {
    ($($case:ident),+ $(,)?) => {
        parity_tests!(@mode threaded, Threaded; $($case),+);
        parity_tests!(@mode forking, Forking; $($case),+);
        parity_tests!(@mode python_threaded, PythonThreaded; $($case),+);
        parity_tests!(@mode python_forking, PythonForking; $($case),+);
    };
    (@mode $module:ident, $mode:ident; $($case:ident),+) => {
        mod $module {
            $(
                #[test]
                fn $case() {
                    super::cases::$case(rpycbench::server::ServerMode::$mode);
                }
            )+
        }
    };
}

parity_tests!(
    ping,
    echo_values,
    echo_reference,
    upload,
    download,
    upload_chunked,
    download_chunked,
    download_chunked_tuple,
    cpu_work,
    io_work,
    get_user,
    get_users,
    get_user_dict,
    dict_key_error_carries_the_key,
    get_user_tuple,
    get_users_batch,
    nested_callbacks,
    raise_error,
    argument_errors,
    unknown_method,
    unknown_exposed_name_wording,
    python_style_call,
    async_requests,
    protocol_ping,
    close,
    client_objects_are_released,
);

/// The same client operations against a native and a Python server must cross the wire
/// identically: the same requests each way (by handler), replies, exceptions, references
/// and frames. Byte counts differ wherever a server's object travels (its id_pack holds
/// a CPython address or a small native id), so they are compared only where no
/// reference does.
mod wire_traffic {
    use super::*;
    use rpycbench::server::ServerMode::*;

    /// Runs `scenario` on a warmed-up connection, then two pings that flush the DELs of
    /// the proxies it dropped and serve any DEL the server sent after its last reply.
    fn traffic(mode: ServerMode, scenario: fn(&mut Connection)) -> WireCounters {
        let (_server, mut conn) = connect(mode);
        conn.call("ping", ()).unwrap();
        let before = conn.counters();
        scenario(&mut conn);
        conn.call("ping", ()).unwrap();
        conn.call("ping", ()).unwrap();
        conn.counters() - before
    }

    /// Everything but the byte counts.
    fn shape(t: &WireCounters) -> WireCounters {
        WireCounters { bytes_sent: 0, bytes_received: 0, ..*t }
    }

    #[track_caller]
    fn assert_same(native: ServerMode, python: ServerMode, scenario: fn(&mut Connection)) -> [WireCounters; 2] {
        let (n, p) = (traffic(native, scenario), traffic(python, scenario));
        assert!(shape(&n) == shape(&p), "wire traffic differs:\n{native}: {}\n{python}: {}", summary(&n), summary(&p));
        [n, p]
    }

    /// `get_users(3)`, then the 4 attributes of each user.
    fn users_and_attributes(conn: &mut Connection) {
        let users = remote(conn.call("get_users", (3,)).unwrap(), "get_users(3)");
        let items: Vec<RemoteRef> = conn.collect(&users).unwrap();
        for user in &items {
            for attr in ["id", "name", "email", "status"] {
                conn.getattr(user, attr).unwrap();
            }
        }
    }

    #[test]
    fn users_and_attributes_threaded_vs_python_threaded() {
        let [t, _] = assert_same(Threaded, PythonThreaded, users_and_attributes);
        use Handler::*;
        // get_users, __iter__, 4 x __next__ (the last raising StopIteration), 2 pings;
        // 12 GETATTRs; one DEL each for the list, its iterator and the 3 users.
        let sent = [CallAttr, GetAttr, Del].map(|h| t.requests_sent.get(h));
        assert_eq!(sent, [8, 12, 5], "{}", summary(&t));
        let received = (t.requests_received.total(), t.exceptions_received, t.refs_received);
        assert_eq!(received, (0, 1, 5), "{}", summary(&t));
    }

    #[test]
    fn users_and_attributes_forking_vs_python_forking() {
        assert_same(Forking, PythonForking, users_and_attributes);
    }

    /// Calls whose requests and replies carry values only: identical down to the byte
    /// on the reply side (the client's requests name the root, whose id_pack differs).
    /// Replies stay under rpyc's 3000-byte compression threshold: above it a Python
    /// server compresses its frames and a native one (`Config::default()`) does not.
    fn values_only(conn: &mut Connection) {
        conn.call("echo", ((1, "x", 2.5, b"\x00\x01"),)).unwrap();
        conn.call("download", (300,)).unwrap();
        conn.call("download_chunked_tuple", (1000, 300)).unwrap();
        conn.call("get_user_tuple", (12,)).unwrap();
        conn.call("get_users_batch", ((1, 2),)).unwrap();
        conn.call("cpu_work", (10,)).unwrap();
        conn.call("io_work", (0,)).unwrap();
    }

    #[test]
    fn values_only_threaded_vs_python_threaded() {
        let [n, p] = assert_same(Threaded, PythonThreaded, values_only);
        assert_eq!(n.bytes_received, p.bytes_received, "reply bytes of by-value results");
    }

    /// Python-style calls, remote lists and dicts, and remote exceptions.
    fn proxies_and_exceptions(conn: &mut Connection) {
        conn.call_python_style("ping", ()).unwrap();
        conn.call_python_style("get_user_tuple", (1,)).unwrap();
        let chunks = remote(conn.call("download_chunked", (1000, 300)).unwrap(), "download_chunked");
        conn.len(&chunks).unwrap();
        conn.collect::<Vec<u8>>(&chunks).unwrap();
        conn.getitem(&chunks, 0).unwrap();
        let d = remote(conn.call("get_user_dict", (2,)).unwrap(), "get_user_dict");
        conn.getitem(&d, "email").unwrap();
        conn.len(&d).unwrap();
        conn.collect::<String>(&d).unwrap();
        let _ = conn.getitem(&d, "nope").unwrap_err();
        let user = remote(conn.call("get_user", (5,)).unwrap(), "get_user");
        conn.repr(&user).unwrap();
        let _ = conn.getattr(&user, "nope").unwrap_err();
        let _ = conn.call("raise_error", ("KeyError", "k")).unwrap_err();
        let _ = conn.call("no_such_method", ()).unwrap_err();
        let reply = conn.call_async("io_work", (0.01,)).unwrap();
        conn.wait(reply).unwrap();
    }

    #[test]
    fn proxies_and_exceptions_threaded_vs_python_threaded() {
        assert_same(Threaded, PythonThreaded, proxies_and_exceptions);
    }

    /// Calls that lend the client's objects to the server: iterating a client list,
    /// nesting callbacks, echoing a reference.
    fn client_objects(conn: &mut Connection) {
        conn.call("upload_chunked", (bytes_list(&[b"ab", b"cde"]),)).unwrap();
        conn.call("get_users_batch", (Object::list(vec![Object::from(1)]),)).unwrap();
        conn.call("upload", (bytes_list(&[b"x"]),)).unwrap();
        conn.call("nested", (3, Object::callback(|_, args| Ok((args.arg::<i64>(0)? + 1).into())))).unwrap();
        conn.call("echo", (Object::list(Vec::new()),)).unwrap();
    }

    #[test]
    fn client_objects_threaded_vs_python_threaded() {
        assert_same(Threaded, PythonThreaded, client_objects);
    }
}

/// The real Python rpyc client checks every method of the service against the native
/// servers (tests/python/bench_client_checks.py), and against a Python one as a control.
mod python_client {
    use super::*;

    fn run_checks(mode: ServerMode) {
        let server = start(mode);
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/python/bench_client_checks.py");
        let out = std::process::Command::new(python())
            .arg(script)
            .arg(server.addr().ip().to_string())
            .arg(server.addr().port().to_string())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python().display()));
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.success(),
            "[{mode}] bench_client_checks.py exited with {}\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver stderr:\n{}",
            out.status,
            server.stderr()
        );
        let passed = stdout.lines().any(|l| {
            l.strip_prefix("bench_client_checks: all ")
                .and_then(|rest| rest.strip_suffix(" checks passed"))
                .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n > 0))
        });
        assert!(passed, "[{mode}] no 'all N checks passed' line in:\n{stdout}\nstderr:\n{stderr}");
    }

    #[test]
    fn native_threaded_passes_every_check() {
        run_checks(ServerMode::Threaded);
    }

    #[test]
    fn native_forking_passes_every_check() {
        run_checks(ServerMode::Forking);
    }

    #[test]
    fn python_threaded_passes_every_check_as_a_control() {
        run_checks(ServerMode::PythonThreaded);
    }
}
