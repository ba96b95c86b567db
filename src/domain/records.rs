//! The facts roomkey keeps: users, rooms, entitlements and bans.

use serde::{Deserialize, Serialize};

use super::{Money, Role, RoomAccess, RoomName, UserId};
use crate::clock::UnixSeconds;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub handle: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub matrix_user_id: Option<String>,
    pub avatar_url: Option<String>,
    /// A performer staff have verified (`context.user.verified` in Jitsi tokens); only a
    /// verified performer may create shows.
    pub verified: bool,
    pub created_at: UnixSeconds,
    /// Changes whenever the profile does; part of the key under which a signed token is reused.
    pub updated_at: UnixSeconds,
    /// Sessions issued under an older generation have ended (see [`crate::identity`]).
    #[serde(default)]
    pub session_generation: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    pub id: String,
    pub name: RoomName,
    pub title: String,
    /// The performer who owns the room: moderator in it, and the scope of subscriptions.
    pub owner_id: UserId,
    pub access: RoomAccess,
    /// Set for paid rooms.
    pub price: Option<Money>,
    /// Platform plans (e.g. `member`, `prime`) whose holders may enter.
    pub plans: Vec<String>,
    pub starts_at: Option<UnixSeconds>,
    pub ends_at: Option<UnixSeconds>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
    /// The most viewers present at once, not counting the owner and staff; `None`: no
    /// limit. Defaulted so cache entries written before the field existed still read.
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// What an entitlement covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "ref", rename_all = "snake_case")]
pub enum EntitlementScope {
    /// One room (a show ticket, a private call's time window), by room id.
    Room(String),
    /// A subscription to a performer: all of that performer's rooms, by user id.
    Performer(UserId),
    /// A platform plan such as `member` or `prime`: the rooms marked for it.
    Plan(String),
    /// A consumable credit such as private-call minutes, by credit kind.
    Credit(String),
}

impl EntitlementScope {
    pub fn kind(&self) -> &'static str {
        match self {
            EntitlementScope::Room(_) => "room",
            EntitlementScope::Performer(_) => "performer",
            EntitlementScope::Plan(_) => "plan",
            EntitlementScope::Credit(_) => "credit",
        }
    }

    pub fn reference(&self) -> &str {
        match self {
            EntitlementScope::Room(r)
            | EntitlementScope::Performer(r)
            | EntitlementScope::Plan(r)
            | EntitlementScope::Credit(r) => r,
        }
    }

    pub fn scope_kind(&self) -> ScopeKind {
        match self {
            EntitlementScope::Room(_) => ScopeKind::Room,
            EntitlementScope::Performer(_) => ScopeKind::Performer,
            EntitlementScope::Plan(_) => ScopeKind::Plan,
            EntitlementScope::Credit(_) => ScopeKind::Credit,
        }
    }

    pub fn of_kind(kind: ScopeKind, reference: String) -> Self {
        match kind {
            ScopeKind::Room => EntitlementScope::Room(reference),
            ScopeKind::Performer => EntitlementScope::Performer(reference),
            ScopeKind::Plan => EntitlementScope::Plan(reference),
            ScopeKind::Credit => EntitlementScope::Credit(reference),
        }
    }

    pub fn from_parts(kind: &str, reference: String) -> Option<Self> {
        Some(match kind {
            "room" => EntitlementScope::Room(reference),
            "performer" => EntitlementScope::Performer(reference),
            "plan" => EntitlementScope::Plan(reference),
            "credit" => EntitlementScope::Credit(reference),
            _ => return None,
        })
    }
}

/// An [`EntitlementScope`] without its reference: what the reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    Room,
    Performer,
    Plan,
    Credit,
}

/// Where an entitlement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntitlementSource {
    Payment,
    AdminGrant,
    InviteCode,
}

impl EntitlementSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EntitlementSource::Payment => "payment",
            EntitlementSource::AdminGrant => "admin_grant",
            EntitlementSource::InviteCode => "invite_code",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "payment" => Some(EntitlementSource::Payment),
            "admin_grant" => Some(EntitlementSource::AdminGrant),
            "invite_code" => Some(EntitlementSource::InviteCode),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub revoked_at: UnixSeconds,
    pub revoked_by: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    pub id: String,
    pub user_id: UserId,
    pub scope: EntitlementScope,
    /// Remaining units of a consumable credit.
    pub quantity: Option<i64>,
    pub valid_from: UnixSeconds,
    /// `None` is a lifetime entitlement.
    pub valid_until: Option<UnixSeconds>,
    pub source: EntitlementSource,
    /// The payment, invite code or admin note behind it.
    pub source_ref: Option<String>,
    pub granted_by: Option<String>,
    pub created_at: UnixSeconds,
    pub revocation: Option<Revocation>,
}

impl Entitlement {
    /// Active now: started, not ended, not revoked.
    pub fn is_active_at(&self, now: UnixSeconds) -> bool {
        entitlement_active_at(
            self.valid_from,
            self.valid_until,
            self.revocation.is_some(),
            now,
        )
    }
}

/// The one rule for whether an entitlement is active at `now`, for the record and for the
/// compact form the caches hold (`access::policy::EntitlementTerms`).
pub fn entitlement_active_at(
    valid_from: UnixSeconds,
    valid_until: Option<UnixSeconds>,
    revoked: bool,
    now: UnixSeconds,
) -> bool {
    !revoked && valid_from <= now && valid_until.is_none_or(|until| now < until)
}

/// Where a ban applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "ref", rename_all = "snake_case")]
pub enum BanScope {
    /// Every room on the platform.
    Global,
    /// One room, by room id.
    Room(String),
    /// Every room of one performer, by user id.
    Performer(UserId),
}

impl BanScope {
    pub fn kind(&self) -> &'static str {
        match self {
            BanScope::Global => "global",
            BanScope::Room(_) => "room",
            BanScope::Performer(_) => "performer",
        }
    }

    pub fn reference(&self) -> Option<&str> {
        match self {
            BanScope::Global => None,
            BanScope::Room(r) | BanScope::Performer(r) => Some(r),
        }
    }

    pub fn from_parts(kind: &str, reference: Option<String>) -> Option<Self> {
        match (kind, reference) {
            ("global", None) => Some(BanScope::Global),
            ("room", Some(r)) => Some(BanScope::Room(r)),
            ("performer", Some(r)) => Some(BanScope::Performer(r)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanLift {
    pub lifted_at: UnixSeconds,
    pub lifted_by: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub id: String,
    pub user_id: UserId,
    pub scope: BanScope,
    pub reason: String,
    /// `None` is permanent until lifted.
    pub until: Option<UnixSeconds>,
    pub banned_by: Option<String>,
    pub created_at: UnixSeconds,
    pub lift: Option<BanLift>,
}

impl Ban {
    pub fn is_active_at(&self, now: UnixSeconds) -> bool {
        self.lift.is_none() && self.until.is_none_or(|until| now < until)
    }
}

/// One stay of one user in one room, as a Prosody shard reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceSegment {
    pub occupant_id: String,
    pub user_id: UserId,
    pub handle: String,
    pub display_name: String,
    pub joined_at: UnixSeconds,
    /// `None` while still in the room.
    pub left_at: Option<UnixSeconds>,
}

/// What a moderator or admin did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModerationAction {
    Ban,
    Unban,
    Kick,
    EndRoom,
    Grant,
    Revoke,
    SetRole,
    VerifyPerformer,
    UnverifyPerformer,
    /// Staff ended every session of a user.
    EndSessions,
}

impl ModerationAction {
    pub const ALL: [ModerationAction; 10] = [
        ModerationAction::Ban,
        ModerationAction::Unban,
        ModerationAction::Kick,
        ModerationAction::EndRoom,
        ModerationAction::Grant,
        ModerationAction::Revoke,
        ModerationAction::SetRole,
        ModerationAction::VerifyPerformer,
        ModerationAction::UnverifyPerformer,
        ModerationAction::EndSessions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModerationAction::Ban => "ban",
            ModerationAction::Unban => "unban",
            ModerationAction::Kick => "kick",
            ModerationAction::EndRoom => "end_room",
            ModerationAction::Grant => "grant",
            ModerationAction::Revoke => "revoke",
            ModerationAction::SetRole => "set_role",
            ModerationAction::VerifyPerformer => "verify_performer",
            ModerationAction::UnverifyPerformer => "unverify_performer",
            ModerationAction::EndSessions => "end_sessions",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// One line of the moderation audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: String,
    pub at: UnixSeconds,
    /// A user id, `admin-key`, or whoever the service names.
    pub actor: String,
    pub action: ModerationAction,
    pub user_id: Option<UserId>,
    pub room: Option<String>,
    pub reason: Option<String>,
    pub details: serde_json::Value,
}

/// A show (`/api/events`): the public face of one room, which carries its name, access,
/// price and schedule; the show adds what its announcement needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Show {
    pub id: String,
    pub room: Room,
    pub performer_id: UserId,
    /// The performer, or the staff member (`admin-key`) who created it on their behalf.
    pub created_by: String,
    pub description: String,
    /// Without `#`.
    pub hashtags: Vec<String>,
    /// The Mastodon announcement, once posted.
    pub status_id: Option<String>,
    pub status_url: Option<String>,
    pub ended_at: Option<UnixSeconds>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
}

/// Where a show stands, from its room's schedule and whether it was ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowState {
    Scheduled,
    Live,
    Ended,
}

impl ShowState {
    pub fn as_str(self) -> &'static str {
        match self {
            ShowState::Scheduled => "scheduled",
            ShowState::Live => "live",
            ShowState::Ended => "ended",
        }
    }
}

impl Show {
    pub fn state(&self, now: UnixSeconds) -> ShowState {
        if self.ended_at.is_some() || self.room.ends_at.is_some_and(|end| end <= now) {
            ShowState::Ended
        } else if self.room.starts_at.is_some_and(|start| start > now) {
            ShowState::Scheduled
        } else {
            ShowState::Live
        }
    }
}

/// One step of a performer's verification, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationStep {
    Apply,
    Approve,
    Reject,
    Revoke,
}

impl VerificationStep {
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStep::Apply => "apply",
            VerificationStep::Approve => "approve",
            VerificationStep::Reject => "reject",
            VerificationStep::Revoke => "revoke",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Apply, Self::Approve, Self::Reject, Self::Revoke]
            .into_iter()
            .find(|step| step.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationFact {
    pub id: String,
    pub user_id: UserId,
    pub step: VerificationStep,
    pub actor: String,
    pub note: String,
    pub created_at: UnixSeconds,
}

/// A platform session token that verified: who, which session, and the user's session
/// generation when it was issued. Whether it still stands is the user's facts' to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSession {
    pub user_id: String,
    pub jti: String,
    pub generation: i64,
    pub expires_at: UnixSeconds,
    /// When the user signed in: a session token is issued only by a sign-in (or a
    /// password change, which proves the password again), never renewed, so this is the
    /// `auth_time` an OpenID Provider reports and `max_age` is measured from.
    pub issued_at: UnixSeconds,
}
