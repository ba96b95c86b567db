//! What staff, performers moderating their rooms and operators' scripts call: users, rooms,
//! entitlements, bans, kicks, room ends, the audit trail, verification and payments
//! recorded by hand.

use super::builder::{Auth, Spec};
use crate::http::routes::{admin, live, matrix, moderation, payments, performers};

pub(super) fn describe(spec: &mut Spec) {
    users(spec);
    rooms_and_access(spec);
    moderating(spec);
    verification(spec);
    money(spec);
}

fn users(spec: &mut Spec) {
    spec.op(
        "POST",
        "/api/admin/users",
        "provisionUser",
        "admin",
        "Create a user (a performer, staff)",
    )
    .auth(Auth::Admin)
    .json::<admin::ProvisionBody>()
    .answer::<crate::http::routes::auth::UserView>(201, "the user")
    .errors(&[409]);
    spec.op(
        "POST",
        "/api/admin/users/{id}/role",
        "setRole",
        "admin",
        "Set a user's role",
    )
    .describe("Audited as `set_role`.")
    .auth(Auth::Admin)
    .json::<admin::RoleBody>()
    .answer::<crate::http::routes::auth::UserView>(200, "the user");
    spec.op(
        "GET",
        "/api/admin/users/{id}/access",
        "accessRecord",
        "admin",
        "Every entitlement and ban a user had",
    )
    .auth(Auth::Admin)
    .answer::<admin::AccessRecordView>(200, "the record");
    spec.op(
        "POST",
        "/api/admin/users/{id}/sessions/end",
        "endSessions",
        "admin",
        "End every session of a user",
    )
    .describe("Audited as `end_sessions`; the OpenID clients get back-channel logout tokens.")
    .auth(Auth::Admin)
    .optional_json::<admin::EndSessionsBody>()
    .empty(204, "every session has ended");
}

fn rooms_and_access(spec: &mut Spec) {
    spec.op(
        "POST",
        "/api/admin/rooms",
        "createRoom",
        "admin",
        "Create a room",
    )
    .describe("`capacity`: seats for viewers, 1 to 10000 (the owner and staff take none).")
    .auth(Auth::Admin)
    .json::<admin::CreateRoomBody>()
    .answer::<crate::http::routes::rooms::RoomView>(201, "the room")
    .errors(&[409]);
    spec.op(
        "PATCH",
        "/api/admin/rooms/{room}",
        "updateRoom",
        "admin",
        "Change a room",
    )
    .describe("`null` removes a price, a schedule bound or the capacity.")
    .auth(Auth::Admin)
    .json::<admin::UpdateRoomBody>()
    .answer::<crate::http::routes::rooms::RoomView>(200, "the room");
    spec.op(
        "POST",
        "/api/admin/entitlements",
        "grant",
        "admin",
        "Grant an entitlement (a comp ticket, a plan, credit)",
    )
    .auth(Auth::Admin)
    .json::<admin::GrantBody>()
    .answer::<admin::EntitlementView>(201, "the entitlement");
    spec.op(
        "POST",
        "/api/admin/entitlements/{id}/revoke",
        "revoke",
        "admin",
        "Revoke an entitlement",
    )
    .auth(Auth::Admin)
    .json::<admin::ReasonBody>()
    .answer::<admin::EntitlementView>(200, "the revoked entitlement")
    .errors(&[409]);
    spec.op(
        "POST",
        "/api/admin/bans",
        "adminBan",
        "admin",
        "Place a global, room or performer ban",
    )
    .auth(Auth::Admin)
    .json::<admin::BanBody>()
    .answer::<admin::BanView>(201, "the ban");
    spec.op(
        "POST",
        "/api/admin/bans/{id}/lift",
        "liftBan",
        "admin",
        "Lift a ban",
    )
    .auth(Auth::Admin)
    .json::<admin::ReasonBody>()
    .answer::<admin::BanView>(200, "the lifted ban")
    .errors(&[409]);
    spec.op("PUT", "/api/admin/matrix/rooms/{name}", "putCommunity", "matrix", "Register a community chat room")
        .describe("`#<alias_prefix><name>:<server>`, its members following `rule` (`signed_in`, `verified_performers`, `staff`); idempotent. 404 without Matrix.")
        .auth(Auth::Admin)
        .json::<matrix::CommunityBody>()
        .answer::<matrix::CommunityView>(202, "registered")
        .errors(&[409]);
}

fn moderating(spec: &mut Spec) {
    let kick = "Removes someone from the running video room now (202 once the kick is stored \
                for every shard); they may rejoin while entitled: ban to keep them out. The \
                room's performer, moderators, admins.";
    let end = "New joins are refused, the room is closed on every Prosody shard and its \
               Matrix chat archived. The room's performer, moderators, admins.";
    for (path, id) in [
        ("/api/rooms/{room}/kick", "kick"),
        ("/api/admin/rooms/{room}/kick", "adminKick"),
    ] {
        spec.op(
            "POST",
            path,
            id,
            "moderation",
            "Kick someone from the running room",
        )
        .describe(kick)
        .auth(Auth::Caller)
        .json::<live::KickBody>()
        .answer::<live::SentView>(202, "stored for every shard");
    }
    for (path, id) in [
        ("/api/rooms/{room}/end", "endRoom"),
        ("/api/admin/rooms/{room}/end", "adminEndRoom"),
    ] {
        spec.op("POST", path, id, "moderation", "End the show in a room")
            .describe(end)
            .auth(Auth::Caller)
            .json::<live::EndBody>()
            .answer::<live::EndedView>(200, "ended");
    }
    spec.op(
        "POST",
        "/api/rooms/{room}/ban",
        "roomBan",
        "moderation",
        "Ban someone from this room",
    )
    .describe(
        "A performer may not ban staff or themselves; the user is removed from the running room.",
    )
    .auth(Auth::Caller)
    .json::<live::RoomBanBody>()
    .answer::<admin::BanView>(201, "the ban");
    spec.op(
        "GET",
        "/api/rooms/{room}/participants",
        "participants",
        "moderation",
        "Who is in the room now, who came and every stay",
    )
    .describe("The room's performer, moderators, admins. A reconnect is a new stay.")
    .auth(Auth::Caller)
    .answer::<live::ParticipantsView>(200, "the participants");
    spec.op(
        "GET",
        "/api/moderation/audit",
        "audit",
        "moderation",
        "The moderation trail, newest first",
    )
    .describe(
        "Moderators and admins; a performer for their own room (`room=`). Actions: ban, \
             unban, kick, end_room, grant, revoke, set_role, verify_performer, \
             unverify_performer, end_sessions: who, whom, where, why. Paged with \
             `next_before`.",
    )
    .auth(Auth::Caller)
    .query::<moderation::AuditParams>()
    .answer::<moderation::AuditView>(200, "a page of the trail")
    .errors(&[400]);
    spec.op(
        "POST",
        "/api/moderation/ban",
        "ban",
        "moderation",
        "Ban a user globally, from a room or from a performer's rooms",
    )
    .describe(
        "Moderators and admins for any scope; a performer for their own room or all \
             their rooms, never against staff. Reaches the running rooms, the chat and (a \
             global ban, Mastodon on) the user's Mastodon account.",
    )
    .auth(Auth::Caller)
    .json::<moderation::ModerationBanBody>()
    .answer::<admin::BanView>(201, "the ban");
    spec.op(
        "POST",
        "/api/moderation/unban",
        "unban",
        "moderation",
        "Lift a ban",
    )
    .auth(Auth::Staff)
    .json::<moderation::UnbanBody>()
    .answer::<admin::BanView>(200, "the lifted ban")
    .errors(&[404, 409]);
}

fn verification(spec: &mut Spec) {
    spec.op(
        "GET",
        "/api/admin/performers/applications",
        "applications",
        "performers",
        "Pending applications, oldest first",
    )
    .auth(Auth::Staff)
    .query::<performers::ApplicationsQuery>()
    .answer::<performers::ApplicationsView>(200, "the applications");
    for (path, id, summary) in [
        ("/api/admin/performers/{id}/verification/approve", "approveVerification", "Verify a performer: a viewer becomes a performer; tokens carry `context.user.verified: \"true\"`"),
        ("/api/admin/performers/{id}/verification/reject", "rejectVerification", "Reject an application"),
        ("/api/admin/performers/{id}/verification/revoke", "revokeVerification", "Withdraw a performer's verification (a reason is required)"),
    ] {
        spec.op("POST", path, id, "performers", summary)
            .auth(Auth::Staff)
            .optional_json::<performers::NoteBody>()
            .answer::<performers::VerificationView>(200, "the verification")
            .errors(&[409]);
    }
}

fn money(spec: &mut Spec) {
    spec.op(
        "PUT",
        "/api/admin/performers/{id}/terms",
        "setTerms",
        "payments",
        "A performer's revenue share and subscription price",
    )
    .auth(Auth::Admin)
    .json::<payments::TermsBody>()
    .answer::<crate::domain::PerformerTerms>(200, "the terms");
    spec.op(
        "POST",
        "/api/admin/payments",
        "recordPayment",
        "payments",
        "Record a payment no webhook reports",
    )
    .describe("A Meru link, say: through the same grant path as a confirmation.")
    .auth(Auth::Admin)
    .json::<payments::ManualPaymentBody>()
    .answer::<payments::ManualPaymentView>(201, "recorded")
    .errors(&[409]);
    spec.op(
        "POST",
        "/api/admin/payments/{reference}/chargeback",
        "recordChargeback",
        "payments",
        "Record a chargeback reported by e-mail",
    )
    .auth(Auth::Admin)
    .answer::<payments::WebhookAnswer>(200, "applied");
}
