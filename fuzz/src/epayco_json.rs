//! ePayco confirmations as a JSON body: `http::routes::payments::fields_from_json`, then
//! the same checks as the form target.
//!
//! Invariants: an accepted body is a JSON object, and every field taken from it is one of
//! its string, number or boolean members, as its text; members of other types are
//! dropped, never turned into text; and everything in `epayco::check_fields`.

use roomkey::http::routes::payments::fields_from_json;
use serde_json::Value;

pub fn prepare() {}

pub fn run(data: &[u8]) {
    let parsed = fields_from_json(data);
    let value: Option<Value> = serde_json::from_slice(data).ok();
    let object = value.as_ref().and_then(Value::as_object);
    assert_eq!(parsed.is_ok(), object.is_some());
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
