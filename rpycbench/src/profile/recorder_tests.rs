//! The recorder on hand-made message sequences: pairing, nesting, references, bounds.

use super::*;
use crate::wire::{Boxed, Value};

const C2S: Direction = Direction::C2s;
const S2C: Direction = Direction::S2c;

fn svc() -> IdPack {
    IdPack::new("svc.Service", 1, 100)
}

fn user(n: i64) -> IdPack {
    IdPack::new("svc.User", 2, 200 + n)
}

struct Feed {
    rec: Recorder,
    conn: u64,
    t: Instant,
}

impl Feed {
    fn new(config: RecorderConfig) -> Feed {
        let mut rec = Recorder::new(config);
        let conn = rec.open_connection();
        Feed { rec, conn, t: Instant::now() }
    }

    /// Sends `msg` one microsecond after the previous one.
    fn send(&mut self, d: Direction, msg: Message) {
        let mut payload = Vec::new();
        msg.encode(&mut payload).unwrap();
        self.t += Duration::from_micros(1);
        self.rec.frame(self.conn, d, &payload, payload.len() + 6, self.t);
    }

    fn request(&mut self, d: Direction, seq: i64, h: Handler, args: Vec<Boxed>) {
        self.send(d, Message::Request { seq, handler: i64::from(h.id()), args: Boxed::Tuple(args) });
    }

    fn callattr(&mut self, d: Direction, seq: i64, target: IdPack, name: &str) {
        let args = vec![
            Boxed::LocalRef(target),
            Boxed::Value(name.into()),
            Boxed::Value(Value::Tuple(vec![])),
            Boxed::Value(Value::Tuple(vec![])),
        ];
        self.request(d, seq, Handler::CallAttr, args);
    }

    fn reply(&mut self, d: Direction, seq: i64, value: Boxed) {
        self.send(d, Message::Reply { seq, value });
    }
}

fn none() -> Boxed {
    Boxed::Value(Value::None)
}

#[test]
fn callbacks_nest_under_the_request_being_waited_on() {
    let mut f = Feed::new(RecorderConfig::default());
    f.callattr(C2S, 0, svc(), "nested"); // client → server
    f.request(S2C, 0, Handler::Call, vec![Boxed::LocalRef(IdPack::new("builtins.function", 3, 300))]);
    f.callattr(C2S, 1, svc(), "nested"); // the callback calls the server again
    f.reply(S2C, 1, Boxed::Value(Value::Int(0)));
    f.reply(C2S, 0, Boxed::Value(Value::Int(1)));
    f.reply(S2C, 0, Boxed::Value(Value::Int(2)));
    let t = f.rec.telemetry();
    let depth: Vec<(u32, u32, Option<u64>)> = t.calls.iter().map(|c| (c.level, c.callback_depth, c.parent)).collect();
    assert_eq!(depth, [(1, 0, None), (2, 1, Some(0)), (3, 1, Some(1))]);
    assert_eq!((t.max_depth, t.requests_c2s, t.requests_s2c), (1, 2, 1), "one callback stacked");
    assert_eq!(t.operations, 1, "only the top-level nested() is an operation");
    assert_eq!((t.c2s.round_trips, t.s2c.round_trips, t.unanswered), (2, 1, 0));
    assert_eq!(t.method("CALLATTR Service.nested").map(|m| m.count), Some(2));
    assert_eq!(t.calls[0].duration_ns, Some(5_000), "first request to its reply: five messages later");
    assert_eq!(t.children(0).count(), 1);
}

#[test]
fn history_is_bounded_and_counts_stay_exact() {
    let config = RecorderConfig { history_limit: 10, slowest_kept: 3, ..RecorderConfig::default() };
    let mut f = Feed::new(config);
    for seq in 0..100 {
        f.callattr(C2S, seq, svc(), "ping");
        f.reply(S2C, seq, Boxed::Value("pong".into()));
    }
    let t = f.rec.telemetry();
    assert_eq!((t.calls.len(), t.calls_recorded, t.history_limit), (10, 100, 10));
    assert_eq!(t.calls.first().map(|c| c.id), Some(90), "the most recent requests are kept");
    assert!(t.calls.iter().all(|c| c.outcome == CallOutcome::Reply));
    assert_eq!((t.round_trips, t.requests_c2s), (100, 100));
    let ping = t.method("CALLATTR Service.ping").unwrap();
    assert_eq!((ping.count, ping.total_ns, ping.mean_ns, ping.max_ns), (100, 100_000, 1_000, 1_000));
    assert_eq!(t.slowest.len(), 3);
}

#[test]
fn references_are_counted_by_type_and_released_by_del() {
    let mut f = Feed::new(RecorderConfig::default());
    f.callattr(C2S, 0, svc(), "get_users");
    f.reply(
        S2C,
        0,
        Boxed::Tuple(vec![Boxed::RemoteRef(user(0)), Boxed::RemoteRef(user(1)), Boxed::RemoteRef(user(2))]),
    );
    f.request(C2S, 1, Handler::GetAttr, vec![Boxed::LocalRef(user(0)), Boxed::Value("name".into())]);
    f.reply(S2C, 1, Boxed::Value("user0".into()));
    f.request(C2S, 2, Handler::Del, vec![Boxed::LocalRef(user(0)), Boxed::Value(Value::Int(2))]);
    // A callback arriving while only the DEL is open is not nested in it.
    f.request(S2C, 0, Handler::Ping, vec![none()]);
    f.reply(S2C, 2, none());
    f.reply(C2S, 0, none());
    let t = f.rec.telemetry();
    let users = t.references_of("svc.User", S2C).unwrap();
    assert_eq!((users.received, users.released, users.alive, users.round_trips), (3, 2, 1, 1));
    assert_eq!(t.calls[0].refs_returned, 3);
    assert_eq!(t.method("GETATTR User.name").map(|m| m.count), Some(1));
    assert_eq!(t.calls[3].parent, None);
    assert_eq!(t.c2s.round_trips, 2, "DEL is answered but not a round trip");
    assert_eq!(t.c2s.requests_by_handler.get("DEL"), Some(&1));
    assert_eq!(t.method("DEL User"), None, "nobody waits for a DEL: no method time");
    assert_eq!(t.calls[2].outcome, CallOutcome::Reply, "the DEL's record is still completed");
    assert_eq!(t.max_depth, 0, "a DEL is not a callback, and nothing nests in it");
}

#[test]
fn a_call_on_a_bound_method_is_named_after_the_getattr() {
    let mut f = Feed::new(RecorderConfig::default());
    let method = IdPack::new("builtins.method", 4, 400);
    f.request(C2S, 0, Handler::GetAttr, vec![Boxed::LocalRef(svc()), Boxed::Value("ping".into())]);
    f.reply(S2C, 0, Boxed::RemoteRef(method.clone()));
    f.request(C2S, 1, Handler::Call, vec![Boxed::LocalRef(method.clone()), Boxed::Value(Value::Tuple(vec![]))]);
    f.reply(S2C, 1, Boxed::Value("pong".into()));
    f.request(C2S, 2, Handler::Del, vec![Boxed::LocalRef(method), Boxed::Value(Value::Int(1))]);
    let t = f.rec.telemetry();
    let labels: Vec<&str> = t.calls.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["GETATTR Service.ping", "CALL Service.ping", "DEL method"]);
    assert_eq!(t.unanswered, 1, "the DEL is still waiting for its answer");
}

#[test]
fn odd_traffic_is_counted_not_fatal() {
    let mut f = Feed::new(RecorderConfig::default());
    f.reply(S2C, 42, none()); // an answer to nothing
    let at = f.t;
    f.rec.frame(f.conn, C2S, &[], 6, at); // an empty frame: ignored, as Python does
    f.rec.frame(f.conn, C2S, &[9, 9, 9], 9, at); // not a message
    f.callattr(C2S, 0, svc(), "io_work");
    f.rec.close_connection(f.conn);
    let t = f.rec.telemetry();
    assert_eq!(
        (t.unmatched_answers, t.undecodable_frames, t.c2s.frames, t.c2s.bytes),
        (1, 1, 3, 15 + t.calls[0].request_bytes)
    );
    assert_eq!((t.unanswered, t.calls[0].outcome), (1, CallOutcome::NoAnswer));
    assert!(t.to_json().contains("\"requests_c2s\": 1"));
}

#[test]
fn the_slowest_calls_are_kept_slowest_first() {
    let config =
        RecorderConfig { slowest_kept: 2, slow_threshold: Duration::from_micros(2), ..RecorderConfig::default() };
    let mut f = Feed::new(config);
    for (seq, gap) in [(0, 1), (1, 5), (2, 3)] {
        f.callattr(C2S, seq, svc(), "io_work");
        f.t += Duration::from_micros(gap - 1);
        f.reply(S2C, seq, none());
    }
    let t = f.rec.telemetry();
    let slowest: Vec<(i64, Option<u64>)> = t.slowest.iter().map(|c| (c.seq, c.duration_ns)).collect();
    assert_eq!(slowest, [(1, Some(5_000)), (2, Some(3_000))]);
    assert_eq!(t.slow_calls, 2);
    let report = super::super::report::full(&t, &Default::default());
    for title in ["=== SUMMARY ===", "=== SLOW CALLS ===", "=== CALL TREE ===", "=== REFERENCES ==="] {
        assert!(report.contains(title), "{title} missing from\n{report}");
    }
    assert!(report.contains("c2s CALLATTR Service.io_work ×3"), "{report}");
    // The tree's length is the reader's to choose, and a cut says how to see more.
    let distinct: Vec<&str> = ["ping", "echo", "upload"].to_vec();
    for (seq, name) in (10..).zip(&distinct) {
        f.callattr(C2S, seq, svc(), name);
        f.reply(S2C, seq, none());
    }
    let t = f.rec.telemetry();
    let cut = super::super::report::call_tree(&t, 2);
    assert_eq!(cut.lines().count(), 3, "{cut}");
    assert!(cut.contains("tree cut at 2 lines: `rpycbench proxy --tree-lines N`"), "{cut}");
    assert!(!super::super::report::call_tree(&t, 100).contains("tree cut"));
}

#[test]
fn callback_depth_counts_the_peer_requests_stacked() {
    // nested(5, cb): client → server, server calls back, the callback calls the
    // server again, … five callbacks deep; then everything answers.
    let mut f = Feed::new(RecorderConfig::default());
    let cb = IdPack::new("builtins.function", 3, 300);
    for level in 0..5 {
        f.callattr(C2S, level, svc(), "nested");
        f.request(S2C, level, Handler::Call, vec![Boxed::LocalRef(cb.clone())]);
    }
    for level in (0..5).rev() {
        f.reply(C2S, level, Boxed::Value(Value::Int(0)));
        f.reply(S2C, level, Boxed::Value(Value::Int(0)));
    }
    let t = f.rec.telemetry();
    assert_eq!(t.max_depth, 5);
    assert_eq!(t.calls.iter().map(|c| c.level).max(), Some(10), "the tree itself is ten levels");
    assert_eq!((t.operations, t.unanswered), (1, 0));
    // No GETROOT, and the server sent as many requests as the client: the client is
    // still the side whose calls are top-level.
    assert_eq!((t.requests_c2s, t.requests_s2c, t.client_direction()), (5, 5, C2S));
}

#[test]
fn operations_are_top_level_named_calls() {
    let mut f = Feed::new(RecorderConfig::default());
    let method = IdPack::new("builtins.method", 4, 400);
    let list = IdPack::new("builtins.list", 5, 500);
    f.request(C2S, 0, Handler::GetRoot, vec![]);
    f.reply(S2C, 0, Boxed::RemoteRef(svc()));
    // A Python `conn.root.get_users(3)`: GETATTR, then CALL of the bound method.
    f.request(C2S, 1, Handler::GetAttr, vec![Boxed::LocalRef(svc()), Boxed::Value("get_users".into())]);
    f.reply(S2C, 1, Boxed::RemoteRef(method.clone()));
    f.request(C2S, 2, Handler::Call, vec![Boxed::LocalRef(method), Boxed::Value(Value::Tuple(vec![]))]);
    f.reply(S2C, 2, Boxed::RemoteRef(list.clone()));
    // Iterating it: dunder calls, steps of the same operation.
    f.callattr(C2S, 3, list, "__iter__");
    f.reply(S2C, 3, none());
    // A Rust client's call: one CALLATTR.
    f.callattr(C2S, 4, svc(), "ping");
    f.reply(S2C, 4, none());
    // A CALL of an object no GETATTR named is not counted.
    f.request(C2S, 5, Handler::Call, vec![Boxed::LocalRef(IdPack::new("builtins.function", 6, 600))]);
    f.reply(S2C, 5, none());
    let t = f.rec.telemetry();
    assert_eq!((t.operations, t.c2s.operations, t.client_direction()), (2, 2, C2S));
}

#[test]
fn evicted_requests_are_marked_not_left_pending() {
    let mut f = Feed::new(RecorderConfig { history_limit: MAX_OPEN_PER_CONNECTION + 10, ..Default::default() });
    for seq in 0..=MAX_OPEN_PER_CONNECTION as i64 {
        f.callattr(C2S, seq, svc(), "io_work");
    }
    let t = f.rec.telemetry();
    assert_eq!(t.calls[0].outcome, CallOutcome::Evicted);
    assert_eq!(t.calls[1].outcome, CallOutcome::Pending);
    assert_eq!(t.unanswered, MAX_OPEN_PER_CONNECTION as u64 + 1);
}

#[test]
fn the_diagnosis_reads_the_clients_direction_whichever_it_is() {
    // A profiled server: its peer (the client) sends in direction `s2c`.
    let mut f = Feed::new(RecorderConfig::default());
    let method = IdPack::new("builtins.method", 4, 400);
    f.request(S2C, 0, Handler::GetRoot, vec![]);
    f.reply(C2S, 0, Boxed::RemoteRef(svc()));
    for seq in 1..4 {
        f.request(S2C, 2 * seq, Handler::GetAttr, vec![Boxed::LocalRef(svc()), Boxed::Value("ping".into())]);
        f.reply(C2S, 2 * seq, Boxed::RemoteRef(method.clone()));
        f.request(S2C, 2 * seq + 1, Handler::Call, vec![Boxed::LocalRef(method.clone())]);
        f.reply(C2S, 2 * seq + 1, none());
        f.request(S2C, 100 + seq, Handler::Del, vec![Boxed::LocalRef(method.clone()), Boxed::Value(Value::Int(1))]);
        f.reply(C2S, 100 + seq, none());
    }
    let t = f.rec.telemetry();
    assert_eq!((t.client_direction(), t.operations), (S2C, 3));
    let w = crate::profile::diagnosis::WireEvidence::from_telemetry(&t, t.operations);
    assert_eq!((w.round_trips, w.references_received, w.method_references, w.requests_from_server), (7, 4, 3, 0));
    assert!(w.top_methods.iter().all(|m| !m.name.starts_with("DEL")), "{:?}", w.top_methods);
}

#[test]
fn the_relay_decodes_within_the_memory_budget() {
    // A PING carrying a tuple of a million Nones: 1 MB on the wire, 32 MB decoded.
    let n = 1usize << 20;
    let mut payload = Vec::new();
    crate::wire::message::write_request_header(7, i64::from(crate::wire::Handler::Ping.id()), &mut payload);
    payload.extend_from_slice(&[0x11, 0x51, 0x15]);
    payload.extend_from_slice(&(n as u32).to_be_bytes());
    payload.resize(payload.len() + n, 0);
    let small = Limits { max_connection_memory: 4 << 20, ..Limits::DEFAULT };
    assert_eq!(FrameFacts::decode(&payload, &small), FrameFacts::Undecodable);
    assert!(matches!(FrameFacts::decode(&payload, &Limits::DEFAULT), FrameFacts::Message(_)));
}
