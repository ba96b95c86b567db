#![allow(
    unreachable_pub,
    reason = "test helpers are shared between test modules, not exported"
)]

//! Black-box tests of the HTTP API against real stores: one test per backend (SQLite, and
//! PostgreSQL with Redis), made by `per_backend!` in `helpers.rs`.

// First, so that `per_backend!` is in scope in the modules below.
#[macro_use]
mod helpers;

mod epayco_server;
mod hygiene;
mod mastodon_mock;
#[path = "../support/mod.rs"]
mod support;
mod synapse;

mod admin;
mod auth;
mod caching;
mod calls;
mod changes;
mod events;
mod join;
mod keys;
mod live;
mod matrix;
mod moderation;
mod oidc;
mod oidc_consent;
mod oidc_keys;
mod oidc_logout;
mod oidc_mastodon;
mod oidc_refusals;
mod ops;
mod payments;
mod seats;
mod service_keys;
mod sessions;
mod stats;
mod tips;
mod tokens;
