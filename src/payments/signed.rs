//! Signed JSON webhooks for providers other than ePayco, in the two common schemes.
//!
//! - Standard Webhooks (Meru's API, Svix): HMAC-SHA256 over `{id}.{timestamp}.{body}`,
//!   keyed with base64-decode(secret without `whsec_`), sent as `webhook-signature:
//!   v1,<base64> [v1,<base64> …]`.
//! - Stripe-style: HMAC-SHA256 over `{t}.{body}` keyed with the secret's bytes, sent as
//!   `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`.
//!
//! Both verify the raw body before parsing it, accept any listed signature under any
//! configured secret (rotation), compare in constant time, and refuse timestamps outside
//! the tolerance in either direction.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;

use crate::clock::UnixSeconds;
use crate::config::{Secret, SignedProviderConfig, WebhookScheme};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("malformed signature header")]
    Malformed,
    #[error("the timestamp is outside the accepted window")]
    Stale,
    #[error("no signature matches")]
    NoMatch,
}

/// The headers a signed webhook may carry.
#[derive(Debug, Default, Clone)]
pub struct SignatureHeaders {
    pub webhook_id: Option<String>,
    pub webhook_timestamp: Option<String>,
    pub webhook_signature: Option<String>,
    pub stripe_signature: Option<String>,
}

/// Verifies the body; returns the delivery id when the scheme carries one in a header.
pub fn verify(
    config: &SignedProviderConfig,
    headers: &SignatureHeaders,
    body: &[u8],
    now: UnixSeconds,
) -> Result<Option<String>, SignatureError> {
    match config.scheme {
        WebhookScheme::Standard => {
            let id = headers
                .webhook_id
                .as_deref()
                .ok_or(SignatureError::MissingHeader("webhook-id"))?;
            let timestamp = headers
                .webhook_timestamp
                .as_deref()
                .ok_or(SignatureError::MissingHeader("webhook-timestamp"))?;
            let signatures = headers
                .webhook_signature
                .as_deref()
                .ok_or(SignatureError::MissingHeader("webhook-signature"))?;
            check_time(timestamp, now, config.tolerance_secs)?;
            let mut signed = format!("{id}.{timestamp}.").into_bytes();
            signed.extend_from_slice(body);
            let presented: Vec<Vec<u8>> = signatures
                .split(' ')
                .filter_map(|s| s.strip_prefix("v1,"))
                .filter_map(|s| STANDARD.decode(s).ok())
                .collect();
            if presented.is_empty() {
                return Err(SignatureError::Malformed);
            }
            let keys: Vec<Vec<u8>> = config.secrets.iter().filter_map(standard_key).collect();
            matches_any(&keys, &signed, &presented)?;
            Ok(Some(id.to_owned()))
        }
        WebhookScheme::Stripe => {
            let header = headers
                .stripe_signature
                .as_deref()
                .ok_or(SignatureError::MissingHeader("stripe-signature"))?;
            let mut timestamp = None;
            let mut presented = Vec::new();
            for part in header.split(',') {
                match part.trim().split_once('=') {
                    Some(("t", t)) => timestamp = Some(t),
                    Some(("v1", hex_sig)) => presented.extend(hex::decode(hex_sig).ok()),
                    _ => {}
                }
            }
            let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
            if presented.is_empty() {
                return Err(SignatureError::Malformed);
            }
            check_time(timestamp, now, config.tolerance_secs)?;
            let mut signed = format!("{timestamp}.").into_bytes();
            signed.extend_from_slice(body);
            let keys: Vec<Vec<u8>> = config
                .secrets
                .iter()
                .map(|s| s.expose().as_bytes().to_vec())
                .collect();
            matches_any(&keys, &signed, &presented)?;
            Ok(None)
        }
    }
}

fn standard_key(secret: &Secret) -> Option<Vec<u8>> {
    let text = secret.expose();
    STANDARD
        .decode(text.strip_prefix("whsec_").unwrap_or(text))
        .ok()
}

fn check_time(timestamp: &str, now: UnixSeconds, tolerance: i64) -> Result<(), SignatureError> {
    let at: i64 = timestamp.parse().map_err(|_| SignatureError::Malformed)?;
    // `abs_diff`: a timestamp near `i64::MIN` must not overflow before the HMAC check.
    if now.abs_diff(at) > tolerance.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// One HMAC per key, compared in constant time with every presented signature. Not one
/// HMAC per key and signature: a header listing thousands of signatures would otherwise
/// hash the body thousands of times before anything is authenticated.
fn matches_any(
    keys: &[Vec<u8>],
    signed: &[u8],
    presented: &[Vec<u8>],
) -> Result<(), SignatureError> {
    use subtle::ConstantTimeEq as _;
    let mut matched = false;
    for key in keys {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        let expected = ring::hmac::sign(&key, signed);
        for signature in presented {
            matched |= bool::from(expected.as_ref().ct_eq(signature.as_slice()));
        }
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::NoMatch)
    }
}

/// roomkey's event shape for signed providers:
/// `{"id": "evt_1", "type": "payment.succeeded", "data": {"reference": "<our reference>",
///   "provider_ref": "pay_1", "amount_minor": 5000000, "currency": "COP"}}`.
/// Types: `payment.succeeded`, `payment.pending`, `payment.failed`, `payment.refunded`,
/// `payment.chargeback`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct ProviderEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: ProviderEventData,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct ProviderEventData {
    pub reference: String,
    pub provider_ref: String,
    pub amount_minor: i64,
    pub currency: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"type":"balance.updated","timestamp":"2026-06-23T12:00:00.000Z","data":{"id":"dep_1"}}"#;
    const TS: i64 = 1_719_234_567;

    fn provider(scheme: WebhookScheme, secrets: &[&str]) -> SignedProviderConfig {
        SignedProviderConfig {
            scheme,
            secrets: secrets.iter().map(|s| Secret::new(*s)).collect(),
            tolerance_secs: 300,
        }
    }

    /// Vectors from the research notes, computed independently in Python.
    #[test]
    fn standard_webhooks_vector() {
        let config = provider(
            WebhookScheme::Standard,
            &["whsec_MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="],
        );
        let headers = SignatureHeaders {
            webhook_id: Some("msg_1".into()),
            webhook_timestamp: Some(TS.to_string()),
            webhook_signature: Some(
                "v1,bm90IGl0 v1,HRslvsB7vl7AWGjnDGKww8wxSBqpuuqiRU54J9c7/r4=".into(),
            ),
            ..Default::default()
        };
        assert_eq!(
            verify(&config, &headers, BODY, TS + 10),
            Ok(Some("msg_1".into()))
        );
        assert_eq!(
            verify(&config, &headers, BODY, TS + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&config, &headers, BODY, TS - 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&config, &headers, b"{}", TS),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn a_timestamp_at_the_ends_of_i64_is_stale_not_an_overflow() {
        let standard = provider(
            WebhookScheme::Standard,
            &["whsec_MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="],
        );
        let stripe = provider(WebhookScheme::Stripe, &["whsec_test"]);
        for at in [i64::MIN, i64::MIN + TS, i64::MAX] {
            let headers = SignatureHeaders {
                webhook_id: Some("msg_1".into()),
                webhook_timestamp: Some(at.to_string()),
                webhook_signature: Some("v1,AAAA".into()),
                stripe_signature: Some(format!("t={at},v1=00")),
            };
            assert_eq!(
                verify(&standard, &headers, BODY, TS),
                Err(SignatureError::Stale)
            );
            assert_eq!(
                verify(&stripe, &headers, BODY, TS),
                Err(SignatureError::Stale)
            );
        }
    }

    #[test]
    fn a_header_of_many_signatures_still_finds_the_right_one() {
        // Found by fuzz/ (signed_webhook): each listed signature used to cost an HMAC
        // over the whole body. The right one among thousands still verifies; a wrong
        // length never matches.
        let config = provider(
            WebhookScheme::Standard,
            &["whsec_MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="],
        );
        let mut list = "v1, ".repeat(5_000);
        list.push_str("v1,AAAA v1,HRslvsB7vl7AWGjnDGKww8wxSBqpuuqiRU54J9c7/r4=");
        let headers = SignatureHeaders {
            webhook_id: Some("msg_1".into()),
            webhook_timestamp: Some(TS.to_string()),
            webhook_signature: Some(list),
            ..Default::default()
        };
        assert_eq!(
            verify(&config, &headers, BODY, TS),
            Ok(Some("msg_1".into()))
        );
        let only_wrong = SignatureHeaders {
            webhook_signature: Some("v1, v1,AAAA".into()),
            ..headers
        };
        assert_eq!(
            verify(&config, &only_wrong, BODY, TS),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn stripe_vector_and_rotation() {
        let headers = SignatureHeaders {
            stripe_signature: Some(format!(
                "t={TS},v1=c064931604600e70353d0ac5bb981e989724a88f589d944d031dea3ce232b2b0"
            )),
            ..Default::default()
        };
        let rotated = provider(
            WebhookScheme::Stripe,
            &["whsec_new_secret_value", "whsec_test"],
        );
        assert_eq!(
            verify(&rotated, &headers, BODY, TS),
            Ok(None),
            "the old secret still verifies during rotation"
        );
        let wrong = provider(WebhookScheme::Stripe, &["whsec_other_secret"]);
        assert_eq!(
            verify(&wrong, &headers, BODY, TS),
            Err(SignatureError::NoMatch)
        );
        let missing = SignatureHeaders::default();
        assert_eq!(
            verify(&wrong, &missing, BODY, TS),
            Err(SignatureError::MissingHeader("stripe-signature"))
        );
    }
}
