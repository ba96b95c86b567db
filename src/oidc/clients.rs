//! The registered relying parties, and how one proves it is itself at the token and
//! revocation endpoints (`client_secret_basic` or `client_secret_post`; a public client
//! names itself and proves possession of the code with PKCE instead).

use std::collections::BTreeMap;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use argon2::Argon2;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::config::OidcClientConfig;

/// A hash a wrong client id is checked against, so an unknown id costs what a known one
/// does and timing does not tell which ids exist. (The secret behind it is unknown.)
const DUMMY_SECRET_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0H9Hq0S3jYBI9O4HGk2DW1Jb8PmslP4S6X5VrPp6nq8";

/// A registered client, as configured.
pub type Client = OidcClientConfig;

#[derive(Debug, Default)]
pub struct Clients(BTreeMap<String, Arc<Client>>);

impl Clients {
    pub fn new(configured: &[OidcClientConfig]) -> Self {
        Self(
            configured
                .iter()
                .map(|client| (client.id.clone(), Arc::new(client.clone())))
                .collect(),
        )
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Client>> {
        self.0.get(id)
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
    /// comparison is constant-time); a public client must present none. An unknown id is
    /// checked against a dummy hash so it takes as long as a known one.
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
            (_, stored, Some(secret)) => {
                let known = stored.is_some();
                let hash = stored.unwrap_or_else(|| DUMMY_SECRET_HASH.to_owned());
                let matches = tokio::task::spawn_blocking(move || {
                    PasswordHash::new(&hash).is_ok_and(|parsed| {
                        Argon2::default()
                            .verify_password(secret.as_bytes(), &parsed)
                            .is_ok()
                    })
                })
                .await?;
                Ok(client.filter(|_| known && matches))
            }
            _ => Ok(None),
        }
    }
}
