//! Issue 10, item 1: a trace of 100 000 spans, each the child of the previous one, goes through
//! ingest, the console printer, the store, the API and the viewer's tree code without recursion.

use crate::support::*;
use canopy_relay::{Config, Limits};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as OtelRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::process::Command;

pub const DEPTH: u64 = 100_000;
const TRACE: &str = "dddddddddddddddddddddddddddddddd";

/// One request: a chain `DEPTH` spans deep (span i + 1 is the child of span i).
pub fn chain(depth: u64) -> Vec<u8> {
    let spans = (1..=depth)
        .map(|i| Span {
            trace_id: vec![0xdd; 16],
            span_id: i.to_be_bytes().to_vec(),
            parent_span_id: if i == 1 { vec![] } else { (i - 1).to_be_bytes().to_vec() },
            name: "chain".into(),
            kind: 1,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i,
            end_time_unix_nano: 1_700_000_001_000_000_000,
            ..Default::default()
        })
        .collect();
    OtelRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn deep_limits() -> Limits {
    Limits { max_spans: 200_000, max_body_bytes: 64 << 20, max_decompressed_bytes: 64 << 20, ..Limits::default() }
}

#[tokio::test]
async fn a_100_000_deep_chain_is_ingested_printed_stored_and_viewed() {
    // print: the console tree is rendered (to the tracing subscriber, none in tests).
    let relay = Relay::start(Config { print: true, limits: deep_limits(), ..deep_local() }).await;
    let body = gzip(&chain(DEPTH));
    let res = post(&relay.traces(), "application/x-protobuf", &[("content-encoding", "gzip")], body).await;
    assert_eq!(res.status, 200, "{}", res.message());
    let list = get(&relay.url("/api/traces")).await.json();
    assert_eq!(list["traces"][0]["spanCount"], DEPTH, "{list}");
    let detail = get(&relay.url(&format!("/api/traces/{TRACE}"))).await;
    assert_eq!(detail.status, 200);
    assert_eq!(detail.json()["spans"].as_array().map(Vec::len), Some(DEPTH as usize));

    // The viewer's own tree code, run by Node on what the API returned.
    let dir = std::env::temp_dir().join(format!("canopy-deep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("trace.json");
    std::fs::write(&json, &detail.body).unwrap();
    let viewer = concat!(env!("CARGO_MANIFEST_DIR"), "/src/viewer.js");
    let script = r#"
        const { flatten, MAX_NEST } = require(process.argv[1]);
        const { spans } = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
        const rows = flatten(spans);
        const deepest = rows.reduce((m, r) => Math.max(m, r.depth), 0);
        console.log(JSON.stringify({ rows: rows.length, deepest, first: rows[0].span.spanId, maxNest: MAX_NEST }));
    "#;
    let out = Command::new("node")
        .args(["--stack-size=984", "-e", script, viewer, json.to_str().unwrap()])
        .output()
        .expect("node is installed (the SDK's tests need it too)");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "viewer.js failed: {}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["rows"], DEPTH, "every span is one row");
    assert_eq!(got["deepest"], DEPTH - 1);
    assert_eq!(got["first"], "0000000000000001", "the root comes first");
}

/// Local mode with room for one deep trace in the store.
fn deep_local() -> Config {
    Config { store_spans: 200_000, store_bytes: 256 << 20, store_trace_bytes: 256 << 20, ..local() }
}

/// The viewer page itself, in headless Chromium (set up by `make test`, like the SDK's browser
/// tests: a missing Chromium or playwright-core fails, it is not skipped), on a 100 000-deep
/// chain: every span is a row, the DOM nests at most `MAX_NEST` (64) levels, no script error
/// (a recursive walk threw "Maximum call stack size exceeded"), no CSP violation.
#[tokio::test]
async fn the_viewer_page_renders_a_100_000_deep_chain_in_chromium() {
    let relay = Relay::start(Config { limits: deep_limits(), ..deep_local() }).await;
    let body = gzip(&chain(DEPTH));
    let res = post(&relay.traces(), "application/x-protobuf", &[("content-encoding", "gzip")], body).await;
    assert_eq!(res.status, 200, "{}", res.message());
    let got = viewer_in_chromium("viewer_deep.mjs", &relay, TRACE, &[&DEPTH.to_string()]).await;
    assert_eq!(got["rows"], DEPTH, "{got}");
    assert_eq!(got["nest"], 64, "{got}");
    assert_eq!(got["errors"], serde_json::json!([]), "{got}");
    assert_eq!(got["css"], "rgb(255, 255, 255)", "viewer.css applied under the CSP: {got}");
}
