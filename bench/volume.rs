//! `--data-set platform`: the token path against a platform's volume of data in PostgreSQL
//! — 1,000,000 users, 100,000 rooms, 10,000,000 entitlements, 1,000,000 bans and
//! 20,000,000 attendance rows (`--platform-scale` scales them all) — loaded with COPY
//! (`roomkey::store::CopyLoader`), then measured three ways (`--measure`):
//!
//! - `cold`: the token path with the caches off, at each of `--cold-connections` (1, 8 and
//!   64), window by window in turn with the same measurement against the default data set,
//!   which is seeded into a second throw-away schema and served by a second server from the
//!   same build: the ratio of the two compares the data sets under one machine state;
//! - `token-zipf`: the token path with the in-process cache at `--zipf-cache` entries and
//!   the users drawn from a Zipf distribution (`--zipf-exponent`) over every viewer who may
//!   enter some room — a working set larger than the cache — at each of
//!   `--zipf-connections`;
//! - `rss`: one token request for every user, so that every user's facts are held in the
//!   server, then the server's resident memory.
//!
//! `cold` and `token-zipf` are measured `--repeats` times and reported with the median. The
//! data's mix is described in `bench/README.md` ("Platform volume") and in [`Shape`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use tokio::sync::mpsc;

use roomkey::clock::{Clock as _, SystemClock, UnixSeconds};
use roomkey::domain::{
    Ban, BanLift, BanScope, Entitlement, EntitlementScope, EntitlementSource, Money, Revocation,
    Role, Room, RoomAccess, RoomName, User,
};
use roomkey::identity::SessionTokens;
use roomkey::store::{CopyLoader, CopyRows, CopyTable, SeedStay, Store};

use crate::{
    get, machine, metrics, progress, Args, Connection, DataSet, Database, FastRng, Outcome,
    Scenario, Server, ServerEnv, ServerSpec, Window, WorkerTally,
};

// ---------------------------------------------------------------------------------------
// Options

/// What the platform data set is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    Cold,
    TokenZipf,
    Rss,
}

impl Measure {
    const ALL: [Measure; 3] = [Measure::Cold, Measure::TokenZipf, Measure::Rss];

    fn name(self) -> &'static str {
        match self {
            Measure::Cold => "cold",
            Measure::TokenZipf => "token-zipf",
            Measure::Rss => "rss",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `--data-set platform`: this module's run instead of the scenarios.
    pub(crate) platform: bool,
    scale: f64,
    measures: Vec<Measure>,
    cold_connections: Vec<usize>,
    zipf_connections: Vec<usize>,
    zipf_cache: u64,
    zipf_exponent: f64,
    repeats: u32,
    /// The `rss` server's in-process cache entries; `None`: room for every user.
    rss_cache: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            platform: false,
            scale: 1.0,
            measures: Measure::ALL.to_vec(),
            cold_connections: vec![1, 8, 64],
            zipf_connections: vec![8, 64],
            zipf_cache: 200_000,
            zipf_exponent: 1.0,
            repeats: 3,
            rss_cache: None,
        }
    }
}

/// The options [`Options::set`] takes.
pub(crate) const FLAGS: [&str; 9] = [
    "--data-set",
    "--platform-scale",
    "--measure",
    "--cold-connections",
    "--zipf-connections",
    "--zipf-cache",
    "--zipf-exponent",
    "--repeats",
    "--rss-cache",
];

pub(crate) const USAGE: &str = "\
Platform volume (PostgreSQL only, with --database-url; bench/README.md, \"Platform volume\"):
  --data-set NAME      `default` (the scenarios above) or `platform`: 1,000,000 users,
                       100,000 rooms, 10,000,000 entitlements, 1,000,000 bans and
                       20,000,000 attendance rows loaded with COPY, then the measurements
                       of --measure instead of the scenarios
  --platform-scale F   scale every count of the platform data set by F (default 1)
  --measure LIST       from: cold, token-zipf, rss (default: all three)
  --cold-connections L connection counts for `cold`, each measured against the platform
                       set and the default set in turn (default 1,8,64)
  --zipf-connections L connection counts for `token-zipf` (default 8,64)
  --zipf-cache N       the server's in-process cache entries for `token-zipf` (default
                       200000, the configuration's default)
  --zipf-exponent S    Zipf exponent of the users' popularity (default 1.0)
  --repeats N          measurements of each `cold` and `token-zipf` figure (default 3)
  --rss-cache N        the `rss` server's in-process cache entries (default: room for
                       every user, so all are held in process); with --redis-url the
                       facts the cache cannot hold stay hot in Redis (`token-zipf` and
                       `rss` servers only; the keys stay there after the run)
  --seconds and --warmup set each measurement's window; `rss` uses --connections.";

impl Options {
    pub(crate) fn set(&mut self, flag: &str, value: &str) -> anyhow::Result<()> {
        fn number<T: std::str::FromStr>(flag: &str, text: &str) -> anyhow::Result<T> {
            text.replace('_', "")
                .parse()
                .map_err(|_| anyhow!("{flag}: {text:?} is not a number"))
        }
        fn counts(flag: &str, text: &str) -> anyhow::Result<Vec<usize>> {
            let list = text
                .split(',')
                .map(|n| number::<usize>(flag, n.trim()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if list.is_empty() || list.contains(&0) {
                bail!("{flag} needs connection counts of at least 1");
            }
            Ok(list)
        }
        match flag {
            "--data-set" => {
                self.platform = match value {
                    "platform" => true,
                    "default" => false,
                    other => bail!("--data-set: {other:?} is neither `default` nor `platform`"),
                }
            }
            "--platform-scale" => {
                self.scale = number(flag, value)?;
                if !(self.scale > 0.0 && self.scale <= 10.0) {
                    bail!("--platform-scale must be above 0 and at most 10");
                }
            }
            "--measure" => {
                let mut chosen = Vec::new();
                for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let measure = Measure::ALL
                        .into_iter()
                        .find(|m| m.name() == name)
                        .ok_or_else(|| anyhow!("--measure: unknown measurement {name:?}"))?;
                    chosen.push(measure);
                }
                self.measures = Measure::ALL
                    .into_iter()
                    .filter(|m| chosen.contains(m))
                    .collect();
            }
            "--cold-connections" => self.cold_connections = counts(flag, value)?,
            "--zipf-connections" => self.zipf_connections = counts(flag, value)?,
            "--zipf-cache" => {
                self.zipf_cache = number(flag, value)?;
                if self.zipf_cache == 0 {
                    bail!("--zipf-cache must be at least 1 (0 disables the cache: that is `cold`)");
                }
            }
            "--zipf-exponent" => {
                self.zipf_exponent = number(flag, value)?;
                if !(self.zipf_exponent > 0.0 && self.zipf_exponent < 10.0) {
                    bail!("--zipf-exponent must be above 0 and below 10");
                }
            }
            "--rss-cache" => {
                let entries: u64 = number(flag, value)?;
                if entries == 0 {
                    bail!("--rss-cache must be at least 1");
                }
                self.rss_cache = Some(entries);
            }
            "--repeats" => {
                self.repeats = number(flag, value)?;
                if self.repeats == 0 {
                    bail!("--repeats must be at least 1");
                }
            }
            other => bail!("unknown option {other:?}"),
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The data set

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// How far back the platform's history reaches: entitlements, bans and shows are spread
/// over the last two years.
const HISTORY: i64 = 730 * DAY;
/// Users generated (and sent to COPY) per chunk of the entitlement and ban generator; the
/// chunk's entitlements and bans are written in the order they were created.
const CHUNK_VIEWERS: usize = 10_000;
/// A COPY buffer is handed over at this size.
const CHUNK_BYTES: usize = 4 << 20;
/// Buffers in flight between a generator thread and the connection.
const CHANNEL_CHUNKS: usize = 4;
/// How long after seeding the load may still ask for a viewer's rooms.
const LOAD_HOURS: i64 = 6;
const PLANS: [&str; 2] = ["member", "prime"];
const SHARDS: [&str; 4] = ["shard-a", "shard-b", "shard-c", "shard-d"];
const BAN_REASONS: [&str; 5] = [
    "spam",
    "harassment",
    "abusive language",
    "payment fraud",
    "impersonation",
];

/// The platform data set's counts. The mix (see `bench/README.md`):
///
/// - users: 1% performers (verified), the rest viewers; performer `p` owns rooms `p`,
///   `p + performers`, … (10 each);
/// - rooms: paid, standing (no start or end), no capacity; every tenth lists the plans
///   `member` and `prime`, every tenth but one `prime` alone;
/// - entitlements: per viewer an exponentially distributed count (mean about 10), one
///   viewer in a thousand with 200–1,000 more; 75% room tickets (70% for a room of one of
///   the viewer's three favourite performers, drawn with a skew towards popular ones), of
///   which 83% for one show (valid a day), 10% season passes (90 days), 5% lifetime and 2%
///   bought in the last week for a show yet to come; 20% monthly performer subscriptions
///   (80% to a favourite); 5% plans (`member` 70%, `prime` 30%; 10% of them yearly).
///   Created uniformly over two years, so most have ended; 1% revoked (refunds,
///   chargebacks); 95% from payments, 3% admin grants, 2% invite codes;
/// - bans: on 15% of the viewers (exponential count, mean about 7 each): 70% room bans of 1
///   hour to 7 days, 25% performer bans (30 days, or 30% permanent), 5% global (30 days, or
///   half permanent); created over two years; 10% lifted;
/// - attendance: per room an equal share of the rows over 1–20 past shows of two hours
///   each, every stay 1–60 minutes of a random viewer, all closed.
#[derive(Debug, Clone, Copy)]
struct Shape {
    users: usize,
    performers: usize,
    rooms: usize,
    entitlements: u64,
    bans: u64,
    stays: u64,
}

impl Shape {
    fn scaled(factor: f64) -> Self {
        let n = |base: f64, min: f64| (base * factor).round().max(min) as u64;
        let performers = n(10_000.0, 2.0) as usize;
        Shape {
            users: (n(1_000_000.0, 100.0) as usize).max(2 * performers),
            performers,
            rooms: (n(100_000.0, 1.0) as usize).max(performers),
            entitlements: n(10_000_000.0, 0.0),
            bans: n(1_000_000.0, 0.0),
            stays: n(20_000_000.0, 0.0),
        }
    }

    fn viewers(&self) -> usize {
        self.users - self.performers
    }

    /// A room of performer `p`.
    fn performer_room(&self, p: usize, rng: &mut StdRng) -> usize {
        let owned = (self.rooms - p).div_ceil(self.performers);
        p + self.performers * rng.gen_range(0..owned)
    }

    /// A room that lists `plan`, if there is one.
    fn plan_room(&self, plan: &str, rng: &mut StdRng) -> Option<usize> {
        let tens = self.rooms.div_ceil(10);
        let room = 10 * rng.gen_range(0..tens) + usize::from(plan == "prime" && rng.gen());
        (room < self.rooms).then_some(room)
    }

    fn owner(&self, room: usize) -> usize {
        room % self.performers
    }
}

fn room_plans(room: usize) -> Vec<String> {
    match room % 10 {
        0 => PLANS.iter().map(|p| (*p).to_owned()).collect(),
        1 => vec!["prime".to_owned()],
        _ => Vec::new(),
    }
}

/// The ids everything refers to, shared with the generator threads.
struct World {
    shape: Shape,
    user_ids: Vec<String>,
    room_ids: Vec<String>,
    now: UnixSeconds,
}

/// What the platform data set holds, for the load and the report.
struct Platform {
    world: Arc<World>,
    /// Per viewer, the rooms they may enter now (tickets, subscriptions and plans in force,
    /// none where a ban in force applies): `allowed[offsets[v]..offsets[v + 1]]`.
    offsets: Vec<u32>,
    allowed: Vec<u32>,
    tables: Vec<(CopyTable, u64, f64)>,
    seconds: f64,
    foreign_keys_checked: bool,
    live_entitlements: u64,
    revoked: u64,
    bans_in_force: u64,
    lifted: u64,
}

/// A generator's way out: hands a full buffer to the connection; `false` once the load
/// has failed and nobody receives any more.
type Sink<'a> = &'a mut dyn FnMut(CopyRows) -> bool;

/// Loads `table` from the buffers `generate` makes on a thread of its own, so generating
/// and PostgreSQL's work overlap; returns the rows loaded and what `generate` returned.
async fn copy_generated<R: Send + 'static>(
    loader: &mut CopyLoader,
    table: CopyTable,
    generate: impl FnOnce(Sink<'_>) -> R + Send + 'static,
) -> anyhow::Result<(u64, R)> {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let producer = std::thread::spawn(move || {
        let mut send = |rows: CopyRows| rows.is_empty() || tx.blocking_send(rows).is_ok();
        generate(&mut send)
    });
    let loaded = loader.load(table, rx).await;
    // The generator stops at its next buffer once the receiver is gone.
    let produced = tokio::task::spawn_blocking(move || producer.join())
        .await
        .context("join the generator")?
        .map_err(|_| anyhow!("the {} generator panicked", table.name()))?;
    Ok((loaded?, produced))
}

/// Loads buffers made already.
async fn copy_held(
    loader: &mut CopyLoader,
    table: CopyTable,
    held: Vec<CopyRows>,
) -> anyhow::Result<u64> {
    let (tx, rx) = mpsc::channel(held.len().max(1));
    for rows in held {
        tx.try_send(rows)
            .map_err(|_| anyhow!("the channel holds every buffer"))?;
    }
    drop(tx);
    Ok(loader.load(table, rx).await?)
}

/// Counts per viewer summing to exactly `total`: `draw` for each, then single units added
/// to or taken from random viewers (those `draw` gave some, when adding, if any did).
fn fitted_counts(
    viewers: usize,
    total: u64,
    rng: &mut StdRng,
    mut draw: impl FnMut(&mut StdRng) -> u32,
) -> Vec<u32> {
    let mut counts: Vec<u32> = (0..viewers).map(|_| draw(rng)).collect();
    let mut sum: u64 = counts.iter().map(|c| u64::from(*c)).sum();
    let some: Vec<u32> = (0..viewers as u32)
        .filter(|v| counts[*v as usize] > 0)
        .collect();
    while sum < total {
        let v = if some.is_empty() {
            rng.gen_range(0..viewers)
        } else {
            some[rng.gen_range(0..some.len())] as usize
        };
        counts[v] += 1;
        sum += 1;
    }
    while sum > total {
        let v = rng.gen_range(0..viewers);
        if counts[v] > 0 {
            counts[v] -= 1;
            sum -= 1;
        }
    }
    counts
}

/// `mean` times an exponential draw, rounded down.
fn exponential(rng: &mut StdRng, mean: f64) -> u32 {
    let u: f64 = rng.gen();
    (-(1.0 - u).ln() * mean) as u32
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Reads every table the token path reads, with its indexes, into the operating system's
/// page cache (`pg_prewarm`, mode `read`), as a database that has served a platform for a
/// while holds them. Right after the load they are partly on disk: the load wrote several
/// times the page cache's worth (tables, WAL, the attendance rows the token path never
/// reads), and the first cold windows then measured the virtual disk — I/O pressure stalls
/// of 8% of the time and single windows with a p99 of 130–250 ms (`bench/README.md`,
/// "Platform volume", run 9). `attendance` is left out. Without the extension (it ships
/// with PostgreSQL's contrib modules) this says so and the run goes on.
async fn prewarm(url: &str, schema: &str) {
    use sqlx::Connection as _;
    let started = Instant::now();
    let read = async {
        let mut conn = sqlx::postgres::PgConnection::connect(url).await?;
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_prewarm SCHEMA public")
            .execute(&mut conn)
            .await?;
        let blocks: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(public.pg_prewarm(c.oid, 'read')), 0)::bigint \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_index i ON i.indexrelid = c.oid \
             JOIN pg_class t ON t.oid = coalesce(i.indrelid, c.oid) \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'i') AND t.relname <> 'attendance'",
        )
        .bind(schema)
        .fetch_one(&mut conn)
        .await?;
        let _ = conn.close().await;
        Ok::<_, sqlx::Error>(blocks)
    };
    match read.await {
        Ok(blocks) => progress(format_args!(
            "  prewarmed the token path's tables and indexes: {:.0} MiB in {:.1} s",
            blocks as f64 * 8192.0 / 1048576.0,
            started.elapsed().as_secs_f64()
        )),
        Err(error) => progress(format_args!(
            "  not prewarmed ({error}); the first cold windows may read from disk"
        )),
    }
}

async fn seed_platform(
    url: &str,
    schema: &str,
    shape: Shape,
    seed: u64,
    now: UnixSeconds,
) -> anyhow::Result<Platform> {
    let started = Instant::now();
    let store = Store::connect(url, 2, metrics()).await?;
    store.migrate().await?;
    let mut loader = CopyLoader::connect(url, schema).await?;
    let world = Arc::new(World {
        shape,
        user_ids: (0..shape.users).map(|_| new_id()).collect(),
        room_ids: (0..shape.rooms).map(|_| new_id()).collect(),
        now,
    });
    let mut rng = StdRng::seed_from_u64(seed);
    let entitlement_counts = fitted_counts(shape.viewers(), shape.entitlements, &mut rng, |r| {
        let whale = if r.gen_bool(0.001) {
            r.gen_range(200..1_000)
        } else {
            0
        };
        exponential(r, 10.0) + whale
    });
    let ban_counts = fitted_counts(shape.viewers(), shape.bans, &mut rng, |r| {
        if r.gen_bool(0.15) {
            exponential(r, 6.0) + 1
        } else {
            0
        }
    });
    let mut tables = Vec::new();
    let mut timed = Instant::now();
    let mut done = |table: CopyTable, rows: u64| {
        let seconds = timed.elapsed().as_secs_f64();
        progress(format_args!(
            "  {}: {rows} rows in {seconds:.1} s ({:.0} rows/s)",
            table.name(),
            rows as f64 / seconds.max(1e-9)
        ));
        tables.push((table, rows, seconds));
        timed = Instant::now();
    };

    let w = world.clone();
    let (rows, ()) = copy_generated(&mut loader, CopyTable::Users, move |send| {
        generate_users(&w, seed, send)
    })
    .await?;
    done(CopyTable::Users, rows);

    let w = world.clone();
    let (rows, ()) = copy_generated(&mut loader, CopyTable::Rooms, move |send| {
        generate_rooms(&w, seed, send)
    })
    .await?;
    done(CopyTable::Rooms, rows);

    let w = world.clone();
    let (rows, facts) = copy_generated(&mut loader, CopyTable::Entitlements, move |send| {
        generate_facts(&w, &entitlement_counts, &ban_counts, seed, send)
    })
    .await?;
    done(CopyTable::Entitlements, rows);
    let Facts {
        revocations,
        bans,
        lifts,
        offsets,
        allowed,
        live_entitlements,
        revoked,
        bans_in_force,
        lifted,
    } = facts;
    for (table, held) in [
        (CopyTable::EntitlementRevocations, revocations),
        (CopyTable::Bans, bans),
        (CopyTable::BanLifts, lifts),
    ] {
        let rows = copy_held(&mut loader, table, held).await?;
        done(table, rows);
    }

    let w = world.clone();
    let (rows, ()) = copy_generated(&mut loader, CopyTable::Attendance, move |send| {
        generate_stays(&w, seed, send)
    })
    .await?;
    done(CopyTable::Attendance, rows);
    let foreign_keys_checked = loader.foreign_keys_checked();
    let settled = Instant::now();
    store.vacuum_analyze().await?;
    store.close().await;
    loader.checkpoint().await?;
    loader.close().await;
    progress(format_args!(
        "  VACUUM (ANALYZE) and CHECKPOINT in {:.1} s",
        settled.elapsed().as_secs_f64()
    ));
    Ok(Platform {
        world,
        offsets,
        allowed,
        tables,
        seconds: started.elapsed().as_secs_f64(),
        foreign_keys_checked,
        live_entitlements,
        revoked,
        bans_in_force,
        lifted,
    })
}

fn generate_users(world: &World, seed: u64, send: Sink<'_>) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0055_5345_5253);
    let shape = world.shape;
    let mut rows = CopyRows::new(CopyTable::Users, CHUNK_BYTES + 4096);
    for (i, id) in world.user_ids.iter().enumerate() {
        let performer = i < shape.performers;
        let (handle, display_name) = if performer {
            (format!("performer{i}"), format!("Performer {i}"))
        } else {
            let v = i - shape.performers;
            (format!("viewer{v}"), format!("Viewer {v}"))
        };
        let created_at = world.now - rng.gen_range(DAY..3 * 365 * DAY);
        let updated_at = created_at + rng.gen_range(0..world.now - created_at);
        rows.push_user(&User {
            id: id.clone(),
            email: format!("{handle}@bench.example.com"),
            handle,
            display_name,
            role: if performer {
                Role::Performer
            } else {
                Role::Viewer
            },
            matrix_user_id: None,
            avatar_url: None,
            verified: performer,
            created_at,
            updated_at,
            session_generation: 0,
        });
        if rows.bytes() >= CHUNK_BYTES && !send(rows.take()) {
            return;
        }
    }
    send(rows);
}

fn generate_rooms(world: &World, seed: u64, send: Sink<'_>) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0052_4f4f_4d53);
    let shape = world.shape;
    let mut rows = CopyRows::new(CopyTable::Rooms, CHUNK_BYTES + 4096);
    for (r, id) in world.room_ids.iter().enumerate() {
        let name = room_name(r);
        let created_at = world.now - rng.gen_range(DAY..2 * 365 * DAY);
        rows.push_room(&Room {
            id: id.clone(),
            name: RoomName::parse(&name).expect("a plain room name"),
            title: format!("Show {r}"),
            owner_id: world.user_ids[shape.owner(r)].clone(),
            access: RoomAccess::Paid,
            price: Some(Money {
                amount_minor: 500 + 500 * (r % 10) as i64,
                currency: "USD".into(),
            }),
            plans: room_plans(r),
            starts_at: None,
            ends_at: None,
            created_at,
            updated_at: created_at,
            capacity: None,
        });
        if rows.bytes() >= CHUNK_BYTES && !send(rows.take()) {
            return;
        }
    }
    send(rows);
}

fn room_name(room: usize) -> String {
    format!("show-{room:07}")
}

/// What the entitlement generator leaves besides the entitlements it streamed.
struct Facts {
    revocations: Vec<CopyRows>,
    bans: Vec<CopyRows>,
    lifts: Vec<CopyRows>,
    offsets: Vec<u32>,
    allowed: Vec<u32>,
    live_entitlements: u64,
    revoked: u64,
    bans_in_force: u64,
    lifted: u64,
}

/// Every viewer's entitlements (streamed) and bans, revocations and lifts (held, for
/// the tables after), `CHUNK_VIEWERS` viewers at a time, each chunk's rows in the order
/// they were created, so a viewer's rows lie on different pages as they would after
/// years of purchases.
fn generate_facts(
    world: &World,
    entitlement_counts: &[u32],
    ban_counts: &[u32],
    seed: u64,
    send: Sink<'_>,
) -> Facts {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0045_4e54_4954);
    let shape = &world.shape;
    let now = world.now;
    let mut facts = Facts {
        revocations: Vec::new(),
        bans: Vec::new(),
        lifts: Vec::new(),
        offsets: Vec::with_capacity(shape.viewers() + 1),
        allowed: Vec::new(),
        live_entitlements: 0,
        revoked: 0,
        bans_in_force: 0,
        lifted: 0,
    };
    facts.offsets.push(0);
    let mut rows = CopyRows::new(CopyTable::Entitlements, CHUNK_BYTES + 64 * 1024);
    let mut revocations = CopyRows::new(CopyTable::EntitlementRevocations, 0);
    let mut bans = CopyRows::new(CopyTable::Bans, 0);
    let mut lifts = CopyRows::new(CopyTable::BanLifts, 0);
    let mut chunk_entitlements: Vec<Entitlement> = Vec::new();
    let mut chunk_bans: Vec<Ban> = Vec::new();
    let mut candidates: Vec<usize> = Vec::new();
    let mut start = 0;
    while start < shape.viewers() {
        let end = (start + CHUNK_VIEWERS).min(shape.viewers());
        chunk_entitlements.clear();
        chunk_bans.clear();
        for v in start..end {
            let user_id = &world.user_ids[shape.performers + v];
            let favourites: [usize; 3] = std::array::from_fn(|_| {
                let u: f64 = rng.gen();
                ((u * u * shape.performers as f64) as usize).min(shape.performers - 1)
            });
            candidates.clear();
            for _ in 0..entitlement_counts[v] {
                let (e, room) = make_entitlement(world, user_id, &favourites, &mut rng);
                if e.is_active_at(now) {
                    facts.live_entitlements += 1;
                }
                // Only what still holds for the hours the run may take is asked for.
                if e.is_active_at(now) && e.is_active_at(now + LOAD_HOURS * HOUR) {
                    // A plan covers every room listing it: one of them.
                    let room = room.or_else(|| match &e.scope {
                        EntitlementScope::Plan(plan) => shape.plan_room(plan, &mut rng),
                        _ => None,
                    });
                    candidates.extend(room);
                }
                chunk_entitlements.push(e);
            }
            let mut banned_everywhere = false;
            let mut banned_performers: Vec<usize> = Vec::new();
            let mut banned_rooms: Vec<usize> = Vec::new();
            for _ in 0..ban_counts[v] {
                let (ban, target) = make_ban(world, user_id, &favourites, &mut rng);
                if ban.is_active_at(now) {
                    facts.bans_in_force += 1;
                    match target {
                        BanTarget::Everywhere => banned_everywhere = true,
                        BanTarget::Performer(p) => banned_performers.push(p),
                        BanTarget::Room(r) => banned_rooms.push(r),
                    }
                }
                chunk_bans.push(ban);
            }
            candidates.sort_unstable();
            candidates.dedup();
            if !banned_everywhere {
                facts.allowed.extend(
                    candidates
                        .iter()
                        .filter(|&&r| {
                            !banned_rooms.contains(&r)
                                && !banned_performers.contains(&shape.owner(r))
                        })
                        .take(8)
                        .map(|r| *r as u32),
                );
            }
            facts.offsets.push(facts.allowed.len() as u32);
        }
        chunk_entitlements.sort_by_key(|e| e.created_at);
        for e in &mut chunk_entitlements {
            e.id = new_id();
            rows.push_entitlement(e);
            if let Some(revocation) = &e.revocation {
                revocations.push_revocation(&e.id, revocation);
                facts.revoked += 1;
            }
            if rows.bytes() >= CHUNK_BYTES && !send(rows.take()) {
                return facts;
            }
        }
        chunk_bans.sort_by_key(|b| b.created_at);
        for b in &mut chunk_bans {
            b.id = new_id();
            bans.push_ban(b);
            if let Some(lift) = &b.lift {
                lifts.push_ban_lift(&b.id, lift);
                facts.lifted += 1;
            }
        }
        for (held, into) in [
            (&mut revocations, &mut facts.revocations),
            (&mut bans, &mut facts.bans),
            (&mut lifts, &mut facts.lifts),
        ] {
            if held.bytes() >= CHUNK_BYTES {
                into.push(held.take());
            }
        }
        start = end;
    }
    send(rows);
    facts.revocations.push(revocations);
    facts.bans.push(bans);
    facts.lifts.push(lifts);
    facts
}

/// One entitlement of the mix (see [`Shape`]), its id still to be given, and for a room
/// ticket or a subscription a room it covers.
fn make_entitlement(
    world: &World,
    user_id: &str,
    favourites: &[usize; 3],
    rng: &mut StdRng,
) -> (Entitlement, Option<usize>) {
    let shape = &world.shape;
    let now = world.now;
    let mut created = now - rng.gen_range(HOUR..HISTORY);
    let kind = rng.gen_range(0..100);
    let (scope, room, valid_from, valid_until) = if kind < 75 {
        let room = if rng.gen_bool(0.7) {
            shape.performer_room(favourites[rng.gen_range(0..3)], rng)
        } else {
            rng.gen_range(0..shape.rooms)
        };
        let style = rng.gen_range(0..100);
        let (from, until) = if style < 2 {
            created = now - rng.gen_range(HOUR..7 * DAY);
            let from = now + rng.gen_range(HOUR..14 * DAY);
            (from, Some(from + DAY))
        } else if style < 7 {
            (created, None)
        } else if style < 17 {
            (created, Some(created + 90 * DAY))
        } else {
            (created, Some(created + DAY))
        };
        (
            EntitlementScope::Room(world.room_ids[room].clone()),
            Some(room),
            from,
            until,
        )
    } else if kind < 95 {
        let p = if rng.gen_bool(0.8) {
            favourites[rng.gen_range(0..3)]
        } else {
            rng.gen_range(0..shape.performers)
        };
        let room = shape.performer_room(p, rng);
        (
            EntitlementScope::Performer(world.user_ids[p].clone()),
            Some(room),
            created,
            Some(created + 30 * DAY),
        )
    } else {
        let plan = if rng.gen_bool(0.7) {
            PLANS[0]
        } else {
            PLANS[1]
        };
        let days = if rng.gen_bool(0.1) { 365 } else { 30 };
        (
            EntitlementScope::Plan(plan.to_owned()),
            None,
            created,
            Some(created + days * DAY),
        )
    };
    let origin = rng.gen_range(0..100);
    let (source, source_ref, granted_by) = if origin < 95 {
        (
            EntitlementSource::Payment,
            Some(format!("epayco-{:016x}", rng.gen::<u64>())),
            None,
        )
    } else if origin < 98 {
        (
            EntitlementSource::AdminGrant,
            Some("comp".to_owned()),
            Some("bench-admin".to_owned()),
        )
    } else {
        (
            EntitlementSource::InviteCode,
            Some(format!("invite-{:08x}", rng.gen::<u32>())),
            None,
        )
    };
    let revocation = rng.gen_bool(0.01).then(|| Revocation {
        revoked_at: (created + rng.gen_range(HOUR..7 * DAY)).min(now - 1),
        revoked_by: None,
        reason: if rng.gen_bool(0.8) {
            "refund".to_owned()
        } else {
            "chargeback".to_owned()
        },
    });
    let e = Entitlement {
        id: String::new(),
        user_id: user_id.to_owned(),
        scope,
        quantity: None,
        valid_from,
        valid_until,
        source,
        source_ref,
        granted_by,
        created_at: created,
        revocation,
    };
    (e, room)
}

/// Where a ban applies, by index.
enum BanTarget {
    Everywhere,
    Performer(usize),
    Room(usize),
}

/// One ban of the mix (see [`Shape`]), its id still to be given.
fn make_ban(
    world: &World,
    user_id: &str,
    favourites: &[usize; 3],
    rng: &mut StdRng,
) -> (Ban, BanTarget) {
    let shape = &world.shape;
    let now = world.now;
    let created = now - rng.gen_range(HOUR..HISTORY);
    let kind = rng.gen_range(0..100);
    let (scope, target, until, banned_by) = if kind < 70 {
        let room = if rng.gen_bool(0.5) {
            shape.performer_room(favourites[rng.gen_range(0..3)], rng)
        } else {
            rng.gen_range(0..shape.rooms)
        };
        (
            BanScope::Room(world.room_ids[room].clone()),
            BanTarget::Room(room),
            Some(created + rng.gen_range(HOUR..7 * DAY)),
            Some(world.user_ids[shape.owner(room)].clone()),
        )
    } else if kind < 95 {
        let p = if rng.gen_bool(0.5) {
            favourites[rng.gen_range(0..3)]
        } else {
            rng.gen_range(0..shape.performers)
        };
        (
            BanScope::Performer(world.user_ids[p].clone()),
            BanTarget::Performer(p),
            (!rng.gen_bool(0.3)).then_some(created + 30 * DAY),
            Some(world.user_ids[p].clone()),
        )
    } else {
        (
            BanScope::Global,
            BanTarget::Everywhere,
            rng.gen_bool(0.5).then_some(created + 30 * DAY),
            Some("bench-moderator".to_owned()),
        )
    };
    let lift = rng.gen_bool(0.1).then(|| BanLift {
        lifted_at: (created + rng.gen_range(HOUR..14 * DAY)).min(now - 1),
        lifted_by: Some("bench-moderator".to_owned()),
        reason: "appeal accepted".to_owned(),
    });
    let ban = Ban {
        id: String::new(),
        user_id: user_id.to_owned(),
        scope,
        reason: BAN_REASONS[rng.gen_range(0..BAN_REASONS.len())].to_owned(),
        until,
        banned_by,
        created_at: created,
        lift,
    };
    (ban, target)
}

/// Every room's equal share of the attendance rows, over 1–20 past shows of two hours.
fn generate_stays(world: &World, seed: u64, send: Sink<'_>) {
    use std::fmt::Write as _;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0053_5441_5953);
    let shape = &world.shape;
    let rooms = shape.rooms as u64;
    let (per_room, extra) = (shape.stays / rooms, shape.stays % rooms);
    let mut rows = CopyRows::new(CopyTable::Attendance, CHUNK_BYTES + 4096);
    let mut stay = SeedStay {
        occupant_id: String::new(),
        room_id: String::new(),
        user_id: String::new(),
        joined_at: 0,
        left_at: None,
    };
    for (r, room_id) in world.room_ids.iter().enumerate() {
        let quota = per_room + u64::from((r as u64) < extra);
        if quota == 0 {
            continue;
        }
        stay.room_id.clear();
        stay.room_id.push_str(room_id);
        let shows = rng.gen_range(1..=20u64).min(quota);
        for show in 0..shows {
            let count = quota / shows + u64::from(show < quota % shows);
            let start = world.now - rng.gen_range(DAY..HISTORY);
            let end = start + 2 * HOUR;
            for n in 0..count {
                let viewer = shape.performers + rng.gen_range(0..shape.viewers());
                stay.user_id.clear();
                stay.user_id.push_str(&world.user_ids[viewer]);
                stay.occupant_id.clear();
                let _ = write!(stay.occupant_id, "{r:06x}-{show:02}-{n}");
                stay.joined_at = start + rng.gen_range(0..2 * HOUR);
                stay.left_at = Some((stay.joined_at + rng.gen_range(60..HOUR)).min(end));
                rows.push_stay(SHARDS[r % SHARDS.len()], &stay);
                if rows.bytes() >= CHUNK_BYTES && !send(rows.take()) {
                    return;
                }
            }
        }
    }
    send(rows);
}

// ---------------------------------------------------------------------------------------
// The load

/// Who may ask for which room, and each user's ready-made `Authorization` line.
struct LoadSet {
    room_names: Vec<String>,
    /// `Authorization: Bearer <session>\r\n` per user.
    authorizations: Vec<Vec<u8>>,
    /// The rooms user `u` may enter: `allowed[offsets[u]..offsets[u + 1]]`.
    offsets: Vec<u32>,
    allowed: Vec<u32>,
    /// The viewers who may enter some room, in a random order: a Zipf rank's user.
    ranked: Vec<u32>,
}

impl LoadSet {
    /// Every platform user: performers may enter their own rooms, viewers the rooms the
    /// generator found for them.
    fn platform(platform: &Platform, sessions: &SessionTokens, seed: u64) -> Self {
        let world = &platform.world;
        let shape = world.shape;
        let mut offsets = Vec::with_capacity(shape.users + 1);
        let mut allowed = Vec::with_capacity(shape.performers + platform.allowed.len());
        offsets.push(0);
        for p in 0..shape.performers {
            allowed.push(p as u32);
            offsets.push(allowed.len() as u32);
        }
        let base = allowed.len() as u32;
        allowed.extend_from_slice(&platform.allowed);
        offsets.extend(platform.offsets[1..].iter().map(|o| base + o));
        let mut ranked: Vec<u32> = (shape.performers..shape.users)
            .filter(|u| offsets[u + 1] > offsets[*u])
            .map(|u| u as u32)
            .collect();
        ranked.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x005a_4950_4600));
        Self {
            room_names: (0..shape.rooms).map(room_name).collect(),
            authorizations: authorizations(&world.user_ids, sessions, world.now),
            offsets,
            allowed,
            ranked,
        }
    }

    /// The default data set: every viewer and the rooms they hold tickets to.
    fn default_set(data: &DataSet, sessions: &SessionTokens, now: UnixSeconds) -> Self {
        let viewers = data.viewer_ids.len();
        Self {
            room_names: data.room_names.clone(),
            authorizations: authorizations(&data.viewer_ids, sessions, now),
            offsets: (0..=viewers).map(|v| (v * data.per_user) as u32).collect(),
            allowed: data.entitled.clone(),
            ranked: (0..viewers as u32).collect(),
        }
    }

    fn rooms_of(&self, user: usize) -> &[u32] {
        &self.allowed[self.offsets[user] as usize..self.offsets[user + 1] as usize]
    }

    fn users(&self) -> usize {
        self.authorizations.len()
    }

    fn write(&self, user: usize, room: usize, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(b"POST /api/rooms/");
        out.extend_from_slice(self.room_names[room].as_bytes());
        out.extend_from_slice(b"/token HTTP/1.1\r\n");
        out.extend_from_slice(&self.authorizations[user]);
        out.extend_from_slice(b"Host: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
    }
}

fn authorizations(ids: &[String], sessions: &SessionTokens, now: UnixSeconds) -> Vec<Vec<u8>> {
    ids.iter()
        .map(|id| {
            let (token, _) = sessions.issue(id, 0, now);
            format!("Authorization: Bearer {token}\r\n").into_bytes()
        })
        .collect()
}

/// How a worker picks the user: uniformly among those who may enter a room, or by a Zipf
/// rank (the cumulative distribution over ranks); then one of that user's rooms.
#[derive(Clone)]
enum Draw {
    Uniform,
    Zipf(Arc<Vec<f64>>),
}

impl Draw {
    fn zipf(ranks: usize, exponent: f64) -> Self {
        let mut cdf = Vec::with_capacity(ranks);
        let mut sum = 0.0;
        for k in 1..=ranks {
            sum += (k as f64).powf(-exponent);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Draw::Zipf(Arc::new(cdf))
    }

    fn pick(&self, set: &LoadSet, rng: &mut FastRng) -> (usize, usize) {
        let rank = match self {
            Draw::Uniform => rng.below(set.ranked.len()),
            Draw::Zipf(cdf) => {
                let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
                cdf.partition_point(|c| *c < u).min(cdf.len() - 1)
            }
        };
        let user = set.ranked[rank] as usize;
        let rooms = set.rooms_of(user);
        (user, rooms[rng.below(rooms.len())] as usize)
    }
}

async fn worker(
    addr: std::net::SocketAddr,
    set: Arc<LoadSet>,
    draw: Draw,
    seed: u64,
    measure_from: Instant,
    end: Instant,
) -> WorkerTally {
    let mut tally = WorkerTally {
        latencies_ns: Vec::with_capacity(16 * 1024),
        ..WorkerTally::default()
    };
    let mut rng = FastRng(seed);
    let mut connection = Connection::new(addr);
    loop {
        let started = Instant::now();
        if started >= end {
            break;
        }
        let (user, room) = draw.pick(&set, &mut rng);
        set.write(user, room, &mut connection.request);
        let result = connection.round_trip().await;
        tally
            .count(&connection, &result, started, (measure_from, end))
            .await;
    }
    tally
}

/// One measured window: `warmup` unmeasured, then `seconds`, at `connections`.
async fn measure(
    server: &Server,
    set: &Arc<LoadSet>,
    draw: &Draw,
    connections: usize,
    (warmup, seconds): (Duration, Duration),
    seed: u64,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + seconds;
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            tokio::spawn(worker(
                server.addr,
                set.clone(),
                draw.clone(),
                seed.wrapping_add(i as u64 * 0x9E37_79B9),
                measure_from,
                end,
            ))
        })
        .collect();
    let window = Window::gather(server, true, tasks, (measure_from, end), seconds).await?;
    // `cold` counts PostgreSQL's CPU as the measured work, not as a disturbance.
    Ok(Outcome::from_windows(Scenario::Cold, vec![window], server))
}

/// Answers to a fill: one request per listed user.
#[derive(Debug, Default)]
struct Filled {
    requests: u64,
    ok: u64,
    payment_required: u64,
    banned: u64,
    other: u64,
    first_other: Option<String>,
    seconds: f64,
}

/// Requests a token once for each of `users` (to a room they may enter, or any room when
/// they may enter none: their facts are loaded and held all the same), on `connections`
/// connections; 402 and 403 are expected answers here.
async fn fill(
    server: &Server,
    set: &Arc<LoadSet>,
    users: Arc<Vec<u32>>,
    connections: usize,
) -> anyhow::Result<Filled> {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (set, users, next, stop) = (set.clone(), users.clone(), next.clone(), stop.clone());
            let addr = server.addr;
            tokio::spawn(async move {
                let mut filled = Filled::default();
                let mut connection = Connection::new(addr);
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(user) = users.get(i).map(|u| *u as usize) else {
                        break;
                    };
                    let room = set
                        .rooms_of(user)
                        .first()
                        .map_or(user % set.room_names.len(), |r| *r as usize);
                    set.write(user, room, &mut connection.request);
                    filled.requests += 1;
                    match connection.round_trip().await {
                        Ok(answer) => match answer.status {
                            200 => filled.ok += 1,
                            402 => filled.payment_required += 1,
                            403 => filled.banned += 1,
                            status => {
                                filled.other += 1;
                                filled.first_other.get_or_insert_with(|| {
                                    format!(
                                        "HTTP {status}: {}",
                                        String::from_utf8_lossy(connection.body(&answer))
                                    )
                                });
                            }
                        },
                        Err(error) => {
                            filled.other += 1;
                            filled.first_other.get_or_insert(format!("I/O: {error}"));
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                    if filled.other > 1_000 {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                filled
            })
        })
        .collect();
    let total = users.len();
    let ticker = {
        let next = next.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(30));
            every.tick().await;
            loop {
                every.tick().await;
                let done = next.load(Ordering::Relaxed).min(total);
                progress(format_args!(
                    "    {done} of {total} users in {:.0} s",
                    started.elapsed().as_secs_f64()
                ));
            }
        })
    };
    let mut filled = Filled::default();
    for task in tasks {
        let part = task.await?;
        filled.requests += part.requests;
        filled.ok += part.ok;
        filled.payment_required += part.payment_required;
        filled.banned += part.banned;
        filled.other += part.other;
        filled.first_other = filled.first_other.or(part.first_other);
    }
    ticker.abort();
    filled.seconds = started.elapsed().as_secs_f64();
    if filled.other > 0 {
        bail!(
            "{} of {} requests failed; first: {}",
            filled.other,
            filled.requests,
            filled.first_other.unwrap_or_default()
        );
    }
    Ok(filled)
}

/// `roomkey_cache_lookups_total` of the user facts: memory, Redis and SQL.
async fn user_facts_lookups(server: &Server) -> Option<[u64; 3]> {
    let (status, body) = get(server.ops, "/metrics").await.ok()?;
    if status != 200 {
        return None;
    }
    let text = String::from_utf8_lossy(&body);
    let tier = |tier: &str| -> Option<u64> {
        let prefix =
            format!("roomkey_cache_lookups_total{{cache=\"user_facts\",tier=\"{tier}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse().ok())
    };
    Some([tier("memory")?, tier("redis")?, tier("sql")?])
}

fn memory_share(before: Option<[u64; 3]>, after: Option<[u64; 3]>) -> Option<f64> {
    let (before, after) = (before?, after?);
    let delta: Vec<u64> = (0..3).map(|i| after[i].saturating_sub(before[i])).collect();
    let total: u64 = delta.iter().sum();
    (total > 0).then(|| delta[0] as f64 / total as f64)
}

// ---------------------------------------------------------------------------------------
// The run

/// Drops a schema made for the run when the run ends early (an error, or Ctrl-C dropping
/// the run's future), on a thread and runtime of its own, as no `.await` can run here.
struct SchemaGuard(Option<Database>);

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        if let Some(database) = self.0.take() {
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(database.cleanup()).ok()
            })
            .join();
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn list(values: &[f64], digits: usize) -> String {
    values
        .iter()
        .map(|v| format!("{v:.digits$}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn mib(bytes: Option<u64>) -> f64 {
    bytes.map_or(f64::NAN, |b| b as f64 / (1024.0 * 1024.0))
}

fn folder(work_dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let dir = work_dir.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// One `cold` or `token-zipf` window's figures.
struct Measured {
    connections: usize,
    /// `cold`: the platform set (`true`) or the default set.
    platform: bool,
    outcome: Outcome,
    memory_share: Option<f64>,
}

pub(crate) async fn bench(
    args: &Args,
    work_dir: &Path,
    database: &Database,
    tag: &str,
) -> anyhow::Result<()> {
    let Database::Postgres {
        admin_url,
        schema,
        url,
    } = database
    else {
        bail!("--data-set platform needs --database-url: it is loaded with PostgreSQL's COPY");
    };
    let options = &args.volume;
    let exe = std::env::current_exe()?.with_file_name("roomkey-bench-server");
    if !exe.exists() {
        bail!(
            "{} not found: build it with `cargo build --release --features bench --bins`",
            exe.display()
        );
    }
    let now = SystemClock.now();
    let shape = Shape::scaled(options.scale);
    progress(format_args!(
        "seeding the platform data set with COPY: {} users ({} performers), {} rooms, {} \
         entitlements, {} bans, {} attendance rows…",
        shape.users, shape.performers, shape.rooms, shape.entitlements, shape.bans, shape.stays
    ));
    let platform = seed_platform(url, schema, shape, args.seed, now).await?;
    prewarm(url, schema).await;
    let rows: u64 = platform.tables.iter().map(|(_, rows, _)| rows).sum();
    progress(format_args!(
        "  {rows} rows in {:.1} s ({:.0} rows/s), foreign keys {}",
        platform.seconds,
        rows as f64 / platform.seconds,
        if platform.foreign_keys_checked {
            "checked"
        } else {
            "not checked during the load"
        }
    ));

    let cold = options.measures.contains(&Measure::Cold);
    let mut default_schema = SchemaGuard(None);
    let default_data = if cold {
        let mut default_args = Args::parse(std::iter::empty())?.expect("no --help");
        default_args.database_url = Some(admin_url.clone());
        default_args.scenarios = vec![Scenario::Cold];
        default_args.seed = args.seed;
        let second = Database::prepare(&default_args, work_dir, &format!("{tag}_default")).await?;
        let second = default_schema.0.insert(second);
        progress(format_args!(
            "seeding the default data set into a second schema…"
        ));
        let data = crate::seed(&default_args, second, now).await?;
        progress(format_args!(
            "  {} users, {} rooms, {} entitlements in {:.1} s",
            data.rows.users, data.rows.rooms, data.rows.entitlements, data.seconds
        ));
        Some(data)
    } else {
        None
    };

    progress(format_args!("minting {} sessions…", shape.users));
    let session_secret = format!("bench-session-{:032x}", rand::random::<u128>());
    let sessions = SessionTokens::new(session_secret.as_bytes(), 86_400);
    let platform_set = Arc::new(LoadSet::platform(&platform, &sessions, args.seed));
    let default_set = default_data
        .as_ref()
        .map(|data| Arc::new(LoadSet::default_set(data, &sessions, now)));
    progress(format_args!(
        "  {} of {} viewers may enter some room now",
        platform_set.ranked.len(),
        shape.viewers()
    ));
    if platform_set.ranked.is_empty() {
        bail!("no viewer of the platform data set may enter any room");
    }

    let window = (
        Duration::from_secs(args.warmup),
        Duration::from_secs(args.seconds),
    );
    let env = |dir: &'static str, extra: &[(String, String)]| -> anyhow::Result<OwnedEnv> {
        let mut all = extra.to_vec();
        all.extend(args.server_env.iter().cloned());
        Ok(OwnedEnv {
            work_dir: folder(work_dir, dir)?,
            extra: all,
        })
    };
    let mut report = Report {
        args,
        shape,
        platform: &platform,
        ranked: platform_set.ranked.len(),
        cold: Vec::new(),
        zipf: Vec::new(),
        rss: None,
    };

    if let (true, Some(default_set), Some(default_db)) = (cold, &default_set, &default_schema.0) {
        let big_env = env("platform-cold", &[])?;
        let small_env = env("default-cold", &[])?;
        let big = Server::start(
            &big_env.server(&exe, url, &session_secret, tag),
            ServerSpec::COLD_HS256,
        )
        .await?;
        let small = Server::start(
            &small_env.server(&exe, default_db.url(), &session_secret, tag),
            ServerSpec::COLD_HS256,
        )
        .await?;
        for repeat in 0..options.repeats {
            for &connections in &options.cold_connections {
                // Each repeat starts with the other data set, so neither always comes first.
                let order = if repeat % 2 == 0 {
                    [true, false]
                } else {
                    [false, true]
                };
                for is_platform in order {
                    let (server, set) = if is_platform {
                        (&big, &platform_set)
                    } else {
                        (&small, default_set)
                    };
                    let seed = args.seed ^ (u64::from(repeat) << 32) ^ (connections as u64);
                    let outcome =
                        measure(server, set, &Draw::Uniform, connections, window, seed).await?;
                    progress(format_args!(
                        "  cold, {} set, {connections} connections: {:.0} req/s, p50 {:.3} ms, \
                         p99 {:.3} ms, {} errors; PostgreSQL {:.2} cores, other processes {:.2}",
                        if is_platform { "platform" } else { "default" },
                        outcome.throughput,
                        outcome.p50_ms,
                        outcome.p99_ms,
                        outcome.errors,
                        outcome.db_cpu.unwrap_or(f64::NAN),
                        outcome.other_cpu.unwrap_or(f64::NAN)
                    ));
                    report.cold.push(Measured {
                        connections,
                        platform: is_platform,
                        outcome,
                        memory_share: None,
                    });
                }
            }
        }
        big.stop().await;
        small.stop().await;
    }

    if options.measures.contains(&Measure::TokenZipf) {
        let zipf_env = env(
            "platform-zipf",
            &[(
                "ROOMKEY_CACHE__MAX_ENTRIES".to_owned(),
                options.zipf_cache.to_string(),
            )],
        )?;
        let server = Server::start(
            &zipf_env
                .server(&exe, url, &session_secret, tag)
                .with_redis(args),
            ServerSpec::HOT_HS256,
        )
        .await?;
        let draw = Draw::zipf(platform_set.ranked.len(), options.zipf_exponent);
        let head = (options.zipf_cache as usize).min(platform_set.ranked.len());
        progress(format_args!(
            "token-zipf: filling the cache with the {head} most popular viewers…"
        ));
        let filled = fill(
            &server,
            &platform_set,
            Arc::new(platform_set.ranked[..head].to_vec()),
            args.connections,
        )
        .await?;
        progress(format_args!("  in {:.1} s", filled.seconds));
        for repeat in 0..options.repeats {
            for &connections in &options.zipf_connections {
                let before = user_facts_lookups(&server).await;
                let seed = args.seed ^ 0x5a ^ (u64::from(repeat) << 32) ^ (connections as u64);
                let outcome =
                    measure(&server, &platform_set, &draw, connections, window, seed).await?;
                let share = memory_share(before, user_facts_lookups(&server).await);
                progress(format_args!(
                    "  token-zipf, {connections} connections: {:.0} req/s, p50 {:.3} ms, p99 \
                     {:.3} ms, {} errors, {:.1}% of user lookups in memory; PostgreSQL {:.2} \
                     cores, other processes {:.2}",
                    outcome.throughput,
                    outcome.p50_ms,
                    outcome.p99_ms,
                    outcome.errors,
                    share.unwrap_or(f64::NAN) * 100.0,
                    outcome.db_cpu.unwrap_or(f64::NAN),
                    outcome.other_cpu.unwrap_or(f64::NAN)
                ));
                report.zipf.push(Measured {
                    connections,
                    platform: true,
                    outcome,
                    memory_share: share,
                });
            }
        }
        server.stop().await;
    }

    if options.measures.contains(&Measure::Rss) {
        // By default room enough for every user's entry in every shard, and no expiry
        // during the fill.
        let entries = options
            .rss_cache
            .map_or(shape.users + shape.users / 4, |n| n as usize);
        let rss_env = env(
            "platform-rss",
            &[
                ("ROOMKEY_CACHE__MAX_ENTRIES".to_owned(), entries.to_string()),
                ("ROOMKEY_CACHE__TTL_SECS".to_owned(), "86400".to_owned()),
            ],
        )?;
        let server = Server::start(
            &rss_env
                .server(&exe, url, &session_secret, tag)
                .with_redis(args),
            ServerSpec::HOT_HS256,
        )
        .await?;
        let idle = server.rss_bytes();
        progress(format_args!(
            "rss: requesting a token for each of {} users…",
            platform_set.users()
        ));
        let everyone: Vec<u32> = (0..platform_set.users() as u32).collect();
        let filled = fill(&server, &platform_set, Arc::new(everyone), args.connections).await?;
        let full = server.rss_bytes();
        progress(format_args!(
            "  {} requests in {:.1} s ({} allowed, {} payment required, {} banned); RSS \
             {:.1} MiB at start, {:.1} MiB now",
            filled.requests,
            filled.seconds,
            filled.ok,
            filled.payment_required,
            filled.banned,
            mib(idle),
            mib(full)
        ));
        let before = user_facts_lookups(&server).await;
        let check = measure(
            &server,
            &platform_set,
            &Draw::Uniform,
            args.connections,
            (
                Duration::from_secs(1),
                Duration::from_secs(args.seconds.min(5)),
            ),
            args.seed ^ 0x55,
        )
        .await?;
        let share = memory_share(before, user_facts_lookups(&server).await);
        report.rss = Some(RssFigures {
            idle,
            full,
            after_check: server.rss_bytes(),
            filled,
            check_memory_share: share,
            check_p99_ms: check.p99_ms,
            check_throughput: check.throughput,
            entries,
            everyone_in_process: entries >= shape.users,
            redis: args.redis_url.is_some(),
        });
        server.stop().await;
    }

    print!("{}", report.table());
    if let Some(second) = default_schema.0.take() {
        second.cleanup().await?;
    }
    Ok(())
}

/// A server's folder and extra environment, owned for [`ServerEnv`] to borrow.
struct OwnedEnv {
    work_dir: PathBuf,
    extra: Vec<(String, String)>,
}

impl<'a> ServerEnv<'a> {
    /// Gives the server the Redis tier of `--redis-url`, if any.
    fn with_redis<'b>(self, args: &'b Args) -> ServerEnv<'b>
    where
        'a: 'b,
    {
        ServerEnv {
            redis_url: args.redis_url.as_deref(),
            ..self
        }
    }
}

impl OwnedEnv {
    fn server<'a>(
        &'a self,
        exe: &'a Path,
        database_url: &'a str,
        session_secret: &'a str,
        tag: &'a str,
    ) -> ServerEnv<'a> {
        ServerEnv {
            exe,
            work_dir: &self.work_dir,
            database_url,
            redis_url: None,
            session_secret,
            // No webhook is sent in these measurements.
            epayco_lookup_url: "http://127.0.0.1:9/validation/v1/reference",
            tag,
            extra: &self.extra,
        }
    }
}

struct RssFigures {
    idle: Option<u64>,
    full: Option<u64>,
    after_check: Option<u64>,
    filled: Filled,
    check_memory_share: Option<f64>,
    check_p99_ms: f64,
    check_throughput: f64,
    entries: usize,
    /// Whether the cache had room for every user (else the rest came from Redis or SQL).
    everyone_in_process: bool,
    redis: bool,
}

struct Report<'a> {
    args: &'a Args,
    shape: Shape,
    platform: &'a Platform,
    ranked: usize,
    cold: Vec<Measured>,
    zipf: Vec<Measured>,
    rss: Option<RssFigures>,
}

impl Report<'_> {
    fn table(&self) -> String {
        use std::fmt::Write as _;
        let (cores, model) = machine();
        let p = self.platform;
        let shape = self.shape;
        let mut out = String::new();
        let rows: u64 = p.tables.iter().map(|(_, rows, _)| rows).sum();
        let _ = writeln!(
            out,
            "\nroomkey-bench, platform data set: {} users ({} performers), {} rooms, {} \
             entitlements ({} live now, {} revoked), {} bans ({} in force, {} lifted), {} \
             attendance rows; {} viewers may enter some room now",
            shape.users,
            shape.performers,
            shape.rooms,
            shape.entitlements,
            p.live_entitlements,
            p.revoked,
            shape.bans,
            p.bans_in_force,
            p.lifted,
            shape.stays,
            self.ranked
        );
        let _ = writeln!(
            out,
            "seeded with COPY: {rows} rows in {:.1} s ({:.0} rows/s, VACUUM (ANALYZE) and CHECKPOINT \
             included; foreign keys {})",
            p.seconds,
            rows as f64 / p.seconds,
            if p.foreign_keys_checked {
                "checked"
            } else {
                "not checked during the load"
            }
        );
        for (table, rows, seconds) in &p.tables {
            let _ = writeln!(
                out,
                "  {:<24} {:>10} rows {:>7.1} s {:>9.0} rows/s",
                table.name(),
                rows,
                seconds,
                *rows as f64 / seconds.max(1e-9)
            );
        }
        let _ = writeln!(
            out,
            "{cores} cores, {model}; {} s warm-up + {} s measured per window, {} repeats\n",
            self.args.warmup, self.args.seconds, self.args.volume.repeats
        );
        if !self.cold.is_empty() {
            let _ = writeln!(
                out,
                "cold (caches off): p99 per repeat, then the median; ratio = platform / default"
            );
            let _ = writeln!(
                out,
                "{:>5} {:>26} {:>26} {:>22} {:>7} {:>14} {:>9}",
                "conns",
                "platform p99 ms",
                "default p99 ms",
                "ratio per repeat",
                "median",
                "p50 plat/def",
                "oth CPU"
            );
            for &connections in &self.args.volume.cold_connections {
                let of = |platform: bool| -> Vec<&Outcome> {
                    self.cold
                        .iter()
                        .filter(|m| m.connections == connections && m.platform == platform)
                        .map(|m| &m.outcome)
                        .collect()
                };
                let (big, small) = (of(true), of(false));
                let p99 = |set: &[&Outcome]| set.iter().map(|o| o.p99_ms).collect::<Vec<_>>();
                let p50 =
                    |set: &[&Outcome]| median(&set.iter().map(|o| o.p50_ms).collect::<Vec<_>>());
                let ratios: Vec<f64> = big
                    .iter()
                    .zip(&small)
                    .map(|(b, s)| b.p99_ms / s.p99_ms)
                    .collect();
                let other = big
                    .iter()
                    .chain(&small)
                    .filter_map(|o| o.other_cpu)
                    .fold(0.0, f64::max);
                let _ = writeln!(
                    out,
                    "{:>5} {:>26} {:>26} {:>22} {:>7.2} {:>14} {:>9.2}",
                    connections,
                    format!("{} → {:.2}", list(&p99(&big), 2), median(&p99(&big))),
                    format!("{} → {:.2}", list(&p99(&small), 2), median(&p99(&small))),
                    list(&ratios, 2),
                    median(&ratios),
                    format!("{:.3}/{:.3}", p50(&big), p50(&small)),
                    other
                );
            }
            let _ = writeln!(out);
        }
        if !self.zipf.is_empty() {
            let _ = writeln!(
                out,
                "token-zipf ({} cache entries, exponent {}, over {} viewers): per repeat, then \
                 the median",
                self.args.volume.zipf_cache, self.args.volume.zipf_exponent, self.ranked
            );
            for &connections in &self.args.volume.zipf_connections {
                let set: Vec<&Measured> = self
                    .zipf
                    .iter()
                    .filter(|m| m.connections == connections)
                    .collect();
                let p99: Vec<f64> = set.iter().map(|m| m.outcome.p99_ms).collect();
                let p50: Vec<f64> = set.iter().map(|m| m.outcome.p50_ms).collect();
                let rate: Vec<f64> = set.iter().map(|m| m.outcome.throughput).collect();
                let hits: Vec<f64> = set
                    .iter()
                    .map(|m| m.memory_share.unwrap_or(f64::NAN) * 100.0)
                    .collect();
                let other = set
                    .iter()
                    .filter_map(|m| m.outcome.other_cpu)
                    .fold(0.0, f64::max);
                let errors: u64 = set.iter().map(|m| m.outcome.errors).sum();
                let _ = writeln!(
                    out,
                    "  {connections:>3} connections: p99 {} → {:.2} ms; p50 {:.3} ms; {:.0} req/s; \
                     user facts from memory {}% → {:.1}%; {errors} errors; other CPU ≤ {other:.2}",
                    list(&p99, 2),
                    median(&p99),
                    median(&p50),
                    median(&rate),
                    list(&hits, 1),
                    median(&hits)
                );
            }
            let _ = writeln!(out);
        }
        if let Some(rss) = &self.rss {
            let per_user = rss
                .full
                .zip(rss.idle)
                .map(|(full, idle)| full.saturating_sub(idle) as f64 / shape.users as f64);
            let _ = writeln!(
                out,
                "rss: {} users' tokens requested once ({} allowed, {} payment required, {} banned) \
                 in {:.0} s, cache {} entries: RSS {:.1} MiB at start, {:.1} MiB after every \
                 user's request ({:.0} bytes per user more), {:.1} MiB after a check of {:.0} req/s at p99 \
                 {:.2} ms with {:.1}% of user lookups from memory",
                rss.filled.requests,
                rss.filled.ok,
                rss.filled.payment_required,
                rss.filled.banned,
                rss.filled.seconds,
                rss.entries,
                mib(rss.idle),
                mib(rss.full),
                per_user.unwrap_or(f64::NAN),
                mib(rss.after_check),
                rss.check_throughput,
                rss.check_p99_ms,
                rss.check_memory_share.unwrap_or(f64::NAN) * 100.0
            );
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "goals");
        if let Some(ratio) = self.cold_ratio(1) {
            let _ = writeln!(
                out,
                "  cold p99 at 1 connection, platform / default   ≤ 1.5×      {ratio:.2}×   {}",
                if ratio <= 1.5 { "met" } else { "MISSED" }
            );
        }
        if let Some(rss) = &self.rss {
            let full = mib(rss.full.max(rss.after_check));
            let held = match (rss.everyone_in_process, rss.redis) {
                (true, _) => "every user's facts in process ".to_owned(),
                (false, true) => format!("{}k in process, all in Redis", rss.entries / 1000),
                (false, false) => format!("{}k in process, rest SQL   ", rss.entries / 1000),
            };
            let _ = writeln!(
                out,
                "  server RSS, {held}  ≤ 300 MiB   {full:.0} MiB   {}",
                if full <= 300.0 { "met" } else { "MISSED" }
            );
        }
        let _ = writeln!(
            out,
            "  seeding the platform set                      minutes     {:.1} min  {}",
            p.seconds / 60.0,
            if p.seconds < 3_600.0 { "met" } else { "MISSED" }
        );
        out
    }

    fn cold_ratio(&self, connections: usize) -> Option<f64> {
        let of = |platform: bool| -> Vec<f64> {
            self.cold
                .iter()
                .filter(|m| m.connections == connections && m.platform == platform)
                .map(|m| m.outcome.p99_ms)
                .collect()
        };
        let (big, small) = (of(true), of(false));
        if big.is_empty() || small.is_empty() {
            return None;
        }
        let ratios: Vec<f64> = big.iter().zip(&small).map(|(b, s)| b / s).collect();
        Some(median(&ratios))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_counts_sum_to_the_total() {
        let mut rng = StdRng::seed_from_u64(7);
        for total in [0, 1, 999, 10_000, 50_000] {
            let counts = fitted_counts(1_000, total, &mut rng, |r| exponential(r, 10.0));
            assert_eq!(counts.iter().map(|c| u64::from(*c)).sum::<u64>(), total);
        }
        let counts = fitted_counts(1_000, 3_000, &mut rng, |r| {
            if r.gen_bool(0.1) {
                exponential(r, 6.0) + 1
            } else {
                0
            }
        });
        let banned = counts.iter().filter(|c| **c > 0).count();
        assert!(
            banned < 200,
            "units are added to those drawn some: {banned}"
        );
    }

    #[test]
    fn zipf_ranks_favour_the_head() {
        let Draw::Zipf(cdf) = Draw::zipf(1_000, 1.0) else {
            panic!("a Zipf draw")
        };
        assert!(cdf.windows(2).all(|w| w[0] <= w[1]));
        assert!((cdf[999] - 1.0).abs() < 1e-12);
        // H(1000) ≈ 7.485: the first rank takes 1/H of the draws.
        assert!((cdf[0] - 1.0 / 7.485).abs() < 1e-3);
    }

    #[test]
    fn rooms_of_a_performer_and_a_plan_are_theirs() {
        let shape = Shape::scaled(0.001);
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..1_000 {
            let p = rng.gen_range(0..shape.performers);
            let room = shape.performer_room(p, &mut rng);
            assert!(room < shape.rooms);
            assert_eq!(shape.owner(room), p);
            for plan in PLANS {
                if let Some(room) = shape.plan_room(plan, &mut rng) {
                    assert!(room_plans(room).iter().any(|p| p == plan), "{plan} {room}");
                }
            }
        }
    }

    #[test]
    fn options_parse() {
        let mut options = Options::default();
        options.set("--data-set", "platform").unwrap();
        options.set("--measure", "rss,cold").unwrap();
        options.set("--cold-connections", "1,8").unwrap();
        assert!(options.platform);
        assert_eq!(options.measures, [Measure::Cold, Measure::Rss]);
        assert_eq!(options.cold_connections, [1, 8]);
        assert!(options.set("--measure", "warm").is_err());
        assert!(options.set("--cold-connections", "0").is_err());
        assert!(options.set("--data-set", "huge").is_err());
    }
}
