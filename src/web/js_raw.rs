//! The low-level exports behind the JavaScript API (`js/api.js` builds the public API on them).
//!
//! A span crosses the boundary as a numeric handle ([`super::handles`]); its ids come back
//! through a small scratch buffer in wasm memory (trace id as four big-endian u32 words, span id
//! as two, then the flags word), so starting a span is one call and no allocation on the JS side.
//! Times arrive as JS numbers (`NaN` = now): epoch milliseconds, or `performance.now()` offsets
//! below [`crate::time::PERF_OFFSET_LIMIT_MS`].

#[allow(unused_imports)]
use crate::prelude::*;

use super::convert;
use super::handles;
use super::platform;
use crate::attribute::{KeyValue, Str, Value};
use crate::ids::{SpanId, TraceFlags, TraceId};
use crate::propagation::TraceState;
use crate::span::{Parent, Span};
use crate::span_context::SpanContext;
use crate::span_data::{SpanKind, Status};
use core::cell::UnsafeCell;
use wasm_bindgen::prelude::*;

/// Words: trace id (4), span id (2), flags (1; bit 8 = is_remote, bit 9 = has a trace state).
struct Scratch(UnsafeCell<[u32; 8]>);
// SAFETY: wasm32 without threads; JavaScript and Rust never touch it at the same time.
unsafe impl Sync for Scratch {}
static SCRATCH: Scratch = Scratch(UnsafeCell::new([0; 8]));

/// The numbers that cross the boundary, defined once: wasm-bindgen writes this enum into the
/// JavaScript glue (`Boundary.ParentRoot`, …), and `js/api.js` uses it from there.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum Boundary {
    /// `__start`: the parent is the current span (else the page's server-rendered trace).
    ParentCurrent = 0,
    /// `__start`: the parent is the context in the scratch buffer.
    ParentScratch = 1,
    /// `__start`: no parent (a new trace).
    ParentRoot = 2,
    /// Scratch flags word: the context is remote.
    FlagRemote = 0x100,
    /// Scratch flags word: the span has a trace state (read it with `__traceState`).
    FlagTraceState = 0x200,
    /// The handle meaning "the attributes of the next span, event or link".
    Pending = 0x7FFF_FFFF,
    /// `__captures` bit: record the page's `console.*` calls as logs.
    CaptureConsole = 0x2000,
    /// Links read from one `startSpan` options array, at most (a span keeps at most its link
    /// count limit, 128 by default): a sparse array's `length` (up to 2^32 - 1) never sets the
    /// work.
    MaxLinksRead = 1024,
    /// Strings (span names, attribute keys, short string values) kept in the interning table, at
    /// most: JavaScript then passes an id instead of the text.
    MaxInterned = 500,
    /// Longer strings are not kept (in bytes; JavaScript checks its UTF-16 length first, which is
    /// never more): the table lives as long as the page.
    MaxInternedLen = 128,
    /// String attribute values kept in the same table, at most (short ones that repeat, such as
    /// `GET` or a route's name: no copy into wasm memory per span); the rest of the table stays
    /// for names and keys.
    MaxInternedValues = 200,
    /// Longer string values are never kept (in UTF-16 code units).
    MaxInternedValueLen = 32,
}

const FLAG_REMOTE: u32 = Boundary::FlagRemote as u32;
const FLAG_TRACE_STATE: u32 = Boundary::FlagTraceState as u32;

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
    platform::clock().from_js_millis(ms)
}

/// The scratch buffer's address in wasm memory.
#[wasm_bindgen(js_name = __scratch)]
pub fn scratch_ptr() -> u32 {
    SCRATCH.0.get() as u32
}

local! {
    /// Attributes set with handle [`PENDING`]: the next `__start`, `__event` or `__link` takes them.
    static KVS: core::cell::RefCell<Vec<KeyValue>> = core::cell::RefCell::new(Vec::new());
}

/// The handle that means "the attributes of the next span, event or link".
const PENDING: f64 = Boundary::Pending as u32 as f64;

/// Strings kept for the life of the page, at most (span names, attribute keys and short string
/// values repeat: an id crosses the boundary instead of the text, and the span holds a
/// `&'static str`, no copy; a value cut by the length limit is cut in the span, as a shorter
/// slice, never in the table).
const MAX_INTERNED: usize = Boundary::MaxInterned as usize;
const MAX_INTERNED_LEN: usize = Boundary::MaxInternedLen as usize;

local! {
    static INTERNED: core::cell::RefCell<Vec<&'static str>> = core::cell::RefCell::new(Vec::new());
}

/// Keeps `s` for the life of the page and returns its id, or -1 when the table is full or `s`
/// is too long (then pass the text).
#[wasm_bindgen(js_name = __intern)]
pub fn intern(s: String) -> i32 {
    INTERNED.with(|t| {
        let mut t = t.borrow_mut();
        if t.len() >= MAX_INTERNED || s.len() > MAX_INTERNED_LEN {
            return -1;
        }
        t.push(Box::leak(s.into_boxed_str()));
        (t.len() - 1) as i32
    })
}

local! {
    /// Pending attributes set aside by [`nest`], innermost last.
    static SET_ASIDE: core::cell::RefCell<Vec<Vec<KeyValue>>> = core::cell::RefCell::new(Vec::new());
}

/// A call made while another call's attributes are being read (a getter that starts a span):
/// `true` before it sets the outer call's pending attributes aside, `false` after it gives them
/// back (dropping whatever the inner call left pending).
#[wasm_bindgen(js_name = __nest)]
pub fn nest(enter: bool) {
    KVS.with(|k| {
        let mut k = k.borrow_mut();
        SET_ASIDE.with(|a| {
            let mut a = a.borrow_mut();
            if enter {
                a.push(core::mem::take(&mut *k));
            } else {
                *k = a.pop().unwrap_or_default();
            }
        })
    })
}

/// The text passed, else the interned string `id`.
fn text(s: Option<String>, id: u32) -> Str {
    match s {
        Some(s) => Str::Owned(s),
        None => INTERNED.with(|t| t.borrow().get(id as usize).map_or(Str::Borrowed(""), |s| Str::Borrowed(*s))),
    }
}

/// Room for `session.id`, which the pipeline adds to every span when it ends (see
/// `attribute::bounded`); the core build has no session.
const SESSION_SLOT: usize = cfg!(feature = "auto") as usize;

/// The pending attributes, in a list of their size (a queued span keeps it) plus the session's
/// slot; the pending list keeps its buffer for the next span.
fn take_kvs() -> Vec<KeyValue> {
    KVS.with(|k| {
        let mut k = k.borrow_mut();
        let mut out = Vec::with_capacity(if k.is_empty() { 0 } else { k.len() + SESSION_SLOT });
        out.append(&mut k);
        // One span with many attributes does not keep a large buffer for the page's life.
        if k.capacity() > 32 {
            k.shrink_to_fit();
        }
        out
    })
}

fn set(handle: f64, kv: KeyValue) {
    if handle == PENDING {
        KVS.with(|k| k.borrow_mut().push(kv));
    } else {
        // Setting an attribute calls no JavaScript, so the span stays where it is.
        handles::with_in_place(handle, |s| s.set_attribute(kv));
    }
}

/// Writes a parent given by its hex ids (another SDK's span, a SpanContext object) to the
/// scratch buffer; false (scratch untouched) when the ids are not valid.
#[wasm_bindgen(js_name = __parent)]
pub fn parent(trace_id: &str, span_id: &str, flags: u32, remote: bool) -> bool {
    let (Some(t), Some(s)) = (TraceId::from_hex(trace_id), SpanId::from_hex(span_id)) else { return false };
    let cx = SpanContext {
        trace_id: t,
        span_id: s,
        trace_flags: TraceFlags(flags as u8 & TraceFlags::KNOWN),
        is_remote: remote,
        trace_state: TraceState::default(),
    };
    if !cx.is_valid() {
        return false;
    }
    write_scratch(&cx);
    true
}

/// Starts a span with the pending attributes. `parent_mode`: 0 = the current span (else the
/// page's server-rendered trace), 1 = the context in the scratch buffer (with `trace_state`),
/// 2 = none (a new trace). `kind` is OpenTelemetry JS's number (anything else: internal),
/// `start_ms` NaN = now. Writes the new span's context to the scratch buffer and returns its
/// handle.
#[wasm_bindgen(js_name = __start)]
pub fn start(
    name: Option<String>,
    name_id: u32,
    parent_mode: u32,
    trace_state: Option<String>,
    kind: u32,
    start_ms: f64,
) -> f64 {
    let parent = match parent_mode {
        m if m == Boundary::ParentScratch as u32 => Parent::Explicit(read_scratch(trace_state)),
        m if m == Boundary::ParentRoot as u32 => Parent::Root,
        _ => Parent::Current,
    };
    let t = super::tracer();
    let mut b = t.span(text(name, name_id)).parent_choice(parent);
    b.attributes = take_kvs();
    if let Some(k) = SpanKind::from_otel_js(kind) {
        b = b.kind(k);
    }
    if let Some(s) = time(start_ms) {
        b = b.start_time(s);
    }
    let span = b.start();
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

/// Sets a string attribute (handle [`PENDING`]: for the next span, event or link); the key and
/// the value are each the text passed, else an interned string's id.
#[wasm_bindgen(js_name = __attrStr)]
pub fn attr_str(handle: f64, key: Option<String>, key_id: u32, value: Option<String>, value_id: u32) {
    set(handle, KeyValue { key: text(key, key_id), value: Value::String(text(value, value_id)) });
}

/// Sets a number attribute (integers become `intValue`, as OpenTelemetry JS does).
#[wasm_bindgen(js_name = __attrNum)]
pub fn attr_num(handle: f64, key: Option<String>, key_id: u32, value: f64) {
    let v = if crate::float::is_safe_integer(value) { Value::I64(value as i64) } else { Value::F64(value) };
    set(handle, KeyValue { key: text(key, key_id), value: v });
}

/// Sets a boolean attribute.
#[wasm_bindgen(js_name = __attrBool)]
pub fn attr_bool(handle: f64, key: Option<String>, key_id: u32, value: bool) {
    set(handle, KeyValue { key: text(key, key_id), value: Value::Bool(value) });
}

/// Sets an array (or bigint) attribute; invalid values (mixed arrays, objects) are ignored.
#[wasm_bindgen(js_name = __attr)]
pub fn attr(handle: f64, key: String, value: JsValue) {
    if let Some(v) = convert::attr_value(&value) {
        set(handle, KeyValue { key: Str::Owned(key), value: v });
    }
}

/// Adds an event with the pending attributes (`time` NaN = now).
#[wasm_bindgen(js_name = __event)]
pub fn event(handle: f64, name: String, time_ms: f64) {
    let attrs = take_kvs();
    let t = time(time_ms);
    handles::with(handle, |s| match t {
        Some(t) => s.add_event_at(Str::Owned(name), t, attrs),
        None => s.add_event(Str::Owned(name), attrs),
    });
}

/// Adds a link to the context in the scratch buffer (see [`parent`]), with the pending attributes.
#[wasm_bindgen(js_name = __link)]
pub fn link(handle: f64, trace_state: Option<String>) {
    let attrs = take_kvs();
    let cx = read_scratch(trace_state);
    handles::with(handle, |s| s.add_link(cx, attrs));
}

fn owned(s: Option<String>) -> Option<Str> {
    s.map(Str::Owned)
}

/// Records an exception event from its parts (type, message, stack trace).
#[wasm_bindgen(js_name = __exception)]
pub fn exception(handle: f64, kind: Option<String>, message: Option<String>, stack: Option<String>, time_ms: f64) {
    let t = time(time_ms);
    handles::with(handle, |s| s.record_exception(owned(kind), owned(message), owned(stack), t));
}

/// Records a failure (exception event + error status) and ends the span.
#[wasm_bindgen(js_name = __fail)]
pub fn fail(handle: f64, kind: Option<String>, message: Option<String>, stack: Option<String>) {
    if let Some(mut s) = handles::take(handle) {
        s.record_failure(owned(kind), owned(message), owned(stack));
        s.end();
    }
}

/// An uncaught error or unhandled rejection (`rejection`) on the page at `page`: recorded as a
/// failure (exception event + error status) on the current span when one is active and still
/// live (an interaction whose handler threw, say; nothing when that span is not sampled), else on
/// a short `exception` span of its own.
pub fn uncaught(
    kind: Option<String>,
    message: Option<String>,
    stack: Option<String>,
    rejection: bool,
    page: Option<String>,
) {
    let kind = Str::Owned(kind.unwrap_or_else(|| String::from(if rejection { "UnhandledRejection" } else { "Error" })));
    let parts = (kind, owned(message), owned(stack), if rejection { "unhandledrejection" } else { "error" }, page);
    // The current span: one of the JavaScript API's, or an interaction whose handler threw.
    let recorded = crate::context::current().and_then(|cx| match handles::find(cx.span_id) {
        Some(h) => handles::with(h, |s| record_uncaught(s, &parts)),
        None => super::auto::with_interaction(cx.span_id, |s| record_uncaught(s, &parts)),
    });
    if recorded.is_none() {
        let mut span = super::tracer().start("exception");
        record_uncaught(&mut span, &parts);
        span.end();
    }
}

type Uncaught = (Str, Option<Str>, Option<Str>, &'static str, Option<String>);

fn record_uncaught(s: &mut Span, (kind, message, stack, source, page): &Uncaught) {
    s.set_attribute(KeyValue::new("canopy.error.source", *source));
    if let Some(p) = page {
        s.set_attribute(KeyValue::new("page.url", p.clone()));
    }
    s.record_failure(Some(kind.clone()), message.clone(), stack.clone());
}

/// Sets the status (0 unset, 1 ok, 2 error).
#[wasm_bindgen(js_name = __status)]
pub fn status(handle: f64, code: f64, message: Option<String>) {
    // OpenTelemetry's codes exactly; anything else (2.5, NaN, 2^32 + 2) leaves the status alone.
    let st = if code == 0.0 {
        Status::Unset
    } else if code == 1.0 {
        Status::Ok
    } else if code == 2.0 {
        Status::Error(Str::Owned(message.unwrap_or_default()))
    } else {
        return;
    };
    handles::with(handle, |s| s.set_status(st));
}

/// Renames a span.
#[wasm_bindgen(js_name = __rename)]
pub fn rename(handle: f64, name: String) {
    handles::with(handle, |s| s.update_name(Str::Owned(name)));
}

/// True while the span records (sampled, not ended).
#[wasm_bindgen(js_name = __recording)]
pub fn recording(handle: f64) -> bool {
    handles::with(handle, |s: &mut Span| s.is_recording()).unwrap_or(false)
}

/// Makes the context in the scratch buffer current; returns the depth to restore with `__exit`.
#[wasm_bindgen(js_name = __enter)]
pub fn enter(trace_state: Option<String>) -> u32 {
    let cx = read_scratch(trace_state);
    crate::context::push(cx) as u32
}

/// Restores the current-span stack to below `depth`.
#[wasm_bindgen(js_name = __exit)]
pub fn exit(depth: u32) {
    crate::context::truncate(depth as usize);
}

/// Records a log record with the pending attributes: `severity` is OpenTelemetry's
/// `SeverityNumber` (out of range: INFO), `time` NaN = now. The current span's ids go with it.
#[wasm_bindgen(js_name = __log)]
pub fn log(severity: u32, body: String, time_ms: f64) {
    let attrs = take_kvs();
    let sev = crate::log_data::Severity::from_number(severity).unwrap_or(crate::log_data::Severity::Info);
    super::tracer().log_at(sev, Str::Owned(body), attrs, time(time_ms));
}
