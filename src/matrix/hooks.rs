//! What the other services call, and the changes Matrix hears about: each turns into
//! rows of the Matrix outbox, which the worker delivers.

use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;

use super::*;
use crate::changes::{Change, DeliveryError, Subscriber};

impl MatrixService {
    /// A user signed up (or was provisioned): record their Matrix id and create the account.
    pub async fn user_created(&self, user: &mut User) {
        let Some(id) = self.matrix_id(user) else {
            return;
        };
        if user.matrix_user_id.is_none() {
            match self
                .store
                .update_user_matrix_id(&user.id, &id, self.clock.now())
                .await
            {
                Ok(()) => user.matrix_user_id = Some(id),
                Err(error) => {
                    tracing::error!(user = %user.id, error = %error, "cannot record the user's Matrix id");
                }
            }
        }
        let mut items = vec![NewOutboxItem {
            order_key: format!("user/{}", user.id),
            action: "provision",
            user_id: Some(&user.id),
            room_id: None,
            matrix_user_id: None,
            reason: "",
        }];
        let communities = self.community_rooms().await;
        items.extend(community_syncs(&communities, &user.id, "signed up"));
        self.enqueue(items).await;
    }

    /// A user's role changed from `before`: staff moderate every live room, and community
    /// rooms' rules may now admit or exclude them.
    pub(super) async fn role_changed(&self, user: &User, before: Role) -> Result<(), StoreError> {
        if !self.is_enabled() || user.role == before {
            return Ok(());
        }
        let rooms = if user.role.is_staff() == before.is_staff() {
            Vec::new()
        } else {
            self.rooms_with_chat().await?
        };
        let mut items: Vec<NewOutboxItem<'_>> = rooms
            .iter()
            .map(|room| NewOutboxItem::power_levels(&room.id, "role changed"))
            .collect();
        let communities = self.store.find_community_rooms().await?;
        items.extend(community_syncs(&communities, &user.id, "role changed"));
        self.try_enqueue(items).await
    }

    /// A performer was verified or lost it: community rooms for verified performers follow.
    pub(super) async fn verification_changed(&self, user: &User) -> Result<(), StoreError> {
        if !self.is_enabled() {
            return Ok(());
        }
        let communities = self.store.find_community_rooms().await?;
        self.try_enqueue(community_syncs(
            &communities,
            &user.id,
            "verification changed",
        ))
        .await
    }

    /// A show ended: its chat becomes read-only. Members keep the history; nobody but the
    /// bot can post. Idempotent.
    pub(super) async fn room_ended(&self, room: &Room) -> Result<(), StoreError> {
        if !self.is_enabled() {
            return Ok(());
        }
        self.try_enqueue(vec![NewOutboxItem {
            order_key: format!("room/{}", room.id),
            action: "archive",
            user_id: None,
            room_id: Some(&room.id),
            matrix_user_id: None,
            reason: "show ended",
        }])
        .await
    }

    /// Open rooms that have a Matrix room.
    pub(super) async fn rooms_with_chat(&self) -> Result<Vec<Room>, StoreError> {
        let with_chat: HashSet<String> = self
            .store
            .find_all_matrix_rooms()
            .await?
            .into_iter()
            .map(|(room_id, _)| room_id)
            .collect();
        self.open_rooms(|r| with_chat.contains(&r.id)).await
    }

    /// The outbox row that makes `room`'s chat; none when Matrix is off. Queued twice it is
    /// harmless: the worker makes a room's chat once.
    pub(super) fn room_created_change<'a>(&self, room: &'a Room) -> Option<NewOutboxItem<'a>> {
        self.is_enabled().then(|| NewOutboxItem {
            order_key: format!("room/{}", room.id),
            action: "create_room",
            user_id: None,
            room_id: Some(&room.id),
            matrix_user_id: None,
            reason: "",
        })
    }

    /// Wakes the worker after changes were queued elsewhere.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A ban placed (`undo` false) or lifted: (un)ban the user in every open room it
    /// covers, and in community rooms for a global one.
    pub(super) async fn ban_changed(&self, ban: &Ban, undo: bool) -> Result<(), StoreError> {
        let (action, reason) = if undo {
            ("unban", "ban lifted")
        } else {
            ("ban", ban.reason.as_str())
        };
        self.for_rooms_of_ban(ban, action, reason).await?;
        if self.is_enabled() && ban.scope == BanScope::Global {
            let communities = self.store.find_community_rooms().await?;
            self.try_enqueue(community_syncs(&communities, &ban.user_id, reason))
                .await?;
        }
        Ok(())
    }

    /// An entitled user asks again for their invite to `room`.
    pub async fn invite_again(
        &self,
        user_id: &str,
        room: &RoomName,
    ) -> Result<ChatStatus, MatrixServiceError> {
        let alias = self.alias(room).ok_or(MatrixServiceError::NotConfigured)?;
        let decision = self.access.decide(user_id, room).await?;
        if let Verdict::Deny(denial) = decision.verdict {
            return Err(MatrixServiceError::Denied(denial));
        }
        let item = NewOutboxItem {
            order_key: order_key(user_id, &decision.room.id),
            action: "invite",
            user_id: Some(user_id),
            room_id: Some(&decision.room.id),
            matrix_user_id: None,
            reason: "invite requested",
        };
        self.store
            .insert_outbox_items(&[item], self.clock.now())
            .await?;
        self.wake.notify_one();
        let invited = self.invite_pending(&decision.room.id, user_id).await?;
        Ok(ChatStatus { alias, invited })
    }

    /// The room's chat for a user who may enter it; `None` when Matrix is off.
    pub async fn status(
        &self,
        user_id: &str,
        room: &Room,
    ) -> Result<Option<ChatStatus>, StoreError> {
        let Some(alias) = self.alias(&room.name) else {
            return Ok(None);
        };
        let invited = self.invite_pending(&room.id, user_id).await?;
        Ok(Some(ChatStatus { alias, invited }))
    }

    /// An entitlement granted (`invite`) or revoked (`kick`, which the worker skips when
    /// something else still lets the user in): every open room it covers.
    pub(super) async fn for_rooms_of_scope(
        &self,
        entitlement: &Entitlement,
        action: &'static str,
        reason: &str,
    ) -> Result<(), StoreError> {
        if !self.is_enabled() {
            return Ok(());
        }
        let rooms = match &entitlement.scope {
            EntitlementScope::Room(id) => {
                self.store.find_room_by_id(id).await?.into_iter().collect()
            }
            EntitlementScope::Performer(owner) => self.open_rooms(|r| r.owner_id == *owner).await?,
            EntitlementScope::Plan(plan) => self.open_rooms(|r| r.plans.contains(plan)).await?,
            EntitlementScope::Credit(_) => Vec::new(),
        };
        self.enqueue_for_rooms(&rooms, &entitlement.user_id, action, reason)
            .await
    }

    pub(super) async fn for_rooms_of_ban(
        &self,
        ban: &Ban,
        action: &'static str,
        reason: &str,
    ) -> Result<(), StoreError> {
        if !self.is_enabled() {
            return Ok(());
        }
        let rooms = match &ban.scope {
            BanScope::Room(id) => self.store.find_room_by_id(id).await?.into_iter().collect(),
            BanScope::Performer(owner) => self.open_rooms(|r| r.owner_id == *owner).await?,
            BanScope::Global => self.open_rooms(|_| true).await?,
        };
        self.enqueue_for_rooms(&rooms, &ban.user_id, action, reason)
            .await
    }

    pub(super) async fn open_rooms(
        &self,
        keep: impl Fn(&Room) -> bool,
    ) -> Result<Vec<Room>, StoreError> {
        let rooms = self.store.find_open_rooms(self.clock.now()).await?;
        Ok(rooms.into_iter().filter(|r| keep(r)).collect())
    }

    pub(super) async fn enqueue_for_rooms(
        &self,
        rooms: &[Room],
        user_id: &str,
        action: &'static str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let items = rooms
            .iter()
            .map(|room| NewOutboxItem {
                order_key: order_key(user_id, &room.id),
                action,
                user_id: Some(user_id),
                room_id: Some(&room.id),
                matrix_user_id: None,
                reason,
            })
            .collect();
        self.try_enqueue(items).await
    }

    /// Writes changes to the outbox and wakes the worker.
    pub(super) async fn try_enqueue(
        &self,
        items: Vec<NewOutboxItem<'_>>,
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        self.store
            .insert_outbox_items(&items, self.clock.now())
            .await?;
        self.wake.notify_one();
        Ok(())
    }

    /// [`MatrixService::try_enqueue`] where nothing else would retry: a failed write is
    /// logged, and the periodic reconcile mends the rooms.
    pub(super) async fn enqueue(&self, items: Vec<NewOutboxItem<'_>>) {
        if let Err(error) = self.try_enqueue(items).await {
            tracing::error!(error = %error, "cannot queue Matrix changes; the reconcile will mend them");
        }
    }
}

impl Subscriber for MatrixService {
    fn name(&self) -> &'static str {
        "matrix"
    }

    fn on_change<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<(), DeliveryError>> {
        async move {
            match change {
                Change::EntitlementGranted { entitlement } => {
                    self.for_rooms_of_scope(entitlement, "invite", "access granted")
                        .await?;
                }
                Change::EntitlementRevoked {
                    entitlement,
                    reason,
                } => self.for_rooms_of_scope(entitlement, "kick", reason).await?,
                Change::BanPlaced { ban } => self.ban_changed(ban, false).await?,
                Change::BanLifted { ban } => self.ban_changed(ban, true).await?,
                Change::RoleChanged { user, before } => self.role_changed(user, *before).await?,
                Change::VerificationChanged { user } => self.verification_changed(user).await?,
                Change::RoomCreated { room } => {
                    if let Some(item) = self.room_created_change(room) {
                        self.try_enqueue(vec![item]).await?;
                    }
                }
                Change::RoomEnded { room, .. } => self.room_ended(room).await?,
                Change::PaymentApplied {
                    payment_id,
                    granted,
                    revoked,
                    tip,
                    ..
                } => {
                    if let Some(tip) = tip {
                        self.tip_confirmed(payment_id, tip).await?;
                    }
                    if let Some(entitlement) = granted {
                        self.for_rooms_of_scope(entitlement, "invite", "access granted")
                            .await?;
                    }
                    if let Some(entitlement) = revoked {
                        self.for_rooms_of_scope(entitlement, "kick", "payment reversed")
                            .await?;
                    }
                }
                // Matrix sessions signed in through roomkey end by back-channel logout.
                Change::RoomUpdated { .. } | Change::SessionsEnded { .. } => {}
                // Private calls have no chat room.
                Change::CallMinuteCharged { .. } => {}
            }
            Ok(())
        }
        .boxed()
    }
}
