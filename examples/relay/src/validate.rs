//! The rules a decoded request must pass before it is kept or forwarded, and their limits.
//!
//! A request that breaks one is refused whole (400, or 413 for too many spans or log records)
//! with a message that names the field, e.g.
//! `resourceSpans[0].scopeSpans[0].spans[3].spanId: is all zeros`. Nothing is truncated or
//! dropped silently: the client learns what to fix. Traces and logs share the rules for
//! resources, scopes, attributes, values and ids ([`Validator`]).

use crate::error::Reject;
use crate::model::{
    AnyValue, ExportLogsServiceRequest, ExportTraceServiceRequest, InstrumentationScope, KeyValue, LogRecord, Resource,
    Span, Value,
};
use std::collections::HashSet;
use std::fmt;

/// Size limits. The defaults sit above what the SDK sends (512 spans a batch, 128 attributes a
/// span) and what backend SDKs send (512 spans a batch by default).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Request body as received (compressed or not); a larger `Content-Length` is refused unread.
    pub max_body_bytes: usize,
    /// Body after gzip decompression (a gzip bomb stops here).
    pub max_decompressed_bytes: usize,
    /// JSON objects and arrays, or protobuf sub-messages, in one request (bounds the memory
    /// decoding takes: roughly 100-250 bytes each).
    pub max_nodes: usize,
    /// Nesting depth of the JSON text or the protobuf messages.
    pub max_depth: usize,
    pub max_spans: usize,
    pub max_log_records: usize,
    /// Attributes on one span, log record, event, link, resource or scope.
    pub max_attributes: usize,
    /// Bytes in one string or bytes value, attribute key, or name.
    pub max_value_bytes: usize,
    pub max_events: usize,
    pub max_links: usize,
    /// Elements of one array or key-value-list value.
    pub max_array_values: usize,
    /// Arrays and key-value lists nested in one attribute value.
    pub max_value_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 4 << 20,
            max_decompressed_bytes: 16 << 20,
            max_nodes: 250_000,
            max_depth: 64,
            max_spans: 1024,
            max_log_records: 1024,
            max_attributes: 256,
            max_value_bytes: 32 << 10,
            max_events: 256,
            max_links: 256,
            max_array_values: 1024,
            max_value_depth: 8,
        }
    }
}

/// Checks `req` against the rules and `limits`; returns its span count.
pub fn validate(req: &ExportTraceServiceRequest, limits: &Limits) -> Result<usize, Reject> {
    let spans = req.span_count();
    if spans > limits.max_spans {
        return Err(Reject::too_large(format!(
            "{spans} spans in one request, over the limit of {}; send smaller batches",
            limits.max_spans
        )));
    }
    let v = Validator { limits };
    let mut seen = HashSet::with_capacity(spans);
    let root = Path::Root;
    for (i, rs) in req.resource_spans.iter().enumerate() {
        let p = root.index("resourceSpans", i);
        v.resource(rs.resource.as_ref(), &p)?;
        for (k, ss) in rs.scope_spans.iter().enumerate() {
            let p = p.index("scopeSpans", k);
            v.scope(ss.scope.as_ref(), &p)?;
            for (n, span) in ss.spans.iter().enumerate() {
                let p = p.index("spans", n);
                v.span(span, &p)?;
                if !seen.insert((&span.trace_id, &span.span_id)) {
                    return Err(p.field("spanId").reject(format!(
                        "duplicate span {} in trace {}",
                        hex(&span.span_id),
                        hex(&span.trace_id)
                    )));
                }
            }
        }
    }
    Ok(spans)
}

/// Checks a logs request against the rules and `limits`; returns its log record count.
pub fn validate_logs(req: &ExportLogsServiceRequest, limits: &Limits) -> Result<usize, Reject> {
    let records = crate::model::ExportRequest::item_count(req);
    if records > limits.max_log_records {
        return Err(Reject::too_large(format!(
            "{records} log records in one request, over the limit of {}; send smaller batches",
            limits.max_log_records
        )));
    }
    let v = Validator { limits };
    let root = Path::Root;
    for (i, rl) in req.resource_logs.iter().enumerate() {
        let p = root.index("resourceLogs", i);
        v.resource(rl.resource.as_ref(), &p)?;
        for (k, sl) in rl.scope_logs.iter().enumerate() {
            let p = p.index("scopeLogs", k);
            v.scope(sl.scope.as_ref(), &p)?;
            for (n, record) in sl.log_records.iter().enumerate() {
                v.log_record(record, &p.index("logRecords", n))?;
            }
        }
    }
    Ok(records)
}

struct Validator<'a> {
    limits: &'a Limits,
}

impl Validator<'_> {
    fn resource(&self, r: Option<&Resource>, p: &Path) -> Result<(), Reject> {
        match r {
            Some(r) => self.attributes(&r.attributes, &p.field("resource").field("attributes")),
            None => Ok(()),
        }
    }

    fn scope(&self, s: Option<&InstrumentationScope>, p: &Path) -> Result<(), Reject> {
        let Some(s) = s else { return Ok(()) };
        let sp = p.field("scope");
        self.text(&s.name, &sp.field("name"))?;
        self.text(&s.version, &sp.field("version"))?;
        self.attributes(&s.attributes, &sp.field("attributes"))
    }

    /// A log record's ids are optional (a record outside any trace), but when present they
    /// follow the span rules, and a span id needs its trace id.
    fn log_record(&self, r: &LogRecord, p: &Path) -> Result<(), Reject> {
        if !r.trace_id.is_empty() {
            id(&r.trace_id, 16, &p.field("traceId"))?;
        }
        if !r.span_id.is_empty() {
            if r.trace_id.is_empty() {
                return Err(p.field("spanId").reject("is set without a traceId"));
            }
            id(&r.span_id, 8, &p.field("spanId"))?;
        }
        if !(0..=24).contains(&r.severity_number) {
            return Err(p
                .field("severityNumber")
                .reject(format!("{} is not a SeverityNumber (0-24)", r.severity_number)));
        }
        self.text(&r.severity_text, &p.field("severityText"))?;
        self.text(&r.event_name, &p.field("eventName"))?;
        if let Some(body) = &r.body {
            self.value(body, &p.field("body"), 1)?;
        }
        self.attributes(&r.attributes, &p.field("attributes"))
    }

    fn span(&self, s: &Span, p: &Path) -> Result<(), Reject> {
        id(&s.trace_id, 16, &p.field("traceId"))?;
        id(&s.span_id, 8, &p.field("spanId"))?;
        if !s.parent_span_id.is_empty() {
            id(&s.parent_span_id, 8, &p.field("parentSpanId"))?;
            if s.parent_span_id == s.span_id {
                return Err(p.field("parentSpanId").reject("a span cannot be its own parent"));
            }
        }
        self.text(&s.trace_state, &p.field("traceState"))?;
        self.text(&s.name, &p.field("name"))?;
        if !(0..=5).contains(&s.kind) {
            return Err(p.field("kind").reject(format!("{} is not a SpanKind (0-5)", s.kind)));
        }
        if s.end_time_unix_nano < s.start_time_unix_nano {
            return Err(p.field("endTimeUnixNano").reject("is before startTimeUnixNano"));
        }
        self.attributes(&s.attributes, &p.field("attributes"))?;
        self.count(s.events.len(), self.limits.max_events, &p.field("events"))?;
        for (i, e) in s.events.iter().enumerate() {
            let p = p.index("events", i);
            self.text(&e.name, &p.field("name"))?;
            self.attributes(&e.attributes, &p.field("attributes"))?;
        }
        self.count(s.links.len(), self.limits.max_links, &p.field("links"))?;
        for (i, l) in s.links.iter().enumerate() {
            let p = p.index("links", i);
            id(&l.trace_id, 16, &p.field("traceId"))?;
            id(&l.span_id, 8, &p.field("spanId"))?;
            self.text(&l.trace_state, &p.field("traceState"))?;
            self.attributes(&l.attributes, &p.field("attributes"))?;
        }
        if let Some(st) = &s.status {
            if !(0..=2).contains(&st.code) {
                return Err(p.field("status").field("code").reject(format!("{} is not a StatusCode (0-2)", st.code)));
            }
            self.text(&st.message, &p.field("status").field("message"))?;
        }
        Ok(())
    }

    fn attributes(&self, attrs: &[KeyValue], p: &Path) -> Result<(), Reject> {
        self.count(attrs.len(), self.limits.max_attributes, p)?;
        for (i, kv) in attrs.iter().enumerate() {
            let p = p.at(i);
            self.text(&kv.key, &p.field("key"))?;
            if let Some(v) = &kv.value {
                self.value(v, &p.field("value"), 1)?;
            }
        }
        Ok(())
    }

    fn value(&self, v: &AnyValue, p: &Path, depth: usize) -> Result<(), Reject> {
        match &v.value {
            Some(Value::StringValue(s)) => self.text(s, p),
            Some(Value::BytesValue(b)) => self.len(b.len(), p),
            Some(Value::ArrayValue(a)) => {
                self.nested(a.values.len(), p, depth)?;
                a.values.iter().enumerate().try_for_each(|(i, x)| self.value(x, &p.at(i), depth + 1))
            }
            Some(Value::KvlistValue(l)) => {
                self.nested(l.values.len(), p, depth)?;
                for (i, kv) in l.values.iter().enumerate() {
                    self.text(&kv.key, &p.at(i).field("key"))?;
                    if let Some(x) = &kv.value {
                        self.value(x, &p.at(i).field("value"), depth + 1)?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn nested(&self, n: usize, p: &Path, depth: usize) -> Result<(), Reject> {
        if depth > self.limits.max_value_depth {
            return Err(p.reject(format!("values nested deeper than {} levels", self.limits.max_value_depth)));
        }
        self.count(n, self.limits.max_array_values, p)
    }

    fn text(&self, s: &str, p: &Path) -> Result<(), Reject> {
        self.len(s.len(), p)
    }

    fn len(&self, n: usize, p: &Path) -> Result<(), Reject> {
        if n > self.limits.max_value_bytes {
            return Err(p.reject(format!("{n} bytes, over the limit of {}", self.limits.max_value_bytes)));
        }
        Ok(())
    }

    fn count(&self, n: usize, max: usize, p: &Path) -> Result<(), Reject> {
        if n > max {
            return Err(p.reject(format!("{n} entries, over the limit of {max}")));
        }
        Ok(())
    }
}

/// A trace id (16 bytes) or span id (8 bytes): the right length, not all zeros.
fn id(bytes: &[u8], len: usize, p: &Path) -> Result<(), Reject> {
    if bytes.is_empty() {
        return Err(p.reject("is missing"));
    }
    if bytes.len() != len {
        return Err(p.reject(format!("must be {len} bytes, got {}", bytes.len())));
    }
    if bytes.iter().all(|&b| b == 0) {
        return Err(p.reject("is all zeros (an invalid id)"));
    }
    Ok(())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where in the request a field is, built on the stack and formatted only for an error.
enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'static str),
    Index(&'a Path<'a>, &'static str, usize),
    At(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    fn field(&'a self, name: &'static str) -> Path<'a> {
        Path::Field(self, name)
    }

    fn index(&'a self, name: &'static str, i: usize) -> Path<'a> {
        Path::Index(self, name, i)
    }

    fn at(&'a self, i: usize) -> Path<'a> {
        Path::At(self, i)
    }

    fn reject(&self, what: impl fmt::Display) -> Reject {
        Reject::bad_request(format!("{self}: {what}"))
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let dot = |f: &mut fmt::Formatter, p: &Path| if matches!(p, Path::Root) { Ok(()) } else { f.write_str(".") };
        match self {
            Path::Root => Ok(()),
            Path::Field(p, name) => write!(f, "{p}").and_then(|_| dot(f, p)).and_then(|_| f.write_str(name)),
            Path::Index(p, name, i) => write!(f, "{p}").and_then(|_| dot(f, p)).and_then(|_| write!(f, "{name}[{i}]")),
            Path::At(p, i) => write!(f, "{p}[{i}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ArrayValue, Event, Link, ResourceSpans, ScopeSpans, Status};

    fn span() -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "s".into(),
            kind: 1,
            start_time_unix_nano: 10,
            end_time_unix_nano: 20,
            ..Default::default()
        }
    }

    fn req(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
                ..Default::default()
            }],
        }
    }

    fn nested(depth: usize) -> Value {
        let mut v = Value::StringValue("x".into());
        for _ in 0..depth {
            v = Value::ArrayValue(ArrayValue { values: vec![AnyValue { value: Some(v) }] });
        }
        v
    }

    #[test]
    fn rules() {
        let limits = Limits { max_attributes: 2, max_value_bytes: 8, ..Limits::default() };
        let kv = |k: &str, v: Value| KeyValue::new(k, v);
        type Edit = Box<dyn Fn(&mut Span)>;
        let cases: Vec<(Edit, Option<&str>, &str)> = vec![
            (Box::new(|_| {}), None, "a good span"),
            (Box::new(|s| s.trace_id = vec![]), Some("spans[0].traceId: is missing"), "no trace id"),
            (Box::new(|s| s.trace_id = vec![0; 16]), Some("traceId: is all zeros"), "zero trace id"),
            (Box::new(|s| s.span_id = vec![1; 16]), Some("spanId: must be 8 bytes, got 16"), "long span id"),
            (Box::new(|s| s.parent_span_id = vec![0; 8]), Some("parentSpanId: is all zeros"), "zero parent"),
            (Box::new(|s| s.parent_span_id = vec![2; 8]), Some("its own parent"), "self parent"),
            (Box::new(|s| s.kind = 6), Some("kind: 6 is not a SpanKind"), "kind"),
            (Box::new(|s| s.start_time_unix_nano = 30), Some("endTimeUnixNano: is before"), "end before start"),
            (Box::new(|s| s.name = "123456789".into()), Some("name: 9 bytes, over the limit of 8"), "long name"),
            (
                Box::new(move |s| s.attributes = vec![kv("a", Value::BoolValue(true)); 3]),
                Some("attributes: 3 entries, over the limit of 2"),
                "too many attributes",
            ),
            (
                Box::new(move |s| s.attributes = vec![kv("a", Value::StringValue("123456789".into()))]),
                Some("attributes[0].value: 9 bytes"),
                "long value",
            ),
            (
                Box::new(move |s| s.attributes = vec![kv("a", nested(9))]),
                Some("attributes[0].value[0][0][0][0][0][0][0][0]: values nested deeper than 8"),
                "deep value",
            ),
            (
                Box::new(|s| s.events = vec![Event { name: "123456789".into(), ..Default::default() }]),
                Some("events[0].name: 9 bytes"),
                "event name",
            ),
            (Box::new(|s| s.links = vec![Link::default()]), Some("links[0].traceId: is missing"), "link ids"),
            (
                Box::new(|s| s.status = Some(Status { code: 3, message: String::new() })),
                Some("status.code: 3 is not a StatusCode"),
                "status code",
            ),
        ];
        for (edit, want, why) in cases {
            let mut s = span();
            edit(&mut s);
            let got = validate(&req(vec![s]), &limits).map_err(|r| r.to_string());
            match want {
                None => assert_eq!(got, Ok(1), "{why}"),
                Some(w) => assert!(got.as_ref().is_err_and(|m| m.contains(w)), "{why}: {got:?}"),
            }
        }
    }

    #[test]
    fn duplicates_and_span_count() {
        let err = validate(&req(vec![span(), span()]), &Limits::default()).unwrap_err();
        assert!(
            err.to_string().contains("resourceSpans[0].scopeSpans[0].spans[1].spanId: duplicate span 0202"),
            "{err:?}"
        );
        let limits = Limits { max_spans: 1, ..Limits::default() };
        let mut other = span();
        other.span_id = vec![3; 8];
        assert_eq!(validate(&req(vec![span(), other]), &limits).unwrap_err().status().as_u16(), 413);
    }

    fn logs(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        use crate::model::{ResourceLogs, ScopeLogs};
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs { log_records: records, ..Default::default() }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn log_record_rules() {
        let limits = Limits { max_attributes: 2, max_value_bytes: 8, max_log_records: 2, ..Limits::default() };
        let record = || LogRecord {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            severity_number: 17,
            severity_text: "ERROR".into(),
            body: Some(AnyValue { value: Some(Value::StringValue("boom".into())) }),
            ..Default::default()
        };
        type Edit = Box<dyn Fn(&mut LogRecord)>;
        let cases: Vec<(Edit, Option<&str>, &str)> = vec![
            (Box::new(|_| {}), None, "a good record"),
            (Box::new(|r| (r.trace_id, r.span_id) = (vec![], vec![])), None, "outside any trace"),
            (Box::new(|r| r.span_id = vec![]), None, "a trace but no span"),
            (Box::new(|r| r.trace_id = vec![]), Some("logRecords[0].spanId: is set without a traceId"), "span only"),
            (Box::new(|r| r.trace_id = vec![0; 16]), Some("logRecords[0].traceId: is all zeros"), "zero trace id"),
            (Box::new(|r| r.span_id = vec![1; 4]), Some("spanId: must be 8 bytes, got 4"), "short span id"),
            (Box::new(|r| r.severity_number = 25), Some("severityNumber: 25 is not a SeverityNumber"), "severity"),
            (Box::new(|r| r.severity_number = -1), Some("severityNumber: -1 is not"), "negative severity"),
            (Box::new(|r| r.severity_text = "123456789".into()), Some("severityText: 9 bytes"), "long severity"),
            (
                Box::new(|r| r.body = Some(AnyValue { value: Some(Value::StringValue("123456789".into())) })),
                Some("resourceLogs[0].scopeLogs[0].logRecords[0].body: 9 bytes, over the limit of 8"),
                "long body",
            ),
            (Box::new(|r| r.body = Some(AnyValue { value: Some(nested(9)) })), Some("body[0]"), "deep body"),
            (
                Box::new(|r| r.attributes = vec![KeyValue::new("a", Value::BoolValue(true)); 3]),
                Some("logRecords[0].attributes: 3 entries"),
                "attributes",
            ),
            (Box::new(|r| r.event_name = "123456789".into()), Some("eventName: 9 bytes"), "event name"),
        ];
        for (edit, want, why) in cases {
            let mut r = record();
            edit(&mut r);
            let got = validate_logs(&logs(vec![r]), &limits).map_err(|r| r.to_string());
            match want {
                None => assert_eq!(got, Ok(1), "{why}"),
                Some(w) => assert!(got.as_ref().is_err_and(|m| m.contains(w)), "{why}: {got:?}"),
            }
        }
        let err = validate_logs(&logs(vec![record(), record(), record()]), &limits).unwrap_err();
        assert_eq!(err.status().as_u16(), 413, "{err}");
        assert!(err.to_string().contains("3 log records in one request"), "{err}");
    }
}
