//! The running server against its own contract: schemathesis (pinned, from PyPI; the
//! `SCHEMATHESIS` variable names its executable, as `.ci/run` arranges) generates requests
//! for every operation of `/openapi.json` and sends them to a `roomkey` on SQLite seeded with
//! a performer, a paid room, a viewer and admins. It fails on a server error, an answer that
//! does not fit its schema, a status or a content type the contract does not list.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use serde_json::json;

mod support;

use support::{http, require_or_skip, serve, ADMIN_KEY};

/// Test cases per operation; `SCHEMATHESIS_MAX_EXAMPLES` raises it for a longer run, and
/// `SCHEMATHESIS_SEED` (1 by default, so that CI repeats itself) explores other cases.
const MAX_EXAMPLES: &str = "8";

/// The key of a platform backend acting for a user.
const SERVICE_KEY: &str = "contract-service-key-0123456789";

#[test]
fn schemathesis_finds_nothing_the_contract_does_not_say() {
    let test = "schemathesis_finds_nothing_the_contract_does_not_say";
    let Some(schemathesis) = require_or_skip("SCHEMATHESIS", test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[
            ("ROOMKEY_RATE_LIMIT__AUTH_PER_MINUTE", "100000"),
            ("ROOMKEY_RATE_LIMIT__TOKEN_PER_MINUTE", "100000"),
            (
                "ROOMKEY_AUTH__SERVICE_KEYS",
                &format!("[\"{SERVICE_KEY}\"]"),
            ),
        ],
    );
    let port = server.port;
    let (performer, viewer) = seed(port);
    // Known rooms and users for a share of the generated path parameters and bodies, so that
    // requests reach the rules behind "no such room" and "no such user".
    let parameters = format!(
        "[dictionaries.rooms]\nvalues = [\"livealex2026\"]\n\
             [dictionaries.users]\nvalues = [\"{performer}\", \"{viewer}\"]\n\
             [parameters]\n\
             \"path.room\" = {{ dictionary = \"rooms\", probability = 0.5 }}\n\
             \"path.id\" = {{ dictionary = \"users\", probability = 0.3 }}\n\
             \"body.room\" = {{ dictionary = \"rooms\", probability = 0.5 }}\n\
             \"body.user_id\" = {{ dictionary = \"users\", probability = 0.5 }}\n\
             \"body.performer_id\" = {{ dictionary = \"users\", probability = 0.5 }}\n"
    );

    // The operations that can end or demote the session a run uses (a sign-out, a new
    // password, a role, a ban, an admin's revocation: schemathesis reuses the ids it reads
    // in answers, its own included) would leave the requests after them refused (401). Each
    // runs alone with a new admin's session, after the rest.
    let ending = [
        "logout",
        "logoutAll",
        "changePassword",
        "setRole",
        "endSessions",
        "adminBan",
        "ban",
    ];
    let mut runs = vec![vec![
        "--exclude-operation-id-regex".to_owned(),
        format!("^({})$", ending.join("|")),
    ]];
    runs.extend(
        ending
            .iter()
            .map(|id| vec!["--include-operation-id".to_owned(), (*id).to_owned()]),
    );
    for (n, selection) in runs.iter().enumerate() {
        // The credentials of each scheme. None for `onBehalf`: what a user does runs with
        // the admin's session (a service key's user has no session to end), and the key
        // alone reaches what only backends call.
        let session = admin_session(port, n);
        std::fs::write(
            dir.path().join("schemathesis.toml"),
            format!(
                "{parameters}\
                 [auth.openapi.session]\nbearer = \"{session}\"\n\
                 [auth.openapi.serviceKey]\nbearer = \"{SERVICE_KEY}\"\n\
                 [auth.openapi.adminKey]\nbearer = \"{ADMIN_KEY}\"\n"
            ),
        )
        .unwrap();
        let (passed, report) = run(&schemathesis, dir.path(), port, selection);
        // Shown with `--nocapture`: what was tested and schemathesis's warnings.
        eprintln!("{report}");
        assert!(
            passed,
            "schemathesis found answers the contract does not allow:\n{report}"
        );
    }
}

/// One schemathesis run over the operations `selection` picks; whether it passed, and
/// its report.
fn run(schemathesis: &OsStr, dir: &Path, port: u16, selection: &[String]) -> (bool, String) {
    let max_examples =
        std::env::var("SCHEMATHESIS_MAX_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.to_owned());
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| "1".to_owned());
    // In the test's own folder: Hypothesis keeps its example database in the working one.
    let output = Command::new(schemathesis)
        .current_dir(dir)
        .arg("--config-file")
        .arg(dir.join("schemathesis.toml"))
        .args(["run", &format!("http://127.0.0.1:{port}/openapi.json")])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,\
             content_type_conformance",
        ])
        .args([
            "--max-examples",
            &max_examples,
            "--seed",
            &seed,
            "--workers",
            "2",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--suppress-health-check", "all", "--request-timeout", "20"])
        .args(selection)
        .output()
        .unwrap();
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), report)
}

/// A performer with a paid room, and a viewer: their ids.
fn seed(port: u16) -> (String, String) {
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
        Some(json!({"name": "LiveAlex2026", "title": "Live with Alex",
                    "owner_id": performer["id"], "access": "paid",
                    "price": {"amount_minor": 5000000, "currency": "COP"}})),
    );
    assert_eq!(status, 201, "{room}");
    let (status, viewer) = http(
        port,
        "POST",
        "/api/auth/register",
        None,
        Some(json!({"handle": "viewer1", "email": "viewer1@example.com",
                    "password": "correct horse battery"})),
    );
    assert_eq!(status, 201, "{viewer}");
    let id = |value: &serde_json::Value| value.as_str().unwrap().to_owned();
    (id(&performer["id"]), id(&viewer["user"]["id"]))
}

/// The session of a new admin, the `n`th.
fn admin_session(port: u16, n: usize) -> String {
    let (status, admin) = http(
        port,
        "POST",
        "/api/auth/register",
        None,
        Some(
            json!({"handle": format!("staff{n}"), "email": format!("staff{n}@example.com"),
                    "password": "correct horse battery"}),
        ),
    );
    assert_eq!(status, 201, "{admin}");
    let id = admin["user"]["id"].as_str().unwrap();
    let (status, promoted) = http(
        port,
        "POST",
        &format!("/api/admin/users/{id}/role"),
        Some(ADMIN_KEY),
        Some(json!({"role": "admin"})),
    );
    assert_eq!(status, 200, "{promoted}");
    let (status, signed_in) = http(
        port,
        "POST",
        "/api/auth/login",
        None,
        Some(json!({"login": format!("staff{n}"), "password": "correct horse battery"})),
    );
    assert_eq!(status, 200, "{signed_in}");
    signed_in["session_token"].as_str().unwrap().to_owned()
}
