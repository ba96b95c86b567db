//! Statistics for performers: one show, and all of a performer's shows.
//!
//! **Permissions**: the performer, moderators and admins ([`authz::room_moderator`],
//! [`authz::performer_reader`]). Revenue follows the earnings rule: it is included for the
//! performer themself, admins and the admin key, and is `null` for moderators.

use axum::extract::State;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::admin::time;
use super::live::moderator;
use crate::authz::{self, Caller};
use crate::clock::{rfc3339, UnixSeconds};
use crate::domain::{RevenueTotals, TipperTotal};
use crate::http::error::ApiError;
use crate::http::extract::ApiQuery;
use crate::http::params::{RoomParam, UserParam};
use crate::http::state::StatsState;
use crate::stats::{
    PerformerStats, Revenue, RoomStats, DEFAULT_BUCKET_SECS, MAX_BUCKET_SECS, MIN_BUCKET_SECS,
};

#[derive(Serialize, JsonSchema)]
pub struct RoomStatsView {
    room: String,
    /// When the figures were taken; open stays count up to here.
    as_of: String,
    viewers: i64,
    present: i64,
    joins: i64,
    watch_secs: i64,
    median_watch_secs: Option<f64>,
    peak_concurrent: i64,
    peak_at: Option<String>,
    first_join_at: Option<String>,
    last_join_at: Option<String>,
    bucket_secs: i64,
    joins_over_time: Vec<BucketView>,
    revenue: Option<Vec<RevenueTotals>>,
    top_tippers: Option<Vec<TipperTotal>>,
}

#[derive(Serialize, JsonSchema)]
pub struct BucketView {
    start: String,
    joins: i64,
}

impl RoomStatsView {
    fn new(room: String, stats: RoomStats) -> Self {
        Self {
            room,
            as_of: rfc3339(stats.now),
            viewers: stats.viewers,
            present: stats.present,
            joins: stats.joins,
            watch_secs: stats.watch_secs,
            median_watch_secs: stats.median_watch_secs,
            peak_concurrent: stats.peak_concurrent,
            peak_at: stats.peak_at.map(rfc3339),
            first_join_at: stats.first_join_at.map(rfc3339),
            last_join_at: stats.last_join_at.map(rfc3339),
            bucket_secs: stats.bucket_secs,
            joins_over_time: stats
                .joins_over_time
                .iter()
                .map(|b| BucketView {
                    start: rfc3339(b.start),
                    joins: b.joins,
                })
                .collect(),
            revenue: stats.revenue,
            top_tippers: stats.top_tippers,
        }
    }
}

/// # `GET /api/rooms/{room}/stats`
/// A show in figures: distinct viewers, who is in now, joins, total and median watch time
/// per viewer, peak concurrency, joins per bucket (`bucket` seconds, 60–86400, default
/// 300; widened to keep at most 2000 buckets), revenue per currency, and the tips
/// leaderboard (`top_tippers`: the ten biggest tippers per currency-sum, with the revenue).
/// **Permissions**: the room's performer, moderators and admins; revenue as the module says.
#[tracing::instrument(skip_all, fields(room = %room))]
pub async fn room_stats(
    State(state): State<StatsState>,
    caller: Caller,
    RoomParam(room): RoomParam,
    ApiQuery(params): ApiQuery<RoomStatsParams>,
) -> Result<Json<RoomStatsView>, ApiError> {
    let moderator = moderator(state.access(), &caller, &room).await?;
    let bucket = params.bucket()?;
    let revenue = revenue(authz::sees_revenue_of(&caller, moderator.room()));
    let room = moderator.room();
    let stats = state.stats().room_stats(room, bucket, revenue).await?;
    Ok(Json(RoomStatsView::new(room.name.to_string(), stats)))
}

#[derive(Serialize, JsonSchema)]
pub struct PerformerStatsView {
    performer_id: String,
    from: Option<String>,
    to: Option<String>,
    unique_viewers: i64,
    joins: i64,
    watch_secs: i64,
    shows: Vec<ShowView>,
    revenue: Option<Vec<RevenueTotals>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ShowStatsView")]
pub struct ShowView {
    room: String,
    title: String,
    viewers: i64,
    joins: i64,
    watch_secs: i64,
    first_join_at: String,
    last_join_at: String,
}

impl PerformerStatsView {
    fn new(performer_id: String, stats: PerformerStats) -> Self {
        Self {
            performer_id,
            from: stats.from.map(rfc3339),
            to: stats.until.map(rfc3339),
            unique_viewers: stats.unique_viewers,
            joins: stats.joins,
            watch_secs: stats.watch_secs,
            shows: stats
                .shows
                .into_iter()
                .map(|s| ShowView {
                    room: s.room,
                    title: s.title,
                    viewers: s.viewers,
                    joins: s.joins,
                    watch_secs: s.watch_secs,
                    first_join_at: rfc3339(s.first_join_at),
                    last_join_at: rfc3339(s.last_join_at),
                })
                .collect(),
            revenue: stats.revenue,
        }
    }
}

/// # `GET /api/performers/{id}/stats`
/// Across a performer's shows: each show's viewers, joins and watch time, distinct viewers
/// over all of them, and revenue per currency (subscriptions and tips included). `from` and
/// `to` (RFC 3339, optional) keep the stays begun and the ledger entries booked in
/// `[from, to)`.
/// **Permissions**: the performer themself, moderators and admins; revenue as the module
/// says.
#[tracing::instrument(skip_all, fields(performer = %performer))]
pub async fn performer_stats(
    State(state): State<StatsState>,
    caller: Caller,
    UserParam(performer): UserParam,
    ApiQuery(params): ApiQuery<PerformerStatsParams>,
) -> Result<Json<PerformerStatsView>, ApiError> {
    let reader = authz::performer_reader(state.access(), &caller, &performer).await?;
    let (from, to) = params.range()?;
    let revenue = revenue(reader.sees_revenue());
    let stats = state
        .stats()
        .performer_stats(&performer, from, to, revenue)
        .await?;
    Ok(Json(PerformerStatsView::new(performer, stats)))
}

/// `?bucket=` of a show's figures.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomStatsParams {
    bucket: Option<i64>,
}

impl RoomStatsParams {
    fn bucket(&self) -> Result<i64, ApiError> {
        let bucket = self.bucket.unwrap_or(DEFAULT_BUCKET_SECS);
        if (MIN_BUCKET_SECS..=MAX_BUCKET_SECS).contains(&bucket) {
            Ok(bucket)
        } else {
            Err(ApiError::validation(
                "bucket",
                format!("bucket must be whole seconds from {MIN_BUCKET_SECS} to {MAX_BUCKET_SECS}"),
            ))
        }
    }
}

/// `?from=&to=` (RFC 3339) of a performer's figures.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerformerStatsParams {
    from: Option<String>,
    to: Option<String>,
}

impl PerformerStatsParams {
    fn range(&self) -> Result<(Option<UnixSeconds>, Option<UnixSeconds>), ApiError> {
        let from = time("from", self.from.as_deref())?;
        let to = time("to", self.to.as_deref())?;
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                return Err(ApiError::validation("to", "to must be later than from"));
            }
        }
        Ok((from, to))
    }
}

fn revenue(shown: bool) -> Revenue {
    if shown {
        Revenue::Included
    } else {
        Revenue::Withheld
    }
}
