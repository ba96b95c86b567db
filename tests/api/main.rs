#![allow(
    unreachable_pub,
    reason = "test helpers are shared between test modules, not exported"
)]

//! Black-box tests of the HTTP API against real stores (SQLite always; PostgreSQL and
//! Redis when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are set).

mod epayco_server;
mod helpers;
mod hygiene;
mod mastodon_mock;
mod synapse;

mod admin;
mod auth;
mod caching;
mod changes;
mod events;
mod join;
mod keys;
mod live;
mod matrix;
mod moderation;
mod ops;
mod payments;
mod service_keys;
mod sessions;
mod stats;
mod tokens;
