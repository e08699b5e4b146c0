//! What a Python peer's proxy of one of *its* objects would do here: which operations
//! its netref class forwards. A Python server holding a client's object only reaches
//! the methods of that object's type; for built-in types rpyc knows them without asking
//! (`builtin_classes_cache`), for any other it asks the peer with INSPECT.

use super::cpython::BUILTIN_NETREF_METHODS;
use crate::client::{Connection, RemoteRef};
use crate::error::Result;
use std::sync::Arc;

/// The methods of the peer's type of `obj`, sorted, for a type rpyc does not know
/// without asking.
fn inspected(conn: &mut Connection, obj: &RemoteRef) -> Result<Arc<[String]>> {
    let name = obj.type_name();
    if let Some(known) = conn.netref_methods.get(name) {
        return Ok(known.clone());
    }
    let mut names = conn.inspect(obj)?;
    names.sort();
    let names: Arc<[String]> = names.into();
    // Per type, not per object as Python asks: instances of one class answer alike, and
    // the cache is bounded so a peer cannot grow it without limit.
    if conn.netref_methods.len() < MAX_TYPES {
        conn.netref_methods.insert(name.to_owned(), names.clone());
    }
    Ok(names)
}

/// Types whose methods a connection remembers.
const MAX_TYPES: usize = 256;

/// Whether the peer's type of `obj` has method `name`.
pub(crate) fn has(conn: &mut Connection, obj: &RemoteRef, name: &str) -> Result<bool> {
    let type_name = obj.type_name();
    if let Ok(i) = BUILTIN_NETREF_METHODS.binary_search_by(|(n, _)| (*n).cmp(type_name)) {
        return Ok(BUILTIN_NETREF_METHODS[i].1.binary_search(&name).is_ok());
    }
    Ok(inspected(conn, obj)?.binary_search_by(|m| m.as_str().cmp(name)).is_ok())
}
