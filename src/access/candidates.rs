//! A user's entitlements as the caches hold them, and which of them may cover a room.
//!
//! The rule reads a user's entitlements on every token request, and the caches hold them
//! for every user who asked recently. A held entitlement keeps only what the rule reads —
//! its id, its scope, when it starts and ends — with the id and the scope's reference in
//! one allocation: about 130 bytes against 430 for the full record, whose payment
//! reference, granter and timestamps the rule never reads.
//!
//! Comparing scopes against the room would be one cache miss per entitlement (each
//! reference is a string elsewhere in memory), for entitlements that almost never match.
//! So each held entitlement also keeps a 64-bit hash of its scope's reference, made when
//! the facts are loaded, and [`candidates`] compares strings only where the hash matches.
//! Equal references have equal hashes, so no covering entitlement is ever left out: a hash
//! only narrows the list, and [`super::policy`] still decides on the strings themselves.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use serde::{Deserialize, Serialize};

use super::policy::EntitlementTerms;
use crate::clock::UnixSeconds;
use crate::domain::{Entitlement, EntitlementScope, Room, ScopeKind};

/// Any fixed seed: these hashes never leave the process and only ever narrow a list.
const SEED: u64 = 0x726f_6f6d_6b65_7921;

fn hash(reference: &str) -> u64 {
    FixedState::with_seed(SEED).hash_one(reference)
}

/// One entitlement as the caches hold it. The Redis tier stores it as [`StoredEntitlement`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "StoredEntitlement", from = "StoredEntitlement")]
pub(crate) struct HeldEntitlement {
    /// The id, then the scope's reference.
    text: Box<str>,
    id_end: u32,
    kind: ScopeKind,
    revoked: bool,
    reference_hash: u64,
    valid_from: UnixSeconds,
    valid_until: Option<UnixSeconds>,
}

impl HeldEntitlement {
    fn new(
        id: &str,
        scope: &EntitlementScope,
        valid_from: UnixSeconds,
        valid_until: Option<UnixSeconds>,
        revoked: bool,
    ) -> Self {
        let reference = scope.reference();
        Self {
            text: [id, reference].concat().into_boxed_str(),
            id_end: u32::try_from(id.len()).expect("an id under 4 GiB"),
            kind: scope.scope_kind(),
            revoked,
            reference_hash: hash(reference),
            valid_from,
            valid_until,
        }
    }

    /// What the access rule reads of it.
    pub(crate) fn terms(&self) -> EntitlementTerms<'_> {
        let (id, reference) = self.text.split_at(self.id_end as usize);
        EntitlementTerms {
            id,
            kind: self.kind,
            reference,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            revoked: self.revoked,
        }
    }

    /// Whether its scope may name `room` (kind and hash agree; the strings are not compared).
    fn may_cover(&self, room: &Room, room_hash: u64, owner_hash: u64) -> bool {
        match self.kind {
            ScopeKind::Room => self.reference_hash == room_hash,
            ScopeKind::Performer => self.reference_hash == owner_hash,
            ScopeKind::Plan => room
                .plans
                .iter()
                .any(|plan| self.reference_hash == hash(plan)),
            ScopeKind::Credit => false,
        }
    }
}

impl From<&Entitlement> for HeldEntitlement {
    fn from(e: &Entitlement) -> Self {
        Self::new(
            &e.id,
            &e.scope,
            e.valid_from,
            e.valid_until,
            e.revocation.is_some(),
        )
    }
}

/// The entitlements of `held` that may cover `room`: every one that does, and rarely
/// another.
pub(crate) fn candidates<'a>(
    held: &'a [HeldEntitlement],
    room: &'a Room,
) -> impl Iterator<Item = EntitlementTerms<'a>> + Clone + 'a {
    let room_hash = hash(&room.id);
    let owner_hash = hash(&room.owner_id);
    held.iter()
        .filter(move |e| e.may_cover(room, room_hash, owner_hash))
        .map(HeldEntitlement::terms)
}

/// [`HeldEntitlement`] in the Redis tier: the fields of an [`Entitlement`] it keeps, under
/// the record's names (so an entry written from the full record reads back too).
#[derive(Serialize, Deserialize)]
struct StoredEntitlement {
    id: String,
    scope: EntitlementScope,
    valid_from: UnixSeconds,
    valid_until: Option<UnixSeconds>,
    #[serde(default)]
    revoked: bool,
}

impl From<HeldEntitlement> for StoredEntitlement {
    fn from(held: HeldEntitlement) -> Self {
        let terms = held.terms();
        Self {
            id: terms.id.to_owned(),
            scope: terms.scope(),
            valid_from: held.valid_from,
            valid_until: held.valid_until,
            revoked: held.revoked,
        }
    }
}

impl From<StoredEntitlement> for HeldEntitlement {
    fn from(stored: StoredEntitlement) -> Self {
        Self::new(
            &stored.id,
            &stored.scope,
            stored.valid_from,
            stored.valid_until,
            stored.revoked,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{entitlement, room};
    use crate::domain::{Revocation, RoomAccess};

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
        let scope = |scope| HeldEntitlement::from(&entitlement(scope, 0, None));
        let held = vec![
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
        let ids = |room: &Room| -> Vec<String> {
            candidates(&held, room).map(|e| e.id.to_owned()).collect()
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

    #[test]
    fn a_held_entitlement_keeps_what_the_rule_reads() {
        let mut record = entitlement(EntitlementScope::Performer("alex".into()), 10, Some(20));
        record.revocation = Some(Revocation {
            revoked_at: 15,
            revoked_by: None,
            reason: "refund".into(),
        });
        let held = HeldEntitlement::from(&record);
        let terms = held.terms();
        assert_eq!(terms.id, "ent-alex");
        assert_eq!(terms.scope(), record.scope);
        assert_eq!(
            (terms.valid_from, terms.valid_until, terms.revoked),
            (10, Some(20), true)
        );
        let stored = serde_json::to_string(&held).unwrap();
        assert_eq!(
            serde_json::from_str::<HeldEntitlement>(&stored).unwrap(),
            held
        );
        // An entry written from the full record (before held entitlements were compact).
        let full = serde_json::to_string(&entitlement(
            EntitlementScope::Plan("prime".into()),
            1,
            None,
        ))
        .unwrap();
        let read: HeldEntitlement = serde_json::from_str(&full).unwrap();
        assert_eq!(read.terms().scope(), EntitlementScope::Plan("prime".into()));
    }
}
