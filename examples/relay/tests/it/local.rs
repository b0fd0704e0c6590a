//! Local mode: the store, `/api/traces`, the viewer page, `/healthz`, `/metrics`.

use crate::support::*;
use canopy_relay::Config;

#[tokio::test]
async fn local_mode_keeps_traces_and_serves_them() {
    let relay = Relay::start(local()).await;
    assert_eq!(post_json(&relay.traces(), GOLDEN).await.status, 200);
    // The same spans in another request (a space more: not a copy, which the relay would not
    // even process).
    assert_eq!(post_json(&relay.traces(), &again(GOLDEN, 1)).await.status, 200, "a retry of the same spans");
    let other = sdk_batch("0af7651916cd43dd8448eb211c80319c", 5, now_ms());
    assert_eq!(post_json(&relay.traces(), &other).await.status, 200);

    let list = get(&relay.url("/api/traces")).await;
    assert_eq!(list.header("cache-control"), Some("no-store"));
    let traces = list.json()["traces"].as_array().unwrap().clone();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0]["traceId"], "0af7651916cd43dd8448eb211c80319c", "most recent first");
    let golden = &traces[1];
    assert_eq!(golden["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(golden["rootName"], "documentLoad");
    assert_eq!(golden["service"], "frontend");
    assert_eq!(golden["spanCount"], 4, "the retry added nothing");
    assert_eq!(golden["errorCount"], 2);

    let detail = get(&relay.url("/api/traces/4bf92f3577b34da6a3ce929d0e0e4736")).await.json();
    let spans = detail["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 4);
    let fetch = spans.iter().find(|s| s["spanId"] == "b7ad6b7169203331").unwrap();
    assert_eq!(fetch["parentSpanId"], "00f067aa0ba902b7");
    assert_eq!(fetch["kind"], "client");
    assert_eq!(fetch["status"], "error");
    assert_eq!(fetch["startTimeUnixNano"], "1700000000123457789");
    let attr =
        |k: &str| fetch["attributes"].as_array().unwrap().iter().find(|a| a["key"] == k).unwrap()["value"].clone();
    assert_eq!(attr("int.max"), "9223372036854775807", "beyond 2^53: a string");
    assert_eq!(attr("int.neg"), -42);
    assert_eq!(attr("array.str"), serde_json::json!(["a", "b\"c", "日本\n"]));
    assert_eq!(fetch["events"][0]["name"], "exception");
    assert_eq!(fetch["resource"][0]["value"], "frontend");

    assert_eq!(get(&relay.url("/api/traces/00000000000000000000000000000001")).await.status, 404);
    assert_eq!(get(&relay.url("/api/traces/XYZ")).await.status, 400);
}

#[tokio::test]
async fn the_viewer_page_is_one_self_contained_document() {
    let relay = Relay::start(local()).await;
    let page = get(&relay.url("/")).await;
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"), "{csp}");
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("<title>Canopy · local traces</title>"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no CDN");
}

#[tokio::test]
async fn the_viewer_refuses_other_hosts_and_origins() {
    let relay = Relay::start(local()).await;
    let with = |k: &'static str, v: &'static str| {
        let url = relay.url("/api/traces");
        async move { into_res(client().get(url).header(k, v).send().await.unwrap()).await }
    };
    assert_eq!(with("host", "evil.example.com").await.status, 403, "DNS rebinding");
    assert_eq!(with("origin", "https://evil.example.com").await.status, 403, "cross-origin read");
    assert_eq!(with("host", "localhost:4318").await.status, 200);
    let public = Relay::start(Config { public_viewer: true, ..local() }).await;
    let res =
        into_res(client().get(public.url("/api/traces")).header("host", "relay.example.com").send().await.unwrap())
            .await;
    assert_eq!(res.status, 200, "--public-viewer");
}

#[tokio::test]
async fn forwarding_alone_has_no_viewer() {
    let up = Upstream::start().await;
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    assert_eq!(get(&relay.url("/api/traces")).await.status, 404);
    let home = get(&relay.url("/")).await;
    assert!(String::from_utf8_lossy(&home.body).contains("the viewer is off"));
}

#[tokio::test]
async fn healthz_metrics_and_unknown_routes() {
    let relay = Relay::start(local()).await;
    let h = get(&relay.url("/healthz")).await;
    assert_eq!((h.status, h.body.as_slice()), (200, &b"ok\n"[..]));
    assert_eq!(post_json(&relay.traces(), GOLDEN).await.status, 200);
    assert_eq!(post_json(&relay.traces(), "{").await.status, 400);
    let m = get(&relay.url("/metrics")).await;
    assert_eq!(m.header("content-type"), Some("text/plain; version=0.0.4"));
    let text = String::from_utf8(m.body).unwrap();
    for line in [
        "canopy_relay_requests_total{code=\"200\"} 1",
        "canopy_relay_requests_total{code=\"400\"} 1",
        "canopy_relay_spans_received_total 4",
        "canopy_relay_spans_forwarded_total 0",
        "canopy_relay_traces_stored 1",
        "# TYPE canopy_relay_upstream_latency_seconds histogram",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    let nf = get(&relay.url("/nope")).await;
    assert_eq!(nf.status, 404);
    assert!(nf.message().contains("POST /v1/traces"));
    assert_eq!(get(&relay.traces()).await.status, 405, "GET on the traces path");
}

/// One request's worth of OTLP JSON: `spans` spans of trace `trace`, each with `attrs`
/// attributes of 32 KiB (what the SDK never sends, and gzip makes small).
fn heavy(trace: usize, spans: usize, attrs: usize) -> String {
    let value = "v".repeat(32 << 10);
    let attrs: Vec<String> =
        (0..attrs).map(|k| format!(r#"{{"key":"a{k}","value":{{"stringValue":"{value}"}}}}"#)).collect();
    let attrs = attrs.join(",");
    let spans: Vec<String> = (0..spans)
        .map(|i| {
            format!(
                r#"{{"traceId":"{trace:032x}","spanId":"{:016x}","name":"big","kind":1,"startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{attrs}]}}"#,
                i + 1
            )
        })
        .collect();
    format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}]}}]}}]}}"#, spans.join(","))
}

fn metric(text: &str, name: &str) -> u64 {
    let line = text.lines().find(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b' '));
    line.and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// Issue 10, item 3: the store was bounded by count only; 60 posts of big attributes took the
/// process to about 1 GB. Now it is bounded in bytes, per trace and in all, oldest out first.
#[tokio::test]
async fn the_store_is_bounded_in_bytes_and_reports_evictions() {
    let config = Config {
        store_bytes: 4 << 20,
        store_trace_bytes: 1 << 20,
        client_byte_rate: 0.0,
        client_span_rate: 0.0,
        ..local()
    };
    let relay = Relay::start(config).await;
    for trace in 1..=20 {
        // 8 spans x 8 attributes x 32 KiB = 2 MiB of values a request, a few KB gzipped.
        let body = gzip(heavy(trace, 8, 8).as_bytes());
        assert!(body.len() < 100_000, "{}", body.len());
        let res = post(&relay.traces(), "application/json", &[("content-encoding", "gzip")], body).await;
        assert_eq!(res.status, 200, "{}", res.message());
    }
    let text = String::from_utf8(get(&relay.url("/metrics")).await.body).unwrap();
    let bytes = metric(&text, "canopy_relay_store_bytes");
    assert!(bytes <= 4 << 20, "{bytes} bytes kept, over the 4 MiB budget");
    assert!(bytes > 2 << 20, "the budget is used: {bytes}");
    let stored = metric(&text, "canopy_relay_traces_stored");
    assert!((4..=5).contains(&stored), "{stored} traces kept");
    assert_eq!(metric(&text, "canopy_relay_store_evicted_traces_total"), 20 - stored);
    // Each trace is capped at 1 MiB: 3 of its 8 spans of 256 KiB fit.
    assert_eq!(metric(&text, "canopy_relay_store_skipped_spans_total"), 20 * 5);
    let list = get(&relay.url("/api/traces")).await.json();
    let traces = list["traces"].as_array().unwrap();
    assert_eq!(traces.len() as u64, stored);
    assert_eq!(traces[0]["traceId"], format!("{:032x}", 20), "the newest are kept");
    assert_eq!(traces[0]["spanCount"], 3);
}

/// The viewer's API lists a trace's exceptions beside its spans, with the stack text parsed into
/// frames (newest first) for Chromium's and Firefox's formats (issue 11).
#[tokio::test]
async fn the_viewer_api_lists_exceptions_with_parsed_frames() {
    let relay = Relay::start(local()).await;
    assert_eq!(post_json(&relay.traces(), GOLDEN).await.status, 200);
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let chromium = "TypeError: boom\\n    at save (https://app.example.com/assets/app.js:10:5)\\n    at https://app.example.com/assets/app.js:20:7";
    let firefox = "save@https://app.example.com/assets/app.js:10:5\\n@https://app.example.com/assets/app.js:20:7\\n";
    let event = |t: u64, ty: &str, stack: &str| {
        format!(
            r#"{{"timeUnixNano":"{t}","name":"exception","attributes":[{{"key":"exception.type","value":{{"stringValue":"{ty}"}}}},{{"key":"exception.message","value":{{"stringValue":"boom"}}}},{{"key":"exception.stacktrace","value":{{"stringValue":"{stack}"}}}}]}}"#
        )
    };
    let start = now_ms() as u64 * 1_000_000;
    let body = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"frontend"}}}}]}},"scopeSpans":[{{"scope":{{"name":"canopy-web"}},"spans":[{{"traceId":"{trace}","spanId":"1111111111111111","name":"save","kind":1,"startTimeUnixNano":"{start}","endTimeUnixNano":"{}","events":[{},{}],"status":{{"code":2}}}}]}}]}}]}}"#,
        start + 5_000_000,
        event(start + 2_000_000, "RangeError", firefox),
        event(start + 1_000_000, "TypeError", chromium),
    );
    let res = post_json(&relay.traces(), &body).await;
    assert_eq!(res.status, 200, "{}", res.message());
    let detail = get(&relay.url(&format!("/api/traces/{trace}"))).await.json();
    let ex = detail["exceptions"].as_array().unwrap();
    assert_eq!(ex.len(), 2, "{detail}");
    assert_eq!(ex[0]["type"], "TypeError", "in time order");
    assert_eq!(ex[0]["spanId"], "1111111111111111");
    assert_eq!(ex[0]["message"], "boom");
    let frames = ex[0]["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(
        frames[0],
        serde_json::json!({"filename": "https://app.example.com/assets/app.js", "method": "save", "lineno": 10, "colno": 5})
    );
    assert_eq!(frames[1]["lineno"], 20);
    assert!(frames[1].get("method").is_none(), "anonymous");
    assert_eq!(ex[1]["type"], "RangeError");
    assert_eq!(ex[1]["frames"].as_array().unwrap().len(), 2, "Firefox's format too");
    let golden = get(&relay.url("/api/traces/4bf92f3577b34da6a3ce929d0e0e4736")).await.json();
    let g = golden["exceptions"].as_array().unwrap();
    assert_eq!(g.len(), 1, "an exception without a stack is listed, with no frames");
    assert_eq!(g[0]["frames"], serde_json::json!([]));
}
