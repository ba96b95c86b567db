-- Matrix, continued: community rooms (`#general`, `#support`, performers-only rooms) with
-- the rule for who may be in them, and the outbox actions that came with them, with live
-- rooms' power levels and archiving, and with linking an existing Matrix account.

-- When a live room's chat was made read-only because its show ended.
ALTER TABLE matrix_rooms ADD COLUMN archived_at BIGINT;

CREATE TABLE matrix_community_rooms (
    -- The alias localpart after `matrix.alias_prefix`, e.g. `general`.
    name           TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    -- Who may be in the room: anyone signed in with a Matrix id, performers, or staff.
    rule           TEXT NOT NULL CHECK (rule IN ('signed_in', 'verified_performers', 'staff')),
    -- Set once the room has been created on the homeserver (or adopted by its alias).
    matrix_room_id TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

ALTER TABLE matrix_outbox DROP CONSTRAINT matrix_outbox_action_check;
ALTER TABLE matrix_outbox ADD CONSTRAINT matrix_outbox_action_check
    CHECK (action IN ('create_room', 'provision', 'invite', 'kick', 'ban', 'unban',
        'archive', 'power_levels', 'create_community', 'sync_community', 'forget'));
-- The Matrix id a `forget` removes from roomkey's rooms (one the user no longer uses).
ALTER TABLE matrix_outbox ADD COLUMN matrix_user_id TEXT;
