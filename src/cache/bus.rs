//! The invalidation bus.
//!
//! Without Redis, an invalidation is applied in-process before the write returns. With
//! Redis, it is applied locally, then published; every instance applies it and
//! acknowledges, and the writer waits (up to a bound) for as many acknowledgements as
//! Redis reported receivers. So when an admin's ban call returns, every subscribed
//! instance has already dropped its cached copy: the next token request anywhere is refused.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{AccessCaches, Invalidation, RedisTier};
use crate::telemetry::metrics::Metrics;

/// Whether this instance is hearing every invalidation (always, without Redis).
#[derive(Clone, Debug)]
pub struct Health(Arc<AtomicBool>);

impl Health {
    pub fn new(healthy: bool) -> Self {
        Self(Arc::new(AtomicBool::new(healthy)))
    }
    pub fn is_healthy(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
    fn set(&self, healthy: bool) {
        self.0.store(healthy, Ordering::Release);
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// Unique per message: the acknowledgement counter's name.
    id: String,
    #[serde(flatten)]
    invalidation: Invalidation,
}

/// How long a writer waits for every instance to acknowledge.
const ACK_WAIT: Duration = Duration::from_secs(1);

pub struct Bus {
    caches: Arc<AccessCaches>,
    redis: Option<RedisTier>,
    channel: String,
    instance: String,
    sequence: AtomicU64,
    health: Health,
    metrics: Arc<Metrics>,
}

impl Bus {
    /// Starts the bus; with Redis, a task subscribes and keeps resubscribing until `shutdown`.
    pub fn start(
        caches: Arc<AccessCaches>,
        redis: Option<(RedisTier, redis::Client)>,
        health: Health,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let (tier, client) = match redis {
            Some((tier, client)) => (Some(tier), Some(client)),
            None => (None, None),
        };
        let channel = format!("{}invalidate", tier.as_ref().map_or("", |t| t.prefix()));
        let bus = Arc::new(Self {
            caches,
            redis: tier,
            channel,
            instance: uuid::Uuid::new_v4().simple().to_string(),
            sequence: AtomicU64::new(0),
            health,
            metrics,
        });
        if let Some(client) = client {
            tokio::spawn(bus.clone().subscribe_loop(client, shutdown));
        }
        bus
    }

    pub fn is_healthy(&self) -> bool {
        self.health.is_healthy()
    }

    /// Waits (bounded) for the first subscription, so a new instance starts out trusting
    /// its in-process tier; until then it reads through, which is slower but never stale.
    pub async fn wait_until_healthy(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.health.is_healthy() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Announces a change that is already committed to SQL.
    pub async fn publish(&self, invalidation: Invalidation) {
        self.caches.apply(&invalidation);
        let Some(redis) = &self.redis else { return };
        let id = format!(
            "{}-{}",
            self.instance,
            self.sequence.fetch_add(1, Ordering::Relaxed)
        );
        let envelope = Envelope { id, invalidation };
        let Ok(message) = serde_json::to_string(&envelope) else {
            return;
        };
        let mut delay = Duration::from_millis(20);
        for attempt in 1..=5 {
            match redis
                .invalidate_and_publish(&envelope.invalidation, &self.channel, &message)
                .await
            {
                Ok(receivers) => {
                    self.wait_for_acks(redis, &envelope.id, receivers).await;
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, attempt, "publishing a cache invalidation failed");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
        tracing::error!(
            "a cache invalidation could not be published; instances that missed it read through until \
             their subscription is re-established or the entry expires"
        );
    }

    async fn wait_for_acks(&self, redis: &RedisTier, id: &str, receivers: i64) {
        let key = format!("{}ack:{id}", redis.prefix());
        let deadline = tokio::time::Instant::now() + ACK_WAIT;
        let mut conn = redis.connection();
        loop {
            let acked: Option<i64> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap_or(None);
            if acked.unwrap_or(0) >= receivers {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    receivers,
                    acked = acked.unwrap_or(0),
                    "not every instance acknowledged an invalidation in time"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn subscribe_loop(
        self: Arc<Self>,
        client: redis::Client,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut backoff = Duration::from_millis(100);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                outcome = self.listen(&client) => {
                    if let Err(error) = outcome {
                        tracing::warn!(%error, "invalidation subscription lost; reading through until it is back");
                    }
                }
            }
            self.health.set(false);
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn listen(&self, client: &redis::Client) -> redis::RedisResult<()> {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&self.channel).await?;
        // Anything cached before this point may have missed an invalidation.
        self.caches.apply(&Invalidation::All);
        self.health.set(true);
        tracing::info!(channel = %self.channel, "listening for cache invalidations");
        let mut messages = pubsub.into_on_message();
        let mut conn = self.redis.as_ref().map(|r| r.connection());
        while let Some(message) = messages.next().await {
            let Ok(payload) = message.get_payload::<String>() else {
                continue;
            };
            let Ok(envelope) = serde_json::from_str::<Envelope>(&payload) else {
                tracing::warn!("ignoring an undecodable invalidation message");
                continue;
            };
            self.caches.apply(&envelope.invalidation);
            self.metrics.invalidation_received();
            if let (Some(conn), Some(redis)) = (conn.as_mut(), self.redis.as_ref()) {
                let key = format!("{}ack:{}", redis.prefix(), envelope.id);
                let _: redis::RedisResult<()> = redis::pipe()
                    .incr(&key, 1)
                    .ignore()
                    .expire(&key, 60)
                    .ignore()
                    .query_async(conn)
                    .await;
            }
        }
        Err(redis::RedisError::from((
            redis::ErrorKind::IoError,
            "subscription stream ended",
        )))
    }
}
