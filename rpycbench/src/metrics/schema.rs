//! Published JSON Schemas: generated from the types by schemars, with descriptions
//! turned from rustdoc into text.
//!
//! schemars copies doc comments as they are, so a published schema would show
//! intra-doc links (``[`Telemetry::max_depth`]``, `[Connection](crate::Connection)`)
//! and the comments' hard line wraps to people reading it in an editor or a schema
//! browser, where neither means anything.

/// The JSON Schema of `T`, with readable descriptions.
pub(crate) fn published<T: schemars::JsonSchema>() -> serde_json::Value {
    // A schema is plain JSON built by schemars: converting it cannot fail.
    let mut schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    clean_descriptions(&mut schema);
    schema
}

fn clean_descriptions(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    serde_json::Value::String(text) if key == "description" => *text = plain_text(text),
                    _ => clean_descriptions(v),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(clean_descriptions),
        _ => {}
    }
}

/// A doc comment as text: links lose their targets (``[`a`](b)`` and ``[`a`]`` become
/// `` `a` ``), wrapped lines join, paragraphs stay apart.
fn plain_text(doc: &str) -> String {
    let unlinked = strip_links(doc);
    unlinked
        .split("\n\n")
        .map(|paragraph| paragraph.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn strip_links(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len());
    let mut rest = doc;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let (label, tail) = (&after[..close], &after[close + 1..]);
        // A link label is code (`[`x`]`) or a target follows (`[x](y)`); anything else
        // is a literal bracket and stays.
        let target_end = tail.strip_prefix('(').and_then(|t| t.find(')').map(|end| end + 2));
        if target_end.is_none() && !(label.starts_with('`') && label.ends_with('`')) {
            out.push('[');
            rest = after;
            continue;
        }
        out.push_str(label);
        rest = &tail[target_end.unwrap_or(0)..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_read_as_text() {
        assert_eq!(plain_text("The largest, [`Telemetry::max_depth`]."), "The largest, `Telemetry::max_depth`.");
        assert_eq!(plain_text("On a [`Connection`](crate::Connection)\nfor\n  it"), "On a `Connection` for it");
        assert_eq!(plain_text("See [the docs](https://x.y/z) now"), "See the docs now");
        assert_eq!(plain_text("One.\n\nTwo\nlines."), "One.\n\nTwo lines.");
        assert_eq!(plain_text("a [0, 1] range and [unclosed"), "a [0, 1] range and [unclosed");
    }

    #[test]
    fn every_description_in_a_schema_is_cleaned() {
        let mut schema = serde_json::json!({
            "description": "[`A`]\nb",
            "properties": {"x": {"description": "[`C`](c)"}, "description": {"type": "string"}},
            "anyOf": [{"description": "d\ne"}]
        });
        clean_descriptions(&mut schema);
        assert_eq!(schema["description"], "`A` b");
        assert_eq!(schema["properties"]["x"]["description"], "`C`");
        assert_eq!(schema["properties"]["description"]["type"], "string", "a property named description is kept");
        assert_eq!(schema["anyOf"][0]["description"], "d e");
    }
}
