//! The subsystems [`App::build`](super::App::build) wires, one builder each, in the order
//! they depend on each other.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;

use crate::access::{AccessCaches, AccessService};
use crate::attendance::AttendanceService;
use crate::cache::bus::Health;
use crate::cache::{Bus, RedisTier};
use crate::changes::{Dispatcher, Subscriber};
use crate::clock::Clock;
use crate::config::{Config, SigningMode};
use crate::entitlements::EntitlementService;
use crate::http::extract::ApiKeys;
use crate::http::rate_limit::RateLimiter;
use crate::http::state::Services;
use crate::identity::{IdentityService, LoginThrottle, SessionTokens};
use crate::live::{LiveEnforcer, RequestSigner};
use crate::mastodon::MastodonService;
use crate::matrix::MatrixService;
use crate::moderation::{AuditLog, BanService};
use crate::oidc::credentials::IdTokenKey;
use crate::oidc::logout::BackchannelLogouts;
use crate::oidc::{OidcService, OidcSettings};
use crate::performers::VerificationService;
use crate::rooms::RoomService;
use crate::shows::ShowService;
use crate::store::Store;
use crate::telemetry::metrics::Metrics;
use crate::tokens::keys::load_or_create_named_secret;
use crate::tokens::{JitsiTokenSettings, JitsiTokens, Keyring, TokenAuthority};

/// What every subsystem is built from.
pub(super) struct Core<'a> {
    pub(super) config: &'a Config,
    pub(super) store: Store,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) metrics: Arc<Metrics>,
}

/// The SQL store, migrated when the configuration says so.
pub(super) async fn storage(config: &Config, metrics: &Arc<Metrics>) -> anyhow::Result<Store> {
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
    Ok(store)
}

/// The access caches, the invalidation bus that keeps them honest, and Redis when set.
pub(super) struct Caching {
    pub(super) caches: Arc<AccessCaches>,
    pub(super) bus: Arc<Bus>,
    /// Shares the login throttle between instances.
    pub(super) redis: Option<RedisTier>,
}

pub(super) async fn caching(
    config: &Config,
    metrics: &Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Caching> {
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
    let shared_tier = redis.as_ref().map(|(tier, _)| tier.clone());
    let health = Health::new(redis.is_none());
    let caches = Arc::new(AccessCaches::new(
        config.cache.max_entries,
        config.cache.ttl_secs,
        shared_tier.clone(),
        health.clone(),
        metrics.clone(),
    ));
    let bus = Bus::start(caches.clone(), redis, health, metrics.clone(), shutdown);
    if !bus.wait_until_healthy(Duration::from_secs(3)).await {
        tracing::warn!(
            "not yet subscribed to cache invalidations; reading through until subscribed"
        );
    }
    Ok(Caching {
        caches,
        bus,
        redis: shared_tier,
    })
}

/// The secrets of the three trust boundaries: configured, or generated once into
/// `keys.dir`.
pub(super) struct Secrets {
    pub(super) session: String,
    pub(super) prosody: String,
}

impl Secrets {
    pub(super) fn load(config: &Config) -> anyhow::Result<Self> {
        let named = |configured: &crate::config::Secret, file: &str| -> anyhow::Result<String> {
            if configured.is_empty() {
                load_or_create_named_secret(&config.keys.dir, file)
            } else {
                Ok(configured.expose().to_owned())
            }
        };
        let session = named(&config.session.secret, "session.secret")?;
        let prosody = named(&config.prosody.secret, "prosody.secret")?;
        let jitsi = match config.jitsi.signing {
            SigningMode::Hs256 => named(&config.jitsi.app_secret, "hs256.secret")?,
            SigningMode::Rs256 => String::new(),
        };
        // The configured secrets were compared by `Config::validate`; generated ones live
        // in keys.dir and may have been paired with a configured one by hand.
        crate::config::distinct_secrets(&[
            ("jitsi.app_secret".to_owned(), &jitsi),
            ("session.secret".to_owned(), &session),
            ("prosody.secret".to_owned(), &prosody),
        ])?;
        Ok(Self { session, prosody })
    }
}

/// The entry rule's service and the systems roomkey drives: the Prosody shards, Matrix and
/// Mastodon.
pub(super) struct OutsideSystems {
    pub(super) access: Arc<AccessService>,
    pub(super) live: Arc<LiveEnforcer>,
    pub(super) matrix: Arc<MatrixService>,
    pub(super) mastodon: Arc<MastodonService>,
}

pub(super) fn outside_systems(
    core: &Core<'_>,
    caching: &Caching,
    secrets: &Secrets,
) -> anyhow::Result<OutsideSystems> {
    let Core {
        config,
        store,
        clock,
        metrics,
    } = core;
    let live = Arc::new(LiveEnforcer::new(
        store.clone(),
        RequestSigner::new(
            secrets.prosody.as_bytes(),
            config.prosody.max_clock_skew_secs,
        ),
        &config.prosody.shards,
        Duration::from_millis(config.prosody.command_timeout_ms),
        clock.clone(),
        metrics.clone(),
    )?);
    let access = Arc::new(AccessService::new(
        store.clone(),
        caching.caches.clone(),
        clock.clone(),
    ));
    let matrix = Arc::new(MatrixService::new(
        &config.matrix,
        store.clone(),
        caching.bus.clone(),
        access.clone(),
        clock.clone(),
        metrics.clone(),
    ));
    let mastodon = Arc::new(MastodonService::new(
        &config.mastodon,
        store.clone(),
        matrix.clone(),
        &config.http.public_url,
        clock.clone(),
        metrics.clone(),
    ));
    Ok(OutsideSystems {
        access,
        live,
        matrix,
        mastodon,
    })
}

/// The change dispatcher. Subscribers in delivery order: the caches first, so that the
/// shards' fresh verdicts and Matrix's invites read the new fact.
pub(super) fn dispatcher(
    core: &Core<'_>,
    caching: &Caching,
    outside: &OutsideSystems,
    logouts: &Arc<BackchannelLogouts>,
) -> Arc<Dispatcher> {
    Arc::new(Dispatcher::new(
        core.store.clone(),
        core.clock.clone(),
        core.metrics.clone(),
        vec![
            caching.bus.clone() as Arc<dyn Subscriber>,
            outside.live.clone(),
            outside.matrix.clone(),
            outside.mastodon.clone(),
            logouts.clone(),
        ],
    ))
}

/// What the OpenID Provider is built from before the services: its ID-token key and
/// back-channel logout (a subscriber of the dispatcher, so made before it).
pub(super) struct Provider {
    pub(super) id_token_key: Option<Arc<IdTokenKey>>,
    pub(super) logouts: Arc<BackchannelLogouts>,
}

/// Back-channel logout: a subscriber of the changes that end sessions, and the worker of
/// its outbox.
pub(super) fn backchannel_logouts(
    core: &Core<'_>,
    id_token_key: Option<Arc<IdTokenKey>>,
) -> Arc<BackchannelLogouts> {
    let config = core.config;
    Arc::new(BackchannelLogouts::new(
        &config.oidc,
        config.oidc.issuer_or(&config.http.public_url),
        id_token_key,
        core.store.clone(),
        core.clock.clone(),
        core.metrics.clone(),
    ))
}

/// The OpenID Provider's ID-token key, in `<keys.dir>/oidc/` (generated on first start),
/// when a relying party is registered; without one the provider has nothing to sign.
pub(super) fn id_token_key(config: &Config) -> anyhow::Result<Option<Arc<IdTokenKey>>> {
    if config.oidc.clients.is_empty() {
        return Ok(None);
    }
    IdTokenKey::load_or_create(&config.keys.dir.join("oidc")).map(|key| Some(Arc::new(key)))
}

/// Every capability's service, and what the HTTP layer needs besides.
pub(super) fn services(
    core: &Core<'_>,
    caching: Caching,
    outside: OutsideSystems,
    changes: Arc<Dispatcher>,
    secrets: &Secrets,
    keyring: Arc<Keyring>,
    provider: Provider,
) -> Services {
    let Provider {
        id_token_key,
        logouts,
    } = provider;
    let Core {
        config,
        store,
        clock,
        metrics,
    } = core;
    let OutsideSystems {
        access,
        live,
        matrix,
        mastodon,
    } = outside;
    let jitsi = JitsiTokens::new(
        JitsiTokenSettings {
            app_id: config.jitsi.app_id.clone(),
            audience: config.jitsi.audience.clone(),
            subject: config.jitsi.subject.clone(),
            ttl_secs: config.jitsi.token_ttl_secs,
            nbf_skew_secs: config.jitsi.nbf_skew_secs,
            show_token_max_secs: config.jitsi.show_token_max_secs,
        },
        keyring,
        config
            .reuses_signed_tokens()
            .then_some(config.cache.signed_token_entries),
    );
    let stats = crate::stats::StatsService::new(store.clone(), clock.clone());
    let audit = Arc::new(AuditLog::new(store.clone(), clock.clone()));
    let rooms = Arc::new(RoomService::new(
        store.clone(),
        changes.clone(),
        live.clone(),
        matrix.clone(),
        audit.clone(),
        clock.clone(),
    ));
    let session_secret = secrets.session.as_bytes();
    Services {
        tokens: TokenAuthority::new(access.clone(), jitsi, metrics.clone()),
        identity: IdentityService::new(
            store.clone(),
            access.clone(),
            SessionTokens::new(session_secret, config.session.ttl_secs),
            LoginThrottle::new(session_secret, caching.redis),
            caching.bus.clone(),
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
        oidc: OidcService::new(
            &config.oidc,
            OidcSettings {
                mastodon_client: (config.mastodon.is_enabled()
                    && !config.mastodon.oidc_client.is_empty())
                .then(|| config.mastodon.oidc_client.clone()),
                ..OidcSettings::from_config(&config.oidc, &config.http.public_url)
            },
            id_token_key,
            store.clone(),
            clock.clone(),
            logouts.waker(),
        ),
        logouts,
        attendance: AttendanceService::new(store.clone(), clock.clone(), stats.clone())
            .with_seats(access.clone()),
        calls: Arc::new(crate::calls::CallService::new(
            store.clone(),
            changes.clone(),
            audit.clone(),
            clock.clone(),
            metrics.clone(),
            config.payments.performer_share_bps,
            config.calls.clone(),
        )),
        stats,
        audit,
        live,
        changes,
        matrix,
        mastodon,
        clock: clock.clone(),
        access,
        store: store.clone(),
        bus: caching.bus,
        metrics: metrics.clone(),
        api_keys: ApiKeys::new(&config.auth.service_keys, &config.auth.admin_keys),
        auth_limit: RateLimiter::per_minute(config.rate_limit.auth_per_minute, clock.clone()),
        token_limit: RateLimiter::per_minute(config.rate_limit.token_per_minute, clock.clone()),
        oidc_limit: RateLimiter::per_minute(config.oidc.requests_per_minute, clock.clone()),
        public_url: config.http.public_url.clone(),
        meet_url: config.jitsi.meet_url.clone(),
        join: crate::join::JoinSettings {
            csrf: crate::join::CsrfKey::derive(session_secret),
            secure_cookies: config.http.public_url.starts_with("https://"),
            default_lang: config.join.default_language,
            session_ttl_secs: config.session.ttl_secs,
        },
        trust_forwarded_for: config.http.trust_forwarded_for,
    }
}
