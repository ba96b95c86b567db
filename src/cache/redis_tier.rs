//! The shared tier: cached values in Redis, guarded by per-key generations.
//!
//! A reader that misses notes the key's generation, loads from SQL, and writes back only
//! if the generation is unchanged (one Lua script). A writer bumps the generation, deletes
//! the value and publishes the invalidation in one script after its SQL commit. So a slow
//! reader holding pre-commit data can never plant it in Redis after the writer cleared it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::Script;

use super::Invalidation;
use crate::telemetry::metrics::{CacheName, Metrics, RedisOp};

#[derive(Clone)]
pub struct RedisTier {
    conn: ConnectionManager,
    prefix: Arc<str>,
    ttl_secs: u64,
    set_script: Arc<Script>,
    invalidate_script: Arc<Script>,
    metrics: Arc<Metrics>,
}

const SET_IF_GENERATION: &str = r"
local current = redis.call('GET', KEYS[2]) or ''
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0";

const INVALIDATE_AND_PUBLISH: &str = r"
if KEYS[1] then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  redis.call('DEL', KEYS[1])
end
return redis.call('PUBLISH', ARGV[1], ARGV[2])";

impl RedisTier {
    pub async fn connect(
        url: &str,
        prefix: &str,
        ttl_secs: u64,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_millis(500))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            conn,
            prefix: prefix.into(),
            ttl_secs: ttl_secs.max(1),
            set_script: Arc::new(Script::new(SET_IF_GENERATION)),
            invalidate_script: Arc::new(Script::new(INVALIDATE_AND_PUBLISH)),
            metrics,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn value_key(&self, cache: CacheName, key: &str) -> String {
        format!("{}c:{}:{key}", self.prefix, cache.as_str())
    }

    fn generation_key(&self, cache: CacheName, key: &str) -> String {
        format!("{}g:{}:{key}", self.prefix, cache.as_str())
    }

    /// The cached bytes (if any) and the key's current generation.
    pub async fn get(&self, cache: CacheName, key: &str) -> Result<(Option<Vec<u8>>, String), ()> {
        let started = Instant::now();
        let mut conn = self.conn.clone();
        let result: redis::RedisResult<(Option<Vec<u8>>, Option<String>)> = redis::cmd("MGET")
            .arg(self.value_key(cache, key))
            .arg(self.generation_key(cache, key))
            .query_async(&mut conn)
            .await;
        self.metrics.redis_op(RedisOp::CacheGet, started.elapsed());
        match result {
            Ok((value, generation)) => Ok((value, generation.unwrap_or_default())),
            Err(error) => {
                self.metrics.redis_error();
                tracing::warn!(%error, "redis cache read failed; reading SQL");
                Err(())
            }
        }
    }

    pub async fn set_if_generation(
        &self,
        cache: CacheName,
        key: &str,
        generation: &str,
        bytes: &[u8],
    ) {
        let started = Instant::now();
        let mut conn = self.conn.clone();
        let result: redis::RedisResult<i64> = self
            .set_script
            .key(self.value_key(cache, key))
            .key(self.generation_key(cache, key))
            .arg(generation)
            .arg(bytes)
            .arg(self.ttl_secs)
            .invoke_async(&mut conn)
            .await;
        self.metrics.redis_op(RedisOp::CacheSet, started.elapsed());
        if let Err(error) = result {
            self.metrics.redis_error();
            tracing::warn!(%error, "redis cache write failed");
        }
    }

    /// Clears the shared copy and publishes `message` on `channel`; returns how many
    /// subscribers received it.
    pub async fn invalidate_and_publish(
        &self,
        invalidation: &Invalidation,
        channel: &str,
        message: &str,
    ) -> redis::RedisResult<i64> {
        let started = Instant::now();
        let mut conn = self.conn.clone();
        let mut invocation = self.invalidate_script.prepare_invoke();
        if let Some((cache, key)) = super::AccessCaches::shared_key(invalidation) {
            invocation
                .key(self.value_key(cache, key))
                .key(self.generation_key(cache, key));
        }
        let result = invocation
            .arg(channel)
            .arg(message)
            .arg(self.ttl_secs * 2 + 60)
            .invoke_async(&mut conn)
            .await;
        self.metrics
            .redis_op(RedisOp::Invalidate, started.elapsed());
        if result.is_err() {
            self.metrics.redis_error();
        }
        result
    }
}
