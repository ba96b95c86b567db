//! The API contract: an OpenAPI 3.1 document built from the code. Request and answer
//! schemas are derived from the types the handlers read and write; each route of
//! [`super::routes::table`] is described once, by its `(METHOD, template)`, in the files
//! below (a test checks the two sets are the same). Served at `GET /openapi.json`, printed
//! by `roomkey openapi` and committed as `docs/openapi.json`.

mod builder;
mod machines;
mod members;
mod staff;

use std::sync::OnceLock;

use axum::body::Bytes;
use serde_json::{json, Map, Value};

use super::error::ErrorCode;
use builder::Spec;

/// The document.
pub fn document() -> Value {
    let mut spec = Spec::new();
    members::describe(&mut spec);
    staff::describe(&mut spec);
    machines::describe(&mut spec);
    let mut schemas = spec.take_schemas();
    schemas.insert("ErrorCode".into(), error_code_schema());
    schemas.insert("ErrorEnvelope".into(), envelope_schema());
    schemas.insert("OAuthError".into(), oauth_error_schema());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "roomkey",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "tags": tags(),
        "paths": spec.paths,
        "components": {
            "schemas": schemas,
            "responses": error_responses(),
            "securitySchemes": security_schemes(),
        },
    })
}

/// The document as served: serialised once.
pub fn bytes() -> Bytes {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    DOCUMENT.get_or_init(|| Bytes::from(pretty())).clone()
}

/// The document as `docs/openapi.json` holds it: indented, with a final newline.
pub fn pretty() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("a JSON value serialises");
    text.push('\n');
    text
}

/// Every `(METHOD, template)` the document describes.
pub fn operations(document: &Value) -> Vec<(String, String)> {
    let mut operations: Vec<(String, String)> = document["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .map(move |(method, _)| (method.to_ascii_uppercase(), path.clone()))
        })
        .collect();
    operations.sort_unstable();
    operations
}

const DESCRIPTION: &str = "\
roomkey issues Jitsi JWTs to signed-in, entitled, unbanned users and refuses everyone else \
with a JSON error envelope, `{\"error\": {\"code\", \"message\", \"request_id\", …details}}`, \
whose `code` is one of `ErrorCode` and always comes with the same status. 429 and 503 carry \
`Retry-After`. A platform backend acts for a user with its service key and `X-Roomkey-User`; \
staff act with their own session or the admin key.";

fn tags() -> Value {
    json!([
        {"name": "auth", "description": "accounts and sessions"},
        {"name": "rooms", "description": "rooms and Jitsi tokens"},
        {"name": "payments", "description": "checkouts, confirmations and money"},
        {"name": "shows", "description": "shows: a room, its chat and its announcement"},
        {"name": "calls", "description": "private calls"},
        {"name": "performers", "description": "performer verification and statistics"},
        {"name": "matrix", "description": "chat on Matrix"},
        {"name": "moderation", "description": "kicks, bans, room ends and the audit trail"},
        {"name": "admin", "description": "the admin API"},
        {"name": "prosody", "description": "what Prosody shards ask (mod_roomkey)"},
        {"name": "keys", "description": "public keys and token introspection"},
        {"name": "join", "description": "the join page (Jitsi's tokenAuthUrl), HTML"},
        {"name": "oidc", "description": "the OpenID Provider"},
        {"name": "ops", "description": "health, readiness, metrics and this document"},
    ])
}

fn error_code_schema() -> Value {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    json!({
        "description": "A stable error code; each has exactly one HTTP status.",
        "type": "string",
        "enum": codes,
    })
}

fn envelope_schema() -> Value {
    json!({
        "description": "Every refusal of the API. Some codes add details next to `code` \
                        (`field`, `price`, `capacity`, `retry_after`, …).",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "request_id"],
                "properties": {
                    "code": {"$ref": "#/components/schemas/ErrorCode"},
                    "message": {"type": "string"},
                    "request_id": {"type": "string"},
                },
            },
        },
    })
}

fn oauth_error_schema() -> Value {
    json!({
        "description": "An OAuth 2.0 error (RFC 6749 §5.2), as the OpenID endpoints answer.",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "error_description": {"type": "string"},
        },
    })
}

/// One response per error status, naming the codes that carry it.
fn error_responses() -> Map<String, Value> {
    let mut statuses: Vec<u16> = ErrorCode::ALL
        .iter()
        .map(|code| code.status().as_u16())
        .collect();
    statuses.sort_unstable();
    statuses.dedup();
    statuses
        .into_iter()
        .map(|status| {
            let codes: Vec<&str> = ErrorCode::ALL
                .iter()
                .filter(|code| code.status().as_u16() == status)
                .map(|code| code.as_str())
                .collect();
            let schema = json!({"allOf": [
                {"$ref": "#/components/schemas/ErrorEnvelope"},
                {"properties": {"error": {"properties": {"code": {"enum": codes}}}}},
            ]});
            let mut response = json!({
                "description": format!("refused: `{}`", codes.join("`, `")),
                "content": {"application/json": {"schema": schema}},
            });
            if status == 429 || status == 503 {
                response["headers"] = json!({"Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "integer"},
                }});
            }
            (format!("Error{status}"), response)
        })
        .collect()
}

fn security_schemes() -> Value {
    json!({
        "session": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "A session token from `/api/auth/register` or `/api/auth/login`.",
        },
        "serviceKey": {
            "type": "http", "scheme": "bearer",
            "description": "A trusted platform backend's key (`auth.service_keys`); it acts for \
                            the user named in `X-Roomkey-User`, never with a staff role.",
        },
        "onBehalf": {
            "type": "apiKey", "in": "header", "name": "X-Roomkey-User",
            "description": "The user a service key (or an admin key) acts for.",
        },
        "adminKey": {
            "type": "http", "scheme": "bearer",
            "description": "An admin key (`auth.admin_keys`). With `X-Roomkey-User` it acts \
                            for that user as a service key does, never with a staff role.",
        },
        "prosodyTimestamp": {
            "type": "apiKey", "in": "header", "name": "X-Roomkey-Timestamp",
            "description": "When a Prosody shard signed the request (unix seconds).",
        },
        "prosodySignature": {
            "type": "apiKey", "in": "header", "name": "X-Roomkey-Signature",
            "description": "HMAC-SHA256 under `prosody.secret` of the timestamp and the body \
                            (`prosody-plugins/PROTOCOL.md`).",
        },
        "epaycoSignature": {
            "type": "apiKey", "in": "query", "name": "x_signature",
            "description": "ePayco's SHA-256 signature under `P_KEY`: a query parameter of a \
                            GET confirmation, a form field of a POST one.",
        },
        "standardWebhooks": {
            "type": "apiKey", "in": "header", "name": "webhook-signature",
            "description": "Standard Webhooks: `webhook-id`, `webhook-timestamp` and \
                            `webhook-signature` (HMAC-SHA256 under the provider's secret).",
        },
        "stripeSignature": {
            "type": "apiKey", "in": "header", "name": "Stripe-Signature",
            "description": "`t=<unix>,v1=<hex>`: HMAC-SHA256 under the provider's secret.",
        },
        "oidcClient": {
            "type": "http", "scheme": "basic",
            "description": "A confidential client's id and secret (`client_secret_basic`, or \
                            `client_id` and `client_secret` in the form); a public client \
                            sends only `client_id`.",
        },
        "oidcAccessToken": {
            "type": "http", "scheme": "bearer",
            "description": "An access token from `/oidc/token`.",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described_and_nothing_else() {
        let described = operations(&document());
        let served: Vec<(String, String)> = crate::http::routes::table::contract()
            .into_iter()
            .map(|(method, path)| (method.to_owned(), path.to_owned()))
            .collect();
        let missing: Vec<_> = served.iter().filter(|r| !described.contains(r)).collect();
        let extra: Vec<_> = described.iter().filter(|r| !served.contains(r)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "routes the contract lacks: {missing:?}; described but not served: {extra:?}"
        );
    }

    #[test]
    fn every_reference_resolves() {
        let document = document();
        let text = document.to_string();
        for piece in text.split("\"$ref\":\"#/").skip(1) {
            let pointer = &piece[..piece.find('"').unwrap()];
            assert!(
                document.pointer(&format!("/{pointer}")).is_some(),
                "dangling reference #/{pointer}"
            );
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let document = document();
        let mut ids: Vec<&str> = document["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .map(|operation| operation["operationId"].as_str().unwrap())
            .collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "an operationId used twice");
    }

    /// Refusals the server gives that the contract once left out (found by schemathesis).
    #[test]
    fn refusals_found_by_fuzzing_are_listed() {
        let document = document();
        for (path, method, status) in [
            ("/api/moderation/audit", "get", "400"),
            ("/readyz", "get", "404"),
            ("/metrics", "get", "404"),
            ("/oidc/authorize", "get", "422"),
            ("/api/rooms/{room}", "get", "422"),
            ("/api/webhooks/{provider}", "post", "415"),
            ("/api/moderation/unban", "post", "404"),
        ] {
            assert!(
                document["paths"][path][method]["responses"]
                    .get(status)
                    .is_some(),
                "{method} {path} does not list {status}"
            );
        }
    }

    #[test]
    fn the_envelope_lists_every_code() {
        let document = document();
        let codes = document["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .unwrap();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        assert!(codes.contains(&json!("entitlement_required")));
    }
}
