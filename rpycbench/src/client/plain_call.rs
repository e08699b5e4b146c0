//! The common request a server answers, decoded straight from its frame: a CALLATTR
//! on one of this side's objects with a `str` method name, positional arguments that
//! are plain values and no keyword arguments (`conn.call("ping", ())`,
//! `echo(7)`). The general path builds a [`Message`](crate::wire::Message) for it —
//! a vector of boxes, the id_pack's name and the method name as heap strings, then a
//! vector of objects — and takes them apart again; this one looks the target up by the
//! id_pack it borrows from the frame and keeps the method name on the stack.
//!
//! Anything else, or anything wrong, is left to the general path, which decodes the
//! frame again and answers (or refuses) it as before: this path accepts a subset of
//! what the general one accepts, reads it with the same [`Reader`] calls in the same
//! order, and charges the memory budget exactly what the general path would.

use super::inline::InlineStr;
use super::local::{ExportTable, LocalRef};
use super::object::Object;
use crate::wire::boxing::label;
use crate::wire::brine::Reader;
use crate::wire::message::msg_type;
use crate::wire::{Boxed, DecodeError, Frame, Handler, Limits, Value};

/// A CALLATTR whose parts are all plain, ready to run.
pub(crate) struct PlainCall {
    /// The request's sequence number.
    pub seq: i64,
    /// The object called, found in the export table.
    pub target: LocalRef,
    /// The method name.
    pub method: InlineStr,
    /// The positional arguments.
    pub positional: Vec<Object>,
}

/// `frame` as a [`PlainCall`], with the bytes its values were charged; `None` for any
/// other message (or a malformed one), which the caller then decodes in full.
pub(crate) fn decode(
    frame: &Frame<'_>,
    limits: &Limits,
    available: usize,
    exports: &ExportTable,
) -> Option<(PlainCall, usize)> {
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
/// do; `Ok(None)` where the request is not a plain CALLATTR.
fn read(r: &mut Reader<'_>, exports: &ExportTable) -> Result<Option<PlainCall>, DecodeError> {
    r.expect_tuple(2, "envelope")?;
    let seq = r.i64()?;
    r.expect_tuple(2, "request body")?;
    if r.i64()? != i64::from(Handler::CallAttr.id()) {
        return Ok(None);
    }
    r.expect_tuple(2, "box")?;
    if r.i64()? != label::TUPLE {
        return Ok(None);
    }
    // (target, name, args) or (target, name, args, kwargs): other counts are refused
    // by the general path with its own message.
    let n = r.tuple_len()?;
    if !(3..=4).contains(&n) {
        return Ok(None);
    }
    // What `Reader::collect` charges for the vector of `n` boxes the general path makes.
    r.charge(n * std::mem::size_of::<Boxed>())?;
    let call = r.descend(|r| {
        let Some(target) = target(r, exports)? else { return Ok(None) };
        let Some(method) = method_name(r)? else { return Ok(None) };
        let Some(positional) = positional(r)? else { return Ok(None) };
        if n == 4 && !no_kwargs(r)? {
            return Ok(None);
        }
        Ok(Some(PlainCall { seq, target, method, positional }))
    })?;
    r.finish()?;
    Ok(call)
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
    r.expect_tuple(3, "id_pack")?;
    let name = r.str()?;
    r.charge(name.len())?;
    let _class_id = r.i64()?;
    let object_id = r.i64()?;
    Ok(exports.get_by(object_id, name))
}

/// The method name, a `str` short enough for the stack (a `bytes` name, or a longer
/// one, takes the general path).
fn method_name(r: &mut Reader<'_>) -> Result<Option<InlineStr>, DecodeError> {
    if !labelled(r, label::VALUE)? {
        return Ok(None);
    }
    let name = r.str()?;
    r.charge(name.len())?;
    Ok(InlineStr::new(name))
}

/// The positional arguments: a VALUE box holding a tuple.
fn positional(r: &mut Reader<'_>) -> Result<Option<Vec<Object>>, DecodeError> {
    if !labelled(r, label::VALUE)? {
        return Ok(None);
    }
    // What `Reader::value` does for a tuple, each element made the object the general
    // path's `call_args` would make of it; any other value is the general path's
    // `TypeError`.
    let n = r.tuple_len()?;
    let items =
        r.descend(|r| r.collect_charged_as(n, std::mem::size_of::<Value>(), |r| r.value().map(Object::Value)))?;
    Ok(Some(items))
}

/// Whether the keyword arguments are a VALUE box holding the empty tuple.
fn no_kwargs(r: &mut Reader<'_>) -> Result<bool, DecodeError> {
    // Only the length is read: anything but `()` leaves for the general path anyway.
    Ok(labelled(r, label::VALUE)? && r.tuple_len()? == 0)
}
