//! Platform session tokens: `identity::session::SessionTokens::verify`.
//!
//! The input is a structured case: a header (the exact one roomkey writes, another `alg`
//! or `typ`, or raw bytes), claims from fuzzed parts or raw bytes, and a signature with
//! the right key, another key, or raw bytes; then maybe one edit to the finished token.
//! Invariants: a token that verifies has exactly roomkey's header (so no other `alg`),
//! an HMAC under the session key (checked with another implementation), issuer,
//! audience and type as issued, `now` before `exp` and not before `iat` minus the minute
//! of drift, and the user id that is returned; a token built valid verifies; one signed
//! with another key never does.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use roomkey::identity::session::{SessionTokens, SESSION_AUDIENCE, SESSION_ISSUER};
use serde_json::{json, Value};

use crate::jwt::{b64, json_of, object, segments, unb64, Alg, Stamp, Text};
use crate::support::{hmac_sha256, Edit};
use crate::NOW;

const SECRET: &[u8] = b"session-secret-for-the-fuzz-target-0123";
const OTHER_SECRET: &[u8] = b"some-other-session-secret-0123456789ab";
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

#[derive(Arbitrary, Debug)]
enum Header<'a> {
    Exact,
    Built { alg: Alg<'a>, typ: Option<&'a str> },
    Raw(&'a [u8]),
}

#[derive(Arbitrary, Debug)]
struct Claims<'a> {
    iss: Text<'a>,
    aud: Text<'a>,
    typ: Text<'a>,
    sub: &'a str,
    iat: Stamp<'a>,
    exp: Stamp<'a>,
    jti: &'a str,
    omit: u8,
    extra: Option<(&'a str, &'a str)>,
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

fn sessions() -> &'static SessionTokens {
    static SESSIONS: OnceLock<SessionTokens> = OnceLock::new();
    SESSIONS.get_or_init(|| SessionTokens::new(SECRET, 3600))
}

pub fn prepare() {
    sessions();
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
    let (token, expected) = match &case {
        Case::Built {
            header,
            payload,
            signature,
            edit,
        } => {
            let (token, expected) = build(header, payload, signature);
            match edit.as_ref().and_then(|e| e.apply(&token)) {
                Some(edited) => (edited, None),
                None => (token, expected),
            }
        }
    };
    check(&token, expected);
}

fn check_raw(token: &str) {
    check(token, None);
}

/// Verifies `token`; `expected` is the user id when it was built valid.
fn check(token: &str, expected: Option<&str>) {
    let result = sessions().verify(token, NOW);
    if let Some(sub) = expected {
        assert_eq!(result.as_deref(), Ok(sub), "{token}");
    }
    let Ok(sub) = result else {
        return;
    };
    let (header, payload, signature) = segments(token).expect("a verified token has three parts");
    assert_eq!(
        header,
        b64(HEADER.as_bytes()),
        "only roomkey's exact header"
    );
    assert_eq!(
        unb64(signature).expect("a verified signature decodes"),
        hmac_sha256(SECRET, format!("{header}.{payload}").as_bytes())
    );
    let claims = json_of(payload).expect("verified claims are JSON");
    assert_eq!(claims["iss"], SESSION_ISSUER);
    assert_eq!(claims["aud"], SESSION_AUDIENCE);
    assert_eq!(claims["typ"], "session");
    assert_eq!(claims["sub"], sub.as_str());
    let exp = claims["exp"].as_i64().expect("an integer exp");
    let iat = claims["iat"].as_i64().expect("an integer iat");
    assert!(NOW < exp, "{claims}");
    assert!(i128::from(NOW) >= i128::from(iat) - 60, "{claims}");
}

/// The token, and the user id it must verify to when it is built valid.
fn build<'a>(
    header: &Header<'_>,
    payload: &Payload<'a>,
    signature: &Signature<'_>,
) -> (String, Option<&'a str>) {
    let (header_json, header_exact) = match header {
        Header::Exact => (HEADER.as_bytes().to_vec(), true),
        Header::Built { alg, typ } => {
            let mut value = json!({});
            if let Some(alg) = alg.value() {
                value["alg"] = alg;
            }
            if let Some(typ) = typ {
                value["typ"] = Value::from(*typ);
            }
            (value.to_string().into_bytes(), false)
        }
        Header::Raw(bytes) => (bytes.to_vec(), false),
    };
    let (payload_json, valid_claims) = match payload {
        Payload::Claims(c) => {
            let mut extra = Vec::new();
            if let Some((name, value)) = c.extra {
                extra.push((name, value));
            }
            let value = object(
                vec![
                    ("iss", c.iss.value(SESSION_ISSUER)),
                    ("aud", c.aud.value(SESSION_AUDIENCE)),
                    ("sub", Value::from(c.sub)),
                    ("iat", c.iat.value()),
                    ("exp", c.exp.value()),
                    ("jti", Value::from(c.jti)),
                    ("typ", c.typ.value("session")),
                ],
                u32::from(c.omit),
                &extra,
            );
            let in_time = match (c.iat.at(), c.exp.at()) {
                (Some(iat), Some(exp)) => NOW < exp && i128::from(NOW) >= i128::from(iat) - 60,
                _ => false,
            };
            let expected = [&c.iss, &c.aud, &c.typ]
                .iter()
                .all(|t| matches!(t, Text::Expected));
            let shadowed = c.extra.is_some_and(|(name, _)| {
                ["iss", "aud", "sub", "iat", "exp", "jti", "typ"].contains(&name)
            });
            let valid = in_time && expected && c.omit & 0x7f == 0 && !shadowed;
            (value.to_string().into_bytes(), valid.then_some(c.sub))
        }
        Payload::Raw(bytes) => (bytes.to_vec(), None),
    };
    let input = format!("{}.{}", b64(&header_json), b64(&payload_json));
    let (mac, right) = match signature {
        Signature::Right => (hmac_sha256(SECRET, input.as_bytes()), true),
        Signature::OtherKey => (hmac_sha256(OTHER_SECRET, input.as_bytes()), false),
        Signature::Raw(bytes) => (bytes.to_vec(), false),
    };
    let token = format!("{input}.{}", b64(&mac));
    let expected = if header_exact && right {
        valid_claims
    } else {
        None
    };
    (token, expected)
}
