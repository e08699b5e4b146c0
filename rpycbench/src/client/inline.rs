//! Short strings kept on the stack: the names the request path handles per request
//! (a method name copied out of the frame, `exposed_` + a name) without a heap
//! allocation each.

use std::fmt;
use std::ops::Deref;

/// Bytes an [`InlineStr`] holds: more than any method name a service has in practice
/// (`exposed_download_chunked_tuple` is 30); longer names take the slower path.
const CAPACITY: usize = 62;

/// A string of at most [`CAPACITY`] bytes, stored inline.
#[derive(Clone, Copy)]
pub(crate) struct InlineStr {
    len: u8,
    bytes: [u8; CAPACITY],
}

impl InlineStr {
    /// `parts` concatenated, if they fit.
    pub(crate) fn concat(parts: &[&str]) -> Option<InlineStr> {
        let mut s = InlineStr { len: 0, bytes: [0; CAPACITY] };
        for part in parts {
            let at = usize::from(s.len);
            let end = at.checked_add(part.len()).filter(|&end| end <= CAPACITY)?;
            s.bytes[at..end].copy_from_slice(part.as_bytes());
            // CAPACITY fits a u8, and end <= CAPACITY.
            s.len = end as u8;
        }
        Some(s)
    }

    /// `s`, if it fits.
    pub(crate) fn new(s: &str) -> Option<InlineStr> {
        InlineStr::concat(&[s])
    }
}

impl Deref for InlineStr {
    type Target = str;

    fn deref(&self) -> &str {
        // The bytes are whole `str`s copied end to end (`concat`), so they are UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("InlineStr holds only whole strs")
    }
}

impl fmt::Debug for InlineStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenates_what_fits_and_refuses_the_rest() {
        assert_eq!(&*InlineStr::concat(&["exposed_", "ping"]).unwrap(), "exposed_ping");
        assert_eq!(&*InlineStr::new("").unwrap(), "");
        assert_eq!(&*InlineStr::new("é😀").unwrap(), "é😀");
        let longest = "x".repeat(CAPACITY);
        assert_eq!(&*InlineStr::new(&longest).unwrap(), longest);
        assert!(InlineStr::new(&format!("{longest}y")).is_none());
        assert!(InlineStr::concat(&["exposed_", &longest]).is_none());
    }
}
