-- Shows, their Mastodon announcements, and performer verification.

-- A show is the public face of exactly one room: the room carries name, access, price and
-- schedule (what the token path reads); the show adds what the announcement needs.
CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    room_id         TEXT NOT NULL UNIQUE REFERENCES rooms (id),
    performer_id    TEXT NOT NULL REFERENCES users (id),
    -- Who asked for it: the performer, or staff on their behalf (`user:<id>`, `admin-key`).
    created_by      TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    -- Space-separated, without `#`.
    hashtags        TEXT NOT NULL DEFAULT '',
    -- The client's Idempotency-Key and a digest of the request it came with: a retry with
    -- the same key and body gets the same show, the same key with another body is refused.
    idempotency_key TEXT,
    request_digest  TEXT,
    -- The announcement on Mastodon, once posted.
    status_id       TEXT,
    status_url      TEXT,
    ended_at        BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (created_by, idempotency_key)
);
CREATE INDEX events_performer ON events (performer_id, created_at);

-- Calls owed to Mastodon, delivered by a worker with retries. Rows with the same order key
-- (`event/<id>`, `account/<user id>`) go in `seq` order: an edit never overtakes the post.
CREATE TABLE mastodon_outbox (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_key       TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('announce', 'edit', 'reply', 'account_action')),
    event_id        TEXT,
    user_id         TEXT,
    -- JSON: the call's parameters (status text, visibility, moderation type, …).
    payload         TEXT NOT NULL,
    -- Sent as Mastodon's Idempotency-Key, so a retry after a lost answer never posts twice.
    idempotency_key TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    failed_at       BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX mastodon_outbox_pending ON mastodon_outbox (seq) WHERE failed_at IS NULL;

-- Performer verification as append-only facts; `users.verified_at` is the current state,
-- written in the same transaction as the fact that changes it.
CREATE TABLE performer_verifications (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    action     TEXT NOT NULL CHECK (action IN ('apply', 'approve', 'reject', 'revoke')),
    actor      TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX performer_verifications_user ON performer_verifications (user_id, id);
CREATE INDEX performer_verifications_action ON performer_verifications (action, id);

ALTER TABLE users ADD COLUMN verified_at BIGINT;

-- The audit trail learns the verification actions.
ALTER TABLE moderation_audit DROP CONSTRAINT moderation_audit_action_check;
ALTER TABLE moderation_audit ADD CONSTRAINT moderation_audit_action_check
    CHECK (action IN ('ban', 'unban', 'kick', 'end_room', 'grant', 'revoke', 'set_role', 'verify_performer', 'unverify_performer'));
