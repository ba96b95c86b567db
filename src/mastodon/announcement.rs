//! The text of a show's Mastodon announcement and of the notice when it ends.
//!
//! Rendered when the worker delivers it, from the show as it is then, so an announcement
//! delayed by an outage never carries a schedule or price changed since.

use crate::clock::UnixSeconds;
use crate::domain::amount::format_major;
use crate::domain::{RoomAccess, Show, User};

/// Mastodon's default limit on a status, in characters.
const MAX_STATUS_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Es,
    En,
}

impl Language {
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "es" => Some(Language::Es),
            "en" => Some(Language::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::Es => "es",
            Language::En => "en",
        }
    }
}

struct Words {
    live: &'static str,
    with: &'static str,
    when: &'static str,
    now: &'static str,
    price: &'static str,
    free: &'static str,
    invite_only: &'static str,
    join: &'static str,
    chat: &'static str,
    ended: &'static str,
    thanks: &'static str,
}

const ES: Words = Words {
    live: "En vivo",
    with: "Con",
    when: "Cuándo",
    now: "ahora",
    price: "Precio",
    free: "Gratis",
    invite_only: "Solo con invitación",
    join: "Entrar",
    chat: "Chat",
    ended: "Terminó",
    thanks: "¡Gracias por acompañarnos!",
};

const EN: Words = Words {
    live: "Live",
    with: "With",
    when: "When",
    now: "now",
    price: "Price",
    free: "Free",
    invite_only: "Invite only",
    join: "Join",
    chat: "Chat",
    ended: "Ended",
    thanks: "Thanks for watching!",
};

/// Everything an announcement names besides the show itself.
pub struct AnnouncementFacts<'a> {
    pub show: &'a Show,
    pub performer: &'a User,
    pub join_url: &'a str,
    pub chat_alias: Option<&'a str>,
    /// The server's own hashtags, then the show's.
    pub default_hashtags: &'a [String],
    pub language: Language,
}

/// The announcement: title, performer, time in UTC, price, join link, chat alias, hashtags.
pub fn announcement(facts: &AnnouncementFacts<'_>) -> String {
    let words = words(facts.language);
    let show = facts.show;
    let room = &show.room;
    let when = match (room.starts_at, room.ends_at) {
        (Some(start), Some(end)) => format!("{} – {}", utc(start), utc(end)),
        (Some(start), None) => utc(start),
        (None, _) => words.now.to_owned(),
    };
    let price = match (&room.price, room.access) {
        (_, RoomAccess::InviteOnly) => words.invite_only.to_owned(),
        (Some(price), _) => format!(
            "{} {}",
            format_major(price.amount_minor, &price.currency),
            price.currency
        ),
        (None, _) => words.free.to_owned(),
    };
    let mut lines = vec![
        format!("{}: {}", words.live, room.title.trim()),
        format!("{} {}", words.with, facts.performer.display_name.trim()),
        format!("{}: {when}", words.when),
        format!("{}: {price}", words.price),
        format!("{}: {}", words.join, facts.join_url),
    ];
    if let Some(alias) = facts.chat_alias {
        lines.push(format!("{}: {alias}", words.chat));
    }
    let tags = hashtags(facts.default_hashtags, &show.hashtags);
    let description = show.description.trim();
    let full = compose(&lines, description, &tags);
    if full.chars().count() <= MAX_STATUS_CHARS {
        return full;
    }
    // Too long: the description goes first, then the title is shortened.
    let short = compose(&lines, "", &tags);
    let over = short.chars().count().saturating_sub(MAX_STATUS_CHARS);
    if over > 0 {
        let title: String = room.title.trim().chars().collect();
        let keep = title.chars().count().saturating_sub(over + 1);
        lines[0] = format!(
            "{}: {}…",
            words.live,
            title.chars().take(keep).collect::<String>()
        );
    }
    compose(&lines, "", &tags)
}

/// The reply posted under the announcement when the show ends.
pub fn ended_notice(show: &Show, language: Language) -> String {
    let words = words(language);
    let title: String = show.room.title.trim().chars().take(300).collect();
    format!("{}: {title}. {}", words.ended, words.thanks)
}

fn words(language: Language) -> &'static Words {
    match language {
        Language::Es => &ES,
        Language::En => &EN,
    }
}

fn compose(lines: &[String], description: &str, tags: &str) -> String {
    let mut text = lines.join("\n");
    if !description.is_empty() {
        text.push_str("\n\n");
        text.push_str(description);
    }
    if !tags.is_empty() {
        text.push_str("\n\n");
        text.push_str(tags);
    }
    text
}

/// `#a #b`, each once, in order.
fn hashtags(defaults: &[String], own: &[String]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for tag in defaults.iter().chain(own) {
        if !seen.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            seen.push(tag.clone());
        }
    }
    seen.iter()
        .map(|t| format!("#{t}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `2026-12-01 20:00 UTC`.
fn utc(at: UnixSeconds) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Money, Role, Room, RoomName};

    fn show(title: &str, description: &str) -> Show {
        Show {
            id: "s1".into(),
            room: Room {
                id: "r1".into(),
                name: RoomName::parse("livealex2026").unwrap(),
                title: title.into(),
                owner_id: "p1".into(),
                access: RoomAccess::Paid,
                price: Some(Money {
                    amount_minor: 5_000_000,
                    currency: "COP".into(),
                }),
                plans: vec![],
                starts_at: Some(1_796_155_200),
                ends_at: Some(1_796_162_400),
                created_at: 0,
                updated_at: 0,
                capacity: None,
            },
            performer_id: "p1".into(),
            created_by: "p1".into(),
            description: description.into(),
            hashtags: vec!["LiveAlex".into(), "envivo".into()],
            status_id: None,
            status_url: None,
            ended_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn performer() -> User {
        User {
            id: "p1".into(),
            handle: "alex".into(),
            email: "alex@example.com".into(),
            display_name: "Alex".into(),
            role: Role::Performer,
            matrix_user_id: None,
            avatar_url: None,
            verified: true,
            created_at: 0,
            updated_at: 0,
            session_generation: 0,
        }
    }

    fn facts<'a>(
        show: &'a Show,
        performer: &'a User,
        defaults: &'a [String],
    ) -> AnnouncementFacts<'a> {
        AnnouncementFacts {
            show,
            performer,
            join_url: "https://roomkey.example/join/livealex2026",
            chat_alias: Some("#livealex2026:example.com"),
            default_hashtags: defaults,
            language: Language::En,
        }
    }

    #[test]
    fn an_announcement_names_time_in_utc_price_link_chat_and_tags_once() {
        let show = show("Live with Alex", "Bring questions.");
        let defaults = vec!["envivo".to_owned()];
        let text = announcement(&facts(&show, &performer(), &defaults));
        assert_eq!(
            text,
            "Live: Live with Alex\nWith Alex\nWhen: 2026-12-01 20:00 UTC – 2026-12-01 22:00 UTC\n\
             Price: 50000.00 COP\nJoin: https://roomkey.example/join/livealex2026\n\
             Chat: #livealex2026:example.com\n\nBring questions.\n\n#envivo #LiveAlex"
        );
    }

    #[test]
    fn a_long_announcement_drops_the_description_then_shortens_the_title() {
        let show = show(&"T".repeat(490), &"d".repeat(400));
        let text = announcement(&facts(&show, &performer(), &[]));
        assert!(text.chars().count() <= MAX_STATUS_CHARS, "{}", text.len());
        assert!(!text.contains('d'));
        assert!(text.contains("…"));
        assert!(text.contains("https://roomkey.example/join/livealex2026"));
    }

    #[test]
    fn spanish_is_spanish() {
        let show = show("Show", "");
        let performer = performer();
        let mut facts = facts(&show, &performer, &[]);
        facts.language = Language::Es;
        assert!(announcement(&facts).starts_with("En vivo: Show\nCon Alex\nCuándo: "));
        assert_eq!(
            ended_notice(&show, Language::Es),
            "Terminó: Show. ¡Gracias por acompañarnos!"
        );
    }
}
