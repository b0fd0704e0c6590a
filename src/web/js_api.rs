//! The JavaScript API: `init`, `startSpan`, `startActiveSpan`, `withSpan`, `getActiveSpan`,
//! `forceFlush`, `shutdown`.

use super::convert::{self, SpanOpts};
use super::js_span::JsSpan;
use super::types::{CanopyConfig, SpanOptions};
use super::{platform, tracer};
use crate::attribute::Str;
use crate::span::Span;
use js_sys::{Function, Promise};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = "export function settle(p, span) {\
  p.then(function () { span.end(); }, function (e) { span.__canopyFail(e); });\
}")]
extern "C" {
    /// Ends `span` when the thenable `p` settles; the caller keeps `p` itself, so its rejection
    /// reaches the caller unchanged.
    fn settle(p: &JsValue, span: &JsValue);
}

thread_local! {
    /// The JS spans made current by `startActiveSpan`/`withSpan`, parallel to the context stack.
    static ACTIVE: RefCell<Vec<Rc<RefCell<Span>>>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn start(name: String, o: SpanOpts) -> JsSpan {
    let t = tracer();
    let mut b = t.span(Str::Owned(name)).attributes(o.attributes).parent_choice(o.parent);
    if let Some(k) = o.kind {
        b = b.kind(k);
    }
    if let Some(s) = o.start_time {
        b = b.start_time(s);
    }
    for (cx, attrs) in o.links {
        b = b.link(cx, attrs);
    }
    JsSpan::new(b.start())
}

/// Starts Canopy. Throws one `Error` listing every problem in `config`; warns about unknown
/// keys. A second call while running keeps the first pipeline and warns.
#[wasm_bindgen(js_name = init)]
pub fn init_js(config: CanopyConfig) -> Result<(), JsError> {
    let (parsed, warnings) = super::js_config::parse(&config);
    for w in &warnings {
        platform::warn(w);
    }
    match parsed {
        Ok(c) => super::init(c).map(|_| ()).map_err(|e| JsError::new(&e.to_string())),
        Err(e) => Err(JsError::new(&e.to_string())),
    }
}

/// Starts a span. Its parent is `options.parent`, else the active span, else the page's
/// server-rendered trace (`<meta name="traceparent">`), else none (a new trace).
#[wasm_bindgen(js_name = startSpan)]
pub fn start_span(name: String, options: Option<SpanOptions>) -> JsSpan {
    start(name, options.map(|o| convert::span_opts(&o)).unwrap_or_default())
}

/// Runs `fn(span)` with a new span active during its synchronous run. Ends the span when `fn`
/// returns, or when the Promise it returns settles (a rejection is recorded as an exception
/// and an error status, and reaches the caller unchanged). A throw is recorded likewise and
/// rethrown.
#[wasm_bindgen(js_name = startActiveSpan, skip_typescript)]
pub fn start_active_span(name: String, options_or_fn: JsValue, maybe_fn: JsValue) -> Result<JsValue, JsValue> {
    let (opts, f) =
        if options_or_fn.is_function() { (JsValue::UNDEFINED, options_or_fn) } else { (options_or_fn, maybe_fn) };
    let f: Function =
        f.dyn_into().map_err(|_| JsError::new("canopy: startActiveSpan(name, [options], fn) needs a function"))?;
    let span = start(name, convert::span_opts(&opts));
    let inner = span.inner.clone();
    let js = JsValue::from(span);
    let result = run_active(&inner, || f.call1(&JsValue::UNDEFINED, &js));
    match result {
        Err(e) => {
            fail(&inner, &e);
            Err(e)
        }
        Ok(v) => {
            if platform::get(&v, "then").is_function() {
                settle(&v, &js);
            } else if let Ok(mut s) = inner.try_borrow_mut() {
                s.end();
            }
            Ok(v)
        }
    }
}

/// Runs `fn()` with `span` active during its synchronous run (use it after an `await`, in a
/// timer or an event handler, to parent new spans under `span`).
#[wasm_bindgen(js_name = withSpan, skip_typescript)]
pub fn with_span(span: &JsSpan, f: &Function) -> Result<JsValue, JsValue> {
    run_active(&span.inner, || f.call0(&JsValue::UNDEFINED))
}

/// The span made active by the innermost running `startActiveSpan`/`withSpan` callback.
#[wasm_bindgen(js_name = getActiveSpan)]
pub fn get_active_span() -> Option<JsSpan> {
    ACTIVE.with(|a| a.borrow().last().cloned()).map(|inner| JsSpan { inner })
}

/// Sends everything queued; resolves when it has been sent (or failed).
#[wasm_bindgen(js_name = forceFlush, unchecked_return_type = "Promise<void>")]
pub fn force_flush() -> Promise {
    super::force_flush()
}

/// Flushes, then stops: later spans are not recorded. `init` may be called again afterwards.
#[wasm_bindgen(unchecked_return_type = "Promise<void>")]
pub fn shutdown() -> Promise {
    super::shutdown()
}

fn run_active<R>(inner: &Rc<RefCell<Span>>, f: impl FnOnce() -> R) -> R {
    let cx = match inner.try_borrow() {
        Ok(s) => s.span_context().clone(),
        Err(_) => return f(),
    };
    let depth = ACTIVE.with(|a| {
        let mut a = a.borrow_mut();
        a.push(inner.clone());
        a.len()
    });
    let r = crate::context::with_span_context(cx, f);
    ACTIVE.with(|a| a.borrow_mut().truncate(depth - 1));
    r
}

fn fail(inner: &Rc<RefCell<Span>>, err: &JsValue) {
    JsSpan { inner: inner.clone() }.fail(err);
}
