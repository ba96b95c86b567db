//! Signed JSON webhooks: `payments::signed::verify` with Standard Webhooks
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> …`) and Stripe-style
//! (`Stripe-Signature: t=…,v1=<hex>,…`) headers, then the event body.
//!
//! The input is a structured case: secrets (one or two, for rotation), headers built from
//! fuzzed parts with correct signatures among them, or headers as raw text, and a body.
//! Invariants: whatever verifies carries, in its header, a correct HMAC of the signed
//! content under a configured secret (computed here with another HMAC implementation),
//! with a timestamp inside the tolerance; a well-formed header with a correct signature
//! verifies; verification is deterministic; a changed body no longer verifies; Standard
//! returns the delivery id, Stripe none.

use arbitrary::{Arbitrary, Unstructured};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use roomkey::config::{Secret, SignedProviderConfig, WebhookScheme};
use roomkey::payments::signed::{verify, ProviderEvent, SignatureHeaders};

use crate::support::{hmac_sha256, within, Time};
use crate::NOW;

/// The research notes' secrets, and a second one for rotation.
const STANDARD_SECRETS: [&str; 2] = [
    "whsec_MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA=",
    "d2Vic2l0ZS1yb3RhdGVkLXNlY3JldC0wMTIzNDU2Nzg5",
];
const STRIPE_SECRETS: [&str; 2] = ["whsec_test", "whsec_new_secret_value"];

#[derive(Arbitrary, Debug)]
enum Signature<'a> {
    /// The right HMAC under configured secret `n % 2`.
    Right(u8),
    /// An HMAC under a secret that is not configured.
    Wrong,
    Bytes(&'a [u8]),
    Text(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Stamp<'a> {
    At(Time),
    Text(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Headers<'a> {
    Built {
        id: Option<&'a str>,
        timestamp: Option<Stamp<'a>>,
        signatures: Vec<Signature<'a>>,
        /// Stripe only: the timestamp before the signatures, or after.
        timestamp_last: bool,
    },
    Raw {
        id: Option<&'a str>,
        timestamp: Option<&'a str>,
        signature: Option<&'a str>,
    },
}

#[derive(Arbitrary, Debug)]
struct Case<'a> {
    stripe: bool,
    /// Which secrets are configured: bit 0 the first, bit 1 the second.
    configured: u8,
    tolerance: u16,
    headers: Headers<'a>,
    body: &'a [u8],
}

pub fn prepare() {}

pub fn run(data: &[u8]) {
    if let Some(raw) = data.strip_prefix(b"=") {
        check_raw(raw);
        return;
    }
    let Ok(case) = Case::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (scheme, all) = if case.stripe {
        (WebhookScheme::Stripe, STRIPE_SECRETS)
    } else {
        (WebhookScheme::Standard, STANDARD_SECRETS)
    };
    let secrets: Vec<&str> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| case.configured & (1 << i) != 0)
        .map(|(_, s)| *s)
        .collect();
    let config = SignedProviderConfig {
        scheme,
        secrets: secrets.iter().map(|s| Secret::new(*s)).collect(),
        tolerance_secs: i64::from(case.tolerance % 3600) + 1,
    };
    let (headers, valid) = build(&case, &secrets);
    let keys = keys(case.stripe, &secrets);
    check(&config, &headers, case.body, NOW, &keys, valid);
}

/// `=` then `name: value` header lines (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature`, `stripe-signature`, and `x-now`, the instant to verify at), a
/// blank line, and the body; every secret of the scheme is configured, tolerance 300 s.
fn check_raw(text: &[u8]) {
    let split = text
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(text.len());
    let Ok(head) = std::str::from_utf8(&text[..split]) else {
        return;
    };
    let body = text.get(split + 2..).unwrap_or_default();
    let mut headers = SignatureHeaders::default();
    let mut now = NOW;
    for line in head.lines() {
        let Some((name, value)) = line.split_once(": ") else {
            continue;
        };
        let value = Some(value.to_owned());
        match name.to_ascii_lowercase().as_str() {
            "webhook-id" => headers.webhook_id = value,
            "webhook-timestamp" => headers.webhook_timestamp = value,
            "webhook-signature" => headers.webhook_signature = value,
            "stripe-signature" => headers.stripe_signature = value,
            "x-now" => now = value.and_then(|v| v.parse().ok()).unwrap_or(NOW),
            _ => {}
        }
    }
    let stripe = headers.stripe_signature.is_some();
    let (scheme, secrets) = if stripe {
        (WebhookScheme::Stripe, STRIPE_SECRETS)
    } else {
        (WebhookScheme::Standard, STANDARD_SECRETS)
    };
    let config = SignedProviderConfig {
        scheme,
        secrets: secrets.iter().map(|s| Secret::new(*s)).collect(),
        tolerance_secs: 300,
    };
    check(&config, &headers, body, now, &keys(stripe, &secrets), false);
}

fn check(
    config: &SignedProviderConfig,
    headers: &SignatureHeaders,
    body: &[u8],
    now: i64,
    keys: &[Vec<u8>],
    valid: bool,
) {
    let stripe = config.scheme == WebhookScheme::Stripe;
    let result = verify(config, headers, body, now);
    if valid {
        assert!(result.is_ok(), "{headers:?} {result:?}");
    }
    assert_eq!(verify(config, headers, body, now), result, "deterministic");
    // What arrives after verification is parsed as JSON; whatever it holds must not panic.
    let _ = serde_json::from_slice::<ProviderEvent>(body);
    let Ok(delivery) = result else {
        return;
    };
    if stripe {
        assert_eq!(delivery, None);
        let header = headers.stripe_signature.as_deref().expect("verified");
        let timestamp = header
            .split(',')
            .filter_map(|part| part.trim().strip_prefix("t="))
            .next_back()
            .expect("a verified header has a timestamp");
        let at: i64 = timestamp.parse().expect("a verified timestamp parses");
        assert!(within(now, at, config.tolerance_secs), "{header}");
        let signed = [format!("{timestamp}.").as_bytes(), body].concat();
        let lowered = header.to_ascii_lowercase();
        assert!(
            keys.iter()
                .any(|key| lowered.contains(&hex::encode(hmac_sha256(key, &signed)))),
            "{header}"
        );
    } else {
        let id = headers.webhook_id.as_deref().expect("verified");
        let timestamp = headers.webhook_timestamp.as_deref().expect("verified");
        assert_eq!(delivery.as_deref(), Some(id));
        let at: i64 = timestamp.parse().expect("a verified timestamp parses");
        assert!(within(now, at, config.tolerance_secs), "{timestamp}");
        let signed = [format!("{id}.{timestamp}.").as_bytes(), body].concat();
        let header = headers.webhook_signature.as_deref().expect("verified");
        let expected: Vec<String> = keys
            .iter()
            .map(|key| format!("v1,{}", STANDARD.encode(hmac_sha256(key, &signed))))
            .collect();
        assert!(
            header.split(' ').any(|s| expected.iter().any(|e| e == s)),
            "{header}"
        );
    }
    // The signature covers the body.
    let mut changed = body.to_vec();
    match changed.first_mut() {
        Some(first) => *first ^= 1,
        None => changed.push(b'x'),
    }
    assert!(verify(config, headers, &changed, now).is_err());
}

/// The HMAC keys of the configured secrets, as each scheme derives them.
fn keys(stripe: bool, secrets: &[&str]) -> Vec<Vec<u8>> {
    secrets
        .iter()
        .filter_map(|secret| {
            if stripe {
                Some(secret.as_bytes().to_vec())
            } else {
                STANDARD
                    .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
                    .ok()
            }
        })
        .collect()
}

/// The headers, and whether they are well-formed with a correct signature in time.
fn build(case: &Case<'_>, secrets: &[&str]) -> (SignatureHeaders, bool) {
    let (id, timestamp, signatures, timestamp_last) = match &case.headers {
        Headers::Raw {
            id,
            timestamp,
            signature,
        } => {
            let owned = |s: &Option<&str>| s.map(str::to_owned);
            let headers = if case.stripe {
                SignatureHeaders {
                    stripe_signature: owned(signature),
                    ..Default::default()
                }
            } else {
                SignatureHeaders {
                    webhook_id: owned(id),
                    webhook_timestamp: owned(timestamp),
                    webhook_signature: owned(signature),
                    ..Default::default()
                }
            };
            return (headers, false);
        }
        Headers::Built {
            id,
            timestamp,
            signatures,
            timestamp_last,
        } => (id, timestamp, signatures, *timestamp_last),
    };
    let (timestamp, in_time) = match timestamp {
        Some(Stamp::At(time)) => {
            let at = time.at();
            let tolerance = i64::from(case.tolerance % 3600) + 1;
            (Some(at.to_string()), within(NOW, at, tolerance))
        }
        Some(Stamp::Text(text)) => (Some((*text).to_owned()), false),
        None => (None, false),
    };
    let keys = keys(case.stripe, secrets);
    let wrong_key = b"a secret nobody configured".to_vec();
    let id = id.map(str::to_owned);
    let signed = match (&timestamp, case.stripe) {
        (Some(ts), true) => Some([format!("{ts}.").as_bytes(), case.body].concat()),
        (Some(ts), false) => id
            .as_ref()
            .map(|id| [format!("{id}.{ts}.").as_bytes(), case.body].concat()),
        (None, _) => None,
    };
    // Each MAC once: a case may list thousands of signatures over a long body.
    let macs: Vec<Option<Vec<u8>>> = keys
        .iter()
        .map(|key| signed.as_ref().map(|s| hmac_sha256(key, s)))
        .collect();
    let wrong = signed.as_ref().map(|s| hmac_sha256(&wrong_key, s));
    let mut right = false;
    let mut parts = Vec::new();
    for signature in signatures {
        let mac = match signature {
            Signature::Right(n) => {
                let Some(mac) = macs.get(usize::from(*n) % 2) else {
                    continue;
                };
                right = true;
                mac.clone()
            }
            Signature::Wrong => wrong.clone(),
            Signature::Bytes(bytes) => Some(bytes.to_vec()),
            Signature::Text(text) => {
                // Raw text in the signature list, possibly breaking its syntax.
                parts.push((*text).to_owned());
                continue;
            }
        };
        let Some(mac) = mac else { continue };
        parts.push(if case.stripe {
            format!("v1={}", hex::encode(mac))
        } else {
            format!("v1,{}", STANDARD.encode(mac))
        });
    }
    // Raw text may break the list's syntax around a right signature; only a list of built
    // signatures is known to be well-formed.
    let well_formed = signatures.iter().all(|s| !matches!(s, Signature::Text(_)));
    if case.stripe {
        let header = timestamp.as_ref().map(|ts| {
            let mut all = parts.clone();
            let stamp = format!("t={ts}");
            if timestamp_last {
                all.push(stamp);
            } else {
                all.insert(0, stamp);
            }
            all.join(",")
        });
        let valid = right && in_time && well_formed;
        (
            SignatureHeaders {
                stripe_signature: header,
                ..Default::default()
            },
            valid,
        )
    } else {
        let valid = right && in_time && well_formed && id.is_some();
        (
            SignatureHeaders {
                webhook_id: id,
                webhook_timestamp: timestamp,
                webhook_signature: Some(parts.join(" ")),
                ..Default::default()
            },
            valid,
        )
    }
}
