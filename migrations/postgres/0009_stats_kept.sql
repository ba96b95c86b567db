-- Figures kept between requests (see src/stats/). A finished show's figures cannot change
-- until its attendance does, so they are computed once and stored with the count of
-- attendance changes they saw; a performer's distinct viewers are kept as a set.
--
-- attendance_tally counts every insert, update and delete of a room's attendance
-- (`changes`) and its stays still open. Triggers keep it in the same transaction as the
-- write, so no code path can change attendance without moving the count.
CREATE TABLE attendance_tally (
    room_id     TEXT PRIMARY KEY REFERENCES rooms (id),
    changes     BIGINT NOT NULL,
    open_stays  BIGINT NOT NULL
);

-- Everyone who ever joined one of a performer's rooms, once.
CREATE TABLE performer_viewers (
    performer_id TEXT NOT NULL REFERENCES users (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (performer_id, user_id)
);

-- A show's figures as computed when it had no open stay, valid while
-- attendance_tally.changes still equals `changes`.
CREATE TABLE room_figures (
    room_id          TEXT PRIMARY KEY REFERENCES rooms (id),
    changes          BIGINT NOT NULL,
    viewers          BIGINT NOT NULL,
    joins            BIGINT NOT NULL,
    watch_secs       BIGINT NOT NULL,
    median_sum_secs  BIGINT NOT NULL,
    median_count     BIGINT NOT NULL,
    peak_concurrent  BIGINT NOT NULL,
    peak_at          BIGINT,
    first_join_at    BIGINT,
    last_join_at     BIGINT
);

INSERT INTO attendance_tally (room_id, changes, open_stays)
SELECT room_id, COUNT(*), COUNT(*) FILTER (WHERE left_at IS NULL)
FROM attendance GROUP BY room_id;

INSERT INTO performer_viewers (performer_id, user_id)
SELECT DISTINCT r.owner_id, a.user_id FROM attendance a JOIN rooms r ON r.id = a.room_id;

-- Statement-level triggers with transition tables: a bulk insert moves each room's tally
-- once per statement, not once per row (many updates of one row in one transaction would
-- each walk the row's growing version chain).
CREATE FUNCTION attendance_tally_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attendance_tally AS t (room_id, changes, open_stays)
    SELECT room_id, COUNT(*), COUNT(*) FILTER (WHERE left_at IS NULL)
    FROM inserted GROUP BY room_id
    ON CONFLICT (room_id) DO UPDATE
        SET changes = t.changes + EXCLUDED.changes,
            open_stays = t.open_stays + EXCLUDED.open_stays;
    INSERT INTO performer_viewers (performer_id, user_id)
    SELECT DISTINCT r.owner_id, i.user_id FROM inserted i JOIN rooms r ON r.id = i.room_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE FUNCTION attendance_tally_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE attendance_tally t
    SET changes = t.changes + d.changes, open_stays = t.open_stays + d.opened
    FROM (SELECT n.room_id, COUNT(*) AS changes,
                 SUM((n.left_at IS NULL)::int - (o.left_at IS NULL)::int) AS opened
          FROM updated_new n JOIN updated_old o ON o.occupant_id = n.occupant_id
          GROUP BY n.room_id) d
    WHERE t.room_id = d.room_id;
    RETURN NULL;
END
$$;

CREATE FUNCTION attendance_tally_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE attendance_tally t
    SET changes = t.changes + d.changes, open_stays = t.open_stays - d.open_stays
    FROM (SELECT room_id, COUNT(*) AS changes, COUNT(*) FILTER (WHERE left_at IS NULL) AS open_stays
          FROM deleted GROUP BY room_id) d
    WHERE t.room_id = d.room_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER attendance_tally_inserted AFTER INSERT ON attendance
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION attendance_tally_inserted();

CREATE TRIGGER attendance_tally_updated AFTER UPDATE ON attendance
REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
FOR EACH STATEMENT EXECUTE FUNCTION attendance_tally_updated();

CREATE TRIGGER attendance_tally_deleted AFTER DELETE ON attendance
REFERENCING OLD TABLE AS deleted
FOR EACH STATEMENT EXECUTE FUNCTION attendance_tally_deleted();
