//! The HTTP edge: routing, extraction, error mapping. No business logic lives here.

pub mod error;
pub mod extract;
pub mod middleware;
pub mod rate_limit;
pub mod routes;
pub mod server;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use error::{ApiError, ErrorCode};
use state::AppState;

use crate::telemetry::metrics::{Metrics, RequestCut};

/// Every route as `(method, template)`: the metric catalogue's closed `route` label set.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/logout-all"),
    ("POST", "/api/auth/password"),
    ("GET", "/api/me"),
    ("PATCH", "/api/me"),
    ("GET", "/api/rooms/{room}"),
    ("POST", "/api/rooms/{room}/token"),
    ("POST", "/api/rooms/{room}/matrix-invite"),
    ("POST", "/api/me/matrix"),
    ("DELETE", "/api/me/matrix"),
    ("POST", "/api/tokens/introspect"),
    ("POST", "/api/admin/users"),
    ("POST", "/api/admin/users/{id}/role"),
    ("GET", "/api/admin/users/{id}/access"),
    ("POST", "/api/admin/users/{id}/sessions/end"),
    ("POST", "/api/admin/rooms"),
    ("PATCH", "/api/admin/rooms/{room}"),
    ("POST", "/api/admin/entitlements"),
    ("POST", "/api/admin/entitlements/{id}/revoke"),
    ("POST", "/api/admin/bans"),
    ("POST", "/api/admin/bans/{id}/lift"),
    ("PUT", "/api/admin/matrix/rooms/{name}"),
    ("POST", "/api/rooms/{room}/pay"),
    ("POST", "/api/rooms/{room}/tip"),
    ("GET", "/api/rooms/{room}/revenue"),
    ("POST", "/api/performers/{id}/subscribe"),
    ("GET", "/api/performers/{id}/earnings"),
    ("POST", "/api/features/{name}/pay"),
    ("POST", "/api/webhooks/epayco"),
    ("GET", "/api/webhooks/epayco"),
    ("POST", "/api/webhooks/{provider}"),
    ("PUT", "/api/admin/performers/{id}/terms"),
    ("POST", "/api/admin/payments"),
    ("POST", "/api/admin/payments/{reference}/chargeback"),
    ("POST", "/api/rooms/{room}/kick"),
    ("POST", "/api/rooms/{room}/ban"),
    ("POST", "/api/rooms/{room}/end"),
    ("GET", "/api/rooms/{room}/participants"),
    ("GET", "/api/rooms/{room}/stats"),
    ("GET", "/api/performers/{id}/stats"),
    ("GET", "/api/moderation/audit"),
    ("POST", "/api/moderation/ban"),
    ("POST", "/api/moderation/unban"),
    ("POST", "/api/events"),
    ("GET", "/api/events"),
    ("POST", "/api/events/create"),
    ("GET", "/api/events/{id}"),
    ("PATCH", "/api/events/{id}"),
    ("POST", "/api/events/{id}/end"),
    ("POST", "/api/events/{id}/pay"),
    ("GET", "/api/events/{id}/participants"),
    ("GET", "/api/events/{id}/stats"),
    ("POST", "/api/performers/verification"),
    ("GET", "/api/performers/{id}/verification"),
    ("GET", "/api/admin/performers/applications"),
    ("POST", "/api/admin/performers/{id}/verification/approve"),
    ("POST", "/api/admin/performers/{id}/verification/reject"),
    ("POST", "/api/admin/performers/{id}/verification/revoke"),
    ("POST", "/api/admin/rooms/{room}/kick"),
    ("POST", "/api/admin/rooms/{room}/end"),
    ("POST", "/api/prosody/verdicts"),
    ("POST", "/api/prosody/events"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/jitsi/keys/{file}"),
    ("GET", "/join/{room}"),
    ("POST", "/join/{room}/sign-in"),
    ("POST", "/join/{room}/sign-up"),
    ("POST", "/join/{room}/pay"),
    ("POST", "/join/{room}/sign-out"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/bench/sign/{room}"),
];

/// What the router allows one request.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub max_body_bytes: usize,
    /// Answered 503 when not done by then.
    pub timeout: Duration,
    /// Requests handled at once; more are answered 503 at once.
    pub max_in_flight: usize,
}

impl RequestLimits {
    pub fn of(http: &crate::config::HttpConfig) -> Self {
        Self {
            max_body_bytes: http.max_body_bytes,
            timeout: Duration::from_secs(http.request_timeout_secs),
            max_in_flight: http.max_requests_in_flight,
        }
    }
}

/// Which optional endpoints the public router serves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras {
    /// `/metrics`, `/healthz` and `/readyz`, when they have no listener of their own.
    pub ops: bool,
    /// The benchmark's unauthenticated sign-only endpoint: only `roomkey-bench-server`
    /// (feature `bench`) ever sets it, and only on loopback.
    pub bench_sign: bool,
}

/// The public API.
pub fn router(state: AppState, limits: RequestLimits, extras: Extras) -> Router {
    use routes::{
        admin, auth, events, join, keys, live, matrix, moderation, payments, performers, prosody,
        rooms, stats,
    };
    let mut router = Router::new()
        .route("/api/auth/register", post(auth::register))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/auth/logout-all", post(auth::logout_all))
        .route("/api/auth/password", post(auth::change_password))
        .route("/api/me", get(auth::me).patch(auth::update_me))
        .route("/api/rooms/{room}", get(rooms::show))
        .route("/api/rooms/{room}/token", post(rooms::issue_token))
        .route(
            "/api/rooms/{room}/matrix-invite",
            post(rooms::matrix_invite),
        )
        .route("/api/me/matrix", post(matrix::link).delete(matrix::unlink))
        .route(
            "/api/admin/matrix/rooms/{name}",
            axum::routing::put(matrix::put_community),
        )
        .route("/api/tokens/introspect", post(keys::introspect))
        .route("/api/admin/users", post(admin::provision_user))
        .route("/api/admin/users/{id}/role", post(admin::set_role))
        .route("/api/admin/users/{id}/access", get(admin::access_record))
        .route(
            "/api/admin/users/{id}/sessions/end",
            post(admin::end_sessions),
        )
        .route("/api/admin/rooms", post(admin::create_room))
        .route(
            "/api/admin/rooms/{room}",
            axum::routing::patch(admin::update_room),
        )
        .route("/api/admin/entitlements", post(admin::grant))
        .route("/api/admin/entitlements/{id}/revoke", post(admin::revoke))
        .route("/api/admin/bans", post(admin::ban))
        .route("/api/admin/bans/{id}/lift", post(admin::lift_ban))
        .route("/api/rooms/{room}/pay", post(payments::pay_room))
        .route("/api/rooms/{room}/tip", post(payments::tip))
        .route("/api/rooms/{room}/revenue", get(payments::room_revenue))
        .route("/api/performers/{id}/subscribe", post(payments::subscribe))
        .route("/api/performers/{id}/earnings", get(payments::earnings))
        .route("/api/features/{name}/pay", post(payments::pay_feature))
        .route(
            "/api/webhooks/epayco",
            post(payments::epayco_post).get(payments::epayco_get),
        )
        .route(
            "/api/admin/performers/{id}/terms",
            axum::routing::put(payments::set_terms),
        )
        .route("/api/webhooks/{provider}", post(payments::signed_webhook))
        .route("/api/admin/payments", post(payments::record_manual))
        .route(
            "/api/admin/payments/{reference}/chargeback",
            post(payments::record_chargeback),
        )
        .route("/api/rooms/{room}/kick", post(live::kick))
        .route("/api/rooms/{room}/ban", post(live::ban))
        .route("/api/rooms/{room}/end", post(live::end))
        .route("/api/rooms/{room}/participants", get(live::participants))
        .route("/api/rooms/{room}/stats", get(stats::room_stats))
        .route("/api/performers/{id}/stats", get(stats::performer_stats))
        .route("/api/moderation/audit", get(moderation::audit))
        .route("/api/moderation/ban", post(moderation::ban))
        .route("/api/moderation/unban", post(moderation::unban))
        .route("/api/events", post(events::create).get(events::list))
        .route("/api/events/create", post(events::create))
        .route("/api/events/{id}", get(events::show).patch(events::update))
        .route("/api/events/{id}/end", post(events::end))
        .route("/api/events/{id}/pay", post(events::pay))
        .route("/api/events/{id}/participants", get(events::participants))
        .route("/api/events/{id}/stats", get(events::stats))
        .route("/api/performers/verification", post(performers::apply))
        .route("/api/performers/{id}/verification", get(performers::status))
        .route(
            "/api/admin/performers/applications",
            get(performers::applications),
        )
        .route(
            "/api/admin/performers/{id}/verification/approve",
            post(performers::approve),
        )
        .route(
            "/api/admin/performers/{id}/verification/reject",
            post(performers::reject),
        )
        .route(
            "/api/admin/performers/{id}/verification/revoke",
            post(performers::revoke),
        )
        // The same two under the admin prefix, where operators' scripts look for them.
        .route("/api/admin/rooms/{room}/kick", post(live::kick))
        .route("/api/admin/rooms/{room}/end", post(live::end))
        // A full batch from a shard (500 checks or events) is larger than a user's request.
        .route(
            "/api/prosody/verdicts",
            post(prosody::verdicts).layer(DefaultBodyLimit::max(prosody::MAX_BODY_BYTES)),
        )
        .route(
            "/api/prosody/events",
            post(prosody::events).layer(DefaultBodyLimit::max(prosody::MAX_BODY_BYTES)),
        )
        .route("/.well-known/jwks.json", get(keys::jwks))
        .route("/jitsi/keys/{file}", get(keys::pem))
        .route("/join/{room}", get(join::page))
        .route("/join/{room}/sign-in", post(join::sign_in))
        .route("/join/{room}/sign-up", post(join::sign_up))
        .route("/join/{room}/pay", post(join::pay))
        .route("/join/{room}/sign-out", post(join::sign_out))
        .route("/healthz", get(routes::ops::healthz));
    #[cfg(feature = "bench")]
    if extras.bench_sign {
        router = router.route("/bench/sign/{room}", post(routes::bench::sign_only));
    }
    if extras.ops {
        router = router.merge(ops_routes());
    }
    finish(router, state, limits)
}

/// `/metrics`, `/healthz` and `/readyz` on their own listener.
pub fn ops_router(state: AppState) -> Router {
    finish(
        ops_routes().route("/healthz", get(routes::ops::healthz)),
        state,
        RequestLimits {
            max_body_bytes: 1024,
            timeout: Duration::from_secs(10),
            max_in_flight: 64,
        },
    )
}

fn ops_routes() -> Router<AppState> {
    Router::new()
        .route("/readyz", get(routes::ops::readyz))
        .route("/metrics", get(routes::ops::metrics))
}

fn finish(router: Router<AppState>, state: AppState, limits: RequestLimits) -> Router {
    let metrics = state.metrics.clone();
    // One semaphore for the whole router: `Router::layer` makes one service per route.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight));
    let cut = tower::ServiceBuilder::new()
        .layer(axum::error_handling::HandleErrorLayer::new(
            move |error: tower::BoxError| {
                let metrics = metrics.clone();
                async move { cut_short(&metrics, &error) }
            },
        ))
        .load_shed()
        .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
            in_flight,
        ))
        .timeout(limits.timeout);
    router
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ErrorCode::MethodNotAllowed, "method not allowed here")
        })
        .layer(cut)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .with_state(state)
}

/// A request the in-flight cap shed or the timeout cut: 503, so clients retry elsewhere.
fn cut_short(metrics: &Metrics, error: &tower::BoxError) -> ApiError {
    if error.is::<tower::load_shed::error::Overloaded>() {
        metrics.request_cut(RequestCut::Shed);
        ApiError::unavailable("too many requests in flight (http.max_requests_in_flight)")
    } else if error.is::<tower::timeout::error::Elapsed>() {
        metrics.request_cut(RequestCut::TimedOut);
        ApiError::unavailable("the request took longer than http.request_timeout_secs")
    } else {
        ApiError::internal(error)
    }
}
