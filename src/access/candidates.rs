//! Which of a user's entitlements may cover a room, found without reading their scopes.
//!
//! The rule reads a user's entitlements on every token request. Each one's scope is a
//! string in its own allocation, so comparing scopes against the room is one cache miss per
//! entitlement, for entitlements that almost never match. [`ScopeIndex`] keeps a 64-bit hash
//! of each scope side by side in one small array, built when the user's facts are loaded;
//! the rule then compares strings only for the entitlements whose hash matches. Equal
//! scopes have equal hashes, so no covering entitlement is ever left out: a hash only
//! narrows the list, and [`super::policy`] still decides on the strings themselves.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;

use crate::domain::{Entitlement, EntitlementScope, Room};

/// Any fixed seed: these hashes never leave the process and only ever narrow a list.
const SEED: u64 = 0x726f_6f6d_6b65_7921;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Room,
    Performer,
    Plan,
    /// Credits cover no room.
    Credit,
}

#[derive(Debug, Clone, Copy)]
struct ScopeKey {
    kind: Kind,
    hash: u64,
}

/// One kind and hash per entitlement, in the entitlements' order.
#[derive(Debug, Default)]
pub struct ScopeIndex {
    keys: Box<[ScopeKey]>,
}

fn hash(reference: &str) -> u64 {
    FixedState::with_seed(SEED).hash_one(reference)
}

impl ScopeIndex {
    pub fn of(entitlements: &[Entitlement]) -> Self {
        let keys = entitlements
            .iter()
            .map(|entitlement| {
                let kind = match &entitlement.scope {
                    EntitlementScope::Room(_) => Kind::Room,
                    EntitlementScope::Performer(_) => Kind::Performer,
                    EntitlementScope::Plan(_) => Kind::Plan,
                    EntitlementScope::Credit(_) => Kind::Credit,
                };
                ScopeKey {
                    kind,
                    hash: hash(entitlement.scope.reference()),
                }
            })
            .collect();
        Self { keys }
    }

    /// The entitlements that may cover `room`: every one that does, and rarely another.
    /// `entitlements` must be the slice this index was built from, which
    /// [`crate::access::UserFacts`] guarantees by holding both privately.
    pub fn candidates<'a>(
        &'a self,
        entitlements: &'a [Entitlement],
        room: &'a Room,
    ) -> impl Iterator<Item = &'a Entitlement> + Clone + 'a {
        debug_assert_eq!(self.keys.len(), entitlements.len());
        let room_hash = hash(&room.id);
        let owner_hash = hash(&room.owner_id);
        self.keys
            .iter()
            .zip(entitlements)
            .filter(move |(key, _)| match key.kind {
                Kind::Room => key.hash == room_hash,
                Kind::Performer => key.hash == owner_hash,
                Kind::Plan => room.plans.iter().any(|plan| key.hash == hash(plan)),
                Kind::Credit => false,
            })
            .map(|(_, entitlement)| entitlement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{entitlement, room};
    use crate::domain::RoomAccess;

    fn room_of(id: &str, owner: &str, plans: &[&str]) -> Room {
        Room {
            id: id.into(),
            owner_id: owner.into(),
            plans: plans.iter().map(|p| p.to_string()).collect(),
            ..room(RoomAccess::Paid)
        }
    }

    #[test]
    fn narrows_to_the_entitlements_whose_scope_names_the_room() {
        let scope = |scope| entitlement(scope, 0, None);
        let entitlements = vec![
            scope(EntitlementScope::Room("room-2".into())),
            scope(EntitlementScope::Room("room-1".into())),
            scope(EntitlementScope::Performer("alex".into())),
            scope(EntitlementScope::Performer("sam".into())),
            scope(EntitlementScope::Plan("prime".into())),
            scope(EntitlementScope::Plan("member".into())),
            // A credit whose kind name equals the room id still covers nothing.
            scope(EntitlementScope::Credit("room-1".into())),
            // A plan named like the room covers it only if the room is marked for it.
            scope(EntitlementScope::Plan("room-1".into())),
        ];
        let index = ScopeIndex::of(&entitlements);
        let ids = |room: &Room| -> Vec<String> {
            index
                .candidates(&entitlements, room)
                .map(|e| e.id.clone())
                .collect()
        };
        assert_eq!(
            ids(&room_of("room-1", "alex", &["prime"])),
            ["ent-room-1", "ent-alex", "ent-prime"]
        );
        assert!(ids(&room_of("room-9", "kim", &[])).is_empty());
        assert_eq!(
            ids(&room_of("room-2", "sam", &["member", "prime"])),
            ["ent-room-2", "ent-sam", "ent-prime", "ent-member"]
        );
    }
}
