//! The router and the state its handlers share.

use crate::config::Config;
use crate::cors::{self, Cors};
use crate::error::{ConfigError, Reject};
use crate::forward::Forwarder;
use crate::metrics::Metrics;
use crate::ratelimit::{ClientSlots, RateLimiter};
use crate::server::{ClientAddr, MAX_HEAD_BYTES};
use crate::store::{Store, StoreLimits};
use crate::{ingest, viewer};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// The path the SDK posts spans to (and the OTLP/HTTP default).
pub const TRACES_PATH: &str = "/v1/traces";
/// The path the SDK posts log records to.
pub const LOGS_PATH: &str = "/v1/logs";

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Relay>);

pub struct Relay {
    pub config: Config,
    pub metrics: Arc<Metrics>,
    pub store: Option<Store>,
    pub forwarder: Option<Forwarder>,
    /// Sends exceptions to Rollbar (`ROLLBAR_ACCESS_TOKEN`).
    pub rollbar: Option<crate::rollbar::Rollbar>,
    pub limiter: RateLimiter,
    /// Spans and bytes (after gzip) per client.
    pub span_budget: RateLimiter,
    pub byte_budget: RateLimiter,
    /// Requests in flight per client.
    pub clients: ClientSlots,
    pub cors: Arc<Cors>,
    /// Requests being processed (taken once the body is in, given back before forwarding).
    pub in_flight: Arc<Semaphore>,
    /// CPU work at once on the blocking pool (one per core).
    pub cpu: Semaphore,
    /// Bytes of request bodies in memory at once (charged as they arrive).
    pub body_bytes: Arc<Semaphore>,
    /// Bytes of upstream payloads waiting on the upstream at once (`CANOPY_MAX_FORWARD_BYTES`).
    pub forward_bytes: Arc<Semaphore>,
    /// Sends spans to the X-Ray daemon (`CANOPY_XRAY_DAEMON`).
    pub xray: Option<crate::xray::XRay>,
    /// Sends log records to CloudWatch Logs (`CANOPY_CLOUDWATCH_LOG_GROUP`).
    pub cloudwatch: Option<crate::cloudwatch::CloudWatch>,
    /// Requests delivered recently, whose copies are not forwarded again.
    pub copies: crate::copies::Copies,
}

/// The client's address for budgets: the peer, or the configured header's (set by
/// [`rate_limit`] for the traces route).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

impl Deref for AppState {
    type Target = Relay;

    fn deref(&self) -> &Relay {
        &self.0
    }
}

impl AppState {
    pub fn new(config: Config) -> Result<AppState, ConfigError> {
        let metrics = Arc::new(Metrics::default());
        let forwarder = match &config.upstream {
            Some(u) => Some(Forwarder::new(u.clone(), config.retry.clone(), metrics.clone())?),
            None => None,
        };
        Ok(AppState(Arc::new(Relay {
            store: config.store.then(|| {
                Store::new(StoreLimits {
                    max_traces: config.store_traces,
                    max_spans: config.store_spans,
                    max_bytes: config.store_bytes,
                    max_trace_bytes: config.store_trace_bytes,
                })
            }),
            forwarder,
            rollbar: config
                .rollbar
                .as_ref()
                .map(|r| crate::rollbar::Rollbar::start(r, metrics.rollbar.clone()))
                .transpose()?,
            xray: config.xray_daemon.map(|d| crate::xray::XRay::start(d, metrics.clone())).transpose()?,
            cloudwatch: config
                .cloudwatch
                .as_ref()
                .map(|c| crate::cloudwatch::CloudWatch::start(c, metrics.cloudwatch.clone()))
                .transpose()?,
            copies: crate::copies::Copies::default(),
            limiter: RateLimiter::new(config.rate_limit, u64::from(config.rate_burst)),
            span_budget: RateLimiter::new(config.client_span_rate, config.client_span_burst),
            byte_budget: RateLimiter::new(config.client_byte_rate, config.client_byte_burst),
            clients: ClientSlots::new(config.max_in_flight_per_client, config.max_body_bytes_per_client()),
            cors: Arc::new(Cors::new(&config.allowed_origins, &cors_headers(&config))?),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            cpu: Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
            body_bytes: Arc::new(Semaphore::new(config.max_body_bytes_in_flight.min(Semaphore::MAX_PERMITS))),
            forward_bytes: Arc::new(Semaphore::new(config.max_forward_bytes.clamp(1, Semaphore::MAX_PERMITS))),
            metrics,
            config,
        })))
    }
}

impl AppState {
    /// Lets the background exporters send what they hold, within `grace` (on shutdown).
    pub async fn close(&self, grace: std::time::Duration) {
        let rollbar = async {
            if let Some(r) = &self.rollbar {
                r.close(grace).await;
            }
        };
        let xray = async {
            if let Some(x) = &self.xray {
                x.close(grace).await;
            }
        };
        let cloudwatch = async {
            if let Some(c) = &self.cloudwatch {
                c.close(grace).await;
            }
        };
        tokio::join!(rollbar, xray, cloudwatch);
    }
}

/// The relay's routes: `POST /v1/traces`, `POST /v1/logs`, `/healthz`, and, unless
/// `CANOPY_ADMIN_LISTEN` gives
/// them a listener of their own ([`admin_app`]), the viewer (when traces are kept) and
/// `/metrics`.
pub fn app(state: AppState) -> Router {
    // Both signals behind the same layers: one rate limit, one CORS policy, one count.
    let traces = Router::new()
        .route(TRACES_PATH, post(ingest::traces))
        .route(LOGS_PATH, post(ingest::logs))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(middleware::from_fn_with_state(state.cors.clone(), cors::layer))
        .layer(middleware::from_fn_with_state(state.clone(), count));
    let router = Router::new().merge(traces);
    let router = if state.config.admin_listen.is_some() { router } else { router.merge(admin_routes(&state)) };
    finish(router, state)
}

/// The routes for `CANOPY_ADMIN_LISTEN`: the viewer (when traces are kept), `/metrics`,
/// `/healthz`.
pub fn admin_app(state: AppState) -> Router {
    finish(admin_routes(&state), state)
}

fn admin_routes(state: &AppState) -> Router<AppState> {
    let viewer = if state.store.is_some() {
        Router::new()
            .route("/", get(viewer::page))
            .route("/viewer.js", get(viewer::script))
            .route("/viewer.css", get(viewer::style))
            .route("/api/traces", get(viewer::list))
            .route("/api/traces/{id}", get(viewer::trace))
    } else {
        Router::new().route("/", get(|| async { "canopy-relay: forwarding; the viewer is off (see --tee)\n" }))
    };
    viewer.route("/metrics", get(metrics)).layer(middleware::from_fn_with_state(state.clone(), viewer::guard))
}

fn finish(router: Router<AppState>, state: AppState) -> Router {
    router
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { Reject::NotFound(format!("not found; OTLP goes to POST {TRACES_PATH} or {LOGS_PATH}")) })
        .layer(middleware::from_fn(nosniff))
        .layer(middleware::from_fn(head_size))
        .with_state(state)
}

/// 431 for a request whose line and headers are over [`MAX_HEAD_BYTES`] (as sent: each header
/// `name: value` and its line end).
async fn head_size(req: Request, next: Next) -> Response {
    let line = req.method().as_str().len() + req.uri().to_string().len() + 11;
    let headers: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if line + headers > MAX_HEAD_BYTES {
        return Reject::HeadTooLarge { max: MAX_HEAD_BYTES }.into_response();
    }
    next.run(req).await
}

/// `X-Content-Type-Options: nosniff` on every answer (JSON and OTLP included).
async fn nosniff(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

async fn metrics(State(app): State<AppState>) -> Response {
    let text = app.metrics.render(app.store.as_ref().map(Store::stats));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Counts export responses by status (403s and 429s included).
async fn count(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    app.metrics.request(res.status().as_u16());
    res
}

/// The headers CORS lets browsers send: the operator's, plus the token header when one is set.
fn cors_headers(config: &Config) -> Vec<String> {
    let mut headers = config.allow_headers.clone();
    if config.ingest_token.is_some() {
        headers.push(ingest::TOKEN_HEADER.to_owned());
    }
    headers
}

async fn rate_limit(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ClientAddr>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let named = client_ip(req.headers(), app.config.client_ip_header.as_ref());
    if let (None, Some(name)) = (named, &app.config.client_ip_header) {
        // Every client behind the proxy would share its budgets: say so (once a second at most).
        static LOG: crate::ingest::Throttle = crate::ingest::Throttle::new();
        if let Some(also) = LOG.pass() {
            tracing::warn!(%peer, also, "no client address in {name}: the request counts as the proxy's");
        }
    }
    let ip = named.unwrap_or(peer);
    req.extensions_mut().insert(ClientIp(ip));
    match app.limiter.check(ip, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let secs = wait.as_secs_f64().ceil() as u64;
            Reject::RateLimited { ip, secs }.into_response()
        }
    }
}

/// The rightmost address in the configured header (what the nearest proxy saw), with or without
/// a port (`203.0.113.5:4711`, `[2001:db8::1]:4711`, as some proxies write it).
fn client_ip(headers: &HeaderMap, name: Option<&HeaderName>) -> Option<IpAddr> {
    let value = headers.get_all(name?).iter().filter_map(|v| v.to_str().ok()).next_back()?;
    let last = value.rsplit(',').next()?.trim();
    last.parse().ok().or_else(|| last.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ip_from_header() {
        let name = HeaderName::from_static("x-forwarded-for");
        let mut h = HeaderMap::new();
        assert_eq!(client_ip(&h, Some(&name)), None);
        h.insert(&name, "203.0.113.9, 10.0.0.1".parse().unwrap());
        assert_eq!(client_ip(&h, Some(&name)), Some("10.0.0.1".parse().unwrap()), "the rightmost");
        assert_eq!(client_ip(&h, None), None, "no header configured: the peer");
        h.insert(&name, "10.0.0.1, 203.0.113.5:4711".parse().unwrap());
        assert_eq!(client_ip(&h, Some(&name)), Some("203.0.113.5".parse().unwrap()), "with a port");
        h.insert(&name, "[2001:db8::1]:4711".parse().unwrap());
        assert_eq!(client_ip(&h, Some(&name)), Some("2001:db8::1".parse().unwrap()));
        h.insert(&name, "garbage".parse().unwrap());
        assert_eq!(client_ip(&h, Some(&name)), None);
    }
}
