//! Tokens roomkey signs: Jitsi JWTs for Prosody, and the keys behind them.

pub mod authority;
pub mod jitsi;
pub mod jwt;
pub mod keys;
pub mod verify;

pub use authority::{RoomToken, TokenAuthority, TokenRefusal};
pub use jitsi::{Freshness, IssuedToken, JitsiTokenSettings, JitsiTokens};
pub use keys::Keyring;

/// The Jitsi room's address with `jwt` in the fragment, as jitsi-meet reads it.
///
/// The fragment never reaches a server, so the token stays out of access logs and
/// `Referer` headers. jitsi-meet parses each fragment value as JSON
/// (`parseURLParams(url, false, 'hash')` in `react/features/base/jwt/functions.ts`), so
/// the token is a JSON string: `#jwt=%22<token>%22`. A bare `#jwt=<token>` is not valid
/// JSON; the client drops it and falls back to `?jwt=` in the query, which is empty.
pub fn join_url(meet_url: &str, room: &crate::domain::RoomName, jwt: &str) -> String {
    JoinUrl {
        meet_url,
        room,
        jwt,
    }
    .to_string()
}

/// [`join_url`] as something to write out, for answers serialised without building it first.
pub struct JoinUrl<'a> {
    pub meet_url: &'a str,
    pub room: &'a crate::domain::RoomName,
    pub jwt: &'a str,
}

impl std::fmt::Display for JoinUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            meet_url,
            room,
            jwt,
        } = self;
        write!(f, "{meet_url}/{room}#jwt=%22{jwt}%22")
    }
}
