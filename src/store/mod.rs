//! The SQL source of truth: users, rooms, entitlements, bans, payments, attendance, and
//! the statistics read from them.
//!
//! One implementation serves both backends through sqlx's `Any` driver: PostgreSQL in
//! production and an embedded SQLite file by default. The SQL here is the portable subset
//! both speak (`$n` placeholders, `ON CONFLICT`, `RETURNING`, TEXT/BIGINT columns), so the
//! two backends cannot drift apart in behaviour; where they do differ (pragmas, migration
//! locking, DDL types) the difference lives in `migrations/<backend>/` and in [`Backend`].
//! All SQL of the crate lives under this module, and every value is a bound parameter.

mod attendance;
mod audit;
mod bans;
mod batch;
mod calls;
mod changes;
mod entitlements;
mod mastodon;
mod mastodon_link;
mod matrix;
mod migrate;
mod oidc;
mod oidc_consent;
mod oidc_logout;
mod outbox;
mod payments;
mod rooms;
mod seats;
#[cfg(feature = "bench")]
mod seed;
#[cfg(feature = "bench")]
mod seed_copy;
mod shows;
mod stats;
mod tips;
mod user_facts;
mod users;
mod verification;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row as _};

pub use audit::AuditQuery;
pub use calls::{CallTotals, MeterFacts, SlotCharge};
pub use changes::{RecordedChange, WRITER_HOLD_SECS};
pub use mastodon::{MastodonCall, NewMastodonCall};
pub use matrix::{NewOutboxItem, OutboxItem};
pub use oidc::{Claim, NewOidcCode, OidcSessionRecord, OidcTokenKind, SpentCode, StoredCode};
pub use oidc_consent::OidcConsent;
pub use oidc_logout::OidcLogoutRow;
pub use outbox::{LiveCommandRow, Outbox};
pub use payments::{LedgerContext, PaymentTx, PurchaseFacts};
#[cfg(feature = "bench")]
pub use seed::SeedStay;
#[cfg(feature = "bench")]
pub use seed_copy::{CopyLoader, CopyRows, CopyTable};
pub use shows::{ShowInsert, ShowRequestKey};
pub use stats::{AttendanceFigures, AttendanceTally, AttendedRoom, ShowFigures};
pub use user_facts::UserRecords;
pub use users::NewUser;

use crate::telemetry::metrics::{Metrics, StoreOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// How long a query waits for a pooled connection (opening one if the pool may)
    /// before it fails, and the request with it (503).
    ///
    /// PostgreSQL is a server that can go away. sqlx's default, 30 s, then holds every
    /// uncached request while it keeps trying to connect, and answers it (200, long after
    /// any client gave up) only if the server comes back within that time. A second is far
    /// longer than any wait for a connection from a working pool of queries that take
    /// about a millisecond, and short enough to refuse promptly while the database is
    /// away; it also bounds how long start-up waits for a database that does not answer.
    /// The embedded file cannot go away, and a connection can be held for a while by
    /// a writer waiting on another (`busy_timeout`), so it keeps sqlx's default.
    pub fn acquire_timeout(self) -> Duration {
        match self {
            Backend::Sqlite => Duration::from_secs(30),
            Backend::Postgres => Duration::from_secs(1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write; names what collided (`handle`, `email`, …).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A referenced row does not exist.
    #[error("{0} does not exist")]
    MissingReference(&'static str),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where the user-facts lookup runs: on PostgreSQL a pool of its own whose connections
    /// plan that statement once for any values (see [`POSTGRES_PLAN_CACHE`]); on SQLite
    /// the same pool.
    facts_pool: AnyPool,
    backend: Backend,
    metrics: Arc<Metrics>,
    /// The embedded file's one writer at a time, queued here (see [`Store::write_turn`]);
    /// `None` on PostgreSQL, whose writers lock only the rows they touch.
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// When an operation last failed for a reason other than the data's (see
    /// [`LastFailure`]).
    last_failure: Arc<LastFailure>,
}

/// When the database last failed an operation, so that the pool pings, before handing it
/// out, every connection that sat idle across that failure.
///
/// A database that restarted leaves the pool holding connections it has closed. Those idle
/// for [`PING_IF_IDLE_FOR`] are pinged anyway; those used just before the outage are not,
/// and each would fail the first query given it after the database is back. An operation
/// that fails marks the moment; from then on a connection returned to the pool before that
/// moment is pinged (and discarded if dead) before use, so a failure answered during an
/// outage means no request fails after it. In steady state nothing fails and nothing more
/// is pinged.
#[derive(Debug)]
struct LastFailure {
    started: Instant,
    /// Milliseconds since `started`, plus one; 0 before any failure.
    at_ms_plus_one: std::sync::atomic::AtomicU64,
}

impl LastFailure {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            at_ms_plus_one: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn mark(&self) {
        let now = self.started.elapsed().as_millis() as u64 + 1;
        self.at_ms_plus_one
            .fetch_max(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a connection idle for `idle_for` was put back before the last failure.
    fn idle_across(&self, idle_for: Duration) -> bool {
        let failed = self
            .at_ms_plus_one
            .load(std::sync::atomic::Ordering::Relaxed);
        if failed == 0 {
            return false;
        }
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let returned = now.saturating_sub(idle_for.as_millis() as u64);
        returned <= failed
    }
}

/// A writer's place at the embedded file: held until its transaction ends.
pub(crate) type WriteTurn = Option<tokio::sync::OwnedMutexGuard<()>>;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Opens a pool. An SQLite file (and its folder) is created if missing and runs in WAL
    /// mode with foreign keys on.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).context("database.url names no supported backend")?;
        let mut url = url.to_owned();
        // SQLite runs one writer at a time and every connection keeps its own page cache,
        // so more than a few connections only cost memory. PostgreSQL's connections are
        // shared with the user-facts lookup's own pool.
        let (max_connections, facts_connections) = match backend {
            Backend::Sqlite => (max_connections.min(SQLITE_MAX_CONNECTIONS), 0),
            Backend::Postgres => split_connections(max_connections),
        };
        let last_failure = Arc::new(LastFailure::new());
        let failures = last_failure.clone();
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(backend.acquire_timeout())
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                let suspect =
                    meta.idle_for >= PING_IF_IDLE_FOR || failures.idle_across(meta.idle_for);
                Box::pin(async move {
                    if suspect {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            });
        if backend == Backend::Sqlite {
            prepare_sqlite_path(&url)?;
            if !url.contains("mode=") && !url.contains(":memory:") {
                url.push_str(if url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in SQLITE_PRAGMAS {
                        sqlx::Executor::execute(&mut *conn, *pragma).await?;
                    }
                    Ok(())
                })
            });
        }
        let cannot_connect = || {
            format!(
                "cannot connect to the {} database (database.url)",
                backend.as_str()
            )
        };
        let facts_options = (backend == Backend::Postgres).then(|| {
            let facts = options.clone().max_connections(facts_connections);
            if url.contains("plan_cache_mode") {
                return facts;
            }
            facts.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(&mut *conn, POSTGRES_PLAN_CACHE).await?;
                    Ok(())
                })
            })
        });
        let pool = options.connect(&url).await.with_context(cannot_connect)?;
        let facts_pool = match facts_options {
            Some(options) => options.connect(&url).await.with_context(cannot_connect)?,
            None => pool.clone(),
        };
        let writer = (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Self {
            pool,
            facts_pool,
            backend,
            metrics,
            writer,
            last_failure,
        })
    }

    /// Waits for this instance's turn to write to the embedded file.
    ///
    /// SQLite lets one connection write at a time. A second writer that finds the lock
    /// taken is not queued: it sleeps in SQLite's busy handler (1, 2, 5, 10 … ms) and tries
    /// again, so under a burst of payment notifications the writers spent more time asleep
    /// than writing, and one more statement in a transaction cost far more than its own
    /// time. Queued here (first come, first served, woken the moment the previous writer
    /// ends) they never meet the file's lock. Another process writing the same file still
    /// meets it, and the busy handler still covers that.
    pub(crate) async fn write_turn(&self) -> WriteTurn {
        match &self.writer {
            Some(writer) => Some(Arc::clone(writer).lock_owned().await),
            None => None,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; returns the names applied.
    pub async fn migrate(&self) -> anyhow::Result<Vec<String>> {
        migrate::run(&self.pool, self.backend).await
    }

    /// A trivial round trip, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.timed(StoreOp::Other, async {
            sqlx::query("SELECT 1")
                .execute(&self.pool)
                .await
                .context("ping")?;
            Ok(())
        })
        .await
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.facts_pool.close().await;
    }

    async fn timed<T>(
        &self,
        op: StoreOp,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        // A write waits for its turn at the embedded file; the wait is part of its latency.
        let _turn = if op == StoreOp::Write {
            self.write_turn().await
        } else {
            None
        };
        let result = work.await;
        self.metrics.store_op(op, started.elapsed());
        if let Err(StoreError::Unexpected(_)) = &result {
            self.last_failure.mark();
        }
        result
    }
}

/// Pool size cap for the embedded backend.
const SQLITE_MAX_CONNECTIONS: u32 = 4;

/// A pooled connection that sat idle this long is pinged before it is handed out.
///
/// The pool's default pings every connection it hands out: one more round trip per query.
/// A cold token request, then four queries, took 1.0 ms (median) at one connection against
/// PostgreSQL with those pings and 0.74 ms without (`bench/README.md`). A connection in
/// steady use has just answered a query; one that sat idle may have been dropped unnoticed
/// (a database restart, a firewall's idle timeout), and a failed ping makes the pool discard
/// it and hand out another instead of failing the query. What this gives up: a connection
/// the database drops while it is in steady use fails the one query that finds out, and
/// from then on every connection idle across that failure is pinged too ([`LastFailure`]).
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(5);

/// Per-connection settings of the embedded backend: WAL lets readers run beside the writer.
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
];

/// The user-facts lookup's PostgreSQL connections plan it once, for any values.
///
/// sqlx prepares each statement once per connection. With PostgreSQL's default (`auto`)
/// the first five calls are planned for their values, and later ones too unless the
/// generic plan is estimated no dearer; on a platform's data (a million users, ten million
/// entitlements) it never is for the user-facts union, which is then planned on every
/// cold lookup at 1.3–2.4 ms, three times its execution. A generic plan is no worse for it
/// (every branch looks the user up by key). It is worse for others: the statistics'
/// aggregates took three times the database's time with every connection set so, which is
/// why the setting lives on a pool of its own (`bench/README.md`, "Platform volume"). An
/// operator who sets `plan_cache_mode` in `database.url`'s `options` keeps theirs.
const POSTGRES_PLAN_CACHE: &str = "SET plan_cache_mode = force_generic_plan";

/// `database.max_connections` on PostgreSQL, split: (the other statements' pool, the
/// user-facts lookup's), half each and at least one each, so that instances × the setting
/// still bounds what the database serves (one more only when the setting is 1). A cold
/// lookup holds its connection for about a millisecond, and the database's cores, not the
/// number of connections, bound how many run at once.
fn split_connections(max_connections: u32) -> (u32, u32) {
    let facts = (max_connections / 2).max(1);
    (max_connections.saturating_sub(facts).max(1), facts)
}

fn prepare_sqlite_path(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return Ok(());
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the database folder {}", parent.display()))?;
    }
    Ok(())
}

/// Maps a failed write to a conflict on the named field when a uniqueness rule refused it.
fn classify_write_error(error: sqlx::Error, unique_fields: &[&'static str]) -> StoreError {
    if let sqlx::Error::Database(db) = &error {
        if db.is_unique_violation() {
            let text = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
            let field = unique_fields.iter().find(|f| text.contains(*f)).copied();
            return StoreError::Conflict(field.unwrap_or("record"));
        }
        if db.is_foreign_key_violation() {
            return StoreError::MissingReference("referenced record");
        }
    }
    StoreError::Unexpected(anyhow::Error::new(error).context("write"))
}

fn text(row: &AnyRow, column: &str) -> Result<String, StoreError> {
    row.try_get::<String, _>(column)
        .with_context(|| format!("column {column}"))
        .map_err(Into::into)
}

fn opt_text(row: &AnyRow, column: &str) -> Result<Option<String>, StoreError> {
    row.try_get::<Option<String>, _>(column)
        .with_context(|| format!("column {column}"))
        .map_err(Into::into)
}

fn int(row: &AnyRow, column: &str) -> Result<i64, StoreError> {
    row.try_get::<i64, _>(column)
        .with_context(|| format!("column {column}"))
        .map_err(Into::into)
}

fn opt_int(row: &AnyRow, column: &str) -> Result<Option<i64>, StoreError> {
    row.try_get::<Option<i64>, _>(column)
        .with_context(|| format!("column {column}"))
        .map_err(Into::into)
}

/// `select` once for each of `filters`, joined with `UNION ALL`. For a record that stays in
/// force until an end that may be missing (`IS NULL`) or still to come (`> $now`): as one
/// filter with `OR`, a generically planned statement bounds its index scan by the user
/// alone and reads every record the user ever had from the table; as two, each is a range
/// of the `(user, end)` index and the ended records are never read.
pub(super) fn union_of(select: &str, filters: &[&str]) -> String {
    filters
        .iter()
        .map(|filter| format!("{select} WHERE {filter}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("stored {what} {value:?} is not valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connections_put_back_before_the_last_failure_are_suspect() {
        let failures = LastFailure::new();
        assert!(
            !failures.idle_across(Duration::from_secs(60)),
            "nothing has failed"
        );
        std::thread::sleep(Duration::from_millis(30));
        failures.mark();
        assert!(failures.idle_across(Duration::from_millis(20)));
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            !failures.idle_across(Duration::from_millis(5)),
            "put back after the failure"
        );
        assert!(failures.idle_across(Duration::from_millis(50)));
    }

    #[test]
    fn postgres_connections_are_split_between_the_user_facts_lookup_and_the_rest() {
        assert_eq!(split_connections(16), (8, 8));
        assert_eq!(split_connections(3), (2, 1));
        assert_eq!(split_connections(1), (1, 1));
    }

    /// `plan_cache_mode` as the connections of a store opened on `url` see it: those of
    /// the user-facts lookup, then the others.
    async fn plan_cache_modes(url: &str) -> [String; 2] {
        let metrics = Arc::new(Metrics::new(&[], "postgres"));
        let store = Store::connect(url, 2, metrics).await.unwrap();
        let mut modes = Vec::new();
        for pool in [&store.facts_pool, &store.pool] {
            let row = sqlx::query("SELECT current_setting('plan_cache_mode') AS mode")
                .fetch_one(pool)
                .await
                .unwrap();
            modes.push(text(&row, "mode").unwrap());
        }
        store.close().await;
        modes.try_into().unwrap()
    }

    #[tokio::test]
    async fn the_user_facts_lookup_plans_once_unless_the_url_says_otherwise() {
        let Some(base) = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            assert!(
                std::env::var("TEST_REQUIRE_ALL").as_deref() != Ok("1"),
                "SKIPPED: plan_cache_mode needs TEST_DATABASE_URL"
            );
            eprintln!("SKIPPED: plan_cache_mode needs TEST_DATABASE_URL");
            return;
        };
        assert_eq!(
            plan_cache_modes(&base).await,
            ["force_generic_plan", "auto"]
        );
        let separator = if base.contains('?') { '&' } else { '?' };
        let operators =
            format!("{base}{separator}options=-c%20plan_cache_mode%3Dforce_custom_plan");
        assert_eq!(
            plan_cache_modes(&operators).await,
            ["force_custom_plan", "force_custom_plan"]
        );
    }
}
