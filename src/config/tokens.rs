//! `[jitsi]`, `[keys]` and `[session]`: what goes into a Jitsi token and how it is signed,
//! where signing keys live and rotate, and the platform's own session tokens.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{bad, check_url, ConfigError, Secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningMode {
    /// Shared secret with Prosody (`app_secret`).
    Hs256,
    /// Private key here, public keys served for Prosody's `asap_key_server`.
    Rs256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenReuse {
    /// Reuse for RS256 (signing costs hundreds of microseconds), not for HS256.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JitsiConfig {
    /// `iss` of every Jitsi token; Prosody's `app_id`. default: `roomkey`.
    pub app_id: String,
    /// `aud`, a single string; list it in Prosody's `asap_accepted_audiences`. default: `jitsi`.
    pub audience: String,
    /// `sub`: the XMPP domain (`meet.jitsi` in docker-jitsi-meet) or the tenant.
    /// default: `meet.example.com`.
    pub subject: String,
    /// Jitsi Meet base URL for `join_url`. default: `https://meet.example.com`.
    pub meet_url: String,
    /// `hs256` or `rs256`. default: `hs256`.
    pub signing: SigningMode,
    /// HS256 shared secret (Prosody `app_secret`); generated into `keys.dir` when empty.
    pub app_secret: Secret,
    pub app_secret_file: Option<PathBuf>,
    /// Longest token lifetime; `exp` is also clipped to the entitlement's end. default: `600`.
    pub token_ttl_secs: i64,
    /// `nbf` is set this far in the past: Prosody allows no clock skew. default: `30`.
    pub nbf_skew_secs: i64,
    /// With live enforcement (`prosody.shards`), a token for a scheduled room may live
    /// until the show's end, at most this long, so a viewer who reconnects mid-show gets
    /// back in with the token they hold. `0` keeps every token at `token_ttl_secs`.
    pub show_token_max_secs: i64,
    /// Hand back a still-fresh signed token for the same user, room and grant instead of
    /// signing again. default: `auto` (RS256 only).
    pub reuse_signed_tokens: TokenReuse,
}

impl Default for JitsiConfig {
    fn default() -> Self {
        Self {
            app_id: "roomkey".into(),
            audience: "jitsi".into(),
            subject: "meet.example.com".into(),
            meet_url: "https://meet.example.com".into(),
            signing: SigningMode::Hs256,
            app_secret: Secret::default(),
            app_secret_file: None,
            token_ttl_secs: 600,
            nbf_skew_secs: 30,
            show_token_max_secs: 0,
            reuse_signed_tokens: TokenReuse::Auto,
        }
    }
}

impl JitsiConfig {
    pub(super) fn validate_meet_url(&self) -> Result<(), ConfigError> {
        check_url("jitsi.meet_url", &self.meet_url)
    }

    /// Everything but `meet_url`; a show-long token needs `prosody_shards` to be safe.
    pub(super) fn validate(&self, prosody_shards: &[String]) -> Result<(), ConfigError> {
        for (setting, value) in [
            ("jitsi.app_id", &self.app_id),
            ("jitsi.audience", &self.audience),
            ("jitsi.subject", &self.subject),
        ] {
            if value.trim().is_empty() || value == "*" {
                return Err(bad(setting, "must be a non-empty value other than `*`"));
            }
        }
        if !(30..=86_400).contains(&self.token_ttl_secs) {
            return Err(bad("jitsi.token_ttl_secs", "must be between 30 and 86400"));
        }
        if !(0..=300).contains(&self.nbf_skew_secs) {
            return Err(bad("jitsi.nbf_skew_secs", "must be between 0 and 300"));
        }
        if !(0..=86_400).contains(&self.show_token_max_secs) {
            return Err(bad(
                "jitsi.show_token_max_secs",
                "must be between 0 and 86400",
            ));
        }
        if self.show_token_max_secs > 0 && prosody_shards.is_empty() {
            return Err(bad(
                "jitsi.show_token_max_secs",
                "needs prosody.shards: a token that outlives token_ttl_secs is only safe where roomkey can remove people from running rooms",
            ));
        }
        if self.signing == SigningMode::Hs256
            && !self.app_secret.is_empty()
            && self.app_secret.expose().len() < 32
        {
            return Err(bad("jitsi.app_secret", "must be at least 32 characters"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// Where generated keys live (RS256 key pairs, generated secrets). default: `roomkey-data/keys`.
    pub dir: PathBuf,
    /// A rotated RS256 key is published this long before it signs, so every instance
    /// serves it before Prosody can meet it. default: `60`.
    pub publish_before_use_secs: i64,
    /// How often instances re-read the key directory. default: `30`.
    pub reload_secs: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            dir: "roomkey-data/keys".into(),
            publish_before_use_secs: 60,
            reload_secs: 30,
        }
    }
}

impl KeysConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(0..=3600).contains(&self.publish_before_use_secs) {
            return Err(bad(
                "keys.publish_before_use_secs",
                "must be between 0 and 3600",
            ));
        }
        if self.reload_secs == 0 {
            return Err(bad("keys.reload_secs", "must be at least 1"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// HMAC key for platform session tokens; generated into `keys.dir` when empty.
    pub secret: Secret,
    pub secret_file: Option<PathBuf>,
    /// Session lifetime. default: `86400`.
    pub ttl_secs: i64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            secret: Secret::default(),
            secret_file: None,
            ttl_secs: 86_400,
        }
    }
}

impl SessionConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.secret.is_empty() && self.secret.expose().len() < 32 {
            return Err(bad("session.secret", "must be at least 32 characters"));
        }
        if !(60..=30 * 86_400).contains(&self.ttl_secs) {
            return Err(bad("session.ttl_secs", "must be between 60 and 2592000"));
        }
        Ok(())
    }
}
