//! Call arguments from JSON (`--args`, `--kwargs`) as brine values.
//!
//! | JSON | Python |
//! |---|---|
//! | `null` | `None` |
//! | `true` / `false` | `True` / `False` |
//! | `12`, `-3`, `123456789012345678901234567890` | `int` (any size, up to 4300 digits) |
//! | `1.5`, `1e3`, `2.0` | `float` |
//! | `"text"` | `str` |
//! | `[1, [2, 3]]` | `tuple` (nested) |
//! | `{"$bytes": "aGVsbG8="}` | `bytes` (standard base64) |
//! | `{"$zeros": 1048576}` | `bytes`: that many zero bytes |
//!
//! Any other JSON object is an error naming where it is (`args[2]`), since Python has
//! no `dict` that brine copies by value.
//!
//! Numbers keep their written form: `2` is an `int` and `2.0` a `float`, as in Python's
//! `json`, and integers too large for 64 bits are not rounded to floats (which a plain
//! JSON parser does): each value is read from its raw text, hence serde_json's
//! `raw_value` feature.

use crate::client::{Kwargs, Object};
use crate::Value;
use base64::Engine as _;
use num_bigint::BigInt;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

/// The largest `bytes` value `$zeros` or `$bytes` may make, and the largest payload size:
/// what fits a connection's default memory budget (128 MiB, on both sides: a native
/// server refuses more, and the client could not decode a larger reply) with room for
/// the message around it.
pub(crate) const MAX_BYTES: u64 = (crate::wire::DEFAULT_MEMORY_BUDGET as u64) - (8 << 20);

/// [`MAX_BYTES`] in words, for error messages.
pub(crate) const MAX_BYTES_TEXT: &str = "120 MiB, what fits the default memory budget of a connection";

/// CPython's default limit on the digits of an `int` read from text.
const MAX_INT_DIGITS: usize = 4300;

/// A JSON argument that cannot become a brine value: where, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub(crate) struct JsonArgsError {
    /// Where in the input: `args`, `args[2]`, `kwargs.size`, `args[0].$zeros`.
    pub path: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> JsonArgsError {
    JsonArgsError { path: path.to_owned(), message: message.into() }
}

/// `--args`: a JSON array of positional arguments.
pub(crate) fn parse_args(json: &str) -> Result<Vec<Object>, JsonArgsError> {
    let raw = parse_raw("args", json)?;
    let text = raw.get();
    if !text.starts_with('[') {
        return Err(err(
            "args",
            format!(
                "--args takes a JSON array of positional arguments, e.g. '[0.005, \"x\"]', not {}{}",
                json_kind(text),
                if text.starts_with('{') { " (keyword arguments go in --kwargs)" } else { "" }
            ),
        ));
    }
    let items: Vec<&RawValue> = from_raw("args", text)?;
    items.iter().enumerate().map(|(i, item)| convert(item, &format!("args[{i}]")).map(Object::from)).collect()
}

/// `--kwargs`: a JSON object of keyword arguments.
pub(crate) fn parse_kwargs(json: &str) -> Result<Kwargs, JsonArgsError> {
    let raw = parse_raw("kwargs", json)?;
    let text = raw.get();
    if !text.starts_with('{') {
        return Err(err(
            "kwargs",
            format!(
                "--kwargs takes a JSON object of keyword arguments, e.g. '{{\"size\": 1024}}', not {}",
                json_kind(text)
            ),
        ));
    }
    let map: BTreeMap<String, &RawValue> = from_raw("kwargs", text)?;
    map.into_iter()
        .map(|(name, item)| {
            let value = convert(item, &format!("kwargs.{name}"))?;
            Ok((name, Object::from(value)))
        })
        .collect()
}

fn parse_raw<'a>(what: &str, json: &'a str) -> Result<&'a RawValue, JsonArgsError> {
    serde_json::from_str(json).map_err(|e| err(what, format!("not valid JSON: {e}")))
}

fn from_raw<'a, T: serde::Deserialize<'a>>(path: &str, text: &'a str) -> Result<T, JsonArgsError> {
    // The text was already parsed once as a whole, so this cannot fail on syntax.
    serde_json::from_str(text).map_err(|e| err(path, format!("not valid JSON: {e}")))
}

/// One JSON value, from its raw text, as a brine value.
fn convert(raw: &RawValue, path: &str) -> Result<Value, JsonArgsError> {
    let text = raw.get().trim();
    match text.as_bytes().first() {
        Some(b'n') => Ok(Value::None),
        Some(b't') => Ok(Value::Bool(true)),
        Some(b'f') => Ok(Value::Bool(false)),
        Some(b'"') => from_raw::<String>(path, text).map(Value::Str),
        Some(b'[') => {
            let items: Vec<&RawValue> = from_raw(path, text)?;
            let values = items.iter().enumerate().map(|(i, item)| convert(item, &format!("{path}[{i}]")));
            values.collect::<Result<Vec<_>, _>>().map(Value::Tuple)
        }
        Some(b'{') => special_form(from_raw(path, text)?, path),
        _ => number(text, path),
    }
}

/// `{"$bytes": …}` or `{"$zeros": …}`: the only JSON objects that are values.
fn special_form(map: BTreeMap<String, &RawValue>, path: &str) -> Result<Value, JsonArgsError> {
    let mut entries = map.iter();
    let only = match (entries.next(), entries.next()) {
        (Some(entry), None) => Some(entry),
        _ => None,
    };
    match only {
        Some((key, raw)) if key == "$bytes" => {
            let at = format!("{path}.$bytes");
            let encoded: String = from_raw(&at, raw.get())
                .map_err(|_| err(&at, "expects a base64 string, e.g. {\"$bytes\": \"aGVsbG8=\"}"))?;
            // base64 of MAX_BYTES is 4/3 as long; refuse before decoding.
            if encoded.len() as u64 > MAX_BYTES / 3 * 4 + 4 {
                return Err(err(&at, format!("more than {MAX_BYTES} bytes; use {{\"$zeros\": N}} for large payloads")));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| err(&at, format!("not valid (standard, padded) base64: {e}")))?;
            Ok(Value::Bytes(bytes.into()))
        }
        Some((key, raw)) if key == "$zeros" => {
            let at = format!("{path}.$zeros");
            let n: u64 = raw
                .get()
                .trim()
                .parse()
                .map_err(|_| err(&at, format!("expects a byte count (a whole number ≥ 0), got {}", raw.get())))?;
            if n > MAX_BYTES {
                return Err(err(
                    &at,
                    format!("{n} bytes is more than the limit of {MAX_BYTES} bytes ({MAX_BYTES_TEXT})"),
                ));
            }
            Ok(Value::Bytes(vec![0; n as usize].into()))
        }
        _ => {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            Err(err(
                path,
                format!(
                    "a JSON object (keys: {}) is not an argument value: brine copies no dict; \
                     write bytes as {{\"$bytes\": \"<base64>\"}} or {{\"$zeros\": N}}, a tuple as [..]",
                    if keys.is_empty() { "none".to_owned() } else { keys.join(", ") }
                ),
            ))
        }
    }
}

/// A JSON number by its written form: integer text is an `int` of any size, anything
/// with a fraction or exponent a `float`.
fn number(text: &str, path: &str) -> Result<Value, JsonArgsError> {
    if text.contains(['.', 'e', 'E']) {
        let f: f64 = text.parse().map_err(|e| err(path, format!("not a number ({e}): {text}")))?;
        if !f.is_finite() {
            return Err(err(path, format!("{text} is out of the float range")));
        }
        return Ok(Value::Float(f));
    }
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    if text.trim_start_matches('-').len() > MAX_INT_DIGITS {
        return Err(err(path, format!("an integer of more than {MAX_INT_DIGITS} digits (Python's limit)")));
    }
    let big: BigInt = text.parse().map_err(|e| err(path, format!("not a number ({e}): {text}")))?;
    Ok(Value::from(big))
}

/// `an object`, `a string`, … for messages about the top level.
fn json_kind(text: &str) -> &'static str {
    match text.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    }
}

/// Positional arguments as Python would write the call's argument list: `0.005, 'x'`.
pub(crate) struct ShowArgs<'a>(pub &'a [Object], pub &'a Kwargs);

impl fmt::Display for ShowArgs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self.0.iter().map(show).collect();
        parts.extend(self.1.iter().map(|(k, v)| format!("{k}={}", show(v))));
        let joined = parts.join(", ");
        // A payload over the limit would make an unreadable message.
        if joined.chars().count() > 200 {
            let head: String = joined.chars().take(200).collect();
            write!(f, "{head}…")
        } else {
            f.write_str(&joined)
        }
    }
}

fn show(o: &Object) -> String {
    match o.as_value() {
        Some(Value::Bytes(b)) if b.len() > 32 => format!("<{} bytes>", b.len()),
        Some(v) => v.repr(),
        None => o.describe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(json: &str) -> Vec<Value> {
        parse_args(json).unwrap().into_iter().map(|o| o.as_value().cloned().unwrap()).collect()
    }

    fn error(json: &str) -> String {
        parse_args(json).unwrap_err().to_string()
    }

    #[test]
    fn scalars_map_to_python_types() {
        assert_eq!(
            values(r#"[null, true, false, 0, -7, 2.0, 1e3, "héllo"]"#),
            vec![
                Value::None,
                Value::Bool(true),
                Value::Bool(false),
                Value::Int(0),
                Value::Int(-7),
                Value::Float(2.0),
                Value::Float(1000.0),
                Value::Str("héllo".into())
            ]
        );
    }

    #[test]
    fn big_integers_stay_integers() {
        let big = "123456789012345678901234567890";
        let got = values(&format!("[{big}, -{big}, 18446744073709551615]"));
        assert_eq!(got[0], Value::from(big.parse::<BigInt>().unwrap()));
        assert_eq!(got[1], Value::from(-big.parse::<BigInt>().unwrap()));
        assert_eq!(got[2], Value::from(u64::MAX));
        assert!(matches!(got[0], Value::BigInt(_)));
        let huge = format!("[{}]", "9".repeat(MAX_INT_DIGITS + 1));
        assert!(error(&huge).contains("4300 digits"), "{}", error(&huge));
        assert!(error("[1e400]").contains("out of the float range"));
    }

    #[test]
    fn arrays_are_nested_tuples() {
        assert_eq!(
            values(r#"[[1, ["a", []]]]"#),
            vec![Value::Tuple(vec![Value::Int(1), Value::Tuple(vec![Value::Str("a".into()), Value::Tuple(vec![])])])]
        );
        assert_eq!(values("[]"), Vec::<Value>::new());
    }

    #[test]
    fn bytes_forms() {
        assert_eq!(values(r#"[{"$bytes": "aGVsbG8="}]"#), vec![Value::from(b"hello".to_vec())]);
        assert_eq!(
            values(r#"[{"$bytes": ""}, {"$zeros": 3}]"#),
            vec![Value::from(Vec::<u8>::new()), Value::from(vec![0; 3])]
        );
        assert_eq!(values(r#"[[{"$zeros": 0}]]"#), vec![Value::Tuple(vec![Value::from(Vec::<u8>::new())])]);
        assert_eq!(error(r#"[1, {"$bytes": "%%"}]"#).split(':').next(), Some("args[1].$bytes"));
        assert!(error(r#"[{"$bytes": 5}]"#).contains("base64 string"));
        let too_many = format!(r#"[{{"$zeros": {}}}]"#, MAX_BYTES + 1);
        assert!(
            error(&too_many).starts_with("args[0].$zeros: 125829121 bytes is more than the limit"),
            "{}",
            error(&too_many)
        );
        assert!(error(r#"[{"$zeros": -1}]"#).contains("whole number"));
        assert!(error(r#"[{"$zeros": 1.5}]"#).contains("whole number"));
    }

    #[test]
    fn other_objects_are_errors_naming_the_path() {
        let e = error(r#"[1, 2, [0, {"x": 1}]]"#);
        assert!(e.starts_with("args[2][1]: a JSON object (keys: x) is not an argument value"), "{e}");
        let e = error(r#"[{"$bytes": "", "$zeros": 1}]"#);
        assert!(e.starts_with("args[0]: a JSON object (keys: $bytes, $zeros)"), "{e}");
        let e = error(r#"[{}]"#);
        assert!(e.contains("keys: none"), "{e}");
    }

    #[test]
    fn the_top_level_must_be_an_array() {
        let e = error(r#"{"x": 1}"#);
        assert!(e.starts_with("args: --args takes a JSON array") && e.contains("--kwargs"), "{e}");
        assert!(error("5").contains("not a number"));
        assert!(error("[1,").starts_with("args: not valid JSON"));
        assert!(error("").starts_with("args: not valid JSON"));
    }

    #[test]
    fn kwargs_are_an_object_of_values() {
        let kw = parse_kwargs(r#"{"size": 1024, "data": {"$zeros": 2}}"#).unwrap();
        let got: Vec<(String, Value)> = kw.into_iter().map(|(k, v)| (k, v.as_value().cloned().unwrap())).collect();
        assert_eq!(got, vec![("data".to_owned(), Value::from(vec![0, 0])), ("size".to_owned(), Value::Int(1024))]);
        assert!(parse_kwargs("[1]").unwrap_err().to_string().contains("JSON object of keyword arguments"));
        let e = parse_kwargs(r#"{"a": {"b": 1}}"#).unwrap_err();
        assert_eq!(e.path, "kwargs.a");
    }

    #[test]
    fn shown_arguments_are_short() {
        let args = parse_args(r#"[0.005, "x", {"$zeros": 1000}]"#).unwrap();
        let kwargs = parse_kwargs(r#"{"n": 1}"#).unwrap();
        assert_eq!(ShowArgs(&args, &kwargs).to_string(), "0.005, 'x', <1000 bytes>, n=1");
    }
}
