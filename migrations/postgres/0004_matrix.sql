-- Matrix: the durable outbox of changes owed to the homeserver, the Matrix room made for
-- each roomkey room, and what roomkey last did to each (room, user) there.

CREATE TABLE matrix_outbox (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Changes with the same key are applied in `seq` order: `<user id>/<room id>`,
    -- `room/<room id>` or `user/<user id>`.
    order_key       TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('create_room', 'provision', 'invite', 'kick', 'ban', 'unban')),
    user_id         TEXT,
    room_id         TEXT,
    reason          TEXT NOT NULL DEFAULT '',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- A worker holds the row until then (several instances may run workers).
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    -- Set when the homeserver refused the change for good; kept for inspection.
    failed_at       BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX matrix_outbox_pending ON matrix_outbox (seq) WHERE failed_at IS NULL;

CREATE TABLE matrix_rooms (
    room_id        TEXT PRIMARY KEY REFERENCES rooms (id),
    matrix_room_id TEXT NOT NULL,
    alias          TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE matrix_members (
    room_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    -- What roomkey last did: invite, kick, ban or unban.
    state      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
