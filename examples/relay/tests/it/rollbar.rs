//! Exceptions to Rollbar, over real HTTP: a stand-in for Rollbar's item API on 127.0.0.1 checks
//! every payload against the documented shape (<https://rollbar.com/docs/api_items/>).

use crate::support::*;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use canopy_relay::{Args, Config, RollbarConfig, Secret};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

const TOKEN: &str = "rb-post-server-item-0123456789";
const TRACE: &str = "5b8efff798038103d269b633813fc60c";

/// How the stand-in answers, one per request in order (then 200).
enum Answer {
    RateLimited(u64),
    /// Answer only once the test says so.
    Hold(Arc<Notify>),
    /// Answer 200 after this long.
    Slow(Duration),
}

/// One item the stand-in received.
#[derive(Clone, Debug)]
struct Got {
    at: Instant,
    token: Option<String>,
    body: Value,
    /// Where the payload departs from the documented shape (empty: none).
    problems: Vec<String>,
}

#[derive(Default)]
struct Seen {
    got: Mutex<Vec<Got>>,
    answers: Mutex<VecDeque<Answer>>,
}

struct Rollbar {
    addr: std::net::SocketAddr,
    seen: Arc<Seen>,
    task: JoinHandle<()>,
}

impl Drop for Rollbar {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Rollbar {
    async fn start(answers: Vec<Answer>) -> Rollbar {
        let seen = Arc::new(Seen { answers: Mutex::new(answers.into()), ..Seen::default() });
        let s = seen.clone();
        let router = Router::new()
            .route("/api/1/item/", routing::post(move |h: HeaderMap, b: axum::body::Bytes| item(s.clone(), h, b)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Rollbar { addr, seen, task }
    }

    fn config(&self) -> RollbarConfig {
        RollbarConfig {
            token: Secret::new(TOKEN),
            endpoint: format!("http://{}/api/1/item/", self.addr).parse().unwrap(),
            environment: "production".into(),
        }
    }

    fn got(&self) -> Vec<Got> {
        self.seen.got.lock().unwrap().clone()
    }
}

async fn item(seen: Arc<Seen>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let token = headers.get("x-rollbar-access-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut problems = Vec::new();
    if headers.get("content-type").is_none_or(|v| v != "application/json") {
        problems.push("content-type is not application/json".to_owned());
    }
    if body.len() > 512 * 1024 {
        problems.push(format!("{} bytes: over Rollbar's limit", body.len()));
    }
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    check(&json, &mut problems);
    seen.got.lock().unwrap().push(Got { at: Instant::now(), token, body: json, problems });
    let answer = seen.answers.lock().unwrap().pop_front();
    match answer {
        Some(Answer::RateLimited(secs)) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("x-rate-limit-remaining", "0".to_owned()), ("x-rate-limit-remaining-seconds", secs.to_string())],
            r#"{"err":1,"message":"rate limited"}"#,
        )
            .into_response(),
        Some(Answer::Hold(release)) => {
            release.notified().await;
            ok()
        }
        Some(Answer::Slow(wait)) => {
            // The behaviour under test: a slow Rollbar (items still queued at shutdown).
            tokio::time::sleep(wait).await;
            ok()
        }
        None => ok(),
    }
}

fn ok() -> Response {
    ([("content-type", "application/json")], r#"{"err":0,"result":{"uuid":"d4c7acef55bf4c9ea95e4fe9428a8287"}}"#)
        .into_response()
}

/// The item API's rules for what the relay sends.
fn check(v: &Value, problems: &mut Vec<String>) {
    let mut need = |ok: bool, what: &str| {
        if !ok {
            problems.push(what.to_owned());
        }
    };
    let d = &v["data"];
    need(d.is_object(), "data is an object");
    need(d["environment"].as_str().is_some_and(|e| !e.is_empty() && e.len() <= 255), "environment: 1-255 chars");
    need(["critical", "error", "warning", "info", "debug"].contains(&d["level"].as_str().unwrap_or("")), "level");
    need(d["timestamp"].is_u64(), "timestamp: integer seconds");
    need(d["context"].as_str().is_none_or(|c| c.len() <= 255), "context: up to 255 chars");
    need(d["code_version"].as_str().is_none_or(|c| c.len() <= 40), "code_version: up to 40 chars");
    need(d["platform"] == "browser" && d["language"] == "javascript", "platform browser, language javascript");
    need(d["fingerprint"].as_str().is_some_and(|f| !f.is_empty() && f.len() <= 40), "fingerprint: up to 40 chars");
    need(d["uuid"].as_str().is_none_or(|u| !u.is_empty() && u.len() <= 36), "uuid: up to 36 chars");
    need(d["custom"]["trace_id"].as_str().is_some_and(|t| t.len() == 32), "custom.trace_id");
    need(d["custom"]["span_id"].as_str().is_some_and(|t| t.len() == 16), "custom.span_id");
    let body = d["body"].as_object();
    let kinds = ["trace", "trace_chain", "message", "crash_report"];
    need(body.is_some_and(|b| b.keys().filter(|k| kinds.contains(&k.as_str())).count() == 1), "body: exactly one kind");
    if let Some(trace) = d["body"].get("trace") {
        need(trace["exception"]["class"].is_string(), "trace.exception.class");
        let frames = trace["frames"].as_array();
        need(frames.is_some_and(|f| !f.is_empty()), "trace.frames: not empty");
        for f in frames.into_iter().flatten() {
            need(f["filename"].is_string(), "frame.filename");
            need(
                f.get("lineno").is_none_or(Value::is_u64) && f.get("colno").is_none_or(Value::is_u64),
                "frame numbers",
            );
        }
    }
    if let Some(m) = d["body"].get("message") {
        need(m["body"].is_string(), "message.body");
    }
    need(v.get("access_token").is_none(), "the token travels in the header only");
}

/// An SDK batch: span 1 with a Chromium exception, span 2 with a Firefox one; `tag` varies the
/// span ids.
fn batch(tag: u8) -> String {
    batch_of(tag, 1)
}

/// `batch(tag)` with `n` copies of each span (span ids differ in their middle digits).
fn batch_of(tag: u8, n: u16) -> String {
    let chromium = "TypeError: x is undefined\n    at inner (https://app.example.com/assets/app.js:10:15)\n    at outer (https://app.example.com/assets/app.js:20:3)";
    let firefox =
        "inner@https://app.example.com/assets/app.js:10:15\nouter@https://app.example.com/assets/app.js:20:3\n";
    let ms = now_ms();
    let span = |id: String, name: &str, stack: &str| {
        let stack = serde_json::to_string(stack).unwrap();
        format!(
            r#"{{"traceId":"{TRACE}","spanId":"{id}","name":"{name}","kind":1,"startTimeUnixNano":"{s}","endTimeUnixNano":"{e}","attributes":[{{"key":"url.full","value":{{"stringValue":"https://app.example.com/cart"}}}}],"events":[{{"timeUnixNano":"{t}","name":"exception","attributes":[{{"key":"exception.type","value":{{"stringValue":"TypeError"}}}},{{"key":"exception.message","value":{{"stringValue":"x is undefined"}}}},{{"key":"exception.stacktrace","value":{{"stringValue":{stack}}}}}]}}]}}"#,
            s = ms as u64 * 1_000_000,
            e = (ms as u64 + 5) * 1_000_000,
            t = (ms as u64 + 2) * 1_000_000,
        )
    };
    let spans: Vec<String> = (0..n)
        .flat_map(|i| {
            [
                span(format!("{tag:02x}{i:04x}0000000001"), "click #buy", chromium),
                span(format!("{tag:02x}{i:04x}0000000002"), "render cart", firefox),
            ]
        })
        .collect();
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"frontend"}}}},{{"key":"service.version","value":{{"stringValue":"1.4.0"}}}},{{"key":"session.id","value":{{"stringValue":"sess-42"}}}}]}},"scopeSpans":[{{"scope":{{"name":"canopy-web"}},"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    )
}

fn with_rollbar(rollbar: &Rollbar) -> Config {
    Config { rollbar: Some(rollbar.config()), store: false, ..local() }
}

/// A counter from `/metrics`.
async fn metric(relay: &Relay, line_start: &str) -> u64 {
    let text = String::from_utf8(get(&relay.url("/metrics")).await.body).unwrap();
    let line = text.lines().find(|l| l.starts_with(line_start)).unwrap_or_else(|| panic!("{line_start} in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn assert_no_token(res: &Res) {
    assert!(!String::from_utf8_lossy(&res.body).contains(TOKEN), "the token in the browser's answer");
    assert!(res.headers.values().all(|v| !v.as_bytes().windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes())));
}

#[tokio::test]
async fn exceptions_reach_rollbar_in_the_documented_shape() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let rollbar = Rollbar::start(vec![]).await;
        let relay = Relay::start(with_rollbar(&rollbar)).await;
        let sent = batch(1);
        let res = post_json(&relay.traces(), &sent).await;
        assert_eq!(res.status, 200);
        assert_no_token(&res);
        eventually(|| rollbar.got().len() == 2).await;
        let mut got = rollbar.got();
        got.sort_by_key(|g| g.body["data"]["custom"]["span_id"].as_str().map(str::to_owned));
        for (g, span_id, context) in
            [(&got[0], "0100000000000001", "click #buy"), (&got[1], "0100000000000002", "render cart")]
        {
            assert_eq!(g.problems, Vec::<String>::new(), "{:#}", g.body);
            assert_eq!(g.token.as_deref(), Some(TOKEN));
            let d = &g.body["data"];
            assert_eq!(d["custom"]["trace_id"], TRACE);
            assert_eq!(d["custom"]["span_id"], span_id);
            assert_eq!(d["custom"]["service.name"], "frontend");
            assert_eq!(d["custom"]["session.id"], "sess-42");
            assert_eq!(d["context"], context);
            assert_eq!(
                (&d["environment"], &d["code_version"], &d["level"]),
                (&"production".into(), &"1.4.0".into(), &"error".into())
            );
            assert_eq!(d["request"]["url"], "https://app.example.com/cart");
            let frames = d["body"]["trace"]["frames"].as_array().unwrap();
            let methods: Vec<&str> = frames.iter().map(|f| f["method"].as_str().unwrap()).collect();
            assert_eq!(methods, ["outer", "inner"], "oldest first");
            assert_eq!((&frames[1]["lineno"], &frames[1]["colno"]), (&10.into(), &15.into()));
            assert!(d["timestamp"].as_u64().unwrap() > 1_700_000_000);
        }
        assert_eq!(
            got[0].body["data"]["fingerprint"], got[1].body["data"]["fingerprint"],
            "same error, two browsers: one item"
        );
        assert_ne!(got[0].body["data"]["uuid"], got[1].body["data"]["uuid"], "two occurrences");

        // The SDK retries the batch, its clock now an hour behind (so the relay corrects the
        // times): no second item. Byte for byte the same, the relay takes it for a copy; with
        // other bytes (a space), Rollbar's own check finds the same exceptions.
        let sent_at = (now_ms() - 3_600_000).to_string();
        for (i, copies, duplicates) in [(0, 1, 0), (1, 1, 2)] {
            let body = again(&sent, i);
            let res = post(&relay.traces(), "application/json", &[("x-canopy-sent-at", &sent_at)], body).await;
            assert_eq!(res.status, 200);
            assert_eq!(metric(&relay, "canopy_relay_copies_total").await, copies);
            assert_eq!(metric(&relay, "canopy_relay_rollbar_items_total{outcome=\"duplicate\"}").await, duplicates);
        }
        assert_eq!(metric(&relay, "canopy_relay_rollbar_items_total{outcome=\"queued\"}").await, 2);
    })
    .await
    .expect("bounded");
}

/// Exceptions on one span with the same time are told apart by what they are and where they are
/// in the span: a TypeError, a RangeError and the TypeError recorded again are three items with
/// three uuids; the batch sent again is three duplicates.
#[tokio::test]
async fn exceptions_with_one_time_on_one_span_are_distinct_items() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let rollbar = Rollbar::start(vec![]).await;
        let relay = Relay::start(with_rollbar(&rollbar)).await;
        let t = (now_ms() as u64 * 1_000_000).to_string();
        let exception = |class: &str, message: &str| {
            let stack = format!("{class}: {message}\n    at f (https://app.example.com/app.js:1:2)");
            serde_json::json!({ "timeUnixNano": t, "name": "exception", "attributes": [
                { "key": "exception.type", "value": { "stringValue": class } },
                { "key": "exception.message", "value": { "stringValue": message } },
                { "key": "exception.stacktrace", "value": { "stringValue": stack } },
            ]})
        };
        let events = [
            exception("TypeError", "a is undefined"),
            exception("RangeError", "b"),
            exception("TypeError", "a is undefined"),
        ];
        let sent = serde_json::json!({ "resourceSpans": [{ "scopeSpans": [{ "spans": [{
            "traceId": TRACE, "spanId": "0300000000000001", "name": "click", "kind": 1,
            "startTimeUnixNano": t, "endTimeUnixNano": t, "events": events,
        }]}]}]})
        .to_string();
        assert_eq!(post_json(&relay.traces(), &sent).await.status, 200);
        eventually(|| rollbar.got().len() == 3).await;
        let got = rollbar.got();
        let uuids: std::collections::HashSet<&str> =
            got.iter().map(|g| g.body["data"]["uuid"].as_str().unwrap()).collect();
        assert_eq!(uuids.len(), 3, "three occurrences, three uuids");
        let classes: Vec<&str> =
            got.iter().map(|g| g.body["data"]["body"]["trace"]["exception"]["class"].as_str().unwrap()).collect();
        assert_eq!(classes, ["TypeError", "RangeError", "TypeError"]);
        assert_eq!(post_json(&relay.traces(), &again(&sent, 1)).await.status, 200);
        assert_eq!(metric(&relay, "canopy_relay_rollbar_items_total{outcome=\"duplicate\"}").await, 3);
        assert_eq!(metric(&relay, "canopy_relay_rollbar_items_total{outcome=\"queued\"}").await, 3);
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn a_429_pauses_the_sender_for_the_remaining_seconds() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let rollbar = Rollbar::start(vec![Answer::RateLimited(1)]).await;
        let relay = Relay::start(with_rollbar(&rollbar)).await;
        assert_eq!(post_json(&relay.traces(), &batch(2)).await.status, 200);
        // The refused item, then (after the pause) the same item again, then the second one.
        eventually(|| rollbar.got().len() == 3).await;
        let got = rollbar.got();
        let waited = got[1].at.duration_since(got[0].at);
        assert!(waited >= Duration::from_millis(950), "resent after {waited:?}");
        assert_eq!(got[0].body, got[1].body, "the refused item is sent again");
        assert!(got.iter().all(|g| g.problems.is_empty()));
        assert_eq!(metric(&relay, "canopy_relay_rollbar_rate_limited_total").await, 1);
        for _ in 0..500 {
            if metric(&relay, "canopy_relay_rollbar_items_total{outcome=\"sent\"}").await == 2 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("both items sent");
    })
    .await
    .expect("bounded");
}

/// 429s do not count toward the three tries: the first item is refused for the rate limit ten
/// times and tried again each time; then it is given up (counted as failed) and the second item
/// goes out.
#[tokio::test]
async fn rate_limited_items_are_tried_again_up_to_ten_pauses() {
    tokio::time::timeout(Duration::from_secs(40), async {
        let rollbar = Rollbar::start((0..10).map(|_| Answer::RateLimited(1)).collect()).await;
        let relay = Relay::start(with_rollbar(&rollbar)).await;
        assert_eq!(post_json(&relay.traces(), &batch(11)).await.status, 200);
        let sent = "canopy_relay_rollbar_items_total{outcome=\"sent\"}";
        until(
            30,
            || async { metric(&relay, sent).await > 0 },
            || format!("nothing sent after {} posts", rollbar.got().len()),
        )
        .await;
        let got = rollbar.got();
        assert_eq!(got.len(), 11, "ten 429s for the first item, then the second item");
        assert!(got[..10].iter().all(|g| g.body == got[0].body), "the first item, ten times");
        assert_ne!(got[10].body["data"]["uuid"], got[0].body["data"]["uuid"]);
        assert_eq!(metric(&relay, "canopy_relay_rollbar_rate_limited_total").await, 10);
        assert_eq!(metric(&relay, "canopy_relay_rollbar_items_total{outcome=\"failed\"}").await, 1);
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn a_slow_rollbar_never_slows_ingest() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let release = Arc::new(Notify::new());
        let rollbar = Rollbar::start(vec![Answer::Hold(release.clone())]).await;
        let relay = Relay::start(with_rollbar(&rollbar)).await;
        let res = post_json(&relay.traces(), &batch(3)).await;
        assert_eq!(res.status, 200);
        assert_no_token(&res);
        // Rollbar has the first item and is not answering.
        eventually(|| rollbar.got().len() == 1).await;
        for tag in 4..8 {
            let t0 = Instant::now();
            let res = post_json(&relay.traces(), &batch(tag)).await;
            assert_eq!(res.status, 200);
            assert!(t0.elapsed() < Duration::from_secs(1), "ingest took {:?} while Rollbar hangs", t0.elapsed());
        }
        assert_eq!(rollbar.got().len(), 1, "the sender is still waiting on Rollbar");
        release.notify_one();
        eventually(|| rollbar.got().len() == 10).await;
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn without_a_token_nothing_is_sent() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let rollbar = Rollbar::start(vec![]).await;
        let endpoint = format!("http://{}/api/1/item/", rollbar.addr);
        let args = Args::parse_without_env(["canopy-relay", "--rollbar-endpoint", &endpoint]).unwrap();
        let config = Config::from_args(args).unwrap();
        assert!(config.rollbar.is_none());
        let relay = Relay::start(Config { rollbar: config.rollbar, ..local() }).await;
        assert_eq!(post_json(&relay.traces(), &batch(9)).await.status, 200);
        // Items are queued before the answer: none were.
        assert_eq!(metric(&relay, "canopy_relay_rollbar_items_total{outcome=\"queued\"}").await, 0);
        assert!(rollbar.got().is_empty());
    })
    .await
    .expect("bounded");
}

#[test]
fn the_stand_in_catches_payloads_off_the_documented_shape() {
    for (bad, want) in [
        (serde_json::json!({ "data": { "environment": "" } }), "environment: 1-255 chars"),
        (serde_json::json!({ "data": { "context": "c".repeat(256) } }), "context: up to 255 chars"),
        (serde_json::json!({ "data": { "code_version": "1".repeat(41) } }), "code_version: up to 40 chars"),
        (serde_json::json!({ "data": { "body": { "trace": { "frames": [] } } } }), "trace.frames: not empty"),
        (serde_json::json!({ "access_token": "x", "data": {} }), "the token travels in the header only"),
        (serde_json::json!({ "data": { "body": { "message": {}, "trace": {} } } }), "body: exactly one kind"),
    ] {
        let mut problems = Vec::new();
        check(&bad, &mut problems);
        assert!(problems.iter().any(|p| p == want), "{want} in {problems:?}");
    }
}

#[tokio::test]
async fn a_full_queue_drops_and_counts() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let release = Arc::new(Notify::new());
        let rollbar = Rollbar::start(vec![Answer::Hold(release.clone())]).await;
        let relay = Relay::start(with_rollbar(&rollbar)).await;
        // 600 exceptions at once while Rollbar holds the first: the queue takes 256.
        let res = post_json(&relay.traces(), &batch_of(10, 300)).await;
        assert_eq!(res.status, 200, "ingest is not refused for Rollbar's sake");
        let queued = metric(&relay, "canopy_relay_rollbar_items_total{outcome=\"queued\"}").await;
        let dropped = metric(&relay, "canopy_relay_rollbar_items_total{outcome=\"dropped\"}").await;
        assert_eq!(queued + dropped, 600);
        assert!((256..=257).contains(&queued), "{queued} queued");
        release.notify_one();
        eventually(|| rollbar.got().len() as u64 == queued).await;
    })
    .await
    .expect("bounded");
}

/// Items still queued when the relay stops are sent before it exits (within the grace period):
/// a slow Rollbar answers each after 150 ms, and shutdown returns only once all six arrived.
#[tokio::test]
async fn queued_items_are_sent_on_shutdown() {
    let rollbar = Rollbar::start((0..6).map(|_| Answer::Slow(Duration::from_millis(150))).collect()).await;
    let mut relay = Relay::start(with_rollbar(&rollbar)).await;
    assert_eq!(post_json(&relay.traces(), &batch_of(7, 3)).await.status, 200);
    eventually(|| !rollbar.got().is_empty()).await;
    assert!(rollbar.got().len() < 6, "still sending when the relay is told to stop");
    tokio::time::timeout(Duration::from_secs(10), relay.shutdown()).await.expect("stopped within the grace").unwrap();
    assert_eq!(rollbar.got().len(), 6, "every queued item went out before shutdown returned");
}
