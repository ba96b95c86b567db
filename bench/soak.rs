//! `soak`: the service under a steady mixed load for a long time (`--duration`, 30 minutes by
//! default), to show what a short scenario cannot: memory and file descriptors that creep,
//! latency that drifts, errors that come only after a while.
//!
//! The token path first runs closed-loop for `--warmup` + `--seconds` as `token-hs256` does
//! (after the usual prefill); its throughput is the **peak**. The soak then offers half of
//! it (or `--soak-rate N` a second, skipping the peak) **open-loop**: request `k` is due at
//! `start + k / rate` whatever happened to the ones before, any of `--connections`
//! keep-alive connections takes the next due request, and its latency counts from the time
//! it was due, so a stall delays every request due during it and shows in the percentiles
//! rather than slowing the sender down (coordinated omission). Tokio's timer ticks in
//! milliseconds, so a request is released up to 1 ms before it is due and is then timed from
//! its release. Mixed in, each on its own fresh connection as a browser or a provider would
//! open one, at fixed times too:
//!
//! - one ePayco confirmation a second (a seeded checkout intent, as `webhooks`), then the
//!   payer's token for the room just bought, which must answer 200;
//! - every 2.5 s a moderation step, in a cycle of four: a **kick** by the room's performer
//!   (`POST /api/rooms/{room}/kick`, 202) and the kicked viewer's token (200: a kick does
//!   not keep them out); a **ban** from the room by its performer (`POST
//!   /api/rooms/{room}/ban`, 201) and the banned viewer's token (403 `banned`); a kick
//!   again; the ban's **lift** with the admin key (`POST /api/admin/bans/{id}/lift`, 200)
//!   and the viewer's token (200 again). Kicks go to a Prosody shard stand-in served here,
//!   through the durable command queue, and bans' revalidations too; the stand-in counts
//!   what it receives;
//! - one stats request a second, in turn: a past show (`GET /api/rooms/{room}/stats`), the
//!   performer's history (`GET /api/performers/{id}/stats`) and the big running show, each
//!   with its performer's session (the data of the stats scenarios, seeded for the soak);
//! - a Prometheus scrape of `/metrics` on the ops listener every 10 s.
//!
//! Moderation picks its viewers from a few active viewers set aside for it (a tenth, 2 to
//! 20); the token load draws from the others, so every request has one expected answer, and
//! anything else is an error, counted by kind and cause. Every 10 s the load generator
//! reads the server's `VmRSS` and open file descriptors (`/proc/<pid>/status`,
//! `/proc/<pid>/fd`), the CPU used by the server, by itself, by local PostgreSQL and by
//! everything else, and the load average; latencies go into a log-linear histogram per kind
//! and 10 s interval (within 3%). The first sixth of the run, at most 5 minutes, is warm-up
//! and is reported but not judged.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use roomkey::clock::{Clock as _, SystemClock};
use roomkey::domain::RoomName;
use roomkey::identity::SessionTokens;
use roomkey::store::Store;

use crate::{
    cpu_seconds, first_answer, get, machine, machine_busy_seconds, measure, metrics, prefill,
    processes_cpu_seconds, progress, Answer, Args, Connection, Database, FastRng, Plan,
    RequestKind, Scenario, SeedCounts, Server, ServerEnv, ServerSpec,
};

/// `--duration` when not given.
pub(crate) const DEFAULT_DURATION: Duration = Duration::from_secs(30 * 60);
/// Between two samples of the server, and the width of each latency interval.
const INTERVAL: Duration = Duration::from_secs(10);
/// The warm-up is the first sixth of the run, at most this long.
const MAX_WARMUP: Duration = Duration::from_secs(5 * 60);
/// Longest wait for any one answer; longer counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The share of the measured peak the soak offers.
const LOAD_SHARE: f64 = 0.5;
/// How early a request may be released (the timer's granularity), and how late one may be
/// sent before it counts as late.
const TIMER_SLACK: Duration = Duration::from_millis(1);
const WEBHOOK_EVERY: Duration = Duration::from_secs(1);
const STATS_EVERY: Duration = Duration::from_secs(1);
/// One step of the kick, ban, kick, lift cycle.
const MODERATION_EVERY: Duration = Duration::from_millis(2_500);
/// RSS and open descriptors after the warm-up stay within this share of their median.
const FLAT_TOLERANCE: f64 = 0.10;
/// The last third's token p99 at most this many times the first third's.
const P99_GROWTH: f64 = 1.5;
/// At most this share of the judged token requests may leave more than 1 ms late.
const LATE_SHARE: f64 = 0.05;
/// The last sample is taken this long before the load ends, while it still runs.
const LAST_PROBE_EARLY: Duration = Duration::from_millis(500);
/// Longest wait after the load for the shard stand-in to receive every accepted kick.
const DELIVERY_DRAIN: Duration = Duration::from_secs(15);

/// Parses `--duration`: a number with `s`, `m` or `h`, a bare number being minutes.
pub(crate) fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((at, 's')) => (&text[..at], 1),
        Some((at, 'm')) => (&text[..at], 60),
        Some((at, 'h')) => (&text[..at], 3_600),
        _ => (text, 60),
    };
    let number: u64 = number
        .trim()
        .parse()
        .map_err(|_| anyhow!("--duration: {text:?} is not a duration such as 30m, 90s or 1h"))?;
    let duration = Duration::from_secs(number.saturating_mul(unit));
    if duration < Duration::from_secs(60) || duration > Duration::from_secs(24 * 3_600) {
        bail!("--duration must be between 60 s and 24 h");
    }
    Ok(duration)
}

// ---------------------------------------------------------------------------------------
// Request kinds and their latencies

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Token,
    Webhook,
    PaidToken,
    Kick,
    Ban,
    Lift,
    CheckToken,
    Stats,
    Metrics,
}

const KINDS: [Kind; 9] = [
    Kind::Token,
    Kind::Webhook,
    Kind::PaidToken,
    Kind::Kick,
    Kind::Ban,
    Kind::Lift,
    Kind::CheckToken,
    Kind::Stats,
    Kind::Metrics,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Token => "token",
            Kind::Webhook => "webhook",
            Kind::PaidToken => "paid-token",
            Kind::Kick => "kick",
            Kind::Ban => "ban",
            Kind::Lift => "lift",
            Kind::CheckToken => "moderated-token",
            Kind::Stats => "stats",
            Kind::Metrics => "metrics",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Token => "POST /api/rooms/{room}/token, open loop, an entitled pair: 200",
            Kind::Webhook => "POST /api/webhooks/epayco, a seeded intent: 200",
            Kind::PaidToken => "the payer's token for the room just bought: 200",
            Kind::Kick => "POST /api/rooms/{room}/kick by its performer: 202",
            Kind::Ban => "POST /api/rooms/{room}/ban by its performer: 201",
            Kind::Lift => "POST /api/admin/bans/{id}/lift with the admin key: 200",
            Kind::CheckToken => {
                "the viewer's token after a kick (200), a ban (403 banned), a lift (200)"
            }
            Kind::Stats => "GET room (past, running) or performer stats by its performer: 200",
            Kind::Metrics => "GET /metrics on the ops listener, every 10 s: 200",
        }
    }
}

/// Sub-buckets per power of two: a bucket is at most 1/32 of its values wide.
const SUB_BITS: u32 = 5;

/// A log-linear histogram of nanoseconds, grown as values need it.
#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u32>,
    total: u64,
    max_ns: u64,
}

fn bucket(ns: u64) -> usize {
    if ns < 1 << SUB_BITS {
        return ns as usize;
    }
    let exponent = 63 - ns.leading_zeros();
    let shift = exponent - SUB_BITS;
    let mantissa = (ns >> shift) as usize & ((1 << SUB_BITS) - 1);
    (((exponent - SUB_BITS + 1) as usize) << SUB_BITS) | mantissa
}

/// The largest value bucket `index` holds.
fn bucket_high(index: usize) -> u64 {
    let group = index >> SUB_BITS;
    if group == 0 {
        return index as u64;
    }
    let shift = group as u32 - 1;
    let low = ((1u64 << SUB_BITS) | (index as u64 & ((1 << SUB_BITS) - 1))) << shift;
    low + (1u64 << shift) - 1
}

impl Histogram {
    fn record(&mut self, ns: u64) {
        let index = bucket(ns);
        if index >= self.counts.len() {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] += 1;
        self.total += 1;
        self.max_ns = self.max_ns.max(ns);
    }

    fn merge(&mut self, other: &Histogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// The `p` quantile in milliseconds (the top of its bucket, at most the maximum).
    fn quantile_ms(&self, p: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((p * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += u64::from(*count);
            if seen >= rank {
                return Some(bucket_high(index).min(self.max_ns) as f64 / 1e6);
            }
        }
        Some(self.max_ns as f64 / 1e6)
    }

    fn max_ms(&self) -> Option<f64> {
        (self.total > 0).then(|| self.max_ns as f64 / 1e6)
    }
}

/// One 10 s interval: each kind's latencies, by when the request was due.
#[derive(Debug, Clone, Default)]
struct Interval {
    kinds: [Histogram; KINDS.len()],
    errors: u64,
    /// Token requests sent more than 1 ms after they were due.
    late: u64,
}

/// An answer other than the one expected.
struct Failure {
    /// What went wrong, without anything request-specific: the key errors are counted by.
    cause: String,
    detail: String,
    /// No answer at all: the connection failed or timed out.
    transport: bool,
}

impl Failure {
    fn answer(cause: String, detail: String) -> Self {
        Self {
            cause,
            detail,
            transport: false,
        }
    }
}

#[derive(Debug, Clone)]
struct ErrorCount {
    count: u64,
    first_at_s: f64,
    first: String,
}

struct Recorder {
    start: Instant,
    intervals: Vec<Interval>,
    /// By "kind: cause".
    errors: BTreeMap<String, ErrorCount>,
}

impl Recorder {
    fn record(
        &mut self,
        kind: Kind,
        due: Instant,
        latency: Duration,
        failure: Option<Failure>,
        late: bool,
    ) {
        let since = due.saturating_duration_since(self.start);
        let index = ((since.as_nanos() / INTERVAL.as_nanos()) as usize)
            .min(self.intervals.len().saturating_sub(1));
        let interval = &mut self.intervals[index];
        interval.kinds[kind as usize].record(latency.as_nanos() as u64);
        interval.late += u64::from(late);
        if let Some(failure) = failure {
            interval.errors += 1;
            let entry = self
                .errors
                .entry(format!("{}: {}", kind.name(), failure.cause))
                .or_insert_with(|| ErrorCount {
                    count: 0,
                    first_at_s: since.as_secs_f64(),
                    first: failure.detail,
                });
            entry.count += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The load

/// What every task of the soak shares.
struct Ctx {
    addr: SocketAddr,
    plan: Arc<Plan>,
    start: Instant,
    end: Instant,
    rate: f64,
    /// Token requests draw pairs below this: the viewers set aside for moderation are last.
    token_pairs: usize,
    next_token: AtomicU64,
    kicks_accepted: AtomicU64,
    recorder: Mutex<Recorder>,
    moderation: Moderation,
}

impl Ctx {
    fn record(&self, kind: Kind, due: Instant, done: Instant, failure: Option<Failure>) {
        self.record_late(kind, due, due, done, failure);
    }

    /// Records a request due at `due` and sent at `sent`: timed from the earlier of the two
    /// (released early by the timer, from its release; sent late, from when it was due).
    fn record_late(
        &self,
        kind: Kind,
        due: Instant,
        sent: Instant,
        done: Instant,
        failure: Option<Failure>,
    ) {
        let late = kind == Kind::Token && sent.saturating_duration_since(due) > TIMER_SLACK;
        let latency = done.saturating_duration_since(due.min(sent));
        self.recorder
            .lock()
            .expect("no task panics holding the recorder")
            .record(kind, due, latency, failure, late);
    }
}

/// Waits until shortly before `due` (the timer wakes on its next millisecond tick) and
/// returns when the request goes out.
async fn release(due: Instant) -> Instant {
    if let Some(early) = due.checked_sub(TIMER_SLACK) {
        if Instant::now() < early {
            tokio::time::sleep_until(early.into()).await;
        }
    }
    Instant::now()
}

/// What an answer must be.
#[derive(Clone, Copy)]
enum Expect {
    Status(u16),
    /// This status with this error code.
    Refused(u16, &'static str),
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Status(status) => write!(f, "{status}"),
            Expect::Refused(status, code) => write!(f, "{status} {code}"),
        }
    }
}

fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["error"]["code"].as_str().map(str::to_owned)
}

/// Sends `connection.request` and checks the answer against `expect`.
async fn call(connection: &mut Connection, expect: Expect) -> Result<Answer, Failure> {
    let answer = match tokio::time::timeout(REQUEST_TIMEOUT, connection.round_trip()).await {
        Err(_) => {
            connection.stream = None;
            return Err(Failure {
                cause: format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
                detail: String::new(),
                transport: true,
            });
        }
        Ok(Err(error)) => {
            return Err(Failure {
                cause: format!("I/O {:?}", error.kind()),
                detail: error.to_string(),
                transport: true,
            })
        }
        Ok(Ok(answer)) => answer,
    };
    let body = connection.body(&answer);
    let code = error_code(body);
    let expected = match expect {
        Expect::Status(status) => answer.status == status,
        Expect::Refused(status, wanted) => {
            answer.status == status && code.as_deref() == Some(wanted)
        }
    };
    if expected {
        return Ok(answer);
    }
    let text = String::from_utf8_lossy(body);
    Err(Failure::answer(
        format!(
            "HTTP {}{} (expected {expect})",
            answer.status,
            code.map(|c| format!(" {c}")).unwrap_or_default()
        ),
        text.chars().take(300).collect(),
    ))
}

async fn token_worker(ctx: Arc<Ctx>, seed: u64) {
    let mut connection = Connection::new(ctx.addr);
    let mut rng = FastRng(seed);
    loop {
        let k = ctx.next_token.fetch_add(1, Ordering::Relaxed);
        let due = ctx.start + Duration::from_secs_f64(k as f64 / ctx.rate);
        if due >= ctx.end {
            break;
        }
        let sent = release(due).await;
        let pair = rng.below(ctx.token_pairs);
        ctx.plan
            .write(RequestKind::Token, pair, &mut connection.request);
        let result = call(&mut connection, Expect::Status(200)).await;
        let broken = matches!(&result, Err(failure) if failure.transport);
        ctx.record_late(Kind::Token, due, sent, Instant::now(), result.err());
        if broken {
            // Do not spin on a dead server.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The times a low-rate task's events are due: every `every`, from `offset` after the start.
fn ticks(ctx: &Ctx, every: Duration, offset: Duration) -> impl Iterator<Item = Instant> + '_ {
    (0u32..)
        .map(move |n| ctx.start + offset + every * n)
        .take_while(|due| *due < ctx.end)
}

/// A request on a fresh connection, as a provider's or a browser's would come.
async fn once(
    ctx: &Ctx,
    request: Vec<u8>,
    expect: Expect,
) -> (Connection, Result<Answer, Failure>) {
    let mut connection = Connection::new(ctx.addr);
    connection.request = request;
    let result = call(&mut connection, expect).await;
    (connection, result)
}

fn token_request(plan: &Plan, viewer: usize, room: &str) -> Vec<u8> {
    let mut request = Vec::with_capacity(512);
    plan.write_token(viewer, room, &mut request);
    request.extend_from_slice(&plan.tail);
    request
}

async fn webhook_task(ctx: Arc<Ctx>) {
    for due in ticks(&ctx, WEBHOOK_EVERY, Duration::from_millis(250)) {
        let sent = release(due).await;
        let index = ctx.plan.next_webhook.fetch_add(1, Ordering::Relaxed);
        let Some((request, viewer, room)) = ctx.plan.webhooks.get(index) else {
            let failure = Failure::answer(
                "ran out of seeded checkout intents (raise --webhooks)".into(),
                String::new(),
            );
            ctx.record(Kind::Webhook, due, Instant::now(), Some(failure));
            continue;
        };
        let (mut connection, result) = once(&ctx, request.clone(), Expect::Status(200)).await;
        let paid = result.is_ok();
        ctx.record_late(Kind::Webhook, due, sent, Instant::now(), result.err());
        if paid {
            let room = &ctx.plan.rooms[*room as usize];
            connection.request = token_request(&ctx.plan, *viewer as usize, room);
            let sent = Instant::now();
            let result = call(&mut connection, Expect::Status(200)).await;
            ctx.record(Kind::PaidToken, sent, Instant::now(), result.err());
        }
    }
}

async fn stats_task(ctx: Arc<Ctx>) {
    let Some(stats) = ctx.plan.stats.as_ref() else {
        return;
    };
    let mut rng = FastRng(0x5EED_57A7);
    for (n, due) in ticks(&ctx, STATS_EVERY, Duration::from_millis(750)).enumerate() {
        let sent = release(due).await;
        let line = match n % 3 {
            0 => &stats.rooms[rng.below(stats.rooms.len())],
            1 => &stats.performer,
            _ => &stats.big_room,
        };
        let mut request = line.clone();
        request.extend_from_slice(&ctx.plan.tail);
        let (_, result) = once(&ctx, request, Expect::Status(200)).await;
        ctx.record_late(Kind::Stats, due, sent, Instant::now(), result.err());
    }
}

/// A viewer set aside for moderation, in one of their rooms, and that room's performer.
#[derive(Debug, Clone)]
struct Target {
    viewer: usize,
    user_id: String,
    room: String,
    /// `Authorization: Bearer <the performer's session>\r\n`.
    performer: String,
}

struct Moderation {
    admin_key: String,
    kicks: Vec<Target>,
    bans: Vec<Target>,
}

fn json_post(path: &str, authorization: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The viewer's token after a moderation step, on the same connection.
async fn check_token(ctx: &Ctx, connection: &mut Connection, target: &Target, expect: Expect) {
    connection.request = token_request(&ctx.plan, target.viewer, &target.room);
    let sent = Instant::now();
    let result = call(connection, expect).await;
    ctx.record(Kind::CheckToken, sent, Instant::now(), result.err());
}

async fn moderation_task(ctx: Arc<Ctx>) {
    let moderation = &ctx.moderation;
    let admin = format!("Authorization: Bearer {}\r\n", moderation.admin_key);
    let (mut kicks, mut bans) = (0usize, 0usize);
    // The ban in force and whom it is for.
    let mut banned: Option<(String, Target)> = None;
    for (step, due) in ticks(&ctx, MODERATION_EVERY, Duration::from_millis(500)).enumerate() {
        let sent = release(due).await;
        match step % 4 {
            0 | 2 => {
                let target = &moderation.kicks[kicks % moderation.kicks.len()];
                kicks += 1;
                let body = format!(
                    r#"{{"user_id":"{}","reason":"soak: kick {kicks}"}}"#,
                    target.user_id
                );
                let path = format!("/api/rooms/{}/kick", target.room);
                let request = json_post(&path, &target.performer, &body);
                let (mut connection, result) = once(&ctx, request, Expect::Status(202)).await;
                let kicked = result.is_ok();
                if kicked {
                    ctx.kicks_accepted.fetch_add(1, Ordering::Relaxed);
                }
                ctx.record_late(Kind::Kick, due, sent, Instant::now(), result.err());
                if kicked {
                    check_token(&ctx, &mut connection, target, Expect::Status(200)).await;
                }
            }
            1 => {
                let target = moderation.bans[bans % moderation.bans.len()].clone();
                bans += 1;
                let body = format!(
                    r#"{{"user_id":"{}","reason":"soak: ban {bans}"}}"#,
                    target.user_id
                );
                let path = format!("/api/rooms/{}/ban", target.room);
                let request = json_post(&path, &target.performer, &body);
                let (mut connection, result) = once(&ctx, request, Expect::Status(201)).await;
                let id = match &result {
                    Ok(answer) => {
                        serde_json::from_slice::<serde_json::Value>(connection.body(answer))
                            .ok()
                            .and_then(|ban| ban["id"].as_str().map(str::to_owned))
                    }
                    Err(_) => None,
                };
                let failure = match (result, &id) {
                    (Err(failure), _) => Some(failure),
                    (Ok(_), None) => Some(Failure::answer(
                        "the ban's answer has no id".into(),
                        String::from_utf8_lossy(&connection.response).into_owned(),
                    )),
                    (Ok(_), Some(_)) => None,
                };
                ctx.record_late(Kind::Ban, due, sent, Instant::now(), failure);
                if let Some(id) = id {
                    check_token(
                        &ctx,
                        &mut connection,
                        &target,
                        Expect::Refused(403, "banned"),
                    )
                    .await;
                    banned = Some((id, target));
                }
            }
            _ => {
                let Some((id, target)) = banned.take() else {
                    continue;
                };
                let path = format!("/api/admin/bans/{id}/lift");
                let body = format!(r#"{{"reason":"soak: lift {bans}"}}"#);
                let request = json_post(&path, &admin, &body);
                let (mut connection, result) = once(&ctx, request, Expect::Status(200)).await;
                let lifted = result.is_ok();
                ctx.record_late(Kind::Lift, due, sent, Instant::now(), result.err());
                if lifted {
                    check_token(&ctx, &mut connection, &target, Expect::Status(200)).await;
                }
            }
        }
    }
}

/// A Prosody shard as roomkey's command queue sees one: every command (`POST
/// {base}/commands`) answered 200, and counted by its `type`.
async fn start_shard() -> anyhow::Result<(String, Arc<Mutex<BTreeMap<String, u64>>>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/roomkey", listener.local_addr()?);
    let received = Arc::new(Mutex::new(BTreeMap::new()));
    let counts = received.clone();
    let router = axum::Router::new().route(
        "/roomkey/commands",
        axum::routing::post(move |body: axum::body::Bytes| {
            let kind = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|command| command["type"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "unreadable".into());
            *counts
                .lock()
                .expect("the counter never panics")
                .entry(kind)
                .or_insert(0) += 1;
            async { axum::Json(serde_json::json!({"ok": true})) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((url, received))
}

// ---------------------------------------------------------------------------------------
// Samples of the server

/// The server and the machine at one moment, and CPU over the interval before it.
#[derive(Debug, Clone, Default)]
struct Probe {
    at_s: f64,
    rss_bytes: Option<u64>,
    fds: Option<u64>,
    metrics_bytes: Option<u64>,
    load1: Option<f64>,
    /// Cores used since the previous probe.
    server_cores: Option<f64>,
    client_cores: Option<f64>,
    db_cores: Option<f64>,
    other_cores: Option<f64>,
}

fn open_fds(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Cumulative CPU seconds, to difference between probes.
struct CpuTotals {
    at: Instant,
    server: Option<f64>,
    client: Option<f64>,
    machine: Option<f64>,
    db: Option<std::collections::HashMap<u32, f64>>,
}

impl CpuTotals {
    fn read(pid: u32, postgres: bool) -> Self {
        Self {
            at: Instant::now(),
            server: cpu_seconds(&pid.to_string()),
            client: cpu_seconds("self"),
            machine: machine_busy_seconds(),
            db: postgres.then(|| processes_cpu_seconds("postgres")),
        }
    }
}

/// Reads the server; scrapes `/metrics` as Prometheus would (an error if it fails).
async fn probe(ctx: &Ctx, server: &Server, previous: &CpuTotals, now: &CpuTotals) -> Probe {
    let due = Instant::now();
    let scraped = tokio::time::timeout(REQUEST_TIMEOUT, get(server.ops, "/metrics")).await;
    let (metrics_bytes, failure) = match scraped {
        Ok(Ok((200, body))) => (Some(body.len() as u64), None),
        Ok(Ok((status, body))) => (
            None,
            Some(Failure::answer(
                format!("HTTP {status} (expected 200)"),
                String::from_utf8_lossy(&body).chars().take(300).collect(),
            )),
        ),
        Ok(Err(error)) => (
            None,
            Some(Failure::answer("no answer".into(), format!("{error:#}"))),
        ),
        Err(_) => (
            None,
            Some(Failure::answer(
                format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
                String::new(),
            )),
        ),
    };
    ctx.record(Kind::Metrics, due, Instant::now(), failure);
    let seconds = now.at.duration_since(previous.at).as_secs_f64().max(1e-9);
    let rate = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / seconds);
    let server_cores = rate(previous.server, now.server);
    let client_cores = rate(previous.client, now.client);
    let db_cores = match (&previous.db, &now.db) {
        (Some(before), Some(after)) => Some(
            after
                .iter()
                .map(|(pid, secs)| secs - before.get(pid).copied().unwrap_or(0.0))
                .sum::<f64>()
                / seconds,
        ),
        _ => None,
    };
    let other_cores = rate(previous.machine, now.machine).and_then(|all| {
        Some((all - server_cores? - client_cores? - db_cores.unwrap_or(0.0)).max(0.0))
    });
    Probe {
        at_s: now.at.duration_since(ctx.start).as_secs_f64(),
        rss_bytes: server.rss_bytes(),
        fds: open_fds(server.pid),
        metrics_bytes,
        load1: load_average(),
        server_cores,
        client_cores,
        db_cores,
        other_cores,
    }
}

// ---------------------------------------------------------------------------------------
// The run

/// The peak the rate was derived from.
struct Peak {
    throughput: f64,
    p99_ms: f64,
    errors: u64,
    server_cpu: Option<f64>,
    other_cpu: Option<f64>,
}

/// Sets aside the last active viewers for moderation and finds their rooms' performers.
async fn moderation_targets(
    plan: &Plan,
    viewer_ids: &[String],
    database: &Database,
    sessions: &SessionTokens,
) -> anyhow::Result<(usize, Moderation)> {
    let active = plan.authorizations.len();
    if active < 4 {
        bail!("the soak needs at least 4 active viewers (--active-users)");
    }
    let reserved = (active / 10).clamp(2, 20);
    let store = Store::connect(database.url(), 1, metrics()).await?;
    let now = SystemClock.now();
    let mut performers: BTreeMap<String, String> = BTreeMap::new();
    let (mut kicks, mut bans) = (Vec::new(), Vec::new());
    for (n, viewer) in (active - reserved..active).enumerate() {
        let rooms = &plan.entitled[viewer * plan.per_user..(viewer + 1) * plan.per_user];
        let kicked = n < reserved / 2;
        // A kick target in its first room; a ban target in each of its rooms in turn.
        for room in rooms.iter().take(if kicked { 1 } else { rooms.len() }) {
            let room = plan.rooms[*room as usize].clone();
            if !performers.contains_key(&room) {
                let name = RoomName::parse(&room).map_err(|e| anyhow!("room {room}: {e}"))?;
                let owner = store
                    .find_room_by_name(&name)
                    .await?
                    .with_context(|| format!("room {room} was seeded"))?
                    .owner_id;
                let (session, _) = sessions.issue(&owner, 0, now);
                performers.insert(room.clone(), format!("Authorization: Bearer {session}\r\n"));
            }
            let target = Target {
                viewer,
                user_id: viewer_ids[viewer].clone(),
                performer: performers[&room].clone(),
                room,
            };
            if kicked {
                kicks.push(target);
            } else {
                bans.push(target);
            }
        }
    }
    store.close().await;
    let moderation = Moderation {
        admin_key: format!("bench-admin-{:032x}", rand::random::<u128>()),
        kicks,
        bans,
    };
    Ok(((active - reserved) * plan.per_user, moderation))
}

/// The soak: its own server, the peak (unless `--soak-rate`), the mixed load for
/// `--duration`, and its report.
pub(crate) async fn run(
    args: &Args,
    env: &ServerEnv<'_>,
    plan: &Arc<Plan>,
    database: &Database,
    viewer_ids: &[String],
    (rows, seed_seconds): (SeedCounts, f64),
) -> anyhow::Result<()> {
    if args
        .soak_rate
        .is_some_and(|rate| rate <= 0.0 || !rate.is_finite())
    {
        bail!("--soak-rate must be a positive number of token requests a second");
    }
    if plan.stats.is_none() {
        bail!("the soak's stats requests need the stats data set");
    }
    let sessions = SessionTokens::new(env.session_secret.as_bytes(), 86_400);
    let (token_pairs, moderation) =
        moderation_targets(plan, viewer_ids, database, &sessions).await?;
    let (shard_url, shard) = start_shard().await?;
    let mut extra = env.extra.to_vec();
    extra.push((
        "ROOMKEY_AUTH__ADMIN_KEYS".into(),
        format!(r#"["{}"]"#, moderation.admin_key),
    ));
    extra.push((
        "ROOMKEY_PROSODY__SHARDS".into(),
        format!(r#"["{shard_url}"]"#),
    ));
    let env = ServerEnv {
        extra: &extra,
        ..*env
    };
    progress(format_args!(
        "starting roomkey (hs256, one Prosody shard stand-in)…"
    ));
    let server = Server::start(&env, ServerSpec::HOT_HS256).await?;
    let result = soak(args, &server, plan, token_pairs, moderation, &shard).await;
    server.stop().await;
    let mut report = result?;
    report.backend = database.backend();
    report.rows = rows;
    report.seed_seconds = seed_seconds;
    if args.json {
        // A half-hour run's table is worth keeping next to its JSON: it goes with the
        // progress lines.
        eprint!("{}", report.table());
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

async fn soak(
    args: &Args,
    server: &Server,
    plan: &Arc<Plan>,
    token_pairs: usize,
    moderation: Moderation,
    shard: &Mutex<BTreeMap<String, u64>>,
) -> anyhow::Result<SoakReport> {
    if args.prefill {
        prefill(server, plan, args.connections).await?;
    }
    let mut first_answers = Vec::new();
    for scenario in Scenario::STATS {
        first_answers.push((scenario.name(), first_answer(server, plan, scenario).await?));
    }
    let peak = match args.soak_rate {
        Some(_) => None,
        None => {
            progress(format_args!(
                "peak: token-hs256 closed loop, {} connections, {} s warm-up + {} s measured…",
                args.connections, args.warmup, args.seconds
            ));
            let outcome = measure(server, plan, &[Scenario::TokenHs256], 1, args)
                .await?
                .remove(0);
            progress(format_args!(
                "  {:.0} req/s, p99 {:.3} ms, {} errors; other processes used {:.2} cores",
                outcome.throughput,
                outcome.p99_ms,
                outcome.errors,
                outcome.disturbance()
            ));
            if outcome.errors > 0 || outcome.throughput < 1.0 {
                bail!(
                    "the peak measurement failed: {} errors, first: {}",
                    outcome.errors,
                    outcome.first_error.unwrap_or_default()
                );
            }
            Some(Peak {
                throughput: outcome.throughput,
                p99_ms: outcome.p99_ms,
                errors: outcome.errors,
                server_cpu: outcome.server_cpu,
                other_cpu: outcome.other_cpu,
            })
        }
    };
    let rate = args
        .soak_rate
        .or_else(|| peak.as_ref().map(|p| p.throughput * LOAD_SHARE))
        .expect("a rate given or measured");
    let intervals = args.duration.as_secs().div_ceil(INTERVAL.as_secs()) as usize;
    let duration = INTERVAL * intervals as u32;
    let warmup_intervals =
        (intervals / 6).min((MAX_WARMUP.as_secs() / INTERVAL.as_secs()) as usize);
    progress(format_args!(
        "soak: {:.0} s at {rate:.0} tokens/s (open loop, {} connections), a webhook and a stats \
         request a second, a moderation step every {:.1} s; the first {} s are warm-up…",
        duration.as_secs_f64(),
        args.connections,
        MODERATION_EVERY.as_secs_f64(),
        warmup_intervals as u64 * INTERVAL.as_secs()
    ));
    let postgres = args.database_url.is_some();
    let mut totals = CpuTotals::read(server.pid, postgres);
    let start = Instant::now() + Duration::from_millis(100);
    let ctx = Arc::new(Ctx {
        addr: server.addr,
        plan: plan.clone(),
        start,
        end: start + duration,
        rate,
        token_pairs,
        next_token: AtomicU64::new(0),
        kicks_accepted: AtomicU64::new(0),
        recorder: Mutex::new(Recorder {
            start,
            intervals: vec![Interval::default(); intervals],
            errors: BTreeMap::new(),
        }),
        moderation,
    });
    let mut tasks: Vec<_> = (0..args.connections)
        .map(|i| {
            let seed = args.seed ^ 0x50A6_0000_0000_0000 ^ (i as u64).wrapping_mul(0x9E37_79B9);
            tokio::spawn(token_worker(ctx.clone(), seed))
        })
        .collect();
    tasks.push(tokio::spawn(webhook_task(ctx.clone())));
    tasks.push(tokio::spawn(stats_task(ctx.clone())));
    tasks.push(tokio::spawn(moderation_task(ctx.clone())));

    progress(format_args!("  {}", Minute::header()));
    let mut probes = Vec::with_capacity(intervals + 1);
    for k in 0..=intervals {
        let at = (start + INTERVAL * k as u32).min(ctx.end - LAST_PROBE_EARLY);
        tokio::time::sleep_until(at.into()).await;
        let now = CpuTotals::read(server.pid, postgres);
        let probe = probe(&ctx, server, &totals, &now).await;
        totals = now;
        if k == 0 {
            probes.push(Probe {
                server_cores: None,
                client_cores: None,
                db_cores: None,
                other_cores: None,
                ..probe
            });
            continue;
        }
        probes.push(probe);
        if k % 6 == 0 || k == intervals {
            let minute = {
                let recorder = ctx.recorder.lock().expect("no task panics holding it");
                Minute::of(&recorder.intervals, &probes, k.saturating_sub(6)..k)
            };
            progress(format_args!("  {}", minute.line()));
        }
    }
    for task in tasks {
        task.await?;
    }
    // Kicks go to the shard through the command queue; give the last ones time to arrive.
    let accepted = ctx.kicks_accepted.load(Ordering::Relaxed);
    let drained = Instant::now() + DELIVERY_DRAIN;
    let kicks_received = || {
        shard
            .lock()
            .expect("the counter never panics")
            .get("kick")
            .copied()
            .unwrap_or(0)
    };
    while kicks_received() < accepted && Instant::now() < drained {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recorder = ctx.recorder.lock().expect("no task panics holding it");
    Ok(SoakReport {
        connections: args.connections,
        users: args.users,
        active_users: args.active_users,
        backend: "",
        rows: SeedCounts::default(),
        seed_seconds: 0.0,
        peak,
        rate,
        duration,
        warmup_intervals,
        first_answers,
        probes,
        intervals: recorder.intervals.clone(),
        errors: recorder.errors.clone(),
        kicks_accepted: accepted,
        shard: shard.lock().expect("the counter never panics").clone(),
        tokens_sent: ctx
            .next_token
            .load(Ordering::Relaxed)
            .min((duration.as_secs_f64() * rate).ceil() as u64),
    })
}

// ---------------------------------------------------------------------------------------
// The report

struct SoakReport {
    connections: usize,
    users: usize,
    active_users: usize,
    backend: &'static str,
    rows: SeedCounts,
    seed_seconds: f64,
    peak: Option<Peak>,
    rate: f64,
    duration: Duration,
    warmup_intervals: usize,
    first_answers: Vec<(&'static str, f64)>,
    /// At 0, 10 s, 20 s, … and just before the end.
    probes: Vec<Probe>,
    intervals: Vec<Interval>,
    errors: BTreeMap<String, ErrorCount>,
    kicks_accepted: u64,
    shard: BTreeMap<String, u64>,
    tokens_sent: u64,
}

/// A stretch of intervals merged: one line of the table, or a third of the run.
struct Minute {
    from_s: f64,
    kinds: [Histogram; KINDS.len()],
    errors: u64,
    late: u64,
    seconds: f64,
    rss_mib: Option<f64>,
    fds: Option<u64>,
    server_cores: Option<f64>,
    other_cores: Option<f64>,
    load1: Option<f64>,
}

fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let values: Vec<f64> = values.flatten().collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

impl Minute {
    /// Intervals `range`, with the probe at the end of the last.
    fn of(intervals: &[Interval], probes: &[Probe], range: std::ops::Range<usize>) -> Self {
        let mut kinds: [Histogram; KINDS.len()] = Default::default();
        let (mut errors, mut late) = (0, 0);
        for interval in &intervals[range.clone()] {
            for (sum, part) in kinds.iter_mut().zip(&interval.kinds) {
                sum.merge(part);
            }
            errors += interval.errors;
            late += interval.late;
        }
        // Probe k ends interval k - 1.
        let closing = probes.get(range.end).or(probes.last());
        let during = probes
            .get(range.start + 1..(range.end + 1).min(probes.len()))
            .unwrap_or(&[]);
        Self {
            from_s: (range.start as u64 * INTERVAL.as_secs()) as f64,
            kinds,
            errors,
            late,
            seconds: (range.len() as u64 * INTERVAL.as_secs()) as f64,
            rss_mib: closing.and_then(|p| p.rss_bytes).map(mib),
            fds: closing.and_then(|p| p.fds),
            server_cores: mean(during.iter().map(|p| p.server_cores)),
            other_cores: mean(during.iter().map(|p| p.other_cores)),
            load1: closing.and_then(|p| p.load1),
        }
    }

    fn histogram(&self, kinds: &[Kind]) -> Histogram {
        let mut merged = Histogram::default();
        for kind in kinds {
            merged.merge(&self.kinds[*kind as usize]);
        }
        merged
    }

    fn header() -> String {
        format!(
            "{:>5} {:>8} {:>5} {:>7} {:>8} {:>8} {:>8} {:>5} {:>9} {:>8} {:>8} {:>9} {:>7} {:>8} {:>8} {:>5}",
            "min", "RSS MiB", "FDs", "tok/s", "tok p50", "tok p99", "tok max", "late",
            "hook p99", "mod p99", "chk p99", "stat p99", "errors", "srv CPU", "oth CPU", "load"
        )
    }

    fn line(&self) -> String {
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        let token = &self.kinds[Kind::Token as usize];
        format!(
            "{:>5.0} {:>8} {:>5} {:>7.0} {:>8} {:>8} {:>8} {:>5} {:>9} {:>8} {:>8} {:>9} {:>7} {:>8} {:>8} {:>5}",
            (self.from_s + self.seconds) / 60.0,
            self.rss_mib.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}")),
            self.fds.map_or_else(|| "-".to_owned(), |v| v.to_string()),
            token.total as f64 / self.seconds.max(1.0),
            ms(token.quantile_ms(0.50)),
            ms(token.quantile_ms(0.99)),
            ms(token.max_ms()),
            self.late,
            ms(self.kinds[Kind::Webhook as usize].quantile_ms(0.99)),
            ms(self.histogram(&[Kind::Kick, Kind::Ban, Kind::Lift]).quantile_ms(0.99)),
            ms(self.histogram(&[Kind::PaidToken, Kind::CheckToken]).quantile_ms(0.99)),
            ms(self.kinds[Kind::Stats as usize].quantile_ms(0.99)),
            self.errors,
            ms(self.server_cores),
            ms(self.other_cores),
            self.load1.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}")),
        )
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Values after the warm-up: their median and how far the extremes stray from it.
#[derive(Debug, Clone, Copy)]
struct Flatness {
    first: f64,
    last: f64,
    median: f64,
    min: f64,
    max: f64,
}

impl Flatness {
    fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = if sorted.len() % 2 == 0 {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        } else {
            sorted[middle]
        };
        Some(Self {
            first: values[0],
            last: values[values.len() - 1],
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }

    fn below(&self) -> f64 {
        (self.min / self.median - 1.0) * 100.0
    }

    fn above(&self) -> f64 {
        (self.max / self.median - 1.0) * 100.0
    }

    fn flat(&self) -> bool {
        self.min >= self.median * (1.0 - FLAT_TOLERANCE)
            && self.max <= self.median * (1.0 + FLAT_TOLERANCE)
    }
}

struct Verdict {
    name: &'static str,
    goal: String,
    actual: String,
    met: bool,
}

impl SoakReport {
    fn minutes(&self) -> Vec<Minute> {
        (0..self.intervals.len())
            .step_by(6)
            .map(|from| {
                let to = (from + 6).min(self.intervals.len());
                Minute::of(&self.intervals, &self.probes, from..to)
            })
            .collect()
    }

    /// The judged intervals (after the warm-up) in three equal parts.
    fn thirds(&self) -> [Minute; 3] {
        let (from, to) = (self.warmup_intervals, self.intervals.len());
        let third = ((to - from) / 3).max(1);
        [from..from + third, from + third..to - third, to - third..to]
            .map(|range| Minute::of(&self.intervals, &self.probes, range))
    }

    fn judged(&self) -> Minute {
        Minute::of(
            &self.intervals,
            &self.probes,
            self.warmup_intervals..self.intervals.len(),
        )
    }

    fn warmup_s(&self) -> u64 {
        self.warmup_intervals as u64 * INTERVAL.as_secs()
    }

    /// RSS (MiB) and open descriptors of the probes from the end of the warm-up on.
    fn flatness(&self) -> (Option<Flatness>, Option<Flatness>) {
        let judged = &self.probes[self.warmup_intervals.min(self.probes.len())..];
        let rss: Vec<f64> = judged.iter().filter_map(|p| p.rss_bytes.map(mib)).collect();
        let fds: Vec<f64> = judged
            .iter()
            .filter_map(|p| p.fds.map(|v| v as f64))
            .collect();
        (Flatness::of(&rss), Flatness::of(&fds))
    }

    fn errors_total(&self) -> u64 {
        self.errors.values().map(|e| e.count).sum()
    }

    fn verdicts(&self) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        let (rss, fds) = self.flatness();
        for (name, flat, unit) in [
            ("server RSS flat", rss, " MiB"),
            ("open file descriptors flat", fds, ""),
        ] {
            verdicts.push(match flat {
                Some(f) => Verdict {
                    name,
                    goal: format!("within ±{:.0}% of the median", FLAT_TOLERANCE * 100.0),
                    actual: format!(
                        "median {:.1}{unit}, {:.1}–{:.1} ({:+.1}% / {:+.1}%)",
                        f.median,
                        f.min,
                        f.max,
                        f.below(),
                        f.above()
                    ),
                    met: f.flat(),
                },
                None => Verdict {
                    name,
                    goal: "read from /proc".into(),
                    actual: "not readable".into(),
                    met: false,
                },
            });
        }
        let errors = self.errors_total();
        verdicts.push(Verdict {
            name: "errors (whole run)",
            goal: "0".into(),
            actual: errors.to_string(),
            met: errors == 0,
        });
        let [first, _, last] = self.thirds();
        let (p_first, p_last) = (
            first.kinds[Kind::Token as usize].quantile_ms(0.99),
            last.kinds[Kind::Token as usize].quantile_ms(0.99),
        );
        verdicts.push(Verdict {
            name: "token p99 stable",
            goal: format!("last third ≤ {P99_GROWTH}× first third"),
            actual: match (p_first, p_last) {
                (Some(a), Some(b)) => format!("{a:.2} → {b:.2} ms ({:.2}×)", b / a),
                _ => "no requests".into(),
            },
            met: matches!((p_first, p_last), (Some(a), Some(b)) if b <= a * P99_GROWTH),
        });
        // Not a goal of the service, but what the others mean depends on it: a server that
        // cannot keep up with the offered rate (its CPU taken by other work, say) builds a
        // queue, and every later latency includes it.
        let judged = self.judged();
        let tokens = judged.kinds[Kind::Token as usize].total.max(1);
        let late = judged.late as f64 / tokens as f64;
        verdicts.push(Verdict {
            name: "token rate served on time",
            goal: format!("≤ {:.0}% sent > 1 ms late", LATE_SHARE * 100.0),
            actual: format!("{:.1}% late", late * 100.0),
            met: late <= LATE_SHARE,
        });
        let received = self.shard.get("kick").copied().unwrap_or(0);
        verdicts.push(Verdict {
            name: "every accepted kick reached the shard",
            goal: format!("{} kicks", self.kicks_accepted),
            actual: format!("{received} received"),
            met: received >= self.kicks_accepted,
        });
        verdicts
    }

    fn table(&self) -> String {
        let (cores, model) = machine();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nroomkey-bench soak: {} backend, {} users ({} rooms, {} entitlements, {} stays) \
             seeded in {:.1} s; {cores} cores, {model}",
            self.backend,
            self.rows.users,
            self.rows.rooms,
            self.rows.entitlements,
            self.rows.stays,
            self.seed_seconds
        );
        match &self.peak {
            Some(peak) => {
                let _ = writeln!(
                    out,
                    "peak (token-hs256, closed loop, {} connections): {:.0} req/s, p99 {:.3} ms, \
                     {} errors; server {} cores, other processes {} cores",
                    self.connections,
                    peak.throughput,
                    peak.p99_ms,
                    peak.errors,
                    opt(peak.server_cpu),
                    opt(peak.other_cpu)
                );
            }
            None => {
                let _ = writeln!(out, "rate given with --soak-rate; no peak measured");
            }
        }
        let _ = writeln!(
            out,
            "soak: {:.0} min at {:.0} tokens/s (open loop over {} connections; {} sent), a \
             webhook and a stats request a second, a kick every {:.0} s, a ban every {:.0} s \
             lifted {:.1} s later, /metrics every {} s; warm-up (not judged): the first {} s",
            self.duration.as_secs_f64() / 60.0,
            self.rate,
            self.connections,
            self.tokens_sent,
            (MODERATION_EVERY * 2).as_secs_f64(),
            (MODERATION_EVERY * 4).as_secs_f64(),
            (MODERATION_EVERY * 2).as_secs_f64(),
            INTERVAL.as_secs(),
            self.warmup_s()
        );
        let _ = writeln!(
            out,
            "stats first answers, before the soak: {}\n",
            self.first_answers
                .iter()
                .map(|(name, ms)| format!("{name} {ms:.0} ms"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(out, "{}", Minute::header());
        for minute in self.minutes() {
            let _ = writeln!(out, "{}", minute.line());
        }
        let _ = writeln!(
            out,
            "\n(RSS and FDs at the end of each minute; tok/s: token requests due a second, by \
             when they were due; latencies in ms from when each request was due; late: token requests sent more than 1 ms after; hook: webhooks; mod: \
             kicks, bans, lifts; chk: the payer's and the moderated viewer's tokens; CPU in \
             cores, mean of the minute; load: 1-minute load average)\n"
        );
        let judged = self.judged();
        let thirds = self.thirds();
        let _ = writeln!(
            out,
            "after the warm-up ({:.0} s):\n{:<16} {:>9} {:>8} {:>8} {:>9} {:>9}   p99 per third (ms)",
            judged.seconds, "kind", "requests", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
        );
        for kind in KINDS {
            let h = &judged.kinds[kind as usize];
            let _ = writeln!(
                out,
                "{:<16} {:>9} {:>8} {:>8} {:>9} {:>9}   {}",
                kind.name(),
                h.total,
                opt(h.quantile_ms(0.50)),
                opt(h.quantile_ms(0.99)),
                opt(h.quantile_ms(0.999)),
                opt(h.max_ms()),
                thirds
                    .iter()
                    .map(|t| opt(t.kinds[kind as usize].quantile_ms(0.99)))
                    .collect::<Vec<_>>()
                    .join(" · ")
            );
        }
        let (rss, fds) = self.flatness();
        for (name, flat, start) in [
            (
                "RSS MiB",
                rss,
                self.probes.first().and_then(|p| p.rss_bytes).map(mib),
            ),
            (
                "open FDs",
                fds,
                self.probes.first().and_then(|p| p.fds).map(|v| v as f64),
            ),
        ] {
            if let Some(f) = flat {
                let _ = writeln!(
                    out,
                    "{name}: {} at the start, {:.1} after the warm-up, {:.1} at the end; after the \
                     warm-up median {:.1}, range {:.1}–{:.1}",
                    opt(start),
                    f.first,
                    f.last,
                    f.median,
                    f.min,
                    f.max
                );
            }
        }
        let metrics: Vec<f64> = self
            .probes
            .iter()
            .filter_map(|p| p.metrics_bytes.map(|b| b as f64))
            .collect();
        if let (Some(first), Some(last)) = (metrics.first(), metrics.last()) {
            let _ = writeln!(
                out,
                "/metrics: {first:.0} bytes at the start, {last:.0} at the end"
            );
        }
        let other: Vec<f64> = self.probes.iter().filter_map(|p| p.other_cores).collect();
        let load: Vec<f64> = self.probes.iter().filter_map(|p| p.load1).collect();
        let _ = writeln!(
            out,
            "other load on the machine: other processes {} cores on average (10 s peaks up to {}), \
             1-minute load average {}–{}; the server {} cores, this load generator {} cores",
            opt(mean(other.iter().map(|v| Some(*v)))),
            opt(other.iter().copied().reduce(f64::max)),
            opt(load.iter().copied().reduce(f64::min)),
            opt(load.iter().copied().reduce(f64::max)),
            opt(mean(self.probes.iter().map(|p| p.server_cores))),
            opt(mean(self.probes.iter().map(|p| p.client_cores))),
        );
        let _ = writeln!(
            out,
            "the shard stand-in received: {}",
            if self.shard.is_empty() {
                "nothing".to_owned()
            } else {
                self.shard
                    .iter()
                    .map(|(kind, n)| format!("{n} {kind}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        if !self.errors.is_empty() {
            let _ = writeln!(out, "\nerrors by kind and cause");
            for (key, error) in &self.errors {
                let _ = writeln!(
                    out,
                    "  {:>7}  {key} (first at {:.0} s: {})",
                    error.count, error.first_at_s, error.first
                );
            }
        }
        let _ = writeln!(out, "\ntargets");
        for v in self.verdicts() {
            let _ = writeln!(
                out,
                "  {:<38} {:<34} {:<40} {}",
                v.name,
                v.goal,
                v.actual,
                if v.met { "met" } else { "MISSED" }
            );
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        let (cores, model) = machine();
        let kinds = |minute: &Minute| -> serde_json::Value {
            KINDS
                .iter()
                .map(|kind| {
                    let h = &minute.kinds[*kind as usize];
                    (
                        kind.name().to_owned(),
                        serde_json::json!({
                            "requests": h.total,
                            "p50_ms": h.quantile_ms(0.50),
                            "p99_ms": h.quantile_ms(0.99),
                            "p999_ms": h.quantile_ms(0.999),
                            "max_ms": h.max_ms(),
                        }),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let flat = |f: Option<Flatness>| {
            f.map(|f| {
                serde_json::json!({
                    "after_warmup": f.first, "end": f.last, "median": f.median,
                    "min": f.min, "max": f.max,
                    "below_median_pct": f.below(), "above_median_pct": f.above(),
                    "flat": f.flat(),
                })
            })
        };
        let (rss, fds) = self.flatness();
        let thirds = self.thirds();
        serde_json::json!({
            "scenario": "soak",
            "machine": { "cores": cores, "model": model },
            "backend": self.backend,
            "data": {
                "users": self.rows.users,
                "rooms": self.rows.rooms,
                "entitlements": self.rows.entitlements,
                "stays": self.rows.stays,
                "seeded_users": self.users,
                "active_users": self.active_users,
                "seed_seconds": self.seed_seconds,
            },
            "peak": self.peak.as_ref().map(|p| serde_json::json!({
                "throughput": p.throughput, "p99_ms": p.p99_ms, "errors": p.errors,
                "server_cpu_cores": p.server_cpu, "other_cpu_cores": p.other_cpu,
            })),
            "load": {
                "token_rate": self.rate,
                "tokens_sent": self.tokens_sent,
                "connections": self.connections,
                "duration_seconds": self.duration.as_secs(),
                "warmup_seconds": self.warmup_s(),
                "interval_seconds": INTERVAL.as_secs(),
                "webhooks_per_second": 1.0 / WEBHOOK_EVERY.as_secs_f64(),
                "stats_per_second": 1.0 / STATS_EVERY.as_secs_f64(),
                "moderation_step_seconds": MODERATION_EVERY.as_secs_f64(),
                "kinds": KINDS.iter()
                    .map(|k| (k.name().to_owned(), serde_json::json!(k.what())))
                    .collect::<serde_json::Map<_, _>>(),
            },
            "stats_first_answers_ms": self.first_answers.iter()
                .map(|(name, ms)| ((*name).to_owned(), serde_json::json!(ms)))
                .collect::<serde_json::Map<_, _>>(),
            "intervals": self.intervals.iter().enumerate().map(|(k, _)| {
                let minute = Minute::of(&self.intervals, &self.probes, k..k + 1);
                let probe = self.probes.get(k + 1);
                serde_json::json!({
                    "from_s": minute.from_s,
                    "rss_mib": minute.rss_mib,
                    "fds": minute.fds,
                    "metrics_bytes": probe.and_then(|p| p.metrics_bytes),
                    "load1": minute.load1,
                    "server_cpu_cores": probe.and_then(|p| p.server_cores),
                    "client_cpu_cores": probe.and_then(|p| p.client_cores),
                    "db_cpu_cores": probe.and_then(|p| p.db_cores),
                    "other_cpu_cores": probe.and_then(|p| p.other_cores),
                    "errors": minute.errors,
                    "late_tokens": minute.late,
                    "kinds": kinds(&minute),
                })
            }).collect::<Vec<_>>(),
            "samples": self.probes.iter().map(|p| serde_json::json!({
                "at_s": p.at_s, "rss_mib": p.rss_bytes.map(mib), "fds": p.fds,
                "metrics_bytes": p.metrics_bytes, "load1": p.load1,
            })).collect::<Vec<_>>(),
            "start": self.probes.first().map(|p| serde_json::json!({
                "rss_mib": p.rss_bytes.map(mib), "fds": p.fds, "metrics_bytes": p.metrics_bytes,
            })),
            "after_warmup": {
                "kinds": kinds(&self.judged()),
                "thirds": thirds.iter().map(|t| serde_json::json!({
                    "from_s": t.from_s, "seconds": t.seconds, "kinds": kinds(t),
                })).collect::<Vec<_>>(),
                "rss_mib": flat(rss),
                "fds": flat(fds),
            },
            "errors": self.errors.iter().map(|(key, e)| serde_json::json!({
                "kind_and_cause": key, "count": e.count, "first_at_s": e.first_at_s,
                "first": e.first,
            })).collect::<Vec<_>>(),
            "kicks_accepted": self.kicks_accepted,
            "shard_received": self.shard,
            "targets": self.verdicts().into_iter().map(|v| serde_json::json!({
                "name": v.name, "goal": v.goal, "actual": v.actual, "met": v.met,
            })).collect::<Vec<_>>(),
        })
    }
}

fn opt(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_and_default_to_minutes() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(1_800));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1_800));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3_600));
        assert!(parse_duration("30s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("25h").is_err());
    }

    #[test]
    fn every_value_lands_in_a_bucket_that_holds_it() {
        for ns in (0..100_000u64).chain([1 << 40, u64::MAX / 2, 123_456_789_012]) {
            let index = bucket(ns);
            assert!(bucket_high(index) >= ns, "{ns} above its bucket {index}");
            if index > 0 {
                assert!(bucket_high(index - 1) < ns, "{ns} fits the bucket below");
            }
        }
    }

    #[test]
    fn quantiles_are_within_a_bucket_of_the_exact_ones() {
        let mut histogram = Histogram::default();
        for us in 1..=10_000u64 {
            histogram.record(us * 1_000);
        }
        let p99 = histogram.quantile_ms(0.99).unwrap();
        assert!((9.9..=9.9 * (1.0 + 1.0 / 32.0)).contains(&p99), "{p99}");
        assert_eq!(histogram.max_ms(), Some(10.0));
        let mut merged = Histogram::default();
        merged.merge(&histogram);
        merged.merge(&histogram);
        assert_eq!(merged.total, 20_000);
        assert_eq!(merged.quantile_ms(0.99), Some(p99));
        assert_eq!(Histogram::default().quantile_ms(0.5), None);
    }

    #[test]
    fn flatness_is_judged_against_the_median() {
        let flat = Flatness::of(&[100.0, 104.0, 97.0, 109.0, 101.0]).unwrap();
        assert_eq!(flat.median, 101.0);
        assert!(flat.flat());
        let creeping = Flatness::of(&[100.0, 101.0, 102.0, 103.0, 115.0]).unwrap();
        assert!(!creeping.flat());
        assert!(Flatness::of(&[]).is_none());
    }
}
