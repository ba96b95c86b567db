// Generated from docs/openapi.json by generate.mjs (openapi-typescript); do not edit.

export interface paths {
    "/.well-known/jwks.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The Jitsi tokens' public keys (RS256)
         * @description Prosody's `asap_key_server = "<public_url>/jitsi/keys"` fetches them one by one.
         */
        get: operations["jwks"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/.well-known/openid-configuration": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The provider's metadata
         * @description Issuer `oidc.issuer`, default `http.public_url`; see `docs/sso.md`.
         */
        get: operations["oidcDiscovery"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/bans": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Place a global, room or performer ban */
        post: operations["adminBan"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/bans/{id}/lift": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Lift a ban */
        post: operations["liftBan"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/entitlements": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Grant an entitlement (a comp ticket, a plan, credit) */
        post: operations["grant"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/entitlements/{id}/revoke": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Revoke an entitlement */
        post: operations["revoke"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/matrix/rooms/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Register a community chat room
         * @description `#<alias_prefix><name>:<server>`, its members following `rule` (`signed_in`, `verified_performers`, `staff`); idempotent. 404 without Matrix.
         */
        put: operations["putCommunity"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/payments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Record a payment no webhook reports
         * @description A Meru link, say: through the same grant path as a confirmation.
         */
        post: operations["recordPayment"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/payments/{reference}/chargeback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Record a chargeback reported by e-mail */
        post: operations["recordChargeback"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/performers/applications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Pending applications, oldest first */
        get: operations["applications"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/performers/{id}/terms": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** A performer's revenue share and subscription price */
        put: operations["setTerms"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/performers/{id}/verification/approve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Verify a performer: a viewer becomes a performer; tokens carry `context.user.verified: "true"` */
        post: operations["approveVerification"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/performers/{id}/verification/reject": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Reject an application */
        post: operations["rejectVerification"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/performers/{id}/verification/revoke": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Withdraw a performer's verification (a reason is required) */
        post: operations["revokeVerification"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/rooms": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Create a room
         * @description `capacity`: seats for viewers, 1 to 10000 (the owner and staff take none).
         */
        post: operations["createRoom"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/rooms/{room}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Change a room
         * @description `null` removes a price, a schedule bound or the capacity.
         */
        patch: operations["updateRoom"];
        trace?: never;
    };
    "/api/admin/rooms/{room}/end": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * End the show in a room
         * @description New joins are refused, the room is closed on every Prosody shard and its Matrix chat archived. The room's performer, moderators, admins.
         */
        post: operations["adminEndRoom"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/rooms/{room}/kick": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Kick someone from the running room
         * @description Removes someone from the running video room now (202 once the kick is stored for every shard); they may rejoin while entitled: ban to keep them out. The room's performer, moderators, admins.
         */
        post: operations["adminKick"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Create a user (a performer, staff) */
        post: operations["provisionUser"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/users/{id}/access": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every entitlement and ban a user had */
        get: operations["accessRecord"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/users/{id}/role": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Set a user's role
         * @description Audited as `set_role`.
         */
        post: operations["setRole"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/users/{id}/sessions/end": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * End every session of a user
         * @description Audited as `end_sessions`; the OpenID clients get back-channel logout tokens.
         */
        post: operations["endSessions"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Exchange a handle or e-mail and password for a session token
         * @description Rate-limited per address; password attempts also per account across addresses and instances: 5 free, then a wait doubling from 1 s to 60 s (429 with `Retry-After`). An address the account signed in from in the last 30 days is never held up.
         */
        post: operations["login"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * End this session
         * @description On every instance from the next request; the OpenID Provider's clients holding a session signed in with it get back-channel logout tokens.
         */
        post: operations["logout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/logout-all": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * End every session of the user
         * @description A session, or a service key naming the user. Every OpenID client holding a session of the user gets a back-channel logout token.
         */
        post: operations["logoutAll"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/password": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Change the password
         * @description Every session ends; the answer carries a fresh one. 401 wrong current password; 409 an account without a password. Rate-limited per address.
         */
        post: operations["changePassword"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/register": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Create a viewer account and sign it in
         * @description Passwords are hashed with argon2id; the session token (`aud` `roomkey-session`) is signed with its own key. Rate-limited per client address (429 with `Retry-After`).
         */
        post: operations["register"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/calls": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Ask a performer for a private call
         * @description A signed-in user with call credit (a `credit` entitlement `call_minutes`, in minutes; rate-limited). 402 `entitlement_required` without credit; 409 `not_for_sale` when the performer has no price; 422 naming oneself or a non-performer.
         */
        post: operations["requestCall"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/calls/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A private call, to either party
         * @description State, room, running time, minutes charged, the performer's earnings (and, to the viewer and staff, the credit left).
         */
        get: operations["showCall"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/calls/{id}/accept": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Accept a private call (the performer): an invite-only room `call-{id}` for the two of them, charged per started minute from the viewer's credit */
        post: operations["acceptCall"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/calls/{id}/decline": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Decline a private call (the performer) */
        post: operations["declineCall"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/calls/{id}/end": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** End a private call (either party, or staff): the room closes, unused credit stays */
        post: operations["endCall"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Upcoming and live shows, soonest first */
        get: operations["listShows"];
        put?: never;
        /**
         * Create a show
         * @description A verified performer for themselves (403 `performer_not_verified` otherwise); moderators and admins for a performer. Creates its room (named from the title unless `room` is given), its chat room (Matrix on) and its Mastodon announcement (Mastodon on). A repeated `Idempotency-Key` with the same body answers 200 with the same show; with another body 422 `idempotency_key_reused`.
         */
        post: operations["createShow"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/events/create": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Create a show (the same as `POST /api/events`)
         * @description A verified performer for themselves (403 `performer_not_verified` otherwise); moderators and admins for a performer. Creates its room (named from the title unless `room` is given), its chat room (Matrix on) and its Mastodon announcement (Mastodon on). A repeated `Idempotency-Key` with the same body answers 200 with the same show; with another body 422 `idempotency_key_reused`.
         */
        post: operations["createShowAlias"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/events/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One show: its state, join link, chat alias and announcement */
        get: operations["showShow"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Reschedule, reprice, retitle or change the capacity of a show
         * @description The show's performer, moderators, admins. The announcement is edited; a new price applies to checkouts opened from then on; `capacity: null` lifts the limit.
         */
        patch: operations["updateShow"];
        trace?: never;
    };
    "/api/events/{id}/end": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * End a show
         * @description The video room closes on every shard and a reply under the announcement says so; again changes nothing.
         */
        post: operations["endShow"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/events/{id}/participants": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Who is in the show's room and who came */
        get: operations["showParticipants"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/events/{id}/pay": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Open a checkout for a ticket to the show */
        post: operations["payShow"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/events/{id}/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The show's audience and revenue
         * @description The room's performer, moderators, admins (revenue and the tips leaderboard: the performer and admins; `null` for moderators). Distinct viewers, present now, joins, total and median watch time per viewer, peak concurrency and when, joins per bucket (`bucket` seconds 60-86400, default 300, widened to at most 2000 buckets; empty buckets included), revenue per currency, and `top_tippers`: the ten biggest tippers. Open stays count up to `as_of`; a viewer's overlapping stays count once. A finished show's figures are computed once and stay exact; a running show's are recomputed every 5 s and never answered older than 30 s.
         */
        get: operations["showStats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/features/{name}/pay": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Open a checkout for a premium feature */
        post: operations["payFeature"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The caller's profile, verification and active plans
         * @description `plans`: premium features bought through payments (`verified_badge`, `custom_profile`, `advanced_analytics`) and platform plans, with their ends.
         */
        get: operations["me"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Change the display name or avatar
         * @description A custom avatar (shown in Jitsi through the token) needs the `custom_profile` feature: 402 with where to buy it otherwise.
         */
        patch: operations["updateMe"];
        trace?: never;
    };
    "/api/me/matrix": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Link an existing Matrix account
         * @description With Matrix on. Proven by the OpenID token the client got from `POST /_matrix/client/v3/user/{userId}/openid/request_token`; the chat then follows the linked account. 403 `matrix_proof_rejected`; 409 linked to another user; 422 another server or a malformed id; 404 without Matrix; 503 homeserver unreachable.
         */
        post: operations["linkMatrix"];
        /** Go back to the provisioned Matrix account */
        delete: operations["unlinkMatrix"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/moderation/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The moderation trail, newest first
         * @description Moderators and admins; a performer for their own room (`room=`). Actions: ban, unban, kick, end_room, grant, revoke, set_role, verify_performer, unverify_performer, end_sessions: who, whom, where, why. Paged with `next_before`.
         */
        get: operations["audit"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/moderation/ban": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Ban a user globally, from a room or from a performer's rooms
         * @description Moderators and admins for any scope; a performer for their own room or all their rooms, never against staff. Reaches the running rooms, the chat and (a global ban, Mastodon on) the user's Mastodon account.
         */
        post: operations["ban"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/moderation/unban": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Lift a ban */
        post: operations["unban"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/performers/verification": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Apply to be verified as a performer
         * @description A signed-in user who is not staff.
         */
        post: operations["applyForVerification"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/performers/{id}/call-terms": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * A performer's price per minute of a private call
         * @description The performer themself (rate-limited); calls asked for later pay it (`docs/calls.md`).
         */
        put: operations["setCallTerms"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/performers/{id}/earnings": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A performer's earnings per currency
         * @description The performer, admins.
         */
        get: operations["earnings"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/performers/{id}/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A performer's audience and revenue over a period
         * @description The performer, moderators, admins (revenue: the performer and admins). Per show: viewers, joins, watch time; distinct viewers across shows; revenue per currency (subscriptions and tips included), for the stays begun and the ledger entries booked in `[from, to)` (RFC 3339, both optional). Without a range, each show's kept figures are read; a range is computed from the stays in it.
         */
        get: operations["performerStats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/performers/{id}/subscribe": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Open a checkout for a subscription to a performer */
        post: operations["subscribe"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/performers/{id}/verification": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A performer's verification and its history
         * @description The user themselves, moderators, admins.
         */
        get: operations["verificationStatus"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/prosody/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Joins, leaves and destroyed rooms a shard saw */
        post: operations["occupantEvents"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/prosody/verdicts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Verdicts for a shard's occupants
         * @description A batch of up to 500 checks (`prosody-plugins/PROTOCOL.md`).
         */
        post: operations["verdicts"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/rooms/{room}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A room's title, access rule, price and schedule */
        get: operations["showRoom"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/rooms/{room}/ban": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Ban someone from this room
         * @description A performer may not ban staff or themselves; the user is removed from the running room.
         */
        post: operations["roomBan"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/rooms/{room}/end": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * End the show in a room
         * @description New joins are refused, the room is closed on every Prosody shard and its Matrix chat archived. The room's performer, moderators, admins.
         */
        post: operations["endRoom"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/rooms/{room}/kick": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Kick someone from the running room
         * @description Removes someone from the running video room now (202 once the kick is stored for every shard); they may rejoin while entitled: ban to keep them out. The room's performer, moderators, admins.
         */
        post: operations["kick"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/rooms/{room}/matrix-invite": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Queue the caller's invite to the room's chat again
         * @description With Matrix on; refused like the token endpoint (402/403/410); 404 without Matrix. Rate-limited per user.
         */
        post: operations["matrixInvite"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/rooms/{room}/participants": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Who is in the room now, who came and every stay
         * @description The room's performer, moderators, admins. A reconnect is a new stay.
         */
        get: operations["participants"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/rooms/{room}/pay": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Open a checkout for a ticket to the room */
        post: operations["payRoom"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/rooms/{room}/revenue": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A room's revenue per currency
         * @description The room's performer, admins.
         */
        get: operations["roomRevenue"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/rooms/{room}/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A room's audience and revenue
         * @description The room's performer, moderators, admins (revenue and the tips leaderboard: the performer and admins; `null` for moderators). Distinct viewers, present now, joins, total and median watch time per viewer, peak concurrency and when, joins per bucket (`bucket` seconds 60-86400, default 300, widened to at most 2000 buckets; empty buckets included), revenue per currency, and `top_tippers`: the ten biggest tippers. Open stays count up to `as_of`; a viewer's overlapping stays count once. A finished show's figures are computed once and stay exact; a running show's are recomputed every 5 s and never answered older than 30 s.
         */
        get: operations["roomStats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/rooms/{room}/tip": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Open a checkout for a tip to the room's performer
         * @description Once a provider confirms it, the running room shows `<name> tipped <amount> <currency>: <message>` in every occupant's Jitsi Meet chat and the show's Matrix chat gets it as an `m.notice`, each once however often the confirmation is repeated; a refund shows nothing. `message`: one line, at most 200 characters (422 `validation_failed`, `field: message`); `anonymous: true` shows "Someone".
         */
        post: operations["tip"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/rooms/{room}/token": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A Jitsi token for the room
         * @description 200 the token (with Matrix on, also `matrix`: the chat's alias and whether the caller is invited); 402 with the price and where to pay; 403 banned, invite-only or not yet valid; 404; 409 `room_full` to a viewer when every seat is taken (`capacity`, `retry_after`, `Retry-After`); 410 ended. Rate-limited per user.
         */
        post: operations["issueToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tokens/introspect": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Check a Jitsi token as roomkey issues them */
        post: operations["introspect"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/webhooks/epayco": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * ePayco's confirmation (query string)
         * @description roomkey applies ePayco's own record of the transaction (its lookup, `payments.epayco.validation_url`), never the notification's unsigned state, test flag or extras. 200 once durably applied or already applied; 400 bad signature; 404 unknown reference; 422 amount mismatch, a test transaction or a record that contradicts the signed fields; 503 retry.
         */
        get: operations["epaycoConfirmationGet"];
        put?: never;
        /**
         * ePayco's confirmation (form)
         * @description roomkey applies ePayco's own record of the transaction (its lookup, `payments.epayco.validation_url`), never the notification's unsigned state, test flag or extras. 200 once durably applied or already applied; 400 bad signature; 404 unknown reference; 422 amount mismatch, a test transaction or a record that contradicts the signed fields; 503 retry.
         */
        post: operations["epaycoConfirmation"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/webhooks/{provider}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A provider's signed payment event
         * @description Standard Webhooks or Stripe-style signature, per `payments.providers`.
         */
        post: operations["providerEvent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The process is up */
        get: operations["healthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jitsi/keys/{file}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One public key as Prosody's `asap_key_server` fetches it */
        get: operations["jitsiKey"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/join/{room}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The join page: sign in, pay, or be sent into the room
         * @description Jitsi Meet's `tokenAuthUrl`: 200 sign-in/sign-up; 303 into the Jitsi room with `#jwt=` in the fragment; 402 pay; 403 banned, invite-only or not yet; 404; 410 ended (`docs/join-page.md`). Spanish or English by `Accept-Language`.
         */
        get: operations["joinPage"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/join/{room}/pay": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Open ePayco's checkout from the join page
         * @description A form the join page posts, with its CSRF token (`roomkey_csrf` cookie) and the session cookie; sign-in and sign-up are rate-limited per address. Sign in or up answers 303 with an `HttpOnly; SameSite=Lax` session cookie.
         */
        post: operations["joinPay"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/join/{room}/sign-in": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Sign in from the join page
         * @description A form the join page posts, with its CSRF token (`roomkey_csrf` cookie) and the session cookie; sign-in and sign-up are rate-limited per address. Sign in or up answers 303 with an `HttpOnly; SameSite=Lax` session cookie.
         */
        post: operations["joinSignIn"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/join/{room}/sign-out": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Sign out from the join page
         * @description A form the join page posts, with its CSRF token (`roomkey_csrf` cookie) and the session cookie; sign-in and sign-up are rate-limited per address. Sign in or up answers 303 with an `HttpOnly; SameSite=Lax` session cookie.
         */
        post: operations["joinSignOut"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/join/{room}/sign-up": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Sign up from the join page
         * @description A form the join page posts, with its CSRF token (`roomkey_csrf` cookie) and the session cookie; sign-in and sign-up are rate-limited per address. Sign in or up answers 303 with an `HttpOnly; SameSite=Lax` session cookie.
         */
        post: operations["joinSignUp"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics
         * @description On the ops listener, or on the public one without it (404 there otherwise). With `roomkey_ready` and each outbox's backlog, `roomkey_outbox_pending`, read at scrape time; rules, alerts and a dashboard in `deploy/`.
         */
        get: operations["metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/oidc/authorize": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The authorization endpoint (code flow, PKCE)
         * @description PKCE (S256; required for public clients), `state`/`nonce`, `prompt=none|login|consent`, `max_age`: 303 to the registered redirect URI with `code` (or `error`), or the sign-in/sign-up page or, for clients not `first_party`, the consent page; an unknown client or a redirect URI not registered exactly gets roomkey's own 400 page, never a redirect (`docs/sso.md`).
         */
        get: operations["oidcAuthorize"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/oidc/consent": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Approve or deny a client */
        post: operations["oidcConsent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/oidc/jwks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The ID tokens' public keys
         * @description Its own RS256 key, never a Jitsi key.
         */
        get: operations["oidcJwks"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/oidc/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * RP-initiated logout
         * @description Ends the roomkey browser session and the OIDC sessions granted in it (back-channel logout to their clients); 303 to `post_logout_redirect_uri` (with `state`) only when it is registered for the client `id_token_hint` or `client_id` names, else a "signed out" page.
         */
        get: operations["oidcLogout"];
        put?: never;
        /**
         * RP-initiated logout (form)
         * @description Ends the roomkey browser session and the OIDC sessions granted in it (back-channel logout to their clients); 303 to `post_logout_redirect_uri` (with `state`) only when it is registered for the client `id_token_hint` or `client_id` names, else a "signed out" page.
         */
        post: operations["oidcLogoutPost"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/oidc/revoke": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Revoke a token and its family (RFC 7009)
         * @description The token's family (its OIDC session) is revoked, its back-channel logout queued and the user's approval of the client forgotten; rate-limited with `/oidc/token`.
         */
        post: operations["oidcRevoke"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/oidc/sign-in": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Sign in on the provider's page */
        post: operations["oidcSignIn"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/oidc/sign-up": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Sign up on the provider's page */
        post: operations["oidcSignUp"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/oidc/token": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * The token endpoint (`authorization_code`, `refresh_token`)
         * @description `authorization_code`: single-use, `oidc.code_ttl_secs`, bound to the client, the redirect URI and the verifier; a replay revokes what the first use issued. `refresh_token`: rotated; a reused one revokes the family. Errors as RFC 6749; `oidc.requests_per_minute` per address, then 429 `temporarily_unavailable` with `Retry-After`.
         */
        post: operations["oidcToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/oidc/userinfo": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The claims an access token releases
         * @description `oidc.requests_per_minute` per address, then 429 `rate_limited`.
         */
        get: operations["oidcUserinfo"];
        put?: never;
        /**
         * The claims an access token releases
         * @description `oidc.requests_per_minute` per address, then 429 `rate_limited`.
         */
        post: operations["oidcUserinfoPost"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This document */
        get: operations["openapi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Ready while the store answers within half a second
         * @description On the ops listener, or on the public one without it (404 there otherwise). The invalidation bus is reported, not required: without it decisions read SQL.
         */
        get: operations["readyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        AccessRecordView: {
            bans: components["schemas"]["BanView"][];
            entitlements: components["schemas"]["EntitlementView"][];
        };
        AnnouncementView: {
            status_id: string;
            url: string | null;
        };
        ApplicationView: {
            applied_at: string;
            note: string;
            user_id: string;
        };
        ApplicationsView: {
            applications: components["schemas"]["ApplicationView"][];
        };
        /**
         * @description What applying a notification did.
         * @enum {string}
         */
        Applied: "granted" | "recorded" | "held" | "denied" | "revoked" | "ignored" | "duplicate";
        AuditEntryView: {
            action: string;
            actor: string;
            at: string;
            details: unknown;
            id: string;
            reason: string | null;
            room: string | null;
            user_id: string | null;
        };
        AuditView: {
            entries: components["schemas"]["AuditEntryView"][];
            /** @description Pass as `before` for the next (older) page; absent on the last page. */
            next_before: string | null;
        };
        BanBody: {
            reason: string;
            scope: components["schemas"]["BanScopeBody"];
            until?: string | null;
            user_id: string;
        };
        BanScopeBody: {
            /** @constant */
            kind: "global";
        } | {
            /** @constant */
            kind: "room";
            room: string;
        } | {
            /** @constant */
            kind: "performer";
            performer_id: string;
        };
        BanView: {
            banned_by: string | null;
            created_at: string;
            id: string;
            lifted: unknown;
            reason: string;
            scope: unknown;
            until: string | null;
            user_id: string;
        };
        BucketView: {
            /** Format: int64 */
            joins: number;
            start: string;
        };
        CallTermsBody: {
            /** @description ISO 4217, e.g. `COP`. */
            currency: string;
            /**
             * Format: int64
             * @description The price of one minute, in the currency's minor units.
             */
            price_minor: number;
        };
        CallView: {
            accepted_at: string | null;
            currency: string;
            /**
             * Format: int64
             * @description The performer's share of the charged minutes.
             */
            earnings_minor: number;
            end_reason: string | null;
            ended_at: string | null;
            id: string;
            /** Format: int64 */
            minutes_charged: number;
            performer_id: string;
            /** Format: int64 */
            price_minor: number;
            requested_at: string;
            /** @description The private room's name, once accepted. */
            room: string | null;
            /** Format: int64 */
            running_seconds: number;
            /** @description `requested`, `accepted`, `declined` or `ended`. */
            state: string;
            /** Format: int64 */
            viewer_credit_minutes?: number | null;
            viewer_id: string;
        };
        /** @description A room's chat as a client sees it. */
        ChatStatus: {
            alias: string;
            /** @description Whether roomkey has invited the user (their latest change there was an invite). */
            invited: boolean;
        };
        CheckBody: {
            /**
             * @description The token id when the identity came from a Jitsi token; logged, not needed to judge.
             * @default null
             */
            jti?: string | null;
            room: string;
            user_id: string;
        };
        /** @description What a client needs to pay. */
        Checkout: {
            /** Format: int64 */
            amount_minor: number;
            currency: string;
            /** @description The fields ePayco's checkout takes (`key`, `invoice`, `extra1`, `confirmation`, …). */
            parameters: {
                [key: string]: string;
            };
            provider: string;
            reference: string;
        };
        /** @description Optional checkout body: which provider to pay with (ePayco unless named). */
        CheckoutBody: {
            provider?: string | null;
        };
        CommunityBody: {
            /** @description `signed_in`, `verified_performers` or `staff`. */
            rule: string;
            title: string;
        };
        CommunityView: {
            alias: string;
            name: string;
            rule: string;
            title: string;
        };
        CreateRoomBody: {
            access: string;
            /**
             * Format: int64
             * @description Seats for viewers (the owner and staff take none); absent: no limit.
             */
            capacity?: number | null;
            ends_at?: string | null;
            name: string;
            owner_id: string;
            /** @default [] */
            plans?: string[];
            price?: components["schemas"]["PriceBody"] | null;
            starts_at?: string | null;
            title: string;
        };
        CreateShowBody: {
            /** @description `free`, `paid` or `invite_only`; default `paid` with a price, `free` without. */
            access?: string | null;
            /**
             * Format: int64
             * @description Seats for viewers (the performer and staff take none); absent: no limit.
             */
            capacity?: number | null;
            /** @default  */
            description?: string;
            ends_at?: string | null;
            /** @default [] */
            hashtags?: string[];
            /** @description Required when staff create a show for a performer. */
            performer_id?: string | null;
            /** @description Absent or `null`: free for signed-in users. */
            price?: components["schemas"]["PriceBody"] | null;
            /** @description The Jitsi room name; made from the title when absent. */
            room?: string | null;
            /** @description RFC 3339. */
            starts_at: string;
            title: string;
        };
        EndBody: {
            reason: string;
        };
        EndSessionsBody: {
            reason?: string | null;
        };
        EndShowBody: {
            reason?: string | null;
        };
        EndedView: {
            ends_at: string | null;
            room: string;
            /** Format: uint */
            shards: number;
        };
        EntitlementView: {
            created_at: string;
            granted_by: string | null;
            id: string;
            /** Format: int64 */
            quantity: number | null;
            revoked: unknown;
            scope: unknown;
            source: string;
            source_ref: string | null;
            user_id: string;
            valid_from: string;
            valid_until: string | null;
        };
        /**
         * @description A stable error code; each has exactly one HTTP status.
         * @enum {string}
         */
        ErrorCode: "invalid_json" | "invalid_request" | "validation_failed" | "unauthenticated" | "invalid_credentials" | "forbidden" | "banned" | "entitlement_required" | "invite_required" | "entitlement_not_yet_valid" | "room_not_found" | "not_found" | "method_not_allowed" | "conflict" | "room_ended" | "payload_too_large" | "unsupported_media_type" | "rate_limited" | "unavailable" | "internal" | "invalid_signature" | "unknown_reference" | "amount_mismatch" | "record_mismatch" | "test_transaction_refused" | "provider_not_configured" | "not_for_sale" | "bad_signature" | "performer_not_verified" | "idempotency_key_reused" | "matrix_proof_rejected" | "room_full";
        /** @description Every refusal of the API. Some codes add details next to `code` (`field`, `price`, `capacity`, `retry_after`, …). */
        ErrorEnvelope: {
            error: {
                code: components["schemas"]["ErrorCode"];
                message: string;
                request_id: string;
            };
        };
        EventBody: {
            /** Format: double */
            at: number;
            /** @default null */
            nick?: string | null;
            occupant: string;
            room: string;
            /** @constant */
            type: "joined";
            user_id: string;
        } | {
            /** Format: double */
            at: number;
            occupant: string;
            /** @constant */
            type: "left";
        } | {
            /** Format: double */
            at: number;
            room: string;
            /** @constant */
            type: "room_destroyed";
        };
        EventsBody: {
            events: components["schemas"]["EventBody"][];
            shard: string;
        };
        GrantBody: {
            note?: string | null;
            /** Format: int64 */
            quantity?: number | null;
            scope: components["schemas"]["ScopeBody"];
            user_id: string;
            valid_from?: string | null;
            valid_until?: string | null;
        };
        IntrospectBody: {
            token: string;
        };
        IntrospectView: {
            active: boolean;
            claims?: components["schemas"]["VerifiedJitsiClaims"] | null;
            reason?: string | null;
        };
        KickBody: {
            reason: string;
            user_id: string;
        };
        LinkBody: {
            matrix_user_id: string;
            openid: components["schemas"]["OpenIdBody"];
        };
        /** @description The Matrix id a user now has. */
        LinkedAccount: {
            matrix_user_id: string;
            /** @description Whether it is the account roomkey provisions (`@<user_prefix><handle>`), not a linked one. */
            provisioned: boolean;
        };
        LoginBody: {
            /** @description Handle or e-mail. */
            login: string;
            password: string;
        };
        ManualPaymentBody: {
            /** Format: int64 */
            amount_minor: number;
            currency: string;
            provider: string;
            provider_ref: string;
            purchase: components["schemas"]["PurchaseBody"];
            user_id: string;
        };
        ManualPaymentView: {
            entitlement_id: string | null;
            reference: string;
            status: components["schemas"]["Applied"];
        };
        MeView: {
            avatar_url: string | null;
            display_name: string;
            email: string;
            handle: string;
            id: string;
            matrix_user_id: string | null;
            /**
             * @description Active plans and premium features (`verified_badge`, `custom_profile`,
             *     `advanced_analytics`, `member`, …), each with its end.
             */
            plans: components["schemas"]["PlanView"][];
            role: string;
            /** @description A performer staff have verified. */
            verified: boolean;
        };
        ModerationBanBody: {
            /** Format: int64 */
            duration_secs?: number | null;
            reason: string;
            scope: components["schemas"]["BanScopeBody"];
            /** @description RFC 3339; or give `duration_secs`; neither bans until lifted. */
            until?: string | null;
            user_id: string;
        };
        /** @description An amount in integer minor units (cents, centavos) of an ISO 4217 currency. */
        Money: {
            /** Format: int64 */
            amount_minor: number;
            currency: string;
        };
        NoteBody: {
            /**
             * @description Links, stage name, anything staff should see (≤ 1000 characters).
             * @default
             */
            note?: string;
        };
        /** @description An OAuth 2.0 error (RFC 6749 §5.2), as the OpenID endpoints answer. */
        OAuthError: {
            error: string;
            error_description?: string;
        };
        OccupantVerdict: {
            affiliation: string | null;
            allow: boolean;
            /**
             * Format: uint32
             * @description Seats for viewers (`member` occupants); the module refuses a join when none is left.
             *     `None`: no limit.
             */
            capacity: number | null;
            code: string | null;
            /** @description Paid or invite-only: a module that cannot reach roomkey keeps new joins out. */
            paid: boolean;
            reason: string | null;
            /**
             * Format: int64
             * @description When the answer may change by itself; the module re-asks then.
             */
            recheck_at: number | null;
            room: string;
            user_id: string;
            /**
             * Format: int64
             * @description In a private call: when the module warns the viewer that their credit runs out,
             *     and what it tells them (`recheck_at` is then the moment it runs out).
             */
            warn_at?: number | null;
            warning?: string | null;
        };
        /**
         * @description The OpenID token as `POST /_matrix/client/v3/user/{userId}/openid/request_token`
         *     returns it.
         */
        OpenIdBody: {
            access_token: string;
            /** Format: uint64 */
            expires_in?: number | null;
            matrix_server_name: string;
            token_type?: string | null;
        };
        ParticipantsView: {
            /** @description Everyone who has been in the room, with their total time. */
            people: components["schemas"]["PersonView"][];
            /** @description Everyone in the room now. */
            present: components["schemas"]["PersonView"][];
            room: string;
            /** @description Every stay, oldest first; a reconnect is a new stay. */
            segments: components["schemas"]["SegmentView"][];
        };
        PasswordBody: {
            current_password: string;
            new_password: string;
        };
        PerformerStatsView: {
            from: string | null;
            /** Format: int64 */
            joins: number;
            performer_id: string;
            revenue: components["schemas"]["RevenueTotals"][] | null;
            shows: components["schemas"]["ShowStatsView"][];
            to: string | null;
            /** Format: int64 */
            unique_viewers: number;
            /** Format: int64 */
            watch_secs: number;
        };
        /** @description A performer's commercial terms. */
        PerformerTerms: {
            performer_id: string;
            /** Format: int64 */
            performer_share_bps: number;
            subscription_price: components["schemas"]["Money"] | null;
            /** Format: int64 */
            updated_at: number;
        };
        PersonView: {
            display_name: string;
            /** Format: int64 */
            duration_secs: number;
            first_joined_at: string;
            handle: string;
            present: boolean;
            /** Format: uint32 */
            segments: number;
            user_id: string;
        };
        PlanView: {
            name: string;
            until: string | null;
        };
        PriceBody: {
            /** Format: int64 */
            amount_minor: number;
            /** @description ISO 4217. */
            currency: string;
        };
        PriceView: {
            /** Format: int64 */
            amount_minor: number;
            currency: string;
        };
        ProfileBody: {
            /**
             * @description `null` clears it; a new one needs the `custom_profile` feature.
             * @default null
             */
            avatar_url?: string | null;
            display_name?: string | null;
        };
        /**
         * @description roomkey's event shape for signed providers:
         *     `{"id": "evt_1", "type": "payment.succeeded", "data": {"reference": "<our reference>",
         *       "provider_ref": "pay_1", "amount_minor": 5000000, "currency": "COP"}}`.
         *     Types: `payment.succeeded`, `payment.pending`, `payment.failed`, `payment.refunded`,
         *     `payment.chargeback`.
         */
        ProviderEvent: {
            data: components["schemas"]["ProviderEventData"];
            id: string;
            type: string;
        };
        ProviderEventData: {
            /** Format: int64 */
            amount_minor: number;
            currency: string;
            provider_ref: string;
            reference: string;
        };
        ProvisionBody: {
            display_name?: string | null;
            email: string;
            handle: string;
            role?: string | null;
        };
        PurchaseBody: {
            /** @constant */
            kind: "room";
            room: string;
        } | {
            /** @constant */
            kind: "subscription";
            performer_id: string;
        } | {
            feature: string;
            /** @constant */
            kind: "feature";
        };
        ReasonBody: {
            reason: string;
        };
        RecordedView: {
            /** Format: uint64 */
            ignored: number;
            /** Format: uint64 */
            recorded: number;
        };
        RegisterBody: {
            display_name?: string | null;
            email: string;
            handle: string;
            password: string;
        };
        RequestBody: {
            /** @description The performer asked for a call. */
            performer_id: string;
        };
        /** @description Money totals for one currency. */
        RevenueTotals: {
            currency: string;
            /** Format: int64 */
            gross_minor: number;
            /** Format: int64 */
            performer_share_minor: number;
            /** Format: int64 */
            platform_share_minor: number;
            /** Format: int64 */
            refunded_minor: number;
            /** Format: int64 */
            tips_minor: number;
        };
        RevenueView: {
            currencies: components["schemas"]["RevenueTotals"][];
        };
        RoleBody: {
            role: string;
        };
        RoomBanBody: {
            reason: string;
            /** @description RFC 3339; absent bans until lifted. */
            until?: string | null;
            user_id: string;
        };
        RoomStatsView: {
            /** @description When the figures were taken; open stays count up to here. */
            as_of: string;
            /** Format: int64 */
            bucket_secs: number;
            first_join_at: string | null;
            /** Format: int64 */
            joins: number;
            joins_over_time: components["schemas"]["BucketView"][];
            last_join_at: string | null;
            /** Format: double */
            median_watch_secs: number | null;
            peak_at: string | null;
            /** Format: int64 */
            peak_concurrent: number;
            /** Format: int64 */
            present: number;
            revenue: components["schemas"]["RevenueTotals"][] | null;
            room: string;
            top_tippers: components["schemas"]["TipperTotal"][] | null;
            /** Format: int64 */
            viewers: number;
            /** Format: int64 */
            watch_secs: number;
        };
        RoomView: {
            access: string;
            /**
             * Format: uint32
             * @description Seats for viewers; `null`: no limit.
             */
            capacity: number | null;
            ends_at: string | null;
            name: string;
            owner_id: string;
            plans: string[];
            price: components["schemas"]["PriceView"] | null;
            starts_at: string | null;
            title: string;
        };
        ScopeBody: {
            /** @constant */
            kind: "room";
            room: string;
        } | {
            /** @constant */
            kind: "performer";
            performer_id: string;
        } | {
            /** @constant */
            kind: "plan";
            plan: string;
        } | {
            credit: string;
            /** @constant */
            kind: "credit";
        };
        SegmentView: {
            /** Format: int64 */
            duration_secs: number;
            handle: string;
            joined_at: string;
            left_at: string | null;
            user_id: string;
        };
        SentView: {
            /**
             * Format: uint
             * @description Prosody shards the command went to (delivery continues in the background).
             */
            shards: number;
        };
        SessionView: {
            expires_at: string;
            session_token: string;
            user: components["schemas"]["UserView"];
        };
        ShowListView: {
            events: components["schemas"]["ShowView"][];
        };
        ShowStatsView: {
            first_join_at: string;
            /** Format: int64 */
            joins: number;
            last_join_at: string;
            room: string;
            title: string;
            /** Format: int64 */
            viewers: number;
            /** Format: int64 */
            watch_secs: number;
        };
        ShowView: {
            access: string;
            /** @description The Mastodon announcement, once posted. */
            announcement: components["schemas"]["AnnouncementView"] | null;
            /**
             * Format: uint32
             * @description Seats for viewers; `null`: no limit.
             */
            capacity: number | null;
            /** @description The chat room's alias, when Matrix is configured. */
            chat_alias: string | null;
            created_at: string;
            description: string;
            ended_at: string | null;
            ends_at: string | null;
            hashtags: string[];
            id: string;
            /** @description Where viewers start: the join page signs them in, takes payment, and sends them on. */
            join_url: string;
            performer_id: string;
            price: components["schemas"]["PriceView"] | null;
            /** @description The Jitsi room name. */
            room: string;
            starts_at: string | null;
            /** @description `scheduled`, `live` or `ended`. */
            state: string;
            title: string;
            updated_at: string;
        };
        StepView: {
            actor: string;
            at: string;
            note: string;
            step: string;
        };
        TermsBody: {
            /** Format: int64 */
            performer_share_bps?: number | null;
            subscription_price?: components["schemas"]["PriceBody"] | null;
        };
        TermsView: {
            currency: string;
            performer_id: string;
            /** Format: int64 */
            price_minor: number;
            updated_at: string;
        };
        TipBody: {
            /** Format: int64 */
            amount_minor: number;
            /**
             * @description Shown as "Someone" instead of the tipper's name.
             * @default false
             */
            anonymous?: boolean;
            currency: string;
            /** @description Shown with the tip in the room and its chat. */
            message?: string | null;
            provider?: string | null;
        };
        /** @description One viewer's confirmed tips in one room and currency: a line of the show's leaderboard. */
        TipperTotal: {
            /** Format: int64 */
            amount_minor: number;
            currency: string;
            display_name: string;
            handle: string;
            /** Format: int64 */
            tips: number;
            user_id: string;
        };
        /** @description The token request body: nothing yet, but unknown fields are refused rather than ignored. */
        TokenRequest: Record<string, never>;
        TokenView: {
            expires_at: string;
            /** @description The Jitsi room with the token in the fragment, which browsers never send to servers. */
            join_url: string;
            jwt: string;
            /** @description The room's chat, when Matrix is configured. */
            matrix?: components["schemas"]["ChatStatus"] | null;
            moderator: boolean;
            room: string;
        };
        UnbanBody: {
            ban_id: string;
            reason: string;
        };
        UpdateRoomBody: {
            access?: string | null;
            /**
             * Format: int64
             * @default null
             */
            capacity?: number | null;
            /** @default null */
            ends_at?: string | null;
            plans?: string[] | null;
            price?: components["schemas"]["PriceBody"] | null;
            /** @default null */
            starts_at?: string | null;
            title?: string | null;
        };
        UpdateShowBody: {
            access?: string | null;
            /**
             * Format: int64
             * @description Seats for viewers; `null` removes the limit.
             * @default null
             */
            capacity?: number | null;
            description?: string | null;
            /** @default null */
            ends_at?: string | null;
            hashtags?: string[] | null;
            /** @description `null` makes the show free; a new price applies to checkouts opened from now on. */
            price?: components["schemas"]["PriceBody"] | null;
            starts_at?: string | null;
            title?: string | null;
        };
        UserView: {
            avatar_url: string | null;
            display_name: string;
            email: string;
            handle: string;
            id: string;
            matrix_user_id: string | null;
            role: string;
            /** @description A performer staff have verified. */
            verified: boolean;
        };
        VerdictsBody: {
            checks: components["schemas"]["CheckBody"][];
            shard: string;
        };
        VerdictsView: {
            verdicts: components["schemas"]["OccupantVerdict"][];
        };
        VerificationView: {
            history: components["schemas"]["StepView"][];
            /** @description `none`, `applied`, `verified`, `rejected` or `revoked`. */
            state: string;
            user_id: string;
        };
        /** @description The claims roomkey reads back from a Jitsi token it issued. */
        VerifiedJitsiClaims: {
            aud: string;
            context: unknown;
            /** Format: int64 */
            exp: number;
            /** Format: int64 */
            iat: number;
            iss: string;
            jti: string;
            /** Format: int64 */
            nbf: number;
            room: string;
            sub: string;
        };
        WebhookAnswer: {
            status: components["schemas"]["Applied"];
        };
    };
    responses: {
        /** @description refused: `invalid_json`, `invalid_request`, `invalid_signature` */
        Error400: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "invalid_json" | "invalid_request" | "invalid_signature";
                    };
                };
            };
        };
        /** @description refused: `unauthenticated`, `invalid_credentials`, `bad_signature` */
        Error401: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "unauthenticated" | "invalid_credentials" | "bad_signature";
                    };
                };
            };
        };
        /** @description refused: `entitlement_required` */
        Error402: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "entitlement_required";
                    };
                };
            };
        };
        /** @description refused: `forbidden`, `banned`, `invite_required`, `entitlement_not_yet_valid`, `performer_not_verified`, `matrix_proof_rejected` */
        Error403: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "forbidden" | "banned" | "invite_required" | "entitlement_not_yet_valid" | "performer_not_verified" | "matrix_proof_rejected";
                    };
                };
            };
        };
        /** @description refused: `room_not_found`, `not_found`, `unknown_reference`, `provider_not_configured` */
        Error404: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "room_not_found" | "not_found" | "unknown_reference" | "provider_not_configured";
                    };
                };
            };
        };
        /** @description refused: `method_not_allowed` */
        Error405: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "method_not_allowed";
                    };
                };
            };
        };
        /** @description refused: `conflict`, `not_for_sale`, `room_full` */
        Error409: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "conflict" | "not_for_sale" | "room_full";
                    };
                };
            };
        };
        /** @description refused: `room_ended` */
        Error410: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "room_ended";
                    };
                };
            };
        };
        /** @description refused: `payload_too_large` */
        Error413: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "payload_too_large";
                    };
                };
            };
        };
        /** @description refused: `unsupported_media_type` */
        Error415: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "unsupported_media_type";
                    };
                };
            };
        };
        /** @description refused: `validation_failed`, `amount_mismatch`, `record_mismatch`, `test_transaction_refused`, `idempotency_key_reused` */
        Error422: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "validation_failed" | "amount_mismatch" | "record_mismatch" | "test_transaction_refused" | "idempotency_key_reused";
                    };
                };
            };
        };
        /** @description refused: `rate_limited` */
        Error429: {
            headers: {
                /** @description seconds to wait before trying again */
                "Retry-After"?: number;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "rate_limited";
                    };
                };
            };
        };
        /** @description refused: `internal` */
        Error500: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "internal";
                    };
                };
            };
        };
        /** @description refused: `unavailable` */
        Error503: {
            headers: {
                /** @description seconds to wait before trying again */
                "Retry-After"?: number;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "unavailable";
                    };
                };
            };
        };
    };
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    jwks: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description a JSON Web Key Set */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        keys: Record<string, never>[];
                    };
                };
            };
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    oidcDiscovery: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OpenID Provider metadata */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            404: components["responses"]["Error404"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    adminBan: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["BanBody"];
            };
        };
        responses: {
            /** @description the ban */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BanView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    liftBan: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReasonBody"];
            };
        };
        responses: {
            /** @description the lifted ban */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BanView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    grant: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["GrantBody"];
            };
        };
        responses: {
            /** @description the entitlement */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EntitlementView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    revoke: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReasonBody"];
            };
        };
        responses: {
            /** @description the revoked entitlement */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EntitlementView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    putCommunity: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a name the resource before it knows */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CommunityBody"];
            };
        };
        responses: {
            /** @description registered */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CommunityView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    recordPayment: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ManualPaymentBody"];
            };
        };
        responses: {
            /** @description recorded */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ManualPaymentView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    recordChargeback: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description roomkey's payment reference (`invoice` at checkout) */
                reference: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description applied */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookAnswer"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    applications: {
        parameters: {
            query?: {
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the applications */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApplicationsView"];
                };
            };
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    setTerms: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TermsBody"];
            };
        };
        responses: {
            /** @description the terms */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PerformerTerms"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    approveVerification: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["NoteBody"];
            };
        };
        responses: {
            /** @description the verification */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VerificationView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    rejectVerification: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["NoteBody"];
            };
        };
        responses: {
            /** @description the verification */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VerificationView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    revokeVerification: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["NoteBody"];
            };
        };
        responses: {
            /** @description the verification */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VerificationView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    createRoom: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateRoomBody"];
            };
        };
        responses: {
            /** @description the room */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RoomView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    updateRoom: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateRoomBody"];
            };
        };
        responses: {
            /** @description the room */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RoomView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    adminEndRoom: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EndBody"];
            };
        };
        responses: {
            /** @description ended */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EndedView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    adminKick: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["KickBody"];
            };
        };
        responses: {
            /** @description stored for every shard */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SentView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    provisionUser: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ProvisionBody"];
            };
        };
        responses: {
            /** @description the user */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    accessRecord: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the record */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AccessRecordView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    setRole: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RoleBody"];
            };
        };
        responses: {
            /** @description the user */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    endSessions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["EndSessionsBody"];
            };
        };
        responses: {
            /** @description every session has ended */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    login: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LoginBody"];
            };
        };
        responses: {
            /** @description signed in */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            429: components["responses"]["Error429"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    logout: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the session has ended */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["Error401"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    logoutAll: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description every session has ended */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["Error401"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    changePassword: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PasswordBody"];
            };
        };
        responses: {
            /** @description changed: a new session */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            429: components["responses"]["Error429"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    register: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RegisterBody"];
            };
        };
        responses: {
            /** @description signed up: a session token */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionView"];
                };
            };
            400: components["responses"]["Error400"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            429: components["responses"]["Error429"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    requestCall: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RequestBody"];
            };
        };
        responses: {
            /** @description the call, requested */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CallView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            402: components["responses"]["Error402"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    showCall: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the call */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CallView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    acceptCall: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the call */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CallView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            402: components["responses"]["Error402"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    declineCall: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the call */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CallView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            402: components["responses"]["Error402"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    endCall: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the call */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CallView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            402: components["responses"]["Error402"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    listShows: {
        parameters: {
            query?: {
                limit?: number;
                performer_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the shows */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ShowListView"];
                };
            };
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    createShow: {
        parameters: {
            query?: never;
            header?: {
                /** @description makes a retried creation answer the show created the first time */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateShowBody"];
            };
        };
        responses: {
            /** @description created before with this key */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ShowView"];
                };
            };
            /** @description created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ShowView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    createShowAlias: {
        parameters: {
            query?: never;
            header?: {
                /** @description makes a retried creation answer the show created the first time */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateShowBody"];
            };
        };
        responses: {
            /** @description created before with this key */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ShowView"];
                };
            };
            /** @description created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ShowView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    showShow: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the show */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ShowView"];
                };
            };
            400: components["responses"]["Error400"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    updateShow: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateShowBody"];
            };
        };
        responses: {
            /** @description the updated show */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ShowView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            410: components["responses"]["Error410"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    endShow: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["EndShowBody"];
            };
        };
        responses: {
            /** @description the ended show */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ShowView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    showParticipants: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the participants */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ParticipantsView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    payShow: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["CheckoutBody"];
            };
        };
        responses: {
            /** @description the checkout */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Checkout"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    showStats: {
        parameters: {
            query?: {
                bucket?: number;
            };
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the statistics */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RoomStatsView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    payFeature: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a name the resource before it knows */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["CheckoutBody"];
            };
        };
        responses: {
            /** @description the checkout: ePayco's parameters (roomkey's reference in `invoice` and `extra1`) */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Checkout"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    me: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the caller */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MeView"];
                };
            };
            401: components["responses"]["Error401"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    updateMe: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ProfileBody"];
            };
        };
        responses: {
            /** @description the updated profile */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            402: components["responses"]["Error402"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    linkMatrix: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LinkBody"];
            };
        };
        responses: {
            /** @description linked */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LinkedAccount"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    unlinkMatrix: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the provisioned account */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LinkedAccount"];
                };
            };
            401: components["responses"]["Error401"];
            404: components["responses"]["Error404"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    audit: {
        parameters: {
            query?: {
                action?: string;
                actor?: string;
                before?: string;
                limit?: number;
                room?: string;
                user_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description a page of the trail */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    ban: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ModerationBanBody"];
            };
        };
        responses: {
            /** @description the ban */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BanView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    unban: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UnbanBody"];
            };
        };
        responses: {
            /** @description the lifted ban */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BanView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    applyForVerification: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["NoteBody"];
            };
        };
        responses: {
            /** @description the application */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VerificationView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    setCallTerms: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CallTermsBody"];
            };
        };
        responses: {
            /** @description the terms */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TermsView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            429: components["responses"]["Error429"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    earnings: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description gross, shares net of refunds, refunds and tips */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RevenueView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    performerStats: {
        parameters: {
            query?: {
                from?: string;
                to?: string;
            };
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the statistics */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PerformerStatsView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    subscribe: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["CheckoutBody"];
            };
        };
        responses: {
            /** @description the checkout: ePayco's parameters (roomkey's reference in `invoice` and `extra1`) */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Checkout"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    verificationStatus: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the id of the resource named before it */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the verification */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VerificationView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    occupantEvents: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EventsBody"];
            };
        };
        responses: {
            /** @description recorded */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RecordedView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            413: components["responses"]["Error413"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    verdicts: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["VerdictsBody"];
            };
        };
        responses: {
            /** @description one verdict per check */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VerdictsView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            413: components["responses"]["Error413"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    showRoom: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the room */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RoomView"];
                };
            };
            400: components["responses"]["Error400"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    roomBan: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RoomBanBody"];
            };
        };
        responses: {
            /** @description the ban */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BanView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    endRoom: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EndBody"];
            };
        };
        responses: {
            /** @description ended */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EndedView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    kick: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["KickBody"];
            };
        };
        responses: {
            /** @description stored for every shard */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SentView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    matrixInvite: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the invite is queued */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ChatStatus"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            402: components["responses"]["Error402"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            410: components["responses"]["Error410"];
            422: components["responses"]["Error422"];
            429: components["responses"]["Error429"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    participants: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the participants */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ParticipantsView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    payRoom: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["CheckoutBody"];
            };
        };
        responses: {
            /** @description the checkout: ePayco's parameters (roomkey's reference in `invoice` and `extra1`) */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Checkout"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    roomRevenue: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description gross, shares net of refunds, refunds and tips */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RevenueView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    roomStats: {
        parameters: {
            query?: {
                bucket?: number;
            };
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the statistics */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RoomStatsView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    tip: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TipBody"];
            };
        };
        responses: {
            /** @description the checkout: ePayco's parameters (roomkey's reference in `invoice` and `extra1`) */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Checkout"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    issueToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["TokenRequest"];
            };
        };
        responses: {
            /** @description the token */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            402: components["responses"]["Error402"];
            403: components["responses"]["Error403"];
            404: components["responses"]["Error404"];
            409: components["responses"]["Error409"];
            410: components["responses"]["Error410"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            429: components["responses"]["Error429"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    introspect: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["IntrospectBody"];
            };
        };
        responses: {
            /** @description whether it is active, and its claims */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["IntrospectView"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            403: components["responses"]["Error403"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    epaycoConfirmationGet: {
        parameters: {
            query?: {
                x_ref_payco?: string;
                x_transaction_id?: string;
                x_amount?: string;
                x_currency_code?: string;
                x_signature?: string;
                x_id_invoice?: string;
                x_extra1?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description applied */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookAnswer"];
                };
            };
            400: components["responses"]["Error400"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    epaycoConfirmation: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": {
                    x_amount?: string;
                    x_currency_code?: string;
                    x_extra1?: string;
                    x_id_invoice?: string;
                    x_ref_payco: string;
                    x_signature: string;
                    x_transaction_id?: string;
                };
            };
        };
        responses: {
            /** @description applied */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookAnswer"];
                };
            };
            400: components["responses"]["Error400"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    providerEvent: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a provider configured in `payments.providers` */
                provider: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ProviderEvent"];
            };
        };
        responses: {
            /** @description applied */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookAnswer"];
                };
            };
            400: components["responses"]["Error400"];
            401: components["responses"]["Error401"];
            404: components["responses"]["Error404"];
            413: components["responses"]["Error413"];
            415: components["responses"]["Error415"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    healthz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description up */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        status: "ok";
                    };
                };
            };
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    jitsiKey: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a key file, `<kid>.pem` */
                file: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the key */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/x-pem-file": string;
                };
            };
            400: components["responses"]["Error400"];
            404: components["responses"]["Error404"];
            422: components["responses"]["Error422"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    joinPage: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description an HTML page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description sent on (`Location`) */
            303: {
                headers: {
                    Location?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description an HTML page */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            402: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            500: components["responses"]["Error500"];
            /** @description an HTML page */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    joinPay: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": {
                    csrf: string;
                };
            };
        };
        responses: {
            /** @description an HTML page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description sent on (`Location`) */
            303: {
                headers: {
                    Location?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description an HTML page */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            402: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            413: components["responses"]["Error413"];
            /** @description an HTML page */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            500: components["responses"]["Error500"];
            /** @description an HTML page */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    joinSignIn: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": {
                    csrf: string;
                    login?: string;
                    password?: string;
                };
            };
        };
        responses: {
            /** @description an HTML page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description sent on (`Location`) */
            303: {
                headers: {
                    Location?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description an HTML page */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            402: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            413: components["responses"]["Error413"];
            /** @description an HTML page */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            500: components["responses"]["Error500"];
            /** @description an HTML page */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    joinSignOut: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": {
                    csrf: string;
                };
            };
        };
        responses: {
            /** @description an HTML page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description sent on (`Location`) */
            303: {
                headers: {
                    Location?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description an HTML page */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            402: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            413: components["responses"]["Error413"];
            /** @description an HTML page */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            500: components["responses"]["Error500"];
            /** @description an HTML page */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    joinSignUp: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a room's name (a Jitsi room name; letters are compared case-blind) */
                room: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": {
                    csrf: string;
                    display_name?: string;
                    email?: string;
                    handle?: string;
                    password?: string;
                };
            };
        };
        responses: {
            /** @description an HTML page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description sent on (`Location`) */
            303: {
                headers: {
                    Location?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description an HTML page */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            402: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            413: components["responses"]["Error413"];
            /** @description an HTML page */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description an HTML page */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            500: components["responses"]["Error500"];
            /** @description an HTML page */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the text exposition */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            404: components["responses"]["Error404"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    oidcAuthorize: {
        parameters: {
            query?: {
                client_id?: string;
                redirect_uri?: string;
                response_type?: string;
                scope?: string;
                state?: string;
                nonce?: string;
                code_challenge?: string;
                code_challenge_method?: string;
                prompt?: string;
                max_age?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description an HTML page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description sent on (`Location`) */
            303: {
                headers: {
                    Location?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description an HTML page */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            422: components["responses"]["Error422"];
            /** @description an HTML page */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            500: components["responses"]["Error500"];
            /** @description an HTML page */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    oidcConsent: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": {
                    authorize?: string;
                    csrf: string;
                    decision?: string;
                };
            };
        };
        responses: {
            /** @description an HTML page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description sent on (`Location`) */
            303: {
                headers: {
                    Location?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description an HTML page */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            413: components["responses"]["Error413"];
            /** @description an HTML page */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            500: components["responses"]["Error500"];
            /** @description an HTML page */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    oidcJwks: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description a JSON Web Key Set */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        keys: Record<string, never>[];
                    };
                };
            };
            404: components["responses"]["Error404"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    oidcLogout: {
        parameters: {
            query?: {
                id_token_hint?: string;
                post_logout_redirect_uri?: string;
                client_id?: string;
                state?: string;
                ui_locales?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description an HTML page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description sent on (`Location`) */
            303: {
                headers: {
                    Location?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description an HTML page */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            422: components["responses"]["Error422"];
            /** @description an HTML page */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            500: components["responses"]["Error500"];
            /** @description an HTML page */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    oidcLogoutPost: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": {
                    client_id?: string;
                    csrf?: string;
                    id_token_hint?: string;
                    post_logout_redirect_uri?: string;
                    state?: string;
                };
            };
        };
        responses: {
            /** @description an HTML page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description sent on (`Location`) */
            303: {
                headers: {
                    Location?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description an HTML page */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            413: components["responses"]["Error413"];
            /** @description an HTML page */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            500: components["responses"]["Error500"];
            /** @description an HTML page */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    oidcRevoke: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": {
                    client_id?: string;
                    client_secret?: string;
                    token: string;
                    token_type_hint?: string;
                };
            };
        };
        responses: {
            /** @description revoked, or never known */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description an OAuth error */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OAuthError"] | components["schemas"]["ErrorEnvelope"];
                };
            };
            /** @description an OAuth error */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OAuthError"] | components["schemas"]["ErrorEnvelope"];
                };
            };
            413: components["responses"]["Error413"];
            /** @description an OAuth error */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OAuthError"] | components["schemas"]["ErrorEnvelope"];
                };
            };
            500: components["responses"]["Error500"];
            /** @description an OAuth error */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OAuthError"] | components["schemas"]["ErrorEnvelope"];
                };
            };
        };
    };
    oidcSignIn: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": {
                    authorize?: string;
                    csrf: string;
                    login?: string;
                    password?: string;
                };
            };
        };
        responses: {
            /** @description an HTML page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description sent on (`Location`) */
            303: {
                headers: {
                    Location?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description an HTML page */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            413: components["responses"]["Error413"];
            /** @description an HTML page */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            500: components["responses"]["Error500"];
            /** @description an HTML page */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    oidcSignUp: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": {
                    authorize?: string;
                    csrf: string;
                    display_name?: string;
                    email?: string;
                    handle?: string;
                    password?: string;
                };
            };
        };
        responses: {
            /** @description an HTML page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description sent on (`Location`) */
            303: {
                headers: {
                    Location?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description an HTML page */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            413: components["responses"]["Error413"];
            /** @description an HTML page */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            500: components["responses"]["Error500"];
            /** @description an HTML page */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    oidcToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": {
                    client_id?: string;
                    client_secret?: string;
                    code?: string;
                    code_verifier?: string;
                    grant_type: string;
                    redirect_uri?: string;
                    refresh_token?: string;
                    scope?: string;
                };
            };
        };
        responses: {
            /** @description tokens */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        access_token: string;
                        expires_in: number;
                        id_token?: string;
                        refresh_token?: string;
                        scope?: string;
                        /** @constant */
                        token_type: "Bearer";
                    };
                };
            };
            /** @description an OAuth error */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OAuthError"] | components["schemas"]["ErrorEnvelope"];
                };
            };
            /** @description an OAuth error */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OAuthError"] | components["schemas"]["ErrorEnvelope"];
                };
            };
            413: components["responses"]["Error413"];
            /** @description an OAuth error */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OAuthError"] | components["schemas"]["ErrorEnvelope"];
                };
            };
            500: components["responses"]["Error500"];
            /** @description an OAuth error */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OAuthError"] | components["schemas"]["ErrorEnvelope"];
                };
            };
        };
    };
    oidcUserinfo: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the claims */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        email?: string;
                        email_verified?: boolean;
                        name?: string;
                        picture?: string;
                        preferred_username?: string;
                        sub: string;
                    };
                };
            };
            401: components["responses"]["Error401"];
            429: components["responses"]["Error429"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    oidcUserinfoPost: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the claims */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        email?: string;
                        email_verified?: boolean;
                        name?: string;
                        picture?: string;
                        preferred_username?: string;
                        sub: string;
                    };
                };
            };
            401: components["responses"]["Error401"];
            429: components["responses"]["Error429"];
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    openapi: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OpenAPI 3.1 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            500: components["responses"]["Error500"];
            503: components["responses"]["Error503"];
        };
    };
    readyz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description ready */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        invalidation_bus: boolean;
                        store: boolean;
                    };
                };
            };
            404: components["responses"]["Error404"];
            500: components["responses"]["Error500"];
            /** @description not ready (or cut short) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        invalidation_bus: boolean;
                        store: boolean;
                    } | components["schemas"]["ErrorEnvelope"];
                };
            };
        };
    };
}
