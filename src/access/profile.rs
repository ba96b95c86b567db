//! A user's profile as the caches hold it: what the access rule and the token read, in two
//! allocations instead of seven.
//!
//! The caches keep the facts of every user who asked for a token recently — a million on a
//! platform's busy night. A [`User`] record keeps each of its six strings in an allocation
//! of its own with a length and a capacity beside it: about 370 bytes a user, more than
//! the whole budget of a held user (`bench/README.md`, "Platform volume"). [`Profile`]
//! keeps the same values with the strings one after another in one boxed `str`.

use serde::{Deserialize, Serialize};

use super::policy::Entrant;
use crate::clock::UnixSeconds;
use crate::domain::{Role, User};

/// The strings of a profile, in the order `Profile::text` holds them.
#[derive(Clone, Copy)]
enum Field {
    Id,
    Handle,
    Email,
    DisplayName,
    MatrixUserId,
    AvatarUrl,
}

/// A [`User`] held compactly; [`Profile::to_user`] gives the record back. The Redis tier
/// stores it as the record, so the two forms read each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "User", from = "User")]
pub struct Profile {
    /// The id, handle, email, display name, Matrix id and avatar URL, one after another (an
    /// absent one is empty and has its flag cleared).
    text: Box<str>,
    /// Where each string but the last ends in `text`.
    ends: [u32; 5],
    has_matrix_user_id: bool,
    has_avatar_url: bool,
    role: Role,
    verified: bool,
    created_at: UnixSeconds,
    updated_at: UnixSeconds,
    session_generation: i64,
}

impl Profile {
    fn field(&self, field: Field) -> &str {
        let index = field as usize;
        let start = match index {
            0 => 0,
            i => self.ends[i - 1] as usize,
        };
        let end = self
            .ends
            .get(index)
            .map_or(self.text.len(), |e| *e as usize);
        &self.text[start..end]
    }

    pub fn id(&self) -> &str {
        self.field(Field::Id)
    }

    pub fn handle(&self) -> &str {
        self.field(Field::Handle)
    }

    pub fn email(&self) -> &str {
        self.field(Field::Email)
    }

    pub fn display_name(&self) -> &str {
        self.field(Field::DisplayName)
    }

    pub fn matrix_user_id(&self) -> Option<&str> {
        self.has_matrix_user_id
            .then(|| self.field(Field::MatrixUserId))
    }

    pub fn avatar_url(&self) -> Option<&str> {
        self.has_avatar_url.then(|| self.field(Field::AvatarUrl))
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// A performer staff have verified (`context.user.verified` in Jitsi tokens).
    pub fn verified(&self) -> bool {
        self.verified
    }

    /// Changes whenever the profile does.
    pub fn updated_at(&self) -> UnixSeconds {
        self.updated_at
    }

    /// Sessions issued under an older generation have ended.
    pub fn session_generation(&self) -> i64 {
        self.session_generation
    }

    /// The record again, for callers that work with records (an API request's caller).
    pub fn to_user(&self) -> User {
        User {
            id: self.id().to_owned(),
            handle: self.handle().to_owned(),
            email: self.email().to_owned(),
            display_name: self.display_name().to_owned(),
            role: self.role,
            matrix_user_id: self.matrix_user_id().map(str::to_owned),
            avatar_url: self.avatar_url().map(str::to_owned),
            verified: self.verified,
            created_at: self.created_at,
            updated_at: self.updated_at,
            session_generation: self.session_generation,
        }
    }
}

impl From<&User> for Profile {
    fn from(user: &User) -> Self {
        let parts = [
            user.id.as_str(),
            &user.handle,
            &user.email,
            &user.display_name,
            user.matrix_user_id.as_deref().unwrap_or(""),
            user.avatar_url.as_deref().unwrap_or(""),
        ];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; 5];
        for (i, part) in parts.iter().enumerate() {
            text.push_str(part);
            if let Some(end) = ends.get_mut(i) {
                // A profile's strings are bounded by the API's validation, far below 4 GiB.
                *end = u32::try_from(text.len()).expect("a profile under 4 GiB");
            }
        }
        Self {
            text: text.into_boxed_str(),
            ends,
            has_matrix_user_id: user.matrix_user_id.is_some(),
            has_avatar_url: user.avatar_url.is_some(),
            role: user.role,
            verified: user.verified,
            created_at: user.created_at,
            updated_at: user.updated_at,
            session_generation: user.session_generation,
        }
    }
}

impl<'a> From<&'a Profile> for Entrant<'a> {
    fn from(profile: &'a Profile) -> Self {
        Self {
            id: profile.id(),
            role: profile.role,
        }
    }
}

impl From<User> for Profile {
    fn from(user: User) -> Self {
        Self::from(&user)
    }
}

impl From<Profile> for User {
    fn from(profile: Profile) -> Self {
        profile.to_user()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::user;

    #[test]
    fn a_profile_gives_back_the_record_it_was_made_from() {
        let mut full = user("viewer-1", Role::Performer);
        full.matrix_user_id = Some("@viewer-1:chat.example".into());
        full.avatar_url = Some("https://media.example/a.png".into());
        full.verified = true;
        full.session_generation = 3;
        let mut bare = user("viewer-2", Role::Viewer);
        bare.matrix_user_id = None;
        bare.avatar_url = Some(String::new());
        for record in [full, bare] {
            let profile = Profile::from(&record);
            assert_eq!(profile.to_user(), record);
            assert_eq!(profile.id(), record.id);
            assert_eq!(profile.email(), record.email);
            assert_eq!(profile.avatar_url(), record.avatar_url.as_deref());
            let stored = serde_json::to_string(&profile).unwrap();
            assert_eq!(stored, serde_json::to_string(&record).unwrap());
            assert_eq!(serde_json::from_str::<Profile>(&stored).unwrap(), profile);
        }
    }
}
