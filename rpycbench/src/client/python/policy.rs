//! rpyc's default attribute policy (`Connection._check_attr` with `DEFAULT_CONFIG`):
//! which names of a lent object a peer may read and call.

use super::cpython::SAFE_ATTRS;
use crate::client::inline::InlineStr;
use crate::error::{Error, Result};
use std::ops::Deref;

/// The prefix that exposes an attribute whatever its name.
pub(crate) const EXPOSED_PREFIX: &str = "exposed_";

/// Whether `name` is one of rpyc's safe attributes.
pub(crate) fn is_safe(name: &str) -> bool {
    SAFE_ATTRS.binary_search(&name).is_ok()
}

/// The name a GETATTR of `name` reads, as `_check_attr(obj, name, "allow_getattr")`
/// decides it: `exposed_<name>` when the object has that, else `name` itself when it is
/// exposed or safe, else "cannot access". `has` is `hasattr(obj, …)`.
///
/// Runs for every GETATTR and CALLATTR a server answers: the `exposed_` name is built
/// on the stack, so deciding allocates nothing for names of ordinary length.
pub(crate) fn check_attr<'a>(name: &'a str, has: impl Fn(&str) -> bool) -> Result<AttrName<'a>> {
    let plain = name.starts_with(EXPOSED_PREFIX) || is_safe(name);
    let exposed = match InlineStr::concat(&[EXPOSED_PREFIX, name]) {
        Some(inline) => AttrName::Exposed(inline),
        None => AttrName::Long(format!("{EXPOSED_PREFIX}{name}")),
    };
    let has_exposed = has(&exposed);
    if plain && (!has_exposed || has(name)) {
        return Ok(AttrName::Given(name));
    }
    if has_exposed {
        return Ok(exposed);
    }
    if plain {
        return Ok(AttrName::Given(name)); // for a better error: getattr names it
    }
    Err(cannot_access(name))
}

/// The attribute name [`check_attr`] decided on; dereferences to it.
#[derive(Debug)]
pub(crate) enum AttrName<'a> {
    /// The name asked for.
    Given(&'a str),
    /// `exposed_` + the name asked for, short enough to stay on the stack.
    Exposed(InlineStr),
    /// `exposed_` + a name too long for that.
    Long(String),
}

impl Deref for AttrName<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            AttrName::Given(name) => name,
            AttrName::Exposed(name) => name,
            AttrName::Long(name) => name,
        }
    }
}

/// rpyc's refusal: `AttributeError("cannot access 'name'")`.
pub(crate) fn cannot_access(name: &str) -> Error {
    Error::raise("AttributeError", format!("cannot access {}", crate::wire::Value::from(name).repr()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_safe_attributes_are_sorted() {
        assert!(SAFE_ATTRS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(SAFE_ATTRS.len(), 80);
    }

    #[test]
    fn exposed_names_win_then_safe_ones_then_nothing() {
        let has = |n: &str| ["exposed_ping", "__len__", "exposed_x", "x"].contains(&n);
        assert_eq!(&*check_attr("ping", has).unwrap(), "exposed_ping");
        assert_eq!(&*check_attr("exposed_ping", has).unwrap(), "exposed_ping");
        assert_eq!(&*check_attr("__len__", has).unwrap(), "__len__");
        assert_eq!(&*check_attr("__iter__", has).unwrap(), "__iter__"); // safe, though absent
        assert_eq!(&*check_attr("x", has).unwrap(), "exposed_x");
        let refused = check_attr("append", has).unwrap_err().to_string();
        assert!(refused.contains("cannot access 'append'"), "{refused}");
    }
}
