//! The few Mastodon REST calls roomkey makes, with their documented parameters
//! (docs.joinmastodon.org/methods/statuses, /methods/admin/accounts).

use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::matrix::client::encode;
use crate::outbound::JsonClient;

/// A failed call; `retryable` ones (network, timeouts, 429, 5xx) are tried again later.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct MastodonError {
    pub what: &'static str,
    pub detail: String,
    pub retryable: bool,
}

impl MastodonError {
    fn transient(what: &'static str, detail: impl Into<String>) -> Self {
        Self {
            what,
            detail: detail.into(),
            retryable: true,
        }
    }

    fn refused(what: &'static str, status: StatusCode, body: &Value) -> Self {
        Self {
            what,
            detail: format!(
                "{} {}",
                status.as_u16(),
                body["error"].as_str().unwrap_or_default()
            ),
            retryable: status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
        }
    }
}

/// A posted status: its id and public URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedStatus {
    pub id: String,
    pub url: Option<String>,
}

/// A status to post.
pub struct NewStatus<'a> {
    pub text: &'a str,
    pub visibility: &'a str,
    pub language: &'a str,
    pub in_reply_to_id: Option<&'a str>,
}

#[derive(Clone)]
pub struct MastodonClient {
    base: String,
    http: JsonClient,
}

impl MastodonClient {
    pub fn new(base: &str, timeout: Duration) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: JsonClient::new(timeout),
        }
    }

    /// `POST /api/v1/statuses` with an `Idempotency-Key`: Mastodon answers a repeat of the
    /// same key (within an hour) with the status it already made.
    pub async fn post_status(
        &self,
        token: &str,
        status: &NewStatus<'_>,
        idempotency_key: &str,
    ) -> Result<PostedStatus, MastodonError> {
        let mut body = json!({
            "status": status.text,
            "visibility": status.visibility,
            "language": status.language,
        });
        if let Some(parent) = status.in_reply_to_id {
            body["in_reply_to_id"] = json!(parent);
        }
        let answer = self
            .call(
                Method::POST,
                "/api/v1/statuses",
                token,
                Some(body),
                Some(idempotency_key),
            )
            .await?
            .map_err(|(code, body)| MastodonError::refused("post status", code, &body))?;
        posted(&answer, "post status")
    }

    /// `PUT /api/v1/statuses/{id}`: replaces the text of an earlier status.
    pub async fn edit_status(
        &self,
        token: &str,
        id: &str,
        text: &str,
        language: &str,
    ) -> Result<(), MastodonError> {
        let path = format!("/api/v1/statuses/{}", encode(id));
        self.call(
            Method::PUT,
            &path,
            token,
            Some(json!({"status": text, "language": language})),
            None,
        )
        .await?
        .map_err(|(code, body)| MastodonError::refused("edit status", code, &body))?;
        Ok(())
    }

    /// The local account whose username is exactly `username` and whose moderation status
    /// is `status` (`active`, `silenced`, `suspended`), by `GET /api/v2/admin/accounts`,
    /// which (unlike the public lookup) also lists limited and suspended accounts.
    pub async fn find_local_account(
        &self,
        admin_token: &str,
        username: &str,
        status: &str,
    ) -> Result<Option<String>, MastodonError> {
        let path = format!(
            "/api/v2/admin/accounts?origin=local&status={status}&username={}",
            encode(username)
        );
        let answer = self
            .call(Method::GET, &path, admin_token, None, None)
            .await?
            .map_err(|(code, body)| MastodonError::refused("find account", code, &body))?;
        // The username filter is a partial match: keep only the exact one.
        Ok(answer
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .find(|account| account["username"].as_str() == Some(username))
            .and_then(|account| account["id"].as_str())
            .map(str::to_owned))
    }

    /// The local account whose e-mail address is `email` (compared without regard to case,
    /// as Mastodon stores addresses), in any moderation state.
    pub async fn find_local_account_by_email(
        &self,
        admin_token: &str,
        email: &str,
    ) -> Result<Option<String>, MastodonError> {
        for status in ["active", "pending", "silenced", "suspended", "disabled"] {
            let path = format!(
                "/api/v2/admin/accounts?origin=local&status={status}&email={}",
                encode(email)
            );
            let answer = self
                .call(Method::GET, &path, admin_token, None, None)
                .await?
                .map_err(|(code, body)| MastodonError::refused("find account", code, &body))?;
            let found = answer
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .find(|a| {
                    a["email"]
                        .as_str()
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
                })
                .and_then(|account| account["id"].as_str());
            if let Some(id) = found {
                return Ok(Some(id.to_owned()));
            }
        }
        Ok(None)
    }

    /// The moderation status of account `id` (`suspended`, `silenced` or `active`), by
    /// `GET /api/v1/admin/accounts/{id}`; `None` if it is gone.
    pub async fn account_status(
        &self,
        admin_token: &str,
        id: &str,
    ) -> Result<Option<&'static str>, MastodonError> {
        let path = format!("/api/v1/admin/accounts/{}", encode(id));
        let account = match self
            .call(Method::GET, &path, admin_token, None, None)
            .await?
        {
            Ok(account) => account,
            Err((StatusCode::NOT_FOUND, _)) => return Ok(None),
            Err((code, body)) => return Err(MastodonError::refused("read account", code, &body)),
        };
        let flag = |name: &str| account[name].as_bool().unwrap_or(false);
        Ok(Some(if flag("suspended") {
            "suspended"
        } else if flag("silenced") {
            "silenced"
        } else {
            "active"
        }))
    }

    /// `POST /api/v1/admin/accounts/{id}/action` with `type` `silence` or `suspend`.
    pub async fn moderate_account(
        &self,
        admin_token: &str,
        account_id: &str,
        action: &str,
        text: &str,
    ) -> Result<(), MastodonError> {
        let path = format!("/api/v1/admin/accounts/{}/action", encode(account_id));
        self.call(
            Method::POST,
            &path,
            admin_token,
            Some(json!({"type": action, "text": text, "send_email_notification": false})),
            None,
        )
        .await?
        .map_err(|(code, body)| MastodonError::refused("moderate account", code, &body))?;
        Ok(())
    }

    /// `POST /api/v1/admin/accounts/{id}/unsilence` or `/unsuspend`.
    pub async fn undo_account_action(
        &self,
        admin_token: &str,
        account_id: &str,
        undo: &str,
    ) -> Result<(), MastodonError> {
        let path = format!("/api/v1/admin/accounts/{}/{undo}", encode(account_id));
        self.call(Method::POST, &path, admin_token, None, None)
            .await?
            .map_err(|(code, body)| MastodonError::refused("undo account action", code, &body))?;
        Ok(())
    }

    /// One call; `Ok(Err(_))` is an answer that was not 2xx, `Err` a failure to get one.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Result<Value, (StatusCode, Value)>, MastodonError> {
        let authorization = format!("Bearer {token}");
        let mut headers = vec![
            ("authorization", authorization.as_str()),
            ("user-agent", "roomkey"),
        ];
        if let Some(key) = idempotency_key {
            headers.push(("idempotency-key", key));
        }
        let answer = self
            .http
            .send(
                method,
                &format!("{}{path}", self.base),
                &headers,
                body.as_ref(),
            )
            .await
            .map_err(|e| MastodonError::transient("request", e.to_string()))?;
        Ok(if answer.status.is_success() {
            Ok(answer.body)
        } else {
            Err((answer.status, answer.body))
        })
    }
}

fn posted(answer: &Value, what: &'static str) -> Result<PostedStatus, MastodonError> {
    let id = answer["id"].as_str().ok_or_else(|| MastodonError {
        what,
        detail: "the answer has no status id".into(),
        retryable: true,
    })?;
    Ok(PostedStatus {
        id: id.to_owned(),
        url: answer["url"].as_str().map(str::to_owned),
    })
}
