//! What the page tells us: `<meta name="traceparent">`, the browser, and `sessionStorage`.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::KeyValue;
use crate::propagation::{TraceState, parse_traceparent};
use crate::span_context::SpanContext;
use js_sys::Function;
use wasm_bindgen::JsValue;

// What may be missing comes back as a JsValue read with `as_string`/`as_f64`: an
// `Option<String>` return costs each import its own glue (about 250 B of JS and the .wasm's
// return slot), `as_string` is shared.
#[wasm_bindgen::prelude::wasm_bindgen(module = "/js/page.js")]
extern "C" {
    #[wasm_bindgen(js_name = resolveUrl)]
    fn resolve_url_js(url: &str) -> JsValue;
    #[wasm_bindgen(js_name = loadEventTime)]
    fn load_event_time() -> JsValue;
    #[wasm_bindgen(js_name = meta)]
    fn meta_js(name: &str) -> JsValue;
    #[wasm_bindgen(js_name = serverTraceparent)]
    fn server_traceparent() -> JsValue;
    #[wasm_bindgen(js_name = documentComplete)]
    fn document_complete_js() -> bool;
    #[wasm_bindgen(js_name = browserFacts)]
    fn browser_facts() -> js_sys::Array;
    #[wasm_bindgen(js_name = sessionGet)]
    fn session_get_js(key: &str) -> JsValue;
    #[wasm_bindgen(js_name = sessionSet)]
    pub(super) fn session_set(key: &str, value: &str);
    #[wasm_bindgen(js_name = onLoad)]
    fn on_load_js(cb: &Function);
}

/// When the document's `load` event happened (epoch ns), if it has.
pub fn loaded_at() -> Option<u64> {
    load_event_time().as_f64().map(|t| super::platform::clock().at(t))
}

/// `url` resolved against the page by the browser's URL parser (`new URL(url, base)`), or
/// `None` when the parser rejects it.
pub fn resolve_url(url: &str) -> Option<String> {
    resolve_url_js(url).as_string()
}

fn meta(name: &str) -> Option<String> {
    meta_js(name).as_string()
}

/// The tab's `sessionStorage` value at `key`, if there is one (and storage can be read).
#[cfg(feature = "auto")]
pub(super) fn session_get(key: &str) -> Option<String> {
    session_get_js(key).as_string()
}

/// The server-rendered context from `<meta name="traceparent" content="…">` (and
/// `<meta name="tracestate">`), if the page has a valid one.
pub fn meta_parent() -> Option<SpanContext> {
    let tp = meta("traceparent")?;
    let mut cx = parse_traceparent(&tp).ok()?;
    if let Some(ts) = meta("tracestate") {
        cx.trace_state = TraceState::parse(&ts).unwrap_or_default();
    }
    Some(cx)
}

/// The server's context from the document response's `Server-Timing: traceparent;desc="00-…"`
/// (links the page to its backend with no request header), if valid.
pub fn server_timing_parent() -> Option<SpanContext> {
    parse_traceparent(&server_traceparent().as_string()?).ok()
}

/// True once the document has finished loading (or when there is no document, in a worker).
pub fn document_complete() -> bool {
    document_complete_js()
}

/// Browser resource attributes (OpenTelemetry's browser conventions): `user_agent.original`,
/// `browser.language`, and from User-Agent Client Hints where the browser has them (Chromium, in
/// secure contexts) `browser.brands`, `browser.platform`, `browser.mobile`.
pub fn browser_attributes() -> Vec<KeyValue> {
    let facts = browser_facts();
    let keys = ["user_agent.original", "browser.language", "browser.brands", "browser.platform", "browser.mobile"];
    let mut out = Vec::with_capacity(keys.len());
    for (i, key) in keys.into_iter().enumerate() {
        if let Some(v) = super::convert::attr_value(&facts.get(i as u32)) {
            out.push(KeyValue::new(key, v));
        }
    }
    out
}

/// Calls `f` once at the window's `load` event (never, where there is no window).
pub fn on_load(f: &Function) {
    on_load_js(f);
}
