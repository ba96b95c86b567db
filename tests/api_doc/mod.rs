//! `docs/api.md` read as a script: its ` ```http ` blocks are requests and the answers
//! expected to them (the page's opening section says how to read them), its ` ```toml `
//! block the configuration they run with. `replay` sends each request to a running roomkey
//! and compares each answer with the page's.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

/// One request of the page, with the answer written after it.
pub(crate) struct Exchange {
    pub(crate) request: String,
    pub(crate) status: u16,
    pub(crate) answer: Value,
    /// Where the request starts in the page, for failure messages.
    pub(crate) line: usize,
}

/// The page's fenced blocks of language `lang`, each with the line it starts on.
fn blocks(page: &str, lang: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut open: Option<(usize, bool, String)> = None;
    for (n, line) in page.lines().enumerate() {
        match &mut open {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some((n + 2, info.trim() == lang, String::new()));
                }
            }
            Some((start, wanted, text)) => {
                if line.starts_with("```") {
                    if *wanted {
                        found.push((*start, std::mem::take(text)));
                    }
                    open = None;
                } else {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "docs/api.md: a fenced block is not closed");
    found
}

/// The page's configuration block.
pub(crate) fn config(page: &str) -> String {
    let toml = blocks(page, "toml");
    assert_eq!(toml.len(), 1, "docs/api.md has one ```toml block");
    toml[0].1.clone()
}

/// The first string in the list of `key = [...]` in the configuration.
pub(crate) fn setting(config: &str, key: &str) -> String {
    let line = config
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{key} =")))
        .unwrap_or_else(|| panic!("the configuration sets {key}"));
    line.split('"').nth(1).unwrap().to_owned()
}

/// The requests and their answers, in the page's order.
pub(crate) fn exchanges(page: &str) -> Vec<Exchange> {
    let mut out: Vec<Exchange> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (line, text) in blocks(page, "http") {
        if let Some(rest) = text.strip_prefix("HTTP/1.1 ") {
            let (request_line, request) = pending
                .take()
                .unwrap_or_else(|| panic!("docs/api.md:{line}: an answer without a request"));
            let (status_line, body) = rest.split_once('\n').unwrap_or((rest, ""));
            let status = status_line[..3].parse().unwrap();
            let answer = serde_json::from_str(body.trim())
                .unwrap_or_else(|e| panic!("docs/api.md:{line}: the answer is not JSON: {e}"));
            out.push(Exchange {
                request,
                status,
                answer,
                line: request_line,
            });
        } else {
            assert!(
                pending.is_none(),
                "docs/api.md:{line}: the request before this one has no answer"
            );
            pending = Some((line, text));
        }
    }
    assert!(
        pending.is_none(),
        "docs/api.md: the last request has no answer"
    );
    out
}

/// Sends each exchange's request to `port` and checks its answer; `secret` signs the
/// Standard Webhooks deliveries.
pub(crate) fn replay(exchanges: &[Exchange], port: u16, secret: &str) {
    let mut captured: HashMap<String, String> = HashMap::new();
    for exchange in exchanges {
        let at = format!("docs/api.md:{}", exchange.line);
        let request = fill(&exchange.request, &captured, &at);
        let (status, body) = send(port, &request, secret);
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::String(body.clone()));
        assert_eq!(
            status,
            exchange.status,
            "{at}: {}\nanswered {status} {answer:#}",
            request.lines().next().unwrap()
        );
        let mut kept = HashMap::new();
        if let Err(problem) = compare(&exchange.answer, &answer, &captured, &mut kept, "") {
            panic!(
                "{at}: {}: {problem}\nthe answer was {answer:#}",
                request.lines().next().unwrap()
            );
        }
        captured.extend(kept);
    }
}

/// The request with `{{name}}` replaced by what was kept under `name`, and `{{now}}` by
/// the time.
fn fill(request: &str, captured: &HashMap<String, String>, at: &str) -> String {
    let mut out = String::new();
    let mut rest = request;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").unwrap() + start;
        let name = &rest[start + 2..end];
        match name {
            "now" => out.push_str(&now().to_string()),
            // Signed once the rest of the request is known.
            "webhook_signature" => out.push_str("{{webhook_signature}}"),
            _ => out.push_str(
                captured
                    .get(name)
                    .unwrap_or_else(|| panic!("{at}: nothing was kept as {name}")),
            ),
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn now() -> u64 {
    std::time::UNIX_EPOCH.elapsed().unwrap().as_secs()
}

/// Sends `request` (the page's text: request line, headers, blank line, body) and returns
/// the status and the body.
fn send(port: u16, request: &str, secret: &str) -> (u16, String) {
    let (head, body) = request.split_once("\n\n").unwrap_or((request, ""));
    let body = body.trim_end();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let headers: Vec<(&str, &str)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim(), value.trim())
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    let mut text = format!(
        "{request_line} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in &headers {
        let value = if value.contains("{{webhook_signature}}") {
            let signed = format!(
                "{}.{}.{body}",
                header("webhook-id").unwrap(),
                header("webhook-timestamp").unwrap()
            );
            value.replace("{{webhook_signature}}", &sign(secret, &signed))
        } else {
            (*value).to_owned()
        };
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(text.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (status, body.to_owned())
}

/// Standard Webhooks: base64 of HMAC-SHA256 under the decoded secret.
fn sign(secret: &str, signed: &str) -> String {
    use hmac::Mac as _;
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `actual` is what the page wrote (`expected`), with placeholders and kept
/// values (`captured`); the values placeholders keep go into `kept`.
fn compare(
    expected: &Value,
    actual: &Value,
    captured: &HashMap<String, String>,
    kept: &mut HashMap<String, String>,
    at: &str,
) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for key in got.keys() {
                if !want.contains_key(key) {
                    return Err(format!("{at}.{key} is in the answer, not in the page"));
                }
            }
            for (key, value) in want {
                let Some(real) = got.get(key) else {
                    return Err(format!("{at}.{key} is in the page, not in the answer"));
                };
                compare(value, real, captured, kept, &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(got)) if want.len() == got.len() => want
            .iter()
            .zip(got)
            .enumerate()
            .try_for_each(|(n, (w, g))| compare(w, g, captured, kept, &format!("{at}[{n}]"))),
        (Value::String(want), Value::String(got)) => {
            string(want, got, captured, kept).map_err(|why| format!("{at}: {why}"))
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!(
            "{at}: the page says {expected}, the answer {actual}"
        )),
    }
}

/// A string of the page: literal text, `{{name}}` (a kept value) and `<kind>` or
/// `<kind:name>` placeholders.
fn string(
    want: &str,
    got: &str,
    captured: &HashMap<String, String>,
    kept: &mut HashMap<String, String>,
) -> Result<(), String> {
    let mismatch = || format!("the page says {want:?}, the answer {got:?}");
    let mut pattern = want.to_owned();
    while let Some(start) = pattern.find("{{") {
        let end = pattern[start..].find("}}").unwrap() + start;
        let name = &pattern[start + 2..end];
        let value = captured
            .get(name)
            .ok_or_else(|| format!("nothing was kept as {name}"))?;
        pattern.replace_range(start..end + 2, value);
    }
    let mut rest = got;
    let mut pieces = pattern.split('<');
    let first = pieces.next().unwrap();
    rest = rest.strip_prefix(first).ok_or_else(mismatch)?;
    let mut parts = pieces.peekable();
    while let Some(part) = parts.next() {
        let (placeholder, literal) = part.split_once('>').ok_or_else(mismatch)?;
        let (kind, name) = placeholder
            .split_once(':')
            .map_or((placeholder, None), |(k, n)| (k, Some(n)));
        let value = if parts.peek().is_none() && literal.is_empty() {
            std::mem::take(&mut rest)
        } else {
            let end = if literal.is_empty() {
                rest.len()
            } else {
                rest.find(literal).ok_or_else(mismatch)?
            };
            let value = &rest[..end];
            rest = &rest[end + literal.len()..];
            value
        };
        if !is_a(kind, value)? {
            return Err(format!("{value:?} is not a <{kind}> ({})", mismatch()));
        }
        if let Some(name) = name {
            kept.insert(name.to_owned(), value.to_owned());
        }
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(mismatch())
    }
}

/// Whether `value` is of the placeholder's kind.
fn is_a(kind: &str, value: &str) -> Result<bool, String> {
    let token_char = |c: char| c.is_ascii_alphanumeric() || "-_.~+/=".contains(c);
    Ok(match kind {
        "id" => {
            !value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        "token" => !value.is_empty() && value.chars().all(token_char),
        "jwt" => {
            value.split('.').count() == 3
                && value
                    .split('.')
                    .all(|part| !part.is_empty() && part.chars().all(token_char))
        }
        "timestamp" => {
            time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
                .is_ok()
        }
        "text" => true,
        _ => return Err(format!("the page uses an unknown placeholder <{kind}>")),
    })
}
