//! What the two Jitsi token targets share: the verifier under test, claims from fuzzed
//! parts, and the checks on whatever verifies.

use std::sync::Arc;

use arbitrary::Arbitrary;
use roomkey::clock::ManualClock;
use roomkey::config::{Secret, SigningMode};
use roomkey::tokens::jitsi::{JitsiTokenSettings, JitsiTokens, VerifiedJitsiClaims};
use roomkey::tokens::keys::Keyring;
use serde_json::{json, Value};

use crate::jwt::{json_of, object, segments, Alg, Stamp, Text};
use crate::NOW;

pub(crate) const APP_ID: &str = "roomkey-fuzz";
pub(crate) const AUDIENCE: &str = "jitsi";
pub(crate) const SUBJECT: &str = "meet.example.com";
pub(crate) const HS_SECRET: &str = "jitsi-app-secret-for-the-fuzz-target-01";

/// The token service as the app builds it, with its keys in a fresh folder that is removed
/// again once they are loaded (the keyring keeps them in memory).
pub(crate) fn tokens(mode: SigningMode) -> JitsiTokens {
    let dir =
        std::env::temp_dir().join(format!("roomkey-fuzz-keys-{mode:?}-{}", std::process::id()));
    let secret = match mode {
        SigningMode::Hs256 => Secret::new(HS_SECRET),
        SigningMode::Rs256 => Secret::default(),
    };
    let keyring = Keyring::open(mode, &dir, &secret, 3600, Arc::new(ManualClock::new(NOW)))
        .expect("a key folder in the temporary directory");
    let _ = std::fs::remove_dir_all(&dir);
    JitsiTokens::new(
        JitsiTokenSettings {
            app_id: APP_ID.into(),
            audience: AUDIENCE.into(),
            subject: SUBJECT.into(),
            ttl_secs: 3600,
            nbf_skew_secs: 30,
            show_token_max_secs: 0,
        },
        Arc::new(keyring),
        None,
    )
}

#[derive(Arbitrary, Debug, Clone)]
pub(crate) enum Audience<'a> {
    Text(Text<'a>),
    List(Vec<Text<'a>>),
}

#[derive(Arbitrary, Debug, Clone)]
pub(crate) enum Context<'a> {
    User {
        id: &'a str,
        name: &'a str,
        moderator: bool,
    },
    Text(&'a str),
    Null,
}

#[derive(Arbitrary, Debug, Clone)]
pub(crate) struct Claims<'a> {
    pub(crate) iss: Text<'a>,
    pub(crate) aud: Audience<'a>,
    pub(crate) sub: Text<'a>,
    pub(crate) room: &'a str,
    pub(crate) iat: Stamp<'a>,
    pub(crate) nbf: Stamp<'a>,
    pub(crate) exp: Stamp<'a>,
    pub(crate) jti: &'a str,
    pub(crate) context: Context<'a>,
    pub(crate) omit: u16,
    pub(crate) extra: Option<(&'a str, &'a str)>,
}

const NAMES: [&str; 9] = [
    "iss", "aud", "sub", "room", "iat", "nbf", "exp", "jti", "context",
];

impl Claims<'_> {
    /// The JSON payload, and whether it is one the verifier must accept.
    pub(crate) fn payload(&self) -> (Vec<u8>, bool) {
        let aud = match &self.aud {
            Audience::Text(text) => text.value(AUDIENCE),
            Audience::List(list) => Value::Array(list.iter().map(|t| t.value(AUDIENCE)).collect()),
        };
        let context = match &self.context {
            Context::User {
                id,
                name,
                moderator,
            } => json!({"user": {"id": id, "name": name,
                "moderator": if *moderator { "true" } else { "false" }}}),
            Context::Text(text) => Value::from(*text),
            Context::Null => Value::Null,
        };
        let mut extra = Vec::new();
        if let Some(member) = self.extra {
            extra.push(member);
        }
        let value = object(
            vec![
                ("iss", self.iss.value(APP_ID)),
                ("aud", aud),
                ("sub", self.sub.value(SUBJECT)),
                ("room", Value::from(self.room)),
                ("iat", self.iat.value()),
                ("nbf", self.nbf.value()),
                ("exp", self.exp.value()),
                ("jti", Value::from(self.jti)),
                ("context", context),
            ],
            u32::from(self.omit),
            &extra,
        );
        let in_time = match (self.iat.at(), self.nbf.at(), self.exp.at()) {
            (Some(_), Some(nbf), Some(exp)) => nbf <= NOW && NOW < exp,
            _ => false,
        };
        let valid = in_time
            && matches!(self.iss, Text::Expected)
            && matches!(self.aud, Audience::Text(Text::Expected))
            && matches!(self.sub, Text::Expected)
            && matches!(self.context, Context::User { .. })
            && u32::from(self.omit) & ((1 << NAMES.len()) - 1) == 0
            && !self.extra.is_some_and(|(name, _)| NAMES.contains(&name));
        (value.to_string().into_bytes(), valid)
    }
}

/// The header JSON: `alg`, `typ` (`Some(None)` writes the expected "JWT"), `kid`.
pub(crate) fn header(alg: &Alg<'_>, typ: Option<Option<&str>>, kid: Option<&str>) -> Vec<u8> {
    let mut value = json!({});
    if let Some(alg) = alg.value() {
        value["alg"] = alg;
    }
    if let Some(typ) = typ {
        value["typ"] = Value::from(typ.unwrap_or("JWT"));
    }
    if let Some(kid) = kid {
        value["kid"] = Value::from(kid);
    }
    value.to_string().into_bytes()
}

/// What must hold of a token that verified; `signature_ok` checks the signature over the
/// signing input with the key the mode uses, outside roomkey's code.
pub(crate) fn check_verified(
    token: &str,
    claims: &VerifiedJitsiClaims,
    alg: &str,
    signature_ok: impl FnOnce(&str, &str) -> bool,
) {
    let (header, payload, signature) = segments(token).expect("a verified token has three parts");
    let header_json = json_of(header).expect("a verified header is JSON");
    assert_eq!(
        header_json["alg"], alg,
        "only the key's algorithm: {header_json}"
    );
    assert_eq!(header_json["typ"], "JWT", "{header_json}");
    assert!(
        signature_ok(&format!("{header}.{payload}"), signature),
        "{token}"
    );
    let payload_json = json_of(payload).expect("verified claims are JSON");
    assert_eq!(payload_json["iss"], APP_ID);
    assert_eq!(payload_json["aud"], AUDIENCE);
    assert!(payload_json["sub"].is_string(), "{payload_json}");
    assert_eq!(claims.iss, APP_ID);
    assert_eq!(claims.aud, AUDIENCE);
    assert_eq!(payload_json["exp"].as_i64(), Some(claims.exp));
    assert_eq!(payload_json["nbf"].as_i64(), Some(claims.nbf));
    assert_eq!(payload_json["room"], claims.room.as_str());
    assert!(NOW < claims.exp && claims.nbf <= NOW, "{payload_json}");
}
