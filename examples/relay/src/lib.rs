//! Canopy's relay: the server the browser SDK exports to.
//!
//! It receives OTLP/HTTP traces and logs (JSON from the SDK, protobuf from backend SDKs, plain or gzip,
//! and the SDK's `sendBeacon` fallback), checks them against strict rules and limits, corrects
//! browser clock skew, and forwards them to Honeycomb or any OTLP/HTTP endpoint with the API key
//! kept server-side (log records also to CloudWatch Logs). Without a key or upstream it keeps recent traces in memory and serves a
//! trace viewer. It faces the open internet: CORS allow-list, size and rate limits, timeouts for
//! slow clients, no open proxying.
//!
//! ```ignore
//! let state = AppState::new(Config::default())?;
//! let router = app(state); // drive it with tower::ServiceExt::oneshot, or:
//! canopy_relay::serve(TcpListener::bind("127.0.0.1:0").await?, state, shutdown).await;
//! ```

mod app;
mod body;
pub mod cloudwatch;
mod config;
mod copies;
mod cors;
pub mod decode;
mod error;
pub mod forward;
mod ingest;
mod metrics;
pub mod model;
mod ratelimit;
mod recent;
pub mod rollbar;
mod server;
pub mod shutdown;
pub mod skew;
mod store;
mod tree;
pub mod validate;
mod view;
mod viewer;
mod worker;
pub mod xray;

pub use app::{AppState, LOGS_PATH, TRACES_PATH, admin_app, app};
pub use cloudwatch::CloudWatchConfig;
pub use config::{Args, Config, HONEYCOMB_EU, HONEYCOMB_US, Region, Secret};
pub use cors::SDK_HEADERS;
pub use error::{ConfigError, Encoding, Reject, StartError};
pub use forward::{RetryPolicy, Upstream};
pub use rollbar::{ROLLBAR_ITEM_URL, RollbarConfig};
pub use server::{ClientAddr, run, serve, serve_admin};
pub use validate::Limits;
