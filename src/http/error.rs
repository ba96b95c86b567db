//! The one place errors become HTTP answers.
//!
//! Every error body has the same envelope:
//! `{"error": {"code": "entitlement_required", "message": "…", "request_id": "…", …details}}`.
//! Codes are stable snake_case strings from [`ErrorCode`], each with exactly one status.
//! 5xx bodies say nothing about the cause; the cause rides in a response extension and is
//! logged by the request middleware. 429 and 503 carry `Retry-After`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::access::{AccessError, Denial};
use crate::clock::rfc3339;
use crate::domain::RoomNameError;
use crate::entitlements::EntitlementError;
use crate::identity::IdentityError;
use crate::moderation::BanError;
use crate::performers::VerificationError;
use crate::rooms::RoomError;
use crate::shows::ShowError;
use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidJson,
    InvalidRequest,
    ValidationFailed,
    Unauthenticated,
    InvalidCredentials,
    Forbidden,
    Banned,
    EntitlementRequired,
    InviteRequired,
    EntitlementNotYetValid,
    RoomNotFound,
    NotFound,
    MethodNotAllowed,
    Conflict,
    RoomEnded,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    Unavailable,
    Internal,
    InvalidSignature,
    UnknownReference,
    AmountMismatch,
    RecordMismatch,
    TestTransactionRefused,
    ProviderNotConfigured,
    NotForSale,
    BadSignature,
    PerformerNotVerified,
    IdempotencyKeyReused,
    MatrixProofRejected,
    RoomFull,
}

impl ErrorCode {
    /// Every code, in the order of the enum: the API contract lists them all.
    pub const ALL: [ErrorCode; 32] = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidRequest,
        ErrorCode::ValidationFailed,
        ErrorCode::Unauthenticated,
        ErrorCode::InvalidCredentials,
        ErrorCode::Forbidden,
        ErrorCode::Banned,
        ErrorCode::EntitlementRequired,
        ErrorCode::InviteRequired,
        ErrorCode::EntitlementNotYetValid,
        ErrorCode::RoomNotFound,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::RoomEnded,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RateLimited,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
        ErrorCode::InvalidSignature,
        ErrorCode::UnknownReference,
        ErrorCode::AmountMismatch,
        ErrorCode::RecordMismatch,
        ErrorCode::TestTransactionRefused,
        ErrorCode::ProviderNotConfigured,
        ErrorCode::NotForSale,
        ErrorCode::BadSignature,
        ErrorCode::PerformerNotVerified,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::MatrixProofRejected,
        ErrorCode::RoomFull,
    ];

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidJson | ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Unauthenticated | ErrorCode::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::EntitlementRequired => StatusCode::PAYMENT_REQUIRED,
            ErrorCode::Forbidden
            | ErrorCode::Banned
            | ErrorCode::InviteRequired
            | ErrorCode::EntitlementNotYetValid => StatusCode::FORBIDDEN,
            ErrorCode::RoomNotFound | ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::RoomEnded => StatusCode::GONE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InvalidSignature => StatusCode::BAD_REQUEST,
            ErrorCode::UnknownReference | ErrorCode::ProviderNotConfigured => StatusCode::NOT_FOUND,
            ErrorCode::AmountMismatch
            | ErrorCode::RecordMismatch
            | ErrorCode::TestTransactionRefused => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NotForSale => StatusCode::CONFLICT,
            ErrorCode::BadSignature => StatusCode::UNAUTHORIZED,
            ErrorCode::PerformerNotVerified => StatusCode::FORBIDDEN,
            ErrorCode::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::MatrixProofRejected => StatusCode::FORBIDDEN,
            ErrorCode::RoomFull => StatusCode::CONFLICT,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Banned => "banned",
            ErrorCode::EntitlementRequired => "entitlement_required",
            ErrorCode::InviteRequired => "invite_required",
            ErrorCode::EntitlementNotYetValid => "entitlement_not_yet_valid",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RoomEnded => "room_ended",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::UnknownReference => "unknown_reference",
            ErrorCode::AmountMismatch => "amount_mismatch",
            ErrorCode::RecordMismatch => "record_mismatch",
            ErrorCode::TestTransactionRefused => "test_transaction_refused",
            ErrorCode::ProviderNotConfigured => "provider_not_configured",
            ErrorCode::NotForSale => "not_for_sale",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::PerformerNotVerified => "performer_not_verified",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::MatrixProofRejected => "matrix_proof_rejected",
            ErrorCode::RoomFull => "room_full",
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Map<String, Value>,
    pub retry_after: Option<u64>,
    /// Logged, never sent.
    pub cause: Option<String>,
}

/// What the middleware needs to render the envelope (it adds the request id).
#[derive(Debug, Clone)]
pub struct RenderedError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Map<String, Value>,
    pub cause: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Map::new(),
            retry_after: None,
            cause: None,
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message).with("field", field)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        let mut error = Self::new(ErrorCode::RateLimited, "too many requests; slow down");
        error.retry_after = Some(retry_after);
        error
    }

    /// An outage of something the answer depends on: fail closed, ask to retry.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        let mut error = Self::new(
            ErrorCode::Unavailable,
            "the service cannot answer right now; retry shortly",
        );
        error.retry_after = Some(1);
        error.cause = Some(cause.to_string());
        error
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut error = Self::new(ErrorCode::Internal, "internal error");
        error.cause = Some(cause.to_string());
        error
    }

    /// Every seat of the room is taken: its capacity, and when a seat may be free again
    /// (in the body and as `Retry-After`).
    pub fn room_full(capacity: u32, retry_after: u64) -> Self {
        let mut error = Self::new(
            ErrorCode::RoomFull,
            "this room is full; try again when a seat frees up",
        )
        .with("capacity", capacity)
        .with("retry_after", retry_after);
        error.retry_after = Some(retry_after);
        error
    }

    pub fn invalid_room_name(error: RoomNameError) -> Self {
        Self::new(
            ErrorCode::InvalidRequest,
            format!("invalid room name: {error}"),
        )
        .with("field", "room")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.code.status().into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
        }
        if self.code == ErrorCode::Unauthenticated {
            response
                .headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(RenderedError {
            code: self.code,
            message: self.message,
            details: self.details,
            cause: self.cause,
        });
        response
    }
}

impl RenderedError {
    pub fn body(&self, request_id: &str) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), self.code.as_str().into());
        error.insert("message".into(), self.message.clone().into());
        error.insert("request_id".into(), request_id.into());
        for (key, value) in &self.details {
            error.insert(key.clone(), value.clone());
        }
        serde_json::json!({ "error": error })
    }
}

fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(what) => {
            ApiError::new(ErrorCode::Conflict, format!("{what} already exists")).with("field", what)
        }
        StoreError::MissingReference(what) => {
            ApiError::validation(what, format!("{what} does not exist"))
        }
        StoreError::Unexpected(cause) => ApiError::unavailable(format!("{cause:#}")),
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        store_error(error)
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::UnknownUser => {
                ApiError::unauthenticated("the credentials name no existing user")
            }
            AccessError::RoomNotFound => ApiError::new(ErrorCode::RoomNotFound, "no such room"),
            AccessError::Unavailable(cause) => ApiError::unavailable(format!("{cause:#}")),
        }
    }
}

/// Turns a refusal into its answer; `pay_url` is where a paid room can be bought.
pub fn denial_error(denial: Denial, pay_url: String) -> ApiError {
    match denial {
        Denial::Banned {
            scope,
            reason,
            until,
            ..
        } => ApiError::new(ErrorCode::Banned, "you are banned from this room")
            .with("reason", reason)
            .with("scope", scope.kind())
            .with("until", until.map(rfc3339)),
        Denial::PaymentRequired { price } => {
            let price = price.map(
                |p| serde_json::json!({"amount_minor": p.amount_minor, "currency": p.currency}),
            );
            ApiError::new(
                ErrorCode::EntitlementRequired,
                "this room requires a ticket or subscription",
            )
            .with("price", price)
            .with("pay", serde_json::json!({"method": "POST", "url": pay_url}))
        }
        Denial::InviteRequired => {
            ApiError::new(ErrorCode::InviteRequired, "this room is invite-only")
        }
        Denial::NotYetValid { starts_at } => ApiError::new(
            ErrorCode::EntitlementNotYetValid,
            "your access to this room has not started yet",
        )
        .with("starts_at", rfc3339(starts_at)),
        Denial::RoomEnded { ended_at } => {
            ApiError::new(ErrorCode::RoomEnded, "this room has ended")
                .with("ended_at", rfc3339(ended_at))
        }
    }
}

impl From<crate::authz::Refusal> for ApiError {
    fn from(refusal: crate::authz::Refusal) -> Self {
        use crate::authz::Refusal as R;
        match refusal {
            R::Forbidden(message) => ApiError::forbidden(message),
            R::UnknownRoom => ApiError::new(ErrorCode::RoomNotFound, "no such room"),
            R::UnknownPerformer => ApiError::not_found("no such performer"),
            R::Store(e) => store_error(e),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        let message = error.to_string();
        match error {
            IdentityError::Invalid(field, message) => ApiError::validation(field, message),
            IdentityError::Taken(field) => ApiError::new(
                ErrorCode::Conflict,
                format!("{field} is already registered"),
            )
            .with("field", field),
            IdentityError::BadCredentials => {
                ApiError::new(ErrorCode::InvalidCredentials, "wrong login or password")
            }
            IdentityError::UnknownUser => ApiError::not_found("no such user"),
            IdentityError::InvalidSession(_) | IdentityError::SessionEnded => {
                ApiError::unauthenticated(message)
            }
            IdentityError::NoPassword => ApiError::new(ErrorCode::Conflict, message),
            IdentityError::Throttled(seconds) => {
                let mut error = ApiError::rate_limited(seconds);
                error.message = message;
                error
            }
            IdentityError::FeatureRequired(feature) => ApiError::new(
                ErrorCode::EntitlementRequired,
                format!("this needs the {feature} feature"),
            )
            .with("feature", feature)
            .with("pay", format!("/api/features/{feature}/pay")),
            IdentityError::Store(e) => store_error(e),
            IdentityError::Unexpected(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

impl From<RoomError> for ApiError {
    fn from(error: RoomError) -> Self {
        match error {
            RoomError::Invalid(field, message) => ApiError::validation(field, message),
            RoomError::NameTaken => {
                ApiError::new(ErrorCode::Conflict, "a room with this name already exists")
                    .with("field", "name")
            }
            RoomError::OwnerNotFound => {
                ApiError::validation("owner_id", "the owner does not exist")
            }
            RoomError::OwnerNotPerformer => {
                ApiError::validation("owner_id", "the owner must be a performer or staff")
            }
            RoomError::NotFound => ApiError::new(ErrorCode::RoomNotFound, "no such room"),
            RoomError::Store(e) => store_error(e),
        }
    }
}

impl From<ShowError> for ApiError {
    fn from(error: ShowError) -> Self {
        match error {
            ShowError::Invalid(field, message) => ApiError::validation(field, message),
            ShowError::NotFound => ApiError::not_found("no such show"),
            ShowError::PerformerNotFound => {
                ApiError::validation("performer_id", "no such performer")
            }
            ShowError::NotVerified => ApiError::new(
                ErrorCode::PerformerNotVerified,
                "only a verified performer may create shows; apply at POST /api/performers/verification",
            ),
            ShowError::NotYourShow => {
                ApiError::forbidden("a performer may create shows only for themselves")
            }
            ShowError::KeyReused => ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used with a different request",
            ),
            ShowError::Ended => ApiError::new(ErrorCode::RoomEnded, "the show has ended"),
            ShowError::Room(e) => e.into(),
            ShowError::Store(e) => store_error(e),
        }
    }
}

impl From<VerificationError> for ApiError {
    fn from(error: VerificationError) -> Self {
        match error {
            VerificationError::Invalid(message) => ApiError::validation("note", message),
            VerificationError::UserNotFound => ApiError::not_found("no such user"),
            VerificationError::Staff => {
                ApiError::new(ErrorCode::Conflict, "staff are not verified as performers")
            }
            VerificationError::Conflict(message) => ApiError::new(ErrorCode::Conflict, message),
            VerificationError::Store(e) => store_error(e),
        }
    }
}

impl From<EntitlementError> for ApiError {
    fn from(error: EntitlementError) -> Self {
        match error {
            EntitlementError::Invalid(field, message) => ApiError::validation(field, message),
            EntitlementError::UnknownUser => ApiError::validation("user_id", "no such user"),
            EntitlementError::UnknownRoom => ApiError::validation("scope.room", "no such room"),
            EntitlementError::NotFound => ApiError::not_found("no such entitlement"),
            EntitlementError::Store(e) => store_error(e),
        }
    }
}

/// Matrix errors; a denial needs the pay link, so the handler maps that one itself.
impl From<crate::matrix::MatrixServiceError> for ApiError {
    fn from(error: crate::matrix::MatrixServiceError) -> Self {
        use crate::matrix::MatrixServiceError as E;
        match error {
            E::NotConfigured => ApiError::not_found("this deployment has no Matrix chat"),
            E::Denied(denial) => denial_error(denial, String::new()),
            E::Access(error) => error.into(),
            E::Store(error) => error.into(),
            E::Invalid(field, message) => ApiError::validation(field, message),
            E::ProofRejected(message) => ApiError::new(ErrorCode::MatrixProofRejected, message),
            E::NameTaken => {
                ApiError::new(ErrorCode::Conflict, "a live room already has this alias")
                    .with("field", "name")
            }
            E::Homeserver(error) => ApiError::unavailable(error),
        }
    }
}

impl From<BanError> for ApiError {
    fn from(error: BanError) -> Self {
        match error {
            BanError::Invalid(field, message) => ApiError::validation(field, message),
            BanError::UnknownUser => ApiError::validation("user_id", "no such user"),
            BanError::UnknownRoom => ApiError::validation("scope.room", "no such room"),
            BanError::NotFound => ApiError::not_found("no such ban"),
            BanError::Store(e) => store_error(e),
        }
    }
}

impl From<crate::payments::PaymentError> for ApiError {
    fn from(error: crate::payments::PaymentError) -> Self {
        use crate::payments::PaymentError as E;
        let message = error.to_string();
        match error {
            E::Invalid(field, message) => ApiError::validation(field, message),
            E::ProviderNotConfigured(_) => ApiError::new(ErrorCode::ProviderNotConfigured, message),
            E::UnknownRoom => ApiError::new(ErrorCode::RoomNotFound, message),
            E::UnknownPerformer => ApiError::not_found(message),
            E::NotForSale => ApiError::new(ErrorCode::NotForSale, message),
            E::Malformed(_) => ApiError::new(ErrorCode::InvalidRequest, message),
            E::BadSignature => ApiError::new(ErrorCode::InvalidSignature, message),
            E::UnknownReference => ApiError::new(ErrorCode::UnknownReference, message),
            E::LookupUnavailable(cause) => ApiError::unavailable(cause),
            E::RecordMismatch => ApiError::new(ErrorCode::RecordMismatch, message),
            E::AmountMismatch => ApiError::new(ErrorCode::AmountMismatch, message),
            E::TestTransaction => ApiError::new(ErrorCode::TestTransactionRefused, message),
            E::BadWebhookSignature(_) => ApiError::new(ErrorCode::InvalidSignature, message),
            E::UnsupportedEvent(_) => ApiError::validation("type", message),
            E::Store(e) => store_error(e),
        }
    }
}

impl From<crate::calls::CallError> for ApiError {
    fn from(error: crate::calls::CallError) -> Self {
        use crate::calls::CallError as E;
        match error {
            E::Invalid(field, message) => ApiError::validation(field, message),
            E::Forbidden(message) => ApiError::forbidden(message),
            E::NotFound => ApiError::not_found("no such call"),
            E::UnknownPerformer => ApiError::validation("performer_id", "no such performer"),
            E::NoPrice => ApiError::new(ErrorCode::NotForSale, error.to_string()),
            E::NoCredit => ApiError::new(ErrorCode::EntitlementRequired, error.to_string())
                .with("credit", crate::domain::calls::CALL_MINUTES_CREDIT),
            E::Conflict(message) => ApiError::new(ErrorCode::Conflict, message),
            E::Store(e) => store_error(e),
        }
    }
}
