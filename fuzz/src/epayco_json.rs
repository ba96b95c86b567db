//! ePayco confirmations as a JSON body: `http::routes::payments::fields_from_json`, then
//! the same checks as the form target.
//!
//! Invariants: a body is accepted exactly when it is a JSON object with no NUL character
//! in any string of its text (names and values, at any depth, duplicates too); every
//! field taken from it is one of
//! its string, number or boolean members, as its text; members of other types are
//! dropped, never turned into text; and everything in `epayco::check_fields`.

use roomkey::http::routes::payments::fields_from_json;
use serde_json::Value;

pub fn prepare() {}

pub fn run(data: &[u8]) {
    let parsed = fields_from_json(data);
    let value: Option<Value> = serde_json::from_slice(data).ok();
    let object = value.as_ref().and_then(Value::as_object);
    let has_nul = value.is_some() && holds_nul(data);
    assert_eq!(parsed.is_ok(), object.is_some() && !has_nul);
    let (Ok(fields), Some(object)) = (parsed, object) else {
        return;
    };
    for (key, member) in object {
        let expected = match member {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        };
        assert_eq!(fields.get(key), expected.as_ref(), "{key}");
    }
    assert!(fields.keys().all(|k| object.contains_key(k)));
    crate::epayco::check_fields(&fields);
}

/// Whether any string of a valid JSON text, member names and members that a later
/// duplicate replaces included, holds a NUL character (only `\u0000` can write one).
fn holds_nul(text: &[u8]) -> bool {
    let mut in_string = false;
    let mut i = 0;
    while i < text.len() {
        match (in_string, text[i]) {
            (false, b'"') => in_string = true,
            (true, b'"') => in_string = false,
            (true, b'\\') => {
                if text[i + 1] == b'u' && &text[i + 2..i + 6] == b"0000" {
                    return true;
                }
                // Skip the escaped character; `\uXXXX` then goes on over hex digits.
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    false
}
