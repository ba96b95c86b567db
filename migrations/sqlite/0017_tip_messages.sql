-- Tips shown in the running room and its chat.

-- What a tipper asked to be shown with their tip: a short message and whether to stay
-- anonymous. Written with the tip's intent at checkout, read when the tip is confirmed.
CREATE TABLE tip_messages (
    intent_id  TEXT PRIMARY KEY REFERENCES payment_intents (id),
    message    TEXT,
    anonymous  INTEGER NOT NULL DEFAULT 0 CHECK (anonymous IN (0, 1)),
    created_at INTEGER NOT NULL
);

-- A confirmed tip is an `announce` command for every shard and a `notice` for the show's
-- Matrix chat. SQLite cannot change a CHECK constraint in place: both outboxes are rebuilt
-- with the wider lists, keeping every row, its `seq`, and the AUTOINCREMENT high-water mark
-- so no `seq` is ever reused (as 0007 did).
CREATE TABLE live_outbox_next (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    shard           TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('kick', 'end_room', 'announce')),
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    failed_at       INTEGER,
    created_at      INTEGER NOT NULL
);
INSERT INTO live_outbox_next (seq, shard, kind, body, attempts, next_attempt_at, claimed_until,
    last_error, failed_at, created_at)
SELECT seq, shard, kind, body, attempts, next_attempt_at, claimed_until, last_error, failed_at,
    created_at
FROM live_outbox ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'live_outbox_next';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'live_outbox_next', seq FROM sqlite_sequence WHERE name = 'live_outbox';
DROP TABLE live_outbox;
ALTER TABLE live_outbox_next RENAME TO live_outbox;
CREATE INDEX live_outbox_pending ON live_outbox (next_attempt_at) WHERE failed_at IS NULL;

CREATE TABLE matrix_outbox_next (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_key       TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('create_room', 'provision', 'invite', 'kick', 'ban', 'unban',
                        'archive', 'power_levels', 'create_community', 'sync_community', 'forget',
                        'notice')),
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
INSERT INTO matrix_outbox_next (seq, order_key, action, user_id, room_id, matrix_user_id, reason,
    attempts, next_attempt_at, claimed_until, last_error, failed_at, created_at)
SELECT seq, order_key, action, user_id, room_id, matrix_user_id, reason, attempts,
    next_attempt_at, claimed_until, last_error, failed_at, created_at
FROM matrix_outbox ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'matrix_outbox_next';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'matrix_outbox_next', seq FROM sqlite_sequence WHERE name = 'matrix_outbox';
DROP TABLE matrix_outbox;
ALTER TABLE matrix_outbox_next RENAME TO matrix_outbox;
CREATE INDEX matrix_outbox_pending ON matrix_outbox (seq) WHERE failed_at IS NULL;
