//! `roomkey-bench`: the load generator behind the token endpoint's latency figures.
//!
//! One run seeds a fresh database (a temporary SQLite file, or a throw-away schema in the
//! PostgreSQL database given with `--database-url`), starts the real `roomkey` binary from
//! the same build as a child process, mints session tokens for the seeded viewers with the
//! server's session secret, and drives keep-alive HTTP/1.1 load over loopback at a fixed
//! concurrency for a fixed time. Scenarios:
//!
//! - `sign-only-hs256` / `sign-only-rs256`: `POST /bench/sign/{room}`, signing with no
//!   authentication and no lookups — the ceiling the token path is measured against;
//! - `token-hs256` / `token-rs256`: `POST /api/rooms/{room}/token` with a viewer's session,
//!   for a random room that viewer holds an entitlement to, with the data set hot in the
//!   caches (RS256 reuses still-fresh signed tokens; the share reused is reported);
//! - `cold`: the token path with the caches disabled, so every request reads SQL (user,
//!   room, bans, entitlements);
//! - `webhooks`: ePayco confirmations (form-encoded, signed as ePayco signs them), each
//!   accepting a different seeded checkout intent: one transaction per payment (intent,
//!   dedupe record, entitlement, ledger) and an invalidation — sustained webhook throughput;
//! - `webhook-to-grant`: a confirmation, then the paying viewer's token request for that
//!   room, which must succeed: the latency from the webhook's arrival to usable access;
//! - `oidc-code`, `oidc-userinfo` (only when named): a relying party's code-for-token
//!   exchange (`POST /oidc/token`, client secret and PKCE, each code minted beforehand
//!   through `/oidc/authorize` and exchanged once) and `GET /oidc/userinfo` with an access
//!   token (see `oidc.rs`);
//! - `stats-room`, `stats-big-room`, `stats-performer` (only when named, as they seed a
//!   million attendance rows first): `GET /api/rooms/{room}/stats` for one of a performer's
//!   past shows, for the one big show still running, and `GET /api/performers/{id}/stats`
//!   across all of that performer's shows, each with the performer's own session;
//! - `soak` (only alone): half the token path's peak, open-loop, with webhooks, kicks,
//!   bans and stats mixed in, for `--duration`, sampling the server's memory and file
//!   descriptors (see `soak.rs`).
//!
//! Each reports throughput, p50/p99/p99.9 latency from every request's latency, errors
//! (anything but 200), the server's resident memory at the end of the scenario, and the CPU
//! used during the measurement by the server, the load generator, local PostgreSQL and
//! everything else. Server and client share the machine, so the client's share is capacity
//! the server did not have; a measurement during which other processes were busy is
//! repeated (`--attempts`), keeping the quietest. The client is hand-written (write the
//! request, read the head to the blank line, then `Content-Length` bytes) so that it costs
//! as little CPU as possible and adds no dependency. Only 127.0.0.1 is ever contacted, and
//! every phase is bounded in time. The server is killed, and the database schema or files
//! removed, at the end, on error and on Ctrl-C.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use roomkey::clock::{Clock as _, SystemClock, UnixSeconds};
use roomkey::domain::{
    Entitlement, EntitlementScope, EntitlementSource, Money, PaymentIntent, PaymentState,
    PurchaseKind, Role, Room, RoomAccess, RoomName, User,
};
use roomkey::identity::SessionTokens;
use roomkey::store::Store;
use roomkey::telemetry::metrics::Metrics;

mod oidc;
mod soak;
mod volume;

const USAGE: &str = "\
roomkey-bench — load generator for roomkey's token endpoint

USAGE: roomkey-bench [OPTIONS]

Data set (seeded fresh on every run):
  --users N            viewers (default 10000)
  --rooms N            paid rooms (default 1000)
  --performers N       room owners (default 100)
  --per-user N         distinct rooms each viewer holds an entitlement to (default 5)
  --active-users N     viewers whose sessions drive the load (default: all, at most 200000)
  --seed N             random seed for the data set (default 42)
  --database-url URL   postgres://… to seed a temporary schema there (dropped at the end);
                       default: a temporary SQLite file
  --redis-url URL      give the server a Redis tier (keys under a per-run prefix)
  --capacity N         give every paid room a capacity of N seats, and seat each viewer
                       in the first room they hold (an open attendance stay), so every
                       token request checks a seat (default: no capacity; N must exceed
                       the viewers seated in any room, about users/rooms on average)

Load:
  --connections N      concurrent keep-alive connections (default 64)
  --seconds N          measured seconds per scenario (default 10)
  --warmup N           unmeasured seconds before each scenario (default 3)
  --client-threads N   load generator threads (default 1)
  --no-prefill         do not request every (viewer, room) pair once before the token
                       scenarios (by default the caches are filled first)
  --attempts N         measure a scenario up to N times while other processes use more
                       than --max-other-cpu cores, keeping the quietest measurement
                       (default 3)
  --max-other-cpu C    cores other processes may use during a measurement (default 0.2)
  --interleave N       measure hello, a sign-only scenario and its token scenario (those
                       of them listed one after the other) in N alternating slices each
                       (default 5; 1 = one after the other), so that all see the same
                       machine: a virtual CPU's speed drifts by up to a third within a
                       minute of sustained load
  --scenario LIST      comma-separated, from: hello, sign-only-hs256, token-hs256, webhooks,
                       webhook-to-grant, sign-only-rs256, token-rs256, cold, stats-room,
                       stats-big-room, stats-performer (default: the first eight, in that
                       order; `sign-only` means both sign-only scenarios, `token` both
                       token ones, `payments` both webhook ones, `stats` the three stats
                       ones, `oidc` both OpenID Provider ones, `all` every one); or
                       `soak` alone: the mixed load for --duration (see bench/README.md)
  --webhooks N         checkout intents seeded for the webhook scenarios, each confirmed
                       at most once (default 100000)
  --oidc-codes N       authorization codes minted for `oidc-code`, each exchanged once
                       (default 60000)
  --stays N            attendance rows seeded for the stats scenarios (default 1000000): a
                       tenth in one big running show, the rest over --stats-rooms past
                       shows of one performer, among the seeded viewers
  --stats-rooms N      that performer's past shows (default 200)
  --duration D         the soak's length: 30m (default), 90s, 1h; a bare number is
                       minutes (at least 60 s)
  --soak-rate N        the soak's token requests a second (default: half the peak the
                       soak measures first, closed loop, as token-hs256)
  --server-env K=V     extra environment for the server, after the bench's own settings
                       (repeatable; e.g. ROOMKEY_DATABASE__MAX_CONNECTIONS=32)
  --json               print the results as JSON instead of a table

The server is the `roomkey` binary next to this one, built with `--features bench`.";

/// Rows generated and inserted per transaction while seeding.
const SEED_BATCH_USERS: usize = 20_000;
/// Longest wait for the server to answer `/healthz`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest time spent requesting every (viewer, room) pair before a token scenario.
const PREFILL_TIMEOUT: Duration = Duration::from_secs(180);
/// Entitlements end a year from now, or never.
const FAR_FUTURE_SECS: i64 = 365 * 86_400;

// ---------------------------------------------------------------------------------------
// Options

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Hello,
    SignHs256,
    TokenHs256,
    SignRs256,
    TokenRs256,
    Cold,
    Webhooks,
    WebhookToGrant,
    StatsRoom,
    StatsBigRoom,
    StatsPerformer,
    OidcCode,
    OidcUserinfo,
    /// Only alone, and never in `all`: `soak.rs`.
    Soak,
}

impl Scenario {
    /// Every scenario, in the order they run.
    const ALL: [Scenario; 13] = [
        Scenario::Hello,
        Scenario::SignHs256,
        Scenario::TokenHs256,
        Scenario::Webhooks,
        Scenario::WebhookToGrant,
        Scenario::SignRs256,
        Scenario::TokenRs256,
        Scenario::Cold,
        Scenario::StatsPerformer,
        Scenario::StatsRoom,
        Scenario::StatsBigRoom,
        Scenario::OidcCode,
        Scenario::OidcUserinfo,
    ];
    /// The OpenID Provider's: only when named, as they register a relying party.
    const OIDC: [Scenario; 2] = [Scenario::OidcCode, Scenario::OidcUserinfo];
    /// What a run without `--scenario` measures: the stats ones need their own data set.
    const DEFAULT: [Scenario; 8] = [
        Scenario::Hello,
        Scenario::SignHs256,
        Scenario::TokenHs256,
        Scenario::Webhooks,
        Scenario::WebhookToGrant,
        Scenario::SignRs256,
        Scenario::TokenRs256,
        Scenario::Cold,
    ];
    /// The performer's history first: its first answer computes every show's figures from
    /// nothing kept, which the past-show scenario would otherwise have done already.
    const STATS: [Scenario; 3] = [
        Scenario::StatsPerformer,
        Scenario::StatsRoom,
        Scenario::StatsBigRoom,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Hello => "hello",
            Scenario::SignHs256 => "sign-only-hs256",
            Scenario::TokenHs256 => "token-hs256",
            Scenario::SignRs256 => "sign-only-rs256",
            Scenario::TokenRs256 => "token-rs256",
            Scenario::Cold => "cold",
            Scenario::Webhooks => "webhooks",
            Scenario::WebhookToGrant => "webhook-to-grant",
            Scenario::StatsRoom => "stats-room",
            Scenario::StatsBigRoom => "stats-big-room",
            Scenario::StatsPerformer => "stats-performer",
            Scenario::OidcCode => "oidc-code",
            Scenario::OidcUserinfo => "oidc-userinfo",
            Scenario::Soak => "soak",
        }
    }

    fn server(self) -> ServerSpec {
        match self {
            Scenario::Hello
            | Scenario::SignHs256
            | Scenario::TokenHs256
            | Scenario::Webhooks
            | Scenario::WebhookToGrant
            | Scenario::StatsRoom
            | Scenario::StatsBigRoom
            | Scenario::StatsPerformer
            | Scenario::OidcCode
            | Scenario::OidcUserinfo => ServerSpec::HOT_HS256,
            Scenario::SignRs256 | Scenario::TokenRs256 => ServerSpec::HOT_RS256,
            Scenario::Cold => ServerSpec::COLD_HS256,
            Scenario::Soak => ServerSpec::HOT_HS256,
        }
    }

    /// The token scenario whose ratio to this sign-only ceiling the report prints.
    fn token_partner(self) -> Option<Scenario> {
        match self {
            Scenario::SignHs256 => Some(Scenario::TokenHs256),
            Scenario::SignRs256 => Some(Scenario::TokenRs256),
            _ => None,
        }
    }

    /// The scenario measured interleaved with this one when it comes next in the list:
    /// the hello floor, its sign-only ceiling and that one's token scenario form one group.
    fn interleaved_with(self) -> Option<Scenario> {
        match self {
            Scenario::Hello => Some(Scenario::SignHs256),
            other => other.token_partner(),
        }
    }

    fn kind(self) -> RequestKind {
        match self {
            Scenario::Hello => RequestKind::Hello,
            Scenario::SignHs256 | Scenario::SignRs256 => RequestKind::SignOnly,
            Scenario::Webhooks => RequestKind::Webhook,
            Scenario::WebhookToGrant => RequestKind::WebhookThenToken,
            Scenario::StatsRoom => RequestKind::StatsRoom,
            Scenario::StatsBigRoom => RequestKind::StatsBigRoom,
            Scenario::StatsPerformer => RequestKind::StatsPerformer,
            Scenario::OidcCode => RequestKind::OidcCode,
            Scenario::OidcUserinfo => RequestKind::OidcUserinfo,
            _ => RequestKind::Token,
        }
    }
}

#[derive(Debug, Clone)]
struct Args {
    users: usize,
    rooms: usize,
    performers: usize,
    per_user: usize,
    active_users: usize,
    seed: u64,
    database_url: Option<String>,
    redis_url: Option<String>,
    connections: usize,
    seconds: u64,
    warmup: u64,
    client_threads: usize,
    server_env: Vec<(String, String)>,
    prefill: bool,
    attempts: u32,
    max_other_cpu: f64,
    interleave: u32,
    scenarios: Vec<Scenario>,
    webhooks: usize,
    oidc_codes: usize,
    stays: usize,
    stats_rooms: usize,
    json: bool,
    /// Seats per paid room; `None`: rooms without a capacity.
    capacity: Option<u32>,
    /// The soak's length and, when given, its token rate.
    duration: Duration,
    soak_rate: Option<f64>,
    /// `--data-set platform` and its options (see `volume.rs`).
    volume: volume::Options,
}

impl Args {
    fn parse(mut raw: impl Iterator<Item = String>) -> anyhow::Result<Option<Self>> {
        let mut args = Args {
            users: 10_000,
            rooms: 1_000,
            performers: 100,
            per_user: 5,
            active_users: 200_000,
            seed: 42,
            database_url: None,
            redis_url: None,
            connections: 64,
            seconds: 10,
            warmup: 3,
            client_threads: 1,
            server_env: Vec::new(),
            prefill: true,
            attempts: 3,
            interleave: 5,
            max_other_cpu: 0.2,
            scenarios: Scenario::DEFAULT.to_vec(),
            webhooks: 100_000,
            oidc_codes: 60_000,
            stays: 1_000_000,
            stats_rooms: 200,
            json: false,
            capacity: None,
            duration: soak::DEFAULT_DURATION,
            soak_rate: None,
            volume: volume::Options::default(),
        };
        let mut active_given = false;
        while let Some(flag) = raw.next() {
            let mut value = || raw.next().ok_or_else(|| anyhow!("{flag} needs a value"));
            fn number<T: std::str::FromStr>(flag: &str, text: String) -> anyhow::Result<T> {
                text.replace('_', "")
                    .parse()
                    .map_err(|_| anyhow!("{flag}: {text:?} is not a number"))
            }
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--users" => args.users = number(&flag, value()?)?,
                "--rooms" => args.rooms = number(&flag, value()?)?,
                "--performers" => args.performers = number(&flag, value()?)?,
                "--per-user" => args.per_user = number(&flag, value()?)?,
                "--active-users" => {
                    args.active_users = number(&flag, value()?)?;
                    active_given = true;
                }
                "--seed" => args.seed = number(&flag, value()?)?,
                "--database-url" => args.database_url = Some(value()?),
                "--redis-url" => args.redis_url = Some(value()?),
                "--connections" => args.connections = number(&flag, value()?)?,
                "--seconds" => args.seconds = number(&flag, value()?)?,
                "--warmup" => args.warmup = number(&flag, value()?)?,
                "--client-threads" => args.client_threads = number(&flag, value()?)?,
                "--no-prefill" => args.prefill = false,
                "--attempts" => args.attempts = number(&flag, value()?)?,
                "--max-other-cpu" => args.max_other_cpu = number(&flag, value()?)?,
                "--interleave" => args.interleave = number(&flag, value()?)?,
                "--json" => args.json = true,
                "--webhooks" => args.webhooks = number(&flag, value()?)?,
                "--oidc-codes" => args.oidc_codes = number(&flag, value()?)?,
                "--stays" => args.stays = number(&flag, value()?)?,
                "--stats-rooms" => args.stats_rooms = number(&flag, value()?)?,
                "--capacity" => args.capacity = Some(number(&flag, value()?)?),
                "--duration" => args.duration = soak::parse_duration(&value()?)?,
                "--soak-rate" => args.soak_rate = Some(number(&flag, value()?)?),
                "--server-env" => {
                    let pair = value()?;
                    let (key, val) = pair
                        .split_once('=')
                        .filter(|(k, _)| !k.is_empty())
                        .ok_or_else(|| anyhow!("--server-env needs KEY=VALUE, not {pair:?}"))?;
                    args.server_env.push((key.to_owned(), val.to_owned()));
                }
                "--scenario" => args.scenarios = parse_scenarios(&value()?)?,
                flag if volume::FLAGS.contains(&flag) => args.volume.set(flag, &value()?)?,
                other => bail!("unknown option {other:?}"),
            }
        }
        if !active_given {
            args.active_users = args.active_users.min(args.users);
        }
        if args.users == 0 || args.rooms == 0 || args.performers == 0 {
            bail!("--users, --rooms and --performers must be at least 1");
        }
        if args.per_user == 0 || args.per_user > args.rooms {
            bail!("--per-user must be between 1 and --rooms");
        }
        if args.active_users == 0 || args.active_users > args.users {
            bail!("--active-users must be between 1 and --users");
        }
        if args.stats_rooms == 0 || args.stays < 10 * args.stats_rooms {
            bail!("--stats-rooms must be at least 1 and --stays at least ten per room");
        }
        if args.rooms > u32::MAX as usize {
            bail!("--rooms is too large");
        }
        if args.connections == 0
            || args.seconds == 0
            || args.client_threads == 0
            || args.attempts == 0
            || args.interleave == 0
        {
            bail!(
                "--connections, --seconds, --client-threads, --attempts and --interleave \
                 must be at least 1"
            );
        }
        if let Some(url) = &args.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!("--database-url must be a postgres:// URL (SQLite is the default)");
            }
        }
        if let Some(url) = &args.redis_url {
            if !url.starts_with("redis://") {
                bail!("--redis-url must be a redis:// URL");
            }
        }
        Ok(Some(args))
    }
}

fn parse_scenarios(list: &str) -> anyhow::Result<Vec<Scenario>> {
    let mut chosen = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let matching: Vec<Scenario> = match name {
            "all" => Scenario::ALL.to_vec(),
            "sign-only" => vec![Scenario::SignHs256, Scenario::SignRs256],
            "token" => vec![Scenario::TokenHs256, Scenario::TokenRs256],
            "payments" => vec![Scenario::Webhooks, Scenario::WebhookToGrant],
            "stats" => Scenario::STATS.to_vec(),
            "oidc" => Scenario::OIDC.to_vec(),
            "soak" => vec![Scenario::Soak],
            _ => Scenario::ALL
                .into_iter()
                .filter(|s| s.name() == name)
                .collect(),
        };
        if matching.is_empty() {
            bail!("unknown scenario {name:?}");
        }
        chosen.extend(matching);
    }
    if chosen.contains(&Scenario::Soak) {
        if chosen.len() > 1 {
            bail!("the soak runs alone: --scenario soak");
        }
        return Ok(chosen);
    }
    // Run in the canonical order, so scenarios sharing a server configuration share a start.
    Ok(Scenario::ALL
        .into_iter()
        .filter(|s| chosen.contains(s))
        .collect())
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}\n\n{}", volume::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("roomkey-bench: {error:#}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = if args.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.client_threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("roomkey-bench: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("roomkey-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let tag = format!("{:016x}", rand::random::<u64>());
    let work_dir = std::env::temp_dir().join(format!("roomkey-bench-{tag}"));
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("cannot create {}", work_dir.display()))?;
    let database = Database::prepare(&args, &work_dir, &tag).await;
    let result = match &database {
        Ok(database) => {
            tokio::select! {
                result = bench(&args, &work_dir, database, &tag) => result,
                _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
            }
        }
        Err(_) => Ok(()),
    };
    // Whatever happened, leave nothing behind: the server is killed when its handle drops
    // (above), then the schema and the temporary files go.
    let cleanup = match &database {
        Ok(database) => database.cleanup().await,
        Err(_) => Ok(()),
    };
    let _ = std::fs::remove_dir_all(&work_dir);
    database?;
    result?;
    cleanup
}

// ---------------------------------------------------------------------------------------
// The database

enum Database {
    Sqlite {
        url: String,
    },
    Postgres {
        admin_url: String,
        schema: String,
        url: String,
    },
}

impl Database {
    async fn prepare(args: &Args, work_dir: &Path, tag: &str) -> anyhow::Result<Self> {
        match &args.database_url {
            None => Ok(Database::Sqlite {
                url: format!("sqlite://{}", work_dir.join("roomkey.db").display()),
            }),
            Some(admin_url) => {
                let schema = format!("rk_bench_{tag}");
                let store = Store::connect(admin_url, 1, metrics()).await?;
                store.create_schema(&schema).await?;
                store.close().await;
                let separator = if admin_url.contains('?') { '&' } else { '?' };
                Ok(Database::Postgres {
                    url: format!("{admin_url}{separator}options=-c%20search_path%3D{schema}"),
                    admin_url: admin_url.clone(),
                    schema,
                })
            }
        }
    }

    fn url(&self) -> &str {
        match self {
            Database::Sqlite { url } | Database::Postgres { url, .. } => url,
        }
    }

    fn backend(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }

    async fn cleanup(&self) -> anyhow::Result<()> {
        if let Database::Postgres {
            admin_url, schema, ..
        } = self
        {
            let store = Store::connect(admin_url, 1, metrics()).await?;
            let dropped = store.drop_schema(schema).await;
            store.close().await;
            dropped.with_context(|| format!("dropping schema {schema}"))?;
        }
        Ok(())
    }
}

fn metrics() -> Arc<Metrics> {
    Arc::new(Metrics::new(&[], "bench"))
}

/// What the load needs from the seeded data: room names, and for each active viewer a
/// session and the rooms they may enter.
/// A seeded checkout intent awaiting its confirmation, and who pays for which room.
struct WebhookCase {
    intent: String,
    viewer: u32,
    room: u32,
}

/// The ePayco account the server is configured with during a run.
const EPAYCO_CUSTOMER: &str = "900123";
const EPAYCO_P_KEY: &str = "bench-p-key-0123456789abcdef0123";

struct DataSet {
    room_names: Vec<String>,
    stats: Option<StatsSet>,
    webhooks: Vec<WebhookCase>,
    viewer_ids: Vec<String>,
    /// `per_user` room indexes per active viewer, in viewer order.
    entitled: Vec<u32>,
    per_user: usize,
    rows: SeedCounts,
    seconds: f64,
}

#[derive(Default, Clone, Copy)]
struct SeedCounts {
    users: u64,
    rooms: u64,
    entitlements: u64,
    stays: u64,
}

fn user(id: String, handle: String, display_name: String, role: Role, now: UnixSeconds) -> User {
    User {
        email: format!("{handle}@bench.example.com"),
        id,
        handle,
        display_name,
        role,
        matrix_user_id: None,
        avatar_url: None,
        verified: false,
        created_at: now,
        updated_at: now,
        session_generation: 0,
    }
}

async fn seed(args: &Args, database: &Database, now: UnixSeconds) -> anyhow::Result<DataSet> {
    let started = Instant::now();
    let store = Store::connect(database.url(), 4, metrics()).await?;
    store.migrate().await?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut rows = SeedCounts::default();
    let new_id = || uuid::Uuid::now_v7().to_string();

    let performers: Vec<User> = (0..args.performers)
        .map(|i| {
            user(
                new_id(),
                format!("performer{i}"),
                format!("Performer {i}"),
                Role::Performer,
                now,
            )
        })
        .collect();
    for chunk in performers.chunks(SEED_BATCH_USERS) {
        rows.users += store.seed_users(chunk).await?;
    }

    let mut room_ids = Vec::with_capacity(args.rooms);
    let mut room_names = Vec::with_capacity(args.rooms);
    let mut batch = Vec::with_capacity(SEED_BATCH_USERS.min(args.rooms));
    for i in 0..args.rooms {
        let name = format!("show-{i:07}");
        let room = Room {
            id: new_id(),
            name: RoomName::parse(&name).map_err(|e| anyhow!("room name {name}: {e}"))?,
            title: format!("Show {i}"),
            owner_id: performers[i % performers.len()].id.clone(),
            access: RoomAccess::Paid,
            price: Some(Money {
                amount_minor: 1_999,
                currency: "USD".into(),
            }),
            plans: vec![],
            starts_at: None,
            ends_at: None,
            created_at: now,
            updated_at: now,
            capacity: args.capacity,
        };
        room_ids.push(room.id.clone());
        room_names.push(room.name.as_str().to_owned());
        batch.push(room);
        if batch.len() == SEED_BATCH_USERS || i + 1 == args.rooms {
            rows.rooms += store.seed_rooms(&batch).await?;
            batch.clear();
        }
    }
    let room_owners: Vec<String> = (0..args.rooms)
        .map(|i| performers[i % performers.len()].id.clone())
        .collect();
    drop(performers);

    let mut viewer_ids = Vec::with_capacity(args.active_users);
    let mut entitled = Vec::with_capacity(args.active_users * args.per_user);
    let mut picked = Vec::with_capacity(args.per_user);
    let mut start = 0;
    while start < args.users {
        let end = (start + SEED_BATCH_USERS).min(args.users);
        let viewers: Vec<User> = (start..end)
            .map(|i| {
                user(
                    new_id(),
                    format!("viewer{i}"),
                    format!("Viewer {i}"),
                    Role::Viewer,
                    now,
                )
            })
            .collect();
        let mut entitlements = Vec::with_capacity(viewers.len() * args.per_user);
        let mut seated = Vec::new();
        for (offset, viewer) in viewers.iter().enumerate() {
            picked.clear();
            while picked.len() < args.per_user {
                let room = rng.gen_range(0..args.rooms as u32);
                if !picked.contains(&room) {
                    picked.push(room);
                }
            }
            for (n, room) in picked.iter().enumerate() {
                // Half lifetime, half ending far in the future.
                let lifetime = (start + offset + n) % 2 == 0;
                entitlements.push(Entitlement {
                    id: new_id(),
                    user_id: viewer.id.clone(),
                    scope: EntitlementScope::Room(room_ids[*room as usize].clone()),
                    quantity: None,
                    valid_from: now - 30 * 86_400,
                    valid_until: (!lifetime).then_some(now + FAR_FUTURE_SECS),
                    source: EntitlementSource::Payment,
                    source_ref: Some(format!("bench-payment-{}", start + offset)),
                    granted_by: None,
                    created_at: now - 30 * 86_400,
                    revocation: None,
                });
            }
            if start + offset < args.active_users {
                viewer_ids.push(viewer.id.clone());
                entitled.extend_from_slice(&picked);
            }
            if args.capacity.is_some() {
                // In the room since ten minutes ago: a seat holder the check finds.
                seated.push(roomkey::store::SeedStay {
                    occupant_id: new_id(),
                    room_id: room_ids[picked[0] as usize].clone(),
                    user_id: viewer.id.clone(),
                    joined_at: now - 600,
                    left_at: None,
                });
            }
        }
        rows.users += store.seed_users(&viewers).await?;
        rows.entitlements += store.seed_entitlements(&entitlements).await?;
        if !seated.is_empty() {
            rows.stays += store.seed_attendance(&seated).await?;
        }
        start = end;
        if args.users > 4 * SEED_BATCH_USERS {
            progress(format_args!("  seeded {end}/{} viewers", args.users));
        }
    }
    let webhooks = seed_intents(
        args,
        &store,
        &mut rng,
        &viewer_ids,
        &entitled,
        (&room_ids, &room_owners),
        now,
    )
    .await?;
    let stats = seed_stats(args, &store, &mut rng, &viewer_ids, &mut rows, now).await?;
    store.vacuum_analyze().await?;
    store.close().await;
    Ok(DataSet {
        room_names,
        stats,
        webhooks,
        viewer_ids,
        entitled,
        per_user: args.per_user,
        rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One intent per webhook, for rooms the paying viewer does not hold yet, spread over the
/// active viewers.
async fn seed_intents(
    args: &Args,
    store: &Store,
    rng: &mut StdRng,
    viewer_ids: &[String],
    entitled: &[u32],
    (room_ids, room_owners): (&[String], &[String]),
    now: UnixSeconds,
) -> anyhow::Result<Vec<WebhookCase>> {
    let wanted = args.scenarios.iter().any(|s| {
        matches!(
            s,
            Scenario::Webhooks | Scenario::WebhookToGrant | Scenario::Soak
        )
    });
    if !wanted || args.per_user >= args.rooms {
        return Ok(Vec::new());
    }
    let mut cases = Vec::with_capacity(args.webhooks);
    let mut batch = Vec::with_capacity(SEED_BATCH_USERS);
    for i in 0..args.webhooks {
        let viewer = i % viewer_ids.len();
        let held = &entitled[viewer * args.per_user..(viewer + 1) * args.per_user];
        let room = loop {
            let room = rng.gen_range(0..args.rooms as u32);
            if !held.contains(&room) {
                break room;
            }
        };
        let intent = PaymentIntent {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: viewer_ids[viewer].clone(),
            kind: PurchaseKind::Room,
            room_id: Some(room_ids[room as usize].clone()),
            performer_id: Some(room_owners[room as usize].clone()),
            feature: None,
            amount_minor: 1_999,
            currency: "USD".into(),
            provider: "epayco".into(),
            provider_ref: None,
            state: PaymentState::Created,
            entitlement_id: None,
            created_at: now,
            updated_at: now,
        };
        cases.push(WebhookCase {
            intent: intent.id.clone(),
            viewer: viewer as u32,
            room,
        });
        batch.push(intent);
        if batch.len() == SEED_BATCH_USERS || i + 1 == args.webhooks {
            store.seed_payment_intents(&batch).await?;
            batch.clear();
        }
    }
    Ok(cases)
}

/// The shows the stats scenarios ask about.
struct StatsSet {
    /// Owns `rooms`, past shows.
    performer_id: String,
    rooms: Vec<String>,
    /// Owns `big_room`, the show still running.
    headliner_id: String,
    big_room: String,
}

/// `--stats-rooms` past shows of one performer, one a day for two hours each, sharing nine
/// tenths of `--stays`; and one big show of another performer, on for the last three hours
/// and still running, with the other tenth. Viewers are drawn from the seeded ones.
async fn seed_stats(
    args: &Args,
    store: &Store,
    rng: &mut StdRng,
    viewer_ids: &[String],
    rows: &mut SeedCounts,
    now: UnixSeconds,
) -> anyhow::Result<Option<StatsSet>> {
    if !args
        .scenarios
        .iter()
        .any(|s| Scenario::STATS.contains(s) || *s == Scenario::Soak)
    {
        return Ok(None);
    }
    let new_id = || uuid::Uuid::now_v7().to_string();
    let star = user(
        new_id(),
        "stats-star".into(),
        "Stats Star".into(),
        Role::Performer,
        now,
    );
    let headliner = user(
        new_id(),
        "stats-headliner".into(),
        "Stats Headliner".into(),
        Role::Performer,
        now,
    );
    rows.users += store.seed_users(&[star.clone(), headliner.clone()]).await?;
    let room = |name: String, owner: &User| -> anyhow::Result<Room> {
        Ok(Room {
            id: new_id(),
            name: RoomName::parse(&name).map_err(|e| anyhow!("room name {name}: {e}"))?,
            title: format!("Stats {name}"),
            owner_id: owner.id.clone(),
            access: RoomAccess::Free,
            price: None,
            plans: vec![],
            starts_at: None,
            ends_at: None,
            created_at: now,
            updated_at: now,
            capacity: None,
        })
    };
    let mut rooms = (0..args.stats_rooms)
        .map(|i| room(format!("stats-show-{i:04}"), &star))
        .collect::<anyhow::Result<Vec<_>>>()?;
    rooms.push(room("stats-big-show".into(), &headliner)?);
    rows.rooms += store.seed_rooms(&rooms).await?;

    let big = args.stays / 10;
    let per_room = (args.stays - big) / args.stats_rooms;
    let mut batch = Vec::with_capacity(STAYS_PER_BATCH + 4 * per_room.max(big));
    for (i, room) in rooms.iter().enumerate() {
        let (count, start, length) = if i == args.stats_rooms {
            (big, now - 3 * 3_600, 4 * 3_600)
        } else {
            let days_ago = (args.stats_rooms - i) as i64;
            (per_room, now - days_ago * 86_400, 2 * 3_600)
        };
        let show = Show {
            room_id: &room.id,
            tag: i,
            start,
            length,
            now,
        };
        show.stays(count, viewer_ids, rng, &mut batch);
        if batch.len() >= STAYS_PER_BATCH || i == args.stats_rooms {
            rows.stays += store.seed_attendance(&batch).await?;
            batch.clear();
            progress(format_args!("  seeded {} stays", rows.stays));
        }
    }
    Ok(Some(StatsSet {
        performer_id: star.id,
        rooms: rooms[..args.stats_rooms]
            .iter()
            .map(|r| r.name.as_str().to_owned())
            .collect(),
        headliner_id: headliner.id,
        big_room: rooms[args.stats_rooms].name.as_str().to_owned(),
    }))
}

/// Stays inserted per transaction while seeding the stats scenarios.
const STAYS_PER_BATCH: usize = 100_000;

struct Show<'a> {
    room_id: &'a str,
    tag: usize,
    start: UnixSeconds,
    length: i64,
    now: UnixSeconds,
}

impl Show<'_> {
    /// `count` stays: arrivals lean early (the earlier of two uniform draws); a stay lasts
    /// one to sixty minutes, never past the show's end; one in five is followed by a
    /// reconnect of the same viewer that overlaps the old connection by up to 20 s (two
    /// devices, or a leave reported late). A stay not over by `now` is still open.
    fn stays(
        &self,
        count: usize,
        viewer_ids: &[String],
        rng: &mut StdRng,
        out: &mut Vec<roomkey::store::SeedStay>,
    ) {
        let end = self.start + self.length;
        let mut made = 0;
        while made < count {
            let viewer = &viewer_ids[rng.gen_range(0..viewer_ids.len())];
            let mut at = self.start
                + rng
                    .gen_range(0..self.length)
                    .min(rng.gen_range(0..self.length));
            while made < count {
                let leave = (at + rng.gen_range(60..3_600)).min(end);
                let left_at = (leave <= self.now).then_some(leave);
                out.push(roomkey::store::SeedStay {
                    occupant_id: format!("bench-{}-{made}", self.tag),
                    room_id: self.room_id.to_owned(),
                    user_id: viewer.clone(),
                    joined_at: at,
                    left_at,
                });
                made += 1;
                if left_at.is_none() || leave >= end || !rng.gen_bool(0.2) {
                    break;
                }
                at = (leave - rng.gen_range(0..20)).max(at);
            }
        }
    }
}

/// The form body ePayco posts to the confirmation URL for an accepted payment.
fn epayco_confirmation(number: usize, intent: &str) -> Vec<u8> {
    let ref_payco = format!("{}", 50_000_000 + number);
    let transaction = format!("bench-tx-{number}");
    let signature = roomkey::payments::epayco::signature(
        EPAYCO_CUSTOMER,
        EPAYCO_P_KEY,
        &ref_payco,
        &transaction,
        "19.99",
        "USD",
    );
    let body = format!(
        "x_cust_id_cliente={EPAYCO_CUSTOMER}&x_ref_payco={ref_payco}&x_transaction_id={transaction}\
         &x_amount=19.99&x_currency_code=USD&x_signature={signature}&x_cod_transaction_state=1\
         &x_transaction_state=Aceptada&x_test_request=FALSE&x_extra1={intent}"
    );
    format!(
        "POST /api/webhooks/epayco HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// ePayco's transaction lookup for the seeded confirmations: roomkey reads every
/// confirmation's state from it before granting, as it does from ePayco's own. It answers
/// confirmation `n` (reference `50_000_000 + n`) as accepted, for its intent.
async fn start_epayco_lookup(intents: Arc<Vec<String>>) -> anyhow::Result<String> {
    use axum::extract::Path as UrlPath;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/validation/v1/reference", listener.local_addr()?);
    let router = axum::Router::new().route(
        "/validation/v1/reference/{reference}",
        axum::routing::get(move |UrlPath(reference): UrlPath<u64>| {
            let intent = reference
                .checked_sub(50_000_000)
                .and_then(|n| intents.get(usize::try_from(n).ok()?))
                .cloned();
            async move {
                axum::Json(match intent {
                    Some(intent) => serde_json::json!({"success": true, "data": {
                        "x_ref_payco": reference,
                        "x_transaction_id": format!("bench-tx-{}", reference - 50_000_000),
                        "x_amount": "19.99", "x_currency_code": "USD",
                        "x_cod_transaction_state": 1, "x_test_request": "FALSE",
                        "x_extra1": intent}}),
                    None => serde_json::json!({"success": false, "data": {}}),
                })
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

// ---------------------------------------------------------------------------------------
// The server

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ServerSpec {
    signing: &'static str,
    cache_disabled: bool,
}

impl ServerSpec {
    const HOT_HS256: Self = Self {
        signing: "hs256",
        cache_disabled: false,
    };
    const HOT_RS256: Self = Self {
        signing: "rs256",
        cache_disabled: false,
    };
    const COLD_HS256: Self = Self {
        signing: "hs256",
        cache_disabled: true,
    };
}

struct Server {
    child: Child,
    pid: u32,
    addr: SocketAddr,
    ops: SocketAddr,
}

struct ServerEnv<'a> {
    exe: &'a Path,
    work_dir: &'a Path,
    database_url: &'a str,
    redis_url: Option<&'a str>,
    session_secret: &'a str,
    epayco_lookup_url: &'a str,
    tag: &'a str,
    extra: &'a [(String, String)],
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free local port")?;
    Ok(listener.local_addr()?)
}

impl Server {
    async fn start(env: &ServerEnv<'_>, spec: ServerSpec) -> anyhow::Result<Self> {
        let addr = free_port()?;
        let ops = free_port()?;
        let log_path = env.work_dir.join(format!(
            "server-{}{}.log",
            spec.signing,
            if spec.cache_disabled { "-cold" } else { "" }
        ));
        let log = std::fs::File::create(&log_path)?;
        let mut command = Command::new(env.exe);
        for (name, _) in std::env::vars_os() {
            let text = name.to_string_lossy();
            if text.starts_with("ROOMKEY_") || text == "DATABASE_URL" || text == "REDIS_URL" {
                command.env_remove(&name);
            }
        }
        command
            .arg("serve")
            .env("ROOMKEY_HTTP__LISTEN", addr.to_string())
            .env("ROOMKEY_HTTP__OPS_LISTEN", ops.to_string())
            .env("ROOMKEY_HTTP__PUBLIC_URL", format!("http://{addr}"))
            .env("DATABASE_URL", env.database_url)
            .env("ROOMKEY_DATABASE__MIGRATE_ON_START", "false")
            .env("ROOMKEY_KEYS__DIR", env.work_dir.join("keys"))
            .env("ROOMKEY_JITSI__SIGNING", spec.signing)
            .env("ROOMKEY_SESSION__SECRET", env.session_secret)
            .env("ROOMKEY_RATE_LIMIT__TOKEN_PER_MINUTE", "1000000000")
            .env("ROOMKEY_PAYMENTS__EPAYCO__CUSTOMER_ID", EPAYCO_CUSTOMER)
            .env("ROOMKEY_PAYMENTS__EPAYCO__P_KEY", EPAYCO_P_KEY)
            .env(
                "ROOMKEY_PAYMENTS__EPAYCO__VALIDATION_URL",
                env.epayco_lookup_url,
            )
            .env("RUST_LOG", "warn")
            .current_dir(env.work_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        command.envs(env.extra.iter().map(|(k, v)| (k, v)));
        if spec.cache_disabled {
            command.env("ROOMKEY_CACHE__MAX_ENTRIES", "0");
        }
        if let Some(url) = env.redis_url {
            command.env("REDIS_URL", url).env(
                "ROOMKEY_REDIS__KEY_PREFIX",
                format!("roomkey-bench-{}:", env.tag),
            );
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", env.exe.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the server exited during start-up ({status}):\n{}",
                    log_tail(&log_path)
                );
            }
            if matches!(get(addr, "/healthz").await, Ok((200, _))) {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "the server did not answer /healthz within {} s:\n{}",
                    STARTUP_TIMEOUT.as_secs(),
                    log_tail(&log_path)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            child,
            pid,
            addr,
            ops,
        })
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// `roomkey_tokens_total` for `issued` and `reused`.
    async fn token_counters(&self) -> Option<(u64, u64)> {
        let (status, body) = get(self.ops, "/metrics").await.ok()?;
        if status != 200 {
            return None;
        }
        let text = String::from_utf8_lossy(&body);
        let counter = |outcome: &str| -> Option<u64> {
            let prefix = format!("roomkey_tokens_total{{outcome=\"{outcome}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .and_then(|v| v.trim().parse().ok())
        };
        Some((counter("issued")?, counter("reused")?))
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux configuration in practice.
    Some((utime + stime) / 100.0)
}

/// CPU seconds used so far by each local process named `comm` (the PostgreSQL server's
/// processes when `comm` is "postgres"), by pid.
fn processes_cpu_seconds(comm: &str) -> std::collections::HashMap<u32, f64> {
    let wanted = format!("({comm})");
    let mut found = std::collections::HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if stat.split_whitespace().nth(1) == Some(wanted.as_str()) {
            if let Some(seconds) = cpu_seconds(&pid.to_string()) {
                found.insert(pid, seconds);
            }
        }
    }
    found
}

/// CPU seconds every core has spent busy since boot, from `/proc/stat`.
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| *v)
        .sum();
    Some(busy as f64 / 100.0)
}

// ---------------------------------------------------------------------------------------
// The HTTP/1.1 client

/// One keep-alive connection with its request and response buffers.
struct Connection {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    request: Vec<u8>,
    response: Vec<u8>,
}

struct Answer {
    status: u16,
    body: std::ops::Range<usize>,
}

impl Connection {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            request: Vec::with_capacity(1024),
            response: Vec::with_capacity(16 * 1024),
        }
    }

    /// Sends `self.request` and reads the answer into `self.response`.
    async fn round_trip(&mut self) -> std::io::Result<Answer> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        let result = exchange(stream, &self.request, &mut self.response).await;
        match result {
            Ok((answer, keep_alive)) => {
                if !keep_alive {
                    self.stream = None;
                }
                Ok(answer)
            }
            Err(error) => {
                self.stream = None;
                Err(error)
            }
        }
    }

    fn body(&self, answer: &Answer) -> &[u8] {
        &self.response[answer.body.clone()]
    }
}

fn protocol_error(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Writes one request and reads one response: the head up to the blank line, then exactly
/// `Content-Length` bytes of body. Returns whether the connection may be reused.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<(Answer, bool)> {
    stream.write_all(request).await?;
    buf.clear();
    let mut scanned = 0;
    let head_end = loop {
        if let Some(at) = find(&buf[scanned..], b"\r\n\r\n") {
            break scanned + at + 4;
        }
        scanned = buf.len().saturating_sub(3);
        if buf.len() > 64 * 1024 {
            return Err(protocol_error("response head too large"));
        }
        buf.reserve(8 * 1024);
        if stream.read_buf(buf).await? == 0 {
            return Err(protocol_error("connection closed mid-response"));
        }
    };
    let head = &buf[..head_end];
    if head.len() < 12 || !head.starts_with(b"HTTP/1.") {
        return Err(protocol_error("not an HTTP/1.x response"));
    }
    let status = std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| protocol_error("bad status line"))?;
    let mut content_length = None;
    let mut keep_alive = true;
    for line in head.split(|b| *b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = &line[..colon];
        let value = std::str::from_utf8(&line[colon + 1..]).unwrap_or("").trim();
        if name.eq_ignore_ascii_case(b"content-length") {
            content_length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case(b"connection") && value.eq_ignore_ascii_case("close") {
            keep_alive = false;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(protocol_error("chunked responses are not expected"));
        }
    }
    let length = content_length.ok_or_else(|| protocol_error("no Content-Length"))?;
    while buf.len() < head_end + length {
        buf.reserve(head_end + length - buf.len());
        if stream.read_buf(buf).await? == 0 {
            return Err(protocol_error("connection closed mid-body"));
        }
    }
    Ok((
        Answer {
            status,
            body: head_end..head_end + length,
        },
        keep_alive,
    ))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A one-off `GET` (health checks, metrics).
async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut connection = Connection::new(addr);
    write!(
        Bytes(&mut connection.request),
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let answer = tokio::time::timeout(Duration::from_secs(5), connection.round_trip())
        .await
        .context("timed out")??;
    Ok((answer.status, connection.body(&answer).to_vec()))
}

/// `write!` into a byte buffer.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Load

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestKind {
    Hello,
    SignOnly,
    Token,
    Webhook,
    WebhookThenToken,
    StatsRoom,
    StatsBigRoom,
    StatsPerformer,
    OidcCode,
    OidcUserinfo,
}

/// Everything a worker needs to build requests, shared read-only.
struct Plan {
    /// `Host: …\r\nContent-Length: 0\r\n\r\n`, the common tail of every request.
    tail: Vec<u8>,
    rooms: Vec<String>,
    /// `Authorization: Bearer <session>\r\n` per active viewer.
    authorizations: Vec<Vec<u8>>,
    entitled: Vec<u32>,
    per_user: usize,
    /// Complete confirmation requests, each to be sent once, and who then asks for a token.
    webhooks: Vec<(Vec<u8>, u32, u32)>,
    /// The next unsent confirmation, shared by every worker of every webhook scenario.
    next_webhook: AtomicUsize,
    stats: Option<StatsPlan>,
    /// Minted through the running server before the first OIDC scenario.
    oidc: std::sync::OnceLock<oidc::OidcPlan>,
}

/// The stats scenarios' request lines, each with its owner's `Authorization` line.
struct StatsPlan {
    rooms: Vec<Vec<u8>>,
    big_room: Vec<u8>,
    performer: Vec<u8>,
}

impl Plan {
    fn pairs(&self) -> usize {
        self.entitled.len()
    }

    /// Writes the request for `(viewer, room)` pair number `pair` (or, signing only, for
    /// that pair's room).
    fn write(&self, kind: RequestKind, pair: usize, out: &mut Vec<u8>) {
        out.clear();
        let room = &self.rooms[self.entitled[pair] as usize];
        let stats = self.stats.as_ref();
        match kind {
            RequestKind::StatsRoom | RequestKind::StatsBigRoom | RequestKind::StatsPerformer => {
                let stats = stats.expect("stats scenarios seed their shows");
                out.extend_from_slice(match kind {
                    RequestKind::StatsRoom => &stats.rooms[pair % stats.rooms.len()],
                    RequestKind::StatsBigRoom => &stats.big_room,
                    _ => &stats.performer,
                });
            }
            RequestKind::OidcUserinfo => {
                let oidc = self.oidc.get().expect("minted before the scenario");
                out.extend_from_slice(&oidc.userinfo[pair % oidc.userinfo.len()]);
            }
            RequestKind::Hello => out.extend_from_slice(b"GET /bench/hello HTTP/1.1\r\n"),
            RequestKind::SignOnly => {
                out.extend_from_slice(b"POST /bench/sign/");
                out.extend_from_slice(room.as_bytes());
                out.extend_from_slice(b" HTTP/1.1\r\n");
            }
            _ => self.write_token(pair / self.per_user, room, out),
        }
        out.extend_from_slice(&self.tail);
    }

    fn write_token(&self, viewer: usize, room: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"POST /api/rooms/");
        out.extend_from_slice(room.as_bytes());
        out.extend_from_slice(b"/token HTTP/1.1\r\n");
        out.extend_from_slice(&self.authorizations[viewer]);
    }
}

/// SplitMix64: a few nanoseconds per draw and no shared state.
struct FastRng(u64);

impl FastRng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

#[derive(Default)]
struct WorkerTally {
    latencies_ns: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl WorkerTally {
    /// Counts an answer that completed inside the measured window `[from, end]`: its
    /// latency, and anything but a 200 (or a broken connection) as an error, the first one
    /// kept as the example. After a broken connection it pauses, so that a dead server is
    /// not spun on.
    async fn count(
        &mut self,
        connection: &Connection,
        result: &std::io::Result<Answer>,
        started: Instant,
        (from, end): (Instant, Instant),
    ) {
        let done = Instant::now();
        if done >= from && done <= end {
            self.latencies_ns
                .push(done.duration_since(started).as_nanos() as u64);
            let failure = match result {
                Ok(answer) if answer.status == 200 => None,
                Ok(answer) => Some(format!(
                    "HTTP {}: {}",
                    answer.status,
                    String::from_utf8_lossy(connection.body(answer))
                )),
                Err(error) => Some(format!("I/O: {error}")),
            };
            if let Some(failure) = failure {
                self.errors += 1;
                self.first_error.get_or_insert(failure);
            }
        }
        if result.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Requests random pairs until `end`; counts and times those that complete inside
/// `[measure_from, end]`.
async fn worker(
    addr: SocketAddr,
    plan: Arc<Plan>,
    kind: RequestKind,
    seed: u64,
    measure_from: Instant,
    end: Instant,
) -> WorkerTally {
    let mut tally = WorkerTally {
        latencies_ns: Vec::with_capacity(64 * 1024),
        ..WorkerTally::default()
    };
    let mut rng = FastRng(seed);
    let mut connection = Connection::new(addr);
    loop {
        let started = Instant::now();
        if started >= end {
            break;
        }
        plan.write(kind, rng.below(plan.pairs()), &mut connection.request);
        let result = connection.round_trip().await;
        tally
            .count(&connection, &result, started, (measure_from, end))
            .await;
    }
    tally
}

/// What a [`once_worker`] sends, each request once.
#[derive(Clone, Copy)]
enum Once {
    /// The seeded confirmations; with `then_token`, each followed by the payer's token
    /// request.
    Webhooks { then_token: bool },
    /// The minted code exchanges.
    OidcExchanges,
}

/// Sends each request of `once` once (shared cursor) until `end` or until none are left;
/// a confirmation with `then_token` is followed by the payer's token request, which must
/// succeed, and the pair is timed: webhook arrival to usable access.
async fn once_worker(
    addr: SocketAddr,
    plan: Arc<Plan>,
    once: Once,
    measure_from: Instant,
    end: Instant,
) -> WorkerTally {
    let mut tally = WorkerTally {
        latencies_ns: Vec::with_capacity(16 * 1024),
        ..WorkerTally::default()
    };
    let mut connection = Connection::new(addr);
    loop {
        let started = Instant::now();
        if started >= end {
            break;
        }
        let next = match once {
            Once::Webhooks { then_token } => {
                let index = plan.next_webhook.fetch_add(1, Ordering::Relaxed);
                plan.webhooks.get(index).map(|(request, viewer, room)| {
                    (request, then_token.then_some((*viewer, *room)))
                })
            }
            Once::OidcExchanges => {
                let oidc = plan.oidc.get().expect("minted before the scenario");
                let index = oidc.next_exchange.fetch_add(1, Ordering::Relaxed);
                oidc.exchanges.get(index).map(|request| (request, None))
            }
        };
        let Some((request, then_token)) = next else {
            tally.first_error.get_or_insert_with(|| match once {
                Once::Webhooks { .. } => {
                    "ran out of seeded checkout intents (raise --webhooks)".to_owned()
                }
                Once::OidcExchanges => "ran out of minted codes (raise --oidc-codes)".to_owned(),
            });
            tally.errors += 1;
            break;
        };
        connection.request.clear();
        connection.request.extend_from_slice(request);
        let mut result = connection.round_trip().await;
        let confirmed = matches!(&result, Ok(answer) if answer.status == 200);
        if let (Some((viewer, room)), true) = (then_token, confirmed) {
            connection.request.clear();
            plan.write_token(
                viewer as usize,
                &plan.rooms[room as usize],
                &mut connection.request,
            );
            connection.request.extend_from_slice(&plan.tail);
            result = connection.round_trip().await;
        }
        tally
            .count(&connection, &result, started, (measure_from, end))
            .await;
    }
    tally
}

/// Requests every pair once (shared counter), so the caches hold the whole data set.
async fn prefill_worker(
    addr: SocketAddr,
    plan: Arc<Plan>,
    next: Arc<AtomicUsize>,
    deadline: Instant,
) -> (u64, u64, Option<String>) {
    let mut connection = Connection::new(addr);
    let (mut done, mut errors, mut first_error) = (0, 0, None);
    while Instant::now() < deadline {
        let pair = next.fetch_add(1, Ordering::Relaxed);
        if pair >= plan.pairs() {
            break;
        }
        plan.write(RequestKind::Token, pair, &mut connection.request);
        done += 1;
        match connection.round_trip().await {
            Ok(answer) if answer.status == 200 => {}
            Ok(answer) => {
                errors += 1;
                first_error.get_or_insert_with(|| {
                    format!(
                        "HTTP {}: {}",
                        answer.status,
                        String::from_utf8_lossy(connection.body(&answer))
                    )
                });
            }
            Err(error) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("I/O: {error}"));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    (done, errors, first_error)
}

/// Times one request of `scenario` on a fresh connection (the stats scenarios' first, which
/// computes the figures that later requests find kept).
async fn first_answer(server: &Server, plan: &Plan, scenario: Scenario) -> anyhow::Result<f64> {
    let mut connection = Connection::new(server.addr);
    plan.write(scenario.kind(), 0, &mut connection.request);
    let started = Instant::now();
    let answer = connection.round_trip().await?;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    if answer.status != 200 {
        bail!(
            "{}: HTTP {}: {}",
            scenario.name(),
            answer.status,
            String::from_utf8_lossy(connection.body(&answer))
        );
    }
    Ok(ms)
}

async fn prefill(server: &Server, plan: &Arc<Plan>, connections: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = started + PREFILL_TIMEOUT;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(prefill_worker(
                server.addr,
                plan.clone(),
                next.clone(),
                deadline,
            ))
        })
        .collect();
    let (mut done, mut errors, mut first_error) = (0, 0, None);
    for task in tasks {
        let (d, e, f) = task.await?;
        done += d;
        errors += e;
        first_error = first_error.or(f);
    }
    progress(format_args!(
        "  prefill: {done} of {} pairs in {:.1} s{}",
        plan.pairs(),
        started.elapsed().as_secs_f64(),
        if done < plan.pairs() as u64 {
            " (stopped at the time limit)"
        } else {
            ""
        }
    ));
    if errors > 0 {
        bail!(
            "{errors} of {done} prefill requests failed; first: {}",
            first_error.unwrap_or_default()
        );
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct Outcome {
    scenario: Scenario,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    seconds: f64,
    throughput: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    rss_mib: Option<f64>,
    server_cpu: Option<f64>,
    client_cpu: Option<f64>,
    /// Cores used by local PostgreSQL processes (PostgreSQL runs only).
    db_cpu: Option<f64>,
    /// Cores busy with anything else on the machine during the window.
    other_cpu: Option<f64>,
    reused_share: Option<f64>,
    /// How many times this scenario was measured (see `--attempts`).
    attempts: u32,
    /// Stats scenarios: the one request before the warm-up, which finds nothing computed.
    first_answer_ms: Option<f64>,
}

impl Outcome {
    /// Cores used by processes other than the server and this load generator — including
    /// PostgreSQL, unless this scenario is the one that reads SQL.
    fn disturbance(&self) -> f64 {
        let db = if self.scenario == Scenario::Cold || Scenario::STATS.contains(&self.scenario) {
            0.0
        } else {
            self.db_cpu.unwrap_or(0.0)
        };
        self.other_cpu.unwrap_or(0.0) + db
    }
}

struct Sample {
    at: Instant,
    server_cpu: Option<f64>,
    client_cpu: Option<f64>,
    machine_cpu: Option<f64>,
    db_cpu: Option<std::collections::HashMap<u32, f64>>,
    tokens: Option<(u64, u64)>,
}

async fn sample(server: &Server, postgres: bool) -> Sample {
    let tokens = server.token_counters().await;
    Sample {
        at: Instant::now(),
        server_cpu: cpu_seconds(&server.pid.to_string()),
        client_cpu: cpu_seconds("self"),
        machine_cpu: machine_busy_seconds(),
        db_cpu: postgres.then(|| processes_cpu_seconds("postgres")),
        tokens,
    }
}

/// One measured stretch of one scenario: every latency, and the CPU samples around it.
struct Window {
    latencies_ns: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
    seconds: f64,
    before: Sample,
    after: Sample,
}

impl Window {
    /// Samples the machine at `measure_from` and at `end`, then gathers the workers'
    /// tallies into the window they measured.
    async fn gather(
        server: &Server,
        postgres: bool,
        tasks: Vec<tokio::task::JoinHandle<WorkerTally>>,
        (measure_from, end): (Instant, Instant),
        seconds: Duration,
    ) -> anyhow::Result<Self> {
        tokio::time::sleep_until(measure_from.into()).await;
        let before = sample(server, postgres).await;
        tokio::time::sleep_until(end.into()).await;
        let after = sample(server, postgres).await;
        let mut window = Window {
            latencies_ns: Vec::new(),
            errors: 0,
            first_error: None,
            seconds: seconds.as_secs_f64(),
            before,
            after,
        };
        for task in tasks {
            let tally = task.await?;
            window.latencies_ns.extend_from_slice(&tally.latencies_ns);
            window.errors += tally.errors;
            window.first_error = window.first_error.or(tally.first_error);
        }
        Ok(window)
    }
}

/// Drives `scenario` for `warmup` unmeasured, then `seconds` measured.
async fn measure_window(
    server: &Server,
    plan: &Arc<Plan>,
    scenario: Scenario,
    args: &Args,
    (warmup, seconds): (Duration, Duration),
    slice: u64,
) -> anyhow::Result<Window> {
    let kind = scenario.kind();
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + seconds;
    let base_seed = args.seed
        ^ (scenario as u64).wrapping_mul(0x1234_5678_9ABC_DEF1)
        ^ slice.wrapping_mul(0x2545_F491_4F6C_DD1D);
    let tasks: Vec<_> = (0..args.connections)
        .map(|i| match kind {
            RequestKind::Webhook | RequestKind::WebhookThenToken | RequestKind::OidcCode => {
                let once = match kind {
                    RequestKind::OidcCode => Once::OidcExchanges,
                    _ => Once::Webhooks {
                        then_token: kind == RequestKind::WebhookThenToken,
                    },
                };
                tokio::spawn(once_worker(
                    server.addr,
                    plan.clone(),
                    once,
                    measure_from,
                    end,
                ))
            }
            RequestKind::Hello
            | RequestKind::SignOnly
            | RequestKind::OidcUserinfo
            | RequestKind::Token
            | RequestKind::StatsRoom
            | RequestKind::StatsBigRoom
            | RequestKind::StatsPerformer => tokio::spawn(worker(
                server.addr,
                plan.clone(),
                kind,
                base_seed.wrapping_add(i as u64 * 0x9E37_79B9),
                measure_from,
                end,
            )),
        })
        .collect();

    let postgres = args.database_url.is_some();
    Window::gather(server, postgres, tasks, (measure_from, end), seconds).await
}

/// Unmeasured time before every slice after the first, to open the connections again.
const SLICE_WARMUP: Duration = Duration::from_millis(500);

/// Measures `scenarios` in `rounds` alternating slices of `--seconds / rounds` each, after
/// one full warm-up each. A sign-only ceiling and its token scenario are measured this way
/// so their ratio compares the two under the same machine state, not one after the other;
/// a single scenario in one round is one warm-up and `--seconds` measured.
async fn measure(
    server: &Server,
    plan: &Arc<Plan>,
    scenarios: &[Scenario],
    rounds: u32,
    args: &Args,
) -> anyhow::Result<Vec<Outcome>> {
    let slice = Duration::from_secs(args.seconds).div_f64(f64::from(rounds));
    let mut windows: Vec<Vec<Window>> = scenarios.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (scenario, windows) in scenarios.iter().zip(windows.iter_mut()) {
            let warmup = if round == 0 {
                Duration::from_secs(args.warmup)
            } else {
                SLICE_WARMUP
            };
            windows.push(
                measure_window(server, plan, *scenario, args, (warmup, slice), round.into())
                    .await?,
            );
        }
    }
    Ok(scenarios
        .iter()
        .zip(windows)
        .map(|(scenario, windows)| Outcome::from_windows(*scenario, windows, server))
        .collect())
}

impl Outcome {
    /// The figures over all of a scenario's windows: every latency counts once, and CPU
    /// is averaged over the measured time only.
    fn from_windows(scenario: Scenario, windows: Vec<Window>, server: &Server) -> Self {
        let mut latencies = Vec::new();
        let (mut errors, mut first_error) = (0, None);
        let mut seconds = 0.0;
        let mut elapsed = 0.0;
        let (mut server_cpu, mut client_cpu, mut machine_cpu, mut db_cpu) =
            (Some(0.0), Some(0.0), Some(0.0), None::<f64>);
        let (mut issued, mut reused, mut counted_tokens) = (0, 0, true);
        for window in windows {
            latencies.extend_from_slice(&window.latencies_ns);
            errors += window.errors;
            first_error = first_error.or(window.first_error);
            seconds += window.seconds;
            let (before, after) = (&window.before, &window.after);
            elapsed += after.at.duration_since(before.at).as_secs_f64();
            let add = |sum: Option<f64>, a: Option<f64>, b: Option<f64>| Some(sum? + b? - a?);
            server_cpu = add(server_cpu, before.server_cpu, after.server_cpu);
            client_cpu = add(client_cpu, before.client_cpu, after.client_cpu);
            machine_cpu = add(machine_cpu, before.machine_cpu, after.machine_cpu);
            if let (Some(b), Some(a)) = (&before.db_cpu, &after.db_cpu) {
                let used: f64 = a
                    .iter()
                    .map(|(pid, secs)| secs - b.get(pid).copied().unwrap_or(0.0))
                    .sum();
                db_cpu = Some(db_cpu.unwrap_or(0.0) + used);
            }
            match (before.tokens, after.tokens) {
                (Some((i0, r0)), Some((i1, r1))) => {
                    issued += i1.saturating_sub(i0);
                    reused += r1.saturating_sub(r0);
                }
                _ => counted_tokens = false,
            }
        }
        latencies.sort_unstable();
        let elapsed = elapsed.max(1e-9);
        let percentile = |p: f64| -> f64 {
            if latencies.is_empty() {
                return f64::NAN;
            }
            let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
            latencies[rank - 1] as f64 / 1e6
        };
        let per_second = |total: Option<f64>| total.map(|t| t / elapsed);
        let (server_cpu, client_cpu, db_cpu) = (
            per_second(server_cpu),
            per_second(client_cpu),
            per_second(db_cpu),
        );
        let other_cpu = per_second(machine_cpu).and_then(|all| {
            Some((all - server_cpu? - client_cpu? - db_cpu.unwrap_or(0.0)).max(0.0))
        });
        let reused_share =
            (scenario.kind() == RequestKind::Token && counted_tokens && issued + reused > 0)
                .then(|| reused as f64 / (issued + reused) as f64);
        Outcome {
            scenario,
            requests: latencies.len() as u64,
            errors,
            first_error,
            seconds,
            throughput: latencies.len() as f64 / seconds,
            p50_ms: percentile(0.50),
            p99_ms: percentile(0.99),
            p999_ms: percentile(0.999),
            max_ms: latencies.last().map_or(f64::NAN, |ns| *ns as f64 / 1e6),
            rss_mib: server.rss_bytes().map(|b| b as f64 / (1024.0 * 1024.0)),
            server_cpu,
            client_cpu,
            db_cpu,
            other_cpu,
            reused_share,
            attempts: 1,
            first_answer_ms: None,
        }
    }
}

fn progress(message: std::fmt::Arguments<'_>) {
    eprintln!("{message}");
}

// ---------------------------------------------------------------------------------------
// The run

async fn bench(args: &Args, work_dir: &Path, database: &Database, tag: &str) -> anyhow::Result<()> {
    if args.volume.platform {
        return volume::bench(args, work_dir, database, tag).await;
    }
    let exe = std::env::current_exe()?.with_file_name("roomkey-bench-server");
    if !exe.exists() {
        bail!(
            "{} not found: build it with `cargo build --release --features bench --bin roomkey-bench-server --bin roomkey-bench`",
            exe.display()
        );
    }
    let now = SystemClock.now();
    progress(format_args!(
        "seeding {} ({} viewers, {} performers, {} rooms, {} entitlements each, capacity {})…",
        database.backend(),
        args.users,
        args.performers,
        args.rooms,
        args.per_user,
        args.capacity
            .map_or_else(|| "none".to_owned(), |seats| seats.to_string())
    ));
    let data = seed(args, database, now).await?;
    progress(format_args!(
        "  {} users, {} rooms, {} entitlements, {} stays in {:.1} s",
        data.rows.users, data.rows.rooms, data.rows.entitlements, data.rows.stays, data.seconds
    ));

    let session_secret = format!("bench-session-{:032x}", rand::random::<u128>());
    let sessions = SessionTokens::new(session_secret.as_bytes(), 86_400);
    let session_tokens: Vec<String> = data
        .viewer_ids
        .iter()
        .map(|id| sessions.issue(id, 0, now).0)
        .collect();
    let plan = Arc::new(Plan {
        tail: b"Host: 127.0.0.1\r\nContent-Length: 0\r\n\r\n".to_vec(),
        authorizations: session_tokens
            .iter()
            .map(|token| format!("Authorization: Bearer {token}\r\n").into_bytes())
            .collect(),
        rooms: data.room_names,
        entitled: data.entitled,
        per_user: data.per_user,
        webhooks: data
            .webhooks
            .iter()
            .enumerate()
            .map(|(n, case)| (epayco_confirmation(n, &case.intent), case.viewer, case.room))
            .collect(),
        next_webhook: AtomicUsize::new(0),
        stats: data.stats.as_ref().map(|set| {
            let request = |path: String, owner: &str| {
                let (token, _) = sessions.issue(owner, 0, now);
                format!("GET {path} HTTP/1.1\r\nAuthorization: Bearer {token}\r\n").into_bytes()
            };
            StatsPlan {
                rooms: set
                    .rooms
                    .iter()
                    .map(|room| request(format!("/api/rooms/{room}/stats"), &set.performer_id))
                    .collect(),
                big_room: request(
                    format!("/api/rooms/{}/stats", set.big_room),
                    &set.headliner_id,
                ),
                performer: request(
                    format!("/api/performers/{}/stats", set.performer_id),
                    &set.performer_id,
                ),
            }
        }),
        oidc: std::sync::OnceLock::new(),
    });

    let epayco_lookup_url = start_epayco_lookup(Arc::new(
        data.webhooks
            .iter()
            .map(|case| case.intent.clone())
            .collect(),
    ))
    .await?;
    let mut server_env = Vec::new();
    if args.scenarios.iter().any(|s| Scenario::OIDC.contains(s)) {
        let config = oidc::config_file(work_dir).await?;
        server_env.push(("ROOMKEY_CONFIG".to_owned(), config.display().to_string()));
    }
    server_env.extend(args.server_env.iter().cloned());
    let env = ServerEnv {
        exe: &exe,
        work_dir,
        database_url: database.url(),
        redis_url: args.redis_url.as_deref(),
        session_secret: &session_secret,
        epayco_lookup_url: &epayco_lookup_url,
        tag,
        extra: &server_env,
    };
    if args.scenarios == [Scenario::Soak] {
        let seeded = (data.rows, data.seconds);
        return soak::run(args, &env, &plan, database, &data.viewer_ids, seeded).await;
    }
    let mut outcomes = Vec::new();
    let mut current: Option<(ServerSpec, Server)> = None;
    let mut queue = args.scenarios.iter().copied().peekable();
    while let Some(scenario) = queue.next() {
        let spec = scenario.server();
        if current.as_ref().map(|(s, _)| *s) != Some(spec) {
            if let Some((_, server)) = current.take() {
                server.stop().await;
            }
            progress(format_args!(
                "starting roomkey ({}{})…",
                spec.signing,
                if spec.cache_disabled {
                    ", caches disabled"
                } else {
                    ""
                }
            ));
            current = Some((spec, Server::start(&env, spec).await?));
        }
        let (_, server) = current.as_ref().expect("started above");
        let mut measured = vec![scenario];
        while let Some(next) = queue.next_if(|next| {
            args.interleave > 1 && measured.last().and_then(|s| s.interleaved_with()) == Some(*next)
        }) {
            measured.push(next);
        }
        let rounds = if measured.len() > 1 {
            args.interleave
        } else {
            1
        };
        if measured.iter().any(|s| s.kind() == RequestKind::Token)
            && args.prefill
            && !spec.cache_disabled
        {
            prefill(server, &plan, args.connections).await?;
        }
        match measured.len() {
            2.. => progress(format_args!(
                "{}: {} connections, {} s warm-up, then {} alternating slices of {:.1} s each…",
                measured
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(" and "),
                args.connections,
                args.warmup,
                args.interleave,
                args.seconds as f64 / f64::from(args.interleave)
            )),
            _ => progress(format_args!(
                "{}: {} connections, {} s warm-up + {} s measured…",
                scenario.name(),
                args.connections,
                args.warmup,
                args.seconds
            )),
        }
        if Scenario::OIDC.contains(&scenario) && plan.oidc.get().is_none() {
            let minted = oidc::mint(
                server.addr,
                &session_tokens,
                args.oidc_codes,
                args.connections,
            )
            .await?;
            plan.oidc.set(minted).ok().expect("minted once");
        }
        let first_answer_ms = if Scenario::STATS.contains(&scenario) {
            let ms = first_answer(server, &plan, scenario).await?;
            progress(format_args!("  first answer, nothing kept yet: {ms:.1} ms"));
            Some(ms)
        } else {
            None
        };
        let mut best: Option<Vec<Outcome>> = None;
        let mut made = 0;
        let disturbance =
            |set: &[Outcome]| set.iter().map(Outcome::disturbance).fold(0.0, f64::max);
        for attempt in 1..=args.attempts {
            made = attempt;
            let set = measure(server, &plan, &measured, rounds, args).await?;
            for outcome in &set {
                progress(format_args!(
                    "  {}: {:.0} req/s, p99 {:.3} ms, {} errors; other processes used {:.2} cores",
                    outcome.scenario.name(),
                    outcome.throughput,
                    outcome.p99_ms,
                    outcome.errors,
                    outcome.disturbance()
                ));
            }
            let quiet = disturbance(&set);
            if best.as_ref().is_none_or(|b| quiet < disturbance(b)) {
                best = Some(set);
            }
            if quiet <= args.max_other_cpu {
                break;
            }
            if attempt < args.attempts {
                progress(format_args!(
                    "  the machine was busy (more than {:.2} cores); measuring again",
                    args.max_other_cpu
                ));
            }
        }
        for mut outcome in best.expect("at least one attempt") {
            outcome.attempts = made;
            outcome.first_answer_ms = first_answer_ms;
            outcomes.push(outcome);
        }
    }
    if let Some((_, server)) = current.take() {
        server.stop().await;
    }

    let report = Report {
        args,
        backend: database.backend(),
        rows: data.rows,
        seed_seconds: data.seconds,
        outcomes,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The report

struct Report<'a> {
    args: &'a Args,
    backend: &'static str,
    rows: SeedCounts,
    seed_seconds: f64,
    outcomes: Vec<Outcome>,
}

struct Target {
    name: &'static str,
    goal: String,
    actual: String,
    met: bool,
    note: Option<String>,
}

fn machine() -> (usize, String) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    (cores, model)
}

impl Report<'_> {
    fn get(&self, scenario: Scenario) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.scenario == scenario)
    }

    fn ratios(&self) -> Vec<(&'static str, f64)> {
        let mut ratios = Vec::new();
        let pair = |a: Scenario, b: Scenario| Some((self.get(a)?, self.get(b)?));
        for (scenario, throughput, p99) in [
            (
                Scenario::TokenHs256,
                "token-hs256 / hello throughput",
                "token-hs256 / hello p99",
            ),
            (
                Scenario::SignHs256,
                "sign-only-hs256 / hello throughput",
                "sign-only-hs256 / hello p99",
            ),
        ] {
            if let Some((measured, hello)) = pair(scenario, Scenario::Hello) {
                ratios.push((throughput, measured.throughput / hello.throughput));
                ratios.push((p99, measured.p99_ms / hello.p99_ms));
            }
        }
        if let Some((token, sign)) = pair(Scenario::TokenHs256, Scenario::SignHs256) {
            ratios.push((
                "token-hs256 / sign-only-hs256 throughput",
                token.throughput / sign.throughput,
            ));
        }
        if let Some((rs, hs)) = pair(Scenario::TokenRs256, Scenario::TokenHs256) {
            ratios.push((
                "token-rs256 / token-hs256 throughput",
                rs.throughput / hs.throughput,
            ));
            ratios.push(("token-rs256 / token-hs256 p99", rs.p99_ms / hs.p99_ms));
        }
        if let Some((rs, hs)) = pair(Scenario::SignRs256, Scenario::SignHs256) {
            ratios.push((
                "sign-only-rs256 / sign-only-hs256 throughput",
                rs.throughput / hs.throughput,
            ));
        }
        for (oidc, label) in [
            (Scenario::OidcCode, "oidc-code / sign-only-hs256 throughput"),
            (
                Scenario::OidcUserinfo,
                "oidc-userinfo / sign-only-hs256 throughput",
            ),
        ] {
            if let Some((oidc, sign)) = pair(oidc, Scenario::SignHs256) {
                ratios.push((label, oidc.throughput / sign.throughput));
            }
        }
        if let Some((token, sign)) = pair(Scenario::TokenRs256, Scenario::SignRs256) {
            ratios.push((
                "token-rs256 / sign-only-rs256 throughput",
                token.throughput / sign.throughput,
            ));
        }
        ratios
    }

    fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let connections_note = (self.args.connections != 64).then(|| {
            format!(
                "the target is stated for 64 connections; this run used {}",
                self.args.connections
            )
        });
        if let (Some(token), Some(sign)) = (
            self.get(Scenario::TokenHs256),
            self.get(Scenario::SignHs256),
        ) {
            let share = token.throughput / sign.throughput;
            targets.push(Target {
                name: "cached HS256 throughput",
                goal: "≥ 80% of sign-only".into(),
                actual: format!("{:.0}%", share * 100.0),
                met: share >= 0.80,
                note: None,
            });
        }
        if let Some(token) = self.get(Scenario::TokenHs256) {
            targets.push(Target {
                name: "cached HS256 p99",
                goal: "≤ 2 ms at 64 connections".into(),
                actual: format!("{:.3} ms", token.p99_ms),
                met: token.p99_ms <= 2.0,
                note: connections_note,
            });
        }
        if let (Some(rs), Some(hs)) = (
            self.get(Scenario::TokenRs256),
            self.get(Scenario::TokenHs256),
        ) {
            let slower = hs.throughput / rs.throughput;
            let p99 = rs.p99_ms / hs.p99_ms;
            targets.push(Target {
                name: "RS256 path vs HS256",
                goal: "within 2× (throughput and p99)".into(),
                actual: format!("{slower:.2}× slower, p99 {p99:.2}×"),
                met: slower <= 2.0 && p99 <= 2.0,
                note: rs
                    .reused_share
                    .map(|s| format!("{:.1}% of RS256 tokens were reused", s * 100.0)),
            });
        }
        if let Some(webhooks) = self.get(Scenario::Webhooks) {
            targets.push(Target {
                name: "sustained webhooks (PostgreSQL)",
                goal: "≥ 1000 /s".into(),
                actual: format!("{:.0} /s", webhooks.throughput),
                met: webhooks.throughput >= 1000.0,
                note: (self.backend != "postgres").then(|| {
                    "the target is stated for PostgreSQL; this run used SQLite".to_owned()
                }),
            });
        }
        if let Some(grant) = self.get(Scenario::WebhookToGrant) {
            targets.push(Target {
                name: "webhook-to-grant p99",
                goal: "≤ 50 ms".into(),
                actual: format!("{:.3} ms (p50 {:.3} ms)", grant.p99_ms, grant.p50_ms),
                met: grant.p99_ms <= 50.0,
                note: Some(format!(
                    "confirmation, then the payer's token request, at {} connections",
                    self.args.connections
                )),
            });
        }
        for scenario in Scenario::STATS {
            if let Some(stats) = self.get(scenario) {
                targets.push(Target {
                    name: match scenario {
                        Scenario::StatsRoom => "stats p99: a past show",
                        Scenario::StatsBigRoom => "stats p99: the big running show",
                        _ => "stats p99: across a performer's shows",
                    },
                    goal: "≤ 100 ms".into(),
                    actual: format!("{:.3} ms (p50 {:.3} ms)", stats.p99_ms, stats.p50_ms),
                    met: stats.p99_ms <= 100.0,
                    note: Some(format!(
                        "{} attendance rows, {} connections; first answer, nothing kept: {:.0} ms",
                        self.rows.stays,
                        self.args.connections,
                        stats.first_answer_ms.unwrap_or(f64::NAN)
                    )),
                });
            }
        }
        if let Some(cold) = self.get(Scenario::Cold) {
            targets.push(Target {
                name: "cold p99 (every request reads SQL)",
                goal: "≤ 5 ms against PostgreSQL".into(),
                actual: format!("{:.3} ms", cold.p99_ms),
                met: cold.p99_ms <= 5.0,
                note: (self.backend != "postgres").then(|| {
                    "the target is stated for PostgreSQL; this run used SQLite".to_owned()
                }),
            });
        }
        let hot_rss = [Scenario::TokenHs256, Scenario::TokenRs256]
            .into_iter()
            .filter_map(|s| self.get(s)?.rss_mib)
            .fold(None, |max: Option<f64>, v| {
                Some(max.map_or(v, |m| m.max(v)))
            });
        if let Some(rss) = hot_rss {
            let default_data = self.args.users == 10_000
                && self.args.rooms == 1_000
                && self.args.per_user == 5
                && self.args.performers == 100;
            targets.push(Target {
                name: "server RSS, data set hot",
                goal: "≤ 100 MiB".into(),
                actual: format!("{rss:.1} MiB"),
                met: rss <= 100.0,
                note: (!default_data)
                    .then(|| "the target is stated for the default data set".to_owned())
                    .or_else(|| {
                        (!self.args.prefill).then(|| {
                            "without prefill the caches may not hold the whole data set".to_owned()
                        })
                    }),
            });
        }
        targets
    }

    fn table(&self) -> String {
        let (cores, model) = machine();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nroomkey-bench: {} backend, {} users ({} rooms, {} entitlements, {} stays) seeded in {:.1} s",
            self.backend,
            self.rows.users,
            self.rows.rooms,
            self.rows.entitlements,
            self.rows.stays,
            self.seed_seconds
        );
        let _ = writeln!(
            out,
            "{} connections, {} client thread(s), {} s warm-up + {} s measured; {cores} cores, {model}\n",
            self.args.connections, self.args.client_threads, self.args.warmup, self.args.seconds
        );
        if !self.args.server_env.is_empty() {
            let _ = writeln!(
                out,
                "server environment added: {}\n",
                self.args
                    .server_env
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        let _ = writeln!(
            out,
            "{:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>9} {:>7} {:>7} {:>7} {:>7}",
            "scenario",
            "req/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "errors",
            "reused",
            "RSS MiB",
            "srv CPU",
            "cli CPU",
            "db CPU",
            "oth CPU"
        );
        let opt = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
        };
        for o in &self.outcomes {
            let _ = writeln!(
                out,
                "{:<16} {:>9.0} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7} {:>7} {:>9} {:>7} {:>7} {:>7} {:>7}",
                o.scenario.name(),
                o.throughput,
                o.p50_ms,
                o.p99_ms,
                o.p999_ms,
                o.max_ms,
                o.errors,
                o.reused_share
                    .map_or_else(|| "-".to_owned(), |s| format!("{:.1}%", s * 100.0)),
                opt(o.rss_mib, 1),
                opt(o.server_cpu, 2),
                opt(o.client_cpu, 2),
                opt(o.db_cpu, 2),
                opt(o.other_cpu, 2),
            );
        }
        for o in self
            .outcomes
            .iter()
            .filter(|o| o.disturbance() > self.args.max_other_cpu)
        {
            let _ = writeln!(
                out,
                "  {}: other processes used {:.2} cores during the quietest of {} measurements; skewed",
                o.scenario.name(),
                o.disturbance(),
                o.attempts
            );
        }
        for o in self.outcomes.iter().filter(|o| o.errors > 0) {
            let _ = writeln!(
                out,
                "  {}: {} of {} requests failed; first: {}",
                o.scenario.name(),
                o.errors,
                o.requests,
                o.first_error.as_deref().unwrap_or("")
            );
        }
        let ratios = self.ratios();
        if !ratios.is_empty() {
            let _ = writeln!(out, "\nratios");
            for (name, value) in ratios {
                let _ = writeln!(out, "  {name:<46} {value:.3}");
            }
        }
        let targets = self.targets();
        if !targets.is_empty() {
            let _ = writeln!(out, "\ntargets");
            for t in targets {
                let _ = writeln!(
                    out,
                    "  {:<36} {:<32} {:<24} {}",
                    t.name,
                    t.goal,
                    t.actual,
                    if t.met { "met" } else { "MISSED" }
                );
                if let Some(note) = t.note {
                    let _ = writeln!(out, "  {:<36} ({note})", "");
                }
            }
        }
        let _ = writeln!(
            out,
            "\nCPU columns: cores used during the measured window by the server, by this load generator,\nby local PostgreSQL processes, and by anything else on the machine (which skews the figures)."
        );
        out
    }

    fn json(&self) -> serde_json::Value {
        let (cores, model) = machine();
        let finite = |v: f64| if v.is_finite() { Some(v) } else { None };
        serde_json::json!({
            "machine": { "cores": cores, "model": model },
            "backend": self.backend,
            "data": {
                "users": self.rows.users,
                "rooms": self.rows.rooms,
                "entitlements": self.rows.entitlements,
                "stays": self.rows.stays,
                "active_users": self.args.active_users,
                "seed_seconds": self.seed_seconds,
            },
            "load": {
                "connections": self.args.connections,
                "client_threads": self.args.client_threads,
                "warmup_seconds": self.args.warmup,
                "seconds": self.args.seconds,
                "prefill": self.args.prefill,
                "redis": self.args.redis_url.is_some(),
                "server_env": self.args.server_env.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>(),
            },
            "scenarios": self.outcomes.iter().map(|o| serde_json::json!({
                "name": o.scenario.name(),
                "requests": o.requests,
                "errors": o.errors,
                "first_error": o.first_error,
                "seconds": o.seconds,
                "throughput": o.throughput,
                "p50_ms": finite(o.p50_ms),
                "p99_ms": finite(o.p99_ms),
                "p999_ms": finite(o.p999_ms),
                "max_ms": finite(o.max_ms),
                "rss_mib": o.rss_mib,
                "server_cpu_cores": o.server_cpu,
                "client_cpu_cores": o.client_cpu,
                "db_cpu_cores": o.db_cpu,
                "other_cpu_cores": o.other_cpu,
                "reused_share": o.reused_share,
                "disturbance_cores": o.disturbance(),
                "attempts": o.attempts,
                "first_answer_ms": o.first_answer_ms,
            })).collect::<Vec<_>>(),
            "ratios": self.ratios().into_iter()
                .map(|(name, value)| (name.to_owned(), serde_json::json!(finite(value))))
                .collect::<serde_json::Map<_, _>>(),
            "targets": self.targets().into_iter().map(|t| serde_json::json!({
                "name": t.name,
                "goal": t.goal,
                "actual": t.actual,
                "met": t.met,
                "note": t.note,
            })).collect::<Vec<_>>(),
        })
    }
}
