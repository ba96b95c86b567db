//! The HTTP edge: routing, extraction, error mapping. No business logic lives here.

pub mod error;
pub mod extract;
pub mod middleware;
pub mod openapi;
pub mod params;
pub mod rate_limit;
pub mod routes;
pub mod server;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;

use error::{ApiError, ErrorCode};
use state::{AppState, Services};

use crate::telemetry::metrics::{Metrics, RequestCut};

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
    /// The benchmark's unauthenticated sign-only endpoint and its bare `GET /bench/hello`
    /// (outside every layer): only `roomkey-bench-server` (feature `bench`) ever sets it,
    /// and only on loopback.
    pub bench_sign: bool,
}

/// The public API.
pub fn router(services: Arc<Services>, limits: RequestLimits, extras: Extras) -> Router {
    let mut router = routes::table::api();
    #[cfg(feature = "bench")]
    if extras.bench_sign {
        router = router.merge(routes::table::bench());
    }
    if extras.ops {
        router = router.merge(routes::table::ops());
    }
    let router = finish(router, services, limits);
    #[cfg(feature = "bench")]
    if extras.bench_sign {
        // Merged after the layers, so it runs none of them: the stack's floor.
        return router.merge(routes::bench::hello_router());
    }
    router
}

/// `/metrics`, `/healthz` and `/readyz` on their own listener.
pub fn ops_router(services: Arc<Services>) -> Router {
    finish(
        routes::table::ops().merge(routes::table::health()),
        services,
        RequestLimits {
            max_body_bytes: 1024,
            timeout: Duration::from_secs(10),
            max_in_flight: 64,
        },
    )
}

fn finish(router: Router<AppState>, services: Arc<Services>, limits: RequestLimits) -> Router {
    let metrics = services.metrics.clone();
    let state = AppState::new(services);
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
    // One `layer` call for the whole stack (outermost first): each `Router::layer` wraps
    // every route in a boxed service of its own, cloned on every request, so three calls
    // cost three boxes and their clones per request where one costs one.
    let stack = tower::ServiceBuilder::new()
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .layer(cut);
    router
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ErrorCode::MethodNotAllowed, "method not allowed here")
        })
        .layer(stack)
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
