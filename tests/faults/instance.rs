//! One real `roomkey` process, configured through its environment as an operator would,
//! driven over HTTP.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hyper::Method;
use roomkey::outbound::{Answer, JsonClient, OutboundError};
use serde_json::Value;
use tokio::process::{Child, Command};

pub const ADMIN_KEY: &str = "faults-admin-key-0123456789abcdef";
/// The signing secret of `cards`, a Stripe-style payment provider every instance knows.
pub const CARDS_SECRET: &str = "whsec_faults_cards_0123456789abcdef";

/// What an instance is started with beyond what the harness always sets.
#[derive(Clone, Default)]
pub struct Settings {
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    /// Shared by instances that are meant to share caches and the bus.
    pub key_prefix: String,
    /// Shared by instances that are meant to sign with the same keys.
    pub keys_dir: PathBuf,
}

pub struct Instance {
    pub name: &'static str,
    pub port: u16,
    pub ops_port: u16,
    child: Child,
    log: PathBuf,
}

/// An answer and how long it took.
pub struct Timed {
    pub status: u16,
    pub body: Value,
    pub took: Duration,
}

impl std::fmt::Debug for Timed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {:?}: {}", self.status, self.took, self.body)
    }
}

impl Instance {
    /// Spawns the binary with `settings`; does not wait for it (see [`Self::ready`]).
    pub fn spawn(name: &'static str, dir: &Path, settings: &Settings) -> Self {
        let port = super::free_port();
        let ops_port = super::free_port();
        let log = dir.join(format!("{name}-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("a log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_roomkey"));
        command
            .arg("serve")
            .current_dir(dir)
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "warn,roomkey::cache=info")
            .env("ROOMKEY_HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env("ROOMKEY_HTTP__OPS_LISTEN", format!("127.0.0.1:{ops_port}"))
            .env(
                "ROOMKEY_HTTP__PUBLIC_URL",
                format!("http://127.0.0.1:{port}"),
            )
            .env("ROOMKEY_AUTH__ADMIN_KEYS", format!("[\"{ADMIN_KEY}\"]"))
            .env("ROOMKEY_RATE_LIMIT__TOKEN_PER_MINUTE", "1000000")
            .env("ROOMKEY_PAYMENTS__RECONCILE_INTERVAL_SECS", "0")
            .env("ROOMKEY_KEYS__DIR", &settings.keys_dir)
            .env("ROOMKEY_REDIS__KEY_PREFIX", &settings.key_prefix)
            .env("ROOMKEY_PAYMENTS__PROVIDERS__CARDS__SCHEME", "stripe")
            .env(
                "ROOMKEY_PAYMENTS__PROVIDERS__CARDS__SECRETS",
                format!("[\"{CARDS_SECRET}\"]"),
            )
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("a second handle on the log"))
            .stderr(log_file)
            .kill_on_drop(true);
        if let Some(url) = &settings.database_url {
            command.env("DATABASE_URL", url);
        }
        if let Some(url) = &settings.redis_url {
            command.env("REDIS_URL", url);
        }
        let child = command.spawn().expect("roomkey starts");
        Self {
            name,
            port,
            ops_port,
            child,
            log,
        }
    }

    /// Spawns the binary and waits until `/readyz` answers 200.
    pub async fn start(name: &'static str, dir: &Path, settings: &Settings) -> Self {
        let mut instance = Self::spawn(name, dir, settings);
        instance.ready(Duration::from_secs(30)).await;
        instance
    }

    /// Waits until `/readyz` answers 200 and the instance hears the bus; panics with the log
    /// if it does not in `limit`.
    pub async fn ready(&mut self, limit: Duration) -> Duration {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{}", self.name, self.log_text());
            }
            if self
                .readyz(Duration::from_secs(1))
                .await
                .is_ok_and(|r| r.status == 200 && r.body["invalidation_bus"] == true)
            {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{} was not ready in {limit:?}:\n{}",
            self.name,
            self.log_text()
        );
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("a running child")
    }

    /// Sends SIGTERM (the signal a service manager stops it with).
    pub async fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .await
            .expect("kill runs");
        assert!(status.success());
    }

    /// SIGKILL: the process dies with whatever it held in memory.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// The exit status once the process has exited, if it does within `limit`.
    pub async fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn readyz(&self, limit: Duration) -> Result<Timed, OutboundError> {
        let url = format!("http://127.0.0.1:{}/readyz", self.ops_port);
        timed(limit, Method::GET, &url, &[], None).await
    }

    /// `POST /api/rooms/{room}/token` for `user` (the admin key acting for them).
    pub async fn token(
        &self,
        user: &str,
        room: &str,
        limit: Duration,
    ) -> Result<Timed, OutboundError> {
        let url = format!("{}/api/rooms/{room}/token", self.base_url());
        let headers = [
            ("authorization", format!("Bearer {ADMIN_KEY}")),
            ("x-roomkey-user", user.to_owned()),
        ];
        timed(limit, Method::POST, &url, &headers, None).await
    }

    /// A call by `user` (the admin key acting for them).
    pub async fn act_for(
        &self,
        user: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        limit: Duration,
    ) -> Result<Timed, OutboundError> {
        let url = format!("{}{path}", self.base_url());
        let headers = [
            ("authorization", format!("Bearer {ADMIN_KEY}")),
            ("x-roomkey-user", user.to_owned()),
        ];
        timed(limit, method, &url, &headers, body.as_ref()).await
    }

    /// `event` delivered to `POST /api/webhooks/cards`, signed as a Stripe-style provider
    /// signs it (HMAC-SHA256 of `{t}.{body}` under the secret, hex).
    #[allow(
        clippy::disallowed_methods,
        reason = "a real process checks the timestamp against the real clock"
    )]
    pub async fn cards_webhook(
        &self,
        event: &Value,
        limit: Duration,
    ) -> Result<Timed, OutboundError> {
        use hmac::Mac as _;
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("a clock after 1970")
            .as_secs();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(CARDS_SECRET.as_bytes())
            .expect("any key length");
        mac.update(format!("{timestamp}.{event}").as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        let url = format!("{}/api/webhooks/cards", self.base_url());
        let headers = [("stripe-signature", format!("t={timestamp},v1={signature}"))];
        timed(limit, Method::POST, &url, &headers, Some(event)).await
    }

    /// An admin call.
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        limit: Duration,
    ) -> Result<Timed, OutboundError> {
        let url = format!("{}{path}", self.base_url());
        let headers = [("authorization", format!("Bearer {ADMIN_KEY}"))];
        timed(limit, method, &url, &headers, body.as_ref()).await
    }
}

async fn timed(
    limit: Duration,
    method: Method,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&Value>,
) -> Result<Timed, OutboundError> {
    let client = JsonClient::new(limit);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let started = Instant::now();
    let Answer { status, body } = client.send(method, url, &headers, body).await?;
    Ok(Timed {
        status: status.as_u16(),
        body,
        took: started.elapsed(),
    })
}
