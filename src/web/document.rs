//! What the page tells us: `<meta name="traceparent">`, the browser, and the tab's session.

#[allow(unused_imports)]
use crate::prelude::*;

use super::platform::{get, global_get};
use crate::attribute::KeyValue;
use crate::propagation::{TraceState, parse_traceparent};
use crate::span_context::SpanContext;
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

const SESSION_KEY: &str = "canopy.session.id";

#[wasm_bindgen::prelude::wasm_bindgen(module = "/js/page.js")]
extern "C" {
    #[wasm_bindgen(js_name = resolveUrl)]
    fn resolve_url_js(url: &str) -> Option<String>;
    #[wasm_bindgen(js_name = loadEventTime)]
    fn load_event_time() -> Option<f64>;
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
    let doc = global_get("document");
    let tp = meta_content(&doc, "traceparent")?;
    let mut cx = parse_traceparent(&tp).ok()?;
    if let Some(ts) = meta_content(&doc, "tracestate") {
        cx.trace_state = TraceState::parse(&ts).unwrap_or_default();
    }
    Some(cx)
}

fn meta_content(doc: &JsValue, name: &str) -> Option<String> {
    let qs = get(doc, "querySelector").dyn_into::<Function>().ok()?;
    let mut sel = String::from("meta[name=\"");
    sel.push_str(name);
    sel.push_str("\"]");
    let el = qs.call1(doc, &JsValue::from_str(&sel)).ok()?;
    if el.is_null() || el.is_undefined() {
        return None;
    }
    get(&el, "content").as_string()
}

/// True once the document has finished loading (or when there is no document, in a worker).
pub fn document_complete() -> bool {
    let doc = global_get("document");
    if doc.is_undefined() {
        return true;
    }
    get(&doc, "readyState").as_string().is_none_or(|s| s == "complete")
}

/// Browser resource attributes: `user_agent.original`, `browser.language`.
pub fn browser_attributes() -> Vec<KeyValue> {
    let nav = global_get("navigator");
    let mut out = Vec::with_capacity(2);
    if let Some(ua) = get(&nav, "userAgent").as_string() {
        out.push(KeyValue::new("user_agent.original", ua));
    }
    if let Some(lang) = get(&nav, "language").as_string() {
        out.push(KeyValue::new("browser.language", lang));
    }
    out
}

/// The tab's session id: kept in `sessionStorage` so it survives reloads of the same tab, and
/// new (`fresh`) when storage is unavailable or holds something that is not an id.
pub fn session_id(fresh: impl FnOnce() -> String) -> String {
    let storage = global_get("sessionStorage");
    let getter = get(&storage, "getItem").dyn_into::<Function>();
    if let Ok(g) = getter {
        if let Ok(v) = g.call1(&storage, &JsValue::from_str(SESSION_KEY)) {
            if let Some(s) = v.as_string() {
                if s.len() == 32 && s.bytes().all(|b| crate::ids::hex_val(b).is_some()) {
                    return s;
                }
            }
        }
    }
    let id = fresh();
    if let Ok(set) = get(&storage, "setItem").dyn_into::<Function>() {
        // Storage can throw (quota, privacy mode): the id then lives for this page only.
        let _ = set.call2(&storage, &JsValue::from_str(SESSION_KEY), &JsValue::from_str(&id));
    }
    id
}

/// Calls `f` once at the window's `load` event (never, where there is no window).
pub fn on_load(f: &Function) {
    let target = global_get("addEventListener");
    if let Ok(add) = target.dyn_into::<Function>() {
        let opts = js_sys::Object::new();
        let _ = Reflect::set(&opts, &JsValue::from_str("once"), &JsValue::TRUE);
        let _ = add.call3(&js_sys::global(), &JsValue::from_str("load"), f, &opts);
    }
}
