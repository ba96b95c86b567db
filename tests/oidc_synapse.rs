//! Element's sign-in, end to end: a real Synapse (the pinned one, with its `oidc` extra)
//! has roomkey as an `oidc_providers` entry and roomkey's application service; roomkey
//! runs as the real binary. The test signs in as Element would — Synapse's SSO redirect,
//! roomkey's sign-in form, Synapse's callback, `m.login.token` — lands in the Matrix
//! account roomkey provisioned, sees the invite to the paid room, and then watches a
//! global ban in roomkey end that Matrix session through back-channel logout, printing
//! how long it took. A second test walks the same sign-in in a real headless Chromium
//! (`tests/browser/synapse_sso.py`) up to Synapse's confirmation page.
//!
//! Needs `SYNAPSE_PYTHON` (and `BROWSER_PYTHON` for the browser walk); skipped, loudly,
//! without them (a failure under `TEST_REQUIRE_ALL=1`).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher as _, SaltString};
use serde_json::{json, Value};

mod support;

use support::{free_port, http, require_or_skip, serve, ADMIN_KEY};

const SERVER_NAME: &str = "localhost";
const AS_TOKEN: &str = "sso-test-as-token-0123456789abcdef0123";
const HS_TOKEN: &str = "sso-test-hs-token-0123456789abcdef0123";
const CLIENT_ID: &str = "synapse";
const CLIENT_SECRET: &str = "synapse-client-secret-0123456789abcdef";
const USER_PREFIX: &str = "pl_";
const PASSWORD: &str = "correct horse battery";
/// Where Element would be sent back with the login token.
const ELEMENT: &str = "http://127.0.0.1:9/element/";
/// The bound on a ban reaching Synapse: the dispatcher queues the logout before the ban's
/// request is answered and the worker is woken at once, so it is well under a second on
/// loopback; the bound leaves room for a slow CI machine.
const LOGOUT_BOUND: Duration = Duration::from_secs(5);

/// One HTTP/1.1 exchange: status, headers (lower-case names) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A browser for two origins on loopback: a cookie jar per port, no automatic redirects.
#[derive(Default)]
struct Browser {
    jars: BTreeMap<u16, BTreeMap<String, String>>,
}

impl Browser {
    fn send(&mut self, port: u16, method: &str, path: &str, form: Option<String>) -> Answer {
        let mut headers = Vec::new();
        if form.is_some() {
            headers.push("Content-Type: application/x-www-form-urlencoded".to_owned());
        }
        let jar = self.jars.entry(port).or_default();
        if !jar.is_empty() {
            let cookies: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            headers.push(format!("Cookie: {}", cookies.join("; ")));
        }
        let answer = exchange(port, method, path, &headers, &form.unwrap_or_default());
        for (name, value) in &answer.headers {
            if name != "set-cookie" {
                continue;
            }
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((key, content)) = pair.split_once('=') {
                if value.to_ascii_lowercase().contains("max-age=0") {
                    jar.remove(key.trim());
                } else {
                    jar.insert(key.trim().to_owned(), content.to_owned());
                }
            }
        }
        answer
    }

    /// Follows an absolute `http://127.0.0.1:<port>/…` URL.
    fn get_url(&mut self, url: &str) -> Answer {
        let (port, path) = split_url(url);
        self.send(port, "GET", &path, None)
    }
}

/// One HTTP/1.1 exchange over a fresh connection.
fn exchange(port: u16, method: &str, path: &str, headers: &[String], body: &str) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

fn split_url(url: &str) -> (u16, String) {
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("{url}"));
    let slash = rest.find('/').unwrap_or(rest.len());
    (rest[..slash].parse().unwrap(), rest[slash..].to_owned())
}

fn parse(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    body
}

/// A hidden field's value in an HTML page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let raw = &html[start..start + html[start..].find('"').unwrap()];
    raw.replace("&amp;", "&").replace("&quot;", "\"")
}

fn encode(fields: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(fields).unwrap()
}

/// A Synapse on `port` with roomkey (at `issuer`) as its OpenID Provider and roomkey's
/// application service; stopped by PID when dropped.
struct Synapse {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
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

impl Synapse {
    fn start(python: &std::ffi::OsStr, port: u16, issuer: &str) -> Synapse {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        std::fs::write(
            path.join("roomkey.yaml"),
            format!(
                "id: roomkey\nurl: null\nas_token: '{AS_TOKEN}'\nhs_token: '{HS_TOKEN}'\n\
                 sender_localpart: roomkey\nrate_limited: false\nnamespaces:\n  users:\n    \
                 - exclusive: true\n      regex: '@{USER_PREFIX}.*:{SERVER_NAME}'\n  aliases:\n    \
                 - exclusive: true\n      regex: '#.*:{SERVER_NAME}'\n  rooms: []\n"
            ),
        )
        .unwrap();
        let seed: [u8; 32] = rand::random();
        use base64::Engine as _;
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
                 public_baseurl: http://127.0.0.1:{port}/\n\
                 pid_file: {d}/homeserver.pid\n\
                 listeners:\n  - port: {port}\n    bind_addresses: ['127.0.0.1']\n    type: http\n    \
                 tls: false\n    x_forwarded: false\n    resources:\n      - names: [client]\n        compress: false\n\
                 database:\n  name: sqlite3\n  args:\n    database: {d}/homeserver.db\n\
                 media_store_path: {d}/media\n\
                 signing_key_path: {d}/signing.key\n\
                 report_stats: false\n\
                 trusted_key_servers: []\n\
                 suppress_key_server_warning: true\n\
                 presence:\n  enabled: false\n\
                 rc_login:\n  address:\n    per_second: 1000\n    burst_count: 1000\n  \
                 account:\n    per_second: 1000\n    burst_count: 1000\n\
                 app_service_config_files: ['{d}/roomkey.yaml']\n\
                 sso:\n  client_whitelist: ['{ELEMENT}']\n\
                 oidc_providers:\n  - idp_id: roomkey\n    idp_name: roomkey\n    \
                 issuer: '{issuer}'\n    client_id: '{CLIENT_ID}'\n    client_secret: '{CLIENT_SECRET}'\n    \
                 scopes: [openid, profile]\n    discover: true\n    skip_verification: true\n    \
                 pkce_method: always\n    backchannel_logout_enabled: true\n    \
                 allow_existing_users: true\n    user_mapping_provider:\n      config:\n        \
                 subject_claim: sub\n        localpart_template: '{USER_PREFIX}{{{{ user.preferred_username }}}}'\n        \
                 display_name_template: '{{{{ user.name }}}}'\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(path.join("synapse.log")).unwrap();
        let child = Command::new(python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(path.join("homeserver.yaml"))
            .current_dir(path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("SYNAPSE_PYTHON runs");
        let mut synapse = Synapse { child, dir, port };
        let started = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && synapse
                    .call("GET", "/_matrix/client/versions", None, None)
                    .0
                    == 200
            {
                return synapse;
            }
            if let Some(status) = synapse.child.try_wait().unwrap() {
                panic!("Synapse exited with {status}: {}", synapse.log_tail());
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "Synapse did not answer within 90 s: {}",
                synapse.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("synapse.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// A client-server call with `token` (if any); (status, JSON body).
    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut headers = Vec::new();
        if let Some(token) = token {
            headers.push(format!("Authorization: Bearer {token}"));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        if !body.is_empty() {
            headers.push("Content-Type: application/json".to_owned());
        }
        let answer = exchange(self.port, method, path, &headers, &body);
        let value = serde_json::from_str(&answer.body).unwrap_or(Value::String(answer.body));
        (answer.status, value)
    }
}

/// roomkey's configuration: the issuer, Matrix through the application service, and
/// Synapse as a first-party client that listens for back-channel logouts.
fn write_config(dir: &Path, issuer: &str, synapse: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default()
        .hash_password(CLIENT_SECRET.as_bytes(), &salt)
        .unwrap()
        .to_string();
    let config = dir.join("roomkey.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\npublic_url = \"{issuer}\"\n\n\
             [matrix]\nhomeserver_url = \"{synapse}\"\nserver_name = \"{SERVER_NAME}\"\n\
             as_token = \"{AS_TOKEN}\"\nhs_token = \"{HS_TOKEN}\"\nuser_prefix = \"{USER_PREFIX}\"\n\n\
             [[oidc.clients]]\nid = \"{CLIENT_ID}\"\nsecret_hash = \"{hash}\"\n\
             redirect_uris = [\"{synapse}/_synapse/client/oidc/callback\"]\n\
             backchannel_logout_uri = \"{synapse}/_synapse/client/oidc/backchannel_logout\"\n\
             scopes = [\"openid\", \"profile\"]\nfirst_party = true\n\n\
             [payments.providers]\n\
             meru = {{ scheme = \"standard\", secrets = [\"whsec_c3NvLXRlc3Qtc2VjcmV0\"] }}\n"
        ),
    )
    .unwrap();
    config.display().to_string()
}

/// Polls `check` every 100 ms for up to `within`; panics with `what` if it never holds.
fn eventually<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < within, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Element's SSO login through roomkey; returns the Matrix access token.
fn sso_login(browser: &mut Browser, synapse: &Synapse, rk_port: u16, handle: &str) -> String {
    let redirect = format!(
        "/_matrix/client/v3/login/sso/redirect/oidc-roomkey?{}",
        encode(&[("redirectUrl", ELEMENT)])
    );
    let to_roomkey = browser.send(synapse.port, "GET", &redirect, None);
    assert_eq!(to_roomkey.status, 302, "{}", to_roomkey.body);
    let authorize = to_roomkey.header("location").unwrap().to_owned();
    let page = browser.get_url(&authorize);
    assert_eq!(page.status, 200, "roomkey's sign-in page: {}", page.body);
    let fields = [
        ("csrf", hidden(&page.body, "csrf")),
        ("authorize", hidden(&page.body, "authorize")),
        ("login", handle.to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let signed_in = browser.send(rk_port, "POST", "/oidc/sign-in", Some(encode(&fields)));
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let back = signed_in.header("location").unwrap().to_owned();
    let coded = browser.send(rk_port, "GET", &back, None);
    assert_eq!(coded.status, 303, "{}", coded.body);
    let callback = coded.header("location").unwrap().to_owned();
    assert!(
        callback.starts_with(&format!(
            "http://127.0.0.1:{}/_synapse/client/oidc/callback?",
            synapse.port
        )),
        "{callback}"
    );
    let done = browser.get_url(&callback);
    let element = match done.header("location") {
        Some(location) => location.to_owned(),
        None => panic!(
            "Synapse's callback answered {}: {}\n{}",
            done.status,
            done.body,
            synapse.log_tail()
        ),
    };
    assert!(element.starts_with(ELEMENT), "{element}");
    let query = element.split_once('?').unwrap().1;
    let params: BTreeMap<String, String> = serde_urlencoded::from_str(query).unwrap();
    let (status, login) = synapse.call(
        "POST",
        "/_matrix/client/v3/login",
        None,
        Some(json!({"type": "m.login.token", "token": params["loginToken"]})),
    );
    assert_eq!(status, 200, "{login}");
    login["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn element_signs_in_through_roomkey_and_a_global_ban_signs_it_out() {
    let Some(python) = require_or_skip("SYNAPSE_PYTHON", "oidc_synapse") else {
        return;
    };
    let (rk_port, syn_port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{rk_port}");
    let synapse_url = format!("http://127.0.0.1:{syn_port}");
    let synapse = Synapse::start(&python, syn_port, &issuer);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &issuer, &synapse_url);
    let listen = format!("127.0.0.1:{rk_port}");
    let _roomkey = serve(
        dir.path(),
        &[
            ("ROOMKEY_CONFIG", config.as_str()),
            ("ROOMKEY_HTTP__LISTEN", listen.as_str()),
        ],
    );

    // A viewer who buys a ticket to a paid room; roomkey provisions their Matrix account
    // and invites it.
    let admin = Some(ADMIN_KEY);
    let register =
        json!({"handle": "viewer1", "email": "viewer1@example.com", "password": PASSWORD});
    let (status, body) = http(rk_port, "POST", "/api/auth/register", None, Some(register));
    assert_eq!(status, 201, "{body}");
    let user_id = body["user"]["id"].as_str().unwrap().to_owned();
    let performer = json!({"handle": "perf1", "email": "perf1@example.com", "password": PASSWORD});
    let (_, body) = http(rk_port, "POST", "/api/auth/register", None, Some(performer));
    let performer_id = body["user"]["id"].as_str().unwrap().to_owned();
    let role = json!({"role": "performer"});
    let path = format!("/api/admin/users/{performer_id}/role");
    assert_eq!(http(rk_port, "POST", &path, admin, Some(role)).0, 200);
    let room = json!({"name": "paidshow1", "title": "A paid show", "owner_id": performer_id,
        "access": "paid", "price": {"amount_minor": 5_000_000, "currency": "COP"}});
    let (status, body) = http(rk_port, "POST", "/api/admin/rooms", admin, Some(room));
    assert_eq!(status, 201, "{body}");
    // The viewer buys a ticket: a payment-link payment, recorded by staff, which grants it.
    let purchase = json!({"user_id": user_id, "purchase": {"kind": "room", "room": "paidshow1"},
        "provider": "meru", "provider_ref": "sso-1", "amount_minor": 5_000_000, "currency": "COP"});
    let (status, body) = http(
        rk_port,
        "POST",
        "/api/admin/payments",
        admin,
        Some(purchase),
    );
    assert_eq!(status, 201, "{body}");
    let alias = format!("/_matrix/client/v3/directory/room/%23paidshow1:{SERVER_NAME}");
    let room_id = eventually(
        Duration::from_secs(60),
        "the paid room exists in Matrix",
        || {
            let (status, body) = synapse.call("GET", &alias, Some(AS_TOKEN), None);
            assert!(matches!(status, 200 | 404), "{status} {body}");
            body["room_id"].as_str().map(str::to_owned)
        },
    );

    // Synapse keeps an initial /sync's answer for a while, so the invite must be there
    // before the first one.
    let members = format!(
        "/_matrix/client/v3/rooms/{}/members?user_id=@roomkey:{SERVER_NAME}",
        room_id.replace('!', "%21")
    );
    let mxid = format!("@{USER_PREFIX}viewer1:{SERVER_NAME}");
    eventually(
        Duration::from_secs(60),
        "roomkey invites the viewer",
        || {
            let (_, body) = synapse.call("GET", &members, Some(AS_TOKEN), None);
            let chunk = body["chunk"].as_array().cloned().unwrap_or_default();
            chunk
                .iter()
                .any(|m| m["state_key"] == mxid.as_str() && m["content"]["membership"] == "invite")
                .then_some(())
        },
    );

    let mut browser = Browser::default();
    let token = sso_login(&mut browser, &synapse, rk_port, "viewer1");
    let (status, whoami) = synapse.call(
        "GET",
        "/_matrix/client/v3/account/whoami",
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{whoami}");
    assert_eq!(whoami["user_id"], mxid.as_str());
    eventually(Duration::from_secs(60), "the invite shows in /sync", || {
        let (status, sync) = synapse.call(
            "GET",
            "/_matrix/client/v3/sync?timeout=0",
            Some(&token),
            None,
        );
        assert_eq!(status, 200, "{sync}");
        sync["rooms"]["invite"].get(&room_id).map(|_| ())
    });

    // A global ban in roomkey ends the Matrix session by back-channel logout.
    let ban = json!({"user_id": user_id, "scope": {"kind": "global"}, "reason": "spam"});
    let banned_at = Instant::now();
    let (status, body) = http(rk_port, "POST", "/api/admin/bans", admin, Some(ban));
    assert_eq!(status, 201, "{body}");
    let refused = eventually(LOGOUT_BOUND, "the Matrix token is refused", || {
        let (status, body) = synapse.call(
            "GET",
            "/_matrix/client/v3/account/whoami",
            Some(&token),
            None,
        );
        (status == 401).then_some(body)
    });
    let took = banned_at.elapsed();
    assert_eq!(refused["errcode"], "M_UNKNOWN_TOKEN", "{refused}");
    println!("back-channel logout: the Matrix token was refused {took:?} after the ban");
}

/// The same sign-in in a real Chromium (`tests/browser/synapse_sso.py`), as a person
/// clicks through it: Synapse's SSO redirect, roomkey's sign-in page, and Synapse's own
/// confirmation page for a client URL it does not trust by itself. Its continue link's
/// login token opens the Matrix account roomkey provisioned.
#[test]
fn element_signs_in_through_roomkey_in_chromium() {
    let test = "element_signs_in_through_roomkey_in_chromium";
    let Some(python) = require_or_skip("SYNAPSE_PYTHON", test) else {
        return;
    };
    let Some(browser_python) = require_or_skip("BROWSER_PYTHON", test) else {
        return;
    };
    let (rk_port, syn_port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{rk_port}");
    let synapse_url = format!("http://127.0.0.1:{syn_port}");
    let synapse = Synapse::start(&python, syn_port, &issuer);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &issuer, &synapse_url);
    let listen = format!("127.0.0.1:{rk_port}");
    let _roomkey = serve(
        dir.path(),
        &[
            ("ROOMKEY_CONFIG", config.as_str()),
            ("ROOMKEY_HTTP__LISTEN", listen.as_str()),
        ],
    );
    let register =
        json!({"handle": "viewer2", "email": "viewer2@example.com", "password": PASSWORD});
    let (status, body) = http(rk_port, "POST", "/api/auth/register", None, Some(register));
    assert_eq!(status, 201, "{body}");

    // Not in Synapse's `sso.client_whitelist`, so Synapse shows its confirmation page.
    let web_client = "http://127.0.0.1:9/web-client/";
    let start = format!(
        "{synapse_url}/_matrix/client/v3/login/sso/redirect/oidc-roomkey?{}",
        encode(&[("redirectUrl", web_client)])
    );
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(browser_python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/browser/synapse_sso.py"
        ))
        .args(["--start", &start, "--roomkey", &issuer])
        .args(["--client-redirect", web_client])
        .args(["--login", "viewer2", "--password", PASSWORD])
        .arg("--screenshots")
        .arg(scratch.path())
        .output()
        .expect("BROWSER_PYTHON runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => eprintln!("{stderr}"),
        Some(77) => {
            support::skip(test, &format!("Chromium and Selenium\n{stderr}"));
            return;
        }
        code => panic!(
            "the browser's sign-in failed ({code:?}):\n{}\n{stderr}\n{}",
            String::from_utf8_lossy(&output.stdout),
            synapse.log_tail()
        ),
    }
    let walked: Value = serde_json::from_slice(&output.stdout).unwrap();
    let link = walked["continue"].as_str().unwrap();
    let query = link.split_once('?').unwrap().1;
    let params: BTreeMap<String, String> = serde_urlencoded::from_str(query).unwrap();
    let (status, login) = synapse.call(
        "POST",
        "/_matrix/client/v3/login",
        None,
        Some(json!({"type": "m.login.token", "token": params["loginToken"]})),
    );
    assert_eq!(status, 200, "{login}");
    let token = login["access_token"].as_str().unwrap();
    let (status, whoami) = synapse.call(
        "GET",
        "/_matrix/client/v3/account/whoami",
        Some(token),
        None,
    );
    assert_eq!(status, 200, "{whoami}");
    assert_eq!(
        whoami["user_id"],
        format!("@{USER_PREFIX}viewer2:{SERVER_NAME}").as_str()
    );
}
