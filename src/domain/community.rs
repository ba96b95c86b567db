//! Community chat rooms (`#general`, `#support`, performers-only rooms): Matrix rooms that
//! belong to no show, with a rule for who may be in them.

use super::{Role, User};

/// Who may be in a community room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommunityRule {
    /// Anyone signed in (every user has a Matrix id when Matrix is on).
    SignedIn,
    /// Performers (and staff, who look after every room).
    VerifiedPerformers,
    /// Platform moderators and admins.
    Staff,
}

impl CommunityRule {
    pub const ALL: [CommunityRule; 3] = [
        CommunityRule::SignedIn,
        CommunityRule::VerifiedPerformers,
        CommunityRule::Staff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CommunityRule::SignedIn => "signed_in",
            CommunityRule::VerifiedPerformers => "verified_performers",
            CommunityRule::Staff => "staff",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether `user` may be in a room with this rule (a global ban is checked apart).
    ///
    /// The one place the rule is decided: staff are in every room; "verified performers"
    /// are performers staff have verified.
    pub fn admits(self, user: &User) -> bool {
        match self {
            CommunityRule::SignedIn => true,
            CommunityRule::VerifiedPerformers => {
                (user.role == Role::Performer && user.verified) || user.role.is_staff()
            }
            CommunityRule::Staff => user.role.is_staff(),
        }
    }
}

/// A registered community room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunityRoom {
    /// The alias localpart after `matrix.alias_prefix`.
    pub name: String,
    pub title: String,
    pub rule: CommunityRule,
    /// Set once the room exists on the homeserver.
    pub matrix_room_id: Option<String>,
}

/// Whether `name` can be a community room's alias localpart: 1 to 64 of `a-z 0-9 . _ -`.
pub fn is_community_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, verified: bool) -> User {
        User {
            id: "u".into(),
            handle: "h".into(),
            email: "h@example.com".into(),
            display_name: "H".into(),
            role,
            matrix_user_id: None,
            avatar_url: None,
            verified,
            created_at: 0,
            updated_at: 0,
            session_generation: 0,
        }
    }

    #[test]
    fn rules_admit_by_role_and_verification() {
        use CommunityRule::*;
        let table = [
            (Role::Viewer, false, [true, false, false]),
            (Role::Performer, false, [true, false, false]),
            (Role::Performer, true, [true, true, false]),
            (Role::Moderator, false, [true, true, true]),
            (Role::Admin, false, [true, true, true]),
        ];
        for (role, verified, expected) in table {
            let got =
                [SignedIn, VerifiedPerformers, Staff].map(|r| r.admits(&user(role, verified)));
            assert_eq!(got, expected, "{role:?} verified={verified}");
        }
    }

    #[test]
    fn names_are_alias_localparts() {
        assert!(is_community_name("general"));
        assert!(is_community_name("performers-only.2"));
        assert!(!is_community_name(""));
        assert!(!is_community_name("General"));
        assert!(!is_community_name("a:b"));
        assert!(!is_community_name(&"a".repeat(65)));
    }
}
