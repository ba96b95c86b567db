-- Facts that changed (entitlements, bans, roles, rooms, payments), written in the same
-- transaction as the change itself and handed to every subscriber (caches, live
-- enforcement, Matrix, Mastodon) by the dispatcher. The instance that wrote a row holds it
-- (claimed_until) while it delivers it at once; a row still here after that, because the
-- instance crashed or a subscriber failed, is delivered by any instance's worker. Rows are
-- deleted once every subscriber has taken them, and never given up on. The table stays
-- small (a delivered row is deleted within about a second), so it has no index beyond its
-- key: every index would be one more write in every payment's transaction.
CREATE TABLE change_outbox (
    seq             INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    -- The change as JSON (domain::Change).
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    -- Never set: a change is retried until delivered (the column keeps the outboxes alike).
    failed_at       INTEGER,
    created_at      INTEGER NOT NULL
);
