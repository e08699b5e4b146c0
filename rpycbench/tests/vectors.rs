//! Conformance with `vectors/brine.jsonl`, produced by the real rpyc 6.0.2 brine codec.

mod common;

use common::{assert_repr_matches, field, hex_field, int_field, protocol_dir, read_jsonl};
use num_bigint::BigInt;
use rpycbench::wire::{brine, DecodeError, EncodeError, Limits, Value};
use serde_json::Value as Json;

fn vectors(kind: &str) -> Vec<Json> {
    let all = read_jsonl(&protocol_dir().join("vectors/brine.jsonl"));
    let picked: Vec<Json> = all.into_iter().filter(|v| field(v, "kind") == kind).collect();
    // A truncated or regenerated-empty file must not pass by checking nothing.
    assert!(!picked.is_empty(), "no {kind:?} vectors in brine.jsonl");
    picked
}

fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    brine::decode(bytes, &Limits::DEFAULT)
}

#[test]
fn file_has_every_documented_vector() {
    // README.md: 171 vectors = 122 dump + 23 load_error + 13 dump_error + 13 load_lenient.
    for (kind, at_least) in [("dump", 122), ("load_error", 23), ("dump_error", 13), ("load_lenient", 13)] {
        let n = vectors(kind).len();
        assert!(n >= at_least, "only {n} {kind:?} vectors, README documents {at_least}");
    }
}

#[test]
fn dump_vectors_decode_and_reencode_byte_for_byte() {
    for v in vectors("dump") {
        let name = field(&v, "name");
        let bytes = hex_field(&v, "hex");
        assert_eq!(bytes.len() as i64, int_field(&v, "len"), "{name}: len field");
        let value = decode(&bytes).unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
        let again = brine::to_vec(&value).unwrap_or_else(|e| panic!("{name}: re-encode failed: {e}"));
        assert!(again == bytes, "{name}: re-encoded to {} instead of {}", hex::encode(&again), field(&v, "hex"));
        assert_eq!(value.type_name(), field(&v, "type"), "{name}: type name");
    }
}

/// The `python` field is `repr(value)` taken from the very object that was dumped, and
/// brine writes a frozenset in that object's iteration order, which is also the order
/// `repr` prints. So reprs can be compared exactly, frozensets included: a set-wise
/// comparison would be needed only for frozensets that crossed a process boundary.
#[test]
fn dump_vectors_repr_like_python() {
    for v in vectors("dump") {
        let name = field(&v, "name");
        let value = decode(&hex_field(&v, "hex")).unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
        assert_repr_matches(&value.repr(), field(&v, "python"), name);
    }
}

#[test]
fn load_error_vectors_are_rejected() {
    for v in vectors("load_error") {
        let name = field(&v, "name");
        match decode(&hex_field(&v, "hex")) {
            Ok(value) => panic!("{name}: accepted as {value:?}; Python raises {}", field(&v, "error_type")),
            Err(e) => println!("{name:40} -> {e}   (Python: {}: {})", field(&v, "error_type"), field(&v, "error")),
        }
    }
}

/// Python's loader accepts these non-canonical inputs; our decoder is strict by design
/// (brine.rs, PROTOCOL.md §4.4), so each must fail, and for the reason listed here.
///
/// Two exceptions:
/// * "UNICODE of empty bytes" (`08 01`) is not lenient at all: it is exactly what Python
///   dumps for `''` (the `str ascii len 0` dump vector), so it must be accepted. Such
///   vectors are recognized by their bytes, not by name.
/// * "FSET with duplicates" is accepted and kept verbatim (no dedup). PROTOCOL.md §4.4's
///   strict list does not cover it, and it cannot be rejected soundly: a Python sender
///   *can* send byte-identical elements (two distinct `float('nan')` objects), and
///   judging "duplicate" the Python way needs cross-type equality (`1 == 1.0 == True`).
#[test]
fn load_lenient_vectors_are_rejected_by_the_strict_decoder() {
    let canonical: Vec<Vec<u8>> = vectors("dump").iter().map(|v| hex_field(v, "hex")).collect();
    let kept_verbatim = [("FSET with duplicates", "frozenset({1, 1, 2})")];
    type Check = fn(&DecodeError) -> bool;
    let expected: &[(&str, Check)] = &[
        ("trailing bytes ignored", |e| matches!(e, DecodeError::TrailingBytes { .. })),
        ("STR1 truncated -> shorter bytes", |e| matches!(e, DecodeError::Truncated { .. })),
        ("STR_L1 length beyond data", |e| matches!(e, DecodeError::Truncated { .. })),
        ("INT_L1 with spaces", |e| matches!(e, DecodeError::BadInt { .. })),
        ("INT_L1 with underscore", |e| matches!(e, DecodeError::BadInt { .. })),
        ("INT_L1 with plus sign", |e| matches!(e, DecodeError::BadInt { .. })),
        ("INT_L1 non-canonical small value", |e| matches!(e, DecodeError::NonCanonical { .. })),
        ("STR_L1 used for short bytes", |e| matches!(e, DecodeError::NonCanonical { .. })),
        ("TUP_L1 used for 2-tuple", |e| matches!(e, DecodeError::NonCanonical { .. })),
        ("SLICE of 3-byte string", |e| matches!(e, DecodeError::Malformed { .. })),
        ("FSET of bytes (iterates ints)", |e| matches!(e, DecodeError::Malformed { .. })),
    ];
    for v in vectors("load_lenient") {
        let name = field(&v, "name");
        let bytes = hex_field(&v, "hex");
        let result = decode(&bytes);
        if canonical.contains(&bytes) {
            let value = result.unwrap_or_else(|e| panic!("{name}: canonical bytes rejected: {e}"));
            assert_repr_matches(&value.repr(), field(&v, "python"), name);
            println!("{name:40} -> accepted: identical to a dump vector");
            continue;
        }
        if let Some((_, ours)) = kept_verbatim.iter().find(|(n, _)| *n == name) {
            let value = result.unwrap_or_else(|e| panic!("{name}: now rejected ({e}); update this test"));
            assert_eq!(value.repr(), *ours, "{name}");
            println!("{name:40} -> accepted verbatim as {ours} (Python: {})", field(&v, "python"));
            continue;
        }
        let err = match result {
            Ok(value) => panic!("{name}: strict decoder accepted {value:?} (Python: {})", field(&v, "python")),
            Err(e) => e,
        };
        let (_, check) = expected
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name}: new lenient vector, rejected with `{err}`; add it to the table"));
        assert!(check(&err), "{name}: rejected for the wrong reason: {err:?}");
        println!("{name:40} -> {err}");
    }
}

/// Of the values Python refuses to dump, only an `int` beyond 4300 digits can even be
/// built as a [`Value`]. The others (list, dict, set, bytearray, memoryview, object,
/// class, a tuple/slice holding a list, an IntEnum or str subclass, a str with a lone
/// surrogate) have no `Value` variant, or, for the surrogate, no Rust `String`: they are
/// unrepresentable by construction, so they are only listed, not run.
#[test]
fn dump_error_vectors() {
    let unrepresentable =
        ["list", "dict", "set", "bytearray", "memoryview", "object", "type", "tuple", "slice", "E", "S", "str"];
    let mut checked = 0;
    for v in vectors("dump_error") {
        let (name, expr) = (field(&v, "name"), field(&v, "expr"));
        if let Some(exp) = expr.strip_prefix("10**") {
            let exp: u32 = exp.parse().unwrap_or_else(|_| panic!("{name}: unexpected expr {expr}"));
            let value = Value::from(BigInt::from(10u8).pow(exp));
            let digits = exp as usize + 1;
            assert_eq!(brine::to_vec(&value), Err(EncodeError::IntTooLarge { digits }), "{name}");
            // Python's message, for the record: ours must say the same thing.
            let err = brine::to_vec(&value).unwrap_err().to_string();
            assert!(err.contains("4300"), "{name}: unclear error {err:?}");
            checked += 1;
        } else {
            let ty = field(&v, "type");
            assert!(unrepresentable.contains(&ty), "{name}: new dump_error type {ty:?}; decide how to check it");
        }
    }
    assert_eq!(checked, 1, "expected exactly one representable dump_error vector (10**4300)");
}

#[test]
fn int_digit_limit_is_symmetric() {
    // The largest dump vector (10**4299, 4300 digits) decodes; one digit more is a
    // load_error. Negative numbers count digits, not characters.
    let neg = Value::from(-BigInt::from(10u8).pow(4299));
    let bytes = brine::to_vec(&neg).expect("4300 digits plus a sign is still encodable");
    assert!(decode(&bytes).expect("and decodable").same_as(&neg));
}

/// Non-canonical forms the vector file does not cover, all of which a Python sender
/// never writes: each must be refused for the stated reason.
#[test]
fn strict_rejections_beyond_the_vectors() {
    let non_canonical = |e: &DecodeError| matches!(e, DecodeError::NonCanonical { .. });
    let bad_int = |e: &DecodeError| matches!(e, DecodeError::BadInt { .. });
    type Check = fn(&DecodeError) -> bool;
    let cases: [(&str, &str, Check); 8] = [
        ("negative zero", "16022d30", non_canonical),
        ("leading zero after sign", "16032d3037", non_canonical),
        ("-1 written as text", "16022d31", non_canonical),
        ("INT_L4 for 3 digits", "1700000003313630", non_canonical),
        ("BYTES_L4 for 5 bytes", "0f000000056162636465", non_canonical),
        ("TUPLE_L4 for 5 elements", "15000000055051525354", non_canonical),
        ("str with BYTES_L4 for 5 bytes", "080f000000056162636465", non_canonical),
        ("sign without digits", "16012d", bad_int),
    ];
    for (name, hex, check) in cases {
        let err = decode(&hex::decode(hex).unwrap()).expect_err(name);
        assert!(check(&err), "{name}: rejected for the wrong reason: {err:?}");
    }
}
