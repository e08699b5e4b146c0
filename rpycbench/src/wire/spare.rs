//! Spare string buffers, per thread: a server answering `ping` with `"pong"` (or
//! echoing a short str) gives each reply's string back once the reply is encoded, and
//! the next string made of a `&str` (decoded from a request, or returned by a service)
//! takes it again, so the steady state of simple calls allocates nothing.
//!
//! Per thread, because a server serves each connection on one thread (or process):
//! strings then never cross a lock. A thread that gives nothing back (a client) only
//! pays one thread-local access per string it makes.

use std::cell::RefCell;

/// Spare buffers kept per thread: enough for the few strings one reply holds.
const KEPT: usize = 8;
/// Buffers larger than this are freed, not kept: the pool is for short strings only,
/// and must not pin memory a large reply once needed.
const LARGEST: usize = 64;

thread_local! {
    static SPARE: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// `s` as an owned `String`, in a spare buffer when one of this thread's is large enough.
pub(crate) fn owned(s: &str) -> String {
    if s.len() > LARGEST {
        return s.to_owned();
    }
    let spare = SPARE.try_with(|spare| {
        let mut spare = spare.try_borrow_mut().ok()?;
        let i = spare.iter().position(|b| b.capacity() >= s.len())?;
        Some(spare.swap_remove(i))
    });
    match spare {
        Ok(Some(mut buf)) => {
            buf.push_str(s);
            buf
        }
        _ => s.to_owned(),
    }
}

/// Keeps `s`'s buffer for [`owned`] on this thread, if it is small and there is room.
pub(crate) fn give_back(mut s: String) {
    if s.capacity() == 0 || s.capacity() > LARGEST {
        return;
    }
    s.clear();
    // A thread being torn down, or a borrow in progress (impossible: `owned` holds it
    // only within this module), just frees the buffer.
    let _ = SPARE.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut() {
            if spare.len() < KEPT {
                spare.push(s);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_back_buffer_is_taken_again_by_a_string_that_fits() {
        let pong = owned("pong");
        let ptr = pong.as_ptr();
        give_back(pong);
        let again = owned("ping");
        assert_eq!(again, "ping");
        assert_eq!(again.as_ptr(), ptr, "the spare buffer was reused");
        give_back(again);
        // Too long for the spare (capacity 4): a fresh buffer, the spare stays.
        assert_eq!(owned("hello"), "hello");
        let last = owned("pong");
        assert_eq!(last.as_ptr(), ptr);
    }

    #[test]
    fn large_buffers_are_not_kept() {
        let big = "x".repeat(LARGEST + 1);
        give_back(big.clone());
        assert!(SPARE.with(|s| s.borrow().is_empty()));
        assert_eq!(owned(&big), big);
    }
}
