//! The HTTP baseline's own failures. Transport failures (refused, timed out, broken
//! socket) are the crate's [`Error`] variants shared with RPyC; what only HTTP has lives
//! here and reaches the benchmark kinds as [`Error::Other`].

use crate::Error;

/// An HTTP answer that is not a success, or an exchange that broke down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The request was answered with a status other than 2xx; the connection stays
    /// usable.
    #[error("HTTP {request} to {peer} answered {status}: {message}")]
    Status {
        /// The server's address.
        peer: String,
        /// The request, as `METHOD /path?query`.
        request: String,
        /// The status code.
        status: u16,
        /// The start of the response body: the server's explanation.
        message: String,
    },
    /// The exchange broke down (a malformed response, a protocol violation, an answer
    /// that is not what the route promises); the connection is unusable.
    #[error("HTTP {request} to {peer} failed: {reason}")]
    Exchange {
        /// The server's address.
        peer: String,
        /// The request, as `METHOD /path?query`.
        request: String,
        /// What went wrong.
        reason: String,
    },
}

impl HttpError {
    /// The HTTP error inside `error`, if it is one.
    pub fn of(error: &Error) -> Option<&HttpError> {
        match error {
            Error::Other(inner) => inner.downcast_ref(),
            _ => None,
        }
    }
}

impl From<HttpError> for Error {
    fn from(e: HttpError) -> Error {
        Error::Other(Box::new(e))
    }
}
