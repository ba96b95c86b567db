//! A thin client for the few client-server API calls roomkey makes as an application
//! service, with Synapse's idempotency quirks folded into success (measured against
//! Synapse 1.163: already invited, not in the room, not banned, alias already taken).

use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::outbound::JsonClient;

/// A failed call: `retryable` ones (network, timeouts, 429, 5xx) are tried again later.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct MatrixError {
    pub what: &'static str,
    pub detail: String,
    pub retryable: bool,
}

impl MatrixError {
    fn transient(what: &'static str, detail: impl Into<String>) -> Self {
        Self {
            what,
            detail: detail.into(),
            retryable: true,
        }
    }
}

/// A homeserver answer that was not 2xx.
struct Refusal {
    status: StatusCode,
    errcode: String,
    message: String,
}

impl Refusal {
    fn into_error(self, what: &'static str) -> MatrixError {
        MatrixError {
            what,
            retryable: self.status == StatusCode::TOO_MANY_REQUESTS
                || self.status.is_server_error(),
            detail: format!("{} {} {}", self.status.as_u16(), self.errcode, self.message),
        }
    }
}

/// The power level roomkey gives performers and staff: enough to kick, ban and redact.
pub const MODERATOR_POWER: i64 = 50;

/// A room to create.
pub struct RoomSpec<'a> {
    pub alias_localpart: &'a str,
    pub alias: &'a str,
    pub name: &'a str,
    /// Invited at creation.
    pub invite: &'a [String],
    /// At [`MODERATOR_POWER`].
    pub moderators: &'a [String],
    /// `joined` (members read from their join) or `shared` (members read everything).
    pub history_visibility: &'static str,
}

/// Membership of one user in a room, as the room's state says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: String,
    pub membership: String,
}

#[derive(Clone)]
pub struct SynapseClient {
    base: String,
    as_token: String,
    http: JsonClient,
}

impl SynapseClient {
    pub fn new(base: &str, as_token: &str, timeout: Duration) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            as_token: as_token.to_owned(),
            http: JsonClient::new(timeout),
        }
    }

    /// Registers `localpart` in the application service's namespace; an existing user is success.
    pub async fn register(&self, localpart: &str) -> Result<(), MatrixError> {
        let body = json!({"type": "m.login.application_service", "username": localpart, "inhibit_login": true});
        match self
            .call(Method::POST, "/_matrix/client/v3/register", Some(body))
            .await?
        {
            Ok(_) => Ok(()),
            Err(refusal) if refusal.errcode == "M_USER_IN_USE" => Ok(()),
            Err(refusal) => Err(refusal.into_error("register")),
        }
    }

    /// The room an alias (`#name:server`) points at, if any.
    pub async fn resolve_alias(&self, alias: &str) -> Result<Option<String>, MatrixError> {
        let path = format!("/_matrix/client/v3/directory/room/{}", encode(alias));
        match self.call(Method::GET, &path, None).await? {
            Ok(body) => Ok(body["room_id"].as_str().map(str::to_owned)),
            Err(refusal) if refusal.status == StatusCode::NOT_FOUND => Ok(None),
            Err(refusal) => Err(refusal.into_error("resolve alias")),
        }
    }

    /// Creates a private, invite-only room with the alias `#<alias_localpart>:server`; if the
    /// alias is taken (an earlier attempt succeeded), the room it points at is adopted.
    /// Only the bot (the creator) may invite; `moderators` get power 50 (kick, ban, redact).
    pub async fn create_room(&self, spec: &RoomSpec<'_>) -> Result<String, MatrixError> {
        let users: serde_json::Map<String, Value> = spec
            .moderators
            .iter()
            .map(|m| (m.clone(), json!(MODERATOR_POWER)))
            .collect();
        let body = json!({
            "preset": "private_chat",
            "visibility": "private",
            "room_alias_name": spec.alias_localpart,
            "name": spec.name,
            "invite": spec.invite,
            "power_level_content_override": {"invite": 100, "kick": 50, "ban": 50, "redact": 50, "users": users},
            "initial_state": [{"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": spec.history_visibility}}],
        });
        match self
            .call(Method::POST, "/_matrix/client/v3/createRoom", Some(body))
            .await?
        {
            Ok(body) => body["room_id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| MatrixError::transient("create room", "no room_id in the answer")),
            Err(refusal) if refusal.errcode == "M_ROOM_IN_USE" => {
                self.resolve_alias(spec.alias).await?.ok_or_else(|| {
                    MatrixError::transient("create room", "alias in use but unresolvable")
                })
            }
            Err(refusal) => Err(refusal.into_error("create room")),
        }
    }

    /// The room's `m.room.power_levels` content.
    pub async fn power_levels(&self, room: &str) -> Result<Value, MatrixError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/state/m.room.power_levels/",
            encode(room)
        );
        self.call(Method::GET, &path, None)
            .await?
            .map_err(|refusal| refusal.into_error("read power levels"))
    }

    /// Replaces the room's `m.room.power_levels` content.
    pub async fn set_power_levels(&self, room: &str, content: &Value) -> Result<(), MatrixError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/state/m.room.power_levels/",
            encode(room)
        );
        self.call(Method::PUT, &path, Some(content.clone()))
            .await?
            .map(drop)
            .map_err(|refusal| refusal.into_error("set power levels"))
    }

    /// `user`'s membership in `room` (`join`, `invite`, `leave`, `ban`), if they have one.
    pub async fn membership_of(
        &self,
        room: &str,
        user: &str,
    ) -> Result<Option<String>, MatrixError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/state/m.room.member/{}",
            encode(room),
            encode(user)
        );
        match self.call(Method::GET, &path, None).await? {
            Ok(body) => Ok(body["membership"].as_str().map(str::to_owned)),
            Err(refusal) if refusal.status == StatusCode::NOT_FOUND => Ok(None),
            Err(refusal) => Err(refusal.into_error("read membership")),
        }
    }

    /// The Matrix user an OpenID token (from `/user/{userId}/openid/request_token`) was
    /// issued to, asked of the homeserver that issued it; `None` when it refuses the token
    /// (unknown, forged or expired). The token goes in the query, as the spec has it, and
    /// roomkey's own token is not sent.
    pub async fn openid_userinfo(&self, access_token: &str) -> Result<Option<String>, MatrixError> {
        let path = format!(
            "/_matrix/federation/v1/openid/userinfo?access_token={}",
            encode(access_token)
        );
        match self.request(Method::GET, &path, None, false).await? {
            Ok(body) => body["sub"]
                .as_str()
                .map(|sub| Some(sub.to_owned()))
                .ok_or_else(|| MatrixError::transient("openid userinfo", "no sub in the answer")),
            Err(refusal)
                if refusal.status == StatusCode::UNAUTHORIZED
                    || refusal.status == StatusCode::FORBIDDEN =>
            {
                Ok(None)
            }
            Err(refusal) => Err(refusal.into_error("openid userinfo")),
        }
    }

    /// Invites; already invited or joined is success.
    pub async fn invite(&self, room: &str, user: &str, reason: &str) -> Result<(), MatrixError> {
        self.membership("invite", room, user, reason, |r| {
            r.status == StatusCode::FORBIDDEN && r.message.contains("already in the room")
        })
        .await
    }

    /// Kicks (also withdraws a pending invite); not being in the room is success.
    pub async fn kick(&self, room: &str, user: &str, reason: &str) -> Result<(), MatrixError> {
        self.membership("kick", room, user, reason, |r| {
            r.status == StatusCode::FORBIDDEN && r.message.contains("not in the room")
        })
        .await
    }

    /// Bans; works for users never in the room, and a second ban is success.
    pub async fn ban(&self, room: &str, user: &str, reason: &str) -> Result<(), MatrixError> {
        self.membership("ban", room, user, reason, |_| false).await
    }

    /// Unbans (membership becomes `leave`); not being banned is success.
    pub async fn unban(&self, room: &str, user: &str, reason: &str) -> Result<(), MatrixError> {
        self.membership("unban", room, user, reason, |r| r.errcode == "M_BAD_STATE")
            .await
    }

    /// `POST /rooms/{room}/{action}` for `user`; a refusal that `already_so` recognises
    /// means the membership is already what was asked, which counts as success.
    async fn membership(
        &self,
        action: &'static str,
        room: &str,
        user: &str,
        reason: &str,
        already_so: impl Fn(&Refusal) -> bool,
    ) -> Result<(), MatrixError> {
        let path = format!("/_matrix/client/v3/rooms/{}/{action}", encode(room));
        match self
            .call(
                Method::POST,
                &path,
                Some(json!({"user_id": user, "reason": reason})),
            )
            .await?
        {
            Ok(_) => Ok(()),
            Err(refusal) if already_so(&refusal) => Ok(()),
            Err(refusal) => Err(refusal.into_error(action)),
        }
    }

    /// Posts `body` as an `m.notice` from the application service's bot. `txn_id` makes a
    /// repeated call the same event (the client-server API's transaction ids).
    pub async fn send_notice(
        &self,
        room: &str,
        txn_id: &str,
        body: &str,
    ) -> Result<(), MatrixError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
            encode(room),
            encode(txn_id)
        );
        self.call(
            Method::PUT,
            &path,
            Some(json!({"msgtype": "m.notice", "body": body})),
        )
        .await?
        .map(|_| ())
        .map_err(|refusal| refusal.into_error("notice"))
    }

    /// Every membership event of the room's current state (join, invite, leave, ban).
    pub async fn members(&self, room: &str) -> Result<Vec<Member>, MatrixError> {
        let path = format!("/_matrix/client/v3/rooms/{}/members", encode(room));
        let body = self
            .call(Method::GET, &path, None)
            .await?
            .map_err(|refusal| refusal.into_error("members"))?;
        Ok(body["chunk"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|event| {
                Some(Member {
                    user_id: event["state_key"].as_str()?.to_owned(),
                    membership: event["content"]["membership"].as_str()?.to_owned(),
                })
            })
            .collect())
    }

    /// One call as the application service; `Ok(Err(_))` is an answer that was not 2xx,
    /// `Err` a failure to get one.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Result<Value, Refusal>, MatrixError> {
        self.request(method, path, body, true).await
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        as_appservice: bool,
    ) -> Result<Result<Value, Refusal>, MatrixError> {
        let authorization = format!("Bearer {}", self.as_token);
        let headers: &[(&str, &str)] = if as_appservice {
            &[("authorization", authorization.as_str())]
        } else {
            &[]
        };
        let answer = self
            .http
            .send(
                method,
                &format!("{}{path}", self.base),
                headers,
                body.as_ref(),
            )
            .await
            .map_err(|e| MatrixError::transient("request", e.to_string()))?;
        if answer.status.is_success() {
            return Ok(Ok(answer.body));
        }
        Ok(Err(Refusal {
            status: answer.status,
            errcode: answer.body["errcode"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            message: answer.body["error"].as_str().unwrap_or_default().to_owned(),
        }))
    }
}

/// Percent-encodes a path segment (room ids, aliases, user ids).
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len() * 3);
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
