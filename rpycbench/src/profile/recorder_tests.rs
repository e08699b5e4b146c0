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
    let depth: Vec<(u32, Option<u64>)> = t.calls.iter().map(|c| (c.depth, c.parent)).collect();
    assert_eq!(depth, [(1, None), (2, Some(0)), (3, Some(1))]);
    assert_eq!((t.max_depth, t.requests_c2s, t.requests_s2c), (3, 2, 1));
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
    assert_eq!(t.method("DEL User").map(|m| m.count), Some(1));
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
}
