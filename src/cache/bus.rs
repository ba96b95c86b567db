//! The invalidation bus.
//!
//! Without Redis, an invalidation is applied in-process before the write returns. With
//! Redis, it is applied locally, then published; every instance applies it and
//! acknowledges, and the writer waits (up to a bound) for as many acknowledgements as
//! Redis reported receivers. So when an admin's ban call returns, every subscribed
//! instance has already dropped its cached copy: the next token request anywhere is refused.
//!
//! # When Redis fails
//!
//! An instance trusts what it has cached (in process, and the shared copies in Redis)
//! only while it *knows* it hears the bus. Every [`HEARTBEAT_EVERY`] it publishes a
//! heartbeat, stamped with its own clock, on a channel of its own, and receives it back on
//! the subscription that carries the invalidations. Redis delivers a subscriber's messages
//! in the order it takes them, so a heartbeat that comes back proves that every
//! invalidation published before it has arrived. [`Health`] holds until
//! [`LIVENESS_WINDOW`] after the moment the latest heartbeat heard was sent; after that,
//! every decision is read from SQL (slower, never stale), and the first heartbeat heard
//! again drops the in-process tier before it is trusted again. Hence the bound: **an
//! instance that cannot hear the bus (Redis down, hung, or cut off from this instance)
//! admits a user banned on another instance for at most [`LIVENESS_WINDOW`] (1 s) after
//! it last heard the bus**, and with it working, not at all: a ban is refused everywhere
//! on the next request. A subscription that hears no heartbeat for [`RESUBSCRIBE_AFTER`] is
//! dropped and made again.
//!
//! Publishing never holds a writer for long: attempts stop after [`PUBLISH_WITHIN`] and the
//! wait for acknowledgements after [`ACK_WAIT`], so an admin call spends at most about 2 s
//! on the bus. The change is committed to SQL before it is published; an invalidation
//! that could not be published is owed. The instance keeps publishing what it owes every
//! [`REDELIVER_EVERY`] until Redis takes it, and reads through until then, as its Redis
//! copy of the entry may be stale. What this cannot cover: when the writer alone is cut off
//! from Redis, the instances that still hear the bus, and the Redis copy, keep the entry
//! until the writer reaches Redis again and publishes what it owes (or until
//! `cache.ttl_secs`, should the writer stop first).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};

use super::redis_tier::{CALL_TIMEOUT, CONNECT_TIMEOUT};
use super::{Invalidation, InvalidationSink, RedisTier};
use crate::telemetry::metrics::Metrics;

/// How often an instance publishes its heartbeat.
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(200);
/// How long a heartbeat heard vouches for the subscription, from when it was sent: the
/// longest an instance that cannot hear the bus goes on trusting its caches.
pub const LIVENESS_WINDOW: Duration = Duration::from_secs(1);
/// A subscription that has heard no heartbeat for this long is made again.
pub const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(3);
/// The longest pause between attempts to subscribe.
const RESUBSCRIBE_MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Publishing an invalidation is tried for at most this long.
pub const PUBLISH_WITHIN: Duration = Duration::from_secs(1);
/// How long a writer waits for every instance to acknowledge.
pub const ACK_WAIT: Duration = Duration::from_secs(1);
/// How often owed invalidations are published again.
pub const REDELIVER_EVERY: Duration = Duration::from_millis(250);

/// Whether this instance may trust what it has cached: it has heard its own heartbeat
/// within [`LIVENESS_WINDOW`] and owes the bus no invalidation (always, without Redis).
#[derive(Clone, Debug)]
pub struct Health(Arc<Liveness>);

#[derive(Debug)]
struct Liveness {
    started: Instant,
    /// Milliseconds since `started` until which the subscription is vouched for;
    /// `u64::MAX` without Redis.
    live_until: AtomicU64,
    /// Some invalidation published here has not reached Redis yet.
    owes: AtomicBool,
}

impl Health {
    /// `healthy` for an instance without Redis (always healthy); one with Redis starts
    /// unhealthy and becomes healthy when it hears its first heartbeat.
    pub fn new(healthy: bool) -> Self {
        Self(Arc::new(Liveness {
            started: Instant::now(),
            live_until: AtomicU64::new(if healthy { u64::MAX } else { 0 }),
            owes: AtomicBool::new(false),
        }))
    }

    pub fn is_healthy(&self) -> bool {
        !self.0.owes.load(Ordering::Acquire) && self.is_live()
    }

    /// Whether the subscription is vouched for, whatever is owed.
    fn is_live(&self) -> bool {
        let until = self.0.live_until.load(Ordering::Acquire);
        until == u64::MAX || self.now_ms() < until
    }

    fn now_ms(&self) -> u64 {
        self.0.started.elapsed().as_millis() as u64
    }

    fn live_until(&self, until_ms: u64) {
        self.0.live_until.fetch_max(until_ms, Ordering::AcqRel);
    }

    fn lose(&self) {
        self.0.live_until.store(0, Ordering::Release);
    }

    fn set_owes(&self, owes: bool) {
        self.0.owes.store(owes, Ordering::Release);
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// Unique per message: the acknowledgement counter's name.
    id: String,
    #[serde(flatten)]
    invalidation: Invalidation,
}

pub struct Bus {
    caches: Arc<dyn InvalidationSink>,
    redis: Option<RedisTier>,
    channel: String,
    /// This instance's own channel, which carries only its heartbeats.
    heartbeat_channel: String,
    instance: String,
    sequence: AtomicU64,
    health: Health,
    /// Invalidations not yet taken by Redis, each with the sequence number of its latest
    /// failed publication (so a newer failure is not forgotten with an older one).
    owed: Mutex<HashMap<Invalidation, u64>>,
    owed_more: Notify,
    metrics: Arc<Metrics>,
}

impl Bus {
    /// Starts the bus; with Redis, one task subscribes and keeps resubscribing until
    /// `shutdown`, another publishes what is owed.
    pub fn start(
        caches: Arc<dyn InvalidationSink>,
        redis: Option<(RedisTier, redis::Client)>,
        health: Health,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let (tier, client) = match redis {
            Some((tier, client)) => (Some(tier), Some(client)),
            None => (None, None),
        };
        let prefix = tier.as_ref().map_or("", |t| t.prefix()).to_owned();
        let instance = uuid::Uuid::new_v4().simple().to_string();
        let bus = Arc::new(Self {
            caches,
            redis: tier,
            channel: format!("{prefix}invalidate"),
            heartbeat_channel: format!("{prefix}heartbeat:{instance}"),
            instance,
            sequence: AtomicU64::new(0),
            health,
            owed: Mutex::new(HashMap::new()),
            owed_more: Notify::new(),
            metrics,
        });
        if let Some(client) = client {
            tokio::spawn(bus.clone().subscribe_loop(client, shutdown.clone()));
            tokio::spawn(bus.clone().redeliver_loop(shutdown));
        }
        bus
    }

    pub fn is_healthy(&self) -> bool {
        self.health.is_healthy()
    }

    /// Waits (bounded) for the first heartbeat, so a new instance starts out trusting its
    /// in-process tier; until then it reads through, which is slower but never stale.
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

    /// A new message for `invalidation` and its id.
    fn envelope(&self, invalidation: &Invalidation) -> Option<(String, String)> {
        let id = format!(
            "{}-{}",
            self.instance,
            self.sequence.fetch_add(1, Ordering::Relaxed)
        );
        let envelope = Envelope {
            id,
            invalidation: invalidation.clone(),
        };
        let message = serde_json::to_string(&envelope).ok()?;
        Some((envelope.id, message))
    }

    /// Announces a change that is already committed to SQL. Returns within about
    /// [`PUBLISH_WITHIN`] + [`ACK_WAIT`] whatever Redis does.
    pub async fn publish(&self, invalidation: Invalidation) {
        self.caches.apply(&invalidation);
        let Some(redis) = &self.redis else { return };
        let Some((id, message)) = self.envelope(&invalidation) else {
            return;
        };
        let deadline = tokio::time::Instant::now() + PUBLISH_WITHIN;
        let mut delay = Duration::from_millis(20);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let published = tokio::time::timeout_at(
                deadline,
                redis.invalidate_and_publish(&invalidation, &self.channel, &message),
            )
            .await;
            match published {
                Ok(Ok(receivers)) => {
                    self.wait_for_acks(redis, &id, receivers).await;
                    return;
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, attempt, "publishing a cache invalidation failed");
                }
                Err(_) => tracing::warn!(attempt, "publishing a cache invalidation timed out"),
            }
            if tokio::time::Instant::now() + delay >= deadline {
                break;
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        tracing::error!(
            ?invalidation,
            "a cache invalidation could not be published; publishing it again in the \
             background, and reading through until it is taken"
        );
        self.owe(invalidation);
    }

    fn owe(&self, invalidation: Invalidation) {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let mut owed = self.owed.lock().unwrap_or_else(|p| p.into_inner());
        owed.insert(invalidation, sequence);
        self.health.set_owes(true);
        drop(owed);
        self.owed_more.notify_one();
    }

    async fn wait_for_acks(&self, redis: &RedisTier, id: &str, receivers: i64) {
        let key = format!("{}ack:{id}", redis.prefix());
        let all_acked = async {
            loop {
                if redis.acknowledgements(&key).await.unwrap_or(0) >= receivers {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        if tokio::time::timeout(ACK_WAIT, all_acked).await.is_err() {
            tracing::warn!(
                receivers,
                "not every instance acknowledged an invalidation in time"
            );
        }
    }

    async fn redeliver_loop(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let Some(redis) = self.redis.clone() else {
            return;
        };
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = self.owed_more.notified() => {}
            }
            while !self.redeliver(&redis).await {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(REDELIVER_EVERY) => {}
                }
            }
        }
    }

    /// Publishes what is owed; true once nothing is.
    async fn redeliver(&self, redis: &RedisTier) -> bool {
        let owed: Vec<(Invalidation, u64)> = self
            .owed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(invalidation, sequence)| (invalidation.clone(), *sequence))
            .collect();
        for (invalidation, sequence) in owed {
            let Some((_, message)) = self.envelope(&invalidation) else {
                continue;
            };
            if redis
                .invalidate_and_publish(&invalidation, &self.channel, &message)
                .await
                .is_err()
            {
                return false;
            }
            tracing::info!(?invalidation, "published an owed cache invalidation");
            let mut pending = self.owed.lock().unwrap_or_else(|p| p.into_inner());
            if pending.get(&invalidation) == Some(&sequence) {
                pending.remove(&invalidation);
            }
        }
        let pending = self.owed.lock().unwrap_or_else(|p| p.into_inner());
        self.health.set_owes(!pending.is_empty());
        pending.is_empty()
    }

    async fn subscribe_loop(
        self: Arc<Self>,
        client: redis::Client,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let first_backoff = Duration::from_millis(100);
        let mut backoff = first_backoff;
        loop {
            let began = Instant::now();
            let ended = tokio::select! {
                _ = shutdown.changed() => return,
                ended = self.listen(&client) => ended,
            };
            self.health.lose();
            tracing::warn!(reason = %ended, "invalidation subscription lost; reading through until it is back");
            if began.elapsed() > RESUBSCRIBE_AFTER * 2 {
                backoff = first_backoff;
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(RESUBSCRIBE_MAX_BACKOFF);
        }
    }

    /// Subscribes, then applies invalidations and sends and hears heartbeats until the
    /// subscription fails; returns why it ended.
    async fn listen(&self, client: &redis::Client) -> String {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub
                .subscribe(&[self.channel.as_str(), self.heartbeat_channel.as_str()])
                .await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = match tokio::time::timeout(CONNECT_TIMEOUT + CALL_TIMEOUT, subscribed).await {
            Ok(Ok(pubsub)) => pubsub,
            Ok(Err(error)) => return error.to_string(),
            Err(_) => return "no answer to the subscription in time".into(),
        };
        // A new subscription may be to a Redis that restarted (perhaps from an old snapshot):
        // the shared tier is read under this run's names from now on. Learnt after
        // subscribing, so a later restart ends this subscription too.
        if let Some(redis) = &self.redis {
            if let Err(error) = redis.learn_run().await {
                return format!("the Redis server's run was not learnt: {error}");
            }
        }
        // Anything cached before this point may have missed an invalidation.
        self.caches.apply(&Invalidation::All);
        tracing::info!(channel = %self.channel, "listening for cache invalidations");
        let mut messages = pubsub.into_on_message();
        let mut beat = tokio::time::interval(HEARTBEAT_EVERY);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else {
                        return "the subscription ended".into();
                    };
                    if message.get_channel_name() == self.heartbeat_channel {
                        let sent = message.get_payload::<u64>();
                        if sent.is_ok_and(|sent| self.heard(sent)) {
                            last_heard = Instant::now();
                        }
                    } else {
                        self.receive(&message);
                    }
                }
                _ = beat.tick() => {
                    if last_heard.elapsed() > RESUBSCRIBE_AFTER {
                        return format!("no heartbeat came back for {:?}", last_heard.elapsed());
                    }
                    self.send_heartbeat();
                }
            }
        }
    }

    /// Publishes a heartbeat stamped now; it may take up to [`CALL_TIMEOUT`], so it does
    /// not hold up the subscription.
    fn send_heartbeat(&self) {
        let Some(redis) = self.redis.clone() else {
            return;
        };
        let channel = self.heartbeat_channel.clone();
        let stamp = self.health.now_ms().to_string();
        tokio::spawn(async move {
            if let Err(error) = redis.publish(&channel, &stamp).await {
                tracing::debug!(%error, "a bus heartbeat was not published");
            }
        });
    }

    /// A heartbeat sent at `sent_ms` came back; whether it still vouches for anything.
    fn heard(&self, sent_ms: u64) -> bool {
        let until = sent_ms.saturating_add(LIVENESS_WINDOW.as_millis() as u64);
        if until <= self.health.now_ms() {
            return false;
        }
        if !self.health.is_live() {
            // Heard again after a gap: what is held may have missed an invalidation.
            self.caches.apply(&Invalidation::All);
            tracing::info!("hearing the invalidation bus again");
        }
        self.health.live_until(until);
        true
    }

    fn receive(&self, message: &redis::Msg) {
        let Ok(payload) = message.get_payload::<String>() else {
            return;
        };
        let Ok(envelope) = serde_json::from_str::<Envelope>(&payload) else {
            tracing::warn!("ignoring an undecodable invalidation message");
            return;
        };
        self.caches.apply(&envelope.invalidation);
        self.metrics.invalidation_received();
        if let Some(redis) = self.redis.clone() {
            let key = format!("{}ack:{}", redis.prefix(), envelope.id);
            tokio::spawn(async move {
                let _ = redis.acknowledge(&key).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One cache the bus drops on `Room` and `All`.
    struct RoomsOnly {
        rooms: super::super::TieredCache<Option<String>>,
    }

    impl InvalidationSink for RoomsOnly {
        fn apply(&self, invalidation: &Invalidation) {
            match invalidation {
                Invalidation::Room(key) => self.rooms.invalidate_local(key),
                Invalidation::All => self.rooms.invalidate_all_local(),
                _ => {}
            }
        }
    }

    /// Health whose clock started ten seconds ago, so heartbeats can be stamped in the past.
    fn health_of_ten_seconds() -> Health {
        Health(Arc::new(Liveness {
            started: Instant::now()
                .checked_sub(Duration::from_secs(10))
                .expect("the monotonic clock has run for ten seconds"),
            live_until: AtomicU64::new(0),
            owes: AtomicBool::new(false),
        }))
    }

    #[tokio::test]
    async fn only_a_recent_heartbeat_vouches_for_the_bus_and_a_gap_drops_what_was_held() {
        let metrics = Arc::new(Metrics::new(&[], "sqlite"));
        let health = health_of_ten_seconds();
        let caches = Arc::new(RoomsOnly {
            rooms: super::super::TieredCache::new(
                crate::telemetry::metrics::CacheName::Rooms,
                100,
                300,
                None,
                health.clone(),
                metrics.clone(),
            ),
        });
        let (_stop, stopped) = watch::channel(false);
        let bus = Bus::start(caches.clone(), None, health.clone(), metrics, stopped);
        let window = LIVENESS_WINDOW.as_millis() as u64;
        assert!(!bus.is_healthy(), "nothing heard yet");

        assert!(!bus.heard(health.now_ms() - window));
        assert!(
            !bus.is_healthy(),
            "a heartbeat a window old vouches for nothing"
        );
        assert!(bus.heard(health.now_ms() - window / 2));
        assert!(bus.is_healthy());
        caches
            .rooms
            .get_or_load("room", || async { Ok(None) })
            .await
            .unwrap();
        assert_eq!(caches.rooms.entry_count(), 1, "held while the bus is heard");

        health.lose();
        assert!(!bus.is_healthy());
        assert!(bus.heard(health.now_ms()));
        assert!(bus.is_healthy());
        assert_eq!(
            caches.rooms.entry_count(),
            0,
            "what was held across the gap is dropped before it is trusted again"
        );

        health.set_owes(true);
        assert!(
            !bus.is_healthy(),
            "an instance that owes an invalidation reads through"
        );
    }

    #[test]
    fn without_redis_the_bus_is_always_healthy() {
        let health = Health::new(true);
        assert!(health.is_healthy());
        assert!(health.is_live());
    }
}
