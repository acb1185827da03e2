//! The one rule for values a database cannot hold, applied to every value bound, by both
//! backends alike (see "What is stored when a value does not fit" in the README):
//!
//! - NUL (U+0000) can be held by neither PostgreSQL's `text` nor its `jsonb`, and SQLite cuts
//!   text at it. An optional text column holding one is NULL; a text column a row cannot lack (an
//!   id) and every string and key in a JSON document get each NUL written as the six characters
//!   `\u0000`.
//! - A time outside 1970-01-01 to 9999-12-31 (PostgreSQL refuses far later ones; SQLite's date
//!   functions give nonsense) is NULL.
//! - An integer beyond 32 bits in a column PostgreSQL types `INTEGER` is NULL.
//!
//! `raw_body` always keeps the exact bytes, so nothing is lost.

use std::borrow::Cow;

use serde_json::Value;

/// What a NUL becomes where it must be kept.
pub const NUL_ESCAPE: &str = "\\u0000";

/// Optional text: NULL when it holds a NUL.
pub(super) fn optional_text(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.contains('\0'))
}

/// Text a row cannot lack: NULs escaped.
pub(super) fn required_text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', NUL_ESCAPE))
    } else {
        Cow::Borrowed(text)
    }
}

/// An `INTEGER` (32-bit) column's value, NULL beyond its range.
pub(super) fn int4(value: Option<i64>) -> Option<i32> {
    value.and_then(|v| i32::try_from(v).ok())
}

/// A JSON document with every NUL in its strings and keys escaped; `None` when it holds none
/// (the common case, which then binds the document as it is, without a copy).
pub(super) fn escaped_json(value: &Value) -> Option<Value> {
    holds_nul(value).then(|| escape(value.clone()))
}

/// Whether a NUL stands in any string or key of the document (the V1 reader refuses such a body).
pub fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

fn escape(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(required_text(&s).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(escape).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (required_text(&k).into_owned(), escape(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_with_nul_is_null_or_escaped() {
        assert_eq!(optional_text(Some("a\0b")), None);
        assert_eq!(optional_text(Some("ab")), Some("ab"));
        assert_eq!(required_text("a\0b"), "a\\u0000b");
        assert!(matches!(required_text("ab"), Cow::Borrowed("ab")));
    }

    #[test]
    fn times_outside_1970_to_9999_are_null() {
        use crate::time::storable_ms;
        assert_eq!(storable_ms(Some(i64::MAX)), None);
        assert_eq!(storable_ms(Some(-1)), None);
        assert_eq!(storable_ms(Some(253_402_300_800_000)), None);
        assert_eq!(
            storable_ms(Some(253_402_300_799_999)),
            Some(253_402_300_799_999)
        );
        assert_eq!(storable_ms(Some(0)), Some(0));
    }

    #[test]
    fn integers_beyond_32_bits_are_null_in_integer_columns() {
        assert_eq!(int4(Some(1 << 31)), None);
        assert_eq!(int4(Some(-5)), Some(-5));
    }

    #[test]
    fn json_escapes_nul_in_strings_and_keys_at_any_depth() {
        assert_eq!(escaped_json(&json!({"a": [1, "x"]})), None);
        let escaped = escaped_json(&json!({"k\u{0}": {"n": ["v\u{0}", 2]}})).unwrap();
        assert_eq!(escaped, json!({"k\\u0000": {"n": ["v\\u0000", 2]}}));
    }
}
