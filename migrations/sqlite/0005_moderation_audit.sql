-- The moderation audit trail: who did what to whom, where and why. Append-only; rows are
-- never updated or deleted, and they outlive the users and rooms they name (no foreign
-- keys), so the trail stays complete.

CREATE TABLE moderation_audit (
    -- UUIDv7: ordered by time, and the cursor for paging backwards.
    id         TEXT PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('ban', 'unban', 'kick', 'end_room', 'grant', 'revoke', 'set_role')),
    user_id    TEXT,
    room       TEXT,
    reason     TEXT,
    -- JSON object with what else the action carried (ban scope and end, new role, …).
    details    TEXT NOT NULL
);
CREATE INDEX moderation_audit_user ON moderation_audit (user_id, id);
CREATE INDEX moderation_audit_room ON moderation_audit (room, id);
CREATE INDEX moderation_audit_actor ON moderation_audit (actor, id);
