//! OTLP JSON: a structural pre-scan, then serde into [`crate::model`] with strict field decoders.
//!
//! The pre-scan counts objects and arrays (outside strings) and the nesting depth before
//! anything is allocated, so `[{},{},…]` cannot grow into millions of structs. Messages must
//! be objects (serde would also fill a struct from an array). The field decoders follow the OTLP JSON encoding and nothing looser: ids are lowercase hex of the exact
//! length (a generic protobuf-JSON parser would take base64), 64-bit integers are decimal strings
//! (or integer numbers, which proto3 JSON also allows), doubles are numbers or `"NaN"`,
//! `"Infinity"`, `"-Infinity"`, bytes are base64. Errors name the path of the bad field.

use crate::error::Reject;
use crate::model::{AnyValue, ArrayValue, ExportRequest, KeyValueList, Value};
use crate::validate::Limits;
use base64::Engine;
use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// Decodes an OTLP JSON `ExportTraceServiceRequest` or `ExportLogsServiceRequest`.
pub fn decode<R: ExportRequest>(body: &[u8], limits: &Limits) -> Result<R, Reject> {
    let shape = scan(body, limits.max_depth);
    if shape.depth > limits.max_depth {
        return Err(Reject::bad_request(format!("JSON is nested deeper than {} levels", limits.max_depth)));
    }
    if shape.nodes > limits.max_nodes {
        return Err(Reject::too_large(format!(
            "JSON holds {} objects and arrays, over the limit of {}; send smaller batches",
            shape.nodes, limits.max_nodes
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let Object(req) = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." { String::new() } else { format!(" at {path}") };
        Reject::bad_request(format!("invalid OTLP JSON{at}: {}", e.into_inner()))
    })?;
    de.end().map_err(|e| Reject::bad_request(format!("invalid OTLP JSON: {e}")))?;
    Ok(req)
}

/// How many objects and arrays a JSON text holds, and how deep they nest.
#[derive(Debug, PartialEq)]
pub struct Shape {
    pub nodes: usize,
    pub depth: usize,
}

/// Scans `body` without parsing it; stops early once deeper than `max_depth`. Malformed text
/// gives some shape; the parser reports the error.
pub fn scan(body: &[u8], max_depth: usize) -> Shape {
    let (mut nodes, mut depth, mut deepest) = (0, 0usize, 0);
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                nodes += 1;
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > max_depth {
                    break;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Shape { nodes, depth: deepest }
}

/// A message that must be a JSON object: serde's derived structs would also take an array,
/// filled positionally, which OTLP JSON is not.
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object<T>, D::Error> {
        struct Map<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Map<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Map(PhantomData)).map(Object)
    }
}

/// A repeated message field: an array of objects.
pub fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Vec::<Object<T>>::deserialize(d)?.into_iter().map(|o| o.0).collect())
}

/// An optional message field: an object or `null`.
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Option::<Object<T>>::deserialize(d)?.map(|o| o.0))
}

/// `traceId`: 32 lowercase hex characters (16 bytes); `""` is "absent".
pub fn trace_id<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_str(HexId(16))
}

/// `spanId` / `parentSpanId`: 16 lowercase hex characters (8 bytes); `""` is "absent".
pub fn span_id<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_str(HexId(8))
}

/// A `fixed64` time: a decimal string or a non-negative integer.
pub fn uint64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(U64)
}

struct HexId(usize);

impl Visitor<'_> for HexId {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} lowercase hex characters", self.0 * 2)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Vec<u8>, E> {
        if s.is_empty() {
            return Ok(Vec::new());
        }
        let want = self.0 * 2;
        let lower = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
        if s.len() == want && s.bytes().all(|c| c.is_ascii_hexdigit()) && !s.bytes().all(lower) {
            return Err(E::custom(format!("must be lowercase hex, got {}", quote(s))));
        }
        if s.len() != want || !s.bytes().all(lower) {
            return Err(E::custom(format!("must be {want} lowercase hex characters, got {}", quote(s))));
        }
        Ok(s.as_bytes().chunks(2).map(|p| (nibble(p[0]) << 4) | nibble(p[1])).collect())
    }
}

fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

/// A user string shown in an error: quoted, escaped, at most 40 characters.
fn quote(s: &str) -> String {
    let mut short: String = s.chars().take(40).collect();
    if short.len() < s.len() {
        short.push('…');
    }
    format!("{short:?}")
}

struct U64;

impl Visitor<'_> for U64 {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an unsigned 64-bit integer as a decimal string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<u64, E> {
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(E::custom(format!("must be an unsigned 64-bit integer as a decimal string, got {}", quote(s))));
        }
        s.parse().map_err(|_| E::custom(format!("{} does not fit in 64 bits", quote(s))))
    }
}

/// `intValue`: a decimal string or an integer.
struct I64(i64);

impl<'de> Deserialize<'de> for I64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<I64, D::Error> {
        d.deserialize_any(I64Visitor).map(I64)
    }
}

struct I64Visitor;

impl Visitor<'_> for I64Visitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a signed 64-bit integer as a decimal string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("{v} does not fit in a signed 64-bit integer")))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<i64, E> {
        let digits = s.strip_prefix('-').unwrap_or(s);
        if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(E::custom(format!("must be a signed 64-bit integer as a decimal string, got {}", quote(s))));
        }
        s.parse().map_err(|_| E::custom(format!("{} does not fit in a signed 64-bit integer", quote(s))))
    }
}

/// `doubleValue`: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
struct F64(f64);

impl<'de> Deserialize<'de> for F64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<F64, D::Error> {
        d.deserialize_any(F64Visitor).map(F64)
    }
}

struct F64Visitor;

impl Visitor<'_> for F64Visitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<f64, E> {
        match s {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
        }
    }
}

/// `bytesValue`: base64 (standard or URL-safe, padding optional).
struct Base64(Vec<u8>);

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Base64, D::Error> {
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        let cfg = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
        let s = String::deserialize(d)?;
        GeneralPurpose::new(&base64::alphabet::STANDARD, cfg)
            .decode(&s)
            .or_else(|_| GeneralPurpose::new(&base64::alphabet::URL_SAFE, cfg).decode(&s))
            .map(Base64)
            .map_err(|_| de::Error::custom(format!("bytesValue must be base64, got {}", quote(&s))))
    }
}

/// An `AnyValue` as JSON writes it: an object with at most one of these keys.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnyValueJson {
    string_value: Option<String>,
    bool_value: Option<bool>,
    int_value: Option<I64>,
    double_value: Option<F64>,
    #[serde(default, deserialize_with = "object")]
    array_value: Option<ArrayValue>,
    #[serde(default, deserialize_with = "object")]
    kvlist_value: Option<KeyValueList>,
    bytes_value: Option<Base64>,
}

impl TryFrom<AnyValueJson> for AnyValue {
    type Error = String;

    fn try_from(j: AnyValueJson) -> Result<AnyValue, String> {
        let all = [
            j.string_value.map(Value::StringValue),
            j.bool_value.map(Value::BoolValue),
            j.int_value.map(|v| Value::IntValue(v.0)),
            j.double_value.map(|v| Value::DoubleValue(v.0)),
            j.array_value.map(Value::ArrayValue),
            j.kvlist_value.map(Value::KvlistValue),
            j.bytes_value.map(|v| Value::BytesValue(v.0)),
        ];
        let mut set = all.into_iter().flatten();
        let value = set.next();
        if set.next().is_some() {
            return Err("a value holds more than one of stringValue, boolValue, intValue, doubleValue, \
                        arrayValue, kvlistValue, bytesValue"
                .into());
        }
        Ok(AnyValue { value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::ExportTraceServiceRequest;

    fn decode_str(s: &str) -> Result<ExportTraceServiceRequest, String> {
        decode(s.as_bytes(), &Limits::default()).map_err(|r| r.to_string())
    }

    fn span(fields: &str) -> String {
        format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{fields}}}]}}]}}]}}"#)
    }

    const IDS: &str = r#""traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7""#;

    #[test]
    fn scan_counts_outside_strings() {
        let cases: &[(&str, usize, usize, &str)] = &[
            ("{}", 1, 1, "one object"),
            ("[{},[]]", 3, 2, "nested"),
            (r#"{"a":"{[\"]}"}"#, 1, 1, "brackets and escaped quotes in strings do not count"),
            (r#"{"a":"\\"}"#, 1, 1, "an escaped backslash ends the escape"),
            ("[[[[", 4, 4, "unclosed still counts"),
            ("", 0, 0, "empty"),
        ];
        for (text, nodes, depth, why) in cases {
            assert_eq!(scan(text.as_bytes(), 64), Shape { nodes: *nodes, depth: *depth }, "{why}");
        }
    }

    #[test]
    fn fields() {
        let ok = |f: &str| {
            decode_str(&span(&format!("{IDS},{f}"))).map(|r| r.resource_spans[0].scope_spans[0].spans[0].clone())
        };
        let s = ok(r#""startTimeUnixNano":"1700000000123456789","endTimeUnixNano":1700000000223456789"#).unwrap();
        assert_eq!(
            (s.start_time_unix_nano, s.end_time_unix_nano),
            (1_700_000_000_123_456_789, 1_700_000_000_223_456_789)
        );
        assert_eq!(s.trace_id[0], 0x4b);
        let bad: &[(&str, &str, &str)] = &[
            (r#""startTimeUnixNano":"-1""#, "unsigned 64-bit", "negative time"),
            (r#""startTimeUnixNano":"18446744073709551616""#, "does not fit", "time over u64"),
            (r#""startTimeUnixNano":1.5"#, "invalid type", "float time"),
            (r#""startTimeUnixNano":true"#, "invalid type", "bool time"),
            (r#""kind":"SPAN_KIND_CLIENT""#, "invalid type", "enum by name"),
            (r#""parentSpanId":"00F067AA0BA902B7""#, "must be lowercase hex", "uppercase"),
            (r#""parentSpanId":"00f067aa0ba902""#, "must be 16 lowercase hex", "short"),
            (r#""parentSpanId":"AA8GZ0+/AAAAAAAA""#, "must be 16 lowercase hex", "base64-looking"),
            (r#""attributes":[{"key":"a","value":{"intValue":"1x"}}]"#, "signed 64-bit", "bad int"),
            (r#""attributes":[{"key":"a","value":{"doubleValue":"1.5"}}]"#, "invalid value", "double as string"),
            (r#""attributes":[{"key":"a","value":{"stringValue":"x","intValue":"1"}}]"#, "more than one", "two values"),
            (r#""attributes":[{"key":"a","value":{"bytesValue":"***"}}]"#, "base64", "bad base64"),
        ];
        for (f, want, why) in bad {
            let err = ok(f).unwrap_err();
            assert!(err.contains(want), "{why}: {err}");
            assert!(err.contains("resourceSpans[0].scopeSpans[0].spans[0]."), "{why}: path in {err}");
        }
    }

    #[test]
    fn values() {
        let r = decode_str(&span(&format!(
            r#"{IDS},"attributes":[{{"key":"d","value":{{"doubleValue":"-Infinity"}}}},{{"key":"b","value":{{"bytesValue":"AAEC"}}}},{{"key":"e","value":{{}}}}]"#
        )))
        .unwrap();
        let attrs = &r.resource_spans[0].scope_spans[0].spans[0].attributes;
        assert_eq!(attrs[0].value.as_ref().unwrap().value, Some(Value::DoubleValue(f64::NEG_INFINITY)));
        assert_eq!(attrs[1].value.as_ref().unwrap().value, Some(Value::BytesValue(vec![0, 1, 2])));
        assert_eq!(attrs[2].value.as_ref().unwrap().value, None, "{{}} is the empty value");
    }

    #[test]
    fn the_sdk_golden_decodes() {
        let golden = include_str!("../../../../tests/fixtures/otlp_golden.json");
        let r = decode_str(golden).unwrap();
        assert_eq!(r.span_count(), 4);
        assert_eq!(r.spans().nth(2).unwrap().end_time_unix_nano, u64::MAX);
    }

    #[test]
    fn trailing_text_and_depth() {
        assert!(decode_str("{} x").unwrap_err().contains("trailing"));
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(decode_str(&deep).unwrap_err().contains("nested deeper"));
    }
}
