//! `[auth]` and `[rate_limit]`: the keys trusted backends and admins present, and how often
//! a client may try to sign in or ask for a token.

use serde::{Deserialize, Serialize};

use super::{bad, ConfigError, Secret};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Keys a trusted platform backend presents to act on behalf of a user
    /// (`Authorization: Bearer <key>` + `X-Roomkey-User: <user id>`).
    pub service_keys: Vec<Secret>,
    /// Keys with full admin rights.
    pub admin_keys: Vec<Secret>,
}

impl AuthConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (setting, keys) in [
            ("auth.service_keys", &self.service_keys),
            ("auth.admin_keys", &self.admin_keys),
        ] {
            if keys.iter().any(|k| k.expose().len() < 24) {
                return Err(bad(setting, "every key must be at least 24 characters"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Sign-up and login attempts per client address per minute. default: `20`.
    pub auth_per_minute: u32,
    /// Token requests per user per minute. default: `120`.
    pub token_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            auth_per_minute: 20,
            token_per_minute: 120,
        }
    }
}

impl RateLimitConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.auth_per_minute == 0 || self.token_per_minute == 0 {
            return Err(bad("rate_limit", "limits must be at least 1 per minute"));
        }
        Ok(())
    }
}
