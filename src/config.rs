//! Configuration: defaults, then an optional TOML file, then environment variables.
//!
//! Environment variables are `ROOMKEY_<SECTION>__<KEY>` (for example
//! `ROOMKEY_JITSI__APP_ID`), plus the conventional `DATABASE_URL` and `REDIS_URL`.
//! Unknown keys are refused rather than ignored, and [`Config::validate`] runs before
//! anything binds a port, so a typo or a bad value stops start-up with the setting's name.
//! Secrets are [`Secret`]s (never printed) and each also accepts a `*_file` twin.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// A secret string: redacted in `Debug`, never serialised back out.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(<empty>)"
        } else {
            "Secret(<redacted>)"
        })
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("")
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub jitsi: JitsiConfig,
    pub keys: KeysConfig,
    pub session: SessionConfig,
    pub auth: AuthConfig,
    pub cache: CacheConfig,
    pub rate_limit: RateLimitConfig,
    pub payments: PaymentsConfig,
    pub prosody: ProsodyConfig,
    pub matrix: MatrixConfig,
    pub mastodon: MastodonConfig,
    pub join: JoinConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Public API listener. default: `127.0.0.1:8080`; env `ROOMKEY_HTTP__LISTEN`.
    pub listen: String,
    /// Listener for `/metrics`, `/healthz`, `/readyz`; empty serves them on `listen`.
    /// default: `127.0.0.1:9464`; env `ROOMKEY_HTTP__OPS_LISTEN`.
    pub ops_listen: String,
    /// Base URL clients reach roomkey at, used in join links and the key-server URL;
    /// when it is `https://`, the join page's cookies are `Secure`.
    /// default: `http://127.0.0.1:8080`; env `ROOMKEY_HTTP__PUBLIC_URL`.
    pub public_url: String,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    /// default: `false`; env `ROOMKEY_HTTP__TRUST_FORWARDED_FOR`.
    pub trust_forwarded_for: bool,
    /// Largest accepted request body in bytes. default: `65536`.
    pub max_body_bytes: usize,
    /// A connection must send a request's headers within this many seconds of opening or
    /// of its previous response, or it is closed (so slow or idle connections cannot pile
    /// up). default: `10`; env `ROOMKEY_HTTP__HEADER_READ_TIMEOUT_SECS`.
    pub header_read_timeout_secs: u64,
    /// A request not answered within this many seconds (body upload included) is answered
    /// 503. default: `15`; env `ROOMKEY_HTTP__REQUEST_TIMEOUT_SECS`.
    pub request_timeout_secs: u64,
    /// Connections open at once on the public listener; beyond it new connections are
    /// answered 503 and closed (the ops listener has its own small cap, so health checks and
    /// metrics keep answering). Keep it below the process's open-file limit.
    /// default: `2048`; env `ROOMKEY_HTTP__MAX_CONNECTIONS`.
    pub max_connections: usize,
    /// Requests being handled at once; beyond it new requests are answered 503 at once
    /// rather than queued. default: `1024`; env `ROOMKEY_HTTP__MAX_REQUESTS_IN_FLIGHT`.
    pub max_requests_in_flight: usize,
    /// On SIGTERM, open connections get this many seconds to finish their requests before
    /// the process exits anyway. default: `10`; env `ROOMKEY_HTTP__SHUTDOWN_GRACE_SECS`.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path` (embedded, the default) or `postgres://…`.
    /// default: `sqlite://roomkey-data/roomkey.db`; env `DATABASE_URL` or `ROOMKEY_DATABASE__URL`.
    pub url: String,
    /// Connection pool size. default: `16`.
    pub max_connections: u32,
    /// Run migrations when serving starts. default: `true`.
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// Shared cache and invalidation bus; empty means single-instance (in-process only).
    /// default: empty; env `REDIS_URL` or `ROOMKEY_REDIS__URL`.
    pub url: String,
    /// Prefix for every key and channel, so several deployments can share a server.
    /// default: `roomkey:`.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningMode {
    /// Shared secret with Prosody (`app_secret`).
    Hs256,
    /// Private key here, public keys served for Prosody's `asap_key_server`.
    Rs256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenReuse {
    /// Reuse for RS256 (signing costs hundreds of microseconds), not for HS256.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JitsiConfig {
    /// `iss` of every Jitsi token; Prosody's `app_id`. default: `roomkey`.
    pub app_id: String,
    /// `aud`, a single string; list it in Prosody's `asap_accepted_audiences`. default: `jitsi`.
    pub audience: String,
    /// `sub`: the XMPP domain (`meet.jitsi` in docker-jitsi-meet) or the tenant.
    /// default: `meet.example.com`.
    pub subject: String,
    /// Jitsi Meet base URL for `join_url`. default: `https://meet.example.com`.
    pub meet_url: String,
    /// `hs256` or `rs256`. default: `hs256`.
    pub signing: SigningMode,
    /// HS256 shared secret (Prosody `app_secret`); generated into `keys.dir` when empty.
    pub app_secret: Secret,
    pub app_secret_file: Option<PathBuf>,
    /// Longest token lifetime; `exp` is also clipped to the entitlement's end. default: `600`.
    pub token_ttl_secs: i64,
    /// `nbf` is set this far in the past: Prosody allows no clock skew. default: `30`.
    pub nbf_skew_secs: i64,
    /// With live enforcement (`prosody.shards`), a token for a scheduled room may live
    /// until the show's end, at most this long, so a viewer who reconnects mid-show gets
    /// back in with the token they hold. `0` keeps every token at `token_ttl_secs`.
    pub show_token_max_secs: i64,
    /// Hand back a still-fresh signed token for the same user, room and grant instead of
    /// signing again. default: `auto` (RS256 only).
    pub reuse_signed_tokens: TokenReuse,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// Where generated keys live (RS256 key pairs, generated secrets). default: `roomkey-data/keys`.
    pub dir: PathBuf,
    /// A rotated RS256 key is published this long before it signs, so every instance
    /// serves it before Prosody can meet it. default: `60`.
    pub publish_before_use_secs: i64,
    /// How often instances re-read the key directory. default: `30`.
    pub reload_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// HMAC key for platform session tokens; generated into `keys.dir` when empty.
    pub secret: Secret,
    pub secret_file: Option<PathBuf>,
    /// Session lifetime. default: `86400`.
    pub ttl_secs: i64,
}

/// Live enforcement in Prosody (`prosody-plugins/PROTOCOL.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProsodyConfig {
    /// Signs requests both ways between roomkey and `mod_roomkey`; generated into
    /// `keys.dir` as `prosody.secret` when empty.
    pub secret: Secret,
    pub secret_file: Option<PathBuf>,
    /// Where each Prosody shard serves the module, e.g. `http://prosody-1:5280/roomkey`.
    /// Every instance sends kicks, revalidations and room ends to all of them.
    pub shards: Vec<String>,
    /// Per-attempt timeout for a command to a shard.
    pub command_timeout_ms: u64,
    /// How far a signed request's timestamp may be from this host's clock.
    pub max_clock_skew_secs: i64,
}

/// Matrix chat rooms that follow entitlements, through Synapse as an application service
/// (`docs/matrix.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatrixConfig {
    /// Client-server API base of the homeserver (`http://` or `https://`), e.g.
    /// `http://127.0.0.1:8008`; empty turns
    /// Matrix off (nothing is queued). default: empty; env `ROOMKEY_MATRIX__HOMESERVER_URL`.
    pub homeserver_url: String,
    /// The homeserver's `server_name`: the part after `:` in user ids and aliases.
    pub server_name: String,
    /// Token roomkey presents to Synapse (the registration's `as_token`), ≥ 32 characters.
    pub as_token: Secret,
    pub as_token_file: Option<PathBuf>,
    /// Token Synapse would present to roomkey (the registration's `hs_token`), ≥ 32 characters.
    pub hs_token: Secret,
    pub hs_token_file: Option<PathBuf>,
    /// The application service's id in the registration file. default: `roomkey`.
    pub appservice_id: String,
    /// Localpart of the bot that creates rooms and invites, kicks and bans. default: `roomkey`.
    pub bot_localpart: String,
    /// Users roomkey provisions are `@<user_prefix><handle>:<server_name>`; the prefix is the
    /// application service's exclusive user namespace. default: `rk_`.
    pub user_prefix: String,
    /// A room's alias is `#<alias_prefix><room name>:<server_name>`; the exclusive alias
    /// namespace. An empty prefix claims every alias on the homeserver. default: empty.
    pub alias_prefix: String,
    /// Per-request timeout towards the homeserver. default: `5000`.
    pub request_timeout_ms: u64,
    /// How often room membership is compared with entitlements and mended. default: `300`.
    pub reconcile_secs: u64,
}

impl MatrixConfig {
    pub fn is_enabled(&self) -> bool {
        !self.homeserver_url.is_empty()
    }
}

impl Default for MatrixConfig {
    fn default() -> Self {
        Self {
            homeserver_url: String::new(),
            server_name: String::new(),
            as_token: Secret::default(),
            as_token_file: None,
            hs_token: Secret::default(),
            hs_token_file: None,
            appservice_id: "roomkey".into(),
            bot_localpart: "roomkey".into(),
            user_prefix: "rk_".into(),
            alias_prefix: String::new(),
            request_timeout_ms: 5_000,
            reconcile_secs: 300,
        }
    }
}

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
}

impl MastodonConfig {
    pub fn is_enabled(&self) -> bool {
        !self.base_url.is_empty()
    }
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
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Keys a trusted platform backend presents to act on behalf of a user
    /// (`Authorization: Bearer <key>` + `X-Roomkey-User: <user id>`).
    pub service_keys: Vec<Secret>,
    /// Keys with full admin rights.
    pub admin_keys: Vec<Secret>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// In-process entries per cache (users, rooms, bans, entitlements); `0` disables the
    /// in-process and Redis tiers, so every check reads SQL. default: `200000`.
    pub max_entries: u64,
    /// Safety-net lifetime of a cached entry; changes invalidate at once. default: `300`.
    pub ttl_secs: u64,
    /// Signed tokens kept for reuse. default: `100000`.
    pub signed_token_entries: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Sign-up and login attempts per client address per minute. default: `20`.
    pub auth_per_minute: u32,
    /// Token requests per user per minute. default: `120`.
    pub token_per_minute: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsConfig {
    /// Performer share of every payment and tip, in basis points, unless the performer's
    /// own terms say otherwise. default: `7000` (70 %).
    pub performer_share_bps: i64,
    /// A room ticket lasts until the room's scheduled end plus this. default: `3600`.
    pub ticket_grace_secs: i64,
    /// A ticket to a room without a scheduled end lasts this long. default: `86400`.
    pub unscheduled_ticket_secs: i64,
    /// One subscription billing period. default: `30` days.
    pub subscription_period_days: i64,
    /// Smallest tip, in minor units. default: `100`.
    pub min_tip_minor: i64,
    /// Premium features sold for a period, by name (e.g. `verified_badge`).
    pub features: std::collections::BTreeMap<String, FeaturePrice>,
    pub epayco: EpaycoConfig,
    /// Other providers, notifying `POST /api/webhooks/<name>` with signed JSON events.
    pub providers: std::collections::BTreeMap<String, SignedProviderConfig>,
    /// How often payments left pending are re-checked with the provider; `0` never.
    pub reconcile_interval_secs: u64,
    /// A payment is re-checked once it has been pending this long.
    pub reconcile_after_secs: i64,
    /// Payments pending longer than this are no longer re-checked (abandoned checkouts).
    pub reconcile_max_age_days: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookScheme {
    /// `webhook-id` / `webhook-timestamp` / `webhook-signature: v1,<base64>` (Standard Webhooks; Meru).
    Standard,
    /// `Stripe-Signature: t=<unix>,v1=<hex>`.
    Stripe,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedProviderConfig {
    pub scheme: WebhookScheme,
    /// Every secret currently valid (several during rotation); Standard Webhooks secrets
    /// are `whsec_<base64>`.
    pub secrets: Vec<Secret>,
    /// Accepted clock difference for the signed timestamp. default: `300`.
    #[serde(default = "default_tolerance")]
    pub tolerance_secs: i64,
}

fn default_tolerance() -> i64 {
    300
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturePrice {
    pub amount_minor: i64,
    pub currency: String,
    pub days: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EpaycoConfig {
    /// `P_CUST_ID_CLIENTE`; empty disables ePayco. ePayco's ids are digits, which an
    /// environment variable or unquoted TOML value delivers as a number.
    #[serde(deserialize_with = "string_or_number")]
    pub customer_id: String,
    /// `P_KEY`, the key confirmations are signed with.
    pub p_key: Secret,
    pub p_key_file: Option<PathBuf>,
    /// The public key the browser checkout uses.
    pub public_key: String,
    /// Accept test transactions (`x_test_request = TRUE`). default: `false`, as in production.
    pub test_mode: bool,
    /// ePayco's transaction lookup; `<this>/<x_ref_payco>` answers the current state.
    pub validation_url: String,
    /// Where the join page's "pay" form posts the checkout fields (ePayco's form
    /// checkout, which needs no script on our page).
    /// default: `https://secure.payco.co/checkout.php`.
    pub checkout_url: String,
}

impl Default for EpaycoConfig {
    fn default() -> Self {
        Self {
            customer_id: String::new(),
            p_key: Secret::default(),
            p_key_file: None,
            public_key: String::new(),
            test_mode: false,
            validation_url: "https://secure.epayco.co/validation/v1/reference".into(),
            checkout_url: "https://secure.payco.co/checkout.php".into(),
        }
    }
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            performer_share_bps: 7_000,
            ticket_grace_secs: 3_600,
            unscheduled_ticket_secs: 86_400,
            subscription_period_days: 30,
            min_tip_minor: 100,
            features: std::collections::BTreeMap::new(),
            epayco: EpaycoConfig::default(),
            providers: std::collections::BTreeMap::new(),
            reconcile_interval_secs: 300,
            reconcile_after_secs: 600,
            reconcile_max_age_days: 14,
        }
    }
}

/// The join page Jitsi Meet's `tokenAuthUrl` sends visitors to (`docs/join-page.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JoinConfig {
    /// The page's language when `Accept-Language` names neither Spanish nor English:
    /// `es` or `en`. default: `es`; env `ROOMKEY_JOIN__DEFAULT_LANGUAGE`.
    pub default_language: crate::domain::Lang,
}

impl Default for JoinConfig {
    fn default() -> Self {
        Self {
            default_language: crate::domain::Lang::Es,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `tracing` filter. default: `info`; env `RUST_LOG` wins.
    pub filter: String,
    /// `text` or `json`. default: `text`.
    pub format: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            ops_listen: "127.0.0.1:9464".into(),
            public_url: "http://127.0.0.1:8080".into(),
            trust_forwarded_for: false,
            max_body_bytes: 64 * 1024,
            header_read_timeout_secs: 10,
            request_timeout_secs: 15,
            max_connections: 2048,
            max_requests_in_flight: 1024,
            shutdown_grace_secs: 10,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://roomkey-data/roomkey.db".into(),
            max_connections: 16,
            migrate_on_start: true,
        }
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            key_prefix: "roomkey:".into(),
        }
    }
}

impl Default for JitsiConfig {
    fn default() -> Self {
        Self {
            app_id: "roomkey".into(),
            audience: "jitsi".into(),
            subject: "meet.example.com".into(),
            meet_url: "https://meet.example.com".into(),
            signing: SigningMode::Hs256,
            app_secret: Secret::default(),
            app_secret_file: None,
            token_ttl_secs: 600,
            nbf_skew_secs: 30,
            show_token_max_secs: 0,
            reuse_signed_tokens: TokenReuse::Auto,
        }
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            dir: "roomkey-data/keys".into(),
            publish_before_use_secs: 60,
            reload_secs: 30,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            secret: Secret::default(),
            secret_file: None,
            ttl_secs: 86_400,
        }
    }
}

impl Default for ProsodyConfig {
    fn default() -> Self {
        Self {
            secret: Secret::default(),
            secret_file: None,
            shards: Vec::new(),
            command_timeout_ms: 2_000,
            max_clock_skew_secs: 60,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 200_000,
            ttl_secs: 300,
            signed_token_entries: 100_000,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            auth_per_minute: 20,
            token_per_minute: 120,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: "text".into(),
        }
    }
}

/// A setting that failed validation, by its dotted name.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting `{setting}`: {problem}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

/// Refuses one secret held by two settings: each guards its own trust boundary (who may
/// sign sessions, Jitsi tokens, Prosody's requests, act as a backend or an admin), and a
/// secret shared between two lets whoever holds one side forge the other — a session token
/// signed with Prosody's `app_secret` would open the admin API. Empty (unset) secrets are
/// skipped; compared in constant time.
pub fn distinct_secrets(secrets: &[(String, &str)]) -> Result<(), ConfigError> {
    use subtle::ConstantTimeEq as _;
    for (i, (setting, secret)) in secrets.iter().enumerate() {
        if secret.is_empty() {
            continue;
        }
        for (other, earlier) in &secrets[..i] {
            if other != setting && bool::from(earlier.as_bytes().ct_eq(secret.as_bytes())) {
                return Err(bad(
                    setting,
                    format!(
                        "is the same secret as {other}; each trust boundary needs its own secret"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn bad(setting: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.into(),
        problem: problem.into(),
    }
}

impl Config {
    /// Loads defaults ← `file` (if given) ← environment, then validates.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                anyhow::bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment
            .merge(Env::prefixed("ROOMKEY_").split("__").ignore(&["config"]))
            .merge(
                Env::raw()
                    .only(&["database_url"])
                    .map(|_| "database.url".into()),
            )
            .merge(Env::raw().only(&["redis_url"]).map(|_| "redis.url".into()));
        let mut config: Config = figment.extract().map_err(|e| anyhow::anyhow!("{e}"))?;
        config.resolve_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        fn read(
            setting: &str,
            path: &Option<PathBuf>,
            into: &mut Secret,
        ) -> Result<(), ConfigError> {
            if let Some(path) = path {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| bad(setting, format!("cannot read {}: {e}", path.display())))?;
                *into = Secret::new(text.trim());
            }
            Ok(())
        }
        read(
            "jitsi.app_secret_file",
            &self.jitsi.app_secret_file,
            &mut self.jitsi.app_secret,
        )?;
        read(
            "session.secret_file",
            &self.session.secret_file,
            &mut self.session.secret,
        )?;
        read(
            "prosody.secret_file",
            &self.prosody.secret_file,
            &mut self.prosody.secret,
        )?;
        let matrix = &mut self.matrix;
        read(
            "matrix.as_token_file",
            &matrix.as_token_file,
            &mut matrix.as_token,
        )?;
        read(
            "matrix.hs_token_file",
            &matrix.hs_token_file,
            &mut matrix.hs_token,
        )?;
        let mastodon = &mut self.mastodon;
        read(
            "mastodon.access_token_file",
            &mastodon.access_token_file,
            &mut mastodon.access_token,
        )?;
        read(
            "mastodon.admin_token_file",
            &mastodon.admin_token_file,
            &mut mastodon.admin_token,
        )?;
        Ok(())
    }

    /// Checks every value a running service depends on; the error names the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http
            .listen
            .parse::<SocketAddr>()
            .map_err(|e| bad("http.listen", format!("not a socket address: {e}")))?;
        if !self.http.ops_listen.is_empty() {
            self.http
                .ops_listen
                .parse::<SocketAddr>()
                .map_err(|e| bad("http.ops_listen", format!("not a socket address: {e}")))?;
        }
        check_url("http.public_url", &self.http.public_url)?;
        check_url("jitsi.meet_url", &self.jitsi.meet_url)?;
        if self.http.max_body_bytes < 1024 {
            return Err(bad("http.max_body_bytes", "must be at least 1024"));
        }
        for (name, value) in [
            (
                "http.header_read_timeout_secs",
                self.http.header_read_timeout_secs,
            ),
            ("http.request_timeout_secs", self.http.request_timeout_secs),
            ("http.shutdown_grace_secs", self.http.shutdown_grace_secs),
        ] {
            if !(1..=3600).contains(&value) {
                return Err(bad(name, "must be 1 to 3600 seconds"));
            }
        }
        for (name, value) in [
            ("http.max_connections", self.http.max_connections),
            (
                "http.max_requests_in_flight",
                self.http.max_requests_in_flight,
            ),
        ] {
            if !(1..=1_000_000).contains(&value) {
                return Err(bad(name, "must be 1 to 1000000"));
            }
        }
        let db = &self.database.url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(bad(
                "database.url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(bad("database.max_connections", "must be at least 1"));
        }
        let redis = &self.redis.url;
        if !(redis.is_empty() || redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return Err(bad("redis.url", "must start with redis:// or rediss://"));
        }
        for (setting, value) in [
            ("jitsi.app_id", &self.jitsi.app_id),
            ("jitsi.audience", &self.jitsi.audience),
            ("jitsi.subject", &self.jitsi.subject),
        ] {
            if value.trim().is_empty() || value == "*" {
                return Err(bad(setting, "must be a non-empty value other than `*`"));
            }
        }
        if !(30..=86_400).contains(&self.jitsi.token_ttl_secs) {
            return Err(bad("jitsi.token_ttl_secs", "must be between 30 and 86400"));
        }
        if !(0..=300).contains(&self.jitsi.nbf_skew_secs) {
            return Err(bad("jitsi.nbf_skew_secs", "must be between 0 and 300"));
        }
        if !(0..=86_400).contains(&self.jitsi.show_token_max_secs) {
            return Err(bad(
                "jitsi.show_token_max_secs",
                "must be between 0 and 86400",
            ));
        }
        if self.jitsi.show_token_max_secs > 0 && self.prosody.shards.is_empty() {
            return Err(bad(
                "jitsi.show_token_max_secs",
                "needs prosody.shards: a token that outlives token_ttl_secs is only safe where roomkey can remove people from running rooms",
            ));
        }
        if self.jitsi.signing == SigningMode::Hs256
            && !self.jitsi.app_secret.is_empty()
            && self.jitsi.app_secret.expose().len() < 32
        {
            return Err(bad("jitsi.app_secret", "must be at least 32 characters"));
        }
        if !self.session.secret.is_empty() && self.session.secret.expose().len() < 32 {
            return Err(bad("session.secret", "must be at least 32 characters"));
        }
        if !(60..=30 * 86_400).contains(&self.session.ttl_secs) {
            return Err(bad("session.ttl_secs", "must be between 60 and 2592000"));
        }
        for (setting, keys) in [
            ("auth.service_keys", &self.auth.service_keys),
            ("auth.admin_keys", &self.auth.admin_keys),
        ] {
            if keys.iter().any(|k| k.expose().len() < 24) {
                return Err(bad(setting, "every key must be at least 24 characters"));
            }
        }
        if !(0..=3600).contains(&self.keys.publish_before_use_secs) {
            return Err(bad(
                "keys.publish_before_use_secs",
                "must be between 0 and 3600",
            ));
        }
        if self.keys.reload_secs == 0 {
            return Err(bad("keys.reload_secs", "must be at least 1"));
        }
        if self.rate_limit.auth_per_minute == 0 || self.rate_limit.token_per_minute == 0 {
            return Err(bad("rate_limit", "limits must be at least 1 per minute"));
        }
        let payments = &self.payments;
        if !(0..=10_000).contains(&payments.performer_share_bps) {
            return Err(bad(
                "payments.performer_share_bps",
                "must be between 0 and 10000",
            ));
        }
        if payments.ticket_grace_secs < 0 || payments.unscheduled_ticket_secs < 60 {
            return Err(bad(
                "payments.ticket_grace_secs",
                "grace must be ≥ 0 and unscheduled tickets ≥ 60 s",
            ));
        }
        if !(1..=366).contains(&payments.subscription_period_days) {
            return Err(bad(
                "payments.subscription_period_days",
                "must be between 1 and 366",
            ));
        }
        if payments.min_tip_minor < 1 {
            return Err(bad("payments.min_tip_minor", "must be at least 1"));
        }
        for (name, price) in &payments.features {
            if crate::domain::parse_handle(name).as_deref() != Some(name.as_str())
                || !crate::domain::is_amount(price.amount_minor)
                || !crate::domain::is_currency_code(&price.currency)
                || !(1..=3660).contains(&price.days)
            {
                return Err(bad(&format!("payments.features.{name}"), "needs a lowercase name, a positive amount_minor (at most 10^12), an ISO currency and 1-3660 days"));
            }
        }
        for (name, provider) in &payments.providers {
            let setting = format!("payments.providers.{name}");
            if name == "epayco"
                || crate::domain::parse_handle(name).as_deref() != Some(name.as_str())
            {
                return Err(bad(&setting, "needs a lowercase name other than epayco"));
            }
            if provider.secrets.is_empty() || provider.secrets.iter().any(|s| s.expose().len() < 16)
            {
                return Err(bad(
                    &setting,
                    "needs at least one secret of 16 or more characters",
                ));
            }
            if !(1..=3600).contains(&provider.tolerance_secs) {
                return Err(bad(&setting, "tolerance_secs must be between 1 and 3600"));
            }
        }
        let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
        for (setting, url) in [
            (
                "payments.epayco.validation_url",
                &payments.epayco.validation_url,
            ),
            (
                "payments.epayco.checkout_url",
                &payments.epayco.checkout_url,
            ),
        ] {
            if !(url.starts_with("https://") || loopback.iter().any(|l| url.starts_with(l)))
                || url.ends_with('/')
            {
                return Err(bad(
                    setting,
                    "must be an https:// URL without a trailing slash (http:// only on loopback)",
                ));
            }
        }
        if payments.reconcile_after_secs < 60
            || !(1..=365).contains(&payments.reconcile_max_age_days)
        {
            return Err(bad(
                "payments.reconcile_after_secs",
                "must be at least 60, and reconcile_max_age_days 1 to 365",
            ));
        }
        if !payments.epayco.customer_id.is_empty() && payments.epayco.p_key.expose().len() < 16 {
            return Err(bad(
                "payments.epayco.p_key",
                "is required (at least 16 characters) when payments.epayco.customer_id is set",
            ));
        }
        if !self.prosody.secret.is_empty() && self.prosody.secret.expose().len() < 32 {
            return Err(bad("prosody.secret", "must be at least 32 characters"));
        }
        for (index, shard) in self.prosody.shards.iter().enumerate() {
            let setting = format!("prosody.shards[{index}]");
            if !shard.starts_with("http://") {
                return Err(bad(
                    &setting,
                    "must start with http:// (commands are signed, not encrypted; use a private network)",
                ));
            }
            check_url(&setting, shard)?;
            shard
                .parse::<hyper::Uri>()
                .map_err(|e| bad(&setting, format!("not a URL: {e}")))?;
        }
        if !(100..=30_000).contains(&self.prosody.command_timeout_ms) {
            return Err(bad(
                "prosody.command_timeout_ms",
                "must be between 100 and 30000",
            ));
        }
        if !(5..=600).contains(&self.prosody.max_clock_skew_secs) {
            return Err(bad(
                "prosody.max_clock_skew_secs",
                "must be between 5 and 600",
            ));
        }
        self.validate_matrix()?;
        self.validate_mastodon()?;
        distinct_secrets(&self.configured_secrets())?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(bad("log.format", "must be `text` or `json`"));
        }
        Ok(())
    }

    /// Every configured secret with the setting that holds it.
    fn configured_secrets(&self) -> Vec<(String, &str)> {
        let mut secrets = vec![
            (
                "jitsi.app_secret".to_owned(),
                self.jitsi.app_secret.expose(),
            ),
            ("session.secret".to_owned(), self.session.secret.expose()),
            ("prosody.secret".to_owned(), self.prosody.secret.expose()),
            ("matrix.as_token".to_owned(), self.matrix.as_token.expose()),
            ("matrix.hs_token".to_owned(), self.matrix.hs_token.expose()),
            (
                "mastodon.access_token".to_owned(),
                self.mastodon.access_token.expose(),
            ),
            (
                "mastodon.admin_token".to_owned(),
                self.mastodon.admin_token.expose(),
            ),
            (
                "payments.epayco.p_key".to_owned(),
                self.payments.epayco.p_key.expose(),
            ),
        ];
        for key in &self.auth.service_keys {
            secrets.push(("auth.service_keys".to_owned(), key.expose()));
        }
        for key in &self.auth.admin_keys {
            secrets.push(("auth.admin_keys".to_owned(), key.expose()));
        }
        for (name, provider) in &self.payments.providers {
            for secret in &provider.secrets {
                secrets.push((
                    format!("payments.providers.{name}.secrets"),
                    secret.expose(),
                ));
            }
        }
        secrets
    }

    fn validate_mastodon(&self) -> Result<(), ConfigError> {
        let mastodon = &self.mastodon;
        if !mastodon.is_enabled() {
            return Ok(());
        }
        check_url("mastodon.base_url", &mastodon.base_url)?;
        if mastodon.access_token.is_empty() {
            return Err(bad(
                "mastodon.access_token",
                "is required with mastodon.base_url (the posting account's token)",
            ));
        }
        if !matches!(mastodon.visibility.as_str(), "public" | "unlisted") {
            return Err(bad("mastodon.visibility", "must be public or unlisted"));
        }
        if !matches!(mastodon.language.as_str(), "es" | "en") {
            return Err(bad("mastodon.language", "must be es or en"));
        }
        if let Some(tag) = mastodon
            .hashtags
            .iter()
            .find(|tag| crate::domain::parse_hashtag(tag).is_none())
        {
            return Err(bad(
                "mastodon.hashtags",
                format!("{tag:?} is not a hashtag (letters, digits and _, without #)"),
            ));
        }
        if mastodon.on_global_ban != MastodonBanAction::None && mastodon.admin_token.is_empty() {
            return Err(bad(
                "mastodon.admin_token",
                "is required unless mastodon.on_global_ban is none",
            ));
        }
        if !(100..=60_000).contains(&mastodon.request_timeout_ms) {
            return Err(bad("mastodon.request_timeout_ms", "must be 100 to 60000"));
        }
        Ok(())
    }

    fn validate_matrix(&self) -> Result<(), ConfigError> {
        let matrix = &self.matrix;
        if !matrix.is_enabled() {
            return Ok(());
        }
        check_url("matrix.homeserver_url", &matrix.homeserver_url)?;
        matrix
            .homeserver_url
            .parse::<hyper::Uri>()
            .map_err(|e| bad("matrix.homeserver_url", format!("not a URL: {e}")))?;
        let name_ok = !matrix.server_name.is_empty()
            && matrix
                .server_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !name_ok {
            return Err(bad(
                "matrix.server_name",
                "is required with matrix.homeserver_url: the homeserver's server_name, e.g. example.com",
            ));
        }
        for (setting, token) in [
            ("matrix.as_token", &matrix.as_token),
            ("matrix.hs_token", &matrix.hs_token),
        ] {
            if token.expose().len() < 32 {
                return Err(bad(
                    setting,
                    "is required with matrix.homeserver_url (at least 32 characters)",
                ));
            }
        }
        if matrix.as_token == matrix.hs_token {
            return Err(bad("matrix.hs_token", "must differ from matrix.as_token"));
        }
        let localpart_ok = |s: &str| {
            s.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '=' | '-')
            })
        };
        if matrix.bot_localpart.is_empty() || !localpart_ok(&matrix.bot_localpart) {
            return Err(bad(
                "matrix.bot_localpart",
                "must be a non-empty Matrix localpart (a-z, 0-9, . _ = -)",
            ));
        }
        if matrix.user_prefix.is_empty() || !localpart_ok(&matrix.user_prefix) {
            return Err(bad(
                "matrix.user_prefix",
                "must be a non-empty Matrix localpart prefix (a-z, 0-9, . _ = -)",
            ));
        }
        if matrix.bot_localpart.starts_with(&matrix.user_prefix) {
            return Err(bad(
                "matrix.bot_localpart",
                "must not start with matrix.user_prefix",
            ));
        }
        if !localpart_ok(&matrix.alias_prefix) {
            return Err(bad(
                "matrix.alias_prefix",
                "may hold only a-z, 0-9, . _ = -",
            ));
        }
        if matrix.appservice_id.trim().is_empty() {
            return Err(bad("matrix.appservice_id", "must not be empty"));
        }
        if !(100..=60_000).contains(&matrix.request_timeout_ms) {
            return Err(bad(
                "matrix.request_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        if !(1..=86_400).contains(&matrix.reconcile_secs) {
            return Err(bad("matrix.reconcile_secs", "must be between 1 and 86400"));
        }
        Ok(())
    }

    /// Whether signed Jitsi tokens are handed out again while still fresh.
    pub fn reuses_signed_tokens(&self) -> bool {
        match self.jitsi.reuse_signed_tokens {
            TokenReuse::Always => true,
            TokenReuse::Never => false,
            TokenReuse::Auto => self.jitsi.signing == SigningMode::Rs256,
        }
    }
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        String(String),
        Number(u64),
    }
    Ok(match Text::deserialize(deserializer)? {
        Text::String(text) => text,
        Text::Number(number) => number.to_string(),
    })
}

fn check_url(setting: &str, url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad(setting, "must start with http:// or https://"))?;
    if rest.is_empty() || url.ends_with('/') {
        return Err(bad(setting, "must name a host and have no trailing slash"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    /// With the session secret equal to Jitsi's `app_secret`, whoever configures Prosody
    /// could sign session tokens — an admin's among them.
    #[test]
    fn one_secret_across_two_trust_boundaries_is_refused() {
        let shared = "a-secret-of-at-least-thirty-two-characters";
        type Share = fn(&mut Config, &str);
        let cases: [(&str, Share); 4] = [
            ("session.secret", |c, s| {
                c.jitsi.app_secret = Secret::new(s);
                c.session.secret = Secret::new(s);
            }),
            ("prosody.secret", |c, s| {
                c.session.secret = Secret::new(s);
                c.prosody.secret = Secret::new(s);
            }),
            ("auth.admin_keys", |c, s| {
                c.auth.service_keys = vec![Secret::new(s)];
                c.auth.admin_keys = vec![Secret::new(s)];
            }),
            ("auth.service_keys", |c, s| {
                c.jitsi.app_secret = Secret::new(s);
                c.auth.service_keys = vec![Secret::new(s)];
            }),
        ];
        for (setting, share) in cases {
            let mut config = Config::default();
            share(&mut config, shared);
            let error = config.validate().unwrap_err();
            assert_eq!(error.setting, setting);
            assert!(error.to_string().contains("same secret"), "{error}");
            assert!(
                !error.to_string().contains(shared),
                "the secret itself is never shown"
            );
        }
        let mut config = Config::default();
        config.jitsi.app_secret = Secret::new(shared);
        config.session.secret = Secret::new(format!("{shared}-session"));
        config.auth.admin_keys = vec![Secret::new("admin-key-0123456789abcdef"); 2];
        config.validate().unwrap();
    }

    #[test]
    fn errors_name_the_setting() {
        let mut config = Config::default();
        config.jitsi.token_ttl_secs = 5;
        assert_eq!(
            config.validate().unwrap_err().setting,
            "jitsi.token_ttl_secs"
        );
        let mut config = Config::default();
        config.http.public_url = "http://roomkey.example.com/".into();
        assert_eq!(config.validate().unwrap_err().setting, "http.public_url");
        let mut config = Config::default();
        config.jitsi.subject = "*".into();
        assert_eq!(config.validate().unwrap_err().setting, "jitsi.subject");
        for bad in [
            "http://checkout.example.com/pay",
            "https://secure.payco.co/",
        ] {
            let mut config = Config::default();
            config.payments.epayco.checkout_url = bad.into();
            assert_eq!(
                config.validate().unwrap_err().setting,
                "payments.epayco.checkout_url",
                "{bad}"
            );
        }
        let mut config = Config::default();
        config.payments.epayco.checkout_url = "http://127.0.0.1:9000/checkout".into();
        config.validate().unwrap();
    }

    #[test]
    fn the_join_page_language_is_es_or_en() {
        let parse = |text: &str| {
            Figment::from(Serialized::defaults(Config::default()))
                .merge(Toml::string(text))
                .extract::<Config>()
                .map_err(|error| error.to_string())
        };
        let parsed = parse("[join]\ndefault_language = \"en\"\n").unwrap();
        assert_eq!(parsed.join.default_language, crate::domain::Lang::En);
        assert!(parse("[join]\ndefault_language = \"fr\"\n").is_err());
        assert_eq!(
            Config::default().join.default_language,
            crate::domain::Lang::Es
        );
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2-hunter2-hunter2-hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"\"");
    }

    #[test]
    fn an_epayco_customer_id_may_be_written_as_a_number() {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("[payments.epayco]\ncustomer_id = 900123\n"))
            .extract()
            .unwrap();
        assert_eq!(config.payments.epayco.customer_id, "900123");
    }

    #[test]
    fn matrix_is_off_by_default_and_checked_when_on() {
        let mut config = Config::default();
        assert!(!config.matrix.is_enabled());
        config.matrix.homeserver_url = "http://127.0.0.1:8008".into();
        assert_eq!(config.validate().unwrap_err().setting, "matrix.server_name");
        config.matrix.server_name = "example.com".into();
        assert_eq!(config.validate().unwrap_err().setting, "matrix.as_token");
        config.matrix.as_token = Secret::new("a".repeat(32));
        config.matrix.hs_token = Secret::new("b".repeat(32));
        config.validate().unwrap();
        config.matrix.homeserver_url = "https://matrix.example.com".into();
        config.validate().unwrap();
        config.matrix.homeserver_url = "matrix.example.com".into();
        assert_eq!(
            config.validate().unwrap_err().setting,
            "matrix.homeserver_url"
        );
        config.matrix.homeserver_url = "http://127.0.0.1:8008".into();
        config.matrix.bot_localpart = "rk_bot".into();
        assert_eq!(
            config.validate().unwrap_err().setting,
            "matrix.bot_localpart"
        );
    }

    #[test]
    fn token_reuse_follows_the_signing_mode() {
        let mut config = Config::default();
        assert!(!config.reuses_signed_tokens());
        config.jitsi.signing = SigningMode::Rs256;
        assert!(config.reuses_signed_tokens());
    }
}
