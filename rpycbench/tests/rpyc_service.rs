//! `#[rpyc_service]` against its Python twin: the same calls from a real Python rpyc
//! client, by position and by keyword, with defaults, wrong arity and unknown keywords,
//! give the same answers and the same exceptions with the same texts from a native
//! server serving the Rust service as from a real `rpyc.ThreadedServer` serving the
//! Python class.

mod common;

use rpycbench::client::{Config, RemoteRef};
use rpycbench::prelude::*;
use rpycbench::server::{serve_threaded, PythonServerSpec, ServeOptions, ServerSpec};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

struct Inventory;

/// Stock levels by item name.
#[rpyc_service(name = "inventory.Inventory")]
impl Inventory {
    fn stock(&self, item: String) -> i64 {
        if item == "widget" {
            12
        } else {
            0
        }
    }

    fn restock(&self, item: String, #[rpyc(default = 1)] count: i64) -> rpycbench::Result<i64> {
        if count < 0 {
            return Err(Error::raise("ValueError", "count must not be negative"));
        }
        Ok(self.stock(item) + count)
    }

    fn note(&self, text: Option<String>) -> String {
        text.unwrap_or_else(|| "none".to_owned())
    }

    fn ratio(&self, a: f64, #[rpyc(default = 2.0)] b: f64) -> f64 {
        a / b
    }

    fn nothing(&self) {}

    /// Calls the client back: `callback(depth)` plus one.
    fn ask(&self, conn: &mut Connection, callback: RemoteRef, depth: i64) -> rpycbench::Result<i64> {
        let answer: i64 = conn.call_ref(&callback, (depth,), Vec::new())?.extract()?;
        Ok(answer + 1)
    }
}

const TWIN: &str = r#"
import rpyc

class Inventory(rpyc.Service):
    """Stock levels by item name."""

    def exposed_stock(self, item):
        return 12 if item == "widget" else 0

    def exposed_restock(self, item, count=1):
        if count < 0:
            raise ValueError("count must not be negative")
        return self.exposed_stock(item) + count

    def exposed_note(self, text=None):
        return "none" if text is None else text

    def exposed_ratio(self, a, b=2.0):
        return a / b

    def exposed_nothing(self):
        pass

    def exposed_ask(self, callback, depth):
        return callback(depth) + 1
"#;

/// Each call's outcome as one JSON line: the answer's repr, or the exception's class
/// and first line.
const CLIENT: &str = r#"
import json, sys, rpyc
conn = rpyc.connect("127.0.0.1", int(sys.argv[1]), config={"sync_request_timeout": 30})
root = conn.root
calls = [
    ("stock", lambda: root.stock("widget")),
    ("stock kw", lambda: root.stock(item="nope")),
    ("exposed_ name", lambda: root.exposed_stock("widget")),
    ("restock default", lambda: root.restock("widget")),
    ("restock kw", lambda: root.restock("widget", count=3)),
    ("restock both kw", lambda: root.restock(count=3, item="widget")),
    ("restock raises", lambda: root.restock("widget", -1)),
    ("restock missing", lambda: root.restock()),
    ("restock too many", lambda: root.restock("a", 1, 2)),
    ("restock unknown kw", lambda: root.restock("a", bogus=1)),
    ("restock twice", lambda: root.restock("a", item="b")),
    ("note none", lambda: root.note()),
    ("note text", lambda: root.note("x")),
    ("ratio", lambda: root.ratio(3)),
    ("ratio float", lambda: root.ratio(3.0, 4)),
    ("nothing", lambda: root.nothing()),
    ("nothing extra", lambda: root.nothing(1)),
    ("ask", lambda: root.ask(lambda d: d * 10, 4)),
    ("missing method", lambda: root.nope()),
    ("doc", lambda: root.__doc__),
]
for name, call in calls:
    try:
        out = {"call": name, "ok": repr(call())}
    except Exception as e:
        out = {"call": name, "error": type(e).__name__, "message": str(e).split("\n")[0]}
    print(json.dumps(out), flush=True)
conn.close()
"#;

/// `Inventory` on a native threaded server in this process (safe in a test binary, as a
/// forking one is not, and the only way to serve this binary's own service).
struct Served {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl Served {
    fn inventory() -> Served {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let service: Arc<dyn Service> = Arc::new(Inventory);
        let opts = ServeOptions {
            service: Arc::new(move || service.clone()),
            config: Config::default(),
            max_connections: None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || serve_threaded(listener, opts, &flag));
        Served { addr, stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("server thread").expect("serve_threaded");
    }
}

fn run_client(dir: &std::path::Path, addr: SocketAddr) -> Vec<String> {
    let out = Command::new(common::python())
        .arg(dir.join("client.py"))
        .arg(addr.port().to_string())
        .output()
        .expect("run the Python client");
    assert!(out.status.success(), "the client failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").lines().map(str::to_owned).collect()
}

#[test]
fn a_service_in_a_few_lines_answers_as_its_python_twin() {
    let dir = common::TempDir::new("rpyc-service");
    std::fs::write(dir.0.join("twin_inventory.py"), TWIN).unwrap();
    std::fs::write(dir.0.join("client.py"), CLIENT).unwrap();

    let twin = PythonServerSpec {
        python: Some(common::python()),
        service: Some("twin_inventory:Inventory".into()),
        python_path: vec![dir.0.clone()],
        max_connections: None,
        ..PythonServerSpec::default()
    };
    let python = ServerSpec::new(ServerMode::PythonThreaded).python(twin).start().expect("the Python twin starts");

    let native = Served::inventory();

    let theirs = run_client(&dir.0, python.addr());
    let ours = run_client(&dir.0, native.addr);
    native.stop();
    python.stop().unwrap();

    assert_eq!((theirs.len(), ours.len()), (20, 20), "{theirs:#?}\n{ours:#?}");
    for (t, o) in theirs.iter().zip(&ours) {
        assert_eq!(o, t, "native (left) and Python (right) differ");
    }
    // The comparison covers errors as well as answers.
    assert!(ours.iter().any(|l| l.contains("missing 1 required positional argument: 'item'")), "{ours:#?}");
    assert!(ours.iter().any(|l| l.contains("ValueError")), "{ours:#?}");
}

#[test]
fn a_wrong_type_is_a_type_error_naming_the_parameter() {
    let native = Served::inventory();
    let mut conn = Connection::connect(native.addr).expect("connect");
    let err = conn.call("restock", ("widget", "three")).expect_err("a str for an i64");
    let remote = err.remote().expect("a remote exception");
    assert_eq!(remote.class, "TypeError");
    // CPython's wording: the type that arrived, not its value.
    assert!(remote.to_string().contains("exposed_restock() argument 'count' must be int (i64), not str"), "{remote}");
    // The connection stays usable, as after any exception.
    let n: i64 = conn.call("restock", ("widget",)).and_then(|o| o.extract()).expect("restock");
    assert_eq!(n, 13);
    conn.close().unwrap();
    native.stop();
}
