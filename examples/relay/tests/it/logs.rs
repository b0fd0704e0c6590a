//! `POST /v1/logs` (issue 11): the traces route's checks, limits and layers, and forwarding
//! to the upstream's `/v1/logs` over real HTTP.

use crate::support::*;
use axum::body::Body;
use axum::http::Request;
use canopy_relay::Config;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest as OtelLogs, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

pub const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const SPAN: &str = "00f067aa0ba902b7";

/// An SDK-shaped OTLP JSON logs request: `records` records at `start_ms` + i ms, with the
/// trace and span ids, severity ERROR, a string body and an attribute.
pub fn sdk_logs(records: usize, start_ms: i64) -> String {
    let ns = |ms: i64| (ms as u64 * 1_000_000).to_string();
    let list: Vec<String> = (0..records)
        .map(|i| {
            format!(
                r#"{{"timeUnixNano":"{}","observedTimeUnixNano":"{}","severityNumber":17,"severityText":"ERROR","body":{{"stringValue":"feed failed {i}"}},"attributes":[{{"key":"http.response.status_code","value":{{"intValue":"500"}}}}],"traceId":"{TRACE}","spanId":"{SPAN}","flags":1}}"#,
                ns(start_ms + i as i64),
                ns(start_ms + i as i64 + 1),
            )
        })
        .collect();
    format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"frontend"}}}}]}},"scopeLogs":[{{"scope":{{"name":"canopy-web"}},"logRecords":[{}]}}]}}]}}"#,
        list.join(",")
    )
}

fn json_request(body: impl Into<Body>) -> Request<Body> {
    Request::post("/v1/logs").header("content-type", "application/json").body(body.into()).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn good_logs_are_taken_in_json_gzip_and_protobuf() {
    let app = App::new(local());
    let res = app.send(json_request(sdk_logs(3, now_ms()))).await;
    assert_eq!((res.status, res.json()), (200, serde_json::json!({})), "{}", String::from_utf8_lossy(&res.body));
    let gz = Request::post("/v1/logs")
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Body::from(gzip(sdk_logs(2, now_ms()).as_bytes())))
        .unwrap();
    assert_eq!(app.send(gz).await.status, 200, "gzip");
    let proto = otel_logs().encode_to_vec();
    let req =
        Request::post("/v1/logs").header("content-type", "application/x-protobuf").body(Body::from(proto)).unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(ExportLogsServiceResponse::decode(res.body.as_slice()).unwrap(), ExportLogsServiceResponse::default());
    let beacon = Request::post("/v1/logs")
        .header("content-type", "text/plain;charset=UTF-8")
        .body(Body::from(sdk_logs(1, now_ms())))
        .unwrap();
    assert_eq!(app.send(beacon).await.status, 200, "the sendBeacon fallback");
}

#[tokio::test]
async fn bad_logs_get_a_clear_4xx_naming_the_field() {
    let app = App::new(Config {
        limits: canopy_relay::Limits { max_log_records: 5, ..canopy_relay::Limits::default() },
        ..local()
    });
    let record = |fields: &str| {
        format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"timeUnixNano":"1",{fields}}}]}}]}}]}}"#)
    };
    let cases: Vec<(String, u16, &str, &str)> = vec![
        (
            record(r#""traceId":"00000000000000000000000000000000""#),
            400,
            "resourceLogs[0].scopeLogs[0].logRecords[0].traceId: is all zeros",
            "zero trace id",
        ),
        (record(r#""traceId":"4BF92F3577B34DA6A3CE929D0E0E4736""#), 400, "must be lowercase hex", "uppercase id"),
        (record(r#""spanId":"00f067aa0ba902b7""#), 400, "spanId: is set without a traceId", "span without trace"),
        (record(r#""severityNumber":99"#), 400, "severityNumber: 99 is not a SeverityNumber", "severity"),
        (record(r#""body":{"stringValue":"a","intValue":"1"}"#), 400, "more than one", "two values in the body"),
        (record(r#""observedTimeUnixNano":"-1""#), 400, "unsigned 64-bit", "negative time"),
        (r#"[{"resourceLogs":[]}]"#.into(), 400, "an object", "an array, not an object"),
        (r#"{"resourceLogs":"#.into(), 400, "invalid OTLP JSON", "truncated"),
        (String::new(), 400, "expected an OTLP ExportLogsServiceRequest", "empty"),
        (sdk_logs(6, now_ms()), 413, "6 log records in one request, over the limit of 5", "too many records"),
        ("[".repeat(100), 400, "nested deeper", "deep JSON"),
    ];
    for (body, status, want, why) in cases {
        let res = app.send(json_request(body)).await;
        assert_eq!(res.status, status, "{why}: {}", String::from_utf8_lossy(&res.body));
        let v = res.json();
        assert!(v["message"].as_str().unwrap().contains(want), "{why}: {v}");
        assert!(v["code"].is_i64(), "the traces' error shape (google.rpc.Status): {v}");
    }
    let form = Request::post("/v1/logs").header("content-type", "application/xml").body(Body::from("<x/>")).unwrap();
    assert_eq!(app.send(form).await.status, 415);
    let bad_proto = Request::post("/v1/logs")
        .header("content-type", "application/x-protobuf")
        .body(Body::from(vec![0x0a, 0x05]))
        .unwrap();
    let res = app.send(bad_proto).await;
    assert_eq!(res.status, 400);
    assert!(res.message().contains("invalid OTLP protobuf"), "{}", res.message());
}

#[tokio::test]
async fn body_limits_hold_for_logs() {
    let limits = canopy_relay::Limits { max_body_bytes: 1000, max_decompressed_bytes: 5000, ..Default::default() };
    let app = App::new(Config { limits, ..local() });
    let big = sdk_logs(20, now_ms());
    assert!(big.len() > 5000);
    let res = app.send(json_request(big.clone())).await;
    assert_eq!(res.status, 413, "{}", res.message());
    let bomb = gzip(big.as_bytes());
    assert!(bomb.len() < 1000);
    let req = Request::post("/v1/logs")
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Body::from(bomb))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, 413, "checked after decompression too: {}", res.message());
    assert!(res.message().contains("after gzip"), "{}", res.message());
}

#[tokio::test]
async fn cors_and_rate_limits_cover_logs() {
    let up = Upstream::start().await;
    let relay = rate_limited_relay(&up).await;
    let body = sdk_logs(1, now_ms());
    let res = post(&relay.logs(), "application/json", &[("origin", "https://evil.example.com")], body.clone()).await;
    assert_eq!(res.status, 403, "another origin");
    let res = preflight(&relay.logs(), APP, "POST", "content-type").await;
    assert_eq!((res.status, res.header("access-control-allow-origin")), (204, Some(APP)));
    let res = post(&relay.logs(), "application/json", &[("origin", APP)], body.clone()).await;
    assert_eq!((res.status, res.header("access-control-allow-origin")), (200, Some(APP)));
    // One request budget for both routes: traces spend what is left of the burst, then logs
    // are refused too.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(post(&relay.traces(), "application/json", &[("origin", APP)], GOLDEN).await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let res = post(&relay.logs(), "application/json", &[("origin", APP)], body).await;
    assert_eq!(res.status, 429, "traces and logs share the client's request rate");
    assert_eq!(res.header("access-control-allow-origin"), Some(APP));
    assert!(res.header("retry-after").is_some());
}

/// What a backend SDK sends: the official types.
fn otel_logs() -> OtelLogs {
    let kv = |k: &str, v: any_value::Value| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    OtelLogs {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", any_value::Value::StringValue("api".into()))],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 1_700_000_000_000_000_000,
                    observed_time_unix_nano: 1_700_000_000_000_000_001,
                    severity_number: 9,
                    severity_text: "INFO".into(),
                    body: Some(AnyValue { value: Some(any_value::Value::StringValue("served".into())) }),
                    attributes: vec![kv("rows", any_value::Value::IntValue(-3))],
                    dropped_attributes_count: 2,
                    flags: 1,
                    trace_id: vec![0xab; 16],
                    span_id: vec![0xcd; 8],
                    event_name: "db.query".into(),
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn logs_are_forwarded_to_the_upstreams_logs_path_with_the_key() {
    let up = Upstream::start().await;
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let start = now_ms();
    let res =
        post(&relay.logs(), "application/json", &[("x-honeycomb-team", "from-the-browser")], sdk_logs(2, start)).await;
    assert_eq!((res.status, res.json()), (200, serde_json::json!({})));
    let original = otel_logs();
    let res = post(&relay.logs(), "application/x-protobuf", &[], original.encode_to_vec()).await;
    assert_eq!(res.status, 200);
    let got = up.received();
    assert_eq!(got.len(), 2);
    for r in &got {
        assert_eq!(r.path, "/v1/logs", "next to the upstream's /v1/traces");
        assert_eq!(r.header("x-honeycomb-team"), Some(KEY), "the relay's key, not the browser's");
        assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
        assert_eq!(r.header("content-encoding"), Some("gzip"));
    }
    let sdk = OtelLogs::decode(got[0].body.as_slice()).expect("valid OTLP logs protobuf");
    let rl = &sdk.resource_logs[0];
    assert_eq!(rl.resource.as_ref().unwrap().attributes[0].key, "service.name");
    assert_eq!(rl.scope_logs[0].scope.as_ref().unwrap().name, "canopy-web");
    let records = &rl.scope_logs[0].log_records;
    assert_eq!(records.len(), 2);
    let r = &records[1];
    assert_eq!((hex(&r.trace_id), hex(&r.span_id)), (TRACE.to_owned(), SPAN.to_owned()));
    assert_eq!((r.severity_number, r.severity_text.as_str(), r.flags), (17, "ERROR", 1));
    assert_eq!(r.time_unix_nano, (start as u64 + 1) * 1_000_000);
    assert_eq!(r.body.as_ref().unwrap().value, Some(any_value::Value::StringValue("feed failed 1".into())));
    assert_eq!(OtelLogs::decode(got[1].body.as_slice()).unwrap(), original, "a backend's logs arrive unchanged");
    let metrics = get(&relay.url("/metrics")).await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(text.contains("canopy_relay_log_records_forwarded_total 3"), "{text}");
    assert!(text.contains("canopy_relay_spans_forwarded_total 0"), "{text}");
}

#[tokio::test]
async fn upstream_answers_for_logs_are_handled_as_for_traces() {
    let up = Upstream::start().await;
    let partial = ExportLogsServiceResponse {
        partial_success: Some(ExportLogsPartialSuccess { rejected_log_records: 1, error_message: "too old".into() }),
    };
    up.push([Reply::Body(200, "application/x-protobuf", partial.encode_to_vec())]);
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let res = post_json(&relay.logs(), &sdk_logs(2, now_ms())).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json(),
        serde_json::json!({"partialSuccess": {
            "rejectedLogRecords": "1",
            "errorMessage": "the upstream rejected 1 log record(s); the relay's log has the details"
        }})
    );
    up.push(vec![Reply::RetryAfter(503, 7); 20]);
    let res = post_json(&relay.logs(), &sdk_logs(1, now_ms())).await;
    assert_eq!((res.status, res.header("retry-after")), (503, Some("7")), "{}", res.message());
    let up2 = Upstream::start().await;
    up2.push([Reply::Status(400)]);
    let relay2 = Relay::start(forwarding(&up2, Some(KEY))).await;
    let res = post_json(&relay2.logs(), &sdk_logs(1, now_ms())).await;
    assert_eq!(res.status, 400, "a refusal is passed on");
    assert!(!res.message().contains(KEY));
}

#[tokio::test]
async fn browser_clock_skew_is_corrected_in_logs() {
    let up = Upstream::start().await;
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    // The browser's clock is an hour behind.
    let hour = 3_600_000;
    let browser_now = now_ms() - hour;
    let sent_at = browser_now.to_string();
    let res =
        post(&relay.logs(), "application/json", &[("x-canopy-sent-at", &sent_at)], sdk_logs(1, browser_now)).await;
    assert_eq!(res.status, 200);
    let got = OtelLogs::decode(up.received()[0].body.as_slice()).unwrap();
    let r = &got.resource_logs[0].scope_logs[0].log_records[0];
    let moved_ms = (r.time_unix_nano / 1_000_000) as i64 - browser_now;
    assert!((hour - 5_000..=hour + 5_000).contains(&moved_ms), "moved {moved_ms} ms");
    assert!(r.attributes.iter().any(|kv| kv.key == "canopy.clock_skew_ms"));
}

#[tokio::test]
async fn an_upstream_without_a_traces_path_gets_no_logs() {
    let up = Upstream::start().await;
    let mut config = forwarding(&up, Some(KEY));
    if let Some(u) = config.upstream.as_mut() {
        u.url = format!("http://{}/ingest", up.addr).parse().unwrap();
    }
    assert!(config.describe().contains("logs: not forwarded"), "{}", config.describe());
    let relay = Relay::start(config).await;
    assert_eq!(post_json(&relay.logs(), &sdk_logs(1, now_ms())).await.status, 200);
    assert_eq!(post_json(&relay.traces(), GOLDEN).await.status, 200);
    let paths: Vec<String> = up.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/ingest"], "traces only");
}

/// The viewer's API puts a trace's log records beside its spans (issue 11: "the local viewer
/// shows a trace's log records").
#[tokio::test]
async fn the_viewer_api_shows_log_records_with_their_trace() {
    let relay = Relay::start(local()).await;
    let start = now_ms();
    // Logs may come before their spans: kept, but the trace is listed once it has spans.
    assert_eq!(post_json(&relay.logs(), &sdk_logs(2, start)).await.status, 200);
    assert!(get(&relay.url("/api/traces")).await.json()["traces"].as_array().unwrap().is_empty());
    assert_eq!(get(&relay.url(&format!("/api/traces/{TRACE}"))).await.status, 404);
    assert_eq!(post_json(&relay.traces(), GOLDEN).await.status, 200);
    assert_eq!(post_json(&relay.logs(), &sdk_logs(2, start)).await.status, 200, "a retry");
    let detail = get(&relay.url(&format!("/api/traces/{TRACE}"))).await.json();
    let logs = detail["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 2, "the retry added nothing: {detail}");
    assert_eq!(logs[0]["spanId"], SPAN);
    assert_eq!((logs[0]["severity"].as_str(), logs[0]["severityNumber"].as_i64()), (Some("ERROR"), Some(17)));
    assert_eq!(logs[0]["body"], "feed failed 0");
    assert_eq!(logs[1]["timeUnixNano"], ((start as u64 + 1) * 1_000_000).to_string());
    assert_eq!(logs[0]["attributes"][0]["value"], 500);
    assert!(detail["spans"].as_array().unwrap().iter().any(|s| s["spanId"] == SPAN), "its span is in the trace");
    let text = String::from_utf8(get(&relay.url("/metrics")).await.body).unwrap();
    assert!(text.contains("canopy_relay_store_skipped_log_records_total 0"), "{text}");
}

/// The viewer page in headless Chromium (`viewer_in_chromium`, as `deep.rs` runs it): each record under its span with
/// its severity and body, the trace's own records apart, and "Logs (n)" in the span's details.
#[tokio::test]
async fn the_viewer_page_lists_log_records_under_their_span() {
    let relay = Relay::start(local()).await;
    assert_eq!(post_json(&relay.traces(), GOLDEN).await.status, 200);
    let start = now_ms();
    assert_eq!(post_json(&relay.logs(), &sdk_logs(2, start)).await.status, 200);
    let own = sdk_logs(1, start).replace(&format!(r#","spanId":"{SPAN}""#), "").replace("feed failed 0", "trace only");
    let res = post_json(&relay.logs(), &own.replace(r#""severityNumber":17"#, r#""severityNumber":13"#)).await;
    assert_eq!(res.status, 200, "{}", res.message());
    let got = viewer_in_chromium("viewer_logs.mjs", &relay, TRACE, &[SPAN]).await;
    assert_eq!(got["errors"], serde_json::json!([]), "{got}");
    let under = got["bySpan"][SPAN].as_array().unwrap_or_else(|| panic!("{got}"));
    let texts: Vec<&str> = under.iter().map(|l| l["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["feed failed 0", "feed failed 1"], "{got}");
    assert_eq!((under[0]["severity"].as_str(), under[0]["cls"].as_str()), (Some("ERROR"), Some("log error")));
    assert_eq!(got["bySpan"].as_object().unwrap().len(), 1, "only under their span: {got}");
    assert_eq!(got["trace"][0]["text"], "trace only", "{got}");
    assert!(got["heads"].as_array().unwrap().iter().any(|h| h == "Logs (2)"), "{got}");
    assert!(got["meta"].as_str().unwrap().contains("3 logs"), "{got}");
}
