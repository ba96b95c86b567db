//! The metric catalogue, rendered in the Prometheus text format.
//!
//! Every label value comes from a closed enum or from the router's route templates, never
//! from a room, user, token id or raw path, so the series count is fixed at start-up.
//! Series are plain atomics indexed by those enums: recording on the token path is a
//! couple of relaxed atomic adds, with no map lookup and no lock.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency buckets (seconds) fit for a sub-millisecond hot path and slow SQL alike.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
];

#[derive(Debug)]
struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Self {
            buckets: LATENCY_BUCKETS.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
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
        FindUserFacts => "find_user_facts",
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
    /// Which listener a connection came to.
    ListenerName { Public => "public", Ops => "ops" }
);

label_enum!(
    /// Why a request was answered 503 before its handler finished.
    RequestCut { Shed => "shed", TimedOut => "timed_out" }
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
    connections_open: Vec<AtomicU64>,
    connections_refused: Vec<AtomicU64>,
    requests_cut: Vec<AtomicU64>,
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
            connections_open: ListenerName::ALL
                .iter()
                .map(|_| AtomicU64::new(0))
                .collect(),
            connections_refused: ListenerName::ALL
                .iter()
                .map(|_| AtomicU64::new(0))
                .collect(),
            requests_cut: RequestCut::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
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

    pub fn prosody_verdict(&self, verdict: ProsodyVerdict) {
        self.prosody_verdicts[verdict.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn invalidation_received(&self) {
        self.invalidations_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn tokens_total(&self, outcome: TokenOutcome) -> u64 {
        self.tokens[outcome.index()].load(Ordering::Relaxed)
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
                let n = self.http_requests[r * per_route + s].load(Ordering::Relaxed);
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
                let h = &self.http_latency[r * HttpOutcome::ALL.len() + outcome.index()];
                if h.count.load(Ordering::Relaxed) > 0 {
                    let labels = format!(
                        "method=\"{method}\",route=\"{route}\",outcome=\"{}\"",
                        outcome.as_str()
                    );
                    h.render(&mut out, "roomkey_http_request_duration_seconds", &labels);
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
                self.tokens[outcome.index()].load(Ordering::Relaxed)
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
            self.store_latency[op.index()].render(
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
            self.redis_latency[op.index()].render(
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
                self.webhooks[outcome.index()].load(Ordering::Relaxed)
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
                self.prosody_verdicts[verdict.index()].load(Ordering::Relaxed)
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
        self.render_connections(&mut out);
        out
    }

    fn render_connections(&self, out: &mut String) {
        header(
            out,
            "roomkey_http_connections",
            "gauge",
            "Connections open, by listener.",
        );
        for listener in ListenerName::ALL {
            let _ = writeln!(
                out,
                "roomkey_http_connections{{listener=\"{}\"}} {}",
                listener.as_str(),
                self.connections_open[listener.index()].load(Ordering::Relaxed)
            );
        }
        header(
            out,
            "roomkey_http_connections_refused_total",
            "counter",
            "Connections answered 503 and closed because the listener had http.max_connections open.",
        );
        for listener in ListenerName::ALL {
            let _ = writeln!(
                out,
                "roomkey_http_connections_refused_total{{listener=\"{}\"}} {}",
                listener.as_str(),
                self.connections_refused[listener.index()].load(Ordering::Relaxed)
            );
        }
        header(
            out,
            "roomkey_http_requests_cut_total",
            "counter",
            "Requests answered 503 before their handler finished: shed (http.max_requests_in_flight reached) or timed out (http.request_timeout_secs).",
        );
        for why in RequestCut::ALL {
            let _ = writeln!(
                out,
                "roomkey_http_requests_cut_total{{reason=\"{}\"}} {}",
                why.as_str(),
                self.requests_cut[why.index()].load(Ordering::Relaxed)
            );
        }
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
