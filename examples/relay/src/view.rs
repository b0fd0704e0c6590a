//! What the viewer and `/api/traces` show: spans flattened to plain JSON.
//!
//! Ids are hex, times are epoch nanoseconds as decimal strings (JavaScript reads them with
//! `BigInt`), attribute values are plain JSON values (integers beyond 2^53 as strings).

use crate::model::{AnyValue, ExportLogsServiceRequest, ExportTraceServiceRequest, KeyValue, Span, Value};
use crate::validate::hex;
use base64::Engine;
use serde::Serialize;
use std::sync::Arc;

/// One span, as the viewer shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpanView {
    pub trace_id: String,
    pub span_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub parent_span_id: String,
    pub name: String,
    pub kind: &'static str,
    pub service: Arc<str>,
    #[serde(serialize_with = "as_string")]
    pub start_time_unix_nano: u64,
    #[serde(serialize_with = "as_string")]
    pub end_time_unix_nano: u64,
    /// `unset`, `ok` or `error`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_message: String,
    pub attributes: Vec<Attr>,
    pub events: Vec<EventView>,
    pub links: Vec<LinkView>,
    pub resource: Arc<Vec<Attr>>,
    pub scope: Arc<str>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Attr {
    pub key: String,
    pub value: serde_json::Value,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub name: String,
    #[serde(serialize_with = "as_string")]
    pub time_unix_nano: u64,
    pub attributes: Vec<Attr>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    pub trace_id: String,
    pub span_id: String,
}

/// A log record that belongs to a trace, as the viewer shows it (under its span).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogView {
    pub trace_id: String,
    /// Empty for a record of the trace but of no span.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub span_id: String,
    /// The record's time, else its observed time.
    #[serde(serialize_with = "as_string")]
    pub time_unix_nano: u64,
    pub severity: String,
    pub severity_number: i32,
    pub body: serde_json::Value,
    pub attributes: Vec<Attr>,
}

/// An exception recorded on a span (an `exception` event), with its stack parsed into frames
/// (newest first; Chromium, Firefox and Safari formats, as for Rollbar).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionView {
    pub span_id: String,
    #[serde(serialize_with = "as_string")]
    pub time_unix_nano: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    pub frames: Vec<crate::rollbar::Frame>,
}

/// The exceptions of `spans`, in time order, parsed when asked for (the store keeps the text).
pub fn exceptions(spans: &[SpanView]) -> Vec<ExceptionView> {
    let text = |e: &EventView, key: &str| {
        e.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.as_str()).unwrap_or_default().to_owned()
    };
    let mut out: Vec<ExceptionView> = spans
        .iter()
        .flat_map(|s| s.events.iter().filter(|e| e.name == "exception").map(move |e| (s, e)))
        .map(|(s, e)| ExceptionView {
            span_id: s.span_id.clone(),
            time_unix_nano: e.time_unix_nano,
            kind: text(e, "exception.type"),
            message: text(e, "exception.message"),
            frames: crate::rollbar::parse_stack(&text(e, "exception.stacktrace")),
        })
        .collect();
    out.sort_by_key(|x| x.time_unix_nano);
    out
}

/// One line of the trace list.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TraceSummary {
    pub trace_id: String,
    pub root_name: String,
    pub service: String,
    pub span_count: usize,
    pub error_count: usize,
    #[serde(serialize_with = "as_string")]
    pub start_time_unix_nano: u64,
    pub duration_ms: f64,
}

impl SpanView {
    pub fn is_error(&self) -> bool {
        self.status == "error"
    }

    pub fn duration_ms(&self) -> f64 {
        self.end_time_unix_nano.saturating_sub(self.start_time_unix_nano) as f64 / 1e6
    }
}

/// Flattens every span of `req`.
pub fn spans(req: &ExportTraceServiceRequest) -> Vec<SpanView> {
    let mut out = Vec::with_capacity(req.span_count());
    for rs in &req.resource_spans {
        let resource: Vec<Attr> = rs.resource.iter().flat_map(|r| attrs(&r.attributes)).collect();
        let service: Arc<str> = resource
            .iter()
            .find(|a| a.key == "service.name")
            .and_then(|a| a.value.as_str())
            .unwrap_or("unknown service")
            .into();
        let resource = Arc::new(resource);
        for ss in &rs.scope_spans {
            let scope: Arc<str> = ss.scope.as_ref().map_or("", |s| s.name.as_str()).into();
            for s in &ss.spans {
                out.push(span(s, &service, &resource, &scope));
            }
        }
    }
    out
}

/// Flattens the records of `req` that carry a trace id (the others belong to no trace).
pub fn logs(req: &ExportLogsServiceRequest) -> Vec<LogView> {
    req.records()
        .filter(|(_, r)| !r.trace_id.is_empty())
        .map(|(_, r)| LogView {
            trace_id: hex(&r.trace_id),
            span_id: hex(&r.span_id),
            time_unix_nano: if r.time_unix_nano != 0 { r.time_unix_nano } else { r.observed_time_unix_nano },
            severity: r.severity().to_owned(),
            severity_number: r.severity_number,
            body: r.body.as_ref().map_or(serde_json::Value::Null, json),
            attributes: attrs(&r.attributes),
        })
        .collect()
}

fn span(s: &Span, service: &Arc<str>, resource: &Arc<Vec<Attr>>, scope: &Arc<str>) -> SpanView {
    let (status, status_message) = match &s.status {
        Some(st) if st.code == 2 => ("error", st.message.clone()),
        Some(st) if st.code == 1 => ("ok", st.message.clone()),
        _ => ("unset", String::new()),
    };
    SpanView {
        trace_id: hex(&s.trace_id),
        span_id: hex(&s.span_id),
        parent_span_id: hex(&s.parent_span_id),
        name: s.name.clone(),
        kind: ["unspecified", "internal", "server", "client", "producer", "consumer"]
            .get(s.kind as usize)
            .copied()
            .unwrap_or("unspecified"),
        service: service.clone(),
        start_time_unix_nano: s.start_time_unix_nano,
        end_time_unix_nano: s.end_time_unix_nano,
        status,
        status_message,
        attributes: attrs(&s.attributes),
        events: s
            .events
            .iter()
            .map(|e| EventView {
                name: e.name.clone(),
                time_unix_nano: e.time_unix_nano,
                attributes: attrs(&e.attributes),
            })
            .collect(),
        links: s.links.iter().map(|l| LinkView { trace_id: hex(&l.trace_id), span_id: hex(&l.span_id) }).collect(),
        resource: resource.clone(),
        scope: scope.clone(),
    }
}

fn attrs(kvs: &[KeyValue]) -> Vec<Attr> {
    kvs.iter()
        .map(|kv| Attr { key: kv.key.clone(), value: kv.value.as_ref().map_or(serde_json::Value::Null, json) })
        .collect()
}

/// An OTLP value as plain JSON (for the viewer and CloudWatch Logs messages): integers beyond
/// 2^53 and non-finite doubles as strings, bytes as base64.
///
/// Recursive, but only as deep as `Limits::max_value_depth` (8): validation refused deeper values
/// before this runs (and decoding refused nesting past `max_depth`, counted before decoding).
pub(crate) fn json(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match &v.value {
        None => J::Null,
        Some(Value::StringValue(s)) => J::from(s.as_str()),
        Some(Value::BoolValue(b)) => J::from(*b),
        Some(Value::IntValue(n)) if n.unsigned_abs() <= 1 << 53 => J::from(*n),
        Some(Value::IntValue(n)) => J::from(n.to_string()),
        Some(Value::DoubleValue(d)) if d.is_finite() => J::from(*d),
        Some(Value::DoubleValue(d)) => J::from(d.to_string()),
        Some(Value::ArrayValue(a)) => J::Array(a.values.iter().map(json).collect()),
        Some(Value::KvlistValue(l)) => {
            J::Object(l.values.iter().map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(J::Null, json))).collect())
        }
        Some(Value::BytesValue(b)) => J::from(base64::engine::general_purpose::STANDARD.encode(b)),
    }
}

fn as_string<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}
