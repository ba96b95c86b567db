//! ePayco's transaction lookup (`GET /validation/v1/reference/{ref_payco}`), standing in
//! for ePayco's servers, which cannot run here. It answers in the real API's shape
//! (`{"success": true, "data": {"x_ref_payco": 123, "x_amount": 50000, …}}`, numbers where
//! the API sends numbers) whatever the test recorded as the transaction's true state.
//!
//! One server serves every test: it runs on its own thread (each `#[tokio::test]` has its
//! own runtime, which ends with the test), and each app gets its own namespace in the path,
//! so parallel tests that reuse a reference never see each other's transactions.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Map, Value};

type RecordTable = Arc<Mutex<BTreeMap<(String, String), Value>>>;

struct Server {
    address: std::net::SocketAddr,
    records: RecordTable,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let records: RecordTable = Arc::default();
        let shared = records.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                use axum::extract::Path;
                let router = axum::Router::new().route(
                    "/{namespace}/validation/v1/reference/{reference}",
                    axum::routing::get(
                        move |Path((namespace, reference)): Path<(String, String)>| {
                            let record =
                                shared.lock().unwrap().get(&(namespace, reference)).cloned();
                            async move {
                                axum::Json(record.unwrap_or_else(|| {
                                    json!({"success": false, "title_response": "Error",
                                       "text_response": "Referencia no encontrada", "data": {}})
                                }))
                            }
                        },
                    ),
                );
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, router).await.unwrap();
            });
        });
        Server { address, records }
    })
}

/// A fresh namespace's lookup URL, for `payments.epayco.validation_url`.
pub fn new_validation_url() -> String {
    format!(
        "http://{}/{}/validation/v1/reference",
        server().address,
        uuid::Uuid::new_v4().simple()
    )
}

/// ePayco's records behind one app's `validation_url`.
pub struct Records<'a> {
    namespace: &'a str,
}

impl<'a> Records<'a> {
    pub fn behind(validation_url: &'a str) -> Self {
        let namespace = validation_url
            .trim_start_matches("http://")
            .split('/')
            .nth(1)
            .expect("a validation URL from new_validation_url");
        Self { namespace }
    }

    /// The transaction as ePayco knows it: the fields of a genuine confirmation, with the
    /// numeric ones as numbers.
    pub fn record(&self, fields: &BTreeMap<String, String>) {
        let mut data = Map::new();
        for (key, value) in fields {
            if key == "x_signature" {
                continue;
            }
            let numeric = matches!(
                key.as_str(),
                "x_ref_payco" | "x_amount" | "x_cod_transaction_state" | "x_cod_response"
            );
            let value = if numeric {
                value
                    .parse::<u64>()
                    .map(Value::from)
                    .or_else(|_| value.parse::<f64>().map(Value::from))
                    .unwrap_or_else(|_| json!(value))
            } else {
                json!(value)
            };
            data.insert(key.clone(), value);
        }
        let reference = fields["x_ref_payco"].clone();
        server().records.lock().unwrap().insert(
            (self.namespace.to_owned(), reference),
            json!({"success": true, "title_response": "Transaccion consultada", "data": data}),
        );
    }

    /// ePayco's record of `ref_payco` says `state`, for `amount` in `currency`.
    pub fn set(&self, ref_payco: &str, state: u32, amount: f64, currency: &str) {
        server().records.lock().unwrap().insert(
            (self.namespace.to_owned(), ref_payco.to_owned()),
            json!({"success": true, "title_response": "Transaccion consultada", "data": {
                "x_ref_payco": ref_payco.parse::<u64>().unwrap(), "x_transaction_id": format!("tx{ref_payco}"),
                "x_amount": amount, "x_currency_code": currency, "x_cod_transaction_state": state,
                "x_cod_response": state, "x_response": "Aceptada", "x_test_request": "FALSE",
                "x_signature": "0000", "x_franchise": "VS"}}),
        );
    }
}
