//! The numbers a performer wants: per show, who came, how many at once, for how long, when
//! they arrived, and what it earned; and the same across a performer's shows.
//!
//! The figures are aggregated by the store (see `store::stats` for how stays are counted:
//! open stays up to now, a viewer's overlapping stays once). This service keeps them
//! between requests ([`kept`]: in memory, and a finished show's in the store too, so a
//! performer's history is a read of one stored row per show), picks the bucket width, fills
//! the gaps of the joins series, turns the middle values into the median and adds the
//! ledger's revenue. Whoever may see the money is decided by the caller's proof; the
//! service only includes it or not.

mod kept;

use std::sync::Arc;

use crate::clock::{Clock, UnixSeconds};
use crate::domain::{RevenueTotals, Room, TipperTotal};
use crate::store::{AttendanceFigures, AttendanceTally, ShowFigures, Store, StoreError};
use kept::{Computed, Judgement, KeptFigures};
pub use kept::{LIVE_FRESH_SECS, LIVE_STALE_LIMIT_SECS};

/// Bucket width of the joins series when none is asked for: five minutes.
pub const DEFAULT_BUCKET_SECS: i64 = 300;
/// Narrowest and widest bucket a caller may ask for: a minute, a day.
pub const MIN_BUCKET_SECS: i64 = 60;
pub const MAX_BUCKET_SECS: i64 = 86_400;
/// Most buckets in one series; a longer span widens the buckets (by whole multiples of the
/// width asked for, so bucket edges stay where the caller expects them).
pub const MAX_BUCKETS: i64 = 2_000;
/// Figures computed at once; further computations wait their turn. A big show's figures
/// take the better part of a second of database work (see `bench/README.md`), and the pool
/// they draw from also serves the token path's lookups, which must never wait behind a
/// dashboard (the embedded store has only four connections).
const CONCURRENT_COMPUTATIONS: usize = 2;

/// Lines of a show's tips leaderboard.
pub const TOP_TIPPERS: i64 = 10;

/// Whether the answer includes revenue (and the tips leaderboard, which names amounts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revenue {
    Included,
    Withheld,
}

/// One room's statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomStats {
    pub now: UnixSeconds,
    pub viewers: i64,
    pub present: i64,
    pub joins: i64,
    pub watch_secs: i64,
    /// Median per-viewer watch time (the mean of the middle two for an even count); `None`
    /// before anyone came.
    pub median_watch_secs: Option<f64>,
    pub peak_concurrent: i64,
    pub peak_at: Option<UnixSeconds>,
    pub first_join_at: Option<UnixSeconds>,
    pub last_join_at: Option<UnixSeconds>,
    pub bucket_secs: i64,
    /// Every bucket from the first join's to the last join's, empty ones included.
    pub joins_over_time: Vec<JoinBucket>,
    pub revenue: Option<Vec<RevenueTotals>>,
    /// The room's biggest tippers ([`TOP_TIPPERS`] at most), with the revenue.
    pub top_tippers: Option<Vec<TipperTotal>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinBucket {
    pub start: UnixSeconds,
    pub joins: i64,
}

/// A performer's statistics over the stays begun (and ledger entries booked) in a range.
#[derive(Debug, Clone, PartialEq)]
pub struct PerformerStats {
    pub from: Option<UnixSeconds>,
    pub until: Option<UnixSeconds>,
    pub shows: Vec<ShowFigures>,
    /// Distinct viewers over all the shows (someone at three shows is one viewer).
    pub unique_viewers: i64,
    pub joins: i64,
    pub watch_secs: i64,
    pub revenue: Option<Vec<RevenueTotals>>,
}

/// When a background computation goes ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recompute {
    /// A running show's figures are stale: always.
    Always,
    /// A room was destroyed: only if nobody is left and no figures are stored yet.
    WhenSettled,
}

#[derive(Clone)]
pub struct StatsService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    computing: tokio::sync::Semaphore,
    kept: KeptFigures,
}

impl StatsService {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                computing: tokio::sync::Semaphore::new(CONCURRENT_COMPUTATIONS),
                kept: KeptFigures::default(),
            }),
        }
    }

    /// `bucket_secs` must lie within [`MIN_BUCKET_SECS`]..=[`MAX_BUCKET_SECS`] (the edge
    /// checks it); the series may use a wider multiple of it, see [`MAX_BUCKETS`].
    pub async fn room_stats(
        &self,
        room: &Room,
        bucket_secs: i64,
        revenue: Revenue,
    ) -> Result<RoomStats, StoreError> {
        let (computed, as_of) = self.inner.figures(&room.id).await?;
        let figures = &computed.figures;
        let width = bucket_width(bucket_secs, figures.first_join_at, figures.last_join_at);
        let joins_over_time = match (figures.first_join_at, figures.last_join_at) {
            (Some(first), Some(last)) => {
                let counted = fold_into_buckets(&computed.joins_per_second, width);
                fill_buckets(&counted, width, first, last)
            }
            _ => Vec::new(),
        };
        let store = &self.inner.store;
        let (revenue, top_tippers) = match revenue {
            Revenue::Included => (
                Some(store.room_revenue(&room.id).await?),
                Some(store.room_top_tippers(&room.id, TOP_TIPPERS).await?),
            ),
            Revenue::Withheld => (None, None),
        };
        let mut stats = room_stats(as_of, figures.clone(), width, joins_over_time, revenue);
        stats.top_tippers = top_tippers;
        Ok(stats)
    }

    /// Stays that began, and ledger entries booked, in `[from, until)`; absent bounds are
    /// open. Over all time the shows' figures are the kept ones and the distinct viewers
    /// the kept set; a range cuts through shows, so it is computed from the stays in it.
    pub async fn performer_stats(
        &self,
        performer_id: &str,
        from: Option<UnixSeconds>,
        until: Option<UnixSeconds>,
        revenue: Revenue,
    ) -> Result<PerformerStats, StoreError> {
        let inner = &self.inner;
        let (lo, hi) = (
            from.unwrap_or(UnixSeconds::MIN),
            until.unwrap_or(UnixSeconds::MAX),
        );
        let (shows, unique_viewers) = if from.is_none() && until.is_none() {
            inner.performer_all_time(performer_id).await?
        } else {
            inner.performer_between(performer_id, lo, hi).await?
        };
        let revenue = match revenue {
            Revenue::Included => Some(
                inner
                    .store
                    .performer_revenue_between(performer_id, lo, hi)
                    .await?,
            ),
            Revenue::Withheld => None,
        };
        Ok(PerformerStats {
            from,
            until,
            unique_viewers,
            joins: shows.iter().fold(0, |sum, s| sum.saturating_add(s.joins)),
            watch_secs: shows
                .iter()
                .fold(0, |sum, s| sum.saturating_add(s.watch_secs)),
            shows,
            revenue,
        })
    }

    /// Computes and stores a room's figures in the background once nobody is present (a
    /// shard reported the room destroyed), so the first dashboard after a show finds them.
    pub fn settle_in_background(&self, room_id: String) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            if let Err(error) = inner.recompute(&room_id, Recompute::WhenSettled).await {
                tracing::warn!(error = %error, "settling a finished show's figures failed");
            }
        });
    }
}

impl Inner {
    async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, StoreError> {
        self.computing
            .acquire()
            .await
            .map_err(|e| StoreError::Unexpected(anyhow::Error::new(e).context("stats turn")))
    }

    /// A room's figures and the moment they describe: now when they are exact, else when
    /// they were computed (see [`kept`]).
    async fn figures(
        self: &Arc<Self>,
        room_id: &str,
    ) -> Result<(Arc<Computed>, UnixSeconds), StoreError> {
        let now = self.clock.now();
        let (tally, stored) = self.store.room_tally_and_stored_figures(room_id).await?;
        if let Some(answer) = self.answer_from_kept(room_id, tally, now) {
            return Ok(answer);
        }
        let _turn = self.turn().await?;
        // Whoever held the turn before may have just computed them.
        if let Some(answer) = self.answer_from_kept(room_id, tally, now) {
            return Ok(answer);
        }
        let computed = self.compute(room_id, tally, stored).await?;
        let as_of = computed.as_of;
        Ok((computed, as_of))
    }

    fn answer_from_kept(
        self: &Arc<Self>,
        room_id: &str,
        tally: AttendanceTally,
        now: UnixSeconds,
    ) -> Option<(Arc<Computed>, UnixSeconds)> {
        match self.kept.judge(room_id, tally, now) {
            Judgement::Exact(computed) => Some((computed, now)),
            Judgement::Recent(computed) => {
                let as_of = computed.as_of;
                Some((computed, as_of))
            }
            Judgement::Stale { computed, refresh } => {
                if refresh {
                    self.refresh_in_background(room_id, computed.clone());
                }
                let as_of = computed.as_of;
                Some((computed, as_of))
            }
            Judgement::Missing => None,
        }
    }

    fn refresh_in_background(self: &Arc<Self>, room_id: &str, stale: Arc<Computed>) {
        let inner = self.clone();
        let room_id = room_id.to_owned();
        tokio::spawn(async move {
            if let Err(error) = inner.recompute(&room_id, Recompute::Always).await {
                tracing::warn!(error = %error, "refreshing a running show's figures failed");
                stale.refresh_failed();
            }
        });
    }

    /// Reads the room's tally afresh, in its turn, and computes its figures (for
    /// [`Recompute::WhenSettled`], only if nobody is present and none are stored yet).
    async fn recompute(&self, room_id: &str, when: Recompute) -> Result<(), StoreError> {
        let _turn = self.turn().await?;
        let (tally, stored) = self.store.room_tally_and_stored_figures(room_id).await?;
        let settled_unstored = tally.open_stays == 0 && tally.changes > 0 && stored.is_none();
        if when == Recompute::Always || settled_unstored {
            self.compute(room_id, tally, stored).await?;
        }
        Ok(())
    }

    /// Computes a room's figures as of now (or takes the stored ones, still exact), stores
    /// them when nobody is present, and keeps them in memory.
    async fn compute(
        &self,
        room_id: &str,
        tally: AttendanceTally,
        stored: Option<AttendanceFigures>,
    ) -> Result<Arc<Computed>, StoreError> {
        let now = self.clock.now();
        let figures = self.figures_at(room_id, tally, stored, now).await?;
        let joins_per_second = self.store.room_joins_per_second(room_id).await?;
        let computed = Arc::new(Computed::new(tally, now, figures, joins_per_second));
        self.kept.keep(room_id, computed.clone());
        Ok(computed)
    }

    /// The stored figures when there are current ones; otherwise computed, and stored when
    /// nobody is present (the tally was read before computing: should attendance change in
    /// between, the stored figures carry the older count and are never taken as current).
    async fn figures_at(
        &self,
        room_id: &str,
        tally: AttendanceTally,
        stored: Option<AttendanceFigures>,
        now: UnixSeconds,
    ) -> Result<AttendanceFigures, StoreError> {
        if let Some(stored) = stored {
            return Ok(stored);
        }
        let figures = self.store.room_attendance_figures(room_id, now).await?;
        if tally.open_stays == 0 && tally.changes > 0 {
            self.store
                .store_room_figures(room_id, tally.changes, &figures)
                .await?;
        }
        Ok(figures)
    }

    async fn performer_all_time(
        self: &Arc<Self>,
        performer_id: &str,
    ) -> Result<(Vec<ShowFigures>, i64), StoreError> {
        let rooms = self
            .store
            .performer_rooms_with_attendance(performer_id)
            .await?;
        let mut shows = Vec::with_capacity(rooms.len());
        for room in rooms {
            let figures = match room.stored {
                Some(stored) => stored,
                None if room.tally.open_stays > 0 => {
                    self.figures(&room.room_id).await?.0.figures.clone()
                }
                None => {
                    let _turn = self.turn().await?;
                    let now = self.clock.now();
                    self.figures_at(&room.room_id, room.tally, None, now)
                        .await?
                }
            };
            let (Some(first_join_at), Some(last_join_at)) =
                (figures.first_join_at, figures.last_join_at)
            else {
                continue;
            };
            shows.push(ShowFigures {
                room: room.name,
                title: room.title,
                viewers: figures.viewers,
                joins: figures.joins,
                watch_secs: figures.watch_secs,
                first_join_at,
                last_join_at,
            });
        }
        shows.sort_by(|a, b| (a.first_join_at, &a.room).cmp(&(b.first_join_at, &b.room)));
        let unique_viewers = if shows.is_empty() {
            0
        } else {
            self.store.performer_viewer_count(performer_id).await?
        };
        Ok((shows, unique_viewers))
    }

    async fn performer_between(
        &self,
        performer_id: &str,
        from: UnixSeconds,
        until: UnixSeconds,
    ) -> Result<(Vec<ShowFigures>, i64), StoreError> {
        let _turn = self.turn().await?;
        let now = self.clock.now();
        let shows = self
            .store
            .performer_show_figures(performer_id, from, until, now)
            .await?;
        let unique_viewers = if shows.is_empty() {
            0
        } else {
            self.store
                .performer_unique_viewers(performer_id, from, until)
                .await?
        };
        Ok((shows, unique_viewers))
    }
}

fn room_stats(
    now: UnixSeconds,
    figures: AttendanceFigures,
    bucket_secs: i64,
    joins_over_time: Vec<JoinBucket>,
    revenue: Option<Vec<RevenueTotals>>,
) -> RoomStats {
    RoomStats {
        now,
        viewers: figures.viewers,
        present: figures.present,
        joins: figures.joins,
        watch_secs: figures.watch_secs,
        median_watch_secs: (figures.median_count > 0)
            .then(|| figures.median_sum_secs as f64 / figures.median_count as f64),
        peak_concurrent: figures.peak_concurrent,
        peak_at: figures.peak_at,
        first_join_at: figures.first_join_at,
        last_join_at: figures.last_join_at,
        bucket_secs,
        joins_over_time,
        revenue,
        top_tippers: None,
    }
}

/// The width asked for, or the smallest multiple of it that covers the span in at most
/// [`MAX_BUCKETS`] buckets.
fn bucket_width(asked: i64, first: Option<UnixSeconds>, last: Option<UnixSeconds>) -> i64 {
    let (Some(first), Some(last)) = (first, last) else {
        return asked;
    };
    let buckets = |width: i64| last.div_euclid(width) - first.div_euclid(width) + 1;
    if buckets(asked) <= MAX_BUCKETS {
        return asked;
    }
    // A multiple k of the width spans about k times fewer buckets; one more for alignment.
    let mut k = (last - first) / (asked * (MAX_BUCKETS - 1)) + 1;
    while buckets(asked * k) > MAX_BUCKETS {
        k += 1;
    }
    asked * k
}

/// Joins per second (oldest first) summed into buckets of `width`, oldest first.
fn fold_into_buckets(
    joins_per_second: &[(UnixSeconds, i64)],
    width: i64,
) -> Vec<(UnixSeconds, i64)> {
    let mut buckets: Vec<(UnixSeconds, i64)> = Vec::new();
    for &(at, joins) in joins_per_second {
        let start = at.div_euclid(width) * width;
        match buckets.last_mut() {
            Some((last, sum)) if *last == start => *sum += joins,
            _ => buckets.push((start, joins)),
        }
    }
    buckets
}

/// The counted buckets, with the empty ones between the first and last join filled in.
fn fill_buckets(
    counted: &[(UnixSeconds, i64)],
    width: i64,
    first: UnixSeconds,
    last: UnixSeconds,
) -> Vec<JoinBucket> {
    let start = first.div_euclid(width) * width;
    let end = last.div_euclid(width) * width;
    let mut series = Vec::with_capacity(((end - start) / width + 1) as usize);
    let mut counted = counted.iter().peekable();
    let mut at = start;
    while at <= end {
        let mut joins = 0;
        while let Some((bucket, n)) = counted.next_if(|(bucket, _)| *bucket <= at) {
            if *bucket == at {
                joins += n;
            }
        }
        series.push(JoinBucket { start: at, joins });
        at += width;
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_widen_by_whole_multiples_to_stay_within_the_cap() {
        assert_eq!(bucket_width(300, None, None), 300);
        assert_eq!(bucket_width(300, Some(1_000), Some(4_000)), 300);
        // 2,000 five-minute buckets exactly: unchanged.
        assert_eq!(bucket_width(300, Some(0), Some(300 * 1_999)), 300);
        // One more needs ten-minute buckets.
        assert_eq!(bucket_width(300, Some(0), Some(300 * 2_000)), 600);
        // A year of joins at one-minute buckets.
        let width = bucket_width(60, Some(1_800_000_000), Some(1_800_000_000 + 365 * 86_400));
        assert_eq!(width % 60, 0);
        let span = (1_800_000_000 + 365 * 86_400) / width - 1_800_000_000 / width + 1;
        assert!(span <= MAX_BUCKETS, "{width} gives {span} buckets");
        assert!(bucket_width(60, Some(0), Some(365 * 86_400 - 1)) >= 60 * 263);
    }

    #[test]
    fn empty_buckets_between_the_first_and_last_join_are_zero() {
        let series = fill_buckets(&[(600, 2), (1_500, 1)], 300, 610, 1_799);
        assert_eq!(
            series,
            vec![
                JoinBucket {
                    start: 600,
                    joins: 2
                },
                JoinBucket {
                    start: 900,
                    joins: 0
                },
                JoinBucket {
                    start: 1_200,
                    joins: 0
                },
                JoinBucket {
                    start: 1_500,
                    joins: 1
                },
            ]
        );
        assert_eq!(
            fill_buckets(&[(0, 3)], 60, 5, 59),
            vec![JoinBucket { start: 0, joins: 3 }]
        );
    }
}
