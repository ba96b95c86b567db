//! The registered relying parties, and how one proves it is itself at the token and
//! revocation endpoints (`client_secret_basic` or `client_secret_post`; a public client
//! names itself and proves possession of the code with PKCE instead).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use argon2::Argon2;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::config::OidcClientConfig;

/// A hash a wrong client id is checked against, so an unknown id costs what a known one
/// does and timing does not tell which ids exist. (The secret behind it is unknown.)
const DUMMY_SECRET_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0H9Hq0S3jYBI9O4HGk2DW1Jb8PmslP4S6X5VrPp6nq8";

/// A registered client, as configured.
pub type Client = OidcClientConfig;

#[derive(Debug, Default)]
pub struct Clients {
    by_id: BTreeMap<String, Arc<Client>>,
    /// SHA-256 of the secret each client last proved with argon2. A relying party presents
    /// the same secret on every exchange; checking it against argon2 each time would cap
    /// the token endpoint at a few dozen exchanges per second per core. A secret that
    /// matches this digest (compared in constant time) is the one argon2 accepted; any
    /// other still pays for argon2, which keeps guessing slow. Secrets are long random
    /// strings, so a plain digest in memory reveals nothing usable.
    proven: Mutex<BTreeMap<String, [u8; 32]>>,
}

impl Clients {
    pub fn new(configured: &[OidcClientConfig]) -> Self {
        Self {
            by_id: configured
                .iter()
                .map(|client| (client.id.clone(), Arc::new(client.clone())))
                .collect(),
            proven: Mutex::default(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Client>> {
        self.by_id.get(id)
    }

    /// The clients that take back-channel logout tokens.
    pub fn listening_for_logout(&self) -> Vec<&str> {
        self.by_id
            .values()
            .filter(|client| client.backchannel_logout_uri.is_some())
            .map(|client| client.id.as_str())
            .collect()
    }

    /// Whether `secret` is the one `id` last proved.
    fn is_proven(&self, id: &str, secret: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let proven = self.proven.lock().unwrap_or_else(|p| p.into_inner());
        proven
            .get(id)
            .is_some_and(|known| bool::from(known.ct_eq(&digest)))
    }

    fn remember_proven(&self, id: &str, secret: &str) {
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let mut proven = self.proven.lock().unwrap_or_else(|p| p.into_inner());
        proven.insert(id.to_owned(), digest);
    }
}

/// What a client presented to authenticate: `Authorization: Basic` or form fields.
#[derive(Debug, Default)]
pub struct Presented {
    pub client_id: Option<String>,
    pub secret: Option<String>,
    /// Both a Basic header and form credentials (RFC 6749 §2.3: one method only).
    pub ambiguous: bool,
}

impl Presented {
    /// From the `Authorization` header value (if any) and the form.
    pub fn read(authorization: Option<&str>, form: &BTreeMap<String, String>) -> Self {
        let basic = authorization
            .and_then(|value| value.strip_prefix("Basic "))
            .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
            .and_then(|decoded| String::from_utf8(decoded).ok())
            .and_then(|pair| {
                let (id, secret) = pair.split_once(':')?;
                // RFC 6749 §2.3.1: both halves are form-urlencoded before encoding.
                Some((form_decode(id)?, form_decode(secret)?))
            });
        let form_secret = form.get("client_secret").cloned();
        match basic {
            Some((id, secret)) => Self {
                ambiguous: form_secret.is_some()
                    || form.get("client_id").is_some_and(|form_id| *form_id != id),
                client_id: Some(id),
                secret: Some(secret),
            },
            None => Self {
                client_id: form.get("client_id").cloned(),
                secret: form_secret,
                ambiguous: authorization.is_some_and(|v| v.starts_with("Basic ")),
            },
        }
    }
}

fn form_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

impl Clients {
    /// The client that `presented` proves to be, or `None` (`invalid_client`).
    ///
    /// A confidential client must present its secret, checked with argon2 (whose final
    /// comparison is constant-time) unless it is the secret argon2 last accepted for that
    /// client; a public client must present none. An unknown id is checked against a dummy
    /// hash so it takes as long as a wrong secret for a known one.
    pub async fn authenticate(&self, presented: Presented) -> anyhow::Result<Option<Arc<Client>>> {
        if presented.ambiguous {
            return Ok(None);
        }
        let Some(id) = presented.client_id else {
            return Ok(None);
        };
        let client = self.get(&id).cloned();
        let stored = client.as_ref().and_then(|c| c.secret_hash.clone());
        match (&client, stored, presented.secret) {
            (Some(_), None, None) => Ok(client),
            (Some(_), Some(_), Some(secret)) if self.is_proven(&id, &secret) => Ok(client),
            (_, stored, Some(secret)) => {
                let known = stored.is_some();
                let hash = stored.unwrap_or_else(|| DUMMY_SECRET_HASH.to_owned());
                let checked = secret.clone();
                let matches = tokio::task::spawn_blocking(move || {
                    PasswordHash::new(&hash).is_ok_and(|parsed| {
                        Argon2::default()
                            .verify_password(checked.as_bytes(), &parsed)
                            .is_ok()
                    })
                })
                .await?;
                if known && matches {
                    self.remember_proven(&id, &secret);
                }
                Ok(client.filter(|_| known && matches))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::rand_core::OsRng;
    use argon2::password_hash::{PasswordHasher as _, SaltString};

    use super::*;

    const SECRET: &str = "a-client-secret-0123456789abcdef-xyz";

    fn clients() -> Clients {
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(SECRET.as_bytes(), &salt)
            .unwrap()
            .to_string();
        let client = |id: &str, secret_hash: Option<String>| OidcClientConfig {
            id: id.into(),
            name: String::new(),
            secret_hash,
            redirect_uris: vec!["https://rp.example.com/cb".into()],
            post_logout_redirect_uris: vec![],
            scopes: vec!["openid".into()],
            backchannel_logout_uri: None,
            first_party: false,
        };
        Clients::new(&[client("confidential", Some(hash)), client("public", None)])
    }

    fn presented(id: &str, secret: Option<&str>) -> Presented {
        Presented {
            client_id: Some(id.into()),
            secret: secret.map(str::to_owned),
            ambiguous: false,
        }
    }

    async fn accepts(clients: &Clients, id: &str, secret: Option<&str>) -> bool {
        let presented = presented(id, secret);
        clients.authenticate(presented).await.unwrap().is_some()
    }

    #[tokio::test]
    async fn a_secret_proves_its_client_and_nothing_else_does() {
        let clients = clients();
        assert!(!accepts(&clients, "confidential", Some("wrong")).await);
        assert!(!accepts(&clients, "confidential", None).await);
        assert!(accepts(&clients, "confidential", Some(SECRET)).await);
        // Proven once, it is recognised without argon2; a wrong one still is not.
        assert!(clients.is_proven("confidential", SECRET));
        assert!(accepts(&clients, "confidential", Some(SECRET)).await);
        assert!(!accepts(&clients, "confidential", Some("wrong")).await);
        assert!(
            !accepts(&clients, "public", Some(SECRET)).await,
            "public: no secret"
        );
        assert!(accepts(&clients, "public", None).await);
        assert!(!accepts(&clients, "nobody", Some(SECRET)).await);
        assert!(!accepts(&clients, "nobody", None).await);
    }

    #[test]
    fn basic_credentials_are_form_decoded_and_one_method_only() {
        let form = BTreeMap::new();
        let header = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret"));
        let read = Presented::read(Some(&header), &form);
        assert_eq!(read.client_id.as_deref(), Some("my client"));
        assert_eq!(read.secret.as_deref(), Some("s:cret"));
        let mut both = BTreeMap::new();
        both.insert("client_secret".to_owned(), "x".to_owned());
        assert!(Presented::read(Some(&header), &both).ambiguous);
    }
}
