-- Remembered consent, the browser session each OIDC session came from, and the Mastodon
-- account an OIDC sign-in landed in.
--
-- A user who approved a client for some scopes is not asked again for the same or fewer:
-- the approval is kept per user and client with the scopes it covered. It is remembered
-- only under the session generation it was given in, so signing out everywhere, a
-- password change, an admin's revocation or a global ban forget it with no write here;
-- the client revoking a token of the user's forgets it outright.
CREATE TABLE oidc_consents (
    user_id     TEXT NOT NULL REFERENCES users (id),
    client_id   TEXT NOT NULL,
    -- Space-separated, as in the authorization request.
    scope       TEXT NOT NULL,
    session_generation INTEGER NOT NULL,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- The roomkey browser session (the session token's jti) the code was issued in: when that
-- one session ends (RP-initiated logout), the relying parties it signed in to are told by
-- back-channel logout. Absent for sessions granted before this column.
ALTER TABLE oidc_sessions ADD COLUMN browser_session TEXT;
CREATE INDEX oidc_sessions_browser ON oidc_sessions (browser_session);

-- The Mastodon account a user's sign-in to Mastodon through roomkey landed in (learned
-- from Mastodon's admin API after the sign-in), so that a ban acts on exactly that account
-- rather than on whichever one bears the user's handle.
CREATE TABLE mastodon_accounts (
    user_id     TEXT PRIMARY KEY REFERENCES users (id),
    account_id  TEXT NOT NULL,
    linked_at   INTEGER NOT NULL
);
