//! The proofs [`super`]'s rules hand out. Their fields are private and their constructors
//! are visible to `authz` only, so outside this module a proof can be used and passed on,
//! never made.

use std::sync::Arc;

use super::{BanScope, Caller};
use crate::domain::{Room, RoomName};

/// The name an action is recorded under: `admin-key`, a user's id, or `system` for what
/// roomkey does on its own (a payment provider's notification, a reconcile pass).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    pub(super) fn of(caller: &Caller) -> Self {
        match caller {
            Caller::AdminKey => Actor("admin-key".into()),
            Caller::User { user, .. } => Actor(user.id.clone()),
        }
    }

    /// roomkey itself.
    pub fn system() -> Self {
        Actor("system".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A moderator or an admin, or the admin key.
#[derive(Debug, Clone)]
pub struct Staff {
    actor: Actor,
    admin: bool,
}

impl Staff {
    pub(super) fn new(actor: Actor, admin: bool) -> Self {
        Self { actor, admin }
    }
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    /// An admin, not only a moderator.
    pub fn is_admin(&self) -> bool {
        self.admin
    }
}

/// An admin, or the admin key.
#[derive(Debug, Clone)]
pub struct Admin {
    actor: Actor,
}

impl Admin {
    pub(super) fn new(actor: Actor) -> Self {
        Self { actor }
    }
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// Someone who may moderate one room (kick, end, read its attendance), and the room.
#[derive(Debug, Clone)]
pub struct RoomModerator {
    actor: Actor,
    room: Arc<Room>,
    staff: bool,
}

impl RoomModerator {
    pub(super) fn new(actor: Actor, room: Arc<Room>, staff: bool) -> Self {
        Self { actor, room, staff }
    }
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn room(&self) -> &Arc<Room> {
        &self.room
    }
    /// Platform staff (or the admin key), not only the room's performer.
    pub fn is_staff(&self) -> bool {
        self.staff
    }
}

/// Leave to ban one user with one scope.
#[derive(Debug, Clone)]
pub struct BanWarrant {
    actor: Actor,
    scope: BanScope,
}

impl BanWarrant {
    pub(super) fn new(actor: Actor, scope: BanScope) -> Self {
        Self { actor, scope }
    }
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn scope(&self) -> &BanScope {
        &self.scope
    }
}

/// Leave to read one performer's figures, with or without their money.
#[derive(Debug, Clone)]
pub struct PerformerReader {
    performer: String,
    revenue: bool,
}

impl PerformerReader {
    pub(super) fn new(performer: &str, revenue: bool) -> Self {
        Self {
            performer: performer.to_owned(),
            revenue,
        }
    }
    pub fn performer(&self) -> &str {
        &self.performer
    }
    pub fn sees_revenue(&self) -> bool {
        self.revenue
    }
}

/// Leave to read one owner's money.
#[derive(Debug, Clone)]
pub struct RevenueReader {
    owner: String,
}

impl RevenueReader {
    pub(super) fn new(owner: &str) -> Self {
        Self {
            owner: owner.to_owned(),
        }
    }
    pub fn owner(&self) -> &str {
        &self.owner
    }
}

/// Leave to read the audit trail: all of it, or one room's.
#[derive(Debug, Clone)]
pub struct AuditReader {
    only_room: Option<RoomName>,
}

impl AuditReader {
    pub(super) fn new(only_room: Option<RoomName>) -> Self {
        Self { only_room }
    }
    /// The one room this reader is held to; `None` reads everything.
    pub fn only_room(&self) -> Option<&RoomName> {
        self.only_room.as_ref()
    }
}

/// Who asks to create a show: staff may create one for any performer, a performer only for
/// themselves.
#[derive(Debug, Clone)]
pub struct ShowCreator {
    actor: Actor,
    staff: bool,
}

impl ShowCreator {
    pub(super) fn staff(actor: Actor) -> Self {
        Self { actor, staff: true }
    }
    pub(super) fn performer(actor: Actor) -> Self {
        Self {
            actor,
            staff: false,
        }
    }
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    /// Staff, who may create shows for any performer.
    pub fn is_staff(&self) -> bool {
        self.staff
    }
}
