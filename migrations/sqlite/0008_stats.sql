-- Performer statistics read attendance per room and per viewer: who came, for how long,
-- how many at once. With (room_id, user_id, joined_at, left_at) a room's segments come out
-- of the index already grouped by viewer and ordered by arrival, which is the order the
-- per-viewer watch time needs (overlapping stays are counted once), and the table itself is
-- never read.
CREATE INDEX attendance_room_user ON attendance (room_id, user_id, joined_at, left_at);
