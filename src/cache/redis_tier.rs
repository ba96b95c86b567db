//! The shared tier: cached values in Redis, guarded by per-key generations.
//!
//! A reader that misses notes the key's generation, loads from SQL, and writes back only
//! if the generation is unchanged (one Lua script). A writer bumps the generation, deletes
//! the value and publishes the invalidation in one script after its SQL commit. So a slow
//! reader holding pre-commit data can never plant it in Redis after the writer cleared it.
//!
//! Values are named after the Redis server's run (`run_id`, new on every start of the
//! server): a Redis that restarts from an old snapshot, or a replica promoted in its place,
//! brings back entries written before changes it never heard of, and those entries carry
//! the old run's name, which no instance reads again. The run is learnt at connection and
//! again on every new bus subscription, before the bus vouches for the tier (see `bus`);
//! a reader writes back under the run it read in, so a load that spans a restart cannot
//! plant its result in the new run either.
//!
//! Every call is bounded: a connection attempt by [`CONNECT_TIMEOUT`], a call in all
//! (waiting for a reconnection under way, then the answer) by [`CALL_TIMEOUT`]. A failed
//! call is an error the caller answers without Redis; nothing waits on Redis for longer.
//!
//! redis-rs's `ConnectionManager` reconnects on its own, but its retries are not ours to
//! rely on: the version we use hands its `factor` (100, meant as milliseconds) to a backoff
//! whose base delay is 1 s, capped at 60 s, with up to 100 % jitter, so its default two
//! retries sleep 1–2 s and then 60–120 s; and every call meanwhile waits on the
//! reconnection, which the response timeout does not cover. That was the ~100 s stall
//! after a Redis restart and the ~118 s start-up failure. So a reconnection here is one
//! attempt, and the next call that finds the connection broken starts another. A
//! connection that stops answering without breaking (a peer gone silent) never makes the
//! manager reconnect, so after [`REPLACE_AFTER`] without an answer it is replaced.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RedisResult, Script};

use super::Invalidation;
use crate::telemetry::metrics::{CacheName, Metrics, RedisOp};

/// How long one attempt to connect to Redis may take, at start-up and on every reconnect.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a command waits for its answer on an open connection.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// The longest one call may take in all.
pub(super) const CALL_TIMEOUT: Duration = Duration::from_secs(1);
/// A connection that has answered nothing for this long, while calls time out on it, is
/// replaced by a new one.
const REPLACE_AFTER: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct RedisTier {
    link: Arc<Link>,
    prefix: Arc<str>,
    ttl_secs: u64,
    /// The Redis server's run id as last learnt (see the module doc).
    run: Arc<RwLock<Arc<str>>>,
    set_script: Arc<Script>,
    invalidate_script: Arc<Script>,
    metrics: Arc<Metrics>,
}

/// Where a reader that missed may write its value back: the key's generation and the
/// server run it was read in.
#[derive(Debug, Clone)]
pub struct SharedSlot {
    generation: String,
    run: Arc<str>,
}

/// The connection every call shares, and what it takes to replace it.
struct Link {
    conn: RwLock<ConnectionManager>,
    client: redis::Client,
    started: Instant,
    /// When a call last had an answer, in milliseconds since `started`.
    answered_at: AtomicU64,
    replacing: AtomicBool,
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

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(RESPONSE_TIMEOUT)
        // One attempt per reconnection (see the module doc).
        .set_number_of_retries(0)
}

/// `host:port` of the server, without any password, for messages.
fn address(client: &redis::Client) -> String {
    client.get_connection_info().addr.to_string()
}

fn timed_out() -> RedisError {
    std::io::Error::from(std::io::ErrorKind::TimedOut).into()
}

impl RedisTier {
    /// Connects, or fails within [`CONNECT_TIMEOUT`] saying why.
    pub async fn connect(
        url: &str,
        prefix: &str,
        ttl_secs: u64,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let address = address(&client);
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT + Duration::from_millis(100),
            ConnectionManager::new_with_config(client.clone(), manager_config()),
        )
        .await
        .map_err(|_| anyhow::anyhow!("{address}: no answer within {CONNECT_TIMEOUT:?}"))?
        .with_context(|| address.clone())?;
        let tier = Self {
            link: Arc::new(Link {
                conn: RwLock::new(conn),
                client,
                started: Instant::now(),
                answered_at: AtomicU64::new(0),
                replacing: AtomicBool::new(false),
            }),
            prefix: prefix.into(),
            ttl_secs: ttl_secs.max(1),
            run: Arc::new(RwLock::new(Arc::from(""))),
            set_script: Arc::new(Script::new(SET_IF_GENERATION)),
            invalidate_script: Arc::new(Script::new(INVALIDATE_AND_PUBLISH)),
            metrics,
        };
        tier.learn_run()
            .await
            .with_context(|| format!("{address}: INFO server"))?;
        Ok(tier)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Asks the server for its run id and names values after it from now on.
    pub async fn learn_run(&self) -> RedisResult<()> {
        let info: String = self
            .call(|mut conn| async move {
                redis::cmd("INFO")
                    .arg("server")
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        let run = run_id(&info).ok_or_else(|| {
            RedisError::from((redis::ErrorKind::ResponseError, "INFO server has no run_id"))
        })?;
        let mut current = self.run.write().unwrap_or_else(|p| p.into_inner());
        if **current != *run {
            if !current.is_empty() {
                tracing::info!(
                    run,
                    "Redis runs anew; shared entries of its earlier run are ignored"
                );
            }
            *current = Arc::from(run);
        }
        Ok(())
    }

    fn current_run(&self) -> Arc<str> {
        self.run.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn value_key(&self, run: &str, cache: CacheName, key: &str) -> String {
        format!("{}c:{run}:{}:{key}", self.prefix, cache.as_str())
    }

    fn generation_key(&self, cache: CacheName, key: &str) -> String {
        format!("{}g:{}:{key}", self.prefix, cache.as_str())
    }

    /// Runs `work` on the shared connection, within [`CALL_TIMEOUT`].
    pub async fn call<T, F, Fut>(&self, work: F) -> RedisResult<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self
            .link
            .conn
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let result = tokio::time::timeout(CALL_TIMEOUT, work(conn))
            .await
            .unwrap_or_else(|_| Err(timed_out()));
        match &result {
            Ok(_) => self.link.answered(),
            Err(error) if error.is_timeout() => self.link.clone().stalled(),
            Err(_) => {}
        }
        result
    }

    /// The cached bytes (if any), and where a value loaded instead may be written back.
    pub async fn get(
        &self,
        cache: CacheName,
        key: &str,
    ) -> Result<(Option<Vec<u8>>, SharedSlot), ()> {
        let started = Instant::now();
        let run = self.current_run();
        let value_key = self.value_key(&run, cache, key);
        let result: RedisResult<(Option<Vec<u8>>, Option<String>)> = self
            .call(|mut conn| async move {
                redis::cmd("MGET")
                    .arg(value_key)
                    .arg(self.generation_key(cache, key))
                    .query_async(&mut conn)
                    .await
            })
            .await;
        self.metrics.redis_op(RedisOp::CacheGet, started.elapsed());
        match result {
            Ok((value, generation)) => Ok((
                value,
                SharedSlot {
                    generation: generation.unwrap_or_default(),
                    run,
                },
            )),
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
        slot: &SharedSlot,
        bytes: &[u8],
    ) {
        let started = Instant::now();
        let result: RedisResult<i64> = self
            .call(|mut conn| async move {
                self.set_script
                    .key(self.value_key(&slot.run, cache, key))
                    .key(self.generation_key(cache, key))
                    .arg(&slot.generation)
                    .arg(bytes)
                    .arg(self.ttl_secs)
                    .invoke_async(&mut conn)
                    .await
            })
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
    ) -> RedisResult<i64> {
        let started = Instant::now();
        let mut invocation = self.invalidate_script.prepare_invoke();
        if let Some((cache, key)) = invalidation.shared_key() {
            invocation
                .key(self.value_key(&self.current_run(), cache, key))
                .key(self.generation_key(cache, key));
        }
        invocation
            .arg(channel)
            .arg(message)
            .arg(self.ttl_secs * 2 + 60);
        let result = self
            .call(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await;
        self.metrics
            .redis_op(RedisOp::Invalidate, started.elapsed());
        if result.is_err() {
            self.metrics.redis_error();
        }
        result
    }

    /// Publishes `message` on `channel` (the bus's heartbeats).
    pub async fn publish(&self, channel: &str, message: &str) -> RedisResult<i64> {
        self.call(|mut conn| async move {
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(message)
                .query_async(&mut conn)
                .await
        })
        .await
    }

    /// Counts one acknowledgement of an invalidation.
    pub async fn acknowledge(&self, key: &str) -> RedisResult<()> {
        self.call(|mut conn| async move {
            redis::pipe()
                .incr(key, 1)
                .ignore()
                .expire(key, 60)
                .ignore()
                .query_async(&mut conn)
                .await
        })
        .await
    }

    /// How many acknowledgements `key` has counted.
    pub async fn acknowledgements(&self, key: &str) -> RedisResult<i64> {
        let count: Option<i64> = self
            .call(|mut conn| async move { redis::cmd("GET").arg(key).query_async(&mut conn).await })
            .await?;
        Ok(count.unwrap_or(0))
    }
}

/// The `run_id` line of `INFO server`.
fn run_id(info: &str) -> Option<&str> {
    info.lines()
        .find_map(|line| line.strip_prefix("run_id:"))
        .map(str::trim)
        .filter(|run| !run.is_empty())
}

impl Link {
    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn answered(&self) {
        self.answered_at.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    /// A call timed out: if nothing has answered for [`REPLACE_AFTER`], one task (at a time)
    /// opens a new connection and, once it is up, puts it in place of the silent one.
    fn stalled(self: Arc<Self>) {
        let silent_ms = self
            .elapsed_ms()
            .saturating_sub(self.answered_at.load(Ordering::Relaxed));
        if silent_ms < REPLACE_AFTER.as_millis() as u64
            || self.replacing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        tokio::spawn(async move {
            let fresh = tokio::time::timeout(
                CONNECT_TIMEOUT + Duration::from_millis(100),
                ConnectionManager::new_with_config(self.client.clone(), manager_config()),
            )
            .await;
            if let Ok(Ok(conn)) = fresh {
                *self.conn.write().unwrap_or_else(|p| p.into_inner()) = conn;
                self.answered();
                tracing::warn!(
                    address = %address(&self.client),
                    "replaced a Redis connection that had stopped answering"
                );
            }
            self.replacing.store(false, Ordering::Release);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_is_read_from_info_server() {
        let info = "# Server\r\nredis_version:7.0.15\r\nrun_id:4f1c0e2d9a\r\ntcp_port:6379\r\n";
        assert_eq!(run_id(info), Some("4f1c0e2d9a"));
        assert_eq!(run_id("# Server\r\nredis_version:7.0.15\r\n"), None);
    }
}
