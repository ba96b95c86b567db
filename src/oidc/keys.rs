//! The ID-token signing keys in `<keys.dir>/oidc/`, and their rotation.
//!
//! Three files, each a PKCS#8 PEM (mode 0600): `id-token.pem` signs; `id-token.next.pem`,
//! when present, is published but signs nothing yet; `id-token.previous.pem`, when present,
//! signed before the last rotation and stays published so that what it signed still
//! verifies. The JWKS lists all three. Every instance re-reads the folder every
//! [`RELOAD_SECS`] (the back-channel logout worker does it), so a rotation reaches them all
//! without a restart.
//!
//! `roomkey oidc rotate-key` rotates in two steps, publish before use, as the Jitsi keyring
//! does: the first run adds the next key; a run at least [`PUBLISH_BEFORE_USE_SECS`] later
//! makes it the signing key and the old one the previous. By then every relying party
//! that cached the JWKS (it is served with `max-age=300`) has fetched one listing the new
//! key, so no ID token ever names a key a relying party cannot find. Only the command
//! renames files, so instances never race one another over them.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::UNIX_EPOCH;

use anyhow::Context as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use super::credentials::{IdTokenClaims, LogoutTokenClaims, LOGOUT_TYP};
use crate::clock::UnixSeconds;
use crate::tokens::jwt::{base64url, Signer};

const RSA_BITS: usize = 2048;
const CURRENT: &str = "id-token.pem";
const NEXT: &str = "id-token.next.pem";
const PREVIOUS: &str = "id-token.previous.pem";

/// How often every instance re-reads the key folder.
pub const RELOAD_SECS: u64 = 10;
/// How long a next key is published before it may sign: the JWKS's `max-age` (300 s), one
/// reload and a margin.
pub const PUBLISH_BEFORE_USE_SECS: i64 = 330;

/// One key: its signers (ID tokens, and logout tokens with their own `typ`), its public
/// half as a JWK, and a verifier.
struct KeyPair {
    kid: String,
    signer: Signer,
    logout_signer: Signer,
    jwk: serde_json::Value,
    decoding: DecodingKey,
}

/// The keys in force, and the files' stamps they were read from.
struct KeySet {
    current: KeyPair,
    /// The next key, then the previous one, when present.
    others: Vec<KeyPair>,
    stamps: Vec<Option<(u64, u64)>>,
}

/// The ID-token keys, shared by the provider and the back-channel logout worker.
pub struct IdTokenKey {
    dir: PathBuf,
    set: RwLock<Arc<KeySet>>,
}

impl std::fmt::Debug for IdTokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenKey")
            .field("kid", &self.kid())
            .finish()
    }
}

impl IdTokenKey {
    /// Opens the folder, generating the signing key (mode 0600) on first start, as the
    /// development secrets are. The kid is derived from the public key, so every instance
    /// sharing the folder names the key alike.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create key folder {}", dir.display()))?;
        let path = dir.join(CURRENT);
        if !path.is_file() {
            match write_new_key(&path) {
                Ok(_) => {
                    tracing::info!(path = %path.display(), "generated the OpenID Provider's ID-token key")
                }
                // Another instance sharing keys.dir wrote it first: every instance signs
                // with that one.
                Err(_) if path.is_file() => {}
                Err(error) => return Err(error),
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            set: RwLock::new(Arc::new(read_set(dir)?)),
        })
    }

    fn set(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Re-reads the folder if a file changed since it was read (a rotation). Returns
    /// whether the keys changed; on an error the keys in force stay.
    pub fn reload(&self) -> anyhow::Result<bool> {
        if stamps(&self.dir) == self.set().stamps {
            return Ok(false);
        }
        let fresh = Arc::new(read_set(&self.dir)?);
        tracing::info!(kid = %fresh.current.kid, published = fresh.others.len() + 1, "re-read the ID-token keys");
        *self.set.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(true)
    }

    /// The signing key's kid.
    pub fn kid(&self) -> String {
        self.set().current.kid.clone()
    }

    /// The JWKS document relying parties verify ID tokens with: the signing key, then the
    /// next and the previous one when there are.
    pub fn jwks(&self) -> serde_json::Value {
        let set = self.set();
        let keys: Vec<&serde_json::Value> = std::iter::once(&set.current)
            .chain(&set.others)
            .map(|key| &key.jwk)
            .collect();
        serde_json::json!({ "keys": keys })
    }

    pub fn sign(&self, claims: &IdTokenClaims) -> String {
        self.set().current.signer.sign(claims)
    }

    /// A logout token (Back-Channel Logout 1.0 §2.4), typed `logout+jwt`.
    pub fn sign_logout(&self, claims: &LogoutTokenClaims) -> String {
        self.set().current.logout_signer.sign(claims)
    }

    /// An ID token roomkey signed for `issuer` under any published key, whatever its
    /// audience and even expired (an `id_token_hint` at logout is often an old one). RS256
    /// only: the algorithm comes from here, never from the token, so `alg: none` and an
    /// HS256 token "signed" with the public key are refused.
    pub fn verify_hint(&self, token: &str, issuer: &str) -> Option<IdTokenClaims> {
        let kid = jsonwebtoken::decode_header(token).ok()?.kid?;
        let set = self.set();
        let key = std::iter::once(&set.current)
            .chain(&set.others)
            .find(|key| key.kid == kid)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.validate_aud = false;
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<IdTokenClaims>(token, &key.decoding, &validation);
        data.ok().map(|data| data.claims)
    }
}

/// What `roomkey oidc rotate-key` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// A next key is published; it signs after the next run, `PUBLISH_BEFORE_USE_SECS` on.
    Staged { kid: String },
    /// The next key is too recent to sign: run again in `wait_secs`.
    TooSoon { kid: String, wait_secs: i64 },
    /// The next key signs now; the one before stays published as the previous key.
    Promoted { kid: String, previous: String },
}

/// One step of a rotation of the keys in `dir` at `now`: stage a next key, or promote the
/// staged one once it has been published `publish_before_use_secs`.
pub fn rotate(
    dir: &Path,
    now: UnixSeconds,
    publish_before_use_secs: i64,
) -> anyhow::Result<Rotation> {
    let next = dir.join(NEXT);
    anyhow::ensure!(
        dir.join(CURRENT).is_file(),
        "no ID-token key in {}: start roomkey with a registered client first",
        dir.display()
    );
    if !next.is_file() {
        let kid = write_new_key(&next)?;
        return Ok(Rotation::Staged { kid });
    }
    let kid = read_key(&next)?.kid;
    let published_at = modified_secs(&next)?;
    let wait_secs = published_at + publish_before_use_secs - now;
    if wait_secs > 0 {
        return Ok(Rotation::TooSoon { kid, wait_secs });
    }
    let previous = read_key(&dir.join(CURRENT))?.kid;
    // Copy, then an atomic rename: an instance reading in between sees the old key twice,
    // never no key.
    let current_pem = fs::read(dir.join(CURRENT)).context("reading the ID-token key")?;
    crate::tokens::keys::write_private(&dir.join(PREVIOUS), &current_pem)?;
    fs::rename(&next, dir.join(CURRENT)).context("promoting the next ID-token key")?;
    Ok(Rotation::Promoted { kid, previous })
}

fn read_set(dir: &Path) -> anyhow::Result<KeySet> {
    let stamps = stamps(dir);
    let current = read_key(&dir.join(CURRENT))?;
    let mut others = Vec::new();
    for name in [NEXT, PREVIOUS] {
        let path = dir.join(name);
        if path.is_file() {
            let key = read_key(&path)?;
            if key.kid != current.kid {
                others.push(key);
            }
        }
    }
    Ok(KeySet {
        current,
        others,
        stamps,
    })
}

/// Each file's modification time (ns) and length, or `None` when it is absent.
fn stamps(dir: &Path) -> Vec<Option<(u64, u64)>> {
    [CURRENT, NEXT, PREVIOUS]
        .iter()
        .map(|name| {
            let meta = fs::metadata(dir.join(name)).ok()?;
            let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
            Some((modified.as_nanos() as u64, meta.len()))
        })
        .collect()
}

fn modified_secs(path: &Path) -> anyhow::Result<UnixSeconds> {
    let modified = fs::metadata(path)?.modified()?.duration_since(UNIX_EPOCH)?;
    Ok(modified.as_secs() as UnixSeconds)
}

/// Generates a key into `path` (mode 0600, never over an existing file); returns its kid.
fn write_new_key(path: &Path) -> anyhow::Result<String> {
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
        .context("generating an ID-token key")?;
    let pem = private.to_pkcs8_pem(LineEnding::LF).context("encoding")?;
    crate::tokens::keys::write_private(path, pem.as_bytes())?;
    Ok(key_pair(&private)?.kid)
}

fn read_key(path: &Path) -> anyhow::Result<KeyPair> {
    let private = rsa::RsaPrivateKey::read_pkcs8_pem_file(path)
        .with_context(|| format!("reading the ID-token key {}", path.display()))?;
    key_pair(&private)
}

fn key_pair(private: &rsa::RsaPrivateKey) -> anyhow::Result<KeyPair> {
    let public = private.to_public_key();
    let spki = public.to_public_key_der().context("encoding public key")?;
    let kid = format!(
        "oidc-{}",
        &hex::encode(Sha256::digest(spki.as_bytes()))[..16]
    );
    let der = private.to_pkcs8_der().context("encoding ID-token key")?;
    let signer = Signer::rs256(der.as_bytes(), kid.clone())?;
    let logout_signer = Signer::rs256_typed(der.as_bytes(), kid.clone(), LOGOUT_TYP)?;
    let (n, e) = (
        base64url(&public.n().to_bytes_be()),
        base64url(&public.e().to_bytes_be()),
    );
    let decoding = DecodingKey::from_rsa_components(&n, &e).context("decoding key")?;
    let jwk = serde_json::json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e,
    });
    Ok(KeyPair {
        kid,
        signer,
        logout_signer,
        jwk,
        decoding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_generated_once_and_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let first = IdTokenKey::load_or_create(dir.path()).unwrap();
        let again = IdTokenKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.jwks(), again.jwks());
        assert!(first.kid().starts_with("oidc-"));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(dir.path().join(CURRENT))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_rotation_publishes_the_next_key_before_it_signs_and_keeps_the_previous() {
        let dir = tempfile::tempdir().unwrap();
        let keys = IdTokenKey::load_or_create(dir.path()).unwrap();
        let first = keys.kid();
        let kids = |keys: &IdTokenKey| -> Vec<String> {
            let jwks = keys.jwks();
            let listed = jwks["keys"].as_array().unwrap().iter();
            listed
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        let now = modified_secs(&dir.path().join(CURRENT)).unwrap();
        let Rotation::Staged { kid: next } = rotate(dir.path(), now, 330).unwrap() else {
            panic!("staged first");
        };
        assert!(keys.reload().unwrap());
        assert_eq!(keys.kid(), first, "the next key does not sign yet");
        assert_eq!(kids(&keys), [first.clone(), next.clone()]);
        assert!(!keys.reload().unwrap(), "nothing changed since");

        let too_soon = rotate(dir.path(), now + 100, 330).unwrap();
        assert!(matches!(too_soon, Rotation::TooSoon { wait_secs, .. } if wait_secs > 200));
        let promoted = rotate(dir.path(), now + 400, 330).unwrap();
        assert_eq!(
            promoted,
            Rotation::Promoted {
                kid: next.clone(),
                previous: first.clone()
            }
        );
        assert!(keys.reload().unwrap());
        assert_eq!(keys.kid(), next);
        assert_eq!(kids(&keys), [next, first]);
    }
}
