//! Sign-up, login, and who am I.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::clock::rfc3339;
use crate::domain::{EntitlementScope, SessionsEndedReason, User};
use crate::http::error::ApiError;
use crate::http::extract::{signed_in_user, ApiJson, ClientIp, UserPrincipal};
use crate::http::state::AccountState;
use crate::identity::{ProfileChanges, Registration, SignedIn, VerifiedSession};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    #[schemars(regex(pattern = crate::domain::HANDLE_PATTERN))]
    handle: String,
    #[schemars(length(max = 254), regex(pattern = crate::domain::EMAIL_PATTERN))]
    email: String,
    #[schemars(length(min = 10, max = 256))]
    password: String,
    display_name: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// Handle or e-mail.
    login: String,
    password: String,
}

#[derive(Serialize, JsonSchema)]
pub struct UserView {
    id: String,
    handle: String,
    email: String,
    display_name: String,
    role: &'static str,
    matrix_user_id: Option<String>,
    avatar_url: Option<String>,
    /// A performer staff have verified.
    verified: bool,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            handle: user.handle.clone(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: user.role.as_str(),
            matrix_user_id: user.matrix_user_id.clone(),
            avatar_url: user.avatar_url.clone(),
            verified: user.verified,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct SessionView {
    session_token: String,
    expires_at: String,
    user: UserView,
}

impl From<SignedIn> for SessionView {
    fn from(signed_in: SignedIn) -> Self {
        Self {
            session_token: signed_in.session_token,
            expires_at: rfc3339(signed_in.expires_at),
            user: UserView::from(&signed_in.user),
        }
    }
}

fn limit(state: &AccountState, ip: &ClientIp) -> Result<(), ApiError> {
    state
        .auth_limit()
        .check(&ip.0.to_string())
        .map_err(ApiError::rate_limited)
}

/// # `POST /api/auth/register`
/// Creates a viewer account and signs it in.
/// **Permissions**: anyone; rate-limited per client address.
#[tracing::instrument(skip_all)]
pub async fn register(
    State(state): State<AccountState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    limit(&state, &ip)?;
    let registration = Registration {
        handle: body.handle,
        email: body.email,
        password: body.password,
        display_name: body.display_name,
    };
    let signed_in = state.identity().register(registration, ip.0).await?;
    Ok((StatusCode::CREATED, Json(signed_in.into())))
}

/// # `POST /api/auth/login`
/// Exchanges a handle or e-mail and password for a session token.
/// **Permissions**: anyone; rate-limited per client address, and per account across
/// addresses with a growing wait (429 with `Retry-After`).
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AccountState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<SessionView>, ApiError> {
    limit(&state, &ip)?;
    let signed_in = state
        .identity()
        .login(&body.login, body.password, ip.0)
        .await?;
    Ok(Json(signed_in.into()))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    #[schemars(length(min = 10, max = 256))]
    new_password: String,
}

/// The session the caller presented; a service key has none to end or to re-issue.
fn own_session(caller: &UserPrincipal) -> Result<&VerifiedSession, ApiError> {
    caller
        .session
        .as_ref()
        .ok_or_else(|| ApiError::forbidden("this needs the user's own session, not a service key"))
}

/// # `POST /api/auth/logout`
/// Ends the caller's session: its token stops working on every instance, and the OpenID
/// Provider's clients holding a session signed in with it are told by back-channel logout
/// (first, so that a failure leaves a session to retry with). 204.
/// **Permissions**: a session.
#[tracing::instrument(skip_all)]
pub async fn logout(
    State(state): State<AccountState>,
    caller: UserPrincipal,
) -> Result<StatusCode, ApiError> {
    let session = own_session(&caller)?;
    let (user_id, browser_session) = (&session.user_id, &session.jti);
    state
        .oidc()
        .end_browser_session(user_id, browser_session)
        .await?;
    state.identity().end_session(session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// # `POST /api/auth/logout-all`
/// Ends every session of the caller, on every device. 204.
/// **Permissions**: a session, or a service key naming the user.
#[tracing::instrument(skip_all)]
pub async fn logout_all(
    State(state): State<AccountState>,
    caller: UserPrincipal,
) -> Result<StatusCode, ApiError> {
    state
        .identity()
        .end_all_sessions(&caller.user_id, SessionsEndedReason::SignedOutEverywhere)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// # `POST /api/auth/password`
/// Changes the caller's password after checking the current one; every session ends and
/// the caller gets a fresh one. 401 for a wrong current password; 409 for an account
/// without a password.
/// **Permissions**: a session; rate-limited per client address.
#[tracing::instrument(skip_all)]
pub async fn change_password(
    State(state): State<AccountState>,
    ip: ClientIp,
    caller: UserPrincipal,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Json<SessionView>, ApiError> {
    limit(&state, &ip)?;
    own_session(&caller)?;
    let signed_in = state
        .identity()
        .change_password(
            &caller.user_id,
            body.current_password,
            body.new_password,
            ip.0,
        )
        .await?;
    Ok(Json(signed_in.into()))
}

/// # `GET /api/me`
/// The signed-in user's profile.
/// **Permissions**: a session, or a service key naming the user.
pub async fn me(
    State(state): State<AccountState>,
    caller: UserPrincipal,
) -> Result<Json<MeView>, ApiError> {
    let user = signed_in_user(state.access(), &caller.user_id).await?;
    let now = state.clock().now();
    let mut plans: Vec<PlanView> = Vec::new();
    for entitlement in state.entitlements().list(&user.id).await? {
        if let EntitlementScope::Plan(name) = &entitlement.scope {
            if entitlement.is_active_at(now) {
                plans.push(PlanView {
                    name: name.clone(),
                    until: entitlement.valid_until.map(rfc3339),
                });
            }
        }
    }
    Ok(Json(MeView {
        user: UserView::from(user.as_ref()),
        plans,
    }))
}

#[derive(Serialize, JsonSchema)]
pub struct MeView {
    #[serde(flatten)]
    user: UserView,
    /// Active plans and premium features (`verified_badge`, `custom_profile`,
    /// `advanced_analytics`, `member`, …), each with its end.
    plans: Vec<PlanView>,
}

#[derive(Serialize, JsonSchema)]
pub struct PlanView {
    name: String,
    until: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    display_name: Option<String>,
    /// `null` clears it; a new one needs the `custom_profile` feature.
    #[serde(default, deserialize_with = "super::admin::nullable")]
    #[schemars(with = "Option<String>")]
    avatar_url: Option<Option<String>>,
}

/// # `PATCH /api/me`
/// Changes the caller's display name and avatar (shown in Jitsi through the token). A
/// custom avatar needs the `custom_profile` feature: 402 with where to buy it otherwise.
/// **Permissions**: a session, or a service key naming the user.
pub async fn update_me(
    State(state): State<AccountState>,
    caller: UserPrincipal,
    ApiJson(body): ApiJson<ProfileBody>,
) -> Result<Json<UserView>, ApiError> {
    let user = state
        .identity()
        .update_profile(
            &caller.user_id,
            ProfileChanges {
                display_name: body.display_name,
                avatar_url: body.avatar_url,
            },
        )
        .await?;
    Ok(Json(UserView::from(&user)))
}
