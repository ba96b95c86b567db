//! The access rule, as a pure function of the facts: who may enter which room, until when,
//! and as what. Nothing here does I/O, so every allow/deny can be replayed and explained.

use crate::clock::UnixSeconds;
use crate::domain::{
    entitlement_active_at, Ban, BanScope, Entitlement, EntitlementScope, Money, Role, Room,
    RoomAccess, ScopeKind, User,
};

/// Why someone may enter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// Platform moderator or admin.
    Staff,
    /// The performer who owns the room.
    RoomOwner,
    /// A free room; being signed in is enough.
    FreeRoom,
    /// An entitlement covering the room.
    Entitlement { id: String, scope: EntitlementScope },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Moderator in the Jitsi room (owner affiliation).
    pub moderator: bool,
    /// When the access ends (the entitlement's end); `None` means only the token TTL limits it.
    pub until: Option<UnixSeconds>,
    pub basis: Basis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    Banned {
        ban_id: String,
        scope: BanScope,
        reason: String,
        until: Option<UnixSeconds>,
    },
    /// A paid room without a covering entitlement; `price` is what a ticket costs.
    PaymentRequired { price: Option<Money> },
    /// An invite-only room without a covering entitlement.
    InviteRequired,
    /// A covering entitlement exists but starts later (a booked private call's window).
    NotYetValid { starts_at: UnixSeconds },
    /// The room's scheduled end has passed.
    RoomEnded { ended_at: UnixSeconds },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow(Grant),
    Deny(Denial),
}

/// Who asks to enter, as far as the rule reads them.
#[derive(Debug, Clone, Copy)]
pub struct Entrant<'a> {
    pub id: &'a str,
    pub role: Role,
}

impl<'a> From<&'a User> for Entrant<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            id: &user.id,
            role: user.role,
        }
    }
}

/// What the rule reads of an entitlement. The caches hold entitlements compactly
/// ([`super::candidates::HeldEntitlement`]), so the rule reads a view rather than the record.
#[derive(Debug, Clone, Copy)]
pub struct EntitlementTerms<'a> {
    pub id: &'a str,
    pub kind: ScopeKind,
    /// What the scope names: a room id, a performer's user id, a plan, a credit kind.
    pub reference: &'a str,
    pub valid_from: UnixSeconds,
    /// `None` is a lifetime entitlement.
    pub valid_until: Option<UnixSeconds>,
    pub revoked: bool,
}

impl EntitlementTerms<'_> {
    /// Active now: started, not ended, not revoked.
    pub fn is_active_at(&self, now: UnixSeconds) -> bool {
        entitlement_active_at(self.valid_from, self.valid_until, self.revoked, now)
    }

    pub fn scope(&self) -> EntitlementScope {
        EntitlementScope::of_kind(self.kind, self.reference.to_owned())
    }
}

impl<'a> From<&'a Entitlement> for EntitlementTerms<'a> {
    fn from(e: &'a Entitlement) -> Self {
        Self {
            id: &e.id,
            kind: e.scope.scope_kind(),
            reference: e.scope.reference(),
            valid_from: e.valid_from,
            valid_until: e.valid_until,
            revoked: e.revocation.is_some(),
        }
    }
}

/// Decides whether `user` may enter `room` at `now`.
///
/// Order matters: a ban beats everything, including staff and ownership; then staff and
/// the owner enter as moderators; then the room's access rule applies. `entitlements` may
/// be all of the user's, or any part that holds every one covering the room (the hot
/// path passes [`crate::access::UserFacts::entitlements_for`]); each is checked against
/// the room here.
pub fn decide<'a>(
    user: Entrant<'_>,
    room: &Room,
    bans: &[Ban],
    entitlements: impl IntoIterator<Item = EntitlementTerms<'a>, IntoIter: Clone>,
    now: UnixSeconds,
) -> Verdict {
    if let Some(ban) = active_ban(room, bans, now) {
        return Verdict::Deny(Denial::Banned {
            ban_id: ban.id.clone(),
            scope: ban.scope.clone(),
            reason: ban.reason.clone(),
            until: ban.until,
        });
    }
    if user.role.is_staff() {
        return Verdict::Allow(Grant {
            moderator: true,
            until: None,
            basis: Basis::Staff,
        });
    }
    if user.id == room.owner_id {
        return Verdict::Allow(Grant {
            moderator: true,
            until: None,
            basis: Basis::RoomOwner,
        });
    }
    if let Some(ended_at) = room.ends_at.filter(|end| now >= *end) {
        return Verdict::Deny(Denial::RoomEnded { ended_at });
    }
    if room.access == RoomAccess::Free {
        return Verdict::Allow(Grant {
            moderator: false,
            until: None,
            basis: Basis::FreeRoom,
        });
    }
    let covering = entitlements.into_iter().filter(|e| covers(e, room));
    if let Some(best) = covering
        .clone()
        .filter(|e| e.is_active_at(now))
        .max_by_key(|e| e.valid_until.unwrap_or(i64::MAX))
    {
        return Verdict::Allow(Grant {
            moderator: false,
            until: best.valid_until,
            basis: Basis::Entitlement {
                id: best.id.to_owned(),
                scope: best.scope(),
            },
        });
    }
    if let Some(starts_at) = covering
        .filter(|e| !e.revoked && e.valid_from > now)
        .map(|e| e.valid_from)
        .min()
    {
        return Verdict::Deny(Denial::NotYetValid { starts_at });
    }
    Verdict::Deny(match room.access {
        RoomAccess::InviteOnly => Denial::InviteRequired,
        _ => Denial::PaymentRequired {
            price: room.price.clone(),
        },
    })
}

/// The ban check: the longest-lasting ban in force at `now` that applies to `room` —
/// global, on the room itself, or on every room of the room's performer.
pub fn active_ban<'a>(room: &Room, bans: &'a [Ban], now: UnixSeconds) -> Option<&'a Ban> {
    bans.iter()
        .filter(|ban| ban.is_active_at(now))
        .filter(|ban| match &ban.scope {
            BanScope::Global => true,
            BanScope::Room(room_id) => *room_id == room.id,
            BanScope::Performer(performer_id) => *performer_id == room.owner_id,
        })
        .max_by_key(|ban| ban.until.unwrap_or(i64::MAX))
}

/// Whether an entitlement's scope includes the room (ignoring time and revocation).
fn covers(entitlement: &EntitlementTerms<'_>, room: &Room) -> bool {
    let reference = entitlement.reference;
    match entitlement.kind {
        ScopeKind::Room => reference == room.id,
        ScopeKind::Performer => reference == room.owner_id,
        ScopeKind::Plan => room.plans.iter().any(|p| p == reference),
        ScopeKind::Credit => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{entitlement, room, user};
    use crate::domain::{BanLift, Revocation, Role};

    const NOW: UnixSeconds = 1_800_000_000;

    /// [`decide`] over the records themselves.
    fn decide_for(
        user: &User,
        room: &Room,
        bans: &[Ban],
        entitlements: &[Entitlement],
        now: UnixSeconds,
    ) -> Verdict {
        decide(
            user.into(),
            room,
            bans,
            entitlements.iter().map(EntitlementTerms::from),
            now,
        )
    }

    fn ban(scope: BanScope, until: Option<UnixSeconds>) -> Ban {
        Ban {
            id: "ban-1".into(),
            user_id: "viewer".into(),
            scope,
            reason: "spam".into(),
            until,
            banned_by: Some("mod".into()),
            created_at: NOW - 10,
            lift: None,
        }
    }

    fn viewer() -> User {
        user("viewer", Role::Viewer)
    }

    #[test]
    fn paid_room_without_entitlement_asks_for_the_price() {
        let verdict = decide_for(&viewer(), &room(RoomAccess::Paid), &[], &[], NOW);
        assert_eq!(
            verdict,
            Verdict::Deny(Denial::PaymentRequired {
                price: Some(Money {
                    amount_minor: 50_000,
                    currency: "COP".into()
                })
            })
        );
    }

    #[test]
    fn each_scope_covers_the_room_until_it_ends() {
        for scope in [
            EntitlementScope::Room("room-1".into()),
            EntitlementScope::Performer("alex".into()),
            EntitlementScope::Plan("prime".into()),
        ] {
            let e = entitlement(scope, NOW - 60, Some(NOW + 120));
            match decide_for(&viewer(), &room(RoomAccess::Paid), &[], &[e], NOW) {
                Verdict::Allow(grant) => {
                    assert_eq!(grant.until, Some(NOW + 120));
                    assert!(!grant.moderator);
                }
                other => panic!("expected allow, got {other:?}"),
            }
        }
    }

    #[test]
    fn other_scopes_and_credits_do_not_cover_the_room() {
        let entitlements = [
            entitlement(EntitlementScope::Room("room-2".into()), NOW - 60, None),
            entitlement(EntitlementScope::Performer("sam".into()), NOW - 60, None),
            entitlement(EntitlementScope::Plan("member".into()), NOW - 60, None),
            entitlement(
                EntitlementScope::Credit("private_call_minutes".into()),
                NOW - 60,
                None,
            ),
        ];
        let verdict = decide_for(&viewer(), &room(RoomAccess::Paid), &[], &entitlements, NOW);
        assert!(matches!(
            verdict,
            Verdict::Deny(Denial::PaymentRequired { .. })
        ));
    }

    #[test]
    fn the_longest_entitlement_wins_and_lifetime_beats_all() {
        let short = entitlement(
            EntitlementScope::Room("room-1".into()),
            NOW - 60,
            Some(NOW + 60),
        );
        let lifetime = entitlement(EntitlementScope::Plan("prime".into()), NOW - 60, None);
        match decide_for(
            &viewer(),
            &room(RoomAccess::Paid),
            &[],
            &[short, lifetime],
            NOW,
        ) {
            Verdict::Allow(grant) => assert_eq!(grant.until, None),
            other => panic!("expected allow, got {other:?}"),
        }
    }

    #[test]
    fn expired_revoked_and_future_entitlements_do_not_admit() {
        let expired = entitlement(
            EntitlementScope::Room("room-1".into()),
            NOW - 600,
            Some(NOW),
        );
        let mut revoked = entitlement(EntitlementScope::Plan("prime".into()), NOW - 600, None);
        revoked.revocation = Some(Revocation {
            revoked_at: NOW - 1,
            revoked_by: None,
            reason: "refund".into(),
        });
        let verdict = decide_for(
            &viewer(),
            &room(RoomAccess::Paid),
            &[],
            &[expired, revoked.clone()],
            NOW,
        );
        assert!(matches!(
            verdict,
            Verdict::Deny(Denial::PaymentRequired { .. })
        ));

        let later = entitlement(
            EntitlementScope::Room("room-1".into()),
            NOW + 900,
            Some(NOW + 2700),
        );
        let verdict = decide_for(
            &viewer(),
            &room(RoomAccess::Paid),
            &[],
            &[revoked, later],
            NOW,
        );
        assert_eq!(
            verdict,
            Verdict::Deny(Denial::NotYetValid {
                starts_at: NOW + 900
            })
        );
    }

    #[test]
    fn invite_only_rooms_never_offer_a_price() {
        let verdict = decide_for(&viewer(), &room(RoomAccess::InviteOnly), &[], &[], NOW);
        assert_eq!(verdict, Verdict::Deny(Denial::InviteRequired));
    }

    #[test]
    fn free_rooms_admit_any_signed_in_user_as_member() {
        let verdict = decide_for(&viewer(), &room(RoomAccess::Free), &[], &[], NOW);
        assert_eq!(
            verdict,
            Verdict::Allow(Grant {
                moderator: false,
                until: None,
                basis: Basis::FreeRoom
            })
        );
    }

    #[test]
    fn owner_and_staff_are_moderators_viewers_are_not() {
        let owner = user("alex", Role::Performer);
        let other_performer = user("sam", Role::Performer);
        let r = room(RoomAccess::Paid);
        assert!(matches!(
            decide_for(&owner, &r, &[], &[], NOW),
            Verdict::Allow(Grant {
                moderator: true,
                ..
            })
        ));
        for role in [Role::Moderator, Role::Admin] {
            let staff = user("staff", role);
            assert!(matches!(
                decide_for(&staff, &r, &[], &[], NOW),
                Verdict::Allow(Grant {
                    moderator: true,
                    ..
                })
            ));
        }
        assert!(matches!(
            decide_for(&other_performer, &r, &[], &[], NOW),
            Verdict::Deny(_)
        ));
    }

    #[test]
    fn every_ban_scope_applies_and_beats_entitlements() {
        let e = entitlement(EntitlementScope::Room("room-1".into()), NOW - 60, None);
        for scope in [
            BanScope::Global,
            BanScope::Room("room-1".into()),
            BanScope::Performer("alex".into()),
        ] {
            let verdict = decide_for(
                &viewer(),
                &room(RoomAccess::Paid),
                &[ban(scope.clone(), Some(NOW + 3600))],
                std::slice::from_ref(&e),
                NOW,
            );
            assert_eq!(
                verdict,
                Verdict::Deny(Denial::Banned {
                    ban_id: "ban-1".into(),
                    scope,
                    reason: "spam".into(),
                    until: Some(NOW + 3600)
                })
            );
        }
    }

    #[test]
    fn bans_elsewhere_lifted_or_expired_do_not_apply() {
        let mut lifted = ban(BanScope::Global, None);
        lifted.lift = Some(BanLift {
            lifted_at: NOW - 1,
            lifted_by: None,
            reason: "appeal".into(),
        });
        let bans = [
            ban(BanScope::Room("room-2".into()), None),
            ban(BanScope::Performer("sam".into()), None),
            ban(BanScope::Global, Some(NOW)),
            lifted,
        ];
        let verdict = decide_for(&viewer(), &room(RoomAccess::Free), &bans, &[], NOW);
        assert!(matches!(verdict, Verdict::Allow(_)));
    }

    #[test]
    fn a_ban_applies_to_staff_too() {
        let admin = user("viewer", Role::Admin);
        let verdict = decide_for(
            &admin,
            &room(RoomAccess::Free),
            &[ban(BanScope::Global, None)],
            &[],
            NOW,
        );
        assert!(matches!(verdict, Verdict::Deny(Denial::Banned { .. })));
    }

    #[test]
    fn a_permanent_ban_is_reported_over_a_temporary_one() {
        let mut permanent = ban(BanScope::Global, None);
        permanent.id = "ban-2".into();
        let bans = [
            ban(BanScope::Room("room-1".into()), Some(NOW + 60)),
            permanent,
        ];
        match decide_for(&viewer(), &room(RoomAccess::Free), &bans, &[], NOW) {
            Verdict::Deny(Denial::Banned { ban_id, until, .. }) => {
                assert_eq!(ban_id, "ban-2");
                assert_eq!(until, None);
            }
            other => panic!("expected a ban, got {other:?}"),
        }
    }

    #[test]
    fn ended_rooms_turn_viewers_away_but_not_the_performer() {
        let mut r = room(RoomAccess::Free);
        r.ends_at = Some(NOW - 1);
        assert_eq!(
            decide_for(&viewer(), &r, &[], &[], NOW),
            Verdict::Deny(Denial::RoomEnded { ended_at: NOW - 1 })
        );
        assert!(matches!(
            decide_for(&user("alex", Role::Performer), &r, &[], &[], NOW),
            Verdict::Allow(_)
        ));
    }
}
