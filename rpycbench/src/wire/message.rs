//! The message envelope (PROTOCOL.md §5, §7): `msg_type || brine((seq, body))`.

use super::boxing::Boxed;
use super::brine::{self, Reader, Sink};
use super::error::{DecodeError, EncodeError};
use super::frame::Frame;
use super::vinegar::ExceptionPayload;
use super::Limits;
use bytes::Bytes;
use std::fmt;

/// Message type bytes.
pub mod msg_type {
    /// `(handler_id, boxed_args)`.
    pub const REQUEST: u8 = 1;
    /// A boxed return value.
    pub const REPLY: u8 = 2;
    /// An exception payload (not boxed).
    pub const EXCEPTION: u8 = 3;
}

macro_rules! handlers {
    ($($variant:ident = $id:literal, $name:literal;)*) => {
        /// The request handlers of RPyC 6.0.2 (PROTOCOL.md §7).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Handler {
            $(#[doc = $name] $variant = $id,)*
        }

        impl Handler {
            /// Every handler, in id order.
            pub const ALL: [Handler; 20] = [$(Handler::$variant),*];

            /// The handler with this wire id.
            pub fn from_id(id: i64) -> Option<Handler> {
                match id {
                    $($id => Some(Handler::$variant),)*
                    _ => None,
                }
            }

            /// The handler's name as rpyc's `consts` spells it, e.g. `"CALLATTR"`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Handler::$variant => $name,)*
                }
            }
        }
    };
}

handlers! {
    Ping = 1, "PING";
    Close = 2, "CLOSE";
    GetRoot = 3, "GETROOT";
    GetAttr = 4, "GETATTR";
    DelAttr = 5, "DELATTR";
    SetAttr = 6, "SETATTR";
    Call = 7, "CALL";
    CallAttr = 8, "CALLATTR";
    Repr = 9, "REPR";
    Str = 10, "STR";
    Cmp = 11, "CMP";
    Hash = 12, "HASH";
    Dir = 13, "DIR";
    Pickle = 14, "PICKLE";
    Del = 15, "DEL";
    Inspect = 16, "INSPECT";
    BuffIter = 17, "BUFFITER";
    OldSlicing = 18, "OLDSLICING";
    CtxExit = 19, "CTXEXIT";
    InstanceCheck = 20, "INSTANCECHECK";
}

impl Handler {
    /// The wire id.
    pub fn id(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One decoded message.
#[allow(missing_docs)] // seq, handler, args and value are the spec's names (§5, §7)
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A request; `handler` is the raw id so that an unknown one can be answered with
    /// the `KeyError` a Python peer sends (see [`Handler::from_id`]).
    Request { seq: i64, handler: i64, args: Boxed },
    /// A successful reply to the request with the same `seq`.
    Reply { seq: i64, value: Boxed },
    /// A failed reply to the request with the same `seq`.
    Exception { seq: i64, payload: ExceptionPayload },
}

/// A message that could not be decoded; `request_seq` is set when it was a request
/// whose sequence number was readable, so the receiver can still answer it with an
/// EXCEPTION instead of dropping the connection.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source}")]
pub struct MessageError {
    /// The sequence number of the undecodable request, if known.
    pub request_seq: Option<i64>,
    /// What was wrong.
    #[source]
    pub source: DecodeError,
}

impl Message {
    /// The sequence number.
    pub fn seq(&self) -> i64 {
        match self {
            Message::Request { seq, .. } | Message::Reply { seq, .. } | Message::Exception { seq, .. } => *seq,
        }
    }

    /// Decodes a frame payload, its values within the whole memory budget of `limits`.
    pub fn decode(payload: &[u8], limits: &Limits) -> Result<Message, MessageError> {
        Message::decode_within(payload, limits, limits.max_connection_memory).map(|(msg, _)| msg)
    }

    /// Decodes a frame payload whose values may take at most `available` bytes (what
    /// is left of the connection's budget); returns the message and the bytes its
    /// values were charged.
    pub fn decode_within(payload: &[u8], limits: &Limits, available: usize) -> Result<(Message, usize), MessageError> {
        Message::decode_in(payload, None, limits, available)
    }

    /// [`decode_within`](Self::decode_within) for a received frame: large `bytes`
    /// values share the frame's buffer when the decoder lent it (see
    /// [`Reader::sharing`]).
    pub fn decode_frame(
        frame: &Frame<'_>,
        limits: &Limits,
        available: usize,
    ) -> Result<(Message, usize), MessageError> {
        Message::decode_in(frame.payload, frame.shared, limits, available)
    }

    fn decode_in(
        payload: &[u8],
        shared: Option<&Bytes>,
        limits: &Limits,
        available: usize,
    ) -> Result<(Message, usize), MessageError> {
        let plain = |source| MessageError { request_seq: None, source };
        let (&kind, rest) =
            payload.split_first().ok_or_else(|| plain(DecodeError::Envelope("empty payload".into())))?;
        if kind == OLDER_ENVELOPE {
            return Err(MessageError {
                request_seq: older_request_seq(payload, limits),
                source: DecodeError::OlderRpyc,
            });
        }
        let mut r = Reader::with_budget(rest, limits, available);
        if let Some(frame) = shared {
            r = r.sharing(frame);
        }
        r.expect_tuple(2, "envelope (seq, body)").map_err(plain)?;
        let seq = r.i64().map_err(plain)?;
        let msg = match kind {
            msg_type::REQUEST => {
                let in_request = |source| MessageError { request_seq: Some(seq), source };
                r.expect_tuple(2, "request body (handler, args)").map_err(in_request)?;
                let handler = r.i64().map_err(in_request)?;
                let args = Boxed::decode(&mut r).map_err(in_request)?;
                r.finish().map_err(in_request)?;
                return Ok((Message::Request { seq, handler, args }, r.charged()));
            }
            msg_type::REPLY => Message::Reply { seq, value: Boxed::decode(&mut r).map_err(plain)? },
            msg_type::EXCEPTION => {
                Message::Exception { seq, payload: ExceptionPayload::decode(&mut r).map_err(plain)? }
            }
            other => return Err(plain(DecodeError::Envelope(format!("unknown message type {other}")))),
        };
        r.finish().map_err(plain)?;
        Ok((msg, r.charged()))
    }

    /// Appends the message payload (not framed) to `out`.
    pub fn encode<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EncodeError> {
        match self {
            Message::Request { seq, handler, args } => {
                write_request_header(*seq, *handler, out.vec());
                args.encode(out)
            }
            Message::Reply { seq, value } => {
                write_reply_header(*seq, out.vec());
                value.encode(out)
            }
            Message::Exception { seq, payload } => {
                write_exception_header(*seq, out.vec());
                payload.encode(out.vec())
            }
        }
    }
}

/// The first byte of an rpyc 4/5 message: brine's 3-tuple tag, where rpyc 6 puts the
/// message type (1, 2 or 3).
const OLDER_ENVELOPE: u8 = brine::tag::TUPLE1 + 2;

/// The sequence number of an rpyc 4/5 request, `(1, seq, (handler, args))`.
fn older_request_seq(payload: &[u8], limits: &Limits) -> Option<i64> {
    let mut r = Reader::new(payload, limits);
    r.expect_tuple(3, "older envelope").ok()?;
    (r.i64().ok()? == i64::from(msg_type::REQUEST)).then(|| r.i64().ok()).flatten()
}

/// An EXCEPTION message framed as rpyc 4/5 frame theirs, so that an old peer shows the
/// error instead of a bare "connection closed": `(3, seq, payload)` in one brine tuple.
pub(crate) fn encode_older_exception(
    seq: i64,
    payload: &ExceptionPayload,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    out.push(OLDER_ENVELOPE);
    brine::write_int(i64::from(msg_type::EXCEPTION), out);
    brine::write_int(seq, out);
    payload.encode(out)
}

/// Writes `REQUEST (seq, (handler, ` — the caller appends the boxed arguments.
///
/// The send path uses these writers to encode straight from borrowed arguments
/// without first building an owned [`Message`].
pub fn write_request_header<S: Sink + ?Sized>(seq: i64, handler: i64, out: &mut S) {
    let out = out.vec();
    out.push(msg_type::REQUEST);
    out.push(brine::tag::TUPLE1 + 1);
    brine::write_int(seq, out);
    out.push(brine::tag::TUPLE1 + 1);
    brine::write_int(handler, out);
}

/// Writes `REPLY (seq, ` — the caller appends the boxed value.
pub(crate) fn write_reply_header(seq: i64, out: &mut Vec<u8>) {
    out.push(msg_type::REPLY);
    out.push(brine::tag::TUPLE1 + 1);
    brine::write_int(seq, out);
}

/// Writes `EXCEPTION (seq, ` — the caller appends the exception payload.
pub(crate) fn write_exception_header(seq: i64, out: &mut Vec<u8>) {
    out.push(msg_type::EXCEPTION);
    out.push(brine::tag::TUPLE1 + 1);
    brine::write_int(seq, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{IdPack, Value};

    #[test]
    fn getroot_request_matches_the_spec() {
        let m = Message::Request { seq: 0, handler: Handler::GetRoot as i64, args: Boxed::Value(Value::from(())) };
        let mut out = Vec::new();
        m.encode(&mut out).unwrap();
        assert_eq!(out, [0x01, 0x11, 0x50, 0x11, 0x53, 0x11, 0x51, 0x02]);
        assert_eq!(Message::decode(&out, &Limits::DEFAULT).unwrap(), m);
    }

    #[test]
    fn undecodable_request_args_keep_the_seq() {
        // REQUEST seq 7, handler CALL, box with label 9.
        let payload = [0x01, 0x11, 0x57, 0x11, 0x57, 0x11, 0x59, 0x00];
        let err = Message::decode(&payload, &Limits::DEFAULT).unwrap_err();
        assert_eq!(err.request_seq, Some(7));
    }

    #[test]
    fn callattr_roundtrip() {
        let root = IdPack::new("demo_service.DemoService", 94460365736272, 140611997821520);
        let args = Boxed::Tuple(vec![
            Boxed::LocalRef(root),
            Boxed::Value("some_method".into()),
            Boxed::Value((1, "x").into()),
            Boxed::Value(Value::Tuple(vec![("k", 2).into()])),
        ]);
        let m = Message::Request { seq: 2, handler: Handler::CallAttr as i64, args };
        let mut out = Vec::new();
        m.encode(&mut out).unwrap();
        assert_eq!(Message::decode(&out, &Limits::DEFAULT).unwrap(), m);
    }
}
