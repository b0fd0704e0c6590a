//! Integration tests for the OTLP/HTTP JSON encoder (`canopy_web::export::otlp_json`).
#![cfg(not(target_arch = "wasm32"))]
//!
//! Golden file: `tests/fixtures/otlp_golden.json` holds the exact bytes the encoder writes for
//! [`golden_spans`]. After an intended change to the output, regenerate it and review the diff:
//!
//! ```text
//! CANOPY_BLESS=1 cargo test --test otlp_json
//! ```
//!
//! Decoding uses the official protobuf definitions (`opentelemetry-proto` with `with-serde`),
//! whose serde mapping reads `traceId`/`spanId` as hex (`const_hex::decode`), 64-bit integers
//! from decimal strings, and enums as integers, as the OTLP JSON encoding specifies.
//!
//! Note on doubles: the encoder writes at most 16 significant digits with plain `f64`
//! arithmetic (no `core::fmt`), so its text reads back within a relative error of 1e-15, not
//! always to the same bits (tested with the standard library's exact parser in the crate's unit
//! tests); and serde_json without its `float_roundtrip` feature parses doubles "best effort"
//! (seen 2 ULPs off). Decoded doubles are therefore compared within 1e-15 relative plus 4 ULPs
//! here; the golden file pins the exact text.
#![cfg(not(target_arch = "wasm32"))]

use canopy_web::attribute::{KeyValue, Str, Value};
use canopy_web::export::otlp_json::{Encoder, push_json_string};
use canopy_web::ids::{SpanId, TraceFlags, TraceId};
use canopy_web::propagation::TraceState;
use canopy_web::resource::{Resource, SCOPE_NAME, SDK_VERSION};
use canopy_web::span_context::SpanContext;
use canopy_web::span_data::{Event, Link, SpanData, SpanKind, Status};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as PKeyValue, any_value::Value as PValue};
use opentelemetry_proto::tonic::trace::v1 as pt;
use serde_json::Value as Json;
use std::path::PathBuf;

const GOLDEN_SCOPE_VERSION: &str = "0.0.0-golden";

// ---------------------------------------------------------------------------------------------
// Fixed request
// ---------------------------------------------------------------------------------------------

fn ctx(trace: &str, span: &str, flags: u8) -> SpanContext {
    SpanContext::new(TraceId::from_hex(trace).unwrap(), SpanId::from_hex(span).unwrap(), TraceFlags(flags))
}

fn strs(items: &[&'static str]) -> Vec<Str> {
    items.iter().map(|s| Str::Borrowed(*s)).collect()
}

fn golden_resource() -> Resource {
    Resource {
        attributes: vec![
            KeyValue::new("service.name", "frontend"),
            KeyValue::new("telemetry.sdk.name", "canopy-web"),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("session.id", "8f2a\"b\\c"),
        ],
    }
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const T0: u64 = 1_700_000_000_123_456_789;

fn golden_spans() -> Vec<SpanData> {
    let root_cx = ctx(TRACE, "00f067aa0ba902b7", 0x03);
    // A minimal root span: every optional field left out.
    let root = SpanData {
        span_context: root_cx.clone(),
        parent_span_id: SpanId::INVALID,
        parent_is_remote: false,
        name: "documentLoad".into(),
        kind: SpanKind::Internal,
        start_time: T0,
        end_time: T0 + 250_000_000,
        attributes: vec![],
        dropped_attributes_count: 0,
        events: vec![],
        dropped_events_count: 0,
        links: vec![],
        dropped_links_count: 0,
        status: Status::Unset,
    };

    let mut child_cx = ctx(TRACE, "b7ad6b7169203331", 0x01);
    child_cx.trace_state = TraceState::parse("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7").unwrap();
    let mut remote_link_cx = ctx("0af7651916cd43dd8448eb211c80319c", "53995c3f42cd8ad8", 0x01);
    remote_link_cx.is_remote = true;
    remote_link_cx.trace_state = TraceState::parse("vendor=v1").unwrap();
    // Every attribute type, arrays included, and strings that need escaping.
    let child = SpanData {
        span_context: child_cx,
        parent_span_id: root_cx.span_id,
        parent_is_remote: false,
        name: "fetch \"/api/items\"\n→ 日本 🌲 \u{1}\u{1f}\\".into(),
        kind: SpanKind::Client,
        start_time: T0 + 1_000,
        end_time: T0 + 200_000_000,
        attributes: vec![
            KeyValue::new("str", "plain"),
            KeyValue::new("str.escapes", "q\" b\\ nl\n cr\r tab\t nul\u{0} esc\u{1b} del\u{7f} é 日本 🌲 \u{2028}"),
            KeyValue::new("str.empty", ""),
            KeyValue::new("bool.true", true),
            KeyValue::new("bool.false", false),
            KeyValue::new("int.zero", 0i64),
            KeyValue::new("int.neg", -42i64),
            KeyValue::new("int.max", i64::MAX),
            KeyValue::new("int.min", i64::MIN),
            KeyValue::new("double", 1.5),
            KeyValue::new("double.neg_zero", -0.0),
            KeyValue::new("double.integral", 3.0),
            KeyValue::new("double.third", 1.0 / 3.0),
            KeyValue::new("double.tiny", 5e-324),
            KeyValue::new("double.big", 1e300),
            KeyValue::new("double.small", 1.2e-7),
            KeyValue::new("array.str", strs(&["a", "b\"c", "日本\n"])),
            KeyValue::new("array.str.empty", Vec::<Str>::new()),
            KeyValue::new("array.bool", vec![true, false]),
            KeyValue::new("array.int", vec![1i64, -2, i64::MIN]),
            KeyValue::new("array.double", vec![0.5, -1.25, 1e-7, 1e21]),
            KeyValue::new("kéy\u{7}\"", "odd key"),
        ],
        dropped_attributes_count: 3,
        events: vec![
            Event {
                name: "exception".into(),
                time: T0 + 150_000_000,
                attributes: vec![
                    KeyValue::new("exception.type", "TypeError"),
                    KeyValue::new("exception.message", "Failed to fetch\n\"x\""),
                ],
                dropped_attributes_count: 2,
            },
            Event {
                name: "marker ✓".into(), time: T0 + 160_000_000, attributes: vec![], dropped_attributes_count: 0
            },
        ],
        dropped_events_count: 1,
        links: vec![
            Link {
                span_context: remote_link_cx,
                attributes: vec![KeyValue::new("link.reason", "follows")],
                dropped_attributes_count: 0,
            },
            Link {
                span_context: ctx(TRACE, "1111111111111111", 0x00),
                attributes: vec![],
                dropped_attributes_count: 5,
            },
        ],
        dropped_links_count: 4,
        status: Status::Error("HTTP 500: \"Internal\"\n".into()),
    };

    // Continues a server's trace: remote parent, status Ok.
    let server = SpanData {
        span_context: ctx(TRACE, "2222222222222222", 0x01),
        parent_span_id: SpanId::from_hex("a3ce929d0e0e4736").unwrap(),
        parent_is_remote: true,
        name: "server-continued".into(),
        kind: SpanKind::Server,
        start_time: 0,
        end_time: u64::MAX,
        attributes: vec![KeyValue::new("n", 7i64)],
        status: Status::Ok,
        ..root.clone()
    };
    // An error without a message: the message is left out.
    let consumer = SpanData {
        span_context: ctx(TRACE, "3333333333333333", 0x01),
        parent_span_id: root_cx.span_id,
        name: "".into(),
        kind: SpanKind::Consumer,
        status: Status::Error("".into()),
        ..root.clone()
    };
    vec![root, child, server, consumer]
}

fn golden_json() -> String {
    let enc = Encoder::new(&golden_resource(), SCOPE_NAME, GOLDEN_SCOPE_VERSION);
    let mut out = String::new();
    enc.encode(&golden_spans(), &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// Comparison against the official protobuf definitions
// ---------------------------------------------------------------------------------------------

fn decode(json: &str) -> ExportTraceServiceRequest {
    serde_json::from_str::<ExportTraceServiceRequest>(json)
        .unwrap_or_else(|e| panic!("opentelemetry-proto rejects our JSON: {e}\n{json}"))
}

/// Equal bits, or (finite, same sign) within a relative error of 1e-15 (the encoder) plus
/// 4 ULPs (serde_json's parser); see the module note.
fn same_double(got: f64, want: f64) -> bool {
    // One ULP of `want`: flipping the lowest bit gives a neighbour in the same binade.
    let ulp = (f64::from_bits(want.to_bits() ^ 1) - want).abs();
    got.to_bits() == want.to_bits()
        || (got.is_finite()
            && got.is_sign_negative() == want.is_sign_negative()
            && (got - want).abs() <= 1e-15 * want.abs() + 4.0 * ulp)
}

fn any(v: &Option<AnyValue>) -> &PValue {
    v.as_ref().and_then(|a| a.value.as_ref()).expect("AnyValue has a value")
}

fn array(got: &PValue, len: usize, what: &str) -> Vec<PValue> {
    let PValue::ArrayValue(a) = got else { panic!("{what}: expected arrayValue, got {got:?}") };
    assert_eq!(a.values.len(), len, "{what}: array length");
    a.values.iter().map(|v| v.value.clone().expect("array element has a value")).collect()
}

fn assert_value(got: &PValue, want: &Value, what: &str) {
    let scalar_double = |g: &PValue, w: f64| match g {
        PValue::DoubleValue(d) => assert!(same_double(*d, w), "{what}: double {d:e} != {w:e}"),
        other => panic!("{what}: expected doubleValue {w}, got {other:?}"),
    };
    match want {
        Value::String(s) => assert_eq!(got, &PValue::StringValue(s.to_string()), "{what}"),
        Value::Bool(b) => assert_eq!(got, &PValue::BoolValue(*b), "{what}"),
        Value::I64(n) => assert_eq!(got, &PValue::IntValue(*n), "{what}"),
        Value::F64(d) => scalar_double(got, *d),
        Value::StringArray(a) => {
            let want: Vec<PValue> = a.iter().map(|s| PValue::StringValue(s.to_string())).collect();
            assert_eq!(array(got, a.len(), what), want, "{what}");
        }
        Value::BoolArray(a) => {
            let want: Vec<PValue> = a.iter().map(|b| PValue::BoolValue(*b)).collect();
            assert_eq!(array(got, a.len(), what), want, "{what}");
        }
        Value::I64Array(a) => {
            let want: Vec<PValue> = a.iter().map(|n| PValue::IntValue(*n)).collect();
            assert_eq!(array(got, a.len(), what), want, "{what}");
        }
        Value::F64Array(a) => {
            for (g, w) in array(got, a.len(), what).iter().zip(a) {
                scalar_double(g, *w);
            }
        }
    }
}

fn assert_attrs(got: &[PKeyValue], want: &[KeyValue], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: attribute count");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.key, w.key, "{what}: key");
        assert_value(any(&g.value), &w.value, &format!("{what}: attribute {:?}", w.key));
    }
}

fn expected_flags(cx: &SpanContext, remote: bool) -> u32 {
    u32::from(cx.trace_flags.0) | 0x100 | if remote { 0x200 } else { 0 }
}

fn assert_span(g: &pt::Span, w: &SpanData) {
    let what = format!("span {:?}", w.name);
    assert_eq!(g.trace_id, w.span_context.trace_id.0, "{what}: traceId");
    assert_eq!(g.span_id, w.span_context.span_id.0, "{what}: spanId");
    assert_eq!(g.trace_state, w.span_context.trace_state.header_value(), "{what}: traceState");
    let parent: &[u8] = if w.parent_span_id.is_valid() { &w.parent_span_id.0 } else { &[] };
    assert_eq!(g.parent_span_id, parent, "{what}: parentSpanId");
    assert_eq!(g.flags, expected_flags(&w.span_context, w.parent_is_remote), "{what}: flags");
    assert_eq!(g.name, w.name, "{what}: name");
    assert_eq!(g.kind, w.kind as i32, "{what}: kind");
    assert_eq!(g.start_time_unix_nano, w.start_time, "{what}: start");
    assert_eq!(g.end_time_unix_nano, w.end_time, "{what}: end");
    assert_attrs(&g.attributes, &w.attributes, &what);
    assert_eq!(g.dropped_attributes_count, w.dropped_attributes_count, "{what}: dropped attributes");
    assert_eq!(g.events.len(), w.events.len(), "{what}: events");
    for (ge, we) in g.events.iter().zip(&w.events) {
        assert_eq!(ge.name, we.name, "{what}: event name");
        assert_eq!(ge.time_unix_nano, we.time, "{what}: event time");
        assert_attrs(&ge.attributes, &we.attributes, &format!("{what}: event {:?}", we.name));
        assert_eq!(ge.dropped_attributes_count, we.dropped_attributes_count, "{what}: event dropped");
    }
    assert_eq!(g.dropped_events_count, w.dropped_events_count, "{what}: dropped events");
    assert_eq!(g.links.len(), w.links.len(), "{what}: links");
    for (gl, wl) in g.links.iter().zip(&w.links) {
        let cx = &wl.span_context;
        assert_eq!(gl.trace_id, cx.trace_id.0, "{what}: link traceId");
        assert_eq!(gl.span_id, cx.span_id.0, "{what}: link spanId");
        assert_eq!(gl.trace_state, cx.trace_state.header_value(), "{what}: link traceState");
        assert_eq!(gl.flags, expected_flags(cx, cx.is_remote), "{what}: link flags");
        assert_attrs(&gl.attributes, &wl.attributes, &format!("{what}: link"));
        assert_eq!(gl.dropped_attributes_count, wl.dropped_attributes_count, "{what}: link dropped");
    }
    assert_eq!(g.dropped_links_count, w.dropped_links_count, "{what}: dropped links");
    let status = match &w.status {
        Status::Unset => None,
        Status::Ok => Some(pt::Status { code: 1, message: String::new() }),
        Status::Error(m) => Some(pt::Status { code: 2, message: m.to_string() }),
    };
    assert_eq!(g.status, status, "{what}: status");
}

fn assert_request(
    req: &ExportTraceServiceRequest,
    resource: &Resource,
    scope_name: &str,
    scope_version: &str,
    spans: &[SpanData],
) {
    assert_eq!(req.resource_spans.len(), 1, "one ResourceSpans");
    let rs = &req.resource_spans[0];
    let res = rs.resource.as_ref().expect("resource present");
    assert_attrs(&res.attributes, &resource.attributes, "resource");
    assert_eq!(rs.scope_spans.len(), 1, "one ScopeSpans");
    let ss = &rs.scope_spans[0];
    let scope = ss.scope.as_ref().expect("scope present");
    assert_eq!((scope.name.as_str(), scope.version.as_str()), (scope_name, scope_version), "scope");
    assert_eq!(ss.spans.len(), spans.len(), "span count");
    for (g, w) in ss.spans.iter().zip(spans) {
        assert_span(g, w);
    }
}

fn json_spans(doc: &Json) -> &Vec<Json> {
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().expect("spans array")
}

/// Asserts the object has exactly the keys `want`, in any order (serde_json's map is sorted by
/// key; our field order is pinned by the golden file).
fn assert_keys(v: &Json, want: &[&str]) {
    let got: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
    let mut want = want.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "keys of {v}");
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn golden_file_matches_byte_for_byte() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp_golden.json");
    let got = golden_json();
    if std::env::var("CANOPY_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &got).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with CANOPY_BLESS=1 to create it", path.display()));
    if got != want {
        let at = got.bytes().zip(want.bytes()).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
        let from = at.saturating_sub(60);
        panic!(
            "encoder output differs from {} at byte {at} (CANOPY_BLESS=1 rewrites it)\n got: …{}\nwant: …{}",
            path.display(),
            got.get(from..(at + 60).min(got.len())).unwrap_or("<non-char boundary>"),
            want.get(from..(at + 60).min(want.len())).unwrap_or("<non-char boundary>"),
        );
    }
}

#[test]
fn golden_round_trips_through_opentelemetry_proto() {
    let json = golden_json();
    let req = decode(&json);
    assert_request(&req, &golden_resource(), SCOPE_NAME, GOLDEN_SCOPE_VERSION, &golden_spans());
}

#[test]
fn golden_is_valid_json_with_otlp_shapes_and_omits_defaults() {
    let doc: Json = serde_json::from_str(&golden_json()).expect("valid JSON");
    assert_keys(&doc, &["resourceSpans"]);
    assert_keys(&doc["resourceSpans"][0], &["resource", "scopeSpans"]);
    assert_keys(&doc["resourceSpans"][0]["scopeSpans"][0], &["scope", "spans"]);
    let spans = json_spans(&doc);
    let (root, child, server, consumer) = (&spans[0], &spans[1], &spans[2], &spans[3]);

    // Root span: nothing optional (no parentSpanId, attributes, events, links, counts, status).
    assert_keys(root, &["traceId", "spanId", "flags", "name", "kind", "startTimeUnixNano", "endTimeUnixNano"]);
    assert_eq!(root["traceId"], TRACE, "lowercase hex, not base64");
    assert_eq!(root["spanId"], "00f067aa0ba902b7");
    assert_eq!(root["flags"], 0x103, "trace flags 0x03 + has-is-remote, parent not remote");
    assert_eq!(root["kind"], 1, "INTERNAL written although the proto default is 0");
    assert_eq!(root["startTimeUnixNano"], T0.to_string(), "64-bit ints as decimal strings");

    #[rustfmt::skip]
    assert_keys(child, &[
        "traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind", "startTimeUnixNano",
        "endTimeUnixNano", "attributes", "droppedAttributesCount", "events", "droppedEventsCount", "links",
        "droppedLinksCount", "status",
    ]);
    assert_eq!(child["traceState"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    assert_eq!(child["kind"], 3);
    assert_eq!(child["status"], serde_json::json!({"code": 2, "message": "HTTP 500: \"Internal\"\n"}));
    let attrs = child["attributes"].as_array().unwrap();
    let attr = |name: &str| attrs.iter().find(|kv| kv["key"] == name).expect(name)["value"].clone();
    assert_eq!(attr("int.min"), serde_json::json!({"intValue": "-9223372036854775808"}));
    assert_eq!(attr("bool.false"), serde_json::json!({"boolValue": false}));
    assert!(attr("double")["doubleValue"].is_f64(), "doubles are JSON numbers");
    assert_eq!(attr("array.str.empty"), serde_json::json!({"arrayValue": {"values": []}}));
    let events = child["events"].as_array().unwrap();
    assert_keys(&events[0], &["timeUnixNano", "name", "attributes", "droppedAttributesCount"]);
    assert_keys(&events[1], &["timeUnixNano", "name"]);
    let links = child["links"].as_array().unwrap();
    assert_keys(&links[0], &["traceId", "spanId", "traceState", "attributes", "flags"]);
    assert_eq!(links[0]["flags"], 0x301, "remote link: has-is-remote + is-remote");
    assert_keys(&links[1], &["traceId", "spanId", "droppedAttributesCount", "flags"]);
    assert_eq!(links[1]["flags"], 0x100);

    assert_eq!(server["flags"], 0x301, "remote parent sets bit 9");
    assert_eq!(server["status"], serde_json::json!({"code": 1}));
    assert_eq!(server["endTimeUnixNano"], u64::MAX.to_string());
    assert_eq!(consumer["status"], serde_json::json!({"code": 2}), "empty message left out");
    assert_eq!(consumer["name"], "");
}

#[test]
fn ids_are_hex_and_opentelemetry_proto_decodes_hex_not_base64() {
    let json = golden_json();
    let req = decode(&json);
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.trace_id, TraceId::from_hex(TRACE).unwrap().0, "hex decoded to the 16 bytes");
    // The standard proto3 mapping would be base64; opentelemetry-proto (like the OTLP spec)
    // takes hex and rejects base64 text for ids.
    let base64 = "S/kvNXezTaajzpKdDg5HNg==";
    let bad = json.replacen(TRACE, base64, 1);
    assert!(serde_json::from_str::<ExportTraceServiceRequest>(&bad).is_err(), "base64 id rejected");
}

#[test]
fn every_control_character_is_escaped() {
    let all: String = (0u8..0x20).map(char::from).chain(['"', '\\', '\u{7f}', 'é', '🌲']).collect();
    let mut lit = String::new();
    push_json_string(&mut lit, &all);
    assert!(lit.bytes().skip(1).take(lit.len() - 2).all(|b| b >= 0x20), "no raw control bytes: {lit}");
    assert_eq!(serde_json::from_str::<String>(&lit).unwrap(), all);

    let mut span = golden_spans().remove(1);
    span.name = all.clone().into();
    span.status = Status::Error(all.clone().into());
    span.attributes = vec![KeyValue::new(all.clone(), all.clone()), KeyValue::new("arr", vec![Str::from(all.clone())])];
    span.events[0].name = all.clone().into();
    let resource = Resource { attributes: vec![KeyValue::new(all.clone(), all.clone())] };
    let enc = Encoder::new(&resource, &all, &all);
    let mut json = String::new();
    enc.encode(std::slice::from_ref(&span), &mut json);
    let doc: Json = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(json_spans(&doc)[0]["name"], all.as_str());
    assert_request(&decode(&json), &resource, &all, &all, &[span]);
}

#[test]
fn non_finite_doubles_are_strings() {
    let mut span = golden_spans().remove(0);
    span.attributes = vec![
        KeyValue::new("nan", f64::NAN),
        KeyValue::new("inf", f64::INFINITY),
        KeyValue::new("neg_inf", f64::NEG_INFINITY),
        KeyValue::new("arr", vec![f64::NAN, 1.0, f64::NEG_INFINITY]),
    ];
    let enc = Encoder::new(&Resource::default(), SCOPE_NAME, SDK_VERSION);
    let mut json = String::new();
    enc.encode(std::slice::from_ref(&span), &mut json);
    assert!(json.contains(r#"{"key":"nan","value":{"doubleValue":"NaN"}}"#), "{json}");
    assert!(json.contains(r#"{"key":"inf","value":{"doubleValue":"Infinity"}}"#), "{json}");
    assert!(json.contains(r#"{"key":"neg_inf","value":{"doubleValue":"-Infinity"}}"#), "{json}");
    assert!(
        json.contains(
            r#"{"arrayValue":{"values":[{"doubleValue":"NaN"},{"doubleValue":1},{"doubleValue":"-Infinity"}]}}"#
        ),
        "{json}"
    );
    // Valid JSON: the proto3 JSON mapping's strings, not the bare NaN/Infinity tokens.
    let doc: Json = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(json_spans(&doc)[0]["attributes"][0]["value"]["doubleValue"], "NaN");

    // opentelemetry-proto 0.33 reads AnyValue.doubleValue as a plain serde f64: it accepts
    // the strings only for some metrics fields (`serialize_f64_special`), so it rejects this
    // document. The proto3 JSON mapping (and so OTLP/JSON, e.g. the Collector) allows them.
    // If a later version accepts them, they must decode to the same values.
    match serde_json::from_str::<ExportTraceServiceRequest>(&json) {
        Err(e) => assert!(e.to_string().contains("invalid type: string \"NaN\""), "unexpected error: {e}"),
        Ok(req) => {
            let attrs = &req.resource_spans[0].scope_spans[0].spans[0].attributes;
            assert!(matches!(any(&attrs[0].value), PValue::DoubleValue(d) if d.is_nan()));
            assert_eq!(any(&attrs[1].value), &PValue::DoubleValue(f64::INFINITY));
        }
    }
}

#[test]
fn empty_batch_empty_resource_and_appending() {
    let enc = Encoder::new(&Resource::default(), SCOPE_NAME, "");
    let mut out = String::from("prefix:");
    enc.encode(&[], &mut out);
    assert_eq!(
        out, r#"prefix:{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{"name":"canopy-web"},"spans":[]}]}]}"#,
        "appends; empty version and attributes left out"
    );
    assert_request(&decode(&out["prefix:".len()..]), &Resource::default(), SCOPE_NAME, "", &[]);

    // Encoding twice into one buffer appends a second, identical document.
    let spans = golden_spans();
    let enc = Encoder::new(&golden_resource(), SCOPE_NAME, SDK_VERSION);
    let mut a = String::new();
    enc.encode(&spans, &mut a);
    let mut twice = a.clone();
    enc.encode(&spans, &mut twice);
    assert_eq!(twice, format!("{a}{a}"));
    assert_request(&decode(&a), &golden_resource(), SCOPE_NAME, SDK_VERSION, &spans);
}

// ---------------------------------------------------------------------------------------------
// Property-style test
// ---------------------------------------------------------------------------------------------

/// SplitMix64: small, deterministic, good enough to shake out encoder bugs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            " ",
            "\"",
            "\\",
            "/",
            "\n",
            "\r",
            "\t",
            "\u{0}",
            "\u{1}",
            "\u{8}",
            "\u{b}",
            "\u{c}",
            "\u{1f}",
            "\u{7f}",
            "\u{80}",
            "é",
            "ß",
            "日本",
            "🌲",
            "\u{2028}",
            "\u{feff}",
            "\u{10ffff}",
            "{\"k\":[]}",
            ":,",
            "\\u0041",
            "\\\"",
        ];
        let mut s = String::new();
        for _ in 0..self.below(14) {
            if self.chance(20) {
                // Any scalar value, from every plane.
                if let Some(c) = char::from_u32(self.below(0x11_0000) as u32) {
                    s.push(c);
                }
            } else {
                s.push_str(PIECES[self.below(PIECES.len() as u64) as usize]);
            }
        }
        s
    }

    fn double(&mut self) -> f64 {
        match self.below(4) {
            0 => loop {
                let d = f64::from_bits(self.next());
                if d.is_finite() {
                    break d;
                }
            },
            1 => (self.next() as i64 >> self.below(64)) as f64,
            2 => (self.below(2_000_000) as f64 - 1_000_000.0) / 1000.0,
            _ => [0.0, -0.0, 5e-324, f64::MAX, f64::MIN_POSITIVE, 1e21, 1e-7, 0.1][self.below(8) as usize],
        }
    }

    fn int(&mut self) -> i64 {
        match self.below(3) {
            0 => self.next() as i64,
            1 => self.below(1000) as i64 - 500,
            _ => [0, i64::MIN, i64::MAX, -1][self.below(4) as usize],
        }
    }

    fn value(&mut self) -> Value {
        let n = self.below(5) as usize;
        match self.below(8) {
            0 => Value::String(self.string().into()),
            1 => Value::Bool(self.chance(50)),
            2 => Value::I64(self.int()),
            3 => Value::F64(self.double()),
            4 => Value::StringArray((0..n).map(|_| self.string().into()).collect()),
            5 => Value::BoolArray((0..n).map(|_| self.chance(50)).collect()),
            6 => Value::I64Array((0..n).map(|_| self.int()).collect()),
            _ => Value::F64Array((0..n).map(|_| self.double()).collect()),
        }
    }

    fn attributes(&mut self) -> Vec<KeyValue> {
        let n = if self.chance(30) { 0 } else { self.below(8) };
        (0..n).map(|_| KeyValue { key: self.string().into(), value: self.value() }).collect()
    }

    fn count(&mut self) -> u32 {
        if self.chance(70) { 0 } else { self.next() as u32 }
    }

    fn context(&mut self) -> SpanContext {
        let mut t = [0u8; 16];
        t[..8].copy_from_slice(&self.next().to_le_bytes());
        t[8..].copy_from_slice(&self.next().to_le_bytes());
        let mut cx = SpanContext::new(TraceId(t), SpanId(self.next().to_le_bytes()), TraceFlags(self.next() as u8));
        cx.is_remote = self.chance(30);
        const STATES: &[&str] = &["", "a=1", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", "t@vendor=x y z,b=\"q\""];
        let state = STATES[self.below(STATES.len() as u64) as usize];
        cx.trace_state = TraceState::parse(state).unwrap_or_else(|e| panic!("{state}: {e:?}"));
        cx
    }

    fn span(&mut self) -> SpanData {
        const KINDS: [SpanKind; 5] =
            [SpanKind::Internal, SpanKind::Server, SpanKind::Client, SpanKind::Producer, SpanKind::Consumer];
        SpanData {
            span_context: self.context(),
            parent_span_id: if self.chance(50) { SpanId::INVALID } else { SpanId(self.next().to_le_bytes()) },
            parent_is_remote: self.chance(20),
            name: self.string().into(),
            kind: KINDS[self.below(5) as usize],
            start_time: self.next(),
            end_time: self.next(),
            attributes: self.attributes(),
            dropped_attributes_count: self.count(),
            events: (0..self.below(4))
                .map(|_| Event {
                    name: self.string().into(),
                    time: self.next(),
                    attributes: self.attributes(),
                    dropped_attributes_count: self.count(),
                })
                .collect(),
            dropped_events_count: self.count(),
            links: (0..self.below(3))
                .map(|_| Link {
                    span_context: self.context(),
                    attributes: self.attributes(),
                    dropped_attributes_count: self.count(),
                })
                .collect(),
            dropped_links_count: self.count(),
            status: match self.below(3) {
                0 => Status::Unset,
                1 => Status::Ok,
                _ => Status::Error(self.string().into()),
            },
        }
    }
}

#[test]
fn random_spans_round_trip() {
    let mut rng = Rng(0x5EED_CA40_0B57_0001);
    let mut total = 0;
    let mut out = String::new();
    for _ in 0..400 {
        let resource = Resource { attributes: rng.attributes() };
        let (scope_name, scope_version) = (rng.string(), rng.string());
        let enc = Encoder::new(&resource, &scope_name, &scope_version);
        let spans: Vec<SpanData> = (0..1 + rng.below(15)).map(|_| rng.span()).collect();
        total += spans.len();
        out.clear();
        enc.encode(&spans, &mut out);

        let doc: Json = serde_json::from_str(&out).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{out}"));
        for (j, s) in json_spans(&doc).iter().zip(&spans) {
            assert_eq!(j["name"], *s.name, "name via serde_json::Value");
            for (ja, a) in j["attributes"].as_array().map_or(&[][..], Vec::as_slice).iter().zip(&s.attributes) {
                assert_eq!(ja["key"], *a.key);
                if let Value::String(v) = &a.value {
                    assert_eq!(ja["value"]["stringValue"], **v);
                }
            }
        }
        assert_request(&decode(&out), &resource, &scope_name, &scope_version, &spans);
    }
    assert!(total > 2_500, "{total} spans");
}

/// Logs documents decode as `ExportLogsServiceRequest` with the record's time, severity, body,
/// attributes and the ids of the span that was current.
#[test]
fn logs_round_trip_through_opentelemetry_proto() {
    use canopy_web::export::InMemoryProcessor;
    use canopy_web::export::otlp_json::is_logs;
    use canopy_web::{Config, Severity, Tracer};
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use std::rc::Rc;

    let mem = Rc::new(InMemoryProcessor::default());
    let tracer = Tracer::new(&Config::new("frontend"), [9; 32], mem.clone());
    let mut ids = None;
    tracer.in_span("loadData", |load| {
        ids = Some(load.span_context().clone());
        tracer.log(Severity::Warn, "slow \"feed\"", vec![KeyValue::new("items", 3)]);
    });
    tracer.log(Severity::Debug, "no span", Vec::new());
    let logs = mem.take_logs();
    let enc = Encoder::new(&golden_resource(), "canopy-web", "0.1.0");
    let docs = enc.encode_logs_split(&logs, usize::MAX);
    assert_eq!(docs.len(), 1);
    assert!(is_logs(&docs[0].0));
    let req: ExportLogsServiceRequest = serde_json::from_str(&docs[0].0).expect("decodes as OTLP logs");
    let scope = &req.resource_logs[0].scope_logs[0];
    assert_eq!(scope.scope.as_ref().unwrap().name, "canopy-web");
    let r = &scope.log_records;
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].severity_number, 13);
    assert_eq!(r[0].severity_text, "WARN");
    assert_eq!(any(&r[0].body), &PValue::StringValue("slow \"feed\"".into()));
    assert_eq!(r[0].time_unix_nano, logs[0].time);
    assert_eq!(r[0].observed_time_unix_nano, logs[0].time);
    let cx = ids.unwrap();
    assert_eq!(r[0].trace_id, cx.trace_id.0.to_vec());
    assert_eq!(r[0].span_id, cx.span_id.0.to_vec());
    assert_eq!(r[0].flags, 1);
    assert_attrs(&r[0].attributes, &[KeyValue::new("items", 3)], "log attributes");
    assert!(r[1].trace_id.is_empty() && r[1].span_id.is_empty(), "outside a span: no ids");
    assert_eq!(r[1].severity_number, 5);
    assert!(enc.encode_logs_split(&[], 100).is_empty(), "no records, no document");
    let split = enc.encode_logs_split(&logs, 10);
    assert_eq!(split.len(), 2, "one record per document when each is over the limit");
    assert!(split.iter().all(|(d, n)| *n == 1 && is_logs(d)));
}
