//! Who is asking: sign-up, login, platform sessions, provisioning and roles.
//!
//! Sessions can be ended server-side at no measurable cost to the hot path. A session
//! token names its session (`jti`) and the user's session generation when it was issued;
//! the user's cached facts (read on every request anyway) carry the current generation and
//! the ids of sessions ended one by one. Signing out records the session's id and
//! invalidates the user's cached facts through the bus. Signing out everywhere, a password
//! change and an admin's revocation bump the generation and record a
//! `Change::SessionsEnded` in the same transaction (a global ban bumps it with its
//! `BanPlaced`): the change reaches the caches on every instance and the OpenID Provider,
//! which ends the user's sessions at the relying parties by back-channel logout.

pub mod password;
pub mod session;
pub mod throttle;

use std::net::IpAddr;
use std::sync::Arc;

use crate::access::{AccessService, FactsRead, SessionStanding};
use crate::authz::Admin;
use crate::cache::{Bus, Invalidation};
use crate::changes::Dispatcher;
use crate::clock::{Clock, UnixSeconds};
use crate::domain::{
    parse_email, parse_handle, EntitlementScope, ModerationAction, Role, SessionsEndedReason, User,
};
use crate::matrix::MatrixService;
use crate::moderation::audit::{Action, AuditLog};
use crate::store::{NewUser, Store, StoreError};

pub use crate::domain::VerifiedSession;
pub use session::SessionTokens;
pub use throttle::LoginThrottle;

use crate::tokens::verify::VerifyError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A field failed validation; `.0` names it.
    #[error("{1}")]
    Invalid(&'static str, &'static str),
    /// The handle or e-mail is taken.
    #[error("{0} is already registered")]
    Taken(&'static str),
    #[error("wrong login or password")]
    BadCredentials,
    #[error("no such user")]
    UnknownUser,
    /// The session token is not one roomkey issued, or it has expired.
    #[error("invalid session token: {0}")]
    InvalidSession(VerifyError),
    /// The session was ended (signed out, signed out everywhere, password changed,
    /// revoked by staff, or the user was banned from the platform).
    #[error("this session has ended; sign in again")]
    SessionEnded,
    /// Too many password attempts on this account: wait this many seconds.
    #[error("too many sign-in attempts for this account; retry in {0} s")]
    Throttled(u64),
    /// The account has no password to change (a platform backend provisioned it).
    #[error("this account has no password; it signs in through the platform")]
    NoPassword,
    /// The change needs a premium feature the user has not bought (or whose period ended).
    #[error("this needs the {0} feature")]
    FeatureRequired(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The premium feature (a plan entitlement sold through payments) that unlocks a custom
/// avatar on the profile and in Jitsi tokens.
pub const CUSTOM_PROFILE_FEATURE: &str = "custom_profile";

/// Profile fields to change; `None` leaves a field, `Some(None)` clears the avatar.
#[derive(Debug, Default)]
pub struct ProfileChanges {
    pub display_name: Option<String>,
    pub avatar_url: Option<Option<String>>,
}

pub struct Registration {
    pub handle: String,
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
}

pub struct Provisioning {
    pub handle: String,
    pub email: String,
    pub display_name: Option<String>,
    pub role: Role,
}

/// A signed-in user with a fresh session token.
pub struct SignedIn {
    pub user: User,
    pub session_token: String,
    pub expires_at: UnixSeconds,
}

pub struct IdentityService {
    store: Store,
    access: Arc<AccessService>,
    sessions: SessionTokens,
    throttle: LoginThrottle,
    bus: Arc<Bus>,
    changes: Arc<Dispatcher>,
    matrix: Arc<MatrixService>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
}

const PASSWORD_MIN: usize = 10;
const PASSWORD_MAX: usize = 256;

impl IdentityService {
    #[allow(
        clippy::too_many_arguments,
        reason = "one handle per collaborator, all wired once in App::build"
    )]
    pub fn new(
        store: Store,
        access: Arc<AccessService>,
        sessions: SessionTokens,
        throttle: LoginThrottle,
        bus: Arc<Bus>,
        changes: Arc<Dispatcher>,
        matrix: Arc<MatrixService>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            access,
            sessions,
            throttle,
            bus,
            changes,
            matrix,
            audit,
            clock,
        }
    }

    pub fn sessions(&self) -> &SessionTokens {
        &self.sessions
    }

    pub fn now(&self) -> UnixSeconds {
        self.clock.now()
    }

    /// Creates a viewer account and signs it in; `address` becomes one the account is
    /// known to sign in from.
    pub async fn register(
        &self,
        registration: Registration,
        address: IpAddr,
    ) -> Result<SignedIn, IdentityError> {
        let profile = Profile::parse(
            &registration.handle,
            &registration.email,
            registration.display_name.as_deref(),
        )?;
        check_password_length(&registration.password)?;
        let hash = password::hash(registration.password).await?;
        let user = self.create(&profile, Some(&hash), Role::Viewer).await?;
        let now = self.clock.now();
        self.throttle
            .succeeded(&format!("user:{}", user.id), address, now)
            .await;
        let (session_token, expires_at) =
            self.sessions.issue(&user.id, user.session_generation, now);
        Ok(SignedIn {
            user,
            session_token,
            expires_at,
        })
    }

    /// Signs in with a handle or e-mail and password, from `address`. Attempts on one
    /// account are throttled across addresses ([`throttle`]); an unknown login is throttled
    /// the same way, so the answer says nothing about whether the account exists.
    pub async fn login(
        &self,
        login: &str,
        password: String,
        address: IpAddr,
    ) -> Result<SignedIn, IdentityError> {
        let login = login.trim().to_ascii_lowercase();
        let found = if login.is_empty() || login.len() > 254 {
            None
        } else {
            self.store.find_credentials(&login).await?
        };
        let (user, stored) = match found {
            Some((user, stored)) => (Some(user), stored),
            None => (None, None),
        };
        let account = match &user {
            Some(user) => format!("user:{}", user.id),
            None => format!("login:{login}"),
        };
        let now = self.clock.now();
        self.throttle
            .admit(&account, address, now)
            .await
            .map_err(IdentityError::Throttled)?;
        let password_ok = password::verify(password, stored).await?;
        match user {
            Some(user) if password_ok => {
                self.throttle.succeeded(&account, address, now).await;
                let (session_token, expires_at) =
                    self.sessions.issue(&user.id, user.session_generation, now);
                Ok(SignedIn {
                    user,
                    session_token,
                    expires_at,
                })
            }
            _ => Err(IdentityError::BadCredentials),
        }
    }

    /// The session a token names, if it verifies and still stands.
    pub async fn authenticate(&self, token: &str) -> Result<VerifiedSession, IdentityError> {
        Ok(self.authenticate_reading(token).await?.0)
    }

    /// [`Self::authenticate`], with the user's facts if checking the session read them (see
    /// [`FactsRead`]), for a request that decides access next.
    pub async fn authenticate_reading(
        &self,
        token: &str,
    ) -> Result<(VerifiedSession, Option<FactsRead>), IdentityError> {
        let session = self
            .sessions
            .verify(token, self.clock.now())
            .map_err(IdentityError::InvalidSession)?;
        let (standing, read) = self.access.session_standing(&session).await?;
        match standing {
            SessionStanding::Current => Ok((session, read)),
            SessionStanding::Ended => Err(IdentityError::SessionEnded),
            SessionStanding::UnknownUser => Err(IdentityError::UnknownUser),
        }
    }

    /// Signs one session out: its token stops working on every instance.
    pub async fn end_session(&self, session: &VerifiedSession) -> Result<(), IdentityError> {
        self.store
            .insert_session_revocation(
                &session.jti,
                &session.user_id,
                session.expires_at,
                self.clock.now(),
            )
            .await?;
        self.bus
            .publish(Invalidation::User(session.user_id.clone()))
            .await;
        Ok(())
    }

    /// Ends every session `user_id` holds, for `reason`. The change goes to the caches
    /// (every instance refuses the old sessions) and to the OpenID Provider (every relying
    /// party holding a session for the user is told by back-channel logout).
    pub async fn end_all_sessions(
        &self,
        user_id: &str,
        reason: SessionsEndedReason,
    ) -> Result<(), IdentityError> {
        let (_, change) = self
            .store
            .bump_session_generation(user_id, reason, self.clock.now())
            .await?
            .ok_or(IdentityError::UnknownUser)?;
        self.changes.deliver(change).await;
        Ok(())
    }

    /// An admin ends every session of `user_id`; recorded in the audit trail.
    pub async fn end_sessions_for(
        &self,
        admin: &Admin,
        user_id: &str,
        reason: Option<&str>,
    ) -> Result<(), IdentityError> {
        let actor = admin.actor().as_str();
        self.end_all_sessions(user_id, SessionsEndedReason::RevokedByAdmin)
            .await?;
        self.audit
            .record(Action {
                actor: Some(actor),
                action: ModerationAction::EndSessions,
                user_id: Some(user_id),
                room: None,
                reason,
                details: serde_json::json!({}),
            })
            .await;
        Ok(())
    }

    /// Replaces the password of the signed-in `user_id` after checking the current one,
    /// ends every other session, and returns a fresh session for the caller.
    pub async fn change_password(
        &self,
        user_id: &str,
        current: String,
        new: String,
        address: IpAddr,
    ) -> Result<SignedIn, IdentityError> {
        check_password_length(&new)?;
        let stored = self.store.find_password_hash(user_id).await?;
        if stored.is_none() {
            return Err(IdentityError::NoPassword);
        }
        // A stolen session must not become a way to guess the password.
        let account = format!("user:{user_id}");
        self.throttle
            .admit(&account, address, self.clock.now())
            .await
            .map_err(IdentityError::Throttled)?;
        if !password::verify(current, stored).await? {
            return Err(IdentityError::BadCredentials);
        }
        self.throttle
            .succeeded(&account, address, self.clock.now())
            .await;
        let hash = password::hash(new).await?;
        let (user, change) = self
            .store
            .update_password(user_id, &hash, self.clock.now())
            .await?
            .ok_or(IdentityError::UnknownUser)?;
        self.changes.deliver(change).await;
        let (session_token, expires_at) =
            self.sessions
                .issue(&user.id, user.session_generation, self.clock.now());
        Ok(SignedIn {
            user,
            session_token,
            expires_at,
        })
    }

    /// Creates a user without a password, for a platform backend that authenticates its
    /// users itself and calls roomkey with a service key on their behalf.
    pub async fn provision(&self, request: Provisioning) -> Result<User, IdentityError> {
        let profile = Profile::parse(
            &request.handle,
            &request.email,
            request.display_name.as_deref(),
        )?;
        self.create(&profile, None, request.role).await
    }

    async fn create(
        &self,
        profile: &Profile,
        password_hash: Option<&str>,
        role: Role,
    ) -> Result<User, IdentityError> {
        let id = uuid::Uuid::now_v7().to_string();
        let new = NewUser {
            id: &id,
            handle: &profile.handle,
            email: &profile.email,
            display_name: &profile.display_name,
            password_hash,
            role,
            now: self.clock.now(),
        };
        let mut user = self.store.insert_user(&new).await.map_err(taken)?;
        // Records the user's Matrix id (when Matrix is on) before the cache can hold the user.
        self.matrix.user_created(&mut user).await;
        // Every user write invalidates, even of an id nobody could have cached yet.
        self.bus.publish(Invalidation::User(user.id.clone())).await;
        Ok(user)
    }

    pub async fn set_role(
        &self,
        admin: &Admin,
        user_id: &str,
        role: Role,
    ) -> Result<User, IdentityError> {
        let actor = admin.actor().as_str();
        let before = self
            .store
            .find_user(user_id)
            .await?
            .ok_or(IdentityError::UnknownUser)?;
        let (user, change) = self
            .store
            .update_user_role(user_id, role, before.role, self.clock.now())
            .await?
            .ok_or(IdentityError::UnknownUser)?;
        self.changes.deliver(change).await;
        self.audit
            .record(Action {
                actor: Some(actor),
                action: ModerationAction::SetRole,
                user_id: Some(&user.id),
                room: None,
                reason: None,
                details: serde_json::json!({"role": role.as_str()}),
            })
            .await;
        Ok(user)
    }

    /// Changes the caller's display name and avatar. A custom avatar needs an active
    /// [`CUSTOM_PROFILE_FEATURE`]; clearing it never does.
    pub async fn update_profile(
        &self,
        user_id: &str,
        changes: ProfileChanges,
    ) -> Result<User, IdentityError> {
        let mut user = self
            .store
            .find_user(user_id)
            .await?
            .ok_or(IdentityError::UnknownUser)?;
        if let Some(name) = changes.display_name {
            user.display_name = parse_display_name(Some(&name), &user.handle)?;
        }
        if let Some(avatar) = changes.avatar_url {
            if let Some(url) = &avatar {
                let valid = url.len() <= 500
                    && url.starts_with("https://")
                    && url.len() > "https://".len()
                    && !url.chars().any(|c| c.is_whitespace() || c.is_control());
                if !valid {
                    return Err(IdentityError::Invalid(
                        "avatar_url",
                        "avatar_url must be an https:// URL of at most 500 characters",
                    ));
                }
                let now = self.clock.now();
                let has_feature =
                    self.store
                        .find_all_entitlements(user_id)
                        .await?
                        .iter()
                        .any(|e| {
                            e.is_active_at(now)
                                && e.scope == EntitlementScope::Plan(CUSTOM_PROFILE_FEATURE.into())
                        });
                if !has_feature {
                    return Err(IdentityError::FeatureRequired(CUSTOM_PROFILE_FEATURE));
                }
            }
            user.avatar_url = avatar;
        }
        let user = self
            .store
            .update_user_profile(
                &user.id,
                &user.display_name,
                user.avatar_url.as_deref(),
                self.clock.now(),
            )
            .await?
            .ok_or(IdentityError::UnknownUser)?;
        self.bus.publish(Invalidation::User(user.id.clone())).await;
        Ok(user)
    }
}

/// A validated handle, e-mail and display name.
struct Profile {
    handle: String,
    email: String,
    display_name: String,
}

impl Profile {
    fn parse(handle: &str, email: &str, display_name: Option<&str>) -> Result<Self, IdentityError> {
        let handle = parse_handle(handle).ok_or(IdentityError::Invalid(
            "handle",
            "handle must be 3-32 of a-z, 0-9, _ . - starting with a letter or digit",
        ))?;
        let email = parse_email(email).ok_or(IdentityError::Invalid(
            "email",
            "email is not a valid address",
        ))?;
        let display_name = parse_display_name(display_name, &handle)?;
        Ok(Self {
            handle,
            email,
            display_name,
        })
    }
}

fn parse_display_name(input: Option<&str>, handle: &str) -> Result<String, IdentityError> {
    let name = input
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(handle);
    if name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(IdentityError::Invalid(
            "display_name",
            "display_name must be at most 64 printable characters",
        ));
    }
    Ok(name.to_owned())
}

fn check_password_length(password: &str) -> Result<(), IdentityError> {
    let length = password.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&length) {
        return Err(IdentityError::Invalid(
            "password",
            "password must be 10 to 256 characters",
        ));
    }
    Ok(())
}

fn taken(error: StoreError) -> IdentityError {
    match error {
        StoreError::Conflict(field) => IdentityError::Taken(field),
        other => IdentityError::Store(other),
    }
}
