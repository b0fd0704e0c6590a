//! The X-Ray exporter (issue 11): the relay on 127.0.0.1 over real HTTP, a UDP socket on
//! 127.0.0.1 standing in for the X-Ray daemon.

use crate::support::*;
use canopy_relay::Config;
use canopy_relay::xray::{HEADER, MAX_DATAGRAM};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::UdpSocket;

/// A UDP socket that receives what the relay sends to the daemon.
struct Daemon {
    socket: UdpSocket,
    addr: SocketAddr,
}

impl Daemon {
    async fn start() -> Daemon {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // Room for a burst of datagrams (the kernel caps it at net.core.rmem_max).
        socket2::SockRef::from(&socket).set_recv_buffer_size(8 << 20).unwrap();
        let addr = socket.local_addr().unwrap();
        Daemon { socket, addr }
    }

    /// The next datagram's document and the datagram's size, or `None` if none comes within
    /// `wait`. Checks the header line.
    async fn next(&self, wait: Duration) -> Option<(Value, usize)> {
        let mut buf = vec![0u8; 1 << 16];
        let n = tokio::time::timeout(wait, self.socket.recv(&mut buf)).await.ok()?.unwrap();
        let datagram = &buf[..n];
        assert!(datagram.starts_with(HEADER.as_bytes()), "{}", String::from_utf8_lossy(&datagram[..n.min(100)]));
        assert_eq!(HEADER, "{\"format\":\"json\",\"version\":1}\n");
        Some((serde_json::from_slice(&datagram[HEADER.len()..]).unwrap(), n))
    }

    /// Whether a datagram is waiting now: one non-blocking read of the socket itself (tokio's
    /// `try_recv` answers from its readiness cache, which may not have heard of it yet).
    fn has_waiting(&self) -> bool {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        match socket2::SockRef::from(&self.socket).peek(&mut buf) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(e) => panic!("reading the daemon's socket: {e}"),
        }
    }

    /// Documents until `spans` spans arrived (segments, the subsegments inside them and
    /// separate subsegments), each datagram within 5 s.
    async fn receive(&self, spans: usize) -> Vec<(Value, usize)> {
        let mut docs = Vec::new();
        let mut seen = 0;
        while seen < spans {
            let doc = self.next(Duration::from_secs(5)).await.unwrap_or_else(|| panic!("{seen} of {spans} spans came"));
            seen += 1 + doc.0["subsegments"].as_array().map_or(0, Vec::len);
            docs.push(doc);
        }
        assert_eq!(seen, spans, "no span twice");
        docs
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A trace id as AWS's X-Ray id generators make them: epoch seconds, then 12 random bytes.
fn xray_trace_id(epoch: u64) -> String {
    format!("{epoch:08x}a006649127e371903a2de979")
}

fn with_daemon(daemon: &Daemon) -> Config {
    Config { xray_daemon: Some(daemon.addr), ..local() }
}

/// An OTLP JSON span as the SDK sends it.
fn span(trace: &str, id: u64, parent: Option<u64>, kind: i32, attrs: Value, status: i32) -> Value {
    let start = now_secs() * 1_000_000_000 + 123_456_789;
    let mut s = json!({
        "traceId": trace, "spanId": format!("{id:016x}"), "name": format!("span {id}"), "kind": kind,
        "flags": 257, "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 250_000_000).to_string(),
        "attributes": attrs, "status": { "code": status },
    });
    if let Some(p) = parent {
        s["parentSpanId"] = json!(format!("{p:016x}"));
    }
    s
}

fn batch(spans: Vec<Value>) -> String {
    json!({ "resourceSpans": [{
        "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "frontend" } }] },
        "scopeSpans": [{ "scope": { "name": "canopy-web", "version": "0.1.0" }, "spans": spans }],
    }]})
    .to_string()
}

fn fetch(method: &str, url: &str, status: i64) -> Value {
    json!([
        { "key": "http.request.method", "value": { "stringValue": method } },
        { "key": "url.full", "value": { "stringValue": url } },
        { "key": "http.response.status_code", "value": { "intValue": status.to_string() } },
    ])
}

async fn metrics(relay: &Relay) -> String {
    String::from_utf8(get(&relay.url("/metrics")).await.body).unwrap()
}

fn metric(text: &str, name: &str) -> u64 {
    let line = text.lines().find(|l| l.split(' ').next() == Some(name)).unwrap_or_else(|| panic!("{name} in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn spans_reach_the_daemon_as_segments_and_subsegments() {
    let daemon = Daemon::start().await;
    let relay = Relay::start(with_daemon(&daemon)).await;
    let epoch = now_secs();
    let trace = xray_trace_id(epoch);
    let root_attrs = json!([
        { "key": "user.tier", "value": { "stringValue": "gold" } },
        { "key": "cart.items", "value": { "intValue": "3" } },
        { "key": "feature.on", "value": { "boolValue": true } },
        { "key": "tags", "value": { "arrayValue": { "values": [{ "stringValue": "a" }] } } },
    ]);
    let spans = vec![
        span(&trace, 0xa1, None, 1, root_attrs, 0),
        span(&trace, 0xb1, Some(0xa1), 3, fetch("GET", "https://api.example.com/items?page=2", 200), 0),
        span(&trace, 0xb2, Some(0xa1), 3, fetch("GET", "https://api.example.com/missing", 404), 2),
        span(&trace, 0xb3, Some(0xa1), 3, fetch("POST", "https://api.example.com/cart", 429), 2),
        span(&trace, 0xb4, Some(0xa1), 3, fetch("PUT", "https://api.example.com/cart", 503), 2),
        span(&trace, 0xb5, Some(0xa1), 1, json!([]), 2),
        span(&trace, 0xc1, Some(0xb1), 1, json!([]), 0),
    ];
    assert_eq!(post_json(&relay.traces(), &batch(spans)).await.status, 200);

    let docs = daemon.receive(7).await;
    assert_eq!(docs.len(), 2, "the segment with its children inside, the grandchild on its own: {docs:?}");
    let seg = &docs[0].0;
    let xray_id = format!("1-{epoch:08x}-a006649127e371903a2de979");
    assert_eq!(seg["trace_id"], xray_id);
    assert_eq!(seg["id"], "00000000000000a1");
    assert_eq!(seg["name"], "frontend", "segments are named after the service");
    assert!(seg.get("parent_id").is_none() && seg.get("type").is_none(), "a root span is a segment");
    let start = seg["start_time"].as_f64().unwrap();
    assert!((start - (epoch as f64 + 0.123_456_789)).abs() < 1e-5, "{start}");
    assert!((seg["end_time"].as_f64().unwrap() - start - 0.25).abs() < 1e-5);
    assert_eq!(seg["annotations"], json!({ "user_tier": "gold", "cart_items": 3, "feature_on": true }));
    assert_eq!(seg["metadata"]["default"]["tags"], json!(["a"]));
    assert_eq!(seg["metadata"]["default"]["span.name"], "span 161");
    assert_eq!(seg["metadata"]["default"]["otel.resource.service.name"], "frontend");
    for flag in ["error", "fault", "throttle"] {
        assert!(seg.get(flag).is_none(), "{flag}");
    }

    let subs = seg["subsegments"].as_array().unwrap();
    let sub = |id: &str| subs.iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("{id} in {subs:?}"));
    let ok = sub("00000000000000b1");
    assert_eq!(ok["name"], "api.example.com", "a call out is named after its host");
    assert_eq!(ok["namespace"], "remote");
    assert_eq!(
        ok["http"],
        json!({ "request": { "method": "GET", "url": "https://api.example.com/items?page=2" }, "response": { "status": 200 } })
    );
    assert!(ok.get("annotations").is_none(), "the HTTP attributes went into the http block");
    let flags = |s: &Value| ["error", "throttle", "fault"].map(|f| s.get(f) == Some(&json!(true)));
    assert_eq!(flags(ok), [false, false, false]);
    assert_eq!(flags(sub("00000000000000b2")), [true, false, false], "404: error");
    assert_eq!(flags(sub("00000000000000b3")), [true, true, false], "429: error and throttle");
    assert_eq!(flags(sub("00000000000000b4")), [false, false, true], "503: fault");
    let internal = sub("00000000000000b5");
    assert_eq!(flags(internal), [false, false, true], "status ERROR: fault");
    assert_eq!(internal["name"], "span 181");
    assert!(internal.get("namespace").is_none(), "INTERNAL spans call nothing remote");

    let alone = &docs[1].0;
    assert_eq!(alone["type"], "subsegment");
    assert_eq!(alone["trace_id"], xray_id);
    assert_eq!(alone["parent_id"], "00000000000000b1", "the child of a subsegment, sent on its own");
    assert_eq!(alone["id"], "00000000000000c1");

    let m = metrics(&relay).await;
    assert_eq!(metric(&m, "canopy_relay_xray_segments_sent_total"), 2);
    assert_eq!(metric(&m, "canopy_relay_xray_spans_skipped_total"), 0);
}

#[tokio::test]
async fn trace_ids_x_ray_refuses_are_skipped_and_counted() {
    let daemon = Daemon::start().await;
    let relay = Relay::start(with_daemon(&daemon)).await;
    let now = now_secs();
    let w3c = "0af7651916cd43dd8448eb211c80319c"; // a random id: "0af76519" is 1975
    let stale = xray_trace_id(now - 29 * 24 * 3600);
    let future = xray_trace_id(now + 3600);
    let spans = vec![
        span(w3c, 1, None, 2, json!([]), 0),
        span(w3c, 2, Some(1), 3, json!([]), 0),
        span(&stale, 3, None, 2, json!([]), 0),
    ];
    assert_eq!(post_json(&relay.traces(), &batch(spans)).await.status, 200, "still accepted and kept");
    assert_eq!(post_json(&relay.traces(), &batch(vec![span(&future, 4, None, 2, json!([]), 0)])).await.status, 200);
    assert_eq!(metric(&metrics(&relay).await, "canopy_relay_xray_spans_skipped_total"), 4);

    // One datagram queue and one socket: the first datagram to arrive is from this request,
    // so nothing was sent for the ones before.
    let good = xray_trace_id(now);
    assert_eq!(post_json(&relay.traces(), &batch(vec![span(&good, 5, None, 2, json!([]), 0)])).await.status, 200);
    let (doc, _) = daemon.next(Duration::from_secs(5)).await.expect("the compatible span");
    assert_eq!(doc["id"], "0000000000000005");
    // And nothing else: a marker span sent after it is the next datagram (same queue, same socket).
    let marker = batch(vec![span(&good, 6, None, 2, json!([]), 0)]);
    assert_eq!(post_json(&relay.traces(), &marker).await.status, 200);
    let (doc, _) = daemon.next(Duration::from_secs(5)).await.expect("the marker span");
    assert_eq!(doc["id"], "0000000000000006", "and nothing else");
    assert_eq!(get(&relay.url(&format!("/api/traces/{w3c}"))).await.status, 200, "the viewer still has them");
}

#[tokio::test]
async fn huge_span_sets_go_in_datagrams_under_64_kb() {
    let daemon = Daemon::start().await;
    let relay = Relay::start(with_daemon(&daemon)).await;
    let trace = xray_trace_id(now_secs());
    let pad = |n: usize| json!([{ "key": "note", "value": { "stringValue": "x".repeat(n) } }]);
    let mut spans = vec![span(&trace, 1, None, 1, json!([]), 0)];
    spans.extend((2..=1000).map(|i| span(&trace, i, Some(1), 3, pad(1000), 0)));
    assert_eq!(post_json(&relay.traces(), &batch(spans)).await.status, 200);

    let docs = daemon.receive(1000).await;
    assert!(docs.len() >= 16, "about 1.1 MB of documents: {} datagrams", docs.len());
    let mut ids = HashSet::new();
    for (doc, size) in &docs {
        assert!(*size <= MAX_DATAGRAM && MAX_DATAGRAM < 64 * 1024, "{size} bytes");
        ids.insert(doc["id"].as_str().unwrap().to_owned());
        for sub in doc["subsegments"].as_array().into_iter().flatten() {
            ids.insert(sub["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(ids.len(), 1000, "every span once");
    assert!(docs.iter().skip(1).all(|(d, _)| d["type"] == "subsegment" && d["parent_id"] == "0000000000000001"));
    assert!(docs[0].0["subsegments"].as_array().unwrap().len() > 30, "the segment carries what fits");

    // One span over 64 kB on its own: cut to fit, and counted.
    let big: Vec<Value> =
        (0..8).map(|i| json!({ "key": format!("big.{i}"), "value": { "stringValue": "y".repeat(20_000) } })).collect();
    assert_eq!(post_json(&relay.traces(), &batch(vec![span(&trace, 2000, None, 2, json!(big), 0)])).await.status, 200);
    let (doc, size) = daemon.next(Duration::from_secs(5)).await.expect("the cut document");
    assert!(size <= MAX_DATAGRAM, "{size}");
    assert_eq!(doc["id"], "00000000000007d0");
    assert!(doc.get("annotations").is_none() && doc.get("metadata").is_none(), "{doc}");
    let m = metrics(&relay).await;
    assert_eq!(metric(&m, "canopy_relay_xray_documents_truncated_total"), 1);
    assert_eq!(metric(&m, "canopy_relay_xray_segments_sent_total"), docs.len() as u64 + 1);
    assert_eq!(metric(&m, "canopy_relay_xray_documents_dropped_total"), 0);
}

#[tokio::test]
async fn without_a_daemon_configured_nothing_is_sent() {
    let daemon = Daemon::start().await;
    let mut relay = Relay::start(local()).await;
    let trace = xray_trace_id(now_secs());
    assert_eq!(post_json(&relay.traces(), &batch(vec![span(&trace, 1, None, 2, json!([]), 0)])).await.status, 200);
    assert_eq!(metric(&metrics(&relay).await, "canopy_relay_xray_segments_sent_total"), 0);
    // Once the relay has stopped (its exporters closed, what they held sent), nothing came.
    tokio::time::timeout(Duration::from_secs(10), relay.shutdown()).await.expect("stopped within the grace").unwrap();
    assert!(!daemon.has_waiting(), "no datagram came");
}

/// A batch the relay answers with 503 (the upstream unavailable) does not reach X-Ray: the
/// client sends it again, and only the copy the relay accepts is sent. The viewer (`--tee`)
/// keeps it as it arrives, each span once.
#[tokio::test]
async fn a_batch_answered_503_and_sent_again_reaches_the_daemon_once() {
    let daemon = Daemon::start().await;
    let up = Upstream::start().await;
    // A Retry-After beyond the relay's budget: it gives up at once and answers 503.
    up.push([Reply::RetryAfter(503, 30)]);
    let config = Config { xray_daemon: Some(daemon.addr), store: true, ..forwarding(&up, Some(KEY)) };
    let relay = Relay::start(config).await;
    let trace = xray_trace_id(now_secs());
    let sent = batch(vec![span(&trace, 1, None, 2, json!([]), 0), span(&trace, 2, Some(1), 3, json!([]), 0)]);
    assert_eq!(post_json(&relay.traces(), &sent).await.status, 503);
    let kept = get(&relay.url(&format!("/api/traces/{trace}"))).await.json();
    assert_eq!(kept["spans"].as_array().unwrap().len(), 2, "the viewer has what arrived");
    assert_eq!(post_json(&relay.traces(), &sent).await.status, 200, "sent again, the upstream back");
    // A marker after it: one queue, one socket, so the datagrams before it are all there were.
    let marker = batch(vec![span(&trace, 3, None, 2, json!([]), 0)]);
    assert_eq!(post_json(&relay.traces(), &marker).await.status, 200);
    let mut ids = Vec::new();
    loop {
        let (doc, _) = daemon.next(Duration::from_secs(5)).await.expect("the marker's segment");
        if doc["id"] == "0000000000000003" {
            break;
        }
        ids.push(doc["id"].clone());
        ids.extend(doc["subsegments"].as_array().into_iter().flatten().map(|s| s["id"].clone()));
    }
    assert_eq!(ids, [json!("0000000000000001"), json!("0000000000000002")], "each span once");
    let kept = get(&relay.url(&format!("/api/traces/{trace}"))).await.json();
    assert_eq!(kept["spans"].as_array().unwrap().len(), 3, "the copy sent again was not kept twice");
    assert_eq!(up.received().len(), 3);
}
