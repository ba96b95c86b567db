//! roomkey: the token authority between a paid live-show platform and Jitsi Meet.
//!
//! # Layout
//! - [`domain`]: identifiers, room names, roles, money, and the facts kept (users, rooms,
//!   entitlements, bans).
//! - [`store`]: the SQL source of truth (PostgreSQL or embedded SQLite) and its migrations.
//! - [`telemetry`]: logging and the Prometheus metric catalogue.
//! - [`cache`]: the in-process → Redis → SQL tiers and the invalidation bus.
//! - [`config`], [`clock`]: typed configuration validated at start-up; injectable time.

pub mod access;
pub mod app;
pub mod cache;
pub mod clock;
pub mod config;
pub mod domain;
pub mod entitlements;
pub mod http;
pub mod identity;
pub mod moderation;
pub mod payments;
pub mod rooms;
pub mod store;
pub mod telemetry;
pub mod tokens;
