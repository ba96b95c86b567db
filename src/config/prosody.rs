//! `[prosody]`: live enforcement in running video rooms through `mod_roomkey` on every
//! Prosody shard.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{bad, check_url, ConfigError, Secret};

/// Live enforcement in Prosody (`prosody-plugins/PROTOCOL.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProsodyConfig {
    /// Signs requests both ways between roomkey and `mod_roomkey`; generated into
    /// `keys.dir` as `prosody.secret` when empty.
    pub secret: Secret,
    pub secret_file: Option<PathBuf>,
    /// Where each Prosody shard serves the module, e.g. `http://prosody-1:5280/roomkey`.
    /// Every instance sends kicks, revalidations and room ends to all of them.
    pub shards: Vec<String>,
    /// Per-attempt timeout for a command to a shard.
    pub command_timeout_ms: u64,
    /// How far a signed request's timestamp may be from this host's clock.
    pub max_clock_skew_secs: i64,
}

impl Default for ProsodyConfig {
    fn default() -> Self {
        Self {
            secret: Secret::default(),
            secret_file: None,
            shards: Vec::new(),
            command_timeout_ms: 2_000,
            max_clock_skew_secs: 60,
        }
    }
}

impl ProsodyConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.secret.is_empty() && self.secret.expose().len() < 32 {
            return Err(bad("prosody.secret", "must be at least 32 characters"));
        }
        for (index, shard) in self.shards.iter().enumerate() {
            let setting = format!("prosody.shards[{index}]");
            if !shard.starts_with("http://") {
                return Err(bad(
                    &setting,
                    "must start with http:// (commands are signed, not encrypted; use a private network)",
                ));
            }
            check_url(&setting, shard)?;
            shard
                .parse::<hyper::Uri>()
                .map_err(|e| bad(&setting, format!("not a URL: {e}")))?;
        }
        if !(100..=30_000).contains(&self.command_timeout_ms) {
            return Err(bad(
                "prosody.command_timeout_ms",
                "must be between 100 and 30000",
            ));
        }
        if !(5..=600).contains(&self.max_clock_skew_secs) {
            return Err(bad(
                "prosody.max_clock_skew_secs",
                "must be between 5 and 600",
            ));
        }
        Ok(())
    }
}
