//! Platform session tokens: `identity::session::SessionTokens::verify`.
//!
//! The input is a structured case: either a header (the exact one roomkey writes, another
//! `alg` or `typ`, or raw bytes), claims from fuzzed parts or raw bytes, and a signature
//! with the right key, another key, or raw bytes, then maybe one edit to the finished
//! token; or a session issued by `SessionTokens::issue` for a fuzzed user id, generation
//! and time.
//! Invariants: a token that verifies has exactly roomkey's header (so no other `alg`),
//! an HMAC under the session key (checked with another implementation), issuer,
//! audience and type as issued, `now` before `exp` and not before `iat` minus the minute
//! of drift, and the returned session is its claims: `sub`, `jti`, `gen` (0 when absent)
//! and `exp`; a token built valid verifies to the session it was built with; one signed
//! with another key never does. An issued session verifies, from a minute before its issue
//! time until it expires, to its user id and generation with a fresh `jti`, and not after
//! it expires, before that minute, or under another key.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use roomkey::domain::VerifiedSession;
use roomkey::identity::session::{SessionTokens, SESSION_AUDIENCE, SESSION_ISSUER};
use roomkey::tokens::verify::VerifyError;
use serde_json::{json, Value};

use crate::jwt::{b64, json_of, object, segments, unb64, Alg, Stamp, Text};
use crate::support::{hmac_sha256, Edit, Time};
use crate::NOW;

const SECRET: &[u8] = b"session-secret-for-the-fuzz-target-0123";
const OTHER_SECRET: &[u8] = b"some-other-session-secret-0123456789ab";
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
const TTL: i64 = 3600;

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
    /// The session generation: absent (read as 0), or a time-like value (only an integer
    /// is one).
    generation: Option<Stamp<'a>>,
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
#[allow(
    clippy::large_enum_variant,
    reason = "one case per input, never stored"
)]
enum Case<'a> {
    Built {
        header: Header<'a>,
        payload: Payload<'a>,
        signature: Signature<'a>,
        edit: Option<Edit<'a>>,
    },
    Issued {
        user: &'a str,
        generation: i64,
        at: Time,
    },
}

fn sessions() -> &'static SessionTokens {
    static SESSIONS: OnceLock<SessionTokens> = OnceLock::new();
    SESSIONS.get_or_init(|| SessionTokens::new(SECRET, TTL))
}

fn other_sessions() -> &'static SessionTokens {
    static SESSIONS: OnceLock<SessionTokens> = OnceLock::new();
    SESSIONS.get_or_init(|| SessionTokens::new(OTHER_SECRET, TTL))
}

pub fn prepare() {
    sessions();
    other_sessions();
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
        Case::Issued {
            user,
            generation,
            at,
        } => {
            check_issued(user, *generation, *at);
            return;
        }
    };
    check(&token, expected.as_ref());
}

/// A session roomkey issues verifies to itself while it lasts, and only then.
fn check_issued(user: &str, generation: i64, at: Time) {
    let at = at.at();
    // Sessions are issued at the clock's time; `issue` adds the lifetime without a check.
    if at.checked_add(TTL).is_none() || at.checked_sub(61).is_none() {
        return;
    }
    let (token, exp) = sessions().issue(user, generation, at);
    assert_eq!(exp, at + TTL);
    let verified = sessions()
        .verify(&token, at)
        .expect("a session verifies when it is issued");
    assert_eq!(
        (
            verified.user_id.as_str(),
            verified.generation,
            verified.expires_at
        ),
        (user, generation, exp),
        "{token}"
    );
    assert_eq!(verified.jti.len(), 36, "{verified:?}");
    for now in [at - 60, exp - 1] {
        assert_eq!(sessions().verify(&token, now).as_ref(), Ok(&verified));
    }
    assert_eq!(sessions().verify(&token, exp), Err(VerifyError::Expired));
    assert_eq!(
        sessions().verify(&token, at - 61),
        Err(VerifyError::NotYetValid)
    );
    assert_eq!(
        other_sessions().verify(&token, at),
        Err(VerifyError::BadSignature)
    );
    let (again, _) = sessions().issue(user, generation, at);
    let again = sessions()
        .verify(&again, at)
        .expect("issued again, it verifies");
    assert_ne!(again.jti, verified.jti, "every session has its own id");
    // At the targets' instant it verifies exactly when that lies in its window.
    let in_window = at - 60 <= NOW && NOW < exp;
    check(&token, in_window.then_some(&verified));
    if !in_window {
        assert!(sessions().verify(&token, NOW).is_err(), "{token}");
    }
}

fn check_raw(token: &str) {
    check(token, None);
}

/// Verifies `token`; `expected` is the session it names when it was built valid.
fn check(token: &str, expected: Option<&VerifiedSession>) {
    let result = sessions().verify(token, NOW);
    if let Some(session) = expected {
        assert_eq!(result.as_ref(), Ok(session), "{token}");
    }
    let Ok(session) = result else {
        return;
    };
    assert_eq!(
        other_sessions().verify(token, NOW),
        Err(VerifyError::BadSignature),
        "{token}"
    );
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
    assert_eq!(claims["sub"], session.user_id.as_str());
    assert_eq!(claims["jti"], session.jti.as_str());
    let generation = match claims.get("gen") {
        None => 0,
        Some(value) => value.as_i64().expect("an integer gen"),
    };
    assert_eq!(session.generation, generation, "{claims}");
    let exp = claims["exp"].as_i64().expect("an integer exp");
    let iat = claims["iat"].as_i64().expect("an integer iat");
    assert_eq!(session.expires_at, exp);
    assert!(NOW < exp, "{claims}");
    assert!(i128::from(NOW) >= i128::from(iat) - 60, "{claims}");
}

/// The token, and the session it must verify to when it is built valid.
fn build(
    header: &Header<'_>,
    payload: &Payload<'_>,
    signature: &Signature<'_>,
) -> (String, Option<VerifiedSession>) {
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
            let mut members = vec![
                ("iss", c.iss.value(SESSION_ISSUER)),
                ("aud", c.aud.value(SESSION_AUDIENCE)),
                ("sub", Value::from(c.sub)),
                ("iat", c.iat.value()),
                ("exp", c.exp.value()),
                ("jti", Value::from(c.jti)),
                ("typ", c.typ.value("session")),
            ];
            if let Some(generation) = &c.generation {
                members.push(("gen", generation.value()));
            }
            let value = object(members, u32::from(c.omit), &extra);
            let in_time = match (c.iat.at(), c.exp.at()) {
                (Some(iat), Some(exp)) => NOW < exp && i128::from(NOW) >= i128::from(iat) - 60,
                _ => false,
            };
            let expected = [&c.iss, &c.aud, &c.typ]
                .iter()
                .all(|t| matches!(t, Text::Expected));
            let shadowed = c.extra.is_some_and(|(name, _)| {
                ["iss", "aud", "sub", "iat", "exp", "jti", "typ", "gen"].contains(&name)
            });
            // Bit 7 of `omit` leaves `gen` out, which reads as generation 0.
            let generation = match &c.generation {
                _ if c.omit & 0x80 != 0 => Some(0),
                None => Some(0),
                Some(stamp) => stamp.at(),
            };
            let valid = in_time && expected && c.omit & 0x7f == 0 && !shadowed;
            let session = match (valid, generation, c.exp.at(), c.iat.at()) {
                (true, Some(generation), Some(exp), Some(iat)) => Some(VerifiedSession {
                    user_id: c.sub.to_owned(),
                    jti: c.jti.to_owned(),
                    generation,
                    expires_at: exp,
                    issued_at: iat,
                }),
                _ => None,
            };
            (value.to_string().into_bytes(), session)
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
