//! Who may manage what. Every rule of the form "may this caller do that to this thing"
//! lives here — entry to rooms is the other kind of rule, and lives in
//! [`crate::access::policy`].
//!
//! A rule that allows hands back a proof: a value only this module can make (private
//! fields, no public constructor), naming who acts and what it covers. Services take the
//! proof instead of an actor's name, so a service cannot be asked to act for someone no
//! rule let through, and what the audit trail records as the actor is what the rule saw.
//!
//! Who the caller is comes from the HTTP edge as a [`Caller`]: the admin key, or a user
//! as they may act. A service key acts for a user as a member of the platform and never
//! with a staff role — [`Caller::user`] drops a moderator's or an admin's role for it —
//! so no rule here can hand a service key a staff proof.

mod proofs;

use std::sync::Arc;

use crate::access::AccessService;
use crate::domain::{Role, Room, RoomName, User};
use crate::store::StoreError;

pub use proofs::{
    Actor, Admin, AuditReader, BanWarrant, PerformerReader, RevenueReader, RoomModerator,
    ShowCreator, Staff,
};

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Session,
    ServiceKey,
}

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An operator's admin key.
    AdminKey,
    /// A user as they may act (see [`Caller::user`]).
    User { user: Arc<User>, via: Via },
}

impl Caller {
    /// `user` as they may act: as they are through their own session; without a staff
    /// role through a service key, which must not become every admin if it leaks.
    pub fn user(user: Arc<User>, via: Via) -> Self {
        let user = if via == Via::ServiceKey && user.role.is_staff() {
            Arc::new(User {
                role: Role::Viewer,
                ..user.as_ref().clone()
            })
        } else {
            user
        };
        Caller::User { user, via }
    }

    fn acting(&self) -> Option<&User> {
        match self {
            Caller::AdminKey => None,
            Caller::User { user, .. } => Some(user),
        }
    }

    fn is_staff(&self) -> bool {
        self.acting().is_none_or(|user| user.role.is_staff())
    }

    fn is_admin(&self) -> bool {
        self.acting().is_none_or(|user| user.role == Role::Admin)
    }

    fn is(&self, user_id: &str) -> bool {
        self.acting().is_some_and(|user| user.id == user_id)
    }
}

/// Why a rule refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("no such room")]
    UnknownRoom,
    #[error("no such performer")]
    UnknownPerformer,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A moderator or an admin (by session), or the admin key.
pub fn staff(caller: &Caller) -> Result<Staff, Refusal> {
    if let Caller::User {
        via: Via::ServiceKey,
        ..
    } = caller
    {
        return Err(Refusal::Forbidden(
            "a service key acts for users, never with staff powers; staff use their own session",
        ));
    }
    if !caller.is_staff() {
        return Err(Refusal::Forbidden("this needs a moderator or an admin"));
    }
    Ok(Staff::new(Actor::of(caller), caller.is_admin()))
}

/// An admin (by session), or the admin key.
pub fn admin(caller: &Caller) -> Result<Admin, Refusal> {
    if let Caller::User {
        via: Via::ServiceKey,
        ..
    } = caller
    {
        return Err(Refusal::Forbidden(
            "a service key cannot administer roomkey",
        ));
    }
    if !caller.is_admin() {
        return Err(Refusal::Forbidden("this needs an admin"));
    }
    Ok(Admin::new(Actor::of(caller)))
}

/// Staff, or the performer who owns `room`: kick, end, see who is there. Nobody else,
/// whatever they paid.
pub async fn room_moderator(
    access: &AccessService,
    caller: &Caller,
    room: &RoomName,
) -> Result<RoomModerator, Refusal> {
    let room = access.room(room).await?.ok_or(Refusal::UnknownRoom)?;
    moderator_of(caller, room)
}

/// [`room_moderator`] for a room already in hand.
pub fn moderator_of(caller: &Caller, room: Arc<Room>) -> Result<RoomModerator, Refusal> {
    let staff = caller.is_staff();
    if !(staff || caller.is(&room.owner_id)) {
        return Err(Refusal::Forbidden(
            "only the room's performer, moderators and admins may do this",
        ));
    }
    Ok(RoomModerator::new(Actor::of(caller), room, staff))
}

/// What a ban covers, as asked.
#[derive(Debug, Clone)]
pub enum BanScope {
    Global,
    Room(RoomName),
    Performer(String),
}

/// May `caller` ban `target` with `scope`? Staff anywhere; a performer from their own
/// room, or from all of their rooms, and never staff or themselves.
pub async fn ban_warrant(
    access: &AccessService,
    caller: &Caller,
    target: &str,
    scope: BanScope,
) -> Result<BanWarrant, Refusal> {
    let refused = match staff(caller) {
        Ok(staff) => return Ok(BanWarrant::new(staff.actor().clone(), scope)),
        Err(refused) => refused,
    };
    let owner = match &scope {
        BanScope::Global => return Err(refused),
        BanScope::Room(name) => room_moderator(access, caller, name)
            .await?
            .room()
            .owner_id
            .clone(),
        BanScope::Performer(performer) if caller.is(performer) => performer.clone(),
        BanScope::Performer(_) => return Err(refused),
    };
    let banned = access.user(target).await?;
    if banned.is_some_and(|t| t.role.is_staff() || t.id == owner) {
        return Err(Refusal::Forbidden(
            "a performer may not ban staff or themselves",
        ));
    }
    Ok(BanWarrant::new(Actor::of(caller), scope))
}

/// An admin may ban with any scope.
pub fn admin_ban(admin: &Admin, scope: BanScope) -> BanWarrant {
    BanWarrant::new(admin.actor().clone(), scope)
}

/// An admin is staff.
pub fn admin_as_staff(admin: &Admin) -> Staff {
    Staff::new(admin.actor().clone(), true)
}

/// May `caller` read `performer`'s figures (and their money)? The performer themself and
/// staff see the figures; money only the performer, admins and the admin key. Anyone else
/// is refused before the performer is looked up, so the answer says nothing about who
/// exists.
pub async fn performer_reader(
    access: &AccessService,
    caller: &Caller,
    performer: &str,
) -> Result<PerformerReader, Refusal> {
    if !(caller.is(performer) || caller.is_staff()) {
        return Err(Refusal::Forbidden(
            "only the performer, moderators and admins may see this",
        ));
    }
    if access.user(performer).await?.is_none() {
        return Err(Refusal::UnknownPerformer);
    }
    Ok(PerformerReader::new(
        performer,
        caller.is(performer) || caller.is_admin(),
    ))
}

/// May `caller` see `owner`'s money? `owner` themself, admins and the admin key.
pub fn revenue_reader(caller: &Caller, owner: &str) -> Result<RevenueReader, Refusal> {
    if caller.is(owner) || caller.is_admin() {
        Ok(RevenueReader::new(owner))
    } else {
        Err(Refusal::Forbidden(
            "only the performer or an admin may see this",
        ))
    }
}

/// Whether money is shown to `caller` next to `room`'s figures (its performer, admins).
pub fn sees_revenue_of(caller: &Caller, room: &Room) -> bool {
    caller.is(&room.owner_id) || caller.is_admin()
}

/// May `caller` read the audit trail, all of it or `room`'s? Staff all of it; a performer
/// only their own room's.
pub async fn audit_reader(
    access: &AccessService,
    caller: &Caller,
    room: Option<&RoomName>,
) -> Result<AuditReader, Refusal> {
    if caller.is_staff() {
        return Ok(AuditReader::new(None));
    }
    let refused = Refusal::Forbidden(
        "only moderators and admins, or a room's performer for that room, may read the audit trail",
    );
    let Some(name) = room else {
        return Err(refused);
    };
    let room = access.room(name).await?.ok_or(Refusal::UnknownRoom)?;
    if caller.is(&room.owner_id) {
        Ok(AuditReader::new(Some(name.clone())))
    } else {
        Err(refused)
    }
}

/// Who creates a show: staff for any performer, anyone else for themselves (the show
/// service then requires a verified performer).
pub fn show_creator(caller: &Caller) -> ShowCreator {
    if caller.is_staff() {
        ShowCreator::staff(Actor::of(caller))
    } else {
        ShowCreator::performer(Actor::of(caller))
    }
}

/// May `caller` read what concerns `user_id` (their verification, say)? The user
/// themself and staff.
pub fn self_or_staff(caller: &Caller, user_id: &str) -> Result<(), Refusal> {
    if caller.is(user_id) || caller.is_staff() {
        Ok(())
    } else {
        Err(Refusal::Forbidden(
            "only the user themself, moderators and admins may see this",
        ))
    }
}

#[cfg(test)]
mod tests;
