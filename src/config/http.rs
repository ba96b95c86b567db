//! `[http]`: the listeners, the public URL, and the limits that protect the process from
//! slow, idle or too many clients.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{bad, check_url, ConfigError};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Public API listener. default: `127.0.0.1:8080`; env `ROOMKEY_HTTP__LISTEN`.
    pub listen: String,
    /// Listener for `/metrics`, `/healthz`, `/readyz`; empty serves them on `listen`.
    /// default: `127.0.0.1:9464`; env `ROOMKEY_HTTP__OPS_LISTEN`.
    pub ops_listen: String,
    /// Base URL clients reach roomkey at, used in join links and the key-server URL;
    /// when it is `https://`, the join page's cookies are `Secure`.
    /// default: `http://127.0.0.1:8080`; env `ROOMKEY_HTTP__PUBLIC_URL`.
    pub public_url: String,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    /// default: `false`; env `ROOMKEY_HTTP__TRUST_FORWARDED_FOR`.
    pub trust_forwarded_for: bool,
    /// Largest accepted request body in bytes. default: `65536`.
    pub max_body_bytes: usize,
    /// A connection must send a request's headers within this many seconds of opening or
    /// of its previous response, or it is closed (so slow or idle connections cannot pile
    /// up). default: `10`; env `ROOMKEY_HTTP__HEADER_READ_TIMEOUT_SECS`.
    pub header_read_timeout_secs: u64,
    /// A request not answered within this many seconds (body upload included) is answered
    /// 503. default: `15`; env `ROOMKEY_HTTP__REQUEST_TIMEOUT_SECS`.
    pub request_timeout_secs: u64,
    /// Connections open at once on the public listener; beyond it new connections are
    /// answered 503 and closed (the ops listener has its own small cap, so health checks and
    /// metrics keep answering). Keep it below the process's open-file limit.
    /// default: `2048`; env `ROOMKEY_HTTP__MAX_CONNECTIONS`.
    pub max_connections: usize,
    /// Requests being handled at once; beyond it new requests are answered 503 at once
    /// rather than queued. default: `1024`; env `ROOMKEY_HTTP__MAX_REQUESTS_IN_FLIGHT`.
    pub max_requests_in_flight: usize,
    /// On SIGTERM, open connections get this many seconds to finish their requests before
    /// the process exits anyway. default: `10`; env `ROOMKEY_HTTP__SHUTDOWN_GRACE_SECS`.
    pub shutdown_grace_secs: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            ops_listen: "127.0.0.1:9464".into(),
            public_url: "http://127.0.0.1:8080".into(),
            trust_forwarded_for: false,
            max_body_bytes: 64 * 1024,
            header_read_timeout_secs: 10,
            request_timeout_secs: 15,
            max_connections: 2048,
            max_requests_in_flight: 1024,
            shutdown_grace_secs: 10,
        }
    }
}

impl HttpConfig {
    /// The listeners' addresses and the public URL.
    pub(super) fn validate_addresses(&self) -> Result<(), ConfigError> {
        self.listen
            .parse::<SocketAddr>()
            .map_err(|e| bad("http.listen", format!("not a socket address: {e}")))?;
        if !self.ops_listen.is_empty() {
            self.ops_listen
                .parse::<SocketAddr>()
                .map_err(|e| bad("http.ops_listen", format!("not a socket address: {e}")))?;
        }
        check_url("http.public_url", &self.public_url)
    }

    /// The body size, timeouts and concurrency caps.
    pub(super) fn validate_limits(&self) -> Result<(), ConfigError> {
        if self.max_body_bytes < 1024 {
            return Err(bad("http.max_body_bytes", "must be at least 1024"));
        }
        for (name, value) in [
            (
                "http.header_read_timeout_secs",
                self.header_read_timeout_secs,
            ),
            ("http.request_timeout_secs", self.request_timeout_secs),
            ("http.shutdown_grace_secs", self.shutdown_grace_secs),
        ] {
            if !(1..=3600).contains(&value) {
                return Err(bad(name, "must be 1 to 3600 seconds"));
            }
        }
        for (name, value) in [
            ("http.max_connections", self.max_connections),
            ("http.max_requests_in_flight", self.max_requests_in_flight),
        ] {
            if !(1..=1_000_000).contains(&value) {
                return Err(bad(name, "must be 1 to 1000000"));
            }
        }
        Ok(())
    }
}
