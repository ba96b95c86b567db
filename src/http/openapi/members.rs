//! What members of the platform call, by session or through a service key: accounts,
//! rooms and tokens, payments, shows, private calls, verification and statistics.

use super::builder::{Auth, Spec};
use crate::http::routes::{auth, calls, events, matrix, payments, performers, rooms, stats};

pub(super) fn describe(spec: &mut Spec) {
    account(spec);
    rooms_and_tokens(spec);
    buying(spec);
    shows(spec);
    private_calls(spec);
    performer(spec);
}

const ROOM_STATS: &str = "The room's performer, moderators, admins (revenue and the tips \
    leaderboard: the performer and admins; `null` for moderators). Distinct viewers, present \
    now, joins, total and median watch time per viewer, peak concurrency and when, joins per \
    bucket (`bucket` seconds 60-86400, default 300, widened to at most 2000 buckets; empty \
    buckets included), revenue per currency, and `top_tippers`: the ten biggest tippers. Open \
    stays count up to `as_of`; a viewer's overlapping stays count once. A finished show's \
    figures are computed once and stay exact; a running show's are recomputed every 5 s and \
    never answered older than 30 s.";

fn account(spec: &mut Spec) {
    spec.op(
        "POST",
        "/api/auth/register",
        "register",
        "auth",
        "Create a viewer account and sign it in",
    )
    .describe(
        "Passwords are hashed with argon2id; the session token (`aud` `roomkey-session`) \
             is signed with its own key. Rate-limited per client address (429 with \
             `Retry-After`).",
    )
    .json::<auth::RegisterBody>()
    .answer::<auth::SessionView>(201, "signed up: a session token")
    .errors(&[409, 429]);
    spec.op(
        "POST",
        "/api/auth/login",
        "login",
        "auth",
        "Exchange a handle or e-mail and password for a session token",
    )
    .describe(
        "Rate-limited per address; password attempts also per account across addresses \
             and instances: 5 free, then a wait doubling from 1 s to 60 s (429 with \
             `Retry-After`). An address the account signed in from in the last 30 days is \
             never held up.",
    )
    .json::<auth::LoginBody>()
    .answer::<auth::SessionView>(200, "signed in")
    .errors(&[401, 429]);
    spec.op(
        "POST",
        "/api/auth/logout",
        "logout",
        "auth",
        "End this session",
    )
    .describe(
        "On every instance from the next request; the OpenID Provider's clients holding \
             a session signed in with it get back-channel logout tokens.",
    )
    .auth(Auth::User)
    .empty(204, "the session has ended");
    spec.op(
        "POST",
        "/api/auth/logout-all",
        "logoutAll",
        "auth",
        "End every session of the user",
    )
    .describe(
        "A session, or a service key naming the user. Every OpenID client holding a \
             session of the user gets a back-channel logout token.",
    )
    .auth(Auth::User)
    .empty(204, "every session has ended");
    spec.op(
        "POST",
        "/api/auth/password",
        "changePassword",
        "auth",
        "Change the password",
    )
    .describe(
        "Every session ends; the answer carries a fresh one. 401 wrong current \
             password; 409 an account without a password. Rate-limited per address.",
    )
    .auth(Auth::User)
    .json::<auth::PasswordBody>()
    .answer::<auth::SessionView>(200, "changed: a new session")
    .errors(&[409, 429]);
    spec.op(
        "GET",
        "/api/me",
        "me",
        "auth",
        "The caller's profile, verification and active plans",
    )
    .describe(
        "`plans`: premium features bought through payments (`verified_badge`, \
             `custom_profile`, `advanced_analytics`) and platform plans, with their ends.",
    )
    .auth(Auth::User)
    .answer::<auth::MeView>(200, "the caller");
    spec.op(
        "PATCH",
        "/api/me",
        "updateMe",
        "auth",
        "Change the display name or avatar",
    )
    .describe(
        "A custom avatar (shown in Jitsi through the token) needs the `custom_profile` \
             feature: 402 with where to buy it otherwise.",
    )
    .auth(Auth::User)
    .json::<auth::ProfileBody>()
    .answer::<auth::UserView>(200, "the updated profile")
    .errors(&[402]);
    spec.op(
        "POST",
        "/api/me/matrix",
        "linkMatrix",
        "matrix",
        "Link an existing Matrix account",
    )
    .describe(
        "With Matrix on. Proven by the OpenID token the client got from \
             `POST /_matrix/client/v3/user/{userId}/openid/request_token`; the chat then \
             follows the linked account. 403 \
             `matrix_proof_rejected`; 409 linked to another user; 422 another server or a \
             malformed id; 404 without Matrix; 503 homeserver unreachable.",
    )
    .auth(Auth::User)
    .json::<matrix::LinkBody>()
    .answer::<crate::matrix::LinkedAccount>(200, "linked")
    .errors(&[403, 404, 409]);
    spec.op(
        "DELETE",
        "/api/me/matrix",
        "unlinkMatrix",
        "matrix",
        "Go back to the provisioned Matrix account",
    )
    .auth(Auth::User)
    .answer::<crate::matrix::LinkedAccount>(200, "the provisioned account")
    .errors(&[404]);
}

fn rooms_and_tokens(spec: &mut Spec) {
    spec.op(
        "GET",
        "/api/rooms/{room}",
        "showRoom",
        "rooms",
        "A room's title, access rule, price and schedule",
    )
    .answer::<rooms::RoomView>(200, "the room");
    spec.op(
        "POST",
        "/api/rooms/{room}/token",
        "issueToken",
        "rooms",
        "A Jitsi token for the room",
    )
    .describe(
        "200 the token (with Matrix on, also `matrix`: the chat's alias and whether the \
             caller is invited); 402 with the price and where to pay; 403 banned, \
             invite-only or not yet valid; 404; 409 `room_full` to a viewer when every seat \
             is taken (`capacity`, `retry_after`, `Retry-After`); 410 ended. Rate-limited \
             per user.",
    )
    .auth(Auth::User)
    .optional_json::<rooms::TokenRequest>()
    .answer::<rooms::TokenView<'static>>(200, "the token")
    .errors(&[402, 403, 409, 410, 429]);
    spec.op(
        "POST",
        "/api/rooms/{room}/matrix-invite",
        "matrixInvite",
        "matrix",
        "Queue the caller's invite to the room's chat again",
    )
    .describe(
        "With Matrix on; refused like the token endpoint (402/403/410); 404 without \
             Matrix. Rate-limited per user.",
    )
    .auth(Auth::User)
    .answer::<crate::matrix::ChatStatus>(202, "the invite is queued")
    .errors(&[402, 403, 410, 429]);
}

fn buying(spec: &mut Spec) {
    let checkout =
        "the checkout: ePayco's parameters (roomkey's reference in `invoice` and `extra1`)";
    spec.op(
        "POST",
        "/api/rooms/{room}/pay",
        "payRoom",
        "payments",
        "Open a checkout for a ticket to the room",
    )
    .auth(Auth::User)
    .optional_json::<payments::CheckoutBody>()
    .answer::<crate::payments::Checkout>(201, checkout)
    .errors(&[409]);
    spec.op(
        "POST",
        "/api/rooms/{room}/tip",
        "tip",
        "payments",
        "Open a checkout for a tip to the room's performer",
    )
    .describe(
        "Once a provider confirms it, the running room shows `<name> tipped <amount> \
             <currency>: <message>` in every occupant's Jitsi Meet chat and the show's \
             Matrix chat gets it as an `m.notice`, each once however often the confirmation \
             is repeated; a refund shows nothing. `message`: one line, at most 200 \
             characters (422 `validation_failed`, `field: message`); `anonymous: true` \
             shows \"Someone\".",
    )
    .auth(Auth::User)
    .json::<payments::TipBody>()
    .answer::<crate::payments::Checkout>(201, checkout)
    .errors(&[409]);
    spec.op(
        "POST",
        "/api/performers/{id}/subscribe",
        "subscribe",
        "payments",
        "Open a checkout for a subscription to a performer",
    )
    .auth(Auth::User)
    .optional_json::<payments::CheckoutBody>()
    .answer::<crate::payments::Checkout>(201, checkout)
    .errors(&[409]);
    spec.op(
        "POST",
        "/api/features/{name}/pay",
        "payFeature",
        "payments",
        "Open a checkout for a premium feature",
    )
    .auth(Auth::User)
    .optional_json::<payments::CheckoutBody>()
    .answer::<crate::payments::Checkout>(201, checkout)
    .errors(&[409]);
    spec.op(
        "GET",
        "/api/performers/{id}/earnings",
        "earnings",
        "payments",
        "A performer's earnings per currency",
    )
    .describe("The performer, admins.")
    .auth(Auth::Caller)
    .answer::<payments::RevenueView>(200, "gross, shares net of refunds, refunds and tips");
    spec.op(
        "GET",
        "/api/rooms/{room}/revenue",
        "roomRevenue",
        "payments",
        "A room's revenue per currency",
    )
    .describe("The room's performer, admins.")
    .auth(Auth::Caller)
    .answer::<payments::RevenueView>(200, "gross, shares net of refunds, refunds and tips");
}

fn shows(spec: &mut Spec) {
    let create = "A verified performer for themselves (403 `performer_not_verified` \
                  otherwise); moderators and admins for a performer. Creates its room (named from the title unless `room` is given), its chat \
                  room (Matrix on) and its Mastodon announcement (Mastodon on). A repeated \
                  `Idempotency-Key` with the same body answers 200 with the same show; with \
                  another body 422 `idempotency_key_reused`.";
    let key = "makes a retried creation answer the show created the first time";
    spec.op(
        "POST",
        "/api/events",
        "createShow",
        "shows",
        "Create a show",
    )
    .describe(create)
    .auth(Auth::Caller)
    .header("Idempotency-Key", key)
    .json::<events::CreateShowBody>()
    .answer::<events::ShowView>(201, "created")
    .answer::<events::ShowView>(200, "created before with this key")
    .errors(&[409]);
    spec.op(
        "POST",
        "/api/events/create",
        "createShowAlias",
        "shows",
        "Create a show (the same as `POST /api/events`)",
    )
    .describe(create)
    .auth(Auth::Caller)
    .header("Idempotency-Key", key)
    .json::<events::CreateShowBody>()
    .answer::<events::ShowView>(201, "created")
    .answer::<events::ShowView>(200, "created before with this key")
    .errors(&[409]);
    spec.op(
        "GET",
        "/api/events",
        "listShows",
        "shows",
        "Upcoming and live shows, soonest first",
    )
    .query::<events::ListQuery>()
    .answer::<events::ShowListView>(200, "the shows");
    spec.op(
        "GET",
        "/api/events/{id}",
        "showShow",
        "shows",
        "One show: its state, join link, chat alias and announcement",
    )
    .answer::<events::ShowView>(200, "the show");
    spec.op(
        "PATCH",
        "/api/events/{id}",
        "updateShow",
        "shows",
        "Reschedule, reprice, retitle or change the capacity of a show",
    )
    .describe(
        "The show's performer, moderators, admins. The announcement is edited; a new \
             price applies to checkouts opened from then on; `capacity: null` lifts the \
             limit.",
    )
    .auth(Auth::Caller)
    .json::<events::UpdateShowBody>()
    .answer::<events::ShowView>(200, "the updated show")
    .errors(&[409, 410]);
    spec.op("POST", "/api/events/{id}/end", "endShow", "shows", "End a show")
        .describe("The video room closes on every shard and a reply under the announcement says so; again changes nothing.")
        .auth(Auth::Caller)
        .optional_json::<events::EndShowBody>()
        .answer::<events::ShowView>(200, "the ended show");
    spec.op(
        "POST",
        "/api/events/{id}/pay",
        "payShow",
        "shows",
        "Open a checkout for a ticket to the show",
    )
    .auth(Auth::User)
    .optional_json::<payments::CheckoutBody>()
    .answer::<crate::payments::Checkout>(201, "the checkout")
    .errors(&[409]);
    spec.op(
        "GET",
        "/api/events/{id}/participants",
        "showParticipants",
        "shows",
        "Who is in the show's room and who came",
    )
    .auth(Auth::Caller)
    .answer::<crate::http::routes::live::ParticipantsView>(200, "the participants");
    spec.op(
        "GET",
        "/api/events/{id}/stats",
        "showStats",
        "shows",
        "The show's audience and revenue",
    )
    .describe(ROOM_STATS)
    .auth(Auth::Caller)
    .query::<stats::RoomStatsParams>()
    .answer::<stats::RoomStatsView>(200, "the statistics");
}

fn private_calls(spec: &mut Spec) {
    spec.op(
        "PUT",
        "/api/performers/{id}/call-terms",
        "setCallTerms",
        "calls",
        "A performer's price per minute of a private call",
    )
    .describe(
        "The performer themself (rate-limited); calls asked for later pay it (`docs/calls.md`).",
    )
    .auth(Auth::Caller)
    .errors(&[429])
    .json::<calls::TermsBody>()
    .answer::<calls::TermsView>(200, "the terms");
    spec.op(
        "POST",
        "/api/calls",
        "requestCall",
        "calls",
        "Ask a performer for a private call",
    )
    .describe(
        "A signed-in user with call credit (a `credit` entitlement `call_minutes`, in \
             minutes; rate-limited). 402 `entitlement_required` without credit; 409 \
             `not_for_sale` when the performer has no price; 422 naming oneself or a \
             non-performer.",
    )
    .auth(Auth::User)
    .json::<calls::RequestBody>()
    .answer::<calls::CallView>(201, "the call, requested")
    .errors(&[402, 403, 404, 409]);
    for (path, id, summary) in [
        ("/api/calls/{id}/accept", "acceptCall", "Accept a private call (the performer): an invite-only room `call-{id}` for the two of them, charged per started minute from the viewer's credit"),
        ("/api/calls/{id}/decline", "declineCall", "Decline a private call (the performer)"),
        ("/api/calls/{id}/end", "endCall", "End a private call (either party, or staff): the room closes, unused credit stays"),
    ] {
        spec.op("POST", path, id, "calls", summary)
            .auth(Auth::Caller)
            .answer::<calls::CallView>(200, "the call")
            .errors(&[402, 409]);
    }
    spec.op("GET", "/api/calls/{id}", "showCall", "calls", "A private call, to either party")
        .describe("State, room, running time, minutes charged, the performer's earnings (and, to the viewer and staff, the credit left).")
        .auth(Auth::Caller)
        .answer::<calls::CallView>(200, "the call");
}

fn performer(spec: &mut Spec) {
    spec.op(
        "POST",
        "/api/performers/verification",
        "applyForVerification",
        "performers",
        "Apply to be verified as a performer",
    )
    .describe("A signed-in user who is not staff.")
    .auth(Auth::User)
    .optional_json::<performers::NoteBody>()
    .answer::<performers::VerificationView>(201, "the application")
    .errors(&[409]);
    spec.op(
        "GET",
        "/api/performers/{id}/verification",
        "verificationStatus",
        "performers",
        "A performer's verification and its history",
    )
    .describe("The user themselves, moderators, admins.")
    .auth(Auth::Caller)
    .answer::<performers::VerificationView>(200, "the verification");
    spec.op(
        "GET",
        "/api/performers/{id}/stats",
        "performerStats",
        "performers",
        "A performer's audience and revenue over a period",
    )
    .describe(
        "The performer, moderators, admins (revenue: the performer and admins). Per \
             show: viewers, joins, watch time; distinct viewers across shows; revenue per \
             currency (subscriptions and tips included), for the stays begun and the ledger \
             entries booked in `[from, to)` (RFC 3339, both optional). Without a range, each \
             show's kept figures are read; a range is computed from the stays in it.",
    )
    .auth(Auth::Caller)
    .query::<stats::PerformerStatsParams>()
    .answer::<stats::PerformerStatsView>(200, "the statistics");
    spec.op(
        "GET",
        "/api/rooms/{room}/stats",
        "roomStats",
        "rooms",
        "A room's audience and revenue",
    )
    .describe(ROOM_STATS)
    .auth(Auth::Caller)
    .query::<stats::RoomStatsParams>()
    .answer::<stats::RoomStatsView>(200, "the statistics");
}
