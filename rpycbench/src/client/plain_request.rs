//! The common requests a server answers, decoded straight from their frame:
//!
//! * a CALLATTR on one of this side's objects with a `str` method name, positional
//!   arguments that are plain values and no keyword arguments (`conn.call("ping", ())`,
//!   `echo(7)`);
//! * a GETATTR of a `str` name and a CALL with such arguments: how a Python client
//!   calls `conn.root.echo(7)` (the bound method, then a call of it);
//! * a DEL of one of this side's objects (a client dropping its proxy of a returned
//!   object, as after every `get_user`).
//!
//! The general path builds a [`Message`](crate::wire::Message) for them — a vector of
//! boxes, the id_pack's name and the method name as heap strings, then a vector of
//! objects — and takes them apart again; this one looks the target up by the id_pack
//! it borrows from the frame and keeps the method name and a few arguments on the stack.
//!
//! Anything else, or anything wrong, is left to the general path, which decodes the
//! frame again and answers (or refuses) it as before: this path accepts a subset of
//! what the general one accepts, reads it with the same [`Reader`] calls in the same
//! order, and charges the memory budget exactly what the general path would.

use super::inline::InlineStr;
use super::local::{ExportTable, LocalRef};
use super::object::Object;
use super::positional::Positional;
use crate::wire::boxing::label;
use crate::wire::brine::Reader;
use crate::wire::message::msg_type;
use crate::wire::{Boxed, DecodeError, Frame, Handler, Limits, Value};

/// A request whose parts are all plain, ready to run.
pub(crate) struct PlainRequest {
    /// The request's sequence number.
    pub seq: i64,
    /// What it asks for.
    pub body: Plain,
}

/// What a [`PlainRequest`] asks for.
pub(crate) enum Plain {
    /// CALLATTR.
    CallAttr {
        /// The object called, found in the export table.
        target: LocalRef,
        /// The method name.
        method: InlineStr,
        /// The positional arguments (a few inline: no heap block for `echo(7)`).
        positional: Positional,
    },
    /// GETATTR.
    GetAttr {
        /// The object, found in the export table.
        target: LocalRef,
        /// The attribute's name.
        name: InlineStr,
    },
    /// CALL.
    Call {
        /// The object called, found in the export table.
        target: LocalRef,
        /// The positional arguments.
        positional: Positional,
    },
    /// DEL: the peer returns `count` references to the object lent as `object_id`
    /// (which the export table releases by that id alone, as for a decoded DEL).
    Del { object_id: i64, count: i64 },
}

impl Plain {
    /// The request's handler.
    pub fn handler(&self) -> Handler {
        match self {
            Plain::CallAttr { .. } => Handler::CallAttr,
            Plain::GetAttr { .. } => Handler::GetAttr,
            Plain::Call { .. } => Handler::Call,
            Plain::Del { .. } => Handler::Del,
        }
    }
}

/// `frame` as a [`PlainRequest`], with the bytes its values were charged; `None` for
/// any other message (or a malformed one), which the caller then decodes in full.
pub(crate) fn decode(
    frame: &Frame<'_>,
    limits: &Limits,
    available: usize,
    exports: &ExportTable,
) -> Option<(PlainRequest, usize)> {
    let (&kind, rest) = frame.payload.split_first()?;
    if kind != msg_type::REQUEST {
        return None;
    }
    let mut r = Reader::with_budget(rest, limits, available);
    if let Some(shared) = frame.shared {
        r = r.sharing(shared);
    }
    read(&mut r, exports).ok().flatten().map(|call| (call, r.charged()))
}

/// Reads the envelope and the arguments as `Message::decode_frame` and `Boxed::decode`
/// do; `Ok(None)` where the request is not a plain one.
fn read(r: &mut Reader<'_>, exports: &ExportTable) -> Result<Option<PlainRequest>, DecodeError> {
    r.expect_tuple(2, "envelope")?;
    let seq = r.i64()?;
    r.expect_tuple(2, "request body")?;
    let handler = r.i64()?;
    let body = match Handler::from_id(handler) {
        Some(Handler::CallAttr) => callattr(r, exports)?,
        Some(Handler::GetAttr) => getattr(r, exports)?,
        Some(Handler::Call) => call(r, exports)?,
        Some(Handler::Del) => del(r)?,
        _ => return Ok(None),
    };
    r.finish()?;
    Ok(body.map(|body| PlainRequest { seq, body }))
}

/// Reads the `(TUPLE, (…))` box of a request's arguments up to its items, charged as
/// `Boxed::decode` charges their vector; `None` unless there are `counts` items.
fn argument_tuple(r: &mut Reader<'_>, counts: std::ops::RangeInclusive<usize>) -> Result<Option<usize>, DecodeError> {
    if !labelled(r, label::TUPLE)? {
        return Ok(None);
    }
    // Other counts are refused by the general path with its own message.
    let n = r.tuple_len()?;
    if !counts.contains(&n) {
        return Ok(None);
    }
    // What `Reader::collect` charges for the vector of `n` boxes the general path makes.
    r.charge(n * std::mem::size_of::<Boxed>())?;
    Ok(Some(n))
}

/// CALLATTR's `(target, name, args)` or `(target, name, args, kwargs)`.
fn callattr(r: &mut Reader<'_>, exports: &ExportTable) -> Result<Option<Plain>, DecodeError> {
    let Some(n) = argument_tuple(r, 3..=4)? else { return Ok(None) };
    r.descend(|r| {
        let Some(target) = target(r, exports)? else { return Ok(None) };
        let Some(method) = method_name(r)? else { return Ok(None) };
        let Some(positional) = positional(r)? else { return Ok(None) };
        if n == 4 && !no_kwargs(r)? {
            return Ok(None);
        }
        Ok(Some(Plain::CallAttr { target, method, positional }))
    })
}

/// GETATTR's `(target, name)`.
fn getattr(r: &mut Reader<'_>, exports: &ExportTable) -> Result<Option<Plain>, DecodeError> {
    if argument_tuple(r, 2..=2)?.is_none() {
        return Ok(None);
    }
    r.descend(|r| {
        let Some(target) = target(r, exports)? else { return Ok(None) };
        let Some(name) = method_name(r)? else { return Ok(None) };
        Ok(Some(Plain::GetAttr { target, name }))
    })
}

/// CALL's `(target, args)` or `(target, args, kwargs)`.
fn call(r: &mut Reader<'_>, exports: &ExportTable) -> Result<Option<Plain>, DecodeError> {
    let Some(n) = argument_tuple(r, 2..=3)? else { return Ok(None) };
    r.descend(|r| {
        let Some(target) = target(r, exports)? else { return Ok(None) };
        let Some(positional) = positional(r)? else { return Ok(None) };
        if n == 3 && !no_kwargs(r)? {
            return Ok(None);
        }
        Ok(Some(Plain::Call { target, positional }))
    })
}

/// DEL's `(object, count)`: a LOCAL_REF box and an `int` (the general path answers
/// anything else with its `TypeError`).
fn del(r: &mut Reader<'_>) -> Result<Option<Plain>, DecodeError> {
    if argument_tuple(r, 2..=2)?.is_none() {
        return Ok(None);
    }
    r.descend(|r| {
        if !labelled(r, label::LOCAL_REF)? {
            return Ok(None);
        }
        let (_name, object_id) = id_pack(r)?;
        if !labelled(r, label::VALUE)? {
            return Ok(None);
        }
        Ok(match r.value()? {
            Value::Int(count) => Some(Plain::Del { object_id, count }),
            _ => None,
        })
    })
}

/// Reads a box's `(label, ` and tells whether the label is `want`.
fn labelled(r: &mut Reader<'_>, want: i64) -> Result<bool, DecodeError> {
    r.expect_tuple(2, "box")?;
    Ok(r.i64()? == want)
}

/// The LOCAL_REF box of the object called, if it is one this side lends; an unknown
/// one is the general path's `KeyError`.
fn target(r: &mut Reader<'_>, exports: &ExportTable) -> Result<Option<LocalRef>, DecodeError> {
    if !labelled(r, label::LOCAL_REF)? {
        return Ok(None);
    }
    let (name, object_id) = id_pack(r)?;
    Ok(exports.get_by(object_id, name))
}

/// An id_pack's name and object id, read and charged as `IdPack::decode` does.
fn id_pack<'a>(r: &mut Reader<'a>) -> Result<(&'a str, i64), DecodeError> {
    r.expect_tuple(3, "id_pack")?;
    let name = r.str()?;
    r.charge(name.len())?;
    let _class_id = r.i64()?;
    let object_id = r.i64()?;
    Ok((name, object_id))
}

/// A method or attribute name, a `str` short enough for the stack (a `bytes` name, or
/// a longer one, takes the general path).
fn method_name(r: &mut Reader<'_>) -> Result<Option<InlineStr>, DecodeError> {
    if !labelled(r, label::VALUE)? {
        return Ok(None);
    }
    let name = r.str()?;
    r.charge(name.len())?;
    Ok(InlineStr::new(name))
}

/// The positional arguments: a VALUE box holding a tuple.
fn positional(r: &mut Reader<'_>) -> Result<Option<Positional>, DecodeError> {
    if !labelled(r, label::VALUE)? {
        return Ok(None);
    }
    // What `Reader::value` does for a tuple (charged as its vector of values), each
    // element made the object the general path's `call_args` would make of it; any
    // other value is the general path's `TypeError`.
    let n = r.tuple_len()?;
    let mut items = Positional::new();
    r.descend(|r| {
        r.each_charged_as(n, std::mem::size_of::<Value>(), |r, room| {
            items.reserve_exact(room);
            items.push(Object::Value(r.value()?));
            Ok(())
        })
    })?;
    Ok(Some(items))
}

/// Whether the keyword arguments are a VALUE box holding the empty tuple.
fn no_kwargs(r: &mut Reader<'_>) -> Result<bool, DecodeError> {
    // Only the length is read: anything but `()` leaves for the general path anyway.
    Ok(labelled(r, label::VALUE)? && r.tuple_len()? == 0)
}

#[cfg(test)]
mod tests;
