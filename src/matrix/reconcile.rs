//! The reconcile: compares every Matrix room with the access rule and mends what the
//! outbox could not (changes made while Matrix was off, or lost before this outbox existed).

use super::*;

impl MatrixService {
    /// Compares every Matrix room with the access rule: members who may not be there are
    /// removed (through the outbox for roomkey users, at once for strangers), and users
    /// entitled by a ticket, subscription or plan who hold no invite get one queued.
    pub async fn reconcile_once(&self) -> Result<ReconcileReport, MatrixServiceError> {
        let Some(m) = self.enabled.as_ref() else {
            return Ok(ReconcileReport::default());
        };
        let mut report = ReconcileReport::default();
        for (room_id, matrix_room) in self.store.find_all_matrix_rooms().await? {
            let Some(room) = self.store.find_room_by_id(&room_id).await? else {
                continue;
            };
            // An ended show's chat is archived: its members keep the history, so nobody
            // is removed for the show being over (bans and refunds still act as they come).
            // A show that ended by its schedule, not `end`, is archived here.
            if room.ends_at.is_some_and(|end| end <= self.clock.now()) {
                let key = format!("room/{}", room.id);
                if !self.store.is_matrix_room_archived(&room.id).await?
                    && !self.store.has_pending_outbox(&key, "archive").await?
                {
                    self.room_ended(&room).await?;
                }
                continue;
            }
            let members = match m.client.members(&matrix_room).await {
                Ok(members) => members,
                Err(error) => {
                    tracing::warn!(room = %room.name, error = %error, "cannot read a Matrix room's members");
                    continue;
                }
            };
            report.rooms += 1;
            let mut present = HashMap::new();
            for member in &members {
                present.insert(member.user_id.as_str(), member.membership.as_str());
            }
            let mut queued = Vec::new();
            for member in &members {
                if !matches!(member.membership.as_str(), "join" | "invite")
                    || member.user_id == m.bot
                {
                    continue;
                }
                match self.store.find_user_by_matrix_id(&member.user_id).await? {
                    Some(user_id) => {
                        if !self.may_enter(&user_id, &room.name).await? {
                            queued.push((user_id, "kick", "no access"));
                        }
                    }
                    None => {
                        if let Err(error) = m
                            .client
                            .kick(
                                &matrix_room,
                                &member.user_id,
                                "not a member of this platform",
                            )
                            .await
                        {
                            tracing::warn!(room = %room.name, error = %error, "cannot remove a stranger from a Matrix room");
                            continue;
                        }
                        report.removals += 1;
                    }
                }
            }
            let now = self.clock.now();
            let mut holders: Vec<String> = self
                .store
                .find_entitlements_covering(&room, now)
                .await?
                .into_iter()
                .map(|e| e.user_id)
                .collect();
            holders.dedup();
            for user_id in holders {
                let Some(user) = self.store.find_user(&user_id).await? else {
                    continue;
                };
                let matrix_user = self.matrix_id(&user).unwrap_or_default();
                let membership = present.get(matrix_user.as_str()).copied();
                if matches!(membership, Some("join" | "invite")) {
                    continue;
                }
                // A Matrix ban outliving roomkey's (one that ran out) is lifted, which
                // invites again; anyone else entitled and absent is invited.
                let action = if membership == Some("ban") {
                    "unban"
                } else {
                    "invite"
                };
                if self.may_enter(&user_id, &room.name).await?
                    && !self
                        .store
                        .has_pending_outbox(&order_key(&user_id, &room.id), action)
                        .await?
                {
                    queued.push((user_id, action, "access granted"));
                }
            }
            for (user_id, action, reason) in &queued {
                if *action == "kick" {
                    report.removals += 1;
                } else {
                    report.invites_queued += 1;
                }
                self.enqueue(vec![NewOutboxItem {
                    order_key: order_key(user_id, &room.id),
                    action,
                    user_id: Some(user_id),
                    room_id: Some(&room.id),
                    matrix_user_id: None,
                    reason,
                }])
                .await;
            }
        }
        for community in self.store.find_community_rooms().await? {
            self.reconcile_community(m, &community, &mut report).await?;
        }
        Ok(report)
    }

    pub(super) async fn may_enter(
        &self,
        user_id: &str,
        room: &RoomName,
    ) -> Result<bool, MatrixServiceError> {
        match self.access.decide(user_id, room).await {
            Ok(decision) => Ok(matches!(decision.verdict, Verdict::Allow(_))),
            Err(AccessError::UnknownUser | AccessError::RoomNotFound) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}
