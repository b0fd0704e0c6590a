//! The local trace viewer: one page (`viewer.html` with `viewer.js` and `viewer.css`, no build
//! step, no CDN, no inline script or style) and the JSON it reads, `GET /api/traces` and
//! `GET /api/traces/{id}`.
//!
//! Traces hold user data, so by default the viewer answers only direct loopback clients that
//! name a loopback host (`localhost`, `127.0.0.1`, `[::1]`): that also stops DNS-rebinding pages
//! from reading it. A reverse proxy on the same host also connects from loopback, so requests
//! with proxy headers are refused, and `CANOPY_ADMIN_LISTEN` moves the viewer and `/metrics` to
//! a listener of their own that the proxy does not point at. `--public-viewer` lifts the
//! loopback rule; cross-origin requests are refused either way.

use crate::app::AppState;
use crate::error::Reject;
use crate::server::ClientAddr;
use crate::view::{ExceptionView, LogView, SpanView};
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

const PAGE: &str = include_str!("viewer.html");
const SCRIPT: &str = include_str!("viewer.js");
const STYLE: &str = include_str!("viewer.css");
/// Scripts and styles from the relay's own files only: no inline code runs, whatever a span holds.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                       img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub async fn page() -> Response {
    secured(Html(PAGE).into_response())
}

pub async fn script() -> Response {
    secured(([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT).into_response())
}

pub async fn style() -> Response {
    secured(([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response())
}

fn secured(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

pub async fn list(State(app): State<AppState>) -> Response {
    let traces = app.store.as_ref().map(|s| s.list()).unwrap_or_default();
    no_store(Json(serde_json::json!({ "traces": traces })).into_response())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TraceDetail {
    trace_id: String,
    spans: Vec<SpanView>,
    logs: Vec<LogView>,
    /// The spans' exception events with their stacks parsed into frames.
    exceptions: Vec<ExceptionView>,
}

pub async fn trace(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Reject::bad_request("a trace id is 32 lowercase hex characters").into_response();
    }
    match app.store.as_ref().and_then(|s| s.get(&id)) {
        Some((spans, logs)) => {
            let exceptions = crate::view::exceptions(&spans);
            no_store(Json(TraceDetail { trace_id: id, spans, logs, exceptions }).into_response())
        }
        None => Reject::NotFound(format!("no trace {id} (the viewer keeps recent traces only)")).into_response(),
    }
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Headers a proxy adds: a request that carries one came through a proxy, so its loopback
/// peer says nothing about who sent it.
const PROXY_HEADERS: [&str; 6] =
    ["forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "via"];

/// Guards the viewer and `/metrics`. Unless `--public-viewer`: the peer must be known to be
/// loopback (no peer address fails closed), the `Host` a loopback name (keeps DNS-rebinding pages
/// out), and no proxy header may be present. `/metrics` also answers anyone who sends
/// `Authorization: Bearer <CANOPY_METRICS_TOKEN>`. Cross-origin requests are refused always.
pub async fn guard(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let origin = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if origin.is_some_and(|o| o.split_once("://").is_none_or(|(_, rest)| !rest.eq_ignore_ascii_case(host))) {
        return Reject::forbidden("cross-origin requests to the viewer are refused").into_response();
    }
    if app.config.public_viewer || (req.uri().path() == "/metrics" && has_token(&app, &req)) {
        return next.run(req).await;
    }
    let peer_local = req.extensions().get::<ClientAddr>().is_some_and(|c| c.0.ip().to_canonical().is_loopback());
    let proxied = PROXY_HEADERS.iter().any(|h| req.headers().contains_key(*h));
    if !peer_local || !is_loopback_host(host) || proxied {
        return Reject::forbidden(
            "the viewer and /metrics answer only direct loopback requests (see CANOPY_ADMIN_LISTEN, \
             CANOPY_METRICS_TOKEN, --public-viewer)",
        )
        .into_response();
    }
    next.run(req).await
}

/// Whether the request carries `Authorization: Bearer <metrics token>` (constant-time compare).
fn has_token(app: &AppState, req: &Request) -> bool {
    let Some(token) = &app.config.metrics_token else { return false };
    let sent = req.headers().get(header::AUTHORIZATION).map_or(&b""[..], |v| v.as_bytes());
    let Some(sent) = sent.strip_prefix(b"Bearer ") else { return false };
    let want = token.expose().as_bytes();
    sent.len() == want.len() && sent.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// `localhost`, `*.localhost`, `127.0.0.1` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    let name = name.to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for (host, want) in [
            ("localhost:4318", true),
            ("127.0.0.1:4318", true),
            ("127.0.0.1", true),
            ("[::1]:4318", true),
            ("app.localhost", true),
            ("evil.com:4318", false),
            ("127.0.0.1.evil.com", false),
            ("10.0.0.1:4318", false),
            ("", false),
        ] {
            assert_eq!(is_loopback_host(host), want, "{host}");
        }
    }
}
