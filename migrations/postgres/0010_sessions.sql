-- Sessions that can be ended. A session token carries the user's session generation at
-- issue time; bumping it (sign out everywhere, a password change, an admin's revocation, a
-- global ban) ends every session issued before. One session is ended by its id, kept until
-- the token would have expired anyway.
ALTER TABLE users ADD COLUMN session_generation BIGINT NOT NULL DEFAULT 0;

CREATE TABLE session_revocations (
    jti         TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT NOT NULL
);
CREATE INDEX session_revocations_user ON session_revocations (user_id, expires_at);

-- The audit trail learns the staff action of ending a user's sessions.
ALTER TABLE moderation_audit DROP CONSTRAINT moderation_audit_action_check;
ALTER TABLE moderation_audit ADD CONSTRAINT moderation_audit_action_check
    CHECK (action IN ('ban', 'unban', 'kick', 'end_room', 'grant', 'revoke', 'set_role', 'verify_performer', 'unverify_performer', 'end_sessions'));
