//! Heap allocations the native server makes per request, once warmed up: a `ping`
//! answered makes none, and the other simple calls make exactly as many as recorded
//! here (docs/performance.md, "The request path"). A change that adds an allocation to
//! the request path fails this test; one that removes one updates the figure.
//!
//! A counting global allocator counts only on the thread flagged by [`COUNTED`]: the
//! thread that serves the connection in process (`server::serve_stream`), never the
//! client's. Counts are read between round trips, so the server's work after a reply
//! (dropping the request) falls into the next window: every window has one such tail,
//! and in the steady state `N` requests cost exactly `N` times one.

use rpycbench::client::{Config, Connection, Object};
use rpycbench::server::{serve_stream, BenchmarkService};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts `alloc`, `alloc_zeroed` and `realloc` (each can take memory from the system)
/// on flagged threads; frees are not counted.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set on the serving thread. A `const` Cell has no lazy initialization and no
    /// destructor, so reading it from inside the allocator cannot allocate or recurse.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTED.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches
// only an atomic and a thread-local Cell, neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Requests per measured window, and before it.
const WARM_UP: u64 = 200;
const MEASURED: u64 = 1000;

/// A client of a built-in service served in process on a counted thread.
fn served() -> Connection {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    let addr = listener.local_addr().expect("the listener's address");
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else { return };
        COUNTED.with(|c| c.set(true));
        // Ends when the client closes; errors are the client's test to report.
        let _ = serve_stream(stream, Arc::new(BenchmarkService::default()), Config::default());
    });
    let config = Config::default().request_timeout(Duration::from_secs(20)).connect_timeout(Duration::from_secs(20));
    Connection::connect_with(addr, config).expect("connecting to the in-process server")
}

/// The server's allocations over [`MEASURED`] calls of `call`, after [`WARM_UP`] calls.
fn server_allocations(mut call: impl FnMut(&mut Connection) -> Object) -> u64 {
    let mut conn = served();
    for _ in 0..WARM_UP {
        drop(call(&mut conn));
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..MEASURED {
        drop(call(&mut conn));
    }
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

/// Allocations per request, rounded down; panics with the total if it is not a whole
/// multiple (a steady state allocates the same for every request).
fn per_request(what: &str, total: u64) -> u64 {
    assert_eq!(total % MEASURED, 0, "{what}: {total} allocations over {MEASURED} requests is not a steady state");
    total / MEASURED
}

/// `conn.root.echo(7)` as a Python client makes it: GETATTR of the bound method, a
/// CALL of it, and (in the next request's window) the DEL of its proxy.
fn python_style_echo(conn: &mut Connection) -> Object {
    let root = conn.root().expect("the root");
    let method = conn.getattr(&root, "echo").expect("root.echo");
    let method = method.as_remote().expect("a bound method travels by reference").clone();
    conn.call_ref(&method, (7,), Vec::new()).expect("root.echo(7)")
}

// Each case runs on its own connection; the cases share one process (and one counter),
// so they run one after another in a single test.
#[test]
fn simple_requests_allocate_what_is_recorded() {
    let ping = per_request("ping", server_allocations(|c| c.call("ping", ()).expect("ping")));
    let echo_int = per_request("echo(7)", server_allocations(|c| c.call("echo", (7,)).expect("echo(7)")));
    let echo_str = per_request("echo('hello')", server_allocations(|c| c.call("echo", ("hello",)).expect("echo")));
    let get_user = per_request("get_user(1)", server_allocations(|c| c.call("get_user", (1,)).expect("get_user")));
    let python_echo = per_request("root.echo(7)", server_allocations(python_style_echo));
    let figures = format!(
        "ping {ping}, echo(7) {echo_int}, echo('hello') {echo_str}, get_user(1) {get_user}, \
         root.echo(7) {python_echo}"
    );
    eprintln!("server allocations per request: {figures}");
    // ping and echo: none (the arguments are held inline, the str reuses the buffer of
    // the previous reply). get_user: the user object lent to the client (its `Arc`,
    // its type name, its one string for name and email); the DEL of the previous user
    // is decoded in place. root.echo(7): the bound method lent to the client (its
    // `Arc`, type name, owner type and name) and the list of references it gives up
    // when its DEL drops it; its GETATTR, CALL and DEL are decoded in place.
    assert_eq!(
        (ping, echo_int, echo_str, get_user, python_echo),
        (0, 0, 0, 3, 5),
        "server allocations per request: {figures}"
    );
}
