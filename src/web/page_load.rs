//! The page load as spans, from Navigation and Resource Timing, named as OpenTelemetry's
//! `@opentelemetry/instrumentation-document-load` names them: `documentLoad` (the navigation
//! to the end of the load event) with a `documentFetch` child (the document's request) and a
//! `resourceFetch` child per resource loaded by then, each with its timing marks as events.
//!
//! Recorded once per page, in a task after the load event (never delaying it). `documentLoad`
//! starts before the load event, so the tracer's document-parent rule puts it in the trace the
//! server started: `<meta name="traceparent">`, else the document response's
//! `Server-Timing: traceparent;desc="00-…"`.

#[allow(unused_imports)]
use crate::prelude::*;

use super::platform;
use crate::attribute::KeyValue;
use crate::span::{Parent, Span};
use crate::span_context::SpanContext;
use core::cell::Cell;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/auto.js")]
extern "C" {
    fn timings(names: Vec<String>) -> js_sys::Array;
}

/// The network marks of every fetch (`documentFetch`, `resourceFetch`), in order.
const NETWORK: [&str; 9] = [
    "fetchStart",
    "domainLookupStart",
    "domainLookupEnd",
    "connectStart",
    "secureConnectionStart",
    "connectEnd",
    "requestStart",
    "responseStart",
    "responseEnd",
];
/// The document's own marks (`documentLoad`).
const DOCUMENT: [&str; 8] = [
    "unloadEventStart",
    "unloadEventEnd",
    "domInteractive",
    "domContentLoadedEventStart",
    "domContentLoadedEventEnd",
    "domComplete",
    "loadEventStart",
    "loadEventEnd",
];

local! {
    static DONE: Cell<bool> = Cell::new(false);
}
local! {
    /// `init` asked for the page load, which is not recorded yet (long frames wait for it).
    static WAITING: Cell<bool> = Cell::new(false);
}

/// The page load will be recorded (after the load event), unless it already was.
pub fn expect(on: bool) {
    WAITING.with(|w| w.set(on && !DONE.with(|d| d.get())));
}

/// True from [`expect`] until the page load is recorded.
pub fn waiting() -> bool {
    WAITING.with(|w| w.get())
}

/// One timing entry: its URL, its encoded body size and its marks (`performance.now()` ms, 0 =
/// did not happen), in the order of [`NETWORK`] then [`DOCUMENT`].
struct Row {
    url: String,
    size: f64,
    marks: Vec<f64>,
}

fn row(v: JsValue) -> Option<Row> {
    let a: js_sys::Array = v.dyn_into().ok()?;
    let url = a.get(0).as_string()?;
    let size = a.get(1).as_f64().unwrap_or(0.0);
    let marks = (2..2 + NETWORK.len() + DOCUMENT.len()).map(|i| a.get(i as u32).as_f64().unwrap_or(0.0)).collect();
    Some(Row { url, size, marks })
}

/// Records the page load once per page (a later `init` does not record it again).
pub fn record() {
    // Not waited for (`documentLoad` off, or stopped before this task ran: the next init that
    // asks for it records it).
    if !waiting() || DONE.with(|d| d.replace(true)) {
        return;
    }
    WAITING.with(|w| w.set(false));
    let load = record_spans();
    super::auto::release_frames(load);
}

/// The spans; `documentLoad`'s context and end (epoch ns), if there was a navigation entry.
fn record_spans() -> Option<(SpanContext, u64)> {
    let names: Vec<String> = NETWORK.iter().chain(DOCUMENT.iter()).map(|s| String::from(*s)).collect();
    let entries = timings(names);
    let mut rows = entries.iter().filter_map(row);
    let nav = rows.next()?;
    let clock = platform::clock();
    let at = |ms: f64| clock.at(ms);
    let t = super::tracer();
    let (start, end) = (nav.marks[0], nav.marks[NETWORK.len() + DOCUMENT.len() - 1]);
    let mut load =
        t.span("documentLoad").attributes([KeyValue::new("http.url", nav.url.clone())]).start_time(at(start)).start();
    marks(&mut load, &DOCUMENT, &nav.marks[NETWORK.len()..], at);
    let parent = Parent::Explicit(load.span_context().clone());
    for (name, r) in core::iter::once(("documentFetch", nav)).chain(rows.map(|r| ("resourceFetch", r))) {
        let attrs = [KeyValue::new("http.url", r.url), KeyValue::new("http.response_content_length", r.size as i64)];
        let mut s = t.span(name).parent_choice(parent.clone()).attributes(attrs).start_time(at(r.marks[0])).start();
        marks(&mut s, &NETWORK, &r.marks, at);
        s.end_at(at(r.marks[NETWORK.len() - 1].max(r.marks[0])));
    }
    load.end_at(at(end.max(start)));
    Some((load.span_context().clone(), at(end.max(start))))
}

/// The marks as events; 0 means "did not happen", except for `fetchStart`, every fetch's start
/// (Firefox puts the navigation's at the time origin, 0).
fn marks(span: &mut Span, names: &[&'static str], values: &[f64], at: impl Fn(f64) -> u64) {
    for (name, v) in names.iter().zip(values) {
        if *v > 0.0 || *name == "fetchStart" {
            span.add_event_at(*name, at(*v), Vec::new());
        }
    }
}
