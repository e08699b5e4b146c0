//! The recorder: turns the messages of any number of connections into [`Telemetry`],
//! pairing each answer with its request and each request with the request it was
//! nested in, with memory bounded by construction.

use super::facts::{short_type, AnswerFacts, Direction, HandlerId, MessageFacts, RequestFacts};
use super::load::LoadAccumulator;
use super::telemetry::{
    CallOutcome, CallRecord, DirectionStats, MethodStats, OperationStats, ReferenceStats, Telemetry, TELEMETRY_SCHEMA,
};
use crate::wire::{Handler, IdPack, Limits, Message};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Requests one connection may leave unanswered before the oldest are forgotten
/// (a peer that pipelines without end must not grow the recorder).
const MAX_OPEN_PER_CONNECTION: usize = 4096;
/// Names remembered for objects returned by GETATTR (bound methods), per connection.
const MAX_NAMES_PER_CONNECTION: usize = 4096;
/// Distinct method labels and reference types kept; more are counted under `"(other)"`.
const MAX_KEYS: usize = 10_000;
/// Distinct attribute names kept per operation method; more are counted under
/// `"(other)"`.
const MAX_ATTRIBUTES_PER_OPERATION: usize = 100;

/// How much a recorder keeps, and what it calls slow.
#[derive(Clone, Debug)]
pub struct RecorderConfig {
    /// Requests kept in the history (default 10 000); counts stay exact past it.
    pub history_limit: usize,
    /// Calls at least this long are slow (default 10 ms).
    pub slow_threshold: Duration,
    /// The slowest calls kept individually (default 20).
    pub slowest_kept: usize,
    /// Bounds on decoding the frames the recorder is given.
    pub limits: Limits,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            history_limit: 10_000,
            slow_threshold: Duration::from_millis(10),
            slowest_kept: 20,
            limits: Limits::DEFAULT,
        }
    }
}

/// What one frame's payload holds, for the recorder.
#[derive(Clone, Debug, PartialEq)]
pub enum FrameFacts {
    /// An empty payload (Python ignores these).
    Empty,
    /// A message.
    Message(MessageFacts),
    /// A payload that is not a valid message.
    Undecodable,
}

impl FrameFacts {
    /// Decodes a frame payload within `limits`.
    pub fn decode(payload: &[u8], limits: &Limits) -> FrameFacts {
        if payload.is_empty() {
            return FrameFacts::Empty;
        }
        match Message::decode(payload, limits) {
            Ok(msg) => FrameFacts::Message(MessageFacts::of(&msg)),
            Err(_) => FrameFacts::Undecodable,
        }
    }
}

/// A request waiting for its answer.
struct Open {
    direction: Direction,
    seq: i64,
    id: u64,
    start: Instant,
    handler: HandlerId,
    label: String,
    request_bytes: u64,
    /// Level in the call tree (1 for a top-level request).
    level: u32,
    /// Peer requests stacked along the chain up to and including this one (see
    /// [`CallRecord::callback_depth`]).
    callback_depth: u32,
    /// The direction of the top-level request of this chain.
    root_direction: Direction,
    /// Its key in `method_loads`, when it is one of the client's operations.
    operation: Option<(Direction, String)>,
}

#[derive(Default)]
struct ConnState {
    /// Waiting requests, innermost (most recent) last.
    open: Vec<Open>,
    /// `Type.attr` of objects returned by GETATTR, by (direction the reference went,
    /// object id), so a later CALL on a bound method is labelled with its name.
    names: HashMap<(Direction, i64), String>,
    /// The method of the operation each direction last started: its requests until the
    /// next one count toward it.
    operation: [Option<String>; 2],
}

/// Records messages into telemetry. Not thread-safe by itself: share it behind a
/// mutex (see [`Profiler`](super::Profiler) and the relay).
pub struct Recorder {
    config: RecorderConfig,
    epoch: Instant,
    connections: u64,
    conns: HashMap<u64, ConnState>,
    dirs: [DirectionStats; 2],
    methods: HashMap<String, MethodStats>,
    refs: HashMap<(Direction, String), ReferenceStats>,
    /// Operations by direction and method.
    operations: HashMap<(Direction, String), OperationStats>,
    /// The load of the operations each direction started, by method (keyed as
    /// `operations`).
    method_loads: HashMap<(Direction, String), LoadAccumulator>,
    history: VecDeque<CallRecord>,
    next_id: u64,
    slowest: Vec<CallRecord>,
    slow_calls: u64,
    inspects: u64,
    max_depth: u32,
    round_trip_bytes: u64,
    round_trips: u64,
    unanswered_closed: u64,
    unmatched: u64,
    undecodable_frames: u64,
    undecodable_connections: u64,
}

fn slot(d: Direction) -> usize {
    match d {
        Direction::C2s => 0,
        Direction::S2c => 1,
    }
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

/// Whether a method called at top level is an operation of the application: named,
/// and not a dunder (`__iter__`, `__next__`, `__getitem__` are steps of one).
fn names_an_operation(method: &str) -> bool {
    let dunder = method.starts_with("__") && method.ends_with("__");
    !method.is_empty() && !dunder
}

pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Recorder {
    /// An empty recorder; times count from now.
    pub fn new(config: RecorderConfig) -> Recorder {
        Recorder {
            config,
            epoch: Instant::now(),
            connections: 0,
            conns: HashMap::new(),
            dirs: Default::default(),
            methods: HashMap::new(),
            refs: HashMap::new(),
            operations: HashMap::new(),
            method_loads: HashMap::new(),
            history: VecDeque::new(),
            next_id: 0,
            slowest: Vec::new(),
            slow_calls: 0,
            inspects: 0,
            max_depth: 0,
            round_trip_bytes: 0,
            round_trips: 0,
            unanswered_closed: 0,
            unmatched: 0,
            undecodable_frames: 0,
            undecodable_connections: 0,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &RecorderConfig {
        &self.config
    }

    /// Starts a connection; its number identifies it in later calls.
    pub fn open_connection(&mut self) -> u64 {
        self.connections += 1;
        self.conns.insert(self.connections, ConnState::default());
        self.connections
    }

    /// Ends a connection: its waiting requests will never be answered.
    pub fn close_connection(&mut self, conn: u64) {
        let Some(state) = self.conns.remove(&conn) else { return };
        let now = Instant::now();
        for open in state.open {
            self.unanswered_closed += 1;
            if let Some(l) = open.operation.as_ref().and_then(|key| self.method_loads.get_mut(key)) {
                l.abandon(now);
            }
            self.update_record(open.id, |r| r.outcome = CallOutcome::NoAnswer);
        }
    }

    /// Counts a stretch of a connection's byte stream that is not RPyC framing; the
    /// relay stops decoding that connection.
    pub fn undecodable_stream(&mut self, conn: u64) {
        self.undecodable_frames += 1;
        self.undecodable_connections += 1;
        self.close_connection(conn);
    }

    /// Counts frames of `direction` that arrived in pieces (see
    /// `client::arrivals`).
    pub fn arrived_in_pieces(&mut self, direction: Direction, split: crate::client::arrivals::SplitArrivals) {
        let d = &mut self.dirs[slot(direction)];
        d.split_frames += split.frames;
        d.split_frames_delayed_ack += split.delayed_ack;
    }

    /// Records one frame: `payload` is the frame's (inflated) message bytes,
    /// `wire_len` what the frame occupied on the wire.
    pub fn frame(&mut self, conn: u64, direction: Direction, payload: &[u8], wire_len: usize, at: Instant) {
        let facts = FrameFacts::decode(payload, &self.config.limits);
        self.record(conn, direction, facts, wire_len, at);
    }

    /// Records one frame already decoded with [`FrameFacts::decode`] (so a relay can
    /// decode outside the lock it shares the recorder under).
    pub fn record(&mut self, conn: u64, direction: Direction, facts: FrameFacts, wire_len: usize, at: Instant) {
        let d = &mut self.dirs[slot(direction)];
        d.frames += 1;
        d.bytes += wire_len as u64;
        let bytes = wire_len as u64;
        match facts {
            // Python ignores empty frames (PROTOCOL.md §3.3); so do we.
            FrameFacts::Empty => {}
            FrameFacts::Undecodable => self.undecodable_frames += 1,
            FrameFacts::Message(MessageFacts::Request(request)) => self.request(conn, direction, request, bytes, at),
            FrameFacts::Message(MessageFacts::Answer(answer)) => self.answer(conn, direction, answer, bytes, at),
        }
    }

    fn ref_entry(&mut self, direction: Direction, type_name: &str) -> &mut ReferenceStats {
        let key_name = if self.refs.len() >= MAX_KEYS && !self.refs.contains_key(&(direction, type_name.to_string())) {
            "(other)"
        } else {
            type_name
        };
        self.refs.entry((direction, key_name.to_string())).or_insert_with(|| ReferenceStats {
            type_name: key_name.to_string(),
            direction,
            ..Default::default()
        })
    }

    fn count_lent(&mut self, direction: Direction, refs: &[IdPack]) {
        for id in refs {
            self.ref_entry(direction, &id.name).received += 1;
        }
    }

    fn request(&mut self, conn: u64, direction: Direction, request: RequestFacts, bytes: u64, at: Instant) {
        let RequestFacts { seq, handler, target, name, released, refs } = request;
        let refs = refs.as_slice();
        let hname = handler.name();
        let d = &mut self.dirs[slot(direction)];
        d.requests += 1;
        bump(&mut d.requests_by_handler, hname);
        self.count_lent(direction, refs);
        let owner = direction.opposite(); // the way references to the target travelled
        let state = self.conns.entry(conn).or_default();
        let mut label = hname.to_string();
        if let Some(t) = &target {
            let known = state.names.get(&(owner, t.object_id)).cloned();
            match (handler.is(Handler::Call), known, &name) {
                (true, Some(known), _) => label = format!("{hname} {known}"),
                (_, _, Some(n)) => label = format!("{hname} {}.{n}", short_type(&t.name)),
                _ => label = format!("{hname} {}", short_type(&t.name)),
            }
            if handler.is(Handler::Del) {
                state.names.remove(&(owner, t.object_id));
            }
        }
        // The innermost request of the other direction still waiting: this request
        // is part of serving it (a callback while the client waits, or the client's
        // requests while it serves that callback). DEL is fire-and-forget: nobody waits
        // on it, so nothing is nested in it.
        let parent = state
            .open
            .iter()
            .rev()
            .find(|o| o.direction != direction && !o.handler.is(Handler::Del))
            .map(|o| (o.id, o.level, o.callback_depth, o.root_direction));
        let is_del = handler.is(Handler::Del);
        let (level, callback_depth, root_direction) = match parent {
            None => (1, 0, direction),
            // A request against the chain's own direction is the peer calling back;
            // a DEL is only a release, not a call made while the other side waits.
            Some((_, level, cb, root)) => (level + 1, cb + u32::from(direction != root && !is_del), root),
        };
        let mut operation = None;
        if parent.is_none() && matches!(handler, HandlerId::Known(Handler::Call | Handler::CallAttr)) {
            let method = match (handler.is(Handler::Call), &target) {
                (true, Some(t)) => {
                    state.names.get(&(owner, t.object_id)).and_then(|k| k.rsplit_once('.')).map(|(_, m)| m)
                }
                _ => name.as_deref(),
            };
            if let Some(method) = method.filter(|m| names_an_operation(m)) {
                self.dirs[slot(direction)].operations += 1;
                let key = if self.operations.len() >= MAX_KEYS
                    && !self.operations.contains_key(&(direction, method.to_string()))
                {
                    "(other)"
                } else {
                    method
                };
                operation = Some((direction, key.to_string()));
                state.operation[slot(direction)] = Some(key.to_string());
                self.operations
                    .entry((direction, key.to_string()))
                    .or_insert_with(|| OperationStats { method: key.to_string(), ..Default::default() })
                    .calls += 1;
            }
        }
        let waits = !matches!(handler, HandlerId::Known(Handler::Del | Handler::Close));
        if let (true, Some(op)) = (waits, &state.operation[slot(direction)]) {
            if let Some(stats) = self.operations.get_mut(&(direction, op.clone())) {
                stats.round_trips += 1;
                if let (true, Some(attr)) = (handler.is(Handler::GetAttr), &name) {
                    let full = stats.attribute_reads.len() >= MAX_ATTRIBUTES_PER_OPERATION
                        && !stats.attribute_reads.contains_key(attr);
                    *stats.attribute_reads.entry(if full { "(other)".into() } else { attr.clone() }).or_default() += 1;
                }
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let answered = !handler.is(Handler::Close);
        let mut evicted = None;
        if answered {
            if state.open.len() >= MAX_OPEN_PER_CONNECTION {
                let old = state.open.remove(0);
                if let Some(l) = old.operation.as_ref().and_then(|key| self.method_loads.get_mut(key)) {
                    l.abandon(at);
                }
                evicted = Some(old.id);
                self.unanswered_closed += 1;
            }
            if let Some(key) = &operation {
                match self.method_loads.get_mut(key) {
                    Some(l) => l.start(at),
                    None => self.method_loads.entry(key.clone()).or_default().start(at),
                }
            }
            state.open.push(Open {
                direction,
                seq,
                id,
                start: at,
                handler,
                label: label.clone(),
                request_bytes: bytes,
                level,
                callback_depth,
                root_direction,
                operation,
            });
        }
        if let Some(old) = evicted {
            self.update_record(old, |r| r.outcome = CallOutcome::Evicted);
        }
        self.max_depth = self.max_depth.max(callback_depth);
        if let Some(t) = &target {
            if handler.is(Handler::Del) {
                self.ref_entry(owner, &t.name).released += released;
            } else if handler.is(Handler::Inspect) {
                self.ref_entry(owner, &t.name).inspects += 1;
            } else {
                self.ref_entry(owner, &t.name).round_trips += 1;
            }
        }
        if handler.is(Handler::Inspect) {
            self.inspects += 1;
        }
        let record = CallRecord {
            id,
            connection: conn,
            direction,
            seq,
            handler: hname.to_string(),
            target_type: target.map(|t| t.name.to_string()),
            name,
            label,
            parent: parent.map(|(p, ..)| p),
            level,
            callback_depth,
            start_ns: nanos(at.saturating_duration_since(self.epoch)),
            duration_ns: None,
            request_bytes: bytes,
            answer_bytes: 0,
            outcome: if answered { CallOutcome::Pending } else { CallOutcome::NoAnswer },
            refs_returned: 0,
        };
        if self.config.history_limit > 0 {
            if self.history.len() >= self.config.history_limit {
                self.history.pop_front();
            }
            self.history.push_back(record);
        }
    }

    fn answer(&mut self, conn: u64, direction: Direction, answer: AnswerFacts, bytes: u64, at: Instant) {
        let AnswerFacts { seq, exception, refs } = answer;
        let refs = refs.as_slice();
        let d = &mut self.dirs[slot(direction)];
        if exception {
            d.exceptions += 1;
        } else {
            d.replies += 1;
        }
        self.count_lent(direction, refs);
        let state = self.conns.entry(conn).or_default();
        let Some(pos) = state.open.iter().rposition(|o| o.direction == direction.opposite() && o.seq == seq) else {
            self.unmatched += 1;
            return;
        };
        let open = state.open.remove(pos);
        let duration = nanos(at.saturating_duration_since(open.start));
        if open.handler.is(Handler::GetAttr) && refs.len() == 1 {
            if state.names.len() >= MAX_NAMES_PER_CONNECTION {
                state.names.clear();
            }
            let what = open.label.split_once(' ').map_or("", |(_, w)| w).to_string();
            state.names.insert((direction, refs[0].object_id), what);
        }
        // DEL is answered but fire-and-forget (its sender never waits): like the
        // client's own counters, round trips leave it out, and so do the method times
        // and slow calls (nobody waited for it).
        let refs_returned = u32::try_from(refs.len()).unwrap_or(u32::MAX);
        if open.handler.is(Handler::Del) {
            self.update_record(open.id, |r| {
                r.duration_ns = Some(duration);
                r.answer_bytes = bytes;
                r.outcome = if exception { CallOutcome::Exception } else { CallOutcome::Reply };
            });
            return;
        }
        if let Some(l) = open.operation.as_ref().and_then(|key| self.method_loads.get_mut(key)) {
            l.end(open.start, at, exception);
        }
        let hname = open.handler.name();
        let od = &mut self.dirs[slot(open.direction)];
        od.round_trips += 1;
        bump(&mut od.round_trips_by_handler, hname);
        self.round_trips += 1;
        self.round_trip_bytes += open.request_bytes + bytes;
        let key = if self.methods.len() >= MAX_KEYS && !self.methods.contains_key(&open.label) {
            "(other)".to_string()
        } else {
            open.label.clone()
        };
        let m = self.methods.entry(key.clone()).or_insert_with(|| MethodStats { label: key, ..Default::default() });
        m.count += 1;
        m.total_ns = m.total_ns.saturating_add(duration);
        m.max_ns = m.max_ns.max(duration);
        m.bytes += open.request_bytes + bytes;
        m.exceptions += u64::from(exception);
        let finish = |r: &mut CallRecord| {
            r.duration_ns = Some(duration);
            r.answer_bytes = bytes;
            r.outcome = if exception { CallOutcome::Exception } else { CallOutcome::Reply };
            r.refs_returned = refs_returned;
        };
        self.update_record(open.id, finish);
        if duration >= nanos(self.config.slow_threshold) {
            self.slow_calls += 1;
        }
        self.keep_if_slowest(&open, conn, duration, bytes, exception, refs_returned);
    }

    fn keep_if_slowest(&mut self, open: &Open, conn: u64, duration: u64, bytes: u64, exception: bool, refs: u32) {
        let k = self.config.slowest_kept;
        if k == 0 || (self.slowest.len() >= k && self.slowest.last().and_then(|c| c.duration_ns) >= Some(duration)) {
            return;
        }
        let record = self.kept_record(open.id).cloned().unwrap_or_else(|| CallRecord {
            id: open.id,
            connection: conn,
            direction: open.direction,
            seq: open.seq,
            handler: open.handler.name().to_string(),
            label: open.label.clone(),
            level: open.level,
            callback_depth: open.callback_depth,
            start_ns: nanos(open.start.saturating_duration_since(self.epoch)),
            duration_ns: Some(duration),
            request_bytes: open.request_bytes,
            answer_bytes: bytes,
            outcome: if exception { CallOutcome::Exception } else { CallOutcome::Reply },
            refs_returned: refs,
            ..Default::default()
        });
        let pos = self.slowest.partition_point(|c| c.duration_ns >= Some(duration));
        self.slowest.insert(pos, record);
        self.slowest.truncate(k);
    }

    /// Where record `id` sits in the history, if it is still kept: records are kept in
    /// id order without gaps, so the position follows from the first id kept.
    fn position(&self, id: u64) -> Option<usize> {
        let first = self.history.front()?.id;
        let i = usize::try_from(id.checked_sub(first)?).ok()?;
        (i < self.history.len()).then_some(i)
    }

    fn kept_record(&self, id: u64) -> Option<&CallRecord> {
        self.history.get(self.position(id)?)
    }

    fn update_record(&mut self, id: u64, f: impl FnOnce(&mut CallRecord)) {
        if let Some(r) = self.position(id).and_then(|i| self.history.get_mut(i)) {
            f(r);
        }
    }

    /// A snapshot of everything recorded so far.
    pub fn telemetry(&self) -> Telemetry {
        let mut methods: Vec<MethodStats> = self.methods.values().cloned().collect();
        for m in &mut methods {
            m.mean_ns = m.total_ns.checked_div(m.count).unwrap_or(0);
        }
        methods.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then_with(|| a.label.cmp(&b.label)));
        let mut references: Vec<ReferenceStats> = self.refs.values().cloned().collect();
        for r in &mut references {
            r.alive = r.received.saturating_sub(r.released);
        }
        references.sort_by(|a, b| b.received.cmp(&a.received).then_with(|| a.type_name.cmp(&b.type_name)));
        let open_now: u64 = self.conns.values().map(|c| c.open.len() as u64).sum();
        let [c2s, s2c] = self.dirs.clone();
        let now = Instant::now();
        let mut t = Telemetry {
            schema: TELEMETRY_SCHEMA.to_string(),
            elapsed_ns: nanos(self.epoch.elapsed()),
            connections: self.connections,
            requests_c2s: c2s.requests,
            requests_s2c: s2c.requests,
            round_trips: self.round_trips,
            c2s,
            s2c,
            inspect_requests: self.inspects,
            max_depth: self.max_depth,
            slow_threshold_ns: nanos(self.config.slow_threshold),
            slow_calls: self.slow_calls,
            bytes_per_round_trip: if self.round_trips == 0 {
                0.0
            } else {
                self.round_trip_bytes as f64 / self.round_trips as f64
            },
            unanswered: open_now + self.unanswered_closed,
            unmatched_answers: self.unmatched,
            undecodable_frames: self.undecodable_frames,
            undecodable_connections: self.undecodable_connections,
            methods,
            references,
            slowest: self.slowest.clone(),
            history_limit: self.config.history_limit,
            calls_recorded: self.next_id,
            calls: self.history.iter().cloned().collect(),
            operations: 0,
            per_operation: Vec::new(),
            system: None,
            relay: None,
        };
        t.operations = t.direction(t.client_direction()).operations;
        let client = t.client_direction();
        t.per_operation = self
            .operations
            .iter()
            .filter(|((d, _), _)| *d == client)
            .map(|(key, s)| OperationStats { load: self.method_loads.get(key).and_then(|l| l.stats(now)), ..s.clone() })
            .collect();
        t.per_operation.sort_by(|a, b| b.round_trips.cmp(&a.round_trips).then_with(|| a.method.cmp(&b.method)));
        t
    }
}

#[cfg(test)]
#[path = "recorder_tests.rs"]
mod tests;
