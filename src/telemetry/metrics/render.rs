//! The Prometheus text exposition of the catalogue, one function per metric family, each
//! writing its `# HELP`/`# TYPE` header and then its series in a fixed order.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::{
    CacheName, CacheTier, ChangeKind, ChangeOutcome, CommandOutcome, DeliveryOutcome, HttpOutcome,
    ListenerName, LiveCommand, MastodonAction, MatrixAction, Metrics, ProsodyVerdict, RedisOp,
    RequestCut, StoreOp, TipChannel, TipNoticeOutcome, TokenOutcome, WebhookOutcome, STATUSES,
};

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        self.render_http_requests(&mut out);
        self.render_http_latency(&mut out);
        self.render_tokens(&mut out);
        self.render_cache_lookups(&mut out);
        self.render_store_latency(&mut out);
        self.render_redis_latency(&mut out);
        self.render_webhooks(&mut out);
        self.render_live_commands(&mut out);
        self.render_matrix_changes(&mut out);
        self.render_tip_notices(&mut out);
        self.render_mastodon_calls(&mut out);
        self.render_oidc_logouts(&mut out);
        self.render_changes(&mut out);
        self.render_prosody_verdicts(&mut out);
        self.render_redis_errors(&mut out);
        self.render_invalidations(&mut out);
        self.render_connections(&mut out);
        self.render_requests_cut(&mut out);
        self.render_seats_refused(&mut out);
        self.calls.render(&mut out);
        out
    }

    fn render_http_requests(&self, out: &mut String) {
        header(
            out,
            "roomkey_http_requests_total",
            "counter",
            "HTTP requests by route, method and status.",
        );
        let per_route = STATUSES.len() + 1;
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
    }

    fn render_http_latency(&self, out: &mut String) {
        header(
            out,
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
                    h.render(out, "roomkey_http_request_duration_seconds", &labels);
                }
            }
        }
    }

    fn render_tokens(&self, out: &mut String) {
        header(
            out,
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
    }

    fn render_cache_lookups(&self, out: &mut String) {
        header(
            out,
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
    }

    fn render_store_latency(&self, out: &mut String) {
        header(
            out,
            "roomkey_store_operation_duration_seconds",
            "histogram",
            "SQL store latency by operation.",
        );
        for op in StoreOp::ALL {
            let labels = format!("backend=\"{}\",op=\"{}\"", self.store_backend, op.as_str());
            self.store_latency[op.index()].render(
                out,
                "roomkey_store_operation_duration_seconds",
                &labels,
            );
        }
    }

    fn render_redis_latency(&self, out: &mut String) {
        header(
            out,
            "roomkey_redis_operation_duration_seconds",
            "histogram",
            "Redis latency by operation.",
        );
        for op in RedisOp::ALL {
            let labels = format!("op=\"{}\"", op.as_str());
            self.redis_latency[op.index()].render(
                out,
                "roomkey_redis_operation_duration_seconds",
                &labels,
            );
        }
    }

    fn render_webhooks(&self, out: &mut String) {
        header(
            out,
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
    }

    fn render_live_commands(&self, out: &mut String) {
        header(
            out,
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
    }

    fn render_tip_notices(&self, out: &mut String) {
        header(
            out,
            "roomkey_tip_notices_total",
            "counter",
            "Confirmed tips announced, by where (the running room, its Matrix chat) and outcome.",
        );
        for channel in TipChannel::ALL {
            for outcome in TipNoticeOutcome::ALL {
                let _ = writeln!(
                    out,
                    "roomkey_tip_notices_total{{channel=\"{}\",outcome=\"{}\"}} {}",
                    channel.as_str(),
                    outcome.as_str(),
                    self.tip_notices(*channel, *outcome)
                );
            }
        }
    }

    fn render_matrix_changes(&self, out: &mut String) {
        header(
            out,
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
    }

    fn render_mastodon_calls(&self, out: &mut String) {
        header(
            out,
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
    }

    fn render_oidc_logouts(&self, out: &mut String) {
        header(
            out,
            "roomkey_oidc_backchannel_logouts_total",
            "counter",
            "Attempts to deliver a back-channel logout token to a relying party, by outcome.",
        );
        for outcome in DeliveryOutcome::ALL {
            let _ = writeln!(
                out,
                "roomkey_oidc_backchannel_logouts_total{{outcome=\"{}\"}} {}",
                outcome.as_str(),
                self.oidc_logouts(*outcome)
            );
        }
    }

    fn render_changes(&self, out: &mut String) {
        header(
            out,
            "roomkey_changes_total",
            "counter",
            "Changed facts handed to the subscribers (caches, shards, Matrix, Mastodon), by change and outcome.",
        );
        for kind in ChangeKind::ALL {
            for outcome in ChangeOutcome::ALL {
                let _ = writeln!(
                    out,
                    "roomkey_changes_total{{change=\"{}\",outcome=\"{}\"}} {}",
                    kind.as_str(),
                    outcome.as_str(),
                    self.changes(*kind, *outcome)
                );
            }
        }
    }

    fn render_prosody_verdicts(&self, out: &mut String) {
        header(
            out,
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
    }

    fn render_redis_errors(&self, out: &mut String) {
        header(
            out,
            "roomkey_redis_errors_total",
            "counter",
            "Redis calls that failed (the SQL store answered instead).",
        );
        let _ = writeln!(
            out,
            "roomkey_redis_errors_total {}",
            self.redis_errors.load(Ordering::Relaxed)
        );
    }

    fn render_invalidations(&self, out: &mut String) {
        header(
            out,
            "roomkey_cache_invalidations_received_total",
            "counter",
            "Cache invalidations applied from the bus.",
        );
        let _ = writeln!(
            out,
            "roomkey_cache_invalidations_received_total {}",
            self.invalidations_received.load(Ordering::Relaxed)
        );
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
    }

    fn render_requests_cut(&self, out: &mut String) {
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

    fn render_seats_refused(&self, out: &mut String) {
        header(
            out,
            "roomkey_seats_refused_total",
            "counter",
            "Token requests refused because every seat of a room with a capacity was taken (room_full).",
        );
        let _ = writeln!(out, "roomkey_seats_refused_total {}", self.seats_refused());
    }
}

pub(super) fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
