//! A plain `#[test]` (libtest's own `main`) starting both native servers.

use rpycbench::bench::BuiltinCalls;
use rpycbench::http::HttpServerSpec;
use rpycbench::server::{ServerMode, ServerSpec};
use rpycbench::Connection;

#[test]
fn both_native_servers_start_from_a_test_binary() {
    for mode in [ServerMode::Threaded, ServerMode::Forking] {
        let server = ServerSpec::new(mode).start().expect("the server starts");
        let mut conn = Connection::connect(server.addr()).expect("connect");
        let echoed: i64 = conn.call("echo", (42,)).expect("echo").extract().expect("an int");
        assert_eq!(echoed, 42, "{mode}");
        conn.close().expect("close");
        server.stop().expect("stop");
    }
}

#[test]
fn the_http_baseline_starts_from_a_test_binary() {
    let server = HttpServerSpec::new().start().expect("the HTTP server starts");
    let mut client = rpycbench::http::HttpClient::new(server.addr());
    client.call_ping().expect("GET /ping answers");
    server.stop().expect("stop");
}
