//! A Mastodon-API server for the show and moderation tests: `mastodon_mock` from PyPI
//! (a stateful FastAPI implementation of Mastodon's REST API, with Idempotency-Key
//! handling, admin account actions and fault injection), started on a free loopback port
//! from the executable `MASTODON_MOCK` names and stopped by PID when dropped. Without
//! `MASTODON_MOCK` the tests that need it are skipped (a `SKIPPED:` line; a failure under
//! `TEST_REQUIRE_ALL=1`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{outside_call, outside_client, OutsideClient};

/// The account roomkey posts announcements as.
pub const ANNOUNCER_TOKEN: &str = "announcer-token-0123456789";
/// A moderator account's token, for account actions.
pub const MODERATOR_TOKEN: &str = "moderator-token-0123456789";

pub struct MastodonMock {
    _dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
    client: OutsideClient,
}

impl MastodonMock {
    /// Starts a server with the announcer, a moderator and one account per `usernames`,
    /// or `None` once `test` is skipped because `MASTODON_MOCK` is not set (see
    /// [`crate::support::skip`]).
    pub async fn start(test: &str, usernames: &[&str]) -> Option<MastodonMock> {
        let accounts: Vec<(&str, Option<&str>)> = usernames.iter().map(|u| (*u, None)).collect();
        Self::start_with_emails(test, &accounts).await
    }

    /// [`Self::start`], with accounts given as (username, e-mail address).
    pub async fn start_with_emails(
        test: &str,
        accounts: &[(&str, Option<&str>)],
    ) -> Option<MastodonMock> {
        let program = crate::support::require_or_skip("MASTODON_MOCK", test)?;
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = format!(
            "domain = \"social.test\"\nurl_scheme = \"http\"\n[streaming]\nenabled = false\n\
             [[seed.accounts]]\nusername = \"announcer\"\naccess_token = \"{ANNOUNCER_TOKEN}\"\n\
             [[seed.accounts]]\nusername = \"moddy\"\naccess_token = \"{MODERATOR_TOKEN}\"\nrole = \"admin\"\n"
        );
        for (name, email) in accounts {
            config.push_str(&format!("[[seed.accounts]]\nusername = \"{name}\"\n"));
            if let Some(email) = email {
                config.push_str(&format!("email = \"{email}\"\n"));
            }
        }
        std::fs::write(dir.path().join("mastodon.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("mastodon.log")).unwrap();
        let child = Command::new(program)
            .args(["serve", "--in-memory", "--log-level", "warning", "--config"])
            .arg(dir.path().join("mastodon.toml"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("MASTODON_MOCK runs");
        let mut mock = MastodonMock {
            _dir: dir,
            port,
            child,
            client: outside_client(),
        };
        let started = Instant::now();
        loop {
            if let Ok((200, _)) = mock.request("GET", "/api/v1/instance", None, None).await {
                return Some(mock);
            }
            if let Some(status) = mock.child.try_wait().unwrap() {
                panic!("mastodon_mock exited with {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "mastodon_mock did not answer within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn request(
        &self,
        method: &str,
        path_and_query: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|value| ("authorization", value.as_str()))
            .collect();
        outside_call(
            &self.client,
            method,
            &format!("{}{path_and_query}", self.url()),
            &headers,
            body,
        )
        .await
    }

    /// A post as the announcer with an `Idempotency-Key`.
    pub async fn post_with_key(&self, key: &str, body: Value) -> Result<(u16, Value), String> {
        let authorization = format!("Bearer {ANNOUNCER_TOKEN}");
        outside_call(
            &self.client,
            "POST",
            &format!("{}/api/v1/statuses", self.url()),
            &[
                ("authorization", authorization.as_str()),
                ("idempotency-key", key),
            ],
            Some(body),
        )
        .await
    }

    /// `request` as the moderator that must answer 200.
    pub async fn ok(&self, method: &str, path_and_query: &str, body: Option<Value>) -> Value {
        let (status, value) = self
            .request(method, path_and_query, Some(MODERATOR_TOKEN), body)
            .await
            .unwrap();
        assert_eq!(status, 200, "{method} {path_and_query}: {value}");
        value
    }

    /// Every status of the announcer, newest first.
    pub async fn announcements(&self) -> Vec<Value> {
        let me = self
            .request(
                "GET",
                "/api/v1/accounts/verify_credentials",
                Some(ANNOUNCER_TOKEN),
                None,
            )
            .await
            .unwrap()
            .1;
        let id = me["id"].as_str().unwrap().to_owned();
        let statuses = self
            .ok(
                "GET",
                &format!("/api/v1/accounts/{id}/statuses?limit=40"),
                None,
            )
            .await;
        statuses.as_array().unwrap().clone()
    }

    /// The admin view of the local account `username` (any moderation state).
    pub async fn admin_account(&self, username: &str) -> Value {
        for status in ["active", "silenced", "suspended"] {
            let found = self
                .ok(
                    "GET",
                    &format!(
                        "/api/v2/admin/accounts?origin=local&status={status}&username={username}"
                    ),
                    None,
                )
                .await;
            if let Some(account) = found
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["username"] == username)
            {
                return account.clone();
            }
        }
        panic!("no account {username}");
    }

    /// Answers the next `count` requests matching `method path` with `status`.
    pub async fn fail_next(&self, method: &str, path: &str, status: u16, count: u32) {
        let rule = serde_json::json!({
            "match": {"methods": [method], "path": path},
            "effect": {"type": "status", "status": status},
            "count": count,
        });
        let (code, body) = self
            .request("POST", "/api/v1/_mock/faults", None, Some(rule))
            .await
            .unwrap();
        assert_eq!(code, 200, "{body}");
    }
}

impl Drop for MastodonMock {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
