//! AWS X-Ray: received spans as X-Ray segment documents, sent to the X-Ray daemon over UDP
//! (`CANOPY_XRAY_DAEMON`).
//!
//! The mapping follows the OpenTelemetry Collector's `awsxrayexporter` (its
//! `internal/translator/segment.go`, `http.go` and `cause.go`): a root span or a SERVER span is
//! a segment named after the service; every other span is a subsegment (`type: "subsegment"`,
//! `namespace: "remote"` for CLIENT spans) of its parent. The daemon protocol is one UDP
//! datagram per document: `{"format":"json","version":1}`, a newline, the document.
//!
//! Sizes: a segment document may be up to 64 kB ("A segment document can be up to 64 kB and
//! contain a whole segment with subsegments, [...] or a single subsegment that is sent
//! separately", https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html).
//! A segment carries its direct child subsegments from the same request while they fit; the
//! others go as separate subsegment documents (`trace_id`, `parent_id`, `type`). A document that
//! is still too large loses its metadata, then its annotations, then the tail of its URL, and is
//! counted as truncated.
//!
//! Translation runs in the request's blocking task; the datagrams go through a bounded queue to
//! one sender task, so the ingest path never waits on the network: when the queue is full, the
//! datagram is dropped and counted.

use crate::error::ConfigError;
use crate::metrics::Metrics;
use crate::model::{ExportTraceServiceRequest, KeyValue, Span, Value};
use serde_json::{Map, Value as J, json};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use tokio::sync::mpsc;

/// The first line of every datagram.
pub const HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";
/// Largest datagram, header included: under 64 kB (and under UDP's 65 507-byte payload limit).
pub const MAX_DATAGRAM: usize = 64_000;
/// Trace ids older than this are refused. X-Ray keeps traces 30 days; the Collector's
/// `convertToAmazonTraceID` (awsxrayexporter, segment.go) allows 28 days "to be conservative".
const MAX_AGE_SECS: i64 = 28 * 24 * 60 * 60;
/// ... and ids from the future beyond this clock skew (the Collector's `maxSkew`, 5 minutes).
const MAX_SKEW_SECS: i64 = 5 * 60;
/// Segment names: at most 200 characters (the Collector's `maxSegmentNameLength`).
const MAX_NAME_CHARS: usize = 200;
/// Annotation keys: at most 500 characters; values: at most 1000 (X-Ray SDK docs, "Annotation
/// requirements": keys "up to 500 alphanumeric characters", values "up to 1,000 Unicode
/// characters", "up to 50 annotations per trace").
const MAX_KEY_CHARS: usize = 500;
const MAX_ANNOTATION_CHARS: usize = 1000;
/// Annotations per document; the rest go to `metadata`.
const MAX_ANNOTATIONS: usize = 50;
/// What a URL is cut to when a document must shrink.
const MAX_URL_CHARS_WHEN_TRUNCATED: usize = 2000;
/// Datagrams waiting for the sender task.
const QUEUE: usize = 4096;

/// The X-Ray counters in `/metrics`.
#[derive(Debug, Default)]
pub struct XRayStats {
    /// Datagrams (segment or subsegment documents) handed to the socket.
    pub sent: AtomicU64,
    /// Spans whose trace id X-Ray would refuse.
    pub skipped: AtomicU64,
    /// Datagrams dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Documents cut to fit a datagram.
    pub truncated: AtomicU64,
    /// Datagrams the socket refused (daemon unreachable and the like).
    pub send_errors: AtomicU64,
}

impl XRayStats {
    pub fn render(&self, out: &mut String) {
        for (name, c, help) in [
            ("segments_sent", &self.sent, "X-Ray segment documents sent to the daemon."),
            ("spans_skipped", &self.skipped, "Spans not sent to X-Ray: their trace id is not X-Ray compatible."),
            ("documents_dropped", &self.dropped, "X-Ray documents dropped: the send queue was full."),
            ("documents_truncated", &self.truncated, "X-Ray documents cut to fit in 64 kB."),
            ("send_errors", &self.send_errors, "X-Ray datagrams the socket refused."),
        ] {
            let metric = format!("canopy_relay_xray_{name}_total");
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} counter\n{metric} {}", c.load(Relaxed));
        }
    }
}

/// The exporter: a queue to the task that owns the UDP socket.
pub struct XRay {
    tx: mpsc::Sender<Vec<u8>>,
    metrics: Arc<Metrics>,
    worker: crate::worker::Worker,
}

impl XRay {
    /// Binds a UDP socket (loopback when the daemon is on loopback) and spawns the sender task.
    /// Needs a tokio runtime.
    pub fn start(daemon: SocketAddr, metrics: Arc<Metrics>) -> Result<XRay, ConfigError> {
        let err = |reason: String| ConfigError::XRayDaemon { daemon: daemon.to_string(), reason };
        let local: SocketAddr = match daemon {
            SocketAddr::V4(a) if a.ip().is_loopback() => (Ipv4Addr::LOCALHOST, 0).into(),
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(a) if a.ip().is_loopback() => (Ipv6Addr::LOCALHOST, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| err(e.to_string()))?;
        let socket = std::net::UdpSocket::bind(local).map_err(|e| err(format!("cannot bind {local}: {e}")))?;
        socket.set_nonblocking(true).map_err(|e| err(e.to_string()))?;
        let socket = {
            let _entered = runtime.enter();
            tokio::net::UdpSocket::from_std(socket).map_err(|e| err(e.to_string()))?
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let m = metrics.clone();
        let worker = crate::worker::Worker::spawn(&runtime, "X-Ray", |stop| drain(socket, daemon, rx, stop, m));
        Ok(XRay { tx, metrics, worker })
    }

    /// Sends the datagrams already queued (on shutdown), within `grace`.
    pub async fn close(&self, grace: std::time::Duration) {
        self.worker.close(grace).await;
    }

    /// Translates `req` and queues its datagrams; never waits. Runs on the blocking pool.
    pub fn export(&self, req: &ExportTraceServiceRequest, now_secs: i64) {
        let out = translate(req, now_secs);
        let stats = &self.metrics.xray;
        stats.skipped.fetch_add(out.skipped, Relaxed);
        stats.truncated.fetch_add(out.truncated, Relaxed);
        for datagram in out.datagrams {
            if self.tx.try_send(datagram).is_err() {
                stats.dropped.fetch_add(1, Relaxed);
            }
        }
    }
}

/// The sender task: ends when the exporter is dropped, or on shutdown once the queue is sent.
async fn drain(
    socket: tokio::net::UdpSocket,
    daemon: SocketAddr,
    mut rx: mpsc::Receiver<Vec<u8>>,
    mut stop: crate::worker::Stop,
    m: Arc<Metrics>,
) {
    let mut last_error = None::<std::time::Instant>;
    while let Some(datagram) = stop.next(&mut rx).await {
        match socket.send_to(&datagram, daemon).await {
            Ok(_) => {
                m.xray.sent.fetch_add(1, Relaxed);
            }
            Err(e) => {
                m.xray.send_errors.fetch_add(1, Relaxed);
                // At most one line a minute: a missing daemon would otherwise flood the log.
                if last_error.is_none_or(|t| t.elapsed().as_secs() >= 60) {
                    last_error = Some(std::time::Instant::now());
                    tracing::warn!(%daemon, "cannot send to the X-Ray daemon: {e}");
                }
            }
        }
    }
}

/// What one request turns into.
#[derive(Debug, Default)]
pub struct Translated {
    /// Each with the header line; each at most [`MAX_DATAGRAM`] bytes.
    pub datagrams: Vec<Vec<u8>>,
    /// Spans with a trace id X-Ray would refuse.
    pub skipped: u64,
    /// Documents that had to be cut.
    pub truncated: u64,
}

/// One span as a document.
struct Doc {
    trace_id: String,
    id: String,
    parent_id: Option<String>,
    segment: bool,
    body: Map<String, J>,
}

/// Every span of `req` as X-Ray datagrams (see the module docs).
pub fn translate(req: &ExportTraceServiceRequest, now_secs: i64) -> Translated {
    let mut out = Translated::default();
    let mut docs = Vec::new();
    for rs in &req.resource_spans {
        let resource = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let service = resource
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some(s.as_str()),
                _ => None,
            })
            .unwrap_or("");
        for span in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            match trace_id(&span.trace_id, now_secs) {
                Some(tid) => docs.push(document(span, tid, service, resource)),
                None => out.skipped += 1,
            }
        }
    }
    // Direct children of a segment in this request ride inside it while they fit.
    let segments: HashMap<(&str, &str), usize> =
        docs.iter().enumerate().filter(|(_, d)| d.segment).map(|(i, d)| ((&d.trace_id[..], &d.id[..]), i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); docs.len()];
    let mut alone = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        let parent = d.parent_id.as_deref().and_then(|p| segments.get(&(&d.trace_id[..], p)));
        match parent {
            Some(&p) if !d.segment => children[p].push(i),
            _ => alone.push(i),
        }
    }
    let budget = MAX_DATAGRAM - HEADER.len();
    let mut spill = Vec::new();
    for &i in &alone {
        let mut body = docs[i].body.clone();
        if !docs[i].segment || children[i].is_empty() {
            push(&mut out, body);
            continue;
        }
        let base = fit(&mut body, budget.saturating_sub(20), &mut out.truncated);
        // `,"subsegments":[` + `]` and a comma between children.
        let mut size = base.map_or(budget, |b| b.len()) + 17;
        let mut embedded = Vec::new();
        for &c in &children[i] {
            let child = embeddable(&docs[c].body);
            let len = serde_json::to_vec(&child).map_or(usize::MAX, |v| v.len());
            if size.saturating_add(len + 1) <= budget {
                size += len + 1;
                embedded.push(J::Object(child));
            } else {
                spill.push(c);
            }
        }
        if !embedded.is_empty() {
            body.insert("subsegments".into(), J::Array(embedded));
        }
        push(&mut out, body);
    }
    for c in spill {
        push(&mut out, docs[c].body.clone());
    }
    out
}

/// Serializes `body` (cut to fit) into a datagram.
fn push(out: &mut Translated, mut body: Map<String, J>) {
    if let Some(json) = fit(&mut body, MAX_DATAGRAM - HEADER.len(), &mut out.truncated) {
        let mut datagram = Vec::with_capacity(HEADER.len() + json.len());
        datagram.extend_from_slice(HEADER.as_bytes());
        datagram.extend_from_slice(&json);
        out.datagrams.push(datagram);
    }
}

/// `body` as JSON of at most `budget` bytes: metadata, then annotations, then the tails of the
/// URL and method go when it is larger (counted once in `truncated`). `None` if nothing helps.
fn fit(body: &mut Map<String, J>, budget: usize, truncated: &mut u64) -> Option<Vec<u8>> {
    let json = serde_json::to_vec(&*body).ok()?;
    if json.len() <= budget {
        return Some(json);
    }
    *truncated += 1;
    for step in 0..3 {
        match step {
            0 => drop(body.remove("metadata")),
            1 => drop(body.remove("annotations")),
            _ => {
                if let Some(J::Object(request)) = body.get_mut("http").and_then(|h| h.get_mut("request")) {
                    for (field, max) in [("url", MAX_URL_CHARS_WHEN_TRUNCATED), ("method", 32)] {
                        if let Some(J::String(v)) = request.get_mut(field) {
                            *v = v.chars().take(max).collect();
                        }
                    }
                }
            }
        }
        let json = serde_json::to_vec(&*body).ok()?;
        if json.len() <= budget {
            return Some(json);
        }
    }
    None
}

/// A subsegment as it appears inside its segment: no `trace_id`, `parent_id` or `type`.
fn embeddable(body: &Map<String, J>) -> Map<String, J> {
    let mut b = body.clone();
    for k in ["trace_id", "parent_id", "type"] {
        b.remove(k);
    }
    b
}

/// One span as a segment or subsegment document.
fn document(span: &Span, trace_id: String, service: &str, resource: &[KeyValue]) -> Doc {
    const SERVER: i32 = 2;
    const CLIENT: i32 = 3;
    let id = hex(&span.span_id);
    let parent_id = (!span.parent_span_id.is_empty()).then(|| hex(&span.parent_span_id));
    // As the Collector's MakeSegment: a subsegment unless SERVER or without a parent.
    let segment = span.kind == SERVER || parent_id.is_none();
    let (http, status, used) = http_block(&span.attributes);
    let name = if segment {
        // X-Ray segment names are services, not operations.
        segment_name(if service.is_empty() { &span.name } else { service })
    } else {
        // A call out is named after what it calls (the URL's host), as the X-Ray SDKs do.
        let host = http.as_ref().and_then(|h| h["request"]["url"].as_str()).and_then(url_host);
        segment_name(host.unwrap_or(&span.name))
    };
    let mut body = Map::new();
    body.insert("trace_id".into(), J::from(trace_id.clone()));
    body.insert("id".into(), J::from(id.clone()));
    if let Some(p) = &parent_id {
        body.insert("parent_id".into(), J::from(p.clone()));
    }
    body.insert("name".into(), J::from(name));
    body.insert("start_time".into(), J::from(seconds(span.start_time_unix_nano)));
    body.insert("end_time".into(), J::from(seconds(span.end_time_unix_nano.max(span.start_time_unix_nano))));
    if !segment {
        body.insert("type".into(), J::from("subsegment"));
        if span.kind == CLIENT {
            body.insert("namespace".into(), J::from("remote"));
        }
    }
    let error = span.status.as_ref().is_some_and(|s| s.code == 2);
    let f = flags(status, error);
    for (k, on) in [("error", f.error), ("throttle", f.throttle), ("fault", f.fault)] {
        if on {
            body.insert(k.into(), J::Bool(true));
        }
    }
    if let Some(http) = http {
        body.insert("http".into(), http);
    }
    let (annotations, mut metadata) = attributes(&span.attributes, &used);
    if !annotations.is_empty() {
        body.insert("annotations".into(), J::Object(annotations));
    }
    metadata.insert("span.name".into(), J::from(span.name.as_str()));
    if segment {
        // As the Collector: the resource goes with the segment only.
        for kv in resource {
            let v = kv.value.as_ref().map_or(J::Null, crate::view::json);
            metadata.insert(format!("otel.resource.{}", kv.key), v);
        }
    }
    body.insert("metadata".into(), json!({ "default": metadata }));
    Doc { trace_id, id, parent_id, segment, body }
}

/// The X-Ray trace id for a 16-byte OTLP trace id, `1-{8 hex}-{24 hex}`, when its first four
/// bytes are epoch seconds X-Ray accepts: not older than [`MAX_AGE_SECS`], not more than
/// [`MAX_SKEW_SECS`] ahead (as the Collector's `convertToAmazonTraceID`; AWS's X-Ray id generators
/// put the epoch seconds there). `None` for any other id: X-Ray would refuse the segment.
pub fn trace_id(id: &[u8], now_secs: i64) -> Option<String> {
    let id: &[u8; 16] = id.try_into().ok()?;
    let epoch = i64::from(u32::from_be_bytes([id[0], id[1], id[2], id[3]]));
    let age = now_secs - epoch;
    if !(-MAX_SKEW_SECS..=MAX_AGE_SECS).contains(&age) {
        return None;
    }
    Some(format!("1-{}-{}", hex(&id[..4]), hex(&id[4..])))
}

/// A segment name X-Ray accepts: Unicode letters, digits and whitespace and `_ . : / % & # = + \
/// - @` (segment documents reference, "name"), at most 200 characters; `span` when nothing is left
/// (the Collector's `fixSegmentName`).
pub fn segment_name(name: &str) -> String {
    let ok = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/%&#=+\\-@".contains(c);
    let name: String = name.chars().filter(|&c| ok(c)).take(MAX_NAME_CHARS).collect();
    if name.trim().is_empty() { "span".into() } else { name }
}

/// An annotation key X-Ray indexes: ASCII letters, digits and `_` (anything else becomes `_`,
/// as the Collector's `fixAnnotationKey`), at most 500 characters.
pub fn annotation_key(key: &str) -> String {
    key.chars().take(MAX_KEY_CHARS).map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// `error`, `throttle`, `fault` of a (sub)segment.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
pub struct Flags {
    pub error: bool,
    pub throttle: bool,
    pub fault: bool,
}

/// From the HTTP status and the span status: 4xx is an error (429 also a throttle), 5xx a
/// fault; a span with status ERROR and no 4xx status is a fault (the Collector's `makeCause`).
pub fn flags(http_status: Option<i64>, status_error: bool) -> Flags {
    match http_status {
        Some(429) => Flags { error: true, throttle: true, fault: false },
        Some(400..=499) => Flags { error: true, ..Flags::default() },
        Some(500..=599) => Flags { fault: true, ..Flags::default() },
        _ => Flags { fault: status_error, ..Flags::default() },
    }
}

/// The `http` block from the HTTP attributes (current names, then the pre-1.21 ones), the
/// status, and the keys it used (left out of annotations and metadata).
fn http_block(attrs: &[KeyValue]) -> (Option<J>, Option<i64>, Vec<&str>) {
    let get = |names: [&'static str; 2]| {
        names.into_iter().find_map(|n| {
            attrs.iter().find(|kv| kv.key == n).map(|kv| (n, kv.value.as_ref().and_then(|v| v.value.as_ref())))
        })
    };
    let mut used = Vec::new();
    let mut request = Map::new();
    if let Some((k, Some(Value::StringValue(m)))) = get(["http.request.method", "http.method"]) {
        request.insert("method".into(), J::from(m.as_str()));
        used.push(k);
    }
    if let Some((k, Some(Value::StringValue(u)))) = get(["url.full", "http.url"]) {
        request.insert("url".into(), J::from(u.as_str()));
        used.push(k);
    }
    let status = match get(["http.response.status_code", "http.status_code"]) {
        Some((k, Some(Value::IntValue(n)))) => {
            used.push(k);
            Some(*n)
        }
        Some((k, Some(Value::StringValue(s)))) => s.parse().ok().inspect(|_| used.push(k)),
        _ => None,
    };
    let mut http = Map::new();
    if !request.is_empty() {
        http.insert("request".into(), J::Object(request));
    }
    if let Some(s) = status {
        http.insert("response".into(), json!({ "status": s }));
    }
    ((!http.is_empty()).then_some(J::Object(http)), status, used)
}

/// Annotations (string, number and bool attributes, keys fixed, strings up to
/// [`MAX_ANNOTATION_CHARS`], the first [`MAX_ANNOTATIONS`]) and metadata (everything else,
/// under the attribute's own key).
fn attributes(attrs: &[KeyValue], skip: &[&str]) -> (Map<String, J>, Map<String, J>) {
    let mut annotations = Map::new();
    let mut metadata = Map::new();
    for kv in attrs.iter().filter(|kv| !skip.contains(&kv.key.as_str())) {
        let value = kv.value.as_ref().and_then(|v| v.value.as_ref());
        let annotation = match value {
            // Longer strings would be cut as annotations: they go whole to metadata.
            Some(Value::StringValue(s)) if s.chars().nth(MAX_ANNOTATION_CHARS).is_none() => Some(J::from(s.as_str())),
            Some(Value::BoolValue(b)) => Some(J::from(*b)),
            Some(Value::IntValue(n)) if n.unsigned_abs() <= 1 << 53 => Some(J::from(*n)),
            Some(Value::DoubleValue(d)) if d.is_finite() => Some(J::from(*d)),
            _ => None,
        };
        let key = annotation_key(&kv.key);
        match annotation {
            Some(a) if annotations.len() < MAX_ANNOTATIONS && !key.is_empty() && !annotations.contains_key(&key) => {
                annotations.insert(key, a);
            }
            _ => {
                metadata.insert(kv.key.clone(), kv.value.as_ref().map_or(J::Null, crate::view::json));
            }
        }
    }
    (annotations, metadata)
}

/// Epoch seconds with the nanoseconds as the fraction.
fn seconds(ns: u64) -> f64 {
    (ns / 1_000_000_000) as f64 + (ns % 1_000_000_000) as f64 / 1e9
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The host of an absolute URL, without port or credentials.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') { host.split_inclusive(']').next()? } else { host.split(':').next()? };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Resource, ResourceSpans, ScopeSpans, Status};

    const NOW: i64 = 1_765_000_000; // 2025-12-06

    fn tid(epoch: u32) -> Vec<u8> {
        let mut id = epoch.to_be_bytes().to_vec();
        id.extend_from_slice(&[0xa0, 0x06, 0x64, 0x91, 0x27, 0xe3, 0x71, 0x90, 0x3a, 0x2d, 0xe9, 0x79]);
        id
    }

    #[test]
    fn trace_ids() {
        let now = NOW as u32;
        let want = |e: u32| Some(format!("1-{e:08x}-a006649127e371903a2de979"));
        for (id, expect, why) in [
            (tid(now), want(now), "now"),
            (tid(now - 28 * 86400), want(now - 28 * 86400), "28 days old"),
            (tid(now - 28 * 86400 - 1), None, "older than 28 days"),
            (tid(now + 300), want(now + 300), "5 minutes ahead"),
            (tid(now + 301), None, "further ahead"),
            (tid(0x0af76519), None, "a random W3C id (1975)"),
            (tid(0xffff_ffff), None, "the far future"),
            (vec![0; 8], None, "not 16 bytes"),
        ] {
            assert_eq!(trace_id(&id, NOW), expect, "{why}");
        }
        assert_eq!(
            trace_id(
                &[0x58, 0x40, 0x65, 0x20, 0xa0, 6, 0x64, 0x91, 0x27, 0xe3, 0x71, 0x90, 0x3a, 0x2d, 0xe9, 0x79],
                0x5840_6520
            ),
            Some("1-58406520-a006649127e371903a2de979".into()),
            "the example in the X-Ray docs"
        );
    }

    #[test]
    fn names_and_keys() {
        assert_eq!(segment_name("frontend"), "frontend");
        assert_eq!(segment_name("my app (prod) <eu>!"), "my app prod eu");
        assert_eq!(segment_name("a/b:c@d.e%f&g#h=i+j\\k-l_m"), "a/b:c@d.e%f&g#h=i+j\\k-l_m");
        assert_eq!(segment_name("日本"), "日本", "Unicode letters are allowed");
        assert_eq!(segment_name("()"), "span");
        assert_eq!(segment_name(&"x".repeat(300)).len(), 200);
        assert_eq!(annotation_key("user.tier"), "user_tier");
        assert_eq!(annotation_key("a-b c/d"), "a_b_c_d");
        assert_eq!(annotation_key("é"), "_");
        assert_eq!(annotation_key(&"k".repeat(600)).len(), 500);
    }

    #[test]
    fn error_fault_throttle() {
        let f = |e, t, fa| Flags { error: e, throttle: t, fault: fa };
        for (status, error, want) in [
            (Some(200), false, f(false, false, false)),
            (Some(404), false, f(true, false, false)),
            (Some(404), true, f(true, false, false)),
            (Some(429), true, f(true, true, false)),
            (Some(503), false, f(false, false, true)),
            (None, true, f(false, false, true)),
            (Some(200), true, f(false, false, true)),
            (None, false, f(false, false, false)),
        ] {
            assert_eq!(flags(status, error), want, "{status:?} {error}");
        }
    }

    fn kv(k: &str, v: Value) -> KeyValue {
        KeyValue::new(k, v)
    }

    fn span(id: u8, parent: Option<u8>, kind: i32, attrs: Vec<KeyValue>) -> Span {
        Span {
            trace_id: tid(NOW as u32),
            span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
            parent_span_id: parent.map(|p| vec![0, 0, 0, 0, 0, 0, 0, p]).unwrap_or_default(),
            name: format!("span {id}"),
            kind,
            start_time_unix_nano: 1_765_000_000_123_456_789,
            end_time_unix_nano: 1_765_000_000_623_456_789,
            attributes: attrs,
            ..Span::default()
        }
    }

    fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", Value::StringValue("front end!".into()))],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
                ..ResourceSpans::default()
            }],
        }
    }

    fn docs(t: &Translated) -> Vec<J> {
        t.datagrams
            .iter()
            .map(|d| {
                assert!(d.starts_with(HEADER.as_bytes()) && d.len() <= MAX_DATAGRAM);
                serde_json::from_slice(&d[HEADER.len()..]).unwrap()
            })
            .collect()
    }

    #[test]
    fn a_segment_with_its_subsegments() {
        let fetch = vec![
            kv("http.request.method", Value::StringValue("GET".into())),
            kv("url.full", Value::StringValue("https://api.example.com:8443/items?q=1".into())),
            kv("http.response.status_code", Value::IntValue(503)),
            kv("user.tier", Value::StringValue("gold".into())),
            kv("cart.items", Value::IntValue(3)),
            kv("tags", Value::ArrayValue(crate::model::ArrayValue::default())),
        ];
        let mut root = span(1, None, 1, vec![]);
        root.status = Some(Status { code: 2, message: "boom".into() });
        let req = request(vec![root, span(2, Some(1), 3, fetch), span(3, Some(2), 1, vec![])]);
        let out = translate(&req, NOW);
        assert_eq!((out.skipped, out.truncated), (0, 0));
        let d = docs(&out);
        assert_eq!(d.len(), 2, "the segment with its child inside, the grandchild alone: {d:?}");
        let seg = &d[0];
        assert_eq!(seg["trace_id"], "1-6933c340-a006649127e371903a2de979");
        assert_eq!(seg["id"], "0000000000000001");
        assert_eq!(seg["name"], "front end");
        assert!((seg["start_time"].as_f64().unwrap() - 1_765_000_000.123_456_8).abs() < 1e-6, "{}", seg["start_time"]);
        assert_eq!(seg["fault"], true);
        assert!(seg.get("parent_id").is_none() && seg.get("type").is_none());
        assert_eq!(seg["metadata"]["default"]["otel.resource.service.name"], "front end!");
        let sub = &seg["subsegments"][0];
        assert_eq!(sub["id"], "0000000000000002");
        assert_eq!(sub["name"], "api.example.com");
        assert_eq!(sub["namespace"], "remote");
        assert!(sub.get("trace_id").is_none() && sub.get("parent_id").is_none(), "implied by nesting");
        assert_eq!(
            sub["http"],
            json!({ "request": { "method": "GET", "url": "https://api.example.com:8443/items?q=1" }, "response": { "status": 503 } })
        );
        assert_eq!(sub["fault"], true);
        assert_eq!(sub["annotations"], json!({ "user_tier": "gold", "cart_items": 3 }));
        assert_eq!(sub["metadata"]["default"]["tags"], json!([]));
        let alone = &d[1];
        assert_eq!(alone["type"], "subsegment");
        assert_eq!(alone["parent_id"], "0000000000000002");
        assert_eq!(alone["trace_id"], seg["trace_id"]);
        assert!(alone.get("namespace").is_none(), "INTERNAL: no namespace");
    }

    #[test]
    fn incompatible_ids_are_skipped() {
        let mut old = span(1, None, 2, vec![]);
        old.trace_id = tid(0x0af76519);
        let out = translate(&request(vec![old, span(2, None, 2, vec![])]), NOW);
        assert_eq!(out.skipped, 1);
        assert_eq!(docs(&out).len(), 1);
    }

    #[test]
    fn annotations_are_capped() {
        let attrs = (0..60).map(|i| kv(&format!("k.{i}"), Value::IntValue(i))).collect();
        let d = docs(&translate(&request(vec![span(1, None, 2, attrs)]), NOW));
        assert_eq!(d[0]["annotations"].as_object().unwrap().len(), 50);
        assert_eq!(d[0]["metadata"]["default"]["k.59"], 59, "the rest as metadata");
    }

    #[test]
    fn large_sets_are_split_and_large_documents_cut() {
        let pad = |n: usize| vec![kv("pad", Value::StringValue("x".repeat(n)))];
        let mut spans = vec![span(1, None, 2, vec![])];
        spans.extend((2..=200).map(|i| span(i, Some(1), 3, pad(900))));
        let out = translate(&request(spans), NOW);
        let d = docs(&out);
        assert!(d.len() > 1 && out.truncated == 0, "{} datagrams", d.len());
        let embedded: usize = d.iter().map(|x| x["subsegments"].as_array().map_or(0, Vec::len)).sum();
        let separate = d.iter().filter(|x| x["type"] == "subsegment").count();
        assert_eq!(embedded + separate, 199, "every child once");
        assert!(embedded > 30, "the segment is filled first: {embedded}");

        let big = (0..8).map(|i| kv(&format!("big{i}"), Value::StringValue("y".repeat(20_000)))).collect();
        let out = translate(&request(vec![span(1, None, 2, big)]), NOW);
        assert_eq!(out.truncated, 1);
        let d = docs(&out);
        assert!(d[0].get("metadata").is_none() && d[0].get("annotations").is_none());
        assert_eq!(d[0]["id"], "0000000000000001");
    }

    #[test]
    fn hosts() {
        assert_eq!(url_host("https://a.example.com:8443/x"), Some("a.example.com"));
        assert_eq!(url_host("http://u:p@h/x"), Some("h"));
        assert_eq!(url_host("http://[::1]:80/"), Some("[::1]"));
        assert_eq!(url_host("/relative"), None);
    }
}
