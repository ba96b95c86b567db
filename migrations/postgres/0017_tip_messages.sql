-- Tips shown in the running room and its chat.

-- What a tipper asked to be shown with their tip: a short message and whether to stay
-- anonymous. Written with the tip's intent at checkout, read when the tip is confirmed.
CREATE TABLE tip_messages (
    intent_id  TEXT PRIMARY KEY REFERENCES payment_intents (id),
    message    TEXT,
    anonymous  BIGINT NOT NULL DEFAULT 0 CHECK (anonymous IN (0, 1)),
    created_at BIGINT NOT NULL
);

-- A confirmed tip is an `announce` command for every shard and a `notice` for the show's
-- Matrix chat.
ALTER TABLE live_outbox DROP CONSTRAINT live_outbox_kind_check;
ALTER TABLE live_outbox ADD CONSTRAINT live_outbox_kind_check
    CHECK (kind IN ('kick', 'end_room', 'announce'));
ALTER TABLE matrix_outbox DROP CONSTRAINT matrix_outbox_action_check;
ALTER TABLE matrix_outbox ADD CONSTRAINT matrix_outbox_action_check
    CHECK (action IN ('create_room', 'provision', 'invite', 'kick', 'ban', 'unban',
        'archive', 'power_levels', 'create_community', 'sync_community', 'forget', 'notice'));
