//! Tokens roomkey signs: Jitsi JWTs for Prosody, and the keys behind them.

pub mod authority;
pub mod jitsi;
pub mod jwt;
pub mod keys;
pub mod verify;

pub use authority::{RoomToken, TokenAuthority, TokenRefusal};
pub use jitsi::{Freshness, IssuedToken, JitsiTokenSettings, JitsiTokens};
pub use keys::Keyring;
