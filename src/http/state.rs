//! The services, built once in `App::build`, and the narrow views of them that handlers take.
//!
//! A handler extracts one sub-state (`State<TokenState>`, `State<AdminState>`, …) through
//! `FromRef`, so its signature says which services it may touch and a new dependency shows
//! up in review as a new accessor. Every sub-state is one `Arc` pointing at the same
//! `Services`: extracting it costs a refcount increment, which keeps the token path as cheap
//! as when handlers took the whole state.

use std::sync::Arc;

use axum::extract::FromRef;

use super::extract::ApiKeys;
use super::rate_limit::RateLimiter;
use crate::access::AccessService;
use crate::attendance::AttendanceService;
use crate::cache::Bus;
use crate::calls::CallService;
use crate::changes::Dispatcher;
use crate::clock::Clock;
use crate::entitlements::EntitlementService;
use crate::identity::IdentityService;
use crate::join::JoinSettings;
use crate::live::LiveEnforcer;
use crate::mastodon::MastodonService;
use crate::matrix::MatrixService;
use crate::moderation::{AuditLog, BanService};
use crate::oidc::logout::BackchannelLogouts;
use crate::oidc::OidcService;
use crate::payments::PaymentService;
use crate::performers::VerificationService;
use crate::rooms::RoomService;
use crate::shows::ShowService;
use crate::stats::StatsService;
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
    pub shows: ShowService,
    pub performers: VerificationService,
    pub entitlements: EntitlementService,
    pub bans: BanService,
    pub payments: PaymentService,
    pub live: Arc<LiveEnforcer>,
    /// The change outbox's dispatcher (its worker runs in the background).
    pub changes: Arc<Dispatcher>,
    pub matrix: Arc<MatrixService>,
    pub mastodon: Arc<MastodonService>,
    pub oidc: OidcService,
    /// Back-channel logout's worker (for the background task and tests).
    pub logouts: Arc<BackchannelLogouts>,
    pub attendance: AttendanceService,
    pub stats: StatsService,
    /// Private calls (its meter runs in the background).
    pub calls: Arc<CallService>,
    pub audit: Arc<AuditLog>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub api_keys: ApiKeys,
    pub auth_limit: RateLimiter,
    pub token_limit: RateLimiter,
    /// The OpenID Provider's endpoints, per client address (`oidc.requests_per_minute`).
    pub oidc_limit: RateLimiter,
    pub public_url: String,
    pub meet_url: String,
    pub join: JoinSettings,
    pub trust_forwarded_for: bool,
}

/// The routers' state. It has no accessors of its own, so a handler cannot take it and reach
/// every service; it can only be turned into the sub-states below. The whole set of
/// services is for wiring (`App::build`, the background tasks) and for tests that drive a
/// worker or the store directly (`App::state`).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Arc<Services>) -> Self {
        Self(services)
    }
}

/// Declares a sub-state: a view of `Services` with one accessor per service it exposes.
macro_rules! sub_state {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Arc<Services>);

        impl FromRef<AppState> for $name {
            fn from_ref(state: &AppState) -> Self {
                Self(state.0.clone())
            }
        }

        impl $name {
            $(
                pub(crate) fn $field(&self) -> &$ty {
                    &self.0.$field
                }
            )*
        }
    };
}

sub_state! {
    /// What the caller extractors need to tell who is calling: API keys, sessions, the
    /// user's account, and whether a proxy's `X-Forwarded-For` is believed.
    AuthState {
        api_keys: ApiKeys,
        identity: IdentityService,
        access: AccessService,
    }
}

impl AuthState {
    pub(crate) fn trust_forwarded_for(&self) -> bool {
        self.0.trust_forwarded_for
    }
}

sub_state! {
    /// Accounts and sessions under `/api/auth`.
    AccountState {
        identity: IdentityService,
        access: AccessService,
        entitlements: EntitlementService,
        auth_limit: RateLimiter,
        clock: Arc<dyn Clock>,
        oidc: OidcService,
    }
}

sub_state! {
    /// The token path (`POST /api/rooms/{room}/token`, which the benchmark measures), the
    /// room description, and the published signing keys.
    TokenState {
        tokens: TokenAuthority,
        identity: IdentityService,
        access: AccessService,
        matrix: Arc<MatrixService>,
        token_limit: RateLimiter,
        meet_url: String,
        public_url: String,
    }
}

sub_state! {
    /// The server-rendered `/join` page: it signs visitors in, decides entry and hands out
    /// tokens and checkouts, so it needs a slice of several other sub-states.
    JoinState {
        join: JoinSettings,
        identity: IdentityService,
        access: AccessService,
        tokens: TokenAuthority,
        payments: PaymentService,
        token_limit: RateLimiter,
        auth_limit: RateLimiter,
        clock: Arc<dyn Clock>,
        meet_url: String,
        public_url: String,
        oidc: OidcService,
        oidc_limit: RateLimiter,
    }
}

sub_state! {
    /// The OpenID Provider's machine-facing endpoints: discovery, keys, token, userinfo,
    /// revocation. (Its browser-facing ones take `JoinState`, for the sign-in.)
    OidcState {
        oidc: OidcService,
        oidc_limit: RateLimiter,
    }
}

sub_state! {
    /// Staff and admin endpoints: accounts, rooms, entitlements and bans.
    AdminState {
        identity: IdentityService,
        rooms: Arc<RoomService>,
        entitlements: EntitlementService,
        bans: BanService,
    }
}

sub_state! {
    /// Room moderators acting on a live room: bans, kicks, ending it, the audit trail.
    ModerationState {
        access: AccessService,
        bans: BanService,
        audit: Arc<AuditLog>,
        rooms: Arc<RoomService>,
        live: Arc<LiveEnforcer>,
        attendance: AttendanceService,
        clock: Arc<dyn Clock>,
    }
}

sub_state! {
    /// The Prosody endpoints and their signed bodies: verdicts, attendance, the signer.
    LiveState {
        live: Arc<LiveEnforcer>,
        access: AccessService,
        attendance: AttendanceService,
        metrics: Arc<Metrics>,
        clock: Arc<dyn Clock>,
    }
}

sub_state! {
    /// Checkouts, provider webhooks, earnings and revenue.
    PaymentState {
        payments: PaymentService,
        access: AccessService,
    }
}

sub_state! {
    /// Scheduled shows and how they are announced (Mastodon) and chatted about (Matrix).
    EventState {
        shows: ShowService,
        mastodon: Arc<MastodonService>,
        matrix: Arc<MatrixService>,
        clock: Arc<dyn Clock>,
    }
}

sub_state! {
    /// Linking Matrix accounts and communities.
    ChatState {
        matrix: Arc<MatrixService>,
        token_limit: RateLimiter,
    }
}

sub_state! {
    /// Room and performer statistics.
    StatsState {
        stats: StatsService,
        access: AccessService,
    }
}

sub_state! {
    /// Performer verification.
    PerformerState {
        performers: VerificationService,
    }
}

sub_state! {
    /// Health, readiness and `/metrics`, and the request metrics every route records.
    OpsState {
        store: Store,
        bus: Arc<Bus>,
        metrics: Arc<Metrics>,
    }
}

sub_state! {
    /// Private calls: prices, requests, answers, the running call.
    CallApiState {
        calls: Arc<CallService>,
        token_limit: RateLimiter,
    }
}
