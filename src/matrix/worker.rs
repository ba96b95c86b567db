//! The worker: delivers the Matrix outbox to Synapse, in order per user and room, with
//! retries, and runs the reconcile on its schedule.

use super::*;

impl MatrixService {
    /// Delivers changes until `shutdown`: at once when one is queued here, every second
    /// for retries and other instances' changes, and reconciles every `reconcile_secs`.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let Some(enabled) = self.enabled.as_ref() else {
            return;
        };
        let mut reconcile = tokio::time::interval(enabled.reconcile_every);
        reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        reconcile.tick().await;
        loop {
            match self.try_once().await {
                Ok(delivered) if delivered > 0 => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(error = %error, "reading the Matrix outbox failed"),
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = reconcile.tick() => {
                    if let Err(error) = self.reconcile_once().await {
                        tracing::warn!(error = %error, "Matrix reconcile failed");
                    }
                }
            }
        }
    }

    /// How many changes wait to be delivered.
    pub async fn pending(&self) -> Result<i64, StoreError> {
        self.store.count_pending_outbox_rows(Outbox::Matrix).await
    }

    /// One pass: the first due change of every order key, delivered in parallel. Returns
    /// how many changes were settled (delivered or found unnecessary).
    pub async fn try_once(&self) -> Result<usize, StoreError> {
        if !self.is_enabled() {
            return Ok(0);
        }
        let _pass = self.pass.lock().await;
        let now = self.clock.now();
        let pending = self.store.find_pending_outbox(PASS_LIMIT).await?;
        let mut keys = HashSet::new();
        let mut batch = Vec::new();
        for item in pending {
            // Only the oldest change of a key may go; later ones wait for it.
            if !keys.insert(item.order_key.clone()) {
                continue;
            }
            if item.next_attempt_at > now || item.claimed_until > now {
                continue;
            }
            if self
                .store
                .claim_outbox_row(Outbox::Matrix, item.seq, now, now + CLAIM_SECS)
                .await?
            {
                batch.push(item);
            }
        }
        let results: Vec<Result<bool, StoreError>> = futures_util::stream::iter(batch)
            .map(|item| self.settle(item, now))
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        let mut settled = 0;
        for result in results {
            if result? {
                settled += 1;
            }
        }
        Ok(settled)
    }

    pub(super) async fn settle(
        &self,
        item: OutboxItem,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        let action = MatrixAction::parse(&item.action);
        match self.deliver(&item).await {
            Delivery::Done(outcome) => {
                self.store
                    .delete_outbox_row(Outbox::Matrix, item.seq)
                    .await?;
                if let Some(action) = action {
                    self.metrics.matrix_change(action, outcome);
                }
                Ok(true)
            }
            Delivery::Failed(error) => {
                let (next, failed_at, outcome) = if error.retryable {
                    let backoff = 1_i64 << item.attempts.clamp(0, 9);
                    (
                        now + backoff.min(MAX_BACKOFF_SECS),
                        None,
                        DeliveryOutcome::Retried,
                    )
                } else {
                    (now, Some(now), DeliveryOutcome::Failed)
                };
                tracing::warn!(seq = item.seq, action = %item.action, attempts = item.attempts + 1, retry = error.retryable, error = %error, "a Matrix change was not delivered");
                self.store
                    .update_outbox_row_failure(
                        Outbox::Matrix,
                        item.seq,
                        &error.to_string(),
                        next,
                        failed_at,
                    )
                    .await?;
                if let Some(action) = action {
                    self.metrics.matrix_change(action, outcome);
                }
                Ok(false)
            }
        }
    }

    pub(super) async fn deliver(&self, item: &OutboxItem) -> Delivery {
        match self.apply(item).await {
            Ok(outcome) => Delivery::Done(outcome),
            Err(error) => Delivery::Failed(error),
        }
    }

    pub(super) async fn apply(&self, item: &OutboxItem) -> Result<DeliveryOutcome, MatrixError> {
        let m = self
            .enabled
            .as_ref()
            .expect("only enabled services deliver");
        match item.action.as_str() {
            "create_community" | "sync_community" => return self.apply_community(m, item).await,
            "forget" => return self.apply_forget(m, item).await,
            _ => {}
        }
        let room = match &item.room_id {
            Some(id) => match self.store.find_room_by_id(id).await.map_err(store_error)? {
                Some(room) => Some(room),
                None => return Ok(DeliveryOutcome::Skipped),
            },
            None => None,
        };
        let user = match &item.user_id {
            Some(id) => match self.store.find_user(id).await.map_err(store_error)? {
                Some(user) => Some(user),
                None => return Ok(DeliveryOutcome::Skipped),
            },
            None => None,
        };
        match (item.action.as_str(), room, user) {
            ("provision", _, Some(user)) => {
                let id = self.matrix_id(&user).unwrap_or_default();
                self.ensure_user(m, &id).await?;
                Ok(DeliveryOutcome::Delivered)
            }
            ("notice", Some(room), _) => self.apply_notice(m, &room, item).await,
            ("create_room", Some(room), _) => {
                self.ensure_room(m, &room).await?;
                Ok(DeliveryOutcome::Delivered)
            }
            ("archive", Some(room), _) => {
                let Some(matrix_room) = self.known_room(m, &room).await? else {
                    return Ok(DeliveryOutcome::Skipped);
                };
                let mut levels = m.client.power_levels(&matrix_room).await?;
                let changed = archive_levels(&mut levels);
                if changed {
                    m.client.set_power_levels(&matrix_room, &levels).await?;
                    tracing::info!(room = %room.name, %matrix_room, "Matrix room archived (read-only)");
                }
                self.store
                    .update_matrix_room_archived(&room.id, self.clock.now())
                    .await
                    .map_err(store_error)?;
                Ok(if changed {
                    DeliveryOutcome::Delivered
                } else {
                    DeliveryOutcome::Skipped
                })
            }
            ("power_levels", Some(room), _) => {
                let Some(matrix_room) = self.known_room(m, &room).await? else {
                    return Ok(DeliveryOutcome::Skipped);
                };
                let moderators = self.room_moderators(m, &room).await?;
                let mut levels = m.client.power_levels(&matrix_room).await?;
                if !set_moderators(&mut levels, &moderators, true) {
                    return Ok(DeliveryOutcome::Skipped);
                }
                m.client.set_power_levels(&matrix_room, &levels).await?;
                Ok(DeliveryOutcome::Delivered)
            }
            (action @ ("invite" | "kick" | "ban" | "unban"), Some(room), Some(user)) => {
                let verdict = match self.access.decide(&user.id, &room.name).await {
                    Ok(decision) => decision.verdict,
                    Err(AccessError::Unavailable(error)) => return Err(store_error(error)),
                    Err(_) => return Ok(DeliveryOutcome::Skipped),
                };
                let banned = matches!(verdict, Verdict::Deny(Denial::Banned { .. }));
                let allowed = matches!(verdict, Verdict::Allow(_));
                let matrix_user = self.recorded_matrix_id(&user).await?;
                match action {
                    "invite" if allowed => {
                        self.invite(m, &room, &user.id, &matrix_user, &item.reason)
                            .await?;
                    }
                    "kick" if !allowed => {
                        let Some(matrix_room) = self.known_room(m, &room).await? else {
                            return Ok(DeliveryOutcome::Skipped);
                        };
                        m.client
                            .kick(&matrix_room, &matrix_user, &item.reason)
                            .await?;
                        self.remember(&room.id, &user.id, "kick").await?;
                    }
                    "ban" if banned => {
                        let Some(matrix_room) = self.known_room(m, &room).await? else {
                            return Ok(DeliveryOutcome::Skipped);
                        };
                        m.client
                            .ban(&matrix_room, &matrix_user, &item.reason)
                            .await?;
                        self.remember(&room.id, &user.id, "ban").await?;
                    }
                    "unban" if !banned => {
                        let Some(matrix_room) = self.known_room(m, &room).await? else {
                            return Ok(DeliveryOutcome::Skipped);
                        };
                        m.client
                            .unban(&matrix_room, &matrix_user, &item.reason)
                            .await?;
                        self.remember(&room.id, &user.id, "unban").await?;
                        if allowed {
                            self.invite(m, &room, &user.id, &matrix_user, "ban lifted")
                                .await?;
                        }
                    }
                    _ => return Ok(DeliveryOutcome::Skipped),
                }
                Ok(DeliveryOutcome::Delivered)
            }
            _ => Ok(DeliveryOutcome::Skipped),
        }
    }

    pub(super) async fn invite(
        &self,
        m: &Enabled,
        room: &Room,
        user_id: &str,
        matrix_user: &str,
        reason: &str,
    ) -> Result<(), MatrixError> {
        self.ensure_user(m, matrix_user).await?;
        let matrix_room = self.ensure_room(m, room).await?;
        m.client.invite(&matrix_room, matrix_user, reason).await?;
        self.remember(&room.id, user_id, "invite").await
    }

    pub(super) async fn remember(
        &self,
        room_id: &str,
        user_id: &str,
        state: &str,
    ) -> Result<(), MatrixError> {
        self.store
            .upsert_matrix_member(room_id, user_id, state, self.clock.now())
            .await
            .map_err(store_error)?;
        self.member_states
            .invalidate(&member_state_key(room_id, user_id));
        Ok(())
    }

    /// The user's Matrix id, recorded on the user the first time it is derived, so the
    /// reconcile can map room members back to users.
    pub(super) async fn recorded_matrix_id(&self, user: &User) -> Result<String, MatrixError> {
        let id = self.matrix_id(user).unwrap_or_default();
        if user.matrix_user_id.is_none() {
            self.store
                .update_user_matrix_id(&user.id, &id, self.clock.now())
                .await
                .map_err(store_error)?;
        }
        Ok(id)
    }

    /// Registers users of roomkey's namespace that the homeserver may not know yet
    /// (Synapse accepts invites for local users that do not exist).
    pub(super) async fn ensure_user(
        &self,
        m: &Enabled,
        matrix_user: &str,
    ) -> Result<(), MatrixError> {
        let suffix = format!(":{}", m.server_name);
        let Some(localpart) = matrix_user
            .strip_prefix('@')
            .and_then(|rest| rest.strip_suffix(&suffix))
            .filter(|local| local.starts_with(&m.user_prefix))
        else {
            return Ok(());
        };
        if lock(&m.registered).contains(matrix_user) {
            return Ok(());
        }
        m.client.register(localpart).await?;
        lock(&m.registered).insert(matrix_user.to_owned());
        Ok(())
    }

    /// The room's Matrix room if it has been made (recorded, or found by its alias).
    pub(super) async fn known_room(
        &self,
        m: &Enabled,
        room: &Room,
    ) -> Result<Option<String>, MatrixError> {
        if let Some(id) = lock(&m.rooms).get(&room.id) {
            return Ok(Some(id.clone()));
        }
        if let Some(id) = self
            .store
            .find_matrix_room(&room.id)
            .await
            .map_err(store_error)?
        {
            lock(&m.rooms).insert(room.id.clone(), id.clone());
            return Ok(Some(id));
        }
        let alias = self.alias(&room.name).unwrap_or_default();
        match m.client.resolve_alias(&alias).await? {
            Some(id) => {
                self.record_room(m, room, &id, &alias).await?;
                Ok(Some(id))
            }
            None => Ok(None),
        }
    }

    /// The room's Matrix room, created if there is none: private, invite-only, the bot as
    /// creator and the performer invited at moderator power. An existing alias is adopted,
    /// so retries and concurrent deliveries never make two rooms.
    pub(super) async fn ensure_room(
        &self,
        m: &Enabled,
        room: &Room,
    ) -> Result<String, MatrixError> {
        if let Some(id) = self.known_room(m, room).await? {
            return Ok(id);
        }
        let _creating = m.creating.lock().await;
        if let Some(id) = self.known_room(m, room).await? {
            return Ok(id);
        }
        let owner = self
            .store
            .find_user(&room.owner_id)
            .await
            .map_err(store_error)?;
        let mut invite = Vec::new();
        if let Some(owner) = &owner {
            let id = self.recorded_matrix_id(owner).await?;
            self.ensure_user(m, &id).await?;
            invite.push(id);
        }
        let moderators = self.room_moderators(m, room).await?;
        let alias = self.alias(&room.name).unwrap_or_default();
        let id = m
            .client
            .create_room(&RoomSpec {
                alias_localpart: &alias_localpart(&m.alias_prefix, &room.name),
                alias: &alias,
                name: &room.title,
                invite: &invite,
                moderators: &moderators,
                history_visibility: "joined",
            })
            .await?;
        self.record_room(m, room, &id, &alias).await?;
        if let Some(owner) = owner {
            self.remember(&room.id, &owner.id, "invite").await?;
        }
        tracing::info!(room = %room.name, matrix_room = %id, %alias, "Matrix room ready");
        Ok(id)
    }

    /// Who moderates a live room's chat (power 50): its performer and platform staff.
    pub(super) async fn room_moderators(
        &self,
        m: &Enabled,
        room: &Room,
    ) -> Result<Vec<String>, MatrixError> {
        let mut moderators = self
            .store
            .find_staff_matrix_ids()
            .await
            .map_err(store_error)?;
        if let Some(owner) = self
            .store
            .find_user(&room.owner_id)
            .await
            .map_err(store_error)?
        {
            moderators.push(self.recorded_matrix_id(&owner).await?);
        }
        moderators.retain(|id| *id != m.bot);
        moderators.sort();
        moderators.dedup();
        Ok(moderators)
    }

    // ---- community rooms ----------------------------------------------------------------

    pub(super) async fn record_room(
        &self,
        m: &Enabled,
        room: &Room,
        id: &str,
        alias: &str,
    ) -> Result<(), MatrixError> {
        self.store
            .upsert_matrix_room(&room.id, id, alias, self.clock.now())
            .await
            .map_err(store_error)?;
        lock(&m.rooms).insert(room.id.clone(), id.to_owned());
        Ok(())
    }
}
