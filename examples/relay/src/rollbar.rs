//! Exceptions found in received spans, sent to Rollbar as items (`ROLLBAR_ACCESS_TOKEN`).
//!
//! An exception is an OpenTelemetry `exception` event (`exception.type`, `exception.message`,
//! `exception.stacktrace`). The browser's `Error.stack` text (Chromium `    at fn (url:1:2)`,
//! Firefox and Safari `fn@url:1:2`) becomes Rollbar frames, oldest first. The payload follows
//! Rollbar's item API (<https://rollbar.com/docs/api_items/>: `POST /api/1/item/`, the token in
//! `X-Rollbar-Access-Token`, `data.environment` and `data.body` required, `body.trace` with
//! `frames` + `exception.class`, or `body.message` when there is no stack to show).
//!
//! Payloads are cut to fit [`MAX_PAYLOAD_BYTES`] the way rollbar.js does (`src/truncation.js`:
//! `maxSize = 512 * 1024`, then the strategies raw → `truncateFrames` (keep the first and last 30
//! frames) → `truncateStrings` at 1024, 512 and 256 characters (`slice(0, len - 3) + '...'`) →
//! `minBody` (exception message to 255, frames to the first and last one), stopping at the first
//! that fits).
//!
//! Building happens on ingest's blocking pool, once the request is accepted; sending is one tokio
//! task draining a bounded queue, so the OTLP path never waits on Rollbar. A 429 pauses the sender
//! for `X-Rate-Limit-Remaining-Seconds` (as rollbar.js's node transport does, capped at 60 s).

use crate::config::Secret;
use crate::error::ConfigError;
use crate::model::{Event, ExportTraceServiceRequest, KeyValue, Span, Value as Attr};
use crate::recent::Recent;
use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Rollbar's item endpoint (`ROLLBAR_ENDPOINT`'s default).
pub const ROLLBAR_ITEM_URL: &str = "https://api.rollbar.com/api/1/item/";
/// Rollbar's payload limit, as rollbar.js sets it (`512 * 1024` bytes of JSON).
pub const MAX_PAYLOAD_BYTES: usize = 512 * 1024;
/// The header Rollbar reads the project token from.
pub const TOKEN_HEADER: &str = "x-rollbar-access-token";
/// Frames kept at each end by the frames step (rollbar.js `truncateFrames`' default range).
const FRAME_RANGE: usize = 30;
/// Stack lines read at most (a stack is at most 32 KiB, the relay's string limit, anyway).
const MAX_STACK_LINES: usize = 1000;
/// Frames (newest first) that go into the fingerprint.
const FINGERPRINT_FRAMES: usize = 3;
/// Longest `data.environment` and `data.context`, and `data.code_version` (the item API's limits).
const MAX_ENVIRONMENT: usize = 255;
const MAX_CONTEXT: usize = 255;
const MAX_CODE_VERSION: usize = 40;
/// Items waiting to be sent, in all (count and bytes); past either, new items are dropped.
const QUEUE_ITEMS: usize = 256;
const QUEUE_BYTES: usize = 8 << 20;
/// Exceptions remembered to drop an SDK retry's copy: this many, for this long.
const DEDUP_KEYS: usize = 10_000;
const DEDUP_WINDOW: Duration = Duration::from_secs(600);
/// Longest pause after a 429 (rollbar.js: `MAX_RATE_LIMIT_INTERVAL`), and without the header.
const MAX_PAUSE_SECS: u64 = 60;
const DEFAULT_PAUSE_SECS: u64 = 10;
/// Tries per item when Rollbar answers 5xx or cannot be reached (429s do not count).
const MAX_TRIES: u32 = 3;
/// Pauses for Rollbar's rate limit (429) per item; after the last, the item is given up.
const MAX_PAUSES: u32 = 10;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Rollbar's answer is read up to this many bytes (for the log).
const MAX_RESPONSE_BYTES: usize = 4 << 10;

/// Where and how to send items.
#[derive(Clone, Debug)]
pub struct RollbarConfig {
    pub token: Secret,
    pub endpoint: reqwest::Url,
    /// `data.environment` when the resource has no `deployment.environment.name`.
    pub environment: String,
}

/// Rollbar counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Items put on the queue.
    pub queued: AtomicU64,
    /// Items Rollbar accepted.
    pub sent: AtomicU64,
    /// Items dropped: the queue was full.
    pub dropped: AtomicU64,
    /// Items Rollbar refused, that failed every try, or that met the rate limit [`MAX_PAUSES`] times.
    pub failed: AtomicU64,
    /// 429 answers (each pauses the sender).
    pub rate_limited: AtomicU64,
    /// Exceptions seen again (an SDK retry) and not sent twice.
    pub duplicates: AtomicU64,
}

impl Counters {
    pub fn render(&self, out: &mut String) {
        let m = "canopy_relay_rollbar_items_total";
        let _ = writeln!(out, "# HELP {m} Rollbar items, by outcome.\n# TYPE {m} counter");
        for (outcome, c) in [
            ("queued", &self.queued),
            ("sent", &self.sent),
            ("dropped", &self.dropped),
            ("failed", &self.failed),
            ("duplicate", &self.duplicates),
        ] {
            let _ = writeln!(out, "{m}{{outcome=\"{outcome}\"}} {}", c.load(Relaxed));
        }
        let m = "canopy_relay_rollbar_rate_limited_total";
        let _ = writeln!(out, "# HELP {m} Rollbar 429 answers.\n# TYPE {m} counter");
        let _ = writeln!(out, "{m} {}", self.rate_limited.load(Relaxed));
    }
}

/// One stack frame, as Rollbar wants it (and the viewer shows it).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Frame {
    pub filename: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lineno: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colno: Option<u32>,
}

impl Frame {
    fn to_json(&self) -> Value {
        let mut f = Map::new();
        f.insert("filename".into(), self.filename.clone().into());
        if let Some(m) = &self.method {
            f.insert("method".into(), m.clone().into());
        }
        if let Some(l) = self.lineno {
            f.insert("lineno".into(), l.into());
        }
        if let Some(c) = self.colno {
            f.insert("colno".into(), c.into());
        }
        Value::Object(f)
    }
}

/// The frames of an `Error.stack` text, in the text's order (newest first). Chromium's lines
/// start with `at `; when any does, only those count (its first line is the message).
/// Otherwise Firefox/Safari lines `fn@url:line:col` (`@url…` for anonymous functions) count
/// when they have a line number or are `[native code]`. Lines that fit neither are skipped.
pub fn parse_stack(stack: &str) -> Vec<Frame> {
    let lines = || stack.lines().take(MAX_STACK_LINES).map(str::trim);
    if lines().any(|l| l.starts_with("at ")) {
        return lines().filter_map(|l| l.strip_prefix("at ")).map(chromium).collect();
    }
    lines().filter_map(gecko).collect()
}

/// `fn (location)`, `async fn (location)`, `new C (location)` or a bare `location`.
fn chromium(rest: &str) -> Frame {
    let rest = rest.trim();
    let rest = rest.strip_prefix("async ").unwrap_or(rest);
    if let (Some(open), true) = (rest.find(" ("), rest.ends_with(')')) {
        let method = rest[..open].trim();
        let mut loc = &rest[open + 2..rest.len() - 1];
        // `eval at f (url:1:2), <anonymous>:3:4`: the eval'd code's own position.
        if let Some((_, inner)) = loc.rsplit_once(", ") {
            loc = inner;
        }
        let (filename, lineno, colno) = location(loc);
        let method = (!method.is_empty()).then(|| method.to_owned());
        return Frame { filename, method, lineno, colno };
    }
    let (filename, lineno, colno) = location(rest);
    Frame { filename, method: None, lineno, colno }
}

/// `fn@location`; `None` unless the location has a line number or is native code.
fn gecko(line: &str) -> Option<Frame> {
    let (method, loc) = line.split_once('@')?;
    let (filename, lineno, colno) = location(loc);
    if lineno.is_none() && filename != "[native code]" {
        return None;
    }
    let method = (!method.is_empty()).then(|| method.to_owned());
    Some(Frame { filename, method, lineno, colno })
}

/// `url:line:col`, `url:line` or `url` (ports and `https:` stay in the URL: only trailing
/// numbers are taken).
fn location(loc: &str) -> (String, Option<u32>, Option<u32>) {
    let loc = loc.trim();
    if let Some((rest, last)) = loc.rsplit_once(':') {
        if let Ok(last) = last.parse::<u32>() {
            if let Some((file, line)) = rest.rsplit_once(':') {
                if let Ok(line) = line.parse::<u32>() {
                    return (file.to_owned(), Some(line), Some(last));
                }
            }
            return (rest.to_owned(), Some(last), None);
        }
    }
    (loc.to_owned(), None, None)
}

/// A stable fingerprint (32 hex digits) of the service, the exception type and the newest
/// frames' `filename:method` (query and fragment left out of the filename, so cache-busting
/// parameters do not split an item). FNV-1a, twice with different bases: grouping, not secrecy.
pub fn fingerprint(service: &str, class: &str, newest_first: &[Frame]) -> String {
    let mut input = format!("{service}\0{class}");
    for f in newest_first.iter().take(FINGERPRINT_FRAMES) {
        let file = f.filename.split(['?', '#']).next().unwrap_or_default();
        let _ = write!(input, "\0{file}:{}", f.method.as_deref().unwrap_or("?"));
    }
    hash128(input.as_bytes())
}

/// 32 hex digits: FNV-1a 64, twice with different bases (stable across builds and runs).
fn hash128(input: &[u8]) -> String {
    let fnv = |basis: u64| input.iter().fold(basis, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("{:016x}{:016x}", fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142))
}

/// The occurrence's `uuid`: the same for every copy of one exception (trace id, span id, event
/// time on the browser's clock, the event's position among the span's events, its type, message
/// and stack), so Rollbar discards copies the relay's own window cannot see (another relay
/// instance, a restart): "If you send the same UUID in two payloads, the second one will be
/// discarded" (Rollbar's item format, `data.uuid`, up to 36 characters). Two exceptions on one
/// span with the same time differ by position, and by content.
pub fn occurrence_id(span: &Span, index: usize, event: &Event) -> String {
    let mut input = Vec::with_capacity(256);
    for part in [&span.trace_id[..], &span.span_id, &browser_time(span, event).to_be_bytes(), &index.to_be_bytes()] {
        input.extend_from_slice(part);
        input.push(0);
    }
    for key in ["exception.type", "exception.message", "exception.stacktrace"] {
        let value = str_attr(&event.attributes, key).unwrap_or_default();
        // Length first: no value can pass for another.
        input.extend_from_slice(&value.len().to_be_bytes());
        input.extend_from_slice(value.as_bytes());
    }
    hash128(&input)
}

/// What an item is built from, besides the event.
#[derive(Clone, Copy, Debug, Default)]
pub struct Source<'a> {
    pub resource: &'a [KeyValue],
    pub span: Option<&'a Span>,
    /// The event's position among the span's events (part of its [`occurrence_id`]).
    pub event_index: usize,
    /// `data.environment` when the resource names none.
    pub environment: &'a str,
}

fn str_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attrs.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()? {
        Attr::StringValue(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The item for one `exception` event (the whole payload: `{"data": …}`).
pub fn item(src: Source, event: &Event) -> Value {
    let attrs = &event.attributes;
    let class = str_attr(attrs, "exception.type").unwrap_or("Error");
    let message = str_attr(attrs, "exception.message").unwrap_or_default();
    let stack = str_attr(attrs, "exception.stacktrace").unwrap_or_default();
    let service = str_attr(src.resource, "service.name").unwrap_or("unknown_service");
    let span_attrs = src.span.map_or(&[][..], |s| &s.attributes[..]);
    let newest_first = parse_stack(stack);
    let body = if newest_first.is_empty() {
        // Nothing to show as frames: a message, with the raw text (if any) alongside.
        let text = if message.is_empty() { class.to_owned() } else { format!("{class}: {message}") };
        let mut m = json!({ "body": text });
        if !stack.is_empty() {
            m["stack"] = stack.into();
        }
        json!({ "message": m })
    } else {
        let frames: Vec<Value> = newest_first.iter().rev().map(Frame::to_json).collect();
        json!({ "trace": { "frames": frames, "exception": { "class": class, "message": message } } })
    };
    let mut custom = Map::new();
    if let Some(span) = src.span {
        custom.insert("trace_id".into(), hex(&span.trace_id).into());
        custom.insert("span_id".into(), hex(&span.span_id).into());
    }
    custom.insert("service.name".into(), service.into());
    if let Some(session) = str_attr(span_attrs, "session.id").or_else(|| str_attr(src.resource, "session.id")) {
        custom.insert("session.id".into(), session.into());
    }
    let environment = str_attr(src.resource, "deployment.environment.name").unwrap_or(src.environment);
    let mut data = json!({
        "environment": clamp(environment, MAX_ENVIRONMENT),
        "body": body,
        "level": "error",
        "platform": "browser",
        "language": "javascript",
        "custom": custom,
        "fingerprint": fingerprint(service, class, &newest_first),
        "notifier": { "name": "canopy-relay", "version": env!("CARGO_PKG_VERSION") },
    });
    // Without a time Rollbar uses the time it receives the item.
    if event.time_unix_nano != 0 {
        data["timestamp"] = (event.time_unix_nano / 1_000_000_000).into();
    }
    if let Some(span) = src.span {
        data["uuid"] = occurrence_id(span, src.event_index, event).into();
    }
    if let Some(v) = str_attr(src.resource, "service.version") {
        data["code_version"] = clamp(v, MAX_CODE_VERSION).into();
    }
    if let Some(span) = src.span.filter(|s| !s.name.is_empty()) {
        data["context"] = clamp(&span.name, MAX_CONTEXT).into();
    }
    let url =
        ["url.full", "page.url"].iter().find_map(|k| str_attr(span_attrs, k).or_else(|| str_attr(src.resource, k)));
    if let Some(url) = url {
        data["request"] = json!({ "url": url });
    }
    json!({ "data": data })
}

/// At most `max` bytes of `s`, cut between characters (the client sets these fields; Rollbar
/// counts characters, and `max` bytes are never more than `max` characters).
fn clamp(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The payload as JSON bytes, cut to `max` bytes if it can be (see the module's notes on
/// rollbar.js); like rollbar.js, the last step's result is returned even if still over.
pub fn truncate(mut payload: Value, max: usize) -> Vec<u8> {
    let fits = |p: &Value| {
        let bytes = serde_json::to_vec(p).unwrap_or_default();
        (bytes.len() <= max).then_some(bytes)
    };
    if let Some(b) = fits(&payload) {
        return b;
    }
    if let Some(t) = payload.pointer_mut("/data/body/trace").and_then(Value::as_object_mut) {
        select_frames(t, FRAME_RANGE);
    }
    if let Some(b) = fits(&payload) {
        return b;
    }
    for len in [1024, 512, 256] {
        truncate_strings(&mut payload, len);
        if let Some(b) = fits(&payload) {
            return b;
        }
    }
    if let Some(t) = payload.pointer_mut("/data/body/trace").and_then(Value::as_object_mut) {
        if let Some(e) = t.get_mut("exception").and_then(Value::as_object_mut) {
            e.remove("description");
            if let Some(Value::String(m)) = e.get_mut("message") {
                cut(m, 255);
            }
        }
        select_frames(t, 1);
    }
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// The first and last `range` frames, when there are more than twice that.
fn select_frames(trace: &mut Map<String, Value>, range: usize) {
    if let Some(Value::Array(frames)) = trace.get_mut("frames") {
        if frames.len() > range * 2 {
            frames.drain(range..frames.len() - range);
        }
    }
}

/// Every string in `v` cut to `len` characters (an explicit stack: no recursion).
fn truncate_strings(v: &mut Value, len: usize) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => cut(s, len),
            Value::Array(a) => stack.extend(a.iter_mut()),
            Value::Object(o) => stack.extend(o.values_mut()),
            _ => {}
        }
    }
}

/// rollbar.js `maybeTruncateValue`: over `len` characters, the first `len - 3` and `...`.
fn cut(s: &mut String, len: usize) {
    if s.chars().count() > len {
        let end = s.char_indices().nth(len.saturating_sub(3)).map_or(s.len(), |(i, _)| i);
        s.truncate(end);
        s.push_str("...");
    }
}

/// An exception's identity across SDK retries: its [`occurrence_id`].
type Key = String;

/// The event's time before the relay's skew correction (a retry may be corrected by a slightly
/// different amount) (recorded on the span by `skew::apply`).
fn browser_time(span: &Span, event: &Event) -> i128 {
    let skew_ms = span.attributes.iter().find(|kv| kv.key == crate::skew::ATTRIBUTE).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Attr::IntValue(ms) => Some(*ms),
            _ => None,
        }
    });
    i128::from(event.time_unix_nano) - i128::from(skew_ms.unwrap_or(0)) * 1_000_000
}

struct Shared {
    counters: Arc<Counters>,
    /// Bytes of the payloads on the queue.
    queued_bytes: AtomicUsize,
    seen: Mutex<Recent<Key>>,
}

/// The handle ingest holds: finds exceptions and queues their items; a task sends them.
pub struct Rollbar {
    tx: mpsc::Sender<Bytes>,
    shared: Arc<Shared>,
    environment: String,
    worker: crate::worker::Worker,
}

impl Rollbar {
    /// Starts the sender task (on the current Tokio runtime).
    pub fn start(config: &RollbarConfig, counters: Arc<Counters>) -> Result<Rollbar, ConfigError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(ATTEMPT_TIMEOUT)
            .user_agent(concat!("canopy-relay/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ConfigError::HttpClient)?;
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut token = HeaderValue::from_str(config.token.expose())
            .map_err(|_| ConfigError::HeaderValue("ROLLBAR_ACCESS_TOKEN"))?;
        token.set_sensitive(true);
        headers.insert(TOKEN_HEADER, token);
        let seen = Mutex::new(Recent::new(DEDUP_KEYS, DEDUP_WINDOW));
        let shared = Arc::new(Shared { counters, queued_bytes: AtomicUsize::new(0), seen });
        let (tx, rx) = mpsc::channel(QUEUE_ITEMS);
        let sender = Sender {
            client,
            url: config.endpoint.clone(),
            headers,
            token: config.token.clone(),
            shared: shared.clone(),
        };
        let worker = crate::worker::Worker::spawn(&runtime, "Rollbar", |stop| sender.run(rx, stop));
        Ok(Rollbar { tx, shared, environment: config.environment.clone(), worker })
    }

    /// Sends the items already queued (on shutdown), within `grace`.
    pub async fn close(&self, grace: Duration) {
        self.worker.close(grace).await;
    }

    /// Queues an item for every `exception` event in `req` not seen before; never waits
    /// (a full queue drops the item and counts it). Called on the blocking pool.
    pub fn submit(&self, req: &ExportTraceServiceRequest) {
        let c = &self.shared.counters;
        for rs in &req.resource_spans {
            let resource = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            for span in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
                for (event_index, event) in span.events.iter().enumerate().filter(|(_, e)| e.name == "exception") {
                    let key = occurrence_id(span, event_index, event);
                    let first = self.shared.seen.lock().map_or(true, |mut s| s.first(key, Instant::now()));
                    if !first {
                        c.duplicates.fetch_add(1, Relaxed);
                        continue;
                    }
                    if self.tx.capacity() == 0 {
                        c.dropped.fetch_add(1, Relaxed);
                        continue;
                    }
                    let src = Source { resource, span: Some(span), event_index, environment: &self.environment };
                    let payload = Bytes::from(truncate(item(src, event), MAX_PAYLOAD_BYTES));
                    let len = payload.len();
                    let q = &self.shared.queued_bytes;
                    if q.fetch_add(len, Relaxed).saturating_add(len) > QUEUE_BYTES {
                        q.fetch_sub(len, Relaxed);
                        c.dropped.fetch_add(1, Relaxed);
                        continue;
                    }
                    match self.tx.try_send(payload) {
                        Ok(()) => {
                            c.queued.fetch_add(1, Relaxed);
                        }
                        Err(_) => {
                            q.fetch_sub(len, Relaxed);
                            c.dropped.fetch_add(1, Relaxed);
                        }
                    }
                }
            }
        }
    }
}

struct Sender {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    token: Secret,
    shared: Arc<Shared>,
}

/// How one POST went.
enum Sent {
    Ok,
    /// 429: pause this long, then try again.
    RateLimited(Duration),
    /// A 5xx or a network error: worth another try.
    Retry(String),
    /// Refused for good.
    Refused(String),
}

impl Sender {
    async fn run(self, mut rx: mpsc::Receiver<Bytes>, mut stop: crate::worker::Stop) {
        let c = &self.shared.counters;
        while let Some(payload) = stop.next(&mut rx).await {
            self.shared.queued_bytes.fetch_sub(payload.len(), Relaxed);
            let (mut tries, mut pauses) = (0, 0);
            loop {
                match self.post(payload.clone()).await {
                    Sent::Ok => {
                        c.sent.fetch_add(1, Relaxed);
                        break;
                    }
                    Sent::Refused(why) => {
                        c.failed.fetch_add(1, Relaxed);
                        tracing::warn!("Rollbar refused an item: {why}");
                        break;
                    }
                    Sent::RateLimited(pause) => {
                        c.rate_limited.fetch_add(1, Relaxed);
                        pauses += 1;
                        tracing::warn!(pause_secs = pause.as_secs(), "Rollbar rate limit (429); pausing");
                        // Paused even when giving up: the next item would be refused too.
                        // Items arriving meanwhile wait on the bounded queue (or are dropped).
                        tokio::time::sleep(pause).await;
                        if pauses == MAX_PAUSES {
                            c.failed.fetch_add(1, Relaxed);
                            tracing::warn!(pauses, "gave up on a Rollbar item: rate limited {pauses} times");
                            break;
                        }
                    }
                    Sent::Retry(why) => {
                        tries += 1;
                        if tries == MAX_TRIES {
                            c.failed.fetch_add(1, Relaxed);
                            tracing::warn!(tries, "gave up on a Rollbar item: {why}");
                            break;
                        }
                        tokio::time::sleep(Duration::from_secs(1 << tries)).await;
                    }
                }
            }
        }
    }

    async fn post(&self, payload: Bytes) -> Sent {
        let call = async {
            let mut res = self.client.post(self.url.clone()).headers(self.headers.clone()).body(payload).send().await?;
            let status = res.status();
            let remaining = res
                .headers()
                .get("x-rate-limit-remaining-seconds")
                .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
            let mut body = Vec::new();
            while body.len() < MAX_RESPONSE_BYTES {
                match res.chunk().await? {
                    Some(c) => body.extend_from_slice(&c),
                    None => break,
                }
            }
            Ok::<_, reqwest::Error>((status, remaining, body))
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, call).await {
            Err(_) => Sent::Retry(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
            Ok(Err(e)) => Sent::Retry(self.scrub(&e.without_url().to_string())),
            Ok(Ok((status, remaining, body))) => match status.as_u16() {
                200..=299 => Sent::Ok,
                429 => Sent::RateLimited(pause(remaining)),
                500..=599 => Sent::Retry(format!("HTTP {status}")),
                _ => Sent::Refused(format!("HTTP {status}: {}", self.scrub(&String::from_utf8_lossy(&body)))),
            },
        }
    }

    /// Rollbar's words made safe to log: the token replaced, control characters blanked, cut.
    fn scrub(&self, text: &str) -> String {
        let text = text.replace(self.token.expose(), "[redacted]");
        text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(300).collect()
    }
}

/// The pause a 429 asks for: `X-Rate-Limit-Remaining-Seconds`, at least 1 s and at most
/// [`MAX_PAUSE_SECS`]; [`DEFAULT_PAUSE_SECS`] without the header.
fn pause(remaining: Option<u64>) -> Duration {
    Duration::from_secs(remaining.unwrap_or(DEFAULT_PAUSE_SECS).clamp(1, MAX_PAUSE_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Resource, ResourceSpans, ScopeSpans};

    fn f(method: Option<&str>, filename: &str, lineno: Option<u32>, colno: Option<u32>) -> Frame {
        Frame { filename: filename.into(), method: method.map(Into::into), lineno, colno }
    }

    #[test]
    fn parses_the_three_stack_formats() {
        let chromium = "TypeError: Cannot read properties of undefined (reading 'x')\n    \
            at render (https://app.example.com/assets/app.js:10:15)\n    \
            at async load (https://app.example.com/assets/app.js:20:3)\n    \
            at new Widget (https://app.example.com:8443/w.js?v=2:3:4)\n    \
            at https://app.example.com/assets/app.js:30:7\n    \
            at Array.forEach (<anonymous>)\n    \
            at eval (eval at run (https://app.example.com/a.js:1:2), <anonymous>:5:6)";
        let firefox = "render@https://app.example.com/assets/app.js:10:15\n\
            load/<@https://app.example.com/assets/app.js:20:3\n\
            @https://app.example.com/assets/app.js:30:7\n";
        let safari = "render@https://app.example.com/assets/app.js:10:15\n\
            forEach@[native code]\n\
            global code@https://app.example.com/:2:1";
        for (name, stack, want) in [
            (
                "chromium",
                chromium,
                vec![
                    f(Some("render"), "https://app.example.com/assets/app.js", Some(10), Some(15)),
                    f(Some("load"), "https://app.example.com/assets/app.js", Some(20), Some(3)),
                    f(Some("new Widget"), "https://app.example.com:8443/w.js?v=2", Some(3), Some(4)),
                    f(None, "https://app.example.com/assets/app.js", Some(30), Some(7)),
                    f(Some("Array.forEach"), "<anonymous>", None, None),
                    f(Some("eval"), "<anonymous>", Some(5), Some(6)),
                ],
            ),
            (
                "firefox",
                firefox,
                vec![
                    f(Some("render"), "https://app.example.com/assets/app.js", Some(10), Some(15)),
                    f(Some("load/<"), "https://app.example.com/assets/app.js", Some(20), Some(3)),
                    f(None, "https://app.example.com/assets/app.js", Some(30), Some(7)),
                ],
            ),
            (
                "safari",
                safari,
                vec![
                    f(Some("render"), "https://app.example.com/assets/app.js", Some(10), Some(15)),
                    f(Some("forEach"), "[native code]", None, None),
                    f(Some("global code"), "https://app.example.com/", Some(2), Some(1)),
                ],
            ),
            ("no frames", "Error: boom\nsomething user@example.com said", vec![]),
            ("empty", "", vec![]),
        ] {
            assert_eq!(parse_stack(stack), want, "{name}");
        }
    }

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue::new(k, Attr::StringValue(v.into()))
    }

    fn exception(stack: &str, time: u64) -> Event {
        Event {
            time_unix_nano: time,
            name: "exception".into(),
            attributes: vec![
                kv("exception.type", "TypeError"),
                kv("exception.message", "x is undefined"),
                kv("exception.stacktrace", stack),
            ],
            dropped_attributes_count: 0,
        }
    }

    fn span(events: Vec<Event>) -> Span {
        Span {
            trace_id: vec![0xab; 16],
            span_id: vec![0xcd; 8],
            name: "click #buy".into(),
            attributes: vec![kv("url.full", "https://app.example.com/cart"), kv("session.id", "s-1")],
            events,
            ..Span::default()
        }
    }

    const STACK: &str = "TypeError: x is undefined\n    at inner (https://a.example/app.js:1:10)\n    at outer (https://a.example/app.js:2:20)";

    #[test]
    fn builds_the_documented_item() {
        let resource = [
            kv("service.name", "frontend"),
            kv("service.version", "1.2.3"),
            kv("deployment.environment.name", "staging"),
        ];
        let event = exception(STACK, 1_700_000_000_123_456_789);
        let s = span(vec![]);
        let item =
            item(Source { resource: &resource, span: Some(&s), event_index: 0, environment: "production" }, &event);
        let d = &item["data"];
        assert_eq!(d["environment"], "staging");
        assert_eq!(d["level"], "error");
        assert_eq!(d["platform"], "browser");
        assert_eq!(d["language"], "javascript");
        assert_eq!(d["timestamp"], 1_700_000_000);
        assert_eq!(d["code_version"], "1.2.3");
        assert_eq!(d["context"], "click #buy");
        assert_eq!(d["request"]["url"], "https://app.example.com/cart");
        assert_eq!(d["custom"]["trace_id"], "ab".repeat(16));
        assert_eq!(d["custom"]["span_id"], "cd".repeat(8));
        assert_eq!(d["custom"]["service.name"], "frontend");
        assert_eq!(d["custom"]["session.id"], "s-1");
        let trace = &d["body"]["trace"];
        assert_eq!(trace["exception"], json!({ "class": "TypeError", "message": "x is undefined" }));
        assert_eq!(trace["frames"][0]["method"], "outer", "oldest first");
        assert_eq!(
            trace["frames"][1],
            json!({ "filename": "https://a.example/app.js", "method": "inner", "lineno": 1, "colno": 10 })
        );
        assert_eq!(d["fingerprint"].as_str().unwrap().len(), 32);
        assert_eq!(d["uuid"].as_str().unwrap().len(), 32);

        // No deployment environment, no stack: the configured environment and a message.
        let bare = exception("not a stack", 0);
        let item = super::item(Source { resource: &[], span: None, event_index: 0, environment: "prod-eu" }, &bare);
        assert_eq!(item["data"]["environment"], "prod-eu");
        assert_eq!(
            item["data"]["body"],
            json!({ "message": { "body": "TypeError: x is undefined", "stack": "not a stack" } })
        );
        for absent in ["code_version", "request", "timestamp", "uuid", "context"] {
            assert!(item["data"].get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn fields_are_clamped_to_the_item_api_lengths() {
        let resource = [
            kv("service.name", "frontend"),
            kv("service.version", &"v".repeat(500)),
            kv("deployment.environment.name", &"é".repeat(2500)),
        ];
        let mut s = span(vec![]);
        s.name = "n".repeat(254) + "€€";
        let event = exception(STACK, 1_700_000_000_000_000_000);
        let item =
            item(Source { resource: &resource, span: Some(&s), event_index: 0, environment: "production" }, &event);
        let d = &item["data"];
        assert_eq!(d["environment"], "é".repeat(127), "255 bytes at most, cut between characters");
        assert_eq!(d["context"], "n".repeat(254), "a 3-byte character does not fit in the last byte");
        assert_eq!(d["code_version"], "v".repeat(40));
        let fallback = "x".repeat(300);
        let item = super::item(Source { environment: &fallback, ..Source::default() }, &event);
        assert_eq!(item["data"]["environment"], "x".repeat(255), "the configured one too");
    }

    #[test]
    fn fingerprints_are_stable_and_group_by_type_and_top_frames() {
        let frames = parse_stack(STACK);
        let a = fingerprint("frontend", "TypeError", &frames);
        assert_eq!(a, fingerprint("frontend", "TypeError", &frames), "stable");
        assert_eq!(a, "e4e704f4d1f032029930556ed2ba6591", "the same across builds and runs");
        let busted = parse_stack(&STACK.replace("app.js:", "app.js?v=9:"));
        assert_eq!(a, fingerprint("frontend", "TypeError", &busted), "cache-busting query left out");
        let moved = parse_stack(&STACK.replace(":1:10", ":7:1"));
        assert_eq!(a, fingerprint("frontend", "TypeError", &moved), "line numbers left out");
        assert_ne!(a, fingerprint("frontend", "RangeError", &frames));
        assert_ne!(a, fingerprint("admin", "TypeError", &frames));
        assert_ne!(a, fingerprint("frontend", "TypeError", &frames[1..]));
    }

    #[test]
    fn occurrence_ids_survive_a_different_skew_correction() {
        let event = exception(STACK, 1_700_000_000_000_000_000);
        let plain = span(vec![]);
        let id = occurrence_id(&plain, 0, &event);
        assert_eq!(id, occurrence_id(&plain, 0, &event));
        // The same batch again, its times moved 3.2 s by the relay (and the move recorded).
        let mut corrected = span(vec![]);
        corrected.attributes.push(KeyValue::new(crate::skew::ATTRIBUTE, Attr::IntValue(3200)));
        let moved = Event { time_unix_nano: event.time_unix_nano + 3_200_000_000, ..event.clone() };
        assert_eq!(id, occurrence_id(&corrected, 0, &moved));
        let later = Event { time_unix_nano: event.time_unix_nano + 1, ..event.clone() };
        assert_ne!(id, occurrence_id(&plain, 0, &later), "another exception on the span");
        let other = Span { span_id: vec![1; 8], ..span(vec![]) };
        assert_ne!(id, occurrence_id(&other, 0, &event));
        // At the same time on the same span: another position, or another exception.
        assert_ne!(id, occurrence_id(&plain, 1, &event), "the same exception recorded again");
        let mut range = event.clone();
        range.attributes[0] = kv("exception.type", "RangeError");
        assert_ne!(id, occurrence_id(&plain, 0, &range), "another type");
        let mut said = event.clone();
        said.attributes[1] = kv("exception.message", "y is undefined");
        assert_ne!(id, occurrence_id(&plain, 0, &said), "another message");
        let mut moved_frames = event.clone();
        moved_frames.attributes[2] = kv("exception.stacktrace", &STACK.replace(":1:10", ":2:10"));
        assert_ne!(id, occurrence_id(&plain, 0, &moved_frames), "another stack");
    }

    #[test]
    fn truncates_in_rollbar_js_steps() {
        let deep: String = (0..500).map(|i| format!("    at f{i} (https://a.example/app.js:{i}:1)\n")).collect();
        let event = exception(&format!("Error: deep\n{deep}"), 0);
        let payload = item(Source::default(), &event);
        let full = serde_json::to_vec(&payload).unwrap();
        assert_eq!(truncate(payload.clone(), full.len()), full, "fits: unchanged");

        // Frames: the first and last 30 (oldest first: f499 … f470, f29 … f0).
        let cut: Value = serde_json::from_slice(&truncate(payload.clone(), 20_000)).unwrap();
        let frames = cut["data"]["body"]["trace"]["frames"].as_array().unwrap();
        assert_eq!(frames.len(), 60);
        assert_eq!((frames[0]["method"].as_str(), frames[59]["method"].as_str()), (Some("f499"), Some("f0")));

        // Strings: 1024 characters, then 512, then 256.
        let mut long = exception(&format!("Error: deep\n{deep}"), 0);
        long.attributes[1] = kv("exception.message", &"é".repeat(5000));
        let payload = item(Source::default(), &long);
        let cut: Value = serde_json::from_slice(&truncate(payload.clone(), 9_000)).unwrap();
        let message = cut["data"]["body"]["trace"]["exception"]["message"].as_str().unwrap();
        assert_eq!(message.chars().count(), 1024);
        assert!(message.ends_with("é..."));

        // Min body: message to 255, one frame at each end; over the limit even so: returned.
        let out = truncate(payload, 100);
        let cut: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(cut["data"]["body"]["trace"]["exception"]["message"].as_str().unwrap().chars().count(), 255);
        assert_eq!(cut["data"]["body"]["trace"]["frames"].as_array().unwrap().len(), 2);
        assert!(out.len() > 100);
    }

    #[test]
    fn pauses_are_clamped() {
        assert_eq!(pause(Some(0)), Duration::from_secs(1));
        assert_eq!(pause(Some(7)), Duration::from_secs(7));
        assert_eq!(pause(Some(u64::MAX)), Duration::from_secs(MAX_PAUSE_SECS));
        assert_eq!(pause(None), Duration::from_secs(DEFAULT_PAUSE_SECS));
    }

    #[tokio::test]
    async fn submit_finds_exceptions_and_drops_retried_copies() {
        let config = RollbarConfig {
            token: Secret::new("t"),
            endpoint: "http://127.0.0.1:9/api/1/item/".parse().unwrap(),
            environment: "production".into(),
        };
        let counters = Arc::new(Counters::default());
        let r = Rollbar::start(&config, counters.clone()).unwrap();
        let mark = Event { name: "mark".into(), ..Event::default() };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource { attributes: vec![kv("service.name", "frontend")], ..Resource::default() }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span(vec![exception(STACK, 5), mark])],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        r.submit(&req);
        r.submit(&req);
        assert_eq!(counters.queued.load(Relaxed), 1);
        assert_eq!(counters.duplicates.load(Relaxed), 1);
    }
}
