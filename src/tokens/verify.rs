//! Strict JWT verification: one fixed algorithm per key, issuer and audience required,
//! expiry checked against the injected clock with no leeway.
//!
//! `alg: none` cannot pass (it is not an algorithm jsonwebtoken parses), and because the
//! accepted algorithm comes from our configuration and never from the token's header, an
//! HS256 token "signed" with an RSA public key is refused in RS256 mode and vice versa.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;

use crate::clock::UnixSeconds;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token uses an algorithm not accepted here")]
    WrongAlgorithm,
    #[error("the token's key is unknown")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token was not issued for this use")]
    WrongIssuerOrAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
}

/// Claims that carry a validity window.
pub trait TimeBounded {
    fn expires_at(&self) -> UnixSeconds;
    fn not_before(&self) -> Option<UnixSeconds>;
}

pub struct Rules<'a> {
    pub algorithm: Algorithm,
    pub issuer: &'a str,
    pub audience: &'a str,
    /// Header `typ` must equal this when set (Jitsi requires exactly "JWT").
    pub required_typ: Option<&'a str>,
    pub now: UnixSeconds,
}

/// The token's `kid` header, if any, after checking the header parses.
pub fn header_kid(token: &str) -> Result<Option<String>, VerifyError> {
    jsonwebtoken::decode_header(token)
        .map(|h| h.kid)
        .map_err(|_| VerifyError::Malformed)
}

pub fn verify<T: DeserializeOwned + TimeBounded>(
    token: &str,
    key: &DecodingKey,
    rules: &Rules<'_>,
) -> Result<T, VerifyError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
    if header.alg != rules.algorithm {
        return Err(VerifyError::WrongAlgorithm);
    }
    if let Some(typ) = rules.required_typ {
        if header.typ.as_deref() != Some(typ) {
            return Err(VerifyError::Malformed);
        }
    }
    let mut validation = Validation::new(rules.algorithm);
    validation.set_issuer(&[rules.issuer]);
    validation.set_audience(&[rules.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<T>(token, key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidSignature => VerifyError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                VerifyError::WrongAlgorithm
            }
            ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                VerifyError::WrongIssuerOrAudience
            }
            _ => VerifyError::Malformed,
        }
    })?;
    let claims = data.claims;
    if rules.now >= claims.expires_at() {
        return Err(VerifyError::Expired);
    }
    if claims.not_before().is_some_and(|nbf| rules.now < nbf) {
        return Err(VerifyError::NotYetValid);
    }
    Ok(claims)
}
