//! The HTTP baseline as users meet it: a real `rpycbench serve --mode http` process on
//! 127.0.0.1, driven by the keep-alive client and by the benchmark kinds; its answers
//! match the RPyC service's, keep-alive really reuses one connection, every failure
//! (404/400/405/413, refused, timeout) is counted with a readable message, the suite
//! includes it (tests/suite_cli.rs), and SIGTERM ends it cleanly. A scripted peer
//! that closes, stalls or answers what is not HTTP shows the client's errors.

mod common;

use common::{eventually, native_spec, proc_stat};
use rpycbench::bench::Client;
use rpycbench::bench::{Bandwidth, Concurrent, ConnectionBench, Latency};
use rpycbench::client::Config;
use rpycbench::http::{self, HttpClient, HttpConfig, HttpError, HttpServerSpec, MAX_BODY_BYTES};
use rpycbench::server::{ServerHandle, ServerMode};
use rpycbench::{Connection, Error};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits for any one reply before it fails.
const REPLY: Duration = Duration::from_secs(15);

fn start(mode: ServerMode) -> ServerHandle {
    native_spec(mode).start().unwrap_or_else(|e| panic!("starting the {mode} server: {e}"))
}

fn start_http() -> ServerHandle {
    let spec = HttpServerSpec { binary: Some(env!("CARGO_BIN_EXE_rpycbench").into()), ..HttpServerSpec::new() };
    spec.start().unwrap_or_else(|e| panic!("starting the HTTP server: {e}"))
}

fn client(server: &ServerHandle) -> HttpClient {
    HttpClient::with_config(server.addr(), HttpConfig::default().request_timeout(REPLY).connect_timeout(REPLY))
}

/// The states (hex, as /proc/net/tcp writes them: 01 established, 06 time-wait, …) of
/// every TCP socket on 127.0.0.1 with `port` at either end, the listener excepted. A
/// connection shows twice (server end and client end); one that was closed leaves a
/// TIME_WAIT behind for a minute, so this also tells how many connections were used.
fn sockets_of(port: u16) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("reading /proc/net/tcp");
    // 127.0.0.1 and the port, as /proc/net/tcp spells them: connections of other
    // addresses that happen to use the same port number are not ours.
    let endpoint = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, state) = (fields.get(1)?, fields.get(2)?, fields.get(3)?);
            let ours = **local == endpoint || **remote == endpoint;
            (ours && *state != "0A").then(|| state.to_string())
        })
        .collect()
}

/// Established connections the server holds (counted at its end).
fn established_to(port: u16) -> usize {
    sockets_of(port).iter().filter(|s| *s == "01").count() / 2
}

#[test]
fn every_route_answers_as_the_rpyc_service_does() {
    let server = start_http();
    let rpyc = start(ServerMode::Threaded);
    let mut http = client(&server);
    let mut conn = Connection::connect_with(rpyc.addr(), Config::default().request_timeout(REPLY)).expect("connect");

    http.ping().expect("ping");
    let binary: Vec<u8> = (0..=255u8).rev().cycle().take(70_000).collect();
    assert_eq!(http.echo(&binary).expect("echo"), binary);
    assert_eq!(http.echo(b"").expect("empty echo"), b"");
    assert_eq!(http.upload(&binary).expect("upload"), 70_000);
    assert_eq!(http.upload(b"").expect("empty upload"), 0);

    for size in [0u64, 1, 300, 100_000] {
        let over_http = http.download_bytes(size).expect("download");
        let over_rpyc: Vec<u8> = conn.call("download", (size,)).and_then(|o| o.extract()).expect("rpyc download");
        assert_eq!(over_http, over_rpyc, "download({size})");
        http.download(size).expect("counted download");
    }
    for iterations in [0u64, 1, 1000] {
        let over_rpyc: String = conn.call("cpu_work", (iterations,)).and_then(|o| o.extract()).expect("rpyc cpu");
        assert_eq!(http.cpu_work(iterations).expect("cpu_work"), over_rpyc, "cpu_work({iterations})");
    }
    // The default is the RPyC service's default too (100000 iterations).
    let default: String = conn.call("cpu_work", ()).and_then(|o| o.extract()).expect("rpyc cpu default");
    assert_eq!(String::from_utf8(http.get("/cpu_work").expect("cpu_work default")).unwrap(), default);

    let t0 = Instant::now();
    assert_eq!(http.io_work(Duration::from_millis(80)).expect("io_work"), "data");
    assert!(t0.elapsed() >= Duration::from_millis(80), "io_work returned after {:?}", t0.elapsed());
    assert_eq!(http.get("/io_work?delay=0").expect("io_work 0"), b"data");
}

#[test]
fn keep_alive_reuses_one_connection_and_a_new_client_opens_a_new_one() {
    let server = start_http();
    let port = server.addr().port();
    let mut http = client(&server);
    for _ in 0..20 {
        http.ping().expect("ping");
        http.upload(&[7; 1000]).expect("upload");
        http.download(5000).expect("download");
    }
    // Sixty requests, and only one connection ever existed: its two ends, established,
    // and no closed one waiting out TIME_WAIT.
    assert_eq!(sockets_of(port), ["01", "01"], "keep-alive should reuse a single connection");
    // An error status keeps the connection too (the explanation is read to the end).
    assert!(http.get("/nope").is_err());
    http.ping().expect("ping after a 404");
    assert_eq!(sockets_of(port), ["01", "01"], "a 404 should not cost the connection");

    // A second client is a second connection; closing it leaves the first.
    let mut other = client(&server);
    other.ping().expect("ping");
    assert_eq!(sockets_of(port), ["01"; 4]);
    drop(other);
    assert!(eventually(REPLY, || established_to(port) == 1), "a dropped client should close its connection");
}

#[test]
fn failures_are_errors_with_readable_messages() {
    let server = start_http();
    let mut http = client(&server);

    let status = |e: Error| match HttpError::of(&e) {
        Some(HttpError::Status { status, message, .. }) => {
            assert!(!HttpClient::is_fatal(&e), "a status keeps the connection: {e}");
            (*status, message.clone(), e.to_string())
        }
        _ => panic!("expected an HTTP status error, got {e:?}"),
    };
    let (code, message, text) = status(http.get("/nope").unwrap_err());
    assert_eq!(code, 404);
    assert!(message.contains("no route /nope") && message.contains("GET /ping"), "{message}");
    assert!(text.contains("GET /nope") && text.contains("404"), "{text}");
    let (code, message, _) = status(http.get("/download?size=abc").unwrap_err());
    assert_eq!(code, 400);
    assert!(message.contains("'size' must be a non-negative number, got 'abc'"), "{message}");
    let (code, message, _) = status(http.get("/download").unwrap_err());
    assert_eq!((code, message.contains("download needs ?size=N")), (400, true), "{message}");
    let (code, message, _) = status(http.get("/ping?x=1").unwrap_err());
    assert_eq!((code, message.contains("unexpected parameter 'x'")), (400, true), "{message}");
    let (code, message, _) = status(http.get("/io_work?delay=-1").unwrap_err());
    assert_eq!((code, message.contains("between 0 and")), (400, true), "{message}");
    let (code, message, _) = status(http.get("/upload").unwrap_err());
    assert_eq!((code, message.contains("/upload takes POST")), (405, true), "{message}");
    let (code, message, _) = status(http.get(&format!("/download?size={}", MAX_BODY_BYTES + 1)).unwrap_err());
    assert_eq!((code, message.contains("over the limit")), (413, true), "{message}");

    // An upload over the limit: the server refuses it from its announced length and
    // closes before reading the body; the client still reports the 413 and its reason.
    let oversized = vec![0u8; usize::try_from(MAX_BODY_BYTES).unwrap() + 1];
    let (code, message, _) = status(http.upload(&oversized).unwrap_err());
    assert_eq!((code, message.contains("over the limit")), (413, true), "{message}");
    drop(oversized);
    http.ping().expect("the next request opens a new connection");

    // A timeout: the server sleeps longer than the client waits.
    let mut impatient =
        HttpClient::with_config(server.addr(), HttpConfig::default().request_timeout(Duration::from_millis(200)));
    let t0 = Instant::now();
    let e = impatient.io_work(Duration::from_secs(3)).unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2), "the timeout took {:?}", t0.elapsed());
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("GET /io_work?delay=3") && e.to_string().contains("200ms"), "{e}");
    impatient.ping().expect("the next request works after a timeout");

    // A refused connection: a port nobody listens on.
    let closed_port = common::ClosedPort::new();
    let closed = closed_port.addr();
    let e = HttpClient::new(closed).ping().unwrap_err();
    assert!(matches!(e, Error::Connect { .. }) && e.is_connection_fatal(), "{e:?}");
    assert!(e.to_string().contains(&format!("cannot connect to {closed}")), "{e}");

    // Counted as failures by the benchmark kinds, with the message.
    let target = http::target(&server);
    let result = Latency::new("not-found").requests(5).warmup(0).sample_system(false).run(&target, |c| {
        c.get("/nope")?;
        Ok(())
    });
    assert_eq!((result.outcomes.attempts, result.outcomes.failures), (5, 5));
    assert!(result.outcomes.errors[0].message.contains("answered 404"), "{:?}", result.outcomes.errors);
    let dead = http::address_target(closed, HttpConfig::default());
    let result = Latency::new("refused").requests(3).warmup(0).sample_system(false).run(&dead, |c| c.ping());
    assert_eq!((result.outcomes.failures, result.outcomes.success_rate), (3, 0.0));
    assert!(result.outcomes.errors[0].message.contains("cannot connect"), "{:?}", result.outcomes.errors);
    let slow = http::target_with(&server, HttpConfig::default().request_timeout(Duration::from_millis(100)));
    let result = Latency::new("timeout")
        .requests(2)
        .warmup(0)
        .sample_system(false)
        .run(&slow, |c| c.io_work(Duration::from_millis(500)).map(drop));
    assert_eq!(result.outcomes.failures, 2);
    assert!(result.outcomes.errors[0].message.contains("no reply from"), "{:?}", result.outcomes.errors);
}

/// What a scripted peer does with the one request of a connection.
#[derive(Clone, Copy)]
enum Answer {
    /// Writes these bytes, then closes.
    Bytes(&'static [u8]),
    /// Says nothing for two seconds, then closes.
    Silence,
    /// Announces 100 bytes of body and sends one every 100 ms.
    Trickle,
}

/// A peer on 127.0.0.1 that takes one connection per answer, reads one request head on
/// it, answers as scripted and closes: HTTP gone wrong in every way a server can.
fn scripted_peer(answers: Vec<Answer>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a scripted peer");
    let addr = listener.local_addr().expect("its address");
    std::thread::spawn(move || {
        for answer in answers {
            let Ok((stream, _)) = listener.accept() else { return };
            let _ = stream.set_read_timeout(Some(REPLY));
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            match answer {
                Answer::Bytes(bytes) => drop((&stream).write_all(bytes)),
                Answer::Silence => std::thread::sleep(Duration::from_secs(2)),
                Answer::Trickle => {
                    let _ = (&stream).write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n");
                    for _ in 0..100 {
                        std::thread::sleep(Duration::from_millis(100));
                        if (&stream).write_all(b"x").is_err() {
                            break;
                        }
                    }
                }
            }
        }
    });
    addr
}

#[test]
fn the_client_survives_a_closed_keep_alive_and_names_broken_answers() {
    const PONG: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong";
    let patient = HttpConfig::default().request_timeout(REPLY).connect_timeout(REPLY);

    // The server closes each connection after one answer without saying so: the next
    // request finds the kept-alive connection dead and goes again on a new one.
    let mut c = HttpClient::with_config(scripted_peer(vec![Answer::Bytes(PONG); 3]), patient.clone());
    for _ in 0..3 {
        c.ping().expect("a closed idle connection is replaced, once");
    }

    let error = |answer: Answer| {
        let mut c = HttpClient::with_config(scripted_peer(vec![answer]), patient.clone());
        c.ping().expect_err("a broken answer is an error")
    };
    let reason = |e: Error| match HttpError::of(&e) {
        Some(HttpError::Exchange { reason, .. }) => {
            assert!(HttpClient::is_fatal(&e), "a broken exchange ends the connection: {e}");
            reason.clone()
        }
        _ => panic!("expected an HTTP error, got {e:?}"),
    };
    assert!(reason(error(Answer::Bytes(b"SSH-2.0-OpenSSH\r\n\r\n"))).contains("malformed response head"));
    let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\npong\r\n0\r\n\r\n";
    assert!(reason(error(Answer::Bytes(chunked))).contains("chunked body"));
    let long = b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\npong-pong";
    assert!(reason(error(Answer::Bytes(long))).contains("expected \"pong\""));
    let endless: &'static [u8] = Box::leak(
        [&b"HTTP/1.1 200 OK\r\nx-filler: "[..], &b"0123456789abcdef".repeat(2000)].concat().into_boxed_slice(),
    );
    assert!(reason(error(Answer::Bytes(endless))).contains("head is over 16384 bytes"));

    // Cut short, or closed at once on a fresh connection: socket errors, no retry loop.
    let cut = error(Answer::Bytes(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\npon"));
    assert!(matches!(cut, Error::Io { .. }) && cut.to_string().contains("7 bytes before the end"), "{cut}");
    let closed = error(Answer::Bytes(b""));
    assert!(
        matches!(closed, Error::Io { .. }) && closed.to_string().contains("closed the connection without answering")
    );

    // The timeout bounds the whole request: silence, or an answer trickled so that no
    // single read waits long.
    for answer in [Answer::Silence, Answer::Trickle] {
        let mut impatient = HttpClient::with_config(
            scripted_peer(vec![answer]),
            HttpConfig::default().request_timeout(Duration::from_millis(300)),
        );
        let t0 = Instant::now();
        let e = impatient.get("/slow").unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
        assert!(t0.elapsed() < Duration::from_secs(2), "the timeout took {:?}", t0.elapsed());
    }
}

#[test]
fn oversized_request_bodies_are_refused_with_413() {
    let server = start_http();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(REPLY)).unwrap();
    // Announced too large: refused before a byte of the body is read.
    write!(stream, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", MAX_BODY_BYTES + 1).unwrap();
    let mut head = String::new();
    BufReader::new(&mut stream).read_line(&mut head).unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head:?}");

    // Chunked, so the length is only known while reading: cut off at the limit.
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(REPLY)).unwrap();
    stream.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut sent = 0u64;
    while sent <= MAX_BODY_BYTES {
        let wrote = write!(stream, "{:x}\r\n", chunk.len())
            .and_then(|()| stream.write_all(&chunk))
            .and_then(|()| stream.write_all(b"\r\n"));
        if wrote.is_err() {
            break; // The server answered and closed: fine, read the answer.
        }
        sent += chunk.len() as u64;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{}", &answer[..answer.len().min(200)]);
}

#[test]
fn the_benchmark_kinds_run_against_an_http_target() {
    let server = start_http();
    let target = http::target(&server);

    let connection = ConnectionBench::new("connection[http]").connections(10).run(&target);
    common::assert_http_result(&connection);
    assert_eq!(connection.outcomes.successes, 10);
    // Each measured connection was a new TCP connection, closed by the client: ten
    // closed ones wait out TIME_WAIT on the client's side, and none is still open.
    let port = server.addr().port();
    assert_eq!(established_to(port), 0, "{:?}", sockets_of(port));
    let closed = || sockets_of(port).iter().filter(|s| *s == "06").count();
    assert!(eventually(REPLY, || closed() >= 10), "{:?}", sockets_of(port));
    let connection_p50 = connection.latency.as_ref().unwrap().p50_ns;
    assert!(connection_p50 > 0 && connection_p50 < 1_000_000_000, "{connection_p50}");
    let held = ConnectionBench::new("held[http]").connections(5).keep_open(true).run(&target);
    common::assert_http_result(&held);
    assert_eq!(held.params["held_alive"], 5);

    let latency = Latency::new("latency[http]").requests(200).warmup(5).run(&target, |c| c.ping());
    common::assert_http_result(&latency);
    let stats = latency.latency.as_ref().unwrap();
    assert_eq!(stats.count, 200);
    assert!(stats.p50_ns > 0 && stats.p50_ns <= stats.p99_ns && stats.p99_ns <= stats.max_ns);
    assert!(latency.throughput_rps.unwrap() > 0.0);

    let bandwidth = Bandwidth::new("bandwidth[http]").sizes([1024, 65_536]).iterations(3).run_builtin(&target);
    common::assert_http_result(&bandwidth);
    let per_size: Vec<(&str, u64, u64)> =
        bandwidth.sizes.iter().map(|s| (s.direction.as_str(), s.size_bytes, s.outcomes.successes)).collect();
    assert_eq!(per_size, [("upload", 1024, 3), ("download", 1024, 3), ("upload", 65_536, 3), ("download", 65_536, 3)]);
    assert!(bandwidth.sizes.iter().all(|s| s.mean_bps > 0.0));

    let concurrent = Concurrent::new("concurrent[http]").clients(3).requests_per_client(20).run(&target, |c| c.ping());
    common::assert_http_result(&concurrent);
    assert_eq!(concurrent.outcomes.successes, 60);
    assert_eq!(concurrent.latency.as_ref().unwrap().count, 60);
}

#[test]
fn sigterm_ends_the_http_server_with_status_zero_and_nothing_left() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
        .args(["serve", "--mode", "http", "--host", "127.0.0.1", "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning rpycbench serve");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("readiness line");
    let addr: SocketAddr = line.trim().strip_prefix("listening on ").expect("listening on HOST:PORT").parse().unwrap();

    // A connection open (and idle, mid keep-alive) must not hold the server up.
    let mut http = HttpClient::new(addr);
    http.ping().expect("ping");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = common::exit_within(&mut child, REPLY, "the http server, after SIGTERM,");
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(proc_stat(pid).is_none(), "the server process is still there");
    // Held, so that the retry on a new connection cannot reach another test's server.
    let closed = common::ClosedPort::at(addr.port()).expect("nothing listens on the server's port any more");
    assert!(http.ping().is_err(), "the kept connection is gone");
    drop(closed);
}
