-- Kicks and room ends waiting for a Prosody shard to take them. A command is stored for
-- every shard before the answer goes out, so a shard that is down, partitioned or
-- misconfigured gets it when it answers again, from any instance, across restarts; it is
-- given up (failed_at set, kept for inspection) once it is too old to act on.
CREATE TABLE live_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The shard's commands URL, from prosody.shards.
    shard           TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('kick', 'end_room')),
    -- The signed body, with the command's id (shards run an id once).
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    failed_at       INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX live_outbox_pending ON live_outbox (next_attempt_at) WHERE failed_at IS NULL;
