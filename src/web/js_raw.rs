//! The low-level exports behind the JavaScript API (`js/api.js` builds the public API on them).
//!
//! A span crosses the boundary as a numeric handle ([`super::handles`]); its ids come back
//! through a small scratch buffer in wasm memory (trace id as four big-endian u32 words, span id
//! as two, then the flags word), so starting a span is one call and no allocation on the JS side.
//! Times arrive as JS numbers (`NaN` = now): epoch milliseconds, or `performance.now()` offsets
//! below [`crate::time::PERF_OFFSET_LIMIT_MS`].

use super::convert;
use super::handles;
use super::platform::{self, get};
use crate::attribute::{KeyValue, Str, Value};
use crate::ids::{SpanId, TraceFlags, TraceId};
use crate::propagation::TraceState;
use crate::span::{Parent, Span};
use crate::span_context::SpanContext;
use crate::span_data::Status;
use std::cell::UnsafeCell;
use wasm_bindgen::prelude::*;

/// Words: trace id (4), span id (2), flags (1; bit 8 = is_remote, bit 9 = has a trace state).
struct Scratch(UnsafeCell<[u32; 8]>);
// SAFETY: wasm32 without threads; JavaScript and Rust never touch it at the same time.
unsafe impl Sync for Scratch {}
static SCRATCH: Scratch = Scratch(UnsafeCell::new([0; 8]));

const FLAG_REMOTE: u32 = 0x100;
const FLAG_TRACE_STATE: u32 = 0x200;

fn write_scratch(cx: &SpanContext) {
    // SAFETY: see `Scratch`; no reference to the buffer outlives this call.
    let s = unsafe { &mut *SCRATCH.0.get() };
    for (w, b) in s[..4].iter_mut().zip(cx.trace_id.0.chunks_exact(4)) {
        *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    }
    for (w, b) in s[4..6].iter_mut().zip(cx.span_id.0.chunks_exact(4)) {
        *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    }
    let mut f = cx.trace_flags.0 as u32;
    if cx.is_remote {
        f |= FLAG_REMOTE;
    }
    if !cx.trace_state.is_empty() {
        f |= FLAG_TRACE_STATE;
    }
    s[6] = f;
}

fn read_scratch(trace_state: Option<String>) -> SpanContext {
    // SAFETY: see `Scratch`.
    let s = unsafe { &*SCRATCH.0.get() };
    let mut t = [0u8; 16];
    for (b, w) in t.chunks_exact_mut(4).zip(&s[..4]) {
        b.copy_from_slice(&w.to_be_bytes());
    }
    let mut sp = [0u8; 8];
    for (b, w) in sp.chunks_exact_mut(4).zip(&s[4..6]) {
        b.copy_from_slice(&w.to_be_bytes());
    }
    SpanContext {
        trace_id: TraceId(t),
        span_id: SpanId(sp),
        trace_flags: TraceFlags(s[6] as u8 & TraceFlags::KNOWN),
        is_remote: s[6] & FLAG_REMOTE != 0,
        trace_state: trace_state.and_then(|ts| TraceState::parse(&ts).ok()).unwrap_or_default(),
    }
}

fn time(ms: f64) -> Option<u64> {
    if ms.is_nan() { None } else { Some(platform::clock().from_js_millis(ms)) }
}

/// The scratch buffer's address in wasm memory.
#[wasm_bindgen(js_name = __scratch)]
pub fn scratch_ptr() -> u32 {
    SCRATCH.0.get() as u32
}

/// Starts a span. `parent_mode`: 0 = `parent` (a SpanContext-like object or another SDK's
/// span) if given, else the current span; 1 = the context in the scratch buffer (with
/// `trace_state`); 2 = none (a new trace). `kind` is OpenTelemetry JS's number (255 = default),
/// `start_ms` NaN = now. Writes the new span's context to the scratch buffer and returns its
/// handle.
#[wasm_bindgen(js_name = __start)]
#[allow(clippy::too_many_arguments)]
pub fn start(
    name: String,
    parent_mode: u32,
    trace_state: Option<String>,
    kind: u32,
    start_ms: f64,
    attributes: JsValue,
    links: JsValue,
    parent: JsValue,
) -> f64 {
    let mut o = convert::SpanOpts {
        kind: crate::span_data::SpanKind::from_otel_js(kind),
        start_time: time(start_ms),
        ..Default::default()
    };
    if !attributes.is_undefined() {
        o.attributes = convert::attributes(&attributes);
    }
    if !links.is_undefined() {
        o.links = convert::links(&links);
    }
    o.parent = match parent_mode {
        1 => Parent::Explicit(read_scratch(trace_state)),
        2 => Parent::Root,
        // An unreadable parent makes a root rather than guessing one.
        _ if !parent.is_undefined() => convert::span_context(&parent).map(Parent::Explicit).unwrap_or(Parent::Root),
        _ => Parent::Current,
    };
    let span = super::js_api::build(name, o);
    write_scratch(span.span_context());
    handles::insert(span)
}

/// [`start`] without options: the common case, with no JS values to convert.
#[wasm_bindgen(js_name = __start0)]
pub fn start0(name: String, parent_mode: u32) -> f64 {
    let o = convert::SpanOpts {
        parent: match parent_mode {
            1 => Parent::Explicit(read_scratch(None)),
            2 => Parent::Root,
            _ => Parent::Current,
        },
        ..Default::default()
    };
    let span = super::js_api::build(name, o);
    write_scratch(span.span_context());
    handles::insert(span)
}

/// The trace state of the span just started (call when its flags word says it has one).
#[wasm_bindgen(js_name = __traceState)]
pub fn trace_state(handle: f64) -> Option<String> {
    handles::with(handle, |s| s.span_context().trace_state.header_value())
}

/// Ends a span (`time` NaN = now). Unknown or ended handles are ignored.
#[wasm_bindgen(js_name = __end)]
pub fn end(handle: f64, time_ms: f64) {
    if let Some(mut s) = handles::take(handle) {
        match time(time_ms) {
            Some(t) => s.end_at(t),
            None => s.end(),
        }
    }
}

/// Sets a string attribute.
#[wasm_bindgen(js_name = __attrStr)]
pub fn attr_str(handle: f64, key: String, value: String) {
    handles::with(handle, |s| {
        s.set_attribute(KeyValue { key: Str::Owned(key), value: Value::String(Str::Owned(value)) })
    });
}

/// Sets a number attribute (integers become `intValue`, as OpenTelemetry JS does).
#[wasm_bindgen(js_name = __attrNum)]
pub fn attr_num(handle: f64, key: String, value: f64) {
    let v = if value.fract() == 0.0 && value.abs() <= 9_007_199_254_740_991.0 {
        Value::I64(value as i64)
    } else {
        Value::F64(value)
    };
    handles::with(handle, |s| s.set_attribute(KeyValue { key: Str::Owned(key), value: v }));
}

/// Sets a boolean attribute.
#[wasm_bindgen(js_name = __attrBool)]
pub fn attr_bool(handle: f64, key: String, value: bool) {
    handles::with(handle, |s| s.set_attribute(KeyValue { key: Str::Owned(key), value: Value::Bool(value) }));
}

/// Sets an attribute of any other type (arrays, bigint); invalid values are ignored.
#[wasm_bindgen(js_name = __attr)]
pub fn attr(handle: f64, key: String, value: JsValue) {
    if let Some(v) = convert::attr_value(&value) {
        handles::with(handle, |s| s.set_attribute(KeyValue { key: Str::Owned(key), value: v }));
    }
}

/// Sets the attributes of a plain object.
#[wasm_bindgen(js_name = __attrs)]
pub fn attrs(handle: f64, attributes: JsValue) {
    let kvs = convert::attributes(&attributes);
    handles::with(handle, |s| s.set_attributes(kvs));
}

/// Adds an event (`time` NaN = now).
#[wasm_bindgen(js_name = __event)]
pub fn event(handle: f64, name: String, attributes: JsValue, time_ms: f64) {
    let attrs = convert::attributes(&attributes);
    let t = time(time_ms);
    handles::with(handle, |s| match t {
        Some(t) => s.add_event_at(Str::Owned(name), t, attrs),
        None => s.add_event(Str::Owned(name), attrs),
    });
}

/// Records an exception event.
#[wasm_bindgen(js_name = __exception)]
pub fn exception(handle: f64, exception: JsValue, time_ms: f64) {
    let (kind, message, stack) = convert::exception(&exception);
    let t = time(time_ms);
    handles::with(handle, |s| s.record_exception(kind, message, stack, t));
}

/// Records `error` as the span's failure (exception event + error status) and ends it.
#[wasm_bindgen(js_name = __fail)]
pub fn fail(handle: f64, error: JsValue) {
    let (kind, message, stack) = convert::exception(&error);
    if let Some(mut s) = handles::take(handle) {
        s.record_failure(kind, message, stack);
        s.end();
    }
}

/// Sets the status (0 unset, 1 ok, 2 error).
#[wasm_bindgen(js_name = __status)]
pub fn status(handle: f64, code: u32, message: Option<String>) {
    let st = match code {
        1 => Status::Ok,
        2 => Status::Error(Str::Owned(message.unwrap_or_default())),
        _ => Status::Unset,
    };
    handles::with(handle, |s| s.set_status(st));
}

/// Renames a span.
#[wasm_bindgen(js_name = __rename)]
pub fn rename(handle: f64, name: String) {
    handles::with(handle, |s| s.update_name(Str::Owned(name)));
}

/// Adds a link `{ context, attributes }`.
#[wasm_bindgen(js_name = __link)]
pub fn link(handle: f64, link: JsValue) {
    if let Some(cx) = convert::span_context(&get(&link, "context")) {
        let attrs = convert::attributes(&get(&link, "attributes"));
        handles::with(handle, |s| s.add_link(cx, attrs));
    }
}

/// True while the span records (sampled, not ended).
#[wasm_bindgen(js_name = __recording)]
pub fn recording(handle: f64) -> bool {
    handles::with(handle, |s: &mut Span| s.is_recording()).unwrap_or(false)
}

/// Makes the context in the scratch buffer current; returns the depth to restore with `__exit`.
#[wasm_bindgen(js_name = __enter)]
pub fn enter(trace_state: Option<String>) -> u32 {
    crate::context::push(read_scratch(trace_state)) as u32
}

/// Restores the current-span stack to below `depth`.
#[wasm_bindgen(js_name = __exit)]
pub fn exit(depth: u32) {
    crate::context::truncate(depth as usize);
}
