//! Boxing (PROTOCOL.md §6): how arguments and results say "value" or "reference".

use super::brine::{self, Reader, Sink};
use super::error::{DecodeError, EncodeError};
use super::Value;
use std::fmt;
use std::sync::Arc;

/// Box labels, named from the receiver's point of view.
pub mod label {
    /// A brine-simple value.
    pub const VALUE: i64 = 1;
    /// A tuple of boxes.
    pub const TUPLE: i64 = 2;
    /// "One of **your** objects": the receiver looks it up in its own table.
    pub const LOCAL_REF: i64 = 3;
    /// "One of **my** objects": the receiver makes (or reuses) a proxy.
    pub const REMOTE_REF: i64 = 4;
}

/// The name of an object that lives in its owner's memory: `(name_pack, class_id,
/// object_id)`. Opaque to everyone but the owner, and sent back byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdPack {
    /// `"<module>.<type name>"`, e.g. `"builtins.dict"`; decides whether a Python peer
    /// sends INSPECT before building its proxy.
    pub name: Arc<str>,
    /// The same for every object of one type.
    pub class_id: i64,
    /// Unique per live object; `0` means "this is a class".
    pub object_id: i64,
}

impl IdPack {
    /// An id_pack.
    pub fn new(name: impl Into<Arc<str>>, class_id: i64, object_id: i64) -> Self {
        IdPack { name: name.into(), class_id, object_id }
    }

    /// Appends the id_pack as the simple 3-tuple it travels as.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        IdPack::encode_parts(&self.name, self.class_id, self.object_id, out)
    }

    /// Appends the id_pack `(name, class_id, object_id)` without making one.
    pub fn encode_parts(name: &str, class_id: i64, object_id: i64, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(brine::tag::TUPLE1 + 2);
        brine::write_str(name, out)?;
        brine::write_int(class_id, out);
        brine::write_int(object_id, out);
        Ok(())
    }

    /// Reads an id_pack.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_tuple(3, "id_pack (name, class_id, object_id)")?;
        let name = r.str()?;
        r.charge(name.len())?;
        Ok(IdPack { name: name.into(), class_id: r.i64()?, object_id: r.i64()? })
    }
}

impl fmt::Display for IdPack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} #{:x}>", self.name, self.object_id)
    }
}

/// A boxed value as it travels in arguments and replies.
#[derive(Clone, Debug, PartialEq)]
pub enum Boxed {
    /// Label 1: copied by value.
    Value(Value),
    /// Label 2: a tuple with at least one reference inside.
    Tuple(Vec<Boxed>),
    /// Label 3: an object of the receiver's, coming back.
    LocalRef(IdPack),
    /// Label 4: an object of the sender's, to be proxied.
    RemoteRef(IdPack),
}

impl Boxed {
    /// Appends the box: `(label, value)`, to a byte vector or a frame's payload (which
    /// sends a large `bytes` value from where it lies).
    pub fn encode<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EncodeError> {
        out.vec().push(brine::tag::TUPLE1 + 1);
        match self {
            Boxed::Value(v) => {
                brine::write_int(label::VALUE, out.vec());
                brine::encode(v, out)
            }
            Boxed::Tuple(items) => {
                brine::write_int(label::TUPLE, out.vec());
                brine::write_tuple_header(items.len(), out.vec())?;
                items.iter().try_for_each(|b| b.encode(out))
            }
            Boxed::LocalRef(id) => {
                brine::write_int(label::LOCAL_REF, out.vec());
                id.encode(out.vec())
            }
            Boxed::RemoteRef(id) => {
                brine::write_int(label::REMOTE_REF, out.vec());
                id.encode(out.vec())
            }
        }
    }

    /// Reads a box.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_tuple(2, "box (label, value)")?;
        let at = r.position();
        match r.i64()? {
            label::VALUE => Ok(Boxed::Value(r.value()?)),
            label::TUPLE => {
                let n = r.tuple_len()?;
                Ok(Boxed::Tuple(r.descend(|r| r.collect(n, Boxed::decode))?))
            }
            label::LOCAL_REF => Ok(Boxed::LocalRef(IdPack::decode(r)?)),
            label::REMOTE_REF => Ok(Boxed::RemoteRef(IdPack::decode(r)?)),
            _ => Err(DecodeError::Malformed { offset: at, what: "box label (must be 1 to 4)" }),
        }
    }
}
