//! Running the real `roomkey` binary and talking to it over TCP, and skipping a test
//! whose backend or outside server this machine lacks.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses part of the support code"
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const ADMIN_KEY: &str = "cli-admin-key-0123456789abcdef";

/// Set to `1` where every test must run (CI): a test that would skip fails instead. Not
/// `ROOMKEY_…`: roomkey takes every `ROOMKEY_` variable for configuration and refuses the
/// ones it does not know, and the servers the tests start inherit the environment.
pub const REQUIRE_ALL: &str = "TEST_REQUIRE_ALL";

/// Skips `test`, which needs `what`: a `SKIPPED:` line on stderr, written past the test
/// harness's capture so that a skip never passes unseen; a failure under
/// `TEST_REQUIRE_ALL=1`.
pub fn skip(test: &str, what: &str) {
    assert!(
        std::env::var(REQUIRE_ALL).as_deref() != Ok("1"),
        "SKIPPED: {test} needs {what}, and {REQUIRE_ALL}=1 refuses skips"
    );
    say_skipped(test, what);
}

/// The `SKIPPED:` line alone, for the one skip that `TEST_REQUIRE_ALL=1` lets pass
/// (see `tests/prosody.rs`).
pub fn say_skipped(test: &str, what: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test} needs {what}");
}

/// The environment variable `var`, or `None` once `test` is skipped for lack of it
/// (unset or empty).
pub fn require_or_skip(var: &str, test: &str) -> Option<std::ffi::OsString> {
    let value = std::env::var_os(var).filter(|value| !value.is_empty());
    if value.is_none() {
        skip(test, var);
    }
    value
}

/// Whether all of `vars` are set; if not, `test` is skipped, naming the ones missing.
pub fn require_all_or_skip(vars: &[&str], test: &str) -> bool {
    let missing: Vec<&str> = vars
        .iter()
        .copied()
        .filter(|var| std::env::var_os(var).is_none_or(|value| value.is_empty()))
        .collect();
    if !missing.is_empty() {
        skip(test, &missing.join(" and "));
    }
    missing.is_empty()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn roomkey(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roomkey"));
    command
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub ops_port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(dir: &Path, extra: &[(&str, &str)]) -> Server {
    let port = extra
        .iter()
        .find(|(key, _)| *key == "ROOMKEY_HTTP__LISTEN")
        .and_then(|(_, value)| value.rsplit(':').next()?.parse().ok())
        .unwrap_or_else(free_port);
    let ops = free_port();
    let mut command = roomkey(dir);
    command
        .arg("serve")
        .env("ROOMKEY_HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("ROOMKEY_HTTP__OPS_LISTEN", format!("127.0.0.1:{ops}"))
        .env("ROOMKEY_AUTH__ADMIN_KEYS", format!("[\"{ADMIN_KEY}\"]"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in extra {
        command.env(key, value);
    }
    let server = Server {
        child: command.spawn().unwrap(),
        port,
        ops_port: ops,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("roomkey did not start listening");
}

/// One HTTP/1.1 exchange over a fresh connection; returns (status, JSON body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    if let Some(token) = bearer {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
    )
}

/// Runs the harness `tests/prosody/<script>` against the real roomkey binary and a real
/// Prosody: roomkey on its own SQLite file without Redis, or, with `shared_backends`, on
/// the PostgreSQL and Redis at `TEST_DATABASE_URL` and `TEST_REDIS_URL`; the clients over
/// `transport` (`bosh` or `websocket`) when the script takes one. Exit 77 (no Prosody) is a
/// skip; any other failure panics with the harness's report.
pub fn run_prosody_harness(
    script: &str,
    test: &str,
    shared_backends: bool,
    transport: Option<&str>,
) {
    let mut command = Command::new("python3");
    command
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/prosody")
                .join(script),
        )
        .arg("--roomkey")
        .arg(env!("CARGO_BIN_EXE_roomkey"))
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL");
    if let Some(transport) = transport {
        command.args(["--transport", transport]);
    }
    if !shared_backends {
        command
            .env_remove("TEST_DATABASE_URL")
            .env_remove("TEST_REDIS_URL");
    }
    let output = command.output().expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => eprintln!("{stderr}"),
        Some(77) => skip(test, &format!("Prosody and its Lua libraries\n{stderr}")),
        code => panic!(
            "{script} failed ({code:?}):\n{}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        ),
    }
}
