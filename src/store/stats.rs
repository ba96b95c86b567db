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

    /// Joins per time bucket of `width` seconds (aligned to multiples of `width` since the
    /// epoch), oldest first; empty buckets are absent.
    pub async fn room_joins_by_bucket(
        &self,
        room_id: &str,
        width: i64,
    ) -> Result<Vec<(UnixSeconds, i64)>, StoreError> {
        self.timed(StoreOp::Stats, async {
            let rows = sqlx::query(
                "SELECT (joined_at / $2) * $2 AS bucket, COUNT(*) AS joins \
                 FROM attendance WHERE room_id = $1 GROUP BY 1 ORDER BY 1",
            )
            .bind(room_id)
            .bind(width)
            .fetch_all(&self.pool)
            .await
            .context("joins by bucket")?;
            rows.iter()
                .map(|row| Ok((int(row, "bucket")?, int(row, "joins")?)))
                .collect()
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
}
