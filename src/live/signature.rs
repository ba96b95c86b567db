//! Signed requests between roomkey and `mod_roomkey`, both directions
//! (`prosody-plugins/PROTOCOL.md`, "Authentication").
//!
//! The signature covers the request kind, the timestamp and the exact body bytes, so a
//! captured request can be neither edited, replayed after the skew window, nor sent to
//! another endpoint. No secret ever travels on the wire.

use ring::hmac;

use crate::clock::UnixSeconds;

pub const TIMESTAMP_HEADER: &str = "x-roomkey-timestamp";
pub const SIGNATURE_HEADER: &str = "x-roomkey-signature";

/// Which exchange a signed body belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Verdicts,
    Events,
    Command,
}

impl RequestKind {
    fn as_str(self) -> &'static str {
        match self {
            RequestKind::Verdicts => "verdicts",
            RequestKind::Events => "events",
            RequestKind::Command => "command",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request is not signed")]
    Missing,
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the request timestamp is outside the allowed clock skew")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

pub struct RequestSigner {
    key: hmac::Key,
    max_skew_secs: i64,
}

impl std::fmt::Debug for RequestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestSigner(<redacted>)")
    }
}

impl RequestSigner {
    pub fn new(secret: &[u8], max_skew_secs: i64) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            max_skew_secs,
        }
    }

    /// The `X-Roomkey-Signature` value for `body` sent at `timestamp`.
    pub fn sign(&self, kind: RequestKind, timestamp: UnixSeconds, body: &[u8]) -> String {
        let tag = hmac::sign(&self.key, &signing_input(kind, timestamp, body));
        format!("v1={}", hex::encode(tag.as_ref()))
    }

    /// Checks the two headers against `body`; comparison is constant-time (ring).
    pub fn verify(
        &self,
        kind: RequestKind,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: UnixSeconds,
    ) -> Result<(), SignatureError> {
        let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
            return Err(SignatureError::Missing);
        };
        let timestamp: UnixSeconds = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::Malformed)?;
        let tag = signature
            .trim()
            .strip_prefix("v1=")
            .and_then(|hex_tag| hex::decode(hex_tag).ok())
            .ok_or(SignatureError::Malformed)?;
        // `abs_diff`: a timestamp near `i64::MIN` must not overflow before the HMAC check.
        if now.abs_diff(timestamp) > self.max_skew_secs.unsigned_abs() {
            return Err(SignatureError::Stale);
        }
        hmac::verify(&self.key, &signing_input(kind, timestamp, body), &tag)
            .map_err(|_| SignatureError::Mismatch)
    }
}

fn signing_input(kind: RequestKind, timestamp: UnixSeconds, body: &[u8]) -> Vec<u8> {
    let mut input = format!("v1:{}:{timestamp}:", kind.as_str()).into_bytes();
    input.extend_from_slice(body);
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixSeconds = 1_800_000_000;

    fn signer() -> RequestSigner {
        RequestSigner::new(b"0123456789abcdef0123456789abcdef", 60)
    }

    #[test]
    fn matches_an_independent_hmac_of_the_documented_input() {
        // printf 'v1:command:1800000000:{}' | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
        let expected = "v1=".to_owned()
            + &hex::encode(
                hmac::sign(
                    &hmac::Key::new(hmac::HMAC_SHA256, b"0123456789abcdef0123456789abcdef"),
                    b"v1:command:1800000000:{}",
                )
                .as_ref(),
            );
        assert_eq!(signer().sign(RequestKind::Command, NOW, b"{}"), expected);
    }

    #[test]
    fn a_signed_body_verifies_only_unchanged_in_time_and_for_its_kind() {
        let signer = signer();
        let body = br#"{"checks":[]}"#;
        let signature = signer.sign(RequestKind::Verdicts, NOW, body);
        let ts = NOW.to_string();
        let verify = |kind, ts: &str, body: &[u8], now| {
            signer.verify(kind, Some(ts), Some(&signature), body, now)
        };
        assert_eq!(verify(RequestKind::Verdicts, &ts, body, NOW + 59), Ok(()));
        assert_eq!(
            verify(RequestKind::Events, &ts, body, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(RequestKind::Verdicts, &ts, b"{\"checks\":[1]}", NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(RequestKind::Verdicts, &ts, body, NOW + 61),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(RequestKind::Verdicts, "1800000001", body, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_timestamp_at_the_ends_of_i64_is_stale_not_an_overflow() {
        let signer = signer();
        for timestamp in [i64::MIN, i64::MIN + NOW, i64::MAX] {
            assert_eq!(
                signer.verify(
                    RequestKind::Verdicts,
                    Some(&timestamp.to_string()),
                    Some("v1=00"),
                    b"{}",
                    NOW
                ),
                Err(SignatureError::Stale),
                "{timestamp}"
            );
        }
    }

    #[test]
    fn malformed_or_missing_headers_are_refused() {
        let signer = signer();
        let ts = NOW.to_string();
        for (timestamp, signature, expected) in [
            (None, Some("v1=00"), SignatureError::Missing),
            (Some(ts.as_str()), None, SignatureError::Missing),
            (Some("soon"), Some("v1=00"), SignatureError::Malformed),
            (Some(ts.as_str()), Some("00ff"), SignatureError::Malformed),
            (Some(ts.as_str()), Some("v1=zz"), SignatureError::Malformed),
            (Some(ts.as_str()), Some("v1="), SignatureError::Mismatch),
        ] {
            assert_eq!(
                signer.verify(RequestKind::Command, timestamp, signature, b"{}", NOW),
                Err(expected),
                "{timestamp:?} {signature:?}"
            );
        }
    }
}
