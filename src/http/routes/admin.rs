//! Minimal administration: users and roles, rooms, comp tickets, bans.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use super::auth::UserView;
use super::rooms::{parse_room, RoomView};
use crate::authz::{self, Admin};
use crate::clock::{parse_rfc3339, rfc3339, UnixSeconds};
use crate::domain::{Ban, Entitlement, EntitlementSource, Money, Role, RoomAccess};
use crate::entitlements::{GrantRequest, ScopeRequest};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, OptionalJson};
use crate::http::params::{RoomParam, UserParam};
use crate::http::state::AdminState;
use crate::identity::Provisioning;
use crate::moderation::BanRequest;
use crate::rooms::{NewRoom, RoomChanges};

/// Distinguishes a field that is absent (`None`) from one set to null (`Some(None)`).
pub(super) fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

pub(super) fn time(field: &str, value: Option<&str>) -> Result<Option<UnixSeconds>, ApiError> {
    value
        .map(|text| {
            parse_rfc3339(text).ok_or_else(|| {
                ApiError::validation(field, format!("{field} must be an RFC 3339 time"))
            })
        })
        .transpose()
}

fn role(value: &str) -> Result<Role, ApiError> {
    Role::parse(value).ok_or_else(|| {
        ApiError::validation("role", "role must be viewer, performer, moderator or admin")
    })
}

pub(super) fn access(value: &str) -> Result<RoomAccess, ApiError> {
    RoomAccess::parse(value)
        .ok_or_else(|| ApiError::validation("access", "access must be free, paid or invite_only"))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceBody {
    #[schemars(range(min = 1, max = crate::domain::MAX_AMOUNT_MINOR))]
    pub(crate) amount_minor: i64,
    /// ISO 4217.
    #[schemars(regex(pattern = "^[A-Z]{3}$"))]
    pub(crate) currency: String,
}

impl From<PriceBody> for Money {
    fn from(body: PriceBody) -> Self {
        Money {
            amount_minor: body.amount_minor,
            currency: body.currency,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionBody {
    #[schemars(regex(pattern = crate::domain::HANDLE_PATTERN))]
    handle: String,
    #[schemars(length(max = 254), regex(pattern = crate::domain::EMAIL_PATTERN))]
    email: String,
    display_name: Option<String>,
    role: Option<String>,
}

/// # `POST /api/admin/users`
/// Creates a user without a password (the platform authenticates them itself).
/// **Permissions**: admin.
pub async fn provision_user(
    State(state): State<AdminState>,
    _admin: Admin,
    ApiJson(body): ApiJson<ProvisionBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let role = body
        .role
        .as_deref()
        .map(role)
        .transpose()?
        .unwrap_or(Role::Viewer);
    let user = state
        .identity()
        .provision(Provisioning {
            handle: body.handle,
            email: body.email,
            display_name: body.display_name,
            role,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: String,
}

/// # `POST /api/admin/users/{id}/role`
/// Changes a user's platform role.
/// **Permissions**: admin.
pub async fn set_role(
    State(state): State<AdminState>,
    admin: Admin,
    UserParam(user_id): UserParam,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<Json<UserView>, ApiError> {
    let user = state
        .identity()
        .set_role(&admin, &user_id, role(&body.role)?)
        .await?;
    Ok(Json(UserView::from(&user)))
}

#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndSessionsBody {
    reason: Option<String>,
}

/// # `POST /api/admin/users/{id}/sessions/end`
/// Ends every session the user holds (a stolen device, a compromised account): their
/// session tokens stop working on every instance; they can sign in again. Audited.
/// **Permissions**: admin.
pub async fn end_sessions(
    State(state): State<AdminState>,
    admin: Admin,
    UserParam(user_id): UserParam,
    OptionalJson(body): OptionalJson<EndSessionsBody>,
) -> Result<StatusCode, ApiError> {
    state
        .identity()
        .end_sessions_for(&admin, &user_id, body.reason.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, JsonSchema)]
pub struct EntitlementView {
    id: String,
    user_id: String,
    scope: serde_json::Value,
    quantity: Option<i64>,
    valid_from: String,
    valid_until: Option<String>,
    source: &'static str,
    source_ref: Option<String>,
    granted_by: Option<String>,
    created_at: String,
    revoked: Option<serde_json::Value>,
}

impl From<&Entitlement> for EntitlementView {
    fn from(e: &Entitlement) -> Self {
        Self {
            id: e.id.clone(),
            user_id: e.user_id.clone(),
            scope: serde_json::json!({"kind": e.scope.kind(), "ref": e.scope.reference()}),
            quantity: e.quantity,
            valid_from: rfc3339(e.valid_from),
            valid_until: e.valid_until.map(rfc3339),
            source: e.source.as_str(),
            source_ref: e.source_ref.clone(),
            granted_by: e.granted_by.clone(),
            created_at: rfc3339(e.created_at),
            revoked: e.revocation.as_ref().map(|r| {
                serde_json::json!({"at": rfc3339(r.revoked_at), "by": r.revoked_by, "reason": r.reason})
            }),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct BanView {
    id: String,
    user_id: String,
    scope: serde_json::Value,
    reason: String,
    until: Option<String>,
    banned_by: Option<String>,
    created_at: String,
    lifted: Option<serde_json::Value>,
}

impl From<&Ban> for BanView {
    fn from(b: &Ban) -> Self {
        Self {
            id: b.id.clone(),
            user_id: b.user_id.clone(),
            scope: serde_json::json!({"kind": b.scope.kind(), "ref": b.scope.reference()}),
            reason: b.reason.clone(),
            until: b.until.map(rfc3339),
            banned_by: b.banned_by.clone(),
            created_at: rfc3339(b.created_at),
            lifted: b.lift.as_ref().map(|l| serde_json::json!({"at": rfc3339(l.lifted_at), "by": l.lifted_by, "reason": l.reason})),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct AccessRecordView {
    entitlements: Vec<EntitlementView>,
    bans: Vec<BanView>,
}

/// # `GET /api/admin/users/{id}/access`
/// Every entitlement and ban a user ever had, newest first: the facts decisions come from.
/// **Permissions**: admin.
pub async fn access_record(
    State(state): State<AdminState>,
    _admin: Admin,
    UserParam(user_id): UserParam,
) -> Result<Json<AccessRecordView>, ApiError> {
    let entitlements = state.entitlements().list(&user_id).await?;
    let bans = state.bans().list(&user_id).await?;
    Ok(Json(AccessRecordView {
        entitlements: entitlements.iter().map(EntitlementView::from).collect(),
        bans: bans.iter().map(BanView::from).collect(),
    }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoomBody {
    #[schemars(length(min = 1, max = 200))]
    name: String,
    title: String,
    #[schemars(length(min = 1, max = 64), regex(pattern = crate::domain::USER_ID_PATTERN))]
    owner_id: String,
    access: String,
    price: Option<PriceBody>,
    #[serde(default)]
    plans: Vec<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    /// Seats for viewers (the owner and staff take none); absent: no limit.
    capacity: Option<i64>,
}

/// # `POST /api/admin/rooms`
/// Creates a room under its Jitsi name (lowercased, percent-encoded as Prosody sees it).
/// **Permissions**: admin.
pub async fn create_room(
    State(state): State<AdminState>,
    _admin: Admin,
    ApiJson(body): ApiJson<CreateRoomBody>,
) -> Result<(StatusCode, Json<RoomView>), ApiError> {
    let new = NewRoom {
        name: parse_room(&body.name).map_err(|e| e.with("field", "name"))?,
        title: body.title,
        owner_id: body.owner_id,
        access: access(&body.access)?,
        price: body.price.map(Money::from),
        plans: body.plans,
        starts_at: time("starts_at", body.starts_at.as_deref())?,
        ends_at: time("ends_at", body.ends_at.as_deref())?,
        capacity: body.capacity.map(crate::rooms::capacity).transpose()?,
    };
    let room = state.rooms().create(new).await?;
    Ok((StatusCode::CREATED, Json(RoomView::from(&room))))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoomBody {
    title: Option<String>,
    access: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<PriceBody>")]
    price: Option<Option<PriceBody>>,
    plans: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<String>")]
    starts_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<String>")]
    ends_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<i64>")]
    capacity: Option<Option<i64>>,
}

/// # `PATCH /api/admin/rooms/{room}`
/// Changes a room; absent fields stay, `null` clears price, schedule or capacity.
/// **Permissions**: admin.
pub async fn update_room(
    State(state): State<AdminState>,
    _admin: Admin,
    RoomParam(name): RoomParam,
    ApiJson(body): ApiJson<UpdateRoomBody>,
) -> Result<Json<RoomView>, ApiError> {
    let room = state.rooms().update(&name, body.changes()?).await?;
    Ok(Json(RoomView::from(&room)))
}

impl UpdateRoomBody {
    fn changes(self) -> Result<RoomChanges, ApiError> {
        Ok(RoomChanges {
            title: self.title,
            access: self.access.as_deref().map(access).transpose()?,
            price: self.price.map(|p| p.map(Money::from)),
            plans: self.plans,
            starts_at: self
                .starts_at
                .map(|t| time("starts_at", t.as_deref()))
                .transpose()?,
            ends_at: self
                .ends_at
                .map(|t| time("ends_at", t.as_deref()))
                .transpose()?,
            capacity: self
                .capacity
                .map(|seats| seats.map(crate::rooms::capacity).transpose())
                .transpose()?,
        })
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScopeBody {
    Room { room: String },
    Performer { performer_id: String },
    Plan { plan: String },
    Credit { credit: String },
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    #[schemars(length(min = 1, max = 64), regex(pattern = crate::domain::USER_ID_PATTERN))]
    user_id: String,
    scope: ScopeBody,
    valid_from: Option<String>,
    valid_until: Option<String>,
    quantity: Option<i64>,
    note: Option<String>,
}

impl ScopeBody {
    fn into_scope(self) -> Result<ScopeRequest, ApiError> {
        Ok(match self {
            ScopeBody::Room { room } => {
                ScopeRequest::Room(parse_room(&room).map_err(|e| e.with("field", "scope.room"))?)
            }
            ScopeBody::Performer { performer_id } => ScopeRequest::Performer(performer_id),
            ScopeBody::Plan { plan } => ScopeRequest::Plan(plan),
            ScopeBody::Credit { credit } => ScopeRequest::Credit(credit),
        })
    }
}

/// Longest note on a grant: it is kept as the entitlement's `source_ref`.
const MAX_NOTE_CHARS: usize = 500;

/// A grant by hand, checked field by field in the order the answer names the first fault:
/// scope, note, then the validity window.
impl TryFrom<GrantBody> for GrantRequest {
    type Error = ApiError;

    fn try_from(body: GrantBody) -> Result<Self, ApiError> {
        let scope = body.scope.into_scope()?;
        if body
            .note
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
        {
            return Err(ApiError::validation(
                "note",
                format!("note must be at most {MAX_NOTE_CHARS} characters"),
            ));
        }
        Ok(GrantRequest {
            user_id: body.user_id,
            scope,
            valid_from: time("valid_from", body.valid_from.as_deref())?,
            valid_until: time("valid_until", body.valid_until.as_deref())?,
            quantity: body.quantity,
            source: EntitlementSource::AdminGrant,
            source_ref: body.note,
        })
    }
}

/// # `POST /api/admin/entitlements`
/// Grants an entitlement by hand (a comp ticket, a courtesy plan).
/// **Permissions**: admin.
pub async fn grant(
    State(state): State<AdminState>,
    admin: Admin,
    ApiJson(body): ApiJson<GrantBody>,
) -> Result<(StatusCode, Json<EntitlementView>), ApiError> {
    let entitlement = state.entitlements().grant(&admin, body.try_into()?).await?;
    Ok((
        StatusCode::CREATED,
        Json(EntitlementView::from(&entitlement)),
    ))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    reason: String,
}

/// # `POST /api/admin/entitlements/{id}/revoke`
/// Revokes an entitlement; repeating it changes nothing.
/// **Permissions**: admin.
pub async fn revoke(
    State(state): State<AdminState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<EntitlementView>, ApiError> {
    let entitlement = state
        .entitlements()
        .revoke(&admin, &id, body.reason)
        .await?;
    Ok(Json(EntitlementView::from(&entitlement)))
}

#[derive(Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BanScopeBody {
    Global,
    Room { room: String },
    Performer { performer_id: String },
}

impl BanScopeBody {
    pub fn into_scope(self) -> Result<authz::BanScope, ApiError> {
        Ok(match self {
            BanScopeBody::Global => authz::BanScope::Global,
            BanScopeBody::Room { room } => {
                authz::BanScope::Room(parse_room(&room).map_err(|e| e.with("field", "scope.room"))?)
            }
            BanScopeBody::Performer { performer_id } => authz::BanScope::Performer(performer_id),
        })
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BanBody {
    #[schemars(length(min = 1, max = 64), regex(pattern = crate::domain::USER_ID_PATTERN))]
    user_id: String,
    scope: BanScopeBody,
    reason: String,
    until: Option<String>,
}

/// # `POST /api/admin/bans`
/// Bans a user globally, from one room, or from one performer's rooms.
/// **Permissions**: admin.
pub async fn ban(
    State(state): State<AdminState>,
    admin: Admin,
    ApiJson(body): ApiJson<BanBody>,
) -> Result<(StatusCode, Json<BanView>), ApiError> {
    let warrant = authz::admin_ban(&admin, body.scope.into_scope()?);
    let request = BanRequest {
        user_id: body.user_id,
        reason: body.reason,
        until: time("until", body.until.as_deref())?,
    };
    let ban = state.bans().ban(&warrant, request).await?;
    Ok((StatusCode::CREATED, Json(BanView::from(&ban))))
}

/// # `POST /api/admin/bans/{id}/lift`
/// Lifts a ban; repeating it changes nothing.
/// **Permissions**: admin.
pub async fn lift_ban(
    State(state): State<AdminState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<BanView>, ApiError> {
    let staff = authz::admin_as_staff(&admin);
    let ban = state.bans().lift(&staff, &id, body.reason).await?;
    Ok(Json(BanView::from(&ban)))
}
