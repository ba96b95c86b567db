//! Facts for unit tests: a user, a paid room and an entitlement, each with plain values
//! that a test changes where its point lies.

use crate::clock::UnixSeconds;
use crate::domain::{
    Entitlement, EntitlementScope, EntitlementSource, Money, Role, Room, RoomAccess, RoomName, User,
};

/// A user whose handle and display name are `id`.
pub(crate) fn user(id: &str, role: Role) -> User {
    User {
        id: id.into(),
        handle: id.into(),
        email: format!("{id}@example.com"),
        display_name: id.into(),
        role,
        matrix_user_id: None,
        avatar_url: None,
        verified: false,
        created_at: 0,
        updated_at: 0,
        session_generation: 0,
    }
}

/// Room `room-1` (`livealex`), owned by `alex`, marked for the `prime` plan, 500 COP.
pub(crate) fn room(access: RoomAccess) -> Room {
    Room {
        id: "room-1".into(),
        name: RoomName::parse("livealex").unwrap(),
        title: "Live".into(),
        owner_id: "alex".into(),
        access,
        price: Some(Money {
            amount_minor: 50_000,
            currency: "COP".into(),
        }),
        plans: vec!["prime".into()],
        starts_at: None,
        ends_at: None,
        created_at: 0,
        updated_at: 0,
        capacity: None,
    }
}

/// Held by `viewer`, paid for, with the id `ent-<scope reference>`.
pub(crate) fn entitlement(
    scope: EntitlementScope,
    from: UnixSeconds,
    until: Option<UnixSeconds>,
) -> Entitlement {
    Entitlement {
        id: format!("ent-{}", scope.reference()),
        user_id: "viewer".into(),
        scope,
        quantity: None,
        valid_from: from,
        valid_until: until,
        source: EntitlementSource::Payment,
        source_ref: None,
        granted_by: None,
        created_at: from,
        revocation: None,
    }
}
