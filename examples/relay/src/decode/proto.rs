//! OTLP protobuf: a wire-format walk that counts nested messages, then prost.
//!
//! prost allocates a struct for every nested message it meets, so a 2-byte empty `Span` repeated
//! over a few megabytes would become gigabytes. The walk knows which fields of which OTLP
//! message are sub-messages, counts them and their depth without allocating, and refuses
//! malformed input before prost sees it.

use crate::error::Reject;
use crate::model::{ExportRequest, Signal};
use crate::validate::Limits;

/// Decodes an OTLP protobuf `ExportTraceServiceRequest` or `ExportLogsServiceRequest`.
pub fn decode<R: ExportRequest>(body: &[u8], limits: &Limits) -> Result<R, Reject> {
    let mut walk = Walk { nodes: 0, max_nodes: limits.max_nodes, max_depth: limits.max_depth };
    let root = match R::SIGNAL {
        Signal::Traces => Msg::Request,
        Signal::Logs => Msg::LogsRequest,
    };
    walk.message(body, root, 1).map_err(|e| match e {
        WalkError::TooMany => Reject::too_large(format!(
            "protobuf holds more than {} nested messages; send smaller batches",
            limits.max_nodes
        )),
        WalkError::TooDeep => {
            Reject::bad_request(format!("protobuf is nested deeper than {} levels", limits.max_depth))
        }
        WalkError::Malformed(what) => Reject::bad_request(format!("invalid OTLP protobuf: {what}")),
    })?;
    R::decode(body).map_err(|e| Reject::bad_request(format!("invalid OTLP protobuf: {e}")))
}

/// The OTLP messages that hold other messages.
#[derive(Clone, Copy, Debug)]
enum Msg {
    Request,
    LogsRequest,
    ResourceSpans,
    ResourceLogs,
    ScopeLogs,
    LogRecord,
    Resource,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    Status,
    KeyValue,
    AnyValue,
    ArrayValue,
    KvList,
}

/// The message type of a length-delimited field, `None` for strings and bytes.
fn child(msg: Msg, field: u64) -> Option<Msg> {
    use Msg::*;
    Some(match (msg, field) {
        (Request, 1) => ResourceSpans,
        (LogsRequest, 1) => ResourceLogs,
        (ResourceSpans | ResourceLogs, 1) => Resource,
        (ResourceSpans, 2) => ScopeSpans,
        (ResourceLogs, 2) => ScopeLogs,
        (ScopeLogs, 1) => Scope,
        (ScopeLogs, 2) => LogRecord,
        (LogRecord, 5) => AnyValue,
        (Resource, 1) | (Scope, 3) | (Span, 9) | (Event, 3) | (Link, 4) | (KvList, 1) | (LogRecord, 6) => KeyValue,
        (ScopeSpans, 1) => Scope,
        (ScopeSpans, 2) => Span,
        (Span, 11) => Event,
        (Span, 13) => Link,
        (Span, 15) => Status,
        (KeyValue, 2) | (ArrayValue, 1) => AnyValue,
        (AnyValue, 5) => ArrayValue,
        (AnyValue, 6) => KvList,
        _ => return None,
    })
}

enum WalkError {
    TooMany,
    TooDeep,
    Malformed(&'static str),
}

struct Walk {
    nodes: usize,
    max_nodes: usize,
    max_depth: usize,
}

impl Walk {
    fn message(&mut self, mut buf: &[u8], msg: Msg, depth: usize) -> Result<(), WalkError> {
        if depth > self.max_depth {
            return Err(WalkError::TooDeep);
        }
        while !buf.is_empty() {
            let key = varint(&mut buf)?;
            let (field, wire) = (key >> 3, key & 7);
            if field == 0 {
                return Err(WalkError::Malformed("field number 0"));
            }
            match wire {
                0 => {
                    varint(&mut buf)?;
                }
                1 => buf = skip(buf, 8)?,
                5 => buf = skip(buf, 4)?,
                2 => {
                    let len = usize::try_from(varint(&mut buf)?).map_err(|_| WalkError::Malformed("length"))?;
                    if len > buf.len() {
                        return Err(WalkError::Malformed("a length runs past the end (truncated?)"));
                    }
                    let (inner, rest) = buf.split_at(len);
                    if let Some(sub) = child(msg, field) {
                        self.nodes += 1;
                        if self.nodes > self.max_nodes {
                            return Err(WalkError::TooMany);
                        }
                        self.message(inner, sub, depth + 1)?;
                    }
                    buf = rest;
                }
                _ => return Err(WalkError::Malformed("unsupported wire type (groups are not OTLP)")),
            }
        }
        Ok(())
    }
}

fn varint(buf: &mut &[u8]) -> Result<u64, WalkError> {
    let mut v = 0u64;
    for i in 0..10 {
        let (&b, rest) = buf.split_first().ok_or(WalkError::Malformed("truncated varint"))?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(WalkError::Malformed("varint longer than 10 bytes"))
}

fn skip(buf: &[u8], n: usize) -> Result<&[u8], WalkError> {
    buf.get(n..).ok_or(WalkError::Malformed("truncated fixed-width field"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExportTraceServiceRequest, KeyValue, ResourceSpans, ScopeSpans, Span, Value};
    use prost::Message;

    fn request(spans: usize) -> Vec<u8> {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            attributes: vec![KeyValue::new("k", Value::StringValue("v".into()))],
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans { spans: vec![span; spans], ..Default::default() }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    fn err(body: &[u8], limits: &Limits) -> String {
        decode::<ExportTraceServiceRequest>(body, limits).unwrap_err().to_string()
    }

    #[test]
    fn counts_and_refuses() {
        let limits = Limits::default();
        assert_eq!(decode::<ExportTraceServiceRequest>(&request(3), &limits).unwrap().span_count(), 3);
        // 3 spans × (span + key-value + any-value) + resource spans + scope spans = 11.
        let tight = Limits { max_nodes: 10, ..Limits::default() };
        assert!(err(&request(3), &tight).contains("more than 10 nested"));
        let empty_spans: Vec<u8> = [&[0x0a, 0x00][..]].repeat(4).concat(); // 4 empty ResourceSpans
        assert_eq!(decode::<ExportTraceServiceRequest>(&empty_spans, &limits).unwrap().resource_spans.len(), 4);
    }

    #[test]
    fn malformed() {
        let body = request(1);
        let cases: &[(&[u8], &str, &str)] = &[
            (&body[..body.len() - 3], "runs past the end", "truncated"),
            (&[0x0a, 0x05, 0x01], "runs past the end", "length past the end"),
            (&[0x0b], "wire type", "start group"),
            (&[0x00], "field number 0", "field 0"),
            (&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], "varint", "long varint"),
            (&[0x0a, 0x02, 0x1a, 0x01], "runs past the end", "nested truncation"),
        ];
        for (input, want, why) in cases {
            let e = err(input, &Limits::default());
            assert!(e.contains(want), "{why}: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        // AnyValue{array{AnyValue{array{...}}}}: each level is 2 messages.
        let mut v: Vec<u8> = Vec::new();
        for _ in 0..100 {
            let mut arr = vec![0x0a];
            push_len(&mut arr, &v);
            let mut any = vec![0x2a];
            push_len(&mut any, &arr);
            v = any;
        }
        let mut kv = vec![0x0a, 0x01, b'k', 0x12];
        push_len(&mut kv, &v);
        let mut span = vec![0x4a];
        push_len(&mut span, &kv);
        let mut ss = vec![0x12];
        push_len(&mut ss, &span);
        let mut rs = vec![0x12];
        push_len(&mut rs, &ss);
        let mut req = vec![0x0a];
        push_len(&mut req, &rs);
        assert!(err(&req, &Limits::default()).contains("nested deeper"));
    }

    fn push_len(out: &mut Vec<u8>, inner: &[u8]) {
        prost::encoding::encode_varint(inner.len() as u64, out);
        out.extend_from_slice(inner);
    }
}
