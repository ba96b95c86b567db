//! The closed label sets: every label value a series can carry is a variant here, so the
//! series count is fixed at start-up.

/// Declares a closed label enum with its Prometheus values.
macro_rules! label_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $value),+ }
            }
            /// The variant whose label is `text`.
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
            pub(super) fn index(self) -> usize { self as usize }
        }
    };
}

label_enum!(
    /// Why a token request ended the way it did.
    TokenOutcome {
        Issued => "issued",
        Reused => "reused",
        Banned => "banned",
        PaymentRequired => "payment_required",
        InviteRequired => "invite_required",
        NotYetValid => "not_yet_valid",
        RoomEnded => "room_ended",
        RoomNotFound => "room_not_found",
        Unavailable => "unavailable",
        RoomFull => "room_full",
    }
);

label_enum!(
    /// Which cache a lookup went to.
    CacheName { UserFacts => "user_facts", Rooms => "rooms" }
);

label_enum!(
    /// Which tier answered a cache lookup.
    CacheTier { Memory => "memory", Redis => "redis", Sql => "sql" }
);

label_enum!(
    /// Store operations, timed per backend.
    StoreOp {
        FindUser => "find_user",
        FindRoom => "find_room",
        FindBans => "find_bans",
        FindUserFacts => "find_user_facts",
        Write => "write",
        Stats => "stats",
        Other => "other",
    }
);

label_enum!(
    /// Redis operations, timed.
    RedisOp { CacheGet => "cache_get", CacheSet => "cache_set", Invalidate => "invalidate" }
);

label_enum!(
    /// What a payment notification did.
    WebhookOutcome {
        Granted => "granted",
        Held => "held",
        Denied => "denied",
        Revoked => "revoked",
        Ignored => "ignored",
        Duplicate => "duplicate",
        Rejected => "rejected",
        Failed => "failed",
    }
);

label_enum!(
    /// A command sent to a Prosody shard.
    LiveCommand { Kick => "kick", Revalidate => "revalidate", EndRoom => "end_room", Announce => "announce" }
);

label_enum!(
    /// How a command to one shard ended (after its retries).
    CommandOutcome { Delivered => "delivered", Failed => "failed" }
);

label_enum!(
    /// A change delivered to the Matrix homeserver.
    MatrixAction {
        CreateRoom => "create_room",
        Provision => "provision",
        Invite => "invite",
        Kick => "kick",
        Ban => "ban",
        Unban => "unban",
        Archive => "archive",
        PowerLevels => "power_levels",
        CreateCommunity => "create_community",
        SyncCommunity => "sync_community",
        Forget => "forget",
        Notice => "notice",
    }
);

label_enum!(
    /// How one delivery attempt of an outbox entry (a Matrix change, a Mastodon call, a
    /// back-channel logout) ended.
    DeliveryOutcome { Delivered => "delivered", Skipped => "skipped", Retried => "retried", Failed => "failed" }
);

label_enum!(
    /// Which fact a stored change is about (`domain::Change::kind`).
    ChangeKind {
        EntitlementGranted => "entitlement_granted",
        EntitlementRevoked => "entitlement_revoked",
        BanPlaced => "ban_placed",
        BanLifted => "ban_lifted",
        RoleChanged => "role_changed",
        VerificationChanged => "verification_changed",
        RoomCreated => "room_created",
        RoomUpdated => "room_updated",
        RoomEnded => "room_ended",
        PaymentApplied => "payment_applied",
        SessionsEnded => "sessions_ended",
        CallMinuteCharged => "call_minute_charged",
    }
);

label_enum!(
    /// How handing one change to the subscribers ended: at once by its writer, later by a
    /// worker (the writer died, or an attempt failed), or failed and to be tried again.
    ChangeOutcome { Delivered => "delivered", DeliveredLate => "delivered_late", Retried => "retried" }
);

label_enum!(
    /// A call made to the platform's Mastodon.
    MastodonAction {
        Announce => "announce",
        Edit => "edit",
        Reply => "reply",
        AccountAction => "account_action",
    }
);

label_enum!(
    /// Where a confirmed tip is announced: the running Jitsi room, or the show's Matrix chat.
    TipChannel { Jitsi => "jitsi", Matrix => "matrix" }
);

label_enum!(
    /// What became of a tip's notice when its change was delivered: stored for delivery
    /// (`queued`; the delivery itself is counted with the live commands and Matrix changes),
    /// not sent (`skipped`: no shards, Matrix off, or the tip is too old to show in a
    /// running room), or not stored (`failed`; the change is retried).
    TipNoticeOutcome { Queued => "queued", Skipped => "skipped", Failed => "failed" }
);

label_enum!(
    /// What roomkey answered Prosody about one occupant.
    ProsodyVerdict { Allow => "allow", Deny => "deny" }
);

label_enum!(
    /// Which listener a connection came to.
    ListenerName { Public => "public", Ops => "ops" }
);

label_enum!(
    /// Why a request was answered 503 before its handler finished.
    RequestCut { Shed => "shed", TimedOut => "timed_out" }
);

label_enum!(
    /// Coarse outcome of an HTTP request, for latency histograms.
    HttpOutcome { Success => "success", ClientError => "client_error", ServerError => "server_error" }
);
