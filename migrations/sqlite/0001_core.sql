-- Users, rooms, entitlements and bans. Times are Unix seconds; money is integer minor units.
-- Entitlements and bans are append-only facts: revocations and lifts are separate rows,
-- so every past allow/deny can be explained.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    handle         TEXT NOT NULL UNIQUE,
    email          TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    password_hash  TEXT,
    role           TEXT NOT NULL CHECK (role IN ('viewer', 'performer', 'moderator', 'admin')),
    matrix_user_id TEXT UNIQUE,
    avatar_url     TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE rooms (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    owner_id    TEXT NOT NULL REFERENCES users (id),
    access      TEXT NOT NULL CHECK (access IN ('free', 'paid', 'invite_only')),
    price_minor INTEGER CHECK (price_minor IS NULL OR price_minor > 0),
    currency    TEXT,
    plans       TEXT NOT NULL DEFAULT '',
    starts_at   INTEGER,
    ends_at     INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX rooms_owner ON rooms (owner_id);

CREATE TABLE entitlements (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    scope_kind  TEXT NOT NULL CHECK (scope_kind IN ('room', 'performer', 'plan', 'credit')),
    scope_ref   TEXT NOT NULL,
    quantity    INTEGER,
    valid_from  INTEGER NOT NULL,
    valid_until INTEGER,
    source      TEXT NOT NULL CHECK (source IN ('payment', 'admin_grant', 'invite_code')),
    source_ref  TEXT,
    granted_by  TEXT,
    note        TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX entitlements_user ON entitlements (user_id, valid_until);

CREATE TABLE entitlement_revocations (
    entitlement_id TEXT PRIMARY KEY REFERENCES entitlements (id),
    revoked_at     INTEGER NOT NULL,
    revoked_by     TEXT,
    reason         TEXT NOT NULL
);

CREATE TABLE bans (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('global', 'room', 'performer')),
    scope_ref  TEXT,
    reason     TEXT NOT NULL,
    until      INTEGER,
    banned_by  TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX bans_user ON bans (user_id);

CREATE TABLE ban_lifts (
    ban_id    TEXT PRIMARY KEY REFERENCES bans (id),
    lifted_at INTEGER NOT NULL,
    lifted_by TEXT,
    reason    TEXT NOT NULL
);
