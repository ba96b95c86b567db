//! The authorization request (OpenID Connect Core §3.1.2.1), checked in the order that
//! keeps it from becoming an open redirect: first the client and its exact redirect URI —
//! until both are known good, every refusal is a page of roomkey's own — and only then
//! the rest, whose refusals go back to that URI with `error` and `state`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::clients::{Client, Clients};
use crate::clock::UnixSeconds;

/// What a valid request asks for.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub client: Arc<Client>,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 challenge, when PKCE is used.
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Sign in only if needed.
    Default,
    /// Never show a page: answer at once, with an error if the user must act.
    None,
    /// Sign in again even with a session.
    Login,
    /// Ask for consent again even if the user approved this client before.
    Consent,
}

/// Why a request is refused, and where the refusal goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The client or its redirect URI cannot be trusted: roomkey's own error page, never a
    /// redirect.
    Page { description: &'static str },
    /// Back to the client's registered redirect URI (this URL).
    Redirect { location: String },
}

/// What the signed-in (or not) browser needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    SignIn,
    Consent,
    IssueCode,
}

/// The longest `state` or `nonce` kept: they come back in URLs and tokens.
const MAX_ROUND_TRIP: usize = 512;

fn param<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

impl AuthorizeRequest {
    /// Parses and checks the request's parameters.
    pub fn parse(
        clients: &Clients,
        issuer: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<Self, Refusal> {
        let client = param(params, "client_id")
            .and_then(|id| clients.get(id))
            .ok_or(Refusal::Page {
                description: "unknown client",
            })?;
        let redirect_uri = param(params, "redirect_uri")
            .filter(|uri| client.redirect_uris.iter().any(|known| known == uri))
            .ok_or(Refusal::Page {
                description: "the redirect URI is not one registered for this client",
            })?
            .to_owned();
        let state = param(params, "state").map(str::to_owned);
        let refuse = |error: &str, description: &str| Refusal::Redirect {
            location: error_location(&redirect_uri, issuer, error, description, state.as_deref()),
        };
        if param(params, "request").is_some() || param(params, "request_uri").is_some() {
            return Err(refuse(
                "request_not_supported",
                "request objects are not supported",
            ));
        }
        if param(params, "response_type") != Some("code") {
            return Err(refuse(
                "unsupported_response_type",
                "only the authorization code flow (response_type=code) is supported",
            ));
        }
        let scopes: Vec<String> = param(params, "scope")
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(refuse("invalid_scope", "the openid scope is required"));
        }
        if scopes.iter().any(|s| !client.scopes.contains(s)) {
            return Err(refuse(
                "invalid_scope",
                "a scope this client may not ask for",
            ));
        }
        let code_challenge = match (
            param(params, "code_challenge"),
            param(params, "code_challenge_method"),
        ) {
            (Some(challenge), Some("S256")) if is_s256_challenge(challenge) => {
                Some(challenge.to_owned())
            }
            (Some(_), _) => {
                return Err(refuse(
                    "invalid_request",
                    "code_challenge must be an S256 challenge with code_challenge_method=S256",
                ))
            }
            (None, Some(_)) => return Err(refuse("invalid_request", "code_challenge is missing")),
            (None, None) if client.secret_hash.is_none() => {
                return Err(refuse(
                    "invalid_request",
                    "a public client must use PKCE (code_challenge_method=S256)",
                ))
            }
            (None, None) => None,
        };
        let prompt = match param(params, "prompt") {
            None => Prompt::Default,
            Some("none") => Prompt::None,
            Some("login") => Prompt::Login,
            Some("consent") => Prompt::Consent,
            Some(_) => {
                return Err(refuse(
                    "invalid_request",
                    "prompt must be none, login or consent (select_account is not offered)",
                ))
            }
        };
        let max_age = match param(params, "max_age") {
            None => None,
            Some(text) => match text.parse::<i64>() {
                Ok(secs) if secs >= 0 => Some(secs),
                _ => return Err(refuse("invalid_request", "max_age must be whole seconds")),
            },
        };
        let nonce = param(params, "nonce").map(str::to_owned);
        let too_long =
            |value: &Option<String>| value.as_ref().is_some_and(|v| v.len() > MAX_ROUND_TRIP);
        if too_long(&state) || too_long(&nonce) {
            return Err(refuse(
                "invalid_request",
                "state and nonce are at most 512 bytes",
            ));
        }
        Ok(Self {
            client: client.clone(),
            redirect_uri,
            scopes,
            state,
            nonce,
            code_challenge,
            prompt,
            max_age,
        })
    }

    /// What comes next for a browser whose roomkey sign-in happened at `auth_time` (or
    /// that has none), per `prompt` and `max_age` (Core §3.1.2.1, §3.1.2.3), for a user who
    /// has (`remembered`) or has not approved this client for these scopes before.
    pub fn next_step(
        &self,
        issuer: &str,
        auth_time: Option<UnixSeconds>,
        now: UnixSeconds,
        remembered: bool,
    ) -> Result<NextStep, Refusal> {
        let fresh_enough =
            auth_time.is_some_and(|at| self.max_age.is_none_or(|max| now - at <= max));
        let must_sign_in = !fresh_enough || self.prompt == Prompt::Login;
        if must_sign_in {
            return match self.prompt {
                Prompt::None => {
                    Err(self.refuse(issuer, "login_required", "the user is not signed in"))
                }
                _ => Ok(NextStep::SignIn),
            };
        }
        // The platform's own clients never ask; a remembered approval answers unless the
        // client asks for the question again.
        if self.client.first_party || (remembered && self.prompt != Prompt::Consent) {
            return Ok(NextStep::IssueCode);
        }
        match self.prompt {
            Prompt::None => Err(self.refuse(
                issuer,
                "consent_required",
                "the user has not approved this client",
            )),
            _ => Ok(NextStep::Consent),
        }
    }

    /// A refusal sent back to the client.
    pub fn refuse(&self, issuer: &str, error: &str, description: &str) -> Refusal {
        Refusal::Redirect {
            location: error_location(
                &self.redirect_uri,
                issuer,
                error,
                description,
                self.state.as_deref(),
            ),
        }
    }

    /// The client's redirect URI with `code`, `state` and `iss` (RFC 9207).
    pub fn success_location(&self, issuer: &str, code: &str) -> String {
        let mut pairs = vec![("code", code), ("iss", issuer)];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        with_query(&self.redirect_uri, &pairs)
    }
}

/// The authorization request's parameters again, for the sign-in and consent forms to
/// carry back: `prompt=login` is dropped, since the sign-in it asked for is the one the
/// form performs.
pub fn return_query(params: &BTreeMap<String, String>) -> String {
    let kept: Vec<(&str, &str)> = params
        .iter()
        .filter(|(key, value)| *key != "prompt" || *value != "login")
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    encode_pairs(&kept)
}

fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

fn error_location(
    redirect_uri: &str,
    issuer: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> String {
    let mut pairs = vec![
        ("error", error),
        ("error_description", description),
        ("iss", issuer),
    ];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    with_query(redirect_uri, &pairs)
}

/// `uri` with `pairs` appended to its query, keeping any query it has (RFC 6749 §3.1.2).
pub fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{}", encode_pairs(pairs))
}

fn encode_pairs(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).expect("string pairs always encode")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OidcClientConfig;

    const ISSUER: &str = "https://id.example.com";
    const NOW: UnixSeconds = 1_800_000_000;

    fn clients(first_party: bool) -> Clients {
        Clients::new(&[OidcClientConfig {
            id: "rp".into(),
            name: String::new(),
            secret_hash: None,
            redirect_uris: vec!["https://rp.example.com/cb?tenant=1".into()],
            post_logout_redirect_uris: vec![],
            scopes: vec!["openid".into(), "email".into()],
            backchannel_logout_uri: None,
            first_party,
        }])
    }

    fn params(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut params: BTreeMap<String, String> = [
            ("client_id", "rp"),
            ("redirect_uri", "https://rp.example.com/cb?tenant=1"),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "s"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (key, value) in extra {
            params.insert((*key).to_owned(), (*value).to_owned());
        }
        params
    }

    fn step(
        first_party: bool,
        extra: &[(&str, &str)],
        auth_time: Option<UnixSeconds>,
    ) -> Result<NextStep, String> {
        remembered_step(first_party, extra, auth_time, false)
    }

    fn remembered_step(
        first_party: bool,
        extra: &[(&str, &str)],
        auth_time: Option<UnixSeconds>,
        remembered: bool,
    ) -> Result<NextStep, String> {
        let request =
            AuthorizeRequest::parse(&clients(first_party), ISSUER, &params(extra)).unwrap();
        request
            .next_step(ISSUER, auth_time, NOW, remembered)
            .map_err(|refusal| match refusal {
                Refusal::Redirect { location } => location,
                Refusal::Page { description } => description.to_owned(),
            })
    }

    #[test]
    fn prompt_and_max_age_decide_the_next_step() {
        assert_eq!(step(true, &[], None), Ok(NextStep::SignIn));
        assert_eq!(step(true, &[], Some(NOW - 5)), Ok(NextStep::IssueCode));
        assert_eq!(step(false, &[], Some(NOW - 5)), Ok(NextStep::Consent));
        assert_eq!(
            step(true, &[("prompt", "login")], Some(NOW)),
            Ok(NextStep::SignIn)
        );
        assert_eq!(
            step(true, &[("max_age", "60")], Some(NOW - 61)),
            Ok(NextStep::SignIn)
        );
        assert_eq!(
            step(true, &[("max_age", "60")], Some(NOW - 60)),
            Ok(NextStep::IssueCode)
        );
        let refused = step(true, &[("prompt", "none")], None).unwrap_err();
        assert!(
            refused.contains("error=login_required") && refused.contains("state=s"),
            "{refused}"
        );
        let refused = step(false, &[("prompt", "none")], Some(NOW)).unwrap_err();
        assert!(refused.contains("error=consent_required"), "{refused}");
        // A registered URI with a query keeps it.
        assert!(
            refused.starts_with("https://rp.example.com/cb?tenant=1&error="),
            "{refused}"
        );
    }

    #[test]
    fn a_remembered_approval_skips_consent_unless_prompt_asks_for_it() {
        let at = Some(NOW - 5);
        assert_eq!(
            remembered_step(false, &[], at, true),
            Ok(NextStep::IssueCode)
        );
        assert_eq!(
            remembered_step(false, &[("prompt", "none")], at, true),
            Ok(NextStep::IssueCode)
        );
        assert_eq!(
            remembered_step(false, &[("prompt", "consent")], at, true),
            Ok(NextStep::Consent)
        );
        // The platform's own clients never ask.
        assert_eq!(
            remembered_step(true, &[("prompt", "consent")], at, false),
            Ok(NextStep::IssueCode)
        );
    }

    #[test]
    fn the_client_and_redirect_uri_are_checked_before_anything_redirects() {
        let parse = |extra: &[(&str, &str)]| {
            AuthorizeRequest::parse(&clients(true), ISSUER, &params(extra))
        };
        assert!(matches!(
            parse(&[("client_id", "other")]),
            Err(Refusal::Page { .. })
        ));
        assert!(matches!(
            parse(&[
                ("redirect_uri", "https://rp.example.com/cb"),
                ("response_type", "token")
            ]),
            Err(Refusal::Page { .. })
        ));
        assert!(matches!(
            parse(&[("scope", "openid profile")]),
            Err(Refusal::Redirect { .. })
        ));
        assert!(matches!(
            parse(&[("code_challenge", "short")]),
            Err(Refusal::Redirect { .. })
        ));
        assert!(matches!(
            parse(&[("max_age", "-1")]),
            Err(Refusal::Redirect { .. })
        ));
        assert!(parse(&[("scope", "openid email")]).is_ok());
    }

    #[test]
    fn the_return_query_drops_prompt_login_only() {
        let query = return_query(&params(&[("prompt", "login")]));
        assert!(!query.contains("prompt"));
        assert!(return_query(&params(&[("prompt", "none")])).contains("prompt=none"));
    }
}
