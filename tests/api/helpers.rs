//! `spawn_app()`: a real roomkey (real store, real Redis when configured) behind its
//! router, driven in-process with a manual clock.
//!
//! Backends: [`per_backend!`] makes one test per backend from one function, against the
//! embedded SQLite store and against PostgreSQL and Redis (`TEST_DATABASE_URL` and
//! `TEST_REDIS_URL`; skipped, loudly, without them). Each app gets its own schema
//! (PostgreSQL), its own file (SQLite) and its own key prefix (Redis), so tests run in
//! parallel.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use roomkey::app::App;
use roomkey::clock::{ManualClock, UnixSeconds};
use roomkey::config::{Config, Secret, SigningMode};
use serde_json::{json, Value};
use tower::ServiceExt as _;

pub const START: UnixSeconds = 1_800_000_000;
pub const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef";
pub const SERVICE_KEY: &str = "test-service-key-0123456789abcdef";

/// Where an app keeps its facts and shares its cache.
#[derive(Debug, Clone)]
pub struct Backend {
    pub label: &'static str,
    database_base: Option<String>,
    redis: Option<String>,
}

impl Backend {
    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// `TEST_DATABASE_URL`, when this backend is PostgreSQL.
    pub fn postgres_url(&self) -> Option<&str> {
        self.database_base.as_deref()
    }

    /// The embedded SQLite store and no Redis: always there.
    pub fn sqlite() -> Backend {
        Backend {
            label: "sqlite",
            database_base: None,
            redis: None,
        }
    }

    /// PostgreSQL and Redis at `TEST_DATABASE_URL` and `TEST_REDIS_URL`, or `None` once
    /// `test` is skipped for lack of them.
    pub fn postgres_redis(test: &str) -> Option<Backend> {
        let vars = ["TEST_DATABASE_URL", "TEST_REDIS_URL"];
        if !crate::support::require_all_or_skip(&vars, test) {
            return None;
        }
        let [postgres, redis] = vars.map(|var| std::env::var(var).ok());
        Some(Backend {
            label: "postgres+redis",
            database_base: postgres,
            redis,
        })
    }
}

/// Runs one statement on the PostgreSQL test database itself (not in an app's schema).
pub async fn on_test_database(base: &str, statement: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .expect("TEST_DATABASE_URL reachable");
    sqlx::query(statement).execute(&mut conn).await.unwrap();
}

/// One test per backend, from one function, so a failure names its backend:
///
/// ```ignore
/// per_backend!(a_ban_refuses_a_token);
/// async fn a_ban_refuses_a_token(backend: Backend) { … }
/// ```
///
/// makes the module `a_ban_refuses_a_token` with the tests `sqlite` and `postgres_redis`;
/// the second is skipped (see `support::skip`) without `TEST_DATABASE_URL` and
/// `TEST_REDIS_URL`. The tests are `#[tokio::test]`s, or carry the attributes given before
/// the name instead: `per_backend!(#[tokio::test(flavor = "multi_thread")] name)`.
macro_rules! per_backend {
    (@module [$($kind:ident)+] [$($attr:tt)+] $name:ident) => {
        mod $name {
            per_backend!(@tests [$($attr)+] $name $($kind)+);
        }
    };
    (@tests [$($attr:tt)+] $name:ident sqlite $($rest:ident)*) => {
        $($attr)+
        async fn sqlite() {
            super::$name(crate::helpers::Backend::sqlite()).await;
        }

        per_backend!(@tests [$($attr)+] $name $($rest)*);
    };
    (@tests [$($attr:tt)+] $name:ident postgres_redis $($rest:ident)*) => {
        $($attr)+
        async fn postgres_redis() {
            let test = concat!(module_path!(), "::postgres_redis");
            if let Some(backend) = crate::helpers::Backend::postgres_redis(test) {
                super::$name(backend).await;
            }
        }

        per_backend!(@tests [$($attr)+] $name $($rest)*);
    };
    (@tests [$($attr:tt)+] $name:ident) => {};
    ($(#[$attr:meta])+ $name:ident) => {
        per_backend!(@module [sqlite postgres_redis] [$(#[$attr])+] $name);
    };
    ($name:ident) => {
        per_backend!(#[tokio::test] $name);
    };
}

/// [`per_backend!`] for the backends where several instances share state (a Redis bus):
/// only `name::postgres_redis`.
macro_rules! per_shared_backend {
    ($name:ident) => {
        per_backend!(@module [postgres_redis] [#[tokio::test]] $name);
    };
}

pub struct TestApp {
    pub app: App,
    pub router: Router,
    pub clock: ManualClock,
    pub config: Config,
    pub backend: Backend,
    /// The PostgreSQL schema this app created, dropped at shutdown; `None` for SQLite and
    /// for a sibling, which shares its first instance's schema.
    schema: Option<String>,
    _dir: Arc<tempfile::TempDir>,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

/// A database URL of its own for one app, and the PostgreSQL schema it lives in.
async fn fresh_database(backend: &Backend, dir: &std::path::Path) -> (String, Option<String>) {
    match &backend.database_base {
        None => (
            format!("sqlite://{}", dir.join("roomkey.db").display()),
            None,
        ),
        Some(base) => {
            let schema = format!("rk_test_{}", uuid::Uuid::new_v4().simple());
            on_test_database(base, &format!("CREATE SCHEMA {schema}")).await;
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            (url, Some(schema))
        }
    }
}

pub fn base_config(dir: &std::path::Path, database_url: String, backend: &Backend) -> Config {
    let mut config = Config::default();
    config.database.url = database_url;
    config.database.max_connections = 8;
    config.keys.dir = dir.join("keys");
    config.keys.publish_before_use_secs = 60;
    config.auth.admin_keys = vec![Secret::new(ADMIN_KEY)];
    config.auth.service_keys = vec![Secret::new(SERVICE_KEY)];
    config.rate_limit.auth_per_minute = 10_000;
    config.rate_limit.token_per_minute = 10_000;
    config.http.ops_listen = String::new();
    config.jitsi.subject = "meet.jitsi".into();
    config.jitsi.meet_url = "https://meet.example.com".into();
    if let Some(redis) = &backend.redis {
        config.redis.url = redis.clone();
        config.redis.key_prefix = format!("rk_test_{}:", uuid::Uuid::new_v4().simple());
    }
    config
}

pub async fn spawn_app(backend: &Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: &Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let (database_url, schema) = fresh_database(backend, dir.path()).await;
    let mut config = base_config(dir.path(), database_url, backend);
    tweak(&mut config);
    config.validate().expect("test config is valid");
    start(
        backend.clone(),
        config,
        schema,
        dir,
        ManualClock::new(START),
    )
    .await
}

async fn start(
    backend: Backend,
    config: Config,
    schema: Option<String>,
    dir: Arc<tempfile::TempDir>,
    clock: ManualClock,
) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        roomkey::telemetry::init(&config.log);
    }
    let app = App::build(config.clone(), Arc::new(clock.clone()))
        .await
        .expect("app builds");
    let router = app.router();
    TestApp {
        app,
        router,
        clock,
        config,
        backend,
        schema,
        _dir: dir,
    }
}

impl TestApp {
    /// A second instance on the same database, keys and Redis, with its own caches.
    pub async fn sibling(&self) -> TestApp {
        let mut config = self.config.clone();
        config.database.migrate_on_start = false;
        start(
            self.backend.clone(),
            config,
            None,
            self._dir.clone(),
            self.clock.clone(),
        )
        .await
    }

    pub fn keys_dir(&self) -> std::path::PathBuf {
        self.config.keys.dir.clone()
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        self.send(request).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        self.call(Method::GET, path, bearer, None).await
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, bearer, Some(body)).await
    }

    pub async fn admin(&self, path: &str, body: Value) -> Reply {
        self.post(path, Some(ADMIN_KEY), body).await
    }

    /// Registers a viewer; returns (user id, session token).
    pub async fn register(&self, handle: &str) -> (String, String) {
        let reply = self
            .post(
                "/api/auth/register",
                None,
                json!({"handle": handle, "email": format!("{handle}@example.com"), "password": "correct horse battery", "display_name": handle.to_uppercase()}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        (
            reply.body["user"]["id"].as_str().unwrap().to_owned(),
            reply.body["session_token"].as_str().unwrap().to_owned(),
        )
    }

    /// A user with `role`, signed in.
    pub async fn user_with_role(&self, handle: &str, role: &str) -> (String, String) {
        let (id, session) = self.register(handle).await;
        let reply = self
            .admin(
                &format!("/api/admin/users/{id}/role"),
                json!({"role": role}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        (id, session)
    }

    pub async fn create_room(&self, name: &str, owner: &str, access: &str) -> Value {
        let mut body = json!({"name": name, "title": format!("Show {name}"), "owner_id": owner, "access": access});
        if access == "paid" {
            body["price"] = json!({"amount_minor": 5_000_000, "currency": "COP"});
        }
        let reply = self.admin("/api/admin/rooms", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body
    }

    pub async fn grant(
        &self,
        user_id: &str,
        scope: Value,
        valid_until: Option<UnixSeconds>,
    ) -> Value {
        let mut body = json!({"user_id": user_id, "scope": scope});
        if let Some(until) = valid_until {
            body["valid_until"] = json!(roomkey::clock::rfc3339(until));
        }
        let reply = self.admin("/api/admin/entitlements", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body
    }

    pub async fn token(&self, room: &str, session: &str) -> Reply {
        self.call(
            Method::POST,
            &format!("/api/rooms/{room}/token"),
            Some(session),
            None,
        )
        .await
    }

    /// Stops the app and drops the PostgreSQL schema it created (a test that shuts down a
    /// sibling shuts it down first).
    /// Stops this instance (a restart, or a crash after its writes committed) and starts a
    /// new one on the same database, keys and Redis, which takes over its data.
    pub async fn restart(mut self) -> TestApp {
        let mut next = self.sibling().await;
        next.schema = self.schema.take();
        self.shutdown().await;
        next
    }

    pub async fn shutdown(self) {
        self.app.shutdown().await;
        if let (Some(schema), Some(base)) = (&self.schema, &self.backend.database_base) {
            on_test_database(base, &format!("DROP SCHEMA {schema} CASCADE")).await;
        }
    }
}

/// A performer and a paid room they own, plus a signed-in viewer: the common cast.
pub struct Stage {
    pub performer_id: String,
    pub performer_session: String,
    pub viewer_id: String,
    pub viewer_session: String,
    pub room: String,
}

/// A new session for the user registered as `handle` (by [`TestApp::register`]).
pub async fn sign_in(app: &TestApp, handle: &str) -> String {
    let reply = app
        .post(
            "/api/auth/login",
            None,
            json!({"login": handle, "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body["session_token"].as_str().unwrap().to_owned()
}

pub async fn stage(app: &TestApp, access: &str) -> Stage {
    let (performer_id, performer_session) = app.user_with_role("alex", "performer").await;
    let (viewer_id, viewer_session) = app.register("viewer").await;
    app.create_room("livealex2026", &performer_id, access).await;
    Stage {
        performer_id,
        performer_session,
        viewer_id,
        viewer_session,
        room: "livealex2026".into(),
    }
}

/// Splits a compact JWS into (header, claims, signing input, signature), decoding by hand:
/// the tests read tokens without roomkey's own code.
pub fn decode_jwt(token: &str) -> (Value, Value, String, Vec<u8>) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "compact JWS has three parts");
    let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    (
        header,
        claims,
        format!("{}.{}", parts[0], parts[1]),
        URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    )
}

/// Verifies an HS256 signature with the `hmac` crate (independent of roomkey's ring signer).
pub fn verify_hs256(token: &str, secret: &[u8]) -> bool {
    use hmac::{Hmac, Mac};
    let (_, _, input, signature) = decode_jwt(token);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

/// Verifies an RS256 signature with the `rsa` crate against a PEM public key.
pub fn verify_rs256(token: &str, public_pem: &str) -> bool {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    let key = rsa::RsaPublicKey::from_public_key_pem(public_pem).unwrap();
    let (_, _, input, signature) = decode_jwt(token);
    let Ok(signature) = Signature::try_from(signature.as_slice()) else {
        return false;
    };
    VerifyingKey::<sha2::Sha256>::new(key)
        .verify(input.as_bytes(), &signature)
        .is_ok()
}

pub fn hs256_secret(app: &TestApp) -> Vec<u8> {
    std::fs::read_to_string(app.keys_dir().join("hs256.secret"))
        .unwrap()
        .trim()
        .as_bytes()
        .to_vec()
}

pub fn signing(mode: SigningMode) -> impl FnOnce(&mut Config) {
    move |config: &mut Config| config.jitsi.signing = mode
}

impl TestApp {
    pub fn clock_now(&self) -> UnixSeconds {
        use roomkey::clock::Clock as _;
        self.clock.now()
    }
}

/// The HTTP client the tests reach other servers (Synapse, Mastodon) with.
pub type OutsideClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<hyper::body::Bytes>,
>;

pub fn outside_client() -> OutsideClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new())
}

/// One JSON call to another server: its status and body (`Null` when not JSON).
pub async fn outside_call(
    client: &OutsideClient,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    use http_body_util::BodyExt as _;
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(http_body_util::Full::new(
            body.map(|b| b.to_string()).unwrap_or_default().into(),
        ))
        .unwrap();
    let response =
        tokio::time::timeout(std::time::Duration::from_secs(30), client.request(request))
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}
