-- Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a user's sessions end
-- (signed out everywhere, a password change, an admin's revocation, a global ban), every
-- OIDC session of theirs at a client with a back-channel logout URI gets one row here,
-- written in the transaction that ends the session. The worker signs a logout token for
-- the row's client and session and posts it, with retries and backoff like the other
-- outboxes; a row a client refused for good is kept with failed_at for inspection.
CREATE TABLE oidc_logout_outbox (
    seq             INTEGER PRIMARY KEY,
    client_id       TEXT NOT NULL,
    -- The OIDC session the logout token names (its sid).
    session_id      TEXT NOT NULL REFERENCES oidc_sessions (id),
    -- The roomkey user (its sub).
    user_id         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    failed_at       INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX oidc_logout_outbox_due ON oidc_logout_outbox (next_attempt_at) WHERE failed_at IS NULL;
