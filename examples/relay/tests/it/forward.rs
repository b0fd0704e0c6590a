//! Forwarding over real HTTP to a recording upstream.

use crate::support::*;
use canopy_relay::{Config, Upstream as UpstreamConfig};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest as OtelRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;
use std::time::{Duration, Instant};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a any_value::Value> {
    span.attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()
}

/// What a backend SDK (Python, Go) sends: the official types, protobuf.
pub fn backend_request() -> OtelRequest {
    let kv = |k: &str, v: any_value::Value| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    let span = |id: u8, parent: Option<u8>, name: &str| Span {
        trace_id: vec![0xab; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.into(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(id) * 1000,
        end_time_unix_nano: 1_700_000_000_500_000_000,
        attributes: vec![
            kv("db.system", any_value::Value::StringValue("postgresql".into())),
            kv("rows", any_value::Value::IntValue(-3)),
            kv("ratio", any_value::Value::DoubleValue(0.25)),
            kv("blob", any_value::Value::BytesValue(vec![0, 255, 7])),
        ],
        events: vec![span::Event {
            time_unix_nano: 1_700_000_000_100_000_000,
            name: "retry".into(),
            ..Default::default()
        }],
        status: Some(Status { code: 2, message: "boom".into() }),
        flags: 0x301,
        ..Default::default()
    };
    OtelRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", any_value::Value::StringValue("api".into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "opentelemetry.instrumentation.flask".into(),
                    ..Default::default()
                }),
                spans: vec![span(1, None, "GET /api/items"), span(2, Some(1), "SELECT items")],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn sdk_json_is_forwarded_as_protobuf_with_the_key_and_no_dataset() {
    let up = Upstream::start().await;
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let res = post(&relay.traces(), "application/json", &[("x-honeycomb-team", "from-the-browser")], GOLDEN).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json(), serde_json::json!({}));
    let got = up.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.header("x-honeycomb-team"), Some(KEY), "the relay's key, not the browser's");
    assert_eq!(r.header("x-honeycomb-dataset"), None, "no dataset unless configured");
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));

    let req = r.request();
    let rs = &req.resource_spans[0];
    let service = &rs.resource.as_ref().unwrap().attributes[0];
    assert_eq!(service.key, "service.name");
    let scope = rs.scope_spans[0].scope.as_ref().unwrap();
    assert_eq!((scope.name.as_str(), scope.version.as_str()), ("canopy-web", "0.0.0-golden"));
    let spans = &rs.scope_spans[0].spans;
    assert_eq!(spans.len(), 4);
    let fetch = &spans[1];
    assert_eq!(hex(&fetch.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&fetch.span_id), "b7ad6b7169203331");
    assert_eq!(hex(&fetch.parent_span_id), "00f067aa0ba902b7", "parent ids survive");
    assert_eq!(fetch.trace_state, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    assert_eq!((fetch.flags, fetch.kind), (257, 3));
    assert_eq!(fetch.name, "fetch \"/api/items\"\n→ 日本 🌲 \u{1}\u{1f}\\");
    assert_eq!(
        (fetch.start_time_unix_nano, fetch.end_time_unix_nano),
        (1_700_000_000_123_457_789, 1_700_000_000_323_456_789)
    );
    assert_eq!(attr(fetch, "int.min"), Some(&any_value::Value::IntValue(i64::MIN)));
    assert_eq!(attr(fetch, "double.tiny"), Some(&any_value::Value::DoubleValue(5e-324)));
    assert_eq!(fetch.dropped_attributes_count, 3);
    assert_eq!(fetch.events[0].attributes[1].key, "exception.message");
    assert_eq!((fetch.links.len(), fetch.links[0].flags, fetch.dropped_links_count), (2, 769, 4));
    assert_eq!(fetch.status.as_ref().map(|s| (s.code, s.message.as_str())), Some((2, "HTTP 500: \"Internal\"\n")));
    assert_eq!(spans[2].end_time_unix_nano, u64::MAX);
}

#[tokio::test]
async fn the_dataset_header_is_sent_only_when_configured() {
    let up = Upstream::start().await;
    let mut config = forwarding(&up, Some(KEY));
    if let Some(u) = config.upstream.as_mut() {
        u.dataset = Some("browser".into());
    }
    let relay = Relay::start(config).await;
    assert_eq!(post_json(&relay.traces(), GOLDEN).await.status, 200);
    assert_eq!(up.received()[0].header("x-honeycomb-dataset"), Some("browser"));

    let up2 = Upstream::start().await;
    let relay2 = Relay::start(forwarding(&up2, None)).await;
    assert_eq!(post(&relay2.traces(), "application/json", &[("x-honeycomb-team", "evil")], GOLDEN).await.status, 200);
    assert_eq!(
        up2.received()[0].header("x-honeycomb-team"),
        None,
        "no key configured: none sent, none taken from the client"
    );
}

#[tokio::test]
async fn backend_protobuf_plain_and_gzip_arrives_unchanged() {
    let up = Upstream::start().await;
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let original = backend_request();
    let body = original.encode_to_vec();
    let res = post(&relay.traces(), "application/x-protobuf", &[], body.clone()).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(ExportTraceServiceResponse::decode(res.body.as_slice()).unwrap(), ExportTraceServiceResponse::default());
    let res = post(&relay.traces(), "application/x-protobuf", &[("content-encoding", "gzip")], gzip(&body)).await;
    assert_eq!(res.status, 200);
    let got = up.received();
    assert_eq!(got.len(), 2);
    for r in got {
        assert_eq!(r.request(), original, "decoded and re-encoded without loss");
    }
}

#[tokio::test]
async fn gzip_json_is_accepted() {
    let up = Upstream::start().await;
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let body = sdk_batch("0af7651916cd43dd8448eb211c80319c", 20, now_ms());
    let res = post(&relay.traces(), "application/json", &[("content-encoding", "gzip")], gzip(body.as_bytes())).await;
    assert_eq!(res.status, 200);
    assert_eq!(up.received()[0].request().resource_spans[0].scope_spans[0].spans.len(), 20);
}

#[tokio::test]
async fn retryable_failures_are_retried_until_the_upstream_takes_the_data() {
    let up = Upstream::start().await;
    up.push([Reply::Status(503), Reply::Drop, Reply::RetryAfter(429, 0), Reply::Status(502), Reply::Status(504)]);
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let res = post_json(&relay.traces(), GOLDEN).await;
    assert_eq!(res.status, 200, "{}", res.message());
    let got = up.received();
    assert_eq!(got.len(), 6, "five failures, then success");
    assert!(got.iter().all(|r| r.body == got[0].body), "the same payload each time");
    let metrics = String::from_utf8(get(&relay.url("/metrics")).await.body).unwrap();
    assert!(metrics.contains("canopy_relay_upstream_attempts_total{outcome=\"retryable\"} 5"), "{metrics}");
    assert!(metrics.contains("canopy_relay_spans_forwarded_total 4"), "{metrics}");
}

#[tokio::test]
async fn a_2xx_whose_body_breaks_off_or_stalls_is_delivered_once() {
    for reply in [Reply::Truncated(200), Reply::Stalled(200)] {
        let up = Upstream::start().await;
        up.push([reply]);
        let relay = Relay::start(forwarding(&up, Some(KEY))).await;
        let t = Instant::now();
        let res = post_json(&relay.traces(), GOLDEN).await;
        assert_eq!(res.status, 200, "{}", res.message());
        assert_eq!(up.received().len(), 1, "the status said delivered: not sent again");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "a stalled body is not waited for past its bound: {:?}",
            t.elapsed()
        );
        let metrics = String::from_utf8(get(&relay.url("/metrics")).await.body).unwrap();
        assert!(metrics.contains("canopy_relay_spans_forwarded_total 4"), "{metrics}");
    }
}

#[tokio::test]
async fn a_503_whose_body_breaks_off_is_still_retried() {
    let up = Upstream::start().await;
    up.push([Reply::Truncated(503)]);
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let res = post_json(&relay.traces(), GOLDEN).await;
    assert_eq!(res.status, 200, "{}", res.message());
    assert_eq!(up.received().len(), 2, "retried once, then taken");
}

#[tokio::test]
async fn when_the_budget_runs_out_the_client_gets_503_with_retry_after() {
    let up = Upstream::start().await;
    up.push(std::iter::repeat_n(Reply::Status(503), 100));
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let t = Instant::now();
    let res = post_json(&relay.traces(), GOLDEN).await;
    let took = t.elapsed();
    assert_eq!(res.status, 503);
    assert_eq!(res.header("retry-after"), Some("5"), "the default when the upstream gave none");
    assert!(res.message().contains("upstream unavailable"), "{}", res.message());
    assert!(up.received().len() >= 3, "retried {} times", up.received().len());
    assert!(took < Duration::from_millis(2500), "bounded by the 1.5 s budget: {took:?}");
    let metrics = String::from_utf8(get(&relay.url("/metrics")).await.body).unwrap();
    assert!(metrics.contains("canopy_relay_spans_deferred_total 4"), "{metrics}");
}

#[tokio::test]
async fn an_upstream_retry_after_beyond_the_budget_is_handed_to_the_client() {
    let up = Upstream::start().await;
    up.push([Reply::RetryAfter(429, 30)]);
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let t = Instant::now();
    let res = post_json(&relay.traces(), GOLDEN).await;
    assert_eq!((res.status, res.header("retry-after")), (503, Some("30")));
    assert_eq!(up.received().len(), 1, "no point waiting 30 s inside a 1.5 s budget");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}

#[tokio::test]
async fn an_unreachable_upstream_is_retried_then_handed_back() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut config = forwarding(&Upstream::start().await, None);
    config.upstream = Some(UpstreamConfig {
        url: format!("http://{closed}/v1/traces").parse().unwrap(),
        api_key: None,
        dataset: None,
        proxy: None,
    });
    let relay = Relay::start(config).await;
    let res = post_json(&relay.traces(), GOLDEN).await;
    assert_eq!(res.status, 503);
    assert!(res.header("retry-after").is_some());
    let msg = res.message();
    assert!(msg.starts_with("upstream unavailable; retry in"), "{msg}");
    assert!(!msg.contains("error sending request") && !msg.contains("attempt"), "no internal error chain: {msg}");
    assert!(!msg.contains(&closed.to_string()), "the upstream address is not shown to clients: {msg}");
}

#[tokio::test]
async fn other_upstream_errors_are_passed_on_with_a_generic_message() {
    let up = Upstream::start().await;
    up.push([
        Reply::Body(400, "application/json", br#"{"message":"unknown dataset"}"#.to_vec()),
        Reply::Body(401, "text/plain", format!("bad key {KEY}").into_bytes()),
        Reply::Status(500),
    ]);
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let res = post_json(&relay.traces(), GOLDEN).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.message(), "the upstream refused the data (HTTP 400 Bad Request); the relay's log has the details");
    let res = post_json(&relay.traces(), GOLDEN).await;
    assert_eq!(res.status, 401);
    assert!(!String::from_utf8_lossy(&res.body).contains("bad key"), "the upstream's words stay in the log");
    let res = post_json(&relay.traces(), GOLDEN).await;
    assert_eq!(res.status, 500);
    assert!(res.message().contains("HTTP 500 Internal Server Error"), "{}", res.message());
    assert_eq!(up.received().len(), 3, "none of these is retried");
    let metrics = String::from_utf8(get(&relay.url("/metrics")).await.body).unwrap();
    assert!(metrics.contains("canopy_relay_spans_dropped_total 12"), "{metrics}");
}

#[tokio::test]
async fn a_partial_success_is_passed_back() {
    let up = Upstream::start().await;
    let partial = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess { rejected_spans: 1, error_message: "span too old".into() }),
    };
    up.push([Reply::Body(200, "application/x-protobuf", partial.encode_to_vec())]);
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let res = post_json(&relay.traces(), GOLDEN).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json(),
        serde_json::json!({"partialSuccess": {
            "rejectedSpans": "1",
            "errorMessage": "the upstream rejected 1 span(s); the relay's log has the details"
        }})
    );
}

/// Issue 10, item 4: the key cannot come back to a client, whole or in part.
#[tokio::test]
async fn the_key_never_comes_back_whole_or_in_part() {
    let up = Upstream::start().await;
    // The key straddles the old 300-character cut.
    let straddling = format!("{}{KEY} trailing", "x".repeat(290));
    let partial = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 2,
            error_message: format!("key {KEY} is odd"),
        }),
    };
    up.push([
        Reply::Body(400, "text/plain", straddling.into_bytes()),
        Reply::Body(200, "application/x-protobuf", partial.encode_to_vec()),
        Reply::Body(
            200,
            "application/json",
            format!(r#"{{"partialSuccess":{{"rejectedSpans":"1","errorMessage":"{KEY}"}}}}"#).into_bytes(),
        ),
    ]);
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let prefix = &KEY[..7]; // "hc-test": any part of the key
    for (i, want) in [400, 200, 200].into_iter().enumerate() {
        let res = post_json(&relay.traces(), &again(GOLDEN, i)).await;
        assert_eq!(res.status, want);
        let body = String::from_utf8_lossy(&res.body);
        assert!(!body.contains(prefix), "part of the key came back: {body}");
        for (name, value) in &res.headers {
            assert!(!value.as_bytes().windows(7).any(|w| w == prefix.as_bytes()), "in {name}");
        }
    }
    assert_eq!(up.received().len(), 3);
}

/// Issue 10, item 5: `Retry-After: 0` is not obeyed sooner than the relay's own backoff.
#[tokio::test]
async fn retry_after_zero_does_not_become_a_storm() {
    let up = Upstream::start().await;
    up.push(std::iter::repeat_n(Reply::RetryAfter(503, 0), 5000));
    let relay = Relay::start(forwarding(&up, Some(KEY))).await; // budget 1.5 s, backoff 20..100 ms
    let res = post_json(&relay.traces(), GOLDEN).await;
    assert_eq!(res.status, 503);
    let attempts = up.received().len();
    // 1.5 s at a backoff of at least 10-20 ms growing to 50-100 ms: a few dozen at most.
    assert!((3..=60).contains(&attempts), "{attempts} upstream attempts for one client request");
}

/// Issue 10, item 5: a huge `Retry-After` is clamped, not an `Instant` overflow (a panic that
/// dropped the client's connection).
#[tokio::test]
async fn a_huge_retry_after_is_clamped() {
    let up = Upstream::start().await;
    up.push([Reply::RetryAfter(429, u64::MAX), Reply::RetryAfter(503, 1 << 40)]);
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    for _ in 0..2 {
        let res = post_json(&relay.traces(), GOLDEN).await;
        assert_eq!((res.status, res.header("retry-after")), (503, Some("300")), "{}", res.message());
    }
    assert_eq!(post_json(&relay.traces(), GOLDEN).await.status, 200, "still serving");
}

#[tokio::test]
async fn tee_keeps_the_viewer_while_forwarding() {
    let up = Upstream::start().await;
    let relay = Relay::start(Config { store: true, ..forwarding(&up, Some(KEY)) }).await;
    assert_eq!(post_json(&relay.traces(), GOLDEN).await.status, 200);
    assert_eq!(up.received().len(), 1);
    let list = get(&relay.url("/api/traces")).await.json();
    assert_eq!(list["traces"][0]["spanCount"], 4);
}

/// The SDK delivers at least once: Firefox closing a tab can repeat a page-hide beacon, and a
/// lost response repeats an export. A copy of a delivered request, byte for byte, is answered
/// as delivered and not forwarded again, whichever way it comes (the beacon's `text/plain` and
/// `?sent_at=`, or a fetch). One the upstream did not take (503 to the client) is still new when
/// the client sends it again.
#[tokio::test]
async fn a_copy_of_a_delivered_request_is_answered_and_not_forwarded_again() {
    let up = Upstream::start().await;
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let start = now_ms();
    let doc = sdk_batch("4bf92f3577b34da6a3ce929d0e0e4736", 3, start);
    assert_eq!(post_json(&relay.traces(), &doc).await.status, 200);
    let beacon = format!("{}?sent_at={}", relay.traces(), now_ms());
    let res = post(&beacon, "text/plain;charset=UTF-8", &[], doc.clone()).await;
    assert_eq!(res.status, 200, "{}", res.message());
    assert_eq!(res.json(), serde_json::json!({}), "answered as delivered");
    assert_eq!(up.received().len(), 1, "the copy is not forwarded");
    let other = sdk_batch("4bf92f3577b34da6a3ce929d0e0e4736", 3, start + 1);
    assert_eq!(post_json(&relay.traces(), &other).await.status, 200);
    assert_eq!(up.received().len(), 2, "another document is");

    up.push([Reply::RetryAfter(429, 30)]);
    let later = sdk_batch("4bf92f3577b34da6a3ce929d0e0e4736", 2, start + 2);
    assert_eq!(post_json(&relay.traces(), &later).await.status, 503);
    assert_eq!(post_json(&relay.traces(), &later).await.status, 200, "sent again after the 503");
    assert_eq!(up.received().len(), 4, "and forwarded");

    let metrics = String::from_utf8(get(&relay.url("/metrics")).await.body).unwrap();
    assert!(metrics.contains("canopy_relay_copies_total 1\n"), "{metrics}");
    assert!(metrics.contains("canopy_relay_spans_forwarded_total 8\n"), "{metrics}");
}

/// A copy that comes while the first is still being delivered (Firefox's repeated beacon comes
/// right after the first) waits for its outcome: 503 and `Retry-After: 1`, then a copy.
#[tokio::test]
async fn a_copy_while_the_first_is_delivered_is_told_to_retry_shortly() {
    let up = Upstream::start().await;
    up.push([Reply::Delay(Duration::from_millis(800))]);
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let doc = sdk_batch("4bf92f3577b34da6a3ce929d0e0e4736", 3, now_ms());
    let (url, first) = (relay.traces(), doc.clone());
    let slow = tokio::spawn(async move { post_json(&url, &first).await.status });
    until(5, || async { up.received().len() == 1 }, || "the first at the upstream".into()).await;
    let res = post_json(&relay.traces(), &doc).await;
    assert_eq!((res.status, res.header("retry-after")), (503, Some("1")), "{}", res.message());
    assert!(res.message().contains("being delivered"), "{}", res.message());
    assert_eq!(slow.await.unwrap(), 200);
    assert_eq!(post_json(&relay.traces(), &doc).await.status, 200, "then a copy");
    assert_eq!(up.received().len(), 1, "forwarded once");
}
