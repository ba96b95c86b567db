//! `[mastodon]`: the platform's Mastodon, where shows are announced and where a global ban
//! reaches the user's account; off unless `base_url` is set.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{bad, check_url, ConfigError, Secret};
use crate::domain::parse_hashtag;

/// What a global ban does to the user's Mastodon account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MastodonBanAction {
    /// Nothing.
    None,
    /// Limit the account (Mastodon's `silence`).
    Silence,
    /// Suspend the account.
    Suspend,
}

/// The platform's Mastodon: shows are announced there, and a global ban can limit or
/// suspend the user's account (`docs/mastodon.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MastodonConfig {
    /// Base URL of the Mastodon server (`https://social.example`); empty turns
    /// announcements and account actions off. default: empty; env `ROOMKEY_MASTODON__BASE_URL`.
    pub base_url: String,
    /// Access token of the account that posts announcements (scope `write:statuses`).
    pub access_token: Secret,
    pub access_token_file: Option<PathBuf>,
    /// Access token of a moderator account (scopes `admin:read:accounts`,
    /// `admin:write:accounts`); empty leaves accounts alone on bans. default: empty.
    pub admin_token: Secret,
    pub admin_token_file: Option<PathBuf>,
    /// `public` or `unlisted`. default: `public`.
    pub visibility: String,
    /// Language of announcements: `es` or `en`. default: `es`.
    pub language: String,
    /// Hashtags added to every announcement, without `#`. default: `["envivo"]`.
    pub hashtags: Vec<String>,
    /// What a global ban does to the user's account: `none`, `silence` (limit) or `suspend`;
    /// lifting the ban undoes it. Needs `admin_token`. default: `silence`.
    pub on_global_ban: MastodonBanAction,
    /// Per-request timeout. default: `5000`.
    pub request_timeout_ms: u64,
    /// The `[[oidc.clients]]` id Mastodon signs users in with (its `OIDC_CLIENT_ID`). Each
    /// sign-in through it records which Mastodon account is the user's (found by the
    /// e-mail address roomkey gave Mastodon), and bans act on exactly that account instead
    /// of one found by handle. Needs `admin_token`. default: empty (no link; bans match the
    /// handle); env `ROOMKEY_MASTODON__OIDC_CLIENT`.
    pub oidc_client: String,
}

impl Default for MastodonConfig {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            access_token: Secret::default(),
            access_token_file: None,
            admin_token: Secret::default(),
            admin_token_file: None,
            visibility: "public".into(),
            language: "es".into(),
            hashtags: vec!["envivo".into()],
            on_global_ban: MastodonBanAction::Silence,
            request_timeout_ms: 5_000,
            oidc_client: String::new(),
        }
    }
}

impl MastodonConfig {
    pub fn is_enabled(&self) -> bool {
        !self.base_url.is_empty()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.is_enabled() {
            return Ok(());
        }
        check_url("mastodon.base_url", &self.base_url)?;
        if self.access_token.is_empty() {
            return Err(bad(
                "mastodon.access_token",
                "is required with mastodon.base_url (the posting account's token)",
            ));
        }
        if !matches!(self.visibility.as_str(), "public" | "unlisted") {
            return Err(bad("mastodon.visibility", "must be public or unlisted"));
        }
        if !matches!(self.language.as_str(), "es" | "en") {
            return Err(bad("mastodon.language", "must be es or en"));
        }
        if let Some(tag) = self
            .hashtags
            .iter()
            .find(|tag| parse_hashtag(tag).is_none())
        {
            return Err(bad(
                "mastodon.hashtags",
                format!("{tag:?} is not a hashtag (letters, digits and _, without #)"),
            ));
        }
        if self.on_global_ban != MastodonBanAction::None && self.admin_token.is_empty() {
            return Err(bad(
                "mastodon.admin_token",
                "is required unless mastodon.on_global_ban is none",
            ));
        }
        if !self.oidc_client.is_empty() && self.admin_token.is_empty() {
            return Err(bad(
                "mastodon.admin_token",
                "is required with mastodon.oidc_client (accounts are found through the admin API)",
            ));
        }
        if !(100..=60_000).contains(&self.request_timeout_ms) {
            return Err(bad("mastodon.request_timeout_ms", "must be 100 to 60000"));
        }
        Ok(())
    }
}
