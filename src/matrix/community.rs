//! Community rooms (`#general`, `#support`, performers-only rooms): Matrix rooms that
//! belong to no show, kept to a membership rule. All changes to one community room share
//! an order key, so they are delivered one at a time.

use std::collections::HashMap;

use super::client::RoomSpec;
use super::levels::set_moderator;
use super::{
    alias_localpart, store_error, Enabled, MatrixError, MatrixService, MatrixServiceError,
    ReconcileReport,
};
use crate::domain::{is_community_name, BanScope, CommunityRoom, CommunityRule, Role, RoomName};
use crate::store::{NewOutboxItem, OutboxItem, StoreError};
use crate::telemetry::metrics::DeliveryOutcome;

impl MatrixService {
    /// Registers a community room (or changes its title and rule): the room is created or
    /// adopted by its alias, and everyone the rule admits is invited.
    pub async fn register_community(
        &self,
        name: &str,
        title: &str,
        rule: CommunityRule,
    ) -> Result<(CommunityRoom, String), MatrixServiceError> {
        let m = self
            .enabled
            .as_ref()
            .ok_or(MatrixServiceError::NotConfigured)?;
        if !is_community_name(name) {
            return Err(MatrixServiceError::Invalid(
                "name",
                "name must be 1 to 64 of a-z, 0-9, '.', '_', '-'".into(),
            ));
        }
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(MatrixServiceError::Invalid(
                "title",
                "title must be 1 to 200 characters".into(),
            ));
        }
        // A live room whose alias would be the same owns it already.
        if let Ok(room_name) = RoomName::parse(name) {
            if let Some(room) = self.store.find_room_by_name(&room_name).await? {
                if alias_localpart("", &room.name) == name {
                    return Err(MatrixServiceError::NameTaken);
                }
            }
        }
        let before = self.store.find_community_room(name).await?;
        let community = self
            .store
            .upsert_community_room(name, title, rule, self.clock.now())
            .await?;
        // Everyone the rule admits; after a change of rule, everyone, so that those the
        // new rule leaves out are removed now rather than by the next reconcile.
        let roles = match before {
            Some(before) if before.rule != rule => None,
            _ => rule_roles(rule),
        };
        let members = self.store.find_user_ids_with_matrix_id(roles).await?;
        let mut items = vec![NewOutboxItem {
            order_key: community_key(name),
            action: "create_community",
            user_id: None,
            room_id: Some(name),
            matrix_user_id: None,
            reason: "",
        }];
        items.extend(members.iter().flat_map(|user_id| {
            community_syncs(std::slice::from_ref(&community), user_id, "room rule")
        }));
        self.store
            .insert_outbox_items(&items, self.clock.now())
            .await?;
        self.wake.notify_one();
        let alias = format!("#{}{}:{}", m.alias_prefix, name, m.server_name);
        Ok((community, alias))
    }

    /// Whether a live room named `room` would take a community room's alias.
    pub async fn is_community_alias(&self, room: &RoomName) -> Result<bool, StoreError> {
        if !self.is_enabled() {
            return Ok(false);
        }
        Ok(self
            .store
            .find_community_room(&alias_localpart("", room))
            .await?
            .is_some())
    }

    /// Community rooms, or none (logged) when they cannot be read: the reconcile mends.
    pub(super) async fn community_rooms(&self) -> Vec<CommunityRoom> {
        match self.store.find_community_rooms().await {
            Ok(rooms) => rooms,
            Err(error) => {
                tracing::error!(error = %error, "cannot read community rooms; the reconcile will mend them");
                Vec::new()
            }
        }
    }

    pub(super) async fn apply_community(
        &self,
        m: &Enabled,
        item: &OutboxItem,
    ) -> Result<DeliveryOutcome, MatrixError> {
        let Some(name) = item.room_id.as_deref() else {
            return Ok(DeliveryOutcome::Skipped);
        };
        let Some(community) = self
            .store
            .find_community_room(name)
            .await
            .map_err(store_error)?
        else {
            return Ok(DeliveryOutcome::Skipped);
        };
        let matrix_room = self.ensure_community(m, &community).await?;
        let Some(user_id) = item.user_id.as_deref() else {
            return Ok(DeliveryOutcome::Delivered);
        };
        let Some(user) = self.store.find_user(user_id).await.map_err(store_error)? else {
            return Ok(DeliveryOutcome::Skipped);
        };
        let matrix_user = self.recorded_matrix_id(&user).await?;
        let banned = self
            .is_banned_globally(&user.id)
            .await
            .map_err(store_error)?;
        let admitted = !banned && community.rule.admits(&user);
        let membership = m.client.membership_of(&matrix_room, &matrix_user).await?;
        let membership = membership.as_deref();
        let present = matches!(membership, Some("join" | "invite"));
        let mut changed = false;
        if banned {
            if membership != Some("ban") {
                m.client
                    .ban(&matrix_room, &matrix_user, &item.reason)
                    .await?;
                changed = true;
            }
        } else {
            if membership == Some("ban") {
                m.client
                    .unban(&matrix_room, &matrix_user, &item.reason)
                    .await?;
                changed = true;
            }
            if admitted && !present {
                self.ensure_user(m, &matrix_user).await?;
                m.client
                    .invite(&matrix_room, &matrix_user, &item.reason)
                    .await?;
                changed = true;
            } else if !admitted && present {
                m.client
                    .kick(
                        &matrix_room,
                        &matrix_user,
                        "not admitted by this room's rule",
                    )
                    .await?;
                changed = true;
            }
        }
        // Staff moderate community rooms too.
        let mut levels = m.client.power_levels(&matrix_room).await?;
        if set_moderator(&mut levels, &matrix_user, admitted && user.role.is_staff()) {
            m.client.set_power_levels(&matrix_room, &levels).await?;
            changed = true;
        }
        Ok(if changed {
            DeliveryOutcome::Delivered
        } else {
            DeliveryOutcome::Skipped
        })
    }

    /// The community room's Matrix room, created (or adopted by its alias) if there is none:
    /// private and invite-only like live rooms, history readable by every member, staff at
    /// moderator power.
    pub(super) async fn ensure_community(
        &self,
        m: &Enabled,
        community: &CommunityRoom,
    ) -> Result<String, MatrixError> {
        if let Some(id) = &community.matrix_room_id {
            return Ok(id.clone());
        }
        let _creating = m.creating.lock().await;
        if let Some(id) = self
            .store
            .find_community_room(&community.name)
            .await
            .map_err(store_error)?
            .and_then(|c| c.matrix_room_id)
        {
            return Ok(id);
        }
        let localpart = format!("{}{}", m.alias_prefix, community.name);
        let alias = format!("#{localpart}:{}", m.server_name);
        let id = match m.client.resolve_alias(&alias).await? {
            Some(id) => id,
            None => {
                let mut moderators = self
                    .store
                    .find_staff_matrix_ids()
                    .await
                    .map_err(store_error)?;
                moderators.retain(|id| *id != m.bot);
                m.client
                    .create_room(&RoomSpec {
                        alias_localpart: &localpart,
                        alias: &alias,
                        name: &community.title,
                        invite: &[],
                        moderators: &moderators,
                        history_visibility: "shared",
                    })
                    .await?
            }
        };
        self.store
            .update_community_matrix_room(&community.name, &id, self.clock.now())
            .await
            .map_err(store_error)?;
        tracing::info!(community = %community.name, matrix_room = %id, %alias, "Matrix community room ready");
        Ok(id)
    }

    pub(super) async fn is_banned_globally(&self, user_id: &str) -> Result<bool, StoreError> {
        let bans = self
            .store
            .find_active_bans(user_id, self.clock.now())
            .await?;
        Ok(bans.iter().any(|ban| ban.scope == BanScope::Global))
    }

    /// One community room: members the rule no longer admits (or who are banned) get a
    /// sync queued, which removes them; strangers are removed at once; admitted users
    /// who are not there (and not banned) get a sync, which invites them.
    pub(super) async fn reconcile_community(
        &self,
        m: &Enabled,
        community: &CommunityRoom,
        report: &mut ReconcileReport,
    ) -> Result<(), MatrixServiceError> {
        let Some(matrix_room) = &community.matrix_room_id else {
            return Ok(());
        };
        let members = match m.client.members(matrix_room).await {
            Ok(members) => members,
            Err(error) => {
                tracing::warn!(community = %community.name, error = %error, "cannot read a Matrix room's members");
                return Ok(());
            }
        };
        report.rooms += 1;
        let key = community_key(&community.name);
        let mut present = HashMap::new();
        for member in &members {
            present.insert(member.user_id.as_str(), member.membership.as_str());
        }
        let mut queued: Vec<(String, bool)> = Vec::new();
        for member in &members {
            if !matches!(member.membership.as_str(), "join" | "invite") || member.user_id == m.bot {
                continue;
            }
            let user = match self.store.find_user_by_matrix_id(&member.user_id).await? {
                Some(user_id) => self.store.find_user(&user_id).await?,
                None => None,
            };
            match user {
                Some(user) => {
                    let banned = self.is_banned_globally(&user.id).await?;
                    if banned || !community.rule.admits(&user) {
                        queued.push((user.id, true));
                    }
                }
                None => {
                    if let Err(error) = m
                        .client
                        .kick(
                            matrix_room,
                            &member.user_id,
                            "not a member of this platform",
                        )
                        .await
                    {
                        tracing::warn!(community = %community.name, error = %error, "cannot remove a stranger from a Matrix room");
                        continue;
                    }
                    report.removals += 1;
                }
            }
        }
        for user_id in self
            .store
            .find_user_ids_with_matrix_id(rule_roles(community.rule))
            .await?
        {
            let Some(user) = self.store.find_user(&user_id).await? else {
                continue;
            };
            let matrix_user = self.matrix_id(&user).unwrap_or_default();
            if matches!(
                present.get(matrix_user.as_str()).copied(),
                Some("join" | "invite")
            ) || !community.rule.admits(&user)
            {
                continue;
            }
            let banned = self.is_banned_globally(&user.id).await?;
            if !banned {
                queued.push((user.id, false));
            }
        }
        for (user_id, removal) in queued {
            if self
                .store
                .has_pending_outbox_for_user(&key, "sync_community", &user_id)
                .await?
            {
                continue;
            }
            if removal {
                report.removals += 1;
            } else {
                report.invites_queued += 1;
            }
            self.enqueue(community_syncs(
                std::slice::from_ref(community),
                &user_id,
                if removal {
                    "no access"
                } else {
                    "access granted"
                },
            ))
            .await;
        }
        Ok(())
    }
}

/// The order key of every change to one community room: one at a time, so the
/// read-modify-write of its power levels never loses an update.
pub(super) fn community_key(name: &str) -> String {
    format!("community/{name}")
}

/// A `sync_community` per community room for `user_id`.
pub(super) fn community_syncs<'a>(
    communities: &'a [CommunityRoom],
    user_id: &'a str,
    reason: &'a str,
) -> Vec<NewOutboxItem<'a>> {
    communities
        .iter()
        .map(|c| NewOutboxItem {
            order_key: community_key(&c.name),
            action: "sync_community",
            user_id: Some(user_id),
            room_id: Some(&c.name),
            matrix_user_id: None,
            reason,
        })
        .collect()
}

/// The roles a rule admits, for finding its members in the store (`None`: every role).
pub(super) fn rule_roles(rule: CommunityRule) -> Option<&'static [Role]> {
    const ROLES: [Role; 4] = [Role::Viewer, Role::Performer, Role::Moderator, Role::Admin];
    match rule {
        CommunityRule::SignedIn => None,
        CommunityRule::VerifiedPerformers => Some(&ROLES[1..]),
        CommunityRule::Staff => Some(&ROLES[2..]),
    }
}
