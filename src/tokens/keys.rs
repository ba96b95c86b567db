//! Signing keys: where they live, how they rotate, and how Prosody finds the public halves.
//!
//! RS256 keys are files under `<keys.dir>/rs256/`: one PKCS#8 PEM per kid (mode 0600) and a
//! `keyring.json` manifest of kids with their activation times. `roomkey keys rotate`
//! adds a key that activates `publish_before_use_secs` later, so every instance (they
//! re-read the folder every `reload_secs`) serves its public half before any token names
//! it. A key stops signing when the next one activates and its public half stays served
//! until every token it signed has expired (one token TTL), then it is pruned.
//!
//! Public halves are served the way Prosody's `asap_key_server` asks for them:
//! `<base>/<lowercase hex sha256(kid)>.pem`, a SubjectPublicKeyInfo PEM; and as a JWKS.
//!
//! HS256 uses one shared secret (Prosody's `app_secret`), from config or generated once
//! into `<keys.dir>/hs256.secret`. Session tokens have their own secret, never a Jitsi key.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::jwt::{base64url, Signer};
use crate::clock::{Clock, UnixSeconds};
use crate::config::{Secret, SigningMode};

const RSA_BITS: usize = 2048;
/// Extra time a retired public key stays served beyond the token TTL, for clock drift.
const RETIRE_MARGIN_SECS: i64 = 300;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestEntry {
    kid: String,
    created_at: UnixSeconds,
    activates_at: UnixSeconds,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    keys: Vec<ManifestEntry>,
}

/// A public key as Prosody and JWKS consumers see it.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedKey {
    pub kid: String,
    /// `sha256hex(kid).pem`, the file name Prosody's key-server client requests.
    pub file_name: String,
    pub pem: String,
    pub jwk: serde_json::Value,
    pub activates_at: UnixSeconds,
    /// When a newer key took over signing, if one has.
    pub retired_at: Option<UnixSeconds>,
}

/// What is in force right now.
#[derive(Debug)]
pub struct KeySet {
    pub signer: Arc<Signer>,
    pub published: Vec<PublishedKey>,
}

pub struct Keyring {
    mode: SigningMode,
    dir: PathBuf,
    token_ttl_secs: i64,
    hs_secret: Option<Vec<u8>>,
    clock: Arc<dyn Clock>,
    current: RwLock<Arc<KeySet>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("mode", &self.mode)
            .field("dir", &self.dir)
            .finish()
    }
}

/// `lowercase hex(sha256(kid)) + ".pem"`.
pub fn key_file_name(kid: &str) -> String {
    format!("{}.pem", hex::encode(Sha256::digest(kid.as_bytes())))
}

impl Keyring {
    /// Opens the key folder, generating what is missing (first run, development).
    pub fn open(
        mode: SigningMode,
        dir: &Path,
        app_secret: &Secret,
        token_ttl_secs: i64,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create key folder {}", dir.display()))?;
        let hs_secret = match mode {
            SigningMode::Hs256 if !app_secret.is_empty() => {
                Some(app_secret.expose().as_bytes().to_vec())
            }
            SigningMode::Hs256 => {
                Some(load_or_create_secret(&dir.join("hs256.secret"))?.into_bytes())
            }
            SigningMode::Rs256 => None,
        };
        if mode == SigningMode::Rs256 {
            let manifest = read_manifest(dir)?;
            if manifest.keys.is_empty() {
                let now = clock.now();
                add_rsa_key(dir, now, now)?;
            }
        }
        let placeholder = Arc::new(KeySet {
            signer: Arc::new(Signer::hs256(b"unused", None)),
            published: vec![],
        });
        let keyring = Self {
            mode,
            dir: dir.to_owned(),
            token_ttl_secs,
            hs_secret,
            clock,
            current: RwLock::new(placeholder),
        };
        keyring.reload()?;
        Ok(keyring)
    }

    /// Whether `dir` holds an RS256 keyring (a manifest of keys).
    pub fn exists(dir: &Path) -> bool {
        dir.join("rs256").join("keyring.json").is_file()
    }

    pub fn mode(&self) -> SigningMode {
        self.mode
    }

    /// The HS256 shared secret (empty in RS256 mode).
    pub fn hs_secret(&self) -> &[u8] {
        self.hs_secret.as_deref().unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key set in force (cheap: one read lock and an `Arc` clone).
    pub fn current(&self) -> Arc<KeySet> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the folder: picks up rotations made by `roomkey keys rotate` or another
    /// instance, switches to a pending key once its activation time has come.
    pub fn reload(&self) -> anyhow::Result<()> {
        let set = match self.mode {
            SigningMode::Hs256 => {
                let secret = self.hs_secret.as_deref().unwrap_or_default();
                KeySet {
                    signer: Arc::new(Signer::hs256(secret, None)),
                    published: vec![],
                }
            }
            SigningMode::Rs256 => self.load_rsa_set()?,
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        Ok(())
    }

    fn load_rsa_set(&self) -> anyhow::Result<KeySet> {
        let now = self.clock.now();
        let mut entries = read_manifest(&self.dir)?.keys;
        entries.sort_by_key(|e| (e.activates_at, e.created_at));
        let active_index = entries
            .iter()
            .rposition(|e| e.activates_at <= now)
            .context(
                "no RS256 key is active yet; run `roomkey keys rotate` or wait for activation",
            )?;
        let mut signer = None;
        let mut published = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let retired_at = entries
                .get(i + 1)
                .map(|next| next.activates_at)
                .filter(|at| *at <= now);
            let expired =
                retired_at.is_some_and(|at| at + self.token_ttl_secs + RETIRE_MARGIN_SECS <= now);
            if expired {
                continue;
            }
            let private = rsa::RsaPrivateKey::read_pkcs8_pem_file(
                self.dir.join("rs256").join(format!("{}.pem", entry.kid)),
            )
            .with_context(|| format!("reading RS256 key {}", entry.kid))?;
            if i == active_index {
                let der = private.to_pkcs8_der().context("encoding RS256 key")?;
                signer = Some(Arc::new(Signer::rs256(der.as_bytes(), entry.kid.clone())?));
            }
            published.push(publish(
                &entry.kid,
                &private.to_public_key(),
                entry.activates_at,
                retired_at,
            )?);
        }
        Ok(KeySet {
            signer: signer.context("the active RS256 key was pruned")?,
            published,
        })
    }

    /// Adds a new RS256 key that starts signing after `publish_before_use_secs`, prunes keys
    /// whose tokens have all expired, and returns the new kid.
    pub fn rotate(&self, publish_before_use_secs: i64) -> anyhow::Result<String> {
        anyhow::ensure!(
            self.mode == SigningMode::Rs256,
            "key rotation applies to RS256 signing only"
        );
        let now = self.clock.now();
        let kid = add_rsa_key(&self.dir, now, now + publish_before_use_secs)?;
        self.prune(now)?;
        self.reload()?;
        Ok(kid)
    }

    fn prune(&self, now: UnixSeconds) -> anyhow::Result<()> {
        let mut manifest = read_manifest(&self.dir)?;
        manifest
            .keys
            .sort_by_key(|e| (e.activates_at, e.created_at));
        let retire_times: Vec<Option<UnixSeconds>> = (0..manifest.keys.len())
            .map(|i| {
                manifest
                    .keys
                    .get(i + 1)
                    .map(|n| n.activates_at)
                    .filter(|at| *at <= now)
            })
            .collect();
        let mut kept = Vec::new();
        for (entry, retired_at) in manifest.keys.into_iter().zip(retire_times) {
            if retired_at.is_some_and(|at| at + self.token_ttl_secs + RETIRE_MARGIN_SECS <= now) {
                let _ = fs::remove_file(self.dir.join("rs256").join(format!("{}.pem", entry.kid)));
                tracing::info!(kid = %entry.kid, "pruned a retired signing key");
            } else {
                kept.push(entry);
            }
        }
        write_manifest(&self.dir, &Manifest { keys: kept })
    }
}

fn publish(
    kid: &str,
    public: &rsa::RsaPublicKey,
    activates_at: UnixSeconds,
    retired_at: Option<UnixSeconds>,
) -> anyhow::Result<PublishedKey> {
    let pem = public
        .to_public_key_pem(LineEnding::LF)
        .context("encoding public key")?;
    let jwk = serde_json::json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": base64url(&public.n().to_bytes_be()),
        "e": base64url(&public.e().to_bytes_be()),
    });
    Ok(PublishedKey {
        kid: kid.to_owned(),
        file_name: key_file_name(kid),
        pem,
        jwk,
        activates_at,
        retired_at,
    })
}

fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join("rs256").join("keyring.json");
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a valid key manifest", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let folder = dir.join("rs256");
    let temp = folder.join("keyring.json.tmp");
    fs::write(&temp, serde_json::to_vec_pretty(manifest)?)?;
    fs::rename(&temp, folder.join("keyring.json"))?;
    Ok(())
}

fn add_rsa_key(dir: &Path, now: UnixSeconds, activates_at: UnixSeconds) -> anyhow::Result<String> {
    let folder = dir.join("rs256");
    fs::create_dir_all(&folder)?;
    let kid = format!(
        "roomkey-{now}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
        .context("generating an RSA key")?;
    let pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .context("encoding the RSA key")?;
    write_private(&folder.join(format!("{kid}.pem")), pem.as_bytes())?;
    let mut manifest = read_manifest(dir)?;
    manifest.keys.push(ManifestEntry {
        kid: kid.clone(),
        created_at: now,
        activates_at,
    });
    write_manifest(dir, &manifest)?;
    tracing::info!(%kid, activates_at, "generated an RS256 signing key");
    Ok(kid)
}

fn load_or_create_secret(path: &Path) -> anyhow::Result<String> {
    match fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    let secret = base64url(&bytes);
    write_private(path, secret.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a development secret");
    Ok(secret)
}

/// Loads a generated secret (session key), creating it on first use.
pub fn load_or_create_named_secret(dir: &Path, name: &str) -> anyhow::Result<String> {
    fs::create_dir_all(dir)?;
    load_or_create_secret(&dir.join(name))
}

/// Writes a new private file (mode 0600); refuses to overwrite one.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn key_file_names_follow_prosody() {
        // The two examples in the research notes (docker-jitsi-meet#1900 and sha256sum).
        let custom = key_file_name("jitsi/custom_key_name");
        assert!(
            custom.starts_with("3b5ef953") && custom.ends_with("bae0.pem"),
            "{custom}"
        );
        let natives = key_file_name("with-natives");
        assert!(
            natives.starts_with("9513a2ab911f") && natives.ends_with("41097.pem"),
            "{natives}"
        );
    }

    #[test]
    fn rotation_publishes_before_use_and_retires_after_the_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(1_800_000_000);
        let ring = Keyring::open(
            SigningMode::Rs256,
            dir.path(),
            &Secret::default(),
            600,
            Arc::new(clock.clone()),
        )
        .unwrap();
        let first = ring.current().signer.kid().unwrap().to_owned();
        assert_eq!(ring.current().published.len(), 1);

        let second = ring.rotate(60).unwrap();
        let set = ring.current();
        assert_eq!(
            set.signer.kid(),
            Some(first.as_str()),
            "the new key does not sign before activation"
        );
        assert_eq!(set.published.len(), 2, "but it is published at once");

        clock.advance(60);
        ring.reload().unwrap();
        assert_eq!(ring.current().signer.kid(), Some(second.as_str()));
        assert_eq!(
            ring.current().published.len(),
            2,
            "the old key stays while its tokens live"
        );

        clock.advance(600 + RETIRE_MARGIN_SECS);
        ring.reload().unwrap();
        let kids: Vec<_> = ring
            .current()
            .published
            .iter()
            .map(|k| k.kid.clone())
            .collect();
        assert_eq!(kids, vec![second]);
    }
}
