//! `[matrix]`: the chat rooms that follow entitlements, through Synapse as an application
//! service; off unless `homeserver_url` is set.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{bad, check_url, ConfigError, Secret};

/// Matrix chat rooms that follow entitlements, through Synapse as an application service
/// (`docs/matrix.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatrixConfig {
    /// Client-server API base of the homeserver (`http://` or `https://`), e.g.
    /// `http://127.0.0.1:8008`; empty turns
    /// Matrix off (nothing is queued). default: empty; env `ROOMKEY_MATRIX__HOMESERVER_URL`.
    pub homeserver_url: String,
    /// The homeserver's `server_name`: the part after `:` in user ids and aliases.
    pub server_name: String,
    /// Token roomkey presents to Synapse (the registration's `as_token`), ≥ 32 characters.
    pub as_token: Secret,
    pub as_token_file: Option<PathBuf>,
    /// Token Synapse would present to roomkey (the registration's `hs_token`), ≥ 32 characters.
    pub hs_token: Secret,
    pub hs_token_file: Option<PathBuf>,
    /// The application service's id in the registration file. default: `roomkey`.
    pub appservice_id: String,
    /// Localpart of the bot that creates rooms and invites, kicks and bans. default: `roomkey`.
    pub bot_localpart: String,
    /// Users roomkey provisions are `@<user_prefix><handle>:<server_name>`; the prefix is the
    /// application service's exclusive user namespace. default: `rk_`.
    pub user_prefix: String,
    /// A room's alias is `#<alias_prefix><room name>:<server_name>`; the exclusive alias
    /// namespace. An empty prefix claims every alias on the homeserver. default: empty.
    pub alias_prefix: String,
    /// Per-request timeout towards the homeserver. default: `5000`.
    pub request_timeout_ms: u64,
    /// How often room membership is compared with entitlements and mended. default: `300`.
    pub reconcile_secs: u64,
}

impl Default for MatrixConfig {
    fn default() -> Self {
        Self {
            homeserver_url: String::new(),
            server_name: String::new(),
            as_token: Secret::default(),
            as_token_file: None,
            hs_token: Secret::default(),
            hs_token_file: None,
            appservice_id: "roomkey".into(),
            bot_localpart: "roomkey".into(),
            user_prefix: "rk_".into(),
            alias_prefix: String::new(),
            request_timeout_ms: 5_000,
            reconcile_secs: 300,
        }
    }
}

impl MatrixConfig {
    pub fn is_enabled(&self) -> bool {
        !self.homeserver_url.is_empty()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.is_enabled() {
            return Ok(());
        }
        check_url("matrix.homeserver_url", &self.homeserver_url)?;
        self.homeserver_url
            .parse::<hyper::Uri>()
            .map_err(|e| bad("matrix.homeserver_url", format!("not a URL: {e}")))?;
        let name_ok = !self.server_name.is_empty()
            && self
                .server_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !name_ok {
            return Err(bad(
                "matrix.server_name",
                "is required with matrix.homeserver_url: the homeserver's server_name, e.g. example.com",
            ));
        }
        for (setting, token) in [
            ("matrix.as_token", &self.as_token),
            ("matrix.hs_token", &self.hs_token),
        ] {
            if token.expose().len() < 32 {
                return Err(bad(
                    setting,
                    "is required with matrix.homeserver_url (at least 32 characters)",
                ));
            }
        }
        if self.as_token == self.hs_token {
            return Err(bad("matrix.hs_token", "must differ from matrix.as_token"));
        }
        self.validate_namespaces()?;
        if self.appservice_id.trim().is_empty() {
            return Err(bad("matrix.appservice_id", "must not be empty"));
        }
        if !(100..=60_000).contains(&self.request_timeout_ms) {
            return Err(bad(
                "matrix.request_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        if !(1..=86_400).contains(&self.reconcile_secs) {
            return Err(bad("matrix.reconcile_secs", "must be between 1 and 86400"));
        }
        Ok(())
    }

    /// The bot's localpart and the user and alias namespaces.
    fn validate_namespaces(&self) -> Result<(), ConfigError> {
        if self.bot_localpart.is_empty() || !is_localpart(&self.bot_localpart) {
            return Err(bad(
                "matrix.bot_localpart",
                "must be a non-empty Matrix localpart (a-z, 0-9, . _ = -)",
            ));
        }
        if self.user_prefix.is_empty() || !is_localpart(&self.user_prefix) {
            return Err(bad(
                "matrix.user_prefix",
                "must be a non-empty Matrix localpart prefix (a-z, 0-9, . _ = -)",
            ));
        }
        if self.bot_localpart.starts_with(&self.user_prefix) {
            return Err(bad(
                "matrix.bot_localpart",
                "must not start with matrix.user_prefix",
            ));
        }
        if !is_localpart(&self.alias_prefix) {
            return Err(bad(
                "matrix.alias_prefix",
                "may hold only a-z, 0-9, . _ = -",
            ));
        }
        Ok(())
    }
}

/// Only the characters of a Matrix localpart (the empty string passes).
fn is_localpart(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '=' | '-'))
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, Secret};

    #[test]
    fn matrix_is_off_by_default_and_checked_when_on() {
        let mut config = Config::default();
        assert!(!config.matrix.is_enabled());
        config.matrix.homeserver_url = "http://127.0.0.1:8008".into();
        assert_eq!(config.validate().unwrap_err().setting, "matrix.server_name");
        config.matrix.server_name = "example.com".into();
        assert_eq!(config.validate().unwrap_err().setting, "matrix.as_token");
        config.matrix.as_token = Secret::new("a".repeat(32));
        config.matrix.hs_token = Secret::new("b".repeat(32));
        config.validate().unwrap();
        config.matrix.homeserver_url = "https://matrix.example.com".into();
        config.validate().unwrap();
        config.matrix.homeserver_url = "matrix.example.com".into();
        assert_eq!(
            config.validate().unwrap_err().setting,
            "matrix.homeserver_url"
        );
        config.matrix.homeserver_url = "http://127.0.0.1:8008".into();
        config.matrix.bot_localpart = "rk_bot".into();
        assert_eq!(
            config.validate().unwrap_err().setting,
            "matrix.bot_localpart"
        );
    }
}
