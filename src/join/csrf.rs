//! CSRF protection for the page's forms.
//!
//! The cookies are `SameSite=Lax`, so a cross-site POST already arrives without them;
//! the per-form token is the second lock, for browsers or proxies that do not honour it.
//! Each browser holds a random nonce in an HttpOnly cookie, and every form carries
//! `HMAC(key, nonce, user)`: the user's id once signed in, empty before. A token lifted
//! from one browser fails with another's nonce, and a signed-in form's token fails for
//! another account. The key is derived from the session secret, so every instance
//! accepts every other's forms.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use ring::hmac;

const DERIVATION_LABEL: &[u8] = b"roomkey join page csrf v1";
const NONCE_BYTES: usize = 32;

pub struct CsrfKey(hmac::Key);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(..)")
    }
}

impl CsrfKey {
    /// The key, derived from the session secret (never the secret itself).
    pub fn derive(session_secret: &[u8]) -> Self {
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, session_secret),
            DERIVATION_LABEL,
        );
        Self(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
    }

    /// A fresh nonce for the browser's cookie.
    pub fn new_nonce() -> String {
        let mut bytes = [0_u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Whether a cookie value has the shape of a nonce this module made.
    pub fn is_nonce(value: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(value)
            .is_ok_and(|bytes| bytes.len() == NONCE_BYTES)
    }

    /// The token forms carry for `nonce`, bound to `user` (empty before sign-in).
    pub fn token(&self, nonce: &str, user: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, &Self::message(nonce, user)).as_ref())
    }

    /// Checks a presented token in constant time.
    pub fn verify(&self, nonce: &str, user: &str, presented: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(presented) else {
            return false;
        };
        Self::is_nonce(nonce) && hmac::verify(&self.0, &Self::message(nonce, user), &tag).is_ok()
    }

    fn message(nonce: &str, user: &str) -> Vec<u8> {
        // Neither part contains a newline: nonces are base64url, user ids are UUIDs.
        [nonce.as_bytes(), b"\n", user.as_bytes()].concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_bound_to_its_nonce_user_and_key() {
        let key = CsrfKey::derive(b"0123456789abcdef0123456789abcdef");
        let nonce = CsrfKey::new_nonce();
        assert!(CsrfKey::is_nonce(&nonce));
        let token = key.token(&nonce, "");
        assert!(key.verify(&nonce, "", &token));
        assert!(!key.verify(&CsrfKey::new_nonce(), "", &token));
        assert!(!key.verify(&nonce, "user-1", &token));
        let signed_in = key.token(&nonce, "user-1");
        assert!(key.verify(&nonce, "user-1", &signed_in));
        assert!(!key.verify(&nonce, "user-2", &signed_in));
        let other = CsrfKey::derive(b"another secret, also 32 characters");
        assert!(!other.verify(&nonce, "", &token));
        assert!(!key.verify(&nonce, "", ""));
        assert!(!key.verify(&nonce, "", "not base64!"));
        assert!(!key.verify("short", "", &key.token("short", "")));
    }
}
