//! The bytes the built-in service's `download` returns and the bandwidth and transfer
//! benchmarks upload: a 64 KiB block of one [`PayloadKind`], repeated. The Python twin
//! (`rpycbench/python/rpycbench_service.py`, `BLOCKS`) builds the same blocks.

use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Every kind's block is this long, so `download(size)` repeats blocks the same way
/// whatever the kind (and the Python twin's arithmetic stays one line).
pub const BLOCK_LEN: usize = 64 << 10;

/// What payload bytes are made of: how much zlib (and so rpyc's compression of frames
/// over 3000 bytes) can shrink them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum PayloadKind {
    /// SHA-256 in counter mode: zlib cannot shrink it, so a compressing peer measures
    /// the transfer, not zlib. The default, and what fair server comparisons use.
    #[default]
    Incompressible,
    /// English-like lines of common words: zlib level 1 shrinks it 2.8-fold, as
    /// it does real text.
    Text,
    /// Zero bytes: zlib shrinks it to almost nothing.
    Zeros,
}

impl PayloadKind {
    /// Every kind.
    pub const ALL: [PayloadKind; 3] = [PayloadKind::Incompressible, PayloadKind::Text, PayloadKind::Zeros];

    /// The name on command lines and in results.
    pub fn name(self) -> &'static str {
        match self {
            PayloadKind::Incompressible => "incompressible",
            PayloadKind::Text => "text",
            PayloadKind::Zeros => "zeros",
        }
    }

    /// The [`BLOCK_LEN`] bytes payloads of this kind repeat.
    pub fn block(self) -> &'static [u8] {
        static BLOCKS: [OnceLock<Vec<u8>>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let built = &BLOCKS[self as usize];
        built.get_or_init(|| match self {
            PayloadKind::Incompressible => incompressible_block(),
            PayloadKind::Text => text_block(),
            PayloadKind::Zeros => vec![0; BLOCK_LEN],
        })
    }

    /// `size` bytes of this kind: its [`block`](Self::block) repeated and cut to `size`.
    pub fn bytes(self, size: u64) -> Vec<u8> {
        let mut data = Vec::new();
        self.extend(&mut data, usize::try_from(size).unwrap_or(usize::MAX));
        data
    }

    /// Appends `size` bytes of this kind (the block repeated, cut to `size`).
    pub fn extend(self, out: &mut Vec<u8>, size: usize) {
        let block = self.block();
        out.reserve(size);
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len());
            out.extend_from_slice(&block[..n]);
            left -= n;
        }
    }
}

impl std::fmt::Display for PayloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`PayloadKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown payload kind '{0}': expected incompressible, text or zeros")]
pub struct UnknownPayloadKind(pub String);

impl std::str::FromStr for PayloadKind {
    type Err = UnknownPayloadKind;
    fn from_str(s: &str) -> Result<Self, UnknownPayloadKind> {
        PayloadKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| UnknownPayloadKind(s.to_owned()))
    }
}

/// 32-byte block `i` is `sha256(b"rpycbench payload" + i as 4 big-endian bytes)`.
///
/// Why not `0, 1, …, 255` repeated: Python's rpyc compresses frames over 3000 bytes with
/// zlib, which squeezed that pattern to almost nothing, so a Python server's downloads
/// measured zlib rather than the transfer. A period of 64 KiB is twice zlib's 32 KiB
/// window, so nothing repeats where zlib can see it: the payload is incompressible, as
/// most real binary data is, and both servers put the same bytes on the wire.
fn incompressible_block() -> Vec<u8> {
    (0..(BLOCK_LEN / 32) as u32)
        .flat_map(|i| {
            let mut h = Sha256::new();
            h.update(b"rpycbench payload");
            h.update(i.to_be_bytes());
            h.finalize()
        })
        .collect()
}

/// Common English words and a few of the trade's; the text block picks among them.
const WORDS: [&str; 69] = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "it",
    "for",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "this",
    "are",
    "from",
    "at",
    "or",
    "an",
    "have",
    "not",
    "which",
    "but",
    "all",
    "were",
    "when",
    "we",
    "there",
    "can",
    "more",
    "if",
    "one",
    "has",
    "their",
    "will",
    "each",
    "about",
    "how",
    "up",
    "out",
    "them",
    "then",
    "she",
    "many",
    "some",
    "so",
    "these",
    "would",
    "other",
    "into",
    "time",
    "could",
    "two",
    "make",
    "like",
    "him",
    "see",
    "server",
    "client",
    "request",
    "reply",
    "frame",
    "bytes",
    "connection",
    "service",
    "value",
    "call",
];

/// Sentences of 6 to 15 words, one a line, capitalised and ending with a full stop; the
/// words and lengths drawn by the C library's classic LCG (`x = x * 1103515245 + 12345`
/// mod 2^31, its bits 16 and up), seeded with 1: text anyone can rebuild, in Python too.
fn text_block() -> Vec<u8> {
    let mut x: u32 = 1;
    let mut next = || {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345) & 0x7fff_ffff;
        (x >> 16) as usize
    };
    let mut out = Vec::with_capacity(BLOCK_LEN + 128);
    while out.len() < BLOCK_LEN {
        let words = 6 + next() % 10;
        let start = out.len();
        for w in 0..words {
            if w > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(WORDS[next() % WORDS.len()].as_bytes());
        }
        out[start] = out[start].to_ascii_uppercase();
        out.extend_from_slice(b".\n");
    }
    out.truncate(BLOCK_LEN);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Compressed size over size, at rpyc's level (1).
    fn ratio(data: &[u8]) -> f64 {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(1));
        // Writing to a Vec cannot fail.
        z.write_all(data).expect("in memory");
        z.finish().expect("in memory").len() as f64 / data.len() as f64
    }

    #[test]
    fn each_kind_compresses_as_its_name_says() {
        let size = 1 << 20;
        let incompressible = ratio(&PayloadKind::Incompressible.bytes(size));
        let text = ratio(&PayloadKind::Text.bytes(size));
        let zeros = ratio(&PayloadKind::Zeros.bytes(size));
        assert!(incompressible >= 0.99, "incompressible: {incompressible}");
        // The docs say 2.8× smaller (0.361 of the size, the blocks being fixed).
        assert!((0.35..0.37).contains(&text), "text: {text}");
        assert!(zeros < 0.01, "zeros: {zeros}");
    }

    #[test]
    fn blocks_are_the_python_twins() {
        // Expected values computed with Python from the twin's BLOCKS (rpycbench_service.py).
        let digest = |k: PayloadKind| hex::encode(&Sha256::digest(k.block())[..8]);
        assert_eq!(hex::encode(&PayloadKind::Incompressible.block()[..8]), "f8611b6949fa7e1b");
        assert_eq!(digest(PayloadKind::Incompressible), "d7151243d6654304");
        assert!(PayloadKind::Text
            .block()
            .starts_with(b"More how see of about one will service this see and many two and.\nThem "));
        assert_eq!(digest(PayloadKind::Text), "e3b72ec27583aeee");
        for k in PayloadKind::ALL {
            assert_eq!(k.block().len(), BLOCK_LEN, "{k}");
            assert_eq!(k.name().parse::<PayloadKind>(), Ok(k));
            let data = k.bytes(150_000);
            assert_eq!(
                (&data[..BLOCK_LEN], &data[BLOCK_LEN..2 * BLOCK_LEN], &data[2 * BLOCK_LEN..]),
                (k.block(), k.block(), &k.block()[..150_000 - 2 * BLOCK_LEN])
            );
        }
        assert!("gzip".parse::<PayloadKind>().unwrap_err().to_string().contains("incompressible, text or zeros"));
    }
}
