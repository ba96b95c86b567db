//! Serving a router on a listener the way an exposed service has to: every connection must
//! send its request headers within a deadline (which also closes idle keep-alive
//! connections), there is a cap on open connections beyond which new ones are answered 503
//! and closed at once, and shutdown drains for a bounded time and then lets go.
//!
//! hyper's own HTTP/1 settings do the timing (`header_read_timeout`, with a timer, starts
//! over whenever a connection waits for a request's head), and hyper-util's graceful
//! shutdown does the draining; this module only joins them to the accept loop, counts, and
//! keeps the cap. Each listener (public, ops) has its own cap, so a flood on the public one
//! never takes the ops listener's health and metrics with it. Request timeouts and the cap
//! on requests in flight are tower layers on the router ([`super::router`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::telemetry::metrics::{ListenerName, Metrics};

/// How one listener serves.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A connection must send a request's headers within this long of being opened or of
    /// finishing its previous response; otherwise it is closed.
    pub header_read_timeout: Duration,
    /// Connections open at once; beyond it, new ones get 503 and are closed.
    pub max_connections: usize,
    /// After the stop signal, open connections have this long to finish their requests.
    pub drain: Duration,
}

/// Serves `router` on `listener` until `stop` resolves, then drains for at most
/// `limits.drain`. Every request carries the peer's address as `ConnectInfo`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    name: ListenerName,
    stop: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: let others finish, then go on.
                    tracing::warn!(%error, listener = name.as_str(), "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            metrics.connection_refused(name);
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        metrics.connection_opened(name);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            metrics.connection_closed(name);
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.drain) => {
            tracing::warn!(
                listener = name.as_str(),
                open = limits.max_connections - open.available_permits(),
                drain_secs = limits.drain.as_secs_f64(),
                "connections still open after the drain; closing them"
            );
        }
    }
}

/// The answer to a connection over the cap, in the API's error envelope.
fn over_capacity() -> String {
    let body =
        r#"{"error":{"code":"unavailable","message":"too many open connections; retry shortly"}}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Answers a connection over the cap and closes it, in bounded time; nothing it sends is
/// read, so nothing it sends can hold the task up.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(over_capacity().as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_over_capacity_answer_is_well_formed() {
        let text = over_capacity();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "unavailable");
    }
}
