//! JavaScript attribute values that JavaScript cannot hand over as a plain string, number or
//! boolean (arrays, bigint) to Canopy's. Bad input is skipped, never thrown.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::{Str, Value};
use js_sys::Array;
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
    if crate::float::is_safe_integer(n) { Value::I64(n as i64) } else { Value::F64(n) }
}

/// Every item of `a` read by `read`; `None` at the first it refuses (another type, or a hole).
/// Grown as read, not sized from `length`: a sparse array's length (up to 2^32 - 1) would
/// overflow the allocation, which traps.
pub(super) fn all<T>(a: &Array, read: impl Fn(JsValue) -> Option<T>) -> Option<Vec<T>> {
    let mut out = Vec::new();
    for v in a.iter() {
        out.push(read(v)?);
    }
    Some(out)
}

fn array(a: &Array) -> Option<Value> {
    let len = a.length();
    if len == 0 {
        return Some(Value::StringArray(Vec::new()));
    }
    let first = a.get(0);
    if first.is_string() {
        all(a, |v| v.as_string().map(Str::Owned)).map(Value::StringArray)
    } else if first.as_bool().is_some() {
        all(a, |v| v.as_bool()).map(Value::BoolArray)
    } else if first.as_f64().is_some() {
        let nums = all(a, |v| v.as_f64())?;
        if nums.iter().all(|n| crate::float::is_safe_integer(*n)) {
            Some(Value::I64Array(nums.into_iter().map(|n| n as i64).collect()))
        } else {
            Some(Value::F64Array(nums))
        }
    } else {
        None
    }
}
