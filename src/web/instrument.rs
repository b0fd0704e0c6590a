//! fetch and XMLHttpRequest instrumentation, the browser edge: installs `js/instrument.js`'s
//! wrappers and performs what [`crate::instrument::requests`] decides (which request gets a
//! CLIENT span and `traceparent`, which resource timing entry ends which fetch span). Each
//! request's span is a child of the span current at call time.

#[allow(unused_imports)]
use crate::prelude::*;

use super::platform;
use super::timer;
use crate::attribute::{KeyValue, Str};
use crate::config::{Config, UrlPattern};
use crate::instrument::http::{prefix_matches, request_attributes};
use crate::instrument::requests::{Decision, Entry, Pending, Requests, TIMING_WAIT_MS, decide};
use crate::propagation::format_traceparent;
use crate::span::Span;
use crate::span_data::{SpanKind, Status};
use core::cell::RefCell;
use js_sys::{Array, Function};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/instrument.js")]
extern "C" {
    #[wasm_bindgen(js_name = installFetch)]
    fn install_fetch(g: &JsValue, hooks: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = uninstallFetch)]
    fn uninstall_fetch(g: &JsValue, state: &JsValue);
    #[wasm_bindgen(js_name = installXhr)]
    fn install_xhr(g: &JsValue, hooks: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = uninstallXhr)]
    fn uninstall_xhr(g: &JsValue, state: &JsValue);
    #[wasm_bindgen(js_name = makeHooks)]
    fn make_hooks(
        start: &Function,
        response: &Function,
        fail: &Function,
        xhr_end: &Function,
        timing: &Function,
    ) -> JsValue;
    #[wasm_bindgen(js_name = originalFetch)]
    fn original_fetch_js() -> Option<Function>;
    #[wasm_bindgen(js_name = pageOrigin)]
    fn page_origin() -> JsValue;
    #[wasm_bindgen(js_name = hasXhr)]
    fn has_xhr() -> bool;
}

#[wasm_bindgen(module = "/js/error.js")]
extern "C" {
    #[wasm_bindgen(js_name = errorParts)]
    fn error_parts(e: &JsValue) -> Array;
}

enum Matcher {
    Prefix(String),
    Regex(js_sys::RegExp),
}

impl Matcher {
    fn compile(p: &UrlPattern) -> Option<Matcher> {
        match p {
            // A URL as the page's URL parser makes it, the form request URLs are matched in.
            UrlPattern::Prefix(s) => Some(Matcher::Prefix(
                crate::instrument::http::resolvable(s)
                    .then(|| super::document::resolve_url(s))
                    .flatten()
                    .unwrap_or_else(|| s.clone()),
            )),
            UrlPattern::Regex { source, flags } => {
                // `g`/`y` make `test` stateful (lastIndex); drop them.
                let mut stateless = String::with_capacity(flags.len());
                for b in flags.bytes().filter(|b| b.is_ascii_alphabetic() && *b != b'g' && *b != b'y') {
                    stateless.push(b as char);
                }
                // The source and flags come from a RegExp the page built, so this cannot throw.
                Some(Matcher::Regex(js_sys::RegExp::new(source, &stateless)))
            }
        }
    }

    fn compile_all(patterns: &[UrlPattern]) -> Vec<Matcher> {
        let mut out = Vec::with_capacity(patterns.len());
        for p in patterns {
            out.extend(Matcher::compile(p));
        }
        out
    }

    fn matches(&self, url: &str) -> bool {
        match self {
            Matcher::Prefix(p) => prefix_matches(url, p),
            Matcher::Regex(r) => r.test(url),
        }
    }
}

struct Inst {
    page_origin: Option<String>,
    export_url: Option<String>,
    propagate: Vec<Matcher>,
    ignore: Vec<Matcher>,
    requests: Requests<Span>,
    fetch_state: Option<JsValue>,
    xhr_state: Option<JsValue>,
    sweep_armed: bool,
    xray: bool,
    /// `sessionBaggage`: `baggage: session.id=…` next to `traceparent`.
    baggage: bool,
    /// This install's number: request ids carry it, so a response to a request made before a
    /// shutdown and a new init never lands on a span of the new table.
    generation: u32,
}

local! {
    static GENERATION: core::cell::Cell<u32> = core::cell::Cell::new(0);
}

/// Request ids for JavaScript: the install's generation above the table's slot.
const SLOT_BITS: u32 = 16;

fn request_id(generation: u32, slot: u32) -> u32 {
    (generation << SLOT_BITS) | slot
}

/// The slot of a request id from this install, or `None` for an id from an earlier one.
fn slot_of(inst: &Inst, id: u32) -> Option<u32> {
    (id >> SLOT_BITS == inst.generation).then_some(id & ((1 << SLOT_BITS) - 1))
}

struct Hooks {
    _start: Closure<dyn FnMut(String, String) -> JsValue>,
    _response: Closure<dyn FnMut(u32, u16)>,
    _fail: Closure<dyn FnMut(u32, JsValue)>,
    _xhr_end: Closure<dyn FnMut(u32, u16, Option<String>, f64)>,
    _timing: Closure<dyn FnMut(String, Vec<f64>)>,
    object: JsValue,
}

local! {
    static INST: RefCell<Option<Inst>> = RefCell::new(None);
}
local! {
    static HOOKS: RefCell<Option<Hooks>> = RefCell::new(None);
}

fn with_inst<R>(f: impl FnOnce(&mut Inst) -> R) -> Option<R> {
    INST.with(|i| i.try_borrow_mut().ok().and_then(|mut i| i.as_mut().map(f)))
}

/// Installs the configured wrappers. Failures are warned about once and leave everything else
/// working.
pub fn install(config: &Config) {
    if config.instrument_fetch || config.instrument_xhr {
        // The hooks come with the `fetch` resource-entry observer: nothing when both are off.
        ensure_hooks();
    }
    let g = js_sys::global();
    let page_origin = page_origin().as_string().filter(|o| o != "null");
    let export_url = super::document::resolve_url(&config.endpoint);
    let mut inst = Inst {
        page_origin,
        export_url,
        propagate: Matcher::compile_all(&config.propagate_trace_header_cors_urls),
        ignore: Matcher::compile_all(&config.ignore_urls),
        requests: Requests::default(),
        fetch_state: None,
        xhr_state: None,
        sweep_armed: false,
        xray: config.xray,
        baggage: config.session_baggage,
        generation: GENERATION.with(|g| {
            let n = (g.get() + 1) & 0x7fff;
            g.set(n);
            n
        }),
    };
    let hooks = HOOKS.with(|h| h.borrow().as_ref().map(|h| h.object.clone())).unwrap_or(JsValue::UNDEFINED);
    if config.instrument_fetch {
        let s = install_fetch(&g, &hooks);
        match s.as_string() {
            Some(why) => platform::warn(&why),
            None => inst.fetch_state = Some(s),
        }
    }
    if config.instrument_xhr {
        let s = install_xhr(&g, &hooks);
        match s.as_string() {
            Some(why) if has_xhr() => platform::warn(&why),
            Some(_) => {}
            None => inst.xhr_state = Some(s),
        }
    }
    INST.with(|i| *i.borrow_mut() = Some(inst));
}

/// Turns the wrappers into pass-throughs (restoring the originals where still ours) and ends
/// the spans still waiting for timing.
pub fn uninstall() {
    finish_waiting();
    let inst = INST.with(|i| i.borrow_mut().take());
    if let Some(inst) = inst {
        let g = js_sys::global();
        if let Some(s) = &inst.fetch_state {
            uninstall_fetch(&g, s);
        }
        if let Some(s) = &inst.xhr_state {
            uninstall_xhr(&g, s);
        }
    }
}

/// The original `fetch` if `fetch` is currently a Canopy wrapper (so the exporter never makes
/// spans of its own), else `fetch` itself.
pub fn original_fetch() -> Option<Function> {
    original_fetch_js()
}

/// Ends every span waiting for its timing entry now, at the time its headers arrived (used by
/// `forceFlush` and `shutdown`).
pub fn finish_waiting() {
    end_waiting(|_| true);
}

/// Ends, at the time their headers arrived, the spans waiting for timing whose deadline passes
/// `due` (given the perf-clock deadline).
fn end_waiting(due: impl Fn(f64) -> bool) {
    let done = with_inst(|inst| inst.requests.take_due(due)).unwrap_or_default();
    for mut p in done {
        let t = p.headers_at().unwrap_or_else(crate::time::now);
        p.span.end_at(t);
    }
}

/// True while some span waits for its timing entry.
pub fn has_waiting() -> bool {
    with_inst(|i| i.requests.has_waiting()).unwrap_or(false)
}

fn ensure_hooks() {
    if HOOKS.with(|h| h.borrow().is_some()) {
        return;
    }
    let start = Closure::<dyn FnMut(String, String) -> JsValue>::new(on_start);
    let response = Closure::<dyn FnMut(u32, u16)>::new(on_response);
    let fail = Closure::<dyn FnMut(u32, JsValue)>::new(on_fail);
    let xhr_end = Closure::<dyn FnMut(u32, u16, Option<String>, f64)>::new(on_xhr_end);
    let timing = Closure::<dyn FnMut(String, Vec<f64>)>::new(|name, t| on_entry(Entry { name, t }));
    // One PerformanceObserver for `fetch` resource entries, for the life of the page (set up by
    // makeHooks).
    let object = make_hooks(
        start.as_ref().unchecked_ref(),
        response.as_ref().unchecked_ref(),
        fail.as_ref().unchecked_ref(),
        xhr_end.as_ref().unchecked_ref(),
        timing.as_ref().unchecked_ref(),
    );
    let hooks = Hooks { _start: start, _response: response, _fail: fail, _xhr_end: xhr_end, _timing: timing, object };
    HOOKS.with(|h| *h.borrow_mut() = Some(hooks));
}

fn on_start(href: String, method: String) -> JsValue {
    let decision = with_inst(|inst| {
        let d = decide(
            &href,
            inst.page_origin.as_deref(),
            inst.export_url.as_deref(),
            inst.requests.in_flight(),
            |u| inst.ignore.iter().any(|m| m.matches(u)),
            |u| inst.propagate.iter().any(|m| m.matches(u)),
        );
        (d, inst.xray, inst.baggage)
    });
    let Some((Decision::Trace { propagate }, xray, baggage)) = decision else { return JsValue::UNDEFINED };
    let (name, attrs) = request_attributes(&method, &href);
    let span = super::tracer().span(name).kind(SpanKind::Client).attributes(attrs).start();
    let out = Array::new();
    if propagate {
        let mut tp = String::with_capacity(55);
        format_traceparent(span.span_context(), &mut tp);
        let ts = &span.span_context().trace_state;
        let ts = (!ts.is_empty()).then(|| ts.header_value());
        out.set(1, JsValue::from_str(&tp));
        if let Some(ts) = ts {
            out.set(2, JsValue::from_str(&ts));
        }
        if xray {
            let mut x = String::with_capacity(80);
            crate::propagation::format_xray(span.span_context(), &mut x);
            out.set(3, JsValue::from_str(&x));
        }
        if let Some(id) = baggage.then(super::session::current_id).flatten() {
            let mut b = String::from("session.id=");
            b.push_str(id);
            out.set(4, JsValue::from_str(&b));
        }
    }
    let start = platform::perf_now_ms();
    match with_inst(|inst| request_id(inst.generation, inst.requests.insert(span, href, start))) {
        Some(id) => {
            out.set(0, JsValue::from(id));
            out.into()
        }
        None => JsValue::UNDEFINED,
    }
}

fn take(id: u32) -> Option<Pending<Span>> {
    with_inst(|inst| slot_of(inst, id).and_then(|slot| inst.requests.take(slot))).flatten()
}

fn set_status_code(span: &mut Span, status: u16) {
    if status > 0 {
        span.set_attribute(KeyValue::new("http.response.status_code", status as i64));
    }
    if status >= 400 {
        let mut code = String::with_capacity(3);
        crate::export::otlp_json::push_u64(&mut code, status as u64);
        span.set_attribute(KeyValue::new("error.type", code));
        span.set_status(Status::Error(Str::Borrowed("")));
    }
}

fn on_response(id: u32, status: u16) {
    let (now, now_perf) = (crate::time::now(), platform::perf_now_ms());
    let done = with_inst(|inst| {
        let slot = slot_of(inst, id)?;
        if let Some(span) = inst.requests.span_mut(slot) {
            set_status_code(span, status);
        }
        inst.requests.on_response(slot, now, now_perf)
    })
    .flatten();
    match done {
        Some((p, entry)) => finish_with_entry(p, &entry),
        None => arm_sweep(),
    }
}

fn on_fail(id: u32, err: JsValue) {
    let Some(mut p) = take(id) else { return };
    let parts = error_parts(&err);
    let part = |i| parts.get(i).as_string().map(Str::Owned);
    let (kind, message, stack) = (part(0), part(1), part(2));
    let error_type = kind.clone().unwrap_or(Str::Borrowed("_OTHER"));
    p.span.set_attribute(KeyValue::new("error.type", error_type));
    p.span.record_failure(kind, message, stack);
    p.span.end();
}

/// An XHR ended: `done_ms` is when it was done (`performance.now()` milliseconds: the time stamp
/// of its `load`, `abort`, `timeout` or `error` event, or of its first DONE `readystatechange`,
/// made before any listener ran), NaN when there was none (re-opened in flight, a synchronous
/// failure): now. The page's own handlers, which run before this hook's listeners, are not in the
/// span.
fn on_xhr_end(id: u32, status: u16, failure: Option<String>, done_ms: f64) {
    let Some(mut p) = take(id) else { return };
    let now = crate::time::now();
    let end = platform::clock().from_js_millis(done_ms).map_or(now, |t| t.min(now));
    match failure.as_deref() {
        Some(f) => {
            let (error_type, message) = match f {
                "abort" => ("AbortError", "The request was aborted"),
                "timeout" => ("TimeoutError", "The request timed out"),
                _ => ("NetworkError", "The request failed"),
            };
            p.span.set_attribute(KeyValue::new("error.type", error_type));
            p.span.record_failure(Some(error_type.into()), Some(message.into()), None);
        }
        None => set_status_code(&mut p.span, status),
    }
    p.span.end_at(end);
}

fn on_entry(entry: Entry) {
    if let Some((p, entry)) = with_inst(|inst| inst.requests.on_entry(entry)).flatten() {
        finish_with_entry(p, &entry);
    }
}

fn finish_with_entry(mut p: Pending<Span>, entry: &Entry) {
    let (attrs, end) = entry.span_facts();
    p.span.set_attributes(attrs);
    let header_time = p.headers_at().unwrap_or_else(crate::time::now);
    let t = end.map_or(header_time, |e| platform::clock().at(e).max(header_time));
    p.span.end_at(t);
}

fn arm_sweep() {
    let armed = with_inst(|i| core::mem::replace(&mut i.sweep_armed, true)).unwrap_or(true);
    if !armed {
        timer::once(TIMING_WAIT_MS + 50.0, on_sweep);
    }
}

fn on_sweep() {
    let now = platform::perf_now_ms();
    with_inst(|inst| {
        inst.sweep_armed = false;
        inst.requests.clear_early();
    });
    end_waiting(|deadline| deadline <= now);
    if has_waiting() {
        arm_sweep();
    }
}
