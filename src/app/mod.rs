//! Wiring: builds every service from a validated [`Config`], binds the listeners, and
//! shuts down cleanly. Tests build the same [`App`] with a manual clock and drive its
//! router directly.

mod background;
mod build;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::{Config, SigningMode};
use crate::http::server::{self, ConnectionLimits};
use crate::http::state::Services;
use crate::http::{Extras, RequestLimits};
use crate::store::Backend;
use crate::telemetry::metrics::{ListenerName, Metrics};
use crate::tokens::Keyring;
use background::shutdown_signal;

/// Connections the ops listener (health, readiness, metrics) keeps open at most: a few
/// scrapers and probes, never crowded out by the public listener's clients.
const OPS_MAX_CONNECTIONS: usize = 64;

pub struct App {
    state: Arc<Services>,
    config: Config,
    keyring: Arc<Keyring>,
    shutdown: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
    /// Serve the benchmark's unauthenticated sign-only endpoint (see `roomkey-bench-server`).
    bench_sign: bool,
}

impl App {
    /// Builds every subsystem in dependency order (see `build`): storage, caches, secrets
    /// and keys, the systems roomkey drives (Prosody shards, Matrix, Mastodon), the change
    /// dispatcher, the services, and the background workers.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let backend = Backend::from_url(&config.database.url).context("database.url")?;
        let metrics = Arc::new(Metrics::new(
            &crate::http::routes::table::catalogue(),
            backend.as_str(),
        ));
        let store = build::storage(&config, &metrics).await?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let caching = build::caching(&config, &metrics, shutdown_rx.clone()).await?;
        let keyring = Arc::new(Keyring::open(
            config.jitsi.signing,
            &config.keys.dir,
            &config.jitsi.app_secret,
            config.jitsi.token_ttl_secs,
            clock.clone(),
        )?);
        let secrets = build::Secrets::load(&config)?;
        let id_token_key = build::id_token_key(&config)?;
        let core = build::Core {
            config: &config,
            store,
            clock,
            metrics,
        };
        let outside = build::outside_systems(&core, &caching, &secrets)?;
        let logouts = build::backchannel_logouts(&core, id_token_key.clone());
        let changes = build::dispatcher(&core, &caching, &outside, &logouts);
        let state = Arc::new(build::services(
            &core,
            caching,
            outside,
            changes.clone(),
            &secrets,
            keyring.clone(),
            build::Provider {
                id_token_key,
                logouts,
            },
        ));
        let background = background::start(&config, &state, &keyring, changes, shutdown_rx);
        Ok(Self {
            state,
            config,
            keyring,
            shutdown,
            background,
            bench_sign: false,
        })
    }

    /// Adds the benchmark's sign-only endpoint, which hands a token to anyone: for
    /// `roomkey-bench-server` on loopback only, never for a real deployment.
    #[cfg(feature = "bench")]
    pub fn with_bench_sign_endpoint(mut self) -> Self {
        self.bench_sign = true;
        self
    }

    /// Every service, for the background tasks and for tests that drive a worker or the
    /// store directly; handlers see only their sub-state (`http::state`).
    pub fn state(&self) -> Arc<Services> {
        self.state.clone()
    }

    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    /// The public router, with ops endpoints included when they have no listener of their own.
    pub fn router(&self) -> axum::Router {
        crate::http::router(
            self.state(),
            RequestLimits::of(&self.config.http),
            Extras {
                ops: self.config.http.ops_listen.is_empty(),
                bench_sign: self.bench_sign,
            },
        )
    }

    /// Binds the configured listeners and serves until SIGINT/SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let public = TcpListener::bind(&self.config.http.listen)
            .await
            .with_context(|| {
                format!("cannot listen on http.listen = {}", self.config.http.listen)
            })?;
        let ops = if self.config.http.ops_listen.is_empty() {
            None
        } else {
            Some(
                TcpListener::bind(&self.config.http.ops_listen)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot listen on http.ops_listen = {}",
                            self.config.http.ops_listen
                        )
                    })?,
            )
        };
        self.announce(&public, ops.as_ref());
        self.serve(public, ops, shutdown_signal()).await
    }

    /// Serves on already-bound listeners until `stop` resolves, then drains open
    /// connections for at most `http.shutdown_grace_secs`.
    pub async fn serve(
        self,
        public: TcpListener,
        ops: Option<TcpListener>,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let http = &self.config.http;
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(http.header_read_timeout_secs),
            max_connections: http.max_connections,
            drain: Duration::from_secs(http.shutdown_grace_secs),
        };
        let metrics = self.state.metrics.clone();
        let (stopped_tx, stopped_rx) = watch::channel(false);
        let ops_task = ops.map(|listener| {
            let router = crate::http::ops_router(self.state());
            let mut stopped = stopped_rx.clone();
            let limits = ConnectionLimits {
                max_connections: OPS_MAX_CONNECTIONS,
                ..limits
            };
            tokio::spawn(server::serve(
                listener,
                router,
                limits,
                metrics.clone(),
                ListenerName::Ops,
                async move {
                    let _ = stopped.changed().await;
                },
            ))
        });
        server::serve(
            public,
            self.router(),
            limits,
            metrics,
            ListenerName::Public,
            async move {
                stop.await;
                let _ = stopped_tx.send(true);
            },
        )
        .await;
        if let Some(task) = ops_task {
            let _ = task.await;
        }
        self.shutdown().await;
        Ok(())
    }

    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.background {
            task.abort();
        }
        self.state.store.close().await;
    }

    fn announce(&self, public: &TcpListener, ops: Option<&TcpListener>) {
        let config = &self.config;
        let public_addr = public
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::info!(address = %public_addr, public_url = %config.http.public_url, "roomkey is listening");
        if let Some(ops) = ops {
            tracing::info!(address = %ops.local_addr().map(|a| a.to_string()).unwrap_or_default(), "metrics and health on");
        }
        tracing::info!(
            backend = %self.state.store.backend().as_str(),
            redis = !config.redis.url.is_empty(),
            "storage"
        );
        match config.jitsi.signing {
            SigningMode::Hs256 => tracing::info!(
                keys = %config.keys.dir.display(),
                "signing Jitsi tokens with HS256; Prosody's app_secret is the configured jitsi.app_secret or {}/hs256.secret",
                config.keys.dir.display()
            ),
            SigningMode::Rs256 => tracing::info!(
                keys = %config.keys.dir.display(),
                asap_key_server = %format!("{}/jitsi/keys", config.http.public_url),
                "signing Jitsi tokens with RS256"
            ),
        }
    }
}
