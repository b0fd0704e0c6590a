//! JavaScript values to Canopy types. Bad input is skipped, never thrown.

use super::platform::get;
use crate::attribute::{KeyValue, Str, Value};
use crate::ids::{SpanId, TraceFlags, TraceId};
use crate::propagation::TraceState;
use crate::span::Parent;
use crate::span_context::SpanContext;
use crate::span_data::SpanKind;
use js_sys::{Array, Function, Object};
use wasm_bindgen::{JsCast, JsValue};

/// An attribute value from JS: string, boolean, number (integer → int, else double), bigint,
/// or a homogeneous array of those. `None` for anything else (dropped, as OpenTelemetry JS does).
pub fn attr_value(v: &JsValue) -> Option<Value> {
    if let Some(s) = v.as_string() {
        return Some(Value::String(Str::Owned(s)));
    }
    if let Some(n) = v.as_f64() {
        return Some(number(n));
    }
    if let Some(b) = v.as_bool() {
        return Some(Value::Bool(b));
    }
    if v.is_bigint() {
        return i64::try_from(v.clone()).ok().map(Value::I64);
    }
    if Array::is_array(v) {
        return array(v.unchecked_ref::<Array>());
    }
    None
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 { Value::I64(n as i64) } else { Value::F64(n) }
}

fn array(a: &Array) -> Option<Value> {
    let len = a.length();
    if len == 0 {
        return Some(Value::StringArray(Vec::new()));
    }
    let first = a.get(0);
    if first.is_string() {
        let mut out = Vec::with_capacity(len as usize);
        for v in a.iter() {
            out.push(Str::Owned(v.as_string()?));
        }
        Some(Value::StringArray(out))
    } else if first.as_bool().is_some() {
        a.iter().map(|v| v.as_bool()).collect::<Option<Vec<_>>>().map(Value::BoolArray)
    } else if first.as_f64().is_some() {
        let nums = a.iter().map(|v| v.as_f64()).collect::<Option<Vec<_>>>()?;
        if nums.iter().all(|n| n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0) {
            Some(Value::I64Array(nums.into_iter().map(|n| n as i64).collect()))
        } else {
            Some(Value::F64Array(nums))
        }
    } else {
        None
    }
}

/// The attributes of a plain object; invalid values are skipped.
pub fn attributes(obj: &JsValue) -> Vec<KeyValue> {
    if !obj.is_object() {
        return Vec::new();
    }
    let entries = Object::entries(obj.unchecked_ref());
    let mut out = Vec::with_capacity(entries.length() as usize);
    for e in entries.iter() {
        let pair: Array = e.unchecked_into();
        if let (Some(k), Some(v)) = (pair.get(0).as_string(), attr_value(&pair.get(1))) {
            out.push(KeyValue { key: Str::Owned(k), value: v });
        }
    }
    out
}

/// A span context from a Canopy or OpenTelemetry span (anything with `spanContext()`), or from a
/// `{ traceId, spanId, traceFlags, traceState? }` object. Invalid ids give `None`.
pub fn span_context(v: &JsValue) -> Option<SpanContext> {
    let obj = match get(v, "spanContext").dyn_into::<Function>() {
        Ok(f) => f.call0(v).ok()?,
        Err(_) => v.clone(),
    };
    let trace_id = TraceId::from_hex(&get(&obj, "traceId").as_string()?)?;
    let span_id = SpanId::from_hex(&get(&obj, "spanId").as_string()?)?;
    let flags = get(&obj, "traceFlags").as_f64().unwrap_or(0.0) as u8;
    let ts = get(&obj, "traceState");
    let ts_str = ts.as_string().or_else(|| {
        let ser = get(&ts, "serialize").dyn_into::<Function>().ok()?;
        ser.call0(&ts).ok()?.as_string()
    });
    let trace_state = ts_str.and_then(|s| TraceState::parse(&s).ok()).unwrap_or_default();
    let cx = SpanContext {
        trace_id,
        span_id,
        trace_flags: TraceFlags(flags & TraceFlags::KNOWN),
        is_remote: get(&obj, "isRemote").as_bool().unwrap_or(false),
        trace_state,
    };
    cx.is_valid().then_some(cx)
}

/// An exception's `(type, message, stacktrace)` from an `Error`, a string, or anything else.
pub fn exception(v: &JsValue) -> (Option<Str>, Option<Str>, Option<Str>) {
    if let Some(s) = v.as_string() {
        return (None, Some(Str::Owned(s)), None);
    }
    if v.is_object() {
        let name = get(v, "name").as_string().or_else(|| get(&get(v, "constructor"), "name").as_string());
        let message = get(v, "message").as_string();
        let stack = get(v, "stack").as_string();
        let code = get(v, "code").as_string();
        let kind = name.or(code).map(Str::Owned);
        return (kind, message.map(Str::Owned), stack.map(Str::Owned));
    }
    let text: String = js_sys::JsString::from(v.clone()).into();
    (None, Some(Str::Owned(text)), None)
}

/// Options for a new span.
#[derive(Default)]
pub struct SpanOpts {
    pub attributes: Vec<KeyValue>,
    pub kind: Option<SpanKind>,
    pub start_time: Option<u64>,
    pub parent: Parent,
    pub links: Vec<(SpanContext, Vec<KeyValue>)>,
}

/// Links from `[{ context, attributes }]`; unreadable ones are skipped.
pub fn links(v: &JsValue) -> Vec<(SpanContext, Vec<KeyValue>)> {
    let mut out = Vec::new();
    if Array::is_array(v) {
        for l in v.unchecked_ref::<Array>().iter() {
            if let Some(cx) = span_context(&get(&l, "context")) {
                out.push((cx, attributes(&get(&l, "attributes"))));
            }
        }
    }
    out
}
