//! What telemetry needs from one decoded message: kind, handler, sequence number, the
//! target object's type and the attribute or method name, and the references it
//! carries. Extracted from the message itself, so nothing is intercepted or asked.

use crate::wire::{Boxed, Handler, IdPack, Message, Value};

/// Which way a message travelled.
///
/// In a relay, `C2s` is client to server. On a profiled [`Connection`](crate::Connection)
/// "client" is the profiled side: `C2s` is what it sent, `S2c` what its peer sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client (or the profiled side) to server (or its peer).
    #[default]
    C2s,
    /// Server (or the peer) to client (or the profiled side).
    S2c,
}

impl Direction {
    /// The other way.
    pub fn opposite(self) -> Direction {
        match self {
            Direction::C2s => Direction::S2c,
            Direction::S2c => Direction::C2s,
        }
    }

    /// `"c2s"` or `"s2c"`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::C2s => "c2s",
            Direction::S2c => "s2c",
        }
    }
}

/// A request's handler as it arrived: one rpyc defines, or an id it does not (kept,
/// and counted under `"UNKNOWN"`, so a peer's oddity is seen rather than dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandlerId {
    /// A handler of RPyC 6.0.2.
    Known(Handler),
    /// Any other id.
    Unknown(i64),
}

impl HandlerId {
    /// The handler of a wire id.
    pub fn of(id: i64) -> HandlerId {
        Handler::from_id(id).map_or(HandlerId::Unknown(id), HandlerId::Known)
    }

    /// Its display name (`"CALLATTR"`, or `"UNKNOWN"`).
    pub fn name(self) -> &'static str {
        match self {
            HandlerId::Known(h) => h.name(),
            HandlerId::Unknown(_) => "UNKNOWN",
        }
    }

    /// Whether it is `handler`.
    pub fn is(self, handler: Handler) -> bool {
        self == HandlerId::Known(handler)
    }
}

/// What the profiler keeps of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestFacts {
    /// Sequence number.
    pub seq: i64,
    /// The handler.
    pub handler: HandlerId,
    /// The object the request acts on, when its arguments name one.
    pub target: Option<IdPack>,
    /// The attribute or method name (GETATTR, SETATTR, DELATTR, CALLATTR).
    pub name: Option<String>,
    /// For DEL: how many references the sender gives back.
    pub released: u64,
    /// Types of the references lent by the sender in the arguments.
    pub refs: Vec<IdPack>,
}

/// What the profiler keeps of a REPLY or EXCEPTION.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerFacts {
    /// Sequence number of the request answered.
    pub seq: i64,
    /// Whether it was an EXCEPTION.
    pub exception: bool,
    /// References the reply lends (each REMOTE_REF box).
    pub refs: Vec<IdPack>,
}

/// What the profiler keeps of a message: no values, only what its statistics need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageFacts {
    /// A request.
    Request(RequestFacts),
    /// A REPLY or EXCEPTION.
    Answer(AnswerFacts),
}

impl MessageFacts {
    /// The facts of a decoded message.
    pub fn of(msg: &Message) -> MessageFacts {
        match msg {
            Message::Request { seq, handler, args } => request_facts(*seq, *handler, args),
            Message::Reply { seq, value } => {
                let mut refs = Vec::new();
                collect_remote_refs(value, &mut refs);
                MessageFacts::Answer(AnswerFacts { seq: *seq, exception: false, refs })
            }
            Message::Exception { seq, .. } => {
                MessageFacts::Answer(AnswerFacts { seq: *seq, exception: true, refs: Vec::new() })
            }
        }
    }
}

fn request_facts(seq: i64, handler: i64, args: &Boxed) -> MessageFacts {
    let items: &[Boxed] = match args {
        Boxed::Tuple(items) => items,
        _ => &[],
    };
    let mut target = match items.first() {
        Some(Boxed::LocalRef(id)) => Some(bounded_id(id)),
        _ => None,
    };
    let named = matches!(
        Handler::from_id(handler),
        Some(Handler::GetAttr | Handler::SetAttr | Handler::DelAttr | Handler::CallAttr)
    );
    let name = if named { items.get(1).and_then(name_of) } else { None };
    let mut released = 0;
    match Handler::from_id(handler) {
        Some(Handler::Del) => {
            if let Some(Boxed::Value(Value::Int(n))) = items.get(1) {
                released = (*n).max(0) as u64;
            }
        }
        // INSPECT names its object by a plain id_pack tuple, not a box (PROTOCOL.md §7).
        Some(Handler::Inspect) => target = inspect_target(args),
        _ => {}
    }
    let mut refs = Vec::new();
    collect_remote_refs(args, &mut refs);
    MessageFacts::Request(RequestFacts { seq, handler: HandlerId::of(handler), target, name, released, refs })
}

fn name_of(b: &Boxed) -> Option<String> {
    match b {
        Boxed::Value(Value::Str(s)) => Some(bounded(s)),
        Boxed::Value(Value::Bytes(b)) => std::str::from_utf8(b).ok().map(bounded),
        _ => None,
    }
}

/// Longest name or type kept, in bytes: telemetry keeps names for every call, and a
/// peer may send a name of any size.
pub const MAX_NAME_LEN: usize = 200;

/// `s`, cut to [`MAX_NAME_LEN`] bytes on a character boundary (marked with `…`).
pub fn bounded(s: &str) -> String {
    if s.len() <= MAX_NAME_LEN {
        return s.to_string();
    }
    let cut = (0..=MAX_NAME_LEN).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    format!("{}…", &s[..cut])
}

/// `id` with its type name bounded (see [`bounded`]).
fn bounded_id(id: &IdPack) -> IdPack {
    if id.name.len() <= MAX_NAME_LEN {
        return id.clone();
    }
    IdPack::new(bounded(&id.name), id.class_id, id.object_id)
}

fn inspect_target(args: &Boxed) -> Option<IdPack> {
    let Boxed::Value(Value::Tuple(items)) = args else { return None };
    match items.first()?.as_tuple()? {
        [Value::Str(name), Value::Int(class_id), Value::Int(object_id)] => {
            Some(IdPack::new(bounded(name), *class_id, *object_id))
        }
        _ => None,
    }
}

/// Every REMOTE_REF box in `b`. Depth is bounded by the decoder's limits.
fn collect_remote_refs(b: &Boxed, out: &mut Vec<IdPack>) {
    match b {
        Boxed::RemoteRef(id) => out.push(bounded_id(id)),
        Boxed::Tuple(items) => items.iter().for_each(|i| collect_remote_refs(i, out)),
        Boxed::Value(_) | Boxed::LocalRef(_) => {}
    }
}

/// The last dotted component of a type name: `"rpycbench_service.User"` → `"User"`.
pub(crate) fn short_type(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callattr_names_its_target_and_method() {
        let root = IdPack::new("svc.Service", 1, 2);
        let args = Boxed::Tuple(vec![
            Boxed::LocalRef(root.clone()),
            Boxed::Value("get_users".into()),
            Boxed::Value((3,).into()),
            Boxed::Value(Value::Tuple(vec![])),
        ]);
        let facts = MessageFacts::of(&Message::Request { seq: 4, handler: Handler::CallAttr as i64, args });
        let MessageFacts::Request(RequestFacts { seq, target, name, refs, .. }) = facts else {
            panic!("not a request")
        };
        assert_eq!((seq, target, name.as_deref(), refs.len()), (4, Some(root), Some("get_users"), 0));
    }

    #[test]
    fn replies_count_every_reference_and_del_counts_releases() {
        let user = IdPack::new("svc.User", 5, 6);
        let value = Boxed::Tuple(vec![Boxed::RemoteRef(user.clone()), Boxed::RemoteRef(user.clone())]);
        let facts = MessageFacts::of(&Message::Reply { seq: 1, value });
        assert_eq!(
            facts,
            MessageFacts::Answer(AnswerFacts { seq: 1, exception: false, refs: vec![user.clone(), user.clone()] })
        );
        let del = Boxed::Tuple(vec![Boxed::LocalRef(user.clone()), Boxed::Value(Value::Int(2))]);
        let MessageFacts::Request(RequestFacts { released, target, .. }) =
            MessageFacts::of(&Message::Request { seq: 2, handler: Handler::Del as i64, args: del })
        else {
            panic!("not a request")
        };
        assert_eq!((released, target), (2, Some(user)));
    }

    #[test]
    fn inspect_target_comes_from_the_plain_id_pack() {
        let args = Boxed::Value(Value::Tuple(vec![Value::Tuple(vec!["builtins.dict".into(), 7.into(), 8.into()])]));
        let MessageFacts::Request(RequestFacts { target, .. }) =
            MessageFacts::of(&Message::Request { seq: 0, handler: Handler::Inspect as i64, args })
        else {
            panic!("not a request")
        };
        assert_eq!(target.map(|t| t.name.to_string()), Some("builtins.dict".to_string()));
        assert_eq!(short_type("rpycbench_service.User"), "User");
    }

    #[test]
    fn names_from_the_wire_are_bounded() {
        let long = "é".repeat(1000);
        let args =
            Boxed::Tuple(vec![Boxed::LocalRef(IdPack::new(long.as_str(), 1, 2)), Boxed::Value(long.as_str().into())]);
        let MessageFacts::Request(RequestFacts { target, name, .. }) =
            MessageFacts::of(&Message::Request { seq: 0, handler: Handler::GetAttr as i64, args })
        else {
            panic!("not a request")
        };
        let name = name.unwrap();
        assert!(name.len() <= MAX_NAME_LEN + '…'.len_utf8() && name.ends_with('…'));
        assert!(target.unwrap().name.len() <= MAX_NAME_LEN + '…'.len_utf8());
    }
}
