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
//! acknowledged, so the verdict the module asks for next is already the new one. A shard
//! that misses a command (down, or partitioned) catches up through the module's periodic
//! reconcile.

pub mod signature;
pub mod verdict;

use std::sync::Arc;
use std::time::Duration;

use hyper::Uri;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use serde::Serialize;

use crate::clock::Clock;
use crate::domain::RoomName;
use crate::telemetry::metrics::{CommandOutcome, LiveCommand, Metrics};
pub use signature::{RequestKind, RequestSigner, SignatureError};

type Body = http_body_util::Full<hyper::body::Bytes>;

/// Pause before each further attempt at a shard that did not answer `2xx`.
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(4),
];

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
}

impl Command<'_> {
    fn label(&self) -> LiveCommand {
        match self {
            Command::Kick { .. } => LiveCommand::Kick,
            Command::Revalidate { .. } => LiveCommand::Revalidate,
            Command::EndRoom { .. } => LiveCommand::EndRoom,
        }
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    id: String,
    #[serde(flatten)]
    command: &'a Command<'a>,
}

pub struct LiveEnforcer {
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

    /// Removes `user_id` from `room` now; they may come back with a valid verdict.
    pub fn kick(&self, room: &RoomName, user_id: &str, reason: &str) {
        self.send(&Command::Kick {
            room: room.as_str(),
            user_id,
            reason,
        });
    }

    /// Access was taken from `user_id`: every shard re-asks for each room they are in.
    pub fn revalidate(&self, user_id: &str, reason: &str) {
        self.send(&Command::Revalidate { user_id, reason });
    }

    /// Closes `room` on every shard.
    pub fn end_room(&self, room: &RoomName, reason: &str) {
        self.send(&Command::EndRoom {
            room: room.as_str(),
            reason,
        });
    }

    /// Serialises once and delivers to every shard in the background, each with retries.
    fn send(&self, command: &Command<'_>) {
        if self.shards.is_empty() {
            return;
        }
        let label = command.label();
        let body: hyper::body::Bytes = serde_json::to_vec(&Envelope {
            id: crate::ids::random_uuid().to_string(),
            command,
        })
        .expect("commands serialise")
        .into();
        for shard in self.shards.iter() {
            let delivery = Delivery {
                shard: shard.clone(),
                body: body.clone(),
                signer: self.signer.clone(),
                client: self.client.clone(),
                timeout: self.timeout,
                clock: self.clock.clone(),
            };
            let metrics = self.metrics.clone();
            tokio::spawn(async move {
                let outcome = delivery.run().await;
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
    async fn run(self) -> CommandOutcome {
        let mut delays = RETRY_DELAYS.iter();
        loop {
            let problem = match self.attempt().await {
                Ok(()) => return CommandOutcome::Delivered,
                Err(problem) => problem,
            };
            let Some(delay) = delays.next() else {
                tracing::warn!(shard = %self.shard, %problem, "a Prosody shard did not take a command; its reconcile will catch up");
                return CommandOutcome::Failed;
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
