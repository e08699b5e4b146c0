//! What a benchmark function fails with when its errors are not all RPyC's.

use crate::Error;
use std::any::{Any, TypeId};
use std::fmt;

/// The error of a benchmark function that fails in more ways than RPyC does: `?` turns
/// anything that displays into it (an [`Error`], an `io::Error`, a `String`, an error of
/// your own), the way `anyhow::Error` takes any error.
///
/// An RPyC [`Error`] stays itself, so a timeout or a dead connection is still seen as
/// one (the run reconnects, counts timeouts, stops at a dead server); anything else
/// becomes a failed request with its message.
///
/// ```
/// use rpycbench::harness::Failed;
/// use rpycbench::Connection;
///
/// fn fetch_report(conn: &mut Connection) -> Result<(), Failed> {
///     let size: i64 = conn.call("report_size", ())?.extract()?;
///     if size == 0 {
///         return Err(Failed::msg("the report is empty"));
///     }
///     let _parsed: u32 = "42".parse()?; // any error that displays
///     Ok(())
/// }
/// ```
///
/// It implements `Debug` but not `Display`, on purpose: with `Display`, the conversion
/// from every `T: Display` would overlap the standard `From<T> for T`. Print it with
/// `{:?}`, or turn it into an [`Error`] with `Error::from`.
pub struct Failed(Error);

impl Failed {
    /// A failure with this message.
    pub fn msg(message: impl fmt::Display) -> Failed {
        Failed(Error::Other(Box::new(Message(message.to_string()))))
    }

    /// The failure as the crate's error: the RPyC error it was, or [`Error::Other`]
    /// holding its message.
    pub fn into_error(self) -> Error {
        self.0
    }
}

impl<E: fmt::Display + 'static> From<E> for Failed {
    fn from(e: E) -> Failed {
        if TypeId::of::<E>() == TypeId::of::<Error>() {
            let any: Box<dyn Any> = Box::new(e);
            // The type was just checked: the downcast cannot fail.
            if let Ok(error) = any.downcast::<Error>() {
                return Failed(*error);
            }
            unreachable!("E is Error");
        }
        Failed::msg(e)
    }
}

impl From<Failed> for Error {
    fn from(f: Failed) -> Error {
        f.0
    }
}

impl fmt::Debug for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The message, as `anyhow` does: `fn main() -> Result<(), Failed>` prints it.
        fmt::Display::fmt(&self.0, f)
    }
}

/// A benchmark function's own failure, as text.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rpyc_error_stays_itself_and_anything_else_becomes_its_message() {
        let timeout =
            Error::Timeout { peer: "p".into(), what: "ping".into(), after: std::time::Duration::from_secs(1) };
        assert!(matches!(Failed::from(timeout).into_error(), Error::Timeout { .. }));
        let parsed: Result<u32, _> = "x".parse::<u32>();
        let failed = Failed::from(parsed.unwrap_err()).into_error();
        assert!(matches!(failed, Error::Other(_)), "{failed:?}");
        assert_eq!(failed.to_string(), "invalid digit found in string");
        assert_eq!(format!("{:?}", Failed::from("boom")), "boom");
        assert_eq!(format!("{:?}", Failed::msg(format!("{} users", 3))), "3 users");
    }
}
