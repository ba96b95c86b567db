//! Jitsi JWTs: the claims stock Prosody token auth checks, signed, and optionally reused.
//!
//! Claim rules (jitsi-meet `token/util.lib.lua`, `luajwtjitsi`): `typ` exactly "JWT";
//! `iss` = the app id; `aud` a single string; `sub` = the XMPP domain or tenant; `room`
//! the canonical room node; `nbf` set a little in the past because Prosody allows no clock
//! skew; `exp` = min(now + TTL, end of the entitlement); `context.user.moderator` as the
//! strings "true"/"false" plus `affiliation` "owner"/"member", which is what
//! `mod_token_affiliation` reads.
//!
//! RS256 signing costs hundreds of microseconds, so a signed token can be handed out again
//! to the same user for the same room while it is still fresh — but only when everything
//! that shaped it is unchanged: signing key, moderator flag, entitlement end, profile. The
//! access decision runs before every reuse, so a ban or revocation still refuses at once,
//! and a reused token never outlives the entitlement that allowed it.

use std::sync::Arc;

use serde::Serialize;

use super::jwt::Signer;
use super::keys::Keyring;
use crate::access::{Grant, Profile};
use crate::cache::local::LocalCache;
use crate::clock::UnixSeconds;
use crate::domain::Room;

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    room: &'a str,
    iat: UnixSeconds,
    nbf: UnixSeconds,
    exp: UnixSeconds,
    jti: &'a str,
    context: Context<'a>,
}

#[derive(Serialize)]
struct Context<'a> {
    user: ContextUser<'a>,
}

/// Only strings: lib-jitsi-meet throws on numbers or nulls in `context.user`.
#[derive(Serialize)]
struct ContextUser<'a> {
    id: &'a str,
    name: &'a str,
    email: &'a str,
    avatar: &'a str,
    moderator: &'static str,
    affiliation: &'static str,
    /// A staff-verified performer.
    verified: &'static str,
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub jwt: Arc<str>,
    pub jti: String,
    pub kid: Option<String>,
    pub issued_at: UnixSeconds,
    pub expires_at: UnixSeconds,
    pub moderator: bool,
}

/// Everything that shaped a token besides time; a change means a fresh signature.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    kid: Option<String>,
    moderator: bool,
    until: Option<UnixSeconds>,
    /// A fingerprint of what the claims take from the user. Not `updated_at`: a profile
    /// can change twice within its one-second resolution, and a reused signature on
    /// changed claims would not verify.
    profile: u64,
}

/// A signed token kept for reuse, compactly: the claims are rebuilt from the same facts
/// (the shape guarantees they are unchanged), so only the signature and the token's own
/// values are stored — about a quarter of the token's size, which matters for RS256.
#[derive(Debug)]
struct Reusable {
    shape: Shape,
    jti: uuid::Uuid,
    issued_at: UnixSeconds,
    expires_at: UnixSeconds,
    signature: Box<[u8]>,
}

pub struct JitsiTokenSettings {
    pub app_id: String,
    pub audience: String,
    pub subject: String,
    pub ttl_secs: i64,
    pub nbf_skew_secs: i64,
    /// `0`, or how long a token may cover a scheduled show (live enforcement is on).
    pub show_token_max_secs: i64,
}

pub struct JitsiTokens {
    settings: JitsiTokenSettings,
    keyring: Arc<Keyring>,
    reuse: Option<LocalCache<Reusable>>,
}

/// Whether a token was signed for this request or handed out again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Signed,
    Reused,
}

impl JitsiTokens {
    pub fn new(
        settings: JitsiTokenSettings,
        keyring: Arc<Keyring>,
        reuse_capacity: Option<u64>,
    ) -> Self {
        let reuse = reuse_capacity.filter(|c| *c > 0).map(|capacity| {
            LocalCache::new(
                capacity,
                std::time::Duration::from_secs(settings.ttl_secs as u64),
            )
        });
        Self {
            settings,
            keyring,
            reuse,
        }
    }

    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    pub fn ttl_secs(&self) -> i64 {
        self.settings.ttl_secs
    }

    /// A token for `user` in `room`, as allowed by `grant` at `now`.
    pub fn issue(
        &self,
        user: &Profile,
        room: &Room,
        grant: &Grant,
        now: UnixSeconds,
    ) -> (IssuedToken, Freshness) {
        let keys = self.keyring.current();
        let expires_at = self.expiry(room, grant, now);
        // Only signatures worth keeping (RS256) are reused; the HS256 path skips all this.
        let reuse = self.reuse.as_ref().map(|cache| {
            let shape = Shape {
                kid: keys.signer.kid().map(str::to_owned),
                moderator: grant.moderator,
                until: grant.until,
                profile: profile_fingerprint(user),
            };
            // Ids never contain NUL, so this joins them unambiguously.
            (cache, shape, format!("{}\0{}", user.id(), room.id))
        });
        if let Some((cache, shape, key)) = &reuse {
            if let Some(previous) = cache.get(key) {
                if self.still_fresh(&previous, shape, expires_at, now) {
                    let jti = previous.jti.to_string();
                    let claims = self.claims(
                        user,
                        room,
                        grant.moderator,
                        previous.issued_at,
                        previous.expires_at,
                        &jti,
                    );
                    let jwt =
                        Signer::assemble(keys.signer.signing_input(&claims), &previous.signature);
                    let token = IssuedToken {
                        jwt: jwt.into(),
                        jti,
                        kid: previous.shape.kid.clone(),
                        issued_at: previous.issued_at,
                        expires_at: previous.expires_at,
                        moderator: grant.moderator,
                    };
                    return (token, Freshness::Reused);
                }
            }
        }
        let jti = crate::ids::random_uuid();
        let jti_text = jti.to_string();
        let claims = self.claims(user, room, grant.moderator, now, expires_at, &jti_text);
        let input = keys.signer.signing_input(&claims);
        let signature = keys.signer.signature(&input);
        let token = IssuedToken {
            jwt: Signer::assemble(input, &signature).into(),
            jti: jti_text,
            kid: keys.signer.kid().map(str::to_owned),
            issued_at: now,
            expires_at,
            moderator: grant.moderator,
        };
        if let Some((cache, shape, key)) = reuse {
            cache.insert(
                key,
                Arc::new(Reusable {
                    shape,
                    jti,
                    issued_at: now,
                    expires_at,
                    signature: signature.into_boxed_slice(),
                }),
            );
        }
        (token, Freshness::Signed)
    }

    /// `now + TTL`, or with live enforcement the show's scheduled end (capped); never past
    /// the entitlement's end.
    fn expiry(&self, room: &Room, grant: &Grant, now: UnixSeconds) -> UnixSeconds {
        let mut horizon = now + self.settings.ttl_secs;
        if self.settings.show_token_max_secs > 0 {
            if let Some(show_end) = room.ends_at {
                horizon = horizon.max(show_end.min(now + self.settings.show_token_max_secs));
            }
        }
        grant.until.map_or(horizon, |until| until.min(horizon))
    }

    /// The claims of a token for `user` in `room`; the same inputs give the same bytes,
    /// which is what lets a kept signature be reattached.
    fn claims<'a>(
        &'a self,
        user: &'a Profile,
        room: &'a Room,
        moderator: bool,
        issued_at: UnixSeconds,
        expires_at: UnixSeconds,
        jti: &'a str,
    ) -> Claims<'a> {
        Claims {
            iss: &self.settings.app_id,
            aud: &self.settings.audience,
            sub: &self.settings.subject,
            room: room.name.as_str(),
            iat: issued_at,
            nbf: issued_at - self.settings.nbf_skew_secs,
            exp: expires_at,
            jti,
            context: Context {
                user: ContextUser {
                    id: user.id(),
                    name: user.display_name(),
                    email: user.email(),
                    avatar: user.avatar_url().unwrap_or(""),
                    moderator: if moderator { "true" } else { "false" },
                    affiliation: if moderator { "owner" } else { "member" },
                    verified: if user.verified() { "true" } else { "false" },
                },
            },
        }
    }

    /// Reuse only an identically shaped token that is already valid (`iat` not in the
    /// future) and either expires exactly when a new one would, or has at least half a TTL left.
    fn still_fresh(
        &self,
        previous: &Reusable,
        shape: &Shape,
        would_expire_at: UnixSeconds,
        now: UnixSeconds,
    ) -> bool {
        previous.shape == *shape
            && previous.issued_at <= now
            && previous.expires_at > now
            && (previous.expires_at == would_expire_at
                || previous.expires_at - now >= self.settings.ttl_secs / 2)
    }
}

/// What a token's `context.user` is built from, hashed.
fn profile_fingerprint(user: &Profile) -> u64 {
    use std::hash::BuildHasher as _;
    foldhash::fast::FixedState::default().hash_one((
        user.display_name(),
        user.email(),
        user.avatar_url(),
        user.verified(),
    ))
}

/// The claims roomkey reads back from a Jitsi token it issued.
#[derive(Debug, Clone, serde::Deserialize, Serialize, schemars::JsonSchema)]
pub struct VerifiedJitsiClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub room: String,
    pub iat: UnixSeconds,
    pub nbf: UnixSeconds,
    pub exp: UnixSeconds,
    pub jti: String,
    pub context: serde_json::Value,
}

impl super::verify::TimeBounded for VerifiedJitsiClaims {
    fn expires_at(&self) -> UnixSeconds {
        self.exp
    }
    fn not_before(&self) -> Option<UnixSeconds> {
        Some(self.nbf)
    }
}

impl JitsiTokens {
    /// Verifies a Jitsi token as Prosody would (fixed algorithm, issuer, audience, expiry),
    /// for callers such as the Prosody plugin that hold a token and want it checked here.
    pub fn verify(
        &self,
        token: &str,
        now: UnixSeconds,
    ) -> Result<VerifiedJitsiClaims, super::verify::VerifyError> {
        use super::verify::{header_kid, verify, Rules, VerifyError};
        use jsonwebtoken::{Algorithm, DecodingKey};
        let (algorithm, key) = match self.keyring.mode() {
            crate::config::SigningMode::Hs256 => (
                Algorithm::HS256,
                DecodingKey::from_secret(self.keyring.hs_secret()),
            ),
            crate::config::SigningMode::Rs256 => {
                let kid = header_kid(token)?.ok_or(VerifyError::UnknownKey)?;
                let keys = self.keyring.current();
                let published = keys
                    .published
                    .iter()
                    .find(|k| k.kid == kid)
                    .ok_or(VerifyError::UnknownKey)?;
                let n = published.jwk["n"].as_str().unwrap_or_default();
                let e = published.jwk["e"].as_str().unwrap_or_default();
                (
                    Algorithm::RS256,
                    DecodingKey::from_rsa_components(n, e).map_err(|_| VerifyError::UnknownKey)?,
                )
            }
        };
        let rules = Rules {
            algorithm,
            issuer: &self.settings.app_id,
            audience: &self.settings.audience,
            required_typ: Some("JWT"),
            now,
        };
        verify(token, &key, &rules)
    }

    /// Signs a token with no access check at all: the ceiling the benchmark compares the
    /// real token path against. Never routed outside benchmark builds.
    #[cfg(feature = "bench")]
    pub fn unsafe_sign_without_checks(
        &self,
        user: &Profile,
        room: &Room,
        now: UnixSeconds,
    ) -> IssuedToken {
        let keys = self.keyring.current();
        let jti = crate::ids::random_uuid().to_string();
        let expires_at = now + self.settings.ttl_secs;
        let claims = self.claims(user, room, false, now, expires_at, &jti);
        IssuedToken {
            jwt: keys.signer.sign(&claims).into(),
            kid: keys.signer.kid().map(str::to_owned),
            jti,
            issued_at: now,
            expires_at,
            moderator: false,
        }
    }
}
