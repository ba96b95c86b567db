//! The fault harness: a PostgreSQL cluster and a Redis server of the test's own (so a test
//! can stop or kill them), TCP proxies that make Redis look hung or cut off to one instance,
//! real `roomkey` processes, and steady token traffic that records every answer.

#![allow(
    unreachable_pub,
    reason = "the harness is one test binary's; `pub` marks what its scenarios use"
)]

pub mod instance;
pub mod postgres;
pub mod proxy;
pub mod redis;
pub mod traffic;

use std::os::unix::fs::MetadataExt as _;
use std::time::Duration;

/// A free TCP port on loopback (free when asked; nothing holds it afterwards).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// Whether this process runs as root (CI does), read from the owner of `/proc/self`.
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// Polls `check` every 20 ms until it is true or `limit` has passed; returns how long it took.
pub async fn wait_for<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = tokio::time::Instant::now();
    loop {
        if check().await {
            return Some(started.elapsed());
        }
        if started.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
