//! Handlers, one file per area; each extracts, calls one service, maps to a view.

pub mod admin;
pub mod auth;
#[cfg(feature = "bench")]
pub mod bench;
pub mod calls;
pub mod events;
pub mod join;
pub mod keys;
pub mod live;
pub mod matrix;
pub mod moderation;
pub mod oidc;
pub mod ops;
pub mod payments;
pub mod performers;
pub mod prosody;
pub mod rooms;
pub mod stats;
pub mod table;
