//! Boxing outgoing arguments straight into the frame buffer (PROTOCOL.md §6.1), with
//! Python's rules, from borrowed parts: the request path builds no intermediate tree.

use super::local::ExportTable;
use super::object::Object;
use super::remote::{ReleaseQueue, RemoteRef};
use crate::error::{Error, Result};
use crate::wire::boxing::label;
use crate::wire::brine::sealed::SinkVec;
use crate::wire::{brine, FramePayload, IdPack, Value};
use std::sync::Arc;

/// One element of a request's argument tuple.
pub(crate) enum Part<'a> {
    /// The object the request operates on (a LOCAL_REF for the peer).
    Target(&'a RemoteRef),
    /// Any object, boxed by Python's rules.
    Obj(&'a Object),
    /// A name or op string.
    Str(&'a str),
    /// A value.
    Value(&'a Value),
    /// An argument tuple.
    Seq(&'a [Object]),
    /// Keyword arguments as a tuple of `(name, value)` pairs.
    Kwargs(&'a [(String, Object)]),
}

/// What boxing needs from the connection: where to register exported objects, and
/// which queue identifies this connection's own proxies.
pub(crate) struct BoxCtx<'a> {
    pub exports: &'a mut ExportTable,
    pub queue: &'a Arc<ReleaseQueue>,
    pub exported: &'a mut u64,
}

fn part_is_simple(p: &Part<'_>) -> bool {
    match p {
        Part::Target(_) => false,
        Part::Obj(o) => o.is_simple(),
        Part::Str(_) | Part::Value(_) => true,
        Part::Seq(items) => items.iter().all(Object::is_simple),
        Part::Kwargs(kw) => kw.iter().all(|(_, v)| v.is_simple()),
    }
}

/// Writes the boxed argument tuple of a request.
pub(crate) fn write_args(parts: &[Part<'_>], ctx: &mut BoxCtx<'_>, out: &mut FramePayload) -> Result<()> {
    let simple = parts.iter().all(part_is_simple);
    out.push(brine::tag::TUPLE1 + 1);
    brine::write_int(if simple { label::VALUE } else { label::TUPLE }, out.vec());
    brine::write_tuple_header(parts.len(), out.vec())?;
    for p in parts {
        if simple {
            write_part_value(p, out)?;
        } else {
            write_part_box(p, ctx, out)?;
        }
    }
    Ok(())
}

/// Writes a simple part as a plain value (inside a VALUE box).
fn write_part_value(p: &Part<'_>, out: &mut FramePayload) -> Result<()> {
    match p {
        Part::Str(s) => brine::write_str(s, out.vec())?,
        Part::Value(v) => brine::encode(v, out)?,
        Part::Obj(o) => write_simple(o, out)?,
        Part::Seq(items) => {
            brine::write_tuple_header(items.len(), out.vec())?;
            items.iter().try_for_each(|o| write_simple(o, out))?;
        }
        Part::Kwargs(kw) => {
            brine::write_tuple_header(kw.len(), out.vec())?;
            for (k, v) in kw.iter() {
                brine::write_tuple_header(2, out.vec())?;
                brine::write_str(k, out.vec())?;
                write_simple(v, out)?;
            }
        }
        Part::Target(_) => unreachable!("a target is never simple (part_is_simple)"),
    }
    Ok(())
}

fn write_simple(o: &Object, out: &mut FramePayload) -> Result<()> {
    match o {
        Object::Value(v) => Ok(brine::encode(v, out)?),
        _ => unreachable!("callers check is_simple first"),
    }
}

/// Writes a part as a box of its own.
fn write_part_box(p: &Part<'_>, ctx: &mut BoxCtx<'_>, out: &mut FramePayload) -> Result<()> {
    if part_is_simple(p) {
        out.push(brine::tag::TUPLE1 + 1);
        brine::write_int(label::VALUE, out.vec());
        return write_part_value(p, out);
    }
    match p {
        Part::Target(r) => write_ref_box(r, ctx, out),
        Part::Obj(o) => write_box(o, ctx, out),
        Part::Seq(items) => write_tuple_box(items.iter(), items.len(), ctx, out),
        Part::Kwargs(kw) => {
            out.push(brine::tag::TUPLE1 + 1);
            brine::write_int(label::TUPLE, out.vec());
            brine::write_tuple_header(kw.len(), out.vec())?;
            for (k, v) in kw.iter() {
                write_args(&[Part::Str(k), Part::Obj(v)], ctx, out)?;
            }
            Ok(())
        }
        _ => unreachable!("other parts are always simple"),
    }
}

/// Boxes any object: VALUE, TUPLE of boxes, LOCAL_REF for the peer's, REMOTE_REF for ours.
pub(crate) fn write_box(o: &Object, ctx: &mut BoxCtx<'_>, out: &mut FramePayload) -> Result<()> {
    match o {
        Object::Value(v) => {
            out.push(brine::tag::TUPLE1 + 1);
            brine::write_int(label::VALUE, out.vec());
            Ok(brine::encode(v, out)?)
        }
        Object::Tuple(items) if items.iter().all(Object::is_simple) => {
            out.push(brine::tag::TUPLE1 + 1);
            brine::write_int(label::VALUE, out.vec());
            write_part_value(&Part::Seq(items), out)
        }
        Object::Tuple(items) => write_tuple_box(items.iter(), items.len(), ctx, out),
        Object::Remote(r) => write_ref_box(r, ctx, out),
        Object::Local(l) => {
            let (class_id, object_id) = ctx.exports.export(l);
            *ctx.exported += 1;
            out.push(brine::tag::TUPLE1 + 1);
            brine::write_int(label::REMOTE_REF, out.vec());
            Ok(IdPack::encode_parts(l.type_name(), class_id, object_id, out.vec())?)
        }
    }
}

fn write_tuple_box<'o>(
    items: impl Iterator<Item = &'o Object>,
    n: usize,
    ctx: &mut BoxCtx<'_>,
    out: &mut FramePayload,
) -> Result<()> {
    out.push(brine::tag::TUPLE1 + 1);
    brine::write_int(label::TUPLE, out.vec());
    brine::write_tuple_header(n, out.vec())?;
    items.into_iter().try_for_each(|o| write_box(o, ctx, out))
}

fn write_ref_box(r: &RemoteRef, ctx: &mut BoxCtx<'_>, out: &mut FramePayload) -> Result<()> {
    if !r.belongs_to(ctx.queue) {
        return Err(Error::Unsupported(format!("{} is a proxy of another connection", r.id())));
    }
    out.push(brine::tag::TUPLE1 + 1);
    brine::write_int(label::LOCAL_REF, out.vec());
    Ok(r.id().encode(out.vec())?)
}

/// Writes DEL's arguments `(2, ((3, id), (1, count)))` for a proxy that no longer exists.
pub(crate) fn write_del_args(id: &IdPack, count: i64, out: &mut Vec<u8>) -> Result<()> {
    out.push(brine::tag::TUPLE1 + 1);
    brine::write_int(label::TUPLE, out);
    brine::write_tuple_header(2, out)?;
    out.push(brine::tag::TUPLE1 + 1);
    brine::write_int(label::LOCAL_REF, out);
    id.encode(out)?;
    out.push(brine::tag::TUPLE1 + 1);
    brine::write_int(label::VALUE, out);
    brine::write_int(count, out);
    Ok(())
}
