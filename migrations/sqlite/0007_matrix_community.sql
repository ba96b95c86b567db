-- Matrix, continued: community rooms (`#general`, `#support`, performers-only rooms) with
-- the rule for who may be in them, and the outbox actions that came with them, with live
-- rooms' power levels and archiving, and with linking an existing Matrix account.

-- When a live room's chat was made read-only because its show ended.
ALTER TABLE matrix_rooms ADD COLUMN archived_at INTEGER;

CREATE TABLE matrix_community_rooms (
    -- The alias localpart after `matrix.alias_prefix`, e.g. `general`.
    name           TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    -- Who may be in the room: anyone signed in with a Matrix id, performers, or staff.
    rule           TEXT NOT NULL CHECK (rule IN ('signed_in', 'verified_performers', 'staff')),
    -- Set once the room has been created on the homeserver (or adopted by its alias).
    matrix_room_id TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- SQLite cannot change a CHECK constraint in place: the outbox is rebuilt with the wider
-- action list and a `matrix_user_id` column (the Matrix id a `forget` removes), keeping
-- every row, its `seq`, and the AUTOINCREMENT high-water mark so no `seq` is ever reused.
CREATE TABLE matrix_outbox_next (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_key       TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('create_room', 'provision', 'invite', 'kick', 'ban', 'unban',
                        'archive', 'power_levels', 'create_community', 'sync_community', 'forget')),
    user_id         TEXT,
    room_id         TEXT,
    matrix_user_id  TEXT,
    reason          TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    failed_at       INTEGER,
    created_at      INTEGER NOT NULL
);
INSERT INTO matrix_outbox_next (seq, order_key, action, user_id, room_id, reason, attempts,
    next_attempt_at, claimed_until, last_error, failed_at, created_at)
SELECT seq, order_key, action, user_id, room_id, reason, attempts,
    next_attempt_at, claimed_until, last_error, failed_at, created_at
FROM matrix_outbox ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'matrix_outbox_next';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'matrix_outbox_next', seq FROM sqlite_sequence WHERE name = 'matrix_outbox';
DROP TABLE matrix_outbox;
ALTER TABLE matrix_outbox_next RENAME TO matrix_outbox;
CREATE INDEX matrix_outbox_pending ON matrix_outbox (seq) WHERE failed_at IS NULL;
