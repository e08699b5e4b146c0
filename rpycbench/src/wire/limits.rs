//! Hard limits that bound what a peer can make us allocate or recurse into.

/// Limits applied while decoding frames and values from a peer.
///
/// Every limit guards against a hostile or broken peer: the frame length is checked
/// before a body is read, the inflated size while inflating (zlib bombs), and the
/// nesting depth while decoding (stack exhaustion). Nothing is ever allocated from a
/// length field before the bytes it announces have arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame body accepted, in bytes as transmitted (default 256 MiB).
    pub max_frame_len: u32,
    /// Largest payload a compressed body may inflate to (default 256 MiB).
    pub max_inflated_len: usize,
    /// Deepest nesting of tuples, frozensets, slices and boxes (default 128).
    pub max_depth: u32,
}

impl Limits {
    /// The defaults: room for the 100 MB whole-file transfers users benchmark, and no
    /// more nesting than a real RPyC message ever has.
    pub const DEFAULT: Limits = Limits { max_frame_len: 256 << 20, max_inflated_len: 256 << 20, max_depth: 128 };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
