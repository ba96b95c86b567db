//! A confirmed tip as the running room and its chat show it: who, how much, their message.
//!
//! The notice travels inside the payment's change (`Change::PaymentApplied`), so the shards
//! and Matrix hear about a tip from the same stored record that booked it, after its commit.
//! The message is the tipper's own text: it is cleaned here once, at checkout, and shown as
//! plain text everywhere (Jitsi Meet and Matrix clients render it as text, never as markup).

use serde::{Deserialize, Serialize};

use super::{amount, RoomName};
use crate::clock::UnixSeconds;

/// The longest message a tip may carry, in characters: one line of a chat panel.
pub const TIP_MESSAGE_MAX_CHARS: usize = 200;

/// The longest name shown for a tipper, in characters.
const NAME_MAX_CHARS: usize = 64;

/// What the room is told about one confirmed tip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipNotice {
    pub room_id: String,
    pub room: RoomName,
    /// The tipper's display name (or handle); `None` when they asked to stay anonymous.
    pub from: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub message: Option<String>,
    /// When the tip was confirmed: a notice delivered much later (a change retried for
    /// minutes) is not worth showing in a running room any more.
    #[serde(default)]
    pub confirmed_at: UnixSeconds,
}

impl TipNotice {
    /// `"25.00 USD"`: major units with the currency's decimals, then its code.
    pub fn amount_text(&self) -> String {
        format!(
            "{} {}",
            amount::format_major(self.amount_minor, &self.currency),
            self.currency.to_ascii_uppercase()
        )
    }

    /// The name shown: the tipper's, or "Someone" for an anonymous tip.
    pub fn display_name(&self) -> &str {
        self.from.as_deref().unwrap_or("Someone")
    }

    /// The one line the room and its chat show: `Ana tipped 25.00 USD: great show!`.
    pub fn text(&self) -> String {
        let mut text = format!("{} tipped {}", self.display_name(), self.amount_text());
        if let Some(message) = self.message.as_deref().filter(|m| !m.is_empty()) {
            text.push_str(": ");
            text.push_str(message);
        }
        text
    }
}

/// A tipper's message as stored and shown: control characters (line breaks included)
/// become spaces, runs of whitespace one space, trimmed; `None` when nothing is left.
/// `Err` with the length when it is longer than [`TIP_MESSAGE_MAX_CHARS`].
pub fn clean_tip_message(raw: &str) -> Result<Option<String>, usize> {
    let cleaned = one_line(raw);
    let length = cleaned.chars().count();
    if length > TIP_MESSAGE_MAX_CHARS {
        return Err(length);
    }
    Ok((!cleaned.is_empty()).then_some(cleaned))
}

/// A user's name made fit for one line of a notice (names are free text at sign-up).
pub fn tipper_name(display_name: &str, handle: &str) -> String {
    let name = one_line(display_name);
    let name = if name.is_empty() {
        handle.to_owned()
    } else {
        name
    };
    name.chars().take(NAME_MAX_CHARS).collect()
}

fn one_line(raw: &str) -> String {
    raw.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(from: Option<&str>, message: Option<&str>) -> TipNotice {
        TipNotice {
            room_id: "r1".into(),
            room: RoomName::parse("show").unwrap(),
            from: from.map(str::to_owned),
            amount_minor: 2_500,
            currency: "usd".into(),
            message: message.map(str::to_owned),
            confirmed_at: 0,
        }
    }

    #[test]
    fn a_notice_says_who_how_much_and_their_message() {
        assert_eq!(
            notice(Some("Ana"), Some("great show!")).text(),
            "Ana tipped 25.00 USD: great show!"
        );
        assert_eq!(notice(Some("Ana"), None).text(), "Ana tipped 25.00 USD");
        assert_eq!(notice(None, None).text(), "Someone tipped 25.00 USD");
    }

    #[test]
    fn a_currency_without_decimals_shows_whole_units() {
        let mut yen = notice(Some("Ana"), None);
        yen.amount_minor = 5_000;
        yen.currency = "JPY".into();
        assert_eq!(yen.amount_text(), "5000 JPY");
    }

    #[test]
    fn a_message_is_one_clean_line_of_bounded_length() {
        assert_eq!(
            clean_tip_message("  hi\n\tthere\u{0}\u{7}  you ").unwrap(),
            Some("hi there you".to_owned())
        );
        assert_eq!(clean_tip_message(" \n ").unwrap(), None);
        assert_eq!(
            clean_tip_message(&"é".repeat(TIP_MESSAGE_MAX_CHARS)).unwrap(),
            Some("é".repeat(TIP_MESSAGE_MAX_CHARS))
        );
        assert_eq!(
            clean_tip_message(&"x".repeat(TIP_MESSAGE_MAX_CHARS + 1)),
            Err(TIP_MESSAGE_MAX_CHARS + 1)
        );
    }

    #[test]
    fn a_blank_display_name_falls_back_to_the_handle() {
        assert_eq!(tipper_name(" \n", "ana"), "ana");
        assert_eq!(tipper_name("Ana\nB", "ana"), "Ana B");
    }
}
