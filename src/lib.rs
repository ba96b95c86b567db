//! roomkey: the token authority between a paid live-show platform and Jitsi Meet.
//!
//! # Layout
//! - [`domain`]: identifiers, room names, roles, money, and the facts kept (users, rooms,
//!   entitlements, bans).
//! - [`store`]: the SQL source of truth (PostgreSQL or embedded SQLite) and its migrations.
//! - [`telemetry`]: logging and the Prometheus metric catalogue.
//! - [`config`], [`clock`]: typed configuration validated at start-up; injectable time.

pub mod clock;
pub mod config;
pub mod domain;
pub mod store;
pub mod telemetry;
