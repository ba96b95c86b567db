//! One cache with three tiers and single-flight loading.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::OnceCell;

use super::bus::Health;
use super::local::LocalCache;
use super::redis_tier::RedisTier;
use crate::store::StoreError;
use crate::telemetry::metrics::{CacheName, CacheTier, Metrics};

type Flight<V> = Arc<OnceCell<Arc<V>>>;

pub struct TieredCache<V> {
    name: CacheName,
    /// `None` when caching is disabled: every lookup reads SQL.
    memory: Option<LocalCache<V>>,
    redis: Option<RedisTier>,
    bus_healthy: Health,
    /// Bumped by every invalidation. A load that began before a bump does not insert
    /// its (possibly stale) result; `gate` makes "check epoch, insert" atomic against it.
    epoch: AtomicU64,
    gate: Mutex<()>,
    /// Loads under way, by key and the epoch they began in: a caller that arrives after an
    /// invalidation starts a load of its own rather than joining one that may have read
    /// the fact before it changed.
    in_flight: Mutex<HashMap<(String, u64), Flight<V>>>,
    metrics: Arc<Metrics>,
}

impl<V> TieredCache<V>
where
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    pub fn new(
        name: CacheName,
        max_entries: u64,
        ttl_secs: u64,
        redis: Option<RedisTier>,
        bus_healthy: Health,
        metrics: Arc<Metrics>,
    ) -> Self {
        let memory = (max_entries > 0)
            .then(|| LocalCache::new(max_entries, Duration::from_secs(ttl_secs.max(1))));
        Self {
            name,
            redis: if memory.is_some() { redis } else { None },
            memory,
            bus_healthy,
            epoch: AtomicU64::new(0),
            gate: Mutex::new(()),
            in_flight: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// `read` applied in place to the in-process value for `key`, if it is held and may be
    /// trusted (see [`LocalCache::get_with`]). Nothing is counted: a caller that uses the
    /// value calls [`Self::count_memory_hit`], one that does not goes on to
    /// [`Self::get_or_load`], which counts its own lookup.
    pub fn peek_in_memory<R>(&self, key: &str, read: impl FnOnce(&Arc<V>) -> R) -> Option<R> {
        let memory = self.memory.as_ref()?;
        if !self.bus_healthy.is_healthy() {
            return None;
        }
        memory.get_with(key, read)
    }

    pub fn count_memory_hit(&self) {
        self.metrics.cache_lookup(self.name, CacheTier::Memory);
    }

    /// The cached value for `key`, or the loader's answer (stored in every tier).
    pub async fn get_or_load<F, Fut>(&self, key: &str, load: F) -> Result<Arc<V>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, StoreError>>,
    {
        let Some(memory) = &self.memory else {
            self.metrics.cache_lookup(self.name, CacheTier::Sql);
            return load().await.map(Arc::new);
        };
        if let Some(value) = self.peek_in_memory(key, Arc::clone) {
            self.count_memory_hit();
            return Ok(value);
        }
        let trusted = self.bus_healthy.is_healthy();

        let epoch = self.epoch.load(Ordering::SeqCst);
        let flight_key = (key.to_owned(), epoch);
        let flight = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            in_flight.entry(flight_key.clone()).or_default().clone()
        };
        let result = flight
            .get_or_try_init(|| async {
                let value = Arc::new(self.load_shared(key, load, trusted).await?);
                let _gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
                if trusted && self.epoch.load(Ordering::SeqCst) == epoch {
                    memory.insert(key.to_owned(), value.clone());
                }
                Ok::<_, StoreError>(value)
            })
            .await
            .cloned();
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if in_flight
            .get(&flight_key)
            .is_some_and(|f| Arc::ptr_eq(f, &flight))
        {
            in_flight.remove(&flight_key);
        }
        result
    }

    /// Redis, then SQL (writing back to Redis unless an invalidation raced the load).
    ///
    /// Each Redis call answers within its bound or fails (see `redis_tier`), and a value
    /// Redis returns is used only if the bus is still healthy once it has arrived.
    async fn load_shared<F, Fut>(&self, key: &str, load: F, trusted: bool) -> Result<V, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, StoreError>>,
    {
        let Some(redis) = self.redis.as_ref().filter(|_| trusted) else {
            self.metrics.cache_lookup(self.name, CacheTier::Sql);
            return load().await;
        };
        let slot = match redis.get(self.name, key).await {
            Ok((Some(_), _)) if !self.bus_healthy.is_healthy() => None,
            Ok((Some(bytes), _)) => match serde_json::from_slice(&bytes) {
                Ok(value) => {
                    self.metrics.cache_lookup(self.name, CacheTier::Redis);
                    return Ok(value);
                }
                Err(error) => {
                    tracing::warn!(cache = self.name.as_str(), %error, "undecodable shared cache entry");
                    None
                }
            },
            Ok((None, slot)) => Some(slot),
            Err(_) => None,
        };
        self.metrics.cache_lookup(self.name, CacheTier::Sql);
        let value = load().await?;
        if let Some(slot) = slot {
            if let Ok(bytes) = serde_json::to_vec(&value) {
                redis.set_if_generation(self.name, key, &slot, &bytes).await;
            }
        }
        Ok(value)
    }

    pub fn invalidate_local(&self, key: &str) {
        if let Some(memory) = &self.memory {
            let _gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
            self.epoch.fetch_add(1, Ordering::SeqCst);
            memory.invalidate(key);
        }
    }

    pub fn invalidate_all_local(&self) {
        if let Some(memory) = &self.memory {
            let _gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
            self.epoch.fetch_add(1, Ordering::SeqCst);
            memory.invalidate_all();
        }
    }

    /// Entries held in process (approximate; for memory accounting).
    pub fn entry_count(&self) -> u64 {
        self.memory.as_ref().map_or(0, |m| m.entry_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::bus::Health;

    /// A load that read the old fact must not answer a caller who asked after the fact
    /// changed: single-flight joins only loads that began in the same epoch.
    #[tokio::test]
    async fn a_caller_after_an_invalidation_does_not_join_a_load_that_began_before_it() {
        let metrics = Arc::new(Metrics::new(&[], "sqlite"));
        let cache: Arc<TieredCache<String>> = Arc::new(TieredCache::new(
            CacheName::UserFacts,
            100,
            60,
            None,
            Health::new(true),
            metrics,
        ));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let early = tokio::spawn({
            let cache = cache.clone();
            async move {
                cache
                    .get_or_load("viewer", || async move {
                        // Read before the change commits; answers after it.
                        let _ = released.await;
                        Ok("no entitlement".to_owned())
                    })
                    .await
            }
        });
        tokio::task::yield_now().await;
        cache.invalidate_local("viewer");
        let late = tokio::spawn({
            let cache = cache.clone();
            async move {
                cache
                    .get_or_load("viewer", || async { Ok("entitled".to_owned()) })
                    .await
            }
        });
        let late = late.await.unwrap().unwrap();
        let _ = release.send(());
        let early = early.await.unwrap().unwrap();
        assert_eq!(*late, "entitled");
        assert_eq!(
            *early, "no entitlement",
            "the early caller keeps what it read"
        );
        let cached = cache
            .get_or_load("viewer", || async { Ok("reloaded".to_owned()) })
            .await;
        assert_eq!(*cached.unwrap(), "entitled", "only the fresh load was kept");
    }
}
