use std::sync::Arc;

use super::*;
use crate::domain::fixtures::{room, user};
use crate::domain::RoomAccess;

fn caller(role: Role, via: Via) -> Caller {
    Caller::user(Arc::new(user("u1", role)), via)
}

#[test]
fn staff_and_admin_come_from_a_session_or_the_admin_key_never_a_service_key() {
    assert!(staff(&Caller::AdminKey).is_ok_and(|s| s.is_admin()));
    assert!(staff(&caller(Role::Moderator, Via::Session)).is_ok_and(|s| !s.is_admin()));
    assert!(staff(&caller(Role::Admin, Via::Session)).is_ok_and(|s| s.is_admin()));
    assert!(staff(&caller(Role::Performer, Via::Session)).is_err());
    for role in [Role::Moderator, Role::Admin] {
        assert!(staff(&caller(role, Via::ServiceKey)).is_err(), "{role:?}");
        assert!(admin(&caller(role, Via::ServiceKey)).is_err(), "{role:?}");
    }
    assert!(admin(&Caller::AdminKey).is_ok());
    assert!(admin(&caller(Role::Admin, Via::Session)).is_ok());
    assert!(admin(&caller(Role::Moderator, Via::Session)).is_err());
    assert_eq!(
        staff(&caller(Role::Admin, Via::Session))
            .unwrap()
            .actor()
            .as_str(),
        "u1"
    );
    assert_eq!(
        admin(&Caller::AdminKey).unwrap().actor().as_str(),
        "admin-key"
    );
}

#[test]
fn a_room_is_moderated_by_its_performer_and_staff_only() {
    let paid = Arc::new(room(RoomAccess::Paid));
    let owner = Caller::user(
        Arc::new(user(&paid.owner_id, Role::Performer)),
        Via::Session,
    );
    let through_key = Caller::user(
        Arc::new(user(&paid.owner_id, Role::Performer)),
        Via::ServiceKey,
    );
    let other = caller(Role::Performer, Via::Session);
    assert!(moderator_of(&owner, paid.clone()).is_ok_and(|m| !m.is_staff()));
    assert!(moderator_of(&through_key, paid.clone()).is_ok());
    assert!(moderator_of(&other, paid.clone()).is_err());
    assert!(
        moderator_of(&caller(Role::Moderator, Via::Session), paid.clone())
            .is_ok_and(|m| m.is_staff())
    );
    assert!(moderator_of(&caller(Role::Admin, Via::ServiceKey), paid).is_err());
}

#[test]
fn money_is_for_its_owner_and_admins() {
    let owner = caller(Role::Performer, Via::Session);
    assert!(revenue_reader(&owner, "u1").is_ok());
    assert!(revenue_reader(&owner, "u2").is_err());
    assert!(revenue_reader(&caller(Role::Moderator, Via::Session), "u2").is_err());
    assert!(revenue_reader(&caller(Role::Admin, Via::Session), "u2").is_ok());
    assert!(revenue_reader(&caller(Role::Admin, Via::ServiceKey), "u2").is_err());
    assert!(revenue_reader(&Caller::AdminKey, "u2").is_ok());
}

#[test]
fn shows_are_created_by_staff_for_anyone_and_by_others_for_themselves() {
    assert!(show_creator(&caller(Role::Moderator, Via::Session)).is_staff());
    assert!(!show_creator(&caller(Role::Moderator, Via::ServiceKey)).is_staff());
    let performer = show_creator(&caller(Role::Performer, Via::Session));
    assert!(!performer.is_staff());
    assert_eq!(performer.actor().as_str(), "u1");
}
