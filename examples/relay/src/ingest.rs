//! `POST /v1/traces` and `POST /v1/logs`: read, decode, validate, correct skew, keep and/or
//! forward. One path for both signals; what differs is in [`Received`]'s two implementations.

use crate::app::{AppState, ClientIp};
use crate::config::Secret;
use crate::copies::Seen;
use crate::decode::{self, BodyKind, Format};
use crate::error::{Encoding, Reject};
use crate::forward::{self, Outcome};
use crate::model::{
    ExportLogsServiceRequest, ExportRequest, ExportTracePartialSuccess, ExportTraceServiceRequest,
    ExportTraceServiceResponse, Signal,
};
use crate::{body, skew, tree, validate, view};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use prost::Message;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The header that carries the ingest token (`CANOPY_INGEST_TOKEN`).
pub const TOKEN_HEADER: &str = "x-canopy-token";

/// What each signal does with a request that passed the shared checks.
trait Received: ExportRequest {
    /// The signal's rules (see [`validate`]); the item count.
    fn validate(&self, limits: &validate::Limits) -> Result<usize, Reject>;
    fn correct_skew(&mut self, offset_ms: i64);
    /// Keeps the request for the viewer, when the relay keeps traces. Done when it is received:
    /// the store keeps a span (or log record) once, so a batch sent again adds nothing.
    fn keep(&self, app: &AppState);
    /// Whether an exporter beside the upstream takes this signal.
    fn exported(app: &AppState) -> bool;
    /// Hands the request to the exporters that run beside the upstream; never waits. Only for
    /// a request the client will not send again (they do not all recognise a copy).
    fn export(&self, app: &AppState);
}

impl Received for ExportTraceServiceRequest {
    fn validate(&self, limits: &validate::Limits) -> Result<usize, Reject> {
        validate::validate(self, limits)
    }

    fn correct_skew(&mut self, offset_ms: i64) {
        skew::apply(self, offset_ms);
    }

    fn keep(&self, app: &AppState) {
        keep(app, self);
    }

    fn exported(app: &AppState) -> bool {
        app.rollbar.is_some() || app.xray.is_some()
    }

    fn export(&self, app: &AppState) {
        // Queued for the Rollbar sender task: ingest never waits on Rollbar.
        if let Some(rollbar) = &app.rollbar {
            rollbar.submit(self);
        }
        if let Some(xray) = &app.xray {
            xray.export(self, SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64));
        }
    }
}

impl Received for ExportLogsServiceRequest {
    fn validate(&self, limits: &validate::Limits) -> Result<usize, Reject> {
        validate::validate_logs(self, limits)
    }

    fn correct_skew(&mut self, offset_ms: i64) {
        skew::apply_logs(self, offset_ms);
    }

    fn keep(&self, app: &AppState) {
        // Beside their spans in the viewer, when the relay keeps traces.
        if let Some(store) = &app.store {
            store.insert_logs(view::logs(self));
        }
    }

    fn exported(app: &AppState) -> bool {
        app.cloudwatch.is_some()
    }

    fn export(&self, app: &AppState) {
        // Queued for the CloudWatch Logs sender task: ingest never waits on AWS.
        if let Some(cloudwatch) = &app.cloudwatch {
            cloudwatch.submit(self);
        }
    }
}

/// `POST /v1/traces`.
pub async fn traces(State(app): State<AppState>, req: Request) -> Response {
    export::<ExportTraceServiceRequest>(app, req).await
}

/// `POST /v1/logs`.
pub async fn logs(State(app): State<AppState>, req: Request) -> Response {
    export::<ExportLogsServiceRequest>(app, req).await
}

/// The handler. Errors are answered in the request's encoding.
async fn export<R: Received>(app: AppState, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let is_protobuf =
        parts.headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/x-protobuf"));
    let encoding = if is_protobuf { Encoding::Protobuf } else { Encoding::Json };
    match handle::<R>(&app, &parts, body).await {
        Ok(res) => res,
        Err(reject) => {
            if reject.status().is_client_error() {
                log_refusal(reject.status(), &reject.to_string());
            }
            reject.into_response_as(encoding)
        }
    }
}

async fn handle<R: Received>(app: &AppState, parts: &Parts, body: Body) -> Result<Response, Reject> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let config = &app.config;
    let ip = parts.extensions.get::<ClientIp>().map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |c| c.0);
    check_token(config.ingest_token.as_ref(), parts)?;
    let kind = decode::body_kind(&parts.headers)?;
    body::check_declared_length(&parts.headers, config.limits.max_body_bytes)?;
    let sent_at = skew::sent_at(&parts.headers, parts.uri.query())?;
    // Per client first: one address trickling bodies holds only its own slots.
    let mut client = app.clients.enter(ip).ok_or(Reject::TooManyInFlight { ip })?;
    let limits = &config.limits;
    let (raw, charged) = body::read(
        body,
        limits.max_body_bytes,
        config.read_timeout,
        config.min_body_rate,
        &app.body_bytes,
        &mut client,
    )
    .await?;
    // The shared slots are taken only once the body is in, so slow uploads cannot hold them.
    let processing = app.in_flight.clone().try_acquire_owned().map_err(|_| Reject::Busy)?;
    let offset = sent_at.and_then(|s| skew::offset_ms(s, now_ms, config.skew_threshold_ms));
    let state = app.clone();
    let signal = R::SIGNAL;
    // One blocking task from the body to the upstream payload, so that at most one decoded
    // request per core exists at a time. A copy of a delivered request is answered as
    // delivered, and nothing else is done with it (see `copies.rs`).
    let processed = on_cpu(app, move || {
        let claim = match state.copies.check(signal, &raw) {
            Seen::New(claim) => claim,
            Seen::Copy => {
                state.metrics.copies.fetch_add(1, Relaxed);
                return Ok(None);
            }
            Seen::InFlight => return Err(Reject::InFlight),
        };
        process::<R>(&state, ip, kind, &raw, offset).map(|p| Some((claim, p)))
    })
    .await??;
    drop(charged);
    client.release();
    // Processed: waiting on the upstream takes none of this machine's processing slots (a slow
    // upstream let 8 addresses hold all 64 of them), only payload bytes of their own budget.
    drop(processing);
    let Some((claim, (n, payload))) = processed else {
        return Ok(success(kind.format, signal, None));
    };
    if n == 0 {
        return Ok(success(kind.format, signal, None));
    }
    let (Some(fwd), Some(payload)) = (&app.forwarder, payload) else {
        // Kept and handed to the exporters beside the upstream, already.
        claim.delivered();
        return Ok(success(kind.format, signal, None));
    };
    let (m, items) = (app.metrics.items(signal), signal.items());
    // One payload larger than the whole budget may go alone.
    let cost = payload.len().min(app.config.max_forward_bytes).max(1).try_into().unwrap_or(u32::MAX);
    let Ok(_waiting) = app.forward_bytes.clone().try_acquire_many_owned(cost) else {
        m.deferred.fetch_add(n as u64, Relaxed);
        return Err(Reject::Busy);
    };
    match fwd.send(signal, payload.clone()).await {
        Outcome::Delivered(partial) => {
            claim.delivered();
            export_forwarded::<R>(app, payload).await;
            let rejected = partial.as_ref().map_or(0, |p| p.rejected_spans.clamp(0, n as i64) as u64);
            m.forwarded.fetch_add(n as u64 - rejected, Relaxed);
            m.dropped.fetch_add(rejected, Relaxed);
            // The upstream's words (already scrubbed of the key) go to the log; the browser
            // gets a generic message.
            let partial = partial.map(|mut p| {
                if !p.error_message.is_empty() {
                    static LOG: Throttle = Throttle::new();
                    if let Some(also) = LOG.pass() {
                        tracing::warn!(rejected, also, "the upstream rejected {items}: {}", p.error_message);
                    }
                    p.error_message = format!(
                        "the upstream rejected {rejected} {}(s); the relay's log has the details",
                        signal.item()
                    );
                }
                p
            });
            Ok(success(kind.format, signal, partial))
        }
        Outcome::Deferred { retry_after, reason } => {
            m.deferred.fetch_add(n as u64, Relaxed);
            // Once a second at most: an outage with many clients would otherwise log each request.
            static LOG: Throttle = Throttle::new();
            if let Some(also) = LOG.pass() {
                tracing::warn!(
                    n,
                    retry_after,
                    also,
                    "upstream unavailable, told the client to retry its {items}: {reason}"
                );
            }
            Err(Reject::UpstreamUnavailable { secs: retry_after })
        }
        Outcome::Refused { status, message } => {
            // Refused for good: the client will not send it again, so the exporters beside the
            // upstream still get it (only a 503 keeps it from them).
            export_forwarded::<R>(app, payload).await;
            m.dropped.fetch_add(n as u64, Relaxed);
            static LOG: Throttle = Throttle::new();
            if let Some(also) = LOG.pass() {
                tracing::warn!(n, %status, also, "dropped {items} the upstream refused: {message}");
            }
            Err(Reject::UpstreamRefused { status })
        }
    }
}

/// 401 unless the request carries the configured ingest token (compared in constant time).
fn check_token(token: Option<&Secret>, parts: &Parts) -> Result<(), Reject> {
    let Some(token) = token else { return Ok(()) };
    let sent = parts.headers.get(TOKEN_HEADER).map_or(&b""[..], |v| v.as_bytes());
    let want = token.expose().as_bytes();
    let same = sent.len() == want.len() && sent.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same { Ok(()) } else { Err(Reject::BadToken { header: TOKEN_HEADER }) }
}

fn over_budget(ip: IpAddr, what: &'static str, wait: Duration) -> Reject {
    Reject::OverBudget { ip, what, secs: wait.as_secs_f64().ceil() as u64 }
}

/// Runs CPU-heavy work (gunzip, decoding, validation, printing, encoding) on the blocking
/// pool, at most [`AppState::cpu`]'s permits at once, so the async workers keep serving.
async fn on_cpu<T: Send + 'static>(app: &AppState, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Reject> {
    let _permit = app.cpu.acquire().await.map_err(|_| Reject::Busy)?;
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!("a blocking task failed: {e}");
        Reject::Internal
    })
}

/// Decompresses, charges the client's byte budget, decodes and validates.
fn decode_and_check<R: Received>(
    app: &AppState,
    ip: IpAddr,
    kind: BodyKind,
    raw: &Bytes,
) -> Result<(R, usize), Reject> {
    let limits = &app.config.limits;
    let now = Instant::now();
    // The budget counts decompressed bytes. A client without even the compressed size left is
    // refused before anything is inflated; a body that inflates past the limit is charged the
    // limit (that much work was done).
    app.byte_budget.has(ip, raw.len() as u64, now).map_err(|wait| over_budget(ip, "bytes", wait))?;
    let data: Cow<[u8]> = if kind.gzip {
        match body::gunzip(raw, limits.max_decompressed_bytes) {
            Ok(d) => Cow::Owned(d),
            Err(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    let _ = app.byte_budget.take(ip, limits.max_decompressed_bytes as u64, now);
                }
                return Err(e);
            }
        }
    } else {
        Cow::Borrowed(raw)
    };
    if data.len() > limits.max_decompressed_bytes {
        return Err(Reject::too_large(format!("body is over {} bytes", limits.max_decompressed_bytes)));
    }
    app.byte_budget.take(ip, data.len() as u64, now).map_err(|wait| over_budget(ip, "bytes", wait))?;
    let req: R = decode::decode(kind.format, &data, limits)?;
    match req.validate(limits) {
        Ok(n) => Ok((req, n)),
        Err(e) => {
            app.metrics.items(R::SIGNAL).rejected.fetch_add(req.item_count() as u64, Relaxed);
            Err(e)
        }
    }
}

/// Decodes and checks the body, charges the client's item budget (spans and log records
/// share it), corrects skew, keeps the request for the viewer, and encodes the upstream payload
/// (when the upstream takes the signal). A request that is not forwarded is accepted here and
/// goes to the exporters beside the upstream now; a forwarded one only once the upstream has
/// answered for good ([`export_forwarded`]): a 503 makes the client send it again.
fn process<R: Received>(
    app: &AppState,
    ip: IpAddr,
    kind: BodyKind,
    raw: &Bytes,
    offset: Option<i64>,
) -> Result<(usize, Option<Bytes>), Reject> {
    let (mut req, n) = decode_and_check::<R>(app, ip, kind, raw)?;
    let m = app.metrics.items(R::SIGNAL);
    if let Err(wait) = app.span_budget.take(ip, n as u64, Instant::now()) {
        m.rejected.fetch_add(n as u64, Relaxed);
        return Err(over_budget(ip, R::SIGNAL.items(), wait));
    }
    m.received.fetch_add(n as u64, Relaxed);
    if n == 0 {
        return Ok((0, None));
    }
    if let Some(offset) = offset {
        req.correct_skew(offset);
    }
    req.keep(app);
    if app.forwarder.as_ref().and_then(|f| f.url(R::SIGNAL)).is_some() {
        return Ok((n, Some(forward::encode(&req))));
    }
    req.export(app);
    Ok((n, None))
}

/// Hands a forwarded request to the exporters beside the upstream, decoded again from its
/// payload on the blocking pool (so no decoded request is held while the upstream is waited on).
async fn export_forwarded<R: Received>(app: &AppState, payload: Bytes) {
    if !R::exported(app) {
        return;
    }
    let state = app.clone();
    let _ = on_cpu(app, move || match forward::decode::<R>(&payload) {
        Ok(req) => req.export(&state),
        Err(e) => tracing::error!("a forwarded payload did not decode again: {e}"),
    })
    .await;
}

/// Keeps the request's spans for the viewer and prints them, when the relay keeps traces.
fn keep(app: &AppState, req: &ExportTraceServiceRequest) {
    let Some(store) = &app.store else { return };
    let views = view::spans(req);
    if app.config.print {
        let text = tree::render(&views);
        tracing::info!(target: "canopy_relay::trace", "{}", text.trim_end());
    }
    store.insert(views);
}

/// 200 with an `ExportTraceServiceResponse` (or the logs one) in the request's encoding.
fn success(format: Format, signal: Signal, partial: Option<ExportTracePartialSuccess>) -> Response {
    match format.encoding() {
        Encoding::Protobuf => {
            let body = ExportTraceServiceResponse { partial_success: partial }.encode_to_vec();
            ([(header::CONTENT_TYPE, "application/x-protobuf")], body).into_response()
        }
        Encoding::Json => {
            let body = match partial {
                None => "{}".to_owned(),
                Some(p) => serde_json::json!({ "partialSuccess": {
                    signal.rejected_key(): p.rejected_spans.to_string(),
                    "errorMessage": p.error_message,
                }})
                .to_string(),
            };
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
    }
}

/// At most one log line a second for one kind of event (`also`: how many were left out since):
/// a client, or an outage, can make them as fast as requests come.
pub(crate) struct Throttle {
    second: std::sync::atomic::AtomicU64,
    skipped: std::sync::atomic::AtomicU64,
}

impl Throttle {
    pub(crate) const fn new() -> Throttle {
        Throttle { second: std::sync::atomic::AtomicU64::new(0), skipped: std::sync::atomic::AtomicU64::new(0) }
    }

    /// `Some(events left out since the last line)` when a line may be written now.
    pub(crate) fn pass(&self) -> Option<u64> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.pass_at(now)
    }

    fn pass_at(&self, second: u64) -> Option<u64> {
        if self.second.swap(second, Relaxed) == second {
            self.skipped.fetch_add(1, Relaxed);
            return None;
        }
        Some(self.skipped.swap(0, Relaxed))
    }
}

/// Logs a refused request, at most once a second, with how many were left out since. Control
/// characters are escaped: the message quotes what the client sent.
fn log_refusal(status: StatusCode, message: &str) {
    static LOG: Throttle = Throttle::new();
    let Some(also_refused) = LOG.pass() else { return };
    let message: String = message.chars().flat_map(char::escape_default).collect();
    tracing::info!(status = status.as_u16(), also_refused, "refused a request: {message}");
}

#[cfg(test)]
mod tests {
    use super::Throttle;

    #[test]
    fn a_throttle_passes_once_a_second_and_counts_the_rest() {
        let t = Throttle::new();
        assert_eq!(t.pass_at(10), Some(0));
        assert_eq!(t.pass_at(10), None);
        assert_eq!(t.pass_at(10), None);
        assert_eq!(t.pass_at(11), Some(2), "the next second says how many were left out");
        assert_eq!(t.pass_at(11), None);
        assert_eq!(t.pass_at(12), Some(1));
    }
}
