//! Linking a Matrix account of the user's own, proven by an OpenID token, and forgetting
//! the account used before.

use super::{
    community::community_syncs, order_key, store_error, Enabled, LinkedAccount, MatrixError,
    MatrixService, MatrixServiceError, OpenIdProof,
};
use crate::access::AccessError;
use crate::cache::Invalidation;
use crate::store::{NewOutboxItem, OutboxItem};
use crate::telemetry::metrics::DeliveryOutcome;

impl MatrixService {
    /// Links an existing Matrix account to a user, once its homeserver confirms (through
    /// an OpenID token) that the caller owns it. The user's chat moves to that account:
    /// invites to the rooms they may enter, community rooms by their rules, and the
    /// account used before is removed from roomkey's rooms.
    ///
    /// Only accounts on the configured homeserver can be linked: asking another server
    /// would need federation discovery (`.well-known`, SRV, certificates for the server
    /// name) and would let any caller make roomkey contact any host.
    pub async fn link(
        &self,
        user_id: &str,
        matrix_user_id: &str,
        proof: &OpenIdProof,
    ) -> Result<LinkedAccount, MatrixServiceError> {
        let m = self
            .enabled
            .as_ref()
            .ok_or(MatrixServiceError::NotConfigured)?;
        let Some((_, server)) = parse_matrix_user_id(matrix_user_id) else {
            return Err(MatrixServiceError::Invalid(
                "matrix_user_id",
                "matrix_user_id must look like @name:server".into(),
            ));
        };
        if proof.matrix_server_name != m.server_name {
            return Err(MatrixServiceError::Invalid(
                "openid.matrix_server_name",
                format!("only Matrix accounts on {} can be linked", m.server_name),
            ));
        }
        if server != proof.matrix_server_name {
            return Err(MatrixServiceError::Invalid(
                "matrix_user_id",
                "the Matrix id is not on the server that issued the OpenID token".into(),
            ));
        }
        if in_namespace(m, matrix_user_id) {
            return Err(MatrixServiceError::Invalid(
                "matrix_user_id",
                "accounts in roomkey's namespace are provisioned, not linked".into(),
            ));
        }
        if proof.access_token.is_empty() || proof.access_token.len() > 1_024 {
            return Err(MatrixServiceError::Invalid(
                "openid.access_token",
                "access_token must be 1 to 1024 bytes".into(),
            ));
        }
        let owner = m
            .client
            .openid_userinfo(&proof.access_token)
            .await
            .map_err(MatrixServiceError::Homeserver)?;
        match owner {
            None => Err(MatrixServiceError::ProofRejected(
                "the homeserver did not accept the OpenID token (unknown or expired)",
            )),
            Some(owner) if owner != matrix_user_id => Err(MatrixServiceError::ProofRejected(
                "the OpenID token was issued to another Matrix user",
            )),
            Some(_) => self.switch_account(user_id, matrix_user_id, false).await,
        }
    }

    /// Goes back to the account roomkey provisions, leaving the linked one.
    pub async fn unlink(&self, user_id: &str) -> Result<LinkedAccount, MatrixServiceError> {
        let m = self
            .enabled
            .as_ref()
            .ok_or(MatrixServiceError::NotConfigured)?;
        let user = self
            .store
            .find_user(user_id)
            .await?
            .ok_or(AccessError::UnknownUser)?;
        let provisioned = Self::provisioned_id(m, &user);
        self.switch_account(user_id, &provisioned, true).await
    }

    pub(super) async fn switch_account(
        &self,
        user_id: &str,
        matrix_user_id: &str,
        provisioned: bool,
    ) -> Result<LinkedAccount, MatrixServiceError> {
        let user = self
            .store
            .find_user(user_id)
            .await?
            .ok_or(AccessError::UnknownUser)?;
        let linked = LinkedAccount {
            matrix_user_id: matrix_user_id.to_owned(),
            provisioned,
        };
        // Linking the id already on record changes nothing but queues the invites again,
        // so a retry after a failed queueing completes the link.
        let previous = user
            .matrix_user_id
            .clone()
            .filter(|previous| previous != matrix_user_id);
        let user_key = format!("user/{user_id}");
        let mut items = Vec::new();
        if user.matrix_user_id.as_deref() != Some(matrix_user_id) {
            self.store
                .update_user_matrix_id(user_id, matrix_user_id, self.clock.now())
                .await?;
            self.bus
                .publish(Invalidation::User(user_id.to_owned()))
                .await;
            tracing::info!(user = %user_id, provisioned, "Matrix account changed");
        }
        if let Some(previous) = previous.as_deref() {
            items.push(NewOutboxItem {
                order_key: user_key.clone(),
                action: "forget",
                user_id: Some(user_id),
                room_id: None,
                matrix_user_id: Some(previous),
                reason: "",
            });
        }
        if provisioned {
            items.push(NewOutboxItem {
                order_key: user_key.clone(),
                action: "provision",
                user_id: Some(user_id),
                room_id: None,
                matrix_user_id: None,
                reason: "",
            });
        }
        let mut rooms = Vec::new();
        for room in self.rooms_with_chat().await? {
            if self.may_enter(user_id, &room.name).await? {
                rooms.push(room);
            }
        }
        items.extend(rooms.iter().map(|room| NewOutboxItem {
            order_key: order_key(user_id, &room.id),
            action: "invite",
            user_id: Some(user_id),
            room_id: Some(&room.id),
            matrix_user_id: None,
            reason: "Matrix account linked",
        }));
        // Where the user moderates (their own rooms; every room for staff), the new id
        // takes the old one's power level.
        items.extend(
            rooms
                .iter()
                .filter(|room| room.owner_id == user_id || user.role.is_staff())
                .map(|room| NewOutboxItem::power_levels(&room.id, "Matrix account linked")),
        );
        let communities = self.store.find_community_rooms().await?;
        items.extend(community_syncs(
            &communities,
            user_id,
            "Matrix account linked",
        ));
        // The invites follow the account change: a failure to queue them is the caller's to
        // see (and to retry), not something left for the reconcile alone.
        self.store
            .insert_outbox_items(&items, self.clock.now())
            .await?;
        self.wake.notify_one();
        Ok(linked)
    }

    /// Removes a Matrix id the user no longer uses from every room roomkey keeps, unless
    /// it has become someone's again since.
    pub(super) async fn apply_forget(
        &self,
        m: &Enabled,
        item: &OutboxItem,
    ) -> Result<DeliveryOutcome, MatrixError> {
        let Some(old) = item.matrix_user_id.as_deref() else {
            return Ok(DeliveryOutcome::Skipped);
        };
        if self
            .store
            .find_user_by_matrix_id(old)
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Ok(DeliveryOutcome::Skipped);
        }
        let mut rooms: Vec<String> = self
            .store
            .find_all_matrix_rooms()
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|(_, matrix_room)| matrix_room)
            .collect();
        rooms.extend(
            self.store
                .find_community_rooms()
                .await
                .map_err(store_error)?
                .into_iter()
                .filter_map(|c| c.matrix_room_id),
        );
        for matrix_room in rooms {
            m.client
                .kick(&matrix_room, old, "Matrix account no longer linked")
                .await?;
        }
        Ok(DeliveryOutcome::Delivered)
    }
}

/// `@localpart:server` split in two; `None` if it is not a plausible Matrix user id.
pub(super) fn parse_matrix_user_id(id: &str) -> Option<(&str, &str)> {
    let (local, server) = id.strip_prefix('@')?.split_once(':')?;
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b':');
    let server_ok = !server.is_empty()
        && server
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    (id.len() <= 255 && local_ok && server_ok).then_some((local, server))
}

/// Whether `id` is in roomkey's exclusive user namespace (provisioned users and the bot).
pub(super) fn in_namespace(m: &Enabled, id: &str) -> bool {
    id == m.bot
        || parse_matrix_user_id(id).is_some_and(|(local, server)| {
            server == m.server_name && local.starts_with(&m.user_prefix)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_user_ids_are_checked() {
        assert_eq!(
            parse_matrix_user_id("@alice:example.com"),
            Some(("alice", "example.com"))
        );
        assert_eq!(
            parse_matrix_user_id("@a:localhost:8448"),
            Some(("a", "localhost:8448"))
        );
        for bad in [
            "alice:example.com",
            "@:example.com",
            "@alice",
            "@alice:",
            "@al ice:x",
        ] {
            assert_eq!(parse_matrix_user_id(bad), None, "{bad}");
        }
    }
}
