-- Attendance: one row per occupant join as reported by a Prosody shard (mod_roomkey).
-- A reconnect is a new join, so a user can have several segments in one show.

CREATE TABLE attendance (
    -- Made by the module per join and repeated in the matching leave.
    occupant_id  TEXT PRIMARY KEY,
    shard        TEXT NOT NULL,
    room_id      TEXT NOT NULL REFERENCES rooms (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    nick         TEXT,
    joined_at    BIGINT NOT NULL,
    -- NULL while the occupant is in the room.
    left_at      BIGINT CHECK (left_at IS NULL OR left_at >= joined_at)
);
CREATE INDEX attendance_room ON attendance (room_id, joined_at);
CREATE INDEX attendance_open ON attendance (room_id, shard) WHERE left_at IS NULL;
