//! `[database]`, `[redis]` and `[cache]`: the SQL source of truth, the shared Redis tier
//! and the in-process caches in front of them.

use serde::{Deserialize, Serialize};

use super::{bad, ConfigError};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path` (embedded, the default) or `postgres://…`.
    /// default: `sqlite://roomkey-data/roomkey.db`; env `DATABASE_URL` or `ROOMKEY_DATABASE__URL`.
    pub url: String,
    /// Connection pool size; on PostgreSQL half of it (at least one) is the user-facts
    /// lookup's own pool. default: `16`.
    pub max_connections: u32,
    /// Run migrations when serving starts. default: `true`.
    pub migrate_on_start: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://roomkey-data/roomkey.db".into(),
            max_connections: 16,
            migrate_on_start: true,
        }
    }
}

impl DatabaseConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let db = &self.url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(bad(
                "database.url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if self.max_connections == 0 {
            return Err(bad("database.max_connections", "must be at least 1"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// Shared cache and invalidation bus; empty means single-instance (in-process only).
    /// default: empty; env `REDIS_URL` or `ROOMKEY_REDIS__URL`.
    pub url: String,
    /// Prefix for every key and channel, so several deployments can share a server.
    /// default: `roomkey:`.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            key_prefix: "roomkey:".into(),
        }
    }
}

impl RedisConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let redis = &self.url;
        if !(redis.is_empty() || redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return Err(bad("redis.url", "must start with redis:// or rediss://"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// In-process entries per cache (users, rooms, bans, entitlements); `0` disables the
    /// in-process and Redis tiers, so every check reads SQL. default: `200000`.
    pub max_entries: u64,
    /// Safety-net lifetime of a cached entry; changes invalidate at once. default: `300`.
    pub ttl_secs: u64,
    /// Signed tokens kept for reuse. default: `100000`.
    pub signed_token_entries: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 200_000,
            ttl_secs: 300,
            signed_token_entries: 100_000,
        }
    }
}
