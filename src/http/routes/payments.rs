//! Checkout, provider notifications, and who earned what.

use schemars::JsonSchema;
use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::rooms::parse_room;
use crate::authz::{self, Admin, Caller};
use crate::domain::{Money, PaymentIntent, PerformerTerms, RevenueTotals};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::{
    json_has_nul, nul_refused, parse_urlencoded, ApiJson, OptionalJson, UserPrincipal,
};
use crate::http::params::{RoomParam, UserParam};
use crate::http::state::PaymentState;
use crate::payments::signed::SignatureHeaders;
use crate::payments::{Applied, Checkout, Purchase};

/// Optional checkout body: which provider to pay with (ePayco unless named).
#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    provider: Option<String>,
}

async fn checkout(
    state: &PaymentState,
    caller: &UserPrincipal,
    purchase: Purchase,
    provider: Option<&str>,
) -> Result<(StatusCode, Json<Checkout>), ApiError> {
    let checkout = state
        .payments()
        .checkout(&caller.user_id, purchase, provider)
        .await?;
    Ok((StatusCode::CREATED, Json(checkout)))
}

/// # `POST /api/rooms/{room}/pay`
/// Records a ticket purchase and returns the provider's checkout parameters.
/// **Permissions**: a session, or a service key naming the user.
pub async fn pay_room(
    State(state): State<PaymentState>,
    caller: UserPrincipal,
    RoomParam(room): RoomParam,
    OptionalJson(body): OptionalJson<CheckoutBody>,
) -> Result<(StatusCode, Json<Checkout>), ApiError> {
    checkout(
        &state,
        &caller,
        Purchase::RoomTicket(room),
        body.provider.as_deref(),
    )
    .await
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TipBody {
    amount_minor: i64,
    currency: String,
    provider: Option<String>,
    /// Shown with the tip in the room and its chat.
    message: Option<String>,
    /// Shown as "Someone" instead of the tipper's name.
    #[serde(default)]
    anonymous: bool,
}

/// # `POST /api/rooms/{room}/tip`
/// Records a tip to the room's performer and returns the checkout parameters.
/// **Permissions**: a session, or a service key naming the user.
pub async fn tip(
    State(state): State<PaymentState>,
    caller: UserPrincipal,
    RoomParam(room): RoomParam,
    ApiJson(body): ApiJson<TipBody>,
) -> Result<(StatusCode, Json<Checkout>), ApiError> {
    let purchase = Purchase::Tip {
        room,
        amount_minor: body.amount_minor,
        currency: body.currency,
        message: body.message,
        anonymous: body.anonymous,
    };
    checkout(&state, &caller, purchase, body.provider.as_deref()).await
}

/// # `POST /api/performers/{id}/subscribe`
/// Records one billing period of a subscription to a performer (all their rooms).
/// **Permissions**: a session, or a service key naming the user.
pub async fn subscribe(
    State(state): State<PaymentState>,
    caller: UserPrincipal,
    UserParam(performer): UserParam,
    OptionalJson(body): OptionalJson<CheckoutBody>,
) -> Result<(StatusCode, Json<Checkout>), ApiError> {
    checkout(
        &state,
        &caller,
        Purchase::Subscription(performer),
        body.provider.as_deref(),
    )
    .await
}

/// # `POST /api/features/{name}/pay`
/// Records a premium feature purchase (verified badge, custom profile, analytics).
/// **Permissions**: a session, or a service key naming the user.
pub async fn pay_feature(
    State(state): State<PaymentState>,
    caller: UserPrincipal,
    Path(name): Path<String>,
    OptionalJson(body): OptionalJson<CheckoutBody>,
) -> Result<(StatusCode, Json<Checkout>), ApiError> {
    checkout(
        &state,
        &caller,
        Purchase::Feature(name),
        body.provider.as_deref(),
    )
    .await
}

#[derive(Serialize, JsonSchema)]
pub struct WebhookAnswer {
    status: Applied,
}

/// The fields of a JSON confirmation: string, number and boolean members as their text;
/// other members are dropped. Public for the fuzz targets under `fuzz/`.
#[doc(hidden)]
pub fn fields_from_json(bytes: &[u8]) -> Result<BTreeMap<String, String>, ApiError> {
    if json_has_nul(bytes) {
        return Err(nul_refused());
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let object = value.as_object().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ValidationFailed,
            "the body must be a JSON object",
        )
    })?;
    Ok(object
        .iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k.clone(), s.clone())),
            serde_json::Value::Number(n) => Some((k.clone(), n.to_string())),
            serde_json::Value::Bool(b) => Some((k.clone(), b.to_string())),
            _ => None,
        })
        .collect())
}

/// The fields of ePayco's confirmation, which it sends form-encoded or as JSON.
fn confirmation_fields(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<BTreeMap<String, String>, ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "the form is not UTF-8"))?;
        parse_urlencoded(text)
    } else if content_type.starts_with("application/json") {
        fields_from_json(body)
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send application/x-www-form-urlencoded or application/json",
        ))
    }
}

/// # `POST /api/webhooks/epayco`
/// ePayco's confirmation (form-encoded or JSON). 200 once durably applied (or already
/// applied); 400 bad signature; 404 unknown reference; 422 amount mismatch or a test
/// transaction in production; 503 when it could not be stored, so ePayco retries.
/// **Permissions**: the signature.
pub async fn epayco_post(
    State(state): State<PaymentState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<WebhookAnswer>, ApiError> {
    let fields = confirmation_fields(&headers, &body)?;
    Ok(Json(WebhookAnswer {
        status: state.payments().confirm_epayco(&fields).await?,
    }))
}

/// # `GET /api/webhooks/epayco`
/// The same confirmation by query string (`method_confirmation = GET`).
/// **Permissions**: the signature.
pub async fn epayco_get(
    State(state): State<PaymentState>,
    RawQuery(query): RawQuery,
) -> Result<Json<WebhookAnswer>, ApiError> {
    let fields = parse_urlencoded(query.as_deref().unwrap_or(""))?;
    Ok(Json(WebhookAnswer {
        status: state.payments().confirm_epayco(&fields).await?,
    }))
}

#[derive(Serialize, JsonSchema)]
pub struct RevenueView {
    currencies: Vec<RevenueTotals>,
}

/// # `GET /api/performers/{id}/earnings`
/// Gross, performer and platform shares (net of refunds), refunds and tips per currency.
/// **Permissions**: the performer themself, or an admin.
pub async fn earnings(
    State(state): State<PaymentState>,
    caller: Caller,
    UserParam(performer): UserParam,
) -> Result<Json<RevenueView>, ApiError> {
    let reader = authz::revenue_reader(&caller, &performer)?;
    Ok(Json(RevenueView {
        currencies: state.payments().performer_earnings(&reader).await?,
    }))
}

/// # `GET /api/rooms/{room}/revenue`
/// The same totals for one room.
/// **Permissions**: the room's performer, or an admin.
pub async fn room_revenue(
    State(state): State<PaymentState>,
    caller: Caller,
    RoomParam(room): RoomParam,
) -> Result<Json<RevenueView>, ApiError> {
    let room = state
        .access()
        .room(&room)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::RoomNotFound, "no such room"))?;
    let reader = authz::revenue_reader(&caller, &room.owner_id)?;
    let currencies = state.payments().room_revenue(&reader, &room).await?;
    Ok(Json(RevenueView { currencies }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TermsBody {
    performer_share_bps: Option<i64>,
    subscription_price: Option<super::admin::PriceBody>,
}

/// # `PUT /api/admin/performers/{id}/terms`
/// Sets a performer's revenue share and subscription price.
/// **Permissions**: admin.
pub async fn set_terms(
    State(state): State<PaymentState>,
    _admin: Admin,
    UserParam(performer): UserParam,
    ApiJson(body): ApiJson<TermsBody>,
) -> Result<Json<PerformerTerms>, ApiError> {
    let terms = state
        .payments()
        .set_terms(
            &performer,
            body.performer_share_bps,
            body.subscription_price.map(Money::from),
        )
        .await?;
    Ok(Json(terms))
}

/// The signature headers of a signed provider event, once its body is known to be JSON
/// text roomkey can store (no NUL characters).
fn signed_event_headers(headers: &HeaderMap, body: &[u8]) -> Result<SignatureHeaders, ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send application/json",
        ));
    }
    if json_has_nul(body) {
        return Err(nul_refused());
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Ok(SignatureHeaders {
        webhook_id: header("webhook-id"),
        webhook_timestamp: header("webhook-timestamp"),
        webhook_signature: header("webhook-signature"),
        stripe_signature: header("stripe-signature"),
    })
}

/// # `POST /api/webhooks/{provider}`
/// A signed JSON event from a provider configured under `payments.providers` (Standard
/// Webhooks or Stripe-style signature over the raw body). Answers like the ePayco endpoint.
/// **Permissions**: the signature.
pub async fn signed_webhook(
    State(state): State<PaymentState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<WebhookAnswer>, ApiError> {
    let signature = signed_event_headers(&headers, &body)?;
    Ok(Json(WebhookAnswer {
        status: state
            .payments()
            .confirm_signed(&provider, &signature, &body)
            .await?,
    }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PurchaseBody {
    Room { room: String },
    Subscription { performer_id: String },
    Feature { feature: String },
}

impl TryFrom<PurchaseBody> for Purchase {
    type Error = ApiError;

    fn try_from(body: PurchaseBody) -> Result<Self, ApiError> {
        Ok(match body {
            PurchaseBody::Room { room } => Purchase::RoomTicket(parse_room(&room)?),
            PurchaseBody::Subscription { performer_id } => Purchase::Subscription(performer_id),
            PurchaseBody::Feature { feature } => Purchase::Feature(feature),
        })
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualPaymentBody {
    user_id: String,
    purchase: PurchaseBody,
    provider: String,
    provider_ref: String,
    amount_minor: i64,
    currency: String,
}

#[derive(Serialize, JsonSchema)]
pub struct ManualPaymentView {
    reference: String,
    status: Applied,
    entitlement_id: Option<String>,
}

impl ManualPaymentView {
    fn new(intent: PaymentIntent, status: Applied) -> Self {
        Self {
            reference: intent.id,
            status,
            entitlement_id: intent.entitlement_id,
        }
    }
}

/// # `POST /api/admin/payments`
/// Records a payment no webhook reports (a Meru payment link), and grants what it bought.
/// **Permissions**: admin; the admin is recorded with the payment.
pub async fn record_manual(
    State(state): State<PaymentState>,
    admin: Admin,
    ApiJson(body): ApiJson<ManualPaymentBody>,
) -> Result<(StatusCode, Json<ManualPaymentView>), ApiError> {
    let purchase = body.purchase.try_into()?;
    let paid = Money {
        amount_minor: body.amount_minor,
        currency: body.currency,
    };
    let (intent, status) = state
        .payments()
        .record_manual(
            &body.user_id,
            purchase,
            &body.provider,
            &body.provider_ref,
            paid,
            &admin,
        )
        .await?;
    let view = ManualPaymentView::new(intent, status);
    Ok((StatusCode::CREATED, Json(view)))
}

/// # `POST /api/admin/payments/{reference}/chargeback`
/// Records a chargeback reported by e-mail: revokes the access the payment granted and books it.
/// **Permissions**: admin.
pub async fn record_chargeback(
    State(state): State<PaymentState>,
    admin: Admin,
    Path(reference): Path<String>,
) -> Result<Json<WebhookAnswer>, ApiError> {
    Ok(Json(WebhookAnswer {
        status: state
            .payments()
            .record_chargeback(&admin, &reference)
            .await?,
    }))
}
