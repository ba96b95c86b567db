//! Password guessing against one account, from however many addresses.
//!
//! The per-address limit (`rate_limit.auth_per_minute`) stops one machine; this stops many
//! machines aiming at one account. Every password attempt on an account counts (counted
//! before the password is checked, so parallel guesses cannot all slip in before the first
//! failure is written). The first [`FREE_ATTEMPTS`] go through; after that each attempt
//! waits twice as long as the one before, from 1 s up to [`MAX_DELAY_SECS`], and an attempt
//! made too early is answered 429 with the wait, without counting. A success clears the
//! count, and so does [`FORGET_AFTER_SECS`] without attempts.
//!
//! The limit slows guessing; it never locks anyone out. At worst an attacker holds an
//! account at one attempt a minute, and even then the owner is not held up: an address
//! the account signed in from successfully within [`KNOWN_FOR_SECS`] is never throttled
//! (only its own per-address limit applies), so the owner's usual devices keep working
//! while strangers queue. Accounts and addresses are stored as keyed hashes, never as
//! e-mails or IPs.
//!
//! With Redis the counts are shared by every instance (one Lua script per attempt, so the
//! check and the count are one step); without it, or while Redis cannot answer, each
//! instance counts on its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use redis::Script;
use sha2::{Digest, Sha256};

use crate::cache::RedisTier;
use crate::clock::UnixSeconds;

/// Attempts on one account that go through before any wait.
pub const FREE_ATTEMPTS: u32 = 5;
/// The longest wait between two attempts on one account.
pub const MAX_DELAY_SECS: i64 = 60;
/// An account nobody tried for this long starts afresh.
pub const FORGET_AFTER_SECS: i64 = 900;
/// How long a successful sign-in makes its address known for the account.
pub const KNOWN_FOR_SECS: i64 = 30 * 86_400;
/// Known addresses kept per account (the most recent).
const KNOWN_ADDRESSES: usize = 8;

/// The wait after `attempts` admitted attempts, if any.
fn delay_after(attempts: u32) -> i64 {
    if attempts < FREE_ATTEMPTS {
        0
    } else {
        let doubling = (attempts - FREE_ATTEMPTS).min(16);
        (1_i64 << doubling).min(MAX_DELAY_SECS)
    }
}

const ADMIT: &str = r"
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '0')
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
if n >= free then
  local delay = math.min(2 ^ math.min(n - free, 16), tonumber(ARGV[3]))
  if now < at + delay then
    return at + delay - now
  end
end
redis.call('HSET', KEYS[1], 'n', n + 1, 'at', now)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 0";

const SUCCEEDED: &str = r"
redis.call('DEL', KEYS[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[3]))
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 0";

#[derive(Default)]
struct Account {
    attempts: u32,
    last_attempt: UnixSeconds,
    /// Address hash → last successful sign-in from it.
    known: Vec<(u64, UnixSeconds)>,
}

pub struct LoginThrottle {
    key: [u8; 32],
    redis: Option<RedisTier>,
    admit_script: Script,
    succeeded_script: Script,
    local: Mutex<HashMap<u64, Account>>,
}

impl LoginThrottle {
    /// `key` keys the hashes of accounts and addresses; `redis` shares the counts between
    /// instances.
    pub fn new(key: &[u8], redis: Option<RedisTier>) -> Self {
        Self {
            key: Sha256::digest([b"roomkey login throttle\0", key].concat()).into(),
            redis,
            admit_script: Script::new(ADMIT),
            succeeded_script: Script::new(SUCCEEDED),
            local: Mutex::new(HashMap::new()),
        }
    }

    fn hash(&self, kind: &str, value: &str) -> u64 {
        let digest = Sha256::new()
            .chain_update(self.key)
            .chain_update(kind.as_bytes())
            .chain_update([0])
            .chain_update(value.as_bytes())
            .finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }

    /// May someone at `address` try a password on `account` now? `Err` carries the seconds
    /// to wait. An admitted attempt counts until the account signs in.
    pub async fn admit(&self, account: &str, address: IpAddr, now: UnixSeconds) -> Result<(), u64> {
        let account = self.hash("account", account);
        let address = self.hash("address", &address.to_string());
        if let Some(redis) = &self.redis {
            match self.admit_shared(redis, account, address, now).await {
                Ok(wait) => return if wait > 0 { Err(wait) } else { Ok(()) },
                Err(error) => {
                    tracing::warn!(%error, "login throttle: Redis unavailable; counting in this instance");
                }
            }
        }
        self.admit_local(account, address, now)
    }

    async fn admit_shared(
        &self,
        redis: &RedisTier,
        account: u64,
        address: u64,
        now: UnixSeconds,
    ) -> redis::RedisResult<u64> {
        let prefix = redis.prefix();
        let known_key = format!("{prefix}login-known:{account:016x}");
        let known: Option<i64> = redis
            .call(|mut conn| async move {
                redis::cmd("ZSCORE")
                    .arg(known_key)
                    .arg(format!("{address:016x}"))
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        if known.is_some_and(|at| now - at < KNOWN_FOR_SECS) {
            return Ok(0);
        }
        let mut invocation = self.admit_script.prepare_invoke();
        invocation
            .key(format!("{prefix}login-attempts:{account:016x}"))
            .arg(now)
            .arg(FREE_ATTEMPTS)
            .arg(MAX_DELAY_SECS)
            .arg(FORGET_AFTER_SECS);
        redis
            .call(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await
    }

    fn admit_local(&self, account: u64, address: u64, now: UnixSeconds) -> Result<(), u64> {
        let mut accounts = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if accounts.len() > 100_000 {
            accounts.retain(|_, a| now - a.last_attempt < FORGET_AFTER_SECS || !a.known.is_empty());
        }
        let entry = accounts.entry(account).or_default();
        if entry
            .known
            .iter()
            .any(|(known, at)| *known == address && now - at < KNOWN_FOR_SECS)
        {
            return Ok(());
        }
        if now - entry.last_attempt >= FORGET_AFTER_SECS {
            entry.attempts = 0;
        }
        let ready_at = entry.last_attempt + delay_after(entry.attempts);
        if entry.attempts >= FREE_ATTEMPTS && now < ready_at {
            return Err(u64::try_from(ready_at - now).unwrap_or(1));
        }
        entry.attempts += 1;
        entry.last_attempt = now;
        Ok(())
    }

    /// `account` signed in from `address`: its count clears and the address is known.
    pub async fn succeeded(&self, account: &str, address: IpAddr, now: UnixSeconds) {
        let account = self.hash("account", account);
        let address = self.hash("address", &address.to_string());
        if let Some(redis) = &self.redis {
            let prefix = redis.prefix();
            let mut invocation = self.succeeded_script.prepare_invoke();
            invocation
                .key(format!("{prefix}login-attempts:{account:016x}"))
                .key(format!("{prefix}login-known:{account:016x}"))
                .arg(now)
                .arg(format!("{address:016x}"))
                .arg(KNOWN_ADDRESSES)
                .arg(KNOWN_FOR_SECS);
            let result: redis::RedisResult<i64> = redis
                .call(|mut conn| async move { invocation.invoke_async(&mut conn).await })
                .await;
            if let Err(error) = result {
                tracing::warn!(%error, "login throttle: Redis unavailable; remembering in this instance");
            }
        }
        let mut accounts = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let entry = accounts.entry(account).or_default();
        entry.attempts = 0;
        entry.known.retain(|(known, _)| *known != address);
        entry.known.push((address, now));
        if entry.known.len() > KNOWN_ADDRESSES {
            entry.known.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixSeconds = 1_800_000_000;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, last])
    }

    #[test]
    fn waits_double_from_one_second_up_to_a_minute() {
        let waits: Vec<i64> = (0..14).map(delay_after).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[tokio::test]
    async fn many_addresses_share_one_accounts_budget_then_wait() {
        let throttle = LoginThrottle::new(b"k", None);
        for attempt in 0..FREE_ATTEMPTS {
            let from = ip(u8::try_from(attempt).unwrap());
            assert_eq!(throttle.admit("victim", from, NOW).await, Ok(()));
        }
        assert_eq!(throttle.admit("victim", ip(200), NOW).await, Err(1));
        assert_eq!(throttle.admit("victim", ip(200), NOW + 1).await, Ok(()));
        assert_eq!(throttle.admit("victim", ip(201), NOW + 1).await, Err(2));
        // another account is not held up
        assert_eq!(throttle.admit("bystander", ip(200), NOW + 1).await, Ok(()));
    }

    #[tokio::test]
    async fn a_refused_attempt_does_not_push_the_wait_further() {
        let throttle = LoginThrottle::new(b"k", None);
        let mut now = NOW;
        for _ in 0..40 {
            while throttle.admit("victim", ip(9), now).await.is_err() {
                now += 1;
            }
        }
        // held at one attempt a minute, never longer
        assert!(throttle
            .admit("victim", ip(9), now + MAX_DELAY_SECS)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn the_owners_known_address_is_never_held_up_and_success_clears_the_count() {
        let throttle = LoginThrottle::new(b"k", None);
        throttle.succeeded("owner", ip(1), NOW - 86_400).await;
        for _ in 0..50 {
            let _ = throttle.admit("owner", ip(66), NOW).await;
        }
        assert!(throttle.admit("owner", ip(66), NOW).await.is_err());
        assert_eq!(throttle.admit("owner", ip(1), NOW).await, Ok(()));
        throttle.succeeded("owner", ip(1), NOW).await;
        assert_eq!(throttle.admit("owner", ip(66), NOW).await, Ok(()));
        // an address known too long ago is a stranger again
        assert!(throttle
            .admit("owner", ip(1), NOW + KNOWN_FOR_SECS)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn quiet_for_fifteen_minutes_starts_afresh() {
        let throttle = LoginThrottle::new(b"k", None);
        for _ in 0..FREE_ATTEMPTS {
            throttle.admit("a", ip(5), NOW).await.unwrap();
        }
        assert!(throttle.admit("a", ip(5), NOW).await.is_err());
        for _ in 0..FREE_ATTEMPTS {
            throttle
                .admit("a", ip(5), NOW + FORGET_AFTER_SECS)
                .await
                .unwrap();
        }
    }
}
