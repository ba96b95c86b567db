//! The OpenID Provider's scenarios: `oidc-code`, a relying party exchanging a fresh code
//! for tokens (`POST /oidc/token`, client_secret_basic, PKCE S256, as Synapse does it), and
//! `oidc-userinfo`, `GET /oidc/userinfo` with an access token.
//!
//! A code is single-use, so the codes are minted before the scenario runs, through the
//! real authorization endpoint (a signed-in viewer's browser session cookie, a first-party
//! client: one redirect with the code), each exchanged once during the run, as the
//! webhook scenarios send each confirmation once. The access tokens for userinfo come from
//! exchanging some of those codes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use base64::Engine as _;
use sha2::Digest as _;

use crate::{find, progress, Connection};

const CLIENT_ID: &str = "bench-rp";
const CLIENT_SECRET: &str = "bench-relying-party-secret-0123456789abcdef";
const REDIRECT_URI: &str = "http://127.0.0.1:9/oidc-callback";
const VERIFIER: &str = "bench-pkce-verifier-0123456789abcdef0123456789abcdef";
/// Access tokens minted for `oidc-userinfo`, used in turn.
const ACCESS_TOKENS: usize = 1_000;

/// What the OIDC scenarios send, minted once per run.
pub(crate) struct OidcPlan {
    /// Complete `POST /oidc/token` requests, each with its own code, each sent once.
    pub(crate) exchanges: Vec<Vec<u8>>,
    /// The next unsent exchange, shared by every worker.
    pub(crate) next_exchange: AtomicUsize,
    /// `GET /oidc/userinfo … Authorization: Bearer …\r\n` (the plan's tail ends them).
    pub(crate) userinfo: Vec<Vec<u8>>,
}

/// The per-address limit of the provider's endpoints, lifted: every request of the
/// benchmark comes from one address, and it measures the endpoints, not the limiter.
const UNLIMITED: u32 = 1_000_000_000;

/// Writes the configuration that registers the benchmark's relying party (a confidential,
/// first-party client) and returns its path, for `ROOMKEY_CONFIG`.
pub(crate) async fn config_file(work_dir: &Path) -> anyhow::Result<PathBuf> {
    let secret_hash = roomkey::identity::password::hash(CLIENT_SECRET.to_owned()).await?;
    let path = work_dir.join("roomkey-oidc.toml");
    let text = format!(
        "[oidc]\ncode_ttl_secs = 600\nrequests_per_minute = {UNLIMITED}\n\n\
         [[oidc.clients]]\nid = \"{CLIENT_ID}\"\n\
         name = \"Benchmark\"\nsecret_hash = \"{secret_hash}\"\n\
         redirect_uris = [\"{REDIRECT_URI}\"]\nfirst_party = true\n"
    );
    std::fs::write(&path, text).context("write the OIDC configuration")?;
    Ok(path)
}

/// Mints `count` codes for the viewers whose session tokens are given (in turn), over
/// `connections` connections, and builds the exchanges and userinfo requests.
pub(crate) async fn mint(
    addr: SocketAddr,
    sessions: &[String],
    count: usize,
    connections: usize,
) -> anyhow::Result<OidcPlan> {
    progress(format_args!(
        "minting {count} authorization codes through /oidc/authorize…"
    ));
    let started = std::time::Instant::now();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
    let authorize = Arc::new(
        sessions
            .iter()
            .map(|session| {
                format!(
                    "GET /oidc/authorize?response_type=code&client_id={CLIENT_ID}\
                     &redirect_uri={}&scope=openid%20profile%20email&state=s&nonce=n\
                     &code_challenge={challenge}&code_challenge_method=S256 HTTP/1.1\r\n\
                     Host: 127.0.0.1\r\nCookie: roomkey_session={session}\r\n\r\n",
                    percent_encoding::utf8_percent_encode(
                        REDIRECT_URI,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                )
                .into_bytes()
            })
            .collect::<Vec<_>>(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..connections.max(1))
        .map(|_| {
            let (authorize, next) = (authorize.clone(), next.clone());
            tokio::spawn(async move {
                let mut connection = Connection::new(addr);
                let mut codes = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        return Ok::<_, anyhow::Error>(codes);
                    }
                    connection.request.clear();
                    connection
                        .request
                        .extend_from_slice(&authorize[n % authorize.len()]);
                    codes.push(code_from_redirect(&mut connection).await?);
                }
            })
        })
        .collect();
    let mut codes = Vec::with_capacity(count);
    for task in tasks {
        codes.extend(task.await??);
    }
    let mut exchanges: Vec<Vec<u8>> = codes.iter().map(|code| exchange(code)).collect();
    // The userinfo scenario's access tokens: the last codes, exchanged now.
    let mut connection = Connection::new(addr);
    let mut userinfo = Vec::new();
    while userinfo.len() < ACCESS_TOKENS.min(exchanges.len() / 2) {
        let request = exchanges.pop().expect("more than half remain");
        connection.request.clear();
        connection.request.extend_from_slice(&request);
        let answer = connection.round_trip().await?;
        let body: serde_json::Value = serde_json::from_slice(connection.body(&answer))
            .with_context(|| format!("token endpoint answered {}", answer.status))?;
        let token = body["access_token"]
            .as_str()
            .with_context(|| format!("no access token in {body}"))?;
        userinfo.push(
            format!("GET /oidc/userinfo HTTP/1.1\r\nAuthorization: Bearer {token}\r\n")
                .into_bytes(),
        );
    }
    progress(format_args!(
        "  {} codes and {} access tokens in {:.1} s",
        exchanges.len(),
        userinfo.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(OidcPlan {
        exchanges,
        next_exchange: AtomicUsize::new(0),
        userinfo,
    })
}

/// Sends the authorization request in `connection` and reads the code off the redirect.
async fn code_from_redirect(connection: &mut Connection) -> anyhow::Result<String> {
    let answer = connection.round_trip().await?;
    let head = &connection.response[..answer.body.start];
    if answer.status != 302 && answer.status != 303 {
        bail!(
            "/oidc/authorize answered {}: {}",
            answer.status,
            String::from_utf8_lossy(connection.body(&answer))
        );
    }
    let at = find(head, b"code=").context("the redirect carries no code")?;
    let code: Vec<u8> = head[at + 5..]
        .iter()
        .take_while(|b| !matches!(b, b'&' | b'\r' | b'\n'))
        .copied()
        .collect();
    Ok(String::from_utf8(code)?)
}

/// The relying party's exchange of `code`, complete with its body.
fn exchange(code: &str) -> Vec<u8> {
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        percent_encoding::utf8_percent_encode(REDIRECT_URI, percent_encoding::NON_ALPHANUMERIC)
    );
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    format!(
        "POST /oidc/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {credentials}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
