//! The one HTTP client roomkey calls other services with (Synapse, Mastodon, ePayco's
//! transaction lookup): HTTP/1.1, plain on loopback or private networks and TLS with the
//! webpki roots elsewhere, one deadline per exchange covering connect, headers and body,
//! and a cap on how much of an answer is read.

use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use serde_json::Value;

/// Largest answer read; the services' answers are a few kilobytes.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// No answer was had: the call may be tried again.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("no answer in time")]
    Timeout,
    #[error("{0}")]
    Transport(String),
}

/// A service's answer: its status and its body as JSON (`Null` when it is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

#[derive(Clone)]
pub struct JsonClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl JsonClient {
    pub fn new(timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Self {
            client: Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector),
            timeout,
        }
    }

    /// One exchange: `body`, when given, is sent as JSON.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, OutboundError> {
        let body = body.map(|body| ("application/json", Bytes::from(body.to_string())));
        self.exchange(method, url, headers, body).await
    }

    /// A `POST` of an `application/x-www-form-urlencoded` body (already encoded).
    pub async fn post_form(&self, url: &str, form: String) -> Result<Answer, OutboundError> {
        let body = Some(("application/x-www-form-urlencoded", Bytes::from(form)));
        self.exchange(Method::POST, url, &[], body).await
    }

    async fn exchange(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<(&'static str, Bytes)>,
    ) -> Result<Answer, OutboundError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| OutboundError::Transport(format!("bad URL: {e}")))?;
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let bytes = match body {
            Some((content_type, bytes)) => {
                request = request.header(hyper::header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        let request = request
            .body(Full::new(bytes))
            .map_err(|e| OutboundError::Transport(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| OutboundError::Transport(e.to_string()))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| OutboundError::Transport(e.to_string()))?
                .to_bytes();
            Ok(Answer {
                status,
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| OutboundError::Timeout)?
    }
}
