//! What the provider hands out: ID tokens (RS256 JWTs under keys of their own, in
//! [`super::keys`]) and opaque codes, access tokens and refresh tokens (random, stored only
//! as hashes).
//!
//! The ID-token key is not the Jitsi keyring's and not the session secret: an ID token
//! does not verify as a Jitsi token or a session, and neither of those verifies as an ID
//! token. Access and refresh tokens are not JWTs at all, so no verifier of signed tokens
//! can be handed one; they are found only by their hash, and only in the table of their
//! kind.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::UnixSeconds;

/// Prefixes that tell an operator reading a log which kind of credential leaked; they are
/// not what keeps the kinds apart (the tables are).
pub const CODE_PREFIX: &str = "rkc_";
pub const ACCESS_PREFIX: &str = "rka_";
pub const REFRESH_PREFIX: &str = "rkr_";

pub use super::keys::IdTokenKey;

/// An ID token's claims (OpenID Connect Core §2, and the profile claims of §5.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    /// The roomkey user id: stable, never reassigned, unlike a handle.
    pub sub: String,
    pub aud: String,
    pub exp: UnixSeconds,
    pub iat: UnixSeconds,
    pub auth_time: UnixSeconds,
    /// The OIDC session, which a back-channel logout token will name.
    pub sid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(flatten)]
    pub profile: serde_json::Map<String, serde_json::Value>,
}

/// A logout token's `typ` (Back-Channel Logout 1.0 §2.4).
pub const LOGOUT_TYP: &str = "logout+jwt";
/// The one event a logout token carries.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A logout token's claims: who (`sub`) signed out of which session (`sid`), and never a
/// `nonce`, so it cannot pass for an ID token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    pub iss: String,
    pub aud: String,
    pub iat: UnixSeconds,
    pub exp: UnixSeconds,
    pub jti: String,
    pub sub: String,
    pub sid: String,
    pub events: serde_json::Value,
}

impl LogoutTokenClaims {
    pub fn new(
        issuer: &str,
        client_id: &str,
        user_id: &str,
        session_id: &str,
        now: UnixSeconds,
    ) -> Self {
        Self {
            iss: issuer.to_owned(),
            aud: client_id.to_owned(),
            iat: now,
            exp: now + LOGOUT_TOKEN_TTL_SECS,
            jti: crate::ids::random_uuid().to_string(),
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            events: serde_json::json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
        }
    }
}

/// How long a logout token is good for: long enough for clock skew, short enough that a
/// captured one is soon useless (each attempt signs a fresh one).
const LOGOUT_TOKEN_TTL_SECS: i64 = 120;

/// A fresh opaque credential with `prefix`: 256 random bits.
pub fn random_credential(prefix: &str) -> String {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// How a credential is stored and looked up: hex SHA-256. Credentials are 256 random
/// bits, so a plain hash is enough (nothing to guess, nothing to salt against).
pub fn credential_hash(credential: &str) -> String {
    hex::encode(Sha256::digest(credential.as_bytes()))
}

/// `at_hash`: the left half of SHA-256 of the access token, base64url (Core §3.1.3.6).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// Whether `verifier` answers the stored S256 `challenge` (RFC 7636 §4.6), compared in
/// constant time. A verifier outside RFC 7636's 43-128 characters never does.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_follows_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            challenge
        ));
        assert!(!pkce_matches("short", challenge));
    }

    #[test]
    fn credentials_are_random_and_stored_by_hash() {
        let one = random_credential(ACCESS_PREFIX);
        assert!(one.starts_with(ACCESS_PREFIX) && one.len() > 40);
        assert_ne!(one, random_credential(ACCESS_PREFIX));
        assert_eq!(credential_hash(&one).len(), 64);
        assert_ne!(credential_hash(&one), one);
    }
}
