//! What runs beside the request handlers: key reloads, the payment reconcile, and the
//! workers of the change, Prosody, Matrix, Mastodon and back-channel logout outboxes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::changes::Dispatcher;
use crate::config::Config;
use crate::http::state::Services;
use crate::tokens::Keyring;

/// Starts every background task; they stop when `shutdown` turns true.
pub(super) fn start(
    config: &Config,
    state: &Arc<Services>,
    keyring: &Arc<Keyring>,
    changes: Arc<Dispatcher>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut background = vec![spawn_key_reloader(
        keyring.clone(),
        config.keys.reload_secs,
        shutdown.clone(),
    )];
    if config.payments.reconcile_interval_secs > 0 && !config.payments.epayco.customer_id.is_empty()
    {
        background.push(spawn_payment_reconciler(
            state.clone(),
            config.payments.reconcile_interval_secs,
            shutdown.clone(),
        ));
    }
    if state.mastodon.is_enabled() {
        background.push(tokio::spawn(state.mastodon.clone().run(shutdown.clone())));
    }
    background.push(tokio::spawn(state.live.clone().run(shutdown.clone())));
    background.push(tokio::spawn(changes.run(shutdown.clone())));
    background.push(tokio::spawn(state.logouts.clone().run(shutdown.clone())));
    if config.calls.meter_interval_secs > 0 {
        background.push(tokio::spawn(state.calls.clone().run(shutdown.clone())));
    }
    if state.matrix.is_enabled() {
        background.push(tokio::spawn(state.matrix.clone().run(shutdown)));
    }
    background
}

/// Runs `task` every `every_secs`, first one interval after start, until shutdown.
fn spawn_every<F, Fut>(
    every_secs: u64,
    mut shutdown: watch::Receiver<bool>,
    mut task: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(every_secs));
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = ticker.tick() => task().await,
            }
        }
    })
}

fn spawn_key_reloader(
    keyring: Arc<Keyring>,
    every_secs: u64,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    spawn_every(every_secs, shutdown, move || {
        let keyring = keyring.clone();
        async move {
            if let Err(error) = keyring.reload() {
                tracing::error!(error = %format!("{error:#}"), "reloading signing keys failed; keeping the current set");
            }
        }
    })
}

/// Re-checks payments left pending with the provider.
fn spawn_payment_reconciler(
    state: Arc<Services>,
    every_secs: u64,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    spawn_every(every_secs, shutdown, move || {
        let state = state.clone();
        async move {
            match state.payments.reconcile_pending().await {
                Ok(report) if report.checked > 0 => tracing::info!(
                    checked = report.checked,
                    changed = report.changed,
                    failed = report.failed,
                    "reconciled pending payments"
                ),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "reconciling pending payments failed; trying again next interval")
                }
            }
        }
    })
}

pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
