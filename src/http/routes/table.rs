//! Every route, once. The router is built from this table and so is the metrics'
//! `route` label catalogue ([`catalogue`]), so a route cannot be served without a label
//! (it would be counted as `unmatched`) or labelled without being served; a test sends a
//! request to each to check it reaches its handler.

use axum::extract::DefaultBodyLimit;
use axum::routing::MethodRouter;
use axum::Router;

use super::{
    admin, auth, calls, events, join, keys, live, matrix, moderation, oidc, ops, payments,
    performers, prosody, rooms, stats,
};
use crate::http::state::AppState;

/// `method "template" => handler` lines, each optionally `(limit N)` for a body limit other
/// than `http.max_body_bytes`; one function per group of routes, and `$catalogue` listing
/// them all as `(METHOD, template)`.
macro_rules! route_table {
    ($(
        $(#[$meta:meta])*
        fn $group:ident {
            $( $method:ident $path:literal => $handler:path $(, limit $limit:expr)? ; )*
        }
    )*) => {
        $(
            $(#[$meta])*
            pub(crate) fn $group() -> Router<AppState> {
                Router::new()
                    $( .route($path, limited(axum::routing::$method($handler), None $(.or(Some($limit)))?)) )*
            }
        )*

        /// The routes of each group, as `(METHOD, template)`.
        const GROUPS: &[(&str, &[(&str, &str)])] = &[
            $( (stringify!($group), &[ $( (method_label(stringify!($method)), $path) ),* ]) ),*
        ];
    };
}

fn limited(route: MethodRouter<AppState>, limit: Option<usize>) -> MethodRouter<AppState> {
    match limit {
        Some(bytes) => route.layer(DefaultBodyLimit::max(bytes)),
        None => route,
    }
}

const fn method_label(name: &str) -> &'static str {
    match name.as_bytes() {
        b"get" => "GET",
        b"post" => "POST",
        b"put" => "PUT",
        b"patch" => "PATCH",
        b"delete" => "DELETE",
        _ => panic!("a method the route table does not know"),
    }
}

route_table! {
    /// The public API and the join page.
    fn api {
        post "/api/auth/register" => auth::register;
        post "/api/auth/login" => auth::login;
        post "/api/auth/logout" => auth::logout;
        post "/api/auth/logout-all" => auth::logout_all;
        post "/api/auth/password" => auth::change_password;
        get "/api/me" => auth::me;
        patch "/api/me" => auth::update_me;
        get "/api/rooms/{room}" => rooms::show;
        post "/api/rooms/{room}/token" => rooms::issue_token;
        post "/api/rooms/{room}/matrix-invite" => rooms::matrix_invite;
        post "/api/me/matrix" => matrix::link;
        delete "/api/me/matrix" => matrix::unlink;
        put "/api/admin/matrix/rooms/{name}" => matrix::put_community;
        post "/api/tokens/introspect" => keys::introspect;
        post "/api/admin/users" => admin::provision_user;
        post "/api/admin/users/{id}/role" => admin::set_role;
        get "/api/admin/users/{id}/access" => admin::access_record;
        post "/api/admin/users/{id}/sessions/end" => admin::end_sessions;
        post "/api/admin/rooms" => admin::create_room;
        patch "/api/admin/rooms/{room}" => admin::update_room;
        post "/api/admin/entitlements" => admin::grant;
        post "/api/admin/entitlements/{id}/revoke" => admin::revoke;
        post "/api/admin/bans" => admin::ban;
        post "/api/admin/bans/{id}/lift" => admin::lift_ban;
        post "/api/rooms/{room}/pay" => payments::pay_room;
        post "/api/rooms/{room}/tip" => payments::tip;
        get "/api/rooms/{room}/revenue" => payments::room_revenue;
        post "/api/performers/{id}/subscribe" => payments::subscribe;
        get "/api/performers/{id}/earnings" => payments::earnings;
        post "/api/features/{name}/pay" => payments::pay_feature;
        post "/api/webhooks/epayco" => payments::epayco_post;
        get "/api/webhooks/epayco" => payments::epayco_get;
        post "/api/webhooks/{provider}" => payments::signed_webhook;
        put "/api/admin/performers/{id}/terms" => payments::set_terms;
        post "/api/admin/payments" => payments::record_manual;
        post "/api/admin/payments/{reference}/chargeback" => payments::record_chargeback;
        post "/api/rooms/{room}/kick" => live::kick;
        post "/api/rooms/{room}/ban" => live::ban;
        post "/api/rooms/{room}/end" => live::end;
        get "/api/rooms/{room}/participants" => live::participants;
        get "/api/rooms/{room}/stats" => stats::room_stats;
        get "/api/performers/{id}/stats" => stats::performer_stats;
        get "/api/moderation/audit" => moderation::audit;
        post "/api/moderation/ban" => moderation::ban;
        post "/api/moderation/unban" => moderation::unban;
        post "/api/events" => events::create;
        get "/api/events" => events::list;
        post "/api/events/create" => events::create;
        get "/api/events/{id}" => events::show;
        patch "/api/events/{id}" => events::update;
        post "/api/events/{id}/end" => events::end;
        post "/api/events/{id}/pay" => events::pay;
        get "/api/events/{id}/participants" => events::participants;
        get "/api/events/{id}/stats" => events::stats;
        post "/api/performers/verification" => performers::apply;
        get "/api/performers/{id}/verification" => performers::status;
        get "/api/admin/performers/applications" => performers::applications;
        post "/api/admin/performers/{id}/verification/approve" => performers::approve;
        post "/api/admin/performers/{id}/verification/reject" => performers::reject;
        post "/api/admin/performers/{id}/verification/revoke" => performers::revoke;
        // The same two under the admin prefix, where operators' scripts look for them.
        post "/api/admin/rooms/{room}/kick" => live::kick;
        post "/api/admin/rooms/{room}/end" => live::end;
        // A full batch from a shard (500 checks or events) is larger than a user's request.
        post "/api/prosody/verdicts" => prosody::verdicts, limit prosody::MAX_BODY_BYTES;
        post "/api/prosody/events" => prosody::events, limit prosody::MAX_BODY_BYTES;
        get "/.well-known/jwks.json" => keys::jwks;
        get "/jitsi/keys/{file}" => keys::pem;
        get "/join/{room}" => join::page;
        post "/join/{room}/sign-in" => join::sign_in;
        post "/join/{room}/sign-up" => join::sign_up;
        post "/join/{room}/pay" => join::pay;
        post "/join/{room}/sign-out" => join::sign_out;
        get "/.well-known/openid-configuration" => oidc::discovery;
        get "/oidc/jwks" => oidc::jwks;
        get "/oidc/authorize" => join::oidc::authorize;
        post "/oidc/sign-in" => join::oidc::sign_in;
        post "/oidc/sign-up" => join::oidc::sign_up;
        post "/oidc/consent" => join::oidc::consent;
        post "/oidc/token" => oidc::token;
        get "/oidc/userinfo" => oidc::userinfo;
        post "/oidc/userinfo" => oidc::userinfo;
        post "/oidc/revoke" => oidc::revoke;
        get "/oidc/logout" => join::oidc::logout;
        post "/oidc/logout" => join::oidc::logout;
        get "/healthz" => ops::healthz;
        get "/openapi.json" => ops::openapi;
        put "/api/performers/{id}/call-terms" => calls::set_terms;
        post "/api/calls" => calls::request;
        get "/api/calls/{id}" => calls::show;
        post "/api/calls/{id}/accept" => calls::accept;
        post "/api/calls/{id}/decline" => calls::decline;
        post "/api/calls/{id}/end" => calls::end;
    }

    /// Readiness and metrics: on the ops listener, or on the public one without it.
    fn ops {
        get "/readyz" => ops::readyz;
        get "/metrics" => ops::metrics;
    }

    /// Liveness, for the ops listener (the public one has it in `api`).
    fn health {
        get "/healthz" => ops::healthz;
    }

    /// The benchmark's sign-only ceiling (`roomkey-bench-server` only).
    #[cfg(feature = "bench")]
    fn bench {
        post "/bench/sign/{room}" => super::bench::sign_only;
    }
}

/// Every route any listener serves, as `(METHOD, template)`: the metrics' `route` labels.
pub fn catalogue() -> Vec<(&'static str, &'static str)> {
    let mut routes: Vec<(&'static str, &'static str)> = GROUPS
        .iter()
        .filter(|(group, _)| *group != "bench" || cfg!(feature = "bench"))
        .flat_map(|(_, routes)| routes.iter().copied())
        .collect();
    routes.sort_unstable();
    routes.dedup();
    routes
}

/// The routes of the contract (`/openapi.json`): every route but the benchmark's.
pub fn contract() -> Vec<(&'static str, &'static str)> {
    let mut routes: Vec<(&'static str, &'static str)> = GROUPS
        .iter()
        .filter(|(group, _)| *group != "bench")
        .flat_map(|(_, routes)| routes.iter().copied())
        .collect();
    routes.sort_unstable();
    routes.dedup();
    routes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_and_template_is_listed_once_per_group() {
        for (group, routes) in GROUPS {
            let mut seen = routes.to_vec();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), routes.len(), "a route repeated in {group}");
        }
        assert!(catalogue().contains(&("POST", "/api/rooms/{room}/token")));
        assert!(catalogue().contains(&("GET", "/metrics")));
    }
}
