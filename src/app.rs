//! Wiring: builds every service from a validated [`Config`], binds the listeners, and
//! shuts down cleanly. Tests build the same [`App`] with a manual clock and drive its
//! router directly.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::access::AccessCaches;
use crate::access::AccessService;
use crate::attendance::AttendanceService;
use crate::cache::bus::Health;
use crate::cache::{Bus, RedisTier};
use crate::changes::{Dispatcher, Subscriber};
use crate::clock::Clock;
use crate::config::{Config, SigningMode};
use crate::entitlements::EntitlementService;
use crate::http::extract::ApiKeys;
use crate::http::rate_limit::RateLimiter;
use crate::http::server::{self, ConnectionLimits};
use crate::http::state::{AppState, Services};
use crate::http::{Extras, RequestLimits};
use crate::identity::{IdentityService, LoginThrottle, SessionTokens};
use crate::live::{LiveEnforcer, RequestSigner};
use crate::mastodon::MastodonService;
use crate::matrix::MatrixService;
use crate::moderation::{AuditLog, BanService};
use crate::performers::VerificationService;
use crate::rooms::RoomService;
use crate::shows::ShowService;
use crate::store::{Backend, Store};
use crate::telemetry::metrics::{ListenerName, Metrics};
use crate::tokens::keys::load_or_create_named_secret;
use crate::tokens::{JitsiTokenSettings, JitsiTokens, Keyring, TokenAuthority};

/// Connections the ops listener (health, readiness, metrics) keeps open at most: a few
/// scrapers and probes, never crowded out by the public listener's clients.
const OPS_MAX_CONNECTIONS: usize = 64;

pub struct App {
    state: AppState,
    config: Config,
    keyring: Arc<Keyring>,
    shutdown: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
    /// Serve the benchmark's unauthenticated sign-only endpoint (see `roomkey-bench-server`).
    bench_sign: bool,
}

impl App {
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let backend = Backend::from_url(&config.database.url).context("database.url")?;
        let metrics = Arc::new(Metrics::new(
            &crate::http::routes::table::catalogue(),
            backend.as_str(),
        ));
        let store = Store::connect(
            &config.database.url,
            config.database.max_connections,
            metrics.clone(),
        )
        .await?;
        if config.database.migrate_on_start {
            for name in store.migrate().await? {
                tracing::info!(migration = %name, "applied migration");
            }
        }

        let (shutdown, shutdown_rx) = watch::channel(false);
        let redis = if config.redis.url.is_empty() {
            None
        } else {
            let tier = RedisTier::connect(
                &config.redis.url,
                &config.redis.key_prefix,
                config.cache.ttl_secs,
                metrics.clone(),
            )
            .await
            .context("cannot connect to Redis (redis.url)")?;
            Some((tier, redis::Client::open(config.redis.url.as_str())?))
        };
        let throttle_redis = redis.as_ref().map(|(tier, _)| tier.clone());
        let health = Health::new(redis.is_none());
        let caches = Arc::new(AccessCaches::new(
            config.cache.max_entries,
            config.cache.ttl_secs,
            redis.as_ref().map(|(tier, _)| tier.clone()),
            health.clone(),
            metrics.clone(),
        ));
        let bus = Bus::start(
            caches.clone(),
            redis,
            health,
            metrics.clone(),
            shutdown_rx.clone(),
        );
        if !bus.wait_until_healthy(Duration::from_secs(3)).await {
            tracing::warn!(
                "not yet subscribed to cache invalidations; reading through until subscribed"
            );
        }

        let keyring = Arc::new(Keyring::open(
            config.jitsi.signing,
            &config.keys.dir,
            &config.jitsi.app_secret,
            config.jitsi.token_ttl_secs,
            clock.clone(),
        )?);
        let session_secret = if config.session.secret.is_empty() {
            load_or_create_named_secret(&config.keys.dir, "session.secret")?
        } else {
            config.session.secret.expose().to_owned()
        };

        let prosody_secret = if config.prosody.secret.is_empty() {
            load_or_create_named_secret(&config.keys.dir, "prosody.secret")?
        } else {
            config.prosody.secret.expose().to_owned()
        };
        // The configured secrets were compared by `Config::validate`; generated ones live in
        // keys.dir and may have been paired with a configured one by hand.
        let jitsi_secret = match config.jitsi.signing {
            SigningMode::Hs256 if config.jitsi.app_secret.is_empty() => {
                load_or_create_named_secret(&config.keys.dir, "hs256.secret")?
            }
            SigningMode::Hs256 => config.jitsi.app_secret.expose().to_owned(),
            SigningMode::Rs256 => String::new(),
        };
        crate::config::distinct_secrets(&[
            ("jitsi.app_secret".to_owned(), &jitsi_secret),
            ("session.secret".to_owned(), &session_secret),
            ("prosody.secret".to_owned(), &prosody_secret),
        ])?;
        let live = Arc::new(LiveEnforcer::new(
            store.clone(),
            RequestSigner::new(
                prosody_secret.as_bytes(),
                config.prosody.max_clock_skew_secs,
            ),
            &config.prosody.shards,
            Duration::from_millis(config.prosody.command_timeout_ms),
            clock.clone(),
            metrics.clone(),
        )?);

        let access = Arc::new(AccessService::new(
            store.clone(),
            caches.clone(),
            clock.clone(),
        ));
        let jitsi = JitsiTokens::new(
            JitsiTokenSettings {
                app_id: config.jitsi.app_id.clone(),
                audience: config.jitsi.audience.clone(),
                subject: config.jitsi.subject.clone(),
                ttl_secs: config.jitsi.token_ttl_secs,
                nbf_skew_secs: config.jitsi.nbf_skew_secs,
                show_token_max_secs: config.jitsi.show_token_max_secs,
            },
            keyring.clone(),
            config
                .reuses_signed_tokens()
                .then_some(config.cache.signed_token_entries),
        );
        let matrix = Arc::new(MatrixService::new(
            &config.matrix,
            store.clone(),
            bus.clone(),
            access.clone(),
            clock.clone(),
            metrics.clone(),
        ));
        let stats = crate::stats::StatsService::new(store.clone(), clock.clone());
        let audit = Arc::new(AuditLog::new(store.clone(), clock.clone()));
        let mastodon = Arc::new(MastodonService::new(
            &config.mastodon,
            store.clone(),
            matrix.clone(),
            &config.http.public_url,
            clock.clone(),
            metrics.clone(),
        ));
        // Subscribers in delivery order: the caches first, so that the shards' fresh verdicts
        // and Matrix's invites read the new fact.
        let changes = Arc::new(Dispatcher::new(
            store.clone(),
            clock.clone(),
            vec![
                bus.clone() as Arc<dyn Subscriber>,
                live.clone(),
                matrix.clone(),
                mastodon.clone(),
            ],
        ));
        let rooms = Arc::new(RoomService::new(
            store.clone(),
            changes.clone(),
            live.clone(),
            matrix.clone(),
            audit.clone(),
            clock.clone(),
        ));
        let services = Services {
            tokens: TokenAuthority::new(access.clone(), jitsi, metrics.clone()),
            identity: IdentityService::new(
                store.clone(),
                access.clone(),
                SessionTokens::new(session_secret.as_bytes(), config.session.ttl_secs),
                LoginThrottle::new(session_secret.as_bytes(), throttle_redis),
                bus.clone(),
                changes.clone(),
                matrix.clone(),
                audit.clone(),
                clock.clone(),
            ),
            shows: ShowService::new(
                store.clone(),
                rooms.clone(),
                mastodon.clone(),
                changes.clone(),
                clock.clone(),
            ),
            performers: VerificationService::new(
                store.clone(),
                changes.clone(),
                audit.clone(),
                clock.clone(),
            ),
            rooms,
            entitlements: EntitlementService::new(
                store.clone(),
                changes.clone(),
                audit.clone(),
                clock.clone(),
            ),
            bans: BanService::new(store.clone(), changes.clone(), audit.clone(), clock.clone()),
            payments: crate::payments::PaymentService::new(
                store.clone(),
                changes.clone(),
                clock.clone(),
                metrics.clone(),
                config.payments.clone(),
                &config.http.public_url,
            ),
            attendance: AttendanceService::new(store.clone(), clock.clone(), stats.clone()),
            stats,
            audit,
            live,
            changes: changes.clone(),
            matrix: matrix.clone(),
            mastodon: mastodon.clone(),
            clock: clock.clone(),
            access,
            store,
            bus,
            metrics,
            api_keys: ApiKeys::new(&config.auth.service_keys, &config.auth.admin_keys),
            auth_limit: RateLimiter::per_minute(config.rate_limit.auth_per_minute, clock.clone()),
            token_limit: RateLimiter::per_minute(config.rate_limit.token_per_minute, clock.clone()),
            public_url: config.http.public_url.clone(),
            meet_url: config.jitsi.meet_url.clone(),
            join: crate::join::JoinSettings {
                csrf: crate::join::CsrfKey::derive(session_secret.as_bytes()),
                secure_cookies: config.http.public_url.starts_with("https://"),
                default_lang: config.join.default_language,
                session_ttl_secs: config.session.ttl_secs,
            },
            trust_forwarded_for: config.http.trust_forwarded_for,
        };

        let state = AppState(Arc::new(services));
        let mut background = vec![spawn_key_reloader(
            keyring.clone(),
            config.keys.reload_secs,
            shutdown_rx.clone(),
        )];
        if config.payments.reconcile_interval_secs > 0
            && !config.payments.epayco.customer_id.is_empty()
        {
            background.push(spawn_payment_reconciler(
                state.clone(),
                config.payments.reconcile_interval_secs,
                shutdown_rx.clone(),
            ));
        }
        if mastodon.is_enabled() {
            background.push(tokio::spawn(mastodon.run(shutdown_rx.clone())));
        }
        background.push(tokio::spawn(state.live.clone().run(shutdown_rx.clone())));
        background.push(tokio::spawn(changes.run(shutdown_rx.clone())));
        if matrix.is_enabled() {
            background.push(tokio::spawn(matrix.run(shutdown_rx)));
        }
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

    pub fn state(&self) -> AppState {
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

/// Runs `task` every `every_secs`, first one interval after start, until shutdown.
fn spawn_every<F, Fut>(
    every_secs: u64,
    mut shutdown: watch::Receiver<bool>,
    mut task: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(every_secs));
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = ticker.tick() => task().await,
            }
        }
    })
}

fn spawn_key_reloader(
    keyring: Arc<Keyring>,
    every_secs: u64,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    spawn_every(every_secs, shutdown, move || {
        let keyring = keyring.clone();
        async move {
            if let Err(error) = keyring.reload() {
                tracing::error!(error = %format!("{error:#}"), "reloading signing keys failed; keeping the current set");
            }
        }
    })
}

/// Re-checks payments left pending with the provider.
fn spawn_payment_reconciler(
    state: AppState,
    every_secs: u64,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    spawn_every(every_secs, shutdown, move || {
        let state = state.clone();
        async move {
            match state.payments.reconcile_pending().await {
                Ok(report) if report.checked > 0 => tracing::info!(
                    checked = report.checked,
                    changed = report.changed,
                    failed = report.failed,
                    "reconciled pending payments"
                ),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "reconciling pending payments failed; trying again next interval")
                }
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
