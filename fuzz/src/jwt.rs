//! Compact JWTs built from fuzzed parts, for the three token targets.

use arbitrary::Arbitrary;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::support::Time;

/// A header's `alg`: the usual ones, near misses, and anything.
#[derive(Arbitrary, Debug, Clone)]
pub(crate) enum Alg<'a> {
    Hs256,
    Hs384,
    Hs512,
    Rs256,
    Rs512,
    Ps256,
    Es256,
    EdDsa,
    None,
    NoneUpper,
    Hs256Lower,
    Missing,
    Other(&'a str),
}

impl Alg<'_> {
    pub(crate) fn value(&self) -> Option<Value> {
        Some(Value::from(match self {
            Alg::Hs256 => "HS256",
            Alg::Hs384 => "HS384",
            Alg::Hs512 => "HS512",
            Alg::Rs256 => "RS256",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
            Alg::None => "none",
            Alg::NoneUpper => "NONE",
            Alg::Hs256Lower => "hs256",
            Alg::Missing => return None,
            Alg::Other(other) => other,
        }))
    }
}

/// A string claim: the one the verifier expects, or another.
#[derive(Arbitrary, Debug, Clone)]
pub(crate) enum Text<'a> {
    Expected,
    Other(&'a str),
    Number(i64),
    Null,
}

impl Text<'_> {
    pub(crate) fn value(&self, expected: &str) -> Value {
        match self {
            Text::Expected => Value::from(expected),
            Text::Other(other) => Value::from(*other),
            Text::Number(n) => Value::from(*n),
            Text::Null => Value::Null,
        }
    }
}

/// A time claim as a JSON value: mostly integers, sometimes what a careless issuer writes.
#[derive(Arbitrary, Debug, Clone)]
pub(crate) enum Stamp<'a> {
    At(Time),
    Float(Time, u8),
    Text(Time),
    Raw(&'a str),
    Null,
}

impl Stamp<'_> {
    pub(crate) fn value(&self) -> Value {
        match self {
            Stamp::At(t) => Value::from(t.at()),
            Stamp::Float(t, frac) => json!(t.at() as f64 + f64::from(*frac) / 256.0),
            Stamp::Text(t) => Value::from(t.at().to_string()),
            Stamp::Raw(text) => Value::from(*text),
            Stamp::Null => Value::Null,
        }
    }

    /// The instant, when the claim is a plain integer.
    pub(crate) fn at(&self) -> Option<i64> {
        match self {
            Stamp::At(t) => Some(t.at()),
            _ => None,
        }
    }
}

/// An object from named members, leaving out those whose bit is set in `omit`, then any
/// extra members.
pub(crate) fn object(members: Vec<(&str, Value)>, omit: u32, extra: &[(&str, &str)]) -> Value {
    let mut map = Map::new();
    for (i, (name, value)) in members.into_iter().enumerate() {
        if omit & (1 << i) == 0 {
            map.insert(name.to_owned(), value);
        }
    }
    for (name, value) in extra {
        map.insert((*name).to_owned(), Value::from(*value));
    }
    Value::Object(map)
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// The three segments of a token that has exactly three.
pub(crate) fn segments(token: &str) -> Option<(&str, &str, &str)> {
    let mut parts = token.split('.');
    let header = parts.next()?;
    let payload = parts.next()?;
    let signature = parts.next()?;
    parts
        .next()
        .is_none()
        .then_some((header, payload, signature))
}

/// The decoded JSON of a segment.
pub(crate) fn json_of(segment: &str) -> Option<Value> {
    serde_json::from_slice(&unb64(segment)?).ok()
}
