//! What the page tells us: `<meta name="traceparent">`, the browser, and the tab's session.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::KeyValue;
use crate::propagation::{TraceState, parse_traceparent};
use crate::span_context::SpanContext;
use js_sys::Function;

const SESSION_KEY: &str = "canopy.session.id";

#[wasm_bindgen::prelude::wasm_bindgen(module = "/js/page.js")]
extern "C" {
    #[wasm_bindgen(js_name = resolveUrl)]
    fn resolve_url_js(url: &str) -> Option<String>;
    #[wasm_bindgen(js_name = loadEventTime)]
    fn load_event_time() -> Option<f64>;
    fn meta(name: &str) -> Option<String>;
    #[wasm_bindgen(js_name = documentComplete)]
    fn document_complete_js() -> bool;
    #[wasm_bindgen(js_name = browserFacts)]
    fn browser_facts() -> js_sys::Array;
    #[wasm_bindgen(js_name = sessionGet)]
    fn session_get(key: &str) -> Option<String>;
    #[wasm_bindgen(js_name = sessionSet)]
    fn session_set(key: &str, value: &str);
    #[wasm_bindgen(js_name = onLoad)]
    fn on_load_js(cb: &Function);
}

/// When the document's `load` event happened (epoch ns), if it has.
pub fn loaded_at() -> Option<u64> {
    load_event_time().map(|t| super::platform::clock().at(t))
}

/// `url` resolved against the page by the browser's URL parser (`new URL(url, base)`), or
/// `None` when the parser rejects it.
pub fn resolve_url(url: &str) -> Option<String> {
    resolve_url_js(url)
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

/// True once the document has finished loading (or when there is no document, in a worker).
pub fn document_complete() -> bool {
    document_complete_js()
}

/// Browser resource attributes: `user_agent.original`, `browser.language`.
pub fn browser_attributes() -> Vec<KeyValue> {
    let facts = browser_facts();
    let mut out = Vec::with_capacity(2);
    if let Some(ua) = facts.get(0).as_string() {
        out.push(KeyValue::new("user_agent.original", ua));
    }
    if let Some(lang) = facts.get(1).as_string() {
        out.push(KeyValue::new("browser.language", lang));
    }
    out
}

/// The tab's session id: kept in `sessionStorage` so it survives reloads of the same tab, and
/// new (`fresh`) when storage is unavailable or holds something that is not an id.
pub fn session_id(fresh: impl FnOnce() -> String) -> String {
    if let Some(s) = session_get(SESSION_KEY) {
        if s.len() == 32 && s.bytes().all(|b| crate::ids::hex_val(b).is_some()) {
            return s;
        }
    }
    let id = fresh();
    // Storage can fail (quota, privacy mode): the id then lives for this page only.
    session_set(SESSION_KEY, &id);
    id
}

/// Calls `f` once at the window's `load` event (never, where there is no window).
pub fn on_load(f: &Function) {
    on_load_js(f);
}
