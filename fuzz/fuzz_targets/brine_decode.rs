//! Arbitrary bytes into the brine decoder.
//!
//! Besides "never panics", this checks the strictness claim of `brine.rs`: the decoder
//! accepts only the canonical encoding a Python sender would produce, so whatever it
//! accepts must re-encode to exactly the input bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpycbench::wire::{brine, Limits};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = brine::decode(data, &Limits::DEFAULT) {
        let again = brine::to_vec(&value).expect("a decoded value must be encodable");
        assert_eq!(again, data, "decoder accepted a non-canonical encoding of {value:?}");
    }
});
