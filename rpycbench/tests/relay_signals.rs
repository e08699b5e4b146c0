//! The relay keeps what it saw however it ends: `rpycbench proxy --json` (a real
//! process, between a real client and a real native server) writes its telemetry when
//! SIGTERM, SIGINT or SIGHUP stops it in the middle of a connection, and when the
//! upstream server dies, before anyone stops the relay (which may then be killed
//! outright).

mod common;
use common::{start_server, KillOnDrop};

use rpycbench::client::Connection;
use rpycbench::server::ServerMode;
use serde_json::Value as Json;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_rpycbench");
/// Calls made through the relay before it is stopped.
const CALLS: u64 = 25;

struct Relay {
    child: KillOnDrop,
    addr: SocketAddr,
    json: PathBuf,
}

impl Relay {
    fn start(upstream: SocketAddr, tag: &str) -> Relay {
        let json =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("relay-signals-{tag}-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&json);
        let mut child = KillOnDrop(
            Command::new(BIN)
                .args(["proxy", "--quiet", "--listen", "127.0.0.1:0", "--upstream", &upstream.to_string(), "--json"])
                .arg(&json)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn rpycbench proxy"),
        );
        let stdout = child.0.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = tx.send(first);
        });
        let first = rx.recv_timeout(Duration::from_secs(20)).expect("the relay printed no readiness line");
        let addr = first.trim().strip_prefix("listening on ").expect("a readiness line").parse().unwrap();
        Relay { child, addr, json }
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.0.id() as i32), signal).unwrap();
    }

    /// The telemetry file, once it exists and parses (within 10 s).
    fn telemetry(&self) -> Json {
        let mut parsed = None;
        let found = common::eventually(Duration::from_secs(10), || {
            parsed = std::fs::read_to_string(&self.json).ok().and_then(|t| serde_json::from_str(&t).ok());
            parsed.is_some()
        });
        assert!(found, "no telemetry file at {}", self.json.display());
        parsed.unwrap()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.json);
    }
}

/// A client connection through the relay that has made [`CALLS`] calls and stays open.
fn calls_through(relay: &Relay) -> Connection {
    let mut conn = Connection::connect(relay.addr).expect("connect through the relay");
    for _ in 0..CALLS {
        conn.call("ping", ()).expect("ping through the relay");
    }
    conn
}

fn assert_holds_the_calls(t: &Json, what: &str) {
    assert_eq!(t["schema"], "rpycbench/telemetry/v1", "{what}");
    let operations = t["operations"].as_u64().unwrap_or(0);
    assert!(operations >= CALLS, "{what}: {operations} operations recorded, {CALLS} made: {}", t["c2s"]);
}

fn stopped_mid_connection_writes_the_telemetry(signal: nix::sys::signal::Signal) {
    let server = start_server(ServerMode::Threaded);
    let mut relay = Relay::start(server.addr(), signal.as_str());
    let conn = calls_through(&relay);
    relay.signal(signal);
    let status = common::exit_within(&mut relay.child.0, Duration::from_secs(10), "the relay, after a signal,");
    assert!(status.success(), "the relay exited with {status} on {signal}");
    assert_holds_the_calls(&relay.telemetry(), signal.as_str());
    drop(conn);
}

#[test]
fn sigterm_mid_connection_writes_the_telemetry() {
    stopped_mid_connection_writes_the_telemetry(nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn sigint_mid_connection_writes_the_telemetry() {
    stopped_mid_connection_writes_the_telemetry(nix::sys::signal::Signal::SIGINT);
}

#[test]
fn sighup_mid_connection_writes_the_telemetry() {
    stopped_mid_connection_writes_the_telemetry(nix::sys::signal::Signal::SIGHUP);
}

#[test]
fn the_upstream_dying_saves_the_telemetry_before_the_relay_is_killed() {
    let server = start_server(ServerMode::Threaded);
    let relay = Relay::start(server.addr(), "upstream");
    let conn = calls_through(&relay);
    // The server dies; nobody signals the relay.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.pid() as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    let t = relay.telemetry();
    assert_holds_the_calls(&t, "after the upstream died");
    // The relay is then killed outright: what it saved stays.
    relay.signal(nix::sys::signal::Signal::SIGKILL);
    drop(conn);
    assert_holds_the_calls(&relay.telemetry(), "after the relay was killed");
    drop(server);
}

#[test]
fn a_refused_upstream_saves_the_telemetry() {
    let server = start_server(ServerMode::Threaded);
    let relay = Relay::start(server.addr(), "refused");
    drop(calls_through(&relay));
    server.stop().expect("stop the server");
    // A connection the relay accepts, then cannot take upstream: it closes it.
    let _ = Connection::connect(relay.addr);
    assert_holds_the_calls(&relay.telemetry(), "after the upstream refused");
}
