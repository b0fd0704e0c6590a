//! fetch and XMLHttpRequest instrumentation: the Rust side of `js/instrument.js`.
//!
//! Each request gets a CLIENT span, child of the span current at call time. Same-origin URLs and
//! URLs matching `propagateTraceHeaderCorsUrls` get `traceparent`/`tracestate`. A fetch span
//! ends when the response body has arrived, read from the request's PerformanceResourceTiming
//! entry (never by reading or cloning the caller's body); if no entry comes within
//! [`TIMING_WAIT_MS`], it ends at the time the headers arrived.

#[allow(unused_imports)]
use crate::prelude::*;

use super::platform;
use super::timer;
use crate::attribute::{KeyValue, Str};
use crate::config::{Config, UrlPattern};
use crate::instrument::http::{origin_of, prefix_matches, request_attributes};
use crate::propagation::format_traceparent;
use crate::span::Span;
use crate::span_data::{SpanKind, Status};
use core::cell::RefCell;
use js_sys::{Array, Function};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// How long a fetch span waits for its resource timing entry after the headers arrived.
pub const TIMING_WAIT_MS: f64 = 10_000.0;
/// Requests in flight that are tracked at most; beyond it requests pass through untraced.
pub const MAX_IN_FLIGHT: usize = 1024;

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
    fn page_origin() -> Option<String>;
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
            UrlPattern::Prefix(s) => Some(Matcher::Prefix(s.clone())),
            UrlPattern::Regex { source, flags } => {
                // `g`/`y` make `test` stateful (lastIndex); drop them.
                let flags: String = flags.chars().filter(|c| *c != 'g' && *c != 'y').collect();
                // The source and flags come from a RegExp the page built, so this cannot throw.
                Some(Matcher::Regex(js_sys::RegExp::new(source, &flags)))
            }
        }
    }

    fn matches(&self, url: &str) -> bool {
        match self {
            Matcher::Prefix(p) => prefix_matches(url, p),
            Matcher::Regex(r) => r.test(url),
        }
    }
}

struct Pending {
    span: Span,
    href: String,
    start_perf: f64,
    /// Set once the response headers arrived: (epoch ns then, perf deadline for timing).
    waiting: Option<(u64, f64)>,
}

struct Inst {
    page_origin: Option<String>,
    export_url: Option<String>,
    propagate: Vec<Matcher>,
    ignore: Vec<Matcher>,
    slots: Vec<Option<Pending>>,
    free: Vec<u32>,
    fetch_state: Option<JsValue>,
    xhr_state: Option<JsValue>,
    sweep_armed: bool,
    /// Resource timing entries seen before their response hook ran (bounded).
    early: Vec<Entry>,
}

/// A `fetch` resource timing entry: its URL and [`Timing`] numbers, in that order.
struct Entry {
    name: String,
    t: Vec<f64>,
}

/// The positions of a resource timing entry's numbers, as `js/instrument.js` sends them.
#[derive(Clone, Copy)]
enum Timing {
    Start,
    DnsStart,
    DnsEnd,
    ConnectStart,
    ConnectEnd,
    SecureStart,
    RequestStart,
    ResponseStart,
    ResponseEnd,
    EncodedBodySize,
}

impl Entry {
    fn get(&self, k: Timing) -> f64 {
        self.t.get(k as usize).copied().unwrap_or(0.0)
    }
}

struct Hooks {
    _start: Closure<dyn FnMut(String, String) -> JsValue>,
    _response: Closure<dyn FnMut(u32, u16)>,
    _fail: Closure<dyn FnMut(u32, JsValue)>,
    _xhr_end: Closure<dyn FnMut(u32, u16, Option<String>)>,
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
    ensure_hooks();
    let g = js_sys::global();
    let page_origin = page_origin().filter(|o| o != "null");
    let export_url = super::document::resolve_url(&config.endpoint);
    let mut inst = Inst {
        page_origin,
        export_url,
        propagate: config.propagate_trace_header_cors_urls.iter().filter_map(Matcher::compile).collect(),
        ignore: config.ignore_urls.iter().filter_map(Matcher::compile).collect(),
        slots: Vec::new(),
        free: Vec::new(),
        fetch_state: None,
        xhr_state: None,
        sweep_armed: false,
        early: Vec::new(),
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
    let done: Vec<Pending> = with_inst(|inst| {
        let mut out = Vec::new();
        for i in 0..inst.slots.len() {
            if inst.slots[i].as_ref().is_some_and(|p| p.waiting.is_some_and(|w| due(w.1))) {
                if let Some(p) = inst.slots[i].take() {
                    inst.free.push(i as u32);
                    out.push(p);
                }
            }
        }
        out
    })
    .unwrap_or_default();
    for mut p in done {
        let t = p.waiting.map(|w| w.0).unwrap_or_else(crate::time::now);
        p.span.end_at(t);
    }
}

/// True while some span waits for its timing entry.
pub fn has_waiting() -> bool {
    with_inst(|i| i.slots.iter().flatten().any(|p| p.waiting.is_some())).unwrap_or(false)
}

fn ensure_hooks() {
    if HOOKS.with(|h| h.borrow().is_some()) {
        return;
    }
    let start = Closure::<dyn FnMut(String, String) -> JsValue>::new(on_start);
    let response = Closure::<dyn FnMut(u32, u16)>::new(on_response);
    let fail = Closure::<dyn FnMut(u32, JsValue)>::new(on_fail);
    let xhr_end = Closure::<dyn FnMut(u32, u16, Option<String>)>::new(on_xhr_end);
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
        let ignored = inst.ignore.iter().any(|m| m.matches(&href))
            || inst.export_url.as_deref().is_some_and(|e| prefix_matches(&href, e));
        if ignored || inst.slots.len() - inst.free.len() >= MAX_IN_FLIGHT {
            return None;
        }
        let same_origin = match (&inst.page_origin, origin_of(&href)) {
            (Some(p), Some(o)) => *p == o,
            _ => false,
        };
        Some(same_origin || inst.propagate.iter().any(|m| m.matches(&href)))
    })
    .flatten();
    let Some(propagate) = decision else { return JsValue::UNDEFINED };
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
    }
    let pending = Pending { span, href, start_perf: platform::perf_now_ms(), waiting: None };
    let id = with_inst(|inst| match inst.free.pop() {
        Some(i) => {
            inst.slots[i as usize] = Some(pending);
            i
        }
        None => {
            inst.slots.push(Some(pending));
            (inst.slots.len() - 1) as u32
        }
    });
    match id {
        Some(id) => {
            out.set(0, JsValue::from(id));
            out.into()
        }
        None => JsValue::UNDEFINED,
    }
}

fn take(id: u32) -> Option<Pending> {
    with_inst(|inst| {
        let p = inst.slots.get_mut(id as usize)?.take()?;
        inst.free.push(id);
        Some(p)
    })
    .flatten()
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
    let now = crate::time::now();
    let deadline = platform::perf_now_ms() + TIMING_WAIT_MS;
    let early = with_inst(|inst| {
        let p = inst.slots.get_mut(id as usize)?.as_mut()?;
        set_status_code(&mut p.span, status);
        p.waiting = Some((now, deadline));
        let href = p.href.clone();
        let pos = inst.early.iter().position(|e| e.name == strip_fragment(&href));
        Some(pos.map(|i| inst.early.remove(i)))
    })
    .flatten()
    .flatten();
    match early {
        Some(entry) => {
            if let Some(p) = take(id) {
                finish_with_entry(p, &entry);
            }
        }
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

fn on_xhr_end(id: u32, status: u16, failure: Option<String>) {
    let Some(mut p) = take(id) else { return };
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
    p.span.end();
}

fn strip_fragment(s: &str) -> &str {
    s.split_once('#').map_or(s, |(u, _)| u)
}

fn on_entry(entry: Entry) {
    let start = entry.get(Timing::Start);
    // Some(pending span): the span is waiting for this entry; None: keep the entry for a
    // response hook that has not run yet (or drop it: not ours).
    let matched = with_inst(|inst| {
        let mut best: Option<(usize, f64)> = None;
        for (i, slot) in inst.slots.iter().enumerate() {
            if let Some(p) = slot {
                if strip_fragment(&p.href) == entry.name
                    && p.start_perf <= start + 1.0
                    && best.is_none_or(|(_, s)| p.start_perf > s)
                {
                    best = Some((i, p.start_perf));
                }
            }
        }
        let (i, _) = best?;
        if inst.slots[i].as_ref().is_some_and(|p| p.waiting.is_some()) {
            inst.free.push(i as u32);
            return inst.slots[i].take();
        }
        // The body finished before our response hook ran: keep the entry for it.
        if inst.early.len() >= 32 {
            inst.early.remove(0);
        }
        None
    })
    .flatten();
    match matched {
        Some(p) => finish_with_entry(p, &entry),
        None => {
            with_inst(|inst| {
                if inst.slots.iter().flatten().any(|p| strip_fragment(&p.href) == entry.name) {
                    inst.early.push(entry);
                }
            });
        }
    }
}

fn finish_with_entry(mut p: Pending, entry: &Entry) {
    let n = |k: Timing| entry.get(k);
    let clock = platform::clock();
    let end = n(Timing::ResponseEnd);
    let phases: [(&'static str, f64, f64); 5] = [
        ("canopy.timing.dns_ms", n(Timing::DnsStart), n(Timing::DnsEnd)),
        ("canopy.timing.connect_ms", n(Timing::ConnectStart), n(Timing::ConnectEnd)),
        ("canopy.timing.tls_ms", n(Timing::SecureStart), n(Timing::ConnectEnd)),
        ("canopy.timing.request_ms", n(Timing::RequestStart), n(Timing::ResponseStart)),
        ("canopy.timing.response_ms", n(Timing::ResponseStart), end),
    ];
    for (key, a, b) in phases {
        if a > 0.0 && b >= a {
            p.span.set_attribute(KeyValue::new(key, b - a));
        }
    }
    let size = n(Timing::EncodedBodySize);
    if size > 0.0 {
        p.span.set_attribute(KeyValue::new("http.response.body.size", size as i64));
    }
    let header_time = p.waiting.map(|w| w.0).unwrap_or_else(crate::time::now);
    let t = if end > 0.0 { clock.at(end).max(header_time) } else { header_time };
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
        inst.early.clear();
    });
    end_waiting(|deadline| deadline <= now);
    if has_waiting() {
        arm_sweep();
    }
}
