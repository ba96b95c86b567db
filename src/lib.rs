//! roomkey: the token authority between a paid live-show platform and Jitsi Meet.
//!
//! # Layout
//! - [`domain`]: identifiers, room names, roles, money, and the facts kept (users, rooms,
//!   entitlements, bans, payment intents).
//! - [`access`]: the access rule (`access::policy`: the ban check, the entitlement check)
//!   and the hot-path service that feeds it from the caches.
//! - [`authz`]: who may manage what (moderate a room, ban, read revenue, act as staff),
//!   each rule handing out a proof the services take.
//! - [`tokens`]: Jitsi JWTs, signing keys and rotation, strict verification, the token path.
//! - [`identity`]: sign-up, login, argon2id, platform sessions.
//! - [`rooms`], [`entitlements`], [`moderation`]: the services that change those facts.
//! - [`payments`]: checkout intents, provider notifications, the ledger.
//! - [`live`]: enforcement in running video rooms: commands to the Prosody shards
//!   (kick, revalidate, end) and the verdicts `mod_roomkey` asks for.
//! - [`matrix`]: the chat rooms in Synapse that follow entitlements: the outbox of invites,
//!   kicks and bans, its worker, the reconcile, the application service client; community
//!   rooms kept to a membership rule, linked Matrix accounts, moderators' power levels.
//! - [`join`]: the join page Jitsi Meet's `tokenAuthUrl` sends a visitor without a token
//!   to: sign in or up, pay, or be sent back to the room with a token; its languages and
//!   its HTML.
//! - [`oidc`]: roomkey as the platform's OpenID Provider: registered clients, the
//!   authorization request, codes, ID/access/refresh tokens and the OIDC sessions that
//!   hold them; sign-in itself is the join page's.
//! - [`attendance`]: who was in a room and for how long, as Prosody reports it.
//! - [`shows`]: `/api/events`: one call makes the room, its chat and its announcement;
//!   reschedule, reprice, end.
//! - [`mastodon`]: announcements and account actions on the platform's Mastodon, through
//!   an outbox and its worker.
//! - [`performers`]: performer verification (apply, approve, reject, revoke).
//! - [`stats`]: the numbers a performer wants, per show and across shows: viewers, peak
//!   concurrency, watch time, joins over time, revenue.
//! - [`cache`]: the in-process → Redis → SQL tiers and the invalidation bus.
//! - [`store`]: the SQL source of truth (PostgreSQL or embedded SQLite); all SQL lives here.
//! - [`http`]: router, extractors, the error table, thin handlers.
//! - [`outbound`]: the HTTP client for calls to other services.
//! - [`app`]: wiring and serving; [`config`], [`clock`], [`ids`], [`telemetry`]: plumbing.

pub mod access;
pub mod app;
pub mod attendance;
pub mod authz;
pub mod cache;
pub mod calls;
pub mod changes;
pub mod clock;
pub mod config;
pub mod domain;
pub mod entitlements;
pub mod http;
pub mod identity;
pub mod ids;
pub mod join;
pub mod live;
pub mod mastodon;
pub mod matrix;
pub mod moderation;
pub mod oidc;
pub mod outbound;
pub mod payments;
pub mod performers;
pub mod rooms;
pub mod shows;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod tokens;
