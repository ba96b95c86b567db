-- Figures kept between requests (see src/stats/). A finished show's figures cannot change
-- until its attendance does, so they are computed once and stored with the count of
-- attendance changes they saw; a performer's distinct viewers are kept as a set.
--
-- attendance_tally counts every insert, update and delete of a room's attendance
-- (`changes`) and its stays still open. Triggers keep it in the same transaction as the
-- write, so no code path can change attendance without moving the count.
CREATE TABLE attendance_tally (
    room_id     TEXT PRIMARY KEY REFERENCES rooms (id),
    changes     INTEGER NOT NULL,
    open_stays  INTEGER NOT NULL
);

-- Everyone who ever joined one of a performer's rooms, once.
CREATE TABLE performer_viewers (
    performer_id TEXT NOT NULL REFERENCES users (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (performer_id, user_id)
) WITHOUT ROWID;

-- A show's figures as computed when it had no open stay, valid while
-- attendance_tally.changes still equals `changes`.
CREATE TABLE room_figures (
    room_id          TEXT PRIMARY KEY REFERENCES rooms (id),
    changes          INTEGER NOT NULL,
    viewers          INTEGER NOT NULL,
    joins            INTEGER NOT NULL,
    watch_secs       INTEGER NOT NULL,
    median_sum_secs  INTEGER NOT NULL,
    median_count     INTEGER NOT NULL,
    peak_concurrent  INTEGER NOT NULL,
    peak_at          INTEGER,
    first_join_at    INTEGER,
    last_join_at     INTEGER
);

INSERT INTO attendance_tally (room_id, changes, open_stays)
SELECT room_id, COUNT(*), SUM(left_at IS NULL) FROM attendance GROUP BY room_id;

INSERT INTO performer_viewers (performer_id, user_id)
SELECT DISTINCT r.owner_id, a.user_id FROM attendance a JOIN rooms r ON r.id = a.room_id;

CREATE TRIGGER attendance_tally_insert AFTER INSERT ON attendance
BEGIN
    INSERT INTO attendance_tally (room_id, changes, open_stays)
    VALUES (NEW.room_id, 1, NEW.left_at IS NULL)
    ON CONFLICT (room_id) DO UPDATE
        SET changes = changes + 1, open_stays = open_stays + excluded.open_stays;
    INSERT OR IGNORE INTO performer_viewers (performer_id, user_id)
    SELECT owner_id, NEW.user_id FROM rooms WHERE id = NEW.room_id;
END;

CREATE TRIGGER attendance_tally_update AFTER UPDATE ON attendance
BEGIN
    UPDATE attendance_tally
    SET changes = changes + 1,
        open_stays = open_stays + (NEW.left_at IS NULL) - (OLD.left_at IS NULL)
    WHERE room_id = NEW.room_id;
END;

CREATE TRIGGER attendance_tally_delete AFTER DELETE ON attendance
BEGIN
    UPDATE attendance_tally
    SET changes = changes + 1, open_stays = open_stays - (OLD.left_at IS NULL)
    WHERE room_id = OLD.room_id;
END;
