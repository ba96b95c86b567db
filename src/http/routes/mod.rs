//! Handlers, one file per area; each extracts, calls one service, maps to a view.

pub mod admin;
pub mod auth;
#[cfg(feature = "bench")]
pub mod bench;
pub mod keys;
pub mod live;
pub mod moderation;
pub mod ops;
pub mod payments;
pub mod prosody;
pub mod rooms;
pub mod stats;
