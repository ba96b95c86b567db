//! The `roomkey` binary as an operator meets it: `serve` on a bare machine (embedded
//! SQLite, generated keys), the README's walk-through over real TCP, and start-up refusing
//! a bad setting by name; `docs/api.md` replayed against it, and the typed Node.js client
//! (`clients/node/`) current with the contract and running a flow against it.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;

mod api_doc;
mod support;

use support::{http, roomkey, serve, skip, ADMIN_KEY};

#[test]
fn serve_on_a_bare_machine_and_walk_from_sign_up_to_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let port = server.port;

    let (status, registered) = http(
        port,
        "POST",
        "/api/auth/register",
        None,
        Some(
            json!({"handle": "viewer1", "email": "viewer1@example.com", "password": "correct horse battery"}),
        ),
    );
    assert_eq!(status, 201, "{registered}");
    let session = registered["session_token"].as_str().unwrap();
    let viewer = registered["user"]["id"].as_str().unwrap();

    let (status, performer) = http(
        port,
        "POST",
        "/api/admin/users",
        Some(ADMIN_KEY),
        Some(json!({"handle": "alex", "email": "alex@example.com", "role": "performer"})),
    );
    assert_eq!(status, 201, "{performer}");
    let (status, room) = http(
        port,
        "POST",
        "/api/admin/rooms",
        Some(ADMIN_KEY),
        Some(json!({
        "name": "LiveAlex2026", "title": "Live with Alex", "owner_id": performer["id"], "access": "paid",
        "price": {"amount_minor": 5000000, "currency": "COP"}})),
    );
    assert_eq!(status, 201, "{room}");

    let (status, refused) = http(
        port,
        "POST",
        "/api/rooms/livealex2026/token",
        Some(session),
        None,
    );
    assert_eq!(status, 402, "{refused}");
    let (status, _) = http(
        port,
        "POST",
        "/api/admin/entitlements",
        Some(ADMIN_KEY),
        Some(json!({"user_id": viewer, "scope": {"kind": "room", "room": "livealex2026"}})),
    );
    assert_eq!(status, 201);
    let (status, token) = http(
        port,
        "POST",
        "/api/rooms/livealex2026/token",
        Some(session),
        None,
    );
    assert_eq!(status, 200, "{token}");
    assert!(token["join_url"]
        .as_str()
        .unwrap()
        .starts_with("https://meet.example.com/livealex2026#jwt=%22ey"));

    // The embedded defaults: an SQLite file and generated keys under ./roomkey-data.
    assert!(dir.path().join("roomkey-data/roomkey.db").exists());
    assert!(dir.path().join("roomkey-data/keys/hs256.secret").exists());
    assert!(dir.path().join("roomkey-data/keys/session.secret").exists());
}

#[test]
fn rs256_mode_serves_its_keys_and_rotates_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let rs256 = [("ROOMKEY_JITSI__SIGNING", "rs256")];
    {
        let server = serve(dir.path(), &rs256);
        let (status, jwks) = http(server.port, "GET", "/.well-known/jwks.json", None, None);
        assert_eq!(status, 200);
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    }
    let output = roomkey(dir.path())
        .args(["keys", "rotate"])
        .env("ROOMKEY_JITSI__SIGNING", "rs256")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("added key roomkey-"));
    let server = serve(dir.path(), &rs256);
    let (_, jwks) = http(server.port, "GET", "/.well-known/jwks.json", None, None);
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "the new key is published before it signs"
    );
}

#[test]
fn a_bad_setting_stops_start_up_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = roomkey(dir.path())
        .arg("serve")
        .env("ROOMKEY_JITSI__TOKEN_TTL_SECS", "5")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("jitsi.token_ttl_secs"), "{stderr}");

    let output = roomkey(dir.path())
        .arg("serve")
        .env("ROOMKEY_JITSI__TOKEN_TTL", "600")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "unknown settings are refused, not ignored"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("token_ttl"));

    let output = roomkey(dir.path())
        .arg("serve")
        .env("DATABASE_URL", "mysql://localhost/x")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("database.url"));
}

/// `config check` and `serve` refuse one secret for two trust boundaries, whether both
/// are configured or one was generated into keys.dir; the secret itself is never printed.
#[test]
fn one_secret_for_two_trust_boundaries_stops_config_check_and_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let shared = "shared-secret-0123456789abcdefghijkl";
    let output = roomkey(dir.path())
        .args(["config", "check"])
        .env("ROOMKEY_JITSI__APP_SECRET", shared)
        .env("ROOMKEY_SESSION__SECRET", shared)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("session.secret") && stderr.contains("jitsi.app_secret"),
        "{stderr}"
    );
    assert!(!stderr.contains(shared) && output.stdout.is_empty());

    // Prosody's generated secret, reused by hand as the session secret
    let keys = dir.path().join("roomkey-data/keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("prosody.secret"), shared).unwrap();
    let output = roomkey(dir.path())
        .arg("serve")
        .env(
            "ROOMKEY_HTTP__LISTEN",
            format!("127.0.0.1:{}", support::free_port()),
        )
        .env(
            "ROOMKEY_HTTP__OPS_LISTEN",
            format!("127.0.0.1:{}", support::free_port()),
        )
        .env("ROOMKEY_SESSION__SECRET", shared)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("prosody.secret") && stderr.contains("same secret"),
        "{stderr}"
    );
    assert!(!stderr.contains(shared));
}

#[test]
fn migrate_runs_on_its_own_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    // Every file under migrations/sqlite, in order.
    let mut shipped: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
            .unwrap()
            .map(|entry| {
                let name = entry.unwrap().file_name().into_string().unwrap();
                name.trim_end_matches(".sql").to_owned()
            })
            .collect();
    shipped.sort();
    let first_run = format!(
        "applied {} migration(s): {}",
        shipped.len(),
        shipped.join(", ")
    );
    for expected in [first_run.as_str(), "applied 0 migration(s)"] {
        let output = roomkey(dir.path()).arg("migrate").output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), expected);
    }
}

#[test]
fn matrix_appservice_registration_is_printed_and_written_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("as.token"),
        "as-token-from-a-file-0123456789abcdef\n",
    )
    .unwrap();
    let with_matrix = |command: &mut std::process::Command| {
        command
            .env("ROOMKEY_MATRIX__HOMESERVER_URL", "http://127.0.0.1:8008")
            .env("ROOMKEY_MATRIX__SERVER_NAME", "chat.example.com")
            .env("ROOMKEY_MATRIX__AS_TOKEN_FILE", dir.path().join("as.token"))
            .env(
                "ROOMKEY_MATRIX__HS_TOKEN",
                "hs-token-0123456789abcdef0123456789ab",
            );
    };
    let mut command = roomkey(dir.path());
    with_matrix(&mut command);
    let output = command
        .args(["matrix", "appservice-registration"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let yaml = String::from_utf8(output.stdout).unwrap();
    assert!(
        yaml.contains("as_token: 'as-token-from-a-file-0123456789abcdef'"),
        "{yaml}"
    );
    assert!(yaml.contains("hs_token: 'hs-token-0123456789abcdef0123456789ab'"));
    assert!(yaml.contains("regex: '@rk_.*:chat\\.example\\.com'"));
    assert!(yaml.contains("exclusive: true"));
    assert!(yaml.contains("rate_limited: false"));

    let mut command = roomkey(dir.path());
    with_matrix(&mut command);
    let output = command
        .args([
            "matrix",
            "appservice-registration",
            "roomkey-registration.yaml",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let written = std::fs::read_to_string(dir.path().join("roomkey-registration.yaml")).unwrap();
    assert_eq!(written, yaml);

    // Matrix on without its tokens is refused by name.
    let output = roomkey(dir.path())
        .env("ROOMKEY_MATRIX__HOMESERVER_URL", "http://127.0.0.1:8008")
        .env("ROOMKEY_MATRIX__SERVER_NAME", "chat.example.com")
        .args(["matrix", "appservice-registration"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("matrix.as_token"));
}

/// `keys rotate` changes the keyring the server reads, or nothing: run elsewhere it refuses
/// instead of creating a new keyring, and it names the absolute folder it changed. Its
/// output alone is on stdout; logs go to stderr, without colour codes when captured.
#[test]
fn keys_rotate_changes_only_an_existing_keyring_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("roomkey-data/keys");
    let rotate = |args: &[&str]| {
        roomkey(dir.path())
            .args(["keys", "rotate"])
            .args(args)
            .env("ROOMKEY_JITSI__SIGNING", "rs256")
            .env("RUST_LOG", "info")
            .output()
            .unwrap()
    };
    let refused = rotate(&[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--init") && stderr.contains(&keys.display().to_string()),
        "{stderr}"
    );
    assert!(!keys.join("rs256").exists(), "nothing was created");
    assert!(refused.stdout.is_empty());

    let created = rotate(&["--init"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let stdout = String::from_utf8_lossy(&created.stdout);
    assert!(
        stdout.starts_with(&format!("created a keyring in {}", keys.display())),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().count(),
        1,
        "only the command's own line: {stdout}"
    );

    let added = rotate(&[]);
    assert!(added.status.success());
    let stdout = String::from_utf8_lossy(&added.stdout);
    assert!(
        stdout.starts_with("added key ") && stdout.contains(&keys.display().to_string()),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let stderr = String::from_utf8_lossy(&added.stderr);
    assert!(stderr.contains("INFO"), "logs are on stderr: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes when captured: {stderr:?}"
    );

    let hs256 = roomkey(dir.path())
        .args(["keys", "rotate"])
        .output()
        .unwrap();
    assert!(!hs256.status.success());
    assert!(String::from_utf8_lossy(&hs256.stderr).contains("RS256"));
}

#[test]
fn openapi_prints_or_writes_the_committed_contract() {
    let dir = tempfile::tempdir().unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json")).unwrap();
    let printed = roomkey(dir.path()).arg("openapi").output().unwrap();
    assert!(printed.status.success(), "{printed:?}");
    assert!(String::from_utf8(printed.stdout).unwrap() == committed);
    let out = dir.path().join("openapi.json");
    let wrote = roomkey(dir.path())
        .args(["openapi", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(wrote.status.success(), "{wrote:?}");
    assert!(std::fs::read_to_string(&out).unwrap() == committed);
}

#[test]
fn docs_api_md_replays_against_a_running_roomkey() {
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md")).unwrap();
    let config = api_doc::config(&page);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("roomkey.toml"), &config).unwrap();
    // The page's admin key, not the one `serve` sets for every other test.
    let admin_keys = format!("[\"{}\"]", api_doc::setting(&config, "admin_keys"));
    let server = serve(
        dir.path(),
        &[
            ("ROOMKEY_CONFIG", "roomkey.toml"),
            ("ROOMKEY_AUTH__ADMIN_KEYS", &admin_keys),
        ],
    );
    let exchanges = api_doc::exchanges(&page);
    assert!(exchanges.len() >= 15, "docs/api.md lost its examples");
    api_doc::replay(
        &exchanges,
        server.port,
        &api_doc::setting(&config, "secrets"),
    );
}

const SERVICE_KEY: &str = "cli-service-key-0123456789abcdef";

#[test]
fn the_node_client_is_current_and_runs_a_flow() {
    let test = "the_node_client_is_current_and_runs_a_flow";
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/node");
    if Command::new("node").arg("--version").output().is_err() {
        return skip(test, "node");
    }
    if !client.join("node_modules").is_dir() {
        return skip(test, "`npm ci` done in clients/node");
    }
    let node = |args: &[&std::ffi::OsStr], env: &[(&str, String)]| -> Output {
        let output = Command::new("node")
            .current_dir(&client)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "node {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };

    let dir = tempfile::tempdir().unwrap();
    let regenerated = dir.path().join("schema.d.ts");
    node(&["generate.mjs".as_ref(), regenerated.as_os_str()], &[]);
    assert!(
        std::fs::read_to_string(&regenerated).unwrap()
            == std::fs::read_to_string(client.join("schema.d.ts")).unwrap(),
        "clients/node/schema.d.ts differs from docs/openapi.json; regenerate it with \
         `npm run generate` in clients/node and commit it"
    );
    node(
        &[
            "node_modules/typescript/bin/tsc".as_ref(),
            "--noEmit".as_ref(),
        ],
        &[],
    );

    let server = serve(
        dir.path(),
        &[(
            "ROOMKEY_AUTH__SERVICE_KEYS",
            &format!("[\"{SERVICE_KEY}\"]"),
        )],
    );
    let ran = node(
        &["example.mjs".as_ref()],
        &[
            ("ROOMKEY_URL", format!("http://127.0.0.1:{}", server.port)),
            ("ROOMKEY_ADMIN_KEY", ADMIN_KEY.to_owned()),
            ("ROOMKEY_SERVICE_KEY", SERVICE_KEY.to_owned()),
        ],
    );
    let said = String::from_utf8_lossy(&ran.stdout);
    assert!(
        said.contains("platform: a token for") && said.contains("viewer: a token for"),
        "{said}"
    );
}
