//! The metric catalogue, rendered in the Prometheus text format.
//!
//! Every label value comes from a closed enum or from the router's route templates, never
//! from a room, user, token id or raw path, so the series count is fixed at start-up.
//! Series are counters indexed by those enums: recording on the token path is a couple of
//! relaxed atomic adds to this thread's own stripe ([`super::striped`]), with no map
//! lookup, no lock and no cache line shared with another core.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::striped::StripedCounters;

/// Latency buckets (seconds) fit for a sub-millisecond hot path and slow SQL alike.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
];

/// Latency histograms, each laid out as its bucket counters, then its count, then its sum
/// in nanoseconds.
#[derive(Debug)]
struct Histograms {
    cells: StripedCounters,
}

const HISTOGRAM_CELLS: usize = LATENCY_BUCKETS.len() + 2;
const COUNT_CELL: usize = LATENCY_BUCKETS.len();
const SUM_CELL: usize = LATENCY_BUCKETS.len() + 1;

impl Histograms {
    fn new(histograms: usize) -> Self {
        Self {
            cells: StripedCounters::new(histograms * HISTOGRAM_CELLS),
        }
    }

    fn observe(&self, histogram: usize, elapsed: Duration) {
        let base = histogram * HISTOGRAM_CELLS;
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            self.cells.increment(base + i);
        }
        self.cells.increment(base + COUNT_CELL);
        self.cells.add(base + SUM_CELL, elapsed.as_nanos() as u64);
    }

    fn count(&self, histogram: usize) -> u64 {
        self.cells.get(histogram * HISTOGRAM_CELLS + COUNT_CELL)
    }

    fn render(&self, histogram: usize, out: &mut String, name: &str, labels: &str) {
        let base = histogram * HISTOGRAM_CELLS;
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.cells.get(base + i);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.count(histogram);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.cells.get(base + SUM_CELL) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// Declares a closed label enum with its Prometheus values.
macro_rules! label_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $value),+ }
            }
            /// The variant whose label is `text`.
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
            fn index(self) -> usize { self as usize }
        }
    };
}

label_enum!(
    /// Why a token request ended the way it did.
    TokenOutcome {
        Issued => "issued",
        Reused => "reused",
        Banned => "banned",
        PaymentRequired => "payment_required",
        InviteRequired => "invite_required",
        NotYetValid => "not_yet_valid",
        RoomEnded => "room_ended",
        RoomNotFound => "room_not_found",
        Unavailable => "unavailable",
    }
);

label_enum!(
    /// Which cache a lookup went to.
    CacheName { UserFacts => "user_facts", Rooms => "rooms" }
);

label_enum!(
    /// Which tier answered a cache lookup.
    CacheTier { Memory => "memory", Redis => "redis", Sql => "sql" }
);

label_enum!(
    /// Store operations, timed per backend.
    StoreOp {
        FindUser => "find_user",
        FindRoom => "find_room",
        FindBans => "find_bans",
        FindEntitlements => "find_entitlements",
        Write => "write",
        Stats => "stats",
        Other => "other",
    }
);

label_enum!(
    /// Redis operations, timed.
    RedisOp { CacheGet => "cache_get", CacheSet => "cache_set", Invalidate => "invalidate" }
);

label_enum!(
    /// What a payment notification did.
    WebhookOutcome {
        Granted => "granted",
        Held => "held",
        Denied => "denied",
        Revoked => "revoked",
        Ignored => "ignored",
        Duplicate => "duplicate",
        Rejected => "rejected",
        Failed => "failed",
    }
);

label_enum!(
    /// A command sent to a Prosody shard.
    LiveCommand { Kick => "kick", Revalidate => "revalidate", EndRoom => "end_room" }
);

label_enum!(
    /// How a command to one shard ended (after its retries).
    CommandOutcome { Delivered => "delivered", Failed => "failed" }
);

label_enum!(
    /// A change delivered to the Matrix homeserver.
    MatrixAction {
        CreateRoom => "create_room",
        Provision => "provision",
        Invite => "invite",
        Kick => "kick",
        Ban => "ban",
        Unban => "unban",
        Archive => "archive",
        PowerLevels => "power_levels",
        CreateCommunity => "create_community",
        SyncCommunity => "sync_community",
        Forget => "forget",
    }
);

label_enum!(
    /// How one delivery attempt of an outbox entry (a Matrix change, a Mastodon call) ended.
    DeliveryOutcome { Delivered => "delivered", Skipped => "skipped", Retried => "retried", Failed => "failed" }
);

label_enum!(
    /// A call made to the platform's Mastodon.
    MastodonAction {
        Announce => "announce",
        Edit => "edit",
        Reply => "reply",
        AccountAction => "account_action",
    }
);

label_enum!(
    /// What roomkey answered Prosody about one occupant.
    ProsodyVerdict { Allow => "allow", Deny => "deny" }
);

label_enum!(
    /// Coarse outcome of an HTTP request, for latency histograms.
    HttpOutcome { Success => "success", ClientError => "client_error", ServerError => "server_error" }
);

/// Status codes tracked one by one; anything else counts as `other`.
const STATUSES: &[u16] = &[
    200, 201, 204, 400, 401, 402, 403, 404, 405, 409, 410, 413, 415, 422, 429, 500, 503,
];

pub struct Metrics {
    routes: Vec<(&'static str, &'static str)>,
    http_requests: StripedCounters,
    http_latency: Histograms,
    tokens: StripedCounters,
    cache_lookups: StripedCounters,
    store_latency: Histograms,
    store_backend: &'static str,
    redis_latency: Histograms,
    redis_errors: AtomicU64,
    webhooks: StripedCounters,
    invalidations_received: AtomicU64,
    live_commands: StripedCounters,
    prosody_verdicts: StripedCounters,
    matrix_changes: StripedCounters,
    mastodon_calls: StripedCounters,
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
        Self {
            http_requests: StripedCounters::new(all.len() * per_route),
            http_latency: Histograms::new(all.len() * HttpOutcome::ALL.len()),
            routes: all,
            tokens: StripedCounters::new(TokenOutcome::ALL.len()),
            cache_lookups: StripedCounters::new(CacheName::ALL.len() * CacheTier::ALL.len()),
            store_latency: Histograms::new(StoreOp::ALL.len()),
            store_backend,
            redis_latency: Histograms::new(RedisOp::ALL.len()),
            redis_errors: AtomicU64::new(0),
            webhooks: StripedCounters::new(WebhookOutcome::ALL.len()),
            invalidations_received: AtomicU64::new(0),
            live_commands: StripedCounters::new(LiveCommand::ALL.len() * CommandOutcome::ALL.len()),
            prosody_verdicts: StripedCounters::new(ProsodyVerdict::ALL.len()),
            matrix_changes: StripedCounters::new(
                MatrixAction::ALL.len() * DeliveryOutcome::ALL.len(),
            ),
            mastodon_calls: StripedCounters::new(
                MastodonAction::ALL.len() * DeliveryOutcome::ALL.len(),
            ),
        }
    }

    pub fn route_id(&self, method: &str, template: &str) -> RouteId {
        self.routes
            .iter()
            .position(|(m, t)| *m == method && *t == template)
            .map(RouteId)
            .unwrap_or(Self::UNMATCHED)
    }

    pub fn observe_http(&self, route: RouteId, status: u16, elapsed: Duration) {
        let per_route = STATUSES.len() + 1;
        let status_index = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len());
        self.http_requests
            .increment(route.0 * per_route + status_index);
        let outcome = match status {
            500.. => HttpOutcome::ServerError,
            400.. => HttpOutcome::ClientError,
            _ => HttpOutcome::Success,
        };
        self.http_latency
            .observe(route.0 * HttpOutcome::ALL.len() + outcome.index(), elapsed);
    }

    pub fn token(&self, outcome: TokenOutcome) {
        self.tokens.increment(outcome.index());
    }

    pub fn cache_lookup(&self, cache: CacheName, tier: CacheTier) {
        self.cache_lookups
            .increment(cache.index() * CacheTier::ALL.len() + tier.index());
    }

    pub fn cache_lookups(&self, cache: CacheName, tier: CacheTier) -> u64 {
        self.cache_lookups
            .get(cache.index() * CacheTier::ALL.len() + tier.index())
    }

    pub fn store_op(&self, op: StoreOp, elapsed: Duration) {
        self.store_latency.observe(op.index(), elapsed);
    }

    /// How many times `op` reached the store: what single-flight tests count.
    pub fn store_ops(&self, op: StoreOp) -> u64 {
        self.store_latency.count(op.index())
    }

    pub fn redis_op(&self, op: RedisOp, elapsed: Duration) {
        self.redis_latency.observe(op.index(), elapsed);
    }

    pub fn redis_error(&self) {
        self.redis_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Payment notifications are counted by outcome (ePayco is the one provider so far).
    pub fn webhook(&self, outcome: WebhookOutcome) {
        self.webhooks.increment(outcome.index());
    }

    pub fn live_command(&self, command: LiveCommand, outcome: CommandOutcome) {
        self.live_commands
            .increment(command.index() * CommandOutcome::ALL.len() + outcome.index());
    }

    pub fn live_commands(&self, command: LiveCommand, outcome: CommandOutcome) -> u64 {
        self.live_commands
            .get(command.index() * CommandOutcome::ALL.len() + outcome.index())
    }

    pub fn matrix_change(&self, action: MatrixAction, outcome: DeliveryOutcome) {
        self.matrix_changes
            .increment(action.index() * DeliveryOutcome::ALL.len() + outcome.index());
    }

    pub fn matrix_changes(&self, action: MatrixAction, outcome: DeliveryOutcome) -> u64 {
        self.matrix_changes
            .get(action.index() * DeliveryOutcome::ALL.len() + outcome.index())
    }

    pub fn mastodon_call(&self, action: MastodonAction, outcome: DeliveryOutcome) {
        self.mastodon_calls
            .increment(action.index() * DeliveryOutcome::ALL.len() + outcome.index());
    }

    pub fn mastodon_calls(&self, action: MastodonAction, outcome: DeliveryOutcome) -> u64 {
        self.mastodon_calls
            .get(action.index() * DeliveryOutcome::ALL.len() + outcome.index())
    }

    pub fn prosody_verdict(&self, verdict: ProsodyVerdict) {
        self.prosody_verdicts.increment(verdict.index());
    }

    pub fn invalidation_received(&self) {
        self.invalidations_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn tokens_total(&self, outcome: TokenOutcome) -> u64 {
        self.tokens.get(outcome.index())
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let per_route = STATUSES.len() + 1;

        header(
            &mut out,
            "roomkey_http_requests_total",
            "counter",
            "HTTP requests by route, method and status.",
        );
        for (r, (method, route)) in self.routes.iter().enumerate() {
            for s in 0..per_route {
                let n = self.http_requests.get(r * per_route + s);
                if n > 0 {
                    let status = STATUSES
                        .get(s)
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "other".into());
                    let _ = writeln!(
                        out,
                        "roomkey_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }

        header(
            &mut out,
            "roomkey_http_request_duration_seconds",
            "histogram",
            "HTTP request latency by route and outcome.",
        );
        for (r, (method, route)) in self.routes.iter().enumerate() {
            for outcome in HttpOutcome::ALL {
                let h = r * HttpOutcome::ALL.len() + outcome.index();
                if self.http_latency.count(h) > 0 {
                    let labels = format!(
                        "method=\"{method}\",route=\"{route}\",outcome=\"{}\"",
                        outcome.as_str()
                    );
                    self.http_latency.render(
                        h,
                        &mut out,
                        "roomkey_http_request_duration_seconds",
                        &labels,
                    );
                }
            }
        }

        header(
            &mut out,
            "roomkey_tokens_total",
            "counter",
            "Jitsi token requests by outcome (issued, reused, or the refusal reason).",
        );
        for outcome in TokenOutcome::ALL {
            let _ = writeln!(
                out,
                "roomkey_tokens_total{{outcome=\"{}\"}} {}",
                outcome.as_str(),
                self.tokens.get(outcome.index())
            );
        }

        header(
            &mut out,
            "roomkey_cache_lookups_total",
            "counter",
            "Access-data lookups by cache and the tier that answered.",
        );
        for cache in CacheName::ALL {
            for tier in CacheTier::ALL {
                let _ = writeln!(
                    out,
                    "roomkey_cache_lookups_total{{cache=\"{}\",tier=\"{}\"}} {}",
                    cache.as_str(),
                    tier.as_str(),
                    self.cache_lookups(*cache, *tier)
                );
            }
        }

        header(
            &mut out,
            "roomkey_store_operation_duration_seconds",
            "histogram",
            "SQL store latency by operation.",
        );
        for op in StoreOp::ALL {
            let labels = format!("backend=\"{}\",op=\"{}\"", self.store_backend, op.as_str());
            self.store_latency.render(
                op.index(),
                &mut out,
                "roomkey_store_operation_duration_seconds",
                &labels,
            );
        }

        header(
            &mut out,
            "roomkey_redis_operation_duration_seconds",
            "histogram",
            "Redis latency by operation.",
        );
        for op in RedisOp::ALL {
            let labels = format!("op=\"{}\"", op.as_str());
            self.redis_latency.render(
                op.index(),
                &mut out,
                "roomkey_redis_operation_duration_seconds",
                &labels,
            );
        }

        header(
            &mut out,
            "roomkey_payment_webhooks_total",
            "counter",
            "Payment notifications by provider and outcome.",
        );
        for outcome in WebhookOutcome::ALL {
            let _ = writeln!(
                out,
                "roomkey_payment_webhooks_total{{provider=\"epayco\",outcome=\"{}\"}} {}",
                outcome.as_str(),
                self.webhooks.get(outcome.index())
            );
        }

        header(
            &mut out,
            "roomkey_live_commands_total",
            "counter",
            "Commands to Prosody shards, per shard, by command and final outcome.",
        );
        for command in LiveCommand::ALL {
            for outcome in CommandOutcome::ALL {
                let _ = writeln!(
                    out,
                    "roomkey_live_commands_total{{command=\"{}\",outcome=\"{}\"}} {}",
                    command.as_str(),
                    outcome.as_str(),
                    self.live_commands(*command, *outcome)
                );
            }
        }

        header(
            &mut out,
            "roomkey_matrix_changes_total",
            "counter",
            "Delivery attempts of changes to the Matrix homeserver, by action and outcome.",
        );
        for action in MatrixAction::ALL {
            for outcome in DeliveryOutcome::ALL {
                let _ = writeln!(
                    out,
                    "roomkey_matrix_changes_total{{action=\"{}\",outcome=\"{}\"}} {}",
                    action.as_str(),
                    outcome.as_str(),
                    self.matrix_changes(*action, *outcome)
                );
            }
        }

        header(
            &mut out,
            "roomkey_mastodon_calls_total",
            "counter",
            "Attempts of calls to the platform's Mastodon, by action and outcome.",
        );
        for action in MastodonAction::ALL {
            for outcome in DeliveryOutcome::ALL {
                let _ = writeln!(
                    out,
                    "roomkey_mastodon_calls_total{{action=\"{}\",outcome=\"{}\"}} {}",
                    action.as_str(),
                    outcome.as_str(),
                    self.mastodon_calls(*action, *outcome)
                );
            }
        }

        header(
            &mut out,
            "roomkey_prosody_verdicts_total",
            "counter",
            "Verdicts answered to Prosody for occupants and joins.",
        );
        for verdict in ProsodyVerdict::ALL {
            let _ = writeln!(
                out,
                "roomkey_prosody_verdicts_total{{verdict=\"{}\"}} {}",
                verdict.as_str(),
                self.prosody_verdicts.get(verdict.index())
            );
        }

        header(
            &mut out,
            "roomkey_redis_errors_total",
            "counter",
            "Redis calls that failed (the SQL store answered instead).",
        );
        let _ = writeln!(
            out,
            "roomkey_redis_errors_total {}",
            self.redis_errors.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "roomkey_cache_invalidations_received_total",
            "counter",
            "Cache invalidations applied from the bus.",
        );
        let _ = writeln!(
            out,
            "roomkey_cache_invalidations_received_total {}",
            self.invalidations_received.load(Ordering::Relaxed)
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_closed_label_sets_only() {
        let metrics = Metrics::new(&[("POST", "/api/rooms/{room}/token")], "sqlite");
        let route = metrics.route_id("POST", "/api/rooms/{room}/token");
        metrics.observe_http(route, 200, Duration::from_micros(300));
        metrics.observe_http(Metrics::UNMATCHED, 404, Duration::from_micros(10));
        metrics.token(TokenOutcome::Issued);
        let text = metrics.render();
        assert!(text.contains(
            "roomkey_http_requests_total{method=\"POST\",route=\"/api/rooms/{room}/token\",status=\"200\"} 1"
        ));
        assert!(text.contains("route=\"unmatched\",status=\"404\"} 1"));
        assert!(text.contains("roomkey_tokens_total{outcome=\"issued\"} 1"));
        assert!(text.contains(
            "roomkey_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/rooms/{room}/token\",outcome=\"success\",le=\"0.0005\"} 1"
        ));
    }
}
