//! The attendance figures a performer reads, aggregated where the rows are.
//!
//! Every figure is computed by the database in the SQL both backends speak (window
//! functions included), so a room with a hundred thousand stays answers with one row, not a
//! hundred thousand.
//!
//! How stays are counted: a stay still open counts up to `now`; a stay that would end
//! before it starts (an open one reported slightly in the future) counts as nothing. A
//! viewer's overlapping stays (two devices, or a reconnect that arrived before the old
//! connection's leave) count once: each stay is clipped to start where the viewer's earlier
//! stays already reach (`covered`, the running maximum of their ends), so the clipped
//! pieces of one viewer never overlap and their lengths add up to the time the viewer was
//! there at all. The same pieces feed the concurrency sweep, so one viewer is one person
//! in the peak too.
//!
//! The peak is a sweep: +1 where a piece starts, −1 where it ends, summed per second first
//! (a piece ending at `t` and another starting at `t` never overlap: stays are half-open),
//! then a running total in time order; the peak is its maximum, first reached at `peak_at`.
//!
//! What is kept (migration 0009): triggers count every change to a room's attendance and
//! its open stays in `attendance_tally`, and add each joining viewer to the owner's
//! `performer_viewers`, in the same transaction as the change. A room's figures computed
//! while it had no open stay are stored in `room_figures` with the count they saw: until the
//! count moves they are still exact, whatever the time.

use anyhow::Context as _;

use super::{int, opt_int, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::telemetry::metrics::StoreOp;

/// One room's attendance in figures (see [`Store::room_attendance_figures`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceFigures {
    /// Distinct viewers who joined at least once.
    pub viewers: i64,
    /// Distinct viewers with a stay still open.
    pub present: i64,
    /// Stays (every join, reconnects included).
    pub joins: i64,
    /// Sum over viewers of their time in the room, overlaps counted once.
    pub watch_secs: i64,
    /// The middle one or two per-viewer times: their sum and how many there are.
    pub median_sum_secs: i64,
    pub median_count: i64,
    /// Most viewers in the room at once, and the first moment it happened.
    pub peak_concurrent: i64,
    pub peak_at: Option<UnixSeconds>,
    pub first_join_at: Option<UnixSeconds>,
    pub last_join_at: Option<UnixSeconds>,
}

/// How often a room's attendance has changed, and how many of its stays are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttendanceTally {
    pub changes: i64,
    pub open_stays: i64,
}

/// One of a performer's rooms that has had attendance, with its stored figures when they
/// are still current (see [`Store::performer_rooms_with_attendance`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendedRoom {
    pub room_id: String,
    pub name: String,
    pub title: String,
    pub tally: AttendanceTally,
    pub stored: Option<AttendanceFigures>,
}

/// The stored figures' columns, as [`stored_figures`] reads them.
const STORED_FIGURES: &str = "f.viewers, f.joins, f.watch_secs, f.median_sum_secs, \
    f.median_count, f.peak_concurrent, f.peak_at, f.first_join_at, f.last_join_at";

/// Stored figures from a row that LEFT JOINed `room_figures f`; `None` when there was no
/// current row. Stored figures are of a room with nobody present.
fn stored_figures(row: &sqlx::any::AnyRow) -> Result<Option<AttendanceFigures>, StoreError> {
    let Some(viewers) = opt_int(row, "viewers")? else {
        return Ok(None);
    };
    Ok(Some(AttendanceFigures {
        viewers,
        present: 0,
        joins: int(row, "joins")?,
        watch_secs: int(row, "watch_secs")?,
        median_sum_secs: int(row, "median_sum_secs")?,
        median_count: int(row, "median_count")?,
        peak_concurrent: int(row, "peak_concurrent")?,
        peak_at: opt_int(row, "peak_at")?,
        first_join_at: opt_int(row, "first_join_at")?,
        last_join_at: opt_int(row, "last_join_at")?,
    }))
}

/// One show of a performer (see [`Store::performer_show_figures`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowFigures {
    pub room: String,
    pub title: String,
    pub viewers: i64,
    pub joins: i64,
    pub watch_secs: i64,
    pub first_join_at: UnixSeconds,
    pub last_join_at: UnixSeconds,
}

/// The per-stay pieces described in the module doc, for the stays chosen by `{filter}`.
/// Binds: `$1` the scope, `$2` now, then whatever the filter uses.
fn pieces(filter: &str) -> String {
    format!(
        "seg AS ( \
           SELECT a.room_id, a.user_id, a.joined_at, \
                  COALESCE(a.left_at, $2) AS e, \
                  MAX(COALESCE(a.left_at, $2)) OVER ( \
                    PARTITION BY a.room_id, a.user_id ORDER BY a.joined_at \
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered \
           FROM attendance a WHERE {filter}), \
         piece AS ( \
           SELECT room_id, user_id, joined_at, e, \
                  CASE WHEN covered > joined_at THEN covered ELSE joined_at END AS s \
           FROM seg)"
    )
}

impl Store {
    /// Viewers, stays, watch time and its median, and peak concurrency of one room.
    pub async fn room_attendance_figures(
        &self,
        room_id: &str,
        now: UnixSeconds,
    ) -> Result<AttendanceFigures, StoreError> {
        self.timed(StoreOp::Stats, async {
            let sql = format!(
                "WITH {pieces}, \
                 per_user AS ( \
                   SELECT user_id, CAST(SUM(CASE WHEN e > s THEN e - s ELSE 0 END) AS BIGINT) AS secs \
                   FROM piece GROUP BY user_id), \
                 ranked AS ( \
                   SELECT secs, ROW_NUMBER() OVER (ORDER BY secs) AS rn, COUNT(*) OVER () AS n \
                   FROM per_user), \
                 middle AS (SELECT secs FROM ranked WHERE rn = (n + 1) / 2 OR rn = (n + 2) / 2), \
                 edges AS ( \
                   SELECT t, CAST(SUM(d) AS BIGINT) AS d \
                   FROM (SELECT s AS t, 1 AS d FROM piece WHERE e > s \
                         UNION ALL SELECT e AS t, -1 AS d FROM piece WHERE e > s) AS ev \
                   GROUP BY t), \
                 sweep AS ( \
                   SELECT t, SUM(d) OVER (ORDER BY t ROWS UNBOUNDED PRECEDING) AS here FROM edges), \
                 peak AS (SELECT MAX(here) AS here FROM sweep) \
                 SELECT \
                   (SELECT COUNT(*) FROM per_user) AS viewers, \
                   (SELECT COUNT(DISTINCT user_id) FROM attendance \
                      WHERE room_id = $1 AND left_at IS NULL) AS present, \
                   (SELECT COUNT(*) FROM attendance WHERE room_id = $1) AS joins, \
                   (SELECT CAST(COALESCE(SUM(secs), 0) AS BIGINT) FROM per_user) AS watch_secs, \
                   (SELECT CAST(COALESCE(SUM(secs), 0) AS BIGINT) FROM middle) AS median_sum, \
                   (SELECT COUNT(*) FROM middle) AS median_count, \
                   (SELECT CAST(COALESCE(MAX(here), 0) AS BIGINT) FROM peak) AS peak, \
                   (SELECT MIN(t) FROM sweep WHERE here = (SELECT here FROM peak)) AS peak_at, \
                   (SELECT MIN(joined_at) FROM attendance WHERE room_id = $1) AS first_join, \
                   (SELECT MAX(joined_at) FROM attendance WHERE room_id = $1) AS last_join",
                pieces = pieces("a.room_id = $1"),
            );
            let row = sqlx::query(&sql)
                .bind(room_id)
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .context("room attendance figures")?;
            Ok(AttendanceFigures {
                viewers: int(&row, "viewers")?,
                present: int(&row, "present")?,
                joins: int(&row, "joins")?,
                watch_secs: int(&row, "watch_secs")?,
                median_sum_secs: int(&row, "median_sum")?,
                median_count: int(&row, "median_count")?,
                peak_concurrent: int(&row, "peak")?,
                peak_at: opt_int(&row, "peak_at")?,
                first_join_at: opt_int(&row, "first_join")?,
                last_join_at: opt_int(&row, "last_join")?,
            })
        })
        .await
    }

    /// Per show (room) of `performer_id`: viewers, stays and watch time of the stays that
    /// began in `[from, until)`, in order of the show's first join.
    pub async fn performer_show_figures(
        &self,
        performer_id: &str,
        from: UnixSeconds,
        until: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<Vec<ShowFigures>, StoreError> {
        self.timed(StoreOp::Stats, async {
            let sql = format!(
                "WITH {pieces}, \
                 per_show AS ( \
                   SELECT room_id, COUNT(*) AS joins, COUNT(DISTINCT user_id) AS viewers, \
                          CAST(SUM(CASE WHEN e > s THEN e - s ELSE 0 END) AS BIGINT) AS watch_secs, \
                          MIN(joined_at) AS first_join, MAX(joined_at) AS last_join \
                   FROM piece GROUP BY room_id) \
                 SELECT r.name, r.title, p.viewers, p.joins, p.watch_secs, p.first_join, p.last_join \
                 FROM per_show p JOIN rooms r ON r.id = p.room_id \
                 ORDER BY p.first_join, r.name",
                pieces = pieces(
                    "a.room_id IN (SELECT id FROM rooms WHERE owner_id = $1) \
                     AND a.joined_at >= $3 AND a.joined_at < $4"
                ),
            );
            let rows = sqlx::query(&sql)
                .bind(performer_id)
                .bind(now)
                .bind(from)
                .bind(until)
                .fetch_all(&self.pool)
                .await
                .context("performer show figures")?;
            rows.iter()
                .map(|row| {
                    Ok(ShowFigures {
                        room: text(row, "name")?,
                        title: text(row, "title")?,
                        viewers: int(row, "viewers")?,
                        joins: int(row, "joins")?,
                        watch_secs: int(row, "watch_secs")?,
                        first_join_at: int(row, "first_join")?,
                        last_join_at: int(row, "last_join")?,
                    })
                })
                .collect()
        })
        .await
    }

    /// Distinct viewers over all of `performer_id`'s shows, stays begun in `[from, until)`.
    pub async fn performer_unique_viewers(
        &self,
        performer_id: &str,
        from: UnixSeconds,
        until: UnixSeconds,
    ) -> Result<i64, StoreError> {
        self.timed(StoreOp::Stats, async {
            let row = sqlx::query(
                "SELECT COUNT(DISTINCT user_id) AS viewers FROM attendance \
                 WHERE room_id IN (SELECT id FROM rooms WHERE owner_id = $1) \
                 AND joined_at >= $2 AND joined_at < $3",
            )
            .bind(performer_id)
            .bind(from)
            .bind(until)
            .fetch_one(&self.pool)
            .await
            .context("performer unique viewers")?;
            int(&row, "viewers")
        })
        .await
    }

    /// The room's attendance tally (zeros before its first join) and its stored figures
    /// when they are current.
    pub async fn room_tally_and_stored_figures(
        &self,
        room_id: &str,
    ) -> Result<(AttendanceTally, Option<AttendanceFigures>), StoreError> {
        self.timed(StoreOp::Stats, async {
            let sql = format!(
                "SELECT t.changes, t.open_stays, {STORED_FIGURES} \
                 FROM attendance_tally t \
                 LEFT JOIN room_figures f ON f.room_id = t.room_id AND f.changes = t.changes \
                 WHERE t.room_id = $1"
            );
            let row = sqlx::query(&sql)
                .bind(room_id)
                .fetch_optional(&self.pool)
                .await
                .context("room tally")?;
            match row {
                None => Ok((AttendanceTally::default(), None)),
                Some(row) => Ok((tally(&row)?, stored_figures(&row)?)),
            }
        })
        .await
    }

    /// Keeps a room's figures computed with nobody present, as of `changes`; an older
    /// computation never replaces a newer one.
    pub async fn store_room_figures(
        &self,
        room_id: &str,
        changes: i64,
        figures: &AttendanceFigures,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(
                "INSERT INTO room_figures (room_id, changes, viewers, joins, watch_secs, \
                   median_sum_secs, median_count, peak_concurrent, peak_at, first_join_at, \
                   last_join_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (room_id) DO UPDATE SET changes = excluded.changes, \
                   viewers = excluded.viewers, joins = excluded.joins, \
                   watch_secs = excluded.watch_secs, median_sum_secs = excluded.median_sum_secs, \
                   median_count = excluded.median_count, \
                   peak_concurrent = excluded.peak_concurrent, peak_at = excluded.peak_at, \
                   first_join_at = excluded.first_join_at, last_join_at = excluded.last_join_at \
                 WHERE room_figures.changes < excluded.changes",
            )
            .bind(room_id)
            .bind(changes)
            .bind(figures.viewers)
            .bind(figures.joins)
            .bind(figures.watch_secs)
            .bind(figures.median_sum_secs)
            .bind(figures.median_count)
            .bind(figures.peak_concurrent)
            .bind(figures.peak_at)
            .bind(figures.first_join_at)
            .bind(figures.last_join_at)
            .execute(&self.pool)
            .await
            .context("store room figures")?;
            Ok(())
        })
        .await
    }

    /// Joins per second of arrival, oldest first.
    pub async fn room_joins_per_second(
        &self,
        room_id: &str,
    ) -> Result<Vec<(UnixSeconds, i64)>, StoreError> {
        self.timed(StoreOp::Stats, async {
            let rows = sqlx::query(
                "SELECT joined_at, COUNT(*) AS joins FROM attendance WHERE room_id = $1 \
                 GROUP BY joined_at ORDER BY joined_at",
            )
            .bind(room_id)
            .fetch_all(&self.pool)
            .await
            .context("joins per second")?;
            rows.iter()
                .map(|row| Ok((int(row, "joined_at")?, int(row, "joins")?)))
                .collect()
        })
        .await
    }

    /// Every room of `performer_id` that has had attendance, with its tally and its stored
    /// figures when current.
    pub async fn performer_rooms_with_attendance(
        &self,
        performer_id: &str,
    ) -> Result<Vec<AttendedRoom>, StoreError> {
        self.timed(StoreOp::Stats, async {
            let sql = format!(
                "SELECT r.id, r.name, r.title, t.changes, t.open_stays, {STORED_FIGURES} \
                 FROM rooms r JOIN attendance_tally t ON t.room_id = r.id \
                 LEFT JOIN room_figures f ON f.room_id = r.id AND f.changes = t.changes \
                 WHERE r.owner_id = $1"
            );
            let rows = sqlx::query(&sql)
                .bind(performer_id)
                .fetch_all(&self.pool)
                .await
                .context("performer rooms with attendance")?;
            rows.iter()
                .map(|row| {
                    Ok(AttendedRoom {
                        room_id: text(row, "id")?,
                        name: text(row, "name")?,
                        title: text(row, "title")?,
                        tally: tally(row)?,
                        stored: stored_figures(row)?,
                    })
                })
                .collect()
        })
        .await
    }

    /// Distinct viewers of all of `performer_id`'s rooms, ever (the kept set).
    pub async fn performer_viewer_count(&self, performer_id: &str) -> Result<i64, StoreError> {
        self.timed(StoreOp::Stats, async {
            let row = sqlx::query(
                "SELECT COUNT(*) AS viewers FROM performer_viewers WHERE performer_id = $1",
            )
            .bind(performer_id)
            .fetch_one(&self.pool)
            .await
            .context("performer viewer count")?;
            int(&row, "viewers")
        })
        .await
    }
}

fn tally(row: &sqlx::any::AnyRow) -> Result<AttendanceTally, StoreError> {
    Ok(AttendanceTally {
        changes: int(row, "changes")?,
        open_stays: int(row, "open_stays")?,
    })
}
