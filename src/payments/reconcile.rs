//! Re-checking payments that ePayco left pending.
//!
//! A confirmation can be lost (ePayco gave up retrying, or answered while roomkey was
//! down), leaving a payer who paid without access. So payments still pending after a
//! while are looked up in ePayco's transaction validation API
//! (`GET https://secure.epayco.co/validation/v1/reference/<x_ref_payco>`, no credentials)
//! and the answer goes through the same path as a confirmation: bound to the intent by
//! its provider reference, amount and currency checked, applied exactly once (a state
//! already applied is a duplicate event).
//!
//! The answer is authenticated by TLS to ePayco's host rather than by `x_signature`:
//! lookups return numbers where confirmations carry strings, so the signed text cannot
//! always be reproduced. The configured URL must be `https://` (plain HTTP only on
//! loopback, for tests).

use std::collections::BTreeMap;
use std::time::Duration;

use hyper::Method;
use serde_json::Value;

use crate::outbound::{JsonClient, OutboundError};

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("the lookup did not answer in time")]
    Timeout,
    #[error("the lookup failed: {0}")]
    Transport(String),
    #[error("the lookup answered HTTP {0}")]
    Status(u16),
    #[error("the lookup's answer is not a transaction: {0}")]
    Malformed(&'static str),
}

/// ePayco's transaction lookup.
pub struct EpaycoLookup {
    base_url: String,
    http: JsonClient,
}

impl EpaycoLookup {
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http: JsonClient::new(timeout),
        }
    }

    /// The transaction's current fields, as a confirmation would carry them.
    pub async fn transaction(
        &self,
        ref_payco: &str,
    ) -> Result<BTreeMap<String, String>, LookupError> {
        if ref_payco.is_empty() || !ref_payco.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(LookupError::Malformed("x_ref_payco"));
        }
        let answer = self
            .http
            .send(
                Method::GET,
                &format!("{}/{ref_payco}", self.base_url),
                &[],
                None,
            )
            .await
            .map_err(|e| match e {
                OutboundError::Timeout => LookupError::Timeout,
                OutboundError::Transport(detail) => LookupError::Transport(detail),
            })?;
        if !answer.status.is_success() {
            return Err(LookupError::Status(answer.status.as_u16()));
        }
        if answer.body.is_null() {
            return Err(LookupError::Malformed("not JSON"));
        }
        fields_of(&answer.body)
    }
}

/// `{"success": true, "data": {"x_ref_payco": 123, "x_amount": "19.99", …}}` → the
/// `x_*` fields as strings. Numbers keep their JSON spelling.
fn fields_of(answer: &Value) -> Result<BTreeMap<String, String>, LookupError> {
    if answer.get("success").and_then(Value::as_bool) != Some(true) {
        return Err(LookupError::Malformed("success is not true"));
    }
    let data = answer
        .get("data")
        .and_then(Value::as_object)
        .ok_or(LookupError::Malformed("no data object"))?;
    let fields: BTreeMap<String, String> = data
        .iter()
        .filter(|(key, _)| key.starts_with("x_"))
        .filter_map(|(key, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => return None,
            };
            Some((key.clone(), text))
        })
        .collect();
    if !fields.contains_key("x_ref_payco") {
        return Err(LookupError::Malformed("no x_ref_payco"));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_lookup_answer_becomes_confirmation_fields() {
        let fields = fields_of(&json!({"success": true, "title_response": "OK",
            "data": {"x_ref_payco": 98765432, "x_amount": 19.99, "x_currency_code": "USD",
                     "x_cod_transaction_state": 1, "x_test_request": "FALSE",
                     "x_extra1": "intent-1", "x_franchise": null, "customer": {"a": 1}}}))
        .unwrap();
        assert_eq!(fields["x_ref_payco"], "98765432");
        assert_eq!(fields["x_amount"], "19.99");
        assert_eq!(fields["x_cod_transaction_state"], "1");
        assert_eq!(fields["x_extra1"], "intent-1");
        assert!(!fields.contains_key("x_franchise") && !fields.contains_key("customer"));
    }

    #[test]
    fn an_unsuccessful_or_empty_lookup_is_not_a_transaction() {
        for answer in [
            json!({"success": false, "data": {"x_ref_payco": 1}}),
            json!({"success": true}),
            json!({"success": true, "data": {"x_amount": "1"}}),
            json!([]),
        ] {
            assert!(fields_of(&answer).is_err(), "{answer}");
        }
    }
}
