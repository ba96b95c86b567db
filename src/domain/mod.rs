//! Domain vocabulary shared by every capability: identifiers, room names, roles, money,
//! languages, hashtags.
//!
//! Values are parsed once at the edge into these types ("parse, don't validate"), so the
//! services below never see an unchecked room name or an empty handle.

pub mod amount;
pub mod calls;
mod change;
mod community;
#[cfg(test)]
pub(crate) mod fixtures;
mod payments;
mod records;
mod room_name;
mod tip;

pub use calls::{Call, CallState, CallTerms};
pub use change::{Change, SessionsEndedReason};
pub use community::*;
pub use payments::*;
pub use records::*;
pub use room_name::{RoomName, RoomNameError};
pub use tip::{clean_tip_message, tipper_name, TipNotice, TIP_MESSAGE_MAX_CHARS};

use serde::{Deserialize, Serialize};

/// A platform user's canonical id: the one subject in every token and table.
pub type UserId = String;

/// Platform roles, from least to most privileged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Performer,
    Moderator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Performer => "performer",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Role::Viewer),
            "performer" => Some(Role::Performer),
            "moderator" => Some(Role::Moderator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Platform staff moderate every room.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Moderator | Role::Admin)
    }
}

/// Who may enter a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomAccess {
    /// Any signed-in user.
    Free,
    /// Users holding an entitlement that covers the room; others are told the price.
    Paid,
    /// Users holding an entitlement (usually an admin grant or invite code); no price offered.
    InviteOnly,
}

impl RoomAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomAccess::Free => "free",
            RoomAccess::Paid => "paid",
            RoomAccess::InviteOnly => "invite_only",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "free" => Some(RoomAccess::Free),
            "paid" => Some(RoomAccess::Paid),
            "invite_only" => Some(RoomAccess::InviteOnly),
            _ => None,
        }
    }
}

/// The languages roomkey speaks to people in (the join page's, and its default in
/// `join.default_language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Es,
    En,
}

impl Lang {
    /// The BCP 47 tag for `<html lang>` and `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }
}

/// An amount in integer minor units (cents, centavos) of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

/// The largest amount of money roomkey accepts anywhere, in minor units (10^12: ten billion
/// in a two-decimal currency). Every sum of amounts is then far inside `i64`: overflowing it
/// would take over nine million payments of this size in one total.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// A positive amount no larger than [`MAX_AMOUNT_MINOR`].
pub fn is_amount(minor: i64) -> bool {
    (1..=MAX_AMOUNT_MINOR).contains(&minor)
}

/// Checks an ISO 4217 alphabetic code's shape (three uppercase ASCII letters).
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// [`parse_handle`]'s rule as a JSON Schema pattern (upper case is folded).
pub const HANDLE_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$";

/// [`parse_email`]'s rule as a JSON Schema pattern (with `maxLength` 254).
pub const EMAIL_PATTERN: &str = r"^[^@\s\u0000-\u001f\u007f-\u009f]+@[^@\s.\u0000-\u001f\u007f-\u009f]([^@\s\u0000-\u001f\u007f-\u009f]*\.)+[^@\s.\u0000-\u001f\u007f-\u009f]+$";

/// [`parse_user_id`]'s rule as a JSON Schema pattern (with `minLength` 1, `maxLength` 64).
pub const USER_ID_PATTERN: &str = r"^[^\s\u0000-\u001f\u007f-\u009f]+$";

/// A user handle: 3–32 of `a-z 0-9 _ . -`, starting with a letter or digit.
pub fn parse_handle(text: &str) -> Option<String> {
    let handle = text.trim().to_ascii_lowercase();
    let ok_len = (3..=32).contains(&handle.len());
    let ok_start = handle
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    let ok_chars = handle
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    (ok_len && ok_start && ok_chars).then_some(handle)
}

/// The longest user id roomkey accepts: the ids it makes are 36-byte UUIDs, and a trusted
/// backend names its users in `X-Roomkey-User` within the same bound.
pub const MAX_USER_ID_LEN: usize = 64;

/// A user id as it arrives from outside (a path, a header): 1 to [`MAX_USER_ID_LEN`]
/// bytes with no whitespace or control characters. Whether such a user exists is the
/// store's question; this only refuses what no user id can look like.
pub fn parse_user_id(text: &str) -> Option<UserId> {
    let ok = !text.is_empty()
        && text.len() <= MAX_USER_ID_LEN
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| text.to_owned())
}

/// A deliberately small e-mail check: one `@`, a dot in the domain, no spaces, ≤ 254 bytes.
pub fn parse_email(text: &str) -> Option<String> {
    let email = text.trim().to_ascii_lowercase();
    let (local, domain) = email.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(email)
}

/// A hashtag as Mastodon links it: letters, digits and `_`, not only digits, ≤ 64 chars.
pub fn parse_hashtag(tag: &str) -> Option<&str> {
    let tag = tag.strip_prefix('#').unwrap_or(tag);
    let ok = !tag.is_empty()
        && tag.chars().count() <= 64
        && tag.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !tag.chars().all(|c| c.is_ascii_digit());
    ok.then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles() {
        assert_eq!(parse_handle(" Alex_2026 ").as_deref(), Some("alex_2026"));
        assert_eq!(parse_handle("ab"), None);
        assert_eq!(parse_handle("_alex"), None);
        assert_eq!(parse_handle("alex@home"), None);
    }

    #[test]
    fn user_ids_are_short_and_have_no_spaces() {
        let uuid = "01890a5d-ac96-774b-bcce-b302099a8057";
        assert_eq!(parse_user_id(uuid).as_deref(), Some(uuid));
        assert_eq!(parse_user_id("nobody").as_deref(), Some("nobody"));
        assert_eq!(parse_user_id(""), None);
        assert_eq!(parse_user_id("two words"), None);
        assert_eq!(parse_user_id("tab\there"), None);
        assert_eq!(parse_user_id(&"x".repeat(MAX_USER_ID_LEN + 1)), None);
    }

    #[test]
    fn emails() {
        assert_eq!(
            parse_email("Viewer@Example.com").as_deref(),
            Some("viewer@example.com")
        );
        assert_eq!(parse_email("no-at-sign.example.com"), None);
        assert_eq!(parse_email("a@b"), None);
        assert_eq!(parse_email("a b@example.com"), None);
    }

    #[test]
    fn currencies() {
        assert!(is_currency_code("COP"));
        assert!(!is_currency_code("usd"));
        assert!(!is_currency_code("EURO"));
    }

    #[test]
    fn hashtags_are_letters_digits_and_underscores() {
        assert_eq!(parse_hashtag("#EnVivo"), Some("EnVivo"));
        assert_eq!(parse_hashtag("año_2026"), Some("año_2026"));
        assert_eq!(parse_hashtag("2026"), None);
        assert_eq!(parse_hashtag("two words"), None);
        assert_eq!(parse_hashtag(""), None);
    }
}
