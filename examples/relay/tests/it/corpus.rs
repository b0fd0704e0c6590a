//! A corpus of bad requests: each gets the expected 4xx with a message that says what is
//! wrong, nothing reaches the upstream, and the relay keeps serving.

use crate::forward::backend_request;
use crate::support::*;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use prost::Message;
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    /// A piece of the message the client must get.
    says: &'static str,
}

const JSON: &str = "application/json";
const PROTO: &str = "application/x-protobuf";
const BEACON: &str = "text/plain;charset=UTF-8";

fn valid_span() -> Value {
    json!({
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7", "name": "s", "kind": 1,
        "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000100000000",
        "attributes": [{"key": "k", "value": {"stringValue": "v"}}]
    })
}

fn request(spans: Vec<Value>) -> Value {
    json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]})
}

/// A request whose one span has `field` set to `value` (`Value::Null` removes it).
fn span_with(field: &str, value: Value) -> Vec<u8> {
    let mut s = valid_span();
    if value.is_null() {
        s.as_object_mut().unwrap().remove(field);
    } else {
        s[field] = value;
    }
    request(vec![s]).to_string().into_bytes()
}

fn attr_value(value: Value) -> Vec<u8> {
    span_with("attributes", json!([{"key": "k", "value": value}]))
}

fn case(
    name: &'static str,
    content_type: &'static str,
    body: impl Into<Vec<u8>>,
    status: u16,
    says: &'static str,
) -> Case {
    Case { name, content_type, headers: vec![], body: body.into(), status, says }
}

fn with_header(mut c: Case, k: &'static str, v: &str) -> Case {
    c.headers.push((k, v.to_owned()));
    c
}

fn nested_array_value(depth: usize) -> Value {
    let mut v = json!({"stringValue": "x"});
    for _ in 0..depth {
        v = json!({"arrayValue": {"values": [v]}});
    }
    v
}

fn proto_with_value(value: any_value::Value) -> Vec<u8> {
    let mut r = backend_request();
    r.resource_spans[0].scope_spans[0].spans[0].attributes =
        vec![KeyValue { key: "k".into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }];
    r.encode_to_vec()
}

fn cases() -> Vec<Case> {
    let golden = GOLDEN.as_bytes();
    let proto = backend_request().encode_to_vec();
    let ok_json = request(vec![valid_span()]).to_string();
    let many_spans: Vec<Value> = (0..10_001u32)
        .map(|i| {
            let mut s = valid_span();
            s["spanId"] = json!(format!("{:016x}", u64::from(i) + 1));
            s.as_object_mut().unwrap().remove("attributes");
            s
        })
        .collect();
    let many_attrs: Vec<Value> =
        (0..257).map(|i| json!({"key": format!("k{i}"), "value": {"boolValue": true}})).collect();
    let many_events: Vec<Value> = (0..257).map(|_| json!({"name": "e", "timeUnixNano": "1"})).collect();
    let long_array: Vec<Value> = (0..1025).map(|i| json!({"intValue": i.to_string()})).collect();
    let empty_objects = format!("{{\"resourceSpans\":[{}]}}", vec!["{}"; 260_000].join(","));
    let deep_json = format!("{}{}", "[".repeat(200), "]".repeat(200));
    // 17 gzip members of 1 MiB each: 17 MiB once decompressed, about 17 KB on the wire.
    let mib = gzip(&vec![b' '; 1 << 20]);
    let bomb = mib.repeat(17);
    let proto_bomb = [gzip(&proto), mib.repeat(17)].concat();
    let mut gz_corrupt = gzip(golden);
    let mid = gz_corrupt.len() / 2;
    gz_corrupt[mid..mid + 8].copy_from_slice(b"garbage!");
    let mut bad_utf8 = ok_json.clone().into_bytes();
    let at = bad_utf8.windows(3).position(|w| w == b"\"s\"").unwrap() + 1;
    bad_utf8[at] = 0xff;
    let mut proto_short_id = backend_request();
    proto_short_id.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![1; 15];
    let mut proto_dup = backend_request();
    let first = proto_dup.resource_spans[0].scope_spans[0].spans[0].clone();
    proto_dup.resource_spans[0].scope_spans[0].spans[1] = first;
    let mut proto_zero_span = backend_request();
    proto_zero_span.resource_spans[0].scope_spans[0].spans[0].span_id = vec![0; 8];
    let mut proto_bad_utf8 = backend_request();
    proto_bad_utf8.resource_spans[0].scope_spans[0].spans[0].name = "NAME".into();
    let mut proto_bad_utf8 = proto_bad_utf8.encode_to_vec();
    let p = proto_bad_utf8.windows(4).position(|w| w == b"NAME").unwrap();
    proto_bad_utf8[p] = 0xc3;
    let mut deep_value = any_value::Value::StringValue("x".into());
    for _ in 0..40 {
        deep_value = any_value::Value::ArrayValue(ArrayValue { values: vec![AnyValue { value: Some(deep_value) }] });
    }
    let mut proto_kind = backend_request();
    proto_kind.resource_spans[0].scope_spans[0].spans[0].kind = 42;
    let two_resources = json!({"resourceSpans": [
        {"scopeSpans": [{"spans": [valid_span()]}]},
        {"scopeSpans": [{"spans": [valid_span()]}]}
    ]})
    .to_string();

    vec![
        // Content type and encoding: 415.
        case("no content type", "", golden, 415, "missing Content-Type"),
        case("form", "application/x-www-form-urlencoded", golden, 415, "unsupported Content-Type"),
        case("multipart", "multipart/form-data; boundary=x", golden, 415, "unsupported Content-Type"),
        case("html", "text/html", golden, 415, "unsupported Content-Type"),
        case("grpc", "application/grpc", proto.clone(), 415, "unsupported Content-Type"),
        case("protobuf, not the OTLP name", "application/protobuf", proto.clone(), 415, "unsupported Content-Type"),
        case("json latin-1", "application/json; charset=latin1", golden, 415, "parameters"),
        case("beacon utf-16", "text/plain; charset=utf-16", golden, 415, "parameters"),
        with_header(case("brotli", JSON, golden, 415, "Content-Encoding"), "content-encoding", "br"),
        with_header(case("deflate", JSON, golden, 415, "Content-Encoding"), "content-encoding", "deflate"),
        with_header(
            case("gzip twice", JSON, gzip(&gzip(golden)), 415, "Content-Encoding"),
            "content-encoding",
            "gzip, gzip",
        ),
        with_header(
            case("gzip beacon", BEACON, gzip(golden), 415, "must not be compressed"),
            "content-encoding",
            "gzip",
        ),
        // Empty bodies.
        case("empty json", JSON, "", 400, "empty body"),
        case("empty protobuf", PROTO, "", 400, "empty body"),
        case("empty beacon", BEACON, "", 400, "empty body"),
        with_header(case("empty gzip", JSON, gzip(b""), 400, "empty body"), "content-encoding", "gzip"),
        case("whitespace", JSON, "   \n", 400, "EOF while parsing"),
        // Malformed JSON.
        case("open brace", JSON, "{", 400, "EOF while parsing"),
        case("truncated golden", JSON, &golden[..golden.len() / 2], 400, "invalid OTLP JSON"),
        case("golden minus one byte", JSON, &golden[..golden.len() - 1], 400, "EOF while parsing"),
        case("null", JSON, "null", 400, "invalid type: null"),
        case("array", JSON, "[]", 400, "invalid type: sequence, expected an object"),
        case("string", JSON, "\"resourceSpans\"", 400, "invalid type: string"),
        case("number", JSON, "42", 400, "invalid type: integer"),
        case("trailing text", JSON, format!("{ok_json} {{}}"), 400, "trailing characters"),
        case("single quotes", JSON, "{'resourceSpans':[]}", 400, "key must be a string"),
        case("invalid utf-8", JSON, bad_utf8, 400, "invalid unicode"),
        case("NaN literal", JSON, r#"{"resourceSpans":[NaN]}"#, 400, "invalid OTLP JSON"),
        case("comment", JSON, r#"{/* x */"resourceSpans":[]}"#, 400, "key must be a string"),
        case("duplicate key", JSON, r#"{"resourceSpans":[],"resourceSpans":[]}"#, 400, "duplicate field"),
        case("beacon, not JSON", BEACON, "hello", 400, "invalid OTLP JSON"),
        case("protobuf sent as JSON", JSON, proto.clone(), 400, "invalid OTLP JSON"),
        // Wrong types.
        case("resourceSpans a string", JSON, r#"{"resourceSpans":"x"}"#, 400, "invalid type: string"),
        case("resourceSpans an object", JSON, r#"{"resourceSpans":{}}"#, 400, "invalid type: map"),
        case(
            "scopeSpans of numbers",
            JSON,
            r#"{"resourceSpans":[{"scopeSpans":[1]}]}"#,
            400,
            "resourceSpans[0].scopeSpans[0]",
        ),
        case(
            "a span as an array",
            JSON,
            request(vec![json!(["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"])]).to_string(),
            400,
            "spans[0]: invalid type: sequence, expected an object",
        ),
        case(
            "resource as an array",
            JSON,
            r#"{"resourceSpans":[{"resource":[]}]}"#,
            400,
            "resource: invalid type: sequence",
        ),
        case("status as an array", JSON, span_with("status", json!([2, "x"])), 400, "status: invalid type: sequence"),
        case("a null span", JSON, request(vec![Value::Null]).to_string(), 400, "spans[0]: invalid type: null"),
        case("name a number", JSON, span_with("name", json!(5)), 400, "spans[0].name: invalid type: integer"),
        case(
            "kind by name",
            JSON,
            span_with("kind", json!("SPAN_KIND_CLIENT")),
            400,
            "spans[0].kind: invalid type: string",
        ),
        case("kind out of range", JSON, span_with("kind", json!(9)), 400, "kind: 9 is not a SpanKind"),
        case("negative time", JSON, span_with("startTimeUnixNano", json!("-1")), 400, "unsigned 64-bit"),
        case("time not a number", JSON, span_with("startTimeUnixNano", json!("soon")), 400, "unsigned 64-bit"),
        case("fractional time", JSON, span_with("startTimeUnixNano", json!(1.5)), 400, "invalid type: floating point"),
        case(
            "time over 64 bits",
            JSON,
            span_with("startTimeUnixNano", json!("18446744073709551616")),
            400,
            "does not fit",
        ),
        case("end before start", JSON, span_with("endTimeUnixNano", json!("1")), 400, "is before startTimeUnixNano"),
        case(
            "attributes an object",
            JSON,
            span_with("attributes", json!({"a": "b"})),
            400,
            "attributes: invalid type: map",
        ),
        case("bare attribute value", JSON, attr_value(json!("v")), 400, "value: invalid type: string"),
        case("int with letters", JSON, attr_value(json!({"intValue": "12abc"})), 400, "signed 64-bit"),
        case("int over 64 bits", JSON, attr_value(json!({"intValue": "9223372036854775808"})), 400, "does not fit"),
        case("double as text", JSON, attr_value(json!({"doubleValue": "1.5"})), 400, "invalid value"),
        case("bool as text", JSON, attr_value(json!({"boolValue": "true"})), 400, "invalid type: string"),
        case("two values", JSON, attr_value(json!({"stringValue": "a", "boolValue": true})), 400, "more than one"),
        case("bytes not base64", JSON, attr_value(json!({"bytesValue": "%%%"})), 400, "base64"),
        case("status code 7", JSON, span_with("status", json!({"code": 7})), 400, "status.code: 7 is not a StatusCode"),
        case("status by name", JSON, span_with("status", json!({"code": "STATUS_CODE_ERROR"})), 400, "status.code"),
        case("negative count", JSON, span_with("droppedAttributesCount", json!(-1)), 400, "droppedAttributesCount"),
        case("flags as text", JSON, span_with("flags", json!("257")), 400, "flags: invalid type: string"),
        // Ids.
        case(
            "uppercase trace id",
            JSON,
            span_with("traceId", json!("4BF92F3577B34DA6A3CE929D0E0E4736")),
            400,
            "traceId: must be lowercase hex",
        ),
        case(
            "short trace id",
            JSON,
            span_with("traceId", json!("4bf92f3577b34da6a3ce929d0e0e47")),
            400,
            "traceId: must be 32 lowercase hex",
        ),
        case(
            "long trace id",
            JSON,
            span_with("traceId", json!("4bf92f3577b34da6a3ce929d0e0e473600")),
            400,
            "must be 32 lowercase hex",
        ),
        case(
            "non-hex trace id",
            JSON,
            span_with("traceId", json!("zzf92f3577b34da6a3ce929d0e0e4736")),
            400,
            "must be 32 lowercase hex",
        ),
        case(
            "base64 trace id",
            JSON,
            span_with("traceId", json!("S/kvNXezTaajzpKdDg5HNg==")),
            400,
            "must be 32 lowercase hex",
        ),
        case("numeric trace id", JSON, span_with("traceId", json!(12)), 400, "traceId: invalid type: integer"),
        case("missing span id", JSON, span_with("spanId", Value::Null), 400, "spanId: is missing"),
        case(
            "zero trace id",
            JSON,
            span_with("traceId", json!("00000000000000000000000000000000")),
            400,
            "is all zeros",
        ),
        case("zero span id", JSON, span_with("spanId", json!("0000000000000000")), 400, "spanId: is all zeros"),
        case(
            "uppercase parent",
            JSON,
            span_with("parentSpanId", json!("00F067AA0BA902B7")),
            400,
            "parentSpanId: must be lowercase",
        ),
        case("own parent", JSON, span_with("parentSpanId", json!("00f067aa0ba902b7")), 400, "its own parent"),
        case(
            "bad link id",
            JSON,
            span_with("links", json!([{"traceId": "abc", "spanId": "00f067aa0ba902b7"}])),
            400,
            "links[0].traceId",
        ),
        case(
            "duplicate span ids",
            JSON,
            request(vec![valid_span(), valid_span()]).to_string(),
            400,
            "spans[1].spanId: duplicate span",
        ),
        case(
            "duplicate across resources",
            JSON,
            two_resources,
            400,
            "resourceSpans[1].scopeSpans[0].spans[0].spanId: duplicate",
        ),
        // Sizes.
        case(
            "40 KB name",
            JSON,
            span_with("name", json!("n".repeat(40_000))),
            400,
            "name: 40000 bytes, over the limit of 32768",
        ),
        case(
            "1 MB value",
            JSON,
            attr_value(json!({"stringValue": "v".repeat(1 << 20)})),
            400,
            "over the limit of 32768",
        ),
        case("257 attributes", JSON, span_with("attributes", json!(many_attrs)), 400, "attributes: 257 entries"),
        case("257 events", JSON, span_with("events", json!(many_events)), 400, "events: 257 entries"),
        case(
            "1025-element array",
            JSON,
            attr_value(json!({"arrayValue": {"values": long_array}})),
            400,
            "1025 entries",
        ),
        case("10001 spans", JSON, request(many_spans).to_string(), 413, "10001 spans in one request"),
        case("260000 empty objects", JSON, empty_objects, 413, "objects and arrays"),
        case("deep JSON", JSON, deep_json, 400, "nested deeper than 64"),
        case("deep attribute value", JSON, attr_value(nested_array_value(12)), 400, "values nested deeper than 8"),
        case("over 4 MiB", JSON, format!("{{\"x\":\"{}\"}}", "a".repeat(5 << 20)), 413, "over the limit of 4194304"),
        with_header(case("gzip bomb", JSON, bomb.clone(), 413, "after gzip decompression"), "content-encoding", "gzip"),
        with_header(
            case("protobuf gzip bomb", PROTO, proto_bomb, 413, "after gzip decompression"),
            "content-encoding",
            "gzip",
        ),
        with_header(
            case("gzip inside gzip", JSON, gzip(&gzip(golden)), 400, "invalid OTLP JSON"),
            "content-encoding",
            "gzip",
        ),
        with_header(case("corrupt gzip", JSON, gz_corrupt, 400, "not valid gzip"), "content-encoding", "gzip"),
        with_header(case("gzip header, plain body", JSON, golden, 400, "not valid gzip"), "content-encoding", "gzip"),
        // Protobuf.
        case(
            "random bytes",
            PROTO,
            (0..=255u8).rev().cycle().take(300).collect::<Vec<_>>(),
            400,
            "invalid OTLP protobuf",
        ),
        case("truncated protobuf", PROTO, &proto[..proto.len() - 5], 400, "runs past the end"),
        case("group wire type", PROTO, vec![0x0b, 0x0c], 400, "wire type"),
        case("JSON sent as protobuf", PROTO, golden, 400, "invalid OTLP protobuf"),
        case("15-byte trace id", PROTO, proto_short_id.encode_to_vec(), 400, "traceId: must be 16 bytes, got 15"),
        case("protobuf duplicate ids", PROTO, proto_dup.encode_to_vec(), 400, "duplicate span"),
        case("protobuf zero span id", PROTO, proto_zero_span.encode_to_vec(), 400, "is all zeros"),
        case("protobuf invalid utf-8", PROTO, proto_bad_utf8, 400, "invalid OTLP protobuf"),
        case("protobuf deep value", PROTO, proto_with_value(deep_value), 400, "nested deeper than 64"),
        case("protobuf kind 42", PROTO, proto_kind.encode_to_vec(), 400, "kind: 42 is not a SpanKind"),
        case(
            "protobuf 40 KB bytes value",
            PROTO,
            proto_with_value(any_value::Value::BytesValue(vec![7; 40_000])),
            400,
            "over the limit",
        ),
        // Query and header.
        with_header(case("bad sent-at", JSON, golden, 400, "x-canopy-sent-at"), "x-canopy-sent-at", "12:00"),
        with_header(case("negative sent-at", JSON, golden, 400, "x-canopy-sent-at"), "x-canopy-sent-at", "-5"),
    ]
}

/// Drives the router without a socket (`app().oneshot`): nothing here needs one.
#[tokio::test]
async fn every_bad_request_gets_a_4xx_with_a_message_and_nothing_is_forwarded() {
    let up = Upstream::start().await;
    let app = App::new(forwarding(&up, Some(KEY)));
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let mut req = axum::http::Request::post("/v1/traces").header("host", "localhost");
        if !c.content_type.is_empty() {
            req = req.header("content-type", c.content_type);
        }
        for (k, v) in &c.headers {
            req = req.header(*k, v);
        }
        let res = app.send(req.body(axum::body::Body::from(c.body.clone())).unwrap()).await;
        let msg = res.message();
        if res.status != c.status || !msg.contains(c.says) || !(400..500).contains(&res.status) {
            failures.push(format!("{}: got {} {msg:?}, want {} containing {:?}", c.name, res.status, c.status, c.says));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert!(up.received().is_empty(), "nothing reached the upstream");
    let ok = axum::http::Request::post("/v1/traces").header("content-type", "application/json");
    let res = app.send(ok.body(axum::body::Body::from(GOLDEN)).unwrap()).await;
    assert_eq!(res.status, 200, "still forwarding: {}", res.message());
    assert_eq!(up.received().len(), 1);
}
