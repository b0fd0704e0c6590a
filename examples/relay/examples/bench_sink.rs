//! A minimal OTLP/HTTP sink for the load test: answers every `POST /v1/traces` with 200 and an
//! empty protobuf `ExportTraceServiceResponse`, and counts what it got.
//!
//! ```sh
//! cargo run -p canopy-relay --release --example bench_sink -- 127.0.0.1:0
//! ```

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::routing::{get, post};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    bytes: AtomicU64,
}

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    let counts = Arc::new(Counts::default());
    let app = Router::new()
        .route(
            "/v1/traces",
            post(|State(c): State<Arc<Counts>>, body: Bytes| async move {
                c.requests.fetch_add(1, Relaxed);
                c.bytes.fetch_add(body.len() as u64, Relaxed);
                ([(header::CONTENT_TYPE, "application/x-protobuf")], Bytes::new())
            }),
        )
        .route(
            "/counts",
            get(|State(c): State<Arc<Counts>>| async move {
                format!("requests {}\nbytes {}\n", c.requests.load(Relaxed), c.bytes.load(Relaxed))
            }),
        )
        .with_state(counts);
    println!("sink listening on http://{}", listener.local_addr().expect("addr"));
    axum::serve(listener, app).await.expect("serve");
}
