//! Platform session tokens: HS256 JWTs with their own key, issuer and audience.
//!
//! They are deliberately unlike Jitsi tokens — another key, `aud = "roomkey-session"`, a
//! `typ` of "session" in the claims — so neither is ever accepted where the other is
//! expected. They carry only the user id, the session's id (`jti`) and the user's session
//! generation when it was issued (`gen`): role and bans are read from the store (through
//! the caches) on every request, never trusted from a token, and so is whether the session
//! has been ended (see [`super::IdentityService::authenticate`]).

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::clock::UnixSeconds;
use crate::domain::VerifiedSession;
use crate::tokens::jwt::Signer;
use crate::tokens::verify::{TimeBounded, VerifyError};

pub const SESSION_AUDIENCE: &str = "roomkey-session";
pub const SESSION_ISSUER: &str = "roomkey";

/// The claims of a session token. Strings borrow from the decoded payload where they can,
/// since every authenticated request parses one.
#[derive(Debug, Serialize, Deserialize)]
pub struct SessionClaims<'a> {
    #[serde(borrow)]
    pub iss: Cow<'a, str>,
    #[serde(borrow)]
    pub aud: Cow<'a, str>,
    #[serde(borrow)]
    pub sub: Cow<'a, str>,
    pub iat: UnixSeconds,
    pub exp: UnixSeconds,
    #[serde(borrow)]
    pub jti: Cow<'a, str>,
    #[serde(borrow)]
    pub typ: Cow<'a, str>,
    /// The user's session generation at issue; a session from an older one has ended.
    /// Absent (0) in sessions issued before generations existed.
    #[serde(default)]
    pub r#gen: i64,
}

impl TimeBounded for SessionClaims<'_> {
    fn expires_at(&self) -> UnixSeconds {
        self.exp
    }
    fn not_before(&self) -> Option<UnixSeconds> {
        // Tolerate a minute of drift between instances for the issue time.
        Some(self.iat.saturating_sub(60))
    }
}

pub struct SessionTokens {
    signer: Signer,
    ttl_secs: i64,
}

impl SessionTokens {
    pub fn new(secret: &[u8], ttl_secs: i64) -> Self {
        Self {
            signer: Signer::hs256(secret, None),
            ttl_secs,
        }
    }

    /// A session for `user_id` under the user's current session `generation`; returns the
    /// token and when it expires.
    pub fn issue(&self, user_id: &str, generation: i64, now: UnixSeconds) -> (String, UnixSeconds) {
        let exp = now + self.ttl_secs;
        let claims = SessionClaims {
            iss: SESSION_ISSUER.into(),
            aud: SESSION_AUDIENCE.into(),
            sub: user_id.into(),
            iat: now,
            exp,
            jti: crate::ids::random_uuid().to_string().into(),
            typ: "session".into(),
            r#gen: generation,
        };
        (self.signer.sign(&claims), exp)
    }

    /// The session a valid token names. Whether it has been ended is not known here.
    ///
    /// Sessions are verified on every request, so this is a direct check rather than a
    /// general JWT library call: the header must be byte-for-byte the one roomkey writes
    /// (`{"alg":"HS256","typ":"JWT"}`, so `alg: none` or any other algorithm cannot pass),
    /// the HMAC is checked in constant time before the claims are parsed, and issuer,
    /// audience, type and expiry are then required.
    pub fn verify(&self, token: &str, now: UnixSeconds) -> Result<VerifiedSession, VerifyError> {
        let (signing_input, signature) = token.rsplit_once('.').ok_or(VerifyError::Malformed)?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or(VerifyError::Malformed)?;
        if header != self.signer.header_b64() {
            return Err(VerifyError::Malformed);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| VerifyError::Malformed)?;
        if !self
            .signer
            .verify_hmac(signing_input.as_bytes(), &signature)
        {
            return Err(VerifyError::BadSignature);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| VerifyError::Malformed)?;
        let claims: SessionClaims<'_> =
            serde_json::from_slice(&payload).map_err(|_| VerifyError::Malformed)?;
        if claims.iss != SESSION_ISSUER || claims.aud != SESSION_AUDIENCE || claims.typ != "session"
        {
            return Err(VerifyError::WrongIssuerOrAudience);
        }
        if now >= claims.expires_at() {
            return Err(VerifyError::Expired);
        }
        if claims.not_before().is_some_and(|nbf| now < nbf) {
            return Err(VerifyError::NotYetValid);
        }
        Ok(VerifiedSession {
            user_id: claims.sub.into_owned(),
            jti: claims.jti.into_owned(),
            generation: claims.r#gen,
            expires_at: claims.exp,
            issued_at: claims.iat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixSeconds = 1_800_000_000;

    #[test]
    fn a_session_verifies_until_it_expires() {
        let sessions = SessionTokens::new(&[7; 32], 3600);
        let (token, exp) = sessions.issue("user-1", 3, NOW);
        assert_eq!(exp, NOW + 3600);
        let verified = sessions.verify(&token, NOW + 10).unwrap();
        assert_eq!(
            (
                verified.user_id.as_str(),
                verified.generation,
                verified.expires_at
            ),
            ("user-1", 3, exp)
        );
        assert_eq!(
            sessions.verify(&token, NOW + 3600),
            Err(VerifyError::Expired)
        );
    }

    #[test]
    fn another_key_or_a_tampered_token_is_refused() {
        let sessions = SessionTokens::new(&[7; 32], 3600);
        let other = SessionTokens::new(&[8; 32], 3600);
        let (token, _) = other.issue("user-1", 0, NOW);
        assert_eq!(sessions.verify(&token, NOW), Err(VerifyError::BadSignature));
        let (token, _) = sessions.issue("user-1", 0, NOW);
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 5, 'x');
        assert!(sessions.verify(&tampered, NOW).is_err());
    }

    #[test]
    fn a_signed_iat_at_the_end_of_i64_does_not_overflow() {
        let sessions = SessionTokens::new(&[7; 32], 3600);
        let claims = SessionClaims {
            iss: SESSION_ISSUER.into(),
            aud: SESSION_AUDIENCE.into(),
            sub: "user-1".into(),
            iat: i64::MIN,
            exp: NOW + 60,
            jti: "x".into(),
            typ: "session".into(),
            r#gen: 0,
        };
        let token = Signer::hs256(&[7; 32], None).sign(&claims);
        assert_eq!(sessions.verify(&token, NOW).unwrap().user_id, "user-1");
    }

    #[test]
    fn alg_none_is_refused() {
        let sessions = SessionTokens::new(&[7; 32], 3600);
        let header = crate::tokens::jwt::base64url(br#"{"alg":"none","typ":"JWT"}"#);
        let body = crate::tokens::jwt::base64url(
            format!(r#"{{"iss":"roomkey","aud":"roomkey-session","sub":"admin","iat":{NOW},"exp":{},"jti":"x","typ":"session"}}"#, NOW + 60)
                .as_bytes(),
        );
        assert_eq!(
            sessions.verify(&format!("{header}.{body}."), NOW),
            Err(VerifyError::Malformed)
        );
    }
}
