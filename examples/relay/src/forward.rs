//! Forwarding to the upstream: OTLP/HTTP protobuf (gzip), retried inside a bounded budget.
//!
//! Traces go to the configured URL; logs go to the same URL with its `/v1/traces` ending
//! replaced by `/v1/logs` (Honeycomb's and every Collector's layout), with the same headers.
//! An upstream URL that does not end in `/v1/traces` takes traces only.
//!
//! Network errors, timeouts and HTTP 429/502/503/504 are retried with exponential backoff and
//! jitter (or the upstream's `Retry-After`) until the budget is spent; then the client is told
//! to come back later (503 + `Retry-After`), so its own retry logic takes over and nothing is
//! dropped silently. Any other status is final and passed on. The upstream's `Retry-After` is
//! never obeyed sooner than the relay's own backoff, nor beyond [`MAX_RETRY_AFTER_SECS`]. The
//! API key travels only in `x-honeycomb-team`, marked sensitive; the key is scrubbed from every
//! string the upstream says back before anything is cut or logged, and clients get only generic
//! messages (the upstream's words go to the relay's log).

use crate::config::Secret;
use crate::error::ConfigError;
use crate::metrics::Metrics;
use crate::model::{ExportTracePartialSuccess, ExportTraceServiceResponse, RpcStatus, Signal};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use bytes::Bytes;
use flate2::{Compression, write::GzEncoder};
use prost::Message;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// `Retry-After` handed to the client when the upstream gave none.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 5;
/// Longest `Retry-After` passed on to the client.
pub const MAX_RETRY_AFTER_SECS: u64 = 300;
/// Longest upstream message kept for the log.
const MAX_MESSAGE_CHARS: usize = 300;
/// Upstream response bodies are read up to this many bytes.
const MAX_RESPONSE_BYTES: usize = 64 << 10;
/// How long an upstream's answer body may take once its status is in.
const BODY_WAIT: Duration = Duration::from_secs(1);

/// Where to forward, and with which credentials.
#[derive(Clone, Debug)]
pub struct Upstream {
    pub url: reqwest::Url,
    pub api_key: Option<Secret>,
    pub dataset: Option<String>,
    /// Send through this HTTP(S) proxy; `None` connects directly whatever `HTTP(S)_PROXY` says
    /// (the key goes through a proxy only when asked).
    pub proxy: Option<reqwest::Url>,
}

/// Retry policy.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Total time one request may spend on the upstream, retries and waits included.
    pub budget: Duration,
    /// Longest single attempt.
    pub attempt_timeout: Duration,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            budget: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(5),
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// How a forward ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The upstream took the data (perhaps rejecting some spans).
    Delivered(Option<ExportTracePartialSuccess>),
    /// The budget ran out: the client should retry after `retry_after` seconds.
    Deferred { retry_after: u64, reason: String },
    /// The upstream refused for good.
    Refused { status: StatusCode, message: String },
}

pub struct Forwarder {
    client: reqwest::Client,
    upstream: Upstream,
    /// Where logs go, when the upstream URL says (see the module docs).
    logs_url: Option<reqwest::Url>,
    headers: HeaderMap,
    policy: RetryPolicy,
    metrics: Arc<Metrics>,
}

enum Attempt {
    Ok(Option<ExportTracePartialSuccess>),
    Retry(Option<Duration>, String),
    Fail(StatusCode, String),
}

impl Forwarder {
    pub fn new(upstream: Upstream, policy: RetryPolicy, metrics: Arc<Metrics>) -> Result<Forwarder, ConfigError> {
        let builder = match &upstream.proxy {
            Some(p) => {
                reqwest::Client::builder().proxy(reqwest::Proxy::all(p.clone()).map_err(ConfigError::HttpClient)?)
            }
            None => reqwest::Client::builder().no_proxy(),
        };
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.attempt_timeout)
            .user_agent(concat!("canopy-relay/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ConfigError::HttpClient)?;
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        if let Some(key) = &upstream.api_key {
            let mut v =
                HeaderValue::from_str(key.expose()).map_err(|_| ConfigError::HeaderValue("HONEYCOMB_API_KEY"))?;
            v.set_sensitive(true);
            headers.insert("x-honeycomb-team", v);
        }
        if let Some(ds) = &upstream.dataset {
            let v = HeaderValue::from_str(ds).map_err(|_| ConfigError::HeaderValue("CANOPY_DATASET"))?;
            headers.insert("x-honeycomb-dataset", v);
        }
        let logs_url = logs_url(&upstream.url);
        Ok(Forwarder { client, upstream, logs_url, headers, policy, metrics })
    }

    /// Where `signal` goes; `None` when the upstream does not take it.
    pub fn url(&self, signal: Signal) -> Option<&reqwest::Url> {
        match signal {
            Signal::Traces => Some(&self.upstream.url),
            Signal::Logs => self.logs_url.as_ref(),
        }
    }

    /// Sends `body` (from [`encode`]) to `signal`'s URL, retrying within the budget.
    pub async fn send(&self, signal: Signal, body: Bytes) -> Outcome {
        let Some(url) = self.url(signal) else {
            return Outcome::Refused { status: StatusCode::NOT_FOUND, message: format!("no upstream for {signal:?}") };
        };
        let start = Instant::now();
        let deadline = start + self.policy.budget;
        let mut backoff = self.policy.initial_backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now()).min(self.policy.attempt_timeout);
            let t0 = Instant::now();
            let result = self.attempt(signal, url, body.clone(), left).await;
            self.metrics.upstream_latency(t0.elapsed());
            match result {
                Attempt::Ok(partial) => {
                    self.metrics.upstream_ok.fetch_add(1, Relaxed);
                    return Outcome::Delivered(partial);
                }
                Attempt::Fail(status, message) => {
                    self.metrics.upstream_failed.fetch_add(1, Relaxed);
                    return Outcome::Refused { status, message };
                }
                Attempt::Retry(retry_after, why) => {
                    self.metrics.upstream_retryable.fetch_add(1, Relaxed);
                    // The upstream may ask for longer than our backoff, never for less
                    // (`Retry-After: 0` would turn one request into a storm of attempts).
                    let wait = retry_after.map_or(jitter(backoff), |ra| ra.max(jitter(backoff)));
                    backoff = (backoff * 2).min(self.policy.max_backoff);
                    if Instant::now().checked_add(wait).is_none_or(|resume| resume >= deadline) {
                        let secs = retry_after.map_or(DEFAULT_RETRY_AFTER_SECS, |d| d.as_secs());
                        let reason = format!(
                            "upstream unavailable: {attempt} attempt(s) in {:.1} s, last: {why}",
                            start.elapsed().as_secs_f64()
                        );
                        return Outcome::Deferred { retry_after: secs.clamp(1, MAX_RETRY_AFTER_SECS), reason };
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt(&self, signal: Signal, url: &reqwest::Url, body: Bytes, timeout: Duration) -> Attempt {
        let deadline = tokio::time::Instant::now() + timeout;
        let req = self.client.post(url.clone()).headers(self.headers.clone()).body(body);
        let mut res = match tokio::time::timeout_at(deadline, req.send()).await {
            Err(_) => return Attempt::Retry(None, format!("no answer within {} ms", timeout.as_millis())),
            Ok(Err(e)) => return Attempt::Retry(None, describe(&e.without_url())),
            Ok(Ok(res)) => res,
        };
        let status = res.status();
        // Delay-seconds only (an HTTP date falls back to our backoff), clamped: never trusted as is.
        let retry_after = res.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()?.trim().parse().ok());
        let retry_after = retry_after.map(|s: u64| Duration::from_secs(s.min(MAX_RETRY_AFTER_SECS)));
        let protobuf = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().ends_with(b"protobuf"));
        // The status says what happened; the body only adds details. One that breaks off or
        // stalls (for a second at most, within the attempt's deadline) is read as far as it came:
        // a 2xx whose body is cut is delivered, and sending it again would duplicate it.
        let body_deadline = deadline.min(tokio::time::Instant::now() + BODY_WAIT);
        let mut bytes = Vec::new();
        while bytes.len() < MAX_RESPONSE_BYTES {
            match tokio::time::timeout_at(body_deadline, res.chunk()).await {
                Ok(Ok(Some(c))) => bytes.extend_from_slice(&c),
                Ok(Ok(None)) => break,
                Ok(Err(_)) | Err(_) => {
                    bytes.clear();
                    break;
                }
            }
        }
        match status.as_u16() {
            200..=299 => Attempt::Ok(partial_success(signal, protobuf, &bytes).map(|mut p| {
                p.error_message = self.scrub(&p.error_message);
                p
            })),
            429 | 502 | 503 | 504 => Attempt::Retry(retry_after, format!("HTTP {status}")),
            _ => Attempt::Fail(
                status,
                format!("upstream refused the data: HTTP {status}: {}", self.said(protobuf, &bytes)),
            ),
        }
    }

    /// What the upstream's error body says: a `google.rpc.Status` message, a JSON `message`,
    /// or the text; scrubbed (see [`Forwarder::scrub`]).
    fn said(&self, protobuf: bool, bytes: &[u8]) -> String {
        let text = if protobuf {
            RpcStatus::decode(bytes).map(|s| s.message).unwrap_or_default()
        } else {
            match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(v) if v["message"].is_string() => v["message"].as_str().unwrap_or_default().to_owned(),
                Ok(v) if v["error"].is_string() => v["error"].as_str().unwrap_or_default().to_owned(),
                _ => String::from_utf8_lossy(bytes).into_owned(),
            }
        };
        let text = self.scrub(&text);
        if text.is_empty() { "(no message)".into() } else { text }
    }

    /// An upstream string made safe to log: the key replaced first (so no cut can leave part
    /// of it), then control characters blanked, then at most [`MAX_MESSAGE_CHARS`] characters.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        if let Some(key) = self.upstream.api_key.as_ref().filter(|k| !k.expose().is_empty()) {
            text = text.replace(key.expose(), "[redacted]");
        }
        let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_MESSAGE_CHARS).collect();
        text.trim().to_owned()
    }
}

/// The logs URL that goes with a traces URL: `…/v1/traces` → `…/v1/logs`.
fn logs_url(traces: &reqwest::Url) -> Option<reqwest::Url> {
    let base = traces.path().strip_suffix(Signal::Traces.path())?;
    let mut url = traces.clone();
    url.set_path(&format!("{base}{}", Signal::Logs.path()));
    Some(url)
}

/// The upstream request body: protobuf, gzip-compressed.
pub fn encode(req: &impl Message) -> Bytes {
    let raw = req.encode_to_vec();
    let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 3 + 64), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(&raw);
    gz.finish().unwrap_or_default().into()
}

/// The message [`encode`] made from `payload`, back.
pub fn decode<M: Message + Default>(payload: &[u8]) -> std::io::Result<M> {
    let mut raw = Vec::with_capacity(payload.len() * 3);
    flate2::read::GzDecoder::new(payload).read_to_end(&mut raw)?;
    M::decode(raw.as_slice()).map_err(std::io::Error::other)
}

/// A partial success in a 2xx answer, protobuf or JSON (the count under `signal`'s key).
fn partial_success(signal: Signal, protobuf: bool, bytes: &[u8]) -> Option<ExportTracePartialSuccess> {
    let ps = if protobuf {
        ExportTraceServiceResponse::decode(bytes).ok()?.partial_success?
    } else {
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let ps = v.get("partialSuccess")?;
        let n = &ps[signal.rejected_key()];
        let rejected_spans = n.as_i64().or_else(|| n.as_str()?.parse().ok()).unwrap_or(0);
        let error_message = ps["errorMessage"].as_str().unwrap_or_default().to_owned();
        ExportTracePartialSuccess { rejected_spans, error_message }
    };
    (ps.rejected_spans != 0 || !ps.error_message.is_empty()).then_some(ps)
}

/// `d` scaled by a random factor in [0.5, 1).
fn jitter(d: Duration) -> Duration {
    let r = RandomState::new().build_hasher().finish();
    d.mul_f64(0.5 + (r >> 11) as f64 / (1u64 << 54) as f64)
}

/// An error and its causes, one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..1000 {
            let j = jitter(Duration::from_millis(100));
            assert!(j >= Duration::from_millis(50) && j < Duration::from_millis(100), "{j:?}");
        }
    }

    #[test]
    fn partial_successes() {
        let json = br#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"bad"}}"#;
        let want = ExportTracePartialSuccess { rejected_spans: 2, error_message: "bad".into() };
        let t = Signal::Traces;
        assert_eq!(partial_success(t, false, json), Some(want.clone()));
        let proto = ExportTraceServiceResponse { partial_success: Some(want.clone()) }.encode_to_vec();
        assert_eq!(partial_success(t, true, &proto), Some(want.clone()));
        assert_eq!(partial_success(t, false, b"{}"), None);
        assert_eq!(partial_success(t, true, b""), None, "an empty protobuf answer is full success");
        assert_eq!(partial_success(t, false, br#"{"partialSuccess":{}}"#), None);
        let logs = br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"bad"}}"#;
        assert_eq!(partial_success(Signal::Logs, false, logs), Some(want.clone()));
        assert_eq!(partial_success(Signal::Logs, true, &proto), Some(want), "the same wire layout");
    }

    #[test]
    fn logs_go_next_to_traces() {
        let cases = [
            ("https://api.honeycomb.io/v1/traces", Some("https://api.honeycomb.io/v1/logs")),
            ("http://collector:4318/otlp/v1/traces", Some("http://collector:4318/otlp/v1/logs")),
            ("http://collector:4318/v1/traces?x=1", Some("http://collector:4318/v1/logs?x=1")),
            ("http://collector:4318/ingest", None),
        ];
        for (traces, want) in cases {
            let got = logs_url(&traces.parse().unwrap());
            assert_eq!(got.as_ref().map(reqwest::Url::as_str), want, "{traces}");
        }
    }
}
