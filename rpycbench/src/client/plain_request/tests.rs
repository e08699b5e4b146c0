//! The in-place decoder against the general one, on the requests it takes and on
//! damaged copies of them.
//!
//! GETATTR, CALL, CALLATTR and DEL requests are encoded as this crate's client sends
//! them (`outgoing::write_args`, `write_del_args`) to a side whose [`ExportTable`] lends
//! the objects they name; then bytes are changed, inserted or removed and the frame is
//! cut short. Whenever [`decode`] takes a frame, `Message::decode_frame` must take it
//! too, with the same seq, handler, target, name, arguments or count, and the same
//! memory charge: the promise of the module's documentation. The undamaged requests
//! must take the in-place path exactly when they are plain, so the comparison is never
//! vacuous. A panic in either decoder fails the case too (proptest catches it).

use super::{decode, Plain};
use crate::client::local::{ExportTable, LocalObject, LocalRef};
use crate::client::object::Object;
use crate::client::outgoing::{write_args, write_del_args, BoxCtx, Part};
use crate::client::remote::{HeldRefs, ReleaseQueue, RemoteRef};
use crate::wire::brine::sealed::SinkVec;
use crate::wire::frame::HEADER_LEN;
use crate::wire::message::write_request_header;
use crate::wire::{Boxed, Bytes, Compression, Frame, FrameEncoder, Handler, IdPack, Limits, Message, Value};
use proptest::prelude::*;
use proptest::sample::Index;
use std::sync::Arc;

/// An object of the serving side, known by its type name alone.
struct Named(&'static str);

impl LocalObject for Named {
    fn type_name(&self) -> &str {
        self.0
    }
}

/// The type names of the objects the serving side lends.
const LENT: [&str; 3] = ["builtins.function", "demo_service.DemoService", "builtins.method"];

/// The longest name the in-place path keeps (`InlineStr`'s capacity).
const INLINE_NAME: usize = 62;

/// The serving side's export table, and the client's proxies of what it lends: one per
/// lent object, then one with the wrong type name and one with an id never lent (the
/// last two resolve to nothing).
struct Sides {
    exports: ExportTable,
    proxies: Vec<RemoteRef>,
    queue: Arc<ReleaseQueue>,
}

impl Sides {
    fn new() -> Sides {
        let mut exports = ExportTable::new();
        let mut ids: Vec<IdPack> = LENT
            .iter()
            .map(|&name| {
                let (class_id, object_id) = exports.export(&LocalRef::new(Arc::new(Named(name))));
                IdPack::new(name, class_id, object_id)
            })
            .collect();
        ids.push(IdPack::new("builtins.dict", ids[0].class_id, ids[0].object_id));
        ids.push(IdPack::new(LENT[0], ids[0].class_id, 1 << 40));
        let queue = ReleaseQueue::new();
        let mut held = HeldRefs::new();
        let proxies = ids.into_iter().map(|id| held.receive(id, &queue)).collect();
        Sides { exports, proxies, queue }
    }
}

/// A CALL's or CALLATTR's keyword arguments: none sent, `()`, or one pair.
#[derive(Clone, Debug)]
enum Kwargs {
    Absent,
    Empty,
    One,
}

/// A request as the client would send it; `target` indexes [`Sides::proxies`].
#[derive(Clone, Debug)]
enum Request {
    GetAttr { target: usize, name: String },
    Call { target: usize, args: Vec<Object>, kwargs: Kwargs },
    CallAttr { target: usize, name: String, args: Vec<Object>, kwargs: Kwargs },
    Del { target: usize, count: i64 },
}

impl Request {
    /// Whether the in-place path takes the request as sent: its target is lent, its
    /// name fits inline, its arguments are values and no keyword arguments are given
    /// (a DEL names its object by id alone, so any DEL is plain).
    fn is_plain(&self) -> bool {
        let lent = |target: &usize| *target < LENT.len();
        let short = |name: &String| name.len() <= INLINE_NAME;
        let plain =
            |args: &[Object], kwargs: &Kwargs| args.iter().all(Object::is_simple) && !matches!(kwargs, Kwargs::One);
        match self {
            Request::GetAttr { target, name } => lent(target) && short(name),
            Request::Call { target, args, kwargs } => lent(target) && plain(args, kwargs),
            Request::CallAttr { target, name, args, kwargs } => lent(target) && short(name) && plain(args, kwargs),
            Request::Del { .. } => true,
        }
    }

    /// The request's payload (the frame's message bytes).
    fn encode(&self, seq: i64, sides: &Sides) -> Vec<u8> {
        let mut enc = FrameEncoder::new(Compression::Off);
        let out = enc.payload();
        let (mut lent_by_client, mut exported) = (ExportTable::new(), 0);
        let mut ctx = BoxCtx { exports: &mut lent_by_client, queue: &sides.queue, exported: &mut exported };
        let pair = [("k".to_string(), Object::from(1))];
        let kwargs = |kwargs: &Kwargs| match kwargs {
            Kwargs::Absent => None,
            Kwargs::Empty => Some(Part::Kwargs(&[])),
            Kwargs::One => Some(Part::Kwargs(&pair)),
        };
        let target = |target: &usize| Part::Target(&sides.proxies[*target]);
        let (handler, parts): (Handler, Vec<Part<'_>>) = match self {
            Request::GetAttr { target: t, name } => (Handler::GetAttr, vec![target(t), Part::Str(name)]),
            Request::Call { target: t, args, kwargs: kw } => {
                (Handler::Call, [target(t), Part::Seq(args)].into_iter().chain(kwargs(kw)).collect())
            }
            Request::CallAttr { target: t, name, args, kwargs: kw } => (
                Handler::CallAttr,
                [target(t), Part::Str(name), Part::Seq(args)].into_iter().chain(kwargs(kw)).collect(),
            ),
            Request::Del { target, count } => {
                write_request_header(seq, i64::from(Handler::Del.id()), out);
                write_del_args(sides.proxies[*target].id(), *count, out.vec()).unwrap();
                return out[HEADER_LEN..].to_vec();
            }
        };
        write_request_header(seq, i64::from(handler.id()), out);
        write_args(&parts, &mut ctx, out).unwrap();
        out[HEADER_LEN..].to_vec()
    }
}

/// One damage done to a payload.
#[derive(Clone, Debug)]
enum Damage {
    /// A byte XORed with a non-zero mask: changed to any other value.
    Change(Index, u8),
    /// A byte moved up or down a little: a digit to another, a tag or a length to the
    /// next (a frame damaged so stays well-formed far more often).
    Nudge(Index, i8),
    Insert(Index, u8),
    Remove(Index),
    /// Cut to a shorter length.
    Truncate(Index),
}

impl Damage {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let len = bytes.len();
        match self {
            Damage::Change(at, mask) if len > 0 => bytes[at.index(len)] ^= mask,
            Damage::Nudge(at, by) if len > 0 => {
                let byte = &mut bytes[at.index(len)];
                *byte = byte.wrapping_add_signed(*by);
            }
            Damage::Insert(at, byte) => bytes.insert(at.index(len + 1), *byte),
            Damage::Remove(at) if len > 0 => drop(bytes.remove(at.index(len))),
            Damage::Truncate(at) if len > 0 => bytes.truncate(at.index(len)),
            _ => {}
        }
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        3 => (any::<Index>(), 1..=u8::MAX).prop_map(|(at, mask)| Damage::Change(at, mask)),
        3 => (any::<Index>(), prop_oneof![-3i8..0, 1i8..4]).prop_map(|(at, by)| Damage::Nudge(at, by)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Damage::Insert(at, byte)),
        2 => any::<Index>().prop_map(Damage::Remove),
        1 => any::<Index>().prop_map(Damage::Truncate),
    ]
}

/// Simple values, nested a little.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        (-48i64..160).prop_map(Value::Int),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        "\\PC{0,8}".prop_map(Value::Str),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(|b| Value::Bytes(b.into())),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| prop::collection::vec(inner, 0..3).prop_map(Value::Tuple))
}

/// A positional argument: mostly a value, sometimes an object of the client's (lent
/// by reference, which takes the general path).
fn arg() -> impl Strategy<Value = Object> {
    prop_oneof![
        12 => value().prop_map(Object::Value),
        1 => Just(Object::Local(LocalRef::new(Arc::new(Named("builtins.function"))))),
    ]
}

/// Method and attribute names, some around and past [`INLINE_NAME`] bytes.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![6 => "[a-z_]{0,12}", 1 => "[a-z]{60,64}", 1 => "\\PC{0,30}"]
}

fn request() -> impl Strategy<Value = Request> {
    let target = prop_oneof![8 => 0..LENT.len(), 1 => LENT.len()..LENT.len() + 2].boxed();
    let args = prop::collection::vec(arg(), 0..6).boxed();
    let kwargs = prop_oneof![2 => Just(Kwargs::Absent), 6 => Just(Kwargs::Empty), 1 => Just(Kwargs::One)].boxed();
    let count = prop_oneof![-48i64..160, any::<i64>()];
    prop_oneof![
        (target.clone(), name()).prop_map(|(target, name)| Request::GetAttr { target, name }),
        (target.clone(), args.clone(), kwargs.clone()).prop_map(|(target, args, kwargs)| Request::Call {
            target,
            args,
            kwargs
        }),
        (target.clone(), name(), args, kwargs).prop_map(|(target, name, args, kwargs)| Request::CallAttr {
            target,
            name,
            args,
            kwargs
        }),
        (target, count).prop_map(|(target, count)| Request::Del { target, count }),
    ]
}

/// What the in-place path made of a frame, for failure messages.
fn describe(plain: &Plain) -> String {
    match plain {
        Plain::CallAttr { target, method, positional } => format!("CALLATTR {target:?}.{method:?}{positional:?}"),
        Plain::GetAttr { target, name } => format!("GETATTR {target:?}.{name:?}"),
        Plain::Call { target, positional } => format!("CALL {target:?}{positional:?}"),
        Plain::Del { object_id, count } => format!("DEL #{object_id} x{count}"),
    }
}

/// Whether `boxed` names the lent object `target`, as the general path resolves it.
fn names(boxed: &Boxed, target: &LocalRef, exports: &ExportTable) -> bool {
    matches!(boxed, Boxed::LocalRef(id) if exports.get(id).is_some_and(|lent| lent.ptr_eq(target)))
}

fn is_str(boxed: &Boxed, name: &str) -> bool {
    matches!(boxed, Boxed::Value(Value::Str(s)) if s == name)
}

/// Whether `boxed` holds exactly the values of `positional` (bit for bit: NaNs too).
fn same_args(boxed: &Boxed, positional: &[Object]) -> bool {
    let Boxed::Value(Value::Tuple(values)) = boxed else { return false };
    values.len() == positional.len()
        && values.iter().zip(positional).all(|(v, arg)| matches!(arg, Object::Value(w) if w.same_as(v)))
}

/// Whether the keyword arguments after the positional ones are none or `()`.
fn no_kwargs(rest: &[Boxed]) -> bool {
    match rest {
        [] => true,
        [Boxed::Value(Value::Tuple(pairs))] => pairs.is_empty(),
        _ => false,
    }
}

/// Decodes `payload` both ways; where the in-place path takes it, the general path must
/// take it the same. Returns whether the in-place path took it.
fn agree(
    payload: &[u8],
    shared: bool,
    limits: &Limits,
    available: usize,
    exports: &ExportTable,
) -> Result<bool, TestCaseError> {
    let buffer = Bytes::copy_from_slice(payload);
    let frame = Frame {
        payload: &buffer,
        compressed: false,
        wire_len: HEADER_LEN + buffer.len() + 1,
        shared: shared.then_some(&buffer),
    };
    let Some((plain, charge)) = decode(&frame, limits, available, exports) else { return Ok(false) };
    let taken = describe(&plain.body);
    let general = Message::decode_frame(&frame, limits, available);
    let Ok((Message::Request { seq, handler, args }, general_charge)) = general else {
        return Err(TestCaseError::fail(format!(
            "{} taken in place as {taken}, but the general path gives {general:?}",
            hex::encode(payload)
        )));
    };
    let frame = hex::encode(payload);
    prop_assert_eq!(plain.seq, seq, "seq of {}", frame);
    prop_assert_eq!(i64::from(plain.body.handler().id()), handler, "handler of {}", frame);
    prop_assert_eq!(charge, general_charge, "memory charged for {}", frame);
    let Boxed::Tuple(items) = &args else {
        return Err(TestCaseError::fail(format!("{frame} taken in place as {taken}, decoded in full as {args:?}")));
    };
    let same = match (&plain.body, items.as_slice()) {
        (Plain::GetAttr { target, name }, [t, n]) => names(t, target, exports) && is_str(n, name),
        (Plain::Call { target, positional }, [t, a, kw @ ..]) => {
            names(t, target, exports) && same_args(a, positional) && no_kwargs(kw)
        }
        (Plain::CallAttr { target, method, positional }, [t, n, a, kw @ ..]) => {
            names(t, target, exports) && is_str(n, method) && same_args(a, positional) && no_kwargs(kw)
        }
        (Plain::Del { object_id, count }, [Boxed::LocalRef(id), Boxed::Value(Value::Int(c))]) => {
            id.object_id == *object_id && c == count
        }
        _ => false,
    };
    prop_assert!(same, "{} taken in place as {}, decoded in full as {:?}", frame, taken, args);
    Ok(true)
}

proptest! {
    // About 1.5 s in a debug build.
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Each request is compared undamaged under the default limits (where it must be
    /// taken in place exactly when it is plain), then under the case's limits (a
    /// shallow depth limit, or a budget within a few bytes of the request's charge):
    /// undamaged, with each of its damages alone, then with them all, one after another
    /// (about one damaged frame in fourteen is still taken in place).
    #[test]
    fn takes_in_place_only_what_the_general_path_takes_the_same(
        request in request(),
        seq in prop_oneof![0i64..1000, any::<i64>()],
        damages in prop::collection::vec(damage(), 1..4),
        max_depth in prop_oneof![3 => Just(Limits::DEFAULT.max_depth), 1 => 0u32..5],
        slack in prop::option::weighted(0.3, -48isize..48),
        shared in any::<bool>(),
    ) {
        let sides = Sides::new();
        let mut payload = request.encode(seq, &sides);
        let full = Limits::DEFAULT;
        let budget = full.max_connection_memory;
        let taken = agree(&payload, false, &full, budget, &sides.exports)?;
        prop_assert_eq!(taken, request.is_plain(), "undamaged {:?} taken in place", request);
        let (_, charge) = Message::decode_within(&payload, &full, budget)
            .map_err(|e| TestCaseError::fail(format!("the undamaged request does not decode: {e}")))?;
        let limits = Limits { max_depth, ..full };
        let available = slack.map_or(budget, |slack| charge.saturating_add_signed(slack));
        agree(&payload, shared, &limits, available, &sides.exports)?;
        for damage in &damages {
            let mut damaged = payload.clone();
            damage.apply(&mut damaged);
            agree(&damaged, shared, &limits, available, &sides.exports)?;
        }
        for damage in &damages {
            damage.apply(&mut payload);
            agree(&payload, shared, &limits, available, &sides.exports)?;
        }
    }
}
