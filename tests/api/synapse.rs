//! A real Synapse for the Matrix tests: a generated config (SQLite, a loopback listener on
//! a free port, client API only, no key servers, roomkey's application service), started
//! from the Python environment `SYNAPSE_PYTHON` names and stopped by PID when dropped, also
//! when a test panics. Without `SYNAPSE_PYTHON` the tests that need it are skipped (a
//! `SKIPPED:` line; a failure under `TEST_REQUIRE_ALL=1`).
//! The listener serves the client API and the `openid` resource (the federation API's
//! OpenID userinfo endpoint, which roomkey asks when a user links their account).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::helpers::{outside_call, outside_client, OutsideClient};

pub const SERVER_NAME: &str = "localhost";
pub const AS_TOKEN: &str = "test-as-token-0123456789abcdef0123456789";
pub const HS_TOKEN: &str = "test-hs-token-0123456789abcdef0123456789";
const REGISTRATION_SECRET: &str = "test-registration-secret-0123456789";

pub struct Synapse {
    python: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    client: OutsideClient,
}

impl Synapse {
    /// Starts a Synapse, or `None` once `test` is skipped because `SYNAPSE_PYTHON` is not
    /// set (see [`crate::support::skip`]).
    pub async fn start(test: &str) -> Option<Synapse> {
        let python = crate::support::require_or_skip("SYNAPSE_PYTHON", test)?;
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = dir.path();
        // Any namespace prefix starting with `rk` belongs to roomkey, so apps with
        // different prefixes can share one homeserver.
        std::fs::write(
            path.join("roomkey.yaml"),
            format!(
                "id: roomkey\nurl: null\nas_token: '{AS_TOKEN}'\nhs_token: '{HS_TOKEN}'\n\
                 sender_localpart: roomkey\nrate_limited: false\nnamespaces:\n  users:\n    \
                 - exclusive: true\n      regex: '@rk.*:{SERVER_NAME}'\n  aliases:\n    \
                 - exclusive: true\n      regex: '#.*:{SERVER_NAME}'\n  rooms: []\n"
            ),
        )
        .unwrap();
        let seed: [u8; 32] = rand::random();
        std::fs::write(
            path.join("signing.key"),
            format!(
                "ed25519 a_test {}\n",
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(seed)
            ),
        )
        .unwrap();
        let d = path.display();
        std::fs::write(
            path.join("homeserver.yaml"),
            format!(
                "server_name: {SERVER_NAME}\n\
                 pid_file: {d}/homeserver.pid\n\
                 listeners:\n  - port: {port}\n    bind_addresses: ['127.0.0.1']\n    type: http\n    \
                 tls: false\n    x_forwarded: false\n    resources:\n      - names: [client, openid]\n        compress: false\n\
                 database:\n  name: sqlite3\n  args:\n    database: {d}/homeserver.db\n\
                 media_store_path: {d}/media\n\
                 signing_key_path: {d}/signing.key\n\
                 registration_shared_secret: '{REGISTRATION_SECRET}'\n\
                 report_stats: false\n\
                 trusted_key_servers: []\n\
                 suppress_key_server_warning: true\n\
                 presence:\n  enabled: false\n\
                 rc_login:\n  address:\n    per_second: 1000\n    burst_count: 1000\n  \
                 account:\n    per_second: 1000\n    burst_count: 1000\n\
                 app_service_config_files: ['{d}/roomkey.yaml']\n"
            ),
        )
        .unwrap();
        let mut synapse = Synapse {
            python: python.into(),
            dir,
            port,
            child: None,
            client: outside_client(),
        };
        synapse.resume().await;
        Some(synapse)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the process (again, on the same data) and waits until the client API answers.
    pub async fn resume(&mut self) {
        assert!(self.child.is_none(), "Synapse is already running");
        let log = std::fs::File::create(self.dir.path().join("synapse.log")).unwrap();
        let child = Command::new(&self.python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(self.dir.path().join("homeserver.yaml"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("SYNAPSE_PYTHON runs");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok((200, _)) = self.request("GET", "/_matrix/client/versions", None).await {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("Synapse exited with {status}: {}", self.log_tail());
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "Synapse did not answer within 90 s: {}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the process by its PID (SIGTERM, then SIGKILL after 10 s) and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("synapse.log")).unwrap_or_default();
        log.lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A client-server call with the application service's token (`?user_id=` masquerades
    /// as a user of its namespace).
    pub async fn request(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        self.request_with(AS_TOKEN, method, path_and_query, body)
            .await
    }

    /// A client-server call with `token` (a user's own access token).
    pub async fn request_with(
        &self,
        token: &str,
        method: &str,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let authorization = format!("Bearer {token}");
        let headers: &[(&str, &str)] = if token.is_empty() {
            &[]
        } else {
            &[("authorization", authorization.as_str())]
        };
        outside_call(
            &self.client,
            method,
            &format!("{}{path_and_query}", self.url()),
            headers,
            body,
        )
        .await
    }

    /// `request` that must succeed with 200.
    pub async fn ok(&self, method: &str, path_and_query: &str, body: Option<Value>) -> Value {
        let (status, value) = self.request(method, path_and_query, body).await.unwrap();
        assert_eq!(status, 200, "{method} {path_and_query}: {value}");
        value
    }

    /// Registers an ordinary user (outside roomkey's namespace) with Synapse's own
    /// shared-secret script, logs in, and returns `(user id, access token)`.
    pub async fn register_user(&self, localpart: &str) -> (String, String) {
        let password = "a-test-password-0123456789";
        let output = Command::new(&self.python)
            .args(["-m", "synapse._scripts.register_new_matrix_user"])
            .args(["-u", localpart, "-p", password, "--no-admin", "-k"])
            .arg(REGISTRATION_SECRET)
            .arg(self.url())
            .stdin(Stdio::null())
            .output()
            .expect("SYNAPSE_PYTHON runs");
        assert!(
            output.status.success(),
            "registering {localpart}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let (status, body) = self
            .request_with(
                "",
                "POST",
                "/_matrix/client/v3/login",
                Some(serde_json::json!({
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": localpart},
                    "password": password,
                })),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "login {localpart}: {body}");
        (
            body["user_id"].as_str().unwrap().to_owned(),
            body["access_token"].as_str().unwrap().to_owned(),
        )
    }

    /// An OpenID token for the user whose access token is `token`, as a client asks for it.
    pub async fn openid_token(&self, user: &str, token: &str) -> Value {
        let (status, body) = self
            .request_with(
                token,
                "POST",
                &format!("/_matrix/client/v3/user/{}/openid/request_token", enc(user)),
                Some(serde_json::json!({})),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Rooms `user` (by their own access token) is invited to, per their `/sync`.
    pub async fn invites_seen_with(&self, token: &str) -> Vec<String> {
        let (status, body) = self
            .request_with(token, "GET", "/_matrix/client/v3/sync?timeout=0", None)
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
        body["rooms"]["invite"]
            .as_object()
            .map(|rooms| rooms.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Sends a text message as `user` (masqueraded); the status Synapse answered.
    pub async fn say(&self, user: &str, room: &str, text: &str) -> u16 {
        let txn: u64 = rand::random();
        let (status, _) = self
            .request(
                "PUT",
                &format!(
                    "/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}?user_id={}",
                    enc(room),
                    enc(user)
                ),
                Some(serde_json::json!({"msgtype": "m.text", "body": text})),
            )
            .await
            .unwrap();
        status
    }

    /// The message bodies `user` (masqueraded) can read back in the room, newest first.
    pub async fn history_seen_by(&self, user: &str, room: &str) -> Vec<String> {
        let body = self
            .ok(
                "GET",
                &format!(
                    "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50&user_id={}",
                    enc(room),
                    enc(user)
                ),
                None,
            )
            .await;
        body["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.message")
            .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
            .collect()
    }

    /// The room's power levels.
    pub async fn power_levels(&self, room: &str) -> Value {
        self.ok(
            "GET",
            &format!(
                "/_matrix/client/v3/rooms/{}/state/m.room.power_levels/",
                enc(room)
            ),
            None,
        )
        .await
    }

    pub async fn resolve(&self, alias: &str) -> Option<String> {
        let (status, body) = self
            .request(
                "GET",
                &format!("/_matrix/client/v3/directory/room/{}", enc(alias)),
                None,
            )
            .await
            .unwrap();
        (status == 200).then(|| body["room_id"].as_str().unwrap().to_owned())
    }

    /// The user's membership in the room, read from the room's state as the bot.
    pub async fn membership(&self, room: &str, user: &str) -> Option<String> {
        let (status, body) = self
            .request(
                "GET",
                &format!(
                    "/_matrix/client/v3/rooms/{}/state/m.room.member/{}",
                    enc(room),
                    enc(user)
                ),
                None,
            )
            .await
            .unwrap();
        (status == 200).then(|| body["membership"].as_str().unwrap_or_default().to_owned())
    }

    /// `user`'s own `/sync` (masqueraded): the rooms they are invited to.
    pub async fn invites_seen_by(&self, user: &str) -> Vec<String> {
        let body = self
            .ok(
                "GET",
                &format!("/_matrix/client/v3/sync?timeout=0&user_id={}", enc(user)),
                None,
            )
            .await;
        body["rooms"]["invite"]
            .as_object()
            .map(|rooms| rooms.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub async fn join_as(&self, user: &str, room: &str) {
        self.ok(
            "POST",
            &format!(
                "/_matrix/client/v3/join/{}?user_id={}",
                enc(room),
                enc(user)
            ),
            Some(serde_json::json!({})),
        )
        .await;
    }

    /// Members by membership (`join`, `invite`, `leave`, `ban`), as the bot reads them.
    pub async fn members(&self, room: &str, membership: &str) -> Vec<String> {
        let body = self
            .ok(
                "GET",
                &format!("/_matrix/client/v3/rooms/{}/members", enc(room)),
                None,
            )
            .await;
        body["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["content"]["membership"] == membership)
            .map(|e| e["state_key"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn enc(segment: &str) -> String {
    roomkey::matrix::client::encode(segment)
}
