//! A hand-written OTLP/HTTP JSON encoder for traces (no serde: binary size matters in wasm).
//!
//! The output follows the "JSON Protobuf Encoding" of the OTLP specification: the proto3 JSON
//! mapping with lowerCamelCase keys, trace and span ids as lowercase hex (not base64), enums as
//! integers, 64-bit integers (`*TimeUnixNano`, `intValue`) as decimal strings, and doubles as
//! JSON numbers (`NaN` and `±Infinity`, which JSON numbers cannot express, as the strings
//! `"NaN"`, `"Infinity"` and `"-Infinity"`, as the proto3 JSON mapping writes them).
//!
//! Fields that hold their default value are left out to save bytes on the wire: no
//! `parentSpanId` on a root span, no empty `attributes`/`events`/`links`, no zero
//! `dropped*Count`, no `status` when unset, no empty `traceState` or status `message`.
//! `kind` is always written (INTERNAL is 1, not the proto default 0).
//!
//! `flags` is written on every span and link: bits 0–7 are the W3C trace flags, bit 8
//! (`0x100`, "has is_remote") is always set, and bit 9 (`0x200`) tells that the span's parent
//! (for a link: the linked context) is remote. It costs about a dozen bytes per span before
//! compression and is the only place OTLP carries "the parent came from another process".
//!
//! Everything is pushed into a `String` by hand, doubles included (see `push_f64`): nothing
//! here goes through `core::fmt`, whose float formatting alone is ~18 KB of wasm.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::{KeyValue, Value};
use crate::ids::push_hex;
use crate::log_data::LogData;
use crate::resource::Resource;
use crate::span_context::SpanContext;
use crate::span_data::{Event, Link, SpanData, Status};

/// What closes the document after the spans: `spans`, `scopeSpans[0]`, `scopeSpans`,
/// `resourceSpans[0]`, `resourceSpans`, the request.
const SUFFIX: &str = "]}]}]}";

/// `flags` bit 8: whether the remote-ness of the parent (or linked context) is known.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
/// `flags` bit 9: the parent (or linked context) is remote.
const FLAG_IS_REMOTE: u32 = 0x200;

/// Pre-encodes the resource and scope once; encodes batches of spans.
///
/// ```
/// # use canopy_web::{Config, Tracer, export::InMemoryProcessor};
/// # use std::rc::Rc;
/// # let mem = Rc::new(InMemoryProcessor::default());
/// # drop(Tracer::new(&Config::new("frontend"), [3; 32], mem.clone()).start("loadData"));
/// # let spans = mem.take();
/// use canopy_web::KeyValue;
/// use canopy_web::export::otlp_json::Encoder;
/// use canopy_web::resource::{Resource, SCOPE_NAME, SDK_VERSION};
///
/// let resource = Resource { attributes: vec![KeyValue::new("service.name", "frontend")] };
/// let enc = Encoder::new(&resource, SCOPE_NAME, SDK_VERSION);
/// let mut body = String::new();
/// enc.encode(&spans, &mut body);
/// assert!(body.starts_with(r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name""#));
/// assert!(body.contains(r#""name":"loadData""#));
/// ```
#[derive(Clone, Debug)]
pub struct Encoder {
    /// Everything up to and including `"spans":[`.
    prefix: String,
    /// The prefix up to the scope's version, before the scope object closes.
    scope_head_len: usize,
    /// The same for logs: everything up to and including `"logRecords":[`.
    logs_prefix: String,
}

/// How every logs document starts: the edge sends such documents to the logs endpoint
/// ([`is_logs`]).
const LOGS_HEAD: &str = "{\"resourceLogs\":";

/// True for an `ExportLogsServiceRequest` made by [`Encoder::encode_logs_split`] (also one
/// stored by an earlier page), which goes to the logs endpoint rather than the traces one.
pub fn is_logs(body: &str) -> bool {
    body.starts_with(LOGS_HEAD)
}

/// The scope attribute that reports spans dropped (queue full) since the previous export.
pub const DROPPED_SPANS_KEY: &str = "canopy.dropped_spans";

impl Encoder {
    /// An encoder for spans of `resource`, reported under the instrumentation scope
    /// `scope_name`/`scope_version` (an empty version is left out).
    pub fn new(resource: &Resource, scope_name: &str, scope_version: &str) -> Encoder {
        let head = |signal: &str, scope: &str| {
            let mut p = String::with_capacity(128 + resource.attributes.len() * 48);
            p.push_str(signal);
            p.push_str("[{\"resource\":{");
            if !resource.attributes.is_empty() {
                push_attributes_field(&mut p, "\"attributes\":", &resource.attributes);
            }
            p.push_str(scope);
            push_json_string(&mut p, scope_name);
            if !scope_version.is_empty() {
                p.push_str(",\"version\":");
                push_json_string(&mut p, scope_version);
            }
            p
        };
        let mut prefix = head("{\"resourceSpans\":", "},\"scopeSpans\":[{\"scope\":{\"name\":");
        let scope_head_len = prefix.len();
        prefix.push_str("},\"spans\":[");
        let mut logs_prefix = head(LOGS_HEAD, "},\"scopeLogs\":[{\"scope\":{\"name\":");
        logs_prefix.push_str("},\"logRecords\":[");
        Encoder { prefix, scope_head_len, logs_prefix }
    }

    /// Starts a document; a non-zero `dropped` becomes the scope attribute
    /// [`DROPPED_SPANS_KEY`].
    fn begin(&self, out: &mut String, dropped: u64) {
        if dropped == 0 {
            out.push_str(&self.prefix);
            return;
        }
        out.push_str(&self.prefix[..self.scope_head_len]);
        out.push_str(",\"attributes\":[{\"key\":\"");
        out.push_str(DROPPED_SPANS_KEY);
        out.push_str("\",\"value\":{\"intValue\":\"");
        push_u64(out, dropped);
        out.push_str("\"}}]");
        out.push_str(&self.prefix[self.scope_head_len..]);
    }

    /// Encodes `spans` as one or more documents of at most `max_bytes` each (a single span
    /// larger than that still gets a document of its own). `dropped` is reported on the first.
    /// Returns each document with its span count.
    pub fn encode_split<S: core::borrow::Borrow<SpanData>>(
        &self,
        spans: &[S],
        dropped: u64,
        max_bytes: usize,
    ) -> Vec<(String, usize)> {
        self.split(spans.len(), dropped, max_bytes, &|out, i| push_span(out, spans[i].borrow()))
    }

    /// Encodes log records as `ExportLogsServiceRequest` documents of at most `max_bytes` each,
    /// like [`Encoder::encode_split`]; no records, no documents.
    pub fn encode_logs_split(&self, logs: &[LogData], max_bytes: usize) -> Vec<(String, usize)> {
        if logs.is_empty() {
            return Vec::new();
        }
        self.split(logs.len(), u64::MAX, max_bytes, &|out, i| push_log(out, &logs[i]))
    }

    /// Documents of `n` items written by `push(out, index)`. `dropped`: `u64::MAX` for logs.
    fn split(
        &self,
        n: usize,
        dropped: u64,
        max_bytes: usize,
        push: &dyn Fn(&mut String, usize),
    ) -> Vec<(String, usize)> {
        let begin = |doc: &mut String, dropped: u64| {
            if dropped == u64::MAX { doc.push_str(&self.logs_prefix) } else { self.begin(doc, dropped) }
        };
        let mut docs = Vec::new();
        let mut doc = String::with_capacity(max_bytes.min(self.prefix.len() + n * 320 + 64));
        let mut count = 0usize;
        let mut one = String::new();
        begin(&mut doc, dropped);
        let next = if dropped == u64::MAX { u64::MAX } else { 0 };
        for i in 0..n {
            one.clear();
            push(&mut one, i);
            if count > 0 && doc.len() + 1 + one.len() + SUFFIX.len() > max_bytes {
                doc.push_str(SUFFIX);
                docs.push((core::mem::take(&mut doc), count));
                count = 0;
                begin(&mut doc, next);
            }
            if count > 0 {
                doc.push(',');
            }
            doc.push_str(&one);
            count += 1;
        }
        if count > 0 || docs.is_empty() {
            doc.push_str(SUFFIX);
            docs.push((doc, count));
        }
        docs
    }

    /// Appends one complete `ExportTraceServiceRequest` JSON document for `spans` to `out`.
    ///
    /// An empty slice still gives a valid document (with an empty `spans` array).
    pub fn encode(&self, spans: &[SpanData], out: &mut String) {
        out.reserve(self.prefix.len() + SUFFIX.len() + spans.len() * 320);
        out.push_str(&self.prefix);
        for (i, span) in spans.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_span(out, span);
        }
        out.push_str(SUFFIX);
    }
}

/// Appends one `Span` object.
fn push_span(out: &mut String, s: &SpanData) {
    push_ids(out, &s.span_context);
    if s.parent_span_id.is_valid() {
        out.push_str(",\"parentSpanId\":\"");
        s.parent_span_id.write_hex(out);
        out.push('"');
    }
    push_flags(out, &s.span_context, s.parent_is_remote);
    out.push_str(",\"name\":");
    push_json_string(out, &s.name);
    out.push_str(",\"kind\":");
    push_u64(out, s.kind as u64);
    push_time(out, ",\"startTimeUnixNano\":\"", s.start_time);
    push_time(out, ",\"endTimeUnixNano\":\"", s.end_time);
    if !s.attributes.is_empty() {
        push_attributes_field(out, ",\"attributes\":", &s.attributes);
    }
    push_count(out, ",\"droppedAttributesCount\":", s.dropped_attributes_count);
    if !s.events.is_empty() {
        out.push_str(",\"events\":[");
        for (i, e) in s.events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_event(out, e);
        }
        out.push(']');
    }
    push_count(out, ",\"droppedEventsCount\":", s.dropped_events_count);
    if !s.links.is_empty() {
        out.push_str(",\"links\":[");
        for (i, l) in s.links.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_link(out, l);
        }
        out.push(']');
    }
    push_count(out, ",\"droppedLinksCount\":", s.dropped_links_count);
    match &s.status {
        Status::Unset => {}
        Status::Ok => out.push_str(",\"status\":{\"code\":1}"),
        Status::Error(msg) => {
            out.push_str(",\"status\":{\"code\":2");
            if !msg.is_empty() {
                out.push_str(",\"message\":");
                push_json_string(out, msg);
            }
            out.push('}');
        }
    }
    out.push('}');
}

/// Appends one `LogRecord` object.
fn push_log(out: &mut String, l: &LogData) {
    push_time(out, "{\"timeUnixNano\":\"", l.time);
    push_time(out, ",\"observedTimeUnixNano\":\"", l.time);
    out.push_str(",\"severityNumber\":");
    push_u64(out, u64::from(l.severity.number()));
    out.push_str(",\"severityText\":\"");
    out.push_str(l.severity.text());
    out.push_str("\",\"body\":");
    push_string_value(out, &l.body);
    if !l.attributes.is_empty() {
        push_attributes_field(out, ",\"attributes\":", &l.attributes);
    }
    push_count(out, ",\"droppedAttributesCount\":", l.dropped_attributes_count);
    if let Some((trace_id, span_id, flags)) = &l.trace {
        out.push_str(",\"flags\":");
        push_u64(out, u64::from(flags.0));
        out.push_str(",\"traceId\":\"");
        trace_id.write_hex(out);
        out.push_str("\",\"spanId\":\"");
        span_id.write_hex(out);
        out.push('"');
    }
    out.push('}');
}

/// Opens an object and writes `traceId`, `spanId` and (when non-empty) `traceState`.
fn push_ids(out: &mut String, cx: &SpanContext) {
    out.push_str("{\"traceId\":\"");
    cx.trace_id.write_hex(out);
    out.push_str("\",\"spanId\":\"");
    cx.span_id.write_hex(out);
    out.push('"');
    if !cx.trace_state.is_empty() {
        out.push_str(",\"traceState\":");
        push_json_string(out, &cx.trace_state.header_value());
    }
}

/// Writes `flags`: the trace flags, "has is_remote", and "is remote" when `remote`.
fn push_flags(out: &mut String, cx: &SpanContext, remote: bool) {
    let mut flags = u32::from(cx.trace_flags.0) | FLAG_HAS_IS_REMOTE;
    if remote {
        flags |= FLAG_IS_REMOTE;
    }
    out.push_str(",\"flags\":");
    push_u64(out, u64::from(flags));
}

fn push_event(out: &mut String, e: &Event) {
    push_time(out, "{\"timeUnixNano\":\"", e.time);
    out.push_str(",\"name\":");
    push_json_string(out, &e.name);
    if !e.attributes.is_empty() {
        push_attributes_field(out, ",\"attributes\":", &e.attributes);
    }
    push_count(out, ",\"droppedAttributesCount\":", e.dropped_attributes_count);
    out.push('}');
}

fn push_link(out: &mut String, l: &Link) {
    push_ids(out, &l.span_context);
    if !l.attributes.is_empty() {
        push_attributes_field(out, ",\"attributes\":", &l.attributes);
    }
    push_count(out, ",\"droppedAttributesCount\":", l.dropped_attributes_count);
    push_flags(out, &l.span_context, l.span_context.is_remote);
    out.push('}');
}

/// `key` is the field name with its opening quote already in place (`,"startTimeUnixNano":"`).
fn push_time(out: &mut String, key: &str, nanos: u64) {
    out.push_str(key);
    push_u64(out, nanos);
    out.push('"');
}

/// Writes `key` and `n` unless `n` is zero (the proto default, left out).
fn push_count(out: &mut String, key: &str, n: u32) {
    if n != 0 {
        out.push_str(key);
        push_u64(out, u64::from(n));
    }
}

/// Writes `key` (e.g. `,"attributes":`) and the `KeyValue` array.
fn push_attributes_field(out: &mut String, key: &str, attrs: &[KeyValue]) {
    out.push_str(key);
    out.push('[');
    for (i, kv) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        push_json_string(out, &kv.key);
        out.push_str(",\"value\":");
        push_any_value(out, &kv.value);
        out.push('}');
    }
    out.push(']');
}

/// Writes an `AnyValue` object.
fn push_any_value(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => push_string_value(out, s),
        Value::Bool(b) => push_bool_value(out, *b),
        Value::I64(n) => push_int_value(out, *n),
        Value::F64(d) => push_double_value(out, *d),
        Value::StringArray(a) => push_array(out, a, |o, s| push_string_value(o, s)),
        Value::BoolArray(a) => push_array(out, a, |o, b| push_bool_value(o, *b)),
        Value::I64Array(a) => push_array(out, a, |o, n| push_int_value(o, *n)),
        Value::F64Array(a) => push_array(out, a, |o, d| push_double_value(o, *d)),
    }
}

/// Writes `{"arrayValue":{"values":[...]}}`. An empty array keeps `"values":[]`: some decoders
/// (opentelemetry-proto's serde) require the field.
fn push_array<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    out.push_str("{\"arrayValue\":{\"values\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, item);
    }
    out.push_str("]}}");
}

fn push_string_value(out: &mut String, s: &str) {
    out.push_str("{\"stringValue\":");
    push_json_string(out, s);
    out.push('}');
}

fn push_bool_value(out: &mut String, b: bool) {
    out.push_str(if b { "{\"boolValue\":true}" } else { "{\"boolValue\":false}" });
}

fn push_int_value(out: &mut String, n: i64) {
    out.push_str("{\"intValue\":\"");
    push_i64(out, n);
    out.push_str("\"}");
}

fn push_double_value(out: &mut String, d: f64) {
    out.push_str("{\"doubleValue\":");
    push_f64(out, d);
    out.push('}');
}

/// Appends `s` as a JSON string literal: surrounding quotes; `"` and `\` escaped; `\n`, `\r`,
/// `\t`, `\b`, `\f` in their short forms; other control characters (U+0000–U+001F) as
/// `\u00XX` (lowercase hex). Everything else, non-ASCII included, passes through as UTF-8
/// (a Rust `str` holds no lone surrogates, so the output is always valid JSON).
pub fn push_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `b` is ASCII, so `i` is a character boundary.
        out.push_str(&s[start..i]);
        if short.is_empty() {
            out.push_str("\\u00");
            push_hex(out, &[b]);
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends `v` in decimal.
pub(crate) fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(d as char);
    }
}

/// Appends `v` in decimal, with a leading `-` when negative (`i64::MIN` included).
pub(crate) fn push_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Appends `v` as a JSON number, laid out as JavaScript's `Number.prototype.toString` does
/// (so as `JSON.stringify` does): `1.5`, `0.001`, `1e+300`, `5e-324`, `1e+21`, integers
/// without a fraction (`3`); unlike JavaScript, negative zero keeps its sign (`-0`). `NaN`,
/// `Infinity` and `-Infinity` are written as JSON strings, per the proto3 JSON mapping.
///
/// Integral values below 2^53 (common: JavaScript numbers that are really integers) are
/// written exactly. Other finite values avoid `core::fmt`, whose exact shortest-digits code
/// (`flt2dec`) is ~18 KB of wasm: plain `f64` arithmetic scales the value by a power of ten into
/// `[1e15, 1e16)` and rounds it to a 16-digit integer, or to 15 digits when those are within
/// half an ulp of the value (give or take the scaling error), which gives short decimals their
/// short form (`8.2`, `123.456`), as JavaScript writes them. That is not always the shortest
/// round-trip form: the text reads back within a relative error of 1e-15 (a few ULPs), not
/// always to the same bits (`0.1 + 0.2` gives `0.3`, where JavaScript writes the 17 digits
/// `0.30000000000000004`). Subnormals keep their last digit at the 1e-324 place (`5e-324`),
/// so they read back exactly or nearly.
pub(crate) fn push_f64(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("\"NaN\"");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "\"Infinity\"" } else { "\"-Infinity\"" });
        return;
    }
    if v.is_sign_negative() {
        out.push('-');
    }
    let a = v.abs();
    // 2^53: below it every integral double converts to u64 exactly.
    if a < 9_007_199_254_740_992.0 && crate::float::fract(a) == 0.0 {
        push_u64(out, a as u64);
        return;
    }
    // floor(log2 a), subnormals included (`a` is finite and not zero here).
    let bits = a.to_bits();
    let biased = (bits >> 52) as i32;
    let e2 = if biased == 0 { -1011 - bits.leading_zeros() as i32 } else { biased - 1023 };
    // floor(e2 * log10(2)): floor(log10 a) or one less.
    let k = (e2 * 78_913) >> 18;
    // `a * 10^s` in [1e15, 1e16): 16 digits. For subnormals, whose ulp is 4.9e-324, the last
    // digit is at the 1e-324 place instead: as many digits as the value really holds (`5e-324`,
    // not 4.94…e-324; up to 17 near 2.2e-308), so they read back exactly or nearly.
    let mut s = if biased == 0 { 324 } else { 15 - k };
    let mut m = scale_pow10(a, s);
    if m >= 1e16 && biased != 0 {
        s -= 1;
        m = scale_pow10(a, s);
    }
    // Ties to even (one wasm instruction, `f64.nearest`): when `m` lands on a .5, the even
    // side is more often the short one (4.4 gives m = 4400000000000000.5).
    let mut mant = crate::float::round_ties_even(m) as u64;
    if biased != 0 {
        // 15 digits when they are within half an ulp of `a`, give or take the rounding error of
        // `m` itself: they (nearly always) read back the same, and short decimals lose their
        // noise digit (8.2, not 8.199999999999999). Half an ulp of `a`, scaled like `m`, is
        // m * 2^-53 / significand; `m` is off by at most m * 2^-53 per rounding (none for
        // s == 0, one with an exact power of ten, three with a chunked one).
        let sig = f64::from_bits(bits & ((1 << 52) - 1) | (1023 << 52));
        let roundings = match s.unsigned_abs() {
            0 => 0.0,
            1..=22 => 1.0,
            _ => 3.0,
        };
        let slack = m * (1.0 / 9_007_199_254_740_992.0) * (roundings + 1.0 / sig);
        let m15 = crate::float::round_ties_even(m / 10.0) * 10.0;
        if (m15 - m).abs() <= slack {
            mant = m15 as u64;
        }
    }
    if s == -293 {
        // Values from 1e308 up: 1.797693134862316e308 would read back as infinity.
        mant = mant.min(1_797_693_134_862_315);
    }
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while i > 0 {
        i -= 1;
        buf[i] = b'0' + (mant % 10) as u8;
        mant /= 10;
        if mant == 0 {
            break;
        }
    }
    let (_, digits) = buf.split_at(i);
    // The value is 0.d1d2…dk × 10^n, with n = (number of digits) - s.
    let n = digits.len() as i32 - s;
    let end = digits.iter().rposition(|&c| c != b'0').map_or(1, |p| p + 1);
    let (digits, _) = digits.split_at(end);
    push_js_layout(out, digits, n);
}

/// Exact powers of ten: 1e22 is the largest one an `f64` holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// `1e22^j` for `j` in `0..=14`, each the nearest `f64` (exact up to 1e22).
const POW10_BY_22: [f64; 15] =
    [1e0, 1e22, 1e44, 1e66, 1e88, 1e110, 1e132, 1e154, 1e176, 1e198, 1e220, 1e242, 1e264, 1e286, 1e308];

/// `a × 10^s` for `s` in `-329..=329`, within three roundings (one table entry, two
/// operations: relative error below 3.4e-16). Multiplying `a` first keeps every intermediate
/// between `a` and the result, so nothing overflows or underflows on the way.
fn scale_pow10(a: f64, s: i32) -> f64 {
    let e = s.unsigned_abs().min(329) as usize;
    let big = POW10_BY_22.get(e / 22).copied().unwrap_or(1e308);
    let small = POW10.get(e % 22).copied().unwrap_or(1.0);
    if s >= 0 { a * big * small } else { a / big / small }
}

/// Appends the number 0.d1d2…dk × 10^n (`digits` ASCII, no trailing zeros, `d1` not zero) as
/// ECMAScript's Number::toString lays it out: positional from 1e-6 up to (not including)
/// 1e21, else `d[.ddd]e±x`.
fn push_js_layout(out: &mut String, digits: &[u8], n: i32) {
    let k = digits.len() as i32;
    let push_digits = |out: &mut String, d: &[u8]| d.iter().for_each(|&c| out.push(char::from(c)));
    let push_zeros = |out: &mut String, z: i32| (0..z).for_each(|_| out.push('0'));
    if k <= n && n <= 21 {
        push_digits(out, digits);
        push_zeros(out, n - k);
    } else if 0 < n && n <= 21 {
        // 0 < n < k.
        let (int, frac) = digits.split_at(n as usize);
        push_digits(out, int);
        out.push('.');
        push_digits(out, frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        push_zeros(out, -n);
        push_digits(out, digits);
    } else {
        let (first, rest) = digits.split_at(digits.len().min(1));
        push_digits(out, first);
        if !rest.is_empty() {
            out.push('.');
            push_digits(out, rest);
        }
        out.push_str(if n > 0 { "e+" } else { "e-" });
        push_u64(out, u64::from((n - 1).unsigned_abs()));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod split_tests {
    use super::*;
    use crate::export::InMemoryProcessor;
    use crate::{Config, Tracer};
    use alloc::rc::Rc;

    fn spans(n: usize) -> Vec<SpanData> {
        let mem = Rc::new(InMemoryProcessor::default());
        let t = Tracer::new(&Config::new("t"), [1; 32], mem.clone());
        for i in 0..n {
            let mut s = t.start("span");
            s.set_attribute(KeyValue::new("i", i as i64));
        }
        mem.take()
    }

    #[test]
    fn split_respects_the_byte_limit_and_keeps_every_span() {
        let enc = Encoder::new(&Resource::default(), "s", "1");
        let all = spans(50);
        let docs = enc.encode_split(&all, 0, 2000);
        assert!(docs.len() > 1);
        assert_eq!(docs.iter().map(|d| d.1).sum::<usize>(), 50);
        for (d, n) in &docs {
            assert!(d.len() <= 2000, "{} bytes", d.len());
            let v: serde_json::Value = serde_json::from_str(d).unwrap();
            assert_eq!(v["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap().len(), *n);
        }
        let one = enc.encode_split(&all, 0, usize::MAX);
        let mut whole = String::new();
        enc.encode(&all, &mut whole);
        assert_eq!(one, vec![(whole, 50)], "no limit: the same as encode");
    }

    #[test]
    fn an_oversized_span_still_gets_its_own_document() {
        let enc = Encoder::new(&Resource::default(), "s", "1");
        let docs = enc.encode_split(&spans(3), 0, 10);
        assert_eq!(docs.iter().map(|d| d.1).collect::<Vec<_>>(), [1, 1, 1]);
        assert_eq!(enc.encode_split::<SpanData>(&[], 0, 10).len(), 1, "an empty batch is one empty document");
    }

    #[test]
    fn dropped_count_is_a_scope_attribute_on_the_first_document_only() {
        let enc = Encoder::new(&Resource::default(), "s", "1");
        let docs = enc.encode_split(&spans(20), 7, 1500);
        let first: serde_json::Value = serde_json::from_str(&docs[0].0).unwrap();
        let scope = &first["resourceSpans"][0]["scopeSpans"][0]["scope"];
        assert_eq!(scope["name"], "s");
        assert_eq!(scope["attributes"][0]["key"], DROPPED_SPANS_KEY);
        assert_eq!(scope["attributes"][0]["value"]["intValue"], "7");
        let second: serde_json::Value = serde_json::from_str(&docs[1].0).unwrap();
        assert!(second["resourceSpans"][0]["scopeSpans"][0]["scope"].get("attributes").is_none());
        let decoded: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest =
            serde_json::from_str(&docs[0].0).unwrap();
        let scope = decoded.resource_spans[0].scope_spans[0].scope.as_ref().unwrap();
        assert_eq!(scope.attributes[0].key, DROPPED_SPANS_KEY, "the official schema reads it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut String)) -> String {
        let mut out = String::new();
        f(&mut out);
        out
    }

    #[test]
    fn json_string_escaping() {
        let cases: &[(&str, &str, &str)] = &[
            ("", r#""""#, "empty"),
            ("plain", r#""plain""#, "nothing to escape"),
            ("a\"b", r#""a\"b""#, "quote"),
            ("a\\b", r#""a\\b""#, "backslash"),
            ("\\\"", r#""\\\"""#, "backslash then quote"),
            ("l1\nl2", r#""l1\nl2""#, "newline"),
            ("\r\t\u{8}\u{c}", r#""\r\t\b\f""#, "short escapes"),
            ("\u{0}", r#""\u0000""#, "nul"),
            ("\u{1}\u{1f}", r#""\u0001\u001f""#, "other control chars as \\u00XX, lowercase hex"),
            ("\u{b}", r#""\u000b""#, "vertical tab has no short form"),
            ("\u{7f}", "\"\u{7f}\"", "DEL is not a JSON control char"),
            ("/", r#""/""#, "solidus is not escaped"),
            ("héllo 日本 🌲", "\"héllo 日本 🌲\"", "non-ASCII passes through as UTF-8"),
            ("\u{2028}", "\"\u{2028}\"", "line separator passes through (valid JSON)"),
            ("日\n本", "\"日\\n本\"", "escape between multi-byte chars"),
            ("end\\", r#""end\\""#, "escape at the end"),
        ];
        for (input, want, why) in cases {
            assert_eq!(s(|o| push_json_string(o, input)), *want, "{why}");
        }
    }

    #[test]
    fn json_string_appends() {
        let mut out = String::from("x:");
        push_json_string(&mut out, "y");
        assert_eq!(out, "x:\"y\"");
    }

    #[test]
    fn integers() {
        let unsigned: &[(u64, &str, &str)] = &[
            (0, "0", "zero"),
            (7, "7", "one digit"),
            (10, "10", "trailing zero"),
            (1_700_000_000_123_456_789, "1700000000123456789", "a timestamp in ns"),
            (u64::MAX, "18446744073709551615", "max, 20 digits"),
        ];
        for (input, want, why) in unsigned {
            assert_eq!(s(|o| push_u64(o, *input)), *want, "{why}");
        }
        let signed: &[(i64, &str, &str)] = &[
            (0, "0", "zero"),
            (-1, "-1", "negative"),
            (-120, "-120", "negative with zero"),
            (i64::MAX, "9223372036854775807", "max"),
            (i64::MIN, "-9223372036854775808", "min does not overflow"),
        ];
        for (input, want, why) in signed {
            assert_eq!(s(|o| push_i64(o, *input)), *want, "{why}");
        }
    }

    #[test]
    fn doubles() {
        let cases: &[(f64, &str, &str)] = &[
            (0.0, "0", "zero"),
            (-0.0, "-0", "negative zero keeps its sign"),
            (1.0, "1", "integral: no fraction"),
            (-3.0, "-3", "negative integral"),
            (1.5, "1.5", "simple fraction"),
            (1.25, "1.25", "exact binary fraction"),
            (2.5, "2.5", "a .5 fraction"),
            (-2.25, "-2.25", "negative fraction"),
            (0.1, "0.1", "short decimal, not 0.1000000000000000055…"),
            (0.3, "0.3", "short decimal"),
            (0.001, "0.001", "leading zeros after the point"),
            (4.4, "4.4", "the scaled value is a tie, ties go to even"),
            (8.2, "8.2", "15 digits, not 8.199999999999999"),
            (8.3, "8.3", "15 digits, not 8.300000000000001"),
            (64.1, "64.1", "15 digits, not 64.09999999999999"),
            (0.1 + 0.2, "0.3", "at most 16 digits: 1 ULP off (JavaScript: 0.30000000000000004)"),
            (1.0 / 3.0, "0.3333333333333333", "16 digits"),
            (2.0 / 3.0, "0.6666666666666666", "16 digits, like JavaScript"),
            (123.456, "123.456", "point in the middle"),
            (0.000001, "0.000001", "1e-6 is still positional"),
            (1.2e-7, "1.2e-7", "below 1e-6 goes exponential"),
            (1e-7, "1e-7", "single digit exponential"),
            (9_007_199_254_740_991.0, "9007199254740991", "2^53 - 1, integral path"),
            (9_007_199_254_740_992.0, "9007199254740992", "2^53, general path, positional"),
            (1_152_921_504_606_846_976.0, "1152921504606847000", "2^60: 16 digits, then zeros, like JavaScript"),
            (1e20, "100000000000000000000", "1e20 positional, like JS"),
            (1e21, "1e+21", "1e21 goes exponential, like JS"),
            (6.02214076e23, "6.02214076e+23", "short mantissa, big exponent"),
            (1.5e300, "1.5e+300", "large with fraction digits"),
            (1e300, "1e+300", "large"),
            (1e308, "1e+308", "largest power of ten"),
            (1.6e-19, "1.6e-19", "small, chunked scaling"),
            (5e-324, "5e-324", "smallest subnormal: one digit, not 4.94…e-324"),
            (1e-323, "1e-323", "2 × the smallest subnormal"),
            (1.5e-320, "1.5e-320", "subnormal"),
            (2.225073858507201e-308, "2.2250738585072008e-308", "largest subnormal: 17 digits, exact"),
            (f64::MIN_POSITIVE, "2.225073858507202e-308", "smallest normal: 16 digits, 1 ULP off"),
            (f64::MAX, "1.797693134862315e+308", "max: rounded down (…316e308 would read back as inf)"),
            (f64::MIN, "-1.797693134862315e+308", "min"),
            (f64::NAN, "\"NaN\"", "NaN as a string (proto3 JSON)"),
            (f64::INFINITY, "\"Infinity\"", "+inf as a string"),
            (f64::NEG_INFINITY, "\"-Infinity\"", "-inf as a string"),
        ];
        for (input, want, why) in cases {
            assert_eq!(s(|o| push_f64(o, *input)), *want, "{why}");
        }
    }

    /// `text` is a JSON number that reads back (with the standard library's exact parser)
    /// within a relative error of 1e-15 of `v`, with the same sign; returns what it reads as.
    fn check_double(v: f64) -> f64 {
        let text = s(|o| push_f64(o, v));
        let bytes = text.as_bytes();
        let digits_ok = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_digit);
        let (body, exp) = match text.split_once('e') {
            Some((body, exp)) => (body, Some(exp)),
            None => (text.as_str(), None),
        };
        let body = body.strip_prefix('-').unwrap_or(body);
        let (int, frac) = body.split_once('.').unwrap_or((body, "0"));
        assert!(
            digits_ok(int.as_bytes())
                && (int == "0" || !int.starts_with('0'))
                && digits_ok(frac.as_bytes())
                && exp
                    .is_none_or(|e| matches!(e.as_bytes().first(), Some(b'+' | b'-')) && digits_ok(&e.as_bytes()[1..]))
                && bytes.len() <= 25,
            "{text} is a JSON number"
        );
        let back: f64 = text.parse().unwrap_or_else(|_| panic!("{text} parses"));
        assert!(back.is_finite() && back.is_sign_negative() == v.is_sign_negative(), "{text} for {v:e}");
        let rel = ((back - v) / v).abs();
        assert!(back == v || rel <= 1e-15, "{text} reads back {back:e} for {v:e}: relative error {rel:e}");
        back
    }

    #[test]
    fn doubles_read_back_within_1e_15() {
        // xorshift over raw bit patterns plus some "human" values.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let (mut exact, mut total) = (0, 0);
        for i in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match i % 4 {
                0 | 1 => f64::from_bits(x),
                2 => (x >> 11) as f64 / 1000.0,
                _ => f64::from_bits(x >> 12), // subnormals
            };
            if !v.is_finite() {
                continue;
            }
            total += 1;
            exact += usize::from(check_double(v).to_bits() == v.to_bits());
        }
        // Most read back to the same bits; the rest are a few ULPs off.
        assert!(exact * 2 > total, "{exact} of {total} exact");
    }

    #[test]
    fn doubles_every_binade() {
        // Both ends of every binade, subnormals included, and a few values in between.
        for e in 0..2047u64 {
            let lo = e << 52;
            for m in [0, 1, 0x8_0000_0000_0000, 0xf_ffff_ffff_fffe, 0xf_ffff_ffff_ffff] {
                let v = f64::from_bits(lo | m);
                if v != 0.0 {
                    check_double(v);
                    check_double(-v);
                }
            }
        }
    }

    #[test]
    fn short_decimals_print_as_written() {
        // Up to 15 significant digits: the text is the shortest form, and reads back exactly.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = 1 + (x % 15) as u32;
            let mut mant = (x >> 8) % 10u64.pow(digits);
            if mant == 0 {
                continue;
            }
            while mant % 10 == 0 {
                mant /= 10;
            }
            let exp = ((x >> 40) % 90) as i32 - 45;
            let v: f64 = format!("{mant}e{exp}").parse().expect("parses");
            let text = s(|o| push_f64(o, v));
            assert_eq!(check_double(v).to_bits(), v.to_bits(), "{mant}e{exp} -> {text}");
            let sig = text.split('e').next().unwrap_or("").replace('.', "");
            let sig = sig.trim_start_matches('0');
            let sig = if text.contains('e') { sig } else { sig.trim_end_matches('0') };
            assert_eq!(sig, mant.to_string().trim_end_matches('0'), "{mant}e{exp} -> {text}");
        }
    }
}
