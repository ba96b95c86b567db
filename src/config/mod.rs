//! Configuration: defaults, then an optional TOML file, then environment variables.
//!
//! Environment variables are `ROOMKEY_<SECTION>__<KEY>` (for example
//! `ROOMKEY_JITSI__APP_ID`), plus the conventional `DATABASE_URL` and `REDIS_URL`.
//! Unknown keys are refused rather than ignored, and [`Config::validate`] runs before
//! anything binds a port, so a typo or a bad value stops start-up with the setting's name.
//! Secrets are [`Secret`]s (never printed) and each also accepts a `*_file` twin.
//!
//! This module holds the root, the loading and the checks shared by every section; each
//! section (or small group of sections) has its own file with its settings, their
//! defaults and its `validate`. Like [`crate::domain`], it imports nothing from the
//! modules that use it.

mod auth;
mod calls;
mod http;
mod join;
mod log;
mod mastodon;
mod matrix;
mod oidc;
mod payments;
mod prosody;
mod storage;
mod tokens;

use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use auth::{AuthConfig, RateLimitConfig};
pub use calls::CallsConfig;
pub use http::HttpConfig;
pub use join::JoinConfig;
pub use log::LogConfig;
pub use mastodon::{MastodonBanAction, MastodonConfig};
pub use matrix::MatrixConfig;
pub use oidc::{OidcClientConfig, OidcConfig, SUPPORTED_SCOPES};
pub use payments::{
    EpaycoConfig, FeaturePrice, PaymentsConfig, SignedProviderConfig, WebhookScheme,
};
pub use prosody::ProsodyConfig;
pub use storage::{CacheConfig, DatabaseConfig, RedisConfig};
pub use tokens::{JitsiConfig, KeysConfig, SessionConfig, SigningMode, TokenReuse};

/// A secret string: redacted in `Debug`, never serialised back out.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(<empty>)"
        } else {
            "Secret(<redacted>)"
        })
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("")
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub jitsi: JitsiConfig,
    pub keys: KeysConfig,
    pub session: SessionConfig,
    pub auth: AuthConfig,
    pub cache: CacheConfig,
    pub rate_limit: RateLimitConfig,
    pub payments: PaymentsConfig,
    pub prosody: ProsodyConfig,
    pub matrix: MatrixConfig,
    pub mastodon: MastodonConfig,
    pub join: JoinConfig,
    pub oidc: OidcConfig,
    pub log: LogConfig,
    pub calls: CallsConfig,
}

/// A setting that failed validation, by its dotted name.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting `{setting}`: {problem}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

/// Refuses one secret held by two settings: each guards its own trust boundary (who may
/// sign sessions, Jitsi tokens, Prosody's requests, act as a backend or an admin), and a
/// secret shared between two lets whoever holds one side forge the other — a session token
/// signed with Prosody's `app_secret` would open the admin API. Empty (unset) secrets are
/// skipped; compared in constant time.
pub fn distinct_secrets(secrets: &[(String, &str)]) -> Result<(), ConfigError> {
    use subtle::ConstantTimeEq as _;
    for (i, (setting, secret)) in secrets.iter().enumerate() {
        if secret.is_empty() {
            continue;
        }
        for (other, earlier) in &secrets[..i] {
            if other != setting && bool::from(earlier.as_bytes().ct_eq(secret.as_bytes())) {
                return Err(bad(
                    setting,
                    format!(
                        "is the same secret as {other}; each trust boundary needs its own secret"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn bad(setting: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.into(),
        problem: problem.into(),
    }
}

impl Config {
    /// Loads defaults ← `file` (if given) ← environment, then validates.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                anyhow::bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment
            .merge(Env::prefixed("ROOMKEY_").split("__").ignore(&["config"]))
            .merge(
                Env::raw()
                    .only(&["database_url"])
                    .map(|_| "database.url".into()),
            )
            .merge(Env::raw().only(&["redis_url"]).map(|_| "redis.url".into()));
        let mut config: Config = figment.extract().map_err(|e| anyhow::anyhow!("{e}"))?;
        config.resolve_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        fn read(
            setting: &str,
            path: &Option<PathBuf>,
            into: &mut Secret,
        ) -> Result<(), ConfigError> {
            if let Some(path) = path {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| bad(setting, format!("cannot read {}: {e}", path.display())))?;
                *into = Secret::new(text.trim());
            }
            Ok(())
        }
        read(
            "jitsi.app_secret_file",
            &self.jitsi.app_secret_file,
            &mut self.jitsi.app_secret,
        )?;
        read(
            "session.secret_file",
            &self.session.secret_file,
            &mut self.session.secret,
        )?;
        read(
            "prosody.secret_file",
            &self.prosody.secret_file,
            &mut self.prosody.secret,
        )?;
        let matrix = &mut self.matrix;
        read(
            "matrix.as_token_file",
            &matrix.as_token_file,
            &mut matrix.as_token,
        )?;
        read(
            "matrix.hs_token_file",
            &matrix.hs_token_file,
            &mut matrix.hs_token,
        )?;
        let mastodon = &mut self.mastodon;
        read(
            "mastodon.access_token_file",
            &mastodon.access_token_file,
            &mut mastodon.access_token,
        )?;
        read(
            "mastodon.admin_token_file",
            &mastodon.admin_token_file,
            &mut mastodon.admin_token,
        )?;
        Ok(())
    }

    /// Checks every value a running service depends on; the error names the setting.
    ///
    /// The order of the checks decides which error a config with several mistakes reports
    /// first; `jitsi.meet_url` is checked with the addresses, before the HTTP limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http.validate_addresses()?;
        self.jitsi.validate_meet_url()?;
        self.http.validate_limits()?;
        self.database.validate()?;
        self.redis.validate()?;
        self.jitsi.validate(&self.prosody.shards)?;
        self.session.validate()?;
        self.auth.validate()?;
        self.keys.validate()?;
        self.rate_limit.validate()?;
        self.payments.validate()?;
        self.prosody.validate()?;
        self.matrix.validate()?;
        self.mastodon.validate()?;
        self.oidc.validate()?;
        let linked = &self.mastodon.oidc_client;
        if !linked.is_empty() && !self.oidc.clients.iter().any(|c| c.id == *linked) {
            return Err(bad(
                "mastodon.oidc_client",
                format!("{linked:?} is not an [[oidc.clients]] id"),
            ));
        }
        self.calls.validate()?;
        distinct_secrets(&self.configured_secrets())?;
        self.log.validate()
    }

    /// Every configured secret with the setting that holds it.
    fn configured_secrets(&self) -> Vec<(String, &str)> {
        let mut secrets = vec![
            (
                "jitsi.app_secret".to_owned(),
                self.jitsi.app_secret.expose(),
            ),
            ("session.secret".to_owned(), self.session.secret.expose()),
            ("prosody.secret".to_owned(), self.prosody.secret.expose()),
            ("matrix.as_token".to_owned(), self.matrix.as_token.expose()),
            ("matrix.hs_token".to_owned(), self.matrix.hs_token.expose()),
            (
                "mastodon.access_token".to_owned(),
                self.mastodon.access_token.expose(),
            ),
            (
                "mastodon.admin_token".to_owned(),
                self.mastodon.admin_token.expose(),
            ),
            (
                "payments.epayco.p_key".to_owned(),
                self.payments.epayco.p_key.expose(),
            ),
        ];
        for key in &self.auth.service_keys {
            secrets.push(("auth.service_keys".to_owned(), key.expose()));
        }
        for key in &self.auth.admin_keys {
            secrets.push(("auth.admin_keys".to_owned(), key.expose()));
        }
        for (name, provider) in &self.payments.providers {
            for secret in &provider.secrets {
                secrets.push((
                    format!("payments.providers.{name}.secrets"),
                    secret.expose(),
                ));
            }
        }
        secrets
    }

    /// Whether signed Jitsi tokens are handed out again while still fresh.
    pub fn reuses_signed_tokens(&self) -> bool {
        match self.jitsi.reuse_signed_tokens {
            TokenReuse::Always => true,
            TokenReuse::Never => false,
            TokenReuse::Auto => self.jitsi.signing == SigningMode::Rs256,
        }
    }
}

fn check_url(setting: &str, url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad(setting, "must start with http:// or https://"))?;
    if rest.is_empty() || url.ends_with('/') {
        return Err(bad(setting, "must name a host and have no trailing slash"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    /// With the session secret equal to Jitsi's `app_secret`, whoever configures Prosody
    /// could sign session tokens — an admin's among them.
    #[test]
    fn one_secret_across_two_trust_boundaries_is_refused() {
        let shared = "a-secret-of-at-least-thirty-two-characters";
        type Share = fn(&mut Config, &str);
        let cases: [(&str, Share); 4] = [
            ("session.secret", |c, s| {
                c.jitsi.app_secret = Secret::new(s);
                c.session.secret = Secret::new(s);
            }),
            ("prosody.secret", |c, s| {
                c.session.secret = Secret::new(s);
                c.prosody.secret = Secret::new(s);
            }),
            ("auth.admin_keys", |c, s| {
                c.auth.service_keys = vec![Secret::new(s)];
                c.auth.admin_keys = vec![Secret::new(s)];
            }),
            ("auth.service_keys", |c, s| {
                c.jitsi.app_secret = Secret::new(s);
                c.auth.service_keys = vec![Secret::new(s)];
            }),
        ];
        for (setting, share) in cases {
            let mut config = Config::default();
            share(&mut config, shared);
            let error = config.validate().unwrap_err();
            assert_eq!(error.setting, setting);
            assert!(error.to_string().contains("same secret"), "{error}");
            assert!(
                !error.to_string().contains(shared),
                "the secret itself is never shown"
            );
        }
        let mut config = Config::default();
        config.jitsi.app_secret = Secret::new(shared);
        config.session.secret = Secret::new(format!("{shared}-session"));
        config.auth.admin_keys = vec![Secret::new("admin-key-0123456789abcdef"); 2];
        config.validate().unwrap();
    }

    #[test]
    fn errors_name_the_setting() {
        let mut config = Config::default();
        config.jitsi.token_ttl_secs = 5;
        assert_eq!(
            config.validate().unwrap_err().setting,
            "jitsi.token_ttl_secs"
        );
        let mut config = Config::default();
        config.http.public_url = "http://roomkey.example.com/".into();
        assert_eq!(config.validate().unwrap_err().setting, "http.public_url");
        let mut config = Config::default();
        config.jitsi.subject = "*".into();
        assert_eq!(config.validate().unwrap_err().setting, "jitsi.subject");
        for bad in [
            "http://checkout.example.com/pay",
            "https://secure.payco.co/",
        ] {
            let mut config = Config::default();
            config.payments.epayco.checkout_url = bad.into();
            assert_eq!(
                config.validate().unwrap_err().setting,
                "payments.epayco.checkout_url",
                "{bad}"
            );
        }
        let mut config = Config::default();
        config.payments.epayco.checkout_url = "http://127.0.0.1:9000/checkout".into();
        config.validate().unwrap();
    }

    /// A config with several mistakes reports the one checked first, as it always has.
    #[test]
    fn the_first_mistake_in_check_order_is_reported() {
        let mut config = Config::default();
        config.http.max_body_bytes = 1;
        config.jitsi.meet_url = "meet.example.com".into();
        assert_eq!(config.validate().unwrap_err().setting, "jitsi.meet_url");
        config.jitsi.meet_url = "https://meet.example.com".into();
        assert_eq!(
            config.validate().unwrap_err().setting,
            "http.max_body_bytes"
        );
        let mut config = Config::default();
        config.keys.reload_secs = 0;
        config.auth.admin_keys = vec![Secret::new("short")];
        config.session.ttl_secs = 1;
        assert_eq!(config.validate().unwrap_err().setting, "session.ttl_secs");
        config.session.ttl_secs = 86_400;
        assert_eq!(config.validate().unwrap_err().setting, "auth.admin_keys");
        config.auth.admin_keys.clear();
        assert_eq!(config.validate().unwrap_err().setting, "keys.reload_secs");
        let mut config = Config::default();
        config.log.format = "xml".into();
        config.payments.epayco.customer_id = "900123".into();
        config.payments.reconcile_after_secs = 1;
        assert_eq!(
            config.validate().unwrap_err().setting,
            "payments.reconcile_after_secs"
        );
        config.payments.reconcile_after_secs = 600;
        assert_eq!(
            config.validate().unwrap_err().setting,
            "payments.epayco.p_key"
        );
        config.payments.epayco.customer_id.clear();
        assert_eq!(config.validate().unwrap_err().setting, "log.format");
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2-hunter2-hunter2-hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"\"");
    }

    #[test]
    fn token_reuse_follows_the_signing_mode() {
        let mut config = Config::default();
        assert!(!config.reuses_signed_tokens());
        config.jitsi.signing = SigningMode::Rs256;
        assert!(config.reuses_signed_tokens());
    }
}
