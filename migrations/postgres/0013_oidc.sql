-- roomkey as the platform's OpenID Provider.
--
-- An OIDC session is one sign-in of one user at one relying party (a client registered in
-- [oidc]): it starts when the authorization code is issued, it is the family every access
-- and refresh token of that sign-in belongs to, and it is what a later back-channel logout
-- tells the client to end (its id is the ID token's `sid`). Ending it (ended_at) revokes
-- every token of the family at once. Codes and tokens are stored as SHA-256 hashes only:
-- a copy of the database hands out no working credential.
CREATE TABLE oidc_sessions (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    scope       TEXT NOT NULL,
    -- When the user last signed in to roomkey (the ID token's auth_time).
    auth_time   BIGINT NOT NULL,
    -- The user's session generation at that sign-in: once it moves on (sign out
    -- everywhere, a password change, an admin's revocation, a global ban), this session
    -- has ended too, and its tokens are refused.
    session_generation BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX oidc_sessions_user ON oidc_sessions (user_id, ended_at);

-- Authorization codes: single use (used_at is set by the one exchange that wins), short
-- lived, bound to the session's client, the redirect URI and the PKCE challenge.
CREATE TABLE oidc_codes (
    code_hash       TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES oidc_sessions (id),
    redirect_uri    TEXT NOT NULL,
    -- base64url(SHA-256(code_verifier)); absent when a confidential client sent none.
    code_challenge  TEXT,
    nonce           TEXT,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);

-- Access and refresh tokens. A refresh token is rotated on use (used_at set); a used one
-- presented again ends its session, and with it the whole family.
CREATE TABLE oidc_tokens (
    token_hash  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES oidc_sessions (id),
    kind        TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX oidc_tokens_session ON oidc_tokens (session_id);
