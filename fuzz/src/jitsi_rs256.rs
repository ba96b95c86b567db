//! Jitsi tokens with RS256 keys: `tokens::jitsi::JitsiTokens::verify`, which finds the
//! public key by `kid`, then `tokens::verify::verify`.
//!
//! An RS256 signature costs about a millisecond, too slow to make per input, so
//! `prepare()` signs a set of tokens once (valid, expired, not yet valid, wrong issuer or
//! audience, odd headers) and a case picks one and edits it: a byte, a segment replaced,
//! another token's signature, another `kid`. Other cases are tokens built from fuzzed
//! parts with a fuzzed signature, and HS256 tokens whose HMAC key is the public key (the
//! `alg` confusion attack). The claims themselves are explored by the HS256 target, which
//! goes through the same `verify`.
//! Invariants: a token that verifies says `alg: RS256` and `typ: JWT`, names the current
//! `kid`, carries a signature that ring's RSA verification accepts under the published
//! key, the configured issuer and audience, and `nbf <= now < exp`; every valid signed
//! token verifies; no HS256 token does.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use roomkey::config::SigningMode;
use roomkey::tokens::jitsi::JitsiTokens;

use crate::jitsi::{check_verified, header, Claims, Context};
use crate::jwt::{b64, unb64, Alg, Stamp, Text};
use crate::support::{hmac_sha256, Edit, Time};
use crate::NOW;

struct State {
    tokens: JitsiTokens,
    kid: String,
    n: Vec<u8>,
    e: Vec<u8>,
    pem: String,
    /// Tokens signed with the real key, and whether each must verify.
    signed: Vec<(String, bool)>,
}

#[derive(Arbitrary, Debug)]
enum Segment<'a> {
    Header,
    Payload,
    Signature,
    Other(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Change<'a> {
    None,
    Edit(Edit<'a>),
    /// One segment replaced by these bytes, base64url-encoded.
    Replace(u8, &'a [u8]),
    /// The signature of another signed token.
    SignatureOf(u8),
    /// The header re-written with another `kid` (the signature no longer matches).
    Kid(&'a str),
    Segments(Vec<Segment<'a>>),
}

#[derive(Arbitrary, Debug)]
enum ConfusedKey {
    Pem,
    Modulus,
    Exponent,
}

#[derive(Arbitrary, Debug)]
enum Case<'a> {
    Signed(u8, Change<'a>),
    Confused {
        key: ConfusedKey,
        alg: Alg<'a>,
        kid: bool,
        claims: Claims<'a>,
    },
    Built {
        alg: Alg<'a>,
        typ: Option<Option<&'a str>>,
        kid: Option<&'a str>,
        current_kid: bool,
        claims: Claims<'a>,
        signature: &'a [u8],
    },
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| {
        let tokens = crate::jitsi::tokens(SigningMode::Rs256);
        let keys = tokens.keyring().current();
        let published = &keys.published[0];
        let kid = published.kid.clone();
        let component = |name: &str| {
            unb64(published.jwk[name].as_str().expect("a JWK member")).expect("base64url")
        };
        let (n, e) = (component("n"), component("e"));
        let pem = published.pem.clone();
        let signer = keys.signer.clone();
        let sign = |header_json: &[u8], claims: &Claims<'_>| {
            let input = format!("{}.{}", b64(header_json), b64(&claims.payload().0));
            let signature = signer.signature(&input);
            format!("{input}.{}", b64(&signature))
        };
        let good = Claims {
            iss: Text::Expected,
            aud: crate::jitsi::Audience::Text(Text::Expected),
            sub: Text::Expected,
            room: "livealex2026",
            iat: Stamp::At(Time::Offset(-30)),
            nbf: Stamp::At(Time::Offset(-60)),
            exp: Stamp::At(Time::Offset(3000)),
            jti: "9d1e7c7e-5a3b-4f8e-9a51-0b6c2f1d7e11",
            context: Context::User {
                id: "0b6c",
                name: "Ada",
                moderator: false,
            },
            omit: 0,
            extra: None,
        };
        let right = header(&Alg::Rs256, Some(None), Some(&kid));
        let mut signed = vec![(
            signer.sign(&serde_json::from_slice::<serde_json::Value>(&good.payload().0).unwrap()),
            true,
        )];
        let variants: Vec<(Vec<u8>, Claims<'_>, bool)> = vec![
            (right.clone(), good.clone(), true),
            (
                right.clone(),
                Claims {
                    exp: Stamp::At(Time::Offset(0)),
                    ..good.clone()
                },
                false,
            ),
            (
                right.clone(),
                Claims {
                    nbf: Stamp::At(Time::Offset(1)),
                    ..good.clone()
                },
                false,
            ),
            (
                right.clone(),
                Claims {
                    iss: Text::Other("chat"),
                    ..good.clone()
                },
                false,
            ),
            (
                right.clone(),
                Claims {
                    aud: crate::jitsi::Audience::List(vec![Text::Expected]),
                    ..good.clone()
                },
                false,
            ),
            (
                right.clone(),
                Claims {
                    omit: 1 << 6,
                    ..good.clone()
                },
                false,
            ),
            (
                right.clone(),
                Claims {
                    exp: Stamp::Float(Time::Offset(3000), 128),
                    ..good.clone()
                },
                false,
            ),
            (
                right,
                Claims {
                    room: "t%c3%a4st",
                    context: Context::User {
                        id: "u",
                        name: "Täst",
                        moderator: true,
                    },
                    ..good.clone()
                },
                true,
            ),
            (header(&Alg::Rs256, None, Some(&kid)), good.clone(), false),
            (
                header(&Alg::Rs256, Some(Some("jwt")), Some(&kid)),
                good.clone(),
                false,
            ),
            (
                header(&Alg::Rs512, Some(None), Some(&kid)),
                good.clone(),
                false,
            ),
            (
                header(&Alg::Ps256, Some(None), Some(&kid)),
                good.clone(),
                false,
            ),
            (header(&Alg::Rs256, Some(None), None), good.clone(), false),
            (
                header(&Alg::Rs256, Some(None), Some("another-kid")),
                good.clone(),
                false,
            ),
        ];
        for (header_json, claims, valid) in variants {
            signed.push((sign(&header_json, &claims), valid));
        }
        State {
            tokens,
            kid,
            n,
            e,
            pem,
            signed,
        }
    })
}

pub fn prepare() {
    state();
}

pub fn run(data: &[u8]) {
    let state = state();
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
        Case::Signed(index, change) => {
            let (token, valid) = &state.signed[usize::from(*index) % state.signed.len()];
            match apply(state, token, change) {
                Some(changed) => (changed, false),
                None => (token.clone(), *valid),
            }
        }
        Case::Confused {
            key,
            alg,
            kid,
            claims,
        } => {
            let secret: &[u8] = match key {
                ConfusedKey::Pem => state.pem.as_bytes(),
                ConfusedKey::Modulus => &state.n,
                ConfusedKey::Exponent => &state.e,
            };
            let kid = kid.then_some(state.kid.as_str());
            let input = format!(
                "{}.{}",
                b64(&header(alg, Some(None), kid)),
                b64(&claims.payload().0)
            );
            let mac = hmac_sha256(secret, input.as_bytes());
            (format!("{input}.{}", b64(&mac)), false)
        }
        Case::Built {
            alg,
            typ,
            kid,
            current_kid,
            claims,
            signature,
        } => {
            let kid = if *current_kid {
                Some(state.kid.as_str())
            } else {
                *kid
            };
            let input = format!(
                "{}.{}",
                b64(&header(alg, *typ, kid)),
                b64(&claims.payload().0)
            );
            (format!("{input}.{}", b64(signature)), false)
        }
    };
    if matches!(case, Case::Confused { .. }) {
        assert!(
            state.tokens.verify(&token, NOW).is_err(),
            "an HMAC keyed with the public key verified: {token}"
        );
    }
    check(state, &token, expect_ok);
}

fn check_raw(token: &str) {
    check(state(), token, false);
}

fn check(state: &State, token: &str, expect_ok: bool) {
    let result = state.tokens.verify(token, NOW);
    if expect_ok {
        assert!(result.is_ok(), "{token} {result:?}");
    }
    if let Ok(claims) = result {
        let header_json = crate::jwt::json_of(token.split('.').next().unwrap_or("")).unwrap();
        assert_eq!(header_json["kid"], state.kid.as_str());
        check_verified(token, &claims, "RS256", |input, signature| {
            let Some(signature) = unb64(signature) else {
                return false;
            };
            RsaPublicKeyComponents {
                n: &state.n,
                e: &state.e,
            }
            .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &signature)
            .is_ok()
        });
    }
}

/// The token after the change; `None` when there is none.
fn apply(state: &State, token: &str, change: &Change<'_>) -> Option<String> {
    let parts: Vec<&str> = token.split('.').collect();
    match change {
        Change::None => None,
        Change::Edit(edit) => edit.apply(token),
        Change::Replace(which, bytes) => {
            let mut parts: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
            let at = usize::from(*which) % parts.len();
            let replaced = b64(bytes);
            (parts[at] != replaced).then(|| {
                parts[at] = replaced;
                parts.join(".")
            })
        }
        Change::SignatureOf(other) => {
            let (other, _) = &state.signed[usize::from(*other) % state.signed.len()];
            let signature = other.rsplit('.').next()?;
            let changed = format!("{}.{}.{signature}", parts[0], parts[1]);
            (changed != token).then_some(changed)
        }
        Change::Kid(kid) => {
            let mut header_json = crate::jwt::json_of(parts[0])?;
            header_json["kid"] = serde_json::Value::from(*kid);
            let changed = format!(
                "{}.{}.{}",
                b64(header_json.to_string().as_bytes()),
                parts[1],
                parts[2]
            );
            (changed != token).then_some(changed)
        }
        Change::Segments(segments) => {
            let changed = segments
                .iter()
                .map(|s| match s {
                    Segment::Header => parts[0],
                    Segment::Payload => parts[1],
                    Segment::Signature => parts[2],
                    Segment::Other(text) => text,
                })
                .collect::<Vec<_>>()
                .join(".");
            (changed != token).then_some(changed)
        }
    }
}
