//! What other systems and browsers call: payment providers' confirmations, Prosody
//! shards, key fetchers, the join page, the OpenID Provider and the operators' probes.

use serde_json::{json, Value};

use super::builder::{Auth, Spec};
use crate::http::routes::{keys, payments, prosody};

pub(super) fn describe(spec: &mut Spec) {
    webhooks(spec);
    shards_and_keys(spec);
    join_page(spec);
    openid_provider(spec);
    ops(spec);
}

/// The fields of ePayco's confirmation that roomkey reads.
const EPAYCO_FIELDS: [&str; 7] = [
    "x_ref_payco",
    "x_transaction_id",
    "x_amount",
    "x_currency_code",
    "x_signature",
    "x_id_invoice",
    "x_extra1",
];

fn webhooks(spec: &mut Spec) {
    let epayco = "roomkey applies ePayco's own record of the transaction (its lookup, \
                  `payments.epayco.validation_url`), never the notification's unsigned state, \
                  test flag or extras. 200 once durably applied or already applied; 400 bad \
                  signature; 404 unknown reference; 422 amount mismatch, a test transaction \
                  or a record that contradicts the signed fields; 503 retry.";
    spec.op(
        "POST",
        "/api/webhooks/epayco",
        "epaycoConfirmation",
        "payments",
        "ePayco's confirmation (form)",
    )
    .describe(epayco)
    .auth(Auth::Epayco)
    .form(&EPAYCO_FIELDS, &["x_ref_payco", "x_signature"])
    .answer::<payments::WebhookAnswer>(200, "applied")
    .errors(&[404, 415, 422]);
    spec.op(
        "GET",
        "/api/webhooks/epayco",
        "epaycoConfirmationGet",
        "payments",
        "ePayco's confirmation (query string)",
    )
    .describe(epayco)
    .auth(Auth::Epayco)
    .query_text(&EPAYCO_FIELDS)
    .answer::<payments::WebhookAnswer>(200, "applied")
    .errors(&[404, 422]);
    spec.op(
        "POST",
        "/api/webhooks/{provider}",
        "providerEvent",
        "payments",
        "A provider's signed payment event",
    )
    .describe("Standard Webhooks or Stripe-style signature, per `payments.providers`.")
    .auth(Auth::Provider)
    .raw_json::<crate::payments::signed::ProviderEvent>()
    .answer::<payments::WebhookAnswer>(200, "applied")
    .errors(&[422]);
}

fn shards_and_keys(spec: &mut Spec) {
    spec.op(
        "POST",
        "/api/prosody/verdicts",
        "verdicts",
        "prosody",
        "Verdicts for a shard's occupants",
    )
    .describe("A batch of up to 500 checks (`prosody-plugins/PROTOCOL.md`).")
    .auth(Auth::Prosody)
    .signed_json::<prosody::VerdictsBody>()
    .answer::<prosody::VerdictsView>(200, "one verdict per check");
    spec.op(
        "POST",
        "/api/prosody/events",
        "occupantEvents",
        "prosody",
        "Joins, leaves and destroyed rooms a shard saw",
    )
    .auth(Auth::Prosody)
    .signed_json::<prosody::EventsBody>()
    .answer::<prosody::RecordedView>(200, "recorded");
    spec.op(
        "POST",
        "/api/tokens/introspect",
        "introspect",
        "keys",
        "Check a Jitsi token as roomkey issues them",
    )
    .auth(Auth::Service)
    .json::<keys::IntrospectBody>()
    .answer::<keys::IntrospectView>(200, "whether it is active, and its claims");
    spec.op(
        "GET",
        "/.well-known/jwks.json",
        "jwks",
        "keys",
        "The Jitsi tokens' public keys (RS256)",
    )
    .describe("Prosody's `asap_key_server = \"<public_url>/jitsi/keys\"` fetches them one by one.")
    .content(200, "a JSON Web Key Set", "application/json", jwk_set());
    spec.op(
        "GET",
        "/jitsi/keys/{file}",
        "jitsiKey",
        "keys",
        "One public key as Prosody's `asap_key_server` fetches it",
    )
    .content(
        200,
        "the key",
        "application/x-pem-file",
        json!({"type": "string"}),
    );
}

/// The statuses of a join page: its scenes and refusals carry the API's statuses.
const JOIN_PAGE: [u16; 12] = [200, 303, 400, 401, 402, 403, 404, 409, 410, 422, 429, 503];

fn join_page(spec: &mut Spec) {
    spec.op(
        "GET",
        "/join/{room}",
        "joinPage",
        "join",
        "The join page: sign in, pay, or be sent into the room",
    )
    .describe(
        "Jitsi Meet's `tokenAuthUrl`: 200 sign-in/sign-up; 303 into the Jitsi room with \
             `#jwt=` in the fragment; 402 pay; 403 banned, invite-only or not yet; 404; 410 \
             ended (`docs/join-page.md`). Spanish or English by `Accept-Language`.",
    )
    .pages(&JOIN_PAGE);
    for (path, id, summary, fields) in [
        (
            "/join/{room}/sign-in",
            "joinSignIn",
            "Sign in from the join page",
            &["csrf", "login", "password"][..],
        ),
        (
            "/join/{room}/sign-up",
            "joinSignUp",
            "Sign up from the join page",
            &["csrf", "handle", "email", "display_name", "password"][..],
        ),
        (
            "/join/{room}/pay",
            "joinPay",
            "Open ePayco's checkout from the join page",
            &["csrf"][..],
        ),
        (
            "/join/{room}/sign-out",
            "joinSignOut",
            "Sign out from the join page",
            &["csrf"][..],
        ),
    ] {
        spec.op("POST", path, id, "join", summary)
            .describe(
                "A form the join page posts, with its CSRF token (`roomkey_csrf` cookie) and \
                 the session cookie; sign-in and sign-up are rate-limited per address. Sign \
                 in or up answers 303 with an `HttpOnly; SameSite=Lax` session cookie.",
            )
            .form(fields, &["csrf"])
            .pages(&JOIN_PAGE);
    }
}

fn openid_provider(spec: &mut Spec) {
    let pages = [200, 303, 400, 429, 503];
    spec.op(
        "GET",
        "/oidc/authorize",
        "oidcAuthorize",
        "oidc",
        "The authorization endpoint (code flow, PKCE)",
    )
    .describe(
        "PKCE (S256; required for public clients), `state`/`nonce`, \
             `prompt=none|login|consent`, `max_age`: 303 to the registered redirect URI \
             with `code` (or `error`), or the sign-in/sign-up page or, for clients not \
             `first_party`, the consent page; an unknown client or a redirect URI not \
             registered exactly gets roomkey's own 400 page, never a redirect \
             (`docs/sso.md`).",
    )
    .query_text(&[
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "prompt",
        "max_age",
    ])
    .pages(&pages);
    for (path, id, summary, fields) in [
        (
            "/oidc/sign-in",
            "oidcSignIn",
            "Sign in on the provider's page",
            &["csrf", "authorize", "login", "password"][..],
        ),
        (
            "/oidc/sign-up",
            "oidcSignUp",
            "Sign up on the provider's page",
            &[
                "csrf",
                "authorize",
                "handle",
                "email",
                "display_name",
                "password",
            ][..],
        ),
        (
            "/oidc/consent",
            "oidcConsent",
            "Approve or deny a client",
            &["csrf", "authorize", "decision"][..],
        ),
    ] {
        spec.op("POST", path, id, "oidc", summary)
            .form(fields, &["csrf"])
            .pages(&pages);
    }
    let logout = [
        "id_token_hint",
        "post_logout_redirect_uri",
        "client_id",
        "state",
        "ui_locales",
    ];
    let ends = "Ends the roomkey browser session and the OIDC sessions granted in it \
                (back-channel logout to their clients); 303 to `post_logout_redirect_uri` \
                (with `state`) only when it is registered for the client `id_token_hint` or \
                `client_id` names, else a \"signed out\" page.";
    spec.op(
        "GET",
        "/oidc/logout",
        "oidcLogout",
        "oidc",
        "RP-initiated logout",
    )
    .describe(ends)
    .query_text(&logout)
    .pages(&pages);
    spec.op(
        "POST",
        "/oidc/logout",
        "oidcLogoutPost",
        "oidc",
        "RP-initiated logout (form)",
    )
    .describe(ends)
    .form(
        &[
            "csrf",
            "id_token_hint",
            "post_logout_redirect_uri",
            "client_id",
            "state",
        ],
        &[],
    )
    .pages(&pages);
    let token_fields = [
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "client_id",
        "client_secret",
        "scope",
    ];
    spec.op(
        "POST",
        "/oidc/token",
        "oidcToken",
        "oidc",
        "The token endpoint (`authorization_code`, `refresh_token`)",
    )
    .describe(
        "`authorization_code`: single-use, `oidc.code_ttl_secs`, bound to the client, \
             the redirect URI and the verifier; a replay revokes what the first use issued. \
             `refresh_token`: rotated; a reused one revokes the family. Errors as RFC 6749; \
             `oidc.requests_per_minute` per address, then 429 `temporarily_unavailable` \
             with `Retry-After`.",
    )
    .auth(Auth::OidcClient)
    .form(&token_fields, &["grant_type"])
    .content(200, "tokens", "application/json", token_answer())
    .oauth_errors(&[400, 401, 429, 503]);
    spec.op(
        "POST",
        "/oidc/revoke",
        "oidcRevoke",
        "oidc",
        "Revoke a token and its family (RFC 7009)",
    )
    .describe(
        "The token's family (its OIDC session) is revoked, its back-channel logout \
             queued and the user's approval of the client forgotten; rate-limited with \
             `/oidc/token`.",
    )
    .auth(Auth::OidcClient)
    .form(
        &["token", "token_type_hint", "client_id", "client_secret"],
        &["token"],
    )
    .empty(200, "revoked, or never known")
    .oauth_errors(&[400, 401, 429, 503]);
    for (method, id) in [("GET", "oidcUserinfo"), ("POST", "oidcUserinfoPost")] {
        spec.op(
            method,
            "/oidc/userinfo",
            id,
            "oidc",
            "The claims an access token releases",
        )
        .describe("`oidc.requests_per_minute` per address, then 429 `rate_limited`.")
        .auth(Auth::OidcBearer)
        .content(200, "the claims", "application/json", userinfo_answer())
        .errors(&[401, 429]);
    }
    spec.op(
        "GET",
        "/.well-known/openid-configuration",
        "oidcDiscovery",
        "oidc",
        "The provider's metadata",
    )
    .describe("Issuer `oidc.issuer`, default `http.public_url`; see `docs/sso.md`.")
    .content(
        200,
        "OpenID Provider metadata",
        "application/json",
        json!({"type": "object"}),
    )
    .errors(&[404]);
    spec.op(
        "GET",
        "/oidc/jwks",
        "oidcJwks",
        "oidc",
        "The ID tokens' public keys",
    )
    .describe("Its own RS256 key, never a Jitsi key.")
    .content(200, "a JSON Web Key Set", "application/json", jwk_set())
    .errors(&[404]);
}

fn ops(spec: &mut Spec) {
    spec.op("GET", "/healthz", "healthz", "ops", "The process is up")
        .content(
            200,
            "up",
            "application/json",
            json!({
                "type": "object", "required": ["status"],
                "properties": {"status": {"const": "ok"}},
            }),
        );
    let readiness = json!({
        "type": "object", "required": ["store", "invalidation_bus"],
        "properties": {"store": {"type": "boolean"}, "invalidation_bus": {"type": "boolean"}},
    });
    spec.op(
        "GET",
        "/readyz",
        "readyz",
        "ops",
        "Ready while the store answers within half a second",
    )
    .describe(
        "On the ops listener, or on the public one without it (404 there otherwise). The invalidation bus is \
             reported, not required: without it decisions read SQL.",
    )
    .content(200, "ready", "application/json", readiness.clone())
    .content(
        503,
        "not ready (or cut short)",
        "application/json",
        json!({"anyOf": [
            readiness, {"$ref": "#/components/schemas/ErrorEnvelope"},
        ]}),
    )
    .errors(&[404]);
    spec.op("GET", "/metrics", "metrics", "ops", "Prometheus metrics")
        .describe(
            "On the ops listener, or on the public one without it (404 there otherwise). With `roomkey_ready` and \
             each outbox's backlog, `roomkey_outbox_pending`, read at scrape time; rules, \
             alerts and a dashboard in `deploy/`.",
        )
        .content(
            200,
            "the text exposition",
            "text/plain",
            json!({"type": "string"}),
        )
        .errors(&[404]);
    spec.op("GET", "/openapi.json", "openapi", "ops", "This document")
        .content(
            200,
            "OpenAPI 3.1",
            "application/json",
            json!({"type": "object"}),
        );
}

fn jwk_set() -> Value {
    json!({
        "type": "object", "required": ["keys"],
        "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
    })
}

fn token_answer() -> Value {
    json!({
        "type": "object",
        "required": ["access_token", "token_type", "expires_in"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer"},
            "id_token": {"type": "string"},
            "refresh_token": {"type": "string"},
            "scope": {"type": "string"},
        },
    })
}

fn userinfo_answer() -> Value {
    json!({
        "type": "object",
        "required": ["sub"],
        "properties": {
            "sub": {"type": "string"},
            "preferred_username": {"type": "string"},
            "name": {"type": "string"},
            "picture": {"type": "string"},
            "email": {"type": "string"},
            "email_verified": {"type": "boolean"},
        },
    })
}
