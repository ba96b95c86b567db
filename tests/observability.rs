//! The monitoring shipped under `deploy/` against the service it watches: every series the
//! Prometheus rules and the Grafana dashboard query is one the running binary exports (a
//! renamed metric would otherwise leave an alert silently quiet for ever), every alert has a
//! unit test that fires and one that stays quiet, `promtool` accepts both files, and a real
//! Prometheus scraping a running roomkey reads a token-latency quantile back.
//!
//! `promtool` and `prometheus` come from Debian's `prometheus` package (`.ci/run` installs
//! it); without them those checks say "skipped" and the rest still runs.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod support;

use support::{free_port, http, serve, Server, ADMIN_KEY};

const TOKEN_ROUTE: &str = "/api/rooms/{room}/token";

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Starts roomkey with a paid room and a viewer entitled to it, and asks for `tokens` tokens
/// (plus one refused request), so the token route's histogram has series.
struct Staged {
    server: Server,
    session: String,
    _dir: tempfile::TempDir,
}

fn stage_with_traffic(tokens: usize) -> Staged {
    let dir = tempfile::tempdir().unwrap();
    // The per-user token limit would otherwise refuse the traffic the scrape test drives.
    let server = serve(
        dir.path(),
        &[("ROOMKEY_RATE_LIMIT__TOKEN_PER_MINUTE", "1000000")],
    );
    let port = server.port;
    let (status, viewer) = http(
        port,
        "POST",
        "/api/auth/register",
        None,
        Some(
            json!({"handle": "viewer1", "email": "viewer1@example.com", "password": "correct horse battery"}),
        ),
    );
    assert_eq!(status, 201, "{viewer}");
    let session = viewer["session_token"].as_str().unwrap().to_owned();
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
        Some(
            json!({"name": "show1", "title": "Show", "owner_id": performer["id"], "access": "paid",
            "price": {"amount_minor": 500, "currency": "USD"}}),
        ),
    );
    assert_eq!(status, 201, "{room}");
    let token = "/api/rooms/show1/token";
    assert_eq!(http(port, "POST", token, Some(&session), None).0, 402);
    let (status, _) = http(
        port,
        "POST",
        "/api/admin/entitlements",
        Some(ADMIN_KEY),
        Some(json!({"user_id": viewer["user"]["id"], "scope": {"kind": "room", "room": "show1"}})),
    );
    assert_eq!(status, 201);
    for _ in 0..tokens {
        assert_eq!(http(port, "POST", token, Some(&session), None).0, 200);
    }
    Staged {
        server,
        session,
        _dir: dir,
    }
}

/// The sample names in an exposition: each family's own name and, for a histogram, its
/// `_bucket`, `_sum` and `_count` series, from the `# TYPE` lines (so a series that has no
/// sample yet still counts as exported).
fn exported_names(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').unwrap();
        if kind == "histogram" {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        } else {
            names.insert(name.to_owned());
        }
    }
    names
}

/// Every `roomkey_…` and `roomkey:…` name in a text.
fn referenced_names(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut names = BTreeSet::new();
    let mut at = 0;
    while let Some(found) = text[at..].find("roomkey") {
        let start = at + found;
        let is_word_start =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut end = start + "roomkey".len();
        while end < bytes.len()
            && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_' || bytes[end] == b':')
        {
            end += 1;
        }
        let name = &text[start..end];
        if is_word_start && (name.starts_with("roomkey_") || name.starts_with("roomkey:")) {
            names.insert(name.trim_end_matches(':').to_owned());
        }
        at = end;
    }
    names
}

/// The `record:` names the rules file defines.
fn recorded_names(rules: &str) -> BTreeSet<String> {
    rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- record: "))
        .map(|name| name.trim().to_owned())
        .collect()
}

fn dashboard_exprs(dashboard: &Value) -> Vec<String> {
    let mut exprs = Vec::new();
    let mut stack = vec![dashboard];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("expr", Value::String(expr)) => exprs.push(expr.clone()),
                        ("query", Value::Object(q)) => {
                            if let Some(Value::String(expr)) = q.get("query") {
                                exprs.push(expr.clone());
                            }
                        }
                        _ => stack.push(inner),
                    }
                }
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    exprs
}

#[test]
fn every_series_the_rules_and_the_dashboard_query_is_exported() {
    let staged = stage_with_traffic(3);
    let (status, exposition) = http(staged.server.ops_port, "GET", "/metrics", None, None);
    assert_eq!(status, 200);
    let exposition = exposition.as_str().unwrap().to_owned();
    let exported = exported_names(&exposition);
    assert!(exported.contains("roomkey_outbox_pending"), "{exported:?}");
    assert!(exported.contains("roomkey_ready"), "{exported:?}");
    // The label values the rules and the dashboard select the token path by.
    assert!(exposition.contains(&format!(
        "roomkey_http_request_duration_seconds_bucket{{method=\"POST\",route=\"{TOKEN_ROUTE}\",outcome=\"success\",le=\"0.025\"}}"
    )));
    assert!(exposition.contains("roomkey_outbox_pending{outbox=\"matrix\"} 0"));
    assert!(exposition.contains("roomkey_outbox_pending{outbox=\"mastodon\"} 0"));
    assert!(exposition.contains("roomkey_outbox_pending{outbox=\"oidc_logout\"} 0"));
    assert!(exposition.contains("roomkey_oidc_backchannel_logouts_total{outcome=\"delivered\"} 0"));
    assert!(exposition.contains("roomkey_ready 1"));

    let rules = read(&deploy("prometheus/roomkey.rules.yml"));
    let recorded = recorded_names(&rules);
    assert!(recorded.len() > 10, "{recorded:?}");
    let dashboard: Value =
        serde_json::from_str(&read(&deploy("grafana/roomkey.json"))).expect("dashboard JSON");
    let exprs = dashboard_exprs(&dashboard);
    assert!(exprs.len() > 20, "{exprs:?}");

    let sources = [
        ("deploy/prometheus/roomkey.rules.yml", rules),
        ("deploy/grafana/roomkey.json", exprs.join("\n")),
    ];
    for (file, text) in sources {
        let names = referenced_names(&text);
        assert!(names.len() > 10, "{file}: {names:?}");
        let unknown: Vec<_> = names
            .iter()
            .filter(|name| !exported.contains(*name) && !recorded.contains(*name))
            .collect();
        assert!(
            unknown.is_empty(),
            "{file} queries series roomkey does not export: {unknown:?}"
        );
    }
}

/// Alert name → (has a case where it fires, has a case where it stays quiet).
fn alert_cases(tests: &str) -> std::collections::BTreeMap<String, (bool, bool)> {
    let mut cases = std::collections::BTreeMap::<String, (bool, bool)>::new();
    let mut current: Option<String> = None;
    for line in tests.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("alertname: ") {
            current = Some(name.to_owned());
        } else if let Some(expected) = line.strip_prefix("exp_alerts:") {
            let name = current.take().expect("exp_alerts after an alertname");
            let entry = cases.entry(name).or_default();
            if expected.trim() == "[]" {
                entry.1 = true;
            } else {
                entry.0 = true;
            }
        }
    }
    cases
}

#[test]
fn every_alert_has_a_firing_and_a_quiet_unit_test() {
    let rules = read(&deploy("prometheus/roomkey.rules.yml"));
    let alerts: BTreeSet<String> = rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
        .map(|name| name.trim().to_owned())
        .collect();
    assert!(alerts.len() >= 10, "{alerts:?}");
    let cases = alert_cases(&read(&deploy("prometheus/roomkey.rules.test.yml")));
    for alert in &alerts {
        assert_eq!(
            cases.get(alert),
            Some(&(true, true)),
            "{alert}: needs a case where it fires and one where it stays quiet"
        );
    }
    let stale: Vec<_> = cases
        .keys()
        .filter(|name| !alerts.contains(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "tests for alerts that do not exist: {stale:?}"
    );
}

fn on_path(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[test]
fn promtool_checks_the_rules_and_runs_their_unit_tests() {
    if !on_path("promtool") {
        eprintln!("skipped: promtool is not on PATH (Debian: apt-get install prometheus)");
        return;
    }
    for args in [
        ["check", "rules", "roomkey.rules.yml"],
        ["test", "rules", "roomkey.rules.test.yml"],
    ] {
        let output = Command::new("promtool")
            .args(args)
            .current_dir(deploy("prometheus"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "promtool {args:?}:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

struct Prometheus(std::process::Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The body of a GET answered by Prometheus' HTTP API (plain or chunked).
fn prometheus_get(port: u16, path_and_query: &str) -> Option<Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request =
        format!("GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut joined = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            if size == 0 {
                break;
            }
            joined.push_str(&after[..size]);
            rest = &after[size + 2..];
        }
        joined
    } else {
        body.to_owned()
    };
    serde_json::from_str(&body).ok()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_real_prometheus_reads_the_token_latency_back() {
    if !on_path("prometheus") {
        eprintln!("skipped: prometheus is not on PATH (Debian: apt-get install prometheus)");
        return;
    }
    let staged = stage_with_traffic(40);
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [{rules}]\n\
             scrape_configs:\n  - job_name: roomkey\n    static_configs:\n      - targets: ['127.0.0.1:{ops}']\n",
            rules = deploy("prometheus/roomkey.rules.yml").display(),
            ops = staged.server.ops_port
        ),
    )
    .unwrap();
    let port = free_port();
    // Prometheus refuses to start on rules it cannot load, so answering at all also proves
    // the shipped rules load in the real server.
    let _prometheus = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                work.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // More traffic between scrapes, so the rate over the window is not zero.
    let query = format!(
        "histogram_quantile(0.99, sum by (le) (rate(roomkey_http_request_duration_seconds_bucket{{method=\"POST\",route=\"{TOKEN_ROUTE}\"}}[30s])))"
    );
    let path = format!("/api/v1/query?query={}", percent_encode(&query));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for _ in 0..10 {
            let (status, _) = http(
                staged.server.port,
                "POST",
                "/api/rooms/show1/token",
                Some(&staged.session),
                None,
            );
            assert_eq!(status, 200);
        }
        let answer = prometheus_get(port, &path);
        let quantile = answer.as_ref().and_then(|answer| {
            let value = answer["data"]["result"][0]["value"][1].as_str()?;
            value.parse::<f64>().ok().filter(|v| v.is_finite())
        });
        if let Some(seconds) = quantile {
            assert!(
                seconds > 0.0 && seconds <= 2.5,
                "p99 {seconds} s read back from Prometheus"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never answered a token-latency quantile: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
