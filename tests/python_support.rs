//! Smoke test of the test support itself: real Python rpyc servers start, answer a raw
//! GETROOT frame, and leave no process behind when dropped.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::{is_alive, PythonServer};

/// PROTOCOL.md §3.1: header (length 8, not compressed), REQUEST (seq 0, GETROOT, ()), filler.
const GETROOT: &str = "000000080001115011531151020a";

fn getroot_reply(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(&hex::decode(GETROOT).unwrap()).unwrap();

    let mut header = [0u8; 5];
    stream.read_exact(&mut header).unwrap();
    assert_eq!(header[4], 0, "a GETROOT reply is too small to be compressed");
    let len = u32::from_be_bytes(header[..4].try_into().unwrap()) as usize;
    let mut body = vec![0u8; len + 1]; // + the filler byte
    stream.read_exact(&mut body).unwrap();
    body.truncate(len);
    body
}

#[test]
fn python_servers_answer_getroot_and_leave_nothing_behind() {
    for mode in ["threaded", "forking"] {
        let server = PythonServer::start(mode, &[]);
        assert!(server.addr.ip().is_loopback(), "{mode}: {}", server.addr);

        let mut stream = TcpStream::connect(server.addr).unwrap();
        let reply = getroot_reply(&mut stream);
        // REPLY, (seq 0, (LABEL_REMOTE_REF, id_pack ...
        assert_eq!(hex::encode(&reply[..5]), "0211501154", "{mode}: {}", hex::encode(&reply));

        // The forking server serves the open connection from a child, which must die too.
        let pids = server.pids();
        let expected = if mode == "forking" { 2 } else { 1 };
        assert_eq!(pids.len(), expected, "{mode}: process group {pids:?}");

        // Drop stops the server while its connection is still open.
        drop(server);
        // A child that outlived its parent is reaped by init, so allow a moment for that.
        let deadline = Instant::now() + Duration::from_secs(5);
        while pids.iter().any(|&pid| is_alive(pid)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in pids {
            assert!(!is_alive(pid), "{mode}: pid {pid} outlived its PythonServer");
        }
    }
}
