//! Jitsi tokens with the shared HS256 secret: `tokens::jitsi::JitsiTokens::verify`
//! (through `tokens::verify::verify` and jsonwebtoken).
//!
//! The input is a structured case: a header (any `alg`, `typ`, `kid`, or raw bytes),
//! claims from fuzzed parts or raw bytes, and a signature: the right secret with the hash
//! the header names (so HS384 and HS512 tokens are correctly signed too), another secret,
//! or raw bytes; then maybe one edit to the finished token.
//! Invariants: a token that verifies says `alg: HS256` and `typ: JWT`, carries an
//! HMAC-SHA256 under the secret (checked with another implementation), the configured
//! issuer and audience, and `nbf <= now < exp`, and the returned claims are its own; a
//! token built valid verifies.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use roomkey::config::SigningMode;
use roomkey::tokens::jitsi::JitsiTokens;

use crate::jitsi::{check_verified, Claims, HS_SECRET};
use crate::jwt::{b64, unb64, Alg};
use crate::support::{hmac_sha256, hmac_sha384, hmac_sha512, Edit};
use crate::NOW;

#[derive(Arbitrary, Debug)]
enum Header<'a> {
    Built {
        alg: Alg<'a>,
        typ: Option<Option<&'a str>>,
        kid: Option<&'a str>,
    },
    Raw(&'a [u8]),
}

#[derive(Arbitrary, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one case per input, never stored"
)]
enum Payload<'a> {
    Claims(Claims<'a>),
    Raw(&'a [u8]),
}

#[derive(Arbitrary, Debug)]
enum Signature<'a> {
    Right,
    OtherKey,
    Raw(&'a [u8]),
}

#[derive(Arbitrary, Debug)]
enum Case<'a> {
    Built {
        header: Header<'a>,
        payload: Payload<'a>,
        signature: Signature<'a>,
        edit: Option<Edit<'a>>,
    },
}

fn tokens() -> &'static JitsiTokens {
    static TOKENS: OnceLock<JitsiTokens> = OnceLock::new();
    TOKENS.get_or_init(|| crate::jitsi::tokens(SigningMode::Hs256))
}

pub fn prepare() {
    tokens();
}

pub fn run(data: &[u8]) {
    if let Some(raw) = data.strip_prefix(b"=") {
        if let Ok(token) = std::str::from_utf8(raw) {
            check_raw(token);
        }
        return;
    }
    let Ok(case) = Case::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (token, expect_ok) = match &case {
        Case::Built {
            header,
            payload,
            signature,
            edit,
        } => {
            let (token, valid) = build(header, payload, signature);
            match edit.as_ref().and_then(|e| e.apply(&token)) {
                Some(edited) => (edited, false),
                None => (token, valid),
            }
        }
    };
    check(&token, expect_ok);
}

fn check_raw(token: &str) {
    check(token, false);
}

fn check(token: &str, expect_ok: bool) {
    let result = tokens().verify(token, NOW);
    if expect_ok {
        assert!(result.is_ok(), "{token} {result:?}");
    }
    if let Ok(claims) = result {
        check_verified(token, &claims, "HS256", |input, signature| {
            unb64(signature) == Some(hmac_sha256(HS_SECRET.as_bytes(), input.as_bytes()))
        });
    }
}

fn build(header: &Header<'_>, payload: &Payload<'_>, signature: &Signature<'_>) -> (String, bool) {
    let (header_json, alg, header_ok) = match header {
        Header::Built { alg, typ, kid } => (
            crate::jitsi::header(alg, *typ, *kid),
            Some(alg),
            matches!(alg, Alg::Hs256) && matches!(typ, Some(None)),
        ),
        Header::Raw(bytes) => (bytes.to_vec(), None, false),
    };
    let (payload_json, claims_ok) = match payload {
        Payload::Claims(claims) => claims.payload(),
        Payload::Raw(bytes) => (bytes.to_vec(), false),
    };
    let input = format!("{}.{}", b64(&header_json), b64(&payload_json));
    let key = HS_SECRET.as_bytes();
    let (mac, right) = match signature {
        Signature::Right => (
            match alg {
                Some(Alg::Hs384) => hmac_sha384(key, input.as_bytes()),
                Some(Alg::Hs512) => hmac_sha512(key, input.as_bytes()),
                _ => hmac_sha256(key, input.as_bytes()),
            },
            true,
        ),
        Signature::OtherKey => (hmac_sha256(b"another secret", input.as_bytes()), false),
        Signature::Raw(bytes) => (bytes.to_vec(), false),
    };
    (
        format!("{input}.{}", b64(&mac)),
        header_ok && claims_ok && right,
    )
}
