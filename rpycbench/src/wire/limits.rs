//! Hard limits that bound what a peer can make us allocate or recurse into.

/// Limits applied while decoding frames and values from a peer.
///
/// Every limit guards against a hostile or broken peer: the frame length is checked
/// before a body is read, the inflated size while inflating (zlib bombs), the nesting
/// depth while decoding (stack exhaustion), and the memory decoded values take while
/// they are built (tuple bombs: a few bytes per element on the wire, tens in memory).
/// Nothing is ever allocated from a length field before the bytes it announces have
/// arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame body accepted, in bytes as transmitted (default 256 MiB).
    pub max_frame_len: u32,
    /// Largest payload a compressed body may inflate to (default 256 MiB; never more
    /// than the memory budget allows, see [`Limits::inflate_limit`]).
    pub max_inflated_len: usize,
    /// Deepest nesting of tuples, frozensets, slices and boxes (default 128).
    pub max_depth: u32,
    /// A connection's memory budget, in bytes (default 128 MiB,
    /// [`DEFAULT_MEMORY_BUDGET`]).
    ///
    /// It bounds twice: the values decoded from the peer's messages being handled at
    /// once (nested callbacks share it), charged by what they take in memory (the size
    /// of a `Value` per element plus the heap bytes of strings, bytes and integers), and
    /// separately the reply being built for the peer. A message past it is refused with
    /// [`DecodeError::MemoryBudget`](super::DecodeError::MemoryBudget) before its
    /// values are allocated; a request gets a `MemoryError` reply, as does a request
    /// whose reply would be larger.
    pub max_connection_memory: usize,
}

/// The default per-connection memory budget: 128 MiB.
///
/// Room for the 100 MB (95.4 MiB) whole-file transfers users benchmark, upload,
/// download or echo, with a third to spare; small enough that a container serving
/// a handful of hostile connections is not pushed past its limit by decoded values
/// (a tuple of `None`s costs 32 bytes per element in memory for one on the wire).
pub const DEFAULT_MEMORY_BUDGET: usize = 128 << 20;

impl Limits {
    /// The defaults: room for the 100 MB whole-file transfers users benchmark, and no
    /// more nesting than a real RPyC message ever has.
    pub const DEFAULT: Limits = Limits {
        max_frame_len: 256 << 20,
        max_inflated_len: 256 << 20,
        max_depth: 128,
        max_connection_memory: DEFAULT_MEMORY_BUDGET,
    };
}

/// Bytes of a message beyond what its decoded values are charged: the envelope,
/// sequence numbers, handler ids and id_packs, which are read without being kept.
const ENVELOPE_SLACK: usize = 64 << 10;

impl Limits {
    /// The most a compressed body may inflate to: [`max_inflated_len`](Self::max_inflated_len),
    /// and no more than a message whose values fit the memory budget can take (every
    /// payload byte but the envelope's is charged at least one byte when decoded), so a
    /// zlib bomb costs one budget, not 256 MiB, per connection.
    pub fn inflate_limit(&self) -> usize {
        self.max_inflated_len.min(self.max_connection_memory.saturating_add(ENVELOPE_SLACK))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
