//! A property test of the decoders, bounded in time: generated valid requests decode to exactly
//! what was generated (JSON and protobuf); mutated bodies never panic, and whatever is accepted
//! survives a protobuf round trip unchanged.

use canopy_relay::decode::Format;
use canopy_relay::model::*;
use canopy_relay::validate::{Limits, validate};
use prost::Message;
use serde_json::{Value as J, json};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The traces decoder (the relay's decoder is generic over the signal).
fn decode(format: Format, body: &[u8], limits: &Limits) -> Result<ExportTraceServiceRequest, canopy_relay::Reject> {
    canopy_relay::decode::decode(format, body, limits)
}

/// Each phase runs this long.
const PHASE: Duration = Duration::from_millis(1200);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn id(&mut self, n: usize) -> Vec<u8> {
        let mut v = self.bytes(n);
        v[0] |= 1; // never all zeros
        v
    }

    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a", "Z", "0", " ", "\"", "\\", "\n", "\t", "\u{0}", "\u{1f}", "é", "日本", "🌲", "\u{2028}", "/", "{", "]",
        ];
        (0..self.below(12)).map(|_| PIECES[self.below(PIECES.len())]).collect()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A random valid value and its OTLP JSON.
fn value(r: &mut Rng, depth: usize) -> (AnyValue, J) {
    let (v, j) = match r.below(if depth < 3 { 8 } else { 6 }) {
        0 => {
            let s = r.text();
            (Value::StringValue(s.clone()), json!({ "stringValue": s }))
        }
        1 => {
            let b = r.chance(2);
            (Value::BoolValue(b), json!({ "boolValue": b }))
        }
        2 => {
            let n = r.next() as i64 >> r.below(64);
            let j = if r.chance(2) { json!({ "intValue": n.to_string() }) } else { json!({ "intValue": n }) };
            (Value::IntValue(n), j)
        }
        3 => {
            let d = (r.next() as i32 as f64) / 8.0; // exact in binary and in JSON
            (Value::DoubleValue(d), json!({ "doubleValue": d }))
        }
        4 => (Value::DoubleValue(f64::INFINITY), json!({ "doubleValue": "Infinity" })),
        5 => {
            let n = r.below(9);
            let b = r.bytes(n);
            use base64::Engine;
            (Value::BytesValue(b.clone()), json!({ "bytesValue": base64::engine::general_purpose::STANDARD.encode(b) }))
        }
        6 => {
            let (vals, js): (Vec<AnyValue>, Vec<J>) = (0..r.below(4)).map(|_| value(r, depth + 1)).unzip();
            (Value::ArrayValue(ArrayValue { values: vals }), json!({ "arrayValue": { "values": js } }))
        }
        _ => {
            let (kvs, js) = attrs(r, depth + 1);
            (Value::KvlistValue(KeyValueList { values: kvs }), json!({ "kvlistValue": { "values": js } }))
        }
    };
    (AnyValue { value: Some(v) }, j)
}

fn attrs(r: &mut Rng, depth: usize) -> (Vec<KeyValue>, Vec<J>) {
    (0..r.below(5))
        .map(|_| {
            let key = r.text();
            let (v, j) = value(r, depth);
            (KeyValue { key: key.clone(), value: Some(v) }, json!({ "key": key, "value": j }))
        })
        .unzip()
}

/// A random valid request and its OTLP JSON (with an unknown field, which must be ignored).
fn request(r: &mut Rng) -> (ExportTraceServiceRequest, String) {
    let (mut rss, mut rjs) = (Vec::new(), Vec::new());
    for _ in 0..1 + r.below(2) {
        let (rattrs, rj) = attrs(r, 0);
        let (mut scope_spans, mut sjs) = (Vec::new(), Vec::new());
        for _ in 0..1 + r.below(2) {
            let (mut spans, mut spj) = (Vec::new(), Vec::new());
            for _ in 0..r.below(4) {
                let (attributes, aj) = attrs(r, 0);
                let start = r.next() >> 2;
                let span = Span {
                    trace_id: r.id(16),
                    span_id: r.id(8),
                    parent_span_id: if r.chance(2) { Vec::new() } else { r.id(8) },
                    name: r.text(),
                    kind: r.below(6) as i32,
                    flags: r.next() as u32,
                    start_time_unix_nano: start,
                    end_time_unix_nano: start + (r.next() >> 40),
                    attributes,
                    events: vec![Event { time_unix_nano: start, name: r.text(), ..Default::default() }],
                    status: Some(Status { code: r.below(3) as i32, message: r.text() }),
                    ..Default::default()
                };
                let status = span.status.as_ref().unwrap();
                let mut j = json!({
                    "traceId": hex(&span.trace_id), "spanId": hex(&span.span_id), "name": span.name, "kind": span.kind,
                    "flags": span.flags, "startTimeUnixNano": start.to_string(),
                    "endTimeUnixNano": span.end_time_unix_nano.to_string(), "attributes": aj,
                    "events": [{ "timeUnixNano": start.to_string(), "name": span.events[0].name }],
                    "status": { "code": status.code, "message": status.message },
                    "someFutureField": { "ignored": [1, 2] }
                });
                if !span.parent_span_id.is_empty() {
                    j["parentSpanId"] = json!(hex(&span.parent_span_id));
                }
                spans.push(span);
                spj.push(j);
            }
            let name = r.text();
            let scope = Some(InstrumentationScope { name: name.clone(), ..Default::default() });
            scope_spans.push(ScopeSpans { scope, spans, ..Default::default() });
            sjs.push(json!({ "scope": { "name": name }, "spans": spj }));
        }
        let resource = Some(Resource { attributes: rattrs, ..Default::default() });
        rss.push(ResourceSpans { resource, scope_spans, ..Default::default() });
        rjs.push(json!({ "resource": { "attributes": rj }, "scopeSpans": sjs }));
    }
    (ExportTraceServiceRequest { resource_spans: rss }, json!({ "resourceSpans": rjs }).to_string())
}

fn mutate(r: &mut Rng, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    for _ in 0..1 + r.below(3) {
        if b.is_empty() {
            b.push(r.next() as u8);
            continue;
        }
        let i = r.below(b.len());
        match r.below(7) {
            0 => b[i] = r.next() as u8,
            1 => b[i] ^= 1 << r.below(8),
            2 => b.truncate(i),
            3 => {
                let end = (i + 1 + r.below(16)).min(b.len());
                b.drain(i..end);
            }
            4 => {
                let end = (i + 1 + r.below(32)).min(b.len());
                let piece = b[i..end].to_vec();
                let at = r.below(b.len());
                b.splice(at..at, piece);
            }
            5 => {
                const TOKENS: &[&[u8]] =
                    &[b"\"", b"{", b"}", b"[", b"]", b",", b":", b"null", b"-", b"1e999", b"\\u0000", b"\"AB\""];
                let t = TOKENS[r.below(TOKENS.len())];
                b.splice(i..i, t.iter().copied());
            }
            _ => {
                if b[i].is_ascii_digit() {
                    b[i] = b'0' + r.below(10) as u8;
                } else if b[i].is_ascii_lowercase() {
                    b[i] = b[i].to_ascii_uppercase();
                }
            }
        }
    }
    b
}

/// Decodes and validates `body`, reporting the input if anything panics; when accepted, the
/// protobuf re-encoding decodes back to the same bytes.
fn check(format: Format, body: &[u8], limits: &Limits, seed: u64) -> bool {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let req = decode(format, body, limits).ok()?;
        validate(&req, limits).ok()?;
        let bytes = req.encode_to_vec();
        if !bytes.is_empty() {
            let back = decode(Format::Protobuf, &bytes, limits).expect("our own encoding decodes");
            assert_eq!(back.encode_to_vec(), bytes, "protobuf round trip");
        }
        Some(())
    }));
    match outcome {
        Ok(accepted) => accepted.is_some(),
        Err(_) => panic!(
            "seed {seed:#x}: panicked on {format:?} input {:?}",
            String::from_utf8_lossy(&body[..body.len().min(2000)])
        ),
    }
}

#[test]
fn decoders_hold_their_properties() {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut r = Rng(seed);
    let limits = Limits::default();
    let golden = include_str!("../../../../tests/fixtures/otlp_golden.json").as_bytes().to_vec();

    // Valid requests decode to exactly what was generated, from JSON and from protobuf.
    let (mut valid, t) = (0, Instant::now());
    let mut corpus = vec![golden.clone()];
    while t.elapsed() < PHASE {
        let at = r.0;
        let (want, json) = request(&mut r);
        let got =
            decode(Format::Json, json.as_bytes(), &limits).unwrap_or_else(|e| panic!("seed {at:#x}: {e:?}\n{json}"));
        assert!(got == want, "seed {at:#x}: JSON decoded differently\n{json}");
        assert_eq!(validate(&got, &limits).map_err(|e| e.to_string()), Ok(want.span_count()), "seed {at:#x}");
        let proto = decode(Format::Protobuf, &want.encode_to_vec(), &limits).unwrap();
        assert!(proto == want, "seed {at:#x}: protobuf decoded differently");
        if corpus.len() < 64 {
            corpus.push(json.into_bytes());
        }
        valid += 1;
    }

    // Mutated JSON and protobuf: no panics; what is accepted round-trips.
    let (mut accepted, mut refused, t) = (0, 0, Instant::now());
    let protos: Vec<Vec<u8>> =
        corpus.iter().filter_map(|b| decode(Format::Json, b, &limits).ok()).map(|q| q.encode_to_vec()).collect();
    while t.elapsed() < PHASE {
        let at = r.0;
        let (format, base) = if r.chance(2) {
            (Format::Json, &corpus[r.below(corpus.len())])
        } else {
            (Format::Protobuf, &protos[r.below(protos.len())])
        };
        let body = mutate(&mut r, base);
        if check(format, &body, &limits, at) {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    println!("fuzz seed {seed:#x}: {valid} generated requests, {accepted} mutants accepted, {refused} refused");
    // Typically 150 / 150 / 900 in a debug build; less when other tests share the cores.
    assert!(valid >= 20 && accepted >= 10 && refused >= 100, "too few cases: {valid} / {accepted} / {refused}");
}

/// A random valid logs request and its OTLP JSON.
fn logs_request(r: &mut Rng) -> (ExportLogsServiceRequest, String) {
    let (mut rls, mut rjs) = (Vec::new(), Vec::new());
    for _ in 0..1 + r.below(2) {
        let (rattrs, rj) = attrs(r, 0);
        let (mut records, mut lj) = (Vec::new(), Vec::new());
        for _ in 0..r.below(5) {
            let (attributes, aj) = attrs(r, 0);
            let (body, bj) = value(r, 0);
            let traced = r.chance(3);
            let record = LogRecord {
                time_unix_nano: r.next() >> 2,
                observed_time_unix_nano: r.next() >> 2,
                severity_number: r.below(25) as i32,
                severity_text: r.text(),
                body: Some(body),
                attributes,
                flags: r.next() as u32,
                trace_id: if traced { r.id(16) } else { Vec::new() },
                span_id: if traced && r.chance(2) { r.id(8) } else { Vec::new() },
                event_name: r.text(),
                ..Default::default()
            };
            let mut j = json!({
                "timeUnixNano": record.time_unix_nano.to_string(),
                "observedTimeUnixNano": record.observed_time_unix_nano.to_string(),
                "severityNumber": record.severity_number, "severityText": record.severity_text, "body": bj,
                "attributes": aj, "flags": record.flags, "eventName": record.event_name, "aFutureField": [true],
            });
            if traced {
                j["traceId"] = json!(hex(&record.trace_id));
                j["spanId"] = json!(hex(&record.span_id));
            }
            records.push(record);
            lj.push(j);
        }
        let resource = Some(Resource { attributes: rattrs, ..Default::default() });
        let scope_logs = vec![ScopeLogs { log_records: records, ..Default::default() }];
        rls.push(ResourceLogs { resource, scope_logs, ..Default::default() });
        rjs.push(json!({ "resource": { "attributes": rj }, "scopeLogs": [{ "logRecords": lj }] }));
    }
    (ExportLogsServiceRequest { resource_logs: rls }, json!({ "resourceLogs": rjs }).to_string())
}

/// The same properties for `/v1/logs`, and every accepted record becomes a CloudWatch event
/// within its size.
#[test]
fn log_decoders_hold_their_properties() {
    use canopy_relay::cloudwatch::batch::{MAX_MESSAGE_BYTES, event};
    use canopy_relay::validate::validate_logs;
    let decode_logs = |format, body: &[u8], limits: &Limits| -> Result<ExportLogsServiceRequest, _> {
        canopy_relay::decode::decode(format, body, limits)
    };
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut r = Rng(seed);
    let limits = Limits::default();
    let (mut corpus, t) = (Vec::new(), Instant::now());
    while t.elapsed() < PHASE / 2 {
        let at = r.0;
        let (want, json) = logs_request(&mut r);
        let got = decode_logs(Format::Json, json.as_bytes(), &limits)
            .unwrap_or_else(|e| panic!("seed {at:#x}: {e:?}\n{json}"));
        assert!(got == want, "seed {at:#x}: JSON decoded differently\n{json}");
        assert!(validate_logs(&got, &limits).is_ok(), "seed {at:#x}: {json}");
        let proto = decode_logs(Format::Protobuf, &want.encode_to_vec(), &limits).unwrap();
        assert!(proto == want, "seed {at:#x}: protobuf decoded differently");
        corpus.push((Format::Json, json.into_bytes()));
        corpus.push((Format::Protobuf, want.encode_to_vec()));
        corpus.truncate(128);
    }
    let (mut accepted, t) = (0, Instant::now());
    while t.elapsed() < PHASE / 2 {
        let at = r.0;
        let (format, base) = &corpus[r.below(corpus.len())];
        let body = mutate(&mut r, base);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let req = decode_logs(*format, &body, &limits).ok()?;
            validate_logs(&req, &limits).ok()?;
            for (resource, record) in req.records() {
                assert!(event(resource, record, 0).0.message.len() <= MAX_MESSAGE_BYTES);
            }
            Some(())
        }));
        match outcome {
            Ok(ok) => accepted += usize::from(ok.is_some()),
            Err(_) => panic!("seed {at:#x}: panicked on {format:?} logs input {:?}", String::from_utf8_lossy(&body)),
        }
    }
    assert!(accepted > 0, "seed {seed:#x}: some mutations are still valid");
}
