//! `POST /v1/traces`: read, decode, validate, correct skew, keep and/or forward.

use crate::app::{AppState, ClientIp};
use crate::config::Secret;
use crate::decode::{self, BodyKind, Format};
use crate::error::{Encoding, Reject};
use crate::forward::{self, Outcome};
use crate::model::{ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse};
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

/// The handler. Errors are answered in the request's encoding.
pub async fn export(State(app): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let is_protobuf =
        parts.headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/x-protobuf"));
    let encoding = if is_protobuf { Encoding::Protobuf } else { Encoding::Json };
    match handle(&app, &parts, body).await {
        Ok(res) => res,
        Err(reject) => {
            if reject.status().is_client_error() {
                log_refusal(reject.status(), &reject.to_string());
            }
            reject.into_response_as(encoding)
        }
    }
}

async fn handle(app: &AppState, parts: &Parts, body: Body) -> Result<Response, Reject> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let config = &app.config;
    let ip = parts.extensions.get::<ClientIp>().map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |c| c.0);
    check_token(config.ingest_token.as_ref(), parts)?;
    let kind = decode::body_kind(&parts.headers)?;
    body::check_declared_length(&parts.headers, config.limits.max_body_bytes)?;
    let sent_at = skew::sent_at(&parts.headers, parts.uri.query())?;
    // Per client first: one address trickling bodies holds only its own slots.
    let _client = app.clients.enter(ip).ok_or(Reject::TooManyInFlight { ip })?;
    let limits = &config.limits;
    let (raw, charged) =
        body::read(body, limits.max_body_bytes, config.read_timeout, config.min_body_rate, &app.body_bytes).await?;
    // The shared slots are taken only once the body is in, so slow uploads cannot hold them.
    let _permit = app.in_flight.clone().try_acquire_owned().map_err(|_| Reject::Busy)?;
    let offset = sent_at.and_then(|s| skew::offset_ms(s, now_ms, config.skew_threshold_ms));
    let state = app.clone();
    // One blocking task from the body to the upstream payload, so that at most one decoded
    // request per core exists at a time.
    let (spans, payload) = on_cpu(app, move || process(&state, ip, kind, &raw, offset)).await??;
    drop(charged);
    if spans == 0 {
        return Ok(success(kind.format, None));
    }
    let (Some(fwd), Some(payload)) = (&app.forwarder, payload) else { return Ok(success(kind.format, None)) };
    let m = &app.metrics;
    match fwd.send(payload).await {
        Outcome::Delivered(partial) => {
            let rejected = partial.as_ref().map_or(0, |p| p.rejected_spans.clamp(0, spans as i64) as u64);
            m.spans_forwarded.fetch_add(spans as u64 - rejected, Relaxed);
            m.spans_dropped.fetch_add(rejected, Relaxed);
            // The upstream's words (already scrubbed of the key) go to the log; the browser
            // gets a generic message.
            let partial = partial.map(|mut p| {
                if !p.error_message.is_empty() {
                    tracing::warn!(rejected, "the upstream rejected spans: {}", p.error_message);
                    p.error_message =
                        format!("the upstream rejected {rejected} span(s); the relay's log has the details");
                }
                p
            });
            Ok(success(kind.format, partial))
        }
        Outcome::Deferred { retry_after, reason } => {
            m.spans_deferred.fetch_add(spans as u64, Relaxed);
            tracing::warn!(spans, retry_after, "upstream unavailable, told the client to retry: {reason}");
            Err(Reject::UpstreamUnavailable { secs: retry_after })
        }
        Outcome::Refused { status, message } => {
            m.spans_dropped.fetch_add(spans as u64, Relaxed);
            tracing::warn!(spans, %status, "dropped spans the upstream refused: {message}");
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
fn decode_and_check(
    app: &AppState,
    ip: IpAddr,
    kind: BodyKind,
    raw: &Bytes,
) -> Result<(ExportTraceServiceRequest, usize), Reject> {
    let limits = &app.config.limits;
    let data: Cow<[u8]> =
        if kind.gzip { Cow::Owned(body::gunzip(raw, limits.max_decompressed_bytes)?) } else { Cow::Borrowed(raw) };
    if data.len() > limits.max_decompressed_bytes {
        return Err(Reject::too_large(format!("body is over {} bytes", limits.max_decompressed_bytes)));
    }
    app.byte_budget.take(ip, data.len() as u64, Instant::now()).map_err(|wait| over_budget(ip, "bytes", wait))?;
    let req = decode::decode(kind.format, &data, limits)?;
    match validate::validate(&req, limits) {
        Ok(spans) => Ok((req, spans)),
        Err(e) => {
            app.metrics.spans_rejected.fetch_add(req.span_count() as u64, Relaxed);
            Err(e)
        }
    }
}

/// Decodes and checks the body, charges the client's span budget, corrects skew, keeps the
/// spans (when the relay keeps traces) and encodes the upstream payload (when it forwards).
fn process(
    app: &AppState,
    ip: IpAddr,
    kind: BodyKind,
    raw: &Bytes,
    offset: Option<i64>,
) -> Result<(usize, Option<Bytes>), Reject> {
    let (mut req, spans) = decode_and_check(app, ip, kind, raw)?;
    if let Err(wait) = app.span_budget.take(ip, spans as u64, Instant::now()) {
        app.metrics.spans_rejected.fetch_add(spans as u64, Relaxed);
        return Err(over_budget(ip, "spans", wait));
    }
    app.metrics.spans_received.fetch_add(spans as u64, Relaxed);
    if spans == 0 {
        return Ok((0, None));
    }
    if let Some(offset) = offset {
        skew::apply(&mut req, offset);
    }
    keep(app, &req);
    // Queued for the Rollbar sender task: ingest never waits on Rollbar.
    if let Some(rollbar) = &app.rollbar {
        rollbar.submit(&req);
    }
    if let Some(xray) = &app.xray {
        xray.export(&req, SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64));
    }
    Ok((spans, app.forwarder.as_ref().map(|_| forward::encode(&req))))
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

/// 200 with an `ExportTraceServiceResponse` in the request's encoding.
fn success(format: Format, partial: Option<ExportTracePartialSuccess>) -> Response {
    match format.encoding() {
        Encoding::Protobuf => {
            let body = ExportTraceServiceResponse { partial_success: partial }.encode_to_vec();
            ([(header::CONTENT_TYPE, "application/x-protobuf")], body).into_response()
        }
        Encoding::Json => {
            let body = match partial {
                None => "{}".to_owned(),
                Some(p) => serde_json::json!({ "partialSuccess": {
                    "rejectedSpans": p.rejected_spans.to_string(),
                    "errorMessage": p.error_message,
                }})
                .to_string(),
            };
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
    }
}

/// Logs a refused request, at most once a second (clients can err fast), with how many were
/// left out since. Control characters are escaped: the message quotes what the client sent.
fn log_refusal(status: StatusCode, message: &str) {
    use std::sync::atomic::AtomicU64;
    static LAST: AtomicU64 = AtomicU64::new(0);
    static SKIPPED: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if LAST.swap(now, Relaxed) == now {
        SKIPPED.fetch_add(1, Relaxed);
        return;
    }
    let message: String = message.chars().flat_map(char::escape_default).collect();
    tracing::info!(status = status.as_u16(), also_refused = SKIPPED.swap(0, Relaxed), "refused a request: {message}");
}
