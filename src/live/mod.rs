//! Live enforcement: what reaches a video room that is already running.
//!
//! A Jitsi token cannot be taken back once issued, so every change that takes access away
//! (a ban, a revoked entitlement, a refund, a chargeback) is pushed to the Prosody shards,
//! where `mod_roomkey` removes the occupant; kicks and room ends go the same way. The
//! module in turn asks roomkey for [`verdict`]s before a join and reports attendance. The
//! wire protocol is `prosody-plugins/PROTOCOL.md`.
//!
//! Every roomkey instance knows every shard (`prosody.shards`) and sends its own commands
//! to all of them, so no fan-out between instances is needed: the instance that stored
//! the change is the one that announces it, after the cache invalidation has been
//! acknowledged, so the verdict the module asks for next is already the new one.
//!
//! What a shard misses is handled by what the command is. A `revalidate` (access taken
//! away) needs no second chance: the module's periodic reconcile re-asks verdicts for every
//! occupant and gets the same refusal. A `kick` or an `end_room` has nothing the reconcile
//! would find (a kicked viewer may still be entitled), so these are durable: stored for
//! every shard before the API answers, tried at once, and then retried by any instance's
//! worker, across restarts, until the shard takes them or [`DELIVERY_WINDOW_SECS`] has
//! passed. A command given up is kept (`failed_at`), counted as failed in
//! `roomkey_live_commands_total` and logged as an error naming the shard.

mod announce;
pub mod signature;
mod subscriber;
pub mod verdict;

use std::sync::Arc;
use std::time::Duration;

use hyper::Uri;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use serde::Serialize;

use crate::clock::Clock;
use crate::domain::RoomName;
use crate::store::{Outbox, Store, StoreError};
use crate::telemetry::metrics::{CommandOutcome, LiveCommand, Metrics};
pub use signature::{RequestKind, RequestSigner, SignatureError};

type Body = http_body_util::Full<hyper::body::Bytes>;

/// Pause before each further attempt at a shard that did not answer `2xx`, in process.
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(4),
];

/// In-process attempts at a durable command before the worker takes it over.
const DURABLE_RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(200), Duration::from_secs(1)];

/// How long a kick or a room end is worth delivering. A shard remembers the ids of the
/// commands it ran for 120 s and runs a repeated one only once, so a retry after a lost
/// answer must come within that; and a kick delivered much later would remove a viewer
/// who has rightly come back since.
pub const DELIVERY_WINDOW_SECS: i64 = 110;

/// Commands the worker tries per pass.
const WORKER_BATCH: i64 = 100;

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Command<'a> {
    Kick {
        room: &'a str,
        user_id: &'a str,
        reason: &'a str,
    },
    Revalidate {
        user_id: &'a str,
        reason: &'a str,
    },
    EndRoom {
        room: &'a str,
        reason: &'a str,
    },
    /// A line every occupant's Jitsi Meet shows in its chat (see `announce.rs`).
    Announce {
        room: &'a str,
        message: &'a str,
        display_name: &'a str,
    },
}

impl Command<'_> {
    fn label(&self) -> LiveCommand {
        match self {
            Command::Kick { .. } => LiveCommand::Kick,
            Command::Revalidate { .. } => LiveCommand::Revalidate,
            Command::EndRoom { .. } => LiveCommand::EndRoom,
            Command::Announce { .. } => LiveCommand::Announce,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The command could not be stored, so nothing was sent.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Serialize)]
struct Envelope<'a> {
    id: String,
    #[serde(flatten)]
    command: &'a Command<'a>,
}

pub struct LiveEnforcer {
    store: Store,
    signer: Arc<RequestSigner>,
    shards: Arc<[Uri]>,
    client: Client<HttpConnector, Body>,
    timeout: Duration,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
}

impl LiveEnforcer {
    /// `shards` are the module base URLs (validated by the config); commands go to
    /// `<shard>/commands`.
    pub fn new(
        store: Store,
        signer: RequestSigner,
        shards: &[String],
        timeout: Duration,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let shards = shards
            .iter()
            .map(|base| {
                format!("{}/commands", base.trim_end_matches('/'))
                    .parse::<Uri>()
                    .map_err(|e| anyhow::anyhow!("prosody.shards: {base}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        Ok(Self {
            store,
            signer: Arc::new(signer),
            shards: shards.into(),
            client: Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector),
            timeout,
            clock,
            metrics,
        })
    }

    pub fn signer(&self) -> &RequestSigner {
        &self.signer
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Removes `user_id` from `room` now; they may come back with a valid verdict. Stored
    /// for every shard before this returns (see the module doc).
    pub async fn kick(
        &self,
        room: &RoomName,
        user_id: &str,
        reason: &str,
    ) -> Result<(), LiveError> {
        self.send_durably(&Command::Kick {
            room: room.as_str(),
            user_id,
            reason,
        })
        .await
    }

    /// Access was taken from `user_id`: every shard re-asks for each room they are in.
    pub fn revalidate(&self, user_id: &str, reason: &str) {
        self.send(&Command::Revalidate { user_id, reason });
    }

    /// Closes `room` on every shard; stored like a kick.
    pub async fn end_room(&self, room: &RoomName, reason: &str) -> Result<(), LiveError> {
        self.send_durably(&Command::EndRoom {
            room: room.as_str(),
            reason,
        })
        .await
    }

    fn body_of(command: &Command<'_>) -> hyper::body::Bytes {
        Self::body_with_id(crate::ids::random_uuid().to_string(), command)
    }

    /// A command under a chosen id: a shard runs a repeated id once (within its memory).
    fn body_with_id(id: String, command: &Command<'_>) -> hyper::body::Bytes {
        serde_json::to_vec(&Envelope { id, command })
            .expect("commands serialise")
            .into()
    }

    fn delivery(&self, shard: Uri, body: hyper::body::Bytes) -> Delivery {
        Delivery {
            shard,
            body,
            signer: self.signer.clone(),
            client: self.client.clone(),
            timeout: self.timeout,
            clock: self.clock.clone(),
        }
    }

    /// Stores the command for every shard, then tries each at once in the background; a
    /// shard that does not take it is left to the worker ([`Self::try_once`]).
    async fn send_durably(&self, command: &Command<'_>) -> Result<(), LiveError> {
        self.send_durably_as(Self::body_of(command), command.label())
            .await
    }

    /// [`Self::send_durably`] for a body already made (with its id).
    async fn send_durably_as(
        &self,
        body: hyper::body::Bytes,
        label: LiveCommand,
    ) -> Result<(), LiveError> {
        if self.shards.is_empty() {
            return Ok(());
        }
        let text = std::str::from_utf8(&body).expect("JSON is UTF-8");
        let now = self.clock.now();
        let shards: Vec<String> = self.shards.iter().map(Uri::to_string).collect();
        // Held by this instance while it makes the first attempts.
        let held_until = now + 10;
        let seqs = self
            .store
            .insert_live_commands(&shards, label.as_str(), text, now, held_until)
            .await?;
        for (shard, seq) in self.shards.iter().zip(seqs) {
            let delivery = self.delivery(shard.clone(), body.clone());
            let store = self.store.clone();
            let metrics = self.metrics.clone();
            let clock = self.clock.clone();
            tokio::spawn(async move {
                let result = match delivery.run(&DURABLE_RETRY_DELAYS).await {
                    Ok(()) => {
                        metrics.live_command(label, CommandOutcome::Delivered);
                        store.delete_outbox_row(Outbox::Live, seq).await
                    }
                    Err(problem) => {
                        tracing::warn!(shard = %delivery.shard, %problem, "a Prosody shard did not take a command yet; it stays queued");
                        store
                            .update_outbox_row_failure(
                                Outbox::Live,
                                seq,
                                &problem,
                                clock.now() + 1,
                                None,
                            )
                            .await
                    }
                };
                if let Err(error) = result {
                    tracing::warn!(%error, "recording a command's delivery failed; the worker will try it again");
                }
            });
        }
        Ok(())
    }

    /// Retries stored commands until `shutdown`, every second.
    pub async fn run(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        if self.shards.is_empty() {
            return;
        }
        loop {
            if let Err(error) = self.try_once().await {
                tracing::warn!(%error, "reading the shard command queue failed");
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// One attempt at each command due now; gives up those older than
    /// [`DELIVERY_WINDOW_SECS`]. Returns how many were delivered.
    pub async fn try_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut delivered = 0;
        for row in self.store.find_due_live_commands(now, WORKER_BATCH).await? {
            if !self
                .store
                .claim_outbox_row(Outbox::Live, row.seq, now, now + 30)
                .await?
            {
                continue;
            }
            let label = LiveCommand::parse(&row.kind).unwrap_or(LiveCommand::Kick);
            if now - row.created_at >= DELIVERY_WINDOW_SECS {
                tracing::error!(
                    shard = %row.shard,
                    command = row.kind.as_str(),
                    attempts = row.attempts,
                    "gave up on a command a Prosody shard never took; whoever it was for may still be in the room"
                );
                self.metrics.live_command(label, CommandOutcome::Failed);
                self.store
                    .update_outbox_row_failure(Outbox::Live, row.seq, "gave up", now, Some(now))
                    .await?;
                continue;
            }
            let Ok(shard) = row.shard.parse::<Uri>() else {
                self.store
                    .update_outbox_row_failure(
                        Outbox::Live,
                        row.seq,
                        "bad shard URL",
                        now,
                        Some(now),
                    )
                    .await?;
                continue;
            };
            let delivery = self.delivery(shard, row.body.clone().into());
            match delivery.attempt().await {
                Ok(()) => {
                    self.metrics.live_command(label, CommandOutcome::Delivered);
                    self.store.delete_outbox_row(Outbox::Live, row.seq).await?;
                    delivered += 1;
                }
                Err(problem) => {
                    let backoff = 1_i64 << row.attempts.clamp(0, 4);
                    self.store
                        .update_outbox_row_failure(
                            Outbox::Live,
                            row.seq,
                            &problem,
                            now + backoff,
                            None,
                        )
                        .await?;
                }
            }
        }
        Ok(delivered)
    }

    /// Serialises once and delivers to every shard in the background, each with retries;
    /// what a shard misses, its reconcile mends (see the module doc).
    fn send(&self, command: &Command<'_>) {
        if self.shards.is_empty() {
            return;
        }
        let label = command.label();
        let body = Self::body_of(command);
        for shard in self.shards.iter() {
            let delivery = self.delivery(shard.clone(), body.clone());
            let metrics = self.metrics.clone();
            tokio::spawn(async move {
                let outcome = match delivery.run(&RETRY_DELAYS).await {
                    Ok(()) => CommandOutcome::Delivered,
                    Err(problem) => {
                        tracing::warn!(shard = %delivery.shard, %problem, "a Prosody shard did not take a revalidation; its reconcile will re-ask the verdicts");
                        CommandOutcome::Failed
                    }
                };
                metrics.live_command(label, outcome);
            });
        }
    }
}

struct Delivery {
    shard: Uri,
    body: hyper::body::Bytes,
    signer: Arc<RequestSigner>,
    client: Client<HttpConnector, Body>,
    timeout: Duration,
    clock: Arc<dyn Clock>,
}

impl Delivery {
    /// Attempts now and after each of `delays`; the last problem when none took.
    async fn run(&self, delays: &[Duration]) -> Result<(), String> {
        let mut delays = delays.iter();
        loop {
            let problem = match self.attempt().await {
                Ok(()) => return Ok(()),
                Err(problem) => problem,
            };
            let Some(delay) = delays.next() else {
                return Err(problem);
            };
            tracing::debug!(shard = %self.shard, %problem, "retrying a command");
            tokio::time::sleep(*delay).await;
        }
    }

    async fn attempt(&self) -> Result<(), String> {
        let now = self.clock.now();
        let signature = self.signer.sign(RequestKind::Command, now, &self.body);
        let request = hyper::Request::post(self.shard.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(signature::TIMESTAMP_HEADER, now.to_string())
            .header(signature::SIGNATURE_HEADER, signature)
            .body(Body::new(self.body.clone()))
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Err(_) => Err("timed out".into()),
            Ok(Err(error)) => Err(error.to_string()),
            Ok(Ok(response)) if response.status().is_success() => Ok(()),
            Ok(Ok(response)) => Err(format!("answered {}", response.status())),
        }
    }
}
