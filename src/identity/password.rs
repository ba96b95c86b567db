//! Password hashing with argon2id (RustCrypto defaults: 19 MiB, 2 passes), run off the
//! async workers because a hash takes tens of milliseconds by design.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Hash compared against when the login names no user, so a miss costs what a hit costs
/// and response times do not reveal which handles exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0H9Hq0S3jYBI9O4HGk2DW1Jb8PmslP4S6X5VrPp6nq8";

pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await?
}

/// Verifies `password` against `stored`, or against a dummy hash when there is none.
pub async fn verify(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let has_user = stored.is_some();
        let text = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed =
            PasswordHash::new(&text).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(has_user && matches)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let stored = hash("correct horse battery".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), Some(stored.clone()))
            .await
            .unwrap());
        assert!(!verify("wrong horse battery".into(), Some(stored))
            .await
            .unwrap());
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }
}
