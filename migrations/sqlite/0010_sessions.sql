-- Sessions that can be ended. A session token carries the user's session generation at
-- issue time; bumping it (sign out everywhere, a password change, an admin's revocation, a
-- global ban) ends every session issued before. One session is ended by its id, kept until
-- the token would have expired anyway.
ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0;

CREATE TABLE session_revocations (
    jti         TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER NOT NULL
);
CREATE INDEX session_revocations_user ON session_revocations (user_id, expires_at);

-- The audit trail learns the staff action of ending a user's sessions. SQLite cannot
-- change a CHECK in place, so the table is rebuilt with every row kept.
CREATE TABLE moderation_audit_new (
    id         TEXT PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('ban', 'unban', 'kick', 'end_room', 'grant', 'revoke', 'set_role', 'verify_performer', 'unverify_performer', 'end_sessions')),
    user_id    TEXT,
    room       TEXT,
    reason     TEXT,
    details    TEXT NOT NULL
);
INSERT INTO moderation_audit_new (id, at, actor, action, user_id, room, reason, details)
    SELECT id, at, actor, action, user_id, room, reason, details FROM moderation_audit;
DROP TABLE moderation_audit;
ALTER TABLE moderation_audit_new RENAME TO moderation_audit;
CREATE INDEX moderation_audit_user ON moderation_audit (user_id, id);
CREATE INDEX moderation_audit_room ON moderation_audit (room, id);
CREATE INDEX moderation_audit_actor ON moderation_audit (actor, id);
