//! What every handler can reach: the services, built once in `App::build`.

use std::ops::Deref;
use std::sync::Arc;

use super::extract::ApiKeys;
use super::rate_limit::RateLimiter;
use crate::access::AccessService;
use crate::attendance::AttendanceService;
use crate::cache::Bus;
use crate::clock::Clock;
use crate::entitlements::EntitlementService;
use crate::identity::IdentityService;
use crate::live::LiveEnforcer;
use crate::matrix::MatrixService;
use crate::moderation::BanService;
use crate::rooms::RoomService;
use crate::store::Store;
use crate::telemetry::metrics::Metrics;
use crate::tokens::TokenAuthority;

pub struct Services {
    pub store: Store,
    pub bus: Arc<Bus>,
    pub access: Arc<AccessService>,
    pub tokens: TokenAuthority,
    pub identity: IdentityService,
    pub rooms: Arc<RoomService>,
    pub shows: crate::shows::ShowService,
    pub performers: crate::performers::VerificationService,
    pub entitlements: EntitlementService,
    pub bans: BanService,
    pub payments: crate::payments::PaymentService,
    pub live: Arc<LiveEnforcer>,
    /// The change outbox's dispatcher (its worker runs in the background).
    pub changes: Arc<crate::changes::Dispatcher>,
    pub matrix: Arc<MatrixService>,
    pub mastodon: Arc<crate::mastodon::MastodonService>,
    pub attendance: AttendanceService,
    pub stats: crate::stats::StatsService,
    pub audit: Arc<crate::moderation::AuditLog>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub api_keys: ApiKeys,
    pub auth_limit: RateLimiter,
    pub token_limit: RateLimiter,
    pub public_url: String,
    pub meet_url: String,
    pub join: crate::join::JoinSettings,
    pub trust_forwarded_for: bool,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Services>);

impl Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}
