//! Compact JWS signing with keys parsed once.
//!
//! Signing is on the hot path, so the header is encoded once per key and the key material
//! is kept in ring's ready-to-use form: an HMAC key, or an RSA key pair whose
//! CRT parameters are already checked. Verification is elsewhere (jsonwebtoken, with a
//! fixed algorithm per key).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Hs256,
    Rs256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Rs256 => "RS256",
        }
    }
}

enum Key {
    Hmac(ring::hmac::Key),
    Rsa(RsaKeyPair),
}

/// The header's `typ` of every token but a logout token: it must be exactly "JWT", as
/// stock Jitsi refuses anything else.
const JWT_TYP: &str = "JWT";

pub struct Signer {
    algorithm: Algorithm,
    kid: Option<String>,
    header_b64: String,
    key: Key,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

impl Signer {
    pub fn hs256(secret: &[u8], kid: Option<String>) -> Self {
        let key = Key::Hmac(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret));
        Self::with_key(Algorithm::Hs256, kid, key, JWT_TYP)
    }

    /// An RS256 signer from a PKCS#8 DER private key.
    pub fn rs256(pkcs8_der: &[u8], kid: String) -> anyhow::Result<Self> {
        Self::rs256_typed(pkcs8_der, kid, JWT_TYP)
    }

    /// An RS256 signer whose header's `typ` is `typ` (a logout token's is `logout+jwt`,
    /// so that it is never taken for an ID token).
    pub fn rs256_typed(pkcs8_der: &[u8], kid: String, typ: &'static str) -> anyhow::Result<Self> {
        let pair = RsaKeyPair::from_pkcs8(pkcs8_der)
            .map_err(|e| anyhow::anyhow!("unusable RSA key: {e}"))?;
        Ok(Self::with_key(
            Algorithm::Rs256,
            Some(kid),
            Key::Rsa(pair),
            typ,
        ))
    }

    fn with_key(algorithm: Algorithm, kid: Option<String>, key: Key, typ: &'static str) -> Self {
        let header = Header {
            alg: algorithm.as_str(),
            typ,
            kid: kid.as_deref(),
        };
        let header_b64 =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header serialises"));
        Self {
            algorithm,
            kid,
            header_b64,
            key,
            rng: SystemRandom::new(),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The encoded header every token of this signer starts with.
    pub fn header_b64(&self) -> &str {
        &self.header_b64
    }

    /// Checks an HMAC signature in constant time (HS256 signers only).
    pub fn verify_hmac(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        match &self.key {
            Key::Hmac(key) => ring::hmac::verify(key, signing_input, signature).is_ok(),
            Key::Rsa(_) => false,
        }
    }

    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        let input = self.signing_input(claims);
        let signature = self.signature(&input);
        Self::assemble(input, &signature)
    }

    /// `base64url(header).base64url(claims)`, with room left for the signature.
    pub fn signing_input<T: Serialize>(&self, claims: &T) -> String {
        let payload = serde_json::to_vec(claims).expect("claims serialise");
        let mut input = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 360);
        input.push_str(&self.header_b64);
        input.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut input);
        input
    }

    /// The raw signature over `input`.
    pub fn signature(&self, input: &str) -> Vec<u8> {
        match &self.key {
            Key::Hmac(key) => ring::hmac::sign(key, input.as_bytes()).as_ref().to_vec(),
            Key::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &self.rng,
                    input.as_bytes(),
                    &mut signature,
                )
                .expect("RSA signing with a validated key does not fail");
                signature
            }
        }
    }

    /// The compact token from its signing input and raw signature.
    pub fn assemble(mut input: String, signature: &[u8]) -> String {
        input.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut input);
        input
    }
}

pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_matches_rfc7515_structure() {
        let signer = Signer::hs256(b"0123456789abcdef0123456789abcdef", None);
        let token = signer.sign(&serde_json::json!({"sub": "x"}));
        let parts: Vec<_> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, serde_json::json!({"alg": "HS256", "typ": "JWT"}));
        let key =
            ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"0123456789abcdef0123456789abcdef");
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        ring::hmac::verify(
            &key,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &signature,
        )
        .unwrap();
    }
}
