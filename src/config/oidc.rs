//! `[oidc]`: roomkey as the platform's OpenID Provider, and the relying parties (Synapse,
//! Mastodon, …) registered with it. Clients live in configuration, not in the database:
//! the platform has a handful of them, each wired by an operator, and a client that can be
//! added without a deploy is one more thing an attacker can add.

use serde::{Deserialize, Serialize};

use super::{bad, check_url, ConfigError};

/// The scopes roomkey understands: `openid` (the ID token), `profile` (handle, name,
/// picture, role) and `email`.
pub const SUPPORTED_SCOPES: &[&str] = &["openid", "profile", "email"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// The issuer (`iss`) relying parties discover and check; the provider's endpoints live
    /// under it. Empty means `http.public_url`. default: empty; env `ROOMKEY_OIDC__ISSUER`.
    pub issuer: String,
    /// How long an authorization code may wait for its exchange. default: `60`.
    pub code_ttl_secs: i64,
    /// Lifetime of an access token (for `userinfo`) and of an ID token. default: `600`.
    pub access_token_ttl_secs: i64,
    /// Lifetime of a refresh token; each use rotates it. default: `2592000` (30 days).
    pub refresh_token_ttl_secs: i64,
    /// The registered relying parties (`[[oidc.clients]]`). default: none, and then the
    /// provider's endpoints answer that no client is registered.
    pub clients: Vec<OidcClientConfig>,
    /// Requests per minute one client address may make to each group of the provider's
    /// endpoints (the token and revocation endpoints, `userinfo`, the browser-facing
    /// authorization and logout pages). A confidential client's secret is checked with
    /// argon2 unless it is the one last proved, so an unlimited token endpoint would let
    /// one address spend the CPU on guesses. default: `600`;
    /// env `ROOMKEY_OIDC__REQUESTS_PER_MINUTE`.
    pub requests_per_minute: u32,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            code_ttl_secs: 60,
            access_token_ttl_secs: 600,
            refresh_token_ttl_secs: 2_592_000,
            clients: Vec::new(),
            requests_per_minute: 600,
        }
    }
}

/// One relying party.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcClientConfig {
    /// The `client_id`: 1-64 of `A-Z a-z 0-9 . _ -`.
    pub id: String,
    /// Shown on the consent page. default: the id.
    #[serde(default)]
    pub name: String,
    /// A confidential client's secret as an argon2 PHC string (`roomkey oidc hash-secret`
    /// prints one); the secret itself is never stored. Absent: a public client, which must
    /// use PKCE.
    #[serde(default)]
    pub secret_hash: Option<String>,
    /// Where codes and errors may be sent, compared exactly (no prefix, no wildcard).
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser afterwards, compared exactly.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes this client may ask for; `openid` is required. default: all supported.
    #[serde(default = "all_scopes")]
    pub scopes: Vec<String>,
    /// Where a back-channel `logout_token` is posted when the user's sessions end.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// The platform's own clients skip the consent page. default: `false`.
    #[serde(default)]
    pub first_party: bool,
}

fn all_scopes() -> Vec<String> {
    SUPPORTED_SCOPES.iter().map(|s| (*s).to_owned()).collect()
}

impl OidcConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.issuer.is_empty() {
            check_url("oidc.issuer", &self.issuer)?;
        }
        for (setting, secs, least) in [
            ("oidc.code_ttl_secs", self.code_ttl_secs, 5),
            ("oidc.access_token_ttl_secs", self.access_token_ttl_secs, 30),
            (
                "oidc.refresh_token_ttl_secs",
                self.refresh_token_ttl_secs,
                60,
            ),
        ] {
            if secs < least {
                return Err(bad(setting, format!("must be at least {least} seconds")));
            }
        }
        if self.requests_per_minute == 0 {
            return Err(bad(
                "oidc.requests_per_minute",
                "must be at least 1 per minute",
            ));
        }
        if self.code_ttl_secs > 600 {
            return Err(bad(
                "oidc.code_ttl_secs",
                "must be at most 600 seconds (RFC 6749 §4.1.2 recommends 10 minutes at most)",
            ));
        }
        for (i, client) in self.clients.iter().enumerate() {
            if self.clients[..i].iter().any(|c| c.id == client.id) {
                return Err(bad("oidc.clients", format!("client {:?} twice", client.id)));
            }
            client.validate()?;
        }
        Ok(())
    }
}

impl OidcConfig {
    /// The issuer in force: `oidc.issuer`, or `http.public_url` when that is empty.
    pub fn issuer_or(&self, public_url: &str) -> String {
        if self.issuer.is_empty() {
            public_url.to_owned()
        } else {
            self.issuer.clone()
        }
    }
}

impl OidcClientConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let valid_id = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid_id {
            return Err(bad("oidc.clients.id", "must be 1-64 of A-Z a-z 0-9 . _ -"));
        }
        let setting = |key: &str| format!("oidc.clients.{}.{key}", self.id);
        if let Some(hash) = &self.secret_hash {
            if argon2::PasswordHash::new(hash).is_err() || !hash.starts_with("$argon2") {
                return Err(bad(
                    &setting("secret_hash"),
                    "must be an argon2 PHC string (`roomkey oidc hash-secret` prints one)",
                ));
            }
        }
        if self.redirect_uris.is_empty() {
            return Err(bad(&setting("redirect_uris"), "needs at least one URI"));
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            check_redirect_uri(&setting("redirect_uris"), uri)?;
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            check_redirect_uri(&setting("backchannel_logout_uri"), uri)?;
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err(bad(&setting("scopes"), "must include openid"));
        }
        if let Some(unknown) = self
            .scopes
            .iter()
            .find(|s| !SUPPORTED_SCOPES.contains(&s.as_str()))
        {
            return Err(bad(
                &setting("scopes"),
                format!("{unknown:?} is not one of {SUPPORTED_SCOPES:?}"),
            ));
        }
        Ok(())
    }

    /// What the consent page calls this client.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.id
        } else {
            &self.name
        }
    }
}

/// An absolute http(s) URI without a fragment (RFC 6749 §3.1.2) or whitespace.
fn check_redirect_uri(setting: &str, uri: &str) -> Result<(), ConfigError> {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
        .ok_or_else(|| {
            bad(
                setting,
                format!("{uri:?} must start with http:// or https://"),
            )
        })?;
    if rest.is_empty() || rest.starts_with('/') || uri.contains('#') {
        return Err(bad(
            setting,
            format!("{uri:?} must name a host and have no fragment"),
        ));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(setting, format!("{uri:?} contains whitespace")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> OidcClientConfig {
        OidcClientConfig {
            id: "synapse".into(),
            name: String::new(),
            secret_hash: None,
            redirect_uris: vec!["https://matrix.example.com/_synapse/client/oidc/callback".into()],
            post_logout_redirect_uris: vec![],
            scopes: all_scopes(),
            backchannel_logout_uri: None,
            first_party: true,
        }
    }

    fn check(client: OidcClientConfig) -> Result<(), String> {
        let config = OidcConfig {
            clients: vec![client],
            ..OidcConfig::default()
        };
        config.validate().map_err(|e| e.setting)
    }

    #[test]
    fn a_client_is_checked_at_start_up() {
        check(client()).unwrap();
        let mut bad_id = client();
        bad_id.id = "a b".into();
        assert_eq!(check(bad_id).unwrap_err(), "oidc.clients.id");
        let mut fragment = client();
        fragment.redirect_uris = vec!["https://app.example.com/cb#x".into()];
        assert_eq!(
            check(fragment).unwrap_err(),
            "oidc.clients.synapse.redirect_uris"
        );
        let mut relative = client();
        relative.redirect_uris = vec!["/callback".into()];
        assert!(check(relative).is_err());
        let mut plain_secret = client();
        plain_secret.secret_hash = Some("hunter2".into());
        assert_eq!(
            check(plain_secret).unwrap_err(),
            "oidc.clients.synapse.secret_hash"
        );
        let mut no_openid = client();
        no_openid.scopes = vec!["email".into()];
        assert!(check(no_openid).is_err());
        let mut unknown_scope = client();
        unknown_scope.scopes.push("admin".into());
        assert!(check(unknown_scope).is_err());
        let twice = OidcConfig {
            clients: vec![client(), client()],
            ..OidcConfig::default()
        };
        assert_eq!(twice.validate().unwrap_err().setting, "oidc.clients");
    }
}
