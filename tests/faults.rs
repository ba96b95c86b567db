//! Faults under load: two real roomkey instances on one PostgreSQL and one Redis of the
//! test's own, steady token traffic on both, then Redis killed, hung or cut off from one
//! instance, PostgreSQL stopped, start-up without Redis, and SIGTERM with connections open.
//!
//! Each scenario asserts what must hold while the fault lasts and after it ends:
//! - no request of the steady traffic (users both instances have served before) fails or
//!   goes unanswered for [`CLIENT_DEADLINE`], through any Redis fault or PostgreSQL outage;
//! - no admin call takes longer than [`ADMIN_BOUND`], whatever Redis does;
//! - an instance that cannot hear the invalidation bus refuses a user banned on the other
//!   within [`STALE_BOUND`] of the ban call's start (the bus's liveness window is 1 s), and
//!   a ban made on an instance cut off from Redis reaches the other within [`STALE_BOUND`]
//!   of the link's return;
//! - an uncached request and `/readyz` answer 503 within [`UNAVAILABLE_BOUND`] while
//!   PostgreSQL is away;
//! - what held before the fixes: a ban or a revocation is refused by the other instance on
//!   the very next request, and SIGTERM under load exits 0 at once.
//!
//! The scenarios start their own PostgreSQL (`initdb`/`pg_ctl` from
//! `/usr/lib/postgresql/*/bin`) and `redis-server` on free ports, never the shared ones, and
//! run one at a time. Without those programs a scenario is skipped (a `SKIPPED:` line; a
//! failure under `TEST_REQUIRE_ALL=1`).
//! `FAULTS_OUTAGE_SECS` lengthens the outages (default 4 s).

#[path = "faults/mod.rs"]
mod harness;
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{json, Value};

use harness::instance::{Instance, Settings, Timed};
use harness::postgres::Postgres;
use harness::proxy::{Mode, Proxy};
use harness::redis::RedisServer;
use harness::traffic::{Target, Traffic};

/// A token request in the steady traffic that takes longer than this has failed.
const CLIENT_DEADLINE: Duration = Duration::from_secs(2);
/// An admin call must answer within this.
const ADMIN_BOUND: Duration = Duration::from_secs(3);
/// After a ban commits, an instance that cannot hear the bus refuses the user within this.
const STALE_BOUND: Duration = Duration::from_secs(2);
/// While PostgreSQL is away, uncached requests and readiness answer 503 within this.
const UNAVAILABLE_BOUND: Duration = Duration::from_secs(2);
/// How long a process may take to exit after SIGTERM with connections still open.
const DRAIN_BOUND: Duration = Duration::from_secs(15);

/// The scenarios share two cores with everything else; one at a time keeps their timings
/// about the fault, not about each other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn outage() -> Duration {
    let secs = std::env::var("FAULTS_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    Duration::from_secs(secs)
}

/// PostgreSQL's programs, or `None` once `test` is skipped because this machine lacks them
/// or `redis-server`.
fn tools(test: &str) -> Option<PathBuf> {
    let found = Postgres::find().and_then(|bin| RedisServer::find().map(|()| bin));
    match found {
        Ok(bin) => Some(bin),
        Err(reason) => {
            support::skip(
                test,
                &format!("PostgreSQL's programs and redis-server ({reason})"),
            );
            None
        }
    }
}

/// How the instances reach Redis.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wiring {
    Direct,
    /// Each instance through a proxy of its own: `proxies[0]` for A, `proxies[1]` for B.
    Proxied,
}

/// Fields drop in order: the instances first, then the servers, then their folder.
struct Cluster {
    a: Instance,
    b: Instance,
    proxies: Vec<Proxy>,
    redis: RedisServer,
    pg: Postgres,
    _dir: tempfile::TempDir,
    /// A free room and a paid one, both owned by one performer.
    free_room: String,
    paid_room: String,
    handles: std::sync::atomic::AtomicUsize,
}

impl Cluster {
    async fn start(bin: PathBuf, wiring: Wiring) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("roomkey-faults-")
            .tempdir()
            .unwrap();
        let pg = Postgres::start(bin).await;
        let redis = RedisServer::start().await;
        let proxies = match wiring {
            Wiring::Direct => vec![],
            Wiring::Proxied => vec![
                Proxy::start(redis.port).await,
                Proxy::start(redis.port).await,
            ],
        };
        let settings = |proxy: Option<&Proxy>| Settings {
            database_url: Some(pg.url()),
            redis_url: Some(proxy.map_or_else(|| redis.url(), Proxy::url)),
            key_prefix: "faults:".into(),
            keys_dir: dir.path().join("keys"),
        };
        // One after the other: the first applies the migrations and generates the keys.
        let a = Instance::start("A", dir.path(), &settings(proxies.first())).await;
        let b = Instance::start("B", dir.path(), &settings(proxies.get(1))).await;
        let mut cluster = Self {
            _dir: dir,
            pg,
            redis,
            proxies,
            a,
            b,
            free_room: "faultsfree".into(),
            paid_room: "faultspaid".into(),
            handles: Default::default(),
        };
        cluster.stage().await;
        cluster
    }

    async fn stage(&mut self) {
        let performer = self.provision("performer").await;
        create_room(&self.a, &self.free_room, &performer, "free").await;
        create_room(&self.a, &self.paid_room, &performer, "paid").await;
    }

    /// A new user (made through A): a performer if the label says so, else a viewer.
    async fn provision(&self, label: &str) -> String {
        let n = self
            .handles
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        provision(&self.a, &format!("{label}{n}")).await
    }

    /// A user who has been given a token by both instances, so both hold them in memory.
    async fn cached_user(&self, label: &str) -> String {
        let user = self.provision(label).await;
        for instance in [&self.a, &self.b] {
            let status = token_status(instance, &user, &self.free_room).await;
            assert_eq!(status, Some(200), "{} for {user}", instance.name);
        }
        user
    }

    fn traffic(&self, users: &[String]) -> Traffic {
        let targets = [&self.a, &self.b].map(|i| Target {
            instance: i.name,
            base_url: i.base_url(),
        });
        Traffic::start(
            &targets,
            users,
            &self.free_room,
            2,
            Duration::from_millis(10),
            CLIENT_DEADLINE,
        )
    }

    fn instances(&self) -> [&Instance; 2] {
        [&self.a, &self.b]
    }

    /// Waits (up to `limit`) until both instances answer `/readyz` 200 and hear the bus
    /// (readiness itself depends on the store only).
    async fn both_ready(&self, limit: Duration) -> Option<Duration> {
        harness::wait_for(limit, || async {
            for instance in self.instances() {
                let ready = instance.readyz(Duration::from_secs(1)).await;
                if !ready.is_ok_and(|r| r.status == 200 && r.body["invalidation_bus"] == true) {
                    return false;
                }
            }
            true
        })
        .await
    }

    /// Stops `traffic` and fails the test if any of its requests failed or went unanswered.
    async fn expect_no_failed_request(&self, traffic: Traffic) {
        let report = traffic.stop().await;
        eprintln!("traffic: {}", report.summary());
        assert!(
            report.failures().is_empty(),
            "{}\n{}",
            report.describe_failures(),
            self.logs()
        );
    }

    fn logs(&self) -> String {
        format!(
            "--- A ---\n{}\n--- B ---\n{}",
            tail(&self.a.log_text()),
            tail(&self.b.log_text())
        )
    }
}

/// A new user; a performer when the handle starts with `performer`.
async fn provision(instance: &Instance, handle: &str) -> String {
    let role = if handle.starts_with("performer") {
        "performer"
    } else {
        "viewer"
    };
    let made = admin(
        instance,
        Method::POST,
        "/api/admin/users",
        Some(json!({"handle": handle, "email": format!("{handle}@example.com"), "role": role})),
    )
    .await;
    assert_eq!(made.status, 201, "{made:?}");
    made.body["id"].as_str().unwrap().to_owned()
}

async fn create_room(instance: &Instance, name: &str, owner: &str, access: &str) {
    let mut room = json!({"name": name, "title": name, "owner_id": owner, "access": access});
    if access == "paid" {
        room["price"] = json!({"amount_minor": 500_000, "currency": "COP"});
    }
    let created = admin(instance, Method::POST, "/api/admin/rooms", Some(room)).await;
    assert_eq!(created.status, 201, "{created:?}");
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

async fn admin(instance: &Instance, method: Method, path: &str, body: Option<Value>) -> Timed {
    instance
        .admin(method, path, body, ADMIN_BOUND)
        .await
        .unwrap_or_else(|error| panic!("{} {path}: {error}", instance.name))
}

/// A global ban of `user`, issued on `instance`; the answer and how long it took.
async fn ban(instance: &Instance, user: &str) -> Result<Timed, String> {
    let body = json!({"user_id": user, "scope": {"kind": "global"}, "reason": "fault test"});
    instance
        .admin(Method::POST, "/api/admin/bans", Some(body), ADMIN_BOUND)
        .await
        .map_err(|error| format!("ban on {}: {error}", instance.name))
}

/// The status of one token request, `None` when none came back in time.
async fn token_status(instance: &Instance, user: &str, room: &str) -> Option<u16> {
    instance
        .token(user, room, CLIENT_DEADLINE)
        .await
        .ok()
        .map(|t| t.status)
}

/// Polls until `instance` refuses `user` (403); how long that took from `since`.
async fn refused_within(
    instance: &Instance,
    user: &str,
    room: &str,
    since: Instant,
    limit: Duration,
) -> Option<Duration> {
    harness::wait_for(limit, || async {
        token_status(instance, user, room).await == Some(403)
    })
    .await
    .map(|_| since.elapsed())
}

/// Redis killed for an outage, then started again empty on the same port, under traffic;
/// one ban during the outage and one just after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_fails_no_request_and_holds_no_admin_call() {
    let Some(bin) = tools("a_redis_restart_fails_no_request_and_holds_no_admin_call") else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start(bin, Wiring::Direct).await;
    let mut steady = Vec::new();
    for _ in 0..4 {
        steady.push(cluster.cached_user("steady").await);
    }
    let banned_during = cluster.cached_user("during").await;
    let banned_after = cluster.cached_user("after").await;
    let traffic = cluster.traffic(&steady);
    tokio::time::sleep(Duration::from_millis(500)).await;

    cluster.redis.kill().await;
    let killed = Instant::now();
    // The ban goes in a second into the outage; Redis comes back when the outage is over,
    // however long the ban takes.
    let ((during, refused), ()) = tokio::join!(
        async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            // Both still serve tokens (from SQL), so both stay in the load balancer.
            for instance in [&cluster.a, &cluster.b] {
                let ready = instance.readyz(UNAVAILABLE_BOUND).await;
                eprintln!("{} /readyz while Redis is down: {ready:?}", instance.name);
                assert!(
                    ready.is_ok_and(|r| r.status == 200),
                    "{} is not ready while Redis is down, yet serves tokens",
                    instance.name
                );
            }
            let during = ban(&cluster.a, &banned_during).await;
            let mut refused = Vec::new();
            for instance in [&cluster.a, &cluster.b] {
                let status = token_status(instance, &banned_during, &cluster.free_room).await;
                refused.push((instance.name, status));
            }
            (during, refused)
        },
        async {
            tokio::time::sleep(outage().saturating_sub(killed.elapsed())).await;
            cluster.redis.restart().await;
        }
    );
    eprintln!("ban on A while Redis is down: {during:?}; then token answers {refused:?}");
    let during = during.unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(during.status, 201, "{during:?}");
    assert!(
        refused.iter().all(|(_, status)| *status == Some(403)),
        "a user banned while Redis is down is admitted: {refused:?}"
    );

    let healthy = cluster.both_ready(Duration::from_secs(10)).await;
    eprintln!("both instances ready again {healthy:?} after Redis restarted");
    assert!(healthy.is_some(), "{}", cluster.logs());
    let after = ban(&cluster.b, &banned_after).await;
    eprintln!("ban on B after Redis returned: {after:?}");
    let after = after.unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(after.status, 201, "{after:?}");
    assert_eq!(
        token_status(&cluster.a, &banned_after, &cluster.free_room).await,
        Some(403),
        "A admits a user B banned, on the next request"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    cluster.expect_no_failed_request(traffic).await;
}

/// Redis stops answering (every connection held, nothing relayed) for an outage, under
/// traffic; a ban on A while it hangs, and one on B after it answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_bounds_staleness_and_holds_no_admin_call() {
    let Some(bin) = tools("a_hung_redis_bounds_staleness_and_holds_no_admin_call") else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start(bin, Wiring::Proxied).await;
    let mut steady = Vec::new();
    for _ in 0..4 {
        steady.push(cluster.cached_user("steady").await);
    }
    let banned = cluster.cached_user("hung").await;
    let banned_after = cluster.cached_user("healed").await;
    let traffic = cluster.traffic(&steady);
    tokio::time::sleep(Duration::from_millis(500)).await;

    for proxy in &cluster.proxies {
        proxy.set(Mode::Hang);
    }
    let hung = Instant::now();
    let (banned_on_a, refused_on_b) = tokio::join!(
        ban(&cluster.a, &banned),
        refused_within(
            &cluster.b,
            &banned,
            &cluster.free_room,
            Instant::now(),
            Duration::from_secs(30)
        )
    );
    eprintln!("ban on A while Redis hangs: {banned_on_a:?}");
    eprintln!("B refused the banned user {refused_on_b:?} after the ban call began");
    let banned_on_a = banned_on_a.unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(banned_on_a.status, 201, "{banned_on_a:?}");
    assert!(
        refused_on_b.is_some_and(|took| took <= STALE_BOUND),
        "B admitted a banned user for {refused_on_b:?}\n{}",
        cluster.logs()
    );
    assert_eq!(
        token_status(&cluster.a, &banned, &cluster.free_room).await,
        Some(403)
    );
    tokio::time::sleep(outage().saturating_sub(hung.elapsed())).await;

    for proxy in &cluster.proxies {
        proxy.set(Mode::Pass);
    }
    let healthy = cluster.both_ready(Duration::from_secs(10)).await;
    eprintln!("both instances ready again {healthy:?} after Redis answered again");
    assert!(healthy.is_some(), "{}", cluster.logs());
    for instance in cluster.instances() {
        assert_eq!(
            token_status(instance, &banned, &cluster.free_room).await,
            Some(403),
            "{} admits the banned user again once Redis answers",
            instance.name
        );
    }
    let after = ban(&cluster.b, &banned_after)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(after.status, 201, "{after:?}");
    assert_eq!(
        token_status(&cluster.a, &banned_after, &cluster.free_room).await,
        Some(403),
        "A admits a user B banned, on the next request"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    cluster.expect_no_failed_request(traffic).await;
}

/// B loses Redis (`mode`) while A keeps it, under traffic: a ban on A must reach B's
/// answers within the bound, a ban on B must answer in time, and reaches A once B is back.
async fn one_instance_cut_off_from_redis(test: &str, mode: Mode) {
    let Some(bin) = tools(test) else { return };
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start(bin, Wiring::Proxied).await;
    let mut steady = Vec::new();
    for _ in 0..4 {
        steady.push(cluster.cached_user("steady").await);
    }
    let banned_on_a = cluster.cached_user("froma").await;
    let banned_on_b = cluster.cached_user("fromb").await;
    let traffic = cluster.traffic(&steady);
    tokio::time::sleep(Duration::from_millis(500)).await;

    cluster.proxies[1].set(mode);
    let cut = Instant::now();
    let (ban_a, refused_on_b) = tokio::join!(
        ban(&cluster.a, &banned_on_a),
        refused_within(
            &cluster.b,
            &banned_on_a,
            &cluster.free_room,
            Instant::now(),
            Duration::from_secs(30)
        )
    );
    eprintln!("ban on A while B is cut off ({mode:?}): {ban_a:?}");
    eprintln!("B refused the user {refused_on_b:?} after the ban call began");
    let ban_a = ban_a.unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(ban_a.status, 201, "{ban_a:?}");
    assert!(
        refused_on_b.is_some_and(|took| took <= STALE_BOUND),
        "B admitted a user banned on A for {refused_on_b:?}\n{}",
        cluster.logs()
    );

    let ban_b = ban(&cluster.b, &banned_on_b).await;
    eprintln!("ban on B while it is cut off: {ban_b:?}");
    let ban_b = ban_b.unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(ban_b.status, 201, "{ban_b:?}");
    assert_eq!(
        token_status(&cluster.b, &banned_on_b, &cluster.free_room).await,
        Some(403)
    );
    tokio::time::sleep(outage().saturating_sub(cut.elapsed())).await;

    cluster.proxies[1].set(Mode::Pass);
    let healed = Instant::now();
    let reached_a = refused_within(
        &cluster.a,
        &banned_on_b,
        &cluster.free_room,
        healed,
        Duration::from_secs(30),
    )
    .await;
    eprintln!("A refused the user banned on B {reached_a:?} after B's link came back");
    assert!(
        reached_a.is_some_and(|took| took <= STALE_BOUND),
        "A admitted a user banned on B for {reached_a:?} after B reconnected\n{}",
        cluster.logs()
    );
    let healthy = cluster.both_ready(Duration::from_secs(10)).await;
    eprintln!("both instances ready {healthy:?} after B's link came back");
    assert!(healthy.is_some(), "{}", cluster.logs());
    tokio::time::sleep(Duration::from_secs(1)).await;

    cluster.expect_no_failed_request(traffic).await;
}

/// B's packets to Redis go nowhere (its connections stay open and silent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_redis_link_hangs_stops_trusting_its_cache() {
    one_instance_cut_off_from_redis(
        "an_instance_whose_redis_link_hangs_stops_trusting_its_cache",
        Mode::Hang,
    )
    .await;
}

/// B's connections to Redis are reset and new ones refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_redis_link_is_cut_stops_trusting_its_cache() {
    one_instance_cut_off_from_redis(
        "an_instance_whose_redis_link_is_cut_stops_trusting_its_cache",
        Mode::Cut,
    )
    .await;
}

/// B's open connections to Redis go silent for good while new ones get through, under
/// traffic: B must stop trusting its caches, then make new connections of its own accord
/// (nothing ever breaks the old ones) and hear the bus again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_redis_connections_go_silent_for_good_connects_again() {
    let Some(bin) = tools("an_instance_whose_redis_connections_go_silent_for_good_connects_again")
    else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start(bin, Wiring::Proxied).await;
    let mut steady = Vec::new();
    for _ in 0..4 {
        steady.push(cluster.cached_user("steady").await);
    }
    let banned_on_a = cluster.cached_user("froma").await;
    let banned_on_b = cluster.cached_user("fromb").await;
    let traffic = cluster.traffic(&steady);
    tokio::time::sleep(Duration::from_millis(500)).await;

    cluster.proxies[1].set(Mode::Strand);
    let stranded = Instant::now();
    let (ban_a, refused_on_b) = tokio::join!(
        ban(&cluster.a, &banned_on_a),
        refused_within(
            &cluster.b,
            &banned_on_a,
            &cluster.free_room,
            Instant::now(),
            Duration::from_secs(30)
        )
    );
    eprintln!("ban on A as B's connections go silent: {ban_a:?}");
    eprintln!("B refused the user {refused_on_b:?} after the ban call began");
    let ban_a = ban_a.unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(ban_a.status, 201, "{ban_a:?}");
    assert!(
        refused_on_b.is_some_and(|took| took <= STALE_BOUND),
        "B admitted a user banned on A for {refused_on_b:?}\n{}",
        cluster.logs()
    );

    let back = cluster.both_ready(Duration::from_secs(30)).await;
    eprintln!(
        "both instances ready {:?} after B's connections went silent",
        back.map(|_| stranded.elapsed())
    );
    assert!(
        back.is_some_and(|_| stranded.elapsed() <= Duration::from_secs(10)),
        "B did not hear the bus again on new connections\n{}",
        cluster.logs()
    );
    let ban_b = ban(&cluster.b, &banned_on_b)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(ban_b.status, 201, "{ban_b:?}");
    assert_eq!(
        token_status(&cluster.a, &banned_on_b, &cluster.free_room).await,
        Some(403),
        "A admits a user B banned, on the next request"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    cluster.expect_no_failed_request(traffic).await;
}

/// Redis comes back from a snapshot taken before a ban, and the instance that made the ban
/// (and owed the bus its invalidation) died meanwhile: the shared tier holds the banned
/// user's pre-ban entry again, and no instance may take it for the truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restarted_from_an_old_snapshot_brings_back_no_stale_fact() {
    let Some(bin) = tools("a_redis_restarted_from_an_old_snapshot_brings_back_no_stale_fact")
    else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start(bin, Wiring::Direct).await;
    let steady = vec![cluster.cached_user("steady").await];
    let banned = cluster.cached_user("snapshot").await;
    cluster.redis.snapshot().await;
    // On B only: A dies in the middle.
    let on_b = Target {
        instance: cluster.b.name,
        base_url: cluster.b.base_url(),
    };
    let traffic = Traffic::start(
        &[on_b],
        &steady,
        &cluster.free_room,
        2,
        Duration::from_millis(10),
        CLIENT_DEADLINE,
    );

    cluster.redis.kill().await;
    let during = ban(&cluster.a, &banned).await;
    eprintln!("ban on A while Redis is down: {during:?}");
    assert_eq!(during.map(|t| t.status).ok(), Some(201));
    cluster.a.kill().await;
    cluster.redis.restart().await;
    let keys = cluster.redis.key_count().await;
    eprintln!("Redis restarted from the snapshot with {keys} keys");
    assert!(
        keys > 0,
        "the snapshot came back empty: the scenario tests nothing"
    );

    let hears = harness::wait_for(Duration::from_secs(10), || async {
        cluster
            .b
            .readyz(Duration::from_secs(1))
            .await
            .is_ok_and(|r| r.status == 200 && r.body["invalidation_bus"] == true)
    })
    .await;
    eprintln!("B hears the bus again {hears:?} after Redis restarted");
    assert!(hears.is_some(), "{}", cluster.logs());
    let watched = Instant::now();
    let mut answers = Vec::new();
    while watched.elapsed() < Duration::from_secs(3) {
        answers.push(token_status(&cluster.b, &banned, &cluster.free_room).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "B answered the banned user {} times after the restart",
        answers.len()
    );
    assert!(
        answers.iter().all(|status| *status == Some(403)),
        "B admitted a user banned before Redis came back from an old snapshot: {answers:?}\n{}",
        cluster.logs()
    );
    cluster.expect_no_failed_request(traffic).await;
}

/// A payment notification that arrives while PostgreSQL is away is refused at once (503),
/// so the provider retries; its retries once the database is back grant access exactly
/// once, whichever instance they reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_while_postgres_is_away_is_refused_promptly_and_its_retries_grant_once() {
    let test = "a_webhook_while_postgres_is_away_is_refused_promptly_and_its_retries_grant_once";
    let Some(bin) = tools(test) else { return };
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start(bin, Wiring::Direct).await;
    let viewer = cluster.provision("payer").await;
    let path = format!("/api/rooms/{}/pay", cluster.paid_room);
    let checkout = cluster
        .a
        .act_for(
            &viewer,
            Method::POST,
            &path,
            Some(json!({"provider": "cards"})),
            ADMIN_BOUND,
        )
        .await
        .expect("a checkout");
    assert_eq!(checkout.status, 201, "{checkout:?}");
    let reference = checkout.body["reference"].as_str().unwrap().to_owned();
    let event = json!({
        "id": "evt_faults_1",
        "type": "payment.succeeded",
        "data": {"reference": reference, "provider_ref": "ch_faults_1",
                 "amount_minor": 500_000, "currency": "COP"},
    });

    cluster.pg.stop().await;
    for instance in cluster.instances() {
        let answer = instance
            .cards_webhook(&event, Duration::from_secs(30))
            .await;
        eprintln!(
            "{}: the webhook with PostgreSQL stopped: {answer:?}",
            instance.name
        );
        assert!(
            matches!(&answer, Ok(Timed { status: 503, took, .. }) if *took <= UNAVAILABLE_BOUND),
            "{}: {answer:?}",
            instance.name
        );
    }
    cluster.pg.start_again().await;

    // The provider retries until it hears a 2xx: first A, then each instance again.
    let first = harness::wait_for(Duration::from_secs(10), || async {
        cluster
            .a
            .cards_webhook(&event, UNAVAILABLE_BOUND)
            .await
            .is_ok_and(|t| t.status == 200)
    })
    .await;
    assert!(first.is_some(), "{}", cluster.logs());
    for instance in cluster.instances() {
        let retry = instance.cards_webhook(&event, ADMIN_BOUND).await;
        eprintln!("{}: a retry after the return: {retry:?}", instance.name);
        let retry = retry.expect("an answer");
        assert_eq!(
            (retry.status, retry.body["status"].as_str()),
            (200, Some("duplicate"))
        );
        assert_eq!(
            token_status(instance, &viewer, &cluster.paid_room).await,
            Some(200),
            "{} does not admit the payer",
            instance.name
        );
    }
    let access = admin(
        &cluster.b,
        Method::GET,
        &format!("/api/admin/users/{viewer}/access"),
        None,
    )
    .await;
    let tickets = access.body["entitlements"]
        .as_array()
        .expect("a list of entitlements")
        .len();
    assert_eq!(tickets, 1, "{access:?}");
}

/// PostgreSQL gone for an outage under traffic (shut down, or quitting at once as if
/// killed): cached users keep their answers, uncached ones and readiness get a prompt
/// 503, and all is well once it is back.
async fn postgres_away_answers_503_promptly_and_recovers(test: &str, killed: bool) {
    let Some(bin) = tools(test) else { return };
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start(bin, Wiring::Direct).await;
    let mut steady = Vec::new();
    for _ in 0..4 {
        steady.push(cluster.cached_user("steady").await);
    }
    let mut cold = Vec::new();
    for _ in 0..2 {
        cold.push(cluster.provision("cold").await);
    }
    let traffic = cluster.traffic(&steady);
    tokio::time::sleep(Duration::from_millis(500)).await;

    if killed {
        cluster.pg.kill().await;
    } else {
        cluster.pg.stop().await;
    }
    let stopped = Instant::now();
    for (instance, user) in cluster.instances().into_iter().zip(&cold) {
        for _ in 0..3 {
            let uncached = instance
                .token(user, &cluster.free_room, Duration::from_secs(30))
                .await;
            let ready = instance.readyz(Duration::from_secs(30)).await;
            eprintln!(
                "{} with PostgreSQL stopped: uncached token {uncached:?}; /readyz {ready:?}",
                instance.name
            );
            for answer in [&uncached, &ready] {
                assert!(
                    matches!(answer, Ok(Timed { status: 503, took, .. }) if *took <= UNAVAILABLE_BOUND),
                    "{}: {answer:?} while PostgreSQL is stopped",
                    instance.name
                );
            }
        }
    }
    tokio::time::sleep(outage().saturating_sub(stopped.elapsed())).await;

    cluster.pg.start_again().await;
    let recovered = harness::wait_for(Duration::from_secs(10), || async {
        let mut ok = true;
        for (instance, user) in cluster.instances().into_iter().zip(&cold) {
            ok &= token_status(instance, user, &cluster.free_room).await == Some(200);
        }
        ok
    })
    .await;
    eprintln!("uncached users served again {recovered:?} after PostgreSQL restarted");
    assert!(recovered.is_some(), "{}", cluster.logs());
    assert!(cluster.both_ready(Duration::from_secs(5)).await.is_some());
    tokio::time::sleep(Duration::from_secs(1)).await;

    cluster.expect_no_failed_request(traffic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_postgres_answers_503_promptly_and_recovers() {
    postgres_away_answers_503_promptly_and_recovers(
        "a_stopped_postgres_answers_503_promptly_and_recovers",
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_postgres_answers_503_promptly_and_recovers() {
    postgres_away_answers_503_promptly_and_recovers(
        "a_killed_postgres_answers_503_promptly_and_recovers",
        true,
    )
    .await;
}

/// Start-up with Redis refusing connections, and with a Redis that accepts and never answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_without_redis_fails_promptly_naming_the_setting() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let refusing = format!("redis://127.0.0.1:{}", harness::free_port());
    let hung = Proxy::start(harness::free_port()).await;
    hung.set(Mode::Hang);
    for (what, url) in [("refusing connections", refusing), ("hung", hung.url())] {
        let settings = Settings {
            redis_url: Some(url),
            key_prefix: "faults:".into(),
            keys_dir: dir.path().join("keys"),
            ..Settings::default()
        };
        let mut instance = Instance::spawn("S", dir.path(), &settings);
        let started = Instant::now();
        let exited = instance.exited_within(Duration::from_secs(30)).await;
        let took = started.elapsed();
        eprintln!("start-up with Redis {what}: {exited:?} after {took:?}");
        let log = instance.log_text();
        let exited = exited.unwrap_or_else(|| panic!("still starting after {took:?}\n{log}"));
        assert!(!exited.success());
        assert!(took <= Duration::from_secs(5), "took {took:?}\n{log}");
        assert!(log.contains("redis.url"), "{log}");
    }
}

/// Start-up with PostgreSQL refusing connections, and with one that accepts and never
/// answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_without_postgres_fails_promptly_naming_the_setting() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let hung = Proxy::start(harness::free_port()).await;
    hung.set(Mode::Hang);
    for (what, port) in [
        ("refusing connections", harness::free_port()),
        ("hung", hung.port),
    ] {
        let settings = Settings {
            database_url: Some(format!("postgres://postgres@127.0.0.1:{port}/test")),
            keys_dir: dir.path().join("keys"),
            ..Settings::default()
        };
        let mut instance = Instance::spawn("S", dir.path(), &settings);
        let started = Instant::now();
        let exited = instance.exited_within(Duration::from_secs(40)).await;
        let took = started.elapsed();
        eprintln!("start-up with PostgreSQL {what}: {exited:?} after {took:?}");
        let log = instance.log_text();
        let exited = exited.unwrap_or_else(|| panic!("still starting after {took:?}\n{log}"));
        assert!(!exited.success());
        assert!(took <= Duration::from_secs(5), "took {took:?}\n{log}");
        assert!(log.contains("database.url"), "{log}");
    }
}

/// What held before and must stay: a ban or a revocation on one instance is refused by
/// the other on the very next request, each way round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_or_revocation_is_refused_by_the_other_instance_on_the_next_request() {
    let Some(bin) =
        tools("a_ban_or_revocation_is_refused_by_the_other_instance_on_the_next_request")
    else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start(bin, Wiring::Direct).await;
    let mut took = Vec::new();
    for trial in 0..20 {
        let (writer, reader) = if trial % 2 == 0 {
            (&cluster.a, &cluster.b)
        } else {
            (&cluster.b, &cluster.a)
        };
        let started;
        let (room, refusal) = if trial % 4 < 2 {
            let user = cluster.cached_user("trial").await;
            started = Instant::now();
            let banned = ban(writer, &user).await.unwrap();
            assert_eq!(banned.status, 201, "{banned:?}");
            (user, 403)
        } else {
            let user = cluster.provision("trial").await;
            let scope = json!({"kind": "room", "room": cluster.paid_room});
            let granted = admin(
                &cluster.a,
                Method::POST,
                "/api/admin/entitlements",
                Some(json!({"user_id": user, "scope": scope})),
            )
            .await;
            assert_eq!(granted.status, 201, "{granted:?}");
            for instance in cluster.instances() {
                assert_eq!(
                    token_status(instance, &user, &cluster.paid_room).await,
                    Some(200)
                );
            }
            let id = granted.body["id"].as_str().unwrap();
            started = Instant::now();
            let revoked = admin(
                writer,
                Method::POST,
                &format!("/api/admin/entitlements/{id}/revoke"),
                Some(json!({"reason": "fault test"})),
            )
            .await;
            assert_eq!(revoked.status, 200, "{revoked:?}");
            (user, 402)
        };
        let next = if refusal == 403 {
            &cluster.free_room
        } else {
            &cluster.paid_room
        };
        assert_eq!(
            token_status(reader, &room, next).await,
            Some(refusal),
            "trial {trial}: {} answered the next request as if nothing changed",
            reader.name
        );
        took.push(started.elapsed());
    }
    took.sort_unstable();
    eprintln!(
        "refused by the other instance on the next request in 20 of 20 trials; from the call: \
         p50 {:?}, p99 {:?}, max {:?}",
        took[10], took[19], took[19]
    );
}

/// A single instance on the embedded store, with a free room and a user in it.
async fn solo(dir: &std::path::Path) -> (Instance, String, String) {
    let settings = Settings {
        keys_dir: dir.join("keys"),
        key_prefix: "faults:".into(),
        ..Settings::default()
    };
    let instance = Instance::start("S", dir, &settings).await;
    let performer = provision(&instance, "performer0").await;
    create_room(&instance, "faultssolo", &performer, "free").await;
    let user = provision(&instance, "viewer0").await;
    (instance, "faultssolo".into(), user)
}

/// What held before and must stay: SIGTERM under load lets in-flight requests finish and
/// exits 0 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_finishes_in_flight_requests_and_exits_0() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut instance, room, user) = solo(dir.path()).await;
    let target = [Target {
        instance: "S",
        base_url: instance.base_url(),
    }];
    let traffic = Traffic::start(
        &target,
        &[user],
        &room,
        4,
        Duration::from_millis(5),
        CLIENT_DEADLINE,
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    instance.terminate().await;
    let started = Instant::now();
    let exited = instance.exited_within(DRAIN_BOUND).await;
    let took = started.elapsed();
    let report = traffic.stop().await;
    eprintln!(
        "exit after SIGTERM under load: {exited:?} in {took:?}; traffic: {}",
        report.summary()
    );
    assert!(exited.is_some_and(|status| status.success()), "{exited:?}");
    assert!(took <= Duration::from_secs(5), "took {took:?}");
    // Requests sent after the listener closed are refused; none may be answered with an
    // error or left without an answer.
    let bad: Vec<_> = report
        .failures()
        .into_iter()
        .filter(|s| !matches!(s.outcome, harness::traffic::Outcome::Transport(_)))
        .collect();
    assert!(bad.is_empty(), "{}", report.describe_failures());
}

/// SIGTERM with an idle keep-alive connection and a request whose body never finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_idle_and_half_sent_connections_exits_within_the_drain() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut instance, _, _) = solo(dir.path()).await;
    let address = ("127.0.0.1", instance.port);
    let mut idle = tokio::net::TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 512];
    let read = idle.read(&mut answer).await.unwrap();
    assert!(answer[..read].starts_with(b"HTTP/1.1 200"));
    let mut half = tokio::net::TcpStream::connect(address).await.unwrap();
    half.write_all(
        b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"handle\":",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    instance.terminate().await;
    let started = Instant::now();
    let exited = instance.exited_within(DRAIN_BOUND).await;
    eprintln!(
        "exit after SIGTERM with open connections: {exited:?} in {:?}",
        started.elapsed()
    );
    assert!(
        exited.is_some(),
        "still running {DRAIN_BOUND:?} after SIGTERM"
    );
    drop((idle, half));
}
