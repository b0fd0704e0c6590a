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
//! Everything is pushed into a `String` by hand; the one use of `core::fmt` is for the digits
//! of non-integral doubles (see `push_f64`).

use crate::attribute::{KeyValue, Value};
use crate::ids::push_hex;
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
/// ```ignore
/// let enc = Encoder::new(&resource, SCOPE_NAME, SDK_VERSION);
/// let mut body = String::new();
/// enc.encode(&spans, &mut body);
/// ```
#[derive(Clone, Debug)]
pub struct Encoder {
    /// Everything up to and including `"spans":[`.
    prefix: String,
}

impl Encoder {
    /// An encoder for spans of `resource`, reported under the instrumentation scope
    /// `scope_name`/`scope_version` (an empty version is left out).
    pub fn new(resource: &Resource, scope_name: &str, scope_version: &str) -> Encoder {
        let mut p = String::with_capacity(128 + resource.attributes.len() * 48);
        p.push_str("{\"resourceSpans\":[{\"resource\":{");
        if !resource.attributes.is_empty() {
            push_attributes_field(&mut p, "\"attributes\":", &resource.attributes);
        }
        p.push_str("},\"scopeSpans\":[{\"scope\":{\"name\":");
        push_json_string(&mut p, scope_name);
        if !scope_version.is_empty() {
            p.push_str(",\"version\":");
            push_json_string(&mut p, scope_version);
        }
        p.push_str("},\"spans\":[");
        Encoder { prefix: p }
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
/// without a fraction (`3`); unlike JavaScript, negative zero keeps its sign (`-0`). `NaN`, `Infinity` and `-Infinity` are
/// written as JSON strings, per the proto3 JSON mapping.
///
/// Integral values below 2^53 (common: JavaScript numbers that are really integers) take a
/// hand-written path; other finite values take their shortest round-trip digits from
/// `core`'s float formatter (`{:e}`, Grisu with exact fallback) into a stack buffer, since a
/// correct shortest-digits algorithm written here would be larger than the code it replaces.
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
    if a < 9_007_199_254_740_992.0 && a.fract() == 0.0 {
        push_u64(out, a as u64);
        return;
    }
    let mut buf = StackBuf { b: [0; 32], n: 0 };
    // Shortest round-trip digits: `d[.ddd]e[-]x`. Cannot fail: at most 17 digits + 7 bytes.
    let _ = core::fmt::write(&mut buf, format_args!("{a:e}"));
    let text = &buf.b[..buf.n];
    let e_at = text.iter().position(|&c| c == b'e').unwrap_or(text.len());
    let mut digits = [0u8; 24];
    let mut k = 0;
    for &c in &text[..e_at] {
        if c != b'.' {
            digits[k] = c;
            k += 1;
        }
    }
    let digits = &digits[..k];
    let mut exp: i32 = 0;
    let mut neg_exp = false;
    for &c in text.get(e_at + 1..).unwrap_or(&[]) {
        if c == b'-' {
            neg_exp = true;
        } else {
            exp = exp * 10 + i32::from(c - b'0');
        }
    }
    if neg_exp {
        exp = -exp;
    }
    // ECMAScript Number::toString: the value is 0.d1d2…dk × 10^n.
    let k = k as i32;
    let n = exp + 1;
    let push_digits = |out: &mut String, d: &[u8]| d.iter().for_each(|&c| out.push(c as char));
    if k <= n && n <= 21 {
        push_digits(out, digits);
        (0..n - k).for_each(|_| out.push('0'));
    } else if 0 < n && n <= 21 {
        push_digits(out, &digits[..n as usize]);
        out.push('.');
        push_digits(out, &digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        (0..-n).for_each(|_| out.push('0'));
        push_digits(out, digits);
    } else {
        push_digits(out, &digits[..1]);
        if k > 1 {
            out.push('.');
            push_digits(out, &digits[1..]);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        push_u64(out, u64::from((n - 1).unsigned_abs()));
    }
}

/// A fixed buffer for one formatted float.
struct StackBuf {
    b: [u8; 32],
    n: usize,
}

impl core::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.n + s.len();
        let dst = self.b.get_mut(self.n..end).ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.n = end;
        Ok(())
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
            (-2.25, "-2.25", "negative fraction"),
            (0.1, "0.1", "shortest round-trip digits"),
            (0.3, "0.3", "shortest"),
            (0.1 + 0.2, "0.30000000000000004", "17 digits when needed"),
            (123.456, "123.456", "point in the middle"),
            (0.000001, "0.000001", "1e-6 is still positional"),
            (1.2e-7, "1.2e-7", "below 1e-6 goes exponential"),
            (1e-7, "1e-7", "single digit exponential"),
            (9_007_199_254_740_991.0, "9007199254740991", "2^53 - 1, integral path"),
            (9_007_199_254_740_992.0, "9007199254740992", "2^53, general path, positional"),
            (1e20, "100000000000000000000", "1e20 positional, like JS"),
            (1e21, "1e+21", "1e21 goes exponential, like JS"),
            (1.5e300, "1.5e+300", "large with fraction digits"),
            (1e300, "1e+300", "large"),
            (5e-324, "5e-324", "smallest subnormal"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308", "smallest normal"),
            (f64::MAX, "1.7976931348623157e+308", "max"),
            (f64::MIN, "-1.7976931348623157e+308", "min"),
            (f64::NAN, "\"NaN\"", "NaN as a string (proto3 JSON)"),
            (f64::INFINITY, "\"Infinity\"", "+inf as a string"),
            (f64::NEG_INFINITY, "\"-Infinity\"", "-inf as a string"),
        ];
        for (input, want, why) in cases {
            assert_eq!(s(|o| push_f64(o, *input)), *want, "{why}");
        }
    }

    #[test]
    fn doubles_round_trip() {
        // xorshift over raw bit patterns plus some "human" values.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = if i % 2 == 0 { f64::from_bits(x) } else { (x >> 11) as f64 / 1000.0 };
            if !v.is_finite() {
                continue;
            }
            let text = s(|o| push_f64(o, v));
            let back: f64 = text.parse().unwrap_or_else(|_| panic!("{text} parses"));
            assert_eq!(back.to_bits(), v.to_bits(), "{text} round-trips {v:e}");
            assert!(!text.contains(".e") && !text.ends_with('.'), "{text} is a JSON number");
        }
    }
}
