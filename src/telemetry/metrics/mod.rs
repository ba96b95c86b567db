//! The metric catalogue, rendered in the Prometheus text format.
//!
//! Every label value comes from a closed enum or from the router's route templates, never
//! from a room, user, token id or raw path, so the series count is fixed at start-up.
//! Series are plain atomics indexed by those enums: recording on the token path is a
//! couple of relaxed atomic adds, with no map lookup and no lock.

mod calls;
mod histogram;
mod labels;
mod render;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use calls::CallMetrics;
use histogram::Histogram;
pub use labels::*;

/// Status codes tracked one by one; anything else counts as `other`.
const STATUSES: &[u16] = &[
    200, 201, 204, 400, 401, 402, 403, 404, 405, 409, 410, 413, 415, 422, 429, 500, 503,
];

pub struct Metrics {
    routes: Vec<(&'static str, &'static str)>,
    /// `(template, method)` of every route but `unmatched`, sorted, with its index: found by
    /// binary search on every request rather than by comparing against each route in turn.
    route_index: Vec<((&'static str, &'static str), RouteId)>,
    http_requests: Vec<AtomicU64>,
    http_latency: Vec<Histogram>,
    tokens: Vec<AtomicU64>,
    cache_lookups: Vec<AtomicU64>,
    store_latency: Vec<Histogram>,
    store_backend: &'static str,
    redis_latency: Vec<Histogram>,
    redis_errors: AtomicU64,
    webhooks: Vec<AtomicU64>,
    invalidations_received: AtomicU64,
    live_commands: Vec<AtomicU64>,
    prosody_verdicts: Vec<AtomicU64>,
    matrix_changes: Vec<AtomicU64>,
    mastodon_calls: Vec<AtomicU64>,
    oidc_logouts: Vec<AtomicU64>,
    changes: Vec<AtomicU64>,
    connections_open: Vec<AtomicU64>,
    connections_refused: Vec<AtomicU64>,
    requests_cut: Vec<AtomicU64>,
    tip_notices: Vec<AtomicU64>,
    seats_refused: AtomicU64,
    /// Private calls (`roomkey_calls_*`).
    pub calls: CallMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Index of a route in the catalogue; [`Metrics::UNMATCHED`] for requests no route matched.
#[derive(Debug, Clone, Copy)]
pub struct RouteId(usize);

impl Metrics {
    pub const UNMATCHED: RouteId = RouteId(0);

    /// `routes` are `(method, template)` pairs as the router matches them.
    pub fn new(routes: &[(&'static str, &'static str)], store_backend: &'static str) -> Self {
        let mut all = vec![("ANY", "unmatched")];
        all.extend_from_slice(routes);
        let per_route = STATUSES.len() + 1;
        let mut route_index: Vec<_> = all
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, (method, template))| ((*template, *method), RouteId(i)))
            .collect();
        route_index.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Self {
            route_index,
            http_requests: (0..all.len() * per_route)
                .map(|_| AtomicU64::new(0))
                .collect(),
            http_latency: (0..all.len() * HttpOutcome::ALL.len())
                .map(|_| Histogram::new())
                .collect(),
            routes: all,
            tokens: TokenOutcome::ALL
                .iter()
                .map(|_| AtomicU64::new(0))
                .collect(),
            cache_lookups: (0..CacheName::ALL.len() * CacheTier::ALL.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            store_latency: StoreOp::ALL.iter().map(|_| Histogram::new()).collect(),
            store_backend,
            redis_latency: RedisOp::ALL.iter().map(|_| Histogram::new()).collect(),
            redis_errors: AtomicU64::new(0),
            webhooks: WebhookOutcome::ALL
                .iter()
                .map(|_| AtomicU64::new(0))
                .collect(),
            invalidations_received: AtomicU64::new(0),
            live_commands: (0..LiveCommand::ALL.len() * CommandOutcome::ALL.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            prosody_verdicts: ProsodyVerdict::ALL
                .iter()
                .map(|_| AtomicU64::new(0))
                .collect(),
            matrix_changes: (0..MatrixAction::ALL.len() * DeliveryOutcome::ALL.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            mastodon_calls: (0..MastodonAction::ALL.len() * DeliveryOutcome::ALL.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            oidc_logouts: DeliveryOutcome::ALL
                .iter()
                .map(|_| AtomicU64::new(0))
                .collect(),
            changes: (0..ChangeKind::ALL.len() * ChangeOutcome::ALL.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            connections_open: ListenerName::ALL
                .iter()
                .map(|_| AtomicU64::new(0))
                .collect(),
            connections_refused: ListenerName::ALL
                .iter()
                .map(|_| AtomicU64::new(0))
                .collect(),
            requests_cut: RequestCut::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            tip_notices: (0..TipChannel::ALL.len() * TipNoticeOutcome::ALL.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            seats_refused: AtomicU64::new(0),
            calls: CallMetrics::default(),
        }
    }

    pub fn connection_opened(&self, listener: ListenerName) {
        self.connections_open[listener.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self, listener: ListenerName) {
        self.connections_open[listener.index()].fetch_sub(1, Ordering::Relaxed);
    }

    pub fn connection_refused(&self, listener: ListenerName) {
        self.connections_refused[listener.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn request_cut(&self, why: RequestCut) {
        self.requests_cut[why.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn route_id(&self, method: &str, template: &str) -> RouteId {
        self.route_index
            .binary_search_by(|(key, _)| key.cmp(&(template, method)))
            .map_or(Self::UNMATCHED, |found| self.route_index[found].1)
    }

    pub fn observe_http(&self, route: RouteId, status: u16, elapsed: Duration) {
        let per_route = STATUSES.len() + 1;
        let status_index = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len());
        self.http_requests[route.0 * per_route + status_index].fetch_add(1, Ordering::Relaxed);
        let outcome = match status {
            500.. => HttpOutcome::ServerError,
            400.. => HttpOutcome::ClientError,
            _ => HttpOutcome::Success,
        };
        self.http_latency[route.0 * HttpOutcome::ALL.len() + outcome.index()].observe(elapsed);
    }

    pub fn token(&self, outcome: TokenOutcome) {
        self.tokens[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn cache_lookup(&self, cache: CacheName, tier: CacheTier) {
        self.cache_lookups[cache.index() * CacheTier::ALL.len() + tier.index()]
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn cache_lookups(&self, cache: CacheName, tier: CacheTier) -> u64 {
        self.cache_lookups[cache.index() * CacheTier::ALL.len() + tier.index()]
            .load(Ordering::Relaxed)
    }

    pub fn store_op(&self, op: StoreOp, elapsed: Duration) {
        self.store_latency[op.index()].observe(elapsed);
    }

    /// How many times `op` reached the store: what single-flight tests count.
    pub fn store_ops(&self, op: StoreOp) -> u64 {
        self.store_latency[op.index()].count.load(Ordering::Relaxed)
    }

    pub fn redis_op(&self, op: RedisOp, elapsed: Duration) {
        self.redis_latency[op.index()].observe(elapsed);
    }

    pub fn redis_error(&self) {
        self.redis_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Payment notifications are counted by outcome (ePayco is the one provider so far).
    pub fn webhook(&self, outcome: WebhookOutcome) {
        self.webhooks[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn live_command(&self, command: LiveCommand, outcome: CommandOutcome) {
        self.live_commands[command.index() * CommandOutcome::ALL.len() + outcome.index()]
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn live_commands(&self, command: LiveCommand, outcome: CommandOutcome) -> u64 {
        self.live_commands[command.index() * CommandOutcome::ALL.len() + outcome.index()]
            .load(Ordering::Relaxed)
    }

    pub fn tip_notice(&self, channel: TipChannel, outcome: TipNoticeOutcome) {
        self.tip_notices[channel.index() * TipNoticeOutcome::ALL.len() + outcome.index()]
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn tip_notices(&self, channel: TipChannel, outcome: TipNoticeOutcome) -> u64 {
        self.tip_notices[channel.index() * TipNoticeOutcome::ALL.len() + outcome.index()]
            .load(Ordering::Relaxed)
    }

    pub fn matrix_change(&self, action: MatrixAction, outcome: DeliveryOutcome) {
        self.matrix_changes[action.index() * DeliveryOutcome::ALL.len() + outcome.index()]
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn matrix_changes(&self, action: MatrixAction, outcome: DeliveryOutcome) -> u64 {
        self.matrix_changes[action.index() * DeliveryOutcome::ALL.len() + outcome.index()]
            .load(Ordering::Relaxed)
    }

    pub fn mastodon_call(&self, action: MastodonAction, outcome: DeliveryOutcome) {
        self.mastodon_calls[action.index() * DeliveryOutcome::ALL.len() + outcome.index()]
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn mastodon_calls(&self, action: MastodonAction, outcome: DeliveryOutcome) -> u64 {
        self.mastodon_calls[action.index() * DeliveryOutcome::ALL.len() + outcome.index()]
            .load(Ordering::Relaxed)
    }

    pub fn oidc_logout(&self, outcome: DeliveryOutcome) {
        self.oidc_logouts[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn oidc_logouts(&self, outcome: DeliveryOutcome) -> u64 {
        self.oidc_logouts[outcome.index()].load(Ordering::Relaxed)
    }

    pub fn change(&self, kind: ChangeKind, outcome: ChangeOutcome) {
        self.changes[kind.index() * ChangeOutcome::ALL.len() + outcome.index()]
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn changes(&self, kind: ChangeKind, outcome: ChangeOutcome) -> u64 {
        self.changes[kind.index() * ChangeOutcome::ALL.len() + outcome.index()]
            .load(Ordering::Relaxed)
    }

    pub fn prosody_verdict(&self, verdict: ProsodyVerdict) {
        self.prosody_verdicts[verdict.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn invalidation_received(&self) {
        self.invalidations_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn tokens_total(&self, outcome: TokenOutcome) -> u64 {
        self.tokens[outcome.index()].load(Ordering::Relaxed)
    }

    /// A viewer refused a token because roomkey sees the room's seats all taken.
    pub fn seat_refused(&self) {
        self.seats_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn seats_refused(&self) -> u64 {
        self.seats_refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_catalogue_finds_its_own_series() {
        let routes = [
            ("GET", "/api/rooms/{room}"),
            ("POST", "/api/rooms/{room}/token"),
            ("DELETE", "/api/admin/bans/{id}"),
            ("GET", "/healthz"),
            ("POST", "/api/admin/bans/{id}"),
        ];
        let metrics = Metrics::new(&routes, "sqlite");
        for (i, (method, template)) in routes.iter().enumerate() {
            assert_eq!(
                metrics.route_id(method, template).0,
                i + 1,
                "{method} {template}"
            );
        }
        assert_eq!(metrics.route_id("PUT", "/api/rooms/{room}/token").0, 0);
        assert_eq!(metrics.route_id("GET", "/nowhere").0, 0);
    }
}
